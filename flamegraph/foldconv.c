/* foldconv — see foldconv.h. */
#include "flamegraph/foldconv.h"
#include "flamegraph/folded.h"
#include "flamegraph/load.h"
#include "flamegraph/stacktree.h"
#include "profiler/pprof.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fg_convert_to_folded(const char *in, const char *sample_index, FILE *out, char *err,
			 size_t errlen)
{
	struct fg_tree *t = fg_tree_new();
	int ret;

	if (!t)
		return -ENOMEM;
	ret = fg_load_file(t, in, 0, sample_index, NULL, err, errlen);
	if (!ret) {
		fg_tree_finish(t);
		ret = fg_folded_write(t, 0, out);
		if (ret)
			snprintf(err, errlen, "writing folded stacks failed: %s", strerror(-ret));
	}
	fg_tree_free(t);
	return ret;
}

/* Adds one sample per node with own samples; frames leaf first, as pprof wants them. */
static int add_samples(const struct fg_tree *t, struct pprof_builder *b)
{
	size_t n = fg_tree_nodes(t), cap = 0;
	const char **frames = NULL;
	int ret = 0;

	for (uint32_t id = 1; id < n && !ret; id++) {
		uint64_t self = fg_tree_self(t, id, 0);
		size_t depth = 0;
		int64_t v;

		if (!self)
			continue;
		if (self > INT64_MAX) {
			ret = -ERANGE;
			break;
		}
		v = (int64_t)self;
		for (uint32_t k = id; k != FG_ROOT; k = fg_tree_node(t, k)->parent) {
			if (depth == cap) {
				size_t nc = cap ? cap * 2 : 64;
				const char **nf = realloc(frames, nc * sizeof(*nf));

				if (!nf) {
					ret = -ENOMEM;
					goto out;
				}
				frames = nf;
				cap = nc;
			}
			frames[depth++] = fg_tree_name(t, fg_tree_node(t, k)->name, NULL);
		}
		ret = pprof_builder_add_symbolic(b, frames, depth, &v, NULL, 0);
	}
out:
	free(frames);
	return ret;
}

int fg_convert_folded_to_pprof(const char *in, const char *out, char *err, size_t errlen)
{
	static const struct pprof_value_type types[] = { { "samples", "count" } };
	struct pprof_builder_opts o = { .sample_types = types, .nsample_types = 1 };
	struct pprof_builder *b = NULL;
	struct fg_tree *t = fg_tree_new();
	struct fg_load_info info;
	int ret;

	if (!t)
		return -ENOMEM;
	ret = fg_load_file(t, in, 0, NULL, &info, err, errlen);
	if (ret)
		goto out;
	if (info.format != FG_FMT_FOLDED) {
		snprintf(err, errlen, "%s: is a pprof profile already, not folded stacks", in);
		ret = -EINVAL;
		goto out;
	}
	fg_tree_finish(t);
	b = pprof_builder_new(&o);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	ret = add_samples(t, b);
	if (ret) {
		snprintf(err, errlen, "%s: %s", in, ret == -ERANGE ? "a sample count exceeds "
			 "pprof's 64-bit signed range" : strerror(-ret));
		goto out;
	}
	ret = pprof_builder_write(b, out);
	if (ret)
		snprintf(err, errlen, "cannot write '%s': %s", out, strerror(-ret));
out:
	pprof_builder_free(b);
	fg_tree_free(t);
	return ret;
}
