/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes: one per client connection, with its tag, frame memfd and frame table. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "server.h"

struct process *process_list;

static unsigned char *tag_used;   /* tags 1..max, 0 unused */
static uint32_t last_tag;         /* tags are handed out round robin: a freed tag comes back last */

static uint32_t alloc_tag( void )
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

static void free_tag( uint32_t tag )
{
    if (tag && tag_used) tag_used[tag] = 0;
}

/* Frees the tag table once no process is left (at exit). */
void free_tags( void )
{
    free( tag_used );
    tag_used = NULL;
}

struct process *create_process( int fd, pid_t pid )
{
    static uint64_t last_id;
    struct process *process = calloc( 1, sizeof(*process) );

    if (!process) return NULL;
    process->id = ++last_id;
    process->fd = fd;
    process->pid = pid;
    process->refs = 1;
    process->privilege = options.grant_lock ? 0 : -1;
    process->memfd = process->table_fd = process->table_ro_fd = process->usage_fd = -1;
    process->next = process_list;
    process_list = process;
    return process;
}

struct process *find_process_by_pid( pid_t pid )
{
    struct process *process;

    for (process = process_list; process; process = process->next)
        if (process->pid == pid && process->fd >= 0 && process->tag) return process;
    return NULL;
}

size_t count_processes( void )
{
    struct process *process;
    size_t n = 0;

    for (process = process_list; process; process = process->next) if (process->fd >= 0) n++;
    return n;
}

/* Opens a read-only description of a memfd: a client can map it only PROT_READ. */
static int reopen_read_only( int fd )
{
    char path[64];

    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    return open( path, O_RDONLY | O_CLOEXEC );
}

/* Creates the process's frames: the memfd, sized once to every frame the layout allows (a
 * sparse file: only populated frames cost memory) and sealed so that nobody, the client
 * included, can ever change its size or its seals again; the server's mapping of all of it;
 * the allocator; and the frame table, which only the server can write. */
static NTSTATUS init_frames( struct process *process )
{
    size_t max = awe_pfn_max_frames( &options.layout );
    char name[32];

    snprintf( name, sizeof(name), "awe-frames:%d", (int)process->pid );
    if ((process->memfd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( process->memfd, (off_t)max << AWE_PAGE_SHIFT ) ||
        fcntl( process->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL ))
        return STATUS_INSUFFICIENT_RESOURCES;
    process->frames_base = mmap( NULL, max << AWE_PAGE_SHIFT, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_NORESERVE, process->memfd, 0 );
    if (process->frames_base == MAP_FAILED)
    {
        process->frames_base = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (awe_frames_init( &process->frames, (uint32_t)max )) return STATUS_INSUFFICIENT_RESOURCES;
    process->frames_ready = 1;

    snprintf( name, sizeof(name), "awe-table:%d", (int)process->pid );
    process->table_size = sizeof(struct awe_frame_table) + max / 8;
    if ((process->table_fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( process->table_fd, process->table_size ))
        return STATUS_INSUFFICIENT_RESOURCES;
    process->table = mmap( NULL, process->table_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                           process->table_fd, 0 );
    if (process->table == MAP_FAILED)
    {
        process->table = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* from now on nobody can write the table through any descriptor but our mapping */
    if (fcntl( process->table_fd, F_ADD_SEALS,
               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL ) ||
        (process->table_ro_fd = reopen_read_only( process->table_fd )) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;

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
    process->table->lock_gen = awe_slab_generation( process->sync_pool, process->lock_slot );
    if (awe_sync_ref_init( &lock_ref, lock, &process->table->lock_gen, process->id,
                           process->table->lock_gen, AWE_SYNC_MUTEX, 0 ) ||
        awe_sync_create( &lock_ref, 0 ))
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

/* Undoes a failed init_process: the process is as it was before, without a tag. */
static void undo_init( struct process *process )
{
    close_all_handles( process );
    release_frames( process );
    free_tag( process->tag );
    process->tag = 0;
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
    if (!(caller->tag = alloc_tag()))
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
    reply->tag = caller->tag;
    reply->index_bits = options.layout.index_bits;
    reply->tag_bits = options.layout.tag_bits;
    reply->server_pid = (uint32_t)getpid();
    reply->frame_table_size = caller->table_size;
    reply_fds[0] = caller->memfd;
    reply_fds[1] = caller->table_ro_fd;
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
    free_tag( process->tag );
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
    size_t max = (AWE_MAX_MESSAGE - sizeof(*reply)) / sizeof(*out), n = 0;
    struct process *process;

    for (process = process_list; process && n < max; process = process->next)
    {
        if (process->fd < 0 || !process->tag) continue;
        out[n].pid = (uint32_t)process->pid;
        out[n].tag = process->tag;
        out[n].frames_allocated = process->owned;
        out[n].frames_quarantined = process->quarantined;
        out[n].frames_locked = options.unlocked ? 0 : process->owned + process->quarantined;
        out[n].span_frames = process->frames_ready ? awe_frames_span( &process->frames ) : 0;
        if (process->usage)
        {
            out[n].mapped_pages = atomic_load_explicit( &process->usage->mapped_pages, memory_order_relaxed );
            out[n].vmas = atomic_load_explicit( &process->usage->vmas, memory_order_relaxed );
        }
        n++;
    }
    reply->flags = options.unlocked ? AWE_STATUS_UNLOCKED : 0;
    reply->processes = (uint32_t)n;
    reply->quota_frames = options.quota_frames;
    reply->limit_frames = options.limit_frames;
    reply->held_frames = pages_held_frames();
    reply->reserve_frames = options.reserve_frames;
    *reply_size += n * sizeof(*out);
    return STATUS_SUCCESS;
}
