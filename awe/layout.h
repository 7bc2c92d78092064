/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixed layouts: the types of messages and shared memory that 32- and 64-bit processes share.
 *
 * A 64-bit server serves 32-bit (i386) clients too, so every structure on the wire or in shared
 * memory must have one layout on both ABIs.  i386 aligns a plain uint64_t struct field to 4
 * bytes, x86_64 to 8; so 64-bit fields of those structures are awe_u64 / awe_atomic_u64,
 * aligned to 8 everywhere, and each structure carries AWE_LAYOUT_SIZE and AWE_LAYOUT_OFFSET
 * checks with the numbers of the one layout, so a build of either ABI fails if it differs.
 * docs/design.md ("32-bit clients") states the rule. */

#ifndef __AWE_LAYOUT_H
#define __AWE_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t awe_u64 __attribute__((aligned(8)));                  /* 8-aligned on i386 too */
typedef _Atomic uint64_t awe_atomic_u64 __attribute__((aligned(8)));   /* the same, atomic */

/* An array field of awe_atomic_u64 takes this too: GCC keeps the alignment either way, but
 * without it notes that i386 changed the alignment of _Atomic 64-bit fields in GCC 11.1. */
#define AWE_ALIGN8 _Alignas(8)

_Static_assert( _Alignof(awe_u64) == 8 && sizeof(awe_u64) == 8, "awe_u64 is 8-aligned" );
_Static_assert( _Alignof(awe_atomic_u64) == 8 && sizeof(awe_atomic_u64) == 8,
                "awe_atomic_u64 is 8-aligned" );

/* Shared words are read with plain atomic loads from PROT_READ mappings and changed with one
 * compare-and-swap: on i386 an 8-byte atomic load or store is one x87 or SSE move (fildll,
 * movq; never a cmpxchg8b, which would fault on a read-only page) and a CAS is cmpxchg8b, all
 * atomic only when the word is 8-aligned, which awe_u64 and awe_atomic_u64 are.  A plain
 * uint64_t * is only 4-aligned there: atomics go through awe_u64 pointers. */
_Static_assert( __atomic_always_lock_free( sizeof(uint64_t), 0 ), "8-byte atomics are lock-free" );
_Static_assert( __atomic_always_lock_free( sizeof(uint32_t), 0 ), "4-byte atomics are lock-free" );

/* The layout checks: sizes and offsets as numbers, the same on every ABI. */
#define AWE_LAYOUT_SIZE( type, size ) \
    _Static_assert( sizeof(type) == (size), "layout of " #type ": size" )
#define AWE_LAYOUT_OFFSET( type, field, offset ) \
    _Static_assert( offsetof(type, field) == (offset), "layout of " #type ": offset of " #field )

#endif  /* __AWE_LAYOUT_H */
