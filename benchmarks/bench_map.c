/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of Map and Scatter against the bare system calls and a naive design, in one run.
 *
 *   bench_map [--quick] [--tsv FILE]
 *
 * ours:  MapUserPhysicalPages / MapUserPhysicalPagesScatter through libawe, against a private
 *        awe-server (frames in the process's locked memfd).
 * floor: the system calls our plan issues and nothing else: one
 *        mmap(MAP_SHARED|MAP_FIXED|MAP_POPULATE) per coalesced run of a memfd of the same
 *        size, populated beforehand as the server populates frames, and one PROT_NONE
 *        anonymous MAP_NORESERVE overlay per run to unmap; no validation, tables or lock.
 * naive: the seed mail's sketch taken literally: a real server round trip per call (a
 *        get_status request to the same awe-server over a raw SOCK_SEQPACKET connection),
 *        then one mmap(MAP_SHARED|MAP_FIXED) per page without populate and a first touch of
 *        each page (a fault), no coalescing; unmapping is a round trip and one overlay per page.
 *
 * Cases: map and unmap of contiguous runs of 1, 16, 256 and 4096 pages; scatter (and the
 * matching unmap) of 1024 and 16384 random pages at random addresses; the answer to a 65536-page
 * scatter, which needs more VMAs than vm.max_map_count allows; and a buffer pool: threads
 * remapping random 64 KiB windows of a 1 GiB window over a 4 GiB frame pool, reading and
 * writing each window (here all three columns touch the pages).  Costs are medians of several
 * repetitions; within a repetition the three columns run one after the other, in an order
 * that rotates, so drift hits them alike. */

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include "bench.h"

#define PAGE        4096
#define MAX_REPS    15
#define GROUP_PAGES 16                  /* a buffer-pool window: 64 KiB */
#define POOL_MAP    65536               /* frames for the run and scatter cases */
#define POOL_THREADS 4                  /* buffer-pool threads (this machine has 2 CPUs) */

enum column { OURS, FLOOR, NAIVE, NCOLUMNS };

/* What each column maps into and from. */
static int base_fd = -1;                /* floor and naive: the memfd standing for the frames */
static ULONG_PTR *pfns;                 /* ours: every frame allocated, ascending */
static size_t nframes;                  /* frames allocated (and pages in base_fd) */
static int rt_fd = -1;                  /* naive: raw connection for round trips */
static int frames_locked;               /* the server locks frames: so does the baseline */
static int reps = 7;
static int quick;

/* One mapping system call of a floor or naive plan. */
struct sys_op
{
    char  *va;
    size_t pages;
    size_t frame;                       /* first page of base_fd */
};

static void fail_api( const char *what )
{
    bench_die( "%s failed: error %u", what, GetLastError() );
}

static void sys_map( char *va, size_t pages, size_t frame, int populate )
{
    if (mmap( va, pages * PAGE, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0), base_fd,
              (off_t)frame * PAGE ) == MAP_FAILED)
        bench_die( "mmap of %zu pages: %s", pages, strerror( errno ) );
}

static void sys_unmap( char *va, size_t pages )
{
    if (mmap( va, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
              -1, 0 ) == MAP_FAILED)
        bench_die( "overlay of %zu pages: %s", pages, strerror( errno ) );
}

static char *sys_reserve( size_t pages )
{
    void *va = mmap( NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0 );

    if (va == MAP_FAILED) bench_die( "reserve: %s", strerror( errno ) );
    return va;
}

static char *awe_window( size_t pages )
{
    char *va = VirtualAlloc( NULL, pages * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );

    if (!va) fail_api( "VirtualAlloc(MEM_PHYSICAL)" );
    return va;
}

static void touch_pages( char *va, size_t pages )
{
    size_t i;

    for (i = 0; i < pages; i++) *(volatile char *)(va + i * PAGE) = 1;
}

/* Allocates count more frames (appended to pfns) and grows base_fd to match, populated. */
static void add_frames( size_t count )
{
    ULONG_PTR n = count, *grown;
    void *holder;
    size_t i;

    if (!(grown = realloc( pfns, (nframes + count) * sizeof(*pfns) ))) bench_die( "out of memory" );
    pfns = grown;
    if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns + nframes )) fail_api( "AllocateUserPhysicalPages" );
    if (n != count) bench_die( "allocated %lu of %zu frames", (unsigned long)n, count );
    for (i = nframes + 1; i < nframes + count; i++)
        if (pfns[i] != pfns[i - 1] + 1) bench_die( "frames not contiguous at %zu", i );
    if (ftruncate( base_fd, (off_t)(nframes + count) * PAGE ) ||
        fallocate( base_fd, 0, (off_t)nframes * PAGE, (off_t)count * PAGE ))
        bench_die( "baseline memfd: %s", strerror( errno ) );
    /* held as the server holds our frames: mapped elsewhere, populated, and locked when the
     * server locks (locked pages skip LRU work on map and unmap: about 20% of a run's cost) */
    holder = mmap( NULL, count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, base_fd, (off_t)nframes * PAGE );
    if (holder == MAP_FAILED || madvise( holder, count * PAGE, MADV_POPULATE_WRITE ) ||
        (frames_locked && mlock( holder, count * PAGE )))
        bench_die( "holding the baseline memfd: %s", strerror( errno ) );
    nframes += count;
}

/* ---- contiguous runs ----------------------------------------------------------------------- */

struct run_samples
{
    double map[NCOLUMNS][MAX_REPS];     /* ns per page */
    double unmap[NCOLUMNS][MAX_REPS];
};

/* Maps and unmaps a run of n pages iters times; adds the time spent in each to the totals. */
static void time_runs( enum column col, char *win, size_t n, int iters, double *map_ns, double *unmap_ns )
{
    double t0, t1, t2;
    size_t i;
    int it;

    *map_ns = *unmap_ns = 0;
    for (it = 0; it < iters; it++)
    {
        t0 = bench_now_ns();
        switch (col)
        {
        case OURS:
            if (!MapUserPhysicalPages( win, n, pfns )) fail_api( "MapUserPhysicalPages" );
            t1 = bench_now_ns();
            if (!MapUserPhysicalPages( win, n, NULL )) fail_api( "MapUserPhysicalPages(NULL)" );
            break;
        case FLOOR:
            sys_map( win, n, 0, 1 );
            t1 = bench_now_ns();
            sys_unmap( win, n );
            break;
        default:
            bench_round_trip( rt_fd );
            for (i = 0; i < n; i++) sys_map( win + i * PAGE, 1, i, 0 );
            touch_pages( win, n );
            t1 = bench_now_ns();
            bench_round_trip( rt_fd );
            for (i = 0; i < n; i++) sys_unmap( win + i * PAGE, 1 );
            break;
        }
        t2 = bench_now_ns();
        *map_ns += t1 - t0;
        *unmap_ns += t2 - t1;
    }
}

static void measure_runs( size_t n, char *const win[NCOLUMNS], struct run_samples *s, int rep )
{
    /* pages per repetition: ours and floor about 128k (at least 4096 calls), naive 16k */
    int iters = (int)((n < 32 ? 4096 * 32 : 131072) / n), naive_iters = (int)(n < 8 ? 2048 : 16384 / n);
    int k;

    if (quick)
    {
        iters = iters / 8 ? iters / 8 : 1;
        naive_iters = naive_iters / 8 ? naive_iters / 8 : 1;
    }
    for (k = 0; k < NCOLUMNS; k++)
    {
        enum column col = (enum column)((k + rep) % NCOLUMNS);
        int it = col == NAIVE ? naive_iters : iters;
        double map_ns, unmap_ns;

        time_runs( col, win[col], n, it, &map_ns, &unmap_ns );
        s->map[col][rep] = map_ns / ((double)it * n);
        s->unmap[col][rep] = unmap_ns / ((double)it * n);
    }
}

/* ---- scatter ------------------------------------------------------------------------------- */

struct scatter_set
{
    size_t          n;
    PVOID          *vas;                /* ours: the addresses, in random order */
    ULONG_PTR      *pfn_list;           /* ours: the frames */
    size_t         *page;               /* the same as page numbers in the window */
    size_t         *frame;              /* and frame positions (pfns[] / base_fd pages) */
    struct sys_op  *map_ops;            /* floor: the coalesced runs our plan issues */
    struct sys_op  *unmap_ops;
    size_t          nmap_ops, nunmap_ops;
};

/* Picks n distinct values of [0, range) in random order (a partial Fisher-Yates shuffle). */
static void pick_distinct( size_t *out, size_t n, size_t range, size_t *scratch, uint64_t *rng )
{
    size_t i;

    for (i = 0; i < range; i++) scratch[i] = i;
    for (i = 0; i < n; i++)
    {
        size_t j = i + bench_random( rng ) % (range - i), t = scratch[i];

        scratch[i] = scratch[j];
        scratch[j] = t;
        out[i] = scratch[i];
    }
}

static int compare_by_page( const void *a, const void *b )
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Fills a set of n random pages of a window of window_pages (random frames of the map pool)
 * and the floor's runs, coalesced as the planner coalesces: address order, neighbours merged
 * when both address and frame follow on (maps) or the address does (unmaps). */
static void make_scatter( struct scatter_set *set, size_t n, size_t window_pages, char *floor_win,
                          uint64_t *rng )
{
    size_t (*sorted)[2], *scratch, i;

    set->n = n;
    set->vas = malloc( n * sizeof(*set->vas) );
    set->pfn_list = malloc( n * sizeof(*set->pfn_list) );
    set->page = malloc( n * sizeof(*set->page) );
    set->frame = malloc( n * sizeof(*set->frame) );
    set->map_ops = malloc( n * sizeof(*set->map_ops) );
    set->unmap_ops = malloc( n * sizeof(*set->unmap_ops) );
    sorted = malloc( n * sizeof(*sorted) );
    scratch = malloc( (window_pages > POOL_MAP ? window_pages : POOL_MAP) * sizeof(*scratch) );
    if (!set->vas || !set->pfn_list || !set->page || !set->frame || !set->map_ops ||
        !set->unmap_ops || !sorted || !scratch)
        bench_die( "out of memory" );
    pick_distinct( set->page, n, window_pages, scratch, rng );
    pick_distinct( set->frame, n, POOL_MAP, scratch, rng );
    for (i = 0; i < n; i++)
    {
        sorted[i][0] = set->page[i];
        sorted[i][1] = set->frame[i];
        set->pfn_list[i] = pfns[set->frame[i]];
    }
    qsort( sorted, n, sizeof(*sorted), compare_by_page );
    set->nmap_ops = set->nunmap_ops = 0;
    for (i = 0; i < n; i++)
    {
        struct sys_op *m = set->nmap_ops ? &set->map_ops[set->nmap_ops - 1] : NULL;
        struct sys_op *u = set->nunmap_ops ? &set->unmap_ops[set->nunmap_ops - 1] : NULL;
        char *va = floor_win + sorted[i][0] * PAGE;

        if (m && m->va + m->pages * PAGE == va && m->frame + m->pages == sorted[i][1]) m->pages++;
        else set->map_ops[set->nmap_ops++] = (struct sys_op){ va, 1, sorted[i][1] };
        if (u && u->va + u->pages * PAGE == va) u->pages++;
        else set->unmap_ops[set->nunmap_ops++] = (struct sys_op){ va, 1, 0 };
    }
    free( sorted );
    free( scratch );
}

static void free_scatter( struct scatter_set *set )
{
    free( set->vas );
    free( set->pfn_list );
    free( set->page );
    free( set->frame );
    free( set->map_ops );
    free( set->unmap_ops );
}

/* Where ours' scatter time goes: CPU time in the process and in the kernel (getrusage). */
static double scatter_user_ns, scatter_sys_ns, scatter_pages;

static double rusage_ns( const struct timeval *tv )
{
    return tv->tv_sec * 1e9 + tv->tv_usec * 1e3;
}

/* Scatters the set into win and unmaps it again; returns ns spent in each, per page. */
static void time_scatter( enum column col, char *win, struct scatter_set *set, double *map_ns,
                          double *unmap_ns )
{
    struct rusage before, after;
    double t0, t1, t2;
    size_t i;

    for (i = 0; i < set->n; i++) set->vas[i] = win + set->page[i] * PAGE;
    getrusage( RUSAGE_SELF, &before );
    t0 = bench_now_ns();
    switch (col)
    {
    case OURS:
        if (!MapUserPhysicalPagesScatter( set->vas, set->n, set->pfn_list ))
            fail_api( "MapUserPhysicalPagesScatter" );
        t1 = bench_now_ns();
        if (!MapUserPhysicalPagesScatter( set->vas, set->n, NULL ))
            fail_api( "MapUserPhysicalPagesScatter(NULL)" );
        break;
    case FLOOR:
        for (i = 0; i < set->nmap_ops; i++)
            sys_map( set->map_ops[i].va, set->map_ops[i].pages, set->map_ops[i].frame, 1 );
        t1 = bench_now_ns();
        for (i = 0; i < set->nunmap_ops; i++) sys_unmap( set->unmap_ops[i].va, set->unmap_ops[i].pages );
        break;
    default:
        bench_round_trip( rt_fd );
        for (i = 0; i < set->n; i++) sys_map( set->vas[i], 1, set->frame[i], 0 );
        for (i = 0; i < set->n; i++) touch_pages( set->vas[i], 1 );
        t1 = bench_now_ns();
        bench_round_trip( rt_fd );
        for (i = 0; i < set->n; i++) sys_unmap( set->vas[i], 1 );
        break;
    }
    t2 = bench_now_ns();
    getrusage( RUSAGE_SELF, &after );
    if (col == OURS)
    {
        scatter_user_ns += rusage_ns( &after.ru_utime ) - rusage_ns( &before.ru_utime );
        scatter_sys_ns += rusage_ns( &after.ru_stime ) - rusage_ns( &before.ru_stime );
        scatter_pages += 2 * set->n;
    }
    *map_ns = (t1 - t0) / set->n;
    *unmap_ns = (t2 - t1) / set->n;
}

static void measure_scatter( size_t n, char *const win[NCOLUMNS], struct run_samples *s, int rep,
                             uint64_t *rng )
{
    int iters = n >= 16384 ? 1 : (quick ? 4 : 16), it, k;
    double sum_map[NCOLUMNS] = { 0 }, sum_unmap[NCOLUMNS] = { 0 };

    for (it = 0; it < iters; it++)
    {
        struct scatter_set set;

        /* the floor's runs are computed for its own window, and its addresses are the ones
         * the floor column uses */
        make_scatter( &set, n, 4 * n, win[FLOOR], rng );
        for (k = 0; k < NCOLUMNS; k++)
        {
            enum column col = (enum column)((k + rep + it) % NCOLUMNS);
            double map_ns, unmap_ns;

            time_scatter( col, win[col], &set, &map_ns, &unmap_ns );
            sum_map[col] += map_ns;
            sum_unmap[col] += unmap_ns;
        }
        free_scatter( &set );
    }
    for (k = 0; k < NCOLUMNS; k++)
    {
        s->map[k][rep] = sum_map[k] / iters;
        s->unmap[k][rep] = sum_unmap[k] / iters;
    }
}

/* A scatter of n random pages that needs more VMAs than the process may have: returns the
 * time Windows' answer took, in microseconds, and the error in *error. */
static double time_refusal( size_t n, char *win, uint64_t *rng, DWORD *error )
{
    struct scatter_set set;
    MEMORY_BASIC_INFORMATION info;
    double t0, t1;
    size_t i;
    BOOL ok;

    make_scatter( &set, n, 4 * n, win, rng );
    for (i = 0; i < n; i++) set.vas[i] = win + set.page[i] * PAGE;
    SetLastError( 0 );
    t0 = bench_now_ns();
    ok = MapUserPhysicalPagesScatter( set.vas, n, set.pfn_list );
    t1 = bench_now_ns();
    *error = GetLastError();
    if (ok) bench_die( "a %zu-page scatter succeeded; expected a refusal", n );
    /* all or nothing: the whole window is still one unmapped reservation */
    if (!VirtualQuery( win, &info, sizeof(info) ) || info.State != MEM_RESERVE ||
        info.RegionSize < 4 * n * PAGE)
        bench_die( "the refused scatter left pages mapped" );
    free_scatter( &set );
    return (t1 - t0) / 1000;
}

/* ---- buffer pool --------------------------------------------------------------------------- */

struct pool_config
{
    size_t slots;                       /* 64 KiB windows in the AWE window */
    size_t groups;                      /* 64 KiB frame groups in the pool */
    size_t first_frame;                 /* the pool's first frame (pfns[] / base_fd page) */
    int    threads;
    long   ops;                         /* remaps per repetition, all threads (ours, floor) */
    long   naive_ops;
};

struct pool_thread
{
    pthread_t           thread;
    enum column         col;
    int                 id;
    char               *win;
    const struct pool_config *cfg;
    pthread_barrier_t  *start;
    size_t             *slot_group;     /* group mapped at each of the thread's slots */
    size_t             *free_groups;    /* the thread's groups mapped nowhere */
    size_t              nslots, nfree;
    long                ops;
    int                 fd;             /* naive: its own connection */
    uint64_t            rng;
    uint64_t            sum;
};

static void pool_map( struct pool_thread *t, size_t slot_index, size_t group )
{
    size_t slot = slot_index * t->cfg->threads + t->id, i;
    size_t frame = t->cfg->first_frame + group * GROUP_PAGES;
    char *va = t->win + slot * GROUP_PAGES * PAGE;

    switch (t->col)
    {
    case OURS:
        if (!MapUserPhysicalPages( va, GROUP_PAGES, pfns + frame )) fail_api( "MapUserPhysicalPages" );
        break;
    case FLOOR:
        sys_map( va, GROUP_PAGES, frame, 1 );
        break;
    default:
        bench_round_trip( t->fd );
        for (i = 0; i < GROUP_PAGES; i++) sys_map( va + i * PAGE, 1, frame + i, 0 );
        break;
    }
}

/* Reads the whole 64 KiB window and writes a word in each of its pages, as a buffer pool
 * reading a page and updating it. */
static uint64_t use_window( char *va )
{
    const uint64_t *words = (const uint64_t *)va;
    uint64_t sum = 0;
    size_t i;

    for (i = 0; i < GROUP_PAGES * PAGE / sizeof(*words); i++) sum += words[i];
    for (i = 0; i < GROUP_PAGES; i++) ((volatile uint64_t *)(va + i * PAGE))[1] = sum;
    return sum;
}

static void *pool_thread_main( void *arg )
{
    struct pool_thread *t = arg;
    long k;

    pthread_barrier_wait( t->start );
    for (k = 0; k < t->ops; k++)
    {
        size_t s = bench_random( &t->rng ) % t->nslots, f = bench_random( &t->rng ) % t->nfree;
        size_t group = t->free_groups[f], slot = s * t->cfg->threads + t->id;

        t->free_groups[f] = t->slot_group[s];
        t->slot_group[s] = group;
        pool_map( t, s, group );
        t->sum += use_window( t->win + slot * GROUP_PAGES * PAGE );
    }
    return NULL;
}

/* One repetition of the buffer pool for one column: every slot mapped with a random group
 * (untimed), then the threads remap and use random windows; returns us per window. */
static double time_pool( enum column col, char *win, const struct pool_config *cfg, uint64_t *rng )
{
    struct pool_thread *threads = calloc( cfg->threads, sizeof(*threads) );
    pthread_barrier_t start;
    size_t *scratch = malloc( cfg->groups * sizeof(*scratch) );
    long total = col == NAIVE ? cfg->naive_ops : cfg->ops;
    double t0, t1;
    int i;

    if (!threads || !scratch) bench_die( "out of memory" );
    pthread_barrier_init( &start, NULL, cfg->threads + 1 );
    for (i = 0; i < cfg->threads; i++)
    {
        struct pool_thread *t = &threads[i];
        size_t groups = 0, g, s;

        t->col = col;
        t->id = i;
        t->win = win;
        t->cfg = cfg;
        t->start = &start;
        t->nslots = (cfg->slots - i + cfg->threads - 1) / cfg->threads;
        t->ops = total / cfg->threads;
        t->rng = bench_random( rng ) | 1;
        t->fd = col == NAIVE ? bench_raw_connect() : -1;
        for (g = i; g < cfg->groups; g += cfg->threads) scratch[groups++] = g;
        for (g = groups; g > 1; g--)
        {
            size_t j = bench_random( rng ) % g, x = scratch[g - 1];
            scratch[g - 1] = scratch[j];
            scratch[j] = x;
        }
        t->slot_group = malloc( t->nslots * sizeof(size_t) );
        t->free_groups = malloc( (groups - t->nslots) * sizeof(size_t) );
        if (!t->slot_group || !t->free_groups || groups <= t->nslots) bench_die( "pool setup" );
        memcpy( t->slot_group, scratch, t->nslots * sizeof(size_t) );
        t->nfree = groups - t->nslots;
        memcpy( t->free_groups, scratch + t->nslots, t->nfree * sizeof(size_t) );
        for (s = 0; s < t->nslots; s++)
        {
            pool_map( t, s, t->slot_group[s] );
            if (col == NAIVE) touch_pages( t->win + (s * cfg->threads + i) * GROUP_PAGES * PAGE, GROUP_PAGES );
        }
    }
    for (i = 0; i < cfg->threads; i++)
        if (pthread_create( &threads[i].thread, NULL, pool_thread_main, &threads[i] ))
            bench_die( "pthread_create" );
    pthread_barrier_wait( &start );
    t0 = bench_now_ns();
    for (i = 0; i < cfg->threads; i++) pthread_join( threads[i].thread, NULL );
    t1 = bench_now_ns();
    pthread_barrier_destroy( &start );

    if (col == OURS)
    {
        if (!MapUserPhysicalPages( win, cfg->slots * GROUP_PAGES, NULL )) fail_api( "unmap the pool" );
    }
    else sys_unmap( win, cfg->slots * GROUP_PAGES );
    for (i = 0; i < cfg->threads; i++)
    {
        if (threads[i].fd >= 0) close( threads[i].fd );
        free( threads[i].slot_group );
        free( threads[i].free_groups );
    }
    total = threads[0].ops * cfg->threads;
    free( threads );
    free( scratch );
    return (t1 - t0) / 1000 / total;
}

/* ---- main ------------------------------------------------------------------------------------ */

#define MAX_ROWS 16

static struct bench_row rows[MAX_ROWS];
static char row_names[MAX_ROWS][48];
static size_t nrows;

/* Adds a row from the samples of each column (a column of BENCH_NONE samples does not apply). */
static void add_row( const char *unit, double samples[NCOLUMNS][MAX_REPS], const char *fmt, ... )
{
    struct bench_row *row = &rows[nrows];
    va_list args;

    va_start( args, fmt );
    vsnprintf( row_names[nrows], sizeof(row_names[0]), fmt, args );
    va_end( args );
    row->name = row_names[nrows++];
    row->unit = unit;
    row->ours = bench_median( samples[OURS], reps );
    row->floor = isnan( samples[FLOOR][0] ) ? BENCH_NONE : bench_median( samples[FLOOR], reps );
    row->naive = isnan( samples[NAIVE][0] ) ? BENCH_NONE : bench_median( samples[NAIVE], reps );
}

static const size_t run_lengths[] = { 1, 16, 256, 4096 };
static const size_t scatter_sizes[] = { 1024, 16384 };
#define NRUNS     (sizeof(run_lengths) / sizeof(run_lengths[0]))
#define NSCATTERS (sizeof(scatter_sizes) / sizeof(scatter_sizes[0]))
#define REFUSAL   65536

int main( int argc, char **argv )
{
    static struct run_samples run_s[NRUNS], scatter_s[NSCATTERS];
    static double refusal[NCOLUMNS][MAX_REPS], pool_us[NCOLUMNS][MAX_REPS];
    const char *server_opts[2] = { NULL, NULL };
    struct pool_config pool = { .threads = POOL_THREADS };
    struct bench_options opt;
    char *run_win[NCOLUMNS], *scatter_win[NCOLUMNS], *pool_win[NCOLUMNS], lock_why[160];
    uint64_t rng = 0x9e3779b97f4a7c15ull, pool_bytes;
    double start = bench_now_ns();
    DWORD refusal_error = 0;
    size_t i, c;
    int rep, locked;

    bench_parse_args( argc, argv, &opt );
    quick = opt.quick;
    reps = quick ? 3 : 7;
    /* the buffer pool: a 1 GiB window over a 4 GiB pool (quick: 128 MiB over 512 MiB) */
    pool.slots = (quick ? (128u << 20) : (1u << 30)) / (GROUP_PAGES * PAGE);
    pool.groups = 4 * pool.slots;
    pool.ops = quick ? 8192 : 65536;
    pool.naive_ops = quick ? 1024 : 8192;
    pool_bytes = (uint64_t)pool.groups * GROUP_PAGES * PAGE;

    locked = bench_can_lock( pool_bytes + (uint64_t)POOL_MAP * PAGE, lock_why, sizeof(lock_why) );
    if (!locked) server_opts[0] = "--unlocked";
    frames_locked = locked;
    bench_server_start( server_opts );
    bench_enable_lock_privilege();
    rt_fd = bench_raw_connect();
    if ((base_fd = memfd_create( "bench-frames", MFD_CLOEXEC )) < 0) bench_die( "memfd_create: %s", strerror( errno ) );
    add_frames( POOL_MAP );

    run_win[OURS] = awe_window( 4096 );
    run_win[FLOOR] = sys_reserve( 4096 );
    run_win[NAIVE] = sys_reserve( 4096 );
    scatter_win[OURS] = awe_window( 4 * REFUSAL );
    scatter_win[FLOOR] = sys_reserve( 4 * REFUSAL );
    scatter_win[NAIVE] = sys_reserve( 4 * REFUSAL );

    printf( "Map and Scatter vs baselines: medians of %d repetitions%s; frames %s\n", reps,
            quick ? " (quick)" : "", lock_why );
    printf( "  floor: the mmap(MAP_POPULATE) runs and PROT_NONE overlays our plans issue, nothing else\n" );
    printf( "  naive: a get_status round trip to the same awe-server per call, one mmap per page\n"
            "         without populate plus a first touch of each page, one overlay per page to unmap\n" );
    fflush( stdout );

    for (rep = 0; rep < reps; rep++)
    {
        for (i = 0; i < NRUNS; i++) measure_runs( run_lengths[i], run_win, &run_s[i], rep );
        for (i = 0; i < NSCATTERS; i++) measure_scatter( scatter_sizes[i], scatter_win, &scatter_s[i], rep, &rng );
        refusal[OURS][rep] = time_refusal( REFUSAL, scatter_win[OURS], &rng, &refusal_error );
    }

    /* the buffer pool's frames come after the map pool's */
    pool.first_frame = nframes;
    add_frames( pool.groups * GROUP_PAGES );
    for (c = 0; c < NCOLUMNS; c++)
        pool_win[c] = c == OURS ? awe_window( pool.slots * GROUP_PAGES ) : sys_reserve( pool.slots * GROUP_PAGES );
    for (rep = 0; rep < reps; rep++)
        for (c = 0; c < NCOLUMNS; c++)
        {
            enum column col = (enum column)((c + rep) % NCOLUMNS);
            pool_us[col][rep] = time_pool( col, pool_win[col], &pool, &rng );
        }

    for (i = 0; i < NRUNS; i++)
        add_row( "ns/page", run_s[i].map, "map_run_%zu", run_lengths[i] );
    for (i = 0; i < NRUNS; i++)
        add_row( "ns/page", run_s[i].unmap, "unmap_run_%zu", run_lengths[i] );
    for (i = 0; i < NSCATTERS; i++)
        add_row( "ns/page", scatter_s[i].map, "scatter_%zu", scatter_sizes[i] );
    for (i = 0; i < NSCATTERS; i++)
        add_row( "ns/page", scatter_s[i].unmap, "unscatter_%zu", scatter_sizes[i] );
    for (rep = 0; rep < reps; rep++) refusal[FLOOR][rep] = refusal[NAIVE][rep] = BENCH_NONE;
    add_row( "us/call", refusal, "scatter_%u_refused", REFUSAL );
    add_row( "us/window", pool_us, "bufpool_64k_%dthreads", pool.threads );

    printf( "\n" );
    bench_print_header();
    for (i = 0; i < nrows; i++) bench_print_row( &rows[i] );
    printf( "\nscatter of %u random pages: refused with error %u%s, nothing mapped\n", REFUSAL,
            refusal_error, refusal_error == ERROR_NO_SYSTEM_RESOURCES ? " (ERROR_NO_SYSTEM_RESOURCES)" : "" );
    printf( "ours' scatters and unscatters: %.0f ns of user CPU and %.0f ns of system CPU per page "
            "(getrusage): %.1f%% in the kernel\n", scatter_user_ns / scatter_pages, scatter_sys_ns / scatter_pages,
            100 * scatter_sys_ns / (scatter_user_ns + scatter_sys_ns) );
    printf( "buffer pool: %d threads, %zu MiB window over %zu MiB of frames, 64 KiB windows read and written\n",
            pool.threads, pool.slots * GROUP_PAGES * PAGE >> 20, pool.groups * GROUP_PAGES * PAGE >> 20 );
    printf( "run time %.1f s\n", (bench_now_ns() - start) / 1e9 );
    bench_write_tsv( opt.tsv, rows, nrows );
    bench_server_stop();
    return 0;
}
