/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the intrusive AVL tree, against a sorted array. */

#include <errno.h>
#include "awe/tree.h"
#include "awe_check.h"

struct item
{
    struct awe_tree_node node;
    unsigned int key;
    unsigned int serial;      /* insertion order, to check that equal keys keep it */
};

#define ITEM(n) AWE_TREE_ENTRY( n, struct item, node )

static int order_items( const struct awe_tree_node *a, const struct awe_tree_node *b )
{
    return ITEM(a)->key < ITEM(b)->key ? -1 : ITEM(a)->key > ITEM(b)->key;
}

static int compare_key( const void *key, const struct awe_tree_node *node )
{
    unsigned int k = *(const unsigned int *)key;
    return k < ITEM(node)->key ? -1 : k > ITEM(node)->key;
}

static unsigned int lcg( unsigned int *state )
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

START_TEST(test_empty)
{
    struct awe_tree tree;
    unsigned int key = 5;

    awe_tree_init( &tree );
    ck_assert_ptr_null( awe_tree_first( &tree ) );
    ck_assert_ptr_null( awe_tree_last( &tree ) );
    ck_assert_ptr_null( awe_tree_floor( &tree, &key, compare_key ) );
    ck_assert_ptr_null( awe_tree_ceil( &tree, &key, compare_key ) );
    ck_assert_int_eq( awe_tree_verify( &tree, order_items ), 0 );
}
END_TEST

START_TEST(test_floor_ceil)
{
    struct item items[5];
    struct awe_tree tree;
    unsigned int i, key;

    awe_tree_init( &tree );
    for (i = 0; i < 5; i++)
    {
        items[i].key = 10 * (i + 1);      /* 10 20 30 40 50 */
        awe_tree_insert( &tree, &items[i].node, order_items );
    }
    key = 25;
    ck_assert_uint_eq( ITEM(awe_tree_floor( &tree, &key, compare_key ))->key, 20 );
    ck_assert_uint_eq( ITEM(awe_tree_ceil( &tree, &key, compare_key ))->key, 30 );
    key = 30;
    ck_assert_uint_eq( ITEM(awe_tree_floor( &tree, &key, compare_key ))->key, 30 );
    ck_assert_uint_eq( ITEM(awe_tree_ceil( &tree, &key, compare_key ))->key, 30 );
    key = 5;
    ck_assert_ptr_null( awe_tree_floor( &tree, &key, compare_key ) );
    key = 55;
    ck_assert_ptr_null( awe_tree_ceil( &tree, &key, compare_key ) );
    ck_assert_uint_eq( ITEM(awe_tree_prev( &items[2].node ))->key, 20 );
    ck_assert_uint_eq( ITEM(awe_tree_next( &items[2].node ))->key, 40 );
}
END_TEST

START_TEST(test_equal_keys_keep_order)
{
    struct item items[6];
    struct awe_tree tree;
    struct awe_tree_node *node;
    unsigned int i;

    awe_tree_init( &tree );
    for (i = 0; i < 6; i++)
    {
        items[i].key = i % 2;
        items[i].serial = i;
        awe_tree_insert( &tree, &items[i].node, order_items );
    }
    node = awe_tree_first( &tree );
    for (i = 0; i < 6; i++, node = awe_tree_next( node ))
    {
        ck_assert_uint_eq( ITEM(node)->key, i / 3 );
        ck_assert_uint_eq( ITEM(node)->serial, (i % 3) * 2 + i / 3 );
    }
    ck_assert_ptr_null( node );
}
END_TEST

/* Random inserts and removals against a presence array; invariants after every step. */
START_TEST(test_random_against_array)
{
    enum { N = 2000 };
    static struct item items[N];
    static unsigned char present[N];
    struct awe_tree tree;
    unsigned int seed = 12345, step, steps = awe_test_slow_tool() ? 6000 : 40000;
    size_t count = 0;

    memset( present, 0, sizeof(present) );
    awe_tree_init( &tree );
    for (step = 0; step < steps; step++)
    {
        unsigned int k = lcg( &seed ) % N, key;
        struct awe_tree_node *node;

        if (present[k])
        {
            awe_tree_remove( &tree, &items[k].node );
            present[k] = 0;
            count--;
        }
        else
        {
            items[k].key = k;
            awe_tree_insert( &tree, &items[k].node, order_items );
            present[k] = 1;
            count++;
        }
        ck_assert_uint_eq( tree.count, count );
        if (step % 97 == 0) ck_assert_int_eq( awe_tree_verify( &tree, order_items ), 0 );

        key = lcg( &seed ) % N;
        node = awe_tree_floor( &tree, &key, compare_key );
        {
            int expect = (int)key;
            while (expect >= 0 && !present[expect]) expect--;
            if (expect < 0) ck_assert_ptr_null( node );
            else ck_assert_uint_eq( ITEM(node)->key, (unsigned int)expect );
        }
    }
    ck_assert_int_eq( awe_tree_verify( &tree, order_items ), 0 );
}
END_TEST

START_TEST(test_verify_detects_damage)
{
    struct item items[3];
    struct awe_tree tree;
    unsigned int i;

    awe_tree_init( &tree );
    for (i = 0; i < 3; i++)
    {
        items[i].key = i;
        awe_tree_insert( &tree, &items[i].node, order_items );
    }
    ck_assert_int_eq( awe_tree_verify( &tree, order_items ), 0 );
    items[0].key = 7;                 /* breaks the order */
    ck_assert_int_eq( awe_tree_verify( &tree, order_items ), -EUCLEAN );
    items[0].key = 0;
    tree.count++;
    ck_assert_int_eq( awe_tree_verify( &tree, order_items ), -EUCLEAN );
}
END_TEST

AWE_DEFINE_SUITE(tree)
{
    Suite *s = suite_create( "tree" );
    TCase *core = tcase_create( "core" ), *model = tcase_create( "model" );

    tcase_add_test( core, test_empty );
    tcase_add_test( core, test_floor_ceil );
    tcase_add_test( core, test_equal_keys_keep_order );
    tcase_add_test( core, test_verify_detects_damage );
    tcase_add_test( model, test_random_against_array );
    tcase_set_timeout( model, 60 );
    suite_add_tcase( s, core );
    suite_add_tcase( s, model );
    return s;
}
