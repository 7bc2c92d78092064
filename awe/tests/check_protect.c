/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for protecting AWE pages: awe-spec.md section 2.8 and cases V15-V19. */

#include "core_fixture.h"

/* Plans and commits a protect of pages pages at va in region; returns its status. */
static NTSTATUS do_protect( struct awe_region *region, uintptr_t va, size_t pages,
                            enum awe_prot prot, enum awe_prot *old )
{
    struct awe_plan plan;
    NTSTATUS status = awe_plan_protect( &fx.regions, region, va, pages, prot, old, &plan );

    if (!status) awe_plan_commit( &fx.regions, &plan );
    else ck_assert_uint_eq( plan.nops, 0 );
    return status;
}

static enum awe_prot prot_at( uintptr_t va )
{
    struct awe_region *region = awe_regions_find( &fx.regions, va );
    ck_assert_ptr_nonnull( region );
    return region->prot[(va - region->base) / P];
}

/* V15: nothing mapped, nothing to do; the old protection is NOACCESS. */
START_TEST(test_protect_unmapped)
{
    struct awe_plan plan;
    enum awe_prot old;

    POISON(old);
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, 16, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_NOACCESS );
    ck_assert_uint_eq( plan.nops, 0 );
    ck_assert_int_eq( plan.vma_delta, 0 );
    awe_plan_commit( &fx.regions, &plan );
    check_consistent();
}
END_TEST

/* V17 (planner part): one mapped page becomes one mprotect; commit records it. */
START_TEST(test_protect_mapped_page)
{
    struct awe_plan plan;
    enum awe_prot old;

    ck_assert_int_eq( do_map( FX_AWE, 1, fx.pfn ), STATUS_SUCCESS );
    POISON(old);
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, 1, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_READWRITE );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_PROTECT );
    ck_assert_uint_eq( plan.ops[0].va, FX_AWE );
    ck_assert_uint_eq( plan.ops[0].pages, 1 );
    ck_assert_uint_eq( plan.ops[0].pfn, fx.pfn[0] );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( plan.protect_pages, 1 );
    ck_assert_uint_eq( plan.map_pages, 0 );
    ck_assert_int_eq( plan.vma_delta, 0 );     /* the frame's VMA only changes its access */
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_int_eq( prot_at( FX_AWE ), AWE_PROT_READONLY );
    ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 0 ), FX_AWE );
    /* protecting again: old is what was set, and nothing changes */
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE, 1, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_READONLY );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE, 1, AWE_PROT_NOACCESS, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_READONLY );
    ck_assert_int_eq( prot_at( FX_AWE ), AWE_PROT_NOACCESS );
    check_consistent();
}
END_TEST

/* Only mapped pages change; runs of them merge into one mprotect whatever their frames, and
 * pages already at the protection are left out (every page of a plan changes). */
START_TEST(test_protect_runs)
{
    uintptr_t vas[5] = { FX_AWE + 2 * P, FX_AWE + 3 * P, FX_AWE + 4 * P, FX_AWE + 8 * P, FX_AWE + 9 * P };
    uintptr_t pfns[5] = { fx.pfn[7], fx.pfn[2], fx.pfn[3], fx.pfn[9], fx.pfn[10] };
    struct awe_plan plan;
    enum awe_prot old;

    ck_assert_int_eq( do_scatter( vas, 5, pfns ), STATUS_SUCCESS );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 9 * P, 1, AWE_PROT_NOACCESS, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE + P, 10, AWE_PROT_NOACCESS,
                                        &old, &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_NOACCESS );                  /* page 1 is unmapped */
    ck_assert_uint_eq( plan.nops, 2 );
    ck_assert_uint_eq( plan.ops[0].va, FX_AWE + 2 * P );         /* frames 7, 2, 3: one run */
    ck_assert_uint_eq( plan.ops[0].pages, 3 );
    ck_assert_uint_eq( plan.ops[1].va, FX_AWE + 8 * P );         /* page 9 is NOACCESS already */
    ck_assert_uint_eq( plan.ops[1].pages, 1 );
    ck_assert_uint_eq( plan.protect_pages, 4 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_int_eq( prot_at( FX_AWE + 3 * P ), AWE_PROT_NOACCESS );
    ck_assert_int_eq( prot_at( FX_AWE + 8 * P ), AWE_PROT_NOACCESS );
    check_consistent();
}
END_TEST

/* Protection changes split and merge VMAs like frame changes do. */
START_TEST(test_protect_vma_delta)
{
    enum awe_prot old;

    ck_assert_int_eq( do_map( FX_AWE + 4 * P, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_uint_eq( fx.awe->vmas, 3 );                        /* reserve, frames 0-3, reserve */
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 5 * P, 2, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_uint_eq( fx.awe->vmas, 5 );                        /* RW, RO RO, RW split the run */
    check_consistent();
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 4 * P, 1, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_uint_eq( fx.awe->vmas, 4 );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE, 16, AWE_PROT_READWRITE, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_NOACCESS );
    ck_assert_uint_eq( fx.awe->vmas, 3 );
    check_consistent();
}
END_TEST

/* A protect that splits VMAs is held to the map budget, not the unmap headroom. */
START_TEST(test_protect_budget)
{
    struct awe_plan plan;
    enum awe_prot old = AWE_PROT_READWRITE;

    ck_assert_int_eq( do_map( FX_AWE, 8, fx.pfn ), STATUS_SUCCESS );
    fx.regions.vma_limit = fx.regions.vmas + 1;
    fx.regions.vma_hard_limit = fx.regions.vmas + 100;
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE + 2 * P, 1, AWE_PROT_READONLY,
                                        &old, &plan ), STATUS_INSUFFICIENT_RESOURCES );
    ck_assert_uint_eq( plan.nops, 0 );
    ck_assert_int_eq( old, AWE_PROT_READWRITE );                 /* not written on failure */
    /* at the end of the run it costs one VMA, which fits */
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 7 * P, 1, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    /* and one that merges is always fine */
    fx.regions.vma_limit = fx.regions.vmas;
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 7 * P, 1, AWE_PROT_READWRITE, &old ), STATUS_SUCCESS );
    check_consistent();
}
END_TEST

/* Undo puts back each page's own protection, with protect operations. */
START_TEST(test_protect_undo)
{
    struct awe_plan plan, undo;
    enum awe_prot old;

    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE + 6 * P, 2, &fx.pfn[4] ), STATUS_SUCCESS );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + P, 1, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, 8, AWE_PROT_NOACCESS, &old,
                                        &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 2 );
    ck_assert_int_eq( awe_plan_undo( &fx.regions, &plan, 1, &undo ), 0 );
    ck_assert_uint_eq( undo.nops, 3 );                           /* RW, RO, RW RW */
    ck_assert_int_eq( undo.ops[0].kind, AWE_OP_PROTECT );
    ck_assert_int_eq( undo.ops[0].prot, AWE_PROT_READWRITE );
    ck_assert_uint_eq( undo.ops[1].va, FX_AWE + P );
    ck_assert_int_eq( undo.ops[1].prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( undo.ops[2].pages, 2 );
    awe_plan_release( &undo );
    awe_plan_release( &plan );
    ck_assert_int_eq( prot_at( FX_AWE ), AWE_PROT_READWRITE );   /* tables untouched */
    check_consistent();
}
END_TEST

/* V19: a page made read-only is read/write again after the next Map; a Scatter naming the
 * frame already there (S06) makes it read/write too. */
START_TEST(test_map_resets_protection)
{
    struct awe_plan plan;
    uintptr_t va = FX_AWE + 3 * P;
    enum awe_prot old;

    ck_assert_int_eq( do_map( FX_AWE, 1, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE, 1, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE, 1, NULL ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_AWE, 1, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( prot_at( FX_AWE ), AWE_PROT_READWRITE );

    ck_assert_int_eq( do_scatter( &va, 1, &fx.pfn[1] ), STATUS_SUCCESS );
    ck_assert_int_eq( do_protect( fx.awe, va, 1, AWE_PROT_NOACCESS, &old ), STATUS_SUCCESS );
    ck_assert_int_eq( fx_scatter( &va, 1, &fx.pfn[1], &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].kind, AWE_OP_PROTECT );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READWRITE );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_int_eq( prot_at( va ), AWE_PROT_READWRITE );
    ck_assert_uint_eq( pfn_at( va ), fx.pfn[1] );
    /* already read/write: nothing to do */
    ck_assert_int_eq( fx_scatter( &va, 1, &fx.pfn[1], &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 0 );
    awe_plan_release( &plan );
    check_consistent();
}
END_TEST

/* V16 with protections: queries split runs where the protection changes. */
START_TEST(test_query_after_protect)
{
    enum awe_prot old, prot;
    uint32_t pfn;

    ck_assert_int_eq( do_map( FX_AWE + 2 * P, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_protect( fx.awe, FX_AWE + 4 * P, 2, AWE_PROT_READONLY, &old ), STATUS_SUCCESS );
    ck_assert_uint_eq( awe_region_query( fx.awe, 0, &pfn, &prot ), 2 );
    ck_assert_uint_eq( pfn, 0 );
    ck_assert_uint_eq( awe_region_query( fx.awe, 2, &pfn, &prot ), 2 );
    ck_assert_int_eq( prot, AWE_PROT_READWRITE );
    ck_assert_uint_eq( awe_region_query( fx.awe, 4, &pfn, &prot ), 2 );
    ck_assert_int_eq( prot, AWE_PROT_READONLY );
    ck_assert_uint_eq( pfn, fx.pfn[2] );
    ck_assert_uint_eq( awe_region_query( fx.awe, 6, &pfn, &prot ), 10 );
}
END_TEST

START_TEST(test_protect_errors)
{
    struct awe_plan plan;
    enum awe_prot old;

    ck_assert_int_eq( do_map( FX_AWE, 2, fx.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, 0, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE + 1, 1, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE + 15 * P, 2, AWE_PROT_READONLY,
                                        &old, &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE - P, 1, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE2, 1, AWE_PROT_READONLY, &old,
                                        &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, 1, (enum awe_prot)3, &old,
                                        &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, fx.awe, FX_AWE, (size_t)-1, AWE_PROT_READONLY,
                                        &old, &plan ), STATUS_INVALID_PARAMETER );
    ck_assert_uint_eq( plan.nops, 0 );
    ck_assert_int_eq( prot_at( FX_AWE ), AWE_PROT_READWRITE );
    check_consistent();
}
END_TEST

AWE_DEFINE_SUITE(protect)
{
    Suite *s = suite_create( "protect" );
    TCase *core = tcase_create( "core" ), *limits = tcase_create( "limits" );
    TCase *errors = tcase_create( "errors" );

    tcase_add_checked_fixture( core, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( limits, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( errors, fixture_setup, fixture_teardown );
    tcase_add_test( core, test_protect_unmapped );
    tcase_add_test( core, test_protect_mapped_page );
    tcase_add_test( core, test_protect_runs );
    tcase_add_test( core, test_protect_vma_delta );
    tcase_add_test( core, test_map_resets_protection );
    tcase_add_test( core, test_query_after_protect );
    tcase_add_test( limits, test_protect_budget );
    tcase_add_test( limits, test_protect_undo );
    tcase_add_test( errors, test_protect_errors );
    suite_add_tcase( s, core );
    suite_add_tcase( s, limits );
    suite_add_tcase( s, errors );
    return s;
}
