/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handle table in shared memory: written by the server, read lock-free by clients. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "awe/shm.h"

/* Payload words of an entry, after the tag. */
enum
{
    WORD_OBJECT_ID,                 /* object_id */
    WORD_ACCESS,                    /* access | attributes << 32 */
    WORD_OWNER,                     /* owner_pid; bits 32-63 reserved, zero */
    WORD_DATA,                      /* data[0..3] */
    PAYLOAD_WORDS = WORD_DATA + 4
};

/* An entry as it sits in the table's pool: one 64-byte slot, written only by the server. */
struct handle_slot
{
    awe_atomic_u64   tag;                       /* live: type | slab generation << 16 (bits
                                                   48-63 zero); anything else means free or
                                                   being written (0 while the server writes);
                                                   stored last, with release */
    AWE_ALIGN8 awe_atomic_u64 payload[PAYLOAD_WORDS];  /* immutable while the tag is live */
};

_Static_assert( sizeof(struct handle_slot) == AWE_HANDLE_ENTRY_SIZE, "one slot per entry" );
AWE_LAYOUT_SIZE( struct handle_slot, 64 );
AWE_LAYOUT_OFFSET( struct handle_slot, payload, 8 );

#define TAG_TYPE_MASK 0xffffull
#define TAG_GEN_SHIFT 16

/* A table: the pool is the whole state; its private generations say which handles are live. */
struct awe_handle_table
{
    struct awe_slab *slab;          /* entries; handle index = slot index */
};

/* Maps a slab generation (odd while allocated, +2 per reuse) to a handle generation, cycling
 * through 1..AWE_HANDLE_GEN_MAX so consecutive uses of a slot get different handles. */
static uint32_t handle_gen( uint32_t slab_gen )
{
    return (slab_gen >> 1) % AWE_HANDLE_GEN_MAX + 1;
}

static uint64_t make_tag( uint32_t type, uint32_t slab_gen )
{
    return type | ((uint64_t)slab_gen << TAG_GEN_SHIFT);
}

/* Returns non-zero when tag is the live tag of some entry whose handle generation is gen.
 * Poison patterns, 0 and free tags never match: their high bits are not zero, or their type
 * is 0, or their slab generation is even. */
static int tag_is_live( uint64_t tag, uint32_t gen )
{
    uint32_t slab_gen = (uint32_t)(tag >> TAG_GEN_SHIFT);

    if (!(tag & TAG_TYPE_MASK) || (tag >> 48) || !(slab_gen & 1)) return 0;
    return handle_gen( slab_gen ) == gen;
}

static void unpack_entry( uint64_t tag, const uint64_t *words, struct awe_handle_entry *entry )
{
    int i;

    entry->object_id = words[WORD_OBJECT_ID];
    entry->type = tag & TAG_TYPE_MASK;
    entry->access = (uint32_t)words[WORD_ACCESS];
    entry->attributes = (uint32_t)(words[WORD_ACCESS] >> 32);
    entry->owner_pid = (uint32_t)words[WORD_OWNER];
    for (i = 0; i < 4; i++) entry->data[i] = words[WORD_DATA + i];
}

int awe_handle_table_create( uint32_t max_handles, struct awe_handle_table **ret )
{
    struct awe_handle_table *table;
    int err;

    if (!max_handles || max_handles > AWE_HANDLE_MAX_HANDLES) return -EINVAL;
    if (!(table = calloc( 1, sizeof(*table) ))) return -ENOMEM;
    if ((err = awe_slab_create( AWE_HANDLE_ENTRY_SIZE, max_handles, 0, &table->slab )))
    {
        free( table );
        return err;
    }
    *ret = table;
    return 0;
}

void awe_handle_table_destroy( struct awe_handle_table *table )
{
    if (!table) return;
    awe_slab_destroy( table->slab );
    free( table );
}

int awe_handle_table_client_fd( const struct awe_handle_table *table )
{
    return awe_slab_client_fd( table->slab );
}

void awe_handle_table_geometry( const struct awe_handle_table *table, struct awe_slab_geometry *geo )
{
    awe_slab_geometry( table->slab, geo );
}

/* Finds the slot of a live handle in the server's mapping.  Returns 0, -EINVAL or -ESTALE. */
static int find_live_slot( const struct awe_handle_table *table, uint32_t handle,
                           uint32_t *index, struct handle_slot **slot )
{
    uint32_t gen, slab_gen;
    int err;

    if ((err = awe_handle_decode( handle, index, &gen ))) return err;
    if (*index >= awe_slab_capacity( table->slab )) return -EINVAL;
    slab_gen = awe_slab_generation( table->slab, *index );
    if (!(slab_gen & 1) || handle_gen( slab_gen ) != gen) return -ESTALE;
    *slot = awe_slab_slot( table->slab, *index );
    assert( *slot );
    return 0;
}

int awe_handle_alloc( struct awe_handle_table *table, const struct awe_handle_entry *entry,
                      uint32_t *handle )
{
    uint64_t words[PAYLOAD_WORDS];
    struct handle_slot *slot;
    uint32_t index, slab_gen;
    void *ptr;
    int i, err;

    if (!entry->type || entry->type > AWE_HANDLE_TYPE_MAX) return -EINVAL;
    if ((err = awe_slab_alloc( table->slab, &index, &ptr ))) return err;
    slot = ptr;
    slab_gen = awe_slab_generation( table->slab, index );

    words[WORD_OBJECT_ID] = entry->object_id;
    words[WORD_ACCESS] = entry->access | ((uint64_t)entry->attributes << 32);
    words[WORD_OWNER] = entry->owner_pid;
    for (i = 0; i < 4; i++) words[WORD_DATA + i] = entry->data[i];

    /* tag 0 then a release fence: a reader still copying this slot's previous contents (its
     * poison, in debug builds) and seeing any store below reloads a tag that cannot match */
    awe_seq_begin_store( &slot->tag, 0 );
    awe_shared_store64( slot->payload, words, PAYLOAD_WORDS );
    /* release: the payload is visible to whoever acquire-loads the live tag */
    awe_seq_end_store( &slot->tag, make_tag( entry->type, slab_gen ) );

    *handle = awe_handle_encode( index, handle_gen( slab_gen ) );
    return 0;
}

int awe_handle_free( struct awe_handle_table *table, uint32_t handle )
{
    struct handle_slot *slot;
    uint32_t index;
    int err;

    if ((err = find_live_slot( table, handle, &index, &slot ))) return err;
    /* retire before any reuse: tag 0, then a release fence so that the payload stores of the
     * slot's next use (or its poison) can only be seen together with a dead tag */
    awe_seq_begin_store( &slot->tag, 0 );
    return awe_slab_free( table->slab, index );
}

int awe_handle_get( const struct awe_handle_table *table, uint32_t handle,
                    struct awe_handle_entry *entry )
{
    uint64_t words[PAYLOAD_WORDS];
    struct handle_slot *slot;
    uint32_t index;
    int err;

    if ((err = find_live_slot( table, handle, &index, &slot ))) return err;
    /* the server is the only writer: its own stores are read back relaxed */
    awe_shared_load64( words, slot->payload, PAYLOAD_WORDS );
    unpack_entry( atomic_load_explicit( &slot->tag, memory_order_relaxed ), words, entry );
    return 0;
}

int awe_handle_lookup( struct awe_slab_view *view, uint32_t handle, struct awe_handle_entry *entry )
{
    struct awe_slab_geometry geo;
    const struct handle_slot *slot;
    uint64_t words[PAYLOAD_WORDS], tag;
    uint32_t index, gen;
    int err;

    if ((err = awe_handle_decode( handle, &index, &gen ))) return err;
    awe_slab_view_geometry( view, &geo );
    if (geo.slot_size != AWE_HANDLE_ENTRY_SIZE || geo.flags) return -EINVAL;
    if (!(slot = awe_slab_view_slot( view, index ))) return -EINVAL;

    /* acquire: pairs with the release store of the live tag, so the payload loads below see
     * the payload published with it (or later stores, which the recheck catches) */
    tag = awe_seq_read_begin( &slot->tag );
    if (!tag_is_live( tag, gen )) return -ESTALE;
    awe_shared_load64( words, slot->payload, PAYLOAD_WORDS );
    /* entries never change while live: a different tag now (even a live one) means the handle
     * was closed during the copy, which is what we report; no retry can bring it back */
    if (awe_seq_read_retry( &slot->tag, tag )) return -ESTALE;
    unpack_entry( tag, words, entry );
    return 0;
}
