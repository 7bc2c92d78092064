/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for issuing map plans on real memory: contents, faults, VMAs, injected failures. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ntdll_side/ntdll_private.h"
#include "awe/tests/awe_check.h"

#define P       AWE_PAGE_SIZE
#define TAG     1
#define FRAMES  64
#define PAGES   32

static struct
{
    struct awe_pfn_layout layout;
    struct awe_frames     frames;
    struct awe_regions    regions;
    struct awe_region    *region;
    char                 *base;
    int                   memfd;
    int                   tagged;     /* frames carry their PFN in their first word */
    uintptr_t             pfn[FRAMES];
} t;

static int owned( void *ctx, uint32_t index )
{
    return awe_frames_is_allocated( ctx, index );
}

static int copy_in( void *ctx, uintptr_t *dst, const void *src, size_t count )
{
    memcpy( dst, src, count * sizeof(*dst) );
    return 0;
}

static void setup( void )
{
    struct awe_frame_run run;
    size_t nruns, i;
    int err = 0;

    t.tagged = 0;
    ck_assert_int_eq( awe_pfn_layout_init( &t.layout, 21, 10 ), 0 );
    ck_assert_int_eq( awe_frames_init( &t.frames, FRAMES ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &t.frames, FRAMES, &run, 1, &nruns ), FRAMES );
    for (i = 0; i < FRAMES; i++) t.pfn[i] = (uintptr_t)awe_pfn_encode( &t.layout, TAG, (uint32_t)i );
    ck_assert_int_eq( awe_regions_init( &t.regions, &t.layout, TAG, owned, &t.frames ), 0 );
    ck_assert_int_ge( t.memfd = memfd_create( "awe-test", MFD_CLOEXEC ), 0 );
    ck_assert_int_eq( ftruncate( t.memfd, FRAMES * P ), 0 );
    ck_assert_ptr_nonnull( t.base = awe_reserve_range( NULL, PAGES * P, &err ) );
    ck_assert_int_eq( awe_regions_insert( &t.regions, (uintptr_t)t.base, PAGES, &t.region ), 0 );
}

static void teardown( void )
{
    awe_map_syscalls.mmap = mmap;
    munmap( t.base, PAGES * P );
    close( t.memfd );
    awe_regions_destroy( &t.regions );
    awe_frames_destroy( &t.frames );
}

static NTSTATUS map( char *va, size_t count, const uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status = awe_plan_map( &t.regions, (uintptr_t)va, count, pfns, copy_in, NULL, &plan );

    return status ? status : awe_apply_plan( &t.regions, t.memfd, &plan );
}

static NTSTATUS scatter( char **vas, size_t count, const uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status = awe_plan_scatter( &t.regions, vas, count, pfns, copy_in, NULL, &plan );

    return status ? status : awe_apply_plan( &t.regions, t.memfd, &plan );
}

/* Counts the kernel's VMAs that overlap the region. */
static size_t kernel_vmas( void )
{
    uintptr_t lo, hi, start = (uintptr_t)t.base, end = start + PAGES * P;
    char line[512];
    size_t n = 0;
    FILE *maps = fopen( "/proc/self/maps", "r" );

    ck_assert_ptr_nonnull( maps );
    while (fgets( line, sizeof(line), maps ))
        if (sscanf( line, "%lx-%lx", &lo, &hi ) == 2 && lo < end && hi > start) n++;
    fclose( maps );
    return n;
}

/* Returns 1 if reading va faults, checked in a child process. */
static int read_faults( const char *va )
{
    int status;
    pid_t pid = fork();

    ck_assert_int_ge( pid, 0 );
    if (!pid)
    {
        signal( SIGSEGV, SIG_DFL );
        *(volatile const char *)va;
        _exit( 0 );
    }
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    return WIFSIGNALED( status ) && WTERMSIG( status ) == SIGSEGV;
}

/* Checks every page against the tables: mapped pages show their frame's tag word (once
 * tag_frames() ran), and the kernel uses the number of VMAs the planner predicted. */
static void check_pages( void )
{
    size_t i;

    for (i = 0; i < PAGES; i++)
    {
        uint32_t pfn = t.region->pfn[i];
        if (pfn && t.tagged) AWE_EXPECT_EQ( *(volatile uint32_t *)(t.base + i * P), pfn );
    }
    if (!getenv( "AWE_UNDER_VALGRIND" )) AWE_EXPECT_EQ( kernel_vmas(), t.region->vmas );
}

/* Writes each frame's PFN into its first word through a temporary mapping of the memfd. */
static void tag_frames( void )
{
    uint32_t *all = mmap( NULL, FRAMES * P, PROT_READ | PROT_WRITE, MAP_SHARED, t.memfd, 0 );
    size_t i;

    ck_assert_ptr_ne( all, MAP_FAILED );
    for (i = 0; i < FRAMES; i++) all[i * P / 4] = (uint32_t)t.pfn[i];
    munmap( all, FRAMES * P );
    t.tagged = 1;
}

START_TEST(test_map_write_read)
{
    ck_assert_int_eq( map( t.base, 4, t.pfn ), STATUS_SUCCESS );
    memset( t.base, 0x5a, 4 * P );
    ck_assert_int_eq( (unsigned char)t.base[4 * P - 1], 0x5a );
    ck_assert( read_faults( t.base + 4 * P ) );
    check_pages();
}
END_TEST

START_TEST(test_new_frames_read_zero)
{
    size_t i;

    ck_assert_int_eq( map( t.base, PAGES, t.pfn ), STATUS_SUCCESS );
    for (i = 0; i < PAGES * P; i++) AWE_EXPECT( !t.base[i] );
}
END_TEST

/* M17: contents follow the frame to a new address. */
START_TEST(test_contents_follow_frame)
{
    ck_assert_int_eq( map( t.base, 1, &t.pfn[0] ), STATUS_SUCCESS );
    strcpy( t.base, "awe frame 0" );
    ck_assert_int_eq( map( t.base, 1, NULL ), STATUS_SUCCESS );
    ck_assert( read_faults( t.base ) );
    ck_assert_int_eq( map( t.base + 5 * P, 1, &t.pfn[0] ), STATUS_SUCCESS );
    ck_assert_str_eq( t.base + 5 * P, "awe frame 0" );
    check_pages();
}
END_TEST

START_TEST(test_scatter_real)
{
    char *vas[3] = { t.base + 3 * P, t.base + P + 17, t.base + 7 * P };
    uintptr_t pfns[3] = { t.pfn[10], t.pfn[11], t.pfn[12] };

    tag_frames();
    ck_assert_int_eq( scatter( vas, 3, pfns ), STATUS_SUCCESS );
    ck_assert_uint_eq( *(uint32_t *)(t.base + P), t.pfn[11] );
    pfns[1] = 0;
    ck_assert_int_eq( scatter( vas, 3, pfns ), STATUS_SUCCESS );
    ck_assert( read_faults( t.base + P ) );
    check_pages();
}
END_TEST

/* The planner's VMA count is the kernel's, through a random walk of maps and unmaps. */
START_TEST(test_vma_count_matches_kernel)
{
    unsigned int seed = 7, step, steps = awe_test_slow_tool() ? 60 : 400;

    tag_frames();
    for (step = 0; step < steps; step++)
    {
        size_t page = (seed = seed * 1103515245 + 12345) >> 16 & (PAGES - 1);
        size_t frame = (seed = seed * 1103515245 + 12345) >> 16 & (FRAMES - 1);
        size_t count = 1 + ((seed = seed * 1103515245 + 12345) >> 16 & 3);
        size_t i;
        uintptr_t run[4];

        if (page + count > PAGES) count = PAGES - page;
        if (frame + count > FRAMES) frame = FRAMES - count;
        for (i = 0; i < count; i++) run[i] = t.pfn[frame + i];
        if (seed >> 30 == 0) map( t.base + page * P, count, NULL );
        else map( t.base + page * P, count, run );     /* may fail: frames mapped elsewhere */
        check_pages();
    }
}
END_TEST

static int fail_countdown;

static void *failing_mmap( void *addr, size_t len, int prot, int flags, int fd, off_t offset )
{
    if (fail_countdown-- == 0)
    {
        /* what a failed MAP_FIXED may leave behind: the old mapping gone */
        mmap( addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0 );
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap( addr, len, prot, flags, fd, offset );
}

/* All or nothing: a system call that fails half way leaves every page as it was. */
START_TEST(test_injected_failure_rolls_back)
{
    uintptr_t scattered[8];
    size_t i;

    tag_frames();
    ck_assert_int_eq( map( t.base, 8, t.pfn ), STATUS_SUCCESS );
    for (i = 0; i < 8; i++) scattered[i] = t.pfn[16 + 2 * i];   /* eight separate runs */
    fail_countdown = _i;
    awe_map_syscalls.mmap = failing_mmap;
    ck_assert_int_eq( map( t.base + 4 * P, 8, scattered ), STATUS_INSUFFICIENT_RESOURCES );
    awe_map_syscalls.mmap = mmap;
    for (i = 0; i < 8; i++) ck_assert_uint_eq( t.region->pfn[4 + i], i < 4 ? t.pfn[4 + i] : 0 );
    ck_assert_uint_eq( awe_regions_frame_va( &t.regions, 16 ), 0 );
    check_pages();
    for (i = 8; i < 12; i++) ck_assert( read_faults( t.base + i * P ) );
    /* and the same request goes through once the system call works */
    ck_assert_int_eq( map( t.base + 4 * P, 8, scattered ), STATUS_SUCCESS );
    check_pages();
}
END_TEST

AWE_DEFINE_SUITE(map)
{
    Suite *s = suite_create( "map" );
    TCase *core = tcase_create( "core" ), *errors = tcase_create( "errors" );

    tcase_add_checked_fixture( core, setup, teardown );
    tcase_add_checked_fixture( errors, setup, teardown );
    tcase_add_test( core, test_map_write_read );
    tcase_add_test( core, test_new_frames_read_zero );
    tcase_add_test( core, test_contents_follow_frame );
    tcase_add_test( core, test_scatter_real );
    tcase_add_test( core, test_vma_count_matches_kernel );
    tcase_set_timeout( core, 60 );
    tcase_add_loop_test( errors, test_injected_failure_rolls_back, 0, 8 );
    suite_add_tcase( s, core );
    suite_add_tcase( s, errors );
    return s;
}
