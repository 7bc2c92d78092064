/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the virtual memory API on real memory: ordinary memory, MEM_PHYSICAL regions
 * (awe-spec.md sections 2.5-2.8, cases V01-V20) and memory the library did not allocate.
 *
 * The process is attached without a server (awe_client_attach_local): a memfd holds the frames
 * and an allocator answers who owns them, so MEM_PHYSICAL regions work; frames are mapped with
 * the planner and the mapper under the AWE lock, as MapUserPhysicalPages will. */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ntdll_side/ntdll_private.h"
#include "awe/tests/awe_check.h"

#define P       AWE_PAGE_SIZE
#define G       ((uintptr_t)0x10000)
#define TAG     3
#define FRAMES  64
#if defined(__aarch64__)
#define MAXADDR ((uintptr_t)0xffffffffffff)   /* Linux's user address space, not Windows' */
#else
#define MAXADDR ((uintptr_t)0x7fffffffefff)
#endif
#define LOCK_MAP_PROCESS 1                    /* NtLockVirtualMemory: what VirtualLock asks */

static struct
{
    struct awe_pfn_layout layout;
    struct awe_frames     frames;
    int                   memfd;
    uintptr_t             pfn[FRAMES];
} t;

static int owned( void *ctx, uint32_t index )
{
    return awe_frames_is_allocated( &t.frames, index );
}

static void setup( void )
{
    struct awe_frame_run run;
    size_t nruns, i;

    ck_assert_int_eq( awe_pfn_layout_init( &t.layout, 21, 10 ), 0 );
    ck_assert_int_eq( awe_frames_init( &t.frames, FRAMES ), 0 );
    ck_assert_uint_eq( awe_frames_alloc( &t.frames, FRAMES, &run, 1, &nruns ), FRAMES );
    for (i = 0; i < FRAMES; i++) t.pfn[i] = (uintptr_t)awe_pfn_encode( &t.layout, TAG, (uint32_t)i );
    ck_assert_int_ge( t.memfd = memfd_create( "awe-virtual-test", MFD_CLOEXEC ), 0 );
    ck_assert_int_eq( ftruncate( t.memfd, FRAMES * P ), 0 );
    ck_assert_int_eq( awe_client_attach_local( &t.layout, TAG, t.memfd, owned ), 0 );
}

static void teardown( void )
{
    awe_map_syscalls.mmap = mmap;
    awe_map_syscalls.mprotect = mprotect;
    pthread_mutex_lock( &awe_client.attach_lock );
    awe_client_detach();
    pthread_mutex_unlock( &awe_client.attach_lock );
    close( t.memfd );
    awe_frames_destroy( &t.frames );
}

/* Maps frames at va through the planner and the mapper, as MapUserPhysicalPages does. */
static NTSTATUS map_frames( char *va, size_t count, const uintptr_t *pfns )
{
    struct awe_plan plan;
    NTSTATUS status;

    if ((status = awe_client_lock())) return status;
    if (!(status = awe_plan_map( &awe_client.regions, (uintptr_t)va, count, pfns, awe_copy_in_pfns,
                                 NULL, &plan )))
        status = awe_apply_plan( &awe_client.regions, awe_client.memfd, &plan );
    awe_client_unlock();
    return status;
}

static struct awe_region *region_of( const void *va )
{
    struct awe_region *region;

    ck_assert_int_eq( awe_client_lock(), STATUS_SUCCESS );
    region = awe_regions_find( &awe_client.regions, (uintptr_t)va );
    awe_client_unlock();
    return region;
}

/* ---- fault probes -------------------------------------------------------------------------- */

static sigjmp_buf probe_env;

static void probe_handler( int sig )
{
    siglongjmp( probe_env, 1 );
}

/* Returns 1 if the byte at p can be read (and, with write, written back), 0 if it faults.
 * Memcheck reports every touch of inaccessible memory, caught or not: under valgrind the
 * kernel is asked instead, through the same permission checks (process_vm_readv/writev). */
static int probe( char *p, int write )
{
    struct sigaction sa, old_segv, old_bus;
    volatile int ok = 0;
    char c;

    if (getenv( "AWE_UNDER_VALGRIND" ))
        return !awe_copy_from_user( &c, p, 1 ) && (!write || !awe_copy_to_user( p, &c, 1 ));
    memset( &sa, 0, sizeof(sa) );
    sa.sa_handler = probe_handler;
    sigemptyset( &sa.sa_mask );
    sigaction( SIGSEGV, &sa, &old_segv );
    sigaction( SIGBUS, &sa, &old_bus );
    if (!sigsetjmp( probe_env, 1 ))
    {
        c = *(volatile char *)p;
        if (write) *(volatile char *)p = c;
        ok = 1;
    }
    sigaction( SIGSEGV, &old_segv, NULL );
    sigaction( SIGBUS, &old_bus, NULL );
    return ok;
}

#define can_read(p)  probe( (char *)(p), 0 )
#define can_write(p) probe( (char *)(p), 1 )

static MEMORY_BASIC_INFORMATION query( const void *addr )
{
    MEMORY_BASIC_INFORMATION info;

    POISON(info);
    ck_assert_uint_eq( VirtualQuery( addr, &info, sizeof(info) ), sizeof(info) );
    return info;
}

#define check_info( info, base, alloc_base, alloc_prot, size, state, prot, type ) do { \
    ck_assert_ptr_eq( (info).BaseAddress, (void *)(base) ); \
    ck_assert_ptr_eq( (info).AllocationBase, (void *)(alloc_base) ); \
    ck_assert_uint_eq( (info).AllocationProtect, (alloc_prot) ); \
    ck_assert_uint_eq( (info).RegionSize, (size) ); \
    ck_assert_uint_eq( (info).State, (state) ); \
    ck_assert_uint_eq( (info).Protect, (prot) ); \
    ck_assert_uint_eq( (info).Type, (type) ); } while (0)

/* Counts the kernel's VMAs overlapping [start, start + len). */
static size_t kernel_vmas( const void *start, size_t len )
{
    uintptr_t lo, hi, s = (uintptr_t)start, e = s + len;
    char line[512];
    size_t n = 0;
    FILE *maps = fopen( "/proc/self/maps", "r" );

    ck_assert_ptr_nonnull( maps );
    while (fgets( line, sizeof(line), maps ))
        if (sscanf( line, "%lx-%lx", &lo, &hi ) == 2 && lo < e && hi > s) n++;
    fclose( maps );
    return n;
}

/* ---- ordinary memory --------------------------------------------------------------------- */

/* Reserve, commit, query, protect, decommit, release, as Wine's kernel32 tests describe
 * Windows. */
START_TEST(test_reserve_commit_release)
{
    MEMORY_BASIC_INFORMATION info;
    char *addr, *addr2;
    DWORD old;

    addr = VirtualAlloc( NULL, 0xfffc, MEM_RESERVE, PAGE_NOACCESS );
    ck_assert_ptr_nonnull( addr );
    ck_assert_uint_eq( (uintptr_t)addr & (G - 1), 0 );                 /* 64 KiB granularity */
    info = query( addr + 17 );
    check_info( info, addr, addr, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE );
    ck_assert( !can_read( addr ) );

    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualProtect( addr, 0xfffc, PAGE_READONLY, &old ) );  /* not committed */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );

    addr2 = VirtualAlloc( addr, 0x1000, MEM_COMMIT, PAGE_NOACCESS );
    ck_assert_ptr_eq( addr2, addr );
    info = query( addr );
    check_info( info, addr, addr, PAGE_NOACCESS, 0x1000, MEM_COMMIT, PAGE_NOACCESS, MEM_PRIVATE );
    info = query( addr + 0x1000 );
    check_info( info, addr + 0x1000, addr, PAGE_NOACCESS, 0xf000, MEM_RESERVE, 0, MEM_PRIVATE );

    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualProtect( addr, 0xfffc, PAGE_READONLY, &old ) );  /* partly committed */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    old = 0;
    ck_assert( VirtualProtect( addr, 0x1000, PAGE_READONLY, &old ) );
    ck_assert_uint_eq( old, PAGE_NOACCESS );
    ck_assert( can_read( addr ) && !can_write( addr ) );
    ck_assert( VirtualProtect( addr, 0x1000, PAGE_READWRITE, &old ) );
    ck_assert_uint_eq( old, PAGE_READONLY );
    info = query( addr );
    check_info( info, addr, addr, PAGE_NOACCESS, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    memset( addr, 0x55, 20 );
    ck_assert_uint_eq( *(DWORD *)addr, 0x55555555 );

    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualFree( addr, 0x10000, 0 ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( !VirtualFree( addr, 0, MEM_FREE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( VirtualFree( addr, 0x10000, MEM_DECOMMIT ) );
    info = query( addr );
    check_info( info, addr, addr, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE );
    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualFree( addr, 1, MEM_RELEASE ) );                 /* size must be 0 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
    info = query( addr );
    ck_assert_uint_eq( info.State, MEM_FREE );
    ck_assert_ptr_null( info.AllocationBase );
    ck_assert_uint_eq( info.Protect, PAGE_NOACCESS );
    ck_assert_uint_eq( info.Type, 0 );
    ck_assert_uint_ge( info.RegionSize, 0x10000 );
    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualFree( addr, 0, MEM_RELEASE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );        /* MEMORY_NOT_ALLOCATED */
}
END_TEST

/* Committed memory reads zero; recommitting keeps contents and takes the new protection;
 * decommitted pages fault and read zero once committed again. */
START_TEST(test_commit_contents)
{
    char *addr = VirtualAlloc( NULL, 3 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE );
    MEMORY_BASIC_INFORMATION info;
    size_t i;

    ck_assert_ptr_nonnull( addr );
    for (i = 0; i < 3 * P; i++) AWE_EXPECT( !addr[i] );
    memset( addr, 0xa5, 3 * P );
    ck_assert_ptr_eq( VirtualAlloc( addr, 3 * P, MEM_COMMIT, PAGE_READONLY ), addr );
    ck_assert_uint_eq( (unsigned char)addr[2 * P + 7], 0xa5 );
    ck_assert( !can_write( addr + P ) );
    info = query( addr );
    check_info( info, addr, addr, PAGE_READWRITE, 3 * P, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );

    ck_assert( VirtualFree( addr + P, P, MEM_DECOMMIT ) );
    ck_assert( !can_read( addr + P ) );
    ck_assert_uint_eq( (unsigned char)addr[0], 0xa5 );
    ck_assert_uint_eq( (unsigned char)addr[2 * P], 0xa5 );
    info = query( addr + P );
    check_info( info, addr + P, addr, PAGE_READWRITE, P, MEM_RESERVE, 0, MEM_PRIVATE );
    ck_assert_ptr_eq( VirtualAlloc( addr + P + 100, 10, MEM_COMMIT, PAGE_READWRITE ), addr + P );
    for (i = P; i < 2 * P; i++) AWE_EXPECT( !addr[i] );
    info = query( addr );
    check_info( info, addr, addr, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

/* Queries describe runs of equal state from the queried page; each protection is kept. */
START_TEST(test_query_runs)
{
    static const DWORD prots[] = { PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ,
                                   PAGE_EXECUTE_READWRITE, PAGE_NOACCESS, PAGE_READWRITE | PAGE_GUARD,
                                   PAGE_READWRITE | PAGE_NOCACHE, PAGE_READONLY | PAGE_WRITECOMBINE };
    char *addr = VirtualAlloc( NULL, 64 * P, MEM_RESERVE, PAGE_EXECUTE_READWRITE );
    MEMORY_BASIC_INFORMATION info;
    size_t i;

    ck_assert_ptr_nonnull( addr );
    for (i = 0; i < sizeof(prots) / sizeof(prots[0]); i++)
    {
        /* pages 3i + 1 and 3i + 2 with this protection, page 3i reserved */
        ck_assert_ptr_eq( VirtualAlloc( addr + (3 * i + 1) * P, 2 * P, MEM_COMMIT, prots[i] ),
                          addr + (3 * i + 1) * P );
    }
    for (i = 0; i < sizeof(prots) / sizeof(prots[0]); i++)
    {
        info = query( addr + 3 * i * P );
        check_info( info, addr + 3 * i * P, addr, PAGE_EXECUTE_READWRITE, P, MEM_RESERVE, 0, MEM_PRIVATE );
        info = query( addr + (3 * i + 1) * P + 5 );
        check_info( info, addr + (3 * i + 1) * P, addr, PAGE_EXECUTE_READWRITE, 2 * P, MEM_COMMIT,
                    prots[i], MEM_PRIVATE );
    }
    info = query( addr + 27 * P );
    check_info( info, addr + 27 * P, addr, PAGE_EXECUTE_READWRITE, 37 * P, MEM_RESERVE, 0, MEM_PRIVATE );
    /* the kernel follows: guard and no-access pages fault, read-only ones are not writable */
    ck_assert( can_read( addr + 1 * P ) && !can_write( addr + 2 * P ) );
    ck_assert( can_write( addr + 4 * P ) );
    ck_assert( can_read( addr + 10 * P ) && !can_write( addr + 11 * P ) );      /* EXECUTE_READ */
    ck_assert( can_write( addr + 13 * P ) );                                     /* EXECUTE_READWRITE */
    ck_assert( !can_read( addr + 16 * P ) );                                     /* NOACCESS */
    ck_assert( !can_read( addr + 19 * P ) );                 /* guard: emulated as NOACCESS */
    ck_assert( can_write( addr + 22 * P ) );
    ck_assert( can_read( addr + 25 * P ) && !can_write( addr + 25 * P ) );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

/* MEM_COMMIT with no address reserves and commits; an explicit address reserves from its
 * 64 KiB boundary; reserving inside an allocation conflicts. */
START_TEST(test_reserve_placement)
{
    char *addr = VirtualAlloc( NULL, P, MEM_COMMIT, PAGE_READWRITE ), *again;
    MEMORY_BASIC_INFORMATION info;
    SIZE_T size = P;
    void *base;

    ck_assert_ptr_nonnull( addr );
    ck_assert_uint_eq( (uintptr_t)addr & (G - 1), 0 );
    info = query( addr );
    check_info( info, addr, addr, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );

    base = addr + P;
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &base, 0, &size,
                                               MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE ),
                      STATUS_CONFLICTING_ADDRESSES );
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &base, 12, &size,
                                               MEM_RESERVE, PAGE_READWRITE ),
                      STATUS_CONFLICTING_ADDRESSES );
    ck_assert_ptr_eq( base, addr + P );
    ck_assert_uint_eq( size, P );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );

    /* a freed place can be reserved again by address; the base rounds down to 64 KiB */
    addr = VirtualAlloc( NULL, 4 * P, MEM_RESERVE, PAGE_READWRITE );
    ck_assert_ptr_nonnull( addr );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
    base = addr + 0x1800;
    size = 0x1000;
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &base, 0, &size, MEM_RESERVE,
                                               PAGE_READONLY ), STATUS_SUCCESS );
    ck_assert_ptr_eq( base, addr );
    ck_assert_uint_eq( size, 0x3000 );
    info = query( addr + 0x2000 );
    check_info( info, addr + 0x2000, addr, PAGE_READONLY, P, MEM_RESERVE, 0, MEM_PRIVATE );
    again = VirtualAlloc( addr, P, MEM_RESERVE, PAGE_READWRITE );
    ck_assert_ptr_null( again );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    /* committing outside the allocation or across its end conflicts */
    ck_assert_ptr_null( VirtualAlloc( addr + 0x2000, 2 * P, MEM_COMMIT, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert_ptr_null( VirtualAlloc( addr + 0x10000, P, MEM_COMMIT, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

/* MEM_RESET keeps the state; outside the allocation it conflicts. */
START_TEST(test_reset)
{
    char *addr = VirtualAlloc( NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE );
    MEMORY_BASIC_INFORMATION info;

    ck_assert_ptr_nonnull( addr );
    ck_assert_ptr_eq( VirtualAlloc( addr, P, MEM_COMMIT, PAGE_READWRITE ), addr );
    memset( addr, 0x55, 20 );
    ck_assert_ptr_eq( VirtualAlloc( addr, P, MEM_RESET, PAGE_NOACCESS ), addr );
    ck_assert( *(DWORD *)addr == 0x55555555 || *(DWORD *)addr == 0 );
    info = query( addr );
    check_info( info, addr, addr, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    ck_assert_ptr_eq( VirtualAlloc( addr + P, P, MEM_RESET, PAGE_NOACCESS ), addr + P );
    info = query( addr + P );
    check_info( info, addr + P, addr, PAGE_READWRITE, 0xf000, MEM_RESERVE, 0, MEM_PRIVATE );
    ck_assert_ptr_null( VirtualAlloc( addr + 0xf000, 0x2000, MEM_RESET, PAGE_NOACCESS ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert_ptr_null( VirtualAlloc( addr, P, MEM_RESET | MEM_COMMIT, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

/* NtFreeVirtualMemory rounds to pages and reports what it did. */
START_TEST(test_free_rounding)
{
    char *addr1 = NULL;
    void *addr2;
    SIZE_T size = 0x10000;

    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), (void **)&addr1, 0, &size,
                                               MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE ), STATUS_SUCCESS );
    ck_assert_uint_eq( size, 0x10000 );
    size = 2;
    addr2 = addr1 + 0x1fff;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_DECOMMIT ), STATUS_SUCCESS );
    ck_assert_uint_eq( size, 0x2000 );
    ck_assert_ptr_eq( addr2, addr1 + 0x1000 );
    ck_assert_uint_eq( query( addr1 + 0x1000 ).State, MEM_RESERVE );
    ck_assert_uint_eq( query( addr1 + 0x1000 ).RegionSize, 0x2000 );

    size = 0;
    addr2 = addr1 + 0x1001;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_DECOMMIT ),
                      STATUS_FREE_VM_NOT_AT_BASE );
    ck_assert_uint_eq( size, 0 );
    ck_assert_ptr_eq( addr2, addr1 + 0x1001 );
    addr2 = addr1 + 0xffe;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_DECOMMIT ), STATUS_SUCCESS );
    ck_assert_uint_eq( size, 0 );
    ck_assert_ptr_eq( addr2, addr1 );
    ck_assert_uint_eq( query( addr1 ).RegionSize, 0x10000 );

    addr2 = addr1 + 0x1001;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ),
                      STATUS_FREE_VM_NOT_AT_BASE );
    ck_assert_ptr_eq( addr2, addr1 + 0x1001 );
    /* releasing part of an allocation is not emulated; a range past its end cannot be freed */
    addr2 = addr1;
    size = 0x1000;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ),
                      STATUS_FREE_VM_NOT_AT_BASE );
    size = 0x11000;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_DECOMMIT ),
                      STATUS_UNABLE_TO_FREE_VM );
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ),
                      STATUS_UNABLE_TO_FREE_VM );
    size = 0x10000;                                 /* the whole allocation by size is fine */
    addr2 = addr1 + 0xfff;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ),
                      STATUS_UNABLE_TO_FREE_VM );   /* 0xfff + 0x10000 runs one page past */
    size = 0;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ), STATUS_SUCCESS );
    ck_assert_uint_eq( size, 0x10000 );
    ck_assert_ptr_eq( addr2, addr1 );
    addr2 = addr1;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr2, &size, MEM_RELEASE ),
                      STATUS_MEMORY_NOT_ALLOCATED );
}
END_TEST

/* Memory the library did not allocate is described from the kernel's mappings. */
START_TEST(test_query_host_memory)
{
    MEMORY_BASIC_INFORMATION info;
    volatile int on_stack = 1;
    char *mapped = mmap( NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 );
    char *gone;

    info = query( (void *)&on_stack );
    ck_assert_uint_eq( info.State, MEM_COMMIT );
    ck_assert( info.Protect == PAGE_READWRITE || info.Protect == PAGE_EXECUTE_READWRITE );
    ck_assert_uint_eq( info.Type, MEM_PRIVATE );
    ck_assert_ptr_eq( info.BaseAddress, (void *)((uintptr_t)&on_stack & ~(P - 1)) );
    ck_assert_uint_le( (uintptr_t)info.AllocationBase, (uintptr_t)info.BaseAddress );

    info = query( (void *)owned );                  /* code of this program */
    ck_assert_uint_eq( info.State, MEM_COMMIT );
    ck_assert_uint_eq( info.Protect, PAGE_EXECUTE_READ );
    ck_assert_uint_eq( info.Type, MEM_IMAGE );

    ck_assert_ptr_ne( mapped, MAP_FAILED );
    info = query( mapped + P );
    ck_assert_uint_eq( info.State, MEM_COMMIT );
    ck_assert_uint_eq( info.Protect, PAGE_READWRITE );
    ck_assert_uint_ge( info.RegionSize, P );
    munmap( mapped, 2 * P );

    /* a freed allocation is free address space up to the next mapping */
    gone = VirtualAlloc( NULL, G, MEM_RESERVE, PAGE_READWRITE );
    ck_assert( VirtualFree( gone, 0, MEM_RELEASE ) );
    info = query( gone + 5 );
    ck_assert_ptr_eq( info.BaseAddress, gone );
    ck_assert_ptr_null( info.AllocationBase );
    ck_assert_uint_eq( info.AllocationProtect, 0 );
    ck_assert_uint_eq( info.State, MEM_FREE );
    ck_assert_uint_eq( info.Protect, PAGE_NOACCESS );
    ck_assert_uint_eq( info.Type, 0 );
    ck_assert_uint_ge( info.RegionSize, G );
    info = query( NULL );
    ck_assert_uint_eq( info.State, MEM_FREE );
    ck_assert_ptr_null( info.BaseAddress );
}
END_TEST

/* Memory the library did not allocate can be protected and locked, not freed. */
START_TEST(test_host_memory_protect_lock)
{
    char *mapped = mmap( NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 );
    volatile int on_stack = 0;
    DWORD old = 0;

    ck_assert_ptr_ne( mapped, MAP_FAILED );
    ck_assert( VirtualProtect( mapped, 2 * P, PAGE_READONLY, &old ) );
    ck_assert_uint_eq( old, PAGE_READWRITE );
    ck_assert( can_read( mapped + P ) && !can_write( mapped + P ) );
    ck_assert_uint_eq( query( mapped ).Protect, PAGE_READONLY );
    ck_assert( VirtualProtect( mapped, 1, PAGE_READWRITE, &old ) );
    ck_assert_uint_eq( old, PAGE_READONLY );
    ck_assert( can_write( mapped ) && !can_write( mapped + P ) );
    ck_assert( VirtualLock( mapped, 2 * P ) );
    ck_assert( !VirtualFree( mapped, 0, MEM_RELEASE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualFree( (void *)&on_stack, 0, MEM_DECOMMIT ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    munmap( mapped, 2 * P );
    /* not mapped at all */
    ck_assert( !VirtualProtect( mapped, P, PAGE_READONLY, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualLock( mapped, P ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
}
END_TEST

START_TEST(test_lock)
{
    char *addr = VirtualAlloc( NULL, 4 * P, MEM_RESERVE, PAGE_READWRITE );
    void *base;
    SIZE_T size;

    ck_assert_ptr_nonnull( addr );
    ck_assert_ptr_eq( VirtualAlloc( addr, 2 * P, MEM_COMMIT, PAGE_READWRITE ), addr );
    ck_assert( VirtualLock( addr + 10, P ) );
    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualLock( addr + P, 2 * P ) );                    /* page 2 is not committed */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualLock( addr, 5 * P ) );                        /* past the allocation */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    base = addr + 5;
    size = 1;
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), &base, &size, LOCK_MAP_PROCESS ), STATUS_SUCCESS );
    ck_assert_ptr_eq( base, addr );
    ck_assert_uint_eq( size, P );
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), &base, &size, 0 ), STATUS_INVALID_PARAMETER );
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), &base, &size, 2 ), STATUS_NOT_SUPPORTED );
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), NULL, &size, 1 ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), &base, NULL, 1 ), STATUS_ACCESS_VIOLATION );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

START_TEST(test_system_info)
{
    SYSTEM_INFO si;
    DWORD_PTR mask;

    POISON(si);
    GetSystemInfo( &si );
    ck_assert_uint_eq( si.dwPageSize, 4096 );
    ck_assert_uint_eq( si.dwAllocationGranularity, 65536 );
    ck_assert_ptr_eq( si.lpMinimumApplicationAddress, (void *)0x10000 );
    ck_assert_ptr_eq( si.lpMaximumApplicationAddress, (void *)MAXADDR );
    ck_assert_uint_ge( si.dwNumberOfProcessors, 1 );
    ck_assert_uint_le( si.dwNumberOfProcessors, 64 );
    mask = si.dwActiveProcessorMask;
    ck_assert_uint_eq( __builtin_popcountl( mask ), si.dwNumberOfProcessors );
#ifdef __x86_64__
    ck_assert_uint_eq( si.wProcessorArchitecture, PROCESSOR_ARCHITECTURE_AMD64 );
    ck_assert_uint_eq( si.dwProcessorType, 8664 );
    ck_assert_uint_ge( si.wProcessorLevel, 3 );
#endif
    GetSystemInfo( NULL );                           /* ignored, as a fault-safe copy */
}
END_TEST

/* Zero bits: a count of leading zero bits of a 32-bit address, or on 64-bit a mask. */
START_TEST(test_zero_bits)
{
    ULONG_PTR zero_bits;
    SIZE_T size;
    void *addr;
    NTSTATUS status;

    for (zero_bits = 1; zero_bits <= 20; zero_bits += 3)
    {
        size = P;
        addr = NULL;
        status = NtAllocateVirtualMemory( NtCurrentProcess(), &addr, zero_bits, &size,
                                          MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE );
        ck_assert_msg( status == STATUS_SUCCESS || status == STATUS_NO_MEMORY, "%lu zero bits: %#x",
                       (unsigned long)zero_bits, (unsigned int)status );
        if (status) continue;
        ck_assert_uint_eq( (uintptr_t)addr >> (32 - zero_bits), 0 );
        ck_assert_uint_eq( (uintptr_t)addr & (G - 1), 0 );
        *(volatile char *)addr = 1;
        size = 0;
        ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr, &size, MEM_RELEASE ), STATUS_SUCCESS );
    }
    size = P;
    addr = NULL;
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &addr, 21, &size, MEM_RESERVE,
                                               PAGE_READWRITE ), STATUS_NO_MEMORY );
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &addr, 22, &size, MEM_RESERVE,
                                               PAGE_READWRITE ), STATUS_INVALID_PARAMETER_3 );
    ck_assert_int_eq( NtAllocateVirtualMemory( NtCurrentProcess(), &addr, 31, &size, MEM_RESERVE,
                                               PAGE_READWRITE ), STATUS_INVALID_PARAMETER_3 );
    ck_assert_ptr_null( addr );
    status = NtAllocateVirtualMemory( NtCurrentProcess(), &addr, 0x1aaaaaaa, &size,
                                      MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE );
    ck_assert( status == STATUS_SUCCESS || status == STATUS_NO_MEMORY );
    if (!status)
    {
        ck_assert_uint_le( (uintptr_t)addr + size - 1, 0x1fffffff );
        size = 0;
        ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &addr, &size, MEM_RELEASE ), STATUS_SUCCESS );
    }
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------- */

static DWORD alloc_error( void *addr, SIZE_T size, DWORD type, DWORD protect )
{
    void *ret;

    SetLastError( 0xdeadbeef );
    ret = VirtualAlloc( addr, size, type, protect );
    if (ret)
    {
        VirtualFree( ret, 0, MEM_RELEASE );
        return 0;
    }
    return GetLastError();
}

static NTSTATUS nt_alloc( void **addr, SIZE_T *size, DWORD type, DWORD protect )
{
    return NtAllocateVirtualMemory( NtCurrentProcess(), addr, 0, size, type, protect );
}

START_TEST(test_alloc_errors)
{
    static const DWORD bad_prots[] = { 0, PAGE_READONLY | PAGE_NOACCESS, PAGE_READONLY | PAGE_EXECUTE,
                                       PAGE_READWRITE | PAGE_EXECUTE_READWRITE, PAGE_WRITECOPY,
                                       PAGE_EXECUTE_WRITECOPY, PAGE_NOACCESS | PAGE_GUARD,
                                       PAGE_NOACCESS | PAGE_NOCACHE, PAGE_READWRITE | PAGE_GUARD | PAGE_NOCACHE,
                                       PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0x800 | PAGE_READWRITE,
                                       0x10000 | PAGE_READONLY };
    void *addr = (void *)0xdead0000;
    SIZE_T size = P;
    size_t i;

    ck_assert_uint_eq( alloc_error( NULL, 0, MEM_RESERVE, PAGE_NOACCESS ), ERROR_INVALID_PARAMETER );
    for (i = 0; i < sizeof(bad_prots) / sizeof(bad_prots[0]); i++)
    {
        ck_assert_msg( alloc_error( NULL, P, MEM_COMMIT, bad_prots[i] ) == ERROR_INVALID_PARAMETER,
                       "protection %#x", bad_prots[i] );
        ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, bad_prots[i] ), STATUS_INVALID_PAGE_PROTECTION );
    }
    ck_assert_uint_eq( alloc_error( NULL, P, 0, PAGE_READWRITE ), ERROR_INVALID_PARAMETER );
    ck_assert_uint_eq( alloc_error( NULL, P, MEM_TOP_DOWN, PAGE_READWRITE ), ERROR_INVALID_PARAMETER );
    ck_assert_uint_eq( alloc_error( NULL, P, MEM_WRITE_WATCH, PAGE_READWRITE ), ERROR_INVALID_PARAMETER );
    ck_assert_uint_eq( alloc_error( NULL, P, MEM_RESERVE | MEM_COMMIT | 0x40000000 /* AT_ROUND_TO_PAGE */,
                                    PAGE_READWRITE ), ERROR_INVALID_PARAMETER );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | 0x40000000, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_DECOMMIT, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_RESET, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );
    /* not emulated (documented) */
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE ),
                      STATUS_NOT_SUPPORTED );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE ),
                      STATUS_NOT_SUPPORTED );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESET_UNDO, PAGE_READWRITE ), STATUS_NOT_SUPPORTED );
    /* pointers, handles, ranges */
    ck_assert_int_eq( nt_alloc( NULL, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( nt_alloc( &addr, NULL, MEM_RESERVE, PAGE_READWRITE ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( nt_alloc( &addr, (SIZE_T *)"const", MEM_RESERVE, PAGE_READWRITE ),
                      STATUS_ACCESS_VIOLATION );      /* probed for writing */
    addr = NULL;
    ck_assert_int_eq( NtAllocateVirtualMemory( NULL, &addr, 0, &size, MEM_RESERVE, PAGE_READWRITE ),
                      STATUS_INVALID_HANDLE );
    ck_assert_int_eq( NtAllocateVirtualMemory( (HANDLE)0x1234, &addr, 0, &size, MEM_RESERVE,
                                               PAGE_READWRITE ), STATUS_NOT_SUPPORTED );
    addr = (void *)(MAXADDR + 1);
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_2 );
    addr = (void *)0x1000;
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_2 );
    ck_assert_uint_eq( alloc_error( (void *)0xffff, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE ),
                       ERROR_INVALID_PARAMETER );
    addr = (void *)(MAXADDR + 1 - G);
    size = G + P;
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_4 );
    addr = NULL;
    size = 0;
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_4 );
    size = ~(SIZE_T)0;
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_4 );
    /* outputs are left alone on failure */
    ck_assert_ptr_null( addr );
    ck_assert_uint_eq( size, ~(SIZE_T)0 );
}
END_TEST

START_TEST(test_free_errors)
{
    char *addr = VirtualAlloc( NULL, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE );
    void *base = addr;
    SIZE_T size = 0;

    ck_assert_ptr_nonnull( addr );
    ck_assert( !VirtualFree( addr, 0, MEM_DECOMMIT | MEM_RELEASE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, 0 ), STATUS_INVALID_PARAMETER_4 );
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_FREE ), STATUS_INVALID_PARAMETER_4 );
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, 1 | MEM_RELEASE ),
                      STATUS_INVALID_PARAMETER_4 );     /* placeholders are not emulated */
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), NULL, &size, MEM_RELEASE ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, NULL, MEM_RELEASE ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( NtFreeVirtualMemory( NULL, &base, &size, MEM_RELEASE ), STATUS_INVALID_HANDLE );
    ck_assert_int_eq( NtFreeVirtualMemory( (HANDLE)0x1234, &base, &size, MEM_RELEASE ), STATUS_NOT_SUPPORTED );
    base = (void *)(MAXADDR + 1);
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_RELEASE ),
                      STATUS_INVALID_PARAMETER_2 );
    base = addr;
    size = MAXADDR;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_RELEASE ),
                      STATUS_INVALID_PARAMETER_3 );
    ck_assert_ptr_eq( base, addr );
    ck_assert_uint_eq( size, MAXADDR );
    ck_assert_uint_eq( query( addr ).State, MEM_COMMIT );            /* nothing happened */
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

START_TEST(test_query_errors)
{
    char *addr = VirtualAlloc( NULL, P, MEM_COMMIT, PAGE_READWRITE );
    MEMORY_BASIC_INFORMATION info;
    SIZE_T written;

    ck_assert_ptr_nonnull( addr );
    POISON(written);
    ck_assert_int_eq( NtQueryVirtualMemory( NtCurrentProcess(), addr, 1, &info, sizeof(info), &written ),
                      STATUS_INVALID_INFO_CLASS );
    ck_assert_int_eq( NtQueryVirtualMemory( NtCurrentProcess(), addr, MemoryBasicInformation, &info,
                                            sizeof(info) - 1, &written ), STATUS_INFO_LENGTH_MISMATCH );
    ck_assert_uint_eq( written, 0xccccccccccccccccull );
    SetLastError( 0xdeadbeef );
    ck_assert_uint_eq( VirtualQuery( addr, &info, sizeof(info) - 1 ), 0 );
    ck_assert_uint_eq( GetLastError(), ERROR_BAD_LENGTH );
    ck_assert_uint_eq( VirtualQuery( (void *)(MAXADDR + 1), &info, sizeof(info) ), 0 );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert_uint_eq( VirtualQuery( addr, NULL, sizeof(info) ), 0 );
    ck_assert_uint_eq( GetLastError(), ERROR_NOACCESS );
    ck_assert_int_eq( NtQueryVirtualMemory( NtCurrentProcess(), addr, MemoryBasicInformation, &info,
                                            sizeof(info), (SIZE_T *)8 ), STATUS_ACCESS_VIOLATION );
    ck_assert_int_eq( NtQueryVirtualMemory( NtCurrentProcess(), addr, MemoryBasicInformation, &info,
                                            sizeof(info) + 8, NULL ), STATUS_SUCCESS );
    ck_assert_int_eq( NtQueryVirtualMemory( NULL, addr, MemoryBasicInformation, &info, sizeof(info), NULL ),
                      STATUS_INVALID_HANDLE );
    ck_assert_uint_eq( RtlNtStatusToDosError( STATUS_INVALID_INFO_CLASS ), ERROR_INVALID_PARAMETER );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

START_TEST(test_protect_errors)
{
    char *addr = VirtualAlloc( NULL, 2 * P, MEM_RESERVE, PAGE_READWRITE );
    void *base = addr;
    SIZE_T size = P;
    DWORD old;
    ULONG nt_old;

    ck_assert_ptr_nonnull( addr );
    ck_assert_ptr_eq( VirtualAlloc( addr, P, MEM_COMMIT, PAGE_READWRITE ), addr );
    old = 0xdeadbeef;
    ck_assert( !VirtualProtect( addr, P, 0, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( !VirtualProtect( addr, P, PAGE_READWRITE | PAGE_EXECUTE_WRITECOPY, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( !VirtualProtect( addr, P, PAGE_WRITECOPY, &old ) );   /* private memory */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( !VirtualProtect( addr, P, PAGE_READONLY, NULL ) );
    ck_assert_uint_eq( GetLastError(), ERROR_NOACCESS );
    ck_assert( !VirtualProtect( addr, 3 * P, PAGE_READONLY, &old ) ); /* past the allocation */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualProtect( addr, 2 * P, PAGE_READONLY, &old ) ); /* page 1 not committed */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert_int_eq( NtProtectVirtualMemory( NtCurrentProcess(), &base, &size, PAGE_READONLY, &nt_old ), 0 );
    ck_assert_uint_eq( nt_old, PAGE_READWRITE );
    base = addr + P;
    ck_assert_int_eq( NtProtectVirtualMemory( NtCurrentProcess(), &base, &size, PAGE_READONLY, &nt_old ),
                      STATUS_NOT_COMMITTED );
    ck_assert_int_eq( NtProtectVirtualMemory( NULL, &base, &size, PAGE_READONLY, &nt_old ),
                      STATUS_INVALID_HANDLE );
    ck_assert_int_eq( NtProtectVirtualMemory( NtCurrentProcess(), NULL, &size, PAGE_READONLY, &nt_old ),
                      STATUS_ACCESS_VIOLATION );
    ck_assert_uint_eq( old, 0xdeadbeef );            /* failures write nothing */
    ck_assert_uint_eq( query( addr ).Protect, PAGE_READONLY );
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
}
END_TEST

/* The statuses this part added, as RtlNtStatusToDosError converts them. */
START_TEST(test_status_additions)
{
    ck_assert_uint_eq( RtlNtStatusToDosError( STATUS_INVALID_INFO_CLASS ), ERROR_INVALID_PARAMETER );
    ck_assert_uint_eq( RtlNtStatusToDosError( STATUS_NOT_COMMITTED ), ERROR_INVALID_ADDRESS );
    ck_assert_uint_eq( RtlNtStatusToDosError( STATUS_WORKING_SET_QUOTA ), ERROR_WORKING_SET_QUOTA );
    ck_assert_str_eq( awe_ntstatus_name( STATUS_NOT_COMMITTED ), "STATUS_NOT_COMMITTED" );
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

/* A large reservation costs no memory; queries over it stay exact. */
START_TEST(test_large_reservation)
{
    const size_t size = (size_t)8 << 30;
    MEMORY_BASIC_INFORMATION info;
    char *addr = VirtualAlloc( NULL, size, MEM_RESERVE, PAGE_READWRITE );

    ck_assert_ptr_nonnull( addr );
    ck_assert_ptr_eq( VirtualAlloc( addr + size - P, P, MEM_COMMIT, PAGE_READWRITE ), addr + size - P );
    ck_assert_ptr_eq( VirtualAlloc( addr + 3 * P, P, MEM_COMMIT, PAGE_READWRITE ), addr + 3 * P );
    info = query( addr + 4 * P );
    check_info( info, addr + 4 * P, addr, PAGE_READWRITE, size - 5 * P, MEM_RESERVE, 0, MEM_PRIVATE );
    info = query( addr );
    ck_assert_uint_eq( info.RegionSize, 3 * P );
    addr[size - 1] = 1;
    ck_assert( VirtualFree( addr, 0, MEM_RELEASE ) );
    /* more than the address space */
    ck_assert_ptr_null( VirtualAlloc( NULL, (SIZE_T)1 << 62, MEM_RESERVE, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert_ptr_null( VirtualAlloc( NULL, MAXADDR - 0x20000, MEM_RESERVE, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_NOT_ENOUGH_MEMORY );
}
END_TEST

/* ---- MEM_PHYSICAL ------------------------------------------------------------------------- */

static char *awe_region( SIZE_T pages )
{
    char *awe = VirtualAlloc( NULL, pages * P, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );

    ck_assert_ptr_nonnull( awe );
    return awe;
}

/* V01-V08: what reserves an AWE region and what does not. */
START_TEST(test_physical_reserve_flags)
{
    char *awe = awe_region( 16 ), *top;
    struct awe_region *region = region_of( awe );
    void *addr = NULL;
    SIZE_T size = 16 * P;

    ck_assert_uint_eq( (uintptr_t)awe & (G - 1), 0 );                                   /* V01 */
    ck_assert_ptr_nonnull( region );
    ck_assert_uint_eq( region->base, (uintptr_t)awe );
    ck_assert_uint_eq( region->pages, 16 );
    ck_assert( !can_read( awe ) );

    ck_assert_uint_eq( alloc_error( NULL, 16 * P, MEM_PHYSICAL, PAGE_READWRITE ), ERROR_INVALID_PARAMETER );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_PHYSICAL, PAGE_READWRITE ), STATUS_INVALID_PARAMETER_5 );   /* V02 */
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_COMMIT | MEM_PHYSICAL, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );                                       /* V03 */
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_PHYSICAL, PAGE_READONLY ),
                      STATUS_INVALID_PAGE_PROTECTION );                                   /* V04 */
    ck_assert_uint_eq( alloc_error( NULL, 16 * P, MEM_RESERVE | MEM_PHYSICAL, PAGE_EXECUTE_READWRITE ),
                       ERROR_INVALID_PARAMETER );                                         /* V05 */
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_PHYSICAL | MEM_WRITE_WATCH, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );                                       /* V07 */
    size = G;
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_64K_PAGES, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );                                       /* V08 */
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESET | MEM_PHYSICAL, PAGE_READWRITE ),
                      STATUS_INVALID_PARAMETER_5 );
    ck_assert_int_eq( nt_alloc( &addr, &size, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE | PAGE_GUARD ),
                      STATUS_INVALID_PAGE_PROTECTION );
    ck_assert_ptr_null( addr );

    top = VirtualAlloc( NULL, 4 * P, MEM_RESERVE | MEM_PHYSICAL | MEM_TOP_DOWN, PAGE_READWRITE ); /* V06 */
    ck_assert_ptr_nonnull( top );
    ck_assert_ptr_nonnull( region_of( top ) );
    /* nothing else can be reserved over a region */
    ck_assert_ptr_null( VirtualAlloc( awe, P, MEM_RESERVE, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert_ptr_null( VirtualAlloc( awe, P, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( VirtualFree( top, 0, MEM_RELEASE ) );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
    ck_assert_ptr_null( region_of( awe ) );
}
END_TEST

/* A region at a given address: base on the granularity, size in pages. */
START_TEST(test_physical_reserve_at)
{
    char *awe = awe_region( 8 ), *again;          /* makes room for what follows */
    SIZE_T size = 3 * P;
    void *base;

    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
    base = awe + 0x2345;
    ck_assert_int_eq( nt_alloc( &base, &size, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE ), STATUS_SUCCESS );
    ck_assert_ptr_eq( base, awe );
    ck_assert_uint_eq( size, 0x6000 );
    ck_assert_uint_eq( region_of( awe )->pages, 6 );
    again = VirtualAlloc( awe + G, P, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE );
    if (again) ck_assert( VirtualFree( again, 0, MEM_RELEASE ) );    /* the next granule may be taken */
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

/* V09, V16: queries of an AWE region. */
START_TEST(test_physical_query)
{
    char *awe = awe_region( 16 );
    MEMORY_BASIC_INFORMATION info;

    info = query( awe + 100 );
    check_info( info, awe, awe, PAGE_READWRITE, 16 * P, MEM_RESERVE, 0, MEM_PRIVATE );   /* V09 */
    ck_assert_int_eq( map_frames( awe + 2 * P, 2, t.pfn ), STATUS_SUCCESS );
    info = query( awe );
    check_info( info, awe, awe, PAGE_READWRITE, 2 * P, MEM_RESERVE, 0, MEM_PRIVATE );    /* V16 */
    info = query( awe + 2 * P );
    check_info( info, awe + 2 * P, awe, PAGE_READWRITE, 2 * P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    info = query( awe + 3 * P + 7 );
    check_info( info, awe + 3 * P, awe, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE );
    info = query( awe + 4 * P );
    check_info( info, awe + 4 * P, awe, PAGE_READWRITE, 12 * P, MEM_RESERVE, 0, MEM_PRIVATE );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

/* V10-V14: commit, reset, partial or misplaced frees and locking are refused. */
START_TEST(test_physical_refusals)
{
    char *awe = awe_region( 16 );
    void *base = awe + P;
    SIZE_T size = 0;

    ck_assert_int_eq( map_frames( awe, 1, t.pfn ), STATUS_SUCCESS );
    ck_assert_ptr_null( VirtualAlloc( awe, P, MEM_COMMIT, PAGE_READWRITE ) );           /* V10 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    size = P;
    ck_assert_int_eq( nt_alloc( &base, &size, MEM_COMMIT, PAGE_READWRITE ), STATUS_CONFLICTING_ADDRESSES );
    ck_assert_int_eq( nt_alloc( &base, &size, MEM_RESET, PAGE_READWRITE ), STATUS_CONFLICTING_ADDRESSES );

    ck_assert( !VirtualFree( awe + P, 0, MEM_RELEASE ) );                                /* V11 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    size = 0;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_RELEASE ),
                      STATUS_FREE_VM_NOT_AT_BASE );
    base = awe;
    size = P;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_RELEASE ),
                      STATUS_FREE_VM_NOT_AT_BASE );                                      /* V12 */
    ck_assert_ptr_eq( base, awe );
    ck_assert_uint_eq( size, P );
    ck_assert( !VirtualFree( awe, P, MEM_DECOMMIT ) );                                   /* V13 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    size = 0;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_DECOMMIT ),
                      STATUS_MEMORY_NOT_ALLOCATED );
    ck_assert( !VirtualLock( awe, P ) );                                                 /* V14 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    size = P;
    ck_assert_int_eq( NtLockVirtualMemory( NtCurrentProcess(), &base, &size, LOCK_MAP_PROCESS ),
                      STATUS_INCOMPATIBLE_FILE_MAP );

    /* the region is intact: still mapped, still queried, still released whole */
    ck_assert( can_write( awe ) );
    ck_assert_uint_eq( query( awe + P ).RegionSize, 15 * P );
    base = awe;
    size = 16 * P;
    ck_assert_int_eq( NtFreeVirtualMemory( NtCurrentProcess(), &base, &size, MEM_RELEASE ), STATUS_SUCCESS );
    ck_assert_ptr_null( region_of( awe ) );
}
END_TEST

/* V15, V17, V18, V19: VirtualProtect on AWE pages. */
START_TEST(test_physical_protect)
{
    char *awe = awe_region( 16 );
    MEMORY_BASIC_INFORMATION info;
    DWORD old;

    old = 0xdeadbeef;
    ck_assert( VirtualProtect( awe, P, PAGE_READONLY, &old ) );                          /* V15 */
    ck_assert_uint_eq( old, PAGE_NOACCESS );
    ck_assert_uint_eq( query( awe ).State, MEM_RESERVE );

    ck_assert_int_eq( map_frames( awe, 1, t.pfn ), STATUS_SUCCESS );
    strcpy( awe, "frame 0" );
    ck_assert( VirtualProtect( awe, P, PAGE_READONLY, &old ) );                          /* V17 */
    ck_assert_uint_eq( old, PAGE_READWRITE );
    ck_assert( can_read( awe ) && !can_write( awe ) );
    ck_assert_str_eq( awe, "frame 0" );
    info = query( awe );
    check_info( info, awe, awe, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE );
    ck_assert( VirtualProtect( awe, P, PAGE_NOACCESS, &old ) );
    ck_assert_uint_eq( old, PAGE_READONLY );
    ck_assert( !can_read( awe ) );
    ck_assert_uint_eq( query( awe ).Protect, PAGE_NOACCESS );
    ck_assert_uint_eq( query( awe ).State, MEM_COMMIT );

    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualProtect( awe, P, PAGE_EXECUTE_READ, &old ) );                     /* V18 */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualProtect( awe, P, PAGE_WRITECOPY, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualProtect( awe, P, PAGE_READWRITE | PAGE_GUARD, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualProtect( awe, P, PAGE_READWRITE | PAGE_NOCACHE, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert( !VirtualProtect( awe, P, PAGE_READONLY | PAGE_READWRITE, &old ) );        /* not a protection */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_PARAMETER );
    ck_assert( !VirtualProtect( awe + 15 * P, 2 * P, PAGE_READONLY, &old ) );            /* past the end */
    ck_assert_uint_eq( GetLastError(), ERROR_INVALID_ADDRESS );
    ck_assert_uint_eq( old, PAGE_READONLY );

    ck_assert_int_eq( map_frames( awe, 1, NULL ), STATUS_SUCCESS );                     /* V19 */
    ck_assert_int_eq( map_frames( awe, 1, t.pfn ), STATUS_SUCCESS );
    ck_assert( can_write( awe ) );
    ck_assert_str_eq( awe, "frame 0" );
    ck_assert_uint_eq( query( awe ).Protect, PAGE_READWRITE );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

/* Only mapped pages change; the old protection is the first page's. */
START_TEST(test_physical_protect_mixed)
{
    char *awe = awe_region( 16 );
    struct awe_region *region = region_of( awe );
    uintptr_t pfns[3] = { t.pfn[9], t.pfn[4], t.pfn[5] };
    DWORD old;

    ck_assert_int_eq( map_frames( awe + 2 * P, 3, pfns ), STATUS_SUCCESS );
    ck_assert_int_eq( map_frames( awe + 8 * P, 2, t.pfn ), STATUS_SUCCESS );
    ck_assert( VirtualProtect( awe + P + 1, 8 * P, PAGE_READONLY, &old ) );     /* pages 1-9 */
    ck_assert_uint_eq( old, PAGE_NOACCESS );
    ck_assert( !can_write( awe + 2 * P ) && !can_write( awe + 4 * P ) && !can_write( awe + 8 * P ) );
    ck_assert( can_read( awe + 9 * P ) && !can_write( awe + 9 * P ) );
    ck_assert_uint_eq( query( awe + 2 * P ).RegionSize, 3 * P );
    ck_assert_uint_eq( query( awe + 5 * P ).State, MEM_RESERVE );
    ck_assert( VirtualProtect( awe + 3 * P, P, PAGE_READWRITE, &old ) );
    ck_assert_uint_eq( old, PAGE_READONLY );
    ck_assert( can_write( awe + 3 * P ) && !can_write( awe + 4 * P ) );
    ck_assert_uint_eq( query( awe + 2 * P ).RegionSize, P );
    /* the planner's VMA count is the kernel's */
    if (!getenv( "AWE_UNDER_VALGRIND" )) ck_assert_uint_eq( kernel_vmas( awe, 16 * P ), region->vmas );
    ck_assert_uint_eq( region->vmas, awe_region_count_vmas( region ) );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

/* V20: releasing a region unmaps its frames; they survive and map elsewhere with their data. */
START_TEST(test_physical_release_keeps_frames)
{
    char *awe = awe_region( 16 ), *awe2;
    DWORD old;
    size_t i;

    ck_assert_int_eq( map_frames( awe, 4, t.pfn ), STATUS_SUCCESS );
    for (i = 0; i < 4; i++) sprintf( awe + i * P, "frame %zu", i );
    ck_assert( VirtualProtect( awe + P, P, PAGE_READONLY, &old ) );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
    ck_assert_ptr_null( region_of( awe ) );
    ck_assert_uint_eq( awe_regions_frame_va( &awe_client.regions, 0 ), 0 );
    ck_assert_uint_eq( awe_client.regions.mapped, 0 );
    ck_assert( awe_frames_is_allocated( &t.frames, 0 ) );
    ck_assert_uint_ne( query( awe ).State, MEM_RESERVE );

    awe2 = awe_region( 8 );
    ck_assert_int_eq( map_frames( awe2 + 4 * P, 4, t.pfn ), STATUS_SUCCESS );
    for (i = 0; i < 4; i++)
    {
        char expect[16];
        sprintf( expect, "frame %zu", i );
        ck_assert_str_eq( awe2 + (4 + i) * P, expect );
    }
    ck_assert( can_write( awe2 + 5 * P ) );
    ck_assert( VirtualFree( awe2, 0, MEM_RELEASE ) );
}
END_TEST

/* AWE regions are not inherited: a forked child has neither the region nor its frames. */
START_TEST(test_physical_not_inherited)
{
    char *awe = awe_region( 4 ), *plain = VirtualAlloc( NULL, P, MEM_COMMIT, PAGE_READWRITE );
    int status;
    pid_t pid;

    ck_assert_int_eq( map_frames( awe, 1, t.pfn ), STATUS_SUCCESS );
    strcpy( awe, "parent" );
    strcpy( plain, "ordinary" );
    pid = fork();
    ck_assert_int_ge( pid, 0 );
    if (!pid)
    {
        MEMORY_BASIC_INFORMATION info;
        int code = 0;

        if (kernel_vmas( awe, 4 * P )) code |= 1;                    /* the range is gone */
        if (!VirtualQuery( awe, &info, sizeof(info) ) || info.State != MEM_FREE) code |= 2;
        if (strcmp( plain, "ordinary" ) || !VirtualQuery( plain, &info, sizeof(info) ) ||
            info.State != MEM_COMMIT)
            code |= 4;
        if (VirtualFree( awe, 0, MEM_RELEASE )) code |= 8;
        _exit( code );
    }
    ck_assert_int_eq( waitpid( pid, &status, 0 ), pid );
    ck_assert( WIFEXITED( status ) );
    ck_assert_int_eq( WEXITSTATUS( status ), 0 );
    ck_assert_str_eq( awe, "parent" );
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
    ck_assert( VirtualFree( plain, 0, MEM_RELEASE ) );
}
END_TEST

/* Writes each frame's PFN into its first word through a temporary mapping of the memfd. */
static void tag_frames( void )
{
    uint32_t *all = mmap( NULL, FRAMES * P, PROT_READ | PROT_WRITE, MAP_SHARED, t.memfd, 0 );
    size_t i;

    ck_assert_ptr_ne( all, MAP_FAILED );
    for (i = 0; i < FRAMES; i++) all[i * P / 4] = (uint32_t)t.pfn[i];
    munmap( all, FRAMES * P );
}

/* Random maps, unmaps and protections: after every step each page is as accessible as the
 * tables say and shows its frame, VirtualQuery agrees, and the kernel uses the VMAs the
 * planner counted. */
START_TEST(test_physical_random_walk)
{
    static const DWORD prots[3] = { PAGE_READWRITE, PAGE_READONLY, PAGE_NOACCESS };
    unsigned int seed = 11, step, steps = awe_test_slow_tool() ? 60 : 300;
    char *awe = awe_region( 32 );
    struct awe_region *region = region_of( awe );
    size_t i;

    tag_frames();
    for (step = 0; step < steps; step++)
    {
        size_t page = (seed = seed * 1103515245 + 12345) >> 16 & 31;
        size_t frame = (seed = seed * 1103515245 + 12345) >> 16 & (FRAMES - 1);
        size_t count = 1 + ((seed = seed * 1103515245 + 12345) >> 16 & 3);
        unsigned int what = (seed = seed * 1103515245 + 12345) >> 16 & 3;
        uintptr_t run[4];
        DWORD old;

        if (page + count > 32) count = 32 - page;
        if (frame + count > FRAMES) frame = FRAMES - count;
        for (i = 0; i < count; i++) run[i] = t.pfn[frame + i];
        if (what == 0) map_frames( awe + page * P, count, NULL );
        else if (what == 1) map_frames( awe + page * P, count, run );   /* may be mapped elsewhere */
        else AWE_EXPECT( VirtualProtect( awe + page * P, count * P, prots[(seed >> 8) % 3], &old ) );

        for (i = 0; i < 32; i++)
        {
            char *va = awe + i * P;
            uint32_t pfn = region->pfn[i];
            enum awe_prot prot = region->prot[i];
            MEMORY_BASIC_INFORMATION info;

            AWE_EXPECT_EQ( can_read( va ), pfn && prot != AWE_PROT_NOACCESS );
            AWE_EXPECT_EQ( can_write( va ), pfn && prot == AWE_PROT_READWRITE );
            if (pfn && prot != AWE_PROT_NOACCESS) AWE_EXPECT_EQ( *(volatile uint32_t *)va, pfn );
            AWE_EXPECT( VirtualQuery( va, &info, sizeof(info) ) == sizeof(info) );
            AWE_EXPECT_EQ( info.State, pfn ? MEM_COMMIT : MEM_RESERVE );
            AWE_EXPECT_EQ( info.Protect, pfn ? prots[prot] : 0 );
        }
        AWE_EXPECT_EQ( region->vmas, awe_region_count_vmas( region ) );
        if (!getenv( "AWE_UNDER_VALGRIND" )) AWE_EXPECT_EQ( kernel_vmas( awe, 32 * P ), region->vmas );
    }
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

static int fail_countdown;

static int failing_mprotect( void *addr, size_t len, int prot )
{
    if (fail_countdown-- == 0)
    {
        /* what a failed mprotect may leave behind: part of the range changed */
        mprotect( addr, AWE_PAGE_SIZE, prot );
        errno = ENOMEM;
        return -1;
    }
    return mprotect( addr, len, prot );
}

/* All or nothing: a failing mprotect leaves every page as it was; the budget refuses splits. */
START_TEST(test_physical_protect_failures)
{
    char *awe = awe_region( 16 );
    struct awe_region *region = region_of( awe );
    uintptr_t pfns[4] = { t.pfn[0], t.pfn[1], t.pfn[5], t.pfn[6] };
    DWORD old = 0xdeadbeef;
    size_t vmas;

    ck_assert_int_eq( map_frames( awe, 2, pfns ), STATUS_SUCCESS );
    ck_assert_int_eq( map_frames( awe + 4 * P, 2, pfns + 2 ), STATUS_SUCCESS );
    ck_assert( VirtualProtect( awe + P, P, PAGE_NOACCESS, &old ) );
    fail_countdown = _i;
    awe_map_syscalls.mprotect = failing_mprotect;
    SetLastError( 0xdeadbeef );
    ck_assert( !VirtualProtect( awe, 6 * P, PAGE_READONLY, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_NO_SYSTEM_RESOURCES );
    awe_map_syscalls.mprotect = mprotect;
    ck_assert_uint_eq( old, PAGE_READWRITE );
    ck_assert( can_write( awe ) && !can_read( awe + P ) && can_write( awe + 4 * P ) && can_write( awe + 5 * P ) );
    ck_assert_uint_eq( query( awe + 4 * P ).Protect, PAGE_READWRITE );
    ck_assert_uint_eq( region->vmas, awe_region_count_vmas( region ) );
    if (!getenv( "AWE_UNDER_VALGRIND" )) ck_assert_uint_eq( kernel_vmas( awe, 16 * P ), region->vmas );

    /* a protect that splits a VMA needs room under the map budget */
    vmas = awe_client.regions.vmas;
    awe_client.regions.vma_limit = vmas;
    ck_assert( !VirtualProtect( awe + 4 * P, P, PAGE_READONLY, &old ) );
    ck_assert_uint_eq( GetLastError(), ERROR_NO_SYSTEM_RESOURCES );
    ck_assert( can_write( awe + 4 * P ) );
    awe_client.regions.vma_limit = vmas + 1;
    ck_assert( VirtualProtect( awe + 5 * P, P, PAGE_READONLY, &old ) );
    awe_client.regions.vma_limit = 0;
    ck_assert( VirtualFree( awe, 0, MEM_RELEASE ) );
}
END_TEST

/* ---- concurrency ------------------------------------------------------------------------- */

#define THREADS 4

static void *ordinary_worker( void *arg )
{
    unsigned int i, rounds = awe_test_slow_tool() ? 50 : 400, id = (unsigned int)(uintptr_t)arg;
    MEMORY_BASIC_INFORMATION info;
    DWORD old;

    for (i = 0; i < rounds; i++)
    {
        char *addr = VirtualAlloc( NULL, (1 + i % 7) * P, MEM_RESERVE, PAGE_READWRITE );

        AWE_EXPECT( addr != NULL );
        AWE_EXPECT( VirtualAlloc( addr, P, MEM_COMMIT, PAGE_READWRITE ) == addr );
        addr[0] = (char)id;
        AWE_EXPECT( VirtualProtect( addr, P, PAGE_READONLY, &old ) && old == PAGE_READWRITE );
        AWE_EXPECT( VirtualQuery( addr, &info, sizeof(info) ) == sizeof(info) );
        AWE_EXPECT( info.AllocationBase == addr && info.Protect == PAGE_READONLY );
        AWE_EXPECT( addr[0] == (char)id );
        AWE_EXPECT( VirtualFree( addr, 0, MEM_RELEASE ) );
    }
    return NULL;
}

/* Threads allocating, protecting, querying and freeing their own memory at once. */
START_TEST(test_ordinary_threads)
{
    pthread_t threads[THREADS];
    uintptr_t i;

    for (i = 0; i < THREADS; i++) ck_assert_int_eq( pthread_create( &threads[i], NULL, ordinary_worker, (void *)i ), 0 );
    for (i = 0; i < THREADS; i++) ck_assert_int_eq( pthread_join( threads[i], NULL ), 0 );
}
END_TEST

static struct
{
    char *awe;
    int   stop;                               /* set by the main thread: the workers end */
} shared;

static void *protect_worker( void *arg )
{
    unsigned int i, rounds = awe_test_slow_tool() ? 100 : 2000;
    DWORD old;

    for (i = 0; i < rounds; i++)
    {
        AWE_EXPECT( VirtualProtect( shared.awe, 2 * P, i & 1 ? PAGE_READWRITE : PAGE_READONLY, &old ) );
        AWE_EXPECT( old == (i & 1 ? PAGE_READONLY : PAGE_READWRITE) );
    }
    return NULL;
}

static void *map_worker( void *arg )
{
    unsigned int i = 0;

    while (!__atomic_load_n( &shared.stop, __ATOMIC_ACQUIRE ))
    {
        AWE_EXPECT( map_frames( shared.awe + (4 + i % 4) * P, 1, &t.pfn[10 + i % 4] ) == STATUS_SUCCESS );
        AWE_EXPECT( map_frames( shared.awe + (4 + i % 4) * P, 1, NULL ) == STATUS_SUCCESS );
        i++;
    }
    return NULL;
}

static void *query_worker( void *arg )
{
    MEMORY_BASIC_INFORMATION info;

    while (!__atomic_load_n( &shared.stop, __ATOMIC_ACQUIRE ))
    {
        AWE_EXPECT( VirtualQuery( shared.awe, &info, sizeof(info) ) == sizeof(info) );
        AWE_EXPECT( info.State == MEM_COMMIT && info.RegionSize == 2 * P );
        AWE_EXPECT( info.Protect == PAGE_READONLY || info.Protect == PAGE_READWRITE );
    }
    return NULL;
}

/* VirtualProtect and VirtualQuery on an AWE region while another thread maps in it. */
START_TEST(test_physical_threads)
{
    pthread_t protect, map, query_thread;
    struct awe_region *region;

    shared.awe = awe_region( 16 );
    shared.stop = 0;
    region = region_of( shared.awe );
    ck_assert_int_eq( map_frames( shared.awe, 2, t.pfn ), STATUS_SUCCESS );
    ck_assert_int_eq( pthread_create( &map, NULL, map_worker, NULL ), 0 );
    ck_assert_int_eq( pthread_create( &query_thread, NULL, query_worker, NULL ), 0 );
    ck_assert_int_eq( pthread_create( &protect, NULL, protect_worker, NULL ), 0 );
    ck_assert_int_eq( pthread_join( protect, NULL ), 0 );
    __atomic_store_n( &shared.stop, 1, __ATOMIC_RELEASE );
    ck_assert_int_eq( pthread_join( map, NULL ), 0 );
    ck_assert_int_eq( pthread_join( query_thread, NULL ), 0 );
    ck_assert_uint_eq( region->vmas, awe_region_count_vmas( region ) );
    ck_assert_uint_eq( region->mapped, 2 );
    ck_assert( can_write( shared.awe + P ) );
    ck_assert( VirtualFree( shared.awe, 0, MEM_RELEASE ) );
}
END_TEST

AWE_DEFINE_SUITE(virtual)
{
    Suite *s = suite_create( "virtual" );
    TCase *core = tcase_create( "core" ), *errors = tcase_create( "errors" );
    TCase *limits = tcase_create( "limits" ), *physical = tcase_create( "physical" );
    TCase *concurrency = tcase_create( "concurrency" );

    tcase_add_checked_fixture( core, setup, teardown );
    tcase_add_checked_fixture( errors, setup, teardown );
    tcase_add_checked_fixture( limits, setup, teardown );
    tcase_add_checked_fixture( physical, setup, teardown );
    tcase_add_checked_fixture( concurrency, setup, teardown );
    tcase_add_test( core, test_reserve_commit_release );
    tcase_add_test( core, test_commit_contents );
    tcase_add_test( core, test_query_runs );
    tcase_add_test( core, test_reserve_placement );
    tcase_add_test( core, test_reset );
    tcase_add_test( core, test_free_rounding );
    tcase_add_test( core, test_query_host_memory );
    tcase_add_test( core, test_host_memory_protect_lock );
    tcase_add_test( core, test_lock );
    tcase_add_test( core, test_system_info );
    tcase_add_test( core, test_zero_bits );
    tcase_add_test( errors, test_alloc_errors );
    tcase_add_test( errors, test_free_errors );
    tcase_add_test( errors, test_query_errors );
    tcase_add_test( errors, test_protect_errors );
    tcase_add_test( errors, test_status_additions );
    tcase_add_test( limits, test_large_reservation );
    tcase_add_loop_test( limits, test_physical_protect_failures, 0, 2 );
    tcase_add_test( physical, test_physical_reserve_flags );
    tcase_add_test( physical, test_physical_reserve_at );
    tcase_add_test( physical, test_physical_query );
    tcase_add_test( physical, test_physical_refusals );
    tcase_add_test( physical, test_physical_protect );
    tcase_add_test( physical, test_physical_protect_mixed );
    tcase_add_test( physical, test_physical_release_keeps_frames );
    tcase_add_test( physical, test_physical_not_inherited );
    tcase_add_test( physical, test_physical_random_walk );
    tcase_set_timeout( physical, 60 );
    tcase_add_test( concurrency, test_ordinary_threads );
    tcase_add_test( concurrency, test_physical_threads );
    tcase_set_timeout( concurrency, 120 );
    tcase_set_timeout( limits, 60 );
    suite_add_tcase( s, core );
    suite_add_tcase( s, errors );
    suite_add_tcase( s, limits );
    suite_add_tcase( s, physical );
    suite_add_tcase( s, concurrency );
    return s;
}
