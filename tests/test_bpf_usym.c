/*
 * Tests of symbol resolution for uprobes (profiler/bpf/usym) and of kernel symbol lookup
 * (profiler/bpf/ksyms). No privilege needed except where /proc/kallsyms hides addresses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "profiler/bpf/ksyms.h"
#include "profiler/bpf/usym.h"
#include "tests/util.h"

static char fixture[4096];

static void init(void)
{
	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/bpf_mix", rp_build());
	cr_assert(access(fixture, R_OK) == 0, "fixture %s not built", fixture);
}

static int byte_at(const char *path, uint64_t off)
{
	unsigned char c;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &c, 1, (off_t)off), 1);
	close(fd);
	return c;
}

Test(usym, resolves_a_pie_function_to_the_file_offset_of_its_first_instruction)
{
	struct usym u;

	init();
	cr_assert_eq(usym_resolve(0, fixture, "rp_fixture_work", &u), 0);
	cr_assert_str_eq(u.path, fixture);
	cr_assert_str_eq(u.name, "rp_fixture_work");
	cr_assert(u.size > 0);
	/* The fixture is built with frame pointers: the function opens with push %rbp. */
	cr_assert_eq(byte_at(fixture, u.offset), 0x55, "byte at 0x%" PRIx64, u.offset);
}

Test(usym, resolves_a_shared_library_symbol_from_the_library_path)
{
	struct usym u;

	cr_assert_eq(usym_resolve(0, NULL, "libc:clock_nanosleep", &u), 0);
	cr_assert(strstr(u.path, "/libc.so"), "path %s", u.path);
	cr_assert(u.offset > 0);
}

Test(usym, resolves_a_library_through_proc_maps_for_a_pid)
{
	struct usym u;

	cr_assert_eq(usym_resolve(getpid(), NULL, "libc:clock_nanosleep", &u), 0);
	cr_assert(strstr(u.path, "/libc.so"), "path %s", u.path);
	/* The same file, the same offset as found by name in the directories. */
	struct usym v;
	cr_assert_eq(usym_resolve(0, NULL, "libc:clock_nanosleep", &v), 0);
	cr_assert_eq(u.offset, v.offset);
}

Test(usym, refuses_an_ifunc)
{
	struct usym u;

	/* glibc's memcpy is an IFUNC on x86-64: its address is the resolver. */
	cr_assert_eq(usym_resolve(0, NULL, "libc:memcpy", &u), -ENOTSUP);
}

Test(usym, missing_things_are_named)
{
	struct usym u;

	init();
	cr_assert_eq(usym_resolve(0, fixture, "no_such_function", &u), -ENOENT);
	cr_assert_str_eq(u.path, fixture, "the file searched is named");
	cr_assert_eq(usym_resolve(0, NULL, "libnosuchlib:f", &u), -ENOENT);
	cr_assert_str_eq(u.path, "", "no library matched");
	cr_assert_eq(usym_resolve(0, NULL, "/nonexistent/lib.so:f", &u), -ENOENT);
	cr_assert_eq(usym_resolve(0, "/etc/hostname", "f", &u), -ENOEXEC);
}

Test(usym, malformed_specs_are_invalid)
{
	struct usym u;

	init();
	cr_assert_eq(usym_resolve(0, fixture, "", &u), -EINVAL);
	cr_assert_eq(usym_resolve(0, fixture, ":f", &u), -EINVAL);
	cr_assert_eq(usym_resolve(0, fixture, "libc:", &u), -EINVAL);
	cr_assert_eq(usym_resolve(0, NULL, "f", &u), -EINVAL, "no executable, no pid");
}

Test(ksyms, names_a_kernel_address_inside_a_function)
{
	struct ksyms *k;
	char line[512], name[256], type;
	uint64_t addr = 0, a;
	FILE *fp;

	cr_assert_eq(ksyms_load(NULL, &k), 0);
	if (!ksyms_count(k)) {
		ksyms_free(k);
		cr_skip_test("kallsyms hides addresses here (kptr_restrict)");
	}
	fp = fopen("/proc/kallsyms", "r");
	cr_assert(fp);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%" SCNx64 " %c %255s", &a, &type, name) == 3 &&
		    !strcmp(name, "schedule") && (type == 't' || type == 'T'))
			addr = a;
	fclose(fp);
	cr_assert(addr, "no 'schedule' in kallsyms");
	cr_assert_str_eq(ksyms_lookup(k, addr), "schedule");
	cr_assert_str_eq(ksyms_lookup(k, addr + 1), "schedule");
	cr_assert_null(ksyms_lookup(k, 1), "below every symbol");
	ksyms_free(k);
}

Test(ksyms, a_missing_file_is_an_error)
{
	struct ksyms *k;

	cr_assert_eq(ksyms_load("/nonexistent/kallsyms", &k), -ENOENT);
	cr_assert_null(k);
}
