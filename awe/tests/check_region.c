/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the AWE region table. */

#include "core_fixture.h"

START_TEST(test_find)
{
    ck_assert_ptr_eq( awe_regions_find( &fx.regions, FX_AWE ), fx.awe );
    ck_assert_ptr_eq( awe_regions_find( &fx.regions, FX_AWE + 15 * P + 4095 ), fx.awe );
    ck_assert_ptr_eq( awe_regions_find( &fx.regions, FX_AWE2 + 7 * P + 1 ), fx.awe2 );
    ck_assert_ptr_null( awe_regions_find( &fx.regions, FX_AWE + 16 * P ) );
    ck_assert_ptr_null( awe_regions_find( &fx.regions, FX_AWE - 1 ) );
    ck_assert_ptr_null( awe_regions_find( &fx.regions, FX_NORM ) );
    ck_assert_ptr_null( awe_regions_find( &fx.regions, 0 ) );
    ck_assert_uint_eq( fx.regions.vmas, 2 );
    check_consistent();
}
END_TEST

START_TEST(test_insert_rejects)
{
    struct awe_region *region = (void *)0x1;

    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE + 8 * P, 16, &region ), -EEXIST );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE - P, 2, &region ), -EEXIST );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE - 4 * P, 64, &region ), -EEXIST );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_NORM + 1, 1, &region ), -EINVAL );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_NORM, 0, &region ), -EINVAL );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, UINTPTR_MAX - P + 1, 2, &region ), -EINVAL );
    ck_assert_ptr_eq( region, (void *)0x1 );
    /* touching neighbours are fine */
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE - 4 * P, 4, &region ), 0 );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE + 16 * P, 4, NULL ), 0 );
    ck_assert_ptr_eq( awe_regions_find( &fx.regions, FX_AWE - 1 ), region );
    ck_assert_uint_eq( fx.regions.tree.count, 4 );
}
END_TEST

START_TEST(test_query_splits_at_mapping_boundaries)
{
    uint32_t pfn;
    enum awe_prot prot;

    /* V16: pages 2..3 mapped */
    ck_assert_int_eq( do_map( FX_AWE + 2 * P, 2, fx.pfn ), STATUS_SUCCESS );
    ck_assert_uint_eq( awe_region_query( fx.awe, 0, &pfn, &prot ), 2 );
    ck_assert_uint_eq( pfn, 0 );
    ck_assert_uint_eq( awe_region_query( fx.awe, 2, &pfn, &prot ), 2 );
    ck_assert_uint_eq( pfn, fx.pfn[0] );
    ck_assert_int_eq( prot, AWE_PROT_READWRITE );
    ck_assert_uint_eq( awe_region_query( fx.awe, 3, &pfn, &prot ), 1 );
    ck_assert_uint_eq( awe_region_query( fx.awe, 4, &pfn, &prot ), 12 );
    /* a protection change splits a mapped run too */
    fx.awe->prot[3] = AWE_PROT_READONLY;
    ck_assert_uint_eq( awe_region_query( fx.awe, 2, &pfn, &prot ), 1 );
    ck_assert_uint_eq( awe_region_query( fx.awe, 3, &pfn, &prot ), 1 );
    ck_assert_int_eq( prot, AWE_PROT_READONLY );
}
END_TEST

START_TEST(test_vma_count)
{
    ck_assert_uint_eq( awe_region_count_vmas( fx.awe ), 1 );
    ck_assert_int_eq( do_map( FX_AWE + 4 * P, 4, fx.pfn ), STATUS_SUCCESS );   /* one run */
    ck_assert_uint_eq( fx.awe->vmas, 3 );
    ck_assert_int_eq( do_map( FX_AWE, 1, &fx.pfn[8] ), STATUS_SUCCESS );       /* at the start */
    ck_assert_uint_eq( fx.awe->vmas, 4 );
    ck_assert_int_eq( do_map( FX_AWE + P, 1, &fx.pfn[9] ), STATUS_SUCCESS );   /* continues it */
    ck_assert_uint_eq( fx.awe->vmas, 4 );
    ck_assert_int_eq( do_map( FX_AWE + 15 * P, 1, &fx.pfn[12] ), STATUS_SUCCESS );  /* at the end */
    ck_assert_uint_eq( fx.awe->vmas, 5 );
    ck_assert_int_eq( do_map( FX_AWE + 10 * P, 1, &fx.pfn[13] ), STATUS_SUCCESS );  /* isolated: +2 */
    ck_assert_uint_eq( fx.awe->vmas, 7 );
    check_consistent();
}
END_TEST

/* V20: releasing a region unmaps its pages but the frames survive for another region. */
START_TEST(test_remove_keeps_frames)
{
    ck_assert_int_eq( do_map( FX_AWE, 4, fx.pfn ), STATUS_SUCCESS );
    ck_assert_uint_eq( fx.regions.mapped, 4 );
    awe_regions_remove( &fx.regions, fx.awe );
    fx.awe = NULL;
    ck_assert_uint_eq( fx.regions.mapped, 0 );
    ck_assert_uint_eq( fx.regions.vmas, 1 );
    ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, 0 ), 0 );
    ck_assert_ptr_null( awe_regions_find( &fx.regions, FX_AWE ) );
    ck_assert_int_eq( do_map( FX_AWE2, 4, fx.pfn ), STATUS_SUCCESS );
    check_consistent();
}
END_TEST

START_TEST(test_init_rejects_bad_tag)
{
    struct awe_regions regions;

    ck_assert_int_eq( awe_regions_init( &regions, &fx.layout, 0, fixture_owned, NULL ), -EINVAL );
    ck_assert_int_eq( awe_regions_init( &regions, &fx.layout, 1024, fixture_owned, NULL ), -EINVAL );
}
END_TEST

AWE_DEFINE_SUITE(region)
{
    Suite *s = suite_create( "region" );
    TCase *core = tcase_create( "core" ), *errors = tcase_create( "errors" );

    tcase_add_checked_fixture( core, fixture_setup, fixture_teardown );
    tcase_add_checked_fixture( errors, fixture_setup, fixture_teardown );
    tcase_add_test( core, test_find );
    tcase_add_test( core, test_query_splits_at_mapping_boundaries );
    tcase_add_test( core, test_vma_count );
    tcase_add_test( core, test_remove_keeps_frames );
    tcase_add_test( errors, test_insert_rejects );
    tcase_add_test( errors, test_init_rejects_bad_tag );
    suite_add_tcase( s, core );
    suite_add_tcase( s, errors );
    return s;
}
