/*
 * cli — what every subcommand shares: the command table, option value parsing that prints
 * a message naming the option and the bad value, and the exit codes.
 *
 * Exit codes (documented in docs/README and `reconperf --help`; they never change meaning):
 *   0  ok
 *   1  a regression or a failed check (compare), or a run that did not converge (bench)
 *   2  bad usage or bad input (option, scenario, profile, report), or a missing privilege
 */
#ifndef RECONPERF_CLI_H
#define RECONPERF_CLI_H

#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage;	/* full help text, printed by --help and `reconperf help CMD` */
};

extern const struct cli_cmd cli_cmds[];
const struct cli_cmd *cli_find(const char *name);

/* Prints "reconperf: CMD: " + message to stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Option value parsers. Each prints "reconperf: CMD: 'OPT' must be ..., got 'VAL'" on a
 * bad value and returns -EINVAL; the caller returns EXIT_USAGE.
 */
int cli_u64(const char *cmd, const char *opt, const char *val, uint64_t min, uint64_t max,
	    uint64_t *out);
int cli_int(const char *cmd, const char *opt, const char *val, int min, int max, int *out);
int cli_double(const char *cmd, const char *opt, const char *val, double min, double max,
	       double *out);
int cli_duration(const char *cmd, const char *opt, const char *val, uint64_t *ns_out);
int cli_size(const char *cmd, const char *opt, const char *val, uint64_t *out);
/* --stack-copy SIZE: the bpf-stack engine's copy, 4KiB..64KiB (a message and -EINVAL else) */
int cli_stack_copy(const char *cmd, const char *val, unsigned *out);

/* Checks fflush/ferror/fclose of stdout (a full disk is an error). Returns exit code. */
int cli_finish_stdout(int code);

/* Is stderr a terminal (show progress)? */
int cli_progress_enabled(void);

#endif
