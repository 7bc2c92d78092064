/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Server robustness: malformed messages drop only their sender; the server serves on. */

#include <poll.h>
#include <sys/mman.h>
#include "awe/core.h"
#include "awe/tests/server_fixture.h"

static void setup( void )
{
    server_start();
}

static void teardown( void )
{
    ck_assert_msg( server_alive(), "the server died" );
    server_stop();
}

/* Sends one message on a fresh connection; returns the reply length (0: dropped). */
static ssize_t send_one( const void *msg, size_t size )
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    int fd = raw_connect();
    ssize_t len = raw_call( fd, msg, size, &buf, sizeof(buf) );

    close( fd );
    return len;
}

START_TEST(test_malformed_headers)
{
    struct init_process_request req = { .header = { AWE_REQ_init_process, sizeof(req) },
                                        .version = AWE_PROTOCOL_VERSION };
    char small[4] = { 0 };

    ck_assert_int_eq( send_one( small, sizeof(small) ), 0 );          /* shorter than a header */
    req.header.size = sizeof(req) + 8;                                   /* size field lies */
    ck_assert_int_eq( send_one( &req, sizeof(req) ), 0 );
    req.header.size = sizeof(req);
    req.header.req = AWE_REQ_COUNT;                                      /* no such request */
    ck_assert_int_eq( send_one( &req, sizeof(req) ), 0 );
    req.header.req = 0x80000000u;
    ck_assert_int_eq( send_one( &req, sizeof(req) ), 0 );
    req.header.req = AWE_REQ_init_process;
    req.pad = 1;                                                         /* padding must be zero */
    ck_assert_int_eq( send_one( &req, sizeof(req) ), 0 );
    check_served();
}
END_TEST

START_TEST(test_wrong_sizes_and_order)
{
    char big[sizeof(struct init_process_request) + 8];
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .process = AWE_CURRENT_PROCESS, .count = 1 };
    struct init_process_request *req = (void *)big;

    memset( big, 0, sizeof(big) );
    req->header.req = AWE_REQ_init_process;
    req->header.size = sizeof(big);                                      /* trailing bytes */
    req->version = AWE_PROTOCOL_VERSION;
    ck_assert_int_eq( send_one( big, sizeof(big) ), 0 );
    ck_assert_int_eq( send_one( &alloc, sizeof(alloc) ), 0 );             /* before init_process */
    check_served();
}
END_TEST

START_TEST(test_bad_variable_parts)
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    struct { struct free_pages_request req; char odd[12]; } bad_free;
    struct { struct free_pages_request req; struct awe_wire_pfn_run runs[2]; } huge_free;
    int fd = raw_connect();

    ck_assert_int_gt( raw_call( fd, &init, sizeof(init), &buf, sizeof(buf) ), 0 );
    /* runs that claim more entries than exist: an API error, not a crash */
    memset( &huge_free, 0, sizeof(huge_free) );
    huge_free.req.header.req = AWE_REQ_free_pages;
    huge_free.req.header.size = sizeof(huge_free);
    huge_free.req.process = AWE_CURRENT_PROCESS;
    huge_free.runs[0].first = 0x200000;
    huge_free.runs[0].count = ~(uint64_t)0;
    huge_free.runs[1].first = ~(uint64_t)0;
    huge_free.runs[1].count = ~(uint64_t)0;
    ck_assert_int_eq( raw_call( fd, &huge_free, sizeof(huge_free), &buf, sizeof(buf) ),
                      sizeof(struct free_pages_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_INVALID_PARAMETER_1 );  /* never allocated */
    /* a variable part that is not whole runs: a protocol error */
    memset( &bad_free, 0, sizeof(bad_free) );
    bad_free.req.header.req = AWE_REQ_free_pages;
    bad_free.req.header.size = sizeof(bad_free);
    bad_free.req.process = AWE_CURRENT_PROCESS;
    ck_assert_int_eq( raw_call( fd, &bad_free, sizeof(bad_free), &buf, sizeof(buf) ), 0 );
    close( fd );
    check_served();
}
END_TEST

START_TEST(test_descriptors_and_version)
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION + 1 };
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &init, sizeof(init) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof(control) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR( &msg );
    int fd = raw_connect(), sent = memfd_create( "junk", MFD_CLOEXEC );

    /* a descriptor sent to the server is closed, and a newer protocol is refused politely */
    memset( control, 0, sizeof(control) );
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy( CMSG_DATA( cmsg ), &sent, sizeof(int) );
    ck_assert_int_eq( sendmsg( fd, &msg, 0 ), sizeof(init) );
    ck_assert_int_eq( recv( fd, &buf, sizeof(buf), 0 ), sizeof(struct init_process_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_NOT_SUPPORTED );
    close( sent );
    close( fd );
    check_served();
}
END_TEST

START_TEST(test_many_clients_and_abrupt_close)
{
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    int fds[64], i;

    for (i = 0; i < 64; i++)
    {
        fds[i] = raw_connect();
        ck_assert_int_eq( send( fds[i], &init, sizeof(init), 0 ), sizeof(init) );
    }
    for (i = 0; i < 64; i++) close( fds[i] );   /* gone before reading their replies */
    for (i = 0; i < 200 && server_status( NULL, 0 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 0 );
    check_served();
}
END_TEST

/* A process that has gone but that another one still holds a handle to stays in the server's
 * list; shutting down while it does (the holder listed first, since it connected last) must not
 * touch the gone one after the holder's handles released it.  The fixture's server_stop fails
 * the test unless the server exits cleanly, which a sanitizer build does not after a use after
 * free (make racecheck, make sanitize). */
START_TEST(test_shutdown_with_held_process)
{
    union awe_reply_buffer reply;
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    struct open_process_request open = { .header = { AWE_REQ_open_process, sizeof(open) },
                                         .access = AWE_PROCESS_VM_OPERATION };
    int up[2], down[2], fd, status, i;
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( up ), 0 );
    ck_assert_int_eq( pipe( down ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid)
    {
        fd = raw_connect();
        if (raw_call( fd, &init, sizeof(init), &reply, sizeof(reply) ) != sizeof(reply.init_process) ||
            reply.header.status || write( up[1], "r", 1 ) != 1 || read( down[0], &c, 1 ) != 1)
            _exit( 1 );
        _exit( 0 );   /* gone, still held by the parent's handle */
    }
    ck_assert_int_eq( read( up[0], &c, 1 ), 1 );

    fd = raw_connect();
    ck_assert_int_eq( raw_call( fd, &init, sizeof(init), &reply, sizeof(reply) ),
                      sizeof(reply.init_process) );
    ck_assert_int_eq( reply.header.status, STATUS_SUCCESS );
    open.pid = (uint32_t)pid;
    ck_assert_int_eq( raw_call( fd, &open, sizeof(open), &reply, sizeof(reply) ),
                      sizeof(reply.open_process) );
    ck_assert_int_eq( reply.header.status, STATUS_SUCCESS );

    ck_assert_int_eq( write( down[1], "x", 1 ), 1 );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert( WIFEXITED( status ) && !WEXITSTATUS( status ) );
    for (i = 0; i < 200 && server_status( NULL, 0 ) != 1; i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 1 );   /* the holder only */

    server_stop();   /* with the holder still connected */
    close( fd );
    close( up[0] ); close( up[1] ); close( down[0] ); close( down[1] );
    server_start();  /* for the fixture's teardown */
}
END_TEST

/* Random messages on initialised connections: every request number (and some that do not
 * exist), the right fixed size, a variable part or any size, and fields biased towards the
 * values handlers test (zero padding, the current-process handle, small and huge counts).
 * Whatever comes, the server answers or drops the sender, and serves on.  The server runs with
 * a small --limit so that a random count allocates megabytes, not the machine; under
 * racecheck and sanitize it is instrumented, and the fixture fails the test if it does not
 * exit cleanly.  The seed is fixed, so a failure reproduces. */
static const uint32_t request_sizes[] =
{
#define AWE_SIZE(name) sizeof(struct name##_request),
    AWE_REQUESTS(AWE_SIZE)
#undef AWE_SIZE
};

static uint64_t fuzz_state = 0x5eed0a3e5eed0a3eull;
static uint32_t fuzz_pfn = 1u << AWE_PFN_DEFAULT_INDEX_BITS;   /* from the last Allocate reply */
static uint32_t fuzz_handle = 4;                               /* from the last open reply */

static uint32_t fuzz_next( void )
{
    /* xorshift64* */
    fuzz_state ^= fuzz_state >> 12;
    fuzz_state ^= fuzz_state << 25;
    fuzz_state ^= fuzz_state >> 27;
    return (uint32_t)((fuzz_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t fuzz_word( void )
{
    uint32_t r = fuzz_next() % 16;

    if (r < 8) return 0;
    if (r < 10) return 0xffffffff;
    if (r < 12) return fuzz_next() % 17;
    if (r < 14) return fuzz_pfn + fuzz_next() % 64;   /* near frames the connection holds */
    return fuzz_next();
}

/* A well-formed request of kind req, one word of it changed half the time; returns its size. */
static size_t fuzz_plausible( uint32_t req, uint32_t *msg, uint32_t *kind )
{
    union awe_request_buffer *r = (void *)msg;
    size_t len = request_sizes[req], words, i, n;

    memset( msg, 0, len );
    switch (req)
    {
    case AWE_REQ_init_process:
        r->init_process.version = AWE_PROTOCOL_VERSION;
        break;
    case AWE_REQ_allocate_pages:
        r->allocate_pages.process = AWE_CURRENT_PROCESS;
        r->allocate_pages.count = 1 + fuzz_next() % 2048;
        break;
    case AWE_REQ_free_pages:
        r->free_pages.process = AWE_CURRENT_PROCESS;
        for (i = 0, n = 1 + fuzz_next() % 3; i < n; i++)
        {
            struct awe_wire_pfn_run run = { fuzz_pfn + fuzz_next() % 4, 1 + fuzz_next() % 2 };
            memcpy( (char *)msg + len, &run, sizeof(run) );
            len += sizeof(run);
        }
        break;
    case AWE_REQ_open_process:
        r->open_process.pid = fuzz_next() % 2 ? (uint32_t)getpid() : fuzz_next() % 65536;
        r->open_process.access = fuzz_next() % 2 ? AWE_PROCESS_VM_OPERATION : fuzz_next();
        break;
    case AWE_REQ_close_handle:
        r->close_handle.handle = fuzz_next() % 4 ? fuzz_handle : 4 * (fuzz_next() % 8);
        break;
    case AWE_REQ_open_token:
        r->open_token.process = AWE_CURRENT_PROCESS;
        r->open_token.access = fuzz_next() % 2 ? AWE_TOKEN_ADJUST_PRIVILEGES : fuzz_next();
        break;
    case AWE_REQ_ack_unmap:
        r->ack_unmap.seq = fuzz_next() % 4;
        break;
    case AWE_REQ_adjust_privileges:
        r->adjust_privileges.token = fuzz_next() % 4 ? fuzz_handle : 4 * (fuzz_next() % 8);
        r->adjust_privileges.disable_all = fuzz_next() % 4 == 0;
        for (i = 0, n = fuzz_next() % 3; i < n; i++)
        {
            struct awe_wire_privilege privilege = { fuzz_next() % 2 ? AWE_SE_LOCK_MEMORY_PRIVILEGE
                                                                    : fuzz_next() % 40,
                                                    fuzz_next() % 8 };
            memcpy( (char *)msg + len, &privilege, sizeof(privilege) );
            len += sizeof(privilege);
        }
        break;
    }
    r->header.req = req;
    r->header.size = (uint32_t)len;
    words = len / 4;
    if (fuzz_next() % 2 && words > 2) msg[2 + fuzz_next() % (words - 2)] = fuzz_word();
    *kind = req;
    return len;
}

static int fuzz_connect( void )
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .process = AWE_CURRENT_PROCESS, .count = 64 };
    struct open_token_request token = { .header = { AWE_REQ_open_token, sizeof(token) },
                                        .process = AWE_CURRENT_PROCESS,
                                        .access = AWE_TOKEN_ADJUST_PRIVILEGES };
    struct { struct adjust_privileges_request req; struct awe_wire_privilege privilege; } adjust =
    {
        .req = { .header = { AWE_REQ_adjust_privileges, sizeof(adjust) } },
        .privilege = { .luid = AWE_SE_LOCK_MEMORY_PRIVILEGE, .attributes = AWE_SE_PRIVILEGE_ENABLED },
    };
    int fd = raw_connect();
    ssize_t len;

    ck_assert_int_eq( raw_call( fd, &init, sizeof(init), &buf, sizeof(buf) ),
                      sizeof(struct init_process_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
    if (fuzz_next() % 4)
    {
        /* most connections hold the privilege, so that Allocate and Free get past it */
        ck_assert_int_eq( raw_call( fd, &token, sizeof(token), &buf, sizeof(buf) ),
                          sizeof(struct open_token_reply) );
        ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
        adjust.req.token = buf.reply.open_token.handle;
        ck_assert_int_eq( raw_call( fd, &adjust, sizeof(adjust), &buf, sizeof(buf) ),
                          sizeof(struct adjust_privileges_reply) + sizeof(struct awe_wire_privilege) );
        ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
        /* and frames, for the Frees to name (unless the previous connection, whose close the
         * server may not have seen yet, still holds the whole --limit) */
        len = raw_call( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) );
        ck_assert_int_ge( len, (ssize_t)sizeof(struct allocate_pages_reply) );
        if (!buf.reply.header.status)
        {
            ck_assert_int_ge( len, (ssize_t)(sizeof(struct allocate_pages_reply) + sizeof(struct awe_wire_run)) );
            fuzz_pfn = buf.reply.allocate_pages.tag << AWE_PFN_DEFAULT_INDEX_BITS |
                       ((const struct awe_wire_run *)(&buf.reply.allocate_pages + 1))->start;
        }
        else ck_assert_int_eq( buf.reply.header.status, STATUS_INSUFFICIENT_RESOURCES );
    }
    return fd;
}

START_TEST(test_random_requests)
{
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    static uint32_t msg[1024];
    unsigned int i, k, replies = 0, drops = 0;
    unsigned int successes[AWE_REQ_COUNT + 3] = { 0 };
    char log[64], cmd[128];
    int fd, alive, status, stuck = -1;

    /* the server's log (a line per dropped client) goes to a file; what else it says, a
     * sanitizer's report say, is shown at the end */
    server_stop();
    server_start_logged( log, sizeof(log), "--limit=16M" );
    fd = fuzz_connect();
    for (i = 0; i < 5000; i++)
    {
        struct pollfd pfd = { .events = POLLIN };
        uint32_t req = fuzz_next() % 8 ? fuzz_next() % AWE_REQ_COUNT : fuzz_next() % (AWE_REQ_COUNT + 3);
        size_t len, words;
        ssize_t got;

        switch (fuzz_next() % 4)
        {
        case 0: case 1: len = req < AWE_REQ_COUNT ? request_sizes[req] : 16; break;
        case 2: len = (req < AWE_REQ_COUNT ? request_sizes[req] : 16) + 8 * (fuzz_next() % 6); break;
        default: len = fuzz_next() % 300; break;
        }
        words = (len + 3) / 4;
        for (k = 0; k < words; k++) msg[k] = fuzz_word();
        if (len >= 8)
        {
            msg[0] = fuzz_next() % 64 ? req : fuzz_next();
            msg[1] = fuzz_next() % 32 ? (uint32_t)len : fuzz_next() % 400;
        }
        /* the first field of most requests is a handle: often the current process */
        if (len >= 12 && fuzz_next() % 2) msg[2] = AWE_CURRENT_PROCESS;
        if (req == AWE_REQ_init_process && len >= 12 && fuzz_next() % 2) msg[2] = AWE_PROTOCOL_VERSION;
        if (fuzz_next() % 3 == 0) len = fuzz_plausible( req % AWE_REQ_COUNT, msg, &req );
        if (send( fd, msg, len, MSG_NOSIGNAL ) != (ssize_t)len)
        {
            close( fd );
            fd = fuzz_connect();
            continue;
        }
        /* a well-formed ack_unmap has no reply: a status request after it shows that the
         * connection lives on */
        if (len == sizeof(struct ack_unmap_request) && msg[0] == AWE_REQ_ack_unmap && msg[1] == len &&
            !msg[3])
        {
            struct get_status_request probe = { .header = { AWE_REQ_get_status, sizeof(probe) } };
            if (send( fd, &probe, sizeof(probe), MSG_NOSIGNAL ) != (ssize_t)sizeof(probe))
            {
                close( fd );
                fd = fuzz_connect();
                continue;
            }
        }
        /* a Free through a handle to another of our connections waits for its unmap
         * acknowledgement, which a raw connection never sends: 2 s */
        pfd.fd = fd;
        if (poll( &pfd, 1, 10000 ) != 1)
        {
            stuck = (int)i;
            break;
        }
        while ((got = recv( fd, &buf, sizeof(buf), 0 )) < 0 && errno == EINTR) ;
        if (got > 0)
        {
            replies++;
            if (got >= (ssize_t)sizeof(buf.reply.header) && !buf.reply.header.status) successes[req]++;
            if (req == AWE_REQ_allocate_pages && !buf.reply.header.status &&
                got >= (ssize_t)(sizeof(buf.reply.allocate_pages) + sizeof(struct awe_wire_run)))
            {
                const struct awe_wire_run *run = (const void *)(&buf.reply.allocate_pages + 1);
                fuzz_pfn = buf.reply.allocate_pages.tag << AWE_PFN_DEFAULT_INDEX_BITS | run->start;
            }
            if ((req == AWE_REQ_open_process || req == AWE_REQ_open_token) && !buf.reply.header.status &&
                got >= (ssize_t)sizeof(buf.reply.open_process))
                fuzz_handle = buf.reply.open_process.handle;
            continue;
        }
        drops++;
        close( fd );
        fd = fuzz_connect();
        if (fuzz_next() % 8 == 0) check_served();
    }
    close( fd );
    alive = server_alive();
    if (alive) check_served();
    status = server_stop_status();
    snprintf( cmd, sizeof(cmd), "grep -v 'protocol error from pid\\|speaks protocol' %s >&2", log );
    if (system( cmd ) == -1) ck_abort_msg( "cannot show the server's log" );
    unlink( log );
    if (getenv( "AWE_FUZZ_STATS" ))
        for (k = 0; k < AWE_REQ_COUNT; k++) fprintf( stderr, "request %u: %u succeeded\n", k, successes[k] );
    ck_assert_msg( stuck < 0, "message %d: no answer", stuck );
    ck_assert_msg( alive, "the server died" );
    server_assert_clean_exit( status );
    ck_assert_uint_gt( replies, 100 );   /* both paths taken */
    ck_assert_uint_gt( drops, 100 );
    /* and the handlers' own paths: some random requests of each kind succeeded */
    ck_assert_uint_gt( successes[AWE_REQ_allocate_pages], 10 );
    ck_assert_uint_gt( successes[AWE_REQ_free_pages], 10 );
    ck_assert_uint_gt( successes[AWE_REQ_open_process], 10 );
    ck_assert_uint_gt( successes[AWE_REQ_close_handle], 10 );
    ck_assert_uint_gt( successes[AWE_REQ_adjust_privileges], 10 );
    ck_assert_uint_gt( successes[AWE_REQ_ack_unmap], 10 );
    server_start();   /* for the fixture's teardown */
}
END_TEST

START_TEST(test_help_and_bad_options)
{
    char cmd[512];
    const char *server = getenv( "AWE_SERVER" );

    snprintf( cmd, sizeof(cmd), "%s --help | grep -q -- --grant-lock-memory=WHO", server );
    ck_assert_int_eq( system( cmd ), 0 );
    snprintf( cmd, sizeof(cmd), "%s --pfn-bits=30:2 2>/dev/null", server );
    ck_assert_int_eq( WEXITSTATUS( system( cmd ) ), 2 );
    snprintf( cmd, sizeof(cmd), "%s --grant-lock-memory=some 2>/dev/null", server );
    ck_assert_int_eq( WEXITSTATUS( system( cmd ) ), 2 );
    /* sizes: a suffix it does not know, and less than a page, which would read as "none" */
    snprintf( cmd, sizeof(cmd), "%s --limit=16X 2>/dev/null", server );
    ck_assert_int_eq( WEXITSTATUS( system( cmd ) ), 2 );
    snprintf( cmd, sizeof(cmd), "%s --quota=100 2>/dev/null", server );
    ck_assert_int_eq( WEXITSTATUS( system( cmd ) ), 2 );
    snprintf( cmd, sizeof(cmd), "%s --status --dir=%s | grep -q 'frames locked'", server, srv.dir );
    ck_assert_int_eq( system( cmd ), 0 );
    /* the status shows the memory reserve the fixture's server runs with (the default) */
    snprintf( cmd, sizeof(cmd), "%s --status --dir=%s | grep -q '^reserve: [0-9]* frames'", server, srv.dir );
    ck_assert_int_eq( system( cmd ), 0 );
}
END_TEST

/* A peer of another user is refused even when the directory lets it reach the socket. */
START_TEST(test_refuses_other_users)
{
    char sock[100];
    int status;
    pid_t pid;

    snprintf( sock, sizeof(sock), "%s/socket", srv.dir );
    ck_assert_int_eq( chmod( srv.dir, 0755 ), 0 );
    ck_assert_int_eq( chmod( sock, 0777 ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid)
    {
        struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                             .version = AWE_PROTOCOL_VERSION };
        union awe_reply_buffer reply;
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        int fd;

        if (setresgid( 65534, 65534, 65534 ) || setresuid( 65534, 65534, 65534 )) _exit( 2 );
        snprintf( addr.sun_path, sizeof(addr.sun_path), "%s", sock );
        if ((fd = socket( AF_UNIX, SOCK_SEQPACKET, 0 )) < 0 ||
            connect( fd, (struct sockaddr *)&addr, sizeof(addr) ))
            _exit( 3 );
        /* the server closes the connection without answering */
        _exit( raw_call( fd, &init, sizeof(init), &reply, sizeof(reply) ) > 0 ? 4 : 0 );
    }
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "status %#x", status );
    ck_assert_int_eq( chmod( srv.dir, 0700 ), 0 );
    check_served();
}
END_TEST

AWE_DEFINE_SUITE(server)
{
    Suite *s = suite_create( "server" );
    TCase *errors = tcase_create( "errors" ), *core = tcase_create( "core" );

    tcase_add_checked_fixture( errors, setup, teardown );
    tcase_add_checked_fixture( core, setup, teardown );
    tcase_add_test( errors, test_malformed_headers );
    tcase_add_test( errors, test_wrong_sizes_and_order );
    tcase_add_test( errors, test_bad_variable_parts );
    tcase_add_test( errors, test_descriptors_and_version );
    tcase_add_test( core, test_many_clients_and_abrupt_close );
    tcase_add_test( core, test_help_and_bad_options );
    tcase_add_test( core, test_shutdown_with_held_process );
    tcase_add_test( core, test_random_requests );
    /* Check has no skip result: a test that cannot run here is not registered, and says so */
    if (!getuid()) tcase_add_test( errors, test_refuses_other_users );
    else fprintf( stderr, "SKIP test_refuses_other_users: needs root to act as another user "
                  "(the instance directory's mode 0700 keeps other users out anyway)\n" );
    tcase_set_timeout( core, 60 );
    suite_add_tcase( s, errors );
    suite_add_tcase( s, core );
    return s;
}
