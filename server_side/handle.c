/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handles: per-process tables published read-only to their process through the shared core. */

#include <errno.h>
#include <stdlib.h>
#include "server.h"

#define MAX_HANDLES 4096

NTSTATUS init_handles( struct process *owner )
{
    return awe_handle_table_create( MAX_HANDLES, &owner->handle_table ) ? STATUS_INSUFFICIENT_RESOURCES
                                                                          : STATUS_SUCCESS;
}

NTSTATUS alloc_handle( struct process *owner, void *object, enum object_type type,
                       uint32_t access, uint32_t *handle )
{
    struct process *target = object;
    struct awe_handle_entry entry = { .object_id = target->id, .type = type, .access = access,
                                      .owner_pid = (uint32_t)target->pid };
    uint32_t index, gen;

    if (!owner->handle_table) return STATUS_INSUFFICIENT_RESOURCES;
    if (awe_handle_alloc( owner->handle_table, &entry, handle ) ||
        awe_handle_decode( *handle, &index, &gen ))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (index >= owner->handle_objects_len)
    {
        uint32_t len = owner->handle_objects_len ? owner->handle_objects_len * 2 : 16, i;
        struct process **objects;

        while (len <= index) len *= 2;
        if (!(objects = realloc( owner->handle_objects, len * sizeof(*objects) )))
        {
            awe_handle_free( owner->handle_table, *handle );
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        for (i = owner->handle_objects_len; i < len; i++) objects[i] = NULL;
        owner->handle_objects = objects;
        owner->handle_objects_len = len;
    }
    owner->handle_objects[index] = target;
    target->refs++;
    return STATUS_SUCCESS;
}

/* Looks a handle up in the published table; returns its entry index or -1. */
static int64_t lookup( struct process *owner, uint32_t handle, struct awe_handle_entry *entry )
{
    uint32_t index, gen;

    if (!owner->handle_table || awe_handle_decode( handle, &index, &gen ) ||
        awe_handle_get( owner->handle_table, handle, entry ) ||
        index >= owner->handle_objects_len || !owner->handle_objects[index])
        return -1;
    return index;
}

NTSTATUS close_handle( struct process *owner, uint32_t handle )
{
    struct awe_handle_entry entry;
    int64_t index = lookup( owner, handle, &entry );

    if (index < 0) return STATUS_INVALID_HANDLE;
    awe_handle_free( owner->handle_table, handle );
    release_process( owner->handle_objects[index] );
    owner->handle_objects[index] = NULL;
    return STATUS_SUCCESS;
}

NTSTATUS get_handle_object( struct process *owner, uint32_t handle, enum object_type type,
                            uint32_t access, void **object )
{
    struct awe_handle_entry entry;
    int64_t index;

    if (handle == AWE_CURRENT_PROCESS && type == OBJ_PROCESS)
    {
        *object = owner;
        return STATUS_SUCCESS;
    }
    if ((index = lookup( owner, handle, &entry )) < 0) return STATUS_INVALID_HANDLE;
    if (entry.type != type) return STATUS_OBJECT_TYPE_MISMATCH;
    if ((entry.access & access) != access) return STATUS_ACCESS_DENIED;
    *object = owner->handle_objects[index];
    return STATUS_SUCCESS;
}

void close_all_handles( struct process *owner )
{
    uint32_t i;

    for (i = 0; i < owner->handle_objects_len; i++)
        if (owner->handle_objects[i]) release_process( owner->handle_objects[i] );
    free( owner->handle_objects );
    owner->handle_objects = NULL;
    owner->handle_objects_len = 0;
    awe_handle_table_destroy( owner->handle_table );
    owner->handle_table = NULL;
}

DECL_HANDLER(close_handle)
{
    return close_handle( caller, req->handle );
}

DECL_HANDLER(open_process)
{
    struct process *process = find_process_by_pid( (pid_t)req->pid );
    uint32_t access = req->access;

    if (!process || !req->pid) return STATUS_INVALID_PARAMETER;
    if (access & AWE_PROCESS_QUERY_INFORMATION) access |= AWE_PROCESS_QUERY_LIMITED_INFORMATION;
    return alloc_handle( caller, process, OBJ_PROCESS, access, &reply->handle );
}
