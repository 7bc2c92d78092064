/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AWE engine's embedding interface: what a host calls.
 *
 * The engine is the client half of the AWE emulation: the connection to awe-server (started on
 * first use), the frame tables the server publishes, the map state of the process's AWE
 * windows, the Map/Scatter planner and the mapper.  It has two hosts, which both call only
 * this interface:
 *   - libawe's own Windows layer (ntdll_side/physical.c, process.c, virtual.c), standalone;
 *   - Wine's ntdll (its unix side), through the patches in wine/patches/.
 * A host owns the address space: it reserves each AWE window (inaccessible, no commit charge)
 * and tells the engine about it; the engine only maps frames inside windows it was told of.
 *
 * This header needs nothing but <stddef.h> and <stdint.h>, so that a host compiles it together
 * with its own Windows headers; every name it declares begins with awe_.  Every function
 * returns an NTSTATUS value (Windows' numbers; 0 is success) as an int32_t.  Pointer arguments
 * are the caller's: the engine reads and writes them without faulting and answers
 * STATUS_ACCESS_VIOLATION (or STATUS_DATATYPE_MISALIGNMENT) where Windows does, in Windows'
 * order of checks (awe-spec.md section 2).  Every function may be called from any thread; lock
 * order: the host's address-space lock (if it has one), then the engine's. */

#ifndef __AWE_ENGINE_H
#define __AWE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* The calling process, as the process argument below (Windows' GetCurrentProcess()). */
#define AWE_ENGINE_CURRENT_PROCESS 0xffffffffu

/* ---- the host ------------------------------------------------------------------------------ */

struct awe_engine_host
{
    /* Step 6 of Allocate and Free (awe-spec.md 2.1): the process that the caller's handle names,
     * checked for PROCESS_VM_OPERATION, or the AWE section, checked for SECTION_MAP_WRITE.
     * Sets *process to AWE_ENGINE_CURRENT_PROCESS, to a handle from awe_engine_open_process or
     * to one from awe_engine_create_section, and *close when the engine is to close that
     * handle after the call; returns 0 or the status Windows gives for the handle
     * (STATUS_INVALID_HANDLE, also for a section that is not an AWE section;
     * STATUS_OBJECT_TYPE_MISMATCH, STATUS_ACCESS_DENIED). */
    int32_t (*resolve_process)( uintptr_t handle, uint32_t *process, int *close );
    /* Before an allocation, after step 6: a host that keeps its own tokens makes the server's
     * token of this process agree with the caller's (awe_engine_set_lock_privilege), so that
     * step 7 answers as its token would.  NULL: the server's token is the truth. */
    int32_t (*sync_privilege)( void );
};

/* Registers the host's callbacks (copied).  Without a host, handles are the server's own: any
 * value but the current-process pseudo-handle (-1) that fits in 32 bits names a server handle. */
extern void awe_engine_set_host( const struct awe_engine_host *host );

/* ---- physical pages (awe-spec.md sections 2.1-2.4) ---------------------------------------- *
 * process is the caller's handle, as the host's resolve_process understands it ((uintptr_t)-1
 * is the current process).  SeLockMemoryPrivilege is checked by the server against the token
 * it keeps for this process (see sync_privilege). */

extern int32_t awe_engine_allocate( uintptr_t process, uintptr_t *count, uintptr_t *pfns );

/* AllocateUserPhysicalPages2 (NtAllocateUserPhysicalPagesEx): params points to count
 * MEM_EXTENDED_PARAMETER structures (16 bytes each: a type in the low 8 bits of the first
 * word, a value in the second), checked first (awe-spec.md 2.1 step 1): a NumaNode of 0 (the
 * only node) and AttributeFlags of ZERO_PAGES_OPTIONAL (frames are zeroed anyway),
 * NONPAGED_LARGE or NONPAGED_HUGE.  Large frames are not there: the server answers
 * STATUS_INSUFFICIENT_RESOURCES after its handle and privilege checks, as Windows does on a
 * machine without large pages. */
extern int32_t awe_engine_allocate_ex( uintptr_t process, uintptr_t *count, uintptr_t *pfns,
                                       const void *params, uint32_t nparams );
extern int32_t awe_engine_free( uintptr_t process, uintptr_t *count, uintptr_t *pfns );
extern int32_t awe_engine_map( void *va, uintptr_t count, uintptr_t *pfns );
extern int32_t awe_engine_map_scatter( void **vas, uintptr_t count, uintptr_t *pfns );

/* ---- AWE sections (awe-spec.md 2.1 step 6, 2.5, 3.3) --------------------------------------- *
 * CreateFileMapping2 with MemSectionExtendedParameterUserPhysicalFlags: a section owning a
 * frame pool of its own.  Its handle serves Allocate and Free as their process argument (the
 * frames are the section's, charged to this process), and binds windows to it
 * (awe_engine_add_window_ex), where its frames may be mapped at any number of addresses at
 * once.  Its frames live until its last handle is closed and its last bound window released.
 * With AWE_ENGINE_SECTION_LARGE (SEC_LARGE_PAGES) the section's page is 2 MiB: counts and PFN
 * entries of Allocate, Free and Map are 2 MiB units (an entry is the PFN of the unit's first
 * 4 KiB frame), and bound windows and Map addresses are aligned to them (else
 * STATUS_INVALID_PARAMETER[_1]).  How they are backed is the server's option (--large-pages):
 * huge pages, emulated, or none (Allocate then fails with STATUS_INSUFFICIENT_RESOURCES).  A
 * large section needs SeLockMemoryPrivilege enabled (STATUS_PRIVILEGE_NOT_HELD).  Only this
 * process can use the section: its handles do not work in another process. */

#define AWE_ENGINE_SECTION_LARGE 0x1

/* Creates an AWE section with the given access mask (SECTION_MAP_WRITE for Allocate and
 * Free); *handle is closed with awe_engine_close. */
extern int32_t awe_engine_create_section( uint32_t flags, uint32_t access, uint32_t *handle );

/* The size of the section's page (4 KiB or 2 MiB), to which a host aligns the windows it
 * reserves for it.  STATUS_INVALID_HANDLE if handle is not an AWE section of this process. */
extern int32_t awe_engine_section_unit( uint32_t handle, size_t *bytes );

/* ---- other processes and the privilege ---------------------------------------------------- */

/* Opens the process with this Linux pid for allocate and free with the given access mask
 * (PROCESS_VM_OPERATION is what they need); *handle is closed with awe_engine_close. */
extern int32_t awe_engine_open_process( uint32_t pid, uint32_t access, uint32_t *handle );
extern int32_t awe_engine_close( uint32_t handle );

/* Makes the server's token of this process hold SeLockMemoryPrivilege enabled (or disabled):
 * for a host that keeps its own tokens and checked the privilege itself. */
extern int32_t awe_engine_set_lock_privilege( int enabled );

/* ---- AWE windows (MEM_PHYSICAL regions, awe-spec.md sections 2.5-2.8) ---------------------- */

/* Reserves size bytes (a page multiple) at addr (NULL: anywhere) as the engine's mapper wants
 * an AWE window's address space: PROT_NONE, MAP_NORESERVE.  A host may reserve the range its
 * own way instead, with the same properties.  Returns the address, or NULL with -errno in
 * *err. */
extern void *awe_engine_reserve( void *addr, size_t size, int *err );

/* The rules of a MEM_PHYSICAL reservation (awe-spec.md 2.5), for a host's
 * NtAllocateVirtualMemory: type includes MEM_PHYSICAL (0x400000).  STATUS_SUCCESS, or
 * STATUS_INVALID_PARAMETER_5 for the type (MEM_RESERVE missing, any flag but MEM_TOP_DOWN, or
 * MEM_64K_PAGES, which is MEM_PHYSICAL | MEM_LARGE_PAGES and not AWE) and
 * STATUS_INVALID_PAGE_PROTECTION for any protection but PAGE_READWRITE and PAGE_READONLY.  As
 * on Windows this is the first stage: awe_engine_add_window_ex takes PAGE_READONLY only for a
 * view bound to a section, so the host passes it the protection too. */
extern int32_t awe_engine_check_reserve( uint32_t type, uint32_t protect );

/* The rules of freeing inside a window (awe-spec.md 2.6), for a host's NtFreeVirtualMemory:
 * [addr, addr + size) (size 0: to the window's end, rounded to pages by the host) of the window
 * [base, base + window_size), with MEM_RELEASE (0x8000) or MEM_DECOMMIT (0x4000).  Returns
 * STATUS_SUCCESS when the whole window is to be released (then awe_engine_remove_window), else
 * STATUS_MEMORY_NOT_ALLOCATED (decommit) or STATUS_FREE_VM_NOT_AT_BASE (a part). */
extern int32_t awe_engine_check_free( const void *base, size_t window_size, const void *addr,
                                      size_t size, uint32_t type );

/* The host reserved [base, base + size) as an AWE window: from now on the engine maps frames
 * there.  STATUS_CONFLICTING_ADDRESSES if it overlaps a window. */
extern int32_t awe_engine_add_window( void *base, size_t size );

/* The same for a window bound to an AWE section (VirtualAlloc2 with a
 * MemExtendedParameterUserPhysicalHandle), section 0 meaning none: only that section's frames
 * map there.  protect is the reservation's: PAGE_READWRITE, or PAGE_READONLY for a bound
 * window, whose frames then always map read-only (a write faults, and VirtualProtect cannot
 * allow writing).  STATUS_INVALID_PAGE_PROTECTION for any other protection (PAGE_READONLY
 * without a section among them: V04), STATUS_INVALID_HANDLE for a handle that is not an AWE
 * section of this process, STATUS_INVALID_PARAMETER for a base or size that is not a multiple
 * of its page. */
extern int32_t awe_engine_add_window_ex( void *base, size_t size, uint32_t section, uint32_t protect );

/* The host releases the window at base: the engine unmaps its frames (the range stays
 * reserved and inaccessible) and forgets it; the frames stay allocated (awe-spec.md V20).
 * Then the host may give the range back.  STATUS_MEMORY_NOT_ALLOCATED if no window starts at
 * base; STATUS_INSUFFICIENT_RESOURCES (window unchanged) if the unmap failed. */
extern int32_t awe_engine_remove_window( void *base );

/* VirtualQuery inside a window: whether the page at va is mapped, its protection (a PAGE_*
 * value: NOACCESS, READONLY or READWRITE; 0 when unmapped) and the size of the run of pages
 * from va on in the same state. */
extern int32_t awe_engine_query_window( const void *va, int *mapped, uint32_t *protect,
                                        size_t *run_size );

/* VirtualProtect inside a window: PAGE_NOACCESS, PAGE_READONLY or PAGE_READWRITE on the mapped
 * pages of [va, va + size), grown to whole large pages in a window of a large section; *old is
 * the first page's protection (PAGE_NOACCESS if unmapped).  Any other protection is
 * STATUS_CONFLICTING_ADDRESSES; PAGE_READWRITE in a read-only window is
 * STATUS_INVALID_PAGE_PROTECTION, as for a protection a section view does not allow. */
extern int32_t awe_engine_protect_window( void *va, size_t size, uint32_t protect, uint32_t *old );

#endif  /* __AWE_ENGINE_H */
