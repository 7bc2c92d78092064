/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWE sections in the client: their frame pools, and the regions bound to them.
 *
 * create_section gives the process a pool of its own: the section's memfd and its read-only
 * frame table, with a tag and a unit (1, or 512 frames for 2 MiB pages).  The engine keeps one
 * struct awe_client_section per section, found by the handle the caller holds.  A region bound
 * to the section holds a duplicate of that handle (the server keeps the section's frames while
 * any handle is open) and a reference to the structure, so closing the caller's handle leaves
 * bound regions working until they are released; the frames go back to the system with the
 * last of them.  Everything here runs under the AWE lock. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ntdll_side/engine.h"
#include "ntdll_private.h"

static struct awe_client_section *sections;     /* protected by the AWE lock */

static int section_frame_owned( void *ctx, uint32_t index )
{
    const struct awe_client_section *section = ctx;

    return index < awe_pfn_max_frames( &awe_client.layout ) &&
           awe_frame_table_test( section->table, index );
}

struct awe_client_section *awe_find_section( uint32_t handle )
{
    struct awe_client_section *section;

    if (!handle) return NULL;
    for (section = sections; section; section = section->next)
        if (section->handle == handle) return section;
    return NULL;
}

static void put_section( struct awe_client_section *section )
{
    struct awe_client_section **p;

    if (--section->refs) return;
    for (p = &sections; *p; p = &(*p)->next)
        if (*p == section)
        {
            *p = section->next;
            break;
        }
    awe_pool_destroy( &section->pool );
    munmap( (void *)section->table, section->table_size );
    close( section->pool.memfd );
    free( section );
}

void awe_forget_sections( void )
{
    struct awe_client_section *section;

    while ((section = sections))
    {
        section->refs = 1;
        put_section( section );
    }
}

/* Whether fd is a file of at least size bytes that nobody can resize (sealed). */
static int sealed_file( int fd, uint64_t size )
{
    struct stat st;
    int seals = fcntl( fd, F_GET_SEALS );

    return !fstat( fd, &st ) && S_ISREG( st.st_mode ) && (uint64_t)st.st_size >= size &&
           seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW);
}

int32_t awe_engine_create_section( uint32_t flags, uint32_t access, uint32_t *handle )
{
    struct awe_client_section *section;
    struct create_section_reply answer;
    int fds[2] = { -1, -1 }, nfds = 0, i;
    uint64_t table_size;
    NTSTATUS status;

    if (flags & ~AWE_ENGINE_SECTION_LARGE) return STATUS_INVALID_PARAMETER;
    if ((status = awe_client_attach())) return status;
    SERVER_START_REQ( create_section )
    {
        req->flags = flags & AWE_ENGINE_SECTION_LARGE ? AWE_SECTION_LARGE : 0;
        req->access = access;
        status = server_call( req );
        answer = *reply;
        for (i = 0; i < __call.nfds; i++) if (nfds < 2) fds[nfds++] = __call.fds[i]; else close( __call.fds[i] );
    }
    SERVER_END_REQ;
    if (status) return status;

    table_size = sizeof(struct awe_frame_table) + awe_pfn_max_frames( &awe_client.layout ) / 8;
    /* a reply that does not hold together is the server's fault; never map past a file */
    if (nfds != 2 || !answer.handle || answer.frame_table_size != table_size || !answer.tag ||
        answer.tag > awe_pfn_max_tag( &awe_client.layout ) ||
        (answer.unit != 1 && answer.unit != AWE_LARGE_UNIT) ||
        !sealed_file( fds[0], (uint64_t)awe_pfn_max_frames( &awe_client.layout ) << AWE_PAGE_SHIFT ) ||
        !sealed_file( fds[1], table_size ) || !(section = calloc( 1, sizeof(*section) )))
    {
        status = nfds == 2 ? STATUS_INSUFFICIENT_RESOURCES : STATUS_INTERNAL_ERROR;
        goto fail;
    }
    section->table_size = table_size;
    section->table = mmap( NULL, table_size, PROT_READ, MAP_SHARED, fds[1], 0 );
    if (section->table == MAP_FAILED ||
        awe_pool_init( &section->pool, &awe_client.layout, answer.tag, answer.unit, fds[0],
                       section_frame_owned, section ))
    {
        if (section->table != MAP_FAILED) munmap( (void *)section->table, table_size );
        free( section );
        status = STATUS_INTERNAL_ERROR;
        goto fail;
    }
    close( fds[1] );
    section->handle = answer.handle;
    section->backing = answer.backing;
    section->refs = 1;
    if ((status = awe_client_lock()))
    {
        put_section( section );
        awe_engine_close( answer.handle );
        return status;
    }
    /* a handle that names a section already is the server's mistake */
    if (awe_find_section( answer.handle ))
    {
        put_section( section );
        awe_client_unlock();
        return STATUS_INTERNAL_ERROR;
    }
    section->next = sections;
    sections = section;
    awe_client_unlock();
    *handle = answer.handle;
    return STATUS_SUCCESS;

fail:
    for (i = 0; i < nfds; i++) close( fds[i] );
    if (answer.handle) awe_engine_close( answer.handle );
    return status;
}

void awe_section_handle_closed( uint32_t handle )
{
    struct awe_client_section *section;

    if (awe_client_lock()) return;
    if ((section = awe_find_section( handle )))
    {
        section->handle = 0;
        put_section( section );
    }
    awe_client_unlock();
}

int32_t awe_engine_section_unit( uint32_t handle, size_t *bytes )
{
    struct awe_client_section *section;
    NTSTATUS status;

    if ((status = awe_client_lock())) return status;
    if ((section = awe_find_section( handle ))) *bytes = (size_t)section->pool.unit << AWE_PAGE_SHIFT;
    awe_client_unlock();
    return section ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

NTSTATUS awe_bind_window( uintptr_t base, size_t size, uint32_t handle, int readonly )
{
    struct awe_client_section *section;
    uint32_t binding = 0;
    NTSTATUS status;
    int ret;

    /* the duplicate that keeps the section alive is taken without the lock (a round trip) */
    if ((status = awe_client_lock())) return status;
    section = awe_find_section( handle );
    awe_client_unlock();
    if (!section) return STATUS_INVALID_HANDLE;
    SERVER_START_REQ( dup_handle )
    {
        req->handle = handle;
        if (!(status = server_call( req ))) binding = reply->handle;
    }
    SERVER_END_REQ;
    if (status) return status;

    if ((status = awe_client_lock()))
    {
        awe_engine_close( binding );
        return status;
    }
    if (!(section = awe_find_section( handle ))) status = STATUS_INVALID_HANDLE;
    else
    {
        struct awe_region *region;

        ret = awe_regions_insert_bound( &awe_client.regions, base, size >> AWE_PAGE_SHIFT,
                                        &section->pool, &region );
        if (ret == -EEXIST) status = STATUS_CONFLICTING_ADDRESSES;
        else if (ret == -EINVAL) status = STATUS_INVALID_PARAMETER;
        else if (ret) status = STATUS_NO_MEMORY;
        else
        {
            region->binding = binding;
            region->readonly = !!readonly;
            section->refs++;
        }
    }
    awe_client_unlock();
    if (status) awe_engine_close( binding );
    return status;
}

/* A region bound to the section's pool is gone: its reference goes (the caller closes its
 * duplicate handle, after the lock). */
void awe_section_put( struct awe_pool *pool )
{
    put_section( pool->owner_ctx );
}

struct awe_pool *awe_section_pool( uint32_t handle )
{
    struct awe_client_section *section = awe_find_section( handle );

    return section ? &section->pool : NULL;
}
