/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Physical pages: allocating, locking, publishing, freeing and quarantining frames. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "awe/futex.h"
#include "server.h"

#define LOCK_STEP            512      /* the locked prefix grows 2 MiB at a time */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static NTSTATUS defer_free( struct process *caller, struct process *target, uint32_t seq,
                            const struct free_pages_reply *reply );

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21 << 26)
#endif

#define HUGE_PAGES_2MB "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static inline char *frame_addr( const struct frame_pool *pool, uint32_t index )
{
    return pool->frames_base + ((size_t)index << AWE_PAGE_SHIFT);
}

/* ---- pools ---------------------------------------------------------------------------------- */

/* Reads one number from a sysfs file; 0 when it cannot. */
static uint64_t read_counter( const char *path )
{
    char buf[32];
    ssize_t len;
    int fd = open( path, O_RDONLY | O_CLOEXEC );

    if (fd < 0) return 0;
    len = read( fd, buf, sizeof(buf) - 1 );
    close( fd );
    if (len <= 0) return 0;
    buf[len] = 0;
    return strtoull( buf, NULL, 10 );
}

/* The host's 2 MiB huge pages: reserved (nr_hugepages) and free. */
void huge_page_counts( uint64_t *total, uint64_t *free_pages )
{
    *total = read_counter( HUGE_PAGES_2MB "nr_hugepages" );
    *free_pages = read_counter( HUGE_PAGES_2MB "free_hugepages" );
}

/* How a new pool of 2 MiB frames is backed, as --large-pages says: huge pages when the host has
 * some reserved (and the mode allows them), else emulated or none. */
uint32_t large_backing( void )
{
    uint64_t total, free_pages;

    switch (options.large_pages)
    {
    case AWE_LARGE_EMULATE: return AWE_BACKING_EMULATED;
    case AWE_LARGE_FAIL:    return AWE_BACKING_NONE;
    }
    huge_page_counts( &total, &free_pages );
    if (total) return AWE_BACKING_HUGETLB;
    return options.large_pages == AWE_LARGE_HUGETLB ? AWE_BACKING_NONE : AWE_BACKING_EMULATED;
}

/* Opens a read-only description of a memfd: a client can map it only PROT_READ. */
static int reopen_read_only( int fd )
{
    char path[64];

    snprintf( path, sizeof(path), "/proc/self/fd/%d", fd );
    return open( path, O_RDONLY | O_CLOEXEC );
}

/* Creates a pool's frames (the tag is the caller's): the memfd, sized once to every frame the
 * layout allows (a sparse file: only populated frames cost memory) and sealed so that nobody,
 * the client included, can ever change its size or its seals again; the server's mapping of
 * all of it; the allocator, in units; and the frame table, which only the server can write.
 * On failure the caller releases the pool. */
NTSTATUS init_pool( struct frame_pool *pool, const char *what, pid_t pid, uint32_t unit,
                    uint32_t backing )
{
    size_t max = awe_pfn_max_frames( &options.layout );
    unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    char name[40];

    pool->unit = unit;
    pool->backing = backing;
    if (backing == AWE_BACKING_HUGETLB) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
    snprintf( name, sizeof(name), "awe-%s:%d", what, (int)pid );
    if ((pool->memfd = memfd_create( name, flags )) < 0 && backing == AWE_BACKING_HUGETLB &&
        options.large_pages == AWE_LARGE_AUTO)
    {
        /* no hugetlbfs after all: emulated, as the default mode falls back */
        pool->backing = AWE_BACKING_EMULATED;
        pool->memfd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING );
    }
    if (pool->memfd < 0 ||
        ftruncate( pool->memfd, (off_t)max << AWE_PAGE_SHIFT ) ||
        fcntl( pool->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL ))
        return STATUS_INSUFFICIENT_RESOURCES;
    pool->frames_base = mmap( NULL, max << AWE_PAGE_SHIFT, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_NORESERVE, pool->memfd, 0 );
    if (pool->frames_base == MAP_FAILED)
    {
        pool->frames_base = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (awe_frames_init( &pool->frames, (uint32_t)(max / unit) )) return STATUS_INSUFFICIENT_RESOURCES;
    pool->frames_ready = 1;

    snprintf( name, sizeof(name), "awe-%s-table:%d", what, (int)pid );
    pool->table_size = sizeof(struct awe_frame_table) + max / 8;
    if ((pool->table_fd = memfd_create( name, MFD_CLOEXEC | MFD_ALLOW_SEALING )) < 0 ||
        ftruncate( pool->table_fd, pool->table_size ))
        return STATUS_INSUFFICIENT_RESOURCES;
    pool->table = mmap( NULL, pool->table_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                        pool->table_fd, 0 );
    if (pool->table == MAP_FAILED)
    {
        pool->table = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* from now on nobody can write the table through any descriptor but our mapping */
    if (fcntl( pool->table_fd, F_ADD_SEALS,
               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL ) ||
        (pool->table_ro_fd = reopen_read_only( pool->table_fd )) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

static uint64_t total_locked_frames;   /* locked by the server for all processes */
/* Frames owned or quarantined by all processes (--limit, get_status); a process's count goes
 * to zero when it disconnects, even while handles keep its object. */
uint64_t pages_held_frames( void )
{
    const struct process *process;
    uint64_t held = 0;

    for (process = process_list; process; process = process->next)
        held += process->pool.owned + process->pool.quarantined + process->section_frames;
    return held;
}

/* What is left under a bound (0: none) of which used is taken. */
static uint64_t left_under( uint64_t bound, uint64_t used )
{
    if (!bound) return UINT64_MAX;
    return bound > used ? bound - used : 0;
}

/* Cuts a request to what is left under one bound; nothing left is that bound's error. */
static NTSTATUS cut_request( uint64_t *want, uint64_t left, NTSTATUS exhausted )
{
    if (!left) return exhausted;
    if (*want > left) *want = left;
    return STATUS_SUCCESS;
}

/* ---- the memory reserve (--reserve) ------------------------------------------------------ *
 * Locked frames cannot be reclaimed: a process that takes all of memory would leave the OOM
 * killer to pick a victim, this server or another client among them.  Allocations stop where
 * MemAvailable would fall below the reserve, as Windows' stop when physical memory runs out.
 * The figure is read from /proc/meminfo at most every MEMINFO_MAX_AGE_MS (a read costs tens of
 * microseconds) and lowered by what the server populates in between; a request larger than
 * what is left reads it again. */
#define MEMINFO_MAX_AGE_MS 50

static uint64_t room_frames;     /* MemAvailable - reserve at the last reading, less populated */
static uint64_t room_read_ms;
static int      room_read;       /* room_frames holds a reading */

/* MemAvailable in frames, or -1 when /proc/meminfo cannot say. */
static int64_t mem_available( void )
{
    char buf[8192];
    const char *line;
    ssize_t len;
    int fd = open( "/proc/meminfo", O_RDONLY | O_CLOEXEC );

    if (fd < 0) return -1;
    len = read( fd, buf, sizeof(buf) - 1 );
    close( fd );
    if (len <= 0) return -1;
    buf[len] = 0;
    if (!(line = strstr( buf, "MemAvailable:" ))) return -1;
    return (int64_t)(strtoull( line + sizeof("MemAvailable:") - 1, NULL, 10 ) >> (AWE_PAGE_SHIFT - 10));
}

/* Frames that can still be populated without taking MemAvailable below the reserve. */
static uint64_t memory_room( uint64_t want )
{
    uint64_t now = monotonic_ms();
    int64_t avail;

    if (!options.reserve_frames) return UINT64_MAX;
    if (!room_read || want > room_frames || now - room_read_ms >= MEMINFO_MAX_AGE_MS)
    {
        if ((avail = mem_available()) < 0) return UINT64_MAX;
        room_frames = (uint64_t)avail > options.reserve_frames ? (uint64_t)avail - options.reserve_frames : 0;
        room_read_ms = now;
        room_read = 1;
    }
    return room_frames;
}

static void memory_used( uint64_t frames )
{
    room_frames = room_frames > frames ? room_frames - frames : 0;
}

/* Extends the pool's locked-on-fault prefix to target frames; returns 1 on success. */
static int lock_frames( struct frame_pool *pool, uint32_t target )
{
    static int no_mlock2;
    char *start = frame_addr( pool, pool->locked_frames );
    size_t len = (size_t)(target - pool->locked_frames) << AWE_PAGE_SHIFT;

    /* MLOCK_ONFAULT locks pages as they are populated; where mlock2 is missing (valgrind
     * does not know it) plain mlock populates the new range at once: at most a LOCK_STEP of
     * frames not handed out yet */
    if (no_mlock2 || syscall( SYS_mlock2, start, len, MLOCK_ONFAULT ))
    {
        if (!no_mlock2 && errno != ENOSYS) return 0;
        no_mlock2 = 1;
        if (mlock( start, len )) return 0;
    }
    total_locked_frames += target - pool->locked_frames;
    pool->locked_frames = target;
    return 1;
}

/* Extends the locked-on-fault prefix of the server's mapping over frames [0, span), a
 * LOCK_STEP at a time.  Returns the number of frames that can be handed out backed by locked
 * memory: span, or less when RLIMIT_MEMLOCK stops the lock.  (The memfd itself has its full
 * size from the start and is mapped whole: nothing here can grow or move.) */
static uint32_t lock_span( struct frame_pool *pool, uint32_t span )
{
    uint32_t max = awe_pfn_max_frames( &options.layout ), target;

    /* huge pages are never swapped: there is nothing to lock */
    if (options.unlocked || pool->backing == AWE_BACKING_HUGETLB) return span;
    if (span > pool->locked_frames)
    {
        /* lock the whole step if we may, else what RLIMIT_MEMLOCK still allows */
        target = (span + LOCK_STEP - 1) / LOCK_STEP * LOCK_STEP;
        if (target > max) target = max;
        if (!lock_frames( pool, target ))
        {
            struct rlimit limit;
            uint64_t room = 0;

            if (!getrlimit( RLIMIT_MEMLOCK, &limit ) && limit.rlim_cur != RLIM_INFINITY &&
                (limit.rlim_cur >> AWE_PAGE_SHIFT) > total_locked_frames)
                room = (limit.rlim_cur >> AWE_PAGE_SHIFT) - total_locked_frames;
            if (room > target - pool->locked_frames) room = target - pool->locked_frames;
            if (room) lock_frames( pool, pool->locked_frames + (uint32_t)room );
        }
    }
    return pool->locked_frames < span ? pool->locked_frames : span;
}

/* Returns frames to the system: their memory goes (and reads as zero when handed out again). */
static void discard_frames( struct frame_pool *pool, uint32_t start, uint32_t count )
{
    fallocate( pool->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
               (off_t)start << AWE_PAGE_SHIFT, (off_t)count << AWE_PAGE_SHIFT );
}

static void set_owned( struct frame_pool *pool, uint32_t start, uint32_t count, int owned )
{
    struct awe_frame_table *table = pool->table;
    uint32_t i = start, end = start + count;

    while (i < end)
    {
        uint32_t word = i / 64, bit = i % 64, n = 64 - bit < end - i ? 64 - bit : end - i;
        uint64_t mask = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << bit;
        uint64_t value = atomic_load_explicit( &table->bits[word], memory_order_relaxed );

        /* release: a client that sees the bit set also sees the frame's memory populated */
        atomic_store_explicit( &table->bits[word], owned ? value | mask : value & ~mask,
                               memory_order_release );
        i += n;
    }
    pool->owned = owned ? pool->owned + count : pool->owned - count;
    atomic_store_explicit( &table->owned, pool->owned, memory_order_relaxed );
}

/* Counts the owned frames from index on, up to count. */
static uint32_t count_owned( const struct frame_pool *pool, uint32_t index, uint32_t count )
{
    uint32_t n = 0;

    while (n < count && awe_frame_table_test( pool->table, index + n )) n++;
    return n;
}

/* The pool a handle of Allocate and Free names (awe-spec.md 2.1 step 6): a process's, through a
 * handle with PROCESS_VM_OPERATION, or an AWE section's, through one with SECTION_MAP_WRITE;
 * *owner is the process charged for it. */
static NTSTATUS get_pool( struct process *caller, uint32_t handle, struct frame_pool **pool,
                          struct process **owner, struct section **section )
{
    NTSTATUS status;
    void *object;

    *section = NULL;
    status = get_handle_object( caller, handle, OBJ_PROCESS, AWE_PROCESS_VM_OPERATION, &object );
    if (status == STATUS_OBJECT_TYPE_MISMATCH &&
        (status = get_handle_object( caller, handle, OBJ_SECTION, AWE_SECTION_MAP_WRITE, &object )) !=
        STATUS_OBJECT_TYPE_MISMATCH)
    {
        if (status) return status;
        *section = object;
        *pool = &(*section)->pool;
        *owner = (*section)->owner;
        return STATUS_SUCCESS;
    }
    if (status) return status;
    *owner = object;
    *pool = &(*owner)->pool;
    return STATUS_SUCCESS;
}

/* Frames a process holds, its own and its sections', for the quota. */
static uint64_t charged_frames( const struct process *process )
{
    return process->pool.owned + process->pool.quarantined + process->section_frames;
}

DECL_HANDLER(allocate_pages)
{
    struct awe_wire_run *runs = (void *)(reply + 1);
    size_t max_runs = (AWE_MAX_MESSAGE - sizeof(*reply)) / sizeof(*runs), nruns, i;
    struct awe_frame_run *frame_runs = (struct awe_frame_run *)runs;
    struct frame_pool *pool;
    struct process *target;
    struct section *section;
    uint64_t want, round, got;
    uint32_t usable, unit;
    NTSTATUS status;

    if ((status = get_pool( caller, req->process, &pool, &target, &section ))) return status;
    if (req->flags & ~(AWE_ALLOC_LARGE | AWE_ALLOC_HUGE)) return STATUS_INVALID_PARAMETER;
    if (!(caller->privilege > 0 && (caller->privilege & AWE_SE_PRIVILEGE_ENABLED)))
        return STATUS_PRIVILEGE_NOT_HELD;
    if (target->fd < 0 || !pool->frames_ready) return STATUS_PROCESS_IS_TERMINATING;
    /* large frames of a process's own are not there (a section's are): what Windows answers
     * on a machine without large pages; nor are a section's when none can be had */
    if (req->flags || pool->backing == AWE_BACKING_NONE) return STATUS_INSUFFICIENT_RESOURCES;
    /* the count is in units; the bounds below are in frames */
    unit = pool->unit;
    want = req->count < UINT64_MAX / unit ? req->count * unit : UINT64_MAX / unit * unit;
    /* the per-process quota (1455), then the limit for all processes and the memory reserve,
     * which stand for the machine's physical memory running out (1450, as RLIMIT_MEMLOCK's end) */
    if ((status = cut_request( &want, left_under( options.quota_frames, charged_frames( target ) ),
                               STATUS_COMMITMENT_LIMIT )) ||
        (status = cut_request( &want, left_under( options.limit_frames,
                                                  options.limit_frames ? pages_held_frames() : 0 ),
                               STATUS_INSUFFICIENT_RESOURCES )) ||
        (status = cut_request( &want, memory_room( want ), STATUS_INSUFFICIENT_RESOURCES )))
        return status;

    /* whole units only: less than one left under the quota is the quota's error */
    if (!(want /= unit))
        return left_under( options.quota_frames, charged_frames( target ) ) < unit
               ? STATUS_COMMITMENT_LIMIT : STATUS_INSUFFICIENT_RESOURCES;

    _Static_assert( sizeof(struct awe_frame_run) == sizeof(struct awe_wire_run), "run layout" );
    round = AWE_ALLOC_ROUND / unit ? AWE_ALLOC_ROUND / unit : 1;
    if (round > want) round = want;
    got = awe_frames_alloc( &pool->frames, round, frame_runs, max_runs, &nruns );
    /* runs of units become runs of frames */
    for (i = 0; i < nruns; i++)
    {
        runs[i].start *= unit;
        runs[i].count *= unit;
    }
    usable = lock_span( pool, awe_frames_span( &pool->frames ) * unit );

    /* keep what can be locked and populated, in whole units; give back the rest */
    for (i = 0; i < nruns; i++)
    {
        uint32_t start = runs[i].start, count = runs[i].count, keep = count;

        if (start >= usable) keep = 0;
        else if (start + count > usable) keep = (usable - start) / unit * unit;
        if (keep && madvise( frame_addr( pool, start ), (size_t)keep << AWE_PAGE_SHIFT,
                             MADV_POPULATE_WRITE ))
            keep = 0;
        if (keep < count)
        {
            awe_frames_release( &pool->frames, (start + keep) / unit, (count - keep) / unit );
            discard_frames( pool, start + keep, count - keep );
            got -= (count - keep) / unit;
            runs[i].count = keep;
        }
    }
    for (i = 0; i < nruns; i++) if (runs[i].count) set_owned( pool, runs[i].start, runs[i].count, 1 );
    if (section) target->section_frames += got * unit;
    memory_used( got * unit );
    if (!got) return STATUS_INSUFFICIENT_RESOURCES;

    /* drop emptied runs from the reply */
    {
        size_t n = 0;
        for (i = 0; i < nruns; i++) if (runs[i].count) runs[n++] = runs[i];
        nruns = n;
    }
    pool->ever_allocated = 1;
    reply->count = got;
    reply->tag = pool->tag;
    reply->unit = unit;
    /* the client asks again when this round was cut by the reply's size or by the round's */
    reply->more = got < want && (nruns == max_runs || got == round);
    *reply_size += nruns * sizeof(*runs);
    return STATUS_SUCCESS;
}

static int queue_quarantine( struct frame_pool *pool, uint32_t start, uint32_t count, uint32_t seq )
{
    if (pool->quarantine_len == pool->quarantine_cap)
    {
        size_t cap = pool->quarantine_cap ? pool->quarantine_cap * 2 : 16;
        struct awe_wire_run *runs = realloc( pool->quarantine, cap * sizeof(*runs) );
        uint32_t *seqs;

        if (!runs) return -ENOMEM;
        pool->quarantine = runs;
        if (!(seqs = realloc( pool->quarantine_seq, cap * sizeof(*seqs) ))) return -ENOMEM;
        pool->quarantine_seq = seqs;
        pool->quarantine_cap = cap;
    }
    pool->quarantine[pool->quarantine_len].start = start;
    pool->quarantine[pool->quarantine_len].count = count;
    pool->quarantine_seq[pool->quarantine_len++] = seq;
    pool->quarantined += count;
    return 0;
}

/* Tells the owner that frames were taken away: the new sequence in its frame table, and a wake
 * of the futex on that word.  Neither can block, and neither touches memory the client writes. */
static void notify_owner( struct process *process, uint32_t seq )
{
    /* release: the cleared bits are visible to a client that reads the new sequence */
    atomic_store_explicit( &process->pool.table->notify_seq, seq, memory_order_release );
    futex_wake( (const uint32_t *)&process->pool.table->notify_seq, INT_MAX, 1 );
}

/* FreeUserPhysicalPages, awe-spec.md section 2.4: entries in array order, stopping at the first
 * that is not an owned frame of the target (or repeats one).  Frames freed through the
 * current-process pseudo-handle are released at once (the library unmapped them first); through
 * any other handle, even one to the caller, they go to quarantine until their owner confirms it
 * unmapped them, so no mapping of a frame survives its reuse. */
DECL_HANDLER(free_pages)
{
    const struct awe_wire_pfn_run *in = (const void *)(req + 1);
    size_t i, nruns = (req_size - sizeof(*req)) / sizeof(*in);
    uint32_t seq, max = awe_pfn_max_frames( &options.layout ), unit;
    struct frame_pool *pool;
    struct process *target;
    struct section *section;
    NTSTATUS status;
    uint64_t freed = 0;
    int queued = 0;

    if ((req_size - sizeof(*req)) % sizeof(*in)) return PROTOCOL_ERROR;
    if ((status = get_pool( caller, req->process, &pool, &target, &section ))) return status;
    if (target->fd < 0 || !pool->frames_ready) return STATUS_PROCESS_IS_TERMINATING;
    if (!pool->ever_allocated) return STATUS_INVALID_PARAMETER_1;

    unit = pool->unit;
    seq = atomic_load_explicit( &target->pool.table->notify_seq, memory_order_relaxed ) + 1;
    status = STATUS_SUCCESS;
    for (i = 0; i < nruns && !status; i++)
    {
        uint64_t done = 0;

        while (done < in[i].count)
        {
            uint32_t tag, index, n;
            uint64_t left = in[i].count - done;

            /* an entry is one unit: its first frame's PFN, owned (its frames all are) */
            if (awe_pfn_decode( &options.layout, in[i].first + done, &tag, &index ) ||
                tag != pool->tag || (index & (unit - 1)) ||
                !(n = unit > 1 ? (uint32_t)awe_frame_table_test( pool->table, index )
                               : count_owned( pool, index, left < max - index ? (uint32_t)left : max - index )))
            {
                status = STATUS_CONFLICTING_ADDRESSES;
                break;
            }
            set_owned( pool, index, n * unit, 0 );
            /* frames of a section are its owner's to map, and its owner is the caller (the
             * only process with handles to it): unmapped already, like frames freed through
             * the current-process pseudo-handle */
            if (section || req->process == AWE_CURRENT_PROCESS)
            {
                awe_frames_release( &pool->frames, index / unit, n );
                discard_frames( pool, index, n * unit );
                if (section) target->section_frames -= (uint64_t)n * unit;
            }
            else if (queue_quarantine( pool, index, n, seq ))
            {
                set_owned( pool, index, n, 1 );
                status = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            else queued = 1;
            done += n;
            freed += n;
        }
    }
    reply->freed = freed;
    if (!queued) return status;
    notify_owner( target, seq );
    if (target == caller)
    {
        /* a real handle to itself: the caller unmaps and acknowledges before returning */
        reply->quarantined = 1;
        return status;
    }
    reply->header.status = status;
    return defer_free( caller, target, seq, reply ) == STATUS_PENDING ? STATUS_PENDING : status;
}

/* ---- acknowledgements and the Free replies that wait for them --------------------------------- */

#define ACK_TIMEOUT_MS 2000   /* an owner that does not answer (stopped?) no longer holds Free up */

/* A FreeUserPhysicalPages through another process's handle, answered once that process
 * acknowledged the unmap (or died, or let ACK_TIMEOUT_MS pass: its frames stay quarantined). */
struct pending_free
{
    struct pending_free    *next;
    struct process         *caller;    /* holds a reference */
    struct process         *target;    /* holds a reference */
    uint32_t                seq;       /* notify_seq the target must acknowledge */
    uint64_t                deadline;  /* monotonic ms */
    struct free_pages_reply reply;
};

static struct pending_free *pending_list;

static void answer_pending( struct pending_free **link )
{
    struct pending_free *pending = *link;

    *link = pending->next;
    if (pending->caller->fd >= 0)
    {
        if (options.debug)
            trace_message( AWE_REQ_free_pages, pending->caller->pid, &pending->reply,
                           sizeof(pending->reply), 1 );
        /* as with any reply: a caller that cannot take it (it shut its end, or let its queue
         * fill) loses its connection, which the main loop then sees end and drops */
        if (send_reply( pending->caller->fd, &pending->reply, sizeof(pending->reply), NULL, 0 ))
            shutdown( pending->caller->fd, SHUT_RDWR );
    }
    release_process( pending->caller );
    release_process( pending->target );
    free( pending );
}

/* Returns the frames the owner unmapped up to seq to the system (quarantine is for a
 * process's own frames, whose unit is one frame). */
static void release_quarantine( struct frame_pool *pool, uint32_t seq )
{
    size_t i, kept = 0;

    for (i = 0; i < pool->quarantine_len; i++)
    {
        struct awe_wire_run *run = &pool->quarantine[i];

        if ((int32_t)(seq - pool->quarantine_seq[i]) >= 0)
        {
            awe_frames_release( &pool->frames, run->start, run->count );
            discard_frames( pool, run->start, run->count );
            pool->quarantined -= run->count;
            continue;
        }
        pool->quarantine[kept] = *run;
        pool->quarantine_seq[kept++] = pool->quarantine_seq[i];
    }
    pool->quarantine_len = kept;
}

/* The client unmapped every frame taken from it up to seq.  Its word is clamped to what was
 * announced; believing it only affects its own frames. */
DECL_HANDLER(ack_unmap)
{
    uint32_t now, seq = req->seq;
    struct pending_free **link = &pending_list;

    if (!caller->pool.table) return STATUS_PENDING;
    now = atomic_load_explicit( &caller->pool.table->notify_seq, memory_order_relaxed );
    if ((int32_t)(seq - now) > 0) seq = now;
    release_quarantine( &caller->pool, seq );
    while (*link)
    {
        if ((*link)->target == caller && (int32_t)(seq - (*link)->seq) >= 0) answer_pending( link );
        else link = &(*link)->next;
    }
    return STATUS_PENDING;   /* never answered */
}

/* A process is gone: Frees waiting for it are answered (its frames went with it), and its own
 * waiting Frees are dropped. */
void cancel_pending( struct process *process )
{
    struct pending_free **link = &pending_list;

    while (*link)
    {
        if ((*link)->target == process || (*link)->caller == process) answer_pending( link );
        else link = &(*link)->next;
    }
}

int pending_timeout( void )
{
    struct pending_free *pending;
    uint64_t now = monotonic_ms(), first = UINT64_MAX;

    for (pending = pending_list; pending; pending = pending->next)
        if (pending->deadline < first) first = pending->deadline;
    if (first == UINT64_MAX) return -1;
    return first <= now ? 0 : (int)(first - now);
}

void expire_pending( void )
{
    struct pending_free **link = &pending_list;
    uint64_t now = monotonic_ms();

    while (*link)
    {
        if ((*link)->deadline <= now)
        {
            server_log( "pid %d did not acknowledge an unmap in time; answering pid %d",
                        (int)(*link)->target->pid, (int)(*link)->caller->pid );
            answer_pending( link );
        }
        else link = &(*link)->next;
    }
}

/* Makes the caller's Free wait for the target's acknowledgement; STATUS_PENDING, or
 * STATUS_SUCCESS (answer now) when memory is short. */
static NTSTATUS defer_free( struct process *caller, struct process *target, uint32_t seq,
                            const struct free_pages_reply *reply )
{
    struct pending_free *pending = malloc( sizeof(*pending) );

    if (!pending) return STATUS_SUCCESS;
    pending->caller = caller;
    pending->target = target;
    pending->seq = seq;
    pending->deadline = monotonic_ms() + ACK_TIMEOUT_MS;
    pending->reply = *reply;
    pending->reply.header.size = sizeof(*reply);
    caller->refs++;
    target->refs++;
    pending->next = pending_list;
    pending_list = pending;
    return STATUS_PENDING;
}

/* Everything a pool held goes back to the system, its tag too. */
void release_pool( struct frame_pool *pool )
{
    if (pool->frames_base)
        munmap( pool->frames_base, (size_t)awe_pfn_max_frames( &options.layout ) << AWE_PAGE_SHIFT );
    if (pool->table) munmap( pool->table, pool->table_size );
    if (pool->memfd >= 0) close( pool->memfd );
    if (pool->table_fd >= 0) close( pool->table_fd );
    if (pool->table_ro_fd >= 0) close( pool->table_ro_fd );
    if (pool->frames_ready) awe_frames_destroy( &pool->frames );
    free( pool->quarantine );
    free( pool->quarantine_seq );
    free_tag( pool->tag );
    total_locked_frames -= pool->locked_frames;
    memset( pool, 0, sizeof(*pool) );
    pool->memfd = pool->table_fd = pool->table_ro_fd = -1;
}

/* Everything the process held goes back to the system (its sections went with its handles). */
void release_frames( struct process *process )
{
    release_pool( &process->pool );
    awe_slab_destroy( process->sync_pool );
    process->sync_pool = NULL;
    if (process->usage) munmap( process->usage, AWE_PAGE_SIZE );
    if (process->usage_fd >= 0) close( process->usage_fd );
    process->usage = NULL;
    process->usage_fd = -1;
}
