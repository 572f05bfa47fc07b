/* cmpconf — compare's config file. See cmpconf.h. */
#include "common/cmpconf.h"
#include "common/units.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmpconf_init(struct cmpconf *c)
{
	memset(c, 0, sizeof(*c));
	c->threshold = 0.05;
	c->alpha = 0.05;
	c->correction = CMP_CORR_HOLM;
}

void cmpconf_fini(struct cmpconf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nrules; i++)
		free(c->rules[i].glob);
	free(c->rules);
	memset(c, 0, sizeof(*c));
}

int cmpconf_parse_pct(const char *s, double *frac)
{
	char buf[64];
	size_t n = s ? strlen(s) : 0;
	double v;
	int rc;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == '%')
		buf[n - 1] = '\0';
	rc = units_double(buf, 0, 1000, &v);
	if (rc)
		return rc;
	*frac = v / 100.0;
	return 0;
}

__attribute__((format(printf, 5, 6)))
static int bad(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
{
	va_list ap;
	int off = snprintf(err, errlen, "%s:%zu: ", name, line);

	if (off >= 0 && (size_t)off < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int add_rule(struct cmpconf *c, struct cmpconf_rule r)
{
	struct cmpconf_rule *nr = realloc(c->rules, (c->nrules + 1) * sizeof(*nr));

	if (!nr)
		return -ENOMEM;
	c->rules = nr;
	r.glob = strdup(r.glob);
	if (!r.glob)
		return -ENOMEM;
	c->rules[c->nrules++] = r;
	return 0;
}

static int parse_metric(struct cmpconf *c, char **t, size_t n, const char *name, size_t line,
			char *err, size_t errlen)
{
	struct cmpconf_rule r = { .glob = t[1] };

	if (n < 3)
		return bad(err, errlen, name, line, "'metric' needs a glob and a key "
			   "(threshold PCT, ignore, direction higher|lower)");
	if (!strcmp(t[2], "ignore")) {
		if (n != 3)
			return bad(err, errlen, name, line, "'ignore' takes no value, got '%s'",
				   t[3]);
		r.key = CMPCONF_IGNORE;
	} else if (!strcmp(t[2], "threshold")) {
		if (n != 4)
			return bad(err, errlen, name, line,
				   "'threshold' takes one value such as 10%%");
		r.key = CMPCONF_THRESHOLD;
		if (cmpconf_parse_pct(t[3], &r.threshold))
			return bad(err, errlen, name, line, "'threshold' must be a percentage in "
				   "0..1000, got '%s'", t[3]);
	} else if (!strcmp(t[2], "direction")) {
		if (n != 4 || (strcmp(t[3], "higher") && strcmp(t[3], "lower")))
			return bad(err, errlen, name, line, "'direction' must be 'higher' or "
				   "'lower'%s%s%s", n > 3 ? ", got '" : "", n > 3 ? t[3] : "",
				   n > 3 ? "'" : "");
		r.key = CMPCONF_DIRECTION;
		r.higher_better = !strcmp(t[3], "higher");
	} else {
		return bad(err, errlen, name, line, "unknown metric key '%s' (want threshold, "
			   "ignore or direction)", t[2]);
	}
	if (add_rule(c, r))
		return bad(err, errlen, name, line, "out of memory");
	return 0;
}

static int parse_line(struct cmpconf *c, char *l, const char *name, size_t line, char *err,
		      size_t errlen)
{
	char *t[8], *save = NULL, *hash = strchr(l, '#');
	size_t n = 0;

	if (hash)
		*hash = '\0';
	for (char *w = strtok_r(l, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == 6)
			return bad(err, errlen, name, line, "too many words");
		t[n++] = w;
	}
	if (!n)
		return 0;
	if (!strcmp(t[0], "metric"))
		return parse_metric(c, t, n, name, line, err, errlen);
	if (n != 2)
		return bad(err, errlen, name, line, "'%s' takes exactly one value", t[0]);
	if (!strcmp(t[0], "threshold")) {
		if (cmpconf_parse_pct(t[1], &c->threshold))
			return bad(err, errlen, name, line, "'threshold' must be a percentage in "
				   "0..1000, got '%s'", t[1]);
		c->has_threshold = true;
	} else if (!strcmp(t[0], "alpha")) {
		if (units_double(t[1], 1e-9, 0.5, &c->alpha))
			return bad(err, errlen, name, line, "'alpha' must be a number in "
				   "0.000000001..0.5, got '%s'", t[1]);
		c->has_alpha = true;
	} else if (!strcmp(t[0], "correction")) {
		if (!strcmp(t[1], "holm"))
			c->correction = CMP_CORR_HOLM;
		else if (!strcmp(t[1], "bh"))
			c->correction = CMP_CORR_BH;
		else if (!strcmp(t[1], "none"))
			c->correction = CMP_CORR_NONE;
		else
			return bad(err, errlen, name, line, "'correction' must be holm, bh or "
				   "none, got '%s'", t[1]);
		c->has_correction = true;
	} else {
		return bad(err, errlen, name, line, "unknown key '%s' (want threshold, alpha, "
			   "correction or metric)", t[0]);
	}
	return 0;
}

int cmpconf_parse(struct cmpconf *c, const char *name, const char *text, char *err,
		  size_t errlen)
{
	size_t line = 0;
	int rc = 0;

	for (const char *p = text; *p && !rc;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *l = strndup(p, len);

		line++;
		if (!l)
			return bad(err, errlen, name, line, "out of memory");
		rc = parse_line(c, l, name, line, err, errlen);
		free(l);
		p += len + (nl ? 1 : 0);
	}
	return rc;
}

int cmpconf_load(struct cmpconf *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc;

	if (!fp) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	n = getdelim(&text, &cap, '\0', fp);
	if (ferror(fp)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	} else {
		if (n > 0 && memchr(text, '\0', (size_t)n))
			rc = bad(err, errlen, path, 1, "binary data, not a config file");
		else
			rc = cmpconf_parse(c, path, n > 0 ? text : "", err, errlen);
	}
	free(text);
	fclose(fp);
	return rc;
}

static const struct cmpconf_rule *last_match(const struct cmpconf *c, const char *metric,
					     int key)
{
	for (size_t i = c->nrules; i-- > 0;)
		if ((int)c->rules[i].key == key && !fnmatch(c->rules[i].glob, metric, 0))
			return &c->rules[i];
	return NULL;
}

bool cmpconf_ignored(const struct cmpconf *c, const char *metric)
{
	return last_match(c, metric, CMPCONF_IGNORE) != NULL;
}

bool cmpconf_threshold(const struct cmpconf *c, const char *metric, double *thr)
{
	const struct cmpconf_rule *r = last_match(c, metric, CMPCONF_THRESHOLD);

	if (r)
		*thr = r->threshold;
	return r != NULL;
}

bool cmpconf_direction(const struct cmpconf *c, const char *metric, int *higher_better)
{
	const struct cmpconf_rule *r = last_match(c, metric, CMPCONF_DIRECTION);

	if (r)
		*higher_better = r->higher_better;
	return r != NULL;
}
