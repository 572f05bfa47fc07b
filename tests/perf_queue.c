/*
 * perf_queue — measures the workqueue (make bench, mk/bench-queue.sh) and stresses it
 * without Criterion (so it also runs under ThreadSanitizer, which Criterion cannot host).
 *
 *   perf_queue cycle      [--kind K] [--metrics on|off] [--keys N] [--ops N] [--reps R]
 *       one thread: Add+Get+Done over N keys round-robin, R times; prints the minimum and
 *       median ns per cycle, wall and thread CPU time
 *   perf_queue throughput [--kind K] [--metrics on|off] [--keys N] [--workers W] [--ms T]
 *                         [--done-get on|off] [--producer wait|spin]
 *       one producer adds N distinct keys round-robin, W workers Get->Forget->Done for
 *       T ms (with --done-get on, Done and the next Get are one wq_done_get call); prints
 *       items handed out per second and CPU time per item. With --producer wait (the
 *       default) the producer, finding (nearly) every key queued, sleeps until the workers
 *       have drained half of them; with spin it keeps adding (Adds that collapse)
 *   perf_queue stress     [--kind K] [--workers W] [--ops N]
 *       W workers assert that no key is ever held by two of them; exit 1 if one was
 *
 * Output is one line of `key=value` pairs, for scripts.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/workqueue.h"

struct cfg {
	enum wq_kind kind;
	bool metrics;
	uint64_t keys, ops, ms;
	int workers;
	int reps;
	bool done_get;		/* workers call wq_done_get instead of wq_done + wq_get */
	bool producer_wait;	/* the producer waits while nearly every key is queued */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct wq *mkq(const struct cfg *c)
{
	struct wq *q = wq_new(&(struct wq_opts){ .kind = c->kind, .metrics_off = !c->metrics,
						 .size_hint = (uint32_t)c->keys });

	if (!q) {
		perror("perf_queue: wq_new");
		exit(2);
	}
	return q;
}

static int run_cycle(const struct cfg *c)
{
	struct wq *q = mkq(c);
	uint64_t k, t0, c0;

	for (uint64_t i = 0; i < c->ops / 10; i++) {	/* warm up the tables */
		wq_add(q, i % c->keys);
		wq_try_get(q, &k);
		wq_done(q, k);
	}
	double ns[256], cpu[256];
	int reps = c->reps;

	for (int r = 0; r < reps; r++) {
		t0 = mono_ns();
		c0 = cpu_ns();
		for (uint64_t i = 0; i < c->ops; i++) {
			wq_add(q, i % c->keys);
			if (wq_try_get(q, &k))
				abort();
			wq_done(q, k);
		}
		/* CPU time too: on a shared machine the wall clock also counts other tenants. */
		cpu[r] = (double)(cpu_ns() - c0) / (double)c->ops;
		ns[r] = (double)(mono_ns() - t0) / (double)c->ops;
	}
	qsort(ns, (size_t)reps, sizeof(double), cmp_double);
	qsort(cpu, (size_t)reps, sizeof(double), cmp_double);
	printf("mode=cycle kind=%s metrics=%s keys=%llu ops=%llu reps=%d ns_min=%.1f "
	       "ns_median=%.1f cpu_ns_min=%.1f cpu_ns_median=%.1f\n",
	       c->kind == WQ_PRIORITY ? "priority" : "clientgo", c->metrics ? "on" : "off",
	       (unsigned long long)c->keys, (unsigned long long)c->ops, reps, ns[0],
	       ns[reps / 2], cpu[0], cpu[reps / 2]);
	wq_free(q);
	return 0;
}

struct shared {
	const struct cfg *c;
	struct wq *q;
	atomic_bool stop;
	atomic_ulong handed;
	atomic_ulong worker_cpu_ns;
	atomic_ulong violations;
	atomic_int *holder;
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	unsigned long n = 0;
	uint64_t k, c0 = cpu_ns();

	int rc = wq_get(s->q, &k);

	while (rc == 0) {
		if (s->holder) {
			int zero = 0;

			if (!atomic_compare_exchange_strong(&s->holder[k], &zero, 1))
				atomic_fetch_add(&s->violations, 1);
			if (k % 3 == 0)
				sched_yield();
			atomic_store(&s->holder[k], 0);
		}
		wq_forget(s->q, k);
		if (s->c->done_get) {
			rc = wq_done_get(s->q, k, &k);
		} else {
			wq_done(s->q, k);
			rc = wq_get(s->q, &k);
		}
		n++;
	}
	atomic_fetch_add(&s->handed, n);
	atomic_fetch_add(&s->worker_cpu_ns, cpu_ns() - c0);
	return NULL;
}

static void *producer(void *arg)
{
	struct shared *s = arg;
	uint64_t i = 0;

	if (s->holder) {
		for (; i < s->c->ops; i++) {
			uint64_t k = (i * 2654435761u) % s->c->keys;

			if (i % 5 == 0)
				wq_add_after(s->q, k, 1000 * (i % 7));
			else
				wq_add_priority(s->q, k, (int)(i % 3));
		}
		return NULL;
	}
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		if (s->c->producer_wait && wq_depth_hint(s->q) + s->c->keys / 64 >= s->c->keys) {
			/* (Nearly) every key is queued, so more Adds would collapse: instead of
			 * spinning on them, let the workers drain half the keys. */
			struct timespec ts = { 0, 50000 };

			while (wq_depth_hint(s->q) > s->c->keys / 2 &&
			       !atomic_load_explicit(&s->stop, memory_order_relaxed))
				nanosleep(&ts, NULL);
		}
		for (int j = 0; j < 256; j++)
			wq_add(s->q, i++ % s->c->keys);
	}
	return NULL;
}

static int run_threads(const struct cfg *c, bool stress)
{
	struct shared s = { .c = c, .q = mkq(c) };
	pthread_t w[64], p;
	uint64_t t0, t1;

	if (stress)
		s.holder = calloc(c->keys, sizeof(*s.holder));
	for (int i = 0; i < c->workers; i++)
		pthread_create(&w[i], NULL, worker, &s);
	t0 = mono_ns();
	uint64_t pc0 = proc_cpu_ns();

	pthread_create(&p, NULL, producer, &s);
	if (!stress) {
		struct timespec ts = { (time_t)(c->ms / 1000), (long)(c->ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
		atomic_store(&s.stop, true);
	}
	pthread_join(p, NULL);
	if (stress) {
		struct timespec ts = { 0, 20000000 };

		nanosleep(&ts, NULL);	/* delayed entries are at most 6 us */
		wq_shutdown_with_drain(s.q);
	} else {
		wq_shutdown(s.q);
	}
	t1 = mono_ns();
	for (int i = 0; i < c->workers; i++)
		pthread_join(w[i], NULL);
	uint64_t pc1 = proc_cpu_ns();
	struct wq_metrics m;

	if (wq_metrics_snapshot(s.q, &m))
		return 2;
	unsigned long handed = atomic_load(&s.handed);

	printf("mode=%s kind=%s metrics=%s done_get=%s producer=%s workers=%d keys=%llu items=%lu "
	       "items_per_s=%.0f "
	       "cpu_ns_per_item=%.0f worker_cpu_ns_per_item=%.0f adds=%llu depth_left=%llu violations=%lu queue_p50_ns=%llu "
	       "queue_p99_ns=%llu\n",
	       stress ? "stress" : "throughput", c->kind == WQ_PRIORITY ? "priority" : "clientgo",
	       c->metrics ? "on" : "off", c->done_get ? "on" : "off",
	       c->producer_wait ? "wait" : "spin", c->workers,
	       (unsigned long long)c->keys, handed,
	       (double)handed * 1e9 / (double)(t1 - t0),
	       handed ? (double)(pc1 - pc0) / (double)handed : 0.0,
	       handed ? (double)atomic_load(&s.worker_cpu_ns) / (double)handed : 0.0,
	       (unsigned long long)m.adds,
	       (unsigned long long)m.depth, atomic_load(&s.violations),
	       m.queue_duration ? (unsigned long long)hist_percentile(m.queue_duration, 50) : 0,
	       m.queue_duration ? (unsigned long long)hist_percentile(m.queue_duration, 99) : 0);
	int rc = 0;

	if (stress && (atomic_load(&s.violations) || m.depth || m.dropped || handed != m.adds)) {
		fprintf(stderr, "perf_queue: stress: rule broken (violations %lu, depth %llu, "
			"handed %lu, adds %llu)\n", atomic_load(&s.violations),
			(unsigned long long)m.depth, handed, (unsigned long long)m.adds);
		rc = 1;
	}
	hist_free(m.queue_duration);
	hist_free(m.work_duration);
	free(s.holder);
	wq_free(s.q);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: perf_queue cycle|throughput|stress [--kind clientgo|priority] "
		"[--metrics on|off] [--keys N] [--ops N] [--reps R] [--workers W] [--ms T] "
		"[--done-get on|off] [--producer wait|spin]\n");
	return 2;
}

static int num(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;

	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);

	if (errno || end == s || *end || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	struct cfg c = { .kind = WQ_CLIENTGO, .metrics = true, .keys = 10000, .ops = 5000000,
			 .ms = 1000, .workers = 2, .reps = 1, .producer_wait = true };
	uint64_t v;

	if (argc < 2)
		return usage();
	for (int i = 2; i < argc; i += 2) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (!a)
			return usage();
		if (!strcmp(o, "--kind") && (!strcmp(a, "clientgo") || !strcmp(a, "priority")))
			c.kind = !strcmp(a, "priority") ? WQ_PRIORITY : WQ_CLIENTGO;
		else if (!strcmp(o, "--metrics") && (!strcmp(a, "on") || !strcmp(a, "off")))
			c.metrics = !strcmp(a, "on");
		else if (!strcmp(o, "--keys") && !num(a, 1, 1u << 28, &v))
			c.keys = v;
		else if (!strcmp(o, "--ops") && !num(a, 1, UINT64_MAX / 2, &v))
			c.ops = v;
		else if (!strcmp(o, "--ms") && !num(a, 1, 3600000, &v))
			c.ms = v;
		else if (!strcmp(o, "--workers") && !num(a, 1, 64, &v))
			c.workers = (int)v;
		else if (!strcmp(o, "--reps") && !num(a, 1, 256, &v))
			c.reps = (int)v;
		else if (!strcmp(o, "--done-get") && (!strcmp(a, "on") || !strcmp(a, "off")))
			c.done_get = !strcmp(a, "on");
		else if (!strcmp(o, "--producer") && (!strcmp(a, "wait") || !strcmp(a, "spin")))
			c.producer_wait = !strcmp(a, "wait");
		else
			return usage();
	}
	if (!strcmp(argv[1], "cycle"))
		return run_cycle(&c);
	if (!strcmp(argv[1], "throughput"))
		return run_threads(&c, false);
	if (!strcmp(argv[1], "stress"))
		return run_threads(&c, true);
	return usage();
}
