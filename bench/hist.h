/*
 * hist — a log-linear (HDR-style) histogram of nanosecond values.
 *
 * Values 0..2^63 are kept in buckets: every power of two [2^k, 2^(k+1)) is split into
 * HIST_SUB linear sub-buckets, so any recorded value is reported within a relative error
 * of 1/HIST_SUB (< 0.8% with HIST_SUB = 128); values below HIST_SUB are exact. min, max,
 * count and sum are exact.
 *
 * Threading: a hist is single-writer. Record into a per-thread hist and hist_merge() them
 * off the hot path; hist_record() is the hot path (no locks, no allocation, no division).
 * Reading functions take a const hist and may run while no writer is active.
 */
#ifndef RECONPERF_HIST_H
#define RECONPERF_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)

struct hist;

struct hist *hist_new(void);
void hist_free(struct hist *h);
void hist_reset(struct hist *h);

void hist_record(struct hist *h, uint64_t v);		/* hot path */
void hist_record_n(struct hist *h, uint64_t v, uint64_t n);
void hist_merge(struct hist *dst, const struct hist *src);
struct hist *hist_dup(const struct hist *h);

uint64_t hist_count(const struct hist *h);
uint64_t hist_min(const struct hist *h);		/* 0 when empty */
uint64_t hist_max(const struct hist *h);
double hist_mean(const struct hist *h);
double hist_sum(const struct hist *h);
/* The value at percentile p (0..100): the smallest recorded-bucket value v such that at
 * least p% of values are <= v, reported as the bucket's midpoint (clamped to [min, max]). */
uint64_t hist_percentile(const struct hist *h, double p);
/* How many recorded values are <= v (bucket resolution); for Prometheus buckets. */
uint64_t hist_count_le(const struct hist *h, uint64_t v);
/* Relative error bound of reported values (1/HIST_SUB). */
double hist_rel_error(void);

/* Iterates non-empty buckets in increasing order: lo..hi inclusive, count. Returns 0 when
 * done. *cursor starts at 0. */
int hist_next_bucket(const struct hist *h, size_t *cursor, uint64_t *lo, uint64_t *hi,
		     uint64_t *count);

#endif
