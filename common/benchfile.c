/* benchfile — benchmark result readers for compare. See benchfile.h. */
#include "common/benchfile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>


void bf_set_init(struct bf_set *s)
{
	memset(s, 0, sizeof(*s));
}

void bf_set_fini(struct bf_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->m[i].name);
		free(s->m[i].group);
		free(s->m[i].unit);
		free(s->m[i].v);
	}
	for (size_t i = 0; i < s->ngroups; i++)
		free(s->groups[i]);
	free(s->m);
	free(s->groups);
	free(s->mix.slot);
	free(s->gix.slot);
	memset(s, 0, sizeof(*s));
}

const char *bf_kind_name(unsigned kind)
{
	switch (kind) {
	case BF_KIND_RECONPERF: return "reconperf report";
	case BF_KIND_GBENCH: return "Google Benchmark JSON";
	case BF_KIND_GOBENCH: return "Go benchmark text";
	default: return "mixed formats";
	}
}

/* ---- the name indexes: a file with thousands of benchmarks must not cost n^2 ---- */

typedef const char *(*name_fn)(const struct bf_set *s, size_t i);

static const char *metric_name(const struct bf_set *s, size_t i)
{
	return s->m[i].name;
}

static const char *group_name(const struct bf_set *s, size_t i)
{
	return s->groups[i];
}

static size_t hash_str(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32));
}

/* The position named key, or SIZE_MAX; *at is the slot where it is or would go. */
static size_t ix_find(const struct bf_set *s, const struct bf_index *ix, name_fn name,
		      const char *key, size_t *at)
{
	size_t mask = ix->nslots - 1, i;

	*at = 0;
	if (!ix->nslots)
		return SIZE_MAX;
	for (i = hash_str(key) & mask;; i = (i + 1) & mask) {
		if (!ix->slot[i]) {
			*at = i;
			return SIZE_MAX;
		}
		if (!strcmp(name(s, ix->slot[i] - 1), key)) {
			*at = i;
			return ix->slot[i] - 1;
		}
	}
}

/* Indexes position pos, the last of the n named entries (positions 0..n-1). */
static int ix_add(const struct bf_set *s, struct bf_index *ix, name_fn name, size_t pos,
		  size_t n)
{
	size_t at;

	if (n > UINT_MAX - 1)
		return -ENOMEM;
	if (2 * n > ix->nslots) {
		size_t ns = ix->nslots ? 2 * ix->nslots : 64;
		unsigned *sl = calloc(ns, sizeof(*sl));

		if (!sl)
			return -ENOMEM;
		free(ix->slot);
		ix->slot = sl;
		ix->nslots = ns;
		for (size_t i = 0; i + 1 < n; i++) {
			ix_find(s, ix, name, name(s, i), &at);
			ix->slot[at] = (unsigned)i + 1;
		}
	}
	ix_find(s, ix, name, name(s, pos), &at);
	ix->slot[at] = (unsigned)pos + 1;
	return 0;
}

struct bf_metric *bf_find(const struct bf_set *s, const char *name)
{
	size_t at, i = ix_find(s, &s->mix, metric_name, name, &at);

	return i == SIZE_MAX ? NULL : &s->m[i];
}

bool bf_has_group(const struct bf_set *s, const char *group)
{
	size_t at;

	return ix_find(s, &s->gix, group_name, group, &at) != SIZE_MAX;
}

static int add_group(struct bf_set *s, const char *group)
{
	if (bf_has_group(s, group))
		return 0;
	if (s->ngroups == s->gcap) {
		size_t cap = s->gcap ? 2 * s->gcap : 16;
		char **g = realloc(s->groups, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		s->groups = g;
		s->gcap = cap;
	}
	s->groups[s->ngroups] = strdup(group);
	if (!s->groups[s->ngroups])
		return -ENOMEM;
	if (ix_add(s, &s->gix, group_name, s->ngroups, s->ngroups + 1)) {
		free(s->groups[s->ngroups]);
		return -ENOMEM;
	}
	s->ngroups++;
	return 0;
}

static struct bf_metric *new_metric(struct bf_set *s, const char *name, const char *group,
				    const char *unit, enum bf_dir dir)
{
	struct bf_metric *m;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		struct bf_metric *nm = realloc(s->m, cap * sizeof(*nm));

		if (!nm)
			return NULL;
		s->m = nm;
		s->cap = cap;
	}
	m = &s->m[s->n];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->group = strdup(group);
	m->unit = strdup(unit);
	m->dir = dir;
	if (!m->name || !m->group || !m->unit ||
	    ix_add(s, &s->mix, metric_name, s->n, s->n + 1)) {
		free(m->name);
		free(m->group);
		free(m->unit);
		return NULL;
	}
	s->n++;
	return m;
}

int bf_add(struct bf_set *s, const char *group, const char *field, const char *unit,
	   enum bf_dir dir, double v)
{
	struct bf_metric *m;
	char *name;
	int rc;

	if (!isfinite(v))
		return -EINVAL;
	if (asprintf(&name, "%s:%s", group, field) < 0)
		return -ENOMEM;
	rc = add_group(s, group);
	m = rc ? NULL : bf_find(s, name);
	if (!rc && !m) {
		m = new_metric(s, name, group, unit, dir);
		if (!m)
			rc = -ENOMEM;
	}
	free(name);
	if (rc)
		return rc;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		double *nv = realloc(m->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = v;
	return 0;
}

/* ---- messages ---- */

struct ctx {
	struct bf_set *s;
	const char *file;
	char *err;
	size_t errlen;
	size_t added;		/* samples added from this file */
	size_t cpu_from_scenarios;	/* cpu_time samples taken from scenarios[] */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int off;

	if (!c->err || !c->errlen)
		return -EINVAL;
	off = snprintf(c->err, c->errlen, "%s", c->file);
	if (off < 0 || (size_t)off >= c->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int add(struct ctx *c, const char *group, const char *field, const char *unit,
	       enum bf_dir dir, double v)
{
	int rc = bf_add(c->s, group, field, unit, dir, v);

	if (rc == -ENOMEM)
		return fail(c, ": out of memory");
	if (rc)
		return fail(c, ": %s:%s: value %g is not finite", group, field, v);
	c->added++;
	return 0;
}

/* ---- JSON ---- */

static const char *jtype(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsObject(j))
		return "an object";
	return "null";
}

/* 1: a finite number in *out; 0: absent or null; <0: wrong type (message set). */
static int jnum(struct ctx *c, const cJSON *obj, const char *key, const char *path,
		double *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsNumber(j))
		return fail(c, ": %s.%s: must be a number, got %s", path, key, jtype(j));
	if (!isfinite(j->valuedouble))
		return fail(c, ": %s.%s: must be finite", path, key);
	*out = j->valuedouble;
	return 1;
}

/* The object at obj[key], or NULL when absent; <0 via *rc on a wrong type. */
static const cJSON *jobj(struct ctx *c, const cJSON *obj, const char *key, const char *path,
			 int *rc)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	*rc = 0;
	if (!j || cJSON_IsNull(j))
		return NULL;
	if (!cJSON_IsObject(j)) {
		*rc = fail(c, ": %s.%s: must be an object, got %s", path, key, jtype(j));
		return NULL;
	}
	return j;
}

static const char *jstr(struct ctx *c, const cJSON *obj, const char *key, const char *path,
			bool required, int *rc)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	*rc = 0;
	if (!j || cJSON_IsNull(j)) {
		if (required)
			*rc = fail(c, ": %s: missing field '%s'", path, key);
		return NULL;
	}
	if (!cJSON_IsString(j) || !j->valuestring[0]) {
		*rc = fail(c, ": %s.%s: must be a non-empty string, got %s", path, key,
			   cJSON_IsString(j) ? "\"\"" : jtype(j));
		return NULL;
	}
	return j->valuestring;
}

/* Adds obj[key] (when present) as one sample of GROUP:FIELD. */
static int jmetric(struct ctx *c, const cJSON *obj, const char *key, const char *path,
		   const char *group, const char *field, const char *unit, enum bf_dir dir)
{
	double v;
	int rc = obj ? jnum(c, obj, key, path, &v) : 0;

	if (rc <= 0)
		return rc;
	return add(c, group, field, unit, dir, v);
}

static int time_unit_ns(struct ctx *c, const cJSON *b, const char *path, double *mul)
{
	int rc;
	const char *u = jstr(c, b, "time_unit", path, false, &rc);

	if (rc)
		return rc;
	if (!u || !strcmp(u, "ns"))
		*mul = 1;
	else if (!strcmp(u, "us"))
		*mul = 1e3;
	else if (!strcmp(u, "ms"))
		*mul = 1e6;
	else if (!strcmp(u, "s"))
		*mul = 1e9;
	else
		return fail(c, ": %s.time_unit: must be ns, us, ms or s, got '%s'", path, u);
	return 0;
}

static bool gb_known_key(const char *k)
{
	static const char *const known[] = {
		"name", "family_index", "per_family_instance_index", "run_name", "run_type",
		"repetitions", "repetition_index", "threads", "iterations", "real_time",
		"cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "error_occurred",
		"error_message", "label", "big_o", "rms", NULL,
	};
	for (const char *const *p = known; *p; p++)
		if (!strcmp(*p, k))
			return true;
	return false;
}

/* A rate counter (Google Benchmark's kIsRate ones are named so by convention). */
static enum bf_dir counter_dir(const char *name)
{
	size_t n = strlen(name);

	if (strstr(name, "per_second") || strstr(name, "per_sec") || strstr(name, "_rate") ||
	    strstr(name, "throughput") || (n > 2 && !strcmp(name + n - 2, "/s")))
		return BF_HIGHER_BETTER;
	return BF_LOWER_BETTER;
}

/*
 * benchmarks[] in Google Benchmark's schema. full: also real_time and counters (a plain
 * Google Benchmark file); otherwise only cpu_time (a reconperf report keeps its other
 * figures in scenarios[]).
 */
static int gb_benchmarks(struct ctx *c, const cJSON *arr, bool full)
{
	char path[64];
	size_t i = 0;
	const cJSON *b;
	int rc;

	if (!cJSON_IsArray(arr))
		return fail(c, ": benchmarks: must be an array, got %s", jtype(arr));
	cJSON_ArrayForEach(b, arr) {
		const char *name, *run_name, *run_type;
		double mul = 1, v;

		snprintf(path, sizeof(path), "benchmarks[%zu]", i++);
		if (!cJSON_IsObject(b))
			return fail(c, ": %s: must be an object, got %s", path, jtype(b));
		name = jstr(c, b, "name", path, true, &rc);
		if (rc)
			return rc;
		run_name = jstr(c, b, "run_name", path, false, &rc);
		if (rc)
			return rc;
		run_type = jstr(c, b, "run_type", path, false, &rc);
		if (rc)
			return rc;
		if (run_type && !strcmp(run_type, "aggregate"))
			continue;	/* mean/median/stddev of the repetitions we read anyway */
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "error_occurred"))) {
			const char *msg = jstr(c, b, "error_message", path, false, &rc);

			return fail(c, ": %s: benchmark '%s' failed: %s", path, name,
				    msg ? msg : "error_occurred");
		}
		if (!run_name)
			run_name = name;
		rc = time_unit_ns(c, b, path, &mul);
		if (rc)
			return rc;
		rc = jnum(c, b, "cpu_time", path, &v);
		if (rc < 0)
			return rc;
		if (rc == 0 && full)
			return fail(c, ": %s: missing field 'cpu_time'", path);
		if (rc == 1 && (rc = add(c, run_name, "cpu_time", "ns", BF_LOWER_BETTER, v * mul)))
			return rc;
		if (!full)
			continue;
		rc = jnum(c, b, "real_time", path, &v);
		if (rc <= 0)
			return rc < 0 ? rc : fail(c, ": %s: missing field 'real_time'", path);
		if ((rc = add(c, run_name, "real_time", "ns", BF_LOWER_BETTER, v * mul)))
			return rc;
		for (const cJSON *k = b->child; k; k = k->next) {
			if (gb_known_key(k->string) || !cJSON_IsNumber(k))
				continue;
			rc = add(c, run_name, k->string, "", counter_dir(k->string),
				 k->valuedouble);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int rp_fault(struct ctx *c, const cJSON *f, const char *path, const char *scen)
{
	const cJSON *conv;
	const char *type;
	char field[96];
	int rc;

	if (!cJSON_IsObject(f))
		return fail(c, ": %s: must be an object, got %s", path, jtype(f));
	type = jstr(c, f, "type", path, true, &rc);
	if (rc)
		return rc;
	conv = jobj(c, f, "converge_ns", path, &rc);
	if (rc || !conv)
		return rc;
	snprintf(field, sizeof(field), "fault.%s.converge.p99", type);
	char sub[160];

	snprintf(sub, sizeof(sub), "%s.converge_ns", path);
	return jmetric(c, conv, "p99", sub, scen, field, "ns", BF_LOWER_BETTER);
}

/*
 * cpu_time: process CPU per reconcile, cpu_ns / reconcile.count -- the same figure as the
 * cpu_time of the run's Google Benchmark entry, but keyed by the scenario name.
 */
static int rp_cpu(struct ctx *c, const cJSON *sc, const cJSON *rec, const char *path,
		  const char *scen)
{
	double cpu, count;
	int rc = jnum(c, sc, "cpu_ns", path, &cpu);
	char sub[96];

	if (rc <= 0 || !rec)
		return rc;
	snprintf(sub, sizeof(sub), "%s.reconcile", path);
	rc = jnum(c, rec, "count", sub, &count);
	if (rc <= 0 || count <= 0)
		return rc < 0 ? rc : 0;
	c->cpu_from_scenarios++;
	return add(c, scen, "cpu_time", "ns", BF_LOWER_BETTER, cpu / count);
}

/*
 * convergence.time, and convergence.failed (1 for a run that did not converge by its
 * deadline, else 0). The bench reports time_ns 0 for such a run; taken as is it would look
 * like the fastest convergence of all, so the run's wall time (start of load to the
 * deadline, a lower bound of the true convergence time) stands in: it ranks the run among
 * the slowest, where it belongs.
 */
static int rp_convergence(struct ctx *c, const cJSON *sc, const cJSON *conv, const char *path,
			  const char *scen)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(conv, "converged");
	char sub[96];
	double wall;
	int rc;

	snprintf(sub, sizeof(sub), "%s.convergence", path);
	if (ok && !cJSON_IsBool(ok))
		return fail(c, ": %s.converged: must be true or false, got %s", sub, jtype(ok));
	if (ok && (rc = add(c, scen, "convergence.failed", "", BF_LOWER_BETTER,
			    cJSON_IsTrue(ok) ? 0 : 1)))
		return rc;
	if (!ok || cJSON_IsTrue(ok))
		return jmetric(c, conv, "time_ns", sub, scen, "convergence.time", "ns",
			       BF_LOWER_BETTER);
	rc = jnum(c, sc, "wall_ns", path, &wall);
	if (rc <= 0)
		return rc;	/* no stand-in: leave the sample out */
	return add(c, scen, "convergence.time", "ns", BF_LOWER_BETTER, wall);
}

static int rp_scenario(struct ctx *c, const cJSON *sc, size_t idx)
{
	static const char *const lat[] = { "p50", "p90", "p99", "p999" };
	const cJSON *rec, *latency = NULL, *queue, *wait = NULL, *conv, *faults;
	char path[64], sub[96], field[32];
	const char *name;
	int rc;

	snprintf(path, sizeof(path), "scenarios[%zu]", idx);
	if (!cJSON_IsObject(sc))
		return fail(c, ": %s: must be an object, got %s", path, jtype(sc));
	name = jstr(c, sc, "name", path, true, &rc);
	if (rc)
		return rc;
	if ((rc = add_group(c->s, name)))
		return fail(c, ": out of memory");

	rec = jobj(c, sc, "reconcile", path, &rc);
	if (rc)
		return rc;
	snprintf(sub, sizeof(sub), "%s.reconcile", path);
	if (rec && (latency = jobj(c, rec, "latency_ns", sub, &rc), rc))
		return rc;
	if ((rc = jmetric(c, rec, "per_second", sub, name, "reconcile.per_second", "1/s",
			  BF_HIGHER_BETTER)))
		return rc;
	if ((rc = rp_cpu(c, sc, rec, path, name)))
		return rc;
	snprintf(sub, sizeof(sub), "%s.reconcile.latency_ns", path);
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		snprintf(field, sizeof(field), "latency.%s", lat[i]);
		if ((rc = jmetric(c, latency, lat[i], sub, name, field, "ns", BF_LOWER_BETTER)))
			return rc;
	}

	queue = jobj(c, sc, "queue", path, &rc);
	if (rc)
		return rc;
	snprintf(sub, sizeof(sub), "%s.queue", path);
	if (queue && (wait = jobj(c, queue, "wait_ns", sub, &rc), rc))
		return rc;
	snprintf(sub, sizeof(sub), "%s.queue.wait_ns", path);
	if ((rc = jmetric(c, wait, "p99", sub, name, "queue_wait.p99", "ns", BF_LOWER_BETTER)))
		return rc;

	conv = jobj(c, sc, "convergence", path, &rc);
	if (rc || (conv && (rc = rp_convergence(c, sc, conv, path, name))))
		return rc;
	if ((rc = jmetric(c, sc, "retries", path, name, "retries", "", BF_LOWER_BETTER)) ||
	    (rc = jmetric(c, sc, "conflicts", path, name, "conflicts", "", BF_LOWER_BETTER)) ||
	    (rc = jmetric(c, sc, "allocs_per_reconcile", path, name, "allocs_per_reconcile",
			  "allocs", BF_LOWER_BETTER)) ||
	    (rc = jmetric(c, sc, "bytes_per_reconcile", path, name, "bytes_per_reconcile", "B",
			  BF_LOWER_BETTER)))
		return rc;

	faults = cJSON_GetObjectItemCaseSensitive(sc, "faults");
	if (faults && !cJSON_IsNull(faults)) {
		const cJSON *f;
		size_t i = 0;

		if (!cJSON_IsArray(faults))
			return fail(c, ": %s.faults: must be an array, got %s", path,
				    jtype(faults));
		cJSON_ArrayForEach(f, faults) {
			snprintf(sub, sizeof(sub), "%s.faults[%zu]", path, i++);
			if ((rc = rp_fault(c, f, sub, name)))
				return rc;
		}
	}
	return 0;
}

static int load_reconperf(struct ctx *c, const cJSON *root)
{
	const cJSON *scs = cJSON_GetObjectItemCaseSensitive(root, "scenarios");
	const cJSON *bms = cJSON_GetObjectItemCaseSensitive(root, "benchmarks");
	const cJSON *sc;
	size_t i = 0;
	int rc;

	if (!cJSON_IsArray(scs))
		return fail(c, ": scenarios: must be an array, got %s",
			    scs ? jtype(scs) : "nothing");
	cJSON_ArrayForEach(sc, scs)
		if ((rc = rp_scenario(c, sc, i++)))
			return rc;
	/* older reports carry CPU time only in benchmarks[], keyed by the run name */
	if (!c->cpu_from_scenarios && bms && !cJSON_IsNull(bms) &&
	    (rc = gb_benchmarks(c, bms, false)))
		return rc;
	c->s->kinds |= BF_KIND_RECONPERF;
	return 0;
}

static void line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && buf[i]; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int load_json(struct ctx *c, const char *buf, size_t len)
{
	const char *end = NULL;
	cJSON *root;
	int rc;

	/* len + 1: cJSON checks for the terminating NUL inside the given length */
	root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
	if (!root) {
		size_t line, col, off = end ? (size_t)(end - buf) : 0;
		char near[24] = "";

		line_col(buf, off, &line, &col);
		for (size_t i = 0; i + 1 < sizeof(near) && off + i < len && buf[off + i] != '\n';
		     i++)
			near[i] = buf[off + i];
		return fail(c, ":%zu:%zu: malformed JSON%s%s%s", line, col,
			    off >= len ? " (unexpected end of file)" : " near '",
			    off >= len ? "" : near, off >= len ? "" : "'");
	}
	if (!cJSON_IsObject(root)) {
		rc = fail(c, ": top level must be an object, got %s", jtype(root));
	} else if (cJSON_GetObjectItemCaseSensitive(root, "scenarios")) {
		rc = load_reconperf(c, root);
	} else if (cJSON_GetObjectItemCaseSensitive(root, "benchmarks")) {
		rc = gb_benchmarks(c, cJSON_GetObjectItemCaseSensitive(root, "benchmarks"), true);
		if (!rc)
			c->s->kinds |= BF_KIND_GBENCH;
	} else {
		rc = fail(c, ": neither 'scenarios' (a reconperf report) nor 'benchmarks' (Google "
			  "Benchmark JSON) found at the top level");
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- Go benchmark text ---- */

static size_t split_ws(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		f[n++] = t;
	}
	return n;
}

static bool is_bench_line(const char *l)
{
	/* Go's rule: "Benchmark" then nothing or a character that is not a lower-case letter */
	return !strncmp(l, "Benchmark", 9) && !islower((unsigned char)l[9]);
}

static int go_line(struct ctx *c, char *line, size_t lineno)
{
	char *f[66], *end;
	size_t n = split_ws(line, f, 65);
	unsigned long long iters;

	if (n > 65)
		return fail(c, ":%zu: too many fields on a benchmark line", lineno);
	if (n == 1)
		return 0;	/* `go test -v` prints the bare name before a benchmark's logs */
	errno = 0;
	iters = strtoull(f[1], &end, 10);
	if (errno || *end || end == f[1] || f[1][0] == '-' || !iters)
		return fail(c, ":%zu: %s: iteration count must be a positive integer, got '%s'",
			    lineno, f[0], f[1]);
	if (n < 4 || n % 2)
		return fail(c, ":%zu: %s: expected 'N value unit [value unit]...' after the name",
			    lineno, f[0]);
	for (size_t i = 2; i < n; i += 2) {
		const char *unit = f[i + 1];
		size_t ul = strlen(unit);
		double v;

		errno = 0;
		v = strtod(f[i], &end);
		if (errno || *end || end == f[i] || !isfinite(v))
			return fail(c, ":%zu: %s: '%s' is not a number (field %zu)", lineno, f[0],
				    f[i], i + 1);
		enum bf_dir dir = ul > 2 && !strcmp(unit + ul - 2, "/s") ?
				  BF_HIGHER_BETTER : BF_LOWER_BETTER;
		int rc = add(c, f[0], unit, unit, dir, v);

		if (rc)
			return rc;
	}
	return 0;
}

/* buf is the terminated copy; lines are cut in place. */
static int load_gobench(struct ctx *c, char *buf, size_t len)
{
	size_t lineno = 0;
	int rc = 0;

	for (size_t off = 0; off < len && !rc;) {
		char *line = buf + off, *nl = memchr(line, '\n', len - off);
		size_t l = nl ? (size_t)(nl - line) : len - off;

		line[l] = '\0';
		lineno++;
		off += l + 1;
		if (is_bench_line(line))
			rc = go_line(c, line, lineno);
	}
	if (!rc)
		c->s->kinds |= BF_KIND_GOBENCH;
	return rc;
}

/* ---- entry points ---- */

int bf_load_buf(struct bf_set *s, const char *name, const char *buf, size_t len, char *err,
		size_t errlen)
{
	struct ctx c = { .s = s, .file = name, .err = err, .errlen = errlen };
	size_t i = 0;
	char *copy;
	int rc;

	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i == len)
		return fail(&c, ": empty file");
	if (memchr(buf, '\0', len))
		return fail(&c, ": binary data, not a benchmark results file");
	copy = strndup(buf, len);	/* cJSON and the line splitter want a terminated string */
	if (!copy)
		return fail(&c, ": out of memory");
	if (buf[i] == '{' || buf[i] == '[')
		rc = load_json(&c, copy, len);
	else
		rc = load_gobench(&c, copy, len);
	free(copy);
	if (!rc && !c.added)
		rc = fail(&c, buf[i] == '{' || buf[i] == '[' ?
			  ": no results (no scenarios or benchmarks with any metric)" :
			  ": no 'BenchmarkName N value unit' lines");
	if (!rc)
		s->nfiles++;
	return rc;
}
