/* units — strict number, duration and size parsing. See units.h. */
#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad_start(const char *s)
{
	return !s || !*s || isspace((unsigned char)*s);
}

int units_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (bad_start(s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int units_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (bad_start(s) || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int units_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (bad_start(s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || isnan(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	double mult;
};

static int scaled(const char *s, const struct unit *units, double bare, double *out)
{
	char *end;
	double v;

	if (bad_start(s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || isnan(v) || isinf(v))
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (!*end) {
		*out = v * bare;
		return 0;
	}
	for (const struct unit *u = units; u->name; u++) {
		if (strcmp(end, u->name) == 0) {
			*out = v * u->mult;
			return 0;
		}
	}
	return -EINVAL;
}

int units_duration_ns(const char *s, uint64_t bare_ns, uint64_t *out)
{
	static const struct unit du[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "µs", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 }, { NULL, 0 },
	};
	double v;
	int err = scaled(s, du, (double)bare_ns, &v);

	if (err)
		return err;
	if (v >= 1.8e19)
		return -ERANGE;
	*out = (uint64_t)llround(v);
	return 0;
}

int units_size(const char *s, uint64_t *out)
{
	static const struct unit su[] = {
		{ "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "k", 1024.0 }, { "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 },
		{ "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { NULL, 0 },
	};
	double v;
	int err = scaled(s, su, 1.0, &v);

	if (err)
		return err;
	if (v >= 1.8e19)
		return -ERANGE;
	*out = (uint64_t)llround(v);
	return 0;
}

const char *units_fmt_ns(double ns, char *buf, int len)
{
	if (ns < 1e3)
		snprintf(buf, (size_t)len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, (size_t)len, "%.2fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, (size_t)len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, (size_t)len, "%.2fs", ns / 1e9);
	return buf;
}
