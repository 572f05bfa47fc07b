/* Fault injection: each fault shows its effect, runs still converge, seeds replay. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/util.h"

static cJSON *bench_json(int *status, const char *args)
{
	cJSON *j = bench_report(status, "--set workload=noop --objects 300 "
				"--set queue.rate_limiter=exponential --set queue.base_delay=1ms "
				"--set queue.max_delay=50ms --duration 1s", args);

	cr_assert(j, "no report for %s", args);
	return j;
}

static const cJSON *get(const cJSON *j, const char *path)
{
	const cJSON *v = json_at(j, path);

	cr_assert(v, "missing %s", path);
	return v;
}

#define num json_num

static const cJSON *scen(const cJSON *rep)
{
	return cJSON_GetArrayItem(get(rep, "scenarios"), 0);
}

static const cJSON *fault(const cJSON *rep, const char *type)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, get(scen(rep), "faults"))
		if (!strcmp(cJSON_GetObjectItem(f, "type")->valuestring, type))
			return f;
	cr_assert_fail("no fault row for %s", type);
	return NULL;
}

static void converged_nothing_lost(const cJSON *rep)
{
	cr_assert_eq(num(scen(rep), "convergence.converged"), 1);
	cr_assert_eq(num(scen(rep), "convergence.lost_objects"), 0);
}

Test(faults, conflicts_raise_the_conflict_counter_and_still_converge, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault conflict:probability=0.3 --duration 1s "
				   "--set churn.updates=500");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(fault(j, "conflict"), "injected"), 20);
	cr_assert_geq(num(scen(j), "conflicts"), num(fault(j, "conflict"), "injected") * 0.9,
		      "every injected competing write must turn into a 409");
	cJSON_Delete(j);
}

Test(faults, a_second_controller_instance_conflicts_on_the_same_objects, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault conflict:mode=instance --duration 1s "
				   "--set churn.updates=2000 --workers 4");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(scen(j), "conflicts"), 0, "two writers of one status must collide");
	cJSON_Delete(j);
}

Test(faults, throttling_is_retried_in_the_client_server_errors_surface, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault api_error:kind=throttle,probability=0.3,retry_after=1ms");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(fault(j, "api_error"), "injected"), 30);
	cJSON_Delete(j);
	j = bench_json(&st, "--fault api_error:kind=server_error,probability=0.3");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(scen(j), "results.error"), 30, "a 500 fails the reconcile");
	cJSON_Delete(j);
}

Test(faults, api_latency_shows_in_reconcile_latency, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault api_latency:dist=fixed,value=20ms,probability=1,"
				   "verbs=update_status --workers 8 --objects 100");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_geq(num(scen(j), "reconcile.latency_ns.p50"), 19e6,
		      "every status write waits 20ms");
	cJSON_Delete(j);
}

Test(faults, tampered_status_is_repaired, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault status_tamper:rate=50,until=1s");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(fault(j, "status_tamper"), "injected"), 10);
	cr_assert_eq(num(fault(j, "status_tamper"), "failed"), 0);
	cJSON_Delete(j);
}

Test(faults, generation_predicate_never_repairs_tampered_status, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault status_tamper:at=300ms --set reconcile.generation_predicate=true "
				   "--duration 0 --deadline 1s");
	cr_assert_eq(st, 1, "a run with unrepaired objects must fail");
	cr_assert_eq(num(scen(j), "convergence.converged"), 0);
	cr_assert_eq(num(fault(j, "status_tamper"), "failed"), 1);
	const cJSON *stuck = get(scen(j), "convergence.stuck");
	cr_assert_eq(cJSON_GetArraySize(stuck), 1, "exactly the tampered object is stuck");
	cJSON_Delete(j);
}

Test(faults, a_compacted_watch_drop_forces_a_relist, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault watch_drop:at=200ms,compact_probability=1 --duration 1s "
				   "--set churn.updates=500");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_eq(num(fault(j, "watch_drop"), "injected"), 1);
	cr_assert_geq(num(scen(j), "api.relists"), 1);
	cJSON_Delete(j);
}

Test(faults, a_store_outage_is_retried_and_recovers, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault write_fail:at=100ms,duration=300ms,retry_after=50ms "
				   "--duration 1s --set churn.updates=300");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_gt(num(scen(j), "api.retried"), 0);
	cJSON_Delete(j);
}

Test(faults, a_restart_rebuilds_the_cache_and_loses_nothing, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault restart:at=300ms --duration 1s --set churn.updates=300");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_eq(num(scen(j), "api.restarts"), 1);
	cr_assert_eq(num(fault(j, "restart"), "injected"), 1);
	cJSON_Delete(j);
}

Test(faults, a_stalled_worker_shows_in_the_latency_tail, .timeout = 120)
{
	int st;
	cJSON *j = bench_json(&st, "--fault worker_stall:at=100ms,duration=300ms --duration 1s "
				   "--set churn.updates=300");
	cr_assert_eq(st, 0);
	converged_nothing_lost(j);
	cr_assert_geq(num(scen(j), "reconcile.latency_ns.max"), 290e6);
	cJSON_Delete(j);
}

Test(faults, the_same_seed_injects_the_same_scheduled_faults, .timeout = 120)
{
	const char *a = "--seed 7 --duration 1s --set churn.updates=200 "
			"--fault status_tamper:rate=30 --fault watch_drop:rate=3 --fault restart:rate=2";
	int st;
	double n[2][3];
	for (int k = 0; k < 2; k++) {
		cJSON *j = bench_json(&st, a);
		cr_assert_eq(st, 0);
		converged_nothing_lost(j);
		n[k][0] = num(fault(j, "status_tamper"), "injected");
		n[k][1] = num(fault(j, "watch_drop"), "injected");
		n[k][2] = num(fault(j, "restart"), "injected");
		cJSON_Delete(j);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(n[0][i], n[1][i], "fault %d: %g then %g", i, n[0][i], n[1][i]);
	cr_assert_gt(n[0][0], 5);
}

Test(faults, bad_fault_specs_exit_2_naming_the_key)
{
	struct run_result r;
	const char *bad[][2] = {
		{ "--fault nosuch", "unknown fault type" },
		{ "--fault api_latency:dist=weird", "'dist'" },
		{ "--fault conflict:probability=2", "'probability'" },
		{ "--fault restart:at=soon", "'at'" },
		{ "--fault worker_stall:colour=red", "unknown key 'colour'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_sh(&r, "%s bench %s", rp_bin(), bad[i][0]);
		cr_assert_eq(r.status, 2, "'%s' gave %d", bad[i][0], r.status);
		cr_assert(strstr(r.err, bad[i][1]), "'%s': %s", bad[i][0], r.err);
		run_result_fini(&r);
	}
}
