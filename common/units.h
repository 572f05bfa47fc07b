/*
 * units — the one parser for numbers that come from people: command-line options,
 * scenario fields, environment variables. strtoll/strtod with an end pointer and a range,
 * so "12abc", "", " 5" and out-of-range values are rejected, never truncated.
 *
 * Durations take units: ns, us, ms, s, m, h ("500ms", "2s", "1.5m"); a bare number is in
 * the unit the caller names. Sizes take B, KiB, MiB, GiB (and k/K, M, G as powers of 1024).
 * Pure functions, any thread. All return 0 or -EINVAL / -ERANGE.
 */
#ifndef RECONPERF_UNITS_H
#define RECONPERF_UNITS_H

#include <stdint.h>

int units_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int units_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int units_double(const char *s, double min, double max, double *out);
/* bare_ns: the multiplier for a bare number (e.g. 1000000000 for seconds). */
int units_duration_ns(const char *s, uint64_t bare_ns, uint64_t *out);
int units_size(const char *s, uint64_t *out);
/* Formats a duration in ns with a fitting unit ("1.23ms") into buf; returns buf. */
const char *units_fmt_ns(double ns, char *buf, int len);

#endif
