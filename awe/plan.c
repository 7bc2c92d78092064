/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Map/Scatter planner: Windows' validation order, coalesced operations, VMA accounting. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "awe/core.h"
#include "awe/plan_private.h"

/* Temporary mark in frame_va for a frame seen earlier in the request: mapped addresses are
 * page aligned, so bit 0 is free. */
#define FRAME_SEEN ((uintptr_t)1)

void awe_plan_init( struct awe_plan *plan )
{
    plan->ops = plan->inline_ops;
    plan->nops = 0;
    plan->ops_cap = AWE_PLAN_INLINE_OPS;
    plan->vma_delta = 0;
    plan->map_pages = 0;
    plan->unmap_pages = 0;
    plan->protect_pages = 0;
    plan->pfns = NULL;
    plan->vas = NULL;
    plan->readonly = NULL;
}

void awe_plan_release( struct awe_plan *plan )
{
    if (plan->ops != plan->inline_ops) free( plan->ops );
    if (plan->pfns != plan->inline_pfns) free( plan->pfns );
    if (plan->vas != plan->inline_vas) free( plan->vas );
    if (plan->readonly != plan->inline_readonly) free( plan->readonly );
    awe_plan_init( plan );
}

static inline size_t page_of( const struct awe_region *region, uintptr_t va )
{
    return (va - region->base) >> AWE_PAGE_SHIFT;
}

/* Tells whether op continues last: same kind, region and protection, the next address, and
 * for a map the next frame (an mprotect or an overlay covers any frames). */
static int continues( const struct awe_plan_op *last, const struct awe_plan_op *op )
{
    if (last->kind != op->kind || last->region != op->region ||
        last->va + (last->pages << AWE_PAGE_SHIFT) != op->va)
        return 0;
    switch (op->kind)
    {
    case AWE_OP_MAP:     return last->pfn + last->pages == op->pfn && last->prot == op->prot;
    case AWE_OP_PROTECT: return last->prot == op->prot;
    default:             return 1;
    }
}

/* Appends an operation, merging it into the previous one when it continues it.
 * Returns 0 or -ENOMEM. */
static int push_op( struct awe_plan *plan, const struct awe_plan_op *op )
{
    struct awe_plan_op *last = plan->nops ? &plan->ops[plan->nops - 1] : NULL, *ops;

    if (last && continues( last, op ))
    {
        last->pages += op->pages;
        return 0;
    }
    if (plan->nops == plan->ops_cap)
    {
        size_t cap = plan->ops_cap * 2;

        if (plan->ops == plan->inline_ops)
        {
            if (!(ops = malloc( cap * sizeof(*ops) ))) return -ENOMEM;
            memcpy( ops, plan->inline_ops, sizeof(plan->inline_ops) );
        }
        else if (!(ops = realloc( plan->ops, cap * sizeof(*ops) ))) return -ENOMEM;
        plan->ops = ops;
        plan->ops_cap = cap;
    }
    plan->ops[plan->nops++] = *op;
    return 0;
}

/* Appends the mapping of pages consecutive frames from pfn (index) at page, or their unmapping
 * when pfn is 0, merged like single pages.  Returns 0 or -ENOMEM. */
static int push_run( struct awe_plan *plan, struct awe_region *region, size_t page, size_t pages,
                     uint32_t pfn, uint32_t index, enum awe_prot prot )
{
    struct awe_plan_op op;

    op.region = region;
    op.va = region->base + (page << AWE_PAGE_SHIFT);
    op.pages = pages;
    op.pfn = pfn;
    op.index = index;
    op.kind = pfn ? AWE_OP_MAP : AWE_OP_UNMAP;
    op.prot = prot;
    op.vma_delta = 0;
    if (pfn) plan->map_pages += pages;
    else plan->unmap_pages += pages;
    return push_op( plan, &op );
}

static int push_page( struct awe_plan *plan, struct awe_region *region, size_t page,
                      uint32_t pfn, uint32_t index, enum awe_prot prot )
{
    return push_run( plan, region, page, 1, pfn, index, prot );
}

int awe_plan_push_protect( struct awe_plan *plan, struct awe_region *region, size_t page,
                           enum awe_prot prot )
{
    struct awe_plan_op op;

    op.region = region;
    op.va = region->base + (page << AWE_PAGE_SHIFT);
    op.pages = 1;
    op.pfn = region->pfn[page];
    op.index = 0;                /* an mprotect needs no file offset */
    op.kind = AWE_OP_PROTECT;
    op.prot = prot;
    op.vma_delta = 0;
    plan->protect_pages++;
    return push_op( plan, &op );
}

/* Copies a caller's ULONG_PTR array, probing it as Windows does: misalignment first, then
 * access.  Small arrays land in the plan's inline buffer. */
static NTSTATUS capture( const void *src, uint64_t count, awe_copy_in_fn copy_in, void *ctx,
                         uintptr_t *inline_buf, uintptr_t **dst )
{
    uintptr_t *buf;

    if ((uintptr_t)src & (sizeof(uintptr_t) - 1)) return STATUS_DATATYPE_MISALIGNMENT;
    if (!src) return STATUS_ACCESS_VIOLATION;
    if (count <= AWE_PLAN_INLINE_ELEMS) buf = inline_buf;
    else if (count > SIZE_MAX / sizeof(uintptr_t) ||
             !(buf = malloc( (size_t)count * sizeof(uintptr_t) )))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (copy_in( ctx, buf, src, (size_t)count ))
    {
        if (buf != inline_buf) free( buf );
        return STATUS_ACCESS_VIOLATION;
    }
    *dst = buf;
    return STATUS_SUCCESS;
}

/* Takes AWE_PFN_READONLY out of the captured PFNs, remembering which entries had it.  Returns
 * STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES. */
static NTSTATUS split_readonly( struct awe_plan *plan, uint64_t count )
{
    size_t i;

    for (i = 0; i < count; i++) if (plan->pfns[i] & AWE_PFN_READONLY) break;
    if (i == count) return STATUS_SUCCESS;
    if (count <= AWE_PLAN_INLINE_ELEMS) plan->readonly = plan->inline_readonly;
    else if (!(plan->readonly = malloc( (size_t)count ))) return STATUS_INSUFFICIENT_RESOURCES;
    for (i = 0; i < count; i++)
    {
        plan->readonly[i] = !!(plan->pfns[i] & AWE_PFN_READONLY);
        plan->pfns[i] &= ~AWE_PFN_READONLY;
    }
    return STATUS_SUCCESS;
}

/* The protection entry i of the PFN array maps its frame with in region: read-only for an
 * entry with AWE_PFN_READONLY and in a read-only view, else read/write. */
static inline enum awe_prot entry_prot( const struct awe_plan *plan, const struct awe_region *region,
                                        size_t i )
{
    if (region->readonly || (plan->readonly && plan->readonly[i])) return AWE_PROT_READONLY;
    return AWE_PROT_READWRITE;
}

/* Grows the reverse map so that it covers frame index; 0 or -ENOMEM. */
static int reserve_frame_va( struct awe_regions *regions, uint32_t index )
{
    uint32_t len = regions->frame_va_len, max = awe_pfn_max_frames( &regions->layout );
    uintptr_t *map;

    if (index < len) return 0;
    len = len ? len : 256;
    while (len <= index) len = len > max / 2 ? max : len * 2;
    if (!(map = realloc( regions->frame_va, (size_t)len * sizeof(*map) ))) return -ENOMEM;
    memset( map + regions->frame_va_len, 0, (size_t)(len - regions->frame_va_len) * sizeof(*map) );
    regions->frame_va = map;
    regions->frame_va_len = len;
    return 0;
}

/* Checks that pfn is one of this process's allocated frames; returns its index or -1. */
static int64_t owned_index( const struct awe_regions *regions, uintptr_t pfn )
{
    uint32_t tag, index;

    if (awe_pfn_decode( &regions->layout, pfn, &tag, &index ) || tag != regions->tag ||
        !regions->frame_owned( regions->owner_ctx, index ))
        return -1;
    return index;
}

/* Pass 1 over the PFNs of a request (the non-zero ones for a Scatter): each must be owned,
 * mapped nowhere and not repeated.  A Scatter (vas non-NULL) may name a frame at the very address that maps it
 * already, which leaves it as it is (awe-spec.md S06).  Repeats are caught with a temporary
 * mark in the reverse map, removed before returning.  Returns STATUS_SUCCESS,
 * STATUS_CONFLICTING_ADDRESSES or, when the reverse map cannot grow,
 * STATUS_INSUFFICIENT_RESOURCES. */
static NTSTATUS check_frames( struct awe_regions *regions, const uintptr_t *pfns,
                              const uintptr_t *vas, size_t count )
{
    uint32_t max = awe_pfn_max_frames( &regions->layout ), mask = max - 1;
    NTSTATUS status = STATUS_SUCCESS;
    uintptr_t last = 0;
    size_t i, marked;
    int64_t index = -1;
    int ascending = 1;

    for (i = 0; i < count; i++)
    {
        if (!pfns[i] && vas) continue;     /* a Scatter unmap entry; in a Map, 0 is no frame */
        /* the frame after the previous entry's (checked just before) has its tag and the next
         * index, unless the index wraps: only its ownership needs looking up */
        if (i && pfns[i - 1] && pfns[i] == pfns[i - 1] + 1 && (uint32_t)index + 1 < max)
        {
            if (!regions->frame_owned( regions->owner_ctx, (uint32_t)++index ))
                return STATUS_CONFLICTING_ADDRESSES;
        }
        else if ((index = owned_index( regions, pfns[i] )) < 0) return STATUS_CONFLICTING_ADDRESSES;
        if ((uint32_t)index >= regions->frame_va_len && reserve_frame_va( regions, (uint32_t)index ))
            return STATUS_INSUFFICIENT_RESOURCES;
        if (pfns[i] <= last) ascending = 0;
        last = pfns[i];
    }
    if (ascending)
    {
        /* strictly ascending PFNs cannot repeat: only "mapped elsewhere" is left to check */
        for (i = 0; i < count; i++)
        {
            uintptr_t va = pfns[i] ? regions->frame_va[pfns[i] & mask] : 0;

            if (va && !(vas && va == (vas[i] & ~(AWE_PAGE_SIZE - 1))))
                return STATUS_CONFLICTING_ADDRESSES;
        }
        return STATUS_SUCCESS;
    }
    for (marked = 0; marked < count; marked++)
    {
        uintptr_t *va;

        if (!pfns[marked]) continue;
        va = &regions->frame_va[pfns[marked] & mask];
        if ((*va & FRAME_SEEN) ||
            (*va && !(vas && *va == (vas[marked] & ~(AWE_PAGE_SIZE - 1)))))
        {
            status = STATUS_CONFLICTING_ADDRESSES;
            break;
        }
        *va |= FRAME_SEEN;
    }
    for (i = 0; i < marked; i++)
        if (pfns[i]) regions->frame_va[pfns[i] & mask] &= ~FRAME_SEEN;
    return status;
}

/* Grows a pool's mapping counts so that they cover frame index; 0 or -ENOMEM. */
static int reserve_map_count( struct awe_pool *pool, const struct awe_pfn_layout *layout,
                              uint32_t index )
{
    uint32_t len = pool->map_count_len, max = awe_pfn_max_frames( layout );
    uint32_t *counts;

    if (index < len) return 0;
    len = len ? len : 256;
    while (len <= index) len = len > max / 2 ? max : len * 2;
    if (!(counts = realloc( pool->map_count, (size_t)len * sizeof(*counts) ))) return -ENOMEM;
    memset( counts + pool->map_count_len, 0, (size_t)(len - pool->map_count_len) * sizeof(*counts) );
    pool->map_count = counts;
    pool->map_count_len = len;
    return 0;
}

/* Checks that pfn is the first frame of an allocated unit of the pool; returns its index or
 * -1 (STATUS_CONFLICTING_ADDRESSES), or -2 when the counts cannot grow. */
static int64_t pool_unit_index( const struct awe_regions *regions, struct awe_pool *pool,
                                uintptr_t pfn )
{
    uint32_t tag, index;

    if (awe_pfn_decode( &regions->layout, pfn, &tag, &index ) || tag != pool->tag ||
        (index & (pool->unit - 1)) || !pool->frame_owned( pool->owner_ctx, index ))
        return -1;
    if (reserve_map_count( pool, &regions->layout, index + pool->unit - 1 )) return -2;
    return index;
}

/* Pass 1 for a region bound to a pool: each entry names an allocated unit of the pool; the
 * same unit may come several times and be mapped anywhere already. */
static NTSTATUS check_pool_frames( const struct awe_regions *regions, struct awe_pool *pool,
                                   const uintptr_t *pfns, size_t count )
{
    size_t i;

    for (i = 0; i < count; i++)
    {
        int64_t index = pool_unit_index( regions, pool, pfns[i] );

        if (index == -2) return STATUS_INSUFFICIENT_RESOURCES;
        if (index < 0) return STATUS_CONFLICTING_ADDRESSES;
    }
    return STATUS_SUCCESS;
}

/* State of page x of the region once the plan's operation op (covering it or not) is done. */
static void new_state( const struct awe_plan_op *op, size_t x, uint32_t *pfn, enum awe_prot *prot )
{
    size_t first = page_of( op->region, op->va );

    if (x >= first && x < first + op->pages)
    {
        switch (op->kind)
        {
        case AWE_OP_MAP:     *pfn = op->pfn + (uint32_t)(x - first); break;
        case AWE_OP_UNMAP:   *pfn = 0; break;
        case AWE_OP_PROTECT: *pfn = op->region->pfn[x]; break;
        }
        *prot = op->prot;
    }
    else
    {
        *pfn = op->region->pfn[x];
        *prot = op->region->prot[x];
    }
}

/* The change of the edge between pages j and j + 1 of op's region (split: 1, shared VMA: 0)
 * once op is done, page j + 1 taking its new state from right_op. */
static ptrdiff_t edge_delta( const struct awe_plan_op *op, const struct awe_plan_op *right_op, size_t j )
{
    const struct awe_region *region = op->region;
    uint32_t a, b;
    enum awe_prot pa, pb;
    int before = !awe_pages_share_vma( region->pfn[j], region->prot[j], region->pfn[j + 1],
                                       region->prot[j + 1] );

    new_state( op, j, &a, &pa );
    new_state( right_op, j + 1, &b, &pb );
    return !awe_pages_share_vma( a, pa, b, pb ) - before;
}

/* Computes how many VMAs each operation adds or removes.  A region's VMA count is one plus
 * the number of neighbouring pages that do not share a VMA, so only the edges touching
 * changed pages move; operations are disjoint and in address order, so every edge is looked
 * at once: the one before an operation (unless the previous operation ends there), the ones
 * inside it, and the one after it (with the next operation's new state if it starts there). */
static void count_vma_delta( struct awe_plan *plan )
{
    size_t k;

    plan->vma_delta = 0;
    for (k = 0; k < plan->nops; k++)
    {
        struct awe_plan_op *op = &plan->ops[k];
        const struct awe_plan_op *prev = k ? &plan->ops[k - 1] : NULL;
        const struct awe_plan_op *next = k + 1 < plan->nops ? &plan->ops[k + 1] : NULL;
        const struct awe_region *region = op->region;
        const uint32_t *pfn = region->pfn;
        const uint8_t *prot = region->prot;
        size_t first = page_of( region, op->va ), end = first + op->pages, j;
        ptrdiff_t delta = 0;

        if (next && (next->region != region || page_of( region, next->va ) != end)) next = NULL;
        if (first && !(prev && prev->region == region &&
                       page_of( region, prev->va ) + prev->pages == first))
            delta += edge_delta( op, op, first - 1 );
        /* Inside a map, consecutive frames with one protection share a VMA afterwards, and so
         * do unmapped pages: only the splits there were before go away.  Inside a protect the
         * frames stay and take one protection. */
        if (op->kind == AWE_OP_PROTECT)
        {
            for (j = first; j + 1 < end; j++)
                delta += !awe_pages_share_vma( pfn[j], op->prot, pfn[j + 1], op->prot ) -
                         !awe_pages_share_vma( pfn[j], prot[j], pfn[j + 1], prot[j + 1] );
        }
        else
        {
            for (j = first; j + 1 < end; j++)
                delta -= !awe_pages_share_vma( pfn[j], prot[j], pfn[j + 1], prot[j + 1] );
        }
        if (end < region->pages) delta += edge_delta( op, next ? next : op, end - 1 );
        op->vma_delta = delta;
        plan->vma_delta += delta;
    }
}

/* Unmapping keeps working when mapping no longer does: it is held to the hard limit only. */
NTSTATUS awe_plan_check_budget( const struct awe_regions *regions, struct awe_plan *plan )
{
    size_t limit = plan->map_pages || plan->protect_pages ? regions->vma_limit
                                                          : regions->vma_hard_limit;

    count_vma_delta( plan );
    if (limit && plan->vma_delta > 0 && regions->vmas + (size_t)plan->vma_delta > limit)
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

static NTSTATUS finish( struct awe_plan *plan, NTSTATUS status )
{
    if (status) awe_plan_release( plan );
    return status;
}

NTSTATUS awe_plan_map( struct awe_regions *regions, uintptr_t va, uint64_t count,
                       const void *pfn_array, awe_copy_in_fn copy_in, void *copy_ctx,
                       struct awe_plan *plan )
{
    struct awe_region *region;
    size_t i, n, first, unit = 1;
    uintptr_t size;
    NTSTATUS status;

    awe_plan_init( plan );
    if (count > UINTPTR_MAX >> AWE_PAGE_SHIFT || !count) return STATUS_INVALID_PARAMETER_2;
    va &= ~(AWE_PAGE_SIZE - 1);
    size = (uintptr_t)count << AWE_PAGE_SHIFT;
    if (size - 1 > UINTPTR_MAX - va) return STATUS_INVALID_PARAMETER_2;   /* last byte wraps */
    if (pfn_array &&
        ((status = capture( pfn_array, count, copy_in, copy_ctx, plan->inline_pfns, &plan->pfns )) ||
         (status = split_readonly( plan, count ))))
        return finish( plan, status );

    if (!(region = awe_regions_find( regions, va )))
        return finish( plan, STATUS_INVALID_PARAMETER_1 );
    first = page_of( region, va );
    /* in a region of large units, the count is units and the address must start one */
    if (region->pool)
    {
        unit = region->pool->unit;
        if (first & (unit - 1)) return finish( plan, STATUS_INVALID_PARAMETER_1 );
    }
    if (count > (region->pages - first) / unit) return finish( plan, STATUS_INVALID_PARAMETER_1 );

    /* Whole runs are pushed at once: the operations are those that pushing page by page and
     * merging would give (runs of mapped pages to unmap; runs of consecutive frames to map). */
    if (!plan->pfns)
    {
        size_t pages = (size_t)count * unit;

        for (i = 0; i < pages; i += n)
        {
            if (!region->pfn[first + i])
            {
                n = 1;
                continue;
            }
            for (n = 1; i + n < pages && region->pfn[first + i + n]; n++) ;
            if (push_run( plan, region, first + i, n, 0, 0, 0 ))
                return finish( plan, STATUS_INSUFFICIENT_RESOURCES );
        }
        return finish( plan, awe_plan_check_budget( regions, plan ) );
    }

    if (region->pool) status = check_pool_frames( regions, region->pool, plan->pfns, count );
    else status = check_frames( regions, plan->pfns, NULL, count );
    if (status) return finish( plan, status );
    for (i = 0; i < count; i += n)
    {
        uint32_t pfn = (uint32_t)plan->pfns[i];
        uint32_t index = pfn & (awe_pfn_max_frames( &regions->layout ) - 1);
        enum awe_prot prot = entry_prot( plan, region, i );

        /* entries that continue each other's frames make one run (each a whole unit) */
        for (n = 1; i + n < count && plan->pfns[i + n] == plan->pfns[i] + n * unit &&
                    entry_prot( plan, region, i + n ) == prot; n++) ;
        if (push_run( plan, region, first + i * unit, n * unit, pfn, index, prot ))
            return finish( plan, STATUS_INSUFFICIENT_RESOURCES );
    }
    return finish( plan, awe_plan_check_budget( regions, plan ) );
}

struct scatter_entry
{
    uintptr_t          va;       /* page aligned */
    size_t             order;    /* position in the caller's arrays: the last one wins */
    struct awe_region *region;
    uint32_t           pfn;      /* 0 unmaps */
    enum awe_prot      prot;     /* what a map leaves the page with */
};

static int order_scatter_entries( const void *a, const void *b )
{
    const struct scatter_entry *x = a, *y = b;

    if (x->va != y->va) return x->va < y->va ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

NTSTATUS awe_plan_scatter( struct awe_regions *regions, const void *va_array, uint64_t count,
                           const void *pfn_array, awe_copy_in_fn copy_in, void *copy_ctx,
                           struct awe_plan *plan )
{
    struct scatter_entry *entries;
    uintptr_t *own = NULL;
    NTSTATUS status;
    size_t i, bound = 0;

    awe_plan_init( plan );
    if (count > UINTPTR_MAX >> AWE_PAGE_SHIFT) return STATUS_INVALID_PARAMETER_2;
    if (!count) return STATUS_SUCCESS;
    if ((status = capture( va_array, count, copy_in, copy_ctx, plan->inline_vas, &plan->vas )))
        return status;
    if (pfn_array &&
        ((status = capture( pfn_array, count, copy_in, copy_ctx, plan->inline_pfns, &plan->pfns )) ||
         (status = split_readonly( plan, count ))))
        return finish( plan, status );

    if (!(entries = malloc( (size_t)count * sizeof(*entries) )))
        return finish( plan, STATUS_INSUFFICIENT_RESOURCES );
    for (i = 0; i < count; i++)
    {
        struct awe_region *region;

        entries[i].va = plan->vas[i] & ~(AWE_PAGE_SIZE - 1);
        entries[i].order = i;
        entries[i].pfn = plan->pfns ? (uint32_t)plan->pfns[i] : 0;
        /* an address in a region of large units must start one */
        if (!(region = entries[i].region = awe_regions_find( regions, entries[i].va )) ||
            (region->pool && (page_of( region, entries[i].va ) & (region->pool->unit - 1))))
        {
            status = STATUS_INVALID_PARAMETER_1;
            goto out_free_entries;
        }
        entries[i].prot = plan->pfns ? entry_prot( plan, region, i ) : AWE_PROT_READWRITE;
        if (region->pool) bound++;
    }
    if (plan->pfns && bound)
    {
        /* entries for bound regions name units of their pools; the others are checked
         * together below, the bound ones standing there as unmap entries */
        if (!(own = malloc( (size_t)count * sizeof(*own) )))
        {
            status = STATUS_INSUFFICIENT_RESOURCES;
            goto out_free_entries;
        }
        for (i = 0; i < count; i++)
        {
            own[i] = entries[i].region->pool ? 0 : plan->pfns[i];
            if (!entries[i].pfn || !entries[i].region->pool) continue;
            if ((status = check_pool_frames( regions, entries[i].region->pool, &plan->pfns[i], 1 )))
                goto out_free_entries;
        }
    }
    if (plan->pfns && (status = check_frames( regions, own ? own : plan->pfns, plan->vas, count )))
        goto out_free_entries;

    qsort( entries, count, sizeof(*entries), order_scatter_entries );
    for (i = 0; i < count; i++)
    {
        struct scatter_entry *e = &entries[i];
        size_t page = page_of( e->region, e->va ), j;
        size_t unit = e->region->pool ? e->region->pool->unit : 1;

        if (i + 1 < count && entries[i + 1].va == e->va) continue;  /* a later entry wins */
        if (e->pfn == e->region->pfn[page])
        {
            /* already so, but a Map gives the pages the entry's protection again */
            for (j = page; e->pfn && j < page + unit; j++)
            {
                if (e->region->prot[j] == e->prot) continue;
                if (awe_plan_push_protect( plan, e->region, j, e->prot ))
                {
                    status = STATUS_INSUFFICIENT_RESOURCES;
                    goto out_free_entries;
                }
            }
            continue;
        }
        if (push_run( plan, e->region, page, unit, e->pfn,
                      e->pfn & (awe_pfn_max_frames( &regions->layout ) - 1), e->prot ))
        {
            status = STATUS_INSUFFICIENT_RESOURCES;
            goto out_free_entries;
        }
    }
    status = awe_plan_check_budget( regions, plan );

out_free_entries:
    free( own );
    free( entries );
    return finish( plan, status );
}

static int order_addresses( const void *a, const void *b )
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

NTSTATUS awe_plan_unmap_frames( struct awe_regions *regions, const uintptr_t *pfns, size_t count,
                                struct awe_plan *plan )
{
    uintptr_t *vas;
    size_t i, n = 0;
    uint32_t tag, index;
    NTSTATUS status = STATUS_SUCCESS;

    awe_plan_init( plan );
    if (!count) return STATUS_SUCCESS;
    if (!(vas = malloc( count * sizeof(*vas) ))) return STATUS_INSUFFICIENT_RESOURCES;
    for (i = 0; i < count; i++)
    {
        if (awe_pfn_decode( &regions->layout, pfns[i], &tag, &index ) || tag != regions->tag)
            continue;
        if ((vas[n] = awe_regions_frame_va( regions, index ))) n++;
    }
    qsort( vas, n, sizeof(*vas), order_addresses );
    for (i = 0; i < n; i++)
    {
        struct awe_region *region;

        if (i && vas[i] == vas[i - 1]) continue;
        region = awe_regions_find( regions, vas[i] );
        if (push_page( plan, region, page_of( region, vas[i] ), 0, 0, 0 ))
        {
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
    }
    free( vas );
    if (!status) count_vma_delta( plan );
    return finish( plan, status );
}

static int order_indexes( const void *a, const void *b )
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

NTSTATUS awe_plan_unmap_pool_frames( struct awe_regions *regions, struct awe_pool *pool,
                                     const uintptr_t *pfns, size_t count, struct awe_plan *plan )
{
    uint32_t *units, tag, index, mask = awe_pfn_max_frames( &regions->layout ) - 1;
    struct awe_tree_node *node;
    NTSTATUS status = STATUS_SUCCESS;
    size_t i, n = 0;

    awe_plan_init( plan );
    if (!count || !pool->mapped) return STATUS_SUCCESS;
    if (!(units = malloc( count * sizeof(*units) ))) return STATUS_INSUFFICIENT_RESOURCES;
    /* the units that are mapped somewhere: only their pages need looking for */
    for (i = 0; i < count; i++)
        if (!awe_pfn_decode( &regions->layout, pfns[i], &tag, &index ) && tag == pool->tag &&
            !(index & (pool->unit - 1)) && index < pool->map_count_len && pool->map_count[index])
            units[n++] = index;
    qsort( units, n, sizeof(*units), order_indexes );
    for (node = n ? awe_tree_first( &regions->tree ) : NULL; node && !status; node = awe_tree_next( node ))
    {
        struct awe_region *region = AWE_TREE_ENTRY( node, struct awe_region, node );
        size_t page;

        if (region->pool != pool || !region->mapped) continue;
        for (page = 0; page < region->pages; page++)
        {
            uint32_t head;

            if (!region->pfn[page]) continue;
            head = (region->pfn[page] & mask) & ~(pool->unit - 1);
            if (bsearch( &head, units, n, sizeof(*units), order_indexes ) &&
                push_page( plan, region, page, 0, 0, 0 ))
            {
                status = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
        }
    }
    free( units );
    if (!status) count_vma_delta( plan );
    return finish( plan, status );
}

void awe_plan_commit( struct awe_regions *regions, struct awe_plan *plan )
{
    uint32_t mask = awe_pfn_max_frames( &regions->layout ) - 1;
    size_t k, i;

    for (k = 0; k < plan->nops; k++)
    {
        struct awe_plan_op *op = &plan->ops[k];
        struct awe_region *region = op->region;
        size_t first = page_of( region, op->va ), gone = 0;
        uint32_t *pfn = region->pfn + first;
        uint8_t *prot = region->prot + first;

        if (op->kind == AWE_OP_PROTECT)
        {
            memset( prot, op->prot, op->pages );
        }
        else
        {
            /* the tables hold only this process's frames, validated when they were mapped, so
             * a frame's index is its PFN's low bits */
            struct awe_pool *pool = region->pool;

            for (i = 0; i < op->pages; i++)
            {
                if (pfn[i])
                {
                    if (pool) pool->map_count[pfn[i] & mask]--;
                    else regions->frame_va[pfn[i] & mask] = 0;
                    gone++;
                }
                if (op->kind == AWE_OP_MAP)
                {
                    pfn[i] = op->pfn + (uint32_t)i;
                    if (pool) pool->map_count[op->index + i]++;
                    else regions->frame_va[op->index + i] = op->va + (i << AWE_PAGE_SHIFT);
                }
                else pfn[i] = 0;
            }
            if (pool) pool->mapped += (op->kind == AWE_OP_MAP ? op->pages : 0) - gone;
            memset( prot, op->kind == AWE_OP_MAP ? op->prot : AWE_PROT_READWRITE, op->pages );
            region->mapped -= gone;
            regions->mapped -= gone;
            if (op->kind == AWE_OP_MAP)
            {
                region->mapped += op->pages;
                regions->mapped += op->pages;
            }
        }
        region->vmas += op->vma_delta;
        regions->vmas += op->vma_delta;
    }
    awe_plan_release( plan );
}

int awe_plan_undo( const struct awe_regions *regions, const struct awe_plan *plan, size_t done,
                   struct awe_plan *undo )
{
    size_t k, i;

    awe_plan_init( undo );
    for (k = 0; k < done && k < plan->nops; k++)
    {
        const struct awe_plan_op *op = &plan->ops[k];
        struct awe_region *region = op->region;
        size_t first = page_of( region, op->va );

        for (i = first; i < first + op->pages; i++)
        {
            uint32_t pfn = region->pfn[i];
            uint32_t index = pfn & (awe_pfn_max_frames( &regions->layout ) - 1);
            int ret;

            if (op->kind == AWE_OP_PROTECT)
                ret = awe_plan_push_protect( undo, region, i, region->prot[i] );
            else
                ret = push_page( undo, region, i, pfn, index,
                                 pfn ? region->prot[i] : AWE_PROT_READWRITE );
            if (ret)
            {
                awe_plan_release( undo );
                return -ENOMEM;
            }
        }
    }
    return 0;
}
