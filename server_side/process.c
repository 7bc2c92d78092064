/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes: one per client connection, with its tag, frame memfd and frame table. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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
    process->conn_watch.process = process;
    process->ack_watch.process = process;
    process->ack_watch.ack = 1;
    process->ack_fd = -1;
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

NTSTATUS init_frames( struct process *process )
{
    size_t max = awe_pfn_max_frames( &options.layout );
    char name[32];

    if (!(process->tag = alloc_tag())) return STATUS_INSUFFICIENT_RESOURCES;
    snprintf( name, sizeof(name), "awe-frames:%d", (int)process->pid );
    if ((process->memfd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0) goto failed;
    /* the client gets this descriptor read/write: it must never shrink the file under us */
    if (fcntl( process->memfd, F_ADD_SEALS, F_SEAL_SHRINK )) goto failed;
    process->frames_base = mmap( NULL, max << AWE_PAGE_SHIFT, PROT_NONE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0 );
    if (process->frames_base == MAP_FAILED)
    {
        process->frames_base = NULL;
        goto failed;
    }
    if (awe_frames_init( &process->frames, (uint32_t)max )) goto failed;
    process->frames_ready = 1;

    snprintf( name, sizeof(name), "awe-table:%d", (int)process->pid );
    process->table_size = sizeof(struct awe_frame_table) + max / 8;
    if ((process->table_fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( process->table_fd, process->table_size ))
        goto failed;
    process->table = mmap( NULL, process->table_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                           process->table_fd, 0 );
    if (process->table == MAP_FAILED)
    {
        process->table = NULL;
        goto failed;
    }
    /* from now on nobody can write the table through any descriptor but our mapping */
    if (fcntl( process->table_fd, F_ADD_SEALS,
               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL ) ||
        (process->table_ro_fd = reopen_read_only( process->table_fd )) < 0)
        goto failed;

    snprintf( name, sizeof(name), "awe-usage:%d", (int)process->pid );
    if ((process->usage_fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( process->usage_fd, AWE_PAGE_SIZE ) ||
        fcntl( process->usage_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL ))
        goto failed;
    process->usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ, MAP_SHARED, process->usage_fd, 0 );
    if (process->usage == MAP_FAILED)
    {
        process->usage = NULL;
        goto failed;
    }
    return STATUS_SUCCESS;

failed:
    server_log( "cannot set up frames for pid %d: %s", (int)process->pid, strerror( errno ) );
    release_frames( process );
    return STATUS_INSUFFICIENT_RESOURCES;
}

/* Creates the process's AWE lock (a free mutex) and unmap notification (an auto-reset event)
 * in a pool of its own that the client maps read/write. */
static NTSTATUS init_sync( struct process *process )
{
    struct awe_sync_ref lock_ref;
    void *lock, *notify;

    if (awe_slab_create( sizeof(struct awe_sync_shm), 2, AWE_SLAB_CLIENT_WRITABLE, &process->sync_pool ) ||
        awe_slab_alloc( process->sync_pool, &process->lock_slot, &lock ) ||
        awe_slab_alloc( process->sync_pool, &process->notify_slot, &notify ))
        return STATUS_INSUFFICIENT_RESOURCES;
    process->table->sync_gen[0] = awe_slab_generation( process->sync_pool, process->lock_slot );
    process->table->sync_gen[1] = awe_slab_generation( process->sync_pool, process->notify_slot );
    if (awe_sync_ref_init( &lock_ref, lock, &process->table->sync_gen[0], process->id * 2,
                           process->table->sync_gen[0], AWE_SYNC_MUTEX, 0 ) ||
        awe_sync_create( &lock_ref, 0 ) ||
        awe_sync_ref_init( &process->notify_ref, notify, &process->table->sync_gen[1],
                           process->id * 2 + 1, process->table->sync_gen[1], AWE_SYNC_EVENT, 0 ) ||
        awe_sync_create( &process->notify_ref, 0 ))
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

/* Hands the client its descriptors: the memfd, and a read-only one for the frame table. */
DECL_HANDLER(init_process)
{
    NTSTATUS status;

    if (req->version != AWE_PROTOCOL_VERSION)
    {
        server_log( "pid %d speaks protocol %u, this server %u", (int)caller->pid, req->version,
                    AWE_PROTOCOL_VERSION );
        return STATUS_NOT_SUPPORTED;
    }
    if ((status = init_frames( caller )) || (status = init_handles( caller )) ||
        (status = init_sync( caller )))
        return status;
    if ((caller->ack_fd = eventfd( 0, EFD_CLOEXEC | EFD_NONBLOCK )) < 0 ||
        watch_fd( caller->ack_fd, &caller->ack_watch ))
        return STATUS_INSUFFICIENT_RESOURCES;
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
    reply_fds[5] = caller->ack_fd;
    *nfds = 6;
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
    reply->sync_id = caller->id * 2;
    reply->lock_slot = caller->lock_slot;
    reply->notify_slot = caller->notify_slot;
    return STATUS_SUCCESS;
}

/* The connection closed: the process is gone.  Its frames go back to the system at once;
 * the object lives on while other processes hold handles to it. */
void disconnect_process( struct process *process )
{
    unwatch_fd( process->fd );
    close( process->fd );
    process->fd = -1;
    if (process->ack_fd >= 0)
    {
        unwatch_fd( process->ack_fd );
        close( process->ack_fd );
        process->ack_fd = -1;
    }
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
        out[n].memfd_frames = process->memfd_frames;
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
