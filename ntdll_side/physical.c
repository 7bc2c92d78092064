/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The standalone host's AWE calls: the Nt functions and their Win32 wrappers, over the engine. */

#include "ntdll_side/engine.h"
#include "ntdll_private.h"

/* This host's handles are the server's: the engine's default resolves them. */
NTSTATUS NTAPI NtAllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    return awe_engine_allocate( (uintptr_t)process, count, pfns );
}

NTSTATUS NTAPI NtFreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    return awe_engine_free( (uintptr_t)process, count, pfns );
}

NTSTATUS NTAPI NtMapUserPhysicalPages( PVOID addr, ULONG_PTR count, PULONG_PTR pfns )
{
    return awe_engine_map( addr, count, pfns );
}

NTSTATUS NTAPI NtMapUserPhysicalPagesScatter( PVOID *addrs, ULONG_PTR count, PULONG_PTR pfns )
{
    return awe_engine_map_scatter( addrs, count, pfns );
}

BOOL WINAPI AllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    return awe_set_ntstatus( NtAllocateUserPhysicalPages( process, count, pfns ) );
}

/* The node is a preference; this machine model has one node, 0 (others: awe-spec A18 [U]). */
BOOL WINAPI AllocateUserPhysicalPagesNuma( HANDLE process, PULONG_PTR count, PULONG_PTR pfns,
                                           DWORD node )
{
    if (node) return awe_set_ntstatus( STATUS_INVALID_PARAMETER );
    return AllocateUserPhysicalPages( process, count, pfns );
}

BOOL WINAPI FreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    return awe_set_ntstatus( NtFreeUserPhysicalPages( process, count, pfns ) );
}

BOOL WINAPI MapUserPhysicalPages( PVOID addr, ULONG_PTR count, PULONG_PTR pfns )
{
    return awe_set_ntstatus( NtMapUserPhysicalPages( addr, count, pfns ) );
}

BOOL WINAPI MapUserPhysicalPagesScatter( PVOID *addrs, ULONG_PTR count, PULONG_PTR pfns )
{
    return awe_set_ntstatus( NtMapUserPhysicalPagesScatter( addrs, count, pfns ) );
}
