/* pprof: the builder, the reader and its validation, checked with `go tool pprof`. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/pprof.h"
#include "profiler/profile.pb-c.h"
#include "common/afile.h"
#include "tests/gopprof.h"
#include "tests/util.h"

static const struct pprof_value_type cpu_types[] = {
	{ "samples", "count" }, { "cpu", "nanoseconds" },
};

static struct pprof_builder *cpu_builder(void)
{
	struct pprof_builder_opts o = {
		.sample_types = cpu_types, .nsample_types = 2,
		.period_type = { "cpu", "nanoseconds" }, .period = 10000000,
		.duration_nanos = 2000000000,
	};
	return pprof_builder_new(&o);
}

static char *tmpfile_in(const char *name)
{
	char *d = tmpdir_new(), *p;

	cr_assert(d);
	cr_assert(asprintf(&p, "%s/%s", d, name) > 0);
	free(d);
	return p;
}

Test(pprof, builder_aggregates_identical_stacks_and_reader_gets_them_back)
{
	const char *a[] = { "leaf", "mid", "main" }, *b[] = { "other", "main" };
	struct pprof_label_kv lab[] = { { "controller", "backup", 0, NULL },
					{ "bytes", NULL, 64, "bytes" } };
	int64_t v[] = { 1, 10000000 };
	struct pprof_builder *pb = cpu_builder();
	struct pprof_profile *p;
	char err[256], *path = tmpfile_in("a.pb.gz");
	const char *names[8];

	for (int i = 0; i < 3; i++)
		cr_assert_eq(pprof_builder_add_symbolic(pb, a, 3, v, lab, 2), 0);
	cr_assert_eq(pprof_builder_add_symbolic(pb, b, 2, v, NULL, 0), 0);
	cr_assert_eq(pprof_builder_nsamples(pb), 2);
	cr_assert_eq(pprof_builder_total(pb, 0), 4);
	cr_assert_eq(pprof_builder_add_comment(pb, "hello"), 0);
	cr_assert_eq(pprof_builder_write(pb, path), 0);
	pprof_builder_free(pb);

	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->nsamples, 2);
	cr_assert_eq(p->nsample_types, 2);
	cr_assert_str_eq(p->sample_types[1].type, "cpu");
	cr_assert_str_eq(p->period_type.unit, "nanoseconds");
	cr_assert_eq(p->period, 10000000);
	cr_assert_eq(p->duration_nanos, 2000000000);
	cr_assert_eq(p->ncomments, 1);
	cr_assert_str_eq(p->comments[0], "hello");
	cr_assert_eq(pprof_sample_type_index(p, "cpu"), 1);
	cr_assert_eq(pprof_default_sample_index(p), 1);
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		size_t n = pprof_sample_frames(p, s, names, 8, NULL, NULL);

		if (s->nlabels) {
			cr_assert_eq(n, 3);
			cr_assert_str_eq(names[0], "leaf");
			cr_assert_str_eq(names[2], "main");
			cr_assert_eq(s->values[0], 3);
			cr_assert_eq(s->values[1], 30000000);
			cr_assert_str_eq(pprof_sample_label(s, "controller"), "backup");
			cr_assert_eq(s->labels[1].num, 64);
			cr_assert_str_eq(s->labels[1].num_unit, "bytes");
		} else {
			cr_assert_eq(n, 2);
			cr_assert_str_eq(names[0], "other");
			cr_assert_eq(s->values[0], 1);
		}
	}
	pprof_free(p);
	free(path);
}

Test(pprof, go_tool_pprof_reads_builder_output_with_shares_and_tags, .timeout = 120)
{
	const char *a[] = { "leaf", "mid", "main" }, *b[] = { "other", "main" };
	struct pprof_label_kv lab[] = { { "controller", "backup", 0, NULL } };
	int64_t v[] = { 1, 10000000 };
	struct pprof_builder *pb = cpu_builder();
	char *path = tmpfile_in("b.pb.gz");
	struct run_result r;
	double flat, cum;

	if (!have_cmd("go"))
		cr_skip_test("go is not installed");
	for (int i = 0; i < 3; i++)
		pprof_builder_add_symbolic(pb, a, 3, v, lab, 1);
	pprof_builder_add_symbolic(pb, b, 2, v, NULL, 0);
	cr_assert_eq(pprof_builder_write(pb, path), 0);
	pprof_builder_free(pb);

	cr_assert_eq(gopprof(&r, "-top", path), 0, "%s", r.err);
	cr_assert_eq(gopprof_top_row(r.out, "leaf", &flat, &cum), 0, "%s", r.out);
	cr_assert_float_eq(flat, 75.0, 0.01);
	cr_assert_eq(gopprof_top_row(r.out, "main", &flat, &cum), 0, "%s", r.out);
	cr_assert_float_eq(flat, 0.0, 0.01);
	cr_assert_float_eq(cum, 100.0, 0.01);
	run_result_fini(&r);

	cr_assert_eq(gopprof(&r, "-top -tagfocus=controller=backup", path), 0, "%s", r.err);
	cr_assert_eq(gopprof_top_row(r.out, "leaf", &flat, &cum), 0, "%s", r.out);
	cr_assert_eq(gopprof_top_row(r.out, "other", &flat, &cum), -1, "%s", r.out);
	run_result_fini(&r);
	free(path);
}

__attribute__((noinline)) int pprof_test_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

Test(pprof, symbolize_names_this_processs_functions_with_file_and_line)
{
	uint64_t pcs[2] = { (uint64_t)(uintptr_t)pprof_test_target + 2,
			    (uint64_t)(uintptr_t)pprof_test_target + 5 };
	int64_t v[] = { 1, 1 };
	struct pprof_builder *pb = cpu_builder();
	struct pprof_profile *p;
	char err[256], *path = tmpfile_in("c.pb.gz");
	const char *names[4];

	cr_assert_eq(pprof_builder_add(pb, pcs, 2, v, NULL, 0), 0);
	cr_assert_eq(pprof_builder_symbolize(pb, 0), 0);
	cr_assert_eq(pprof_builder_write(pb, path), 0);
	pprof_builder_free(pb);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->nsamples, 1);
	cr_assert_eq(pprof_sample_frames(p, &p->samples[0], names, 4, NULL, NULL), 2);
	cr_assert_str_eq(names[0], "pprof_test_target");
	cr_assert_str_eq(names[1], "pprof_test_target");
	cr_assert(strstr(p->samples[0].locations[0]->lines[0].function->filename, "test_pprof.c"));
	cr_assert_gt(p->samples[0].locations[0]->lines[0].line, 0);
	/* the non-leaf address was stepped back into the call */
	cr_assert_eq(p->samples[0].locations[1]->address, pcs[1] - 1);
	cr_assert_not_null(p->samples[0].locations[0]->mapping);
	cr_assert(strstr(p->samples[0].locations[0]->mapping->filename, "test_pprof"));
	cr_assert_gt(strlen(p->samples[0].locations[0]->mapping->build_id), 8);
	pprof_free(p);
	free(path);
}

/* ---- malformed input: hand-made messages, each broken in one field ---- */

typedef Perftools__Profiles__Profile Pb;

struct fixture {
	Pb m;
	Perftools__Profiles__ValueType vt, *vtp[1];
	Perftools__Profiles__Sample s, *sp[1];
	Perftools__Profiles__Location l[2], *lp[2];
	Perftools__Profiles__Function f, *fp[1];
	Perftools__Profiles__Line ln, *lnp[1];
	uint64_t locid[1];
	int64_t val[1];
	char *strs[3];
};

static void fixture_init(struct fixture *x)
{
	Pb m = PERFTOOLS__PROFILES__PROFILE__INIT;
	static char e[] = "", s1[] = "samples", s2[] = "count";

	memset(x, 0, sizeof(*x));
	x->m = m;
	perftools__profiles__value_type__init(&x->vt);
	x->vt.type = 1;
	x->vt.unit = 2;
	x->vtp[0] = &x->vt;
	x->m.n_sample_type = 1;
	x->m.sample_type = x->vtp;
	perftools__profiles__function__init(&x->f);
	x->f.id = 1;
	x->f.name = 1;
	x->fp[0] = &x->f;
	x->m.n_function = 1;
	x->m.function = x->fp;
	perftools__profiles__line__init(&x->ln);
	x->ln.function_id = 1;
	x->lnp[0] = &x->ln;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__location__init(&x->l[i]);
		x->l[i].id = i + 1;
		x->l[i].n_line = 1;
		x->l[i].line = x->lnp;
		x->lp[i] = &x->l[i];
	}
	x->m.n_location = 2;
	x->m.location = x->lp;
	perftools__profiles__sample__init(&x->s);
	x->locid[0] = 1;
	x->val[0] = 5;
	x->s.n_location_id = 1;
	x->s.location_id = x->locid;
	x->s.n_value = 1;
	x->s.value = x->val;
	x->sp[0] = &x->s;
	x->m.n_sample = 1;
	x->m.sample = x->sp;
	x->strs[0] = e;
	x->strs[1] = s1;
	x->strs[2] = s2;
	x->m.n_string_table = 3;
	x->m.string_table = x->strs;
}

/* Packs x, reads it back; returns the reader's rc and its message in err. */
static int roundtrip(struct fixture *x, char *err, size_t errlen)
{
	size_t len = perftools__profiles__profile__get_packed_size(&x->m);
	uint8_t *buf = malloc(len + 1);
	struct pprof_profile *p = NULL;
	int rc;

	perftools__profiles__profile__pack(&x->m, buf);
	err[0] = 0;
	rc = pprof_read_mem(buf, len, &p, err, errlen);
	pprof_free(p);
	free(buf);
	return rc;
}

Test(pprof, reader_accepts_the_well_formed_fixture_raw_and_names_each_broken_field)
{
	struct fixture x;
	char err[256];
	static char bad[] = "x";
	int64_t two[2] = { 1, 2 };

	fixture_init(&x);
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), 0, "%s", err);

	x.strs[0] = bad;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "string_table[0]"), "%s", err);

	fixture_init(&x);
	x.f.name = 7;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "function.name"), "%s", err);

	fixture_init(&x);
	x.l[1].id = 1;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "location.id: duplicate"), "%s", err);

	fixture_init(&x);
	x.f.id = 0;
	x.ln.function_id = 0;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "function.id: reserved id 0"), "%s", err);

	fixture_init(&x);
	x.s.n_value = 2;
	x.s.value = two;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "value has 2 entries, sample_type has 1"), "%s", err);

	fixture_init(&x);
	x.locid[0] = 9;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "location_id 9 not found"), "%s", err);

	fixture_init(&x);
	x.ln.function_id = 4;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "function_id 4 not found"), "%s", err);

	fixture_init(&x);
	x.vt.unit = -1;
	cr_assert_eq(roundtrip(&x, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "sample_type.unit"), "%s", err);
}

Test(pprof, reader_rejects_garbage_truncated_gzip_and_missing_files)
{
	struct pprof_profile *p;
	char err[256], *path = tmpfile_in("t.pb.gz");
	const char *a[] = { "f" };
	int64_t v[] = { 1, 1 };
	struct pprof_builder *pb = cpu_builder();
	void *buf;
	size_t len;
	static const char junk[] = "\xff\xff\xff\xff\xff this is not protobuf";

	cr_assert_eq(pprof_read_mem(junk, sizeof(junk), &p, err, sizeof(err)), -EINVAL);
	cr_assert_null(p);
	cr_assert(strstr(err, "not a pprof profile"), "%s", err);

	pprof_builder_add_symbolic(pb, a, 1, v, NULL, 0);
	cr_assert_eq(pprof_builder_encode(pb, &buf, &len), 0);
	cr_assert_eq(pprof_read_mem(buf, len, &p, err, sizeof(err)), 0, "%s", err);
	pprof_free(p);
	cr_assert_eq(pprof_read_mem(buf, len / 2, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "gzip"), "%s", err);
	free(buf);
	pprof_builder_free(pb);

	cr_assert_eq(pprof_read_file("/nonexistent/x.pb.gz", &p, err, sizeof(err)), -ENOENT);
	cr_assert_eq(afile_write_all(path, "", 0), 0);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "empty"), "%s", err);
	free(path);
}
