/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of a 1 GiB window mapped in 2 MiB frames against the same window in 4 KiB frames.
 *
 *   bench_large [--quick] [--tsv FILE]
 *
 * ours:  MapUserPhysicalPages of the whole window, then a read of one word in every 4 KiB page
 *        (what a TLB feels), then the unmap (a NULL array):
 *          large_*  frames of a SEC_LARGE_PAGES AWE section (512 entries for 1 GiB) in a view
 *                   bound to it, backed as the server's --large-pages=auto decides here (huge
 *                   pages when the host has them reserved, else emulated: printed below);
 *          small_*  the process's own 4 KiB frames (262144 entries) in a plain MEM_PHYSICAL region.
 * floor: the bare system calls for the same pages: one mmap(MAP_SHARED|MAP_FIXED|MAP_POPULATE)
 *        of a populated memfd of the same kind (hugetlb for large_* when the section is hugetlb,
 *        else a plain one), the same reads, one PROT_NONE overlay.
 * Costs are ns per 4 KiB page of the window.  The ratio large/small of ours, measured in this
 * run, is printed below the table. */

#include <fcntl.h>
#include <sys/mman.h>
#include "bench.h"

#define PAGE       4096
#define LARGE      (512 * PAGE)
#define MAX_REPS   9

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21 << 26)
#endif

enum { MAP, TOUCH, UNMAP, NPHASES };
static const char *const phase_names[NPHASES] = { "map", "touch", "unmap" };

static size_t window;                   /* bytes */
static int reps = 7;

static void fail_api( const char *what )
{
    bench_die( "%s failed: error %u", what, GetLastError() );
}

static uint64_t touch( const char *va, size_t bytes )
{
    uint64_t sum = 0;
    size_t i;

    for (i = 0; i < bytes; i += PAGE) sum += *(volatile const uint64_t *)(va + i);
    return sum;
}

/* One repetition through the API: ns per page of each phase. */
static void run_ours( char *view, ULONG_PTR *pfns, ULONG_PTR count, double out[NPHASES] )
{
    double t0, t1, t2;
    size_t pages = window / PAGE;

    t0 = bench_now_ns();
    if (!MapUserPhysicalPages( view, count, pfns )) fail_api( "MapUserPhysicalPages" );
    t1 = bench_now_ns();
    (void)touch( view, window );
    t2 = bench_now_ns();
    if (!MapUserPhysicalPages( view, count, NULL )) fail_api( "unmap" );
    out[MAP] = (t1 - t0) / pages;
    out[TOUCH] = (t2 - t1) / pages;
    out[UNMAP] = (bench_now_ns() - t2) / pages;
}

/* The same with the bare system calls over fd (populated), in a reserved range at va. */
static void run_floor( char *va, int fd, double out[NPHASES] )
{
    double t0, t1, t2;
    size_t pages = window / PAGE;

    t0 = bench_now_ns();
    if (mmap( va, window, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0 ) == MAP_FAILED)
        bench_die( "floor mmap: %s", strerror( errno ) );
    t1 = bench_now_ns();
    (void)touch( va, window );
    t2 = bench_now_ns();
    if (mmap( va, window, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0 ) == MAP_FAILED)
        bench_die( "floor overlay: %s", strerror( errno ) );
    out[MAP] = (t1 - t0) / pages;
    out[TOUCH] = (t2 - t1) / pages;
    out[UNMAP] = (bench_now_ns() - t2) / pages;
}

/* A populated memfd of window bytes, hugetlb or not; -1 when huge pages cannot be had. */
static int floor_memfd( int huge )
{
    int fd = memfd_create( "bench-large", MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0) );
    char *map;

    if (fd < 0 || ftruncate( fd, (off_t)window )) return -1;
    map = mmap( NULL, window, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0 );
    if (map == MAP_FAILED || madvise( map, window, 23 /* MADV_POPULATE_WRITE */ ))
    {
        close( fd );
        return -1;
    }
    munmap( map, window );   /* the pages stay in the file */
    return fd;
}

static char *reserve_aligned( size_t bytes )
{
    char *p = mmap( NULL, bytes + LARGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0 );
    char *aligned;

    if (p == MAP_FAILED) bench_die( "reserve: %s", strerror( errno ) );
    aligned = (char *)(((uintptr_t)p + LARGE - 1) & ~(uintptr_t)(LARGE - 1));
    return aligned;
}

int main( int argc, char **argv )
{
    static const char *backings[] = { "4 KiB frames", "huge pages (hugetlb)", "emulated (512 aligned 4 KiB frames)", "none" };
    double ours[2][NPHASES][MAX_REPS], floor_[2][NPHASES][MAX_REPS], sample[NPHASES];
    const char *server_opts[2] = { NULL, NULL };
    struct bench_row rows[2 * NPHASES];
    char names[2 * NPHASES][32], lock_why[160];
    struct bench_options opt;
    MEM_EXTENDED_PARAMETER param;
    ULONG_PTR nlarge, nsmall, *large_pfns, *small_pfns;
    HANDLE section;
    char *large_view, *small_view, *floor_va;
    int fds[2], r, k, p, huge, locked;
    uint32_t backing = AWE_BACKING_EMULATED;

    bench_parse_args( argc, argv, &opt );
    window = opt.quick ? (64u << 20) : (1u << 30);
    if (opt.quick) reps = 3;
    locked = bench_can_lock( 2 * (uint64_t)window, lock_why, sizeof(lock_why) );
    if (!locked) server_opts[0] = "--unlocked";
    bench_server_start( server_opts );
    bench_enable_lock_privilege();

    /* large: an AWE section of 2 MiB pages and a view bound to it */
    memset( &param, 0, sizeof(param) );
    param.Type = MemSectionExtendedParameterUserPhysicalFlags;
    if (!(section = CreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_MAP_READ | SECTION_MAP_WRITE,
                                        PAGE_READWRITE, SEC_RESERVE | SEC_LARGE_PAGES, 0, NULL, &param, 1 )))
        fail_api( "CreateFileMapping2" );
    nlarge = window / LARGE;
    large_pfns = calloc( nlarge, sizeof(*large_pfns) );
    if (!AllocateUserPhysicalPages( section, &nlarge, large_pfns ) || nlarge != window / LARGE)
        bench_die( "large frames: got %lu of %lu (error %u)", (unsigned long)nlarge,
                   (unsigned long)(window / LARGE), GetLastError() );
    memset( &param, 0, sizeof(param) );
    param.Type = MemExtendedParameterUserPhysicalHandle;
    param.Handle = section;
    if (!(large_view = VirtualAlloc2( NULL, NULL, window, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE, &param, 1 )))
        fail_api( "VirtualAlloc2" );
    {
        /* what the server backs the section with: its status says */
        union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
        struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
        int fd = bench_raw_connect();

        if (send( fd, &req, sizeof(req), 0 ) == sizeof(req) &&
            recv( fd, &buf, sizeof(buf), 0 ) >= (ssize_t)sizeof(buf.reply.get_status) &&
            buf.reply.get_status.sections)
        {
            const struct awe_wire_section_status *ss = (const void *)((const struct awe_wire_process_status *)
                (&buf.reply.get_status + 1) + buf.reply.get_status.processes);
            backing = ss[0].backing;
        }
        close( fd );
    }
    huge = backing == AWE_BACKING_HUGETLB;

    /* small: the process's own frames */
    nsmall = window / PAGE;
    small_pfns = calloc( nsmall, sizeof(*small_pfns) );
    if (!AllocateUserPhysicalPages( GetCurrentProcess(), &nsmall, small_pfns ) || nsmall != window / PAGE)
        bench_die( "small frames: got %lu (error %u)", (unsigned long)nsmall, GetLastError() );
    if (!(small_view = VirtualAlloc( NULL, window, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )))
        fail_api( "VirtualAlloc" );

    if ((fds[0] = floor_memfd( huge )) < 0 || (fds[1] = floor_memfd( 0 )) < 0)
        bench_die( "floor memfds: %s", strerror( errno ) );
    floor_va = reserve_aligned( window );

    for (r = 0; r < reps; r++)
    {
        /* the order rotates, so that drift hits every column alike */
        for (k = 0; k < 4; k++)
        {
            int which = (k + r) % 4;   /* 0, 1: ours large, small; 2, 3: floor large, small */

            if (which == 0) run_ours( large_view, large_pfns, nlarge, sample );
            else if (which == 1) run_ours( small_view, small_pfns, nsmall, sample );
            else run_floor( floor_va, fds[which - 2], sample );
            for (p = 0; p < NPHASES; p++)
            {
                if (which < 2) ours[which][p][r] = sample[p];
                else floor_[which - 2][p][r] = sample[p];
            }
        }
    }

    bench_print_header();
    for (k = 0; k < 2; k++)
        for (p = 0; p < NPHASES; p++)
        {
            struct bench_row *row = &rows[k * NPHASES + p];

            snprintf( names[k * NPHASES + p], sizeof(names[0]), "%s_%s_%s", k ? "small" : "large",
                      phase_names[p], opt.quick ? "64m" : "1g" );
            row->name = names[k * NPHASES + p];
            row->unit = "ns/page";
            row->ours = bench_median( ours[k][p], reps );
            row->floor = bench_median( floor_[k][p], reps );
            row->naive = BENCH_NONE;
            bench_print_row( row );
        }
    printf( "large frames: %s; frames %s\n", backings[backing <= AWE_BACKING_NONE ? backing : 3], lock_why );
    for (p = 0; p < NPHASES; p++)
        printf( "%s: large/small %.2f (ours, this run)\n", phase_names[p],
                rows[p].ours / rows[NPHASES + p].ours );
    bench_write_tsv( opt.tsv, rows, 2 * NPHASES );

    VirtualFree( large_view, 0, MEM_RELEASE );
    VirtualFree( small_view, 0, MEM_RELEASE );
    FreeUserPhysicalPages( section, &nlarge, large_pfns );
    FreeUserPhysicalPages( GetCurrentProcess(), &nsmall, small_pfns );
    CloseHandle( section );
    free( large_pfns );
    free( small_pfns );
    bench_server_stop();
    return 0;
}
