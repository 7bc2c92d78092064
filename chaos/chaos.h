/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The chaos suite: declarations shared by the driver and its phases.
 *
 * One driver process starts an awe-server of its own, runs the phases and checks the server
 * between them from the outside: its answers, awe-server --status, /proc/<pid>/fd, maps and
 * status.  The driver never uses the library itself; every client is a child process with a
 * deadline, so the driver cannot hang on the server it judges.  Internal functions return 0
 * or -errno; a broken promise of the server is a violation, printed and counted. */

#ifndef __AWE_CHAOS_H
#define __AWE_CHAOS_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "awe/protocol.h"

#define CHAOS_PAGE 4096

/* ---- figures: in shared memory, so that every child adds to them ---------------------------- */

struct chaos_figures
{
    _Atomic uint64_t kills;           /* clients killed by SIGKILL */
    _Atomic uint64_t kills_survived;  /* ... after which the server passed every check */
    _Atomic uint64_t stops;           /* clients stopped (SIGSTOP) before being killed */
    _Atomic uint64_t frames_leaked;   /* frames still held once every client had gone */
    _Atomic uint64_t messages;        /* raw protocol messages sent */
    _Atomic uint64_t tamper_refused;  /* tamperings the kernel or the server refused */
    _Atomic uint64_t tamper_accepted; /* tamperings that went through (harm checked after) */
    _Atomic uint64_t forgeries;       /* forged sync states written */
    _Atomic uint64_t violations;
    _Atomic uint64_t calls;           /* library calls made by well-behaved clients */
    _Atomic uint64_t stamps;          /* page stamps checked */
    _Atomic uint64_t cross_frees;     /* Frees through another process's handle */
    _Atomic uint64_t ack_timeouts;    /* ... answered only after the server's ack timeout */
    _Atomic uint64_t restarts;        /* servers killed and started anew after a violation */
};

extern struct chaos_figures *fig;

static inline void fig_add( _Atomic uint64_t *counter, uint64_t n )
{
    /* relaxed: counters only, read by the driver after the children it reaped */
    atomic_fetch_add_explicit( counter, n, memory_order_relaxed );
}

static inline uint64_t fig_get( _Atomic uint64_t *counter )
{
    return atomic_load_explicit( counter, memory_order_relaxed );
}

/* ---- configuration, from the command line and CHAOS_* variables -------------------------- */

struct chaos_config
{
    const char *server;              /* awe-server binary */
    const char *dir;                 /* private instance directory */
    const char *phases;              /* CHAOS_PHASES: names or numbers to run, NULL for all */
    unsigned    seconds;             /* CHAOS_SECONDS: the time budget of the timed phases */
    uint64_t    seed;                /* CHAOS_SEED */
    unsigned    limit_mb;            /* --limit of the server */
    unsigned    client_deadline_ms;  /* CHAOS_CLIENT_DEADLINE: a call to a stopped server fails by then */
    unsigned    ack_deadline_ms;     /* CHAOS_ACK_DEADLINE: a cross-process Free is answered by then */
    unsigned    probe_deadline_ms;   /* CHAOS_PROBE_DEADLINE: a well-behaved round trip */
    unsigned    answer_deadline_ms;  /* get_status answered within this */
    int         verbose;             /* CHAOS_VERBOSE */
    int         server_trace;        /* CHAOS_SERVER_TRACE: the server runs with -d */
    const char *unlocked;            /* "--unlocked" when this user cannot lock the limit, else NULL */
};

extern struct chaos_config cfg;

/* ---- the server under test ------------------------------------------------------------------ */

struct chaos_server
{
    pid_t    pid;                    /* 0 when not running */
    char     dir[192];               /* instance directory (a socket path lives in it) */
    char     log[256];               /* its stderr */
    char     ended[96];              /* how it ended, once server_alive found it gone */
    unsigned nofile;                 /* RLIMIT_NOFILE to start it with, 0: inherited */
    unsigned exit_delay;             /* --exit-delay */
    int      anchor;                 /* an idle connection that keeps it from idling out */
    unsigned base_fds;               /* its descriptors with no client but the anchor */
    uint64_t base_rss_kb;            /* its VmRSS then */
    uint64_t max_rss_growth_kb;      /* the largest excess over base_rss_kb seen after a settle */
};

extern struct chaos_server main_server;

extern int server_start( struct chaos_server *s );
extern int server_stop( struct chaos_server *s, const char *after );
extern void server_kill( struct chaos_server *s );
extern int server_alive( struct chaos_server *s );
extern void server_describe( struct chaos_server *s, char *buf, size_t size );
extern int server_check( struct chaos_server *s, const char *after );
extern int server_settle( struct chaos_server *s, const char *after );
extern void server_restart( struct chaos_server *s, const char *why );

/* ---- what the server reports --------------------------------------------------------------- */

#define STATUS_MAX_ROWS 1100

struct status_row
{
    uint32_t pid, tag;
    uint64_t allocated, quarantined, locked, memfd, mapped, vmas;
};

struct status_info
{
    uint64_t          held;
    uint64_t          limit;
    unsigned          nrows;
    struct status_row rows[STATUS_MAX_ROWS];
};

extern int status_tool( const char *dir, struct status_info *info, unsigned deadline_ms );
extern int status_raw( const char *dir, struct status_info *info, unsigned deadline_ms );
extern const struct status_row *status_find( const struct status_info *info, pid_t pid );

/* ---- /proc --------------------------------------------------------------------------------- */

extern int proc_count_fds( pid_t pid );
extern uint64_t proc_rss_kb( pid_t pid );
extern uint64_t proc_cpu_ticks( pid_t pid );
extern char proc_state( pid_t pid );
extern int proc_dead_memfds( pid_t pid, char *desc, size_t size );
extern int proc_alive( pid_t pid );

/* ---- children ------------------------------------------------------------------------------ */

extern pid_t chaos_fork( void );
extern int child_wait( pid_t pid, unsigned deadline_ms, int *status );
extern void child_kill( pid_t pid );
extern void describe_status( int status, char *buf, size_t size );
extern int probe_library( const char *dir, unsigned deadline_ms, const char *after );
extern int enable_lock_privilege( void );
extern int read_probe( pid_t pid, const void *addr );

/* ---- reporting, time, randomness ----------------------------------------------------------- */

extern const char *phase_name;

extern void violation( const char *fmt, ... ) __attribute__((format(printf, 1, 2)));
extern void note( const char *fmt, ... ) __attribute__((format(printf, 1, 2)));
extern void verbose( const char *fmt, ... ) __attribute__((format(printf, 1, 2)));
extern void *shared_alloc( size_t size );

extern uint64_t now_ms( void );
extern uint64_t now_us( void );
extern void sleep_ms( unsigned ms );
extern void sleep_us( unsigned us );

struct rng
{
    uint64_t state;
};

extern struct rng rng;                      /* the driver's; a child's is reseeded at fork */
extern uint64_t rng_next( struct rng *r );
extern uint64_t rng_below( struct rng *r, uint64_t n );
extern void rng_seed( struct rng *r, uint64_t seed );

/* ---- raw protocol clients (raw.c) ---------------------------------------------------------- */

#define RAW_MAX_FDS 16
#define RAW_BROKEN  ((NTSTATUS)0xffffffff)  /* no answer: the connection broke or timed out */

/* A connection that did init_process: what the reply said and the descriptors it carried. */
struct raw_session
{
    int                        fd;
    struct init_process_reply  init;
    int                        fds[RAW_MAX_FDS];
    int                        nfds;
    uint32_t                   token;       /* from raw_enable_privilege */
};

extern int raw_connect( const char *dir );
extern int raw_send( int fd, const void *msg, size_t len, const int *fds, int nfds, int flags );
extern ssize_t raw_recv( int fd, void *buf, size_t size, unsigned deadline_ms, int *fds, int *nfds );
extern ssize_t raw_call( int fd, const void *req, size_t len, void *reply, size_t size,
                         unsigned deadline_ms );
extern int raw_init( const char *dir, struct raw_session *s, unsigned deadline_ms );
extern void raw_close( struct raw_session *s );
extern NTSTATUS raw_enable_privilege( struct raw_session *s, unsigned deadline_ms );
extern NTSTATUS raw_allocate( struct raw_session *s, uint32_t process, uint64_t count,
                              uint64_t *pfns, uint64_t *got, unsigned deadline_ms );
extern NTSTATUS raw_free( struct raw_session *s, uint32_t process, const uint64_t *pfns, size_t count,
                          uint64_t *freed, unsigned deadline_ms );
extern NTSTATUS raw_open_process( struct raw_session *s, uint32_t pid, uint32_t access,
                                  uint32_t *handle, unsigned deadline_ms );
extern uint64_t raw_pfn( const struct raw_session *s, uint32_t tag, uint32_t index );
extern int raw_frame_owned( const struct raw_session *s, const void *table, uint64_t pfn );

/* ---- the phases ---------------------------------------------------------------------------- *
 * Each reports its violations itself; the timed ones (kill storms, hostile clients, traffic)
 * run for about budget_ms, the others do a fixed amount of work and ignore it. */

extern void phase_kill_storms( unsigned budget_ms );
extern void phase_hostile( unsigned budget_ms );
extern void phase_tamper( unsigned budget_ms );
extern void phase_forge( unsigned budget_ms );
extern void phase_traffic( unsigned budget_ms );
extern void phase_emfile( unsigned budget_ms );
extern void phase_stopped_server( unsigned budget_ms );

#endif  /* __AWE_CHAOS_H */
