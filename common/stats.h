/*
 * stats — the statistics behind `reconperf compare`: a two-sample rank test, a
 * distribution-free interval on the change, multiple-comparison correction, geometric mean.
 *
 * - Mann-Whitney U (two-sided), as R's wilcox.test(x, y, exact = NULL, correct = TRUE):
 *   the exact null distribution when both samples have fewer than 50 values and there are
 *   no ties; otherwise the normal approximation with the tie correction of the variance and
 *   a continuity correction of 0.5.
 * - Hodges-Lehmann shift (median of the n*m pairwise differences y_j - x_i) with the
 *   distribution-free Moses interval: the k-th smallest and k-th largest difference, where
 *   k comes from the same U null distribution (exact or normal), as R's conf.int = TRUE.
 *   On log values the shift is a log ratio, so exp() of it is the ratio of "typical"
 *   values new/base and the interval is an interval on that ratio.
 * - Holm (step-down, controls the family-wise error rate under any dependence) and
 *   Benjamini-Hochberg (controls the false discovery rate) adjusted p-values.
 *
 * Pure functions over caller arrays; no global state; any thread. Functions that allocate
 * return 0 or -ENOMEM / -EINVAL.
 */
#ifndef RECONPERF_STATS_H
#define RECONPERF_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* Result of a Mann-Whitney U test of x (n values) against y (m values). */
struct stats_mwu {
	double u;	/* U of x: #pairs x_i > y_j + 0.5 * #ties (R's W statistic) */
	double p;	/* two-sided p-value */
	bool exact;	/* exact null distribution (no ties, n and m < 50) */
	bool ties;
};

/* Below this many values per side (both), with no ties, the exact distribution is used. */
#define STATS_EXACT_MAX 50

int stats_mwu(const double *x, size_t n, const double *y, size_t m, struct stats_mwu *out);

/*
 * The exact null distribution of U for sizes n, m (no ties): P(U <= u). u may be fractional
 * or out of range. Returns NAN when n or m is 0 or either is >= STATS_EXACT_MAX.
 */
double stats_mwu_cdf(double u, size_t n, size_t m);

/* The smallest two-sided p-value the exact test can give: 2 / C(n+m, n) (capped at 1). */
double stats_mwu_min_p(size_t n, size_t m);

/* Hodges-Lehmann shift of y against x with a distribution-free interval. */
struct stats_shift {
	double est;		/* median of y_j - x_i */
	double lo, hi;		/* interval, lo <= est <= hi */
	double level;		/* achieved confidence level (>= the asked one when exact) */
};

/* conf: e.g. 0.95. Returns 0, -EINVAL (n or m is 0, conf outside (0,1)), -ENOMEM. */
int stats_hl_shift(const double *x, size_t n, const double *y, size_t m, double conf,
		   struct stats_shift *out);

/* Adjusted p-values, in place order preserved (p[i] -> adj[i]). adj may alias p. */
int stats_holm(const double *p, size_t k, double *adj);
int stats_bh(const double *p, size_t k, double *adj);

/* Median (sorts a copy). NAN for n == 0. */
double stats_median(const double *v, size_t n);
/* Geometric mean of positive values; NAN if any value <= 0 or n == 0. */
double stats_geomean(const double *v, size_t n);
/* Mean and sample coefficient of variation (stddev / mean); NAN when undefined. */
double stats_mean(const double *v, size_t n);
double stats_cv(const double *v, size_t n);

/* Standard normal: upper tail P(Z > z) and its inverse (quantile of 1 - q). */
double stats_norm_sf(double z);
double stats_norm_isf(double q);

#endif
