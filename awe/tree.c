/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intrusive AVL tree. */

#include <errno.h>
#include "awe/tree.h"

static inline int height( const struct awe_tree_node *node )
{
    return node ? node->height : 0;
}

static inline void update_height( struct awe_tree_node *node )
{
    int l = height( node->left ), r = height( node->right );
    node->height = (l > r ? l : r) + 1;
}

static void replace_child( struct awe_tree *tree, struct awe_tree_node *parent,
                           struct awe_tree_node *old, struct awe_tree_node *new )
{
    if (!parent) tree->root = new;
    else if (parent->left == old) parent->left = new;
    else parent->right = new;
}

static struct awe_tree_node *rotate_left( struct awe_tree *tree, struct awe_tree_node *x )
{
    struct awe_tree_node *y = x->right;

    x->right = y->left;
    if (y->left) y->left->parent = x;
    y->parent = x->parent;
    replace_child( tree, x->parent, x, y );
    y->left = x;
    x->parent = y;
    update_height( x );
    update_height( y );
    return y;
}

static struct awe_tree_node *rotate_right( struct awe_tree *tree, struct awe_tree_node *x )
{
    struct awe_tree_node *y = x->left;

    x->left = y->right;
    if (y->right) y->right->parent = x;
    y->parent = x->parent;
    replace_child( tree, x->parent, x, y );
    y->right = x;
    x->parent = y;
    update_height( x );
    update_height( y );
    return y;
}

/* Restores the AVL balance from node up to the root. */
static void rebalance( struct awe_tree *tree, struct awe_tree_node *node )
{
    while (node)
    {
        int balance = height( node->left ) - height( node->right );

        if (balance > 1)
        {
            if (height( node->left->left ) < height( node->left->right ))
                rotate_left( tree, node->left );
            node = rotate_right( tree, node );
        }
        else if (balance < -1)
        {
            if (height( node->right->right ) < height( node->right->left ))
                rotate_right( tree, node->right );
            node = rotate_left( tree, node );
        }
        else update_height( node );
        node = node->parent;
    }
}

void awe_tree_insert( struct awe_tree *tree, struct awe_tree_node *node, awe_tree_order order )
{
    struct awe_tree_node *parent = NULL, **link = &tree->root;

    while (*link)
    {
        parent = *link;
        link = order( node, parent ) < 0 ? &parent->left : &parent->right;
    }
    node->left = node->right = NULL;
    node->parent = parent;
    node->height = 1;
    *link = node;
    tree->count++;
    rebalance( tree, parent );
}

void awe_tree_remove( struct awe_tree *tree, struct awe_tree_node *node )
{
    struct awe_tree_node *start;

    if (node->left && node->right)
    {
        /* put the successor s (no left child) in node's place */
        struct awe_tree_node *s = node->right;
        while (s->left) s = s->left;

        if (s->parent != node)
        {
            start = s->parent;
            start->left = s->right;
            if (s->right) s->right->parent = start;
            s->right = node->right;
            node->right->parent = s;
        }
        else start = s;
        s->left = node->left;
        node->left->parent = s;
        s->parent = node->parent;
        replace_child( tree, node->parent, node, s );
        s->height = node->height;
    }
    else
    {
        struct awe_tree_node *child = node->left ? node->left : node->right;

        replace_child( tree, node->parent, node, child );
        if (child) child->parent = node->parent;
        start = node->parent;
    }
    tree->count--;
    rebalance( tree, start );
}

struct awe_tree_node *awe_tree_floor( const struct awe_tree *tree, const void *key,
                                      awe_tree_compare compare )
{
    struct awe_tree_node *node = tree->root, *best = NULL;

    while (node)
    {
        if (compare( key, node ) < 0) node = node->left;
        else
        {
            best = node;
            node = node->right;
        }
    }
    return best;
}

struct awe_tree_node *awe_tree_ceil( const struct awe_tree *tree, const void *key,
                                     awe_tree_compare compare )
{
    struct awe_tree_node *node = tree->root, *best = NULL;

    while (node)
    {
        if (compare( key, node ) > 0) node = node->right;
        else
        {
            best = node;
            node = node->left;
        }
    }
    return best;
}

struct awe_tree_node *awe_tree_first( const struct awe_tree *tree )
{
    struct awe_tree_node *node = tree->root;

    if (node) while (node->left) node = node->left;
    return node;
}

struct awe_tree_node *awe_tree_last( const struct awe_tree *tree )
{
    struct awe_tree_node *node = tree->root;

    if (node) while (node->right) node = node->right;
    return node;
}

struct awe_tree_node *awe_tree_next( const struct awe_tree_node *node )
{
    const struct awe_tree_node *parent;

    if (node->right)
    {
        node = node->right;
        while (node->left) node = node->left;
        return (struct awe_tree_node *)node;
    }
    while ((parent = node->parent) && parent->right == node) node = parent;
    return (struct awe_tree_node *)parent;
}

struct awe_tree_node *awe_tree_prev( const struct awe_tree_node *node )
{
    const struct awe_tree_node *parent;

    if (node->left)
    {
        node = node->left;
        while (node->right) node = node->right;
        return (struct awe_tree_node *)node;
    }
    while ((parent = node->parent) && parent->left == node) node = parent;
    return (struct awe_tree_node *)parent;
}

/* Returns the subtree's height, or -1 if an invariant is broken; counts its nodes. */
static int verify_subtree( const struct awe_tree_node *node, const struct awe_tree_node *parent,
                           size_t *count )
{
    int l, r;

    if (!node) return 0;
    if (node->parent != parent) return -1;
    if ((l = verify_subtree( node->left, node, count )) < 0) return -1;
    if ((r = verify_subtree( node->right, node, count )) < 0) return -1;
    if (l - r > 1 || r - l > 1) return -1;
    if (node->height != (l > r ? l : r) + 1) return -1;
    (*count)++;
    return node->height;
}

int awe_tree_verify( const struct awe_tree *tree, awe_tree_order order )
{
    const struct awe_tree_node *node, *prev = NULL;
    size_t count = 0;

    if (verify_subtree( tree->root, NULL, &count ) < 0 || count != tree->count) return -EUCLEAN;
    for (node = awe_tree_first( tree ); node; prev = node, node = awe_tree_next( node ))
        if (prev && order( prev, node ) > 0) return -EUCLEAN;
    return 0;
}
