/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NTSTATUS values and Win32 error codes used by the AWE subsystem, and the mapping between them.
 *
 * The values are those of the Windows SDK (ntstatus.h, winerror.h); the mapping is the one
 * RtlNtStatusToDosError performs (see ../shared/awe-spec.md section 1.3).  This header may be
 * included together with the Windows-shaped <awe.h>: every name is guarded. */

#ifndef __AWE_STATUS_H
#define __AWE_STATUS_H

#include <stdint.h>

#ifndef AWE_NTSTATUS_DEFINED
#define AWE_NTSTATUS_DEFINED
typedef int32_t NTSTATUS;
#endif

#ifndef NT_SUCCESS
#define NT_SUCCESS(status) (((NTSTATUS)(status)) >= 0)
#endif

/* NTSTATUS values (ntstatus.h). */
#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS                    ((NTSTATUS)0x00000000)
#define STATUS_PENDING                    ((NTSTATUS)0x00000103)
#define STATUS_NOT_ALL_ASSIGNED           ((NTSTATUS)0x00000106)
#define STATUS_DATATYPE_MISALIGNMENT      ((NTSTATUS)0x80000002)
#define STATUS_NOT_IMPLEMENTED            ((NTSTATUS)0xC0000002)
#define STATUS_INVALID_INFO_CLASS         ((NTSTATUS)0xC0000003)
#define STATUS_INFO_LENGTH_MISMATCH       ((NTSTATUS)0xC0000004)
#define STATUS_ACCESS_VIOLATION           ((NTSTATUS)0xC0000005)
#define STATUS_INVALID_HANDLE             ((NTSTATUS)0xC0000008)
#define STATUS_INVALID_CID                ((NTSTATUS)0xC000000B)
#define STATUS_INVALID_PARAMETER          ((NTSTATUS)0xC000000D)
#define STATUS_NO_MEMORY                  ((NTSTATUS)0xC0000017)
#define STATUS_CONFLICTING_ADDRESSES      ((NTSTATUS)0xC0000018)
#define STATUS_NOT_MAPPED_VIEW            ((NTSTATUS)0xC0000019)
#define STATUS_UNABLE_TO_FREE_VM          ((NTSTATUS)0xC000001A)
#define STATUS_ACCESS_DENIED              ((NTSTATUS)0xC0000022)
#define STATUS_BUFFER_TOO_SMALL           ((NTSTATUS)0xC0000023)
#define STATUS_OBJECT_TYPE_MISMATCH       ((NTSTATUS)0xC0000024)
#define STATUS_NOT_COMMITTED              ((NTSTATUS)0xC000002D)
#define STATUS_INVALID_PAGE_PROTECTION    ((NTSTATUS)0xC0000045)
#define STATUS_MUTANT_NOT_OWNED           ((NTSTATUS)0xC0000046)
#define STATUS_SEMAPHORE_LIMIT_EXCEEDED   ((NTSTATUS)0xC0000047)
#define STATUS_INCOMPATIBLE_FILE_MAP      ((NTSTATUS)0xC000004D)
#define STATUS_NO_SUCH_PRIVILEGE          ((NTSTATUS)0xC0000060)
#define STATUS_PRIVILEGE_NOT_HELD         ((NTSTATUS)0xC0000061)
#define STATUS_INSUFFICIENT_RESOURCES     ((NTSTATUS)0xC000009A)
#define STATUS_FREE_VM_NOT_AT_BASE        ((NTSTATUS)0xC000009F)
#define STATUS_MEMORY_NOT_ALLOCATED       ((NTSTATUS)0xC00000A0)
#define STATUS_WORKING_SET_QUOTA          ((NTSTATUS)0xC00000A1)
#define STATUS_IO_TIMEOUT                 ((NTSTATUS)0xC00000B5)
#define STATUS_NOT_SUPPORTED              ((NTSTATUS)0xC00000BB)
#define STATUS_INTERNAL_ERROR             ((NTSTATUS)0xC00000E5)
#define STATUS_INVALID_PARAMETER_1        ((NTSTATUS)0xC00000EF)
#define STATUS_INVALID_PARAMETER_2        ((NTSTATUS)0xC00000F0)
#define STATUS_INVALID_PARAMETER_3        ((NTSTATUS)0xC00000F1)
#define STATUS_INVALID_PARAMETER_4        ((NTSTATUS)0xC00000F2)
#define STATUS_INVALID_PARAMETER_5        ((NTSTATUS)0xC00000F3)
#define STATUS_INVALID_PARAMETER_6        ((NTSTATUS)0xC00000F4)
#define STATUS_PROCESS_IS_TERMINATING     ((NTSTATUS)0xC000010A)
#define STATUS_COMMITMENT_LIMIT           ((NTSTATUS)0xC000012D)
#define STATUS_PIPE_BROKEN                ((NTSTATUS)0xC000014B)
#endif

/* Win32 error codes (winerror.h). */
#ifndef ERROR_SUCCESS
#define ERROR_SUCCESS                0
#define ERROR_INVALID_FUNCTION       1
#define ERROR_ACCESS_DENIED          5
#define ERROR_INVALID_HANDLE         6
#define ERROR_NOT_ENOUGH_MEMORY      8
#define ERROR_BAD_LENGTH             24
#define ERROR_NOT_SUPPORTED          50
#define ERROR_BROKEN_PIPE            109
#define ERROR_SEM_TIMEOUT            121
#define ERROR_INVALID_PARAMETER      87
#define ERROR_INSUFFICIENT_BUFFER    122
#define ERROR_NOT_OWNER              288
#define ERROR_TOO_MANY_POSTS         298
#define ERROR_MR_MID_NOT_FOUND       317
#define ERROR_INVALID_ADDRESS        487
#define ERROR_NOACCESS               998
#define ERROR_NOT_ALL_ASSIGNED       1300
#define ERROR_INTERNAL_ERROR         1359
#define ERROR_NO_SUCH_PRIVILEGE      1313
#define ERROR_PRIVILEGE_NOT_HELD     1314
#define ERROR_NO_SYSTEM_RESOURCES    1450
#define ERROR_WORKING_SET_QUOTA      1453
#define ERROR_COMMITMENT_LIMIT       1455
#endif

/* Returns the Win32 error code for an NTSTATUS, as RtlNtStatusToDosError does: 0 for success,
 * the low word of a FACILITY_WIN32 status, customer codes unchanged, the table's entry, or
 * ERROR_MR_MID_NOT_FOUND for anything else. */
extern uint32_t awe_ntstatus_to_win32( NTSTATUS status );

/* Returns the symbolic name of a status of the table ("STATUS_CONFLICTING_ADDRESSES"), or NULL. */
extern const char *awe_ntstatus_name( NTSTATUS status );

#endif  /* __AWE_STATUS_H */
