#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/report.h"
#include "bench/result.h"
#include "common/units.h"
#include "tests/util.h"

/*
 * The report under test, built by hand: scenario "alpha" twice (repetition 0 converged with
 * a fault, repetition 1 stuck with allocations measured) and "beta" once (no histograms).
 */
static struct bench_report rep;

static struct bench_run *mk_run(const char *name, int repetition)
{
	struct bench_run *r = bench_run_new();

	cr_assert(r);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->repetition = repetition;
	r->objects = 100;
	r->workers = 2;
	r->wall_ns = 2000000000ull;
	r->cpu_ns = 1000000000ull;
	r->reconciles = 1000;
	r->per_second = 500;
	r->results[BR_SUCCESS] = 900;
	r->results[BR_ERROR] = 50;
	r->results[BR_REQUEUE] = 30;
	r->results[BR_REQUEUE_AFTER] = 20;
	r->reconcile_errors = 50;
	r->terminal_errors = 5;
	r->panics = 1;
	r->retries = 57;
	r->conflicts = 7;
	r->wq.adds = 1234;
	r->wq.depth_max = 99;
	r->wq.unfinished_work_s = 0;
	r->wq.longest_running_s = 0.25;
	return r;
}

static void setup(void)
{
	struct bench_run *a0 = mk_run("alpha", 0), *a1 = mk_run("alpha", 1);
	struct bench_run *b0 = mk_run("beta \"q\"", 0);

	memset(&rep, 0, sizeof(rep));
	snprintf(rep.date, sizeof(rep.date), "2026-11-27T03:00:00Z");
	snprintf(rep.host, sizeof(rep.host), "testhost");
	snprintf(rep.version, sizeof(rep.version), "9.8.7");
	snprintf(rep.scenario, sizeof(rep.scenario), "alpha");
	snprintf(rep.scenario_file, sizeof(rep.scenario_file), "scenarios/alpha.yaml");
	rep.seed = 4242;
	snprintf(rep.options, sizeof(rep.options), "bench --seed 4242");

	/* latency 1us..1ms in 1us steps (p50 = 500us); queue wait 10us..10ms */
	for (struct bench_run **rp = (struct bench_run *[]){ a0, a1, NULL }; *rp; rp++) {
		struct bench_run *r = *rp;
		r->latency = hist_new();
		r->queue_wait = hist_new();
		for (uint64_t i = 1; i <= 1000; i++) {
			hist_record(r->latency, i * 1000 * (r == a1 ? 2 : 1));
			hist_record(r->queue_wait, i * 10000);
		}
	}
	a0->convergence.converged = true;
	a0->convergence.time_ns = 1500000000ull;
	struct bench_fault_stat *f = bench_run_add_fault(a0, "api_latency");
	cr_assert(f);
	f->injected = 10;
	f->failed = 1;
	for (uint64_t i = 1; i <= 9; i++)
		hist_record(f->converge, i * 100000000ull);	/* 0.1s .. 0.9s */
	a0->harness_ns_per_reconcile = 87;
	a0->bytes_per_object = 2048;
	a0->points = calloc(3, sizeof(*a0->points));
	a0->npoints = 3;
	for (int i = 0; i < 3; i++)
		a0->points[i] = (struct bench_point){ .t_ns = (uint64_t)(i + 1) * 100000000ull,
						      .reconciles_per_s = 400 + i,
						      .depth = (uint64_t)(10 - i),
						      .unconverged = (uint64_t)(50 - i) };
	a1->convergence.converged = false;
	cr_assert_eq(bench_run_add_stuck(a1, "ReplicaSet/default/rs-7",
					 "status.observedGeneration 3 != generation 4"), 0);
	cr_assert_eq(bench_run_add_stuck(a1, "ReplicaSet/default/rs-9", "missing 2 children"),
		     0);
	a1->allocs_per_reconcile = 12.5;
	a1->bytes_per_reconcile = 4096;
	a1->probe_latency = hist_new();
	hist_record_n(a1->probe_latency, 3000, 10);
	b0->convergence.converged = true;
	b0->convergence.time_ns = 5;
	/* interleaved as bench runs them: alpha#0, beta#0, alpha#1 */
	cr_assert_eq(bench_report_add(&rep, a0), 0);
	cr_assert_eq(bench_report_add(&rep, b0), 0);
	cr_assert_eq(bench_report_add(&rep, a1), 0);
}

static void teardown(void)
{
	bench_report_fini(&rep);
}

/* Renders with fn into a malloc'ed string. */
static char *render(int (*fn)(FILE *, const struct bench_report *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert(fp);
	cr_assert_eq(fn(fp, &rep), 0);
	cr_assert_eq(fclose(fp), 0);
	return buf;
}

#define jnum json_num
#define jget(root, path) ((cJSON *)json_at(root, path))

Test(report, json_holds_the_contract_fields_with_their_values, .init = setup, .fini = teardown)
{
	char *s = render(report_write_json);
	cJSON *j = cJSON_Parse(s);
	struct bench_run *a0 = rep.runs[0], *a1 = rep.runs[2];

	cr_assert(j, "report is not JSON");
	cr_assert_str_eq(jget(j, "context.date")->valuestring, "2026-11-27T03:00:00Z");
	cr_assert_str_eq(jget(j, "context.host")->valuestring, "testhost");
	cr_assert_str_eq(jget(j, "context.reconperf_version")->valuestring, "9.8.7");
	cr_assert_str_eq(jget(j, "context.scenario")->valuestring, "alpha");
	cr_assert_str_eq(jget(j, "context.options")->valuestring, "bench --seed 4242");
	cr_assert_eq(jnum(j, "context.seed"), 4242);

	cr_assert_eq(cJSON_GetArraySize(jget(j, "scenarios")), 3);
	cr_assert_str_eq(jget(j, "scenarios.0.name")->valuestring, "alpha");
	cr_assert_eq(jnum(j, "scenarios.2.repetition"), 1);
	cr_assert_eq(jnum(j, "scenarios.0.reconcile.count"), 1000);
	cr_assert_eq(jnum(j, "scenarios.0.reconcile.per_second"), 500);
	cr_assert_eq(jnum(j, "scenarios.0.reconcile.latency_ns.p50"),
		     (double)hist_percentile(a0->latency, 50));
	cr_assert(fabs(jnum(j, "scenarios.0.reconcile.latency_ns.p50") - 500000) <= 500000.0 / 128);
	cr_assert(fabs(jnum(j, "scenarios.0.reconcile.latency_ns.p99") - 990000) <= 990000.0 / 128);
	cr_assert(fabs(jnum(j, "scenarios.2.reconcile.latency_ns.p90") - 1800000) <= 1800000.0 / 128);
	cr_assert(fabs(jnum(j, "scenarios.0.reconcile.latency_ns.p999") - 999000) <= 999000.0 / 128);
	cr_assert_eq(jnum(j, "scenarios.0.reconcile.latency_ns.max"), 1000000);
	cr_assert_float_eq(jnum(j, "scenarios.0.reconcile.latency_ns.mean"), 500500, 1e-6);
	cr_assert_eq(jnum(j, "scenarios.0.queue.wait_ns.max"), 10000000);
	cr_assert_eq(jnum(j, "scenarios.0.queue.wait_ns.p99"),
		     (double)hist_percentile(a0->queue_wait, 99));
	cr_assert_eq(jnum(j, "scenarios.0.retries"), 57);
	cr_assert_eq(jnum(j, "scenarios.0.conflicts"), 7);
	cr_assert_eq(jnum(j, "scenarios.0.results.success"), 900);
	cr_assert_eq(jnum(j, "scenarios.0.results.error"), 50);
	cr_assert_eq(jnum(j, "scenarios.0.results.requeue"), 30);
	cr_assert_eq(jnum(j, "scenarios.0.results.requeue_after"), 20);
	cr_assert_eq(jnum(j, "scenarios.0.workqueue.adds"), 1234);
	cr_assert_eq(jnum(j, "scenarios.0.workqueue.depth_max"), 99);

	cr_assert(cJSON_IsTrue(jget(j, "scenarios.0.convergence.converged")));
	cr_assert_eq(jnum(j, "scenarios.0.convergence.time_ns"), 1.5e9);
	cr_assert_eq(jnum(j, "scenarios.0.convergence.lost_objects"), 0);
	cr_assert_eq(cJSON_GetArraySize(jget(j, "scenarios.0.convergence.stuck")), 0);
	cr_assert(cJSON_IsFalse(jget(j, "scenarios.2.convergence.converged")));
	cr_assert_eq(cJSON_GetArraySize(jget(j, "scenarios.2.convergence.stuck")), 2);
	cr_assert_str_eq(jget(j, "scenarios.2.convergence.stuck.0.key")->valuestring,
			 "ReplicaSet/default/rs-7");
	cr_assert_str_eq(jget(j, "scenarios.2.convergence.stuck.1.reason")->valuestring,
			 "missing 2 children");

	cr_assert_str_eq(jget(j, "scenarios.0.faults.0.type")->valuestring, "api_latency");
	cr_assert_eq(jnum(j, "scenarios.0.faults.0.injected"), 10);
	cr_assert_eq(jnum(j, "scenarios.0.faults.0.failed"), 1);
	cr_assert_float_eq(jnum(j, "scenarios.0.faults.0.converge_ns.mean"), 5e8, 1);
	cr_assert_eq(jnum(j, "scenarios.0.faults.0.converge_ns.max"), 9e8);
	cr_assert(fabs(jnum(j, "scenarios.0.faults.0.converge_ns.p50") - 5e8) <= 5e8 / 128);

	/* measured in one repetition only: present there, omitted (not 0, not null) elsewhere */
	cr_assert_null(jget(j, "scenarios.0.allocs_per_reconcile"));
	cr_assert_null(jget(j, "scenarios.0.bytes_per_reconcile"));
	cr_assert_eq(jnum(j, "scenarios.2.allocs_per_reconcile"), 12.5);
	cr_assert_eq(jnum(j, "scenarios.2.bytes_per_reconcile"), 4096);
	cr_assert_eq(jnum(j, "scenarios.0.harness_ns_per_reconcile"), 87);
	cr_assert_null(jget(j, "scenarios.0.probe"));
	cr_assert_eq(jnum(j, "scenarios.2.probe.latency_ns.p50"), 3000);
	cr_assert_null(jget(j, "scenarios.1.reconcile.latency_ns"), "beta has no histogram");

	cr_assert_eq(cJSON_GetArraySize(jget(j, "scenarios.0.timeseries")), 3);
	cr_assert_eq(jnum(j, "scenarios.0.timeseries.2.t_ns"), 3e8);
	cr_assert_eq(jnum(j, "scenarios.0.timeseries.1.depth"), 9);
	cr_assert_eq(jnum(j, "scenarios.0.timeseries.0.unconverged"), 50);

	/* the buckets add up to the count and hold every value */
	cJSON *b, *bk = jget(j, "scenarios.0.reconcile.latency_ns.buckets");
	double total = 0;
	cJSON_ArrayForEach(b, bk) total += cJSON_GetArrayItem(b, 2)->valuedouble;
	cr_assert_eq(total, 1000);
	(void)a1;
	cJSON_Delete(j);
	free(s);
}

Test(report, json_benchmarks_follow_google_benchmark, .init = setup, .fini = teardown)
{
	char *s = render(report_write_json);
	cJSON *j = cJSON_Parse(s), *b;
	int iterations = 0, aggregates = 0;

	cr_assert(j);
	cJSON_ArrayForEach(b, jget(j, "benchmarks")) {
		const char *type = jget(b, "run_type")->valuestring;
		cr_assert(cJSON_IsString(jget(b, "name")) && cJSON_IsString(jget(b, "run_name")));
		cr_assert_str_eq(jget(b, "time_unit")->valuestring, "ns");
		cr_assert(cJSON_IsNumber(jget(b, "real_time")) && cJSON_IsNumber(jget(b, "cpu_time")));
		cr_assert(cJSON_IsNumber(jget(b, "iterations")));
		if (!strcmp(type, "iteration")) {
			iterations++;
			cr_assert(cJSON_IsNumber(jget(b, "repetition_index")));
			cr_assert(cJSON_IsNumber(jget(b, "repetitions")));
		} else {
			cr_assert_str_eq(type, "aggregate");
			aggregates++;
		}
	}
	cr_assert_eq(iterations, 3);
	cr_assert_eq(aggregates, 3, "mean, median, stddev for alpha's two repetitions");
	/* alpha#0, alpha#1, its aggregates, then beta */
	cr_assert_str_eq(jget(j, "benchmarks.0.name")->valuestring, "reconcile/alpha/workers:2");
	cr_assert_eq(jnum(j, "benchmarks.0.repetitions"), 2);
	cr_assert_eq(jnum(j, "benchmarks.1.repetition_index"), 1);
	cr_assert_eq(jnum(j, "benchmarks.0.iterations"), 1000);
	cr_assert_eq(jnum(j, "benchmarks.0.real_time"), 2e6, "2 s / 1000 reconciles");
	cr_assert_eq(jnum(j, "benchmarks.0.cpu_time"), 1e6);
	cr_assert_eq(jnum(j, "benchmarks.0.reconciles_per_second"), 500);
	cr_assert_eq(jnum(j, "benchmarks.0.p99_ns"), (double)hist_percentile(rep.runs[0]->latency, 99));
	cr_assert_str_eq(jget(j, "benchmarks.2.aggregate_name")->valuestring, "mean");
	cr_assert_str_eq(jget(j, "benchmarks.2.name")->valuestring,
			 "reconcile/alpha/workers:2_mean");
	cr_assert_eq(jnum(j, "benchmarks.2.iterations"), 2);
	double p99a = (double)hist_percentile(rep.runs[0]->latency, 99);
	double p99b = (double)hist_percentile(rep.runs[2]->latency, 99);
	cr_assert_float_eq(jnum(j, "benchmarks.2.p99_ns"), (p99a + p99b) / 2, 1e-6);
	cr_assert_float_eq(jnum(j, "benchmarks.3.p99_ns"), (p99a + p99b) / 2, 1e-6, "median of 2");
	cr_assert_float_eq(jnum(j, "benchmarks.4.p99_ns"), fabs(p99a - p99b) / sqrt(2), 1e-6,
			   "sample stddev");
	cr_assert_null(jget(j, "benchmarks.2.allocs_per_reconcile"), "only one repetition has it");
	cr_assert_str_eq(jget(j, "benchmarks.5.name")->valuestring,
			 "reconcile/beta \"q\"/workers:2");
	cJSON_Delete(j);
	free(s);
}

Test(report, jq_reads_the_json, .init = setup, .fini = teardown)
{
	char *d = tmpdir_new(), path[512];
	char *s = render(report_write_json);
	struct run_result rr;

	if (!have_cmd("jq"))
		cr_skip_test("jq is not installed");
	snprintf(path, sizeof(path), "%s/r.json", d);
	FILE *fp = fopen(path, "w");
	fputs(s, fp);
	fclose(fp);
	cr_assert_eq(run_sh(&rr, "jq -r '[.scenarios[0].reconcile.count, "
				 "(.benchmarks|map(select(.run_type==\"iteration\"))|length), "
				 ".scenarios[2].convergence.stuck[0].key, "
				 ".scenarios[0].faults[0].injected] | @tsv' '%s'", path), 0);
	cr_assert_eq(rr.status, 0, "jq: %s", rr.err);
	cr_assert_str_eq(rr.out, "1000\t3\tReplicaSet/default/rs-7\t10\n");
	run_result_fini(&rr);
	free(s);
	free(d);
}

/* ---- a strict checker of the Prometheus text format 0.0.4 ---- */

struct prom_state {
	char family[128];
	char type[32];
	char families[64][128];
	int nfam;
	char series[4096][256];
	int nseries;
	char bucket_series[256];
	double last_bucket, inf_bucket;
	char err[1600];
};

static bool valid_name(const char *s, size_t n, bool metric)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static bool parse_value(const char *s, double *v)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN")) {
		*v = !strcmp(s, "NaN") ? NAN : (s[0] == '+' ? INFINITY : -INFINITY);
		return true;
	}
	if (!*s)
		return false;
	*v = strtod(s, &end);
	return !*end;
}

static bool has_suffix(const char *s, const char *suf, char *base)
{
	size_t n = strlen(s), m = strlen(suf);
	if (n <= m || strcmp(s + n - m, suf))
		return false;
	memcpy(base, s, n - m);
	base[n - m] = 0;
	return true;
}

/* Checks one sample line; returns false with st->err set. */
static bool prom_sample(struct prom_state *st, const char *line)
{
	char name[128], labels[256] = "", nole[256] = "", le[32] = "", base[128];
	const char *p = line, *q;
	size_t n = strcspn(p, "{ ");
	char seen[16][64];
	int nseen = 0;
	double v;

	if (n >= sizeof(name) || !valid_name(p, n, true))
		return snprintf(st->err, sizeof(st->err), "bad metric name: %s", line), false;
	memcpy(name, p, n);
	name[n] = 0;
	p += n;
	if (*p == '{') {
		q = ++p;
		while (*p != '}') {
			size_t ln = strcspn(p, "=");
			char lname[64];

			if (!valid_name(p, ln, false) || ln >= sizeof(lname) || p[ln] != '=' ||
			    p[ln + 1] != '"')
				return snprintf(st->err, sizeof(st->err), "bad label: %s", line), false;
			memcpy(lname, p, ln);
			lname[ln] = 0;
			for (int i = 0; i < nseen; i++)
				if (!strcmp(seen[i], lname))
					return snprintf(st->err, sizeof(st->err), "duplicate label: %s",
							line), false;
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", lname);
			const char *vs = p + ln + 2;
			p = vs;
			while (*p && *p != '"') {
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return snprintf(st->err, sizeof(st->err),
								"bad escape: %s", line), false;
					p++;
				} else if (*p == '\n') {
					return false;
				}
				p++;
			}
			if (*p != '"')
				return snprintf(st->err, sizeof(st->err), "unterminated: %s", line), false;
			if (!strcmp(lname, "le"))
				snprintf(le, sizeof(le), "%.*s", (int)(p - vs), vs);
			else
				snprintf(nole + strlen(nole), sizeof(nole) - strlen(nole), "%.*s,",
					 (int)(p - q), q);
			q = p + 2;
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return snprintf(st->err, sizeof(st->err), "bad label list: %s", line),
				       false;
		}
		snprintf(labels, sizeof(labels), "%.*s", (int)(p - line), line);
		p++;
	}
	if (*p != ' ' || !parse_value(p + 1, &v))
		return snprintf(st->err, sizeof(st->err), "bad value: %s", line), false;

	/* the sample belongs to the family of the last TYPE line */
	bool in_family = !strcmp(name, st->family);
	if (!strcmp(st->type, "histogram"))
		in_family = (has_suffix(name, "_bucket", base) || has_suffix(name, "_sum", base) ||
			     has_suffix(name, "_count", base)) && !strcmp(base, st->family);
	else if (!strcmp(st->type, "summary"))
		in_family = in_family || ((has_suffix(name, "_sum", base) ||
					   has_suffix(name, "_count", base)) &&
					  !strcmp(base, st->family));
	if (!st->family[0] || !in_family)
		return snprintf(st->err, sizeof(st->err), "sample outside its family '%s': %s",
				st->family, line), false;
	for (int i = 0; i < st->nseries; i++)
		if (!strcmp(st->series[i], labels[0] ? labels : name))
			return snprintf(st->err, sizeof(st->err), "duplicate series: %s", line), false;
	cr_assert(st->nseries < 4096);
	snprintf(st->series[st->nseries++], sizeof(st->series[0]), "%s", labels[0] ? labels : name);

	if (!strcmp(st->type, "histogram")) {
		if (has_suffix(name, "_bucket", base)) {
			if (!le[0])
				return snprintf(st->err, sizeof(st->err), "bucket without le: %s", line),
				       false;
			if (strcmp(nole, st->bucket_series)) {
				snprintf(st->bucket_series, sizeof(st->bucket_series), "%s", nole);
				st->last_bucket = 0;
				st->inf_bucket = NAN;
			}
			if (v < st->last_bucket)
				return snprintf(st->err, sizeof(st->err), "buckets not cumulative: %s",
						line), false;
			st->last_bucket = v;
			if (!strcmp(le, "+Inf"))
				st->inf_bucket = v;
		} else if (has_suffix(name, "_count", base)) {
			if (strcmp(nole, st->bucket_series) || st->inf_bucket != v)
				return snprintf(st->err, sizeof(st->err),
						"_count differs from the +Inf bucket: %s", line), false;
		}
	}
	return true;
}

static bool prom_check(struct prom_state *st, const char *text)
{
	const char *p = text;
	char line[1024];

	memset(st, 0, sizeof(*st));
	if (!*text)
		return true;
	if (text[strlen(text) - 1] != '\n')
		return snprintf(st->err, sizeof(st->err), "no final newline"), false;
	while (*p) {
		size_t n = strcspn(p, "\n");
		cr_assert(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = 0;
		p += n + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			char *sp = strchr(line + 7, ' ');
			if (!sp || !valid_name(line + 7, (size_t)(sp - line - 7), true))
				return snprintf(st->err, sizeof(st->err), "bad HELP: %s", line), false;
		} else if (!strncmp(line, "# TYPE ", 7)) {
			char name[128], type[32], extra[8];
			if (sscanf(line + 7, "%127s %31s %7s", name, type, extra) != 2)
				return snprintf(st->err, sizeof(st->err), "bad TYPE: %s", line), false;
			if (strcmp(type, "counter") && strcmp(type, "gauge") &&
			    strcmp(type, "histogram") && strcmp(type, "summary") &&
			    strcmp(type, "untyped"))
				return snprintf(st->err, sizeof(st->err), "bad type: %s", line), false;
			for (int i = 0; i < st->nfam; i++)
				if (!strcmp(st->families[i], name))
					return snprintf(st->err, sizeof(st->err),
							"family '%s' appears twice", name), false;
			cr_assert(st->nfam < 64);
			snprintf(st->families[st->nfam++], sizeof(st->families[0]), "%s", name);
			snprintf(st->family, sizeof(st->family), "%s", name);
			snprintf(st->type, sizeof(st->type), "%s", type);
			if (!strcmp(type, "counter") && !strstr(name, "_total"))
				return snprintf(st->err, sizeof(st->err), "counter without _total: %s",
						name), false;
		} else if (line[0] == '#' || !line[0]) {
			return snprintf(st->err, sizeof(st->err), "unexpected line: '%s'", line), false;
		} else if (!prom_sample(st, line)) {
			return false;
		}
	}
	return true;
}

Test(report, prom_checker_rejects_malformed_text)
{
	static struct prom_state st;
	static const char *const bad[] = {
		"x_total 1\n",						/* no TYPE */
		"# TYPE x_total counter\nx_total{a=\"1\" 2\n",		/* unterminated labels */
		"# TYPE x_total counter\nx_total{a=\"1\",a=\"2\"} 2\n",	/* duplicate label */
		"# TYPE x_total counter\nx_total 1abc\n",		/* bad value */
		"# TYPE x_total counter\nx_total 1\nx_total 2\n",	/* duplicate series */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 4\nh_count 4\n",
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 4\nh_count 5\n",
		"# TYPE g gauge\n# TYPE g gauge\n",
		"# TYPE g gauge\ng{l=\"a\\q\"} 1\n",			/* bad escape */
		"# TYPE g gauge\ng 1",					/* no newline */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(prom_check(&st, bad[i]), "accepted: %s", bad[i]);
	cr_assert(prom_check(&st, "# HELP g a gauge\n# TYPE g gauge\ng{l=\"a\\\"b\"} 1.5\n"),
		  "%s", st.err);
}

static double prom_get(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; (p = strstr(p, series)); p++) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	cr_assert_fail("series not found: %s", series);
	return NAN;
}

Test(report, prom_is_valid_exposition_with_client_go_names, .init = setup, .fini = teardown)
{
	static struct prom_state st;
	char *s = render(report_write_prom), series[256];
	struct bench_run *a0 = rep.runs[0];

	cr_assert(prom_check(&st, s), "%s\n%s", st.err, s);
	static const char *const families[] = {
		"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
		"controller_runtime_terminal_reconcile_errors_total",
		"controller_runtime_reconcile_panics_total",
		"controller_runtime_reconcile_time_seconds",
		"controller_runtime_max_concurrent_reconciles", "workqueue_adds_total",
		"workqueue_depth", "workqueue_queue_duration_seconds", "workqueue_retries_total",
		"workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds",
		"reconperf_converged", "reconperf_convergence_seconds", "reconperf_lost_objects",
		"reconperf_faults_injected_total", "reconperf_fault_converge_seconds",
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char want[160];
		snprintf(want, sizeof(want), "# TYPE %s ", families[i]);
		cr_assert(strstr(s, want), "family %s missing", families[i]);
	}
	cr_assert_eq(prom_get(s, "controller_runtime_reconcile_total{controller=\"alpha\","
				 "scenario=\"alpha\",repetition=\"0\",result=\"success\"}"), 900);
	cr_assert_eq(prom_get(s, "controller_runtime_reconcile_total{controller=\"alpha\","
				 "scenario=\"alpha\",repetition=\"1\",result=\"requeue_after\"}"), 20);
	cr_assert_eq(prom_get(s, "controller_runtime_max_concurrent_reconciles{controller=\"alpha\","
				 "scenario=\"alpha\",repetition=\"0\"}"), 2);
	cr_assert_eq(prom_get(s, "workqueue_retries_total{name=\"alpha\",scenario=\"alpha\","
				 "repetition=\"0\"}"), 57);
	/* controller-runtime's buckets: 5ms first, 60s last; latency here is 1us..1ms */
	snprintf(series, sizeof(series), "controller_runtime_reconcile_time_seconds_bucket{"
		 "controller=\"alpha\",scenario=\"alpha\",repetition=\"0\",le=\"0.005\"}");
	cr_assert_eq(prom_get(s, series), 1000);
	cr_assert(strstr(s, "le=\"60\"}"));
	cr_assert_float_eq(prom_get(s, "controller_runtime_reconcile_time_seconds_sum{"
				       "controller=\"alpha\",scenario=\"alpha\",repetition=\"0\"}"),
			   hist_sum(a0->latency) / 1e9, 1e-9);
	/* client-go's workqueue buckets: 1e-08 .. 10; queue wait is 10us..10ms */
	snprintf(series, sizeof(series), "workqueue_queue_duration_seconds_bucket{name=\"alpha\","
		 "scenario=\"alpha\",repetition=\"0\",le=\"0.001\"}");
	cr_assert_eq(prom_get(s, series), (double)hist_count_le(a0->queue_wait, 1000000));
	cr_assert(prom_get(s, series) >= 99 && prom_get(s, series) <= 101);
	cr_assert_eq(prom_get(s, "workqueue_longest_running_processor_seconds{name=\"alpha\","
				 "scenario=\"alpha\",repetition=\"0\"}"), 0.25);
	cr_assert_eq(prom_get(s, "reconperf_converged{scenario=\"alpha\",repetition=\"1\"}"), 0);
	cr_assert_eq(prom_get(s, "reconperf_convergence_seconds{scenario=\"alpha\","
				 "repetition=\"0\"}"), 1.5);
	cr_assert_null(strstr(s, "reconperf_convergence_seconds{scenario=\"alpha\",repetition=\"1\"}"),
		       "a run that did not converge has no convergence time");
	cr_assert_eq(prom_get(s, "reconperf_stuck_objects{scenario=\"alpha\",repetition=\"1\"}"), 2);
	cr_assert_eq(prom_get(s, "reconperf_faults_injected_total{scenario=\"alpha\","
				 "repetition=\"0\",fault=\"api_latency\"}"), 10);
	cr_assert_eq(prom_get(s, "reconperf_allocs_per_reconcile{scenario=\"alpha\","
				 "repetition=\"1\"}"), 12.5);
	cr_assert_null(strstr(s, "reconperf_allocs_per_reconcile{scenario=\"alpha\",repetition=\"0\"}"));
	/* the quote in beta's name is escaped */
	cr_assert(strstr(s, "scenario=\"beta \\\"q\\\"\""));
	free(s);
}

Test(report, gobench_lines_follow_the_go_benchmark_grammar, .init = setup, .fini = teardown)
{
	char *s = render(report_write_gobench), *save, *line;
	regex_t head, bench, pair;
	int nbench = 0, nhead = 0;

	cr_assert_eq(regcomp(&head, "^(goos|goarch|pkg|cpu): [^ ].*$", REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regcomp(&bench, "^Benchmark[^ \t]+-[0-9]+\t[0-9]+(\t[-+0-9.eE]+ [^ \t]+)+$",
			     REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regcomp(&pair, "\t([-+0-9.eE]+) ([^ \t]+)", REG_EXTENDED), 0);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "Benchmark", 9)) {
			cr_assert_eq(regexec(&bench, line, 0, NULL, 0), 0, "bad line: '%s'", line);
			nbench++;
			if (nbench == 1) {
				cr_assert(!strncmp(line, "BenchmarkReconcile/alpha-2\t1000\t2000000 ns/op"
						   "\t500 reconciles/s\t", 47), "%s", line);
				cr_assert_null(strstr(line, "allocs/op"), "not measured in #0");
				cr_assert(strstr(line, "\t1500000000 converge-ns"));
				cr_assert(strstr(line, "\t87 harness-ns/op"));
			}
			if (nbench == 3) {
				cr_assert(strstr(line, "\t12.50 allocs/op"), "%s", line);
				cr_assert(strstr(line, "\t4096 B/op"), "%s", line);
				cr_assert_null(strstr(line, "converge-ns"));
				char want[64];
				snprintf(want, sizeof(want), "\t%llu p99-ns",
					 (unsigned long long)hist_percentile(rep.runs[2]->latency, 99));
				cr_assert(strstr(line, want), "%s", line);
			}
			if (nbench == 2)
				cr_assert(!strncmp(line, "BenchmarkReconcile/beta_\"q\"-2\t", 29), "%s", line);
		} else {
			cr_assert_eq(nbench, 0, "header after benchmark lines: '%s'", line);
			cr_assert_eq(regexec(&head, line, 0, NULL, 0), 0, "bad header: '%s'", line);
			nhead++;
		}
	}
	cr_assert_eq(nhead, 4);
	cr_assert_eq(nbench, 3, "one line per repetition");
	regfree(&head);
	regfree(&bench);
	regfree(&pair);
	free(s);
}

Test(report, table_shows_the_numbers_and_faults_first, .init = setup, .fini = teardown)
{
	char *s = render(report_write_table), buf[32], want[128];
	struct bench_run *a0 = rep.runs[0];

	cr_assert(strstr(s, "reconperf 9.8.7"));
	cr_assert(strstr(s, "seed 4242"));
	cr_assert(strstr(s, "== alpha  repetition 1/2  (100 objects, 2 workers)"), "%s", s);
	cr_assert(strstr(s, "== alpha  repetition 2/2"));
	cr_assert(strstr(s, "1000 in 2.00s  (500.0/s"), "%s", s);
	snprintf(want, sizeof(want), "p50 %s",
		 units_fmt_ns((double)hist_percentile(a0->latency, 50), buf, sizeof(buf)));
	cr_assert(strstr(s, want), "missing '%s' in\n%s", want, s);
	snprintf(want, sizeof(want), "p99.9 %s",
		 units_fmt_ns((double)hist_percentile(a0->latency, 99.9), buf, sizeof(buf)));
	cr_assert(strstr(s, want), "missing '%s'", want);
	cr_assert(strstr(s, "max 1.00ms"));
	cr_assert(strstr(s, "max 10.00ms"), "queue wait max");
	cr_assert(strstr(s, "success 900, error 50, requeue 30, requeue_after 20"), "%s", s);
	cr_assert(strstr(s, "retries            57"));
	cr_assert(strstr(s, "conflicts          7"));

	/* the fault table comes before the run's throughput line */
	char *ft = strstr(s, "fault type"), *rl = strstr(s, "reconciles  ");
	cr_assert(ft && rl && ft < rl, "fault table must come first");
	cr_assert(strstr(s, "api_latency"));
	cr_assert(strstr(s, "500.00ms"), "mean converge 0.5s");

	cr_assert(strstr(s, "converged 1.50s after the last perturbation; lost objects 0"));
	cr_assert(strstr(s, "NOT converged by the deadline: 2 stuck"));
	cr_assert(strstr(s, "stuck ReplicaSet/default/rs-7: status.observedGeneration 3 != "
			    "generation 4"));
	cr_assert(strstr(s, "12.5 allocs/op, 4.00 KiB/op"), "%s", s);
	int nallocs = 0;
	for (const char *p = s; (p = strstr(p, "allocs/op")); p++)
		nallocs++;
	cr_assert_eq(nallocs, 1, "allocations shown only where measured");
	cr_assert(strstr(s, "87 ns/op outside the reconciler"));
	cr_assert(strstr(s, "2.00 KiB/object"));
	cr_assert(strstr(s, "probe latency"));
	free(s);
}

Test(report, write_errors_are_reported, .init = setup, .fini = teardown)
{
	int (*fns[])(FILE *, const struct bench_report *) = {
		report_write_table, report_write_json, report_write_prom, report_write_gobench,
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		FILE *fp = fopen("/dev/full", "w");
		cr_assert(fp);
		setvbuf(fp, NULL, _IONBF, 0);
		cr_assert_eq(fns[i](fp, &rep), -EIO, "writer %zu", i);
		fclose(fp);
	}
}

Test(report, empty_report_renders_everywhere)
{
	struct bench_report empty = { .seed = 1 };
	char *buf = NULL;
	size_t len = 0;

	for (int f = REPORT_TABLE; f <= REPORT_GOBENCH; f++) {
		FILE *fp = open_memstream(&buf, &len);
		cr_assert_eq(report_write(fp, &empty, (enum report_format)f), 0);
		fclose(fp);
		if (f == REPORT_JSON) {
			cJSON *j = cJSON_Parse(buf);
			cr_assert(j);
			cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "scenarios")), 0);
			cJSON_Delete(j);
		}
		free(buf);
		buf = NULL;
	}
	bench_report_fini(&empty);
	bench_run_free(NULL);
}

Test(report, format_names_parse)
{
	enum report_format f;
	cr_assert_eq(report_format_parse("prom", &f), 0);
	cr_assert_eq(f, REPORT_PROM);
	cr_assert_eq(report_format_parse("gobench", &f), 0);
	cr_assert_str_eq(report_format_name(f), "gobench");
	cr_assert_eq(report_format_parse("yaml", &f), -EINVAL);
	cr_assert_eq(report_format_parse("", &f), -EINVAL);
}

Test(result, new_run_marks_optional_fields_unmeasured)
{
	struct bench_run *r = bench_run_new();
	cr_assert(r);
	cr_assert(isnan(r->allocs_per_reconcile) && isnan(r->bytes_per_reconcile));
	cr_assert(isnan(r->harness_ns_per_reconcile) && isnan(r->bytes_per_object));
	cr_assert_null(r->latency);
	cr_assert_null(r->probe_latency);
	cr_assert_eq(r->reconciles, 0);
	bench_run_free(r);
}

/* cJSON allocation hook that fails after a budget: every error path of the JSON writer. */
static long alloc_budget;

static void *failing_malloc(size_t n)
{
	if (alloc_budget-- <= 0)
		return NULL;
	return malloc(n);
}

Test(report, json_out_of_memory_at_every_allocation_fails_cleanly, .init = setup,
     .fini = teardown)
{
	cJSON_Hooks hooks = { .malloc_fn = failing_malloc, .free_fn = free };
	int rc = -ENOMEM;
	long n;

	cJSON_InitHooks(&hooks);
	for (n = 0; rc == -ENOMEM && n < 100000; n++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&buf, &len);

		alloc_budget = n;
		rc = report_write_json(fp, &rep);
		fclose(fp);
		if (rc == -ENOMEM)
			cr_assert_eq(len, 0, "budget %ld: wrote %zu bytes before failing", n, len);
		free(buf);
	}
	cJSON_InitHooks(NULL);
	cr_assert_eq(rc, 0, "never succeeded");
	cr_assert_gt(n, 100, "the report needs more than %ld allocations", n);
}

/* The real binary, a real (small) run, each format written with -o and read back. */
Test(report, bench_writes_every_format_that_its_reader_accepts, .timeout = 300)
{
	static struct prom_state st;
	char *d = tmpdir_new(), path[512];
	static const char *const fmts[] = { "json", "prom", "gobench", "table" };
	struct run_result rr;
	regex_t bench;

	cr_assert_eq(regcomp(&bench, "^Benchmark[^ \t]+-[0-9]+\t[0-9]+(\t[-+0-9.eE]+ [^ \t]+)+$",
			     REG_EXTENDED | REG_NOSUB), 0);
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		size_t len;
		char *s;

		snprintf(path, sizeof(path), "%s/out.%s", d, fmts[f]);
		cr_assert_eq(run_sh(&rr, "'%s' bench '%s/scenarios/priority.yaml' --objects 300 "
					 "--repeat 2 --format %s -o '%s'", rp_bin(), rp_src(), fmts[f],
				    path), 0);
		cr_assert_eq(rr.status, 0, "%s: exit %d: %s", fmts[f], rr.status, rr.err);
		run_result_fini(&rr);
		s = read_file(path, &len);
		cr_assert(s && len > 0, "%s: no output", fmts[f]);
		if (!strcmp(fmts[f], "json")) {
			cJSON *j = cJSON_Parse(s);
			cr_assert(j, "not JSON");
			cr_assert_eq(cJSON_GetArraySize(jget(j, "scenarios")), 2);
			cr_assert_str_eq(jget(j, "scenarios.1.name")->valuestring, "priority");
			cr_assert_eq(jnum(j, "scenarios.1.repetition"), 1);
			cr_assert_eq(jnum(j, "scenarios.0.objects"), 300);
			cr_assert_gt(jnum(j, "scenarios.0.reconcile.count"), 0);
			cr_assert_eq(jnum(j, "scenarios.0.reconcile.count"),
				     jnum(j, "benchmarks.0.iterations"));
			cr_assert_eq(jnum(j, "scenarios.0.reconcile.latency_ns.count"),
				     jnum(j, "scenarios.0.reconcile.count"),
				     "one latency sample per reconcile");
			cr_assert(cJSON_IsTrue(jget(j, "scenarios.0.convergence.converged")));
			cr_assert_str_eq(jget(j, "benchmarks.2.aggregate_name")->valuestring, "mean");
			cJSON_Delete(j);
		} else if (!strcmp(fmts[f], "prom")) {
			cr_assert(prom_check(&st, s), "%s", st.err);
			cr_assert(strstr(s, "controller_runtime_reconcile_total{controller=\"priority\","
					    "scenario=\"priority\",repetition=\"1\",result=\"success\"}"));
		} else if (!strcmp(fmts[f], "gobench")) {
			int n = 0;
			char *save, *line;
			for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
				if (strncmp(line, "Benchmark", 9))
					continue;
				cr_assert_eq(regexec(&bench, line, 0, NULL, 0), 0, "bad: '%s'", line);
				cr_assert(!strncmp(line, "BenchmarkReconcile/priority-2\t", 30), "%s", line);
				n++;
			}
			cr_assert_eq(n, 2);
		} else {
			cr_assert(strstr(s, "== priority  repetition 2/2  (300 objects, 2 workers)"),
				  "%s", s);
			cr_assert(strstr(s, "converged "), "%s", s);
		}
		free(s);
	}
	regfree(&bench);
	free(d);
}

Test(report, table_lists_twenty_stuck_objects_then_counts_the_rest)
{
	struct bench_report r = { .seed = 1 };
	struct bench_run *run = bench_run_new();
	char key[32];

	snprintf(run->name, sizeof(run->name), "stuck");
	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "Obj/ns/o-%d", i);
		cr_assert_eq(bench_run_add_stuck(run, key, "never reconciled"), 0);
	}
	cr_assert_eq(bench_report_add(&r, run), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	cr_assert_eq(report_write_table(fp, &r), 0);
	fclose(fp);
	cr_assert(strstr(buf, "NOT converged by the deadline: 25 stuck"));
	cr_assert(strstr(buf, "stuck Obj/ns/o-19: never reconciled"));
	cr_assert_null(strstr(buf, "o-20:"));
	cr_assert(strstr(buf, "... and 5 more (all in --format json)"), "%s", buf);
	cr_assert_null(strstr(buf, "latency"), "no histogram, no latency line");
	free(buf);
	bench_report_fini(&r);
}
