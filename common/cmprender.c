/*
 * cmprender — the three renderings of a compare result (see compare.h): an aligned table
 * for people, GitHub-flavoured Markdown for a PR comment or step summary, JSON for tools.
 */
#include "common/compare.h"
#include "common/units.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* 4 significant digits with an SI prefix from 10^4 up: 50.45k, 1.2M. */
static const char *fmt_si(double v, char *buf, int len)
{
	static const char pre[] = " kMGTPE";
	int e = 0;

	while (fabs(v) >= 1e4 && e < 6) {
		v /= 1000;
		e++;
	}
	if (e)
		snprintf(buf, (size_t)len, "%.4g%c", v, pre[e]);
	else
		snprintf(buf, (size_t)len, "%.4g", v);
	return buf;
}

static const char *fmt_value(double v, const char *unit, char *buf, int len)
{
	char n[32];

	if (isnan(v))
		snprintf(buf, (size_t)len, "-");
	else if (!strcmp(unit, "ns"))
		units_fmt_ns(v, buf, len);
	else if (!strcmp(unit, "1/s"))
		snprintf(buf, (size_t)len, "%s/s", fmt_si(v, n, sizeof(n)));
	else if (!unit[0])
		snprintf(buf, (size_t)len, "%s", fmt_si(v, n, sizeof(n)));
	else
		snprintf(buf, (size_t)len, "%s %s", fmt_si(v, n, sizeof(n)), unit);
	return buf;
}

static const char *fmt_side(double med, double cv, size_t n, const char *unit, char *buf,
			    int len)
{
	char v[48];

	fmt_value(med, unit, v, sizeof(v));
	if (isnan(cv))
		snprintf(buf, (size_t)len, "%s (n=%zu)", v, n);
	else
		snprintf(buf, (size_t)len, "%s ±%.0f%% (n=%zu)", v, cv * 100, n);
	return buf;
}

static const char *fmt_pct(double ratio, char *buf, int len)
{
	double pct = (ratio - 1) * 100;

	if (isnan(ratio))
		snprintf(buf, (size_t)len, "-");
	else
		snprintf(buf, (size_t)len, fabs(pct) < 10 ? "%+.1f%%" : "%+.0f%%", pct);
	return buf;
}

static const char *fmt_delta(double d, const char *unit, char *buf, int len)
{
	char v[40];

	fmt_value(fabs(d), unit, v, sizeof(v));
	snprintf(buf, (size_t)len, "%s%s", d < 0 ? "-" : "+", v);
	return buf;
}

/* chg holds 64 bytes, ci 160 */
static void fmt_change(const struct cmp_row *r, char *chg, char *ci)
{
	char a[64], b[64];
	const int len = 64;

	if (r->relative) {
		fmt_pct(r->ratio, chg, len);
		snprintf(ci, 160, "[%s, %s]", fmt_pct(r->lo, a, sizeof(a)),
			 fmt_pct(r->hi, b, sizeof(b)));
	} else if (!isnan(r->delta)) {
		fmt_delta(r->delta, r->unit, chg, len);
		snprintf(ci, 160, "[%s, %s]", fmt_delta(r->dlo, r->unit, a, sizeof(a)),
			 fmt_delta(r->dhi, r->unit, b, sizeof(b)));
	} else {
		snprintf(chg, (size_t)len, "-");
		snprintf(ci, 160, "-");
	}
}

static const char *fmt_p(double p, char *buf, int len)
{
	if (isnan(p))
		snprintf(buf, (size_t)len, "-");
	else if (p < 0.0001)
		snprintf(buf, (size_t)len, "<0.0001");
	else
		snprintf(buf, (size_t)len, "%.4f", p);
	return buf;
}

static void summary_line(const struct cmp_result *r, char *buf, size_t len)
{
	snprintf(buf, len, "%zu regressed, %zu improved, %zu unchanged, %zu inconclusive",
		 r->count[CMP_REGRESSED], r->count[CMP_IMPROVED], r->count[CMP_UNCHANGED],
		 r->count[CMP_INCONCLUSIVE]);
}

static const char *corr_text(enum cmp_correction c)
{
	return c == CMP_CORR_HOLM ? "Holm-corrected" : c == CMP_CORR_BH ?
	       "Benjamini-Hochberg-corrected" : "uncorrected";
}

static int finish(FILE *fp)
{
	return fflush(fp) || ferror(fp) ? -EIO : 0;
}

int cmp_render_table(const struct cmp_result *r, FILE *fp)
{
	int wn = 6, wb = 4, wv = 3, wc = 6, wi = 8;
	char b[96], v[96], c[64], ci[160], p[24], sum[160];
	int ci_pct = (int)lround((1 - 2 * r->alpha) * 100);

	for (size_t i = 0; i < r->n; i++) {
		const struct cmp_row *x = &r->rows[i];
		int l = (int)strlen(x->name);

		wn = l > wn ? l : wn;
		l = (int)strlen(fmt_side(x->base_med, x->base_cv, x->n, x->unit, b, sizeof(b)));
		wb = l > wb ? l : wb;
		l = (int)strlen(fmt_side(x->new_med, x->new_cv, x->m, x->unit, v, sizeof(v)));
		wv = l > wv ? l : wv;
		fmt_change(x, c, ci);
		wc = (int)strlen(c) > wc ? (int)strlen(c) : wc;
		wi = (int)strlen(ci) > wi ? (int)strlen(ci) : wi;
	}
	/* "±" is two bytes but one column: pad by bytes plus one where it appears */
	fprintf(fp, "%-*s  %-*s  %-*s  %*s  %-*s  %8s  %s\n", wn, "metric", wb - 1, "base",
		wv - 1, "new", wc, "change", wi, "interval", "p (adj)", "verdict");
	for (size_t i = 0; i < r->n; i++) {
		const struct cmp_row *x = &r->rows[i];

		fmt_side(x->base_med, x->base_cv, x->n, x->unit, b, sizeof(b));
		fmt_side(x->new_med, x->new_cv, x->m, x->unit, v, sizeof(v));
		fmt_change(x, c, ci);
		fprintf(fp, "%-*s  %-*s  %-*s  %*s  %-*s  %8s  %s\n", wn, x->name,
			wb - (strstr(b, "±") ? 0 : 1), b, wv - (strstr(v, "±") ? 0 : 1), v, wc, c,
			wi, ci, fmt_p(x->p_adj, p, sizeof(p)), cmp_verdict_name(x->verdict));
	}
	fprintf(fp, "%-*s  %-*s  %-*s  %*s\n", wn, "geomean", wb - 1, "", wv - 1, "", wc,
		fmt_pct(r->geomean, c, sizeof(c)));
	summary_line(r, sum, sizeof(sum));
	fprintf(fp, "\n%s: %s (threshold %g%%, alpha %g, %s p-values over %zu metrics, "
		"%d%% Hodges-Lehmann intervals (one-sided %g%% bounds); geomean of cost "
		"ratios, higher-is-better inverted)\n", cmp_verdict_name(r->overall), sum,
		r->threshold * 100, r->alpha,
		corr_text(r->correction), r->n, ci_pct, (1 - r->alpha) * 100);
	for (size_t i = 0; i < r->nwarn; i++)
		fprintf(fp, "warning: %s\n", r->warnings[i]);
	return finish(fp);
}

/* Markdown table cells: '|' must be escaped even inside code spans. */
static void md_cell(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", fp);
		else if (*s == '\n')
			fputc(' ', fp);
		else
			fputc(*s, fp);
	}
}

int cmp_render_md(const struct cmp_result *r, FILE *fp)
{
	char b[96], v[96], c[64], ci[160], p[24], sum[160];
	int ci_pct = (int)lround((1 - 2 * r->alpha) * 100);

	summary_line(r, sum, sizeof(sum));
	fprintf(fp, "### reconperf compare: %s%s%s\n\n%s.\n\n",
		r->overall == CMP_REGRESSED ? "**" : "", cmp_verdict_name(r->overall),
		r->overall == CMP_REGRESSED ? "**" : "", sum);
	fprintf(fp, "| metric | base | new | change | %d%% interval | p (adj.) | verdict |\n",
		ci_pct);
	fprintf(fp, "|:--|--:|--:|--:|:-:|--:|:--|\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct cmp_row *x = &r->rows[i];
		bool hot = x->verdict == CMP_REGRESSED;

		fmt_side(x->base_med, x->base_cv, x->n, x->unit, b, sizeof(b));
		fmt_side(x->new_med, x->new_cv, x->m, x->unit, v, sizeof(v));
		fmt_change(x, c, ci);
		fputs("| ", fp);
		md_cell(fp, x->name);
		fputs(" | ", fp);
		md_cell(fp, b);
		fputs(" | ", fp);
		md_cell(fp, v);
		fprintf(fp, " | %s%s%s | %s | %s | %s%s%s |\n", hot ? "**" : "", c, hot ? "**" : "",
			ci, fmt_p(x->p_adj, p, sizeof(p)), hot ? "**" : "",
			cmp_verdict_name(x->verdict), hot ? "**" : "");
	}
	fprintf(fp, "| *geomean* | | | %s | | | |\n\n", fmt_pct(r->geomean, c, sizeof(c)));
	fprintf(fp, "Threshold %g%%, alpha %g with %s p-values over %zu metrics (two-sided "
		"Mann-Whitney U). A change counts only when it is significant and its whole "
		"%d%% Hodges-Lehmann interval (each end a one-sided %g%% bound) lies past the "
		"threshold. Base and new show the "
		"median, the coefficient of variation and the number of samples; the geomean "
		"is over cost ratios (higher-is-better metrics inverted).\n",
		r->threshold * 100, r->alpha, corr_text(r->correction), r->n, ci_pct,
		(1 - r->alpha) * 100);
	if (r->nwarn)
		fputc('\n', fp);
	for (size_t i = 0; i < r->nwarn; i++) {
		fputs("> **warning:** ", fp);
		md_cell(fp, r->warnings[i]);
		fputs("\n>\n", fp);
	}
	return finish(fp);
}

static cJSON *json_side(const double *v, size_t n, double med, double cv)
{
	cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateDoubleArray(v, (int)n);

	if (!o || !s) {
		cJSON_Delete(o);
		cJSON_Delete(s);
		return NULL;
	}
	cJSON_AddNumberToObject(o, "n", (double)n);
	cJSON_AddNumberToObject(o, "median", med);
	cJSON_AddNumberToObject(o, "cv", cv);	/* NAN prints as null */
	cJSON_AddItemToObject(o, "samples", s);
	return o;
}

static cJSON *json_row(const struct cmp_row *x)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", x->name);
	cJSON_AddStringToObject(o, "unit", x->unit);
	cJSON_AddStringToObject(o, "better", x->dir == BF_LOWER_BETTER ? "lower" : "higher");
	cJSON_AddNumberToObject(o, "threshold", x->threshold);
	cJSON_AddItemToObject(o, "base", json_side(x->bv, x->n, x->base_med, x->base_cv));
	cJSON_AddItemToObject(o, "new", json_side(x->nv, x->m, x->new_med, x->new_cv));
	if (x->relative) {
		cJSON_AddNumberToObject(o, "ratio", x->ratio);
		cJSON_AddNumberToObject(o, "ratio_lo", x->lo);
		cJSON_AddNumberToObject(o, "ratio_hi", x->hi);
	} else {
		cJSON_AddNullToObject(o, "ratio");
		cJSON_AddNumberToObject(o, "delta", x->delta);
		cJSON_AddNumberToObject(o, "delta_lo", x->dlo);
		cJSON_AddNumberToObject(o, "delta_hi", x->dhi);
	}
	cJSON_AddNumberToObject(o, "level", x->level);
	cJSON_AddNumberToObject(o, "p", x->p);
	cJSON_AddNumberToObject(o, "p_adjusted", x->p_adj);
	cJSON_AddBoolToObject(o, "exact", x->exact);
	cJSON_AddNumberToObject(o, "min_p", x->min_p);
	cJSON_AddStringToObject(o, "verdict", cmp_verdict_name(x->verdict));
	cJSON_AddStringToObject(o, "why", x->why);
	return o;
}

int cmp_render_json(const struct cmp_result *r, FILE *fp)
{
	cJSON *root = cJSON_CreateObject(), *rows, *counts, *w;
	char *txt;
	int rc = -ENOMEM;

	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "overall", cmp_verdict_name(r->overall));
	cJSON_AddNumberToObject(root, "threshold", r->threshold);
	cJSON_AddNumberToObject(root, "alpha", r->alpha);
	cJSON_AddStringToObject(root, "correction", cmp_correction_name(r->correction));
	cJSON_AddNumberToObject(root, "geomean", r->geomean);
	counts = cJSON_AddObjectToObject(root, "counts");
	rows = cJSON_AddArrayToObject(root, "metrics");
	w = cJSON_AddArrayToObject(root, "warnings");
	if (!counts || !rows || !w)
		goto out;
	for (int v = CMP_UNCHANGED; v <= CMP_INCONCLUSIVE; v++)
		cJSON_AddNumberToObject(counts, cmp_verdict_name(v), (double)r->count[v]);
	for (size_t i = 0; i < r->n; i++) {
		cJSON *x = json_row(&r->rows[i]);

		if (!x)
			goto out;
		cJSON_AddItemToArray(rows, x);
	}
	for (size_t i = 0; i < r->nwarn; i++)
		cJSON_AddItemToArray(w, cJSON_CreateString(r->warnings[i]));
	txt = cJSON_Print(root);
	if (!txt)
		goto out;
	fputs(txt, fp);
	fputc('\n', fp);
	free(txt);
	rc = finish(fp);
out:
	cJSON_Delete(root);
	return rc;
}
