/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzing the client library's reading of replies: whatever the server answers, a call
 * returns, writes nothing outside the caller's arrays and reports no more than it asked for.
 *
 * The library is attached locally (awe_client_attach_local) over a frame table the harness
 * describes, with a handle table of the harness's, and its connection is one end of a
 * socketpair whose other end the harness holds: the input's replies are queued there before
 * each call, which reads them as the server's answers, and the requests the call sent are read
 * back and checked.  ATTACH runs the real attachment (awe_server_attach): connect() is wrapped
 * (-Wl,--wrap=connect) to hand over a socketpair on which the harness queued an init_process
 * reply with descriptors of its choosing, and pthread_create is wrapped to keep the
 * notification thread from starting, so the attachment can be undone at once.  No real
 * connect ever happens, so no server is ever started.  fuzz/fuzz.h gives the input format. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "ntdll_side/ntdll_private.h"
#include "awe/rights.h"
#include "fuzz/fuzz.h"

#define FUZZ_CLI_INIT_FDS 5      /* descriptors of an init_process reply */

/* Known bugs the inputs are steered around unless AWE_FUZZ_KNOWN_BUGS lets them through. */
#define FUZZ_KNOWN_ALLOC_RUNS    0x1   /* Allocate writes every frame of the reply's runs */
#define FUZZ_KNOWN_FREE_COUNT    0x2   /* Free reports the reply's freed count unchecked */
#define FUZZ_KNOWN_REPLY_FDS     0x4   /* descriptors attached to other replies are leaked */
#define FUZZ_KNOWN_ATTACH_SIZES  0x8   /* attach maps the frame table and usage page unchecked */
#define FUZZ_KNOWN_BAD_REPLY_FDS 0x10  /* a reply refused for its header leaks its descriptors */

static struct
{
    struct awe_pfn_layout    layout;
    int                      memfd;       /* the frames a local attach lends the library */
    int                      conn;        /* the library's end of the connection */
    int                      server;      /* ours */
    int                      junk;        /* a memfd we attach to replies */
    struct awe_handle_table *handles;     /* our handle table, and the library's view of it */
    struct awe_slab_view    *handle_view;
    ULONG_PTR               *array;       /* PFN arrays end FUZZ_CANARIES entries before a guard page */
    size_t                   array_max;
    char                    *prev;        /* TOKEN_PRIVILEGES buffers end before a guard page */
    size_t                   prev_max;
} h;

#define FUZZ_CANARIES 64
#define CANARY        ((ULONG_PTR)0xc0ffee11c0ffee11ull)
#define ARRAY_MAX     65536
#define PREV_MAX      4096

static int frame_owned( void *ctx, uint32_t index )
{
    return index < FUZZ_CLI_OWNED;
}

/* ---- the wrapped system interfaces ------------------------------------------------------ */

static int attach_conn = -1;           /* what the next connect() hands over */
static int attaching;                  /* inside an ATTACH: no thread may start */
static int thread_error;               /* what the notification thread's creation returns */

int __real_connect( int fd, const struct sockaddr *addr, socklen_t len );
int __wrap_connect( int fd, const struct sockaddr *addr, socklen_t len );
int __real_pthread_create( pthread_t *thread, const pthread_attr_t *attr, void *(*fn)( void * ),
                           void *arg );
int __wrap_pthread_create( pthread_t *thread, const pthread_attr_t *attr, void *(*fn)( void * ),
                           void *arg );

/* The library's only connect() is to the server: it gets the prepared socket, or EACCES
 * (never ENOENT, which would make it start a server). */
int __wrap_connect( int fd, const struct sockaddr *addr, socklen_t len )
{
    if (attach_conn < 0)
    {
        errno = EACCES;
        return -1;
    }
    if (dup3( attach_conn, fd, O_CLOEXEC ) < 0) return -1;
    close( attach_conn );
    attach_conn = -1;
    return 0;
}

int __wrap_pthread_create( pthread_t *thread, const pthread_attr_t *attr, void *(*fn)( void * ),
                           void *arg )
{
    if (!attaching) return __real_pthread_create( thread, attr, fn, arg );
    memset( thread, 0, sizeof(*thread) );
    return thread_error;
}

/* ---- replies and requests ---------------------------------------------------------------- */

/* Sends one datagram from the server's end, with nfds copies of the junk descriptor. */
static void send_datagram( int fd, const void *data, size_t len, const int *fds, int nfds )
{
    AWE_RIGHTS_BUFFER(16) control;
    struct iovec iov = { (void *)data, len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    awe_attach_rights( &msg, &control, fds, nfds );
    (void)!sendmsg( fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL );
}

static union { struct awe_reply_header header; char bytes[AWE_MAX_MESSAGE + 64]; } reply_buf;

/* Known bugs FUZZ_KNOWN_ALLOC_RUNS and FUZZ_KNOWN_FREE_COUNT: unless they are let through,
 * the replies of a call are kept within what it asked for, *budget frames in all: the runs
 * of Allocate's replies, the freed counts of Free's (as far as the library reads them: the
 * bytes a short reply has of the field, zeros beyond). */
static void clamp_reply( char *bytes, size_t len, uint32_t call, uint64_t *budget )
{
    if (call == FUZZ_CLI_ALLOCATE && !(fuzz_known_bugs() & FUZZ_KNOWN_ALLOC_RUNS) &&
        len >= sizeof(struct allocate_pages_reply))
    {
        struct awe_wire_run *runs = (void *)(bytes + sizeof(struct allocate_pages_reply));
        size_t n = (len - sizeof(struct allocate_pages_reply)) / sizeof(*runs), i;

        for (i = 0; i < n; i++)
        {
            if (runs[i].count > *budget) runs[i].count = (uint32_t)*budget;
            *budget -= runs[i].count;
        }
    }
    if (call == FUZZ_CLI_FREE && !(fuzz_known_bugs() & FUZZ_KNOWN_FREE_COUNT) &&
        len > offsetof(struct free_pages_reply, freed))
    {
        size_t avail = len - offsetof(struct free_pages_reply, freed);
        uint64_t freed = 0;

        if (avail > sizeof(freed)) avail = sizeof(freed);
        memcpy( &freed, bytes + offsetof(struct free_pages_reply, freed), avail );
        if (freed > *budget) freed = *budget;
        *budget -= freed;
        memcpy( bytes + offsetof(struct free_pages_reply, freed), &freed, avail );
    }
}

/* Queues the record's replies on the library's connection for call, which asked for budget
 * frames; returns how many. */
static int queue_replies( struct fuzz_input *in, uint32_t call, uint64_t budget )
{
    int n = fuzz_u8( in ) % (FUZZ_CLI_MAX_REPLIES + 1), i, fds[16], nfds, j;

    for (i = 0; i < n; i++)
    {
        uint8_t mode = fuzz_u8( in );
        size_t len = fuzz_u16( in );

        nfds = (mode & 0xf) % 10;
        /* known bug: descriptors on a reply that expects none are never closed */
        if (!(fuzz_known_bugs() & FUZZ_KNOWN_REPLY_FDS)) nfds = 0;
        for (j = 0; j < nfds; j++) fds[j] = h.junk;
        if (len > sizeof(reply_buf.bytes)) len = sizeof(reply_buf.bytes);
        fuzz_bytes( in, reply_buf.bytes, len );
        if (len >= sizeof(reply_buf.header))
        {
            if (mode & FUZZ_CLI_REPLY_SIZE) reply_buf.header.size = (uint32_t)len;
            if (mode & FUZZ_CLI_REPLY_OK) reply_buf.header.status = STATUS_SUCCESS;
        }
        clamp_reply( reply_buf.bytes, len, call, &budget );
        send_datagram( h.server, reply_buf.bytes, len, fds, nfds );
    }
    return n;
}

/* Throws away what the call did not read, closing the descriptors that came with it.  An
 * empty datagram reads as 0 like the end of the connection: the loop is bounded instead. */
static void discard_replies( int fd )
{
    char control[CMSG_SPACE(16 * sizeof(int))];
    struct iovec iov = { reply_buf.bytes, sizeof(reply_buf.bytes) };
    struct msghdr msg;
    struct cmsghdr *cmsg;
    size_t i, n;
    int tries;

    for (tries = 0; tries < 4 * FUZZ_CLI_MAX_REPLIES; tries++)
    {
        memset( &msg, 0, sizeof(msg) );
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        if (recvmsg( fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC ) < 0) return;
        for (cmsg = CMSG_FIRSTHDR( &msg ); cmsg; cmsg = CMSG_NXTHDR( &msg, cmsg ))
        {
            if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
            n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (i = 0; i < n; i++)
            {
                int received;
                memcpy( &received, CMSG_DATA( cmsg ) + i * sizeof(int), sizeof(int) );
                close( received );
            }
        }
    }
}

/* The requests a call sent, read back and checked against the protocol. */
struct sent
{
    int    count;
    int    closes;                             /* create_section: close_handle after it */
    struct awe_wire_pfn_run runs[4096 * 4];   /* free_pages: every run of every request */
    size_t nruns;
    uint64_t first_count;                      /* allocate_pages: count of the first request */
    size_t privileges;                         /* adjust_privileges: records of the last */
};

static union { struct awe_request_header header; char bytes[AWE_MAX_MESSAGE + 1]; } req_buf;

static const size_t request_sizes[AWE_REQ_COUNT] =
{
#define SIZE(name) sizeof(struct name##_request),
    AWE_REQUESTS(SIZE)
#undef SIZE
};

static void read_requests( int fd, uint32_t expect, struct sent *sent )
{
    const union awe_request_buffer *req = (const void *)req_buf.bytes;
    ssize_t len;

    memset( sent, 0, offsetof(struct sent, runs) );
    sent->nruns = 0;
    sent->first_count = 0;
    sent->privileges = 0;
    while ((len = recv( fd, req_buf.bytes, sizeof(req_buf.bytes), MSG_DONTWAIT )) > 0)
    {
        size_t fixed;

        FUZZ_CHECK( (size_t)len >= sizeof(req->header) && req->header.size == (size_t)len &&
                    (size_t)len <= AWE_MAX_MESSAGE, "a request of %zd bytes", len );
        /* a section reply the library refuses: it closes the handle that reply named */
        if (expect == AWE_REQ_create_section && req->header.req == AWE_REQ_close_handle && sent->count == 1)
        {
            FUZZ_CHECK( (size_t)len == request_sizes[AWE_REQ_close_handle] && !sent->closes++,
                        "close_handle of %zd bytes after create_section", len );
            continue;
        }
        FUZZ_CHECK( req->header.req == expect, "request %u, expected %u", req->header.req, expect );
        fixed = request_sizes[expect];
        FUZZ_CHECK( (size_t)len == fixed || ((AWE_VARARG_REQUESTS & (1u << expect)) && (size_t)len > fixed),
                    "request %u of %zd bytes", expect, len );
        switch (expect)
        {
        case AWE_REQ_allocate_pages:
            FUZZ_CHECK( !req->allocate_pages.flags && req->allocate_pages.count, "allocate_pages fields" );
            if (!sent->count) sent->first_count = req->allocate_pages.count;
            break;
        case AWE_REQ_free_pages:
        {
            const struct awe_wire_pfn_run *runs = (const void *)(&req->free_pages + 1);
            size_t n = ((size_t)len - fixed) / sizeof(*runs), i;

            FUZZ_CHECK( !req->free_pages.pad && n && ((size_t)len - fixed) % sizeof(*runs) == 0,
                        "free_pages of %zd bytes", len );
            for (i = 0; i < n && sent->nruns < sizeof(sent->runs) / sizeof(sent->runs[0]); i++)
                sent->runs[sent->nruns++] = runs[i];
            break;
        }
        case AWE_REQ_adjust_privileges:
            FUZZ_CHECK( ((size_t)len - fixed) % sizeof(struct awe_wire_privilege) == 0 &&
                        ((size_t)len - fixed) / sizeof(struct awe_wire_privilege) <= 16,
                        "adjust_privileges of %zd bytes", len );
            sent->privileges = ((size_t)len - fixed) / sizeof(struct awe_wire_privilege);
            break;
        case AWE_REQ_init_process:
            FUZZ_CHECK( req->init_process.version == AWE_PROTOCOL_VERSION && !req->init_process.pad,
                        "init_process fields" );
            break;
        case AWE_REQ_open_process:
        case AWE_REQ_close_handle:
        case AWE_REQ_open_token:
            break;
        }
        sent->count++;
    }
}

/* ---- calls ------------------------------------------------------------------------------- */

static HANDLE read_handle( struct fuzz_input *in )
{
    return fuzz_u8( in ) ? (HANDLE)(uintptr_t)fuzz_u32( in ) : NtCurrentProcess();
}

/* A PFN array of count entries, poisoned, followed by canaries and then a guard page. */
static ULONG_PTR *prepare_array( size_t count )
{
    ULONG_PTR *array = h.array + h.array_max - count;
    size_t i;

    memset( array, 0xcc, count * sizeof(*array) );
    for (i = 0; i < FUZZ_CANARIES; i++) h.array[h.array_max + i] = CANARY;
    return array;
}

static void check_canaries( const char *call )
{
    size_t i;

    for (i = 0; i < FUZZ_CANARIES; i++)
        FUZZ_CHECK( h.array[h.array_max + i] == CANARY, "%s wrote %zu entries past the caller's array",
                    call, i + 1 );
}

static void call_allocate( struct fuzz_input *in )
{
    HANDLE process = read_handle( in );
    size_t count = fuzz_u16( in );
    ULONG_PTR *array = prepare_array( count ), count_arg = count;
    struct sent sent;
    NTSTATUS status;
    int replies = queue_replies( in, FUZZ_CLI_ALLOCATE, count );

    status = NtAllocateUserPhysicalPages( process, &count_arg, array );
    if (fuzz_verbose()) dprintf( 2, "allocate %zu: %08x, %lu\n", count, (unsigned int)status, (unsigned long)count_arg );
    check_canaries( "NtAllocateUserPhysicalPages" );
    read_requests( h.server, AWE_REQ_allocate_pages, &sent );
    FUZZ_CHECK( sent.count <= replies + 1, "%d requests for %d replies", sent.count, replies );
    FUZZ_CHECK( !sent.count || sent.first_count == count, "asked for %llu of %zu",
                (unsigned long long)sent.first_count, count );
    if (status)
    {
        FUZZ_CHECK( count_arg == count, "failure %08x changed the count to %lu", (unsigned int)status,
                    (unsigned long)count_arg );
        return;
    }
    FUZZ_CHECK( count_arg <= count, "success with %lu frames of %zu", (unsigned long)count_arg, count );
}

static void call_free( struct fuzz_input *in )
{
    HANDLE process = read_handle( in );
    size_t count = fuzz_u8( in ), i, k, entry;
    ULONG_PTR *array = prepare_array( count ), count_arg = count;
    struct sent sent;
    NTSTATUS status;
    int replies;

    for (i = 0; i < count; i++)
        array[i] = (ULONG_PTR)awe_pfn_encode( &h.layout, FUZZ_CLI_TAG, fuzz_u16( in ) % (1u << FUZZ_CLI_INDEX_BITS) );
    replies = queue_replies( in, FUZZ_CLI_FREE, count );
    status = NtFreeUserPhysicalPages( process, &count_arg, array );
    if (fuzz_verbose()) dprintf( 2, "free %zu: %08x, %lu\n", count, (unsigned int)status, (unsigned long)count_arg );
    check_canaries( "NtFreeUserPhysicalPages" );
    read_requests( h.server, AWE_REQ_free_pages, &sent );
    FUZZ_CHECK( sent.count <= replies + 1, "%d requests for %d replies", sent.count, replies );
    /* the runs sent are the caller's array from its start, entry by entry */
    for (i = 0, entry = 0; i < sent.nruns; i++)
        for (k = 0; k < sent.runs[i].count; k++, entry++)
            FUZZ_CHECK( entry < count && array[entry] == sent.runs[i].first + k,
                        "run %zu names %llu, entry %zu is %lu", i,
                        (unsigned long long)(sent.runs[i].first + k), entry,
                        entry < count ? (unsigned long)array[entry] : 0ul );
    FUZZ_CHECK( count_arg <= count, "status %08x, %lu freed of %zu", (unsigned int)status,
                (unsigned long)count_arg, count );
}

static void call_open( struct fuzz_input *in )
{
    uint32_t pid = fuzz_u32( in ), access = fuzz_u32( in );
    struct sent sent;
    HANDLE handle;
    int replies = queue_replies( in, FUZZ_CLI_OPEN, 0 );

    handle = OpenProcess( access, FALSE, pid );
    if (fuzz_verbose()) dprintf( 2, "open: %p, error %u\n", handle, GetLastError() );
    read_requests( h.server, AWE_REQ_open_process, &sent );
    FUZZ_CHECK( sent.count <= 1 && sent.count <= replies + 1, "%d requests", sent.count );
    FUZZ_CHECK( !((uintptr_t)handle >> 32), "handle %p", handle );
}

static void call_close( struct fuzz_input *in )
{
    HANDLE handle = (HANDLE)(uintptr_t)fuzz_u32( in );
    struct sent sent;

    queue_replies( in, FUZZ_CLI_CLOSE, 0 );
    CloseHandle( handle );
    read_requests( h.server, AWE_REQ_close_handle, &sent );
    FUZZ_CHECK( sent.count <= 1, "%d requests", sent.count );
}

static void call_token( struct fuzz_input *in )
{
    HANDLE process = read_handle( in ), token = (HANDLE)(uintptr_t)0xdeadbeef;
    uint32_t access = fuzz_u32( in );
    struct sent sent;
    BOOL ok;

    queue_replies( in, FUZZ_CLI_TOKEN, 0 );
    ok = OpenProcessToken( process, access, &token );
    if (fuzz_verbose()) dprintf( 2, "token: %d, %p, error %u\n", ok, token, GetLastError() );
    read_requests( h.server, AWE_REQ_open_token, &sent );
    FUZZ_CHECK( sent.count <= 1, "%d requests", sent.count );
    FUZZ_CHECK( ok || token == (HANDLE)(uintptr_t)0xdeadbeef, "a failure wrote the token" );
}

static void call_adjust( struct fuzz_input *in )
{
    HANDLE token = (HANDLE)(uintptr_t)fuzz_u32( in );
    BOOL disable_all = fuzz_u8( in ) & 1, ok;
    size_t n = fuzz_u8( in ) % 20, i, length;
    struct { DWORD count; LUID_AND_ATTRIBUTES privs[20]; } privs;
    uint8_t mode;
    DWORD prev_length = 0xdeadbeef;
    TOKEN_PRIVILEGES *prev;
    struct sent sent;
    int replies;

    privs.count = (DWORD)n;
    for (i = 0; i < n; i++)
    {
        privs.privs[i].Luid.LowPart = fuzz_u32( in );
        privs.privs[i].Luid.HighPart = 0;
        privs.privs[i].Attributes = fuzz_u32( in );
    }
    mode = fuzz_u8( in );
    length = fuzz_u16( in ) % (PREV_MAX + 1);
    /* aligned as callers align it, ending before the guard page: slack bytes are canaries */
    prev = (TOKEN_PRIVILEGES *)(h.prev + h.prev_max - ((length + 7) & ~(size_t)7));
    memset( h.prev, 0xcc, h.prev_max );
    replies = queue_replies( in, FUZZ_CLI_ADJUST, 0 );
    ok = AdjustTokenPrivileges( token, disable_all, (TOKEN_PRIVILEGES *)&privs, (DWORD)length,
                                mode & 1 ? prev : NULL, mode & 2 ? &prev_length : NULL );
    read_requests( h.server, AWE_REQ_adjust_privileges, &sent );
    if (fuzz_verbose()) dprintf( 2, "adjust: %d, error %u, prev length %u\n", ok, GetLastError(), prev_length );
    FUZZ_CHECK( sent.count <= 1 && sent.count <= replies + 1, "%d requests", sent.count );
    FUZZ_CHECK( !sent.count || sent.privileges == (disable_all ? 0 : n), "%zu privileges sent of %zu",
                sent.privileges, n );
    for (i = (size_t)((char *)prev - h.prev) + length; i < h.prev_max; i++)
        FUZZ_CHECK( (uint8_t)h.prev[i] == 0xcc, "AdjustTokenPrivileges wrote past the %zu bytes of prev", length );
    for (i = 0; i < (size_t)((char *)prev - h.prev); i++)
        FUZZ_CHECK( (uint8_t)h.prev[i] == 0xcc, "AdjustTokenPrivileges wrote before prev" );
    (void)ok;
}

/* ---- attach ------------------------------------------------------------------------------- */

/* The descriptors a real server sends, made fresh for one ATTACH. */
struct attach_fds
{
    int                      fd[6];
    struct awe_handle_table *handles;
    struct awe_slab         *sync;
};

static int make_sealed_memfd( const char *name, size_t size, unsigned int seals )
{
    int fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING );

    if (fd < 0) return -1;
    if (ftruncate( fd, (off_t)size ) || (seals && fcntl( fd, F_ADD_SEALS, seals )))
    {
        close( fd );
        return -1;
    }
    return fd;
}

static int reopen_read_only( int fd )
{
    char path[64];

    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    return open( path, O_RDONLY | O_CLOEXEC );
}

/* Builds what init_process hands a client, as process.c's init_process does. */
static int make_attach_fds( struct attach_fds *a, struct init_process_reply *reply, size_t table_size )
{
    struct awe_slab_geometry geo;
    struct awe_sync_ref ref;
    struct awe_frame_table *table;
    uint32_t lock;
    void *lock_shm;
    int table_fd, i;

    for (i = 0; i < 6; i++) a->fd[i] = -1;
    a->handles = NULL;
    a->sync = NULL;
    a->fd[0] = make_sealed_memfd( "fuzz-frames", 0, F_SEAL_SHRINK );
    if ((table_fd = make_sealed_memfd( "fuzz-table", table_size, 0 )) < 0) return -1;
    if ((table = mmap( NULL, table_size, PROT_READ | PROT_WRITE, MAP_SHARED, table_fd, 0 )) == MAP_FAILED)
    {
        close( table_fd );
        return -1;
    }
    if (awe_slab_create( sizeof(struct awe_sync_shm), 1, AWE_SLAB_CLIENT_WRITABLE, &a->sync ) ||
        awe_slab_alloc( a->sync, &lock, &lock_shm ))
        goto failed;
    table->lock_gen = awe_slab_generation( a->sync, lock );
    if (awe_sync_ref_init( &ref, lock_shm, &table->lock_gen, reply->sync_id, table->lock_gen,
                           AWE_SYNC_MUTEX, 0 ) || awe_sync_create( &ref, 0 ))
        goto failed;
    munmap( table, table_size );
    table = NULL;
    if (fcntl( table_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL ))
        goto failed;
    a->fd[1] = reopen_read_only( table_fd );
    close( table_fd );
    table_fd = -1;
    a->fd[2] = make_sealed_memfd( "fuzz-usage", AWE_PAGE_SIZE, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL );
    if (awe_handle_table_create( 64, &a->handles )) goto failed;
    a->fd[3] = fcntl( awe_handle_table_client_fd( a->handles ), F_DUPFD_CLOEXEC, 0 );
    a->fd[4] = fcntl( awe_slab_client_fd( a->sync ), F_DUPFD_CLOEXEC, 0 );
    awe_handle_table_geometry( a->handles, &geo );
    reply->handle_slot_size = geo.slot_size;
    reply->handle_max_slots = geo.max_slots;
    reply->handle_block_size = geo.block_size;
    reply->handle_flags = geo.flags;
    awe_slab_geometry( a->sync, &geo );
    reply->sync_slot_size = geo.slot_size;
    reply->sync_max_slots = geo.max_slots;
    reply->sync_block_size = geo.block_size;
    reply->sync_flags = geo.flags;
    reply->lock_slot = lock;
    for (i = 0; i < FUZZ_CLI_INIT_FDS; i++) if (a->fd[i] < 0) return -1;
    return 0;

failed:
    if (table) munmap( table, table_size );
    if (table_fd >= 0) close( table_fd );
    return -1;
}

static void free_attach_fds( struct attach_fds *a )
{
    int i;

    for (i = 0; i < 6; i++) if (a->fd[i] >= 0) close( a->fd[i] );
    awe_handle_table_destroy( a->handles );
    awe_slab_destroy( a->sync );
}

/* Puts the library back on the harness's local attachment and connection. */
static void attach_local( void )
{
    awe_client.server_fd = -1;   /* so that detaching closes nothing of ours */
    FUZZ_CHECK( !awe_client_attach_local( &h.layout, FUZZ_CLI_TAG, h.memfd, frame_owned ),
                "local attach" );
    awe_client.server_fd = h.conn;
    awe_client.handles = h.handle_view;
}

static void call_attach( struct fuzz_input *in )
{
    static const size_t field_sizes[] =
    {
        sizeof(NTSTATUS), sizeof(uint32_t),
#define FIELD_SIZE(type, name) sizeof(type),
        AWE_REPLY_init_process(FIELD_SIZE)
#undef FIELD_SIZE
    };
    union { struct init_process_reply reply; char bytes[sizeof(struct init_process_reply) + 64]; } msg;
    struct init_process_reply *reply = &msg.reply;
    struct attach_fds a;
    uint8_t kinds[6], thread;
    uint32_t mask;
    size_t table_need, len = sizeof(*reply), i, off;
    char *fields = msg.bytes;
    int fds[6], nfds = 0, sv[2], empty = -1, ev = -1;
    NTSTATUS status;
    struct sent sent;

    for (i = 0; i < FUZZ_CLI_INIT_FDS; i++) kinds[i] = fuzz_u8( in ) % FUZZ_CLI_FD_KINDS;
    thread = fuzz_u8( in );
    mask = fuzz_u32( in );

    /* what a real server would answer, then the input's overrides, in field order */
    memset( reply, 0, sizeof(*reply) );
    reply->header.status = STATUS_SUCCESS;
    reply->header.size = sizeof(*reply);
    reply->tag = FUZZ_CLI_TAG;
    reply->index_bits = FUZZ_CLI_INDEX_BITS;
    reply->tag_bits = FUZZ_CLI_TAG_BITS;
    reply->server_pid = (uint32_t)getpid();
    reply->sync_id = 0x1234;
    table_need = sizeof(struct awe_frame_table) + ((size_t)1 << FUZZ_CLI_INDEX_BITS) / 8;
    reply->frame_table_size = table_need;
    if (make_attach_fds( &a, reply, table_need ))
    {
        free_attach_fds( &a );
        return;
    }
    for (i = 0, off = 0; i < sizeof(field_sizes) / sizeof(field_sizes[0]); off += field_sizes[i++])
    {
        if (!(mask & (1u << i))) continue;
        if (field_sizes[i] == 8)
        {
            uint64_t v = fuzz_u64( in );
            memcpy( fields + off, &v, 8 );
        }
        else
        {
            uint32_t v = fuzz_u32( in );
            memcpy( fields + off, &v, 4 );
        }
    }
    if (mask & 0x80000000u) len = fuzz_u16( in ) % (sizeof(*reply) + 64);

    /* known bug: attach maps the table and the usage page whatever their size; keep both right */
    if (!(fuzz_known_bugs() & FUZZ_KNOWN_ATTACH_SIZES))
    {
        struct awe_pfn_layout layout;
        uint64_t need = table_need;

        if (!awe_pfn_layout_init( &layout, reply->index_bits, reply->tag_bits ))
            need = sizeof(struct awe_frame_table) + awe_pfn_max_frames( &layout ) / 8;
        if (reply->frame_table_size < need || need > table_need)
        {
            reply->frame_table_size = need;
            if (need > table_need)
            {
                /* a larger table: built again at that size */
                free_attach_fds( &a );
                if (make_attach_fds( &a, reply, need ))
                {
                    free_attach_fds( &a );
                    return;
                }
            }
        }
        for (i = 1; i <= 2; i++)
            if (kinds[i] == FUZZ_CLI_FD_EMPTY_MEMFD || kinds[i] == FUZZ_CLI_FD_SHIFTED) kinds[i] = FUZZ_CLI_FD_RIGHT;
    }

    for (i = 0; i < FUZZ_CLI_INIT_FDS; i++)
    {
        switch (kinds[i])
        {
        case FUZZ_CLI_FD_RIGHT:   fds[nfds++] = a.fd[i]; break;
        case FUZZ_CLI_FD_NONE:    break;
        case FUZZ_CLI_FD_EVENTFD:
            if (ev < 0) ev = eventfd( 0, EFD_CLOEXEC );
            if (ev >= 0) fds[nfds++] = ev;
            break;
        case FUZZ_CLI_FD_EMPTY_MEMFD:
            if (empty < 0) empty = memfd_create( "fuzz-empty", MFD_CLOEXEC );
            if (empty >= 0) fds[nfds++] = empty;
            break;
        case FUZZ_CLI_FD_SHIFTED: fds[nfds++] = a.fd[(i + 1) % FUZZ_CLI_INIT_FDS]; break;
        }
    }

    if (socketpair( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv ))
    {
        free_attach_fds( &a );
        return;
    }
    /* known bug: awe_server_call returns before it takes the descriptors of a reply whose
     * header it refuses (size, truncation); unless let through, such a reply carries none */
    if ((len < sizeof(reply->header) || reply->header.size != len || len > sizeof(*reply)) &&
        !(fuzz_known_bugs() & FUZZ_KNOWN_BAD_REPLY_FDS))
        nfds = 0;
    send_datagram( sv[1], reply, len, fds, nfds );
    if (ev >= 0) close( ev );
    if (empty >= 0) close( empty );

    /* the library detaches from us and attaches through the prepared connection */
    awe_client.server_fd = -1;
    awe_client_detach();
    attach_conn = sv[0];
    attaching = 1;
    thread_error = thread & 1 ? EAGAIN : 0;
    status = awe_client_lock();
    attaching = 0;
    if (fuzz_verbose()) dprintf( 2, "attach: %08x\n", (unsigned int)status );
    if (attach_conn >= 0) close( attach_conn );
    attach_conn = -1;
    read_requests( sv[1], AWE_REQ_init_process, &sent );
    FUZZ_CHECK( sent.count == 1, "%d init_process requests", sent.count );
    if (!status)
    {
        uint32_t max = awe_pfn_max_frames( &awe_client.layout );

        /* what the library now believes of its frames and handles must be readable: the table
         * it mapped must hold a bit for every frame of the layout it accepted */
        FUZZ_CHECK( awe_client.table_size >= sizeof(struct awe_frame_table) + max / 8,
                    "a frame table of %zu bytes mapped for %u frames", awe_client.table_size, max );
        awe_client.frame_owned( NULL, 0 );
        awe_client.frame_owned( NULL, max - 1 );
        awe_client.frame_owned( NULL, max );
        awe_client_publish_usage();
        awe_check_handle( FUZZ_CLI_HANDLE_VM, AWE_OBJECT_PROCESS, 0 );
        awe_client_unlock();
    }
    else FUZZ_CHECK( !atomic_load( &awe_client.epoch ) || status == STATUS_INTERNAL_ERROR,
                     "attached, but the lock failed with %08x", (unsigned int)status );
    /* undo it: the library closes and unmaps what it took */
    awe_client_detach();
    discard_replies( sv[1] );
    close( sv[1] );
    free_attach_fds( &a );
    attach_local();
}

/* ---- the harness -------------------------------------------------------------------------- */

static void *map_guarded( size_t bytes )
{
    size_t size = (bytes + AWE_PAGE_SIZE - 1) & ~(AWE_PAGE_SIZE - 1);
    char *base = mmap( NULL, size + AWE_PAGE_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 );

    FUZZ_CHECK( base != MAP_FAILED, "mmap: %s", strerror( errno ) );
    FUZZ_CHECK( !mprotect( base + size, AWE_PAGE_SIZE, PROT_NONE ), "mprotect" );
    return base + size - bytes;
}

/* The harness's connection: the library's end (h.conn) and the fake server's (h.server). */
static void make_connection( void )
{
    int sv[2], size = 1 << 20;

    FUZZ_CHECK( !socketpair( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv ), "socketpair" );
    h.conn = sv[0];
    h.server = sv[1];
    /* a call that finds no reply gets EAGAIN at once instead of waiting for ever */
    fcntl( h.conn, F_SETFL, O_NONBLOCK );
    setsockopt( h.server, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size) );
    setsockopt( h.conn, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size) );
}

/* SECTION: CreateFileMapping2 of an AWE section, the reply built by the harness (its fields
 * from the input, two descriptors of FUZZ_CLI_FD_* kinds), then, when the library took it, a
 * look at what it kept and the handle closed again on the library's side. */
static void call_section( struct fuzz_input *in )
{
    MEM_EXTENDED_PARAMETER param = { { MemSectionExtendedParameterUserPhysicalFlags, 0 }, { 0 } };
    uint32_t max = awe_pfn_max_frames( &h.layout ), access = fuzz_u32( in );
    uint8_t flags = fuzz_u8( in ), kinds[2], unit_sel, i;
    size_t table_size = sizeof(struct awe_frame_table) + max / 8;
    struct create_section_reply reply;
    int right[2], fds[2], nfds = 0, ev = -1;
    struct awe_client_section *section;
    struct sent sent;
    HANDLE handle;

    kinds[0] = fuzz_u8( in ) % FUZZ_CLI_FD_KINDS;
    kinds[1] = fuzz_u8( in ) % FUZZ_CLI_FD_KINDS;
    unit_sel = fuzz_u8( in );
    memset( &reply, 0, sizeof(reply) );
    reply.header.status = fuzz_u8( in ) & 1 ? fuzz_u32( in ) : STATUS_SUCCESS;
    reply.header.size = sizeof(reply);
    reply.handle = fuzz_u8( in ) & 1 ? fuzz_u32( in ) : awe_handle_encode( 5, 1 );
    reply.tag = fuzz_u8( in );
    reply.unit = unit_sel % 3 == 0 ? 1 : unit_sel % 3 == 1 ? AWE_LARGE_UNIT : fuzz_u32( in );
    reply.backing = fuzz_u8( in ) % 5;
    reply.frame_table_size = fuzz_u8( in ) & 1 ? fuzz_u64( in ) : table_size;

    /* what a server sends: the section's frames, sealed at their full size, and its table
     * through a read-only description */
    right[0] = make_sealed_memfd( "fuzz-section", (size_t)max << AWE_PAGE_SHIFT,
                                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL );
    right[1] = make_sealed_memfd( "fuzz-section-table", table_size, F_SEAL_SHRINK | F_SEAL_GROW );
    if (right[1] >= 0)
    {
        int ro = reopen_read_only( right[1] );
        close( right[1] );
        right[1] = ro;
    }
    for (i = 0; i < 2; i++)
    {
        switch (kinds[i])
        {
        case FUZZ_CLI_FD_RIGHT:   if (right[i] >= 0) fds[nfds++] = right[i]; break;
        case FUZZ_CLI_FD_NONE:    break;
        case FUZZ_CLI_FD_EVENTFD:
            if (ev < 0) ev = eventfd( 0, EFD_CLOEXEC );
            if (ev >= 0) fds[nfds++] = ev;
            break;
        case FUZZ_CLI_FD_EMPTY_MEMFD: fds[nfds++] = h.junk; break;
        case FUZZ_CLI_FD_SHIFTED: if (right[1 - i] >= 0) fds[nfds++] = right[1 - i]; break;
        }
    }
    send_datagram( h.server, &reply, sizeof(reply), fds, nfds );
    for (i = 0; i < 2; i++) if (right[i] >= 0) close( right[i] );
    if (ev >= 0) close( ev );
    /* the answer to the close_handle the library sends when it refuses the reply */
    queue_replies( in, FUZZ_CLI_CLOSE, 0 );

    handle = CreateFileMapping2( INVALID_HANDLE_VALUE, NULL, access, PAGE_READWRITE,
                                 SEC_RESERVE | (flags & 1 ? SEC_LARGE_PAGES : 0), 0, NULL, &param, 1 );
    if (fuzz_verbose()) dprintf( 2, "section: %p, error %u\n", handle, GetLastError() );
    read_requests( h.server, AWE_REQ_create_section, &sent );
    FUZZ_CHECK( sent.count <= 1, "%d create_section requests", sent.count );
    if (!handle) return;
    FUZZ_CHECK( sent.count == 1 && !sent.closes, "a section without its request, or closed" );
    FUZZ_CHECK( (uintptr_t)handle == reply.handle, "handle %p, the reply said %#x", handle, reply.handle );
    FUZZ_CHECK( !awe_client_lock(), "lock" );
    section = awe_find_section( reply.handle );
    FUZZ_CHECK( section != NULL, "the section is not registered" );
    FUZZ_CHECK( section->pool.unit == 1 || section->pool.unit == AWE_LARGE_UNIT, "unit %u", section->pool.unit );
    FUZZ_CHECK( section->pool.tag && section->pool.tag <= awe_pfn_max_tag( &h.layout ), "tag %u", section->pool.tag );
    /* every frame's bit of the table it mapped must be readable */
    section->pool.frame_owned( section->pool.owner_ctx, 0 );
    section->pool.frame_owned( section->pool.owner_ctx, max - 1 );
    section->pool.frame_owned( section->pool.owner_ctx, max );
    awe_client_unlock();
    awe_section_handle_closed( reply.handle );
    FUZZ_CHECK( !awe_client_lock(), "lock" );
    FUZZ_CHECK( !awe_find_section( reply.handle ), "the section outlived its handle" );
    awe_client_unlock();
}

int LLVMFuzzerInitialize( int *argc, char ***argv )
{
    struct awe_handle_entry entry = { .object_id = 1, .type = AWE_OBJECT_PROCESS,
                                      .access = AWE_PROCESS_VM_OPERATION, .owner_pid = 1 };
    struct awe_slab_geometry geo;
    uint32_t handle;

    fuzz_quiet_stderr();
    /* a reply the input did not queue is missed at once: the library's deadline (60 s by
     * default) would stall the campaign, and libFuzzer's -timeout=60 would not even see it */
    setenv( "AWE_SERVER_TIMEOUT", "0.001", 1 );
    setenv( "AWE_SERVER", "/bin/false", 1 );
    setenv( "AWE_SERVER_DIR", "/nonexistent/awe-fuzz", 1 );
    FUZZ_CHECK( !awe_pfn_layout_init( &h.layout, FUZZ_CLI_INDEX_BITS, FUZZ_CLI_TAG_BITS ), "layout" );
    h.memfd = memfd_create( "fuzz-client-frames", MFD_CLOEXEC );
    h.junk = memfd_create( "fuzz-junk", MFD_CLOEXEC );
    FUZZ_CHECK( h.memfd >= 0 && h.junk >= 0, "memfd" );
    make_connection();

    FUZZ_CHECK( !awe_handle_table_create( 64, &h.handles ), "handle table" );
    FUZZ_CHECK( !awe_handle_alloc( h.handles, &entry, &handle ) && handle == FUZZ_CLI_HANDLE_VM, "handle" );
    entry.access = 0;
    FUZZ_CHECK( !awe_handle_alloc( h.handles, &entry, &handle ) && handle == FUZZ_CLI_HANDLE_NONE, "handle" );
    entry.type = AWE_OBJECT_TOKEN;
    entry.access = AWE_TOKEN_ADJUST_PRIVILEGES;
    FUZZ_CHECK( !awe_handle_alloc( h.handles, &entry, &handle ) && handle == FUZZ_CLI_HANDLE_TOKEN, "handle" );
    awe_handle_table_geometry( h.handles, &geo );
    FUZZ_CHECK( !awe_slab_view_open( awe_handle_table_client_fd( h.handles ), &geo, &h.handle_view ), "view" );

    h.array_max = ARRAY_MAX;
    h.array = map_guarded( (ARRAY_MAX + FUZZ_CANARIES) * sizeof(ULONG_PTR) );
    h.prev_max = PREV_MAX + 64;
    h.prev = map_guarded( h.prev_max );
    attach_local();
    /* the library makes its capture file on first use and keeps it (not under ASan) */
    {
        ULONG_PTR probe = 0, copy;
        awe_copy_from_user( &copy, &probe, sizeof(probe) );
    }
    fuzz_start_fds();
    return 0;
}

int LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
    struct fuzz_input in = { data, size, 0 };
    int ops;

    /* every input starts connected: a missed deadline or a broken reply of the previous one
     * shut the connection down for good (as it does for a real process), which would leave
     * this input nothing but failing calls to explore */
    if (atomic_load( &awe_client.server_lost ))
    {
        /* the library shut the old connection down: a new one, the same descriptor count */
        close( h.conn );
        close( h.server );
        make_connection();
        attach_local();
    }

    for (ops = 0; ops < FUZZ_CLI_MAX_OPS && fuzz_more( &in ); ops++)
    {
        switch (fuzz_u8( &in ) % FUZZ_CLI_CALLS)
        {
        case FUZZ_CLI_ALLOCATE: call_allocate( &in ); break;
        case FUZZ_CLI_FREE:     call_free( &in ); break;
        case FUZZ_CLI_OPEN:     call_open( &in ); break;
        case FUZZ_CLI_CLOSE:    call_close( &in ); break;
        case FUZZ_CLI_TOKEN:    call_token( &in ); break;
        case FUZZ_CLI_ADJUST:   call_adjust( &in ); break;
        case FUZZ_CLI_ATTACH:   call_attach( &in ); break;
        case FUZZ_CLI_SECTION:  call_section( &in ); break;
        }
        discard_replies( h.conn );
    }
    fuzz_check_fds( 1 );
    return 0;
}
