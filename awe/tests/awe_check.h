/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the unit tests of every component. */

#ifndef __AWE_CHECK_H
#define __AWE_CHECK_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Defines Suite *<name>_suite(void), which the generated runner calls. */
#define AWE_DEFINE_SUITE(name) Suite *name##_suite( void ); Suite *name##_suite( void )

/* Fills an out-parameter with a pattern before the call under test, so a missed write shows. */
#define POISON(x) memset( &(x), 0xcc, sizeof(x) )

/* Check's ck_assert_* record their location through a pipe on every success, one write(2)
 * each: hot loops in model and stress tests use these, which only speak on failure. */
#define AWE_EXPECT(expr) \
    do { if (!(expr)) ck_abort_msg( "%s:%d: expected %s", __FILE__, __LINE__, #expr ); } while (0)
#define AWE_EXPECT_EQ(a, b) \
    do { unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
         if (a_ != b_) ck_abort_msg( "%s:%d: %s == %s: got %#llx and %#llx", __FILE__, __LINE__, \
                                     #a, #b, a_, b_ ); } while (0)

/* Exit code for a test that cannot run here; it says why on stderr first. */
#define AWE_TEST_SKIP 77

/* Returns non-zero when the tests run under valgrind or a sanitizer, where long randomized
 * runs are shortened (the Makefile sets these variables). */
static inline int awe_test_slow_tool( void )
{
    return getenv( "AWE_UNDER_VALGRIND" ) || getenv( "AWE_UNDER_TSAN" );
}

#endif  /* __AWE_CHECK_H */
