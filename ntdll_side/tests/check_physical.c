/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests of the physical-page API against a real awe-server. */

#include <pthread.h>
#include <sys/mman.h>
#include "ntdll_side/ntdll_private.h"
#include "awe/tests/server_fixture.h"

#define P AWE_PAGE_SIZE

static void setup( void )
{
    server_start();
}

static void teardown( void )
{
    server_stop();
}

/* Enables SeLockMemoryPrivilege as the Windows AWE example does; returns GetLastError(). */
static DWORD enable_lock_privilege( BOOL enable )
{
    TOKEN_PRIVILEGES tp;
    HANDLE token;

    CHILD_CHECK( OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token ),
                 "error %u", GetLastError() );
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = enable ? SE_PRIVILEGE_ENABLED : 0;
    CHILD_CHECK( LookupPrivilegeValueA( NULL, SE_LOCK_MEMORY_NAME, &tp.Privileges[0].Luid ), "lookup" );
    CHILD_CHECK( AdjustTokenPrivileges( token, FALSE, &tp, 0, NULL, NULL ), "error %u", GetLastError() );
    return GetLastError();
}

/* An AWE window, reserved through the library's internals (VirtualAlloc has its own tests). */
static char *reserve_window( size_t pages )
{
    char *base;
    int err = 0;

    CHILD_CHECK( !awe_client_lock(), "attach" );
    base = awe_reserve_range( NULL, pages * P, &err );
    CHILD_CHECK( base && !awe_regions_insert( &awe_client.regions, (uintptr_t)base, pages, NULL ), "reserve" );
    awe_client_unlock();
    return base;
}

static int faults( const void *va )
{
    int status;
    pid_t pid = fork();

    if (!pid)
    {
        signal( SIGSEGV, SIG_DFL );
        *(volatile const char *)va;
        _exit( 0 );
    }
    waitpid( pid, &status, 0 );
    return WIFSIGNALED( status ) && WTERMSIG( status ) == SIGSEGV;
}

static int child_allocate_map_free( void *arg )
{
    ULONG_PTR n = 64, pfns[64], again[64];
    char *win;
    size_t i, j;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "error %u", GetLastError() );
    CHILD_CHECK( n == 64, "got %lu", (unsigned long)n );
    for (i = 0; i < n; i++)
    {
        CHILD_CHECK( pfns[i] && pfns[i] < 0x80000000u, "pfn %#lx", (unsigned long)pfns[i] );
        for (j = 0; j < i; j++) CHILD_CHECK( pfns[i] != pfns[j], "duplicate" );
    }
    win = reserve_window( 16 );
    CHILD_CHECK( faults( win ), "unmapped window readable" );
    CHILD_CHECK( MapUserPhysicalPages( win, 16, pfns ), "map %u", GetLastError() );
    for (i = 0; i < 16 * P; i++) CHILD_CHECK( !win[i], "new frame not zero at %zu", i );
    for (i = 0; i < 16; i++) snprintf( win + i * P, 16, "frame %zu", i );
    CHILD_CHECK( MapUserPhysicalPages( win, 16, pfns + 16 ), "remap %u", GetLastError() );
    CHILD_CHECK( !win[0], "frame 16 not zero" );
    CHILD_CHECK( MapUserPhysicalPages( win + 5 * P, 1, pfns + 20 ) == FALSE &&
                 GetLastError() == ERROR_INVALID_ADDRESS, "frame 20 is mapped at page 4: %u", GetLastError() );
    CHILD_CHECK( MapUserPhysicalPages( win, 16, NULL ), "unmap" );
    CHILD_CHECK( MapUserPhysicalPages( win + 5 * P, 1, pfns + 3 ), "move %u", GetLastError() );
    CHILD_CHECK( !strcmp( win + 5 * P, "frame 3" ), "contents did not follow the frame" );

    /* F08: Free unmaps what is mapped */
    n = 64;
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "free %u", GetLastError() );
    CHILD_CHECK( n == 64, "freed %lu", (unsigned long)n );
    CHILD_CHECK( faults( win + 5 * P ), "freed frame still mapped" );
    /* F15: frames handed out again read as zero */
    n = 64;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, again ) && n == 64, "realloc" );
    CHILD_CHECK( MapUserPhysicalPages( win, 16, again ), "map again" );
    for (i = 0; i < 16 * P; i++) CHILD_CHECK( !win[i], "reused frame not zero at %zu", i );
    return 0;
}

START_TEST(test_allocate_map_free)
{
    ck_assert_int_eq( run_child( child_allocate_map_free, NULL ), 0 );
}
END_TEST

static int child_privilege( void *arg )
{
    ULONG_PTR n = 4, pfns[4] = { 1, 2, 3, 4 };
    int none = arg != NULL;

    /* A03: the privilege is held but disabled at first */
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "allocated without privilege" );
    CHILD_CHECK( GetLastError() == ERROR_PRIVILEGE_NOT_HELD, "error %u", GetLastError() );
    CHILD_CHECK( n == 4 && pfns[0] == 1, "outputs changed" );
    if (none)
    {
        CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_NOT_ALL_ASSIGNED, "assigned" );
        CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "allocated" );
        CHILD_CHECK( GetLastError() == ERROR_PRIVILEGE_NOT_HELD, "error %u", GetLastError() );
        return 0;
    }
    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "not assigned" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "error %u", GetLastError() );
    /* M20, F12: mapping and freeing need no privilege */
    CHILD_CHECK( enable_lock_privilege( FALSE ) == ERROR_SUCCESS, "disable" );
    CHILD_CHECK( MapUserPhysicalPages( reserve_window( 4 ), 4, pfns ), "map %u", GetLastError() );
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "free %u", GetLastError() );
    return 0;
}

START_TEST(test_privilege)
{
    ck_assert_int_eq( run_child( child_privilege, NULL ), 0 );
}
END_TEST

START_TEST(test_privilege_not_granted)
{
    server_stop();
    server_start_args( "--grant-lock-memory=none", NULL );
    ck_assert_int_eq( run_child( child_privilege, (void *)1 ), 0 );
}
END_TEST

/* Argument checks in Windows' order (A04-A12, F01-F07, F09-F11). */
static int child_arguments( void *arg )
{
    ULONG_PTR n, pfns[8], bad[3], buf[4];
    HANDLE h;

    CHILD_CHECK( NtAllocateUserPhysicalPages( GetCurrentProcess(), NULL, pfns ) == STATUS_ACCESS_VIOLATION, "A04" );
    CHILD_CHECK( NtAllocateUserPhysicalPages( GetCurrentProcess(), (ULONG_PTR *)((char *)buf + 1), pfns ) ==
                 STATUS_DATATYPE_MISALIGNMENT, "A05" );
    n = 0;
    CHILD_CHECK( AllocateUserPhysicalPages( (HANDLE)0xdeadbeec, &n, pfns ) && !n, "A02" );
    n = 4;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, NULL ) && GetLastError() == 998 && n == 4, "A06" );
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, (ULONG_PTR *)((char *)buf + 1) ) &&
                 GetLastError() == 998, "A07" );
    n = ~(ULONG_PTR)0;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 87 &&
                 n == ~(ULONG_PTR)0, "A08" );
    n = UINTPTR_MAX / sizeof(ULONG_PTR);
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 998, "A09" );
    n = 4;
    CHILD_CHECK( !AllocateUserPhysicalPages( (HANDLE)0xdeadbeec, &n, pfns ) && GetLastError() == 6 && n == 4,
                 "A10 %u", GetLastError() );
    CHILD_CHECK( (h = OpenProcess( PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId() )) != NULL, "open" );
    CHILD_CHECK( !AllocateUserPhysicalPages( h, &n, pfns ) && GetLastError() == 5, "A12 %u", GetLastError() );
    CHILD_CHECK( OpenProcessToken( GetCurrentProcess(), TOKEN_QUERY, (HANDLE *)&bad[0] ), "token" );
    CHILD_CHECK( !AllocateUserPhysicalPages( (HANDLE)bad[0], &n, pfns ) && GetLastError() == 6, "A11-like" );

    n = 0;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 87 && !n, "F01" );
    n = 1;
    bad[0] = 1;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, bad ) && GetLastError() == 87 && !n, "F02" );
    n = ~(ULONG_PTR)0;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 87 && !n, "F03" );
    n = 1;
    CHILD_CHECK( !FreeUserPhysicalPages( (HANDLE)0xdeadbeec, &n, pfns ) && GetLastError() == 6 && !n, "F04" );
    n = 1;
    CHILD_CHECK( !FreeUserPhysicalPages( h, &n, pfns ) && GetLastError() == 5 && !n, "F05" );
    CHILD_CHECK( NtFreeUserPhysicalPages( GetCurrentProcess(), NULL, pfns ) == STATUS_ACCESS_VIOLATION, "F06" );

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    n = 8;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 8, "alloc" );
    n = 1;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, NULL ) && GetLastError() == 998 && !n, "F07" );
    n = 3;
    bad[0] = pfns[2]; bad[1] = 0xdead0000; bad[2] = pfns[3];
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, bad ) && GetLastError() == 487 && n == 1,
                 "F10 %u %lu", GetLastError(), (unsigned long)n );
    n = 2;
    bad[0] = bad[1] = pfns[4];
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, bad ) && GetLastError() == 487 && n == 1, "F11" );
    n = 2;
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 2, "free" );
    n = 2;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 487 && !n, "F09" );
    CHILD_CHECK( CloseHandle( h ), "close" );
    CHILD_CHECK( !CloseHandle( h ) && GetLastError() == ERROR_INVALID_HANDLE, "closed twice" );
    return 0;
}

START_TEST(test_arguments)
{
    ck_assert_int_eq( run_child( child_arguments, NULL ), 0 );
}
END_TEST

static int child_quota( void *arg )
{
    ULONG_PTR n, pfns[16];

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    n = 10;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 10, "first" );
    if (arg) return 0;   /* the trace test only needs one allocation */
    n = 10;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 6, "partial: %lu", (unsigned long)n );
    n = 1;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "over quota" );
    CHILD_CHECK( GetLastError() == ERROR_COMMITMENT_LIMIT && n == 1, "error %u", GetLastError() );
    n = 6;
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "free" );
    n = 8;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 6, "after free: %lu", (unsigned long)n );
    return 0;
}

START_TEST(test_quota_partial_then_limit)
{
    server_stop();
    server_start_args( "--quota=64K", NULL );
    ck_assert_int_eq( run_child( child_quota, NULL ), 0 );
}
END_TEST

/* --limit: one budget for all processes together.  A second process that finds it spent gets
 * a partial allocation, then ERROR_NO_SYSTEM_RESOURCES; the first one's exit gives it back. */
static int holder_limit( int to_parent, int from_parent )
{
    ULONG_PTR n = 10, pfns[10];
    char c;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 10, "holder" );
    CHILD_CHECK( write( to_parent, "h", 1 ) == 1, "held" );
    CHILD_CHECK( read( from_parent, &c, 1 ) == 1, "exit" );
    return 0;   /* exits holding the frames */
}

static int child_limit( void *arg )
{
    ULONG_PTR n, pfns[16];
    int up[2], down[2], status, tries;
    pid_t pid;
    char c;

    (void)arg;
    CHILD_CHECK( !pipe( up ) && !pipe( down ), "pipe" );
    if (!(pid = fork())) _exit( holder_limit( up[1], down[0] ) );
    CHILD_CHECK( pid > 0, "fork" );
    CHILD_CHECK( read( up[0], &c, 1 ) == 1, "the holder did not allocate" );

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    n = 10;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 6,
                 "partial: %lu", (unsigned long)n );
    n = 1;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns + 6 ), "over the limit" );
    CHILD_CHECK( GetLastError() == ERROR_NO_SYSTEM_RESOURCES && n == 1, "error %u", GetLastError() );

    CHILD_CHECK( write( down[1], "x", 1 ) == 1, "exit" );
    CHILD_CHECK( waitpid( pid, &status, 0 ) == pid && WIFEXITED( status ) && !WEXITSTATUS( status ),
                 "the holder failed" );
    /* the server reclaims the holder's frames when it sees the connection close */
    for (tries = 0, n = 0; tries < 500 && n < 10; tries++)
    {
        ULONG_PTR more = 10 - n;

        if (AllocateUserPhysicalPages( GetCurrentProcess(), &more, pfns + 6 + n )) n += more;
        else sleep_ms( 10 );
    }
    CHILD_CHECK( n == 10, "got %lu of the holder's 10 frames back", (unsigned long)n );
    n = 16;
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 16, "free" );
    return 0;
}

START_TEST(test_server_limit)
{
    server_stop();
    server_start_args( "--limit=64K", NULL );
    ck_assert_int_eq( run_child( child_limit, NULL ), 0 );
}
END_TEST

/* --reserve: the server leaves that much available memory to the system.  No machine here has
 * a terabyte available, so every allocation finds the reserve reached: 1450, count unchanged,
 * nothing held. */
static int child_reserve( void *arg )
{
    ULONG_PTR n = 16, pfns[16];

    (void)arg;
    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    SetLastError( 0xdeadbeef );
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "allocated inside the reserve" );
    CHILD_CHECK( GetLastError() == ERROR_NO_SYSTEM_RESOURCES && n == 16, "error %u, n %lu",
                 GetLastError(), (unsigned long)n );
    return 0;
}

START_TEST(test_memory_reserve)
{
    server_stop();
    server_start_args( "--reserve=1024G", NULL );
    ck_assert_int_eq( run_child( child_reserve, NULL ), 0 );
    server_stop();
    server_start_args( "--reserve=0", NULL );   /* no check: allocations proceed */
    ck_assert_int_eq( run_child( child_quota, (void *)1 ), 0 );
}
END_TEST

/* RLIMIT_MEMLOCK: the server locks what the limit allows, hands out that much (a partial
 * allocation), then answers ERROR_NO_SYSTEM_RESOURCES.  The server runs without CAP_IPC_LOCK
 * (which root has, and which lifts the limit) and with a 2 MiB limit. */
static int child_memlock( void *arg )
{
    ULONG_PTR n = 1024, *pfns = malloc( 1024 * sizeof(*pfns) ), got;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "error %u", GetLastError() );
    CHILD_CHECK( n > 0 && n < 1024, "got %lu of 1024 under a 2 MiB lock limit", (unsigned long)n );
    got = n;
    n = 16;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns + got ), "allocated past the limit" );
    CHILD_CHECK( GetLastError() == ERROR_NO_SYSTEM_RESOURCES && n == 16, "error %u", GetLastError() );
    CHILD_CHECK( FreeUserPhysicalPages( GetCurrentProcess(), &got, pfns ), "free" );
    n = 16;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 16, "after free" );
    return 0;
}

START_TEST(test_memlock_limit)
{
    static const char *const wrapper[] = { "prlimit", "--memlock=2097152:2097152", "setpriv",
                                           "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", NULL };
    server_stop();
    server_wrapper = wrapper;
    server_start();
    server_wrapper = NULL;
    ck_assert_int_eq( run_child( child_memlock, NULL ), 0 );
}
END_TEST

/* -d traces every request and reply, with field names, through the protocol table. */
START_TEST(test_debug_trace)
{
    char log[64], cmd[512];

    server_stop();
    server_start_logged( log, sizeof(log), "-d" );
    ck_assert_int_eq( run_child( child_quota, (void *)1 ), 0 );
    server_stop();
    snprintf( cmd, sizeof(cmd), "grep -q 'allocate_pages > process=ffffffff flags=0 count=10' %s && "
              "grep -q 'allocate_pages < STATUS_SUCCESS count=10 tag=' %s && "
              "grep -q 'init_process > version=%u' %s", log, log, AWE_PROTOCOL_VERSION, log );
    ck_assert_msg( system( cmd ) == 0, "trace lines missing from %s", log );
    unlink( log );
}
END_TEST

/* A client killed while it holds mapped frames: the server reclaims everything and serves on. */
static int child_hold_and_wait( void *arg )
{
    int *pipe_fds = arg;
    ULONG_PTR n = 1024, *pfns = malloc( n * sizeof(*pfns) );
    char *win;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 1024, "alloc" );
    win = reserve_window( 1024 );
    CHILD_CHECK( MapUserPhysicalPages( win, 1024, pfns ), "map" );
    memset( win, 0x77, 1024 * P );
    CHILD_CHECK( write( pipe_fds[1], "r", 1 ) == 1, "ready" );
    for (;;) pause();
}

START_TEST(test_sigkill_reclaims)
{
    struct awe_wire_process_status st[4];
    int fds[2], status, i;
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( fds ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_hold_and_wait( fds ) );
    ck_assert_int_eq( read( fds[0], &c, 1 ), 1 );
    ck_assert_uint_eq( server_status( st, 4 ), 1 );
    ck_assert_uint_eq( st[0].frames_allocated, 1024 );
    ck_assert_uint_eq( st[0].mapped_pages, 1024 );
    kill( pid, SIGKILL );
    waitpid( pid, &status, 0 );
    for (i = 0; i < 200 && server_status( NULL, 0 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 0 );
    ck_assert( server_alive() );
    ck_assert_int_eq( run_child( child_allocate_map_free, NULL ), 0 );
    close( fds[0] );
    close( fds[1] );
}
END_TEST

struct race
{
    char     *win;
    ULONG_PTR pfn;
    int       index;
    int       won;
    DWORD     error;
};

static void *race_thread( void *arg )
{
    struct race *r = arg;
    r->won = MapUserPhysicalPages( r->win + r->index * P, 1, &r->pfn );
    r->error = r->won ? 0 : GetLastError();
    return NULL;
}

/* Threads mapping one frame at different addresses at once: exactly one wins (awe-spec 3.9). */
static int child_map_race( void *arg )
{
    struct race races[8];
    pthread_t threads[8];
    ULONG_PTR n = 1, pfn;
    int i, round, winners;
    char *win;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, &pfn ), "alloc" );
    win = reserve_window( 8 );
    for (round = 0; round < 20; round++)
    {
        for (i = 0; i < 8; i++)
        {
            races[i] = (struct race){ win, pfn, i, 0, 0 };
            pthread_create( &threads[i], NULL, race_thread, &races[i] );
        }
        for (i = 0, winners = 0; i < 8; i++)
        {
            pthread_join( threads[i], NULL );
            winners += races[i].won;
            CHILD_CHECK( races[i].won || races[i].error == ERROR_INVALID_ADDRESS, "error %u", races[i].error );
        }
        CHILD_CHECK( winners == 1, "%d winners", winners );
        CHILD_CHECK( MapUserPhysicalPages( win, 8, NULL ), "unmap" );
    }
    return 0;
}

START_TEST(test_map_race)
{
    ck_assert_int_eq( run_child( child_map_race, NULL ), 0 );
}
END_TEST

/* Cross-process: the parent allocates for a child (A19), the child maps, the parent frees
 * through its handle (F14) and the child's mapping goes away without the child doing anything. */
struct cross
{
    int to_parent[2], to_child[2];
};

static size_t mapped_pages( void )
{
    size_t n;

    CHILD_CHECK( !awe_client_lock(), "lock" );
    n = awe_client.regions.mapped;
    awe_client_unlock();
    return n;
}

static int child_cross_target( void *arg )
{
    struct cross *x = arg;
    ULONG_PTR pfns[4];
    char *win = reserve_window( 4 );
    DWORD pid = GetCurrentProcessId();
    char c;

    CHILD_CHECK( write( x->to_parent[1], &pid, sizeof(pid) ) == sizeof(pid), "pid" );
    CHILD_CHECK( read( x->to_child[0], pfns, sizeof(pfns) ) == sizeof(pfns), "pfns" );
    CHILD_CHECK( MapUserPhysicalPages( win, 4, pfns ), "map %u", GetLastError() );
    strcpy( win, "child" );
    CHILD_CHECK( write( x->to_parent[1], "m", 1 ) == 1, "mapped" );
    /* the parent frees our frames; its Free returns once our notification thread unmapped them */
    CHILD_CHECK( read( x->to_child[0], &c, 1 ) == 1, "freed" );
    CHILD_CHECK( !mapped_pages(), "still mapped after the parent's Free returned" );
    CHILD_CHECK( faults( win ), "freed frame still readable" );
    CHILD_CHECK( !MapUserPhysicalPages( win, 1, pfns ) && GetLastError() == ERROR_INVALID_ADDRESS, "map freed" );
    return 0;
}

static int parent_cross( void *arg )
{
    struct cross *x = arg;
    ULONG_PTR n = 4, pfns[4], own;
    DWORD pid;
    HANDLE h;
    char c;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    n = 1;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, &own ), "own frame" );
    n = 4;
    CHILD_CHECK( read( x->to_parent[0], &pid, sizeof(pid) ) == sizeof(pid), "pid" );
    CHILD_CHECK( (h = OpenProcess( PROCESS_VM_OPERATION, FALSE, pid )) != NULL, "open %u", GetLastError() );
    CHILD_CHECK( AllocateUserPhysicalPages( h, &n, pfns ) && n == 4, "A19 %u", GetLastError() );
    CHILD_CHECK( !MapUserPhysicalPages( reserve_window( 4 ), 1, pfns ) && GetLastError() == 487, "A19 map" );
    n = 1;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && GetLastError() == 487, "F13" );
    CHILD_CHECK( write( x->to_child[1], pfns, sizeof(pfns) ) == sizeof(pfns), "send" );
    CHILD_CHECK( read( x->to_parent[0], &c, 1 ) == 1, "mapped" );
    n = 4;
    CHILD_CHECK( FreeUserPhysicalPages( h, &n, pfns ) && n == 4, "F14 %u", GetLastError() );
    CHILD_CHECK( write( x->to_child[1], "f", 1 ) == 1, "freed" );
    return 0;
}

START_TEST(test_cross_process)
{
    struct awe_wire_process_status st[4];
    struct cross x;
    int status, i;
    pid_t target;

    ck_assert_int_eq( pipe( x.to_parent ), 0 );
    ck_assert_int_eq( pipe( x.to_child ), 0 );
    ck_assert_int_ge( target = fork(), 0 );
    if (!target) _exit( child_cross_target( &x ) );
    ck_assert_int_eq( run_child( parent_cross, &x ), 0 );
    ck_assert_int_eq( waitpid( target, &status, 0 ), target );
    ck_assert( WIFEXITED( status ) && !WEXITSTATUS( status ) );
    for (i = 0; i < 200 && server_status( st, 4 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( st, 4 ), 0 );
}
END_TEST

/* A process that owns frames and maps those it is sent; used by the two tests below. */
struct owner
{
    int   to_parent[2], to_owner[2];
    pid_t pid;
};

static int owner_main( void *arg )
{
    struct owner *o = arg;
    ULONG_PTR pfns[4];
    char *win = reserve_window( 4 );
    DWORD pid = GetCurrentProcessId();

    CHILD_CHECK( write( o->to_parent[1], &pid, sizeof(pid) ) == sizeof(pid), "pid" );
    CHILD_CHECK( read( o->to_owner[0], pfns, sizeof(pfns) ) == sizeof(pfns), "pfns" );
    CHILD_CHECK( MapUserPhysicalPages( win, 4, pfns ), "map %u", GetLastError() );
    CHILD_CHECK( write( o->to_parent[1], "m", 1 ) == 1, "mapped" );
    for (;;) pause();
}

static void start_owner( struct owner *o )
{
    ck_assert_int_eq( pipe( o->to_parent ), 0 );
    ck_assert_int_eq( pipe( o->to_owner ), 0 );
    ck_assert_int_ge( o->pid = fork(), 0 );
    if (!o->pid) _exit( owner_main( o ) );
}

/* Allocates 4 frames for the owner and has it map them; returns the handle. */
static HANDLE give_frames( struct owner *o, ULONG_PTR *pfns )
{
    ULONG_PTR n = 4;
    DWORD pid;
    HANDLE h;
    char c;

    CHILD_CHECK( read( o->to_parent[0], &pid, sizeof(pid) ) == sizeof(pid), "pid" );
    CHILD_CHECK( (h = OpenProcess( PROCESS_VM_OPERATION, FALSE, pid )) != NULL, "open" );
    CHILD_CHECK( AllocateUserPhysicalPages( h, &n, pfns ) && n == 4, "alloc %u", GetLastError() );
    CHILD_CHECK( write( o->to_owner[1], pfns, 4 * sizeof(*pfns) ) == 4 * (ssize_t)sizeof(*pfns), "send" );
    CHILD_CHECK( read( o->to_parent[0], &c, 1 ) == 1, "mapped" );
    return h;
}

/* An owner that cannot answer (stopped) does not hold Free up for ever; its frames stay
 * quarantined until it unmapped them. */
struct stopped
{
    struct owner *owner;
    int           ready[2], stopped[2];
};

static int parent_stopped_owner( void *arg )
{
    struct stopped *x = arg;
    ULONG_PTR n = 4, pfns[4];
    HANDLE h;
    char c;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    h = give_frames( x->owner, pfns );
    /* the test stops the owner, and waits until it really is stopped, before we free */
    CHILD_CHECK( write( x->ready[1], "r", 1 ) == 1, "ready" );
    CHILD_CHECK( read( x->stopped[0], &c, 1 ) == 1, "stopped" );
    CHILD_CHECK( FreeUserPhysicalPages( h, &n, pfns ) && n == 4, "free %u", GetLastError() );
    return 0;
}

START_TEST(test_stopped_owner)
{
    struct awe_wire_process_status st[4];
    struct owner o;
    struct stopped x = { &o, { 0, 0 }, { 0, 0 } };
    uint32_t i, n;
    int status;
    pid_t freer;
    char c;

    start_owner( &o );
    ck_assert_int_eq( pipe( x.ready ), 0 );
    ck_assert_int_eq( pipe( x.stopped ), 0 );
    ck_assert_int_ge( freer = fork(), 0 );
    if (!freer) _exit( parent_stopped_owner( &x ) );
    ck_assert_int_eq( read( x.ready[0], &c, 1 ), 1 );
    /* kill() returns before every thread of the owner has stopped: wait for the stop */
    kill( o.pid, SIGSTOP );
    ck_assert_int_eq( waitpid( o.pid, &status, WUNTRACED ), o.pid );
    ck_assert( WIFSTOPPED( status ) );
    ck_assert_int_eq( write( x.stopped[1], "s", 1 ), 1 );
    ck_assert_int_eq( waitpid( freer, &status, 0 ), freer );
    ck_assert( WIFEXITED( status ) && !WEXITSTATUS( status ) );

    n = server_status( st, 4 );
    for (i = 0; i < n && st[i].pid != (uint32_t)o.pid; i++) ;
    ck_assert_uint_lt( i, n );
    ck_assert_uint_eq( st[i].frames_quarantined, 4 );
    ck_assert_uint_eq( st[i].mapped_pages, 4 );
    kill( o.pid, SIGCONT );
    for (i = 0; i < 500; i++, sleep_ms( 10 ))
    {
        n = server_status( st, 4 );
        if (n == 1 && !st[0].frames_quarantined) break;
    }
    ck_assert_uint_eq( st[0].frames_quarantined, 0 );
    ck_assert_uint_eq( st[0].mapped_pages, 0 );
    kill( o.pid, SIGKILL );
    waitpid( o.pid, &status, 0 );
}
END_TEST

/* Two processes freeing each other's mapped frames at the same moment: both calls return
 * (neither holds its AWE lock while its Free waits for the other to unmap). */
struct peer
{
    int to_parent[2], to_peer[2];
};

static int peer_main( void *arg )
{
    struct peer *p = arg;
    ULONG_PTR own[4], other[4], n = 4;
    char *win = reserve_window( 4 );
    DWORD pid = GetCurrentProcessId(), other_pid;
    HANDLE h;
    char c;

    CHILD_CHECK( write( p->to_parent[1], &pid, sizeof(pid) ) == sizeof(pid), "pid" );
    CHILD_CHECK( read( p->to_peer[0], own, sizeof(own) ) == sizeof(own), "own" );
    CHILD_CHECK( MapUserPhysicalPages( win, 4, own ), "map %u", GetLastError() );
    CHILD_CHECK( read( p->to_peer[0], &other_pid, sizeof(other_pid) ) == sizeof(other_pid), "peer" );
    CHILD_CHECK( read( p->to_peer[0], other, sizeof(other) ) == sizeof(other), "other" );
    CHILD_CHECK( (h = OpenProcess( PROCESS_VM_OPERATION, FALSE, other_pid )) != NULL, "open" );
    CHILD_CHECK( write( p->to_parent[1], "r", 1 ) == 1, "ready" );
    CHILD_CHECK( read( p->to_peer[0], &c, 1 ) == 1, "go" );
    CHILD_CHECK( FreeUserPhysicalPages( h, &n, other ) && n == 4, "free %u", GetLastError() );
    CHILD_CHECK( write( p->to_parent[1], "f", 1 ) == 1, "freed" );
    /* told once the other one's Free returned: ours must be unmapped by then */
    CHILD_CHECK( read( p->to_peer[0], &c, 1 ) == 1, "check" );
    CHILD_CHECK( !mapped_pages(), "the other Free returned while our frames were mapped" );
    return 0;
}

static int parent_mutual( void *arg )
{
    struct peer *peers = arg;
    ULONG_PTR pfns[2][4], n;
    DWORD pids[2];
    HANDLE h;
    int i;
    char c;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    for (i = 0; i < 2; i++)
    {
        n = 4;
        CHILD_CHECK( read( peers[i].to_parent[0], &pids[i], sizeof(pids[i]) ) == sizeof(pids[i]), "pid" );
        CHILD_CHECK( (h = OpenProcess( PROCESS_VM_OPERATION, FALSE, pids[i] )) != NULL, "open" );
        CHILD_CHECK( AllocateUserPhysicalPages( h, &n, pfns[i] ) && n == 4, "alloc" );
        CHILD_CHECK( write( peers[i].to_peer[1], pfns[i], sizeof(pfns[i]) ) == sizeof(pfns[i]), "send" );
    }
    for (i = 0; i < 2; i++)
    {
        CHILD_CHECK( write( peers[i].to_peer[1], &pids[1 - i], sizeof(pids[0]) ) == sizeof(pids[0]), "pid" );
        CHILD_CHECK( write( peers[i].to_peer[1], pfns[1 - i], sizeof(pfns[0]) ) == sizeof(pfns[0]), "pfns" );
    }
    for (i = 0; i < 2; i++) CHILD_CHECK( read( peers[i].to_parent[0], &c, 1 ) == 1, "ready" );
    for (i = 0; i < 2; i++) CHILD_CHECK( write( peers[i].to_peer[1], "g", 1 ) == 1, "go" );
    for (i = 0; i < 2; i++)
    {
        CHILD_CHECK( read( peers[i].to_parent[0], &c, 1 ) == 1, "freed" );
        CHILD_CHECK( write( peers[1 - i].to_peer[1], "c", 1 ) == 1, "check" );
    }
    return 0;
}

START_TEST(test_mutual_frees)
{
    struct peer peers[2];
    pid_t pids[2];
    int i, status;

    for (i = 0; i < 2; i++)
    {
        ck_assert_int_eq( pipe( peers[i].to_parent ), 0 );
        ck_assert_int_eq( pipe( peers[i].to_peer ), 0 );
        ck_assert_int_ge( pids[i] = fork(), 0 );
        if (!pids[i]) _exit( peer_main( &peers[i] ) );
    }
    ck_assert_int_eq( run_child( parent_mutual, peers ), 0 );
    for (i = 0; i < 2; i++)
    {
        ck_assert_int_eq( waitpid( pids[i], &status, 0 ), pids[i] );
        ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "peer %d failed", i );
    }
}
END_TEST

/* The library starts the server on first use; many processes at once get one server, which
 * leaves a short while after the last of them. */
static int child_autostart( void *arg )
{
    ULONG_PTR n = 4, pfns[4];

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 4, "alloc %u", GetLastError() );
    return 0;
}

START_TEST(test_autostart)
{
    char sock[128];
    struct stat st;
    pid_t pids[6];
    int i, status;

    server_stop();   /* no explicit server: the clients start one */
    snprintf( srv.dir, sizeof(srv.dir), "/tmp/awe-test-XXXXXX" );
    ck_assert_ptr_nonnull( mkdtemp( srv.dir ) );
    setenv( "AWE_SERVER_DIR", srv.dir, 1 );
    for (i = 0; i < 6; i++)
    {
        ck_assert_int_ge( pids[i] = fork(), 0 );
        if (!pids[i]) _exit( child_autostart( NULL ) );
    }
    for (i = 0; i < 6; i++)
    {
        ck_assert_int_eq( waitpid( pids[i], &status, 0 ), pids[i] );
        ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "client %d failed", i );
    }
    snprintf( sock, sizeof(sock), "%s/socket", srv.dir );
    ck_assert_int_eq( stat( sock, &st ), 0 );
    for (i = 0; i < 1000 && !stat( sock, &st ); i++) sleep_ms( 10 );
    ck_assert_msg( stat( sock, &st ), "the server did not exit after its last client" );
}
END_TEST

/* ---- losing the server ------------------------------------------------------------------ */

struct loss
{
    int ready[2], go[2];
};

/* Holds 8 frames mapped with stamps, then, once the parent stopped or killed the server: the
 * next server call fails with expect (and the ones after it with ERROR_BROKEN_PIPE) instead
 * of hanging; Map and unmap go on over the frames held, and the data stays. */
static int child_lose_server( struct loss *l, DWORD expect )
{
    ULONG_PTR n = 8, pfns[8], one = 1, extra[1];
    char *win = reserve_window( 8 );
    char c;
    int i;

    CHILD_CHECK( enable_lock_privilege( TRUE ) == ERROR_SUCCESS, "privilege" );
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 8, "alloc %u", GetLastError() );
    CHILD_CHECK( MapUserPhysicalPages( win, 8, pfns ), "map %u", GetLastError() );
    for (i = 0; i < 8; i++) memset( win + i * P, 'a' + i, P );
    CHILD_CHECK( write( l->ready[1], "r", 1 ) == 1, "ready" );
    CHILD_CHECK( read( l->go[0], &c, 1 ) == 1, "go" );

    setenv( "AWE_SERVER_TIMEOUT", "0.5", 1 );
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &one, extra ), "allocated" );
    CHILD_CHECK( GetLastError() == expect, "first call: error %u, expected %u", GetLastError(), expect );
    one = 1;
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &one, extra ), "allocated" );
    CHILD_CHECK( GetLastError() == ERROR_BROKEN_PIPE, "later call: error %u", GetLastError() );
    n = 8;
    CHILD_CHECK( !FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns ), "freed" );
    CHILD_CHECK( GetLastError() == ERROR_BROKEN_PIPE, "free: error %u", GetLastError() );
    /* what the process holds is still there, and still its own to move around */
    CHILD_CHECK( MapUserPhysicalPages( win, 8, NULL ), "unmap %u", GetLastError() );
    CHILD_CHECK( faults( win ), "unmapped page readable" );
    for (i = 0; i < 8; i++)
        CHILD_CHECK( MapUserPhysicalPages( win + (7 - i) * P, 1, &pfns[i] ), "remap %u", GetLastError() );
    for (i = 0; i < 8; i++)
        CHILD_CHECK( win[(7 - i) * P] == 'a' + i && win[(7 - i) * P + P - 1] == 'a' + i, "page %d lost", i );
    return 0;
}

static int child_server_stopped( void *arg )
{
    return child_lose_server( arg, ERROR_SEM_TIMEOUT );
}

static int child_server_killed( void *arg )
{
    return child_lose_server( arg, ERROR_BROKEN_PIPE );
}

/* Runs child_fn against the test's server, which the parent stops (SIGSTOP) or kills
 * (SIGKILL) once the child holds its frames. */
static void lose_server( int (*child_fn)( void * ), int sig )
{
    struct loss l;
    int status;
    pid_t pid;
    char c;

    ck_assert_int_eq( pipe( l.ready ), 0 );
    ck_assert_int_eq( pipe( l.go ), 0 );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_fn( &l ) );
    ck_assert_int_eq( read( l.ready[0], &c, 1 ), 1 );
    kill( srv.pid, sig );
    ck_assert_int_eq( waitpid( srv.pid, &status, WUNTRACED ), srv.pid );
    ck_assert_int_eq( write( l.go[1], "g", 1 ), 1 );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_msg( WIFEXITED( status ) && !WEXITSTATUS( status ), "client failed: %#x", status );
    close( l.ready[0] ); close( l.ready[1] ); close( l.go[0] ); close( l.go[1] );
}

/* A stuck server (stopped): the call returns ERROR_SEM_TIMEOUT at the deadline; the server,
 * once it runs again, has reclaimed the client (it shut its connection down). */
START_TEST(test_server_stopped)
{
    int i;

    lose_server( child_server_stopped, SIGSTOP );
    kill( srv.pid, SIGCONT );
    for (i = 0; i < 500 && server_status( NULL, 0 ); i++) sleep_ms( 10 );
    ck_assert_uint_eq( server_status( NULL, 0 ), 0 );
}
END_TEST

/* A dead server: ERROR_BROKEN_PIPE at once, and the client runs on. */
START_TEST(test_server_killed)
{
    lose_server( child_server_killed, SIGKILL );
    srv.pid = 0;          /* reaped: clean its directory up and start one for the teardown */
    server_stop_status();
    server_start();
}
END_TEST

AWE_DEFINE_SUITE(physical)
{
    Suite *s = suite_create( "physical" );
    TCase *core = tcase_create( "core" ), *errors = tcase_create( "errors" );
    TCase *mp = tcase_create( "multiprocess" ), *conc = tcase_create( "concurrency" );
    TCase *loss = tcase_create( "server loss" );

    tcase_add_checked_fixture( core, setup, teardown );
    tcase_add_checked_fixture( errors, setup, teardown );
    tcase_add_checked_fixture( mp, setup, teardown );
    tcase_add_checked_fixture( conc, setup, teardown );
    tcase_add_checked_fixture( loss, setup, teardown );
    tcase_add_test( core, test_allocate_map_free );
    tcase_add_test( core, test_privilege );
    tcase_add_test( core, test_privilege_not_granted );
    tcase_add_test( errors, test_arguments );
    tcase_add_test( core, test_quota_partial_then_limit );
    tcase_add_test( core, test_server_limit );
    tcase_add_test( core, test_memory_reserve );
    tcase_add_test( core, test_memlock_limit );
    tcase_add_test( core, test_debug_trace );
    tcase_add_test( mp, test_sigkill_reclaims );
    tcase_add_test( mp, test_cross_process );
    tcase_add_test( mp, test_autostart );
    tcase_add_test( mp, test_stopped_owner );
    tcase_add_test( mp, test_mutual_frees );
    tcase_add_test( conc, test_map_race );
    tcase_add_test( loss, test_server_stopped );
    tcase_add_test( loss, test_server_killed );
    tcase_set_timeout( core, 60 );
    tcase_set_timeout( errors, 60 );
    tcase_set_timeout( mp, 120 );
    tcase_set_timeout( conc, 60 );
    tcase_set_timeout( loss, 60 );
    suite_add_tcase( s, core );
    suite_add_tcase( s, errors );
    suite_add_tcase( s, mp );
    suite_add_tcase( s, conc );
    suite_add_tcase( s, loss );
    return s;
}
