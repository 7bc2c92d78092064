/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hybrid sync objects: semaphore, mutex and event on a hash-checked futex word in shared memory.
 *
 * Threat model: the hash protects against buggy clients (stray writes, use after close), not
 * hostile ones; anyone can compute it.  The server never trusts a word a client can write: it
 * validates it like a client does, never uses it as an index, size or pointer, and a bad word
 * only fails operations on that one object.  See docs/sync.md. */

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include "awe/futex.h"
#include "awe/sync.h"

/* State word: data (bits 0-31) | hash (32-59) | flags (60-63). */
#define HASH_SHIFT        32
#define HASH_MASK         0x0fffffffu
#define FLAGS_SHIFT       60
#define FLAG_WAITERS      AWE_SYNC_FLAG_WAITERS
#define FLAG_NOTIFY       AWE_SYNC_FLAG_NOTIFY
#define FLAG_LOCKED       AWE_SYNC_FLAG_LOCKED
#define FLAG_CORRUPTED    AWE_SYNC_FLAG_CORRUPTED

#define FNV_BASIS         2166136261u
#define FNV_PRIME         16777619u

/* Data values.  No valid state has bit 31 set. */
#define DATA_RESERVED     0x80000000u
#define DATA_CORRUPTED    0xffffffffu   /* data of the corrupted marker */
#define DATA_DEAD         0xdeadd0deu   /* data of a retired slot */
#define MUTEX_ABANDONED   0x40000000u   /* mutex data: free, last owner died holding it */
#define EVENT_SIGNALED    0x1u          /* event data bit 0 */
#define EVENT_PULSE       0x2u          /* auto-reset event: a pulse one earlier waiter may claim */
#define EVENT_SEQ_SHIFT   2             /* bits 2-30: count of sets and pulses, wrapping */
#define EVENT_SEQ_MASK    0x1fffffffu

#define AUX_SALT          0x9e3779b9u   /* mixes the hash key into the recursion check */
#define LOCKED_SPINS      128           /* polls of a LOCKED word before sleeping on it */

/* try_grab results besides 0 and -errno */
#define GRAB_RETRY        1             /* the CAS lost: re-evaluate the fresher word */
#define GRAB_RECURSE      2             /* grab_data: the caller already owns the mutex */

/* Index of the high half (flags and hash) in the state word seen as two 32-bit words. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SLEEP_HALF 1
#else
#define SLEEP_HALF 0
#endif

static const struct awe_sync_hook *sync_hook;  /* registered server hook, or NULL */
static unsigned int sync_options;              /* AWE_SYNC_* options */
static int waitv_missing;                      /* futex_waitv returned ENOSYS once */

static __thread uint32_t self_tid __attribute__((tls_model("initial-exec")));

static void forget_tid( void )
{
    self_tid = 0;
}

/* The TID cache is per thread; a forked child's only thread has a new TID. */
static void __attribute__((constructor)) init_sync( void )
{
    pthread_atfork( NULL, NULL, forget_tid );
}

static inline uint32_t current_tid( void )
{
    if (__builtin_expect( !self_tid, 0 )) self_tid = (uint32_t)syscall( SYS_gettid );
    return self_tid;
}

/* Returns the calling thread's Linux TID, cached per thread. */
uint32_t awe_sync_self_tid( void )
{
    return current_tid();
}

static inline void cpu_relax( void )
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- the word ---------------------------------------------------------------------------- */

static inline uint32_t state_data( uint64_t w )
{
    return (uint32_t)w;
}

static inline unsigned int state_flags( uint64_t w )
{
    return (unsigned int)(w >> FLAGS_SHIFT);
}

static inline uint32_t fnv_byte( uint32_t h, uint32_t byte )
{
    return (h ^ (byte & 0xff)) * FNV_PRIME;
}

/* FNV-1a over (id, gen, flags) precomputed in ref->key, continued over the data bytes and
 * xor-folded to 28 bits. */
static inline uint32_t state_hash( struct awe_sync_ref *ref, unsigned int flags, uint32_t data )
{
    uint32_t h = ref->key[flags & 0xf];

    h = fnv_byte( h, data );
    h = fnv_byte( h, data >> 8 );
    h = fnv_byte( h, data >> 16 );
    h = fnv_byte( h, data >> 24 );
    return (h >> 28) ^ (h & HASH_MASK);
}

static inline uint64_t hash_state( struct awe_sync_ref *ref, unsigned int flags, uint32_t data )
{
    return (uint64_t)flags << FLAGS_SHIFT | (uint64_t)state_hash( ref, flags, data ) << HASH_SHIFT | data;
}

/* The memo holds whole words this reference computed or validated, each self-describing, so a
 * racing reader sees either a complete valid word or a mismatch; it is private memory and
 * only ever holds words hashed with this reference's key. */
static inline awe_u64 *memo_slot( struct awe_sync_ref *ref, unsigned int flags, uint32_t data )
{
    return &ref->memo[((data ^ (flags << 28)) * 0x9e3779b1u) >> (32 - 3)];
}

static inline uint64_t make_state( struct awe_sync_ref *ref, unsigned int flags, uint32_t data )
{
    awe_u64 *slot = memo_slot( ref, flags, data );
    /* relaxed: the memo entry is one self-checking word, nothing else is published with it */
    uint64_t w = __atomic_load_n( slot, __ATOMIC_RELAXED );

    if ((uint32_t)w == data && state_flags( w ) == flags) return w;
    w = hash_state( ref, flags, data );
    /* the memo also validates words, so it must never hold the corrupted marker */
    if (!(flags & FLAG_CORRUPTED)) __atomic_store_n( slot, w, __ATOMIC_RELAXED );
    return w;
}

/* The hint is only an expected value for a CAS: a stale one costs a failed CAS, never a wrong
 * decision (nothing but a CAS is decided from it).  It only ever holds words this reference
 * wrote. */
static inline uint64_t get_hint( struct awe_sync_ref *ref )
{
    /* relaxed: a guess, checked by the CAS */
    return __atomic_load_n( &ref->hint, __ATOMIC_RELAXED );
}

static inline void set_hint( struct awe_sync_ref *ref, uint64_t w )
{
    /* relaxed: see get_hint */
    __atomic_store_n( &ref->hint, w, __ATOMIC_RELAXED );
}

static inline uint64_t corrupted_state( struct awe_sync_ref *ref )
{
    return hash_state( ref, FLAG_CORRUPTED, DATA_CORRUPTED );
}

/* Whether w is a live state of this object: the hash matches and the data is in range. */
static int check_state( struct awe_sync_ref *ref, uint64_t w )
{
    unsigned int flags = state_flags( w );
    uint32_t data = state_data( w );

    if (((w >> HASH_SHIFT) & HASH_MASK) != state_hash( ref, flags, data )) return 0;
    if ((flags & FLAG_CORRUPTED) || (data & DATA_RESERVED)) return 0;
    switch (ref->type)
    {
    case AWE_SYNC_SEMAPHORE: if (data > ref->param) return 0; break;
    case AWE_SYNC_MUTEX:     if (data > MUTEX_ABANDONED) return 0; break;
    default:                 if ((data & EVENT_PULSE) && (ref->param & AWE_SYNC_EVENT_MANUAL)) return 0; break;
    }
    /* relaxed: see make_state */
    __atomic_store_n( memo_slot( ref, flags, data ), w, __ATOMIC_RELAXED );
    return 1;
}

/* Validates a word read from shared memory: equal to a remembered word, or checked in full. */
static inline int state_valid( struct awe_sync_ref *ref, uint64_t w )
{
    /* relaxed: see make_state */
    return __atomic_load_n( memo_slot( ref, state_flags( w ), state_data( w ) ), __ATOMIC_RELAXED ) == w ||
           check_state( ref, w );
}

/* Sleepers futex-wait on the high half (flags and hash), never on the data half: any change of
 * data or flags changes the hash, and the expected value a sleeper passes always has WAITERS or
 * LOCKED set.  So when the word still matches at futex_wait time, WAITERS (or LOCKED) is set
 * and whoever clears it wakes the half afterwards.  The data half alone would suffer ABA: a
 * mutex going from owner A to free and back to A between a waiter's check and its sleep. */
static inline uint32_t *sleep_half( struct awe_sync_shm *shm )
{
    return (uint32_t *)&shm->state + SLEEP_HALF;
}

static inline uint32_t sleep_value( uint64_t w )
{
    return (uint32_t)(w >> 32);
}

static inline void wake_sleepers( struct awe_sync_ref *ref )
{
    futex_wake( sleep_half( ref->shm ), INT_MAX, 1 );
}

static inline uint64_t load_state( struct awe_sync_ref *ref )
{
    /* acquire: pairs with the release of the CAS or store that wrote the word, so what the
     * writer did before (a mutex owner's data, the server's generation bump) is visible */
    return __atomic_load_n( &ref->shm->state, __ATOMIC_ACQUIRE );
}

static inline int cas_state( struct awe_sync_ref *ref, uint64_t *expected, uint64_t desired )
{
    /* acq_rel on success: a grab orders the caller's later accesses after the previous
     * release, a release publishes the caller's earlier writes; acquire on failure because
     * the caller goes on with the fresher word */
    return __atomic_compare_exchange_n( &ref->shm->state, expected, desired, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE );
}

static inline int generation_changed( struct awe_sync_ref *ref )
{
    /* acquire, after the acquire load of the word: a word written after the server bumped
     * the generation implies we see the bump */
    return __atomic_load_n( ref->gen_ptr, __ATOMIC_ACQUIRE ) != ref->gen;
}

/* Judges a word that failed validation (or that the caller found bad otherwise) and, unless
 * the reference is stale, replaces it by the corrupted marker so that every process sees it,
 * waking every sleeper.  A changed generation means the word belongs to a newer object in the
 * slot, which must not be touched.  Returns -ESTALE, -EUCLEAN, or 0 if the word is no longer
 * w (the caller re-reads and judges again). */
static int __attribute__((noinline)) state_fault( struct awe_sync_ref *ref, uint64_t w )
{
    uint64_t marker = corrupted_state( ref );

    if (generation_changed( ref )) return -ESTALE;
    if (w == marker) return -EUCLEAN;
    if (!cas_state( ref, &w, marker )) return 0;
    wake_sleepers( ref );
    return -EUCLEAN;
}

/* Marks the object corrupted whatever its word now holds (a bad recursion word, or a word
 * changed under a server transaction).  Returns -EUCLEAN or -ESTALE. */
static int __attribute__((noinline)) force_corrupt( struct awe_sync_ref *ref )
{
    int ret;

    while (!(ret = state_fault( ref, load_state( ref ) ))) ;
    return ret;
}

/* ---- mutex recursion word ---------------------------------------------------------------- */

static inline uint64_t make_aux( struct awe_sync_ref *ref, uint32_t count )
{
    return count | (uint64_t)(count ^ ref->aux_key) << 32;
}

static inline void store_aux( struct awe_sync_ref *ref, uint32_t count )
{
    /* relaxed: only the owner reads it, and ownership passes through the state word's CAS */
    __atomic_store_n( &ref->shm->aux, make_aux( ref, count ), __ATOMIC_RELAXED );
}

/* Reads the owner's recursion count.  Returns 0, or -EUCLEAN if the word fails its check. */
static inline int load_aux( struct awe_sync_ref *ref, uint32_t *count )
{
    uint64_t aux = __atomic_load_n( &ref->shm->aux, __ATOMIC_RELAXED );
    uint32_t c = (uint32_t)aux;

    if ((uint32_t)(aux >> 32) != (c ^ ref->aux_key) || !c || c > AWE_SYNC_RECURSION_LIMIT)
        return -EUCLEAN;
    *count = c;
    return 0;
}

static int mutex_recurse( struct awe_sync_ref *ref )
{
    uint32_t count;

    if (load_aux( ref, &count )) return force_corrupt( ref );
    if (count >= AWE_SYNC_RECURSION_LIMIT) return -EOVERFLOW;
    store_aux( ref, count + 1 );
    return 0;
}

/* ---- hook and options -------------------------------------------------------------------- */

/* Registers the server hook; see sync.h. */
void awe_sync_set_hook( const struct awe_sync_hook *hook )
{
    /* release: the callbacks and ctx are written before the pointer is published */
    __atomic_store_n( &sync_hook, hook, __ATOMIC_RELEASE );
}

static inline const struct awe_sync_hook *get_hook( void )
{
    /* acquire: pairs with awe_sync_set_hook */
    return __atomic_load_n( &sync_hook, __ATOMIC_ACQUIRE );
}

/* Sets process-wide options; see sync.h. */
void awe_sync_set_options( unsigned int options )
{
    /* relaxed: an independent flag word, read once per wait */
    __atomic_store_n( &sync_options, options, __ATOMIC_RELAXED );
}

static int waitv_usable( void )
{
    return !(__atomic_load_n( &sync_options, __ATOMIC_RELAXED ) & AWE_SYNC_NO_WAITV) &&
           !__atomic_load_n( &waitv_missing, __ATOMIC_RELAXED );
}

/* Wakes the sleepers and tells the server after a client changed an object: old is the word it
 * replaced, with the flags that say who waits. */
static inline void after_release( struct awe_sync_ref *ref, uint64_t old )
{
    const struct awe_sync_hook *hook;

    if (state_flags( old ) & FLAG_WAITERS) wake_sleepers( ref );
    if ((state_flags( old ) & FLAG_NOTIFY) && (hook = get_hook()) && hook->notify)
        hook->notify( hook->ctx, ref );
}

/* ---- references -------------------------------------------------------------------------- */

/* Builds a reference; see sync.h. */
int awe_sync_ref_init( struct awe_sync_ref *ref, struct awe_sync_shm *shm, const uint32_t *gen_ptr,
                       uint64_t id, uint32_t gen, enum awe_sync_type type, uint32_t param )
{
    uint32_t h = FNV_BASIS;
    unsigned int i;

    if (!ref || !shm || !gen_ptr || ((uintptr_t)shm & 7)) return -EINVAL;
    switch (type)
    {
    case AWE_SYNC_SEMAPHORE:
        if (!param || param > AWE_SYNC_SEMAPHORE_LIMIT) return -EINVAL;
        break;
    case AWE_SYNC_MUTEX:
        if (param) return -EINVAL;
        break;
    case AWE_SYNC_EVENT:
        if (param & ~AWE_SYNC_EVENT_MANUAL) return -EINVAL;
        break;
    default:
        return -EINVAL;
    }

    ref->shm = shm;
    ref->gen_ptr = gen_ptr;
    ref->id = id;
    ref->gen = gen;
    ref->type = type;
    ref->param = param;
    for (i = 0; i < 8; i++) h = fnv_byte( h, (uint32_t)(id >> (8 * i)) );
    for (i = 0; i < 4; i++) h = fnv_byte( h, gen >> (8 * i) );
    for (i = 0; i < 16; i++) ref->key[i] = fnv_byte( h, i );
    ref->aux_key = (h * FNV_PRIME) ^ AUX_SALT;
    ref->free_word = hash_state( ref, 0, 0 );
    ref->hint = ref->free_word;
    /* an empty entry must not match anything invalid: fill with a valid word of every type */
    for (i = 0; i < AWE_SYNC_MEMO; i++) ref->memo[i] = ref->free_word;
    return 0;
}

/* ---- waiting ----------------------------------------------------------------------------- */

struct deadline
{
    int64_t         timeout_ns;     /* as the caller gave it; negative: none */
    int             known;          /* ts is computed */
    struct timespec ts;             /* absolute CLOCK_MONOTONIC */
};

static void deadline_init( struct deadline *d, int64_t timeout_ns )
{
    d->timeout_ns = timeout_ns;
    d->known = 0;
}

/* Returns the absolute deadline, computed on first use, or NULL for none. */
static const struct timespec *deadline_get( struct deadline *d )
{
    if (d->timeout_ns < 0) return NULL;
    if (!d->known)
    {
        clock_gettime( CLOCK_MONOTONIC, &d->ts );
        d->ts.tv_sec += d->timeout_ns / 1000000000;
        d->ts.tv_nsec += d->timeout_ns % 1000000000;
        if (d->ts.tv_nsec >= 1000000000)
        {
            d->ts.tv_sec++;
            d->ts.tv_nsec -= 1000000000;
        }
        d->known = 1;
    }
    return &d->ts;
}

static inline uint32_t event_seq( uint32_t data )
{
    return (data >> EVENT_SEQ_SHIFT) & EVENT_SEQ_MASK;
}

static inline uint32_t event_next_seq( uint32_t data )
{
    return ((event_seq( data ) + 1) & EVENT_SEQ_MASK) << EVENT_SEQ_SHIFT;
}

/* Computes the data after thread tid acquires an object whose data is data.  start is the
 * data the waiter saw first: a manual-reset event set (or pulsed) since then satisfies the
 * wait even if it was reset again, and an auto-reset pulse may be claimed only by a waiter
 * that started before it.  Returns 0 or -EOWNERDEAD with *new_data, GRAB_RECURSE, or -EAGAIN
 * when the object cannot be acquired now. */
static int grab_data( struct awe_sync_ref *ref, uint32_t data, uint32_t start, uint32_t tid,
                      uint32_t *new_data )
{
    switch (ref->type)
    {
    case AWE_SYNC_SEMAPHORE:
        if (!data) return -EAGAIN;
        *new_data = data - 1;
        return 0;
    case AWE_SYNC_MUTEX:
        if (data == tid) return GRAB_RECURSE;
        if (data && data != MUTEX_ABANDONED) return -EAGAIN;
        *new_data = tid;
        return data ? -EOWNERDEAD : 0;
    default:
        if (ref->param & AWE_SYNC_EVENT_MANUAL)
        {
            if (!(data & EVENT_SIGNALED) && event_seq( data ) == event_seq( start )) return -EAGAIN;
            *new_data = data;
            return 0;
        }
        if (data & EVENT_SIGNALED)
        {
            *new_data = data & ~EVENT_SIGNALED;
            return 0;
        }
        if ((data & EVENT_PULSE) && event_seq( data ) != event_seq( start ))
        {
            *new_data = data & ~EVENT_PULSE;
            return 0;
        }
        return -EAGAIN;
    }
}

/* Tries to acquire the object whose valid, unlocked word the caller read into *w.  Returns 0,
 * -EOWNERDEAD, -EOVERFLOW or -EUCLEAN (the object was acquired, or failed), -EAGAIN (not
 * available; the caller may sleep on *w), or GRAB_RETRY with the fresher word in *w. */
static int try_grab( struct awe_sync_ref *ref, uint64_t *w, uint32_t start, uint32_t tid )
{
    uint32_t data = state_data( *w ), new_data = data;
    int ret = grab_data( ref, data, start, tid, &new_data );

    if (ret == -EAGAIN) return ret;
    if (ret == GRAB_RECURSE) return mutex_recurse( ref );
    if (new_data != data)
    {
        uint64_t desired = make_state( ref, state_flags( *w ), new_data );

        if (!cas_state( ref, w, desired )) return GRAB_RETRY;
        set_hint( ref, desired );
    }
    if (ref->type == AWE_SYNC_MUTEX) store_aux( ref, 1 );
    return ret;
}

/* How long a word may stay LOCKED before it counts as forged.  A server transaction lasts a few
 * microseconds; a word that stays LOCKED for seconds was written by a client (the hash is no
 * secret), and waiting for it would be waiting for ever. */
/* 8-aligned: read and written atomically, which on i386 needs it */
static int64_t locked_limit_ns __attribute__((aligned(8))) = AWE_SYNC_LOCKED_LIMIT_NS;

void awe_sync_set_locked_limit( int64_t ns )
{
    __atomic_store_n( &locked_limit_ns, ns, __ATOMIC_RELAXED );
}

/* Sleeps until a server transaction on the object ends: polls a little, then sleeps; the
 * server's unlock changes the word and wakes the sleepers.  *locked is the bound on the
 * transaction, started at the first LOCKED word the caller saw.  Returns 0 (reload the word),
 * -ETIMEDOUT (the caller's deadline) or -EUCLEAN (LOCKED for longer than any transaction: the
 * object is marked corrupted). */
static int wait_unlocked( struct awe_sync_ref *ref, uint64_t w, struct deadline *caller,
                          struct deadline *locked )
{
    const struct timespec *until = deadline_get( caller ), *bound;
    int i;

    for (i = 0; i < LOCKED_SPINS; i++)
    {
        cpu_relax();
        if (load_state( ref ) != w) return 0;
    }
    if (locked->timeout_ns == -2) deadline_init( locked, __atomic_load_n( &locked_limit_ns, __ATOMIC_RELAXED ) );
    bound = deadline_get( locked );
    if (until && (until->tv_sec < bound->tv_sec ||
                  (until->tv_sec == bound->tv_sec && until->tv_nsec < bound->tv_nsec)))
        return futex_wait( sleep_half( ref->shm ), sleep_value( w ), until, 1 ) == -ETIMEDOUT ? -ETIMEDOUT : 0;
    if (futex_wait( sleep_half( ref->shm ), sleep_value( w ), bound, 1 ) == -ETIMEDOUT &&
        load_state( ref ) == w)
        return force_corrupt( ref );
    return 0;
}

/* A bound for wait_unlocked, started at its first use. */
static void locked_bound_init( struct deadline *locked )
{
    locked->timeout_ns = -2;
    locked->known = 0;
}

/* The wait loop for one object, from the word w already read.  Returns as awe_sync_wait. */
static int wait_one( struct awe_sync_ref *ref, uint64_t w, int64_t timeout_ns )
{
    uint32_t tid = current_tid(), start = 0;
    int started = 0, timed_out = 0, ret;
    struct deadline deadline, locked;
    uint64_t armed;

    deadline_init( &deadline, timeout_ns );
    locked_bound_init( &locked );
    for (;;)
    {
        if (!state_valid( ref, w ))
        {
            if ((ret = state_fault( ref, w ))) return ret;
            w = load_state( ref );
            continue;
        }
        if (!started)
        {
            start = state_data( w );
            started = 1;
        }
        if (state_flags( w ) & FLAG_LOCKED)
        {
            if (timed_out) return -ETIMEDOUT;
            if ((ret = wait_unlocked( ref, w, &deadline, &locked )) == -EUCLEAN) return ret;
            if (ret) timed_out = 1;
            w = load_state( ref );
            continue;
        }
        ret = try_grab( ref, &w, start, tid );
        if (ret == GRAB_RETRY) continue;
        if (ret != -EAGAIN) return ret;
        if (timed_out || !timeout_ns) return -ETIMEDOUT;

        if (!(state_flags( w ) & FLAG_WAITERS))
        {
            armed = make_state( ref, state_flags( w ) | FLAG_WAITERS, state_data( w ) );
            if (!cas_state( ref, &w, armed )) continue;
            w = armed;
        }
        if (futex_wait( sleep_half( ref->shm ), sleep_value( w ), deadline_get( &deadline ), 1 ) == -ETIMEDOUT)
            timed_out = 1;
        w = load_state( ref );
    }
}

/* Waits for one object; see sync.h. */
int awe_sync_wait( struct awe_sync_ref *ref, int64_t timeout_ns )
{
    uint64_t w, desired;
    uint32_t data;

    if (!ref) return -EINVAL;
    if (ref->type == AWE_SYNC_MUTEX)
    {
        /* the common case, a free mutex without flags, needs no read: a CAS from the known
         * free word both validates and takes it */
        w = ref->free_word;
        if (cas_state( ref, &w, make_state( ref, 0, current_tid() ) ))
        {
            store_aux( ref, 1 );
            return 0;
        }
        return wait_one( ref, w, timeout_ns );
    }
    if (ref->type == AWE_SYNC_SEMAPHORE || !(ref->param & AWE_SYNC_EVENT_MANUAL))
    {
        /* a grab is a CAS, so try it from the hint before reading anything: success proves
         * the word was the hint, a valid word without flags.  "Not available" from a hint
         * proves nothing, and a manual-reset event's wait is a read anyway */
        w = get_hint( ref );
        data = state_data( w );
        if (!state_flags( w ) && (ref->type == AWE_SYNC_SEMAPHORE ? data : data & EVENT_SIGNALED))
        {
            desired = make_state( ref, 0, ref->type == AWE_SYNC_SEMAPHORE ? data - 1 : data & ~EVENT_SIGNALED );
            if (cas_state( ref, &w, desired ))
            {
                set_hint( ref, desired );
                return 0;
            }
            return wait_one( ref, w, timeout_ns );
        }
    }
    return wait_one( ref, load_state( ref ), timeout_ns );
}

static int object_result( int ret )
{
    return ret != -ETIMEDOUT && ret != -EINVAL && ret != -ENOSYS && ret != -EAGAIN;
}

static int check_refs( struct awe_sync_ref *const *refs, unsigned int count, int distinct )
{
    unsigned int i, j;

    if (!refs || !count || count > AWE_SYNC_MAX_WAIT) return -EINVAL;
    for (i = 0; i < count; i++)
    {
        if (!refs[i]) return -EINVAL;
        if (!distinct) continue;
        for (j = 0; j < i; j++) if (refs[j]->shm == refs[i]->shm) return -EINVAL;
    }
    return 0;
}

static int wait_any_hook( struct awe_sync_ref *const *refs, unsigned int count,
                          struct deadline *deadline, unsigned int *index )
{
    const struct awe_sync_hook *hook = get_hook();

    if (!hook || !hook->wait_any) return -ENOSYS;
    return hook->wait_any( hook->ctx, refs, count, current_tid(),
                           deadline_get( deadline ), index );
}

/* Waits for any of several objects; see sync.h. */
int awe_sync_wait_any( struct awe_sync_ref *const *refs, unsigned int count,
                       int64_t timeout_ns, unsigned int *index )
{
    struct futex_waiter waiters[AWE_SYNC_MAX_WAIT];
    uint32_t start[AWE_SYNC_MAX_WAIT], tid;
    uint64_t seen[AWE_SYNC_MAX_WAIT], started = 0, w, armed;
    struct deadline deadline;
    int timed_out = 0, ret;
    unsigned int i;

    if (!index) return -EINVAL;
    *index = count;
    if ((ret = check_refs( refs, count, 0 ))) return ret;
    if (count == 1)
    {
        ret = awe_sync_wait( refs[0], timeout_ns );
        if (object_result( ret )) *index = 0;
        return ret;
    }
    deadline_init( &deadline, timeout_ns );
    if (!waitv_usable()) return wait_any_hook( refs, count, &deadline, index );

    tid = current_tid();
    for (;;)
    {
rescan:
        for (i = 0; i < count; i++)
        {
            w = load_state( refs[i] );
            for (;;)
            {
                if (!state_valid( refs[i], w ))
                {
                    if ((ret = state_fault( refs[i], w )))
                    {
                        *index = i;
                        return ret;
                    }
                    w = load_state( refs[i] );
                    continue;
                }
                if (!(started & (1ull << i)))
                {
                    start[i] = state_data( w );
                    started |= 1ull << i;
                }
                if (state_flags( w ) & FLAG_LOCKED) break;
                ret = try_grab( refs[i], &w, start[i], tid );
                if (ret == GRAB_RETRY) continue;
                if (ret != -EAGAIN)
                {
                    *index = i;
                    return ret;
                }
                break;
            }
            seen[i] = w;
        }
        if (timed_out || !timeout_ns) return -ETIMEDOUT;

        for (i = 0; i < count; i++)
        {
            w = seen[i];
            if (!(state_flags( w ) & (FLAG_WAITERS | FLAG_LOCKED)))
            {
                armed = make_state( refs[i], state_flags( w ) | FLAG_WAITERS, state_data( w ) );
                if (!cas_state( refs[i], &w, armed )) goto rescan;
                w = armed;
            }
            futex_waiter_init( &waiters[i], sleep_half( refs[i]->shm ), sleep_value( w ), 1 );
        }
        ret = futex_waitv( waiters, count, deadline_get( &deadline ) );
        if (ret == -ENOSYS)
        {
            __atomic_store_n( &waitv_missing, 1, __ATOMIC_RELAXED );
            return wait_any_hook( refs, count, &deadline, index );
        }
        if (ret == -ETIMEDOUT) timed_out = 1;
    }
}

/* Waits for all of several objects through the hook; see sync.h. */
int awe_sync_wait_all( struct awe_sync_ref *const *refs, unsigned int count,
                       int64_t timeout_ns, unsigned int *index )
{
    const struct awe_sync_hook *hook = get_hook();
    struct deadline deadline;
    int ret;

    if (!index) return -EINVAL;
    *index = count;
    if ((ret = check_refs( refs, count, 1 ))) return ret;
    if (!hook || !hook->wait_all) return -ENOSYS;
    deadline_init( &deadline, timeout_ns );
    return hook->wait_all( hook->ctx, refs, count, current_tid(), deadline_get( &deadline ),
                           index );
}

/* ---- releasing --------------------------------------------------------------------------- */

/* Reads a valid word that no server transaction holds.  Returns 0 with *w, or -EUCLEAN,
 * -ESTALE. */
static int load_unlocked( struct awe_sync_ref *ref, uint64_t *w )
{
    struct deadline none, locked;
    int ret;

    deadline_init( &none, -1 );
    locked_bound_init( &locked );
    for (;;)
    {
        if (!state_valid( ref, *w ))
        {
            if ((ret = state_fault( ref, *w ))) return ret;
        }
        else if (!(state_flags( *w ) & FLAG_LOCKED)) return 0;
        else if ((ret = wait_unlocked( ref, *w, &none, &locked ))) return ret;
        *w = load_state( ref );
    }
}

/* Adds to a semaphore; see sync.h. */
int awe_semaphore_release( struct awe_sync_ref *ref, uint32_t count, uint32_t *prev )
{
    uint64_t w, desired;
    uint32_t data;
    int ret, hinted = 1;

    if (!ref || ref->type != AWE_SYNC_SEMAPHORE || !count) return -EINVAL;
    /* from the hint, as in awe_sync_wait: nobody to wake if the CAS proves there were no flags */
    w = get_hint( ref );
    data = state_data( w );
    if (!state_flags( w ) && count <= ref->param - data)
    {
        desired = make_state( ref, 0, data + count );
        if (cas_state( ref, &w, desired ))
        {
            set_hint( ref, desired );
            if (prev) *prev = data;
            return 0;
        }
        hinted = 0;
    }
    for (;;)
    {
        if ((ret = load_unlocked( ref, &w ))) return ret;
        data = state_data( w );
        if (count > ref->param - data)
        {
            if (hinted)
            {
                hinted = 0;
                w = load_state( ref );
                continue;
            }
            if (prev) *prev = data;
            return -EOVERFLOW;
        }
        desired = make_state( ref, state_flags( w ) & ~FLAG_WAITERS, data + count );
        if (cas_state( ref, &w, desired )) break;
        hinted = 0;
    }
    set_hint( ref, desired );
    if (prev) *prev = data;
    after_release( ref, w );
    return 0;
}

/* Releases one level of a mutex; see sync.h. */
int awe_mutex_release( struct awe_sync_ref *ref, uint32_t *prev )
{
    uint32_t tid = current_tid(), count;
    unsigned int flags;
    uint64_t w;
    int ret;

    if (!ref || ref->type != AWE_SYNC_MUTEX) return -EINVAL;
    /* the common case, owned once by us without flags, needs no read: a CAS from the word
     * that says so both validates and frees it (the recursion word is only believed once the
     * CAS proved we own the mutex) */
    if (!load_aux( ref, &count ) && count == 1)
    {
        w = make_state( ref, 0, tid );
        if (cas_state( ref, &w, ref->free_word ))
        {
            if (prev) *prev = 1;
            return 0;
        }
    }
    else w = load_state( ref );
    for (;;)
    {
        if ((ret = load_unlocked( ref, &w ))) return ret;
        if (state_data( w ) != tid) return -EPERM;
        if (load_aux( ref, &count )) return force_corrupt( ref );
        if (count > 1)
        {
            store_aux( ref, count - 1 );
            if (prev) *prev = count;
            return 0;
        }
        flags = state_flags( w ) & ~FLAG_WAITERS;
        if (cas_state( ref, &w, flags ? make_state( ref, flags, 0 ) : ref->free_word )) break;
    }
    if (prev) *prev = 1;
    after_release( ref, w );
    return 0;
}

/* Signals an event; see sync.h. */
int awe_event_set( struct awe_sync_ref *ref, uint32_t *prev )
{
    uint64_t w, desired;
    int ret, hinted = 1;
    uint32_t data;

    if (!ref || ref->type != AWE_SYNC_EVENT) return -EINVAL;
    w = get_hint( ref );
    data = state_data( w );
    if (!state_flags( w ) && !(data & EVENT_SIGNALED) && !(ref->param & AWE_SYNC_EVENT_MANUAL))
    {
        desired = make_state( ref, 0, (data & ~EVENT_PULSE) | EVENT_SIGNALED );
        if (cas_state( ref, &w, desired ))
        {
            set_hint( ref, desired );
            if (prev) *prev = 0;
            return 0;
        }
        hinted = 0;
    }
    for (;;)
    {
        if ((ret = load_unlocked( ref, &w ))) return ret;
        data = state_data( w );
        if (data & EVENT_SIGNALED)
        {
            if (hinted)
            {
                hinted = 0;
                w = load_state( ref );
                continue;
            }
            if (prev) *prev = 1;
            return 0;
        }
        /* manual reset: a new sequence number, so waiters that started before see the set even
         * if a reset follows before they run.  Auto reset: a waiter must consume the signal
         * anyway, and a pending pulse merges into the set */
        if (ref->param & AWE_SYNC_EVENT_MANUAL) data = event_next_seq( data ) | EVENT_SIGNALED;
        else data = (data & ~EVENT_PULSE) | EVENT_SIGNALED;
        desired = make_state( ref, state_flags( w ) & ~FLAG_WAITERS, data );
        if (cas_state( ref, &w, desired )) break;
        hinted = 0;
    }
    set_hint( ref, desired );
    if (prev) *prev = 0;
    after_release( ref, w );
    return 0;
}

/* Makes an event non-signaled; see sync.h. */
int awe_event_reset( struct awe_sync_ref *ref, uint32_t *prev )
{
    uint32_t data;
    uint64_t w;
    int ret;

    if (!ref || ref->type != AWE_SYNC_EVENT) return -EINVAL;
    w = load_state( ref );
    for (;;)
    {
        if ((ret = load_unlocked( ref, &w ))) return ret;
        data = state_data( w );
        if (!(data & EVENT_SIGNALED)) break;
        if (cas_state( ref, &w, make_state( ref, state_flags( w ), data & ~EVENT_SIGNALED ) )) break;
    }
    if (prev) *prev = data & EVENT_SIGNALED;
    return 0;
}

/* PulseEvent through the hook; see sync.h. */
int awe_event_pulse( struct awe_sync_ref *ref, uint32_t *prev )
{
    const struct awe_sync_hook *hook = get_hook();

    if (!ref || ref->type != AWE_SYNC_EVENT) return -EINVAL;
    if (!hook || !hook->pulse_event) return -ENOSYS;
    return hook->pulse_event( hook->ctx, ref, prev );
}

/* Reports the state of an object; see sync.h. */
int awe_sync_query( struct awe_sync_ref *ref, struct awe_sync_info *info )
{
    uint32_t data, count;
    uint64_t w;
    int ret;

    if (!ref || !info) return -EINVAL;
    w = load_state( ref );
    while (!state_valid( ref, w ))
    {
        if ((ret = state_fault( ref, w ))) return ret;
        w = load_state( ref );
    }
    data = state_data( w );
    info->type = ref->type;
    info->max = ref->param;
    info->owner = 0;
    info->abandoned = 0;
    info->flags = state_flags( w );
    switch (ref->type)
    {
    case AWE_SYNC_SEMAPHORE:
        info->count = data;
        break;
    case AWE_SYNC_MUTEX:
        info->abandoned = data == MUTEX_ABANDONED;
        info->owner = info->abandoned ? 0 : data;
        info->count = info->owner ? 1 : 0;
        if (info->owner && !load_aux( ref, &count )) info->count = count;
        break;
    default:
        info->count = data & EVENT_SIGNALED;
        break;
    }
    return 0;
}

/* The word of a valid object; see sync.h. */
uint64_t awe_sync_state_word( struct awe_sync_ref *ref, unsigned int flags, uint32_t data )
{
    return hash_state( ref, flags & 0xf, data );
}

/* Reports a thread's end to the server; see sync.h. */
int awe_sync_abandon_thread( uint32_t tid )
{
    const struct awe_sync_hook *hook = get_hook();

    if (!tid || tid >= MUTEX_ABANDONED) return -EINVAL;
    if (!hook || !hook->abandon_thread) return -ENOSYS;
    return hook->abandon_thread( hook->ctx, tid );
}

/* ---- server side ------------------------------------------------------------------------- */

/* Creates an object's state; see sync.h. */
int awe_sync_create( struct awe_sync_ref *ref, uint32_t initial )
{
    uint32_t data;

    if (!ref) return -EINVAL;
    switch (ref->type)
    {
    case AWE_SYNC_SEMAPHORE:
        if (initial > ref->param) return -EINVAL;
        data = initial;
        break;
    case AWE_SYNC_MUTEX:
        if (initial >= MUTEX_ABANDONED) return -EINVAL;
        data = initial;
        __atomic_store_n( &ref->shm->aux, initial ? make_aux( ref, 1 ) : 0, __ATOMIC_RELAXED );
        break;
    default:
        if (initial > 1) return -EINVAL;
        data = initial ? EVENT_SIGNALED : 0;
        break;
    }
    /* WAITERS from the start: a sleeper of an older object in this slot that went to sleep
     * just now, on a value equal to ours, is woken (and sees -ESTALE) at the first change.
     * release: the generation bump and the aux word are visible before the state */
    __atomic_store_n( &ref->shm->state, make_state( ref, FLAG_WAITERS, data ), __ATOMIC_RELEASE );
    return 0;
}

/* Kills a retired object's word; see sync.h. */
void awe_sync_retire( struct awe_sync_ref *ref )
{
    uint64_t dead = hash_state( ref, 0, DATA_DEAD ) ^ ((uint64_t)1 << HASH_SHIFT);

    /* release: pairs with the clients' acquire load, so whoever sees the dead word also sees
     * the generation the server bumped before */
    __atomic_store_n( &ref->shm->state, dead, __ATOMIC_RELEASE );
    wake_sleepers( ref );
}

/* Starts a transaction: sets LOCKED.  Returns 0 with the locked word in *locked, or -EUCLEAN,
 * -ESTALE. */
static int lock_object( struct awe_sync_ref *ref, uint64_t *locked )
{
    uint64_t w = load_state( ref ), desired;
    int ret;

    for (;;)
    {
        if (!state_valid( ref, w ))
        {
            if ((ret = state_fault( ref, w ))) return ret;
            w = load_state( ref );
            continue;
        }
        /* transactions never overlap, so a LOCKED word here was written by a client */
        if (state_flags( w ) & FLAG_LOCKED)
        {
            if ((ret = state_fault( ref, w ))) return ret;
            w = load_state( ref );
            continue;
        }
        desired = make_state( ref, state_flags( w ) | FLAG_LOCKED, state_data( w ) );
        if (cas_state( ref, &w, desired ))
        {
            *locked = desired;
            return 0;
        }
    }
}

/* Ends a transaction: writes data and flags, LOCKED cleared (and WAITERS too if the data
 * changed), and wakes the sleepers, who re-check.  Returns 0, or -EUCLEAN, -ESTALE if the word
 * changed under LOCKED (only a stray write or a retire can do that). */
static int unlock_object( struct awe_sync_ref *ref, uint64_t locked, unsigned int flags,
                          uint32_t data )
{
    uint64_t w = locked;

    if (data != state_data( locked )) flags &= ~FLAG_WAITERS;
    if (!cas_state( ref, &w, make_state( ref, flags & ~FLAG_LOCKED, data ) )) return force_corrupt( ref );
    wake_sleepers( ref );
    return 0;
}

static int unlock_unchanged( struct awe_sync_ref *ref, uint64_t locked, unsigned int add_flags )
{
    return unlock_object( ref, locked, state_flags( locked ) | add_flags, state_data( locked ) );
}

/* Decides a server-side grab of a locked object for thread tid.  Returns 0 or -EOWNERDEAD
 * with the new data and recursion count (*count 0: not a mutex), -EAGAIN, -EOVERFLOW or
 * -EUCLEAN (a bad recursion word). */
static int server_grab( struct awe_sync_ref *ref, uint64_t locked, uint32_t tid,
                        uint32_t *new_data, uint32_t *count )
{
    uint32_t data = state_data( locked );
    int ret;

    *count = 0;
    *new_data = data;
    ret = grab_data( ref, data, data, tid, new_data );
    if (ret == GRAB_RECURSE)
    {
        if (load_aux( ref, count )) return -EUCLEAN;
        if (*count >= AWE_SYNC_RECURSION_LIMIT) return -EOVERFLOW;
        (*count)++;
        return 0;
    }
    if (ret != -EAGAIN && ref->type == AWE_SYNC_MUTEX) *count = 1;
    return ret;
}

static int server_wait_any( struct awe_sync_ref *const *refs, unsigned int count,
                            uint32_t tid, unsigned int *index )
{
    uint32_t data, recursion;
    unsigned int i;
    uint64_t locked;
    int ret, err;

    for (i = 0; i < count; i++)
    {
        if ((ret = lock_object( refs[i], &locked ))) goto done;
        ret = server_grab( refs[i], locked, tid, &data, &recursion );
        if (ret == -EAGAIN)
        {
            if ((ret = unlock_unchanged( refs[i], locked, FLAG_NOTIFY ))) goto done;
            continue;
        }
        if (ret == -EUCLEAN) data = DATA_CORRUPTED;
        else if (ret && ret != -EOWNERDEAD) data = state_data( locked );
        else if (recursion) store_aux( refs[i], recursion );
        err = unlock_object( refs[i], locked,
                             ret == -EUCLEAN ? FLAG_CORRUPTED : state_flags( locked ), data );
        if (err) ret = err;
        goto done;
    }
    return -EAGAIN;

done:
    *index = i;
    return ret;
}

static int server_wait_all( struct awe_sync_ref *const *refs, unsigned int count,
                            uint32_t tid, unsigned int *index )
{
    uint32_t data[AWE_SYNC_MAX_WAIT], recursion[AWE_SYNC_MAX_WAIT];
    unsigned int order[AWE_SYNC_MAX_WAIT], i, j, n, bad = count, abandoned = count;
    uint64_t locked[AWE_SYNC_MAX_WAIT];
    int ret = 0, missing = 0, r;

    /* lock in address order, the rule every transaction over several objects follows */
    for (i = 0; i < count; i++)
    {
        for (j = i; j > 0 && refs[order[j - 1]]->shm > refs[i]->shm; j--) order[j] = order[j - 1];
        order[j] = i;
    }
    for (n = 0; n < count; n++)
    {
        if ((ret = lock_object( refs[order[n]], &locked[order[n]] )))
        {
            bad = order[n];
            break;
        }
    }
    for (j = 0; j < n && bad == count; j++)
    {
        i = order[j];
        r = server_grab( refs[i], locked[i], tid, &data[i], &recursion[i] );
        if (r == -EAGAIN) missing = 1;
        else if (r == -EOWNERDEAD) abandoned = i < abandoned ? i : abandoned;
        else if (r)
        {
            ret = r;
            bad = i;
        }
    }

    if (bad < count || missing)
    {
        for (j = 0; j < n; j++)
        {
            i = order[j];
            if (i == bad && ret == -EUCLEAN) r = unlock_object( refs[i], locked[i], FLAG_CORRUPTED, DATA_CORRUPTED );
            else r = unlock_unchanged( refs[i], locked[i], bad < count ? 0 : FLAG_NOTIFY );
            if (r && bad == count)
            {
                ret = r;
                bad = i;
            }
        }
        *index = bad;
        return bad < count ? ret : -EAGAIN;
    }

    for (j = 0; j < count; j++)
    {
        i = order[j];
        if (recursion[i]) store_aux( refs[i], recursion[i] );
        if ((r = unlock_object( refs[i], locked[i], state_flags( locked[i] ), data[i] )) && bad == count)
        {
            ret = r;
            bad = i;
        }
    }
    if (bad < count)
    {
        *index = bad;
        return ret;
    }
    *index = abandoned;
    return abandoned < count ? -EOWNERDEAD : 0;
}

/* One attempt of a server-side wait; see sync.h. */
int awe_sync_server_wait( struct awe_sync_ref *const *refs, unsigned int count,
                          uint32_t tid, int all, unsigned int *index )
{
    int ret;

    if (!index) return -EINVAL;
    *index = count;
    if ((ret = check_refs( refs, count, all ))) return ret;
    if (!tid || tid >= MUTEX_ABANDONED) return -EINVAL;
    return all ? server_wait_all( refs, count, tid, index ) : server_wait_any( refs, count, tid, index );
}

/* Clears NOTIFY; see sync.h. */
int awe_sync_server_clear_notify( struct awe_sync_ref *ref )
{
    uint64_t locked;
    int ret;

    if (!ref) return -EINVAL;
    if ((ret = lock_object( ref, &locked ))) return ret;
    return unlock_object( ref, locked, state_flags( locked ) & ~FLAG_NOTIFY, state_data( locked ) );
}

/* The word-level PulseEvent; see sync.h. */
int awe_sync_server_pulse( struct awe_sync_ref *ref, uint32_t *prev )
{
    uint32_t data;
    uint64_t locked;
    int ret;

    if (!ref || ref->type != AWE_SYNC_EVENT) return -EINVAL;
    if ((ret = lock_object( ref, &locked ))) return ret;
    data = state_data( locked );
    if (prev) *prev = data & EVENT_SIGNALED;
    /* signaled: nobody waits, so a pulse is a reset.  Otherwise a new sequence number
     * releases every earlier waiter of a manual-reset event; an auto-reset event gets a pulse
     * token that one of them claims, and that later waiters cannot */
    if (data & EVENT_SIGNALED) data &= ~EVENT_SIGNALED;
    else if (ref->param & AWE_SYNC_EVENT_MANUAL) data = event_next_seq( data );
    else data = event_next_seq( data ) | EVENT_PULSE;
    return unlock_object( ref, locked, state_flags( locked ), data );
}

/* Abandons a dead thread's mutex; see sync.h. */
int awe_mutex_abandon( struct awe_sync_ref *ref, uint32_t tid )
{
    uint64_t locked;
    int ret;

    if (!ref || ref->type != AWE_SYNC_MUTEX || !tid || tid >= MUTEX_ABANDONED) return -EINVAL;
    if ((ret = lock_object( ref, &locked ))) return ret;
    if (state_data( locked ) != tid) return unlock_unchanged( ref, locked, 0 );
    if ((ret = unlock_object( ref, locked, state_flags( locked ), MUTEX_ABANDONED ))) return ret;
    return 1;
}
