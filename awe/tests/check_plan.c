/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the Map/Scatter planner: awe-spec.md sections 2.2, 2.3 and cases M, S, F08. */

#include "core_fixture.h"

#define MAXULONG_PTR UINTPTR_MAX

/* ---- MapUserPhysicalPages ---------------------------------------------------------------- */

START_TEST(test_map_count_checks)
{
    struct awe_plan plan;

    ck_assert_int_eq( fx_map( FX_AWE, 0, fx.pfn, &plan ), STATUS_INVALID_PARAMETER_2 );          /* M01 */
    ck_assert_int_eq( fx_map( FX_AWE, ~(uint64_t)0, fx.pfn, &plan ), STATUS_INVALID_PARAMETER_2 ); /* M02 */
    ck_assert_int_eq( fx_map( FX_AWE, (MAXULONG_PTR >> 12) + 1, fx.pfn, &plan ), STATUS_INVALID_PARAMETER_2 );
    /* passes the count check, wraps the address space */
    ck_assert_int_eq( fx_map( FX_AWE, MAXULONG_PTR >> 12, fx.pfn, &plan ), STATUS_INVALID_PARAMETER_2 );
    ck_assert_int_eq( fx_map( UINTPTR_MAX - P + 1, 1, NULL, &plan ), STATUS_INVALID_PARAMETER_1 );
    ck_assert_int_eq( fx_map( UINTPTR_MAX - P + 1, 2, NULL, &plan ), STATUS_INVALID_PARAMETER_2 );
    /* the count checks come before the array is captured */
    ck_assert_int_eq( fx_map( FX_AWE, 0, (void *)1, &plan ), STATUS_INVALID_PARAMETER_2 );
    ck_assert_uint_eq( plan.nops, 0 );
}
END_TEST

START_TEST(test_map_capture_before_region)
{
    struct awe_plan plan;
    uintptr_t arr[4] = { 0 };

    ck_assert_int_eq( fx_map( FX_NORM, 1, NULL, &plan ), STATUS_INVALID_PARAMETER_1 );           /* M03 */
    ck_assert_int_eq( fx_map( FX_NORM, 1, (void *)1, &plan ), STATUS_DATATYPE_MISALIGNMENT );    /* M04 */
    ck_assert_int_eq( fx_map( FX_NORM, 1, (void *)8, &plan ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( fx_map( FX_NORM, 1, (void *)((char *)arr + 4), &plan ), STATUS_DATATYPE_MISALIGNMENT );
    /* an array that runs into unreadable memory */
    fx.bad_lo = &arr[3];
    fx.bad_hi = &arr[4];
    ck_assert_int_eq( fx_map( FX_AWE, 4, arr, &plan ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( fx_map( FX_AWE, 3, fx.pfn, &plan ), STATUS_SUCCESS );
    awe_plan_release( &plan );
}
END_TEST

START_TEST(test_map_unmap_never_mapped)
{
    struct awe_plan plan;

    ck_assert_int_eq( fx_map( FX_AWE, 1, NULL, &plan ), STATUS_SUCCESS );                        /* M05 */
    ck_assert_uint_eq( plan.nops, 0 );
    awe_plan_commit( &fx.regions, &plan );
    check_consistent();
}
END_TEST

START_TEST(test_map_basic_coalesced)
{
    struct awe_plan plan;

    ck_assert_int_eq( fx_map( FX_AWE, 4, fx.pfn, &plan ), STATUS_SUCCESS );                       /* M06 */
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_MAP );
    ck_assert_uint_eq( plan.ops[0].va, FX_AWE );
    ck_assert_uint_eq( plan.ops[0].pages, 4 );
    ck_assert_uint_eq( plan.ops[0].pfn, fx.pfn[0] );
    ck_assert_uint_eq( plan.ops[0].index, 0 );
    ck_assert_int_eq( plan.vma_delta, 1 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( pfn_at( FX_AWE + 3 * P ), fx.pfn[3] );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 2 ), FX_AWE + 2 * P );
    ck_assert_uint_eq( fx.awe->vmas, 2 );
    check_consistent();
}
END_TEST

START_TEST(test_map_runs_split_where_frames_jump)
{
    struct awe_plan plan;
    uintptr_t arr[6] = { fx.pfn[0], fx.pfn[1], fx.pfn[3], fx.pfn[4], fx.pfn[9], fx.pfn[8] };

    ck_assert_int_eq( fx_map( FX_AWE + 2 * P, 6, arr, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 4 );
    ck_assert_uint_eq( plan.ops[0].pages, 2 );
    ck_assert_uint_eq( plan.ops[1].va, FX_AWE + 4 * P );
    ck_assert_uint_eq( plan.ops[1].index, 3 );
    ck_assert_uint_eq( plan.ops[2].pages, 1 );
    ck_assert_uint_eq( plan.ops[3].index, 8 );
    awe_plan_commit( &fx.regions, &plan );
    check_consistent();
    ck_assert_uint_eq( fx.awe->vmas, 6 );
}
END_TEST

START_TEST(test_map_unaligned_va)
{
    ck_assert_int_eq( do_map( FX_AWE + 1, 1, &fx.pfn[4] ), STATUS_SUCCESS );                      /* M07 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[4] );
    ck_assert_int_eq( do_map( FX_AWE + 2 * P + 4095, 1, &fx.pfn[5] ), STATUS_SUCCESS );
    ck_assert_uint_eq( pfn_at( FX_AWE + 2 * P ), fx.pfn[5] );
}
END_TEST

START_TEST(test_map_region_checks)
{
    struct awe_region *next;

    ck_assert_int_eq( do_map( FX_AWE + 15 * P, 2, fx.pfn ), STATUS_INVALID_PARAMETER_1 );         /* M08 */
    ck_assert_uint_eq( pfn_at( FX_AWE + 15 * P ), 0 );
    ck_assert_int_eq( do_map( FX_NORM, 1, fx.pfn ), STATUS_INVALID_PARAMETER_1 );                 /* M09 */
    /* a range running into an adjacent region is not inside one region */
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE + 16 * P, 4, &next ), 0 );
    ck_assert_int_eq( do_map( FX_AWE + 15 * P, 2, fx.pfn ), STATUS_INVALID_PARAMETER_1 );
    ck_assert_int_eq( do_map( FX_AWE + 16 * P, 2, fx.pfn ), STATUS_SUCCESS );
    /* the region check comes before the frame checks */
    {
        uintptr_t zero = 0;
        ck_assert_int_eq( do_map( FX_NORM, 1, &zero ), STATUS_INVALID_PARAMETER_1 );
    }
}
END_TEST

START_TEST(test_map_not_owned)
{
    uintptr_t arr[2];

    arr[0] = 0;
    ck_assert_int_eq( do_map( FX_AWE, 1, arr ), STATUS_CONFLICTING_ADDRESSES );                  /* M10 */
    arr[0] = fx.pfn[7] + 0x100000;
    ck_assert_int_eq( do_map( FX_AWE, 1, arr ), STATUS_CONFLICTING_ADDRESSES );                  /* M11 */
    arr[0] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG + 1, 0 );   /* another process's */
    ck_assert_int_eq( do_map( FX_AWE, 1, arr ), STATUS_CONFLICTING_ADDRESSES );
    arr[0] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG, 16 );      /* never allocated */
    ck_assert_int_eq( do_map( FX_AWE, 1, arr ), STATUS_CONFLICTING_ADDRESSES );
    arr[0] = fx.pfn[0] | ((uintptr_t)1 << 62);                        /* a bit past the layout */
    ck_assert_int_eq( do_map( FX_AWE, 1, arr ), STATUS_CONFLICTING_ADDRESSES );
    arr[0] = fx.pfn[0];
    arr[1] = 0;
    ck_assert_int_eq( do_map( FX_AWE, 2, arr ), STATUS_CONFLICTING_ADDRESSES );                  /* M15 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), 0 );
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    check_consistent();
}
END_TEST

START_TEST(test_map_already_mapped)
{
    uintptr_t arr[2];

    ck_assert_int_eq( do_map( FX_AWE, 1, &fx.pfn[0] ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE + P, 1, &fx.pfn[0] ), STATUS_CONFLICTING_ADDRESSES );       /* M12 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
    ck_assert_uint_eq( pfn_at( FX_AWE + P ), 0 );
    ck_assert_int_eq( do_map( FX_AWE, 1, &fx.pfn[0] ), STATUS_CONFLICTING_ADDRESSES );           /* M13 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
    arr[0] = arr[1] = fx.pfn[1];
    ck_assert_int_eq( do_map( FX_AWE + 4 * P, 2, arr ), STATUS_CONFLICTING_ADDRESSES );          /* M14 */
    ck_assert_uint_eq( pfn_at( FX_AWE + 4 * P ), 0 );
    /* M21: mapped in one region blocks mapping in another */
    ck_assert_int_eq( do_map( FX_AWE2, 1, &fx.pfn[0] ), STATUS_CONFLICTING_ADDRESSES );
    ck_assert_int_eq( do_map( FX_AWE, 1, NULL ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE2, 1, &fx.pfn[0] ), STATUS_SUCCESS );
    check_consistent();
}
END_TEST

START_TEST(test_map_swap_fails)
{
    uintptr_t swap[2] = { fx.pfn[1], fx.pfn[0] };

    ck_assert_int_eq( do_map( FX_AWE, 2, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE, 2, swap ), STATUS_CONFLICTING_ADDRESSES );                 /* M19 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
    ck_assert_uint_eq( pfn_at( FX_AWE + P ), fx.pfn[1] );
    check_consistent();
}
END_TEST

START_TEST(test_map_unmap_range)
{
    struct awe_plan plan;

    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE + 6 * P, 1, &fx.pfn[6] ), STATUS_SUCCESS );
    ck_assert_int_eq( fx_map( FX_AWE, 8, NULL, &plan ), STATUS_SUCCESS );                        /* M16 */
    ck_assert_uint_eq( plan.nops, 2 );          /* only the mapped stretches need the overlay */
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_UNMAP );
    ck_assert_uint_eq( plan.ops[0].pages, 4 );
    ck_assert_uint_eq( plan.ops[1].va, FX_AWE + 6 * P );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    ck_assert_uint_eq( fx.awe->vmas, 1 );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 0 ), 0 );
    ck_assert_int_eq( do_map( FX_AWE + 5 * P, 1, &fx.pfn[0] ), STATUS_SUCCESS );                /* M17 */
    check_consistent();
}
END_TEST

START_TEST(test_map_replaces)
{
    ck_assert_int_eq( do_map( FX_AWE, 1, &fx.pfn[0] ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE, 1, &fx.pfn[1] ), STATUS_SUCCESS );                         /* M18 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[1] );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 0 ), 0 );
    ck_assert_int_eq( do_map( FX_AWE + P, 1, &fx.pfn[0] ), STATUS_SUCCESS );
    check_consistent();
}
END_TEST

START_TEST(test_map_large_array)
{
    enum { N = 100 };
    static uintptr_t arr[N];
    struct awe_frame_run run;
    struct awe_region *big;
    struct awe_plan plan;
    size_t nruns, i;

    ck_assert_uint_eq( awe_frames_alloc( &fx.frames, N, &run, 1, &nruns ), N );
    for (i = 0; i < N; i++) arr[i] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG, run.start + (uint32_t)i );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, 0x40000000, 2 * N, &big ), 0 );
    ck_assert_int_eq( fx_map( 0x40000000, N, arr, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_uint_eq( plan.ops[0].pages, N );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( big->mapped, N );
    ck_assert_uint_eq( big->vmas, 2 );
}
END_TEST

/* The VMA budget: maps fail cleanly before the kernel would, unmapping stays possible. */
START_TEST(test_vma_budget)
{
    struct awe_plan plan;

    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );          /* vmas: 2 + 1 */
    fx.regions.vma_limit = fx.regions.vmas + 1;
    /* an isolated page needs two more */
    ck_assert_int_eq( fx_map( FX_AWE + 8 * P, 1, &fx.pfn[8], &plan ), STATUS_INSUFFICIENT_RESOURCES );
    ck_assert_uint_eq( plan.nops, 0 );
    ck_assert_uint_eq( pfn_at( FX_AWE + 8 * P ), 0 );
    /* extending the run needs none */
    ck_assert_int_eq( do_map( FX_AWE + 4 * P, 1, &fx.pfn[4] ), STATUS_SUCCESS );
    /* unmapping the middle of the run splits it: allowed past vma_limit */
    ck_assert_int_eq( fx_map( FX_AWE + 2 * P, 1, NULL, &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( plan.vma_delta, 2 );
    awe_plan_commit( &fx.regions, &plan );
    /* ... but not past the hard limit */
    fx.regions.vma_hard_limit = fx.regions.vmas + 1;
    ck_assert_int_eq( fx_map( FX_AWE, 1, NULL, &plan ), STATUS_SUCCESS );     /* at the edge: +0 */
    awe_plan_release( &plan );
    ck_assert_int_eq( fx_map( FX_AWE + 3 * P, 1, NULL, &plan ), STATUS_SUCCESS );  /* run end: +1 */
    awe_plan_release( &plan );
    ck_assert_int_eq( do_map( FX_AWE + P, 1, NULL ), STATUS_SUCCESS );                  /* -0 +1 */
    check_consistent();
}
END_TEST

/* An aborted plan leaves the tables as they were. */
START_TEST(test_abort_changes_nothing)
{
    struct awe_plan plan;

    ck_assert_int_eq( do_map( FX_AWE, 2, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( fx_map( FX_AWE, 4, &fx.pfn[4], &plan ), STATUS_SUCCESS );
    awe_plan_release( &plan );
    awe_plan_release( &plan );
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
    ck_assert_uint_eq( pfn_at( FX_AWE + 2 * P ), 0 );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 4 ), 0 );
    check_consistent();
}
END_TEST

/* Undo describes the old state of every page the plan touched. */
START_TEST(test_undo)
{
    struct awe_plan plan, undo;
    uintptr_t arr[4] = { fx.pfn[8], fx.pfn[9], fx.pfn[10], fx.pfn[11] };

    ck_assert_int_eq( do_map( FX_AWE, 2, fx.pfn ), STATUS_SUCCESS );
    fx.awe->prot[1] = AWE_PROT_READONLY;
    fx.awe->vmas = awe_region_count_vmas( fx.awe );
    fx.regions.vmas = fx.awe->vmas + fx.awe2->vmas;
    ck_assert_int_eq( fx_map( FX_AWE, 4, arr, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( awe_plan_undo( &fx.regions, &plan, 1, &undo ), 0 );
    ck_assert_uint_eq( undo.nops, 3 );
    ck_assert_int_eq( undo.ops[0].kind, AWE_OP_MAP );
    ck_assert_uint_eq( undo.ops[0].pfn, fx.pfn[0] );
    ck_assert_int_eq( undo.ops[0].prot, AWE_PROT_READWRITE );
    ck_assert_uint_eq( undo.ops[1].pfn, fx.pfn[1] );
    ck_assert_int_eq( undo.ops[1].prot, AWE_PROT_READONLY );
    ck_assert_int_eq( undo.ops[2].kind, AWE_OP_UNMAP );
    ck_assert_uint_eq( undo.ops[2].va, FX_AWE + 2 * P );
    ck_assert_uint_eq( undo.ops[2].pages, 2 );
    awe_plan_release( &undo );
    ck_assert_int_eq( awe_plan_undo( &fx.regions, &plan, 0, &undo ), 0 );
    ck_assert_uint_eq( undo.nops, 0 );
    awe_plan_release( &plan );
}
END_TEST

/* ---- MapUserPhysicalPagesScatter --------------------------------------------------------- */

START_TEST(test_scatter_argument_checks)
{
    struct awe_plan plan;
    uintptr_t vas[2] = { FX_NORM, FX_AWE };

    ck_assert_int_eq( fx_scatter( NULL, 0, NULL, &plan ), STATUS_SUCCESS );                      /* S01 */
    ck_assert_int_eq( fx_scatter( NULL, 1, NULL, &plan ), STATUS_ACCESS_VIOLATION );             /* S02 */
    ck_assert_int_eq( fx_scatter( vas, 1, NULL, &plan ), STATUS_INVALID_PARAMETER_1 );           /* S03 */
    ck_assert_int_eq( fx_scatter( vas, ~(uint64_t)0, NULL, &plan ), STATUS_INVALID_PARAMETER_2 ); /* S04 */
    ck_assert_int_eq( fx_scatter( (void *)((char *)vas + 1), 1, NULL, &plan ), STATUS_DATATYPE_MISALIGNMENT );
    ck_assert_int_eq( fx_scatter( &vas[1], 1, (void *)2, &plan ), STATUS_DATATYPE_MISALIGNMENT );
    ck_assert_int_eq( fx_scatter( &vas[1], 1, (void *)8, &plan ), STATUS_ACCESS_VIOLATION );
    /* the PFN array is captured before the addresses are checked */
    ck_assert_int_eq( fx_scatter( vas, 1, (void *)8, &plan ), STATUS_ACCESS_VIOLATION );
    ck_assert_uint_eq( plan.nops, 0 );
}
END_TEST

START_TEST(test_scatter_basic)
{
    uintptr_t vas[3] = { FX_AWE + 3 * P, FX_AWE + P + 17, FX_AWE + 7 * P };
    uintptr_t pfns[3] = { fx.pfn[0], fx.pfn[1], fx.pfn[2] };
    uintptr_t part[3] = { fx.pfn[0], 0, fx.pfn[2] };

    ck_assert_int_eq( do_scatter( vas, 3, pfns ), STATUS_SUCCESS );                              /* S05 */
    ck_assert_uint_eq( pfn_at( FX_AWE + 3 * P ), fx.pfn[0] );
    ck_assert_uint_eq( pfn_at( FX_AWE + P ), fx.pfn[1] );
    ck_assert_uint_eq( pfn_at( FX_AWE + 7 * P ), fx.pfn[2] );
    check_consistent();
    ck_assert_int_eq( do_scatter( vas, 3, part ), STATUS_SUCCESS );                              /* S06 */
    ck_assert_uint_eq( pfn_at( FX_AWE + P ), 0 );
    ck_assert_uint_eq( pfn_at( FX_AWE + 3 * P ), fx.pfn[0] );
    ck_assert_uint_eq( pfn_at( FX_AWE + 7 * P ), fx.pfn[2] );
    check_consistent();
    ck_assert_int_eq( do_scatter( vas, 3, NULL ), STATUS_SUCCESS );                              /* S07 */
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    check_consistent();
}
END_TEST

START_TEST(test_scatter_all_or_nothing)
{
    uintptr_t vas[2] = { FX_AWE, FX_NORM };
    uintptr_t pfns[2] = { fx.pfn[0], fx.pfn[1] };

    ck_assert_int_eq( do_scatter( vas, 2, pfns ), STATUS_INVALID_PARAMETER_1 );                  /* S08 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), 0 );
    vas[1] = FX_AWE2;
    ck_assert_int_eq( do_scatter( vas, 2, pfns ), STATUS_SUCCESS );                              /* S09 */
    ck_assert_uint_eq( pfn_at( FX_AWE2 ), fx.pfn[1] );
    ck_assert_int_eq( do_scatter( vas, 2, NULL ), STATUS_SUCCESS );
    vas[1] = FX_AWE + P;
    pfns[1] = fx.pfn[0];
    ck_assert_int_eq( do_scatter( vas, 2, pfns ), STATUS_CONFLICTING_ADDRESSES );                /* S10 */
    pfns[1] = 0xdead0000;
    ck_assert_int_eq( do_scatter( vas, 2, pfns ), STATUS_CONFLICTING_ADDRESSES );                /* S11 */
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    check_consistent();
}
END_TEST

START_TEST(test_scatter_last_wins)
{
    uintptr_t vas[2] = { FX_AWE, FX_AWE + 100 };
    uintptr_t pfns[2] = { fx.pfn[0], fx.pfn[1] };
    uintptr_t back[2] = { fx.pfn[1], 0 };

    ck_assert_int_eq( do_scatter( vas, 2, pfns ), STATUS_SUCCESS );                              /* S12 */
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[1] );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 0 ), 0 );
    check_consistent();
    /* a frame named at its own address, then an unmap of that address: the unmap wins */
    ck_assert_int_eq( do_scatter( vas, 2, back ), STATUS_SUCCESS );
    ck_assert_uint_eq( pfn_at( FX_AWE ), 0 );
    check_consistent();
}
END_TEST

START_TEST(test_scatter_moves_and_coalesces)
{
    uintptr_t vas[8], pfns[8];
    struct awe_plan plan;
    size_t i;

    for (i = 0; i < 8; i++)
    {
        size_t page = (i * 5) % 8;         /* out of order, covering pages 0..7 */
        vas[i] = FX_AWE2 + page * P;
        pfns[i] = fx.pfn[page];
    }
    ck_assert_int_eq( fx_scatter( vas, 8, pfns, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_uint_eq( plan.ops[0].va, FX_AWE2 );
    ck_assert_uint_eq( plan.ops[0].pages, 8 );
    awe_plan_commit( &fx.regions, &plan );
    check_consistent();
    /* a mapped frame cannot move in one call (it must be unmapped first) */
    vas[0] = FX_AWE;
    ck_assert_int_eq( do_scatter( vas, 1, pfns ), STATUS_CONFLICTING_ADDRESSES );
}
END_TEST

START_TEST(test_scatter_regions_do_not_merge)
{
    struct awe_region *next;
    struct awe_plan plan;
    uintptr_t vas[2] = { FX_AWE + 15 * P, FX_AWE + 16 * P };

    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE + 16 * P, 4, &next ), 0 );
    ck_assert_int_eq( fx_scatter( vas, 2, fx.pfn, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 2 );
    ck_assert_ptr_eq( plan.ops[0].region, fx.awe );
    ck_assert_ptr_eq( plan.ops[1].region, next );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( next->vmas, 2 );
}
END_TEST

/* ---- unmap on Free ----------------------------------------------------------------------- */

START_TEST(test_unmap_frames)
{
    struct awe_plan plan;
    uintptr_t req[5] = { fx.pfn[1], fx.pfn[2], 0xdead0000, fx.pfn[1], fx.pfn[9] };

    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_unmap_frames( &fx.regions, req, 5, &plan ), STATUS_SUCCESS );     /* F08 */
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_UNMAP );
    ck_assert_uint_eq( plan.ops[0].va, FX_AWE + P );
    ck_assert_uint_eq( plan.ops[0].pages, 2 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( pfn_at( FX_AWE + P ), 0 );
    ck_assert_uint_eq( pfn_at( FX_AWE + 3 * P ), fx.pfn[3] );
    check_consistent();
    ck_assert_int_eq( awe_plan_unmap_frames( &fx.regions, req, 0, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 0 );
}
END_TEST

START_TEST(test_map_unmap_checks_region)
{
    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );
    /* the NULL-array path still needs the whole range in one region */
    ck_assert_int_eq( do_map( FX_AWE + 14 * P, 4, NULL ), STATUS_INVALID_PARAMETER_1 );
    ck_assert_int_eq( do_map( FX_NORM, 1, NULL ), STATUS_INVALID_PARAMETER_1 );
    ck_assert_uint_eq( fx.regions.mapped, 4 );
    /* a partly mapped range unmaps its mapped part */
    ck_assert_int_eq( do_map( FX_AWE + 2 * P, 6, NULL ), STATUS_SUCCESS );
    ck_assert_uint_eq( fx.regions.mapped, 2 );
    check_consistent();
}
END_TEST

/* More entries than the plan's inline buffers: the heap path. */
START_TEST(test_scatter_large)
{
    enum { N = 40 };
    uintptr_t vas[N], pfns[N];
    struct awe_region *big;
    struct awe_frame_run run;
    size_t nruns, i;

    ck_assert_uint_eq( awe_frames_alloc( &fx.frames, N, &run, 1, &nruns ), N );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, 0x40000000, 2 * N, &big ), 0 );
    for (i = 0; i < N; i++)
    {
        vas[i] = 0x40000000 + ((i * 7) % N) * 2 * P;      /* every other page, shuffled */
        pfns[i] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG, run.start + (uint32_t)i );
    }
    ck_assert_int_eq( do_scatter( vas, N, pfns ), STATUS_SUCCESS );
    ck_assert_uint_eq( big->mapped, N );
    ck_assert_uint_eq( big->vmas, 2 * N );
    ck_assert_int_eq( do_scatter( vas, N, NULL ), STATUS_SUCCESS );
    ck_assert_uint_eq( big->mapped, 0 );
    ck_assert_uint_eq( big->vmas, 1 );
}
END_TEST

START_TEST(test_scatter_budget)
{
    uintptr_t vas[2] = { FX_AWE + 3 * P, FX_AWE + 9 * P };
    struct awe_plan plan;

    fx.regions.vma_limit = fx.regions.vmas + 3;
    ck_assert_int_eq( fx_scatter( vas, 2, fx.pfn, &plan ), STATUS_INSUFFICIENT_RESOURCES );   /* +4 */
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    ck_assert_int_eq( do_scatter( vas, 1, fx.pfn ), STATUS_SUCCESS );                           /* +2 */
    check_consistent();
}
END_TEST

START_TEST(test_unmap_frames_ignores_others)
{
    struct awe_plan plan;
    uintptr_t req[3];

    ck_assert_int_eq( do_map( FX_AWE, 2, fx.pfn ), STATUS_SUCCESS );
    req[0] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG + 1, 0 );   /* same index, other tag */
    req[1] = fx.pfn[5];                                               /* ours, not mapped */
    req[2] = 0;
    ck_assert_int_eq( awe_plan_unmap_frames( &fx.regions, req, 3, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 0 );
    awe_plan_release( &plan );
    ck_assert_uint_eq( fx.regions.mapped, 2 );
}
END_TEST

/* The top bit of an entry maps read-only: runs split where it changes, the frame is the same,
 * and a bare top bit is no frame (Map) or an unmap (Scatter). */
START_TEST(test_map_readonly_entries)
{
    uintptr_t req[4] = { fx.pfn[0] | AWE_PFN_READONLY, fx.pfn[1] | AWE_PFN_READONLY, fx.pfn[2],
                         fx.pfn[3] | AWE_PFN_READONLY };
    uintptr_t vas[2] = { FX_AWE2, FX_AWE2 + P };
    struct awe_plan plan;
    enum awe_prot prot;
    uint32_t pfn;

    ck_assert_int_eq( fx_map( FX_AWE, 4, req, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 3 );
    ck_assert_uint_eq( plan.ops[0].pages, 2 );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( plan.ops[0].pfn, fx.pfn[0] );
    ck_assert_int_eq( plan.ops[1].prot, AWE_PROT_READWRITE );
    ck_assert_int_eq( plan.ops[2].prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( plan.ops[2].index, 3 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( awe_region_query( fx.awe, 0, &pfn, &prot ), 2 );
    ck_assert_uint_eq( pfn, fx.pfn[0] );
    ck_assert_int_eq( prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 1 ), FX_AWE + P );
    check_consistent();

    /* still the frame it names: mapped already, so refused */
    req[0] = fx.pfn[0] | AWE_PFN_READONLY;
    ck_assert_int_eq( fx_map( FX_AWE2, 1, req, &plan ), STATUS_CONFLICTING_ADDRESSES );
    req[0] = AWE_PFN_READONLY;
    ck_assert_int_eq( fx_map( FX_AWE2, 1, req, &plan ), STATUS_CONFLICTING_ADDRESSES );

    /* Scatter: per entry; at the address that maps it, only the protection changes */
    req[0] = fx.pfn[2] | AWE_PFN_READONLY;
    vas[0] = FX_AWE + 2 * P;
    req[1] = fx.pfn[8] | AWE_PFN_READONLY;
    ck_assert_int_eq( fx_scatter( vas, 2, req, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 2 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_PROTECT );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READONLY );
    ck_assert_int_eq( plan.ops[1].kind, AWE_OP_MAP );
    ck_assert_int_eq( plan.ops[1].prot, AWE_PROT_READONLY );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( awe_region_query( fx.awe, 0, &pfn, &prot ), 4 );
    ck_assert_int_eq( prot, AWE_PROT_READONLY );
    check_consistent();
    /* a bare top bit in a Scatter is a 0 entry: it unmaps */
    req[0] = AWE_PFN_READONLY;
    ck_assert_int_eq( fx_scatter( vas + 1, 1, req, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_UNMAP );
    awe_plan_release( &plan );
}
END_TEST

AWE_DEFINE_SUITE(plan)
{
    Suite *s = suite_create( "plan" );
    TCase *map = tcase_create( "map" ), *scatter = tcase_create( "scatter" );
    TCase *errors = tcase_create( "errors" ), *limits = tcase_create( "limits" );

    tcase_add_checked_fixture( map, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( scatter, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( errors, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( limits, fixture_setup, fixture_teardown );
    tcase_add_test( errors, test_map_count_checks );
    tcase_add_test( errors, test_map_capture_before_region );
    tcase_add_test( map, test_map_unmap_never_mapped );
    tcase_add_test( map, test_map_basic_coalesced );
    tcase_add_test( map, test_map_runs_split_where_frames_jump );
    tcase_add_test( map, test_map_unaligned_va );
    tcase_add_test( errors, test_map_region_checks );
    tcase_add_test( errors, test_map_not_owned );
    tcase_add_test( errors, test_map_already_mapped );
    tcase_add_test( errors, test_map_swap_fails );
    tcase_add_test( map, test_map_unmap_range );
    tcase_add_test( map, test_map_readonly_entries );
    tcase_add_test( map, test_map_replaces );
    tcase_add_test( map, test_map_large_array );
    tcase_add_test( map, test_abort_changes_nothing );
    tcase_add_test( map, test_undo );
    tcase_add_test( limits, test_vma_budget );
    tcase_add_test( errors, test_scatter_argument_checks );
    tcase_add_test( scatter, test_scatter_basic );
    tcase_add_test( scatter, test_scatter_all_or_nothing );
    tcase_add_test( scatter, test_scatter_last_wins );
    tcase_add_test( scatter, test_scatter_moves_and_coalesces );
    tcase_add_test( scatter, test_scatter_regions_do_not_merge );
    tcase_add_test( map, test_unmap_frames );
    tcase_add_test( map, test_unmap_frames_ignores_others );
    tcase_add_test( errors, test_map_unmap_checks_region );
    tcase_add_test( scatter, test_scatter_large );
    tcase_add_test( limits, test_scatter_budget );
    suite_add_tcase( s, map );
    suite_add_tcase( s, scatter );
    suite_add_tcase( s, errors );
    suite_add_tcase( s, limits );
    return s;
}
