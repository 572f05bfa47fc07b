/*
 * profdiff — two pprof profiles compared function by function, for `reconperf compare
 * BASE.pb.gz NEW.pb.gz`: the flat share (samples whose leaf is the function) and the
 * cumulative share (samples with the function anywhere on the stack, counted once per
 * sample even under recursion) of one sample type, on each side, and their change in
 * percentage points. Functions are identified by name, inlined frames expanded, as
 * `go tool pprof -top` does at its default granularity.
 *
 * A profile is one measurement: there is no sampling distribution to test, so the diff is
 * descriptive and gives no verdict. Rows are sorted by the size of the flat change, then
 * of the cumulative change, then by name.
 *
 * A diff owns its rows and strings; any thread, one at a time.
 */
#ifndef RECONPERF_PROFDIFF_H
#define RECONPERF_PROFDIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profiler/pprof.h"

struct profdiff_row {
	char *name;
	int64_t flat[2], cum[2];	/* [0] base, [1] new, in the sample type's unit */
	double flat_share[2], cum_share[2];	/* fractions of each side's total */
};

struct profdiff {
	char *type, *unit;		/* the compared sample type */
	int64_t total[2];
	size_t nsamples[2];
	struct profdiff_row *rows;
	size_t n;			/* every function seen on either side */
};

/*
 * Compares sample type `type` (NULL: the base's default sample type, which the new
 * profile must also have). -EINVAL with a message in err when the type is missing on a
 * side or a side has no samples; -ENOMEM.
 */
int profdiff_run(const struct pprof_profile *base, const struct pprof_profile *new,
		 const char *type, struct profdiff *out, char *err, size_t errlen);
void profdiff_fini(struct profdiff *d);

/* Renderers of the first top rows (0: all); return 0 or -EIO / -ENOMEM. */
int profdiff_render_table(const struct profdiff *d, size_t top, FILE *fp);
int profdiff_render_md(const struct profdiff *d, size_t top, FILE *fp);
int profdiff_render_json(const struct profdiff *d, size_t top, FILE *fp);

#endif
