/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory pressure: processes allocate up to the server's quota, remap over it, free half, exit.
 *
 *   bench_pressure [--quick] [--tsv FILE]
 *
 * A private awe-server runs with --quota (512 MiB per process; quick: 64 MiB), so that four
 * processes stay well inside this machine's memory.  Each process, in step with the others:
 *   1. allocates in batches of 1000 pages until a call fails: the call that crosses the quota
 *      gets fewer pages than it asked for (partial allocation), the next one fails, with
 *      ERROR_COMMITMENT_LIMIT;
 *   2. remaps random 64 KiB windows of an AWE window over a quarter of its frames, reading each
 *      window, checking that it shows the frames it should, and stamping it;
 *   3. frees half of its frames in one call (the mapped ones among them are unmapped first);
 *   4. exits holding the other half, some of it mapped: the server must take it all back.
 * Between phases the parent reads /proc/meminfo (Mlocked, Shmem, MemAvailable) and, since
 * this machine is shared, the server's own share (VmLck, RssShmem of the awe-server: the frames
 * of every process).  After the last exit it waits (up to 10 s) until no growth is left: the
 * server's locked and shared memory back to what it was before the processes started, and
 * Mlocked and Shmem no higher than then (within a tolerance for the rest of the machine; the
 * check is one-sided because other processes may well free memory meanwhile).  It checks that
 * no process was killed and that the server is alive and holds no process.  It exits non-zero when a check fails.  The table gets the throughput of
 * each phase (all processes together) and how long the memory took to come back; there is no
 * baseline column here. */

#include <pthread.h>
#include <sys/mman.h>
#include "bench.h"

#define PAGE        4096
#define NPROC       4
#define BATCH       1000                /* pages per Allocate call: not a divisor of the quota */
#define GROUP_PAGES 16                  /* a 64 KiB window */

enum phase { PH_ALLOC, PH_REMAP, PH_FREE, NPHASES };
static const char *const phase_names[NPHASES] = { "allocate", "remap", "free half" };

struct report
{
    uint64_t granted;                   /* frames allocated in all */
    uint64_t calls;                     /* Allocate calls that succeeded */
    uint64_t partial_asked;             /* the call that got fewer pages than asked, if any */
    uint64_t partial_got;
    uint32_t error;                     /* GetLastError() of the call that failed */
    uint32_t pad;
    uint64_t windows;                   /* windows remapped */
    uint64_t bad_windows;               /* windows that did not show their frames */
    uint64_t freed;                     /* frames freed in phase 3 */
    char     failure[160];              /* why the process gave up, if it did */
};

struct shared
{
    pthread_barrier_t barrier;          /* NPROC children + the parent, at each phase boundary */
    struct report     child[NPROC];
};

static struct shared *shared;
static uint64_t quota_frames;
static double remap_seconds;

static void child_fail( struct report *r, const char *fmt, ... )
{
    va_list args;

    va_start( args, fmt );
    vsnprintf( r->failure, sizeof(r->failure), fmt, args );
    va_end( args );
}

/* One process's life; returns its exit status.  It always reaches every barrier. */
static int child_main( int id )
{
    struct report *r = &shared->child[id];
    ULONG_PTR *pfns = calloc( quota_frames + BATCH, sizeof(*pfns) ), n;
    uint64_t rng = 0x1234567ull * (id + 1), *stamps = NULL;
    size_t slots = 0, groups = 0, *slot_group = NULL, *free_groups = NULL, nfree = 0, i;
    char *win = NULL;
    double deadline;

    if (!pfns) child_fail( r, "out of memory" );
    else bench_enable_lock_privilege();

    pthread_barrier_wait( &shared->barrier );
    /* 1. allocate until the quota says no */
    while (pfns && !r->failure[0])
    {
        if (r->granted > quota_frames + BATCH)
        {
            child_fail( r, "allocated %llu frames, past the quota", (unsigned long long)r->granted );
            break;
        }
        n = BATCH;
        SetLastError( 0 );
        if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns + r->granted ))
        {
            r->error = GetLastError();
            break;
        }
        if (n < BATCH)
        {
            r->partial_asked = BATCH;
            r->partial_got = n;
        }
        r->granted += n;
        r->calls++;
    }

    pthread_barrier_wait( &shared->barrier );
    /* 2. remap random windows over a quarter of the frames, checking what each shows */
    groups = r->granted / GROUP_PAGES;
    slots = groups / 4;
    if (!r->failure[0] && slots)
    {
        win = VirtualAlloc( NULL, slots * GROUP_PAGES * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
        slot_group = malloc( slots * sizeof(*slot_group) );
        free_groups = malloc( groups * sizeof(*free_groups) );
        stamps = calloc( groups, sizeof(*stamps) );
        if (!win || !slot_group || !free_groups || !stamps) child_fail( r, "window: error %u", GetLastError() );
    }
    for (i = 0; i < slots && !r->failure[0]; i++)
    {
        slot_group[i] = i;
        if (!MapUserPhysicalPages( win + i * GROUP_PAGES * PAGE, GROUP_PAGES, pfns + i * GROUP_PAGES ))
            child_fail( r, "Map: error %u", GetLastError() );
    }
    for (i = slots; i < groups; i++) free_groups[nfree++] = i;
    deadline = bench_now_ns() + remap_seconds * 1e9;
    while (!r->failure[0] && slots && nfree && (r->windows % 64 || bench_now_ns() < deadline))
    {
        size_t s = bench_random( &rng ) % slots, f = bench_random( &rng ) % nfree;
        size_t group = free_groups[f];
        volatile uint64_t *words = (volatile uint64_t *)(win + s * GROUP_PAGES * PAGE);
        uint64_t sum = 0, stamp = ((uint64_t)id << 48) | (r->windows + 1);

        free_groups[f] = slot_group[s];
        slot_group[s] = group;
        if (!MapUserPhysicalPages( (void *)words, GROUP_PAGES, pfns + group * GROUP_PAGES ))
        {
            child_fail( r, "remap: error %u", GetLastError() );
            break;
        }
        for (i = 0; i < GROUP_PAGES * PAGE / sizeof(*words); i++) sum += words[i];
        if (words[0] != stamps[group]) r->bad_windows++;
        words[0] = stamps[group] = stamp;
        words[1] = sum;
        r->windows++;
    }

    pthread_barrier_wait( &shared->barrier );
    /* 3. free half of the frames in one call */
    if (!r->failure[0] && r->granted)
    {
        n = r->granted / 2;
        if (!FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns )) child_fail( r, "Free: error %u", GetLastError() );
        r->freed = n;
    }

    pthread_barrier_wait( &shared->barrier );
    /* 4. exit with the rest still allocated, and partly mapped */
    return r->failure[0] ? 1 : 0;
}

static double mib( long kb )
{
    return kb / 1024.0;
}

/* The system's view and the server's share of it at one moment. */
struct snapshot
{
    struct bench_meminfo sys;
    long                 server_locked_kb;
    long                 server_shmem_kb;
};

static void take_snapshot( struct snapshot *s )
{
    bench_read_meminfo( &s->sys );
    bench_read_proc_memory( bench_server()->pid, &s->server_locked_kb, &s->server_shmem_kb );
}

static void print_snapshot( const char *when, const struct snapshot *s, const struct snapshot *base )
{
    printf( "  %-20s %9.1f (%+7.1f) %9.1f (%+7.1f) %10.1f (%+7.1f) | %8.1f (%+7.1f) %8.1f (%+7.1f)\n",
            when, mib( s->sys.mlocked_kb ), mib( s->sys.mlocked_kb - base->sys.mlocked_kb ),
            mib( s->sys.shmem_kb ), mib( s->sys.shmem_kb - base->sys.shmem_kb ),
            mib( s->sys.available_kb ), mib( s->sys.available_kb - base->sys.available_kb ),
            mib( s->server_locked_kb ), mib( s->server_locked_kb - base->server_locked_kb ),
            mib( s->server_shmem_kb ), mib( s->server_shmem_kb - base->server_shmem_kb ) );
}

int main( int argc, char **argv )
{
    static struct bench_row rows[NPHASES + 1];
    struct snapshot base, after[NPHASES], settled;
    const char *server_opts[3] = { NULL, NULL, NULL };
    pthread_barrierattr_t attr;
    struct bench_options opt;
    pid_t pids[NPROC];
    double t[NPHASES + 1], t_exit, settle_ms, start = bench_now_ns();
    long tol_kb;
    uint64_t granted = 0, windows = 0, freed = 0, bad = 0;
    char quota_opt[48], lock_why[160];
    int i, status, failed = 0, killed = 0, locked, fd;
    uint32_t left;

    bench_parse_args( argc, argv, &opt );
    quota_frames = (opt.quick ? (64u << 20) : (512u << 20)) / PAGE;
    remap_seconds = opt.quick ? 0.5 : 3.0;
    snprintf( quota_opt, sizeof(quota_opt), "--quota=%lluK", (unsigned long long)quota_frames * PAGE / 1024 );
    server_opts[0] = quota_opt;
    locked = bench_can_lock( quota_frames * PAGE * NPROC, lock_why, sizeof(lock_why) );
    if (!locked) server_opts[1] = "--unlocked";

    shared = mmap( NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
    if (shared == MAP_FAILED) bench_die( "mmap: %s", strerror( errno ) );
    pthread_barrierattr_init( &attr );
    pthread_barrierattr_setpshared( &attr, PTHREAD_PROCESS_SHARED );
    pthread_barrier_init( &shared->barrier, &attr, NPROC + 1 );

    bench_server_start( server_opts );
    printf( "Memory pressure: %d processes, server quota %llu MiB per process (%llu MiB in all); frames %s\n",
            NPROC, (unsigned long long)(quota_frames * PAGE >> 20),
            (unsigned long long)(quota_frames * PAGE * NPROC >> 20), lock_why );
    take_snapshot( &base );

    fflush( NULL );
    for (i = 0; i < NPROC; i++)
    {
        if ((pids[i] = fork()) < 0) bench_die( "fork: %s", strerror( errno ) );
        if (!pids[i]) _exit( child_main( i ) );
    }
    pthread_barrier_wait( &shared->barrier );
    t[0] = bench_now_ns();
    for (i = 0; i < NPHASES; i++)
    {
        pthread_barrier_wait( &shared->barrier );
        t[i + 1] = bench_now_ns();
        take_snapshot( &after[i] );
    }

    for (i = 0; i < NPROC; i++)
    {
        if (waitpid( pids[i], &status, 0 ) != pids[i]) bench_die( "waitpid: %s", strerror( errno ) );
        if (WIFSIGNALED( status ))
        {
            printf( "  process %d was KILLED by signal %d\n", i, WTERMSIG( status ) );
            killed++;
        }
        else if (WEXITSTATUS( status )) failed++;
    }
    t_exit = bench_now_ns();

    /* every page back: the server's share where it was, the system's no higher than it was
     * (within a tolerance for the rest of this shared machine) */
    tol_kb = quota_frames * PAGE * NPROC / 1024 / 50;
    if (tol_kb < 16 * 1024) tol_kb = 16 * 1024;
    for (;;)
    {
        take_snapshot( &settled );
        settle_ms = (bench_now_ns() - t_exit) / 1e6;
        if ((settled.server_locked_kb <= base.server_locked_kb &&
             settled.server_shmem_kb <= base.server_shmem_kb &&
             settled.sys.mlocked_kb - base.sys.mlocked_kb <= tol_kb &&
             settled.sys.shmem_kb - base.sys.shmem_kb <= tol_kb) || settle_ms > 10000)
            break;
        usleep( 20000 );
    }
    fd = bench_raw_connect();
    left = bench_round_trip( fd );
    close( fd );

    printf( "\nper process (frames of %d KiB; quota %llu frames):\n", PAGE / 1024, (unsigned long long)quota_frames );
    for (i = 0; i < NPROC; i++)
    {
        struct report *r = &shared->child[i];

        printf( "  process %d: granted %llu frames in %llu calls; partial: asked %llu got %llu; then error %u%s; "
                "%llu windows remapped, %llu wrong; freed %llu%s%s\n", i,
                (unsigned long long)r->granted, (unsigned long long)r->calls,
                (unsigned long long)r->partial_asked, (unsigned long long)r->partial_got, r->error,
                r->error == ERROR_COMMITMENT_LIMIT ? " (ERROR_COMMITMENT_LIMIT)" : "",
                (unsigned long long)r->windows, (unsigned long long)r->bad_windows,
                (unsigned long long)r->freed, r->failure[0] ? "; FAILED: " : "", r->failure );
        granted += r->granted;
        windows += r->windows;
        freed += r->freed;
        bad += r->bad_windows;
        if (r->granted != quota_frames || r->error != ERROR_COMMITMENT_LIMIT || !r->partial_asked ||
            r->bad_windows || r->freed != r->granted / 2)
            failed++;
    }

    printf( "\nphases (all processes together):\n" );
    printf( "  %-10s %8.1f ms  %10.0f frames/s\n", phase_names[PH_ALLOC], (t[1] - t[0]) / 1e6,
            granted / ((t[1] - t[0]) / 1e9) );
    printf( "  %-10s %8.1f ms  %10.0f windows/s\n", phase_names[PH_REMAP], (t[2] - t[1]) / 1e6,
            windows / ((t[2] - t[1]) / 1e9) );
    printf( "  %-10s %8.1f ms  %10.0f frames/s\n", phase_names[PH_FREE], (t[3] - t[2]) / 1e6,
            freed / ((t[3] - t[2]) / 1e9) );
    printf( "\nthe system's view (/proc/meminfo) and the server's share (/proc/PID/status), MiB, with the\n"
            "change from before the processes started:\n" );
    printf( "  %-20s %19s %19s %20s | %18s %18s\n", "", "Mlocked", "Shmem", "MemAvailable",
            "server VmLck", "server RssShmem" );
    print_snapshot( "before", &base, &base );
    for (i = 0; i < NPHASES; i++)
    {
        char when[32];
        snprintf( when, sizeof(when), "after %s", phase_names[i] );
        print_snapshot( when, &after[i], &base );
    }
    print_snapshot( "after the last exit", &settled, &base );

    printf( "\nchecks:\n" );
    printf( "  every process got exactly its quota, partially at the end, then error 1455: %s\n",
            failed ? "NO" : "yes" );
    printf( "  no process killed: %s\n", killed ? "NO" : "yes" );
    printf( "  every page back (the server's share as before, Mlocked and Shmem no more than %.0f MiB above)"
            " %.0f ms after the last exit: %s\n",
            tol_kb / 1024.0, settle_ms, settle_ms > 10000 ? "NO" : "yes" );
    printf( "  server alive, holding %u processes: %s\n", left, bench_server_alive() && !left ? "yes" : "NO" );
    if (settle_ms > 10000 || !bench_server_alive() || left) failed++;

    rows[0] = (struct bench_row){ "pressure_alloc", "ns/frame", (t[1] - t[0]) / granted, BENCH_NONE, BENCH_NONE };
    rows[1] = (struct bench_row){ "pressure_remap", "us/window", (t[2] - t[1]) / 1e3 / (windows ? windows : 1),
                                  BENCH_NONE, BENCH_NONE };
    rows[2] = (struct bench_row){ "pressure_free_half", "ns/frame", (t[3] - t[2]) / (freed ? freed : 1),
                                  BENCH_NONE, BENCH_NONE };
    rows[3] = (struct bench_row){ "pressure_reclaim", "ms", settle_ms, BENCH_NONE, BENCH_NONE };
    printf( "\n" );
    bench_print_header();
    for (i = 0; i < 4; i++) bench_print_row( &rows[i] );
    printf( "run time %.1f s; %s\n", (bench_now_ns() - start) / 1e9,
            failed || killed ? "CHECKS FAILED" : "all checks passed" );
    bench_write_tsv( opt.tsv, rows, 4 );
    bench_server_stop();
    return failed || killed ? 1 : 0;
}
