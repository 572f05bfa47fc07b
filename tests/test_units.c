#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "common/units.h"
#include "common/afile.h"
#include "common/utf8.h"
#include "tests/util.h"

/* Inline strings: Criterion re-executes the binary, so pointers into it do not survive. */
struct dcase { char in[16]; int rc; uint64_t ns; };

ParameterizedTestParameters(units, duration_table)
{
	static struct dcase cases[] = {
		{ "500ms", 0, 500000000ull }, { "2s", 0, 2000000000ull }, { "10", 0, 10000000000ull },
		{ "1.5m", 0, 90000000000ull }, { "250us", 0, 250000ull }, { "7ns", 0, 7 },
		{ "1h", 0, 3600000000000ull }, { "", -EINVAL, 0 }, { "12abc", -EINVAL, 0 },
		{ " 5s", -EINVAL, 0 }, { "-1s", -EINVAL, 0 }, { "s", -EINVAL, 0 },
		{ "1e30h", -ERANGE, 0 }, { "nan", -EINVAL, 0 },
	};
	return cr_make_param_array(struct dcase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct dcase *c, units, duration_table)
{
	uint64_t v = 0;
	int rc = units_duration_ns(c->in, 1000000000ull, &v);
	cr_assert_eq(rc, c->rc, "'%s': rc %d, want %d", c->in, rc, c->rc);
	if (!rc)
		cr_assert_eq(v, c->ns, "'%s': %llu, want %llu", c->in, (unsigned long long)v,
			     (unsigned long long)c->ns);
}

Test(units, integers_reject_trailing_garbage_and_range)
{
	int64_t v;
	uint64_t u;
	cr_assert_eq(units_i64("12abc", 0, 100, &v), -EINVAL);
	cr_assert_eq(units_i64("101", 0, 100, &v), -ERANGE);
	cr_assert_eq(units_i64("-3", -5, 5, &v), 0);
	cr_assert_eq(v, -3);
	cr_assert_eq(units_u64("-3", 0, 5, &u), -EINVAL);
	cr_assert_eq(units_u64("0x10", 0, 100, &u), 0);
	cr_assert_eq(u, 16);
	cr_assert_eq(units_u64("99999999999999999999999", 0, UINT64_MAX, &u), -ERANGE);
}

Test(units, sizes_take_binary_units)
{
	uint64_t v;
	cr_assert_eq(units_size("512KiB", &v), 0);
	cr_assert_eq(v, 524288);
	cr_assert_eq(units_size("4MiB", &v), 0);
	cr_assert_eq(v, 4194304);
	cr_assert_eq(units_size("4 MiB", &v), -EINVAL);
	cr_assert_eq(units_size("12", &v), 0);
	cr_assert_eq(v, 12);
}

Test(afile, commit_renames_abort_leaves_nothing)
{
	char *d = tmpdir_new(), path[512];
	struct afile *af;
	size_t n;

	snprintf(path, sizeof(path), "%s/out.txt", d);
	cr_assert_eq(afile_open(path, &af), 0);
	fputs("hello\n", afile_fp(af));
	cr_assert_not(file_exists(path), "target must not exist before commit");
	cr_assert_eq(afile_commit(af), 0);
	char *s = read_file(path, &n);
	cr_assert_str_eq(s, "hello\n");
	free(s);
	struct stat st;
	mode_t old = umask(022);
	umask(old);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0666 & ~old, "mode %o: a committed file must get the "
		     "umask's mode like any created file, not mkstemp's 0600", st.st_mode & 0777);

	snprintf(path, sizeof(path), "%s/aborted.txt", d);
	cr_assert_eq(afile_open(path, &af), 0);
	fputs("partial", afile_fp(af));
	afile_abort(af);
	cr_assert_not(file_exists(path));
	struct run_result r;
	run_sh(&r, "ls -A %s | wc -l", d);
	cr_assert_eq(atoi(r.out), 1, "only out.txt must remain, got %s", r.out);
	run_result_fini(&r);
	free(d);
}

Test(afile, full_disk_is_an_error_not_a_truncation)
{
	struct afile *af;
	if (!file_exists("/dev/full"))
		cr_skip_test("no /dev/full");
	/* A directory we cannot create a temp file in fails at open. */
	cr_assert_lt(afile_open("/nonexistent-dir/x", &af), 0);
}

Test(utf8, decodes_every_length_and_refuses_what_is_not_utf8)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
	} ok[] = {
		{ "A", 1, 0x41 }, { "\x7f", 1, 0x7f }, { "\xc2\x80", 2, 0x80 },
		{ "\xdf\xbf", 2, 0x7ff }, { "\xe0\xa0\x80", 3, 0x800 },
		{ "\xed\x9f\xbf", 3, 0xd7ff }, { "\xee\x80\x80", 3, 0xe000 },
		{ "\xef\xbf\xbf", 3, 0xffff }, { "\xf0\x90\x80\x80", 4, 0x10000 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80",
		"\xed\xbf\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xff", "\xc2", "\xe2\x82", "\xc2\x41",
	};
	uint32_t cp;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(utf8_decode((const unsigned char *)ok[i].s, strlen(ok[i].s), &cp),
			     ok[i].len, "case %zu", i);
		cr_assert_eq(cp, ok[i].cp, "case %zu: U+%04X", i, (unsigned)cp);
		cr_assert(utf8_valid(ok[i].s));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(utf8_decode((const unsigned char *)bad[i], strlen(bad[i]), &cp), 0,
			     "bad case %zu", i);
		cr_assert(!utf8_valid(bad[i]), "bad case %zu", i);
	}
	/* a sequence longer than the bytes said to be there */
	cr_assert_eq(utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
	cr_assert(utf8_valid("plain caf\xc3\xa9 \xf0\x9f\x99\x82"));
}
