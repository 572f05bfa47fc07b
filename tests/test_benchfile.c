/* Tests of common/benchfile: the three readers, merging, and messages on bad input. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/benchfile.h"
#include "tests/util.h"

static const char REPORT[] =
	"{\"context\": {\"date\": \"2026-11-27T03:00:00Z\", \"host\": \"kind\",\n"
	"  \"reconperf_version\": \"0.1.0\", \"scenario\": \"default\", \"seed\": 1,\n"
	"  \"options\": \"bench --repeat 2\"},\n"
	" \"benchmarks\": [\n"
	"  {\"name\": \"default/repetition:0\", \"run_name\": \"default\", \"run_type\": "
	"\"iteration\",\n"
	"   \"repetition_index\": 0, \"iterations\": 1, \"real_time\": 2100, \"cpu_time\": 1500,\n"
	"   \"time_unit\": \"ms\", \"reconciles_per_second\": 50000},\n"
	"  {\"name\": \"default/repetition:1\", \"run_name\": \"default\", \"run_type\": "
	"\"iteration\",\n"
	"   \"repetition_index\": 1, \"iterations\": 1, \"real_time\": 2000, \"cpu_time\": 1600,\n"
	"   \"time_unit\": \"ms\"},\n"
	"  {\"name\": \"default_mean\", \"run_name\": \"default\", \"run_type\": \"aggregate\",\n"
	"   \"aggregate_name\": \"mean\", \"real_time\": 2050, \"cpu_time\": 1550,\n"
	"   \"time_unit\": \"ms\"}],\n"
	" \"scenarios\": [\n"
	"  {\"name\": \"default\", \"repetition\": 0,\n"
	"   \"reconcile\": {\"count\": 1000, \"per_second\": 50000,\n"
	"     \"latency_ns\": {\"p50\": 20000, \"p90\": 40000, \"p99\": 90000, \"p999\": 200000,\n"
	"                    \"max\": 900000, \"mean\": 25000}},\n"
	"   \"queue\": {\"wait_ns\": {\"p50\": 1000, \"p99\": 50000, \"max\": 90000}},\n"
	"   \"retries\": 3, \"conflicts\": 0,\n"
	"   \"convergence\": {\"converged\": true, \"time_ns\": 3e9, \"lost_objects\": 0,\n"
	"     \"stuck\": []},\n"
	"   \"allocs_per_reconcile\": 12.5, \"bytes_per_reconcile\": 2048,\n"
	"   \"faults\": [{\"type\": \"conflict\", \"injected\": 10,\n"
	"     \"converge_ns\": {\"mean\": 1e7, \"p50\": 8e6, \"p99\": 3e7, \"max\": 4e7},\n"
	"     \"failed\": 0}]},\n"
	"  {\"name\": \"default\", \"repetition\": 1,\n"
	"   \"reconcile\": {\"count\": 1000, \"per_second\": 51000,\n"
	"     \"latency_ns\": {\"p50\": 21000, \"p90\": 41000, \"p99\": 91000, \"p999\": "
	"210000}},\n"
	"   \"queue\": {\"wait_ns\": {\"p99\": 52000}}, \"retries\": 1, \"conflicts\": 2,\n"
	"   \"convergence\": {\"converged\": true, \"time_ns\": 3.1e9},\n"
	"   \"allocs_per_reconcile\": 12.0, \"bytes_per_reconcile\": 2000,\n"
	"   \"faults\": [{\"type\": \"conflict\", \"converge_ns\": {\"p99\": 3.2e7}}]}]}\n";

static struct bf_metric *must(struct bf_set *s, const char *name, size_t n)
{
	struct bf_metric *m = bf_find(s, name);

	cr_assert(m, "no metric %s", name);
	cr_assert_eq(m->n, n, "%s has %zu samples, want %zu", name, m->n, n);
	return m;
}

Test(benchfile, reconperf_report_gives_every_metric_with_its_direction)
{
	struct bf_set s;
	char err[256] = "";
	struct bf_metric *m;

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "r.json", REPORT, strlen(REPORT), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(s.kinds, BF_KIND_RECONPERF);
	cr_assert_eq(s.ngroups, 1);
	cr_assert_str_eq(s.groups[0], "default");
	m = must(&s, "default:reconcile.per_second", 2);
	cr_assert_eq(m->dir, BF_HIGHER_BETTER);
	cr_assert_float_eq(m->v[1], 51000, 0);
	m = must(&s, "default:latency.p999", 2);
	cr_assert_eq(m->dir, BF_LOWER_BETTER);
	cr_assert_str_eq(m->unit, "ns");
	cr_assert_float_eq(m->v[1], 210000, 0);
	must(&s, "default:latency.p50", 2);
	must(&s, "default:latency.p90", 2);
	must(&s, "default:latency.p99", 2);
	must(&s, "default:queue_wait.p99", 2);
	m = must(&s, "default:convergence.time", 2);
	cr_assert_float_eq(m->v[1], 3.1e9, 0);
	m = must(&s, "default:retries", 2);
	cr_assert_float_eq(m->v[0], 3, 0);
	must(&s, "default:conflicts", 2);
	must(&s, "default:allocs_per_reconcile", 2);
	must(&s, "default:bytes_per_reconcile", 2);
	m = must(&s, "default:fault.conflict.converge.p99", 2);
	cr_assert_float_eq(m->v[1], 3.2e7, 0);
	/* cpu_time from benchmarks[], in ns; the aggregate row is skipped */
	m = must(&s, "default:cpu_time", 2);
	cr_assert_float_eq(m->v[0], 1.5e9, 0);
	cr_assert_float_eq(m->v[1], 1.6e9, 0);
	/* a report's other benchmark counters duplicate scenarios[]: not read twice */
	cr_assert_null(bf_find(&s, "default:real_time"));
	cr_assert_null(bf_find(&s, "default:reconciles_per_second"));
	m = must(&s, "default:convergence.failed", 2);
	cr_assert_float_eq(m->v[0] + m->v[1], 0, 0);
	cr_assert_eq(s.n, 14);
	bf_set_fini(&s);
}

/* What `reconperf bench --format json` writes: cpu_ns per scenario run, per reconcile. */
Test(benchfile, reconperf_cpu_time_comes_from_scenarios_when_present)
{
	static const char rep[] =
		"{\"benchmarks\": [{\"name\": \"reconcile/a/workers:2\", \"run_name\": "
		"\"reconcile/a/workers:2\", \"run_type\": \"iteration\", \"cpu_time\": 7, "
		"\"real_time\": 9, \"time_unit\": \"ns\"}],\n"
		" \"scenarios\": [{\"name\": \"a\", \"cpu_ns\": 4000, \"reconcile\": "
		"{\"count\": 1000}},\n  {\"name\": \"a\", \"cpu_ns\": 5000, \"reconcile\": "
		"{\"count\": 1000}}]}";
	struct bf_set s;
	char err[256] = "";

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "r.json", rep, strlen(rep), err, sizeof(err)), 0, "%s", err);
	struct bf_metric *m = must(&s, "a:cpu_time", 2);
	cr_assert_float_eq(m->v[0], 4, 1e-12);
	cr_assert_float_eq(m->v[1], 5, 1e-12);
	cr_assert_eq(s.n, 1, "benchmarks[] is not read twice");
	cr_assert_eq(s.ngroups, 1);
	bf_set_fini(&s);
}

/* A run that did not converge: time_ns is 0 in the report; its wall time stands in. */
Test(benchfile, unconverged_runs_count_as_failed_and_slow)
{
	static const char rep[] =
		"{\"scenarios\": [{\"name\": \"a\", \"wall_ns\": 9e9, \"convergence\": "
		"{\"converged\": true, \"time_ns\": 2e9}},\n"
		" {\"name\": \"a\", \"wall_ns\": 30e9, \"convergence\": {\"converged\": false, "
		"\"time_ns\": 0}}]}";
	static const char bad[] =
		"{\"scenarios\": [{\"name\": \"a\", \"convergence\": {\"converged\": 1}}]}";
	struct bf_set s;
	char err[256] = "";

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "r.json", rep, strlen(rep), err, sizeof(err)), 0, "%s", err);
	struct bf_metric *m = must(&s, "a:convergence.time", 2);
	cr_assert_float_eq(m->v[0], 2e9, 0);
	cr_assert_float_eq(m->v[1], 30e9, 0);
	m = must(&s, "a:convergence.failed", 2);
	cr_assert_float_eq(m->v[0], 0, 0);
	cr_assert_float_eq(m->v[1], 1, 0);
	cr_assert_eq(bf_load_buf(&s, "b.json", bad, strlen(bad), err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "b.json: scenarios[0].convergence.converged: must be true or "
			 "false, got a number"), "%s", err);
	bf_set_fini(&s);
}

static const char GBENCH[] =
	"{\"context\": {\"date\": \"2026-11-27\", \"num_cpus\": 2, \"library_build_type\": "
	"\"release\"},\n"
	" \"benchmarks\": [\n"
	"  {\"name\": \"BM_Queue/64\", \"family_index\": 0, \"per_family_instance_index\": 0,\n"
	"   \"run_name\": \"BM_Queue/64\", \"run_type\": \"iteration\", \"repetitions\": 3,\n"
	"   \"repetition_index\": 0, \"threads\": 1, \"iterations\": 1000, \"real_time\": 1.5,\n"
	"   \"cpu_time\": 1.25, \"time_unit\": \"us\", \"items_per_second\": 8e5, \"allocs\": 3},\n"
	"  {\"name\": \"BM_Queue/64\", \"run_name\": \"BM_Queue/64\", \"run_type\": "
	"\"iteration\",\n"
	"   \"repetition_index\": 1, \"iterations\": 1000, \"real_time\": 1.6, \"cpu_time\": 1.3,\n"
	"   \"time_unit\": \"us\", \"items_per_second\": 7.9e5, \"allocs\": 3},\n"
	"  {\"name\": \"BM_Queue/64_mean\", \"run_name\": \"BM_Queue/64\", \"run_type\": "
	"\"aggregate\",\n"
	"   \"aggregate_name\": \"mean\", \"real_time\": 1.55, \"cpu_time\": 1.27,\n"
	"   \"time_unit\": \"us\"},\n"
	"  {\"name\": \"BM_Other\", \"run_name\": \"BM_Other\", \"run_type\": \"iteration\",\n"
	"   \"iterations\": 10, \"real_time\": 2, \"cpu_time\": 2, \"time_unit\": \"s\"}]}\n";

Test(benchfile, google_benchmark_repetitions_become_samples_and_aggregates_are_skipped)
{
	struct bf_set s;
	char err[256] = "";
	struct bf_metric *m;

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "g.json", GBENCH, strlen(GBENCH), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(s.kinds, BF_KIND_GBENCH);
	m = must(&s, "BM_Queue/64:cpu_time", 2);
	cr_assert_float_eq(m->v[0], 1250, 1e-9);
	m = must(&s, "BM_Queue/64:real_time", 2);
	cr_assert_float_eq(m->v[1], 1600, 1e-9);
	m = must(&s, "BM_Queue/64:items_per_second", 2);
	cr_assert_eq(m->dir, BF_HIGHER_BETTER);
	m = must(&s, "BM_Queue/64:allocs", 2);
	cr_assert_eq(m->dir, BF_LOWER_BETTER);
	m = must(&s, "BM_Other:real_time", 1);
	cr_assert_float_eq(m->v[0], 2e9, 0);
	cr_assert_eq(s.n, 6);
	bf_set_fini(&s);
}

static const char GOBENCH[] = "goos: linux\n"
			      "goarch: amd64\n"
			      "pkg: example.com/ctrl\n"
			      "cpu: Intel(R) Xeon(R)\n"
			      "BenchmarkReconcile-2   \t   10000\t    123.5 ns/op\t  45 B/op\t  6 "
			      "allocs/op\t  7 reconciles/op\n"
			      "BenchmarkReconcile-2   \t   12000\t    125 ns/op\t  45 B/op\t  6 "
			      "allocs/op\t  7 reconciles/op\n"
			      "BenchmarkCopy/size=64-2   500000   2.5 ns/op  25600.00 MB/s\n"
			      "BenchmarkVerbose\n"
			      "PASS\n"
			      "ok  \texample.com/ctrl\t3.2s\n";

Test(benchfile, go_benchmark_lines_group_by_name_and_unit)
{
	struct bf_set s;
	char err[256] = "";
	struct bf_metric *m;

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "go.txt", GOBENCH, strlen(GOBENCH), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(s.kinds, BF_KIND_GOBENCH);
	m = must(&s, "BenchmarkReconcile-2:ns/op", 2);
	cr_assert_float_eq(m->v[0], 123.5, 0);
	cr_assert_eq(m->dir, BF_LOWER_BETTER);
	must(&s, "BenchmarkReconcile-2:B/op", 2);
	must(&s, "BenchmarkReconcile-2:allocs/op", 2);
	must(&s, "BenchmarkReconcile-2:reconciles/op", 2);
	m = must(&s, "BenchmarkCopy/size=64-2:MB/s", 1);
	cr_assert_eq(m->dir, BF_HIGHER_BETTER);
	cr_assert_eq(s.n, 6);
	cr_assert_eq(s.ngroups, 2);
	bf_set_fini(&s);
}

/* Thousands of benchmarks: names are found through an index that grows as the set does;
 * every repetition must still land on its own metric, in first-seen order. */
Test(benchfile, thousands_of_benchmarks_each_pool_their_own_repetitions)
{
	size_t nb = 5000, cap = nb * 3 * 64, len = 0;
	char *text = malloc(cap), err[256] = "", name[64];
	struct bf_set s;
	struct bf_metric *m;

	for (int rep = 0; rep < 3; rep++)
		for (size_t i = 0; i < nb; i++)
			len += (size_t)snprintf(text + len, cap - len,
						"BenchmarkB%zu-2 10 %zu ns/op %d B/op\n", i,
						i * 10 + (size_t)rep, rep);
	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "many.txt", text, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s.n, 2 * nb);
	cr_assert_eq(s.ngroups, nb);
	for (size_t i = 0; i < nb; i += 499) {
		snprintf(name, sizeof(name), "BenchmarkB%zu-2:ns/op", i);
		m = must(&s, name, 3);
		cr_assert_eq(m, &s.m[2 * i]);
		for (int rep = 0; rep < 3; rep++)
			cr_assert_float_eq(m->v[rep], (double)(i * 10 + (size_t)rep), 0);
		*strchr(name, ':') = '\0';
		cr_assert_str_eq(s.groups[i], name);
		cr_assert(bf_has_group(&s, s.groups[i]));
	}
	cr_assert_null(bf_find(&s, "BenchmarkB5000-2:ns/op"));
	cr_assert_not(bf_has_group(&s, "BenchmarkB5000-2"));
	bf_set_fini(&s);
	free(text);
}

Test(benchfile, several_files_of_one_side_pool_their_samples)
{
	struct bf_set s;
	char err[256] = "", *dir = tmpdir_new(), path[512], spec[1100];
	FILE *fp;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/run%d.txt", dir, i);
		fp = fopen(path, "w");
		cr_assert(fp);
		fprintf(fp, "BenchmarkA-2 100 %d ns/op\nBenchmarkA-2 100 %d ns/op\n", 10 + i,
			20 + i);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "%s/.hidden", dir);
	fp = fopen(path, "w");
	fputs("not a results file", fp);
	fclose(fp);

	bf_set_init(&s);
	cr_assert_eq(bf_load_spec(&s, dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s.nfiles, 2);
	struct bf_metric *m = must(&s, "BenchmarkA-2:ns/op", 4);
	cr_assert_float_eq(m->v[0], 10, 0);	/* run0 before run1: sorted by name */
	cr_assert_float_eq(m->v[3], 21, 0);
	bf_set_fini(&s);

	bf_set_init(&s);
	snprintf(spec, sizeof(spec), "%s/run0.txt,%s/run1.txt,%s/run0.txt", dir, dir, dir);
	cr_assert_eq(bf_load_spec(&s, spec, err, sizeof(err)), 0, "%s", err);
	must(&s, "BenchmarkA-2:ns/op", 6);
	bf_set_fini(&s);

	bf_set_init(&s);
	snprintf(spec, sizeof(spec), "%s/run0.txt,,%s/run1.txt", dir, dir);
	cr_assert_eq(bf_load_spec(&s, spec, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "empty file name"), "%s", err);
	bf_set_fini(&s);
	struct run_result r;

	run_sh(&r, "rm -rf '%s'", dir);
	run_result_fini(&r);
	free(dir);
}

/* Bad input: the message names the file, the line (or JSON field) and the problem. */
struct badcase {
	char name[48];
	char text[400];
	char want[3][80];
};

ParameterizedTestParameters(benchfile, bad_input_is_reported_with_file_and_place)
{
	static struct badcase c[] = {
		{"empty", "", {"x.json: empty file"}},
		{"blank", "  \n\t\n", {"x.json: empty file"}},
		{"truncated JSON",
		 "{\"scenarios\": [\n {\"name\": \"a\",\n",
		 {"x.json:3:", "malformed JSON", "end of file"}},
		{"bad token",
		 "{\"scenarios\": [\n  {\"name\": 'a'}]}",
		 {"x.json:2:12:", "malformed JSON", "near ''a'"}},
		{"trailing garbage", "{\"benchmarks\": []} xyz", {"x.json:1:20:", "near 'xyz'"}},
		{"neither", "{\"foo\": 1}", {"x.json", "neither 'scenarios'"}},
		{"not object", "[1, 2]", {"x.json", "top level must be an object"}},
		{"scenarios not array",
		 "{\"scenarios\": {}}",
		 {"x.json: scenarios: must be an array, got an object"}},
		{"no name",
		 "{\"scenarios\": [{\"retries\": 1}]}",
		 {"x.json: scenarios[0]: missing field 'name'"}},
		{"string number",
		 "{\"scenarios\": [{\"name\": \"a\", \"reconcile\": {\"per_second\": \"fast\"}}]}",
		 {"scenarios[0].reconcile.per_second: must be a number, got a string"}},
		{"latency not object",
		 "{\"scenarios\": [{\"name\": \"a\", \"reconcile\": {\"latency_ns\": [1]}}]}",
		 {"scenarios[0].reconcile.latency_ns: must be an object, got an array"}},
		{"fault without type",
		 "{\"scenarios\": [{\"name\": \"a\", \"retries\": 1, \"faults\": [{\"injected\": "
		 "1}]}]}",
		 {"scenarios[0].faults[0]: missing field 'type'"}},
		{"empty scenarios", "{\"scenarios\": []}", {"x.json: no results"}},
		{"gb no cpu_time",
		 "{\"benchmarks\": [{\"name\": \"BM_a\", \"real_time\": 1}]}",
		 {"benchmarks[0]: missing field 'cpu_time'"}},
		{"gb time unit",
		 "{\"benchmarks\": [{\"name\": \"BM_a\", \"cpu_time\": 1, \"real_time\": 1, "
		 "\"time_unit\": \"weeks\"}]}",
		 {"benchmarks[0].time_unit: must be ns, us, ms or s, got 'weeks'"}},
		{"gb error",
		 "{\"benchmarks\": [{\"name\": \"BM_a\", \"error_occurred\": true, "
		 "\"error_message\": \"boom\"}]}",
		 {"benchmark 'BM_a' failed: boom"}},
		{"go bad count",
		 "goos: linux\nBenchmarkA-2 ten 5 ns/op\n",
		 {"x.json:2:", "iteration count", "'ten'"}},
		{"go odd fields", "BenchmarkA-2 10 5 ns/op 7\n", {"x.json:1:", "value unit"}},
		{"go bad value",
		 "\n\nBenchmarkA-2 10 5x ns/op\n",
		 {"x.json:3:", "'5x' is not a number"}},
		{"go nothing", "hello\nworld\n", {"x.json: no 'BenchmarkName N value unit'"}},
	};
	return cr_make_param_array(struct badcase, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct badcase *c, benchfile, bad_input_is_reported_with_file_and_place)
{
	struct bf_set s;
	char err[512] = "";

	bf_set_init(&s);
	cr_assert_eq(bf_load_buf(&s, "x.json", c->text, strlen(c->text), err, sizeof(err)),
		     -EINVAL, "%s: accepted", c->name);
	for (int i = 0; i < 3 && c->want[i][0]; i++)
		cr_assert(strstr(err, c->want[i]), "%s: message '%s' lacks '%s'", c->name, err,
			  c->want[i]);
	bf_set_fini(&s);
}

Test(benchfile, missing_file_and_directory_name_the_path)
{
	struct bf_set s;
	char err[512] = "";

	bf_set_init(&s);
	cr_assert_eq(bf_load_file(&s, "/nonexistent/base.json", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/base.json: No such file"), "%s", err);
	cr_assert_eq(bf_load_file(&s, "/tmp", err, sizeof(err)), -EISDIR);
	cr_assert_eq(bf_load_buf(&s, "bin", "\x1f\x8b\0\0", 4, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "binary"), "%s", err);
	bf_set_fini(&s);
}
