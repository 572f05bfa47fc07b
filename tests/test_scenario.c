#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/scenario.h"
#include "tests/util.h"

static int load(struct scenario *sc, const char *yaml, char *err, size_t errlen)
{
	return scenario_load_string(sc, yaml, strlen(yaml), "t.yaml", err, errlen);
}

Test(scenario, defaults_are_the_documented_ones)
{
	struct scenario sc;

	scenario_defaults(&sc);
	cr_assert_eq(sc.workload, SC_WL_NOOP);
	cr_assert_eq(sc.mode, SC_MODE_E2E);
	cr_assert_eq(sc.objects, 1000);
	cr_assert_eq(sc.workers, 2);
	cr_assert_eq(sc.duration_ns, 0, "0 = until converged");
	cr_assert_eq(sc.deadline_ns, 60000000000ull);
	cr_assert_eq(sc.seed, 1);
	cr_assert_eq(sc.repeat, 1);
	cr_assert_eq(sc.resync_ns, 0);
	cr_assert_eq(sc.watch_history, 100000);
	cr_assert_eq(sc.sample_interval_ns, 100000000ull);
	cr_assert_eq(sc.queue.kind, SC_Q_CLIENTGO);
	cr_assert_eq(sc.queue.limiter, SC_RL_DEFAULT);
	cr_assert_eq(sc.queue.base_delay_ns, 5000000ull);
	cr_assert_eq(sc.queue.max_delay_ns, 1000000000000ull);
	cr_assert_eq(sc.queue.qps, 10.0);
	cr_assert_eq(sc.queue.burst, 100);
	cr_assert_eq(sc.reconcile.cpu_ns, 0);
	cr_assert_eq(sc.reconcile.fail_rate, 0.0);
	cr_assert_eq(sc.wl.replicas, 3);
	cr_assert_eq(sc.wl.backups_per_policy, 10);
	cr_assert_eq(sc.wl.list, SC_LIST_SCAN);
	cr_assert_eq(sc.wl.dependants, 3);
	cr_assert_eq(sc.wl.payload_size, 1024);
	cr_assert_eq(sc.churn.updates_per_s, 0.0);
	cr_assert_eq(sc.nfaults, 0);
}

Test(scenario, yaml_sets_nested_fields)
{
	struct scenario sc;
	char err[512];
	const char *y = "name: demo\n"
			"workload: backup\n"
			"objects: 4000\n"
			"workers: 8\n"
			"duration: 2.5s\n"
			"queue:\n  kind: priority\n  qps: 50.5\n  rate_limiter: bucket\n"
			"reconcile:\n  cpu: 20us\n  generation_predicate: yes\n"
			"params:\n  list: index\n  payload_size: 2KiB\n"
			"churn: {creates: 10, updates: 2.5}\n";

	cr_assert_eq(load(&sc, y, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(sc.name, "demo");
	cr_assert_str_eq(sc.file, "t.yaml");
	cr_assert_eq(sc.workload, SC_WL_BACKUP);
	cr_assert_eq(sc.objects, 4000);
	cr_assert_eq(sc.workers, 8);
	cr_assert_eq(sc.duration_ns, 2500000000ull);
	cr_assert_eq(sc.queue.kind, SC_Q_PRIORITY);
	cr_assert_eq(sc.queue.qps, 50.5);
	cr_assert_eq(sc.queue.limiter, SC_RL_BUCKET);
	cr_assert_eq(sc.queue.burst, 100, "untouched keys keep their defaults");
	cr_assert_eq(sc.reconcile.cpu_ns, 20000);
	cr_assert(sc.reconcile.generation_predicate);
	cr_assert_eq(sc.wl.list, SC_LIST_INDEX);
	cr_assert_eq(sc.wl.payload_size, 2048);
	cr_assert_eq(sc.churn.creates_per_s, 10.0);
	cr_assert_eq(sc.churn.updates_per_s, 2.5);
	cr_assert_eq(scenario_validate(&sc, err, sizeof(err)), 0, "%s", err);
}

Test(scenario, name_defaults_to_the_file_name)
{
	struct scenario sc;
	char err[512];

	cr_assert_eq(scenario_load_string(&sc, "workers: 3\n", 11, "dir/my-storm.yaml", err,
					  sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(sc.name, "my-storm");
	cr_assert_eq(sc.workers, 3);
}

Test(scenario, until_converged_is_duration_zero)
{
	struct scenario sc;
	char err[512];

	cr_assert_eq(load(&sc, "duration: 3s\n", err, sizeof(err)), 0);
	cr_assert_eq(sc.duration_ns, 3000000000ull);
	cr_assert_eq(scenario_set(&sc, "duration", "until_converged", err, sizeof(err)), 0);
	cr_assert_eq(sc.duration_ns, 0);
}

/* Every error class, with the exact message: file:line:col, the field, the bad value. */
struct ecase { char yaml[128]; char want[160]; };

ParameterizedTestParameters(scenario, errors_name_file_line_column_and_field)
{
	static struct ecase cases[] = {
		{ "workers: 0\n", "t.yaml:1:10: 'workers' must be 1..1024, got '0'" },
		{ "objects: 12abc\n", "t.yaml:1:10: 'objects' must be 1..100000000, got '12abc'" },
		{ "wrokers: 2\n", "t.yaml:1:1: unknown key 'wrokers' (did you mean 'workers'?)" },
		{ "zzz: 1\n", "t.yaml:1:1: unknown key 'zzz'" },
		{ "queue:\n  qsp: 5\n",
		  "t.yaml:2:3: unknown key 'queue.qsp' (did you mean 'queue.qps'?)" },
		{ "workers: 2\nseed: 4\nworkers: 3\n",
		  "t.yaml:3:1: duplicate key 'workers' (first at line 1)" },
		{ "queue:\n  qps: 5\n  qps: 6\n",
		  "t.yaml:3:3: duplicate key 'queue.qps' (first at line 2)" },
		{ "queue:\n  - a\n", "t.yaml:2:3: 'queue' must be a mapping of keys, got a list" },
		{ "queue: 5\n", "t.yaml:1:8: 'queue' must be a mapping of keys, got a value" },
		{ "workers: [1, 2]\n", "t.yaml:1:10: 'workers' must be a value, got a list" },
		{ "workers: {a: 1}\n", "t.yaml:1:10: 'workers' must be a value, got a mapping" },
		{ "- a\n- b\n", "t.yaml:1:1: a scenario must be a mapping of keys, got a list" },
		{ "just text\n", "t.yaml:1:1: a scenario must be a mapping of keys, got a value" },
		{ "", "t.yaml:1:1: empty scenario (expected a mapping of keys)" },
		{ "# only a comment\n", "t.yaml:1:1: empty scenario (expected a mapping of keys)" },
		{ "workers:\n", "t.yaml:1:9: 'workers' needs a value" },
		{ "workers: 2\n  objects: 3\n",
		  "t.yaml:2:10: invalid YAML: mapping values are not allowed in this context" },
		{ "{workers: 2\n", "t.yaml:2:1: invalid YAML: did not find expected ',' or '}' "
				   "while parsing a flow mapping (started at line 1)" },
		{ "workers: *nope\n", "t.yaml:1:10: invalid YAML: found undefined alias" },
		{ "---\nworkers: 2\n---\nworkers: 3\n", "t.yaml:4:1: more than one YAML document" },
		{ "workload: bogus\n", "t.yaml:1:11: 'workload' must be one of noop, replicaset, "
				       "backup, rollout, plugin, got 'bogus'" },
		{ "mode: fast\n", "t.yaml:1:7: 'mode' must be one of e2e, queue, got 'fast'" },
		{ "deadline: 5 s\n", "t.yaml:1:11: 'deadline' must be a duration 1ms..24h (like "
				     "500ms or 2s), got '5 s'" },
		{ "duration: forever\n", "t.yaml:1:11: 'duration' must be a duration 0s..24h (like "
					 "500ms or 2s, or until_converged), got 'forever'" },
		{ "reconcile:\n  fail_rate: 1.5\n",
		  "t.yaml:2:14: 'reconcile.fail_rate' must be 0..1, got '1.5'" },
		{ "reconcile:\n  generation_predicate: maybe\n",
		  "t.yaml:2:25: 'reconcile.generation_predicate' must be true or false, got 'maybe'" },
		{ "params:\n  payload_size: 1TiB\n", "t.yaml:2:17: 'params.payload_size' must be a "
						    "size 0..64MiB (bytes, or like 4KiB), got '1TiB'" },
		{ "name: \"a b\"\n",
		  "t.yaml:1:7: 'name' must be letters, digits, '.', '_' or '-', got 'a b'" },
		{ "faults: 3\n", "t.yaml:1:9: 'faults' must be a list of mappings, got a value" },
		{ "faults:\n  - 3\n",
		  "t.yaml:2:5: each fault must be a mapping with 'type:', got a value" },
		{ "faults:\n  - latency: 5ms\n", "t.yaml:2:5: fault without 'type'" },
		{ "faults:\n  - type: x\n    a: 1\n    a: 2\n",
		  "t.yaml:4:5: duplicate key 'faults[].a' (first at line 3)" },
		{ "faults:\n  - type: x\n    a: [1]\n",
		  "t.yaml:3:8: fault parameter 'a' must be a value, got a list" },
		{ "faults:\n  - type: \"no spaces\"\n",
		  "t.yaml:2:11: fault 'type' must be a name (letters, digits, '_'), got 'no spaces'" },
	};
	return cr_make_param_array(struct ecase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ecase *c, scenario, errors_name_file_line_column_and_field)
{
	struct scenario sc;
	char err[512] = "";

	cr_assert_eq(load(&sc, c->yaml, err, sizeof(err)), -EINVAL, "accepted: %s", c->yaml);
	cr_assert_str_eq(err, c->want);
}

/*
 * Every key through scenario_set: a good value (and how scenario_get prints it back) and a
 * bad one (and a fragment of its message). scenario_keys_all_have_a_set_case below keeps
 * this table complete.
 */
struct kcase { char key[40]; char good[24]; char shown[24]; char bad[16]; char why[40]; };

static struct kcase kcases[] = {
	{ "name", "storm-2", "storm-2", "a/b", "must be letters" },
	{ "description", "hello world", "hello world", "", "" },
	{ "workload", "rollout", "rollout", "Noop", "must be one of" },
	{ "plugin", "/tmp/libx.so", "/tmp/libx.so", "", "" },
	{ "mode", "queue", "queue", "both", "must be one of" },
	{ "objects", "250000", "250000", "0", "must be 1..100000000" },
	{ "workers", "1024", "1024", "1025", "must be 1..1024" },
	{ "duration", "90s", "90s", "-1s", "must be a duration" },
	{ "deadline", "1500ms", "1500ms", "0", "1ms..24h" },
	{ "seed", "18446744073709551615", "18446744073709551615", "-1", "must be 0.." },
	{ "repeat", "7", "7", "1001", "must be 1..1000" },
	{ "resync", "10m", "600s", "25h", "0s..24h" },
	{ "watch_history", "64", "64", "0", "must be 1..1000000000" },
	{ "sample_interval", "250ms", "250ms", "1us", "1ms..1h" },
	{ "queue.kind", "priority", "priority", "fifo", "client-go, priority" },
	{ "queue.rate_limiter", "none", "none", "fast", "default, exponential, bucket, none" },
	{ "queue.base_delay", "1ms", "1ms", "abc", "must be a duration" },
	{ "queue.max_delay", "1h", "1h", "2d", "must be a duration" },
	{ "queue.qps", "0.5", "0.5", "0", "must be 0.001..1e+09" },
	{ "queue.burst", "1", "1", "0", "must be 1..1000000000" },
	{ "reconcile.cpu", "50us", "50us", "11s", "0s..10s" },
	{ "reconcile.allocs", "12", "12", "1e3", "must be 0..1000000" },
	{ "reconcile.alloc_size", "4KiB", "4KiB", "2GiB", "0..1GiB" },
	{ "reconcile.fail_rate", "0.25", "0.25", "-0.1", "must be 0..1" },
	{ "reconcile.terminal_rate", "0.125", "0.125", "2", "must be 0..1" },
	{ "reconcile.panic_rate", "0.001", "0.001", "nan", "must be 0..1" },
	{ "reconcile.requeue_after_rate", "1", "1", "1.01", "must be 0..1" },
	{ "reconcile.requeue_after", "30s", "30s", "soon", "must be a duration" },
	{ "reconcile.generation_predicate", "true", "true", "1", "must be true or false" },
	{ "params.replicas", "0", "0", "10001", "must be 0..10000" },
	{ "params.backups_per_policy", "100", "100", "x", "must be 0..1000000" },
	{ "params.list", "index", "index", "btree", "must be one of scan, index" },
	{ "params.dependants", "9", "9", "-3", "must be 0..10000" },
	{ "params.payload_size", "1MiB", "1MiB", "65MiB", "0..64MiB" },
	{ "churn.creates", "100", "100", "1e8", "must be 0..1e+07" },
	{ "churn.updates", "2.5", "2.5", "-1", "must be 0..1e+07" },
	{ "churn.deletes", "0.75", "0.75", "lots", "must be 0..1e+07" },
};

ParameterizedTestParameters(scenario, every_key_sets_and_rejects)
{
	return cr_make_param_array(struct kcase, kcases, sizeof(kcases) / sizeof(kcases[0]));
}

ParameterizedTest(struct kcase *c, scenario, every_key_sets_and_rejects)
{
	struct scenario sc, before;
	char err[512] = "", shown[256];

	scenario_defaults(&sc);
	before = sc;
	cr_assert_eq(scenario_set(&sc, c->key, c->good, err, sizeof(err)), 0, "%s=%s: %s", c->key,
		     c->good, err);
	cr_assert_eq(scenario_get(&sc, c->key, shown, sizeof(shown)), 0);
	cr_assert_str_eq(shown, c->shown, "%s", c->key);
	cr_assert_neq(memcmp(&sc, &before, sizeof(sc)), 0, "%s=%s changed nothing", c->key,
		      c->good);

	/* what the scenario prints, it reads back to the same struct */
	struct scenario again;
	scenario_defaults(&again);
	cr_assert_eq(scenario_set(&again, c->key, shown, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(&sc, &again, sizeof(sc)), 0, "%s: '%s' does not read back", c->key,
		     shown);

	if (c->why[0]) {
		before = sc;
		cr_assert_eq(scenario_set(&sc, c->key, c->bad, err, sizeof(err)), -EINVAL,
			     "%s accepted '%s'", c->key, c->bad);
		char want[128];
		snprintf(want, sizeof(want), "'%s' ", c->key);
		cr_assert(strstr(err, want) == err, "message must start with the key: %s", err);
		cr_assert(strstr(err, c->why), "'%s' lacks '%s'", err, c->why);
		snprintf(want, sizeof(want), "got '%s'", c->bad);
		cr_assert(strstr(err, want), "'%s' must quote the bad value", err);
		cr_assert_eq(memcmp(&sc, &before, sizeof(sc)), 0, "a rejected value changed %s",
			     c->key);
	}
}

Test(scenario, every_key_has_a_set_case)
{
	size_t n = 0;

	for (const char *k; (k = scenario_key_name(n)); n++) {
		bool found = false;
		for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++)
			found |= !strcmp(kcases[i].key, k);
		cr_assert(found, "key '%s' has no case in kcases[]", k);
	}
	cr_assert_eq(n, sizeof(kcases) / sizeof(kcases[0]));
}

Test(scenario, set_names_unknown_keys_and_suggests)
{
	struct scenario sc;
	char err[512];

	scenario_defaults(&sc);
	cr_assert_eq(scenario_set(&sc, "queue.burts", "5", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown key 'queue.burts' (did you mean 'queue.burst'?)");
	cr_assert_eq(scenario_set(&sc, "reconcile", "5", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "'reconcile' is a section: set 'reconcile.<key>'");
	/* Two edits away from a long key still gets a suggestion; a short key only one. */
	cr_assert_eq(scenario_set(&sc, "reconcile.requeue_aftr_rat", "1", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "unknown key 'reconcile.requeue_aftr_rat' "
			 "(did you mean 'reconcile.requeue_after_rate'?)");
	cr_assert_eq(scenario_set(&sc, "sed", "1", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown key 'sed' (did you mean 'seed'?)");
	cr_assert_eq(scenario_set(&sc, "sd", "1", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown key 'sd'");
	cr_assert_eq(scenario_set(&sc, "reconcile.requeue_after_rate_and_a_much_longer_tail_xyz",
				  "1", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "unknown key 'reconcile.requeue_after_rate_and_a_much_longer_tail_xyz'");
	cr_assert_eq(scenario_get(&sc, "nope", err, sizeof(err)), -ENOENT);
}

Test(scenario, set_fault_appends_type_and_parameters)
{
	struct scenario sc;
	char err[512];

	scenario_defaults(&sc);
	cr_assert_eq(scenario_set(&sc, "fault", "api_latency:p=0.1,latency=5ms", err,
				  sizeof(err)), 0, "%s", err);
	cr_assert_eq(scenario_set(&sc, "fault", "restart", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sc.nfaults, 2);
	cr_assert_str_eq(sc.faults[0].type, "api_latency");
	cr_assert_eq(sc.faults[0].nparams, 2);
	cr_assert_str_eq(sc_fault_param(&sc.faults[0], "p")->val, "0.1");
	cr_assert_str_eq(sc_fault_param(&sc.faults[0], "latency")->val, "5ms");
	cr_assert_null(sc_fault_param(&sc.faults[0], "missing"));
	cr_assert_str_eq(sc.faults[1].type, "restart");
	cr_assert_eq(sc.faults[1].nparams, 0);

	cr_assert_eq(scenario_set(&sc, "fault", "", err, sizeof(err)), -EINVAL);
	cr_assert_eq(scenario_set(&sc, "fault", "conflict:rate", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "k=v"), "%s", err);
	cr_assert_eq(scenario_set(&sc, "fault", "conflict:a=1,a=2", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "duplicate parameter 'a'"), "%s", err);
	cr_assert_eq(sc.nfaults, 2, "a rejected fault is not kept");
	for (int i = 2; i < SC_MAX_FAULTS; i++)
		cr_assert_eq(scenario_set(&sc, "fault", "stall", err, sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "fault", "stall", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "more than 32 faults"), "%s", err);
}

Test(scenario, yaml_faults_keep_parameters_with_their_lines)
{
	struct scenario sc;
	char err[512];
	const char *y = "workers: 2\n"
			"faults:\n"
			"  - type: api_latency\n"
			"    p: 0.2\n"
			"    latency: lognormal(5ms, 1)\n"
			"  - {type: restart, at: 2s}\n";

	cr_assert_eq(load(&sc, y, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sc.nfaults, 2);
	cr_assert_str_eq(sc.faults[0].type, "api_latency");
	cr_assert_eq(sc.faults[0].line, 3);
	cr_assert_eq(sc.faults[0].col, 5);
	const struct sc_fault_param *p = sc_fault_param(&sc.faults[0], "latency");
	cr_assert(p);
	cr_assert_str_eq(p->val, "lognormal(5ms, 1)");
	cr_assert_eq(p->line, 5);
	cr_assert_eq(p->col, 14);
	cr_assert_str_eq(sc.faults[1].type, "restart");
	cr_assert_str_eq(sc_fault_param(&sc.faults[1], "at")->val, "2s");
	cr_assert_eq(sc_fault_param(&sc.faults[1], "at")->line, 6);
}

/* Compares two scenarios apart from where they came from (file, fault line/col). */
static int memcmp_ignoring_file(struct scenario *a, struct scenario *b)
{
	memset(a->file, 0, sizeof(a->file));
	memset(b->file, 0, sizeof(b->file));
	for (struct scenario *s = a; s; s = s == a ? b : NULL) {
		for (size_t i = 0; i < s->nfaults; i++) {
			s->faults[i].line = s->faults[i].col = 0;
			for (size_t j = 0; j < s->faults[i].nparams; j++)
				s->faults[i].params[j].line = s->faults[i].params[j].col = 0;
		}
	}
	return memcmp(a, b, sizeof(*a));
}

static void round_trip(struct scenario *sc)
{
	struct scenario back;
	char *buf = NULL, *buf2 = NULL, err[512];
	size_t len = 0, len2 = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_eq(scenario_write_yaml(sc, fp), 0);
	fclose(fp);
	cr_assert_eq(scenario_load_string(&back, buf, len, "rt.yaml", err, sizeof(err)), 0,
		     "%s\n%s", err, buf);
	fp = open_memstream(&buf2, &len2);
	cr_assert_eq(scenario_write_yaml(&back, fp), 0);
	fclose(fp);
	cr_assert_str_eq(buf, buf2, "writing twice differs");
	cr_assert_eq(memcmp_ignoring_file(sc, &back), 0, "round trip changed the scenario:\n%s",
		     buf);
	free(buf);
	free(buf2);
}

Test(scenario, write_yaml_round_trips_every_field)
{
	struct scenario sc;
	char err[512];

	scenario_defaults(&sc);
	round_trip(&sc);
	for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++)
		cr_assert_eq(scenario_set(&sc, kcases[i].key, kcases[i].good, err, sizeof(err)), 0,
			     "%s", err);
	cr_assert_eq(scenario_set(&sc, "description", "quotes \" and \\ and\nnewline", err,
				  sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "queue.qps", "0.1", err, sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "churn.updates", "333.33333333333331", err, sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "deadline", "1234567891ns", err, sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "fault", "api_latency:p=0.1,latency=5ms", err,
				  sizeof(err)), 0);
	cr_assert_eq(scenario_set(&sc, "fault", "conflict:note=a: b # c", err, sizeof(err)), 0);
	round_trip(&sc);
}

/* Found by fuzz_setspec: a --set string that is not UTF-8 was written as YAML no reader takes. */
Test(scenario, strings_must_be_utf8_and_odd_code_points_round_trip)
{
	struct scenario sc;
	char err[512];

	scenario_defaults(&sc);
	cr_assert_neq(scenario_set(&sc, "description", "worklo\x81ad", err, sizeof(err)), 0);
	cr_assert(strstr(err, "description") && strstr(err, "UTF-8"), "%s", err);
	cr_assert_neq(scenario_set(&sc, "description", "\xc0\xaf overlong", err, sizeof(err)), 0);
	cr_assert_neq(scenario_set(&sc, "description", "\xed\xa0\x80 surrogate", err,
				   sizeof(err)), 0);
	cr_assert_neq(scenario_set(&sc, "description", "cut \xe2\x82", err, sizeof(err)), 0);
	cr_assert_neq(scenario_set(&sc, "fault", "conflict:note=\xff", err, sizeof(err)), 0);
	cr_assert(strstr(err, "note") && strstr(err, "UTF-8"), "%s", err);
	/* C1 controls, NEL, the BOM, a noncharacter, beside plain multi-byte text */
	cr_assert_eq(scenario_set(&sc, "description", "\xc2\x81 \xc2\x85 \xef\xbb\xbf "
				  "\xef\xbf\xbe caf\xc3\xa9 \xf0\x9f\x99\x82 \x01", err,
				  sizeof(err)), 0, "%s", err);
	cr_assert_eq(scenario_set(&sc, "fault", "conflict:note=\xc2\x9f\xe2\x82\xac", err,
				  sizeof(err)), 0, "%s", err);
	round_trip(&sc);
}

Test(scenario, embedded_default_loads_and_validates)
{
	struct scenario sc;
	char err[512];

	cr_assert_eq(scenario_load_embedded(&sc, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(sc.name, "default");
	cr_assert_str_eq(sc.file, "<embedded>");
	cr_assert_eq(sc.workload, SC_WL_REPLICASET);
	cr_assert_eq(sc.objects, 2000);
	cr_assert(sc.duration_ns > 0 && sc.churn.updates_per_s > 0);
	cr_assert_eq(scenario_validate(&sc, err, sizeof(err)), 0, "%s", err);

	/* it is byte for byte scenarios/default.yaml */
	struct scenario file;
	char path[4096];
	snprintf(path, sizeof(path), "%s/scenarios/default.yaml", rp_src());
	cr_assert_eq(scenario_load_file(&file, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp_ignoring_file(&sc, &file), 0);
}

Test(scenario, every_shipped_scenario_loads_validates_and_round_trips)
{
	char dir[4096], path[8192], err[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/scenarios", rp_src());
	d = opendir(dir);
	cr_assert(d, "no %s", dir);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct scenario sc;

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		cr_assert_eq(scenario_load_file(&sc, path, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(scenario_validate(&sc, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(strncmp(sc.name, de->d_name, l - 5), 0, "%s: name '%s'", de->d_name,
			     sc.name);
		cr_assert(sc.description[0], "%s has no description", de->d_name);
		round_trip(&sc);
		n++;
	}
	closedir(d);
	cr_assert_geq(n, 9, "expected the nine shipped scenarios, found %d", n);
}

Test(scenario, shipped_scenarios_say_what_they_measure)
{
	struct { char file[32]; int mode, workload, limiter, kind, list; uint64_t objects; } want[] = {
		{ "noop.yaml", SC_MODE_QUEUE, SC_WL_NOOP, SC_RL_NONE, SC_Q_CLIENTGO, -1, 10000 },
		{ "noop-e2e.yaml", SC_MODE_E2E, SC_WL_NOOP, -1, -1, -1, 0 },
		{ "backup.yaml", SC_MODE_E2E, SC_WL_BACKUP, -1, -1, SC_LIST_SCAN, 0 },
		{ "backup-index.yaml", SC_MODE_E2E, SC_WL_BACKUP, -1, -1, SC_LIST_INDEX, 0 },
		{ "startup-storm.yaml", SC_MODE_E2E, -1, SC_RL_DEFAULT, SC_Q_CLIENTGO, -1, 10000 },
		{ "priority.yaml", SC_MODE_E2E, -1, -1, SC_Q_PRIORITY, -1, 0 },
		{ "replicaset.yaml", SC_MODE_E2E, SC_WL_REPLICASET, -1, -1, -1, 0 },
		{ "rollout.yaml", SC_MODE_E2E, SC_WL_ROLLOUT, -1, -1, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct scenario sc;
		char path[4096], err[512];

		snprintf(path, sizeof(path), "%s/scenarios/%s", rp_src(), want[i].file);
		cr_assert_eq(scenario_load_file(&sc, path, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq((int)sc.mode, want[i].mode, "%s mode", want[i].file);
		if (want[i].workload >= 0)
			cr_assert_eq((int)sc.workload, want[i].workload, "%s", want[i].file);
		if (want[i].limiter >= 0)
			cr_assert_eq((int)sc.queue.limiter, want[i].limiter, "%s", want[i].file);
		if (want[i].kind >= 0)
			cr_assert_eq((int)sc.queue.kind, want[i].kind, "%s", want[i].file);
		if (want[i].list >= 0)
			cr_assert_eq((int)sc.wl.list, want[i].list, "%s", want[i].file);
		if (want[i].objects)
			cr_assert_eq(sc.objects, want[i].objects, "%s", want[i].file);
	}
}

struct vcase { char set[3][48]; char why[64]; };

ParameterizedTestParameters(scenario, validate_rejects_contradictions)
{
	static struct vcase cases[] = {
		{ { "workload=plugin" }, "needs 'plugin'" },
		{ { "plugin=/x.so" }, "'plugin' is set but 'workload' is noop" },
		{ { "reconcile.fail_rate=0.6", "reconcile.panic_rate=0.5" }, "at most 1, got 1.1" },
		{ { "queue.base_delay=2s", "queue.max_delay=1s" }, "must not exceed" },
		{ { "mode=queue", "workload=backup" }, "must be noop or plugin, got backup" },
		{ { "mode=queue", "churn.updates=5" }, "'churn' has no effect" },
	};
	return cr_make_param_array(struct vcase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct vcase *c, scenario, validate_rejects_contradictions)
{
	struct scenario sc;
	char err[512] = "";

	scenario_defaults(&sc);
	for (int i = 0; i < 3 && c->set[i][0]; i++) {
		char *eq = strchr(c->set[i], '=');
		*eq = 0;
		cr_assert_eq(scenario_set(&sc, c->set[i], eq + 1, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(scenario_validate(&sc, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, c->why), "'%s' lacks '%s'", err, c->why);
}

Test(scenario, missing_file_is_named)
{
	struct scenario sc;
	char err[512];

	cr_assert_eq(scenario_load_file(&sc, "/nonexistent/x.yaml", err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "/nonexistent/x.yaml: cannot open: No such file or directory");
}

Test(scenario, file_errors_carry_the_path)
{
	char *d = tmpdir_new(), path[512], err[512];
	struct scenario sc;

	snprintf(path, sizeof(path), "%s/x.yaml", d);
	FILE *fp = fopen(path, "w");
	fputs("# a comment\nobjects: 10\nworkers: 0\n", fp);
	fclose(fp);
	cr_assert_eq(scenario_load_file(&sc, path, err, sizeof(err)), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s:3:10: 'workers' must be 1..1024, got '0'", path);
	cr_assert_str_eq(err, want);
	free(d);
}

Test(scenario, docs_list_every_key)
{
	char path[4096];
	size_t len;
	char *doc;

	snprintf(path, sizeof(path), "%s/docs/scenarios.md", rp_src());
	doc = read_file(path, &len);
	cr_assert(doc, "docs/scenarios.md is missing");
	for (size_t i = 0; scenario_key_name(i); i++) {
		char want[64];
		snprintf(want, sizeof(want), "`%s`", scenario_key_name(i));
		cr_assert(strstr(doc, want), "docs/scenarios.md does not document %s", want);
	}
	free(doc);
}

/* Mutated scenarios: any bytes in, a message with the file name or success out, no crash
 * (under `make check` also no leak or overflow). Seeded, so a failure replays. */
Test(scenario, mutated_input_never_crashes)
{
	static const char seed_yaml[] =
		"name: fuzz\nworkload: backup\nobjects: 100\nqueue:\n  qps: 5\n  kind: priority\n"
		"reconcile: {fail_rate: 0.1}\nfaults:\n  - type: conflict\n    p: 0.5\n"
		"  - {type: restart, at: 2s}\nchurn:\n  updates: 10\n";
	static const char alphabet[] = ":-{}[],#&*!|>'\"\n\t %@`?0a\\";
	uint64_t x = 88172645463325252ull;
	char buf[sizeof(seed_yaml) + 64], err[512];
	int ok = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = sizeof(seed_yaml) - 1;
		struct scenario sc;

		memcpy(buf, seed_yaml, len);
		for (int m = 0; m < 1 + iter % 4; m++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t pos = x % len;
			switch ((x >> 32) % 3) {
			case 0: buf[pos] = alphabet[(x >> 40) % (sizeof(alphabet) - 1)]; break;
			case 1: if (len > 1) { memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; } break;
			default: if (len + 1 < sizeof(buf)) { memmove(buf + pos + 1, buf + pos, len - pos);
				 buf[pos] = alphabet[(x >> 40) % (sizeof(alphabet) - 1)]; len++; } break;
			}
		}
		err[0] = 0;
		int rc = scenario_load_string(&sc, buf, len, "f.yaml", err, sizeof(err));
		if (rc == 0) {
			ok++;
			continue;
		}
		cr_assert_eq(rc, -EINVAL, "rc %d for:\n%.*s", rc, (int)len, buf);
		cr_assert(!strncmp(err, "f.yaml:", 7), "message without location: '%s'", err);
	}
	cr_assert(ok > 100 && ok < 20000, "%d of 20000 mutations loaded", ok);
}
