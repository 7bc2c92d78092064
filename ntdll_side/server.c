/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Requests to the awe-server: connecting (and starting it), calls, the unmap notifications. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "awe/futex.h"
#include "ntdll_private.h"

#ifndef AWE_BINDIR
#define AWE_BINDIR "/usr/local/bin"
#endif

#define CONNECT_TRIES 200          /* 10 ms apart: how long a starting server may take */
#define VMA_SLACK     1024         /* VMAs left for the rest of the process */
#define DEFAULT_TIMEOUT_S 60       /* a request's deadline; AWE_SERVER_TIMEOUT overrides it */

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;  /* one request on the wire at once */

/* The deadline of one request in milliseconds: $AWE_SERVER_TIMEOUT seconds (fractions allowed),
 * else DEFAULT_TIMEOUT_S (read every time: it costs far less than the round trip).  No
 * server request takes long (allocations come in rounds), so passing it means the server is
 * stuck. */
static int request_timeout_ms( void )
{
    const char *env = getenv( "AWE_SERVER_TIMEOUT" );
    double value;
    char *end;

    if (env && (value = strtod( env, &end )) > 0 && !*end && value < 1e6)
        return value * 1000 < 1 ? 1 : (int)(value * 1000);
    return DEFAULT_TIMEOUT_S * 1000;
}

static int64_t now_ms( void )
{
    struct timespec ts;
    clock_gettime( CLOCK_MONOTONIC, &ts );
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -errno. */
static int wait_ready( int fd, short events, int64_t deadline )
{
    struct pollfd pfd = { .fd = fd, .events = events };
    int64_t left;
    int ret;

    for (;;)
    {
        if ((left = deadline - now_ms()) < 0) left = 0;
        if ((ret = poll( &pfd, 1, (int)left )) > 0) return 0;
        if (!ret) return -ETIMEDOUT;
        if (errno != EINTR) return -errno;
    }
}

/* The connection is unusable (the server died, broke the protocol or missed a deadline): shut
 * it down, so the server, if it lives, reclaims what the process held, and every later request
 * fails at once.  The descriptor stays open until detach, so no other thread can send on a
 * reused number. */
static void lose_server( const char *why )
{
    if (atomic_exchange( &awe_client.server_lost, 1 )) return;
    shutdown( awe_client.server_fd, SHUT_RDWR );
    fprintf( stderr, "awe: lost the awe-server (%s); AWE calls that need it now fail\n", why );
}

/* Sends one message within the deadline; 0 or a failure status (the connection is then lost). */
static NTSTATUS send_message( struct msghdr *msg, int64_t deadline )
{
    int ret;

    for (;;)
    {
        if (sendmsg( awe_client.server_fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT ) >= 0) return STATUS_SUCCESS;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) break;
        if ((ret = wait_ready( awe_client.server_fd, POLLOUT, deadline )) == -ETIMEDOUT)
        {
            lose_server( "no answer in time" );
            return STATUS_IO_TIMEOUT;
        }
        if (ret) break;
    }
    lose_server( strerror( errno ) );
    return STATUS_PIPE_BROKEN;
}

NTSTATUS awe_server_call( struct awe_call *call )
{
    struct awe_request_header *header = call->req;
    struct iovec iov[2] = { { call->req, call->req_size }, { (void *)call->data, call->data_size } };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = call->data_size ? 2 : 1 };
    char control[CMSG_SPACE(8 * sizeof(int))];
    struct awe_reply_header *reply = call->reply;
    int64_t deadline = now_ms() + request_timeout_ms();
    struct cmsghdr *cmsg;
    NTSTATUS status;
    ssize_t len;
    size_t i, n;
    int ret;

    header->req = call->req_type;
    header->size = (uint32_t)(call->req_size + call->data_size);
    call->nfds = 0;
    call->reply_data_size = 0;
    if (atomic_load( &awe_client.server_lost )) return STATUS_PIPE_BROKEN;
    pthread_mutex_lock( &call_lock );
    if ((status = send_message( &msg, deadline ))) goto done;

    iov[0].iov_base = call->reply;
    iov[0].iov_len = call->reply_size;
    iov[1].iov_base = call->reply_data;
    iov[1].iov_len = call->reply_data_max;
    memset( &msg, 0, sizeof(msg) );
    msg.msg_iov = iov;
    msg.msg_iovlen = call->reply_data_max ? 2 : 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    for (;;)
    {
        if ((len = recvmsg( awe_client.server_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT )) >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && !(ret = wait_ready( awe_client.server_fd, POLLIN, deadline ))) continue;
        if (errno == EAGAIN && ret == -ETIMEDOUT)
        {
            lose_server( "no answer in time" );
            status = STATUS_IO_TIMEOUT;
        }
        else
        {
            lose_server( strerror( errno ) );
            status = STATUS_PIPE_BROKEN;
        }
        goto done;
    }

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
    if (!len)
    {
        lose_server( "it closed the connection" );
        status = STATUS_PIPE_BROKEN;
    }
    else if (len < (ssize_t)sizeof(*reply) || reply->size != (size_t)len ||
             (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
    {
        lose_server( "malformed reply" );
        status = STATUS_INTERNAL_ERROR;
    }
    else if ((size_t)len < call->reply_size)
        /* only a failure may come without the reply's fields */
        status = reply->status ? reply->status : STATUS_INTERNAL_ERROR;
    else
    {
        call->reply_data_size = (size_t)len - call->reply_size;
        status = reply->status;
    }
done:
    pthread_mutex_unlock( &call_lock );
    /* only init_process and create_section carry descriptors; any others are the server's
     * mistake */
    if ((status || (call->req_type != AWE_REQ_init_process && call->req_type != AWE_REQ_create_section)) &&
        call->nfds)
    {
        for (i = 0; i < (size_t)call->nfds; i++) close( call->fds[i] );
        call->nfds = 0;
    }
    return status;
}

/* Sends a request that has no reply (ack_unmap), without waiting for a call in flight: one
 * datagram is atomic on the socket, so it never interleaves with another thread's request. */
static NTSTATUS server_post( struct awe_call *call )
{
    struct iovec iov = { call->req, call->req_size };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct awe_request_header *header = call->req;

    header->req = call->req_type;
    header->size = (uint32_t)call->req_size;
    if (atomic_load( &awe_client.server_lost )) return STATUS_PIPE_BROKEN;
    return send_message( &msg, now_ms() + request_timeout_ms() );
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

/* Connects to the instance's server, starting one when nothing listens; a server whose
 * backlog stays full (it is stuck) is given up on at the request deadline.  Returns the
 * connection (non-blocking: every wait on it has a deadline) or -errno. */
static int connect_server( void )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char dir[sizeof(addr.sun_path) - 8];
    struct timespec delay = { 0, 10 * 1000 * 1000 };
    int64_t deadline = now_ms() + request_timeout_ms();
    int fd, err, tries = 0;

    if (awe_instance_dir( dir, sizeof(dir) )) return -ENAMETOOLONG;
    snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", dir );
    for (;;)
    {
        if ((fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0 )) < 0) return -errno;
        if (!connect( fd, (struct sockaddr *)&addr, sizeof(addr) )) return fd;
        err = errno;
        close( fd );
        if (err == EAGAIN)   /* a full backlog: the server is there but slow, or stuck */
        {
            if (now_ms() >= deadline) return -ETIMEDOUT;
        }
        else if (err != ENOENT && err != ECONNREFUSED) return -err;
        else if (tries++ >= CONNECT_TRIES) return -ETIMEDOUT;
        else if (tries % 50 == 1)
        {
            start_server();
            continue;
        }
        nanosleep( &delay, NULL );
    }
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
    awe_carry_out( awe_plan_unmap_frames( regions, lost, n, &plan ), &plan );
    free( lost );
    awe_client.acked_seq = seq;
    /* the unmaps above are done (system calls) before the server, reading this, reuses frames */
    SERVER_START_REQ( ack_unmap )
    {
        req->seq = seq;
        server_post( &__call );
    }
    SERVER_END_REQ;
}

/* Waits for the server to take frames away from this process (another process freed them):
 * the server bumps notify_seq in the read-only frame table and wakes the futex on it.  No word
 * this process can write is involved, and the server never waits for this thread. */
static void *notification_thread( void *arg )
{
    const struct awe_frame_table *table = arg;
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
        futex_wait( (const uint32_t *)&table->notify_seq, seen, NULL, 1 );
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

/* The init_process reply's descriptors, in order. */
enum { FD_FRAMES, FD_TABLE, FD_USAGE, FD_HANDLES, FD_SYNC, INIT_FDS };

/* Whether fd is a file of at least size bytes that nobody can shrink (sealed). */
static int file_holds( int fd, uint64_t size )
{
    struct stat st;
    int seals = fcntl( fd, F_GET_SEALS );

    return !fstat( fd, &st ) && S_ISREG( st.st_mode ) && (uint64_t)st.st_size >= size &&
           seals >= 0 && (seals & F_SEAL_SHRINK);
}

/* Takes what init_process answered: maps the tables and checks that they are what the reply
 * says.  Closes every descriptor but the frame memfd, which it keeps in client->memfd. */
static NTSTATUS take_init_reply( struct awe_client *client, const struct init_process_reply *reply,
                                 const int *fds, int nfds )
{
    struct awe_slab_geometry geo = { reply->handle_slot_size, reply->handle_max_slots,
                                     reply->handle_block_size, reply->handle_flags };
    struct awe_slab_geometry sync_geo = { reply->sync_slot_size, reply->sync_max_slots,
                                          reply->sync_block_size, reply->sync_flags };
    NTSTATUS status = STATUS_SUCCESS;
    struct awe_pfn_layout layout;
    void *lock;
    int i;

    if (nfds != INIT_FDS || !reply->tag ||
        awe_pfn_layout_init( &layout, reply->index_bits, reply->tag_bits ) ||
        reply->tag > awe_pfn_max_tag( &layout ) ||
        reply->frame_table_size != sizeof(struct awe_frame_table) + awe_pfn_max_frames( &layout ) / 8)
    {
        for (i = 0; i < nfds; i++) close( fds[i] );
        return STATUS_INTERNAL_ERROR;
    }
    /* the files must hold what is mapped of them: a shorter one would fault on access */
    if (!file_holds( fds[FD_TABLE], reply->frame_table_size ) || !file_holds( fds[FD_USAGE], AWE_PAGE_SIZE ) ||
        !file_holds( fds[FD_FRAMES], (uint64_t)awe_pfn_max_frames( &layout ) << AWE_PAGE_SHIFT ))
    {
        for (i = 0; i < nfds; i++) close( fds[i] );
        return STATUS_INTERNAL_ERROR;
    }
    client->memfd = fds[FD_FRAMES];
    client->table_size = reply->frame_table_size;
    client->table = mmap( NULL, client->table_size, PROT_READ, MAP_SHARED, fds[FD_TABLE], 0 );
    client->usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[FD_USAGE], 0 );
    if (client->table == MAP_FAILED) client->table = NULL;
    if (client->usage == MAP_FAILED) client->usage = NULL;
    if (awe_slab_view_open( fds[FD_HANDLES], &geo, &client->handles )) client->handles = NULL;
    if (awe_slab_view_open( fds[FD_SYNC], &sync_geo, &client->sync_view )) client->sync_view = NULL;
    for (i = FD_TABLE; i < INIT_FDS; i++) close( fds[i] );
    if (!client->table || !client->usage || !client->handles || !client->sync_view ||
        !(lock = awe_slab_view_slot_rw( client->sync_view, reply->lock_slot )))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (awe_sync_ref_init( &client->lock_ref, lock, &client->table->lock_gen, reply->sync_id,
                           client->table->lock_gen, AWE_SYNC_MUTEX, 0 ))
        status = STATUS_INTERNAL_ERROR;
    client->layout = layout;
    client->tag = reply->tag;
    return status;
}

/* Undoes what take_init_reply and a failed attach did. */
static void drop_attachment( struct awe_client *client )
{
    if (client->table) munmap( (void *)client->table, client->table_size );
    if (client->usage) munmap( client->usage, AWE_PAGE_SIZE );
    if (client->memfd >= 0) close( client->memfd );
    awe_slab_view_close( client->handles );
    awe_slab_view_close( client->sync_view );
    if (client->server_fd >= 0) close( client->server_fd );
    client->handles = NULL;
    client->sync_view = NULL;
    client->table = NULL;
    client->usage = NULL;
    client->memfd = client->server_fd = -1;
}

/* Connects to the server and sets the process up; see ntdll_private.h.  A server that cannot
 * be reached, or that lost the connection before answering, is STATUS_PIPE_BROKEN; a server
 * out of resources answers STATUS_INSUFFICIENT_RESOURCES.  Nothing is kept on failure, so the
 * next call tries again. */
NTSTATUS awe_server_attach( struct awe_client *client )
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, saved;
    NTSTATUS status;
    int fd, ret;

    if ((fd = connect_server()) < 0)
    {
        char dir[PATH_MAX], path[PATH_MAX];

        awe_instance_dir( dir, sizeof(dir) );
        find_server( path, sizeof(path) );
        fprintf( stderr, "awe: cannot reach an awe-server in %s (started: %s): %s; "
                 "set AWE_SERVER to its path\n", dir, path, strerror( -fd ) );
        return STATUS_PIPE_BROKEN;
    }
    client->server_fd = fd;
    atomic_store( &client->server_lost, 0 );
    SERVER_START_REQ( init_process )
    {
        req->version = AWE_PROTOCOL_VERSION;
        if (!(status = server_call( req )))
            status = take_init_reply( client, reply, __call.fds, __call.nfds );
    }
    SERVER_END_REQ;
    if (!status && awe_regions_init( &client->regions, &client->layout, client->tag, frame_owned, NULL ))
        status = STATUS_NO_MEMORY;
    if (status) goto failed;
    client->frame_owned = frame_owned;
    set_vma_limits( &client->regions );

    /* the thread takes no signal: the host's handlers (Wine's) expect threads of its own */
    sigfillset( &all );
    pthread_sigmask( SIG_BLOCK, &all, &saved );
    pthread_attr_init( &attr );
    pthread_attr_setdetachstate( &attr, PTHREAD_CREATE_DETACHED );
    pthread_attr_setstacksize( &attr, 64 * 1024 );
    ret = pthread_create( &thread, &attr, notification_thread, (void *)client->table );
    pthread_attr_destroy( &attr );
    pthread_sigmask( SIG_SETMASK, &saved, NULL );
    if (ret)
    {
        awe_regions_destroy( &client->regions );
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto failed;
    }
    return STATUS_SUCCESS;

failed:
    drop_attachment( client );
    return status;
}
