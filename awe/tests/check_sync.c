/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the hybrid sync objects, within one process, across threads and across forks.
 *
 * The objects live in a MAP_SHARED arena inherited by forked children, with a generation per
 * slot standing in for the server's table.  The server hook is an in-process stand-in for the
 * server: its transactions are serialised by a futex lock in the arena (the real server is one
 * thread), and server-side waiters sleep on a notify counter that the hook's notify bumps. */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "awe/futex.h"
#include "awe/sync.h"
#include "awe_check.h"

#define NSLOTS      72
#define MAX_CHILD   8
#define SEC         1000000000ll
#define MS          1000000ll

/* The stand-in server's state, shared by every test process. */
struct test_server
{
    uint32_t lock;                  /* 0 free, 1 held, 2 held with sleepers */
    uint32_t notify_seq;            /* bumped and woken by notify */
    uint32_t notifies;              /* notify calls */
    uint32_t wait_all_calls;        /* hook calls, by kind */
    uint32_t wait_any_calls;
    uint32_t pulse_calls;
    unsigned int nmutexes;          /* mutexes that abandon_thread looks at */
    struct awe_sync_ref *mutexes[8];
};

struct arena
{
    struct awe_sync_shm slots[NSLOTS];      /* the objects */
    uint32_t            gens[NSLOTS];       /* authoritative generation of each slot */
    uint32_t            published[NSLOTS];  /* generation clients may open (the handle table) */
    struct awe_sync_ref refs[NSLOTS];       /* the parent's references, read by children */
    struct test_server  server;
    uint32_t            counter;            /* protected by the object under test */
    uint32_t            turn;               /* scratch shared words */
    uint32_t            stop;
    uint32_t            ready;
    uint32_t            taken[2];
    int32_t             results[MAX_CHILD];
    uint32_t            tids[MAX_CHILD];
};

static struct arena *arena;
static struct awe_sync_hook test_hook;

static int64_t iters( int64_t n )
{
    return awe_test_slow_tool() ? (n / 10 ? n / 10 : 1) : n;
}

static int64_t now_ns( void )
{
    struct timespec ts;

    clock_gettime( CLOCK_MONOTONIC, &ts );
    return ts.tv_sec * SEC + ts.tv_nsec;
}

static void sleep_ms( long ms )
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep( &ts, NULL );
}

/* Waits for an object that is certain to be signaled soon.  A lost wake-up would show up as
 * a wait that only succeeds by its final re-scan after the timeout, so a wait that reaches its
 * deadline is reported as -ETIME.  Returns 0 or the error. */
static int wait_soon( struct awe_sync_ref *ref )
{
    int64_t start = now_ns();
    int ret = awe_sync_wait( ref, 10 * SEC );

    if (!ret && now_ns() - start >= 10 * SEC) ret = -ETIME;
    return ret;
}

/* ---- the stand-in server ----------------------------------------------------------------- */

static void server_lock( struct test_server *s )
{
    uint32_t c = 0;

    /* acquire: the transactions of successive holders are ordered */
    if (__atomic_compare_exchange_n( &s->lock, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED )) return;
    if (c != 2) c = __atomic_exchange_n( &s->lock, 2, __ATOMIC_ACQUIRE );
    while (c)
    {
        futex_wait( &s->lock, 2, NULL, 1 );
        c = __atomic_exchange_n( &s->lock, 2, __ATOMIC_ACQUIRE );
    }
}

static void server_unlock( struct test_server *s )
{
    /* release: publishes the transaction to the next holder */
    if (__atomic_exchange_n( &s->lock, 0, __ATOMIC_RELEASE ) == 2) futex_wake( &s->lock, 1, 1 );
}

static void server_kick( struct test_server *s )
{
    /* release: a waiter that reads the new sequence also sees the change that caused it */
    __atomic_add_fetch( &s->notify_seq, 1, __ATOMIC_RELEASE );
    futex_wake( &s->notify_seq, INT_MAX, 1 );
}

static int server_wait( struct test_server *s, struct awe_sync_ref *const *refs,
                        unsigned int count, uint32_t tid, const struct timespec *deadline,
                        unsigned int *index, int all )
{
    uint32_t seq;
    int ret;

    for (;;)
    {
        /* acquire: read before the attempt, so a notify after it changes the value */
        seq = __atomic_load_n( &s->notify_seq, __ATOMIC_ACQUIRE );
        server_lock( s );
        ret = awe_sync_server_wait( refs, count, tid, all, index );
        server_unlock( s );
        if (ret != -EAGAIN) return ret;
        if (futex_wait( &s->notify_seq, seq, deadline, 1 ) == -ETIMEDOUT)
        {
            *index = count;
            return -ETIMEDOUT;
        }
    }
}

static int hook_wait_all( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                          uint32_t tid, const struct timespec *deadline, unsigned int *index )
{
    struct test_server *s = ctx;

    __atomic_add_fetch( &s->wait_all_calls, 1, __ATOMIC_RELAXED );
    return server_wait( s, refs, count, tid, deadline, index, 1 );
}

static int hook_wait_any( void *ctx, struct awe_sync_ref *const *refs, unsigned int count,
                          uint32_t tid, const struct timespec *deadline, unsigned int *index )
{
    struct test_server *s = ctx;

    __atomic_add_fetch( &s->wait_any_calls, 1, __ATOMIC_RELAXED );
    return server_wait( s, refs, count, tid, deadline, index, 0 );
}

static int hook_pulse_event( void *ctx, struct awe_sync_ref *ref, uint32_t *prev )
{
    struct test_server *s = ctx;
    int ret;

    __atomic_add_fetch( &s->pulse_calls, 1, __ATOMIC_RELAXED );
    server_lock( s );
    ret = awe_sync_server_pulse( ref, prev );
    server_unlock( s );
    server_kick( s );
    return ret;
}

static int hook_abandon_thread( void *ctx, uint32_t tid )
{
    struct test_server *s = ctx;
    unsigned int i;
    int ret, count = 0;

    server_lock( s );
    for (i = 0; i < s->nmutexes; i++)
    {
        if ((ret = awe_mutex_abandon( s->mutexes[i], tid )) > 0) count++;
    }
    server_unlock( s );
    server_kick( s );
    return count;
}

static void hook_notify( void *ctx, struct awe_sync_ref *ref )
{
    struct test_server *s = ctx;

    __atomic_add_fetch( &s->notifies, 1, __ATOMIC_RELAXED );
    server_kick( s );
}

/* Abandons a mutex as the server does when it sees its owner die. */
static int server_abandon( struct awe_sync_ref *ref, uint32_t tid )
{
    int ret;

    server_lock( &arena->server );
    ret = awe_mutex_abandon( ref, tid );
    server_unlock( &arena->server );
    server_kick( &arena->server );
    return ret;
}

static void setup( void )
{
    arena = mmap( NULL, sizeof(*arena), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
    ck_assert_ptr_ne( arena, MAP_FAILED );
    test_hook.wait_all = hook_wait_all;
    test_hook.wait_any = hook_wait_any;
    test_hook.pulse_event = hook_pulse_event;
    test_hook.abandon_thread = hook_abandon_thread;
    test_hook.notify = hook_notify;
    test_hook.ctx = &arena->server;
    awe_sync_set_hook( &test_hook );
    awe_sync_set_options( 0 );
}

static void teardown( void )
{
    awe_sync_set_hook( NULL );
    awe_sync_set_options( 0 );
    munmap( arena, sizeof(*arena) );
    arena = NULL;
}

/* Creates an object in a slot as the server does: bumps the generation, builds the reference,
 * writes the state, publishes the generation. */
static struct awe_sync_ref *new_object( unsigned int slot, enum awe_sync_type type,
                                              uint32_t param, uint32_t initial )
{
    struct awe_sync_ref *ref = &arena->refs[slot];
    uint32_t gen = arena->gens[slot] + 1;

    /* release: the bump is visible before the new state word (which is stored with release) */
    __atomic_store_n( &arena->gens[slot], gen, __ATOMIC_RELEASE );
    ck_assert_int_eq( awe_sync_ref_init( ref, &arena->slots[slot], &arena->gens[slot],
                                         0x1000 + slot + ((uint64_t)gen << 32), gen, type, param ), 0 );
    ck_assert_int_eq( awe_sync_create( ref, initial ), 0 );
    /* release: clients that read the published generation find the object created */
    __atomic_store_n( &arena->published[slot], gen, __ATOMIC_RELEASE );
    return ref;
}

/* Closes a slot's object as the server does and creates another one in it.  Returns the new
 * reference; old references to the slot are stale. */
static struct awe_sync_ref *reuse_slot( unsigned int slot, enum awe_sync_type type,
                                              uint32_t param, uint32_t initial )
{
    struct awe_sync_ref old = arena->refs[slot];

    /* release: the bump is visible before the dead word */
    __atomic_store_n( &arena->gens[slot], arena->gens[slot] + 1, __ATOMIC_RELEASE );
    awe_sync_retire( &old );
    return new_object( slot, type, param, initial );
}

/* Builds a private reference to the object the slot holds now, as a client opening it. */
static void open_slot( struct awe_sync_ref *ref, unsigned int slot, enum awe_sync_type type,
                       uint32_t param )
{
    /* acquire: pairs with the publication in new_object */
    uint32_t gen = __atomic_load_n( &arena->published[slot], __ATOMIC_ACQUIRE );

    awe_sync_ref_init( ref, &arena->slots[slot], &arena->gens[slot],
                       0x1000 + slot + ((uint64_t)gen << 32), gen, type, param );
}

static uint64_t raw_state( unsigned int slot )
{
    return __atomic_load_n( &arena->slots[slot].state, __ATOMIC_ACQUIRE );
}

static unsigned int word_flags( unsigned int slot )
{
    return (unsigned int)(raw_state( slot ) >> 60);
}

static void scribble( unsigned int slot, uint64_t xor_mask )
{
    __atomic_fetch_xor( &arena->slots[slot].state, xor_mask, __ATOMIC_RELEASE );
}

/* Clears the WAITERS flag a new object starts with (by a release and a grab), so that seeing it
 * again proves that a waiter has read the word. */
static void clear_waiters( struct awe_sync_ref *ref )
{
    if (ref->type == AWE_SYNC_MUTEX)
    {
        ck_assert_int_eq( awe_sync_wait( ref, 0 ), 0 );
        ck_assert_int_eq( awe_mutex_release( ref, NULL ), 0 );
        return;
    }
    if (ref->type == AWE_SYNC_SEMAPHORE) ck_assert_int_eq( awe_semaphore_release( ref, 1, NULL ), 0 );
    else ck_assert_int_eq( awe_event_set( ref, NULL ), 0 );
    ck_assert_int_eq( awe_sync_wait( ref, 0 ), 0 );
    if (ref->type == AWE_SYNC_EVENT) awe_event_reset( ref, NULL );
}

/* ---- children and threads ---------------------------------------------------------------- */

/* In a forked child: report and exit; Check's assertions belong to the test process. */
#define CHILD_CHECK(cond) \
    do { if (!(cond)) { fprintf( stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond ); \
                        _exit( 1 ); } } while (0)
#define CHILD_EQ(a, b) \
    do { long long _a = (a), _b = (b); \
         if (_a != _b) { fprintf( stderr, "%s:%d: child: %s is %lld, expected %lld\n", __FILE__, \
                                  __LINE__, #a, _a, _b ); _exit( 1 ); } } while (0)

static pid_t spawn( void (*fn)( int ), int n )
{
    pid_t pid = fork();

    ck_assert_int_ge( pid, 0 );
    if (!pid)
    {
        fn( n );
        _exit( 0 );
    }
    return pid;
}

/* Reaps every child, then fails if any failed. */
static void reap( const pid_t *pids, int count )
{
    int i, status, failed = 0;

    for (i = 0; i < count; i++)
    {
        ck_assert_int_eq( waitpid( pids[i], &status, 0 ), pids[i] );
        if (!WIFEXITED( status ) || WEXITSTATUS( status )) failed = i + 1;
    }
    ck_assert_msg( !failed, "child %d failed", failed - 1 );
}

/* First failure seen by a helper thread, checked by the test thread after the join. */
static char thread_failure[256];
static int thread_failed;

#define THREAD_CHECK(cond) \
    do { if (!(cond) && !__atomic_exchange_n( &thread_failed, 1, __ATOMIC_ACQ_REL )) \
             snprintf( thread_failure, sizeof(thread_failure), "%s:%d: %s", __FILE__, __LINE__, #cond ); \
    } while (0)

static void start_threads( pthread_t *threads, int count, void *(*fn)( void * ), void *args, size_t size )
{
    int i;

    thread_failed = 0;
    for (i = 0; i < count; i++)
        ck_assert_int_eq( pthread_create( &threads[i], NULL, fn, (char *)args + i * size ), 0 );
}

static void join_threads( pthread_t *threads, int count )
{
    int i;

    for (i = 0; i < count; i++) pthread_join( threads[i], NULL );
    ck_assert_msg( !thread_failed, "%s", thread_failure );
}

/* Waits until the slot's word has one of the flags: WAITERS (a client is about to sleep on it)
 * or NOTIFY (a server-side waiter is registered). */
static void wait_for_flag( unsigned int slot, unsigned int flag )
{
    int64_t end = now_ns() + 20 * SEC;

    while (!(word_flags( slot ) & flag))
    {
        ck_assert_msg( now_ns() < end, "flag %#x never appeared on slot %u", flag, slot );
        sleep_ms( 1 );
    }
}

/* Called by a child right before its one wait: once the parent has seen every announcement,
 * the only place the child can sleep is that wait's futex. */
static void announce( void )
{
    /* release: orders nothing but the count itself; the parent polls it */
    __atomic_add_fetch( &arena->ready, 1, __ATOMIC_RELEASE );
}

/* Waits until a child that has announced itself is asleep, which proves that its wait has read
 * the word. */
static void wait_for_sleep( pid_t pid )
{
    int64_t end = now_ns() + 20 * SEC;
    char path[64], buf[256], *p;
    int fd, n;

    snprintf( path, sizeof(path), "/proc/%d/stat", (int)pid );
    for (;;)
    {
        ck_assert_int_ge( fd = open( path, O_RDONLY ), 0 );
        n = read( fd, buf, sizeof(buf) - 1 );
        close( fd );
        ck_assert_int_gt( n, 0 );
        buf[n] = 0;
        ck_assert_ptr_nonnull( p = strrchr( buf, ')' ) );
        if (p[2] == 'S') return;
        ck_assert_msg( now_ns() < end, "child %d never slept", (int)pid );
        sleep_ms( 1 );
    }
}

static void wait_for_count( uint32_t *word, uint32_t value )
{
    int64_t end = now_ns() + 20 * SEC;

    while (__atomic_load_n( word, __ATOMIC_ACQUIRE ) < value)
    {
        ck_assert_msg( now_ns() < end, "count stuck below %u", value );
        sleep_ms( 1 );
    }
}

/* ---- core: the semantics of each object -------------------------------------------------- */

START_TEST(test_semaphore)
{
    struct awe_sync_ref *sem = new_object( 0, AWE_SYNC_SEMAPHORE, 3, 2 );
    struct awe_sync_info info;
    uint32_t prev;

    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( sem, AWE_SYNC_INFINITE ), 0 );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), -ETIMEDOUT );
    POISON( prev );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    POISON( prev );
    ck_assert_int_eq( awe_semaphore_release( sem, 3, &prev ), -EOVERFLOW );
    ck_assert_uint_eq( prev, 1 );
    POISON( info );
    ck_assert_int_eq( awe_sync_query( sem, &info ), 0 );
    ck_assert_uint_eq( info.type, AWE_SYNC_SEMAPHORE );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_uint_eq( info.max, 3 );
    ck_assert_uint_eq( info.owner, 0 );
    ck_assert_int_eq( awe_semaphore_release( sem, 2, NULL ), 0 );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), -EOVERFLOW );
    ck_assert_int_eq( awe_semaphore_release( sem, 0, NULL ), -EINVAL );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), -ETIMEDOUT );
    /* type confusion is refused */
    ck_assert_int_eq( awe_mutex_release( sem, NULL ), -EINVAL );
    ck_assert_int_eq( awe_event_set( sem, NULL ), -EINVAL );
}
END_TEST

struct mutex_probe
{
    struct awe_sync_ref *mutex;
    int wait_result, release_result;
    struct awe_sync_info info;
};

static void *probe_mutex( void *arg )
{
    struct mutex_probe *p = arg;

    p->wait_result = awe_sync_wait( p->mutex, 0 );
    p->release_result = awe_mutex_release( p->mutex, NULL );
    awe_sync_query( p->mutex, &p->info );
    return NULL;
}

START_TEST(test_mutex)
{
    struct awe_sync_ref *mutex = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    struct mutex_probe probe = { mutex, 0, 0, { 0 } };
    struct awe_sync_info info;
    pthread_t thread;
    uint32_t prev;

    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), -EPERM );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( mutex, AWE_SYNC_INFINITE ), 0 );
    POISON( info );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.owner, awe_sync_self_tid() );
    ck_assert_uint_eq( info.count, 3 );
    ck_assert_uint_eq( info.abandoned, 0 );

    /* another thread can neither take it nor release it */
    start_threads( &thread, 1, probe_mutex, &probe, sizeof(probe) );
    join_threads( &thread, 1 );
    ck_assert_int_eq( probe.wait_result, -ETIMEDOUT );
    ck_assert_int_eq( probe.release_result, -EPERM );
    ck_assert_uint_eq( probe.info.owner, awe_sync_self_tid() );

    POISON( prev );
    ck_assert_int_eq( awe_mutex_release( mutex, &prev ), 0 );
    ck_assert_uint_eq( prev, 3 );
    ck_assert_int_eq( awe_mutex_release( mutex, &prev ), 0 );
    ck_assert_uint_eq( prev, 2 );
    ck_assert_int_eq( awe_mutex_release( mutex, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    ck_assert_int_eq( awe_mutex_release( mutex, &prev ), -EPERM );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.owner, 0 );
    ck_assert_uint_eq( info.count, 0 );

    /* owned once: the other thread still cannot release it */
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    start_threads( &thread, 1, probe_mutex, &probe, sizeof(probe) );
    join_threads( &thread, 1 );
    ck_assert_int_eq( probe.wait_result, -ETIMEDOUT );
    ck_assert_int_eq( probe.release_result, -EPERM );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), 0 );

    /* free again: the other thread takes it and releases it */
    start_threads( &thread, 1, probe_mutex, &probe, sizeof(probe) );
    join_threads( &thread, 1 );
    ck_assert_int_eq( probe.wait_result, 0 );
    ck_assert_int_eq( probe.release_result, 0 );

    /* created owned */
    mutex = new_object( 1, AWE_SYNC_MUTEX, 0, awe_sync_self_tid() );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.owner, awe_sync_self_tid() );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), 0 );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), -EPERM );
}
END_TEST

START_TEST(test_event_manual)
{
    struct awe_sync_ref *event = new_object( 0, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    struct awe_sync_info info;
    uint32_t prev;

    ck_assert_int_eq( awe_sync_wait( event, 0 ), -ETIMEDOUT );
    POISON( prev );
    ck_assert_int_eq( awe_event_set( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( event, AWE_SYNC_INFINITE ), 0 );
    POISON( prev );
    ck_assert_int_eq( awe_event_set( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    POISON( info );
    ck_assert_int_eq( awe_sync_query( event, &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_uint_eq( info.max, AWE_SYNC_EVENT_MANUAL );
    POISON( prev );
    ck_assert_int_eq( awe_event_reset( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), -ETIMEDOUT );
    POISON( prev );
    ck_assert_int_eq( awe_event_reset( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );

    event = new_object( 1, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 1 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), 0 );
    ck_assert_int_eq( awe_semaphore_release( event, 1, NULL ), -EINVAL );
}
END_TEST

START_TEST(test_event_auto)
{
    struct awe_sync_ref *event = new_object( 0, AWE_SYNC_EVENT, 0, 1 );
    uint32_t prev;

    ck_assert_int_eq( awe_sync_wait( event, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), -ETIMEDOUT );
    POISON( prev );
    ck_assert_int_eq( awe_event_set( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    POISON( prev );
    ck_assert_int_eq( awe_event_set( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    ck_assert_int_eq( awe_sync_wait( event, AWE_SYNC_INFINITE ), 0 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), -ETIMEDOUT );
    ck_assert_int_eq( awe_event_set( event, NULL ), 0 );
    ck_assert_int_eq( awe_event_reset( event, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    ck_assert_int_eq( awe_sync_wait( event, 0 ), -ETIMEDOUT );
}
END_TEST

struct delayed
{
    struct awe_sync_ref *ref;  /* object to signal */
    long delay_ms;
};

static void *signal_later( void *arg )
{
    struct delayed *d = arg;

    sleep_ms( d->delay_ms );
    switch (d->ref->type)
    {
    case AWE_SYNC_SEMAPHORE: THREAD_CHECK( awe_semaphore_release( d->ref, 1, NULL ) == 0 ); break;
    case AWE_SYNC_EVENT:     THREAD_CHECK( awe_event_set( d->ref, NULL ) == 0 ); break;
    default: break;
    }
    return NULL;
}

START_TEST(test_timeouts)
{
    struct awe_sync_ref *refs[3];
    struct delayed d;
    unsigned int index;
    pthread_t thread;
    int64_t start;

    refs[0] = new_object( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    refs[1] = new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    refs[2] = new_object( 2, AWE_SYNC_MUTEX, 0, 0 );

    start = now_ns();
    ck_assert_int_eq( awe_sync_wait( refs[0], 50 * MS ), -ETIMEDOUT );
    ck_assert_msg( now_ns() - start >= 50 * MS, "returned after %lld ns", (long long)(now_ns() - start) );
    start = now_ns();
    ck_assert_int_eq( awe_sync_wait( refs[1], 30 * MS ), -ETIMEDOUT );
    ck_assert_msg( now_ns() - start >= 30 * MS, "returned early" );

    /* the mutex is free, so a timed wait on all three in turn is decided by the others */
    ck_assert_int_eq( awe_sync_wait( refs[2], 0 ), 0 );
    ck_assert_int_eq( awe_mutex_release( refs[2], NULL ), 0 );
    refs[2] = new_object( 2, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    start = now_ns();
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 40 * MS, &index ), -ETIMEDOUT );
    ck_assert_uint_eq( index, 3 );
    ck_assert_msg( now_ns() - start >= 40 * MS, "returned early" );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), -ETIMEDOUT );
    ck_assert_uint_eq( index, 3 );

    /* an infinite wait returns once signaled */
    d.ref = refs[0];
    d.delay_ms = 20;
    start_threads( &thread, 1, signal_later, &d, sizeof(d) );
    ck_assert_int_eq( awe_sync_wait( refs[0], AWE_SYNC_INFINITE ), 0 );
    join_threads( &thread, 1 );

    /* and a timed one returns before its deadline when signaled */
    d.ref = refs[1];
    start_threads( &thread, 1, signal_later, &d, sizeof(d) );
    ck_assert_int_eq( awe_sync_wait( refs[1], 20 * SEC ), 0 );
    join_threads( &thread, 1 );
}
END_TEST

START_TEST(test_wait_any)
{
    struct awe_sync_ref *refs[4];
    unsigned int index;

    refs[0] = new_object( 0, AWE_SYNC_SEMAPHORE, 2, 0 );
    refs[1] = new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    refs[2] = new_object( 2, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    refs[3] = new_object( 3, AWE_SYNC_MUTEX, 0, awe_sync_self_tid() );

    /* the mutex is ours, so it is the one acquired (recursively) */
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 4, 0, &index ), 0 );
    ck_assert_uint_eq( index, 3 );
    ck_assert_int_eq( awe_mutex_release( refs[3], NULL ), 0 );
    ck_assert_int_eq( awe_mutex_release( refs[3], NULL ), 0 );
    ck_assert_int_eq( server_abandon( refs[3], awe_sync_self_tid() ), 0 );

    ck_assert_int_eq( awe_event_set( refs[2], NULL ), 0 );
    ck_assert_int_eq( awe_event_set( refs[1], NULL ), 0 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), 0 );
    ck_assert_uint_eq( index, 1 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), 0 );
    ck_assert_uint_eq( index, 2 );
    ck_assert_int_eq( awe_semaphore_release( refs[0], 2, NULL ), 0 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, AWE_SYNC_INFINITE, &index ), 0 );
    ck_assert_uint_eq( index, 0 );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), 0 );
    ck_assert_uint_eq( index, 0 );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), 0 );
    ck_assert_uint_eq( index, 2 );
    ck_assert_int_eq( awe_event_reset( refs[2], NULL ), 0 );
    ck_assert_int_eq( awe_sync_wait_any( refs, 3, 0, &index ), -ETIMEDOUT );

    /* one object, and the same object twice, are fine for wait-any */
    refs[1] = refs[0];
    ck_assert_int_eq( awe_semaphore_release( refs[0], 1, NULL ), 0 );
    ck_assert_int_eq( awe_sync_wait_any( refs, 2, 0, &index ), 0 );
    ck_assert_uint_eq( index, 0 );
    ck_assert_int_eq( awe_sync_wait_any( refs, 1, 0, &index ), -ETIMEDOUT );
    ck_assert_uint_eq( index, 1 );
}
END_TEST

struct any_waiter
{
    struct awe_sync_ref *const *refs;
    unsigned int count, index;
    int result;
};

static void *wait_any_thread( void *arg )
{
    struct any_waiter *w = arg;

    w->result = awe_sync_wait_any( w->refs, w->count, 20 * SEC, &w->index );
    return NULL;
}

/* 64 objects, each signaled in turn while the waiter sleeps: the index of the one signaled. */
START_TEST(test_wait_any_64)
{
    struct awe_sync_ref *refs[AWE_SYNC_MAX_WAIT + 1];
    struct any_waiter w;
    unsigned int i, k, rounds = awe_test_slow_tool() ? 4 : 16;
    pthread_t thread;

    if (_i) awe_sync_set_options( AWE_SYNC_NO_WAITV );
    for (i = 0; i < AWE_SYNC_MAX_WAIT; i++)
        refs[i] = new_object( i, i & 1 ? AWE_SYNC_EVENT : AWE_SYNC_SEMAPHORE, i & 1 ? 0 : 1, 0 );
    for (i = 0; i < rounds; i++)
    {
        k = i == 0 ? AWE_SYNC_MAX_WAIT - 1 : (i * 37) % AWE_SYNC_MAX_WAIT;
        /* without futex_waitv (valgrind), wait-any goes to the hook, which sets NOTIFY */
        ck_assert_int_eq( awe_sync_server_clear_notify( refs[AWE_SYNC_MAX_WAIT - 1] ), 0 );
        clear_waiters( refs[AWE_SYNC_MAX_WAIT - 1] );
        w.refs = refs;
        w.count = AWE_SYNC_MAX_WAIT;
        POISON( w.index );
        start_threads( &thread, 1, wait_any_thread, &w, sizeof(w) );
        /* a sleeper set WAITERS (or the hook set NOTIFY) on the last object it scanned */
        wait_for_flag( AWE_SYNC_MAX_WAIT - 1, AWE_SYNC_FLAG_NOTIFY | (_i ? 0 : AWE_SYNC_FLAG_WAITERS) );
        if (refs[k]->type == AWE_SYNC_EVENT) ck_assert_int_eq( awe_event_set( refs[k], NULL ), 0 );
        else ck_assert_int_eq( awe_semaphore_release( refs[k], 1, NULL ), 0 );
        join_threads( &thread, 1 );
        ck_assert_int_eq( w.result, 0 );
        ck_assert_uint_eq( w.index, k );
    }
    if (_i) ck_assert_uint_gt( arena->server.wait_any_calls, 0 );
    refs[AWE_SYNC_MAX_WAIT] = refs[0];
    POISON( k );
    ck_assert_int_eq( awe_sync_wait_any( refs, AWE_SYNC_MAX_WAIT + 1, 0, &k ), -EINVAL );
    ck_assert_uint_eq( k, AWE_SYNC_MAX_WAIT + 1 );
}
END_TEST

struct thief
{
    struct awe_sync_ref *sem, *event;
    int stolen;
};

static void *release_and_steal( void *arg )
{
    struct thief *t = arg;

    THREAD_CHECK( awe_semaphore_release( t->sem, 1, NULL ) == 0 );
    t->stolen = awe_sync_wait( t->sem, 0 ) == 0;
    THREAD_CHECK( awe_event_set( t->event, NULL ) == 0 );
    return NULL;
}

/* A waiter woken for an object that someone else took must scan again and keep waiting. */
START_TEST(test_wait_any_rescan)
{
    struct awe_sync_ref *refs[2];
    struct any_waiter w;
    struct thief t;
    struct awe_sync_info info;
    pthread_t threads[2];
    int i, rounds = (int)iters( 40 );

    refs[0] = t.sem = new_object( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    refs[1] = t.event = new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    for (i = 0; i < rounds; i++)
    {
        ck_assert_int_eq( awe_sync_server_clear_notify( refs[1] ), 0 );
        clear_waiters( refs[1] );
        w.refs = refs;
        w.count = 2;
        start_threads( &threads[0], 1, wait_any_thread, &w, sizeof(w) );
        wait_for_flag( 1, AWE_SYNC_FLAG_WAITERS | AWE_SYNC_FLAG_NOTIFY );
        start_threads( &threads[1], 1, release_and_steal, &t, sizeof(t) );
        pthread_join( threads[1], NULL );
        join_threads( &threads[0], 1 );
        ck_assert_int_eq( w.result, 0 );
        /* exactly one of the two got the unit; the event went to the waiter only if it lost */
        ck_assert_uint_eq( w.index, t.stolen ? 1 : 0 );
        ck_assert_int_eq( awe_sync_query( refs[0], &info ), 0 );
        ck_assert_uint_eq( info.count, 0 );
        ck_assert_int_eq( awe_sync_query( refs[1], &info ), 0 );
        ck_assert_uint_eq( info.count, t.stolen ? 0 : 1 );
        awe_event_reset( refs[1], NULL );
    }
}
END_TEST

/* ---- core: what goes through the server hook --------------------------------------------- */

struct all_waiter
{
    struct awe_sync_ref *const *refs;
    unsigned int count, index;
    uint32_t tid;
    int result;
};

static void *wait_all_thread( void *arg )
{
    struct all_waiter *w = arg;

    w->tid = awe_sync_self_tid();
    w->result = awe_sync_wait_all( w->refs, w->count, 20 * SEC, &w->index );
    if (!w->result) THREAD_CHECK( awe_mutex_release( w->refs[1], NULL ) == 0 );
    return NULL;
}

START_TEST(test_wait_all)
{
    struct awe_sync_ref *refs[3], *dup[2];
    struct awe_sync_info info;
    struct all_waiter w;
    unsigned int index;
    pthread_t thread;

    refs[0] = new_object( 0, AWE_SYNC_SEMAPHORE, 5, 0 );
    refs[1] = new_object( 1, AWE_SYNC_MUTEX, 0, 0 );
    refs[2] = new_object( 2, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );

    /* nothing is taken unless everything can be */
    ck_assert_int_eq( awe_semaphore_release( refs[0], 1, NULL ), 0 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_all( refs, 3, 0, &index ), -ETIMEDOUT );
    ck_assert_uint_eq( index, 3 );
    ck_assert_int_eq( awe_sync_query( refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_int_eq( awe_sync_query( refs[1], &info ), 0 );
    ck_assert_uint_eq( info.owner, 0 );

    w.refs = refs;
    w.count = 3;
    start_threads( &thread, 1, wait_all_thread, &w, sizeof(w) );
    wait_for_flag( 2, AWE_SYNC_FLAG_NOTIFY );
    ck_assert_int_eq( awe_semaphore_release( refs[0], 1, NULL ), 0 );
    sleep_ms( 10 );
    ck_assert_int_eq( awe_sync_query( refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 2 );
    ck_assert_int_eq( awe_event_set( refs[2], NULL ), 0 );
    join_threads( &thread, 1 );
    ck_assert_int_eq( w.result, 0 );
    ck_assert_int_eq( awe_sync_query( refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_int_eq( awe_sync_query( refs[2], &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_uint_gt( arena->server.notifies, 0 );

    /* all at once, here, with the mutex taken recursively */
    ck_assert_int_eq( awe_sync_wait( refs[1], 0 ), 0 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_all( refs, 3, 0, &index ), 0 );
    ck_assert_uint_eq( index, 3 );
    ck_assert_int_eq( awe_sync_query( refs[1], &info ), 0 );
    ck_assert_uint_eq( info.count, 2 );
    ck_assert_int_eq( awe_mutex_release( refs[1], NULL ), 0 );
    ck_assert_int_eq( awe_mutex_release( refs[1], NULL ), 0 );

    /* an abandoned mutex is reported with its index */
    ck_assert_int_eq( awe_semaphore_release( refs[0], 1, NULL ), 0 );
    ck_assert_int_eq( awe_sync_wait( refs[1], 0 ), 0 );
    ck_assert_int_eq( server_abandon( refs[1], awe_sync_self_tid() ), 1 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_all( refs, 3, 0, &index ), -EOWNERDEAD );
    ck_assert_uint_eq( index, 1 );
    ck_assert_int_eq( awe_mutex_release( refs[1], NULL ), 0 );

    dup[0] = dup[1] = refs[0];
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_all( dup, 2, 0, &index ), -EINVAL );
    ck_assert_uint_eq( index, 2 );
    ck_assert_uint_gt( arena->server.wait_all_calls, 0 );
}
END_TEST

START_TEST(test_pulse_no_waiters)
{
    struct awe_sync_ref *manual = new_object( 0, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 1 );
    struct awe_sync_ref *autoev = new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    uint32_t prev;

    POISON( prev );
    ck_assert_int_eq( awe_event_pulse( manual, &prev ), 0 );
    ck_assert_uint_eq( prev, 1 );
    ck_assert_int_eq( awe_sync_wait( manual, 0 ), -ETIMEDOUT );
    POISON( prev );
    ck_assert_int_eq( awe_event_pulse( manual, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    ck_assert_int_eq( awe_sync_wait( manual, 0 ), -ETIMEDOUT );

    /* a pulse nobody waited for is not kept for later waiters */
    POISON( prev );
    ck_assert_int_eq( awe_event_pulse( autoev, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    ck_assert_int_eq( awe_sync_wait( autoev, 0 ), -ETIMEDOUT );
    ck_assert_int_eq( awe_sync_wait( autoev, 10 * MS ), -ETIMEDOUT );
    ck_assert_int_eq( awe_event_set( autoev, &prev ), 0 );
    ck_assert_uint_eq( prev, 0 );
    ck_assert_int_eq( awe_sync_wait( autoev, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( autoev, 0 ), -ETIMEDOUT );
    ck_assert_uint_eq( arena->server.pulse_calls, 3 );
}
END_TEST

struct dying_owner
{
    struct awe_sync_ref *mutex;
    int result;
};

static void *own_and_exit( void *arg )
{
    struct dying_owner *d = arg;

    THREAD_CHECK( awe_sync_wait( d->mutex, 0 ) == 0 );
    THREAD_CHECK( awe_sync_wait( d->mutex, 0 ) == 0 );
    /* the runtime's thread-exit path tells the server */
    d->result = awe_sync_abandon_thread( awe_sync_self_tid() );
    return NULL;
}

START_TEST(test_abandon_thread)
{
    struct awe_sync_ref *mutex = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    struct dying_owner d = { mutex, 0 };
    struct awe_sync_info info;
    pthread_t thread;

    arena->server.mutexes[arena->server.nmutexes++] = mutex;
    start_threads( &thread, 1, own_and_exit, &d, sizeof(d) );
    join_threads( &thread, 1 );
    ck_assert_int_eq( d.result, 1 );
    POISON( info );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.abandoned, 1 );
    ck_assert_uint_eq( info.owner, 0 );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), -EPERM );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), -EOWNERDEAD );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.owner, awe_sync_self_tid() );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_uint_eq( info.abandoned, 0 );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), 0 );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), 0 );
    /* nothing to abandon: the owner is alive, or owns nothing */
    ck_assert_int_eq( awe_sync_abandon_thread( awe_sync_self_tid() ), 0 );
}
END_TEST

START_TEST(test_notify)
{
    struct awe_sync_ref *sem = new_object( 0, AWE_SYNC_SEMAPHORE, 4, 0 );
    unsigned int index;
    uint32_t before;

    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), 0 );
    ck_assert_uint_eq( arena->server.notifies, 0 );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );

    /* a server-side waiter sets NOTIFY; releases then call the hook */
    POISON( index );
    ck_assert_int_eq( awe_sync_server_wait( &sem, 1, awe_sync_self_tid(), 0, &index ), -EAGAIN );
    ck_assert_uint_eq( index, 1 );
    ck_assert_uint_ne( word_flags( 0 ) & AWE_SYNC_FLAG_NOTIFY, 0 );
    before = arena->server.notifies;
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), 0 );
    ck_assert_uint_eq( arena->server.notifies, before + 1 );
    POISON( index );
    ck_assert_int_eq( awe_sync_server_wait( &sem, 1, awe_sync_self_tid(), 0, &index ), 0 );
    ck_assert_uint_eq( index, 0 );

    ck_assert_int_eq( awe_sync_server_clear_notify( sem ), 0 );
    ck_assert_uint_eq( word_flags( 0 ) & AWE_SYNC_FLAG_NOTIFY, 0 );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), 0 );
    ck_assert_uint_eq( arena->server.notifies, before + 1 );
}
END_TEST

START_TEST(test_no_hook)
{
    struct awe_sync_ref *refs[2];
    unsigned int index;

    refs[0] = new_object( 0, AWE_SYNC_EVENT, 0, 0 );
    refs[1] = new_object( 1, AWE_SYNC_EVENT, 0, 1 );
    awe_sync_set_hook( NULL );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_all( refs, 2, 0, &index ), -ENOSYS );
    ck_assert_uint_eq( index, 2 );
    ck_assert_int_eq( awe_event_pulse( refs[0], NULL ), -ENOSYS );
    ck_assert_int_eq( awe_sync_abandon_thread( awe_sync_self_tid() ), -ENOSYS );
    awe_sync_set_options( AWE_SYNC_NO_WAITV );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 2, 0, &index ), -ENOSYS );
    ck_assert_uint_eq( index, 2 );
    /* a single object never needs futex_waitv */
    ck_assert_int_eq( awe_sync_wait_any( &refs[1], 1, 0, &index ), 0 );
    ck_assert_uint_eq( index, 0 );
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------ */

START_TEST(test_ref_limits)
{
    struct awe_sync_ref ref;
    struct awe_sync_shm *shm = &arena->slots[0];
    const uint32_t *gen = &arena->gens[0];

    ck_assert_int_eq( awe_sync_ref_init( NULL, shm, gen, 1, 0, AWE_SYNC_MUTEX, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, NULL, gen, 1, 0, AWE_SYNC_MUTEX, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, NULL, 1, 0, AWE_SYNC_MUTEX, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, (void *)((char *)shm + 4), gen, 1, 0, AWE_SYNC_MUTEX, 0 ),
                      -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, 0, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, 4, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_MUTEX, 1 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_SEMAPHORE, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_SEMAPHORE,
                                         AWE_SYNC_SEMAPHORE_LIMIT + 1 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_EVENT, 2 ), -EINVAL );

    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_SEMAPHORE, 3 ), 0 );
    ck_assert_int_eq( awe_sync_create( &ref, 4 ), -EINVAL );
    ck_assert_int_eq( awe_sync_create( NULL, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_MUTEX, 0 ), 0 );
    ck_assert_int_eq( awe_sync_create( &ref, 0x40000000 ), -EINVAL );
    ck_assert_int_eq( awe_sync_ref_init( &ref, shm, gen, 1, 0, AWE_SYNC_EVENT, 0 ), 0 );
    ck_assert_int_eq( awe_sync_create( &ref, 2 ), -EINVAL );
    ck_assert_int_eq( awe_sync_wait( NULL, 0 ), -EINVAL );
    ck_assert_int_eq( awe_sync_query( &ref, NULL ), -EINVAL );
    ck_assert_int_eq( awe_mutex_abandon( &ref, 1 ), -EINVAL );
    ck_assert_int_eq( awe_sync_server_pulse( NULL, NULL ), -EINVAL );
    ck_assert_int_eq( awe_sync_abandon_thread( 0 ), -EINVAL );
}
END_TEST

START_TEST(test_semaphore_limits)
{
    struct awe_sync_ref *sem = new_object( 0, AWE_SYNC_SEMAPHORE, AWE_SYNC_SEMAPHORE_LIMIT,
                                                 AWE_SYNC_SEMAPHORE_LIMIT - 1 );
    uint32_t prev;

    ck_assert_int_eq( awe_semaphore_release( sem, 1, &prev ), 0 );
    ck_assert_uint_eq( prev, AWE_SYNC_SEMAPHORE_LIMIT - 1 );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), -EOVERFLOW );
    ck_assert_int_eq( awe_sync_wait( sem, 0 ), 0 );
    /* counts that would wrap 32 bits are refused, not wrapped */
    ck_assert_int_eq( awe_semaphore_release( sem, UINT32_MAX, NULL ), -EOVERFLOW );
    ck_assert_int_eq( awe_semaphore_release( sem, 2, NULL ), -EOVERFLOW );

    sem = new_object( 1, AWE_SYNC_SEMAPHORE, 1, 0 );
    ck_assert_int_eq( awe_semaphore_release( sem, UINT32_MAX, NULL ), -EOVERFLOW );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), 0 );
    ck_assert_int_eq( awe_semaphore_release( sem, 1, NULL ), -EOVERFLOW );
}
END_TEST

START_TEST(test_mutex_recursion)
{
    struct awe_sync_ref *mutex = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    uint32_t i, depth = (uint32_t)iters( 100000 ), prev;
    struct awe_sync_info info;

    for (i = 0; i < depth; i++) ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    ck_assert_int_eq( awe_sync_query( mutex, &info ), 0 );
    ck_assert_uint_eq( info.count, depth );
    for (i = depth; i > 0; i--)
    {
        ck_assert_int_eq( awe_mutex_release( mutex, &prev ), 0 );
        ck_assert_uint_eq( prev, i );
    }
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), -EPERM );
}
END_TEST

START_TEST(test_wait_limits)
{
    struct awe_sync_ref *refs[2] = { new_object( 0, AWE_SYNC_EVENT, 0, 0 ), NULL };
    unsigned int index;

    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 0, 0, &index ), -EINVAL );
    ck_assert_uint_eq( index, 0 );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( refs, 2, 0, &index ), -EINVAL );
    ck_assert_uint_eq( index, 2 );
    ck_assert_int_eq( awe_sync_wait_any( NULL, 1, 0, &index ), -EINVAL );
    ck_assert_int_eq( awe_sync_wait_any( refs, 1, 0, NULL ), -EINVAL );
    ck_assert_int_eq( awe_sync_wait_all( refs, AWE_SYNC_MAX_WAIT + 1, 0, &index ), -EINVAL );
    ck_assert_int_eq( awe_sync_server_wait( refs, 1, 0, 1, &index ), -EINVAL );
}
END_TEST

/* ---- errors: corruption and stale references --------------------------------------------- */

static int probe_object( struct awe_sync_ref *ref )
{
    switch (ref->type)
    {
    case AWE_SYNC_SEMAPHORE: return awe_semaphore_release( ref, 1, NULL );
    case AWE_SYNC_MUTEX:     return awe_mutex_release( ref, NULL );
    default:                 return awe_event_set( ref, NULL );
    }
}

/* Every operation on a corrupted object fails with -EUCLEAN, and the marker stays. */
static void check_corrupted( struct awe_sync_ref *ref, unsigned int slot )
{
    struct awe_sync_info info;
    unsigned int index;

    ck_assert_int_eq( awe_sync_wait( ref, 0 ), -EUCLEAN );
    ck_assert_int_eq( awe_sync_wait( ref, 10 * MS ), -EUCLEAN );
    ck_assert_int_eq( probe_object( ref ), -EUCLEAN );
    ck_assert_int_eq( awe_sync_query( ref, &info ), -EUCLEAN );
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( &ref, 1, 0, &index ), -EUCLEAN );
    ck_assert_uint_eq( index, 0 );
    ck_assert_uint_ne( word_flags( slot ) & AWE_SYNC_FLAG_CORRUPTED, 0 );
}

/* A validly hashed LOCKED word (anyone can compute the hash) that no transaction ends: waits,
 * releases, sets and resets give up after the LOCKED limit and mark the object corrupted,
 * instead of waiting for ever.  (Before, every release waited for ever: the fuzzer found it.) */
START_TEST(test_forged_locked)
{
    struct awe_sync_ref *ref;
    unsigned int t;
    int ret;

    awe_sync_set_locked_limit( 50 * 1000000ll );
    for (t = 0; t < 8; t++)
    {
        enum awe_sync_type type = t % 4 == 0 ? AWE_SYNC_SEMAPHORE : t % 4 == 1 ? AWE_SYNC_MUTEX : AWE_SYNC_EVENT;

        ref = new_object( 40 + t, type, type == AWE_SYNC_SEMAPHORE ? 2 : 0, 0 );
        __atomic_store_n( &arena->slots[40 + t].state,
                          awe_sync_state_word( ref, AWE_SYNC_FLAG_LOCKED, type == AWE_SYNC_MUTEX ? awe_sync_self_tid() : 0 ),
                          __ATOMIC_RELEASE );
        switch (t)
        {
        case 0: ret = awe_semaphore_release( ref, 1, NULL ); break;
        case 1: ret = awe_mutex_release( ref, NULL ); break;
        case 2: ret = awe_event_set( ref, NULL ); break;
        case 3: ret = awe_event_reset( ref, NULL ); break;
        default: ret = awe_sync_wait( ref, AWE_SYNC_INFINITE ); break;
        }
        ck_assert_msg( ret == -EUCLEAN, "case %u: got %d", t, ret );
        ck_assert_uint_ne( word_flags( 40 + t ) & AWE_SYNC_FLAG_CORRUPTED, 0 );
    }
    awe_sync_set_locked_limit( AWE_SYNC_LOCKED_LIMIT_NS );
}
END_TEST

START_TEST(test_corruption)
{
    static const uint64_t masks[] =
    {
        0x0000000000000001ull,   /* one data bit */
        0x0000000100000000ull,   /* one hash bit */
        0x4000000000000000ull,   /* LOCKED, forged */
        0x8000000000000000ull,   /* CORRUPTED, forged */
        0x0123456789abcdefull,   /* everything */
    };
    struct awe_sync_ref *refs[3];
    unsigned int i, t, index;

    for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
    {
        for (t = 0; t < 3; t++)
        {
            unsigned int slot = i * 3 + t;

            refs[t] = new_object( slot, t + 1, t == 0 ? 2 : 0, t == 0 ? 1 : 0 );
            scribble( slot, masks[i] );
            check_corrupted( refs[t], slot );
        }
        /* a wait that includes a corrupted object fails with its index */
        refs[0] = new_object( 60, AWE_SYNC_EVENT, 0, 0 );
        refs[1] = new_object( 61, AWE_SYNC_SEMAPHORE, 1, 1 );
        scribble( 61, masks[i] );
        POISON( index );
        ck_assert_int_eq( awe_sync_wait_any( refs, 2, 0, &index ), -EUCLEAN );
        ck_assert_uint_eq( index, 1 );
        POISON( index );
        ck_assert_int_eq( awe_sync_wait_all( refs, 2, 0, &index ), -EUCLEAN );
        ck_assert_uint_eq( index, 1 );
    }

    /* the server's transactions refuse a corrupted object too */
    refs[0] = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    scribble( 0, 1ull << 40 );
    ck_assert_int_eq( server_abandon( refs[0], 1 ), -EUCLEAN );
    ck_assert_int_eq( awe_sync_server_clear_notify( refs[0] ), -EUCLEAN );
    refs[0] = new_object( 0, AWE_SYNC_EVENT, 0, 0 );
    scribble( 0, 1ull << 2 );
    ck_assert_int_eq( awe_event_pulse( refs[0], NULL ), -EUCLEAN );
    check_corrupted( refs[0], 0 );
}
END_TEST

START_TEST(test_corruption_recursion_word)
{
    struct awe_sync_ref *mutex = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );

    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    __atomic_fetch_xor( &arena->slots[0].aux, 0x10, __ATOMIC_RELAXED );
    ck_assert_int_eq( awe_mutex_release( mutex, NULL ), -EUCLEAN );
    check_corrupted( mutex, 0 );

    mutex = new_object( 1, AWE_SYNC_MUTEX, 0, 0 );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), 0 );
    __atomic_fetch_xor( &arena->slots[1].aux, 1ull << 40, __ATOMIC_RELAXED );
    ck_assert_int_eq( awe_sync_wait( mutex, 0 ), -EUCLEAN );
    check_corrupted( mutex, 1 );
}
END_TEST

START_TEST(test_stale)
{
    struct awe_sync_ref *fresh, *one;
    struct awe_sync_ref old[3];
    struct awe_sync_info info;
    unsigned int t, index;

    for (t = 0; t < 3; t++)
    {
        old[t] = *new_object( t, t + 1, t == 0 ? 2 : 0, 0 );
        fresh = reuse_slot( t, AWE_SYNC_SEMAPHORE, 5, 3 );
        ck_assert_int_eq( awe_sync_wait( &old[t], 0 ), -ESTALE );
        ck_assert_int_eq( awe_sync_wait( &old[t], 10 * MS ), -ESTALE );
        ck_assert_int_eq( probe_object( &old[t] ), -ESTALE );
        ck_assert_int_eq( awe_sync_query( &old[t], &info ), -ESTALE );
        /* the new object is intact and untouched */
        POISON( info );
        ck_assert_int_eq( awe_sync_query( fresh, &info ), 0 );
        ck_assert_uint_eq( info.count, 3 );
        ck_assert_uint_eq( info.flags & AWE_SYNC_FLAG_CORRUPTED, 0 );
        ck_assert_int_eq( awe_sync_wait( fresh, 0 ), 0 );
        ck_assert_int_eq( awe_semaphore_release( fresh, 1, NULL ), 0 );
    }
    /* between retire and create, the dead word is stale too */
    old[0] = arena->refs[0];
    __atomic_store_n( &arena->gens[0], arena->gens[0] + 1, __ATOMIC_RELEASE );
    awe_sync_retire( &old[0] );
    one = &old[0];
    POISON( index );
    ck_assert_int_eq( awe_sync_wait_any( &one, 1, 0, &index ), -ESTALE );
    ck_assert_uint_eq( index, 0 );
    ck_assert_int_eq( awe_sync_server_clear_notify( &old[0] ), -ESTALE );
}
END_TEST

struct stale_sleeper
{
    struct awe_sync_ref ref;
    int result;
};

static void *sleep_on_stale( void *arg )
{
    struct stale_sleeper *s = arg;

    s->result = awe_sync_wait( &s->ref, 20 * SEC );
    return NULL;
}

/* A waiter asleep when its object is closed wakes with -ESTALE. */
START_TEST(test_stale_sleeper)
{
    struct stale_sleeper s;
    pthread_t thread;

    s.ref = *new_object( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    clear_waiters( &s.ref );
    start_threads( &thread, 1, sleep_on_stale, &s, sizeof(s) );
    wait_for_flag( 0, AWE_SYNC_FLAG_WAITERS );
    reuse_slot( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    join_threads( &thread, 1 );
    ck_assert_int_eq( s.result, -ESTALE );
}
END_TEST

/* ---- concurrency: threads ---------------------------------------------------------------- */

struct worker
{
    struct awe_sync_ref *ref;
    uint32_t *counter, *inside;
    int64_t iterations;
    uint32_t limit;
};

static void *mutex_worker( void *arg )
{
    struct worker *w = arg;
    int64_t i;
    uint32_t v;

    for (i = 0; i < w->iterations; i++)
    {
        THREAD_CHECK( wait_soon( w->ref ) == 0 );
        if (i % 7 == 0) THREAD_CHECK( awe_sync_wait( w->ref, 0 ) == 0 );
        THREAD_CHECK( __atomic_add_fetch( w->inside, 1, __ATOMIC_RELAXED ) == 1 );
        v = *w->counter;
        if (i % 64 == 0) sched_yield();
        *w->counter = v + 1;
        __atomic_sub_fetch( w->inside, 1, __ATOMIC_RELAXED );
        if (i % 7 == 0) THREAD_CHECK( awe_mutex_release( w->ref, NULL ) == 0 );
        THREAD_CHECK( awe_mutex_release( w->ref, NULL ) == 0 );
    }
    return NULL;
}

START_TEST(test_mutex_contention)
{
    struct worker w[4];
    pthread_t threads[4];
    uint32_t counter = 0, inside = 0;
    struct awe_sync_info info;
    int i;

    for (i = 0; i < 4; i++)
    {
        w[i].ref = new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
        w[i].counter = &counter;
        w[i].inside = &inside;
        w[i].iterations = iters( 20000 );
    }
    start_threads( threads, 4, mutex_worker, w, sizeof(w[0]) );
    join_threads( threads, 4 );
    ck_assert_uint_eq( counter, 4 * w[0].iterations );
    ck_assert_int_eq( awe_sync_query( w[0].ref, &info ), 0 );
    ck_assert_uint_eq( info.owner, 0 );
}
END_TEST

static void *semaphore_worker( void *arg )
{
    struct worker *w = arg;
    uint32_t now;
    int64_t i;

    for (i = 0; i < w->iterations; i++)
    {
        THREAD_CHECK( wait_soon( w->ref ) == 0 );
        now = __atomic_add_fetch( w->inside, 1, __ATOMIC_RELAXED );
        THREAD_CHECK( now <= w->limit );
        if (i % 16 == 0) sched_yield();
        __atomic_sub_fetch( w->inside, 1, __ATOMIC_RELAXED );
        THREAD_CHECK( awe_semaphore_release( w->ref, 1, NULL ) == 0 );
    }
    return NULL;
}

START_TEST(test_semaphore_contention)
{
    struct worker w[4];
    pthread_t threads[4];
    uint32_t inside = 0;
    struct awe_sync_info info;
    int i;

    for (i = 0; i < 4; i++)
    {
        w[i].ref = new_object( 0, AWE_SYNC_SEMAPHORE, 2, 2 );
        w[i].inside = &inside;
        w[i].limit = 2;
        w[i].iterations = iters( 20000 );
    }
    start_threads( threads, 4, semaphore_worker, w, sizeof(w[0]) );
    join_threads( threads, 4 );
    ck_assert_int_eq( awe_sync_query( w[0].ref, &info ), 0 );
    ck_assert_uint_eq( info.count, 2 );
}
END_TEST

struct pinger
{
    struct awe_sync_ref *mine, *theirs;
    uint32_t *turn;
    int64_t rounds;
    uint32_t parity;
};

static void *event_pinger( void *arg )
{
    struct pinger *p = arg;
    int64_t i;

    for (i = 0; i < p->rounds; i++)
    {
        THREAD_CHECK( wait_soon( p->mine ) == 0 );
        THREAD_CHECK( (*p->turn & 1) == p->parity );
        (*p->turn)++;
        THREAD_CHECK( awe_event_set( p->theirs, NULL ) == 0 );
    }
    return NULL;
}

/* Auto-reset events between threads: each set releases exactly one wait. */
START_TEST(test_event_pingpong_threads)
{
    struct awe_sync_ref *a = new_object( 0, AWE_SYNC_EVENT, 0, 1 );
    struct awe_sync_ref *b = new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    uint32_t turn = 0;
    struct pinger p[2] = { { a, b, &turn, iters( 20000 ), 0 }, { b, a, &turn, iters( 20000 ), 1 } };
    pthread_t threads[2];

    start_threads( threads, 2, event_pinger, p, sizeof(p[0]) );
    join_threads( threads, 2 );
    ck_assert_uint_eq( turn, 2 * p[0].rounds );
    ck_assert_int_eq( awe_sync_wait( a, 0 ), 0 );
    ck_assert_int_eq( awe_sync_wait( b, 0 ), -ETIMEDOUT );
}
END_TEST

/* ---- multiprocess ------------------------------------------------------------------------ */

static void pingpong_child( int parity )
{
    struct awe_sync_ref *mine = &arena->refs[parity], *theirs = &arena->refs[1 - parity];
    int64_t i, rounds = arena->stop;

    for (i = 0; i < rounds; i++)
    {
        CHILD_EQ( wait_soon( mine ), 0 );
        CHILD_EQ( arena->turn & 1, parity );
        arena->turn++;
        if (theirs->type == AWE_SYNC_SEMAPHORE) CHILD_EQ( awe_semaphore_release( theirs, 1, NULL ), 0 );
        else CHILD_EQ( awe_event_set( theirs, NULL ), 0 );
    }
}

/* Strict alternation of two processes through semaphores (_i == 0) or auto-reset events. */
START_TEST(test_handoff_pingpong)
{
    enum awe_sync_type type = _i ? AWE_SYNC_EVENT : AWE_SYNC_SEMAPHORE;
    pid_t pids[2];

    new_object( 0, type, _i ? 0 : 1, 1 );
    new_object( 1, type, _i ? 0 : 1, 0 );
    arena->stop = (uint32_t)iters( 5000 );
    pids[0] = spawn( pingpong_child, 0 );
    pids[1] = spawn( pingpong_child, 1 );
    reap( pids, 2 );
    ck_assert_uint_eq( arena->turn, 2 * arena->stop );
}
END_TEST

/* Mutex handoff between two processes: the owner releases the mutex only once the other side
 * has committed to sleeping on it (WAITERS), and waits for it again only once the other side
 * has it (no barging), so ownership strictly alternates between a releaser and a sleeper. */
static void mutex_handoff_child( int side )
{
    struct awe_sync_ref *mutex = &arena->refs[0];
    int64_t i, rounds = arena->stop, end;
    uint32_t seen;

    if (side == 0)
    {
        CHILD_EQ( awe_sync_wait( mutex, 0 ), 0 );
        __atomic_store_n( &arena->ready, 1, __ATOMIC_RELEASE );
    }
    else while (!__atomic_load_n( &arena->ready, __ATOMIC_ACQUIRE )) sched_yield();

    for (i = 0; i < rounds; i++)
    {
        if (side == 1 || i > 0)
        {
            CHILD_EQ( wait_soon( mutex ), 0 );
            __atomic_add_fetch( &arena->taken[side], 1, __ATOMIC_RELEASE );
        }
        CHILD_EQ( arena->counter % 2, (uint32_t)side );
        arena->counter++;
        seen = __atomic_load_n( &arena->taken[1 - side], __ATOMIC_ACQUIRE );
        if (side == 0 || i + 1 < rounds)
        {
            end = now_ns() + 20 * SEC;
            while (!(word_flags( 0 ) & AWE_SYNC_FLAG_WAITERS))
            {
                CHILD_CHECK( now_ns() < end );
                sched_yield();
            }
        }
        CHILD_EQ( awe_mutex_release( mutex, NULL ), 0 );
        if (i + 1 < rounds)
            while (__atomic_load_n( &arena->taken[1 - side], __ATOMIC_ACQUIRE ) == seen) sched_yield();
    }
}

START_TEST(test_handoff_mutex)
{
    pid_t pids[2];

    clear_waiters( new_object( 0, AWE_SYNC_MUTEX, 0, 0 ) );
    arena->stop = (uint32_t)iters( 3000 );
    pids[0] = spawn( mutex_handoff_child, 0 );
    pids[1] = spawn( mutex_handoff_child, 1 );
    reap( pids, 2 );
    ck_assert_uint_eq( arena->counter, 2 * arena->stop );
}
END_TEST

static void counter_child( int n )
{
    struct awe_sync_ref *mutex = &arena->refs[0];
    int64_t i, rounds = arena->stop;
    uint32_t v;

    for (i = 0; i < rounds; i++)
    {
        CHILD_EQ( wait_soon( mutex ), 0 );
        v = arena->counter;
        if (i % 32 == n) sched_yield();
        arena->counter = v + 1;
        CHILD_EQ( awe_mutex_release( mutex, NULL ), 0 );
    }
}

/* A non-atomic counter protected by a mutex shared by three processes. */
START_TEST(test_mutex_processes)
{
    pid_t pids[3];
    int i;

    new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    arena->stop = (uint32_t)iters( 10000 );
    for (i = 0; i < 3; i++) pids[i] = spawn( counter_child, i );
    reap( pids, 3 );
    ck_assert_uint_eq( arena->counter, 3 * arena->stop );
}
END_TEST

#define WAITER_UNITS 200

static void sem_waiter_child( int n )
{
    int64_t i, units = iters( WAITER_UNITS );

    for (i = 0; i < units; i++) CHILD_EQ( wait_soon( &arena->refs[0] ), 0 );
    /* then everyone leaves through one manual-reset gate */
    CHILD_EQ( awe_sync_wait( &arena->refs[1], 20 * SEC ), 0 );
}

static void sem_waker_child( int n )
{
    int64_t given = 0, units = 2 * iters( WAITER_UNITS );
    uint32_t chunk;
    int ret;

    while (given < units)
    {
        chunk = (uint32_t)(1 + (given + n) % 3);
        if (chunk > units - given) chunk = (uint32_t)(units - given);
        ret = awe_semaphore_release( &arena->refs[0], chunk, NULL );
        if (ret == -EOVERFLOW)
        {
            sched_yield();
            continue;
        }
        CHILD_EQ( ret, 0 );
        given += chunk;
    }
}

/* Four processes wait on a semaphore that two others feed, then pass one gate together. */
START_TEST(test_many_waiters_wakers)
{
    struct awe_sync_info info;
    pid_t pids[6];
    int i;

    new_object( 0, AWE_SYNC_SEMAPHORE, 8, 0 );
    new_object( 1, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    for (i = 0; i < 4; i++) pids[i] = spawn( sem_waiter_child, i );
    for (i = 4; i < 6; i++) pids[i] = spawn( sem_waker_child, i );
    reap( pids + 4, 2 );
    wait_for_flag( 1, AWE_SYNC_FLAG_WAITERS );
    ck_assert_int_eq( awe_event_set( &arena->refs[1], NULL ), 0 );
    reap( pids, 4 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 0 );
}
END_TEST

static void timeout_child( int n )
{
    int64_t start = now_ns();

    CHILD_EQ( awe_sync_wait( &arena->refs[n], 100 * MS ), -ETIMEDOUT );
    CHILD_CHECK( now_ns() - start >= 100 * MS );
}

START_TEST(test_timeout_processes)
{
    pid_t pids[3];
    int i;

    new_object( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    new_object( 1, AWE_SYNC_MUTEX, 0, awe_sync_self_tid() );
    new_object( 2, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    for (i = 0; i < 3; i++) pids[i] = spawn( timeout_child, i );
    reap( pids, 3 );
}
END_TEST

static void any64_child( int n )
{
    struct awe_sync_ref *refs[AWE_SYNC_MAX_WAIT];
    unsigned int i, index;

    for (i = 0; i < AWE_SYNC_MAX_WAIT; i++) refs[i] = &arena->refs[i];
    announce();
    CHILD_EQ( awe_sync_wait_any( refs, AWE_SYNC_MAX_WAIT, 20 * SEC, &index ), 0 );
    CHILD_EQ( index, 37 );
}

START_TEST(test_wait_any_processes)
{
    unsigned int i;
    pid_t pid;

    for (i = 0; i < AWE_SYNC_MAX_WAIT; i++) new_object( i, AWE_SYNC_SEMAPHORE, 1, 0 );
    pid = spawn( any64_child, 0 );
    wait_for_count( &arena->ready, 1 );
    wait_for_sleep( pid );
    ck_assert_int_eq( awe_semaphore_release( &arena->refs[37], 1, NULL ), 0 );
    reap( &pid, 1 );
}
END_TEST

static void corrupt_sleeper_child( int n )
{
    announce();
    CHILD_EQ( awe_sync_wait( &arena->refs[0], 20 * SEC ), -EUCLEAN );
}

static void scribbler_child( int n )
{
    scribble( 0, 0x0000000500000000ull );
    CHILD_EQ( awe_semaphore_release( &arena->refs[0], 1, NULL ), -EUCLEAN );
}

static void late_child( int n )
{
    struct awe_sync_ref ref;

    open_slot( &ref, 0, AWE_SYNC_SEMAPHORE, 4 );
    CHILD_EQ( awe_sync_wait( &ref, 0 ), -EUCLEAN );
    CHILD_EQ( awe_semaphore_release( &ref, 1, NULL ), -EUCLEAN );
}

/* One process scribbles the word; the sleepers, the parent and later openers all see it. */
START_TEST(test_corruption_processes)
{
    pid_t pids[5];
    int i;

    new_object( 0, AWE_SYNC_SEMAPHORE, 4, 0 );
    for (i = 0; i < 3; i++) pids[i] = spawn( corrupt_sleeper_child, i );
    wait_for_count( &arena->ready, 3 );
    for (i = 0; i < 3; i++) wait_for_sleep( pids[i] );
    pids[3] = spawn( scribbler_child, 0 );
    reap( pids, 4 );
    check_corrupted( &arena->refs[0], 0 );
    pids[4] = spawn( late_child, 0 );
    reap( pids + 4, 1 );
}
END_TEST

static void stale_user_child( int n )
{
    struct awe_sync_ref ref;
    int ret, stale = 0;

    open_slot( &ref, 0, AWE_SYNC_SEMAPHORE, 4 );
    while (!__atomic_load_n( &arena->stop, __ATOMIC_ACQUIRE ))
    {
        ret = awe_sync_wait( &ref, 0 );
        if (!ret)
        {
            if (n == 0) sched_yield();
            ret = awe_semaphore_release( &ref, 1, NULL );
        }
        CHILD_CHECK( ret == 0 || ret == -ETIMEDOUT || ret == -ESTALE );
        if (ret == -ESTALE)
        {
            stale++;
            open_slot( &ref, 0, AWE_SYNC_SEMAPHORE, 4 );
        }
    }
    arena->results[n] = stale;
}

/* Clients hammer a slot while the server closes its object and creates new ones in it: they
 * see only success or -ESTALE, never corruption, and no new object is damaged. */
START_TEST(test_stale_processes)
{
    struct awe_sync_info info;
    int i, rounds = (int)iters( 300 );
    pid_t pids[3];

    new_object( 0, AWE_SYNC_SEMAPHORE, 4, 4 );
    for (i = 0; i < 3; i++) pids[i] = spawn( stale_user_child, i );
    for (i = 0; i < rounds; i++)
    {
        sleep_ms( 1 );
        reuse_slot( 0, AWE_SYNC_SEMAPHORE, 4, 4 );
    }
    __atomic_store_n( &arena->stop, 1, __ATOMIC_RELEASE );
    reap( pids, 3 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 4 );
    ck_assert_uint_eq( info.flags & AWE_SYNC_FLAG_CORRUPTED, 0 );
}
END_TEST

static void owner_child( int n )
{
    CHILD_EQ( awe_sync_wait( &arena->refs[0], 0 ), 0 );
    arena->tids[0] = awe_sync_self_tid();
    /* dies holding it */
}

static void heir_child( int n )
{
    struct awe_sync_info info;

    announce();
    CHILD_EQ( awe_sync_wait( &arena->refs[0], 20 * SEC ), -EOWNERDEAD );
    CHILD_EQ( awe_sync_query( &arena->refs[0], &info ), 0 );
    CHILD_EQ( info.owner, awe_sync_self_tid() );
    CHILD_EQ( awe_mutex_release( &arena->refs[0], NULL ), 0 );
}

/* The server sees the owner process die and abandons its mutex; a waiter in a third process
 * gets -EOWNERDEAD and owns it. */
START_TEST(test_abandon_processes)
{
    pid_t pids[2];

    new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    pids[0] = spawn( owner_child, 0 );
    reap( pids, 1 );
    pids[1] = spawn( heir_child, 0 );
    wait_for_count( &arena->ready, 1 );
    wait_for_sleep( pids[1] );
    ck_assert_int_eq( server_abandon( &arena->refs[0], arena->tids[0] ), 1 );
    reap( pids + 1, 1 );
    ck_assert_int_eq( awe_sync_wait( &arena->refs[0], 0 ), 0 );
    ck_assert_int_eq( awe_mutex_release( &arena->refs[0], NULL ), 0 );
}
END_TEST

static void wait_all_child( int n )
{
    struct awe_sync_ref *refs[3] = { &arena->refs[0], &arena->refs[1], &arena->refs[2] };
    unsigned int index;

    CHILD_EQ( awe_sync_wait_all( refs, 3, 20 * SEC, &index ), 0 );
    CHILD_EQ( awe_mutex_release( refs[2], NULL ), 0 );
}

/* Wait-all across processes through the hook: nothing is taken until everything can be. */
START_TEST(test_wait_all_processes)
{
    struct awe_sync_info info;
    pid_t pid;

    new_object( 0, AWE_SYNC_SEMAPHORE, 2, 0 );
    new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    new_object( 2, AWE_SYNC_MUTEX, 0, awe_sync_self_tid() );
    pid = spawn( wait_all_child, 0 );
    wait_for_flag( 2, AWE_SYNC_FLAG_NOTIFY );
    ck_assert_int_eq( awe_semaphore_release( &arena->refs[0], 1, NULL ), 0 );
    ck_assert_int_eq( awe_event_set( &arena->refs[1], NULL ), 0 );
    sleep_ms( 10 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[1], &info ), 0 );
    ck_assert_uint_eq( info.count, 1 );
    ck_assert_int_eq( awe_mutex_release( &arena->refs[2], NULL ), 0 );
    reap( &pid, 1 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[0], &info ), 0 );
    ck_assert_uint_eq( info.count, 0 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[1], &info ), 0 );
    ck_assert_uint_eq( info.count, 0 );
    ck_assert_int_eq( awe_sync_query( &arena->refs[2], &info ), 0 );
    ck_assert_uint_eq( info.owner, 0 );
}
END_TEST

static void pulse_waiter_child( int n )
{
    int64_t timeout = arena->refs[0].param ? 20 * SEC : (awe_test_slow_tool() ? 3 : 1) * SEC;

    announce();
    arena->results[n] = awe_sync_wait( &arena->refs[0], timeout );
}

/* PulseEvent through the hook: every sleeper of a manual-reset event is released, exactly one
 * of an auto-reset event, and the event is left non-signaled. */
START_TEST(test_pulse_processes)
{
    int i, released = 0, n = _i ? 3 : 2;
    pid_t pids[3];

    new_object( 0, AWE_SYNC_EVENT, _i ? AWE_SYNC_EVENT_MANUAL : 0, 0 );
    for (i = 0; i < n; i++) arena->results[i] = 1;
    for (i = 0; i < n; i++) pids[i] = spawn( pulse_waiter_child, i );
    wait_for_count( &arena->ready, n );
    for (i = 0; i < n; i++) wait_for_sleep( pids[i] );
    ck_assert_int_eq( awe_event_pulse( &arena->refs[0], NULL ), 0 );
    reap( pids, n );
    for (i = 0; i < n; i++)
    {
        ck_assert_msg( arena->results[i] == 0 || arena->results[i] == -ETIMEDOUT, "got %d",
                       arena->results[i] );
        released += !arena->results[i];
    }
    ck_assert_int_eq( released, _i ? n : 1 );
    ck_assert_int_eq( awe_sync_wait( &arena->refs[0], 0 ), -ETIMEDOUT );
}
END_TEST

static void manual_waiter_child( int n )
{
    announce();
    CHILD_EQ( awe_sync_wait( &arena->refs[0], 20 * SEC ), 0 );
}

/* SetEvent immediately followed by ResetEvent on a manual-reset event still releases every
 * process that was waiting, as on Windows (the sequence number records the set). */
START_TEST(test_event_set_reset_processes)
{
    pid_t pids[3];
    int i;

    new_object( 0, AWE_SYNC_EVENT, AWE_SYNC_EVENT_MANUAL, 0 );
    for (i = 0; i < 3; i++) pids[i] = spawn( manual_waiter_child, i );
    wait_for_count( &arena->ready, 3 );
    for (i = 0; i < 3; i++) wait_for_sleep( pids[i] );
    ck_assert_int_eq( awe_event_set( &arena->refs[0], NULL ), 0 );
    ck_assert_int_eq( awe_event_reset( &arena->refs[0], NULL ), 0 );
    reap( pids, 3 );
    ck_assert_int_eq( awe_sync_wait( &arena->refs[0], 0 ), -ETIMEDOUT );
}
END_TEST

AWE_DEFINE_SUITE(sync)
{
    Suite *s = suite_create( "sync" );
    TCase *tc;

    tc = tcase_create( "core" );
    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_semaphore );
    tcase_add_test( tc, test_mutex );
    tcase_add_test( tc, test_event_manual );
    tcase_add_test( tc, test_event_auto );
    tcase_add_test( tc, test_timeouts );
    tcase_add_test( tc, test_wait_any );
    tcase_add_loop_test( tc, test_wait_any_64, 0, 2 );
    tcase_add_test( tc, test_wait_any_rescan );
    tcase_add_test( tc, test_wait_all );
    tcase_add_test( tc, test_pulse_no_waiters );
    tcase_add_test( tc, test_abandon_thread );
    tcase_add_test( tc, test_notify );
    tcase_add_test( tc, test_no_hook );
    suite_add_tcase( s, tc );

    tc = tcase_create( "limits" );
    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_ref_limits );
    tcase_add_test( tc, test_semaphore_limits );
    tcase_add_test( tc, test_mutex_recursion );
    tcase_add_test( tc, test_wait_limits );
    suite_add_tcase( s, tc );

    tc = tcase_create( "errors" );
    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_corruption );
    tcase_add_test( tc, test_forged_locked );
    tcase_add_test( tc, test_corruption_recursion_word );
    tcase_add_test( tc, test_stale );
    tcase_add_test( tc, test_stale_sleeper );
    suite_add_tcase( s, tc );

    tc = tcase_create( "concurrency" );
    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_set_timeout( tc, 120 );
    tcase_add_test( tc, test_mutex_contention );
    tcase_add_test( tc, test_semaphore_contention );
    tcase_add_test( tc, test_event_pingpong_threads );
    suite_add_tcase( s, tc );

    tc = tcase_create( "multiprocess" );
    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_set_timeout( tc, 120 );
    tcase_add_loop_test( tc, test_handoff_pingpong, 0, 2 );
    tcase_add_test( tc, test_handoff_mutex );
    tcase_add_test( tc, test_mutex_processes );
    tcase_add_test( tc, test_many_waiters_wakers );
    tcase_add_test( tc, test_timeout_processes );
    tcase_add_test( tc, test_wait_any_processes );
    tcase_add_test( tc, test_corruption_processes );
    tcase_add_test( tc, test_stale_processes );
    tcase_add_test( tc, test_abandon_processes );
    tcase_add_test( tc, test_wait_all_processes );
    tcase_add_loop_test( tc, test_pulse_processes, 0, 2 );
    tcase_add_test( tc, test_event_set_reset_processes );
    suite_add_tcase( s, tc );
    return s;
}
