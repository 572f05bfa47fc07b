/*
 * svg — a stack tree drawn as one self-contained interactive SVG flame graph.
 *
 * Layout: the root ("all") spans the full width; each child sits on its parent, children in
 * name order left to right, each as wide as its share of the parent's samples. Frames
 * narrower than minwidth px are not drawn (nor their children) and are counted in the
 * subtitle. The embedded script (flamegraph/flame.js) zooms on click, resets, searches by
 * regular expression and shows the matched share of all samples, and shows details on hover.
 * URL fragments drive it too: #q=REGEX searches, #z=NAME zooms, #selftest runs a zoom click
 * and a search and writes the results as JSON into the element #fg-selftest (what the
 * browser tests read).
 *
 * Each frame is <g class="f" data-x=X0 data-n=N data-d=DEPTH> with a <title> (name on the
 * first line, samples and share on the second), a <rect> and a <text> label; X0 is the
 * frame's first sample in layout order. Output depends only on the tree and the options:
 * the same input gives the same bytes.
 *
 * Differential (diff = true): widths from slot 0, colour from the change of each frame's
 * inclusive share between slot 1 (base) and slot 0: red grew, blue shrank, white unchanged,
 * the deeper the colour the larger the change relative to the largest change drawn.
 *
 * Pure function of its inputs; any thread.
 */
#ifndef RECONPERF_SVG_H
#define RECONPERF_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "flamegraph/stacktree.h"

enum fg_colors {
	FG_COLORS_HASH,		/* warm palette, shade from the name's hash */
	FG_COLORS_MODULE,	/* one hue per module (library, package, namespace) */
	FG_COLORS_KIND,		/* kernel orange, runtime/libc blue-grey, user green */
};

struct fg_svg_opts {
	const char *title;	/* NULL: "Flame Graph", "Icicle Graph" or "Differential ..." */
	const char *subtitle;	/* NULL: none; e.g. the sample type */
	const char *unit;	/* NULL: "samples" */
	unsigned width;		/* px, 0: 1200 */
	double minwidth;	/* px; frames narrower are elided; < 0: 0.1 */
	bool icicle;		/* root at the top, growing down */
	bool diff;		/* colour by change against slot 1 */
	enum fg_colors colors;
};

/* Sets the defaults above. */
void fg_svg_opts_init(struct fg_svg_opts *o);

/* Parses "hash", "module" or "kind". 0 or -EINVAL. */
int fg_colors_parse(const char *s, enum fg_colors *out);

/* What a frame name looks like: used by the kind colours, exposed for tests. */
enum fg_kind { FG_KIND_USER, FG_KIND_KERNEL, FG_KIND_RUNTIME };
enum fg_kind fg_frame_kind(const char *name, size_t len);
/* The module part of a frame name ("libc.so.6`malloc" -> "libc.so.6",
 * "k8s.io/client-go/tools/cache.(*Reflector).Run" -> "k8s.io/client-go/tools/cache"). */
size_t fg_frame_module(const char *name, size_t len, const char **mod);

/*
 * Draws slot 0 of the finished tree t. Returns 0, -EINVAL for a bad option or an empty
 * profile (no samples), -ENOMEM, or -EIO when writing fp failed. On error the output may be
 * partial: write into an afile and abort it.
 */
int fg_svg_write(const struct fg_tree *t, const struct fg_svg_opts *o, FILE *fp);

/* Writes s escaped for XML/HTML text or attributes; invalid UTF-8 and controls become '?'. */
void fg_xml_put(FILE *fp, const char *s, size_t len);

/* The embedded script (generated from flamegraph/flame.js). */
extern const char fg_flame_js[];

#endif
