/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame-number codec: PID-tagged PFNs. */

#include <errno.h>
#include "awe/core.h"

int awe_pfn_layout_init( struct awe_pfn_layout *layout, unsigned int index_bits,
                         unsigned int tag_bits )
{
    /* each part on its own first: their sum must not wrap (a reply or option of ~0u) */
    if (!index_bits || !tag_bits || index_bits > AWE_PFN_MAX_BITS ||
        tag_bits > AWE_PFN_MAX_BITS - index_bits)
        return -EINVAL;
    layout->index_bits = index_bits;
    layout->tag_bits = tag_bits;
    return 0;
}

uint64_t awe_pfn_encode( const struct awe_pfn_layout *layout, uint32_t tag, uint32_t index )
{
    if (!tag || tag > awe_pfn_max_tag( layout ) || index >= awe_pfn_max_frames( layout )) return 0;
    return ((uint64_t)tag << layout->index_bits) | index;
}

int awe_pfn_decode( const struct awe_pfn_layout *layout, uint64_t pfn, uint32_t *tag,
                    uint32_t *index )
{
    uint64_t t = pfn >> layout->index_bits;

    if (!t || t > awe_pfn_max_tag( layout )) return -EINVAL;
    *tag = (uint32_t)t;
    *index = (uint32_t)(pfn & (awe_pfn_max_frames( layout ) - 1));
    return 0;
}

size_t awe_pfn_run_length( const struct awe_pfn_layout *layout, const uintptr_t *pfns,
                           size_t count )
{
    uint32_t tag, index;
    size_t n;

    if (!count || awe_pfn_decode( layout, pfns[0], &tag, &index )) return 0;
    /* consecutive PFNs of one tag are consecutive integers that stay inside the tag's range */
    for (n = 1; n < count; n++)
        if (pfns[n] != pfns[0] + n || index + n >= awe_pfn_max_frames( layout )) break;
    return n;
}
