/*
 * load — a profile file into a stack tree, whatever its format: a pprof profile.proto
 * (gzipped or not, read through profiler/pprof.h) or folded stack text. The format is told
 * by the content, not the name: gzip magic or binary bytes mean pprof, text means folded.
 *
 * Not thread-safe per tree.
 */
#ifndef RECONPERF_LOAD_H
#define RECONPERF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "flamegraph/stacktree.h"

enum fg_format { FG_FMT_FOLDED, FG_FMT_PPROF };

struct fg_load_info {
	enum fg_format format;
	char sample_type[64];	/* pprof: the sample type drawn ("cpu"); folded: "" */
	char unit[64];		/* pprof: its unit ("nanoseconds"); folded: "samples" */
	uint64_t stacks;	/* stacks (folded lines, pprof samples) read */
};

/* The format of the first len bytes of a file. */
enum fg_format fg_detect(const unsigned char *head, size_t len);

/*
 * Adds the stacks of path into slot of t. sample_index selects a pprof sample type by name
 * ("alloc_space") or by number ("0"); NULL means the profile's default type (else the last).
 * Returns 0; -EINVAL with "PATH:LINE: ..." or "PATH: ..." in err for bad input; -ENOENT etc.
 * when the file cannot be read (message in err); -ENOMEM. info may be NULL.
 */
int fg_load_file(struct fg_tree *t, const char *path, int slot, const char *sample_index,
		 struct fg_load_info *info, char *err, size_t errlen);

struct fg_svg_opts;

/*
 * The flame graph of the profile at path as one SVG document in a malloc'd string (for the
 * HTML report). o may be NULL for the defaults; a pprof sample type names the subtitle and
 * unit. Returns 0 with *svg set, or a negative errno with a message in err.
 */
int fg_render_file(const char *path, const char *sample_index, const struct fg_svg_opts *o,
		   char **svg, char *err, size_t errlen);

#endif
