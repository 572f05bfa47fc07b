/* stats — rank test, shift interval, p-value correction. See stats.h. */
#include "common/stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double stats_norm_sf(double z)
{
	return 0.5 * erfc(z / M_SQRT2);
}

/* Bisection on erfc: slow next to a rational approximation, but exact to the last bits and
 * called a handful of times per comparison. */
double stats_norm_isf(double q)
{
	double lo = -40, hi = 40;

	if (!(q > 0 && q < 1))
		return q <= 0 ? INFINITY : q >= 1 ? -INFINITY : NAN;
	for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
		double mid = 0.5 * (lo + hi);

		if (stats_norm_sf(mid) > q)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

/*
 * counts[u] = number of ways to pick which n of the n+m ranks belong to x such that U = u.
 * Subset-sum dynamic programme over ranks 1..n+m with all terms positive (no cancellation):
 * dp[k][s] = number of k-subsets of the ranks seen so far with U-part s, where picking rank r
 * as the k-th smallest chosen adds r - k to U (the number of y values below it).
 */
static double *mwu_counts(size_t n, size_t m)
{
	size_t nm = n * m, w = nm + 1, N = n + m;
	double *dp = calloc((n + 1) * w, sizeof(*dp)), *out;

	if (!dp)
		return NULL;
	dp[0] = 1;
	for (size_t r = 1; r <= N; r++) {
		size_t kmax = r < n ? r : n;

		for (size_t k = kmax; k >= 1; k--) {
			size_t add = r - k;	/* y values below the k-th chosen rank r */

			if (add > m)
				continue;
			double *dst = dp + k * w, *src = dp + (k - 1) * w;

			for (size_t s = nm; s + 1 > add; s--) {
				dst[s] += src[s - add];
				if (s == 0)
					break;
			}
		}
	}
	out = malloc(w * sizeof(*out));
	if (out)
		memcpy(out, dp + n * w, w * sizeof(*out));
	free(dp);
	return out;
}

double stats_mwu_cdf(double u, size_t n, size_t m)
{
	double *c, tot = 0, acc = 0;
	size_t nm = n * m;

	if (!n || !m || n >= STATS_EXACT_MAX || m >= STATS_EXACT_MAX || isnan(u))
		return NAN;
	if (u < 0)
		return 0;
	if (u >= (double)nm)
		return 1;
	c = mwu_counts(n, m);
	if (!c)
		return NAN;
	for (size_t i = 0; i <= nm; i++) {
		tot += c[i];
		if ((double)i <= u)
			acc += c[i];
	}
	free(c);
	return acc / tot;
}

double stats_mwu_min_p(size_t n, size_t m)
{
	double lc;

	if (!n || !m)
		return 1;
	lc = lgamma((double)(n + m) + 1) - lgamma((double)n + 1) - lgamma((double)m + 1);
	return fmin(1.0, 2.0 * exp(-lc));
}

struct ranked {
	double v;
	size_t i;
};

static int cmp_ranked(const void *a, const void *b)
{
	return cmp_double(&((const struct ranked *)a)->v, &((const struct ranked *)b)->v);
}

/* Rank sum of x in the pooled sample (mid-ranks for ties) and sum of t^3 - t over ties. */
static int rank_sum(const double *x, size_t n, const double *y, size_t m, double *rsum,
		    double *tiesum)
{
	size_t N = n + m;
	struct ranked *r = malloc(N * sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){ x[i], i };
	for (size_t j = 0; j < m; j++)
		r[n + j] = (struct ranked){ y[j], n + j };
	qsort(r, N, sizeof(*r), cmp_ranked);
	*rsum = 0;
	*tiesum = 0;
	for (size_t a = 0; a < N;) {
		size_t b = a + 1;

		while (b < N && r[b].v == r[a].v)
			b++;
		double t = (double)(b - a), mid = (double)(a + 1 + b) / 2.0;

		for (size_t k = a; k < b; k++)
			if (r[k].i < n)
				*rsum += mid;
		*tiesum += t * t * t - t;
		a = b;
	}
	free(r);
	return 0;
}

static double mwu_sigma(size_t n, size_t m, double tiesum)
{
	double N = (double)(n + m), nm = (double)n * (double)m;

	return sqrt(nm / 12.0 * ((N + 1) - tiesum / (N * (N - 1))));
}

static bool use_exact(size_t n, size_t m, double tiesum)
{
	return tiesum == 0 && n < STATS_EXACT_MAX && m < STATS_EXACT_MAX;
}

int stats_mwu(const double *x, size_t n, const double *y, size_t m, struct stats_mwu *out)
{
	double rsum, tiesum, nm = (double)n * (double)m;
	int rc;

	if (!n || !m)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i]))
			return -EINVAL;
	for (size_t j = 0; j < m; j++)
		if (isnan(y[j]))
			return -EINVAL;
	rc = rank_sum(x, n, y, m, &rsum, &tiesum);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->u = rsum - (double)n * (double)(n + 1) / 2.0;
	out->ties = tiesum > 0;
	if (use_exact(n, m, tiesum)) {
		double p;

		out->exact = true;
		if (out->u > nm / 2)
			p = 1.0 - stats_mwu_cdf(out->u - 1, n, m);
		else
			p = stats_mwu_cdf(out->u, n, m);
		if (isnan(p))
			return -ENOMEM;
		out->p = fmin(1.0, 2.0 * p);
		return 0;
	}
	double sigma = mwu_sigma(n, m, tiesum), z = out->u - nm / 2;

	if (!(sigma > 0)) {	/* every value equal: no evidence of any difference */
		out->p = 1;
		return 0;
	}
	z = (z - (z > 0 ? 0.5 : z < 0 ? -0.5 : 0)) / sigma;
	out->p = fmin(1.0, 2.0 * stats_norm_sf(fabs(z)));
	return 0;
}

/* Smallest q with P(U <= q) >= p under the exact null (R's qwilcox). */
static size_t exact_quantile(double p, size_t n, size_t m, double *cdf_below)
{
	double *c = mwu_counts(n, m), tot = 0, acc = 0;
	size_t nm = n * m, q = 0;

	if (!c)
		return (size_t)-1;
	for (size_t i = 0; i <= nm; i++)
		tot += c[i];
	*cdf_below = 0;
	for (q = 0; q <= nm; q++) {
		if ((acc + c[q]) / tot >= p)
			break;
		acc += c[q];
	}
	*cdf_below = acc / tot;	/* P(U <= q - 1) */
	free(c);
	return q;
}

int stats_hl_shift(const double *x, size_t n, const double *y, size_t m, double conf,
		   struct stats_shift *out)
{
	size_t nm = n * m, qu;
	double *d, rsum, tiesum, alpha = 1 - conf;
	int rc;

	if (!n || !m || !(conf > 0 && conf < 1))
		return -EINVAL;
	rc = rank_sum(x, n, y, m, &rsum, &tiesum);
	if (rc)
		return rc;
	d = malloc(nm * sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < m; j++)
			d[i * m + j] = y[j] - x[i];
	qsort(d, nm, sizeof(*d), cmp_double);
	out->est = nm % 2 ? d[nm / 2] : 0.5 * (d[nm / 2 - 1] + d[nm / 2]);

	if (use_exact(n, m, tiesum)) {
		double below;

		qu = exact_quantile(alpha / 2, n, m, &below);
		if (qu == (size_t)-1) {
			free(d);
			return -ENOMEM;
		}
		if (qu == 0)	/* too few values for the asked level: the widest interval */
			qu = 1;
		/* [D(k), D(nm-k+1)] misses the true shift with probability 2 P(U <= k-1) */
		out->level = 1 - 2 * stats_mwu_cdf((double)qu - 1, n, m);
	} else {
		double sigma = mwu_sigma(n, m, tiesum), z = stats_norm_isf(alpha / 2);
		double q = ceil((double)nm / 2 - 0.5 - z * sigma);

		qu = q < 1 ? 1 : (size_t)q;
		if (qu > (nm + 1) / 2)
			qu = (nm + 1) / 2;
		out->level =
			sigma > 0 ? 1 - 2 * (1 - stats_norm_sf(((double)qu - 0.5 - (double)nm / 2) /
							       sigma))
				  : 0;
	}
	if (qu > nm)
		qu = nm;
	out->lo = d[qu - 1];
	out->hi = d[nm - qu];
	if (out->lo > out->est)
		out->lo = out->est;
	if (out->hi < out->est)
		out->hi = out->est;
	free(d);
	return 0;
}

struct idx_p {
	double p;
	size_t i;
};

static int cmp_idx_p(const void *a, const void *b)
{
	const struct idx_p *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

static struct idx_p *sorted_p(const double *p, size_t k)
{
	struct idx_p *s = malloc((k ? k : 1) * sizeof(*s));

	if (!s)
		return NULL;
	for (size_t i = 0; i < k; i++)
		s[i] = (struct idx_p){ isnan(p[i]) ? 1.0 : p[i], i };
	qsort(s, k, sizeof(*s), cmp_idx_p);
	return s;
}

int stats_holm(const double *p, size_t k, double *adj)
{
	struct idx_p *s = sorted_p(p, k);
	double run = 0;

	if (!s)
		return -ENOMEM;
	for (size_t j = 0; j < k; j++) {
		double a = fmin(1.0, (double)(k - j) * s[j].p);

		run = fmax(run, a);	/* step-down: adjusted values never decrease */
		adj[s[j].i] = run;
	}
	free(s);
	return 0;
}

int stats_bh(const double *p, size_t k, double *adj)
{
	struct idx_p *s = sorted_p(p, k);
	double run = 1;

	if (!s)
		return -ENOMEM;
	for (size_t j = k; j-- > 0;) {
		double a = fmin(1.0, (double)k * s[j].p / (double)(j + 1));

		run = fmin(run, a);	/* step-up: the minimum over all larger ranks */
		adj[s[j].i] = run;
	}
	free(s);
	return 0;
}

double stats_median(const double *v, size_t n)
{
	double *c, r;

	if (!n)
		return NAN;
	c = malloc(n * sizeof(*c));
	if (!c)
		return NAN;
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	r = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
	free(c);
	return r;
}

double stats_geomean(const double *v, size_t n)
{
	double s = 0;

	if (!n)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] > 0))
			return NAN;
		s += log(v[i]);
	}
	return exp(s / (double)n);
}

double stats_mean(const double *v, size_t n)
{
	double s = 0;

	if (!n)
		return NAN;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s / (double)n;
}

double stats_cv(const double *v, size_t n)
{
	double mu = stats_mean(v, n), ss = 0;

	if (n < 2 || !(mu != 0))
		return NAN;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - mu) * (v[i] - mu);
	return sqrt(ss / (double)(n - 1)) / fabs(mu);
}
