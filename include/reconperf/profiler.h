/*
 * reconperf CPU profiler — the C API to profile your own program.
 *
 *	struct rp_profiler_opts o = { .hz = 1000 };
 *	rp_profiler_start(&o);
 *	... work, in any number of threads ...
 *	rp_profiler_stop_write("cpu.pb.gz");	// gzipped pprof: go tool pprof cpu.pb.gz
 *
 * Every thread of the process is sampled every 1/hz seconds of its own CPU time (threads
 * alive at start and threads created later with pthread_create). The profile holds sample
 * types samples/count and cpu/nanoseconds (a sample's cpu value: its share of its thread's
 * CPU time, so each thread's samples add up to its CPU time; RECONPERF_CPU_WEIGHTS=period
 * in the environment for one period each), function names, files, lines and inlined
 * frames, and the labels set with prof_label_set(), so `go tool pprof -tagfocus
 * controller=backup` works. Link with libreconperf.a (whole archive: it wraps
 * pthread_create and dlopen).
 *
 * Or, without changing the program: `reconperf record -o cpu.pb.gz -- ./prog args`.
 *
 * Functions return 0 or a negative errno. Start and stop from one thread; prof_label_set
 * from any thread (it sets that thread's labels) and is async-signal-safe.
 */
#ifndef RECONPERF_PROFILER_H
#define RECONPERF_PROFILER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rp_profiler_opts {
	int hz;			/* samples per CPU-second per thread, 1..10000; 0 = 100 */
	const char *engine;	/* NULL/"auto" (timer up to 100 Hz; above, bpf-stack where
				 * eBPF may be loaded, else perf), "bpf-stack" (a cpu-clock
				 * per CPU and an eBPF program copying the interrupted
				 * thread's registers and stack top, unwound off the thread;
				 * root), "bpf" (the same clocks, the program signalling the
				 * thread, whose handler unwinds; root),
				 * "perf" (perf_event task-clock per thread), "timer" (POSIX
				 * CPU timers, at most one sample per kernel tick) */
	unsigned stack_copy;	/* bpf-stack: bytes of stack a sample copies at most (deeper
				 * stacks lose their outermost frames), 4096..65536; 0 =
				 * 32768 */
};

struct rp_profiler_stats {
	const char *engine;	/* the engine that ran: "bpf-stack", "bpf-cpu-clock",
				 * "perf-task-clock" or "posix-timer" */
	int hz;
	uint64_t samples, dropped, threads, thread_errors;
	int64_t duration_ns;
};

int rp_profiler_start(const struct rp_profiler_opts *o);
/* Is name one of rp_profiler_opts.engine's names ("auto", "bpf-stack", "bpf", "perf",
 * "timer")? */
bool rp_profiler_engine_known(const char *name);
/* What a failed rp_profiler_start(o) means (names the missing privilege for the bpf engines). */
const char *rp_profiler_strerror(const struct rp_profiler_opts *o, int err);
/* Stops, symbolizes against this process and writes the profile atomically. */
int rp_profiler_stop_write(const char *path);
/* Stops and discards. */
int rp_profiler_stop(void);
/* The figures of the last (or running) profile. */
void rp_profiler_stats(struct rp_profiler_stats *st);

/*
 * Sets the calling thread's label key to val (NULL clears it). key and val must stay valid
 * until the profile is written: string literals or interned strings. Up to 4 keys per thread.
 * reconperf's bench sets controller=NAME and phase=reconcile|queue|informer|store.
 */
void prof_label_set(const char *key, const char *val);

/*
 * The calling thread's value cell for label key (created, empty, when the thread has no
 * such key yet; NULL when its 4 keys are taken). Storing a value pointer into the cell is
 * prof_label_set(key, val) in a single store, for labels that change on a hot path (the
 * bench's phase, twice per reconcile): look the cell up once per thread, keep it in a
 * thread-local, then `*cell = "reconcile";`. Valid for the life of the thread.
 */
const char *volatile *prof_label_cell(const char *key);

/*
 * gperftools bridge: the same profile through gperftools' CPU profiler (libprofiler),
 * loaded with dlopen so reconperf runs without it. prof_gperftools_start() sets
 * CPUPROFILE_FREQUENCY=hz and calls ProfilerStart(legacy_path); prof_gperftools_stop()
 * calls ProfilerStop() and, when pprof_path is not NULL, converts the legacy profile to a
 * symbolized pprof file. -ENOENT when libprofiler.so.0 is not installed.
 */
int prof_gperftools_start(const char *legacy_path, int hz);
int prof_gperftools_stop(const char *legacy_path, const char *pprof_path);

/*
 * ---- Heap profiles and exact allocation counters (profiler/alloc.c) ----
 *
 *	rp_heap_start(0);			// sample every 512 KiB on average
 *	... work ...
 *	rp_heap_write("mem.pb.gz");		// go tool pprof -sample_index=alloc_space mem.pb.gz
 *
 * Linking libreconperf.a (whole archive) puts its malloc, free, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc in your program; they forward
 * to glibc and cost one predictable branch while nothing is on. The profile has Go's heap
 * sample types (alloc_objects, alloc_space, inuse_objects, inuse_space; inuse_space shown
 * by default) estimated from samples, and a numeric label `bytes` (the block size).
 * Or, without linking: `reconperf record --mem -o mem.pb.gz -- ./prog args`.
 *
 * Exact counters (every call, per thread, no atomic instruction):
 *	rp_alloc_count_start();
 *	rp_alloc_thread_counters(&a0, &b0); reconcile(); rp_alloc_thread_counters(&a1, &b1);
 *	// a1 - a0 allocations and b1 - b0 requested bytes in this reconcile
 */
int rp_heap_start(uint64_t rate_bytes);	/* 0 = 512 KiB; 1 = every allocation */
int rp_heap_write(const char *path);	/* stops sampling, writes atomically */
void rp_alloc_count_start(void);
void rp_alloc_thread_counters(uint64_t *allocs, uint64_t *bytes);	/* the calling thread */
void rp_alloc_counters(uint64_t *allocs, uint64_t *bytes);	/* all threads, exited too */

#ifdef __cplusplus
}
#endif

#endif
