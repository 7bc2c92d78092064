/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame allocator: the frames of one process, free ones kept as runs, lowest first. */

#include <errno.h>
#include <stdlib.h>
#include "awe/core.h"

struct free_run
{
    struct awe_tree_node node;   /* in awe_frames.tree, ordered by start */
    uint32_t             start;
    uint32_t             count;
};

#define RUN(n) AWE_TREE_ENTRY( n, struct free_run, node )

static int order_runs( const struct awe_tree_node *a, const struct awe_tree_node *b )
{
    return RUN(a)->start < RUN(b)->start ? -1 : RUN(a)->start > RUN(b)->start;
}

static int compare_index( const void *key, const struct awe_tree_node *node )
{
    uint32_t index = *(const uint32_t *)key;
    return index < RUN(node)->start ? -1 : index > RUN(node)->start;
}

static inline uint32_t run_end( const struct free_run *run )
{
    return run->start + run->count;
}

static struct free_run *grab_node( struct awe_frames *frames )
{
    struct free_run *run = frames->spare;

    if (run) frames->spare = NULL;
    else run = malloc( sizeof(*run) );
    return run;
}

static void release_node( struct awe_frames *frames, struct free_run *run )
{
    if (!frames->spare) frames->spare = run;
    else free( run );
}

int awe_frames_init( struct awe_frames *frames, uint32_t limit )
{
    struct free_run *run;

    awe_tree_init( &frames->tree );
    frames->limit = limit;
    frames->in_use = 0;
    frames->spare = NULL;
    if (!limit) return 0;
    if (!(run = malloc( sizeof(*run) ))) return -ENOMEM;
    run->start = 0;
    run->count = limit;
    awe_tree_insert( &frames->tree, &run->node, order_runs );
    return 0;
}

void awe_frames_destroy( struct awe_frames *frames )
{
    struct awe_tree_node *node;

    while ((node = frames->tree.root))
    {
        awe_tree_remove( &frames->tree, node );
        free( RUN(node) );
    }
    free( frames->spare );
    frames->spare = NULL;
    frames->in_use = 0;
}

uint64_t awe_frames_alloc( struct awe_frames *frames, uint64_t want, struct awe_frame_run *runs,
                           size_t max_runs, size_t *nruns )
{
    struct awe_tree_node *node;
    uint64_t got = 0;
    size_t n = 0;

    while (got < want && n < max_runs && (node = awe_tree_first( &frames->tree )))
    {
        struct free_run *run = RUN(node);
        uint32_t take = want - got < run->count ? (uint32_t)(want - got) : run->count;

        runs[n].start = run->start;
        runs[n].count = take;
        n++;
        /* the run shrinks from below and stays before its successor */
        run->start += take;
        run->count -= take;
        if (!run->count)
        {
            awe_tree_remove( &frames->tree, node );
            release_node( frames, run );
        }
        got += take;
    }
    frames->in_use += (uint32_t)got;
    *nruns = n;
    return got;
}

/* Returns the free run holding index, or NULL; *next receives the first free run after index. */
static struct free_run *find_free( const struct awe_frames *frames, uint32_t index,
                                   struct free_run **next )
{
    struct awe_tree_node *node = awe_tree_floor( &frames->tree, &index, compare_index );
    struct awe_tree_node *after = node ? awe_tree_next( node ) : awe_tree_first( &frames->tree );

    *next = after ? RUN(after) : NULL;
    return node && run_end( RUN(node) ) > index ? RUN(node) : NULL;
}

int awe_frames_release( struct awe_frames *frames, uint32_t start, uint32_t count )
{
    struct awe_tree_node *node = awe_tree_floor( &frames->tree, &start, compare_index );
    struct awe_tree_node *after = node ? awe_tree_next( node ) : awe_tree_first( &frames->tree );
    struct free_run *prev = node ? RUN(node) : NULL, *next = after ? RUN(after) : NULL, *run;
    int join_prev = prev && run_end( prev ) == start;
    int join_next = next && next->start == start + count;

    if (join_prev && join_next)
    {
        prev->count += count + next->count;
        awe_tree_remove( &frames->tree, &next->node );
        release_node( frames, next );
    }
    else if (join_prev) prev->count += count;
    else if (join_next)
    {
        next->start = start;
        next->count += count;
    }
    else
    {
        if (!(run = grab_node( frames ))) return -ENOMEM;
        run->start = start;
        run->count = count;
        awe_tree_insert( &frames->tree, &run->node, order_runs );
    }
    frames->in_use -= count;
    return 0;
}

int awe_frames_free( struct awe_frames *frames, const struct awe_pfn_layout *layout, uint32_t tag,
                     const uintptr_t *pfns, size_t count, size_t *freed )
{
    size_t done = 0;
    int ret = 0;

    while (done < count)
    {
        struct free_run *next;
        uint32_t t, index;
        size_t len = awe_pfn_run_length( layout, pfns + done, count - done ), ok;

        if (!len || awe_pfn_decode( layout, pfns[done], &t, &index ) || t != tag ||
            index >= frames->limit || find_free( frames, index, &next ))
        {
            ret = -EINVAL;
            break;
        }
        /* the entries are allocated up to the next free run or the end of the pool */
        ok = len;
        if (ok > frames->limit - index) ok = frames->limit - index;
        if (next && next->start - index < ok) ok = next->start - index;
        if ((ret = awe_frames_release( frames, index, (uint32_t)ok ))) break;
        done += ok;
        if (ok < len)
        {
            ret = -EINVAL;
            break;
        }
    }
    *freed = done;
    return ret;
}

int awe_frames_is_allocated( const struct awe_frames *frames, uint32_t index )
{
    struct free_run *next;
    return index < frames->limit && !find_free( frames, index, &next );
}

uint32_t awe_frames_span( const struct awe_frames *frames )
{
    struct awe_tree_node *node = awe_tree_last( &frames->tree );

    if (node && run_end( RUN(node) ) == frames->limit) return RUN(node)->start;
    return frames->limit;
}
