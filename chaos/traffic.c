/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phase 5, concurrent random traffic with data stamps and invariants.
 *
 * Several well-behaved processes, each with worker threads, Allocate, Map, Scatter, unmap and
 * Free at random in windows of their own.  Every mapped page carries a stamp (pid, thread,
 * frame, generation) at both ends; a page is checked before it is unmapped, replaced or
 * freed and after every map (a frame mapped again must hold its last stamp, a new frame must
 * read as zero), and every page unmapped or freed must be inaccessible.  A donor thread per
 * process offers frames it has mapped; a worker of another process frees them through a
 * process handle and checks, the moment its Free returns, that the owner can no longer read
 * them (every process here answers, so none of these Frees may need the server's ack timeout);
 * the owner then checks it cannot read them either. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "awe.h"
#include "chaos/chaos.h"

#define TRAFFIC_PROCESSES 3
#define TRAFFIC_THREADS   2        /* workers per process, besides the donor */
#define WINDOW_PAGES      512
#define MAX_FRAMES        768      /* frames a worker holds at most */
#define DONATION_PAGES    16
#define STAMP_MAGIC       0x5354414d50414745ull

enum donation_state { DONATION_EMPTY, DONATION_OFFERED, DONATION_CLAIMED, DONATION_FREED, DONATION_TAKEN };

/* Frames a donor has mapped and offers to be freed by another process. */
struct donation
{
    _Atomic uint32_t state;        /* enum donation_state */
    _Atomic int32_t  owner;        /* pid */
    char            *addr;         /* where the owner mapped them */
    uint64_t         free_ms;      /* how long the claimer's Free took */
    uint32_t         free_ok;      /* and whether it freed them all (else it reported why) */
    uint64_t         pfns[DONATION_PAGES];
};

struct traffic_shared
{
    _Atomic uint32_t stop;
    struct donation  donations[TRAFFIC_PROCESSES];
};

struct stamp
{
    uint64_t magic;
    uint64_t owner;                /* pid << 32 | thread */
    uint64_t pfn;
    uint64_t gen;
};

struct frame
{
    ULONG_PTR pfn;
    uint64_t  gen;                 /* 0: never mapped, must read as zero */
    int       page;                /* where it is mapped in the window, -1 if nowhere */
};

struct worker
{
    struct traffic_shared *shared;
    unsigned               process, thread;
    char                  *window;
    int                    page_frame[WINDOW_PAGES];  /* index into frames, -1 if unmapped */
    struct frame           frames[MAX_FRAMES];
    unsigned               nframes;
    struct rng             rng;
    uint64_t               owner;
};

static uint64_t calls, stamps;
static int remote_probe_failed;

static char *page_addr( struct worker *w, int page )
{
    return w->window + (size_t)page * CHAOS_PAGE;
}

static void write_stamp( struct worker *w, struct frame *f )
{
    char *p = page_addr( w, f->page );
    struct stamp s = { STAMP_MAGIC, w->owner, f->pfn, ++f->gen };

    memcpy( p, &s, sizeof(s) );
    memcpy( p + CHAOS_PAGE - sizeof(s), &s, sizeof(s) );
}

/* The page where f is mapped must hold f's last stamp (or zeros if f is new). */
static void check_page( struct worker *w, struct frame *f, const char *when )
{
    static const char zero[CHAOS_PAGE];
    const char *p = page_addr( w, f->page );
    struct stamp want = { STAMP_MAGIC, w->owner, f->pfn, f->gen }, head, tail;

    __atomic_add_fetch( &stamps, 1, __ATOMIC_RELAXED );
    if (!f->gen)
    {
        if (memcmp( p, zero, CHAOS_PAGE ))
            violation( "%s: a new frame %#lx mapped at %p does not read as zero", when, (unsigned long)f->pfn, p );
        return;
    }
    memcpy( &head, p, sizeof(head) );
    memcpy( &tail, p + CHAOS_PAGE - sizeof(tail), sizeof(tail) );
    if (memcmp( &head, &want, sizeof(want) ) || memcmp( &tail, &want, sizeof(want) ))
        violation( "%s: the page at %p (frame %#lx, stamp generation %llu of owner %#llx) holds frame %#llx "
                   "generation %llu of owner %#llx (magic %s)", when, p, (unsigned long)f->pfn,
                   (unsigned long long)f->gen, (unsigned long long)w->owner, (unsigned long long)head.pfn,
                   (unsigned long long)head.gen, (unsigned long long)head.owner,
                   head.magic == STAMP_MAGIC ? "right" : "wrong" );
}

static void check_unmapped( struct worker *w, int page, const char *when )
{
    if (!read_probe( getpid(), page_addr( w, page ) ))
        violation( "%s: the page at %p is still readable", when, page_addr( w, page ) );
}

/* Maps frames (by index, all unmapped) at consecutive pages from first, or scattered pages. */
static void map_frames( struct worker *w, const int *pages, const unsigned *which, unsigned n, int scatter )
{
    ULONG_PTR pfns[64];
    PVOID addrs[64];
    unsigned i;
    BOOL ok;

    for (i = 0; i < n; i++)
    {
        int old = w->page_frame[pages[i]];
        if (old >= 0) check_page( w, &w->frames[old], "before a Map over it" );
        pfns[i] = w->frames[which[i]].pfn;
        addrs[i] = page_addr( w, pages[i] );
    }
    __atomic_add_fetch( &calls, 1, __ATOMIC_RELAXED );
    ok = scatter ? MapUserPhysicalPagesScatter( addrs, n, pfns ) : MapUserPhysicalPages( addrs[0], n, pfns );
    if (!ok)
    {
        violation( "%s of %u owned, unmapped frames failed: error %u", scatter ? "Scatter" : "Map", n, GetLastError() );
        return;
    }
    for (i = 0; i < n; i++)
    {
        int old = w->page_frame[pages[i]];
        if (old >= 0) w->frames[old].page = -1;
        w->page_frame[pages[i]] = (int)which[i];
        w->frames[which[i]].page = pages[i];
    }
    for (i = 0; i < n; i++)
    {
        struct frame *f = &w->frames[which[i]];
        check_page( w, f, scatter ? "after a Scatter" : "after a Map" );
        write_stamp( w, f );
    }
}

static void op_allocate( struct worker *w )
{
    ULONG_PTR n = 1 + rng_below( &w->rng, 64 ), pfns[64], i;

    if (w->nframes + n > MAX_FRAMES) return;
    __atomic_add_fetch( &calls, 1, __ATOMIC_RELAXED );
    if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ))
    {
        /* the server's limit is shared by everybody: running out is no violation */
        if (GetLastError() != 1450 && GetLastError() != 1455)
            violation( "Allocate failed: error %u", GetLastError() );
        return;
    }
    for (i = 0; i < n; i++)
    {
        w->frames[w->nframes].pfn = pfns[i];
        w->frames[w->nframes].gen = 0;
        w->frames[w->nframes++].page = -1;
    }
}

/* Picks up to n unmapped frames at random. */
static unsigned pick_unmapped( struct worker *w, unsigned *which, unsigned n )
{
    unsigned got = 0, tries = 0;

    while (got < n && tries++ < 4 * n + 16 && w->nframes)
    {
        unsigned k = (unsigned)rng_below( &w->rng, w->nframes ), i;
        if (w->frames[k].page >= 0) continue;
        for (i = 0; i < got && which[i] != k; i++) ;
        if (i == got) which[got++] = k;
    }
    return got;
}

static void op_map( struct worker *w )
{
    unsigned which[64], n = pick_unmapped( w, which, 1 + (unsigned)rng_below( &w->rng, 64 ) ), i;
    int pages[64], first;

    if (!n) return;
    first = (int)rng_below( &w->rng, WINDOW_PAGES - n + 1 );
    for (i = 0; i < n; i++) pages[i] = first + (int)i;
    map_frames( w, pages, which, n, 0 );
}

static void op_scatter( struct worker *w )
{
    unsigned which[64], n = pick_unmapped( w, which, 1 + (unsigned)rng_below( &w->rng, 32 ) ), i, j;
    int pages[64];

    if (!n) return;
    for (i = 0; i < n; i++)
    {
        /* distinct pages: a Scatter applies duplicates in order, which the shadow does not model */
        do
        {
            pages[i] = (int)rng_below( &w->rng, WINDOW_PAGES );
            for (j = 0; j < i && pages[j] != pages[i]; j++) ;
        } while (j < i);
    }
    map_frames( w, pages, which, n, 1 );
}

static void op_unmap( struct worker *w )
{
    unsigned n = 1 + (unsigned)rng_below( &w->rng, 64 ), i;
    int first = (int)rng_below( &w->rng, WINDOW_PAGES - n + 1 );

    for (i = 0; i < n; i++)
        if (w->page_frame[first + i] >= 0) check_page( w, &w->frames[w->page_frame[first + i]], "before an unmap" );
    __atomic_add_fetch( &calls, 1, __ATOMIC_RELAXED );
    if (!MapUserPhysicalPages( page_addr( w, first ), n, NULL ))
    {
        violation( "an unmap of %u pages failed: error %u", n, GetLastError() );
        return;
    }
    for (i = 0; i < n; i++)
    {
        int f = w->page_frame[first + i];
        if (f >= 0) w->frames[f].page = -1;
        w->page_frame[first + i] = -1;
        check_unmapped( w, first + (int)i, "after an unmap" );
    }
}

static void op_free( struct worker *w )
{
    ULONG_PTR pfns[64], n, i, want;
    unsigned at;
    int pages[64];

    if (!w->nframes) return;
    want = 1 + rng_below( &w->rng, w->nframes < 64 ? w->nframes : 64 );
    at = (unsigned)rng_below( &w->rng, w->nframes - want + 1 );
    for (i = 0; i < want; i++)
    {
        struct frame *f = &w->frames[at + i];
        pages[i] = f->page;
        if (f->page >= 0) check_page( w, f, "before a Free" );
        pfns[i] = f->pfn;
    }
    n = want;
    __atomic_add_fetch( &calls, 1, __ATOMIC_RELAXED );
    if (!FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) || n != want)
        violation( "a Free of %lu owned frames freed %lu: error %u", (unsigned long)want, (unsigned long)n, GetLastError() );
    for (i = 0; i < want; i++)
        if (pages[i] >= 0)
        {
            w->page_frame[pages[i]] = -1;
            check_unmapped( w, pages[i], "after a Free of its frame" );
        }
    memmove( &w->frames[at], &w->frames[at + want], (w->nframes - at - want) * sizeof(w->frames[0]) );
    w->nframes -= (unsigned)want;
    for (i = 0; i < WINDOW_PAGES; i++) if (w->page_frame[i] >= (int)(at + want)) w->page_frame[i] -= (int)want;
}

static void op_check_all( struct worker *w )
{
    unsigned i;

    for (i = 0; i < w->nframes; i++) if (w->frames[i].page >= 0) check_page( w, &w->frames[i], "a periodic check" );
}

/* Frees another process's offered frames through a handle; the owner must have lost them
 * when the Free returns. */
static void op_cross_free( struct worker *w )
{
    struct donation *d = &w->shared->donations[rng_below( &w->rng, TRAFFIC_PROCESSES )];
    uint32_t expected = DONATION_OFFERED;
    ULONG_PTR pfns[DONATION_PAGES], n = DONATION_PAGES, i;
    int32_t owner = atomic_load( &d->owner );
    HANDLE process;
    uint64_t t0, elapsed;
    BOOL ok;

    /* the owner is set before the first offer, so it is known once the claim succeeds */
    if (owner == (int32_t)getpid() || !atomic_compare_exchange_strong( &d->state, &expected, DONATION_CLAIMED ))
        return;
    owner = atomic_load( &d->owner );
    for (i = 0; i < DONATION_PAGES; i++) pfns[i] = (ULONG_PTR)d->pfns[i];
    __atomic_add_fetch( &calls, 2, __ATOMIC_RELAXED );
    if (!(process = OpenProcess( PROCESS_VM_OPERATION, FALSE, (DWORD)owner )))
    {
        violation( "OpenProcess of a live client (pid %d) failed: error %u", (int)owner, GetLastError() );
        atomic_store( &d->state, DONATION_OFFERED );
        return;
    }
    t0 = now_ms();
    ok = FreeUserPhysicalPages( process, &n, pfns );
    elapsed = now_ms() - t0;
    d->free_ms = elapsed;
    d->free_ok = ok && n == DONATION_PAGES;
    fig_add( &fig->cross_frees, 1 );
    if (!ok || n != DONATION_PAGES)
        violation( "a Free of %u frames of pid %d through a handle freed %lu: error %u (first frame %#lx)",
                   DONATION_PAGES, (int)owner, (unsigned long)n, GetLastError(), (unsigned long)pfns[0] );
    else if (elapsed >= 1900)
    {
        /* every process here is alive and answers: nothing should need the server's timeout */
        fig_add( &fig->ack_timeouts, 1 );
        violation( "a Free of %u frames of pid %d, a live and well-behaved client, through a handle took %llu ms: "
                   "the owner did not acknowledge the unmap before the server's timeout, and %s", DONATION_PAGES,
                   (int)owner, (unsigned long long)elapsed,
                   !read_probe( owner, d->addr ) ? "still had the pages mapped when the Free returned"
                   : read_probe( owner, d->addr ) == -EFAULT ? "the pages were gone by then"
                                                             : "its pages could not be checked" );
    }
    else
        for (i = 0; i < DONATION_PAGES; i++)
        {
            int ret = read_probe( owner, d->addr + i * CHAOS_PAGE );

            if (!ret)
            {
                violation( "pid %d could still read a frame another process freed when that Free returned "
                           "(after %llu ms)", (int)owner, (unsigned long long)elapsed );
                break;
            }
            if (ret != -EFAULT)
            {
                /* Yama or a sandbox: the owner checks for itself below, a little later */
                if (!__atomic_exchange_n( &remote_probe_failed, 1, __ATOMIC_RELAXED ))
                    note( "cannot read another process's memory (%s): the owner's pages are checked by the "
                          "owner only", strerror( -ret ) );
                break;
            }
        }
    CloseHandle( process );
    atomic_store( &d->state, DONATION_FREED );
}

static void *worker_thread( void *arg )
{
    struct worker *w = arg;
    unsigned i;

    if (!(w->window = VirtualAlloc( NULL, WINDOW_PAGES * CHAOS_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )))
    {
        violation( "VirtualAlloc(MEM_PHYSICAL) failed: error %u", GetLastError() );
        return NULL;
    }
    for (i = 0; i < WINDOW_PAGES; i++) w->page_frame[i] = -1;
    while (!atomic_load( &w->shared->stop ))
    {
        unsigned pick = (unsigned)rng_below( &w->rng, 100 );

        if (pick < 20) op_allocate( w );
        else if (pick < 45) op_map( w );
        else if (pick < 60) op_scatter( w );
        else if (pick < 72) op_unmap( w );
        else if (pick < 84) op_free( w );
        else if (pick < 90) op_check_all( w );
        else op_cross_free( w );
    }
    op_check_all( w );
    while (w->nframes) op_free( w );
    return NULL;
}

/* Offers frames it mapped; once another process freed them they must be gone from here. */
static void *donor_thread( void *arg )
{
    struct worker *w = arg;
    struct donation *d = &w->shared->donations[w->process];
    ULONG_PTR pfns[DONATION_PAGES], n, i;
    char *window;

    if (!(window = VirtualAlloc( NULL, DONATION_PAGES * CHAOS_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )))
        return NULL;
    atomic_store( &d->owner, (int32_t)getpid() );
    d->addr = window;
    while (!atomic_load( &w->shared->stop ))
    {
        uint32_t expected = DONATION_OFFERED, state;
        uint64_t end;

        n = DONATION_PAGES;
        __atomic_add_fetch( &calls, 2, __ATOMIC_RELAXED );
        if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) || n != DONATION_PAGES)
        {
            if (n) FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns );
            sleep_ms( 20 );
            continue;
        }
        if (!MapUserPhysicalPages( window, DONATION_PAGES, pfns ))
        {
            violation( "a donor's Map failed: error %u", GetLastError() );
            break;
        }
        for (i = 0; i < DONATION_PAGES; i++)
        {
            d->pfns[i] = pfns[i];
            memset( window + i * CHAOS_PAGE, 0x5a, 64 );
        }
        atomic_store( &d->state, DONATION_OFFERED );
        /* a claimer has a while to take them; else they are taken back */
        sleep_ms( 20 + (unsigned)rng_below( &w->rng, 200 ) );
        if (atomic_compare_exchange_strong( &d->state, &expected, DONATION_TAKEN ))
        {
            n = DONATION_PAGES;
            if (!FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) || n != DONATION_PAGES)
                violation( "a donor could not free its own frames: %lu freed, error %u", (unsigned long)n, GetLastError() );
            continue;
        }
        end = now_ms() + cfg.ack_deadline_ms + 2000;
        while ((state = atomic_load( &d->state )) == DONATION_CLAIMED && now_ms() < end) sleep_ms( 1 );
        if (state != DONATION_FREED)
        {
            violation( "a claimer did not finish its cross-process Free within %u ms", cfg.ack_deadline_ms + 2000 );
            break;
        }
        /* gone from here too; after a timed-out Free the notification may still be on its way */
        end = now_ms() + (d->free_ms >= 1900 ? cfg.ack_deadline_ms : 0);
        for (i = 0; i < DONATION_PAGES && d->free_ok; i++)
        {
            while (!read_probe( getpid(), window + i * CHAOS_PAGE ) && now_ms() < end) sleep_ms( 5 );
            if (!read_probe( getpid(), window + i * CHAOS_PAGE ))
            {
                violation( "a donor can still read a frame another process freed through a handle (that Free "
                           "took %llu ms)", (unsigned long long)d->free_ms );
                break;
            }
        }
        atomic_store( &d->state, DONATION_EMPTY );
    }
    return NULL;
}

static void __attribute__((noreturn)) traffic_process( struct traffic_shared *shared, unsigned index )
{
    static struct worker workers[TRAFFIC_THREADS + 1];
    pthread_t threads[TRAFFIC_THREADS + 1];
    unsigned i;
    int err;

    if ((err = enable_lock_privilege()))
    {
        violation( "AdjustTokenPrivileges failed: error %d", err );
        _exit( 3 );
    }
    for (i = 0; i <= TRAFFIC_THREADS; i++)
    {
        workers[i].shared = shared;
        workers[i].process = index;
        workers[i].thread = i;
        workers[i].owner = (uint64_t)getpid() << 32 | i;
        rng_seed( &workers[i].rng, rng_next( &rng ) );
        pthread_create( &threads[i], NULL, i < TRAFFIC_THREADS ? worker_thread : donor_thread, &workers[i] );
    }
    for (i = 0; i <= TRAFFIC_THREADS; i++) pthread_join( threads[i], NULL );
    fig_add( &fig->calls, calls );
    fig_add( &fig->stamps, stamps );
    _exit( 0 );
}

void phase_traffic( unsigned budget_ms )
{
    struct traffic_shared *shared = shared_alloc( sizeof(*shared) );
    uint64_t calls0 = fig_get( &fig->calls ), stamps0 = fig_get( &fig->stamps ), cross0 = fig_get( &fig->cross_frees );
    uint64_t start = now_ms();
    pid_t pids[TRAFFIC_PROCESSES];
    unsigned i, run = budget_ms > 3000 ? budget_ms - 1500 : 1500;

    for (i = 0; i < TRAFFIC_PROCESSES; i++) if (!(pids[i] = chaos_fork())) traffic_process( shared, i );
    /* the server must answer everybody else while the traffic runs */
    while (now_ms() < start + run)
    {
        sleep_ms( run / 4 < 1000 ? run / 4 : 1000 );
        if (server_check( &main_server, "concurrent traffic (while it runs)" )) break;
    }
    atomic_store( &shared->stop, 1 );
    for (i = 0; i < TRAFFIC_PROCESSES; i++)
    {
        int status;
        char how[96];

        if (child_wait( pids[i], 20000, &status ) == -ETIMEDOUT)
            violation( "a traffic process did not finish within 20 s of being told to" );
        else if (!WIFEXITED( status ) || WEXITSTATUS( status ))
        {
            describe_status( status, how, sizeof(how) );
            violation( "a traffic process ended with %s", how );
        }
    }
    printf( "   %u processes of %u threads: %llu library calls, %llu stamps checked, %llu cross-process frees\n",
            TRAFFIC_PROCESSES, TRAFFIC_THREADS + 1, (unsigned long long)(fig_get( &fig->calls ) - calls0),
            (unsigned long long)(fig_get( &fig->stamps ) - stamps0),
            (unsigned long long)(fig_get( &fig->cross_frees ) - cross0) );
    server_settle( &main_server, "concurrent traffic" );
}
