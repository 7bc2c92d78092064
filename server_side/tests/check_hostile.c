/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hostile clients and exhaustion: whatever a client writes into the memory it shares with the
 * server, and whatever runs out (descriptors, tags, handle slots), the server serves the other
 * clients, answers with a defined status, never spins, recovers, and stops cleanly. */

#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "awe/core.h"
#include "awe/sync.h"
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

/* init_process on fd; returns its status, the reply and its descriptors in fds[5]. */
static NTSTATUS raw_init( int fd, struct init_process_reply *reply, int *fds )
{
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    char control[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = { reply, sizeof(*reply) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof(control) };
    struct cmsghdr *cmsg;
    ssize_t len;
    int n = 0;

    memset( reply, 0, sizeof(*reply) );
    if (send( fd, &init, sizeof(init), MSG_NOSIGNAL ) != sizeof(init)) return STATUS_PIPE_BROKEN;
    while ((len = recvmsg( fd, &msg, MSG_CMSG_CLOEXEC )) < 0 && errno == EINTR) ;
    if (len < (ssize_t)sizeof(reply->header)) return STATUS_PIPE_BROKEN;
    for (cmsg = CMSG_FIRSTHDR( &msg ); cmsg; cmsg = CMSG_NXTHDR( &msg, cmsg ))
    {
        size_t i, count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < count; i++)
        {
            int got;
            memcpy( &got, CMSG_DATA( cmsg ) + i * sizeof(int), sizeof(int) );
            if (fds && n < 5) fds[n++] = got;
            else close( got );
        }
    }
    if (!reply->header.status) ck_assert_int_eq( n, 5 );
    return reply->header.status;
}

static void close_fds( int *fds, int n )
{
    while (n--) close( fds[n] );
}

/* A request on an initialised connection; returns the reply's status (STATUS_PIPE_BROKEN if the
 * connection closed). */
static NTSTATUS raw_request( int fd, const void *req, size_t size, void *reply, size_t reply_size )
{
    union awe_reply_buffer *r = reply;
    ssize_t len = raw_call( fd, req, size, reply, reply_size );

    if (len < (ssize_t)sizeof(r->header)) return STATUS_PIPE_BROKEN;
    return r->header.status;
}

static void enable_privilege( int fd )
{
    union awe_reply_buffer reply;
    struct open_token_request token = { .header = { AWE_REQ_open_token, sizeof(token) },
                                        .process = AWE_CURRENT_PROCESS,
                                        .access = AWE_TOKEN_ADJUST_PRIVILEGES };
    struct { struct adjust_privileges_request req; struct awe_wire_privilege privilege; } adjust =
    {
        .req = { .header = { AWE_REQ_adjust_privileges, sizeof(adjust) } },
        .privilege = { .luid = AWE_SE_LOCK_MEMORY_PRIVILEGE, .attributes = AWE_SE_PRIVILEGE_ENABLED },
    };
    char buf[sizeof(reply) + 64];

    ck_assert_int_eq( raw_request( fd, &token, sizeof(token), &reply, sizeof(reply) ), STATUS_SUCCESS );
    adjust.req.token = reply.open_token.handle;
    ck_assert_int_eq( raw_request( fd, &adjust, sizeof(adjust), buf, sizeof(buf) ), STATUS_SUCCESS );
}

/* CPU time the server used so far, in clock ticks. */
static unsigned long server_cpu_ticks( void )
{
    unsigned long utime = 0, stime = 0;
    char path[64], buf[1024], *p;
    FILE *file;

    snprintf( path, sizeof(path), "/proc/%d/stat", (int)srv.pid );
    ck_assert_ptr_nonnull( file = fopen( path, "re" ) );
    ck_assert_ptr_nonnull( fgets( buf, sizeof(buf), file ) );
    fclose( file );
    /* fields 14 and 15, after the command name in parentheses */
    ck_assert_ptr_nonnull( p = strrchr( buf, ')' ) );
    ck_assert_int_eq( sscanf( p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                              &utime, &stime ), 2 );
    return utime + stime;
}

/* ---- memory the client writes ------------------------------------------------------------ */

struct forger
{
    int ready[2], done[2];
};

/* Connects, writes a validly hashed LOCKED state (and garbage after it) into every word of its
 * sync pool and fills its usage page with ones, then waits without ever acknowledging. */
static int forger_main( void *arg )
{
    struct forger *f = arg;
    struct init_process_reply reply;
    const struct awe_frame_table *table;
    struct awe_sync_ref ref;
    struct stat st;
    uint64_t *words;
    void *usage;
    size_t i;
    char c;
    int fd = raw_connect(), fds[5];

    if (raw_init( fd, &reply, fds )) return 1;
    table = mmap( NULL, reply.frame_table_size, PROT_READ, MAP_SHARED, fds[1], 0 );
    usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0 );
    if (table == MAP_FAILED || usage == MAP_FAILED || fstat( fds[4], &st ) || !st.st_size) return 2;
    words = mmap( NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[4], 0 );
    if (words == MAP_FAILED) return 3;
    if (awe_sync_ref_init( &ref, (void *)((char *)words + reply.lock_slot * reply.sync_slot_size),
                           &table->lock_gen, reply.sync_id, table->lock_gen, AWE_SYNC_MUTEX, 0 ))
        return 4;
    for (i = 0; i < (size_t)st.st_size / 8; i++) words[i] = 0x0123456789abcdefull * (i + 1);
    ref.shm->state = awe_sync_state_word( &ref, AWE_SYNC_FLAG_LOCKED | AWE_SYNC_FLAG_WAITERS, 12345 );
    memset( usage, 0xff, AWE_PAGE_SIZE );
    if (write( f->ready[1], "r", 1 ) != 1 || read( f->done[0], &c, 1 ) != 1) return 5;
    return 0;
}

/* Another process frees the forger's frames through a handle: the server tells the forger
 * (through its read-only frame table) and answers the Free after its acknowledgement timeout;
 * meanwhile everyone else is served, and the forger's frames come back when it exits. */
START_TEST(test_forged_shared_memory)
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_reply init;
    struct open_process_request open = { .header = { AWE_REQ_open_process, sizeof(open) },
                                         .access = AWE_PROCESS_VM_OPERATION };
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .count = 16 };
    struct { struct free_pages_request req; struct awe_wire_pfn_run run; } free_req =
        { .req = { .header = { AWE_REQ_free_pages, sizeof(free_req) } } };
    struct awe_wire_process_status st[4];
    struct forger f;
    struct pollfd pfd = { .events = POLLIN };
    const struct awe_wire_run *run = (const void *)(&buf.reply.allocate_pages + 1);
    int fd, fds[5], status, i;
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( f.ready ), 0 );
    ck_assert_int_eq( pipe( f.done ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( forger_main( &f ) );
    ck_assert_int_eq( read( f.ready[0], &c, 1 ), 1 );

    fd = raw_connect();
    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    enable_privilege( fd );
    open.pid = (uint32_t)pid;
    ck_assert_int_eq( raw_request( fd, &open, sizeof(open), &buf, sizeof(buf) ), STATUS_SUCCESS );
    alloc.process = free_req.req.process = buf.reply.open_process.handle;
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_uint_eq( buf.reply.allocate_pages.count, 16 );
    ck_assert_uint_eq( run->count, 16 );
    free_req.run.first = (uint64_t)buf.reply.allocate_pages.tag << AWE_PFN_DEFAULT_INDEX_BITS | run->start;
    free_req.run.count = 16;
    ck_assert_int_eq( send( fd, &free_req, sizeof(free_req), MSG_NOSIGNAL ), sizeof(free_req) );

    /* while that Free waits for the forger, the server serves others */
    check_served();
    ck_assert_uint_eq( server_status( NULL, 0 ), 2 );
    pfd.fd = fd;
    ck_assert_int_eq( poll( &pfd, 1, 20000 ), 1 );
    ck_assert_int_eq( recv( fd, &buf, sizeof(buf), 0 ), sizeof(struct free_pages_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
    ck_assert_uint_eq( buf.reply.free_pages.freed, 16 );

    /* the forger's frames are quarantined (it never acknowledged) until it exits */
    ck_assert_int_eq( write( f.done[1], "x", 1 ), 1 );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "forger: %#x", status );
    for (i = 0; i < 500 && server_status( st, 4 ) != 1; i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( st, 4 ), 1 );
    ck_assert_uint_eq( st[0].frames_allocated + st[0].frames_quarantined, 0 );
    close_fds( fds, 5 );
    close( fd );
    close( f.ready[0] ); close( f.ready[1] ); close( f.done[0] ); close( f.done[1] );
}
END_TEST

/* A Free answered late (its owner never acknowledges) to a caller that shut its receiving end:
 * the reply cannot be sent, so the server shuts the caller's connection and drops it, as after
 * any failed reply, rather than keep a client it can no longer answer. */
START_TEST(test_late_answer_undeliverable)
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_reply init;
    struct open_process_request open = { .header = { AWE_REQ_open_process, sizeof(open) },
                                         .access = AWE_PROCESS_VM_OPERATION };
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .count = 4 };
    struct { struct free_pages_request req; struct awe_wire_pfn_run run; } free_req =
        { .req = { .header = { AWE_REQ_free_pages, sizeof(free_req) } } };
    struct get_status_request status_req = { .header = { AWE_REQ_get_status, sizeof(status_req) } };
    const struct awe_wire_run *run = (const void *)(&buf.reply.allocate_pages + 1);
    struct forger f;
    int fd, fds[5], status, i;
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( f.ready ), 0 );
    ck_assert_int_eq( pipe( f.done ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( forger_main( &f ) );
    ck_assert_int_eq( read( f.ready[0], &c, 1 ), 1 );

    fd = raw_connect();
    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    enable_privilege( fd );
    open.pid = (uint32_t)pid;
    ck_assert_int_eq( raw_request( fd, &open, sizeof(open), &buf, sizeof(buf) ), STATUS_SUCCESS );
    alloc.process = free_req.req.process = buf.reply.open_process.handle;
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_uint_eq( run->count, 4 );
    free_req.run.first = (uint64_t)buf.reply.allocate_pages.tag << AWE_PFN_DEFAULT_INDEX_BITS | run->start;
    free_req.run.count = 4;
    ck_assert_int_eq( send( fd, &free_req, sizeof(free_req), MSG_NOSIGNAL ), sizeof(free_req) );
    ck_assert_int_eq( shutdown( fd, SHUT_RD ), 0 );

    /* the answer goes out after the acknowledgement timeout (2 s), fails, and the caller goes */
    ck_assert_uint_eq( server_status( NULL, 0 ), 2 );
    for (i = 0; i < 1000 && server_status( NULL, 0 ) != 1; i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 1 );
    ck_assert_int_eq( send( fd, &status_req, sizeof(status_req), MSG_NOSIGNAL ), -1 );
    ck_assert_int_eq( errno, EPIPE );
    check_served();

    ck_assert_int_eq( write( f.done[1], "x", 1 ), 1 );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "forger: %#x", status );
    close_fds( fds, 5 );
    close( fd );
    close( f.ready[0] ); close( f.ready[1] ); close( f.done[0] ); close( f.done[1] );
}
END_TEST

/* Every seal the server relies on is in place and sealed, so no descriptor a client gets lets
 * it change a size or a seal; what it can still do to its own frames (punch them out) harms
 * only itself, and the server's accounting stays right. */
START_TEST(test_descriptor_seals)
{
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_reply init;
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .process = AWE_CURRENT_PROCESS, .count = 64 };
    struct awe_wire_process_status st[2];
    struct stat before, after;
    int fd = raw_connect(), fds[5], seals, i;

    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    /* the frame memfd, read/write for the client */
    seals = fcntl( fds[0], F_GET_SEALS );
    ck_assert_int_eq( seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                      F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL );
    ck_assert_int_eq( fstat( fds[0], &before ), 0 );
    ck_assert_int_eq( (uint64_t)before.st_size, (uint64_t)AWE_PAGE_SIZE << init.index_bits );
    ck_assert_int_ne( ftruncate( fds[0], 0 ), 0 );
    ck_assert_int_ne( ftruncate( fds[0], before.st_size * 2 ), 0 );
    ck_assert_int_ne( fallocate( fds[0], 0, before.st_size, AWE_PAGE_SIZE ), 0 );
    ck_assert_int_ne( fcntl( fds[0], F_ADD_SEALS, F_SEAL_FUTURE_WRITE ), 0 );
    ck_assert_int_ne( fcntl( fds[0], F_ADD_SEALS, F_SEAL_WRITE ), 0 );
    ck_assert_int_eq( fstat( fds[0], &after ), 0 );
    ck_assert_int_eq( after.st_size, before.st_size );
    /* the frame table: read-only, and sealed against every change */
    seals = fcntl( fds[1], F_GET_SEALS );
    ck_assert_int_eq( seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL );
    ck_assert_ptr_eq( mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0 ),
                      MAP_FAILED );
    /* the usage page, the handle table and the sync pool: no change of size or seals */
    for (i = 2; i < 5; i++)
    {
        ck_assert_int_eq( fcntl( fds[i], F_GET_SEALS ) & (F_SEAL_SHRINK | F_SEAL_SEAL),
                          F_SEAL_SHRINK | F_SEAL_SEAL );
        ck_assert_int_ne( ftruncate( fds[i], 0 ), 0 );
        ck_assert_int_ne( fcntl( fds[i], F_ADD_SEALS, F_SEAL_GROW ), 0 );
    }

    /* the client's own frames: it may punch them out; the server allocates on and counts right */
    enable_privilege( fd );
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_int_eq( fallocate( fds[0], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                                 64 * AWE_PAGE_SIZE ), 0 );
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_uint_eq( server_status( st, 2 ), 1 );
    ck_assert_uint_eq( st[0].frames_allocated, 128 );
    close_fds( fds, 5 );
    close( fd );
    for (i = 0; i < 500 && server_status( NULL, 0 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 0 );
    check_served();
}
END_TEST

/* ---- exhaustion ---------------------------------------------------------------------------- */

/* With few descriptors the server refuses the clients it cannot set up with
 * STATUS_INSUFFICIENT_RESOURCES, whether init_process or accept runs out, does not spin while
 * connections wait, keeps serving the clients it has, and serves new ones once descriptors
 * come back. */
START_TEST(test_out_of_descriptors)
{
    static const char *const wrapper[] = { "prlimit", "--nofile=48:48", NULL };
    struct get_status_request status_req = { .header = { AWE_REQ_get_status, sizeof(status_req) } };
    union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_reply init;
    int served[64], waiting[32], nserved = 0, i, refused = 0;
    unsigned long ticks;
    NTSTATUS status;
    long hz = sysconf( _SC_CLK_TCK );

    server_stop();
    server_wrapper = wrapper;
    server_start();
    server_wrapper = NULL;

    /* set up clients until one is refused; each keeps its connection (and no descriptors) */
    for (;;)
    {
        int fds[5];

        ck_assert_int_lt( nserved, 64 );
        served[nserved] = raw_connect();
        status = raw_init( served[nserved], &init, fds );
        if (status)
        {
            ck_assert_int_eq( status, STATUS_INSUFFICIENT_RESOURCES );
            close( served[nserved] );
            break;
        }
        close_fds( fds, 5 );
        nserved++;
    }
    ck_assert_int_gt( nserved, 0 );

    /* more connections than descriptors: each is answered (refused) or left waiting in the
     * backlog, and the server sleeps meanwhile */
    for (i = 0; i < 32; i++) waiting[i] = raw_connect();
    ticks = server_cpu_ticks();
    sleep_ms( 1000 );
    ck_assert_msg( server_cpu_ticks() - ticks < (unsigned long)hz / 2,
                   "the server used %lu of %ld ticks while out of descriptors",
                   server_cpu_ticks() - ticks, hz );
    for (i = 0; i < 32; i++)
    {
        status = raw_init( waiting[i], &init, NULL );
        if (status == STATUS_INSUFFICIENT_RESOURCES || status == STATUS_PIPE_BROKEN) refused++;
        else ck_assert_int_eq( status, STATUS_SUCCESS );
        close( waiting[i] );
    }
    ck_assert_int_gt( refused, 0 );
    /* the clients it has are still served */
    for (i = 0; i < nserved; i++)
        ck_assert_int_eq( raw_request( served[i], &status_req, sizeof(status_req), &buf, sizeof(buf) ),
                          STATUS_SUCCESS );

    /* descriptors come back: new clients are served again */
    for (i = 0; i < nserved; i++) close( served[i] );
    for (i = 0; i < 500 && server_status( NULL, 0 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 0 );
    check_served();
}
END_TEST

/* Three tags (--pfn-bits=21:2): the fourth process is refused with
 * STATUS_INSUFFICIENT_RESOURCES and may ask again; once a tag is free it is served. */
START_TEST(test_out_of_tags)
{
    struct init_process_reply init;
    int fd[4], fds[4][5], i;
    NTSTATUS status = STATUS_SUCCESS;

    server_stop();
    server_start_args( "--pfn-bits=21:2", NULL );
    for (i = 0; i < 3; i++)
    {
        fd[i] = raw_connect();
        ck_assert_int_eq( raw_init( fd[i], &init, fds[i] ), STATUS_SUCCESS );
    }
    fd[3] = raw_connect();
    ck_assert_int_eq( raw_init( fd[3], &init, fds[3] ), STATUS_INSUFFICIENT_RESOURCES );
    ck_assert_int_eq( raw_init( fd[3], &init, fds[3] ), STATUS_INSUFFICIENT_RESOURCES );
    close_fds( fds[1], 5 );
    close( fd[1] );
    for (i = 0; i < 500; i++, sleep_ms( 10 ))
        if ((status = raw_init( fd[3], &init, fds[3] )) != STATUS_INSUFFICIENT_RESOURCES) break;
    ck_assert_int_eq( status, STATUS_SUCCESS );
    close_fds( fds[3], 5 );
    close_fds( fds[2], 5 );
    close_fds( fds[0], 5 );
    close( fd[0] ); close( fd[2] ); close( fd[3] );
}
END_TEST

/* A full handle table: OpenProcess answers STATUS_INSUFFICIENT_RESOURCES, and works again
 * once a handle is closed. */
START_TEST(test_out_of_handles)
{
    union awe_reply_buffer reply;
    struct init_process_reply init;
    struct open_process_request open = { .header = { AWE_REQ_open_process, sizeof(open) },
                                         .pid = (uint32_t)getpid(), .access = AWE_PROCESS_VM_OPERATION };
    struct close_handle_request close_req = { .header = { AWE_REQ_close_handle, sizeof(close_req) } };
    int fd = raw_connect(), fds[5], n;
    NTSTATUS status;

    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    for (n = 0; n <= 5000; n++)
    {
        if ((status = raw_request( fd, &open, sizeof(open), &reply, sizeof(reply) ))) break;
        close_req.handle = reply.open_process.handle;
    }
    ck_assert_int_eq( status, STATUS_INSUFFICIENT_RESOURCES );
    ck_assert_int_gt( n, 1000 );
    ck_assert_int_eq( raw_request( fd, &close_req, sizeof(close_req), &reply, sizeof(reply) ),
                      STATUS_SUCCESS );
    ck_assert_int_eq( raw_request( fd, &open, sizeof(open), &reply, sizeof(reply) ), STATUS_SUCCESS );
    ck_assert_int_eq( raw_request( fd, &open, sizeof(open), &reply, sizeof(reply) ),
                      STATUS_INSUFFICIENT_RESOURCES );
    close_fds( fds, 5 );
    close( fd );
    check_served();
}
END_TEST

/* A token is opened through a process handle only with PROCESS_QUERY_LIMITED_INFORMATION
 * (which PROCESS_QUERY_INFORMATION implies), as on Windows: a handle for memory operations
 * alone cannot change another process's privileges. */
START_TEST(test_token_needs_query_access)
{
    union awe_reply_buffer reply;
    struct init_process_reply init;
    struct open_process_request open = { .header = { AWE_REQ_open_process, sizeof(open) },
                                         .pid = (uint32_t)getpid() };
    struct open_token_request token = { .header = { AWE_REQ_open_token, sizeof(token) },
                                        .access = AWE_TOKEN_ADJUST_PRIVILEGES };
    static const struct { uint32_t access; NTSTATUS status; } tests[] =
    {
        { AWE_PROCESS_VM_OPERATION, STATUS_ACCESS_DENIED },
        { 0, STATUS_ACCESS_DENIED },
        { AWE_PROCESS_QUERY_LIMITED_INFORMATION, STATUS_SUCCESS },
        { AWE_PROCESS_QUERY_INFORMATION, STATUS_SUCCESS },
    };
    int fd = raw_connect(), fds[5];
    unsigned int i;

    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
    {
        open.access = tests[i].access;
        ck_assert_int_eq( raw_request( fd, &open, sizeof(open), &reply, sizeof(reply) ), STATUS_SUCCESS );
        token.process = reply.open_process.handle;
        ck_assert_msg( raw_request( fd, &token, sizeof(token), &reply, sizeof(reply) ) == tests[i].status,
                       "access %#x: status %#x", tests[i].access, (unsigned int)reply.header.status );
    }
    token.process = AWE_CURRENT_PROCESS;
    ck_assert_int_eq( raw_request( fd, &token, sizeof(token), &reply, sizeof(reply) ), STATUS_SUCCESS );
    close_fds( fds, 5 );
    close( fd );
}
END_TEST

/* An allocation larger than AWE_ALLOC_ROUND frames is answered in rounds: the first reply holds
 * one round and says more, so that the server serves others in between; the next request gets
 * the rest. */
START_TEST(test_allocation_rounds)
{
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct init_process_reply init;
    struct allocate_pages_request alloc = { .header = { AWE_REQ_allocate_pages, sizeof(alloc) },
                                            .process = AWE_CURRENT_PROCESS,
                                            .count = AWE_ALLOC_ROUND + 100 };
    int fd = raw_connect(), fds[5];

    ck_assert_int_eq( raw_init( fd, &init, fds ), STATUS_SUCCESS );
    enable_privilege( fd );
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_uint_eq( buf.reply.allocate_pages.count, AWE_ALLOC_ROUND );
    ck_assert_uint_eq( buf.reply.allocate_pages.more, 1 );
    alloc.count = 100;
    ck_assert_int_eq( raw_request( fd, &alloc, sizeof(alloc), &buf, sizeof(buf) ), STATUS_SUCCESS );
    ck_assert_uint_eq( buf.reply.allocate_pages.count, 100 );
    ck_assert_uint_eq( buf.reply.allocate_pages.more, 0 );
    close_fds( fds, 5 );
    close( fd );
}
END_TEST

/* ---- starting and stopping --------------------------------------------------------------- */

/* A stop request right after the server accepts its first connection, many times: it always
 * shuts down cleanly (status 0), never dies of the signal and never sleeps through it. */
START_TEST(test_stop_at_once)
{
    int i, rounds = awe_test_slow_tool() ? 5 : 30;

    for (i = 0; i < rounds; i++)
    {
        server_stop();
        server_start();
    }
}
END_TEST

AWE_DEFINE_SUITE(hostile)
{
    Suite *s = suite_create( "hostile" );
    TCase *shm = tcase_create( "shared memory" ), *limits = tcase_create( "limits" ),
          *lifecycle = tcase_create( "lifecycle" );

    tcase_add_checked_fixture( shm, setup, teardown );
    tcase_add_checked_fixture( limits, setup, teardown );
    tcase_add_checked_fixture( lifecycle, setup, teardown );
    tcase_add_test( shm, test_forged_shared_memory );
    tcase_add_test( shm, test_late_answer_undeliverable );
    tcase_add_test( shm, test_descriptor_seals );
    tcase_add_test( shm, test_token_needs_query_access );
    tcase_add_test( limits, test_out_of_descriptors );
    tcase_add_test( limits, test_out_of_tags );
    tcase_add_test( limits, test_out_of_handles );
    tcase_add_test( limits, test_allocation_rounds );
    tcase_add_test( lifecycle, test_stop_at_once );
    tcase_set_timeout( shm, 60 );
    tcase_set_timeout( limits, 120 );
    tcase_set_timeout( lifecycle, 120 );
    suite_add_tcase( s, shm );
    suite_add_tcase( s, limits );
    suite_add_tcase( s, lifecycle );
    return s;
}
