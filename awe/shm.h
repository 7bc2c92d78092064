/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared-memory core: memfd slab pools, seqlock primitives and the shared handle table.
 *
 * The server owns every pool and is the only writer of server-written memory; clients map the
 * pools through a descriptor the server hands them (read-only unless the pool was created
 * client-writable).  Everything here returns 0 or -errno and never touches errno, except the
 * lookups documented as returning NULL.  docs/shm.md describes the design and memory ordering. */

#ifndef __AWE_SHM_H
#define __AWE_SHM_H

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include "layout.h"

/* Shared records are read with 64-bit atomic loads from PROT_READ mappings: they must be plain
 * loads, never a read-modify-write in disguise. */
_Static_assert( ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free" );

/* ---- seqlock primitives ------------------------------------------------------------------
 *
 * A record in shared memory is guarded by a 64-bit sequence word.  The single-threaded server
 * writes it inside AWE_SHARED_WRITE_BEGIN/END (the word is odd meanwhile); readers copy the
 * record with relaxed atomic loads, then check the word did not change.  Every shared field is
 * an _Atomic object and every access to it is atomic, so the C11 model (and ThreadSanitizer)
 * sees no data race; the fences below give the ordering on weakly ordered CPUs too. */

/* ThreadSanitizer does not model atomic_thread_fence.  Under it the same ordering is expressed
 * per access instead: record stores are release stores (each one ordered after the busy value)
 * and record loads are acquire loads (each one ordered before the recheck).  That is strictly
 * stronger, so TSan checks a program that is correct under the same argument. */
#if defined(__SANITIZE_THREAD__)
# define AWE_SEQ_PER_ACCESS_ORDER 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define AWE_SEQ_PER_ACCESS_ORDER 1
# endif
#endif
#ifdef AWE_SEQ_PER_ACCESS_ORDER
# define AWE_SHARED_LOAD_ORDER  memory_order_acquire
# define AWE_SHARED_STORE_ORDER memory_order_release
# define awe_seq_fence( order ) ((void)0)
#else
# define AWE_SHARED_LOAD_ORDER  memory_order_relaxed    /* ordered by the reader's fence */
# define AWE_SHARED_STORE_ORDER memory_order_relaxed    /* ordered by the writer's fence */
# define awe_seq_fence( order ) atomic_thread_fence( order )
#endif

#define AWE_SEQ_MAX_TRIES  1024  /* read attempts before a reader reports -EBUSY */
#define AWE_SEQ_SPIN_TRIES 64    /* attempts that only pause the CPU; later ones also yield */

/* Writer: stores busy_value (a value readers recognise as "being written") into the sequence
 * word, and orders that store before every later store to the record.  Server only. */
static inline void awe_seq_begin_store( _Atomic uint64_t *seq, uint64_t busy_value )
{
    atomic_store_explicit( seq, busy_value, memory_order_relaxed );
    /* A release store alone would not keep the data stores that follow from becoming visible
     * before it on ARM/POWER; the release fence does: a reader whose loads see any later data
     * store, and that then issues an acquire fence, is guaranteed to see busy_value (or a later
     * value) when it reloads the sequence word. */
    awe_seq_fence( memory_order_release );
}

/* Writer: publishes value in the sequence word after every store to the record.  Server only. */
static inline void awe_seq_end_store( _Atomic uint64_t *seq, uint64_t value )
{
    /* release: orders all data stores of the record before the new sequence value, so a reader
     * that acquire-loads value sees the whole record */
    atomic_store_explicit( seq, value, memory_order_release );
}

/* Writer: opens a write section on a counter-style sequence word (even at rest, odd inside). */
static inline void awe_seq_write_begin( _Atomic uint64_t *seq )
{
    /* the server is the only writer, so its own value can be read relaxed */
    uint64_t value = atomic_load_explicit( seq, memory_order_relaxed );

    assert( !(value & 1) );
    awe_seq_begin_store( seq, value + 1 );
}

/* Writer: closes the write section opened by awe_seq_write_begin. */
static inline void awe_seq_write_end( _Atomic uint64_t *seq )
{
    uint64_t value = atomic_load_explicit( seq, memory_order_relaxed );

    assert( value & 1 );
    awe_seq_end_store( seq, value + 1 );
}

/* The server's write section for a shared record, in the shape of Wine's SHARED_WRITE_BEGIN/END:
 *     AWE_SHARED_WRITE_BEGIN( &rec->seq ) { awe_shared_store64( ... ); } AWE_SHARED_WRITE_END; */
#define AWE_SHARED_WRITE_BEGIN( seq_ptr ) \
    do { _Atomic uint64_t *awe_shared_seq_ = (seq_ptr); awe_seq_write_begin( awe_shared_seq_ );
#define AWE_SHARED_WRITE_END \
    awe_seq_write_end( awe_shared_seq_ ); } while (0)

/* Reader: returns the sequence word at the start of a read. */
static inline uint64_t awe_seq_read_begin( const _Atomic uint64_t *seq )
{
    /* acquire: the record loads that follow cannot be satisfied before this load, and see at
     * least the stores published with the value read here */
    return atomic_load_explicit( seq, memory_order_acquire );
}

/* Reader: returns non-zero when the record changed since awe_seq_read_begin returned start,
 * so the copy taken in between must be discarded. */
static inline int awe_seq_read_retry( const _Atomic uint64_t *seq, uint64_t start )
{
    /* acquire fence: orders the relaxed record loads before the reload below; if one of them
     * saw a store made after the writer's release fence, the reload sees the busy value */
    awe_seq_fence( memory_order_acquire );
    return atomic_load_explicit( seq, memory_order_relaxed ) != start;
}

/* Reader: back-off between two attempts: pause the CPU, and from AWE_SEQ_SPIN_TRIES on, give
 * the processor away in case the writer was preempted on it. */
static inline void awe_seq_relax( unsigned int attempt )
{
    if (attempt >= AWE_SEQ_SPIN_TRIES)
    {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__( "yield" ::: "memory" );
#else
    atomic_signal_fence( memory_order_seq_cst );
#endif
}

/* Copies count shared 64-bit words to private memory (atomic loads, relaxed but for TSan; use
 * inside a read section). */
static inline void awe_shared_load64( uint64_t *dst, const _Atomic uint64_t *src, size_t count )
{
    size_t i;
    for (i = 0; i < count; i++) dst[i] = atomic_load_explicit( &src[i], AWE_SHARED_LOAD_ORDER );
}

/* Copies count private 64-bit words into a shared record (atomic stores, relaxed but for TSan;
 * use inside a write section). */
static inline void awe_shared_store64( _Atomic uint64_t *dst, const uint64_t *src, size_t count )
{
    size_t i;
    for (i = 0; i < count; i++) atomic_store_explicit( &dst[i], src[i], AWE_SHARED_STORE_ORDER );
}

/* Copies count shared 32-bit words to private memory, as awe_shared_load64. */
static inline void awe_shared_load32( uint32_t *dst, const _Atomic uint32_t *src, size_t count )
{
    size_t i;
    for (i = 0; i < count; i++) dst[i] = atomic_load_explicit( &src[i], AWE_SHARED_LOAD_ORDER );
}

/* Copies count private 32-bit words into a shared record, as awe_shared_store64. */
static inline void awe_shared_store32( _Atomic uint32_t *dst, const uint32_t *src, size_t count )
{
    size_t i;
    for (i = 0; i < count; i++) atomic_store_explicit( &dst[i], src[i], AWE_SHARED_STORE_ORDER );
}

/* Reader: copies count 64-bit words of a record guarded by a counter-style sequence word into
 * dst.  Returns 0 with a consistent copy, or -EBUSY when AWE_SEQ_MAX_TRIES attempts all met a
 * write in progress (dst then holds garbage); it never spins without bound. */
static inline int awe_seq_read64( const _Atomic uint64_t *seq, uint64_t *dst,
                                  const _Atomic uint64_t *src, size_t count )
{
    unsigned int attempt;
    uint64_t start;

    for (attempt = 0; attempt < AWE_SEQ_MAX_TRIES; awe_seq_relax( attempt++ ))
    {
        if ((start = awe_seq_read_begin( seq )) & 1) continue;
        awe_shared_load64( dst, src, count );
        if (!awe_seq_read_retry( seq, start )) return 0;
    }
    return -EBUSY;
}

/* Reader: as awe_seq_read64, for a record of 32-bit words. */
static inline int awe_seq_read32( const _Atomic uint64_t *seq, uint32_t *dst,
                                  const _Atomic uint32_t *src, size_t count )
{
    unsigned int attempt;
    uint64_t start;

    for (attempt = 0; attempt < AWE_SEQ_MAX_TRIES; awe_seq_relax( attempt++ ))
    {
        if ((start = awe_seq_read_begin( seq )) & 1) continue;
        awe_shared_load32( dst, src, count );
        if (!awe_seq_read_retry( seq, start )) return 0;
    }
    return -EBUSY;
}

/* ---- slab pools over memfd --------------------------------------------------------------
 *
 * A pool is one memfd holding fixed-size slots, indexed from 0.  It grows by whole blocks at
 * the end of the file and never shrinks or moves (the memfd is sealed F_SEAL_SHRINK).  The free
 * list and the per-slot generations live in server-private memory. */

#define AWE_SLAB_SLOT_ALIGN      16u            /* slot sizes are rounded up to this */
#define AWE_SLAB_BLOCK_SIZE      (64u << 10)    /* growth unit (or the page size if larger) */
#define AWE_SLAB_MAX_BYTES       (1u << 30)     /* largest pool, in bytes */
#define AWE_SLAB_MAX_SLOTS       (1u << 24)     /* most slots in one pool */
#define AWE_SLAB_CLIENT_WRITABLE 0x1u           /* clients map the pool read-write */
#define AWE_SLAB_POISON_FRESH    0x55           /* debug builds: bytes of never-used slots */
#define AWE_SLAB_POISON_FREE     0xaa           /* debug builds: bytes of freed slots */

struct awe_slab;                /* server side: a pool, opaque */
struct awe_slab_view;           /* client side: a mapping of a pool, opaque */

/* What a client needs, besides the descriptor, to map a pool; sent over the protocol. */
struct awe_slab_geometry
{
    uint32_t slot_size;         /* bytes per slot: a multiple of AWE_SLAB_SLOT_ALIGN */
    uint32_t max_slots;         /* slots the pool may ever hold */
    uint32_t block_size;        /* growth unit in bytes: a power of two, at least a page */
    uint32_t flags;             /* AWE_SLAB_CLIENT_WRITABLE or 0 */
};

AWE_LAYOUT_SIZE( struct awe_slab_geometry, 16 );

/* Creates a pool of slots of slot_size bytes (rounded up to AWE_SLAB_SLOT_ALIGN, at most one
 * block) that may grow to max_slots slots; flags is 0 or AWE_SLAB_CLIENT_WRITABLE.  The pool
 * starts empty and grows on demand.  Returns 0 and the pool in *ret, -EINVAL for a bad size,
 * count or flag (or more than AWE_SLAB_MAX_BYTES in all), -ENOMEM, or the error of
 * memfd_create/mmap/fcntl/open. */
extern int awe_slab_create( uint32_t slot_size, uint32_t max_slots, uint32_t flags,
                            struct awe_slab **ret );

/* Unmaps and closes a pool (NULL is ignored); clients keep their own mappings. */
extern void awe_slab_destroy( struct awe_slab *slab );

/* Takes the oldest free slot (FIFO), growing the pool by a block when none is free.  Returns 0
 * with its index in *index and its server address in *slot (slot may be NULL), -ENOSPC when
 * max_slots slots are in use, -ENOMEM, or the error of fallocate. */
extern int awe_slab_alloc( struct awe_slab *slab, uint32_t *index, void **slot );

/* Returns an allocated slot to the tail of the free list.  Returns 0, or -EINVAL when index is
 * out of range or not allocated (a double free). */
extern int awe_slab_free( struct awe_slab *slab, uint32_t index );

/* Returns the server address of an allocated slot, or NULL when it is out of range or free. */
extern void *awe_slab_slot( const struct awe_slab *slab, uint32_t index );

/* Returns the generation of a slot: 0 for a slot never used, bumped on every alloc and every
 * free, so it is odd exactly while the slot is allocated. */
extern uint32_t awe_slab_generation( const struct awe_slab *slab, uint32_t index );

/* Returns the number of slots currently backed by the memfd (allocated or free). */
extern uint32_t awe_slab_capacity( const struct awe_slab *slab );

/* Returns the descriptor to hand to clients (read-only unless the pool is client-writable).
 * The pool keeps ownership; send it with SCM_RIGHTS or dup it. */
extern int awe_slab_client_fd( const struct awe_slab *slab );

/* Fills *geo with the pool's geometry, to send to clients along with the descriptor. */
extern void awe_slab_geometry( const struct awe_slab *slab, struct awe_slab_geometry *geo );

/* Returns the byte offset of a slot in the memfd (for futex words and the like). */
static inline uint64_t awe_slab_offset( const struct awe_slab_geometry *geo, uint32_t index )
{
    return (uint64_t)index * geo->slot_size;
}

/* Client: maps the pool behind fd (kept as a duplicate; the caller still owns fd) as geo
 * describes: read-only, or read-write for a client-writable pool.  Returns 0 and the view in
 * *ret, -EINVAL for a bad geometry or a descriptor that is not a sealed pool, or the error of
 * fcntl/fstat/mmap (-EACCES: a writable view of a read-only descriptor). */
extern int awe_slab_view_open( int fd, const struct awe_slab_geometry *geo,
                               struct awe_slab_view **ret );

/* Client: unmaps a view and closes its descriptor (NULL is ignored). */
extern void awe_slab_view_close( struct awe_slab_view *view );

/* Client: returns the address of slot index, or NULL when index is beyond what the server has
 * grown the pool to (learnt with fstat when the cached size is too small).  Safe to call from
 * any number of threads. */
extern const void *awe_slab_view_slot( struct awe_slab_view *view, uint32_t index );

/* Client: as awe_slab_view_slot, writable; NULL as well for a view of a read-only pool. */
extern void *awe_slab_view_slot_rw( struct awe_slab_view *view, uint32_t index );

/* Client: fills *geo with the geometry the view was opened with. */
extern void awe_slab_view_geometry( const struct awe_slab_view *view,
                                    struct awe_slab_geometry *geo );

/* ---- handle table -----------------------------------------------------------------------
 *
 * Handles are 32-bit values: bits 0-1 are the Windows tag bits (ignored, as OBJ_HANDLE_TAGBITS
 * are), bits 2-21 the entry index, bits 22-30 the generation (1..510: never 0 nor all ones),
 * bit 31 is clear.  So a handle is never 0, is positive, and never equals a pseudo-handle. */

#define AWE_HANDLE_INDEX_SHIFT 2
#define AWE_HANDLE_INDEX_BITS  20
#define AWE_HANDLE_GEN_SHIFT   (AWE_HANDLE_INDEX_SHIFT + AWE_HANDLE_INDEX_BITS)
#define AWE_HANDLE_GEN_BITS    9
#define AWE_HANDLE_GEN_MAX     ((1u << AWE_HANDLE_GEN_BITS) - 2)   /* 510 usable generations */
#define AWE_HANDLE_MAX_HANDLES (1u << AWE_HANDLE_INDEX_BITS)
#define AWE_HANDLE_TYPE_MAX    0xffffu                             /* types are 1..0xffff */
#define AWE_HANDLE_ENTRY_SIZE  64u                                 /* one cache line per entry */

/* A validated copy of a handle-table entry (also what the server publishes). */
struct awe_handle_entry
{
    awe_u64  object_id;         /* server's object id */
    uint32_t type;              /* object type, 1..AWE_HANDLE_TYPE_MAX */
    uint32_t access;            /* granted access mask */
    uint32_t attributes;        /* handle attributes (inherit, protect from close) */
    uint32_t owner_pid;         /* process the object belongs to */
    awe_u64  data[4];           /* type-specific words (e.g. a slab index of the object's state) */
};

AWE_LAYOUT_SIZE( struct awe_handle_entry, 56 );
AWE_LAYOUT_OFFSET( struct awe_handle_entry, data, 24 );

struct awe_handle_table;        /* server side, opaque */

/* Returns the handle naming entry index at generation gen (index < AWE_HANDLE_MAX_HANDLES,
 * 1 <= gen <= AWE_HANDLE_GEN_MAX). */
static inline uint32_t awe_handle_encode( uint32_t index, uint32_t gen )
{
    return (gen << AWE_HANDLE_GEN_SHIFT) | (index << AWE_HANDLE_INDEX_SHIFT);
}

/* Splits a handle into its index and generation, ignoring the tag bits.  Returns 0, or -EINVAL
 * when bit 31 is set or the generation is 0 or all ones. */
static inline int awe_handle_decode( uint32_t handle, uint32_t *index, uint32_t *gen )
{
    uint32_t g = (handle >> AWE_HANDLE_GEN_SHIFT) & ((1u << AWE_HANDLE_GEN_BITS) - 1);

    if ((handle >> 31) || !g || g > AWE_HANDLE_GEN_MAX) return -EINVAL;
    *index = (handle >> AWE_HANDLE_INDEX_SHIFT) & (AWE_HANDLE_MAX_HANDLES - 1);
    *gen = g;
    return 0;
}

/* Creates a table of up to max_handles entries (1..AWE_HANDLE_MAX_HANDLES) in its own
 * read-only-to-clients slab pool.  Returns 0 and the table in *ret, or the errors of
 * awe_slab_create. */
extern int awe_handle_table_create( uint32_t max_handles, struct awe_handle_table **ret );

/* Destroys a table (NULL is ignored); client views stay valid but see no further changes. */
extern void awe_handle_table_destroy( struct awe_handle_table *table );

/* Returns the read-only descriptor for clients; the table keeps ownership. */
extern int awe_handle_table_client_fd( const struct awe_handle_table *table );

/* Fills *geo with the geometry clients pass to awe_slab_view_open. */
extern void awe_handle_table_geometry( const struct awe_handle_table *table,
                                       struct awe_slab_geometry *geo );

/* Server: publishes a new entry (immutable until freed).  Returns 0 with the handle in *handle,
 * -EINVAL for a type outside 1..AWE_HANDLE_TYPE_MAX, -ENOSPC when the table is full, or the
 * errors of awe_slab_alloc. */
extern int awe_handle_alloc( struct awe_handle_table *table, const struct awe_handle_entry *entry,
                             uint32_t *handle );

/* Server: retires a handle; its slot is reused later with a new generation.  Returns 0,
 * -EINVAL for a malformed or out-of-range handle, or -ESTALE when it is not live. */
extern int awe_handle_free( struct awe_handle_table *table, uint32_t handle );

/* Server: copies the entry of a live handle into *entry.  Returns 0, -EINVAL for a malformed or
 * out-of-range handle, or -ESTALE when it is not live. */
extern int awe_handle_get( const struct awe_handle_table *table, uint32_t handle,
                           struct awe_handle_entry *entry );

/* Client, lock-free: copies the entry of handle, read through a view of the table, into *entry.
 * Returns 0 with a copy that was published under exactly this handle and was live during the
 * call; -EINVAL for a malformed handle, an index beyond the table, or a view of another
 * geometry; -ESTALE when the handle was closed (or reused, or never issued).  Never -EBUSY:
 * entries are immutable while live, so any change seen during the copy means the handle was
 * closed, and the lookup reports that. */
extern int awe_handle_lookup( struct awe_slab_view *view, uint32_t handle,
                              struct awe_handle_entry *entry );

#endif  /* __AWE_SHM_H */
