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

/* A handle's reference to its object goes. */
static void release_object( const struct handle_object *obj )
{
    if (obj->type == OBJ_SECTION) release_section( obj->object );
    else release_process( obj->object );
}

NTSTATUS alloc_handle( struct process *owner, void *object, enum object_type type,
                       uint32_t access, uint32_t *handle )
{
    struct awe_handle_entry entry = { .type = type, .access = access };
    uint32_t index, gen;

    if (type == OBJ_SECTION)
    {
        struct section *section = object;

        entry.object_id = section->id;
        entry.owner_pid = (uint32_t)section->owner->pid;
        entry.data[0] = section->pool.tag;
        entry.data[1] = section->pool.unit;
    }
    else
    {
        struct process *target = object;

        entry.object_id = target->id;
        entry.owner_pid = (uint32_t)target->pid;
    }

    if (!owner->handle_table) return STATUS_INSUFFICIENT_RESOURCES;
    if (awe_handle_alloc( owner->handle_table, &entry, handle ) ||
        awe_handle_decode( *handle, &index, &gen ))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (index >= owner->handle_objects_len)
    {
        uint32_t len = owner->handle_objects_len ? owner->handle_objects_len * 2 : 16, i;
        struct handle_object *objects;

        while (len <= index) len *= 2;
        if (!(objects = realloc( owner->handle_objects, len * sizeof(*objects) )))
        {
            awe_handle_free( owner->handle_table, *handle );
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        for (i = owner->handle_objects_len; i < len; i++) objects[i].object = NULL;
        owner->handle_objects = objects;
        owner->handle_objects_len = len;
    }
    owner->handle_objects[index].object = object;
    owner->handle_objects[index].type = type;
    if (type == OBJ_SECTION) ((struct section *)object)->refs++;
    else ((struct process *)object)->refs++;
    return STATUS_SUCCESS;
}

/* Looks a handle up in the published table; returns its entry index or -1. */
static int64_t lookup( struct process *owner, uint32_t handle, struct awe_handle_entry *entry )
{
    uint32_t index, gen;

    if (!owner->handle_table || awe_handle_decode( handle, &index, &gen ) ||
        awe_handle_get( owner->handle_table, handle, entry ) ||
        index >= owner->handle_objects_len || !owner->handle_objects[index].object)
        return -1;
    return index;
}

NTSTATUS close_handle( struct process *owner, uint32_t handle )
{
    struct awe_handle_entry entry;
    int64_t index = lookup( owner, handle, &entry );
    struct handle_object obj;

    if (index < 0) return STATUS_INVALID_HANDLE;
    obj = owner->handle_objects[index];
    awe_handle_free( owner->handle_table, handle );
    owner->handle_objects[index].object = NULL;
    release_object( &obj );
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
    *object = owner->handle_objects[index].object;
    return STATUS_SUCCESS;
}

void close_all_handles( struct process *owner )
{
    uint32_t i;

    /* the table goes first: releasing a section reaches back to its owner's accounting */
    for (i = 0; i < owner->handle_objects_len; i++)
    {
        struct handle_object obj = owner->handle_objects[i];

        if (!obj.object) continue;
        owner->handle_objects[i].object = NULL;
        release_object( &obj );
    }
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

DECL_HANDLER(dup_handle)
{
    struct awe_handle_entry entry;
    int64_t index = lookup( caller, req->handle, &entry );

    if (index < 0) return STATUS_INVALID_HANDLE;
    return alloc_handle( caller, caller->handle_objects[index].object,
                         caller->handle_objects[index].type, entry.access, &reply->handle );
}

DECL_HANDLER(open_process)
{
    struct process *process = find_process_by_pid( (pid_t)req->pid );
    uint32_t access = req->access;

    if (!process || !req->pid) return STATUS_INVALID_PARAMETER;
    if (access & AWE_PROCESS_QUERY_INFORMATION) access |= AWE_PROCESS_QUERY_LIMITED_INFORMATION;
    return alloc_handle( caller, process, OBJ_PROCESS, access, &reply->handle );
}
