/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The standalone host's AWE calls: the Nt functions and their Win32 wrappers, over the engine. */

#include "ntdll_side/engine.h"
#include "ntdll_private.h"

/* Converts a process HANDLE for the engine: the pseudo-handle, or one of the server's handles
 * (this host's handles are the server's); -1 for a value no handle can have. */
static int engine_handle( HANDLE handle, uint32_t *out )
{
    uintptr_t value = (uintptr_t)handle;

    if (handle == NtCurrentProcess()) *out = AWE_ENGINE_CURRENT_PROCESS;
    else if (value >> 32) return -1;
    else *out = (uint32_t)value;
    return 0;
}

/* Windows checks the caller's pointers before the handle: so does the engine, and a handle no
 * server can have comes last, as STATUS_INVALID_HANDLE (awe-spec.md section 2.1 step 6). */
NTSTATUS NTAPI NtAllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    uint32_t handle;

    if (engine_handle( process, &handle )) handle = 0;
    return awe_engine_allocate( handle, count, pfns );
}

NTSTATUS NTAPI NtFreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns )
{
    uint32_t handle;

    if (engine_handle( process, &handle )) handle = 0;
    return awe_engine_free( handle, count, pfns );
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
