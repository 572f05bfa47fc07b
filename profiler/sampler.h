/*
 * sampler — the sampling CPU profiler's engine: one CPU-time clock per thread that sends a
 * signal to that thread every 1/hz seconds of its CPU time; the handler unwinds the
 * interrupted stack (profiler/unwind.h) into the thread's preallocated ring; a collector
 * thread drains the rings into a pprof builder when a handler finds its ring half full
 * (a futex wake) and at least once a second.
 *
 * Engines:
 *   "perf-task-clock"  perf_event_open(PERF_COUNT_SW_TASK_CLOCK) per thread, hrtimer-driven
 *                      (reaches 1000 Hz and more), the signal routed to the thread with
 *                      F_SETOWN_EX(F_OWNER_TID) and F_SETSIG, as async-profiler does. Costs an
 *                      hrtimer interrupt per sample and perf work on every context switch of
 *                      a sampled thread (on this KVM guest ~19 us a sample, ~1-2 us a switch).
 *   "bpf-cpu-clock"    one cpu-clock perf event per CPU and an eBPF program on it that sends
 *                      the signal to the interrupted thread when it is one of ours
 *                      (profiler/sampler_bpf.h): hrtimer-driven like perf-task-clock, but
 *                      nothing happens at a context switch, and kernel time is sampled too.
 *                      Needs CAP_BPF + CAP_PERFMON (root) and kernel BTF.
 *   "posix-timer"      timer_create() on the thread's CPU clock with SIGEV_THREAD_ID; checked
 *                      at the kernel tick, so no extra interrupt and nothing per context
 *                      switch, but at most one sample per tick (250 Hz here): higher rates
 *                      lose samples.
 * AUTO takes posix-timer up to SAMPLER_TIMER_MAX_HZ and bpf-cpu-clock above, falling back
 * to perf-task-clock where eBPF cannot be loaded and to posix-timer when perf events are
 * refused. sampler_stats() says which engine ran.
 *
 * Threads: every thread alive at sampler_start() (from /proc/self/task) and every thread
 * started later through pthread_create (wrapped here) is sampled; a thread that exits stops
 * its clock, blocks the signal and leaves its record to be reused (after the collector has
 * drained it) by a later thread, so SAMPLER_MAX_THREADS bounds the threads alive at once,
 * not the threads ever run. Each thread's ring holds SAMPLER_RING_SLOTS samples of up to
 * SAMPLER_MAX_DEPTH frames; a sample that finds its ring full is counted as dropped.
 *
 * fork: the child drops the parent's records (their clocks belong to the parent's threads)
 * and is left stopped; sampler_start() may begin a new profile in it. exec: see
 * sampler_exec_begin().
 *
 * Weights: the collector reads a thread's CPU clock when it moves that thread's samples
 * into the profile (its end, read by the exiting thread or at the stop, once it runs no
 * more) and spreads what the clock advanced since the last read evenly over them; the time
 * after a thread's last sample, to its exit or the stop, goes onto that sample's stack.
 * Nothing is added to the signal handler or the eBPF program. A thread's samples so add up to its CPU time even where the
 * clocks miss part of it (microsecond slices around context switches: ~1/3 on a KVM
 * guest). RECONPERF_CPU_WEIGHTS=period in the environment weighs each sample its period.
 *
 * Labels: prof_label_set() (include/reconperf/profiler.h) stores pointers to caller-owned
 * strings in a per-thread slot array; the handler copies the pointers into the sample.
 *
 * Signals: the handler allocates nothing, takes no lock and calls only async-signal-safe
 * code. It stays installed after sampler_stop() (a queued real-time signal must not reach
 * the default action) and ignores signals while stopped. SIGIO, the kernel's fallback when
 * the real-time queue is full, is ignored if it had the default action.
 *
 * Threading: start/stop/stats from one controlling thread; one sampler per process.
 */
#ifndef RECONPERF_SAMPLER_H
#define RECONPERF_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#define SAMPLER_MAX_DEPTH 128
/* bpf-stack keeps more: its frames are unwound off the thread, from the copy, not into a
 * per-thread ring (CPython's imports run past 128 frames) */
#define SAMPLER_COPY_MAX_DEPTH 512
#define SAMPLER_RING_SLOTS 64
#define SAMPLER_MAX_LABELS 4
#define SAMPLER_MAX_THREADS 4096
#define SAMPLER_TIMER_MAX_HZ 100	/* AUTO: POSIX timers up to here, eBPF or perf above */

enum sampler_engine {
	SAMPLER_ENGINE_AUTO = 0,
	SAMPLER_ENGINE_PERF,	/* perf_event task-clock per thread */
	SAMPLER_ENGINE_TIMER,	/* POSIX CPU-time timer per thread */
	SAMPLER_ENGINE_BPF,	/* cpu-clock per CPU + eBPF program signalling our threads */
	SAMPLER_ENGINE_BPF_STACK,	/* cpu-clock per CPU + eBPF program copying their stacks */
};

struct sampler_opts {
	int hz;				/* 1..10000; 0 = 100 */
	enum sampler_engine engine;	/* AUTO: timer up to SAMPLER_TIMER_MAX_HZ, else bpf */
	int signo;			/* 0 = SIGRTMIN + 3 */
	uint32_t stack_copy;		/* bpf-stack: bytes of stack a sample copies at most,
					 * RP_SS_STACK_MIN..MAX (4..64 KiB); 0 = 32 KiB */
};

struct sampler_stats {
	const char *engine;	/* "bpf-cpu-clock", "perf-task-clock", "posix-timer", "none" */
	int hz;
	uint64_t samples;	/* taken into the profile */
	uint64_t dropped;	/* lost to a full ring or a signal the eBPF engine could not send */
	uint64_t truncated;	/* bpf-stack: stacks deeper than the copy (cut at its end) */
	uint32_t stack_copy;	/* bpf-stack: the copy's size; 0 for the other engines */
	uint64_t short_copies;	/* bpf-stack: copies read page by page (stack top unknown) */
	int aligned_cpus;	/* eBPF engines: CPUs whose clock is in phase with the tick */
	int max_depth;		/* frames a sample keeps: SAMPLER_MAX_DEPTH, bpf-stack's
				 * SAMPLER_COPY_MAX_DEPTH */
	uint64_t depth_capped;	/* samples whose stack went on past max_depth frames
				 * (or ended exactly there): the outermost frames are missing */
	uint64_t threads;	/* threads ever sampled */
	uint64_t thread_errors;	/* threads whose clock could not be set up */
	int64_t duration_ns;	/* wall time between start and stop */
	const char *cpu_weights;	/* "thread-cpu", or "period" (RECONPERF_CPU_WEIGHTS) */
};

struct pprof_builder;

/* -EBUSY if already running; -errno when neither engine can be set up. */
int sampler_start(const struct sampler_opts *o);
/* Registers the calling thread (done by the pthread_create wrapper; harmless twice). */
int sampler_register_self(void);
/*
 * Stops sampling, drains every ring and returns the builder holding the samples
 * (symbolization and writing are the caller's). *out may be NULL to discard.
 */
int sampler_stop(struct pprof_builder **out);
bool sampler_running(void);
void sampler_stats(struct sampler_stats *st);

/*
 * Is fd one of the running sampler's own descriptors (a thread's perf event; the eBPF
 * engines' events, links, maps and ring)? The preload library's close, close_range and
 * closefrom leave those open, so a program that closes every descriptor at its start is
 * still sampled. Async-signal-safe.
 */
bool sampler_fd_guarded(int fd);

/*
 * Around exec (profiler/exec.c wraps the exec family): begin sets the sample signal to
 * SIG_IGN, which drops pending samples that would otherwise kill the new image (exec keeps
 * pending signals and resets handlers to the default action, terminate); failed restores
 * the handler when exec returned. Safe in a vfork child (touches only the disposition).
 */
void sampler_exec_begin(void);
void sampler_exec_failed(void);

/* Sets (val != NULL) or clears a label of the calling thread. key and val must outlive
 * the profile (string literals or interned strings). Async-signal-safe. */
void sampler_label_set(const char *key, const char *val);
/* The calling thread's value cell for key, created empty if missing; NULL when all
 * SAMPLER_MAX_LABELS slots hold other keys. A store into it sets the label. */
const char *volatile *sampler_label_cell(const char *key);
/* Copies the calling thread's labels (key, value) into out, at most max; returns how many.
 * Used by the heap profiler to label its samples as the CPU samples are. */
int sampler_labels_get(const char *out[][2], int max);

#endif
