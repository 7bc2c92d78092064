/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of the hybrid sync objects against process-shared pthread/POSIX primitives, a raw
 * futex ping-pong and esync-style eventfds, measured side by side in one run.
 *
 *   bench_sync [--quick] [--tsv FILE]
 *
 * Uncontended: one acquire plus one release in one thread (ns per pair); floor: a
 * process-shared pthread mutex lock+unlock; naive: an eventfd semaphore write+read (one object
 * per kernel fd, two system calls, as esync does).  Handoff: a round trip between two processes
 * (us), each side waking the other; floor: a raw shared-futex ping-pong; naive: an eventfd
 * ping-pong.  Rows named ref_* put the glibc primitive in the "ours" column, for scale.  Every
 * figure is the median of several repetitions whose cases are interleaved, so drift hits all
 * cases alike.  Targets: uncontended within 2x of the pthread mutex, handoff within 1.5x of the
 * raw futex ping-pong.  --tsv FILE appends the rows to FILE (benchmarks/results/latest.tsv's
 * columns; the header is the Makefile's). */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "awe/futex.h"
#include "awe/sync.h"

#define MAX_REPS 15

/* Everything both processes of a handoff see. */
struct arena
{
    struct awe_sync_shm shm[4];     /* our objects */
    uint32_t            gens[4];    /* their generations */
    struct awe_sync_ref refs[4];    /* sem0, sem1 | event0, event1 | mutex in slot 0 */
    pthread_mutex_t     mutex;      /* process-shared pthread mutex */
    sem_t               sems[2];    /* process-shared POSIX semaphores */
    uint32_t            flags[2];   /* raw futex ping-pong: one word per direction */
    uint32_t            taken[2];   /* mutex handoff: acquisitions per side */
    uint32_t            ready;      /* mutex handoff: side 0 holds the mutex */
    uint64_t            settle_ns[2];  /* mutex handoff: deliberate waits, per side */
    int                 efd[2];     /* eventfds, inherited across fork */
};

static struct arena *arena;
static long pairs_fast = 2000000;   /* uncontended pairs per repetition, user-space cases */
static long pairs_slow = 100000;    /* uncontended pairs per repetition, eventfd */
static long round_trips = 10000;    /* handoff round trips per repetition */
static int reps = 7;

static double now_sec( void )
{
    struct timespec ts;

    clock_gettime( CLOCK_MONOTONIC, &ts );
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void cpu_pause( void )
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void die( const char *what, int err )
{
    fprintf( stderr, "bench_sync: %s: %s\n", what, strerror( err < 0 ? -err : err ) );
    exit( 1 );
}

static void check( int ret, const char *what )
{
    if (ret) die( what, ret );
}

static void new_object( unsigned int slot, enum awe_sync_type type, uint32_t param, uint32_t initial )
{
    arena->gens[slot]++;
    check( awe_sync_ref_init( &arena->refs[slot], &arena->shm[slot], &arena->gens[slot],
                              0x100 + slot, arena->gens[slot], type, param ), "ref_init" );
    check( awe_sync_create( &arena->refs[slot], initial ), "create" );
}

static void eventfd_post( int fd )
{
    uint64_t one = 1;

    if (write( fd, &one, sizeof(one) ) != sizeof(one)) die( "eventfd write", errno );
}

static void eventfd_take( int fd )
{
    uint64_t value;

    if (read( fd, &value, sizeof(value) ) != sizeof(value)) die( "eventfd read", errno );
}

/* ---- uncontended: ns per acquire+release pair, after a tenth as many untimed ------------- */

static double run_pthread_mutex( long n )
{
    double start = 0;
    long i;

    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        pthread_mutex_lock( &arena->mutex );
        pthread_mutex_unlock( &arena->mutex );
    }
    return (now_sec() - start) * 1e9 / n;
}

static double run_posix_sem( long n )
{
    double start = 0;
    long i;

    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        sem_post( &arena->sems[0] );
        sem_wait( &arena->sems[0] );
    }
    return (now_sec() - start) * 1e9 / n;
}

static double run_eventfd( long n )
{
    double start = 0;
    long i;

    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        eventfd_post( arena->efd[0] );
        eventfd_take( arena->efd[0] );
    }
    return (now_sec() - start) * 1e9 / n;
}

static double run_our_mutex( long n )
{
    struct awe_sync_ref *ref = &arena->refs[0];
    double start = 0;
    long i;

    new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    check( awe_sync_wait( ref, 0 ), "mutex wait" );
    check( awe_mutex_release( ref, NULL ), "mutex release" );
    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        awe_sync_wait( ref, AWE_SYNC_INFINITE );
        awe_mutex_release( ref, NULL );
    }
    return (now_sec() - start) * 1e9 / n;
}

static double run_our_semaphore( long n )
{
    struct awe_sync_ref *ref = &arena->refs[0];
    double start = 0;
    long i;

    new_object( 0, AWE_SYNC_SEMAPHORE, 1, 1 );
    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        awe_sync_wait( ref, AWE_SYNC_INFINITE );
        awe_semaphore_release( ref, 1, NULL );
    }
    return (now_sec() - start) * 1e9 / n;
}

static double run_our_event( long n )
{
    struct awe_sync_ref *ref = &arena->refs[0];
    double start = 0;
    long i;

    new_object( 0, AWE_SYNC_EVENT, 0, 0 );
    for (i = -n / 10; i < n; i++)
    {
        if (!i) start = now_sec();
        awe_event_set( ref, NULL );
        awe_sync_wait( ref, AWE_SYNC_INFINITE );
    }
    return (now_sec() - start) * 1e9 / n;
}

/* ---- handoff: us per round trip between two processes ------------------------------------ */

/* One side of a ping-pong: side 0 signals object 1 then waits for object 0; side 1 the other
 * way round.  Returns side 0's time per round trip after a warm-up. */
typedef void (*pp_fn)( int which );

static double pingpong_side( int side, long rounds, pp_fn signal_obj, pp_fn wait_obj )
{
    long i, warm = rounds / 10 + 1;
    double start = 0;

    for (i = 0; i < warm + rounds; i++)
    {
        if (i == warm) start = now_sec();
        if (side == 0)
        {
            signal_obj( 1 );
            wait_obj( 0 );
        }
        else
        {
            wait_obj( 1 );
            signal_obj( 0 );
        }
    }
    return (now_sec() - start) * 1e6 / rounds;
}

/* The raw floor: a flag per direction, set then woken unconditionally, taken by exchange. */
static void futex_signal( int which )
{
    /* release: pairs with the exchange in futex_await */
    __atomic_store_n( &arena->flags[which], 1, __ATOMIC_RELEASE );
    futex_wake( &arena->flags[which], 1, 1 );
}

static void futex_await( int which )
{
    /* acquire: pairs with the store in futex_signal */
    while (!__atomic_exchange_n( &arena->flags[which], 0, __ATOMIC_ACQUIRE ))
        futex_wait( &arena->flags[which], 0, NULL, 1 );
}

static void eventfd_signal( int which ) { eventfd_post( arena->efd[which] ); }
static void eventfd_await( int which ) { eventfd_take( arena->efd[which] ); }
static void posix_sem_signal( int which ) { sem_post( &arena->sems[which] ); }
static void posix_sem_await( int which ) { while (sem_wait( &arena->sems[which] )) ; }
static void our_sem_signal( int which ) { awe_semaphore_release( &arena->refs[which], 1, NULL ); }
static void our_event_signal( int which ) { awe_event_set( &arena->refs[which], NULL ); }
static void our_await( int which ) { awe_sync_wait( &arena->refs[which], AWE_SYNC_INFINITE ); }

/* Mutex handoff: the owner releases the mutex only once the other side sleeps on it and waits
 * for it again only once the other side has it, so ownership strictly alternates and a round
 * trip is two handoffs, each waking a sleeping process, as in the ping-pongs.  "Sleeps" is the
 * WAITERS flag plus SETTLE_NS (five system calls here) for the sleeper to get into the kernel,
 * not much longer, or its CPU idles deeper than in a ping-pong; those deliberate waits
 * are timed and subtracted.  Every wait for the other side yields the CPU after a short spin,
 * since both processes may share one. */
#define SETTLE_NS 5000

static void our_lock( void ) { awe_sync_wait( &arena->refs[0], AWE_SYNC_INFINITE ); }
static void our_unlock( void ) { awe_mutex_release( &arena->refs[0], NULL ); }

static int other_sleeps( void )
{
    /* acquire: a plain look at the flags of the shared word */
    return (__atomic_load_n( &arena->shm[0].state, __ATOMIC_ACQUIRE ) >> 60) & AWE_SYNC_FLAG_WAITERS;
}

static void pause_or_yield( unsigned int *spins )
{
    if (++*spins < 100) cpu_pause();
    else sched_yield();
}

static double mutex_handoff_side( int side, long rounds )
{
    long i, warm = rounds / 10 + 1, total = warm + rounds;
    double start = 0, t;
    unsigned int spins;
    uint32_t seen;

    if (side == 0)
    {
        our_lock();
        __atomic_store_n( &arena->ready, 1, __ATOMIC_RELEASE );
    }
    else while (!__atomic_load_n( &arena->ready, __ATOMIC_ACQUIRE )) sched_yield();

    for (i = 0; i < total; i++)
    {
        if (i == warm) start = now_sec();
        if (side == 1 || i > 0)
        {
            our_lock();
            __atomic_add_fetch( &arena->taken[side], 1, __ATOMIC_RELEASE );
        }
        seen = __atomic_load_n( &arena->taken[1 - side], __ATOMIC_ACQUIRE );
        if (side == 0 || i + 1 < total)
        {
            spins = 0;
            while (!other_sleeps()) pause_or_yield( &spins );
            t = now_sec();
            while (now_sec() - t < SETTLE_NS * 1e-9) sched_yield();
            if (i >= warm)
                __atomic_add_fetch( &arena->settle_ns[side], (uint64_t)((now_sec() - t) * 1e9),
                                    __ATOMIC_RELEASE );
        }
        our_unlock();
        spins = 0;
        if (i + 1 < total)
            while (__atomic_load_n( &arena->taken[1 - side], __ATOMIC_ACQUIRE ) == seen)
                pause_or_yield( &spins );
    }
    t = now_sec() - start;
    /* acquire: side 1's last deliberate wait came before its last lock, which preceded ours */
    t -= (__atomic_load_n( &arena->settle_ns[0], __ATOMIC_ACQUIRE ) +
          __atomic_load_n( &arena->settle_ns[1], __ATOMIC_ACQUIRE )) * 1e-9;
    return t * 1e6 / rounds;
}

enum handoff_kind { HANDOFF_PINGPONG, HANDOFF_MUTEX };

struct handoff
{
    enum handoff_kind kind;
    pp_fn             signal_obj, wait_obj;         /* ping-pong */
};

static double run_side( const struct handoff *h, int side, long rounds )
{
    if (h->kind == HANDOFF_MUTEX) return mutex_handoff_side( side, rounds );
    return pingpong_side( side, rounds, h->signal_obj, h->wait_obj );
}

/* Handoffs run with the two processes pinned to two different CPUs when there are two: where
 * the scheduler puts a forked child varies, and a wake-up on the same CPU (a context switch)
 * costs a fraction of one across CPUs, which made the cases incomparable. */
static int pick_cpus( cpu_set_t *all, int *cpu0, int *cpu1 )
{
    int cpu, found = 0;

    if (sched_getaffinity( 0, sizeof(*all), all )) return 0;
    for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
    {
        if (!CPU_ISSET( cpu, all )) continue;
        if (found++) *cpu1 = cpu;
        else *cpu0 = cpu;
    }
    return found == 2;
}

static void pin_to( int cpu )
{
    cpu_set_t one;

    CPU_ZERO( &one );
    CPU_SET( cpu, &one );
    sched_setaffinity( 0, sizeof(one), &one );
}

static double run_handoff( const struct handoff *h, long rounds )
{
    int status, cpu0 = 0, cpu1 = 0, pinned;
    cpu_set_t all;
    double us;
    pid_t pid;

    arena->flags[0] = arena->flags[1] = 0;
    arena->ready = 0;
    arena->taken[0] = arena->taken[1] = 0;
    arena->settle_ns[0] = arena->settle_ns[1] = 0;
    fflush( NULL );
    if ((pinned = pick_cpus( &all, &cpu0, &cpu1 ))) pin_to( cpu0 );
    if ((pid = fork()) < 0) die( "fork", errno );
    if (!pid)
    {
        if (pinned) pin_to( cpu1 );
        run_side( h, 1, rounds );
        _exit( 0 );
    }
    us = run_side( h, 0, rounds );
    if (waitpid( pid, &status, 0 ) != pid || !WIFEXITED( status ) || WEXITSTATUS( status ))
        die( "handoff child", EIO );
    if (pinned) sched_setaffinity( 0, sizeof(all), &all );
    return us;
}

/* ---- the table ---------------------------------------------------------------------------- */

enum column { OURS, FLOOR, NAIVE, NCOLUMNS };

struct row
{
    const char *name;
    const char *unit;
    double      samples[NCOLUMNS][MAX_REPS];
    double      median[NCOLUMNS];
};

static int compare_double( const void *a, const void *b )
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median( double *v, int n )
{
    qsort( v, n, sizeof(*v), compare_double );
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum row_id
{
    ROW_SEM_UNC, ROW_MUTEX_UNC, ROW_EVENT_UNC, ROW_REF_SEM_UNC,
    ROW_SEM_HO, ROW_MUTEX_HO, ROW_EVENT_HO, ROW_REF_SEM_HO,
    NROWS
};

static struct row rows[NROWS] =
{
    { .name = "semaphore_uncontended", .unit = "ns/pair" }, { .name = "mutex_uncontended", .unit = "ns/pair" },
    { .name = "event_uncontended", .unit = "ns/pair" }, { .name = "ref_posix_sem_uncontended", .unit = "ns/pair" },
    { .name = "semaphore_handoff", .unit = "us/rtt" },  { .name = "mutex_handoff", .unit = "us/rtt" },
    { .name = "event_handoff", .unit = "us/rtt" },  { .name = "ref_posix_sem_handoff", .unit = "us/rtt" },
};

static void setup_arena( void )
{
    pthread_mutexattr_t attr;

    arena = mmap( NULL, sizeof(*arena), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
    if (arena == MAP_FAILED) die( "mmap", errno );
    pthread_mutexattr_init( &attr );
    pthread_mutexattr_setpshared( &attr, PTHREAD_PROCESS_SHARED );
    pthread_mutex_init( &arena->mutex, &attr );
    pthread_mutexattr_destroy( &attr );
    if (sem_init( &arena->sems[0], 1, 0 ) || sem_init( &arena->sems[1], 1, 0 )) die( "sem_init", errno );
    if ((arena->efd[0] = eventfd( 0, EFD_SEMAPHORE )) < 0) die( "eventfd", errno );
    if ((arena->efd[1] = eventfd( 0, EFD_SEMAPHORE )) < 0) die( "eventfd", errno );
}

static void measure( int rep )
{
    struct handoff futex_pp = { HANDOFF_PINGPONG, futex_signal, futex_await };
    struct handoff eventfd_pp = { HANDOFF_PINGPONG, eventfd_signal, eventfd_await };
    struct handoff sem_pp = { HANDOFF_PINGPONG, posix_sem_signal, posix_sem_await };
    struct handoff our_sem_pp = { HANDOFF_PINGPONG, our_sem_signal, our_await };
    struct handoff our_event_pp = { HANDOFF_PINGPONG, our_event_signal, our_await };
    struct handoff our_mutex_ho = { HANDOFF_MUTEX, NULL, NULL };
    double pthread_ns, eventfd_ns, futex_us, eventfd_us;
    int i;

    pthread_ns = run_pthread_mutex( pairs_fast );
    rows[ROW_SEM_UNC].samples[OURS][rep] = run_our_semaphore( pairs_fast );
    rows[ROW_MUTEX_UNC].samples[OURS][rep] = run_our_mutex( pairs_fast );
    rows[ROW_EVENT_UNC].samples[OURS][rep] = run_our_event( pairs_fast );
    rows[ROW_REF_SEM_UNC].samples[OURS][rep] = run_posix_sem( pairs_fast );
    eventfd_ns = run_eventfd( pairs_slow );
    for (i = ROW_SEM_UNC; i <= ROW_REF_SEM_UNC; i++)
    {
        rows[i].samples[FLOOR][rep] = pthread_ns;
        rows[i].samples[NAIVE][rep] = eventfd_ns;
    }

    futex_us = run_handoff( &futex_pp, round_trips );
    new_object( 0, AWE_SYNC_SEMAPHORE, 1, 0 );
    new_object( 1, AWE_SYNC_SEMAPHORE, 1, 0 );
    rows[ROW_SEM_HO].samples[OURS][rep] = run_handoff( &our_sem_pp, round_trips );
    new_object( 0, AWE_SYNC_MUTEX, 0, 0 );
    our_lock();
    our_unlock();
    rows[ROW_MUTEX_HO].samples[OURS][rep] = run_handoff( &our_mutex_ho, round_trips );
    new_object( 0, AWE_SYNC_EVENT, 0, 0 );
    new_object( 1, AWE_SYNC_EVENT, 0, 0 );
    rows[ROW_EVENT_HO].samples[OURS][rep] = run_handoff( &our_event_pp, round_trips );
    rows[ROW_REF_SEM_HO].samples[OURS][rep] = run_handoff( &sem_pp, round_trips );
    eventfd_us = run_handoff( &eventfd_pp, round_trips );
    for (i = ROW_SEM_HO; i <= ROW_REF_SEM_HO; i++)
    {
        rows[i].samples[FLOOR][rep] = futex_us;
        rows[i].samples[NAIVE][rep] = eventfd_us;
    }
}

int main( int argc, char **argv )
{
    const char *tsv = NULL;
    double worst_unc = 0, worst_ho = 0, start = now_sec();
    FILE *out;
    int i, c;

    for (i = 1; i < argc; i++)
    {
        if (!strcmp( argv[i], "--quick" ))
        {
            pairs_fast /= 10;
            pairs_slow /= 10;
            round_trips /= 10;
            reps = 3;
        }
        else if (!strcmp( argv[i], "--tsv" ) && i + 1 < argc) tsv = argv[++i];
        else
        {
            fprintf( stderr, "usage: %s [--quick] [--tsv FILE]\n", argv[0] );
            return 2;
        }
    }

    setup_arena();
    for (i = 0; i < reps; i++) measure( i );
    for (i = 0; i < NROWS; i++)
        for (c = 0; c < NCOLUMNS; c++) rows[i].median[c] = median( rows[i].samples[c], reps );

    printf( "sync objects vs baselines: medians of %d repetitions (%ld pairs, %ld round trips each)\n",
            reps, pairs_fast, round_trips );
    printf( "  floor: uncontended = process-shared pthread mutex lock+unlock, handoff = raw futex ping-pong\n" );
    printf( "  naive: eventfd semaphore (esync-style: one fd per object, a system call per operation)\n\n" );
    printf( "%-27s %-8s %10s %10s %10s %11s %11s\n", "case", "unit", "ours", "floor", "naive",
            "ours/floor", "naive/ours" );
    for (i = 0; i < NROWS; i++)
    {
        double ratio = rows[i].median[OURS] / rows[i].median[FLOOR];

        printf( "%-27s %-8s %10.2f %10.2f %10.2f %10.2fx %10.1fx\n", rows[i].name, rows[i].unit,
                rows[i].median[OURS], rows[i].median[FLOOR], rows[i].median[NAIVE], ratio,
                rows[i].median[NAIVE] / rows[i].median[OURS] );
        if (i <= ROW_EVENT_UNC && ratio > worst_unc) worst_unc = ratio;
        if (i >= ROW_SEM_HO && i <= ROW_EVENT_HO && ratio > worst_ho) worst_ho = ratio;
    }
    printf( "\ntarget uncontended <= 2.0x floor: worst %.2fx, %s\n", worst_unc, worst_unc <= 2.0 ? "met" : "NOT met" );
    printf( "target handoff     <= 1.5x floor: worst %.2fx, %s\n", worst_ho, worst_ho <= 1.5 ? "met" : "NOT met" );
    printf( "run time %.1f s\n", now_sec() - start );

    if (tsv)
    {
        /* appended: make bench writes the header once and collects every benchmark's rows */
        if (!(out = fopen( tsv, "a" ))) die( tsv, errno );
        for (i = 0; i < NROWS; i++)
            fprintf( out, "%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", rows[i].name, rows[i].unit,
                     rows[i].median[OURS], rows[i].median[FLOOR], rows[i].median[NAIVE],
                     rows[i].median[OURS] / rows[i].median[FLOOR],
                     rows[i].median[NAIVE] / rows[i].median[OURS] );
        fclose( out );
    }
    return 0;
}
