/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The process's AWE state: attaching to the server, the per-process AWE lock. */

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ntdll_private.h"

struct awe_client awe_client = { .attach_lock = PTHREAD_MUTEX_INITIALIZER, .server_fd = -1,
                                 .memfd = -1 };

/* A reference carries a memo that its operations update, so each thread locks through its own
 * copy of the AWE lock's reference, refreshed when the process attaches anew. */
static __thread struct
{
    uint32_t            epoch;
    struct awe_sync_ref ref;
} thread_lock;

static uint32_t last_epoch;                      /* protected by attach_lock */

/* A forked child must not speak on its parent's connection, nor keep it open: the server sees
 * the parent die only when every copy of the socket is closed.  AWE regions are not inherited
 * (MADV_DONTFORK), so the child starts with nothing. */
static void forget_in_child( void )
{
    pthread_mutex_init( &awe_client.attach_lock, NULL );
    awe_client_detach();
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork( void )
{
    pthread_atfork( NULL, NULL, forget_in_child );
}

static void publish_epoch( void )
{
    if (!++last_epoch) ++last_epoch;
    /* release: the state set up by the attachment is visible to whoever sees the epoch */
    atomic_store_explicit( &awe_client.epoch, last_epoch, memory_order_release );
}

static NTSTATUS attach( void )
{
    NTSTATUS status = STATUS_SUCCESS;

    pthread_once( &atfork_once, register_atfork );
    pthread_mutex_lock( &awe_client.attach_lock );
    if (!atomic_load_explicit( &awe_client.epoch, memory_order_relaxed ) &&
        !(status = awe_server_attach( &awe_client )))
        publish_epoch();
    pthread_mutex_unlock( &awe_client.attach_lock );
    return status;
}

NTSTATUS awe_client_lock( void )
{
    uint32_t epoch = atomic_load_explicit( &awe_client.epoch, memory_order_acquire );
    NTSTATUS status;
    int ret;

    if (!epoch)
    {
        if ((status = attach())) return status;
        epoch = atomic_load_explicit( &awe_client.epoch, memory_order_acquire );
    }
    if (thread_lock.epoch != epoch)
    {
        thread_lock.ref = awe_client.lock_ref;
        thread_lock.epoch = epoch;
    }
    /* -EOWNERDEAD: a thread died holding it (the lock is ours now); anything else means this
     * process scribbled on its own lock */
    ret = awe_sync_wait( &thread_lock.ref, AWE_SYNC_INFINITE );
    return ret && ret != -EOWNERDEAD ? STATUS_INTERNAL_ERROR : STATUS_SUCCESS;
}

NTSTATUS awe_client_attach( void )
{
    if (atomic_load_explicit( &awe_client.epoch, memory_order_acquire )) return STATUS_SUCCESS;
    return attach();
}

void awe_client_unlock( void )
{
    awe_mutex_release( &thread_lock.ref, NULL );
}

int awe_client_attach_local( const struct awe_pfn_layout *layout, uint32_t tag, int memfd,
                             awe_frame_owned_fn frame_owned )
{
    static struct awe_sync_shm local_lock;
    static uint32_t local_gen = 1;
    int ret;

    pthread_mutex_lock( &awe_client.attach_lock );
    awe_client_detach();
    if (!(ret = awe_regions_init( &awe_client.regions, layout, tag, frame_owned, NULL )) &&
        !(ret = awe_sync_ref_init( &awe_client.lock_ref, &local_lock, &local_gen, 1, local_gen,
                                   AWE_SYNC_MUTEX, 0 )) &&
        !(ret = awe_sync_create( &awe_client.lock_ref, 0 )))
    {
        awe_client.layout = *layout;
        awe_client.tag = tag;
        awe_client.memfd = memfd;
        awe_client.frame_owned = frame_owned;
        publish_epoch();
    }
    pthread_mutex_unlock( &awe_client.attach_lock );
    return ret;
}

void awe_client_detach( void )
{
    if (!atomic_load_explicit( &awe_client.epoch, memory_order_relaxed )) return;
    awe_regions_destroy( &awe_client.regions );
    awe_forget_sections();
    if (awe_client.server_fd >= 0)
    {
        /* server-attached state is ours to release; a local attach lent us its memfd */
        close( awe_client.server_fd );
        close( awe_client.memfd );
        munmap( (void *)awe_client.table, awe_client.table_size );
        munmap( awe_client.usage, AWE_PAGE_SIZE );
        awe_slab_view_close( awe_client.handles );
        awe_slab_view_close( awe_client.sync_view );
    }
    awe_client.handles = NULL;
    awe_client.sync_view = NULL;
    atomic_store_explicit( &awe_client.epoch, 0, memory_order_relaxed );
    awe_client.acked_seq = 0;
    awe_client.memfd = awe_client.server_fd = -1;
    atomic_store_explicit( &awe_client.server_lost, 0, memory_order_relaxed );
    awe_client.table = NULL;
    awe_client.usage = NULL;
}
