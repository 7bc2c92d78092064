/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzing the server's request decoding and dispatch, in process, with fake client processes.
 *
 * The server's objects are linked without main.c; the few things main.c gives the other files
 * are defined here: the options, a log that formats and discards, the epoll registration (on
 * an epoll descriptor of our own) and a clock that only the input moves.  Each fake client is
 * a process object over a socketpair whose other end we keep: replies are read from it and
 * checked, and init_process's descriptors are mapped as a client would (so that inputs can
 * acknowledge, scribble on their sync objects or grow their memfd).  fuzz/fuzz.h gives the
 * input format.  After every input every process is disconnected and released, and the
 * harness checks that nothing is left: no process, no pending Free, no frame, no descriptor. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "server_side/server.h"
#include "awe/rights.h"
#include "fuzz/fuzz.h"

/* ---- what main.c provides to the rest of the server --------------------------------------- */

struct server_options options;

static int epoll_fd = -1;
static uint64_t fake_now = 1000000;   /* ms; moved by TIME records only */
static struct rlimit memlock;         /* RLIMIT_MEMLOCK as we found it */

void server_log( const char *fmt, ... )
{
    char buf[1024];
    va_list args;

    va_start( args, fmt );
    vsnprintf( buf, sizeof(buf), fmt, args );
    va_end( args );
    if (fuzz_verbose()) dprintf( 2, "awe-server: %s\n", buf );
}

int watch_fd( int fd, struct process *process )
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = process };
    return epoll_ctl( epoll_fd, EPOLL_CTL_ADD, fd, &ev ) ? -errno : 0;
}

void unwatch_fd( int fd )
{
    epoll_ctl( epoll_fd, EPOLL_CTL_DEL, fd, NULL );
}

uint64_t monotonic_ms( void )
{
    return fake_now;
}

/* ---- fake clients ----------------------------------------------------------------------- */

struct fake_client
{
    struct process         *process;     /* NULL while not connected */
    int                     peer;        /* our end of the connection */
    uint32_t                tag;         /* from init_process, 0 before */
    int                     memfd;       /* the frame memfd we were given, -1 */
    struct awe_frame_table *table;       /* read-only mapping of our frame table */
    size_t                  table_size;
    struct awe_usage       *usage;       /* our usage page, read-write */
    char                   *sync;        /* our sync pool, read-write */
    size_t                  sync_size;
    uint32_t                sync_slot_size, lock_slot;
    uint64_t                sync_id;
};

static struct fake_client clients[FUZZ_SRV_CLIENTS];

/* Takes the descriptors of a successful init_process reply and maps what a client maps. */
static void take_init_reply( struct fake_client *c, const struct init_process_reply *reply,
                             const int *fds )
{
    struct awe_slab_geometry sync_geo = { reply->sync_slot_size, reply->sync_max_slots,
                                          reply->sync_block_size, reply->sync_flags };
    size_t sync_bytes = (size_t)sync_geo.slot_size * sync_geo.max_slots;
    void *ptr;
    int i;

    FUZZ_CHECK( !c->tag && c->memfd < 0, "a second init_process reply" );
    FUZZ_CHECK( reply->tag && reply->index_bits == FUZZ_SRV_INDEX_BITS &&
                reply->tag_bits == FUZZ_SRV_TAG_BITS, "tag %u, layout %u:%u", reply->tag,
                reply->index_bits, reply->tag_bits );
    FUZZ_CHECK( sync_geo.block_size && !(sync_geo.block_size & (sync_geo.block_size - 1)),
                "sync block size %u", sync_geo.block_size );
    c->tag = reply->tag;
    c->memfd = fds[0];
    c->table_size = reply->frame_table_size;
    c->table = mmap( NULL, c->table_size, PROT_READ, MAP_SHARED, fds[1], 0 );
    FUZZ_CHECK( c->table != MAP_FAILED, "frame table: %s", strerror( errno ) );
    /* what the server publishes read-only must stay so, through any mapping */
    ptr = mmap( NULL, c->table_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0 );
    FUZZ_CHECK( ptr == MAP_FAILED, "the frame table can be mapped writable" );
    ptr = mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[3], 0 );
    FUZZ_CHECK( ptr == MAP_FAILED, "the handle table can be mapped writable" );
    c->usage = mmap( NULL, AWE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0 );
    FUZZ_CHECK( c->usage != MAP_FAILED, "usage page: %s", strerror( errno ) );
    c->sync_size = (sync_bytes + sync_geo.block_size - 1) & ~((size_t)sync_geo.block_size - 1);
    c->sync = mmap( NULL, c->sync_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[4], 0 );
    FUZZ_CHECK( c->sync != MAP_FAILED, "sync pool: %s", strerror( errno ) );
    c->sync_slot_size = sync_geo.slot_size;
    c->lock_slot = reply->lock_slot;
    c->sync_id = reply->sync_id;
    FUZZ_CHECK( (size_t)(c->lock_slot + 1) * c->sync_slot_size <= c->sync_size,
                "sync slot %u", c->lock_slot );
    for (i = 1; i < 5; i++) close( fds[i] );
}

/* Reads and checks every reply waiting on a client's connection. */
static void drain_client( struct fake_client *c )
{
    static union { struct awe_reply_header header; char bytes[AWE_MAX_MESSAGE + 1]; } buf;
    char control[CMSG_SPACE(16 * sizeof(int))];
    struct iovec iov = { buf.bytes, sizeof(buf.bytes) };
    struct msghdr msg;
    struct cmsghdr *cmsg;
    int fds[16], nfds, i;
    ssize_t len;

    if (c->peer < 0) return;
    for (;;)
    {
        memset( &msg, 0, sizeof(msg) );
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        if ((len = recvmsg( c->peer, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC )) <= 0) break;
        nfds = 0;
        for (cmsg = CMSG_FIRSTHDR( &msg ); cmsg; cmsg = CMSG_NXTHDR( &msg, cmsg ))
        {
            size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
            for (i = 0; i < (int)n && nfds < 16; i++)
                memcpy( &fds[nfds++], CMSG_DATA( cmsg ) + i * sizeof(int), sizeof(int) );
        }
        FUZZ_CHECK( !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), "reply flags %x", msg.msg_flags );
        FUZZ_CHECK( (size_t)len >= sizeof(buf.header) && buf.header.size == (size_t)len &&
                    (size_t)len <= AWE_MAX_MESSAGE, "reply of %zd bytes says %u", len,
                    (size_t)len >= sizeof(buf.header) ? buf.header.size : 0 );
        FUZZ_CHECK( buf.header.status != STATUS_PENDING && buf.header.status != PROTOCOL_ERROR,
                    "status %08x on the wire", (unsigned int)buf.header.status );
        if (fuzz_verbose())
            dprintf( 2, "client %d: reply %08x, %zd bytes, %d descriptors\n", (int)(c - clients),
                     (unsigned int)buf.header.status, len, nfds );
        if (!nfds) continue;
        if (nfds == 2 && (size_t)len == sizeof(struct create_section_reply))
        {
            /* a section's memfd and table: the client keeps them; here they only must not leak */
            FUZZ_CHECK( buf.header.status == STATUS_SUCCESS, "descriptors with a failure" );
            for (i = 0; i < nfds; i++) close( fds[i] );
            continue;
        }
        FUZZ_CHECK( nfds == 5 && (size_t)len == sizeof(struct init_process_reply) &&
                    buf.header.status == STATUS_SUCCESS, "%d descriptors with a reply of %zd bytes",
                    nfds, len );
        take_init_reply( c, (const struct init_process_reply *)buf.bytes, fds );
    }
}

static void drain_all( void )
{
    int i;

    for (i = 0; i < FUZZ_SRV_CLIENTS; i++) drain_client( &clients[i] );
}

static struct fake_client *connect_client( int n )
{
    struct fake_client *c = &clients[n];
    int sv[2];

    if (c->process) return c;
    if (socketpair( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv )) return NULL;
    /* the server's end is non-blocking, as accept4( SOCK_NONBLOCK ) makes it */
    fcntl( sv[0], F_SETFL, O_NONBLOCK );
    memset( c, 0, sizeof(*c) );
    c->memfd = -1;
    c->peer = sv[1];
    if (!(c->process = create_process( sv[0], FUZZ_SRV_PID_BASE + n )))
    {
        close( sv[0] );
        close( sv[1] );
        c->peer = -1;
        return NULL;
    }
    if (watch_fd( sv[0], c->process ))
    {
        disconnect_process( c->process );
        c->process = NULL;
    }
    return c->process ? c : NULL;
}

/* Forgets a client whose process the server disconnected: reads what is left, unmaps. */
static void forget_client( struct fake_client *c )
{
    drain_client( c );
    if (c->peer >= 0) close( c->peer );
    if (c->memfd >= 0) close( c->memfd );
    if (c->table) munmap( c->table, c->table_size );
    if (c->usage) munmap( c->usage, AWE_PAGE_SIZE );
    if (c->sync) munmap( c->sync, c->sync_size );
    memset( c, 0, sizeof(*c) );
    c->peer = c->memfd = -1;
}

/* The server's event loop drops a client: as run() does, with a reference held meanwhile. */
static void drop_client( struct fake_client *c )
{
    struct process *process = c->process;

    process->refs++;
    if (process->fd >= 0) disconnect_process( process );
    release_process( process );
    c->process = NULL;
    drain_all();   /* cancelled Frees were answered */
    forget_client( c );
}

/* Checks one pool: its published bits, its allocator and its counts agree. */
static void check_pool( const struct frame_pool *pool, pid_t pid, const char *what )
{
    uint32_t max = 1u << FUZZ_SRV_INDEX_BITS, i;
    uint64_t bits = 0;

    if (!pool->frames_ready) return;
    for (i = 0; i < max / 64; i++)
        bits += (uint64_t)__builtin_popcountll( atomic_load( &pool->table->bits[i] ) );
    FUZZ_CHECK( bits == pool->owned, "pid %d %s: %llu bits set, %llu frames owned", (int)pid, what,
                (unsigned long long)bits, (unsigned long long)pool->owned );
    FUZZ_CHECK( (uint64_t)pool->frames.in_use * pool->unit == pool->owned + pool->quarantined,
                "pid %d %s: %u units of %u allocated, %llu owned, %llu quarantined", (int)pid, what,
                pool->frames.in_use, pool->unit, (unsigned long long)pool->owned,
                (unsigned long long)pool->quarantined );
}

/* Checks what must hold between any two events: every frame is accounted for. */
static void check_processes( void )
{
    const struct process *process;
    const struct section *section;
    uint64_t held = 0;

    for (process = process_list; process; process = process->next)
    {
        uint64_t in_sections = 0;

        held += process->pool.owned + process->pool.quarantined + process->section_frames;
        check_pool( &process->pool, process->pid, "frames" );
        for (section = section_list; section; section = section->next)
            if (section->owner == process) in_sections += section->pool.owned;
        FUZZ_CHECK( in_sections == process->section_frames, "pid %d: %llu frames in sections, %llu charged",
                    (int)process->pid, (unsigned long long)in_sections,
                    (unsigned long long)process->section_frames );
        FUZZ_CHECK( !options.quota_frames ||
                    process->pool.owned + process->pool.quarantined + process->section_frames <= options.quota_frames,
                    "pid %d over its quota", (int)process->pid );
    }
    for (section = section_list; section; section = section->next)
    {
        FUZZ_CHECK( section->refs && section->owner->fd >= 0, "a section outlives its owner's handles" );
        check_pool( &section->pool, section->owner->pid, "section" );
    }
    FUZZ_CHECK( held == pages_held_frames(), "held frames" );
    FUZZ_CHECK( !options.limit_frames || held <= options.limit_frames, "%llu frames held",
                (unsigned long long)held );
}

/* Hands one message to the server as its event loop would after recvmsg. */
static void deliver( struct fake_client *c, const void *bytes, size_t len )
{
    struct process *process = c->process;
    void *msg = malloc( len ? len : 1 );   /* exactly len bytes: reading beyond is a bug */
    int ret;

    if (!msg) return;
    memcpy( msg, bytes, len );
    process->refs++;
    ret = dispatch_message( process, msg, len, 0 );
    release_process( process );
    free( msg );
    drain_all();
    if (ret) drop_client( c );
}

/* ---- records ----------------------------------------------------------------------------- */

static union { struct awe_request_header header; char bytes[AWE_MAX_MESSAGE + 64]; } out;

static void do_raw( struct fake_client *c, struct fuzz_input *in )
{
    size_t len = fuzz_u16( in );

    fuzz_bytes( in, out.bytes, len );
    deliver( c, out.bytes, len );
}

static void do_raw_big( struct fake_client *c, struct fuzz_input *in )
{
    size_t len = AWE_MAX_MESSAGE - 16 + fuzz_u8( in ) % 32;

    fuzz_bytes( in, out.bytes, sizeof(out.header) );
    memset( out.bytes + sizeof(out.header), fuzz_u8( in ), len - sizeof(out.header) );
    deliver( c, out.bytes, len );
}

static const size_t request_sizes[AWE_REQ_COUNT] =
{
#define SIZE(name) sizeof(struct name##_request),
    AWE_REQUESTS(SIZE)
#undef SIZE
};

static void do_request( struct fake_client *c, struct fuzz_input *in )
{
    uint32_t req = fuzz_u8( in );
    size_t len = req < AWE_REQ_COUNT ? request_sizes[req] : sizeof(out.header);

    fuzz_bytes( in, out.bytes + sizeof(out.header), len - sizeof(out.header) );
    if (req < AWE_REQ_COUNT && (AWE_VARARG_REQUESTS & (1u << req)))
    {
        size_t record = req == AWE_REQ_free_pages ? sizeof(struct awe_wire_pfn_run)
                                                  : sizeof(struct awe_wire_privilege);
        size_t n = fuzz_u8( in );
        fuzz_bytes( in, out.bytes + len, n * record );
        len += n * record;
    }
    out.header.req = req;
    out.header.size = (uint32_t)len;
    deliver( c, out.bytes, len );
}

static uint32_t read_handle( struct fuzz_input *in )
{
    uint8_t sel = fuzz_u8( in );

    if (!sel) return AWE_CURRENT_PROCESS;
    if (sel <= 16) return awe_handle_encode( sel - 1u, 1 );
    return fuzz_u32( in );
}

static void do_free( struct fake_client *c, struct fuzz_input *in )
{
    struct free_pages_request *req = (void *)out.bytes;
    struct awe_wire_pfn_run *runs = (void *)(req + 1), specs[16];
    size_t max = (sizeof(out.bytes) - sizeof(*req)) / sizeof(*runs), nspecs, n, i;
    unsigned int repeat;

    memset( req, 0, sizeof(*req) );
    req->process = read_handle( in );
    nspecs = fuzz_u8( in ) % 16 + 1;
    for (i = 0; i < nspecs; i++)
    {
        uint8_t sel = fuzz_u8( in );
        uint32_t tag = sel < FUZZ_SRV_CLIENTS ? clients[sel].tag : sel == FUZZ_SRV_CLIENTS ? fuzz_u8( in ) : c->tag;
        uint32_t index = fuzz_u16( in ), count = fuzz_u16( in );

        specs[i].first = ((uint64_t)tag << FUZZ_SRV_INDEX_BITS) + index;
        specs[i].count = count == 0xffff ? ~(uint64_t)0 : count;
    }
    repeat = fuzz_u16( in ) % 4200 + 1;
    for (n = 0; n < max && n < nspecs * repeat; n++) runs[n] = specs[n % nspecs];
    req->header.req = AWE_REQ_free_pages;
    req->header.size = (uint32_t)(sizeof(*req) + n * sizeof(*runs));
    deliver( c, out.bytes, req->header.size );
}

static void do_open( struct fake_client *c, struct fuzz_input *in )
{
    struct open_process_request req = { .header = { AWE_REQ_open_process, sizeof(req) } };
    uint8_t target = fuzz_u8( in ), access = fuzz_u8( in );

    req.pid = FUZZ_SRV_PID_BASE + target % FUZZ_SRV_CLIENTS;
    req.access = access == 0 ? AWE_PROCESS_VM_OPERATION : access == 1 ? 0x1fffff : access == 2 ? 0 : fuzz_u32( in );
    deliver( c, &req, sizeof(req) );
}

static void do_disconnect( struct fake_client *c, struct fuzz_input *in )
{
    struct process *process = c->process;

    if (fuzz_u8( in ) & 1)
    {
        drop_client( c );
        return;
    }
    /* the client goes away: the server reads the end of file */
    drain_client( c );
    close( c->peer );
    c->peer = -1;
    process->refs++;
    if (serve_connection( process )) disconnect_process( process );
    FUZZ_CHECK( process->fd < 0, "the end of file did not disconnect pid %d", (int)process->pid );
    release_process( process );
    c->process = NULL;
    drain_all();
    forget_client( c );
}

/* The client's notification thread: usage counters written, then ack_unmap (no reply) with
 * the announced sequence or any other. */
static void do_ack( struct fake_client *c, struct fuzz_input *in )
{
    uint8_t mode = fuzz_u8( in );
    uint32_t seq = mode & 1 ? fuzz_u32( in ) : c->table ? atomic_load( &c->table->notify_seq ) : 0;
    uint64_t mapped = fuzz_u64( in ), vmas = fuzz_u64( in );
    struct ack_unmap_request req = { .header = { AWE_REQ_ack_unmap, sizeof(req) }, .seq = seq };

    if (!c->usage || !c->process || c->process->fd < 0) return;
    atomic_store( &c->usage->mapped_pages, mapped );
    atomic_store( &c->usage->vmas, vmas );
    c->process->refs++;
    if (dispatch_message( c->process, &req, sizeof(req), 0 )) disconnect_process( c->process );
    release_process( c->process );
    drain_all();
}

static void do_time( struct fuzz_input *in )
{
    int timeout;

    fake_now += fuzz_u16( in );
    /* the event loop's turn: how long it may sleep, then the Frees that waited too long */
    timeout = pending_timeout();
    FUZZ_CHECK( timeout >= -1 && timeout <= 2000, "pending timeout %d ms", timeout );
    expire_pending();
    drain_all();
}

/* Whatever the client writes into its sync pool (the AWE lock: a validly hashed word with any
 * flags, LOCKED included, or garbage): the server never reads it. */
static void do_scribble( struct fake_client *c, struct fuzz_input *in )
{
    uint8_t what = fuzz_u8( in ), mode = fuzz_u8( in );
    _Atomic uint64_t *word;
    uint64_t value;

    if (mode & 1)
    {
        unsigned int flags = fuzz_u8( in ) & 0xf;
        uint32_t data = fuzz_u32( in );

        value = c->table ? fuzz_sync_word( c->sync_id, c->table->lock_gen, flags, data ) : 0;
    }
    else value = fuzz_u64( in );
    if (!c->sync) return;
    word = (_Atomic uint64_t *)(c->sync + (size_t)c->lock_slot * c->sync_slot_size) + ((what & 2) ? 1 : 0);
    atomic_store( word, value );
}

static void do_memfd( struct fake_client *c, struct fuzz_input *in )
{
    uint8_t mode = fuzz_u8( in ) % 3;
    off_t a = (off_t)fuzz_u16( in ) << AWE_PAGE_SHIFT, b = (off_t)fuzz_u16( in ) << AWE_PAGE_SHIFT;
    char junk = 0x5a;

    if (c->memfd < 0) return;
    /* a hostile client's doings with its own memory: harmful to itself only */
    if (!mode) (void)!ftruncate( c->memfd, a );
    else if (mode == 1) fallocate( c->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b );
    else (void)!pwrite( c->memfd, &junk, 1, a );
}

static void do_socket( struct fake_client *c, struct fuzz_input *in )
{
    AWE_RIGHTS_BUFFER(24) control;
    int nfds = fuzz_u8( in ) % 24, fds[24], fd = eventfd( 0, EFD_CLOEXEC ), i;
    size_t len = fuzz_u16( in );
    struct iovec iov = { out.bytes, len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct process *process = c->process;
    int ret;

    fuzz_bytes( in, out.bytes, len );
    if (fd < 0) return;
    for (i = 0; i < nfds; i++) fds[i] = fd;
    awe_attach_rights( &msg, &control, fds, nfds );
    ret = (int)sendmsg( c->peer, &msg, MSG_NOSIGNAL | MSG_DONTWAIT );
    close( fd );
    if (ret < 0) return;
    process->refs++;
    ret = serve_connection( process );
    release_process( process );
    drain_all();
    if (ret) drop_client( c );
}

/* ---- the harness ------------------------------------------------------------------------ */

int LLVMFuzzerInitialize( int *argc, char ***argv )
{
    fuzz_quiet_stderr();
    awe_pfn_layout_init( &options.layout, FUZZ_SRV_INDEX_BITS, FUZZ_SRV_TAG_BITS );
    options.exit_delay = 3;
    /* large sections' units fit the 128 frames a process has here, so that their allocation,
     * free and reply paths are fuzzed too, not only their refusal */
    options.large_unit = FUZZ_SRV_LARGE_UNIT;
    getrlimit( RLIMIT_MEMLOCK, &memlock );
    epoll_fd = epoll_create1( EPOLL_CLOEXEC );
    FUZZ_CHECK( epoll_fd >= 0, "epoll_create1: %s", strerror( errno ) );
    memset( clients, 0, sizeof(clients) );
    for (int i = 0; i < FUZZ_SRV_CLIENTS; i++) clients[i].peer = clients[i].memfd = -1;
    fuzz_start_fds();
    return 0;
}

static void configure( uint8_t cfg )
{
    struct rlimit limit = memlock;

    /* a lower limit than the machine's (never a higher one): the server locks what it can */
    if ((cfg & FUZZ_SRV_CFG_MEMLOCK) && (limit.rlim_cur == RLIM_INFINITY ||
                                         limit.rlim_cur > (FUZZ_SRV_MEMLOCK << AWE_PAGE_SHIFT)))
        limit.rlim_cur = FUZZ_SRV_MEMLOCK << AWE_PAGE_SHIFT;
    setrlimit( RLIMIT_MEMLOCK, &limit );
    options.grant_lock = !(cfg & FUZZ_SRV_CFG_NO_GRANT);
    options.quota_frames = cfg & FUZZ_SRV_CFG_QUOTA ? FUZZ_SRV_QUOTA : 0;
    options.limit_frames = cfg & FUZZ_SRV_CFG_NO_LIMIT ? 0 : FUZZ_SRV_LIMIT;
    options.reserve_frames = cfg & FUZZ_SRV_CFG_RESERVE ? (uint64_t)1 << 40 :
                             cfg & FUZZ_SRV_CFG_SMALL_RES ? 1 : 0;
    options.unlocked = !!(cfg & FUZZ_SRV_CFG_UNLOCKED);
    options.large_pages = AWE_LARGE_EMULATE;   /* the host's huge pages are not the input's to choose */
    options.debug = !!(cfg & FUZZ_SRV_CFG_DEBUG);
}

int LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
    struct fuzz_input in = { data, size, 0 };
    struct process *process, *next;
    int ops, i;

    configure( fuzz_u8( &in ) );
    for (ops = 0; ops < FUZZ_SRV_MAX_OPS && fuzz_more( &in ); ops++)
    {
        uint8_t op = fuzz_u8( &in );
        struct fake_client *c = connect_client( op % FUZZ_SRV_CLIENTS );

        if (!c) break;
        switch ((op >> 2) % FUZZ_SRV_ACTIONS)
        {
        case FUZZ_SRV_RAW:        do_raw( c, &in ); break;
        case FUZZ_SRV_RAW_BIG:    do_raw_big( c, &in ); break;
        case FUZZ_SRV_REQ:        do_request( c, &in ); break;
        case FUZZ_SRV_FREE:       do_free( c, &in ); break;
        case FUZZ_SRV_OPEN:       do_open( c, &in ); break;
        case FUZZ_SRV_DISCONNECT: do_disconnect( c, &in ); break;
        case FUZZ_SRV_ACK:        do_ack( c, &in ); break;
        case FUZZ_SRV_TIME:       do_time( &in ); break;
        case FUZZ_SRV_SCRIBBLE:   do_scribble( c, &in ); break;
        case FUZZ_SRV_MEMFD:      do_memfd( c, &in ); break;
        case FUZZ_SRV_SOCKET:     do_socket( c, &in ); break;
        }
        check_processes();
    }

    /* everyone leaves; then nothing may be left */
    for (i = 0; i < FUZZ_SRV_CLIENTS; i++) if (clients[i].process) drop_client( &clients[i] );
    for (process = process_list; process; process = next)
    {
        next = process->next;
        FUZZ_CHECK( 0, "pid %d (refs %u, fd %d) outlived every client", (int)process->pid,
                    process->refs, process->fd );
    }
    FUZZ_CHECK( pending_timeout() < 0, "a Free still waits" );
    FUZZ_CHECK( !pages_held_frames(), "frames held" );
    free_tags();
    fuzz_check_fds( 1 );
    return 0;
}
