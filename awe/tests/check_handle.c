/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the shared handle table: encoding, server side, lock-free client lookups. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "awe/shm.h"
#include "awe_check.h"

#define MIX 0x9e3779b97f4a7c15ull

/* Fills an entry whose every field derives from id, so a mixed copy shows. */
static void make_entry( uint64_t id, uint32_t pid, struct awe_handle_entry *entry )
{
    int i;

    entry->object_id = id;
    entry->type = 1 + id % 1000;
    entry->access = (uint32_t)(id * 0x9e3779b1u);
    entry->attributes = (uint32_t)(id >> 2) ^ 0x5a5a;
    entry->owner_pid = pid;
    for (i = 0; i < 4; i++) entry->data[i] = id * MIX + i;
}

static int entry_matches( uint64_t id, uint32_t pid, const struct awe_handle_entry *entry )
{
    struct awe_handle_entry expect;
    int i;

    make_entry( id, pid, &expect );
    if (entry->object_id != expect.object_id || entry->type != expect.type ||
        entry->access != expect.access || entry->attributes != expect.attributes ||
        entry->owner_pid != expect.owner_pid)
        return 0;
    for (i = 0; i < 4; i++) if (entry->data[i] != expect.data[i]) return 0;
    return 1;
}

static struct awe_handle_table *create_table( uint32_t max_handles )
{
    struct awe_handle_table *table;
    int err;

    POISON(table);
    err = awe_handle_table_create( max_handles, &table );
    ck_assert_msg( !err, "awe_handle_table_create( %u ) failed: %d", max_handles, err );
    return table;
}

static struct awe_slab_view *open_table_view( struct awe_handle_table *table )
{
    struct awe_slab_geometry geo;
    struct awe_slab_view *view;
    int err;

    awe_handle_table_geometry( table, &geo );
    POISON(view);
    err = awe_slab_view_open( awe_handle_table_client_fd( table ), &geo, &view );
    ck_assert_msg( !err, "awe_slab_view_open failed: %d", err );
    return view;
}

static uint32_t alloc_handle( struct awe_handle_table *table, uint64_t id )
{
    struct awe_handle_entry entry;
    uint32_t handle;
    int err;

    make_entry( id, 1234, &entry );
    POISON(handle);
    err = awe_handle_alloc( table, &entry, &handle );
    ck_assert_msg( !err, "awe_handle_alloc failed: %d", err );
    return handle;
}

START_TEST(test_encode_decode)
{
    static const uint32_t indices[] = { 0, 1, 2, 1000, AWE_HANDLE_MAX_HANDLES - 1 };
    static const uint32_t gens[] = { 1, 2, 255, 256, AWE_HANDLE_GEN_MAX };
    uint32_t handle, index, gen;
    size_t i, j;

    for (i = 0; i < sizeof(indices) / sizeof(indices[0]); i++)
        for (j = 0; j < sizeof(gens) / sizeof(gens[0]); j++)
        {
            handle = awe_handle_encode( indices[i], gens[j] );
            ck_assert_uint_ne( handle, 0 );
            ck_assert_uint_eq( handle % 4, 0 );
            ck_assert_int_gt( (int32_t)handle, 0 );
            POISON(index);
            POISON(gen);
            ck_assert_int_eq( awe_handle_decode( handle, &index, &gen ), 0 );
            ck_assert_uint_eq( index, indices[i] );
            ck_assert_uint_eq( gen, gens[j] );
            /* the two tag bits are ignored, as on Windows */
            POISON(index);
            POISON(gen);
            ck_assert_int_eq( awe_handle_decode( handle | 3, &index, &gen ), 0 );
            ck_assert_uint_eq( index, indices[i] );
            ck_assert_uint_eq( gen, gens[j] );
        }
}
END_TEST

START_TEST(test_decode_malformed)
{
    static const uint32_t bad[] =
    {
        0,                                          /* NULL handle: generation 0 */
        0xffffffff, 0xfffffffe, 0xfffffffd,         /* current process, thread, session */
        0xfffffffc, 0xfffffffb, 0xfffffffa,         /* the token pseudo-handles */
        4, 0x3ffffc,                                /* generation 0 */
        0x7fc00000 | 4,                             /* generation all ones */
        0x80000000 | (1u << AWE_HANDLE_GEN_SHIFT),  /* bit 31 */
    };
    uint32_t index, gen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg( awe_handle_decode( bad[i], &index, &gen ) == -EINVAL, "handle %#x accepted", bad[i] );
}
END_TEST

START_TEST(test_alloc_lookup)
{
    struct awe_handle_table *table = create_table( 16 );
    struct awe_slab_view *view = open_table_view( table );
    struct awe_handle_entry entry;
    uint32_t handle, index, gen;

    handle = alloc_handle( table, 77 );
    ck_assert_int_eq( awe_handle_decode( handle, &index, &gen ), 0 );
    ck_assert_uint_eq( index, 0 );
    ck_assert_uint_eq( gen, 1 );

    POISON(entry);
    ck_assert_int_eq( awe_handle_get( table, handle, &entry ), 0 );
    ck_assert_msg( entry_matches( 77, 1234, &entry ), "server copy differs" );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( view, handle, &entry ), 0 );
    ck_assert_msg( entry_matches( 77, 1234, &entry ), "client copy differs" );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( view, handle | 2, &entry ), 0 );
    ck_assert_msg( entry_matches( 77, 1234, &entry ), "client copy differs" );

    handle = alloc_handle( table, 78 );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( view, handle, &entry ), 0 );
    ck_assert_msg( entry_matches( 78, 1234, &entry ), "client copy differs" );
    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
}
END_TEST

START_TEST(test_free_stale)
{
    struct awe_handle_table *table = create_table( 16 );
    struct awe_slab_view *view = open_table_view( table );
    struct awe_handle_entry entry;
    uint32_t handle = alloc_handle( table, 5 ), other = alloc_handle( table, 6 );

    ck_assert_int_eq( awe_handle_free( table, handle ), 0 );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( view, handle, &entry ), -ESTALE );
    POISON(entry);
    ck_assert_int_eq( awe_handle_get( table, handle, &entry ), -ESTALE );
    ck_assert_int_eq( awe_handle_free( table, handle ), -ESTALE );
    /* the neighbour is untouched */
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( view, other, &entry ), 0 );
    ck_assert_msg( entry_matches( 6, 1234, &entry ), "neighbour changed" );
    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
}
END_TEST

/* Reusing a slot gives a new generation; the old handle stays stale through a full cycle. */
START_TEST(test_reuse_generation)
{
    struct awe_handle_table *table = create_table( 1 );
    struct awe_slab_view *view = open_table_view( table );
    struct awe_handle_entry entry;
    uint32_t first, handle, prev, index, gen, i;

    first = prev = alloc_handle( table, 0 );
    for (i = 1; i < AWE_HANDLE_GEN_MAX; i++)
    {
        ck_assert_int_eq( awe_handle_free( table, prev ), 0 );
        handle = alloc_handle( table, i );
        ck_assert_int_eq( awe_handle_decode( handle, &index, &gen ), 0 );
        ck_assert_uint_eq( index, 0 );
        ck_assert_uint_eq( gen, i + 1 );
        POISON(entry);
        ck_assert_int_eq( awe_handle_lookup( view, first, &entry ), -ESTALE );
        POISON(entry);
        ck_assert_int_eq( awe_handle_lookup( view, prev, &entry ), -ESTALE );
        POISON(entry);
        ck_assert_int_eq( awe_handle_lookup( view, handle, &entry ), 0 );
        ck_assert_msg( entry_matches( i, 1234, &entry ), "copy %u differs", i );
        prev = handle;
    }
    /* after AWE_HANDLE_GEN_MAX uses the generation wraps to 1 (skipping 0 and all ones) */
    ck_assert_int_eq( awe_handle_free( table, prev ), 0 );
    handle = alloc_handle( table, 1000 );
    ck_assert_uint_eq( handle, first );
    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
}
END_TEST

START_TEST(test_fifo_reuse)
{
    struct awe_handle_table *table = create_table( 4 );
    uint32_t handles[4], index, gen, i;

    for (i = 0; i < 4; i++) handles[i] = alloc_handle( table, i );
    ck_assert_int_eq( awe_handle_free( table, handles[1] ), 0 );
    ck_assert_int_eq( awe_handle_free( table, handles[0] ), 0 );
    ck_assert_int_eq( awe_handle_decode( alloc_handle( table, 10 ), &index, &gen ), 0 );
    ck_assert_uint_eq( index, 1 );
    ck_assert_uint_eq( gen, 2 );
    ck_assert_int_eq( awe_handle_decode( alloc_handle( table, 11 ), &index, &gen ), 0 );
    ck_assert_uint_eq( index, 0 );
    ck_assert_uint_eq( gen, 2 );
    awe_handle_table_destroy( table );
}
END_TEST

START_TEST(test_lookup_errors)
{
    struct awe_handle_table *table = create_table( 2000 );
    struct awe_slab_view *view = open_table_view( table ), *other_view;
    struct awe_handle_entry entry;
    struct awe_slab_geometry geo;
    struct awe_slab *slab;
    uint32_t handle = alloc_handle( table, 1 ), capacity = AWE_SLAB_BLOCK_SIZE / AWE_HANDLE_ENTRY_SIZE;

#define TRY_LOOKUP(v, h, expect) \
    do { POISON(entry); ck_assert_int_eq( awe_handle_lookup( v, h, &entry ), expect ); \
         POISON(entry); ck_assert_int_eq( awe_handle_get( table, h, &entry ), expect ); } while (0)
    TRY_LOOKUP( view, 0, -EINVAL );
    TRY_LOOKUP( view, 0xffffffff, -EINVAL );
    TRY_LOOKUP( view, 0xfffffffe, -EINVAL );
    TRY_LOOKUP( view, handle | 0x80000000, -EINVAL );
    TRY_LOOKUP( view, awe_handle_encode( capacity, 1 ), -EINVAL );     /* not backed yet */
    TRY_LOOKUP( view, awe_handle_encode( 5000, 1 ), -EINVAL );         /* beyond the table */
    TRY_LOOKUP( view, awe_handle_encode( 1, 1 ), -ESTALE );            /* never issued */
    TRY_LOOKUP( view, awe_handle_encode( 0, 2 ), -ESTALE );            /* wrong generation */
#undef TRY_LOOKUP
    ck_assert_int_eq( awe_handle_free( table, awe_handle_encode( 5000, 1 ) ), -EINVAL );
    ck_assert_int_eq( awe_handle_free( table, awe_handle_encode( 0, 2 ) ), -ESTALE );
    ck_assert_int_eq( awe_handle_free( table, 0 ), -EINVAL );

    /* a view of a pool that is not a handle table */
    ck_assert_int_eq( awe_slab_create( 32, 100, 0, &slab ), 0 );
    awe_slab_geometry( slab, &geo );
    ck_assert_int_eq( awe_slab_view_open( awe_slab_client_fd( slab ), &geo, &other_view ), 0 );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( other_view, handle, &entry ), -EINVAL );
    awe_slab_view_close( other_view );
    awe_slab_destroy( slab );
    /* nor a client-writable one, whose contents nobody may trust */
    ck_assert_int_eq( awe_slab_create( AWE_HANDLE_ENTRY_SIZE, 100, AWE_SLAB_CLIENT_WRITABLE, &slab ), 0 );
    awe_slab_geometry( slab, &geo );
    ck_assert_int_eq( awe_slab_view_open( awe_slab_client_fd( slab ), &geo, &other_view ), 0 );
    POISON(entry);
    ck_assert_int_eq( awe_handle_lookup( other_view, handle, &entry ), -EINVAL );
    awe_slab_view_close( other_view );
    awe_slab_destroy( slab );

    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
}
END_TEST

START_TEST(test_alloc_errors)
{
    struct awe_handle_table *table;
    struct awe_handle_entry entry;
    uint32_t handle;
    int fd;

    POISON(table);
    ck_assert_int_eq( awe_handle_table_create( 0, &table ), -EINVAL );
    ck_assert_int_eq( awe_handle_table_create( AWE_HANDLE_MAX_HANDLES + 1, &table ), -EINVAL );
    table = create_table( 2 );
    make_entry( 1, 1, &entry );
    entry.type = 0;
    POISON(handle);
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handle ), -EINVAL );
    entry.type = AWE_HANDLE_TYPE_MAX + 1;
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handle ), -EINVAL );
    entry.type = AWE_HANDLE_TYPE_MAX;
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handle ), 0 );
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handle ), 0 );
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handle ), -ENOSPC );

    /* clients get a read-only description */
    fd = awe_handle_table_client_fd( table );
    ck_assert_int_eq( fcntl( fd, F_GETFL ) & O_ACCMODE, O_RDONLY );
    ck_assert_ptr_eq( mmap( NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0 ), MAP_FAILED );
    awe_handle_table_destroy( table );
    awe_handle_table_destroy( NULL );
}
END_TEST

/* A table grows without moving: a view opened first sees handles of every later block. */
START_TEST(test_growth)
{
    const uint32_t count = 3 * (AWE_SLAB_BLOCK_SIZE / AWE_HANDLE_ENTRY_SIZE) + 5;
    struct awe_handle_table *table = create_table( count );
    struct awe_slab_view *view = open_table_view( table );
    struct awe_handle_entry entry;
    uint32_t *handles = calloc( count, sizeof(*handles) ), i;

    ck_assert_ptr_nonnull( handles );
    for (i = 0; i < count; i++) handles[i] = alloc_handle( table, i );
    make_entry( count, 1234, &entry );
    ck_assert_int_eq( awe_handle_alloc( table, &entry, &handles[0] ), -ENOSPC );
    for (i = 0; i < count; i++)
    {
        POISON(entry);
        ck_assert_int_eq( awe_handle_lookup( view, handles[i], &entry ), 0 );
        ck_assert_msg( entry_matches( i, 1234, &entry ), "entry %u differs", i );
    }
    free( handles );
    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
}
END_TEST

/* ---- concurrency: readers race a server closing and reusing slots ----
 *
 * The server churns: it closes its oldest live handle, then issues a handle for a new object,
 * whose every entry field derives from the object number.  Readers pick recently issued objects,
 * half the time one the server is about to close, and look their handle up.  A copy must be exactly that object's entry (not a mix of two, not
 * the slot's previous or next occupant), and a handle the server had closed before the lookup
 * began must never be found live.  After the server stops, every reader checks every object. */

#define STRESS_TABLE  8192          /* entries */
#define STRESS_LIVE   32            /* handles open during the churn */
#define STRESS_PINNED 8             /* handles open all along */
#define STRESS_CLOSED 8             /* handles closed before the readers start */
#define STRESS_WINDOW 64            /* readers pick among this many recent objects */
#define STRESS_OPS    2000000       /* churn steps (a 40th under valgrind/TSan) */
#define PINNED_ID     (1ull << 40)
#define CLOSED_ID     (2ull << 40)

/* Setup backs every slot, so with FIFO reuse a slot comes back at most once every
 * STRESS_TABLE - STRESS_LIVE - STRESS_PINNED steps; so no slot goes through all AWE_HANDLE_GEN_MAX generations during the test and no
 * handle value is ever issued twice: a found handle must name exactly its own object. */
_Static_assert( STRESS_OPS / (STRESS_TABLE - STRESS_LIVE - STRESS_PINNED) + 2 < AWE_HANDLE_GEN_MAX,
                "handle values would repeat" );

enum stress_error { ERR_NONE, ERR_MISSING, ERR_MISMATCH, ERR_CLOSED_FOUND, ERR_RESULT, ERR_PINNED,
                    ERR_CLOSED, ERR_MALFORMED, ERR_FORGED, ERR_SERVER };

/* Shared between the server and its readers (threads, or processes: MAP_SHARED). */
struct stress
{
    uint32_t         ops;                       /* churn steps */
    uint32_t         pid;                       /* owner_pid of every entry */
    uint32_t         pinned[STRESS_PINNED];     /* set up before the readers start */
    uint32_t         closed[STRESS_CLOSED];     /* set up before the readers start */
    _Atomic uint32_t count;                     /* objects issued so far */
    _Atomic int      done;                      /* the server has stopped */
    _Atomic uint64_t found;                     /* lookups that returned a copy */
    _Atomic uint64_t stale;                     /* lookups that said -ESTALE */
    _Atomic uint64_t errors;
    _Atomic uint32_t first_error[4];            /* kind, object, handle, result */
    _Atomic uint32_t issued[];                  /* per object: its handle, bit 0 set once closed */
};

struct stress_reader
{
    struct stress        *s;
    struct awe_slab_view *view;
    unsigned int          seed;
};

static size_t stress_size( uint32_t ops )
{
    return sizeof(struct stress) + (STRESS_LIVE + ops) * sizeof(_Atomic uint32_t);
}

static void stress_error( struct stress *s, enum stress_error kind, uint32_t object, uint32_t handle, int ret )
{
    if (!atomic_fetch_add( &s->errors, 1 ))
    {
        atomic_store( &s->first_error[0], kind );
        atomic_store( &s->first_error[1], object );
        atomic_store( &s->first_error[2], handle );
        atomic_store( &s->first_error[3], (uint32_t)ret );
    }
}

/* Looks up the handle of churned object m; settled means the server has stopped.  Returns the
 * result of the lookup. */
static int stress_check_object( struct stress *s, struct awe_slab_view *view, uint32_t m, int settled )
{
    /* acquire: if the server marked the object closed, its awe_handle_free came before */
    uint32_t issued = atomic_load_explicit( &s->issued[m], memory_order_acquire );
    uint32_t handle = (issued & ~3u) | (m & 2);     /* tag bits vary; they must not matter */
    struct awe_handle_entry entry;
    int ret;

    POISON(entry);
    ret = awe_handle_lookup( view, handle, &entry );
    if (!ret)
    {
        if (issued & 1) stress_error( s, ERR_CLOSED_FOUND, m, handle, ret );
        else if (!entry_matches( m, s->pid, &entry )) stress_error( s, ERR_MISMATCH, m, handle, ret );
        else atomic_fetch_add_explicit( &s->found, 1, memory_order_relaxed );
    }
    else if (ret == -ESTALE)
    {
        if (settled && !(issued & 1)) stress_error( s, ERR_MISSING, m, handle, ret );
        atomic_fetch_add_explicit( &s->stale, 1, memory_order_relaxed );
    }
    else stress_error( s, ERR_RESULT, m, handle, ret );
    return ret;
}

static void stress_check_fixed( struct stress *s, struct awe_slab_view *view, unsigned int pick )
{
    struct awe_handle_entry entry;
    uint32_t i = pick % STRESS_PINNED, handle;
    int ret;

    POISON(entry);
    if ((ret = awe_handle_lookup( view, s->pinned[i], &entry )) || !entry_matches( PINNED_ID + i, s->pid, &entry ))
        stress_error( s, ERR_PINNED, i, s->pinned[i], ret );
    i = pick % STRESS_CLOSED;
    if ((ret = awe_handle_lookup( view, s->closed[i], &entry )) != -ESTALE)
        stress_error( s, ERR_CLOSED, i, s->closed[i], ret );
    handle = s->pinned[pick % STRESS_PINNED] | 0x80000000;
    if ((ret = awe_handle_lookup( view, handle, &entry )) != -EINVAL)
        stress_error( s, ERR_MALFORMED, 0, handle, ret );
}

/* Looks up, before the server issues it, the handle that the next reused slot will get (a
 * client guessing handles).  Until the server has published the whole entry the lookup must
 * fail; once it succeeds, the copy must be the new object's complete entry. */
static void stress_check_forged( struct stress *s, struct awe_slab_view *view, uint32_t count )
{
    const uint32_t free_slots = STRESS_TABLE - STRESS_LIVE - STRESS_PINNED;
    uint32_t m, issued, index, gen, handle, i;
    struct awe_handle_entry entry;
    int ret;

    /* the server closes objects in order, and the FIFO free list hands their slots out again
     * free_slots steps later: the next step reuses the slot of object count - LIVE - free_slots */
    if (count < STRESS_LIVE + free_slots) return;
    m = count - STRESS_LIVE - free_slots;
    issued = atomic_load_explicit( &s->issued[m], memory_order_acquire );
    if (awe_handle_decode( issued, &index, &gen ) || gen == AWE_HANDLE_GEN_MAX) return;
    handle = awe_handle_encode( index, gen + 1 );
    for (i = 0; i < 256; i++)
    {
        POISON(entry);
        if ((ret = awe_handle_lookup( view, handle, &entry )) == -ESTALE) continue;
        if (ret || entry.object_id < STRESS_LIVE || entry.object_id >= STRESS_LIVE + s->ops ||
            !entry_matches( entry.object_id, s->pid, &entry ))
            stress_error( s, ERR_FORGED, m, handle, ret );
        break;
    }
}

static void stress_read( struct stress_reader *r )
{
    struct stress *s = r->s;
    uint32_t count, window, m, i;
    unsigned int pick;
    int done;

    do
    {
        done = atomic_load_explicit( &s->done, memory_order_acquire );
        pick = rand_r( &r->seed );
        if (pick % 32 == 0)
        {
            stress_check_fixed( s, r->view, pick / 32 );
            continue;
        }
        /* acquire: pairs with the server's release of count; issued[] below it is written */
        count = atomic_load_explicit( &s->count, memory_order_acquire );
        window = count < STRESS_WINDOW ? count : STRESS_WINDOW;
        if (pick & 32)
        {
            /* half the time, the next object the server will close, again and again, so that
             * one of the lookups overlaps the close; a quarter, the next handle it will issue */
            m = count - STRESS_LIVE;
            for (i = 0; i < 256; i++) if (stress_check_object( s, r->view, m, 0 )) break;
            continue;
        }
        if (pick & 64)
        {
            stress_check_forged( s, r->view, count );
            continue;
        }
        m = count - 1 - (pick / 128) % window;
        stress_check_object( s, r->view, m, 0 );
    } while (!done);

    count = atomic_load_explicit( &s->count, memory_order_acquire );
    for (m = 0; m < count; m++) stress_check_object( s, r->view, m, 1 );
    for (m = 0; m < STRESS_PINNED; m++) stress_check_fixed( s, r->view, m );
}

static void *stress_reader_thread( void *arg )
{
    stress_read( arg );
    return NULL;
}

/* Sets up the table and the shared state, single-threaded, before any reader starts. */
static struct stress *stress_setup( struct awe_handle_table **table, uint32_t *live )
{
    uint32_t ops = awe_test_slow_tool() ? STRESS_OPS / 40 : STRESS_OPS, i;
    struct awe_handle_entry entry;
    struct stress *s;

    s = mmap( NULL, stress_size( ops ), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
    ck_assert_ptr_ne( s, MAP_FAILED );
    s->ops = ops;
    s->pid = getpid();
    *table = create_table( STRESS_TABLE );
    /* back every slot first, so that all of them take turns on the free list */
    make_entry( CLOSED_ID, s->pid, &entry );
    for (i = 0; i < STRESS_TABLE; i++) ck_assert_int_eq( awe_handle_alloc( *table, &entry, &live[0] ), 0 );
    for (i = 0; i < STRESS_TABLE; i++)
        ck_assert_int_eq( awe_handle_free( *table, awe_handle_encode( i, 1 ) ), 0 );
    for (i = 0; i < STRESS_PINNED; i++)
    {
        make_entry( PINNED_ID + i, s->pid, &entry );
        ck_assert_int_eq( awe_handle_alloc( *table, &entry, &s->pinned[i] ), 0 );
    }
    for (i = 0; i < STRESS_CLOSED; i++)
    {
        make_entry( CLOSED_ID + i, s->pid, &entry );
        ck_assert_int_eq( awe_handle_alloc( *table, &entry, &s->closed[i] ), 0 );
        ck_assert_int_eq( awe_handle_free( *table, s->closed[i] ), 0 );
    }
    for (i = 0; i < STRESS_LIVE; i++)
    {
        uint32_t handle;

        make_entry( i, s->pid, &entry );
        ck_assert_int_eq( awe_handle_alloc( *table, &entry, &handle ), 0 );
        atomic_store_explicit( &s->issued[i], handle, memory_order_relaxed );
        live[i] = i;
    }
    atomic_store_explicit( &s->count, STRESS_LIVE, memory_order_release );
    return s;
}

/* The server: closes and reissues handles as fast as it can, then says it is done. */
static void stress_churn( struct stress *s, struct awe_handle_table *table, uint32_t *live )
{
    struct awe_handle_entry entry;
    uint32_t step, k, m, handle;
    int ret;

    for (step = 0; step < s->ops; step++)
    {
        k = step % STRESS_LIVE;     /* the oldest live handle */
        m = live[k];
        handle = atomic_load_explicit( &s->issued[m], memory_order_relaxed );
        if ((ret = awe_handle_free( table, handle ))) stress_error( s, ERR_SERVER, m, handle, ret );
        /* release: the free above happens before any reader sees the closed bit */
        atomic_store_explicit( &s->issued[m], handle | 1, memory_order_release );

        m = STRESS_LIVE + step;
        make_entry( m, s->pid, &entry );
        if ((ret = awe_handle_alloc( table, &entry, &handle ))) stress_error( s, ERR_SERVER, m, 0, ret );
        atomic_store_explicit( &s->issued[m], handle, memory_order_relaxed );
        /* release: issued[m] before the count that lets readers pick m */
        atomic_store_explicit( &s->count, m + 1, memory_order_release );
        live[k] = m;
    }
    atomic_store_explicit( &s->done, 1, memory_order_release );
}

static void stress_report( struct stress *s, struct awe_handle_table *table, int readers )
{
    uint64_t errors = atomic_load( &s->errors ), found = atomic_load( &s->found );
    uint32_t count = atomic_load( &s->count );

    ck_assert_msg( !errors, "%llu errors; first: kind %u object %u handle %#x result %d",
                   (unsigned long long)errors, atomic_load( &s->first_error[0] ),
                   atomic_load( &s->first_error[1] ), atomic_load( &s->first_error[2] ),
                   (int)atomic_load( &s->first_error[3] ) );
    ck_assert_uint_eq( count, STRESS_LIVE + s->ops );
    /* the final pass alone finds STRESS_LIVE live objects per reader */
    ck_assert_uint_ge( found, (uint64_t)readers * STRESS_LIVE );
    awe_handle_table_destroy( table );
    munmap( s, stress_size( s->ops ) );
}

START_TEST(test_stress_threads)
{
    struct stress_reader readers[2];
    struct awe_handle_table *table;
    uint32_t live[STRESS_LIVE];
    struct awe_slab_view *view;
    pthread_t threads[2];
    struct stress *s;
    int i;

    s = stress_setup( &table, live );
    view = open_table_view( table );    /* one view shared by all threads, as in a process */
    for (i = 0; i < 2; i++)
    {
        readers[i].s = s;
        readers[i].view = view;
        readers[i].seed = 1000 + i;
        ck_assert_int_eq( pthread_create( &threads[i], NULL, stress_reader_thread, &readers[i] ), 0 );
    }
    stress_churn( s, table, live );
    for (i = 0; i < 2; i++) pthread_join( threads[i], NULL );
    awe_slab_view_close( view );
    stress_report( s, table, 2 );
}
END_TEST

START_TEST(test_stress_processes)
{
    struct awe_handle_table *table;
    struct stress_reader reader;
    struct awe_slab_geometry geo;
    uint32_t live[STRESS_LIVE];
    struct stress *s;
    pid_t pids[2];
    int i, status;

    s = stress_setup( &table, live );
    awe_handle_table_geometry( table, &geo );
    for (i = 0; i < 2; i++)
    {
        ck_assert_int_ge( (pids[i] = fork()), 0 );
        if (pids[i]) continue;
        /* the reader maps the table through the read-only descriptor, as a client does */
        reader.s = s;
        reader.seed = 2000 + i;
        if (awe_slab_view_open( awe_handle_table_client_fd( table ), &geo, &reader.view )) _exit( 2 );
        if (awe_slab_view_slot_rw( reader.view, 0 )) _exit( 3 );
        stress_read( &reader );
        awe_slab_view_close( reader.view );
        _exit( 0 );
    }
    stress_churn( s, table, live );
    for (i = 0; i < 2; i++)
    {
        ck_assert_int_eq( waitpid( pids[i], &status, 0 ), pids[i] );
        ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "reader %d: status %#x", i, status );
    }
    stress_report( s, table, 2 );
}
END_TEST

AWE_DEFINE_SUITE(handle)
{
    Suite *s = suite_create( "handle" );
    TCase *tc;

    tc = tcase_create( "core" );
    tcase_add_test( tc, test_encode_decode );
    tcase_add_test( tc, test_alloc_lookup );
    tcase_add_test( tc, test_free_stale );
    tcase_add_test( tc, test_reuse_generation );
    tcase_add_test( tc, test_fifo_reuse );
    suite_add_tcase( s, tc );

    tc = tcase_create( "errors" );
    tcase_add_test( tc, test_decode_malformed );
    tcase_add_test( tc, test_lookup_errors );
    tcase_add_test( tc, test_alloc_errors );
    suite_add_tcase( s, tc );

    tc = tcase_create( "limits" );
    tcase_add_test( tc, test_growth );
    suite_add_tcase( s, tc );

    tc = tcase_create( "concurrency" );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_stress_threads );
    tcase_add_test( tc, test_stress_processes );
    suite_add_tcase( s, tc );
    return s;
}
