/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Futex helpers: wait, wake and vectored wait on 32-bit words, shared or process-private.
 *
 * Every helper returns 0 or a non-negative count on success and -errno on failure, and leaves
 * errno as it found it.  Deadlines are absolute CLOCK_MONOTONIC times; NULL means no timeout.
 * "shared" selects a futex keyed on the backing page (works across processes mapping the same
 * memory); "private" adds FUTEX_PRIVATE_FLAG and only works within one address space.  The
 * sync objects always pass shared. */

#ifndef __AWE_FUTEX_H
#define __AWE_FUTEX_H

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>

/* futex_waitv (Linux 5.16) has the same number on every architecture that uses the unified
 * table, x86_64 included; old headers may lack it. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02        /* futex2 flags: the word is 32 bits */
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE  128         /* futex2 flags: process-private, same value as FUTEX_PRIVATE_FLAG */
#endif

#define FUTEX_WAITV_LIMIT 128       /* the kernel's FUTEX_WAITV_MAX */

/* One entry of a futex_waitv array; the layout is the kernel's struct futex_waitv. */
struct futex_waiter
{
    uint64_t val;                   /* expected value at uaddr */
    uint64_t uaddr;                 /* the 32-bit word, as an integer */
    uint32_t flags;                 /* FUTEX2_SIZE_U32, plus FUTEX2_PRIVATE if private */
    uint32_t reserved;              /* must be zero */
};

static inline long futex_result( long ret, int saved_errno )
{
    if (ret < 0)
    {
        ret = -errno;
        errno = saved_errno;
    }
    return ret;
}

/* Sleeps while *addr == val, until woken or the deadline.  Returns 0 when woken (or
 * spuriously), -EAGAIN if *addr != val on entry, -ETIMEDOUT, -EINTR. */
static inline int futex_wait( const uint32_t *addr, uint32_t val, const struct timespec *deadline,
                              int shared )
{
    int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
    int saved = errno;

    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout, FUTEX_WAIT a relative one */
    return futex_result( syscall( SYS_futex, addr, op, val, deadline, NULL, FUTEX_BITSET_MATCH_ANY ),
                         saved );
}

/* Wakes up to count sleepers on addr.  Returns how many were woken, or -errno. */
static inline int futex_wake( const uint32_t *addr, int count, int shared )
{
    int op = FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG);
    int saved = errno;

    return futex_result( syscall( SYS_futex, addr, op, count, NULL, NULL, 0 ), saved );
}

/* Fills one futex_waitv entry. */
static inline void futex_waiter_init( struct futex_waiter *w, const uint32_t *addr, uint32_t val,
                                      int shared )
{
    w->val = val;
    w->uaddr = (uintptr_t)addr;
    w->flags = FUTEX2_SIZE_U32 | (shared ? 0 : FUTEX2_PRIVATE);
    w->reserved = 0;
}

/* Sleeps until any of the count words differs from its expected value or is woken, or the
 * deadline.  Returns the index of the entry that was woken, or -EAGAIN (some word differed on
 * entry), -ETIMEDOUT, -EINTR, -ENOSYS (kernel before 5.16, or an emulator that lacks it). */
static inline int futex_waitv( struct futex_waiter *waiters, unsigned int count,
                               const struct timespec *deadline )
{
    int saved = errno;

    return futex_result( syscall( SYS_futex_waitv, waiters, count, 0, deadline, CLOCK_MONOTONIC ),
                         saved );
}

#endif  /* __AWE_FUTEX_H */
