/*
 * scenario — the scenario table, the YAML reader (libyaml document API) and the writer.
 *
 * sc_keys[] is the one list of settable fields: dotted key, type, offset, range. The YAML
 * walker turns nested mappings into dotted keys ("queue:" + "qps:" -> "queue.qps") and
 * hands every scalar to sc_apply(); scenario_set() calls sc_apply() directly. Both
 * therefore accept exactly the same keys and values, and docs/scenarios.md documents
 * this table (a test checks that every key is there).
 *
 * Strings are stored zero-padded (memset before copy), so two scenarios holding the same
 * values compare equal with memcmp; the round-trip test relies on that.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bench/scenario.h"
#include "common/units.h"
#include "common/utf8.h"

/* From $(B)/gen/scenario_default.c (mk/scenario.mk): scenarios/default.yaml's bytes. */
extern const char scenario_default_yaml[];
extern const size_t scenario_default_yaml_len;

#define SC_MAX_FILE (1u << 20)
#define NS_S 1000000000ull
#define NS_H (3600ull * NS_S)

enum sc_type { T_U64, T_U32, T_DOUBLE, T_DURATION, T_DUR_UC, T_SIZE, T_BOOL, T_ENUM, T_STRING,
	       T_NAME };

struct sc_key {
	const char *key;
	enum sc_type type;
	size_t off;
	size_t size;		/* bytes of the field (strings: the buffer) */
	uint64_t umin, umax;	/* integers, durations, sizes */
	double dmin, dmax;	/* doubles */
	const char *const *names; /* enums: value i is names[i]; NULL-terminated */
};

_Static_assert(sizeof(enum sc_workload) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum sc_limiter) == sizeof(int), "enums are stored as int");

static const char *const workload_names[] = { "noop", "replicaset", "backup", "rollout",
					      "plugin", NULL };
static const char *const mode_names[] = { "e2e", "queue", NULL };
static const char *const qkind_names[] = { "client-go", "priority", NULL };
static const char *const limiter_names[] = { "default", "exponential", "bucket", "none", NULL };
static const char *const list_names[] = { "scan", "index", NULL };

#define F(field) offsetof(struct scenario, field), sizeof(((struct scenario *)0)->field)
#define U64(k, f, lo, hi) { k, T_U64, F(f), lo, hi, 0, 0, NULL }
#define U32(k, f, lo, hi) { k, T_U32, F(f), lo, hi, 0, 0, NULL }
#define DBL(k, f, lo, hi) { k, T_DOUBLE, F(f), 0, 0, lo, hi, NULL }
#define DUR(k, f, lo, hi) { k, T_DURATION, F(f), lo, hi, 0, 0, NULL }
#define SIZE(k, f, lo, hi) { k, T_SIZE, F(f), lo, hi, 0, 0, NULL }
#define BOOL(k, f) { k, T_BOOL, F(f), 0, 1, 0, 0, NULL }
#define ENUM(k, f, n) { k, T_ENUM, F(f), 0, 0, 0, 0, n }
#define STR(k, f) { k, T_STRING, F(f), 0, 0, 0, 0, NULL }

/* Grouped by section: the writer opens a mapping whenever the prefix changes. */
static const struct sc_key sc_keys[] = {
	{ "name", T_NAME, F(name), 0, 0, 0, 0, NULL },
	STR("description", description),
	ENUM("workload", workload, workload_names),
	STR("plugin", plugin),
	ENUM("mode", mode, mode_names),
	U64("objects", objects, 1, 100000000),
	U32("workers", workers, 1, 1024),
	{ "duration", T_DUR_UC, F(duration_ns), 0, 24 * NS_H, 0, 0, NULL },
	DUR("deadline", deadline_ns, 1000000, 24 * NS_H),
	U64("seed", seed, 0, UINT64_MAX),
	U32("repeat", repeat, 1, 1000),
	DUR("resync", resync_ns, 0, 24 * NS_H),
	U64("watch_history", watch_history, 1, 1000000000),
	DUR("sample_interval", sample_interval_ns, 1000000, NS_H),
	ENUM("queue.kind", queue.kind, qkind_names),
	ENUM("queue.rate_limiter", queue.limiter, limiter_names),
	DUR("queue.base_delay", queue.base_delay_ns, 0, 24 * NS_H),
	DUR("queue.max_delay", queue.max_delay_ns, 0, 24 * NS_H),
	DBL("queue.qps", queue.qps, 0.001, 1e9),
	U32("queue.burst", queue.burst, 1, 1000000000),
	DUR("reconcile.cpu", reconcile.cpu_ns, 0, 10 * NS_S),
	U32("reconcile.allocs", reconcile.allocs, 0, 1000000),
	SIZE("reconcile.alloc_size", reconcile.alloc_size, 0, 1ull << 30),
	DBL("reconcile.fail_rate", reconcile.fail_rate, 0, 1),
	DBL("reconcile.terminal_rate", reconcile.terminal_rate, 0, 1),
	DBL("reconcile.panic_rate", reconcile.panic_rate, 0, 1),
	DBL("reconcile.requeue_after_rate", reconcile.requeue_after_rate, 0, 1),
	DUR("reconcile.requeue_after", reconcile.requeue_after_ns, 0, 24 * NS_H),
	BOOL("reconcile.generation_predicate", reconcile.generation_predicate),
	U32("params.replicas", wl.replicas, 0, 10000),
	U32("params.backups_per_policy", wl.backups_per_policy, 0, 1000000),
	ENUM("params.list", wl.list, list_names),
	U32("params.dependants", wl.dependants, 0, 10000),
	SIZE("params.payload_size", wl.payload_size, 0, 64ull << 20),
	DBL("churn.creates", churn.creates_per_s, 0, 1e7),
	DBL("churn.updates", churn.updates_per_s, 0, 1e7),
	DBL("churn.deletes", churn.deletes_per_s, 0, 1e7),
};
#define SC_NKEYS (sizeof(sc_keys) / sizeof(sc_keys[0]))

static const char *const sections[] = { "queue", "reconcile", "params", "churn" };

void scenario_defaults(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "default");
	sc->workload = SC_WL_NOOP;
	sc->mode = SC_MODE_E2E;
	sc->objects = 1000;
	sc->workers = 2;
	sc->duration_ns = 0;
	sc->deadline_ns = 60 * NS_S;
	sc->seed = 1;
	sc->repeat = 1;
	sc->resync_ns = 0;
	sc->watch_history = 100000;
	sc->sample_interval_ns = 100000000ull;
	sc->queue.kind = SC_Q_CLIENTGO;
	sc->queue.limiter = SC_RL_DEFAULT;
	sc->queue.base_delay_ns = 5000000ull;
	sc->queue.max_delay_ns = 1000 * NS_S;
	sc->queue.qps = 10;
	sc->queue.burst = 100;
	sc->wl.replicas = 3;
	sc->wl.backups_per_policy = 10;
	sc->wl.list = SC_LIST_SCAN;
	sc->wl.dependants = 3;
	sc->wl.payload_size = 1024;
}

const char *scenario_workload_name(enum sc_workload w)
{
	if ((unsigned)w >= SC_WL_PLUGIN + 1u)
		return "?";
	return workload_names[w];
}

const char *scenario_key_name(size_t i)
{
	return i < SC_NKEYS ? sc_keys[i].key : NULL;
}

static const struct sc_key *sc_find(const char *key)
{
	for (size_t i = 0; i < SC_NKEYS; i++)
		if (!strcmp(sc_keys[i].key, key))
			return &sc_keys[i];
	return NULL;
}

/* Levenshtein distance, for "did you mean" (keys are short). */
/*
 * Levenshtein distance of a and b when it is at most max, else max + 1. A suggestion only
 * needs small distances, and the bound keeps a long unknown key from costing a full table
 * against every known one.
 */
static size_t edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63 || (la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t rowmin = cur[0] = i;

		for (size_t j = 1; j <= lb; j++) {
			size_t d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
			if (d < rowmin)
				rowmin = d;
		}
		if (rowmin > max)	/* rows never decrease below their minimum */
			return max + 1;
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb] <= max ? prev[lb] : max + 1;
}

static void unknown_key(const char *key, char *err, size_t errlen)
{
	const char *best = NULL;
	size_t n = strlen(key), bestd = n > 6 ? 3 : 2; /* suggest within 2 (long) or 1 edit */
	static const char *const extra[] = { "queue", "reconcile", "params", "churn", "faults" };

	for (size_t i = 0; i < SC_NKEYS + 5; i++) {
		const char *k = i < SC_NKEYS ? sc_keys[i].key : extra[i - SC_NKEYS];
		size_t d = edit_distance(key, k, bestd - 1);
		if (d < bestd) {
			bestd = d;
			best = k;
			if (!d)
				break;
		}
	}
	if (best && bestd == 0 && strcmp(best, "faults"))
		snprintf(err, errlen, "'%s' is a section: set '%s.<key>'", key, key);
	else if (best && bestd <= (n > 6 ? 2u : 1u))
		snprintf(err, errlen, "unknown key '%s' (did you mean '%s'?)", key, best);
	else
		snprintf(err, errlen, "unknown key '%s'", key);
}

static void enum_list(const char *const *names, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; names[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

static void set_string(char *dst, size_t size, const char *v)
{
	memset(dst, 0, size);
	memcpy(dst, v, strlen(v));
}

static bool valid_name(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '_' || *v == '-' || *v == '.'))
			return false;
	return true;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", "True", "TRUE", NULL };
	static const char *const f[] = { "false", "no", "off", "False", "FALSE", NULL };

	for (int i = 0; t[i]; i++) {
		if (!strcmp(v, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void fmt_dur_range(uint64_t ns, char *buf, size_t len)
{
	if (!ns)
		snprintf(buf, len, "0s");
	else if (ns % NS_H == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ns / NS_H));
	else if (ns && ns % NS_S == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / NS_S));
	else if (ns && ns % 1000000 == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000));
	else
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

static void fmt_size(uint64_t b, char *buf, size_t len);

/* Sets one field from text; the message names the key and the value, without location. */
static int sc_apply(struct scenario *sc, const struct sc_key *k, const char *v, char *err,
		    size_t errlen)
{
	char *p = (char *)sc + k->off, a[32], b[32], names[128];
	uint64_t u;
	double d;
	bool bv;
	int rc;

	switch (k->type) {
	case T_U64:
	case T_U32:
		if (units_u64(v, k->umin, k->umax, &u))
			goto range;
		if (k->type == T_U64)
			memcpy(p, &u, sizeof(uint64_t));
		else
			*(uint32_t *)(void *)p = (uint32_t)u;
		return 0;
	case T_DOUBLE:
		if (units_double(v, k->dmin, k->dmax, &d))
			goto range;
		memcpy(p, &d, sizeof(d));
		return 0;
	case T_DUR_UC:
		if (!strcmp(v, "until_converged")) {
			u = 0;
			memcpy(p, &u, sizeof(u));
			return 0;
		}
		/* fall through */
	case T_DURATION:
		rc = units_duration_ns(v, NS_S, &u);
		if (rc || u < k->umin || u > k->umax) {
			fmt_dur_range(k->umin, a, sizeof(a));
			fmt_dur_range(k->umax, b, sizeof(b));
			snprintf(err, errlen, "'%s' must be a duration %s..%s (like 500ms or 2s%s), "
				 "got '%s'", k->key, a, b,
				 k->type == T_DUR_UC ? ", or until_converged" : "", v);
			return -EINVAL;
		}
		memcpy(p, &u, sizeof(u));
		return 0;
	case T_SIZE:
		if (units_size(v, &u) || u < k->umin || u > k->umax) {
			fmt_size(k->umin, a, sizeof(a));
			fmt_size(k->umax, b, sizeof(b));
			snprintf(err, errlen, "'%s' must be a size %s..%s (bytes, or like 4KiB), "
				 "got '%s'", k->key, a, b, v);
			return -EINVAL;
		}
		memcpy(p, &u, sizeof(u));
		return 0;
	case T_BOOL:
		if (parse_bool(v, &bv)) {
			snprintf(err, errlen, "'%s' must be true or false, got '%s'", k->key, v);
			return -EINVAL;
		}
		*(bool *)(void *)p = bv;
		return 0;
	case T_ENUM:
		for (int i = 0; k->names[i]; i++) {
			if (!strcmp(v, k->names[i])) {
				*(int *)(void *)p = i;
				return 0;
			}
		}
		enum_list(k->names, names, sizeof(names));
		snprintf(err, errlen, "'%s' must be one of %s, got '%s'", k->key, names, v);
		return -EINVAL;
	case T_NAME:
		if (!valid_name(v)) {
			snprintf(err, errlen, "'%s' must be letters, digits, '.', '_' or '-', "
				 "got '%s'", k->key, v);
			return -EINVAL;
		}
		/* fall through */
	case T_STRING:
		if (!utf8_valid(v)) {
			snprintf(err, errlen, "'%s' must be UTF-8 text", k->key);
			return -EINVAL;
		}
		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "'%s' must be shorter than %zu bytes, got %zu",
				 k->key, k->size, strlen(v));
			return -EINVAL;
		}
		set_string(p, k->size, v);
		return 0;
	}
	return -EINVAL;
range:
	if (k->type == T_DOUBLE)
		snprintf(err, errlen, "'%s' must be %g..%g, got '%s'", k->key, k->dmin, k->dmax, v);
	else
		snprintf(err, errlen, "'%s' must be %llu..%llu, got '%s'", k->key,
			 (unsigned long long)k->umin, (unsigned long long)k->umax, v);
	return -EINVAL;
}

/* ---- faults ---- */

static bool valid_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n >= max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static int fault_add_param(struct sc_fault *f, const char *k, const char *v, int line, int col,
			   char *err, size_t errlen)
{
	struct sc_fault_param *p;

	if (!valid_ident(k, sizeof(p->key))) {
		snprintf(err, errlen, "fault '%s': bad parameter name '%s' (letters, digits, "
			 "'_', '-', '.'; under %zu bytes)", f->type, k, sizeof(p->key));
		return -EINVAL;
	}
	if (!strcmp(k, "type")) {
		snprintf(err, errlen, "fault '%s': 'type' given twice", f->type);
		return -EINVAL;
	}
	if (sc_fault_param(f, k)) {
		snprintf(err, errlen, "fault '%s': duplicate parameter '%s'", f->type, k);
		return -EINVAL;
	}
	if (f->nparams >= SC_MAX_FAULT_PARAMS) {
		snprintf(err, errlen, "fault '%s': more than %d parameters", f->type,
			 SC_MAX_FAULT_PARAMS);
		return -EINVAL;
	}
	if (!utf8_valid(v)) {
		snprintf(err, errlen, "fault '%s': value of '%s' must be UTF-8 text", f->type, k);
		return -EINVAL;
	}
	if (strlen(v) >= sizeof(p->val)) {
		snprintf(err, errlen, "fault '%s': value of '%s' must be shorter than %zu bytes",
			 f->type, k, sizeof(p->val));
		return -EINVAL;
	}
	p = &f->params[f->nparams++];
	set_string(p->key, sizeof(p->key), k);
	set_string(p->val, sizeof(p->val), v);
	p->line = line;
	p->col = col;
	return 0;
}

static struct sc_fault *fault_new(struct scenario *sc, const char *type, int line, int col,
				  char *err, size_t errlen)
{
	struct sc_fault *f;

	if (sc->nfaults >= SC_MAX_FAULTS) {
		snprintf(err, errlen, "more than %d faults", SC_MAX_FAULTS);
		return NULL;
	}
	if (!valid_ident(type, sizeof(f->type))) {
		snprintf(err, errlen, "fault 'type' must be a name (letters, digits, '_'), got '%s'",
			 type);
		return NULL;
	}
	f = &sc->faults[sc->nfaults++];
	memset(f, 0, sizeof(*f));
	set_string(f->type, sizeof(f->type), type);
	f->line = line;
	f->col = col;
	return f;
}

const struct sc_fault_param *sc_fault_param(const struct sc_fault *f, const char *key)
{
	for (size_t i = 0; i < f->nparams; i++)
		if (!strcmp(f->params[i].key, key))
			return &f->params[i];
	return NULL;
}

/* "TYPE[:k=v,k=v]" from --set fault=... */
static int fault_from_text(struct scenario *sc, const char *text, char *err, size_t errlen)
{
	char buf[1024], *colon, *save, *tok;
	struct sc_fault *f;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "'fault' is too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = 0;
	f = fault_new(sc, buf, 0, 0, err, errlen);
	if (!f)
		return -EINVAL;
	for (tok = colon ? strtok_r(colon, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(err, errlen, "'fault' parameters are k=v separated by commas, "
				 "got '%s'", tok);
			sc->nfaults--;
			return -EINVAL;
		}
		*eq = 0;
		if (fault_add_param(f, tok, eq + 1, 0, 0, err, errlen)) {
			sc->nfaults--;
			return -EINVAL;
		}
	}
	return 0;
}

int scenario_set(struct scenario *sc, const char *key, const char *value, char *err,
		 size_t errlen)
{
	const struct sc_key *k;

	if (!strcmp(key, "fault") || !strcmp(key, "faults"))
		return fault_from_text(sc, value, err, errlen);
	k = sc_find(key);
	if (!k) {
		unknown_key(key, err, errlen);
		return -EINVAL;
	}
	return sc_apply(sc, k, value, err, errlen);
}

/* ---- YAML ---- */

struct ydoc {
	yaml_document_t doc;
	struct scenario *sc;
	const char *file;
	char *err;
	size_t errlen;
};

static int yerr(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int yerr(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->file, n->start_mark.line + 1,
		 n->start_mark.column + 1, msg);
	return -EINVAL;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a value";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Rejects repeated keys in one mapping (libyaml keeps them all). */
static int check_pairs(struct ydoc *y, const yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

		if (!k || k->type != YAML_SCALAR_NODE)
			return yerr(y, k ? k : map, "keys must be plain names, got %s",
				    k ? node_kind(k) : "nothing");
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(&y->doc, q->key);
			if (!strcmp(scalar(k), scalar(k2)))
				return yerr(y, k, "duplicate key '%s%s' (first at line %zu)",
					    prefix, scalar(k), k2->start_mark.line + 1);
		}
	}
	return 0;
}

static int load_fault(struct ydoc *y, yaml_node_t *m)
{
	yaml_node_t *type = NULL;
	struct sc_fault *f;
	char err[512];
	int rc;

	if (m->type != YAML_MAPPING_NODE)
		return yerr(y, m, "each fault must be a mapping with 'type:', got %s", node_kind(m));
	rc = check_pairs(y, m, "faults[].");
	if (rc)
		return rc;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);

		if (v->type != YAML_SCALAR_NODE)
			return yerr(y, v, "fault parameter '%s' must be a value, got %s", scalar(k),
				    node_kind(v));
		if (!strcmp(scalar(k), "type"))
			type = v;
	}
	if (!type)
		return yerr(y, m, "fault without 'type'");
	f = fault_new(y->sc, scalar(type), (int)m->start_mark.line + 1,
		      (int)m->start_mark.column + 1, err, sizeof(err));
	if (!f)
		return yerr(y, type, "%s", err);
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);

		if (v == type)
			continue;
		if (fault_add_param(f, scalar(k), scalar(v), (int)v->start_mark.line + 1,
				    (int)v->start_mark.column + 1, err, sizeof(err)))
			return yerr(y, k, "%s", err);
	}
	return 0;
}

static int load_faults(struct ydoc *y, yaml_node_t *seq)
{
	if (seq->type == YAML_SCALAR_NODE && !*scalar(seq))
		return 0;	/* "faults:" with nothing: none */
	if (seq->type != YAML_SEQUENCE_NODE)
		return yerr(y, seq, "'faults' must be a list of mappings, got %s", node_kind(seq));
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		int rc = load_fault(y, yaml_document_get_node(&y->doc, *i));
		if (rc)
			return rc;
	}
	return 0;
}

static bool is_section(const char *k)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(k, sections[i]))
			return true;
	return false;
}

static int load_map(struct ydoc *y, yaml_node_t *map, const char *prefix)
{
	int rc = check_pairs(y, map, prefix);

	if (rc)
		return rc;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);
		char key[128], err[512];
		const struct sc_key *sk;

		snprintf(key, sizeof(key), "%s%s", prefix, scalar(k));
		if (!*prefix && is_section(key)) {
			if (v->type != YAML_MAPPING_NODE)
				return yerr(y, v, "'%s' must be a mapping of keys, got %s", key,
					    node_kind(v));
			strcat(key, ".");
			rc = load_map(y, v, key);
		} else if (!*prefix && !strcmp(key, "faults")) {
			rc = load_faults(y, v);
		} else if (!(sk = sc_find(key))) {
			unknown_key(key, err, sizeof(err));
			rc = yerr(y, k, "%s", err);
		} else if (v->type != YAML_SCALAR_NODE) {
			rc = yerr(y, v, "'%s' must be a value, got %s", key, node_kind(v));
		} else if (!*scalar(v) && sk->type != T_STRING) {
			rc = yerr(y, v, "'%s' needs a value", key);
		} else if (sc_apply(y->sc, sk, scalar(v), err, sizeof(err))) {
			rc = yerr(y, v, "%s", err);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static void default_name(struct scenario *sc, const char *file)
{
	const char *base = strrchr(file, '/');
	char buf[sizeof(sc->name)];
	size_t n;

	base = base ? base + 1 : file;
	n = strcspn(base, ".");
	if (!n || n >= sizeof(buf) || base[0] == '<')	/* "<embedded>" keeps "default" */
		return;
	memcpy(buf, base, n);
	buf[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!valid_name((char[]){ buf[i], 0 }))
			buf[i] = '_';
	set_string(sc->name, sizeof(sc->name), buf);
}

static int yaml_syntax_error(yaml_parser_t *ps, const char *file, char *err, size_t errlen)
{
	const char *what = ps->problem ? ps->problem : "cannot parse";
	yaml_mark_t m = ps->problem_mark;

	if (ps->error == YAML_MEMORY_ERROR) {
		snprintf(err, errlen, "%s: out of memory reading YAML", file);
		return -ENOMEM;
	}
	if (ps->context)
		snprintf(err, errlen, "%s:%zu:%zu: invalid YAML: %s %s (started at line %zu)", file,
			 m.line + 1, m.column + 1, what, ps->context, ps->context_mark.line + 1);
	else
		snprintf(err, errlen, "%s:%zu:%zu: invalid YAML: %s", file, m.line + 1,
			 m.column + 1, what);
	return -EINVAL;
}

int scenario_load_string(struct scenario *sc, const char *yaml, size_t len, const char *name,
			 char *err, size_t errlen)
{
	struct ydoc y = { .sc = sc, .file = name, .err = err, .errlen = errlen };
	yaml_parser_t ps;
	yaml_document_t extra;
	yaml_node_t *root;
	int rc;

	scenario_defaults(sc);
	set_string(sc->file, sizeof(sc->file), name);
	default_name(sc, name);
	if (!yaml_parser_initialize(&ps)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ps, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&ps, &y.doc)) {
		rc = yaml_syntax_error(&ps, name, err, errlen);
		yaml_parser_delete(&ps);
		return rc;
	}
	root = yaml_document_get_root_node(&y.doc);
	if (!root) {
		snprintf(err, errlen, "%s:1:1: empty scenario (expected a mapping of keys)", name);
		rc = -EINVAL;
	} else if (root->type != YAML_MAPPING_NODE) {
		rc = yerr(&y, root, "a scenario must be a mapping of keys, got %s",
			  node_kind(root));
	} else {
		rc = load_map(&y, root, "");
	}
	if (!rc) {
		if (!yaml_parser_load(&ps, &extra)) {
			rc = yaml_syntax_error(&ps, name, err, errlen);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);
			if (r2)
				rc = yerr(&y, r2, "more than one YAML document");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&y.doc);
	yaml_parser_delete(&ps);
	return rc;
}

int scenario_load_file(struct scenario *sc, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	buf = malloc(SC_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = fread(buf, 1, SC_MAX_FILE + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	} else if (n > SC_MAX_FILE) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %u bytes; not a scenario", path, SC_MAX_FILE);
	} else {
		rc = scenario_load_string(sc, buf, n, path, err, errlen);
	}
	fclose(f);
	free(buf);
	return rc;
}

int scenario_load_embedded(struct scenario *sc, char *err, size_t errlen)
{
	return scenario_load_string(sc, scenario_default_yaml, scenario_default_yaml_len,
				    "<embedded>", err, errlen);
}

int scenario_validate(const struct scenario *sc, char *err, size_t errlen)
{
	double rates = sc->reconcile.fail_rate + sc->reconcile.terminal_rate +
		       sc->reconcile.panic_rate + sc->reconcile.requeue_after_rate;

	if (sc->workload == SC_WL_PLUGIN && !sc->plugin[0]) {
		snprintf(err, errlen, "%s: 'workload: plugin' needs 'plugin' (a shared library path)",
			 sc->file);
		return -EINVAL;
	}
	if (sc->workload != SC_WL_PLUGIN && sc->plugin[0]) {
		snprintf(err, errlen, "%s: 'plugin' is set but 'workload' is %s, not plugin",
			 sc->file, scenario_workload_name(sc->workload));
		return -EINVAL;
	}
	if (rates > 1.0 + 1e-9) {
		snprintf(err, errlen, "%s: reconcile fail_rate + terminal_rate + panic_rate + "
			 "requeue_after_rate must be at most 1, got %g", sc->file, rates);
		return -EINVAL;
	}
	if (sc->queue.base_delay_ns > sc->queue.max_delay_ns) {
		snprintf(err, errlen, "%s: 'queue.base_delay' must not exceed 'queue.max_delay'",
			 sc->file);
		return -EINVAL;
	}
	if (sc->mode == SC_MODE_QUEUE) {
		if (sc->workload != SC_WL_NOOP && sc->workload != SC_WL_PLUGIN) {
			snprintf(err, errlen, "%s: 'mode: queue' has no store, so 'workload' must be "
				 "noop or plugin, got %s", sc->file,
				 scenario_workload_name(sc->workload));
			return -EINVAL;
		}
		if (sc->churn.creates_per_s > 0 || sc->churn.updates_per_s > 0 ||
		    sc->churn.deletes_per_s > 0) {
			snprintf(err, errlen, "%s: 'churn' has no effect in 'mode: queue' (the "
				 "producer adds keys itself); remove it", sc->file);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- writer ---- */

/*
 * A double-quoted YAML scalar. Strings are valid UTF-8 (scenario_set checks); the code
 * points a YAML reader refuses to see raw (C0 and C1 controls, DEL, the BOM, U+FFFE/FFFF)
 * are escaped, so what is written reads back as the same bytes.
 */
static void yaml_quote(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;
	uint32_t cp;

	fputc('"', fp);
	for (; left; p += n, left -= n) {
		n = utf8_decode(p, left, &cp);
		if (!n) {		/* not reachable through scenario_set; keep the bytes out */
			n = 1;
			fputs("\\uFFFD", fp);
		} else if (cp == '"' || cp == '\\')
			fprintf(fp, "\\%c", (int)cp);
		else if (cp == '\n')
			fputs("\\n", fp);
		else if (cp == '\t')
			fputs("\\t", fp);
		else if (cp < 0x20 || cp == 0x7f)
			fprintf(fp, "\\x%02x", (unsigned)cp);
		else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
			fprintf(fp, "\\u%04X", (unsigned)cp);
		else
			fwrite(p, 1, n, fp);
	}
	fputc('"', fp);
}

static void fmt_double(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static void fmt_size(uint64_t b, char *buf, size_t len)
{
	if (b && b % (1ull << 30) == 0)
		snprintf(buf, len, "%lluGiB", (unsigned long long)(b >> 30));
	else if (b && b % (1ull << 20) == 0)
		snprintf(buf, len, "%lluMiB", (unsigned long long)(b >> 20));
	else if (b && b % 1024 == 0)
		snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)b);
}

static void fmt_dur(uint64_t ns, char *buf, size_t len)
{
	if (ns && ns % 1000 == 0 && ns % 1000000 && ns % NS_S)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
	else
		fmt_dur_range(ns, buf, len);
}

/* The value of key as scenario text (what scenario_set would accept back). */
int scenario_get(const struct scenario *sc, const char *key, char *buf, size_t len)
{
	const struct sc_key *k = sc_find(key);
	const char *p;
	uint64_t u;
	double d;

	if (!k)
		return -ENOENT;
	p = (const char *)sc + k->off;
	switch (k->type) {
	case T_U64:
		memcpy(&u, p, sizeof(u));
		snprintf(buf, len, "%llu", (unsigned long long)u);
		break;
	case T_U32:
		snprintf(buf, len, "%u", *(const uint32_t *)(const void *)p);
		break;
	case T_DOUBLE:
		memcpy(&d, p, sizeof(d));
		fmt_double(d, buf, len);
		break;
	case T_DUR_UC:
	case T_DURATION:
		memcpy(&u, p, sizeof(u));
		if (k->type == T_DUR_UC && !u)
			snprintf(buf, len, "until_converged");
		else
			fmt_dur(u, buf, len);
		break;
	case T_SIZE:
		memcpy(&u, p, sizeof(u));
		fmt_size(u, buf, len);
		break;
	case T_BOOL:
		snprintf(buf, len, "%s", *(const bool *)(const void *)p ? "true" : "false");
		break;
	case T_ENUM: {
		int i = *(const int *)(const void *)p, n = 0;
		while (k->names[n])
			n++;
		snprintf(buf, len, "%s", i >= 0 && i < n ? k->names[i] : "?");
		break;
	}
	case T_NAME:
	case T_STRING:
		snprintf(buf, len, "%s", p);
		break;
	}
	return 0;
}

int scenario_write_yaml(const struct scenario *sc, FILE *fp)
{
	const char *section = "";
	size_t seclen = 0;
	char val[PATH_MAX + 8];

	fprintf(fp, "# reconperf scenario (docs/scenarios.md)\n");
	for (size_t i = 0; i < SC_NKEYS; i++) {
		const struct sc_key *k = &sc_keys[i];
		const char *dot = strchr(k->key, '.');
		size_t sl = dot ? (size_t)(dot - k->key) : 0;

		if (sl != seclen || strncmp(section, k->key, sl)) {
			if (sl)
				fprintf(fp, "%.*s:\n", (int)sl, k->key);
			section = k->key;
			seclen = sl;
		}
		scenario_get(sc, k->key, val, sizeof(val));
		if ((k->type == T_STRING) && !val[0])
			continue;
		fprintf(fp, "%s%s: ", sl ? "  " : "", sl ? dot + 1 : k->key);
		if (k->type == T_STRING || k->type == T_NAME)
			yaml_quote(fp, val);
		else
			fputs(val, fp);
		fputc('\n', fp);
	}
	if (sc->nfaults)
		fputs("faults:\n", fp);
	for (size_t i = 0; i < sc->nfaults; i++) {
		const struct sc_fault *f = &sc->faults[i];

		fputs("  - type: ", fp);
		yaml_quote(fp, f->type);
		fputc('\n', fp);
		for (size_t j = 0; j < f->nparams; j++) {
			fputs("    ", fp);
			yaml_quote(fp, f->params[j].key);
			fputs(": ", fp);
			yaml_quote(fp, f->params[j].val);
			fputc('\n', fp);
		}
	}
	return ferror(fp) ? -EIO : 0;
}
