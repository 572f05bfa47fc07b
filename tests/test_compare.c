/*
 * Tests of common/compare (verdicts, correction across metrics, false alarms and power of
 * the whole gate on synthetic noise with fixed seeds) and of `reconperf compare` (the real
 * binary on generated reports: exit codes, messages, outputs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "common/compare.h"
#include "tests/rng.h"
#include "tests/util.h"

static void fill(struct bf_set *s, const char *group, const char *field, enum bf_dir dir,
		 struct rng *r, size_t n, double median, double cv, double p_out)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(bf_add(s, group, field, "ns", dir, rng_bench(r, median, cv, p_out)),
			     0);
}

static void add_values(struct bf_set *s, const char *field, enum bf_dir dir, const double *v,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(bf_add(s, "s", field, "", dir, v[i]), 0);
}

static const struct cmp_opts DEFAULTS = { .threshold = 0.05, .alpha = 0.05 };

/*
 * A/A over a family of 10 metrics (each 10 vs 10 samples, lognormal CV 3-5%, 5% outliers
 * up to 2x). Holm keeps the chance that *any* metric is flagged significant at most alpha
 * (+ 3-sigma binomial margin over 2000 trials: 0.0646); without correction it is about
 * 1 - 0.95^10 = 40%. The gate (significance and interval past 5%) raises no false
 * regression.
 */
Test(compare, a_a_family_false_alarm_rate_is_at_most_alpha_with_holm, .timeout = 120)
{
	struct rng r = { 20261127 };
	int trials = 2000, any_holm = 0, any_raw = 0, regressions = 0;
	double cvs[] = { 0.03, 0.04, 0.05 };
	char field[16], err[256];

	for (int t = 0; t < trials; t++) {
		struct bf_set b, n;
		struct cmp_result res;
		bool h = false, raw = false;

		bf_set_init(&b);
		bf_set_init(&n);
		for (int k = 0; k < 10; k++) {
			snprintf(field, sizeof(field), "m%d", k);
			fill(&b, "s", field, BF_LOWER_BETTER, &r, 10, 1e6, cvs[k % 3], 0.05);
			fill(&n, "s", field, BF_LOWER_BETTER, &r, 10, 1e6, cvs[k % 3], 0.05);
		}
		cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(res.n, 10);
		for (size_t i = 0; i < res.n; i++) {
			h = h || res.rows[i].p_adj < 0.05;
			raw = raw || res.rows[i].p < 0.05;
		}
		any_holm += h;
		any_raw += raw;
		regressions += res.count[CMP_REGRESSED] > 0;
		cmp_result_fini(&res);
		bf_set_fini(&b);
		bf_set_fini(&n);
	}
	cr_assert_leq(any_holm, 129, "family-wise false alarms with Holm: %d/2000", any_holm);
	cr_assert_geq(any_raw, 500, "uncorrected family-wise false alarms: %d/2000", any_raw);
	cr_assert_leq(regressions, 129, "false regressions: %d/2000", regressions);
}

/* Single metric, 2000 A/A trials: the gate's false-regression rate is at most alpha. */
Test(compare, a_a_single_metric_gate_never_exceeds_alpha, .timeout = 120)
{
	struct rng r = { 5 };
	int trials = 2000, sig = 0, reg = 0;
	char err[256];

	for (int t = 0; t < trials; t++) {
		struct bf_set b, n;
		struct cmp_result res;

		bf_set_init(&b);
		bf_set_init(&n);
		fill(&b, "s", "lat", BF_LOWER_BETTER, &r, 10, 1e6, 0.04, 0.05);
		fill(&n, "s", "lat", BF_LOWER_BETTER, &r, 10, 1e6, 0.04, 0.05);
		cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0, "%s", err);
		sig += res.rows[0].p_adj < 0.05;
		reg += res.count[CMP_REGRESSED];
		cmp_result_fini(&res);
		bf_set_fini(&b);
		bf_set_fini(&n);
	}
	cr_assert_leq(sig, 129, "significant: %d/2000", sig);
	cr_assert_leq(reg, 129, "regressed: %d/2000", reg);
}

static int gate_hits(uint64_t seed, size_t reps, double cv, double shift, int trials)
{
	struct rng r = { seed };
	int hits = 0;
	char err[256];

	for (int t = 0; t < trials; t++) {
		struct bf_set b, n;
		struct cmp_result res;

		bf_set_init(&b);
		bf_set_init(&n);
		fill(&b, "s", "lat", BF_LOWER_BETTER, &r, reps, 1e6, cv, 0.05);
		fill(&n, "s", "lat", BF_LOWER_BETTER, &r, reps, 1e6 * shift, cv, 0.05);
		cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0, "%s", err);
		hits += res.count[CMP_REGRESSED];
		cmp_result_fini(&res);
		bf_set_fini(&b);
		bf_set_fini(&n);
	}
	return hits;
}

/*
 * Power of the whole gate (significant AND interval past the 5% threshold) on a 10%
 * slowdown with 5% outliers: with 10 repetitions a side it needs low noise (CV 2%); at
 * CV 4% it takes 20 repetitions to stay near 95% (docs/compare.md has the whole curve).
 */
Test(compare, ten_percent_regression_with_ten_repetitions_fails_the_gate, .timeout = 120)
{
	int h10 = gate_hits(99, 10, 0.02, 1.10, 1000);
	int h20 = gate_hits(98, 20, 0.04, 1.10, 1000);

	cr_assert_geq(h10, 950, "10 reps, CV 2%%: %d/1000", h10);
	cr_assert_geq(h20, 880, "20 reps, CV 4%%: %d/1000", h20);
}

Test(compare, verdicts_follow_the_interval_and_the_direction)
{
	struct bf_set b, n;
	struct cmp_result res;
	char err[256];
	double base[] = { 100, 101, 102, 103, 104, 105, 106, 107, 108, 109 };
	double slow[10], fast[10], same[10];

	for (int i = 0; i < 10; i++) {
		slow[i] = base[i] * 1.3;
		fast[i] = base[i] * 0.7;
		same[i] = base[i] + 0.5;
	}
	bf_set_init(&b);
	bf_set_init(&n);
	add_values(&b, "lat", BF_LOWER_BETTER, base, 10);
	add_values(&n, "lat", BF_LOWER_BETTER, slow, 10);
	add_values(&b, "tput", BF_HIGHER_BETTER, base, 10);
	add_values(&n, "tput", BF_HIGHER_BETTER, slow, 10);	/* more throughput: better */
	add_values(&b, "mem", BF_LOWER_BETTER, base, 10);
	add_values(&n, "mem", BF_LOWER_BETTER, fast, 10);
	add_values(&b, "flat", BF_LOWER_BETTER, base, 10);
	add_values(&n, "flat", BF_LOWER_BETTER, same, 10);
	cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.n, 4);
	cr_assert_eq(res.rows[0].verdict, CMP_REGRESSED, "%s", res.rows[0].why);
	cr_assert_float_eq(res.rows[0].ratio, 1.3, 0.01);
	cr_assert_eq(res.rows[1].verdict, CMP_IMPROVED);
	cr_assert_eq(res.rows[2].verdict, CMP_IMPROVED);
	cr_assert_eq(res.rows[3].verdict, CMP_UNCHANGED, "%s", res.rows[3].why);
	cr_assert_eq(res.overall, CMP_REGRESSED);
	cr_assert_eq(res.count[CMP_IMPROVED], 2);
	/* geomean of cost ratios: 1.3 * (1/1.3) * 0.7 * ~1.005 */
	cr_assert_float_eq(res.geomean, pow(1.3 / 1.3 * 0.7 * 1.005, 0.25), 0.01);
	cmp_result_fini(&res);

	/* the same data with a 40% threshold: nothing is past it */
	struct cmp_opts wide = DEFAULTS;
	wide.threshold = 0.4;
	cr_assert_eq(cmp_run(&b, &n, &wide, &res, err, sizeof(err)), 0);
	cr_assert_eq(res.count[CMP_REGRESSED] + res.count[CMP_IMPROVED], 0);
	cr_assert_eq(res.rows[0].verdict, CMP_UNCHANGED, "%s", res.rows[0].why);
	cmp_result_fini(&res);
	bf_set_fini(&b);
	bf_set_fini(&n);
}

Test(compare, config_rules_override_threshold_direction_and_ignore)
{
	struct bf_set b, n;
	struct cmp_result res;
	struct cmpconf conf;
	char err[256];
	double base[] = { 100, 101, 102, 103, 104, 105 }, slow[6];

	for (int i = 0; i < 6; i++)
		slow[i] = base[i] * 1.3;
	bf_set_init(&b);
	bf_set_init(&n);
	add_values(&b, "lat", BF_LOWER_BETTER, base, 6);
	add_values(&n, "lat", BF_LOWER_BETTER, slow, 6);
	add_values(&b, "ops", BF_LOWER_BETTER, base, 6);
	add_values(&n, "ops", BF_LOWER_BETTER, slow, 6);
	add_values(&b, "noise", BF_LOWER_BETTER, base, 6);
	add_values(&n, "noise", BF_LOWER_BETTER, slow, 6);
	cmpconf_init(&conf);
	cr_assert_eq(cmpconf_parse(&conf, "c", "# rules\nmetric s:lat threshold 50%\n"
				   "metric s:o* direction higher  # ops are good\n"
				   "metric *:noise ignore\n", err, sizeof(err)), 0, "%s", err);
	struct cmp_opts o = DEFAULTS;
	o.conf = &conf;
	cr_assert_eq(cmp_run(&b, &n, &o, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.n, 2);
	cr_assert_str_eq(res.rows[0].name, "s:lat");
	cr_assert_float_eq(res.rows[0].threshold, 0.5, 1e-12);
	cr_assert_eq(res.rows[0].verdict, CMP_UNCHANGED);
	cr_assert_eq(res.rows[1].verdict, CMP_IMPROVED);
	cr_assert_eq(res.overall, CMP_IMPROVED);
	cmp_result_fini(&res);
	cmpconf_fini(&conf);
	bf_set_fini(&b);
	bf_set_fini(&n);
}

Test(compare, three_repetitions_warn_that_nothing_can_be_significant)
{
	struct bf_set b, n;
	struct cmp_result res;
	char err[256];
	double base[] = { 100, 101, 102 }, slow[] = { 200, 201, 202 };

	bf_set_init(&b);
	bf_set_init(&n);
	add_values(&b, "lat", BF_LOWER_BETTER, base, 3);
	add_values(&n, "lat", BF_LOWER_BETTER, slow, 3);
	cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0);
	cr_assert_eq(res.rows[0].verdict, CMP_INCONCLUSIVE);	/* doubled, yet p >= 0.1 */
	cr_assert_float_eq(res.rows[0].p, 0.1, 1e-12);
	cr_assert_eq(res.nwarn, 1);
	cr_assert(strstr(res.warnings[0], "smallest possible p-value is 0.1"), "%s",
		  res.warnings[0]);
	cr_assert(strstr(res.warnings[0], "run 4 or more"), "%s", res.warnings[0]);
	cmp_result_fini(&res);
	bf_set_fini(&b);
	bf_set_fini(&n);
}

Test(compare, zero_base_counts_use_an_absolute_change)
{
	struct bf_set b, n;
	struct cmp_result res;
	char err[256];
	double zero[] = { 0, 0, 0, 0, 0, 0, 0, 0 }, some[] = { 4, 5, 6, 5, 4, 6, 5, 7 };

	bf_set_init(&b);
	bf_set_init(&n);
	add_values(&b, "retries", BF_LOWER_BETTER, zero, 8);
	add_values(&n, "retries", BF_LOWER_BETTER, some, 8);
	cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), 0);
	cr_assert(!res.rows[0].relative);
	cr_assert_float_eq(res.rows[0].delta, 5, 1e-12);
	cr_assert_eq(res.rows[0].verdict, CMP_REGRESSED, "%s", res.rows[0].why);
	cr_assert(isnan(res.geomean));
	cmp_result_fini(&res);
	bf_set_fini(&b);
	bf_set_fini(&n);
}

Test(compare, one_sided_scenarios_and_metrics_are_named)
{
	struct bf_set b, n;
	struct cmp_result res;
	char err[512];

	bf_set_init(&b);
	bf_set_init(&n);
	cr_assert_eq(bf_add(&b, "alpha", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(bf_add(&b, "beta", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(bf_add(&n, "alpha", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(bf_add(&n, "gamma", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "only in base: 'beta'; only in new: 'gamma'"), "%s", err);

	cr_assert_eq(bf_add(&n, "beta", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(bf_add(&b, "gamma", "cpu", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(cmp_run(&b, &n, &DEFAULTS, &res, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "missing on one side"), "%s", err);
	cr_assert(strstr(err, "only in base: 'gamma:cpu'; only in new: 'gamma:lat'"), "%s", err);

	/* --metric narrows the comparison to what both sides have */
	char *globs[] = { "*:lat" };
	struct cmp_opts o = DEFAULTS;
	o.globs = globs;
	o.nglobs = 1;
	cr_assert_eq(bf_add(&b, "gamma", "lat", "ns", BF_LOWER_BETTER, 1), 0);
	cr_assert_eq(cmp_run(&b, &n, &o, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.n, 3);
	cr_assert_eq(res.rows[0].verdict, CMP_INCONCLUSIVE);	/* one sample a side */
	cmp_result_fini(&res);
	char *none[] = { "nothing*" };
	o.globs = none;
	cr_assert_eq(cmp_run(&b, &n, &o, &res, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no metric matches"), "%s", err);
	bf_set_fini(&b);
	bf_set_fini(&n);
}

Test(compare, config_parse_errors_name_file_and_line)
{
	static const char *const bad[][2] = {
		{ "threshold 5%\nalpha 2\n", "c.conf:2: 'alpha' must be" },
		{ "metric x:y threshold\n", "c.conf:1: 'threshold' takes one value" },
		{ "\n\nmetric x:y direction sideways\n", "c.conf:3: 'direction' must be" },
		{ "metric x:y frobnicate\n", "c.conf:1: unknown metric key 'frobnicate'" },
		{ "thresold 5\n", "c.conf:1: unknown key 'thresold'" },
		{ "metric x:y ignore now\n", "c.conf:1: 'ignore' takes no value" },
		{ "correction sidak\n", "c.conf:1: 'correction' must be holm, bh or none" },
		{ "threshold 5 6\n", "c.conf:1: 'threshold' takes exactly one value" },
		{ "threshold -5%\n", "c.conf:1: 'threshold' must be a percentage" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cmpconf c;
		char err[256] = "";

		cmpconf_init(&c);
		cr_assert_eq(cmpconf_parse(&c, "c.conf", bad[i][0], err, sizeof(err)), -EINVAL,
			     "accepted: %s", bad[i][0]);
		cr_assert(strstr(err, bad[i][1]), "got '%s', want '%s'", err, bad[i][1]);
		cmpconf_fini(&c);
	}
	struct cmpconf c;
	char err[256];
	cmpconf_init(&c);
	cr_assert_eq(cmpconf_parse(&c, "c", "threshold 3\nalpha 0.01\ncorrection bh\n", err,
				   sizeof(err)), 0);
	cr_assert_float_eq(c.threshold, 0.03, 1e-12);
	cr_assert_float_eq(c.alpha, 0.01, 1e-12);
	cr_assert_eq(c.correction, CMP_CORR_BH);
	cmpconf_fini(&c);
}

/* ---- the command line ---- */

/* Writes a reconperf JSON report: reps repetitions of each scenario, latency scaled by slow. */
static void write_report(const char *path, uint64_t seed, int reps, double slow, double cv,
			 const char *const *scen, int nscen, bool allocs)
{
	struct rng r = { seed };
	FILE *fp = fopen(path, "w");

	cr_assert(fp, "cannot write %s", path);
	fprintf(fp, "{\"context\": {\"date\": \"2026-11-27T03:00:00Z\", \"host\": \"t\", "
		    "\"reconperf_version\": \"0.1.0\", \"scenario\": \"%s\", \"seed\": %llu, "
		    "\"options\": \"bench --repeat %d\"},\n \"benchmarks\": [\n", scen[0],
		(unsigned long long)seed, reps);
	for (int i = 0; i < reps; i++)
		for (int s = 0; s < nscen; s++)
			fprintf(fp,
				"%s  {\"name\": \"reconcile/%s/workers:2\", "
				"\"run_name\": \"reconcile/%s/workers:2\", \"run_type\": "
				"\"iteration\", "
				"\"repetition_index\": %d, "
				"\"iterations\": 1, \"real_time\": %.1f, \"cpu_time\": %.1f, "
				"\"time_unit\": \"ns\"}\n",
				i || s ? "," : "", scen[s], scen[s], i, rng_lognormal(&r, 2e5, cv),
				rng_lognormal(&r, 1.5e5 * slow, cv));
	fprintf(fp, " ],\n \"scenarios\": [\n");
	for (int i = 0; i < reps; i++)
		for (int s = 0; s < nscen; s++) {
			fprintf(fp,
				"%s  {\"name\": \"%s\", \"repetition\": %d, \"cpu_ns\": %.0f,"
				" \"reconcile\": {"
				"\"count\": 10000, \"per_second\": %.2f, \"latency_ns\": {"
				"\"p50\": %.0f, \"p90\": %.0f, \"p99\": %.0f, \"p999\": %.0f}},\n"
				"   \"queue\": {\"wait_ns\": {\"p50\": 900, \"p99\": %.0f}},"
				" \"retries\": %.0f, \"conflicts\": 0,\n"
				"   \"convergence\": {\"converged\": true, \"time_ns\": %.0f},\n",
				i || s ? "," : "", scen[s], i, rng_lognormal(&r, 1.5e9 * slow, cv),
				rng_lognormal(&r, 5e4 / slow, cv),
				rng_lognormal(&r, 2e4 * slow, cv),
				rng_lognormal(&r, 4e4 * slow, cv),
				rng_lognormal(&r, 9e4 * slow, cv),
				rng_lognormal(&r, 2e5 * slow, cv), rng_lognormal(&r, 5e4, cv),
				floor(rng_unif(&r) * 4), rng_lognormal(&r, 3e9, cv));
			if (allocs)
				fprintf(fp, "   \"allocs_per_reconcile\": %.3f,\n",
					rng_lognormal(&r, 12, cv));
			fprintf(fp, "   \"faults\": [{\"type\": \"conflict\", \"injected\": 5, "
				    "\"converge_ns\": {\"p99\": %.0f}, \"failed\": 0}]}\n",
				rng_lognormal(&r, 3e7, cv));
		}
	fprintf(fp, " ]}\n");
	cr_assert_eq(fclose(fp), 0);
}

static const char *const SCEN2[] = { "steady", "faulty" };

struct fx {
	char *dir;
	char base[512], aa[512], reg[512];
};

static void fixtures(struct fx *f)
{
	f->dir = tmpdir_new();
	cr_assert(f->dir);
	snprintf(f->base, sizeof(f->base), "%s/base.json", f->dir);
	snprintf(f->aa, sizeof(f->aa), "%s/aa.json", f->dir);
	snprintf(f->reg, sizeof(f->reg), "%s/reg.json", f->dir);
	write_report(f->base, 1, 10, 1.0, 0.02, SCEN2, 2, true);
	write_report(f->aa, 2, 10, 1.0, 0.02, SCEN2, 2, true);
	write_report(f->reg, 3, 10, 1.15, 0.02, SCEN2, 2, true);
}

static void fixtures_free(struct fx *f)
{
	struct run_result r;

	run_sh(&r, "rm -rf '%s'", f->dir);
	run_result_fini(&r);
	free(f->dir);
}

Test(compare_cli, a_a_reports_exit_zero_with_a_table, .timeout = 60)
{
	struct fx f;
	struct run_result r;

	fixtures(&f);
	run_sh(&r, "%s compare %s %s", rp_bin(), f.base, f.aa);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "steady:latency.p99"), "%s", r.out);
	cr_assert(strstr(r.out, "faulty:fault.conflict.converge.p99"), "%s", r.out);
	cr_assert(strstr(r.out, "geomean"), "%s", r.out);
	cr_assert(strstr(r.out, "0 regressed"), "%s", r.out);
	cr_assert_null(strstr(r.out, "regressed\n"), "%s", r.out);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, a_fifteen_percent_slowdown_exits_one, .timeout = 60)
{
	struct fx f;
	struct run_result r;

	fixtures(&f);
	run_sh(&r, "%s compare %s %s", rp_bin(), f.base, f.reg);
	cr_assert_eq(r.status, 1, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "steady:latency.p99"), "%s", r.out);
	cr_assert(strstr(r.out, "regressed: "), "%s", r.out);
	/* the same files the other way round: an improvement, exit 0 */
	run_result_fini(&r);
	run_sh(&r, "%s compare %s %s", rp_bin(), f.reg, f.base);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "improved: "), "%s", r.out);
	run_result_fini(&r);
	fixtures_free(&f);
}

/* Every row of a GFM table must have the header's number of cells. */
static void assert_md_table(const char *md)
{
	const char *hdr = strstr(md, "\n| metric |");
	int cols = 0, rows = 0;

	cr_assert(hdr, "no table header in %s", md);
	hdr++;
	for (const char *l = hdr; *l == '|'; l = strchr(l, '\n') + 1) {
		int cells = 0;

		for (const char *c = l; *c && *c != '\n'; c++)
			cells += *c == '|' && (c == l || c[-1] != '\\');
		if (!cols)
			cols = cells;
		cr_assert_eq(cells, cols, "row %d has %d separators, header %d", rows, cells, cols);
		if (rows == 1)
			cr_assert(!strncmp(l, "|:--|", 5), "no delimiter row");
		rows++;
		if (!strchr(l, '\n'))
			break;
	}
	cr_assert_eq(cols, 8);
	cr_assert_gt(rows, 3);
}

Test(compare_cli, markdown_has_a_table_that_renders, .timeout = 60)
{
	struct fx f;
	struct run_result r;

	fixtures(&f);
	run_sh(&r, "%s compare %s %s --format md", rp_bin(), f.base, f.reg);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(!strncmp(r.out, "### reconperf compare: **regressed**", 36), "%s", r.out);
	assert_md_table(r.out);
	cr_assert(strstr(r.out, "| **regressed** |"), "%s", r.out);
	cr_assert(strstr(r.out, "| *geomean* |"), "%s", r.out);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, json_is_valid_and_carries_the_verdicts, .timeout = 60)
{
	struct fx f;
	struct run_result r;
	char out[600];

	fixtures(&f);
	snprintf(out, sizeof(out), "%s/cmp.json", f.dir);
	run_sh(&r, "%s compare %s %s --format json -o %s", rp_bin(), f.base, f.reg, out);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	char *txt = read_file(out, NULL);
	cr_assert(txt);
	cJSON *j = cJSON_Parse(txt);
	cr_assert(j, "invalid JSON: %s", txt);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "overall")->valuestring, "regressed");
	cr_assert_str_eq(cJSON_GetObjectItem(j, "correction")->valuestring, "holm");
	cJSON *m = cJSON_GetObjectItem(j, "metrics");
	cr_assert_eq(cJSON_GetArraySize(m), 26);
	cJSON *first = cJSON_GetArrayItem(m, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(first, "name")->valuestring,
			 "steady:reconcile.per_second");
	cr_assert_str_eq(cJSON_GetObjectItem(first, "better")->valuestring, "higher");
	cr_assert_str_eq(cJSON_GetObjectItem(first, "verdict")->valuestring, "regressed");
	double ratio = cJSON_GetObjectItem(first, "ratio")->valuedouble;
	cr_assert(ratio > 0.8 && ratio < 0.93, "ratio %g", ratio);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
			     cJSON_GetObjectItem(first, "base"), "samples")), 10);
	cJSON_Delete(j);
	free(txt);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, sides_may_be_lists_and_directories, .timeout = 60)
{
	struct fx f;
	struct run_result r;
	char d[600];

	fixtures(&f);
	snprintf(d, sizeof(d), "%s/newdir", f.dir);
	mkdir(d, 0755);
	write_report(strcat(strcpy((char[700]){ 0 }, d), "/a.json"), 11, 5, 1.15, 0.02, SCEN2, 2,
		     true);
	write_report(strcat(strcpy((char[700]){ 0 }, d), "/b.json"), 12, 5, 1.15, 0.02, SCEN2, 2,
		     true);
	run_sh(&r, "%s compare %s,%s %s --format json", rp_bin(), f.base, f.aa, d);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cJSON *j = cJSON_Parse(r.out);
	cr_assert(j);
	cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metrics"), 0);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "base"), "n")->valueint, 20);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "new"), "n")->valueint, 10);
	cJSON_Delete(j);
	run_result_fini(&r);
	fixtures_free(&f);
}

/* Bad input: exit 2, a message naming the problem, and no -o file at all. */
static void expect_bad(struct fx *f, const char *args, const char *want1, const char *want2)
{
	struct run_result r;
	char out[600];

	snprintf(out, sizeof(out), "%s/out.md", f->dir);
	run_sh(&r, "cd %s && %s compare %s --format md -o %s", f->dir, rp_bin(), args, out);
	cr_assert_eq(r.status, 2, "'%s': status %d, stderr %s", args, r.status, r.err);
	cr_assert(strstr(r.err, want1), "'%s': stderr '%s' lacks '%s'", args, r.err, want1);
	if (want2)
		cr_assert(strstr(r.err, want2), "'%s': stderr '%s' lacks '%s'", args, r.err, want2);
	cr_assert(!strncmp(r.err, "reconperf: compare: ", 20), "%s", r.err);
	cr_assert(!file_exists(out), "'%s' left an output file", args);
	run_result_fini(&r);
	run_sh(&r, "ls -A %s | grep -c out || true", f->dir);
	cr_assert(r.out[0] == '0', "'%s' left a temporary file: %s", args, r.out);
	run_result_fini(&r);
}

Test(compare_cli, every_kind_of_bad_input_exits_two_and_writes_nothing, .timeout = 60)
{
	struct fx f;
	struct run_result r;
	const char *one[] = { "steady" }, *other[] = { "steady", "bursty" };

	fixtures(&f);
	run_sh(&r, "cd %s && : > empty.json && printf '{\"scenarios\": [\\n  {\"name\": }]}' "
		   "> broken.json && printf '{\"scenarios\": []}' > zero.json", f.dir);
	run_result_fini(&r);
	char p[600];
	snprintf(p, sizeof(p), "%s/one.json", f.dir);
	write_report(p, 4, 10, 1.0, 0.02, one, 1, true);
	snprintf(p, sizeof(p), "%s/other.json", f.dir);
	write_report(p, 5, 10, 1.0, 0.02, other, 2, true);
	snprintf(p, sizeof(p), "%s/noallocs.json", f.dir);
	write_report(p, 6, 10, 1.0, 0.02, SCEN2, 2, false);

	expect_bad(&f, "base.json missing.json", "new: missing.json: No such file", NULL);
	expect_bad(&f, "empty.json base.json", "base: empty.json: empty file", NULL);
	expect_bad(&f, "base.json broken.json", "new: broken.json:2:12: malformed JSON", NULL);
	expect_bad(&f, "base.json zero.json", "zero.json: no results", NULL);
	expect_bad(&f, "base.json other.json", "different scenarios", "only in base: 'faulty'; "
		   "only in new: 'bursty'");
	expect_bad(&f, "one.json base.json", "only in new: 'faulty'", NULL);
	expect_bad(&f, "base.json noallocs.json", "missing on one side",
		   "only in base: 'steady:allocs_per_reconcile', 'faulty:allocs_per_reconcile'");
	expect_bad(&f, "base.json", "need exactly two inputs", NULL);
	expect_bad(&f, "base.json aa.json --threshold 5x", "'--threshold' must be", "'5x'");
	expect_bad(&f, "base.json aa.json --alpha 0", "'--alpha' must be", NULL);
	expect_bad(&f, "base.json aa.json --format html", "'--format' must be", NULL);
	expect_bad(&f, "base.json aa.json --bogus", "unknown option '--bogus'", NULL);
	expect_bad(&f, "base.json aa.json --config nope.conf", "config: nope.conf: No such", NULL);
	run_sh(&r, "printf 'threshold 5%%%%\\nmetric *:retries ignore please\\n' > %s/bad.conf",
	       f.dir);
	run_result_fini(&r);
	expect_bad(&f, "base.json aa.json --config bad.conf", "bad.conf:2: 'ignore' takes no",
		   NULL);
	/* the metric missing on one side can be left out */
	run_sh(&r, "cd %s && %s compare base.json noallocs.json --metric '*:latency.*'",
	       f.dir, rp_bin());
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, config_ignores_and_thresholds_change_the_verdict, .timeout = 60)
{
	struct fx f;
	struct run_result r;

	fixtures(&f);
	run_sh(&r, "printf 'threshold 50%%%%\\n' > %s/loose.conf && %s compare %s %s "
		   "--config %s/loose.conf", f.dir, rp_bin(), f.base, f.reg, f.dir);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	run_result_fini(&r);
	/* the command line wins over the file */
	run_sh(&r, "%s compare %s %s --config %s/loose.conf --threshold 5", rp_bin(), f.base,
	       f.reg, f.dir);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	run_result_fini(&r);
	run_sh(&r, "printf 'metric * ignore\\nmetric *:conflicts threshold 5\\n' > %s/ign.conf"
		   " && %s compare %s %s --config %s/ign.conf", f.dir, rp_bin(), f.base, f.reg,
	       f.dir);
	cr_assert_eq(r.status, 2, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "no metric to compare"), "%s", r.err);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, too_few_repetitions_warn_on_stderr, .timeout = 60)
{
	struct fx f;
	struct run_result r;
	char a[600], b[600];

	fixtures(&f);
	snprintf(a, sizeof(a), "%s/a3.json", f.dir);
	snprintf(b, sizeof(b), "%s/b3.json", f.dir);
	write_report(a, 7, 3, 1.0, 0.02, SCEN2, 2, true);
	write_report(b, 8, 3, 2.0, 0.02, SCEN2, 2, true);
	run_sh(&r, "%s compare %s %s --format md", rp_bin(), a, b);
	cr_assert_eq(r.status, 0, "doubling with 3 runs is not provable: %s", r.out);
	cr_assert(strstr(r.err, "warning: with 3 base and 3 new samples no change can be "
			 "significant"), "%s", r.err);
	cr_assert(strstr(r.out, "> **warning:** with 3 base"), "%s", r.out);
	run_result_fini(&r);
	fixtures_free(&f);
}

Test(compare_cli, go_and_google_benchmark_files_compare_too, .timeout = 60)
{
	struct run_result r;
	char *d = tmpdir_new();

	run_sh(&r, "cd %s && for i in 1 2 3 4 5 6; do "
		   "echo \"BenchmarkA-2 1000 $((100 + i)) ns/op 16 B/op\"; done > old.txt && "
		   "for i in 1 2 3 4 5 6; do echo \"BenchmarkA-2 1000 $((130 + i)) ns/op 16 B/op\";"
		   " done > new.txt && %s compare old.txt new.txt", d, rp_bin());
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "BenchmarkA-2:ns/op"), "%s", r.out);
	cr_assert(strstr(r.out, "BenchmarkA-2:B/op"), "%s", r.out);
	run_result_fini(&r);
	run_sh(&r, "rm -rf '%s'", d);
	run_result_fini(&r);
	free(d);
}

/* ---- the CI recipe of docs/ci.md ---- */

/*
 * Extracts the workflow of docs/ci.md with a real YAML parser (PyYAML), checks its shape,
 * and writes the shell of the steps named "Run base and candidate interleaved" and
 * "Compare" to DIR/run.sh and DIR/compare.sh.
 */
static const char CI_EXTRACT[] =
	"import sys, yaml\n"
	"doc = open(sys.argv[1]).read()\n"
	"body = doc.split('## The workflow', 1)[1].split('```yaml\\n', 1)[1].split('```', 1)[0]\n"
	"wf = yaml.safe_load(body)\n"
	"assert 'pull_request' in wf[True], 'not triggered by pull requests'\n"
	"job = wf['jobs']['perf']\n"
	"steps = {s['name']: s for s in job['steps']}\n"
	"for need in ['Check out the candidate', 'Check out the base', 'Build base and candidate',\n"
	"             'Run base and candidate interleaved', 'Compare',\n"
	"             'Comment on the pull request', 'Fail on a regression or bad input']:\n"
	"    assert need in steps, need\n"
	"assert 'base.sha' in steps['Check out the base']['with']['ref']\n"
	"assert 'steps.compare.outputs.status' in steps['Fail on a regression or bad input']['run']\n"
	"open(sys.argv[2] + '/run.sh', 'w').write(steps['Run base and candidate interleaved']['run'])\n"
	"open(sys.argv[2] + '/compare.sh', 'w').write(steps['Compare']['run'])\n"
	"print(job['env']['REPEAT'])\n";

Test(compare_cli, ci_recipe_runs_interleaved_and_posts_markdown, .timeout = 240)
{
	struct run_result r;
	char *d = tmpdir_new();

	if (!have_cmd("python3"))
		cr_skip_test("python3 is not installed");
	run_sh(&r, "cd %s && cat > extract.py <<'PY'\n%sPY\npython3 extract.py %s/docs/ci.md .",
	       d, CI_EXTRACT, rp_src());
	cr_assert_eq(r.status, 0, "the workflow in docs/ci.md: %s%s", r.out, r.err);
	cr_assert_eq(atoi(r.out), 10, "default REPEAT %s", r.out);
	run_result_fini(&r);

	/* both sides are this build: an A/A run of the recipe, 3 repetitions of a fast bench */
	run_sh(&r, "cd %s && mkdir -p new/build && ln -s %s new/build/reconperf && "
		   "BASE_BIN=%s NEW_BIN=%s REPEAT=3 SCENARIOS=%s/scenarios/noop.yaml "
		   "BENCH_ARGS='--duration 0' sh run.sh && ls results/base results/new",
	       d, rp_bin(), rp_bin(), rp_bin(), rp_src());
	cr_assert_eq(r.status, 0, "run step: %s%s", r.out, r.err);
	cr_assert(strstr(r.out, "run-001.json\nrun-002.json\nrun-003.json\n"), "%s", r.out);
	run_result_fini(&r);

	run_sh(&r, "cd %s && : > summary.md && : > output.txt && CONFIG=none "
		   "GITHUB_STEP_SUMMARY=summary.md GITHUB_OUTPUT=output.txt sh compare.sh && "
		   "cat output.txt && cat summary.md", d);
	cr_assert_eq(r.status, 0, "compare step: %s%s", r.out, r.err);
	cr_assert(!strncmp(r.out, "status=0\n### reconperf compare: ", 32), "%s", r.out);
	cr_assert(strstr(r.out, "| noop:reconcile.per_second | "), "%s", r.out);
	cr_assert(strstr(r.out, "> **warning:** with 3 base and 3 new samples"), "%s", r.out);
	assert_md_table(strstr(r.out, "###"));
	run_result_fini(&r);
	run_sh(&r, "rm -rf '%s'", d);
	run_result_fini(&r);
	free(d);
}
