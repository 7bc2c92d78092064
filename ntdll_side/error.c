/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Last-error value and the NTSTATUS to Win32 bridge. */

#include "ntdll_private.h"

static __thread DWORD last_error;

ULONG NTAPI RtlNtStatusToDosError( NTSTATUS status )
{
    return awe_ntstatus_to_win32( status );
}

DWORD WINAPI GetLastError( void )
{
    return last_error;
}

void WINAPI SetLastError( DWORD error )
{
    last_error = error;
}

BOOL awe_set_ntstatus( NTSTATUS status )
{
    if (status) SetLastError( RtlNtStatusToDosError( status ) );
    return !status;
}
