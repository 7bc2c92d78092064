/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWE region table: MEM_PHYSICAL regions, the frame at each page, the address of each frame. */

#include <errno.h>
#include <stdlib.h>
#include "awe/core.h"

#define REGION(n) AWE_TREE_ENTRY( n, struct awe_region, node )

static int order_regions( const struct awe_tree_node *a, const struct awe_tree_node *b )
{
    return REGION(a)->base < REGION(b)->base ? -1 : REGION(a)->base > REGION(b)->base;
}

static int compare_addr( const void *key, const struct awe_tree_node *node )
{
    uintptr_t addr = *(const uintptr_t *)key;
    return addr < REGION(node)->base ? -1 : addr > REGION(node)->base;
}

static inline uintptr_t region_end( const struct awe_region *region )
{
    return region->base + (region->pages << AWE_PAGE_SHIFT);
}

int awe_regions_init( struct awe_regions *regions, const struct awe_pfn_layout *layout,
                      uint32_t tag, awe_frame_owned_fn frame_owned, void *owner_ctx )
{
    if (!tag || tag > awe_pfn_max_tag( layout )) return -EINVAL;
    awe_tree_init( &regions->tree );
    regions->layout = *layout;
    regions->tag = tag;
    regions->frame_owned = frame_owned;
    regions->owner_ctx = owner_ctx;
    regions->frame_va = NULL;
    regions->frame_va_len = 0;
    regions->mapped = 0;
    regions->vmas = 0;
    regions->vma_limit = 0;
    regions->vma_hard_limit = 0;
    return 0;
}

static void free_region( struct awe_region *region )
{
    free( region->pfn );
    free( region->prot );
    free( region );
}

void awe_regions_destroy( struct awe_regions *regions )
{
    struct awe_tree_node *node;

    while ((node = regions->tree.root))
    {
        awe_tree_remove( &regions->tree, node );
        free_region( REGION(node) );
    }
    free( regions->frame_va );
    regions->frame_va = NULL;
    regions->frame_va_len = 0;
    regions->mapped = regions->vmas = 0;
}

int awe_pool_init( struct awe_pool *pool, const struct awe_pfn_layout *layout, uint32_t tag,
                   uint32_t unit, int memfd, awe_frame_owned_fn frame_owned, void *owner_ctx )
{
    if (!tag || tag > awe_pfn_max_tag( layout ) || !unit || (unit & (unit - 1)) ||
        unit > awe_pfn_max_frames( layout ))
        return -EINVAL;
    pool->tag = tag;
    pool->unit = unit;
    pool->memfd = memfd;
    pool->frame_owned = frame_owned;
    pool->owner_ctx = owner_ctx;
    pool->map_count = NULL;
    pool->map_count_len = 0;
    pool->mapped = 0;
    pool->regions = 0;
    return 0;
}

void awe_pool_destroy( struct awe_pool *pool )
{
    free( pool->map_count );
    pool->map_count = NULL;
    pool->map_count_len = 0;
}

int awe_regions_insert_bound( struct awe_regions *regions, uintptr_t base, size_t pages,
                              struct awe_pool *pool, struct awe_region **ret )
{
    struct awe_region *region;
    int err;

    if (pool && (((base >> AWE_PAGE_SHIFT) | pages) & (pool->unit - 1))) return -EINVAL;
    if ((err = awe_regions_insert( regions, base, pages, &region ))) return err;
    region->pool = pool;
    if (pool) pool->regions++;
    if (ret) *ret = region;
    return 0;
}

int awe_regions_insert( struct awe_regions *regions, uintptr_t base, size_t pages,
                        struct awe_region **ret )
{
    struct awe_tree_node *node;
    struct awe_region *region;
    uintptr_t end;

    if ((base & (AWE_PAGE_SIZE - 1)) || !pages || pages > (UINTPTR_MAX - base) >> AWE_PAGE_SHIFT)
        return -EINVAL;
    end = base + (pages << AWE_PAGE_SHIFT);
    if ((node = awe_tree_floor( &regions->tree, &base, compare_addr )) &&
        region_end( REGION(node) ) > base)
        return -EEXIST;
    if ((node = awe_tree_ceil( &regions->tree, &base, compare_addr )) && REGION(node)->base < end)
        return -EEXIST;

    if (!(region = calloc( 1, sizeof(*region) ))) return -ENOMEM;
    region->pfn = calloc( pages, sizeof(*region->pfn) );
    region->prot = calloc( pages, sizeof(*region->prot) );
    if (!region->pfn || !region->prot)
    {
        free_region( region );
        return -ENOMEM;
    }
    region->base = base;
    region->pages = pages;
    region->vmas = 1;
    awe_tree_insert( &regions->tree, &region->node, order_regions );
    regions->vmas++;
    if (ret) *ret = region;
    return 0;
}

struct awe_region *awe_regions_find( const struct awe_regions *regions, uintptr_t addr )
{
    struct awe_tree_node *node = awe_tree_floor( &regions->tree, &addr, compare_addr );
    return node && addr < region_end( REGION(node) ) ? REGION(node) : NULL;
}

void awe_regions_remove( struct awe_regions *regions, struct awe_region *region )
{
    uint32_t tag, index;
    size_t i;

    struct awe_pool *pool = region->pool;

    for (i = 0; i < region->pages && region->mapped; i++)
    {
        if (!region->pfn[i]) continue;
        if (awe_pfn_decode( &regions->layout, region->pfn[i], &tag, &index )) ;
        else if (pool)
        {
            if (index < pool->map_count_len) pool->map_count[index]--;
            pool->mapped--;
        }
        else if (index < regions->frame_va_len) regions->frame_va[index] = 0;
        region->mapped--;
        regions->mapped--;
    }
    if (pool) pool->regions--;
    regions->vmas -= region->vmas;
    awe_tree_remove( &regions->tree, &region->node );
    free_region( region );
}

size_t awe_region_query( const struct awe_region *region, size_t page, uint32_t *pfn,
                         enum awe_prot *prot )
{
    uint32_t first = region->pfn[page];
    enum awe_prot p = first ? region->prot[page] : AWE_PROT_NOACCESS;
    size_t i;

    for (i = page + 1; i < region->pages; i++)
    {
        if (!first != !region->pfn[i]) break;
        if (first && region->prot[i] != p) break;
    }
    *pfn = first;
    *prot = p;
    return i - page;
}

size_t awe_region_count_vmas( const struct awe_region *region )
{
    size_t i, vmas = 1;

    for (i = 1; i < region->pages; i++)
        if (!awe_pages_share_vma( region->pfn[i - 1], region->prot[i - 1], region->pfn[i],
                                  region->prot[i] ))
            vmas++;
    return vmas;
}
