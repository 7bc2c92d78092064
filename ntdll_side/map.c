/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issuing map plans: memfd runs mapped in place, PROT_NONE overlays, mprotect, all or nothing. */

#include <errno.h>
#include <sys/mman.h>
#include "ntdll_private.h"

struct awe_map_syscalls awe_map_syscalls = { mmap, mprotect };

/* A frame memfd is 2^index_bits pages (8 GiB by default): a 32-bit build needs a 64-bit off_t
 * (_FILE_OFFSET_BITS=64, which the Makefile sets) for the offsets here and for the fstat that
 * checks the memfd's size at init_process. */
_Static_assert( sizeof(off_t) == 8, "frames lie beyond 2 GiB: build with _FILE_OFFSET_BITS=64" );

/* Unmapped AWE pages are an anonymous, inaccessible, uncharged reservation: a touch faults,
 * and neighbouring unmapped pages merge into one VMA. */
#define RESERVE_PROT  PROT_NONE
#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static int prot_of( enum awe_prot prot )
{
    switch (prot)
    {
    case AWE_PROT_READONLY: return PROT_READ;
    case AWE_PROT_NOACCESS: return PROT_NONE;
    default:                return PROT_READ | PROT_WRITE;
    }
}

void *awe_reserve_range( void *addr, size_t len, int *err )
{
    void *ptr = awe_map_syscalls.mmap( addr, len, RESERVE_PROT,
                                       RESERVE_FLAGS | (addr ? MAP_FIXED_NOREPLACE : 0), -1, 0 );

    if (ptr == MAP_FAILED)
    {
        *err = -errno;
        return NULL;
    }
    return ptr;
}

int awe_issue_ops( int memfd, const struct awe_plan_op *ops, size_t nops, size_t *done )
{
    size_t k;

    for (k = 0; k < nops; k++)
    {
        const struct awe_plan_op *op = &ops[k];
        size_t len = op->pages << AWE_PAGE_SHIFT;
        void *ret;

        /* MAP_FIXED replaces the old mapping atomically: no other thread can slip into a hole */
        switch (op->kind)
        {
        case AWE_OP_MAP:
            /* a section's frames are in its own memfd */
            ret = awe_map_syscalls.mmap( (void *)op->va, len, prot_of( op->prot ),
                                         MAP_SHARED | MAP_FIXED | MAP_POPULATE,
                                         op->region->pool ? op->region->pool->memfd : memfd,
                                         (off_t)op->index << AWE_PAGE_SHIFT );
            break;
        case AWE_OP_UNMAP:
            ret = awe_map_syscalls.mmap( (void *)op->va, len, RESERVE_PROT,
                                         RESERVE_FLAGS | MAP_FIXED, -1, 0 );
            break;
        default:
            /* the pages stay populated; only the VMA's access changes (and splits or merges) */
            ret = awe_map_syscalls.mprotect( (void *)op->va, len, prot_of( op->prot ) )
                  ? MAP_FAILED : (void *)op->va;
            break;
        }
        if (ret == MAP_FAILED)
        {
            *done = k + 1;
            return -errno;
        }
    }
    *done = nops;
    return 0;
}

NTSTATUS awe_apply_plan( struct awe_regions *regions, int memfd, struct awe_plan *plan )
{
    struct awe_plan undo;
    size_t done, undone;

    if (!awe_issue_ops( memfd, plan->ops, plan->nops, &done ))
    {
        awe_plan_commit( regions, plan );
        return STATUS_SUCCESS;
    }
    /* Putting pages back needs no more VMAs than the tables record, so it only fails if the
     * kernel itself runs out of memory; keep trying the remaining operations then. */
    if (!awe_plan_undo( regions, plan, done, &undo ))
    {
        size_t k = 0;
        while (k < undo.nops && awe_issue_ops( memfd, undo.ops + k, undo.nops - k, &undone ))
            k += undone;
        awe_plan_release( &undo );
    }
    awe_plan_release( plan );
    return STATUS_INSUFFICIENT_RESOURCES;
}
