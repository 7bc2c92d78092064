/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AWE core: frame numbers, the frame allocator, the region table and the map planner.
 *
 * Pure C, no system calls: the server and the client library drive it, the tests run it
 * alone.  Containers return 0 or -errno; the planner, whose answers are Windows' answers,
 * returns NTSTATUS.  Nothing here locks: the server is single-threaded, and the client holds
 * its per-process AWE lock around every planner call and commit. */

#ifndef __AWE_CORE_H
#define __AWE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "tree.h"

#define AWE_PAGE_SHIFT 12
#define AWE_PAGE_SIZE  ((uintptr_t)1 << AWE_PAGE_SHIFT)

/* ---- frame numbers --------------------------------------------------------------------------
 *
 * A PFN is (tag << index_bits) | index: the server-assigned tag of the owning process above,
 * the frame's index in that process's memfd below.  Tags start at 1, so a PFN is never 0 and
 * the smallest is 1 << index_bits.  The total width is at most 31 bits, so PFNs fit 32-bit
 * ULONG_PTR arrays and keep bit 31 clear (Windows uses the top bit of a WOW64 PFN entry as a
 * read-only flag). */

#define AWE_PFN_DEFAULT_INDEX_BITS 21       /* 2^21 frames = 8 GiB per process */
#define AWE_PFN_DEFAULT_TAG_BITS   10       /* 1023 processes at once */
#define AWE_PFN_MAX_BITS           31

/* The top bit of an entry in a Map or Scatter PFN array maps that frame read-only (Windows 10
 * and later; bit 31 of a WOW64 process's 32-bit entries, which this 64-bit emulation does not
 * serve).  It is no part of the frame number: every other call takes such an entry as it is,
 * which names no frame. */
#define AWE_PFN_READONLY ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

struct awe_pfn_layout
{
    unsigned int index_bits;     /* frame index within one process's memfd */
    unsigned int tag_bits;       /* process tag above the index */
};

/* Sets up a layout; returns 0, or -EINVAL unless 1 <= each part and their sum <= 31. */
extern int awe_pfn_layout_init( struct awe_pfn_layout *layout, unsigned int index_bits,
                                unsigned int tag_bits );

/* Frames one process can own: 1 << index_bits. */
static inline uint32_t awe_pfn_max_frames( const struct awe_pfn_layout *layout )
{
    return (uint32_t)1 << layout->index_bits;
}

/* Largest usable tag; tags are 1 .. awe_pfn_max_tag(). */
static inline uint32_t awe_pfn_max_tag( const struct awe_pfn_layout *layout )
{
    return ((uint32_t)1 << layout->tag_bits) - 1;
}

/* Returns the PFN of frame index of the process with this tag, or 0 if either is out of range. */
extern uint64_t awe_pfn_encode( const struct awe_pfn_layout *layout, uint32_t tag, uint32_t index );

/* Splits a PFN as found in a caller's array; returns 0, or -EINVAL for 0, a tag of 0 or any
 * bit above the layout's width.  The outputs are written only on success. */
extern int awe_pfn_decode( const struct awe_pfn_layout *layout, uint64_t pfn, uint32_t *tag,
                           uint32_t *index );

/* ---- frame allocator --------------------------------------------------------------------------
 *
 * The frames of one process, [0, limit), with the free ones kept as runs in an AVL tree.
 * Allocation takes the lowest free frames first, so frames come out in ascending contiguous
 * runs and the memfd grows from the bottom.  Costs are per run, not per frame. */

struct awe_frame_run
{
    uint32_t start;              /* first frame index */
    uint32_t count;              /* frames in the run */
};

struct awe_frames
{
    struct awe_tree tree;        /* free runs, ordered by start */
    uint32_t        limit;       /* frames [0, limit) exist */
    uint32_t        in_use;      /* frames allocated */
    void           *spare;       /* one cached run node, so a free rarely allocates */
};

/* Starts an allocator with every frame of [0, limit) free; returns 0 or -ENOMEM. */
extern int awe_frames_init( struct awe_frames *frames, uint32_t limit );
/* Releases the allocator's memory (not the frames: the caller owns their backing). */
extern void awe_frames_destroy( struct awe_frames *frames );

/* Allocates up to want frames, lowest first, and describes them as ascending runs in
 * runs[0 .. *nruns).  Stops early when max_runs runs are filled or the pool is exhausted:
 * Windows' partial allocation.  Returns the number of frames allocated. */
extern uint64_t awe_frames_alloc( struct awe_frames *frames, uint64_t want,
                                  struct awe_frame_run *runs, size_t max_runs, size_t *nruns );

/* Frees the frames named by pfns[0 .. count) in array order, as FreeUserPhysicalPages does:
 * it stops at the first entry that is malformed, of another tag, not allocated, or repeated
 * earlier in the call.  *freed receives how many entries were freed.  Returns 0 when all
 * were, -EINVAL at a bad entry (pfns[*freed]), -ENOMEM if a run node could not be allocated. */
extern int awe_frames_free( struct awe_frames *frames, const struct awe_pfn_layout *layout,
                            uint32_t tag, const uintptr_t *pfns, size_t count, size_t *freed );

/* Returns the allocated frames [start, start + count) to the free runs, without the checks of
 * awe_frames_free (the caller validated them).  Returns 0 or -ENOMEM. */
extern int awe_frames_release( struct awe_frames *frames, uint32_t start, uint32_t count );

/* Returns non-zero if frame index is allocated. */
extern int awe_frames_is_allocated( const struct awe_frames *frames, uint32_t index );

/* One past the highest allocated frame: the memfd size, in frames, that backs every frame. */
extern uint32_t awe_frames_span( const struct awe_frames *frames );

/* Number of free runs (fragmentation; for status and tests). */
static inline size_t awe_frames_free_runs( const struct awe_frames *frames )
{
    return frames->tree.count;
}

/* Returns the length of the run of consecutive PFNs at the start of pfns[0 .. count): entries
 * that each decode and follow the previous one by exactly one frame of the same tag.
 * 0 if pfns[0] does not decode. */
extern size_t awe_pfn_run_length( const struct awe_pfn_layout *layout, const uintptr_t *pfns,
                                  size_t count );

/* ---- AWE regions ------------------------------------------------------------------------------
 *
 * The MEM_PHYSICAL regions of one process and what is mapped in them: the PFN at each page
 * and, for each of the process's own frames, the address it is mapped at.  Client-private:
 * only the owning process maps its frames. */

enum awe_prot
{
    AWE_PROT_READWRITE = 0,      /* the state after every Map */
    AWE_PROT_READONLY  = 1,
    AWE_PROT_NOACCESS  = 2,
};

/* Tells whether frame index of the calling process (or of a pool) is allocated (the client
 * reads the server's frame table; the tests ask an allocator).  Returns non-zero if owned. */
typedef int (*awe_frame_owned_fn)( void *ctx, uint32_t index );

/* The frames of an AWE section, as the regions bound to it see them.  Unlike the process's own
 * frames, each may be mapped at any number of pages of those regions at once, so the pool
 * counts the mappings of each frame instead of keeping its one address.  Frames come in units
 * of unit frames (512 for a section of 2 MiB pages): a unit is allocated, mapped and unmapped
 * whole, its PFN is that of its first frame, and a region bound to the pool has its base and
 * its size, and every Map its address, aligned to the unit.  Tracking stays per 4 KiB page. */
struct awe_pool
{
    uint32_t           tag;          /* the PFN tag of the pool's frames */
    uint32_t           unit;         /* frames per unit: a power of two */
    int                memfd;        /* the mapper's descriptor of the frames (client) */
    awe_frame_owned_fn frame_owned;  /* whether a frame index is allocated in the pool */
    void              *owner_ctx;
    uint32_t          *map_count;    /* pages mapping each frame, by index */
    uint32_t           map_count_len;
    size_t             mapped;       /* pages of all bound regions that map its frames */
    size_t             regions;      /* regions bound to it */
};

/* Prepares a pool; returns 0, or -EINVAL for a bad tag or a unit that is not a power of two
 * of at most the frames one tag can have. */
extern int awe_pool_init( struct awe_pool *pool, const struct awe_pfn_layout *layout, uint32_t tag,
                          uint32_t unit, int memfd, awe_frame_owned_fn frame_owned, void *owner_ctx );
/* Frees the pool's counts; no region may be bound to it any more. */
extern void awe_pool_destroy( struct awe_pool *pool );

struct awe_region
{
    struct awe_tree_node node;   /* in awe_regions.tree, ordered by base */
    uintptr_t            base;   /* page aligned */
    size_t               pages;
    uint32_t            *pfn;    /* PFN mapped at each page, 0 if none */
    uint8_t             *prot;   /* enum awe_prot of each mapped page */
    size_t               mapped; /* pages with a PFN */
    size_t               vmas;   /* kernel VMAs the region's pages use now */
    struct awe_pool     *pool;   /* the section it is bound to; NULL: the process's frames */
    uint32_t             binding;/* the client's reference that keeps the pool alive */
    uint8_t              readonly;/* a PAGE_READONLY view of the section: every Map maps its
                                   * frames read-only, and no protection may allow writing */
};

struct awe_regions
{
    struct awe_tree       tree;          /* struct awe_region, ordered by base */
    struct awe_pfn_layout layout;
    uint32_t              tag;           /* this process's tag: only its frames map here */
    awe_frame_owned_fn    frame_owned;
    void                 *owner_ctx;
    uintptr_t            *frame_va;      /* reverse map: address of each own frame, 0 if none */
    uint32_t              frame_va_len;  /* entries in frame_va */
    size_t                mapped;        /* pages mapped in all regions */
    size_t                vmas;          /* VMAs of all regions */
    size_t                vma_limit;     /* plans that map fail beyond this (0: no limit) */
    size_t                vma_hard_limit;/* plans that only unmap fail beyond this (0: none) */
};

/* Starts an empty table for the process with this tag; returns 0 or -EINVAL for a bad tag. */
extern int awe_regions_init( struct awe_regions *regions, const struct awe_pfn_layout *layout,
                             uint32_t tag, awe_frame_owned_fn frame_owned, void *owner_ctx );
/* Frees every region and the reverse map. */
extern void awe_regions_destroy( struct awe_regions *regions );

/* Adds the region [base, base + pages pages), all unmapped; returns 0, -EINVAL for an unaligned
 * base, no pages or a wrapping range, -EEXIST if it overlaps a region, -ENOMEM. */
extern int awe_regions_insert( struct awe_regions *regions, uintptr_t base, size_t pages,
                               struct awe_region **region );
/* Adds a region bound to pool, as awe_regions_insert does; base and pages must be multiples of
 * the pool's unit (else -EINVAL).  Only frames of the pool map there. */
extern int awe_regions_insert_bound( struct awe_regions *regions, uintptr_t base, size_t pages,
                                     struct awe_pool *pool, struct awe_region **region );
/* Returns the region containing addr, or NULL. */
extern struct awe_region *awe_regions_find( const struct awe_regions *regions, uintptr_t addr );
/* Forgets a region: its frames count as unmapped again (VirtualFree releases the region but
 * not the frames).  The caller removes the mappings themselves. */
extern void awe_regions_remove( struct awe_regions *regions, struct awe_region *region );

/* Returns the address the process's frame index is mapped at, or 0. */
static inline uintptr_t awe_regions_frame_va( const struct awe_regions *regions, uint32_t index )
{
    return index < regions->frame_va_len ? regions->frame_va[index] : 0;
}

/* Describes the pages from page onwards that share page's state, for VirtualQuery: *pfn is 0 for
 * an unmapped run, *prot its protection.  Returns the run's length in pages (at least 1). */
extern size_t awe_region_query( const struct awe_region *region, size_t page, uint32_t *pfn,
                                enum awe_prot *prot );

/* Tells whether two neighbouring pages share one kernel VMA: both unmapped (one PROT_NONE
 * reservation), or both mapped with the same protection at consecutive frames (consecutive
 * PFNs of one process are consecutive offsets of its memfd, which the kernel merges). */
static inline int awe_pages_share_vma( uint32_t pfn_a, enum awe_prot prot_a, uint32_t pfn_b,
                                       enum awe_prot prot_b )
{
    if (!pfn_a || !pfn_b) return !pfn_a && !pfn_b;
    return pfn_b == pfn_a + 1 && prot_a == prot_b;
}

/* Counts the VMAs the region's pages need, from scratch (tests check the running count). */
extern size_t awe_region_count_vmas( const struct awe_region *region );

/* ---- map planner ----------------------------------------------------------------------------
 *
 * Map, Scatter and VirtualProtect of AWE pages run in two steps.  Planning validates the whole
 * request in Windows' order against the tables and either fails with the status Windows
 * returns, changing nothing, or produces a plan: the system-level operations to issue, in
 * address order, with neighbours whose address and frame are both consecutive (for a
 * protection change: whose address is) merged into one.  The caller issues them, then
 * commits the plan (the tables follow) or, if an operation failed, undoes the ones done (the
 * planner describes how, from the tables, which still hold the old state) and releases it. */

/* Copies count ULONG_PTR-sized elements from the caller's memory at src; returns 0 or -EFAULT.
 * The client passes a fault-safe copy, the tests a checked memcpy. */
typedef int (*awe_copy_in_fn)( void *ctx, uintptr_t *dst, const void *src, size_t count );

enum awe_op_kind
{
    AWE_OP_MAP,                  /* mmap the frames [index, index + pages) of the memfd at va */
    AWE_OP_UNMAP,                /* lay a PROT_NONE reservation over va */
    AWE_OP_PROTECT,              /* mprotect the mapped pages at va to prot; frames stay */
};

struct awe_plan_op
{
    struct awe_region *region;   /* region holding [va, va + pages pages) */
    uintptr_t          va;       /* page aligned */
    size_t             pages;
    uint32_t           pfn;      /* AWE_OP_MAP: first PFN; AWE_OP_PROTECT: PFN at va */
    uint32_t           index;    /* AWE_OP_MAP: first frame index (file offset / page size) */
    enum awe_op_kind   kind;
    enum awe_prot      prot;     /* AWE_OP_MAP: protection (read/write except when undoing);
                                  * AWE_OP_PROTECT: the new protection */
    ptrdiff_t          vma_delta;/* this operation's share of the plan's VMA change */
};

#define AWE_PLAN_INLINE_OPS   8
#define AWE_PLAN_INLINE_ELEMS 16

struct awe_plan
{
    struct awe_plan_op *ops;          /* in address order, disjoint */
    size_t              nops;
    size_t              ops_cap;
    ptrdiff_t           vma_delta;    /* change in awe_regions.vmas once committed */
    size_t              map_pages;    /* pages the plan maps */
    size_t              unmap_pages;  /* mapped pages the plan unmaps */
    size_t              protect_pages;/* mapped pages whose protection the plan changes */
    uintptr_t          *pfns;         /* captured PFN array, AWE_PFN_READONLY taken out */
    uintptr_t          *vas;          /* captured address array (Scatter) */
    uint8_t            *readonly;     /* entries that had AWE_PFN_READONLY, NULL if none did */
    struct awe_plan_op  inline_ops[AWE_PLAN_INLINE_OPS];
    uintptr_t           inline_pfns[AWE_PLAN_INLINE_ELEMS];
    uintptr_t           inline_vas[AWE_PLAN_INLINE_ELEMS];
    uint8_t             inline_readonly[AWE_PLAN_INLINE_ELEMS];
};

/* Prepares an empty plan (planning functions do this themselves). */
extern void awe_plan_init( struct awe_plan *plan );
/* Frees what a plan holds; an uncommitted plan is thereby aborted.  Safe to call twice. */
extern void awe_plan_release( struct awe_plan *plan );

/* Plans MapUserPhysicalPages( va, count, pfn_array ) (awe-spec.md section 2.2); pfn_array NULL
 * unmaps; an entry with AWE_PFN_READONLY maps its frame read-only, the others read/write.  In
 * a region bound to a pool, count and the entries are the pool's units, va must be aligned to
 * one (else STATUS_INVALID_PARAMETER_1), and frames mapped elsewhere may be mapped again.  Returns STATUS_SUCCESS with the plan, or Windows' failure with nothing planned. */
extern NTSTATUS awe_plan_map( struct awe_regions *regions, uintptr_t va, uint64_t count,
                              const void *pfn_array, awe_copy_in_fn copy_in, void *copy_ctx,
                              struct awe_plan *plan );

/* Plans MapUserPhysicalPagesScatter( va_array, count, pfn_array ) (awe-spec.md section 2.3);
 * a 0 entry or a NULL pfn_array unmaps; duplicate addresses apply in order (the last wins);
 * naming a frame at the address that already maps it leaves it mapped (spec case S06), made
 * read/write again if VirtualProtect had changed it (every Map resets a page to read/write, or
 * read-only for an entry with AWE_PFN_READONLY). */
extern NTSTATUS awe_plan_scatter( struct awe_regions *regions, const void *va_array,
                                  uint64_t count, const void *pfn_array, awe_copy_in_fn copy_in,
                                  void *copy_ctx, struct awe_plan *plan );

/* Plans VirtualProtect( va, pages pages, prot ) on the AWE region holding them (awe-spec.md
 * section 2.8): each mapped page whose protection differs gets an AWE_OP_PROTECT (neighbours
 * merge into one mprotect whatever their frames), unmapped pages are left alone, and the VMA
 * budget applies as for a Map.  In a region of large units the range first grows to the whole
 * units it touches, as a large page changes protection whole.  On success *old receives the
 * first page's protection, or AWE_PROT_NOACCESS if it is unmapped.  Returns STATUS_SUCCESS with
 * the plan (possibly empty), STATUS_INVALID_PARAMETER for an unaligned va, no pages, a range
 * not inside region or an unknown prot, STATUS_INVALID_PAGE_PROTECTION for AWE_PROT_READWRITE
 * in a read-only region, or STATUS_INSUFFICIENT_RESOURCES past the budget or out of memory,
 * with nothing planned.  Commit updates the pages' protections; undo restores them. */
extern NTSTATUS awe_plan_protect( struct awe_regions *regions, struct awe_region *region,
                                  uintptr_t va, size_t pages, enum awe_prot prot,
                                  enum awe_prot *old, struct awe_plan *plan );

/* Plans unmapping whichever of this process's frames pfns[0 .. count) are mapped (before a
 * Free, or when the server reports frames freed by another process).  Entries that are not
 * this process's mapped frames are ignored.  Returns STATUS_SUCCESS or
 * STATUS_INSUFFICIENT_RESOURCES (out of memory). */
extern NTSTATUS awe_plan_unmap_frames( struct awe_regions *regions, const uintptr_t *pfns,
                                       size_t count, struct awe_plan *plan );

/* The same for frames of a pool freed through its section (their units' PFNs): whatever maps
 * them, in every region bound to the pool, is unmapped.  Costs a look at each mapped page of
 * those regions, and nothing when none of the frames is mapped. */
extern NTSTATUS awe_plan_unmap_pool_frames( struct awe_regions *regions, struct awe_pool *pool,
                                            const uintptr_t *pfns, size_t count,
                                            struct awe_plan *plan );

/* Applies a plan whose operations all succeeded to the tables, and releases it. */
extern void awe_plan_commit( struct awe_regions *regions, struct awe_plan *plan );

/* Describes how to restore the pages touched by plan->ops[0 .. done) to the state the tables
 * still hold, after operation done - 1 failed (a failed MAP_FIXED mmap may already have
 * removed the old mapping, so the failed operation is undone too).  The undo plan is issued,
 * never committed.  Returns 0 or -ENOMEM. */
extern int awe_plan_undo( const struct awe_regions *regions, const struct awe_plan *plan,
                          size_t done, struct awe_plan *undo );

/* ---- instance directory ------------------------------------------------------------------- */

/* Writes the directory server and clients meet in: $AWE_SERVER_DIR, else $XDG_RUNTIME_DIR/awe,
 * else /tmp/awe-UID.  Returns 0, or -1 if it does not fit in size bytes. */
extern int awe_instance_dir( char *buf, size_t size );

#endif  /* __AWE_CORE_H */
