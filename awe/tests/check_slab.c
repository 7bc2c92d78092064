/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the memfd slab pools and their client views. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>

#include "awe/shm.h"
#include "awe_check.h"

#define PATTERN(b) (0x0101010101010101ull * (uint8_t)(b))

static struct awe_slab *create_slab( uint32_t slot_size, uint32_t max_slots, uint32_t flags )
{
    struct awe_slab *slab;
    int err;

    POISON(slab);
    err = awe_slab_create( slot_size, max_slots, flags, &slab );
    ck_assert_msg( !err, "awe_slab_create( %u, %u, %#x ) failed: %d", slot_size, max_slots, flags, err );
    return slab;
}

static struct awe_slab_view *open_view( struct awe_slab *slab )
{
    struct awe_slab_geometry geo;
    struct awe_slab_view *view;
    int err;

    awe_slab_geometry( slab, &geo );
    POISON(view);
    err = awe_slab_view_open( awe_slab_client_fd( slab ), &geo, &view );
    ck_assert_msg( !err, "awe_slab_view_open failed: %d", err );
    return view;
}

static uint32_t alloc_slot( struct awe_slab *slab, void **ptr )
{
    uint32_t index;
    int err;

    POISON(index);
    err = awe_slab_alloc( slab, &index, ptr );
    ck_assert_msg( !err, "awe_slab_alloc failed: %d", err );
    return index;
}

/* Stores value in every 64-bit word of a slot, as the server writes shared memory. */
static void fill_slot( void *slot, size_t size, uint64_t value )
{
    _Atomic uint64_t *words = slot;
    size_t i;

    for (i = 0; i < size / 8; i++) atomic_store_explicit( &words[i], value + i, memory_order_relaxed );
}

/* Returns the index of the first word of a slot that differs from fill_slot( value ), or -1. */
static int check_slot( const void *slot, size_t size, uint64_t value )
{
    const _Atomic uint64_t *words = slot;
    size_t i;

    for (i = 0; i < size / 8; i++)
        if (atomic_load_explicit( &words[i], memory_order_relaxed ) != value + i) return (int)i;
    return -1;
}

#ifndef NDEBUG
/* Returns non-zero when every byte of a slot is byte. */
static int slot_is( const void *slot, size_t size, int byte )
{
    const unsigned char *p = slot;
    size_t i;

    for (i = 0; i < size; i++) if (p[i] != (unsigned char)byte) return 0;
    return 1;
}
#endif

START_TEST(test_alloc_fifo)
{
    static const uint32_t expect[] = { 2, 0, 3 };
    struct awe_slab *slab = create_slab( 64, 4, 0 );
    uint32_t i, index;
    void *ptr;

    for (i = 0; i < 4; i++)
    {
        POISON(ptr);
        ck_assert_uint_eq( alloc_slot( slab, &ptr ), i );
        ck_assert_ptr_eq( ptr, awe_slab_slot( slab, i ) );
    }
    POISON(index);
    ck_assert_int_eq( awe_slab_alloc( slab, &index, NULL ), -ENOSPC );
    ck_assert_int_eq( awe_slab_free( slab, 2 ), 0 );
    ck_assert_int_eq( awe_slab_free( slab, 0 ), 0 );
    ck_assert_int_eq( awe_slab_free( slab, 3 ), 0 );
    /* oldest free slot first */
    for (i = 0; i < 3; i++) ck_assert_uint_eq( alloc_slot( slab, NULL ), expect[i] );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_fifo_growth_order)
{
    struct awe_slab *slab = create_slab( 16, 10000, 0 );
    uint32_t i, per_block = awe_slab_capacity( slab );

    ck_assert_uint_eq( per_block, 0 );
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
    per_block = awe_slab_capacity( slab );
    ck_assert_uint_eq( per_block, AWE_SLAB_BLOCK_SIZE / 16 );
    ck_assert_int_eq( awe_slab_free( slab, 0 ), 0 );
    /* slot 0 was freed last, so every fresh slot of the block comes first */
    for (i = 1; i < per_block; i++) ck_assert_uint_eq( alloc_slot( slab, NULL ), i );
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
    /* then a new block is appended */
    ck_assert_uint_eq( alloc_slot( slab, NULL ), per_block );
    ck_assert_uint_eq( awe_slab_capacity( slab ), 2 * per_block );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_generation)
{
    struct awe_slab *slab = create_slab( 32, 1, 0 );
    uint32_t round;

    ck_assert_uint_eq( awe_slab_generation( slab, 0 ), 0 );
    for (round = 0; round < 3; round++)
    {
        ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
        ck_assert_uint_eq( awe_slab_generation( slab, 0 ), 2 * round + 1 );
        ck_assert_ptr_nonnull( awe_slab_slot( slab, 0 ) );
        ck_assert_int_eq( awe_slab_free( slab, 0 ), 0 );
        ck_assert_uint_eq( awe_slab_generation( slab, 0 ), 2 * round + 2 );
        ck_assert_ptr_null( awe_slab_slot( slab, 0 ) );
    }
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_slot_size_rounding)
{
    static const struct { uint32_t asked, got; } sizes[] =
        { { 1, 16 }, { 16, 16 }, { 17, 32 }, { 24, 32 }, { 64, 64 }, { 100, 112 } };
    struct awe_slab_geometry geo;
    struct awe_slab *slab;
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    {
        slab = create_slab( sizes[i].asked, 100, 0 );
        POISON(geo);
        awe_slab_geometry( slab, &geo );
        ck_assert_uint_eq( geo.slot_size, sizes[i].got );
        ck_assert_uint_eq( geo.max_slots, 100 );
        ck_assert_uint_eq( geo.flags, 0 );
        ck_assert_uint_ge( geo.block_size, AWE_SLAB_BLOCK_SIZE );
        ck_assert_uint_eq( awe_slab_offset( &geo, 3 ), 3 * sizes[i].got );
        awe_slab_destroy( slab );
    }
}
END_TEST

/* Growth appends: earlier slots keep their address (server and client) and their contents. */
START_TEST(test_growth_keeps_slots)
{
    struct awe_slab *slab = create_slab( 64, 4 * (AWE_SLAB_BLOCK_SIZE / 64), 0 );
    struct awe_slab_view *view;
    uint32_t i, count, per_block;
    const void *client_first;
    void *ptrs[3000];

    ptrs[0] = NULL;
    ck_assert_uint_eq( alloc_slot( slab, &ptrs[0] ), 0 );
    per_block = awe_slab_capacity( slab );
    count = 2 * per_block + 952;
    ck_assert_uint_le( count, 3000 );
    fill_slot( ptrs[0], 64, 1000 );
    view = open_view( slab );
    client_first = awe_slab_view_slot( view, 0 );
    ck_assert_ptr_nonnull( client_first );
    ck_assert_ptr_null( awe_slab_view_slot( view, per_block ) );

    for (i = 1; i < count; i++)
    {
        ck_assert_uint_eq( alloc_slot( slab, &ptrs[i] ), i );
        fill_slot( ptrs[i], 64, 1000 * (i + 1) );
    }
    ck_assert_uint_eq( awe_slab_capacity( slab ), 3 * per_block );
    for (i = 0; i < count; i++)
    {
        const void *client = awe_slab_view_slot( view, i );

        ck_assert_ptr_eq( awe_slab_slot( slab, i ), ptrs[i] );
        ck_assert_ptr_nonnull( client );
        ck_assert_msg( check_slot( ptrs[i], 64, 1000 * (i + 1) ) < 0, "server slot %u changed", i );
        ck_assert_msg( check_slot( client, 64, 1000 * (i + 1) ) < 0, "client slot %u differs", i );
    }
    ck_assert_ptr_eq( awe_slab_view_slot( view, 0 ), client_first );
    ck_assert_ptr_null( awe_slab_view_slot( view, 3 * per_block ) );
    awe_slab_view_close( view );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_client_writable)
{
    struct awe_slab *slab = create_slab( 64, 64, AWE_SLAB_CLIENT_WRITABLE );
    struct awe_slab_view *view;
    _Atomic uint64_t *client;
    void *server;
    int flags;

    ck_assert_uint_eq( alloc_slot( slab, &server ), 0 );
    flags = fcntl( awe_slab_client_fd( slab ), F_GETFL );
    ck_assert_int_eq( flags & O_ACCMODE, O_RDWR );
    view = open_view( slab );
    client = awe_slab_view_slot_rw( view, 0 );
    ck_assert_ptr_nonnull( client );
    atomic_store( client, 0x1234 );
    ck_assert_uint_eq( atomic_load( (_Atomic uint64_t *)server ), 0x1234 );
    awe_slab_view_close( view );
    awe_slab_destroy( slab );

    slab = create_slab( 64, 64, 0 );
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
    view = open_view( slab );
    ck_assert_ptr_nonnull( awe_slab_view_slot( view, 0 ) );
    ck_assert_ptr_null( awe_slab_view_slot_rw( view, 0 ) );
    awe_slab_view_close( view );
    awe_slab_destroy( slab );
}
END_TEST

/* Debug builds poison fresh slots with 0x55 and freed ones with 0xaa. */
#ifndef NDEBUG
START_TEST(test_poison)
{
    struct awe_slab *slab = create_slab( 48, 2, 0 );
    struct awe_slab_view *view = open_view( slab );
    void *ptr;

    ck_assert_uint_eq( alloc_slot( slab, &ptr ), 0 );
    ck_assert_msg( slot_is( ptr, 48, AWE_SLAB_POISON_FRESH ), "fresh slot not poisoned" );
    ck_assert_msg( slot_is( awe_slab_view_slot( view, 1 ), 48, AWE_SLAB_POISON_FRESH ),
                   "never-used slot not poisoned" );
    fill_slot( ptr, 48, 7 );
    ck_assert_int_eq( awe_slab_free( slab, 0 ), 0 );
    ck_assert_msg( slot_is( awe_slab_view_slot( view, 0 ), 48, AWE_SLAB_POISON_FREE ),
                   "freed slot not poisoned" );
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 1 );
    ck_assert_uint_eq( alloc_slot( slab, &ptr ), 0 );
    ck_assert_msg( slot_is( ptr, 48, AWE_SLAB_POISON_FREE ), "reused slot lost its poison" );
    awe_slab_view_close( view );
    awe_slab_destroy( slab );
}
END_TEST
#endif

START_TEST(test_seals)
{
    struct awe_slab *slab = create_slab( 64, 64, 0 );
    int seals = fcntl( awe_slab_client_fd( slab ), F_GET_SEALS );

    ck_assert_int_ge( seals, 0 );
    ck_assert_msg( seals & F_SEAL_SHRINK, "seals %#x", seals );
    ck_assert_msg( seals & F_SEAL_FUTURE_WRITE, "seals %#x", seals );
    ck_assert_msg( seals & F_SEAL_SEAL, "seals %#x", seals );
    ck_assert_msg( !(seals & (F_SEAL_GROW | F_SEAL_WRITE)), "seals %#x", seals );
    ck_assert_int_ne( fcntl( awe_slab_client_fd( slab ), F_GETFD ) & FD_CLOEXEC, 0 );
    awe_slab_destroy( slab );

    slab = create_slab( 64, 64, AWE_SLAB_CLIENT_WRITABLE );
    seals = fcntl( awe_slab_client_fd( slab ), F_GET_SEALS );
    ck_assert_msg( (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_SEAL),
                   "seals %#x", seals );
    ck_assert_msg( !(seals & (F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)), "seals %#x", seals );
    awe_slab_destroy( slab );
}
END_TEST

/* The descriptor a client receives can neither write the pool nor change its size. */
START_TEST(test_client_cannot_write)
{
    struct awe_slab *slab = create_slab( 64, 64, 0 );
    int fd = awe_slab_client_fd( slab ), rw_fd, ret;
    size_t len = AWE_SLAB_BLOCK_SIZE;
    char path[32], byte = 1;
    void *server, *map;

    ck_assert_uint_eq( alloc_slot( slab, &server ), 0 );
    fill_slot( server, 64, 42 );
    ck_assert_int_eq( fcntl( fd, F_GETFL ) & O_ACCMODE, O_RDONLY );

    map = mmap( NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0 );
    ck_assert_msg( map == MAP_FAILED && errno == EACCES, "writable mmap: %p errno %d", map, errno );
    map = mmap( NULL, len, PROT_READ, MAP_SHARED, fd, 0 );
    ck_assert_ptr_ne( map, MAP_FAILED );
    ret = mprotect( map, len, PROT_READ | PROT_WRITE );
    ck_assert_msg( ret == -1 && errno == EACCES, "mprotect: %d errno %d", ret, errno );
    ck_assert_msg( check_slot( map, 64, 42 ) < 0, "client sees other contents" );
    munmap( map, len );

    ret = ftruncate( fd, 0 );
    ck_assert_msg( ret == -1 && (errno == EINVAL || errno == EBADF), "ftruncate: %d errno %d", ret, errno );
    ret = ftruncate( fd, 16 * len );
    ck_assert_msg( ret == -1 && (errno == EINVAL || errno == EBADF), "ftruncate: %d errno %d", ret, errno );
    ret = pwrite( fd, &byte, 1, 0 );
    ck_assert_msg( ret == -1 && errno == EBADF, "pwrite: %d errno %d", ret, errno );
    ret = fallocate( fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, len );
    ck_assert_msg( ret == -1 && errno == EBADF, "punch hole: %d errno %d", ret, errno );
    ret = fcntl( fd, F_ADD_SEALS, F_SEAL_GROW );
    ck_assert_msg( ret == -1 && errno == EPERM, "add seals: %d errno %d", ret, errno );

    /* a private writable mapping is allowed, but its copy-on-write pages never reach the pool */
    map = mmap( NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0 );
    ck_assert_ptr_ne( map, MAP_FAILED );
    fill_slot( map, 64, 99 );
    munmap( map, len );
    ck_assert_msg( check_slot( server, 64, 42 ) < 0, "private mapping wrote through" );

    /* even a read-write description reopened through /proc cannot write: the seals hold */
    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    rw_fd = open( path, O_RDWR | O_CLOEXEC );
    ck_assert_msg( rw_fd >= 0, "reopen: errno %d", errno );
    map = mmap( NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, rw_fd, 0 );
    ck_assert_msg( map == MAP_FAILED && errno == EPERM, "writable mmap: %p errno %d", map, errno );
    map = mmap( NULL, len, PROT_READ, MAP_SHARED, rw_fd, 0 );
    ck_assert_ptr_ne( map, MAP_FAILED );
    ret = mprotect( map, len, PROT_READ | PROT_WRITE );
    ck_assert_msg( ret == -1 && errno == EACCES, "mprotect: %d errno %d", ret, errno );
    munmap( map, len );
    ret = pwrite( rw_fd, &byte, 1, 0 );
    ck_assert_msg( ret == -1 && errno == EPERM, "pwrite: %d errno %d", ret, errno );
    ret = ftruncate( rw_fd, 0 );
    ck_assert_msg( ret == -1 && errno == EPERM, "ftruncate: %d errno %d", ret, errno );
    ret = fallocate( rw_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, len );
    ck_assert_msg( ret == -1 && errno == EPERM, "punch hole: %d errno %d", ret, errno );
    ret = fcntl( rw_fd, F_ADD_SEALS, F_SEAL_GROW );
    ck_assert_msg( ret == -1 && errno == EPERM, "add seals: %d errno %d", ret, errno );
    close( rw_fd );

    ck_assert_msg( check_slot( server, 64, 42 ) < 0, "pool changed" );
    /* and the server can still grow the pool */
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 1 );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_free_errors)
{
    struct awe_slab *slab = create_slab( 64, 8, 0 );

    ck_assert_int_eq( awe_slab_free( slab, 0 ), -EINVAL );      /* nothing backed yet */
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
    ck_assert_int_eq( awe_slab_free( slab, 1 ), -EINVAL );      /* never allocated */
    ck_assert_int_eq( awe_slab_free( slab, 8 ), -EINVAL );      /* beyond max_slots */
    ck_assert_int_eq( awe_slab_free( slab, UINT32_MAX ), -EINVAL );
    ck_assert_int_eq( awe_slab_free( slab, 0 ), 0 );
    ck_assert_int_eq( awe_slab_free( slab, 0 ), -EINVAL );      /* double free */
    ck_assert_uint_eq( awe_slab_generation( slab, 0 ), 2 );     /* the failed frees did nothing */
    ck_assert_ptr_null( awe_slab_slot( slab, 0 ) );
    ck_assert_ptr_null( awe_slab_slot( slab, 8 ) );
    ck_assert_ptr_null( awe_slab_slot( slab, UINT32_MAX ) );
    ck_assert_uint_eq( awe_slab_generation( slab, UINT32_MAX ), 0 );
    awe_slab_destroy( slab );
}
END_TEST

/* A client resolves only slots the server has backed and that exist in the geometry. */
START_TEST(test_view_bounds)
{
    struct awe_slab *slab = create_slab( 64, 1500, 0 );
    struct awe_slab_view *view = open_view( slab );
    uint32_t per_block;

    ck_assert_ptr_null( awe_slab_view_slot( view, 0 ) );        /* nothing backed yet */
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 0 );
    per_block = awe_slab_capacity( slab );
    ck_assert_ptr_nonnull( awe_slab_view_slot( view, 0 ) );
    ck_assert_ptr_nonnull( awe_slab_view_slot( view, per_block - 1 ) );
    ck_assert_ptr_null( awe_slab_view_slot( view, per_block ) );
    ck_assert_ptr_null( awe_slab_view_slot( view, 1500 ) );
    ck_assert_ptr_null( awe_slab_view_slot( view, UINT32_MAX ) );
    while (awe_slab_capacity( slab ) < 1500) alloc_slot( slab, NULL );
    ck_assert_ptr_nonnull( awe_slab_view_slot( view, 1499 ) );
    ck_assert_ptr_null( awe_slab_view_slot( view, 1500 ) );     /* backed file, but not a slot */
    awe_slab_view_close( view );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_view_open_errors)
{
    struct awe_slab *slab = create_slab( 64, 64, 0 );
    struct awe_slab_geometry good, geo;
    struct awe_slab_view *view;
    int fd, err;

    awe_slab_geometry( slab, &good );
#define TRY_GEOMETRY(field, value) \
    do { geo = good; geo.field = (value); POISON(view); \
         err = awe_slab_view_open( awe_slab_client_fd( slab ), &geo, &view ); \
         ck_assert_msg( err == -EINVAL, #field " = %#x: got %d", (unsigned)(value), err ); } while (0)
    TRY_GEOMETRY( slot_size, 0 );
    TRY_GEOMETRY( slot_size, 24 );
    TRY_GEOMETRY( slot_size, 2 * good.block_size );
    TRY_GEOMETRY( block_size, good.block_size + 4096 );
    TRY_GEOMETRY( block_size, 0 );
    TRY_GEOMETRY( max_slots, 0 );
    TRY_GEOMETRY( max_slots, AWE_SLAB_MAX_SLOTS + 1 );
    TRY_GEOMETRY( flags, 0x10 );
#undef TRY_GEOMETRY

    /* a writable view of a read-only pool */
    geo = good;
    geo.flags = AWE_SLAB_CLIENT_WRITABLE;
    POISON(view);
    ck_assert_int_eq( awe_slab_view_open( awe_slab_client_fd( slab ), &geo, &view ), -EACCES );

    /* not a sealed memfd */
    fd = memfd_create( "not-a-pool", MFD_CLOEXEC );
    ck_assert_int_ge( fd, 0 );
    POISON(view);
    ck_assert_int_eq( awe_slab_view_open( fd, &good, &view ), -EINVAL );
    close( fd );
    POISON(view);
    ck_assert_int_eq( awe_slab_view_open( fd, &good, &view ), -EBADF );
    awe_slab_destroy( slab );
}
END_TEST

START_TEST(test_create_limits)
{
    struct awe_slab *slab;

#define TRY_CREATE(size, count, flags) \
    do { POISON(slab); ck_assert_int_eq( awe_slab_create( size, count, flags, &slab ), -EINVAL ); } while (0)
    TRY_CREATE( 0, 16, 0 );
    TRY_CREATE( AWE_SLAB_BLOCK_SIZE + 1, 16, 0 );
    TRY_CREATE( UINT32_MAX, 16, 0 );
    TRY_CREATE( 64, 0, 0 );
    TRY_CREATE( 16, AWE_SLAB_MAX_SLOTS + 1, 0 );
    TRY_CREATE( AWE_SLAB_BLOCK_SIZE, AWE_SLAB_MAX_BYTES / AWE_SLAB_BLOCK_SIZE + 1, 0 );
    TRY_CREATE( 64, 16, 0x2 );
#undef TRY_CREATE

    /* the largest accepted values */
    slab = create_slab( AWE_SLAB_BLOCK_SIZE, AWE_SLAB_MAX_BYTES / AWE_SLAB_BLOCK_SIZE, 0 );
    awe_slab_destroy( slab );
    slab = create_slab( 16, AWE_SLAB_MAX_SLOTS, 0 );
    awe_slab_destroy( slab );
    awe_slab_destroy( NULL );
    awe_slab_view_close( NULL );
}
END_TEST

/* Exhaustion across blocks: exactly max_slots slots, then -ENOSPC, then reuse. */
START_TEST(test_exhaustion)
{
    const uint32_t max = AWE_SLAB_BLOCK_SIZE / 16 + 904;
    struct awe_slab *slab = create_slab( 16, max, 0 );
    uint32_t i, index;

    for (i = 0; i < max; i++) ck_assert_uint_eq( alloc_slot( slab, NULL ), i );
    ck_assert_uint_eq( awe_slab_capacity( slab ), max );
    POISON(index);
    ck_assert_int_eq( awe_slab_alloc( slab, &index, NULL ), -ENOSPC );
    ck_assert_int_eq( awe_slab_alloc( slab, &index, NULL ), -ENOSPC );
    ck_assert_int_eq( awe_slab_free( slab, 77 ), 0 );
    ck_assert_uint_eq( alloc_slot( slab, NULL ), 77 );
    ck_assert_int_eq( awe_slab_alloc( slab, &index, NULL ), -ENOSPC );
    awe_slab_destroy( slab );
}
END_TEST

/* ---- concurrency: client threads read while the server grows the pool ---- */

struct growth_test
{
    struct awe_slab      *slab;
    struct awe_slab_view *view;
    _Atomic uint32_t      published;    /* slots [0, published) are written and immutable */
    _Atomic int           done;         /* the server finished */
    uint32_t              max;
    _Atomic uint32_t      errors;
};

static void *growth_reader( void *arg )
{
    struct growth_test *t = arg;
    unsigned int seed = 1234;
    uint32_t published, index;
    const void *slot;
    int last = 0;

    for (;;)
    {
        last = atomic_load_explicit( &t->done, memory_order_acquire );
        /* acquire: pairs with the server's release of published; the slots below it are
         * fully written */
        published = atomic_load_explicit( &t->published, memory_order_acquire );
        if (published)
        {
            index = published - 1 - rand_r( &seed ) % (published < 64 ? published : 64);
            if (!(slot = awe_slab_view_slot( t->view, index )) || check_slot( slot, 64, index << 8 ) >= 0)
                atomic_fetch_add( &t->errors, 1 );
        }
        if (last) break;
    }
    return NULL;
}

START_TEST(test_growth_concurrent)
{
    struct growth_test t = { .max = awe_test_slow_tool() ? 20000 : 200000 };
    pthread_t threads[2];
    uint32_t i, index;
    void *ptr;
    int n;

    t.slab = create_slab( 64, t.max, 0 );
    t.view = open_view( t.slab );
    for (n = 0; n < 2; n++) ck_assert_int_eq( pthread_create( &threads[n], NULL, growth_reader, &t ), 0 );
    for (i = 0; i < t.max; i++)
    {
        if (awe_slab_alloc( t.slab, &index, &ptr ) || index != i) break;
        fill_slot( ptr, 64, (uint64_t)i << 8 );
        /* release: the slot's contents before the new count */
        atomic_store_explicit( &t.published, i + 1, memory_order_release );
    }
    atomic_store_explicit( &t.done, 1, memory_order_release );
    for (n = 0; n < 2; n++) pthread_join( threads[n], NULL );
    ck_assert_uint_eq( i, t.max );
    ck_assert_uint_eq( atomic_load( &t.errors ), 0 );
    awe_slab_view_close( t.view );
    awe_slab_destroy( t.slab );
}
END_TEST

AWE_DEFINE_SUITE(slab)
{
    Suite *s = suite_create( "slab" );
    TCase *tc;

    tc = tcase_create( "core" );
    tcase_add_test( tc, test_alloc_fifo );
    tcase_add_test( tc, test_fifo_growth_order );
    tcase_add_test( tc, test_generation );
    tcase_add_test( tc, test_slot_size_rounding );
    tcase_add_test( tc, test_growth_keeps_slots );
    tcase_add_test( tc, test_client_writable );
#ifndef NDEBUG
    tcase_add_test( tc, test_poison );
#else
    fprintf( stderr, "SKIP test_poison: NDEBUG build, slots are not poisoned\n" );
#endif
    tcase_add_test( tc, test_seals );
    suite_add_tcase( s, tc );

    tc = tcase_create( "errors" );
    tcase_add_test( tc, test_client_cannot_write );
    tcase_add_test( tc, test_free_errors );
    tcase_add_test( tc, test_view_bounds );
    tcase_add_test( tc, test_view_open_errors );
    suite_add_tcase( s, tc );

    tc = tcase_create( "limits" );
    tcase_add_test( tc, test_create_limits );
    tcase_add_test( tc, test_exhaustion );
    suite_add_tcase( s, tc );

    tc = tcase_create( "concurrency" );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_growth_concurrent );
    suite_add_tcase( s, tc );
    return s;
}
