/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client/server protocol, declared once.
 *
 * Each request is one SOCK_SEQPACKET message: a fixed part (header + fields) and, for some, a
 * variable part after it.  The reply is one message of the same shape.  Every field has a fixed
 * width; padding is explicit and must be zero.  Both sides expand the tables below: the
 * structures, the server's dispatch table and the server's -d trace all come from them, so
 * they cannot drift apart (docs/design.md section 9 argues for this over a generator). */

#ifndef __AWE_PROTOCOL_H
#define __AWE_PROTOCOL_H

#include <stdatomic.h>
#include <stdint.h>
#include "layout.h"
#include "status.h"

#define AWE_PROTOCOL_VERSION 4
#define AWE_MAX_MESSAGE      (64 * 1024)     /* whole message, fixed + variable part */

/* Field types: F(type, name) in the tables below; each maps to a C type and a trace format.
 * awe_u64 (layout.h) is 8-aligned on i386 too, so the wire is the same for 32-bit clients. */
typedef uint32_t awe_u32;
typedef uint32_t awe_handle;      /* object handle, multiple of 4; 0xffffffff = current process */
typedef uint32_t awe_access;      /* access mask */
typedef uint32_t awe_pad;         /* must be zero */

#define AWE_CURRENT_PROCESS 0xffffffffu

/* Wire values with Windows' meaning and Windows' numbers: the access rights the server checks,
 * and the one privilege it knows (struct awe_wire_privilege). */
#define AWE_PROCESS_VM_OPERATION     0x0008
#define AWE_PROCESS_QUERY_INFORMATION 0x0400      /* implies the next one, as on Windows */
#define AWE_PROCESS_QUERY_LIMITED_INFORMATION 0x1000
#define AWE_TOKEN_ADJUST_PRIVILEGES  0x0020
#define AWE_SECTION_QUERY            0x0001
#define AWE_SECTION_MAP_WRITE        0x0002      /* what Allocate and Free need of a section */
#define AWE_SECTION_MAP_READ         0x0004
#define AWE_SE_LOCK_MEMORY_PRIVILEGE 4            /* LUID, low part */
#define AWE_SE_PRIVILEGE_ENABLED     0x00000002
#define AWE_SE_PRIVILEGE_REMOVED     0x00000004

/* Object types in the published handle tables (struct awe_handle_entry.type). */
#define AWE_OBJECT_PROCESS 1
#define AWE_OBJECT_TOKEN   2
#define AWE_OBJECT_SECTION 3      /* an AWE section; data[0] = its tag, data[1] = its unit */

/* A run of frames in a variable part. */
struct awe_wire_run
{
    uint32_t start;               /* first frame index */
    uint32_t count;
};

/* A run of consecutive PFN values as a caller passed them (valid or not). */
struct awe_wire_pfn_run
{
    awe_u64  first;
    awe_u64  count;
};

/* A privilege in adjust_privileges. */
struct awe_wire_privilege
{
    uint32_t luid;                /* low part; high part is always 0 */
    uint32_t attributes;          /* SE_PRIVILEGE_* */
};

/* One process in get_status. */
struct awe_wire_process_status
{
    uint32_t pid;
    uint32_t tag;
    awe_u64  frames_allocated;    /* owned frames */
    awe_u64  frames_quarantined;  /* freed by another process, waiting for the owner to unmap */
    awe_u64  frames_locked;       /* backed by locked memory */
    awe_u64  span_frames;         /* one past the highest frame it holds (memfd extent in use) */
    awe_u64  mapped_pages;        /* from the client's usage page (informational) */
    awe_u64  vmas;                /* from the client's usage page (informational) */
};

/* One AWE section in get_status, after the processes. */
struct awe_wire_section_status
{
    uint32_t owner_pid;           /* the process that created it (the only one with handles) */
    uint32_t tag;
    uint32_t unit;                /* frames per page: 1, or 512 for 2 MiB pages */
    uint32_t backing;             /* AWE_BACKING_* */
    awe_u64  frames_allocated;
    awe_u64  span_frames;
    uint32_t handles;             /* handles to it: the owner's, and one per bound region */
    uint32_t pad;
};

/* One layout on every ABI (layout.h). */
AWE_LAYOUT_SIZE( struct awe_wire_run, 8 );
AWE_LAYOUT_SIZE( struct awe_wire_pfn_run, 16 );
AWE_LAYOUT_OFFSET( struct awe_wire_pfn_run, count, 8 );
AWE_LAYOUT_SIZE( struct awe_wire_privilege, 8 );
AWE_LAYOUT_SIZE( struct awe_wire_process_status, 56 );
AWE_LAYOUT_OFFSET( struct awe_wire_process_status, frames_allocated, 8 );
AWE_LAYOUT_OFFSET( struct awe_wire_process_status, vmas, 48 );
AWE_LAYOUT_SIZE( struct awe_wire_section_status, 40 );
AWE_LAYOUT_OFFSET( struct awe_wire_section_status, frames_allocated, 16 );
AWE_LAYOUT_OFFSET( struct awe_wire_section_status, handles, 32 );

/* How a pool's frames are backed. */
#define AWE_BACKING_SMALL    0    /* 4 KiB frames of a plain memfd */
#define AWE_BACKING_HUGETLB  1    /* huge pages of a hugetlb memfd, from the host's reserve */
#define AWE_BACKING_EMULATED 2    /* large frames as aligned runs of 4 KiB frames */
#define AWE_BACKING_NONE     3    /* large frames wanted, none to be had: allocations fail */

/* --large-pages (get_status large_pages) */
#define AWE_LARGE_AUTO    0       /* huge pages when the host has some reserved, else emulated */
#define AWE_LARGE_HUGETLB 1       /* huge pages only: without them, ERROR_NO_SYSTEM_RESOURCES */
#define AWE_LARGE_EMULATE 2       /* always emulated */
#define AWE_LARGE_FAIL    3       /* never: ERROR_NO_SYSTEM_RESOURCES, as Windows without them */

/* ---- the requests: X(name, request fields, reply fields) -----------------------------------
 *
 * init_process        first request of a process; the reply carries five descriptors: the
 *                     process's frame memfd (read/write), its frame table (read-only), its
 *                     usage page (read/write, informational, never read back), its handle
 *                     table (read-only; the handle_* fields are its slab geometry) and the
 *                     pool of its AWE lock (read/write; sync_* fields; a mutex, object id
 *                     sync_id, generation lock_gen in the frame table).  A failed init_process
 *                     leaves the connection as it was: the client may try again or leave.
 * allocate_pages      AllocateUserPhysicalPages after the caller's pointers were probed, of the
 *                     process's own frames or (a section handle) an AWE section's; flags:
 *                     AWE_ALLOC_* (large frames of a process's own are not served, so
 *                     STATUS_INSUFFICIENT_RESOURCES after the handle, privilege and target
 *                     checks); count is in units of the pool (unit frames each: 1, or
 *                     AWE_LARGE_UNIT for a large section); reply: the units got, the frames as
 *                     runs (variable part, whole units), in the pool's tag.  more = 1 when the
 *                     reply filled up, or the round ended, before count units were found (ask
 *                     again).
 * free_pages          FreeUserPhysicalPages; variable part: the caller's array as runs of
 *                     consecutive values (of a section: each entry one unit, named by its first
 *                     frame; freed at once, its owner being the caller).  freed counts entries
 *                     in array order.  Through the
 *                     current-process pseudo-handle the frames are released at once (the client
 *                     unmapped them first); through any other handle they are quarantined until
 *                     their owner acknowledges that it unmapped them (see the usage page), and
 *                     the reply waits for that acknowledgement, so the pages are unmapped when
 *                     Free returns.  When the owner is the caller itself (a real handle to
 *                     itself), the reply comes at once with quarantined = 1 and the caller
 *                     unmaps and acknowledges before returning.
 *                     Large allocations are cut into rounds of at most AWE_ALLOC_ROUND frames
 *                     (more = 1), so that one client's request never holds the server long.
 * ack_unmap           the client unmapped every frame taken from it up to notify_seq = seq
 *                     (see the frame table).  No reply: the client's notification thread sends
 *                     it while another thread may be waiting for a reply.
 * open_process        OpenProcess( access, pid ).
 * close_handle        CloseHandle.
 * open_token          OpenProcessToken: a token handle for the process.
 * adjust_privileges   AdjustTokenPrivileges; variable part: privileges; reply variable part:
 *                     their previous states.
 * get_status          the status display: reply variable part is awe_wire_process_status[processes]
 *                     then awe_wire_section_status[sections].
 * create_section      CreateFileMapping2 of an AWE section (MemSectionExtendedParameter-
 *                     UserPhysicalFlags): a frame pool of its own with its own tag; flags
 *                     AWE_SECTION_LARGE for SEC_LARGE_PAGES (2 MiB units, needs the
 *                     privilege).  The reply carries two descriptors: the pool's memfd
 *                     (read/write) and its frame table (read-only).  allocate_pages and
 *                     free_pages take the section handle as their process (SECTION_MAP_WRITE):
 *                     the frames are the section's, charged to its creator, and live as long
 *                     as a handle to it does.  Only the creator holds handles to a section.
 * dup_handle          DuplicateHandle within the process, with the same access: the client
 *                     keeps a section alive this way while regions are bound to it. */

#define AWE_REQ_init_process(F)       F(awe_u32, version) F(awe_pad, pad)
#define AWE_REPLY_init_process(F)     F(awe_u32, tag) F(awe_u32, index_bits) F(awe_u32, tag_bits) \
                                      F(awe_u32, server_pid) F(awe_u64, frame_table_size) \
                                      F(awe_u32, handle_slot_size) F(awe_u32, handle_max_slots) \
                                      F(awe_u32, handle_block_size) F(awe_u32, handle_flags) \
                                      F(awe_u32, sync_slot_size) F(awe_u32, sync_max_slots) \
                                      F(awe_u32, sync_block_size) F(awe_u32, sync_flags) \
                                      F(awe_u64, sync_id) F(awe_u32, lock_slot) F(awe_pad, pad)

#define AWE_REQ_allocate_pages(F)     F(awe_handle, process) F(awe_u32, flags) F(awe_u64, count)
#define AWE_REPLY_allocate_pages(F)   F(awe_u64, count) F(awe_u32, tag) F(awe_u32, more) \
                                      F(awe_u32, unit) F(awe_pad, pad)

#define AWE_REQ_free_pages(F)         F(awe_handle, process) F(awe_pad, pad)
#define AWE_REPLY_free_pages(F)       F(awe_u64, freed) F(awe_u32, quarantined) F(awe_pad, pad)

#define AWE_REQ_open_process(F)       F(awe_u32, pid) F(awe_access, access)
#define AWE_REPLY_open_process(F)     F(awe_handle, handle) F(awe_pad, pad)

#define AWE_REQ_close_handle(F)       F(awe_handle, handle) F(awe_pad, pad)
#define AWE_REPLY_close_handle(F)

#define AWE_REQ_open_token(F)         F(awe_handle, process) F(awe_access, access)
#define AWE_REPLY_open_token(F)       F(awe_handle, handle) F(awe_pad, pad)

#define AWE_REQ_adjust_privileges(F)  F(awe_handle, token) F(awe_u32, disable_all)
#define AWE_REPLY_adjust_privileges(F) F(awe_u32, not_all_assigned) F(awe_pad, pad)

#define AWE_REQ_ack_unmap(F)          F(awe_u32, seq) F(awe_pad, pad)
#define AWE_REPLY_ack_unmap(F)

#define AWE_REQ_get_status(F)         F(awe_pad, pad) F(awe_pad, pad2)
#define AWE_REPLY_get_status(F)       F(awe_u32, flags) F(awe_u32, processes) F(awe_u64, quota_frames) \
                                      F(awe_u64, limit_frames) F(awe_u64, held_frames) \
                                      F(awe_u64, reserve_frames) F(awe_u32, sections) \
                                      F(awe_u32, large_pages) F(awe_u64, huge_pages_total) \
                                      F(awe_u64, huge_pages_free)

#define AWE_REQ_create_section(F)     F(awe_u32, flags) F(awe_access, access)
#define AWE_REPLY_create_section(F)   F(awe_handle, handle) F(awe_u32, tag) F(awe_u32, unit) \
                                      F(awe_u32, backing) F(awe_u64, frame_table_size)

#define AWE_REQ_dup_handle(F)         F(awe_handle, handle) F(awe_pad, pad)
#define AWE_REPLY_dup_handle(F)       F(awe_handle, handle) F(awe_pad, pad)

#define AWE_REQUESTS(X) \
    X(init_process) \
    X(allocate_pages) \
    X(free_pages) \
    X(open_process) \
    X(close_handle) \
    X(open_token) \
    X(adjust_privileges) \
    X(get_status) \
    X(ack_unmap) \
    X(create_section) \
    X(dup_handle)

/* allocate_pages flags: the frame size asked for (AllocateUserPhysicalPages2's attributes). */
#define AWE_ALLOC_LARGE 0x1       /* 2 MiB frames */
#define AWE_ALLOC_HUGE  0x2       /* 1 GiB frames */

/* create_section flags */
#define AWE_SECTION_LARGE 0x1     /* SEC_LARGE_PAGES: 2 MiB units */
#define AWE_LARGE_UNIT    512     /* frames in a 2 MiB unit */

/* Requests the server never answers. */
#define AWE_NO_REPLY_REQUESTS (1u << AWE_REQ_ack_unmap)

/* Frames one allocate_pages round hands out at most (256 MiB): populating and locking them
 * takes tens of milliseconds, after which the server serves other clients again. */
#define AWE_ALLOC_ROUND 65536

/* get_status flags */
#define AWE_STATUS_UNLOCKED 0x1   /* the operator chose best-effort unlocked operation */

/* ---- wire structures --------------------------------------------------------------------- */

struct awe_request_header
{
    uint32_t req;                 /* enum awe_request */
    uint32_t size;                /* whole message in bytes */
};

struct awe_reply_header
{
    NTSTATUS status;
    uint32_t size;                /* whole message in bytes */
};

enum awe_request
{
#define AWE_ENUM(name) AWE_REQ_##name,
    AWE_REQUESTS(AWE_ENUM)
#undef AWE_ENUM
    AWE_REQ_COUNT
};

/* Requests that may carry a variable part after their fixed fields; others must be exact. */
#define AWE_VARARG_REQUESTS ((1u << AWE_REQ_free_pages) | (1u << AWE_REQ_adjust_privileges))

#define AWE_FIELD(type, name) type name;
#define AWE_STRUCTS(name) \
    struct name##_request { struct awe_request_header header; AWE_REQ_##name(AWE_FIELD) }; \
    struct name##_reply { struct awe_reply_header header; AWE_REPLY_##name(AWE_FIELD) };
AWE_REQUESTS(AWE_STRUCTS)
#undef AWE_STRUCTS
#undef AWE_FIELD

AWE_LAYOUT_SIZE( struct awe_request_header, 8 );
AWE_LAYOUT_SIZE( struct awe_reply_header, 8 );

/* Every fixed part is a whole number of 8-byte words, so variable parts stay aligned; and it
 * has no padding the compiler chose: its size is the sum of its fields' sizes.  With every
 * 64-bit field an (8-aligned) awe_u64, that makes each field's offset the sum of the sizes
 * before it on every ABI: a field order that would need padding on x86_64 fails the build of
 * both, instead of giving i386 a different layout. */
#define AWE_FIELD_SIZE(type, name) + sizeof(type)
#define AWE_CHECK_SIZE(name) \
    _Static_assert( sizeof(struct name##_request) % 8 == 0, #name " request size" ); \
    _Static_assert( sizeof(struct name##_reply) % 8 == 0, #name " reply size" ); \
    _Static_assert( sizeof(struct name##_request) == sizeof(struct awe_request_header) \
                    AWE_REQ_##name(AWE_FIELD_SIZE), #name " request: no implicit padding" ); \
    _Static_assert( sizeof(struct name##_reply) == sizeof(struct awe_reply_header) \
                    AWE_REPLY_##name(AWE_FIELD_SIZE), #name " reply: no implicit padding" );
AWE_REQUESTS(AWE_CHECK_SIZE)
#undef AWE_CHECK_SIZE
#undef AWE_FIELD_SIZE

union awe_request_buffer
{
    struct awe_request_header header;
#define AWE_MEMBER(name) struct name##_request name;
    AWE_REQUESTS(AWE_MEMBER)
#undef AWE_MEMBER
};

union awe_reply_buffer
{
    struct awe_reply_header header;
#define AWE_MEMBER(name) struct name##_reply name;
    AWE_REQUESTS(AWE_MEMBER)
#undef AWE_MEMBER
};

/* ---- the frame table ------------------------------------------------------------------------
 *
 * One per process, written by the server, mapped read-only by the client: a header page, then
 * one bit per frame index (set = owned by the process).  Bits are read with single acquire
 * loads.  When frames are taken away (another process freed them), the server clears their
 * bits, bumps notify_seq (release) and wakes the futex on notify_seq; the client's notification
 * thread sleeps on that word, unmaps the frames it no longer owns and sends ack_unmap.  The
 * server never waits for that: the frames stay quarantined (not reused) until the ack comes,
 * and the Free that took them is answered then, or after a timeout.  Nothing here is memory
 * the client can write, so a client cannot stop the notification of any other process. */

struct awe_frame_table
{
    _Atomic uint32_t notify_seq;  /* bumped when frames were taken away (a futex word) */
    uint32_t         pad;
    awe_atomic_u64   owned;       /* frames owned, for status */
    uint32_t         lock_gen;    /* generation of the AWE lock in the sync pool */
    uint32_t         pad2;
    uint8_t          reserved[4096 - 24];
    AWE_ALIGN8 awe_atomic_u64 bits[];  /* owned frames, bit i of word i / 64 */
};

AWE_LAYOUT_OFFSET( struct awe_frame_table, owned, 8 );
AWE_LAYOUT_OFFSET( struct awe_frame_table, lock_gen, 16 );
AWE_LAYOUT_OFFSET( struct awe_frame_table, bits, 4096 );
AWE_LAYOUT_SIZE( struct awe_frame_table, 4096 );

static inline int awe_frame_table_test( const struct awe_frame_table *table, uint32_t index )
{
    /* acquire: pairs with the server's release store, after which the frame's memory is backed */
    return (atomic_load_explicit( &table->bits[index / 64], memory_order_acquire ) >> (index % 64)) & 1;
}

/* The usage page: written by the client, only displayed by the server (--status), never used
 * to decide anything. */
struct awe_usage
{
    awe_atomic_u64 mapped_pages;
    awe_atomic_u64 vmas;
};

AWE_LAYOUT_SIZE( struct awe_usage, 16 );

#endif  /* __AWE_PROTOCOL_H */
