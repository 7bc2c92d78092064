/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Randomized test: the allocator, region table and planner against a deliberately simple model.
 *
 * Each step is a random Allocate, Free (with the auto-unmap of freed frames), Map, Scatter or
 * VirtualProtect of AWE pages, with good and bad arguments mixed.  The model is written from
 * awe-spec.md sections 2.1-2.4 and 2.8 as plain loops over arrays; every status, count, page,
 * protection and reverse-map entry is compared.  The
 * plans' operations are also replayed on a "kernel view" of the pages, which must end up equal
 * to the model, and a random share of plans is undone half way instead of committed. */

#include "core_fixture.h"

#define M_LIMIT     384                /* frames in the pool: small, so it runs out */
#define M_REGIONS   3
#define M_PAGES     48
#define M_MAXREQ    24

static const uintptr_t m_base[M_REGIONS] = { 0x10000000, 0x10000000 + M_PAGES * P, 0x20000000 };

struct model
{
    unsigned char owned[M_LIMIT];
    uint32_t      page[M_REGIONS][M_PAGES];     /* PFN at each page, 0 if none */
    unsigned char prot[M_REGIONS][M_PAGES];     /* enum awe_prot of each page (RW if unmapped) */
    uintptr_t     frame_at[M_LIMIT];            /* address of each frame, 0 if none */
};

static struct model model;
static uint32_t kview[M_REGIONS][M_PAGES];       /* the pages as the issued operations left them */
static unsigned char kprot[M_REGIONS][M_PAGES];  /* and their protections */
static struct awe_region *m_region[M_REGIONS];
static uint64_t rng_state;

/* What the run exercised, so that a model that stopped reaching a case fails the test. */
static struct
{
    unsigned int ok[2], p1, p2, conflict, budget, undone, partial_free, partial_alloc;
    unsigned int protect_changed, protect_noop, protect_bad, protect_budget, protect_undone;
    unsigned int reset_by_map;
} stats;

static uint64_t rnd( void )
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned int rnd_below( unsigned int n )
{
    return (unsigned int)(rnd() % n);
}

static uintptr_t m_pfn( uint32_t index )
{
    return (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG, index );
}

/* The model's decode: one of our frames that is allocated, or -1. */
static int m_owned_index( uintptr_t pfn )
{
    uintptr_t base = m_pfn( 0 );
    if (pfn < base || pfn >= base + M_LIMIT || !model.owned[pfn - base]) return -1;
    return (int)(pfn - base);
}

/* The model's region lookup: region number and page of an address, or -1. */
static int m_find( uintptr_t va, size_t *page )
{
    int r;
    for (r = 0; r < M_REGIONS; r++)
        if (va >= m_base[r] && va < m_base[r] + M_PAGES * P)
        {
            *page = (va - m_base[r]) / P;
            return r;
        }
    return -1;
}

static void m_set_page( struct model *m, int r, size_t page, uint32_t pfn )
{
    uint32_t old = m->page[r][page];

    if (old) m->frame_at[old - m_pfn( 0 )] = 0;
    m->page[r][page] = pfn;
    m->prot[r][page] = AWE_PROT_READWRITE;       /* every Map and unmap leaves a page RW */
    if (pfn) m->frame_at[pfn - m_pfn( 0 )] = m_base[r] + page * P;
}

/* VMAs of the model's pages, counted the plain way: mapped neighbours share one when their
 * frames follow each other and their protections are equal, unmapped ones always do. */
static size_t m_vmas( const struct model *m )
{
    size_t r, i, n = 0;

    for (r = 0; r < M_REGIONS; r++)
    {
        n++;
        for (i = 1; i < M_PAGES; i++)
        {
            uint32_t a = m->page[r][i - 1], b = m->page[r][i];
            if ((a && b && (b != a + 1 || m->prot[r][i - 1] != m->prot[r][i])) || (!a != !b)) n++;
        }
    }
    return n;
}

static void compare_with_model( void )
{
    size_t r, i;
    uint32_t in_use = 0;

    for (r = 0; r < M_REGIONS; r++)
        for (i = 0; i < M_PAGES; i++)
        {
            AWE_EXPECT_EQ( m_region[r]->pfn[i], model.page[r][i] );
            AWE_EXPECT_EQ( kview[r][i], model.page[r][i] );
            AWE_EXPECT_EQ( m_region[r]->prot[i], model.prot[r][i] );
            if (model.page[r][i]) AWE_EXPECT_EQ( kprot[r][i], model.prot[r][i] );
        }
    for (i = 0; i < M_LIMIT; i++)
    {
        AWE_EXPECT_EQ( awe_frames_is_allocated( &fx.frames, (uint32_t)i ), model.owned[i] );
        AWE_EXPECT_EQ( awe_regions_frame_va( &fx.regions, (uint32_t)i ), model.frame_at[i] );
        in_use += model.owned[i];
    }
    AWE_EXPECT_EQ( fx.frames.in_use, in_use );
    AWE_EXPECT_EQ( fx.regions.vmas, m_vmas( &model ) );
    for (r = 0; r < M_REGIONS; r++)
        AWE_EXPECT_EQ( m_region[r]->vmas, awe_region_count_vmas( m_region[r] ) );
}

/* Replays operations on the kernel view. */
static void replay( const struct awe_plan_op *ops, size_t n )
{
    size_t k, i, page;
    int r;

    for (k = 0; k < n; k++)
    {
        r = m_find( ops[k].va, &page );
        AWE_EXPECT( r >= 0 );
        AWE_EXPECT( page + ops[k].pages <= M_PAGES );
        for (i = 0; i < ops[k].pages; i++)
        {
            switch (ops[k].kind)
            {
            case AWE_OP_MAP:
                kview[r][page + i] = ops[k].pfn + (uint32_t)i;
                break;
            case AWE_OP_UNMAP:
                kview[r][page + i] = 0;
                break;
            case AWE_OP_PROTECT:     /* mprotect fails on nothing here, but must find frames */
                AWE_EXPECT( kview[r][page + i] != 0 );
                break;
            }
            kprot[r][page + i] = ops[k].prot;
        }
    }
}

/* Checks that a plan is minimal: every page it touches changes, and no two neighbouring
 * operations could have been one. */
static void check_minimal( const struct awe_plan *plan )
{
    size_t k, i, page;
    int r;

    for (k = 0; k < plan->nops; k++)
    {
        const struct awe_plan_op *op = &plan->ops[k], *prev = k ? op - 1 : NULL;

        r = m_find( op->va, &page );
        AWE_EXPECT( r >= 0 );
        for (i = 0; i < op->pages; i++)
        {
            uint32_t now = model.page[r][page + i];
            if (op->kind == AWE_OP_MAP) AWE_EXPECT( now != op->pfn + i );
            else AWE_EXPECT( now != 0 );
            if (op->kind == AWE_OP_PROTECT) AWE_EXPECT( model.prot[r][page + i] != op->prot );
        }
        if (prev && prev->region == op->region && prev->kind == op->kind &&
            prev->va + prev->pages * P == op->va)
            AWE_EXPECT( (op->kind == AWE_OP_MAP && prev->pfn + prev->pages != op->pfn) ||
                        prev->prot != op->prot );
    }
}

/* Issues a successful plan: usually commits it, sometimes fails it half way and undoes.
 * Returns 1 if it was committed. */
static int issue( struct awe_plan *plan )
{
    struct awe_plan undo;
    size_t k;

    check_minimal( plan );
    if (plan->nops && !rnd_below( 8 ))
    {
        k = 1 + rnd_below( (unsigned int)plan->nops );
        replay( plan->ops, k );
        AWE_EXPECT_EQ( awe_plan_undo( &fx.regions, plan, k, &undo ), 0 );
        replay( undo.ops, undo.nops );
        awe_plan_release( &undo );
        awe_plan_release( plan );
        return 0;
    }
    replay( plan->ops, plan->nops );
    awe_plan_commit( &fx.regions, plan );
    return 1;
}

static void step_alloc( void )
{
    struct awe_frame_run runs[8];
    uint32_t expect[64];
    size_t nruns, i, j, n = 0, want = 1 + rnd_below( 40 ), runs_used = 0;
    uint64_t got;

    /* the model: the lowest free frames, in at most 8 contiguous runs */
    for (i = 0; i < M_LIMIT && n < want; i++)
    {
        if (model.owned[i]) continue;
        if (!n || expect[n - 1] != i - 1)
        {
            if (runs_used == 8) break;
            runs_used++;
        }
        expect[n++] = (uint32_t)i;
    }
    got = awe_frames_alloc( &fx.frames, want, runs, 8, &nruns );
    AWE_EXPECT_EQ( got, n );
    if (got && got < want) stats.partial_alloc++;
    AWE_EXPECT_EQ( nruns, runs_used );
    for (i = 0, n = 0; i < nruns; i++)
        for (j = 0; j < runs[i].count; j++)
        {
            AWE_EXPECT_EQ( runs[i].start + j, expect[n] );
            model.owned[expect[n++]] = 1;
        }
}

/* A random PFN: mostly one of our frames (allocated or not), sometimes garbage. */
static uintptr_t random_pfn( void )
{
    switch (rnd_below( 16 ))
    {
    case 0: return 0;
    case 1: return (uintptr_t)awe_pfn_encode( &fx.layout, FX_TAG + 1, rnd_below( M_LIMIT ) );
    case 2: return (uintptr_t)rnd();
    case 3: return m_pfn( M_LIMIT + rnd_below( 100 ) );
    default: return m_pfn( rnd_below( M_LIMIT ) );
    }
}

/* A random address: mostly inside the regions (unaligned sometimes), sometimes outside. */
static uintptr_t random_va( void )
{
    uintptr_t va;

    switch (rnd_below( 24 ))
    {
    case 0: return FX_NORM + rnd_below( 4 ) * P;
    case 1: return m_base[2] - P;
    default:
        va = m_base[rnd_below( M_REGIONS )] + rnd_below( M_PAGES ) * P;
        return rnd_below( 4 ) ? va : va + rnd_below( (unsigned int)P );
    }
}

static void step_free( void )
{
    uintptr_t pfns[M_MAXREQ];
    size_t count = 1 + rnd_below( M_MAXREQ ), i, freed, expect = 0;
    struct awe_plan plan;
    unsigned char seen[M_LIMIT];
    int index, ret;

    /* mostly runs of consecutive frames, as applications free what they allocated */
    pfns[0] = random_pfn();
    for (i = 1; i < count; i++) pfns[i] = rnd_below( 6 ) ? pfns[i - 1] + 1 : random_pfn();

    memset( seen, 0, sizeof(seen) );
    for (expect = 0; expect < count; expect++)
    {
        if ((index = m_owned_index( pfns[expect] )) < 0 || seen[index]) break;
        seen[index] = 1;
    }
    /* the client unmaps what it frees, then the server frees */
    AWE_EXPECT_EQ( awe_plan_unmap_frames( &fx.regions, pfns, expect, &plan ), STATUS_SUCCESS );
    replay( plan.ops, plan.nops );
    awe_plan_commit( &fx.regions, &plan );
    ret = awe_frames_free( &fx.frames, &fx.layout, FX_TAG, pfns, count, &freed );
    AWE_EXPECT_EQ( ret, expect == count ? 0 : -EINVAL );
    if (expect && expect < count) stats.partial_free++;
    AWE_EXPECT_EQ( freed, expect );
    for (i = 0; i < expect; i++)
    {
        index = m_owned_index( pfns[i] );
        if (model.frame_at[index])
        {
            size_t page = 0;
            int r = m_find( model.frame_at[index], &page );
            m_set_page( &model, r, page, 0 );
        }
        model.owned[index] = 0;
    }
}

/* The model's Map: status, and the new pages in *next when it succeeds. */
static NTSTATUS model_map( uintptr_t va, uint64_t count, const uintptr_t *pfns, struct model *next )
{
    unsigned char seen[M_LIMIT];
    size_t page, i;
    int r, index;

    if (!count || count > UINTPTR_MAX >> 12) return STATUS_INVALID_PARAMETER_2;
    va &= ~(P - 1);
    if ((r = m_find( va, &page )) < 0 || page + count > M_PAGES) return STATUS_INVALID_PARAMETER_1;
    *next = model;
    if (!pfns)
    {
        for (i = 0; i < count; i++) m_set_page( next, r, page + i, 0 );
        return STATUS_SUCCESS;
    }
    memset( seen, 0, sizeof(seen) );
    for (i = 0; i < count; i++)
    {
        if ((index = m_owned_index( pfns[i] )) < 0 || seen[index] || model.frame_at[index])
            return STATUS_CONFLICTING_ADDRESSES;
        seen[index] = 1;
    }
    for (i = 0; i < count; i++) m_set_page( next, r, page + i, (uint32_t)pfns[i] );
    return STATUS_SUCCESS;
}

/* The model's Scatter: validation against the state before the call, then in array order. */
static NTSTATUS model_scatter( const uintptr_t *vas, uint64_t count, const uintptr_t *pfns,
                               struct model *next )
{
    unsigned char seen[M_LIMIT];
    size_t page, i;
    int r, index;

    if (!count) return STATUS_SUCCESS;
    for (i = 0; i < count; i++)
        if (m_find( vas[i] & ~(P - 1), &page ) < 0) return STATUS_INVALID_PARAMETER_1;
    memset( seen, 0, sizeof(seen) );
    for (i = 0; pfns && i < count; i++)
    {
        if (!pfns[i]) continue;
        if ((index = m_owned_index( pfns[i] )) < 0 || seen[index]) return STATUS_CONFLICTING_ADDRESSES;
        if (model.frame_at[index] && model.frame_at[index] != (vas[i] & ~(P - 1)))
            return STATUS_CONFLICTING_ADDRESSES;
        seen[index] = 1;
    }
    *next = model;
    for (i = 0; i < count; i++)
    {
        uint32_t pfn = pfns ? (uint32_t)pfns[i] : 0;
        r = m_find( vas[i] & ~(P - 1), &page );
        if (pfn && next->frame_at[pfn - m_pfn( 0 )])      /* at its own address already */
        {
            size_t p2 = 0;
            int r2 = m_find( next->frame_at[pfn - m_pfn( 0 )], &p2 );
            m_set_page( next, r2, p2, 0 );
        }
        m_set_page( next, r, page, pfn );
    }
    return STATUS_SUCCESS;
}

/* Applies the VMA budget to a successful model result: a step that maps a frame or changes a
 * mapped page's protection is held to vma_limit, one that only unmaps to vma_hard_limit. */
static NTSTATUS model_budget( const struct model *next )
{
    size_t r, i, now = m_vmas( &model ), after = m_vmas( next ), limit;
    int maps = 0;

    for (r = 0; r < M_REGIONS; r++)
        for (i = 0; i < M_PAGES; i++)
            if (next->page[r][i] && (next->page[r][i] != model.page[r][i] ||
                                     next->prot[r][i] != model.prot[r][i]))
                maps = 1;
    limit = maps ? fx.regions.vma_limit : fx.regions.vma_hard_limit;
    if (limit && after > now && after > limit) return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

static void step_map( int scatter )
{
    static struct model next;
    uintptr_t pfns[M_MAXREQ], vas[M_MAXREQ];
    uint64_t count = rnd_below( M_MAXREQ + 1 );
    const uintptr_t *arr = rnd_below( 5 ) ? pfns : NULL;
    struct awe_plan plan;
    NTSTATUS expect, status;
    size_t i;

    if (!rnd_below( 200 )) count = UINTPTR_MAX >> 11;
    pfns[0] = random_pfn();
    for (i = 1; i < M_MAXREQ; i++) pfns[i] = rnd_below( 4 ) ? pfns[i - 1] + 1 : random_pfn();
    vas[0] = random_va();
    for (i = 1; i < M_MAXREQ; i++) vas[i] = rnd_below( 3 ) ? vas[i - 1] + P : random_va();
    if (!rnd_below( 6 ))
    {
        /* name the frames already there (S06, M13), protections and all */
        int r = (int)rnd_below( M_REGIONS );
        size_t page = rnd_below( M_PAGES );

        for (i = 0; i < M_MAXREQ; i++)
        {
            vas[i] = m_base[r] + ((page + i) % M_PAGES) * P;
            pfns[i] = model.page[r][(page + i) % M_PAGES];
        }
    }

    if (count > M_MAXREQ)
    {
        status = scatter ? fx_scatter( vas, count, arr, &plan ) : fx_map( vas[0], count, arr, &plan );
        AWE_EXPECT_EQ( status, STATUS_INVALID_PARAMETER_2 );
        return;
    }
    if (scatter)
    {
        expect = model_scatter( vas, count, arr, &next );
        if (!count) next = model;
        status = fx_scatter( vas, count, arr, &plan );
    }
    else
    {
        expect = model_map( vas[0], count, arr, &next );
        status = fx_map( vas[0], count, arr, &plan );
    }
    if (!expect) expect = model_budget( &next );
    if (status != expect)
        ck_abort_msg( "%s of %u: got %#x, model says %#x", scatter ? "scatter" : "map",
                      (unsigned int)count, (unsigned int)status, (unsigned int)expect );
    if (status == STATUS_INVALID_PARAMETER_1) stats.p1++;
    if (status == STATUS_INVALID_PARAMETER_2) stats.p2++;
    if (status == STATUS_CONFLICTING_ADDRESSES) stats.conflict++;
    if (status == STATUS_INSUFFICIENT_RESOURCES) stats.budget++;
    if (status)
    {
        AWE_EXPECT_EQ( plan.nops, 0 );
        return;
    }
    stats.ok[scatter]++;
    for (i = 0; i < plan.nops; i++)
        if (plan.ops[i].kind == AWE_OP_PROTECT) stats.reset_by_map++;
    if (issue( &plan )) model = next;
    else stats.undone++;
}

/* The model's VirtualProtect of AWE pages: mapped pages take the protection, unmapped pages
 * keep none; the old protection is the first page's, NOACCESS when it is unmapped. */
static NTSTATUS model_protect( int r, size_t page, size_t pages, unsigned int prot,
                               enum awe_prot *old, struct model *next )
{
    size_t i;

    if (!pages || page + pages > M_PAGES || prot > AWE_PROT_NOACCESS) return STATUS_INVALID_PARAMETER;
    *next = model;
    for (i = page; i < page + pages; i++)
        if (next->page[r][i]) next->prot[r][i] = (unsigned char)prot;
    *old = model.page[r][page] ? (enum awe_prot)model.prot[r][page] : AWE_PROT_NOACCESS;
    return STATUS_SUCCESS;
}

static void step_protect( void )
{
    static struct model next;
    int r = (int)rnd_below( M_REGIONS );
    size_t page = rnd_below( M_PAGES ), pages = rnd_below( M_MAXREQ + 1 );
    unsigned int prot = rnd_below( 31 ) ? rnd_below( 3 ) : 3;
    enum awe_prot old = AWE_PROT_READWRITE, expect_old = AWE_PROT_READWRITE;
    struct awe_plan plan;
    NTSTATUS expect, status;

    expect = model_protect( r, page, pages, prot, &expect_old, &next );
    if (!expect) expect = model_budget( &next );
    status = awe_plan_protect( &fx.regions, m_region[r], m_base[r] + page * P, pages,
                               (enum awe_prot)prot, &old, &plan );
    if (status != expect)
        ck_abort_msg( "protect %u pages at %u of region %d to %u: got %#x, model says %#x",
                      (unsigned int)pages, (unsigned int)page, r, prot, (unsigned int)status,
                      (unsigned int)expect );
    if (status == STATUS_INVALID_PARAMETER) stats.protect_bad++;
    if (status == STATUS_INSUFFICIENT_RESOURCES) stats.protect_budget++;
    if (status)
    {
        AWE_EXPECT_EQ( plan.nops, 0 );
        return;
    }
    AWE_EXPECT_EQ( old, expect_old );
    AWE_EXPECT_EQ( plan.map_pages + plan.unmap_pages, 0 );
    if (plan.nops) stats.protect_changed++;
    else stats.protect_noop++;
    if (issue( &plan )) model = next;
    else stats.protect_undone++;
}

START_TEST(test_model)
{
    unsigned int steps = awe_test_slow_tool() ? 20000 : 120000, step, r;
    struct awe_region *region;

    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)_i;
    memset( &stats, 0, sizeof(stats) );
    memset( &model, 0, sizeof(model) );
    memset( kview, 0, sizeof(kview) );
    memset( kprot, 0, sizeof(kprot) );
    awe_regions_destroy( &fx.regions );
    awe_frames_destroy( &fx.frames );
    ck_assert_int_eq( awe_frames_init( &fx.frames, M_LIMIT ), 0 );
    ck_assert_int_eq( awe_regions_init( &fx.regions, &fx.layout, FX_TAG, fixture_owned, &fx.frames ), 0 );
    for (r = 0; r < M_REGIONS; r++)
    {
        ck_assert_int_eq( awe_regions_insert( &fx.regions, m_base[r], M_PAGES, &region ), 0 );
        m_region[r] = region;
    }
    fx.awe = m_region[0];
    fx.awe2 = m_region[1];

    for (step = 0; step < steps; step++)
    {
        unsigned int what = rnd_below( 20 );

        if (!rnd_below( 16 ))
        {
            fx.regions.vma_limit = rnd_below( 2 ) ? 0 : fx.regions.vmas + rnd_below( 4 );
            fx.regions.vma_hard_limit = rnd_below( 2 ) ? 0 : fx.regions.vmas + rnd_below( 6 );
        }
        if (what < 3) step_alloc();
        else if (what < 5) step_free();
        else if (what < 11) step_map( 0 );
        else if (what < 17) step_map( 1 );
        else step_protect();
        if (step % 64 == 0 || awe_test_slow_tool()) compare_with_model();
    }
    compare_with_model();
    /* every outcome was reached many times */
    ck_assert_uint_gt( stats.ok[0], steps / 100 );
    ck_assert_uint_gt( stats.ok[1], steps / 100 );
    ck_assert_uint_gt( stats.p1, steps / 100 );
    ck_assert_uint_gt( stats.p2, steps / 1000 );
    ck_assert_uint_gt( stats.conflict, steps / 100 );
    ck_assert_uint_gt( stats.budget, steps / 1000 );
    ck_assert_uint_gt( stats.undone, steps / 1000 );
    ck_assert_uint_gt( stats.partial_free, steps / 1000 );
    ck_assert_uint_gt( stats.partial_alloc, steps / 1000 );
    ck_assert_uint_gt( stats.protect_changed, steps / 100 );
    ck_assert_uint_gt( stats.protect_noop, steps / 1000 );
    ck_assert_uint_gt( stats.protect_bad, steps / 1000 );
    ck_assert_uint_gt( stats.protect_budget, steps / 1000 );
    ck_assert_uint_gt( stats.protect_undone, steps / 1000 );
    ck_assert_uint_gt( stats.reset_by_map, steps / 1000 );
}
END_TEST

AWE_DEFINE_SUITE(model)
{
    Suite *s = suite_create( "model" );
    TCase *tc = tcase_create( "model" );

    tcase_add_checked_fixture( tc, fixture_setup, fixture_teardown );
    tcase_add_loop_test( tc, test_model, 0, 2 );
    tcase_set_timeout( tc, 300 );
    suite_add_tcase( s, tc );
    return s;
}
