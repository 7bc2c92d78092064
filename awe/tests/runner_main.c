/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit test runner: runs every Check suite of one component.
 *
 * The Makefile generates suites.h with one AWE_SUITE(name) line per tests/check_<name>.c, so a
 * new test file needs no registration.  CK_RUN_SUITE / CK_RUN_CASE select a subset and CK_FORK=no
 * (used under valgrind) runs the tests in this process, as Check documents. */

#include <stdio.h>
#include <stdlib.h>
#include <check.h>

#define AWE_SUITE(name) Suite *name##_suite( void );
#include "suites.h"
#undef AWE_SUITE

int main( void )
{
    SRunner *runner = NULL;
    int failed;

#define AWE_SUITE(name) \
    if (!runner) runner = srunner_create( name##_suite() ); \
    else srunner_add_suite( runner, name##_suite() );
#include "suites.h"
#undef AWE_SUITE

    if (!runner)
    {
        fprintf( stderr, "%s: no test suites\n", AWE_COMPONENT );
        return EXIT_FAILURE;
    }
    srunner_run_all( runner, CK_NORMAL );
    failed = srunner_ntests_failed( runner );
    srunner_free( runner );
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
