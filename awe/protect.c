/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Protecting AWE pages: VirtualProtect on a MEM_PHYSICAL region, planned as mprotect runs. */

#include "awe/core.h"
#include "awe/plan_private.h"

NTSTATUS awe_plan_protect( struct awe_regions *regions, struct awe_region *region, uintptr_t va,
                           size_t pages, enum awe_prot prot, enum awe_prot *old,
                           struct awe_plan *plan )
{
    size_t first, i;
    NTSTATUS status;

    awe_plan_init( plan );
    if (prot != AWE_PROT_READWRITE && prot != AWE_PROT_READONLY && prot != AWE_PROT_NOACCESS)
        return STATUS_INVALID_PARAMETER;
    if (!region || (va & (AWE_PAGE_SIZE - 1)) || va < region->base || !pages)
        return STATUS_INVALID_PARAMETER;
    first = (va - region->base) >> AWE_PAGE_SHIFT;
    if (first >= region->pages || pages > region->pages - first) return STATUS_INVALID_PARAMETER;
    /* a read-only view of a section never allows writing (awe-spec.md 2.5) */
    if (region->readonly && prot == AWE_PROT_READWRITE) return STATUS_INVALID_PAGE_PROTECTION;
    if (region->pool && region->pool->unit > 1)
    {
        /* large pages change protection whole: the range grows to the units it touches (the
         * region is made of whole units) */
        size_t unit = region->pool->unit, end = first + pages;

        first &= ~(unit - 1);
        pages = ((end + unit - 1) & ~(unit - 1)) - first;
    }

    /* unmapped pages have no protection to change: Windows applies it to mapped pages only */
    for (i = first; i < first + pages; i++)
    {
        if (!region->pfn[i] || region->prot[i] == prot) continue;
        if (awe_plan_push_protect( plan, region, i, prot ))
        {
            awe_plan_release( plan );
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    if ((status = awe_plan_check_budget( regions, plan )))
    {
        awe_plan_release( plan );
        return status;
    }
    *old = region->pfn[first] ? (enum awe_prot)region->prot[first] : AWE_PROT_NOACCESS;
    return STATUS_SUCCESS;
}
