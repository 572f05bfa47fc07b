/*
 * cmpconf — the small config file of `reconperf compare`: defaults and per-metric
 * thresholds, directions and ignores. Line format (documented in docs/compare.md):
 *
 *   # a comment; blank lines are ignored; a '#' after a value starts a comment too
 *   threshold 5%                        default threshold for every metric
 *   alpha 0.05                          significance level across all metrics
 *   correction holm                     holm | bh | none
 *   metric GLOB threshold 15%           per-metric threshold (fnmatch glob on GROUP:FIELD)
 *   metric GLOB ignore                  leave matching metrics out of the comparison
 *   metric GLOB direction higher        higher | lower is better (overrides the reader)
 *
 * For a metric, the last matching `metric` line that sets a key wins. Parsing is strict: an
 * unknown key, a missing or extra value or a bad number is an error naming file and line.
 * Plain data after parsing; any thread may read a parsed config.
 */
#ifndef RECONPERF_CMPCONF_H
#define RECONPERF_CMPCONF_H

#include <stdbool.h>
#include <stddef.h>

enum cmp_correction { CMP_CORR_HOLM, CMP_CORR_BH, CMP_CORR_NONE };

struct cmpconf_rule {
	char *glob;
	enum { CMPCONF_THRESHOLD, CMPCONF_IGNORE, CMPCONF_DIRECTION } key;
	double threshold;	/* fraction: 0.05 for 5% */
	int higher_better;	/* for CMPCONF_DIRECTION */
};

struct cmpconf {
	bool has_threshold, has_alpha, has_correction;
	double threshold;	/* fraction */
	double alpha;
	enum cmp_correction correction;
	struct cmpconf_rule *rules;
	size_t nrules;
};

void cmpconf_init(struct cmpconf *c);
void cmpconf_fini(struct cmpconf *c);
/* Returns 0, or -EINVAL/-ENOENT/... with "FILE:LINE: message" in err. */
int cmpconf_load(struct cmpconf *c, const char *path, char *err, size_t errlen);
int cmpconf_parse(struct cmpconf *c, const char *name, const char *text, char *err,
		  size_t errlen);

/* Per-metric answers; each returns false when no rule matched (the out value is kept). */
bool cmpconf_ignored(const struct cmpconf *c, const char *metric);
bool cmpconf_threshold(const struct cmpconf *c, const char *metric, double *thr);
bool cmpconf_direction(const struct cmpconf *c, const char *metric, int *higher_better);

/* "5", "5%", "0.5%" -> 0.05, 0.05, 0.005. Range 0..1000%. Returns 0 or -EINVAL/-ERANGE. */
int cmpconf_parse_pct(const char *s, double *frac);

#endif
