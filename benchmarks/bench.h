/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench.h: what the benchmarks share: options, timing, medians, a private server, the table.
 *
 * Every benchmark accepts [--quick] [--tsv FILE]; with --tsv it appends one line per case to
 * FILE in the columns of benchmarks/results/latest.tsv (the Makefile writes the header once):
 *     case  unit  ours  floor  naive  ours_over_floor  naive_over_ours
 * ours, floor and naive are costs in the same unit (lower is better), medians of several
 * repetitions; a baseline that does not apply is "-", and so are the ratios that need it.
 *
 * A benchmark that needs a server starts its own (bench_server_start) in a fresh instance
 * directory, never the user's default instance, and points the library at it. */

#ifndef __AWE_BENCH_H
#define __AWE_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "awe.h"
#include "awe/protocol.h"

#define BENCH_NONE NAN                 /* a baseline that does not apply: "-" */

struct bench_options
{
    int         quick;                 /* --quick: reduced sizes and repetitions */
    const char *tsv;                   /* --tsv FILE: append the rows here */
};

/* One line of the table: costs in unit, medians. */
struct bench_row
{
    const char *name;
    const char *unit;
    double      ours;
    double      floor;                 /* BENCH_NONE if it does not apply */
    double      naive;                 /* BENCH_NONE if it does not apply */
};

struct bench_server
{
    char  dir[64];                     /* private instance directory */
    pid_t pid;                         /* the awe-server we started, 0 if none */
    pid_t owner;                       /* the process that started it (not a forked client) */
};

static inline struct bench_server *bench_server( void )
{
    static struct bench_server server;
    return &server;
}

/* Stops the private server, if any, and removes its directory.  Safe to call twice. */
static inline void bench_server_stop( void )
{
    struct bench_server *srv = bench_server();
    char path[128];
    int status;

    if (getpid() != srv->owner) return;
    if (srv->pid > 0)
    {
        kill( srv->pid, SIGTERM );
        waitpid( srv->pid, &status, 0 );
        srv->pid = 0;
    }
    if (!srv->dir[0]) return;
    snprintf( path, sizeof(path), "%s/socket", srv->dir );
    unlink( path );
    snprintf( path, sizeof(path), "%s/lock", srv->dir );
    unlink( path );
    rmdir( srv->dir );
    srv->dir[0] = 0;
}

/* Reports a fatal error, stops the server when called from the process that started it (a
 * forked client leaves it to its parent), and exits with status 1. */
static inline void bench_die( const char *fmt, ... )
{
    va_list args;

    fprintf( stderr, "%s: ", program_invocation_short_name );
    va_start( args, fmt );
    vfprintf( stderr, fmt, args );
    va_end( args );
    fputc( '\n', stderr );
    if (bench_server()->pid > 0 && getpid() == bench_server()->owner) bench_server_stop();
    exit( 1 );
}

/* Parses [--quick] [--tsv FILE]; exits with usage on anything else. */
static inline void bench_parse_args( int argc, char **argv, struct bench_options *opt )
{
    int i;

    memset( opt, 0, sizeof(*opt) );
    for (i = 1; i < argc; i++)
    {
        if (!strcmp( argv[i], "--quick" )) opt->quick = 1;
        else if (!strcmp( argv[i], "--tsv" ) && i + 1 < argc) opt->tsv = argv[++i];
        else
        {
            fprintf( stderr, "usage: %s [--quick] [--tsv FILE]\n", argv[0] );
            exit( 2 );
        }
    }
}

static inline double bench_now_ns( void )
{
    struct timespec ts;

    clock_gettime( CLOCK_MONOTONIC, &ts );
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int bench_compare_double( const void *a, const void *b )
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Median of v[0 .. n) (sorts v); BENCH_NONE for no samples. */
static inline double bench_median( double *v, int n )
{
    if (n <= 0) return BENCH_NONE;
    qsort( v, n, sizeof(*v), bench_compare_double );
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A small fast generator (xorshift64*), one state per thread. */
static inline uint64_t bench_random( uint64_t *state )
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---- the private server ---------------------------------------------------------------- */

/* Starts $AWE_SERVER in the foreground in a fresh directory with the extra options (a
 * NULL-terminated list, may be NULL) and points AWE_SERVER_DIR at it. */
static inline void bench_server_start( const char *const *extra )
{
    struct bench_server *srv = bench_server();
    const char *server = getenv( "AWE_SERVER" ), *argv[16];
    char dir_opt[96], sock[96];
    struct stat st;
    int argc = 0, i;

    if (!server || !*server) bench_die( "AWE_SERVER must name the awe-server binary (make bench sets it)" );
    srv->owner = getpid();
    snprintf( srv->dir, sizeof(srv->dir), "/tmp/awe-bench-XXXXXX" );
    if (!mkdtemp( srv->dir )) bench_die( "mkdtemp: %s", strerror( errno ) );
    setenv( "AWE_SERVER_DIR", srv->dir, 1 );
    snprintf( dir_opt, sizeof(dir_opt), "--dir=%s", srv->dir );
    argv[argc++] = server;
    argv[argc++] = "--foreground";
    argv[argc++] = "--exit-delay=600";
    argv[argc++] = dir_opt;
    for (i = 0; extra && extra[i] && argc < 15; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;

    fflush( NULL );
    if ((srv->pid = fork()) < 0) bench_die( "fork: %s", strerror( errno ) );
    if (!srv->pid)
    {
        execv( server, (char **)argv );
        _exit( 127 );
    }
    snprintf( sock, sizeof(sock), "%s/socket", srv->dir );
    for (i = 0; i < 500 && stat( sock, &st ); i++) usleep( 10000 );
    if (stat( sock, &st )) bench_die( "%s did not start", server );
}

/* Returns non-zero if the private server is still running. */
static inline int bench_server_alive( void )
{
    int status;

    return bench_server()->pid > 0 && waitpid( bench_server()->pid, &status, WNOHANG ) == 0;
}

/* A raw SOCK_SEQPACKET connection to the private server, for the naive baselines. */
static inline int bench_raw_connect( void )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 );

    snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", bench_server()->dir );
    if (fd < 0 || connect( fd, (struct sockaddr *)&addr, sizeof(addr) ))
        bench_die( "connect %s: %s", addr.sun_path, strerror( errno ) );
    return fd;
}

/* One real server round trip: a get_status request (the cheapest request a connection may
 * send without attaching) and its reply.  Returns the number of processes the server holds. */
static inline uint32_t bench_round_trip( int fd )
{
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    union { struct get_status_reply reply; char bytes[4096]; } buf;
    ssize_t len;

    if (send( fd, &req, sizeof(req), MSG_NOSIGNAL ) != (ssize_t)sizeof(req))
        bench_die( "round trip send: %s", strerror( errno ) );
    while ((len = recv( fd, &buf, sizeof(buf), 0 )) < 0 && errno == EINTR) ;
    if (len < (ssize_t)sizeof(buf.reply) || buf.reply.header.status)
        bench_die( "round trip: bad reply (%zd bytes)", len );
    return buf.reply.processes;
}

/* Whether the server may lock bytes of frames: RLIMIT_MEMLOCK is unlimited or large enough,
 * or we hold CAP_IPC_LOCK (root), which the server inherits.  Writes the reason to why. */
static inline int bench_can_lock( uint64_t bytes, char *why, size_t size )
{
    struct rlimit limit;
    unsigned long long caps = 0;
    char line[256];
    FILE *file;

    if ((file = fopen( "/proc/self/status", "re" )))
    {
        while (fgets( line, sizeof(line), file ))
            if (!strncmp( line, "CapEff:", 7 )) caps = strtoull( line + 7, NULL, 16 );
        fclose( file );
    }
    getrlimit( RLIMIT_MEMLOCK, &limit );
    if (caps & (1ull << 14))   /* CAP_IPC_LOCK */
    {
        snprintf( why, size, "locked (CAP_IPC_LOCK: RLIMIT_MEMLOCK does not apply)" );
        return 1;
    }
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= bytes + (64 << 20))
    {
        snprintf( why, size, "locked (RLIMIT_MEMLOCK %s)",
                  limit.rlim_cur == RLIM_INFINITY ? "unlimited" : "large enough" );
        return 1;
    }
    snprintf( why, size, "UNLOCKED (--unlocked: RLIMIT_MEMLOCK %llu KiB < %llu MiB needed)",
              (unsigned long long)limit.rlim_cur >> 10, (unsigned long long)bytes >> 20 );
    return 0;
}

/* Enables SeLockMemoryPrivilege, as the Windows AWE sample does. */
static inline void bench_enable_lock_privilege( void )
{
    TOKEN_PRIVILEGES tp;
    HANDLE token;

    if (!OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token ))
        bench_die( "OpenProcessToken: error %u", GetLastError() );
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (!LookupPrivilegeValueA( NULL, SE_LOCK_MEMORY_NAME, &tp.Privileges[0].Luid ) ||
        !AdjustTokenPrivileges( token, FALSE, &tp, 0, NULL, NULL ) || GetLastError() != ERROR_SUCCESS)
        bench_die( "cannot enable SeLockMemoryPrivilege: error %u", GetLastError() );
    CloseHandle( token );
}

/* ---- /proc/meminfo --------------------------------------------------------------------- */

struct bench_meminfo
{
    long mlocked_kb;
    long shmem_kb;
    long available_kb;
};

static inline void bench_read_meminfo( struct bench_meminfo *info )
{
    char line[256];
    FILE *file = fopen( "/proc/meminfo", "re" );

    memset( info, 0, sizeof(*info) );
    if (!file) bench_die( "/proc/meminfo: %s", strerror( errno ) );
    while (fgets( line, sizeof(line), file ))
    {
        if (!strncmp( line, "Mlocked:", 8 )) info->mlocked_kb = strtol( line + 8, NULL, 10 );
        else if (!strncmp( line, "Shmem:", 6 )) info->shmem_kb = strtol( line + 6, NULL, 10 );
        else if (!strncmp( line, "MemAvailable:", 13 )) info->available_kb = strtol( line + 13, NULL, 10 );
    }
    fclose( file );
}

/* Reads a process's locked memory (VmLck) and shared memory it maps (RssShmem), in KiB. */
static inline void bench_read_proc_memory( pid_t pid, long *locked_kb, long *shmem_kb )
{
    char path[64], line[256];
    FILE *file;

    *locked_kb = *shmem_kb = -1;
    snprintf( path, sizeof(path), "/proc/%d/status", (int)pid );
    if (!(file = fopen( path, "re" ))) return;
    while (fgets( line, sizeof(line), file ))
    {
        if (!strncmp( line, "VmLck:", 6 )) *locked_kb = strtol( line + 6, NULL, 10 );
        else if (!strncmp( line, "RssShmem:", 9 )) *shmem_kb = strtol( line + 9, NULL, 10 );
    }
    fclose( file );
}

/* ---- the table --------------------------------------------------------------------------- */

static inline void bench_print_header( void )
{
    printf( "%-26s %-9s %11s %11s %11s %10s %10s\n", "case", "unit", "ours", "floor", "naive",
            "ours/floor", "naive/ours" );
}

static inline void bench_format( char *buf, size_t size, double v, const char *fmt )
{
    if (isnan( v )) snprintf( buf, size, "-" );
    else snprintf( buf, size, fmt, v );
}

static inline void bench_print_row( const struct bench_row *row )
{
    char ours[32], floor_[32], naive[32], r1[32], r2[32];

    bench_format( ours, sizeof(ours), row->ours, "%.3f" );
    bench_format( floor_, sizeof(floor_), row->floor, "%.3f" );
    bench_format( naive, sizeof(naive), row->naive, "%.3f" );
    bench_format( r1, sizeof(r1), row->ours / row->floor, "%.2fx" );
    bench_format( r2, sizeof(r2), row->naive / row->ours, "%.1fx" );
    printf( "%-26s %-9s %11s %11s %11s %10s %10s\n", row->name, row->unit, ours, floor_, naive, r1, r2 );
}

/* Appends the rows to path (the header is the Makefile's). */
static inline void bench_write_tsv( const char *path, const struct bench_row *rows, size_t n )
{
    FILE *out;
    size_t i;

    if (!path) return;
    if (!(out = fopen( path, "a" ))) bench_die( "%s: %s", path, strerror( errno ) );
    for (i = 0; i < n; i++)
    {
        char ours[32], floor_[32], naive[32], r1[32], r2[32];

        bench_format( ours, sizeof(ours), rows[i].ours, "%.3f" );
        bench_format( floor_, sizeof(floor_), rows[i].floor, "%.3f" );
        bench_format( naive, sizeof(naive), rows[i].naive, "%.3f" );
        bench_format( r1, sizeof(r1), rows[i].ours / rows[i].floor, "%.3f" );
        bench_format( r2, sizeof(r2), rows[i].naive / rows[i].ours, "%.3f" );
        fprintf( out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rows[i].name, rows[i].unit, ours, floor_,
                 naive, r1, r2 );
    }
    if (fclose( out )) bench_die( "%s: %s", path, strerror( errno ) );
}

#endif  /* __AWE_BENCH_H */
