/* load — see load.h. */
#include "flamegraph/load.h"
#include "flamegraph/folded.h"
#include "flamegraph/svg.h"
#include "profiler/pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum fg_format fg_detect(const unsigned char *head, size_t len)
{
	if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return FG_FMT_PPROF;
	for (size_t i = 0; i < len; i++)
		if (head[i] < 0x20 && head[i] != '\n' && head[i] != '\r' && head[i] != '\t')
			return FG_FMT_PPROF;
	return FG_FMT_FOLDED;
}

/* The sample type to draw: by name, by number, or the profile's default. -1 if none. */
static int pick_index(const struct pprof_profile *p, const char *si)
{
	char *end;
	long v;

	if (!si)
		return pprof_default_sample_index(p);
	v = strtol(si, &end, 10);
	if (*si && !*end)
		return v >= 0 && (size_t)v < p->nsample_types ? (int)v : -1;
	return pprof_sample_type_index(p, si);
}

static int load_pprof(struct fg_tree *t, const char *path, int slot, const char *sample_index,
		      struct fg_load_info *info, char *err, size_t errlen)
{
	struct pprof_profile *p = NULL;
	const char **names = NULL;
	char *scratch = NULL, perr[256];
	size_t max = 0;
	uint64_t samples = 0;
	int idx, ret;

	ret = pprof_read_file(path, &p, perr, sizeof(perr));
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return ret;
	}
	idx = pick_index(p, sample_index);
	if (idx < 0) {
		size_t len = (size_t)snprintf(err, errlen, "%s: no sample type '%s'; it has", path,
					      sample_index ? sample_index : "");

		for (size_t i = 0; i < p->nsample_types && len < errlen; i++)
			len += (size_t)snprintf(err + len, errlen - len, "%s %s", i ? "," : "",
						p->sample_types[i].type);
		ret = -EINVAL;
		goto out;
	}
	snprintf(info->sample_type, sizeof(info->sample_type), "%s", p->sample_types[idx].type);
	snprintf(info->unit, sizeof(info->unit), "%s",
		 strcmp(p->sample_types[idx].unit, "count") ? p->sample_types[idx].unit
							     : "samples");
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int64_t v = s->values[idx];
		uint32_t node = FG_ROOT, name;
		size_t n, total;

		if (v <= 0)	/* negative values (a pprof -diff_base) are not drawn */
			continue;
		n = pprof_sample_frames(p, s, names, max, scratch, &total);
		if (total > max) {
			size_t nmax = total * 2;
			const char **nn = realloc(names, nmax * sizeof(*nn));
			char *ns = nn ? realloc(scratch, nmax * 20) : NULL;

			if (nn)
				names = nn;
			if (!nn || !ns) {
				ret = -ENOMEM;
				goto out;
			}
			scratch = ns;
			max = nmax;
			n = pprof_sample_frames(p, s, names, max, scratch, &total);
		}
		for (size_t k = n; k > 0; k--) {	/* leaf first in pprof, root first here */
			ret = fg_tree_intern(t, names[k - 1], strlen(names[k - 1]), &name);
			if (!ret)
				ret = fg_tree_child(t, node, name, &node);
			if (ret)
				goto out;
		}
		fg_tree_add(t, node, slot, (uint64_t)v);
		samples += (uint64_t)v;
		info->stacks++;
	}
	if (!samples) {
		snprintf(err, errlen, "%s: no samples of type '%s'", path, info->sample_type);
		ret = -EINVAL;
	}
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	free(names);
	free(scratch);
	pprof_free(p);
	return ret;
}

int fg_load_file(struct fg_tree *t, const char *path, int slot, const char *sample_index,
		 struct fg_load_info *info, char *err, size_t errlen)
{
	struct fg_load_info li = { 0 };
	struct fg_folded_stats fst = { 0 };
	struct stat st;
	unsigned char head[4096];
	size_t n;
	FILE *fp;
	int ret;

	fp = fopen(path, "rb");
	if (!fp) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return ret;
	}
	n = fread(head, 1, sizeof(head), fp);
	li.format = fg_detect(head, n);
	if (li.format == FG_FMT_PPROF) {
		fclose(fp);
		ret = load_pprof(t, path, slot, sample_index, &li, err, errlen);
	} else {
		if (sample_index) {
			fclose(fp);
			snprintf(err, errlen, "%s: folded stacks have one sample type; "
				 "--sample-index applies to pprof input", path);
			return -EINVAL;
		}
		rewind(fp);
		/* About one new node per 30 bytes of a large input: sizing the hash once saves
		 * rehashing (and zeroing) its way up. A hint; a wrong one costs only time. */
		if (fstat(fileno(fp), &st) == 0 && st.st_size > (1 << 20))
			fg_tree_reserve(t, fg_tree_nodes(t) + (size_t)st.st_size / 30);
		ret = fg_folded_read(t, fp, path, slot, &fst, err, errlen);
		fclose(fp);
		if (!ret && !fst.samples) {
			snprintf(err, errlen, "%s: no samples", path);
			ret = -EINVAL;
		}
		li.stacks = fst.stacks;
		strcpy(li.unit, "samples");
	}
	if (!ret && info)
		*info = li;
	return ret;
}

int fg_render_file(const char *path, const char *sample_index, const struct fg_svg_opts *o,
		   char **svg, char *err, size_t errlen)
{
	struct fg_tree *t = fg_tree_new();
	struct fg_load_info info;
	struct fg_svg_opts opts;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = NULL;
	int ret;

	*svg = NULL;
	if (!t)
		return -ENOMEM;
	ret = fg_load_file(t, path, 0, sample_index, &info, err, errlen);
	if (ret)
		goto out;
	fg_tree_finish(t);
	if (o)
		opts = *o;
	else
		fg_svg_opts_init(&opts);
	if (!opts.unit && info.unit[0])
		opts.unit = info.unit;
	if (!opts.subtitle && info.sample_type[0])
		opts.subtitle = info.sample_type;
	fp = open_memstream(&buf, &len);
	if (!fp) {
		ret = -ENOMEM;
		goto out;
	}
	ret = fg_svg_write(t, &opts, fp);
	if (fclose(fp) && !ret)
		ret = -ENOMEM;
	if (ret) {
		snprintf(err, errlen, "%s: cannot draw the flame graph: %s", path, strerror(-ret));
		free(buf);
		goto out;
	}
	*svg = buf;
out:
	fg_tree_free(t);
	return ret;
}
