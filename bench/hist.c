/*
 * hist — log-linear histogram of nanosecond values (see hist.h).
 *
 * Bucket layout (HIST_SUB = 2^S sub-buckets, S = HIST_SUB_BITS = 7):
 *   - values 0 .. 2*HIST_SUB-1 get one bucket each (index = value): exact;
 *   - a value v >= 2*HIST_SUB with top bit k (2^k <= v < 2^(k+1)) falls in block
 *     b = k - S + 1 and sub-bucket (v >> (k - S)) - HIST_SUB; index = b*HIST_SUB + sub.
 * A bucket in block b >= 1 starts at lo = (HIST_SUB + sub) << (b - 1) and is 2^(b-1) wide, so
 * width / lo <= 1/HIST_SUB: every value is within 1/128 (0.78%) of its bucket's bounds, and
 * the midpoint reported by hist_percentile() is within 1/256 of any value in the bucket.
 * All of uint64_t fits: the last block is b = 63 - S + 1 = 57, so there are 58*128 buckets.
 *
 * count, min, max and sum are kept exactly (sum in 128 bits). lo_idx/hi_idx bound the
 * non-empty buckets so readers do not scan 7424 slots for a narrow distribution.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"

#define HIST_BLOCKS (64 - HIST_SUB_BITS + 1)
#define HIST_NBUCKETS ((size_t)HIST_BLOCKS * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	unsigned __int128 sum;
	size_t lo_idx;		/* lowest non-empty bucket (valid when count > 0) */
	size_t hi_idx;		/* highest non-empty bucket */
	uint64_t counts[HIST_NBUCKETS];
};

/* Hot path helper: no division, one clz. */
static inline size_t hist_index(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (size_t)v;
	unsigned k = 63 - (unsigned)__builtin_clzll(v);
	unsigned shift = k - HIST_SUB_BITS;
	return ((size_t)(shift + 1) << HIST_SUB_BITS) + (size_t)((v >> shift) - HIST_SUB);
}

static void hist_bounds(size_t idx, uint64_t *lo, uint64_t *hi)
{
	size_t blk = idx >> HIST_SUB_BITS;

	if (blk <= 1) {
		*lo = *hi = idx;
		return;
	}
	unsigned shift = (unsigned)blk - 1;
	uint64_t sub = idx & (HIST_SUB - 1);
	*lo = (HIST_SUB + sub) << shift;
	*hi = *lo + ((1ull << shift) - 1);
}

struct hist *hist_new(void)
{
	struct hist *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	hist_reset(h);
	return h;
}

void hist_free(struct hist *h)
{
	free(h);
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
	h->lo_idx = HIST_NBUCKETS;
}

void hist_record_n(struct hist *h, uint64_t v, uint64_t n)
{
	size_t i = hist_index(v);

	if (!n)
		return;
	h->counts[i] += n;
	h->count += n;
	h->sum += (unsigned __int128)v * n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	if (i < h->lo_idx)
		h->lo_idx = i;
	if (i > h->hi_idx)
		h->hi_idx = i;
}

/* Hot path: called once per reconcile and per queue hand-off. No locks, no allocation,
 * no division; the branches are predictable once min/max/bounds have settled. */
void hist_record(struct hist *h, uint64_t v)
{
	size_t i = hist_index(v);

	h->counts[i]++;
	h->count++;
	h->sum += v;
	if (__builtin_expect(v < h->min, 0))
		h->min = v;
	if (__builtin_expect(v > h->max, 0))
		h->max = v;
	if (__builtin_expect(i < h->lo_idx, 0))
		h->lo_idx = i;
	if (__builtin_expect(i > h->hi_idx, 0))
		h->hi_idx = i;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (size_t i = src->lo_idx; i <= src->hi_idx; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	if (src->lo_idx < dst->lo_idx)
		dst->lo_idx = src->lo_idx;
	if (src->hi_idx > dst->hi_idx)
		dst->hi_idx = src->hi_idx;
}

struct hist *hist_dup(const struct hist *h)
{
	struct hist *d = malloc(sizeof(*d));

	if (d)
		memcpy(d, h, sizeof(*d));
	return d;
}

uint64_t hist_count(const struct hist *h)
{
	return h->count;
}

uint64_t hist_min(const struct hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t hist_max(const struct hist *h)
{
	return h->max;
}

double hist_sum(const struct hist *h)
{
	return (double)h->sum;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

/*
 * The rank (1-based) of percentile p among n values: ceil(p/100 * n), at least 1. A product
 * that lands within rounding noise of an integer counts as that integer, so p99.9 of 1000
 * values is rank 999, not 1000.
 */
static uint64_t hist_rank(double p, uint64_t n)
{
	double x = p / 100.0 * (double)n;
	double r = nearbyint(x);
	uint64_t rank;

	if (fabs(x - r) <= 1e-9 * (x > 1.0 ? x : 1.0))
		rank = (uint64_t)r;
	else
		rank = (uint64_t)ceil(x);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return rank;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (!(p > 0.0))		/* also NAN */
		p = 0.0;
	if (p > 100.0)
		p = 100.0;
	rank = hist_rank(p, h->count);
	if (rank == 1)
		return h->min;
	if (rank == h->count)
		return h->max;
	for (size_t i = h->lo_idx; i <= h->hi_idx; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t lo, hi, mid;

			hist_bounds(i, &lo, &hi);
			mid = lo + (hi - lo) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}

/* Values in the bucket that holds v count as <= v: at bucket resolution they are equal. */
uint64_t hist_count_le(const struct hist *h, uint64_t v)
{
	uint64_t n = 0;
	size_t top;

	if (!h->count || v < h->min)
		return 0;
	if (v >= h->max)
		return h->count;
	top = hist_index(v);
	for (size_t i = h->lo_idx; i <= top; i++)
		n += h->counts[i];
	return n;
}

double hist_rel_error(void)
{
	return 1.0 / HIST_SUB;
}

int hist_next_bucket(const struct hist *h, size_t *cursor, uint64_t *lo, uint64_t *hi,
		     uint64_t *count)
{
	size_t i = *cursor;

	if (!h->count)
		return 0;
	if (i < h->lo_idx)
		i = h->lo_idx;
	for (; i <= h->hi_idx; i++) {
		if (h->counts[i]) {
			hist_bounds(i, lo, hi);
			*count = h->counts[i];
			*cursor = i + 1;
			return 1;
		}
	}
	*cursor = i;
	return 0;
}
