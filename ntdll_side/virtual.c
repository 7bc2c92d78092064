/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Virtual memory: VirtualAlloc, VirtualFree, VirtualQuery, VirtualProtect, VirtualLock and their
 * Nt functions, for ordinary memory and for MEM_PHYSICAL (AWE) regions.
 *
 * Every allocation is a "view" in a client-private table: its base, size, allocation protection
 * and, for ordinary memory, one state byte per page (committed, protection).  A MEM_PHYSICAL
 * view keeps no page state of its own: the AWE region table (awe_client.regions) says what is
 * mapped where and with which protection.  The views mutex is taken before the AWE lock, and
 * ordinary memory never takes the AWE lock (nor attaches to the server).
 *
 * Memory not allocated through these functions (stacks, heap, libraries) is described from
 * /proc/self/maps, can be protected and locked, and is never freed here. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__i386__) || defined(__x86_64__)
#include <cpuid.h>
#endif
#include "ntdll_side/engine.h"
#include "ntdll_private.h"

#define PAGE_MASK       (AWE_PAGE_SIZE - 1)
#define GRANULARITY     ((uintptr_t)0x10000)    /* allocation granularity: 64 KiB */
#define LOWEST_ADDRESS  ((uintptr_t)0x10000)
/* The top of Linux's user address space, not Windows' (0x7ffffffeffff on x64): the main stack
 * can sit in the last 64 KiB below Linux's limit, and everything mapped must be describable. */
#if defined(__aarch64__)
#define HIGHEST_ADDRESS ((uintptr_t)0xffffffffffff)
#elif UINTPTR_MAX > 0xffffffffu
#define HIGHEST_ADDRESS ((uintptr_t)0x7fffffffefff)
#else
#define HIGHEST_ADDRESS ((uintptr_t)0xfffeffff)
#endif

#define MAP_PROCESS     1                       /* NtLockVirtualMemory: lock in the working set */
#define MAP_SYSTEM      2                       /* NtLockVirtualMemory: lock in physical memory */

/* State byte of a page of an ordinary view.  Uncommitted pages are always 0, so that runs of
 * equal state are runs of equal bytes. */
#define VPROT_BASE         0x07                 /* log2 of the PAGE_* base protection */
#define VPROT_GUARD        0x08
#define VPROT_NOCACHE      0x10
#define VPROT_WRITECOMBINE 0x20
#define VPROT_COMMITTED    0x40

#define VIEW_PHYSICAL      0x01                 /* a MEM_PHYSICAL (AWE) region */

/* One allocation; every field is protected by views.lock. */
struct view
{
    struct awe_tree_node node;          /* in views.tree, ordered by base */
    uintptr_t            base;          /* allocation base */
    size_t               size;          /* bytes, a page multiple */
    unsigned int         flags;         /* VIEW_* */
    DWORD                alloc_prot;    /* protection given when it was reserved */
    uint32_t             section;       /* VIEW_PHYSICAL: the AWE section it is bound to, or 0 */
    uint8_t             *vprot;         /* VPROT_* of each page; NULL for VIEW_PHYSICAL */
};

static struct
{
    pthread_mutex_t lock;               /* protects the tree and every view; before the AWE lock */
    struct awe_tree tree;               /* struct view, ordered by base */
} views = { PTHREAD_MUTEX_INITIALIZER, { NULL, 0 } };

static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;

#define VIEW(n) AWE_TREE_ENTRY( n, struct view, node )

static inline uintptr_t view_end( const struct view *view )
{
    return view->base + view->size;
}

static inline uintptr_t round_up_page( uintptr_t addr )
{
    return (addr + PAGE_MASK) & ~PAGE_MASK;
}

static int order_views( const struct awe_tree_node *a, const struct awe_tree_node *b )
{
    return VIEW(a)->base < VIEW(b)->base ? -1 : VIEW(a)->base > VIEW(b)->base;
}

static int compare_view_base( const void *key, const struct awe_tree_node *node )
{
    uintptr_t addr = *(const uintptr_t *)key;
    return addr < VIEW(node)->base ? -1 : addr > VIEW(node)->base;
}

/* Returns the view containing addr, or NULL. */
static struct view *find_view( uintptr_t addr )
{
    struct awe_tree_node *node = awe_tree_floor( &views.tree, &addr, compare_view_base );
    return node && addr < view_end( VIEW(node) ) ? VIEW(node) : NULL;
}

/* Returns the first view starting after addr, or NULL. */
static struct view *next_view( uintptr_t addr )
{
    struct awe_tree_node *node;

    if (addr == UINTPTR_MAX) return NULL;
    addr++;
    node = awe_tree_ceil( &views.tree, &addr, compare_view_base );
    return node ? VIEW(node) : NULL;
}

static void free_view( struct view *view )
{
    free( view->vprot );
    free( view );
}

/* ---- protections ------------------------------------------------------------------------- */

/* Converts a Windows page protection to a committed page's state byte: exactly one base
 * protection, and GUARD, NOCACHE or WRITECOMBINE alone and never with NOACCESS. */
static NTSTATUS vprot_from_protect( DWORD protect, uint8_t *vprot )
{
    DWORD base = protect & 0xff, mods = protect & ~(DWORD)0xff;

    if (!base || (base & (base - 1))) return STATUS_INVALID_PAGE_PROTECTION;
    if (mods & ~(DWORD)(PAGE_GUARD | PAGE_NOCACHE | PAGE_WRITECOMBINE) || (mods & (mods - 1)))
        return STATUS_INVALID_PAGE_PROTECTION;
    if (mods && base == PAGE_NOACCESS) return STATUS_INVALID_PAGE_PROTECTION;
    *vprot = (uint8_t)(VPROT_COMMITTED | __builtin_ctz( base ) |
                       (mods == PAGE_GUARD ? VPROT_GUARD : 0) |
                       (mods == PAGE_NOCACHE ? VPROT_NOCACHE : 0) |
                       (mods == PAGE_WRITECOMBINE ? VPROT_WRITECOMBINE : 0));
    return STATUS_SUCCESS;
}

/* Private memory cannot be copy-on-write. */
static int is_writecopy( uint8_t vprot )
{
    DWORD base = 1u << (vprot & VPROT_BASE);
    return base == PAGE_WRITECOPY || base == PAGE_EXECUTE_WRITECOPY;
}

/* The Windows protection of a committed page. */
static DWORD protect_from_vprot( uint8_t vprot )
{
    return (1u << (vprot & VPROT_BASE)) | (vprot & VPROT_GUARD ? PAGE_GUARD : 0) |
           (vprot & VPROT_NOCACHE ? PAGE_NOCACHE : 0) |
           (vprot & VPROT_WRITECOMBINE ? PAGE_WRITECOMBINE : 0);
}

/* The kernel protection of a page.  A guard page is inaccessible: its one-shot
 * STATUS_GUARD_PAGE_VIOLATION is not emulated, a touch is an access violation. */
static int unix_prot( uint8_t vprot )
{
    if (!(vprot & VPROT_COMMITTED) || (vprot & VPROT_GUARD)) return PROT_NONE;
    switch (1u << (vprot & VPROT_BASE))
    {
    case PAGE_READONLY:          return PROT_READ;
    case PAGE_READWRITE:
    case PAGE_WRITECOPY:         return PROT_READ | PROT_WRITE;
    case PAGE_EXECUTE:           return PROT_EXEC;
    case PAGE_EXECUTE_READ:      return PROT_READ | PROT_EXEC;
    case PAGE_EXECUTE_READWRITE:
    case PAGE_EXECUTE_WRITECOPY: return PROT_READ | PROT_WRITE | PROT_EXEC;
    default:                     return PROT_NONE;
    }
}

/* The Windows protection that describes a kernel protection. */
static DWORD protect_from_unix( int prot )
{
    if (prot & PROT_EXEC)
        return prot & PROT_WRITE ? PAGE_EXECUTE_READWRITE : prot & PROT_READ ? PAGE_EXECUTE_READ
                                                                            : PAGE_EXECUTE;
    if (prot & PROT_WRITE) return PAGE_READWRITE;
    return prot & PROT_READ ? PAGE_READONLY : PAGE_NOACCESS;
}

static NTSTATUS status_from_errno( int err )
{
    switch (-err)
    {
    case EEXIST: return STATUS_CONFLICTING_ADDRESSES;
    case EACCES:
    case EPERM:  return STATUS_ACCESS_DENIED;
    default:     return STATUS_NO_MEMORY;
    }
}

/* ---- the host's mappings (/proc/self/maps) ------------------------------------------------- */

struct host_vma
{
    uintptr_t start;
    uintptr_t end;
    int       prot;         /* PROT_READ | PROT_WRITE | PROT_EXEC */
    int       shared;       /* MAP_SHARED */
    int       file;         /* backed by a file */
};

/* Called for each mapping in address order; a non-zero return stops the walk. */
typedef int (*host_vma_fn)( const struct host_vma *vma, void *ctx );

static int parse_maps_line( const char *line, struct host_vma *vma )
{
    char *p;
    unsigned long inode;

    vma->start = strtoul( line, &p, 16 );
    if (*p != '-') return -1;
    vma->end = strtoul( p + 1, &p, 16 );
    if (*p++ != ' ' || strlen( p ) < 5) return -1;
    vma->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
                (p[2] == 'x' ? PROT_EXEC : 0);
    vma->shared = p[3] == 's';
    p += 4;
    strtoul( p, &p, 16 );                                   /* offset */
    while (*p == ' ') p++;
    while (*p && *p != ' ') p++;                            /* device */
    inode = strtoul( p, &p, 10 );
    vma->file = inode != 0;
    return 0;
}

/* Walks /proc/self/maps; returns the callback's non-zero value, 0 at the end, or -errno. */
static int for_each_host_vma( host_vma_fn fn, void *ctx )
{
    char buf[8192];
    size_t used = 0;
    int fd, ret = 0, skipping = 0;

    if ((fd = open( "/proc/self/maps", O_RDONLY | O_CLOEXEC )) < 0) return -errno;
    for (;;)
    {
        struct host_vma vma;
        char *line = buf, *nl;
        ssize_t n = read( fd, buf + used, sizeof(buf) - 1 - used );

        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ret = -errno;
        if (n <= 0) break;
        used += (size_t)n;
        buf[used] = 0;
        while ((nl = memchr( line, '\n', (size_t)(buf + used - line) )))
        {
            *nl = 0;
            if (!skipping && !parse_maps_line( line, &vma ) && (ret = fn( &vma, ctx ))) goto done;
            skipping = 0;
            line = nl + 1;
        }
        used = (size_t)(buf + used - line);
        if (used == sizeof(buf) - 1)
        {
            /* a line longer than the buffer (a very long path): its start was enough */
            if (!skipping && !parse_maps_line( buf, &vma ) && (ret = fn( &vma, ctx ))) goto done;
            skipping = 1;
            used = 0;
        }
        memmove( buf, line, used );
    }
done:
    close( fd );
    return ret;
}

struct host_lookup
{
    uintptr_t       addr;
    int             found;      /* vma holds the mapping containing addr */
    struct host_vma vma;
    uintptr_t       next;       /* otherwise: where the next mapping starts */
};

static int lookup_host_vma( const struct host_vma *vma, void *ctx )
{
    struct host_lookup *lookup = ctx;

    if (vma->end <= lookup->addr) return 0;
    if (vma->start <= lookup->addr)
    {
        lookup->found = 1;
        lookup->vma = *vma;
    }
    else lookup->next = vma->start;
    return 1;
}

struct host_cover
{
    uintptr_t pos;              /* covered up to here */
    uintptr_t end;
    int       first_prot;       /* protection of the mapping at the start, -1 before it */
};

static int cover_host_range( const struct host_vma *vma, void *ctx )
{
    struct host_cover *cover = ctx;

    if (vma->end <= cover->pos) return 0;
    if (vma->start > cover->pos) return 1;                  /* a hole */
    if (cover->first_prot < 0) cover->first_prot = vma->prot;
    cover->pos = vma->end;
    return cover->pos >= cover->end;
}

/* Checks that [start, end) is all host mappings and no view; returns STATUS_SUCCESS with the
 * first page's kernel protection, or STATUS_CONFLICTING_ADDRESSES. */
static NTSTATUS check_host_range( uintptr_t start, uintptr_t end, int *first_prot )
{
    struct host_cover cover = { start, end, -1 };
    struct view *view = next_view( start );

    if (view && view->base < end) return STATUS_CONFLICTING_ADDRESSES;
    if (for_each_host_vma( cover_host_range, &cover ) < 0 || cover.pos < end)
        return STATUS_CONFLICTING_ADDRESSES;
    *first_prot = cover.first_prot;
    return STATUS_SUCCESS;
}

struct gap_search
{
    size_t    size;
    uintptr_t limit;            /* highest address the allocation may use */
    uintptr_t prev_end;         /* end of the previous mapping */
    uintptr_t best;             /* highest 64 KiB aligned place found so far, 0 if none */
};

static void try_gap( struct gap_search *search, uintptr_t gap_end )
{
    uintptr_t lo = search->prev_end > LOWEST_ADDRESS ? search->prev_end : LOWEST_ADDRESS, base;

    if (gap_end > search->limit + 1) gap_end = search->limit + 1;
    lo = (lo + GRANULARITY - 1) & ~(GRANULARITY - 1);
    if (gap_end < lo || gap_end - lo < search->size) return;
    base = (gap_end - search->size) & ~(GRANULARITY - 1);
    if (base >= lo && base > search->best) search->best = base;
}

static int search_gap( const struct host_vma *vma, void *ctx )
{
    struct gap_search *search = ctx;

    if (vma->start > search->prev_end) try_gap( search, vma->start );
    if (vma->end > search->prev_end) search->prev_end = vma->end;
    return search->prev_end > search->limit;
}

/* ---- reserving address space --------------------------------------------------------------- */

/* Reserves len bytes at addr (NULL: anywhere) as inaccessible, uncharged address space;
 * MEM_PHYSICAL regions go through the mapper's helper.  Returns the address or NULL, -errno in
 * *err (-EEXIST when addr is taken). */
static void *reserve_at( void *addr, size_t len, int physical, int *err )
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (addr ? MAP_FIXED_NOREPLACE : 0);
    void *ptr;

    if (physical) ptr = awe_engine_reserve( addr, len, err );
    else if ((ptr = mmap( addr, len, PROT_NONE, flags, -1, 0 )) == MAP_FAILED)
    {
        *err = -errno;
        ptr = NULL;
    }
    if (ptr && addr && ptr != addr)
    {
        /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
        munmap( ptr, len );
        *err = -EEXIST;
        ptr = NULL;
    }
    return ptr;
}

/* Reserves size bytes at *base, or when *base is 0 at a 64 KiB aligned place of the system's
 * choosing whose last byte is at most limit.  Returns STATUS_SUCCESS,
 * STATUS_CONFLICTING_ADDRESSES when *base is taken, or STATUS_NO_MEMORY. */
static NTSTATUS reserve_area( uintptr_t *base, size_t size, uintptr_t limit, int physical,
                              size_t align )
{
    struct gap_search search;
    uintptr_t ptr, end;
    size_t len;
    int err = 0, tries;

    if (*base)
    {
        if (reserve_at( (void *)*base, size, physical, &err )) return STATUS_SUCCESS;
        return status_from_errno( err );
    }

    if (limit >= HIGHEST_ADDRESS)
    {
        /* let the kernel choose (top down), then trim to the alignment */
        if (size > HIGHEST_ADDRESS - align) return STATUS_NO_MEMORY;
        len = size + align - AWE_PAGE_SIZE;
        if (!(ptr = (uintptr_t)reserve_at( NULL, len, physical, &err ))) return STATUS_NO_MEMORY;
        *base = (ptr + align - 1) & ~(uintptr_t)(align - 1);
        end = *base + size;
        if (*base > ptr) munmap( (void *)ptr, *base - ptr );
        if (ptr + len > end) munmap( (void *)end, ptr + len - end );
        if (end - 1 <= HIGHEST_ADDRESS) return STATUS_SUCCESS;
        munmap( (void *)*base, size );
        return STATUS_NO_MEMORY;
    }

    /* zero bits: the highest free place below the limit, retried if another thread takes it
     * (zero bits come only with the granularity's alignment) */
    if (align != GRANULARITY) return STATUS_INVALID_PARAMETER;
    for (tries = 0; tries < 4; tries++)
    {
        memset( &search, 0, sizeof(search) );
        search.size = size;
        search.limit = limit;
        if (for_each_host_vma( search_gap, &search ) < 0) return STATUS_NO_MEMORY;
        if (search.prev_end <= limit) try_gap( &search, limit + 1 );
        if (!search.best) return STATUS_NO_MEMORY;
        if (reserve_at( (void *)search.best, size, physical, &err ))
        {
            *base = search.best;
            return STATUS_SUCCESS;
        }
        if (err != -EEXIST) break;
    }
    return STATUS_NO_MEMORY;
}

/* ---- page state of ordinary views ------------------------------------------------------------ */

enum page_action
{
    ACT_NONE,
    ACT_FRESH,              /* becomes committed: new zeroed memory */
    ACT_PROTECT,            /* stays committed with another kernel protection */
    ACT_RESERVE,            /* stops being committed: the reservation comes back */
};

static enum page_action page_action( uint8_t from, uint8_t to )
{
    if (to & VPROT_COMMITTED)
    {
        if (!(from & VPROT_COMMITTED)) return ACT_FRESH;
        return unix_prot( from ) == unix_prot( to ) ? ACT_NONE : ACT_PROTECT;
    }
    return from & VPROT_COMMITTED ? ACT_RESERVE : ACT_NONE;
}

static int issue_action( uintptr_t addr, size_t len, enum page_action action, int prot )
{
    void *ret = (void *)addr;

    switch (action)
    {
    case ACT_FRESH:
        ret = mmap( (void *)addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0 );
        break;
    case ACT_RESERVE:
        ret = mmap( (void *)addr, len, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0 );
        break;
    case ACT_PROTECT:
        if (mprotect( (void *)addr, len, prot )) ret = MAP_FAILED;
        break;
    case ACT_NONE:
        break;
    }
    return ret == MAP_FAILED ? -errno : 0;
}

/* Issues the system calls that take pages [first, end) of view from the states in the table to
 * the state `state` (back: from `state` to the table's), one call per run of pages needing the
 * same action.  Returns 0, or -errno with *done the end of the run that failed. */
static int issue_pages( const struct view *view, size_t first, size_t end, uint8_t state, int back,
                        size_t *done )
{
    size_t i, j;

    for (i = first; i < end; i = j)
    {
        uint8_t from = back ? state : view->vprot[i], to = back ? view->vprot[i] : state;
        enum page_action action = page_action( from, to );
        int prot = unix_prot( to ), ret;

        for (j = i + 1; j < end; j++)
        {
            from = back ? state : view->vprot[j];
            to = back ? view->vprot[j] : state;
            if (page_action( from, to ) != action || unix_prot( to ) != prot) break;
        }
        if ((ret = issue_action( view->base + (i << AWE_PAGE_SHIFT), (j - i) << AWE_PAGE_SHIFT,
                                 action, prot )))
        {
            *done = j;
            return ret;
        }
    }
    *done = end;
    return 0;
}

/* Gives pages [first, first + count) of view the state byte `state` (0: not committed), all or
 * nothing: pages that become committed read zero, committed pages keep their contents.  If a
 * system call fails, the pages already changed are put back.  Returns STATUS_SUCCESS or the
 * failure's status. */
static NTSTATUS set_pages( struct view *view, size_t first, size_t count, uint8_t state )
{
    size_t done, undone;
    int ret;

    if (!(ret = issue_pages( view, first, first + count, state, 0, &done )))
    {
        memset( view->vprot + first, state, count );
        return STATUS_SUCCESS;
    }
    issue_pages( view, first, done, state, 1, &undone );
    return status_from_errno( ret );
}

/* Length of the run of bytes equal to p[start] in p[start .. end). */
static size_t same_run( const uint8_t *p, size_t start, size_t end )
{
    uint64_t pattern = 0x0101010101010101ull * p[start], word;
    size_t i = start + 1;

    while (i < end && (i & 7))
        if (p[i++] != p[start]) return i - 1 - start;
    while (i + 8 <= end)
    {
        memcpy( &word, p + i, 8 );
        if (word != pattern) break;
        i += 8;
    }
    while (i < end && p[i] == p[start]) i++;
    return i - start;
}

/* Tells whether every page of [first, first + count) is committed. */
static int all_committed( const struct view *view, size_t first, size_t count )
{
    size_t i;

    for (i = first; i < first + count; i++)
        if (!(view->vprot[i] & VPROT_COMMITTED)) return 0;
    return 1;
}

/* ---- views ------------------------------------------------------------------------------- */

/* Drops the MEM_PHYSICAL views in a forked child: AWE regions are not inherited (awe-spec.md
 * section 2.8), so their address space is given back before the child runs.  The child's AWE
 * state starts over on its next AWE call (awe_client_lock). */
static void fork_child( void )
{
    struct awe_tree_node *node = awe_tree_first( &views.tree ), *next;

    while (node)
    {
        next = awe_tree_next( node );
        if (VIEW(node)->flags & VIEW_PHYSICAL)
        {
            munmap( (void *)VIEW(node)->base, VIEW(node)->size );
            awe_tree_remove( &views.tree, node );
            free_view( VIEW(node) );
        }
        node = next;
    }
    pthread_mutex_unlock( &views.lock );
}

static void fork_prepare( void )
{
    pthread_mutex_lock( &views.lock );
}

static void fork_parent( void )
{
    pthread_mutex_unlock( &views.lock );
}

static void register_fork_handlers( void )
{
    pthread_atfork( fork_prepare, fork_parent, fork_child );
}

static struct view *alloc_view( uintptr_t base, size_t size, unsigned int flags, DWORD alloc_prot )
{
    struct view *view = calloc( 1, sizeof(*view) );

    if (!view) return NULL;
    if (!(flags & VIEW_PHYSICAL) && !(view->vprot = calloc( size >> AWE_PAGE_SHIFT, 1 )))
    {
        free( view );
        return NULL;
    }
    view->base = base;
    view->size = size;
    view->flags = flags;
    view->alloc_prot = alloc_prot;
    return view;
}

/* Reserves (and commits) a new ordinary view at *base (0: anywhere below limit). */
static NTSTATUS create_view( uintptr_t *base, size_t size, uintptr_t limit, DWORD protect,
                             uint8_t state, int commit )
{
    struct view *view;
    NTSTATUS status;

    if ((status = reserve_area( base, size, limit, 0, GRANULARITY ))) return status;
    if (!(view = alloc_view( *base, size, 0, protect )))
    {
        status = STATUS_NO_MEMORY;
        goto out_unmap;
    }
    if (commit && (status = set_pages( view, 0, size >> AWE_PAGE_SHIFT, state )))
        goto out_free_view;
    awe_tree_insert( &views.tree, &view->node, order_views );
    return STATUS_SUCCESS;

out_free_view:
    free_view( view );
out_unmap:
    munmap( (void *)*base, size );
    return status;
}

/* Reserves a MEM_PHYSICAL view at *base (0: anywhere below limit) and its AWE window, bound to
 * an AWE section if section is not 0: aligned to the section's page (a 2 MiB one wants base
 * and size multiples of it, else STATUS_INVALID_PARAMETER), and read-only if protect says so. */
static NTSTATUS create_physical_view( uintptr_t *base, size_t size, uintptr_t limit, uint32_t section,
                                      DWORD protect )
{
    size_t unit = AWE_PAGE_SIZE, align = GRANULARITY;
    struct view *view;
    NTSTATUS status;

    if (section && (status = awe_engine_section_unit( section, &unit ))) return status;
    if (unit > align) align = unit;
    if ((*base | size) & (unit - 1)) return STATUS_INVALID_PARAMETER;
    if (!(view = alloc_view( 0, size, VIEW_PHYSICAL, protect ))) return STATUS_NO_MEMORY;
    if ((status = reserve_area( base, size, limit, 1, align ))) goto out_free_view;
    if ((status = awe_engine_add_window_ex( (void *)*base, size, section, protect )))
    {
        munmap( (void *)*base, size );
        goto out_free_view;
    }
    pthread_once( &fork_handlers_once, register_fork_handlers );
    view->base = *base;
    view->section = section;
    awe_tree_insert( &views.tree, &view->node, order_views );
    return STATUS_SUCCESS;

out_free_view:
    free_view( view );
    return status;
}

/* Releases a view and its address space; a MEM_PHYSICAL view's mapped frames are unmapped and
 * stay allocated to the process (awe-spec.md section 2.6, V20).  The engine unmaps and
 * forgets the window first, so that no Map can put a frame into the range once it is given
 * back. */
static NTSTATUS release_view( struct view *view )
{
    NTSTATUS status;

    if ((view->flags & VIEW_PHYSICAL) && (status = awe_engine_remove_window( (void *)view->base )) &&
        status != STATUS_MEMORY_NOT_ALLOCATED)
        return status;
    if (munmap( (void *)view->base, view->size ))
    {
        /* the window holds no frame now: an empty one again, still reserved */
        status = status_from_errno( -errno );
        if (view->flags & VIEW_PHYSICAL)
            awe_engine_add_window_ex( (void *)view->base, view->size, view->section, view->alloc_prot );
        return status;
    }
    awe_tree_remove( &views.tree, &view->node );
    free_view( view );
    return STATUS_SUCCESS;
}

/* ---- argument helpers ---------------------------------------------------------------------- */

/* Only the calling process: other processes need the server (not there yet). */
static NTSTATUS check_process( HANDLE process )
{
    if (process == NtCurrentProcess()) return STATUS_SUCCESS;
    if (!process) return STATUS_INVALID_HANDLE;
    return STATUS_NOT_SUPPORTED;
}

/* Reads an in/out argument and checks that it can be written back, as the kernel's probe for
 * write does; returns 0 or -EFAULT. */
static int capture_inout( void *user, void *value, size_t len )
{
    if (awe_copy_from_user( value, user, len )) return -EFAULT;
    return awe_copy_to_user( user, value, len );
}

/* Captures the address and size arguments most functions take, both in/out. */
static int capture_range( PVOID *addr_ptr, PSIZE_T size_ptr, uintptr_t *addr, size_t *size )
{
    if (capture_inout( addr_ptr, addr, sizeof(*addr) )) return -EFAULT;
    return capture_inout( size_ptr, size, sizeof(*size) );
}

/* Writes back the address and size results; the pointers were probed, and a fault now (the
 * caller unmapping them meanwhile) would not undo the operation. */
static void return_range( PVOID *addr_ptr, PSIZE_T size_ptr, uintptr_t addr, size_t size )
{
    awe_copy_to_user( addr_ptr, &addr, sizeof(addr) );
    awe_copy_to_user( size_ptr, &size, sizeof(size) );
}

/* The highest address zero_bits allow: a count of leading zero bits of a 32-bit address (1 to
 * 21), or on 64-bit a mask whose highest set bit is the highest usable one. */
static NTSTATUS zero_bits_limit( ULONG_PTR zero_bits, uintptr_t *limit )
{
    *limit = HIGHEST_ADDRESS;
    if (!zero_bits) return STATUS_SUCCESS;
#if UINTPTR_MAX > 0xffffffffu
    if (zero_bits >= 32)
    {
        uintptr_t mask = ~(uintptr_t)0 >> __builtin_clzl( zero_bits );
        if (mask < *limit) *limit = mask;
        return STATUS_SUCCESS;
    }
#endif
    if (zero_bits > 21) return STATUS_INVALID_PARAMETER_3;
    *limit = (uintptr_t)(~(uint32_t)0 >> zero_bits);
    return STATUS_SUCCESS;
}

/* Allocation types of ordinary memory (MEM_PHYSICAL: the engine's rules, awe-spec.md 2.5);
 * write watches, large pages and MEM_RESET_UNDO are not emulated. */
static NTSTATUS check_alloc_type( ULONG type )
{
    const ULONG known = MEM_COMMIT | MEM_RESERVE | MEM_RESET | MEM_RESET_UNDO | MEM_TOP_DOWN |
                        MEM_WRITE_WATCH | MEM_PHYSICAL | MEM_LARGE_PAGES;

    if (type & ~known) return STATUS_INVALID_PARAMETER_5;

    if (type & (MEM_RESET | MEM_RESET_UNDO))
    {
        if (type == MEM_RESET) return STATUS_SUCCESS;
        return type == MEM_RESET_UNDO ? STATUS_NOT_SUPPORTED : STATUS_INVALID_PARAMETER_5;
    }
    if (!(type & (MEM_COMMIT | MEM_RESERVE))) return STATUS_INVALID_PARAMETER_5;
    if ((type & MEM_WRITE_WATCH) && !(type & MEM_RESERVE)) return STATUS_INVALID_PARAMETER_5;
    if (type & (MEM_WRITE_WATCH | MEM_LARGE_PAGES)) return STATUS_NOT_SUPPORTED;
    return STATUS_SUCCESS;
}

/* ---- NtAllocateVirtualMemory --------------------------------------------------------------- */

/* Commits [*addr, *addr + *size) inside one ordinary view, or resets it. */
static NTSTATUS commit_range( uintptr_t *addr, size_t *size, uint8_t state, int reset )
{
    uintptr_t start = *addr & ~PAGE_MASK, end = round_up_page( *addr + *size );
    struct view *view = find_view( start );
    NTSTATUS status = STATUS_SUCCESS;

    /* commit or reset outside an allocation, across its end or in an AWE region: V10 */
    if (!view || end > view_end( view ) || (view->flags & VIEW_PHYSICAL))
        return STATUS_CONFLICTING_ADDRESSES;
    if (reset)
    {
        /* the contents are of no interest any more: MADV_FREE drops them under pressure */
        if (madvise( (void *)start, end - start, MADV_FREE ))
            madvise( (void *)start, end - start, MADV_DONTNEED );
    }
    else status = set_pages( view, (start - view->base) >> AWE_PAGE_SHIFT,
                             (end - start) >> AWE_PAGE_SHIFT, state );
    if (!status)
    {
        *addr = start;
        *size = end - start;
    }
    return status;
}

/* Reserves and/or commits memory, resets it, or reserves a MEM_PHYSICAL region (awe-spec.md
 * section 2.5), bound to an AWE section if section is not 0.  *addr_ptr and *size_ptr receive
 * the pages concerned on success and are left alone on failure.  Returns STATUS_SUCCESS or
 * Windows' status for the first bad argument. */
static NTSTATUS allocate_virtual( HANDLE process, PVOID *addr_ptr, ULONG_PTR zero_bits,
                                  PSIZE_T size_ptr, ULONG type, ULONG protect, uint32_t section )
{
    uintptr_t addr, limit, base;
    size_t size;
    uint8_t state = 0;
    NTSTATUS status;

    if ((status = zero_bits_limit( zero_bits, &limit ))) return status;
    if (type & MEM_PHYSICAL)
    {
        if ((status = awe_engine_check_reserve( type, protect ))) return status;
    }
    else if ((status = check_alloc_type( type ))) return status;
    else if ((status = vprot_from_protect( protect, &state ))) return status;
    else if (is_writecopy( state )) return STATUS_INVALID_PAGE_PROTECTION;
    if (capture_range( addr_ptr, size_ptr, &addr, &size )) return STATUS_ACCESS_VIOLATION;
    /* the first 64 KiB are never allocated; rounded down, such an address would mean "any" */
    if (addr > HIGHEST_ADDRESS || (addr && addr < LOWEST_ADDRESS)) return STATUS_INVALID_PARAMETER_2;
    if (!size || size > HIGHEST_ADDRESS + 1 - addr) return STATUS_INVALID_PARAMETER_4;
    if ((status = check_process( process ))) return status;

    pthread_mutex_lock( &views.lock );
    if ((type & (MEM_RESERVE | MEM_PHYSICAL)) || (!addr && !(type & MEM_RESET)))
    {
        /* a reservation: the base on the granularity, the size to whole pages (MEM_COMMIT
         * alone at no address reserves too) */
        base = addr & ~(GRANULARITY - 1);
        size = round_up_page( addr + size ) - base;
        if (type & MEM_PHYSICAL) status = create_physical_view( &base, size, limit, section, protect );
        else status = create_view( &base, size, limit, protect, state, !!(type & MEM_COMMIT) );
        addr = base;
    }
    else status = commit_range( &addr, &size, state, !!(type & MEM_RESET) );
    pthread_mutex_unlock( &views.lock );

    if (!status) return_range( addr_ptr, size_ptr, addr, size );
    return status;
}

NTSTATUS NTAPI NtAllocateVirtualMemory( HANDLE process, PVOID *addr_ptr, ULONG_PTR zero_bits,
                                        PSIZE_T size_ptr, ULONG type, ULONG protect )
{
    return allocate_virtual( process, addr_ptr, zero_bits, size_ptr, type, protect, 0 );
}

#define EXT_PARAM_NUMA_NODE            2
#define EXT_PARAM_USER_PHYSICAL_HANDLE 4
#define MAX_EXT_PARAMS                 8

/* NtAllocateVirtualMemoryEx with the parameters libawe knows: a MemExtendedParameterNumaNode
 * of 0 (the one node), and MemExtendedParameterUserPhysicalHandle, which binds a MEM_PHYSICAL
 * reservation to an AWE section (awe-spec.md 2.5; needs MEM_PHYSICAL).  Others, address
 * requirements and attribute flags among them, are not emulated: STATUS_INVALID_PARAMETER.
 * A type given twice is STATUS_INVALID_PARAMETER, as on Windows. */
NTSTATUS NTAPI NtAllocateVirtualMemoryEx( HANDLE process, PVOID *addr_ptr, PSIZE_T size_ptr, ULONG type,
                                          ULONG protect, MEM_EXTENDED_PARAMETER *params, ULONG nparams )
{
    MEM_EXTENDED_PARAMETER copy[MAX_EXT_PARAMS];
    unsigned int seen = 0, i;
    uintptr_t section = 0;

    if (nparams > MAX_EXT_PARAMS) return STATUS_INVALID_PARAMETER;
    if (nparams && ((uintptr_t)params & 7)) return STATUS_DATATYPE_MISALIGNMENT;
    if (nparams && awe_copy_from_user( copy, params, nparams * sizeof(*copy) ))
        return STATUS_ACCESS_VIOLATION;
    for (i = 0; i < nparams; i++)
    {
        unsigned int kind = copy[i].Type;

        if (copy[i].Reserved || kind >= 32 || (seen & (1u << kind))) return STATUS_INVALID_PARAMETER;
        seen |= 1u << kind;
        if (kind == EXT_PARAM_NUMA_NODE && !copy[i].ULong64) continue;
        if (kind != EXT_PARAM_USER_PHYSICAL_HANDLE) return STATUS_INVALID_PARAMETER;
        section = (uintptr_t)copy[i].Handle;
    }
    if (section)
    {
        if (!(type & MEM_PHYSICAL)) return STATUS_INVALID_PARAMETER;
        /* this host's handles are the server's: 32 bits */
        if ((uint64_t)section >> 32 || section == (uintptr_t)NtCurrentProcess()) return STATUS_INVALID_HANDLE;
    }
    return allocate_virtual( process, addr_ptr, 0, size_ptr, type, protect, (uint32_t)section );
}

/* ---- NtFreeVirtualMemory --------------------------------------------------------------------- */

/* Decommits pages or releases a whole allocation (awe-spec.md section 2.6 for AWE regions);
 * *addr_ptr and *size_ptr receive what was freed.  Returns STATUS_SUCCESS or the failure. */
NTSTATUS NTAPI NtFreeVirtualMemory( HANDLE process, PVOID *addr_ptr, PSIZE_T size_ptr, ULONG type )
{
    uintptr_t addr, start, end;
    size_t size, out_size = 0;
    struct view *view;
    NTSTATUS status;

    if (type != MEM_DECOMMIT && type != MEM_RELEASE) return STATUS_INVALID_PARAMETER_4;
    if (capture_range( addr_ptr, size_ptr, &addr, &size )) return STATUS_ACCESS_VIOLATION;
    if (addr > HIGHEST_ADDRESS) return STATUS_INVALID_PARAMETER_2;
    if (size > HIGHEST_ADDRESS + 1 - addr) return STATUS_INVALID_PARAMETER_3;
    if ((status = check_process( process ))) return status;

    start = addr & ~PAGE_MASK;
    end = round_up_page( addr + size );
    pthread_mutex_lock( &views.lock );
    if (!(view = find_view( start ))) status = STATUS_MEMORY_NOT_ALLOCATED;
    else if (view->flags & VIEW_PHYSICAL)
        status = awe_engine_check_free( (void *)view->base, view->size, (void *)start,
                                        size ? end - start : 0, type );
    else if (!size)
    {
        if (start != view->base) status = STATUS_FREE_VM_NOT_AT_BASE;
    }
    else if (end > view_end( view )) status = STATUS_UNABLE_TO_FREE_VM;
    else if (type == MEM_RELEASE && (start != view->base || end != view_end( view )))
        status = STATUS_FREE_VM_NOT_AT_BASE;     /* releasing part of an allocation: not emulated */

    if (!status && type == MEM_RELEASE)
    {
        start = view->base;
        out_size = view->size;
        status = release_view( view );
    }
    else if (!status)
    {
        if (!size) end = view_end( view );
        out_size = size ? end - start : 0;       /* as Windows 10 1803 and later */
        status = set_pages( view, (start - view->base) >> AWE_PAGE_SHIFT,
                            (end - start) >> AWE_PAGE_SHIFT, 0 );
    }
    pthread_mutex_unlock( &views.lock );

    if (!status) return_range( addr_ptr, size_ptr, start, out_size );
    return status;
}

/* ---- NtQueryVirtualMemory ------------------------------------------------------------------- */

static void query_view( const struct view *view, uintptr_t addr, MEMORY_BASIC_INFORMATION *info )
{
    size_t page = (addr - view->base) >> AWE_PAGE_SHIFT, run;
    uint8_t state = view->vprot[page];

    run = same_run( view->vprot, page, view->size >> AWE_PAGE_SHIFT );
    info->RegionSize = run << AWE_PAGE_SHIFT;
    info->State = state & VPROT_COMMITTED ? MEM_COMMIT : MEM_RESERVE;
    info->Protect = state & VPROT_COMMITTED ? protect_from_vprot( state ) : 0;
}

/* awe-spec.md section 2.7: mapped pages are committed with the protection VirtualProtect gave
 * them, unmapped pages reserved, and a run ends where either changes (V09, V16). */
static NTSTATUS query_physical_view( const struct view *view, uintptr_t addr,
                                     MEMORY_BASIC_INFORMATION *info )
{
    uint32_t protect;
    size_t run;
    NTSTATUS status;
    int mapped;

    if ((status = awe_engine_query_window( (void *)addr, &mapped, &protect, &run ))) return status;
    info->RegionSize = run;
    info->State = mapped ? MEM_COMMIT : MEM_RESERVE;
    info->Protect = protect;
    return STATUS_SUCCESS;
}

/* Describes memory that is no view: a host mapping, or free address space up to the next
 * mapping or view. */
static void query_host( uintptr_t addr, MEMORY_BASIC_INFORMATION *info )
{
    struct host_lookup lookup = { addr, 0, { 0 }, HIGHEST_ADDRESS + 1 };
    struct awe_tree_node *prev = awe_tree_floor( &views.tree, &addr, compare_view_base );
    struct view *next = next_view( addr );
    uintptr_t end, alloc_base;

    if (for_each_host_vma( lookup_host_vma, &lookup ) < 0) lookup.found = 0;
    if (!lookup.found)
    {
        end = next && next->base < lookup.next ? next->base : lookup.next;
        info->AllocationBase = NULL;
        info->AllocationProtect = 0;
        info->RegionSize = end - addr;
        info->State = MEM_FREE;
        info->Protect = PAGE_NOACCESS;
        info->Type = 0;
        return;
    }
    /* the kernel may have merged the mapping with a neighbouring view's reservation */
    end = next && next->base < lookup.vma.end ? next->base : lookup.vma.end;
    alloc_base = lookup.vma.start;
    if (prev && view_end( VIEW(prev) ) > alloc_base) alloc_base = view_end( VIEW(prev) );
    info->AllocationBase = (void *)alloc_base;
    info->RegionSize = end - addr;
    if (lookup.vma.prot)
    {
        info->State = MEM_COMMIT;
        info->Protect = protect_from_unix( lookup.vma.prot );
    }
    else
    {
        info->State = MEM_RESERVE;
        info->Protect = 0;
    }
    info->AllocationProtect = info->Protect ? info->Protect : PAGE_NOACCESS;
    if (!lookup.vma.file) info->Type = MEM_PRIVATE;
    else info->Type = lookup.vma.shared ? MEM_MAPPED : MEM_IMAGE;
}

/* Describes the run of pages of equal state from addr (MemoryBasicInformation only; awe-spec.md
 * section 2.7 for AWE regions).  *result_length, if given, receives the size written. */
NTSTATUS NTAPI NtQueryVirtualMemory( HANDLE process, LPCVOID addr, int info_class, PVOID buffer,
                                     SIZE_T length, PSIZE_T result_length )
{
    MEMORY_BASIC_INFORMATION info;
    uintptr_t page = (uintptr_t)addr & ~PAGE_MASK;
    SIZE_T written = sizeof(info);
    struct view *view;
    NTSTATUS status;

    if (info_class != MemoryBasicInformation) return STATUS_INVALID_INFO_CLASS;
    if (length < sizeof(info)) return STATUS_INFO_LENGTH_MISMATCH;
    if ((status = check_process( process ))) return status;
    if ((uintptr_t)addr > HIGHEST_ADDRESS) return STATUS_INVALID_PARAMETER;

    memset( &info, 0, sizeof(info) );
    info.BaseAddress = (void *)page;
    pthread_mutex_lock( &views.lock );
    if (!(view = find_view( page ))) query_host( page, &info );
    else
    {
        info.AllocationBase = (void *)view->base;
        info.AllocationProtect = view->alloc_prot;
        info.Type = MEM_PRIVATE;
        if (view->flags & VIEW_PHYSICAL) status = query_physical_view( view, page, &info );
        else query_view( view, page, &info );
    }
    pthread_mutex_unlock( &views.lock );

    if (status) return status;
    if (awe_copy_to_user( buffer, &info, sizeof(info) )) return STATUS_ACCESS_VIOLATION;
    if (result_length && awe_copy_to_user( result_length, &written, sizeof(written) ))
        return STATUS_ACCESS_VIOLATION;
    return STATUS_SUCCESS;
}

/* ---- NtProtectVirtualMemory ------------------------------------------------------------------ */

/* awe-spec.md section 2.8: NOACCESS, READONLY or READWRITE, on the mapped pages only; the old
 * protection is the first page's, NOACCESS if it is unmapped (V15, V17, V18). */
static NTSTATUS protect_physical( const struct view *view, uintptr_t start, size_t pages,
                                  DWORD protect, DWORD *old )
{
    uint32_t old_protect;
    NTSTATUS status;

    if (!(status = awe_engine_protect_window( (void *)start, pages << AWE_PAGE_SHIFT, protect,
                                              &old_protect )))
        *old = old_protect;
    return status;
}

static NTSTATUS protect_view( struct view *view, uintptr_t start, uintptr_t end, uint8_t state,
                              DWORD *old )
{
    size_t first = (start - view->base) >> AWE_PAGE_SHIFT, count = (end - start) >> AWE_PAGE_SHIFT;
    NTSTATUS status;

    if (is_writecopy( state )) return STATUS_INVALID_PAGE_PROTECTION;
    if (!all_committed( view, first, count )) return STATUS_NOT_COMMITTED;
    *old = protect_from_vprot( view->vprot[first] );
    if ((status = set_pages( view, first, count, state ))) return status;
    return STATUS_SUCCESS;
}

/* Memory that is no view: the host's protection changes, copy-on-write is plain writable. */
static NTSTATUS protect_host( uintptr_t start, uintptr_t end, uint8_t state, DWORD *old )
{
    NTSTATUS status;
    int first_prot;

    if ((status = check_host_range( start, end, &first_prot ))) return status;
    if (mprotect( (void *)start, end - start, unix_prot( state ) ))
        return status_from_errno( -errno );
    *old = protect_from_unix( first_prot );
    return STATUS_SUCCESS;
}

/* The pages an address range touches; an empty range means the page at addr. */
static void page_range( uintptr_t addr, size_t size, uintptr_t *start, uintptr_t *end )
{
    *start = addr & ~PAGE_MASK;
    *end = round_up_page( addr + size );
    if (*end == *start) *end += AWE_PAGE_SIZE;
}

/* Changes the protection of committed pages of one allocation (awe-spec.md section 2.8 for AWE
 * regions: mapped pages only) or of host memory; *old_ptr receives the first page's old
 * protection.  Returns STATUS_SUCCESS or the failure, with nothing changed. */
NTSTATUS NTAPI NtProtectVirtualMemory( HANDLE process, PVOID *addr_ptr, PSIZE_T size_ptr,
                                       ULONG protect, PULONG old_ptr )
{
    uintptr_t addr, start, end;
    size_t size;
    uint8_t state;
    DWORD old = 0;
    struct view *view;
    NTSTATUS status;

    if ((status = vprot_from_protect( protect, &state ))) return status;
    if (capture_range( addr_ptr, size_ptr, &addr, &size ) ||
        capture_inout( old_ptr, &old, sizeof(old) ))
        return STATUS_ACCESS_VIOLATION;
    if (addr > HIGHEST_ADDRESS) return STATUS_INVALID_PARAMETER_2;
    if (size > HIGHEST_ADDRESS - addr) return STATUS_INVALID_PARAMETER_3;
    if ((status = check_process( process ))) return status;

    page_range( addr, size, &start, &end );
    pthread_mutex_lock( &views.lock );
    if (!(view = find_view( start ))) status = protect_host( start, end, state, &old );
    else if (end > view_end( view )) status = STATUS_CONFLICTING_ADDRESSES;
    else if (view->flags & VIEW_PHYSICAL)
        status = protect_physical( view, start, (end - start) >> AWE_PAGE_SHIFT, protect, &old );
    else status = protect_view( view, start, end, state, &old );
    pthread_mutex_unlock( &views.lock );

    if (!status)
    {
        return_range( addr_ptr, size_ptr, start, end - start );
        awe_copy_to_user( old_ptr, &old, sizeof(old) );
    }
    return status;
}

/* ---- NtLockVirtualMemory ------------------------------------------------------------------- */

/* Locks committed pages in memory (mlock); AWE regions refuse with STATUS_INCOMPATIBLE_FILE_MAP,
 * their frames being locked already.  Returns STATUS_SUCCESS or the failure. */
NTSTATUS NTAPI NtLockVirtualMemory( HANDLE process, PVOID *addr_ptr, PSIZE_T size_ptr,
                                    ULONG map_type )
{
    uintptr_t addr, start, end;
    size_t size;
    struct view *view;
    NTSTATUS status;
    int prot;

    if (map_type != MAP_PROCESS)
        return map_type == MAP_SYSTEM ? STATUS_NOT_SUPPORTED : STATUS_INVALID_PARAMETER;
    if (capture_range( addr_ptr, size_ptr, &addr, &size )) return STATUS_ACCESS_VIOLATION;
    if (addr > HIGHEST_ADDRESS) return STATUS_INVALID_PARAMETER_2;
    if (size > HIGHEST_ADDRESS - addr) return STATUS_INVALID_PARAMETER_3;
    if ((status = check_process( process ))) return status;

    page_range( addr, size, &start, &end );
    pthread_mutex_lock( &views.lock );
    if (!(view = find_view( start ))) status = check_host_range( start, end, &prot );
    else if (view->flags & VIEW_PHYSICAL) status = STATUS_INCOMPATIBLE_FILE_MAP;    /* V14 */
    else if (end > view_end( view )) status = STATUS_CONFLICTING_ADDRESSES;
    else if (!all_committed( view, (start - view->base) >> AWE_PAGE_SHIFT,
                             (end - start) >> AWE_PAGE_SHIFT ))
        status = STATUS_NOT_COMMITTED;
    /* the lock lasts until the pages are decommitted or released, as on Windows */
    if (!status && mlock( (void *)start, end - start )) status = STATUS_WORKING_SET_QUOTA;
    pthread_mutex_unlock( &views.lock );

    if (!status) return_range( addr_ptr, size_ptr, start, end - start );
    return status;
}

/* ---- Win32 ------------------------------------------------------------------------------- */

/* Returns the allocation's address, or NULL with the last error set. */
LPVOID WINAPI VirtualAlloc( LPVOID addr, SIZE_T size, DWORD type, DWORD protect )
{
    NTSTATUS status = NtAllocateVirtualMemory( NtCurrentProcess(), &addr, 0, &size, type, protect );

    return awe_set_ntstatus( status ) ? addr : NULL;
}

PVOID WINAPI VirtualAlloc2( HANDLE process, PVOID addr, SIZE_T size, ULONG type, ULONG protect,
                            MEM_EXTENDED_PARAMETER *params, ULONG nparams )
{
    NTSTATUS status;

    if (!process) process = NtCurrentProcess();
    status = NtAllocateVirtualMemoryEx( process, &addr, &size, type, protect, params, nparams );
    return awe_set_ntstatus( status ) ? addr : NULL;
}

/* Returns TRUE, or FALSE with the last error set. */
BOOL WINAPI VirtualFree( LPVOID addr, SIZE_T size, DWORD type )
{
    /* the one Win32-level rule: a release names the whole allocation by its base */
    if ((type & MEM_RELEASE) && size)
    {
        SetLastError( ERROR_INVALID_PARAMETER );
        return FALSE;
    }
    return awe_set_ntstatus( NtFreeVirtualMemory( NtCurrentProcess(), &addr, &size, type ) );
}

/* Returns the number of bytes written to info, or 0 with the last error set. */
SIZE_T WINAPI VirtualQuery( LPCVOID addr, PMEMORY_BASIC_INFORMATION info, SIZE_T length )
{
    SIZE_T written = 0;

    if (!awe_set_ntstatus( NtQueryVirtualMemory( NtCurrentProcess(), addr, MemoryBasicInformation,
                                                 info, length, &written ) ))
        return 0;
    return written;
}

/* Returns TRUE with *old set, or FALSE with the last error set. */
BOOL WINAPI VirtualProtect( LPVOID addr, SIZE_T size, DWORD protect, PDWORD old )
{
    NTSTATUS status = NtProtectVirtualMemory( NtCurrentProcess(), &addr, &size, protect, old );

    return awe_set_ntstatus( status );
}

/* Returns TRUE, or FALSE with the last error set. */
BOOL WINAPI VirtualLock( LPVOID addr, SIZE_T size )
{
    return awe_set_ntstatus( NtLockVirtualMemory( NtCurrentProcess(), &addr, &size, MAP_PROCESS ) );
}

/* Fills info (ignored if it cannot be written): 4 KiB pages, 64 KiB granularity, the online
 * processors (at most one group of 64), the user address range, the architecture. */
void WINAPI GetSystemInfo( LPSYSTEM_INFO info )
{
    long cpus = sysconf( _SC_NPROCESSORS_ONLN );
    SYSTEM_INFO si;

    memset( &si, 0, sizeof(si) );
#if defined(__x86_64__) || defined(__i386__)
    {
        unsigned int eax, ebx, ecx, edx, family = 0, model = 0;

        if (__get_cpuid( 1, &eax, &ebx, &ecx, &edx ))
        {
            family = (eax >> 8) & 0xf;
            model = (eax >> 4) & 0xf;
            if (family == 6 || family == 0xf) model |= ((eax >> 16) & 0xf) << 4;
            if (family == 0xf) family += (eax >> 20) & 0xff;
            si.wProcessorLevel = (WORD)family;
            si.wProcessorRevision = (WORD)((model << 8) | (eax & 0xf));
        }
    }
# ifdef __x86_64__
    si.wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
    si.dwProcessorType = 8664;                  /* PROCESSOR_AMD_X8664 */
# else
    si.wProcessorArchitecture = PROCESSOR_ARCHITECTURE_INTEL;
    si.dwProcessorType = 586;                   /* PROCESSOR_INTEL_PENTIUM */
# endif
#elif defined(__aarch64__)
    si.wProcessorArchitecture = PROCESSOR_ARCHITECTURE_ARM64;
#endif
    /* one processor group: at most 64, as Windows reports them */
    if (cpus < 1) cpus = 1;
    if (cpus > 64) cpus = 64;
    si.dwNumberOfProcessors = (DWORD)cpus;
    si.dwActiveProcessorMask = cpus == 64 ? ~(DWORD_PTR)0 : ((DWORD_PTR)1 << cpus) - 1;
    si.dwPageSize = AWE_PAGE_SIZE;
    si.dwAllocationGranularity = GRANULARITY;
    si.lpMinimumApplicationAddress = (void *)LOWEST_ADDRESS;
    si.lpMaximumApplicationAddress = (void *)HIGHEST_ADDRESS;
    awe_copy_to_user( info, &si, sizeof(si) );
}
