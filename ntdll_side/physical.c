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

/* MEM_EXTENDED_PARAMETER of a section, as Windows lays it out. */
#define SECTION_PARAM_USER_PHYSICAL_FLAGS 1
#define SECTION_PARAM_NUMA_NODE           2
#define MAX_SECTION_PARAMS                8

/* CreateFileMapping2, for the one kind of section libawe has: an AWE section
 * (awe-spec.md 2.5, ZGC's call) from INVALID_HANDLE_VALUE, PAGE_READWRITE, SEC_RESERVE
 * [| SEC_LARGE_PAGES], unnamed, with {MemSectionExtendedParameterUserPhysicalFlags, 0}.  Any
 * other section is ERROR_NOT_SUPPORTED here (libawe maps no files; under Wine, Wine's sections
 * answer).  The size is not used: an AWE section's frames come from Allocate. */
HANDLE WINAPI CreateFileMapping2( HANDLE file, SECURITY_ATTRIBUTES *sa, ULONG access, ULONG protect,
                                  ULONG attributes, ULONG64 size, PCWSTR name,
                                  MEM_EXTENDED_PARAMETER *params, ULONG nparams )
{
    MEM_EXTENDED_PARAMETER copy[MAX_SECTION_PARAMS];
    unsigned int seen = 0, i;
    uint32_t handle;
    NTSTATUS status;

    (void)sa;
    (void)size;
    if (nparams > MAX_SECTION_PARAMS || (nparams && !params))
    {
        awe_set_ntstatus( STATUS_INVALID_PARAMETER );
        return NULL;
    }
    if (nparams && awe_copy_from_user( copy, params, nparams * sizeof(*copy) ))
    {
        awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
        return NULL;
    }
    for (i = 0; i < nparams; i++)
    {
        unsigned int type = copy[i].Type;

        if (copy[i].Reserved || type >= 32 || (seen & (1u << type)) ||
            (type == SECTION_PARAM_USER_PHYSICAL_FLAGS && copy[i].ULong64) ||
            (type == SECTION_PARAM_NUMA_NODE && copy[i].ULong64) ||
            (type != SECTION_PARAM_USER_PHYSICAL_FLAGS && type != SECTION_PARAM_NUMA_NODE))
        {
            awe_set_ntstatus( STATUS_INVALID_PARAMETER );
            return NULL;
        }
        seen |= 1u << type;
    }
    if (!(seen & (1u << SECTION_PARAM_USER_PHYSICAL_FLAGS)))
    {
        awe_set_ntstatus( STATUS_NOT_SUPPORTED );
        return NULL;
    }
    if (file != INVALID_HANDLE_VALUE || name || protect != PAGE_READWRITE ||
        (attributes & ~SEC_LARGE_PAGES) != SEC_RESERVE)
    {
        awe_set_ntstatus( STATUS_INVALID_PARAMETER );
        return NULL;
    }
    status = awe_engine_create_section( attributes & SEC_LARGE_PAGES ? AWE_ENGINE_SECTION_LARGE : 0,
                                        access, &handle );
    if (!awe_set_ntstatus( status )) return NULL;
    return (HANDLE)(uintptr_t)handle;
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
