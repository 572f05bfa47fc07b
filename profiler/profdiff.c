/* profdiff — function-by-function comparison of two profiles. See profdiff.h. */
#include "profiler/profdiff.h"
#include "common/units.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Name -> row index, open addressing; rebuilt twice as large at half load. */
struct acc {
	struct profdiff *d;
	size_t cap;
	uint64_t *stamp;	/* per row: the last sample that counted it in cum */
	size_t *slot;		/* cap entries, row index + 1, 0 = empty */
	size_t nslots;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int rehash(struct acc *a)
{
	size_t n = a->nslots ? a->nslots * 2 : 1024;
	size_t *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < a->d->n; i++) {
		size_t h = hash_str(a->d->rows[i].name) & (n - 1);

		while (s[h])
			h = (h + 1) & (n - 1);
		s[h] = i + 1;
	}
	free(a->slot);
	a->slot = s;
	a->nslots = n;
	return 0;
}

static struct profdiff_row *row_for(struct acc *a, const char *name, size_t *idx)
{
	struct profdiff *d = a->d;
	size_t h;

	if ((d->n + 1) * 2 > a->nslots && rehash(a))
		return NULL;
	h = hash_str(name) & (a->nslots - 1);
	while (a->slot[h]) {
		if (!strcmp(d->rows[a->slot[h] - 1].name, name)) {
			*idx = a->slot[h] - 1;
			return &d->rows[*idx];
		}
		h = (h + 1) & (a->nslots - 1);
	}
	if (d->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct profdiff_row *r = realloc(d->rows, cap * sizeof(*r));
		uint64_t *st;

		if (!r)
			return NULL;
		d->rows = r;
		st = realloc(a->stamp, cap * sizeof(*st));
		if (!st)
			return NULL;
		a->stamp = st;
		a->cap = cap;
	}
	memset(&d->rows[d->n], 0, sizeof(d->rows[d->n]));
	d->rows[d->n].name = strdup(name);
	if (!d->rows[d->n].name)
		return NULL;
	a->stamp[d->n] = 0;
	a->slot[h] = d->n + 1;
	*idx = d->n;
	return &d->rows[d->n++];
}

static int walk(struct acc *a, const struct pprof_profile *p, int vi, int side, uint64_t *clock)
{
	size_t max = 128, total;
	const char **names = malloc(max * sizeof(*names));
	char *scratch = malloc(max * 20);
	int rc = 0;

	for (size_t i = 0; i < p->nsamples && !rc && names && scratch; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int64_t v = s->values[vi];
		size_t n = pprof_sample_frames(p, s, names, max, scratch, &total);

		if (total > max) {	/* a deep stack: grow and walk this sample again */
			free(names);
			free(scratch);
			max = total;
			names = malloc(max * sizeof(*names));
			scratch = malloc(max * 20);
			if (!names || !scratch)
				break;
			n = pprof_sample_frames(p, s, names, max, scratch, &total);
		}
		a->d->total[side] += v;
		(*clock)++;
		for (size_t f = 0; f < n; f++) {
			size_t idx;
			struct profdiff_row *r = row_for(a, names[f], &idx);

			if (!r) {
				rc = -ENOMEM;
				break;
			}
			if (f == 0)
				r->flat[side] += v;
			if (a->stamp[idx] != *clock) {	/* recursion counts once */
				a->stamp[idx] = *clock;
				r->cum[side] += v;
			}
		}
	}
	if (!rc && (!names || !scratch))
		rc = -ENOMEM;
	free(names);
	free(scratch);
	a->d->nsamples[side] = p->nsamples;
	return rc;
}

static double change_key(const struct profdiff_row *r, bool cum)
{
	return cum ? fabs(r->cum_share[1] - r->cum_share[0]) :
		     fabs(r->flat_share[1] - r->flat_share[0]);
}

static int cmp_rows(const void *x, const void *y)
{
	const struct profdiff_row *a = x, *b = y;
	double fa = change_key(a, false), fb = change_key(b, false);

	if (fa != fb)
		return fa > fb ? -1 : 1;
	fa = change_key(a, true);
	fb = change_key(b, true);
	if (fa != fb)
		return fa > fb ? -1 : 1;
	return strcmp(a->name, b->name);
}

int profdiff_run(const struct pprof_profile *base, const struct pprof_profile *new,
		 const char *type, struct profdiff *out, char *err, size_t errlen)
{
	const struct pprof_profile *p[2] = { base, new };
	struct acc a = { .d = out };
	uint64_t clock = 0;
	int vi[2], rc = 0;

	memset(out, 0, sizeof(*out));
	if (!type) {
		int d = pprof_default_sample_index(base);

		if (d < 0) {
			snprintf(err, errlen, "base profile has no sample types");
			return -EINVAL;
		}
		type = base->sample_types[d].type;
	}
	for (int s = 0; s < 2; s++) {
		vi[s] = pprof_sample_type_index(p[s], type);
		if (vi[s] < 0) {
			snprintf(err, errlen, "%s profile has no sample type '%s'",
				 s ? "new" : "base", type);
			return -EINVAL;
		}
	}
	if (strcmp(base->sample_types[vi[0]].unit, new->sample_types[vi[1]].unit)) {
		snprintf(err, errlen, "sample type '%s' is in %s in base but %s in new", type,
			 base->sample_types[vi[0]].unit, new->sample_types[vi[1]].unit);
		return -EINVAL;
	}
	out->type = strdup(type);
	out->unit = strdup(base->sample_types[vi[0]].unit);
	if (!out->type || !out->unit)
		rc = -ENOMEM;
	for (int s = 0; s < 2 && !rc; s++)
		rc = walk(&a, p[s], vi[s], s, &clock);
	free(a.slot);
	free(a.stamp);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		profdiff_fini(out);
		return rc;
	}
	for (int s = 0; s < 2; s++) {
		if (out->total[s] <= 0) {
			snprintf(err, errlen, "%s profile has no '%s' samples (total %lld)",
				 s ? "new" : "base", type, (long long)out->total[s]);
			profdiff_fini(out);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < out->n; i++) {
		struct profdiff_row *r = &out->rows[i];

		for (int s = 0; s < 2; s++) {
			r->flat_share[s] = (double)r->flat[s] / (double)out->total[s];
			r->cum_share[s] = (double)r->cum[s] / (double)out->total[s];
		}
	}
	if (out->n)	/* samples without locations leave no rows (and no array) */
		qsort(out->rows, out->n, sizeof(*out->rows), cmp_rows);
	return 0;
}

void profdiff_fini(struct profdiff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->rows[i].name);
	free(d->rows);
	free(d->type);
	free(d->unit);
	memset(d, 0, sizeof(*d));
}

/* ---- rendering ---- */

static const char *fmt_amount(const struct profdiff *d, int64_t v, char *buf, int len)
{
	if (!strcmp(d->unit, "nanoseconds"))
		return units_fmt_ns((double)v, buf, len);
	if (!strcmp(d->unit, "bytes")) {
		static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
		double x = (double)v;
		int i = 0;

		while (fabs(x) >= 1024 && i < 4) {
			x /= 1024;
			i++;
		}
		snprintf(buf, (size_t)len, i ? "%.2f%s" : "%.0f%s", x, u[i]);
		return buf;
	}
	snprintf(buf, (size_t)len, "%lld", (long long)v);
	return buf;
}

static size_t shown(const struct profdiff *d, size_t top)
{
	return top && top < d->n ? top : d->n;
}

static int finish(FILE *fp)
{
	return fflush(fp) || ferror(fp) ? -EIO : 0;
}

int profdiff_render_table(const struct profdiff *d, size_t top, FILE *fp)
{
	char a[32], b[32];

	fprintf(fp, "sample type %s (%s): base %s in %zu samples, new %s in %zu samples\n\n",
		d->type, d->unit, fmt_amount(d, d->total[0], a, sizeof(a)), d->nsamples[0],
		fmt_amount(d, d->total[1], b, sizeof(b)), d->nsamples[1]);
	fprintf(fp, "%8s %8s %8s  %8s %8s %8s  %s\n", "flat%", "flat%", "change", "cum%", "cum%",
		"change", "function");
	fprintf(fp, "%8s %8s %8s  %8s %8s %8s\n", "base", "new", "(pp)", "base", "new", "(pp)");
	for (size_t i = 0; i < shown(d, top); i++) {
		const struct profdiff_row *r = &d->rows[i];

		fprintf(fp, "%7.2f%% %7.2f%% %+8.2f  %7.2f%% %7.2f%% %+8.2f  %s\n",
			r->flat_share[0] * 100, r->flat_share[1] * 100,
			(r->flat_share[1] - r->flat_share[0]) * 100, r->cum_share[0] * 100,
			r->cum_share[1] * 100, (r->cum_share[1] - r->cum_share[0]) * 100, r->name);
	}
	if (shown(d, top) < d->n)
		fprintf(fp, "(%zu more functions; --top 0 shows all)\n", d->n - shown(d, top));
	return finish(fp);
}

static void md_text(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '`' || *s == '*' || *s == '_' || *s == '<' || *s == '[')
			fputc('\\', fp);
		fputc(*s, fp);
	}
}

int profdiff_render_md(const struct profdiff *d, size_t top, FILE *fp)
{
	char a[32], b[32];

	fprintf(fp, "### reconperf compare: profiles\n\nSample type `%s` (%s): base %s in %zu "
		    "samples, new %s in %zu samples. Shares are of each side's total; changes "
		    "in percentage points.\n\n", d->type, d->unit,
		fmt_amount(d, d->total[0], a, sizeof(a)), d->nsamples[0],
		fmt_amount(d, d->total[1], b, sizeof(b)), d->nsamples[1]);
	fprintf(fp, "| function | flat base | flat new | flat change | cum base | cum new | "
		    "cum change |\n|:--|--:|--:|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < shown(d, top); i++) {
		const struct profdiff_row *r = &d->rows[i];

		fputs("| ", fp);
		md_text(fp, r->name);
		fprintf(fp, " | %.2f%% | %.2f%% | %+.2f | %.2f%% | %.2f%% | %+.2f |\n",
			r->flat_share[0] * 100, r->flat_share[1] * 100,
			(r->flat_share[1] - r->flat_share[0]) * 100, r->cum_share[0] * 100,
			r->cum_share[1] * 100, (r->cum_share[1] - r->cum_share[0]) * 100);
	}
	if (shown(d, top) < d->n)
		fprintf(fp, "\n%zu more functions not shown.\n", d->n - shown(d, top));
	return finish(fp);
}

int profdiff_render_json(const struct profdiff *d, size_t top, FILE *fp)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *txt;
	int rc = -ENOMEM;

	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "sample_type", d->type);
	cJSON_AddStringToObject(root, "unit", d->unit);
	cJSON_AddNumberToObject(root, "base_total", (double)d->total[0]);
	cJSON_AddNumberToObject(root, "new_total", (double)d->total[1]);
	cJSON_AddNumberToObject(root, "functions", (double)d->n);
	arr = cJSON_AddArrayToObject(root, "rows");
	for (size_t i = 0; arr && i < shown(d, top); i++) {
		const struct profdiff_row *r = &d->rows[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o))
			goto out;
		cJSON_AddStringToObject(o, "function", r->name);
		cJSON_AddNumberToObject(o, "flat_base", (double)r->flat[0]);
		cJSON_AddNumberToObject(o, "flat_new", (double)r->flat[1]);
		cJSON_AddNumberToObject(o, "cum_base", (double)r->cum[0]);
		cJSON_AddNumberToObject(o, "cum_new", (double)r->cum[1]);
		cJSON_AddNumberToObject(o, "flat_share_base", r->flat_share[0]);
		cJSON_AddNumberToObject(o, "flat_share_new", r->flat_share[1]);
		cJSON_AddNumberToObject(o, "cum_share_base", r->cum_share[0]);
		cJSON_AddNumberToObject(o, "cum_share_new", r->cum_share[1]);
	}
	txt = arr ? cJSON_Print(root) : NULL;
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
