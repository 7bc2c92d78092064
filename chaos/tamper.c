/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phase 3, tampering with every descriptor a client receives.
 *
 * A raw client takes the descriptors of the init_process reply (and its connection), each
 * classified by what fstat and fcntl say, and tries one tampering on one of them: truncating,
 * growing, punching, sealing, writing, mapping writable, mprotect, reopening /proc/self/fd/N
 * read-write, F_SETFL on O_NONBLOCK, draining or flooding an event descriptor, closing.  Each
 * attempt the kernel refuses counts as refused.  One that goes through must harm nobody but
 * the tampering client: the server keeps answering, another client is served, --status shows
 * the tamperer's frames right, and they are reclaimed when it exits.  And the server's
 * promises to the tamperer itself must hold or the tampering must be refused: an Allocate
 * within the limit grows its memfd, and frames freed and handed out again read as zero. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "chaos/chaos.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define ANSWER_MS     2000
#define FIRST_FRAMES  100       /* allocated before the tampering */
#define MORE_FRAMES   1200      /* allocated after it: the memfd must grow */
#define VIEW_BYTES    (16u << 20)

enum fd_kind { KIND_MEMFD, KIND_EVENTFD, KIND_PIPE, KIND_SOCKET, KIND_OTHER, KIND_COUNT };

static const char *const kind_names[KIND_COUNT] = { "memfd", "eventfd", "pipe", "socket", "other" };

struct fd_info
{
    uint32_t kind;               /* enum fd_kind */
    uint32_t access;             /* O_RDONLY, O_WRONLY, O_RDWR */
    uint32_t nonblock;
    uint32_t seals;              /* memfd */
    uint64_t size;
};

/* What a tamperer tells the driver. */
struct tamper_report
{
    _Atomic uint32_t state;      /* 0 setting up, 1 tampered and checked itself, 2 setup failed */
    _Atomic uint32_t quit;
    uint32_t         accepted;   /* the kernel let the tampering through (2: it did not apply) */
    uint32_t         self_harm;  /* the server broke a promise to the tamperer afterwards */
    uint64_t         held;       /* frames the tamperer owns now */
    char             detail[256];
    uint32_t         nfds;       /* descriptors of the init_process reply, plus the connection */
    struct fd_info   fds[RAW_MAX_FDS + 1];
};

struct tamper_ctx
{
    struct raw_session *s;
    int                 fd;       /* the descriptor tampered with */
    struct fd_info     *info;
    char               *detail;
};

typedef int (*tamper_fn)( struct tamper_ctx *c );    /* 1 accepted, 0 refused, -1 does not apply */

static void classify( int fd, struct fd_info *info )
{
    char path[64], link[128] = "";
    struct stat st;
    int flags = fcntl( fd, F_GETFL ), seals;

    memset( info, 0, sizeof(*info) );
    info->kind = KIND_OTHER;
    info->access = flags >= 0 ? (uint32_t)(flags & O_ACCMODE) : 0;
    info->nonblock = flags >= 0 && (flags & O_NONBLOCK);
    if (fstat( fd, &st )) return;
    info->size = (uint64_t)st.st_size;
    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    if (readlink( path, link, sizeof(link) - 1 ) < 0) link[0] = 0;
    if (S_ISREG( st.st_mode ) && (seals = fcntl( fd, F_GET_SEALS )) >= 0)
    {
        info->kind = KIND_MEMFD;
        info->seals = (uint32_t)seals;
    }
    else if (S_ISFIFO( st.st_mode )) info->kind = KIND_PIPE;
    else if (S_ISSOCK( st.st_mode )) info->kind = KIND_SOCKET;
    else if (strstr( link, "eventfd" )) info->kind = KIND_EVENTFD;
}

static void describe_fd( const struct fd_info *info, char *buf, size_t size )
{
    static const char *const access[] = { "read-only", "write-only", "read-write", "?" };
    int n = snprintf( buf, size, "%s %s%s", kind_names[info->kind], access[info->access & 3],
                      info->nonblock ? " O_NONBLOCK" : "" );

    if (info->kind == KIND_MEMFD && n > 0 && (size_t)n < size)
        snprintf( buf + n, size - (size_t)n, ", %llu bytes, seals%s%s%s%s%s%s", (unsigned long long)info->size,
                  info->seals & F_SEAL_SEAL ? " seal" : "", info->seals & F_SEAL_SHRINK ? " shrink" : "",
                  info->seals & F_SEAL_GROW ? " grow" : "", info->seals & F_SEAL_WRITE ? " write" : "",
                  info->seals & F_SEAL_FUTURE_WRITE ? " future-write" : "",
                  !(info->seals & 0x1f) ? " none" : "" );
}

static int refused( struct tamper_ctx *c, const char *call )
{
    snprintf( c->detail, 256, "%s: %s", call, strerror( errno ) );
    return 0;
}

static void scribble( char *p, size_t len )
{
    size_t i;

    for (i = 0; i + 8 <= len; i += 8)
    {
        uint64_t v = rng_next( &rng );
        memcpy( p + i, &v, 8 );
    }
}

/* ---- the tamperings ---------------------------------------------------------------------------- */

static int t_truncate_zero( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD) return -1;
    return ftruncate( c->fd, 0 ) ? refused( c, "ftruncate" ) : 1;
}

static int t_truncate_half( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD || c->info->size < 2 * CHAOS_PAGE) return -1;
    return ftruncate( c->fd, (off_t)(c->info->size / 2) ) ? refused( c, "ftruncate" ) : 1;
}

static int t_truncate_grow( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD) return -1;
    return ftruncate( c->fd, (off_t)(c->info->size + (64u << 20)) ) ? refused( c, "ftruncate" ) : 1;
}

static int t_fallocate_grow( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD) return -1;
    return fallocate( c->fd, 0, (off_t)c->info->size, 1 << 20 ) ? refused( c, "fallocate" ) : 1;
}

static int t_fallocate_inside( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD || !c->info->size) return -1;
    return fallocate( c->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)c->info->size ) ? refused( c, "fallocate" ) : 1;
}

static int t_punch( struct tamper_ctx *c )
{
    if (c->info->kind != KIND_MEMFD || !c->info->size) return -1;
    return fallocate( c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)c->info->size )
           ? refused( c, "fallocate(PUNCH_HOLE)" ) : 1;
}

static int add_seal( struct tamper_ctx *c, int fd, unsigned int seal )
{
    if (c->info->kind != KIND_MEMFD) return -1;
    return fcntl( fd, F_ADD_SEALS, seal ) ? refused( c, "F_ADD_SEALS" ) : 1;
}

static int t_seal_seal( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_SEAL ); }
static int t_seal_shrink( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_SHRINK ); }
static int t_seal_grow( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_GROW ); }
static int t_seal_write( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_WRITE ); }
static int t_seal_future_write( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_FUTURE_WRITE ); }
static int t_seal_exec( struct tamper_ctx *c ) { return add_seal( c, c->fd, F_SEAL_EXEC ); }

static int map_and_scribble( struct tamper_ctx *c, int fd )
{
    size_t len = c->info->size < VIEW_BYTES ? c->info->size : VIEW_BYTES;
    void *p;

    if (c->info->kind != KIND_MEMFD || !len) return -1;
    if ((p = mmap( NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0 )) == MAP_FAILED)
        return refused( c, "mmap(PROT_WRITE, MAP_SHARED)" );
    scribble( p, len );
    munmap( p, len );
    return 1;
}

static int t_mmap_write( struct tamper_ctx *c ) { return map_and_scribble( c, c->fd ); }

static int t_mprotect( struct tamper_ctx *c )
{
    size_t len = c->info->size < VIEW_BYTES ? c->info->size : VIEW_BYTES;
    void *p;

    if (c->info->kind != KIND_MEMFD || !len) return -1;
    if ((p = mmap( NULL, len, PROT_READ, MAP_SHARED, c->fd, 0 )) == MAP_FAILED) return refused( c, "mmap" );
    if (mprotect( p, len, PROT_READ | PROT_WRITE ))
    {
        munmap( p, len );
        return refused( c, "mprotect(PROT_WRITE)" );
    }
    scribble( p, len );
    munmap( p, len );
    return 1;
}

static int t_write( struct tamper_ctx *c )
{
    char buf[CHAOS_PAGE];

    if (c->info->kind != KIND_MEMFD) return -1;
    scribble( buf, sizeof(buf) );
    return pwrite( c->fd, buf, sizeof(buf), 0 ) < 0 ? refused( c, "pwrite" ) : 1;
}

/* The same through a description reopened read-write from /proc/self/fd. */
static int reopen( struct tamper_ctx *c )
{
    char path[64];
    int fd;

    snprintf( path, sizeof(path), "/proc/self/fd/%d", c->fd );
    if ((fd = open( path, O_RDWR | O_CLOEXEC )) < 0) refused( c, "open(/proc/self/fd/N, O_RDWR)" );
    return fd;
}

static int t_reopen_write( struct tamper_ctx *c )
{
    char buf[CHAOS_PAGE];
    int fd, ret;

    if (c->info->kind != KIND_MEMFD) return -1;
    if ((fd = reopen( c )) < 0) return 0;
    scribble( buf, sizeof(buf) );
    ret = pwrite( fd, buf, sizeof(buf), 0 ) < 0 ? refused( c, "pwrite through the reopened description" ) : 1;
    close( fd );
    return ret;
}

static int t_reopen_mmap( struct tamper_ctx *c )
{
    int fd, ret;

    if (c->info->kind != KIND_MEMFD) return -1;
    if ((fd = reopen( c )) < 0) return 0;
    ret = map_and_scribble( c, fd );
    close( fd );
    return ret;
}

static int t_reopen_truncate( struct tamper_ctx *c )
{
    int fd, ret;

    if (c->info->kind != KIND_MEMFD) return -1;
    if ((fd = reopen( c )) < 0) return 0;
    ret = ftruncate( fd, 0 ) ? refused( c, "ftruncate through the reopened description" ) : 1;
    close( fd );
    return ret;
}

static int t_reopen_grow( struct tamper_ctx *c )
{
    int fd, ret;

    if (c->info->kind != KIND_MEMFD) return -1;
    if ((fd = reopen( c )) < 0) return 0;
    ret = ftruncate( fd, (off_t)(c->info->size + (64u << 20)) ) ? refused( c, "ftruncate through the reopened description" ) : 1;
    close( fd );
    return ret;
}

static int t_reopen_seal( struct tamper_ctx *c )
{
    int fd, ret;

    if (c->info->kind != KIND_MEMFD) return -1;
    if ((fd = reopen( c )) < 0) return 0;
    ret = add_seal( c, fd, F_SEAL_GROW | F_SEAL_FUTURE_WRITE );
    close( fd );
    return ret;
}

/* Signals the descriptor as a client signals the server: 8 bytes of 1 (eventfd or pipe). */
static int signal_fd( int fd )
{
    uint64_t one = 1;
    return write( fd, &one, sizeof(one) ) == sizeof(one) ? 0 : -errno;
}

static int t_nonblock_clear( struct tamper_ctx *c )
{
    int flags = fcntl( c->fd, F_GETFL );

    if (flags < 0) return -1;
    if (fcntl( c->fd, F_SETFL, flags & ~O_NONBLOCK )) return refused( c, "F_SETFL" );
    /* then use it as the library does, so that the server reads it */
    if ((c->info->kind == KIND_EVENTFD || c->info->kind == KIND_PIPE) && (c->info->access != O_RDONLY))
        signal_fd( c->fd );
    return 1;
}

static int t_nonblock_toggle( struct tamper_ctx *c )
{
    int flags = fcntl( c->fd, F_GETFL ), i;

    if (flags < 0) return -1;
    for (i = 0; i < 2000; i++)
    {
        if (fcntl( c->fd, F_SETFL, (i & 1) ? flags | O_NONBLOCK : flags & ~O_NONBLOCK )) return refused( c, "F_SETFL" );
        if ((c->info->kind == KIND_EVENTFD || c->info->kind == KIND_PIPE) && c->info->access != O_RDONLY &&
            !(i % 16))
            signal_fd( c->fd );
    }
    fcntl( c->fd, F_SETFL, flags );
    if ((c->info->kind == KIND_EVENTFD || c->info->kind == KIND_PIPE) && c->info->access != O_RDONLY)
        signal_fd( c->fd );
    return 1;
}

static int t_nonblock_set( struct tamper_ctx *c )
{
    int flags = fcntl( c->fd, F_GETFL );

    if (flags < 0 || (flags & O_NONBLOCK)) return -1;
    return fcntl( c->fd, F_SETFL, flags | O_NONBLOCK ) ? refused( c, "F_SETFL" ) : 1;
}

static int t_drain( struct tamper_ctx *c )
{
    char buf[4096];
    int got = 0;

    if ((c->info->kind != KIND_EVENTFD && c->info->kind != KIND_PIPE) || c->info->access == O_WRONLY) return -1;
    for (;;)
    {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        if (poll( &pfd, 1, 0 ) <= 0 || !(pfd.revents & POLLIN)) break;
        if (read( c->fd, buf, sizeof(buf) ) <= 0) break;
        got = 1;
    }
    if (!got)
    {
        errno = EAGAIN;
        return refused( c, "read (nothing to drain)" );
    }
    return 1;
}

static int t_write_many( struct tamper_ctx *c )
{
    int i, done = 0;

    if ((c->info->kind != KIND_EVENTFD && c->info->kind != KIND_PIPE) || c->info->access == O_RDONLY) return -1;
    for (i = 0; i < 10000; i++)
    {
        struct pollfd pfd = { c->fd, POLLOUT, 0 };
        if (poll( &pfd, 1, 0 ) <= 0) break;
        if (!signal_fd( c->fd )) done++;
    }
    return done ? 1 : refused( c, "write" );
}

static int t_write_max( struct tamper_ctx *c )
{
    uint64_t max = 0xfffffffffffffffeull;
    struct pollfd pfd = { c->fd, POLLOUT, 0 };

    if (c->info->kind != KIND_EVENTFD || c->info->access == O_RDONLY) return -1;
    if (poll( &pfd, 1, 0 ) <= 0) return refused( c, "poll(POLLOUT)" );
    return write( c->fd, &max, sizeof(max) ) != sizeof(max) ? refused( c, "write(max)" ) : 1;
}

static int t_close( struct tamper_ctx *c )
{
    if (c->info->kind == KIND_SOCKET) return -1;
    return close( c->fd ) ? refused( c, "close" ) : 1;
}

/* Every descriptor of the reply at once (offered on the first one only). */
static int t_close_all( struct tamper_ctx *c )
{
    int i, closed = 0;

    if (c->fd != c->s->fds[0]) return -1;
    for (i = 0; i < c->s->nfds; i++)
        if (c->s->fds[i] >= 0 && !close( c->s->fds[i] ))
        {
            c->s->fds[i] = -1;
            closed++;
        }
    return closed ? 1 : refused( c, "close" );
}

static int t_send_back( struct tamper_ctx *c )
{
    struct get_status_request req = { .header = { AWE_REQ_get_status, sizeof(req) } };
    char reply[AWE_MAX_MESSAGE];

    if (c->info->kind == KIND_SOCKET) return -1;
    if (raw_send( c->s->fd, &req, sizeof(req), &c->fd, 1, 0 )) return refused( c, "sendmsg(SCM_RIGHTS)" );
    raw_recv( c->s->fd, reply, sizeof(reply), ANSWER_MS, NULL, NULL );
    return 1;
}

#define ANY_KIND    ((1u << KIND_COUNT) - 1)
#define EVENT_KINDS ((1u << KIND_EVENTFD) | (1u << KIND_PIPE))

static const struct
{
    const char *name;
    tamper_fn   fn;
    unsigned    kinds;           /* the kinds of descriptor it applies to */
} tamperings[] =
{
    { "ftruncate to 0",                         t_truncate_zero, (1u << KIND_MEMFD) },
    { "ftruncate to half",                      t_truncate_half, (1u << KIND_MEMFD) },
    { "ftruncate 64 MiB larger",                t_truncate_grow, (1u << KIND_MEMFD) },
    { "fallocate 1 MiB past the end",           t_fallocate_grow, (1u << KIND_MEMFD) },
    { "fallocate inside",                       t_fallocate_inside, (1u << KIND_MEMFD) },
    { "fallocate(PUNCH_HOLE) of everything",    t_punch, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_SEAL)",               t_seal_seal, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_SHRINK)",             t_seal_shrink, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_GROW)",               t_seal_grow, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_WRITE)",              t_seal_write, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_FUTURE_WRITE)",       t_seal_future_write, (1u << KIND_MEMFD) },
    { "F_ADD_SEALS(F_SEAL_EXEC)",               t_seal_exec, (1u << KIND_MEMFD) },
    { "mmap(PROT_WRITE, MAP_SHARED) and scribble", t_mmap_write, (1u << KIND_MEMFD) },
    { "mprotect(PROT_WRITE) and scribble",      t_mprotect, (1u << KIND_MEMFD) },
    { "pwrite",                                 t_write, (1u << KIND_MEMFD) },
    { "reopen read-write, pwrite",              t_reopen_write, (1u << KIND_MEMFD) },
    { "reopen read-write, mmap and scribble",   t_reopen_mmap, (1u << KIND_MEMFD) },
    { "reopen read-write, ftruncate to 0",      t_reopen_truncate, (1u << KIND_MEMFD) },
    { "reopen read-write, ftruncate larger",    t_reopen_grow, (1u << KIND_MEMFD) },
    { "reopen read-write, F_SEAL_GROW|F_SEAL_FUTURE_WRITE", t_reopen_seal, (1u << KIND_MEMFD) },
    { "F_SETFL without O_NONBLOCK, then signal it", t_nonblock_clear, ANY_KIND },
    { "F_SETFL toggling O_NONBLOCK while signalling", t_nonblock_toggle, ANY_KIND },
    { "F_SETFL with O_NONBLOCK",                t_nonblock_set, ANY_KIND },
    { "read it dry",                            t_drain, EVENT_KINDS },
    { "write it 10000 times",                   t_write_many, EVENT_KINDS },
    { "write the largest count",                t_write_max, (1u << KIND_EVENTFD) },
    { "close it",                               t_close, ANY_KIND & ~(1u << KIND_SOCKET) },
    { "close every descriptor of the reply",    t_close_all, (1u << KIND_MEMFD) },
    { "send it back to the server",             t_send_back, ANY_KIND & ~(1u << KIND_SOCKET) },
};

#define TAMPER_NONE ((unsigned)-1)

/* ---- the tamperer ----------------------------------------------------------------------------- */

static sigjmp_buf fault_jmp;

static void on_fault( int sig )
{
    siglongjmp( fault_jmp, sig );
}

/* After the tampering: the server's promises to this client.  Returns 0, or 1 with the
 * broken promises in detail. */
static int self_check( struct raw_session *s, volatile char *view, uint64_t *pfns, uint64_t *held, char *detail )
{
    static uint64_t again[FIRST_FRAMES + MORE_FRAMES];
    uint64_t got = 0, freed = 0, i, mask = (1ull << s->init.index_bits) - 1;
    volatile uint64_t n;
    volatile int broken = 0;
    volatile size_t used = 0;
    struct stat st;
    NTSTATUS status;
    int sig;

    detail[0] = 0;
    status = raw_allocate( s, AWE_CURRENT_PROCESS, MORE_FRAMES, pfns + *held, &got, ANSWER_MS );
    *held += got;
    if (status == RAW_BROKEN)
    {
        snprintf( detail, 256, "the server dropped the client" );
        return 0;
    }
    if (got != MORE_FRAMES)
    {
        used = (size_t)snprintf( detail, 256, "an Allocate of %u more frames gave %llu (status %#x): the "
                                  "memfd could not grow", MORE_FRAMES, (unsigned long long)got, (unsigned)status );
        broken = 1;
    }
    n = *held;
    if (!view || s->fds[0] < 0 || fstat( s->fds[0], &st ) || st.st_size <= 0) return broken;
    if ((sig = sigsetjmp( fault_jmp, 1 )))
    {
        snprintf( detail + used, 256 - used, "%sreading frames it owns through its memfd raised signal %d",
                  used ? "; " : "", sig );
        return 1;
    }
    /* dirty every frame, free them all, take as many again: those freed must come back zeroed */
    for (i = 0; i < n; i++)
    {
        uint64_t index = pfns[i] & mask;
        if ((index + 1) * CHAOS_PAGE <= (uint64_t)st.st_size && (index + 1) * CHAOS_PAGE <= VIEW_BYTES)
            view[index * CHAOS_PAGE] = (char)0xa5;
    }
    if ((status = raw_free( s, AWE_CURRENT_PROCESS, pfns, n, &freed, ANSWER_MS )) || freed != n)
    {
        *held = n - freed;
        snprintf( detail + used, 256 - used, "%sfreeing its %llu frames freed %llu (status %#x)", used ? "; " : "",
                  (unsigned long long)n, (unsigned long long)freed, (unsigned)status );
        return status == RAW_BROKEN ? broken : 1;
    }
    *held = 0;
    status = raw_allocate( s, AWE_CURRENT_PROCESS, n, again, &got, ANSWER_MS );
    *held = got;
    memcpy( pfns, again, got * sizeof(*again) );
    if (got != n)
    {
        snprintf( detail + used, 256 - used, "%sallocating its %llu frames again gave %llu (status %#x)",
                  used ? "; " : "", (unsigned long long)n, (unsigned long long)got, (unsigned)status );
        return 1;
    }
    for (i = 0; i < got; i++)
    {
        uint64_t index = again[i] & mask;
        if ((index + 1) * CHAOS_PAGE > (uint64_t)st.st_size || (index + 1) * CHAOS_PAGE > VIEW_BYTES) continue;
        if (view[index * CHAOS_PAGE])
        {
            snprintf( detail + used, 256 - used, "%sframe %llu, freed and handed out again, reads %#x, not zero",
                      used ? "; " : "", (unsigned long long)index, (unsigned char)view[index * CHAOS_PAGE] );
            return 1;
        }
    }
    return broken;
}

static void __attribute__((noreturn)) tamperer( struct tamper_report *report, unsigned fd_index, unsigned t )
{
    static uint64_t pfns[FIRST_FRAMES + MORE_FRAMES];
    struct sigaction sa = { .sa_handler = on_fault };
    struct raw_session s;
    struct tamper_ctx c;
    char *view = NULL;
    uint64_t got = 0;
    int ret, i;

    if (raw_init( main_server.dir, &s, ANSWER_MS ) || raw_enable_privilege( &s, ANSWER_MS ) ||
        raw_allocate( &s, AWE_CURRENT_PROCESS, FIRST_FRAMES, pfns, &got, ANSWER_MS ) || got != FIRST_FRAMES)
    {
        atomic_store( &report->state, 2 );
        _exit( 3 );
    }
    report->held = got;
    report->nfds = (uint32_t)s.nfds + 1;
    for (i = 0; i < s.nfds; i++) classify( s.fds[i], &report->fds[i] );
    classify( s.fd, &report->fds[s.nfds] );
    /* the frame memfd (the first descriptor) seen before the tampering, as a client maps it */
    if (report->fds[0].kind == KIND_MEMFD && report->fds[0].access == O_RDWR)
    {
        view = mmap( NULL, VIEW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, s.fds[0], 0 );
        if (view == MAP_FAILED) view = NULL;
    }
    sigaction( SIGBUS, &sa, NULL );
    sigaction( SIGSEGV, &sa, NULL );
    if (t != TAMPER_NONE)
    {
        c.s = &s;
        c.fd = fd_index < (unsigned)s.nfds ? s.fds[fd_index] : s.fd;
        c.info = &report->fds[fd_index];
        c.detail = report->detail;
        ret = tamperings[t].fn( &c );
        report->accepted = ret == 1 ? 1 : ret < 0 ? 2 : 0;
        report->self_harm = self_check( &s, view, pfns, &report->held, report->detail );
    }
    atomic_store( &report->state, 1 );
    while (!atomic_load( &report->quit )) sleep_ms( 1 );
    _exit( 0 );
}

/* Runs one tampering in a new tamperer and judges what followed.  Returns 0, or -1 when the
 * tamperer could not even set up. */
static int run_tampering( struct tamper_report *report, unsigned fd_index, unsigned t, unsigned *counts )
{
    static struct status_info info;
    const struct status_row *row;
    uint64_t end = now_ms() + 10000;
    char what[256], fd_desc[160];
    int status;
    pid_t pid;

    memset( report, 0, sizeof(*report) );
    if (!(pid = chaos_fork())) tamperer( report, fd_index, t );
    while (!atomic_load( &report->state ) && now_ms() < end) sleep_us( 500 );
    if (atomic_load( &report->state ) != 1)
    {
        child_kill( pid );
        if (t == TAMPER_NONE) violation( "a raw client could not attach and allocate" );
        else violation( "a tamperer did not finish tampering with descriptor #%u (%s) within 10 s",
                        fd_index, tamperings[t].name );
        return -1;
    }
    if (t == TAMPER_NONE)
    {
        atomic_store( &report->quit, 1 );
        child_wait( pid, 3000, NULL );
        return 0;
    }
    describe_fd( &report->fds[fd_index], fd_desc, sizeof(fd_desc) );
    snprintf( what, sizeof(what), "%s on descriptor #%u (%s)", tamperings[t].name, fd_index, fd_desc );
    if (report->accepted == 2)
    {
        atomic_store( &report->quit, 1 );
        child_wait( pid, 5000, NULL );
        server_settle( &main_server, what );
        counts[3]++;
        return 0;
    }
    if (report->accepted)
    {
        fig_add( &fig->tamper_accepted, 1 );
        counts[1]++;
    }
    else
    {
        fig_add( &fig->tamper_refused, 1 );
        counts[0]++;
    }
    verbose( "%s: %s%s%s", what, report->accepted ? "accepted" : "refused", report->detail[0] ? ", " : "",
             report->detail );
    if (report->self_harm)
    {
        counts[2]++;
        violation( "%s went through and broke the server's promise to that client: %s (the server should "
                   "refuse the tampering or cope with it)", what, report->detail );
    }
    /* nobody else may notice: the server answers, serves, and counts the tamperer's frames right */
    if (!server_check( &main_server, what ))
    {
        if (!status_raw( main_server.dir, &info, ANSWER_MS ) && (row = status_find( &info, pid )) &&
            row->allocated != report->held)
            violation( "after %s, --status shows the tamperer with %llu frames; it holds %llu", what,
                       (unsigned long long)row->allocated, (unsigned long long)report->held );
    }
    atomic_store( &report->quit, 1 );
    if (child_wait( pid, 5000, &status ) == -ETIMEDOUT)
        violation( "the tamperer hung after %s", what );
    else if (!WIFEXITED( status ) || WEXITSTATUS( status ))
    {
        char how[96];
        describe_status( status, how, sizeof(how) );
        verbose( "the tamperer ended with %s after %s", how, what );
    }
    server_settle( &main_server, what );
    return 0;
}

void phase_tamper( unsigned budget_ms )
{
    struct tamper_report *report = shared_alloc( sizeof(*report) );
    struct fd_info fds[RAW_MAX_FDS + 1];
    unsigned nfds, i, t, counts[4] = { 0, 0, 0, 0 }, tried = 0;
    char desc[160];

    /* the descriptors a client gets, and what they are */
    if (run_tampering( report, 0, TAMPER_NONE, counts )) return;
    nfds = report->nfds;
    memcpy( fds, report->fds, sizeof(fds) );
    for (i = 0; i < nfds; i++)
    {
        describe_fd( &fds[i], desc, sizeof(desc) );
        printf( "   descriptor #%u%s: %s\n", i, i + 1 == nfds ? " (the connection)" : "", desc );
    }
    if (fds[0].kind != KIND_MEMFD || fds[0].access != O_RDWR)
        violation( "the first descriptor of init_process is no longer the read-write frame memfd "
                   "(awe/protocol.h): update chaos/tamper.c" );
    for (i = 0; i < nfds; i++)
        for (t = 0; t < sizeof(tamperings) / sizeof(tamperings[0]); t++)
        {
            if (!(tamperings[t].kinds & (1u << fds[i].kind))) continue;
            tried++;
            run_tampering( report, i, t, counts );
        }
    printf( "   %u tamperings: %u refused, %u accepted (%u of which broke the server's promises to the "
            "tamperer), %u did not apply\n", tried, counts[0], counts[1], counts[2], counts[3] );
}
