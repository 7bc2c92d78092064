/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The chaos suite's driver: options, the server under test, the checks between phases, figures.
 *
 *   chaos --server=PATH --dir=DIR
 *
 * Environment: CHAOS_SECONDS (time budget of the timed phases, default 75), CHAOS_SEED (replay a
 * run), CHAOS_PHASES (e.g. "kill,forge" or "1,4"), CHAOS_LIMIT_MB (the server's --limit, 256),
 * CHAOS_CLIENT_DEADLINE (seconds a call to a stopped server may take before failing, 5),
 * CHAOS_ACK_DEADLINE (seconds a cross-process Free may take, 5: the server's 2 s ack timeout
 * plus slack), CHAOS_PROBE_DEADLINE (seconds for a well-behaved round trip, 5), CHAOS_VERBOSE,
 * CHAOS_SERVER_TRACE (start the server with -d: its log traces every request).
 * Exit status: 0 when no violation was seen and no frame leaked, 1 otherwise, 2 on bad usage. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "awe.h"
#include "chaos/chaos.h"

struct chaos_figures *fig;
struct chaos_config cfg =
{
    .seconds = 75,
    .limit_mb = 256,
    .client_deadline_ms = 5000,
    .ack_deadline_ms = 5000,
    .probe_deadline_ms = 5000,
    .answer_deadline_ms = 2000,
};
struct chaos_server main_server = { .exit_delay = 2, .anchor = -1 };
const char *phase_name = "setup";
struct rng rng;

static uint64_t fork_count;                /* children forked by this process, for their seeds */

/* ---- reporting ------------------------------------------------------------------------------ */

/* One write per line, so that lines of concurrent children do not interleave. */
static void emit( const char *prefix, const char *fmt, va_list args )
{
    char line[2048];
    int n = snprintf( line, sizeof(line), "%s", prefix );

    if (n < 0) return;
    n += vsnprintf( line + n, sizeof(line) - (size_t)n - 1, fmt, args );
    if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
    if (n && line[n - 1] != '\n') line[n++] = '\n';
    fflush( stdout );
    if (write( STDOUT_FILENO, line, (size_t)n ) < 0) return;
}

void violation( const char *fmt, ... )
{
    char prefix[96];
    va_list args;

    fig_add( &fig->violations, 1 );
    snprintf( prefix, sizeof(prefix), "chaos: VIOLATION [%s] ", phase_name );
    va_start( args, fmt );
    emit( prefix, fmt, args );
    va_end( args );
}

void note( const char *fmt, ... )
{
    char prefix[96];
    va_list args;

    snprintf( prefix, sizeof(prefix), "chaos: [%s] ", phase_name );
    va_start( args, fmt );
    emit( prefix, fmt, args );
    va_end( args );
}

void verbose( const char *fmt, ... )
{
    char prefix[96];
    va_list args;

    if (!cfg.verbose) return;
    snprintf( prefix, sizeof(prefix), "chaos: [%s] ", phase_name );
    va_start( args, fmt );
    emit( prefix, fmt, args );
    va_end( args );
}

/* Memory shared with every child forked later; zeroed; never freed. */
void *shared_alloc( size_t size )
{
    void *p = mmap( NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );

    if (p == MAP_FAILED)
    {
        perror( "chaos: mmap" );
        exit( 2 );
    }
    return p;
}

/* ---- time and randomness -------------------------------------------------------------------- */

uint64_t now_us( void )
{
    struct timespec ts;

    clock_gettime( CLOCK_MONOTONIC, &ts );
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_ms( void )
{
    return now_us() / 1000;
}

void sleep_us( unsigned us )
{
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

    while (nanosleep( &ts, &ts ) && errno == EINTR) ;
}

void sleep_ms( unsigned ms )
{
    sleep_us( ms * 1000 );
}

/* splitmix64: small, seedable, good enough to pick actions */
uint64_t rng_next( struct rng *r )
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rng_below( struct rng *r, uint64_t n )
{
    return n ? rng_next( r ) % n : 0;
}

void rng_seed( struct rng *r, uint64_t seed )
{
    r->state = seed;
    rng_next( r );
}

/* ---- /proc ------------------------------------------------------------------------------- */

int proc_alive( pid_t pid )
{
    char path[64], buf[512], *p;
    int fd;
    ssize_t len;

    snprintf( path, sizeof(path), "/proc/%d/stat", (int)pid );
    if ((fd = open( path, O_RDONLY | O_CLOEXEC )) < 0) return 0;
    len = read( fd, buf, sizeof(buf) - 1 );
    close( fd );
    if (len <= 0) return 0;
    buf[len] = 0;
    /* a zombie is dead for our purposes */
    return (p = strrchr( buf, ')' )) && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

int proc_count_fds( pid_t pid )
{
    char path[64];
    struct dirent *de;
    DIR *dir;
    int n = 0;

    snprintf( path, sizeof(path), "/proc/%d/fd", (int)pid );
    if (!(dir = opendir( path ))) return -errno;
    while ((de = readdir( dir ))) if (de->d_name[0] != '.') n++;
    closedir( dir );
    return n;
}

/* The link targets of a process's descriptors, space separated. */
static void proc_list_fds( pid_t pid, char *out, size_t size )
{
    char path[320], target[256];
    struct dirent *de;
    size_t used = 0;
    DIR *dir;
    ssize_t len;

    out[0] = 0;
    snprintf( path, sizeof(path), "/proc/%d/fd", (int)pid );
    if (!(dir = opendir( path ))) return;
    while ((de = readdir( dir )) && used + 1 < size)
    {
        if (de->d_name[0] == '.') continue;
        snprintf( path, sizeof(path), "/proc/%d/fd/%s", (int)pid, de->d_name );
        if ((len = readlink( path, target, sizeof(target) - 1 )) < 0) continue;
        target[len] = 0;
        used += (size_t)snprintf( out + used, size - used, "%s%s=%s", used ? " " : "", de->d_name, target );
    }
    closedir( dir );
    if (used >= size) out[size - 1] = 0;
}

static int read_text( const char *path, char *buf, size_t size )
{
    int fd = open( path, O_RDONLY | O_CLOEXEC );
    ssize_t len;

    if (fd < 0) return -errno;
    len = read( fd, buf, size - 1 );
    close( fd );
    if (len < 0) return -errno;
    buf[len] = 0;
    return (int)len;
}

uint64_t proc_rss_kb( pid_t pid )
{
    char path[64], buf[4096], *line;

    snprintf( path, sizeof(path), "/proc/%d/status", (int)pid );
    if (read_text( path, buf, sizeof(buf) ) < 0 || !(line = strstr( buf, "VmRSS:" ))) return 0;
    return strtoull( line + 6, NULL, 10 );
}

/* The scheduler state of a process ('R' running or runnable, 'S' asleep ...), or 0. */
char proc_state( pid_t pid )
{
    char path[64], buf[512], *p;

    snprintf( path, sizeof(path), "/proc/%d/stat", (int)pid );
    if (read_text( path, buf, sizeof(buf) ) < 0 || !(p = strrchr( buf, ')' )) || !p[1]) return 0;
    return p[2];
}

uint64_t proc_cpu_ticks( pid_t pid )
{
    char path[64], buf[1024], *p;
    unsigned long long utime = 0, stime = 0;
    int i;

    snprintf( path, sizeof(path), "/proc/%d/stat", (int)pid );
    if (read_text( path, buf, sizeof(buf) ) < 0 || !(p = strrchr( buf, ')' ))) return 0;
    /* fields 14 and 15 (utime, stime); p is at the end of field 2, each space starts one more */
    for (i = 2; i <= 13 && p; i++) p = strchr( p + 1, ' ' );
    if (!p || sscanf( p + 1, "%llu %llu", &utime, &stime ) != 2) return 0;
    return utime + stime;
}

/* Memfds whose name ends in ":PID" of a process that no longer lives, among the descriptors
 * and the mappings of pid.  Returns how many, with the first few described. */
int proc_dead_memfds( pid_t pid, char *desc, size_t size )
{
    char path[320], target[256], *line, *next;
    static char maps[1 << 20];
    struct dirent *de;
    size_t used = 0;
    int found = 0;
    DIR *dir;
    ssize_t len;

    desc[0] = 0;
    snprintf( path, sizeof(path), "/proc/%d/fd", (int)pid );
    if ((dir = opendir( path )))
    {
        while ((de = readdir( dir )))
        {
            const char *colon;

            if (de->d_name[0] == '.') continue;
            snprintf( path, sizeof(path), "/proc/%d/fd/%s", (int)pid, de->d_name );
            if ((len = readlink( path, target, sizeof(target) - 1 )) < 0) continue;
            target[len] = 0;
            if (strncmp( target, "/memfd:", 7 ) || !(colon = strrchr( target, ':' )) || colon < target + 7)
                continue;
            if (proc_alive( (pid_t)atoi( colon + 1 ) ) || !atoi( colon + 1 )) continue;
            found++;
            if (used + 1 < size)
                used += (size_t)snprintf( desc + used, size - used, "%sfd %s=%s", used ? ", " : "",
                                          de->d_name, target );
        }
        closedir( dir );
    }
    snprintf( path, sizeof(path), "/proc/%d/maps", (int)pid );
    if (read_text( path, maps, sizeof(maps) ) < 0) return found;
    for (line = maps; line && *line; line = next)
    {
        char *name = strstr( line, "/memfd:" ), *colon, *end;

        if ((next = strchr( line, '\n' ))) *next++ = 0;
        if (!name) continue;
        if ((end = strstr( name, " (deleted)" ))) *end = 0;
        if (!(colon = strrchr( name, ':' )) || colon < name + 7 || !atoi( colon + 1 )) continue;
        if (proc_alive( (pid_t)atoi( colon + 1 ) )) continue;
        found++;
        if (used + 1 < size)
            used += (size_t)snprintf( desc + used, size - used, "%smapping %s", used ? ", " : "", name );
    }
    if (used >= size) desc[size - 1] = 0;
    return found;
}

/* ---- children ------------------------------------------------------------------------------ */

/* Forks a child of the suite: it dies with its parent, has its own random stream, and keeps
 * none of the driver's connections to the server. */
pid_t chaos_fork( void )
{
    uint64_t seed = rng_next( &rng ) ^ (++fork_count * 0x2545f4914f6cdd1dull);
    pid_t parent = getpid(), pid;

    fflush( stdout );
    fflush( stderr );
    if ((pid = fork())) return pid;
    prctl( PR_SET_PDEATHSIG, SIGKILL );
    if (getppid() != parent) _exit( 99 );
    rng_seed( &rng, seed );
    fork_count = 0;
    if (main_server.anchor >= 0) close( main_server.anchor );
    main_server.anchor = -1;
    return 0;
}

void describe_status( int status, char *buf, size_t size )
{
    if (WIFEXITED( status )) snprintf( buf, size, "exit status %d", WEXITSTATUS( status ) );
    else if (WIFSIGNALED( status ))
        snprintf( buf, size, "killed by signal %d (%s)", WTERMSIG( status ), strsignal( WTERMSIG( status ) ) );
    else snprintf( buf, size, "status 0x%x", status );
}

/* Waits for a child to end until deadline_ms from now.  Returns 0 with its wait status, or
 * -ETIMEDOUT (it still runs). */
static int wait_exit( pid_t pid, unsigned deadline_ms, int *status )
{
    uint64_t end = now_us() + (uint64_t)deadline_ms * 1000;
    unsigned pause = 200;
    pid_t ret;

    /* never waitpid( -1 ): a failed fork must not make us reap the server */
    if (pid <= 0) return -ECHILD;
    for (;;)
    {
        if ((ret = waitpid( pid, status, WNOHANG )) == pid) return 0;
        if (ret < 0 && errno != EINTR) return -errno;
        if (now_us() >= end) return -ETIMEDOUT;
        sleep_us( pause );
        if (pause < 10000) pause *= 2;
    }
}

/* Waits for a child until deadline_ms from now; past it the child is killed and reaped and
 * -ETIMEDOUT returned.  *status gets its wait status either way. */
int child_wait( pid_t pid, unsigned deadline_ms, int *status )
{
    int st = 0, ret = wait_exit( pid, deadline_ms, &st );

    if (ret == -ETIMEDOUT)
    {
        kill( pid, SIGKILL );
        kill( pid, SIGCONT );
        while (waitpid( pid, &st, 0 ) < 0 && errno == EINTR) ;
    }
    if (status) *status = st;
    return ret;
}

void child_kill( pid_t pid )
{
    if (pid <= 0) return;
    kill( pid, SIGKILL );
    kill( pid, SIGCONT );
    while (waitpid( pid, NULL, 0 ) < 0 && errno == EINTR) ;
}

/* Whether another process (or this one) can read a byte at addr: 0, or -errno (EFAULT when
 * nothing readable is mapped there). */
int read_probe( pid_t pid, const void *addr )
{
    char byte;
    struct iovec local = { &byte, 1 }, remote = { (void *)addr, 1 };

    return process_vm_readv( pid, &local, 1, &remote, 1, 0 ) == 1 ? 0 : -errno;
}

/* Enables SeLockMemoryPrivilege in the process token; returns 0 or the Win32 error. */
int enable_lock_privilege( void )
{
    TOKEN_PRIVILEGES privs = { .PrivilegeCount = 1 };
    HANDLE token;
    DWORD err;

    if (!OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &token )) return (int)GetLastError();
    privs.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (!LookupPrivilegeValue( NULL, SE_LOCK_MEMORY_NAME, &privs.Privileges[0].Luid ) ||
        !AdjustTokenPrivileges( token, FALSE, &privs, 0, NULL, NULL ))
        err = GetLastError() ? GetLastError() : 1;
    else err = GetLastError();
    CloseHandle( token );
    return (int)err;
}

static const char *const probe_steps[] =
{
    "done", "enable the privilege", "Allocate", "VirtualAlloc", "Map", "read a new frame as zero",
    "Free", "Free (count)",
};

/* The body of a well-behaved client: Allocate, Map, write and check, Free.  Returns the
 * failing step (probe_steps) or 0. */
static int probe_body( void )
{
    ULONG_PTR n = 32, pfns[32], i;
    DWORD err;
    char *region;

    if ((err = (DWORD)enable_lock_privilege()))
    {
        note( "probe: AdjustTokenPrivileges failed: error %u", err );
        return 1;
    }
    if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) || n != 32)
    {
        note( "probe: Allocate gave %lu frames, error %u", (unsigned long)n, GetLastError() );
        return 2;
    }
    if (!(region = VirtualAlloc( NULL, 32 * CHAOS_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE )))
        return 3;
    if (!MapUserPhysicalPages( region, n, pfns ))
    {
        note( "probe: Map failed: error %u", GetLastError() );
        return 4;
    }
    for (i = 0; i < n; i++)
    {
        if (region[i * CHAOS_PAGE] || region[i * CHAOS_PAGE + CHAOS_PAGE - 1]) return 5;
        region[i * CHAOS_PAGE] = (char)(i + 1);
    }
    if (!FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ))
    {
        note( "probe: Free failed: error %u", GetLastError() );
        return 6;
    }
    return n == 32 ? 0 : 7;
}

/* A well-behaved client in a child process must be served within the deadline.  Returns 0,
 * or -1 after reporting the violation. */
int probe_library( const char *dir, unsigned deadline_ms, const char *after )
{
    uint64_t start = now_ms();
    int status, ret;
    char how[96];
    pid_t pid;

    if (!(pid = chaos_fork()))
    {
        setenv( "AWE_SERVER_DIR", dir, 1 );
        _exit( probe_body() );
    }
    if (pid < 0) return -1;
    if ((ret = child_wait( pid, deadline_ms, &status )) == -ETIMEDOUT)
    {
        violation( "a well-behaved client (Allocate, Map, Free) was not served within %u ms after %s",
                   deadline_ms, after );
        return -1;
    }
    fig_add( &fig->calls, 4 );
    if (ret || !WIFEXITED( status ) || WEXITSTATUS( status ))
    {
        if (WIFEXITED( status ) && WEXITSTATUS( status ) < sizeof(probe_steps) / sizeof(probe_steps[0]))
            snprintf( how, sizeof(how), "%s failed", probe_steps[WEXITSTATUS( status )] );
        else describe_status( status, how, sizeof(how) );
        violation( "a well-behaved client was refused after %s: %s (after %llu ms)", after, how,
                   (unsigned long long)(now_ms() - start) );
        return -1;
    }
    return 0;
}

/* ---- what the server reports --------------------------------------------------------------- */

const struct status_row *status_find( const struct status_info *info, pid_t pid )
{
    unsigned i;

    for (i = 0; i < info->nrows; i++) if (info->rows[i].pid == (uint32_t)pid) return &info->rows[i];
    return NULL;
}

static void parse_status( char *text, struct status_info *info )
{
    char *line, *next;

    info->held = info->limit = 0;
    info->nrows = 0;
    for (line = text; line && *line; line = next)
    {
        struct status_row *row = &info->rows[info->nrows];
        unsigned long long v[6];
        unsigned int pid, tag;

        if ((next = strchr( line, '\n' ))) *next++ = 0;
        if (sscanf( line, "held: %llu", &v[0] ) == 1) info->held = v[0];
        else if (sscanf( line, "limit: %llu", &v[0] ) == 1) info->limit = v[0];
        else if (info->nrows < STATUS_MAX_ROWS &&
                 sscanf( line, "%u %u %llu %llu %llu %llu %llu %llu", &pid, &tag, &v[0], &v[1], &v[2],
                         &v[3], &v[4], &v[5] ) == 8)
        {
            row->pid = pid;
            row->tag = tag;
            row->allocated = v[0];
            row->quarantined = v[1];
            row->locked = v[2];
            row->memfd = v[3];
            row->mapped = v[4];
            row->vmas = v[5];
            info->nrows++;
        }
    }
}

/* Runs awe-server --status for the instance directory (AWE_SERVER_DIR), within a deadline.
 * Returns 0, -ETIMEDOUT (killed), -ECONNREFUSED (no server), -EPROTO (bad answer). */
int status_tool( const char *dir, struct status_info *info, unsigned deadline_ms )
{
    static char text[256 * 1024];
    uint64_t end = now_ms() + deadline_ms;
    size_t used = 0;
    int pipefd[2], status, ret;
    pid_t pid;

    if (pipe2( pipefd, O_CLOEXEC )) return -errno;
    if (!(pid = chaos_fork()))
    {
        dup2( pipefd[1], STDOUT_FILENO );
        setenv( "AWE_SERVER_DIR", dir, 1 );
        execl( cfg.server, "awe-server", "--status", (char *)NULL );
        _exit( 127 );
    }
    close( pipefd[1] );
    if (pid < 0)
    {
        close( pipefd[0] );
        return -EAGAIN;
    }
    for (;;)
    {
        struct pollfd pfd = { pipefd[0], POLLIN, 0 };
        uint64_t now = now_ms();
        ssize_t len;

        if (now >= end) break;
        if (poll( &pfd, 1, (int)(end - now) ) <= 0) continue;
        if ((len = read( pipefd[0], text + used, sizeof(text) - 1 - used )) <= 0) break;
        used += (size_t)len;
    }
    close( pipefd[0] );
    text[used] = 0;
    ret = child_wait( pid, (unsigned)(end > now_ms() ? end - now_ms() : 0) + 10, &status );
    if (ret == -ETIMEDOUT) return -ETIMEDOUT;
    if (strstr( text, "no awe-server is running" )) return -ECONNREFUSED;
    if (ret || !WIFEXITED( status ) || WEXITSTATUS( status )) return -EPROTO;
    parse_status( text, info );
    return 0;
}

/* get_status over a connection of our own (no init_process), within a deadline. */
int status_raw( const char *dir, struct status_info *info, unsigned deadline_ms )
{
    static union { struct get_status_reply reply; char bytes[AWE_MAX_MESSAGE]; } out;
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    const struct awe_wire_process_status *ps = (const void *)(&out.reply + 1);
    ssize_t len;
    unsigned i;
    int fd;

    if ((fd = raw_connect( dir )) < 0) return fd;
    len = raw_call( fd, &req, sizeof(req), &out, sizeof(out), deadline_ms );
    close( fd );
    if (len < 0) return (int)len;
    if ((size_t)len < sizeof(out.reply) || out.reply.header.status ||
        (size_t)len < sizeof(out.reply) + out.reply.processes * sizeof(*ps))
        return -EPROTO;
    info->held = out.reply.held_frames;
    info->limit = out.reply.limit_frames;
    info->nrows = 0;
    for (i = 0; i < out.reply.processes && i < STATUS_MAX_ROWS; i++)
    {
        struct status_row *row = &info->rows[info->nrows++];
        row->pid = ps[i].pid;
        row->tag = ps[i].tag;
        row->allocated = ps[i].frames_allocated;
        row->quarantined = ps[i].frames_quarantined;
        row->locked = ps[i].frames_locked;
        /* the fourth counter changed meaning with protocol 3: only --status's column is used */
        row->memfd = 0;
        row->mapped = ps[i].mapped_pages;
        row->vmas = ps[i].vmas;
    }
    return 0;
}

/* ---- the server under test ------------------------------------------------------------------ */

static void server_exec( struct chaos_server *s )
{
    char dir[PATH_MAX + 8], limit[32], delay[32];
    int fd;

    if ((fd = open( s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600 )) >= 0)
    {
        dup2( fd, STDOUT_FILENO );
        dup2( fd, STDERR_FILENO );
    }
    if ((fd = open( "/dev/null", O_RDONLY )) >= 0) dup2( fd, STDIN_FILENO );
    /* nothing else of ours (nor of whoever started us) in the server: its baseline is its own */
    syscall( SYS_close_range, 3, ~0u, 0 );
    if (s->nofile)
    {
        struct rlimit lim = { s->nofile, s->nofile };
        setrlimit( RLIMIT_NOFILE, &lim );
    }
    snprintf( dir, sizeof(dir), "--dir=%s", s->dir );
    snprintf( limit, sizeof(limit), "--limit=%uM", cfg.limit_mb );
    snprintf( delay, sizeof(delay), "--exit-delay=%u", s->exit_delay );
    /* cfg.unlocked is NULL unless needed, which ends the argument list there */
    if (cfg.server_trace) execl( cfg.server, "awe-server", "-d", dir, limit, delay, cfg.unlocked, (char *)NULL );
    else execl( cfg.server, "awe-server", "--foreground", dir, limit, delay, cfg.unlocked, (char *)NULL );
    _exit( 127 );
}

/* Starts the server in the foreground, waits until it answers on an anchor connection, and
 * takes its baseline (descriptors and memory with no client but the anchor). */
int server_start( struct chaos_server *s )
{
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    char reply[AWE_MAX_MESSAGE], path[PATH_MAX + 16];
    uint64_t end = now_ms() + 5000;
    FILE *file;
    pid_t pid;

    if (!s->log[0]) snprintf( s->log, sizeof(s->log), "%s/server.log", s->dir );
    if (!(pid = chaos_fork())) server_exec( s );
    if (pid < 0) return -errno;
    s->pid = pid;
    snprintf( path, sizeof(path), "%s/server.pid", s->dir );
    if ((file = fopen( path, "we" )))
    {
        fprintf( file, "%d\n", (int)pid );
        fclose( file );
    }
    while ((s->anchor = raw_connect( s->dir )) < 0)
    {
        if (now_ms() >= end || !server_alive( s ))
        {
            note( "the server did not start (see %s)", s->log );
            server_kill( s );
            return -ECONNREFUSED;
        }
        sleep_ms( 10 );
    }
    if (raw_call( s->anchor, &req, sizeof(req), reply, sizeof(reply), 5000 ) < (ssize_t)sizeof(struct get_status_reply))
    {
        note( "the new server does not answer" );
        server_kill( s );
        return -EPROTO;
    }
    s->base_fds = (unsigned)proc_count_fds( s->pid );
    s->base_rss_kb = 0;
    return 0;
}

/* Whether the server still runs; reaps it when it has gone (s->pid becomes 0 and s->ended
 * says how). */
int server_alive( struct chaos_server *s )
{
    int status;

    if (!s->pid) return 0;
    if (waitpid( s->pid, &status, WNOHANG ) != s->pid) return 1;
    describe_status( status, s->ended, sizeof(s->ended) );
    s->pid = 0;
    return 0;
}

void server_kill( struct chaos_server *s )
{
    if (s->anchor >= 0) close( s->anchor );
    s->anchor = -1;
    if (!s->pid) return;
    child_kill( s->pid );
    s->pid = 0;
}

/* What the server is doing: its state, what it waits in, its CPU use, its last log line. */
void server_describe( struct chaos_server *s, char *buf, size_t size )
{
    char path[64], stat[512] = "", wchan[128] = "?", syscall_line[256] = "?", *p;
    uint64_t t0, t1;
    char state = '?';

    if (!s->pid)
    {
        snprintf( buf, size, "not running" );
        return;
    }
    snprintf( path, sizeof(path), "/proc/%d/stat", (int)s->pid );
    if (read_text( path, stat, sizeof(stat) ) > 0 && (p = strrchr( stat, ')' )) && p[1]) state = p[2];
    snprintf( path, sizeof(path), "/proc/%d/wchan", (int)s->pid );
    read_text( path, wchan, sizeof(wchan) );
    snprintf( path, sizeof(path), "/proc/%d/syscall", (int)s->pid );
    if (read_text( path, syscall_line, sizeof(syscall_line) ) > 0 && (p = strchr( syscall_line, ' ' ))) *p = 0;
    if ((p = strchr( syscall_line, '\n' ))) *p = 0;
    t0 = proc_cpu_ticks( s->pid );
    sleep_ms( 200 );
    t1 = proc_cpu_ticks( s->pid );
    snprintf( buf, size, "state %c, waiting in %s, syscall %s, CPU %llu%% over 0.2 s", state,
              wchan[0] ? wchan : "-", syscall_line,
              (unsigned long long)((t1 - t0) * 500 / (uint64_t)sysconf( _SC_CLK_TCK )) );
}

/* Stops the server with SIGTERM, its clean shutdown: it must exit with status 0 within 3 s.
 * Returns 0, or -1 after reporting (the server is killed then). */
int server_stop( struct chaos_server *s, const char *after )
{
    char how[96], desc[256];
    int status = 0;

    if (s->anchor >= 0) close( s->anchor );
    s->anchor = -1;
    if (!server_alive( s ))
    {
        violation( "the server was gone before the SIGTERM at %s (%s)", after, s->ended );
        return -1;
    }
    kill( s->pid, SIGTERM );
    if (wait_exit( s->pid, 3000, &status ) == -ETIMEDOUT)
    {
        server_describe( s, desc, sizeof(desc) );
        violation( "SIGTERM at %s did not stop the server within 3 s (%s)", after, desc );
        server_kill( s );
        return -1;
    }
    s->pid = 0;
    describe_status( status, how, sizeof(how) );
    if (!WIFEXITED( status ) || WEXITSTATUS( status ))
    {
        violation( "SIGTERM at %s: the server ended with %s, not exit status 0", after, how );
        return -1;
    }
    return 0;
}

/* Kills a server that failed a check and starts a new one, so that later phases still test. */
void server_restart( struct chaos_server *s, const char *why )
{
    note( "killing the server (%s) and starting a new one", why );
    fig_add( &fig->restarts, 1 );
    server_kill( s );
    if (server_start( s ))
    {
        violation( "no new server could be started; giving up" );
        exit( 1 );
    }
}

/* The server must live, answer get_status and serve a well-behaved client.  Returns 0, or
 * -1 after reporting (a server that died or stopped answering is restarted). */
int server_check( struct chaos_server *s, const char *after )
{
    static struct status_info info;
    char desc[256];

    if (!server_alive( s ))
    {
        violation( "the server died after %s (%s)", after, s->ended );
        server_restart( s, "it died" );
        return -1;
    }
    if (status_raw( s->dir, &info, cfg.answer_deadline_ms ))
    {
        server_describe( s, desc, sizeof(desc) );
        violation( "the server did not answer get_status within %u ms after %s (%s)",
                   cfg.answer_deadline_ms, after, desc );
        server_restart( s, "unresponsive" );
        return -1;
    }
    if (probe_library( s->dir, cfg.probe_deadline_ms, after ))
    {
        if (!server_alive( s ) || status_raw( s->dir, &info, cfg.answer_deadline_ms ))
            server_restart( s, "unresponsive" );
        return -1;
    }
    return 0;
}

/* Once every client of a batch has gone: --status must list no process and no frame held, and
 * the server's descriptors, memfds and memory must come back to the baseline.  Returns 0, or
 * -1 after reporting what did not (leaked frames are counted). */
int server_settle( struct chaos_server *s, const char *after )
{
    static struct status_info info;
    uint64_t end = now_ms() + 6000, rss, slack;
    char dead[512], fds[2048];
    int ret, nfds = 0, ndead = 0, ok = 0;

    if (!server_alive( s ))
    {
        violation( "the server died after %s (%s)", after, s->ended );
        server_restart( s, "it died" );
        return -1;
    }
    for (;;)
    {
        ret = status_tool( s->dir, &info, cfg.answer_deadline_ms + 1000 );
        nfds = proc_count_fds( s->pid );
        ndead = proc_dead_memfds( s->pid, dead, sizeof(dead) );
        if (!ret && !info.nrows && !info.held && nfds == (int)s->base_fds && !ndead)
        {
            ok = 1;
            break;
        }
        if (ret == -ETIMEDOUT || now_ms() >= end) break;
        sleep_ms( 50 );
    }
    if (!ok)
    {
        unsigned i;

        if (ret)
        {
            server_describe( s, dead, sizeof(dead) );
            violation( "awe-server --status did not answer after %s (%s): %s", after,
                       ret == -ETIMEDOUT ? "timed out" : strerror( -ret ), dead );
            server_restart( s, "unresponsive" );
            return -1;
        }
        for (i = 0; i < info.nrows && i < 4; i++)
            violation( "after %s every client is gone, yet --status lists pid %u (%s): %llu frames "
                       "allocated, %llu quarantined", after, info.rows[i].pid,
                       proc_alive( (pid_t)info.rows[i].pid ) ? "alive" : "dead",
                       (unsigned long long)info.rows[i].allocated,
                       (unsigned long long)info.rows[i].quarantined );
        if (info.held)
        {
            violation( "after %s: %llu frames still held with no client left", after,
                       (unsigned long long)info.held );
            fig_add( &fig->frames_leaked, info.held );
        }
        if (nfds != (int)s->base_fds)
        {
            proc_list_fds( s->pid, fds, sizeof(fds) );
            violation( "after %s the server has %d descriptors, %u at the start: %s", after, nfds,
                       s->base_fds, fds );
        }
        if (ndead) violation( "after %s the server still has %d memfds of dead clients: %s", after, ndead, dead );
        return -1;
    }
    rss = proc_rss_kb( s->pid );
    if (!s->base_rss_kb)
    {
        s->base_rss_kb = rss;
        return 0;
    }
    slack = s->base_rss_kb / 2 > 16384 ? s->base_rss_kb / 2 : 16384;
    if (rss > s->base_rss_kb && rss - s->base_rss_kb > s->max_rss_growth_kb)
        s->max_rss_growth_kb = rss - s->base_rss_kb;
    if (rss > s->base_rss_kb + slack)
    {
        violation( "after %s the server's VmRSS is %llu kB, %llu kB at the start (slack %llu kB)", after,
                   (unsigned long long)rss, (unsigned long long)s->base_rss_kb, (unsigned long long)slack );
        return -1;
    }
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static unsigned env_unsigned( const char *name, unsigned def )
{
    const char *value = getenv( name );
    char *end;
    unsigned long v;

    if (!value || !*value) return def;
    v = strtoul( value, &end, 0 );
    if (*end)
    {
        fprintf( stderr, "chaos: %s=%s is not a number\n", name, value );
        exit( 2 );
    }
    return (unsigned)v;
}

static const struct
{
    const char *name;
    const char *title;
    void      (*run)( unsigned budget_ms );
    unsigned    share;           /* per mille of CHAOS_SECONDS */
} phases[] =
{
    { "kill",    "kill storms",                           phase_kill_storms,    260 },
    { "hostile", "hostile raw protocol clients",          phase_hostile,        120 },
    { "tamper",  "tampering with received descriptors",   phase_tamper,         120 },
    { "forge",   "forged sync states",                    phase_forge,          120 },
    { "traffic", "concurrent traffic with data stamps",   phase_traffic,        260 },
    { "emfile",  "connection flood at a low RLIMIT_NOFILE", phase_emfile,        60 },
    { "stop",    "calls to a stopped server",             phase_stopped_server,  60 },
};

static int phase_selected( unsigned index )
{
    const char *p = cfg.phases;
    size_t len = strlen( phases[index].name );

    if (!p || !*p || !strcmp( p, "all" )) return 1;
    while (*p)
    {
        size_t n = strcspn( p, ", " );
        if ((n == len && !strncmp( p, phases[index].name, len )) ||
            (n && (unsigned)atoi( p ) == index + 1 && p[0] >= '0' && p[0] <= '9'))
            return 1;
        p += n;
        while (*p == ',' || *p == ' ') p++;
    }
    return 0;
}

static void usage( FILE *out )
{
    fprintf( out, "Usage: chaos --server=AWE-SERVER --dir=INSTANCE-DIR\n"
                  "Runs the chaos suite against a server it starts in INSTANCE-DIR (see chaos/chaos.c\n"
                  "for the CHAOS_* variables).\n" );
}

int main( int argc, char **argv )
{
    static const struct option options[] =
    {
        { "server", required_argument, NULL, 's' },
        { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *seed_env = getenv( "CHAOS_SEED" );
    uint64_t start, leaked, violations;
    unsigned i;
    int c;

    while ((c = getopt_long( argc, argv, "h", options, NULL )) != -1)
    {
        switch (c)
        {
        case 's': cfg.server = optarg; break;
        case 'd': cfg.dir = optarg; break;
        case 'h': usage( stdout ); return 0;
        default: usage( stderr ); return 2;
        }
    }
    if (!cfg.server || !cfg.dir || optind < argc)
    {
        usage( stderr );
        return 2;
    }
    cfg.seconds = env_unsigned( "CHAOS_SECONDS", cfg.seconds );
    cfg.limit_mb = env_unsigned( "CHAOS_LIMIT_MB", cfg.limit_mb );
    cfg.client_deadline_ms = env_unsigned( "CHAOS_CLIENT_DEADLINE", cfg.client_deadline_ms / 1000 ) * 1000;
    cfg.ack_deadline_ms = env_unsigned( "CHAOS_ACK_DEADLINE", cfg.ack_deadline_ms / 1000 ) * 1000;
    cfg.probe_deadline_ms = env_unsigned( "CHAOS_PROBE_DEADLINE", cfg.probe_deadline_ms / 1000 ) * 1000;
    cfg.verbose = (int)env_unsigned( "CHAOS_VERBOSE", 0 );
    cfg.server_trace = (int)env_unsigned( "CHAOS_SERVER_TRACE", 0 );
    cfg.phases = getenv( "CHAOS_PHASES" );
    if (seed_env && *seed_env) cfg.seed = strtoull( seed_env, NULL, 0 );
    else cfg.seed = now_us() ^ ((uint64_t)getpid() << 32);
    rng_seed( &rng, cfg.seed );
    setvbuf( stdout, NULL, _IOLBF, 0 );
    signal( SIGPIPE, SIG_IGN );

    fig = shared_alloc( sizeof(*fig) );
    snprintf( main_server.dir, sizeof(main_server.dir), "%s", cfg.dir );
    /* every library client talks to our server, and none may start another one */
    setenv( "AWE_SERVER_DIR", cfg.dir, 1 );
    setenv( "AWE_SERVER", "/nonexistent/awe-server-is-started-by-chaos", 1 );

    printf( "chaos: seed 0x%llx (CHAOS_SEED=0x%llx replays it), CHAOS_SECONDS=%u, limit %u MiB, "
            "client deadline %u s, ack deadline %u s\n", (unsigned long long)cfg.seed,
            (unsigned long long)cfg.seed, cfg.seconds, cfg.limit_mb, cfg.client_deadline_ms / 1000,
            cfg.ack_deadline_ms / 1000 );
    /* a user who may lock less than the limit would see partial allocations everywhere */
    {
        struct rlimit lim;
        if (geteuid() && !getrlimit( RLIMIT_MEMLOCK, &lim ) && lim.rlim_cur != RLIM_INFINITY &&
            lim.rlim_cur < ((rlim_t)cfg.limit_mb << 20) * 2)
        {
            printf( "chaos: RLIMIT_MEMLOCK is %llu KiB: the server runs --unlocked\n",
                    (unsigned long long)(lim.rlim_cur >> 10) );
            cfg.unlocked = "--unlocked";
        }
    }
    if (server_start( &main_server ))
    {
        printf( "chaos: cannot start %s\n", cfg.server );
        return 1;
    }
    /* the memory baseline is taken once the server has served a first client */
    if (!server_check( &main_server, "the start" )) server_settle( &main_server, "the start" );

    start = now_ms();
    for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
    {
        uint64_t t0 = now_ms(), v0 = fig_get( &fig->violations );
        unsigned budget = cfg.seconds * phases[i].share;

        if (!phase_selected( i )) continue;
        phase_name = phases[i].name;
        printf( "== phase %u: %s\n", i + 1, phases[i].title );
        phases[i].run( budget );
        if (!server_check( &main_server, phases[i].title )) server_settle( &main_server, phases[i].title );
        printf( "   %s: %llu violations, %.1f s\n", phases[i].name,
                (unsigned long long)(fig_get( &fig->violations ) - v0), (now_ms() - t0) / 1000.0 );
    }
    phase_name = "end";
    server_stop( &main_server, "the end of the run" );

    leaked = fig_get( &fig->frames_leaked );
    violations = fig_get( &fig->violations );
    printf( "chaos: kills survived %llu (of %llu, %llu stopped first), frames leaked %llu, messages sent %llu, "
            "tamperings refused %llu (accepted %llu), forged states %llu, calls %llu, stamps checked %llu, "
            "cross-process frees %llu (%llu past the ack timeout), server restarts %llu, "
            "server memory growth %llu kB, violations %llu, seed 0x%llx, %.1f s\n",
            (unsigned long long)fig_get( &fig->kills_survived ), (unsigned long long)fig_get( &fig->kills ),
            (unsigned long long)fig_get( &fig->stops ), (unsigned long long)leaked,
            (unsigned long long)fig_get( &fig->messages ), (unsigned long long)fig_get( &fig->tamper_refused ),
            (unsigned long long)fig_get( &fig->tamper_accepted ), (unsigned long long)fig_get( &fig->forgeries ),
            (unsigned long long)fig_get( &fig->calls ), (unsigned long long)fig_get( &fig->stamps ),
            (unsigned long long)fig_get( &fig->cross_frees ), (unsigned long long)fig_get( &fig->ack_timeouts ),
            (unsigned long long)fig_get( &fig->restarts ), (unsigned long long)main_server.max_rss_growth_kb,
            (unsigned long long)violations, (unsigned long long)cfg.seed, (now_ms() - start) / 1000.0 );
    if (violations || leaked)
    {
        printf( "chaos: FAILED (replay with CHAOS_SEED=0x%llx; the server's log is %s)\n",
                (unsigned long long)cfg.seed, main_server.log );
        return 1;
    }
    printf( "chaos: passed\n" );
    return 0;
}
