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

static BOOL (WINAPI *pAllocateUserPhysicalPages2)( HANDLE, PULONG_PTR, PULONG_PTR,
                                                   MEM_EXTENDED_PARAMETER *, ULONG );
static NTSTATUS (NTAPI *pNtAllocateUserPhysicalPagesEx)( HANDLE, PULONG_PTR, PULONG_PTR,
                                                         MEM_EXTENDED_PARAMETER *, ULONG );
static create_file_mapping2_func pCreateFileMapping2;
static virtual_alloc2_func pVirtualAlloc2;

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

/* X05, 3.7: the read-only marker is the top bit of a ULONG_PTR, bit 31 in a 32-bit (WoW64)
 * process and bit 63 in a 64-bit one, so no PFN has it: a 32-bit process's PFNs are below
 * 2^31, a fortiori 2^32.  test_map_readonly maps with that bit in whichever process runs it. */
static void test_pfn_width(void)
{
    ULONG_PTR pfn[64], i, bad = 0;

    NEED_PRIVILEGE();
    ok( (ULONG64)TOP_BIT == (sizeof(ULONG_PTR) == 4 ? 0x80000000ull : 0x8000000000000000ull),
        "top bit %#llx\n", (unsigned long long)TOP_BIT );
    if (!alloc_frames( pfn, 64 )) return;
    for (i = 0; i < 64; i++) if (pfn[i] & TOP_BIT) bad++;
    ok( !bad, "%lu-bit process: %lu PFNs out of range, the first %#llx\n",
        (unsigned long)sizeof(ULONG_PTR) * 8, (unsigned long)bad, (unsigned long long)pfn[0] );
    free_frames( pfn, 64 );
}

/* ---- AWE sections (awe-spec.md 2.1 step 6, 2.5, 3.3; group X) ----------------------------- */

#define LARGE_PAGE 0x200000

static HANDLE create_awe_section( ULONG access, ULONG attributes )
{
    MEM_EXTENDED_PARAMETER param;

    set_param( &param, MemSectionExtendedParameterUserPhysicalFlags, 0 );
    return pCreateFileMapping2( INVALID_HANDLE_VALUE, NULL, access, PAGE_READWRITE, attributes, 0,
                                NULL, &param, 1 );
}

/* A MEM_PHYSICAL region bound to the section, of protection protect. */
static char *reserve_bound_protect( HANDLE section, SIZE_T size, DWORD protect )
{
    MEM_EXTENDED_PARAMETER param;

    set_param( &param, MemExtendedParameterUserPhysicalHandle, 0 );
    param.Handle = section;
    return pVirtualAlloc2( GetCurrentProcess(), NULL, size, MEM_RESERVE | MEM_PHYSICAL, protect, &param, 1 );
}

static char *reserve_bound( HANDLE section, SIZE_T size )
{
    return reserve_bound_protect( section, size, PAGE_READWRITE );
}

static BOOL have_sections( void )
{
    if (!pCreateFileMapping2 || !pVirtualAlloc2)
    {
        win_skip( "CreateFileMapping2 or VirtualAlloc2 is not available\n" );
        return FALSE;
    }
    return TRUE;
}

/* X01, X03: an AWE section's handle serves Allocate and Free; a plain section's does not. */
static void test_section_allocate(void)
{
    ULONG_PTR n, p[4], own[1];
    HANDLE section, plain, readonly;
    char *awe;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE );
    ok( section != NULL, "X01: CreateFileMapping2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!section) return;

    n = 2;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( section, &n, p );
    ok( ret == TRUE, "X01: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( n == 2, "X01: got n %llu\n", (unsigned long long)n );
    if (!ret) goto out;
    ok( p[0] && p[1] && p[0] != p[1], "X01: pfns %#llx %#llx\n", (unsigned long long)p[0],
        (unsigned long long)p[1] );

    /* the section's frames are not the process's: they map only in regions bound to it, and
     * the process handle does not free them */
    if ((awe = reserve_awe( 4 )))
    {
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( awe, 1, p );
        ok( !ret && (GetLastError() == ERROR_INVALID_ADDRESS || GetLastError() == ERROR_INVALID_PARAMETER),
            "section frame in a plain region: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
        ok( access_faults( awe, FALSE ) == 1, "section frame in a plain region: mapped\n" );
        release_region( awe );
    }
    n = 1;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, p );
    ok( !ret && GetLastError() == ERROR_INVALID_ADDRESS, "Free through the process: got %d, error %lu\n",
        ret, (unsigned long)GetLastError() );
    ok( n == 0, "Free through the process: n %llu\n", (unsigned long long)n );

    /* nor do the process's frames map in a bound region */
    if (alloc_frames( own, 1 ))
    {
        if ((awe = reserve_bound( section, 4 * PAGE )))
        {
            SetLastError( 0xdeadbeef );
            ret = MapUserPhysicalPages( awe, 1, own );
            ok( !ret && (GetLastError() == ERROR_INVALID_ADDRESS || GetLastError() == ERROR_INVALID_PARAMETER),
                "own frame in a bound region: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
            release_region( awe );
        }
        else ok( 0, "VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
        free_frames( own, 1 );
    }

    /* Free through the section: in array order, stopping at the first that is not its own */
    p[2] = p[0];
    n = 3;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( section, &n, p );
    ok( !ret && GetLastError() == ERROR_INVALID_ADDRESS, "repeat: got %d, error %lu\n", ret,
        (unsigned long)GetLastError() );
    ok( n == 2, "repeat: freed %llu\n", (unsigned long long)n );

    /* SECTION_MAP_WRITE is what Allocate needs of the handle */
    readonly = create_awe_section( SECTION_MAP_READ, SEC_RESERVE );
    ok( readonly != NULL, "read-only section: error %lu\n", (unsigned long)GetLastError() );
    if (readonly)
    {
        n = 1;
        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( readonly, &n, p );
        ok( !ret && GetLastError() == ERROR_ACCESS_DENIED, "no SECTION_MAP_WRITE: got %d, error %lu\n",
            ret, (unsigned long)GetLastError() );
        CloseHandle( readonly );
    }

    /* X03: a section that is not an AWE section (libawe has none) */
    plain = pCreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_ALL_ACCESS, PAGE_READWRITE,
                                 SEC_COMMIT, 0x10000, NULL, NULL, 0 );
    if (!plain && GetLastError() == ERROR_NOT_SUPPORTED)
        skip( "X03: no plain sections here (libawe maps no files)\n" );
    else
    {
        ok( plain != NULL, "X03: plain section: error %lu\n", (unsigned long)GetLastError() );
        n = 1;
        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( plain, &n, p );
        ok( !ret && GetLastError() == ERROR_INVALID_HANDLE, "X03: got %d, error %lu\n", ret,
            (unsigned long)GetLastError() );
        if (plain) CloseHandle( plain );
    }

out:
    ok( CloseHandle( section ), "CloseHandle failed, error %lu\n", (unsigned long)GetLastError() );
    /* the handle is gone */
    n = 1;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( section, &n, p );
    ok( !ret && GetLastError() == ERROR_INVALID_HANDLE, "closed section: got %d, error %lu\n", ret,
        (unsigned long)GetLastError() );
}

/* X02: a section's frames map at several addresses at once, in one bound region or several;
 * a write through one shows through the others; Free unmaps them everywhere. */
static void test_section_views(void)
{
    ULONG_PTR n, p[4], entries[3];
    char *view1, *view2 = NULL;
    void *vas[3];
    HANDLE section;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    if (!(section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE )))
    {
        ok( 0, "CreateFileMapping2 failed, error %lu\n", (unsigned long)GetLastError() );
        return;
    }
    n = 4;
    ret = AllocateUserPhysicalPages( section, &n, p );
    ok( ret && n == 4, "Allocate: got %d, n %llu, error %lu\n", ret, (unsigned long long)n,
        (unsigned long)GetLastError() );
    if (!ret || n != 4) goto out;
    view1 = reserve_bound( section, 8 * PAGE );
    ok( view1 != NULL, "X02: VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
    view2 = reserve_bound( section, 8 * PAGE );
    ok( view2 != NULL, "X02: second VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!view1 || !view2) goto out_views;
    ok( page_protect( view1 ) == 0, "a new view is mapped\n" );

    /* p[0] in both views, and twice in the first */
    ret = MapUserPhysicalPages( view1, 1, p );
    ok( ret == TRUE, "X02: Map view1: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( view2 + 3 * PAGE, 1, p );
    ok( ret == TRUE, "X02: Map view2: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( view1 + 5 * PAGE, 1, p );
    ok( ret == TRUE, "X02: Map view1 again: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        *(volatile ULONG_PTR *)view1 = STAMP(7);
        ok( read_word( view2 + 3 * PAGE ) == STAMP(7), "X02: the write does not show in view2\n" );
        ok( read_word( view1 + 5 * PAGE ) == STAMP(7), "X02: the write does not show at view1+5P\n" );
        ((volatile ULONG_PTR *)(view2 + 3 * PAGE))[1] = STAMP(8);
        ok( ((volatile ULONG_PTR *)view1)[1] == STAMP(8), "X02: a write through view2 does not show\n" );
        ok( page_protect( view2 + 3 * PAGE ) == PAGE_READWRITE, "X02: protect %#lx\n",
            (unsigned long)page_protect( view2 + 3 * PAGE ) );
    }

    /* one array may name a unit several times */
    entries[0] = entries[1] = p[1];
    entries[2] = p[2] | TOP_BIT;
    ret = MapUserPhysicalPages( view2, 3, entries );
    ok( ret == TRUE, "repeated entries: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        *(volatile ULONG_PTR *)view2 = STAMP(1);
        ok( read_word( view2 + PAGE ) == STAMP(1), "repeated entries: not the same frame\n" );
        ok( access_faults( view2 + 2 * PAGE, TRUE ) == 1, "read-only entry: writable\n" );
    }

    /* unmapping one address leaves the others */
    ret = MapUserPhysicalPages( view1 + 5 * PAGE, 1, NULL );
    ok( ret == TRUE, "unmap: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( view1 + 5 * PAGE, FALSE ) == 1, "unmap: still mapped\n" );
    ok( read_word( view1 ) == STAMP(7), "unmap: view1 lost the frame\n" );

    /* Scatter, across a bound region and another bound region */
    vas[0] = view1 + 7 * PAGE;
    vas[1] = view2 + 7 * PAGE;
    entries[0] = p[3];
    entries[1] = p[3];
    ret = MapUserPhysicalPagesScatter( vas, 2, entries );
    ok( ret == TRUE, "Scatter: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        *(volatile ULONG_PTR *)(view1 + 7 * PAGE) = STAMP(3);
        ok( read_word( view2 + 7 * PAGE ) == STAMP(3), "Scatter: not the same frame\n" );
    }

    /* Free through the section unmaps p[0] everywhere it is, and only p[0] */
    n = 1;
    ret = FreeUserPhysicalPages( section, &n, p );
    ok( ret == TRUE && n == 1, "Free: got %d, n %llu, error %lu\n", ret, (unsigned long long)n,
        (unsigned long)GetLastError() );
    ok( access_faults( view1, FALSE ) == 1, "Free: view1 still maps the frame\n" );
    ok( access_faults( view2 + 3 * PAGE, FALSE ) == 1, "Free: view2 still maps the frame\n" );
    ok( page_protect( view2 + 3 * PAGE ) == 0, "Free: protect %#lx\n",
        (unsigned long)page_protect( view2 + 3 * PAGE ) );
    ok( read_word( view2 ) == STAMP(1), "Free: p[1] went too\n" );
    /* a freed unit maps nowhere any more */
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( view1, 1, p );
    ok( !ret && GetLastError() == ERROR_INVALID_ADDRESS, "freed unit: got %d, error %lu\n", ret,
        (unsigned long)GetLastError() );

    /* releasing a view unmaps it there only; the frames stay allocated */
    release_region( view2 );
    view2 = NULL;
    ok( read_word( view1 + 7 * PAGE ) == STAMP(3), "release: view1 lost p[3]\n" );
    n = 3;
    ret = FreeUserPhysicalPages( section, &n, p + 1 );
    ok( ret == TRUE && n == 3, "Free the rest: got %d, n %llu, error %lu\n", ret, (unsigned long long)n,
        (unsigned long)GetLastError() );
    ok( access_faults( view1 + 7 * PAGE, FALSE ) == 1, "Free the rest: still mapped\n" );

out_views:
    release_region( view1 );
    release_region( view2 );
out:
    CloseHandle( section );
}

/* Frames of a section live as long as the section: a view bound to it keeps it after its
 * handle is closed (awe-spec.md 3.6). */
static void test_section_lifetime(void)
{
    ULONG_PTR n, p[2];
    HANDLE section;
    char *view;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    if (!(section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE ))) return;
    n = 2;
    ret = AllocateUserPhysicalPages( section, &n, p );
    ok( ret && n == 2, "Allocate: got %d, n %llu\n", ret, (unsigned long long)n );
    if (!(view = reserve_bound( section, 4 * PAGE )) || !ret)
    {
        ok( view != NULL, "VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
        CloseHandle( section );
        return;
    }
    ret = MapUserPhysicalPages( view, 1, p );
    ok( ret == TRUE, "Map: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    *(volatile ULONG_PTR *)view = STAMP(0);
    ok( CloseHandle( section ), "CloseHandle failed\n" );

    /* the view still holds the section: its frames stay, and map */
    ok( shows_frame( view, STAMP(0) ), "after CloseHandle: the frame is gone\n" );
    ret = MapUserPhysicalPages( view + PAGE, 1, p + 1 );
    ok( ret == TRUE, "Map after CloseHandle: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( view + 2 * PAGE, 1, p );
    ok( ret == TRUE, "Map again after CloseHandle: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( view + 2 * PAGE, STAMP(0) ), "after CloseHandle: not the same frame\n" );
    release_region( view );
}

/* X04: a SEC_LARGE_PAGES section counts 2 MiB units, and its views and Map addresses are
 * aligned to them. */
static void test_section_large(void)
{
    ULONG_PTR n, p[2], i, bad = 0;
    HANDLE section;
    char *view;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE | SEC_LARGE_PAGES );
    if (!section && GetLastError() == ERROR_PRIVILEGE_NOT_HELD)
    {
        win_skip( "large pages need SeLockMemoryPrivilege\n" );
        return;
    }
    ok( section != NULL, "X04: CreateFileMapping2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!section) return;
    n = 2;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( section, &n, p );
    if (!ret && GetLastError() == ERROR_NO_SYSTEM_RESOURCES)
    {
        skip( "X04: no large pages to be had here\n" );
        CloseHandle( section );
        return;
    }
    ok( ret == TRUE && n == 2, "X04: Allocate: got %d, n %llu, error %lu\n", ret, (unsigned long long)n,
        (unsigned long)GetLastError() );
    if (!ret) goto out;
    /* each entry is the first 4 KiB PFN of its large page */
    ok( p[0] % (LARGE_PAGE / PAGE) == 0 && p[1] % (LARGE_PAGE / PAGE) == 0, "X04: pfns %#llx %#llx\n",
        (unsigned long long)p[0], (unsigned long long)p[1] );

    view = reserve_bound( section, 2 * LARGE_PAGE );
    ok( view != NULL, "X04: VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!view) goto out_free;
    ok( !((ULONG_PTR)view & (LARGE_PAGE - 1)), "X04: view %p is not aligned\n", view );

    ret = MapUserPhysicalPages( view, 1, p );
    ok( ret == TRUE, "X04: Map: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        for (i = 0; i < LARGE_PAGE / sizeof(ULONG_PTR); i += PAGE / sizeof(ULONG_PTR))
            ((volatile ULONG_PTR *)view)[i] = STAMP(i);
        for (i = 0; i < LARGE_PAGE / sizeof(ULONG_PTR); i += PAGE / sizeof(ULONG_PTR))
            if (((volatile ULONG_PTR *)view)[i] != STAMP(i)) bad++;
        ok( !bad, "X04: %llu pages of the large page differ\n", (unsigned long long)bad );
        ok( access_faults( view + LARGE_PAGE, FALSE ) == 1, "X04: the second large page is mapped\n" );
    }
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( view + PAGE, 1, p + 1 );
    ok( !ret && GetLastError() == ERROR_INVALID_PARAMETER, "X04: misaligned Map: got %d, error %lu\n",
        ret, (unsigned long)GetLastError() );
    /* both units at once, the count in units; then the same unit twice */
    ret = MapUserPhysicalPages( view, 2, p );
    ok( ret == TRUE, "X04: Map 2 units: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( read_word( view ) == STAMP(0), "X04: the first unit lost its data\n" );
    ok( access_faults( view + 2 * LARGE_PAGE - PAGE, TRUE ) == 0, "X04: the second unit is not mapped\n" );
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( view + LARGE_PAGE, 2, p );
    ok( !ret && GetLastError() == ERROR_INVALID_PARAMETER, "X04: past the view: got %d, error %lu\n",
        ret, (unsigned long)GetLastError() );
    /* an entry that is not the first frame of a unit names no unit */
    {
        ULONG_PTR inner = p[0] + 1;
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( view, 1, &inner );
        ok( !ret && GetLastError() == ERROR_INVALID_ADDRESS, "X04: inner frame: got %d, error %lu\n",
            ret, (unsigned long)GetLastError() );
    }
    /* unmapping is by unit too */
    ret = MapUserPhysicalPages( view + LARGE_PAGE, 1, NULL );
    ok( ret == TRUE, "X04: unmap: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( view + LARGE_PAGE + PAGE, FALSE ) == 1, "X04: unmap: still mapped\n" );
    ok( read_word( view ) == STAMP(0), "X04: unmap: the first unit went too\n" );
    release_region( view );

out_free:
    n = 2;
    ret = FreeUserPhysicalPages( section, &n, p );
    ok( ret == TRUE && n == 2, "X04: Free: got %d, n %llu, error %lu\n", ret, (unsigned long long)n,
        (unsigned long)GetLastError() );
out:
    CloseHandle( section );
}

/* A view of a large section is aligned to its page: a base or size that is not is refused. */
static void test_section_large_views(void)
{
    MEM_EXTENDED_PARAMETER param;
    HANDLE section;
    char *view;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    if (!(section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE | SEC_LARGE_PAGES )))
    {
        win_skip( "no large AWE section, error %lu\n", (unsigned long)GetLastError() );
        return;
    }
    SetLastError( 0xdeadbeef );
    view = reserve_bound( section, LARGE_PAGE + PAGE );
    ok( !view && GetLastError() == ERROR_INVALID_PARAMETER, "odd size: got %p, error %lu\n", view,
        (unsigned long)GetLastError() );
    if (view) release_region( view );

    /* a view needs MEM_PHYSICAL to be bound */
    set_param( &param, MemExtendedParameterUserPhysicalHandle, 0 );
    param.Handle = section;
    SetLastError( 0xdeadbeef );
    view = pVirtualAlloc2( GetCurrentProcess(), NULL, LARGE_PAGE, MEM_RESERVE, PAGE_READWRITE, &param, 1 );
    ok( !view && GetLastError() == ERROR_INVALID_PARAMETER, "no MEM_PHYSICAL: got %p, error %lu\n", view,
        (unsigned long)GetLastError() );
    if (view) VirtualFree( view, 0, MEM_RELEASE );
    CloseHandle( section );
}

/* A PAGE_READONLY view of a section (awe-spec.md 2.5: [R] takes read-only for a region bound
 * to an AWE section, and only there): its frames map read-only whatever the entry says, writes
 * through another view show, and its protection can go down but not up to writing (what
 * Windows answers there is [U]: STATUS_INVALID_PAGE_PROTECTION, as for a section view, is this
 * emulation's; a success is accepted as broken() and looked at). */
static void test_section_readonly_view(void)
{
    MEMORY_BASIC_INFORMATION info;
    ULONG_PTR n = 2, p[2], entry;
    HANDLE section;
    char *rw, *ro;
    void *va;
    DWORD old;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();

    /* not without a section */
    SetLastError( 0xdeadbeef );
    va = pVirtualAlloc2( GetCurrentProcess(), NULL, 4 * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READONLY, NULL, 0 );
    ok( !va && GetLastError() == ERROR_INVALID_PARAMETER, "no section: got %p, error %lu\n", va,
        (unsigned long)GetLastError() );
    if (va) release_region( va );

    if (!(section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE )))
    {
        ok( 0, "CreateFileMapping2 failed, error %lu\n", (unsigned long)GetLastError() );
        return;
    }
    ok( AllocateUserPhysicalPages( section, &n, p ) && n == 2, "Allocate failed, error %lu\n",
        (unsigned long)GetLastError() );
    rw = reserve_bound( section, 4 * PAGE );
    ro = reserve_bound_protect( section, 4 * PAGE, PAGE_READONLY );
    ok( rw && ro, "VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!rw || !ro) goto out;
    ok( VirtualQuery( ro, &info, sizeof(info) ) == sizeof(info), "VirtualQuery failed\n" );
    ok( info.AllocationProtect == PAGE_READONLY && info.State == MEM_RESERVE,
        "unmapped: allocation protect %#lx, state %#lx\n", (unsigned long)info.AllocationProtect,
        (unsigned long)info.State );

    ok( MapUserPhysicalPages( rw, 2, p ), "Map rw failed, error %lu\n", (unsigned long)GetLastError() );
    ok( MapUserPhysicalPages( ro + 2 * PAGE, 2, p ), "Map ro failed, error %lu\n", (unsigned long)GetLastError() );
    *(volatile ULONG_PTR *)rw = STAMP(0);
    *(volatile ULONG_PTR *)(rw + PAGE) = STAMP(1);
    ok( shows_frame( ro + 2 * PAGE, STAMP(0) ) && shows_frame( ro + 3 * PAGE, STAMP(1) ),
        "the read-only view does not show the writes\n" );
    ok( access_faults( ro + 2 * PAGE, TRUE ) == 1, "the read-only view can be written\n" );
    ok( access_faults( rw, TRUE ) == 0, "the read/write view cannot be written\n" );
    ok( page_protect( ro + 3 * PAGE ) == PAGE_READONLY, "protect %#lx\n", (unsigned long)page_protect( ro + 3 * PAGE ) );

    /* the protection goes down, not up */
    SetLastError( 0xdeadbeef );
    ret = VirtualProtect( ro + 2 * PAGE, PAGE, PAGE_READWRITE, &old );
    ok( (!ret && GetLastError() == ERROR_INVALID_PARAMETER) || broken( ret ),
        "VirtualProtect(PAGE_READWRITE): got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (!ret) ok( access_faults( ro + 2 * PAGE, TRUE ) == 1, "refused, yet writable\n" );
    ret = VirtualProtect( ro + 3 * PAGE, PAGE, PAGE_NOACCESS, &old );
    ok( ret && old == PAGE_READONLY, "VirtualProtect(PAGE_NOACCESS): got %d, old %#lx, error %lu\n", ret,
        (unsigned long)old, (unsigned long)GetLastError() );
    ok( access_faults( ro + 3 * PAGE, FALSE ) == 1, "PAGE_NOACCESS: still readable\n" );

    /* the next Map, and a Scatter, map read-only again, not read/write */
    ok( MapUserPhysicalPages( ro + 2 * PAGE, 2, p ), "remap failed, error %lu\n", (unsigned long)GetLastError() );
    ok( shows_frame( ro + 3 * PAGE, STAMP(1) ) && access_faults( ro + 3 * PAGE, TRUE ) == 1,
        "remap: not read-only\n" );
    va = ro;
    entry = p[1];
    ok( MapUserPhysicalPagesScatter( &va, 1, &entry ), "Scatter failed, error %lu\n", (unsigned long)GetLastError() );
    ok( shows_frame( ro, STAMP(1) ) && access_faults( ro, TRUE ) == 1, "Scatter: not read-only\n" );
    ok( page_protect( ro ) == PAGE_READONLY, "Scatter: protect %#lx\n", (unsigned long)page_protect( ro ) );
    /* still read/write where the view is */
    ok( access_faults( rw + PAGE, TRUE ) == 0, "the read/write view lost writing\n" );

out:
    release_region( ro );
    release_region( rw );
    n = 2;
    ok( FreeUserPhysicalPages( section, &n, p ) && n == 2, "Free failed, error %lu\n", (unsigned long)GetLastError() );
    CloseHandle( section );
}

/* VirtualProtect in a view of a large section: protection changes by large page, so a range
 * within one grows to the whole of it (awe-spec.md 2.8 leaves large pages open; what Windows
 * does with part of one is [U], so a refusal is accepted there). */
static void test_section_large_protect(void)
{
    MEMORY_BASIC_INFORMATION info;
    ULONG_PTR n = 2, p[2];
    HANDLE section;
    DWORD old;
    char *view;
    BOOL ret;

    if (!have_sections()) return;
    NEED_PRIVILEGE();
    if (!(section = create_awe_section( SECTION_MAP_READ | SECTION_MAP_WRITE, SEC_RESERVE | SEC_LARGE_PAGES )))
    {
        win_skip( "no large AWE section, error %lu\n", (unsigned long)GetLastError() );
        return;
    }
    if (!AllocateUserPhysicalPages( section, &n, p ) || n != 2)
    {
        skip( "no large pages to be had here, error %lu\n", (unsigned long)GetLastError() );
        CloseHandle( section );
        return;
    }
    view = reserve_bound( section, 2 * LARGE_PAGE );
    ok( view != NULL, "VirtualAlloc2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!view) goto out;
    ret = MapUserPhysicalPages( view, 2, p );
    ok( ret == TRUE, "Map: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (!ret) goto out_release;

    /* one small page in the middle of the first large page */
    old = 0xdeadbeef;
    SetLastError( 0xdeadbeef );
    ret = VirtualProtect( view + 5 * PAGE, PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE || broken( !ret ), "VirtualProtect: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        ok( old == PAGE_READWRITE, "old protection %#lx\n", (unsigned long)old );
        ok( access_faults( view, TRUE ) == 1, "the large page's first small page can be written\n" );
        ok( access_faults( view + LARGE_PAGE - PAGE, TRUE ) == 1, "its last small page can be written\n" );
        ok( access_faults( view + LARGE_PAGE - PAGE, FALSE ) == 0, "its last small page cannot be read\n" );
        ok( access_faults( view + LARGE_PAGE, TRUE ) == 0, "the second large page cannot be written\n" );
        ok( VirtualQuery( view, &info, sizeof(info) ) == sizeof(info), "VirtualQuery failed\n" );
        ok( info.Protect == PAGE_READONLY && info.RegionSize == LARGE_PAGE,
            "VirtualQuery: protect %#lx, size %#llx\n", (unsigned long)info.Protect,
            (unsigned long long)info.RegionSize );

        /* a range across the two grows at both ends: all of both */
        ret = VirtualProtect( view + LARGE_PAGE - PAGE, 2 * PAGE, PAGE_NOACCESS, &old );
        ok( ret == TRUE, "VirtualProtect across: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
        ok( old == PAGE_READONLY, "across: old protection %#lx\n", (unsigned long)old );
        ok( access_faults( view, FALSE ) == 1 && access_faults( view + 2 * LARGE_PAGE - PAGE, FALSE ) == 1,
            "across: a small page can still be read\n" );
        ok( VirtualQuery( view, &info, sizeof(info) ) == sizeof(info), "VirtualQuery failed\n" );
        ok( info.Protect == PAGE_NOACCESS && info.RegionSize == 2 * LARGE_PAGE,
            "across: protect %#lx, size %#llx\n", (unsigned long)info.Protect,
            (unsigned long long)info.RegionSize );

        /* the next Map gives read/write back (awe-spec.md 2.8) */
        ret = MapUserPhysicalPages( view, 2, p );
        ok( ret == TRUE, "remap: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
        ok( access_faults( view + LARGE_PAGE + 7 * PAGE, TRUE ) == 0, "remap: the page is not writable\n" );
    }

out_release:
    release_region( view );
out:
    n = 2;
    ok( FreeUserPhysicalPages( section, &n, p ) && n == 2, "Free failed, error %lu\n",
        (unsigned long)GetLastError() );
    CloseHandle( section );
}

/* CreateFileMapping2 makes an AWE section of one kind (awe-spec.md 2.5, ZGC's call): anything
 * else asked with the UserPhysicalFlags parameter is refused with ERROR_INVALID_PARAMETER here.
 * The spec has no rule for these (what Windows answers is [U]): a section Windows makes is
 * accepted as broken() and closed. */
static void check_section_refused( const char *what, ULONG protect, ULONG attributes, PCWSTR name,
                                   MEM_EXTENDED_PARAMETER *params, ULONG nparams )
{
    HANDLE section;

    SetLastError( 0xdeadbeef );
    section = pCreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_MAP_READ | SECTION_MAP_WRITE, protect,
                                   attributes, 0, name, params, nparams );
    ok( (!section && GetLastError() == ERROR_INVALID_PARAMETER) || broken( section != NULL ),
        "%s: got %p, error %lu\n", what, section, (unsigned long)GetLastError() );
    if (section) CloseHandle( section );
}

static void test_section_refused(void)
{
    static const WCHAR name[] = {'a','w','e','-','s','e','c','t','i','o','n',0};
    MEM_EXTENDED_PARAMETER params[2];

    if (!have_sections()) return;
    set_param( &params[0], MemSectionExtendedParameterUserPhysicalFlags, 0 );
    params[1] = params[0];

    check_section_refused( "PAGE_READONLY", PAGE_READONLY, SEC_RESERVE, NULL, params, 1 );
    check_section_refused( "PAGE_EXECUTE_READWRITE", PAGE_EXECUTE_READWRITE, SEC_RESERVE, NULL, params, 1 );
    check_section_refused( "SEC_COMMIT", PAGE_READWRITE, SEC_COMMIT, NULL, params, 1 );
    check_section_refused( "SEC_RESERVE | SEC_NOCACHE", PAGE_READWRITE, SEC_RESERVE | SEC_NOCACHE, NULL, params, 1 );
    check_section_refused( "named", PAGE_READWRITE, SEC_RESERVE, name, params, 1 );
    check_section_refused( "two UserPhysicalFlags", PAGE_READWRITE, SEC_RESERVE, NULL, params, 2 );
    check_section_refused( "no array", PAGE_READWRITE, SEC_RESERVE, NULL, NULL, 1 );
    params[0].ULong64 = 1;
    check_section_refused( "UserPhysicalFlags 1", PAGE_READWRITE, SEC_RESERVE, NULL, params, 1 );
    set_param( &params[0], MemSectionExtendedParameterUserPhysicalFlags, 0 );
    params[0].Reserved = 1;
    check_section_refused( "reserved bits", PAGE_READWRITE, SEC_RESERVE, NULL, params, 1 );
    set_param( &params[0], MemSectionExtendedParameterUserPhysicalFlags, 0 );
    set_param( &params[1], MemSectionExtendedParameterNumaNode, 1 );
    check_section_refused( "NUMA node 1", PAGE_READWRITE, SEC_RESERVE, NULL, params, 2 );
    set_param( &params[1], 0x7f, 0 );
    check_section_refused( "unknown type", PAGE_READWRITE, SEC_RESERVE, NULL, params, 2 );
}

START_TEST(modern)
{
    pAllocateUserPhysicalPages2 = KERNEL_FUNC( AllocateUserPhysicalPages2 );
    pNtAllocateUserPhysicalPagesEx = NTDLL_FUNC( NtAllocateUserPhysicalPagesEx );
    pCreateFileMapping2 = KERNEL_FUNC( CreateFileMapping2 );
    pVirtualAlloc2 = KERNEL_FUNC( VirtualAlloc2 );

    /* without the privilege first: step 1 precedes the privilege check */
    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );
    test_allocate2_parameters();

    have_privilege = set_lock_privilege( TRUE );
    test_allocate2();
    test_map_readonly();
    test_pfn_width();
    test_section_allocate();
    test_section_views();
    test_section_lifetime();
    test_section_large();
    test_section_large_views();
    test_section_large_protect();
    test_section_readonly_view();
    test_section_refused();
    set_lock_privilege( FALSE );
}
