/*
 * legacy_heap — gperftools' legacy heap profile text into a pprof builder (legacy_heap.h).
 */
#include "profiler/legacy_heap.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/pprof.h"

#define HEADER "heap profile:"
#define MAX_FRAMES 1024

static const struct pprof_value_type heap_types[] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
};

struct parser {
	const char *p;		/* cursor in the current line (NUL-terminated copy) */
	const char *start;	/* the line */
	int lineno;
	char *err;
	size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ps->err, ps->errlen, "line %d: ", ps->lineno);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

static int expect(struct parser *ps, char c)
{
	skip_space(ps);
	if (*ps->p != c)
		return fail(ps, "expected '%c' at column %d", c, (int)(ps->p - ps->start) + 1);
	ps->p++;
	return 0;
}

/* A decimal count: digits only, no sign, no overflow. */
static int number(struct parser *ps, uint64_t *out, const char *what)
{
	uint64_t v = 0;

	skip_space(ps);
	if (!isdigit((unsigned char)*ps->p))
		return fail(ps, "%s: expected a number", what);
	while (isdigit((unsigned char)*ps->p)) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*ps->p - '0'), &v))
			return fail(ps, "%s: number out of range", what);
		ps->p++;
	}
	*out = v;
	return 0;
}

/* "INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @" — the shape of the header and of every stack. */
static int counts(struct parser *ps, uint64_t v[4])
{
	int rc;

	if ((rc = number(ps, &v[0], "in-use objects")) || (rc = expect(ps, ':')) ||
	    (rc = number(ps, &v[1], "in-use bytes")) || (rc = expect(ps, '[')) ||
	    (rc = number(ps, &v[2], "allocated objects")) || (rc = expect(ps, ':')) ||
	    (rc = number(ps, &v[3], "allocated bytes")) || (rc = expect(ps, ']')) ||
	    (rc = expect(ps, '@')))
		return rc;
	if (v[0] > v[2] || v[1] > v[3])
		return fail(ps, "more in use than allocated");
	return 0;
}

bool legacy_heap_detect(const void *buf, size_t len)
{
	const char *s = buf;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	return len >= strlen(HEADER) && !memcmp(s, HEADER, strlen(HEADER));
}

/* "heapprofile" (exact) or "heap_v2/RATE" (sampled): *rate 0 means exact. */
static int kind(struct parser *ps, uint64_t *rate)
{
	skip_space(ps);
	if (!strncmp(ps->p, "heapprofile", 11)) {
		ps->p += 11;
		*rate = 0;
	} else if (!strncmp(ps->p, "heap_v2/", 8)) {
		ps->p += 8;
		if (number(ps, rate, "sampling rate"))
			return -EINVAL;
		if (!*rate)
			return fail(ps, "sampling rate: must be positive");
	} else {
		return fail(ps, "unsupported heap profile kind '%.20s' (heapprofile or heap_v2/RATE)",
			    ps->p);
	}
	skip_space(ps);
	if (*ps->p)
		return fail(ps, "unexpected text after the profile kind");
	return 0;
}

/* The count or bytes unsampled into *out; false when that does not fit a pprof value. */
static bool scaled(uint64_t count, uint64_t bytes, uint64_t rate, bool want_bytes,
		   int64_t *out)
{
	double scale = 1, v;

	if (rate > 1 && count && bytes)
		scale = 1 / (1 - exp(-((double)bytes / (double)count) / (double)rate));
	v = (double)(want_bytes ? bytes : count) * scale;
	if (!(v < 9223372036854775808.0))	/* 2^63; also catches NaN */
		return false;
	*out = (int64_t)llround(v);
	return true;
}

static int stack_line(struct parser *ps, struct pprof_builder *b, uint64_t rate)
{
	uint64_t v[4], pcs[MAX_FRAMES];
	int64_t vals[4];
	size_t n = 0;
	int rc;

	if ((rc = counts(ps, v)))
		return rc;
	for (;;) {
		char *end;

		skip_space(ps);
		if (!*ps->p)
			break;
		if (ps->p[0] != '0' || (ps->p[1] != 'x' && ps->p[1] != 'X') ||
		    !isxdigit((unsigned char)ps->p[2]))
			return fail(ps, "expected a 0x address, got '%.20s'", ps->p);
		if (n == MAX_FRAMES)
			return fail(ps, "more than %d frames", MAX_FRAMES);
		errno = 0;
		pcs[n] = strtoull(ps->p, &end, 16);
		if (errno || (*end && *end != ' ' && *end != '\t'))
			return fail(ps, "bad address '%.20s'", ps->p);
		ps->p = end;
		n++;
	}
	if (!n)
		return fail(ps, "a stack with no addresses");
	/* Every address is a return address: the leaf too (the builder adjusts the others). */
	if (pcs[0])
		pcs[0]--;
	if (!scaled(v[2], v[3], rate, false, &vals[0]) ||
	    !scaled(v[2], v[3], rate, true, &vals[1]) ||
	    !scaled(v[0], v[1], rate, false, &vals[2]) ||
	    !scaled(v[0], v[1], rate, true, &vals[3]))
		return fail(ps, "counts out of range");
	rc = pprof_builder_add(b, pcs, n, vals, NULL, 0);
	if (rc == -ERANGE)
		return fail(ps, "counts overflow the total of the same stack");
	return rc;
}

/* "start-end perms offset dev inode path": executable file mappings only. */
static int maps_line(struct parser *ps, struct pprof_builder *b)
{
	unsigned long long start, end, off;
	char perms[8];
	int pos = 0;
	const char *path;

	if (sscanf(ps->p, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pos) < 4 ||
	    !pos)
		return 0;	/* pprof ignores lines it does not understand here too */
	path = ps->p + pos;
	if (!strchr(perms, 'x') || *path != '/' || end <= start)
		return 0;
	return pprof_builder_add_mapping(b, start, end, off, path, NULL);
}

/*
 * Names the addresses from the binaries the maps text lists, when they are still on disk;
 * otherwise keeps the executable mappings so the addresses at least point at their files.
 */
static int symbolize(struct parser *ps, struct pprof_builder *b, const char *maps, size_t len)
{
	char *text = strndup(maps, len), *line, *save = NULL;
	int rc;

	if (!text)
		return -ENOMEM;
	rc = pprof_builder_symbolize_maps(b, text);
	if (rc == -ENOENT) {
		rc = 0;
		for (line = strtok_r(text, "\n", &save); line && !rc;
		     line = strtok_r(NULL, "\n", &save)) {
			ps->p = ps->start = line;
			rc = maps_line(ps, b);
		}
	}
	free(text);
	return rc;
}

int legacy_heap_parse(const char *buf, size_t len, struct pprof_builder **out, char *err,
		      size_t errlen)
{
	struct parser ps = { .err = err, .errlen = errlen };
	struct pprof_builder_opts o = {
		.sample_types = heap_types,
		.nsample_types = 4,
		.period_type = { "space", "bytes" },
	};
	struct pprof_builder *b = NULL;
	const char *s = buf, *e = buf + len;
	const char *maps = NULL;
	uint64_t rate = 0, tot[4];
	char *line = NULL;
	int rc = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	while (s < e && !rc) {
		const char *nl = memchr(s, '\n', e - s);
		size_t n = (nl ? nl : e) - s;

		ps.lineno++;
		if (memchr(s, '\0', n)) {
			rc = fail(&ps, "a NUL byte in the text");
			break;
		}
		free(line);
		line = strndup(s, n);
		if (!line) {
			rc = -ENOMEM;
			break;
		}
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		s = nl ? nl + 1 : e;
		ps.p = ps.start = line;
		skip_space(&ps);
		if (ps.lineno == 1) {
			if (strncmp(ps.p, HEADER, strlen(HEADER))) {
				rc = fail(&ps, "not a gperftools heap profile (no '%s')", HEADER);
				break;
			}
			ps.p += strlen(HEADER);
			if ((rc = counts(&ps, tot)) || (rc = kind(&ps, &rate)))
				break;
			o.period = rate ? (int64_t)rate : 1;
			b = pprof_builder_new(&o);
			if (!b)
				rc = -ENOMEM;
			continue;
		}
		if (!*ps.p)
			continue;
		if (!strcmp(ps.p, "MAPPED_LIBRARIES:")) {
			maps = s;	/* the rest is a copy of /proc/PID/maps */
			break;
		}
		rc = stack_line(&ps, b, rate);
	}
	if (!rc && b && maps)
		rc = symbolize(&ps, b, maps, e - maps);
	free(line);
	if (!rc && !b) {
		snprintf(err, errlen, "empty file");
		rc = -EINVAL;
	}
	if (rc) {
		pprof_builder_free(b);
		return rc;
	}
	*out = b;
	return 0;
}
