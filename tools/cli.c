/* cli — option parsing and messages for the subcommand layer. See cli.h. */
#include "tools/cli.h"
#include "common/units.h"
#include "profiler/bpf/stacksample.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

const struct cli_cmd *cli_find(const char *name)
{
	for (const struct cli_cmd *c = cli_cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "reconperf: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_u64(const char *cmd, const char *opt, const char *val, uint64_t min, uint64_t max,
	    uint64_t *out)
{
	if (units_u64(val, min, max, out) == 0)
		return 0;
	cli_err(cmd, "'%s' must be an integer in %llu..%llu, got '%s'", opt,
		(unsigned long long)min, (unsigned long long)max, val ? val : "");
	return -EINVAL;
}

int cli_int(const char *cmd, const char *opt, const char *val, int min, int max, int *out)
{
	int64_t v;

	if (units_i64(val, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	cli_err(cmd, "'%s' must be an integer in %d..%d, got '%s'", opt, min, max,
		val ? val : "");
	return -EINVAL;
}

int cli_double(const char *cmd, const char *opt, const char *val, double min, double max,
	       double *out)
{
	if (units_double(val, min, max, out) == 0)
		return 0;
	cli_err(cmd, "'%s' must be a number in %g..%g, got '%s'", opt, min, max, val ? val : "");
	return -EINVAL;
}

int cli_duration(const char *cmd, const char *opt, const char *val, uint64_t *ns_out)
{
	if (units_duration_ns(val, 1000000000ull, ns_out) == 0)
		return 0;
	cli_err(cmd, "'%s' must be a duration such as 500ms, 10s or 2m, got '%s'", opt,
		val ? val : "");
	return -EINVAL;
}

int cli_size(const char *cmd, const char *opt, const char *val, uint64_t *out)
{
	if (units_size(val, out) == 0)
		return 0;
	cli_err(cmd, "'%s' must be a size such as 512KiB or 4MiB, got '%s'", opt,
		val ? val : "");
	return -EINVAL;
}

int cli_stack_copy(const char *cmd, const char *val, unsigned *out)
{
	uint64_t v;

	if (cli_size(cmd, "--stack-copy", val, &v))
		return -EINVAL;
	if (v < RP_SS_STACK_MIN || v > RP_SS_STACK_MAX) {
		cli_err(cmd, "'--stack-copy' must be 4KiB..64KiB, got '%s'", val);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int cli_finish_stdout(int code)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);

	if (fclose(stdout) != 0)
		bad = 1;
	if (bad) {
		cli_err(NULL, "error writing to stdout: %s", strerror(errno ? errno : EIO));
		return code ? code : EXIT_USAGE;
	}
	return code;
}

int cli_progress_enabled(void)
{
	return isatty(STDERR_FILENO);
}
