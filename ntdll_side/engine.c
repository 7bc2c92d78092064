/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AWE engine's entry points (engine.h): physical pages, other processes, windows. */

#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
#include "ntdll_side/engine.h"
#include "ntdll_private.h"

#define PROBE_BATCH 512      /* pages probed per system call */

/* ---- the host ------------------------------------------------------------------------------ */

/* Without a host: handles are the server's own. */
static int32_t server_handle( uintptr_t handle, uint32_t *process, int *close )
{
    *close = 0;
    if (handle == (uintptr_t)-1) *process = AWE_CURRENT_PROCESS;
    else if ((uint64_t)handle >> 32 || !handle) return STATUS_INVALID_HANDLE;
    else *process = (uint32_t)handle;
    return STATUS_SUCCESS;
}

static struct awe_engine_host host = { server_handle, NULL };
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static struct awe_engine_host new_host;

static void install_host( void )
{
    host = new_host;
    if (!host.resolve_process) host.resolve_process = server_handle;
}

void awe_engine_set_host( const struct awe_engine_host *callbacks )
{
    new_host = *callbacks;
    pthread_once( &host_once, install_host );
}

/* Step 6: the process the caller's handle names, checked for PROCESS_VM_OPERATION, or the AWE
 * section, checked for SECTION_MAP_WRITE (against the published handle table first: a
 * failure needs no round trip). */
static NTSTATUS resolve_process( uintptr_t handle, uint32_t *process, int *close )
{
    NTSTATUS status;

    if ((status = host.resolve_process( handle, process, close ))) return status;
    if (*process == AWE_CURRENT_PROCESS) return STATUS_SUCCESS;
    status = awe_check_handle( *process, AWE_OBJECT_PROCESS, PROCESS_VM_OPERATION );
    if (status == STATUS_OBJECT_TYPE_MISMATCH)
    {
        NTSTATUS section = awe_check_handle( *process, AWE_OBJECT_SECTION, AWE_SECTION_MAP_WRITE );
        if (section != STATUS_OBJECT_TYPE_MISMATCH) status = section;
    }
    if (status && *close)
    {
        awe_engine_close( *process );
        *close = 0;
    }
    return status;
}

/* Reads *count as Windows probes it: misaligned or unreadable pointers fail. */
static NTSTATUS read_count( const ULONG_PTR *ptr, ULONG_PTR *count )
{
    if ((uintptr_t)ptr & (sizeof(ULONG_PTR) - 1)) return STATUS_DATATYPE_MISALIGNMENT;
    if (awe_copy_from_user( count, ptr, sizeof(*count) )) return STATUS_ACCESS_VIOLATION;
    return STATUS_SUCCESS;
}

/* ProbeForWrite: every page of [ptr, ptr + len) must be writable; one byte of each page is
 * read and written back, PROBE_BATCH pages per system call. */
static NTSTATUS probe_for_write( void *ptr, size_t len )
{
    struct iovec local[PROBE_BATCH], remote[PROBE_BATCH];
    char bytes[PROBE_BATCH];
    uintptr_t page = (uintptr_t)ptr & ~(AWE_PAGE_SIZE - 1), end = (uintptr_t)ptr + len;
    pid_t pid = getpid();

    if ((uintptr_t)ptr & (sizeof(ULONG_PTR) - 1)) return STATUS_DATATYPE_MISALIGNMENT;
    if (!len) return STATUS_SUCCESS;
    if (end < (uintptr_t)ptr || (uintptr_t)ptr < 0x10000) return STATUS_ACCESS_VIOLATION;
    while (page < end)
    {
        size_t n = 0, i;
        ssize_t done;

        for (; n < PROBE_BATCH && page < end; n++, page += AWE_PAGE_SIZE)
        {
            uintptr_t addr = n || page > (uintptr_t)ptr ? page : (uintptr_t)ptr;
            local[n].iov_base = &bytes[n];
            local[n].iov_len = 1;
            remote[n].iov_base = (void *)addr;
            remote[n].iov_len = 1;
        }
        done = process_vm_readv( pid, local, n, remote, n, 0 );
        if (done != (ssize_t)n) return STATUS_ACCESS_VIOLATION;
        done = process_vm_writev( pid, local, n, remote, n, 0 );
        if (done != (ssize_t)n) return STATUS_ACCESS_VIOLATION;
        for (i = 0; i < n; i++) (void)bytes[i];
    }
    return STATUS_SUCCESS;
}

/* Checks an allocate_pages reply: runs of whole units of frames of a valid tag (ours through
 * the pseudo-handle, the section's through its handle), inside the layout, adding up to the
 * units the reply counts and no more than were asked.  A server never sends anything else;
 * this keeps a broken one from making us write past the caller's array. */
static int valid_runs( const struct awe_wire_run *runs, size_t nruns, uint64_t count,
                       uint64_t asked, uint32_t tag, uint32_t unit, uint32_t want_tag,
                       uint32_t want_unit )
{
    uint64_t max = awe_pfn_max_frames( &awe_client.layout ), total = 0;
    size_t i;

    if (want_tag ? tag != want_tag : !tag || tag > awe_pfn_max_tag( &awe_client.layout )) return 0;
    if (unit != want_unit) return 0;
    for (i = 0; i < nruns; i++)
    {
        if (!runs[i].count || runs[i].start >= max || runs[i].count > max - runs[i].start ||
            (runs[i].start | runs[i].count) & (unit - 1))
            return 0;
        total += runs[i].count;
    }
    return total == count * unit && count <= asked;
}

/* Writes the units of the reply's runs (the PFN of each one's first frame) to the caller's
 * array from position *done on. */
static NTSTATUS store_pfns( ULONG_PTR *array, ULONG_PTR *done, const struct awe_wire_run *runs,
                            size_t nruns, uint32_t tag, uint32_t unit )
{
    ULONG_PTR buf[512];
    size_t i, n = 0;
    uint32_t j;

    for (i = 0; i < nruns; i++)
        for (j = 0; j < runs[i].count; j += unit)
        {
            buf[n++] = (ULONG_PTR)awe_pfn_encode( &awe_client.layout, tag, runs[i].start + j );
            if (n == 512 || (i + 1 == nruns && j + unit == runs[i].count))
            {
                if (awe_copy_to_user( array + *done, buf, n * sizeof(*buf) )) return STATUS_ACCESS_VIOLATION;
                *done += n;
                n = 0;
            }
        }
    return STATUS_SUCCESS;
}

/* AllocateUserPhysicalPages, awe-spec.md section 2.1: the caller's pointers are probed here,
 * in Windows' order; the handle, the privilege and the charges are the server's. */
/* Allocate with the given AWE_ALLOC_* flags. */
static NTSTATUS allocate( uintptr_t process, uintptr_t *count_ptr, uintptr_t *array, uint32_t flags )
{
    static struct awe_wire_run runs[(AWE_MAX_MESSAGE - sizeof(struct allocate_pages_reply)) /
                                    sizeof(struct awe_wire_run)];
    static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
    ULONG_PTR count, done = 0;
    NTSTATUS status;
    uint32_t handle, want_tag = 0, want_unit = 1;
    int close;

    if ((status = read_count( count_ptr, &count ))) return status;
    if (!count) return STATUS_SUCCESS;
    if (count > UINTPTR_MAX / sizeof(ULONG_PTR)) return STATUS_INVALID_PARAMETER_2;
    if ((status = probe_for_write( array, count * sizeof(ULONG_PTR) ))) return status;
    if ((status = awe_client_attach())) return status;
    if ((status = resolve_process( process, &handle, &close ))) return status;
    /* no AWE lock: nothing here touches the map state, and a thread holding it while it
     * waits for the connection (another thread's Free may hold that for seconds) would keep
     * the notification thread from unmapping what other processes free */
    if (host.sync_privilege && (status = host.sync_privilege()))
    {
        if (close) awe_engine_close( handle );
        return status;
    }
    /* what the reply must hold: our frames, or a section's units */
    if (handle == AWE_CURRENT_PROCESS) want_tag = awe_client.tag;
    else if (!awe_client_lock())
    {
        struct awe_pool *pool = awe_section_pool( handle );

        if (pool)
        {
            want_tag = pool->tag;
            want_unit = pool->unit;
        }
        awe_client_unlock();
    }

    pthread_mutex_lock( &runs_lock );
    while (done < count)
    {
        uint32_t more = 0, tag = 0, unit = 1;
        NTSTATUS call_status;
        size_t nruns = 0;

        SERVER_START_REQ( allocate_pages )
        {
            req->process = handle;
            req->flags = flags;
            req->count = count - done;
            server_set_reply( runs, sizeof(runs) );
            if (!(call_status = server_call( req )))
            {
                nruns = server_reply_data_size() / sizeof(runs[0]);
                more = reply->more;
                tag = reply->tag;
                unit = reply->unit;
                if (server_reply_data_size() % sizeof(runs[0]) ||
                    !valid_runs( runs, nruns, reply->count, count - done, tag, unit, want_tag,
                                 want_unit ))
                    call_status = STATUS_INTERNAL_ERROR;
            }
        }
        SERVER_END_REQ;
        /* a later round that finds nothing ends a partial allocation, not the call */
        if (call_status)
        {
            if (!done) status = call_status;
            break;
        }
        if ((status = store_pfns( array, &done, runs, nruns, tag, unit ))) break;
        if (!more || !nruns) break;   /* a round without frames ends it (a broken server) */
    }
    pthread_mutex_unlock( &runs_lock );
    if (close) awe_engine_close( handle );
    if (!status && awe_copy_to_user( count_ptr, &done, sizeof(done) )) status = STATUS_ACCESS_VIOLATION;
    return status;
}

/* MEM_EXTENDED_PARAMETER, as Windows lays it out. */
struct ext_param
{
    uint64_t type;               /* MemExtendedParameter* in bits 0-7, the rest reserved */
    uint64_t value;
};

#define EXT_PARAM_NUMA_NODE       2
#define EXT_PARAM_ATTRIBUTE_FLAGS 5
#define EXT_ZERO_PAGES_OPTIONAL   0x04
#define EXT_NONPAGED_LARGE        0x08
#define EXT_NONPAGED_HUGE         0x10
#define EXT_MAX_PARAMS            16      /* more than every type once: surely a bad count */

/* Step 1 of awe-spec.md 2.1: the parameters captured and checked.  Returns STATUS_SUCCESS with
 * the attribute flags in *flags, or the failure. */
static NTSTATUS check_ext_params( const void *params, uint32_t nparams, uint64_t *flags )
{
    struct ext_param copy[EXT_MAX_PARAMS];
    unsigned int seen = 0, i;

    *flags = 0;
    if (!nparams) return STATUS_SUCCESS;
    if (nparams > EXT_MAX_PARAMS) return STATUS_INVALID_PARAMETER;
    if ((uintptr_t)params & 7) return STATUS_DATATYPE_MISALIGNMENT;
    if (awe_copy_from_user( copy, params, nparams * sizeof(copy[0]) )) return STATUS_ACCESS_VIOLATION;
    for (i = 0; i < nparams; i++)
    {
        unsigned int type = copy[i].type & 0xff;

        if ((copy[i].type >> 8) || type >= 32 || (seen & (1u << type))) return STATUS_INVALID_PARAMETER;
        seen |= 1u << type;
        switch (type)
        {
        case EXT_PARAM_NUMA_NODE:
            /* one node, 0; the high bit asks for it to be mandatory */
            if (copy[i].value & ~((uint64_t)1 << 63)) return STATUS_INVALID_PARAMETER;
            break;
        case EXT_PARAM_ATTRIBUTE_FLAGS:
            if (copy[i].value & ~(uint64_t)(EXT_ZERO_PAGES_OPTIONAL | EXT_NONPAGED_LARGE | EXT_NONPAGED_HUGE) ||
                (copy[i].value & (EXT_NONPAGED_LARGE | EXT_NONPAGED_HUGE)) == (EXT_NONPAGED_LARGE | EXT_NONPAGED_HUGE))
                return STATUS_INVALID_PARAMETER;
            *flags = copy[i].value;
            break;
        default:
            return STATUS_INVALID_PARAMETER;
        }
    }
    return STATUS_SUCCESS;
}

int32_t awe_engine_allocate_ex( uintptr_t process, uintptr_t *count, uintptr_t *pfns,
                                const void *params, uint32_t nparams )
{
    NTSTATUS status;
    uint64_t flags;

    if ((status = check_ext_params( params, nparams, &flags ))) return status;
    return allocate( process, count, pfns, (flags & EXT_NONPAGED_LARGE ? AWE_ALLOC_LARGE : 0) |
                                           (flags & EXT_NONPAGED_HUGE ? AWE_ALLOC_HUGE : 0) );
}

int32_t awe_engine_allocate( uintptr_t process, uintptr_t *count, uintptr_t *pfns )
{
    return allocate( process, count, pfns, 0 );
}

static int order_positions( const void *a, const void *b )
{
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* How many entries from the start the server will free (awe-spec.md 2.4 step 8): allocated
 * units of ours, or of the section's pool, none repeated. */
static size_t predict_free( const ULONG_PTR *pfns, size_t count, const struct awe_pool *pool )
{
    uint64_t (*seen)[2];
    size_t n, i, end;
    uint32_t tag, index;

    for (n = 0; n < count; n++)
    {
        if (awe_pfn_decode( &awe_client.layout, pfns[n], &tag, &index )) break;
        if (pool ? tag != pool->tag || (index & (pool->unit - 1)) ||
                   !pool->frame_owned( pool->owner_ctx, index )
                 : tag != awe_client.tag || !awe_client.frame_owned( NULL, index ))
            break;
    }
    if (n < 2 || !(seen = malloc( n * sizeof(*seen) ))) return n;
    for (i = 0; i < n; i++)
    {
        seen[i][0] = pfns[i];
        seen[i][1] = i;
    }
    qsort( seen, n, sizeof(*seen), order_positions );
    for (i = 1, end = n; i < n; i++)
        if (seen[i][0] == seen[i - 1][0] && seen[i][1] < end) end = seen[i][1];
    free( seen );
    return end;
}

/* Unmaps whichever of the frames the process freed is mapped again (a Map that raced the
 * Free); lock held. */
static void unmap_freed( const ULONG_PTR *pfns, size_t count )
{
    struct awe_plan plan;
    ULONG_PTR *lost;
    size_t i, n = 0;
    uint32_t tag, index;

    if (!(lost = malloc( count * sizeof(*lost) ))) return;
    for (i = 0; i < count; i++)
        if (!awe_pfn_decode( &awe_client.layout, pfns[i], &tag, &index ) && tag == awe_client.tag &&
            awe_regions_frame_va( &awe_client.regions, index ) && !awe_client.frame_owned( NULL, index ))
            lost[n++] = pfns[i];
    if (n) awe_carry_out( awe_plan_unmap_frames( &awe_client.regions, lost, n, &plan ), &plan );
    free( lost );
}

/* Unmaps whatever maps the pool's units pfns[0 .. count); lock held. */
static void unmap_pool_frames( struct awe_pool *pool, const ULONG_PTR *pfns, size_t count )
{
    struct awe_plan plan;

    if (count)
        awe_carry_out( awe_plan_unmap_pool_frames( &awe_client.regions, pool, pfns, count, &plan ), &plan );
}

/* Sends pfns[0 .. count) as runs of consecutive values, in as many requests as they need. */
static NTSTATUS send_free( uint32_t handle, const ULONG_PTR *pfns, size_t count, ULONG_PTR *freed,
                           int *quarantined )
{
    /* each call its own buffer: Frees of several threads run at once (only the connection
     * serializes them, one request at a time) */
    const size_t max_runs = (AWE_MAX_MESSAGE - sizeof(struct free_pages_request)) /
                            sizeof(struct awe_wire_pfn_run);
    struct awe_wire_pfn_run *runs = malloc( max_runs * sizeof(*runs) );
    NTSTATUS status = STATUS_SUCCESS;
    size_t i = 0;

    *freed = 0;
    if (!runs) return STATUS_INSUFFICIENT_RESOURCES;
    while (i < count && !status)
    {
        size_t nruns = 0, entries = 0;

        while (i < count && nruns < max_runs)
        {
            size_t n = 1;
            while (i + n < count && pfns[i + n] == pfns[i] + n) n++;
            runs[nruns].first = pfns[i];
            runs[nruns++].count = n;
            entries += n;
            i += n;
        }
        SERVER_START_REQ( free_pages )
        {
            req->process = handle;
            server_add_data( runs, nruns * sizeof(runs[0]) );
            status = server_call( req );
            /* never more than this request named: a broken server cannot make us report more */
            *freed += reply->freed < entries ? reply->freed : entries;
            *quarantined |= reply->quarantined;
        }
        SERVER_END_REQ;
    }
    free( runs );
    return status;
}

/* FreeUserPhysicalPages, awe-spec.md section 2.4. */
int32_t awe_engine_free( uintptr_t process, uintptr_t *count_ptr, uintptr_t *array )
{
    ULONG_PTR count, freed = 0, zero = 0;
    ULONG_PTR inline_pfns[64], *pfns = inline_pfns;
    int quarantined = 0, close = 0;
    struct awe_pool *pool;
    NTSTATUS status;
    uint32_t handle;

    if ((status = read_count( count_ptr, &count ))) return status;
    if (awe_copy_to_user( count_ptr, &zero, sizeof(zero) )) return STATUS_ACCESS_VIOLATION;
    if (!count || count > UINTPTR_MAX / sizeof(ULONG_PTR)) return STATUS_INVALID_PARAMETER_2;
    if ((uintptr_t)array & (sizeof(ULONG_PTR) - 1)) return STATUS_DATATYPE_MISALIGNMENT;
    if (count > 64 && !(pfns = malloc( count * sizeof(*pfns) ))) return STATUS_INSUFFICIENT_RESOURCES;
    if (awe_copy_from_user( pfns, array, count * sizeof(*pfns) ))
    {
        status = STATUS_ACCESS_VIOLATION;
        goto out_free;
    }
    if ((status = awe_client_attach()) || (status = resolve_process( process, &handle, &close )))
        goto out_free;
    if ((status = awe_client_lock())) goto out_close;
    if (atomic_load( &awe_client.server_lost ))
    {
        /* nobody can free them: keep them mapped */
        status = STATUS_PIPE_BROKEN;
        awe_client_unlock();
    }
    else if (handle == AWE_CURRENT_PROCESS)
    {
        /* our own frames: unmap what the server will free before it can reuse them.  The
         * request goes without the AWE lock (see allocate); a Map of these frames by another
         * thread meanwhile is undone once they are freed, and until then harms only us */
        struct awe_plan plan;
        size_t n = predict_free( pfns, count, NULL );
        if (n) awe_carry_out( awe_plan_unmap_frames( &awe_client.regions, pfns, n, &plan ), &plan );
        awe_client_unlock();
        status = send_free( handle, pfns, count, &freed, &quarantined );
        if (freed && !awe_client_lock())
        {
            unmap_freed( pfns, freed );
            awe_client_unlock();
        }
    }
    else if ((pool = awe_section_pool( handle )))
    {
        /* a section's units, mapped (any number of times) only in our regions bound to it:
         * unmapped before the server discards them, and again after the reply in case a Map
         * raced the Free; like our own frames, the request goes without the lock */
        size_t n = predict_free( pfns, count, pool );
        unmap_pool_frames( pool, pfns, n );
        awe_client_unlock();
        status = send_free( handle, pfns, count, &freed, &quarantined );
        if (freed && !awe_client_lock())
        {
            if ((pool = awe_section_pool( handle ))) unmap_pool_frames( pool, pfns, freed );
            awe_client_unlock();
        }
    }
    else
    {
        /* The reply waits until the owner unmapped the frames, and the owner's notification
         * thread needs its AWE lock for that: never hold ours while waiting, or two processes
         * freeing each other's frames would wait for each other. */
        awe_client_unlock();
        status = send_free( handle, pfns, count, &freed, &quarantined );
        /* frames quarantined from ourselves (a real handle to us): unmap them before returning */
        if (quarantined && !awe_client_lock())
        {
            awe_client_sync_unmaps();
            awe_client_unlock();
        }
    }
    awe_copy_to_user( count_ptr, &freed, sizeof(freed) );

out_close:
    if (close) awe_engine_close( handle );
out_free:
    if (pfns != inline_pfns) free( pfns );
    return status;
}

/* MapUserPhysicalPages, awe-spec.md section 2.2: entirely in this process. */
int32_t awe_engine_map( void *addr, uintptr_t count, uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status;

    if ((status = awe_client_lock())) return status;
    status = awe_carry_out( awe_plan_map( &awe_client.regions, (uintptr_t)addr, count, pfns,
                                          awe_copy_in_pfns, NULL, &plan ), &plan );
    awe_client_unlock();
    return status;
}

/* MapUserPhysicalPagesScatter, awe-spec.md section 2.3. */
int32_t awe_engine_map_scatter( void **addrs, uintptr_t count, uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status;

    if ((status = awe_client_lock())) return status;
    status = awe_carry_out( awe_plan_scatter( &awe_client.regions, addrs, count, pfns, awe_copy_in_pfns,
                                              NULL, &plan ), &plan );
    awe_client_unlock();
    return status;
}

/* ---- other processes and the privilege ---------------------------------------------------- */

int32_t awe_engine_open_process( uint32_t pid, uint32_t access, uint32_t *handle )
{
    NTSTATUS status;

    if ((status = awe_client_attach())) return status;
    SERVER_START_REQ( open_process )
    {
        req->pid = pid;
        req->access = access;
        if (!(status = server_call( req ))) *handle = reply->handle;
    }
    SERVER_END_REQ;
    return status;
}

int32_t awe_engine_close( uint32_t handle )
{
    NTSTATUS status;

    if ((status = awe_client_attach())) return status;
    SERVER_START_REQ( close_handle )
    {
        req->handle = handle;
        status = server_call( req );
    }
    SERVER_END_REQ;
    /* the engine's own state of a section goes with the last of its handles and windows */
    if (!status) awe_section_handle_closed( handle );
    return status;
}

/* Enables (or disables) the privilege in the server's token of this process: open_token, then
 * adjust_privileges.  Asked of the server only when the state it holds differs. */
int32_t awe_engine_set_lock_privilege( int enabled )
{
    static _Atomic int known = -1;   /* the state the server holds, -1 unknown */
    struct awe_wire_privilege privilege = { AWE_SE_LOCK_MEMORY_PRIVILEGE,
                                            enabled ? AWE_SE_PRIVILEGE_ENABLED : 0 }, previous;
    uint32_t token = 0;
    NTSTATUS status;

    enabled = !!enabled;
    if ((status = awe_client_attach())) return status;
    if (atomic_load( &known ) == enabled) return STATUS_SUCCESS;
    SERVER_START_REQ( open_token )
    {
        req->process = AWE_CURRENT_PROCESS;
        req->access = AWE_TOKEN_ADJUST_PRIVILEGES;
        if (!(status = server_call( req ))) token = reply->handle;
    }
    SERVER_END_REQ;
    if (status) return status;
    SERVER_START_REQ( adjust_privileges )
    {
        req->token = token;
        server_add_data( &privilege, sizeof(privilege) );
        server_set_reply( &previous, sizeof(previous) );
        if (!(status = server_call( req )) && reply->not_all_assigned) status = STATUS_NOT_ALL_ASSIGNED;
    }
    SERVER_END_REQ;
    awe_engine_close( token );
    if (!status) atomic_store( &known, enabled );
    return status;
}

/* ---- AWE windows -------------------------------------------------------------------------- */

int32_t awe_engine_check_reserve( uint32_t type, uint32_t protect )
{
    if ((type & MEM_64K_PAGES) == MEM_64K_PAGES) return STATUS_INVALID_PARAMETER_5;      /* V08 */
    if (!(type & MEM_RESERVE)) return STATUS_INVALID_PARAMETER_5;                        /* V02 */
    if (type & ~(uint32_t)(MEM_RESERVE | MEM_PHYSICAL | MEM_TOP_DOWN))                   /* V03, V07 */
        return STATUS_INVALID_PARAMETER_5;
    /* the first stage takes read-only too; only a view bound to a section may be (V04) */
    if (protect != PAGE_READWRITE && protect != PAGE_READONLY) return STATUS_INVALID_PAGE_PROTECTION;
    return STATUS_SUCCESS;
}

int32_t awe_engine_check_free( const void *base, size_t window_size, const void *addr,
                               size_t size, uint32_t type )
{
    /* a window goes as a whole or not at all: V11, V12, V13 */
    if (type == MEM_DECOMMIT) return STATUS_MEMORY_NOT_ALLOCATED;
    if (addr != base || (size && size != window_size)) return STATUS_FREE_VM_NOT_AT_BASE;
    return STATUS_SUCCESS;
}

void *awe_engine_reserve( void *addr, size_t size, int *err )
{
    return awe_reserve_range( addr, size, err );
}

int32_t awe_engine_add_window_ex( void *base, size_t size, uint32_t section, uint32_t protect )
{
    if (protect != PAGE_READWRITE && (protect != PAGE_READONLY || !section))             /* V04 */
        return STATUS_INVALID_PAGE_PROTECTION;
    if (((uintptr_t)base | size) & (AWE_PAGE_SIZE - 1) || !size) return STATUS_INVALID_PARAMETER;
    if (!section) return awe_engine_add_window( base, size );
    return awe_bind_window( (uintptr_t)base, size, section, protect == PAGE_READONLY );
}

int32_t awe_engine_add_window( void *base, size_t size )
{
    NTSTATUS status;
    int ret;

    if (((uintptr_t)base | size) & (AWE_PAGE_SIZE - 1) || !size) return STATUS_INVALID_PARAMETER;
    if ((status = awe_client_lock())) return status;
    ret = awe_regions_insert( &awe_client.regions, (uintptr_t)base, size >> AWE_PAGE_SHIFT, NULL );
    awe_client_unlock();
    if (ret == -EEXIST) return STATUS_CONFLICTING_ADDRESSES;
    return ret ? STATUS_NO_MEMORY : STATUS_SUCCESS;
}

/* Takes the AWE lock and finds the window that contains va; on success the lock is held. */
static NTSTATUS lock_window( uintptr_t va, struct awe_region **region )
{
    NTSTATUS status;

    if ((status = awe_client_lock())) return status;
    if ((*region = awe_regions_find( &awe_client.regions, va ))) return STATUS_SUCCESS;
    awe_client_unlock();
    return STATUS_MEMORY_NOT_ALLOCATED;
}

int32_t awe_engine_remove_window( void *base )
{
    struct awe_region *region;
    struct awe_pool *pool;
    struct awe_plan plan;
    uint32_t binding = 0;
    NTSTATUS status;

    if ((status = lock_window( (uintptr_t)base, &region ))) return status;
    pool = region->pool;
    if (region->base != (uintptr_t)base) status = STATUS_MEMORY_NOT_ALLOCATED;
    /* unmap what is mapped (a NULL array, in the region's units), so the range holds no frame
     * whatever the host does with it next, then forget the window */
    else if (!(status = awe_plan_map( &awe_client.regions, region->base,
                                      region->pages / (pool ? pool->unit : 1), NULL,
                                      awe_copy_in_pfns, NULL, &plan )) &&
             !(status = awe_apply_plan( &awe_client.regions, awe_client.memfd, &plan )))
    {
        binding = region->binding;
        awe_regions_remove( &awe_client.regions, region );
        if (pool) awe_section_put( pool );
        awe_client_publish_usage();
    }
    awe_client_unlock();
    /* the section's frames live on while any other handle or window holds it */
    if (binding) awe_engine_close( binding );
    return status;
}

static uint32_t protect_from_awe( enum awe_prot prot )
{
    switch (prot)
    {
    case AWE_PROT_NOACCESS: return PAGE_NOACCESS;
    case AWE_PROT_READONLY: return PAGE_READONLY;
    default:                return PAGE_READWRITE;
    }
}

int32_t awe_engine_query_window( const void *va, int *mapped, uint32_t *protect, size_t *run_size )
{
    uintptr_t addr = (uintptr_t)va & ~(uintptr_t)(AWE_PAGE_SIZE - 1);
    struct awe_region *region;
    enum awe_prot prot;
    NTSTATUS status;
    uint32_t pfn;
    size_t run;

    if ((status = lock_window( addr, &region ))) return status;
    run = awe_region_query( region, (addr - region->base) >> AWE_PAGE_SHIFT, &pfn, &prot );
    awe_client_unlock();
    *run_size = run << AWE_PAGE_SHIFT;
    *mapped = pfn != 0;
    *protect = pfn ? protect_from_awe( prot ) : 0;
    return STATUS_SUCCESS;
}

int32_t awe_engine_protect_window( void *va, size_t size, uint32_t protect, uint32_t *old )
{
    uintptr_t start = (uintptr_t)va & ~(uintptr_t)(AWE_PAGE_SIZE - 1);
    size_t pages = ((uintptr_t)va + size - start + AWE_PAGE_SIZE - 1) >> AWE_PAGE_SHIFT;
    struct awe_region *region;
    enum awe_prot prot, old_prot;
    struct awe_plan plan;
    NTSTATUS status;

    switch (protect)
    {
    case PAGE_NOACCESS:  prot = AWE_PROT_NOACCESS; break;
    case PAGE_READONLY:  prot = AWE_PROT_READONLY; break;
    case PAGE_READWRITE: prot = AWE_PROT_READWRITE; break;
    default:             return STATUS_CONFLICTING_ADDRESSES;
    }
    if ((status = lock_window( start, &region ))) return status;
    /* a protection change splits or merges VMAs: the usage page follows */
    status = awe_carry_out( awe_plan_protect( &awe_client.regions, region, start, pages, prot, &old_prot,
                                              &plan ), &plan );
    if (!status) *old = protect_from_awe( old_prot );
    awe_client_unlock();
    return status;
}
