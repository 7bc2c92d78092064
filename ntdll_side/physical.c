/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The standalone host's AWE calls: the Nt functions and their Win32 wrappers, over the engine. */

#include "ntdll_side/engine.h"
#include "ntdll_private.h"

/* This host's handles are the server's: the engine's default resolves them. */
NTSTATUS NTAPI NtAllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    return awe_engine_allocate( (uintptr_t)process, count, pfns );
}

NTSTATUS NTAPI NtAllocateUserPhysicalPagesEx( HANDLE object, PULONG_PTR count, PULONG_PTR pfns,
                                              PMEM_EXTENDED_PARAMETER params, ULONG nparams )
{
    return awe_engine_allocate_ex( (uintptr_t)object, count, pfns, params, nparams );
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

BOOL WINAPI AllocateUserPhysicalPages2( HANDLE object, PULONG_PTR count, PULONG_PTR pfns,
                                        PMEM_EXTENDED_PARAMETER params, ULONG nparams )
{
    return awe_set_ntstatus( NtAllocateUserPhysicalPagesEx( object, count, pfns, params, nparams ) );
}

/* As on modern Windows, a NumaNode parameter of the extended call.  The node is a preference;
 * this machine model has one node, 0, and any other number is refused (awe-spec A18). */
BOOL WINAPI AllocateUserPhysicalPagesNuma( HANDLE process, PULONG_PTR count, PULONG_PTR pfns,
                                           DWORD node )
{
    MEM_EXTENDED_PARAMETER param = { { MemExtendedParameterNumaNode, 0 }, { .ULong = node } };

    return AllocateUserPhysicalPages2( process, count, pfns, &param, 1 );
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
