/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Micro benchmark of the shared handle table: client lookups, server alloc/free, seqlock reads.
 *
 *   bench_handle [--quick] [--tsv FILE]
 *
 * Prints nanoseconds per operation (median of a few rounds, single thread, warm caches); with
 * --tsv the rows are appended with no baseline columns.  The numbers are for comparing
 * revisions on one machine, not absolute truths. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "awe/shm.h"
#include "bench.h"

#define HANDLES 1024
#define ROUNDS  5
#define NROWS   6

static struct bench_row rows[NROWS];
static size_t nrows;

static double now_ns( void )
{
    return bench_now_ns();
}

static void report( const char *name, const char *what, double *round_ns, unsigned long ops )
{
    double ns = bench_median( round_ns, ROUNDS ) / ops;

    printf( "%-40s %8.1f ns/op\n", what, ns );
    rows[nrows++] = (struct bench_row){ name, "ns/op", ns, BENCH_NONE, BENCH_NONE };
}

int main( int argc, char **argv )
{
    static struct { _Atomic uint64_t seq; _Atomic uint64_t words[8]; } record;
    struct awe_handle_table *table;
    struct awe_slab_geometry geo;
    struct awe_slab_view *view;
    struct awe_handle_entry entry = { .object_id = 1, .type = 1 };
    uint32_t live[HANDLES], stale[HANDLES], handle;
    unsigned long i, ops, sum = 0;
    double start, t[ROUNDS];
    uint64_t copy[8];
    struct bench_options opt;
    unsigned long scale;
    int round, err;

    bench_parse_args( argc, argv, &opt );
    scale = opt.quick ? 10 : 1;
    if ((err = awe_handle_table_create( 4 * HANDLES, &table )))
    {
        fprintf( stderr, "awe_handle_table_create: %d\n", err );
        return 1;
    }
    awe_handle_table_geometry( table, &geo );
    if ((err = awe_slab_view_open( awe_handle_table_client_fd( table ), &geo, &view )))
    {
        fprintf( stderr, "awe_slab_view_open: %d\n", err );
        return 1;
    }
    for (i = 0; i < HANDLES; i++)
    {
        entry.object_id = i;
        if (awe_handle_alloc( table, &entry, &stale[i] ) || awe_handle_alloc( table, &entry, &live[i] ))
            return 1;
    }
    for (i = 0; i < HANDLES; i++) awe_handle_free( table, stale[i] );

    ops = 4000000 / scale;
    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++)
            if (!awe_handle_lookup( view, live[i % HANDLES], &entry )) sum += entry.object_id;
        t[round] = now_ns() - start;
    }
    report( "handle_lookup_live", "client lookup, live handle", t, ops );

    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++) sum += awe_handle_lookup( view, stale[i % HANDLES], &entry ) == -ESTALE;
        t[round] = now_ns() - start;
    }
    report( "handle_lookup_closed", "client lookup, closed handle", t, ops );

    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++)
            if (!awe_handle_get( table, live[i % HANDLES], &entry )) sum += entry.object_id;
        t[round] = now_ns() - start;
    }
    report( "handle_server_get", "server get", t, ops );

    ops = 1000000 / scale;
    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++)
        {
            entry.object_id = i;
            if (awe_handle_free( table, live[i % HANDLES] ) ||
                awe_handle_alloc( table, &entry, &handle ))
                return 1;
            live[i % HANDLES] = handle;
        }
        t[round] = now_ns() - start;
    }
    report( "handle_free_alloc", "server free + alloc (FIFO reuse)", t, ops );

    ops = 10000000 / scale;
    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++)
            if (!awe_seq_read64( &record.seq, copy, record.words, 8 )) sum += copy[i % 8];
        t[round] = now_ns() - start;
    }
    report( "seqlock_read_8_words", "seqlock read of 8 words, no writer", t, ops );

    for (round = 0; round < ROUNDS; round++)
    {
        start = now_ns();
        for (i = 0; i < ops; i++)
        {
            AWE_SHARED_WRITE_BEGIN( &record.seq )
            {
                atomic_store_explicit( &record.words[i % 8], i, AWE_SHARED_STORE_ORDER );
            }
            AWE_SHARED_WRITE_END;
        }
        t[round] = now_ns() - start;
    }
    report( "seqlock_write_1_word", "seqlock write section, one word", t, ops );

    printf( "(checksum %lu)\n", sum );
    bench_write_tsv( opt.tsv, rows, nrows );
    awe_slab_view_close( view );
    awe_handle_table_destroy( table );
    return 0;
}
