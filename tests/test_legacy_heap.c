#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profiler/legacy_heap.h"
#include "profiler/pprof.h"
#include "tests/util.h"

static const char good[] =
	"heap profile:  16385: 67112960 [1016585: 340828160] @ heapprofile\n"
	" 16384: 67108864 [ 16384: 67108864] @ 0x55d81e1b81f6 0x55d81e1b80ab 0x7ff79a24524a\n"
	"     1:     4096 [     1:     4096] @ 0x7ff79a2938cc 0x55d81e1b80d7\n"
	"     0:        0 [1000000: 64000000] @ 0x55d81e1b8236 0x55d81e1b80b7 0x7ff79a24524a\n"
	"     0:        0 [   200: 209715200] @ 0x55d81e1b826a 0x55d81e1b80bc\n"
	"\n"
	"MAPPED_LIBRARIES:\n"
	"55d81e1b7000-55d81e1b8000 r--p 00000000 00:00 10954386    /tmp/sites\n"
	"55d81e1b8000-55d81e1b9000 r-xp 00001000 00:00 10954386    /tmp/sites\n"
	"55d82e91c000-55d83331c000 rw-p 00000000 00:00 0           [heap]\n"
	"7ff79a220000-7ff79a3b0000 r-xp 00026000 00:00 333210      /usr/lib/libc.so.6\n";

Test(legacy_heap, detects_the_header_and_nothing_else)
{
	cr_assert(legacy_heap_detect(good, strlen(good)));
	cr_assert_not(legacy_heap_detect("--- symbol\n", 11));
	cr_assert_not(legacy_heap_detect("heap prof", 9));
}

Test(legacy_heap, an_exact_profile_keeps_every_count)
{
	struct pprof_builder *b = NULL;
	char err[256];

	cr_assert_eq(legacy_heap_parse(good, strlen(good), &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pprof_builder_nsamples(b), 4);
	cr_assert_eq(pprof_builder_total(b, 0), 16384 + 1 + 1000000 + 200);	/* alloc_objects */
	cr_assert_eq(pprof_builder_total(b, 1), 67108864LL + 4096 + 64000000 + 209715200);
	cr_assert_eq(pprof_builder_total(b, 2), 16385);				/* inuse_objects */
	cr_assert_eq(pprof_builder_total(b, 3), 67112960);			/* inuse_space */
	pprof_builder_free(b);
}

Test(legacy_heap, a_sampled_v2_profile_is_unsampled_like_go)
{
	static const char v2[] = "heap profile: 1: 64 [ 10: 640] @ heap_v2/524288\n"
				 " 1: 64 [ 10: 640] @ 0x401000 0x402000\n";
	struct pprof_builder *b = NULL;
	char err[256];
	double scale = 1 / (1 - exp(-64.0 / 524288));

	cr_assert_eq(legacy_heap_parse(v2, strlen(v2), &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pprof_builder_total(b, 0), llround(10 * scale));
	cr_assert_eq(pprof_builder_total(b, 1), llround(640 * scale));
	cr_assert_eq(pprof_builder_total(b, 3), llround(64 * scale));
	pprof_builder_free(b);
}

Test(legacy_heap, the_profile_written_from_it_reads_back_with_the_heap_sample_types)
{
	struct pprof_builder *b = NULL;
	struct pprof_profile *p = NULL;
	char err[256], *dir = tmpdir_new(), path[512];

	snprintf(path, sizeof(path), "%s/h.pb.gz", dir);
	cr_assert_eq(legacy_heap_parse(good, strlen(good), &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pprof_builder_write(b, path), 0);
	pprof_builder_free(b);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->nsample_types, 4);
	cr_assert_str_eq(p->sample_types[3].type, "inuse_space");
	cr_assert_str_eq(p->period_type.type, "space");
	cr_assert_geq(p->nmappings, 2, "the executable mappings of the maps section");
	pprof_free(p);
	free(dir);
}

struct bad {
	char text[160];
	char msg[64];	/* a substring the error must contain */
};

ParameterizedTestParameters(legacy_heap, malformed_input_is_refused_naming_the_line)
{
	static struct bad cases[] = {
		{ "", "empty file" },
		{ "\n\n", "line 1: not a gperftools" },
		{ "heap profile: 1: 2 [3: 4] @ heap/524288\n", "line 1: unsupported" },
		{ "heap profile: 1: 2 [3: 4] @ heap_v2/0\n", "line 1: sampling rate" },
		{ "heap profile: 1: 2 [3 4] @ heapprofile\n", "line 1: expected ':'" },
		{ "heap profile: x: 2 [3: 4] @ heapprofile\n", "line 1: in-use objects" },
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n 1: 2 [3: 4] @\n", "line 2: a stack" },
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n 1: 2 [3: 4] @ 0x1 zz\n", "line 2:" },
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n 5: 2 [3: 4] @ 0x1\n", "line 2: more" },
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n 1: 99999999999999999999 [3: 4] @ 0x1\n",
		  "line 2: in-use bytes: number out of range" },
		{ "--- heapz 1 ---\n", "line 1: not a gperftools heap profile" },
		/* found by fuzz_heap: counts past INT64_MAX, alone or summed over one stack,
		 * overflowed the builder's signed totals (UBSan) */
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n"
		  " 1: 9300000000000000000 [1: 9300000000000000000] @ 0x1\n",
		  "line 2: counts out of range" },
		{ "heap profile: 1: 2 [3: 4] @ heapprofile\n"
		  " 1: 5000000000000000000 [1: 5000000000000000000] @ 0x1\n"
		  " 1: 5000000000000000000 [1: 5000000000000000000] @ 0x1\n",
		  "line 3: counts overflow the total of the same stack" },
	};
	return cr_make_param_array(struct bad, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad *c, legacy_heap, malformed_input_is_refused_naming_the_line)
{
	struct pprof_builder *b = (struct pprof_builder *)1;
	char err[256] = "";
	int rc = legacy_heap_parse(c->text, strlen(c->text), &b, err, sizeof(err));

	cr_assert_eq(rc, -EINVAL, "'%s': rc %d", c->text, rc);
	cr_assert_null(b);
	cr_assert(strstr(err, c->msg), "'%s': error '%s' lacks '%s'", c->text, err, c->msg);
}

/* The real thing: gperftools' heap profiler on the fixture, converted, read by go tool pprof. */
static double top_bytes(const char *profile, const char *idx, const char *fn)
{
	struct run_result r;
	double v = -1;
	char *line;

	cr_assert_eq(run_sh(&r, "go tool pprof -sample_index=%s -top -unit=B '%s' 2>&1", idx,
			    profile), 0);
	cr_assert_eq(r.status, 0, "go tool pprof: %s", r.out);
	for (line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];
		double flat;

		if (sscanf(line, " %lfB %*s %*s %*s %*s %127s", &flat, name) == 2 &&
		    !strcmp(name, fn))
			v = flat;
	}
	run_result_fini(&r);
	return v;
}

Test(legacy_heap, convert_turns_a_gperftools_heap_profile_into_exact_per_site_bytes,
     .timeout = 300)
{
	const char *tc = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4";
	char *dir = tmpdir_new(), out[512];
	struct run_result r;

	if (!file_exists(tc))
		cr_skip_test("%s is not installed (libgoogle-perftools-dev)", tc);
	if (!have_cmd("go"))
		cr_skip_test("go (golang-go) is needed for go tool pprof");
	cr_assert_eq(run_sh(&r, "cd '%s' && LD_PRELOAD=%s HEAPPROFILE='%s/gp' "
			    "'%s/tests/fixtures/alloc_sites' 100000 >/dev/null 2>&1 && ls gp.*.heap",
			    dir, tc, dir, rp_build()), 0);
	cr_assert_eq(r.status, 0, "the fixture under gperftools: %s", r.out);
	snprintf(out, sizeof(out), "%s/gp.pb.gz", dir);
	{
		struct run_result c;
		char *heap = strtok(r.out, "\n");

		cr_assert_eq(run_sh(&c, "cd '%s' && '%s' convert '%s' -o '%s'", dir, rp_bin(), heap,
				    out), 0);
		cr_assert_eq(c.status, 0, "convert: %s", c.err);
		run_result_fini(&c);
	}
	run_result_fini(&r);
	/* HEAPPROFILE records every allocation: the figures are exact. */
	cr_assert_eq(top_bytes(out, "alloc_space", "churn_small"), 100000.0 * 64);
	cr_assert_eq(top_bytes(out, "alloc_space", "churn_large"), 200.0 * (1 << 20));
	cr_assert_eq(top_bytes(out, "inuse_space", "keep_live"), 16384.0 * 4096);
	free(dir);
}

Test(legacy_heap, convert_names_a_bad_heap_profile_line_and_exits_2)
{
	char *dir = tmpdir_new(), out[512];
	struct run_result r;

	snprintf(out, sizeof(out), "%s/o.pb.gz", dir);
	cr_assert_eq(run_sh(&r, "cd '%s' && printf 'heap profile: 1: 2 [3: 4] @ heapprofile\\n"
			    " 1: 2 [x: 4] @ 0x1\\n' > bad.heap && '%s' convert bad.heap -o o.pb.gz",
			    dir, rp_bin()), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "line 2: allocated objects"), "%s", r.err);
	cr_assert_not(file_exists(out), "nothing half-written");
	run_result_fini(&r);
	free(dir);
}
