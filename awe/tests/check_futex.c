/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the futex helpers: return conventions, absolute deadlines, vectored waits. */

#include <pthread.h>
#include "awe/futex.h"
#include "awe_check.h"

static void deadline_in( struct timespec *ts, long ms )
{
    clock_gettime( CLOCK_MONOTONIC, ts );
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000)
    {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static int passed( const struct timespec *ts )
{
    struct timespec now;

    clock_gettime( CLOCK_MONOTONIC, &now );
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

START_TEST(test_wait_value_and_deadline)
{
    uint32_t word = 5;
    struct timespec ts;

    errno = 1234;
    ck_assert_int_eq( futex_wait( &word, 6, NULL, 1 ), -EAGAIN );
    ck_assert_int_eq( futex_wait( &word, 6, NULL, 0 ), -EAGAIN );
    ck_assert_int_eq( errno, 1234 );
    deadline_in( &ts, 20 );
    ck_assert_int_eq( futex_wait( &word, 5, &ts, 1 ), -ETIMEDOUT );
    ck_assert_msg( passed( &ts ), "returned before the deadline" );
    ck_assert_int_eq( errno, 1234 );
    ck_assert_int_eq( futex_wake( &word, 1, 1 ), 0 );
}
END_TEST

struct waker
{
    uint32_t *word;                 /* word to change and wake */
    int       shared;               /* futex kind */
};

static void *change_and_wake( void *arg )
{
    struct waker *w = arg;
    struct timespec ts = { 0, 10 * 1000000 };

    nanosleep( &ts, NULL );
    /* release: the waiter's reload sees the new value */
    __atomic_store_n( w->word, 1, __ATOMIC_RELEASE );
    futex_wake( w->word, 1, w->shared );
    return NULL;
}

START_TEST(test_wait_woken)
{
    uint32_t word = 0;
    struct waker w = { &word, _i };
    struct timespec ts;
    pthread_t thread;

    ck_assert_int_eq( pthread_create( &thread, NULL, change_and_wake, &w ), 0 );
    deadline_in( &ts, 10000 );
    while (!__atomic_load_n( &word, __ATOMIC_ACQUIRE ))
        ck_assert_int_ne( futex_wait( &word, 0, &ts, _i ), -ETIMEDOUT );
    pthread_join( thread, NULL );
}
END_TEST

START_TEST(test_waitv)
{
    uint32_t words[2] = { 0, 0 };
    struct futex_waiter waiters[2];
    struct waker w = { &words[1], 1 };
    struct timespec ts;
    pthread_t thread;
    int ret;

    futex_waiter_init( &waiters[0], &words[0], 0, 1 );
    futex_waiter_init( &waiters[1], &words[1], 7, 1 );
    ret = futex_waitv( waiters, 2, NULL );
    if (ret == -ENOSYS)
    {
        /* valgrind 3.19 does not know the system call: the sync core falls back to the hook */
        ck_assert_msg( awe_test_slow_tool(), "futex_waitv missing outside valgrind" );
        return;
    }
    ck_assert_int_eq( ret, -EAGAIN );

    futex_waiter_init( &waiters[1], &words[1], 0, 1 );
    deadline_in( &ts, 20 );
    ck_assert_int_eq( futex_waitv( waiters, 2, &ts ), -ETIMEDOUT );
    ck_assert_msg( passed( &ts ), "returned before the deadline" );

    ck_assert_int_eq( pthread_create( &thread, NULL, change_and_wake, &w ), 0 );
    deadline_in( &ts, 10000 );
    do ret = futex_waitv( waiters, 2, &ts );
    while (ret == 0);   /* a spurious wake of entry 0 is allowed by the interface */
    pthread_join( thread, NULL );
    ck_assert_msg( ret == 1 || ret == -EAGAIN, "got %d", ret );
}
END_TEST

AWE_DEFINE_SUITE(futex)
{
    Suite *s = suite_create( "futex" );
    TCase *tc = tcase_create( "core" );

    tcase_add_test( tc, test_wait_value_and_deadline );
    tcase_add_loop_test( tc, test_wait_woken, 0, 2 );
    tcase_add_test( tc, test_waitv );
    suite_add_tcase( s, tc );
    return s;
}
