/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test fixture: a private awe-server per test, child processes as clients, raw requests.
 *
 * Each test starts its own server (in the foreground, in a fresh instance directory, with the
 * options it needs) and stops it at teardown.  Client work runs in forked children so that
 * every client starts unattached, also under valgrind (CK_FORK=no); a child reports failure
 * through its exit status, with the reason on stderr. */

#ifndef __AWE_SERVER_FIXTURE_H
#define __AWE_SERVER_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "awe/protocol.h"
#include "awe_check.h"

static struct
{
    char  dir[64];
    pid_t pid;
} srv;

/* Fails the current child: prints why and exits with status 1. */
#define CHILD_CHECK(cond, ...) \
    do { if (!(cond)) { fprintf( stderr, "%s:%d: child check failed: %s: ", __FILE__, __LINE__, #cond ); \
                        fprintf( stderr, __VA_ARGS__ ); fputc( '\n', stderr ); _exit( 1 ); } } while (0)

static inline void sleep_ms( long ms )
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep( &ts, NULL );
}

/* Returns non-zero if the test's server accepts a connection now. */
static inline int server_accepts( void )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 ), ok;

    snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", srv.dir );
    ok = fd >= 0 && !connect( fd, (struct sockaddr *)&addr, sizeof(addr) );
    if (fd >= 0) close( fd );
    return ok;
}

/* Runs the server under these commands (e.g. prlimit), NULL-terminated; NULL: none. */
static const char *const *server_wrapper;

/* Starts awe-server with the given extra options (NULL-terminated) in a fresh directory. */
static inline void server_start_args( const char *first, ... )
{
    const char *server = getenv( "AWE_SERVER" ), *argv[32];
    char dir_opt[96];
    va_list args;
    int argc = 0, i;

    ck_assert_msg( server != NULL, "AWE_SERVER must name the awe-server binary (the Makefile sets it)" );
    snprintf( srv.dir, sizeof(srv.dir), "/tmp/awe-test-XXXXXX" );
    ck_assert_ptr_nonnull( mkdtemp( srv.dir ) );
    setenv( "AWE_SERVER_DIR", srv.dir, 1 );
    snprintf( dir_opt, sizeof(dir_opt), "--dir=%s", srv.dir );
    for (i = 0; server_wrapper && server_wrapper[i]; i++) argv[argc++] = server_wrapper[i];
    argv[argc++] = server;
    argv[argc++] = "--foreground";
    argv[argc++] = "--exit-delay=60";
    argv[argc++] = dir_opt;
    va_start( args, first );
    for (const char *opt = first; opt && argc < 31; opt = va_arg( args, const char * )) argv[argc++] = opt;
    va_end( args );
    argv[argc] = NULL;

    ck_assert_int_ge( srv.pid = fork(), 0 );
    if (!srv.pid)
    {
        execvp( argv[0], (char **)argv );
        _exit( 127 );
    }
    /* started means accepting connections: the socket file exists a moment before listen(),
     * and a stop request may land at any time from then on (the server handles it first) */
    for (i = 0; i < 3000 && !server_accepts(); i++)
    {
        int status;
        ck_assert_msg( waitpid( srv.pid, &status, WNOHANG ) == 0, "awe-server exited at start (%#x)", status );
        sleep_ms( 10 );
    }
    ck_assert_msg( i < 3000, "awe-server did not accept a connection within 30 s" );
}

#define server_start() server_start_args( NULL )

/* Starts the server with one extra option (or NULL), its stderr going to a new file whose name
 * is written to log: for tests that read what it says, or keep its chatter off the report. */
static inline void server_start_logged( char *log, size_t size, const char *option )
{
    int fd, saved;

    snprintf( log, size, "/tmp/awe-server-log-XXXXXX" );
    ck_assert_int_ge( fd = mkstemp( log ), 0 );
    ck_assert_int_ge( saved = dup( 2 ), 0 );
    dup2( fd, 2 );
    server_start_args( option, NULL );
    dup2( saved, 2 );
    close( saved );
    close( fd );
}

/* Returns non-zero if the test's server is still running. */
static inline int server_alive( void )
{
    int status;
    return srv.pid > 0 && waitpid( srv.pid, &status, WNOHANG ) == 0;
}

/* Stops the test's server (SIGTERM, its clean shutdown) and removes its directory; returns its
 * wait status (0 if there was none to stop). */
static inline int server_stop_status( void )
{
    char path[128];
    int status = 0;
    pid_t pid = srv.pid;

    srv.pid = 0;
    if (pid > 0)
    {
        kill( pid, SIGTERM );
        if (waitpid( pid, &status, 0 ) != pid) status = 0;
    }
    snprintf( path, sizeof(path), "%s/socket", srv.dir );
    unlink( path );
    snprintf( path, sizeof(path), "%s/lock", srv.dir );
    unlink( path );
    rmdir( srv.dir );
    return status;
}

/* Anything but exit status 0 after SIGTERM is a failure, among them a sanitizer's report
 * (racecheck, sanitize). */
#define server_assert_clean_exit( status ) \
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "awe-server ended with %s %d", \
                   WIFEXITED( status ) ? "status" : "signal", \
                   WIFEXITED( status ) ? WEXITSTATUS( status ) : WTERMSIG( status ) )

static inline void server_stop( void )
{
    int status = server_stop_status();

    server_assert_clean_exit( status );
}

/* Runs fn in a child process; returns its exit status (0: passed). */
static inline int run_child( int (*fn)( void * ), void *arg )
{
    int status;
    pid_t pid = fork();

    ck_assert_int_ge( pid, 0 );
    if (!pid) _exit( fn( arg ) );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    if (WIFSIGNALED( status )) return 128 + WTERMSIG( status );
    return WEXITSTATUS( status );
}

/* A raw connection to the test's server, for protocol-level tests. */
static inline int raw_connect( void )
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket( AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 );

    snprintf( addr.sun_path, sizeof(addr.sun_path), "%s/socket", srv.dir );
    ck_assert_int_ge( fd, 0 );
    ck_assert_int_eq( connect( fd, (struct sockaddr *)&addr, sizeof(addr) ), 0 );
    return fd;
}

/* Sends a message and receives the reply; returns the reply length, 0 on end of file, -1. */
static inline ssize_t raw_call( int fd, const void *msg, size_t size, void *reply, size_t reply_size )
{
    ssize_t len;

    if (send( fd, msg, size, MSG_NOSIGNAL ) != (ssize_t)size) return -1;
    while ((len = recv( fd, reply, reply_size, 0 )) < 0 && errno == EINTR) ;
    return len;
}

/* A well-behaved client is still served after whatever the test did: init_process gives it a
 * tag, then a status request on its connection succeeds.  (The descriptors of the init reply
 * are not received: the kernel closes them.) */
static inline void check_served( void )
{
    struct init_process_request init = { .header = { AWE_REQ_init_process, sizeof(init) },
                                         .version = AWE_PROTOCOL_VERSION };
    struct get_status_request status = { .header = { AWE_REQ_get_status, sizeof(status) } };
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    int fd = raw_connect();

    ck_assert_int_eq( raw_call( fd, &init, sizeof(init), &buf, sizeof(buf) ), sizeof(struct init_process_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
    ck_assert_uint_ne( buf.reply.init_process.tag, 0 );
    ck_assert_int_ge( raw_call( fd, &status, sizeof(status), &buf, sizeof(buf) ),
                      (ssize_t)sizeof(struct get_status_reply) );
    ck_assert_int_eq( buf.reply.header.status, STATUS_SUCCESS );
    close( fd );
}

/* Asks the test's server for its status and checks the reply: status 0, and exactly as long as
 * its process and section rows.  Returns the reply (valid until the next call), its process
 * rows in *procs and its section rows in *sections where these are not NULL. */
static inline const struct get_status_reply *server_status_reply( const struct awe_wire_process_status **procs,
                                                                  const struct awe_wire_section_status **sections )
{
    static union { union awe_reply_buffer reply; char bytes[AWE_MAX_MESSAGE]; } buf;
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    const struct get_status_reply *reply = &buf.reply.get_status;
    const struct awe_wire_process_status *rows = (const void *)(reply + 1);
    int fd = raw_connect();
    ssize_t len = raw_call( fd, &req, sizeof(req), &buf, sizeof(buf) );

    close( fd );
    ck_assert_int_ge( len, (ssize_t)sizeof(*reply) );
    ck_assert_int_eq( reply->header.status, 0 );
    ck_assert_int_eq( len, (ssize_t)(sizeof(*reply) + reply->processes * sizeof(*rows) +
                                     reply->sections * sizeof(struct awe_wire_section_status)) );
    if (procs) *procs = rows;
    if (sections) *sections = (const void *)(rows + reply->processes);
    return reply;
}

/* Asks the test's server for its process table; returns the number of processes, the first
 * max rows in out. */
static inline uint32_t server_status( struct awe_wire_process_status *out, size_t max )
{
    const struct awe_wire_process_status *rows;
    uint32_t n = server_status_reply( &rows, NULL )->processes;

    if (out) memcpy( out, rows, (n < max ? n : max) * sizeof(*out) );
    return n;
}

#endif  /* __AWE_SERVER_FIXTURE_H */
