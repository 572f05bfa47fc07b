/*
 * report — the table, Prometheus and Go benchmark renderers (JSON is in report_json.c).
 *
 * Runs appear in report order. A run's "repetitions" is the number of runs with the same
 * name in the report; its repetition index is bench_run.repetition (0-based, as Google
 * Benchmark's repetition_index), shown 1-based to people.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench/report.h"
#include "bench/report_int.h"
#include "common/units.h"

static const char *const result_names[BR__COUNT] = {
	[BR_SUCCESS] = "success",
	[BR_ERROR] = "error",
	[BR_REQUEUE] = "requeue",
	[BR_REQUEUE_AFTER] = "requeue_after",
};

const char *report_result_name(int i)
{
	return result_names[i];
}

int report_format_parse(const char *s, enum report_format *out)
{
	static const char *const names[] = { "table", "json", "prom", "gobench" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum report_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *report_format_name(enum report_format f)
{
	switch (f) {
	case REPORT_TABLE: return "table";
	case REPORT_JSON: return "json";
	case REPORT_PROM: return "prom";
	case REPORT_GOBENCH: return "gobench";
	}
	return "?";
}

int report_write(FILE *fp, const struct bench_report *rep, enum report_format f)
{
	switch (f) {
	case REPORT_TABLE: return report_write_table(fp, rep);
	case REPORT_JSON: return report_write_json(fp, rep);
	case REPORT_PROM: return report_write_prom(fp, rep);
	case REPORT_GOBENCH: return report_write_gobench(fp, rep);
	}
	return -EINVAL;
}

int report_repetitions(const struct bench_report *rep, const struct bench_run *r)
{
	int n = 0;

	for (size_t i = 0; i < rep->nruns; i++)
		n += !strcmp(rep->runs[i]->name, r->name);
	return n;
}

int report_stream_status(FILE *fp)
{
	return ferror(fp) ? -EIO : 0;
}

/* ---- table ---- */

static const char *fmt_ns(double ns, char *buf)
{
	return units_fmt_ns(ns, buf, 32);
}

static const char *fmt_bytes(double b, char *buf)
{
	if (b < 1024)
		snprintf(buf, 32, "%.0f B", b);
	else if (b < 1024.0 * 1024)
		snprintf(buf, 32, "%.2f KiB", b / 1024);
	else if (b < 1024.0 * 1024 * 1024)
		snprintf(buf, 32, "%.2f MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, 32, "%.2f GiB", b / (1024.0 * 1024 * 1024));
	return buf;
}

static void table_hist(FILE *fp, const char *label, const struct hist *h, bool p90)
{
	char a[32], b[32], c[32], d[32], e[32], f[32];

	if (!h)
		return;
	if (!hist_count(h)) {
		fprintf(fp, "  %-18s (none recorded)\n", label);
		return;
	}
	if (p90)
		fprintf(fp, "  %-18s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n", label,
			fmt_ns((double)hist_percentile(h, 50), a),
			fmt_ns((double)hist_percentile(h, 90), b),
			fmt_ns((double)hist_percentile(h, 99), c),
			fmt_ns((double)hist_percentile(h, 99.9), d),
			fmt_ns((double)hist_max(h), e), fmt_ns(hist_mean(h), f));
	else
		fprintf(fp, "  %-18s p50 %s  p99 %s  max %s  (mean %s)\n", label,
			fmt_ns((double)hist_percentile(h, 50), a),
			fmt_ns((double)hist_percentile(h, 99), b), fmt_ns((double)hist_max(h), c),
			fmt_ns(hist_mean(h), d));
}

static void table_faults(FILE *fp, const struct bench_run *r)
{
	char a[32], b[32];

	fprintf(fp, "  %-20s %10s %14s %14s %8s\n", "fault type", "injected", "mean converge",
		"p99 converge", "failed");
	for (size_t i = 0; i < r->nfaults; i++) {
		const struct bench_fault_stat *f = &r->faults[i];
		bool any = f->converge && hist_count(f->converge);

		fprintf(fp, "  %-20s %10llu %14s %14s %8llu\n", f->type,
			(unsigned long long)f->injected,
			any ? fmt_ns(hist_mean(f->converge), a) : "-",
			any ? fmt_ns((double)hist_percentile(f->converge, 99), b) : "-",
			(unsigned long long)f->failed);
	}
	fputc('\n', fp);
}

#define TABLE_MAX_STUCK 20

static void table_convergence(FILE *fp, const struct bench_run *r)
{
	char a[32];

	if (r->convergence.converged)
		fprintf(fp, "  %-18s converged %s after the last perturbation; lost objects %llu\n",
			"convergence", fmt_ns((double)r->convergence.time_ns, a),
			(unsigned long long)r->convergence.lost_objects);
	else
		fprintf(fp, "  %-18s NOT converged by the deadline: %zu stuck, lost objects %llu\n",
			"convergence", r->convergence.nstuck,
			(unsigned long long)r->convergence.lost_objects);
	if (r->convergence.concurrent_reconciles)
		fprintf(fp, "  %-18s %llu times one key was reconciled by two workers at once\n",
			"", (unsigned long long)r->convergence.concurrent_reconciles);
	for (size_t i = 0; i < r->convergence.nstuck && i < TABLE_MAX_STUCK; i++)
		fprintf(fp, "  %-18s   stuck %s: %s\n", "", r->convergence.stuck[i].key,
			r->convergence.stuck[i].reason);
	if (r->convergence.nstuck > TABLE_MAX_STUCK)
		fprintf(fp, "  %-18s   ... and %zu more (all in --format json)\n", "",
			r->convergence.nstuck - TABLE_MAX_STUCK);
}

static void table_run(FILE *fp, const struct bench_report *rep, const struct bench_run *r)
{
	char a[32], b[32];
	int nrep = report_repetitions(rep, r);

	fprintf(fp, "== %s", r->name);
	if (nrep > 1)
		fprintf(fp, "  repetition %d/%d", r->repetition + 1, nrep);
	fprintf(fp, "  (%llu objects, %u workers)\n", (unsigned long long)r->objects, r->workers);
	if (r->nfaults)
		table_faults(fp, r);
	fprintf(fp, "  %-18s %llu in %s  (%.1f/s; cpu %s)\n", "reconciles",
		(unsigned long long)r->reconciles, fmt_ns((double)r->wall_ns, a), r->per_second,
		fmt_ns((double)r->cpu_ns, b));
	table_hist(fp, "latency", r->latency, true);
	table_hist(fp, "queue wait", r->queue_wait, true);
	fprintf(fp, "  %-18s", "results");
	for (int i = 0; i < BR__COUNT; i++)
		fprintf(fp, " %s %llu%s", result_names[i], (unsigned long long)r->results[i],
			i + 1 < BR__COUNT ? "," : "\n");
	fprintf(fp, "  %-18s %llu (terminal %llu, panics %llu)\n", "errors",
		(unsigned long long)r->reconcile_errors, (unsigned long long)r->terminal_errors,
		(unsigned long long)r->panics);
	fprintf(fp, "  %-18s %llu\n", "retries", (unsigned long long)r->retries);
	fprintf(fp, "  %-18s %llu\n", "conflicts", (unsigned long long)r->conflicts);
	fprintf(fp, "  %-18s errors %llu, retried in client %llu, relists %llu, restarts %llu\n",
		"api", (unsigned long long)r->api_errors, (unsigned long long)r->api_retried,
		(unsigned long long)r->relists, (unsigned long long)r->restarts);
	fprintf(fp, "  %-18s adds %llu, depth max %llu", "workqueue",
		(unsigned long long)r->wq.adds, (unsigned long long)r->wq.depth_max);
	if (!isnan(r->wq.longest_running_s))
		fprintf(fp, ", longest running %s", fmt_ns(r->wq.longest_running_s * 1e9, a));
	fputc('\n', fp);
	if (r->churn.offered_per_s > 0)
		fprintf(fp, "  %-18s %.0f ops/s offered, %.0f/s done; the writer fell behind its "
			"schedule by up to %s\n", "churn", r->churn.offered_per_s,
			r->churn.done_per_s, fmt_ns((double)r->churn.max_lag_ns, a));
	table_convergence(fp, r);
	if (!isnan(r->allocs_per_reconcile))
		fprintf(fp, "  %-18s %.1f allocs/op, %s/op\n", "allocations", r->allocs_per_reconcile,
			isnan(r->bytes_per_reconcile) ? "?" : fmt_bytes(r->bytes_per_reconcile, a));
	if (!isnan(r->harness_ns_per_reconcile))
		fprintf(fp, "  %-18s %.0f ns/op outside the reconciler\n", "harness",
			r->harness_ns_per_reconcile);
	if (!isnan(r->bytes_per_object))
		fprintf(fp, "  %-18s %s/object\n", "memory", fmt_bytes(r->bytes_per_object, a));
	if (r->probe_latency)
		table_hist(fp, "probe latency", r->probe_latency, true);
	fputc('\n', fp);
}

int report_write_table(FILE *fp, const struct bench_report *rep)
{
	fprintf(fp, "reconperf %s  scenario %s", rep->version, rep->scenario);
	if (rep->scenario_file[0])
		fprintf(fp, " (%s)", rep->scenario_file);
	fprintf(fp, "  seed %llu  %s  %s\n\n", (unsigned long long)rep->seed, rep->date,
		rep->host);
	for (size_t i = 0; i < rep->nruns; i++)
		table_run(fp, rep, rep->runs[i]);
	return report_stream_status(fp);
}

/* ---- Prometheus text exposition 0.0.4 ---- */

/* controller-runtime's controller_runtime_reconcile_time_seconds buckets. */
static const double cr_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
	0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7,
	8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
};
/* client-go's workqueue buckets: ExponentialBuckets(10e-9, 10, 10). */
static const double wq_buckets[] = {
	1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10,
};

enum lbl { L_CTRL, L_WQ, L_PLAIN };

/* Label values escape backslash, double quote and newline. */
static void prom_escape(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

/* Writes the label set without braces; extra is appended verbatim (k="v"). */
static void prom_labels(FILE *fp, const struct bench_run *r, enum lbl kind, const char *extra)
{
	if (kind == L_CTRL) {
		fputs("controller=\"", fp);
		prom_escape(fp, r->name);
		fputs("\",", fp);
	} else if (kind == L_WQ) {
		fputs("name=\"", fp);
		prom_escape(fp, r->name);
		fputs("\",", fp);
	}
	fputs("scenario=\"", fp);
	prom_escape(fp, r->name);
	fprintf(fp, "\",repetition=\"%d\"", r->repetition);
	if (extra && *extra)
		fprintf(fp, ",%s", extra);
}

static void prom_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_val(FILE *fp, const char *name, const char *suffix, const struct bench_run *r,
		     enum lbl kind, const char *extra, double v)
{
	fprintf(fp, "%s%s{", name, suffix);
	prom_labels(fp, r, kind, extra);
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(fp, "} %.0f\n", v);
	else
		fprintf(fp, "} %.9g\n", v);
}

static void prom_hist(FILE *fp, const char *name, const struct bench_run *r, enum lbl kind,
		      const struct hist *h, const double *le, size_t nle)
{
	char extra[48];

	for (size_t i = 0; i < nle; i++) {
		snprintf(extra, sizeof(extra), "le=\"%g\"", le[i]);
		prom_val(fp, name, "_bucket", r, kind, extra,
			 (double)hist_count_le(h, (uint64_t)llround(le[i] * 1e9)));
	}
	prom_val(fp, name, "_bucket", r, kind, "le=\"+Inf\"", (double)hist_count(h));
	prom_val(fp, name, "_sum", r, kind, NULL, hist_sum(h) / 1e9);
	prom_val(fp, name, "_count", r, kind, NULL, (double)hist_count(h));
}

static void prom_summary(FILE *fp, const char *name, const struct bench_run *r,
			 const char *extra, const struct hist *h)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	char lbl[160];

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		snprintf(lbl, sizeof(lbl), "%s%squantile=\"%g\"", extra ? extra : "",
			 extra ? "," : "", qs[i]);
		prom_val(fp, name, "", r, L_PLAIN, lbl,
			 (double)hist_percentile(h, qs[i] * 100) / 1e9);
	}
	prom_val(fp, name, "_sum", r, L_PLAIN, extra, hist_sum(h) / 1e9);
	prom_val(fp, name, "_count", r, L_PLAIN, extra, (double)hist_count(h));
}

/* A family of one counter or gauge per run; field is read by the callback. */
typedef double (*prom_get)(const struct bench_run *r, bool *have);

#define GETTER(fname, expr)                                                        \
	static double fname(const struct bench_run *r, bool *have)                 \
	{                                                                          \
		double v = (double)(expr);                                         \
		*have = !isnan(v);                                                 \
		return v;                                                          \
	}

GETTER(g_errors, r->reconcile_errors)
GETTER(g_terminal, r->terminal_errors)
GETTER(g_panics, r->panics)
GETTER(g_workers, r->workers)
GETTER(g_adds, r->wq.adds)
GETTER(g_depth, r->npoints ? r->points[r->npoints - 1].depth : NAN)
GETTER(g_depth_max, r->wq.depth_max)
GETTER(g_retries, r->retries)
GETTER(g_unfinished, r->wq.unfinished_work_s)
GETTER(g_longest, r->wq.longest_running_s)
GETTER(g_per_second, r->per_second)
GETTER(g_wall, r->wall_ns / 1e9)
GETTER(g_cpu, r->cpu_ns / 1e9)
GETTER(g_converged, r->convergence.converged ? 1 : 0)
GETTER(g_conv_time, r->convergence.converged ? r->convergence.time_ns / 1e9 : NAN)
GETTER(g_lost, r->convergence.lost_objects)
GETTER(g_stuck, r->convergence.nstuck)
GETTER(g_concurrent, r->convergence.concurrent_reconciles)
GETTER(g_conflicts, r->conflicts)
GETTER(g_api_errors, r->api_errors)
GETTER(g_api_retried, r->api_retried)
GETTER(g_relists, r->relists)
GETTER(g_restarts, r->restarts)
GETTER(g_objects, r->objects)
GETTER(g_allocs, r->allocs_per_reconcile)
GETTER(g_bytes, r->bytes_per_reconcile)
GETTER(g_harness, r->harness_ns_per_reconcile / 1e9)
GETTER(g_bytes_obj, r->bytes_per_object)

static const struct prom_simple {
	const char *name, *type, *help;
	enum lbl kind;
	prom_get get;
} prom_simple[] = {
	{ "controller_runtime_reconcile_errors_total", "counter",
	  "Total number of reconciliation errors per controller", L_CTRL, g_errors },
	{ "controller_runtime_terminal_reconcile_errors_total", "counter",
	  "Total number of terminal reconciliation errors per controller", L_CTRL, g_terminal },
	{ "controller_runtime_reconcile_panics_total", "counter",
	  "Total number of reconciliation panics per controller", L_CTRL, g_panics },
	{ "controller_runtime_max_concurrent_reconciles", "gauge",
	  "Maximum number of concurrent reconciles per controller", L_CTRL, g_workers },
	{ "workqueue_adds_total", "counter",
	  "Total number of adds handled by workqueue", L_WQ, g_adds },
	{ "workqueue_depth", "gauge",
	  "Current depth of workqueue (last sample of the run)", L_WQ, g_depth },
	{ "workqueue_retries_total", "counter",
	  "Total number of retries handled by workqueue", L_WQ, g_retries },
	{ "workqueue_unfinished_work_seconds", "gauge",
	  "How many seconds of work has been done that is in progress and hasn't been observed "
	  "by work_duration", L_WQ, g_unfinished },
	{ "workqueue_longest_running_processor_seconds", "gauge",
	  "How many seconds has the longest running processor for workqueue been running",
	  L_WQ, g_longest },
	{ "reconperf_workqueue_depth_max", "gauge",
	  "Largest workqueue depth seen during the run", L_WQ, g_depth_max },
	{ "reconperf_objects", "gauge", "Primary objects in the scenario", L_PLAIN, g_objects },
	{ "reconperf_reconciles_per_second", "gauge",
	  "Reconciles per second of wall time over the run", L_PLAIN, g_per_second },
	{ "reconperf_run_seconds", "gauge",
	  "Wall time from the start of load to converged (or the deadline)", L_PLAIN, g_wall },
	{ "reconperf_cpu_seconds", "gauge",
	  "Process CPU time over the run", L_PLAIN, g_cpu },
	{ "reconperf_converged", "gauge",
	  "1 when every object converged by the deadline, else 0", L_PLAIN, g_converged },
	{ "reconperf_convergence_seconds", "gauge",
	  "Time from the last perturbation until every object converged", L_PLAIN, g_conv_time },
	{ "reconperf_lost_objects", "gauge",
	  "Objects the oracle expected that no longer exist (must be 0)", L_PLAIN, g_lost },
	{ "reconperf_stuck_objects", "gauge",
	  "Objects not converged at the deadline", L_PLAIN, g_stuck },
	{ "reconperf_concurrent_reconciles_total", "counter",
	  "Times one key was reconciled by two workers at once (must be 0)", L_PLAIN,
	  g_concurrent },
	{ "reconperf_conflicts_total", "counter",
	  "Write conflicts (409) seen by the controller", L_PLAIN, g_conflicts },
	{ "reconperf_api_errors_total", "counter",
	  "API errors surfaced to reconcilers", L_PLAIN, g_api_errors },
	{ "reconperf_api_retried_total", "counter",
	  "API errors retried inside the client", L_PLAIN, g_api_retried },
	{ "reconperf_relists_total", "counter",
	  "Informer relists (watch expired or dropped)", L_PLAIN, g_relists },
	{ "reconperf_controller_restarts_total", "counter",
	  "Controller restarts with a cold cache", L_PLAIN, g_restarts },
	{ "reconperf_allocs_per_reconcile", "gauge",
	  "Heap allocations per reconcile", L_PLAIN, g_allocs },
	{ "reconperf_bytes_per_reconcile", "gauge",
	  "Heap bytes allocated per reconcile", L_PLAIN, g_bytes },
	{ "reconperf_harness_seconds_per_reconcile", "gauge",
	  "Worker time per reconcile spent outside the reconciler", L_PLAIN, g_harness },
	{ "reconperf_bytes_per_object", "gauge",
	  "Store and cache memory per simulated object", L_PLAIN, g_bytes_obj },
};

static void prom_simple_family(FILE *fp, const struct bench_report *rep,
			       const struct prom_simple *m)
{
	bool head = false;

	for (size_t i = 0; i < rep->nruns; i++) {
		bool have;
		double v = m->get(rep->runs[i], &have);

		if (!have)
			continue;
		if (!head)
			prom_head(fp, m->name, m->type, m->help);
		head = true;
		prom_val(fp, m->name, "", rep->runs[i], m->kind, NULL, v);
	}
}

static bool any_run(const struct bench_report *rep, size_t off)
{
	for (size_t i = 0; i < rep->nruns; i++)
		if (*(struct hist *const *)((const char *)rep->runs[i] + off))
			return true;
	return false;
}

static void prom_hist_family(FILE *fp, const struct bench_report *rep, const char *name,
			     const char *help, size_t off, enum lbl kind, const double *le,
			     size_t nle)
{
	if (!any_run(rep, off))
		return;
	prom_head(fp, name, "histogram", help);
	for (size_t i = 0; i < rep->nruns; i++) {
		const struct hist *h = *(struct hist *const *)((const char *)rep->runs[i] + off);
		if (h)
			prom_hist(fp, name, rep->runs[i], kind, h, le, nle);
	}
}

static void prom_faults(FILE *fp, const struct bench_report *rep)
{
	static const char *const names[] = {
		"reconperf_faults_injected_total", "reconperf_fault_failed_total",
		"reconperf_fault_converge_seconds",
	};
	static const char *const help[] = {
		"Faults injected, by type",
		"Perturbations by a fault that did not converge by the deadline",
		"Time from a fault's injection until converged again",
	};
	bool any = false;

	for (size_t i = 0; i < rep->nruns; i++)
		any |= rep->runs[i]->nfaults > 0;
	if (!any)
		return;
	for (int m = 0; m < 3; m++) {
		prom_head(fp, names[m], m == 2 ? "summary" : "counter", help[m]);
		for (size_t i = 0; i < rep->nruns; i++) {
			const struct bench_run *r = rep->runs[i];

			for (size_t j = 0; j < r->nfaults; j++) {
				const struct bench_fault_stat *f = &r->faults[j];
				char extra[64];

				snprintf(extra, sizeof(extra), "fault=\"%s\"", f->type);
				if (m == 0)
					prom_val(fp, names[m], "", r, L_PLAIN, extra,
						 (double)f->injected);
				else if (m == 1)
					prom_val(fp, names[m], "", r, L_PLAIN, extra,
						 (double)f->failed);
				else if (f->converge)
					prom_summary(fp, names[m], r, extra, f->converge);
			}
		}
	}
}

int report_write_prom(FILE *fp, const struct bench_report *rep)
{
	const char *n = "controller_runtime_reconcile_total";

	if (rep->nruns) {
		prom_head(fp, n, "counter", "Total number of reconciliations per controller");
		for (size_t i = 0; i < rep->nruns; i++) {
			for (int k = 0; k < BR__COUNT; k++) {
				char extra[48];

				snprintf(extra, sizeof(extra), "result=\"%s\"", result_names[k]);
				prom_val(fp, n, "", rep->runs[i], L_CTRL, extra,
					 (double)rep->runs[i]->results[k]);
			}
		}
	}
	for (size_t m = 0; m < sizeof(prom_simple) / sizeof(prom_simple[0]); m++)
		prom_simple_family(fp, rep, &prom_simple[m]);
	prom_hist_family(fp, rep, "controller_runtime_reconcile_time_seconds",
			 "Length of time per reconciliation per controller",
			 offsetof(struct bench_run, latency), L_CTRL, cr_buckets,
			 sizeof(cr_buckets) / sizeof(cr_buckets[0]));
	prom_hist_family(fp, rep, "workqueue_queue_duration_seconds",
			 "How long in seconds an item stays in workqueue before being requested",
			 offsetof(struct bench_run, queue_wait), L_WQ, wq_buckets,
			 sizeof(wq_buckets) / sizeof(wq_buckets[0]));
	if (any_run(rep, offsetof(struct bench_run, latency))) {
		n = "reconperf_reconcile_latency_seconds";
		prom_head(fp, n, "summary",
			  "Reconcile latency quantiles at 1/128 relative error");
		for (size_t i = 0; i < rep->nruns; i++)
			if (rep->runs[i]->latency)
				prom_summary(fp, n, rep->runs[i], NULL, rep->runs[i]->latency);
	}
	if (any_run(rep, offsetof(struct bench_run, probe_latency))) {
		n = "reconperf_probe_reconcile_latency_seconds";
		prom_head(fp, n, "summary", "Reconcile latency measured by the eBPF probe");
		for (size_t i = 0; i < rep->nruns; i++)
			if (rep->runs[i]->probe_latency)
				prom_summary(fp, n, rep->runs[i], NULL,
					     rep->runs[i]->probe_latency);
	}
	prom_faults(fp, rep);
	return report_stream_status(fp);
}

/* ---- Go benchmark format ---- */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			c++;
			while (*c == ' ' || *c == '\t')
				c++;
			c[strcspn(c, "\n")] = 0;
			snprintf(buf, len, "%s", c);
			break;
		}
	}
	fclose(f);
}

static const char *goarch(const char *machine)
{
	if (!strcmp(machine, "x86_64"))
		return "amd64";
	if (!strcmp(machine, "aarch64"))
		return "arm64";
	if (!strcmp(machine, "i686") || !strcmp(machine, "i386"))
		return "386";
	return machine;
}

/* A Go-benchmark value: plain decimal, as testing.B prints it. */
static void go_val(FILE *fp, double v, const char *unit)
{
	if (isnan(v))
		return;
	if (fabs(v) >= 100 || v == floor(v))
		fprintf(fp, "\t%.0f %s", v, unit);
	else if (fabs(v) >= 1)
		fprintf(fp, "\t%.2f %s", v, unit);
	else
		fprintf(fp, "\t%.4g %s", v, unit);
}

/* Benchmark names may not hold spaces: they would end the name field. */
static void go_name(FILE *fp, const char *s)
{
	for (; *s; s++)
		fputc(*s == ' ' || *s == '\t' ? '_' : *s, fp);
}

int report_write_gobench(FILE *fp, const struct bench_report *rep)
{
	struct utsname u;
	char cpu[256];

	if (uname(&u))
		snprintf(u.machine, sizeof(u.machine), "unknown");
	cpu_model(cpu, sizeof(cpu));
	fprintf(fp, "goos: linux\ngoarch: %s\npkg: reconperf/bench\ncpu: %s\n", goarch(u.machine),
		cpu);
	for (size_t i = 0; i < rep->nruns; i++) {
		const struct bench_run *r = rep->runs[i];
		double n = (double)r->reconciles;

		fputs("BenchmarkReconcile/", fp);
		go_name(fp, r->name);
		fprintf(fp, "-%u\t%llu", r->workers, (unsigned long long)r->reconciles);
		go_val(fp, n ? (double)r->wall_ns / n : (double)r->wall_ns, "ns/op");
		go_val(fp, r->per_second, "reconciles/s");
		if (r->latency && hist_count(r->latency)) {
			go_val(fp, (double)hist_percentile(r->latency, 50), "p50-ns");
			go_val(fp, (double)hist_percentile(r->latency, 90), "p90-ns");
			go_val(fp, (double)hist_percentile(r->latency, 99), "p99-ns");
			go_val(fp, (double)hist_percentile(r->latency, 99.9), "p99.9-ns");
			go_val(fp, (double)hist_max(r->latency), "max-ns");
		}
		if (r->queue_wait && hist_count(r->queue_wait))
			go_val(fp, (double)hist_percentile(r->queue_wait, 99), "queue-p99-ns");
		if (r->convergence.converged)
			go_val(fp, (double)r->convergence.time_ns, "converge-ns");
		go_val(fp, (double)r->retries, "retries");
		go_val(fp, (double)r->conflicts, "conflicts");
		go_val(fp, r->harness_ns_per_reconcile, "harness-ns/op");
		go_val(fp, r->bytes_per_reconcile, "B/op");
		go_val(fp, r->allocs_per_reconcile, "allocs/op");
		fputc('\n', fp);
	}
	return report_stream_status(fp);
}
