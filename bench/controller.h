/*
 * controller — N worker threads draining a workqueue into a reconcile function, with
 * controller-runtime's rules for each outcome:
 *
 *   success        Forget (reset the failure count)
 *   error          AddRateLimited (the Result is ignored), counted in reconcile_errors
 *   terminal       no requeue, counted as an error and a terminal error
 *   requeue        AddRateLimited
 *   requeue_after  Forget, then AddAfter(after)
 *   panic          recovered (ctrl_panic() unwinds to the worker), counted, then as error
 *
 * Workers record the reconcile time into per-thread histograms (merged at ctrl_stop), and
 * check the workqueue's promise that a key is never in two reconciles at once.
 *
 * Threads: ctrl_start/ctrl_stop from one thread; the reconcile function runs on the workers;
 * ctrl_panic() only from inside a reconcile.
 */
#ifndef RECONPERF_CONTROLLER_H
#define RECONPERF_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/hist.h"
#include "bench/result.h"
#include "bench/workqueue.h"

enum ctrl_outcome {
	CTRL_SUCCESS,
	CTRL_ERROR,
	CTRL_TERMINAL,
	CTRL_REQUEUE,
	CTRL_REQUEUE_AFTER,
};

struct ctrl_result {
	enum ctrl_outcome outcome;
	uint64_t after_ns;	/* CTRL_REQUEUE_AFTER */
};

typedef void (*ctrl_reconcile_fn)(void *arg, unsigned worker, uint64_t key,
				  struct ctrl_result *res);

/* Optional per-worker hooks, wired by the subcommand (profiler labels, allocation counts). */
struct ctrl_hooks {
	void (*worker_start)(void *arg, unsigned worker);
	void (*worker_stop)(void *arg, unsigned worker);
	void (*before)(void *arg, unsigned worker, uint64_t key);	/* around each reconcile */
	void (*after)(void *arg, unsigned worker, uint64_t key);
	void *arg;
};

struct ctrl_opts {
	const char *name;	/* controller name, for metrics and labels */
	unsigned workers;	/* MaxConcurrentReconciles */
	unsigned first_worker;	/* worker ids are first_worker .. first_worker + workers - 1 */
	struct wq *queue;	/* not owned */
	ctrl_reconcile_fn reconcile;
	void *arg;
	struct ctrl_hooks hooks;
};

struct ctrl_stats {
	uint64_t reconciles;
	uint64_t results[BR__COUNT];
	uint64_t errors, terminal, panics;
	uint64_t concurrent;	/* same key in two reconciles at once: must stay 0 */
	uint64_t busy_ns;	/* time inside reconcile, all workers */
	uint64_t overhead_ns;	/* Get's timestamp .. Done's, minus the reconcile (see
				 * wq_get_stamped; without stamps, Get returned .. Done returned) */
	unsigned active;	/* controller_runtime_active_workers now */
};

struct controller;

int ctrl_new(const struct ctrl_opts *o, struct controller **out);
int ctrl_start(struct controller *c);
/* Shuts the queue down (with drain when drain is true) and joins the workers. */
void ctrl_stop(struct controller *c, bool drain);
void ctrl_free(struct controller *c);

/* Live counters (approximate while running, exact after ctrl_stop). */
void ctrl_stats(struct controller *c, struct ctrl_stats *st);
/* Merged reconcile-time histogram; valid after ctrl_stop. Owned by the controller. */
const struct hist *ctrl_latency(struct controller *c);

/* From inside a reconcile: recover like controller-runtime does with a Go panic. */
_Noreturn void ctrl_panic(void);

#endif
