/* reconperf bench end to end: the real binary, real scenarios, the JSON report read back. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/util.h"

/* Runs `reconperf bench --duration 1s ARGS --format json` and returns the parsed report. */
static cJSON *bench_json(int *status, const char *args)
{
	return bench_report(status, "--duration 1s", args);
}

#define num json_num

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
	/* the writer's record: what was asked, what it did (it cannot run ahead of its
	 * schedule), and how far behind it fell */
	cr_assert_eq(num(s, "churn.offered_per_s"), 20700);
	cr_assert_gt(num(s, "churn.ops"), 0);
	cr_assert_leq(num(s, "churn.done_per_s"), 20700 * 1.02);
	cr_assert_leq(num(s, "churn.ops"), 20700 * 1.02 + 3);
	cr_assert(json_at(s, "churn.max_lag_ns"));
	cJSON_Delete(j);
}

/* Queue mode has no writer: no churn record. */
Test(bench, queue_mode_reports_no_churn, .timeout = 60)
{
	int st;
	cJSON *j = bench_json(&st, "scenarios/noop.yaml --objects 100");

	cr_assert_eq(st, 0);
	cr_assert(j);
	cr_assert_null(json_at(scenario0(j), "churn"));
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

Test(bench, timeseries_samples_the_live_heap_and_resident_set, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--set workload=noop --objects 20000 --set sample_interval=100ms");
	const cJSON *ts = json_at(scenario0(j), "timeseries");
	int n = cJSON_GetArraySize(ts);
	char path[64];

	cr_assert_eq(st, 0);
	cr_assert_geq(n, 3, "%d points in 1 s at 100 ms", n);
	snprintf(path, sizeof(path), "%d.heap_bytes", n - 1);
	/* 20,000 objects live in the store and the cache: well over 100 bytes each */
	cr_assert_gt(json_num(ts, path), 20000 * 100.0);
	cr_assert_lt(json_num(ts, path), 1e9);
	snprintf(path, sizeof(path), "%d.rss_bytes", n - 1);
	cr_assert_gt(json_num(ts, path), 20000 * 100.0);
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

/* ---- profilers wired into bench ---- */

static char *pprof_out(const char *args)
{
	struct run_result r;
	char *out;

	run_sh(&r, "HOME=${HOME:-/tmp} go tool pprof %s 2>&1", args);
	out = r.out;
	r.out = NULL;
	run_result_fini(&r);
	return out;
}

Test(bench, cpuprofile_carries_controller_and_phase_labels, .timeout = 180)
{
	char *d = tmpdir_new(), cmd[1024];
	struct run_result r;

	if (!have_cmd("go"))
		cr_skip_test("go is not installed");
	snprintf(cmd, sizeof(cmd), "%s bench -q --set workload=backup --objects 300 --duration 1s "
		 "--set churn.updates=300 --set params.list=scan --cpuprofile %s/cpu.pb.gz --hz 1000 "
		 "-o %s/r.txt", rp_bin(), d, d);
	run_sh(&r, "%s", cmd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	snprintf(cmd, sizeof(cmd), "-tags %s/cpu.pb.gz", d);
	char *tags = pprof_out(cmd);
	cr_assert(strstr(tags, "controller: Total"), "%s", tags);
	cr_assert(strstr(tags, "backup"), "the controller label names the workload: %s", tags);
	cr_assert(strstr(tags, "reconcile"), "%s", tags);
	cr_assert(strstr(tags, "store"), "%s", tags);
	free(tags);
	/* the backup operator's scan of every Backup is where its reconciles spend their time */
	snprintf(cmd, sizeof(cmd), "-top -nodecount=200 -tagfocus phase=reconcile %s/cpu.pb.gz", d);
	char *top = pprof_out(cmd);
	cr_assert(strstr(top, "informer_list"), "%s", top);
	cr_assert(!strstr(top, "wq_get"), "queue code is not labelled reconcile: %s", top);
	free(top);
	free(d);
}

Test(bench, memprofile_and_exact_allocs_per_reconcile, .timeout = 180)
{
	int st;
	char args[512], *d = tmpdir_new();

	snprintf(args, sizeof(args), "--set mode=queue --set churn.updates=0 --set churn.creates=0 "
		 "--set churn.deletes=0 --set workload=noop --objects 100 --duration 300ms "
		 "--set reconcile.allocs=5 --set reconcile.alloc_size=1000 --memprofile %s/heap.pb.gz",
		 d);
	cJSON *j = bench_json(&st, args);
	cr_assert_eq(st, 0);
	const cJSON *s = scenario0(j);
	/* the queue-mode no-op reconcile allocates exactly what it was told to */
	cr_assert_float_eq(num(s, "allocs_per_reconcile"), 5.0, 1e-9);
	cr_assert_float_eq(num(s, "bytes_per_reconcile"), 5000.0, 1e-9);
	cJSON_Delete(j);
	if (have_cmd("go")) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "-top -sample_index=alloc_space %s/heap.pb.gz", d);
		char *top = pprof_out(cmd);
		cr_assert(strstr(top, "wl_burn"), "the reconcile's allocations are in wl_burn: %s", top);
		free(top);
	}
	free(d);
}

Test(bench, probe_reports_the_kernel_side_histogram, .timeout = 120)
{
	int st;

	if (geteuid() != 0)
		cr_skip_test("needs root for eBPF");
	cJSON *j = bench_json(&st, "--set workload=noop --objects 300 --probe");
	cr_assert_eq(st, 0);
	const cJSON *s = scenario0(j);
	double in = num(s, "reconcile.count");
	const cJSON *p = cJSON_GetObjectItem(s, "probe");
	cr_assert(p, "no probe section");
	double k = num(p, "latency_ns.count");
	cr_assert_eq(k, in, "the kernel saw %g reconciles, the harness %g", k, in);
	cr_assert_gt(num(p, "latency_ns.p50"), 0);
	cJSON_Delete(j);
}

Test(bench, gperftools_cpu_profile_is_converted_to_pprof, .timeout = 120)
{
	char *d = tmpdir_new();
	struct run_result r;

	if (!have_cmd("go"))
		cr_skip_test("go is not installed");
	run_sh(&r, "%s bench -q --set workload=noop --objects 200 --duration 1s "
		   "--set reconcile.cpu=100us --set churn.updates=2000 --profiler gperftools "
		   "--cpuprofile %s/g.pb.gz -o %s/r.txt", rp_bin(), d, d);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "-top %s/g.pb.gz", d);
	char *top = pprof_out(cmd);
	cr_assert(strstr(top, "Type: cpu"), "%s", top);
	free(top);
	free(d);
}

Test(bench, html_report_embeds_both_flame_graphs, .timeout = 180)
{
	char *d = tmpdir_new();
	struct run_result r;
	char path[512];

	run_sh(&r, "%s bench -q --set workload=noop --objects 200 --duration 500ms "
		   "--set reconcile.allocs=3 --cpuprofile %s/c.pb.gz --memprofile %s/m.pb.gz "
		   "--html %s/r.html -o %s/r.txt", rp_bin(), d, d, d, d);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	snprintf(path, sizeof(path), "%s/r.html", d);
	char *html = read_file(path, NULL);
	cr_assert(html);
	cr_assert(strstr(html, "<html"), "not an HTML page");
	cr_assert(strstr(html, "CPU flame graph"), "the CPU flame graph is missing");
	cr_assert(strstr(html, "Allocation flame graph"), "the allocation flame graph is missing");
	cr_assert(!strstr(html, "http://") || strstr(html, "http://www.w3.org"),
		  "the page must not reach the network");
	free(html);
	free(d);
}

Test(bench, gperftools_heap_profile_is_converted_to_pprof, .timeout = 120)
{
	char *d = tmpdir_new();
	struct run_result r;

	if (!have_cmd("go") || !file_exists("/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"))
		cr_skip_test("needs go and libtcmalloc.so.4");
#ifdef __SANITIZE_ADDRESS__
	cr_skip_test("tcmalloc cannot replace ASan's allocator (it must be loaded first)");
#endif
	run_sh(&r, "%s bench -q --set workload=noop --objects 200 --duration 500ms "
		   "--set reconcile.allocs=3 --profiler gperftools --memprofile %s/h.pb.gz "
		   "-o %s/r.txt", rp_bin(), d, d);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "-top -sample_index=alloc_space %s/h.pb.gz", d);
	char *top = pprof_out(cmd);
	cr_assert(strstr(top, "Type: alloc_space"), "%s", top);
	free(top);
	free(d);
}
