/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the seqlock primitives of the shared-memory core. */

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "awe/shm.h"
#include "awe_check.h"

#define WORDS 8
#define MIX   0x9e3779b97f4a7c15ull

/* A record whose every word derives from one counter, so a torn copy shows. */
struct record
{
    _Atomic uint64_t seq;               /* counter-style sequence word */
    _Atomic uint64_t words[WORDS];      /* words[i] = n ^ (i * MIX) for the n last written */
};

struct record32
{
    _Atomic uint64_t seq;
    _Atomic uint32_t words[WORDS];      /* words[i] = n + i */
};

static void write_record( struct record *rec, uint64_t n )
{
    uint64_t words[WORDS];
    int i;

    for (i = 0; i < WORDS; i++) words[i] = n ^ (i * MIX);
    AWE_SHARED_WRITE_BEGIN( &rec->seq )
    {
        awe_shared_store64( rec->words, words, WORDS );
    }
    AWE_SHARED_WRITE_END;
}

/* Returns the counter a copy was written from, or UINT64_MAX when the copy is torn. */
static uint64_t record_counter( const uint64_t *words )
{
    int i;

    for (i = 1; i < WORDS; i++) if (words[i] != (words[0] ^ (i * MIX))) return UINT64_MAX;
    return words[0];
}

START_TEST(test_write_section)
{
    static struct record rec;
    uint64_t copy[WORDS];

    ck_assert_uint_eq( atomic_load( &rec.seq ), 0 );
    awe_seq_write_begin( &rec.seq );
    ck_assert_uint_eq( atomic_load( &rec.seq ), 1 );
    awe_seq_write_end( &rec.seq );
    ck_assert_uint_eq( atomic_load( &rec.seq ), 2 );

    write_record( &rec, 77 );
    ck_assert_uint_eq( atomic_load( &rec.seq ), 4 );
    POISON(copy);
    ck_assert_int_eq( awe_seq_read64( &rec.seq, copy, rec.words, WORDS ), 0 );
    ck_assert_uint_eq( record_counter( copy ), 77 );
}
END_TEST

START_TEST(test_read_retry)
{
    static struct record rec;
    uint64_t start;

    write_record( &rec, 1 );
    start = awe_seq_read_begin( &rec.seq );
    ck_assert_uint_eq( start, 2 );
    ck_assert_int_eq( awe_seq_read_retry( &rec.seq, start ), 0 );
    write_record( &rec, 2 );
    ck_assert_int_ne( awe_seq_read_retry( &rec.seq, start ), 0 );

    /* the tagged form: any value can mark "being written" */
    awe_seq_begin_store( &rec.seq, 0 );
    ck_assert_uint_eq( atomic_load( &rec.seq ), 0 );
    awe_seq_end_store( &rec.seq, 0x1234 );
    start = awe_seq_read_begin( &rec.seq );
    ck_assert_uint_eq( start, 0x1234 );
    ck_assert_int_eq( awe_seq_read_retry( &rec.seq, start ), 0 );
}
END_TEST

START_TEST(test_read32)
{
    static struct record32 rec;
    uint32_t words[WORDS], copy[WORDS];
    int i;

    for (i = 0; i < WORDS; i++) words[i] = 500 + i;
    AWE_SHARED_WRITE_BEGIN( &rec.seq )
    {
        awe_shared_store32( rec.words, words, WORDS );
    }
    AWE_SHARED_WRITE_END;
    POISON(copy);
    ck_assert_int_eq( awe_seq_read32( &rec.seq, copy, rec.words, WORDS ), 0 );
    for (i = 0; i < WORDS; i++) ck_assert_uint_eq( copy[i], 500 + i );
}
END_TEST

/* A writer stopped inside its section makes readers give up with -EBUSY, not spin forever. */
START_TEST(test_stuck_writer)
{
    static struct record rec;
    static struct record32 rec32;
    uint64_t copy[WORDS];
    uint32_t copy32[WORDS];

    write_record( &rec, 5 );
    awe_seq_write_begin( &rec.seq );
    awe_seq_write_begin( &rec32.seq );
    POISON(copy);
    ck_assert_int_eq( awe_seq_read64( &rec.seq, copy, rec.words, WORDS ), -EBUSY );
    POISON(copy32);
    ck_assert_int_eq( awe_seq_read32( &rec32.seq, copy32, rec32.words, WORDS ), -EBUSY );
    awe_seq_write_end( &rec.seq );
    awe_seq_write_end( &rec32.seq );
    POISON(copy);
    ck_assert_int_eq( awe_seq_read64( &rec.seq, copy, rec.words, WORDS ), 0 );
    ck_assert_uint_eq( record_counter( copy ), 5 );
    POISON(copy32);
    ck_assert_int_eq( awe_seq_read32( &rec32.seq, copy32, rec32.words, WORDS ), 0 );
}
END_TEST

/* ---- concurrency: one writer, several readers, threads and processes ---- */

struct race
{
    struct record    rec;
    _Atomic int      done;          /* the writer finished */
    _Atomic uint64_t torn;          /* copies that mixed two writes */
    _Atomic uint64_t backwards;     /* copies older than one the same reader saw before */
    _Atomic uint64_t good;
    _Atomic uint64_t busy;
    _Atomic uint64_t last_seen;     /* counter of each reader's final copy, summed */
};

static uint64_t race_writes( void )
{
    return awe_test_slow_tool() ? 20000 : 400000;
}

/* Reads until the writer is done, then once more; the last read must see the last write. */
static void race_read( struct race *r )
{
    uint64_t copy[WORDS], n, last = 0;
    int done, err;

    do
    {
        done = atomic_load_explicit( &r->done, memory_order_acquire );
        if ((err = awe_seq_read64( &r->rec.seq, copy, r->rec.words, WORDS )))
        {
            atomic_fetch_add( &r->busy, 1 );
            continue;
        }
        if ((n = record_counter( copy )) == UINT64_MAX) atomic_fetch_add( &r->torn, 1 );
        else if (n < last) atomic_fetch_add( &r->backwards, 1 );
        else
        {
            last = n;
            atomic_fetch_add( &r->good, 1 );
        }
    } while (!done || err);
    atomic_fetch_add( &r->last_seen, last );
}

static void *race_reader( void *arg )
{
    race_read( arg );
    return NULL;
}

static void race_write( struct race *r )
{
    uint64_t n;

    for (n = 1; n <= race_writes(); n++) write_record( &r->rec, n );
    atomic_store_explicit( &r->done, 1, memory_order_release );
}

static void check_race( struct race *r, int readers )
{
    uint64_t torn = atomic_load( &r->torn ), backwards = atomic_load( &r->backwards );
    uint64_t last_seen = atomic_load( &r->last_seen ), good = atomic_load( &r->good );

    ck_assert_msg( !torn, "%llu torn copies", (unsigned long long)torn );
    ck_assert_msg( !backwards, "%llu copies went back in time", (unsigned long long)backwards );
    ck_assert_msg( last_seen == readers * race_writes(), "final reads saw %llu in all",
                   (unsigned long long)last_seen );
    ck_assert_uint_ge( good, readers );
}

START_TEST(test_readers_threads)
{
    static struct race r;
    pthread_t threads[3];
    int i;

    write_record( &r.rec, 0 );
    for (i = 0; i < 3; i++) ck_assert_int_eq( pthread_create( &threads[i], NULL, race_reader, &r ), 0 );
    race_write( &r );
    for (i = 0; i < 3; i++) pthread_join( threads[i], NULL );
    check_race( &r, 3 );
}
END_TEST

START_TEST(test_readers_processes)
{
    struct race *r = mmap( NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
    pid_t pids[2];
    int i, status;

    ck_assert_ptr_ne( r, MAP_FAILED );
    write_record( &r->rec, 0 );
    for (i = 0; i < 2; i++)
    {
        ck_assert_int_ge( (pids[i] = fork()), 0 );
        if (!pids[i])
        {
            race_read( r );
            _exit( 0 );
        }
    }
    race_write( r );
    for (i = 0; i < 2; i++)
    {
        ck_assert_int_eq( waitpid( pids[i], &status, 0 ), pids[i] );
        ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "reader %d: status %#x", i, status );
    }
    check_race( r, 2 );
    munmap( r, sizeof(*r) );
}
END_TEST

AWE_DEFINE_SUITE(seqlock)
{
    Suite *s = suite_create( "seqlock" );
    TCase *tc;

    tc = tcase_create( "core" );
    tcase_add_test( tc, test_write_section );
    tcase_add_test( tc, test_read_retry );
    tcase_add_test( tc, test_read32 );
    suite_add_tcase( s, tc );

    tc = tcase_create( "limits" );
    tcase_add_test( tc, test_stuck_writer );
    suite_add_tcase( s, tc );

    tc = tcase_create( "concurrency" );
    tcase_set_timeout( tc, 60 );
    tcase_add_test( tc, test_readers_threads );
    tcase_add_test( tc, test_readers_processes );
    suite_add_tcase( s, tc );
    return s;
}
