/*
 * bench — runs one repetition of a scenario and measures it.
 *
 * e2e mode builds the whole simulated control plane: a store (API server), the primary and
 * owned informers, a workqueue, a controller with N workers running the workload's
 * reconciler, an open-loop churn generator, and the convergence oracle watching every
 * commit. queue mode feeds keys straight into the workqueue from one producer, as the
 * client-go workqueue benchmark does.
 *
 * A controller "instance" (informers + queue + workers) can be torn down and started again
 * with a cold cache, as a leader failover does.
 *
 * The bench knows nothing about profilers: the subcommand passes hooks (per-worker start and
 * around-reconcile callbacks, exact allocation counters) and a progress callback.
 * Threads: bench_run() from one thread; it starts and joins all the others.
 */
#ifndef RECONPERF_BENCH_H
#define RECONPERF_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench/controller.h"
#include "bench/result.h"
#include "bench/scenario.h"

struct bench_progress {
	uint64_t t_ns;
	uint64_t reconciles;
	uint64_t depth;
	uint64_t unconverged;
	const char *phase;	/* "load", "converge" */
};

struct bench_hooks {
	struct ctrl_hooks ctrl;		/* per-worker hooks, called by the controller */
	/* Exact allocation counters of the calling thread; NULL when not measured. */
	void (*alloc_counters)(uint64_t *allocs, uint64_t *bytes);
	void (*progress)(void *arg, const struct bench_progress *p);
	void *progress_arg;
	/* Told where a worker thread is: "reconcile", "store" (inside an API call), "queue"
	 * (everything else); for profiler labels. May be NULL. */
	void (*phase)(const char *phase);
	/* Set (e.g. by a SIGINT handler) to end the run early; bench_run returns -EINTR. */
	const volatile int *interrupted;
};

/* Sets h's phase and worker-start hooks to label CPU samples (prof_label_set):
 * controller=CONTROLLER on every worker, phase=reconcile|store|queue as it goes (what
 * `bench --cpuprofile` does). CONTROLLER must outlive the run. */
void bench_hooks_label(struct bench_hooks *h, const char *controller);

/* Returns 0 with *out set, or -errno with a message in err (bad plugin, out of memory). */
int bench_run(const struct scenario *sc, int repetition, const struct bench_hooks *hooks,
	      struct bench_run **out, char *err, size_t errlen);

#endif
