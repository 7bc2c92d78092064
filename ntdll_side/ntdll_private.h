/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private declarations of the client library (ntdll_side). */

#ifndef __AWE_NTDLL_PRIVATE_H
#define __AWE_NTDLL_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include "awe.h"
#include "awe/core.h"
#include "awe/protocol.h"
#include "awe/shm.h"
#include "awe/sync.h"

/* Everything declared here stays inside libawe, whatever its name. */
#pragma GCC visibility push(hidden)

/* ---- the process's AWE state ----------------------------------------------------------------
 *
 * One per process, set up on first use (awe_client_attach): the connection to the server, the
 * process's frame memfd and the server's read-only table of the frames it owns, and the map
 * state.  After a fork the child starts over with a connection of its own. */

struct awe_client
{
    pthread_mutex_t       attach_lock;   /* serializes attaching and detaching */
    _Atomic uint32_t      epoch;         /* 0 until attached; changes with every attachment */
    struct awe_sync_ref   lock_ref;      /* the AWE lock, a hybrid mutex (each thread uses a copy) */
    struct awe_slab_view *sync_view;     /* the pool holding it */
    int                   server_fd;     /* request socket, -1 if none */
    _Atomic int           server_lost;   /* the connection is shut down: requests fail at once */
    struct awe_pfn_layout layout;        /* the server's PFN split */
    uint32_t              tag;           /* this process's PFN tag */
    int                   memfd;         /* this process's frames */
    struct awe_regions    regions;       /* MEM_PHYSICAL regions and mappings; protected by lock */
    awe_frame_owned_fn    frame_owned;   /* reads the server's frame table */
    const struct awe_frame_table *table; /* the server's table of our frames (read-only) */
    size_t                table_size;
    struct awe_usage     *usage;         /* counters the status display shows */
    uint32_t              acked_seq;     /* last notify_seq acknowledged; protected by lock */
    struct awe_slab_view *handles;       /* the server's table of our handles (read-only) */
};

/* Checks a handle against the published table without asking the server: STATUS_SUCCESS,
 * STATUS_INVALID_HANDLE, STATUS_OBJECT_TYPE_MISMATCH or STATUS_ACCESS_DENIED.  The server
 * checks again; this only spares failing calls a round trip.  Needs an attached client. */
extern NTSTATUS awe_check_handle( uint32_t handle, uint32_t type, uint32_t access );

extern struct awe_client awe_client;

/* Takes the AWE lock (the hybrid mutex the server created for this process: one CAS when
 * uncontended), attaching the process to the server first if needed.  Returns STATUS_SUCCESS
 * with the lock held, or the status that prevented it (lock not held).  The AWE lock protects
 * awe_client.regions, every mapping change of AWE pages and acked_seq. */
extern NTSTATUS awe_client_lock( void );
extern void awe_client_unlock( void );

/* Attaches the process to the server if it is not yet, for requests that need no AWE lock. */
extern NTSTATUS awe_client_attach( void );

/* Connects to the server (starting it if needed) and fills in client; server.c. */
extern NTSTATUS awe_server_attach( struct awe_client *client );

/* Unmaps every mapped frame the process no longer owns (another process freed it) and tells the
 * server it may reuse them.  Lock held. */
extern void awe_client_sync_unmaps( void );

/* Tests without a server: attaches with a given tag, frame memfd and ownership test.
 * Returns 0 or -errno. */
extern int awe_client_attach_local( const struct awe_pfn_layout *layout, uint32_t tag, int memfd,
                                    awe_frame_owned_fn frame_owned );
/* Forgets the attachment (regions included); the next awe_client_lock attaches again. */
extern void awe_client_detach( void );

/* Copies the map counters to the usage page (with the lock held). */
static inline void awe_client_publish_usage( void )
{
    if (!awe_client.usage) return;
    atomic_store_explicit( &awe_client.usage->mapped_pages, awe_client.regions.mapped, memory_order_relaxed );
    atomic_store_explicit( &awe_client.usage->vmas, awe_client.regions.vmas, memory_order_relaxed );
}

/* ---- AWE sections (section.c; all under the AWE lock unless said otherwise) ---------------- */

struct awe_client_section
{
    struct awe_client_section    *next;
    uint32_t                      handle;     /* the caller's handle to it; 0 once closed */
    unsigned int                  refs;       /* that handle, and each region bound to it */
    uint32_t                      backing;    /* AWE_BACKING_* */
    const struct awe_frame_table *table;      /* the server's table of its frames (read-only) */
    size_t                        table_size;
    struct awe_pool               pool;       /* tag, unit, memfd, mapping counts */
};

/* The section the caller's handle names, or NULL. */
extern struct awe_client_section *awe_find_section( uint32_t handle );
/* The pool of that section, or NULL. */
extern struct awe_pool *awe_section_pool( uint32_t handle );
/* The caller's handle was closed (takes the lock itself). */
extern void awe_section_handle_closed( uint32_t handle );
/* Binds [base, base + size) to the section as a new region, a read-only one if readonly (takes
 * the lock itself). */
extern NTSTATUS awe_bind_window( uintptr_t base, size_t size, uint32_t handle, int readonly );
/* A bound region was removed: its reference to the pool's section goes. */
extern void awe_section_put( struct awe_pool *pool );
/* Forgets every section (detaching; the regions are gone already). */
extern void awe_forget_sections( void );

/* ---- requests ---------------------------------------------------------------------------------
 *
 * Every request has one shape:
 *     SERVER_START_REQ( name ) { req->x = ...; status = server_call( req ); } SERVER_END_REQ;
 * server_add_data() attaches a variable part, server_set_reply() a buffer for the reply's. */

struct awe_call
{
    uint32_t    req_type;
    void       *req;
    size_t      req_size;
    const void *data;                 /* variable part of the request */
    size_t      data_size;
    void       *reply;
    size_t      reply_size;
    void       *reply_data;           /* buffer for the reply's variable part */
    size_t      reply_data_max;
    size_t      reply_data_size;      /* received */
    int         fds[8];               /* descriptors received */
    int         nfds;
};

/* Sends a request and waits for the reply, at most $AWE_SERVER_TIMEOUT seconds (default 60).
 * Returns the server's status; STATUS_IO_TIMEOUT when the deadline passed, STATUS_PIPE_BROKEN
 * when the server is gone, STATUS_INTERNAL_ERROR for a malformed reply.  After any of those
 * the connection is shut down for good: the process keeps its mappings (Map and Scatter go on
 * working over the frames it holds), and every later request fails at once with
 * STATUS_PIPE_BROKEN.  Descriptors received with a failure are closed. */
extern NTSTATUS awe_server_call( struct awe_call *call );

#define SERVER_START_REQ(name) \
    do { \
        struct name##_request __req; \
        struct name##_reply __reply; \
        struct name##_request *const req = &__req; \
        struct name##_reply *const reply = &__reply; \
        struct awe_call __call = { .req_type = AWE_REQ_##name, .req = &__req, .req_size = sizeof(__req), \
                                   .reply = &__reply, .reply_size = sizeof(__reply) }; \
        memset( &__req, 0, sizeof(__req) ); \
        memset( &__reply, 0, sizeof(__reply) ); \
        (void)reply; \
        do
#define SERVER_END_REQ \
        while (0); \
    } while (0)

#define server_call( r )              ((void)(r), awe_server_call( &__call ))
#define server_add_data( ptr, size )  (__call.data = (ptr), __call.data_size = (size))
#define server_set_reply( ptr, size ) (__call.reply_data = (ptr), __call.reply_data_max = (size))
#define server_reply_data_size()      (__call.reply_data_size)

/* ---- errors and caller memory ------------------------------------------------------------ */

/* Sets the last error from a failure status; returns TRUE for success, FALSE otherwise. */
extern BOOL awe_set_ntstatus( NTSTATUS status );

/* Copy from/to the caller's memory without faulting: 0 or -EFAULT. */
extern int awe_copy_from_user( void *dst, const void *src, size_t len );
extern int awe_copy_to_user( void *dst, const void *src, size_t len );
/* awe_copy_in_fn for the planner. */
extern int awe_copy_in_pfns( void *ctx, uintptr_t *dst, const void *src, size_t count );

/* ---- the mapper ------------------------------------------------------------------------------ */

/* The system calls that issue a plan, replaceable so that tests can inject failures. */
struct awe_map_syscalls
{
    void *(*mmap)( void *addr, size_t len, int prot, int flags, int fd, off_t offset );
    int   (*mprotect)( void *addr, size_t len, int prot );
};

extern struct awe_map_syscalls awe_map_syscalls;

/* Reserves len bytes (page multiple) of address space for an AWE region at addr (NULL: any),
 * inaccessible and without commit charge; returns the address or NULL with -errno in *err. */
extern void *awe_reserve_range( void *addr, size_t len, int *err );

/* Issues plan->ops in order over the process's frame memfd (those of a bound region over its
 * pool's); returns 0, or -errno from the operation that failed, *done receiving the number of
 * operations attempted (including the failed one).  Changes no table. */
extern int awe_issue_ops( int memfd, const struct awe_plan_op *ops, size_t nops, size_t *done );

/* Carries out a successful plan all or nothing: issues it and commits it, or, when a system
 * call fails, puts every touched page back as the tables describe it and releases the plan.
 * Returns STATUS_SUCCESS, or STATUS_INSUFFICIENT_RESOURCES with nothing changed. */
extern NTSTATUS awe_apply_plan( struct awe_regions *regions, int memfd, struct awe_plan *plan );

/* What every call that changes the process's mappings ends with, under the AWE lock: the plan
 * the planner made with status planned is applied (awe_apply_plan) when it succeeded, then the
 * usage page tells the server what is mapped now.  Returns planned if it failed, else the
 * application's status. */
static inline NTSTATUS awe_carry_out( NTSTATUS planned, struct awe_plan *plan )
{
    NTSTATUS status = planned ? planned : awe_apply_plan( &awe_client.regions, awe_client.memfd, plan );

    awe_client_publish_usage();
    return status;
}

#pragma GCC visibility pop

#endif  /* __AWE_NTDLL_PRIVATE_H */
