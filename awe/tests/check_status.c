/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the NTSTATUS to Win32 error table. */

#include "awe/status.h"
#include "awe_check.h"

/* awe-spec.md section 1.3, row by row. */
static const struct { NTSTATUS status; uint32_t error; } spec_rows[] =
{
    { (NTSTATUS)0xC000000D, 87 },   { (NTSTATUS)0xC00000EF, 87 },   { (NTSTATUS)0xC00000F0, 87 },
    { (NTSTATUS)0xC00000F1, 87 },   { (NTSTATUS)0xC00000F2, 87 },   { (NTSTATUS)0xC00000F3, 87 },
    { (NTSTATUS)0xC00000F4, 87 },   { (NTSTATUS)0xC0000045, 87 },   { (NTSTATUS)0xC000004D, 87 },
    { (NTSTATUS)0xC000001A, 87 },   { (NTSTATUS)0xC0000018, 487 },  { (NTSTATUS)0xC000009F, 487 },
    { (NTSTATUS)0xC00000A0, 487 },  { (NTSTATUS)0xC0000019, 487 },  { (NTSTATUS)0xC0000005, 998 },
    { (NTSTATUS)0x80000002, 998 },  { (NTSTATUS)0xC0000008, 6 },    { (NTSTATUS)0xC0000024, 6 },
    { (NTSTATUS)0xC0000022, 5 },    { (NTSTATUS)0xC000010A, 5 },    { (NTSTATUS)0xC0000061, 1314 },
    { (NTSTATUS)0xC000009A, 1450 }, { (NTSTATUS)0xC000012D, 1455 }, { (NTSTATUS)0xC0000017, 8 },
    { (NTSTATUS)0xC0000002, 1 },    { (NTSTATUS)0xC00000BB, 50 },
};

START_TEST(test_spec_table)
{
    size_t i;
    for (i = 0; i < sizeof(spec_rows) / sizeof(spec_rows[0]); i++)
        ck_assert_msg( awe_ntstatus_to_win32( spec_rows[i].status ) == spec_rows[i].error,
                       "status %#x: got %u, expected %u", (unsigned)spec_rows[i].status,
                       awe_ntstatus_to_win32( spec_rows[i].status ), spec_rows[i].error );
}
END_TEST

START_TEST(test_success_and_unknown)
{
    ck_assert_uint_eq( awe_ntstatus_to_win32( STATUS_SUCCESS ), ERROR_SUCCESS );
    ck_assert_uint_eq( awe_ntstatus_to_win32( STATUS_NOT_ALL_ASSIGNED ), ERROR_NOT_ALL_ASSIGNED );
    /* not in the table */
    ck_assert_uint_eq( awe_ntstatus_to_win32( (NTSTATUS)0xC0001234 ), ERROR_MR_MID_NOT_FOUND );
    ck_assert_uint_eq( awe_ntstatus_to_win32( (NTSTATUS)0x00000001 ), ERROR_MR_MID_NOT_FOUND );
}
END_TEST

START_TEST(test_facility_and_customer)
{
    /* FACILITY_WIN32 statuses carry the Win32 code in their low word */
    ck_assert_uint_eq( awe_ntstatus_to_win32( (NTSTATUS)0xC0070005 ), 5 );
    ck_assert_uint_eq( awe_ntstatus_to_win32( (NTSTATUS)0x800705B4 ), 1460 );
    /* customer-defined statuses pass through unchanged */
    ck_assert_uint_eq( awe_ntstatus_to_win32( (NTSTATUS)0xE0000123 ), 0xE0000123 );
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq( awe_ntstatus_name( STATUS_CONFLICTING_ADDRESSES ), "STATUS_CONFLICTING_ADDRESSES" );
    ck_assert_str_eq( awe_ntstatus_name( STATUS_INVALID_PARAMETER_2 ), "STATUS_INVALID_PARAMETER_2" );
    ck_assert_ptr_null( awe_ntstatus_name( (NTSTATUS)0xC0001234 ) );
}
END_TEST

/* Every status the table knows has a name that matches its class. */
START_TEST(test_names_for_every_spec_row)
{
    size_t i;
    for (i = 0; i < sizeof(spec_rows) / sizeof(spec_rows[0]); i++)
    {
        const char *name = awe_ntstatus_name( spec_rows[i].status );
        ck_assert_ptr_nonnull( name );
        ck_assert( !strncmp( name, "STATUS_", 7 ) );
    }
}
END_TEST

AWE_DEFINE_SUITE(status)
{
    Suite *s = suite_create( "status" );
    TCase *tc = tcase_create( "core" );

    tcase_add_test( tc, test_spec_table );
    tcase_add_test( tc, test_success_and_unknown );
    tcase_add_test( tc, test_facility_and_customer );
    tcase_add_test( tc, test_names );
    tcase_add_test( tc, test_names_for_every_spec_row );
    suite_add_tcase( s, tc );
    return s;
}
