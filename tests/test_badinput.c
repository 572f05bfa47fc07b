/*
 * The bad-input catalogue: every subcommand that reads a file gets empty, truncated, binary,
 * oversized and wrong-kind inputs; every subcommand gets absurd options. Each must exit 2
 * with a message that starts "reconperf: <cmd>:", never crash, and leave no output file.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tests/util.h"

static char *dir;

static void make_inputs(void)
{
	struct run_result r;

	dir = tmpdir_new();
	cr_assert(dir);
	run_sh(&r,
	       "cd %s && : > empty && head -c 4096 /dev/urandom > binary && "
	       "printf 'name: x\\nworkers: [1, 2\\n' > truncated.yaml && "
	       "printf '{\"context\": {\"date\": \"x\"}, \"scenarios\": [{\"name\": ' > truncated.json && "
	       "printf '\\037\\213\\010\\000\\000\\000' > truncated.gz && "
	       "head -c 30000000 /dev/zero | tr '\\0' 'a' > oversized && "
	       "printf 'a;b;c 10\\nd;e notanumber\\n' > bad.folded && "
	       "printf 'BenchmarkX-2 10 abc ns/op\\n' > bad.gobench",
	       dir);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
}

static void cleanup(void)
{
	struct run_result r;

	run_sh(&r, "rm -rf %s", dir);
	run_result_fini(&r);
	free(dir);
}

/* Runs CMD (with OUT as its output path where it takes one) and checks the contract. */
static void expect_usage_error(const char *cmd, const char *args)
{
	struct run_result r;
	char prefix[64];

	run_sh(&r, "cd %s && rm -f out.* && %s %s %s", dir, rp_bin(), cmd, args);
	snprintf(prefix, sizeof(prefix), "reconperf: %s", cmd);
	cr_expect_eq(r.status, 2, "'%s %s' exited %d, want 2; stderr: %.300s", cmd, args, r.status,
		     r.err);
	cr_expect(strstr(r.err, prefix) != NULL, "'%s %s': message lacks '%s': %.300s", cmd, args,
		  prefix, r.err);
	run_result_fini(&r);
	run_sh(&r, "cd %s && ls out.* 2>/dev/null | wc -l", dir);
	cr_expect_eq(atoi(r.out), 0, "'%s %s' left an output file behind", cmd, args);
	run_result_fini(&r);
}

static int built(const char *cmd)
{
	struct run_result r;
	int have;

	run_sh(&r, "%s help %s", rp_bin(), cmd);
	have = r.status == 0;
	run_result_fini(&r);
	return have;
}

TestSuite(badinput, .init = make_inputs, .fini = cleanup, .timeout = 120);

Test(badinput, bench_rejects_bad_scenarios)
{
	const char *in[] = { "empty", "binary", "truncated.yaml", "oversized", "truncated.json",
			     "nonexistent.yaml", "." };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char a[256];
		snprintf(a, sizeof(a), "%s -q -o out.json --format json", in[i]);
		expect_usage_error("bench", a);
	}
}

Test(badinput, flame_rejects_bad_profiles)
{
	const char *in[] = { "empty", "binary", "truncated.gz", "oversized", "bad.folded",
			     "truncated.json", "nonexistent.pb.gz" };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char a[256];
		snprintf(a, sizeof(a), "%s -o out.svg", in[i]);
		expect_usage_error("flame", a);
	}
}

Test(badinput, compare_rejects_bad_reports)
{
	const char *in[] = { "empty", "binary", "truncated.json", "oversized", "bad.gobench",
			     "truncated.gz", "nonexistent.json" };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char a[256];
		snprintf(a, sizeof(a), "%s %s -o out.md --format md", in[i], in[i]);
		expect_usage_error("compare", a);
	}
}

Test(badinput, convert_rejects_bad_profiles)
{
	const char *in[] = { "empty", "binary", "truncated.gz", "oversized", "nonexistent" };
	if (!built("convert"))
		cr_skip_test("'convert' is not built");
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char a[256];
		snprintf(a, sizeof(a), "%s -o out.pb.gz", in[i]);
		expect_usage_error("convert", a);
	}
}

struct absurd {
	char cmd[16];
	char args[96];
};

ParameterizedTestParameters(badinput, absurd_options)
{
	static struct absurd cases[] = {
		{ "bench", "--workers 0" }, { "bench", "--workers -3" },
		{ "bench", "--workers 99999999999999999999" }, { "bench", "--objects 1e3" },
		{ "bench", "--duration 1e30h" }, { "bench", "--duration -1s" },
		{ "bench", "--repeat 0" }, { "bench", "--seed x" }, { "bench", "--set =1" },
		{ "bench", "--format" }, { "bench", "--mem-rate 0" },
		{ "flame", "--width -5 x.folded -o out.svg" }, { "flame", "" },
		{ "compare", "onlyone.json" }, { "compare", "--alpha 2 a b" },
		{ "compare", "--threshold -1 a b" },
		{ "record", "--hz 0 -- true" }, { "record", "--hz 100000000 -- true" },
		{ "record", "" },
		{ "probe", "--pid 12abc --func main" }, { "probe", "--pid 1" },
		{ "probe", "--duration 5parsecs --pid 1 --func main" },
		{ "profile", "--hz 0 --pid 1 -o out.pb.gz" }, { "profile", "--pid -7 -o out.pb.gz" },
		{ "convert", "" },
	};
	return cr_make_param_array(struct absurd, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct absurd *c, badinput, absurd_options)
{
	if (!built(c->cmd))
		cr_skip_test("'%s' is not built", c->cmd);
	expect_usage_error(c->cmd, c->args);
}
