/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test fixture for the region table and planner: one process, its allocator, fake addresses.
 *
 * The planner never touches the addresses it plans for, so the regions sit at made-up
 * addresses; caller arrays are real memory read through a checked copy that fails on the
 * first page and on one poisoned range, as a fault-safe copy in the client would. */

#ifndef __AWE_CORE_FIXTURE_H
#define __AWE_CORE_FIXTURE_H

#include <errno.h>
#include "awe/core.h"
#include "awe_check.h"

#define P         AWE_PAGE_SIZE
#define FX_TAG    5
#define FX_AWE    ((uintptr_t)0x10000000)      /* 16-page AWE region */
#define FX_AWE2   ((uintptr_t)0x20000000)      /* second 16-page AWE region */
#define FX_NORM   ((uintptr_t)0x30000000)      /* not an AWE region */

struct fixture
{
    struct awe_pfn_layout layout;
    struct awe_frames     frames;
    struct awe_regions    regions;
    struct awe_region    *awe, *awe2;
    uintptr_t             pfn[16];             /* frames 0..15, allocated */
    const void           *bad_lo, *bad_hi;     /* copies from here fault */
};

static struct fixture fx;

static inline int fixture_owned( void *ctx, uint32_t index )
{
    return awe_frames_is_allocated( ctx, index );
}

static inline int fixture_copy_in( void *ctx, uintptr_t *dst, const void *src, size_t count )
{
    struct fixture *f = ctx;
    const char *lo = src, *hi = lo + count * sizeof(uintptr_t);

    if ((uintptr_t)lo < 4096) return -EFAULT;
    if (f->bad_lo && lo < (const char *)f->bad_hi && hi > (const char *)f->bad_lo) return -EFAULT;
    memcpy( dst, src, count * sizeof(uintptr_t) );
    return 0;
}

static inline void fixture_setup( void )
{
    struct awe_frame_run run;
    size_t nruns, i;

    memset( &fx, 0, sizeof(fx) );
    ck_assert_int_eq( awe_pfn_layout_init( &fx.layout, 21, 10 ), 0 );
    ck_assert_int_eq( awe_frames_init( &fx.frames, 4096 ), 0 );
    ck_assert_int_eq( awe_regions_init( &fx.regions, &fx.layout, FX_TAG, fixture_owned, &fx.frames ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &fx.frames, 16, &run, 1, &nruns ), 16 );
    for (i = 0; i < 16; i++) fx.pfn[i] = (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG, (uint32_t)i );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE, 16, &fx.awe ), 0 );
    ck_assert_int_eq( awe_regions_insert( &fx.regions, FX_AWE2, 16, &fx.awe2 ), 0 );
}

static inline void fixture_teardown( void )
{
    awe_regions_destroy( &fx.regions );
    awe_frames_destroy( &fx.frames );
}

static inline NTSTATUS fx_map( uintptr_t va, uint64_t count, const uintptr_t *pfns, struct awe_plan *plan )
{
    return awe_plan_map( &fx.regions, va, count, pfns, fixture_copy_in, &fx, plan );
}

static inline NTSTATUS fx_scatter( const uintptr_t *vas, uint64_t count, const uintptr_t *pfns,
                            struct awe_plan *plan )
{
    return awe_plan_scatter( &fx.regions, vas, count, pfns, fixture_copy_in, &fx, plan );
}

/* Plans and commits a Map; returns its status. */
static inline NTSTATUS do_map( uintptr_t va, uint64_t count, const uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status = fx_map( va, count, pfns, &plan );

    if (!status) awe_plan_commit( &fx.regions, &plan );
    else ck_assert_uint_eq( plan.nops, 0 );
    return status;
}

static inline NTSTATUS do_scatter( const uintptr_t *vas, uint64_t count, const uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status = fx_scatter( vas, count, pfns, &plan );

    if (!status) awe_plan_commit( &fx.regions, &plan );
    else ck_assert_uint_eq( plan.nops, 0 );
    return status;
}

/* PFN mapped at address va (0 if none). */
static inline uint32_t pfn_at( uintptr_t va )
{
    struct awe_region *region = awe_regions_find( &fx.regions, va );
    ck_assert_ptr_nonnull( region );
    return region->pfn[(va - region->base) / P];
}

/* Checks the running counts against a recount from the page tables and the reverse map. */
static inline void check_consistent( void )
{
    struct awe_region *regs[2] = { fx.awe, fx.awe2 };
    size_t r, i, mapped = 0, vmas = 0;
    uint32_t tag, index;

    for (r = 0; r < 2; r++)
    {
        size_t m = 0;
        if (!regs[r]) continue;
        for (i = 0; i < regs[r]->pages; i++)
        {
            if (!regs[r]->pfn[i]) continue;
            m++;
            ck_assert_int_eq( awe_pfn_decode( &fx.layout, regs[r]->pfn[i], &tag, &index ), 0 );
            ck_assert_uint_eq( awe_regions_frame_va( &fx.regions, index ), regs[r]->base + i * P );
        }
        ck_assert_uint_eq( regs[r]->mapped, m );
        ck_assert_uint_eq( regs[r]->vmas, awe_region_count_vmas( regs[r] ) );
        mapped += m;
        vmas += regs[r]->vmas;
    }
    ck_assert_uint_eq( fx.regions.mapped, mapped );
    ck_assert_uint_eq( fx.regions.vmas, vmas );
    for (i = 0; i < fx.regions.frame_va_len; i++)
        if (fx.regions.frame_va[i]) ck_assert_uint_eq( pfn_at( fx.regions.frame_va[i] ),
                                                       awe_pfn_encode( &fx.layout, FX_TAG, (uint32_t)i ) );
}

#endif  /* __AWE_CORE_FIXTURE_H */
