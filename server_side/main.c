/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* awe-server: options, instance directory, the event loop and the status display. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "server.h"

struct server_options options =
{
    .grant_lock = 1,
    .exit_delay = 3,
    .large_unit = AWE_LARGE_UNIT,
};

static void usage( FILE *out )
{
    fprintf( out,
"Usage: awe-server [OPTION]...\n"
"The AWE server: owns the physical pages, handles and privileges of every process that uses\n"
"libawe in one instance directory.  Clients start it on first use; it exits a short while\n"
"after its last client.\n"
"\n"
"  -d, --debug                  trace every request and reply on stderr (implies -f)\n"
"  -f, --foreground             do not detach from the terminal\n"
"      --dir=DIR                instance directory (default: $AWE_SERVER_DIR, else\n"
"                               $XDG_RUNTIME_DIR/awe, else /tmp/awe-UID; mode 0700)\n"
"      --grant-lock-memory=WHO  all (default): every process holds SeLockMemoryPrivilege,\n"
"                               disabled until AdjustTokenPrivileges enables it;\n"
"                               none: nobody holds it (ERROR_NOT_ALL_ASSIGNED)\n"
"      --quota=SIZE             frames a process may hold, in bytes (K, M, G suffixes);\n"
"                               past it allocations are partial, then fail with\n"
"                               ERROR_COMMITMENT_LIMIT (default: no quota)\n"
"      --limit=SIZE             frames all processes together may hold, in bytes: the\n"
"                               physical memory AWE may take; past it allocations are\n"
"                               partial, then fail with ERROR_NO_SYSTEM_RESOURCES\n"
"                               (default: no limit but RLIMIT_MEMLOCK's)\n"
"      --reserve=SIZE           memory left to the rest of the system: an allocation that\n"
"                               would take MemAvailable below it is partial, then fails\n"
"                               with ERROR_NO_SYSTEM_RESOURCES (default: 1/32 of the\n"
"                               memory, 64M to 1G; 0 turns the check off)\n"
"      --unlocked               best effort: do not lock frames in memory (reported by\n"
"                               --status); by default frames are mlocked and RLIMIT_MEMLOCK\n"
"                               makes allocations partial, then ERROR_NO_SYSTEM_RESOURCES\n"
"      --large-pages=MODE       how the 2 MiB frames of SEC_LARGE_PAGES sections are backed:\n"
"                               auto (default): the host's huge pages when it has some\n"
"                               reserved (vm.nr_hugepages), else emulated; hugetlb: huge\n"
"                               pages or ERROR_NO_SYSTEM_RESOURCES; emulate: always 512\n"
"                               aligned 4 KiB frames (same semantics, no TLB gain); fail:\n"
"                               ERROR_NO_SYSTEM_RESOURCES, as Windows without large pages\n"
"      --pfn-bits=INDEX:TAG     split of a frame number: INDEX bits of frame index (frames per\n"
"                               process = 2^INDEX), TAG bits of process tag (processes =\n"
"                               2^TAG - 1); INDEX + TAG <= 31 (default 21:10)\n"
"      --exit-delay=SECONDS     wait this long after the last client leaves (default 3)\n"
"      --status                 print the running server's processes and exit\n"
"  -h, --help                   show this help and exit\n" );
}

void server_log( const char *fmt, ... )
{
    va_list args;

    fprintf( stderr, "awe-server: " );
    va_start( args, fmt );
    vfprintf( stderr, fmt, args );
    va_end( args );
    fputc( '\n', stderr );
}

static int parse_size( const char *str, uint64_t *frames )
{
    char *end;
    unsigned long long value = strtoull( str, &end, 10 );

    switch (*end)
    {
    case 'G': case 'g': value <<= 10; /* fall through */
    case 'M': case 'm': value <<= 10; /* fall through */
    case 'K': case 'k': value <<= 10; end++; break;
    }
    if (end == str || *end) return -1;
    *frames = value >> AWE_PAGE_SHIFT;
    if (value && !*frames) return -1;   /* less than a page would read as "none" */
    return 0;
}

/* Picks and checks the instance directory: ours, and closed to everyone else. */
static int open_instance_dir( char *buf, size_t size )
{
    struct stat st;

    if (options.dir) snprintf( buf, size, "%s", options.dir );
    else if (awe_instance_dir( buf, size )) return -1;
    if (mkdir( buf, 0700 ) && errno != EEXIST)
    {
        server_log( "cannot create %s: %s", buf, strerror( errno ) );
        return -1;
    }
    if (stat( buf, &st ) || !S_ISDIR( st.st_mode ) || st.st_uid != getuid() || (st.st_mode & 077))
    {
        server_log( "%s must be a directory of user %u with mode 0700", buf, (unsigned int)getuid() );
        return -1;
    }
    return 0;
}

static int socket_address( const char *dir, struct sockaddr_un *addr )
{
    memset( addr, 0, sizeof(*addr) );
    addr->sun_family = AF_UNIX;
    if ((size_t)snprintf( addr->sun_path, sizeof(addr->sun_path), "%s/socket", dir ) >=
        sizeof(addr->sun_path))
    {
        server_log( "instance directory path too long: %s", dir );
        return -1;
    }
    return 0;
}

#define STATUS_TIMEOUT_S 10

static int print_status( const char *dir )
{
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } out;
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    static const char *const modes[] = { "auto", "hugetlb", "emulate", "fail" };
    static const char *const backings[] = { "small", "hugetlb", "emulated", "none" };
    const struct awe_wire_process_status *ps = (const void *)(&out.reply.get_status + 1);
    const struct awe_wire_section_status *ss;
    struct timeval timeout = { STATUS_TIMEOUT_S, 0 };
    struct sockaddr_un addr;
    ssize_t len;
    uint32_t i;
    int fd;

    if (socket_address( dir, &addr )) return 1;
    /* a server that does not answer in STATUS_TIMEOUT_S is reported, not waited for: the
     * timeouts bound the connect (its backlog may be full) and the reply */
    if ((fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 )) < 0 ||
        setsockopt( fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout) ) ||
        setsockopt( fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout) ) ||
        connect( fd, (struct sockaddr *)&addr, sizeof(addr) ))
    {
        if (fd >= 0 && (errno == EAGAIN || errno == EINPROGRESS))
            printf( "the awe-server in %s does not answer\n", dir );
        else
            printf( "no awe-server is running in %s\n", dir );
        return 1;
    }
    if (send( fd, &req, sizeof(req), 0 ) != sizeof(req) ||
        (len = recv( fd, &out, sizeof(out), 0 )) < (ssize_t)sizeof(out.reply.get_status) ||
        out.reply.header.status ||
        (size_t)len < sizeof(out.reply.get_status) + out.reply.get_status.processes * sizeof(*ps) +
                      (size_t)out.reply.get_status.sections * sizeof(*ss) ||
        out.reply.get_status.large_pages > AWE_LARGE_FAIL)
    {
        printf( "bad answer from the awe-server in %s\n", dir );
        return 1;
    }
    printf( "awe-server in %s: frames %s, quota %s, limit %s\n", dir,
            out.reply.get_status.flags & AWE_STATUS_UNLOCKED ? "NOT locked (--unlocked)" : "locked",
            out.reply.get_status.quota_frames ? "set" : "none",
            out.reply.get_status.limit_frames ? "set" : "none" );
    if (out.reply.get_status.quota_frames)
        printf( "quota: %llu frames per process\n", (unsigned long long)out.reply.get_status.quota_frames );
    if (out.reply.get_status.limit_frames)
        printf( "limit: %llu frames in all\n", (unsigned long long)out.reply.get_status.limit_frames );
    printf( "held: %llu frames in all\n", (unsigned long long)out.reply.get_status.held_frames );
    if (out.reply.get_status.reserve_frames)
        printf( "reserve: %llu frames of available memory left to the system\n",
                (unsigned long long)out.reply.get_status.reserve_frames );
    else
        printf( "reserve: none (available memory not checked)\n" );
    {
        const struct get_status_reply *r = &out.reply.get_status;
        const char *now = r->large_pages == AWE_LARGE_FAIL ? "none" :
                          r->large_pages == AWE_LARGE_EMULATE ? "emulated" :
                          r->huge_pages_total ? "hugetlb" :
                          r->large_pages == AWE_LARGE_HUGETLB ? "none" : "emulated";
        printf( "large pages: --large-pages=%s; new 2 MiB frames are %s; host huge pages: %llu "
                "reserved, %llu free\n", modes[r->large_pages], now,
                (unsigned long long)r->huge_pages_total, (unsigned long long)r->huge_pages_free );
    }
    printf( "%8s %5s %12s %12s %12s %12s %12s %8s\n", "pid", "tag", "allocated", "quarantined",
            "locked", "span", "mapped", "vmas" );
    for (i = 0; i < out.reply.get_status.processes; i++)
        printf( "%8u %5u %12llu %12llu %12llu %12llu %12llu %8llu\n", ps[i].pid, ps[i].tag,
                (unsigned long long)ps[i].frames_allocated, (unsigned long long)ps[i].frames_quarantined,
                (unsigned long long)ps[i].frames_locked, (unsigned long long)ps[i].span_frames,
                (unsigned long long)ps[i].mapped_pages, (unsigned long long)ps[i].vmas );
    ss = (const void *)(ps + out.reply.get_status.processes);
    if (out.reply.get_status.sections)
    {
        printf( "AWE sections:\n%8s %5s %10s %9s %12s %12s %8s\n", "owner", "tag", "page", "backing",
                "allocated", "span", "handles" );
        for (i = 0; i < out.reply.get_status.sections; i++)
            printf( "%8u %5u %10s %9s %12llu %12llu %8u\n", ss[i].owner_pid, ss[i].tag,
                    ss[i].unit > 1 ? "2 MiB" : "4 KiB", ss[i].backing <= AWE_BACKING_NONE ? backings[ss[i].backing] : "?",
                    (unsigned long long)ss[i].frames_allocated, (unsigned long long)ss[i].span_frames,
                    ss[i].handles );
    }
    else printf( "AWE sections: none\n" );
    close( fd );
    return 0;
}

static volatile sig_atomic_t stop_requested;
static int epoll_fd = -1;
static int spare_fd = -1;          /* kept open to refuse a client when descriptors run out */
static uint64_t accept_paused_ms;  /* accepting stopped after a failure, until this time (0: not) */

#define ACCEPT_PAUSE_MS 100        /* after an accept failure that is not EMFILE: no busy loop */

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
    struct timespec ts;
    clock_gettime( CLOCK_MONOTONIC, &ts );
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void request_stop( int sig )
{
    stop_requested = 1;
}

/* Drops every client and frees everything (SIGTERM, or idle): memcheck sees a clean exit. */
static void shutdown_all( void )
{
    struct process *process, *next;

    for (process = process_list; process; process = next)
    {
        /* disconnecting closes the process's handles, which can free other processes, the
         * next one included: hold this one so that its link stays valid, then read it */
        process->refs++;
        if (process->fd >= 0) disconnect_process( process );
        next = process->next;
        release_process( process );
    }
}

/* Answers a connection that cannot be served (no descriptor, no memory) and closes it: its
 * client reads the answer as the reply to its init_process. */
static void refuse_client( int fd, NTSTATUS status )
{
    struct awe_reply_header reply = { status, sizeof(reply) };

    send( fd, &reply, sizeof(reply), MSG_DONTWAIT | MSG_NOSIGNAL );
    close( fd );
}

/* Stops or restarts watching the listening socket (a failed accept would spin otherwise). */
static void pause_accepting( int listen_fd, int pause )
{
    struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.ptr = NULL };

    epoll_ctl( epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev );
    accept_paused_ms = pause ? monotonic_ms() + ACCEPT_PAUSE_MS : 0;
}

static void accept_client( int listen_fd )
{
    static uint64_t last_log_ms;
    struct process *process;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd;

    if ((fd = accept4( listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK )) < 0)
    {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0)
        {
            /* out of descriptors: the spare one takes the connection, to refuse it */
            close( spare_fd );
            if ((fd = accept4( listen_fd, NULL, NULL, SOCK_CLOEXEC )) >= 0)
                refuse_client( fd, STATUS_INSUFFICIENT_RESOURCES );
            spare_fd = open( "/dev/null", O_RDONLY | O_CLOEXEC );
            if (monotonic_ms() - last_log_ms >= 1000)
            {
                server_log( "out of file descriptors: refusing new clients" );
                last_log_ms = monotonic_ms();
            }
            if (fd >= 0 && spare_fd >= 0) return;
        }
        else server_log( "accept: %s", strerror( errno ) );
        pause_accepting( listen_fd, 1 );
        return;
    }
    if (getsockopt( fd, SOL_SOCKET, SO_PEERCRED, &cred, &len ) || cred.uid != getuid())
    {
        server_log( "refusing a client of user %d", (int)cred.uid );
        close( fd );
        return;
    }
    if (!(process = create_process( fd, cred.pid )))
    {
        refuse_client( fd, STATUS_NO_MEMORY );
        return;
    }
    if (watch_fd( fd, process ))
    {
        refuse_client( fd, STATUS_INSUFFICIENT_RESOURCES );
        process->fd = -1;
        release_process( process );
    }
}

/* The time epoll may sleep: until the next pending Free expires, the accept pause ends, or the
 * server has been idle for --exit-delay; -1 for ever. */
static int loop_timeout( void )
{
    int timeout = pending_timeout();

    if (accept_paused_ms)
    {
        uint64_t now = monotonic_ms();
        int left = accept_paused_ms > now ? (int)(accept_paused_ms - now) : 0;
        if (timeout < 0 || left < timeout) timeout = left;
    }
    if (!count_processes() && (timeout < 0 || timeout > (int)options.exit_delay * 1000))
        timeout = (int)options.exit_delay * 1000;
    return timeout;
}

/* The event loop.  SIGTERM and SIGINT are blocked except inside epoll_pwait, so a stop request
 * is seen at once, wherever it lands. */
static int run( int listen_fd, const sigset_t *wait_mask )
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, events[64];
    int i, n;

    if ((epoll_fd = epoll_create1( EPOLL_CLOEXEC )) < 0 ||
        epoll_ctl( epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev ))
        return 1;
    spare_fd = open( "/dev/null", O_RDONLY | O_CLOEXEC );
    while (!stop_requested)
    {
        if ((n = epoll_pwait( epoll_fd, events, 64, loop_timeout(), wait_mask )) < 0)
        {
            if (errno == EINTR) continue;
            break;
        }
        expire_pending();
        if (accept_paused_ms && monotonic_ms() >= accept_paused_ms) pause_accepting( listen_fd, 0 );
        if (!n && !count_processes() && !accept_paused_ms) break;   /* idle for exit_delay */
        /* a process named twice in this batch must outlive its disconnection */
        for (i = 0; i < n; i++)
            if (events[i].data.ptr) ((struct process *)events[i].data.ptr)->refs++;
        for (i = 0; i < n; i++)
        {
            struct process *process = events[i].data.ptr;

            if (!process)
            {
                accept_client( listen_fd );
                continue;
            }
            if (process->fd < 0) continue;
            if ((events[i].events & EPOLLIN) && !serve_connection( process )) continue;
            /* end of file, a hang-up or a protocol error: the client is gone */
            disconnect_process( process );
        }
        for (i = 0; i < n; i++)
            if (events[i].data.ptr) release_process( events[i].data.ptr );
    }
    shutdown_all();
    if (spare_fd >= 0) close( spare_fd );
    close( epoll_fd );
    return 0;
}

/* Raises the soft descriptor limit to the hard one: each client costs the server about eight
 * descriptors.  Past the limit, clients are refused cleanly (accept_client). */
static void raise_nofile_limit( void )
{
    struct rlimit limit;

    if (!getrlimit( RLIMIT_NOFILE, &limit ) && limit.rlim_cur < limit.rlim_max)
    {
        limit.rlim_cur = limit.rlim_max;
        setrlimit( RLIMIT_NOFILE, &limit );
    }
}

/* The default --reserve: 1/32 of the machine's memory, at least 64 MiB and at most 1 GiB. */
static uint64_t default_reserve( void )
{
    long pages = sysconf( _SC_PHYS_PAGES ), size = sysconf( _SC_PAGESIZE );
    uint64_t bytes = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 32 : 0;

    if (bytes < ((uint64_t)64 << 20)) bytes = (uint64_t)64 << 20;
    if (bytes > ((uint64_t)1 << 30)) bytes = (uint64_t)1 << 30;
    return bytes >> AWE_PAGE_SHIFT;
}

int main( int argc, char **argv )
{
    static const struct option long_options[] =
    {
        { "debug", no_argument, NULL, 'd' },
        { "foreground", no_argument, NULL, 'f' },
        { "dir", required_argument, NULL, 'D' },
        { "grant-lock-memory", required_argument, NULL, 'g' },
        { "quota", required_argument, NULL, 'q' },
        { "limit", required_argument, NULL, 'l' },
        { "reserve", required_argument, NULL, 'r' },
        { "unlocked", no_argument, NULL, 'u' },
        { "pfn-bits", required_argument, NULL, 'p' },
        { "large-pages", required_argument, NULL, 'L' },
        { "exit-delay", required_argument, NULL, 'e' },
        { "status", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    unsigned int index_bits = AWE_PFN_DEFAULT_INDEX_BITS, tag_bits = AWE_PFN_DEFAULT_TAG_BITS;
    char dir[PATH_MAX], lock_path[PATH_MAX + 8];
    struct sockaddr_un addr;
    sigset_t stop_signals, wait_mask;
    int c, status = 0, reserve_set = 0, lock_fd, listen_fd;

    while ((c = getopt_long( argc, argv, "dfh", long_options, NULL )) != -1)
    {
        switch (c)
        {
        case 'd': options.debug = options.foreground = 1; break;
        case 'f': options.foreground = 1; break;
        case 'D': options.dir = optarg; break;
        case 'u': options.unlocked = 1; break;
        case 's': status = 1; break;
        case 'h': usage( stdout ); return 0;
        case 'g':
            if (!strcmp( optarg, "all" )) options.grant_lock = 1;
            else if (!strcmp( optarg, "none" )) options.grant_lock = 0;
            else goto bad_option;
            break;
        case 'q':
            if (parse_size( optarg, &options.quota_frames )) goto bad_option;
            break;
        case 'l':
            if (parse_size( optarg, &options.limit_frames )) goto bad_option;
            break;
        case 'r':
            if (parse_size( optarg, &options.reserve_frames )) goto bad_option;
            reserve_set = 1;
            break;
        case 'e':
            options.exit_delay = (unsigned int)atoi( optarg );
            break;
        case 'p':
            if (sscanf( optarg, "%u:%u", &index_bits, &tag_bits ) != 2) goto bad_option;
            break;
        case 'L':
            if (!strcmp( optarg, "auto" )) options.large_pages = AWE_LARGE_AUTO;
            else if (!strcmp( optarg, "hugetlb" )) options.large_pages = AWE_LARGE_HUGETLB;
            else if (!strcmp( optarg, "emulate" )) options.large_pages = AWE_LARGE_EMULATE;
            else if (!strcmp( optarg, "fail" )) options.large_pages = AWE_LARGE_FAIL;
            else goto bad_option;
            break;
        default:
            goto bad_option;
        }
    }
    if (optind < argc) goto bad_option;
    if (!reserve_set) options.reserve_frames = default_reserve();
    if (awe_pfn_layout_init( &options.layout, index_bits, tag_bits ))
    {
        server_log( "--pfn-bits=%u:%u: each part must be at least 1 and their sum at most %u",
                    index_bits, tag_bits, AWE_PFN_MAX_BITS );
        return 2;
    }
    if (open_instance_dir( dir, sizeof(dir) )) return 1;
    if (status) return print_status( dir );

    /* one server per directory: a second one (two clients starting it at once) bows out */
    snprintf( lock_path, sizeof(lock_path), "%s/lock", dir );
    if ((lock_fd = open( lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600 )) < 0) return 1;
    if (flock( lock_fd, LOCK_EX | LOCK_NB )) return 0;

    /* signals first: a stop requested at any moment from now on is a clean shutdown.  They
     * stay blocked but inside epoll_pwait, so none is lost between two checks */
    signal( SIGPIPE, SIG_IGN );
    {
        struct sigaction sa = { .sa_handler = request_stop };
        sigemptyset( &stop_signals );
        sigaddset( &stop_signals, SIGTERM );
        sigaddset( &stop_signals, SIGINT );
        sigprocmask( SIG_BLOCK, &stop_signals, &wait_mask );
        sigdelset( &wait_mask, SIGTERM );
        sigdelset( &wait_mask, SIGINT );
        sigaction( SIGTERM, &sa, NULL );
        sigaction( SIGINT, &sa, NULL );
    }
    raise_nofile_limit();
    if (socket_address( dir, &addr )) return 1;
    unlink( addr.sun_path );
    if ((listen_fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0 )) < 0 ||
        bind( listen_fd, (struct sockaddr *)&addr, sizeof(addr) ) || listen( listen_fd, 128 ))
    {
        server_log( "cannot listen on %s: %s", addr.sun_path, strerror( errno ) );
        return 1;
    }
    if (!options.foreground)
    {
        /* the parent exits once the socket listens: a client waiting for it can connect now */
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid) _exit( 0 );
        setsid();
        if ((c = open( "/dev/null", O_RDWR )) >= 0)
        {
            dup2( c, 0 );
            dup2( c, 1 );
            if (c > 2) close( c );
        }
    }
    status = run( listen_fd, &wait_mask );
    unlink( addr.sun_path );
    close( listen_fd );
    free_tags();
    return status;

bad_option:
    usage( stderr );
    return 2;
}
