/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests of AWE sections against a real awe-server: what the server holds for
 * them (--status), when their frames go back, their charge to their creator, and how large
 * frames are backed under each --large-pages mode.  The Windows-visible behaviour is in
 * winetests/modern.c; these look at what only the server can show. */

#include <stdlib.h>
#include <sys/mman.h>
#include "ntdll_side/ntdll_private.h"
#include "awe/tests/server_fixture.h"

#define P          AWE_PAGE_SIZE
#define LARGE_PAGE ((size_t)AWE_LARGE_UNIT * P)

static void enable_privilege( void )
{
    TOKEN_PRIVILEGES tp = { 1, { { { SE_LOCK_MEMORY_PRIVILEGE, 0 }, SE_PRIVILEGE_ENABLED } } };
    HANDLE token;

    CHILD_CHECK( OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &token ), "token" );
    CHILD_CHECK( AdjustTokenPrivileges( token, FALSE, &tp, 0, NULL, NULL ) && !GetLastError(),
                 "error %u", GetLastError() );
    CloseHandle( token );
}

static HANDLE create_section( ULONG attributes )
{
    MEM_EXTENDED_PARAMETER param = { { MemSectionExtendedParameterUserPhysicalFlags, 0 }, { 0 } };

    return CreateFileMapping2( INVALID_HANDLE_VALUE, NULL, SECTION_MAP_READ | SECTION_MAP_WRITE,
                               PAGE_READWRITE, SEC_RESERVE | attributes, 0, NULL, &param, 1 );
}

static char *reserve_bound( HANDLE section, size_t size )
{
    MEM_EXTENDED_PARAMETER param = { { MemExtendedParameterUserPhysicalHandle, 0 }, { 0 } };

    param.Handle = section;
    return VirtualAlloc2( NULL, NULL, size, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE, &param, 1 );
}

/* The child and the test meet over a pipe: the child says where it is, the test looks at the
 * server, then tells it to go on. */
struct meeting
{
    int to_test[2], to_child[2];
};

static void meet_init( struct meeting *m )
{
    ck_assert_int_eq( pipe( m->to_test ), 0 );
    ck_assert_int_eq( pipe( m->to_child ), 0 );
}

static void child_says( struct meeting *m, char what )
{
    char go;

    CHILD_CHECK( write( m->to_test[1], &what, 1 ) == 1, "say" );
    CHILD_CHECK( read( m->to_child[0], &go, 1 ) == 1, "wait" );
}

static void test_hears( struct meeting *m, char what )
{
    char c = 0;

    ck_assert_int_eq( read( m->to_test[0], &c, 1 ), 1 );
    ck_assert_int_eq( c, what );
}

static void test_goes_on( struct meeting *m )
{
    ck_assert_int_eq( write( m->to_child[1], "g", 1 ), 1 );
}

static int child_lifetime( void *arg )
{
    struct meeting *m = arg;
    ULONG_PTR n = 8, pfns[8];
    HANDLE section;
    char *view;

    enable_privilege();
    CHILD_CHECK( (section = create_section( 0 )) != NULL, "error %u", GetLastError() );
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, pfns ) && n == 8, "error %u", GetLastError() );
    CHILD_CHECK( (view = reserve_bound( section, 16 * P )) != NULL, "error %u", GetLastError() );
    CHILD_CHECK( MapUserPhysicalPages( view, 8, pfns ), "error %u", GetLastError() );
    CHILD_CHECK( MapUserPhysicalPages( view + 8 * P, 8, pfns ), "error %u", GetLastError() );
    memset( view, 0x5a, 8 * P );
    child_says( m, 'a' );                       /* section, 8 frames, 2 handles */
    CHILD_CHECK( CloseHandle( section ), "close" );
    CHILD_CHECK( view[8 * P] == 0x5a, "the view lost its frames" );
    child_says( m, 'b' );                       /* the view's handle keeps it */
    CHILD_CHECK( VirtualFree( view, 0, MEM_RELEASE ), "error %u", GetLastError() );
    child_says( m, 'c' );                       /* gone */
    return 0;
}

/* A section's frames are charged to its creator and live while a handle or a bound view holds
 * it: closing the handle with a view mapped keeps them, releasing the view frees them. */
START_TEST(test_section_lifetime)
{
    const struct awe_wire_section_status *ss;
    const struct get_status_reply *st;
    struct meeting m;
    pid_t pid;
    int status;

    meet_init( &m );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_lifetime( &m ) );

    test_hears( &m, 'a' );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->sections, 1 );
    ck_assert_uint_eq( ss[0].owner_pid, (uint32_t)pid );
    ck_assert_uint_eq( ss[0].frames_allocated, 8 );
    ck_assert_uint_eq( ss[0].unit, 1 );
    ck_assert_uint_eq( ss[0].backing, AWE_BACKING_SMALL );
    ck_assert_uint_eq( ss[0].handles, 2 );      /* the caller's and the view's */
    ck_assert_uint_eq( st->held_frames, 8 );    /* charged, though not the process's own */
    test_goes_on( &m );

    test_hears( &m, 'b' );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->sections, 1 );
    ck_assert_uint_eq( ss[0].handles, 1 );
    ck_assert_uint_eq( ss[0].frames_allocated, 8 );
    test_goes_on( &m );

    test_hears( &m, 'c' );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->sections, 0 );
    ck_assert_uint_eq( st->held_frames, 0 );
    test_goes_on( &m );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_int_eq( status, 0 );
}
END_TEST

static int child_dies_with_sections( void *arg )
{
    struct meeting *m = arg;
    ULONG_PTR n = 4, pfns[4];
    HANDLE section;

    enable_privilege();
    CHILD_CHECK( (section = create_section( 0 )) != NULL, "error %u", GetLastError() );
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, pfns ) && n == 4, "error %u", GetLastError() );
    CHILD_CHECK( (section = create_section( SEC_LARGE_PAGES )) != NULL, "error %u", GetLastError() );
    n = 1;
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, pfns ) && n == 1, "error %u", GetLastError() );
    child_says( m, 'a' );
    for (;;) pause();
}

/* A process that dies with sections open leaves nothing behind. */
START_TEST(test_section_owner_dies)
{
    const struct awe_wire_section_status *ss;
    const struct get_status_reply *st;
    struct meeting m;
    pid_t pid;
    int status, i;

    meet_init( &m );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_dies_with_sections( &m ) );
    test_hears( &m, 'a' );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->sections, 2 );
    ck_assert_uint_eq( st->held_frames, 4 + AWE_LARGE_UNIT );
    kill( pid, SIGKILL );
    waitpid( pid, &status, 0 );
    for (i = 0; i < 300 && server_status_reply( NULL, &ss )->sections; i++) sleep_ms( 10 );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->sections, 0 );
    ck_assert_uint_eq( st->held_frames, 0 );
}
END_TEST

static int child_quota( void *arg )
{
    ULONG_PTR n, pfns[32];
    HANDLE section;

    (void)arg;
    enable_privilege();
    n = 10;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 10, "own" );
    CHILD_CHECK( (section = create_section( 0 )) != NULL, "error %u", GetLastError() );
    /* 16 frames of quota, 10 used: the section gets 6, then nothing */
    n = 10;
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, pfns ) && n == 6, "section: n %lu", (unsigned long)n );
    n = 1;
    CHILD_CHECK( !AllocateUserPhysicalPages( section, &n, pfns ) && GetLastError() == ERROR_COMMITMENT_LIMIT,
                 "past the quota: error %u", GetLastError() );
    CHILD_CHECK( !AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) &&
                 GetLastError() == ERROR_COMMITMENT_LIMIT, "own past the quota: error %u", GetLastError() );
    /* the section's frames go with its last handle, and their charge with them */
    CHILD_CHECK( CloseHandle( section ), "close" );
    n = 6;
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns ) && n == 6, "after the close: n %lu",
                 (unsigned long)n );
    return 0;
}

/* The quota counts a process's sections with its own frames. */
START_TEST(test_section_quota)
{
    server_stop();
    server_start_args( "--quota=64K", NULL );
    ck_assert_int_eq( run_child( child_quota, NULL ), 0 );
}
END_TEST

static int child_many_sections( void *arg )
{
    HANDLE sections[17];
    int i, max = *(int *)arg;

    enable_privilege();
    for (i = 0; i < max; i++)
        CHILD_CHECK( (sections[i] = create_section( 0 )) != NULL, "section %d: error %u", i, GetLastError() );
    CHILD_CHECK( !create_section( 0 ) && GetLastError() == ERROR_NO_SYSTEM_RESOURCES,
                 "one too many: error %u", GetLastError() );
    CHILD_CHECK( CloseHandle( sections[0] ), "close" );
    CHILD_CHECK( (sections[0] = create_section( 0 )) != NULL, "after a close: error %u", GetLastError() );
    return 0;
}

static int child_starts( void *arg )
{
    ULONG_PTR n = 1, pfn;

    (void)arg;
    enable_privilege();
    CHILD_CHECK( AllocateUserPhysicalPages( GetCurrentProcess(), &n, &pfn ) && n == 1, "error %u", GetLastError() );
    return 0;
}

static int child_hogs_sections( void *arg )
{
    struct meeting *m = arg;

    enable_privilege();
    while (create_section( 0 )) ;
    CHILD_CHECK( GetLastError() == ERROR_NO_SYSTEM_RESOURCES, "error %u", GetLastError() );
    child_says( m, 'a' );
    return 0;
}

/* Sections take tags: 16 a process, half of the tags in all, so that one client cannot take
 * every tag with sections and keep other processes from starting. */
START_TEST(test_section_limits)
{
    struct meeting m;
    int status, sixteen = 16, three = 3;
    pid_t pid;

    ck_assert_int_eq( run_child( child_many_sections, &sixteen ), 0 );

    /* 7 tags: at most 3 sections, whoever makes them; a process still starts beside them */
    server_stop();
    server_start_args( "--pfn-bits=21:3", NULL );
    ck_assert_int_eq( run_child( child_many_sections, &three ), 0 );
    meet_init( &m );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_hogs_sections( &m ) );
    test_hears( &m, 'a' );
    ck_assert_int_eq( run_child( child_starts, NULL ), 0 );
    ck_assert_int_eq( run_child( child_starts, NULL ), 0 );
    test_goes_on( &m );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_int_eq( status, 0 );
}
END_TEST

struct large_case
{
    const char *mode;
    uint32_t    backing;     /* what the section gets */
};

/* The kernel's page size under addr in this process (from /proc/self/smaps), in KiB; 0 if
 * addr is not mapped. */
static unsigned long kernel_page_kb( const void *addr )
{
    FILE *f = fopen( "/proc/self/smaps", "r" );
    unsigned long start, end, kb = 0;
    char line[256];
    int inside = 0;

    if (!f) return 0;
    while (fgets( line, sizeof(line), f ))
    {
        /* a mapping's first line is "start-end perms ...", its attributes "Name: value" */
        if (sscanf( line, "%lx-%lx ", &start, &end ) == 2)
            inside = (uintptr_t)addr >= start && (uintptr_t)addr < end;
        else if (inside && sscanf( line, "KernelPageSize: %lu kB", &kb ) == 1) break;
    }
    fclose( f );
    return inside ? kb : 0;
}

static int child_large( void *arg )
{
    const struct large_case *c = arg;
    ULONG_PTR n = 2, pfns[2], i;
    HANDLE section;
    char *view;

    enable_privilege();
    CHILD_CHECK( (section = create_section( SEC_LARGE_PAGES )) != NULL, "error %u", GetLastError() );
    if (c->backing == AWE_BACKING_NONE)
    {
        CHILD_CHECK( !AllocateUserPhysicalPages( section, &n, pfns ) &&
                     GetLastError() == ERROR_NO_SYSTEM_RESOURCES, "error %u", GetLastError() );
        CHILD_CHECK( n == 2, "n %lu", (unsigned long)n );
        return 0;
    }
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, pfns ) && n == 2, "error %u", GetLastError() );
    CHILD_CHECK( (view = reserve_bound( section, 2 * LARGE_PAGE )) != NULL, "error %u", GetLastError() );
    CHILD_CHECK( MapUserPhysicalPages( view, 2, pfns ), "error %u", GetLastError() );
    /* huge pages are what the kernel maps there, or 4 KiB pages when emulated */
    CHILD_CHECK( kernel_page_kb( view ) == (c->backing == AWE_BACKING_HUGETLB ? 2048 : 4),
                 "kernel page size %lu KiB", kernel_page_kb( view ) );
    for (i = 0; i < 2 * LARGE_PAGE; i += P) view[i] = (char)(i / P);
    /* a second view of the same units shows the same bytes */
    {
        char *other = reserve_bound( section, 2 * LARGE_PAGE );
        ULONG_PTR swapped[2] = { pfns[1], pfns[0] };

        CHILD_CHECK( other && MapUserPhysicalPages( other, 2, swapped ), "error %u", GetLastError() );
        for (i = 0; i < LARGE_PAGE; i += P)
            CHILD_CHECK( other[i] == view[LARGE_PAGE + i] && other[LARGE_PAGE + i] == view[i], "page %lu",
                         (unsigned long)(i / P) );
        CHILD_CHECK( VirtualFree( other, 0, MEM_RELEASE ), "release" );
    }
    n = 2;
    CHILD_CHECK( FreeUserPhysicalPages( section, &n, pfns ) && n == 2, "error %u", GetLastError() );
    CHILD_CHECK( VirtualFree( view, 0, MEM_RELEASE ), "release" );
    CHILD_CHECK( CloseHandle( section ), "close" );
    return 0;
}

static void check_large_mode( const struct large_case *c )
{
    char option[32];

    snprintf( option, sizeof(option), "--large-pages=%s", c->mode );
    server_stop();
    server_start_args( option, NULL );
    ck_assert_int_eq( run_child( child_large, (void *)c ), 0 );
}

/* emulate: large frames as aligned runs of small ones; fail: none to be had (1450). */
START_TEST(test_large_emulated_and_fail)
{
    static const struct large_case emulated = { "emulate", AWE_BACKING_EMULATED };
    static const struct large_case none = { "fail", AWE_BACKING_NONE };

    check_large_mode( &emulated );
    check_large_mode( &none );
}
END_TEST

/* The status shows what a large section is backed with. */
static int child_large_status( void *arg )
{
    struct meeting *m = arg;
    ULONG_PTR n = 1, pfn;
    HANDLE section;

    enable_privilege();
    CHILD_CHECK( (section = create_section( SEC_LARGE_PAGES )) != NULL, "error %u", GetLastError() );
    CHILD_CHECK( AllocateUserPhysicalPages( section, &n, &pfn ) && n == 1, "error %u", GetLastError() );
    child_says( m, 'a' );
    return 0;
}

START_TEST(test_large_status)
{
    const struct awe_wire_section_status *ss;
    const struct get_status_reply *st;
    struct meeting m;
    pid_t pid;
    int status;

    server_stop();
    server_start_args( "--large-pages=emulate", NULL );
    meet_init( &m );
    ck_assert_int_ge( pid = fork(), 0 );
    if (!pid) _exit( child_large_status( &m ) );
    test_hears( &m, 'a' );
    st = server_status_reply( NULL, &ss );
    ck_assert_uint_eq( st->large_pages, AWE_LARGE_EMULATE );
    ck_assert_uint_eq( st->sections, 1 );
    ck_assert_uint_eq( ss[0].unit, AWE_LARGE_UNIT );
    ck_assert_uint_eq( ss[0].backing, AWE_BACKING_EMULATED );
    ck_assert_uint_eq( ss[0].frames_allocated, AWE_LARGE_UNIT );
    ck_assert_uint_eq( ss[0].span_frames, AWE_LARGE_UNIT );
    test_goes_on( &m );
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert_int_eq( status, 0 );
}
END_TEST

/* hugetlb: only where the host has 2 MiB huge pages free (make check-hugetlb reserves some and
 * sets AWE_TEST_HUGETLB, which makes this case part of the run). */
START_TEST(test_large_hugetlb)
{
    static const struct large_case huge = { "hugetlb", AWE_BACKING_HUGETLB };

    check_large_mode( &huge );
}
END_TEST

static void setup( void )
{
    server_start();
}

static void teardown( void )
{
    server_stop();
}

AWE_DEFINE_SUITE(section)
{
    Suite *s = suite_create( "section" );
    TCase *core = tcase_create( "core" ), *large = tcase_create( "large" );

    tcase_add_checked_fixture( core, setup, teardown );
    tcase_add_checked_fixture( large, setup, teardown );
    tcase_set_timeout( core, 60 );
    tcase_set_timeout( large, 60 );
    tcase_add_test( core, test_section_lifetime );
    tcase_add_test( core, test_section_owner_dies );
    tcase_add_test( core, test_section_quota );
    tcase_add_test( core, test_section_limits );
    tcase_add_test( large, test_large_emulated_and_fail );
    tcase_add_test( large, test_large_status );
    suite_add_tcase( s, core );
    suite_add_tcase( s, large );
    if (getenv( "AWE_TEST_HUGETLB" ))
    {
        TCase *huge = tcase_create( "hugetlb" );

        tcase_add_checked_fixture( huge, setup, teardown );
        tcase_set_timeout( huge, 60 );
        tcase_add_test( huge, test_large_hugetlb );
        suite_add_tcase( s, huge );
    }
    return s;
}
