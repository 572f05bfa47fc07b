/*
 * result — allocation and release of run results (see result.h).
 *
 * bench_run_new() leaves every hist pointer NULL (the runner installs its own merged
 * histograms) and every optional double NAN, so a field the runner never fills is
 * reported as "not measured" rather than as a misleading zero.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/result.h"

struct bench_run *bench_run_new(void)
{
	struct bench_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->allocs_per_reconcile = NAN;
	r->bytes_per_reconcile = NAN;
	r->harness_ns_per_reconcile = NAN;
	r->bytes_per_object = NAN;
	r->wq.unfinished_work_s = NAN;
	r->wq.longest_running_s = NAN;
	return r;
}

void bench_run_free(struct bench_run *r)
{
	if (!r)
		return;
	hist_free(r->latency);
	hist_free(r->queue_wait);
	hist_free(r->probe_latency);
	for (size_t i = 0; i < r->nfaults; i++)
		hist_free(r->faults[i].converge);
	free(r->faults);
	free(r->convergence.stuck);
	free(r->points);
	free(r);
}

int bench_run_add_stuck(struct bench_run *r, const char *key, const char *reason)
{
	struct bench_stuck *v = realloc(r->convergence.stuck,
					(r->convergence.nstuck + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->convergence.stuck = v;
	v += r->convergence.nstuck++;
	snprintf(v->key, sizeof(v->key), "%s", key);
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	return 0;
}

struct bench_fault_stat *bench_run_add_fault(struct bench_run *r, const char *type)
{
	struct bench_fault_stat *v = realloc(r->faults, (r->nfaults + 1) * sizeof(*v));

	if (!v)
		return NULL;
	r->faults = v;
	v += r->nfaults;
	memset(v, 0, sizeof(*v));
	v->converge = hist_new();
	if (!v->converge)
		return NULL;
	snprintf(v->type, sizeof(v->type), "%s", type);
	r->nfaults++;
	return v;
}

int bench_report_add(struct bench_report *rep, struct bench_run *r)
{
	struct bench_run **v = realloc(rep->runs, (rep->nruns + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	rep->runs = v;
	v[rep->nruns++] = r;
	return 0;
}

void bench_report_fini(struct bench_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->nruns; i++)
		bench_run_free(rep->runs[i]);
	free(rep->runs);
	rep->runs = NULL;
	rep->nruns = 0;
}
