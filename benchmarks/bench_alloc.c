/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of Allocate and Free against the bare memfd growth, populate, lock and punch.
 *
 *   bench_alloc [--quick] [--tsv FILE]
 *
 * ours:  AllocateUserPhysicalPages / FreeUserPhysicalPages of 1 GiB (quick: 64 MiB) in batches
 *        of 1 page, 512 pages and the whole amount, through a private awe-server that locks
 *        the frames (or runs --unlocked when this process may not lock that much).
 * floor: what the server's kernel work is without the protocol, the tables or the probing:
 *        the memfd grown in the same 2 MiB steps (ftruncate) under a mapping locked on fault
 *        (mlock2 MLOCK_ONFAULT, as the server does), each batch populated with
 *        MADV_POPULATE_WRITE (allocated, zeroed and locked), and freed with one
 *        FALLOC_FL_PUNCH_HOLE per batch.
 * There is no naive column.  Each repetition runs in a fresh process (a new AWE process with an
 * empty memfd, and a new floor memfd), so both grow from nothing every time; within it an
 * untimed floor round first warms the memory both will get, and the order of ours and the
 * floor alternates.  Costs are ns per frame; frames per second are
 * printed below the table. */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "bench.h"

#define PAGE        4096
#define MAX_REPS    15
#define GROW_FRAMES 512                 /* the server grows memfds 2 MiB at a time */

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

enum { ALLOC, FREE, NPHASES };

struct sample
{
    double ours[NPHASES];               /* ns per frame */
    double floor[NPHASES];
};

static size_t total_frames;
static int frames_locked;

static void fail_api( const char *what )
{
    bench_die( "%s failed: error %u", what, GetLastError() );
}

/* Allocates and frees total_frames frames in batches through the API; ns per frame each. */
static void run_ours( size_t batch, ULONG_PTR *pfns, double out[NPHASES] )
{
    size_t done;
    double t0, t1;

    t0 = bench_now_ns();
    for (done = 0; done < total_frames; )
    {
        ULONG_PTR n = batch < total_frames - done ? batch : total_frames - done;

        if (!AllocateUserPhysicalPages( GetCurrentProcess(), &n, pfns + done )) fail_api( "AllocateUserPhysicalPages" );
        if (!n) bench_die( "allocation stopped at %zu frames", done );
        done += n;
    }
    t1 = bench_now_ns();
    out[ALLOC] = (t1 - t0) / total_frames;
    for (done = 0; done < total_frames; )
    {
        ULONG_PTR n = batch < total_frames - done ? batch : total_frames - done;

        if (!FreeUserPhysicalPages( GetCurrentProcess(), &n, pfns + done )) fail_api( "FreeUserPhysicalPages" );
        done += n;
    }
    out[FREE] = (bench_now_ns() - t1) / total_frames;
}

/* The same amount with the bare system calls; ns per frame for each phase. */
static void run_floor( size_t batch, double out[NPHASES] )
{
    size_t done, size = 0, bytes = total_frames * PAGE;
    int fd = memfd_create( "bench-alloc", MFD_CLOEXEC );
    char *map;
    double t0, t1;

    if (fd < 0) bench_die( "memfd_create: %s", strerror( errno ) );
    /* the server reserves its mapping of a process's memfd once; so does the floor */
    if ((map = mmap( NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0 )) == MAP_FAILED)
        bench_die( "mmap: %s", strerror( errno ) );
    t0 = bench_now_ns();
    for (done = 0; done < total_frames; )
    {
        size_t n = batch < total_frames - done ? batch : total_frames - done;

        if (done + n > size)
        {
            size_t grown = (done + n + GROW_FRAMES - 1) / GROW_FRAMES * GROW_FRAMES;

            if (ftruncate( fd, (off_t)grown * PAGE ) ||
                (frames_locked && syscall( SYS_mlock2, map + size * PAGE, (grown - size) * PAGE, MLOCK_ONFAULT )))
                bench_die( "growing the floor memfd: %s", strerror( errno ) );
            size = grown;
        }
        if (madvise( map + done * PAGE, n * PAGE, MADV_POPULATE_WRITE ))
            bench_die( "MADV_POPULATE_WRITE: %s", strerror( errno ) );
        done += n;
    }
    t1 = bench_now_ns();
    out[ALLOC] = (t1 - t0) / total_frames;
    for (done = 0; done < total_frames; )
    {
        size_t n = batch < total_frames - done ? batch : total_frames - done;

        if (fallocate( fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)done * PAGE, (off_t)n * PAGE ))
            bench_die( "punch: %s", strerror( errno ) );
        done += n;
    }
    out[FREE] = (bench_now_ns() - t1) / total_frames;
    munmap( map, bytes );
    close( fd );
}

/* One repetition in a fresh process: returns ours and the floor through a pipe. */
static void run_rep( size_t batch, int rep, struct sample *s )
{
    int fds[2], status;
    pid_t pid;

    if (pipe( fds )) bench_die( "pipe: %s", strerror( errno ) );
    fflush( NULL );
    if ((pid = fork()) < 0) bench_die( "fork: %s", strerror( errno ) );
    if (!pid)
    {
        ULONG_PTR *pfns = malloc( total_frames * sizeof(*pfns) );
        struct sample out;

        close( fds[0] );
        if (!pfns) _exit( 1 );
        memset( pfns, 0, total_frames * sizeof(*pfns) );   /* the probe writes it anyway */
        bench_enable_lock_privilege();
        /* untimed: memory this guest has not touched for a while costs the host a fault on
         * first use, which would fall on whichever column ran first */
        run_floor( total_frames, out.floor );
        if (rep % 2)
        {
            run_floor( batch, out.floor );
            run_ours( batch, pfns, out.ours );
        }
        else
        {
            run_ours( batch, pfns, out.ours );
            run_floor( batch, out.floor );
        }
        if (write( fds[1], &out, sizeof(out) ) != sizeof(out)) _exit( 1 );
        _exit( 0 );
    }
    close( fds[1] );
    if (read( fds[0], s, sizeof(*s) ) != sizeof(*s)) bench_die( "repetition %d of batch %zu failed", rep, batch );
    close( fds[0] );
    if (waitpid( pid, &status, 0 ) != pid || !WIFEXITED( status ) || WEXITSTATUS( status ))
        bench_die( "repetition %d of batch %zu: child failed", rep, batch );
}

int main( int argc, char **argv )
{
    static struct bench_row rows[6];
    static char names[6][48];
    const char *server_opts[2] = { NULL, NULL };
    struct bench_options opt;
    size_t batches[3], i, nrows = 0;
    double start = bench_now_ns();
    char lock_why[160];
    int reps, rep, phase;

    bench_parse_args( argc, argv, &opt );
    total_frames = (opt.quick ? (64u << 20) : (1u << 30)) / PAGE;
    reps = opt.quick ? 3 : 5;
    batches[0] = 1;
    batches[1] = 512;
    batches[2] = total_frames;

    frames_locked = bench_can_lock( (uint64_t)total_frames * PAGE, lock_why, sizeof(lock_why) );
    if (!frames_locked) server_opts[0] = "--unlocked";
    bench_server_start( server_opts );

    printf( "Allocate and Free of %zu MiB vs the floor: medians of %d repetitions (%d a page at a time), "
            "each in a fresh process; frames %s\n", total_frames * PAGE >> 20, reps, reps > 3 ? 3 : reps, lock_why );
    printf( "  floor: ftruncate in 2 MiB steps under a mapping locked on fault, MADV_POPULATE_WRITE per\n"
            "         batch, FALLOC_FL_PUNCH_HOLE per batch\n" );
    fflush( stdout );

    for (i = 0; i < 3; i++)
    {
        /* a page at a time, 1 GiB is 262144 round trips each way: three repetitions do */
        int n = batches[i] == 1 && reps > 3 ? 3 : reps;
        double samples[2][NPHASES][MAX_REPS];

        for (rep = 0; rep < n; rep++)
        {
            struct sample s;

            run_rep( batches[i], rep, &s );
            for (phase = 0; phase < NPHASES; phase++)
            {
                samples[0][phase][rep] = s.ours[phase];
                samples[1][phase][rep] = s.floor[phase];
            }
        }
        for (phase = 0; phase < NPHASES; phase++)
        {
            snprintf( names[nrows], sizeof(names[0]), "%s_batch_%zu", phase == ALLOC ? "alloc" : "free", batches[i] );
            rows[nrows].name = names[nrows];
            rows[nrows].unit = "ns/frame";
            rows[nrows].ours = bench_median( samples[0][phase], n );
            rows[nrows].floor = bench_median( samples[1][phase], n );
            rows[nrows].naive = BENCH_NONE;
            nrows++;
        }
    }

    printf( "\n" );
    bench_print_header();
    for (i = 0; i < nrows; i++) bench_print_row( &rows[i] );
    printf( "\nframes per second (ours / floor):\n" );
    for (i = 0; i < nrows; i++)
        printf( "  %-22s %12.0f / %12.0f\n", rows[i].name, 1e9 / rows[i].ours, 1e9 / rows[i].floor );
    printf( "run time %.1f s\n", (bench_now_ns() - start) / 1e9 );
    bench_write_tsv( opt.tsv, rows, nrows );
    bench_server_stop();
    return 0;
}
