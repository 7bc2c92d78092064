/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Conformance tests: NTSTATUS to Win32 error conversion (awe-spec.md section 1.3).
 *
 * Builds for Windows too, against ntdll's RtlNtStatusToDosError. */

#ifdef _WIN32
# include <ntstatus.h>
# define WIN32_NO_STATUS
# include <windows.h>
# include <winternl.h>
#else
# include "awe.h"
#endif
#include "test.h"

static void test_awe_statuses(void)
{
    static const struct { NTSTATUS status; ULONG error; const char *name; } tests[] =
    {
        { STATUS_INVALID_PARAMETER,       ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER" },
        { STATUS_INVALID_PARAMETER_1,     ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER_1" },
        { STATUS_INVALID_PARAMETER_2,     ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER_2" },
        { STATUS_INVALID_PARAMETER_3,     ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER_3" },
        { STATUS_INVALID_PARAMETER_5,     ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER_5" },
        { STATUS_INVALID_PARAMETER_6,     ERROR_INVALID_PARAMETER,   "INVALID_PARAMETER_6" },
        { STATUS_INVALID_PAGE_PROTECTION, ERROR_INVALID_PARAMETER,   "INVALID_PAGE_PROTECTION" },
        { STATUS_INCOMPATIBLE_FILE_MAP,   ERROR_INVALID_PARAMETER,   "INCOMPATIBLE_FILE_MAP" },
        { STATUS_UNABLE_TO_FREE_VM,       ERROR_INVALID_PARAMETER,   "UNABLE_TO_FREE_VM" },
        { STATUS_CONFLICTING_ADDRESSES,   ERROR_INVALID_ADDRESS,     "CONFLICTING_ADDRESSES" },
        { STATUS_FREE_VM_NOT_AT_BASE,     ERROR_INVALID_ADDRESS,     "FREE_VM_NOT_AT_BASE" },
        { STATUS_MEMORY_NOT_ALLOCATED,    ERROR_INVALID_ADDRESS,     "MEMORY_NOT_ALLOCATED" },
        { STATUS_NOT_MAPPED_VIEW,         ERROR_INVALID_ADDRESS,     "NOT_MAPPED_VIEW" },
        { STATUS_ACCESS_VIOLATION,        ERROR_NOACCESS,            "ACCESS_VIOLATION" },
        { STATUS_DATATYPE_MISALIGNMENT,   ERROR_NOACCESS,            "DATATYPE_MISALIGNMENT" },
        { STATUS_INVALID_HANDLE,          ERROR_INVALID_HANDLE,      "INVALID_HANDLE" },
        { STATUS_OBJECT_TYPE_MISMATCH,    ERROR_INVALID_HANDLE,      "OBJECT_TYPE_MISMATCH" },
        { STATUS_ACCESS_DENIED,           ERROR_ACCESS_DENIED,       "ACCESS_DENIED" },
        { STATUS_PROCESS_IS_TERMINATING,  ERROR_ACCESS_DENIED,       "PROCESS_IS_TERMINATING" },
        { STATUS_PRIVILEGE_NOT_HELD,      ERROR_PRIVILEGE_NOT_HELD,  "PRIVILEGE_NOT_HELD" },
        { STATUS_INSUFFICIENT_RESOURCES,  ERROR_NO_SYSTEM_RESOURCES, "INSUFFICIENT_RESOURCES" },
        { STATUS_COMMITMENT_LIMIT,        ERROR_COMMITMENT_LIMIT,    "COMMITMENT_LIMIT" },
        { STATUS_NO_MEMORY,               ERROR_NOT_ENOUGH_MEMORY,   "NO_MEMORY" },
        { STATUS_NOT_IMPLEMENTED,         ERROR_INVALID_FUNCTION,    "NOT_IMPLEMENTED" },
        { STATUS_NOT_SUPPORTED,           ERROR_NOT_SUPPORTED,       "NOT_SUPPORTED" },
        { STATUS_NOT_ALL_ASSIGNED,        ERROR_NOT_ALL_ASSIGNED,    "NOT_ALL_ASSIGNED" },
        /* what the library answers when its server does not answer, or is gone */
        { STATUS_IO_TIMEOUT,              ERROR_SEM_TIMEOUT,         "IO_TIMEOUT" },
        { STATUS_PIPE_BROKEN,             ERROR_BROKEN_PIPE,         "PIPE_BROKEN" },
    };
    unsigned int i;
    ULONG err;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
    {
        winetest_push_context( "STATUS_%s", tests[i].name );
        err = RtlNtStatusToDosError( tests[i].status );
        ok( err == tests[i].error, "got %lu, expected %lu\n", (unsigned long)err,
            (unsigned long)tests[i].error );
        winetest_pop_context();
    }
}

static void test_success_and_win32_facility(void)
{
    ULONG err;

    err = RtlNtStatusToDosError( STATUS_SUCCESS );
    ok( err == ERROR_SUCCESS, "got %lu\n", (unsigned long)err );
    err = RtlNtStatusToDosError( (NTSTATUS)0xC0070005 );
    ok( err == ERROR_ACCESS_DENIED, "got %lu\n", (unsigned long)err );
    err = RtlNtStatusToDosError( (NTSTATUS)0xE0000123 );
    ok( err == 0xE0000123, "customer status: got %#lx\n", (unsigned long)err );
}

START_TEST(status)
{
    test_awe_statuses();
    test_success_and_win32_facility();
}
