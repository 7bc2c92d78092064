/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* awe-server: declarations shared by its files. */

#ifndef __AWE_SERVER_H
#define __AWE_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "awe/core.h"
#include "awe/protocol.h"
#include "awe/shm.h"
#include "awe/sync.h"

/* ---- options ------------------------------------------------------------------------------- */

struct server_options
{
    const char           *dir;            /* instance directory */
    int                   debug;          /* -d: trace every request and reply */
    int                   foreground;     /* do not detach */
    int                   grant_lock;     /* every process holds SeLockMemoryPrivilege */
    int                   unlocked;       /* best effort: do not mlock frames */
    uint64_t              quota_frames;   /* per process, 0 = none */
    uint64_t              limit_frames;   /* all processes together, 0 = none */
    uint64_t              reserve_frames; /* MemAvailable left to the system, 0 = no check */
    unsigned int          exit_delay;     /* seconds without clients before exiting */
    int                   large_pages;    /* AWE_LARGE_*: how 2 MiB frames are backed */
    uint32_t              large_unit;     /* frames of a large section's unit: AWE_LARGE_UNIT
                                           * (2 MiB); only the server fuzz harness, whose
                                           * layout is far smaller, sets fewer */
    struct awe_pfn_layout layout;
};

extern struct server_options options;

/* ---- objects ------------------------------------------------------------------------------- */

enum object_type
{
    OBJ_PROCESS = AWE_OBJECT_PROCESS,
    OBJ_TOKEN   = AWE_OBJECT_TOKEN,    /* a view of its process's privileges */
    OBJ_SECTION = AWE_OBJECT_SECTION,
};

/* Frames with one tag: a process's own, or an AWE section's.  The memfd has every frame the
 * layout allows from the start (sparse) and is mapped whole by the server; the allocator
 * counts units of unit frames; the frame table publishes one bit per frame, read-only. */
struct frame_pool
{
    uint32_t              tag;           /* PFN tag, 0 until set up */
    uint32_t              unit;          /* frames per allocation unit: 1, or options.large_unit */
    uint32_t              backing;       /* AWE_BACKING_* */
    int                   memfd;         /* frames; sealed against resizing */
    char                 *frames_base;   /* server mapping of the memfd (reserved for all frames) */
    uint32_t              locked_frames; /* prefix of the mapping locked on fault */
    struct awe_frames     frames;        /* allocator, in units */
    int                   frames_ready;  /* allocator and memfd exist */
    int                   ever_allocated;/* has had frames (Free without any: P1) */
    uint64_t              owned;         /* frames owned */
    uint64_t              quarantined;   /* freed through a handle, waiting for the owner's ack */
    struct awe_wire_run  *quarantine;    /* those frames, with the sequence that announced them */
    uint32_t             *quarantine_seq;
    size_t                quarantine_len, quarantine_cap;
    int                   table_fd;      /* the table's memfd */
    int                   table_ro_fd;   /* read-only description of it, for the client */
    struct awe_frame_table *table;       /* server mapping */
    size_t                table_size;
};

/* What a handle holds. */
struct handle_object
{
    void                 *object;        /* struct process (process, token) or struct section */
    enum object_type      type;
};

struct process
{
    struct process       *next;          /* in the process list */
    int                   fd;            /* connection; -1 once it closed */
    pid_t                 pid;           /* from SO_PEERCRED */
    uint64_t              id;            /* unique for the server's lifetime (handle entries) */
    unsigned int          refs;          /* handles to it + 1 while connected */
    int                   privilege;     /* SE_PRIVILEGE_* of SeLockMemoryPrivilege, -1 if not held */
    struct frame_pool     pool;          /* its own frames */
    uint64_t              section_frames;/* frames of the sections it created, charged to it */
    /* handles: published read-only to the client; the objects they hold, by entry index */
    struct awe_handle_table *handle_table;
    struct handle_object *handle_objects;
    uint32_t              handle_objects_len;
    /* the AWE lock, in a pool the client writes: created by the server, never read by it */
    struct awe_slab      *sync_pool;
    uint32_t              lock_slot;
    /* informational, written by the client, only displayed */
    int                   usage_fd;
    struct awe_usage     *usage;
};

/* An AWE section: a frame pool of its own, reached through its creator's handles only. */
struct section
{
    struct section       *next;          /* in section_list */
    uint64_t              id;            /* unique for the server's lifetime (handle entries) */
    unsigned int          refs;          /* handles */
    struct process       *owner;         /* its creator, charged for its frames (no reference:
                                          * its handles, all the owner's, go before it does) */
    struct frame_pool     pool;
};

extern struct process *process_list;
extern struct section *section_list;

/* process.c */
extern struct process *create_process( int fd, pid_t pid );
extern void disconnect_process( struct process *process );
extern void release_process( struct process *process );
extern struct process *find_process_by_pid( pid_t pid );
extern size_t count_processes( void );
extern void free_tags( void );
extern uint32_t alloc_tag( void );
extern void free_tag( uint32_t tag );
extern uint64_t next_object_id( void );
extern void release_section( struct section *section );

/* handle.c */
extern NTSTATUS alloc_handle( struct process *owner, void *object, enum object_type type,
                              uint32_t access, uint32_t *handle );
extern NTSTATUS close_handle( struct process *owner, uint32_t handle );
extern NTSTATUS get_handle_object( struct process *owner, uint32_t handle, enum object_type type,
                                   uint32_t access, void **object );
extern NTSTATUS init_handles( struct process *owner );
extern void close_all_handles( struct process *owner );

/* pages.c */
extern NTSTATUS init_pool( struct frame_pool *pool, const char *what, pid_t pid, uint32_t unit,
                           uint32_t backing );
extern void release_pool( struct frame_pool *pool );
extern uint32_t large_backing( void );
extern void huge_page_counts( uint64_t *total, uint64_t *free_pages );
extern void release_frames( struct process *process );
extern void cancel_pending( struct process *process );
extern int pending_timeout( void );
extern void expire_pending( void );
extern uint64_t pages_held_frames( void );

/* request.c */
typedef NTSTATUS (*req_handler)( struct process *caller, const void *req, size_t req_size,
                                 void *reply, size_t *reply_size, int *reply_fds, int *nfds );
extern int serve_connection( struct process *process );
extern int dispatch_message( struct process *process, const void *msg, size_t len, int flags );
extern int send_reply( int fd, const void *reply, size_t size, const int *fds, int nfds );
extern void trace_message( uint32_t req, pid_t pid, const void *msg, size_t size, int is_reply );

/* A handler's answer for a malformed message: the client is dropped. */
#define PROTOCOL_ERROR ((NTSTATUS)0xffffffff)

#define DECL_HANDLER(name) \
    NTSTATUS req_##name( struct process *caller, const struct name##_request *req, size_t req_size, \
                         struct name##_reply *reply, size_t *reply_size, int *reply_fds, int *nfds )

#define AWE_DECL(name) extern DECL_HANDLER(name);
AWE_REQUESTS(AWE_DECL)
#undef AWE_DECL

/* main.c */
extern void server_log( const char *fmt, ... ) __attribute__((format(printf, 1, 2)));
extern int watch_fd( int fd, struct process *process );
extern void unwatch_fd( int fd );
extern uint64_t monotonic_ms( void );

#endif  /* __AWE_SERVER_H */
