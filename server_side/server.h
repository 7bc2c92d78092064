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
    struct awe_pfn_layout layout;
};

extern struct server_options options;

/* ---- objects ------------------------------------------------------------------------------- */

enum object_type
{
    OBJ_PROCESS = AWE_OBJECT_PROCESS,
    OBJ_TOKEN   = AWE_OBJECT_TOKEN,    /* a view of its process's privileges */
};

struct process
{
    struct process       *next;          /* in the process list */
    int                   fd;            /* connection; -1 once it closed */
    pid_t                 pid;           /* from SO_PEERCRED */
    uint64_t              id;            /* unique for the server's lifetime (handle entries) */
    uint32_t              tag;           /* PFN tag, 0 until init_process */
    unsigned int          refs;          /* handles to it + 1 while connected */
    int                   privilege;     /* SE_PRIVILEGE_* of SeLockMemoryPrivilege, -1 if not held */
    /* frames */
    int                   memfd;         /* frames; sealed against shrinking */
    char                 *frames_base;   /* server mapping of the memfd (reserved for all frames) */
    uint32_t              locked_frames; /* prefix of the mapping locked on fault */
    struct awe_frames     frames;        /* allocator */
    int                   frames_ready;  /* allocator and memfd exist */
    int                   ever_allocated;/* has had frames (Free without any: P1) */
    uint64_t              owned;         /* frames owned */
    uint64_t              quarantined;   /* freed through a handle, waiting for the owner's ack */
    struct awe_wire_run  *quarantine;    /* those frames, with the sequence that announced them */
    uint32_t             *quarantine_seq;
    size_t                quarantine_len, quarantine_cap;
    /* frame table */
    int                   table_fd;      /* the table's memfd */
    int                   table_ro_fd;   /* read-only description of it, for the client */
    struct awe_frame_table *table;       /* server mapping */
    size_t                table_size;
    /* handles: published read-only to the client; the objects they hold, by entry index */
    struct awe_handle_table *handle_table;
    struct process      **handle_objects;
    uint32_t              handle_objects_len;
    /* the AWE lock, in a pool the client writes: created by the server, never read by it */
    struct awe_slab      *sync_pool;
    uint32_t              lock_slot;
    /* informational, written by the client, only displayed */
    int                   usage_fd;
    struct awe_usage     *usage;
};

extern struct process *process_list;

/* process.c */
extern struct process *create_process( int fd, pid_t pid );
extern void disconnect_process( struct process *process );
extern void release_process( struct process *process );
extern struct process *find_process_by_pid( pid_t pid );
extern size_t count_processes( void );
extern void free_tags( void );

/* handle.c */
extern NTSTATUS alloc_handle( struct process *owner, void *object, enum object_type type,
                              uint32_t access, uint32_t *handle );
extern NTSTATUS close_handle( struct process *owner, uint32_t handle );
extern NTSTATUS get_handle_object( struct process *owner, uint32_t handle, enum object_type type,
                                   uint32_t access, void **object );
extern NTSTATUS init_handles( struct process *owner );
extern void close_all_handles( struct process *owner );

/* pages.c */
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
