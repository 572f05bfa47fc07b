/* reconperf bench end to end: the real binary, real scenarios, the JSON report read back. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/util.h"

/* Runs `reconperf bench ARGS --format json -o FILE` and returns the parsed report. */
static cJSON *bench_json(int *status, const char *args)
{
	char *d = tmpdir_new();
	char path[512];
	struct run_result r;
	cJSON *j = NULL;

	snprintf(path, sizeof(path), "%s/r.json", d);
	run_sh(&r, "%s bench -q --duration 1s %s --format json -o %s", rp_bin(), args, path);
	*status = r.status;
	if (r.status != 0 && r.status != 1)
		cr_log_error("bench %s: status %d: %s", args, r.status, r.err);
	char *s = read_file(path, NULL);
	if (s)
		j = cJSON_Parse(s);
	free(s);
	run_result_fini(&r);
	free(d);
	return j;
}

static double num(const cJSON *j, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *t = strtok_r(buf, ".", &save); t && j; t = strtok_r(NULL, ".", &save))
		j = cJSON_GetObjectItemCaseSensitive(j, t);
	cr_assert(j, "missing %s", path);
	if (cJSON_IsBool(j))
		return cJSON_IsTrue(j);
	cr_assert(cJSON_IsNumber(j), "%s is not a number", path);
	return j->valuedouble;
}

static const cJSON *scenario0(const cJSON *rep)
{
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "scenarios"), 0);
	cr_assert(s, "no scenarios[] in report");
	return s;
}

static void assert_converged(const cJSON *s)
{
	cr_assert_eq(num(s, "convergence.converged"), 1);
	cr_assert_eq(num(s, "convergence.lost_objects"), 0);
	cr_assert_gt(num(s, "reconcile.count"), 0);
}

Test(bench, noop_e2e_converges_and_loses_nothing, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=noop --set mode=e2e --objects 2000 "
				   "--duration 1s --set churn.updates=20000 --set churn.creates=500 "
				   "--set churn.deletes=200");
	cr_assert_eq(st, 0);
	cr_assert(j);
	const cJSON *s = scenario0(j);
	assert_converged(s);
	/* every object was reconciled at least once, and every update triggered a reconcile */
	cr_assert_geq(num(s, "reconcile.count"), 2000);
	cr_assert_gt(num(s, "reconcile.latency_ns.p50"), 0);
	cr_assert_geq(num(s, "reconcile.latency_ns.p99"), num(s, "reconcile.latency_ns.p50"));
	cJSON_Delete(j);
}

Test(bench, replicaset_creates_every_pod_and_converges, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=replicaset --objects 300 --set params.replicas=4 "
				   "--duration 1s --set churn.updates=300");
	cr_assert_eq(st, 0);
	cr_assert(j);
	assert_converged(scenario0(j));
	cJSON_Delete(j);
}

Test(bench, backup_scan_and_index_both_converge, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=backup --objects 200 --set params.list=scan");
	cr_assert_eq(st, 0);
	assert_converged(scenario0(j));
	cJSON_Delete(j);
	j = bench_json(&st, "--set workload=backup --objects 200 --set params.list=index");
	cr_assert_eq(st, 0);
	assert_converged(scenario0(j));
	cJSON_Delete(j);
}

Test(bench, rollout_reaches_every_dependant, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=rollout --objects 200 --set params.dependants=3 "
				   "--duration 1s --set churn.updates=200");
	cr_assert_eq(st, 0);
	assert_converged(scenario0(j));
	cJSON_Delete(j);
}

Test(bench, queue_mode_counts_every_reconcile, .timeout = 60)
{
	int st;
	char args[512];
	snprintf(args, sizeof(args), "%s/scenarios/noop.yaml --objects 1000 --duration 500ms",
		 rp_src());
	cJSON *j = bench_json(&st, args);
	cr_assert_eq(st, 0);
	const cJSON *s = scenario0(j);
	cr_assert_gt(num(s, "reconcile.count"), 1000);
	cr_assert_gt(num(s, "reconcile.per_second"), 1000);
	cJSON_Delete(j);
}

Test(bench, reconcile_errors_are_retried_and_still_converge, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=noop --objects 500 --set reconcile.fail_rate=0.3 "
				   "--set queue.base_delay=1ms --set queue.max_delay=20ms "
				   "--set queue.rate_limiter=exponential");
	cr_assert_eq(st, 0);
	const cJSON *s = scenario0(j);
	assert_converged(s);
	cr_assert_gt(num(s, "results.error"), 50, "30%% failures must show as errors");
	cr_assert_gt(num(s, "retries"), 50);
	cJSON_Delete(j);
}

Test(bench, a_run_past_its_deadline_names_stuck_objects_and_exits_1, .timeout = 60)
{
	int st;
	/* every reconcile fails terminally: nothing can converge */
	cJSON *j = bench_json(&st, "--set workload=noop --objects 50 --set reconcile.terminal_rate=1 "
				   "--deadline 300ms");
	cr_assert_eq(st, 1);
	const cJSON *s = scenario0(j);
	cr_assert_eq(num(s, "convergence.converged"), 0);
	const cJSON *stuck = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "convergence"), "stuck");
	cr_assert(cJSON_IsArray(stuck) && cJSON_GetArraySize(stuck) > 0);
	const cJSON *reason = cJSON_GetObjectItem(cJSON_GetArrayItem(stuck, 0), "reason");
	cr_assert(cJSON_IsString(reason) && strstr(reason->valuestring, "observedGeneration"),
		  "the reason must say what is wrong");
	cJSON_Delete(j);
}

Test(bench, plugin_reconciler_loads_from_a_shared_library, .timeout = 60)
{
	int st;
	char args[1024];
	snprintf(args, sizeof(args), "--set workload=plugin --set plugin=%s/fixtures/libplugin_status.so "
		 "--objects 300 --duration 500ms --set churn.updates=500", rp_build());
	cJSON *j = bench_json(&st, args);
	cr_assert_eq(st, 0);
	assert_converged(scenario0(j));
	cJSON_Delete(j);
}

Test(bench, repeat_gives_one_entry_per_repetition, .timeout = 60)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=noop --objects 100 --repeat 3");
	cr_assert_eq(st, 0);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "scenarios")), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "scenarios"), i),
				 "repetition"), i);
	cJSON_Delete(j);
}

Test(bench, bad_options_exit_2_and_write_nothing)
{
	struct run_result r;
	char *d = tmpdir_new();
	const char *bad[] = { "--workers 0", "--workers 12abc", "--duration 5parsecs",
			      "--format xml", "--set nosuchkey=1", "--frobnicate",
			      "/nonexistent/scenario.yaml" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_sh(&r, "%s bench %s -o %s/out.json", rp_bin(), bad[i], d);
		cr_assert_eq(r.status, 2, "'%s' gave %d", bad[i], r.status);
		cr_assert(strstr(r.err, "reconperf: bench: "), "'%s': %s", bad[i], r.err);
		run_result_fini(&r);
	}
	run_sh(&r, "ls -A %s | wc -l", d);
	cr_assert_eq(atoi(r.out), 0, "no output file may be left behind");
	run_result_fini(&r);
	free(d);
}
