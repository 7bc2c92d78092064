/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWE through the API set names: a Windows program importing the memory calls the way MSVC
 * builds do, VirtualAlloc2 (and the AWE calls) from api-ms-win-core-memory-l1-1-6.dll and
 * CreateFileMapping2 from api-ms-win-core-memory-l1-1-7.dll (import libraries made by dlltool
 * from the .def files beside it), running ZGC's sequence once: an AWE section, frames
 * allocated on it, a MEM_PHYSICAL view bound to it, map, write and read, unmap, free, release
 * (winetests/zgc.c has the whole of it).  A loader that cannot resolve an API set name refuses
 * the program before main; Wine resolves a missing function to a stub that raises when
 * called.  Prints "apiset passed" and exits 0, or "apiset FAILED" and exits 1. */

#define NTDDI_VERSION NTDDI_WIN10_RS5     /* the SDK declares CreateFileMapping2 from here on */
#include <windows.h>
#include "winetests/test.h"
#include "winetests/helpers.h"

#define PAGES 16                          /* frames of the section, and pages of the view */

static int failures;

static BOOL check( BOOL passed, const char *what )
{
    if (passed) printf( "  ok      %s\n", what );
    else
    {
        printf( "  FAILED  %s (error %lu)\n", what, (unsigned long)GetLastError() );
        failures++;
    }
    return passed;
}

int main( void )
{
    MEM_EXTENDED_PARAMETER param;
    ULONG_PTR pfns[PAGES], count = PAGES, i, bad = 0;
    HANDLE section = NULL;
    char *view = NULL;

    setvbuf( stdout, NULL, _IOLBF, 0 );
    printf( "AWE through api-ms-win-core-memory-l1-1-6 and -l1-1-7\n" );
    if (!check( set_lock_privilege( TRUE ), "SeLockMemoryPrivilege enabled" )) goto out;

    memset( &param, 0, sizeof(param) );
    param.Type = MemSectionExtendedParameterUserPhysicalFlags;
    section = CreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_MAP_READ | SECTION_MAP_WRITE,
                                  PAGE_READWRITE, SEC_RESERVE, 0, NULL, &param, 1 );
    if (!check( section != NULL, "CreateFileMapping2: an AWE section" )) goto out;

    memset( pfns, 0xcc, sizeof(pfns) );
    if (!check( AllocateUserPhysicalPages( section, &count, pfns ) && count == PAGES,
                "AllocateUserPhysicalPages on the section" ))
        goto out_close_section;

    memset( &param, 0, sizeof(param) );
    param.Type = MemExtendedParameterUserPhysicalHandle;
    param.Handle = section;
    view = VirtualAlloc2( GetCurrentProcess(), NULL, PAGES * PAGE, MEM_RESERVE | MEM_PHYSICAL,
                          PAGE_READWRITE, &param, 1 );
    if (!check( view != NULL, "VirtualAlloc2: a MEM_PHYSICAL view bound to the section" ))
        goto out_free_frames;

    if (check( MapUserPhysicalPages( view, PAGES, pfns ), "MapUserPhysicalPages" ))
    {
        for (i = 0; i < PAGES; i++) ((volatile ULONG_PTR *)(view + i * PAGE))[1] = STAMP( i );
        for (i = 0; i < PAGES; i++) if (((volatile ULONG_PTR *)(view + i * PAGE))[1] != STAMP( i )) bad++;
        check( !bad, "every page reads back what was written" );
        check( MapUserPhysicalPages( view, PAGES, NULL ), "unmapped (PageArray NULL)" );
    }
    check( VirtualFree( view, 0, MEM_RELEASE ), "view released" );

out_free_frames:
    check( FreeUserPhysicalPages( section, &count, pfns ) && count == PAGES, "FreeUserPhysicalPages" );
out_close_section:
    check( CloseHandle( section ), "section closed" );
out:
    set_lock_privilege( FALSE );
    printf( "%s\n", failures ? "apiset FAILED" : "apiset passed" );
    return failures ? 1 : 0;
}
