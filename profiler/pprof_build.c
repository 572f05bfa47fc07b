/*
 * pprof_build — the pprof builder: interns strings, deduplicates program counters into
 * locations and names into functions, aggregates identical samples, symbolizes against a
 * live process and encodes a gzipped profile.proto. See pprof.h.
 */
#include "profiler/pprof.h"
#include "profiler/pprof_int.h"
#include "profiler/symbolize.h"
#include "common/afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* ---- an open-addressing index: hash -> element number, equality by callback ---- */

struct htab {
	uint32_t *slot;		/* element number + 1; 0 = empty */
	uint64_t *hash;
	size_t cap, n;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

typedef int (*ht_eq)(const void *ctx, uint32_t elem, const void *key);

/* Returns the element number or -1; *pos gets the slot for an insert. */
static long ht_find(const struct htab *t, uint64_t h, ht_eq eq, const void *ctx, const void *key,
		    size_t *pos)
{
	size_t i;

	if (!t->cap) {
		*pos = 0;
		return -1;
	}
	for (i = h & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (t->hash[i] == h && eq(ctx, t->slot[i] - 1, key))
			return t->slot[i] - 1;
	*pos = i;
	return -1;
}

static int ht_grow(struct htab *t)
{
	size_t cap = t->cap ? 2 * t->cap : 256;
	uint32_t *slot = calloc(cap, sizeof(*slot));
	uint64_t *hash = calloc(cap, sizeof(*hash));

	if (!slot || !hash) {
		free(slot);
		free(hash);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->slot[i])
			continue;
		for (j = t->hash[i] & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
			;
		slot[j] = t->slot[i];
		hash[j] = t->hash[i];
	}
	free(t->slot);
	free(t->hash);
	t->slot = slot;
	t->hash = hash;
	t->cap = cap;
	return 0;
}

/* Inserts elem at the slot ht_find gave (re-finding it when the table grows). */
static int ht_insert(struct htab *t, uint64_t h, size_t pos, uint32_t elem)
{
	if ((t->n + 1) * 4 > t->cap * 3) {
		int rc = ht_grow(t);

		if (rc)
			return rc;
		for (pos = h & (t->cap - 1); t->slot[pos]; pos = (pos + 1) & (t->cap - 1))
			;
	}
	t->slot[pos] = elem + 1;
	t->hash[pos] = h;
	t->n++;
	return 0;
}

static void ht_fini(struct htab *t)
{
	free(t->slot);
	free(t->hash);
}

/* ---- the builder ---- */

struct bline {
	uint64_t function_id;
	int64_t line;
};

struct bloc {
	uint64_t address;	/* 0 for a symbolic location */
	struct bline *lines;
	size_t nlines;
};

struct bfunc {
	int64_t name, system_name, filename, start_line;
};

struct blabel {
	int64_t key, str, num, num_unit;
};

struct bsample {
	uint64_t *locs;
	size_t nlocs;
	int64_t *values;
	struct blabel *labels;
	size_t nlabels;
};

struct bmap {
	uint64_t start, limit, offset;
	int64_t filename, build_id;
	bool symbolized;
};

#define GROW(arr, n, cap)                                                                    \
	({                                                                                   \
		int rc_ = 0;                                                                 \
		if ((n) == (cap)) {                                                          \
			size_t nc_ = (cap) ? 2 * (cap) : 64;                                 \
			void *na_ = realloc((arr), nc_ * sizeof(*(arr)));                    \
			if (na_) {                                                           \
				(arr) = na_;                                                 \
				(cap) = nc_;                                                 \
			} else {                                                             \
				rc_ = -ENOMEM;                                               \
			}                                                                    \
		}                                                                            \
		rc_;                                                                         \
	})

struct pprof_builder {

	int64_t *type_idx, *unit_idx;
	size_t ntypes;
	int64_t period_type, period_unit, period, default_type, time_nanos, duration_nanos;
	bool has_period_type;

	char **strs;
	size_t nstrs, capstrs;
	struct htab strtab;

	struct bfunc *funcs;
	size_t nfuncs, capfuncs;
	struct htab functab;	/* by name index (symbolic) and by (name, file, line) */

	struct bloc *locs;
	size_t nlocs, caplocs;
	struct htab addrtab;	/* address -> location */
	struct htab symtab;	/* function id -> symbolic location */

	struct bsample *samples;
	size_t nsamples, capsamples;
	struct htab sampletab;

	struct bmap *maps;
	size_t nmaps, capmaps;

	int64_t *comments;
	size_t ncomments, capcomments;
};

static int str_eq(const void *ctx, uint32_t e, const void *key)
{
	return !strcmp(((const struct pprof_builder *)ctx)->strs[e], key);
}

/* Interns s; returns its index or -ENOMEM. */
static int64_t intern(struct pprof_builder *b, const char *s)
{
	uint64_t h;
	size_t pos;
	long i;
	char *d;

	if (!s)
		s = "";
	h = hash_str(s);
	i = ht_find(&b->strtab, h, str_eq, b, s, &pos);
	if (i >= 0)
		return i;
	if (GROW(b->strs, b->nstrs, b->capstrs))
		return -ENOMEM;
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	if (ht_insert(&b->strtab, h, pos, (uint32_t)b->nstrs)) {
		free(d);
		return -ENOMEM;
	}
	b->strs[b->nstrs] = d;
	return (int64_t)b->nstrs++;
}

struct pprof_builder *pprof_builder_new(const struct pprof_builder_opts *o)
{
	struct pprof_builder *b = calloc(1, sizeof(*b));
	struct timespec ts;

	if (!b)
		return NULL;
	b->type_idx = calloc(o->nsample_types + 1, sizeof(int64_t));
	b->unit_idx = calloc(o->nsample_types + 1, sizeof(int64_t));
	if (!b->type_idx || !b->unit_idx || intern(b, "") != 0)
		goto err;
	b->ntypes = o->nsample_types;
	for (size_t i = 0; i < o->nsample_types; i++) {
		b->type_idx[i] = intern(b, o->sample_types[i].type);
		b->unit_idx[i] = intern(b, o->sample_types[i].unit);
		if (b->type_idx[i] < 0 || b->unit_idx[i] < 0)
			goto err;
	}
	if (o->period_type.type) {
		b->has_period_type = true;
		b->period_type = intern(b, o->period_type.type);
		b->period_unit = intern(b, o->period_type.unit);
		if (b->period_type < 0 || b->period_unit < 0)
			goto err;
	}
	if (o->default_sample_type && (b->default_type = intern(b, o->default_sample_type)) < 0)
		goto err;
	b->period = o->period;
	b->time_nanos = o->time_nanos;
	if (!b->time_nanos && clock_gettime(CLOCK_REALTIME, &ts) == 0)
		b->time_nanos = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	b->duration_nanos = o->duration_nanos;
	return b;
err:
	pprof_builder_free(b);
	return NULL;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	for (size_t i = 0; i < b->nlocs; i++)
		free(b->locs[i].lines);
	for (size_t i = 0; i < b->nsamples; i++) {
		free(b->samples[i].locs);
		free(b->samples[i].values);
		free(b->samples[i].labels);
	}
	free(b->strs);
	free(b->funcs);
	free(b->locs);
	free(b->samples);
	free(b->maps);
	free(b->comments);
	free(b->type_idx);
	free(b->unit_idx);
	ht_fini(&b->strtab);
	ht_fini(&b->functab);
	ht_fini(&b->addrtab);
	ht_fini(&b->symtab);
	ht_fini(&b->sampletab);
	free(b);
}

void pprof_builder_set_duration(struct pprof_builder *b, int64_t duration_nanos)
{
	b->duration_nanos = duration_nanos;
}

int pprof_builder_add_comment(struct pprof_builder *b, const char *comment)
{
	int64_t s = intern(b, comment);

	if (s < 0 || GROW(b->comments, b->ncomments, b->capcomments))
		return -ENOMEM;
	b->comments[b->ncomments++] = s;
	return 0;
}

size_t pprof_builder_nsamples(const struct pprof_builder *b)
{
	return b->nsamples;
}

int64_t pprof_builder_total(const struct pprof_builder *b, size_t idx)
{
	int64_t t = 0;

	if (idx >= b->ntypes)
		return 0;
	for (size_t i = 0; i < b->nsamples; i++)
		t += b->samples[i].values[idx];
	return t;
}

/* ---- functions and locations ---- */

static int func_eq(const void *ctx, uint32_t e, const void *key)
{
	const struct bfunc *f = &((const struct pprof_builder *)ctx)->funcs[e], *k = key;

	return f->name == k->name && f->system_name == k->system_name &&
	       f->filename == k->filename && f->start_line == k->start_line;
}

/* Returns the function id (1-based) or -ENOMEM. */
static int64_t func_get(struct pprof_builder *b, const char *name, const char *file, int64_t start)
{
	struct bfunc k;
	uint64_t h;
	size_t pos;
	long i;

	k.name = intern(b, name);
	k.system_name = k.name;
	k.filename = intern(b, file);
	k.start_line = start;
	if (k.name < 0 || k.filename < 0)
		return -ENOMEM;
	h = mix(mix(mix((uint64_t)k.name, (uint64_t)k.filename), (uint64_t)start), 7);
	i = ht_find(&b->functab, h, func_eq, b, &k, &pos);
	if (i >= 0)
		return i + 1;
	if (GROW(b->funcs, b->nfuncs, b->capfuncs) ||
	    ht_insert(&b->functab, h, pos, (uint32_t)b->nfuncs))
		return -ENOMEM;
	b->funcs[b->nfuncs++] = k;
	return (int64_t)b->nfuncs;
}

static int addr_eq(const void *ctx, uint32_t e, const void *key)
{
	const struct pprof_builder *b = ctx;

	return b->locs[e].address && b->locs[e].address == *(const uint64_t *)key;
}

static int new_loc(struct pprof_builder *b, uint64_t addr)
{
	if (GROW(b->locs, b->nlocs, b->caplocs))
		return -ENOMEM;
	b->locs[b->nlocs] = (struct bloc){ .address = addr };
	return (int)b->nlocs++;
}

/* Location id (1-based) for a program counter, or -ENOMEM. */
static int64_t loc_for_addr(struct pprof_builder *b, uint64_t addr)
{
	uint64_t h = mix(addr, 1);
	size_t pos;
	long i = ht_find(&b->addrtab, h, addr_eq, b, &addr, &pos);
	int n;

	if (i >= 0)
		return i + 1;
	n = new_loc(b, addr);
	if (n < 0 || ht_insert(&b->addrtab, h, pos, (uint32_t)n))
		return -ENOMEM;
	return n + 1;
}

static int sym_eq(const void *ctx, uint32_t e, const void *key)
{
	const struct pprof_builder *b = ctx;

	return !b->locs[e].address && b->locs[e].nlines == 1 &&
	       b->locs[e].lines[0].function_id == *(const uint64_t *)key;
}

/* Location id for a bare function name, or -ENOMEM. */
static int64_t loc_for_name(struct pprof_builder *b, const char *name)
{
	int64_t fid = func_get(b, name, "", 0);
	uint64_t key, h;
	size_t pos;
	long i;
	int n;

	if (fid < 0)
		return fid;
	key = (uint64_t)fid;
	h = mix(key, 2);
	i = ht_find(&b->symtab, h, sym_eq, b, &key, &pos);
	if (i >= 0)
		return i + 1;
	n = new_loc(b, 0);
	if (n < 0)
		return -ENOMEM;
	b->locs[n].lines = malloc(sizeof(struct bline));
	if (!b->locs[n].lines || ht_insert(&b->symtab, h, pos, (uint32_t)n))
		return -ENOMEM;
	b->locs[n].lines[0] = (struct bline){ key, 0 };
	b->locs[n].nlines = 1;
	return n + 1;
}

/* ---- samples ---- */

struct skey {
	const uint64_t *locs;
	size_t nlocs;
	const struct blabel *labels;
	size_t nlabels;
};

static int sample_eq(const void *ctx, uint32_t e, const void *key)
{
	const struct bsample *s = &((const struct pprof_builder *)ctx)->samples[e];
	const struct skey *k = key;

	return s->nlocs == k->nlocs && s->nlabels == k->nlabels &&
	       !memcmp(s->locs, k->locs, k->nlocs * sizeof(*k->locs)) &&
	       !memcmp(s->labels, k->labels, k->nlabels * sizeof(*k->labels));
}

static int add_sample(struct pprof_builder *b, const uint64_t *locs, size_t n,
		      const int64_t *values, const struct pprof_label_kv *labels, size_t nlabels)
{
	struct blabel lab[nlabels ? nlabels : 1];
	struct skey k = { locs, n, lab, nlabels };
	struct bsample *s;
	uint64_t h = 3;
	size_t pos;
	long i;

	memset(lab, 0, sizeof(lab));
	for (size_t j = 0; j < nlabels; j++) {
		lab[j].key = intern(b, labels[j].key);
		lab[j].str = labels[j].str ? intern(b, labels[j].str) : 0;
		lab[j].num = labels[j].str ? 0 : labels[j].num;
		lab[j].num_unit = intern(b, labels[j].num_unit);
		if (lab[j].key < 0 || lab[j].str < 0 || lab[j].num_unit < 0)
			return -ENOMEM;
		h = mix(mix(mix(h, (uint64_t)lab[j].key), (uint64_t)lab[j].str),
			(uint64_t)lab[j].num);
	}
	for (size_t j = 0; j < n; j++)
		h = mix(h, locs[j]);
	i = ht_find(&b->sampletab, h, sample_eq, b, &k, &pos);
	if (i >= 0) {
		int64_t sum[b->ntypes ? b->ntypes : 1];

		for (size_t j = 0; j < b->ntypes; j++)
			if (__builtin_add_overflow(b->samples[i].values[j], values[j], &sum[j]))
				return -ERANGE;	/* the sample is left as it was */
		memcpy(b->samples[i].values, sum, b->ntypes * sizeof(*sum));
		return 0;
	}
	if (GROW(b->samples, b->nsamples, b->capsamples))
		return -ENOMEM;
	s = &b->samples[b->nsamples];
	*s = (struct bsample){ malloc((n + 1) * sizeof(uint64_t)), n,
			       malloc((b->ntypes + 1) * sizeof(int64_t)),
			       malloc((nlabels + 1) * sizeof(struct blabel)), nlabels };
	if (!s->locs || !s->values || !s->labels ||
	    ht_insert(&b->sampletab, h, pos, (uint32_t)b->nsamples)) {
		free(s->locs);
		free(s->values);
		free(s->labels);
		return -ENOMEM;
	}
	if (n)	/* locs may be NULL then */
		memcpy(s->locs, locs, n * sizeof(*locs));
	memcpy(s->values, values, b->ntypes * sizeof(*values));
	memcpy(s->labels, lab, nlabels * sizeof(*lab));
	b->nsamples++;
	return 0;
}

int pprof_builder_add(struct pprof_builder *b, const uint64_t *pcs, size_t n,
		      const int64_t *values, const struct pprof_label_kv *labels, size_t nlabels)
{
	uint64_t ids[n ? n : 1];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		/* a return address points after the call: step back into it, as pprof does */
		uint64_t a = i ? pcs[i] - 1 : pcs[i];
		int64_t id;

		if (!pcs[i])
			continue;
		id = loc_for_addr(b, a);
		if (id < 0)
			return (int)id;
		ids[m++] = (uint64_t)id;
	}
	return add_sample(b, ids, m, values, labels, nlabels);
}

int pprof_builder_add_symbolic(struct pprof_builder *b, const char *const *frames, size_t n,
			       const int64_t *values, const struct pprof_label_kv *labels,
			       size_t nlabels)
{
	uint64_t ids[n ? n : 1];

	for (size_t i = 0; i < n; i++) {
		int64_t id = loc_for_name(b, frames[i]);

		if (id < 0)
			return (int)id;
		ids[i] = (uint64_t)id;
	}
	return add_sample(b, ids, n, values, labels, nlabels);
}

int pprof_builder_add_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			      uint64_t offset, const char *filename, const char *build_id)
{
	int64_t f = intern(b, filename), id = intern(b, build_id);

	if (f < 0 || id < 0 || GROW(b->maps, b->nmaps, b->capmaps))
		return -ENOMEM;
	b->maps[b->nmaps++] = (struct bmap){ start, limit, offset, f, id, false };
	return 0;
}

static uint64_t mapping_for(const struct pprof_builder *b, uint64_t addr)
{
	for (size_t i = 0; i < b->nmaps; i++)
		if (addr >= b->maps[i].start && addr < b->maps[i].limit)
			return i + 1;
	return 0;
}

#define SYM_MAX_INLINE 32

static int symbolize_loc(struct pprof_builder *b, struct symbolizer *sym, struct bloc *l)
{
	struct sym_frame fr[SYM_MAX_INLINE];
	int n = sym_lookup(sym, l->address, fr, SYM_MAX_INLINE);

	if (n <= 0)
		return 0;
	l->lines = calloc(n, sizeof(*l->lines));
	if (!l->lines)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int64_t fid = func_get(b, fr[i].name, fr[i].file, fr[i].start_line);

		if (fid < 0)
			return -ENOMEM;
		l->lines[i] = (struct bline){ (uint64_t)fid, fr[i].line };
	}
	l->nlines = n;
	return 0;
}

static int symbolize_with(struct pprof_builder *b, struct symbolizer *sym);

int pprof_builder_symbolize(struct pprof_builder *b, pid_t pid)
{
	struct symbolizer *sym;
	int rc = sym_new(pid, &sym);

	return rc ? rc : symbolize_with(b, sym);
}

int pprof_builder_symbolize_maps(struct pprof_builder *b, const char *maps_text)
{
	struct symbolizer *sym;
	int rc = sym_new_from_maps(maps_text, &sym);

	return rc ? rc : symbolize_with(b, sym);
}

static unsigned long write_progress;

unsigned long pprof_write_progress(void)
{
	return __atomic_load_n(&write_progress, __ATOMIC_RELAXED);
}

static void progress(void)
{
	__atomic_fetch_add(&write_progress, 1, __ATOMIC_RELAXED);
}

/* Adds sym's mappings, names every address location, and frees sym. */
static int symbolize_with(struct pprof_builder *b, struct symbolizer *sym)
{
	int rc = 0;

	for (size_t i = 0; i < sym_nmaps(sym); i++) {
		const struct sym_map *m = sym_map_at(sym, i);

		rc = pprof_builder_add_mapping(b, m->start, m->limit, m->offset, m->path,
					       m->build_id);
		if (rc)
			goto out;
		b->maps[b->nmaps - 1].symbolized = true;
	}
	for (size_t i = 0; i < b->nlocs; i++) {
		struct bloc *l = &b->locs[i];

		if (!l->address || l->nlines)
			continue;
		progress();
		rc = symbolize_loc(b, sym, l);
		if (rc)
			goto out;
	}
out:
	sym_free(sym);
	return rc;
}

/* ---- encoding ---- */

typedef Perftools__Profiles__Profile PbProfile;

int pprof_pack_gzip(const PbProfile *msg, void **buf, size_t *len)
{
	size_t rawlen = perftools__profiles__profile__get_packed_size(msg);
	uint8_t *raw = malloc(rawlen + 1);
	uLong cap;
	unsigned char *out;
	z_stream zs;
	int rc;

	if (!raw)
		return -ENOMEM;
	perftools__profiles__profile__pack(msg, raw);
	cap = compressBound(rawlen) + 64;
	out = malloc(cap);
	memset(&zs, 0, sizeof(zs));
	if (!out || deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(raw);
		free(out);
		return -ENOMEM;
	}
	zs.next_in = raw;
	zs.avail_in = (uInt)rawlen;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	rc = deflate(&zs, Z_FINISH);
	*len = cap - zs.avail_out;
	deflateEnd(&zs);
	free(raw);
	if (rc != Z_STREAM_END) {
		free(out);
		return -EIO;
	}
	*buf = out;
	return 0;
}

int pprof_pack_write(const PbProfile *msg, const char *path)
{
	void *buf;
	size_t len;
	int rc = pprof_pack_gzip(msg, &buf, &len);

	if (rc)
		return rc;
	rc = afile_write_all(path, buf, len);
	free(buf);
	return rc;
}

/*
 * The message points into arrays owned by the builder; everything it allocates itself is
 * kept in one arena list freed after packing.
 */
struct arena {
	void **p;
	size_t n, cap;
};

static void *arena_alloc(struct arena *a, size_t size)
{
	void *p;

	if (GROW(a->p, a->n, a->cap))
		return NULL;
	p = calloc(1, size ? size : 1);
	if (p)
		a->p[a->n++] = p;
	return p;
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
}

#define ANEW(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (n)))

static int build_samples(struct pprof_builder *b, PbProfile *m, struct arena *a)
{
	m->sample = ANEW(a, Perftools__Profiles__Sample *, b->nsamples);
	if (!m->sample)
		return -ENOMEM;
	m->n_sample = b->nsamples;
	for (size_t i = 0; i < b->nsamples; i++) {
		struct bsample *s = &b->samples[i];
		Perftools__Profiles__Sample *ps = ANEW(a, Perftools__Profiles__Sample, 1);
		Perftools__Profiles__Label *pl = ANEW(a, Perftools__Profiles__Label, s->nlabels);
		Perftools__Profiles__Label **pll = ANEW(a, Perftools__Profiles__Label *, s->nlabels);

		if (!ps || !pl || !pll)
			return -ENOMEM;
		perftools__profiles__sample__init(ps);
		ps->n_location_id = s->nlocs;
		ps->location_id = s->locs;
		ps->n_value = b->ntypes;
		ps->value = s->values;
		ps->n_label = s->nlabels;
		ps->label = pll;
		for (size_t j = 0; j < s->nlabels; j++) {
			perftools__profiles__label__init(&pl[j]);
			pl[j].key = s->labels[j].key;
			pl[j].str = s->labels[j].str;
			pl[j].num = s->labels[j].num;
			pl[j].num_unit = s->labels[j].num_unit;
			pll[j] = &pl[j];
		}
		m->sample[i] = ps;
	}
	return 0;
}

static int build_locations(struct pprof_builder *b, PbProfile *m, struct arena *a)
{
	m->location = ANEW(a, Perftools__Profiles__Location *, b->nlocs);
	m->function = ANEW(a, Perftools__Profiles__Function *, b->nfuncs);
	m->mapping = ANEW(a, Perftools__Profiles__Mapping *, b->nmaps);
	if (!m->location || !m->function || !m->mapping)
		return -ENOMEM;
	for (size_t i = 0; i < b->nlocs; i++) {
		struct bloc *l = &b->locs[i];
		Perftools__Profiles__Location *pl = ANEW(a, Perftools__Profiles__Location, 1);
		Perftools__Profiles__Line *ln = ANEW(a, Perftools__Profiles__Line, l->nlines);
		Perftools__Profiles__Line **lnp = ANEW(a, Perftools__Profiles__Line *, l->nlines);

		if (!pl || !ln || !lnp)
			return -ENOMEM;
		perftools__profiles__location__init(pl);
		pl->id = i + 1;
		pl->address = l->address;
		pl->mapping_id = l->address ? mapping_for(b, l->address) : 0;
		pl->n_line = l->nlines;
		pl->line = lnp;
		for (size_t j = 0; j < l->nlines; j++) {
			perftools__profiles__line__init(&ln[j]);
			ln[j].function_id = l->lines[j].function_id;
			ln[j].line = l->lines[j].line;
			lnp[j] = &ln[j];
		}
		m->location[i] = pl;
	}
	m->n_location = b->nlocs;
	for (size_t i = 0; i < b->nfuncs; i++) {
		Perftools__Profiles__Function *pf = ANEW(a, Perftools__Profiles__Function, 1);

		if (!pf)
			return -ENOMEM;
		perftools__profiles__function__init(pf);
		pf->id = i + 1;
		pf->name = b->funcs[i].name;
		pf->system_name = b->funcs[i].system_name;
		pf->filename = b->funcs[i].filename;
		pf->start_line = b->funcs[i].start_line;
		m->function[i] = pf;
	}
	m->n_function = b->nfuncs;
	for (size_t i = 0; i < b->nmaps; i++) {
		Perftools__Profiles__Mapping *pm = ANEW(a, Perftools__Profiles__Mapping, 1);

		if (!pm)
			return -ENOMEM;
		perftools__profiles__mapping__init(pm);
		pm->id = i + 1;
		pm->memory_start = b->maps[i].start;
		pm->memory_limit = b->maps[i].limit;
		pm->file_offset = b->maps[i].offset;
		pm->filename = b->maps[i].filename;
		pm->build_id = b->maps[i].build_id;
		pm->has_functions = pm->has_filenames = pm->has_line_numbers =
			pm->has_inline_frames = b->maps[i].symbolized;
		m->mapping[i] = pm;
	}
	m->n_mapping = b->nmaps;
	return 0;
}

int pprof_builder_encode(struct pprof_builder *b, void **buf, size_t *len)
{
	PbProfile m = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType pt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	struct arena a = { 0 };
	Perftools__Profiles__ValueType *vt;
	int rc = -ENOMEM;

	m.sample_type = ANEW(&a, Perftools__Profiles__ValueType *, b->ntypes);
	vt = ANEW(&a, Perftools__Profiles__ValueType, b->ntypes);
	if (!m.sample_type || !vt)
		goto out;
	for (size_t i = 0; i < b->ntypes; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = b->type_idx[i];
		vt[i].unit = b->unit_idx[i];
		m.sample_type[i] = &vt[i];
	}
	m.n_sample_type = b->ntypes;
	rc = build_samples(b, &m, &a);
	if (!rc)
		rc = build_locations(b, &m, &a);
	if (rc)
		goto out;
	if (b->has_period_type) {
		pt.type = b->period_type;
		pt.unit = b->period_unit;
		m.period_type = &pt;
	}
	m.period = b->period;
	m.default_sample_type = b->default_type;
	m.time_nanos = b->time_nanos;
	m.duration_nanos = b->duration_nanos;
	m.n_comment = b->ncomments;
	m.comment = b->comments;
	m.n_string_table = b->nstrs;
	m.string_table = b->strs;
	rc = pprof_pack_gzip(&m, buf, len);
out:
	arena_free(&a);
	return rc;
}

int pprof_builder_write(struct pprof_builder *b, const char *path)
{
	void *buf;
	size_t len;
	int rc;

	progress();
	rc = pprof_builder_encode(b, &buf, &len);
	if (rc)
		return rc;
	progress();
	rc = afile_write_all(path, buf, len);
	free(buf);
	progress();
	return rc;
}
