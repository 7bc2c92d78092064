/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWE demo: Microsoft's AWE example, step by step, on Linux through libawe and awe-server.
 *
 * Enables SeLockMemoryPrivilege, allocates physical pages, reserves a window, maps, writes,
 * remaps elsewhere, scatters, verifies, unmaps and frees, printing each step.  Written only
 * against <awe.h>: it builds with `cc awe_demo.c $(pkg-config --cflags --libs awe)`.  The server
 * starts on the first call.  The same source is a Windows program when built with mingw-w64
 * against <windows.h> (make wine-run runs it under the patched Wine).  Exits 1 if any check
 * fails. */

#include <stdio.h>
#include <string.h>
#ifdef _WIN32
# include <windows.h>
#else
# include <awe.h>
#endif

#define PAGES 1024                 /* 4 MiB of physical pages */
#define WINDOW_PAGES 256           /* 1 MiB window */

static int failures;

static void check( BOOL ok, const char *what )
{
    if (ok) printf( "  ok      %s\n", what );
    else
    {
        printf( "  FAILED  %s (error %lu)\n", what, (unsigned long)GetLastError() );
        failures++;
    }
}

static BOOL enable_lock_memory_privilege( void )
{
    TOKEN_PRIVILEGES tp;
    HANDLE token;
    BOOL ok;

    if (!OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &token )) return FALSE;
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    ok = LookupPrivilegeValueA( NULL, SE_LOCK_MEMORY_NAME, &tp.Privileges[0].Luid ) &&
         AdjustTokenPrivileges( token, FALSE, &tp, 0, NULL, NULL ) &&
         GetLastError() == ERROR_SUCCESS;   /* ERROR_NOT_ALL_ASSIGNED: not granted */
    CloseHandle( token );
    return ok;
}

int main( void )
{
    SYSTEM_INFO info;
    ULONG_PTR count, requested, *pfns, array_size;
    MEMORY_BASIC_INFORMATION mbi;
    char *window, *moved;
    PVOID scatter_vas[3];
    ULONG_PTR scatter_pfns[3];
    ULONG_PTR i;

    setvbuf( stdout, NULL, _IOLBF, 0 );
    GetSystemInfo( &info );
    printf( "AWE demo: pid %lu, page size %lu\n", (unsigned long)GetCurrentProcessId(),
            (unsigned long)info.dwPageSize );

    printf( "1. Enable SeLockMemoryPrivilege (\"Lock pages in memory\")\n" );
    check( enable_lock_memory_privilege(), "AdjustTokenPrivileges enabled it" );

    printf( "2. Allocate %d physical pages\n", PAGES );
    requested = count = PAGES;
    array_size = count * sizeof(ULONG_PTR);
    pfns = VirtualAlloc( NULL, array_size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE );
    check( pfns != NULL, "PFN array allocated with VirtualAlloc" );
    if (!pfns) return 1;
    check( AllocateUserPhysicalPages( GetCurrentProcess(), &count, pfns ), "AllocateUserPhysicalPages" );
    if (count != requested) printf( "  note    only %lu pages granted\n", (unsigned long)count );
    printf( "  PFNs %#lx .. %#lx\n", (unsigned long)pfns[0], (unsigned long)pfns[count - 1] );

    printf( "3. Reserve a %d-page window (MEM_RESERVE | MEM_PHYSICAL)\n", WINDOW_PAGES );
    window = VirtualAlloc( NULL, WINDOW_PAGES * info.dwPageSize, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
    moved = VirtualAlloc( NULL, WINDOW_PAGES * info.dwPageSize, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
    check( window && moved, "two windows reserved" );
    if (!window || !moved) return 1;

    printf( "4. Map the first %d pages into the window and write them\n", WINDOW_PAGES );
    check( MapUserPhysicalPages( window, WINDOW_PAGES, pfns ), "MapUserPhysicalPages" );
    check( VirtualQuery( window, &mbi, sizeof(mbi) ) && mbi.State == MEM_COMMIT &&
           mbi.RegionSize == WINDOW_PAGES * info.dwPageSize, "VirtualQuery: one committed run" );
    for (i = 0; i < WINDOW_PAGES; i++)
        snprintf( window + i * info.dwPageSize, 64, "page %lu, pfn %#lx", (unsigned long)i,
                  (unsigned long)pfns[i] );

    printf( "5. Remap: the window shows the next %d pages, then the frames move to another window\n",
            WINDOW_PAGES );
    check( MapUserPhysicalPages( window, WINDOW_PAGES, pfns + WINDOW_PAGES ), "window remapped" );
    check( window[0] == 0, "fresh pages read as zero" );
    check( MapUserPhysicalPages( window, WINDOW_PAGES, NULL ), "window unmapped (PageArray NULL)" );
    check( MapUserPhysicalPages( moved, WINDOW_PAGES, pfns ), "first pages mapped at the other window" );
    check( !strncmp( moved + 7 * info.dwPageSize, "page 7,", 7 ), "data moved with its frames" );

    printf( "6. Scatter three pages into the first window\n" );
    scatter_vas[0] = window;
    scatter_vas[1] = window + 100 * info.dwPageSize;
    scatter_vas[2] = window + 200 * info.dwPageSize;
    scatter_pfns[0] = pfns[2 * WINDOW_PAGES];
    scatter_pfns[1] = pfns[2 * WINDOW_PAGES + 1];
    scatter_pfns[2] = pfns[2 * WINDOW_PAGES + 2];
    check( MapUserPhysicalPagesScatter( scatter_vas, 3, scatter_pfns ), "MapUserPhysicalPagesScatter" );
    strcpy( window + 100 * info.dwPageSize, "scattered" );
    check( !MapUserPhysicalPages( window + info.dwPageSize, 1, pfns ) &&
           GetLastError() == ERROR_INVALID_ADDRESS, "a mapped frame cannot be mapped twice" );
    check( MapUserPhysicalPagesScatter( scatter_vas, 3, NULL ), "scattered pages unmapped" );

    printf( "7. Free everything\n" );
    check( FreeUserPhysicalPages( GetCurrentProcess(), &count, pfns ), "FreeUserPhysicalPages" );
    check( VirtualQuery( moved, &mbi, sizeof(mbi) ) && mbi.State == MEM_RESERVE,
           "freed pages were unmapped" );
    check( VirtualFree( window, 0, MEM_RELEASE ) && VirtualFree( moved, 0, MEM_RELEASE ) &&
           VirtualFree( pfns, 0, MEM_RELEASE ), "windows and array released" );

    printf( "%s\n", failures ? "demo FAILED" : "demo passed" );
    return failures ? 1 : 0;
}
