/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzing harnesses: input formats, the input reader and the checks they share.
 *
 * Every harness reads its input as a stream of little-endian fields; reading past the end
 * yields zeros, so every input is valid and a truncated record is simply a short one.  The
 * formats are declared here, once, for the harnesses and for the seed generator
 * (fuzz/make_seeds.c), so that seeds follow the formats and the protocol structures. */

#ifndef __AWE_FUZZ_H
#define __AWE_FUZZ_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fuzz_server -----------------------------------------------------------------------------
 *
 * byte 0: FUZZ_SRV_CFG_* bits (server options and limits for this input).  Then records, each an op byte:
 * bits 0-1 name the fake client (FUZZ_SRV_CLIENTS of them, connected on first use, pid
 * FUZZ_SRV_PID_BASE + n), bits 2-7 the action, modulo FUZZ_SRV_ACTIONS:
 *
 *   RAW        u16 len, len bytes: one datagram, as is
 *   RAW_BIG    u8 extra, 8 header bytes, u8 fill: a datagram of AWE_MAX_MESSAGE - 16 + extra bytes
 *   REQ        u8 request number, its fixed fields (header written by the harness), and for
 *              the requests with a variable part u8 n then n records of it
 *   FREE       free_pages built by the harness: u8 handle (0 current process, 1-16 the
 *              handle of table entry n-1 at generation 1, else u32 follows), u8 n specs
 *              {u8 tag (0-3: that client's tag, 4: u8 follows, else own), u16 index,
 *              u16 count (0xffff: ~0)}, u16 repeat (the specs repeated, up to 64 KiB)
 *   OPEN       open_process: u8 client, u8 access (0 VM_OPERATION, 1 all, 2 none, else u32)
 *   DISCONNECT u8 mode: even closes our end and lets serve_connection read the end of file,
 *              odd disconnects directly
 *   ACK        u8 mode (bit 0: raw u32 follows, else the table's notify_seq), u64 mapped
 *              pages, u64 vmas: written in the usage page, then an ack_unmap message
 *   TIME       u16 ms: the server's clock moves on, then expire_pending
 *   SCRIBBLE   u8 what (bit 1: the AWE lock's aux word, else its state word), u8 mode
 *              (bit 0: a word with a valid hash from u8 flags, u32 data; else u64 raw)
 *   MEMFD      u8 mode (0 grow to u16 frames, 1 punch u16 start u16 count, 2 write u16 frame)
 *   SOCKET     u8 nfds, u16 len, len bytes: sent through the socket with nfds descriptors,
 *              then serve_connection reads it
 */
#define FUZZ_SRV_CLIENTS   4
#define FUZZ_SRV_PID_BASE  4000
#define FUZZ_SRV_MAX_OPS   96        /* records read per input; the rest is ignored */

#define FUZZ_SRV_CFG_NO_GRANT   0x01 /* --grant-lock-memory=none */
#define FUZZ_SRV_CFG_QUOTA      0x02 /* --quota of FUZZ_SRV_QUOTA frames */
#define FUZZ_SRV_CFG_NO_LIMIT   0x04 /* no --limit (else FUZZ_SRV_LIMIT frames) */
#define FUZZ_SRV_CFG_RESERVE    0x08 /* a --reserve larger than the machine: nothing left */
#define FUZZ_SRV_CFG_SMALL_RES  0x10 /* a --reserve of one frame: MemAvailable is read */
#define FUZZ_SRV_CFG_UNLOCKED   0x20 /* --unlocked */
#define FUZZ_SRV_CFG_DEBUG      0x40 /* -d: the request traces (written to /dev/null) */
#define FUZZ_SRV_CFG_MEMLOCK    0x80 /* RLIMIT_MEMLOCK of FUZZ_SRV_MEMLOCK frames: partial locks */
#define FUZZ_SRV_MEMLOCK        96
#define FUZZ_SRV_QUOTA          24
#define FUZZ_SRV_LIMIT          64
#define FUZZ_SRV_INDEX_BITS     7    /* --pfn-bits=7:3: 128 frames a process, 7 tags (every */
                                     /* frame allocated is populated: they must stay few) */
#define FUZZ_SRV_TAG_BITS       3
#define FUZZ_SRV_LARGE_UNIT     8    /* frames of a large section's unit (the server's is 512) */

enum fuzz_srv_action
{
    FUZZ_SRV_RAW, FUZZ_SRV_RAW_BIG, FUZZ_SRV_REQ, FUZZ_SRV_FREE, FUZZ_SRV_OPEN,
    FUZZ_SRV_DISCONNECT, FUZZ_SRV_ACK, FUZZ_SRV_TIME, FUZZ_SRV_SCRIBBLE, FUZZ_SRV_MEMFD,
    FUZZ_SRV_SOCKET, FUZZ_SRV_ACTIONS
};

#define FUZZ_SRV_OP(action, client) ((uint8_t)((action) << 2 | (client)))

/* ---- fuzz_client ------------------------------------------------------------------------------
 *
 * Records, each an op byte (modulo FUZZ_CLI_CALLS) naming a library call, its arguments, then
 * (for every call but ATTACH) the server's side: u8 n replies (n % (FUZZ_CLI_MAX_REPLIES + 1)),
 * each u8 mode (bits 0-3: descriptors attached, % 10; FUZZ_CLI_REPLY_*), u16 len and len bytes.
 * The replies are queued on the connection before the call, which reads them as the server's
 * answers; what it does not read is discarded after it.  A handle argument is u8: 0 the
 * current process, else u32 follows (the harness's table holds FUZZ_CLI_HANDLE_* entries).
 *
 *   ALLOCATE  handle, u16 count
 *   FREE      handle, u8 n, n x u16 frame index (the harness's frame table says the frames
 *             below FUZZ_CLI_OWNED are owned)
 *   OPEN      u32 pid, u32 access
 *   CLOSE     u32 handle
 *   TOKEN     handle, u32 access
 *   ADJUST    u32 token, u8 disable_all, u8 n privileges {u32 luid, u32 attributes}, u8 mode
 *             (bit 0: pass prev, bit 1: prev_length), u16 prev buffer length
 *   ATTACH    the init_process reply, built by the harness: 5 x u8 descriptor kind
 *             (FUZZ_CLI_FD_*), u8 thread (bit 0: the notification thread fails to start),
 *             u32 override mask, then for each set bit k < 31, in field order, a value for
 *             field k of the reply (header status and size are fields 0 and 1, then the fields
 *             of AWE_REPLY_init_process); the rest are what a real server would send.  Bit 31:
 *             u16 datagram length follows (else the reply's size)
 *   SECTION   u32 access, u8 flags (bit 0: SEC_LARGE_PAGES), 2 x u8 descriptor kind
 *             (FUZZ_CLI_FD_*), u8 unit selector (1, 512, else u32 follows), u8 (bit 0: u32
 *             status follows, else success), u8 (bit 0: u32 handle follows), u8 tag, u8
 *             backing, u8 (bit 0: u64 table size follows, else the right one), then the
 *             replies to a close_handle
 */
#define FUZZ_CLI_MAX_REPLIES 4
#define FUZZ_CLI_MAX_OPS     32
#define FUZZ_CLI_OWNED       256     /* frames the harness's table says we own */
#define FUZZ_CLI_INDEX_BITS  12      /* the harness's PFN layout */
#define FUZZ_CLI_TAG_BITS    8
#define FUZZ_CLI_TAG         5       /* our tag */
#define FUZZ_CLI_REPLY_SIZE  0x10    /* reply mode: the harness writes the header's size */
#define FUZZ_CLI_REPLY_OK    0x20    /* reply mode: the harness writes STATUS_SUCCESS */

/* The harness's handle table (the client checks handles there before asking the server). */
#define FUZZ_CLI_HANDLE_VM    awe_handle_encode( 0, 1 )   /* a process, PROCESS_VM_OPERATION */
#define FUZZ_CLI_HANDLE_NONE  awe_handle_encode( 1, 1 )   /* a process, no access */
#define FUZZ_CLI_HANDLE_TOKEN awe_handle_encode( 2, 1 )   /* a token */

enum fuzz_cli_call
{
    FUZZ_CLI_ALLOCATE, FUZZ_CLI_FREE, FUZZ_CLI_OPEN, FUZZ_CLI_CLOSE, FUZZ_CLI_TOKEN,
    FUZZ_CLI_ADJUST, FUZZ_CLI_ATTACH, FUZZ_CLI_SECTION, FUZZ_CLI_CALLS
};

/* Descriptor kinds in an ATTACH record (modulo FUZZ_CLI_FD_KINDS). */
enum fuzz_cli_fd
{
    FUZZ_CLI_FD_RIGHT,               /* what the protocol says for that position */
    FUZZ_CLI_FD_NONE,                /* not sent: the reply carries fewer descriptors */
    FUZZ_CLI_FD_EVENTFD,             /* not a memfd at all */
    FUZZ_CLI_FD_EMPTY_MEMFD,         /* a memfd of size 0, unsealed */
    FUZZ_CLI_FD_SHIFTED,             /* the right one of the next position */
    FUZZ_CLI_FD_KINDS
};

/* ---- fuzz_shared -----------------------------------------------------------------------------
 *
 * What clients (and the server, for client-writable memory) read from shared memory that
 * someone else wrote: a handle table (a server-written slab pool with the handle geometry,
 * read through a client view), a frame table, and sync objects in a client-writable pool.
 * byte 0: FUZZ_SHM_CFG_* bits.  Then records, each an op byte (modulo FUZZ_SHM_OPS):
 *
 *   HANDLE_BYTES  u16 slot, 64 bytes: written over that handle-table slot (slot % 64)
 *   HANDLE_TAG    u16 slot, u16 type, u32 slab generation: a live-looking tag over the slot
 *   LOOKUP        u32 handle: awe_handle_lookup through the view, checked against the slot
 *   LOOKUP_SLOT   u16 slot, u32 slab generation, u8 tag bits: the same for the handle that
 *                 names that slot at that generation
 *   GROW          u8 n: a pool of one slot per block grows to n % 4 + 1 slots under a view
 *                 opened before, which must then resolve exactly the slots in the file
 *   FRAME_BITS    u8 word, u64 bits: a frame-table word, then its frames tested
 *   SYNC_RAW      u8 object, u64 state, u64 aux: written over that sync object
 *   SYNC_FORGE    u8 object, u8 flags, u32 data (FUZZ_SHM_SELF_TID: our thread's TID): a state
 *                 word with a valid hash
 *   SYNC_GEN      u8 object, u32 generation: the slot's authoritative generation changes
 *   SYNC_OP       u8 object, u8 operation (FUZZ_SHM_*), u32 argument: the operation, with a
 *                 zero timeout; wait-any, wait-all and the server waits take the objects of
 *                 the argument's low bits (bits 8-13: the same again); RETIRE is the server
 *                 closing the object (generation bumped, dead word written)
 * With FUZZ_SHM_CFG_HOOK the harness registers a hook that does what the server would, at
 * once: wait-all and wait-any by one server-side attempt, pulse, thread abandonment.
 */
#define FUZZ_SHM_MAX_OPS     64
#define FUZZ_SHM_SLOTS       2048    /* handle-table slots (one block of 1024 in the file) */
#define FUZZ_SHM_OBJECTS     6       /* sync objects: semaphore (max 3), semaphore (max
                                        0x7fffffff), mutex, mutex, manual event, auto event */
#define FUZZ_SHM_FRAMES      4096    /* frame-table size */
#define FUZZ_SHM_SELF_TID    0xfffffffeu
#define FUZZ_SHM_CFG_SIGNALED 0x01   /* objects start signaled / owned by us (else free) */
#define FUZZ_SHM_CFG_HOOK     0x02   /* a server hook is registered (else: -ENOSYS) */

enum fuzz_shm_op
{
    FUZZ_SHM_HANDLE_BYTES, FUZZ_SHM_HANDLE_TAG, FUZZ_SHM_LOOKUP, FUZZ_SHM_LOOKUP_SLOT,
    FUZZ_SHM_GROW, FUZZ_SHM_FRAME_BITS, FUZZ_SHM_SYNC_RAW, FUZZ_SHM_SYNC_FORGE,
    FUZZ_SHM_SYNC_GEN, FUZZ_SHM_SYNC_OP, FUZZ_SHM_OPS
};

enum fuzz_shm_sync_op
{
    FUZZ_SHM_WAIT, FUZZ_SHM_RELEASE, FUZZ_SHM_SET, FUZZ_SHM_RESET, FUZZ_SHM_QUERY,
    FUZZ_SHM_WAIT_ANY, FUZZ_SHM_SERVER_WAIT_ANY, FUZZ_SHM_SERVER_WAIT_ALL, FUZZ_SHM_PULSE,
    FUZZ_SHM_ABANDON, FUZZ_SHM_CLEAR_NOTIFY, FUZZ_SHM_WAIT_ALL, FUZZ_SHM_CLIENT_PULSE,
    FUZZ_SHM_ABANDON_THREAD, FUZZ_SHM_RETIRE, FUZZ_SHM_SYNC_OPS
};

/* A sync state word with a valid hash, from docs/design.md section 8.2 ("Hash input"): FNV-1a
 * over the object id (8 bytes), the generation (4), the flags (1) and the data (4), all
 * little-endian, folded to 28 bits.  The harnesses use it to forge words and to check them. */
static inline uint64_t fuzz_sync_word( uint64_t id, uint32_t gen, unsigned int flags, uint32_t data )
{
    uint8_t bytes[17];
    uint32_t h = 2166136261u;
    int i;

    for (i = 0; i < 8; i++) bytes[i] = (uint8_t)(id >> (8 * i));
    for (i = 0; i < 4; i++) bytes[8 + i] = (uint8_t)(gen >> (8 * i));
    bytes[12] = (uint8_t)(flags & 0xf);
    for (i = 0; i < 4; i++) bytes[13 + i] = (uint8_t)(data >> (8 * i));
    for (i = 0; i < 17; i++) h = (h ^ bytes[i]) * 16777619u;
    h = (h >> 28) ^ (h & 0x0fffffffu);
    return (uint64_t)(flags & 0xf) << 60 | (uint64_t)h << 32 | data;
}

/* ---- the input reader --------------------------------------------------------------------- */

struct fuzz_input
{
    const uint8_t *data;
    size_t         size;
    size_t         pos;
};

static inline int fuzz_more( const struct fuzz_input *in )
{
    return in->pos < in->size;
}

static inline uint8_t fuzz_u8( struct fuzz_input *in )
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fuzz_u16( struct fuzz_input *in )
{
    uint16_t lo = fuzz_u8( in );
    return (uint16_t)(lo | fuzz_u8( in ) << 8);
}

static inline uint32_t fuzz_u32( struct fuzz_input *in )
{
    uint32_t lo = fuzz_u16( in );
    return lo | (uint32_t)fuzz_u16( in ) << 16;
}

static inline uint64_t fuzz_u64( struct fuzz_input *in )
{
    uint64_t lo = fuzz_u32( in );
    return lo | (uint64_t)fuzz_u32( in ) << 32;
}

/* Copies the next len bytes into dst, zeros past the end of the input. */
static inline void fuzz_bytes( struct fuzz_input *in, void *dst, size_t len )
{
    size_t n = in->size - in->pos < len ? in->size - in->pos : len;

    memcpy( dst, in->data + in->pos, n );
    memset( (char *)dst + n, 0, len - n );
    in->pos += n;
}

/* ---- checks ------------------------------------------------------------------------------- */

/* An invariant failed: say which on the real stderr (the harnesses silence the stdio one) and
 * abort, which libFuzzer reports as a crash with the input that caused it. */
#define FUZZ_CHECK(cond, ...) \
    do { if (!(cond)) { dprintf( 2, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond ); \
                        dprintf( 2, __VA_ARGS__ ); dprintf( 2, "\n" ); abort(); } } while (0)

/* Known bugs, each named by a FUZZ_KNOWN_* bit: by default a harness steers its inputs around
 * them so that a campaign explores the rest; AWE_FUZZ_KNOWN_BUGS=<bits> (or all) lets them
 * through, to check a fix against fuzz/crashes-found/.  fuzz/README.md lists them. */
static inline unsigned int fuzz_known_bugs( void )
{
    static int known = -1;

    if (known < 0)
    {
        const char *env = getenv( "AWE_FUZZ_KNOWN_BUGS" );
        /* every known bug is fixed: all are let through unless the variable says otherwise */
        known = !env || !strcmp( env, "all" ) ? 0x7fffffff : (int)strtol( env, NULL, 0 );
    }
    return (unsigned int)known;
}

/* Returns non-zero when AWE_FUZZ_VERBOSE is set: the code under test may then write on stderr. */
static inline int fuzz_verbose( void )
{
    static int verbose = -1;

    if (verbose < 0) verbose = getenv( "AWE_FUZZ_VERBOSE" ) != NULL;
    return verbose;
}

/* The code under test logs on stdio's stderr; unless verbose, that goes to /dev/null (its
 * formatting still runs).  Sanitizers and libFuzzer write to descriptor 2 and are unaffected. */
static inline void fuzz_quiet_stderr( void )
{
    FILE *null;

    if (fuzz_verbose() || !(null = fopen( "/dev/null", "we" ))) return;
    stderr = null;
}

/* Whether descriptor fd is of a kind the code under test creates (a memfd, a socket, an
 * eventfd, an epoll), rather than one of libFuzzer's or the sanitizers' (the symbolizer's
 * pipes, corpus files). */
static inline int fuzz_fd_is_ours( int fd, char *target, size_t size )
{
    char path[64];
    ssize_t len;

    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    if ((len = readlink( path, target, size - 1 )) < 0) len = 0;
    target[len] = 0;
    return !strncmp( target, "/memfd:", 7 ) || !strncmp( target, "socket:", 7 ) ||
           !strncmp( target, "anon_inode:", 11 );
}

/* Checks, after an input released everything, that no descriptor of ours was left open.  The
 * set of open descriptors is compared with the one at the last check (the first one, made by
 * LLVMFuzzerInitialize through fuzz_start_fds, counts nothing); a new one of another kind
 * (libFuzzer's) joins the set, a new one of ours is a leak.  period > 1 checks every
 * period-th input only. */
static uint64_t fuzz_known_fds[16];   /* descriptors 0-1023 open at the last check */
static unsigned int fuzz_fd_checks;

static inline void fuzz_check_fds( unsigned int period )
{
    uint64_t *known = fuzz_known_fds;
    unsigned int runs;
    uint64_t now[16] = { 0 };
    char target[256];
    struct dirent *entry;
    DIR *dir;
    int fd, self, leaks = 0, i;

    runs = ++fuzz_fd_checks;
    if ((runs - 1) % period || !(dir = opendir( "/proc/self/fd" ))) return;
    self = dirfd( dir );
    while ((entry = readdir( dir )))
        if ((fd = atoi( entry->d_name )) > 0 && fd != self && fd < 1024) now[fd / 64] |= 1ull << (fd % 64);
    closedir( dir );
    for (i = 0; i < 16; i++)
    {
        uint64_t added = now[i] & ~known[i];

        while (added)
        {
            fd = i * 64 + __builtin_ctzll( added );
            added &= added - 1;
            if (runs > 1 && fuzz_fd_is_ours( fd, target, sizeof(target) ))
            {
                dprintf( 2, "descriptor %d (%s) leaked\n", fd, target );
                leaks++;
            }
        }
        known[i] = now[i];
    }
    FUZZ_CHECK( !leaks, "%d descriptors leaked by this input", leaks );
}

/* Takes the set of open descriptors once the harness is set up: the first input is checked. */
static inline void fuzz_start_fds( void )
{
    fuzz_fd_checks = 0;
    fuzz_check_fds( 1 );
}

#endif  /* __AWE_FUZZ_H */
