/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hybrid sync objects in shared memory: semaphore, mutex and event on one hash-checked futex word.
 *
 * Each object is a 16-byte struct awe_sync_shm in memory shared between the server and its
 * clients.  Its state word holds 32 bits of data, 4 flag bits and a 28-bit FNV-1a hash keyed
 * with the object's id and generation; every operation checks the hash, so a word scribbled
 * by a buggy client is detected and reported (-EUCLEAN) by every process, never followed.
 * Uncontended operations are one compare-and-swap; sleeping uses shared futexes.  What user
 * space cannot do exactly (wait-all, PulseEvent, abandoning a dead owner's mutexes, and
 * wait-any without futex_waitv) goes through the server hook.  Threat model: the hash protects
 * against buggy clients, not hostile ones; the server never trusts anything a client can write.
 * See docs/sync.md for the word layout, the hash input and the memory-ordering rules.
 *
 * Convention: every function returns 0 (or a documented non-negative value) on success and
 * -errno on failure, and leaves errno alone.  The errors common to all object operations:
 *   -EUCLEAN    the object is corrupted (sticky: every later operation, in every process, too)
 *   -ESTALE     the object was closed and its slot reused: this reference is stale
 *   -ETIMEDOUT  the wait timed out (a timeout of 0 polls)
 *   -EINVAL     bad argument (NULL, wrong object type, count of 0 ...)
 *   -ENOSYS     the operation needs the server hook and none is registered
 * and the object-specific ones:
 *   -EOVERFLOW  semaphore released above its maximum, or mutex recursion above its limit
 *   -EPERM      mutex released by a thread that does not own it
 *   -EOWNERDEAD the wait acquired a mutex whose previous owner died holding it (the caller now
 *               owns it, as with WAIT_ABANDONED)
 * Timeouts are relative, in nanoseconds; AWE_SYNC_INFINITE (any negative value) waits forever. */

#ifndef __AWE_SYNC_H
#define __AWE_SYNC_H

#include <stdint.h>
#include <time.h>
#include "layout.h"

enum awe_sync_type
{
    AWE_SYNC_SEMAPHORE = 1,
    AWE_SYNC_MUTEX     = 2,
    AWE_SYNC_EVENT     = 3,
};

#define AWE_SYNC_INFINITE         (-1)          /* timeout: wait forever */
#define AWE_SYNC_MAX_WAIT         64            /* objects in one wait (MAXIMUM_WAIT_OBJECTS) */
#define AWE_SYNC_SEMAPHORE_LIMIT  0x7fffffffu   /* largest semaphore maximum (LONG_MAX) */
#define AWE_SYNC_RECURSION_LIMIT  0x7fffffffu   /* deepest mutex recursion */
#define AWE_SYNC_EVENT_MANUAL     1             /* event param: manual reset (0: auto reset) */

/* Flag bits of the state word (bits 60-63), reported by awe_sync_query. */
#define AWE_SYNC_FLAG_WAITERS     0x1           /* a client sleeps on the data half: wake on change */
#define AWE_SYNC_FLAG_NOTIFY      0x2           /* the server waits on this object: tell it on change */
#define AWE_SYNC_FLAG_LOCKED      0x4           /* a server transaction holds the object */
#define AWE_SYNC_FLAG_CORRUPTED   0x8           /* corruption was detected (sticky) */

/* Options for awe_sync_set_options. */
#define AWE_SYNC_NO_WAITV         0x1           /* do not use futex_waitv: wait-any goes to the hook */

/* One object in shared memory.  The slab hands out 16-byte, 16-aligned slots; the words are
 * 8-aligned on i386 too, so 32-bit clients share them (and their atomics stay lock-free). */
struct awe_sync_shm
{
    awe_u64  state;                 /* data (bits 0-31) | hash (32-59) | flags (60-63) */
    awe_u64  aux;                   /* mutex: recursion count and its check, written by the owner */
};

AWE_LAYOUT_SIZE( struct awe_sync_shm, 16 );
AWE_LAYOUT_OFFSET( struct awe_sync_shm, aux, 8 );

#define AWE_SYNC_MEMO             8             /* words remembered by a reference */

/* A process's reference to an object: what the server said about it when the handle was
 * opened, plus a small memo of state words it has computed or validated and the word it last
 * wrote, so that the fast paths compare words instead of hashing them and CAS without reading
 * first.  Private memory, built by awe_sync_ref_init; operations update only the memo and
 * the hint (atomically), so threads may share one reference.  A copy is an independent
 * reference to the same object.  The words threads share are awe_u64, so that their atomic
 * accesses stay atomic on i386 too. */
struct awe_sync_ref
{
    struct awe_sync_shm *shm;       /* the object's shared words */
    const uint32_t      *gen_ptr;   /* the slot's authoritative generation (server-written) */
    uint64_t             id;        /* object id, as the server numbered it */
    uint32_t             gen;       /* generation of the slot this reference was made for */
    uint32_t             type;      /* enum awe_sync_type */
    uint32_t             param;     /* semaphore maximum, or AWE_SYNC_EVENT_MANUAL for events */
    uint32_t             aux_key;   /* check pattern of the mutex recursion word */
    uint64_t             free_word; /* mutex: the state word when free with no flags */
    uint32_t             key[16];   /* FNV-1a state after (id, gen, flags), for each flags value */
    awe_u64              hint;      /* the last word this reference wrote: the next CAS expects it */
    awe_u64              memo[AWE_SYNC_MEMO];  /* valid words of this object, by data and flags */
};

/* What awe_sync_query reports. */
struct awe_sync_info
{
    uint32_t type;                  /* enum awe_sync_type */
    uint32_t count;                 /* semaphore count; mutex recursion (0 free); event signaled */
    uint32_t max;                   /* semaphore maximum; event: AWE_SYNC_EVENT_MANUAL or 0 */
    uint32_t owner;                 /* mutex owner's Linux TID, 0 if none */
    uint32_t abandoned;             /* mutex: abandoned and not yet acquired again */
    uint32_t flags;                 /* AWE_SYNC_FLAG_* set in the word */
};

/* The server hook: what the client runtime registers so that operations that user space
 * cannot do exactly reach the server.  The server issue wires these to requests; the unit
 * tests provide an in-process implementation.  Deadlines are absolute CLOCK_MONOTONIC, NULL
 * for none; tid is the calling thread; results follow the conventions above, with *index
 * set as for awe_sync_wait_any. */
struct awe_sync_hook
{
    int  (*wait_all)( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                      uint32_t tid, const struct timespec *deadline, unsigned int *index );
                                    /* wait until every object can be acquired, then acquire all */
    int  (*wait_any)( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                      uint32_t tid, const struct timespec *deadline, unsigned int *index );
                                    /* wait-any when futex_waitv is unavailable */
    int  (*pulse_event)( void *ctx, struct awe_sync_ref *ref, uint32_t *prev );
                                    /* PulseEvent */
    int  (*abandon_thread)( void *ctx, uint32_t tid );
                                    /* thread tid is gone: abandon the mutexes it owns */
    void (*notify)( void *ctx, struct awe_sync_ref *ref );
                                    /* a client changed an object that has NOTIFY set */
    void  *ctx;                     /* passed to every callback */
};

/* ---- client side ------------------------------------------------------------------------- */

/* Builds a reference from what the server reported: shm and the generation pointer of the
 * slot, the object's id and generation, its type and its param (semaphore maximum 1 to
 * AWE_SYNC_SEMAPHORE_LIMIT; AWE_SYNC_EVENT_MANUAL or 0 for events; 0 for mutexes).  Returns 0
 * or -EINVAL; does not touch shared memory. */
extern int awe_sync_ref_init( struct awe_sync_ref *ref, struct awe_sync_shm *shm,
                              const uint32_t *gen_ptr, uint64_t id, uint32_t gen,
                              enum awe_sync_type type, uint32_t param );

/* Waits for one object and acquires it: takes a semaphore unit, owns a mutex (recursively if
 * already owned), consumes an auto-reset event.  Returns 0, -EOWNERDEAD (acquired an abandoned
 * mutex), -ETIMEDOUT, -EOVERFLOW (recursion limit), -EUCLEAN, -ESTALE, -EINVAL. */
extern int awe_sync_wait( struct awe_sync_ref *ref, int64_t timeout_ns );

/* Waits until any of count (1 to AWE_SYNC_MAX_WAIT) objects can be acquired and acquires the
 * one with the lowest index.  Returns as awe_sync_wait; *index is always written: the object
 * acquired or at fault, or count on timeout and argument errors.  Uses futex_waitv, or the
 * hook's wait_any where the kernel lacks it. */
extern int awe_sync_wait_any( struct awe_sync_ref *const *refs, unsigned int count,
                              int64_t timeout_ns, unsigned int *index );

/* Waits until all count objects can be acquired at once, then acquires all of them, through
 * the hook.  The same object twice is -EINVAL.  Returns as awe_sync_wait_any (-EOWNERDEAD
 * with the index of an abandoned mutex). */
extern int awe_sync_wait_all( struct awe_sync_ref *const *refs, unsigned int count,
                              int64_t timeout_ns, unsigned int *index );

/* Adds count (at least 1) to a semaphore and wakes waiters.  *prev (may be NULL) gets the
 * count before, also with -EOVERFLOW (count unchanged).  Returns 0, -EOVERFLOW, -EINVAL,
 * -EUCLEAN, -ESTALE. */
extern int awe_semaphore_release( struct awe_sync_ref *ref, uint32_t count, uint32_t *prev );

/* Releases one level of a mutex the calling thread owns; the last level frees it and wakes a
 * waiter.  *prev (may be NULL) gets the recursion count before.  Returns 0, -EPERM (not the
 * owner), -EINVAL, -EUCLEAN, -ESTALE. */
extern int awe_mutex_release( struct awe_sync_ref *ref, uint32_t *prev );

/* Signals an event and wakes its waiters.  *prev (may be NULL) gets the previous state. */
extern int awe_event_set( struct awe_sync_ref *ref, uint32_t *prev );

/* Makes an event non-signaled.  *prev (may be NULL) gets the previous state. */
extern int awe_event_reset( struct awe_sync_ref *ref, uint32_t *prev );

/* PulseEvent through the hook: releases the threads waiting now (one of them for an
 * auto-reset event) and leaves the event non-signaled.  -ENOSYS without a hook. */
extern int awe_event_pulse( struct awe_sync_ref *ref, uint32_t *prev );

/* Reports an object's state without changing it.  The recursion count of a mutex is exact
 * for its owner and a best guess for other threads. */
extern int awe_sync_query( struct awe_sync_ref *ref, struct awe_sync_info *info );

/* Returns the state word a valid object of ref holds with these flags and data.  The hash is
 * no secret (see the threat model in docs/design.md): tests and the chaos suite use this to
 * write the well-formed states a hostile client could forge, LOCKED included. */
extern uint64_t awe_sync_state_word( struct awe_sync_ref *ref, unsigned int flags, uint32_t data );

/* Tells the server, through the hook, that thread tid has ended so it abandons the mutexes
 * that thread still owns.  Returns the hook's result, or -ENOSYS. */
extern int awe_sync_abandon_thread( uint32_t tid );

/* Registers the server hook (NULL removes it).  The structure must stay valid while
 * registered; register before other threads use the objects. */
extern void awe_sync_set_hook( const struct awe_sync_hook *hook );

/* Sets AWE_SYNC_* options for the process (tests, and kernels with a broken futex_waitv). */
extern void awe_sync_set_options( unsigned int options );

/* A word that stays LOCKED (a server transaction) for longer than this is taken as forged:
 * the object is marked corrupted and the operation fails with -EUCLEAN, instead of waiting
 * for ever.  The default is AWE_SYNC_LOCKED_LIMIT_NS; tests and fuzzers lower it. */
#define AWE_SYNC_LOCKED_LIMIT_NS (2 * 1000000000ll)
extern void awe_sync_set_locked_limit( int64_t ns );

/* Returns the calling thread's Linux TID, the owner value mutexes record (cached; fork-safe). */
extern uint32_t awe_sync_self_tid( void );

/* ---- server side: object lifetime and transactions ---------------------------------------
 * A transaction sets LOCKED on the object, so no client changes it meanwhile, and is done by
 * one thread of the server at a time (the server is single-threaded); finding LOCKED already
 * set means a client forged it, and the object is marked corrupted.  Clients are told of every
 * change that can satisfy them (their futexes are woken). */

/* Writes the initial state of a new object into ref->shm: semaphore count, mutex owner TID
 * (0 for none; recursion 1 otherwise), or event signaled state (0 or 1).  The server bumps the
 * slot's generation before building ref.  Returns 0 or -EINVAL. */
extern int awe_sync_create( struct awe_sync_ref *ref, uint32_t initial );

/* Kills an object whose slot's generation the server has already bumped: writes a dead word
 * and wakes every sleeper, who then sees -ESTALE.  ref is the reference of the old generation. */
extern void awe_sync_retire( struct awe_sync_ref *ref );

/* One attempt of a server-side wait for thread tid: under transactions on all the objects,
 * acquires all of them (all != 0) or the first that can be acquired (all == 0).  If that is
 * not possible, sets NOTIFY on every object so that the next change calls the hook's notify,
 * and returns -EAGAIN.  Otherwise returns as awe_sync_wait_any. */
extern int awe_sync_server_wait( struct awe_sync_ref *const *refs, unsigned int count,
                                 uint32_t tid, int all, unsigned int *index );

/* Clears NOTIFY on an object once the server has no waiter left on it. */
extern int awe_sync_server_clear_notify( struct awe_sync_ref *ref );

/* The word-level PulseEvent: releases the client threads that were waiting when it runs (all
 * of them for a manual-reset event, one for an auto-reset one) and leaves the event
 * non-signaled.  The hook implementation satisfies its own queued waiters around it. */
extern int awe_sync_server_pulse( struct awe_sync_ref *ref, uint32_t *prev );

/* Abandons a mutex if thread tid owns it: the next wait acquires it with -EOWNERDEAD.
 * Returns 1 if it was abandoned, 0 if tid did not own it, or -errno. */
extern int awe_mutex_abandon( struct awe_sync_ref *ref, uint32_t tid );

#endif  /* __AWE_SYNC_H */
