/*
 * Tests of profiler/profdiff and `reconperf compare A.pb.gz B.pb.gz`: two profiles with a
 * known mix, shares checked by hand and against `go tool pprof -top`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "profiler/pprof.h"
#include "profiler/profdiff.h"
#include "tests/gopprof.h"
#include "tests/util.h"

static const struct pprof_value_type types[] = {
	{ "samples", "count" }, { "cpu", "nanoseconds" },
};

struct stack {
	const char *f[4];	/* leaf first */
	size_t n;
	int64_t count;
};

/* Writes a CPU profile: each stack with count samples of 10 ms. */
static void write_profile(const char *path, const struct stack *st, size_t n)
{
	struct pprof_builder_opts o = {
		.sample_types = types, .nsample_types = 2,
		.period_type = { "cpu", "nanoseconds" }, .period = 10000000,
		.duration_nanos = 1000000000,
	};
	struct pprof_builder *b = pprof_builder_new(&o);

	cr_assert(b);
	for (size_t i = 0; i < n; i++) {
		int64_t v[2] = { st[i].count, st[i].count * 10000000 };

		cr_assert_eq(pprof_builder_add_symbolic(b, st[i].f, st[i].n, v, NULL, 0), 0);
	}
	cr_assert_eq(pprof_builder_write(b, path), 0);
	pprof_builder_free(b);
}

/*
 * base: main>a>b 60, main>c 40.  new: main>a>b 30, main>c 50, main>a>a 20 (recursion).
 * flat base b 60% c 40%; new b 30% c 50% a 20%. cum new a = 50% (the recursive stack
 * counts once), main 100% on both sides.
 */
static const struct stack BASE[] = {
	{ { "b", "a", "main" }, 3, 60 }, { { "c", "main" }, 2, 40 },
};
static const struct stack NEW[] = {
	{ { "b", "a", "main" }, 3, 30 }, { { "c", "main" }, 2, 50 },
	{ { "a", "a", "main" }, 3, 20 },
};

struct files {
	char *dir;
	char base[512], new[512];
};

static void files(struct files *f)
{
	f->dir = tmpdir_new();
	cr_assert(f->dir);
	snprintf(f->base, sizeof(f->base), "%s/base.pb.gz", f->dir);
	snprintf(f->new, sizeof(f->new), "%s/new.pb.gz", f->dir);
	write_profile(f->base, BASE, 2);
	write_profile(f->new, NEW, 3);
}

static void files_free(struct files *f)
{
	struct run_result r;

	run_sh(&r, "rm -rf '%s'", f->dir);
	run_result_fini(&r);
	free(f->dir);
}

static const struct profdiff_row *row(const struct profdiff *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->rows[i].name, name))
			return &d->rows[i];
	cr_assert_fail("no row %s", name);
	return NULL;
}

Test(profdiff, flat_and_cum_shares_of_a_known_mix)
{
	struct files f;
	struct pprof_profile *b, *n;
	struct profdiff d;
	char err[256];

	files(&f);
	cr_assert_eq(pprof_read_file(f.base, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pprof_read_file(f.new, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(profdiff_run(b, n, NULL, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(d.type, "cpu");
	cr_assert_eq(d.total[0], 100 * 10000000ll);
	cr_assert_eq(d.n, 4);
	/* sorted by the size of the flat change: b -30, a +20, c +10, main 0 */
	cr_assert_str_eq(d.rows[0].name, "b");
	cr_assert_str_eq(d.rows[1].name, "a");
	cr_assert_str_eq(d.rows[2].name, "c");
	cr_assert_str_eq(d.rows[3].name, "main");
	cr_assert_float_eq(row(&d, "b")->flat_share[0], 0.6, 1e-12);
	cr_assert_float_eq(row(&d, "b")->flat_share[1], 0.3, 1e-12);
	cr_assert_float_eq(row(&d, "a")->flat_share[0], 0.0, 1e-12);
	cr_assert_float_eq(row(&d, "a")->flat_share[1], 0.2, 1e-12);
	cr_assert_float_eq(row(&d, "a")->cum_share[0], 0.6, 1e-12);
	cr_assert_float_eq(row(&d, "a")->cum_share[1], 0.5, 1e-12);
	cr_assert_float_eq(row(&d, "main")->cum_share[1], 1.0, 1e-12);
	cr_assert_float_eq(row(&d, "c")->cum_share[1], 0.5, 1e-12);
	profdiff_fini(&d);

	/* the other sample type gives the same shares */
	cr_assert_eq(profdiff_run(b, n, "samples", &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.total[1], 100);
	cr_assert_float_eq(row(&d, "a")->cum_share[1], 0.5, 1e-12);
	profdiff_fini(&d);
	cr_assert_eq(profdiff_run(b, n, "alloc_space", &d, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "base profile has no sample type 'alloc_space'"), "%s", err);
	pprof_free(b);
	pprof_free(n);
	files_free(&f);
}

/* Found by fuzz_pprof: samples that carry no location leave no function rows. */
Test(profdiff, samples_without_locations_give_no_rows)
{
	static const struct stack BARE[] = { { { NULL }, 0, 7 } };
	struct pprof_profile *p;
	struct profdiff d;
	char *dir = tmpdir_new(), path[512], err[256];

	cr_assert(dir);
	snprintf(path, sizeof(path), "%s/bare.pb.gz", dir);
	write_profile(path, BARE, 1);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(profdiff_run(p, p, NULL, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.total[0], 7 * 10000000ll);
	cr_assert_eq(d.n, 0);
	profdiff_fini(&d);
	pprof_free(p);
	unlink(path);
	rmdir(dir);
	free(dir);
}

Test(profdiff, shares_agree_with_go_tool_pprof_top, .timeout = 120)
{
	struct files f;
	struct pprof_profile *n;
	struct profdiff d;
	struct run_result r;
	char err[256];
	const char *fns[] = { "a", "b", "c", "main" };

	if (!have_cmd("go"))
		cr_skip_test("go is not installed");
	files(&f);
	cr_assert_eq(pprof_read_file(f.new, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(profdiff_run(n, n, NULL, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gopprof(&r, "-top -nodecount=100", f.new), 0, "%s", r.err);
	for (size_t i = 0; i < 4; i++) {
		double flat, cum;

		cr_assert_eq(gopprof_top_row(r.out, fns[i], &flat, &cum), 0, "%s not in %s",
			     fns[i], r.out);
		cr_assert_float_eq(row(&d, fns[i])->flat_share[1] * 100, flat, 0.006, "%s", fns[i]);
		cr_assert_float_eq(row(&d, fns[i])->cum_share[1] * 100, cum, 0.006, "%s", fns[i]);
	}
	run_result_fini(&r);
	profdiff_fini(&d);
	pprof_free(n);
	files_free(&f);
}

Test(profdiff_cli, two_profiles_compare_by_function)
{
	struct files f;
	struct run_result r;

	files(&f);
	run_sh(&r, "%s compare %s %s --top 2", rp_bin(), f.base, f.new);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "sample type cpu (nanoseconds): base 1.00s in 2 samples"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "  60.00%   30.00%   -30.00    60.00%   30.00%   -30.00  b\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "   0.00%   20.00%   +20.00    60.00%   50.00%   -10.00  a\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "(2 more functions; --top 0 shows all)"), "%s", r.out);
	run_result_fini(&r);

	run_sh(&r, "%s compare %s %s --format json --top 0", rp_bin(), f.base, f.new);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cJSON *j = cJSON_Parse(r.out);
	cr_assert(j, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 4);
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 2);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "function")->valuestring, "c");
	cr_assert_float_eq(cJSON_GetObjectItem(c, "cum_share_new")->valuedouble, 0.5, 1e-12);
	cJSON_Delete(j);
	run_result_fini(&r);

	run_sh(&r, "%s compare %s %s --format md --sample-index samples", rp_bin(), f.base,
	       f.new);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "| b | 60.00% | 30.00% | -30.00 | 60.00% | 30.00% | -30.00 |"),
		  "%s", r.out);
	run_result_fini(&r);
	files_free(&f);
}

Test(profdiff_cli, bad_profiles_exit_two)
{
	struct files f;
	struct run_result r;

	files(&f);
	run_sh(&r, "cd %s && printf 'BenchmarkA-2 10 5 ns/op\\n' > go.txt && "
		   "printf '\\037\\213garbage' > bad.pb.gz && %s compare base.pb.gz go.txt",
	       f.dir, rp_bin());
	cr_assert_eq(r.status, 2, "%s", r.out);
	cr_assert(strstr(r.err, "'base.pb.gz' is a profile but 'go.txt' is not"), "%s", r.err);
	run_result_fini(&r);
	run_sh(&r, "cd %s && %s compare base.pb.gz bad.pb.gz -o out.txt", f.dir, rp_bin());
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "reconperf: compare: new: bad.pb.gz: "), "%s", r.err);
	run_result_fini(&r);
	run_sh(&r, "cd %s && %s compare base.pb.gz new.pb.gz --sample-index inuse_space "
		   "-o out.txt", f.dir, rp_bin());
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no sample type 'inuse_space'"), "%s", r.err);
	cr_assert(!file_exists(strcat(strcpy((char[600]){ 0 }, f.dir), "/out.txt")));
	run_result_fini(&r);
	files_free(&f);
}
