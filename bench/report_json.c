/*
 * report_json — the JSON report (docs/formats.md), built with cJSON.
 *
 *   context     date, host, reconperf_version, scenario, scenario_file, seed, options
 *               (and Google Benchmark's host_name, num_cpus, library_build_type)
 *   benchmarks  Google Benchmark's schema: one "iteration" entry per run, and, for runs
 *               repeated more than once, "aggregate" entries (mean, median, stddev) as
 *               --benchmark_repetitions gives; real_time/cpu_time are ns per reconcile.
 *   scenarios   everything about each run, the contract other tools read.
 *
 * Values not measured (NAN, NULL hists) are omitted. Numbers are JSON doubles: exact up
 * to 2^53, which covers every count and nanosecond figure a run can reach.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/report.h"
#include "bench/report_int.h"

/* Adds a number unless it is NAN; false only when out of memory. */
static bool add_num(cJSON *o, const char *k, double v)
{
	if (isnan(v))
		return true;
	return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* Adds v under k; on failure (the key copy can fail) v is freed, not leaked. */
static bool attach(cJSON *o, const char *k, cJSON *v)
{
	if (!v)
		return false;
	if (!cJSON_AddItemToObject(o, k, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

static cJSON *hist_json(const struct hist *h, bool buckets)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o;

	if (!o)
		return NULL;
	ok = ok && add_num(o, "count", (double)hist_count(h));
	ok = ok && add_num(o, "min", (double)hist_min(h));
	ok = ok && add_num(o, "p50", (double)hist_percentile(h, 50));
	ok = ok && add_num(o, "p90", (double)hist_percentile(h, 90));
	ok = ok && add_num(o, "p99", (double)hist_percentile(h, 99));
	ok = ok && add_num(o, "p999", (double)hist_percentile(h, 99.9));
	ok = ok && add_num(o, "max", (double)hist_max(h));
	ok = ok && add_num(o, "mean", hist_mean(h));
	if (ok && buckets) {
		/* [lo, hi, count] of every non-empty bucket: enough to merge or redraw. */
		cJSON *arr = cJSON_AddArrayToObject(o, "buckets");
		size_t cur = 0;
		uint64_t lo, hi, n;

		ok = arr;
		while (ok && hist_next_bucket(h, &cur, &lo, &hi, &n)) {
			double t[3] = { (double)lo, (double)hi, (double)n };
			cJSON *b = cJSON_CreateDoubleArray(t, 3);

			ok = b && cJSON_AddItemToArray(arr, b);
		}
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool add_hist(cJSON *o, const char *k, const struct hist *h, bool buckets)
{
	cJSON *v;

	if (!h)
		return true;
	v = hist_json(h, buckets);
	return attach(o, k, v);
}

static cJSON *convergence_json(const struct bench_run *r)
{
	cJSON *c = cJSON_CreateObject(), *stuck;
	bool ok = c;

	ok = ok && cJSON_AddBoolToObject(c, "converged", r->convergence.converged);
	ok = ok && add_num(c, "time_ns", (double)r->convergence.time_ns);
	ok = ok && add_num(c, "lost_objects", (double)r->convergence.lost_objects);
	ok = ok && add_num(c, "concurrent_reconciles",
			   (double)r->convergence.concurrent_reconciles);
	stuck = ok ? cJSON_AddArrayToObject(c, "stuck") : NULL;
	ok = stuck;
	for (size_t i = 0; ok && i < r->convergence.nstuck; i++) {
		cJSON *s = cJSON_CreateObject();

		ok = s && cJSON_AddItemToArray(stuck, s);
		ok = ok && cJSON_AddStringToObject(s, "key", r->convergence.stuck[i].key);
		ok = ok && cJSON_AddStringToObject(s, "reason", r->convergence.stuck[i].reason);
	}
	if (!ok) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

static bool faults_json(cJSON *o, const struct bench_run *r)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "faults");
	bool ok = arr;

	for (size_t i = 0; ok && i < r->nfaults; i++) {
		const struct bench_fault_stat *f = &r->faults[i];
		cJSON *fo = cJSON_CreateObject(), *cv;

		ok = fo && cJSON_AddItemToArray(arr, fo);
		ok = ok && cJSON_AddStringToObject(fo, "type", f->type);
		ok = ok && add_num(fo, "injected", (double)f->injected);
		ok = ok && add_num(fo, "failed", (double)f->failed);
		if (ok && f->converge) {
			cv = cJSON_AddObjectToObject(fo, "converge_ns");
			ok = cv;
			ok = ok && add_num(cv, "count", (double)hist_count(f->converge));
			ok = ok && add_num(cv, "mean", hist_mean(f->converge));
			ok = ok && add_num(cv, "p50", (double)hist_percentile(f->converge, 50));
			ok = ok && add_num(cv, "p99", (double)hist_percentile(f->converge, 99));
			ok = ok && add_num(cv, "max", (double)hist_max(f->converge));
		}
	}
	return ok;
}

static bool timeseries_json(cJSON *o, const struct bench_run *r)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "timeseries");
	bool ok = arr;

	for (size_t i = 0; ok && i < r->npoints; i++) {
		const struct bench_point *p = &r->points[i];
		cJSON *po = cJSON_CreateObject();

		ok = po && cJSON_AddItemToArray(arr, po);
		ok = ok && add_num(po, "t_ns", (double)p->t_ns);
		ok = ok && add_num(po, "reconciles_per_second", p->reconciles_per_s);
		ok = ok && add_num(po, "depth", (double)p->depth);
		ok = ok && add_num(po, "unconverged", (double)p->unconverged);
		ok = ok && add_num(po, "heap_bytes", (double)p->heap_bytes);
		ok = ok && add_num(po, "rss_bytes", (double)p->rss_bytes);
	}
	return ok;
}

static cJSON *scenario_json(const struct bench_report *rep, const struct bench_run *r)
{
	cJSON *s = cJSON_CreateObject(), *o, *c;
	bool ok = s;

	ok = ok && cJSON_AddStringToObject(s, "name", r->name);
	ok = ok && add_num(s, "repetition", r->repetition);
	ok = ok && add_num(s, "repetitions", report_repetitions(rep, r));
	ok = ok && add_num(s, "objects", (double)r->objects);
	ok = ok && add_num(s, "workers", r->workers);
	ok = ok && add_num(s, "wall_ns", (double)r->wall_ns);
	ok = ok && add_num(s, "cpu_ns", (double)r->cpu_ns);

	o = ok ? cJSON_AddObjectToObject(s, "reconcile") : NULL;
	ok = o;
	ok = ok && add_num(o, "count", (double)r->reconciles);
	ok = ok && add_num(o, "per_second", r->per_second);
	ok = ok && add_hist(o, "latency_ns", r->latency, true);
	ok = ok && add_num(o, "errors", (double)r->reconcile_errors);
	ok = ok && add_num(o, "terminal_errors", (double)r->terminal_errors);
	ok = ok && add_num(o, "panics", (double)r->panics);

	o = ok ? cJSON_AddObjectToObject(s, "queue") : NULL;
	ok = o;
	ok = ok && add_hist(o, "wait_ns", r->queue_wait, true);

	ok = ok && add_num(s, "retries", (double)r->retries);
	ok = ok && add_num(s, "conflicts", (double)r->conflicts);

	o = ok ? cJSON_AddObjectToObject(s, "results") : NULL;
	ok = o;
	for (int i = 0; ok && i < BR__COUNT; i++)
		ok = add_num(o, report_result_name(i), (double)r->results[i]);

	o = ok ? cJSON_AddObjectToObject(s, "api") : NULL;
	ok = o;
	ok = ok && add_num(o, "errors", (double)r->api_errors);
	ok = ok && add_num(o, "retried", (double)r->api_retried);
	ok = ok && add_num(o, "relists", (double)r->relists);
	ok = ok && add_num(o, "restarts", (double)r->restarts);

	o = ok ? cJSON_AddObjectToObject(s, "workqueue") : NULL;
	ok = o;
	ok = ok && add_num(o, "adds", (double)r->wq.adds);
	ok = ok && add_num(o, "retries", (double)r->retries);
	ok = ok && add_num(o, "depth_max", (double)r->wq.depth_max);
	ok = ok && add_num(o, "unfinished_work_seconds", r->wq.unfinished_work_s);
	ok = ok && add_num(o, "longest_running_processor_seconds", r->wq.longest_running_s);

	if (ok && r->churn.offered_per_s > 0) {
		o = cJSON_AddObjectToObject(s, "churn");
		ok = o;
		ok = ok && add_num(o, "offered_per_s", r->churn.offered_per_s);
		ok = ok && add_num(o, "done_per_s", r->churn.done_per_s);
		ok = ok && add_num(o, "ops", (double)r->churn.ops);
		ok = ok && add_num(o, "max_lag_ns", (double)r->churn.max_lag_ns);
	}

	c = ok ? convergence_json(r) : NULL;
	ok = c && attach(s, "convergence", c);
	ok = ok && faults_json(s, r);
	ok = ok && add_num(s, "allocs_per_reconcile", r->allocs_per_reconcile);
	ok = ok && add_num(s, "bytes_per_reconcile", r->bytes_per_reconcile);
	ok = ok && add_num(s, "harness_ns_per_reconcile", r->harness_ns_per_reconcile);
	ok = ok && add_num(s, "bytes_per_object", r->bytes_per_object);
	ok = ok && timeseries_json(s, r);
	if (ok && r->probe_latency) {
		o = cJSON_AddObjectToObject(s, "probe");
		ok = o && add_hist(o, "latency_ns", r->probe_latency, true);
	}
	if (!ok) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

static void bench_name(const struct bench_run *r, char *buf, size_t len)
{
	snprintf(buf, len, "reconcile/%s/workers:%u", r->name, r->workers);
}

/* One Google Benchmark "iteration" entry: times are ns per reconcile, counters flat. */
static cJSON *gbench_json(const struct bench_report *rep, const struct bench_run *r,
			  int family)
{
	cJSON *b = cJSON_CreateObject();
	double n = (double)r->reconciles;
	char name[128];
	bool ok = b;

	bench_name(r, name, sizeof(name));
	ok = ok && cJSON_AddStringToObject(b, "name", name);
	ok = ok && add_num(b, "family_index", family);
	ok = ok && add_num(b, "per_family_instance_index", 0);
	ok = ok && cJSON_AddStringToObject(b, "run_name", name);
	ok = ok && cJSON_AddStringToObject(b, "run_type", "iteration");
	ok = ok && add_num(b, "repetitions", report_repetitions(rep, r));
	ok = ok && add_num(b, "repetition_index", r->repetition);
	ok = ok && add_num(b, "threads", 1);
	ok = ok && add_num(b, "iterations", n);
	ok = ok && add_num(b, "real_time", n ? (double)r->wall_ns / n : (double)r->wall_ns);
	ok = ok && add_num(b, "cpu_time", n ? (double)r->cpu_ns / n : (double)r->cpu_ns);
	ok = ok && cJSON_AddStringToObject(b, "time_unit", "ns");
	ok = ok && add_num(b, "reconciles_per_second", r->per_second);
	if (r->latency && hist_count(r->latency)) {
		ok = ok && add_num(b, "p50_ns", (double)hist_percentile(r->latency, 50));
		ok = ok && add_num(b, "p90_ns", (double)hist_percentile(r->latency, 90));
		ok = ok && add_num(b, "p99_ns", (double)hist_percentile(r->latency, 99));
		ok = ok && add_num(b, "p999_ns", (double)hist_percentile(r->latency, 99.9));
		ok = ok && add_num(b, "max_ns", (double)hist_max(r->latency));
	}
	if (r->queue_wait && hist_count(r->queue_wait))
		ok = ok && add_num(b, "queue_wait_p99_ns",
				   (double)hist_percentile(r->queue_wait, 99));
	ok = ok && add_num(b, "retries", (double)r->retries);
	ok = ok && add_num(b, "conflicts", (double)r->conflicts);
	ok = ok && add_num(b, "errors", (double)r->reconcile_errors);
	ok = ok && add_num(b, "converged", r->convergence.converged ? 1 : 0);
	if (r->convergence.converged)
		ok = ok && add_num(b, "converge_ns", (double)r->convergence.time_ns);
	ok = ok && add_num(b, "allocs_per_reconcile", r->allocs_per_reconcile);
	ok = ok && add_num(b, "bytes_per_reconcile", r->bytes_per_reconcile);
	ok = ok && add_num(b, "harness_ns_per_reconcile", r->harness_ns_per_reconcile);
	ok = ok && add_num(b, "bytes_per_object", r->bytes_per_object);
	if (!ok) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static const char *const not_aggregated[] = {
	"family_index", "per_family_instance_index", "repetitions", "repetition_index",
	"threads", "iterations",
};

static bool aggregated(const char *key)
{
	for (size_t i = 0; i < sizeof(not_aggregated) / sizeof(not_aggregated[0]); i++)
		if (!strcmp(key, not_aggregated[i]))
			return false;
	return true;
}

/*
 * Appends mean, median and stddev entries for the n iteration entries its[] (same name), as
 * Google Benchmark does for repetitions: every numeric field except the bookkeeping ones.
 */
static bool gbench_aggregates(cJSON *arr, cJSON *const *its, size_t n)
{
	static const char *const aggs[] = { "mean", "median", "stddev" };
	double *v = malloc(n * sizeof(*v));
	bool ok = v;

	for (int a = 0; ok && a < 3; a++) {
		cJSON *b = cJSON_CreateObject(), *f;
		char name[160];

		ok = b && cJSON_AddItemToArray(arr, b);
		snprintf(name, sizeof(name), "%s_%s",
			 cJSON_GetObjectItem(its[0], "name")->valuestring, aggs[a]);
		ok = ok && cJSON_AddStringToObject(b, "name", name);
		cJSON_ArrayForEach(f, its[0]) {
			double m = 0, out;

			if (!ok)
				break;
			if (cJSON_IsString(f) && strcmp(f->string, "name") &&
			    strcmp(f->string, "run_type")) {
				ok = cJSON_AddStringToObject(b, f->string, f->valuestring);
				continue;
			}
			if (!cJSON_IsNumber(f) || !aggregated(f->string)) {
				if (cJSON_IsNumber(f) && strcmp(f->string, "repetition_index") &&
				    strcmp(f->string, "iterations"))
					ok = add_num(b, f->string, f->valuedouble);
				continue;
			}
			size_t k = 0;
			for (size_t i = 0; i < n; i++) {
				cJSON *x = cJSON_GetObjectItem(its[i], f->string);
				if (cJSON_IsNumber(x))
					v[k++] = x->valuedouble;
			}
			if (k < n)
				continue;	/* not in every repetition: no aggregate */
			for (size_t i = 0; i < n; i++)
				m += v[i];
			m /= (double)n;
			if (a == 0) {
				out = m;
			} else if (a == 1) {
				qsort(v, n, sizeof(*v), cmp_double);
				out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
			} else {
				double ss = 0;
				for (size_t i = 0; i < n; i++)
					ss += (v[i] - m) * (v[i] - m);
				out = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
			}
			ok = add_num(b, f->string, out);
		}
		ok = ok && cJSON_AddStringToObject(b, "run_type", "aggregate");
		ok = ok && cJSON_AddStringToObject(b, "aggregate_name", aggs[a]);
		ok = ok && cJSON_AddStringToObject(b, "aggregate_unit", "time");
		ok = ok && add_num(b, "iterations", (double)n);
	}
	free(v);
	return ok;
}

static bool benchmarks_json(cJSON *root, const struct bench_report *rep)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "benchmarks");
	cJSON **its = calloc(rep->nruns ? rep->nruns : 1, sizeof(*its));
	bool *done = calloc(rep->nruns ? rep->nruns : 1, sizeof(*done));
	bool ok = arr && its && done;
	int family = 0;

	/* Grouped by name (repetitions may be interleaved in the report), report order. */
	for (size_t i = 0; ok && i < rep->nruns; i++) {
		size_t n = 0;

		if (done[i])
			continue;
		for (size_t j = i; ok && j < rep->nruns; j++) {
			if (done[j] || strcmp(rep->runs[j]->name, rep->runs[i]->name))
				continue;
			done[j] = true;
			its[n] = gbench_json(rep, rep->runs[j], family);
			ok = its[n] && cJSON_AddItemToArray(arr, its[n]);
			n++;
		}
		if (ok && n > 1)
			ok = gbench_aggregates(arr, its, n);
		family++;
	}
	free(its);
	free(done);
	return ok;
}

static bool context_json(cJSON *root, const struct bench_report *rep)
{
	cJSON *c = cJSON_AddObjectToObject(root, "context");
	bool ok = c;

	ok = ok && cJSON_AddStringToObject(c, "date", rep->date);
	ok = ok && cJSON_AddStringToObject(c, "host", rep->host);
	ok = ok && cJSON_AddStringToObject(c, "host_name", rep->host);
	ok = ok && cJSON_AddStringToObject(c, "reconperf_version", rep->version);
	ok = ok && cJSON_AddStringToObject(c, "scenario", rep->scenario);
	ok = ok && cJSON_AddStringToObject(c, "scenario_file", rep->scenario_file);
	ok = ok && add_num(c, "seed", (double)rep->seed);
	ok = ok && cJSON_AddStringToObject(c, "options", rep->options);
	ok = ok && add_num(c, "num_cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
	ok = ok && cJSON_AddStringToObject(c, "library_build_type", "release");
	return ok;
}

struct cJSON *report_to_json(const struct bench_report *rep)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	bool ok = root;

	ok = ok && context_json(root, rep);
	ok = ok && benchmarks_json(root, rep);
	arr = ok ? cJSON_AddArrayToObject(root, "scenarios") : NULL;
	ok = arr;
	for (size_t i = 0; ok && i < rep->nruns; i++) {
		cJSON *s = scenario_json(rep, rep->runs[i]);

		ok = s && cJSON_AddItemToArray(arr, s);
	}
	if (!ok) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int report_write_json(FILE *fp, const struct bench_report *rep)
{
	cJSON *root = report_to_json(rep);
	char *s;

	if (!root)
		return -ENOMEM;
	s = cJSON_Print(root);
	cJSON_Delete(root);
	if (!s)
		return -ENOMEM;
	fputs(s, fp);
	fputc('\n', fp);
	cJSON_free(s);
	return report_stream_status(fp);
}
