/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phase 1, kill storms: library clients killed at random moments, some in the middle of a
 * request, some stopped first; after each wave the server must have reclaimed everything. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "awe.h"
#include "chaos/chaos.h"

#define STORM_SLOTS    12      /* workers in a wave, at most */
#define STORM_PFNS     64      /* frames a worker offers its siblings to free */
#define STORM_WINDOW   2048    /* pages of a worker's AWE window */
#define STORM_FRAMES   40000   /* frames a worker keeps track of */

enum storm_op
{
    OP_START, OP_PRIVILEGE, OP_RESERVE, OP_ALLOC, OP_ALLOC_LARGE, OP_MAP, OP_SCATTER, OP_UNMAP,
    OP_FREE, OP_CROSS_FREE, OP_OPEN, OP_PUBLISH, OP_IDLE, OP_COUNT
};

static const char *const op_names[OP_COUNT] =
{
    "start", "AdjustTokenPrivileges", "VirtualAlloc", "Allocate", "a large Allocate", "Map",
    "Scatter", "unmap", "Free", "a cross-process Free", "OpenProcess", "publish", "idle",
};

/* What a worker shares with the driver and its siblings. */
struct storm_slot
{
    _Atomic int32_t  pid;                 /* 0 until the worker runs */
    _Atomic uint32_t op;                  /* enum storm_op: what it does now */
    _Atomic uint32_t npfns;
    uint32_t         max_ops;             /* 0: run until killed */
    _Atomic uint64_t pfns[STORM_PFNS];    /* some of its frames */
};

enum storm_fate { FATE_TIMED, FATE_MID_ALLOC, FATE_MID_CROSS_FREE, FATE_STOP_KILL, FATE_EXIT, FATE_COUNT };

static const char *const fate_names[FATE_COUNT] =
{
    "killed at a random moment", "killed in a large Allocate", "killed in a cross-process Free",
    "stopped, then killed", "exited",
};

static inline void set_op( struct storm_slot *self, enum storm_op op )
{
    /* relaxed: the driver only samples it to pick a moment */
    atomic_store_explicit( &self->op, op, memory_order_relaxed );
}

/* Writes one byte into each page through the kernel, so that a page a sibling's Free just
 * unmapped fails the call instead of killing the worker. */
static void touch_pages( char *base, size_t count, char value )
{
    struct iovec local = { &value, 1 }, remote[64];
    size_t i, n = 0;

    for (i = 0; i < count; i++)
    {
        remote[n].iov_base = base + i * CHAOS_PAGE;
        remote[n++].iov_len = 1;
        if (n == 64 || i + 1 == count)
        {
            struct iovec locals[64];
            size_t k;
            for (k = 0; k < n; k++) locals[k] = local;
            process_vm_writev( getpid(), locals, n, remote, n, 0 );
            n = 0;
        }
    }
}

static void remove_frames( ULONG_PTR *frames, ULONG_PTR *nframes, ULONG_PTR at, ULONG_PTR count )
{
    memmove( frames + at, frames + at + count, (*nframes - at - count) * sizeof(*frames) );
    *nframes -= count;
}

/* A client that does everything the library offers, at random, until it is killed or has
 * done max_ops operations. */
static void __attribute__((noreturn)) storm_worker( struct storm_slot *board, unsigned index, unsigned nslots )
{
    struct storm_slot *self = &board[index];
    ULONG_PTR *frames = malloc( STORM_FRAMES * sizeof(*frames) ), nframes = 0, ops;
    ULONG_PTR pfns[STORM_PFNS];
    PVOID addrs[64];
    char *window;

    atomic_store( &self->pid, (int32_t)getpid() );
    set_op( self, OP_PRIVILEGE );
    if (!frames || enable_lock_privilege()) _exit( 3 );
    set_op( self, OP_RESERVE );
    if (!(window = VirtualAlloc( NULL, STORM_WINDOW * CHAOS_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )))
        _exit( 4 );
    for (ops = 0; !self->max_ops || ops < self->max_ops; ops++)
    {
        unsigned pick = (unsigned)rng_below( &rng, 100 );
        ULONG_PTR n, at, pos, i;

        fig_add( &fig->calls, 1 );
        if (pick < 20 || (pick < 30 && nframes + 16384 > STORM_FRAMES))
        {
            n = 1 + rng_below( &rng, 512 );
            if (nframes + n > STORM_FRAMES) continue;
            set_op( self, OP_ALLOC );
            if (AllocateUserPhysicalPages( GetCurrentProcess(), &n, frames + nframes )) nframes += n;
        }
        else if (pick < 30)
        {
            n = 4096 + rng_below( &rng, 12288 );
            set_op( self, OP_ALLOC_LARGE );
            if (AllocateUserPhysicalPages( GetCurrentProcess(), &n, frames + nframes )) nframes += n;
        }
        else if (pick < 50 && nframes)
        {
            n = 1 + rng_below( &rng, nframes < 256 ? nframes : 256 );
            at = rng_below( &rng, nframes - n + 1 );
            pos = rng_below( &rng, STORM_WINDOW - n + 1 );
            set_op( self, OP_MAP );
            if (MapUserPhysicalPages( window + pos * CHAOS_PAGE, n, frames + at ))
                touch_pages( window + pos * CHAOS_PAGE, n, (char)ops );
        }
        else if (pick < 60 && nframes)
        {
            n = 1 + rng_below( &rng, 64 );
            for (i = 0; i < n; i++)
            {
                addrs[i] = window + rng_below( &rng, STORM_WINDOW ) * CHAOS_PAGE;
                pfns[i] = rng_below( &rng, 4 ) ? frames[rng_below( &rng, nframes )] : 0;
            }
            set_op( self, OP_SCATTER );
            MapUserPhysicalPagesScatter( addrs, n, pfns );
        }
        else if (pick < 68)
        {
            n = 1 + rng_below( &rng, 512 );
            pos = rng_below( &rng, STORM_WINDOW - n + 1 );
            set_op( self, OP_UNMAP );
            MapUserPhysicalPages( window + pos * CHAOS_PAGE, n, NULL );
        }
        else if (pick < 80 && nframes)
        {
            ULONG_PTR want = 1 + rng_below( &rng, nframes );
            at = rng_below( &rng, nframes - want + 1 );
            n = want;
            set_op( self, OP_FREE );
            FreeUserPhysicalPages( GetCurrentProcess(), &n, frames + at );
            remove_frames( frames, &nframes, at, want );
        }
        else if (pick < 87 && nframes)
        {
            set_op( self, OP_PUBLISH );
            n = nframes < STORM_PFNS ? nframes : STORM_PFNS;
            at = rng_below( &rng, nframes - n + 1 );
            atomic_store( &self->npfns, 0 );
            for (i = 0; i < n; i++) atomic_store( &self->pfns[i], frames[at + i] );
            atomic_store( &self->npfns, (uint32_t)n );
        }
        else if (pick < 98)
        {
            struct storm_slot *other = &board[rng_below( &rng, nslots )];
            int32_t pid = atomic_load( &other->pid );
            HANDLE process;

            if (!pid || other == self) continue;
            n = atomic_load( &other->npfns );
            for (i = 0; i < n && i < STORM_PFNS; i++) pfns[i] = atomic_load( &other->pfns[i] );
            set_op( self, OP_OPEN );
            if (!(process = OpenProcess( PROCESS_VM_OPERATION, FALSE, (DWORD)pid ))) continue;
            if (pick < 96 && n)
            {
                set_op( self, OP_CROSS_FREE );
                FreeUserPhysicalPages( process, &n, pfns );
                fig_add( &fig->cross_frees, 1 );
            }
            /* some handles are left open: the process dies with them */
            if (rng_below( &rng, 4 )) CloseHandle( process );
        }
        else
        {
            set_op( self, OP_IDLE );
            sleep_us( 500 );
        }
    }
    _exit( 0 );
}

struct storm_worker_state
{
    pid_t           pid;
    enum storm_fate fate;
    uint64_t        stop_at, kill_at;     /* ms after the wave started */
    int             stopped, killed, done;
};

static const char *worker_op( const struct storm_slot *slot )
{
    uint32_t op = atomic_load( &slot->op );
    return op < OP_COUNT ? op_names[op] : "?";
}

/* Checks how a worker ended: the driver's SIGKILL, or a clean exit when it was meant to exit. */
static void judge_worker( struct storm_worker_state *w, const struct storm_slot *slot, int status )
{
    char how[96];

    describe_status( status, how, sizeof(how) );
    if (w->killed && WIFSIGNALED( status ) && WTERMSIG( status ) == SIGKILL) return;
    if (!w->killed && WIFEXITED( status ) && !WEXITSTATUS( status )) return;
    violation( "a kill-storm client (%s) ended with %s in %s", fate_names[w->fate], how, worker_op( slot ) );
}

/* One wave: start the workers, kill them as their fates say, reap them all. */
static void storm_wave( struct storm_slot *board, unsigned nworkers, unsigned *fates_seen,
                        unsigned *caught )
{
    struct storm_worker_state workers[STORM_SLOTS];
    uint64_t start = now_ms(), t;
    unsigned i, left = nworkers;

    memset( board, 0, sizeof(*board) * STORM_SLOTS );
    for (i = 0; i < nworkers; i++)
    {
        struct storm_worker_state *w = &workers[i];

        memset( w, 0, sizeof(*w) );
        w->fate = (enum storm_fate)rng_below( &rng, FATE_COUNT );
        w->kill_at = rng_below( &rng, 400 );
        if (w->fate == FATE_STOP_KILL)
        {
            w->stop_at = w->kill_at;
            w->kill_at += 50 + rng_below( &rng, 600 );
        }
        if (w->fate == FATE_MID_ALLOC || w->fate == FATE_MID_CROSS_FREE) w->kill_at = 2000;
        board[i].max_ops = w->fate == FATE_EXIT ? 20 + (uint32_t)rng_below( &rng, 300 ) : 0;
        fates_seen[w->fate]++;
        if (!(w->pid = chaos_fork())) storm_worker( board, i, nworkers );
        if (w->pid < 0)
        {
            w->done = 1;
            left--;
        }
    }
    while (left)
    {
        t = now_ms() - start;
        if (t > 40000)
        {
            /* every worker was killed or told to exit long ago: the wave itself has a deadline */
            for (i = 0; i < nworkers; i++)
                if (!workers[i].done)
                {
                    violation( "a kill-storm client (%s) was still there 40 s into its wave, in %s",
                               fate_names[workers[i].fate], worker_op( &board[i] ) );
                    child_kill( workers[i].pid );
                }
            break;
        }
        for (i = 0; i < nworkers; i++)
        {
            struct storm_worker_state *w = &workers[i];
            uint32_t op = atomic_load( &board[i].op );
            int status;

            if (w->done) continue;
            if (waitpid( w->pid, &status, WNOHANG ) == w->pid)
            {
                w->done = 1;
                left--;
                judge_worker( w, &board[i], status );
                continue;
            }
            if (w->killed) continue;
            switch (w->fate)
            {
            case FATE_STOP_KILL:
                if (!w->stopped && t >= w->stop_at)
                {
                    kill( w->pid, SIGSTOP );
                    w->stopped = 1;
                    fig_add( &fig->stops, 1 );
                }
                break;
            case FATE_MID_ALLOC:
            case FATE_MID_CROSS_FREE:
                if (op == (w->fate == FATE_MID_ALLOC ? OP_ALLOC_LARGE : OP_CROSS_FREE))
                {
                    /* a little into the request: the server is populating, or waiting for an ack */
                    sleep_us( (unsigned)rng_below( &rng, 300 ) );
                    w->kill_at = t;
                    (*caught)++;
                }
                break;
            case FATE_EXIT:
                if (t > 20000)
                {
                    violation( "a kill-storm client meant to exit after %u operations hung in %s",
                               board[i].max_ops, worker_op( &board[i] ) );
                    w->kill_at = t;
                    w->fate = FATE_TIMED;
                }
                else continue;
                break;
            default:
                break;
            }
            if (t >= w->kill_at)
            {
                kill( w->pid, SIGKILL );
                w->killed = 1;
                fig_add( &fig->kills, 1 );
            }
        }
        sleep_us( 200 );
    }
}

void phase_kill_storms( unsigned budget_ms )
{
    struct storm_slot *board = shared_alloc( sizeof(*board) * STORM_SLOTS );
    uint64_t end = now_ms() + budget_ms, calls = fig_get( &fig->calls ), kills0 = fig_get( &fig->kills );
    unsigned waves = 0, clients = 0, survived_waves = 0, fates[FATE_COUNT] = { 0 }, caught = 0, i;
    char after[64];

    do
    {
        unsigned nworkers = 4 + (unsigned)rng_below( &rng, STORM_SLOTS - 3 );
        uint64_t kills = fig_get( &fig->kills );

        storm_wave( board, nworkers, fates, &caught );
        waves++;
        clients += nworkers;
        snprintf( after, sizeof(after), "kill-storm wave %u", waves );
        if (!server_check( &main_server, after ) && !server_settle( &main_server, after ))
        {
            fig_add( &fig->kills_survived, fig_get( &fig->kills ) - kills );
            survived_waves++;
        }
    } while (now_ms() < end);

    printf( "   %u waves (%u clean), %u clients:", waves, survived_waves, clients );
    for (i = 0; i < FATE_COUNT; i++) printf( "%s %u %s", i ? "," : "", fates[i], fate_names[i] );
    printf( "; %llu killed (%u inside the request they were waited for), %llu library calls\n",
            (unsigned long long)(fig_get( &fig->kills ) - kills0), caught,
            (unsigned long long)(fig_get( &fig->calls ) - calls) );
}
