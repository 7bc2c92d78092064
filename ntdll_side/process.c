/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes, handles, tokens and privileges. */

#include <strings.h>
#include <unistd.h>
#include "ntdll_side/engine.h"
#include "ntdll_private.h"

/* Standard privilege names and their LUIDs (winnt.h); only SeLockMemoryPrivilege can be held. */
static const struct { const char *name; DWORD luid; } privileges[] =
{
    { "SeCreateTokenPrivilege",        2 },
    { "SeAssignPrimaryTokenPrivilege", 3 },
    { "SeLockMemoryPrivilege",         SE_LOCK_MEMORY_PRIVILEGE },
    { "SeIncreaseQuotaPrivilege",      5 },
    { "SeTcbPrivilege",                7 },
    { "SeSecurityPrivilege",           8 },
    { "SeLoadDriverPrivilege",         10 },
    { "SeSystemProfilePrivilege",      11 },
    { "SeSystemtimePrivilege",         12 },
    { "SeIncreaseBasePriorityPrivilege", 14 },
    { "SeCreatePagefilePrivilege",     15 },
    { "SeBackupPrivilege",             17 },
    { "SeRestorePrivilege",            18 },
    { "SeShutdownPrivilege",           19 },
    { "SeDebugPrivilege",              20 },
    { "SeChangeNotifyPrivilege",       23 },
    { "SeIncreaseWorkingSetPrivilege", 33 },
};

HANDLE WINAPI GetCurrentProcess( void )
{
    return NtCurrentProcess();
}

DWORD WINAPI GetCurrentProcessId( void )
{
    return (DWORD)getpid();
}

HANDLE WINAPI OpenProcess( DWORD access, BOOL inherit, DWORD pid )
{
    uint32_t handle = 0;

    if (!awe_set_ntstatus( awe_engine_open_process( pid, access, &handle ) )) return NULL;
    return (HANDLE)(uintptr_t)handle;
}

BOOL WINAPI CloseHandle( HANDLE handle )
{
    if (handle == NtCurrentProcess()) return TRUE;
    if ((uint64_t)(uintptr_t)handle >> 32 || !handle) return awe_set_ntstatus( STATUS_INVALID_HANDLE );
    return awe_set_ntstatus( awe_engine_close( (uint32_t)(uintptr_t)handle ) );
}

BOOL WINAPI OpenProcessToken( HANDLE process, DWORD access, PHANDLE token )
{
    NTSTATUS status;
    HANDLE result = NULL;
    uint32_t handle = AWE_CURRENT_PROCESS;

    if (process != NtCurrentProcess())
    {
        if ((uint64_t)(uintptr_t)process >> 32) return awe_set_ntstatus( STATUS_INVALID_HANDLE );
        handle = (uint32_t)(uintptr_t)process;
    }
    if (!(status = awe_client_attach()))
    {
        SERVER_START_REQ( open_token )
        {
            req->process = handle;
            req->access = access;
            if (!(status = server_call( req ))) result = (HANDLE)(uintptr_t)reply->handle;
        }
        SERVER_END_REQ;
    }
    if (!status && awe_copy_to_user( token, &result, sizeof(result) )) status = STATUS_ACCESS_VIOLATION;
    return awe_set_ntstatus( status );
}

BOOL WINAPI LookupPrivilegeValueA( LPCSTR system, LPCSTR name, PLUID luid )
{
    LUID value = { 0, 0 };
    size_t i;

    if (system && *system) return awe_set_ntstatus( STATUS_NOT_SUPPORTED );  /* remote systems */
    if (!name) return awe_set_ntstatus( STATUS_INVALID_PARAMETER );
    for (i = 0; i < sizeof(privileges) / sizeof(privileges[0]); i++)
        if (!strcasecmp( name, privileges[i].name )) break;
    if (i == sizeof(privileges) / sizeof(privileges[0]))
        return awe_set_ntstatus( STATUS_NO_SUCH_PRIVILEGE );
    value.LowPart = privileges[i].luid;
    if (awe_copy_to_user( luid, &value, sizeof(value) )) return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
    return TRUE;
}

BOOL WINAPI LookupPrivilegeValueW( LPCWSTR system, LPCWSTR name, PLUID luid )
{
    char narrow_system[64], narrow_name[64];
    size_t i;

    for (i = 0; system && system[i] && i < sizeof(narrow_system) - 1; i++)
        narrow_system[i] = system[i] < 0x80 ? (char)system[i] : '?';
    if (system) narrow_system[i] = 0;
    if (!name) return awe_set_ntstatus( STATUS_INVALID_PARAMETER );
    for (i = 0; name[i] && i < sizeof(narrow_name) - 1; i++)
        narrow_name[i] = name[i] < 0x80 ? (char)name[i] : '?';
    narrow_name[i] = 0;
    return LookupPrivilegeValueA( system ? narrow_system : NULL, narrow_name, luid );
}

/* AdjustTokenPrivileges: success with ERROR_NOT_ALL_ASSIGNED when a privilege is not held,
 * ERROR_SUCCESS (set explicitly, as Windows does) when all were. */
BOOL WINAPI AdjustTokenPrivileges( HANDLE token, BOOL disable_all, PTOKEN_PRIVILEGES privs,
                                   DWORD length, PTOKEN_PRIVILEGES prev, PDWORD prev_length )
{
    struct awe_wire_privilege in[16], old[16];
    DWORD count = 0, i;
    size_t nold = 0;
    uint32_t not_all = 0;
    NTSTATUS status;

    if ((uint64_t)(uintptr_t)token >> 32 || !token) return awe_set_ntstatus( STATUS_INVALID_HANDLE );
    if (!disable_all)
    {
        if (!privs) return awe_set_ntstatus( STATUS_INVALID_PARAMETER );
        if (awe_copy_from_user( &count, &privs->PrivilegeCount, sizeof(count) ))
            return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
        if (count > 16) return awe_set_ntstatus( STATUS_INVALID_PARAMETER );
        for (i = 0; i < count; i++)
        {
            LUID_AND_ATTRIBUTES entry;
            if (awe_copy_from_user( &entry, &privs->Privileges[i], sizeof(entry) ))
                return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
            in[i].luid = entry.Luid.HighPart ? 0xffffffff : entry.Luid.LowPart;
            in[i].attributes = entry.Attributes;
        }
    }
    if ((status = awe_client_attach())) return awe_set_ntstatus( status );
    SERVER_START_REQ( adjust_privileges )
    {
        req->token = (uint32_t)(uintptr_t)token;
        req->disable_all = !!disable_all;
        server_add_data( in, count * sizeof(in[0]) );
        server_set_reply( old, sizeof(old) );
        if (!(status = server_call( req )))
        {
            not_all = reply->not_all_assigned;
            nold = server_reply_data_size() / sizeof(old[0]);
        }
    }
    SERVER_END_REQ;
    if (status) return awe_set_ntstatus( status );

    if (prev)
    {
        DWORD need = (DWORD)(offsetof(TOKEN_PRIVILEGES, Privileges) + nold * sizeof(LUID_AND_ATTRIBUTES));
        DWORD n = (DWORD)nold;

        if (prev_length && awe_copy_to_user( prev_length, &need, sizeof(need) ))
            return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
        if (length < need) return awe_set_ntstatus( STATUS_BUFFER_TOO_SMALL );
        if (awe_copy_to_user( &prev->PrivilegeCount, &n, sizeof(n) ))
            return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
        for (i = 0; i < n; i++)
        {
            LUID_AND_ATTRIBUTES entry = { { old[i].luid, 0 }, old[i].attributes };
            if (awe_copy_to_user( &prev->Privileges[i], &entry, sizeof(entry) ))
                return awe_set_ntstatus( STATUS_ACCESS_VIOLATION );
        }
    }
    SetLastError( not_all ? ERROR_NOT_ALL_ASSIGNED : ERROR_SUCCESS );
    return TRUE;
}
