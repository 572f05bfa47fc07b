/* sampler: the in-process API (include/reconperf/profiler.h), threads and labels. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "reconperf/profiler.h"
#include "profiler/pprof.h"
#include "profiler/sampler.h"
#include "tests/bpf_test.h"
#include "tests/gopprof.h"
#include "tests/util.h"

static volatile uint64_t sink;

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void spin_for(double secs)
{
	double end = thread_cpu() + secs;
	uint64_t x = sink;

	do {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005ull + (uint64_t)i;
		__asm__ volatile("" : "+r"(x));
	} while (thread_cpu() < end);
	sink = x;
}

/* The phase through its cell (a single store, as the bench does), the controller by name. */
__attribute__((noinline)) static void *backup_worker(void *arg)
{
	const char *volatile *phase;
	char key[] = "phase";	/* found again by name, not by pointer */

	(void)arg;
	prof_label_set("controller", "backup");
	phase = prof_label_cell("phase");
	cr_assert_not_null(phase);
	cr_assert_eq(prof_label_cell(key), phase);
	*phase = "reconcile";
	spin_for(0.3);
	*phase = "queue";
	spin_for(0.1);
	return NULL;
}

__attribute__((noinline)) static void *scaler_worker(void *arg)
{
	(void)arg;
	prof_label_set("controller", "scaler");
	prof_label_set("phase", "reconcile");
	spin_for(0.2);
	return NULL;
}

static char *scratch(const char *name)
{
	char *d = tmpdir_new(), *p;

	cr_assert(asprintf(&p, "%s/%s", d, name) > 0);
	free(d);
	return p;
}

/* Sum of samples/count over samples whose label key equals val (or all when key NULL). */
static int64_t count_where(const struct pprof_profile *p, const char *key, const char *val)
{
	int64_t n = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		const char *v = key ? pprof_sample_label(&p->samples[i], key) : NULL;

		if (!key || (v && !strcmp(v, val)))
			n += p->samples[i].values[0];
	}
	return n;
}

/* engine NULL: AUTO, which at 1000 Hz is bpf-stack where eBPF may be loaded */
static void threads_and_labels(const char *engine)
{
	struct rp_profiler_opts o = { .hz = 1000, .engine = engine };
	struct rp_profiler_stats st;
	struct pprof_profile *p;
	pthread_t a, b;
	char err[256], *path = scratch("cpu.pb.gz");
	int64_t all, backup, scaler, queue, reconcile;

	cr_assert_eq(rp_profiler_start(&o), 0);
	cr_assert_eq(rp_profiler_start(&o), -EBUSY);
	cr_assert_eq(pthread_create(&a, NULL, backup_worker, NULL), 0);
	cr_assert_eq(pthread_create(&b, NULL, scaler_worker, NULL), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	cr_assert_eq(rp_profiler_stop_write(path), 0);
	rp_profiler_stats(&st);
	cr_assert_str_eq(st.engine, !engine && bpf_can_run() ? "bpf-stack" :
				    engine && !strcmp(engine, "bpf") ? "bpf-cpu-clock" :
								      "perf-task-clock");
	cr_assert_eq(st.hz, 1000);
	cr_assert_geq(st.threads, 3);
	cr_assert_eq(st.thread_errors, 0);

	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	all = count_where(p, NULL, NULL);
	backup = count_where(p, "controller", "backup");
	scaler = count_where(p, "controller", "scaler");
	queue = count_where(p, "phase", "queue");
	reconcile = count_where(p, "phase", "reconcile");
	/* 0.4 + 0.2 CPU-s at 1000 Hz: allow for a loaded machine, not for missing threads */
	cr_assert_geq(backup, 360, "backup %lld", (long long)backup);
	cr_assert_geq(scaler, 180, "scaler %lld", (long long)scaler);
	cr_assert_leq(backup, 440);
	cr_assert_leq(scaler, 220);
	cr_assert(queue >= 80 && queue <= 120, "queue %lld", (long long)queue);
	/* backup's 0.3 s through its cell plus scaler's 0.2 s by prof_label_set */
	cr_assert(reconcile >= 450 && reconcile <= 550, "reconcile %lld", (long long)reconcile);
	cr_assert_geq(all, backup + scaler);
	pprof_free(p);

	if (have_cmd("go")) {
		struct run_result r;
		double flat, cum;

		cr_assert_eq(gopprof(&r, "-top -tagfocus=controller=backup", path), 0, "%s", r.err);
		cr_assert_eq(gopprof_top_row(r.out, "backup_worker", &flat, &cum), 0, "%s", r.out);
		cr_assert_eq(gopprof_top_row(r.out, "scaler_worker", &flat, &cum), -1, "%s", r.out);
		run_result_fini(&r);
	}
	free(path);
}

Test(sampler, threads_created_after_start_are_sampled_with_their_labels, .timeout = 120)
{
	threads_and_labels(NULL);
}

Test(sampler, the_same_with_a_perf_event_per_thread, .timeout = 120)
{
	threads_and_labels("perf");
}

Test(sampler, the_same_with_the_signalling_bpf_engine, .timeout = 120)
{
	if (!bpf_can_run())
		cr_skip_test("eBPF cannot be loaded here (root and kernel BTF needed)");
	threads_and_labels("bpf");
}

Test(sampler, timer_engine_on_request_and_no_double_stop, .timeout = 60)
{
	struct rp_profiler_opts o = { .hz = 200, .engine = "timer" };
	struct rp_profiler_stats st;

	cr_assert_eq(rp_profiler_start(&(struct rp_profiler_opts){ .hz = 0, .engine = "x" }),
		     -EINVAL);
	cr_assert_eq(rp_profiler_start(&o), 0);
	spin_for(0.3);
	cr_assert_eq(rp_profiler_stop(), 0);
	cr_assert_eq(rp_profiler_stop(), -EINVAL);
	rp_profiler_stats(&st);
	cr_assert_str_eq(st.engine, "posix-timer");
	/* 0.3 CPU-s at 200 Hz on one thread: 60 expected, ticks cap nothing at this rate */
	cr_assert(st.samples >= 45 && st.samples <= 75, "samples %llu",
		  (unsigned long long)st.samples);
	cr_assert_eq(st.dropped, 0);
}

Test(sampler, out_of_range_rates_and_stack_copies_are_refused)
{
	cr_assert_eq(rp_profiler_start(&(struct rp_profiler_opts){ .hz = 20000 }), -EINVAL);
	cr_assert_eq(rp_profiler_start(&(struct rp_profiler_opts){ .hz = -1 }), -EINVAL);
	cr_assert_eq(rp_profiler_start(&(struct rp_profiler_opts){ .stack_copy = 1024 }), -EINVAL);
	cr_assert_eq(rp_profiler_start(&(struct rp_profiler_opts){ .stack_copy = 65537 }), -EINVAL);
	cr_assert_not(sampler_running());
}

/* ---- bpf-stack: samples in system calls, and stacks deeper than the copy ---- */

static volatile int stop_syscalls;

__attribute__((noinline)) static void *syscall_spinner(void *arg)
{
	double end = thread_cpu() + 0.3;

	(void)arg;
	prof_label_set("phase", "syscalls");
	while (thread_cpu() < end)
		for (int i = 0; i < 200; i++)
			syscall(SYS_getppid);	/* nearly all of its time is in the kernel */
	return NULL;
}

__attribute__((noinline)) static uint64_t deep(int depth)
{
	volatile char pad[240];	/* ~256 bytes a frame: 200 frames outgrow the copy */

	pad[0] = (char)depth;
	if (depth > 0)
		return deep(depth - 1) + (uint64_t)pad[0];
	spin_for(0.3);
	return sink;
}

__attribute__((noinline)) static void *deep_worker(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)deep(200);
}

static atomic_int early_go;

/* Started before the sampler: registered from /proc/self/task, its stack top and its
 * labels' address unknown until it sets a label. */
__attribute__((noinline)) static void *early_worker(void *arg)
{
	(void)arg;
	double end;
	uint64_t x = 1;

	while (!atomic_load(&early_go))
		usleep(1000);
	/* its first label: how bpf-stack learns where its labels are */
	prof_label_set("phase", "early");
	end = thread_cpu() + 0.3;
	while (thread_cpu() < end)	/* not spin_for: the deep thread's leaf */
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005ull + (uint64_t)i;
	sink = x;
	return NULL;
}

/* Samples (count) whose frames hold fn and, unless NULL, also `also`. */
static int64_t samples_with_both(const struct pprof_profile *p, const char *fn,
				 const char *also)
{
	static const char *names[1024];
	int64_t n = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		size_t k = pprof_sample_frames(p, &p->samples[i], names, 1024, NULL, NULL);
		bool a = false, b = !also;

		for (size_t j = 0; j < k; j++) {
			a |= !strcmp(names[j], fn);
			b |= also && !strcmp(names[j], also);
		}
		n += a && b ? p->samples[i].values[0] : 0;
	}
	return n;
}

static int64_t samples_with(const struct pprof_profile *p, const char *fn)
{
	return samples_with_both(p, fn, NULL);
}

/* ---- start, stop, start: threads alive through both profiles ---- */

static atomic_int lived_go;	/* 0 wait, 1 spin, 2 return */

__attribute__((noinline)) static void *lived_worker(void *arg)
{
	int g;

	(void)arg;
	while ((g = atomic_load(&lived_go)) != 2) {
		if (g == 1)
			spin_for(0.01);
		else
			usleep(1000);
	}
	return NULL;
}

/* A thread started before the first profile and the calling thread are in the second. */
static void restart(const char *engine, int hz)
{
	struct rp_profiler_opts o = { .hz = hz, .engine = engine };
	struct rp_profiler_stats st;
	struct pprof_profile *p;
	char err[256], *path = scratch("cpu.pb.gz");
	pthread_t t;
	int64_t lived, main_spin;

	atomic_store(&lived_go, 0);
	cr_assert_eq(pthread_create(&t, NULL, lived_worker, NULL), 0);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(rp_profiler_start(&o), 0, "round %d", round);
		atomic_store(&lived_go, 1);
		spin_for(0.25);
		atomic_store(&lived_go, 0);
		if (round < 2) {
			cr_assert_eq(rp_profiler_stop(), 0);
			continue;
		}
		cr_assert_eq(rp_profiler_stop_write(path), 0);
	}
	atomic_store(&lived_go, 2);
	pthread_join(t, NULL);
	rp_profiler_stats(&st);
	cr_assert_geq(st.threads, 2, "threads %llu", (unsigned long long)st.threads);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	lived = samples_with(p, "lived_worker");
	main_spin = samples_with(p, "restart");
	/* the main thread's 0.25 CPU-s: at least half of its samples, whatever the load */
	cr_assert_geq(main_spin, hz / 8, "%s: the caller has %lld samples", st.engine,
		      (long long)main_spin);
	/* the worker got some CPU beside it (2 CPUs); before the fix it had none at all */
	cr_assert_geq(lived, hz / 20, "%s: the earlier thread has %lld samples", st.engine,
		      (long long)lived);
	pprof_free(p);
	free(path);
}

Test(sampler, a_second_start_samples_the_threads_of_the_first, .timeout = 120)
{
	restart("timer", 200);
	restart("perf", 1000);
	if (bpf_can_run()) {
		restart("bpf", 1000);
		restart("bpf-stack", 1000);
	}
}

/* ---- work paced on a millisecond grid ---- */

static double paced_cpu;

/* 200 us of CPU every 2 ms on an absolute grid, for 1 s */
__attribute__((noinline)) static void *paced_worker(void *arg)
{
	struct timespec t;
	double c0 = thread_cpu();

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < 500; i++) {
		t.tv_nsec += 2000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		spin_for(0.0002);
	}
	paced_cpu = thread_cpu() - c0;
	return NULL;
}

/*
 * The eBPF engines' per-CPU clocks at exactly 1 ms saw such work at one phase for the
 * whole run: never (a few samples) or always (five times its CPU time). Three runs, each
 * within reach of its CPU time x Hz.
 */
Test(sampler, per_cpu_clocks_do_not_alias_with_work_paced_on_a_grid, .timeout = 120)
{
	if (!bpf_can_run())
		cr_skip_test("eBPF cannot be loaded here (root and kernel BTF needed)");
	for (int run = 0; run < 3; run++) {
		struct rp_profiler_opts o = { .hz = 1000, .engine = "bpf-stack" };
		struct pprof_profile *p;
		char err[256], *path = scratch("paced.pb.gz");
		pthread_t t;
		int64_t n;
		double want;

		cr_assert_eq(rp_profiler_start(&o), 0);
		cr_assert_eq(pthread_create(&t, NULL, paced_worker, NULL), 0);
		pthread_join(t, NULL);
		cr_assert_eq(rp_profiler_stop_write(path), 0);
		cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
		n = samples_with(p, "paced_worker");
		want = paced_cpu * 1000;
		cr_assert(n >= want * 0.6 && n <= want * 1.6,
			  "run %d: %lld samples for %.0f ms of CPU at 1000 Hz", run, (long long)n,
			  paced_cpu * 1e3);
		pprof_free(p);
		free(path);
	}
}

Test(sampler, bpf_stack_samples_system_calls_at_their_caller_and_cuts_deep_stacks,
     .timeout = 120)
{
	/* a 16 KiB copy: 64 of the deep thread's frames, fewer than the 128 a sample keeps */
	struct rp_profiler_opts o = { .hz = 1000, .engine = "bpf-stack", .stack_copy = 16384 };
	struct pprof_profile *p;
	char err[256], *path = scratch("stack.pb.gz");
	const char *c;
	pthread_t a, b, e;
	int64_t sys, spin, early;

	if (!bpf_can_run())
		cr_skip_test("eBPF cannot be loaded here (root and kernel BTF needed)");
	cr_assert_eq(pthread_create(&e, NULL, early_worker, NULL), 0);
	cr_assert_eq(rp_profiler_start(&o), 0);
	atomic_store(&early_go, 1);
	cr_assert_eq(pthread_create(&a, NULL, syscall_spinner, NULL), 0);
	cr_assert_eq(pthread_create(&b, NULL, deep_worker, NULL), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(e, NULL);
	cr_assert_eq(rp_profiler_stop_write(path), 0);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	/* 0.3 CPU-s each at 1000 Hz; the kernel's time is sampled at the system call's caller */
	sys = samples_with(p, "syscall_spinner");
	cr_assert(sys >= 240 && sys <= 360, "syscall_spinner in %lld samples", (long long)sys);
	cr_assert_geq(count_where(p, "phase", "syscalls"), sys * 9 / 10);
	/* 200 frames of ~256 bytes: the leaf and its nearest callers are there, the top is cut
	 * and said to be */
	spin = samples_with(p, "spin_for");
	cr_assert(spin >= 240 && spin <= 360, "spin_for in %lld samples", (long long)spin);
	cr_assert_geq(samples_with(p, "deep"), spin * 9 / 10);
	/* (deep_worker tail-calls deep: the outermost frame to look for is start_thread) */
	cr_assert_lt(samples_with_both(p, "spin_for", "start_thread"), spin / 10);
	/* a thread that was running at the start: copied page by page up to its stack's end,
	 * so its stacks are whole down to start_thread */
	early = samples_with(p, "early_worker");
	cr_assert(early >= 240 && early <= 360, "early_worker in %lld samples", (long long)early);
	cr_assert_geq(count_where(p, "phase", "early"), early * 9 / 10,
		      "the labels of a thread running before the start");
	cr_assert_geq(samples_with(p, "start_thread"), early + spin / 2);
	cr_assert_eq(p->ncomments, 1);
	/* the deep thread's stacks, and no other thread's (copies end above their outermost
	 * frame, not at the end of the stack mapping: it must still be in) */
	cr_assert_not_null(strstr(p->comments[0], "stack_copy=16384 "), "%s", p->comments[0]);
	c = strstr(p->comments[0], "truncated=");
	cr_assert(c && atoll(c + 10) >= spin * 9 / 10 && atoll(c + 10) <= spin + 20, "%s",
		  p->comments[0]);
	/* the clocks are not put in phase with the tick unless RECONPERF_TICK_ALIGN asks */
	c = strstr(p->comments[0], "tick_aligned_cpus=");
	cr_assert_not_null(c, "%s", p->comments[0]);
	cr_assert_eq(atoi(c + 18), 0, "%s", p->comments[0]);
	pprof_free(p);
	free(path);
}

/* Profiles deep_worker (200 frames of ~256 bytes) under o; *spin: its samples. */
static struct pprof_profile *profile_deep(const struct rp_profiler_opts *o, int64_t *spin)
{
	struct pprof_profile *p;
	char err[256], *path = scratch("deep.pb.gz");
	pthread_t b;

	cr_assert_eq(rp_profiler_start(o), 0);
	cr_assert_eq(pthread_create(&b, NULL, deep_worker, NULL), 0);
	pthread_join(b, NULL);
	cr_assert_eq(rp_profiler_stop_write(path), 0);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	*spin = samples_with(p, "spin_for");
	cr_assert_geq(*spin, 200, "spin_for in %lld samples", (long long)*spin);
	cr_assert_eq(p->ncomments, 1);
	free(path);
	return p;
}

/* Stacks past SAMPLER_MAX_DEPTH frames: the leaf's 128 kept, the rest counted. */
Test(sampler, stacks_past_the_frame_limit_are_counted, .timeout = 120)
{
	struct rp_profiler_opts o = { .hz = 1000, .engine = "perf" };
	int64_t spin;
	struct pprof_profile *p = profile_deep(&o, &spin);
	const char *c = strstr(p->comments[0], "depth_capped=");

	cr_assert(c && atoll(c + 13) >= spin * 9 / 10, "%s", p->comments[0]);
	cr_assert(strstr(p->comments[0], "max_depth=128 "), "%s", p->comments[0]);
	pprof_free(p);
}

/* bpf-stack unwinds off the thread and keeps up to 512 frames: the 200-frame recursion
 * whole, with a copy large enough for its ~51 KiB */
Test(sampler, bpf_stack_keeps_deeper_stacks_than_the_signal_engines, .timeout = 120)
{
	struct rp_profiler_opts o = { .hz = 1000, .engine = "bpf-stack", .stack_copy = 65536 };
	struct pprof_profile *p;
	int64_t spin;

	if (!bpf_can_run())
		cr_skip_test("eBPF cannot be loaded here (root and kernel BTF needed)");
	p = profile_deep(&o, &spin);
	cr_assert(strstr(p->comments[0], "max_depth=512 depth_capped=0"), "%s", p->comments[0]);
#ifndef __SANITIZE_ADDRESS__	/* ASan's redzones around pad[] outgrow the 64 KiB copy */
	cr_assert(strstr(p->comments[0], "truncated=0 "), "%s", p->comments[0]);
	cr_assert_geq(samples_with_both(p, "spin_for", "start_thread"), spin * 9 / 10,
		      "cut stacks");
#endif
	pprof_free(p);
}
