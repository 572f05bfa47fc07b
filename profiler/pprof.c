/* pprof — decoding and validation of pprof profiles. See pprof.h; the builder is in pprof_build.c. */
#include "profiler/pprof.h"
#include "profiler/pprof_int.h"
#include "profiler/profile.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile PbProfile;

#define PPROF_MAX_INFLATE (1ull << 31)	/* refuse to inflate a profile past 2 GiB */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int pprof_gunzip(const void *in, size_t inlen, void **out, size_t *outlen)
{
	z_stream zs;
	size_t cap = inlen * 4 + 4096, len = 0;
	unsigned char *buf = malloc(cap), *nb;
	int rc;

	if (!buf)
		return -ENOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)inlen;
	for (;;) {
		if (len == cap) {
			if (cap >= PPROF_MAX_INFLATE)
				goto bad;
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				inflateEnd(&zs);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		zs.next_out = buf + len;
		zs.avail_out = (uInt)(cap - len);
		rc = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (rc == Z_STREAM_END) {
			/* concatenated gzip members (as Go may write) */
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
				goto bad;
			continue;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			goto bad;
		if (rc == Z_BUF_ERROR && zs.avail_in == 0 && len < cap)
			goto bad;	/* truncated */
	}
	inflateEnd(&zs);
	*out = buf;
	*outlen = len;
	return 0;
bad:
	inflateEnd(&zs);
	free(buf);
	return -EINVAL;
}

/* Checks a string index; on failure sets err naming the field. */
static int str_ok(const PbProfile *m, int64_t idx, const char *field, char *err, size_t errlen)
{
	if (idx < 0 || (uint64_t)idx >= m->n_string_table) {
		seterr(err, errlen, "%s: string index %" PRId64 " out of range (string_table has %zu)",
		       field, idx, m->n_string_table);
		return -EINVAL;
	}
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_loc(const void *a, const void *b)
{
	return cmp_u64(((const struct pprof_location *)a)->id, ((const struct pprof_location *)b)->id);
}

static int cmp_fn(const void *a, const void *b)
{
	return cmp_u64(((const struct pprof_function *)a)->id, ((const struct pprof_function *)b)->id);
}

static int cmp_map(const void *a, const void *b)
{
	return cmp_u64(((const struct pprof_mapping *)a)->id, ((const struct pprof_mapping *)b)->id);
}

const struct pprof_location *pprof_location_by_id(const struct pprof_profile *p, uint64_t id)
{
	struct pprof_location key = { .id = id };

	return p->nlocations ? bsearch(&key, p->locations, p->nlocations, sizeof(key), cmp_loc)
			     : NULL;
}

const struct pprof_function *pprof_function_by_id(const struct pprof_profile *p, uint64_t id)
{
	struct pprof_function key = { .id = id };

	return p->nfunctions ? bsearch(&key, p->functions, p->nfunctions, sizeof(key), cmp_fn)
			     : NULL;
}

static const struct pprof_mapping *mapping_by_id(const struct pprof_profile *p, uint64_t id)
{
	struct pprof_mapping key = { .id = id };

	return p->nmappings ? bsearch(&key, p->mappings, p->nmappings, sizeof(key), cmp_map)
			    : NULL;
}

/* Sorted ids must be non-zero and unique. */
#define CHECK_IDS(arr, n, what)                                                               \
	do {                                                                                  \
		for (size_t i_ = 0; i_ < (n); i_++) {                                         \
			if ((arr)[i_].id == 0) {                                              \
				seterr(err, errlen, what ".id: reserved id 0");               \
				return -EINVAL;                                               \
			}                                                                     \
			if (i_ && (arr)[i_].id == (arr)[i_ - 1].id) {                         \
				seterr(err, errlen, what ".id: duplicate id %" PRIu64,        \
				       (arr)[i_].id);                                         \
				return -EINVAL;                                               \
			}                                                                     \
		}                                                                             \
	} while (0)

static int load_tables(struct pprof_profile *p, const PbProfile *m, char *err, size_t errlen)
{
	const char *const *S = (const char *const *)m->string_table;

	p->mappings = calloc(m->n_mapping + 1, sizeof(*p->mappings));
	p->functions = calloc(m->n_function + 1, sizeof(*p->functions));
	if (!p->mappings || !p->functions)
		return -ENOMEM;
	p->nmappings = m->n_mapping;
	for (size_t i = 0; i < m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *pm = m->mapping[i];
		struct pprof_mapping *d = &p->mappings[i];

		if (str_ok(m, pm->filename, "mapping.filename", err, errlen) ||
		    str_ok(m, pm->build_id, "mapping.build_id", err, errlen))
			return -EINVAL;
		*d = (struct pprof_mapping){ pm->id, pm->memory_start, pm->memory_limit,
					     pm->file_offset, S[pm->filename], S[pm->build_id],
					     pm->has_functions, pm->has_filenames,
					     pm->has_line_numbers, pm->has_inline_frames };
	}
	qsort(p->mappings, p->nmappings, sizeof(*p->mappings), cmp_map);
	CHECK_IDS(p->mappings, p->nmappings, "mapping");

	p->nfunctions = m->n_function;
	for (size_t i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *pf = m->function[i];

		if (str_ok(m, pf->name, "function.name", err, errlen) ||
		    str_ok(m, pf->system_name, "function.system_name", err, errlen) ||
		    str_ok(m, pf->filename, "function.filename", err, errlen))
			return -EINVAL;
		p->functions[i] = (struct pprof_function){ pf->id, S[pf->name], S[pf->system_name],
							   S[pf->filename], pf->start_line };
	}
	qsort(p->functions, p->nfunctions, sizeof(*p->functions), cmp_fn);
	CHECK_IDS(p->functions, p->nfunctions, "function");
	return 0;
}

static int load_locations(struct pprof_profile *p, const PbProfile *m, char *err, size_t errlen)
{
	size_t nlines = 0;
	struct pprof_line *lines;

	for (size_t i = 0; i < m->n_location; i++)
		nlines += m->location[i]->n_line;
	p->locations = calloc(m->n_location + 1, sizeof(*p->locations));
	lines = calloc(nlines + 1, sizeof(*lines));
	PRIV(p)->lines = lines;
	if (!p->locations || !lines)
		return -ENOMEM;
	p->nlocations = m->n_location;
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *pl = m->location[i];
		struct pprof_location *d = &p->locations[i];

		d->id = pl->id;
		d->mapping_id = pl->mapping_id;
		d->address = pl->address;
		d->is_folded = pl->is_folded;
		d->lines = lines;
		d->nlines = pl->n_line;
		if (pl->mapping_id && !(d->mapping = mapping_by_id(p, pl->mapping_id))) {
			seterr(err, errlen, "location %" PRIu64 ": mapping_id %" PRIu64 " not found",
			       pl->id, pl->mapping_id);
			goto bad;
		}
		for (size_t j = 0; j < pl->n_line; j++) {
			uint64_t fid = pl->line[j]->function_id;

			lines[j].function_id = fid;
			lines[j].line = pl->line[j]->line;
			if (fid && !(lines[j].function = pprof_function_by_id(p, fid))) {
				seterr(err, errlen,
				       "location %" PRIu64 ": line.function_id %" PRIu64 " not found",
				       pl->id, fid);
				goto bad;
			}
		}
		lines += pl->n_line;
	}
	qsort(p->locations, p->nlocations, sizeof(*p->locations), cmp_loc);
	CHECK_IDS(p->locations, p->nlocations, "location");
	return 0;
bad:
	return -EINVAL;
}

static int load_samples(struct pprof_profile *p, const PbProfile *m, char *err, size_t errlen)
{
	const char *const *S = (const char *const *)m->string_table;
	size_t nlocs = 0, nlabels = 0;
	const struct pprof_location **locs;
	struct pprof_label *labels;

	if (m->n_sample && !m->n_sample_type) {
		seterr(err, errlen, "sample_type: missing, but the profile has samples");
		return -EINVAL;
	}
	for (size_t i = 0; i < m->n_sample; i++) {
		nlocs += m->sample[i]->n_location_id;
		nlabels += m->sample[i]->n_label;
	}
	p->samples = calloc(m->n_sample + 1, sizeof(*p->samples));
	locs = calloc(nlocs + 1, sizeof(*locs));
	labels = calloc(nlabels + 1, sizeof(*labels));
	PRIV(p)->locs = locs;
	PRIV(p)->labels = labels;
	if (!p->samples || !locs || !labels)
		return -ENOMEM;
	p->nsamples = m->n_sample;
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *ps = m->sample[i];
		struct pprof_sample *d = &p->samples[i];

		if (ps->n_value != m->n_sample_type) {
			seterr(err, errlen, "sample %zu: value has %zu entries, sample_type has %zu",
			       i, ps->n_value, m->n_sample_type);
			return -EINVAL;
		}
		d->values = ps->value;
		d->location_ids = ps->location_id;
		d->nlocations = ps->n_location_id;
		d->locations = locs;
		for (size_t j = 0; j < ps->n_location_id; j++) {
			locs[j] = pprof_location_by_id(p, ps->location_id[j]);
			if (!locs[j]) {
				seterr(err, errlen, "sample %zu: location_id %" PRIu64 " not found", i,
				       ps->location_id[j]);
				return -EINVAL;
			}
		}
		locs += ps->n_location_id;
		d->labels = labels;
		d->nlabels = ps->n_label;
		for (size_t j = 0; j < ps->n_label; j++) {
			const Perftools__Profiles__Label *pl = ps->label[j];

			if (str_ok(m, pl->key, "sample.label.key", err, errlen) ||
			    str_ok(m, pl->str, "sample.label.str", err, errlen) ||
			    str_ok(m, pl->num_unit, "sample.label.num_unit", err, errlen))
				return -EINVAL;
			labels[j] = (struct pprof_label){ S[pl->key], pl->str ? S[pl->str] : NULL,
							  pl->num, S[pl->num_unit] };
		}
		labels += ps->n_label;
	}
	return 0;
}

static int load_header(struct pprof_profile *p, const PbProfile *m, char *err, size_t errlen)
{
	const char *const *S = (const char *const *)m->string_table;

	if (!m->n_string_table || m->string_table[0][0]) {
		seterr(err, errlen, "string_table[0]: must be the empty string");
		return -EINVAL;
	}
	p->strings = S;
	p->nstrings = m->n_string_table;
	p->sample_types = calloc(m->n_sample_type + 1, sizeof(*p->sample_types));
	p->comments = calloc(m->n_comment + 1, sizeof(*p->comments));
	if (!p->sample_types || !p->comments)
		return -ENOMEM;
	p->nsample_types = m->n_sample_type;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		if (str_ok(m, m->sample_type[i]->type, "sample_type.type", err, errlen) ||
		    str_ok(m, m->sample_type[i]->unit, "sample_type.unit", err, errlen))
			return -EINVAL;
		p->sample_types[i].type = S[m->sample_type[i]->type];
		p->sample_types[i].unit = S[m->sample_type[i]->unit];
	}
	p->ncomments = m->n_comment;
	for (size_t i = 0; i < m->n_comment; i++) {
		if (str_ok(m, m->comment[i], "comment", err, errlen))
			return -EINVAL;
		p->comments[i] = S[m->comment[i]];
	}
	p->period_type.type = p->period_type.unit = S[0];
	if (m->period_type) {
		if (str_ok(m, m->period_type->type, "period_type.type", err, errlen) ||
		    str_ok(m, m->period_type->unit, "period_type.unit", err, errlen))
			return -EINVAL;
		p->period_type.type = S[m->period_type->type];
		p->period_type.unit = S[m->period_type->unit];
	}
	if (str_ok(m, m->default_sample_type, "default_sample_type", err, errlen) ||
	    str_ok(m, m->drop_frames, "drop_frames", err, errlen) ||
	    str_ok(m, m->keep_frames, "keep_frames", err, errlen) ||
	    str_ok(m, m->doc_url, "doc_url", err, errlen))
		return -EINVAL;
	p->default_sample_type = S[m->default_sample_type];
	p->drop_frames = S[m->drop_frames];
	p->keep_frames = S[m->keep_frames];
	p->period = m->period;
	p->time_nanos = m->time_nanos;
	p->duration_nanos = m->duration_nanos;
	return 0;
}

int pprof_read_mem(const void *buf, size_t len, struct pprof_profile **out, char *err,
		   size_t errlen)
{
	const unsigned char *b = buf;
	void *raw = NULL;
	size_t rawlen = len;
	PbProfile *m;
	struct pprof_profile *p;
	int rc;

	*out = NULL;
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		rc = pprof_gunzip(buf, len, &raw, &rawlen);
		if (rc) {
			seterr(err, errlen, rc == -ENOMEM ? "out of memory" :
			       "gzip: corrupt or truncated data");
			return rc;
		}
		b = raw;
	}
	m = perftools__profiles__profile__unpack(NULL, rawlen, b);
	free(raw);
	if (!m) {
		seterr(err, errlen, "not a pprof profile (protobuf decoding failed)");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->priv = calloc(1, sizeof(struct pprof_priv));
	if (!p || !p->priv) {
		free(p);
		perftools__profiles__profile__free_unpacked(m, NULL);
		return -ENOMEM;
	}
	PRIV(p)->msg = m;
	rc = load_header(p, m, err, errlen);
	if (!rc)
		rc = load_tables(p, m, err, errlen);
	if (!rc)
		rc = load_locations(p, m, err, errlen);
	if (!rc)
		rc = load_samples(p, m, err, errlen);
	if (rc) {
		if (rc == -ENOMEM)
			seterr(err, errlen, "out of memory");
		pprof_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int pprof_read_file(const char *path, struct pprof_profile **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;

	*out = NULL;
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "%s", strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		seterr(err, errlen, "not a regular file");
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		seterr(err, errlen, "out of memory");
		goto out;
	}
	while ((r = read(fd, buf + len, st.st_size - len)) > 0)
		len += r;
	if (r < 0) {
		rc = -errno;
		seterr(err, errlen, "read: %s", strerror(errno));
		goto out;
	}
	if (len == 0) {
		rc = -EINVAL;
		seterr(err, errlen, "empty file");
		goto out;
	}
	rc = pprof_read_mem(buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

void pprof_free(struct pprof_profile *p)
{
	if (!p)
		return;
	free(p->samples);
	free(p->locations);
	free(p->functions);
	free(p->mappings);
	free(p->sample_types);
	free(p->comments);
	if (p->priv) {
		free(PRIV(p)->lines);
		free(PRIV(p)->locs);
		free(PRIV(p)->labels);
		if (PRIV(p)->msg)
			perftools__profiles__profile__free_unpacked(PRIV(p)->msg, NULL);
		free(p->priv);
	}
	free(p);
}

int pprof_sample_type_index(const struct pprof_profile *p, const char *type)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (!strcmp(p->sample_types[i].type, type))
			return (int)i;
	return -1;
}

int pprof_default_sample_index(const struct pprof_profile *p)
{
	int i = p->default_sample_type[0] ? pprof_sample_type_index(p, p->default_sample_type) : -1;

	return i >= 0 ? i : (int)p->nsample_types - 1;
}

const char *pprof_sample_label(const struct pprof_sample *s, const char *key)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (s->labels[i].str && !strcmp(s->labels[i].key, key))
			return s->labels[i].str;
	return NULL;
}

size_t pprof_sample_frames(const struct pprof_profile *p, const struct pprof_sample *s,
			   const char **names, size_t max, char *scratch, size_t *total)
{
	size_t n = 0, all = 0;

	(void)p;
	for (size_t i = 0; i < s->nlocations; i++) {
		const struct pprof_location *l = s->locations[i];

		if (!l->nlines) {
			all++;
			if (scratch && n < max) {
				char *slot = scratch + n * 20;

				snprintf(slot, 20, "0x%" PRIx64, l->address);
				names[n++] = slot;
			}
			continue;
		}
		for (size_t j = 0; j < l->nlines; j++) {
			const struct pprof_function *f = l->lines[j].function;

			all++;
			if (n < max)
				names[n++] = f ? f->name : "";
		}
	}
	if (total)
		*total = all;
	return n;
}

int pprof_write_profile(const struct pprof_profile *p, const char *path)
{
	return pprof_pack_write(PRIV(p)->msg, path);
}
