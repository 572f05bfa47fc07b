/*
 * result — what one benchmark run measured, and the report that holds several runs.
 *
 * The runner (bench/bench.c) fills a bench_run; the renderers (bench/report.c) read it.
 * Counters use controller-runtime's and client-go's meanings (see docs/formats.md):
 * results[] indexes by enum bench_result as controller_runtime_reconcile_total{result}.
 * A field that was not measured is NAN (doubles) or NULL (hist pointers); renderers omit it.
 *
 * Plain data; built by one thread after the run, read by any.
 */
#ifndef RECONPERF_RESULT_H
#define RECONPERF_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"

enum bench_result {
	BR_SUCCESS,		/* result="success" */
	BR_ERROR,		/* result="error" (rate-limited requeue; terminal errors too) */
	BR_REQUEUE,		/* result="requeue" */
	BR_REQUEUE_AFTER,	/* result="requeue_after" */
	BR__COUNT
};

struct bench_stuck {
	char key[160];		/* kind/namespace/name */
	char reason[160];	/* e.g. "status.observedGeneration 3 != generation 4" */
};

struct bench_fault_stat {
	char type[32];		/* api_latency, conflict, ... */
	uint64_t injected;
	uint64_t failed;	/* perturbations not converged by the deadline */
	struct hist *converge;	/* ns from each injection to converged again */
};

struct bench_point {		/* one time-series sample */
	uint64_t t_ns;		/* since the start of the run */
	double reconciles_per_s;
	uint64_t depth;		/* workqueue_depth */
	uint64_t unconverged;	/* objects not converged at t */
	uint64_t heap_bytes;	/* malloc's bytes in use (glibc mallinfo2), 0 if unknown */
	uint64_t rss_bytes;	/* the process's resident set, 0 if unknown */
};

struct bench_run {
	char name[64];		/* scenario name */
	int repetition;
	uint64_t objects;
	uint32_t workers;

	uint64_t wall_ns;	/* start of load to converged (or deadline) */
	uint64_t cpu_ns;	/* process CPU time over the same span */
	uint64_t reconciles;
	double per_second;	/* reconciles / wall */

	struct hist *latency;	/* controller_runtime_reconcile_time_seconds, ns */
	struct hist *queue_wait; /* workqueue_queue_duration_seconds, ns */

	uint64_t results[BR__COUNT];
	uint64_t reconcile_errors;	/* controller_runtime_reconcile_errors_total */
	uint64_t terminal_errors;
	uint64_t panics;
	uint64_t retries;	/* workqueue_retries_total */
	uint64_t conflicts;	/* 409s seen by the controller */
	uint64_t api_errors;	/* surfaced to reconcilers */
	uint64_t api_retried;	/* retried inside the client */
	uint64_t relists;
	uint64_t restarts;

	struct {
		uint64_t adds;		/* workqueue_adds_total */
		uint64_t depth_max;
		double unfinished_work_s;	/* at the end */
		double longest_running_s;	/* max seen */
	} wq;

	struct {
		bool converged;
		uint64_t time_ns;	/* from the last perturbation to converged */
		uint64_t lost_objects;	/* must be 0 */
		uint64_t concurrent_reconciles; /* same key in two workers at once: must be 0 */
		size_t nstuck;
		struct bench_stuck *stuck;
	} convergence;

	struct {		/* the open-loop writer (e2e mode); all 0 without churn */
		double offered_per_s;	/* creates + updates + deletes asked per second */
		uint64_t ops;		/* operations it did */
		double done_per_s;	/* ops over the churn's duration */
		uint64_t max_lag_ns;	/* how far it fell behind its schedule, at most */
	} churn;

	double allocs_per_reconcile;	/* NAN unless measured */
	double bytes_per_reconcile;
	double harness_ns_per_reconcile; /* time per reconcile spent outside the reconciler */
	double bytes_per_object;	/* store + cache memory per simulated object */

	size_t nfaults;
	struct bench_fault_stat *faults;

	size_t npoints;
	struct bench_point *points;

	struct hist *probe_latency;	/* kernel-side (USDT) reconcile latency, --probe */
};

struct bench_report {
	char date[32];		/* ISO 8601 */
	char host[64];
	char version[48];
	char scenario[64];
	char scenario_file[256];
	uint64_t seed;
	char options[512];	/* the command line, for the record */
	size_t nruns;
	struct bench_run **runs;
};

/* A zeroed run: hist pointers NULL, the optional doubles (allocs/bytes per reconcile,
 * harness ns, bytes per object, wq.unfinished_work_s, wq.longest_running_s) NAN. */
struct bench_run *bench_run_new(void);
/* Frees the run, its histograms, faults, stuck list and points (all malloc'ed). */
void bench_run_free(struct bench_run *r);
/* Frees every run; the report's own strings stay. */
void bench_report_fini(struct bench_report *rep);

/* Helpers for whoever fills a run; each returns 0 / a pointer, or -ENOMEM / NULL. */
int bench_run_add_stuck(struct bench_run *r, const char *key, const char *reason);
/* Appends a fault row with a fresh converge histogram. */
struct bench_fault_stat *bench_run_add_fault(struct bench_run *r, const char *type);
/* Appends r to rep->runs; the report owns it afterwards. */
int bench_report_add(struct bench_report *rep, struct bench_run *r);

#endif
