/* compare — verdicts from two sets of samples. See compare.h. */
#include "common/compare.h"
#include "common/stats.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cmp_verdict_name(enum cmp_verdict v)
{
	static const char *const n[] = { "unchanged", "improved", "regressed", "inconclusive" };

	return v <= CMP_INCONCLUSIVE ? n[v] : "?";
}

const char *cmp_correction_name(enum cmp_correction c)
{
	return c == CMP_CORR_HOLM ? "holm" : c == CMP_CORR_BH ? "bh" : "none";
}

void cmp_result_fini(struct cmp_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwarn; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

__attribute__((format(printf, 2, 3)))
static int warn(struct cmp_result *r, const char *fmt, ...)
{
	char **nw = realloc(r->warnings, (r->nwarn + 1) * sizeof(*nw));
	va_list ap;
	int rc;

	if (!nw)
		return -ENOMEM;
	r->warnings = nw;
	va_start(ap, fmt);
	rc = vasprintf(&r->warnings[r->nwarn], fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	r->nwarn++;
	return 0;
}

static bool selected(const struct cmp_opts *o, const char *name)
{
	bool any = o->nglobs == 0;

	for (size_t i = 0; i < o->nglobs && !any; i++)
		any = !fnmatch(o->globs[i], name, 0);
	return any && !(o->conf && cmpconf_ignored(o->conf, name));
}

/* Appends "a, b, c" (at most 8 names, then "and N more") to buf. */
static void list_names(char *buf, size_t len, const char *const *names, size_t n)
{
	size_t off = strlen(buf);

	for (size_t i = 0; i < n && off < len; i++) {
		int w = i < 8 ? snprintf(buf + off, len - off, "%s'%s'", i ? ", " : "", names[i])
			      : snprintf(buf + off, len - off, " and %zu more", n - 8);
		if (w < 0)
			return;
		off += (size_t)w;
		if (i >= 8)
			break;
	}
}

static bool group_selected(const struct bf_set *s, const struct cmp_opts *o, const char *g)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].group, g) && selected(o, s->m[i].name))
			return true;
	return false;
}

/* Groups (scenarios, benchmarks) with selected metrics in a but none in b. */
static size_t only_in(const struct bf_set *a, const struct bf_set *b, const struct cmp_opts *o,
		      const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < a->ngroups; i++)
		if (group_selected(a, o, a->groups[i]) && !group_selected(b, o, a->groups[i]))
			out[n++] = a->groups[i];
	return n;
}

static size_t metrics_only_in(const struct bf_set *a, const struct bf_set *b,
			      const struct cmp_opts *o, const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		if (selected(o, a->m[i].name) && !bf_find(b, a->m[i].name))
			out[n++] = a->m[i].name;
	return n;
}

static int check_sides(const struct bf_set *base, const struct bf_set *new,
		       const struct cmp_opts *o, char *err, size_t errlen)
{
	size_t cap = base->n + new->n + base->ngroups + new->ngroups + 1, nb, nn;
	const char **names = malloc(cap * sizeof(*names));
	const char *what =
		(base->kinds | new->kinds) & BF_KIND_RECONPERF ? "scenario" : "benchmark";
	int rc = -EINVAL;

	if (!names)
		return -ENOMEM;
	err[0] = '\0';
	nb = only_in(base, new, o, names);
	nn = only_in(new, base, o, names + nb);
	if (nb || nn) {
		snprintf(err, errlen, "the two sides ran different %ss:", what);
		if (nb) {
			snprintf(err + strlen(err), errlen - strlen(err), " only in base: ");
			list_names(err, errlen, names, nb);
			if (nn)
				snprintf(err + strlen(err), errlen - strlen(err), ";");
		}
		if (nn) {
			snprintf(err + strlen(err), errlen - strlen(err), " only in new: ");
			list_names(err, errlen, names + nb, nn);
		}
		goto out;
	}
	nb = metrics_only_in(base, new, o, names);
	nn = metrics_only_in(new, base, o, names + nb);
	if (nb || nn) {
		snprintf(err, errlen, "a metric is missing on one side (use --metric or an "
			 "'ignore' rule to leave it out):");
		if (nb) {
			snprintf(err + strlen(err), errlen - strlen(err), " only in base: ");
			list_names(err, errlen, names, nb);
			if (nn)
				snprintf(err + strlen(err), errlen - strlen(err), ";");
		}
		if (nn) {
			snprintf(err + strlen(err), errlen - strlen(err), " only in new: ");
			list_names(err, errlen, names + nb, nn);
		}
		goto out;
	}
	rc = 0;
out:
	free(names);
	return rc;
}

static void shift_row(struct cmp_row *row, double alpha)
{
	size_t n = row->n, m = row->m;
	bool positive = true;
	struct stats_shift sh;
	double *lb, *ln;

	for (size_t i = 0; i < n; i++)
		positive = positive && row->bv[i] > 0;
	for (size_t j = 0; j < m; j++)
		positive = positive && row->nv[j] > 0;
	lb = malloc(n * sizeof(*lb));
	ln = malloc(m * sizeof(*ln));
	row->ratio = row->lo = row->hi = NAN;
	row->delta = row->dlo = row->dhi = NAN;
	if (!lb || !ln)
		goto out;
	if (positive) {
		for (size_t i = 0; i < n; i++)
			lb[i] = log(row->bv[i]);
		for (size_t j = 0; j < m; j++)
			ln[j] = log(row->nv[j]);
		if (stats_hl_shift(lb, n, ln, m, 1 - alpha, &sh))
			goto out;
		row->relative = true;
		row->ratio = exp(sh.est);
		row->lo = exp(sh.lo);
		row->hi = exp(sh.hi);
	} else {
		if (stats_hl_shift(row->bv, n, row->nv, m, 1 - alpha, &sh))
			goto out;
		row->delta = sh.est;
		row->dlo = sh.lo;
		row->dhi = sh.hi;
		if (row->base_med > 0) {
			row->relative = true;
			row->ratio = 1 + sh.est / row->base_med;
			row->lo = 1 + sh.lo / row->base_med;
			row->hi = 1 + sh.hi / row->base_med;
		}
	}
	row->level = sh.level;
out:
	free(lb);
	free(ln);
}

static void fill_row(struct cmp_row *row, const struct bf_metric *b, const struct bf_metric *nw,
		     const struct cmp_opts *o)
{
	struct stats_mwu u;
	int hb;

	memset(row, 0, sizeof(*row));
	row->name = b->name;
	row->unit = b->unit;
	row->dir = b->dir;
	if (o->conf && cmpconf_direction(o->conf, b->name, &hb))
		row->dir = hb ? BF_HIGHER_BETTER : BF_LOWER_BETTER;
	row->threshold = o->threshold;
	if (o->conf)
		cmpconf_threshold(o->conf, b->name, &row->threshold);
	row->bv = b->v;
	row->nv = nw->v;
	row->n = b->n;
	row->m = nw->n;
	row->base_med = stats_median(b->v, b->n);
	row->new_med = stats_median(nw->v, nw->n);
	row->base_cv = stats_cv(b->v, b->n);
	row->new_cv = stats_cv(nw->v, nw->n);
	row->min_p = stats_mwu_min_p(row->n, row->m);
	row->p = row->p_adj = NAN;
	if (!stats_mwu(b->v, b->n, nw->v, nw->n, &u)) {
		row->p = u.p;
		row->exact = u.exact;
	}
	shift_row(row, 2 * o->alpha);	/* one-sided 1 - alpha bounds: see compare.h */
}

static bool testable(const struct cmp_row *r)
{
	return r->n >= 2 && r->m >= 2 && !isnan(r->p);
}

static void decide(struct cmp_row *r, double alpha, double alpha_first)
{
	double t = r->threshold;
	bool lower = r->dir == BF_LOWER_BETTER, sig, bad, good, within;

	if (!testable(r)) {
		r->verdict = CMP_INCONCLUSIVE;
		r->why = "too few samples (need 2 a side)";
		return;
	}
	if (r->relative) {
		bad = lower ? r->lo > 1 + t : r->hi < 1 - t;
		good = lower ? r->hi < 1 - t : r->lo > 1 + t;
		within = r->lo >= 1 - t && r->hi <= 1 + t;
	} else {	/* base median 0: any sure change is past every threshold */
		bad = lower ? r->dlo > 0 : r->dhi < 0;
		good = lower ? r->dhi < 0 : r->dlo > 0;
		within = r->dlo == 0 && r->dhi == 0;
	}
	sig = r->p_adj < alpha;
	if (sig && bad) {
		r->verdict = CMP_REGRESSED;
		r->why = "significant; whole interval past the threshold";
	} else if (sig && good) {
		r->verdict = CMP_IMPROVED;
		r->why = "significant; whole interval past the threshold";
	} else if (within) {
		r->verdict = CMP_UNCHANGED;
		r->why = sig ? "significant but within the threshold"
			     : "interval within the threshold";
	} else {
		r->verdict = CMP_INCONCLUSIVE;
		r->why = r->min_p > alpha_first ? "too few samples to reach significance" :
			 sig ? "significant; interval crosses the threshold" :
			 "not significant; interval crosses the threshold";
	}
}

static int adjust(struct cmp_result *res, enum cmp_correction corr)
{
	size_t k = 0, j = 0;
	double *p = malloc((res->n + 1) * sizeof(*p));
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < res->n; i++)
		if (testable(&res->rows[i]))
			p[k++] = res->rows[i].p;
	if (corr == CMP_CORR_HOLM)
		rc = stats_holm(p, k, p);
	else if (corr == CMP_CORR_BH)
		rc = stats_bh(p, k, p);
	for (size_t i = 0; i < res->n && !rc; i++)
		if (testable(&res->rows[i]))
			res->rows[i].p_adj = p[j++];
	free(p);
	return rc;
}

/* Smallest r with 2 / C(2r, r) <= a: repetitions a side that can reach significance. */
static unsigned reps_needed(double a)
{
	unsigned r = 1;

	while (r < 1000 && stats_mwu_min_p(r, r) > a)
		r++;
	return r;
}

static int sample_warnings(struct cmp_result *res, double alpha_first, size_t k)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct cmp_row *r = &res->rows[i];
		bool first = true;

		if (r->min_p <= alpha_first && r->n >= 2 && r->m >= 2)
			continue;
		for (size_t j = 0; j < i && first; j++)	/* one warning per (n, m) */
			if (res->rows[j].n == r->n && res->rows[j].m == r->m)
				first = false;
		if (!first)
			continue;
		if (r->n < 2 || r->m < 2) {
			if (warn(res,
				 "%s has %zu base and %zu new samples: at least 2 a side are "
				 "needed to compare at all; run with --repeat",
				 r->name, r->n, r->m))
				return -ENOMEM;
			continue;
		}
		if (warn(res, "with %zu base and %zu new samples no change can be significant: the "
			 "smallest possible p-value is %.3g, above the %.3g needed (alpha %g%s%zu "
			 "metrics); run %u or more repetitions a side", r->n, r->m, r->min_p,
			 alpha_first, res->alpha, res->correction == CMP_CORR_NONE ? ", " :
			 " corrected over ", k, reps_needed(alpha_first)))
			return -ENOMEM;
	}
	return 0;
}

static void summarize(struct cmp_result *res)
{
	double s = 0;

	res->ngeo = 0;
	for (size_t i = 0; i < res->n; i++) {
		const struct cmp_row *r = &res->rows[i];

		res->count[r->verdict]++;
		if (r->relative && r->ratio > 0 && isfinite(r->ratio)) {
			s += r->dir == BF_LOWER_BETTER ? log(r->ratio) : -log(r->ratio);
			res->ngeo++;
		}
	}
	res->geomean = res->ngeo ? exp(s / (double)res->ngeo) : NAN;
	res->overall = res->count[CMP_REGRESSED] ? CMP_REGRESSED :
		       res->count[CMP_IMPROVED] ? CMP_IMPROVED :
		       res->count[CMP_INCONCLUSIVE] ? CMP_INCONCLUSIVE : CMP_UNCHANGED;
}

int cmp_run(const struct bf_set *base, const struct bf_set *new, const struct cmp_opts *o,
	    struct cmp_result *out, char *err, size_t errlen)
{
	size_t k = 0;
	double alpha_first;
	int rc;

	memset(out, 0, sizeof(*out));
	out->threshold = o->threshold;
	out->alpha = o->alpha;
	out->correction = o->correction;
	rc = check_sides(base, new, o, err, errlen);
	if (rc)
		return rc;
	out->rows = calloc(base->n + 1, sizeof(*out->rows));
	if (!out->rows)
		return -ENOMEM;
	/* group by group (scenario order of the base), metrics in the order they were read */
	for (size_t g = 0; g < base->ngroups; g++) {
		for (size_t i = 0; i < base->n; i++) {
			const struct bf_metric *b = &base->m[i];

			if (!strcmp(b->group, base->groups[g]) && selected(o, b->name))
				fill_row(&out->rows[out->n++], b, bf_find(new, b->name), o);
		}
	}
	if (!out->n) {
		snprintf(err, errlen, "no metric to compare%s", o->nglobs ?
			 " (no metric matches the --metric patterns)" : "");
		cmp_result_fini(out);
		return -EINVAL;
	}
	rc = adjust(out, o->correction);
	for (size_t i = 0; i < out->n; i++)
		k += testable(&out->rows[i]);
	/* The bar the smallest p-value must pass: Holm and BH both start at alpha / k. */
	alpha_first = o->correction == CMP_CORR_NONE || !k ? o->alpha : o->alpha / (double)k;
	for (size_t i = 0; i < out->n && !rc; i++)
		decide(&out->rows[i], o->alpha, alpha_first);
	if (!rc)
		rc = sample_warnings(out, alpha_first, k);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		cmp_result_fini(out);
		return rc;
	}
	summarize(out);
	return 0;
}
