/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Slab pools over memfd: server-owned fixed-size slots that clients map. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "awe/shm.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u     /* Linux 6.3; older kernels reject it and we retry without */
#endif

#define NO_SLOT    UINT32_MAX       /* end of the free list */
#define USED_SLOT  (UINT32_MAX - 1) /* free-list link of an allocated slot (debug aid) */

/* A pool.  Everything here is server-private; only the memfd contents are shared.  The pool is
 * used by the server's single thread, so nothing here needs a lock. */
struct awe_slab
{
    struct awe_slab_geometry geo;   /* slot size, limits, flags, as sent to clients */
    int       fd;                   /* the memfd, read-write, sealed; never leaves the server */
    int       client_fd;            /* reopened description clients receive (O_RDONLY unless
                                       client-writable) */
    char     *base;                 /* server mapping of the whole reservation, read-write */
    size_t    map_size;             /* bytes reserved: max_slots slots rounded up to a block */
    size_t    size;                 /* bytes backed by the memfd (fallocate'd so far) */
    uint32_t  capacity;             /* slots backed: min(max_slots, size / slot_size) */
    uint32_t  used;                 /* slots allocated */
    uint32_t  free_head;            /* oldest free slot (next to allocate), or NO_SLOT */
    uint32_t  free_tail;            /* newest free slot, or NO_SLOT */
    uint32_t *next_free;            /* [capacity] free-list links; USED_SLOT while allocated */
    uint32_t *generation;           /* [capacity] bumped on alloc and free: odd = allocated */
};

/* A client's mapping of a pool.  Shared by the client's threads; only size changes. */
struct awe_slab_view
{
    struct awe_slab_geometry geo;   /* as received from the server */
    int              fd;            /* our duplicate of the pool descriptor */
    char            *base;          /* mapping of the whole reservation, beyond EOF included */
    size_t           map_size;      /* bytes mapped */
    awe_atomic_u64   size;          /* file size last seen with fstat; only grows (the file is
                                       sealed against shrinking), so any value read is safe */
};

static size_t page_size( void )
{
    long size = sysconf( _SC_PAGESIZE );
    return size > 0 ? (size_t)size : 4096;
}

static uint32_t block_size( void )
{
    size_t page = page_size();
    return page > AWE_SLAB_BLOCK_SIZE ? (uint32_t)page : AWE_SLAB_BLOCK_SIZE;
}

/* Returns the bytes a geometry reserves, or 0 when it is not one this code produces. */
static size_t geometry_map_size( const struct awe_slab_geometry *geo )
{
    uint64_t bytes;

    if (!geo->slot_size || geo->slot_size % AWE_SLAB_SLOT_ALIGN) return 0;
    if (geo->block_size < page_size() || (geo->block_size & (geo->block_size - 1))) return 0;
    if (geo->slot_size > geo->block_size) return 0;
    if (!geo->max_slots || geo->max_slots > AWE_SLAB_MAX_SLOTS) return 0;
    if (geo->flags & ~AWE_SLAB_CLIENT_WRITABLE) return 0;
    bytes = (uint64_t)geo->slot_size * geo->max_slots;
    bytes = (bytes + geo->block_size - 1) & ~((uint64_t)geo->block_size - 1);
    if (bytes > AWE_SLAB_MAX_BYTES) return 0;
    return bytes;
}

/* Fills a slot with a byte pattern.  Readers may be copying it this very moment (that is how
 * they find out it changed), so the stores are atomic, not a memset, ordered like any other
 * store to a record after the record's busy value. */
static void poison_slot( struct awe_slab *slab, uint32_t index, int byte )
{
#ifndef NDEBUG
    _Atomic uint64_t *words = (_Atomic uint64_t *)(slab->base + (size_t)index * slab->geo.slot_size);
    uint64_t pattern = 0x0101010101010101ull * (uint8_t)byte;
    size_t i;

    for (i = 0; i < slab->geo.slot_size / 8; i++)
        atomic_store_explicit( &words[i], pattern, AWE_SHARED_STORE_ORDER );
#endif
}

/* Debug builds: asserts that nobody wrote to a free slot of a server-written pool.  Clients
 * may scribble on client-writable pools, which the server must survive, so those are skipped. */
static void check_poison( const struct awe_slab *slab, uint32_t index )
{
#ifndef NDEBUG
    const _Atomic uint64_t *words;
    uint64_t first;
    size_t i;

    if (slab->geo.flags & AWE_SLAB_CLIENT_WRITABLE) return;
    words = (const _Atomic uint64_t *)(slab->base + (size_t)index * slab->geo.slot_size);
    first = atomic_load_explicit( &words[0], memory_order_relaxed );
    assert( first == 0x0101010101010101ull * AWE_SLAB_POISON_FRESH ||
            first == 0x0101010101010101ull * AWE_SLAB_POISON_FREE );
    for (i = 1; i < slab->geo.slot_size / 8; i++)
        assert( atomic_load_explicit( &words[i], memory_order_relaxed ) == first );
#endif
}

static void push_free( struct awe_slab *slab, uint32_t index )
{
    assert( slab->free_tail != index );
    slab->next_free[index] = NO_SLOT;
    if (slab->free_tail == NO_SLOT) slab->free_head = index;
    else slab->next_free[slab->free_tail] = index;
    slab->free_tail = index;
}

static uint32_t pop_free( struct awe_slab *slab )
{
    uint32_t index = slab->free_head, next;

    if (index == NO_SLOT) return NO_SLOT;
    next = slab->next_free[index];
    assert( next != index && next != USED_SLOT );
    slab->free_head = next;
    if (next == NO_SLOT) slab->free_tail = NO_SLOT;
    slab->next_free[index] = USED_SLOT;
    return index;
}

/* Backs one more block of the memfd and appends its slots to the free list.  Returns 0,
 * -ENOSPC at the pool's limit, -ENOMEM, or the error of fallocate; the pool is unchanged on
 * failure (the private arrays may just be larger). */
static int grow_slab( struct awe_slab *slab )
{
    size_t new_size = slab->size + slab->geo.block_size;
    uint32_t new_capacity, index, *links, *gens;

    if (slab->capacity == slab->geo.max_slots) return -ENOSPC;
    if (new_size > slab->map_size) new_size = slab->map_size;
    new_capacity = new_size / slab->geo.slot_size;
    if (new_capacity > slab->geo.max_slots) new_capacity = slab->geo.max_slots;
    assert( new_capacity > slab->capacity );

    if (!(links = realloc( slab->next_free, new_capacity * sizeof(*links) ))) return -ENOMEM;
    slab->next_free = links;
    if (!(gens = realloc( slab->generation, new_capacity * sizeof(*gens) ))) return -ENOMEM;
    slab->generation = gens;
    /* fallocate rather than ftruncate: it never shrinks the file, so growth cannot collide
     * with F_SEAL_SHRINK even if a client grew a client-writable pool; and it reserves the
     * memory now, so a later store cannot fault for lack of it */
    if (fallocate( slab->fd, 0, slab->size, new_size - slab->size ) < 0) return -errno;

    for (index = slab->capacity; index < new_capacity; index++)
    {
        slab->generation[index] = 0;
        poison_slot( slab, index, AWE_SLAB_POISON_FRESH );
        push_free( slab, index );
    }
    slab->size = new_size;
    slab->capacity = new_capacity;
    return 0;
}

/* Opens a new description of fd with the given access mode, through /proc. */
static int reopen_fd( int fd, int mode )
{
    char path[32];
    int ret;

    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    if ((ret = open( path, mode | O_CLOEXEC )) < 0) return -errno;
    return ret;
}

static int create_memfd( void )
{
    int fd = memfd_create( "awe-slab", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL );

    if (fd < 0 && errno == EINVAL) fd = memfd_create( "awe-slab", MFD_CLOEXEC | MFD_ALLOW_SEALING );
    return fd < 0 ? -errno : fd;
}

int awe_slab_create( uint32_t slot_size, uint32_t max_slots, uint32_t flags,
                     struct awe_slab **ret )
{
    struct awe_slab *slab;
    unsigned int seals = F_SEAL_SHRINK | F_SEAL_SEAL;
    int err;

    if (!slot_size || slot_size > AWE_SLAB_MAX_BYTES) return -EINVAL;
    if (!(slab = calloc( 1, sizeof(*slab) ))) return -ENOMEM;
    slab->geo.slot_size = (slot_size + AWE_SLAB_SLOT_ALIGN - 1) & ~(AWE_SLAB_SLOT_ALIGN - 1);
    slab->geo.max_slots = max_slots;
    slab->geo.block_size = block_size();
    slab->geo.flags = flags;
    slab->free_head = slab->free_tail = NO_SLOT;
    slab->client_fd = -1;
    if (!(slab->map_size = geometry_map_size( &slab->geo )))
    {
        err = -EINVAL;
        goto out_free;
    }
    if ((slab->fd = create_memfd()) < 0)
    {
        err = slab->fd;
        goto out_free;
    }
    /* The whole reservation is mapped once, beyond EOF: growth only extends the file, so no
     * address ever moves, and no writable mapping is needed after the seals below. */
    slab->base = mmap( NULL, slab->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, slab->fd, 0 );
    if (slab->base == MAP_FAILED)
    {
        err = -errno;
        goto out_close_fd;
    }
    /* F_SEAL_SHRINK: nobody can truncate the file under a mapping (SIGBUS).  F_SEAL_FUTURE_WRITE
     * (server-written pools): no new writable mapping or write() through any description, even
     * one a client reopens read-write through /proc; our mapping above keeps working.
     * F_SEAL_SEAL: nobody can add F_SEAL_GROW and stop the server from growing the pool. */
    if (!(flags & AWE_SLAB_CLIENT_WRITABLE)) seals |= F_SEAL_FUTURE_WRITE;
    if (fcntl( slab->fd, F_ADD_SEALS, seals ) < 0)
    {
        err = -errno;
        goto out_unmap;
    }
    slab->client_fd = reopen_fd( slab->fd, (flags & AWE_SLAB_CLIENT_WRITABLE) ? O_RDWR : O_RDONLY );
    if (slab->client_fd < 0)
    {
        err = slab->client_fd;
        goto out_unmap;
    }
    *ret = slab;
    return 0;

out_unmap:
    munmap( slab->base, slab->map_size );
out_close_fd:
    close( slab->fd );
out_free:
    free( slab );
    return err;
}

void awe_slab_destroy( struct awe_slab *slab )
{
    if (!slab) return;
    munmap( slab->base, slab->map_size );
    close( slab->client_fd );
    close( slab->fd );
    free( slab->next_free );
    free( slab->generation );
    free( slab );
}

int awe_slab_alloc( struct awe_slab *slab, uint32_t *index, void **slot )
{
    uint32_t i;
    int err;

    if (slab->free_head == NO_SLOT && (err = grow_slab( slab ))) return err;
    i = pop_free( slab );
    assert( i < slab->capacity && !(slab->generation[i] & 1) );
    check_poison( slab, i );
    slab->generation[i]++;
    slab->used++;
    *index = i;
    if (slot) *slot = slab->base + (size_t)i * slab->geo.slot_size;
    return 0;
}

int awe_slab_free( struct awe_slab *slab, uint32_t index )
{
    if (index >= slab->capacity || !(slab->generation[index] & 1)) return -EINVAL;
    slab->generation[index]++;
    slab->used--;
    poison_slot( slab, index, AWE_SLAB_POISON_FREE );
    push_free( slab, index );
    return 0;
}

void *awe_slab_slot( const struct awe_slab *slab, uint32_t index )
{
    if (index >= slab->capacity || !(slab->generation[index] & 1)) return NULL;
    return slab->base + (size_t)index * slab->geo.slot_size;
}

uint32_t awe_slab_generation( const struct awe_slab *slab, uint32_t index )
{
    return index < slab->capacity ? slab->generation[index] : 0;
}

uint32_t awe_slab_capacity( const struct awe_slab *slab )
{
    return slab->capacity;
}

int awe_slab_client_fd( const struct awe_slab *slab )
{
    return slab->client_fd;
}

void awe_slab_geometry( const struct awe_slab *slab, struct awe_slab_geometry *geo )
{
    *geo = slab->geo;
}

int awe_slab_view_open( int fd, const struct awe_slab_geometry *geo, struct awe_slab_view **ret )
{
    struct awe_slab_view *view;
    int prot = PROT_READ, seals, err;
    struct stat st;

    if (!geometry_map_size( geo )) return -EINVAL;
    /* without F_SEAL_SHRINK the file could be truncated under the mapping: refuse it */
    if ((seals = fcntl( fd, F_GET_SEALS )) < 0) return -errno;
    if (!(seals & F_SEAL_SHRINK)) return -EINVAL;
    if (fstat( fd, &st ) < 0) return -errno;
    if (!(view = calloc( 1, sizeof(*view) ))) return -ENOMEM;
    view->geo = *geo;
    view->map_size = geometry_map_size( geo );
    atomic_init( &view->size, (uint64_t)st.st_size );
    if ((view->fd = fcntl( fd, F_DUPFD_CLOEXEC, 0 )) < 0)
    {
        err = -errno;
        goto out_free;
    }
    if (geo->flags & AWE_SLAB_CLIENT_WRITABLE) prot |= PROT_WRITE;
    view->base = mmap( NULL, view->map_size, prot, MAP_SHARED, view->fd, 0 );
    if (view->base == MAP_FAILED)
    {
        err = -errno;
        goto out_close_fd;
    }
    *ret = view;
    return 0;

out_close_fd:
    close( view->fd );
out_free:
    free( view );
    return err;
}

void awe_slab_view_close( struct awe_slab_view *view )
{
    if (!view) return;
    munmap( view->base, view->map_size );
    close( view->fd );
    free( view );
}

/* Refreshes the cached file size; returns the larger of the cached and the current size. */
static uint64_t refresh_view_size( struct awe_slab_view *view )
{
    uint64_t cur = atomic_load_explicit( &view->size, memory_order_relaxed );
    struct stat st;

    if (fstat( view->fd, &st ) < 0) return cur;
    /* relaxed is enough: the size only says which pages exist; the data in them is ordered by
     * the records' own sequence words */
    while (cur < (uint64_t)st.st_size &&
           !atomic_compare_exchange_weak_explicit( &view->size, &cur, (uint64_t)st.st_size,
                                                   memory_order_relaxed, memory_order_relaxed ))
        ;
    return cur > (uint64_t)st.st_size ? cur : (uint64_t)st.st_size;
}

const void *awe_slab_view_slot( struct awe_slab_view *view, uint32_t index )
{
    uint64_t end = ((uint64_t)index + 1) * view->geo.slot_size;

    if (index >= view->geo.max_slots) return NULL;
    if (end > atomic_load_explicit( &view->size, memory_order_relaxed ) &&
        end > refresh_view_size( view ))
        return NULL;
    return view->base + (size_t)index * view->geo.slot_size;
}

void awe_slab_view_geometry( const struct awe_slab_view *view, struct awe_slab_geometry *geo )
{
    *geo = view->geo;
}

void *awe_slab_view_slot_rw( struct awe_slab_view *view, uint32_t index )
{
    if (!(view->geo.flags & AWE_SLAB_CLIENT_WRITABLE)) return NULL;
    return (void *)awe_slab_view_slot( view, index );
}
