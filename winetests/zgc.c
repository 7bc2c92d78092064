/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenJDK ZGC's use of AWE on Windows, step by step (zPhysicalMemoryBacking_windows.cpp and
 * zMapper_windows.cpp in openjdk/jdk describe the calls; this follows their sequence, not their
 * code):
 *   1. an AWE section: CreateFileMapping2( INVALID_HANDLE_VALUE, SEC_RESERVE | SEC_LARGE_PAGES,
 *      {MemSectionExtendedParameterUserPhysicalFlags, 0} );
 *   2. commit: AllocateUserPhysicalPages( section, &granules, &page_array[offset] ), a few
 *      granules at a time, reading back how many came (fewer when memory runs out);
 *   3. several heap views reserved with VirtualAlloc2( MEM_RESERVE | MEM_PHYSICAL,
 *      {MemExtendedParameterUserPhysicalHandle, section} ), the same granules mapped at the
 *      same offset of each with MapUserPhysicalPages( view + offset, n, &page_array[...] );
 *   4. unmap with a NULL array; uncommit with FreeUserPhysicalPages( section, ... );
 *      unreserve with VirtualFree( MEM_RELEASE ).
 * The data is checked through every view at every step.  ZGC does this with 2 MiB pages; the
 * same sequence with 4 KiB pages (a granule is then 512 of them) is what teaching VM projects
 * do, and runs too. */

#ifdef _WIN32
# include <windows.h>
#else
# include "awe.h"
#endif
#include "test.h"
#include "helpers.h"

#define GRANULE  0x200000                 /* ZGC's granule: 2 MiB */
#define GRANULES 16                       /* the heap of this test */
#define VIEWS    3                        /* marked0, marked1, remapped */

static create_file_mapping2_func pCreateFileMapping2;
static virtual_alloc2_func pVirtualAlloc2;

struct heap
{
    BOOL       large;                     /* 2 MiB pages, else 4 KiB ones */
    ULONG_PTR  per_granule;               /* PFN entries per granule: 1, or 512 */
    ULONG_PTR *page_array;                /* GRANULES * per_granule entries */
    BOOL       committed[GRANULES];
    HANDLE     section;
    char      *view[VIEWS];
};

/* The word at word w of granule g, as the test writes it in round r.  A 32-bit word keeps the
 * seed by folding the high half of the 64-bit pattern into the low one. */
static ULONG_PTR pattern( ULONG_PTR g, ULONG_PTR w, ULONG_PTR r )
{
    ULONG64 v = ((ULONG64)0x5eed << 32 | (ULONG64)g << 24 | (ULONG64)r << 16) ^ w;

    if (sizeof(ULONG_PTR) < sizeof(v)) v ^= v >> 32;
    return (ULONG_PTR)v;
}

/* Writes one word per 4 KiB page of granule g through view v. */
static void fill( struct heap *h, int v, ULONG_PTR g, ULONG_PTR r )
{
    volatile ULONG_PTR *p = (ULONG_PTR *)(h->view[v] + g * GRANULE);
    ULONG_PTR w;

    for (w = 0; w < GRANULE / sizeof(ULONG_PTR); w += PAGE / sizeof(ULONG_PTR)) p[w] = pattern( g, w, r );
}

/* Counts the pages of granule g that do not read back round r's words through view v. */
static ULONG_PTR differ( struct heap *h, int v, ULONG_PTR g, ULONG_PTR r )
{
    volatile ULONG_PTR *p = (ULONG_PTR *)(h->view[v] + g * GRANULE);
    ULONG_PTR w, bad = 0;

    for (w = 0; w < GRANULE / sizeof(ULONG_PTR); w += PAGE / sizeof(ULONG_PTR))
        if (p[w] != pattern( g, w, r )) bad++;
    return bad;
}

/* ZPhysicalMemoryBacking::commit: asks for n granules at granule offset first; returns how
 * many came. */
static ULONG_PTR commit( struct heap *h, ULONG_PTR first, ULONG_PTR n )
{
    ULONG_PTR count = n * h->per_granule, i;
    BOOL ret;

    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( h->section, &count, h->page_array + first * h->per_granule );
    if (!ret)
    {
        ok( GetLastError() == ERROR_NO_SYSTEM_RESOURCES || GetLastError() == ERROR_COMMITMENT_LIMIT,
            "commit: error %lu\n", (unsigned long)GetLastError() );
        return 0;
    }
    ok( count && count <= n * h->per_granule, "commit: got %llu of %llu\n", (unsigned long long)count,
        (unsigned long long)(n * h->per_granule) );
    if (count % h->per_granule)
    {
        /* a granule is all or nothing to ZGC: give back a torn one */
        ULONG_PTR torn = count % h->per_granule, freed = torn;
        ok( FreeUserPhysicalPages( h->section, &freed, h->page_array + first * h->per_granule + count - torn ),
            "cannot give back a torn granule\n" );
        count -= torn;
    }
    for (i = 0; i < count / h->per_granule; i++) h->committed[first + i] = TRUE;
    return count / h->per_granule;
}

/* ZPhysicalMemoryBacking::uncommit */
static void uncommit( struct heap *h, ULONG_PTR first, ULONG_PTR n )
{
    ULONG_PTR count = n * h->per_granule, i;
    BOOL ret = FreeUserPhysicalPages( h->section, &count, h->page_array + first * h->per_granule );

    ok( ret && count == n * h->per_granule, "uncommit: got %d, freed %llu, error %lu\n", ret,
        (unsigned long long)count, (unsigned long)GetLastError() );
    for (i = 0; i < n; i++) h->committed[first + i] = FALSE;
}

/* ZPhysicalMemoryBacking::map: granules [first, first + n) at the same offset of view v. */
static BOOL map( struct heap *h, int v, ULONG_PTR first, ULONG_PTR n )
{
    BOOL ret = MapUserPhysicalPages( h->view[v] + first * GRANULE, n * h->per_granule,
                                     h->page_array + first * h->per_granule );

    ok( ret, "map view %d granules %llu+%llu: error %lu\n", v, (unsigned long long)first,
        (unsigned long long)n, (unsigned long)GetLastError() );
    return ret;
}

static void run_heap( BOOL large )
{
    MEM_EXTENDED_PARAMETER param;
    ULONG_PTR got, extra, g, bad, want;
    struct heap h;
    int v;

    memset( &h, 0, sizeof(h) );
    h.large = large;
    h.per_granule = large ? 1 : GRANULE / PAGE;
    memset( &param, 0, sizeof(param) );
    param.Type = MemSectionExtendedParameterUserPhysicalFlags;
    h.section = pCreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_MAP_READ | SECTION_MAP_WRITE,
                                     PAGE_READWRITE, SEC_RESERVE | (large ? SEC_LARGE_PAGES : 0), 0, NULL,
                                     &param, 1 );
    ok( h.section != NULL, "1: CreateFileMapping2 failed, error %lu\n", (unsigned long)GetLastError() );
    if (!h.section) return;
    h.page_array = calloc( GRANULES * h.per_granule, sizeof(ULONG_PTR) );

    /* 2: commit the heap four granules at a time */
    for (g = 0; g < GRANULES; g += 4)
    {
        got = commit( &h, g, 4 );
        if (!got && large && !g)
        {
            skip( "no large pages to be had here\n" );
            goto out;
        }
        ok( got == 4, "2: granules %llu+4: got %llu\n", (unsigned long long)g, (unsigned long long)got );
    }

    /* 3: the views; each maps every committed granule at its offset */
    for (v = 0; v < VIEWS; v++)
    {
        memset( &param, 0, sizeof(param) );
        param.Type = MemExtendedParameterUserPhysicalHandle;
        param.Handle = h.section;
        h.view[v] = pVirtualAlloc2( GetCurrentProcess(), NULL, (SIZE_T)GRANULES * GRANULE,
                                    MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE, &param, 1 );
        ok( h.view[v] != NULL, "3: view %d: error %lu\n", v, (unsigned long)GetLastError() );
        if (!h.view[v]) goto out;
        ok( !((ULONG_PTR)h.view[v] & (GRANULE - 1)) || !large, "3: view %d at %p\n", v, h.view[v] );
        for (g = 0; g < GRANULES; g += 4) if (h.committed[g] && !map( &h, v, g, 4 )) goto out;
    }
    /* a write through one view shows through all */
    for (g = 0; g < GRANULES; g++) fill( &h, (int)(g % VIEWS), g, 1 );
    for (v = 0, bad = 0; v < VIEWS; v++)
        for (g = 0; g < GRANULES; g++) bad += differ( &h, v, g, 1 );
    ok( !bad, "3: %llu pages differ between views\n", (unsigned long long)bad );

    /* 2 again: more than the machine has; what comes is ZGC's to use, the rest is not there */
    want = physical_pages() / (GRANULE / PAGE) + 8;
    {
        ULONG_PTR count = want * h.per_granule, *more = calloc( count, sizeof(ULONG_PTR) );
        BOOL ret;

        SetLastError( 0xdeadbeef );
        ret = AllocateUserPhysicalPages( h.section, &count, more );
        if (ret)
        {
            extra = count;
            ok( count < want * h.per_granule, "2: got all %llu of more than the machine\n",
                (unsigned long long)count );
            ok( FreeUserPhysicalPages( h.section, &extra, more ) && extra == count, "2: free the extra\n" );
        }
        else ok( GetLastError() == ERROR_NO_SYSTEM_RESOURCES || GetLastError() == ERROR_COMMITMENT_LIMIT,
                 "2: error %lu\n", (unsigned long)GetLastError() );
        free( more );
    }
    /* the heap is as it was */
    for (v = 0, bad = 0; v < VIEWS; v++)
        for (g = 0; g < GRANULES; g++) bad += differ( &h, v, g, 1 );
    ok( !bad, "2: %llu pages changed\n", (unsigned long long)bad );

    /* 4: unmap the remapped view (a NULL array); the others keep the data */
    ok( MapUserPhysicalPages( h.view[2], GRANULES * h.per_granule, NULL ), "4: unmap: error %lu\n",
        (unsigned long)GetLastError() );
    ok( access_faults( h.view[2], FALSE ) == 1, "4: the unmapped view reads\n" );
    ok( access_faults( h.view[2] + GRANULES * GRANULE - PAGE, FALSE ) == 1, "4: the unmapped view reads\n" );
    for (v = 0, bad = 0; v < 2; v++)
        for (g = 0; g < GRANULES; g++) bad += differ( &h, v, g, 1 );
    ok( !bad, "4: %llu pages changed\n", (unsigned long long)bad );

    /* remap it with the granules in another place: relocation, as ZGC's remapping does */
    ok( MapUserPhysicalPages( h.view[2], 4 * h.per_granule, h.page_array + 8 * h.per_granule ),
        "4: remap: error %lu\n", (unsigned long)GetLastError() );
    for (g = 0, bad = 0; g < 4; g++)
    {
        volatile ULONG_PTR *p = (ULONG_PTR *)(h.view[2] + g * GRANULE);
        if (p[0] != pattern( 8 + g, 0, 1 )) bad++;
    }
    ok( !bad, "4: %llu relocated granules differ\n", (unsigned long long)bad );

    /* 4: uncommit granules 8..11: gone from every view that mapped them */
    uncommit( &h, 8, 4 );
    for (v = 0; v < VIEWS; v++)
    {
        ULONG_PTR at = v == 2 ? 0 : 8;
        ok( access_faults( h.view[v] + at * GRANULE, FALSE ) == 1, "4: view %d still maps an uncommitted granule\n", v );
        ok( access_faults( h.view[v] + (at + 3) * GRANULE + GRANULE - PAGE, FALSE ) == 1,
            "4: view %d still maps the end of an uncommitted granule\n", v );
    }
    for (v = 0, bad = 0; v < 2; v++)
        for (g = 0; g < GRANULES; g++) if (h.committed[g]) bad += differ( &h, v, g, 1 );
    ok( !bad, "4: %llu pages of committed granules changed\n", (unsigned long long)bad );

    /* commit them again: new memory, zeroed, mapped again in view 0 and 1 */
    got = commit( &h, 8, 4 );
    ok( got == 4, "2: recommit: got %llu\n", (unsigned long long)got );
    if (got == 4 && map( &h, 0, 8, 4 ) && map( &h, 1, 8, 4 ))
    {
        ok( ((volatile ULONG_PTR *)(h.view[1] + 8 * GRANULE))[0] == 0, "2: recommitted memory is not zero\n" );
        fill( &h, 1, 9, 2 );
        ok( !differ( &h, 0, 9, 2 ), "2: recommitted granule differs between views\n" );
    }

out:
    /* 4: unreserve the views, uncommit what is left, close the section */
    for (v = 0; v < VIEWS; v++) if (h.view[v]) release_region( h.view[v] );
    for (g = 0; g < GRANULES; g++) if (h.committed[g]) uncommit( &h, g, 1 );
    ok( CloseHandle( h.section ), "CloseHandle failed\n" );
    free( h.page_array );
}

START_TEST(zgc)
{
    pCreateFileMapping2 = KERNEL_FUNC( CreateFileMapping2 );
    pVirtualAlloc2 = KERNEL_FUNC( VirtualAlloc2 );
    if (!pCreateFileMapping2 || !pVirtualAlloc2)
    {
        win_skip( "CreateFileMapping2 or VirtualAlloc2 is not available\n" );
        return;
    }
    have_privilege = set_lock_privilege( TRUE );
    NEED_PRIVILEGE();
    winetest_push_context( "large pages" );
    run_heap( TRUE );
    winetest_pop_context();
    winetest_push_context( "small pages" );
    run_heap( FALSE );
    winetest_pop_context();
    set_lock_privilege( FALSE );
}
