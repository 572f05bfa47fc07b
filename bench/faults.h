/*
 * faults — fault injection for the bench, from a seeded generator.
 *
 * A scenario lists faults (`faults:` in YAML, `--fault TYPE[:k=v,...]` on the command line).
 * Two kinds:
 *
 *   per call    decided at the client boundary for each write attempt, with a probability:
 *               api_latency, api_error, conflict (mode: writer)
 *   scheduled   fired by a scheduler thread at times drawn up front from the seed (`at`,
 *               `every`, or a Poisson `rate`, within `start`..`until`, at most `count`):
 *               status_tamper, watch_drop, write_fail, restart, worker_stall
 *
 * Scheduled faults fire at the same times with the same seed, so their counts repeat
 * exactly; per-call faults depend on how many calls the run makes, which depends on timing.
 * Every injection is a perturbation for the oracle, and its time to converge again goes
 * into that fault's histogram; one not resolved by the deadline counts as failed.
 *
 * Threads: faults_start/stop from the runner; the client hook on workers; the stall check
 * on workers; the scheduler runs its own thread and calls back into the runner.
 */
#ifndef RECONPERF_FAULTS_H
#define RECONPERF_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/client.h"
#include "bench/oracle.h"
#include "bench/result.h"
#include "bench/scenario.h"

/* What the scheduled faults act on: the runner provides these. */
struct fault_env {
	struct store *store;
	struct oracle *oracle;
	void *arg;
	void (*restart)(void *arg);		/* leader failover: cold-cache controller */
	void (*break_watches)(void *arg);	/* break every informer's watch */
	uint64_t (*pick_primary)(void *arg, uint64_t rnd); /* a live primary uid, or 0 */
	unsigned workers;	/* worker slots: twice the controller's (a competing instance has its own) */
};

struct faults;

/* Checks every fault's type and parameters; err names file:line:col and the key. */
int faults_validate(const struct scenario *sc, char *err, size_t errlen);

int faults_new(const struct scenario *sc, int repetition, const struct fault_env *env,
	       struct faults **out, char *err, size_t errlen);
void faults_free(struct faults *f);
bool faults_any(const struct faults *f);
/* Does a fault need a second controller instance (conflict mode: instance)? */
bool faults_want_second_instance(const struct faults *f);

/* Starts the scheduler; times are relative to t0 (CLOCK_MONOTONIC ns). */
int faults_start(struct faults *f, uint64_t t0);
/* Blocks until every scheduled fault has fired (or *stop is set). */
void faults_wait_schedule(struct faults *f, const volatile int *stop);
void faults_stop(struct faults *f);

/* The client hook (a client_fault_fn); arg is the faults. */
void faults_client_hook(void *arg, unsigned worker, enum client_verb verb, const struct obj *o,
			int attempt, struct client_fault *out);
/* Called by a worker before each reconcile: sleeps when a stall is due for it. */
void faults_maybe_stall(struct faults *f, unsigned worker);

/* Fills r->faults (one row per fault type present) and the fault counters of r. */
int faults_report(struct faults *f, struct bench_run *r);

#endif
