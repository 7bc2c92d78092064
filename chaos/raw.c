/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw protocol clients: messages built from awe/protocol.h, sent without the library. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "chaos/chaos.h"

int raw_connect( const char *dir )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if ((size_t)snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", dir ) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    if ((fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 )) < 0) return -errno;
    if (connect( fd, (struct sockaddr *)&addr, sizeof(addr) ))
    {
        int err = -errno;
        close( fd );
        return err;
    }
    return fd;
}

/* Sends one message, with descriptors if nfds; counts it.  Returns 0 or -errno. */
int raw_send( int fd, const void *msg, size_t len, const int *fds, int nfds, int flags )
{
    char control[CMSG_SPACE(253 * sizeof(int))];
    struct iovec iov = { (void *)msg, len };
    struct msghdr hdr = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cmsg;

    if (nfds > 253) return -EINVAL;
    if (nfds > 0)
    {
        memset( control, 0, sizeof(control) );
        hdr.msg_control = control;
        hdr.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cmsg = CMSG_FIRSTHDR( &hdr );
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy( CMSG_DATA( cmsg ), fds, nfds * sizeof(int) );
    }
    while (sendmsg( fd, &hdr, MSG_NOSIGNAL | flags ) < 0)
        if (errno != EINTR) return -errno;
    fig_add( &fig->messages, 1 );
    return 0;
}

/* Receives one message within the deadline.  Descriptors go to fds (up to RAW_MAX_FDS, the
 * rest closed) or are closed when fds is NULL.  Returns its length, 0 at the end of the
 * connection, -ETIMEDOUT or -errno. */
ssize_t raw_recv( int fd, void *buf, size_t size, unsigned deadline_ms, int *fds, int *nfds )
{
    char control[CMSG_SPACE(64 * sizeof(int))];
    struct iovec iov = { buf, size };
    struct msghdr hdr = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof(control) };
    uint64_t end = now_ms() + deadline_ms;
    struct cmsghdr *cmsg;
    ssize_t len;

    if (nfds) *nfds = 0;
    for (;;)
    {
        struct pollfd pfd = { fd, POLLIN, 0 };
        uint64_t now = now_ms();
        int ret;

        if ((ret = poll( &pfd, 1, now >= end ? 0 : (int)(end - now) )) < 0 && errno != EINTR) return -errno;
        if (ret > 0) break;
        if (now_ms() >= end) return -ETIMEDOUT;
    }
    while ((len = recvmsg( fd, &hdr, MSG_CMSG_CLOEXEC | MSG_DONTWAIT )) < 0 && errno == EINTR) ;
    if (len < 0) return errno == EAGAIN ? -ETIMEDOUT : -errno;
    for (cmsg = CMSG_FIRSTHDR( &hdr ); cmsg; cmsg = CMSG_NXTHDR( &hdr, cmsg ))
    {
        size_t i, n;

        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < n; i++)
        {
            int got;
            memcpy( &got, CMSG_DATA( cmsg ) + i * sizeof(int), sizeof(int) );
            if (fds && nfds && *nfds < RAW_MAX_FDS) fds[(*nfds)++] = got;
            else close( got );
        }
    }
    return len;
}

/* One request and its reply.  Returns the reply's length or -errno (0: the server dropped us). */
ssize_t raw_call( int fd, const void *req, size_t len, void *reply, size_t size, unsigned deadline_ms )
{
    int ret;

    if ((ret = raw_send( fd, req, len, NULL, 0, 0 ))) return ret;
    return raw_recv( fd, reply, size, deadline_ms, NULL, NULL );
}

/* Connects and does init_process, keeping every descriptor the reply carried. */
int raw_init( const char *dir, struct raw_session *s, unsigned deadline_ms )
{
    struct init_process_request req = { .header = { AWE_REQ_init_process, sizeof(req) },
                                        .version = AWE_PROTOCOL_VERSION };
    union { struct init_process_reply reply; char bytes[512]; } out;
    ssize_t len;
    int ret, i;

    memset( s, 0, sizeof(*s) );
    s->fd = -1;
    if ((s->fd = raw_connect( dir )) < 0) return s->fd;
    if ((ret = raw_send( s->fd, &req, sizeof(req), NULL, 0, 0 ))) goto failed;
    len = raw_recv( s->fd, &out, sizeof(out), deadline_ms, s->fds, &s->nfds );
    if (len < 0)
    {
        ret = (int)len;
        goto failed;
    }
    if ((size_t)len != sizeof(out.reply) || out.reply.header.status)
    {
        ret = -EPROTO;
        goto failed;
    }
    s->init = out.reply;
    return 0;

failed:
    for (i = 0; i < s->nfds; i++) close( s->fds[i] );
    s->nfds = 0;
    close( s->fd );
    s->fd = -1;
    return ret;
}

void raw_close( struct raw_session *s )
{
    int i;

    for (i = 0; i < s->nfds; i++) if (s->fds[i] >= 0) close( s->fds[i] );
    if (s->fd >= 0) close( s->fd );
    s->nfds = 0;
    s->fd = -1;
}

static NTSTATUS reply_status( ssize_t len, const void *reply, size_t fixed )
{
    if (len < (ssize_t)sizeof(struct awe_reply_header)) return RAW_BROKEN;
    if (((const struct awe_reply_header *)reply)->status) return ((const struct awe_reply_header *)reply)->status;
    return (size_t)len < fixed ? RAW_BROKEN : STATUS_SUCCESS;
}

/* OpenProcessToken + AdjustTokenPrivileges( SeLockMemoryPrivilege enabled ). */
NTSTATUS raw_enable_privilege( struct raw_session *s, unsigned deadline_ms )
{
    struct open_token_request token_req = { .header = { AWE_REQ_open_token, sizeof(token_req) },
                                            .process = AWE_CURRENT_PROCESS,
                                            .access = AWE_TOKEN_ADJUST_PRIVILEGES };
    struct
    {
        struct adjust_privileges_request req;
        struct awe_wire_privilege priv;
    } adjust = { { .header = { AWE_REQ_adjust_privileges, sizeof(adjust) } },
                 { AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_ENABLED } };
    union { struct open_token_reply token; struct adjust_privileges_reply adjust; char bytes[256]; } out;
    NTSTATUS status;
    ssize_t len;

    len = raw_call( s->fd, &token_req, sizeof(token_req), &out, sizeof(out), deadline_ms );
    if ((status = reply_status( len, &out, sizeof(out.token) ))) return status;
    s->token = out.token.handle;
    adjust.req.token = s->token;
    len = raw_call( s->fd, &adjust, sizeof(adjust), &out, sizeof(out), deadline_ms );
    return reply_status( len, &out, sizeof(out.adjust) );
}

uint64_t raw_pfn( const struct raw_session *s, uint32_t tag, uint32_t index )
{
    return ((uint64_t)tag << s->init.index_bits) | index;
}

/* Whether the frame table (the read-only descriptor of init_process, mapped) shows pfn owned. */
int raw_frame_owned( const struct raw_session *s, const void *table, uint64_t pfn )
{
    const struct awe_frame_table *t = table;
    uint32_t index = (uint32_t)(pfn & ((1u << s->init.index_bits) - 1));

    return awe_frame_table_test( t, index );
}

/* One allocate_pages request for count frames of process (a handle, or AWE_CURRENT_PROCESS);
 * the PFNs go to pfns (room for count). */
NTSTATUS raw_allocate( struct raw_session *s, uint32_t process, uint64_t count, uint64_t *pfns,
                       uint64_t *got, unsigned deadline_ms )
{
    static union { struct allocate_pages_reply reply; char bytes[AWE_MAX_MESSAGE]; } out;
    struct allocate_pages_request req = { .header = { AWE_REQ_allocate_pages, sizeof(req) },
                                          .process = process, .count = count };
    const struct awe_wire_run *runs = (const void *)(&out.reply + 1);
    size_t i, nruns;
    uint64_t n = 0;
    NTSTATUS status;
    ssize_t len;
    uint32_t j;

    *got = 0;
    len = raw_call( s->fd, &req, sizeof(req), &out, sizeof(out), deadline_ms );
    if ((status = reply_status( len, &out, sizeof(out.reply) ))) return status;
    nruns = ((size_t)len - sizeof(out.reply)) / sizeof(*runs);
    for (i = 0; i < nruns; i++)
        for (j = 0; j < runs[i].count && n < count; j++) pfns[n++] = raw_pfn( s, out.reply.tag, runs[i].start + j );
    *got = n;
    return STATUS_SUCCESS;
}

/* free_pages for an array of PFNs, as runs of consecutive values, in as many requests as it
 * takes; stops at the first error. */
NTSTATUS raw_free( struct raw_session *s, uint32_t process, const uint64_t *pfns, size_t count,
                   uint64_t *freed, unsigned deadline_ms )
{
    enum { MAX_RUNS = (AWE_MAX_MESSAGE - sizeof(struct free_pages_request)) / sizeof(struct awe_wire_pfn_run) };
    static struct
    {
        struct free_pages_request req;
        struct awe_wire_pfn_run   runs[MAX_RUNS];
    } msg;
    struct free_pages_reply reply;
    NTSTATUS status = STATUS_SUCCESS;
    size_t i = 0;
    ssize_t len;

    *freed = 0;
    while (i < count && !status)
    {
        size_t n = 0;

        while (i < count && n < MAX_RUNS)
        {
            msg.runs[n].first = pfns[i];
            msg.runs[n].count = 1;
            while (++i < count && pfns[i] == pfns[i - 1] + 1) msg.runs[n].count++;
            n++;
        }
        memset( &msg.req, 0, sizeof(msg.req) );
        msg.req.header.req = AWE_REQ_free_pages;
        msg.req.header.size = (uint32_t)(sizeof(msg.req) + n * sizeof(msg.runs[0]));
        msg.req.process = process;
        len = raw_call( s->fd, &msg, msg.req.header.size, &reply, sizeof(reply), deadline_ms );
        if ((status = reply_status( len, &reply, sizeof(reply) )) == RAW_BROKEN) break;
        if (len == sizeof(reply)) *freed += reply.freed;
    }
    return status;
}

NTSTATUS raw_open_process( struct raw_session *s, uint32_t pid, uint32_t access, uint32_t *handle,
                           unsigned deadline_ms )
{
    struct open_process_request req = { .header = { AWE_REQ_open_process, sizeof(req) },
                                        .pid = pid, .access = access };
    struct open_process_reply reply;
    NTSTATUS status;
    ssize_t len;

    *handle = 0;
    len = raw_call( s->fd, &req, sizeof(req), &reply, sizeof(reply), deadline_ms );
    if (!(status = reply_status( len, &reply, sizeof(reply) ))) *handle = reply.handle;
    return status;
}
