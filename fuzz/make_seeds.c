/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed corpus generator: writes the seeds (and a dictionary) of one harness from the protocol
 * structures and the input formats of fuzz/fuzz.h, so that seeds follow both.
 *
 *   make_seeds HARNESS DIR [DICT]     HARNESS: server, client or shared
 *
 * Each seed is a scenario the harness could not easily find alone: the request sequences of
 * an Allocate, a cross-process Free with its acknowledgement, a timeout, malformed messages,
 * replies that lie about their sizes, hostile table entries and sync words. */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "awe/protocol.h"
#include "awe/shm.h"
#include "awe/sync.h"
#include "fuzz/fuzz.h"

/* ---- building inputs ---------------------------------------------------------------------- */

struct seed
{
    uint8_t bytes[1 << 17];
    size_t  len;
};

static struct seed seed;
static const char *out_dir;
static int seeds_written;

static void put( const void *data, size_t len )
{
    if (seed.len + len > sizeof(seed.bytes)) abort();
    memcpy( seed.bytes + seed.len, data, len );
    seed.len += len;
}

static void put8( uint8_t v )   { put( &v, 1 ); }
static void put16( uint16_t v ) { put8( (uint8_t)v ); put8( (uint8_t)(v >> 8) ); }
static void put32( uint32_t v ) { put16( (uint16_t)v ); put16( (uint16_t)(v >> 16) ); }
static void put64( uint64_t v ) { put32( (uint32_t)v ); put32( (uint32_t)(v >> 32) ); }

static void start( void )
{
    seed.len = 0;
}

static void finish( const char *name )
{
    char path[4096];
    FILE *file;

    snprintf( path, sizeof(path), "%s/%s", out_dir, name );
    if (!(file = fopen( path, "wb" )) || fwrite( seed.bytes, 1, seed.len, file ) != seed.len ||
        fclose( file ))
    {
        fprintf( stderr, "make_seeds: %s: %s\n", path, strerror( errno ) );
        exit( 1 );
    }
    seeds_written++;
}

/* ---- fuzz_server seeds --------------------------------------------------------------------- */

#define FIRST_HANDLE awe_handle_encode( 0, 1 )   /* the first handle of a fresh table */

/* A REQ record: the fixed fields of a request structure after its header. */
#define PUT_REQ(client, name, ...) \
    do { struct name##_request r_ = { __VA_ARGS__ }; \
         put8( FUZZ_SRV_OP( FUZZ_SRV_REQ, client ) ); put8( AWE_REQ_##name ); \
         put( (char *)&r_ + sizeof(r_.header), sizeof(r_) - sizeof(r_.header) ); } while (0)

static void srv_init( int client )
{
    PUT_REQ( client, init_process, .version = AWE_PROTOCOL_VERSION );
}

/* open_token on the current process, then enable SeLockMemoryPrivilege: the token is the
 * first handle of a fresh table. */
static void srv_enable( int client, uint32_t token )
{
    struct adjust_privileges_request r = { .token = token };
    struct awe_wire_privilege priv = { AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_ENABLED };

    PUT_REQ( client, open_token, .process = AWE_CURRENT_PROCESS, .access = AWE_TOKEN_ADJUST_PRIVILEGES );
    put8( FUZZ_SRV_OP( FUZZ_SRV_REQ, client ) );
    put8( AWE_REQ_adjust_privileges );
    put( (char *)&r + sizeof(r.header), sizeof(r) - sizeof(r.header) );
    put8( 1 );
    put( &priv, sizeof(priv) );
}

static void srv_alloc( int client, uint32_t handle, uint64_t count )
{
    PUT_REQ( client, allocate_pages, .process = handle, .count = count );
}

/* FREE record: handle selector, one spec (tag selector, index, count), repeat once. */
static void srv_free( int client, uint8_t handle_sel, uint8_t tag_sel, uint16_t index, uint16_t count,
                      uint16_t repeat )
{
    put8( FUZZ_SRV_OP( FUZZ_SRV_FREE, client ) );
    put8( handle_sel );
    put8( 0 );                       /* one spec */
    put8( tag_sel );
    put16( index );
    put16( count );
    put16( repeat );
}

static void srv_open( int client, int target )
{
    put8( FUZZ_SRV_OP( FUZZ_SRV_OPEN, client ) );
    put8( (uint8_t)target );
    put8( 0 );                       /* PROCESS_VM_OPERATION */
}

static void srv_ack( int client )
{
    put8( FUZZ_SRV_OP( FUZZ_SRV_ACK, client ) );
    put8( 0 );
    put64( 3 );
    put64( 2 );
}

static void srv_raw( int client, const void *msg, uint16_t len )
{
    put8( FUZZ_SRV_OP( FUZZ_SRV_RAW, client ) );
    put16( len );
    put( msg, len );
}

static void server_seeds( void )
{
    struct init_process_request init = { { AWE_REQ_init_process, sizeof(init) }, AWE_PROTOCOL_VERSION, 0 };
    struct get_status_request status = { { AWE_REQ_get_status, sizeof(status) }, 0, 0 };

    start(); put8( 0 ); srv_init( 0 ); finish( "init" );

    start(); put8( 0 ); srv_init( 0 ); srv_init( 1 ); PUT_REQ( 2, get_status, .pad = 0 );
    PUT_REQ( 0, get_status, .pad = 0 ); finish( "status" );

    /* Allocate and Free through the pseudo-handle: enable the privilege first */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 8 ); srv_free( 0, 0, 0xff, 0, 8, 0 ); finish( "alloc-free" );

    /* an AWE section (the second handle, after the token): frames through its handle, a
     * duplicate that keeps it when the first handle goes, a large one */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    PUT_REQ( 0, create_section, .flags = 0, .access = AWE_SECTION_MAP_WRITE );
    srv_alloc( 0, awe_handle_encode( 1, 1 ), 4 );
    PUT_REQ( 0, dup_handle, .handle = awe_handle_encode( 1, 1 ) );
    PUT_REQ( 0, close_handle, .handle = awe_handle_encode( 1, 1 ) );
    srv_alloc( 0, awe_handle_encode( 2, 1 ), 2 );
    PUT_REQ( 0, create_section, .flags = AWE_SECTION_LARGE, .access = AWE_SECTION_MAP_WRITE );
    PUT_REQ( 0, get_status, .pad = 0 ); finish( "section" );

    /* a partial Free: a run past the owned frames, a repeat */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 4 ); srv_free( 0, 0, 0xff, 2, 5, 1 );
    srv_free( 0, 0, 0xff, 0, 0xffff, 0 ); finish( "free-partial" );

    /* another process frees A's frames: the reply waits for A's acknowledgement */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_alloc( 0, AWE_CURRENT_PROCESS, 16 );
    srv_init( 1 ); srv_open( 1, 0 ); srv_free( 1, 1, 0, 0, 16, 0 ); srv_ack( 0 ); finish( "cross-free-ack" );

    /* ... or for the timeout, then A acknowledges late */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_alloc( 0, AWE_CURRENT_PROCESS, 16 );
    srv_init( 1 ); srv_open( 1, 0 ); srv_free( 1, 1, 0, 4, 8, 0 );
    put8( FUZZ_SRV_OP( FUZZ_SRV_TIME, 0 ) ); put16( 2500 ); srv_ack( 0 ); finish( "cross-free-timeout" );

    /* ... or A goes away meanwhile; then B frees through its stale handle */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_alloc( 0, AWE_CURRENT_PROCESS, 16 );
    srv_init( 1 ); srv_open( 1, 0 ); srv_free( 1, 1, 0, 0, 16, 0 );
    put8( FUZZ_SRV_OP( FUZZ_SRV_DISCONNECT, 0 ) ); put8( 0 );
    srv_free( 1, 1, 0, 0, 1, 0 ); PUT_REQ( 1, allocate_pages, .process = FIRST_HANDLE, .count = 1 );
    finish( "cross-free-exit" );

    /* B allocates for A through its handle, A frees through a real handle to itself */
    start(); put8( 0 ); srv_init( 0 ); srv_init( 1 ); srv_enable( 1, FIRST_HANDLE ); srv_open( 1, 0 );
    srv_alloc( 1, awe_handle_encode( 1, 1 ), 12 ); srv_open( 0, 0 ); srv_free( 0, 1, 0xff, 0, 12, 0 );
    srv_ack( 0 ); finish( "alloc-for-other" );

    /* handles: close twice, wrong types, a token of another process */
    start(); put8( 0 ); srv_init( 0 ); srv_init( 1 ); srv_open( 0, 1 );
    PUT_REQ( 0, open_token, .process = FIRST_HANDLE, .access = AWE_TOKEN_ADJUST_PRIVILEGES );
    PUT_REQ( 0, allocate_pages, .process = awe_handle_encode( 1, 1 ), .count = 1 );
    PUT_REQ( 0, open_token, .process = awe_handle_encode( 1, 1 ), .access = 0 );
    PUT_REQ( 0, close_handle, .handle = FIRST_HANDLE ); PUT_REQ( 0, close_handle, .handle = FIRST_HANDLE );
    PUT_REQ( 0, close_handle, .handle = AWE_CURRENT_PROCESS ); finish( "handles" );

    /* privileges: disable all, removed, unknown ones, and a prior state reported */
    {
        struct adjust_privileges_request r = { .token = FIRST_HANDLE, .disable_all = 0 };
        struct awe_wire_privilege privs[3] = { { AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_REMOVED },
                                               { 20, AWE_SE_PRIVILEGE_ENABLED },
                                               { AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_ENABLED } };
        start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
        put8( FUZZ_SRV_OP( FUZZ_SRV_REQ, 0 ) ); put8( AWE_REQ_adjust_privileges );
        put( (char *)&r + sizeof(r.header), sizeof(r) - sizeof(r.header) ); put8( 3 ); put( privs, sizeof(privs) );
        PUT_REQ( 0, adjust_privileges, .token = FIRST_HANDLE, .disable_all = 1 );
        srv_alloc( 0, AWE_CURRENT_PROCESS, 1 ); finish( "privileges" );
    }

    /* quota, limit and reserve cut requests, then refuse them */
    start(); put8( FUZZ_SRV_CFG_QUOTA ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, FUZZ_SRV_QUOTA - 4 ); srv_alloc( 0, AWE_CURRENT_PROCESS, 8 );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 1 ); finish( "quota" );
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_init( 1 ); srv_enable( 1, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, FUZZ_SRV_LIMIT / 2 + 8 ); srv_alloc( 1, AWE_CURRENT_PROCESS, FUZZ_SRV_LIMIT / 2 + 8 );
    srv_alloc( 1, AWE_CURRENT_PROCESS, 1 ); PUT_REQ( 1, get_status, .pad = 0 ); finish( "limit" );
    start(); put8( FUZZ_SRV_CFG_RESERVE ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 1 ); finish( "reserve" );
    start(); put8( FUZZ_SRV_CFG_MEMLOCK | FUZZ_SRV_CFG_NO_LIMIT ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 100 ); srv_init( 1 ); srv_enable( 1, FIRST_HANDLE );
    srv_alloc( 1, AWE_CURRENT_PROCESS, 100 ); PUT_REQ( 1, get_status, .pad = 0 ); finish( "memlock" );
    start(); put8( FUZZ_SRV_CFG_NO_GRANT | FUZZ_SRV_CFG_UNLOCKED | FUZZ_SRV_CFG_NO_LIMIT );
    srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_alloc( 0, AWE_CURRENT_PROCESS, 1 ); finish( "no-grant" );

    /* malformed messages: short, lying sizes, bad padding, out of order */
    start(); put8( 0 ); srv_raw( 0, &init, 4 ); finish( "short" );
    {
        struct init_process_request bad = init;
        bad.header.size += 8;
        start(); put8( 0 ); srv_raw( 0, &bad, sizeof(bad) ); bad = init; bad.pad = 1;
        srv_raw( 1, &bad, sizeof(bad) ); bad = init; bad.header.req = AWE_REQ_COUNT; srv_raw( 2, &bad, sizeof(bad) );
        srv_raw( 3, &status, sizeof(status) ); finish( "malformed" );
    }
    start(); put8( 0 ); srv_alloc( 0, AWE_CURRENT_PROCESS, 1 ); srv_init( 1 ); srv_init( 1 ); finish( "order" );
    start(); put8( 0 ); srv_init( 0 ); put8( FUZZ_SRV_OP( FUZZ_SRV_RAW_BIG, 0 ) ); put8( 17 );
    put32( AWE_REQ_free_pages ); put32( AWE_MAX_MESSAGE + 1 ); put8( 0 ); finish( "big" );
    {
        struct { struct free_pages_request req; char odd[12]; } odd = { { { AWE_REQ_free_pages, sizeof(odd) },
                                                                         AWE_CURRENT_PROCESS, 0 }, { 0 } };
        start(); put8( 0 ); srv_init( 0 ); srv_raw( 0, &odd, sizeof(odd) ); finish( "free-odd" );
    }

    /* through the socket, with descriptors attached */
    start(); put8( 0 ); put8( FUZZ_SRV_OP( FUZZ_SRV_SOCKET, 0 ) ); put8( 3 ); put16( sizeof(init) );
    put( &init, sizeof(init) ); put8( FUZZ_SRV_OP( FUZZ_SRV_SOCKET, 1 ) ); put8( 20 ); put16( sizeof(init) );
    put( &init, sizeof(init) ); finish( "socket-fds" );

    /* hostile clients: a scribbled notification event, a grown memfd, early acknowledgements */
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE ); srv_alloc( 0, AWE_CURRENT_PROCESS, 4 );
    put8( FUZZ_SRV_OP( FUZZ_SRV_SCRIBBLE, 0 ) ); put8( 1 ); put8( 1 ); put8( AWE_SYNC_FLAG_WAITERS ); put32( 1 );
    srv_init( 1 ); srv_open( 1, 0 ); srv_free( 1, 1, 0, 0, 4, 0 ); srv_ack( 0 ); finish( "scribble-notify" );
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    put8( FUZZ_SRV_OP( FUZZ_SRV_SCRIBBLE, 0 ) ); put8( 1 ); put8( 0 ); put64( 0x123456789abcdefull );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 4 ); srv_open( 0, 0 ); srv_free( 0, 2, 0xff, 0, 4, 0 );
    put8( FUZZ_SRV_OP( FUZZ_SRV_ACK, 0 ) ); put8( 1 ); put32( 0x7fffffff ); put64( 0 ); put64( 0 );
    finish( "scribble-raw" );
    start(); put8( 0 ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    put8( FUZZ_SRV_OP( FUZZ_SRV_MEMFD, 0 ) ); put8( 0 ); put16( 200 ); put16( 0 );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 8 ); put8( FUZZ_SRV_OP( FUZZ_SRV_MEMFD, 0 ) ); put8( 1 ); put16( 0 );
    put16( 4 ); srv_free( 0, 0, 0xff, 0, 8, 0 ); finish( "memfd" );

    /* the -d trace of every request */
    start(); put8( FUZZ_SRV_CFG_DEBUG ); srv_init( 0 ); srv_enable( 0, FIRST_HANDLE );
    srv_alloc( 0, AWE_CURRENT_PROCESS, 2 ); srv_free( 0, 0, 0xff, 0, 2, 0 ); srv_open( 0, 0 );
    PUT_REQ( 0, close_handle, .handle = FIRST_HANDLE ); PUT_REQ( 0, get_status, .pad = 0 );
    srv_raw( 0, &status, 4 ); finish( "debug" );
}

/* Writes 32-bit little-endian values as libFuzzer dictionary entries. */
static void write_dict( FILE *dict, const uint32_t *values, size_t count )
{
    size_t i;

    for (i = 0; i < count; i++)
        fprintf( dict, "v%zu=\"\\x%02x\\x%02x\\x%02x\\x%02x\"\n", i, values[i] & 0xff,
                 (values[i] >> 8) & 0xff, (values[i] >> 16) & 0xff, values[i] >> 24 );
}

static void server_dict( FILE *dict )
{
    const uint32_t values[] =
    {
        FIRST_HANDLE, awe_handle_encode( 1, 1 ), awe_handle_encode( 2, 1 ), AWE_CURRENT_PROCESS,
        AWE_PROTOCOL_VERSION, FUZZ_SRV_PID_BASE, FUZZ_SRV_PID_BASE + 1, AWE_PROCESS_VM_OPERATION,
        AWE_TOKEN_ADJUST_PRIVILEGES, AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_ENABLED,
        AWE_SE_PRIVILEGE_REMOVED
    };
    write_dict( dict, values, sizeof(values) / sizeof(values[0]) );
}

static void client_dict( FILE *dict )
{
    const uint32_t values[] =
    {
        FUZZ_CLI_HANDLE_VM, FUZZ_CLI_HANDLE_NONE, FUZZ_CLI_HANDLE_TOKEN, STATUS_PENDING,
        STATUS_INTERNAL_ERROR, STATUS_INSUFFICIENT_RESOURCES, sizeof(struct allocate_pages_reply),
        sizeof(struct free_pages_reply), sizeof(struct init_process_reply), FUZZ_CLI_INDEX_BITS,
        FUZZ_CLI_TAG_BITS, AWE_SE_LOCK_MEMORY_PRIVILEGE, AWE_SE_PRIVILEGE_ENABLED
    };
    write_dict( dict, values, sizeof(values) / sizeof(values[0]) );
}

static void shared_dict( FILE *dict )
{
    const uint32_t values[] =
    {
        awe_handle_encode( 1, 1 ), awe_handle_encode( 2, 2 ), AWE_HANDLE_GEN_MAX, 0x40000000u,
        0xffffffffu, 0xdeadd0deu, FUZZ_SHM_SELF_TID, AWE_OBJECT_PROCESS | 1u << 16
    };
    write_dict( dict, values, sizeof(values) / sizeof(values[0]) );
}

/* ---- fuzz_client seeds --------------------------------------------------------------------- */

/* A reply record: mode (descriptors, fix-ups), then the bytes of a reply structure and its
 * variable part. */
static void cli_reply( uint8_t mode, const void *reply, size_t size, const void *data, size_t data_size )
{
    put8( mode );
    put16( (uint16_t)(size + data_size) );
    put( reply, size );
    put( data, data_size );
}

#define CLI_OK (FUZZ_CLI_REPLY_SIZE | FUZZ_CLI_REPLY_OK)

static void cli_handle( uint32_t handle )
{
    if (handle == AWE_CURRENT_PROCESS) put8( 0 );
    else
    {
        put8( 1 );
        put32( handle );
    }
}

static void cli_allocate( uint32_t handle, uint16_t count )
{
    put8( FUZZ_CLI_ALLOCATE );
    cli_handle( handle );
    put16( count );
}

static void cli_free( uint32_t handle, const uint16_t *frames, uint8_t n )
{
    put8( FUZZ_CLI_FREE );
    cli_handle( handle );
    put8( n );
    for (uint8_t i = 0; i < n; i++) put16( frames[i] );
}

/* An ATTACH record's descriptor kinds (NULL: every one right); the caller adds the rest. */
static void cli_attach( const uint8_t *kinds )
{
    int i;

    put8( FUZZ_CLI_ATTACH );
    for (i = 0; i < 5; i++) put8( kinds ? kinds[i] : FUZZ_CLI_FD_RIGHT );
}

static void client_seeds( void )
{
    struct allocate_pages_reply alloc = { { STATUS_SUCCESS, 0 }, 8, FUZZ_CLI_TAG, 0, 1, 0 };
    struct awe_wire_run runs[3] = { { 0, 4 }, { 10, 4 }, { 100, 2 } };
    struct free_pages_reply freed = { { STATUS_SUCCESS, 0 }, 4, 0, 0 };
    struct open_process_reply opened = { { STATUS_SUCCESS, 0 }, awe_handle_encode( 3, 1 ), 0 };
    struct close_handle_reply closed = { { STATUS_SUCCESS, 0 } };
    struct open_token_reply token = { { STATUS_SUCCESS, 0 }, awe_handle_encode( 4, 1 ), 0 };
    struct adjust_privileges_reply adjusted = { { STATUS_SUCCESS, 0 }, 0, 0 };
    struct awe_wire_privilege prev = { AWE_SE_LOCK_MEMORY_PRIVILEGE, 0 };
    struct awe_reply_header failed = { STATUS_INSUFFICIENT_RESOURCES, sizeof(failed) };
    uint16_t frames[6] = { 0, 1, 2, 3, 10, 300 };

    /* Allocate: one reply; then more = 1 and a second round; then a failing second round */
    start(); cli_allocate( AWE_CURRENT_PROCESS, 8 ); put8( 1 ); cli_reply( CLI_OK, &alloc, sizeof(alloc), runs, 2 * sizeof(runs[0]) );
    finish( "allocate" );
    start(); alloc.more = 1; cli_allocate( AWE_CURRENT_PROCESS, 12 ); put8( 2 );
    cli_reply( CLI_OK, &alloc, sizeof(alloc), runs, 2 * sizeof(runs[0]) ); alloc.more = 0;
    cli_reply( CLI_OK, &alloc, sizeof(alloc), runs + 2, sizeof(runs[0]) ); finish( "allocate-more" );
    start(); alloc.more = 1; cli_allocate( AWE_CURRENT_PROCESS, 12 ); put8( 2 );
    cli_reply( CLI_OK, &alloc, sizeof(alloc), runs, sizeof(runs[0]) ); alloc.more = 0;
    cli_reply( 0, &failed, sizeof(failed), NULL, 0 ); finish( "allocate-partial" );
    start(); cli_allocate( FUZZ_CLI_HANDLE_VM, 2 ); put8( 1 ); cli_reply( CLI_OK, &alloc, sizeof(alloc), runs + 2, sizeof(runs[0]) );
    cli_allocate( FUZZ_CLI_HANDLE_NONE, 2 ); put8( 0 ); cli_allocate( FUZZ_CLI_HANDLE_TOKEN, 2 ); put8( 0 );
    cli_allocate( 0x12345678, 1 ); put8( 0 ); finish( "allocate-handles" );

    /* Free: own frames, through a handle (quarantined), a failure with a count */
    start(); cli_free( AWE_CURRENT_PROCESS, frames, 6 ); put8( 1 ); cli_reply( CLI_OK, &freed, sizeof(freed), NULL, 0 );
    finish( "free" );
    start(); freed.quarantined = 1; cli_free( FUZZ_CLI_HANDLE_VM, frames, 4 ); put8( 1 );
    cli_reply( CLI_OK, &freed, sizeof(freed), NULL, 0 ); freed.quarantined = 0;
    freed.header.status = STATUS_CONFLICTING_ADDRESSES; freed.freed = 2;
    cli_free( AWE_CURRENT_PROCESS, frames + 2, 4 ); put8( 1 ); cli_reply( FUZZ_CLI_REPLY_SIZE, &freed, sizeof(freed), NULL, 0 );
    finish( "free-handle" );

    /* handles and privileges */
    start(); put8( FUZZ_CLI_OPEN ); put32( 1234 ); put32( AWE_PROCESS_VM_OPERATION ); put8( 1 );
    cli_reply( CLI_OK, &opened, sizeof(opened), NULL, 0 );
    put8( FUZZ_CLI_CLOSE ); put32( opened.handle ); put8( 1 ); cli_reply( CLI_OK, &closed, sizeof(closed), NULL, 0 );
    put8( FUZZ_CLI_TOKEN ); cli_handle( AWE_CURRENT_PROCESS ); put32( AWE_TOKEN_ADJUST_PRIVILEGES ); put8( 1 );
    cli_reply( CLI_OK, &token, sizeof(token), NULL, 0 ); finish( "handles" );
    start(); put8( FUZZ_CLI_ADJUST ); put32( token.handle ); put8( 0 ); put8( 2 );
    put32( AWE_SE_LOCK_MEMORY_PRIVILEGE ); put32( AWE_SE_PRIVILEGE_ENABLED ); put32( 20 ); put32( 0 );
    put8( 3 ); put16( 64 ); put8( 1 ); cli_reply( CLI_OK, &adjusted, sizeof(adjusted), &prev, sizeof(prev) );
    put8( FUZZ_CLI_ADJUST ); put32( token.handle ); put8( 1 ); put8( 0 ); put8( 3 ); put16( 4 ); put8( 1 );
    cli_reply( CLI_OK, &adjusted, sizeof(adjusted), &prev, sizeof(prev) ); finish( "privileges" );

    /* replies that lie: short, long, a size that is not the length, an unread second one */
    start(); put8( FUZZ_CLI_OPEN ); put32( 1 ); put32( 0 ); put8( 2 );
    cli_reply( 0, &opened, 6, NULL, 0 ); cli_reply( CLI_OK, &opened, sizeof(opened), NULL, 0 );
    put8( FUZZ_CLI_OPEN ); put32( 1 ); put32( 0 ); put8( 1 ); cli_reply( FUZZ_CLI_REPLY_OK, &opened, sizeof(opened), NULL, 0 );
    put8( FUZZ_CLI_CLOSE ); put32( 4 ); put8( 1 ); cli_reply( CLI_OK, &opened, sizeof(opened), NULL, 0 );
    finish( "lies" );

    /* the attachment: what a server sends, then with the thread failing, odd layouts */
    start(); cli_attach( NULL ); put8( 0 ); put32( 0 ); finish( "attach" );
    start(); cli_attach( NULL ); put8( 1 ); put32( 0 );
    cli_attach( (const uint8_t[5]){ 0, 0, 0, FUZZ_CLI_FD_SHIFTED, 0 } ); put8( 0 ); put32( 0 );
    finish( "attach-thread" );
    start(); cli_attach( NULL ); put8( 0 ); put32( (1u << 3) | (1u << 4) ); put32( 20 ); put32( 11 );
    cli_attach( (const uint8_t[5]){ 0, 0, 0, 0, FUZZ_CLI_FD_NONE } ); put8( 0 ); put32( 0 );
    cli_attach( NULL ); put8( 0 ); put32( 1u << 0 ); put32( STATUS_NOT_SUPPORTED ); finish( "attach-odd" );

    /* AWE sections: what a server sends (small, large), then descriptors swapped or missing and
     * a table size that is not the layout's, each refused reply followed by its close_handle */
    start();
    put8( FUZZ_CLI_SECTION ); put32( AWE_SECTION_MAP_WRITE ); put8( 0 ); put8( FUZZ_CLI_FD_RIGHT );
    put8( FUZZ_CLI_FD_RIGHT ); put8( 0 ); put8( 0 ); put8( 0 ); put8( 6 ); put8( AWE_BACKING_SMALL ); put8( 0 );
    put8( 0 );
    put8( FUZZ_CLI_SECTION ); put32( AWE_SECTION_MAP_WRITE ); put8( 1 ); put8( FUZZ_CLI_FD_RIGHT );
    put8( FUZZ_CLI_FD_RIGHT ); put8( 1 ); put8( 0 ); put8( 0 ); put8( 7 ); put8( AWE_BACKING_EMULATED ); put8( 0 );
    put8( 0 );
    finish( "section" );
    start();
    put8( FUZZ_CLI_SECTION ); put32( AWE_SECTION_MAP_WRITE ); put8( 0 ); put8( FUZZ_CLI_FD_SHIFTED );
    put8( FUZZ_CLI_FD_SHIFTED ); put8( 0 ); put8( 0 ); put8( 0 ); put8( 6 ); put8( 0 ); put8( 0 );
    put8( 1 ); cli_reply( CLI_OK, &closed, sizeof(closed), NULL, 0 );
    put8( FUZZ_CLI_SECTION ); put32( AWE_SECTION_MAP_WRITE ); put8( 0 ); put8( FUZZ_CLI_FD_RIGHT );
    put8( FUZZ_CLI_FD_NONE ); put8( 0 ); put8( 0 ); put8( 0 ); put8( 6 ); put8( 0 ); put8( 0 );
    put8( 1 ); cli_reply( CLI_OK, &closed, sizeof(closed), NULL, 0 );
    put8( FUZZ_CLI_SECTION ); put32( AWE_SECTION_MAP_WRITE ); put8( 0 ); put8( FUZZ_CLI_FD_RIGHT );
    put8( FUZZ_CLI_FD_RIGHT ); put8( 2 ); put32( 3 ); put8( 0 ); put8( 0 ); put8( 6 ); put8( 0 ); put8( 1 );
    put64( 1u << 20 ); put8( 1 ); cli_reply( CLI_OK, &closed, sizeof(closed), NULL, 0 );
    finish( "section-odd" );
}

/* ---- fuzz_shared seeds --------------------------------------------------------------------- */

static void shm_sync_op( uint8_t object, uint8_t op, uint32_t arg )
{
    put8( FUZZ_SHM_SYNC_OP ); put8( object ); put8( op ); put32( arg );
}

static void shared_seeds( void )
{
    int i;

    /* handles: a live tag looked up at its generation, a wrong one, raw bytes, beyond the file */
    start(); put8( 0 ); put8( FUZZ_SHM_HANDLE_TAG ); put16( 5 ); put16( AWE_OBJECT_PROCESS ); put32( 3 );
    put8( FUZZ_SHM_LOOKUP_SLOT ); put16( 5 ); put32( 3 ); put8( 2 );
    put8( FUZZ_SHM_LOOKUP_SLOT ); put16( 5 ); put32( 5 ); put8( 0 );
    put8( FUZZ_SHM_LOOKUP ); put32( awe_handle_encode( 5, 2 ) ); put8( FUZZ_SHM_LOOKUP ); put32( 0x80400014 );
    put8( FUZZ_SHM_LOOKUP_SLOT ); put16( 1500 ); put32( 1 ); put8( 0 ); finish( "handle-tag" );
    start(); put8( 0 ); put8( FUZZ_SHM_HANDLE_BYTES ); put16( 7 );
    put64( AWE_OBJECT_TOKEN | (uint64_t)1 << 16 );
    for (i = 1; i < 8; i++) put64( 0x1111111111111111ull * i );
    put8( FUZZ_SHM_LOOKUP ); put32( awe_handle_encode( 7, 1 ) ); put8( FUZZ_SHM_HANDLE_BYTES ); put16( 8 );
    for (i = 0; i < 8; i++) put64( 0xaaaaaaaaaaaaaaaaull );
    put8( FUZZ_SHM_LOOKUP ); put32( awe_handle_encode( 8, 1 ) ); finish( "handle-bytes" );
    start(); put8( 0 ); put8( FUZZ_SHM_GROW ); put8( 2 ); put8( FUZZ_SHM_GROW ); put8( 3 );
    put8( FUZZ_SHM_FRAME_BITS ); put8( 3 ); put64( 0x8000000000000001ull ); finish( "grow-bits" );

    /* sync: every operation on every object, from free and from signaled */
    for (int signaled = 0; signaled < 2; signaled++)
    {
        start(); put8( signaled ? FUZZ_SHM_CFG_SIGNALED : 0 );
        for (i = 0; i < FUZZ_SHM_OBJECTS; i++)
        {
            shm_sync_op( (uint8_t)i, FUZZ_SHM_WAIT, 0 ); shm_sync_op( (uint8_t)i, FUZZ_SHM_QUERY, 0 );
            shm_sync_op( (uint8_t)i, FUZZ_SHM_RELEASE, 1 ); shm_sync_op( (uint8_t)i, FUZZ_SHM_SET, 0 );
            shm_sync_op( (uint8_t)i, FUZZ_SHM_RESET, 0 );
        }
        shm_sync_op( 0, FUZZ_SHM_WAIT_ANY, 0x3f ); shm_sync_op( 0, FUZZ_SHM_SERVER_WAIT_ALL, 0x3f );
        shm_sync_op( 0, FUZZ_SHM_SERVER_WAIT_ANY, 0x30 ); shm_sync_op( 4, FUZZ_SHM_PULSE, 0 );
        shm_sync_op( 5, FUZZ_SHM_PULSE, 0 ); shm_sync_op( 2, FUZZ_SHM_ABANDON, 0 );
        shm_sync_op( 2, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 3, FUZZ_SHM_CLEAR_NOTIFY, 0 );
        finish( signaled ? "sync-signaled" : "sync-free" );
    }
    /* through the server hook: wait-all, pulses, a dead thread's mutexes, notifications */
    start(); put8( FUZZ_SHM_CFG_HOOK | FUZZ_SHM_CFG_SIGNALED );
    shm_sync_op( 0, FUZZ_SHM_WAIT_ALL, 0x3f ); shm_sync_op( 0, FUZZ_SHM_WAIT_ALL, 0x0101 );
    shm_sync_op( 0, FUZZ_SHM_SERVER_WAIT_ANY, 0x11 ); shm_sync_op( 0, FUZZ_SHM_RELEASE, 1 );
    shm_sync_op( 4, FUZZ_SHM_CLIENT_PULSE, 0 ); shm_sync_op( 5, FUZZ_SHM_CLIENT_PULSE, 0 );
    shm_sync_op( 2, FUZZ_SHM_ABANDON_THREAD, 0 ); shm_sync_op( 2, FUZZ_SHM_WAIT, 0 );
    shm_sync_op( 3, FUZZ_SHM_RETIRE, 0 ); shm_sync_op( 3, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 3, FUZZ_SHM_RELEASE, 0 );
    finish( "sync-hook" );

    /* forged and scribbled words: corrupted, LOCKED, owned by us, a stale generation */
    start(); put8( 0 ); put8( FUZZ_SHM_SYNC_RAW ); put8( 0 ); put64( 0x1234 ); put64( 0 );
    shm_sync_op( 0, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 0, FUZZ_SHM_QUERY, 0 );
    put8( FUZZ_SHM_SYNC_FORGE ); put8( 1 ); put8( AWE_SYNC_FLAG_LOCKED ); put32( 2 );
    shm_sync_op( 1, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 1, FUZZ_SHM_SERVER_WAIT_ANY, 0x2 );
    put8( FUZZ_SHM_SYNC_FORGE ); put8( 2 ); put8( 0 ); put32( FUZZ_SHM_SELF_TID );
    shm_sync_op( 2, FUZZ_SHM_RELEASE, 0 ); shm_sync_op( 2, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 2, FUZZ_SHM_WAIT, 0 );
    shm_sync_op( 2, FUZZ_SHM_RELEASE, 0 ); shm_sync_op( 2, FUZZ_SHM_QUERY, 0 );
    put8( FUZZ_SHM_SYNC_GEN ); put8( 4 ); put32( 77 ); shm_sync_op( 4, FUZZ_SHM_SET, 0 );
    put8( FUZZ_SHM_SYNC_FORGE ); put8( 5 ); put8( AWE_SYNC_FLAG_WAITERS | AWE_SYNC_FLAG_NOTIFY ); put32( 3 );
    shm_sync_op( 5, FUZZ_SHM_WAIT, 0 ); shm_sync_op( 5, FUZZ_SHM_SET, 0 ); finish( "sync-forged" );
}

/* ---- main ---------------------------------------------------------------------------------- */

int main( int argc, char **argv )
{
    FILE *dict = NULL;

    if (argc < 3)
    {
        fprintf( stderr, "usage: %s server|client|shared DIR [DICT]\n", argv[0] );
        return 2;
    }
    out_dir = argv[2];
    if (argc > 3 && !(dict = fopen( argv[3], "w" )))
    {
        fprintf( stderr, "make_seeds: %s: %s\n", argv[3], strerror( errno ) );
        return 1;
    }
    if (!strcmp( argv[1], "server" ))
    {
        server_seeds();
        if (dict) server_dict( dict );
    }
    else if (!strcmp( argv[1], "client" ))
    {
        client_seeds();
        if (dict) client_dict( dict );
    }
    else if (!strcmp( argv[1], "shared" ))
    {
        shared_seeds();
        if (dict) shared_dict( dict );
    }
    else
    {
        fprintf( stderr, "make_seeds: no harness %s\n", argv[1] );
        return 2;
    }
    if (dict && fclose( dict )) return 1;
    printf( "%d seeds in %s\n", seeds_written, out_dir );
    return 0;
}
