/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Conformance tests: VirtualAlloc, VirtualQuery, VirtualFree, VirtualProtect, VirtualLock.
 *
 * Group V of awe-spec.md section 8 (MEM_PHYSICAL regions), plus the ordinary reserve, commit,
 * decommit, protect, query and release that ported programs use next to AWE (their PFN arrays
 * live in committed memory).  Cases marked Pv need SeLockMemoryPrivilege: skipped on Windows
 * accounts without it; on Linux, where every process holds it, its absence fails.  V21 re-runs this test
 * as "awe_test virtual child alloc PAGES".  Builds for Windows too (make winetests-mingw). */

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

#define check_region( addr, base, alloc_prot, size, state, prot, type ) \
    check_region_( __FILE__, __LINE__, addr, base, alloc_prot, size, state, prot, type )
static void check_region_( const char *file, int line, const void *addr, const void *base,
                           DWORD alloc_prot, SIZE_T size, DWORD state, DWORD prot, DWORD type )
{
    MEMORY_BASIC_INFORMATION info;
    SIZE_T ret;

    memset( &info, 0xcc, sizeof(info) );
    ret = VirtualQuery( addr, &info, sizeof(info) );
    ok_( file, line )( ret == sizeof(info), "VirtualQuery returned %llu, error %lu\n",
                       (unsigned long long)ret, (unsigned long)GetLastError() );
    if (ret != sizeof(info)) return;
    ok_( file, line )( info.BaseAddress == (void *)((ULONG_PTR)addr & ~(ULONG_PTR)(PAGE - 1)),
                       "BaseAddress %p\n", info.BaseAddress );
    ok_( file, line )( info.AllocationBase == base, "AllocationBase %p, expected %p\n",
                       info.AllocationBase, base );
    ok_( file, line )( info.AllocationProtect == alloc_prot, "AllocationProtect %#lx\n",
                       (unsigned long)info.AllocationProtect );
    ok_( file, line )( info.RegionSize == size, "RegionSize %#llx, expected %#llx\n",
                       (unsigned long long)info.RegionSize, (unsigned long long)size );
    ok_( file, line )( info.State == state, "State %#lx, expected %#lx\n",
                       (unsigned long)info.State, (unsigned long)state );
    ok_( file, line )( info.Protect == prot, "Protect %#lx, expected %#lx\n",
                       (unsigned long)info.Protect, (unsigned long)prot );
    ok_( file, line )( info.Type == type, "Type %#lx, expected %#lx\n", (unsigned long)info.Type,
                       (unsigned long)type );
}

static DWORD query_state( const void *addr )
{
    MEMORY_BASIC_INFORMATION info;

    if (VirtualQuery( addr, &info, sizeof(info) ) != sizeof(info)) return 0;
    return info.State;
}

/* ---- ordinary memory ----------------------------------------------------------------------- */

static void test_system_info(void)
{
    SYSTEM_INFO si;

    memset( &si, 0xcc, sizeof(si) );
    GetSystemInfo( &si );
    ok( si.dwPageSize == PAGE, "got page size %lu\n", (unsigned long)si.dwPageSize );
    ok( si.dwAllocationGranularity == GRANULARITY, "got granularity %lu\n",
        (unsigned long)si.dwAllocationGranularity );
}

/* Commit without a reservation; the MEM_RELEASE rules. */
static void test_commit(void)
{
    char *base;
    ULONG_PTR i, nonzero = 0;
    BOOL ret;

    base = VirtualAlloc( NULL, 3 * PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( base != NULL, "VirtualAlloc(MEM_COMMIT) failed, error %lu\n",
        (unsigned long)GetLastError() );
    if (!base) return;
    ok( !((ULONG_PTR)base % GRANULARITY), "%p is not aligned to the granularity\n", base );
    for (i = 0; i < 3 * PAGE / sizeof(ULONG_PTR); i++) if (((ULONG_PTR *)base)[i]) nonzero++;
    ok( nonzero == 0, "%llu non-zero words\n", (unsigned long long)nonzero );
    memset( base, 0x5a, 3 * PAGE );
    ok( base[3 * PAGE - 1] == 0x5a, "got %#x\n", base[3 * PAGE - 1] );
    check_region( base + PAGE, base, PAGE_READWRITE, 2 * PAGE, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE );

    SetLastError( 0xdeadbeef );
    ret = VirtualFree( base, PAGE, MEM_RELEASE );
    ok( ret == FALSE, "release with a size: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = VirtualFree( base + PAGE, 0, MEM_RELEASE );
    ok( ret == FALSE, "release not at the base: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "got %lu\n", (unsigned long)GetLastError() );

    ret = VirtualFree( base, 0, MEM_RELEASE );
    ok( ret == TRUE, "release failed, error %lu\n", (unsigned long)GetLastError() );
    ok( query_state( base ) == MEM_FREE, "state %#lx after the release\n",
        (unsigned long)query_state( base ) );

    SetLastError( 0xdeadbeef );
    base = VirtualAlloc( NULL, 0, MEM_COMMIT, PAGE_READWRITE );
    ok( base == NULL, "size 0: got %p\n", base );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    base = VirtualAlloc( NULL, PAGE, 0, PAGE_READWRITE );
    ok( base == NULL, "type 0: got %p\n", base );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    base = VirtualAlloc( NULL, PAGE, MEM_COMMIT, 0 );
    ok( base == NULL, "protection 0: got %p\n", base );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );
}

/* Reserve, then commit, protect and decommit single pages inside the reservation. */
static void test_reserve_commit(void)
{
    char *base, *p;
    DWORD old;
    BOOL ret;

    base = VirtualAlloc( NULL, 16 * PAGE, MEM_RESERVE, PAGE_NOACCESS );
    ok( base != NULL, "VirtualAlloc(MEM_RESERVE) failed, error %lu\n",
        (unsigned long)GetLastError() );
    if (!base) return;
    ok( !((ULONG_PTR)base % GRANULARITY), "%p is not aligned to the granularity\n", base );
    check_region( base, base, PAGE_NOACCESS, 16 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    ok( access_faults( base, FALSE ) == 1, "reserved memory is readable\n" );

    p = VirtualAlloc( base + 2 * PAGE, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( p == base + 2 * PAGE, "commit returned %p, expected %p\n", p, base + 2 * PAGE );
    if (!p) goto out;
    check_region( base, base, PAGE_NOACCESS, 2 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    check_region( p, base, PAGE_NOACCESS, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    check_region( p + PAGE, base, PAGE_NOACCESS, 13 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    p[0] = 0x42;

    ret = VirtualProtect( p, PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE, "VirtualProtect failed, error %lu\n", (unsigned long)GetLastError() );
    ok( old == PAGE_READWRITE, "old protection %#lx\n", (unsigned long)old );
    check_region( p, base, PAGE_NOACCESS, PAGE, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );
    ok( access_faults( p, TRUE ) == 1, "a read-only page is writable\n" );
    ok( access_faults( p, FALSE ) == 0, "a read-only page is not readable\n" );
    ok( p[0] == 0x42, "got %#x\n", p[0] );

    SetLastError( 0xdeadbeef );
    ret = VirtualProtect( base, PAGE, PAGE_READONLY, &old );
    ok( ret == FALSE, "protecting reserved memory: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "got %lu\n", (unsigned long)GetLastError() );

    ret = VirtualProtect( p, PAGE, PAGE_READWRITE, &old );
    ok( ret == TRUE, "VirtualProtect failed, error %lu\n", (unsigned long)GetLastError() );
    ok( old == PAGE_READONLY, "old protection %#lx\n", (unsigned long)old );

    ret = VirtualFree( p, PAGE, MEM_DECOMMIT );
    ok( ret == TRUE, "decommit failed, error %lu\n", (unsigned long)GetLastError() );
    ok( query_state( p ) == MEM_RESERVE, "state %#lx after the decommit\n",
        (unsigned long)query_state( p ) );
    ok( access_faults( p, FALSE ) == 1, "decommitted memory is readable\n" );

    p = VirtualAlloc( base + 2 * PAGE, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( p == base + 2 * PAGE, "commit returned %p\n", p );
    if (p) ok( p[0] == 0, "recommitted memory holds %#x\n", p[0] );
out:
    release_region( base );
}

/* ---- MEM_PHYSICAL reservations ------------------------------------------------------------- */

/* V01: reserving an AWE region needs no privilege. */
static void test_reserve_physical_without_privilege(void)
{
    char *awe;

    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );
    SetLastError( 0xdeadbeef );
    awe = VirtualAlloc( NULL, 16 * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
    ok( awe != NULL, "V01: got NULL, error %lu\n", (unsigned long)GetLastError() );
    ok( !((ULONG_PTR)awe % GRANULARITY), "V01: %p is not aligned to the granularity\n", awe );
    release_region( awe );
}

/* V02, V03, V05, V06 and the other flag and protection rules of awe-spec.md section 2.5. */
static void test_reserve_physical_flags(void)
{
    static const struct
    {
        const char *name;
        DWORD type;
        DWORD protect;
        BOOL success;
    }
    tests[] =
    {
        { "V02 no MEM_RESERVE",  MEM_PHYSICAL,                             PAGE_READWRITE, FALSE },
        { "V03 MEM_COMMIT",      MEM_RESERVE | MEM_COMMIT | MEM_PHYSICAL,  PAGE_READWRITE, FALSE },
        { "MEM_RESET",           MEM_RESERVE | MEM_RESET | MEM_PHYSICAL,   PAGE_READWRITE, FALSE },
        { "V05 execute",         MEM_RESERVE | MEM_PHYSICAL,       PAGE_EXECUTE_READWRITE, FALSE },
        { "no access",           MEM_RESERVE | MEM_PHYSICAL,               PAGE_NOACCESS,  FALSE },
        { "guard",               MEM_RESERVE | MEM_PHYSICAL,  PAGE_READWRITE | PAGE_GUARD, FALSE },
        { "V06 MEM_TOP_DOWN",    MEM_RESERVE | MEM_PHYSICAL | MEM_TOP_DOWN, PAGE_READWRITE, TRUE },
    };
    unsigned int i;
    char *p;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
    {
        winetest_push_context( "%s", tests[i].name );
        SetLastError( 0xdeadbeef );
        p = VirtualAlloc( NULL, 16 * PAGE, tests[i].type, tests[i].protect );
        if (tests[i].success)
        {
            ok( p != NULL, "got NULL, error %lu\n", (unsigned long)GetLastError() );
            release_region( p );
        }
        else
        {
            ok( p == NULL, "got %p\n", p );
            ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n",
                (unsigned long)GetLastError() );
            if (p) VirtualFree( p, 0, MEM_RELEASE );
        }
        winetest_pop_context();
    }
}

/* V04, V07, V08: combinations that newer Windows may accept. */
static void test_reserve_physical_unverified(void)
{
    ULONG_PTR frame[1] = { 1 };
    DWORD err;
    BOOL ret;
    char *p;

    /* V04: PAGE_READONLY is refused ([S]); 24H2 might reserve a region that maps read-only */
    SetLastError( 0xdeadbeef );
    p = VirtualAlloc( NULL, 16 * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READONLY );
    ok( p == NULL || broken( p != NULL ), "V04: got %p\n", p );
    if (!p)
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "V04: got %lu\n",
            (unsigned long)GetLastError() );
    else
    {
        if (have_privilege && alloc_frames( frame, 1 ))
        {
            if (MapUserPhysicalPages( p, 1, frame ))
            {
                ok( access_faults( p, TRUE ) == 1, "V04: the read-only region maps writable\n" );
                MapUserPhysicalPages( p, 1, NULL );
            }
            free_frames( frame, 1 );
        }
        release_region( p );
    }

    /* V07: MEM_WRITE_WATCH is refused ([S]); 24H2 lets it through its first check */
    SetLastError( 0xdeadbeef );
    p = VirtualAlloc( NULL, 16 * PAGE, MEM_RESERVE | MEM_PHYSICAL | MEM_WRITE_WATCH,
                      PAGE_READWRITE );
    ok( p == NULL || broken( p != NULL ), "V07: got %p\n", p );
    if (!p)
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "V07: got %lu\n",
            (unsigned long)GetLastError() );
    else release_region( p );

    /* V08: MEM_PHYSICAL | MEM_LARGE_PAGES is MEM_64K_PAGES: refused by 2003, a 64K-page
     * reservation on newer Windows; either way not an AWE region */
    SetLastError( 0xdeadbeef );
    p = VirtualAlloc( NULL, GRANULARITY, MEM_RESERVE | MEM_64K_PAGES, PAGE_READWRITE );
    if (!p)
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "V08: got %lu\n",
            (unsigned long)GetLastError() );
    else
    {
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( p, 1, frame );
        err = GetLastError();
        ok( ret == FALSE, "V08: a MEM_64K_PAGES region maps AWE frames\n" );
        ok( err == ERROR_INVALID_PARAMETER, "V08: got %lu\n", (unsigned long)err );
        release_region( p );
    }
}

/* V09: a fresh AWE region is one reserved run. */
static void test_query_physical(void)
{
    char *awe;

    if (!(awe = reserve_awe( 16 ))) return;
    check_region( awe, awe, PAGE_READWRITE, 16 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    check_region( awe + 5 * PAGE + 123, awe, PAGE_READWRITE, 11 * PAGE, MEM_RESERVE, 0,
                  MEM_PRIVATE );
    ok( access_faults( awe, FALSE ) == 1, "an unmapped AWE page is readable\n" );
    release_region( awe );
}

/* V10-V15: an AWE region cannot be committed, partly released, decommitted or locked;
 * protecting its unmapped pages changes nothing. */
static void test_physical_region_errors(void)
{
    NTSTATUS status;
    SIZE_T size;
    void *base;
    char *awe, *p;
    DWORD old, err;
    BOOL ret;

    if (!(awe = reserve_awe( 16 ))) return;

    SetLastError( 0xdeadbeef );
    p = VirtualAlloc( awe, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( p == NULL, "V10: got %p\n", p );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "V10: got %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    p = VirtualAlloc( awe + PAGE, PAGE, MEM_RESET, PAGE_READWRITE );
    ok( p == NULL, "V10 (MEM_RESET): got %p\n", p );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "V10 (MEM_RESET): got %lu\n",
        (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = VirtualFree( awe + PAGE, 0, MEM_RELEASE );
    ok( ret == FALSE, "V11: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "V11: got %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = VirtualFree( awe, 16 * PAGE, MEM_RELEASE );
    ok( ret == FALSE, "release with a size: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );

    base = awe;
    size = PAGE;
    status = NtFreeVirtualMemory( GetCurrentProcess(), &base, &size, MEM_RELEASE );
    ok( status == STATUS_FREE_VM_NOT_AT_BASE, "V12: got %#lx\n", (unsigned long)(ULONG)status );
    check_region( awe, awe, PAGE_READWRITE, 16 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    ret = MapUserPhysicalPages( awe, 16, NULL );
    ok( ret == TRUE, "V12: the region is no longer an AWE region, error %lu\n",
        (unsigned long)GetLastError() );

    base = awe;
    size = PAGE;
    status = NtFreeVirtualMemory( GetCurrentProcess(), &base, &size, MEM_DECOMMIT );
    ok( status == STATUS_MEMORY_NOT_ALLOCATED, "decommit: got %#lx\n",
        (unsigned long)(ULONG)status );

    SetLastError( 0xdeadbeef );
    ret = VirtualFree( awe, PAGE, MEM_DECOMMIT );
    ok( ret == FALSE, "V13: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "V13: got %lu\n", (unsigned long)GetLastError() );

    /* [U order]: the AWE check may come after a check of the unmapped pages */
    SetLastError( 0xdeadbeef );
    ret = VirtualLock( awe, PAGE );
    err = GetLastError();
    ok( ret == FALSE, "V14: got %d\n", ret );
    ok( err == ERROR_INVALID_PARAMETER || broken( err == ERROR_INVALID_ADDRESS ) ||
        broken( err == ERROR_NOACCESS ), "V14: got %lu\n", (unsigned long)err );

    old = 0xdeadbeef;
    ret = VirtualProtect( awe, PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE, "V15: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( old == PAGE_NOACCESS, "V15: old protection %#lx\n", (unsigned long)old );
    check_region( awe, awe, PAGE_READWRITE, 16 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );

    /* the whole region goes at once */
    base = awe;
    size = 0;
    status = NtFreeVirtualMemory( GetCurrentProcess(), &base, &size, MEM_RELEASE );
    ok( status == STATUS_SUCCESS, "release: got %#lx\n", (unsigned long)(ULONG)status );
    ok( base == awe, "release: base %p\n", base );
    ok( size == 16 * PAGE, "release: size %#llx\n", (unsigned long long)size );
    if (status) return;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, NULL );
    ok( ret == FALSE, "map in a released region: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "got %lu\n", (unsigned long)GetLastError() );
}

/* ---- mapped AWE pages (Pv) ------------------------------------------------------------------ */

/* V16: queries split the region at mapping boundaries. */
static void test_query_mapped(void)
{
    ULONG_PTR pfn[2];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;

    ret = MapUserPhysicalPages( awe + 2 * PAGE, 2, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    check_region( awe, awe, PAGE_READWRITE, 2 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    check_region( awe + 2 * PAGE, awe, PAGE_READWRITE, 2 * PAGE, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE );
    check_region( awe + 3 * PAGE + 8, awe, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE );
    check_region( awe + 4 * PAGE, awe, PAGE_READWRITE, 12 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );

    ret = MapUserPhysicalPages( awe + 2 * PAGE, 2, NULL );
    ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
    check_region( awe, awe, PAGE_READWRITE, 16 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* V15, V17-V19: VirtualProtect takes NOACCESS, READONLY and READWRITE for mapped pages only;
 * other protections fail with 487; the next Map makes a page read/write again. */
static void test_protect_mapped(void)
{
    static const DWORD refused[] =
    {
        PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_WRITECOPY,
        PAGE_READWRITE | PAGE_GUARD, PAGE_READWRITE | PAGE_NOCACHE,
    };
    ULONG_PTR pfn[2];
    unsigned int i;
    DWORD old;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;

    ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    if (!ret) goto out_free;
    ((ULONG_PTR *)awe)[0] = STAMP(0);

    old = 0xdeadbeef;
    ret = VirtualProtect( awe, PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE, "V17: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( old == PAGE_READWRITE, "V17: old protection %#lx\n", (unsigned long)old );
    check_region( awe, awe, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );
    ok( access_faults( awe, TRUE ) == 1, "V17: the page is writable\n" );
    ok( access_faults( awe, FALSE ) == 0, "V17: the page is not readable\n" );
    ok( read_word( awe ) == STAMP(0), "V17: got %#llx\n", (unsigned long long)read_word( awe ) );

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    {
        winetest_push_context( "protection %#lx", (unsigned long)refused[i] );
        SetLastError( 0xdeadbeef );
        ret = VirtualProtect( awe, PAGE, refused[i], &old );
        ok( ret == FALSE, "V18: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_ADDRESS, "V18: got %lu\n",
            (unsigned long)GetLastError() );
        check_region( awe, awe, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );
        winetest_pop_context();
    }

    ret = VirtualProtect( awe, PAGE, PAGE_NOACCESS, &old );
    ok( ret == TRUE, "NOACCESS: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( old == PAGE_READONLY, "old protection %#lx\n", (unsigned long)old );
    check_region( awe, awe, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_NOACCESS, MEM_PRIVATE );
    ok( access_faults( awe, FALSE ) == 1, "a NOACCESS page is readable\n" );

    ret = VirtualProtect( awe, PAGE, PAGE_READWRITE, &old );
    ok( ret == TRUE, "READWRITE: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( old == PAGE_NOACCESS, "old protection %#lx\n", (unsigned long)old );
    ok( access_faults( awe, TRUE ) == 0, "the page is not writable again\n" );

    /* a range of a mapped and an unmapped page: only the mapped one changes */
    ret = VirtualProtect( awe, 2 * PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE, "V15 (mixed): got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( old == PAGE_READWRITE, "V15 (mixed): old protection %#lx\n", (unsigned long)old );
    check_region( awe + PAGE, awe, PAGE_READWRITE, 15 * PAGE, MEM_RESERVE, 0, MEM_PRIVATE );

    /* V19: remapping after an unmap gives a read/write page with the frame's data */
    ret = MapUserPhysicalPages( awe, 1, NULL );
    ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
    ok( ret == TRUE, "V19: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    check_region( awe, awe, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    ok( access_faults( awe, TRUE ) == 0, "V19: the page is not writable\n" );
    if (ret && !access_faults( awe, TRUE ))
    {
        ok( read_word( awe ) == STAMP(0), "V19: got %#llx\n",
            (unsigned long long)read_word( awe ) );
        ((ULONG_PTR *)awe)[1] = 1;
    }

    /* a page protected before it was mapped is read/write once mapped */
    ret = VirtualProtect( awe + PAGE, PAGE, PAGE_READONLY, &old );
    ok( ret == TRUE, "V15: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( awe + PAGE, 1, &pfn[1] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    check_region( awe, awe, PAGE_READWRITE, 2 * PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    MapUserPhysicalPages( awe, 2, NULL );
out_free:
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* V14 on a mapped page, where the order of the checks does not matter. */
static void test_lock_mapped(void)
{
    ULONG_PTR pfn[1];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 1 )) goto out;
    ret = MapUserPhysicalPages( awe, 1, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    SetLastError( 0xdeadbeef );
    ret = VirtualLock( awe, PAGE );
    ok( ret == FALSE, "V14: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "V14: got %lu\n",
        (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 1, NULL );
    free_frames( pfn, 1 );
out:
    release_region( awe );
}

/* V20: releasing a region unmaps its pages; the frames stay allocated with their data. */
static void test_release_mapped(void)
{
    ULONG_PTR i, pfn[4];
    char *awe, *awe2;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 4 ))
    {
        release_region( awe );
        return;
    }
    ret = MapUserPhysicalPages( awe, 4, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    for (i = 0; ret && i < 4; i++) ((ULONG_PTR *)(awe + i * PAGE))[0] = STAMP(i);

    ret = VirtualFree( awe, 0, MEM_RELEASE );
    ok( ret == TRUE, "V20: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( query_state( awe ) == MEM_FREE, "V20: state %#lx\n", (unsigned long)query_state( awe ) );

    if ((awe2 = reserve_awe( 16 )))
    {
        ret = MapUserPhysicalPages( awe2, 4, pfn );
        ok( ret == TRUE, "V20: the frames cannot be mapped again, error %lu\n",
            (unsigned long)GetLastError() );
        for (i = 0; ret && i < 4; i++)
            ok( read_word( awe2 + i * PAGE ) == STAMP(i), "V20: frame %llu holds %#llx\n",
                (unsigned long long)i, (unsigned long long)read_word( awe2 + i * PAGE ) );
        MapUserPhysicalPages( awe2, 4, NULL );
        release_region( awe2 );
    }
    free_frames( pfn, 4 );
}

/* PFN arrays in committed memory, reserved then committed in two steps. */
static void test_pfn_array_in_committed_memory(void)
{
    ULONG_PTR *pfn, n;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    pfn = VirtualAlloc( NULL, GRANULARITY, MEM_RESERVE, PAGE_READWRITE );
    ok( pfn != NULL, "reserve failed, error %lu\n", (unsigned long)GetLastError() );
    if (!pfn) goto out;
    ok( VirtualAlloc( pfn, PAGE, MEM_COMMIT, PAGE_READWRITE ) == pfn, "commit failed, error %lu\n",
        (unsigned long)GetLastError() );

    n = 16;
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == TRUE, "allocate failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret)
    {
        ok( n == 16, "got n %llu\n", (unsigned long long)n );
        ret = MapUserPhysicalPages( awe, 16, pfn );
        ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
        if (ret) memset( awe, 0x77, 16 * PAGE );
        free_frames( pfn, 16 );
        ok( access_faults( awe + 15 * PAGE, FALSE ) == 1, "a freed frame is still mapped\n" );
    }
    release_region( pfn );
out:
    release_region( awe );
}

/* V21: a child allocates a quarter of the memory and exits, eight times in turn: exit frees
 * frames (without it the fifth child would find the memory gone; eight leave room for the
 * system, or the server, to take a moment to reclaim a dead child's frames). */
static void test_process_exit(void)
{
    ULONG_PTR pages = physical_pages() / 4;
    struct child child;
    char line[256], arg[32], *reply;
    int i, code;

    NEED_PRIVILEGE();
    if (!pages)
    {
        skip( "size of physical memory unknown\n" );
        return;
    }
    snprintf( arg, sizeof(arg), "%llu", (unsigned long long)pages );
    for (i = 0; i < 8; i++)
    {
        winetest_push_context( "V21 child %d", i );
        if (!start_child( &child, "virtual", "alloc", arg ))
        {
            ok( 0, "cannot start a child process\n" );
            winetest_pop_context();
            break;
        }
        reply = child_expect( &child, "allocated", line, sizeof(line) );
        ok( reply != NULL, "the child did not answer\n" );
        if (reply)
            ok( strtoull( reply, NULL, 10 ) == pages, "the child got %s pages of %s\n",
                reply, arg );
        code = child_finish( &child );
        ok( code == 0, "child exited with %d\n", code );
        winetest_pop_context();
    }
}

static void child_alloc( ULONG_PTR count )
{
    ULONG_PTR *pfn, n = count;
    BOOL ret;

    ok( set_lock_privilege( TRUE ), "child: cannot enable SeLockMemoryPrivilege\n" );
    pfn = VirtualAlloc( NULL, count * sizeof(*pfn), MEM_COMMIT, PAGE_READWRITE );
    ok( pfn != NULL, "child: VirtualAlloc failed, error %lu\n", (unsigned long)GetLastError() );
    if (!pfn)
    {
        child_reply( "allocated 0\n" );
        return;
    }
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == TRUE, "V21: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( n == count, "V21: got n %llu of %llu\n", (unsigned long long)n,
        (unsigned long long)count );
    child_reply( "allocated %llu\n", (unsigned long long)(ret ? n : 0) );
    /* exits holding the frames */
}

START_TEST(virtual)
{
    char **argv;
    int argc = winetest_get_mainargs( &argv );

    if (argc >= 5 && !strcmp( argv[2], "child" ) && !strcmp( argv[3], "alloc" ))
    {
        child_alloc( (ULONG_PTR)strtoull( argv[4], NULL, 10 ) );
        return;
    }
    if (argc >= 3 && !strcmp( argv[2], "child" ))
    {
        ok( 0, "unknown child mode\n" );
        return;
    }

    test_system_info();
    test_commit();
    test_reserve_commit();

    /* without the privilege (disabled, or not held on a stock Windows account) */
    test_reserve_physical_without_privilege();
    test_reserve_physical_flags();
    test_query_physical();
    test_physical_region_errors();

    have_privilege = set_lock_privilege( TRUE );
    test_reserve_physical_unverified();
    test_query_mapped();
    test_protect_mapped();
    test_lock_mapped();
    test_release_mapped();
    test_pfn_array_in_committed_memory();
    test_process_exit();
}
