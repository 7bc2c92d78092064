/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intrusive AVL tree: ordered sets of runs and regions with O(log n) updates.
 *
 * The caller embeds struct awe_tree_node in its objects and supplies the ordering on insert and
 * on lookup; the tree never allocates.  Keys may be changed in place as long as the order of
 * the nodes stays the same (the frame allocator grows and shrinks runs this way). */

#ifndef __AWE_TREE_H
#define __AWE_TREE_H

#include <stddef.h>

struct awe_tree_node
{
    struct awe_tree_node *left;      /* smaller keys */
    struct awe_tree_node *right;     /* larger keys */
    struct awe_tree_node *parent;    /* NULL at the root */
    int                   height;    /* of the subtree rooted here, leaves are 1 */
};

struct awe_tree
{
    struct awe_tree_node *root;
    size_t                count;     /* nodes in the tree */
};

/* Orders two nodes: < 0, 0 or > 0 as a sorts before, equal to or after b. */
typedef int (*awe_tree_order)( const struct awe_tree_node *a, const struct awe_tree_node *b );
/* Compares a key with a node: < 0, 0 or > 0 as the key sorts before, at or after the node. */
typedef int (*awe_tree_compare)( const void *key, const struct awe_tree_node *node );

#define AWE_TREE_ENTRY(node, type, field) \
    ((type *)((char *)(node) - offsetof(type, field)))

static inline void awe_tree_init( struct awe_tree *tree )
{
    tree->root = NULL;
    tree->count = 0;
}

/* Inserts node; nodes that order equal are kept in insertion order. */
extern void awe_tree_insert( struct awe_tree *tree, struct awe_tree_node *node, awe_tree_order order );
/* Removes a node that is in the tree. */
extern void awe_tree_remove( struct awe_tree *tree, struct awe_tree_node *node );
/* Returns the last node at or before key (the "floor"), or NULL. */
extern struct awe_tree_node *awe_tree_floor( const struct awe_tree *tree, const void *key,
                                             awe_tree_compare compare );
/* Returns the first node at or after key (the "ceiling"), or NULL. */
extern struct awe_tree_node *awe_tree_ceil( const struct awe_tree *tree, const void *key,
                                            awe_tree_compare compare );
/* In-order iteration; each returns NULL past the end. */
extern struct awe_tree_node *awe_tree_first( const struct awe_tree *tree );
extern struct awe_tree_node *awe_tree_last( const struct awe_tree *tree );
extern struct awe_tree_node *awe_tree_next( const struct awe_tree_node *node );
extern struct awe_tree_node *awe_tree_prev( const struct awe_tree_node *node );
/* Checks the AVL and ordering invariants; returns 0 or -EUCLEAN (used by the tests). */
extern int awe_tree_verify( const struct awe_tree *tree, awe_tree_order order );

#endif  /* __AWE_TREE_H */
