/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phases 6 and 7: the server out of descriptors, and a server that stops answering.
 *
 * Phase 6 starts a second server with RLIMIT_NOFILE 40 (as prlimit --nofile=40 would) and
 * floods it with connections: once accept fails with EMFILE the server must neither spin nor
 * stop serving the clients it has, and once the flood closes --status and a new client must
 * work again.  Phase 7 stops the main server (SIGSTOP) for longer than the client's deadline
 * (CHAOS_CLIENT_DEADLINE, which its clients also get as AWE_SERVER_TIMEOUT, the library's
 * setting, unless that is set already): every library call that needs the server must fail
 * within that deadline instead of hanging, while Map and unmap, which never need the server,
 * go on. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "awe.h"
#include "chaos/chaos.h"

#define EMFILE_NOFILE   40
#define EMFILE_FLOOD    120
#define SPIN_PERCENT    50      /* runnable in more of the samples than this: spinning */

/* In how many of n samples 5 ms apart the process was runnable. */
static unsigned sample_runnable( pid_t pid, unsigned n )
{
    unsigned runnable = 0, i;

    for (i = 0; i < n; i++)
    {
        if (proc_state( pid ) == 'R') runnable++;
        sleep_ms( 5 );
    }
    return runnable;
}

void phase_emfile( unsigned budget_ms )
{
    static struct chaos_server second;
    static struct status_info info;
    struct raw_session sessions[12];
    int flood[EMFILE_FLOOD], early, n = 0, ns = 0, i;
    uint64_t t0, t1, ms0, ms1, cpu;
    long tick = sysconf( _SC_CLK_TCK );
    unsigned runnable, idle, samples = 200;

    memset( &second, 0, sizeof(second) );
    second.exit_delay = 1;
    second.anchor = -1;
    second.nofile = EMFILE_NOFILE;
    snprintf( second.dir, sizeof(second.dir), "%s/emfile", cfg.dir );
    if (mkdir( second.dir, 0700 ) && errno != EEXIST)
    {
        violation( "cannot create %s: %s", second.dir, strerror( errno ) );
        return;
    }
    if (server_start( &second ))
    {
        violation( "a server with RLIMIT_NOFILE %u did not start", EMFILE_NOFILE );
        return;
    }
    if (!server_check( &second, "the start of a server with few descriptors" ))
        server_settle( &second, "the start of a server with few descriptors" );

    /* clients that attach take ten descriptors each in the server: a few succeed, then not
     * (refused, or left waiting to be accepted: either way the first failure ends this) */
    for (i = 0; i < 12; i++)
    {
        if (raw_init( second.dir, &sessions[ns], 1000 )) break;
        ns++;
    }
    verbose( "%d of 12 raw clients attached to a server limited to %u descriptors", ns, EMFILE_NOFILE );
    for (i = 0; i < ns; i++) raw_close( &sessions[i] );
    server_settle( &second, "attaching more clients than a server's descriptors allow" );
    early = raw_connect( second.dir );
    /* the control: with descriptors to spare and nothing to do, it sleeps */
    idle = sample_runnable( second.pid, 100 );

    /* connections beyond the descriptors: accept fails with EMFILE while they wait */
    for (i = 0; i < EMFILE_FLOOD; i++) if ((flood[n] = raw_connect( second.dir )) >= 0) n++;
    sleep_ms( 200 );
    /* a server with nothing it can do must sleep: sample its state (the CPU share it gets
     * depends on what else runs on this machine, the state does not) */
    t0 = proc_cpu_ticks( second.pid );
    ms0 = now_ms();
    runnable = sample_runnable( second.pid, samples );
    t1 = proc_cpu_ticks( second.pid );
    ms1 = now_ms();
    cpu = tick > 0 && ms1 > ms0 ? (t1 - t0) * 1000 * 100 / (uint64_t)tick / (ms1 - ms0) : 0;
    printf( "   %d connections to a server with RLIMIT_NOFILE %u: runnable in %u of %u samples, %llu%% of a CPU "
            "(idle before: runnable in %u of 100)\n", n, EMFILE_NOFILE, runnable, samples, (unsigned long long)cpu, idle );
    if (runnable * 100 > SPIN_PERCENT * samples)
        violation( "with its descriptors exhausted by %d connections (RLIMIT_NOFILE %u), the server spins: "
                   "runnable in %u of %u samples over %llu ms, %llu%% of a CPU", n, EMFILE_NOFILE, runnable,
                   samples, (unsigned long long)(ms1 - ms0), (unsigned long long)cpu );
    /* a client it had accepted before is still served */
    if (early < 0) violation( "could not connect to the second server" );
    else
    {
        struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
        char reply[AWE_MAX_MESSAGE];

        if (raw_call( early, &req, sizeof(req), reply, sizeof(reply), cfg.answer_deadline_ms ) < (ssize_t)sizeof(req))
            violation( "with its descriptors exhausted, the server did not answer a client it had accepted "
                       "within %u ms", cfg.answer_deadline_ms );
        close( early );
    }
    for (i = 0; i < n; i++) close( flood[i] );
    sleep_ms( 200 );

    /* the flood is gone: everything works again */
    if (status_tool( second.dir, &info, cfg.answer_deadline_ms ))
        violation( "after a connection flood closed, awe-server --status did not answer within %u ms",
                   cfg.answer_deadline_ms );
    if (!server_check( &second, "a connection flood at RLIMIT_NOFILE 40" ))
        server_settle( &second, "a connection flood at RLIMIT_NOFILE 40" );
    server_stop( &second, "the end of the connection flood" );
}

/* ---- a stopped server --------------------------------------------------------------------- */

enum stopped_role { ROLE_ALLOCATE, ROLE_FREE, ROLE_OPEN, ROLE_ATTACH, ROLE_MAP, ROLE_COUNT };

static const char *const role_names[ROLE_COUNT] =
{
    "Allocate", "Free", "OpenProcess", "a first call (attaching)", "Map and unmap (no server needed)",
};

struct stopped_report
{
    _Atomic uint32_t ready;
    _Atomic uint32_t go;
    _Atomic uint32_t done;
    uint32_t         ok;
    uint32_t         error;
    uint64_t         elapsed_ms;
    int32_t          pid;
};

static void __attribute__((noreturn)) stopped_client( struct stopped_report *reports, enum stopped_role role )
{
    struct stopped_report *r = &reports[role];
    ULONG_PTR pfns[16], n = 16, i;
    HANDLE process;
    char *window = NULL;
    char timeout[32];
    uint64_t t0;

    /* the library's own deadline (AWE_SERVER_TIMEOUT, where it has one) is the one expected,
     * unless the caller set it otherwise */
    snprintf( timeout, sizeof(timeout), "%u", cfg.client_deadline_ms / 1000 );
    setenv( "AWE_SERVER_TIMEOUT", timeout, 0 );
    r->pid = (int32_t)getpid();
    if (role != ROLE_ATTACH)
    {
        if (enable_lock_privilege() || !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) || n != 16 ||
            !(window = VirtualAlloc( NULL, 16 * CHAOS_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )) ||
            !MapUserPhysicalPages( window, 16, pfns ))
            _exit( 3 );
    }
    atomic_store( &r->ready, 1 );
    while (!atomic_load( &r->go )) sleep_us( 200 );
    t0 = now_ms();
    switch (role)
    {
    case ROLE_ALLOCATE:
        n = 16;
        r->ok = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns );
        break;
    case ROLE_FREE:
        n = 16;
        r->ok = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns );
        break;
    case ROLE_OPEN:
        /* a process the server knows: the Map client */
        r->ok = (process = OpenProcess( PROCESS_VM_OPERATION, FALSE, (DWORD)reports[ROLE_MAP].pid )) != NULL;
        break;
    case ROLE_ATTACH:
        if (enable_lock_privilege()) r->ok = 0;
        else r->ok = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns );
        break;
    default:
        for (i = 0, r->ok = 1; i < 200 && r->ok; i++)
            r->ok = MapUserPhysicalPages( window, 16, NULL ) && MapUserPhysicalPages( window, 16, pfns );
        break;
    }
    r->error = r->ok ? 0 : GetLastError();
    r->elapsed_ms = now_ms() - t0;
    atomic_store( &r->done, 1 );
    _exit( 0 );
}

void phase_stopped_server( unsigned budget_ms )
{
    struct stopped_report *reports = shared_alloc( ROLE_COUNT * sizeof(*reports) );
    uint64_t stop_ms = cfg.client_deadline_ms + 3000, end, t0;
    pid_t pids[ROLE_COUNT];
    unsigned i, failed = 0;

    for (i = 0; i < ROLE_COUNT; i++)
        if (!(pids[i] = chaos_fork())) stopped_client( reports, (enum stopped_role)i );
    end = now_ms() + 5000;
    for (i = 0; i < ROLE_COUNT; i++)
        while (!atomic_load( &reports[i].ready ) && now_ms() < end) sleep_ms( 1 );
    for (i = 0; i < ROLE_COUNT; i++)
        if (!atomic_load( &reports[i].ready ))
        {
            violation( "a client could not set up before the server was stopped (%s)", role_names[i] );
            failed = 1;
        }
    if (!failed && !server_alive( &main_server ))
    {
        violation( "the server died before it could be stopped (%s)", main_server.ended );
        failed = 1;
    }
    if (failed)
    {
        for (i = 0; i < ROLE_COUNT; i++) child_kill( pids[i] );
        return;
    }
    kill( main_server.pid, SIGSTOP );
    t0 = now_ms();
    printf( "   the server stopped for %llu ms; calls must fail within CHAOS_CLIENT_DEADLINE=%u s\n",
            (unsigned long long)stop_ms, cfg.client_deadline_ms / 1000 );
    for (i = 0; i < ROLE_COUNT; i++) atomic_store( &reports[i].go, 1 );
    while (now_ms() < t0 + stop_ms) sleep_ms( 10 );
    kill( main_server.pid, SIGCONT );
    for (i = 0; i < ROLE_COUNT; i++)
    {
        struct stopped_report *r = &reports[i];
        unsigned limit = i == ROLE_MAP ? 1500 : cfg.client_deadline_ms + 1000;

        if (child_wait( pids[i], 10000, NULL ) == -ETIMEDOUT || !atomic_load( &r->done ))
        {
            violation( "%s hung: it did not return even 10 s after the server was resumed", role_names[i] );
            continue;
        }
        printf( "   %-34s returned %s (error %u) after %llu ms\n", role_names[i], r->ok ? "TRUE" : "FALSE",
                r->error, (unsigned long long)r->elapsed_ms );
        if (r->elapsed_ms > limit)
            violation( "%s %s after %llu ms (%s): a caller of a stopped server must get an error within %u ms",
                       role_names[i], r->elapsed_ms + 200 >= stop_ms ? "returned only once the server was resumed"
                                                               : "returned late",
                       (unsigned long long)r->elapsed_ms, r->ok ? "success" : "failure", limit );
        else if (i == ROLE_MAP && !r->ok)
            violation( "Map and unmap failed (error %u) while the server was stopped; they never need it", r->error );
        else if (i != ROLE_MAP && r->ok)
            violation( "%s succeeded within %llu ms although the server was stopped", role_names[i],
                       (unsigned long long)r->elapsed_ms );
        else if (i != ROLE_MAP && !r->error)
            violation( "%s failed without an error code", role_names[i] );
    }
}
