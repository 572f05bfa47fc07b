#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"

/* A small seeded generator (splitmix64) so every run sees the same data. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)	/* (0, 1) */
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
	return sqrt(-2.0 * log(rng_unit())) * cos(2.0 * M_PI * rng_unit());
}

enum dist { D_UNIFORM, D_EXPONENTIAL, D_LOGNORMAL, D_BIMODAL, D_SMALL, D_WIDE };

static uint64_t draw(enum dist d)
{
	switch (d) {
	case D_UNIFORM:
		return 1000 + rng_next() % 10000000;
	case D_EXPONENTIAL:
		return (uint64_t)(-log(rng_unit()) * 250000.0);
	case D_LOGNORMAL:
		return (uint64_t)exp(11.0 + 1.5 * rng_normal());
	case D_BIMODAL:	/* fast path ~2us, 10% slow path ~40ms */
		if (rng_next() % 10 == 0)
			return (uint64_t)fabs(40e6 + 5e6 * rng_normal());
		return (uint64_t)fabs(2000.0 + 300.0 * rng_normal());
	case D_SMALL:
		return rng_next() % 300;
	case D_WIDE:
		return rng_next() >> (rng_next() % 64);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The exact value at percentile p: the smallest v with at least p% of values <= v. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	double x = p / 100.0 * (double)n;
	double r = nearbyint(x);
	size_t rank = fabs(x - r) <= 1e-9 * (x > 1 ? x : 1) ? (size_t)r : (size_t)ceil(x);
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

struct dcase { int dist; char name[16]; };

ParameterizedTestParameters(hist, percentiles_within_relative_error)
{
	static struct dcase cases[] = {
		{ D_UNIFORM, "uniform" }, { D_EXPONENTIAL, "exponential" },
		{ D_LOGNORMAL, "lognormal" }, { D_BIMODAL, "bimodal" },
		{ D_SMALL, "small" }, { D_WIDE, "wide" },
	};
	return cr_make_param_array(struct dcase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct dcase *c, hist, percentiles_within_relative_error)
{
	const size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct hist *h = hist_new();
	static const double ps[] = { 0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100 };
	long double sum = 0;

	cr_assert(v && h);
	rng_state = 42 + (uint64_t)c->dist;
	for (size_t i = 0; i < n; i++) {
		v[i] = draw((enum dist)c->dist);
		hist_record(h, v[i]);
		sum += v[i];
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	cr_assert_eq(hist_count(h), n);
	cr_assert_eq(hist_min(h), v[0], "%s: min", c->name);
	cr_assert_eq(hist_max(h), v[n - 1], "%s: max", c->name);
	cr_assert(fabsl((long double)hist_sum(h) - sum) <= sum * 1e-12, "%s: sum", c->name);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		uint64_t want = exact_percentile(v, n, ps[i]);
		uint64_t got = hist_percentile(h, ps[i]);
		double err = want ? fabs((double)got - (double)want) / (double)want
				  : (double)got;
		cr_assert(err <= hist_rel_error(),
			  "%s p%g: got %llu, exact %llu, relative error %.5f > %.5f", c->name,
			  ps[i], (unsigned long long)got, (unsigned long long)want, err,
			  hist_rel_error());
	}
	hist_free(h);
	free(v);
}

Test(hist, relative_error_bound_is_one_in_128)
{
	cr_assert_eq(HIST_SUB, 128);
	cr_assert_float_eq(hist_rel_error(), 1.0 / 128, 1e-15);
}

Test(hist, small_values_are_exact)
{
	struct hist *h = hist_new();
	for (uint64_t x = 0; x < 256; x++)
		hist_record(h, x);
	for (int p = 1; p < 100; p++)
		cr_assert_eq(hist_percentile(h, p), (uint64_t)ceil(p * 2.56) - 1, "p%d", p);
	hist_free(h);
}

Test(hist, every_value_lands_in_a_bucket_that_holds_it)
{
	struct hist *h = hist_new();
	uint64_t probes[] = { 0, 1, 127, 128, 255, 256, 257, 1000, 65535, 65536,
			      1ull << 40, (1ull << 40) + 12345, UINT64_MAX >> 1, UINT64_MAX };

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		size_t cur = 0;
		uint64_t lo, hi, cnt;

		hist_reset(h);
		hist_record(h, probes[i]);
		cr_assert_eq(hist_next_bucket(h, &cur, &lo, &hi, &cnt), 1);
		cr_assert(lo <= probes[i] && probes[i] <= hi, "%llu not in [%llu, %llu]",
			  (unsigned long long)probes[i], (unsigned long long)lo,
			  (unsigned long long)hi);
		cr_assert_eq(cnt, 1);
		cr_assert((double)(hi - lo) <= (double)lo / HIST_SUB + 0.5,
			  "bucket [%llu, %llu] wider than lo/128", (unsigned long long)lo,
			  (unsigned long long)hi);
		cr_assert_eq(hist_next_bucket(h, &cur, &lo, &hi, &cnt), 0);
		cr_assert_eq(hist_percentile(h, 50), probes[i]);
	}
	hist_free(h);
}

Test(hist, buckets_iterate_in_order_and_sum_to_count)
{
	struct hist *h = hist_new();
	size_t cur = 0, nb = 0;
	uint64_t lo, hi, cnt, total = 0, prev_hi = 0;

	rng_state = 7;
	for (int i = 0; i < 50000; i++)
		hist_record(h, draw(D_LOGNORMAL));
	while (hist_next_bucket(h, &cur, &lo, &hi, &cnt)) {
		cr_assert(lo <= hi);
		cr_assert(nb == 0 || lo > prev_hi, "buckets overlap or go backwards");
		cr_assert(cnt > 0, "empty bucket reported");
		prev_hi = hi;
		total += cnt;
		nb++;
	}
	cr_assert_eq(total, 50000);
	cr_assert(nb > 100, "only %zu buckets for a lognormal spread", nb);
	cr_assert(prev_hi >= hist_max(h));
	hist_free(h);
}

Test(hist, merge_equals_recording_everything_in_one)
{
	struct hist *a = hist_new(), *b = hist_new(), *all = hist_new(), *empty = hist_new();

	rng_state = 99;
	for (int i = 0; i < 30000; i++) {
		uint64_t x = draw(i % 2 ? D_BIMODAL : D_EXPONENTIAL);
		hist_record(i % 3 ? a : b, x);
		hist_record(all, x);
	}
	hist_merge(a, b);
	hist_merge(a, empty);
	cr_assert_eq(hist_count(a), hist_count(all));
	cr_assert_eq(hist_min(a), hist_min(all));
	cr_assert_eq(hist_max(a), hist_max(all));
	cr_assert_eq(hist_sum(a), hist_sum(all));
	for (double p = 0; p <= 100; p += 0.5)
		cr_assert_eq(hist_percentile(a, p), hist_percentile(all, p), "p%g", p);

	size_t ca = 0, cb = 0;
	uint64_t l1, h1, n1, l2, h2, n2;
	int r1, r2;
	do {
		r1 = hist_next_bucket(a, &ca, &l1, &h1, &n1);
		r2 = hist_next_bucket(all, &cb, &l2, &h2, &n2);
		cr_assert_eq(r1, r2);
		if (r1)
			cr_assert(l1 == l2 && h1 == h2 && n1 == n2);
	} while (r1);

	/* Merging into an empty histogram copies it; dup is a deep copy. */
	hist_merge(empty, all);
	cr_assert_eq(hist_percentile(empty, 99), hist_percentile(all, 99));
	struct hist *d = hist_dup(all);
	hist_record(d, 1);
	cr_assert_eq(hist_count(d), hist_count(all) + 1);
	cr_assert_eq(hist_min(d), 1);
	hist_free(d);
	hist_free(a);
	hist_free(b);
	hist_free(all);
	hist_free(empty);
}

Test(hist, record_n_equals_n_records)
{
	struct hist *a = hist_new(), *b = hist_new();
	hist_record_n(a, 5000000, 7);
	hist_record_n(a, 12, 3);
	hist_record_n(a, 99, 0);
	for (int i = 0; i < 7; i++)
		hist_record(b, 5000000);
	for (int i = 0; i < 3; i++)
		hist_record(b, 12);
	cr_assert_eq(hist_count(a), 10);
	cr_assert_eq(hist_min(a), 12);
	cr_assert_eq(hist_max(a), 5000000);
	cr_assert_eq(hist_sum(a), hist_sum(b));
	cr_assert_float_eq(hist_mean(a), (7 * 5e6 + 36) / 10.0, 1e-6);
	for (double p = 0; p <= 100; p += 5)
		cr_assert_eq(hist_percentile(a, p), hist_percentile(b, p));
	hist_free(a);
	hist_free(b);
}

Test(hist, count_le_is_cumulative_at_bucket_resolution)
{
	struct hist *h = hist_new();
	/* controller-runtime style bucket bounds in ns */
	static const uint64_t le[] = { 5000000, 10000000, 25000000, 50000000, 100000000 };
	uint64_t vals[40000];
	size_t n = sizeof(vals) / sizeof(vals[0]);

	rng_state = 3;
	for (size_t i = 0; i < n; i++) {
		vals[i] = (uint64_t)(-log(rng_unit()) * 20e6);
		hist_record(h, vals[i]);
	}
	uint64_t prev = 0;
	for (size_t j = 0; j < sizeof(le) / sizeof(le[0]); j++) {
		uint64_t lo = 0, hi = 0, got = hist_count_le(h, le[j]);
		/* exact counts of values <= le*(1 -/+ 1/128) bracket the bucket-resolution answer */
		for (size_t i = 0; i < n; i++) {
			lo += vals[i] <= le[j] - le[j] / HIST_SUB;
			hi += vals[i] <= le[j] + le[j] / HIST_SUB;
		}
		cr_assert(lo <= got && got <= hi, "le %llu: %llu not in [%llu, %llu]",
			  (unsigned long long)le[j], (unsigned long long)got,
			  (unsigned long long)lo, (unsigned long long)hi);
		cr_assert(got >= prev, "not cumulative");
		prev = got;
	}
	cr_assert_eq(hist_count_le(h, hist_max(h)), n);
	cr_assert_eq(hist_count_le(h, UINT64_MAX), n);
	if (hist_min(h) > 0)
		cr_assert_eq(hist_count_le(h, hist_min(h) - 1), 0);

	hist_reset(h);
	hist_record(h, 100);
	hist_record(h, 200);
	hist_record(h, 300);
	cr_assert_eq(hist_count_le(h, 99), 0);
	cr_assert_eq(hist_count_le(h, 100), 1);
	cr_assert_eq(hist_count_le(h, 250), 2);
	cr_assert_eq(hist_count_le(h, 300), 3);
	hist_free(h);
}

Test(hist, empty_histogram_reports_zeros)
{
	struct hist *h = hist_new();
	size_t cur = 0;
	uint64_t lo, hi, cnt;

	cr_assert_eq(hist_count(h), 0);
	cr_assert_eq(hist_min(h), 0);
	cr_assert_eq(hist_max(h), 0);
	cr_assert_eq(hist_mean(h), 0.0);
	cr_assert_eq(hist_sum(h), 0.0);
	cr_assert_eq(hist_percentile(h, 50), 0);
	cr_assert_eq(hist_percentile(h, 100), 0);
	cr_assert_eq(hist_count_le(h, 1000), 0);
	cr_assert_eq(hist_next_bucket(h, &cur, &lo, &hi, &cnt), 0);

	hist_record(h, 77);
	hist_reset(h);
	cr_assert_eq(hist_count(h), 0);
	cr_assert_eq(hist_min(h), 0);
	cr_assert_eq(hist_next_bucket(h, &cur, &lo, &hi, &cnt), 0);
	hist_free(h);
	hist_free(NULL);
}

Test(hist, out_of_range_percentiles_clamp)
{
	struct hist *h = hist_new();
	hist_record(h, 10);
	hist_record(h, 1000000);
	cr_assert_eq(hist_percentile(h, -5), 10);
	cr_assert_eq(hist_percentile(h, NAN), 10);
	cr_assert_eq(hist_percentile(h, 150), 1000000);
	cr_assert_eq(hist_percentile(h, 50), 10);
	cr_assert_eq(hist_percentile(h, 50.1), 1000000);
	hist_free(h);
}
