/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Regions bound to a frame pool (an AWE section): many addresses per frame, units of frames,
 * the mapping counts, and their coexistence with the process's own one-address frames. */

#include <stdlib.h>
#include "core_fixture.h"

#define POOL_TAG  9
#define UNIT      4                            /* a small unit keeps the tables readable */
#define FX_BOUND  ((uintptr_t)0x40000000)      /* 32 pages bound to the small pool */
#define FX_BOUND2 ((uintptr_t)0x50000000)      /* 32 more */
#define FX_LARGE  ((uintptr_t)0x60000000)      /* 32 pages bound to the pool of units */

static struct awe_frames pool_frames, unit_frames;
static struct awe_pool small_pool, unit_pool;
static struct awe_region *bound, *bound2, *large;
static uintptr_t spfn[8];     /* small pool frames 0..7 */
static uintptr_t upfn[4];     /* first frames of units 0..3 of the unit pool (frames 0..15) */

static void pool_setup( void )
{
    struct awe_frame_run run;
    size_t nruns, i;

    fixture_setup();
    ck_assert_int_eq( awe_frames_init( &pool_frames, 64 ), 0 );
    ck_assert_int_eq( awe_frames_init( &unit_frames, 64 ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &pool_frames, 8, &run, 1, &nruns ), 8 );
    ck_assert_uint_eq( awe_frames_alloc( &unit_frames, 16, &run, 1, &nruns ), 16 );
    ck_assert_int_eq( awe_pool_init( &small_pool, &fx.layout, POOL_TAG, 1, -1, fixture_owned, &pool_frames ), 0 );
    ck_assert_int_eq( awe_pool_init( &unit_pool, &fx.layout, POOL_TAG + 1, UNIT, -1, fixture_owned,
                                     &unit_frames ), 0 );
    for (i = 0; i < 8; i++) spfn[i] = (uintptr_t)awe_pfn_encode( &fx.layout, POOL_TAG, (uint32_t)i );
    for (i = 0; i < 4; i++) upfn[i] = (uintptr_t)awe_pfn_encode( &fx.layout, POOL_TAG + 1, (uint32_t)(i * UNIT) );
    ck_assert_int_eq( awe_regions_insert_bound( &fx.regions, FX_BOUND, 32, &small_pool, &bound ), 0 );
    ck_assert_int_eq( awe_regions_insert_bound( &fx.regions, FX_BOUND2, 32, &small_pool, &bound2 ), 0 );
    ck_assert_int_eq( awe_regions_insert_bound( &fx.regions, FX_LARGE, 32, &unit_pool, &large ), 0 );
}

static void pool_teardown( void )
{
    fixture_teardown();
    awe_pool_destroy( &small_pool );
    awe_pool_destroy( &unit_pool );
    awe_frames_destroy( &pool_frames );
    awe_frames_destroy( &unit_frames );
}

/* Recounts a pool's mappings from the bound regions. */
static void check_pool_counts( const struct awe_pool *pool )
{
    struct awe_region *regs[3] = { bound, bound2, large };
    uint32_t counts[64] = { 0 }, tag, index;
    size_t r, i, mapped = 0;

    for (r = 0; r < 3; r++)
    {
        if (!regs[r] || regs[r]->pool != pool) continue;
        for (i = 0; i < regs[r]->pages; i++)
        {
            if (!regs[r]->pfn[i]) continue;
            ck_assert_int_eq( awe_pfn_decode( &fx.layout, regs[r]->pfn[i], &tag, &index ), 0 );
            ck_assert_uint_eq( tag, pool->tag );
            ck_assert_uint_lt( index, 64 );
            counts[index]++;
            mapped++;
        }
        ck_assert_uint_eq( regs[r]->vmas, awe_region_count_vmas( regs[r] ) );
    }
    ck_assert_uint_eq( pool->mapped, mapped );
    for (i = 0; i < 64; i++) ck_assert_uint_eq( i < pool->map_count_len ? pool->map_count[i] : 0, counts[i] );
}

/* The table's totals over every region, own and bound; the own frames' one address each. */
static void check_totals( void )
{
    struct awe_region *regs[5] = { fx.awe, fx.awe2, bound, bound2, large };
    size_t r, i, mapped = 0, vmas = 0;
    uint32_t tag, index;

    for (r = 0; r < 5; r++)
    {
        if (!regs[r]) continue;
        mapped += regs[r]->mapped;
        vmas += regs[r]->vmas;
        for (i = 0; i < regs[r]->pages && !regs[r]->pool; i++)
        {
            if (!regs[r]->pfn[i]) continue;
            ck_assert_int_eq( awe_pfn_decode( &fx.layout, regs[r]->pfn[i], &tag, &index ), 0 );
            ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, index ), regs[r]->base + i * P );
        }
    }
    ck_assert_uint_eq( fx.regions.mapped, mapped );
    ck_assert_uint_eq( fx.regions.vmas, vmas );
    check_pool_counts( &small_pool );
    check_pool_counts( &unit_pool );
}

START_TEST(test_pool_init_checks)
{
    struct awe_pool pool;
    struct awe_region *region;

    ck_assert_int_eq( awe_pool_init( &pool, &fx.layout, 0, 1, -1, fixture_owned, NULL ), -EINVAL );
    ck_assert_int_eq( awe_pool_init( &pool, &fx.layout, 1024, 1, -1, fixture_owned, NULL ), -EINVAL );
    ck_assert_int_eq( awe_pool_init( &pool, &fx.layout, 1, 3, -1, fixture_owned, NULL ), -EINVAL );
    ck_assert_int_eq( awe_pool_init( &pool, &fx.layout, 1, 0, -1, fixture_owned, NULL ), -EINVAL );
    ck_assert_int_eq( awe_pool_init( &pool, &fx.layout, 1, 1u << 22, -1, fixture_owned, NULL ), -EINVAL );
    /* a region of units starts and ends on one */
    ck_assert_int_eq( awe_regions_insert_bound( &fx.regions, 0x70000000 + P, 8, &unit_pool, &region ), -EINVAL );
    ck_assert_int_eq( awe_regions_insert_bound( &fx.regions, 0x70000000, 6, &unit_pool, &region ), -EINVAL );
    ck_assert_uint_eq( unit_pool.regions, 1 );
    ck_assert_uint_eq( small_pool.regions, 2 );
}
END_TEST

/* The same frame at many addresses: in one region, across regions, in one array. */
START_TEST(test_pool_multi_map)
{
    uintptr_t req[3] = { spfn[0], spfn[0], spfn[1] }, vas[2] = { FX_BOUND + 9 * P, FX_BOUND2 + 9 * P };

    ck_assert_int_eq( do_map( FX_BOUND, 3, req ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_BOUND2 + 4 * P, 2, spfn ), STATUS_SUCCESS );
    /* mapped already, here and there, and at the very address: all allowed */
    ck_assert_int_eq( do_map( FX_BOUND + P, 1, spfn ), STATUS_SUCCESS );
    ck_assert_uint_eq( small_pool.map_count[0], 3 );
    ck_assert_uint_eq( small_pool.map_count[1], 2 );
    req[0] = spfn[1];
    req[1] = spfn[1];
    ck_assert_int_eq( do_scatter( vas, 2, req ), STATUS_SUCCESS );
    ck_assert_uint_eq( small_pool.map_count[1], 4 );
    check_pool_counts( &small_pool );
    check_totals();
    /* replacing a mapping counts the old frame down */
    ck_assert_int_eq( do_map( FX_BOUND, 1, &spfn[2] ), STATUS_SUCCESS );
    ck_assert_uint_eq( small_pool.map_count[0], 2 );
    ck_assert_int_eq( do_map( FX_BOUND, 32, NULL ), STATUS_SUCCESS );
    ck_assert_uint_eq( small_pool.map_count[0], 1 );
    check_pool_counts( &small_pool );
}
END_TEST

/* Frames are checked against the region's pool: its own, allocated ones only. */
START_TEST(test_pool_frames_checked)
{
    uintptr_t req[2];

    req[0] = fx.pfn[0];     /* the process's own */
    ck_assert_int_eq( do_map( FX_BOUND, 1, req ), STATUS_CONFLICTING_ADDRESSES );
    req[0] = spfn[0];       /* the pool's, in a region not bound to it */
    ck_assert_int_eq( do_map( FX_AWE, 1, req ), STATUS_CONFLICTING_ADDRESSES );
    ck_assert_int_eq( do_map( FX_LARGE, 1, req ), STATUS_CONFLICTING_ADDRESSES );
    req[0] = (uintptr_t)awe_pfn_encode( &fx.layout, POOL_TAG, 8 );   /* not allocated */
    ck_assert_int_eq( do_map( FX_BOUND, 1, req ), STATUS_CONFLICTING_ADDRESSES );
    req[0] = spfn[0];
    req[1] = 0;
    ck_assert_int_eq( do_map( FX_BOUND, 2, req ), STATUS_CONFLICTING_ADDRESSES );
    ck_assert_uint_eq( bound->mapped, 0 );
    /* Scatter: an entry of the wrong pool fails the whole call */
    {
        uintptr_t vas[2] = { FX_AWE, FX_BOUND };
        req[0] = fx.pfn[0];
        req[1] = fx.pfn[1];
        ck_assert_int_eq( do_scatter( vas, 2, req ), STATUS_CONFLICTING_ADDRESSES );
        ck_assert_uint_eq( fx.awe->mapped, 0 );
        /* and the own frame still follows the one-address rule next to a bound entry */
        req[1] = spfn[3];
        ck_assert_int_eq( do_scatter( vas, 2, req ), STATUS_SUCCESS );
        ck_assert_uint_eq( pfn_at( FX_AWE ), fx.pfn[0] );
        ck_assert_uint_eq( pfn_at( FX_BOUND ), spfn[3] );
        ck_assert_int_eq( do_map( FX_AWE2, 1, &fx.pfn[0] ), STATUS_CONFLICTING_ADDRESSES );
    }
    check_totals();
    check_pool_counts( &small_pool );
}
END_TEST

/* In a region of units, counts and entries are units, addresses start one, and an entry must
 * be a unit's first frame. */
START_TEST(test_pool_units)
{
    struct awe_plan plan;
    uintptr_t req[3], inner;

    ck_assert_int_eq( fx_map( FX_LARGE, 2, upfn, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_uint_eq( plan.ops[0].pages, 2 * UNIT );      /* consecutive units: one run */
    ck_assert_uint_eq( plan.ops[0].index, 0 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( large->mapped, 2 * UNIT );
    ck_assert_uint_eq( pfn_at( FX_LARGE + 5 * P ), upfn[1] + 1 );
    check_pool_counts( &unit_pool );

    ck_assert_int_eq( do_map( FX_LARGE + P, 1, &upfn[2] ), STATUS_INVALID_PARAMETER_1 );   /* X04 */
    ck_assert_int_eq( do_map( FX_LARGE + 7 * UNIT * P, 2, upfn ), STATUS_INVALID_PARAMETER_1 );
    ck_assert_int_eq( do_map( FX_LARGE + 7 * UNIT * P, 1, &upfn[3] ), STATUS_SUCCESS );
    inner = upfn[0] + 1;
    ck_assert_int_eq( do_map( FX_LARGE, 1, &inner ), STATUS_CONFLICTING_ADDRESSES );

    /* units out of order, one twice, one read-only */
    req[0] = upfn[3];
    req[1] = upfn[3] | AWE_PFN_READONLY;
    req[2] = upfn[0];
    ck_assert_int_eq( fx_map( FX_LARGE + UNIT * P, 3, req, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 3 );
    ck_assert_uint_eq( plan.ops[1].pages, UNIT );
    ck_assert_int_eq( plan.ops[1].prot, AWE_PROT_READONLY );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( unit_pool.map_count[12], 3 );
    ck_assert_uint_eq( unit_pool.map_count[13], 3 );
    check_pool_counts( &unit_pool );

    /* unmap by units: a count of one takes a whole unit */
    ck_assert_int_eq( do_map( FX_LARGE, 1, NULL ), STATUS_SUCCESS );
    ck_assert_uint_eq( pfn_at( FX_LARGE + (UNIT - 1) * P ), 0 );
    ck_assert_uint_eq( pfn_at( FX_LARGE + UNIT * P ), upfn[3] );
    check_pool_counts( &unit_pool );

    /* Scatter: an address inside a unit is refused, a unit's first address maps the unit */
    {
        uintptr_t vas[2] = { FX_LARGE + UNIT * P + P, FX_LARGE };
        ck_assert_int_eq( do_scatter( vas, 1, &upfn[1] ), STATUS_INVALID_PARAMETER_1 );
        ck_assert_int_eq( do_scatter( vas + 1, 1, &upfn[1] ), STATUS_SUCCESS );
        ck_assert_uint_eq( pfn_at( FX_LARGE + 3 * P ), upfn[1] + 3 );
        req[0] = 0;
        ck_assert_int_eq( do_scatter( vas + 1, 1, req ), STATUS_SUCCESS );
        ck_assert_uint_eq( pfn_at( FX_LARGE + 3 * P ), 0 );
    }
    check_pool_counts( &unit_pool );
}
END_TEST

/* Freed frames of a pool are unmapped wherever they are, the others stay. */
START_TEST(test_pool_unmap_frames)
{
    uintptr_t req[2] = { spfn[0], spfn[5] };
    struct awe_plan plan;

    ck_assert_int_eq( do_map( FX_BOUND, 4, spfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_BOUND + 8 * P, 1, spfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_BOUND2 + 31 * P, 1, spfn ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_unmap_pool_frames( &fx.regions, &small_pool, req, 2, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 3 );
    ck_assert_uint_eq( plan.unmap_pages, 3 );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( pfn_at( FX_BOUND ), 0 );
    ck_assert_uint_eq( pfn_at( FX_BOUND + P ), spfn[1] );
    ck_assert_uint_eq( pfn_at( FX_BOUND + 8 * P ), 0 );
    ck_assert_uint_eq( pfn_at( FX_BOUND2 + 31 * P ), 0 );
    ck_assert_uint_eq( small_pool.map_count[0], 0 );
    check_pool_counts( &small_pool );

    /* nothing mapped: nothing to look for */
    ck_assert_int_eq( awe_plan_unmap_pool_frames( &fx.regions, &small_pool, req, 2, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 0 );
    awe_plan_release( &plan );

    /* units: the whole unit goes, from an entry naming it */
    ck_assert_int_eq( do_map( FX_LARGE, 2, upfn ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_unmap_pool_frames( &fx.regions, &unit_pool, &upfn[1], 1, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.unmap_pages, UNIT );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_uint_eq( pfn_at( FX_LARGE + UNIT * P ), 0 );
    ck_assert_uint_eq( pfn_at( FX_LARGE ), upfn[0] );
    check_pool_counts( &unit_pool );
}
END_TEST

/* Removing a bound region counts its mappings out of the pool. */
START_TEST(test_pool_region_removed)
{
    ck_assert_int_eq( do_map( FX_BOUND, 2, spfn ), STATUS_SUCCESS );
    ck_assert_int_eq( do_map( FX_BOUND2, 2, spfn ), STATUS_SUCCESS );
    awe_regions_remove( &fx.regions, bound2 );
    bound2 = NULL;
    ck_assert_uint_eq( small_pool.regions, 1 );
    ck_assert_uint_eq( small_pool.map_count[1], 1 );
    check_pool_counts( &small_pool );
    check_totals();
}
END_TEST

/* A read-only view of a section maps every frame read-only and never lets writing back in; in
 * a region of units VirtualProtect grows to the whole units it touches. */
START_TEST(test_pool_readonly_protect)
{
    struct awe_plan plan;
    enum awe_prot old;

    bound2->readonly = 1;
    ck_assert_int_eq( fx_map( FX_BOUND2, 2, spfn, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READONLY );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, bound2, FX_BOUND2, 2, AWE_PROT_READWRITE, &old, &plan ),
                      STATUS_INVALID_PAGE_PROTECTION );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, bound2, FX_BOUND2, 1, AWE_PROT_NOACCESS, &old, &plan ),
                      STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_READONLY );
    awe_plan_commit( &fx.regions, &plan );
    /* the same frames in a read/write view of the section map read/write */
    ck_assert_int_eq( fx_map( FX_BOUND, 2, spfn, &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( plan.ops[0].prot, AWE_PROT_READWRITE );
    awe_plan_commit( &fx.regions, &plan );
    /* a Scatter into the read-only view maps read-only too */
    {
        uintptr_t va = FX_BOUND2 + P;
        ck_assert_int_eq( do_scatter( &va, 1, &spfn[1] ), STATUS_SUCCESS );
        ck_assert_int_eq( bound2->prot[1], AWE_PROT_READONLY );
    }

    /* units: one page of the second unit protects the whole of it, a range across two both */
    ck_assert_int_eq( do_map( FX_LARGE, 3, upfn ), STATUS_SUCCESS );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, large, FX_LARGE + (UNIT + 1) * P, 1, AWE_PROT_READONLY,
                                        &old, &plan ), STATUS_SUCCESS );
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_uint_eq( plan.ops[0].va, FX_LARGE + UNIT * P );
    ck_assert_uint_eq( plan.ops[0].pages, UNIT );
    awe_plan_commit( &fx.regions, &plan );
    ck_assert_int_eq( awe_plan_protect( &fx.regions, large, FX_LARGE + (UNIT - 1) * P, 2, AWE_PROT_NOACCESS,
                                        &old, &plan ), STATUS_SUCCESS );
    ck_assert_int_eq( old, AWE_PROT_READWRITE );         /* the first page of the grown range */
    ck_assert_uint_eq( plan.nops, 1 );
    ck_assert_uint_eq( plan.ops[0].va, FX_LARGE );
    ck_assert_uint_eq( plan.ops[0].pages, 2 * UNIT );
    awe_plan_commit( &fx.regions, &plan );
    /* past the region stays refused, grown or not */
    ck_assert_int_eq( awe_plan_protect( &fx.regions, large, FX_LARGE + 31 * P, 2, AWE_PROT_READONLY, &old, &plan ),
                      STATUS_INVALID_PARAMETER );
    check_pool_counts( &unit_pool );
}
END_TEST

AWE_DEFINE_SUITE(pool)
{
    Suite *s = suite_create( "pool" );
    TCase *tc = tcase_create( "bound" );

    tcase_add_checked_fixture( tc, pool_setup, pool_teardown );
    tcase_add_test( tc, test_pool_init_checks );
    tcase_add_test( tc, test_pool_multi_map );
    tcase_add_test( tc, test_pool_frames_checked );
    tcase_add_test( tc, test_pool_units );
    tcase_add_test( tc, test_pool_unmap_frames );
    tcase_add_test( tc, test_pool_region_removed );
    tcase_add_test( tc, test_pool_readonly_protect );
    suite_add_tcase( s, tc );
    return s;
}
