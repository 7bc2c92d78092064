/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's embedding interface as a host other than libawe uses it (Wine's ntdll): its
 * own handles, resolved at step 6 of Windows' order, its own token mirrored into the server's,
 * and windows it reserves itself. */

#include <sys/mman.h>
#include "ntdll_side/engine.h"
#include "ntdll_side/ntdll_private.h"
#include "awe/tests/server_fixture.h"

#define P AWE_PAGE_SIZE
#define HOST_SELF  ((uintptr_t)0x1000)   /* this host's handle to the current process */
#define HOST_OTHER ((uintptr_t)0x2000)   /* ... to the process in other_pid */
#define HOST_NOVM  ((uintptr_t)0x3000)   /* ... to it, without PROCESS_VM_OPERATION */

static int resolved, synced, privilege_enabled;
static pid_t other_pid;
static uint32_t other_handle;   /* the last engine handle opened for HOST_OTHER */

static int32_t host_resolve( uintptr_t handle, uint32_t *process, int *close )
{
    resolved++;
    *close = 0;
    switch (handle)
    {
    case (uintptr_t)-1:
    case HOST_SELF:
        *process = AWE_ENGINE_CURRENT_PROCESS;
        return STATUS_SUCCESS;
    case HOST_OTHER:
        *close = 1;
        return awe_engine_open_process( (uint32_t)other_pid, PROCESS_VM_OPERATION, &other_handle ) ?:
               (*process = other_handle, STATUS_SUCCESS);
    case HOST_NOVM:
        return STATUS_ACCESS_DENIED;
    default:
        return STATUS_INVALID_HANDLE;
    }
}

static int32_t host_sync_privilege( void )
{
    synced++;
    return awe_engine_set_lock_privilege( privilege_enabled );
}

static const struct awe_engine_host test_host = { host_resolve, host_sync_privilege };

static void setup( void )
{
    server_start();
}

static void teardown( void )
{
    server_stop();
}

/* A process that waits to be given frames (by the test, through HOST_OTHER) and then exits. */
static pid_t start_other( int *release )
{
    int fds[2];
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( fds ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid)
    {
        close( fds[1] );
        /* attached, the server knows this process; it leaves when the test closes the pipe */
        _exit( awe_client_attach() || read( fds[0], &c, 1 ) != 0 );
    }
    close( fds[0] );
    *release = fds[1];
    return pid;
}

struct ext_param { uint64_t type, value; };

/* AllocateUserPhysicalPages2's parameters (awe-spec.md 2.1 step 1), checked before anything
 * else; large frames are not there (1450, after the handle and the privilege). */
static int check_allocate_ex( uintptr_t *pfns )
{
    static const struct { struct ext_param params[2]; uint32_t n; int32_t status; } tests[] =
    {
        { { { 2, 0 } }, 1, STATUS_SUCCESS },                               /* NumaNode 0 */
        { { { 2, 1ull << 63 } }, 1, STATUS_SUCCESS },                      /* node 0, mandatory */
        { { { 2, 1 } }, 1, STATUS_INVALID_PARAMETER },                     /* no node 1 */
        { { { 5, 0x4 } }, 1, STATUS_SUCCESS },                             /* ZERO_PAGES_OPTIONAL */
        { { { 5, 0x8 } }, 1, STATUS_INSUFFICIENT_RESOURCES },              /* NONPAGED_LARGE */
        { { { 5, 0x10 } }, 1, STATUS_INSUFFICIENT_RESOURCES },             /* NONPAGED_HUGE */
        { { { 5, 0x18 } }, 1, STATUS_INVALID_PARAMETER },                  /* both */
        { { { 5, 0x2 } }, 1, STATUS_INVALID_PARAMETER },                   /* NONPAGED */
        { { { 2, 0 }, { 2, 0 } }, 2, STATUS_INVALID_PARAMETER },           /* duplicate */
        { { { 1, 0 } }, 1, STATUS_INVALID_PARAMETER },                     /* address requirements */
        { { { 0x102, 0 } }, 1, STATUS_INVALID_PARAMETER },                 /* reserved bits */
        { { { 2, 0 }, { 5, 0x4 } }, 2, STATUS_SUCCESS },
    };
    uintptr_t count;
    unsigned int i;
    int32_t status;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
    {
        count = 1;
        status = awe_engine_allocate_ex( HOST_SELF, &count, pfns, tests[i].params, tests[i].n );
        CHILD_CHECK( status == tests[i].status, "case %u: status %#x", i, (unsigned int)status );
        if (!status)
        {
            CHILD_CHECK( count == 1, "case %u: count %lu", i, (unsigned long)count );
            CHILD_CHECK( !awe_engine_free( HOST_SELF, &count, pfns ), "case %u: free", i );
        }
    }
    count = 1;
    CHILD_CHECK( awe_engine_allocate_ex( HOST_SELF, &count, pfns, (void *)16, 1 ) == STATUS_ACCESS_VIOLATION,
                 "bad parameter pointer" );
    CHILD_CHECK( awe_engine_allocate_ex( HOST_SELF, NULL, pfns, tests[0].params, 1 ) == STATUS_ACCESS_VIOLATION,
                 "bad count" );
    CHILD_CHECK( awe_engine_allocate_ex( 0x9999, &count, pfns, tests[6].params, 1 ) == STATUS_INVALID_PARAMETER,
                 "parameters come first" );
    CHILD_CHECK( awe_engine_allocate_ex( 0x9999, &count, pfns, tests[4].params, 1 ) == STATUS_INVALID_HANDLE,
                 "the handle before the missing large frames" );
    privilege_enabled = 0;
    CHILD_CHECK( awe_engine_allocate_ex( HOST_SELF, &count, pfns, tests[4].params, 1 ) == STATUS_PRIVILEGE_NOT_HELD,
                 "the privilege before the missing large frames" );
    privilege_enabled = 1;
    return 0;
}

static int child_host( void *arg )
{
    uintptr_t count, pfns[8], bad_count = 4;
    void *win;
    uint32_t protect, old;
    size_t run;
    int mapped, tries;

    awe_engine_set_host( &test_host );

    /* steps 2-5 come before the handle: the host is not asked */
    CHILD_CHECK( awe_engine_allocate( 0x9999, NULL, pfns ) == STATUS_ACCESS_VIOLATION, "null count" );
    CHILD_CHECK( awe_engine_allocate( 0x9999, &bad_count, NULL ) == STATUS_ACCESS_VIOLATION, "null array" );
    count = 0;
    CHILD_CHECK( awe_engine_allocate( 0x9999, &count, NULL ) == STATUS_SUCCESS, "zero count" );
    CHILD_CHECK( !resolved, "the host was asked %d times before step 6", resolved );
    /* step 6: the host's answer, before the privilege */
    count = 4;
    CHILD_CHECK( awe_engine_allocate( 0x9999, &count, pfns ) == STATUS_INVALID_HANDLE, "bad handle" );
    CHILD_CHECK( awe_engine_allocate( HOST_NOVM, &count, pfns ) == STATUS_ACCESS_DENIED, "no access" );
    CHILD_CHECK( !synced, "privilege synced before the handle was good" );
    /* step 7: the host's token, mirrored */
    privilege_enabled = 0;
    CHILD_CHECK( awe_engine_allocate( HOST_SELF, &count, pfns ) == STATUS_PRIVILEGE_NOT_HELD, "no privilege" );
    CHILD_CHECK( synced == 1 && count == 4, "synced %d, count %lu", synced, (unsigned long)count );
    privilege_enabled = 1;
    CHILD_CHECK( awe_engine_allocate( HOST_SELF, &count, pfns ) == STATUS_SUCCESS && count == 4, "allocate" );
    CHILD_CHECK( !check_allocate_ex( pfns + 4 ), "allocate_ex" );

    /* a window the host reserved its own way */
    win = mmap( NULL, 8 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0 );
    CHILD_CHECK( win != MAP_FAILED, "reserve" );
    CHILD_CHECK( awe_engine_map( win, 4, pfns ) == STATUS_INVALID_PARAMETER_1, "map outside a window" );
    CHILD_CHECK( awe_engine_add_window( win, 8 * P ) == STATUS_SUCCESS, "add window" );
    CHILD_CHECK( awe_engine_add_window( (char *)win + P, P ) == STATUS_CONFLICTING_ADDRESSES, "overlap" );
    CHILD_CHECK( awe_engine_map( (char *)win + 2 * P, 4, pfns ) == STATUS_SUCCESS, "map" );
    memset( (char *)win + 2 * P, 0x5a, 4 * P );
    CHILD_CHECK( !awe_engine_query_window( win, &mapped, &protect, &run ), "query" );
    CHILD_CHECK( !mapped && !protect && run == 2 * P, "query unmapped: %d %u %zu", mapped, protect, run );
    CHILD_CHECK( !awe_engine_query_window( (char *)win + 3 * P, &mapped, &protect, &run ), "query" );
    CHILD_CHECK( mapped && protect == PAGE_READWRITE && run == 3 * P, "query mapped: %d %u %zu",
                 mapped, protect, run );
    CHILD_CHECK( awe_engine_protect_window( (char *)win + 2 * P, P, PAGE_READONLY, &old ) == STATUS_SUCCESS &&
                 old == PAGE_READWRITE, "protect" );
    CHILD_CHECK( awe_engine_protect_window( win, P, PAGE_EXECUTE, &old ) == STATUS_CONFLICTING_ADDRESSES,
                 "protect execute" );
    CHILD_CHECK( !awe_engine_query_window( (char *)win + 2 * P, &mapped, &protect, &run ) &&
                 protect == PAGE_READONLY && run == P, "query read-only" );
    /* releasing the window unmaps its frames; they stay ours and map elsewhere */
    CHILD_CHECK( awe_engine_remove_window( (char *)win + P ) == STATUS_MEMORY_NOT_ALLOCATED, "not base" );
    CHILD_CHECK( awe_engine_remove_window( win ) == STATUS_SUCCESS, "remove" );
    CHILD_CHECK( mincore( (char *)win + 2 * P, P, (unsigned char[1]){ 0 } ) == 0, "range kept" );
    CHILD_CHECK( awe_engine_map( (char *)win + 2 * P, 1, pfns ) == STATUS_INVALID_PARAMETER_1, "map after remove" );
    CHILD_CHECK( awe_engine_add_window( win, 8 * P ) == STATUS_SUCCESS, "add again" );
    CHILD_CHECK( awe_engine_map( win, 4, pfns ) == STATUS_SUCCESS, "remap" );
    CHILD_CHECK( ((unsigned char *)win)[3 * P + 17] == 0x5a, "data lost" );
    count = 4;
    CHILD_CHECK( awe_engine_free( HOST_SELF, &count, pfns ) == STATUS_SUCCESS && count == 4, "free" );

    /* another process (started by the test before this one attached: a process with threads
     * must not fork one that makes threads, for ThreadSanitizer) through the host's handle:
     * the engine opens it and closes it again */
    for (tries = 0; tries < 500 && server_status( NULL, 0 ) < 2; tries++) sleep_ms( 10 );
    count = 2;
    CHILD_CHECK( awe_engine_allocate( HOST_OTHER, &count, pfns ) == STATUS_SUCCESS && count == 2,
                 "allocate for another process" );
    count = 2;
    CHILD_CHECK( awe_engine_free( HOST_OTHER, &count, pfns ) == STATUS_SUCCESS && count == 2,
                 "free another process's frames" );
    CHILD_CHECK( awe_check_handle( other_handle, AWE_OBJECT_PROCESS, 0 ) == STATUS_INVALID_HANDLE,
                 "the engine did not close the handle it was given" );
    munmap( win, 8 * P );
    return 0;
}

START_TEST(test_host_interface)
{
    int release, status;

    other_pid = start_other( &release );
    ck_assert_int_eq( run_child( child_host, NULL ), 0 );
    close( release );
    ck_assert_int_eq( waitpid( other_pid, &status, 0 ), other_pid );
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "other process: %#x", status );
}
END_TEST

AWE_DEFINE_SUITE(engine)
{
    Suite *s = suite_create( "engine" );
    TCase *tc = tcase_create( "host" );

    tcase_add_checked_fixture( tc, setup, teardown );
    tcase_add_test( tc, test_host_interface );
    tcase_set_timeout( tc, 60 );
    suite_add_tcase( s, tc );
    return s;
}
