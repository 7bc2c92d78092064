/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers of the AWE conformance tests: privilege, frames, fault probes, threads, child runs.
 *
 * Included after the platform headers and test.h.  Everything is static inline so that a test
 * file uses what it needs without unused-function warnings.  Linux and Windows (mingw-w64)
 * differ only inside these helpers. */

#ifndef __AWE_WINETEST_HELPERS_H
#define __AWE_WINETEST_HELPERS_H

#include <errno.h>
#ifndef _WIN32
# include <fcntl.h>
# include <poll.h>
# include <pthread.h>
# include <sched.h>
# include <setjmp.h>
# if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#   include <valgrind/valgrind.h>
#  endif
# endif
# ifndef VALGRIND_DISABLE_ERROR_REPORTING
#  define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#  define VALGRIND_ENABLE_ERROR_REPORTING  ((void)0)
# endif
# include <signal.h>
# include <sys/resource.h>
# include <sys/wait.h>
# include <time.h>
# include <unistd.h>
#else
/* ntdll exports these; the SDK's winternl.h does not declare them */
NTSTATUS NTAPI NtAllocateUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtFreeUserPhysicalPages( HANDLE process, PULONG_PTR count, PULONG_PTR pfns );
NTSTATUS NTAPI NtAllocateUserPhysicalPagesEx( HANDLE object, PULONG_PTR count, PULONG_PTR pfns,
                                              MEM_EXTENDED_PARAMETER *params, ULONG nparams );
NTSTATUS NTAPI NtFreeVirtualMemory( HANDLE process, PVOID *addr, PSIZE_T size, ULONG type );
#endif

/* The address of an ntdll function, or NULL where this ntdll lacks it (Wine does not export
 * the Nt*UserPhysicalPages calls; a direct import would stop the whole program).  On Linux
 * libawe has them all. */
#ifdef _WIN32
# define NTDLL_FUNC( name ) \
    ((__typeof__(&name))(void *)GetProcAddress( GetModuleHandleA( "ntdll.dll" ), #name ))
#else
# define NTDLL_FUNC( name ) (&name)
#endif

#define PAGE          0x1000                        /* P of awe-spec.md section 8 */
#define GRANULARITY   0x10000                       /* allocation granularity */
#define STAMP(i)      ((ULONG_PTR)0x5eed0000 + (i)) /* first word of the i-th frame of a test */
#define SENTINEL      ((ULONG_PTR)0xcccccccc)
#define BAD_HANDLE    ((HANDLE)(ULONG_PTR)0xdeadbeec)
#define CHILD_TIMEOUT 60000                         /* ms a test waits for a child process */

static inline unsigned long long now_ms( void )
{
#ifdef _WIN32
    return GetTickCount64();
#else
    struct timespec ts;
    clock_gettime( CLOCK_MONOTONIC, &ts );
    return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static inline void yield_thread( void )
{
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
}

static inline void sleep_ms( unsigned int ms )
{
#ifdef _WIN32
    Sleep( ms );
#else
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep( &ts, &ts ) && errno == EINTR) ;
#endif
}

/* Physical memory of the machine, in pages of PAGE bytes; 0 if unknown. */
static inline ULONG_PTR machine_pages( void )
{
#ifdef _WIN32
    MEMORYSTATUSEX status;

    memset( &status, 0, sizeof(status) );
    status.dwLength = sizeof(status);
    if (!GlobalMemoryStatusEx( &status )) return 0;
    return (ULONG_PTR)(status.ullTotalPhys / PAGE);
#else
    long pages = sysconf( _SC_PHYS_PAGES ), size = sysconf( _SC_PAGESIZE );

    if (pages <= 0 || size < PAGE) return 0;
    return (ULONG_PTR)pages * (ULONG_PTR)(size / PAGE);
#endif
}

/* The physical memory the tests size their big allocations by (in test pages).  A run may cap
 * it with WINETEST_PHYSICAL_MB, set to the --limit its awe-server was started with, so that the
 * tests that exhaust "physical memory" lock megabytes and not the machine's gigabytes. */
static inline ULONG_PTR physical_pages( void )
{
    const char *cap = getenv( "WINETEST_PHYSICAL_MB" );
    ULONG_PTR pages = machine_pages(), limit;

    if (cap && *cap && (limit = (ULONG_PTR)strtoull( cap, NULL, 10 ) * (1024 * 1024 / PAGE)) &&
        (!pages || limit < pages))
        pages = limit;
    return pages;
}

/* ---- the privilege ------------------------------------------------------------------------- */

/* Enables or disables SeLockMemoryPrivilege in the process token, as awe-spec.md section 8's
 * setup helper does.  Returns TRUE if the privilege is now in the requested state: enabling
 * needs the account to hold it (AdjustTokenPrivileges reports ERROR_NOT_ALL_ASSIGNED if it
 * does not), and a privilege that is not held counts as disabled. */
static inline BOOL set_lock_privilege( BOOL enable )
{
    TOKEN_PRIVILEGES privs;
    HANDLE token;
    DWORD err;
    BOOL ret;

    if (!OpenProcessToken( GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token ))
        return FALSE;
    privs.PrivilegeCount = 1;
    privs.Privileges[0].Attributes = enable ? SE_PRIVILEGE_ENABLED : 0;
    if (!LookupPrivilegeValue( NULL, SE_LOCK_MEMORY_NAME, &privs.Privileges[0].Luid ))
    {
        CloseHandle( token );
        return FALSE;
    }
    SetLastError( 0xdeadbeef );
    ret = AdjustTokenPrivileges( token, FALSE, &privs, 0, NULL, NULL );
    err = GetLastError();
    CloseHandle( token );
    if (!ret) return FALSE;
    return err == ERROR_SUCCESS || (!enable && err == ERROR_NOT_ALL_ASSIGNED);
}

/* Whether START_TEST could enable the privilege (set_lock_privilege( TRUE )).  The Pv cases of
 * awe-spec.md section 8 need it: a Windows account may lack it, the emulation grants it to
 * everyone, so a case that needs it skips where it is missing and never passes. */
static BOOL have_privilege __attribute__((unused));

#define NEED_PRIVILEGE() \
    do \
    { \
        if (!have_privilege) \
        { \
            win_skip( "SeLockMemoryPrivilege is not available\n" ); \
            return; \
        } \
    } while (0)

/* ---- the calls Windows 10 added -------------------------------------------------------------- */

typedef HANDLE (WINAPI *create_file_mapping2_func)( HANDLE, SECURITY_ATTRIBUTES *, ULONG, ULONG, ULONG,
                                                    ULONG64, PCWSTR, MEM_EXTENDED_PARAMETER *, ULONG );
typedef PVOID (WINAPI *virtual_alloc2_func)( HANDLE, PVOID, SIZE_T, ULONG, ULONG,
                                             MEM_EXTENDED_PARAMETER *, ULONG );

/* KERNEL_FUNC( name ): the address of a function of kernelbase (where Windows 10 keeps the new
 * memory calls) or of kernel32, NULL where neither has it, cast to the type of p<name>; the
 * caller skips its cases then.  On Linux libawe has them all. */
#ifdef _WIN32
static inline void *kernel_func( const char *name )
{
    void *func = (void *)GetProcAddress( GetModuleHandleA( "kernelbase.dll" ), name );

    return func ? func : (void *)GetProcAddress( GetModuleHandleA( "kernel32.dll" ), name );
}
# define KERNEL_FUNC( name ) ((__typeof__(p##name))kernel_func( #name ))
#else
# define KERNEL_FUNC( name ) (&name)
#endif

/* ---- fault probes ---------------------------------------------------------------------------- */

/* Touches the byte at addr (a read, or a read and a write back of the same value) where a
 * fault cannot hurt the test.  Returns 1 if the access raised an access violation, 0 if it
 * did not, -1 if that could not be found out.
 *
 * Linux: in this process, under a SIGSEGV/SIGBUS handler that jumps back out of the faulting
 * access (AWE regions are not inherited, so a forked child could not look).  The handler stays
 * installed for the life of the test; a fault outside a probe kills the process as before.
 * Windows: mingw-w64 has no __try/__except in C, so the access is made by IsBadReadPtr and
 * IsBadWritePtr, which make it under an exception handler. */
#ifndef _WIN32
static __thread sigjmp_buf *probe_jump;
static __thread volatile char probe_sink;   /* a load whose value is unused may be optimised
                                               away (valgrind's JIT does it): keep it */

static inline void probe_handler( int sig )
{
    if (probe_jump) siglongjmp( *probe_jump, 1 );
    signal( sig, SIG_DFL );
    raise( sig );
}

static inline void probe_install( void )
{
    struct sigaction sa;

    memset( &sa, 0, sizeof(sa) );
    sa.sa_handler = probe_handler;
    sigemptyset( &sa.sa_mask );
    sa.sa_flags = SA_NODEFER;
    sigaction( SIGSEGV, &sa, NULL );
    sigaction( SIGBUS, &sa, NULL );
}
#endif

static inline int access_faults( const void *addr, BOOL write )
{
#ifdef _WIN32
    return write ? IsBadWritePtr( (void *)addr, 1 ) != 0 : IsBadReadPtr( addr, 1 ) != 0;
#else
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    sigjmp_buf jump;
    volatile int faulted = 0;

    pthread_once( &once, probe_install );
    probe_jump = &jump;
    /* the access may be invalid on purpose: memcheck must not count it as an error */
    VALGRIND_DISABLE_ERROR_REPORTING;
    if (!sigsetjmp( jump, 1 ))
    {
        volatile char *p = (volatile char *)addr;
        if (write) p[0] = p[0];
        else probe_sink = p[0];
    }
    else faulted = 1;
    VALGRIND_ENABLE_ERROR_REPORTING;
    probe_jump = NULL;
    return faulted;
#endif
}

/* The first word of the page that holds va; the page must be readable. */
static inline ULONG_PTR read_word( const void *va )
{
    return *(volatile ULONG_PTR *)((ULONG_PTR)va & ~(ULONG_PTR)(PAGE - 1));
}

/* TRUE if the page that holds va can be read and starts with stamp. */
static inline BOOL shows_frame( const void *va, ULONG_PTR stamp )
{
    return access_faults( va, FALSE ) == 0 && read_word( va ) == stamp;
}

/* ---- regions and frames ------------------------------------------------------------------- */

#define reserve_awe( pages ) reserve_awe_( __FILE__, __LINE__, pages )
static inline char *reserve_awe_( const char *file, int line, SIZE_T pages )
{
    char *awe = VirtualAlloc( NULL, pages * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );

    ok_( file, line )( awe != NULL, "VirtualAlloc(MEM_PHYSICAL) failed, error %lu\n",
                       (unsigned long)GetLastError() );
    return awe;
}

#define release_region( addr ) release_region_( __FILE__, __LINE__, addr )
static inline void release_region_( const char *file, int line, void *addr )
{
    BOOL ret;

    if (!addr) return;
    ret = VirtualFree( addr, 0, MEM_RELEASE );
    ok_( file, line )( ret, "VirtualFree(MEM_RELEASE) failed, error %lu\n",
                       (unsigned long)GetLastError() );
}

/* Allocates count frames to the current process; TRUE if all of them came. */
#define alloc_frames( pfn, count ) alloc_frames_( __FILE__, __LINE__, pfn, count )
static inline BOOL alloc_frames_( const char *file, int line, ULONG_PTR *pfn, ULONG_PTR count )
{
    ULONG_PTR n = count;
    BOOL ret;

    SetLastError( 0xdeadbeef );
    ret = AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok_( file, line )( ret, "AllocateUserPhysicalPages failed, error %lu\n",
                       (unsigned long)GetLastError() );
    if (!ret) return FALSE;
    ok_( file, line )( n == count, "got %llu of %llu pages\n", (unsigned long long)n,
                       (unsigned long long)count );
    return n == count;
}

#define free_frames( pfn, count ) free_frames_( __FILE__, __LINE__, pfn, count )
static inline void free_frames_( const char *file, int line, ULONG_PTR *pfn, ULONG_PTR count )
{
    ULONG_PTR n = count;
    BOOL ret;

    SetLastError( 0xdeadbeef );
    ret = FreeUserPhysicalPages( GetCurrentProcess(), &n, pfn );
    ok_( file, line )( ret, "FreeUserPhysicalPages failed, error %lu\n",
                       (unsigned long)GetLastError() );
    ok_( file, line )( n == count, "freed %llu of %llu pages\n", (unsigned long long)n,
                       (unsigned long long)count );
}

/* Writes STAMP(i) into the first word of frame pfn[i] and 0 into the second, through a mapping
 * at awe, which is unmapped again; TRUE on success. */
#define stamp_frames( awe, pfn, count ) stamp_frames_( __FILE__, __LINE__, awe, pfn, count )
static inline BOOL stamp_frames_( const char *file, int line, char *awe, ULONG_PTR *pfn,
                                  ULONG_PTR count )
{
    ULONG_PTR i;
    BOOL ret;

    ret = MapUserPhysicalPages( awe, count, pfn );
    ok_( file, line )( ret, "cannot map the frames to stamp them, error %lu\n",
                       (unsigned long)GetLastError() );
    if (!ret) return FALSE;
    for (i = 0; i < count; i++)
    {
        ((ULONG_PTR *)(awe + i * PAGE))[0] = STAMP(i);
        ((ULONG_PTR *)(awe + i * PAGE))[1] = 0;
    }
    ret = MapUserPhysicalPages( awe, count, NULL );
    ok_( file, line )( ret, "cannot unmap the stamped frames, error %lu\n",
                       (unsigned long)GetLastError() );
    return ret;
}

/* ---- threads --------------------------------------------------------------------------------- */

struct test_thread
{
    void (*func)( void *arg );
    void *arg;
#ifdef _WIN32
    HANDLE handle;
#else
    pthread_t handle;
#endif
};

#ifdef _WIN32
static inline DWORD WINAPI test_thread_main( void *param )
#else
static inline void *test_thread_main( void *param )
#endif
{
    struct test_thread *thread = param;

    thread->func( thread->arg );
    return 0;
}

/* Runs func( arg ) in a new thread; TRUE if it started. */
static inline BOOL start_thread( struct test_thread *thread, void (*func)( void * ), void *arg )
{
    thread->func = func;
    thread->arg = arg;
#ifdef _WIN32
    return (thread->handle = CreateThread( NULL, 0, test_thread_main, thread, 0, NULL )) != NULL;
#else
    return !pthread_create( &thread->handle, NULL, test_thread_main, thread );
#endif
}

static inline void join_thread( struct test_thread *thread )
{
#ifdef _WIN32
    WaitForSingleObject( thread->handle, INFINITE );
    CloseHandle( thread->handle );
#else
    pthread_join( thread->handle, NULL );
#endif
}

/* ---- child runs ------------------------------------------------------------------------------
 *
 * A test re-runs its own program as "awe_test TEST child MODE [ARG]" with pipes on the child's
 * stdin and stdout.  The child answers with lines "KEYWORD values...\n" (child_reply) and reads
 * commands from stdin (child_command); any other output of the child (its ok() failures, its
 * summary) is copied to the parent's output with a "child: " prefix.  The child's exit status
 * is 0 only if its own checks passed.  Every wait is bounded by CHILD_TIMEOUT. */

struct child
{
#ifdef _WIN32
    HANDLE process;
    HANDLE to_child;
    HANDLE from_child;
#else
    pid_t pid;
    int to_child;
    int from_child;
#endif
    char buf[1024];     /* received and not yet returned */
    size_t len;
    int eof;
};

/* Starts the child run; TRUE if it started. */
static inline BOOL start_child( struct child *child, const char *test, const char *mode,
                                const char *arg )
{
#ifdef _WIN32
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    HANDLE in_read, in_write, out_read, out_write;
    char exe[MAX_PATH], cmd[MAX_PATH + 256];
    PROCESS_INFORMATION pi;
    STARTUPINFOA si;
    BOOL ret;

    memset( child, 0, sizeof(*child) );
    if (!GetModuleFileNameA( NULL, exe, sizeof(exe) )) return FALSE;
    if (!CreatePipe( &in_read, &in_write, &sa, 0 )) return FALSE;
    if (!CreatePipe( &out_read, &out_write, &sa, 0 ))
    {
        CloseHandle( in_read );
        CloseHandle( in_write );
        return FALSE;
    }
    SetHandleInformation( in_write, HANDLE_FLAG_INHERIT, 0 );
    SetHandleInformation( out_read, HANDLE_FLAG_INHERIT, 0 );
    snprintf( cmd, sizeof(cmd), "\"%s\" %s child %s %s", exe, test, mode, arg ? arg : "" );
    memset( &si, 0, sizeof(si) );
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_read;
    si.hStdOutput = out_write;
    si.hStdError = GetStdHandle( STD_ERROR_HANDLE );
    fflush( stdout );
    ret = CreateProcessA( exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi );
    CloseHandle( in_read );
    CloseHandle( out_write );
    if (!ret)
    {
        CloseHandle( in_write );
        CloseHandle( out_read );
        return FALSE;
    }
    CloseHandle( pi.hThread );
    child->process = pi.hProcess;
    child->to_child = in_write;
    child->from_child = out_read;
    return TRUE;
#else
    char exe[4096];
    int in[2], out[2];
    ssize_t len;

    memset( child, 0, sizeof(*child) );
    /* a child that exits early must not kill the test with SIGPIPE */
    signal( SIGPIPE, SIG_IGN );
    /* the path, not /proc/self/exe itself, which is valgrind's tool under valgrind */
    if ((len = readlink( "/proc/self/exe", exe, sizeof(exe) - 1 )) <= 0) return FALSE;
    exe[len] = 0;
    if (pipe2( in, O_CLOEXEC )) return FALSE;
    if (pipe2( out, O_CLOEXEC ))
    {
        close( in[0] );
        close( in[1] );
        return FALSE;
    }
    fflush( stdout );
    if (!(child->pid = fork()))
    {
        /* dup2 clears close-on-exec on the new descriptors */
        if (dup2( in[0], 0 ) == 0 && dup2( out[1], 1 ) == 1)
            execl( exe, exe, test, "child", mode, arg, (char *)NULL );
        _exit( 127 );
    }
    close( in[0] );
    close( out[1] );
    if (child->pid < 0)
    {
        close( in[1] );
        close( out[0] );
        return FALSE;
    }
    child->to_child = in[1];
    child->from_child = out[0];
    return TRUE;
#endif
}

/* Waits at most timeout ms for more output of the child and appends it to child->buf. */
static inline void child_fill( struct child *child, unsigned int timeout )
{
    size_t space = sizeof(child->buf) - 1 - child->len;
#ifdef _WIN32
    unsigned long long deadline = now_ms() + timeout;
    DWORD avail, got;

    for (;;)
    {
        if (!PeekNamedPipe( child->from_child, NULL, 0, NULL, &avail, NULL ))
        {
            child->eof = 1;
            return;
        }
        if (avail)
        {
            if (!ReadFile( child->from_child, child->buf + child->len,
                           avail < space ? avail : (DWORD)space, &got, NULL ) || !got)
                child->eof = 1;
            else child->len += got;
            return;
        }
        if (now_ms() >= deadline) return;
        Sleep( 10 );
    }
#else
    struct pollfd pfd = { child->from_child, POLLIN, 0 };
    ssize_t got;

    if (poll( &pfd, 1, (int)timeout ) <= 0) return;
    got = read( child->from_child, child->buf + child->len, space );
    if (got > 0) child->len += (size_t)got;
    else if (!got || errno != EINTR) child->eof = 1;
#endif
}

/* Returns the next line of the child's output (with its '\n') in line; FALSE at the end of the
 * output or after timeout ms. */
static inline BOOL child_read_line( struct child *child, char *line, size_t size,
                                    unsigned int timeout )
{
    unsigned long long deadline = now_ms() + timeout, now;
    char *nl;

    for (;;)
    {
        nl = memchr( child->buf, '\n', child->len );
        if (nl || child->len == sizeof(child->buf) - 1 || (child->eof && child->len))
        {
            size_t n = nl ? (size_t)(nl - child->buf) + 1 : child->len;
            size_t copy = n < size ? n : size - 1;

            memcpy( line, child->buf, copy );
            line[copy] = 0;
            /* the child's stdout is in text mode on Windows */
            if (copy >= 2 && line[copy - 2] == '\r' && line[copy - 1] == '\n')
            {
                line[copy - 2] = '\n';
                line[copy - 1] = 0;
            }
            memmove( child->buf, child->buf + n, child->len - n );
            child->len -= n;
            return TRUE;
        }
        if (child->eof || (now = now_ms()) >= deadline) return FALSE;
        child_fill( child, (unsigned int)(deadline - now) );
    }
}

/* Reads the child's output up to a line "keyword ...", copying other lines to the output;
 * returns what follows the keyword in line, or NULL if the child ended or timed out first. */
static inline char *child_expect( struct child *child, const char *keyword, char *line,
                                  size_t size )
{
    size_t len = strlen( keyword );

    while (child_read_line( child, line, size, CHILD_TIMEOUT ))
    {
        if (!strncmp( line, keyword, len ) && (line[len] == ' ' || line[len] == '\n'))
            return line + len + (line[len] == ' ');
        printf( "child: %s%s", line, strchr( line, '\n' ) ? "" : "\n" );
    }
    return NULL;
}

/* Sends one command line to the child. */
static inline BOOL child_send( struct child *child, const char *fmt, ... ) WINETEST_PRINTF(2, 3);
static inline BOOL child_send( struct child *child, const char *fmt, ... )
{
    char buf[1024];
    va_list args;
    size_t done = 0;
    int len;

    va_start( args, fmt );
    len = vsnprintf( buf, sizeof(buf), fmt, args );
    va_end( args );
    if (len < 0 || (size_t)len >= sizeof(buf)) return FALSE;
    while (done < (size_t)len)
    {
#ifdef _WIN32
        DWORD written;

        if (!WriteFile( child->to_child, buf + done, (DWORD)(len - done), &written, NULL ))
            return FALSE;
#else
        ssize_t written = write( child->to_child, buf + done, (size_t)len - done );

        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return FALSE;
#endif
        done += (size_t)written;
    }
    return TRUE;
}

/* Ends the child run: closes its stdin, copies the rest of its output and reaps it, killing it
 * if it has not exited within CHILD_TIMEOUT.  Returns its exit status, -1 if it was killed or
 * died of a signal. */
static inline int child_finish( struct child *child )
{
    unsigned long long deadline = now_ms() + CHILD_TIMEOUT, now;
    char line[1024];
    int code = -1;

#ifdef _WIN32
    DWORD exit_code;

    CloseHandle( child->to_child );
    while ((now = now_ms()) < deadline &&
           child_read_line( child, line, sizeof(line), (unsigned int)(deadline - now) ))
        printf( "child: %s%s", line, strchr( line, '\n' ) ? "" : "\n" );
    now = now_ms();
    if (WaitForSingleObject( child->process, now < deadline ? (DWORD)(deadline - now) : 0 ))
    {
        TerminateProcess( child->process, 255 );
        WaitForSingleObject( child->process, INFINITE );
    }
    else if (GetExitCodeProcess( child->process, &exit_code )) code = (int)exit_code;
    CloseHandle( child->from_child );
    CloseHandle( child->process );
#else
    int status;
    pid_t ret;

    close( child->to_child );
    while ((now = now_ms()) < deadline &&
           child_read_line( child, line, sizeof(line), (unsigned int)(deadline - now) ))
        printf( "child: %s%s", line, strchr( line, '\n' ) ? "" : "\n" );
    while (!(ret = waitpid( child->pid, &status, WNOHANG )) && now_ms() < deadline) sleep_ms( 10 );
    if (!ret)
    {
        kill( child->pid, SIGKILL );
        while ((ret = waitpid( child->pid, &status, 0 )) < 0 && errno == EINTR) ;
        ret = 0;
    }
    if (ret > 0 && WIFEXITED( status )) code = WEXITSTATUS( status );
    close( child->from_child );
#endif
    fflush( stdout );
    return code;
}

/* Child side: sends one answer line to the parent. */
static inline void child_reply( const char *fmt, ... ) WINETEST_PRINTF(1, 2);
static inline void child_reply( const char *fmt, ... )
{
    va_list args;

    va_start( args, fmt );
    vprintf( fmt, args );
    va_end( args );
    fflush( stdout );
}

/* Child side: reads the parent's next command line; FALSE when the parent closed the pipe. */
static inline BOOL child_command( char *line, size_t size )
{
    for (;;)
    {
        if (fgets( line, (int)size, stdin )) return TRUE;
        /* a signal (the emulation may use them) interrupted the read: not the end */
        if (!ferror( stdin ) || errno != EINTR) return FALSE;
        clearerr( stdin );
    }
}

#endif  /* __AWE_WINETEST_HELPERS_H */
