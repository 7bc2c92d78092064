/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the frame allocator (awe-spec.md sections 2.1 and 2.4). */

#include <errno.h>
#include "awe/core.h"
#include "awe_check.h"

#define TAG 3

static struct awe_pfn_layout layout;

static void setup_layout( void )
{
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 21, 10 ), 0 );
}

static uintptr_t pfn_of( uint32_t index )
{
    return (uintptr_t)awe_pfn_encode( &layout, TAG, index );
}

/* Allocates want frames and expands the runs into PFNs; returns the number allocated. */
static size_t alloc_pfns( struct awe_frames *frames, size_t want, uintptr_t *pfns )
{
    struct awe_frame_run runs[64];
    size_t nruns, n = 0, i, j;
    uint64_t got = awe_frames_alloc( frames, want, runs, 64, &nruns );

    for (i = 0; i < nruns; i++)
        for (j = 0; j < runs[i].count; j++) pfns[n++] = pfn_of( runs[i].start + j );
    ck_assert_uint_eq( n, got );
    return n;
}

START_TEST(test_lowest_first_ascending)
{
    struct awe_frames frames;
    struct awe_frame_run runs[4];
    size_t nruns;

    ck_assert_int_eq( awe_frames_init( &frames, 1000 ), 0 );
    POISON(runs);
    POISON(nruns);
    ck_assert_uint_eq( awe_frames_alloc( &frames, 10, runs, 4, &nruns ), 10 );
    ck_assert_uint_eq( nruns, 1 );
    ck_assert_uint_eq( runs[0].start, 0 );
    ck_assert_uint_eq( runs[0].count, 10 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 5, runs, 4, &nruns ), 5 );
    ck_assert_uint_eq( runs[0].start, 10 );
    ck_assert_uint_eq( frames.in_use, 15 );
    ck_assert_uint_eq( awe_frames_span( &frames ), 15 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_holes_filled_lowest_first)
{
    struct awe_frames frames;
    struct awe_frame_run runs[8];
    uintptr_t pfns[20], hole[2];
    size_t nruns, freed;

    ck_assert_int_eq( awe_frames_init( &frames, 1000 ), 0 );
    ck_assert_uint_eq( alloc_pfns( &frames, 20, pfns ), 20 );
    hole[0] = pfns[3];
    hole[1] = pfns[4];
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, hole, 2, &freed ), 0 );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, &pfns[10], 1, &freed ), 0 );
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), 3 );   /* [3,5) [10,11) [20,1000) */
    ck_assert_uint_eq( awe_frames_alloc( &frames, 6, runs, 8, &nruns ), 6 );
    ck_assert_uint_eq( nruns, 3 );
    ck_assert_uint_eq( runs[0].start, 3 );
    ck_assert_uint_eq( runs[0].count, 2 );
    ck_assert_uint_eq( runs[1].start, 10 );
    ck_assert_uint_eq( runs[1].count, 1 );
    ck_assert_uint_eq( runs[2].start, 20 );
    ck_assert_uint_eq( runs[2].count, 3 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_partial_at_limit)
{
    struct awe_frames frames;
    struct awe_frame_run runs[4];
    size_t nruns;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 60, runs, 4, &nruns ), 60 );
    /* Windows' partial allocation: fewer than asked, not a failure */
    ck_assert_uint_eq( awe_frames_alloc( &frames, 60, runs, 4, &nruns ), 40 );
    ck_assert_uint_eq( runs[0].start, 60 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 1, runs, 4, &nruns ), 0 );
    ck_assert_uint_eq( nruns, 0 );
    ck_assert_uint_eq( awe_frames_span( &frames ), 100 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_max_runs_limits_allocation)
{
    struct awe_frames frames;
    struct awe_frame_run runs[2];
    uintptr_t pfns[10], odd[5];
    size_t nruns, freed, i;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 10, pfns );
    for (i = 0; i < 5; i++) odd[i] = pfns[2 * i + 1];
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, odd, 5, &freed ), 0 );
    ck_assert_uint_eq( freed, 5 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 5, runs, 2, &nruns ), 2 );
    ck_assert_uint_eq( nruns, 2 );
    ck_assert_uint_eq( runs[0].start, 1 );
    ck_assert_uint_eq( runs[1].start, 3 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_free_all_and_merge)
{
    struct awe_frames frames;
    uintptr_t pfns[300];
    size_t freed;

    ck_assert_int_eq( awe_frames_init( &frames, 300 ), 0 );
    ck_assert_uint_eq( alloc_pfns( &frames, 300, pfns ), 300 );
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), 0 );
    POISON(freed);
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, 300, &freed ), 0 );
    ck_assert_uint_eq( freed, 300 );
    ck_assert_uint_eq( frames.in_use, 0 );
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), 1 );
    ck_assert_uint_eq( awe_frames_span( &frames ), 0 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_free_reverse_and_shuffled_merges)
{
    struct awe_frames frames;
    uintptr_t pfns[64], one;
    size_t freed, i;

    ck_assert_int_eq( awe_frames_init( &frames, 64 ), 0 );
    alloc_pfns( &frames, 64, pfns );
    for (i = 0; i < 64; i++)
    {
        one = pfns[(i * 37) % 64];      /* a permutation of 0..63 */
        ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, &one, 1, &freed ), 0 );
        ck_assert_uint_eq( freed, 1 );
    }
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), 1 );
    ck_assert_uint_eq( frames.in_use, 0 );
    awe_frames_destroy( &frames );
}
END_TEST

/* F10: the pages before a bad entry are freed, the count says how many. */
START_TEST(test_free_stops_at_unknown_pfn)
{
    struct awe_frames frames;
    uintptr_t pfns[8], req[3];
    size_t freed;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 8, pfns );
    req[0] = pfns[2];
    req[1] = 0xdead0000;
    req[2] = pfns[3];
    POISON(freed);
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 3, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 1 );
    ck_assert( !awe_frames_is_allocated( &frames, 2 ) );
    ck_assert( awe_frames_is_allocated( &frames, 3 ) );
    awe_frames_destroy( &frames );
}
END_TEST

/* F11: a PFN repeated in the same call stops the loop at the repeat. */
START_TEST(test_free_stops_at_repeat)
{
    struct awe_frames frames;
    uintptr_t pfns[8], req[4];
    size_t freed;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 8, pfns );
    req[0] = pfns[4];
    req[1] = pfns[4];
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 2, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 1 );
    /* a repeat inside a run: 5 6 5 */
    req[0] = pfns[5];
    req[1] = pfns[6];
    req[2] = pfns[5];
    req[3] = pfns[7];
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 4, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 2 );
    ck_assert( awe_frames_is_allocated( &frames, 7 ) );
    awe_frames_destroy( &frames );
}
END_TEST

/* F09: freeing again what was freed fails at the first entry. */
START_TEST(test_free_twice)
{
    struct awe_frames frames;
    uintptr_t pfns[2];
    size_t freed;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 2, pfns );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, 2, &freed ), 0 );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, 2, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 0 );
    awe_frames_destroy( &frames );
}
END_TEST

/* F13: frames of another process (another tag) are not ours to free. */
START_TEST(test_free_other_tag_and_malformed)
{
    struct awe_frames frames;
    uintptr_t pfns[2], bad[1];
    size_t freed;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 2, pfns );
    bad[0] = (uintptr_t)awe_pfn_encode( &layout, TAG + 1, 0 );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, bad, 1, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 0 );
    bad[0] = 0;
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, bad, 1, &freed ), -EINVAL );
    bad[0] = pfns[0] | ((uintptr_t)1 << 40);
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, bad, 1, &freed ), -EINVAL );
    bad[0] = pfn_of( 100 );               /* beyond the pool */
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, bad, 1, &freed ), -EINVAL );
    ck_assert_uint_eq( frames.in_use, 2 );
    awe_frames_destroy( &frames );
}
END_TEST

/* A run in the array that crosses from allocated into free frames frees the allocated part. */
START_TEST(test_free_run_into_free_frames)
{
    struct awe_frames frames;
    uintptr_t pfns[10], req[6];
    size_t freed, i;

    ck_assert_int_eq( awe_frames_init( &frames, 100 ), 0 );
    alloc_pfns( &frames, 10, pfns );
    req[0] = pfns[8];
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 1, &freed ), 0 );
    for (i = 0; i < 6; i++) req[i] = pfns[4] + i;     /* 4 5 6 7 8(free) 9 */
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 6, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 4 );
    ck_assert( awe_frames_is_allocated( &frames, 9 ) );
    ck_assert( !awe_frames_is_allocated( &frames, 7 ) );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_zero_limit)
{
    struct awe_frames frames;
    struct awe_frame_run runs[1];
    size_t nruns;

    ck_assert_int_eq( awe_frames_init( &frames, 0 ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 1, runs, 1, &nruns ), 0 );
    ck_assert( !awe_frames_is_allocated( &frames, 0 ) );
    ck_assert_uint_eq( awe_frames_span( &frames ), 0 );
    awe_frames_destroy( &frames );
}
END_TEST

/* Millions of frames: whole-pool runs stay one tree node; a checkerboard of frees costs
 * one node per hole and merges back to one run. */
START_TEST(test_millions_of_frames)
{
    const uint32_t limit = 1u << 21;
    struct awe_frames frames;
    struct awe_frame_run run;
    uintptr_t *pfns;
    size_t nruns, freed, i, n = awe_test_slow_tool() ? 1u << 16 : limit;

    ck_assert_int_eq( awe_frames_init( &frames, limit ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, limit, &run, 1, &nruns ), limit );
    ck_assert_uint_eq( run.count, limit );
    ck_assert_ptr_nonnull( pfns = malloc( n * sizeof(*pfns) ) );
    for (i = 0; i < n / 2; i++) pfns[i] = pfn_of( (uint32_t)(2 * i) );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, n / 2, &freed ), 0 );
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), n / 2 );
    for (i = 0; i < n / 2; i++) pfns[i] = pfn_of( (uint32_t)(2 * i + 1) );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, n / 2, &freed ), 0 );
    ck_assert_uint_eq( awe_frames_free_runs( &frames ), 1 );
    ck_assert_uint_eq( frames.in_use, limit - n );
    free( pfns );
    awe_frames_destroy( &frames );
}
END_TEST

/* A run in the array running past the end of the pool frees what is inside it. */
START_TEST(test_free_run_past_pool_end)
{
    struct awe_frames frames;
    struct awe_frame_run run;
    uintptr_t req[4];
    size_t nruns, freed, i;

    ck_assert_int_eq( awe_frames_init( &frames, 4 ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 4, &run, 1, &nruns ), 4 );
    for (i = 0; i < 4; i++) req[i] = pfn_of( 2 + (uint32_t)i );      /* 2 3 | 4 5 */
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, req, 4, &freed ), -EINVAL );
    ck_assert_uint_eq( freed, 2 );
    ck_assert_uint_eq( frames.in_use, 2 );
    awe_frames_destroy( &frames );
}
END_TEST

START_TEST(test_empty_requests)
{
    struct awe_frames frames;
    struct awe_frame_run run;
    size_t nruns = 99, freed = 99;

    ck_assert_int_eq( awe_frames_init( &frames, 8 ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 0, &run, 1, &nruns ), 0 );
    ck_assert_uint_eq( nruns, 0 );
    ck_assert_uint_eq( awe_frames_alloc( &frames, 4, &run, 0, &nruns ), 0 );
    ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, NULL, 0, &freed ), 0 );
    ck_assert_uint_eq( freed, 0 );
    ck_assert( !awe_frames_is_allocated( &frames, 8 ) );
    ck_assert( !awe_frames_is_allocated( &frames, UINT32_MAX ) );
    awe_frames_destroy( &frames );
}
END_TEST

/* Allocate/free cycles reuse nodes; the tree stays one node per free run. */
START_TEST(test_cycles_keep_tree_small)
{
    struct awe_frames frames;
    uintptr_t pfns[40];
    size_t freed, round;

    ck_assert_int_eq( awe_frames_init( &frames, 1000 ), 0 );
    for (round = 0; round < 200; round++)
    {
        size_t n = alloc_pfns( &frames, 40, pfns );
        ck_assert_uint_eq( n, 40 );
        ck_assert_uint_eq( pfns[0], pfn_of( 0 ) );        /* lowest first, every time */
        ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns + 20, 20, &freed ), 0 );
        ck_assert_int_eq( awe_frames_free( &frames, &layout, TAG, pfns, 20, &freed ), 0 );
        ck_assert_uint_eq( awe_frames_free_runs( &frames ), 1 );
    }
    awe_frames_destroy( &frames );
}
END_TEST

AWE_DEFINE_SUITE(frames)
{
    Suite *s = suite_create( "frames" );
    TCase *core = tcase_create( "core" ), *limits = tcase_create( "limits" );
    TCase *errors = tcase_create( "errors" );

    tcase_add_unchecked_fixture( core, setup_layout, NULL );
    tcase_add_unchecked_fixture( limits, setup_layout, NULL );
    tcase_add_unchecked_fixture( errors, setup_layout, NULL );
    tcase_add_test( core, test_lowest_first_ascending );
    tcase_add_test( core, test_holes_filled_lowest_first );
    tcase_add_test( core, test_free_all_and_merge );
    tcase_add_test( core, test_free_reverse_and_shuffled_merges );
    tcase_add_test( limits, test_partial_at_limit );
    tcase_add_test( limits, test_max_runs_limits_allocation );
    tcase_add_test( limits, test_zero_limit );
    tcase_add_test( limits, test_empty_requests );
    tcase_add_test( core, test_cycles_keep_tree_small );
    tcase_add_test( errors, test_free_run_past_pool_end );
    tcase_add_test( limits, test_millions_of_frames );
    tcase_set_timeout( limits, 60 );
    tcase_add_test( errors, test_free_stops_at_unknown_pfn );
    tcase_add_test( errors, test_free_stops_at_repeat );
    tcase_add_test( errors, test_free_twice );
    tcase_add_test( errors, test_free_other_tag_and_malformed );
    tcase_add_test( errors, test_free_run_into_free_frames );
    suite_add_tcase( s, core );
    suite_add_tcase( s, limits );
    suite_add_tcase( s, errors );
    return s;
}
