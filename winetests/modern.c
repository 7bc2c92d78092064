/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Conformance tests: what Windows 10 and later added to AWE.
 *
 * AllocateUserPhysicalPages2 and its extended parameters (awe-spec.md 2.1 step 1), read-only
 * PFN entries (2.2 step 10), and the cases of group X of section 8 with the edge cases around
 * them.  Every function here is looked up at run time: a Windows or Wine without it skips the
 * cases (win_skip), never passes them.  Builds for Windows too (make winetests-mingw). */

#ifdef _WIN32
# include <ntstatus.h>
# define WIN32_NO_STATUS
# include <windows.h>
# include <winternl.h>
#else
# include "awe.h"
#endif
#include "test.h"
#include "helpers.h"

#define TOP_BIT ((ULONG_PTR)1 << (sizeof(ULONG_PTR) * 8 - 1))

static BOOL have_privilege;
static BOOL (WINAPI *pAllocateUserPhysicalPages2)( HANDLE, PULONG_PTR, PULONG_PTR,
                                                   MEM_EXTENDED_PARAMETER *, ULONG );
static NTSTATUS (NTAPI *pNtAllocateUserPhysicalPagesEx)( HANDLE, PULONG_PTR, PULONG_PTR,
                                                         MEM_EXTENDED_PARAMETER *, ULONG );

/* A function of kernelbase (where Windows 10 keeps the new memory calls) or kernel32. */
#ifdef _WIN32
static void *kernel_func( const char *name )
{
    void *func = (void *)GetProcAddress( GetModuleHandleA( "kernelbase.dll" ), name );

    return func ? func : (void *)GetProcAddress( GetModuleHandleA( "kernel32.dll" ), name );
}
# define KERNEL_FUNC( name ) ((__typeof__(p##name))kernel_func( #name ))
#else
# define KERNEL_FUNC( name ) (&name)
#endif

#define NEED_PRIVILEGE() \
    do \
    { \
        if (!have_privilege) \
        { \
            win_skip( "SeLockMemoryPrivilege is not available\n" ); \
            return; \
        } \
    } while (0)

static void set_param( MEM_EXTENDED_PARAMETER *param, DWORD type, DWORD64 value )
{
    memset( param, 0, sizeof(*param) );
    param->Type = type;
    param->ULong64 = value;
}

/* ---- AllocateUserPhysicalPages2: the extended parameters --------------------------------- */

/* Step 1 comes before everything else: before the count pointer, the array, the handle and the
 * privilege, so these run without the privilege too. */
static void test_allocate2_parameters(void)
{
    MEM_EXTENDED_PARAMETER params[3];
    ULONG_PTR n, pfn[2] = { SENTINEL, SENTINEL };
    NTSTATUS status;

    if (!pNtAllocateUserPhysicalPagesEx)
    {
        win_skip( "NtAllocateUserPhysicalPagesEx is not available\n" );
        return;
    }
    /* no parameters at all: the call is AllocateUserPhysicalPages's; N == 0 succeeds */
    n = 0;
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), &n, pfn, NULL, 0 );
    ok( status == STATUS_SUCCESS, "no parameters, N 0: got %#lx\n", (unsigned long)status );

    /* the parameters are read first: a bad pointer faults before the NULL count pointer */
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn,
                                             (MEM_EXTENDED_PARAMETER *)(ULONG_PTR)0x10, 1 );
    ok( status == STATUS_ACCESS_VIOLATION, "bad parameter pointer: got %#lx\n", (unsigned long)status );

    /* an unknown type, or one Allocate does not take, is refused before the count pointer */
    set_param( &params[0], MemExtendedParameterMax + 3, 0 );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "unknown type: got %#lx\n", (unsigned long)status );
    set_param( &params[0], MemExtendedParameterAddressRequirements, 0 );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "address requirements: got %#lx\n", (unsigned long)status );
    set_param( &params[0], MemExtendedParameterInvalidType, 0 );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "invalid type: got %#lx\n", (unsigned long)status );

    /* a type given twice */
    set_param( &params[0], MemExtendedParameterNumaNode, 0 );
    set_param( &params[1], MemExtendedParameterNumaNode, 0 );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 2 );
    ok( status == STATUS_INVALID_PARAMETER, "repeated type: got %#lx\n", (unsigned long)status );

    /* attribute bits Allocate does not know, and the two page sizes at once */
    set_param( &params[0], MemExtendedParameterAttributeFlags, MEM_EXTENDED_PARAMETER_GRAPHICS );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "graphics flag: got %#lx\n", (unsigned long)status );
    set_param( &params[0], MemExtendedParameterAttributeFlags, 0x80000000u );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "unknown flag: got %#lx\n", (unsigned long)status );
    set_param( &params[0], MemExtendedParameterAttributeFlags,
               MEM_EXTENDED_PARAMETER_NONPAGED_LARGE | MEM_EXTENDED_PARAMETER_NONPAGED_HUGE );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "large and huge: got %#lx\n", (unsigned long)status );

    /* the reserved bits above the type */
    set_param( &params[0], MemExtendedParameterNumaNode, 0 );
    params[0].Reserved = 1;
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "reserved bits: got %#lx\n", (unsigned long)status );

    /* an impossible node (A18 through the extended call) */
    set_param( &params[0], MemExtendedParameterNumaNode, 0xffff );
    n = 1;
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), &n, pfn, params, 1 );
    ok( status == STATUS_INVALID_PARAMETER, "node 0xffff: got %#lx\n", (unsigned long)status );
    ok( n == 1, "node 0xffff: n %llu\n", (unsigned long long)n );

    /* valid parameters leave the later steps as they were: a NULL count pointer is step 2 */
    set_param( &params[0], MemExtendedParameterNumaNode, 0 );
    set_param( &params[1], MemExtendedParameterAttributeFlags, MEM_EXTENDED_PARAMETER_ZERO_PAGES_OPTIONAL );
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), NULL, pfn, params, 2 );
    ok( status == STATUS_ACCESS_VIOLATION, "NULL count: got %#lx\n", (unsigned long)status );
    n = 0;
    status = pNtAllocateUserPhysicalPagesEx( GetCurrentProcess(), &n, pfn, params, 2 );
    ok( status == STATUS_SUCCESS, "N 0: got %#lx\n", (unsigned long)status );
    ok( pfn[0] == SENTINEL, "N 0: pfn %#llx\n", (unsigned long long)pfn[0] );
    n = 1;
    status = pNtAllocateUserPhysicalPagesEx( BAD_HANDLE, &n, pfn, params, 2 );
    ok( status == STATUS_INVALID_HANDLE, "bad handle: got %#lx\n", (unsigned long)status );
}

/* The Win32 form reports the same through the last error, and works with the privilege. */
static void test_allocate2(void)
{
    MEM_EXTENDED_PARAMETER params[2];
    ULONG_PTR n, pfn[4], freed;
    char *awe;
    BOOL ret;

    if (!pAllocateUserPhysicalPages2)
    {
        win_skip( "AllocateUserPhysicalPages2 is not available\n" );
        return;
    }
    set_param( &params[0], MemExtendedParameterAttributeFlags, MEM_EXTENDED_PARAMETER_NONPAGED );
    n = 1;
    SetLastError( 0xdeadbeef );
    ret = pAllocateUserPhysicalPages2( GetCurrentProcess(), &n, pfn, params, 1 );
    ok( !ret && GetLastError() == ERROR_INVALID_PARAMETER, "NONPAGED: got %d, error %lu\n", ret,
        (unsigned long)GetLastError() );

    NEED_PRIVILEGE();
    set_param( &params[0], MemExtendedParameterNumaNode, 0 );
    set_param( &params[1], MemExtendedParameterAttributeFlags, MEM_EXTENDED_PARAMETER_ZERO_PAGES_OPTIONAL );
    n = 4;
    SetLastError( 0xdeadbeef );
    ret = pAllocateUserPhysicalPages2( GetCurrentProcess(), &n, pfn, params, 2 );
    ok( ret == TRUE, "got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (!ret) return;
    ok( n == 4, "got n %llu\n", (unsigned long long)n );
    /* they are ordinary frames: they map, and they free */
    if ((awe = reserve_awe( 4 )))
    {
        ok( stamp_frames( awe, pfn, 4 ), "the frames do not map\n" );
        release_region( awe );
    }
    freed = n;
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &freed, pfn );
    ok( ret == TRUE && freed == 4, "free: got %d, freed %llu\n", ret, (unsigned long long)freed );

    /* no parameters at all */
    n = 2;
    ret = pAllocateUserPhysicalPages2( GetCurrentProcess(), &n, pfn, NULL, 0 );
    ok( ret == TRUE && n == 2, "no parameters: got %d, n %llu\n", ret, (unsigned long long)n );
    if (ret) free_frames( pfn, n );
}

/* ---- read-only PFN entries (awe-spec.md 2.2 step 10, [R]) --------------------------------- */

static DWORD page_protect( const void *va )
{
    MEMORY_BASIC_INFORMATION info;

    if (VirtualQuery( va, &info, sizeof(info) ) != sizeof(info)) return ~0u;
    return info.State == MEM_COMMIT ? info.Protect : 0;
}

static void test_map_readonly(void)
{
    ULONG_PTR pfn[4], entries[4];
    void *vas[2];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 8 ))) return;
    if (!alloc_frames( pfn, 4 )) goto out;
    if (!stamp_frames( awe, pfn, 4 )) goto out_free;

    /* Map: the entry with the top bit maps its frame read-only, the next one read/write */
    entries[0] = pfn[0] | TOP_BIT;
    entries[1] = pfn[1];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 2, entries );
    if (!ret && broken( GetLastError() == ERROR_INVALID_ADDRESS ))
    {
        win_skip( "this Windows does not know read-only PFN entries\n" );
        goto out_free;
    }
    ok( ret == TRUE, "Map: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( awe, STAMP(0) ), "Map: the read-only frame is not readable\n" );
    ok( access_faults( awe, TRUE ) == 1, "Map: the read-only page can be written\n" );
    ok( page_protect( awe ) == PAGE_READONLY, "Map: protect %#lx\n", (unsigned long)page_protect( awe ) );
    ok( access_faults( awe + PAGE, TRUE ) == 0, "Map: the read/write page cannot be written\n" );
    ok( page_protect( awe + PAGE ) == PAGE_READWRITE, "Map: protect %#lx\n",
        (unsigned long)page_protect( awe + PAGE ) );
    /* the frame itself is the same: the bit is no part of its number */
    ok( read_word( awe ) == STAMP(0), "Map: wrong frame\n" );

    /* Map refuses a frame mapped anywhere, at this very address too; mapped again with a
     * plain entry, it is writable */
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, pfn );
    ok( !ret && (GetLastError() == ERROR_INVALID_ADDRESS || GetLastError() == ERROR_INVALID_PARAMETER),
        "same address: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 1, NULL );
    ret = MapUserPhysicalPages( awe, 1, pfn );
    ok( ret == TRUE, "remap: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( awe, TRUE ) == 0, "remap: the page is still read-only\n" );
    ok( page_protect( awe ) == PAGE_READWRITE, "remap: protect %#lx\n", (unsigned long)page_protect( awe ) );

    /* read-only, consecutive frames: one run, each page read-only */
    entries[0] = pfn[2] | TOP_BIT;
    entries[1] = pfn[3] | TOP_BIT;
    ret = MapUserPhysicalPages( awe + 4 * PAGE, 2, entries );
    ok( ret == TRUE, "run: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( awe + 5 * PAGE, STAMP(3) ), "run: frame 3 is not readable\n" );
    ok( access_faults( awe + 4 * PAGE, TRUE ) == 1 && access_faults( awe + 5 * PAGE, TRUE ) == 1,
        "run: a read-only page can be written\n" );

    /* a read-only entry is still checked as its frame: mapped elsewhere fails, nothing changes */
    entries[0] = pfn[0] | TOP_BIT;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe + 7 * PAGE, 1, entries );
    ok( !ret && (GetLastError() == ERROR_INVALID_ADDRESS || GetLastError() == ERROR_INVALID_PARAMETER),
        "mapped elsewhere: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( awe + 7 * PAGE, FALSE ) == 1, "mapped elsewhere: the page was mapped\n" );
    MapUserPhysicalPages( awe, 8, NULL );

    /* Scatter: the same rule per entry */
    vas[0] = awe + 3 * PAGE;
    vas[1] = awe + 6 * PAGE;
    entries[0] = pfn[1] | TOP_BIT;
    entries[1] = pfn[2];
    ret = MapUserPhysicalPagesScatter( vas, 2, entries );
    ok( ret == TRUE, "Scatter: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( awe + 3 * PAGE, STAMP(1) ), "Scatter: frame 1 is not readable\n" );
    ok( access_faults( awe + 3 * PAGE, TRUE ) == 1, "Scatter: the read-only page can be written\n" );
    ok( page_protect( awe + 3 * PAGE ) == PAGE_READONLY, "Scatter: protect %#lx\n",
        (unsigned long)page_protect( awe + 3 * PAGE ) );
    ok( access_faults( awe + 6 * PAGE, TRUE ) == 0, "Scatter: the read/write page cannot be written\n" );
    /* naming the frame read/write where it is mapped read-only makes it writable */
    entries[0] = pfn[1];
    ret = MapUserPhysicalPagesScatter( vas, 1, entries );
    ok( ret == TRUE, "Scatter again: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( awe + 3 * PAGE, TRUE ) == 0, "Scatter again: the page is still read-only\n" );
    /* and the other way round */
    entries[0] = pfn[1] | TOP_BIT;
    ret = MapUserPhysicalPagesScatter( vas, 1, entries );
    ok( ret == TRUE, "Scatter read-only again: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( awe + 3 * PAGE, TRUE ) == 1, "Scatter read-only again: the page is writable\n" );
    ok( read_word( awe + 3 * PAGE ) == STAMP(1), "Scatter read-only again: wrong frame\n" );
    MapUserPhysicalPages( awe, 8, NULL );

out_free:
    free_frames( pfn, 4 );
out:
    release_region( awe );
}

START_TEST(modern)
{
    pAllocateUserPhysicalPages2 = KERNEL_FUNC( AllocateUserPhysicalPages2 );
    pNtAllocateUserPhysicalPagesEx = NTDLL_FUNC( NtAllocateUserPhysicalPagesEx );

    /* without the privilege first: step 1 precedes the privilege check */
    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );
    test_allocate2_parameters();

    have_privilege = set_lock_privilege( TRUE );
    test_allocate2();
    test_map_readonly();
    set_lock_privilege( FALSE );
}
