/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tokens: each process's privileges; SeLockMemoryPrivilege is the only one modelled. */

#include "server.h"

DECL_HANDLER(open_token)
{
    struct process *process;
    NTSTATUS status;

    /* as on Windows, the process handle must grant PROCESS_QUERY_LIMITED_INFORMATION */
    if ((status = get_handle_object( caller, req->process, OBJ_PROCESS,
                                     AWE_PROCESS_QUERY_LIMITED_INFORMATION, (void **)&process )))
        return status;
    return alloc_handle( caller, process, OBJ_TOKEN, req->access, &reply->handle );
}

/* AdjustTokenPrivileges: privileges the token does not hold are skipped and reported with
 * not_all_assigned (ERROR_NOT_ALL_ASSIGNED), as Windows does.  The reply's variable part holds
 * the previous state of every privilege that changed. */
DECL_HANDLER(adjust_privileges)
{
    const struct awe_wire_privilege *in = (const void *)(req + 1);
    struct awe_wire_privilege *prev = (void *)(reply + 1);
    size_t i, count = (req_size - sizeof(*req)) / sizeof(*in), nprev = 0;
    struct process *process;
    NTSTATUS status;

    if ((req_size - sizeof(*req)) % sizeof(*in)) return PROTOCOL_ERROR;
    if ((status = get_handle_object( caller, req->token, OBJ_TOKEN, AWE_TOKEN_ADJUST_PRIVILEGES,
                                     (void **)&process )))
        return status;

    if (req->disable_all)
    {
        if (process->privilege > 0)
        {
            prev[nprev].luid = AWE_SE_LOCK_MEMORY_PRIVILEGE;
            prev[nprev++].attributes = (uint32_t)process->privilege;
            process->privilege = 0;
        }
    }
    else for (i = 0; i < count; i++)
    {
        uint32_t want = in[i].attributes & AWE_SE_PRIVILEGE_ENABLED;

        if (in[i].luid != AWE_SE_LOCK_MEMORY_PRIVILEGE || process->privilege < 0)
        {
            reply->not_all_assigned = 1;
            continue;
        }
        if (in[i].attributes & AWE_SE_PRIVILEGE_REMOVED) want = 0;
        if ((uint32_t)process->privilege != want && nprev < 1)
        {
            prev[nprev].luid = AWE_SE_LOCK_MEMORY_PRIVILEGE;
            prev[nprev++].attributes = (uint32_t)process->privilege;
        }
        process->privilege = (int)want;
    }
    *reply_size += nprev * sizeof(*prev);
    return STATUS_SUCCESS;
}
