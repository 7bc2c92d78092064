/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes (one per client connection, with its frame pool) and AWE sections. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "server.h"

struct process *process_list;
struct section *section_list;

static unsigned char *tag_used;   /* tags 1..max, 0 unused */
static uint32_t last_tag;         /* tags are handed out round robin: a freed tag comes back last */

uint32_t alloc_tag( void )
{
    uint32_t max = awe_pfn_max_tag( &options.layout ), i, tag;

    if (!tag_used && !(tag_used = calloc( max + 1, 1 ))) return 0;
    for (i = 0; i < max; i++)
    {
        tag = (last_tag + i) % max + 1;
        if (!tag_used[tag])
        {
            tag_used[tag] = 1;
            last_tag = tag;
            return tag;
        }
    }
    return 0;
}

void free_tag( uint32_t tag )
{
    if (tag && tag_used) tag_used[tag] = 0;
}

/* Frees the tag table once no process is left (at exit). */
void free_tags( void )
{
    free( tag_used );
    tag_used = NULL;
}

uint64_t next_object_id( void )
{
    static uint64_t last_id;
    return ++last_id;
}

struct process *create_process( int fd, pid_t pid )
{
    struct process *process = calloc( 1, sizeof(*process) );

    if (!process) return NULL;
    process->id = next_object_id();
    process->fd = fd;
    process->pid = pid;
    process->refs = 1;
    process->privilege = options.grant_lock ? 0 : -1;
    process->pool.memfd = process->pool.table_fd = process->pool.table_ro_fd = process->usage_fd = -1;
    process->next = process_list;
    process_list = process;
    return process;
}

struct process *find_process_by_pid( pid_t pid )
{
    struct process *process;

    for (process = process_list; process; process = process->next)
        if (process->pid == pid && process->fd >= 0 && process->pool.tag) return process;
    return NULL;
}

size_t count_processes( void )
{
    struct process *process;
    size_t n = 0;

    for (process = process_list; process; process = process->next) if (process->fd >= 0) n++;
    return n;
}

/* Creates the process's frames (its pool, with the tag it was given) and its usage page. */
static NTSTATUS init_frames( struct process *process )
{
    NTSTATUS status;
    char name[32];

    if ((status = init_pool( &process->pool, "frames", process->pid, 1, AWE_BACKING_SMALL )))
        return status;
    snprintf( name, sizeof(name), "awe-usage:%d", (int)process->pid );
    if ((process->usage_fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( process->usage_fd, AWE_PAGE_SIZE ) ||
        fcntl( process->usage_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL ))
        return STATUS_INSUFFICIENT_RESOURCES;
    process->usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ, MAP_SHARED, process->usage_fd, 0 );
    if (process->usage == MAP_FAILED)
    {
        process->usage = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

/* Creates the process's AWE lock (a free mutex) in a pool of its own that the client maps
 * read/write.  The server writes the word once, here, and never reads it again. */
static NTSTATUS init_sync( struct process *process )
{
    struct awe_sync_ref lock_ref;
    void *lock;

    if (awe_slab_create( sizeof(struct awe_sync_shm), 1, AWE_SLAB_CLIENT_WRITABLE, &process->sync_pool ) ||
        awe_slab_alloc( process->sync_pool, &process->lock_slot, &lock ))
        return STATUS_INSUFFICIENT_RESOURCES;
    process->pool.table->lock_gen = awe_slab_generation( process->sync_pool, process->lock_slot );
    if (awe_sync_ref_init( &lock_ref, lock, &process->pool.table->lock_gen, process->id,
                           process->pool.table->lock_gen, AWE_SYNC_MUTEX, 0 ) ||
        awe_sync_create( &lock_ref, 0 ))
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

/* Undoes a failed init_process: the process is as it was before, without a tag. */
static void undo_init( struct process *process )
{
    close_all_handles( process );
    release_frames( process );
}

/* Hands the client its descriptors: the memfd, and read-only ones for its tables.  Any
 * resource running out (descriptors, memory, tags) is STATUS_INSUFFICIENT_RESOURCES, and
 * leaves the connection uninitialized. */
DECL_HANDLER(init_process)
{
    NTSTATUS status;

    if (req->version != AWE_PROTOCOL_VERSION)
    {
        server_log( "pid %d speaks protocol %u, this server %u", (int)caller->pid, req->version,
                    AWE_PROTOCOL_VERSION );
        return STATUS_NOT_SUPPORTED;
    }
    if (!(caller->pool.tag = alloc_tag()))
    {
        server_log( "pid %d: no PFN tag left (--pfn-bits allows %u processes)", (int)caller->pid,
                    awe_pfn_max_tag( &options.layout ) );
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if ((status = init_frames( caller )) || (status = init_handles( caller )) ||
        (status = init_sync( caller )))
    {
        server_log( "cannot set up pid %d: %s", (int)caller->pid, strerror( errno ) );
        undo_init( caller );
        return status;
    }
    reply->tag = caller->pool.tag;
    reply->index_bits = options.layout.index_bits;
    reply->tag_bits = options.layout.tag_bits;
    reply->server_pid = (uint32_t)getpid();
    reply->frame_table_size = caller->pool.table_size;
    reply_fds[0] = caller->pool.memfd;
    reply_fds[1] = caller->pool.table_ro_fd;
    reply_fds[2] = caller->usage_fd;
    reply_fds[3] = awe_handle_table_client_fd( caller->handle_table );
    reply_fds[4] = awe_slab_client_fd( caller->sync_pool );
    *nfds = 5;
    {
        struct awe_slab_geometry geo;
        awe_handle_table_geometry( caller->handle_table, &geo );
        reply->handle_slot_size = geo.slot_size;
        reply->handle_max_slots = geo.max_slots;
        reply->handle_block_size = geo.block_size;
        reply->handle_flags = geo.flags;
        awe_slab_geometry( caller->sync_pool, &geo );
        reply->sync_slot_size = geo.slot_size;
        reply->sync_max_slots = geo.max_slots;
        reply->sync_block_size = geo.block_size;
        reply->sync_flags = geo.flags;
    }
    reply->sync_id = caller->id;
    reply->lock_slot = caller->lock_slot;
    return STATUS_SUCCESS;
}

/* The connection closed: the process is gone.  Its frames go back to the system at once;
 * the object lives on while other processes hold handles to it. */
void disconnect_process( struct process *process )
{
    unwatch_fd( process->fd );
    close( process->fd );
    process->fd = -1;
    cancel_pending( process );
    close_all_handles( process );
    release_frames( process );
    release_process( process );
}

void release_process( struct process *process )
{
    struct process **p;

    if (--process->refs) return;
    for (p = &process_list; *p; p = &(*p)->next)
        if (*p == process)
        {
            *p = process->next;
            break;
        }
    free( process );
}

DECL_HANDLER(get_status)
{
    struct awe_wire_process_status *out = (void *)(reply + 1);
    struct awe_wire_section_status *sections;
    size_t room = AWE_MAX_MESSAGE - sizeof(*reply), n = 0, m = 0;
    struct process *process;
    struct section *section;

    for (process = process_list; process && room >= sizeof(*out); process = process->next)
    {
        const struct frame_pool *pool = &process->pool;

        if (process->fd < 0 || !pool->tag) continue;
        out[n].pid = (uint32_t)process->pid;
        out[n].tag = pool->tag;
        out[n].frames_allocated = pool->owned;
        out[n].frames_quarantined = pool->quarantined;
        out[n].frames_locked = options.unlocked ? 0 : pool->owned + pool->quarantined;
        out[n].span_frames = pool->frames_ready ? awe_frames_span( &pool->frames ) : 0;
        if (process->usage)
        {
            out[n].mapped_pages = atomic_load_explicit( &process->usage->mapped_pages, memory_order_relaxed );
            out[n].vmas = atomic_load_explicit( &process->usage->vmas, memory_order_relaxed );
        }
        n++;
        room -= sizeof(*out);
    }
    sections = (void *)(out + n);
    for (section = section_list; section && room >= sizeof(*sections); section = section->next)
    {
        const struct frame_pool *pool = &section->pool;

        memset( &sections[m], 0, sizeof(sections[m]) );
        sections[m].owner_pid = (uint32_t)section->owner->pid;
        sections[m].tag = pool->tag;
        sections[m].unit = pool->unit;
        sections[m].backing = pool->backing;
        sections[m].frames_allocated = pool->owned;
        sections[m].span_frames = awe_frames_span( &pool->frames ) * pool->unit;
        sections[m].handles = section->refs;
        m++;
        room -= sizeof(*sections);
    }
    reply->flags = options.unlocked ? AWE_STATUS_UNLOCKED : 0;
    reply->processes = (uint32_t)n;
    reply->quota_frames = options.quota_frames;
    reply->limit_frames = options.limit_frames;
    reply->held_frames = pages_held_frames();
    reply->reserve_frames = options.reserve_frames;
    reply->sections = (uint32_t)m;
    reply->large_pages = (uint32_t)options.large_pages;
    huge_page_counts( &reply->huge_pages_total, &reply->huge_pages_free );
    *reply_size += n * sizeof(*out) + m * sizeof(*sections);
    return STATUS_SUCCESS;
}

/* ---- AWE sections ------------------------------------------------------------------------- */

void release_section( struct section *section )
{
    struct section **p;

    if (--section->refs) return;
    for (p = &section_list; *p; p = &(*p)->next)
        if (*p == section)
        {
            *p = section->next;
            break;
        }
    section->owner->section_frames -= section->pool.owned;
    release_pool( &section->pool );
    free( section );
}

/* Sections of one process, and of all (at most half of the tags: processes keep the rest, so
 * that no client can take every tag with sections and keep others from starting). */
#define MAX_PROCESS_SECTIONS 16

static NTSTATUS section_room( const struct process *process )
{
    const struct section *section;
    uint32_t mine = 0, all = 0;

    for (section = section_list; section; section = section->next)
    {
        all++;
        if (section->owner == process) mine++;
    }
    if (mine >= MAX_PROCESS_SECTIONS || all >= awe_pfn_max_tag( &options.layout ) / 2)
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

/* CreateFileMapping2 of an AWE section.  A large one needs the privilege, as SEC_LARGE_PAGES
 * does on Windows; its frames are backed as --large-pages says, decided now. */
DECL_HANDLER(create_section)
{
    uint32_t unit = req->flags & AWE_SECTION_LARGE ? options.large_unit : 1;
    struct section *section;
    NTSTATUS status;

    if (req->flags & ~AWE_SECTION_LARGE) return STATUS_INVALID_PARAMETER;
    if (!caller->pool.frames_ready) return STATUS_PROCESS_IS_TERMINATING;
    if (unit > 1 && !(caller->privilege > 0 && (caller->privilege & AWE_SE_PRIVILEGE_ENABLED)))
        return STATUS_PRIVILEGE_NOT_HELD;
    if (unit > awe_pfn_max_frames( &options.layout )) return STATUS_INSUFFICIENT_RESOURCES;
    if ((status = section_room( caller ))) return status;
    if (!(section = calloc( 1, sizeof(*section) ))) return STATUS_INSUFFICIENT_RESOURCES;
    section->id = next_object_id();
    section->owner = caller;
    section->pool.memfd = section->pool.table_fd = section->pool.table_ro_fd = -1;
    if (!(section->pool.tag = alloc_tag()))
    {
        server_log( "pid %d: no PFN tag left for a section", (int)caller->pid );
        free( section );
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if ((status = init_pool( &section->pool, "section", caller->pid, unit,
                             unit > 1 ? large_backing() : AWE_BACKING_SMALL )))
    {
        release_pool( &section->pool );
        free( section );
        return status;
    }
    section->next = section_list;
    section_list = section;
    section->refs = 1;   /* held until the handle takes its own */
    status = alloc_handle( caller, section, OBJ_SECTION, req->access, &reply->handle );
    release_section( section );
    if (status) return status;
    reply->tag = section->pool.tag;
    reply->unit = unit;
    reply->backing = section->pool.backing;
    reply->frame_table_size = section->pool.table_size;
    reply_fds[0] = section->pool.memfd;
    reply_fds[1] = section->pool.table_ro_fd;
    *nfds = 2;
    return STATUS_SUCCESS;
}
