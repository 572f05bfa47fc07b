/*
 * perf_store — throughput and memory of the simulated API server and informer.
 *
 * usage: perf_store [OBJECTS [UPDATES [READS]]]
 * Creates OBJECTS objects, starts an informer with one handler, then measures: creates/s,
 * the initial list, bytes per object (store, informer, and the process RSS growth), the
 * end-to-end rate store update -> watch -> informer -> handler with one writer thread, and
 * cache reads. Prints Markdown (mk/bench-store.sh puts it in docs/performance.md).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/informer.h"
#include "bench/store.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static atomic_ullong handled;

static void on_add(void *arg, const struct obj *o, bool initial)
{
	(void)arg, (void)o, (void)initial;
	atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
}

static void on_update(void *arg, const struct obj *old, const struct obj *cur)
{
	(void)arg, (void)old, (void)cur;
	atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
}

static int by_policy(const struct obj *o, char vals[][64], int max)
{
	const char *p = obj_label(o, "policy");

	(void)max;
	if (!p)
		return 0;
	strcpy(vals[0], p);
	return 1;
}

static void name_of(char *buf, size_t n, uint64_t i)
{
	snprintf(buf, n, "backup-%08" PRIu64, i);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;
	uint64_t updates = argc > 2 ? strtoull(argv[2], NULL, 0) : 2000000;
	uint64_t reads = argc > 3 ? strtoull(argv[3], NULL, 0) : updates;
	struct store_opts so = { .watch_history = 1 << 20 };
	struct informer_opts io = { .kind = "Backup" };
	struct informer_handler h = { on_add, on_update, NULL, NULL };
	struct store *s;
	struct informer *inf;
	double rss0, rss1, rss2;
	uint64_t t0, t1, t2, rv, c0, c1, c2;
	struct obj o;
	char name[96];

	if (!n || !updates || !reads)
		return 2;
	rss0 = rss_bytes();
	s = store_new(&so);
	t0 = now_ns();
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t i = 0; i < n; i++) {
		obj_init(&o, "Backup", "team-a", "x");
		name_of(o.name, sizeof(o.name), i);
		snprintf(name, sizeof(name), "policy-%" PRIu64, i % 1000);
		obj_set_label(&o, "policy", name);
		o.spec[0] = (int64_t)i;
		if (store_create(s, &o))
			return 1;
	}
	t1 = now_ns();
	c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	rss1 = rss_bytes();
	inf = informer_new(s, &io);
	informer_add_index(inf, "policy", by_policy);
	informer_add_handler(inf, &h);
	informer_start(inf);
	if (informer_wait_synced(inf, 600000000000ull))
		return 1;
	t2 = now_ns();
	rss2 = rss_bytes();

	printf("objects: %" PRIu64 " (one label, indexed by it; watch history %u events)\n\n", n,
	       1u << 20);
	printf("| measure | wall | CPU per op |\n|---|---|---|\n");
	printf("| store_create, one thread | %.0f /s | %.0f ns |\n", n / ((t1 - t0) / 1e9),
	       (double)(c1 - c0) / n);
	printf("| initial list into the informer (on_add + index) | %.0f ms | |\n",
	       (t2 - t1) / 1e6);
	printf("| store_bytes per object | %.0f B | |\n", (double)store_bytes(s) / n);
	printf("| informer_bytes per object | %.0f B | |\n", (double)informer_bytes(inf) / n);
	printf("| process RSS growth per object: store (with history) | %.0f B | |\n",
	       (rss1 - rss0) / n);
	printf("| process RSS growth per object: informer | %.0f B | |\n", (rss2 - rss1) / n);

	/* End to end: one writer thread updates round-robin as fast as it can; the rate is
	 * updates over the time until the handler has seen the last one. */
	atomic_store(&handled, 0);
	t0 = now_ns();
	c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (uint64_t i = 0; i < updates; i++) {
		uint64_t k = i % n;

		obj_init(&o, "Backup", "team-a", "x");
		name_of(o.name, sizeof(o.name), k);
		snprintf(name, sizeof(name), "policy-%" PRIu64, k % 1000);
		obj_set_label(&o, "policy", name);
		o.spec[0] = (int64_t)(k + i + 1);
		if (store_update(s, &o))	/* rv 0: unconditional */
			return 1;
	}
	t1 = now_ns();
	c1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	rv = store_revision(s);
	if (informer_wait_rv(inf, rv, 600000000000ull))
		return 1;
	t2 = now_ns();
	c2 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	printf("| store_update while the informer runs (writer) | %.0f /s | |\n",
	       updates / ((t1 - t0) / 1e9));
	printf("| end to end: update -> watch -> informer -> handler | **%.0f events/s** | "
	       "%.0f ns (all threads) |\n", updates / ((t2 - t0) / 1e9), (double)(c2 - c0) / updates);
	printf("| events handled | %llu of %" PRIu64 " | |\n",
	       (unsigned long long)atomic_load(&handled), updates);
	(void)c1;

	t0 = now_ns();
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t i = 0; i < reads; i++) {
		name_of(name, sizeof(name), (i * 7919) % n);
		if (informer_get(inf, "team-a", name, &o))
			return 1;
		obj_fini(&o);
	}
	t1 = now_ns();
	c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	printf("| informer_get (cache read, random key), one thread | %.0f ns | %.0f ns |\n",
	       (t1 - t0) / (double)reads, (double)(c1 - c0) / reads);
	t0 = now_ns();
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t i = 0; i < reads; i++) {
		name_of(name, sizeof(name), (i * 7919) % n);
		if (store_get(s, "Backup", "team-a", name, &o))
			return 1;
		obj_fini(&o);
	}
	t1 = now_ns();
	c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	printf("| store_get (random key), one thread | %.0f ns | %.0f ns |\n",
	       (t1 - t0) / (double)reads, (double)(c1 - c0) / reads);
	printf("\nsizeof(struct obj) = %zu B; a packed version (struct objv + strings) of these "
	       "objects = %zu B.\n", sizeof(struct obj), sizeof(struct objv) + 7 + 7 + 16 + 18);
	informer_free(inf);
	store_free(s);
	return 0;
}
