/*
 * compare — turns two sets of benchmark samples (base and new, see benchfile.h) into a
 * verdict per metric and an overall one, and renders it as a table, Markdown or JSON.
 *
 * Per metric: the change is the Hodges-Lehmann ratio new/base (on log values, so it is a
 * ratio of typical values) with the distribution-free Moses interval at 1 - 2 alpha (90% at
 * the default alpha): each end is a one-sided 1 - alpha bound, which is what the one-sided
 * question "is it worse than the threshold?" needs (a 95% two-sided interval would test at
 * alpha / 2 and lose much power for nothing; see docs/compare.md for measured power); the
 * p-value is the two-sided Mann-Whitney U test; the p-values of all compared metrics are
 * adjusted together (Holm by default: a CI gate fails a build on *any* false regression, so
 * the family-wise error rate is the quantity to bound; Holm bounds it under any dependence
 * between metrics, which are strongly correlated here, e.g. p50 and p99).
 *
 * A metric is
 *   regressed    adjusted p < alpha and the whole interval beyond the threshold, bad side;
 *   improved     adjusted p < alpha and the whole interval beyond the threshold, good side;
 *   unchanged    the whole interval within +-threshold (significant or not);
 *   inconclusive otherwise: too few samples, or the interval reaches past the threshold
 *                without a significant change to show for it.
 * When a value is <= 0 on either side, logs are impossible: the shift is computed on raw
 * values and expressed relative to the base median (or as an absolute change if that is 0).
 *
 * A result owns its rows; it points into the two sets, which must outlive it.
 */
#ifndef RECONPERF_COMPARE_H
#define RECONPERF_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/benchfile.h"
#include "common/cmpconf.h"

enum cmp_verdict { CMP_UNCHANGED, CMP_IMPROVED, CMP_REGRESSED, CMP_INCONCLUSIVE };

struct cmp_opts {
	double threshold;		/* fraction, default 0.05 */
	double alpha;			/* default 0.05 */
	enum cmp_correction correction;
	const struct cmpconf *conf;	/* per-metric rules, or NULL */
	char *const *globs;		/* --metric: compare only matching metrics (NULL: all) */
	size_t nglobs;
};

struct cmp_row {
	const char *name;
	const char *unit;
	enum bf_dir dir;
	double threshold;
	const double *bv, *nv;
	size_t n, m;			/* samples base, new */
	double base_med, new_med;
	double base_cv, new_cv;		/* NAN with one sample */
	bool relative;			/* ratio and interval are defined */
	double ratio, lo, hi;		/* new/base and its interval */
	double delta, dlo, dhi;		/* additive change (when !relative) */
	double level; /* achieved two-sided level of the interval (>= 1 - 2 alpha) */
	double p, p_adj;
	bool exact;
	double min_p;			/* the smallest p the test could give at n, m */
	enum cmp_verdict verdict;
	const char *why;		/* one phrase behind the verdict */
};

struct cmp_result {
	struct cmp_row *rows;
	size_t n;
	double threshold, alpha;
	enum cmp_correction correction;
	double geomean; /* of the cost ratios (higher-is-better inverted); NAN if none */
	size_t ngeo;
	size_t count[4];		/* rows per verdict */
	enum cmp_verdict overall;
	char **warnings;
	size_t nwarn;
};

/*
 * Compares. Bad input (scenarios or metrics on only one side, no metric selected) returns
 * -EINVAL with a message in err naming what is missing on which side.
 */
int cmp_run(const struct bf_set *base, const struct bf_set *new, const struct cmp_opts *o,
	    struct cmp_result *out, char *err, size_t errlen);
void cmp_result_fini(struct cmp_result *r);

const char *cmp_verdict_name(enum cmp_verdict v);
const char *cmp_correction_name(enum cmp_correction c);

/* Renderers; return 0 or -EIO (a write error on fp). */
int cmp_render_table(const struct cmp_result *r, FILE *fp);
int cmp_render_md(const struct cmp_result *r, FILE *fp);
int cmp_render_json(const struct cmp_result *r, FILE *fp);

#endif
