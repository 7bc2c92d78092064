/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Conformance tests: allocating, mapping, scattering and freeing AWE physical pages.
 *
 * The cases are groups A, M, S and F of awe-spec.md section 8; each test names the cases it
 * covers.  Cases marked Pv there need SeLockMemoryPrivilege: skipped on Windows accounts
 * without it; on Linux, where the awe-server grants it to every process, its absence fails.
 * Cross-process cases re-run this test as "awe_test physical child MODE".  Builds for
 * Windows too (make winetests-mingw). */

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

static NTSTATUS (NTAPI *pNtAllocateUserPhysicalPages)( HANDLE, PULONG_PTR, PULONG_PTR );
static NTSTATUS (NTAPI *pNtFreeUserPhysicalPages)( HANDLE, PULONG_PTR, PULONG_PTR );

/* ---- without the privilege ---------------------------------------------------------------- */

/* F02: a process that never allocated frames (nor reserved an AWE region) has no AWE state. */
static void test_free_never_allocated(void)
{
    struct child child;
    char line[256];
    int code;

    if (!start_child( &child, "physical", "fresh", NULL ))
    {
        ok( 0, "cannot start a child process\n" );
        return;
    }
    ok( child_expect( &child, "done", line, sizeof(line) ) != NULL, "the child did not answer\n" );
    code = child_finish( &child );
    ok( code == 0, "child exited with %d\n", code );
}

static void child_fresh(void)
{
    ULONG_PTR n = 1, pfn[1] = { 1 };
    BOOL ret;

    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( !ret, "F02: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "F02: got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == 0, "F02: got n %llu\n", (unsigned long long)n );
    child_reply( "done\n" );
}

/* A01, A03: N == 0 succeeds before the privilege check; N > 0 needs the privilege. */
static void test_allocate_without_privilege(void)
{
    ULONG_PTR n, pfn[4];
    BOOL ret;
    int i;

    if (winetest_platform_is_wine)
    {
        /* the emulation: every process holds the privilege, disabled until it is enabled */
        n = 1;
        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
        ok( ret == FALSE, "the privilege is enabled by default\n" );
        ok( GetLastError() == ERROR_PRIVILEGE_NOT_HELD, "got %lu\n",
            (unsigned long)GetLastError() );
        if (ret) FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    }
    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );

    for (i = 0; i < 4; i++) pfn[i] = SENTINEL;
    n = 0;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == TRUE, "A01: got %d\n", ret );
    ok( GetLastError() == 0xdeadbeef, "A01: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 0, "A01: got n %llu\n", (unsigned long long)n );
    ok( pfn[0] == SENTINEL, "A01: got pfn %#llx\n", (unsigned long long)pfn[0] );

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "A03: got %d\n", ret );
    ok( GetLastError() == ERROR_PRIVILEGE_NOT_HELD, "A03: got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == 4, "A03: got n %llu\n", (unsigned long long)n );
    for (i = 0; i < 4; i++)
        ok( pfn[i] == SENTINEL, "A03: pfn[%d] %#llx\n", i, (unsigned long long)pfn[i] );
}

/* A02, A04-A12: argument checks that come before the privilege check. */
static void test_allocate_parameters(void)
{
    ULONG_PTR n, pfn[5], buf[2];
    char *misaligned = (char *)buf + 1;
    HANDLE handle, token;
    NTSTATUS status;
    BOOL ret;

    n = 0;
    ret = AllocateUserPhysicalPages( BAD_HANDLE, &n, pfn );
    ok( ret == TRUE, "A02: got %d\n", ret );
    ok( n == 0, "A02: got n %llu\n", (unsigned long long)n );

    if (pNtAllocateUserPhysicalPages)
    {
        status = pNtAllocateUserPhysicalPages( GetCurrentProcess(), NULL, pfn );
        ok( status == STATUS_ACCESS_VIOLATION, "A04: got %#lx\n", (unsigned long)(ULONG)status );

        n = 4;
        memcpy( misaligned, &n, sizeof(n) );
        status = pNtAllocateUserPhysicalPages( GetCurrentProcess(), (ULONG_PTR *)misaligned, pfn );
        ok( status == STATUS_DATATYPE_MISALIGNMENT, "A05: got %#lx\n",
            (unsigned long)(ULONG)status );
        memcpy( &n, misaligned, sizeof(n) );
        ok( n == 4, "A05: got n %llu\n", (unsigned long long)n );
    }
    else win_skip( "NtAllocateUserPhysicalPages is missing\n" );

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, NULL );
    ok( ret == FALSE, "A06: got %d\n", ret );
    ok( GetLastError() == ERROR_NOACCESS, "A06: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 4, "A06: got n %llu\n", (unsigned long long)n );

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, (ULONG_PTR *)((char *)pfn + 1) );
    ok( ret == FALSE, "A07: got %d\n", ret );
    ok( GetLastError() == ERROR_NOACCESS, "A07: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 4, "A07: got n %llu\n", (unsigned long long)n );

    n = ~(ULONG_PTR)0;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "A08: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "A08: got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == ~(ULONG_PTR)0, "A08: got n %#llx\n", (unsigned long long)n );

    /* the largest count that passes the overflow check: the array probe fails */
    n = ~(ULONG_PTR)0 / sizeof(ULONG_PTR);
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "A09: got %d\n", ret );
    ok( GetLastError() == ERROR_NOACCESS, "A09: got %lu\n", (unsigned long)GetLastError() );
    ok( n == ~(ULONG_PTR)0 / sizeof(ULONG_PTR), "A09: got n %#llx\n", (unsigned long long)n );

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( BAD_HANDLE, &n, pfn );
    ok( ret == FALSE, "A10: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_HANDLE, "A10: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 4, "A10: got n %llu\n", (unsigned long long)n );

    /* A11 with a token, a handle of another type that exists on both platforms */
    ret = OpenProcessToken( GetCurrentProcess(), TOKEN_QUERY, &token );
    ok( ret, "OpenProcessToken failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret)
    {
        n = 4;
        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( token, &n, pfn );
        ok( ret == FALSE, "A11: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_HANDLE, "A11: got %lu\n",
            (unsigned long)GetLastError() );
        ok( n == 4, "A11: got n %llu\n", (unsigned long long)n );
        CloseHandle( token );
    }
#ifdef _WIN32
    handle = CreateEventA( NULL, FALSE, FALSE, NULL );
    ok( handle != NULL, "CreateEvent failed, error %lu\n", (unsigned long)GetLastError() );
    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( handle, &n, pfn );
    ok( ret == FALSE, "A11 (event): got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_HANDLE, "A11 (event): got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == 4, "A11 (event): got n %llu\n", (unsigned long long)n );
    CloseHandle( handle );
#endif

    handle = OpenProcess( PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId() );
    ok( handle != NULL, "OpenProcess failed, error %lu\n", (unsigned long)GetLastError() );
    if (handle)
    {
        n = 4;
        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( handle, &n, pfn );
        ok( ret == FALSE, "A12: got %d\n", ret );
        ok( GetLastError() == ERROR_ACCESS_DENIED, "A12: got %lu\n",
            (unsigned long)GetLastError() );
        ok( n == 4, "A12: got n %llu\n", (unsigned long long)n );
        CloseHandle( handle );
    }
}

/* M01-M05: Map's argument checks; M08's region check on the unmap path. */
static void test_map_parameters(void)
{
    ULONG_PTR junk[2] = { 0x1234, 0x1235 };
    char *awe, *norm;
    BOOL ret;

    if (!(awe = reserve_awe( 16 ))) return;
    norm = VirtualAlloc( NULL, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( norm != NULL, "VirtualAlloc failed, error %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 0, junk );
    ok( ret == FALSE, "M01: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "M01: got %lu\n",
        (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, ~(ULONG_PTR)0, junk );
    ok( ret == FALSE, "M02: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "M02: got %lu\n",
        (unsigned long)GetLastError() );

    if (norm)
    {
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( norm, 1, NULL );
        ok( ret == FALSE, "M03: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "M03: got %lu\n",
            (unsigned long)GetLastError() );

        /* the array is captured before the address is checked */
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( norm, 1, (ULONG_PTR *)1 );
        ok( ret == FALSE, "M04: got %d\n", ret );
        ok( GetLastError() == ERROR_NOACCESS, "M04: got %lu\n", (unsigned long)GetLastError() );
    }

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, NULL );
    ok( ret == TRUE, "M05: got %d, error %lu\n", ret, (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe + 15 * PAGE, 2, NULL );
    ok( ret == FALSE, "M08 (unmap): got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "M08 (unmap): got %lu\n",
        (unsigned long)GetLastError() );

    release_region( norm );
    release_region( awe );
}

/* S01-S04: Scatter's argument checks. */
static void test_scatter_parameters(void)
{
    void *vas[1];
    char *awe, *norm;
    BOOL ret;

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( NULL, 0, NULL );
    ok( ret == TRUE, "S01: got %d, error %lu\n", ret, (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( NULL, 1, NULL );
    ok( ret == FALSE, "S02: got %d\n", ret );
    ok( GetLastError() == ERROR_NOACCESS, "S02: got %lu\n", (unsigned long)GetLastError() );

    if (!(awe = reserve_awe( 16 ))) return;
    norm = VirtualAlloc( NULL, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( norm != NULL, "VirtualAlloc failed, error %lu\n", (unsigned long)GetLastError() );
    if (norm)
    {
        vas[0] = norm;
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPagesScatter( vas, 1, NULL );
        ok( ret == FALSE, "S03: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "S03: got %lu\n",
            (unsigned long)GetLastError() );
    }

    vas[0] = awe;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, ~(ULONG_PTR)0, NULL );
    ok( ret == FALSE, "S04: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "S04: got %lu\n",
        (unsigned long)GetLastError() );

    /* unmapping a page that is not mapped is no error */
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 1, NULL );
    ok( ret == TRUE, "got %d, error %lu\n", ret, (unsigned long)GetLastError() );

    release_region( norm );
    release_region( awe );
}

/* F01, F03-F06: Free's argument checks; *N is 0 after every failure. */
static void test_free_parameters(void)
{
    ULONG_PTR n, pfn[1] = { 1 };
    NTSTATUS status;
    HANDLE handle;
    BOOL ret;

    n = 0;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "F01: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "F01: got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == 0, "F01: got n %llu\n", (unsigned long long)n );

    n = ~(ULONG_PTR)0;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "F03: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "F03: got %lu\n",
        (unsigned long)GetLastError() );
    ok( n == 0, "F03: got n %llu\n", (unsigned long long)n );

    n = 1;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( BAD_HANDLE, &n, pfn );
    ok( ret == FALSE, "F04: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_HANDLE, "F04: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 0, "F04: got n %llu\n", (unsigned long long)n );

    handle = OpenProcess( PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId() );
    ok( handle != NULL, "OpenProcess failed, error %lu\n", (unsigned long)GetLastError() );
    if (handle)
    {
        n = 1;
        SetLastError( 0xdeadbeef );
        ret = FreeUserPhysicalPages( handle, &n, pfn );
        ok( ret == FALSE, "F05: got %d\n", ret );
        ok( GetLastError() == ERROR_ACCESS_DENIED, "F05: got %lu\n",
            (unsigned long)GetLastError() );
        ok( n == 0, "F05: got n %llu\n", (unsigned long long)n );
        CloseHandle( handle );
    }

    if (pNtFreeUserPhysicalPages)
    {
        status = pNtFreeUserPhysicalPages( GetCurrentProcess(), NULL, pfn );
        ok( status == STATUS_ACCESS_VIOLATION, "F06: got %#lx\n", (unsigned long)(ULONG)status );
    }
    else win_skip( "NtFreeUserPhysicalPages is missing\n" );
}

/* ---- allocation (Pv) ------------------------------------------------------------------------ */

/* A13-A15: distinct non-zero frames, zero-filled; only the first N entries are written. */
static void test_allocate(void)
{
    ULONG_PTR n, i, j, pfn[8], two[8], nonzero = 0;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;

    n = 8;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == TRUE, "A13: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (!ret) goto out;
    ok( n == 8, "A13: got n %llu\n", (unsigned long long)n );
    for (i = 0; i < 8; i++)
    {
        winetest_push_context( "pfn[%llu]", (unsigned long long)i );
        ok( pfn[i] != 0, "A13: got 0\n" );
        ok( pfn[i] < 0x80000000, "got %#llx\n", (unsigned long long)pfn[i] );
        for (j = 0; j < i; j++)
            ok( pfn[i] != pfn[j], "A13: same as pfn[%llu]\n", (unsigned long long)j );
        winetest_pop_context();
    }
    if (winetest_platform_is_wine)
    {
        /* the emulation hands out dense frame numbers: indexes into the process's frames */
        ULONG_PTR lo = pfn[0], hi = pfn[0];

        for (i = 1; i < 8; i++)
        {
            if (pfn[i] < lo) lo = pfn[i];
            if (pfn[i] > hi) hi = pfn[i];
        }
        ok( hi - lo < 0x10000, "A13: PFNs from %#llx to %#llx\n", (unsigned long long)lo,
            (unsigned long long)hi );
    }

    ret = MapUserPhysicalPages( awe, 8, pfn );
    ok( ret == TRUE, "A14: map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret)
    {
        for (i = 0; i < 8 * PAGE / sizeof(ULONG_PTR); i++)
            if (((volatile ULONG_PTR *)awe)[i]) nonzero++;
        ok( nonzero == 0, "A14: %llu non-zero words\n", (unsigned long long)nonzero );
        ret = MapUserPhysicalPages( awe, 8, NULL );
        ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
    }

    for (i = 0; i < 8; i++) two[i] = SENTINEL;
    n = 2;
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, two );
    ok( ret == TRUE, "A15: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        ok( n == 2, "A15: got n %llu\n", (unsigned long long)n );
        for (i = 2; i < 8; i++)
            ok( two[i] == SENTINEL, "A15: two[%llu] %#llx\n", (unsigned long long)i,
                (unsigned long long)two[i] );
        free_frames( two, 2 );
    }
    free_frames( pfn, 8 );
out:
    release_region( awe );
}

/* A16: twice the machine's memory: fewer pages ([S]) or a commit failure ([R]). */
static void test_allocate_large(void)
{
    ULONG_PTR req, n, freed, *big;
    DWORD err;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(req = physical_pages() * 2))
    {
        skip( "size of physical memory unknown\n" );
        return;
    }
    big = VirtualAlloc( NULL, req * sizeof(*big), MEM_COMMIT, PAGE_READWRITE );
    ok( big != NULL, "VirtualAlloc of the array failed, error %lu\n",
        (unsigned long)GetLastError() );
    if (!big) return;

    n = req;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, big );
    err = GetLastError();
    if (ret)
    {
        ok( n > 0 && n < req, "A16: got n %llu of %llu\n", (unsigned long long)n,
            (unsigned long long)req );
        freed = n;
        ret = FreeUserPhysicalPages( GetCurrentProcess(), &freed, big );
        ok( ret == TRUE, "free failed, error %lu\n", (unsigned long)GetLastError() );
        ok( freed == n, "freed %llu of %llu\n", (unsigned long long)freed, (unsigned long long)n );
    }
    else
    {
        ok( err == ERROR_COMMITMENT_LIMIT || err == ERROR_NO_SYSTEM_RESOURCES, "A16: got %lu\n",
            (unsigned long)err );
        ok( n == req, "A16: got n %llu\n", (unsigned long long)n );
    }
    release_region( big );
}

/* A17, A18: the NUMA variant; an impossible node is refused ([R], older Windows may ignore it). */
static void test_allocate_numa(void)
{
    ULONG_PTR n, pfn[4];
    BOOL ret;

    NEED_PRIVILEGE();

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPagesNuma( GetCurrentProcess(), &n, pfn, 0 );
    ok( ret == TRUE, "A17: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        ok( n == 4, "A17: got n %llu\n", (unsigned long long)n );
        free_frames( pfn, n );
    }

    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPagesNuma( GetCurrentProcess(), &n, pfn, 0xffff );
    ok( ret == FALSE || broken( ret == TRUE ), "A18: got %d\n", ret );
    if (ret) free_frames( pfn, n );
    else
    {
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "A18: got %lu\n",
            (unsigned long)GetLastError() );
        ok( n == 4, "A18: got n %llu\n", (unsigned long long)n );
    }
}

/* ---- Map (Pv) ------------------------------------------------------------------------------ */

/* M06, M07: data written through a mapping reads back; an unaligned address is rounded down. */
static void test_map(void)
{
    ULONG_PTR i, j, pfn[8], bad = 0;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 8 )) goto out;

    ret = MapUserPhysicalPages( awe, 4, pfn );
    ok( ret == TRUE, "M06: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (ret)
    {
        for (i = 0; i < 4; i++)
            for (j = 0; j < PAGE / sizeof(ULONG_PTR); j++)
                ((ULONG_PTR *)(awe + i * PAGE))[j] = STAMP(i) ^ j;
        for (i = 0; i < 4; i++)
            for (j = 0; j < PAGE / sizeof(ULONG_PTR); j++)
                if (((volatile ULONG_PTR *)(awe + i * PAGE))[j] != (STAMP(i) ^ j)) bad++;
        ok( bad == 0, "M06: %llu words differ\n", (unsigned long long)bad );
        ret = MapUserPhysicalPages( awe, 4, NULL );
        ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
    }

    if (stamp_frames( awe, pfn, 8 ))
    {
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( awe + 1, 1, &pfn[4] );
        ok( ret == TRUE, "M07: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
        ok( shows_frame( awe, STAMP(4) ), "M07: pfn[4] is not visible at awe\n" );
        ok( access_faults( awe + PAGE, FALSE ) == 1, "M07: awe+P is mapped\n" );
        MapUserPhysicalPages( awe, 1, NULL );
    }
    free_frames( pfn, 8 );
out:
    release_region( awe );
}

/* M08-M11: a range past the region, a region that is not AWE, PFN 0, a PFN not owned. */
static void test_map_errors(void)
{
    ULONG_PTR pfn[8], zero[1] = { 0 }, bogus[1];
    char *awe, *norm;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    norm = VirtualAlloc( NULL, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( norm != NULL, "VirtualAlloc failed, error %lu\n", (unsigned long)GetLastError() );
    if (!alloc_frames( pfn, 8 )) goto out;

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe + 15 * PAGE, 2, pfn );
    ok( ret == FALSE, "M08: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_PARAMETER, "M08: got %lu\n",
        (unsigned long)GetLastError() );
    ok( access_faults( awe + 15 * PAGE, FALSE ) == 1, "M08: awe+15P is mapped\n" );

    if (norm)
    {
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( norm, 1, pfn );
        ok( ret == FALSE, "M09: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "M09: got %lu\n",
            (unsigned long)GetLastError() );
    }

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, zero );
    ok( ret == FALSE, "M10: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "M10: got %lu\n", (unsigned long)GetLastError() );
    ok( access_faults( awe, FALSE ) == 1, "M10: awe is mapped\n" );

    bogus[0] = pfn[7] + 0x100000;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, bogus );
    ok( ret == FALSE, "M11: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "M11: got %lu\n", (unsigned long)GetLastError() );

    /* the frames are still usable: nothing was left half done */
    ret = MapUserPhysicalPages( awe, 8, pfn );
    ok( ret == TRUE, "map after the errors failed, error %lu\n", (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 8, NULL );
    free_frames( pfn, 8 );
out:
    release_region( norm );
    release_region( awe );
}

/* M12-M14, M19, M21: a frame is mapped at one address at most; 487 ([R]) or 87 ([S]). */
static void test_map_already_mapped(void)
{
    ULONG_PTR pfn[2], dup[2], swap[2];
    char *awe, *r2 = NULL;
    DWORD err;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;
    if (!stamp_frames( awe, pfn, 2 )) goto out_free;

    ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe + PAGE, 1, &pfn[0] );
    err = GetLastError();
    ok( ret == FALSE, "M12: got %d\n", ret );
    ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ), "M12: got %lu\n",
        (unsigned long)err );
    ok( shows_frame( awe, STAMP(0) ), "M12: awe no longer shows pfn[0]\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "M12: awe+P is mapped\n" );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
    err = GetLastError();
    ok( ret == FALSE, "M13: got %d\n", ret );
    ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ), "M13: got %lu\n",
        (unsigned long)err );
    ok( shows_frame( awe, STAMP(0) ), "M13: awe no longer shows pfn[0]\n" );

    MapUserPhysicalPages( awe, 1, NULL );
    dup[0] = dup[1] = pfn[0];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 2, dup );
    err = GetLastError();
    ok( ret == FALSE, "M14: got %d\n", ret );
    ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ), "M14: got %lu\n",
        (unsigned long)err );
    ok( access_faults( awe, FALSE ) == 1, "M14: awe is mapped\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "M14: awe+P is mapped\n" );

    ret = MapUserPhysicalPages( awe, 2, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    swap[0] = pfn[1];
    swap[1] = pfn[0];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 2, swap );
    err = GetLastError();
    ok( ret == FALSE, "M19: got %d\n", ret );
    ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ), "M19: got %lu\n",
        (unsigned long)err );
    ok( shows_frame( awe, STAMP(0) ), "M19: awe no longer shows pfn[0]\n" );
    ok( shows_frame( awe + PAGE, STAMP(1) ), "M19: awe+P no longer shows pfn[1]\n" );
    MapUserPhysicalPages( awe, 2, NULL );

    if ((r2 = reserve_awe( 4 )))
    {
        ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
        ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPages( r2, 1, &pfn[0] );
        err = GetLastError();
        ok( ret == FALSE, "M21: got %d\n", ret );
        ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ),
            "M21: got %lu\n", (unsigned long)err );
        ret = MapUserPhysicalPages( awe, 1, NULL );
        ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
        ret = MapUserPhysicalPages( r2, 1, &pfn[0] );
        ok( ret == TRUE, "M21: map in the second region failed, error %lu\n",
            (unsigned long)GetLastError() );
        ok( shows_frame( r2, STAMP(0) ), "M21: r2 does not show pfn[0]\n" );
        MapUserPhysicalPages( r2, 1, NULL );
        release_region( r2 );
    }
out_free:
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* M15: all or nothing, also when the failing call would have replaced a mapping. */
static void test_map_all_or_nothing(void)
{
    ULONG_PTR pfn[2], mixed[2];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;
    if (!stamp_frames( awe, pfn, 2 )) goto out_free;

    mixed[0] = pfn[0];
    mixed[1] = 0;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 2, mixed );
    ok( ret == FALSE, "M15: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "M15: got %lu\n", (unsigned long)GetLastError() );
    ok( access_faults( awe, FALSE ) == 1, "M15: page 0 is mapped\n" );

    ret = MapUserPhysicalPages( awe, 1, &pfn[1] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( awe, 2, mixed );
    ok( ret == FALSE, "M15 (replacing): got %d\n", ret );
    ok( shows_frame( awe, STAMP(1) ), "M15: the old mapping is gone\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "M15: page 1 is mapped\n" );

    /* pfn[0] was not left marked as mapped */
    ret = MapUserPhysicalPages( awe + 5 * PAGE, 1, &pfn[0] );
    ok( ret == TRUE, "M15: pfn[0] cannot be mapped, error %lu\n", (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 16, NULL );
out_free:
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* M16-M18: unmapping makes pages fault and keeps the frames and their contents; replacing a
 * mapping unmaps the old frame. */
static void test_map_unmap(void)
{
    ULONG_PTR i, j, pfn[4], bad = 0;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 4 )) goto out;

    ret = MapUserPhysicalPages( awe, 4, pfn );
    ok( ret == TRUE, "M16: map failed, error %lu\n", (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( awe, 4, NULL );
    ok( ret == TRUE, "M16: unmap failed, error %lu\n", (unsigned long)GetLastError() );
    for (i = 0; i < 4; i++)
        ok( access_faults( awe + i * PAGE, FALSE ) == 1, "M16: page %llu is readable\n",
            (unsigned long long)i );

    ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
    ok( ret == TRUE, "M17: map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret)
    {
        for (j = 0; j < PAGE / sizeof(ULONG_PTR); j++) ((ULONG_PTR *)awe)[j] = ~j;
        ret = MapUserPhysicalPages( awe, 1, NULL );
        ok( ret == TRUE, "M17: unmap failed, error %lu\n", (unsigned long)GetLastError() );
        ret = MapUserPhysicalPages( awe + 5 * PAGE, 1, &pfn[0] );
        ok( ret == TRUE, "M17: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
        if (ret && access_faults( awe + 5 * PAGE, FALSE ) == 0)
        {
            for (j = 0; j < PAGE / sizeof(ULONG_PTR); j++)
                if (((volatile ULONG_PTR *)(awe + 5 * PAGE))[j] != ~j) bad++;
            ok( bad == 0, "M17: %llu words differ\n", (unsigned long long)bad );
        }
        else ok( 0, "M17: awe+5P is not readable\n" );
        ok( access_faults( awe, FALSE ) == 1, "M17: awe is readable\n" );
        MapUserPhysicalPages( awe + 5 * PAGE, 1, NULL );
    }

    if (stamp_frames( awe, pfn, 2 ))
    {
        ret = MapUserPhysicalPages( awe, 1, &pfn[0] );
        ok( ret == TRUE, "M18: map failed, error %lu\n", (unsigned long)GetLastError() );
        ret = MapUserPhysicalPages( awe, 1, &pfn[1] );
        ok( ret == TRUE, "M18: replace failed, error %lu\n", (unsigned long)GetLastError() );
        ok( shows_frame( awe, STAMP(1) ), "M18: awe does not show pfn[1]\n" );
        ret = MapUserPhysicalPages( awe + PAGE, 1, &pfn[0] );
        ok( ret == TRUE, "M18: the replaced frame is still mapped, error %lu\n",
            (unsigned long)GetLastError() );
        ok( shows_frame( awe + PAGE, STAMP(0) ), "M18: awe+P does not show pfn[0]\n" );
        MapUserPhysicalPages( awe, 2, NULL );
    }
    free_frames( pfn, 4 );
out:
    release_region( awe );
}

/* M20: Map and Scatter need no privilege, only Allocate does. */
static void test_map_without_privilege(void)
{
    ULONG_PTR n, pfn[2], more[1];
    void *vas[1];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;
    stamp_frames( awe, pfn, 2 );

    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, pfn );
    ok( ret == TRUE, "M20: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( awe, STAMP(0) ), "M20: awe does not show pfn[0]\n" );
    vas[0] = awe + PAGE;
    ret = MapUserPhysicalPagesScatter( vas, 1, &pfn[1] );
    ok( ret == TRUE, "M20 (scatter): got %d, error %lu\n", ret, (unsigned long)GetLastError() );

    n = 1;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, more );
    ok( ret == FALSE, "allocate without the privilege: got %d\n", ret );
    ok( GetLastError() == ERROR_PRIVILEGE_NOT_HELD, "got %lu\n", (unsigned long)GetLastError() );

    ok( set_lock_privilege( TRUE ), "cannot enable SeLockMemoryPrivilege again\n" );
    MapUserPhysicalPages( awe, 2, NULL );
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* M22, part 1: a thread touches the page after each Map the main thread makes and must reach
 * the frame just mapped, never the one before. */
struct visibility_ctx
{
    char *awe;
    int gen;            /* published by the main thread once Map has returned */
    int ack;            /* the last generation the worker handled */
    int stop;
    ULONG_PTR seen;     /* the stamp the worker read for generation ack */
};

static void visibility_worker( void *arg )
{
    struct visibility_ctx *ctx = arg;
    volatile ULONG_PTR *page = (volatile ULONG_PTR *)ctx->awe;
    int last = 0, gen;

    for (;;)
    {
        while ((gen = __atomic_load_n( &ctx->gen, __ATOMIC_ACQUIRE )) == last &&
               !__atomic_load_n( &ctx->stop, __ATOMIC_ACQUIRE ))
            yield_thread();
        if (gen == last) break;
        ctx->seen = page[0];
        page[1] = (ULONG_PTR)gen;
        __atomic_store_n( &ctx->ack, gen, __ATOMIC_RELEASE );
        last = gen;
    }
}

/* M22, part 2: a thread keeps reading and writing a page that the main thread remaps to
 * another frame again and again; the page is never absent, and whenever no Map is running
 * (an even epoch on both sides of the read) the page shows the frame mapped last. */
struct remap_ctx
{
    char *va;
    int epoch;          /* odd while the main thread is inside Map; frame (epoch / 2) % 2 */
    int stop;
    int checked;        /* the last epoch in which the worker made a stable read */
    long checks;        /* reads made in a stable epoch */
    long stale;         /* of those, reads that showed the wrong frame */
};

static void remap_worker( void *arg )
{
    struct remap_ctx *ctx = arg;
    volatile ULONG_PTR *page = (volatile ULONG_PTR *)ctx->va;
    ULONG_PTR stamp;
    int e1, e2;

    while (!__atomic_load_n( &ctx->stop, __ATOMIC_ACQUIRE ))
    {
        e1 = __atomic_load_n( &ctx->epoch, __ATOMIC_ACQUIRE );
        stamp = page[0];
        page[2]++;
        __atomic_thread_fence( __ATOMIC_ACQUIRE );
        e2 = __atomic_load_n( &ctx->epoch, __ATOMIC_RELAXED );
        if (e1 != e2 || (e1 & 1)) continue;
        ctx->checks++;
        if (stamp != STAMP( (e1 / 2) % 2 )) ctx->stale++;
        __atomic_store_n( &ctx->checked, e1, __ATOMIC_RELEASE );
        /* where threads take turns (valgrind runs one at a time) the main thread needs a turn
         * to make the next Map; the wait for the next epoch is the other thread's anyway */
        while (__atomic_load_n( &ctx->epoch, __ATOMIC_ACQUIRE ) == e1 &&
               !__atomic_load_n( &ctx->stop, __ATOMIC_ACQUIRE ))
            yield_thread();
    }
}

/* M22: "on return from this function, all threads on all processors are guaranteed to see the
 * correct mapping" (D4); the access after an unmap faults (checked in a child on Linux). */
static void test_map_threads(void)
{
    struct visibility_ctx vis;
    struct remap_ctx remap;
    struct test_thread thread;
    unsigned long long deadline;
    ULONG_PTR pfn[4], last[4] = { 0 };
    char *awe;
    BOOL ret;
    int i, k;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 4 )) goto out;
    if (!stamp_frames( awe, pfn, 4 )) goto out_free;

    memset( &vis, 0, sizeof(vis) );
    vis.awe = awe;
    if (!start_thread( &thread, visibility_worker, &vis ))
    {
        ok( 0, "cannot start a thread\n" );
        goto out_free;
    }
    for (i = 1; i <= 400; i++)
    {
        k = i % 4;
        winetest_push_context( "M22 iteration %d", i );
        ret = MapUserPhysicalPages( awe, 1, &pfn[k] );
        ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
        if (!ret)
        {
            winetest_pop_context();
            break;
        }
        __atomic_store_n( &vis.gen, i, __ATOMIC_RELEASE );
        deadline = now_ms() + 10000;
        while (__atomic_load_n( &vis.ack, __ATOMIC_ACQUIRE ) != i && now_ms() < deadline)
            yield_thread();
        if (__atomic_load_n( &vis.ack, __ATOMIC_ACQUIRE ) != i)
        {
            ok( 0, "the thread did not answer\n" );
            winetest_pop_context();
            break;
        }
        ok( vis.seen == STAMP(k), "the thread saw %#llx\n", (unsigned long long)vis.seen );
        ok( ((volatile ULONG_PTR *)awe)[1] == (ULONG_PTR)i, "the thread's write is not visible\n" );
        last[k] = (ULONG_PTR)i;
        if (i % 2)
        {
            ret = MapUserPhysicalPages( awe, 1, NULL );
            ok( ret == TRUE, "unmap failed, error %lu\n", (unsigned long)GetLastError() );
            if (i % 50 == 1)
                ok( access_faults( awe, FALSE ) == 1, "the unmapped page is readable\n" );
        }
        winetest_pop_context();
    }
    __atomic_store_n( &vis.stop, 1, __ATOMIC_RELEASE );
    join_thread( &thread );

    /* every write went to the frame that was mapped when it was made */
    MapUserPhysicalPages( awe, 1, NULL );
    ret = MapUserPhysicalPages( awe, 4, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    for (k = 0; ret && k < 4; k++)
    {
        ULONG_PTR got = ((ULONG_PTR *)(awe + k * PAGE))[1];
        ok( got == last[k], "frame %d holds %llu, expected %llu\n", k, (unsigned long long)got,
            (unsigned long long)last[k] );
    }
    MapUserPhysicalPages( awe, 4, NULL );

    memset( &remap, 0, sizeof(remap) );
    remap.va = awe + 8 * PAGE;
    ret = MapUserPhysicalPages( remap.va, 1, &pfn[0] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret && start_thread( &thread, remap_worker, &remap ))
    {
        for (i = 1; i <= 2000; i++)
        {
            __atomic_store_n( &remap.epoch, 2 * i - 1, __ATOMIC_SEQ_CST );
            ret = MapUserPhysicalPages( remap.va, 1, &pfn[i % 2] );
            __atomic_store_n( &remap.epoch, 2 * i, __ATOMIC_RELEASE );
            if (!ret)
            {
                ok( 0, "remap %d failed, error %lu\n", i, (unsigned long)GetLastError() );
                break;
            }
            /* let the worker read at least once between two Map calls */
            deadline = now_ms() + 100;
            while (__atomic_load_n( &remap.checked, __ATOMIC_ACQUIRE ) != 2 * i &&
                   now_ms() < deadline)
                yield_thread();
        }
        __atomic_store_n( &remap.stop, 1, __ATOMIC_RELEASE );
        join_thread( &thread );
        ok( remap.stale == 0, "M22: %ld of %ld reads showed the previous frame\n", remap.stale,
            remap.checks );
        ok( remap.checks >= 1000, "M22: only %ld reads between two Map calls\n", remap.checks );
    }
    else if (ret) ok( 0, "cannot start a thread\n" );
    MapUserPhysicalPages( awe, 16, NULL );
out_free:
    free_frames( pfn, 4 );
out:
    release_region( awe );
}

/* Several threads map the same frame at different addresses at once: one wins, the others
 * fail as for an already mapped frame (awe-spec.md section 3.9). */
#define RACE_THREADS 4
#define RACE_ROUNDS  200

struct race_ctx
{
    char *awe;
    ULONG_PTR pfn;
    int round;          /* the round the threads may run */
    int done;           /* threads done with the current round */
    int stop;
    BOOL ret[RACE_THREADS];
    DWORD err[RACE_THREADS];
};

struct race_arg
{
    struct race_ctx *ctx;
    int index;
};

static void race_worker( void *param )
{
    struct race_arg *arg = param;
    struct race_ctx *ctx = arg->ctx;
    int round = 0, next;

    for (;;)
    {
        while ((next = __atomic_load_n( &ctx->round, __ATOMIC_ACQUIRE )) == round &&
               !__atomic_load_n( &ctx->stop, __ATOMIC_ACQUIRE ))
            yield_thread();
        if (next == round) break;
        round = next;
        SetLastError( 0xdeadbeef );
        ctx->ret[arg->index] = MapUserPhysicalPages( ctx->awe + arg->index * PAGE, 1, &ctx->pfn );
        ctx->err[arg->index] = GetLastError();
        __atomic_add_fetch( &ctx->done, 1, __ATOMIC_ACQ_REL );
    }
}

static void test_map_race(void)
{
    struct test_thread threads[RACE_THREADS];
    struct race_arg args[RACE_THREADS];
    struct race_ctx ctx;
    unsigned long long deadline;
    ULONG_PTR pfn[1];
    int i, r, started = 0, winners, winner;
    char *awe;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 1 )) goto out;
    if (!stamp_frames( awe, pfn, 1 )) goto out_free;

    memset( &ctx, 0, sizeof(ctx) );
    ctx.awe = awe;
    ctx.pfn = pfn[0];
    for (i = 0; i < RACE_THREADS; i++)
    {
        args[i].ctx = &ctx;
        args[i].index = i;
        if (!start_thread( &threads[i], race_worker, &args[i] )) break;
        started++;
    }
    ok( started == RACE_THREADS, "started %d threads\n", started );

    for (r = 1; started == RACE_THREADS && r <= RACE_ROUNDS; r++)
    {
        winetest_push_context( "round %d", r );
        __atomic_store_n( &ctx.done, 0, __ATOMIC_RELAXED );
        __atomic_store_n( &ctx.round, r, __ATOMIC_RELEASE );
        deadline = now_ms() + 10000;
        while (__atomic_load_n( &ctx.done, __ATOMIC_ACQUIRE ) != RACE_THREADS &&
               now_ms() < deadline)
            yield_thread();
        if (__atomic_load_n( &ctx.done, __ATOMIC_ACQUIRE ) != RACE_THREADS)
        {
            ok( 0, "the threads did not finish\n" );
            winetest_pop_context();
            break;
        }
        for (i = winners = 0, winner = -1; i < RACE_THREADS; i++)
        {
            if (ctx.ret[i])
            {
                winners++;
                winner = i;
            }
            else
                ok( ctx.err[i] == ERROR_INVALID_ADDRESS ||
                    broken( ctx.err[i] == ERROR_INVALID_PARAMETER ),
                    "thread %d: got %lu\n", i, (unsigned long)ctx.err[i] );
        }
        ok( winners == 1, "%d threads mapped the frame\n", winners );
        if (winner >= 0 && !(r % 25))
            ok( shows_frame( awe + winner * PAGE, STAMP(0) ),
                "the winner does not show the frame\n" );
        MapUserPhysicalPages( awe, RACE_THREADS, NULL );
        winetest_pop_context();
    }
    __atomic_store_n( &ctx.stop, 1, __ATOMIC_RELEASE );
    for (i = 0; i < started; i++) join_thread( &threads[i] );
out_free:
    free_frames( pfn, 1 );
out:
    release_region( awe );
}

/* Free races Map for the same frames: Free succeeds, each Map succeeds or fails with 487, and
 * afterwards no frame is mapped anywhere. */
#define FREE_RACE_FRAMES 4
#define FREE_RACE_ROUNDS 100

struct free_race_ctx
{
    char *awe;
    ULONG_PTR pfn[FREE_RACE_FRAMES];
    int round;
    int done;
    int stop;
    BOOL map_ret[FREE_RACE_FRAMES];
    DWORD map_err[FREE_RACE_FRAMES];
    BOOL free_ret;
    DWORD free_err;
    ULONG_PTR freed;
};

static int wait_round( struct free_race_ctx *ctx, int round )
{
    int next;

    while ((next = __atomic_load_n( &ctx->round, __ATOMIC_ACQUIRE )) == round &&
           !__atomic_load_n( &ctx->stop, __ATOMIC_ACQUIRE ))
        yield_thread();
    return next == round ? 0 : next;
}

static void free_race_mapper( void *arg )
{
    struct free_race_ctx *ctx = arg;
    int i, round = 0;

    while ((round = wait_round( ctx, round )))
    {
        for (i = 0; i < FREE_RACE_FRAMES; i++)
        {
            SetLastError( 0xdeadbeef );
            ctx->map_ret[i] = MapUserPhysicalPages( ctx->awe + i * PAGE, 1, &ctx->pfn[i] );
            ctx->map_err[i] = GetLastError();
        }
        __atomic_add_fetch( &ctx->done, 1, __ATOMIC_ACQ_REL );
    }
}

static void free_race_freer( void *arg )
{
    struct free_race_ctx *ctx = arg;
    int round = 0;

    while ((round = wait_round( ctx, round )))
    {
        ctx->freed = FREE_RACE_FRAMES;
        SetLastError( 0xdeadbeef );
        ctx->free_ret = FreeUserPhysicalPages( GetCurrentProcess(), &ctx->freed, ctx->pfn );
        ctx->free_err = GetLastError();
        __atomic_add_fetch( &ctx->done, 1, __ATOMIC_ACQ_REL );
    }
}

static void test_free_map_race(void)
{
    struct test_thread mapper, freer;
    struct free_race_ctx ctx;
    unsigned long long deadline;
    int i, r, mapped_first = 0;
    BOOL ret, started;
    char *awe;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;

    memset( &ctx, 0, sizeof(ctx) );
    ctx.awe = awe;
    started = start_thread( &mapper, free_race_mapper, &ctx );
    if (started && !start_thread( &freer, free_race_freer, &ctx ))
    {
        __atomic_store_n( &ctx.stop, 1, __ATOMIC_RELEASE );
        join_thread( &mapper );
        started = FALSE;
    }
    ok( started, "cannot start the threads\n" );

    for (r = 1; started && r <= FREE_RACE_ROUNDS; r++)
    {
        winetest_push_context( "round %d", r );
        if (!alloc_frames( ctx.pfn, FREE_RACE_FRAMES ))
        {
            winetest_pop_context();
            break;
        }
        __atomic_store_n( &ctx.done, 0, __ATOMIC_RELAXED );
        __atomic_store_n( &ctx.round, r, __ATOMIC_RELEASE );
        deadline = now_ms() + 10000;
        while (__atomic_load_n( &ctx.done, __ATOMIC_ACQUIRE ) != 2 && now_ms() < deadline)
            yield_thread();
        if (__atomic_load_n( &ctx.done, __ATOMIC_ACQUIRE ) != 2)
        {
            ok( 0, "the threads did not finish\n" );
            winetest_pop_context();
            break;
        }
        ok( ctx.free_ret == TRUE, "free: got %d, error %lu\n", ctx.free_ret,
            (unsigned long)ctx.free_err );
        ok( ctx.freed == FREE_RACE_FRAMES, "freed %llu\n", (unsigned long long)ctx.freed );
        for (i = 0; i < FREE_RACE_FRAMES; i++)
        {
            if (ctx.map_ret[i]) mapped_first++;
            else ok( ctx.map_err[i] == ERROR_INVALID_ADDRESS, "map %d: got %lu\n", i,
                     (unsigned long)ctx.map_err[i] );
            /* mapped before the Free, unmapped by it; or refused after it */
            ok( access_faults( awe + i * PAGE, FALSE ) == 1, "page %d is still mapped\n", i );
            SetLastError( 0xdeadbeef );
            ret = MapUserPhysicalPages( awe + i * PAGE, 1, &ctx.pfn[i] );
            ok( ret == FALSE && GetLastError() == ERROR_INVALID_ADDRESS,
                "the freed frame %d can be mapped: got %d, error %lu\n", i, ret,
                (unsigned long)GetLastError() );
        }
        winetest_pop_context();
    }
    if (started)
    {
        __atomic_store_n( &ctx.stop, 1, __ATOMIC_RELEASE );
        join_thread( &mapper );
        join_thread( &freer );
        trace( "%d maps came before the free\n", mapped_first );
    }
    release_region( awe );
}

/* ---- Scatter (Pv) -------------------------------------------------------------------------- */

/* S05-S07: addresses anywhere in the region, unaligned ones rounded down; 0 or a NULL array
 * unmaps; a frame named again at the address that maps it stays mapped. */
static void test_scatter(void)
{
    ULONG_PTR pfn[3], mix[3];
    void *vas[3];
    char *awe;
    BOOL ret;
    int i;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 3 )) goto out;
    if (!stamp_frames( awe, pfn, 3 )) goto out_free;

    vas[0] = awe + 3 * PAGE;
    vas[1] = awe + PAGE + 17;
    vas[2] = awe + 7 * PAGE;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 3, pfn );
    ok( ret == TRUE, "S05: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    for (i = 0; i < 3; i++)
        ok( shows_frame( vas[i], STAMP(i) ), "S05: vas[%d] does not show pfn[%d]\n", i, i );
    ok( access_faults( awe, FALSE ) == 1, "S05: awe is mapped\n" );

    mix[0] = pfn[0];
    mix[1] = 0;
    mix[2] = pfn[2];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 3, mix );
    ok( ret == TRUE, "S06: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( access_faults( vas[1], FALSE ) == 1, "S06: vas[1] is still mapped\n" );
    ok( shows_frame( vas[0], STAMP(0) ), "S06: vas[0] lost pfn[0]\n" );
    ok( shows_frame( vas[2], STAMP(2) ), "S06: vas[2] lost pfn[2]\n" );

    /* the frame unmapped by the 0 entry is still allocated and mapped nowhere */
    ret = MapUserPhysicalPages( awe, 1, &pfn[1] );
    ok( ret == TRUE, "S06: pfn[1] cannot be mapped again, error %lu\n",
        (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 1, NULL );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 3, NULL );
    ok( ret == TRUE, "S07: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    for (i = 0; i < 3; i++)
        ok( access_faults( vas[i], FALSE ) == 1, "S07: vas[%d] is still mapped\n", i );
out_free:
    free_frames( pfn, 3 );
out:
    release_region( awe );
}

/* S08, S10, S11: all or nothing. */
static void test_scatter_errors(void)
{
    ULONG_PTR pfn[2], arr[2];
    void *vas[2];
    char *awe, *norm;
    DWORD err;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    norm = VirtualAlloc( NULL, PAGE, MEM_COMMIT, PAGE_READWRITE );
    ok( norm != NULL, "VirtualAlloc failed, error %lu\n", (unsigned long)GetLastError() );
    if (!alloc_frames( pfn, 2 )) goto out;
    if (!stamp_frames( awe, pfn, 2 )) goto out_free;

    if (norm)
    {
        vas[0] = awe;
        vas[1] = norm;
        SetLastError( 0xdeadbeef );
        ret = MapUserPhysicalPagesScatter( vas, 2, pfn );
        ok( ret == FALSE, "S08: got %d\n", ret );
        ok( GetLastError() == ERROR_INVALID_PARAMETER, "S08: got %lu\n",
            (unsigned long)GetLastError() );
        ok( access_faults( awe, FALSE ) == 1, "S08: awe is mapped\n" );
    }

    vas[0] = awe;
    vas[1] = awe + PAGE;
    arr[0] = arr[1] = pfn[0];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 2, arr );
    err = GetLastError();
    ok( ret == FALSE, "S10: got %d\n", ret );
    ok( err == ERROR_INVALID_ADDRESS || broken( err == ERROR_INVALID_PARAMETER ), "S10: got %lu\n",
        (unsigned long)err );
    ok( access_faults( awe, FALSE ) == 1, "S10: awe is mapped\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "S10: awe+P is mapped\n" );

    arr[1] = 0xdead0000;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 2, arr );
    ok( ret == FALSE, "S11: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "S11: got %lu\n", (unsigned long)GetLastError() );
    ok( access_faults( awe, FALSE ) == 1, "S11: awe is mapped\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "S11: awe+P is mapped\n" );

    /* a failing Scatter leaves an existing mapping alone */
    ret = MapUserPhysicalPages( awe, 1, &pfn[1] );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    ret = MapUserPhysicalPagesScatter( vas, 2, arr );
    ok( ret == FALSE, "S11 (replacing): got %d\n", ret );
    ok( shows_frame( awe, STAMP(1) ), "S11: the old mapping is gone\n" );
    MapUserPhysicalPages( awe, 2, NULL );
out_free:
    free_frames( pfn, 2 );
out:
    release_region( norm );
    release_region( awe );
}

/* S09: one Scatter call may map into several AWE regions. */
static void test_scatter_regions(void)
{
    ULONG_PTR pfn[2];
    char *r1, *r2 = NULL;
    void *vas[2];
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(r1 = reserve_awe( 4 ))) return;
    if (!(r2 = reserve_awe( 4 ))) goto out;
    if (!alloc_frames( pfn, 2 )) goto out;
    if (!stamp_frames( r1, pfn, 2 )) goto out_free;

    vas[0] = r1 + 2 * PAGE;
    vas[1] = r2 + PAGE;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 2, pfn );
    ok( ret == TRUE, "S09: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( shows_frame( vas[0], STAMP(0) ), "S09: r1 does not show pfn[0]\n" );
    ok( shows_frame( vas[1], STAMP(1) ), "S09: r2 does not show pfn[1]\n" );
    ret = MapUserPhysicalPagesScatter( vas, 2, NULL );
    ok( ret == TRUE, "S09: unmap got %d, error %lu\n", ret, (unsigned long)GetLastError() );
out_free:
    free_frames( pfn, 2 );
out:
    release_region( r2 );
    release_region( r1 );
}

/* S12: the same address twice: applied in order, the last one wins ([S/I], unverified: older
 * or newer Windows may refuse the call or keep the first frame). */
static void test_scatter_duplicate_va(void)
{
    ULONG_PTR pfn[2];
    void *vas[2];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;
    if (!stamp_frames( awe, pfn, 2 )) goto out_free;

    vas[0] = vas[1] = awe;
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPagesScatter( vas, 2, pfn );
    ok( ret == TRUE || broken( ret == FALSE ), "S12: got %d, error %lu\n", ret,
        (unsigned long)GetLastError() );
    if (ret)
    {
        ok( shows_frame( awe, STAMP(1) ) || broken( shows_frame( awe, STAMP(0) ) ),
            "S12: awe does not show the last frame\n" );
        /* the frame that lost is mapped nowhere */
        ret = MapUserPhysicalPages( awe + PAGE, 1, &pfn[0] );
        ok( ret == TRUE || broken( ret == FALSE ), "S12: pfn[0] cannot be mapped, error %lu\n",
            (unsigned long)GetLastError() );
    }
    MapUserPhysicalPages( awe, 2, NULL );
out_free:
    free_frames( pfn, 2 );
out:
    release_region( awe );
}

/* ---- Free (Pv) ----------------------------------------------------------------------------- */

/* F07-F09: a NULL array; mapped frames are unmapped by Free; a second Free fails. */
static void test_free(void)
{
    ULONG_PTR n, pfn[2];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 2 )) goto out;

    n = 1;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, NULL );
    ok( ret == FALSE, "F07: got %d\n", ret );
    ok( GetLastError() == ERROR_NOACCESS, "F07: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 0, "F07: got n %llu\n", (unsigned long long)n );

    ret = MapUserPhysicalPages( awe, 2, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret) ((ULONG_PTR *)awe)[0] = STAMP(0);
    n = 2;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == TRUE, "F08: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( n == 2, "F08: got n %llu\n", (unsigned long long)n );
    ok( access_faults( awe, FALSE ) == 1, "F08: awe is still mapped\n" );
    ok( access_faults( awe + PAGE, FALSE ) == 1, "F08: awe+P is still mapped\n" );

    n = 2;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok( ret == FALSE, "F09: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F09: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 0, "F09: got n %llu\n", (unsigned long long)n );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, pfn );
    ok( ret == FALSE, "map of a freed frame: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "got %lu\n", (unsigned long)GetLastError() );
out:
    release_region( awe );
}

/* F10, F11: Free stops at the first bad entry; the entries before it are freed. */
static void test_free_partial(void)
{
    ULONG_PTR n, pfn[8], arr[3], rest[6];
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 8 )) goto out;

    arr[0] = pfn[2];
    arr[1] = 0xdead0000;
    arr[2] = pfn[3];
    n = 3;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, arr );
    ok( ret == FALSE, "F10: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F10: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 1, "F10: got n %llu\n", (unsigned long long)n );
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, &pfn[2] );
    ok( ret == FALSE, "F10: the freed pfn[2] was mapped\n" );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F10: got %lu\n", (unsigned long)GetLastError() );
    ret = MapUserPhysicalPages( awe, 1, &pfn[3] );
    ok( ret == TRUE, "F10: pfn[3] was freed, error %lu\n", (unsigned long)GetLastError() );
    MapUserPhysicalPages( awe, 1, NULL );

    arr[0] = arr[1] = pfn[4];
    n = 2;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, arr );
    ok( ret == FALSE, "F11: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F11: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 1, "F11: got n %llu\n", (unsigned long long)n );
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, &pfn[4] );
    ok( ret == FALSE, "F11: the freed pfn[4] was mapped\n" );

    rest[0] = pfn[0];
    rest[1] = pfn[1];
    rest[2] = pfn[3];
    rest[3] = pfn[5];
    rest[4] = pfn[6];
    rest[5] = pfn[7];
    free_frames( rest, 6 );
out:
    release_region( awe );
}

/* F12: Free needs no privilege. */
static void test_free_without_privilege(void)
{
    ULONG_PTR n, pfn[2];
    BOOL ret;

    NEED_PRIVILEGE();
    if (!alloc_frames( pfn, 2 )) return;

    ok( set_lock_privilege( FALSE ), "cannot disable SeLockMemoryPrivilege\n" );
    n = 1;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, &pfn[1] );
    ok( ret == TRUE, "F12: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( n == 1, "F12: got n %llu\n", (unsigned long long)n );
    ok( set_lock_privilege( TRUE ), "cannot enable SeLockMemoryPrivilege again\n" );
    free_frames( pfn, 1 );
}

/* F15: frames freed with data in them come back zero-filled. */
static void test_free_zeroes(void)
{
    ULONG_PTR i, pfn[8], pfn2[8], nonzero = 0;
    char *awe;
    BOOL ret;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( pfn, 8 )) goto out;
    ret = MapUserPhysicalPages( awe, 8, pfn );
    ok( ret == TRUE, "map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret) memset( awe, 0xa5, 8 * PAGE );
    free_frames( pfn, 8 );

    if (!alloc_frames( pfn2, 8 )) goto out;
    ret = MapUserPhysicalPages( awe, 8, pfn2 );
    ok( ret == TRUE, "F15: map failed, error %lu\n", (unsigned long)GetLastError() );
    if (ret)
    {
        for (i = 0; i < 8 * PAGE / sizeof(ULONG_PTR); i++)
            if (((volatile ULONG_PTR *)awe)[i]) nonzero++;
        ok( nonzero == 0, "F15: %llu non-zero words\n", (unsigned long long)nonzero );
    }
    free_frames( pfn2, 8 );
out:
    release_region( awe );
}

/* ---- another process (Pv) ------------------------------------------------------------------ */

/* A19, F13, F14: frames allocated for a child with a handle belong to the child: the parent
 * can neither map nor free them as its own, the child maps them, and a Free through the handle
 * unmaps them in the child. */
static void test_cross_process(void)
{
    ULONG_PTR n, i, own[1], cpfn[4];
    struct child child;
    char line[256], *reply;
    HANDLE process;
    DWORD pid;
    char *awe;
    BOOL ret;
    int code;

    NEED_PRIVILEGE();
    if (!(awe = reserve_awe( 16 ))) return;
    if (!alloc_frames( own, 1 )) goto out;
    if (!start_child( &child, "physical", "serve", NULL ))
    {
        ok( 0, "cannot start a child process\n" );
        goto out_free;
    }
    if (!(reply = child_expect( &child, "ready", line, sizeof(line) )))
    {
        ok( 0, "the child did not start\n" );
        goto out_child;
    }
    pid = (DWORD)strtoul( reply, NULL, 10 );
    process = OpenProcess( PROCESS_VM_OPERATION, FALSE, pid );
    ok( process != NULL, "OpenProcess(%lu) failed, error %lu\n", (unsigned long)pid,
        (unsigned long)GetLastError() );
    if (!process) goto out_child;

    for (i = 0; i < 4; i++) cpfn[i] = SENTINEL;
    n = 4;
    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( process, &n, cpfn );
    ok( ret == TRUE, "A19: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    if (!ret) goto out_process;
    ok( n == 4, "A19: got n %llu\n", (unsigned long long)n );
    for (i = 0; i < 4; i++)
        ok( cpfn[i] != 0 && cpfn[i] != SENTINEL && cpfn[i] != own[0], "A19: cpfn[%llu] %#llx\n",
            (unsigned long long)i, (unsigned long long)cpfn[i] );

    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, cpfn );
    ok( ret == FALSE, "A19: the parent mapped the child's frame\n" );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "A19: got %lu\n", (unsigned long)GetLastError() );

    n = 1;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, cpfn );
    ok( ret == FALSE, "F13: got %d\n", ret );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F13: got %lu\n", (unsigned long)GetLastError() );
    ok( n == 0, "F13: got n %llu\n", (unsigned long long)n );

    /* the owner maps them */
    child_send( &child, "map %llx %llx %llx %llx\n", (unsigned long long)cpfn[0],
                (unsigned long long)cpfn[1], (unsigned long long)cpfn[2],
                (unsigned long long)cpfn[3] );
    reply = child_expect( &child, "mapped", line, sizeof(line) );
    ok( reply && atoi( reply ) == 1, "the child could not map its frames: %s\n",
        reply ? reply : "no answer" );

    /* freeing them through the handle unmaps them in the owner */
    n = 4;
    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( process, &n, cpfn );
    ok( ret == TRUE, "F14: got %d, error %lu\n", ret, (unsigned long)GetLastError() );
    ok( n == 4, "F14: got n %llu\n", (unsigned long long)n );

    child_send( &child, "check\n" );
    reply = child_expect( &child, "checked", line, sizeof(line) );
    ok( reply != NULL, "the child did not check\n" );
out_process:
    CloseHandle( process );
out_child:
    code = child_finish( &child );
    ok( code == 0, "child exited with %d\n", code );
out_free:
    free_frames( own, 1 );
out:
    release_region( awe );
}

static void child_serve(void)
{
    ULONG_PTR i, cpfn[4], nonzero = 0;
    unsigned long long v[4];
    char line[256], *awe;
    BOOL ret;

    awe = VirtualAlloc( NULL, 16 * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
    ok( awe != NULL, "child: VirtualAlloc(MEM_PHYSICAL) failed, error %lu\n",
        (unsigned long)GetLastError() );
    if (!awe) return;
    child_reply( "ready %lu\n", (unsigned long)GetCurrentProcessId() );

    if (!child_command( line, sizeof(line) )) return;
    ok( sscanf( line, "map %llx %llx %llx %llx", &v[0], &v[1], &v[2], &v[3] ) == 4,
        "child: bad command %s", line );
    for (i = 0; i < 4; i++) cpfn[i] = (ULONG_PTR)v[i];
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 4, cpfn );
    ok( ret == TRUE, "A19: the child cannot map its frames, error %lu\n",
        (unsigned long)GetLastError() );
    if (ret)
    {
        for (i = 0; i < 4 * PAGE / sizeof(ULONG_PTR); i++)
            if (((volatile ULONG_PTR *)awe)[i]) nonzero++;
        ok( nonzero == 0, "A19: %llu non-zero words in the child's new frames\n",
            (unsigned long long)nonzero );
        for (i = 0; i < 4; i++) ((ULONG_PTR *)(awe + i * PAGE))[0] = STAMP(i);
    }
    child_reply( "mapped %d\n", ret );

    if (!child_command( line, sizeof(line) )) return;
    for (i = 0; i < 4; i++)
        ok( access_faults( awe + i * PAGE, FALSE ) == 1,
            "F14: page %llu is still mapped in the owner\n", (unsigned long long)i );
    SetLastError( 0xdeadbeef );
    ret = MapUserPhysicalPages( awe, 1, cpfn );
    ok( ret == FALSE, "F14: the owner mapped a freed frame\n" );
    ok( GetLastError() == ERROR_INVALID_ADDRESS, "F14: got %lu\n", (unsigned long)GetLastError() );
    child_reply( "checked\n" );
    VirtualFree( awe, 0, MEM_RELEASE );
}

START_TEST(physical)
{
    char **argv;
    int argc = winetest_get_mainargs( &argv );

    if (argc >= 4 && !strcmp( argv[2], "child" ))
    {
        if (!strcmp( argv[3], "fresh" )) child_fresh();
        else if (!strcmp( argv[3], "serve" )) child_serve();
        else ok( 0, "unknown child mode %s\n", argv[3] );
        return;
    }

    pNtAllocateUserPhysicalPages = NTDLL_FUNC( NtAllocateUserPhysicalPages );
    pNtFreeUserPhysicalPages = NTDLL_FUNC( NtFreeUserPhysicalPages );

    /* without the privilege (disabled, or not held on a stock Windows account) */
    test_free_never_allocated();
    test_allocate_without_privilege();
    test_allocate_parameters();
    test_map_parameters();
    test_scatter_parameters();
    test_free_parameters();

    have_privilege = set_lock_privilege( TRUE );

    test_allocate();
    test_allocate_large();
    test_allocate_numa();
    test_map();
    test_map_errors();
    test_map_already_mapped();
    test_map_all_or_nothing();
    test_map_unmap();
    test_map_without_privilege();
    test_map_threads();
    test_map_race();
    test_free_map_race();
    test_scatter();
    test_scatter_errors();
    test_scatter_regions();
    test_scatter_duplicate_va();
    test_free();
    test_free_partial();
    test_free_without_privilege();
    test_free_zeroes();
    test_cross_process();
}
