/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault-safe access to caller memory, as the kernel's probe-and-capture does. */

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>
#include "ntdll_private.h"

/* Memcheck does not see process_vm_readv/writev fill memory; tell it (a no-op elsewhere). */
#if defined(__has_include)
# if __has_include(<valgrind/memcheck.h>)
#  include <valgrind/memcheck.h>
#  define mark_defined( ptr, len ) VALGRIND_MAKE_MEM_DEFINED( ptr, len )
# endif
#endif
#ifndef mark_defined
# define mark_defined( ptr, len ) ((void)0)
#endif
/* Memcheck and AddressSanitizer check the buffer of a pwrite and report the bad pointers that
 * the API must turn into STATUS_ACCESS_VIOLATION; under them, caller memory is read with
 * process_vm_readv only (neither looks inside it). */
#if defined(__SANITIZE_ADDRESS__)
# define under_checker() 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define under_checker() 1
# endif
#endif
#ifndef under_checker
# ifdef RUNNING_ON_VALGRIND
#  define under_checker() RUNNING_ON_VALGRIND
# else
#  define under_checker() 0
# endif
#endif

/* Below this address nothing is ever mapped (vm.mmap_min_addr is at least 4096); a NULL
 * pointer, or a small offset from one, fails without a system call. */
#define LOWEST_USER_ADDRESS 0x10000

/* process_vm_readv/writev on our own pid copy memory through the kernel's fault handling: a
 * bad address comes back as EFAULT instead of a SIGSEGV in the application. */
static int copy_vm( void *dst, const void *src, size_t len, int to_user )
{
    struct iovec local = { to_user ? (void *)src : dst, len };
    struct iovec remote = { to_user ? dst : (void *)src, len };
    const void *user = to_user ? dst : src;
    ssize_t ret;

    if (!len) return 0;
    if ((uintptr_t)user < LOWEST_USER_ADDRESS || (uintptr_t)user + len < (uintptr_t)user)
        return -EFAULT;
    ret = to_user ? process_vm_writev( getpid(), &local, 1, &remote, 1, 0 )
                  : process_vm_readv( getpid(), &local, 1, &remote, 1, 0 );
    if (ret < 0) return errno == EFAULT || errno == ESRCH || errno == ENOMEM ? -EFAULT : -errno;
    if ((size_t)ret != len) return -EFAULT;
    mark_defined( dst, len );
    return 0;
}

/* Reading caller memory is on the hot path (Map and Scatter capture their arrays), and
 * process_vm_readv on our own pid costs about 1.5 us here whatever the size (plus a getpid).
 * A pwrite of the caller's bytes into a private memfd that we also map read-only costs half
 * that: the kernel copies them with copy_from_user, which fails with EFAULT exactly where the
 * caller's memory is not readable (a short write means a fault part way), and the bytes show in
 * our mapping.  One scratch file per process, one copy at a time; a forked child makes its own
 * (a child that shares the file description with its parent would race it).  Where it cannot
 * be had (no memfd, RLIMIT_FSIZE below its size: a pwrite past it raises SIGXFSZ, or under
 * memcheck) the copy falls back to process_vm_readv. */
#define SCRATCH_SIZE (64 * 1024)
#define SCRATCH_NONE (-2)           /* scratch.fd: unavailable, use process_vm_readv */

static struct
{
    pthread_mutex_t lock;
    int             fd;             /* -1 until made */
    const char     *view;           /* read-only mapping of the file */
} scratch = { PTHREAD_MUTEX_INITIALIZER, -1, NULL };

static void scratch_prepare( void ) { pthread_mutex_lock( &scratch.lock ); }
static void scratch_parent( void ) { pthread_mutex_unlock( &scratch.lock ); }

/* The forking thread took the lock in scratch_prepare: it releases it (rather than making a new
 * one, which would leave the lock it holds unbalanced for a lock-order checker). */
static void scratch_child( void )
{
    if (scratch.fd >= 0)
    {
        munmap( (void *)scratch.view, SCRATCH_SIZE );
        close( scratch.fd );
    }
    scratch.fd = -1;
    scratch.view = NULL;
    pthread_mutex_unlock( &scratch.lock );
}

static void register_scratch_atfork( void )
{
    pthread_atfork( scratch_prepare, scratch_parent, scratch_child );
}

/* Makes the scratch file (lock held): populated, so that a pwrite never allocates. */
static void make_scratch( void )
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct rlimit fsize;
    void *view;
    int fd;

    scratch.fd = SCRATCH_NONE;
    if (under_checker() || pthread_once( &once, register_scratch_atfork )) return;
    if (getrlimit( RLIMIT_FSIZE, &fsize ) ||
        (fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < SCRATCH_SIZE))
        return;
    if ((fd = memfd_create( "awe-capture", MFD_CLOEXEC )) < 0) return;
    if (fallocate( fd, 0, 0, SCRATCH_SIZE ) ||
        (view = mmap( NULL, SCRATCH_SIZE, PROT_READ, MAP_SHARED, fd, 0 )) == MAP_FAILED)
    {
        close( fd );
        return;
    }
    scratch.view = view;
    scratch.fd = fd;
}

/* Copies through the scratch file: 0, -EFAULT, or 1 when the scratch file cannot do it. */
static int copy_through_scratch( void *dst, const void *src, size_t len )
{
    int ret = 0;

    pthread_mutex_lock( &scratch.lock );
    if (scratch.fd == -1) make_scratch();
    if (scratch.fd < 0) ret = 1;
    while (!ret && len)
    {
        size_t chunk = len < SCRATCH_SIZE ? len : SCRATCH_SIZE;
        ssize_t done = pwrite( scratch.fd, src, chunk, 0 );

        if (done < 0 && errno == EINTR) continue;
        if (done < 0 && errno != EFAULT) ret = 1;
        else if ((size_t)done != chunk) ret = -EFAULT;
        else
        {
            memcpy( dst, scratch.view, chunk );
            dst = (char *)dst + chunk;
            src = (const char *)src + chunk;
            len -= chunk;
        }
    }
    pthread_mutex_unlock( &scratch.lock );
    return ret;
}

int awe_copy_from_user( void *dst, const void *src, size_t len )
{
    int ret;

    if (!len) return 0;
    if ((uintptr_t)src < LOWEST_USER_ADDRESS || (uintptr_t)src + len < (uintptr_t)src) return -EFAULT;
    if ((ret = copy_through_scratch( dst, src, len )) <= 0)
    {
        if (!ret) mark_defined( dst, len );
        return ret;
    }
    return copy_vm( dst, src, len, 0 );
}

int awe_copy_to_user( void *dst, const void *src, size_t len )
{
    return copy_vm( dst, src, len, 1 );
}

int awe_copy_in_pfns( void *ctx, uintptr_t *dst, const void *src, size_t count )
{
    return awe_copy_from_user( dst, src, count * sizeof(*dst) );
}
