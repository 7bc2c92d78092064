/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Planner internals shared by plan.c and protect.c; never exported from libawe. */

#ifndef __AWE_PLAN_PRIVATE_H
#define __AWE_PLAN_PRIVATE_H

#include "awe/core.h"

#pragma GCC visibility push(hidden)

/* Appends an AWE_OP_PROTECT of the mapped page of region to plan, merged into the previous
 * operation when that one protects the page before it to the same protection, and counts it in
 * plan->protect_pages.  Returns 0 or -ENOMEM. */
extern int awe_plan_push_protect( struct awe_plan *plan, struct awe_region *region, size_t page,
                                  enum awe_prot prot );

/* Computes the plan's VMA change and fails it past the process's budget: plans that map or
 * protect anything stop at vma_limit, plans that only unmap at vma_hard_limit.  Returns
 * STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES; the plan is kept either way. */
extern NTSTATUS awe_plan_check_budget( const struct awe_regions *regions, struct awe_plan *plan );

#pragma GCC visibility pop

#endif  /* __AWE_PLAN_PRIVATE_H */
