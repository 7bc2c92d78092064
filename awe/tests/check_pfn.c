/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the PID-tagged frame-number codec. */

#include <errno.h>
#include "awe/core.h"
#include "awe_check.h"

static struct awe_pfn_layout default_layout( void )
{
    struct awe_pfn_layout layout;
    ck_assert_int_eq( awe_pfn_layout_init( &layout, AWE_PFN_DEFAULT_INDEX_BITS,
                                           AWE_PFN_DEFAULT_TAG_BITS ), 0 );
    return layout;
}

START_TEST(test_layout_limits)
{
    struct awe_pfn_layout layout;

    POISON(layout);
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 21, 10 ), 0 );
    ck_assert_uint_eq( layout.index_bits, 21 );
    ck_assert_uint_eq( layout.tag_bits, 10 );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 30, 1 ), 0 );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 1, 30 ), 0 );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 21, 11 ), -EINVAL );   /* 32 bits */
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 0, 10 ), -EINVAL );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 21, 0 ), -EINVAL );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 40, 40 ), -EINVAL );
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 0xfffffffbu, 6 ), -EINVAL );   /* sum wraps to 1 */
    ck_assert_int_eq( awe_pfn_layout_init( &layout, 6, 0xfffffffbu ), -EINVAL );
}
END_TEST

START_TEST(test_default_layout_below_2_31)
{
    struct awe_pfn_layout layout = default_layout();
    uint64_t top = awe_pfn_encode( &layout, awe_pfn_max_tag( &layout ),
                                   awe_pfn_max_frames( &layout ) - 1 );

    ck_assert_uint_eq( awe_pfn_max_frames( &layout ), 1u << 21 );
    ck_assert_uint_eq( awe_pfn_max_tag( &layout ), 1023 );
    ck_assert_uint_eq( top, 0x7fffffff );
    ck_assert_uint_lt( top, (uint64_t)1 << 31 );
    /* the smallest PFN is frame 0 of tag 1: never 0 */
    ck_assert_uint_eq( awe_pfn_encode( &layout, 1, 0 ), 1u << 21 );
}
END_TEST

START_TEST(test_roundtrip)
{
    struct awe_pfn_layout layout = default_layout();
    static const uint32_t tags[] = { 1, 2, 77, 1023 };
    static const uint32_t indices[] = { 0, 1, 4095, (1u << 21) - 1 };
    uint32_t tag, index;
    size_t i, j;

    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
        {
            uint64_t pfn = awe_pfn_encode( &layout, tags[i], indices[j] );
            ck_assert_uint_ne( pfn, 0 );
            POISON(tag);
            POISON(index);
            ck_assert_int_eq( awe_pfn_decode( &layout, pfn, &tag, &index ), 0 );
            ck_assert_uint_eq( tag, tags[i] );
            ck_assert_uint_eq( index, indices[j] );
        }
}
END_TEST

START_TEST(test_encode_rejects)
{
    struct awe_pfn_layout layout = default_layout();

    ck_assert_uint_eq( awe_pfn_encode( &layout, 0, 5 ), 0 );
    ck_assert_uint_eq( awe_pfn_encode( &layout, 1024, 5 ), 0 );
    ck_assert_uint_eq( awe_pfn_encode( &layout, 1, 1u << 21 ), 0 );
}
END_TEST

START_TEST(test_decode_rejects_malformed)
{
    struct awe_pfn_layout layout = default_layout();
    static const uint64_t bad[] =
    {
        0,                                  /* "unmap" in Scatter, never a frame */
        1, 0x1fffff,                        /* tag 0 */
        (uint64_t)1 << 31,                  /* above the width */
        0x80200000,                         /* valid PFN with bit 31 set (WOW64 read-only flag) */
        ((uint64_t)1 << 63) | (1u << 21),   /* valid PFN with bit 63 set */
        ~(uint64_t)0,
        0xdead0000 | ((uint64_t)1 << 40),
    };
    uint32_t tag = 0x55, index = 0x66;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        ck_assert_msg( awe_pfn_decode( &layout, bad[i], &tag, &index ) == -EINVAL,
                       "pfn %#llx decoded", (unsigned long long)bad[i] );
        ck_assert_uint_eq( tag, 0x55 );      /* outputs untouched on failure */
        ck_assert_uint_eq( index, 0x66 );
    }
}
END_TEST

START_TEST(test_small_layout)
{
    struct awe_pfn_layout layout;
    uint32_t tag, index;

    ck_assert_int_eq( awe_pfn_layout_init( &layout, 4, 2 ), 0 );
    ck_assert_uint_eq( awe_pfn_encode( &layout, 3, 15 ), 63 );
    ck_assert_int_eq( awe_pfn_decode( &layout, 64, &tag, &index ), -EINVAL );
    ck_assert_int_eq( awe_pfn_decode( &layout, 17, &tag, &index ), 0 );
    ck_assert_uint_eq( tag, 1 );
    ck_assert_uint_eq( index, 1 );
}
END_TEST

START_TEST(test_run_length)
{
    struct awe_pfn_layout layout;
    uintptr_t p[8];
    uint32_t base;

    ck_assert_int_eq( awe_pfn_layout_init( &layout, 4, 3 ), 0 );
    base = (uint32_t)awe_pfn_encode( &layout, 1, 12 );
    p[0] = base; p[1] = base + 1; p[2] = base + 2; p[3] = base + 3;   /* index 12..15 */
    p[4] = base + 4;                                                  /* tag 2 index 0 */
    ck_assert_uint_eq( awe_pfn_run_length( &layout, p, 5 ), 4 );      /* stops at the tag edge */
    ck_assert_uint_eq( awe_pfn_run_length( &layout, p, 2 ), 2 );
    p[1] = base + 2;
    ck_assert_uint_eq( awe_pfn_run_length( &layout, p, 5 ), 1 );
    p[0] = 0;
    ck_assert_uint_eq( awe_pfn_run_length( &layout, p, 5 ), 0 );
    ck_assert_uint_eq( awe_pfn_run_length( &layout, p, 0 ), 0 );
}
END_TEST

AWE_DEFINE_SUITE(pfn)
{
    Suite *s = suite_create( "pfn" );
    TCase *core = tcase_create( "core" ), *limits = tcase_create( "limits" );
    TCase *errors = tcase_create( "errors" );

    tcase_add_test( core, test_roundtrip );
    tcase_add_test( core, test_run_length );
    tcase_add_test( limits, test_layout_limits );
    tcase_add_test( limits, test_default_layout_below_2_31 );
    tcase_add_test( limits, test_small_layout );
    tcase_add_test( errors, test_encode_rejects );
    tcase_add_test( errors, test_decode_rejects_malformed );
    suite_add_tcase( s, core );
    suite_add_tcase( s, limits );
    suite_add_tcase( s, errors );
    return s;
}
