/*
 * folded — the folded stack text format: one stack per line, frames root first separated by
 * ';', then a space and a sample count ("main;run;reconcile 42"), as perf script
 * collapsers, bpftrace and many profilers write it.
 *
 * The reader streams (memory grows with distinct frames, not with the file) and reuses the
 * nodes of the previous line's common prefix, so sorted input costs little more than a
 * scan. A frame name may contain spaces; the count follows the last one. Blank lines are
 * skipped; anything else that is not "STACK COUNT" is an error naming file and line. The
 * writer emits one line per node with own samples, children in name order: deterministic,
 * and read back to the same tree.
 *
 * Not thread-safe per tree.
 */
#ifndef RECONPERF_FOLDED_H
#define RECONPERF_FOLDED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flamegraph/stacktree.h"

struct fg_folded_stats {
	uint64_t lines;		/* lines read, blank ones included */
	uint64_t stacks;	/* stack lines */
	uint64_t samples;	/* their counts summed */
};

/*
 * Adds every stack of fp into slot of t. name is used in messages. Returns 0; -EINVAL with
 * "NAME:LINE: what is wrong" in err for bad input; -EIO on a read error; -ENOMEM. stats may
 * be NULL. The tree is not finished (call fg_tree_finish).
 */
int fg_folded_read(struct fg_tree *t, FILE *fp, const char *name, int slot,
		   struct fg_folded_stats *stats, char *err, size_t errlen);
/* Same, from the len bytes at buf (need not be NUL-terminated). */
int fg_folded_read_mem(struct fg_tree *t, const char *buf, size_t len, const char *name,
		       int slot, struct fg_folded_stats *stats, char *err, size_t errlen);

/* Writes the stacks of slot of a finished tree. 0, -EIO on a write error, -ENOMEM. */
int fg_folded_write(const struct fg_tree *t, int slot, FILE *fp);

#endif
