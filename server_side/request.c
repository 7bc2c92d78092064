/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request handling: receive, validate, dispatch, trace and reply, from the protocol table. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "awe/rights.h"
#include "server.h"

/* ---- padding checks and traces, one per field type ---------------------------------------- */

#define CHECK_awe_u32(v)    0
#define CHECK_awe_u64(v)    0
#define CHECK_awe_handle(v) 0
#define CHECK_awe_access(v) 0
#define CHECK_awe_pad(v)    ((v) != 0)

#define TRACE_awe_u32(n, v)    fprintf( stderr, " %s=%u", n, (unsigned int)(v) )
#define TRACE_awe_u64(n, v)    fprintf( stderr, " %s=%" PRIu64, n, (uint64_t)(v) )
#define TRACE_awe_handle(n, v) fprintf( stderr, " %s=%04x", n, (unsigned int)(v) )
#define TRACE_awe_access(n, v) fprintf( stderr, " %s=%08x", n, (unsigned int)(v) )
#define TRACE_awe_pad(n, v)    ((void)0)

#define PAD_FIELD(type, name)   bad |= CHECK_##type( req->name );
#define TRACE_FIELD(type, name) TRACE_##type( #name, msg->name );

#define DEFINE_HELPERS(name) \
    static int check_padding_##name( const struct name##_request *req ) \
    { int bad = 0; AWE_REQ_##name(PAD_FIELD) return bad; } \
    static void trace_request_##name( const struct name##_request *msg ) \
    { (void)msg; AWE_REQ_##name(TRACE_FIELD) } \
    static void trace_reply_##name( const struct name##_reply *msg ) \
    { (void)msg; AWE_REPLY_##name(TRACE_FIELD) }
AWE_REQUESTS(DEFINE_HELPERS)
#undef DEFINE_HELPERS

/* ---- the dispatch table ------------------------------------------------------------------ */

struct request_type
{
    const char *name;
    size_t      req_size;                                /* fixed part */
    size_t      reply_size;                              /* fixed part */
    NTSTATUS  (*handler)( struct process *, const void *, size_t, void *, size_t *, int *, int * );
    int       (*check_padding)( const void * );
    void      (*trace_request)( const void * );
    void      (*trace_reply)( const void * );
};

static const struct request_type request_types[AWE_REQ_COUNT] =
{
#define ENTRY(name) \
    { #name, sizeof(struct name##_request), sizeof(struct name##_reply), \
      (void *)req_##name, (void *)check_padding_##name, (void *)trace_request_##name, \
      (void *)trace_reply_##name },
    AWE_REQUESTS(ENTRY)
#undef ENTRY
};

void trace_message( uint32_t req, pid_t pid, const void *msg, size_t size, int is_reply )
{
    const struct awe_reply_header *ph = msg;
    const struct request_type *type = &request_types[req];

    fprintf( stderr, "%04x: %s%s", (unsigned int)pid, type->name, is_reply ? " <" : " >" );
    if (is_reply)
    {
        const char *name = awe_ntstatus_name( ph->status );
        if (name) fprintf( stderr, " %s", name );
        else fprintf( stderr, " status=%08x", (unsigned int)ph->status );
        if (!ph->status) type->trace_reply( msg );
    }
    else type->trace_request( msg );
    if (size > (is_reply ? type->reply_size : type->req_size))
        fprintf( stderr, " +%zu bytes", size - (is_reply ? type->reply_size : type->req_size) );
    fputc( '\n', stderr );
}

/* Sends a reply with optional descriptors; returns 0 or -errno. */
int send_reply( int fd, const void *reply, size_t size, const int *fds, int nfds )
{
    AWE_RIGHTS_BUFFER(6) control;
    struct iovec iov = { (void *)reply, size };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (nfds > 6) return -EINVAL;
    awe_attach_rights( &msg, &control, fds, nfds );
    while (sendmsg( fd, &msg, MSG_NOSIGNAL ) < 0)
        if (errno != EINTR) return -errno;
    return 0;
}

/* Closes any descriptor a client sent: the protocol never carries descriptors to the server. */
static void drop_descriptors( struct msghdr *msg )
{
    struct cmsghdr *cmsg;

    for (cmsg = CMSG_FIRSTHDR( msg ); cmsg; cmsg = CMSG_NXTHDR( msg, cmsg ))
    {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        {
            int *fds = (int *)CMSG_DATA( cmsg );
            size_t i, n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (i = 0; i < n; i++) close( fds[i] );
        }
    }
}

/* Validates, dispatches and answers one message of process: msg (8-byte aligned) holds the
 * len bytes received; flags are the recvmsg flags (MSG_TRUNC, MSG_CTRUNC: a protocol error).
 * Nothing beyond msg[len) is read.  Returns 0 to keep the connection, -1 when the message broke
 * the protocol or the reply could not be sent (the caller then drops the client). */
int dispatch_message( struct process *process, const void *msg, size_t len, int flags )
{
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } out;
    const union awe_request_buffer *in = msg;
    struct awe_request_header header = { 0, 0 };
    const struct request_type *type;
    size_t reply_size;
    int fds[6], nfds = 0;
    NTSTATUS status;

    if (len >= sizeof(header)) header = in->header;
    if (len < sizeof(header) || len > AWE_MAX_MESSAGE || (flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        header.size != len || header.req >= AWE_REQ_COUNT)
        goto protocol_error;
    type = &request_types[header.req];
    if (len < type->req_size ||
        (len != type->req_size && !(AWE_VARARG_REQUESTS & (1u << header.req))) ||
        type->check_padding( in ))
        goto protocol_error;
    /* init_process comes first and once; get_status needs no process (the status tool) */
    if (header.req != AWE_REQ_get_status && !process->pool.tag != (header.req == AWE_REQ_init_process))
        goto protocol_error;

    if (options.debug) trace_message( header.req, process->pid, in, len, 0 );
    memset( &out, 0, type->reply_size );
    reply_size = type->reply_size;
    status = type->handler( process, in, len, &out.reply, &reply_size, fds, &nfds );
    if (status == PROTOCOL_ERROR) goto protocol_error;
    if (status == STATUS_PENDING) return 0;   /* the handler answers later */
    if (status) reply_size = type->reply_size, nfds = 0;   /* fields such as a count stay */
    out.reply.header.status = status;
    out.reply.header.size = (uint32_t)reply_size;
    if (options.debug) trace_message( header.req, process->pid, &out.reply, reply_size, 1 );
    return send_reply( process->fd, &out.reply, reply_size, fds, nfds ) ? -1 : 0;

protocol_error:
    server_log( "protocol error from pid %d (request %u, %zu bytes): dropping the client",
                (int)process->pid, (unsigned int)header.req, len );
    return -1;
}

/* Reads and answers one request of a connection.  Returns 0 to keep the connection, -1 when it
 * ended or broke the protocol (the caller then drops the client). */
int serve_connection( struct process *process )
{
    static union { union awe_request_buffer req; char bytes[AWE_MAX_MESSAGE + 1]; } in;
    char control[CMSG_SPACE(16 * sizeof(int))];
    struct iovec iov = { in.bytes, sizeof(in.bytes) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof(control) };
    ssize_t len;

    while ((len = recvmsg( process->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT )) < 0)
        if (errno != EINTR) return errno == EAGAIN ? 0 : -1;
    drop_descriptors( &msg );
    if (!len) return -1;   /* the client closed the connection (or died) */
    return dispatch_message( process, &in, (size_t)len, msg.msg_flags );
}
