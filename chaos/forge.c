/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Phase 4, forged sync states.
 *
 * A client may write its own sync pool (the AWE lock and the unmap notification live there,
 * docs/design.md sections 8.2 and 9).  A forger finds every pool it can map writable among the
 * descriptors of init_process, recognises the live state words in them by their hash (whose
 * inputs, the object id from the reply and a small generation, a client knows: FNV-1a over id,
 * generation, flags and data, folded to 28 bits), and forges them: validly hashed words with
 * LOCKED set, the corrupted marker, garbage, zeros, words flipped continuously by a thread.
 * Then another process frees the forger's frames through a process handle, which makes the
 * server notify the forger.  The server must keep serving everyone, answer that Free within
 * its acknowledgement timeout, and still stop on SIGTERM. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "awe.h"
#include "awe/sync.h"
#include "chaos/chaos.h"

#define ANSWER_MS    2000
#define FORGE_FRAMES 64
#define MAX_POOLS    8
#define MAX_WORDS    64          /* live words recognised, at most */
#define MAX_GEN      4096        /* generations tried when recognising a word */

/* The state word as docs/design.md 8.2 lays it out (flags: AWE_SYNC_FLAG_*). */
#define WORD_FLAGS_SHIFT 60
#define WORD_HASH_SHIFT  32
#define FNV_BASIS        2166136261u
#define FNV_PRIME        16777619u

enum forge_mode
{
    FORGE_LOCKED, FORGE_LOCKED_WAITERS, FORGE_CORRUPTED, FORGE_GARBAGE, FORGE_ZEROS, FORGE_FLIP,
    FORGE_ACK_AHEAD, FORGE_COUNT
};

static const char *const mode_names[FORGE_COUNT] =
{
    "validly hashed words with LOCKED", "validly hashed words with LOCKED and WAITERS",
    "the corrupted marker", "garbage in every word", "zeros in every word",
    "words flipped continuously by a thread", "garbage everywhere and early acknowledgements",
};

/* A live word: where it is and the key that validates it. */
struct live_word
{
    _Atomic uint64_t *word;
    uint64_t          id;
    uint32_t          gen;
    uint64_t          original;
};

struct forge_report
{
    _Atomic uint32_t ready;       /* 1 forged, 2 setup failed */
    _Atomic uint32_t quit;
    int32_t          pid;
    uint32_t         nwords;      /* live words recognised */
    uint32_t         npools;
    uint64_t         forged;
    uint64_t         pfns[FORGE_FRAMES];
    /* the freer's outcome */
    _Atomic uint32_t freed_done;  /* 1 returned */
    uint32_t         free_ok;
    uint32_t         free_error;
    uint64_t         free_count;
    uint64_t         free_ms;
};

static uint32_t fnv( uint32_t h, uint32_t byte )
{
    return (h ^ (byte & 0xff)) * FNV_PRIME;
}

static uint32_t word_key( uint64_t id, uint32_t gen )
{
    uint32_t h = FNV_BASIS;
    int i;

    for (i = 0; i < 8; i++) h = fnv( h, (uint32_t)(id >> (8 * i)) );
    for (i = 0; i < 4; i++) h = fnv( h, gen >> (8 * i) );
    return h;
}

static uint64_t make_word( uint32_t key, unsigned int flags, uint32_t data )
{
    uint32_t h = fnv( key, flags );

    h = fnv( h, data );
    h = fnv( h, data >> 8 );
    h = fnv( h, data >> 16 );
    h = fnv( h, data >> 24 );
    h = (h >> 28) ^ (h & 0x0fffffff);
    return (uint64_t)flags << WORD_FLAGS_SHIFT | (uint64_t)h << WORD_HASH_SHIFT | data;
}

static int boring( uint64_t w )
{
    uint64_t byte = w & 0xff;
    return !w || w == byte * 0x0101010101010101ull;
}

/* Finds the key of a word among the ids the reply names and small generations. */
static int recognise( uint64_t w, uint64_t base_id, uint64_t *id, uint32_t *gen )
{
    unsigned int flags = (unsigned int)(w >> WORD_FLAGS_SHIFT);
    uint32_t data = (uint32_t)w, g;
    uint64_t k;

    if (boring( w )) return 0;
    for (k = 0; k < 8; k++)
        for (g = 0; g < MAX_GEN; g++)
            if (make_word( word_key( base_id + k, g ), flags, data ) == w)
            {
                *id = base_id + k;
                *gen = g;
                return 1;
            }
    return 0;
}

struct forger
{
    struct raw_session s;
    _Atomic uint64_t  *pools[MAX_POOLS];
    size_t             pool_words[MAX_POOLS];
    unsigned           npools;
    struct live_word   live[MAX_WORDS];
    unsigned           nlive;
    int                signal_fd;          /* an event or pipe descriptor of the reply, -1 if none */
    struct forge_report *report;
};

static void forge_all( struct forger *f, int (*value)( struct forger *f, uint64_t *w ) )
{
    unsigned p;
    size_t i;

    for (p = 0; p < f->npools; p++)
        for (i = 0; i < f->pool_words[p]; i++)
        {
            uint64_t w = atomic_load_explicit( &f->pools[p][i], memory_order_relaxed );
            if (!value( f, &w )) continue;
            atomic_store_explicit( &f->pools[p][i], w, memory_order_release );
            f->report->forged++;
        }
}

static int value_garbage( struct forger *f, uint64_t *w )
{
    *w = rng_next( &rng );
    return 1;
}

static int value_zero( struct forger *f, uint64_t *w )
{
    *w = 0;
    return 1;
}

static void forge_live( struct forger *f, unsigned int add_flags, int marker )
{
    unsigned i;

    for (i = 0; i < f->nlive; i++)
    {
        struct live_word *l = &f->live[i];
        uint32_t key = word_key( l->id, l->gen );
        uint64_t w = marker ? make_word( key, AWE_SYNC_FLAG_CORRUPTED, 0xffffffff )
                            : make_word( key, (unsigned int)(l->original >> WORD_FLAGS_SHIFT) | add_flags,
                                         (uint32_t)l->original );
        atomic_store_explicit( l->word, w, memory_order_release );
        f->report->forged++;
    }
}

static void *flip_thread( void *arg )
{
    struct forger *f = arg;
    uint64_t n = 0;

    while (!atomic_load( &f->report->quit ))
    {
        unsigned i;

        for (i = 0; i < f->nlive; i++)
        {
            struct live_word *l = &f->live[i];
            uint32_t key = word_key( l->id, l->gen ), data = (uint32_t)l->original & 0x7ffffffc;
            uint64_t w;

            switch (n % 5)
            {
            case 0: w = make_word( key, AWE_SYNC_FLAG_LOCKED, data ); break;
            case 1: w = make_word( key, 0x0, data | (uint32_t)(n & 1) ); break;
            case 2: w = rng_next( &rng ); break;
            case 3: w = make_word( key, AWE_SYNC_FLAG_WAITERS | AWE_SYNC_FLAG_NOTIFY, data ); break;
            default: w = make_word( key, AWE_SYNC_FLAG_LOCKED | AWE_SYNC_FLAG_WAITERS, data | 1 ); break;
            }
            atomic_store_explicit( l->word, w, memory_order_release );
        }
        n++;
        if (!(n % 1024)) f->report->forged += 1024 * f->nlive;
    }
    return NULL;
}

static void __attribute__((noreturn)) forger_run( struct forge_report *report, enum forge_mode mode )
{
    static struct forger f;
    uint64_t got = 0;
    pthread_t thread;
    int i;

    memset( &f, 0, sizeof(f) );
    f.report = report;
    f.signal_fd = -1;
    report->pid = (int32_t)getpid();
    if (raw_init( main_server.dir, &f.s, ANSWER_MS ) || raw_enable_privilege( &f.s, ANSWER_MS ) ||
        raw_allocate( &f.s, AWE_CURRENT_PROCESS, FORGE_FRAMES, report->pfns, &got, ANSWER_MS ) ||
        got != FORGE_FRAMES)
    {
        atomic_store( &report->ready, 2 );
        _exit( 3 );
    }
    /* every descriptor but the frame memory that maps writable is a pool to forge */
    for (i = 1; i < f.s.nfds && f.npools < MAX_POOLS; i++)
    {
        struct stat st;
        void *p;

        if (fstat( f.s.fds[i], &st )) continue;
        if (!S_ISREG( st.st_mode ))
        {
            if (f.signal_fd < 0) f.signal_fd = f.s.fds[i];
            continue;
        }
        if (st.st_size < 8) continue;
        p = mmap( NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, f.s.fds[i], 0 );
        if (p == MAP_FAILED) continue;
        f.pools[f.npools] = p;
        f.pool_words[f.npools++] = (size_t)st.st_size / 8;
    }
    for (i = 0; i < (int)f.npools; i++)
    {
        size_t k;

        for (k = 0; k < f.pool_words[i] && f.nlive < MAX_WORDS; k++)
        {
            struct live_word *l = &f.live[f.nlive];
            uint64_t w = atomic_load( &f.pools[i][k] );

            if (!recognise( w, f.s.init.sync_id, &l->id, &l->gen )) continue;
            l->word = &f.pools[i][k];
            l->original = w;
            f.nlive++;
        }
    }
    report->nwords = f.nlive;
    report->npools = f.npools;
    switch (mode)
    {
    case FORGE_LOCKED:         forge_live( &f, AWE_SYNC_FLAG_LOCKED, 0 ); break;
    case FORGE_LOCKED_WAITERS: forge_live( &f, AWE_SYNC_FLAG_LOCKED | AWE_SYNC_FLAG_WAITERS, 0 ); break;
    case FORGE_CORRUPTED:      forge_live( &f, 0, 1 ); break;
    case FORGE_GARBAGE:        forge_all( &f, value_garbage ); break;
    case FORGE_ZEROS:          forge_all( &f, value_zero ); break;
    case FORGE_FLIP:           pthread_create( &thread, NULL, flip_thread, &f ); break;
    case FORGE_ACK_AHEAD:      forge_all( &f, value_garbage ); break;
    default: break;
    }
    atomic_store( &report->ready, 1 );
    while (!atomic_load( &report->quit ))
    {
        if (mode == FORGE_ACK_AHEAD)
        {
            forge_all( &f, value_garbage );
            if (f.signal_fd >= 0)
            {
                uint64_t one = 1;
                if (write( f.signal_fd, &one, sizeof(one) ) < 0) break;
            }
#ifdef AWE_REQ_ack_unmap
            /* protocol 3 acknowledges with a request: claim sequences never announced */
            {
                struct ack_unmap_request ack = { .header = { AWE_REQ_ack_unmap, sizeof(ack) },
                                                 .seq = (uint32_t)rng_next( &rng ) };
                if (raw_send( f.s.fd, &ack, sizeof(ack), NULL, 0, MSG_DONTWAIT ) == -EPIPE) break;
            }
#endif
        }
        sleep_ms( 1 );
    }
    _exit( 0 );
}

/* The other process: OpenProcess of the forger and FreeUserPhysicalPages through the handle. */
static void __attribute__((noreturn)) freer_run( struct forge_report *report )
{
    ULONG_PTR pfns[FORGE_FRAMES], n = FORGE_FRAMES, i;
    HANDLE process;
    uint64_t t0;

    for (i = 0; i < FORGE_FRAMES; i++) pfns[i] = (ULONG_PTR)report->pfns[i];
    if (!(process = OpenProcess( PROCESS_VM_OPERATION, FALSE, (DWORD)report->pid )))
    {
        report->free_error = GetLastError();
        atomic_store( &report->freed_done, 1 );
        _exit( 0 );
    }
    t0 = now_ms();
    report->free_ok = FreeUserPhysicalPages( process, &n, pfns );
    report->free_error = report->free_ok ? 0 : GetLastError();
    report->free_count = n;
    report->free_ms = now_ms() - t0;
    atomic_store( &report->freed_done, 1 );
    CloseHandle( process );
    _exit( 0 );
}

static void run_mode( struct forge_report *report, enum forge_mode mode )
{
    static struct status_info info;
    const char *name = mode_names[mode];
    pid_t forger, freer = 0;
    uint64_t end, t0;
    char what[160], desc[256];

    memset( report, 0, sizeof(*report) );
    snprintf( what, sizeof(what), "forged sync states (%s) and a cross-process Free of the forger's frames", name );
    if (!(forger = chaos_fork())) forger_run( report, mode );
    end = now_ms() + 5000;
    while (!atomic_load( &report->ready ) && now_ms() < end) sleep_ms( 1 );
    if (atomic_load( &report->ready ) != 1)
    {
        violation( "the forger (%s) could not attach and allocate", name );
        child_kill( forger );
        return;
    }
    if (!report->nwords && mode != FORGE_GARBAGE && mode != FORGE_ZEROS && mode != FORGE_ACK_AHEAD)
        note( "no validly hashed state word recognised in %u writable pools: '%s' forged nothing "
              "(did the protocol change?)", report->npools, name );
    t0 = now_ms();
    if (!(freer = chaos_fork())) freer_run( report );

    /* meanwhile everybody else is served */
    sleep_ms( 100 );
    if (status_raw( main_server.dir, &info, cfg.answer_deadline_ms ))
    {
        server_describe( &main_server, desc, sizeof(desc) );
        violation( "after %s, get_status was not answered within %u ms (%s)", what, cfg.answer_deadline_ms, desc );
    }
    else if (status_tool( main_server.dir, &info, cfg.answer_deadline_ms ))
        violation( "after %s, awe-server --status did not answer within %u ms", what, cfg.answer_deadline_ms );
    else probe_library( main_server.dir, cfg.probe_deadline_ms, what );

    end = t0 + cfg.ack_deadline_ms;
    while (!atomic_load( &report->freed_done ) && now_ms() < end) sleep_ms( 2 );
    if (!atomic_load( &report->freed_done ))
        violation( "the cross-process Free of the forger's frames (%s) was not answered within %u ms",
                   name, cfg.ack_deadline_ms );
    else if (!report->free_ok || report->free_count != FORGE_FRAMES)
        violation( "the cross-process Free of the forger's frames (%s) freed %llu of %u: error %u", name,
                   (unsigned long long)report->free_count, FORGE_FRAMES, report->free_error );
    else
    {
        fig_add( &fig->cross_frees, 1 );
        if (report->free_ms >= 1900) fig_add( &fig->ack_timeouts, 1 );
        if (!status_raw( main_server.dir, &info, cfg.answer_deadline_ms ) &&
            status_find( &info, report->pid ) && status_find( &info, report->pid )->allocated)
            violation( "after the forger's frames were freed (%s), --status still shows it with %llu", name,
                       (unsigned long long)status_find( &info, report->pid )->allocated );
    }
    child_kill( freer );
    atomic_store( &report->quit, 1 );
    if (child_wait( forger, 3000, NULL )) violation( "the forger (%s) did not quit", name );
    fig_add( &fig->forgeries, report->forged );
    verbose( "%s: %u live words in %u pools, %llu words forged; the Free %s", name, report->nwords,
             report->npools, (unsigned long long)report->forged, report->freed_done ? "returned" : "hung" );

    /* SIGTERM must still stop the server, cleanly; then a fresh one for the next state */
    server_stop( &main_server, what );
    if (server_start( &main_server ))
    {
        violation( "no new server could be started after %s", what );
        exit( 1 );
    }
    if (!server_check( &main_server, what )) server_settle( &main_server, what );
}

void phase_forge( unsigned budget_ms )
{
    struct forge_report *report = shared_alloc( sizeof(*report) );
    uint64_t v0 = fig_get( &fig->violations ), forged0 = fig_get( &fig->forgeries );
    unsigned mode;

    for (mode = 0; mode < FORGE_COUNT; mode++)
    {
        uint64_t before = fig_get( &fig->violations );

        run_mode( report, (enum forge_mode)mode );
        printf( "   %-48s %s\n", mode_names[mode], fig_get( &fig->violations ) == before ? "survived" : "FAILED" );
    }
    printf( "   %llu forged states, %llu violations\n", (unsigned long long)(fig_get( &fig->forgeries ) - forged0),
            (unsigned long long)(fig_get( &fig->violations ) - v0) );
}
