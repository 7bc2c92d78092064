/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzing what is read from shared memory someone else wrote: handle-table lookups through a
 * client view, frame-table bits, and hybrid sync words, the server's transactions included.
 *
 * The harness owns every pool (it plays the server) and writes the input's bytes into them;
 * every call must return, within bounded time (all timeouts are zero), with one of the results
 * its contract lists, and what it returns is checked against the layouts of docs/design.md
 * section 8 computed independently here: a lookup succeeds exactly for a live tag of the
 * handle's generation and copies the slot's words; -EUCLEAN leaves the corrupted marker in
 * the word; -ESTALE means the generation changed; after any other result the word is valid. */

#include <errno.h>
#include <sys/mman.h>
#include "awe/protocol.h"
#include "awe/shm.h"
#include "awe/sync.h"
#include "fuzz/fuzz.h"


#define SLOT_WORDS ((int)(AWE_HANDLE_ENTRY_SIZE / 8))
#define SYNC_ID    0x5eed0000ull        /* object i has id SYNC_ID + i */

static struct
{
    struct awe_slab       *handles;     /* the handle table's pool, written by us */
    struct awe_slab_view  *view;        /* the client's view of it */
    _Atomic uint64_t      *base;        /* our mapping of the pool: slot i at base + 8 i */
    uint32_t               allocated;   /* slots allocated, in index order (FIFO from fresh) */
    uint8_t                dirty[FUZZ_SHM_SLOTS];  /* written by the current input */
    struct awe_slab       *big;         /* a pool of one slot per block, to grow under a view */
    struct awe_slab_view  *big_view;
    struct awe_frame_table *table;
    struct awe_slab       *sync;        /* client-writable pool of the sync objects */
    struct awe_sync_shm   *shm[FUZZ_SHM_OBJECTS];
    uint32_t               gen[FUZZ_SHM_OBJECTS];  /* authoritative generations */
    struct awe_sync_ref    ref[FUZZ_SHM_OBJECTS];
} h;

static const struct { enum awe_sync_type type; uint32_t param; } objects[FUZZ_SHM_OBJECTS] =
{
    { AWE_SYNC_SEMAPHORE, 3 }, { AWE_SYNC_SEMAPHORE, AWE_SYNC_SEMAPHORE_LIMIT },
    { AWE_SYNC_MUTEX, 0 }, { AWE_SYNC_MUTEX, 0 },
    { AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL }, { AWE_SYNC_EVENT, 0 },
};

/* ---- the handle table ----------------------------------------------------------------------- */

/* Allocates slots up to count (a slot of a server-written pool must be allocated before we
 * write it: the debug build checks that free slots keep their poison). */
static void allocate_slots( uint32_t count )
{
    uint32_t index;
    void *ptr;

    while (h.allocated < count)
    {
        FUZZ_CHECK( !awe_slab_alloc( h.handles, &index, &ptr ) && index == h.allocated, "slab alloc" );
        if (!index) h.base = ptr;
        h.allocated++;
    }
}

static _Atomic uint64_t *slot_words( uint32_t index )
{
    return h.base + (size_t)index * SLOT_WORDS;
}

static void open_handle_table( void )
{
    struct awe_slab_geometry geo;

    FUZZ_CHECK( !awe_slab_create( AWE_HANDLE_ENTRY_SIZE, FUZZ_SHM_SLOTS, 0, &h.handles ), "slab" );
    h.allocated = 0;
    allocate_slots( 1 );   /* the first block exists from the start */
    awe_slab_geometry( h.handles, &geo );
    FUZZ_CHECK( !awe_slab_view_open( awe_slab_client_fd( h.handles ), &geo, &h.view ), "view" );
}

/* The pool that grows: one slot per block, so that growing costs one allocation. */
static void open_big( void )
{
    struct awe_slab_geometry geo;
    uint32_t index;

    FUZZ_CHECK( !awe_slab_create( AWE_SLAB_BLOCK_SIZE, 4, 0, &h.big ), "slab" );
    FUZZ_CHECK( !awe_slab_alloc( h.big, &index, NULL ), "slab alloc" );
    awe_slab_geometry( h.big, &geo );
    FUZZ_CHECK( !awe_slab_view_open( awe_slab_client_fd( h.big ), &geo, &h.big_view ), "view" );
}

/* Grows the big pool to count slots, then checks what the view (opened before) resolves: a
 * slot inside the file, none beyond. */
static void grow( uint32_t count )
{
    uint32_t i, index;

    while (awe_slab_capacity( h.big ) < count)
        FUZZ_CHECK( !awe_slab_alloc( h.big, &index, NULL ), "slab alloc" );
    for (i = 0; i <= 4; i++)
        FUZZ_CHECK( !awe_slab_view_slot( h.big_view, i ) == (i >= awe_slab_capacity( h.big )),
                    "slot %u of %u", i, awe_slab_capacity( h.big ) );
}

/* Every slot the input wrote goes back to zero (a dead tag); a grown pool is made anew. */
static void reset_handle_table( void )
{
    uint32_t i, j;

    if (awe_slab_capacity( h.big ) > 1)
    {
        awe_slab_view_close( h.big_view );
        awe_slab_destroy( h.big );
        open_big();
    }
    for (i = 0; i < h.allocated; i++)
    {
        if (!h.dirty[i]) continue;
        for (j = 0; j < (uint32_t)SLOT_WORDS; j++) atomic_store_explicit( &slot_words( i )[j], 0, memory_order_relaxed );
        h.dirty[i] = 0;
    }
}

/* The handle generation a live tag's slab generation stands for (design.md 8.1). */
static uint32_t handle_gen( uint32_t slab_gen )
{
    return (slab_gen >> 1) % AWE_HANDLE_GEN_MAX + 1;
}

/* Looks a handle up and checks the answer against the slot, decoded here from design.md 8.1. */
static void lookup( uint32_t handle )
{
    struct awe_handle_entry entry;
    uint32_t gen = (handle >> AWE_HANDLE_GEN_SHIFT) & ((1u << AWE_HANDLE_GEN_BITS) - 1);
    uint32_t index = (handle >> AWE_HANDLE_INDEX_SHIFT) & (AWE_HANDLE_MAX_HANDLES - 1);
    uint64_t words[SLOT_WORDS], tag;
    int ret, expect, j;

    memset( &entry, 0xcc, sizeof(entry) );
    ret = awe_handle_lookup( h.view, handle, &entry );
    if ((handle >> 31) || !gen || gen > AWE_HANDLE_GEN_MAX || index >= awe_slab_capacity( h.handles ))
    {
        FUZZ_CHECK( ret == -EINVAL, "handle %08x: %d, not -EINVAL", handle, ret );
        return;
    }
    for (j = 0; j < SLOT_WORDS; j++) words[j] = atomic_load( &slot_words( index )[j] );
    tag = words[0];
    expect = (tag & 0xffff) && !(tag >> 48) && ((tag >> 16) & 1) && handle_gen( (uint32_t)(tag >> 16) ) == gen
             ? 0 : -ESTALE;
    FUZZ_CHECK( ret == expect, "handle %08x, tag %016llx: %d, expected %d", handle,
                (unsigned long long)tag, ret, expect );
    if (ret) return;
    FUZZ_CHECK( entry.type == (tag & 0xffff) && entry.object_id == words[1] &&
                entry.access == (uint32_t)words[2] && entry.attributes == (uint32_t)(words[2] >> 32) &&
                entry.owner_pid == (uint32_t)words[3] && entry.data[0] == words[4] &&
                entry.data[1] == words[5] && entry.data[2] == words[6] && entry.data[3] == words[7],
                "handle %08x: the entry is not the slot's", handle );
}

static void write_slot( uint32_t index, const uint64_t *words, int count )
{
    int j;

    index %= 64;   /* the first slots: allocating is what costs */
    allocate_slots( index + 1 );
    for (j = 0; j < count; j++) atomic_store_explicit( &slot_words( index )[j], words[j], memory_order_release );
    h.dirty[index] = 1;
}

/* ---- sync objects --------------------------------------------------------------------------- */

static void open_sync( void )
{
    uint32_t index;
    void *ptr;
    int i;

    FUZZ_CHECK( !awe_slab_create( sizeof(struct awe_sync_shm), FUZZ_SHM_OBJECTS,
                                  AWE_SLAB_CLIENT_WRITABLE, &h.sync ), "sync pool" );
    for (i = 0; i < FUZZ_SHM_OBJECTS; i++)
    {
        FUZZ_CHECK( !awe_slab_alloc( h.sync, &index, &ptr ), "sync slot" );
        h.shm[i] = ptr;
    }
}

/* Every object starts the input afresh: its generation, a new reference, its initial state. */
static void reset_sync( int signaled )
{
    int i;

    for (i = 0; i < FUZZ_SHM_OBJECTS; i++)
    {
        uint32_t initial = 0;

        h.gen[i] = 2 * (uint32_t)i + 1;
        FUZZ_CHECK( !awe_sync_ref_init( &h.ref[i], h.shm[i], &h.gen[i], SYNC_ID + (uint64_t)i, h.gen[i],
                                        objects[i].type, objects[i].param ), "ref" );
        if (signaled)
            initial = objects[i].type == AWE_SYNC_MUTEX ? awe_sync_self_tid() :
                      objects[i].type == AWE_SYNC_SEMAPHORE ? 1 : 1;
        FUZZ_CHECK( !awe_sync_create( &h.ref[i], initial ), "create" );
    }
}

static uint64_t word_of( int i )
{
    return atomic_load( (_Atomic uint64_t *)&h.shm[i]->state );
}

/* Whether w is a valid state of object i by design.md 8.2: hash, range, CORRUPTED clear. */
static int word_valid( int i, uint64_t w )
{
    unsigned int flags = (unsigned int)(w >> 60);
    uint32_t data = (uint32_t)w;

    if (w != fuzz_sync_word( SYNC_ID + (uint64_t)i, h.ref[i].gen, flags, data )) return 0;
    if ((flags & AWE_SYNC_FLAG_CORRUPTED) || (data & 0x80000000u)) return 0;
    switch (objects[i].type)
    {
    case AWE_SYNC_SEMAPHORE: return data <= objects[i].param;
    case AWE_SYNC_MUTEX:     return data <= 0x40000000u;
    default:                 return !((data & 2) && (objects[i].param & AWE_SYNC_EVENT_MANUAL));
    }
}

static uint64_t corrupted_marker( int i )
{
    return fuzz_sync_word( SYNC_ID + (uint64_t)i, h.ref[i].gen, AWE_SYNC_FLAG_CORRUPTED, 0xffffffffu );
}

/* Checks an operation's result against what it left in object i's word. */
static void check_result( int i, int ret, const char *op )
{
    uint64_t w = word_of( i );

    FUZZ_CHECK( ret <= 0 || (ret == 1 && !strcmp( op, "abandon" )), "%s: %d", op, ret );
    switch (ret)
    {
    case -ESTALE:
        FUZZ_CHECK( h.gen[i] != h.ref[i].gen, "%s on object %d: -ESTALE, generation unchanged", op, i );
        break;
    case -EUCLEAN:
        /* a stale reference never writes, so only a current one leaves the marker */
        FUZZ_CHECK( h.gen[i] != h.ref[i].gen || w == corrupted_marker( i ),
                    "%s on object %d: -EUCLEAN, word %016llx", op, i, (unsigned long long)w );
        break;
    case -EINVAL:
    case -ENOSYS:
        break;
    default:
        FUZZ_CHECK( ret == 0 || ret == 1 || ret == -ETIMEDOUT || ret == -EOWNERDEAD || ret == -EPERM ||
                    ret == -EOVERFLOW || ret == -EAGAIN, "%s on object %d: %d", op, i, ret );
        /* nothing was found wrong: the word is one of the object's states */
        FUZZ_CHECK( h.gen[i] != h.ref[i].gen || word_valid( i, w ),
                    "%s on object %d: %d, invalid word %016llx", op, i, ret, (unsigned long long)w );
        break;
    }
}

/* Whether object i holds a word with LOCKED set that is valid for its reference (whatever the
 * current generation: a reference only looks at the generation when a word fails). */
static int is_locked( int i )
{
    uint64_t w = word_of( i );

    return ((w >> 60) & AWE_SYNC_FLAG_LOCKED) && word_valid( i, w );
}

/* ---- the server hook: what the server would do, at once (all timeouts are zero) ---------- */

static unsigned int notifications;

static int hook_wait( struct awe_sync_ref *const *refs, unsigned int count, uint32_t tid, int all,
                      unsigned int *index )
{
    int ret = awe_sync_server_wait( refs, count, tid, all, index );

    if (ret == -EAGAIN)
    {
        *index = count;
        return -ETIMEDOUT;
    }
    return ret;
}

static int hook_wait_all( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                          uint32_t tid, const struct timespec *deadline, unsigned int *index )
{
    return hook_wait( refs, count, tid, 1, index );
}

static int hook_wait_any( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                          uint32_t tid, const struct timespec *deadline, unsigned int *index )
{
    return hook_wait( refs, count, tid, 0, index );
}

static int hook_pulse( void *ctx, struct awe_sync_ref *ref, uint32_t *prev )
{
    return awe_sync_server_pulse( ref, prev );
}

static int hook_abandon( void *ctx, uint32_t tid )
{
    int i, ret;

    for (i = 0; i < FUZZ_SHM_OBJECTS; i++)
        if (objects[i].type == AWE_SYNC_MUTEX && (ret = awe_mutex_abandon( &h.ref[i], tid )) < 0 &&
            ret != -EUCLEAN && ret != -ESTALE)
            return ret;
    return 0;
}

static void hook_notify( void *ctx, struct awe_sync_ref *ref )
{
    notifications++;
}

static const struct awe_sync_hook hook =
{
    hook_wait_all, hook_wait_any, hook_pulse, hook_abandon, hook_notify, NULL
};

static unsigned int pick_objects( uint32_t mask, struct awe_sync_ref **refs, int distinct, int *first )
{
    unsigned int n = 0;
    int i;

    *first = -1;
    for (i = 0; i < FUZZ_SHM_OBJECTS; i++)
    {
        if (!(mask & (1u << i))) continue;
        if (*first < 0) *first = i;
        refs[n++] = &h.ref[i];
    }
    /* duplicates (bits 8-13 name objects again) test the wait-all check */
    for (i = 0; !distinct && i < FUZZ_SHM_OBJECTS; i++) if (mask & (0x100u << i)) refs[n++] = &h.ref[i];
    return n;
}

static void sync_op( int i, uint8_t op, uint32_t arg )
{
    struct awe_sync_ref *ref = &h.ref[i], *refs[2 * FUZZ_SHM_OBJECTS];
    struct awe_sync_info info;
    unsigned int index, n, k;
    int locked[FUZZ_SHM_OBJECTS];
    uint32_t prev;
    int ret, first;

    switch (op % FUZZ_SHM_SYNC_OPS)
    {
    case FUZZ_SHM_WAIT:
        check_result( i, awe_sync_wait( ref, 0 ), "wait" );
        break;
    case FUZZ_SHM_RELEASE:
        if (objects[i].type == AWE_SYNC_MUTEX) ret = awe_mutex_release( ref, &prev );
        else ret = awe_semaphore_release( ref, arg % 8, &prev );
        check_result( i, ret, "release" );
        break;
    case FUZZ_SHM_SET:
        check_result( i, awe_event_set( ref, &prev ), "set" );
        break;
    case FUZZ_SHM_RESET:
        check_result( i, awe_event_reset( ref, &prev ), "reset" );
        break;
    case FUZZ_SHM_QUERY:
        memset( &info, 0xcc, sizeof(info) );
        ret = awe_sync_query( ref, &info );
        check_result( i, ret, "query" );
        if (ret) break;
        FUZZ_CHECK( info.type == objects[i].type && !(info.flags & AWE_SYNC_FLAG_CORRUPTED) &&
                    (info.type != AWE_SYNC_SEMAPHORE || info.count <= objects[i].param),
                    "query of object %d: type %u, count %u, flags %x", i, info.type, info.count, info.flags );
        break;
    case FUZZ_SHM_WAIT_ANY:
        n = pick_objects( arg, refs, 0, &first );
        ret = awe_sync_wait_any( refs, n, 0, &index );
        FUZZ_CHECK( index <= n, "wait-any index %u of %u", index, n );
        if (index < n) check_result( (int)(refs[index] - h.ref), ret, "wait-any" );
        else FUZZ_CHECK( ret == -ETIMEDOUT || ret == -EINVAL || ret == -ENOSYS, "wait-any: %d", ret );
        break;
    case FUZZ_SHM_SERVER_WAIT_ANY:
    case FUZZ_SHM_SERVER_WAIT_ALL:
        /* the server's transactions over words that clients write */
        n = pick_objects( arg, refs, 0, &first );
        for (k = 0; k < FUZZ_SHM_OBJECTS; k++) locked[k] = is_locked( (int)k );
        ret = awe_sync_server_wait( refs, n, (arg >> 16) ? arg >> 16 : awe_sync_self_tid(),
                                    op % FUZZ_SHM_SYNC_OPS == FUZZ_SHM_SERVER_WAIT_ALL, &index );
        FUZZ_CHECK( index <= n, "server wait index %u of %u", index, n );
        if (index < n) check_result( (int)(refs[index] - h.ref), ret, "server wait" );
        /* a transaction never leaves LOCKED behind (a client may have forged it before) */
        for (k = 0; k < FUZZ_SHM_OBJECTS; k++)
            FUZZ_CHECK( locked[k] || !is_locked( (int)k ), "server wait: %d, object %u left LOCKED", ret, k );
        break;
    case FUZZ_SHM_PULSE:
        check_result( i, awe_sync_server_pulse( ref, &prev ), "pulse" );
        break;
    case FUZZ_SHM_ABANDON:
        check_result( i, awe_mutex_abandon( ref, arg ? arg : awe_sync_self_tid() ), "abandon" );
        break;
    case FUZZ_SHM_CLEAR_NOTIFY:
        check_result( i, awe_sync_server_clear_notify( ref ), "clear notify" );
        break;
    case FUZZ_SHM_WAIT_ALL:
        n = pick_objects( arg, refs, 0, &first );
        ret = awe_sync_wait_all( refs, n, 0, &index );
        FUZZ_CHECK( index <= n, "wait-all index %u of %u", index, n );
        if (index < n) check_result( (int)(refs[index] - h.ref), ret, "wait-all" );
        else FUZZ_CHECK( ret <= 0, "wait-all: %d", ret );
        break;
    case FUZZ_SHM_CLIENT_PULSE:
        check_result( i, awe_event_pulse( ref, &prev ), "pulse event" );
        break;
    case FUZZ_SHM_ABANDON_THREAD:
        ret = awe_sync_abandon_thread( arg ? arg : awe_sync_self_tid() );
        FUZZ_CHECK( ret == 0 || ret == -EINVAL || ret == -ENOSYS, "abandon thread: %d", ret );
        break;
    case FUZZ_SHM_RETIRE:
        /* the server closes the object: a new generation first, then the dead word */
        h.gen[i]++;
        awe_sync_retire( ref );
        break;
    }
}

/* ---- the harness -------------------------------------------------------------------------- */

int LLVMFuzzerInitialize( int *argc, char ***argv )
{
    fuzz_quiet_stderr();
    /* a forged LOCKED word is found out at once, not after the default seconds */
    awe_sync_set_locked_limit( 0 );
    open_handle_table();
    open_big();
    open_sync();
    h.table = calloc( 1, sizeof(*h.table) + FUZZ_SHM_FRAMES / 8 );
    FUZZ_CHECK( h.table, "frame table" );
    fuzz_start_fds();
    return 0;
}

int LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
    struct fuzz_input in = { data, size, 0 };
    uint8_t cfg = fuzz_u8( &in );
    int ops;

    reset_handle_table();
    reset_sync( cfg & FUZZ_SHM_CFG_SIGNALED );
    awe_sync_set_hook( cfg & FUZZ_SHM_CFG_HOOK ? &hook : NULL );
    memset( h.table, 0, sizeof(*h.table) + FUZZ_SHM_FRAMES / 8 );
    for (ops = 0; ops < FUZZ_SHM_MAX_OPS && fuzz_more( &in ); ops++)
    {
        uint64_t words[SLOT_WORDS];
        uint32_t index, value;
        uint8_t obj, flags;
        int i, b;

        switch (fuzz_u8( &in ) % FUZZ_SHM_OPS)
        {
        case FUZZ_SHM_HANDLE_BYTES:
            index = fuzz_u16( &in );
            for (i = 0; i < SLOT_WORDS; i++) words[i] = fuzz_u64( &in );
            write_slot( index, words, SLOT_WORDS );
            break;
        case FUZZ_SHM_HANDLE_TAG:
            index = fuzz_u16( &in );
            words[0] = fuzz_u16( &in );
            words[0] |= (uint64_t)fuzz_u32( &in ) << 16;
            write_slot( index, words, 1 );
            break;
        case FUZZ_SHM_LOOKUP:
            lookup( fuzz_u32( &in ) );
            break;
        case FUZZ_SHM_LOOKUP_SLOT:
            index = fuzz_u16( &in ) % (FUZZ_SHM_SLOTS + 64);
            value = fuzz_u32( &in );
            lookup( awe_handle_encode( index, handle_gen( value ) ) | (fuzz_u8( &in ) & 3) );
            break;
        case FUZZ_SHM_GROW:
            grow( fuzz_u8( &in ) % 4 + 1 );
            break;
        case FUZZ_SHM_FRAME_BITS:
            index = fuzz_u8( &in ) % (FUZZ_SHM_FRAMES / 64);
            words[0] = fuzz_u64( &in );
            atomic_store_explicit( &h.table->bits[index], words[0], memory_order_release );
            for (b = 0; b < 64; b++)
                FUZZ_CHECK( awe_frame_table_test( h.table, index * 64 + (uint32_t)b ) == (int)((words[0] >> b) & 1),
                            "frame %u", index * 64 + b );
            break;
        case FUZZ_SHM_SYNC_RAW:
            obj = fuzz_u8( &in ) % FUZZ_SHM_OBJECTS;
            atomic_store( (_Atomic uint64_t *)&h.shm[obj]->state, fuzz_u64( &in ) );
            atomic_store( (_Atomic uint64_t *)&h.shm[obj]->aux, fuzz_u64( &in ) );
            break;
        case FUZZ_SHM_SYNC_FORGE:
            obj = fuzz_u8( &in ) % FUZZ_SHM_OBJECTS;
            flags = fuzz_u8( &in ) & 0xf;
            value = fuzz_u32( &in );
            if (value == FUZZ_SHM_SELF_TID) value = awe_sync_self_tid();
            atomic_store( (_Atomic uint64_t *)&h.shm[obj]->state,
                          fuzz_sync_word( SYNC_ID + obj, h.gen[obj], flags, value ) );
            break;
        case FUZZ_SHM_SYNC_GEN:
            obj = fuzz_u8( &in ) % FUZZ_SHM_OBJECTS;
            h.gen[obj] = fuzz_u32( &in );
            break;
        case FUZZ_SHM_SYNC_OP:
            obj = fuzz_u8( &in ) % FUZZ_SHM_OBJECTS;
            flags = fuzz_u8( &in );
            sync_op( obj, flags, fuzz_u32( &in ) );
            break;
        }
    }
    fuzz_check_fds( 256 );
    return 0;
}
