/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Conformance test harness with Wine's test vocabulary.
 *
 * A test file is a list of "static void test_feature(void)" functions called in order from
 * START_TEST(name).  Checks use ok(), todo_wine, broken(), skip(), win_skip(), trace() and
 * winetest_push_context()/winetest_pop_context().  The same file builds for Windows (with
 * mingw-w64), where todo_wine has no effect and broken() accepts older behaviour; on Linux
 * the emulation plays Wine's part: broken() is false and todo_wine expects a failure.
 *
 * Output: failures as "file:line: Test failed: ...", one line per test with its counts and,
 * last, one plain summary line "N passed, N failed, N skipped".
 *
 * "awe_test NAME ARGS..." (ARGS not naming tests) runs NAME alone, in this process, as a
 * child run: a test that re-runs itself reads its mode with winetest_get_mainargs(), and the
 * exit status is 0 only if the run had no failures.
 *
 * On Linux each test runs in a child process: a crash fails that test only, and a test that
 * runs longer than WINETEST_TIMEOUT seconds (default 300) is killed and reported as failed with
 * the location of its last check.
 *
 * One translation unit (the generated testlist.c) defines STANDALONE to get the runner. */

#ifndef __AWE_WINETEST_H
#define __AWE_WINETEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
# include <windows.h>
/* under Wine the emulation is Wine's: todo_wine and win_skip apply, broken() does not */
extern int winetest_running_under_wine( void );
# define winetest_platform_is_wine winetest_running_under_wine()
#else
# define winetest_platform_is_wine 1
#endif

#if defined(__GNUC__)
# define WINETEST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
# define WINETEST_PRINTF(a, b)
#endif

extern void winetest_set_location( const char *file, int line );
extern int winetest_ok( int condition, const char *msg, ... ) WINETEST_PRINTF(2, 3);
extern void winetest_skip( const char *msg, ... ) WINETEST_PRINTF(1, 2);
extern void winetest_win_skip( const char *msg, ... ) WINETEST_PRINTF(1, 2);
extern void winetest_trace( const char *msg, ... ) WINETEST_PRINTF(1, 2);
extern void winetest_push_context( const char *fmt, ... ) WINETEST_PRINTF(1, 2);
extern void winetest_pop_context( void );
extern void winetest_start_todo( int is_todo );
extern int winetest_loop_todo( void );
extern void winetest_end_todo( void );
extern int winetest_broken( int condition );
extern int winetest_get_mainargs( char ***argv );

#define ok_(file, line)       (winetest_set_location( file, line ), 0) ? (void)0 : (void)winetest_ok
#define skip_(file, line)     (winetest_set_location( file, line ), 0) ? (void)0 : winetest_skip
#define win_skip_(file, line) (winetest_set_location( file, line ), 0) ? (void)0 : winetest_win_skip
#define trace_(file, line)    (winetest_set_location( file, line ), 0) ? (void)0 : winetest_trace

#define ok       ok_( __FILE__, __LINE__ )
#define skip     skip_( __FILE__, __LINE__ )
#define win_skip win_skip_( __FILE__, __LINE__ )
#define trace    trace_( __FILE__, __LINE__ )

#define todo_if(is_todo) for (winetest_start_todo( is_todo ); winetest_loop_todo(); winetest_end_todo())
#define todo_wine        todo_if( winetest_platform_is_wine )
#define todo_wine_if(c)  todo_if( winetest_platform_is_wine && (c) )

#define broken(c) winetest_broken( !!(c) )

#define START_TEST(name) void func_##name( void ); void func_##name( void )

struct test
{
    const char *name;
    void (*func)( void );
};

extern const struct test winetest_testlist[];

#ifdef STANDALONE

#ifndef _WIN32
# include <errno.h>
# include <poll.h>
# include <signal.h>
# include <sys/mman.h>
# include <sys/wait.h>
# include <unistd.h>
#endif

#define WINETEST_MAX_CONTEXT 8

struct winetest_counts
{
    long successes;
    long failures;
    long todo_successes;   /* an ok() that failed inside a todo block: expected */
    long skipped;
};

/* Every entry point keeps the thread's last error as the test left it, so that
 * ok( GetLastError() == ... ) sees the value of the call before it: on Windows, the first use
 * of a __thread variable in a thread goes through TlsGetValue, which clears it. */
#ifdef _WIN32
# define WINETEST_SAVE_ERROR    DWORD winetest_saved_error = GetLastError();
# define WINETEST_RESTORE_ERROR SetLastError( winetest_saved_error );

int winetest_running_under_wine( void )
{
    static int wine = -1;

    if (wine < 0)
    {
        WINETEST_SAVE_ERROR
        HMODULE ntdll = GetModuleHandleA( "ntdll.dll" );
        wine = ntdll && GetProcAddress( ntdll, "wine_get_version" );
        WINETEST_RESTORE_ERROR
    }
    return wine;
}
#else
# define WINETEST_SAVE_ERROR
# define WINETEST_RESTORE_ERROR
#endif

static struct winetest_counts winetest_counts;
static int winetest_argc;
static char **winetest_argv;

static __thread const char *winetest_file = "?";
static __thread int winetest_line;
static __thread unsigned int winetest_todo_level; /* bit 0: inside an active todo block */
static __thread int winetest_todo_pass;           /* loop state of todo_if */
static __thread char winetest_context[WINETEST_MAX_CONTEXT][128];
static __thread int winetest_context_count;

static void winetest_count( long *counter )
{
    __atomic_fetch_add( counter, 1, __ATOMIC_RELAXED );
}

static const char *winetest_basename( const char *file )
{
    const char *p = strrchr( file, '/' );
    return p ? p + 1 : file;
}

static void winetest_print_prefix( const char *what )
{
    int i;
    printf( "%s:%d: %s", winetest_basename( winetest_file ), winetest_line, what );
    for (i = 0; i < winetest_context_count; i++) printf( "%s: ", winetest_context[i] );
}

/* Where the running test last checked something, in memory the runner shares with the test's
 * process, so that a test that hangs is reported with its last location.  The file name is a
 * string literal: the same address in both processes. */
static struct winetest_where
{
    const char *volatile file;
    volatile int line;
} *winetest_where;

static void winetest_set_location_unsaved( const char *file, int line )
{
    winetest_file = file;
    winetest_line = line;
    if (winetest_where)
    {
        winetest_where->file = file;
        winetest_where->line = line;
    }
}

void winetest_set_location( const char *file, int line )
{
    WINETEST_SAVE_ERROR
    winetest_set_location_unsaved( file, line );
    WINETEST_RESTORE_ERROR
}

static int winetest_vok( int condition, const char *msg, va_list args )
{
    if (winetest_todo_level & 1)
    {
        if (condition)
        {
            winetest_print_prefix( "Test succeeded inside todo block: " );
            vprintf( msg, args );
            winetest_count( &winetest_counts.failures );
            fflush( stdout );
            return 0;
        }
        winetest_count( &winetest_counts.todo_successes );
        return 1;
    }
    if (!condition)
    {
        winetest_print_prefix( "Test failed: " );
        vprintf( msg, args );
        winetest_count( &winetest_counts.failures );
        fflush( stdout );
        return 0;
    }
    winetest_count( &winetest_counts.successes );
    return 1;
}

int winetest_ok( int condition, const char *msg, ... )
{
    WINETEST_SAVE_ERROR
    va_list args;
    int ret;

    va_start( args, msg );
    ret = winetest_vok( condition, msg, args );
    va_end( args );
    WINETEST_RESTORE_ERROR
    return ret;
}

static void winetest_vskip( const char *msg, va_list args )
{
    winetest_print_prefix( "Tests skipped: " );
    vprintf( msg, args );
    winetest_count( &winetest_counts.skipped );
    fflush( stdout );
}

void winetest_skip( const char *msg, ... )
{
    WINETEST_SAVE_ERROR
    va_list args;
    va_start( args, msg );
    winetest_vskip( msg, args );
    va_end( args );
    WINETEST_RESTORE_ERROR
}

/* A skip that is only acceptable on Windows: the emulation must implement what it guards. */
void winetest_win_skip( const char *msg, ... )
{
    WINETEST_SAVE_ERROR
    va_list args;
    va_start( args, msg );
    if (winetest_platform_is_wine) winetest_vok( 0, msg, args );
    else winetest_vskip( msg, args );
    va_end( args );
    WINETEST_RESTORE_ERROR
}

void winetest_trace( const char *msg, ... )
{
    WINETEST_SAVE_ERROR
    va_list args;
    winetest_print_prefix( "" );
    va_start( args, msg );
    vprintf( msg, args );
    va_end( args );
    fflush( stdout );
    WINETEST_RESTORE_ERROR
}

void winetest_push_context( const char *fmt, ... )
{
    WINETEST_SAVE_ERROR
    va_list args;
    if (winetest_context_count < WINETEST_MAX_CONTEXT)
    {
        va_start( args, fmt );
        vsnprintf( winetest_context[winetest_context_count], sizeof(winetest_context[0]), fmt, args );
        va_end( args );
    }
    winetest_context_count++;
    WINETEST_RESTORE_ERROR
}

static void winetest_pop_context_unsaved( void )
{
    if (winetest_context_count) winetest_context_count--;
}

void winetest_pop_context( void )
{
    WINETEST_SAVE_ERROR
    winetest_pop_context_unsaved(  );
    WINETEST_RESTORE_ERROR
}

/* todo_if() is a one-pass for loop; the todo state is a bit stack so that blocks nest. */
static void winetest_start_todo_unsaved( int is_todo )
{
    winetest_todo_level = (winetest_todo_level << 1) | (is_todo != 0);
    winetest_todo_pass = 1;
}

void winetest_start_todo( int is_todo )
{
    WINETEST_SAVE_ERROR
    winetest_start_todo_unsaved( is_todo );
    WINETEST_RESTORE_ERROR
}

static int winetest_loop_todo_unsaved( void )
{
    int run = winetest_todo_pass;
    winetest_todo_pass = 0;
    return run;
}

int winetest_loop_todo( void )
{
    WINETEST_SAVE_ERROR
    int ret = winetest_loop_todo_unsaved(  );
    WINETEST_RESTORE_ERROR
    return ret;
}

static void winetest_end_todo_unsaved( void )
{
    winetest_todo_level >>= 1;
}

void winetest_end_todo( void )
{
    WINETEST_SAVE_ERROR
    winetest_end_todo_unsaved(  );
    WINETEST_RESTORE_ERROR
}

static int winetest_broken_unsaved( int condition )
{
    return !winetest_platform_is_wine && condition;
}

int winetest_broken( int condition )
{
    WINETEST_SAVE_ERROR
    int ret = winetest_broken_unsaved( condition );
    WINETEST_RESTORE_ERROR
    return ret;
}

/* Returns argc and sets *argv to the program's arguments: the program, the test, then the
 * arguments of a child run. */
int winetest_get_mainargs( char ***argv )
{
    *argv = winetest_argv;
    return winetest_argc;
}

static const struct test *winetest_find( const char *name )
{
    const struct test *t;
    for (t = winetest_testlist; t->name; t++) if (!strcmp( t->name, name )) return t;
    return NULL;
}

static void winetest_report( const char *name, const struct winetest_counts *c )
{
    printf( "%s: %ld tests executed (%ld marked as todo, %ld failures), %ld skipped.\n", name,
            c->successes + c->failures + c->todo_successes, c->todo_successes, c->failures,
            c->skipped );
    fflush( stdout );
}

#ifndef _WIN32
#define WINETEST_DEFAULT_TIMEOUT 300   /* seconds per test; WINETEST_TIMEOUT overrides it */

/* Waits until fd is readable (or at end of file) for at most timeout seconds; 0 on timeout. */
static int winetest_wait_readable( int fd, unsigned int timeout )
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    int ret;

    while ((ret = poll( &pfd, 1, (int)(timeout * 1000) )) < 0 && errno == EINTR) ;
    return ret != 0;
}
#endif

/* Runs one test and adds its counts to *total.  On Linux each test runs in a child process so
 * that a crash is reported as a failure of that test and the others still run. */
static void winetest_run( const struct test *t, struct winetest_counts *total )
{
    struct winetest_counts c;
#ifndef _WIN32
    const char *env = getenv( "WINETEST_TIMEOUT" );
    unsigned int timeout = env && atoi( env ) > 0 ? (unsigned int)atoi( env ) : WINETEST_DEFAULT_TIMEOUT;
    int fds[2], status;
    pid_t pid;

    fflush( stdout );
    if (winetest_where)
    {
        winetest_where->file = NULL;
        winetest_where->line = 0;
    }
    if (pipe( fds ) || (pid = fork()) < 0)
    {
        perror( "winetest: cannot start test" );
        total->failures++;
        return;
    }
    if (!pid)
    {
        close( fds[0] );
        t->func();
        fflush( stdout );
        if (write( fds[1], &winetest_counts, sizeof(winetest_counts) ) != sizeof(winetest_counts))
            _exit( 3 );
        _exit( 0 );
    }
    close( fds[1] );
    memset( &c, 0, sizeof(c) );
    if (!winetest_wait_readable( fds[0], timeout ))
    {
        /* like Wine's test runner: a hung test is killed and counted as failed */
        kill( pid, SIGKILL );
        c.failures = 1;
        printf( "%s: test timed out after %u s (WINETEST_TIMEOUT), last at %s:%d\n", t->name,
                timeout, winetest_where && winetest_where->file ?
                winetest_basename( winetest_where->file ) : "?",
                winetest_where ? winetest_where->line : 0 );
        while (waitpid( pid, &status, 0 ) < 0) ;
    }
    else
    {
        if (read( fds[0], &c, sizeof(c) ) != sizeof(c))
        {
            memset( &c, 0, sizeof(c) );
            c.failures = 1;
        }
        while (waitpid( pid, &status, 0 ) < 0) ;
        if (!WIFEXITED( status ) || WEXITSTATUS( status ))
        {
            if (WIFSIGNALED( status ))
                printf( "%s: test crashed with signal %d\n", t->name, WTERMSIG( status ) );
            else
                printf( "%s: test exited with status %d\n", t->name, WEXITSTATUS( status ) );
            c.failures++;
        }
    }
    close( fds[0] );
#else
    memset( &winetest_counts, 0, sizeof(winetest_counts) );
    t->func();
    c = winetest_counts;
#endif
    winetest_report( t->name, &c );
    total->successes += c.successes + c.todo_successes;
    total->failures += c.failures;
    total->skipped += c.skipped;
}

int main( int argc, char **argv )
{
    struct winetest_counts total = { 0 };
    const struct test *t;
    int i;

#ifdef _WIN32
    setvbuf( stdout, NULL, _IONBF, 0 );   /* the CRT has no line buffering and refuses size 0 */
#else
    setvbuf( stdout, NULL, _IOLBF, 0 );
    {
        void *where = mmap( NULL, sizeof(*winetest_where), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0 );
        if (where != MAP_FAILED) winetest_where = where;
    }
#endif
    winetest_argc = argc;
    winetest_argv = argv;
    if (argc > 1 && !strcmp( argv[1], "--list" ))
    {
        for (t = winetest_testlist; t->name; t++) printf( "%s\n", t->name );
        return 0;
    }
    if (argc > 2 && (t = winetest_find( argv[1] )) && !winetest_find( argv[2] ))
    {
        t->func();
        fflush( stdout );
        winetest_report( t->name, &winetest_counts );
        return winetest_counts.failures ? 1 : 0;
    }
    if (argc > 1)
    {
        for (i = 1; i < argc; i++)
        {
            if (!(t = winetest_find( argv[i] )))
            {
                fprintf( stderr, "%s: no test named %s (--list shows them)\n", argv[0], argv[i] );
                return 2;
            }
            winetest_run( t, &total );
        }
    }
    else for (t = winetest_testlist; t->name; t++) winetest_run( t, &total );

    printf( "%ld passed, %ld failed, %ld skipped\n", total.successes, total.failures, total.skipped );
    return total.failures ? 1 : 0;
}

#endif  /* STANDALONE */

#endif  /* __AWE_WINETEST_H */
