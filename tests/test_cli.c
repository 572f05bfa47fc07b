/* Command-line tests of the dispatcher: the real binary, its exit codes and messages. */
#include <stdio.h>
#include <criterion/criterion.h>
#include <string.h>
#include "tests/util.h"

Test(cli, version_and_help_exit_zero)
{
	struct run_result r;
	char *v[] = { (char *)rp_bin(), "--version", NULL };
	run_argv(&r, v);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "reconperf "), "got %s", r.out);
	run_result_fini(&r);
	char *h[] = { (char *)rp_bin(), "--help", NULL };
	run_argv(&r, h);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "usage: reconperf"));
	run_result_fini(&r);
}

Test(cli, unknown_command_is_usage_error)
{
	struct run_result r;
	char *v[] = { (char *)rp_bin(), "frobnicate", NULL };
	run_argv(&r, v);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'frobnicate'"), "stderr: %s", r.err);
	run_result_fini(&r);
	char *n[] = { (char *)rp_bin(), NULL };
	run_argv(&r, n);
	cr_assert_eq(r.status, 2);
	run_result_fini(&r);
}

Test(cli, stdout_to_full_disk_fails)
{
	struct run_result r;
	run_sh(&r, "%s --help > /dev/full", rp_bin());
	cr_assert_neq(r.status, 0, "writing help to /dev/full must fail");
	run_result_fini(&r);
}

Test(cli, every_command_has_help_matching_help_cmd)
{
	struct run_result r, h;
	char *v[] = { (char *)rp_bin(), "--help", NULL };
	run_argv(&r, v);
	char *line = strstr(r.out, "commands:\n");
	cr_assert(line);
	line += strlen("commands:\n");
	while (line && line[0] == ' ' && line[1] == ' ') {
		char name[32] = "";
		sscanf(line, " %31s", name);
		run_sh(&h, "%s help %s", rp_bin(), name);
		struct run_result d;
		run_sh(&d, "%s %s --help", rp_bin(), name);
		cr_assert_eq(h.status, 0, "help %s", name);
		cr_assert_str_eq(h.out, d.out, "'help %s' and '%s --help' differ", name, name);
		cr_assert(strstr(h.out, "usage:"), "help of %s lacks a usage line", name);
		run_result_fini(&h);
		run_result_fini(&d);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	run_result_fini(&r);
}
