/*
 * reconperf — one binary, many subcommands (as perf, git and bpftool). This file holds the
 * command table and the dispatch; each subcommand lives in tools/<name>.c as cmd_<name>().
 */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

/* tools/commands.list holds one CMD_ENTRY(name, summary) line per built subcommand. */
#define CMD_ENTRY(n, s) int cmd_##n(int argc, char **argv); extern const char cmd_##n##_usage[];
#include "tools/commands.list"
#undef CMD_ENTRY

const struct cli_cmd cli_cmds[] = {
#define CMD_ENTRY(n, s) { #n, cmd_##n, s, cmd_##n##_usage },
#include "tools/commands.list"
#undef CMD_ENTRY
	{ NULL, NULL, NULL, NULL },
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: reconperf [--version] [--help] <command> [<args>]\n\n"
		    "Measure reconcile loops: benchmark, profile, compare.\n\ncommands:\n");
	for (const struct cli_cmd *c = cli_cmds; c->name; c++)
		fprintf(fp, "  %-9s %s\n", c->name, c->summary);
	fprintf(fp, "\n'reconperf help <command>' or 'reconperf <command> --help' for details.\n"
		    "exit status: 0 ok; 1 regression, failed check or no convergence;"
		    " 2 bad usage or input\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		usage(stdout);
		return EXIT_OK;
	}
	c = cli_find(argv[1]);
	if (!c) {
		cli_err("help", "unknown command '%s'; see 'reconperf --help'", argv[1]);
		return EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout), cli_finish_stdout(EXIT_OK);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("reconperf %s (%s)\n", RP_VERSION, RP_GIT_REV);
		return cli_finish_stdout(EXIT_OK);
	}
	if (!strcmp(argv[1], "help"))
		return cli_finish_stdout(cmd_help(argc - 1, argv + 1));
	c = cli_find(argv[1]);
	if (!c) {
		cli_err(NULL, "'%s' is not a command; see 'reconperf --help'", argv[1]);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(c->usage, stdout);
			return cli_finish_stdout(EXIT_OK);
		}
	}
	return cli_finish_stdout(c->fn(argc - 1, argv + 1));
}
