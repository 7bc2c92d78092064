/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Requests to the awe-server: connecting (and starting it), calls, the unmap notifications. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ntdll_private.h"

#ifndef AWE_BINDIR
#define AWE_BINDIR "/usr/local/bin"
#endif

#define CONNECT_TRIES 200          /* 10 ms apart: how long a starting server may take */
#define VMA_SLACK     1024         /* VMAs left for the rest of the process */

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;  /* one request on the wire at once */

NTSTATUS awe_server_call( struct awe_call *call )
{
    struct awe_request_header *header = call->req;
    struct iovec iov[2] = { { call->req, call->req_size }, { (void *)call->data, call->data_size } };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = call->data_size ? 2 : 1 };
    char control[CMSG_SPACE(8 * sizeof(int))];
    struct awe_reply_header *reply = call->reply;
    struct cmsghdr *cmsg;
    ssize_t len;
    size_t i, n;

    header->req = call->req_type;
    header->size = (uint32_t)(call->req_size + call->data_size);
    call->nfds = 0;
    pthread_mutex_lock( &call_lock );
    while ((len = sendmsg( awe_client.server_fd, &msg, MSG_NOSIGNAL )) < 0 && errno == EINTR) ;
    if (len < 0) goto broken;

    iov[0].iov_base = call->reply;
    iov[0].iov_len = call->reply_size;
    iov[1].iov_base = call->reply_data;
    iov[1].iov_len = call->reply_data_max;
    memset( &msg, 0, sizeof(msg) );
    msg.msg_iov = iov;
    msg.msg_iovlen = call->reply_data_max ? 2 : 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    while ((len = recvmsg( awe_client.server_fd, &msg, MSG_CMSG_CLOEXEC )) < 0 && errno == EINTR) ;
    pthread_mutex_unlock( &call_lock );
    if (len < (ssize_t)sizeof(*reply) || reply->size != (size_t)len || (msg.msg_flags & MSG_TRUNC))
        return STATUS_INTERNAL_ERROR;

    for (cmsg = CMSG_FIRSTHDR( &msg ); cmsg; cmsg = CMSG_NXTHDR( &msg, cmsg ))
    {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < n; i++)
        {
            int fd;
            memcpy( &fd, CMSG_DATA( cmsg ) + i * sizeof(int), sizeof(int) );
            if (call->nfds < (int)(sizeof(call->fds) / sizeof(call->fds[0]))) call->fds[call->nfds++] = fd;
            else close( fd );
        }
    }
    if ((size_t)len < call->reply_size) return reply->status ? reply->status : STATUS_INTERNAL_ERROR;
    call->reply_data_size = (size_t)len - call->reply_size;
    return reply->status;

broken:
    pthread_mutex_unlock( &call_lock );
    return STATUS_INTERNAL_ERROR;
}

/* Finds awe-server: $AWE_SERVER, beside the library (../bin), the configured bindir, $PATH. */
static void find_server( char *path, size_t size )
{
    const char *env = getenv( "AWE_SERVER" );
    Dl_info info;
    char *slash;

    if (env && *env)
    {
        snprintf( path, size, "%s", env );
        return;
    }
    if (dladdr( (void *)awe_server_call, &info ) && info.dli_fname && strstr( info.dli_fname, "libawe" ))
    {
        snprintf( path, size, "%s", info.dli_fname );
        if ((slash = strrchr( path, '/' )))
        {
            snprintf( slash, size - (size_t)(slash - path), "/../bin/awe-server" );
            if (!access( path, X_OK )) return;
        }
    }
    snprintf( path, size, "%s/awe-server", AWE_BINDIR );
    if (!access( path, X_OK )) return;
    snprintf( path, size, "awe-server" );
}

/* Starts a server and waits until it listens (its first process exits then).  Two clients
 * doing this at once are fine: the second server finds the directory locked and leaves. */
static void start_server( void )
{
    char path[PATH_MAX];
    int status;
    pid_t pid;

    find_server( path, sizeof(path) );
    if ((pid = fork()) < 0) return;
    if (!pid)
    {
        char *argv[] = { path, NULL };
        int fd = open( "/dev/null", O_RDWR );
        if (fd >= 0) dup2( fd, 0 );
        if (strchr( path, '/' )) execv( path, argv );
        else execvp( path, argv );
        _exit( 127 );
    }
    while (waitpid( pid, &status, 0 ) < 0 && errno == EINTR) ;
}

static int connect_server( void )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char dir[sizeof(addr.sun_path) - 8];
    struct timespec delay = { 0, 10 * 1000 * 1000 };
    int fd, tries;

    if (awe_instance_dir( dir, sizeof(dir) )) return -ENAMETOOLONG;
    snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", dir );
    for (tries = 0; tries < CONNECT_TRIES; tries++)
    {
        if ((fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 )) < 0) return -errno;
        if (!connect( fd, (struct sockaddr *)&addr, sizeof(addr) )) return fd;
        close( fd );
        if (errno != ENOENT && errno != ECONNREFUSED) return -errno;
        if (tries % 50 == 0) start_server();
        else nanosleep( &delay, NULL );
    }
    return -ETIMEDOUT;
}

static int frame_owned( void *ctx, uint32_t index )
{
    return index < awe_pfn_max_frames( &awe_client.layout ) &&
           awe_frame_table_test( awe_client.table, index );
}

/* Sets the VMA budget: what vm.max_map_count leaves after the mappings the process has now,
 * less a slack for its later ones; maps stop 1/8 below that so unmapping keeps room. */
static void set_vma_limits( struct awe_regions *regions )
{
    unsigned long max_map_count = 65530, others = 0;
    char line[256];
    FILE *file;

    if ((file = fopen( "/proc/sys/vm/max_map_count", "re" )))
    {
        if (!fgets( line, sizeof(line), file ) || !(max_map_count = strtoul( line, NULL, 10 )))
            max_map_count = 65530;
        fclose( file );
    }
    if ((file = fopen( "/proc/self/maps", "re" )))
    {
        while (fgets( line, sizeof(line), file )) if (strchr( line, '\n' )) others++;
        fclose( file );
    }
    if (max_map_count < others + 2 * VMA_SLACK) max_map_count = others + 2 * VMA_SLACK;
    regions->vma_hard_limit = max_map_count - others - VMA_SLACK;
    regions->vma_limit = regions->vma_hard_limit - regions->vma_hard_limit / 8;
}

void awe_client_sync_unmaps( void )
{
    struct awe_regions *regions = &awe_client.regions;
    uint32_t seq = awe_client.table ? atomic_load_explicit( &awe_client.table->notify_seq,
                                                             memory_order_acquire ) : 0;
    struct awe_plan plan;
    uintptr_t *lost = NULL;
    size_t n = 0, cap = 0;
    uint32_t i;

    if (!awe_client.table || seq == awe_client.acked_seq) return;
    for (i = 0; i < regions->frame_va_len; i++)
    {
        if (!regions->frame_va[i] || frame_owned( NULL, i )) continue;
        if (n == cap)
        {
            uintptr_t *grown = realloc( lost, (cap = cap ? cap * 2 : 64) * sizeof(*lost) );
            if (!grown) break;
            lost = grown;
        }
        lost[n++] = (uintptr_t)awe_pfn_encode( &awe_client.layout, awe_client.tag, i );
    }
    if (!awe_plan_unmap_frames( regions, lost, n, &plan ))
        awe_apply_plan( regions, awe_client.memfd, &plan );
    free( lost );
    awe_client_publish_usage();
    /* release: the unmaps above happen before the server, seeing the sequence, reuses frames */
    atomic_store_explicit( &awe_client.usage->acked_seq, seq, memory_order_release );
    awe_client.acked_seq = seq;
    if (eventfd_write( awe_client.ack_fd, 1 ))
        fprintf( stderr, "awe: cannot signal the server: %s\n", strerror( errno ) );
}

/* Waits for the server to take frames away from this process (another process freed them):
 * the server sets the notification event after bumping notify_seq. */
static void *notification_thread( void *arg )
{
    struct awe_sync_ref notify = *(const struct awe_sync_ref *)arg;   /* this thread's copy */
    const struct awe_frame_table *table = awe_client.table;
    struct timespec poll = { 1, 0 };
    uint32_t seen = 0;

    for (;;)
    {
        uint32_t seq = atomic_load_explicit( &table->notify_seq, memory_order_acquire );

        if (seq != seen)
        {
            if (!awe_client_lock())
            {
                awe_client_sync_unmaps();
                awe_client_unlock();
            }
            seen = seq;
            continue;
        }
        /* the event is in memory this process writes; if it scribbled on it, poll instead */
        if (awe_sync_wait( &notify, AWE_SYNC_INFINITE )) nanosleep( &poll, NULL );
    }
    return NULL;
}

NTSTATUS awe_check_handle( uint32_t handle, uint32_t type, uint32_t access )
{
    struct awe_handle_entry entry;

    if (!awe_client.handles) return STATUS_SUCCESS;   /* local attach (tests): the server decides */
    if (awe_handle_lookup( awe_client.handles, handle, &entry )) return STATUS_INVALID_HANDLE;
    if (entry.type != type) return STATUS_OBJECT_TYPE_MISMATCH;
    if ((entry.access & access) != access) return STATUS_ACCESS_DENIED;
    return STATUS_SUCCESS;
}

NTSTATUS awe_server_attach( struct awe_client *client )
{
    struct awe_pfn_layout layout;
    uint64_t sync_id = 0;
    uint32_t lock_slot = 0, notify_slot = 0;
    pthread_attr_t attr;
    pthread_t thread;
    NTSTATUS status;
    int fd, i;

    if ((fd = connect_server()) < 0)
    {
        char dir[PATH_MAX], path[PATH_MAX];

        awe_instance_dir( dir, sizeof(dir) );
        find_server( path, sizeof(path) );
        fprintf( stderr, "awe: cannot reach an awe-server in %s (started: %s): %s; "
                 "set AWE_SERVER to its path\n", dir, path, strerror( -fd ) );
        return STATUS_INTERNAL_ERROR;
    }
    client->server_fd = fd;
    SERVER_START_REQ( init_process )
    {
        req->version = AWE_PROTOCOL_VERSION;
        status = server_call( req );
        if (!status && (__call.nfds != 6 ||
                        awe_pfn_layout_init( &layout, reply->index_bits, reply->tag_bits )))
            status = STATUS_INTERNAL_ERROR;
        if (!status)
        {
            client->memfd = __call.fds[0];
            client->table_size = reply->frame_table_size;
            client->table = mmap( NULL, client->table_size, PROT_READ, MAP_SHARED, __call.fds[1], 0 );
            client->usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                                  __call.fds[2], 0 );
            {
                struct awe_slab_geometry geo = { reply->handle_slot_size, reply->handle_max_slots,
                                                 reply->handle_block_size, reply->handle_flags };
                struct awe_slab_geometry sync_geo = { reply->sync_slot_size, reply->sync_max_slots,
                                                      reply->sync_block_size, reply->sync_flags };
                if (awe_slab_view_open( __call.fds[3], &geo, &client->handles )) client->handles = NULL;
                if (awe_slab_view_open( __call.fds[4], &sync_geo, &client->sync_view )) client->sync_view = NULL;
                sync_id = reply->sync_id;
                lock_slot = reply->lock_slot;
                notify_slot = reply->notify_slot;
            }
            close( __call.fds[1] );
            close( __call.fds[2] );
            close( __call.fds[3] );
            close( __call.fds[4] );
            client->ack_fd = __call.fds[5];
            if (client->table == MAP_FAILED || client->usage == MAP_FAILED || !client->handles ||
                !client->sync_view)
                status = STATUS_INSUFFICIENT_RESOURCES;
            client->layout = layout;
            client->tag = reply->tag;
        }
        else for (i = 0; i < __call.nfds; i++) close( __call.fds[i] );
    }
    SERVER_END_REQ;
    if (!status && (awe_sync_ref_init( &client->lock_ref,
                                       awe_slab_view_slot_rw( client->sync_view, lock_slot ),
                                       &client->table->sync_gen[0], sync_id,
                                       client->table->sync_gen[0], AWE_SYNC_MUTEX, 0 ) ||
                    awe_sync_ref_init( &client->notify_ref,
                                       awe_slab_view_slot_rw( client->sync_view, notify_slot ),
                                       &client->table->sync_gen[1], sync_id + 1,
                                       client->table->sync_gen[1], AWE_SYNC_EVENT, 0 )))
        status = STATUS_INTERNAL_ERROR;
    if (!status && awe_regions_init( &client->regions, &layout, client->tag, frame_owned, NULL ))
        status = STATUS_INTERNAL_ERROR;
    if (status) goto failed;
    client->frame_owned = frame_owned;
    set_vma_limits( &client->regions );

    pthread_attr_init( &attr );
    pthread_attr_setdetachstate( &attr, PTHREAD_CREATE_DETACHED );
    pthread_attr_setstacksize( &attr, 64 * 1024 );
    i = pthread_create( &thread, &attr, notification_thread, &client->notify_ref );
    pthread_attr_destroy( &attr );
    if (i)
    {
        awe_regions_destroy( &client->regions );
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto failed;
    }
    return STATUS_SUCCESS;

failed:
    if (client->table && client->table != MAP_FAILED) munmap( (void *)client->table, client->table_size );
    if (client->usage && client->usage != MAP_FAILED) munmap( client->usage, AWE_PAGE_SIZE );
    if (client->memfd >= 0) close( client->memfd );
    if (client->ack_fd >= 0) close( client->ack_fd );
    client->ack_fd = -1;
    awe_slab_view_close( client->handles );
    awe_slab_view_close( client->sync_view );
    client->handles = NULL;
    client->sync_view = NULL;
    close( fd );
    client->table = NULL;
    client->usage = NULL;
    client->memfd = client->server_fd = -1;
    return status;
}
