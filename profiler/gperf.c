/* gperf — gperftools legacy CPU profiles to pprof. See gperf.h. */
#include "profiler/gperf.h"
#include "profiler/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPERF_MAX_DEPTH 4096

struct words {
	const unsigned char *p;
	size_t n;	/* words available */
	int size;	/* 4 or 8 */
};

static uint64_t word(const struct words *w, size_t i)
{
	uint64_t v = 0;

	if (w->size == 8) {
		memcpy(&v, w->p + 8 * i, 8);
	} else {
		uint32_t x;

		memcpy(&x, w->p + 4 * i, 4);
		v = x;
	}
	return v;
}

static int detect(const void *buf, size_t len, struct words *w)
{
	static const int sizes[] = { 8, 4 };

	for (int k = 0; k < 2; k++) {
		w->p = buf;
		w->size = sizes[k];
		w->n = len / (size_t)w->size;
		if (w->n >= 5 && word(w, 0) == 0 && word(w, 1) == 3 && word(w, 2) == 0 &&
		    word(w, 3) > 0 && word(w, 3) < 1000000000ull)
			return 0;
	}
	return -EINVAL;
}

bool gperf_is_cpu_profile(const void *buf, size_t len)
{
	struct words w;

	return detect(buf, len, &w) == 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int gperf_cpu_to_builder(const void *buf, size_t len, struct pprof_builder **out, char *err,
			 size_t errlen)
{
	static const struct pprof_value_type types[] = { { "samples", "count" },
							 { "cpu", "nanoseconds" } };
	struct pprof_builder_opts o = { .sample_types = types, .nsample_types = 2,
					.period_type = { "cpu", "nanoseconds" },
					.default_sample_type = "cpu" };
	struct pprof_builder *b;
	uint64_t pcs[GPERF_MAX_DEPTH], period_ns;
	struct words w;
	size_t i, rec = 0;
	char *maps = NULL;
	int rc;

	*out = NULL;
	if (detect(buf, len, &w)) {
		seterr(err, errlen, "not a gperftools CPU profile (header words 0, 3, 0 missing)");
		return -EINVAL;
	}
	period_ns = word(&w, 3) * 1000;
	o.period = (int64_t)period_ns;
	b = pprof_builder_new(&o);
	if (!b)
		return -ENOMEM;
	for (i = 5;; rec++) {
		uint64_t count, n;
		int64_t values[2];

		if (i + 2 > w.n) {
			seterr(err, errlen, "record %zu (word %zu): truncated, no trailer", rec, i);
			rc = -EINVAL;
			goto err;
		}
		count = word(&w, i);
		n = word(&w, i + 1);
		if (count == 0 && n == 1 && i + 3 <= w.n && word(&w, i + 2) == 0) {
			i += 3;
			break;	/* the trailer */
		}
		if (n == 0 || n > GPERF_MAX_DEPTH || i + 2 + n > w.n) {
			seterr(err, errlen, "record %zu (word %zu): depth %" PRIu64 " %s", rec, i + 1,
			       n, n > GPERF_MAX_DEPTH || n == 0 ? "out of range" : "past the end");
			rc = -EINVAL;
			goto err;
		}
		if (count > (uint64_t)INT64_MAX / period_ns) {
			seterr(err, errlen, "record %zu (word %zu): count %" PRIu64 " out of range",
			       rec, i, count);
			rc = -EINVAL;
			goto err;
		}
		for (uint64_t j = 0; j < n; j++)
			pcs[j] = word(&w, i + 2 + j);
		values[0] = (int64_t)count;
		values[1] = (int64_t)(count * period_ns);
		rc = pprof_builder_add(b, pcs, (size_t)n, values, NULL, 0);
		if (rc == -ERANGE) {
			seterr(err, errlen, "record %zu (word %zu): count %" PRIu64 " overflows "
			       "the total of its stack", rec, i, count);
			rc = -EINVAL;
		}
		if (rc)
			goto err;
		i += 2 + n;
	}
	/* the rest is the text of /proc/self/maps */
	if (i * (size_t)w.size < len) {
		size_t off = i * (size_t)w.size;

		maps = strndup((const char *)buf + off, len - off);
		if (!maps) {
			rc = -ENOMEM;
			goto err;
		}
		rc = pprof_builder_symbolize_maps(b, maps);
		free(maps);
		if (rc && rc != -ENOENT)
			goto err;
	}
	*out = b;
	return 0;
err:
	pprof_builder_free(b);
	return rc;
}
