/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* awe.h: the Windows AWE API on Linux, with the Windows SDK's names, types and constants.
 *
 * Ported code includes this header where it included <windows.h> (and <winternl.h> for the
 * Nt functions) and links with libawe (pkg-config awe).  Process ids are Linux pids; handles are
 * values of the awe-server, which starts on first use.  Only the ANSI variants get the plain
 * names (no UNICODE mapping); WCHAR strings are UTF-16 (u"...") as on Windows. */

#ifndef __AWE_H
#define __AWE_H

#include <stddef.h>
#include <stdint.h>
#include "awe/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WINAPI
#define NTAPI

/* ---- base types (LP64: LONG and DWORD are 32 bits as on Windows) -------------------------- */

typedef int            BOOL, *PBOOL;
typedef unsigned char  BYTE, BOOLEAN, *PBYTE;
typedef unsigned short WORD;
typedef uint16_t       WCHAR;
typedef unsigned int   DWORD, *PDWORD, *LPDWORD;
typedef int            LONG, *PLONG;
typedef unsigned int   ULONG, *PULONG;
typedef uint64_t       DWORD64, ULONG64;
typedef intptr_t       LONG_PTR;
typedef uintptr_t      ULONG_PTR, SIZE_T, DWORD_PTR, *PULONG_PTR, *PSIZE_T;
typedef void          *PVOID, *LPVOID, *HANDLE, **PHANDLE;
typedef const void    *LPCVOID;
typedef char           CHAR;
typedef const CHAR    *LPCSTR;
typedef const WCHAR   *LPCWSTR, *PCWSTR;

#ifndef TRUE
#define TRUE  1
#define FALSE 0
#endif

#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define NtCurrentProcess()   ((HANDLE)(LONG_PTR)-1)

/* ---- memory ------------------------------------------------------------------------------- */

#define PAGE_NOACCESS          0x01
#define PAGE_READONLY          0x02
#define PAGE_READWRITE         0x04
#define PAGE_WRITECOPY         0x08
#define PAGE_EXECUTE           0x10
#define PAGE_EXECUTE_READ      0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD             0x100
#define PAGE_NOCACHE           0x200
#define PAGE_WRITECOMBINE      0x400

#define MEM_COMMIT             0x00001000
#define MEM_RESERVE            0x00002000
#define MEM_DECOMMIT           0x00004000
#define MEM_RELEASE            0x00008000
#define MEM_FREE               0x00010000
#define MEM_PRIVATE            0x00020000
#define MEM_MAPPED             0x00040000
#define MEM_RESET              0x00080000
#define MEM_TOP_DOWN           0x00100000
#define MEM_WRITE_WATCH        0x00200000
#define MEM_PHYSICAL           0x00400000
#define MEM_RESET_UNDO         0x01000000
#define MEM_IMAGE              0x01000000     /* a VirtualQuery Type, same value */
#define MEM_LARGE_PAGES        0x20000000
#define MEM_64K_PAGES          (MEM_LARGE_PAGES | MEM_PHYSICAL)

/* Extended parameters (AllocateUserPhysicalPages2, VirtualAlloc2, CreateFileMapping2). */
typedef enum MEM_EXTENDED_PARAMETER_TYPE
{
    MemExtendedParameterInvalidType = 0,
    MemExtendedParameterAddressRequirements,
    MemExtendedParameterNumaNode,
    MemExtendedParameterPartitionHandle,
    MemExtendedParameterUserPhysicalHandle,
    MemExtendedParameterAttributeFlags,
    MemExtendedParameterImageMachine,
    MemExtendedParameterMax
} MEM_EXTENDED_PARAMETER_TYPE;

typedef enum MEM_SECTION_EXTENDED_PARAMETER_TYPE
{
    MemSectionExtendedParameterInvalidType = 0,
    MemSectionExtendedParameterUserPhysicalFlags,
    MemSectionExtendedParameterNumaNode,
    MemSectionExtendedParameterSigningLevel,
    MemSectionExtendedParameterMax
} MEM_SECTION_EXTENDED_PARAMETER_TYPE;

#define MEM_EXTENDED_PARAMETER_TYPE_BITS 8

typedef struct __attribute__((aligned(8))) MEM_EXTENDED_PARAMETER
{
    struct
    {
        DWORD64 Type : MEM_EXTENDED_PARAMETER_TYPE_BITS;
        DWORD64 Reserved : 64 - MEM_EXTENDED_PARAMETER_TYPE_BITS;
    };
    union
    {
        DWORD64 ULong64;
        PVOID   Pointer;
        SIZE_T  Size;
        HANDLE  Handle;
        DWORD   ULong;
    };
} MEM_EXTENDED_PARAMETER, *PMEM_EXTENDED_PARAMETER;

#define MEM_EXTENDED_PARAMETER_GRAPHICS           0x00000001
#define MEM_EXTENDED_PARAMETER_NONPAGED           0x00000002
#define MEM_EXTENDED_PARAMETER_ZERO_PAGES_OPTIONAL 0x00000004
#define MEM_EXTENDED_PARAMETER_NONPAGED_LARGE     0x00000008
#define MEM_EXTENDED_PARAMETER_NONPAGED_HUGE      0x00000010

/* Sections: the AWE kind only (CreateFileMapping2 with MemSectionExtendedParameter-
 * UserPhysicalFlags); libawe has no file mappings. */
#define SECTION_QUERY       0x0001
#define SECTION_MAP_WRITE   0x0002
#define SECTION_MAP_READ    0x0004
#define SECTION_MAP_EXECUTE 0x0008
#define SECTION_EXTEND_SIZE 0x0010
#define SECTION_ALL_ACCESS  0x000f001f

#define SEC_RESERVE         0x04000000
#define SEC_COMMIT          0x08000000
#define SEC_NOCACHE         0x10000000
#define SEC_LARGE_PAGES     0x80000000

typedef struct _SECURITY_ATTRIBUTES
{
    DWORD  nLength;
    LPVOID lpSecurityDescriptor;
    BOOL   bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef struct _MEMORY_BASIC_INFORMATION
{
    PVOID  BaseAddress;
    PVOID  AllocationBase;
    DWORD  AllocationProtect;
    WORD   PartitionId;
    SIZE_T RegionSize;
    DWORD  State;
    DWORD  Protect;
    DWORD  Type;
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

typedef struct _SYSTEM_INFO
{
    union
    {
        DWORD dwOemId;
        struct
        {
            WORD wProcessorArchitecture;
            WORD wReserved;
        };
    };
    DWORD     dwPageSize;
    LPVOID    lpMinimumApplicationAddress;
    LPVOID    lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD     dwNumberOfProcessors;
    DWORD     dwProcessorType;
    DWORD     dwAllocationGranularity;
    WORD      wProcessorLevel;
    WORD      wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

#define PROCESSOR_ARCHITECTURE_INTEL 0
#define PROCESSOR_ARCHITECTURE_ARM64 12
#define PROCESSOR_ARCHITECTURE_AMD64 9

/* ---- processes, tokens, privileges --------------------------------------------------------- */

#define PROCESS_TERMINATE                 0x0001
#define PROCESS_VM_OPERATION              0x0008
#define PROCESS_VM_READ                   0x0010
#define PROCESS_VM_WRITE                  0x0020
#define PROCESS_QUERY_INFORMATION         0x0400
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000
#define SYNCHRONIZE                       0x00100000
#define PROCESS_ALL_ACCESS                0x001fffff

#define TOKEN_QUERY             0x0008
#define TOKEN_ADJUST_PRIVILEGES 0x0020

#define SE_PRIVILEGE_ENABLED_BY_DEFAULT 0x00000001
#define SE_PRIVILEGE_ENABLED            0x00000002
#define SE_PRIVILEGE_REMOVED            0x00000004

#define SE_LOCK_MEMORY_NAME "SeLockMemoryPrivilege"
#define SE_LOCK_MEMORY_PRIVILEGE 4

typedef struct _LUID
{
    DWORD LowPart;
    LONG  HighPart;
} LUID, *PLUID;

typedef struct _LUID_AND_ATTRIBUTES
{
    LUID  Luid;
    DWORD Attributes;
} LUID_AND_ATTRIBUTES, *PLUID_AND_ATTRIBUTES;

typedef struct _TOKEN_PRIVILEGES
{
    DWORD               PrivilegeCount;
    LUID_AND_ATTRIBUTES Privileges[1];
} TOKEN_PRIVILEGES, *PTOKEN_PRIVILEGES;

/* ---- Win32 functions ----------------------------------------------------------------------- */

DWORD  WINAPI GetLastError( void );
void   WINAPI SetLastError( DWORD error );
HANDLE WINAPI GetCurrentProcess( void );
DWORD  WINAPI GetCurrentProcessId( void );
HANDLE WINAPI OpenProcess( DWORD access, BOOL inherit, DWORD pid );
BOOL   WINAPI CloseHandle( HANDLE handle );
BOOL   WINAPI OpenProcessToken( HANDLE process, DWORD access, PHANDLE token );
BOOL   WINAPI LookupPrivilegeValueA( LPCSTR system, LPCSTR name, PLUID luid );
BOOL   WINAPI LookupPrivilegeValueW( LPCWSTR system, LPCWSTR name, PLUID luid );
#define LookupPrivilegeValue LookupPrivilegeValueA
BOOL   WINAPI AdjustTokenPrivileges( HANDLE token, BOOL disable_all, PTOKEN_PRIVILEGES privs,
                                     DWORD length, PTOKEN_PRIVILEGES prev, PDWORD prev_length );
void   WINAPI GetSystemInfo( LPSYSTEM_INFO info );

LPVOID WINAPI VirtualAlloc( LPVOID addr, SIZE_T size, DWORD type, DWORD protect );
PVOID  WINAPI VirtualAlloc2( HANDLE process, PVOID addr, SIZE_T size, ULONG type, ULONG protect,
                             MEM_EXTENDED_PARAMETER *params, ULONG nparams );
HANDLE WINAPI CreateFileMapping2( HANDLE file, SECURITY_ATTRIBUTES *sa, ULONG access, ULONG protect,
                                  ULONG attributes, ULONG64 size, PCWSTR name,
                                  MEM_EXTENDED_PARAMETER *params, ULONG nparams );
BOOL   WINAPI VirtualFree( LPVOID addr, SIZE_T size, DWORD type );
SIZE_T WINAPI VirtualQuery( LPCVOID addr, PMEMORY_BASIC_INFORMATION info, SIZE_T length );
BOOL   WINAPI VirtualProtect( LPVOID addr, SIZE_T size, DWORD protect, PDWORD old_protect );
BOOL   WINAPI VirtualLock( LPVOID addr, SIZE_T size );

BOOL WINAPI AllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );
BOOL WINAPI AllocateUserPhysicalPagesNuma( HANDLE process, PULONG_PTR count, PULONG_PTR pfns,
                                           DWORD node );
BOOL WINAPI AllocateUserPhysicalPages2( HANDLE object, PULONG_PTR count, PULONG_PTR pfns,
                                        PMEM_EXTENDED_PARAMETER params, ULONG nparams );
BOOL WINAPI MapUserPhysicalPages( PVOID addr, ULONG_PTR count, PULONG_PTR pfns );
BOOL WINAPI MapUserPhysicalPagesScatter( PVOID *addrs, ULONG_PTR count, PULONG_PTR pfns );
BOOL WINAPI FreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );

/* ---- native functions ---------------------------------------------------------------------- */

NTSTATUS NTAPI NtAllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtAllocateUserPhysicalPagesEx( HANDLE object, PULONG_PTR count, PULONG_PTR pfns,
                                              PMEM_EXTENDED_PARAMETER params, ULONG nparams );
NTSTATUS NTAPI NtFreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtMapUserPhysicalPages( PVOID addr, ULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtMapUserPhysicalPagesScatter( PVOID *addrs, ULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtAllocateVirtualMemory( HANDLE process, PVOID *addr, ULONG_PTR zero_bits,
                                        PSIZE_T size, ULONG type, ULONG protect );
NTSTATUS NTAPI NtAllocateVirtualMemoryEx( HANDLE process, PVOID *addr, PSIZE_T size, ULONG type,
                                          ULONG protect, MEM_EXTENDED_PARAMETER *params,
                                          ULONG nparams );
NTSTATUS NTAPI NtFreeVirtualMemory( HANDLE process, PVOID *addr, PSIZE_T size, ULONG type );
NTSTATUS NTAPI NtQueryVirtualMemory( HANDLE process, LPCVOID addr, int info_class, PVOID buffer,
                                     SIZE_T length, PSIZE_T result_length );
NTSTATUS NTAPI NtProtectVirtualMemory( HANDLE process, PVOID *addr, PSIZE_T size, ULONG protect,
                                       PULONG old_protect );
NTSTATUS NTAPI NtLockVirtualMemory( HANDLE process, PVOID *addr, PSIZE_T size, ULONG unknown );

/* Converts an NTSTATUS to the Win32 error code the Win32 layer reports for it. */
ULONG NTAPI RtlNtStatusToDosError( NTSTATUS status );

#define MemoryBasicInformation 0

#ifdef __cplusplus
}
#endif

#endif  /* __AWE_H */
