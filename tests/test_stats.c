/*
 * Tests of common/stats: the U test against published values, the shift interval, the
 * p-value corrections on published examples, and the false-alarm rate and power of the
 * test on synthetic benchmark noise (fixed seeds).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "common/stats.h"
#include "tests/rng.h"

/*
 * R's ?wilcox.test example (Hollander & Wolfe 1973, p. 69): permeability constants,
 * x = at term, y = 12-26 weeks; wilcox.test(x, y, alternative = "g") gives W = 35,
 * p-value = 0.1272, so the two-sided exact p is 0.2544; with conf.int = TRUE the
 * "difference in location" (Hodges-Lehmann) is 0.305.
 */
Test(stats, u_test_matches_r_wilcox_test_documented_example)
{
	double x[] = { 0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46 };
	double y[] = { 1.15, 0.88, 0.90, 0.74, 1.21 };
	struct stats_mwu u;
	struct stats_shift s;

	cr_assert_eq(stats_mwu(x, 10, y, 5, &u), 0);
	cr_assert(u.exact);
	cr_assert_float_eq(u.u, 35, 1e-12);
	cr_assert_float_eq(u.p, 2 * 0.1272, 1e-4, "p = %.6f", u.p);
	/* our shift is y - x, R's estimate is x - y */
	cr_assert_eq(stats_hl_shift(y, 5, x, 10, 0.95, &s), 0);
	cr_assert_float_eq(s.est, 0.305, 1e-9, "HL = %g", s.est);
	cr_assert(s.lo <= s.est && s.est <= s.hi);
	cr_assert_geq(s.level, 0.95);
}

/*
 * The null distribution for n = m = 5: the number of the C(10,5) = 252 arrangements with
 * U = 0..13 is 1 1 2 3 5 7 9 11 14 16 18 19 20 20 (symmetric around 12.5), the table in
 * Mann & Whitney (1947).
 */
Test(stats, exact_distribution_for_five_and_five_matches_the_table)
{
	static const int counts[] = { 1, 1, 2, 3, 5, 7, 9, 11, 14, 16, 18, 19, 20, 20 };
	int acc = 0;

	for (int u = 0; u < 14; u++) {
		acc += counts[u];
		cr_assert_float_eq(stats_mwu_cdf(u, 5, 5), acc / 252.0, 1e-12, "u = %d", u);
	}
	cr_assert_float_eq(stats_mwu_cdf(24, 5, 5), 1 - 1 / 252.0, 1e-12);
	cr_assert_float_eq(stats_mwu_cdf(25, 5, 5), 1, 0);
	cr_assert_float_eq(stats_mwu_cdf(-1, 5, 5), 0, 0);
}

/*
 * Published critical values of U for a two-sided test at 0.05 (the largest U that is
 * significant), e.g. Zar, Biostatistical Analysis, table B.11; n = m = 20 gives 127.
 */
struct crit { size_t n, m; int u; };

ParameterizedTestParameters(stats, critical_values_match_published_table)
{
	static struct crit c[] = {
		{ 4, 4, 0 }, { 5, 5, 2 }, { 6, 6, 5 }, { 7, 7, 8 }, { 8, 8, 13 }, { 9, 9, 17 },
		{ 10, 10, 23 }, { 20, 20, 127 }, { 4, 6, 2 }, { 5, 10, 8 },
	};
	return cr_make_param_array(struct crit, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct crit *c, stats, critical_values_match_published_table)
{
	cr_assert_leq(2 * stats_mwu_cdf(c->u, c->n, c->m), 0.05, "n=%zu m=%zu", c->n, c->m);
	cr_assert_gt(2 * stats_mwu_cdf(c->u + 1, c->n, c->m), 0.05, "n=%zu m=%zu", c->n, c->m);
}

Test(stats, five_and_five_separated_samples_give_the_table_p_values)
{
	/* U = 0: 2 * 1/252; U = 2: 2 * 4/252 = 0.0317 (significant); U = 3: 0.0556 (not) */
	double x[] = { 1, 2, 3, 4, 5 }, y0[] = { 6, 7, 8, 9, 10 };
	double y2[] = { 3.5, 6, 7, 8, 9 }, y3[] = { 2.5, 6, 7, 8, 9 };
	struct stats_mwu u;

	cr_assert_eq(stats_mwu(x, 5, y0, 5, &u), 0);
	cr_assert_float_eq(u.u, 0, 0);
	cr_assert_float_eq(u.p, 2.0 / 252, 1e-12);
	cr_assert_eq(stats_mwu(x, 5, y2, 5, &u), 0);	/* 4 and 5 above 3.5: U = 2 */
	cr_assert_float_eq(u.u, 2, 0);
	cr_assert_float_eq(u.p, 2 * 4.0 / 252, 1e-12, "U=%g p=%g", u.u, u.p);
	cr_assert_eq(stats_mwu(y3, 5, x, 5, &u), 0);	/* mirrored: U = 25 - 3 */
	cr_assert_float_eq(u.u, 22, 0);
	cr_assert_float_eq(u.p, 2 * 7.0 / 252, 1e-12, "U=%g p=%g", u.u, u.p);
}

Test(stats, three_a_side_can_never_reach_five_percent)
{
	cr_assert_float_eq(stats_mwu_min_p(3, 3), 0.1, 1e-12);
	cr_assert_float_eq(stats_mwu_min_p(4, 4), 2.0 / 70, 1e-12);
	cr_assert_float_eq(stats_mwu_min_p(10, 10), 2.0 / 184756, 1e-15);
	cr_assert_float_eq(stats_mwu_min_p(0, 5), 1, 0);
}

/*
 * Ties: x = 1 2 2 3 4, y = 2 3 4 5 5 6. Mid-ranks give R1 = 20, U = 5; tie groups of size
 * 3, 2, 2, 2 give sum(t^3 - t) = 24 + 6 + 6 + 6 = 42; sigma = sqrt(30/12 * (12 - 42/110)) =
 * 5.38938; z = (5 - 15 + 0.5) / sigma = -1.76272; p = 2 * Phi(z) = 0.077947 (what R's
 * wilcox.test(x, y, exact = FALSE, correct = TRUE) computes).
 */
Test(stats, ties_use_the_normal_approximation_with_both_corrections)
{
	double x[] = { 1, 2, 2, 3, 4 }, y[] = { 2, 3, 4, 5, 5, 6 };
	struct stats_mwu u;

	cr_assert_eq(stats_mwu(x, 5, y, 6, &u), 0);
	cr_assert(!u.exact);
	cr_assert(u.ties);
	cr_assert_float_eq(u.u, 5, 1e-12);
	cr_assert_float_eq(u.p, 0.0779469, 1e-6, "p = %.7f", u.p);
}

Test(stats, all_equal_values_give_p_one_and_a_zero_shift)
{
	double x[] = { 7, 7, 7, 7 }, y[] = { 7, 7, 7 };
	struct stats_mwu u;
	struct stats_shift s;

	cr_assert_eq(stats_mwu(x, 4, y, 3, &u), 0);
	cr_assert_float_eq(u.p, 1, 0);
	cr_assert_eq(stats_hl_shift(x, 4, y, 3, 0.95, &s), 0);
	cr_assert_float_eq(s.est, 0, 0);
	cr_assert_float_eq(s.lo, 0, 0);
	cr_assert_float_eq(s.hi, 0, 0);
}

Test(stats, bad_arguments_are_rejected)
{
	double x[] = { 1, NAN }, y[] = { 2 };
	struct stats_mwu u;
	struct stats_shift s;

	cr_assert_eq(stats_mwu(x, 0, y, 1, &u), -EINVAL);
	cr_assert_eq(stats_mwu(x, 2, y, 1, &u), -EINVAL);
	cr_assert_eq(stats_hl_shift(x, 1, y, 1, 1.5, &s), -EINVAL);
	cr_assert(isnan(stats_mwu_cdf(3, 0, 4)));
	cr_assert(isnan(stats_median(x, 0)));
	cr_assert(isnan(stats_geomean((double[]){ 1, -1 }, 2)));
}

Test(stats, exact_and_normal_agree_for_large_samples)
{
	double x[40], y[40];
	struct stats_mwu ex;

	for (int i = 0; i < 40; i++) {	/* U = #(x > y) = sum over x_i of (i - 10) = 435 */
		x[i] = i;
		y[i] = i + 10.5;
	}
	cr_assert_eq(stats_mwu(x, 40, y, 40, &ex), 0);
	cr_assert(ex.exact);
	/* the normal approximation by hand: U, sigma without ties, continuity 0.5 */
	double sigma = sqrt(40.0 * 40 / 12 * 81), z = ex.u - 800;
	double p = 2 * stats_norm_sf((fabs(z) - 0.5) / sigma);
	cr_assert_float_eq(ex.p, p, 0.002, "exact %g normal %g", ex.p, p);
	cr_assert_float_eq(ex.u, 435, 0);
	cr_assert_lt(ex.p, 0.01, "p = %g", ex.p);
}

Test(stats, normal_quantiles_round_trip)
{
	cr_assert_float_eq(stats_norm_isf(0.025), 1.959963985, 1e-8);
	cr_assert_float_eq(stats_norm_sf(1.959963985), 0.025, 1e-9);
	cr_assert_float_eq(stats_norm_isf(0.5), 0, 1e-12);
}

/*
 * Benjamini & Hochberg (1995), section 4.1: 15 p-values from a clinical trial. At 0.05 BH
 * rejects the four smallest; Bonferroni (0.05/15) rejects three, and so does Holm, whose
 * fourth step compares 0.0095 with 0.05/12 = 0.0042.
 */
Test(stats, holm_and_bh_reproduce_the_benjamini_hochberg_example)
{
	double p[] = { 0.0201, 0.0001, 0.0004, 0.0019, 0.0095, 0.0278, 0.0298, 0.0344,
		       0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000 };
	double h[15], b[15];
	int nh = 0, nb = 0;

	cr_assert_eq(stats_holm(p, 15, h), 0);
	cr_assert_eq(stats_bh(p, 15, b), 0);
	for (int i = 0; i < 15; i++) {
		nh += h[i] < 0.05;
		nb += b[i] < 0.05;
		cr_assert_geq(h[i], p[i]);
		cr_assert_geq(b[i], p[i]);
		cr_assert_leq(b[i], h[i] + 1e-15, "BH is never stricter than Holm");
	}
	cr_assert_eq(nh, 3);
	cr_assert_eq(nb, 4);
	cr_assert_float_eq(h[1], 15 * 0.0001, 1e-12);	/* smallest: times k */
	cr_assert_float_eq(h[4], 0.0095 * 12, 1e-12);	/* 0.114: the fourth step fails */
	cr_assert_float_eq(b[4], 0.0095 * 15 / 4, 1e-12);	/* 0.0356 */
	cr_assert_float_eq(b[14], 1, 0);
}

Test(stats, holm_and_bh_on_a_small_list_by_hand)
{
	double p[] = { 0.01, 0.04, 0.03, 0.005 }, a[4];
	/* sorted 0.005 0.01 0.03 0.04; Holm x4 x3 x2 x1 then running max */
	double holm[] = { 0.03, 0.06, 0.06, 0.02 };
	/* BH x4/1 x4/2 x4/3 x4/4 then running min from the top */
	double bh[] = { 0.02, 0.04, 0.04, 0.02 };

	cr_assert_eq(stats_holm(p, 4, a), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_float_eq(a[i], holm[i], 1e-12, "holm[%d] = %g", i, a[i]);
	cr_assert_eq(stats_bh(p, 4, a), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_float_eq(a[i], bh[i], 1e-12, "bh[%d] = %g", i, a[i]);
	cr_assert_eq(stats_holm(p, 0, a), 0);
}

Test(stats, geomean_median_and_cv)
{
	double v[] = { 1, 4, 16 }, w[] = { 3, 1, 2, 4 };

	cr_assert_float_eq(stats_geomean(v, 3), 4, 1e-12);
	cr_assert_float_eq(stats_median(v, 3), 4, 0);
	cr_assert_float_eq(stats_median(w, 4), 2.5, 0);
	cr_assert_float_eq(stats_cv(w, 4), sqrt(5.0 / 3) / 2.5, 1e-12);
}

/*
 * The Moses interval covers the true shift at least as often as asked: 1000 trials of 8 vs
 * 12 lognormal values with a known 7% shift, 95% intervals on log values.
 */
Test(stats, shift_interval_covers_the_true_ratio_at_its_level)
{
	struct rng r = { 7 };
	int cover = 0, trials = 1000;

	for (int t = 0; t < trials; t++) {
		double x[8], y[12];
		struct stats_shift s;

		for (int i = 0; i < 8; i++)
			x[i] = log(rng_lognormal(&r, 1000, 0.05));
		for (int j = 0; j < 12; j++)
			y[j] = log(rng_lognormal(&r, 1070, 0.05));
		cr_assert_eq(stats_hl_shift(x, 8, y, 12, 0.95, &s), 0);
		cr_assert_geq(s.level, 0.95);
		cover += s.lo <= log(1.07) && log(1.07) <= s.hi;
	}
	/* binomial: 0.95 - 3 sigma = 0.95 - 0.0207 */
	cr_assert_geq(cover, 929, "coverage %d/1000", cover);
}

/*
 * A/A: both sides from the same benchmark-like distribution (lognormal, CV 3-5%, 5%
 * outliers up to 2x). Over 2000 trials the U test rejects at most alpha of the time, plus
 * a 3-sigma binomial margin (0.05 + 3 * sqrt(0.05 * 0.95 / 2000) = 0.0646).
 */
Test(stats, a_a_false_alarm_rate_is_at_most_alpha)
{
	struct rng r = { 2026 };
	int trials = 2000, alarms = 0;
	double cvs[] = { 0.03, 0.04, 0.05 };

	for (int t = 0; t < trials; t++) {
		double x[10], y[10], cv = cvs[t % 3];
		struct stats_mwu u;

		for (int i = 0; i < 10; i++) {
			x[i] = rng_bench(&r, 1e6, cv, 0.05);
			y[i] = rng_bench(&r, 1e6, cv, 0.05);
		}
		cr_assert_eq(stats_mwu(x, 10, y, 10, &u), 0);
		alarms += u.p < 0.05;
	}
	cr_assert_leq(alarms, 129, "false alarms %d/2000", alarms);
	cr_assert_geq(alarms, 40, "a test that never fires is no test: %d/2000", alarms);
}

/* A 10% slowdown with 10 repetitions a side and 4% noise: the U test finds it >= 95%. */
Test(stats, ten_percent_shift_with_ten_repetitions_is_detected)
{
	struct rng r = { 99 };
	int trials = 1000, hits = 0;

	for (int t = 0; t < trials; t++) {
		double x[10], y[10];
		struct stats_mwu u;

		for (int i = 0; i < 10; i++) {
			x[i] = rng_bench(&r, 1e6, 0.04, 0.05);
			y[i] = rng_bench(&r, 1.1e6, 0.04, 0.05);
		}
		cr_assert_eq(stats_mwu(x, 10, y, 10, &u), 0);
		hits += u.p < 0.05;
	}
	cr_assert_geq(hits, 950, "detected %d/1000", hits);
}
