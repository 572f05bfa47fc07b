/*
 * alloc — the malloc-family interposer: exact per-thread allocation counters and the entry
 * point of the sampling heap profiler (profiler/heapprof.c).
 *
 * profiler/alloc.c defines malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc. Linked into an executable (reconperf, the
 * tests) they override libc's for the whole process; built into libreconperf-preload.so they
 * do the same for any program through LD_PRELOAD. They forward to glibc's __libc_malloc & co.
 * (no dlsym, so no bootstrap problem; a preloaded tcmalloc exports the same names and then
 * receives the calls). Pointers are passed through untouched, so malloc_usable_size() and
 * every other allocator function keep working unchanged. Under ASan/TSan builds the calls go
 * to the sanitizer's allocator (dlsym(RTLD_NEXT)) instead.
 *
 * Cost when off: one load of a global flag and a predictable branch per call. When counting,
 * each allocation adds one to a per-thread slot (a plain store, no atomic read-modify-write);
 * the slots of live threads sit in a global list that alloc_counters_read() sums, and a
 * thread folds its slot into a retired total when it exits (pthread key destructor).
 * When sampling, each thread counts bytes down from an exponentially distributed start
 * (mean = rate), so a block of s bytes is sampled with probability 1 - exp(-s/rate), as in
 * tcmalloc and Go; a sampled block's stack and size go to the heap profile.
 *
 * Re-entry: a thread-local depth counter; allocations made by the profiler itself (the
 * unwinder, the tables, pprof encoding) are forwarded without being counted or sampled.
 * Fork: every lock is taken in pthread_atfork's prepare handler and released after; the child
 * keeps profiling and folds the counters of the threads it lost into the retired total.
 *
 * Threading: every function here may be called from any thread at any time, except from a
 * signal handler (none of them are async-signal-safe, like malloc itself).
 */
#ifndef RECONPERF_ALLOC_H
#define RECONPERF_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_DEFAULT_RATE (512 * 1024)	/* mean bytes between samples, as Go and jemalloc */

/* Is this object's malloc the one the process uses? (false when another definition wins,
 * e.g. a program that defines its own malloc runs under the preload library) */
bool alloc_available(void);

/* Exact counters: every call of the malloc family counted while on (from any thread). */
void alloc_count_start(void);
void alloc_count_stop(void);
/* Allocations and requested bytes since the process started counting, summed over threads
 * (live and exited). Either pointer may be NULL. */
void alloc_counters_read(uint64_t *allocs, uint64_t *bytes);
/* The calling thread's own counters (cheap: two thread-local loads). */
void alloc_thread_counters(uint64_t *allocs, uint64_t *bytes);

struct alloc_prof_opts {
	uint64_t rate;		/* mean bytes between samples; 0 = ALLOC_DEFAULT_RATE, 1 = all */
	uint64_t seed;		/* 0 = from the clock; fixed seeds make runs repeatable */
};

/*
 * The calling thread has just started (the pthread_create trampoline calls it). Only
 * ThreadSanitizer builds need to know: until then the hooks sample nothing in that thread.
 */
void alloc_thread_started(void);

/* Starts sampling (and counting). Stacks come from profiler/unwind.h. -EBUSY if running. */
int alloc_prof_start(const struct alloc_prof_opts *opts);
/* Stops sampling new blocks; frees of sampled blocks are still tracked (in-use stays right). */
void alloc_prof_stop(void);
bool alloc_prof_running(void);
/* Writes the heap profile (gzipped pprof: alloc_objects, alloc_space, inuse_objects,
 * inuse_space; inuse_space shown first by pprof, as for Go) atomically to path. */
int alloc_prof_write(const char *path);
/* Forgets every sample (a new profile starts from nothing; live blocks are no longer tracked). */
void alloc_prof_reset(void);

/*
 * gperftools' heap profiler, for `--profiler gperftools`: it lives inside libtcmalloc, which
 * must be the process's allocator from its first call, so the program re-executes itself with
 * LD_PRELOAD=libtcmalloc.so.4 (our malloc then forwards to tcmalloc's __libc_malloc).
 *   alloc_gperf_loaded()     is tcmalloc's heap profiler in this process?
 *   alloc_gperf_reexec(argv) execs /proc/self/exe with tcmalloc preloaded (returns only on
 *                            error: -errno; -ENOENT when libtcmalloc.so.4 is not installed)
 *   alloc_gperf_start(pfx)   HeapProfilerStart(pfx)
 *   alloc_gperf_write(path)  writes GetHeapProfile() (legacy text format) atomically, stops
 *   alloc_gperf_write_pprof(path, err, errlen)
 *                            the same converted to a symbolized pprof heap profile (exact:
 *                            gperftools records every allocation), stops
 * -ENOSYS when tcmalloc's heap profiler is not in the process.
 */
bool alloc_gperf_loaded(void);
int alloc_gperf_reexec(char *const argv[]);
int alloc_gperf_start(const char *prefix);
int alloc_gperf_write(const char *path);
int alloc_gperf_write_pprof(const char *path, char *err, size_t errlen);

#endif
