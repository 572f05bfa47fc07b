/* load — see load.h. */
#include "flamegraph/load.h"
#include "flamegraph/folded.h"
#include "flamegraph/svg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fg_format fg_detect(const unsigned char *head, size_t len)
{
	if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return FG_FMT_PPROF;
	for (size_t i = 0; i < len; i++)
		if (head[i] < 0x20 && head[i] != '\n' && head[i] != '\r' && head[i] != '\t')
			return FG_FMT_PPROF;
	return FG_FMT_FOLDED;
}

static int load_pprof(struct fg_tree *t, const char *path, int slot, const char *sample_index,
		      struct fg_load_info *info, char *err, size_t errlen)
{
	(void)t;
	(void)slot;
	(void)sample_index;
	(void)info;
	snprintf(err, errlen, "%s: pprof input is not supported by this build", path);
	return -EINVAL;
}

int fg_load_file(struct fg_tree *t, const char *path, int slot, const char *sample_index,
		 struct fg_load_info *info, char *err, size_t errlen)
{
	struct fg_load_info li = { 0 };
	struct fg_folded_stats st = { 0 };
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
		ret = fg_folded_read(t, fp, path, slot, &st, err, errlen);
		fclose(fp);
		if (!ret && !st.samples) {
			snprintf(err, errlen, "%s: no samples", path);
			ret = -EINVAL;
		}
		li.stacks = st.stacks;
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
