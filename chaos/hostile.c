/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phase 2, hostile raw protocol clients: garbage, truncated, oversized, out-of-order and
 * padding-violating messages, well-formed requests with hostile values, pipelining without
 * reading, idle connections, descriptors sent to the server, half-closed connections, and
 * cross-process Frees that nobody acknowledges.  Every message must be answered or its sender
 * dropped; after every batch a well-behaved client must still be served. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "chaos/chaos.h"

#define ANSWER_MS 2000           /* a malformed or plain request is answered or dropped by then */

/* Requests the server takes without answering (protocol 3: ack_unmap). */
#ifdef AWE_NO_REPLY_REQUESTS
#define NO_REPLY_REQUESTS AWE_NO_REPLY_REQUESTS
#else
#define NO_REPLY_REQUESTS 0u
#endif

static const size_t request_sizes[AWE_REQ_COUNT] =
{
#define REQUEST_SIZE(name) sizeof(struct name##_request),
    AWE_REQUESTS(REQUEST_SIZE)
#undef REQUEST_SIZE
};

static union { struct awe_reply_header header; char bytes[AWE_MAX_MESSAGE]; } reply_buf;

/* Waits for the reply to what was just sent, or for the server to drop the connection.
 * Returns 1 (answered; *status set), 0 (dropped), or -1 after reporting that neither came. */
static int await_outcome( int fd, unsigned deadline_ms, const char *what, NTSTATUS *status )
{
    ssize_t len = raw_recv( fd, &reply_buf, sizeof(reply_buf), deadline_ms, NULL, NULL );

    if (len == -ETIMEDOUT)
    {
        violation( "the server neither answered nor dropped a client within %u ms: %s", deadline_ms, what );
        return -1;
    }
    if (len < (ssize_t)sizeof(struct awe_reply_header)) return 0;
    if (status) *status = reply_buf.header.status;
    return 1;
}

/* After a message naming a request the server never answers, a get_status: its answer shows
 * that the first was taken without dropping the client. */
static void send_marker_if_silent( int fd, const void *msg, size_t len )
{
    const struct awe_request_header *header = msg;
    struct get_status_request marker = { .header = { AWE_REQ_get_status, sizeof(marker) } };

    if (len < sizeof(*header) || header->req >= 32 || !(NO_REPLY_REQUESTS & (1u << header->req))) return;
    raw_send( fd, &marker, sizeof(marker), NULL, 0, MSG_DONTWAIT );
}

/* Sends one message on a new connection and waits for its outcome; returns as await_outcome,
 * or -2 when it could not be sent at all (too large for the socket, say). */
static int one_shot( const void *msg, size_t len, const char *what )
{
    int fd = raw_connect( main_server.dir ), ret;

    if (fd < 0)
    {
        violation( "cannot connect to the server (%s) before: %s", strerror( -fd ), what );
        return -1;
    }
    if (raw_send( fd, msg, len, NULL, 0, 0 ))
    {
        close( fd );
        return -2;
    }
    send_marker_if_silent( fd, msg, len );
    ret = await_outcome( fd, ANSWER_MS, what, NULL );
    close( fd );
    return ret;
}

/* A well-formed request of each type (the variable parts empty). */
static size_t build_request( uint32_t type, void *buf )
{
    union awe_request_buffer *req = buf;

    memset( req, 0, request_sizes[type] );
    req->header.req = type;
    req->header.size = (uint32_t)request_sizes[type];
    switch (type)
    {
    case AWE_REQ_init_process: req->init_process.version = AWE_PROTOCOL_VERSION; break;
    case AWE_REQ_allocate_pages: req->allocate_pages.process = AWE_CURRENT_PROCESS; req->allocate_pages.count = 1; break;
    case AWE_REQ_free_pages: req->free_pages.process = AWE_CURRENT_PROCESS; break;
    case AWE_REQ_open_process: req->open_process.pid = (uint32_t)getpid(); req->open_process.access = AWE_PROCESS_VM_OPERATION; break;
    case AWE_REQ_close_handle: req->close_handle.handle = 4; break;
    case AWE_REQ_open_token: req->open_token.process = AWE_CURRENT_PROCESS; req->open_token.access = AWE_TOKEN_ADJUST_PRIVILEGES; break;
    default: break;
    }
    return request_sizes[type];
}

/* ---- malformed messages ---------------------------------------------------------------------- */

static void attack_garbage( void )
{
    static unsigned char msg[72 * 1024];
    static const size_t sizes[] = { 0, 1, 3, 7, 8, 9, 16, 24, 40, 64, 100, 4096, 65535, 65536, 65537, 70000 };
    unsigned i;

    for (i = 0; i < 300; i++)
    {
        size_t len = rng_below( &rng, 3 ) ? sizes[rng_below( &rng, sizeof(sizes) / sizeof(sizes[0]) )]
                                          : rng_below( &rng, 512 );
        size_t k;
        char what[96];

        for (k = 0; k < len; k += 8)
        {
            uint64_t v = rng_next( &rng );
            memcpy( msg + k, &v, len - k < 8 ? len - k : 8 );
        }
        if (len >= 8 && rng_below( &rng, 2 ))
        {
            /* a plausible header: a request number near the real ones, the right size */
            struct awe_request_header header = { (uint32_t)rng_below( &rng, AWE_REQ_COUNT + 3 ), (uint32_t)len };
            memcpy( msg, &header, sizeof(header) );
        }
        snprintf( what, sizeof(what), "%zu bytes of garbage", len );
        one_shot( msg, len, what );
    }
}

static void attack_truncated( void )
{
    union awe_request_buffer req;
    uint32_t type;
    char what[128];

    for (type = 0; type < AWE_REQ_COUNT; type++)
    {
        size_t size = build_request( type, &req ), len;
        static const int64_t deltas[] = { 8, -8, -4, 4, 1, -1 };
        unsigned i;

        for (len = 0; len < size; len += (len < 8 ? 1 : 4))
        {
            build_request( type, &req );
            if (len >= 8) req.header.size = (uint32_t)len;
            snprintf( what, sizeof(what), "request %u cut to %zu of %zu bytes", type, len, size );
            if (one_shot( &req, len, what ) == 1 && len < size)
                violation( "the server answered request %u cut to %zu of %zu bytes", type, len, size );
        }
        for (i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++)
        {
            build_request( type, &req );
            req.header.size = (uint32_t)((int64_t)size + deltas[i]);
            snprintf( what, sizeof(what), "request %u of %zu bytes saying %u", type, size, req.header.size );
            if (one_shot( &req, size, what ) == 1)
                violation( "the server answered request %u whose header says %u bytes, sent %zu",
                           type, req.header.size, size );
        }
        build_request( type, &req );
        req.header.size = 0xffffffff;
        snprintf( what, sizeof(what), "request %u saying 4 GiB", type );
        one_shot( &req, size, what );
    }
}

static void attack_oversized( void )
{
    static const size_t sizes[] = { AWE_MAX_MESSAGE, AWE_MAX_MESSAGE + 1, AWE_MAX_MESSAGE + 8,
                                    100000, 200000, 1 << 20 };
    static char msg[1 << 20];
    struct free_pages_request *req = (void *)msg;
    struct adjust_privileges_request *adj = (void *)msg;
    char what[96];
    unsigned i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    {
        memset( msg, 0x41, sizes[i] );
        memset( req, 0, sizeof(*req) );
        req->header.req = AWE_REQ_free_pages;
        req->header.size = (uint32_t)sizes[i];
        req->process = AWE_CURRENT_PROCESS;
        snprintf( what, sizeof(what), "a free_pages request of %zu bytes", sizes[i] );
        if (one_shot( msg, sizes[i], what ) == 1 && sizes[i] > AWE_MAX_MESSAGE)
            violation( "the server answered %s (the limit is %u)", what, AWE_MAX_MESSAGE );
        memset( adj, 0, sizeof(*adj) );
        adj->header.req = AWE_REQ_adjust_privileges;
        adj->header.size = (uint32_t)sizes[i];
        snprintf( what, sizeof(what), "an adjust_privileges request of %zu bytes", sizes[i] );
        one_shot( msg, sizes[i], what );
    }
    /* a variable part that is not whole records */
    memset( msg, 0, 64 );
    req->header.req = AWE_REQ_free_pages;
    req->header.size = sizeof(*req) + 8;
    req->process = AWE_CURRENT_PROCESS;
    one_shot( msg, sizeof(*req) + 8, "a free_pages request with half a run" );
}

static void attack_order( void )
{
    union awe_request_buffer req;
    struct raw_session s;
    uint32_t type;
    char what[96];
    NTSTATUS status = 0;
    int fd, i;

    for (type = 0; type < AWE_REQ_COUNT; type++)
    {
        if (type == AWE_REQ_init_process || type == AWE_REQ_get_status) continue;
        snprintf( what, sizeof(what), "request %u before init_process", type );
        if (one_shot( &req, build_request( type, &req ), what ) == 1)
            violation( "the server answered %s", what );
    }
    /* a second init_process is a protocol error; the first one's resources must go too */
    if (!raw_init( main_server.dir, &s, ANSWER_MS ))
    {
        raw_send( s.fd, &req, build_request( AWE_REQ_init_process, &req ), NULL, 0, 0 );
        if (await_outcome( s.fd, ANSWER_MS, "a second init_process", NULL ) == 1)
            violation( "the server answered a second init_process" );
        raw_close( &s );
    }
    /* versions the server does not speak: an answer (not supported), then the right one works */
    for (i = 0; i < 4; i++)
    {
        static const uint32_t versions[] = { 0, 1, AWE_PROTOCOL_VERSION + 1, 0xffffffff };

        if ((fd = raw_connect( main_server.dir )) < 0) continue;
        build_request( AWE_REQ_init_process, &req );
        req.init_process.version = versions[i];
        snprintf( what, sizeof(what), "init_process of version %u", versions[i] );
        raw_send( fd, &req, req.header.size, NULL, 0, 0 );
        if (await_outcome( fd, ANSWER_MS, what, &status ) == 1 && !status)
            violation( "the server accepted %s", what );
        close( fd );
    }
}

/* Every 32-bit word after the header of every request set to all ones, one at a time: pads
 * must make the server drop the client, fields must be answered or refused. */
static void attack_padding( void )
{
    union awe_request_buffer req;
    uint32_t type;
    char what[96];

    for (type = 0; type < AWE_REQ_COUNT; type++)
    {
        size_t size = request_sizes[type], off;

        for (off = sizeof(struct awe_request_header); off + 4 <= size; off += 4)
        {
            uint32_t ones = 0xffffffff;
            struct raw_session s;
            int fd;

            build_request( type, &req );
            memcpy( (char *)&req + off, &ones, 4 );
            snprintf( what, sizeof(what), "request %u with word %zu all ones", type, off / 4 );
            if (type == AWE_REQ_init_process || type == AWE_REQ_get_status)
            {
                one_shot( &req, size, what );
                continue;
            }
            /* after init_process, so that the word is what the server judges */
            if (raw_init( main_server.dir, &s, ANSWER_MS )) continue;
            fd = s.fd;
            if (!raw_send( fd, &req, size, NULL, 0, 0 ))
            {
                send_marker_if_silent( fd, &req, size );
                await_outcome( fd, ANSWER_MS, what, NULL );
            }
            raw_close( &s );
        }
    }
}

/* ---- well-formed but hostile requests ----------------------------------------------------- */

static NTSTATUS call_status( struct raw_session *s, const void *req, size_t len, const char *what, int *dropped )
{
    NTSTATUS status = RAW_BROKEN;
    int ret;

    *dropped = 0;
    if (raw_send( s->fd, req, len, NULL, 0, 0 )) return RAW_BROKEN;
    if ((ret = await_outcome( s->fd, cfg.ack_deadline_ms, what, &status )) <= 0) *dropped = 1;
    return status;
}

static void attack_hostile_values( void )
{
    static const uint32_t bad_handles[] = { 0, 1, 2, 3, 4, 8, 0x3ffffc, 0x7ffffffc, 0x80000000,
                                            0xfffffffa, 0xfffffffb, 0xfffffffc, 0xfffffffd, 0xfffffffe };
    static const uint64_t counts[] = { 0, 1ull << 32, 1ull << 40, 1ull << 63, UINT64_MAX };
    static uint64_t pfns[65536], victim_pfns[64];
    struct raw_session s, victim;
    union awe_request_buffer req;
    struct
    {
        struct free_pages_request req;
        struct awe_wire_pfn_run   runs[4];
    } fmsg;
    const void *victim_table;
    uint64_t got, freed, i;
    uint32_t handle;
    NTSTATUS status;
    int dropped;
    char what[128];

    if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS ) ||
        raw_init( main_server.dir, &victim, ANSWER_MS ) || raw_enable_privilege( &victim, ANSWER_MS ))
    {
        violation( "raw clients could not attach and enable the privilege" );
        return;
    }
    if (raw_allocate( &victim, AWE_CURRENT_PROCESS, 64, victim_pfns, &got, ANSWER_MS ) || got != 64)
    {
        violation( "a raw client could not allocate 64 frames (got %llu)", (unsigned long long)got );
        return;
    }
    victim_table = mmap( NULL, victim.init.frame_table_size, PROT_READ, MAP_SHARED, victim.fds[1], 0 );

    /* huge and empty counts: answered, and nothing beyond the limit is ever held */
    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
    {
        static struct status_info info;

        memset( &req, 0, sizeof(req) );
        req.header.req = AWE_REQ_allocate_pages;
        req.header.size = sizeof(req.allocate_pages);
        req.allocate_pages.process = AWE_CURRENT_PROCESS;
        req.allocate_pages.count = counts[i];
        snprintf( what, sizeof(what), "Allocate of %llu frames", (unsigned long long)counts[i] );
        call_status( &s, &req, sizeof(req.allocate_pages), what, &dropped );
        if (!status_raw( main_server.dir, &info, ANSWER_MS ) && info.limit && info.held > info.limit)
            violation( "after %s the server holds %llu frames, above its limit of %llu", what,
                       (unsigned long long)info.held, (unsigned long long)info.limit );
        if (dropped && raw_init( main_server.dir, &s, ANSWER_MS )) return;
    }
    /* whatever that allocated goes back: a fresh connection is simplest */
    raw_close( &s );
    if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )) return;

    /* handles that do not exist or have the wrong type: an error status, never success */
    for (i = 0; i < sizeof(bad_handles) / sizeof(bad_handles[0]) + 1; i++)
    {
        uint32_t h = i < sizeof(bad_handles) / sizeof(bad_handles[0]) ? bad_handles[i] : s.token;
        uint32_t type;

        for (type = AWE_REQ_allocate_pages; type < AWE_REQ_COUNT; type++)
        {
            size_t len = build_request( type, &req );

            switch (type)
            {
            case AWE_REQ_allocate_pages: req.allocate_pages.process = h; break;
            case AWE_REQ_free_pages: req.free_pages.process = h; break;
            case AWE_REQ_open_token: req.open_token.process = h; break;
            case AWE_REQ_adjust_privileges: req.adjust_privileges.token = h; break;
            default: continue;
            }
            snprintf( what, sizeof(what), "request %u with handle %#x", type, h );
            status = call_status( &s, &req, len, what, &dropped );
            if (dropped) violation( "the server dropped a client for a well-formed %s", what );
            else if (!status && !(type == AWE_REQ_adjust_privileges && h == s.token))
                violation( "the server accepted %s", what );
            if (dropped && (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )))
                return;
        }
    }

    /* another process's frames through one's own pseudo-handle: refused, and still the owner's */
    status = raw_free( &s, AWE_CURRENT_PROCESS, victim_pfns, 64, &freed, ANSWER_MS );
    if (!status || freed) violation( "a client freed %llu frames of another process through its own "
                                     "pseudo-handle (status %#x)", (unsigned long long)freed, (unsigned)status );
    if (victim_table != MAP_FAILED)
        for (i = 0; i < 64; i++)
            if (!raw_frame_owned( &victim, victim_table, victim_pfns[i] ))
            {
                violation( "a frame of a process was taken by another one's pseudo-handle Free" );
                break;
            }

    /* runs whose arithmetic overflows */
    if (!raw_allocate( &s, AWE_CURRENT_PROCESS, 16, pfns, &got, ANSWER_MS ) && got)
    {
        static const uint64_t firsts[] = { 0, 1, UINT64_MAX, 1ull << 62 };
        static const uint64_t run_counts[] = { UINT64_MAX, 2, 1ull << 62, 1ull << 40 };

        for (i = 0; i < 4; i++)
        {
            memset( &fmsg, 0, sizeof(fmsg) );
            fmsg.req.header.req = AWE_REQ_free_pages;
            fmsg.req.header.size = sizeof(fmsg.req) + 2 * sizeof(fmsg.runs[0]);
            fmsg.req.process = AWE_CURRENT_PROCESS;
            fmsg.runs[0].first = i ? firsts[i] : pfns[0];
            fmsg.runs[0].count = run_counts[i];
            fmsg.runs[1].first = pfns[0];
            fmsg.runs[1].count = UINT64_MAX - i;
            snprintf( what, sizeof(what), "a Free of runs {%#llx, %#llx}", (unsigned long long)fmsg.runs[0].first,
                      (unsigned long long)fmsg.runs[0].count );
            call_status( &s, &fmsg, fmsg.req.header.size, what, &dropped );
            if (dropped) violation( "the server dropped a client for %s", what );
            if (dropped && (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )))
                return;
        }
    }

    /* the same frames freed twice: once in one request, then again */
    if (!raw_allocate( &s, AWE_CURRENT_PROCESS, 8, pfns, &got, ANSWER_MS ) && got == 8)
    {
        memset( &fmsg, 0, sizeof(fmsg) );
        fmsg.req.header.req = AWE_REQ_free_pages;
        fmsg.req.header.size = sizeof(fmsg.req) + 2 * sizeof(fmsg.runs[0]);
        fmsg.req.process = AWE_CURRENT_PROCESS;
        fmsg.runs[0].first = fmsg.runs[1].first = pfns[0];
        fmsg.runs[0].count = fmsg.runs[1].count = 8;
        status = call_status( &s, &fmsg, fmsg.req.header.size, "a Free naming 8 frames twice", &dropped );
        if (!dropped && (!status || ((struct free_pages_reply *)&reply_buf)->freed != 8))
            violation( "a Free naming 8 frames twice: status %#x, %llu freed (expected an error after 8)",
                       (unsigned)status, (unsigned long long)((struct free_pages_reply *)&reply_buf)->freed );
        status = raw_free( &s, AWE_CURRENT_PROCESS, pfns, 8, &freed, ANSWER_MS );
        if (!status || freed) violation( "frames freed twice: the second Free freed %llu (status %#x)",
                                         (unsigned long long)freed, (unsigned)status );
    }

    /* processes that are not clients, or nothing */
    for (i = 0; i < 6; i++)
    {
        static const uint32_t pids[] = { 0, 1, 0x7fffffff, 0xffffffff, 0, 0 };
        uint32_t pid = i == 4 ? (uint32_t)getpid() : i == 5 ? (uint32_t)main_server.pid : pids[i];

        status = raw_open_process( &s, pid, 0xffffffff, &handle, ANSWER_MS );
        if (status == RAW_BROKEN) violation( "OpenProcess( %#x ) broke the connection", pid );
        else if (!status && pid != (uint32_t)getpid())
            violation( "OpenProcess( %#x ), not a client, gave handle %#x", pid, handle );
    }

    /* a handle without PROCESS_VM_OPERATION may not free frames */
    status = raw_open_process( &s, (uint32_t)getpid(), 0x0010, &handle, ANSWER_MS );
    if (!status)
    {
        status = raw_free( &s, handle, pfns, 1, &freed, ANSWER_MS );
        if (!status) violation( "a Free through a handle without PROCESS_VM_OPERATION succeeded" );
    }

    /* close_handle of the pseudo-handle, of nothing, twice */
    for (i = 0; i < 4; i++)
    {
        size_t len = build_request( AWE_REQ_close_handle, &req );
        req.close_handle.handle = i == 0 ? AWE_CURRENT_PROCESS : i == 1 ? 0 : s.token;
        snprintf( what, sizeof(what), "CloseHandle( %#x )", req.close_handle.handle );
        status = call_status( &s, &req, len, what, &dropped );
        if (i == 3 && !status && !dropped) violation( "a handle closed twice was closed again" );
        if (dropped && (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )))
            return;
    }

    /* AdjustTokenPrivileges with thousands of privileges and odd flags */
    {
        static struct
        {
            struct adjust_privileges_request req;
            struct awe_wire_privilege        privs[8000];
        } amsg;
        uint32_t token = 0;
        size_t n = 1 + rng_below( &rng, 8000 );

        raw_close( &s );
        if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )) return;
        token = s.token;
        memset( &amsg, 0, sizeof(amsg) );
        amsg.req.header.req = AWE_REQ_adjust_privileges;
        amsg.req.header.size = (uint32_t)(sizeof(amsg.req) + n * sizeof(amsg.privs[0]));
        amsg.req.token = token;
        amsg.req.disable_all = (uint32_t)rng_below( &rng, 3 ) * 0x7fffffff;
        for (i = 0; i < n; i++)
        {
            amsg.privs[i].luid = (uint32_t)rng_next( &rng ) % 8;
            amsg.privs[i].attributes = (uint32_t)rng_next( &rng );
        }
        call_status( &s, &amsg, amsg.req.header.size, "AdjustTokenPrivileges with thousands of entries", &dropped );
        if (dropped) violation( "the server dropped a client for a well-formed AdjustTokenPrivileges" );
    }
    raw_close( &s );
    raw_close( &victim );
}

/* ---- pipelining, idling, descriptors, half-closing ------------------------------------------- */

static void attack_pipeline( void )
{
    static struct status_info info;
    union awe_request_buffer req;
    struct raw_session s;
    unsigned sent = 0, i;
    uint64_t t0;
    size_t len;

    if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS )) return;
    /* requests without reading a single reply: the socket fills both ways */
    for (i = 0; i < 20000; i++)
    {
        len = build_request( i % 3 ? AWE_REQ_get_status : AWE_REQ_allocate_pages, &req );
        if (raw_send( s.fd, &req, len, NULL, 0, MSG_DONTWAIT )) break;
        sent++;
    }
    t0 = now_ms();
    if (status_raw( main_server.dir, &info, ANSWER_MS ))
        violation( "with %u requests pipelined by a client that reads nothing, get_status was not answered "
                   "within %u ms", sent, ANSWER_MS );
    else verbose( "pipelined %u requests; another client was answered in %llu ms", sent,
                  (unsigned long long)(now_ms() - t0) );
    sleep_ms( 100 );
    raw_close( &s );

    /* a client that keeps a few hundred requests in flight and reads slowly */
    if (raw_init( main_server.dir, &s, ANSWER_MS )) return;
    for (i = 0, sent = 0; i < 300; i++)
    {
        len = build_request( AWE_REQ_get_status, &req );
        if (!raw_send( s.fd, &req, len, NULL, 0, MSG_DONTWAIT )) sent++;
    }
    for (i = 0; i < sent; i++)
        if (await_outcome( s.fd, ANSWER_MS, "one of 300 pipelined get_status requests", NULL ) <= 0) break;
    raw_close( &s );
}

static void attack_idle( void )
{
    struct raw_session sessions[16];
    int fds[100], n = 0, ns = 0, i;

    for (i = 0; i < 100; i++) if ((fds[n] = raw_connect( main_server.dir )) >= 0) n++;
    for (i = 0; i < 16; i++) if (!raw_init( main_server.dir, &sessions[ns], ANSWER_MS )) ns++;
    /* connections that never send anything must not delay anybody */
    probe_library( main_server.dir, cfg.probe_deadline_ms, "opening 116 connections that stay silent" );
    for (i = 0; i < n; i++) close( fds[i] );
    for (i = 0; i < ns; i++) raw_close( &sessions[i] );
}

/* Descriptors sent to the server must be closed, whatever the message: the peer of a sent
 * socket sees the end of file once the server closed its copy. */
static void attack_descriptors( void )
{
    static const int counts[] = { 1, 2, 6, 16, 17, 64, 253 };
    union awe_request_buffer req;
    unsigned i, kind;

    for (kind = 0; kind < 3; kind++)
        for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        {
            int pair[2], fds[253], fd, k, ret;
            struct pollfd pfd;
            size_t len;
            char what[128];

            if (socketpair( AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair )) return;
            for (k = 0; k < counts[i]; k++) fds[k] = pair[1];
            if (kind == 1)
            {
                /* an eventfd and a memfd among them */
                if (counts[i] > 2) fds[1] = eventfd( 0, EFD_CLOEXEC );
                if (counts[i] > 2) fds[2] = memfd_create( "chaos", MFD_CLOEXEC );
            }
            if ((fd = raw_connect( main_server.dir )) < 0)
            {
                close( pair[0] );
                close( pair[1] );
                return;
            }
            len = kind == 2 ? 5 : build_request( kind ? AWE_REQ_init_process : AWE_REQ_get_status, &req );
            if (kind == 2) memset( &req, 0x5a, len );
            snprintf( what, sizeof(what), "%d descriptors sent with %s", counts[i],
                      kind == 0 ? "get_status" : kind == 1 ? "init_process" : "5 bytes of garbage" );
            ret = raw_send( fd, &req, len, fds, counts[i], 0 );
            if (kind == 1 && counts[i] > 2)
            {
                close( fds[1] );
                close( fds[2] );
            }
            close( pair[1] );
            if (!ret) await_outcome( fd, ANSWER_MS, what, NULL );
            /* the server may keep the connection; the descriptors it must drop at once */
            pfd.fd = pair[0];
            pfd.events = POLLIN;
            if (!ret && (poll( &pfd, 1, ANSWER_MS ) <= 0 || !(pfd.revents & (POLLHUP | POLLIN))))
                violation( "the server kept a descriptor it was sent (%s)", what );
            close( fd );
            close( pair[0] );
        }
}

static void attack_half_close( void )
{
    union awe_request_buffer req;
    int i, fd;

    for (i = 0; i < 40; i++)
    {
        size_t len = build_request( i % 2 ? AWE_REQ_get_status : AWE_REQ_init_process, &req );
        char what[96];

        if ((fd = raw_connect( main_server.dir )) < 0) return;
        switch (i % 4)
        {
        case 0:
        case 1:
            /* the request, then the end of our sending side: the answer must still come */
            raw_send( fd, &req, len, NULL, 0, 0 );
            shutdown( fd, SHUT_WR );
            snprintf( what, sizeof(what), "a request (%u) followed by shutdown(SHUT_WR)", req.header.req );
            if (!await_outcome( fd, ANSWER_MS, what, NULL ))
                verbose( "%s: dropped without an answer", what );
            break;
        case 2:
            shutdown( fd, SHUT_RD );
            raw_send( fd, &req, len, NULL, 0, 0 );
            raw_send( fd, &req, len, NULL, 0, 0 );
            break;
        default:
            shutdown( fd, SHUT_RDWR );
            break;
        }
        close( fd );
    }
    /* and plain connect-and-close */
    for (i = 0; i < 100; i++) if ((fd = raw_connect( main_server.dir )) >= 0) close( fd );
}

/* ---- many clients, and cross-process Frees nobody acknowledges -------------------------------- */

static void attack_many_inits( void )
{
    enum { N = 60 };
    static struct raw_session s[N];
    static uint64_t pfns[64];
    uint64_t got;
    int n = 0, i;

    for (i = 0; i < N; i++)
    {
        if (raw_init( main_server.dir, &s[n], ANSWER_MS )) continue;
        if (!raw_enable_privilege( &s[n], ANSWER_MS ))
            raw_allocate( &s[n], AWE_CURRENT_PROCESS, 1 + rng_below( &rng, 64 ), pfns, &got, ANSWER_MS );
        n++;
    }
    if (n < N) violation( "only %d of %d raw clients could attach", n, N );
    for (i = 0; i < n; i++) raw_close( &s[i] );
}

/* A member of a ring of raw clients (separate processes, so separate pids): it allocates,
 * publishes its frames, and on its turn frees frames of the next member through a handle. */
struct ring_member
{
    _Atomic int32_t  pid;
    _Atomic uint32_t ready;         /* frames published */
    _Atomic uint32_t go;            /* the driver's signal to free (1), or to also stay (2) */
    _Atomic uint32_t answered;      /* the Free's reply came (1), or not (2) */
    _Atomic uint64_t elapsed_ms;
    _Atomic uint32_t quit;
    uint64_t         pfns[32];
};

static void __attribute__((noreturn)) ring_member_run( struct ring_member *ring, int index, int n )
{
    struct ring_member *self = &ring[index], *next = &ring[(index + 1) % n];
    struct raw_session s;
    uint64_t got, t0;
    uint32_t handle;

    atomic_store( &self->pid, (int32_t)getpid() );
    if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS ) ||
        raw_allocate( &s, AWE_CURRENT_PROCESS, 32, self->pfns, &got, ANSWER_MS ) || got != 32)
        _exit( 3 );
    atomic_store( &self->ready, 1 );
    while (!atomic_load( &self->go ) && !atomic_load( &self->quit )) sleep_us( 500 );
    if (atomic_load( &self->go ) &&
        !raw_open_process( &s, (uint32_t)atomic_load( &next->pid ), AWE_PROCESS_VM_OPERATION, &handle, ANSWER_MS ))
    {
        struct
        {
            struct free_pages_request req;
            struct awe_wire_pfn_run   run;
        } msg = { { .header = { AWE_REQ_free_pages, sizeof(msg) }, .process = handle },
                  { next->pfns[0], 8 } };

        t0 = now_ms();
        raw_send( s.fd, &msg, sizeof(msg), NULL, 0, 0 );
        atomic_store( &self->answered, raw_recv( s.fd, &reply_buf, sizeof(reply_buf), cfg.ack_deadline_ms,
                                                 NULL, NULL ) > 0 ? 1 : 2 );
        atomic_store( &self->elapsed_ms, now_ms() - t0 );
    }
    /* the frames stay with the connection until the driver lets go */
    while (!atomic_load( &self->quit )) sleep_ms( 1 );
    _exit( 0 );
}

/* A, B and C (three processes) free each other's frames in a cycle through handles; none of
 * them runs a notification thread, so none acknowledges: every Free must still be answered
 * (the server's ack timeout), and the server must serve others meanwhile.  Then a Free that
 * waits for an owner that is killed must be answered at once. */
static void attack_cross_frees( void )
{
    static struct status_info info;
    struct ring_member *ring = shared_alloc( 4 * sizeof(*ring) );
    uint64_t end = now_ms() + 5000, t0;
    pid_t pids[4];
    int i, n = 3, ready;

    for (i = 0; i < 4; i++) if (!(pids[i] = chaos_fork())) ring_member_run( ring, i, i < 3 ? 3 : 4 );
    do
    {
        for (i = 0, ready = 0; i < 4; i++) ready += atomic_load( &ring[i].ready );
        sleep_ms( 1 );
    } while (ready < 4 && now_ms() < end);
    if (ready < 4)
    {
        violation( "four raw clients could not attach and allocate within 5 s" );
        goto done;
    }
    for (i = 0; i < n; i++) atomic_store( &ring[i].go, 1 );
    t0 = now_ms();
    sleep_ms( 20 );
    if (status_raw( main_server.dir, &info, 500 ))
        violation( "with three cross-process Frees waiting for acknowledgements, get_status was not "
                   "answered within 500 ms" );
    end = now_ms() + cfg.ack_deadline_ms + 1000;
    for (i = 0; i < n; i++)
    {
        while (!atomic_load( &ring[i].answered ) && now_ms() < end) sleep_ms( 2 );
        if (atomic_load( &ring[i].answered ) != 1)
            violation( "a cross-process Free that its owner does not acknowledge was not answered "
                       "within %u ms", cfg.ack_deadline_ms );
        else
        {
            fig_add( &fig->cross_frees, 1 );
            if (atomic_load( &ring[i].elapsed_ms ) >= 1900) fig_add( &fig->ack_timeouts, 1 );
        }
    }
    verbose( "three unacknowledged cross-process Frees answered after %llu ms", (unsigned long long)(now_ms() - t0) );

    /* member 3 frees member 0's frames; member 0 is killed while that Free waits */
    ring[3].pfns[0] = ring[0].pfns[8];
    atomic_store( &ring[3].go, 1 );
    sleep_ms( 100 );
    child_kill( pids[0] );
    pids[0] = 0;
    t0 = now_ms();
    while (!atomic_load( &ring[3].answered ) && now_ms() < t0 + cfg.ack_deadline_ms) sleep_ms( 2 );
    if (atomic_load( &ring[3].answered ) != 1)
        violation( "a cross-process Free whose owner was killed was not answered" );
    else if (atomic_load( &ring[3].elapsed_ms ) > 100 + 1000)
        violation( "a cross-process Free was answered %llu ms after it was sent, though its owner was killed "
                   "after 100 ms", (unsigned long long)atomic_load( &ring[3].elapsed_ms ) );

done:
    for (i = 0; i < 4; i++) atomic_store( &ring[i].quit, 1 );
    for (i = 0; i < 4; i++) if (pids[i] > 0 && child_wait( pids[i], 3000, NULL )) violation( "a ring member hung" );
}

/* ---- the phase --------------------------------------------------------------------------------- */

static const struct
{
    const char *name;
    void      (*run)( void );
} attacks[] =
{
    { "garbage",           attack_garbage },
    { "truncated",         attack_truncated },
    { "oversized",         attack_oversized },
    { "wrong order",       attack_order },
    { "padding",           attack_padding },
    { "hostile values",    attack_hostile_values },
    { "pipelining",        attack_pipeline },
    { "silent clients",    attack_idle },
    { "descriptors",       attack_descriptors },
    { "half-closing",      attack_half_close },
    { "many clients",      attack_many_inits },
    { "cross-process frees", attack_cross_frees },
};

void phase_hostile( unsigned budget_ms )
{
    uint64_t end = now_ms() + budget_ms, messages = fig_get( &fig->messages );
    unsigned i, batches = 0, round = 0;
    char after[96];

    do
    {
        for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
        {
            int status;
            pid_t pid;

            /* after the first round, only the randomised attacks run again */
            if (round && attacks[i].run != attack_garbage && attacks[i].run != attack_hostile_values &&
                attacks[i].run != attack_pipeline)
                continue;
            if (!(pid = chaos_fork()))
            {
                attacks[i].run();
                _exit( 0 );
            }
            snprintf( after, sizeof(after), "the hostile clients' %s", attacks[i].name );
            if (child_wait( pid, 60000, &status ) == -ETIMEDOUT)
                violation( "the hostile client for %s hung (killed after 60 s)", attacks[i].name );
            else if (!WIFEXITED( status ) || WEXITSTATUS( status ))
            {
                char how[96];
                describe_status( status, how, sizeof(how) );
                violation( "the hostile client for %s ended with %s", attacks[i].name, how );
            }
            batches++;
            if (!server_check( &main_server, after )) server_settle( &main_server, after );
            verbose( "%s: done, %llu messages so far", attacks[i].name,
                     (unsigned long long)(fig_get( &fig->messages ) - messages) );
        }
        round++;
    } while (now_ms() < end);
    printf( "   %u batches in %u rounds, %llu messages sent\n", batches, round,
            (unsigned long long)(fig_get( &fig->messages ) - messages) );
}
