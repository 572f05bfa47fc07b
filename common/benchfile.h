/*
 * benchfile — readers that turn benchmark result files into named metrics with samples and
 * a direction, for `reconperf compare`.
 *
 * Formats (detected from the content, not the name):
 * - reconperf JSON reports (`reconperf bench --format json`): one sample per entry of
 *   scenarios[] (one entry per repetition) for each metric below, and cpu_time from the
 *   Google-Benchmark-style benchmarks[] iterations;
 * - Google Benchmark JSON (`--benchmark_format=json`, `--benchmark_out`): real_time,
 *   cpu_time (in ns) and user counters of every non-aggregate entry; repetitions are samples;
 * - Go benchmark text (`go test -bench`, also `reconperf bench --format gobench`): each
 *   `BenchmarkX-8  N  V unit  V unit ...` line is one sample of every unit it lists.
 *
 * Metric names are GROUP:FIELD: GROUP is the scenario (reconperf), the benchmark run name
 * (Google Benchmark) or the full benchmark name (Go); FIELD e.g. `latency.p99`, `cpu_time`,
 * `ns/op`. Several files may be loaded into one set: samples of one metric are pooled.
 *
 * Invariants: every metric has at least one sample; values are finite; time values are in
 * nanoseconds. A set is used by one thread at a time.
 */
#ifndef RECONPERF_BENCHFILE_H
#define RECONPERF_BENCHFILE_H

#include <stdbool.h>
#include <stddef.h>

enum bf_dir { BF_LOWER_BETTER, BF_HIGHER_BETTER };

enum bf_kind {
	BF_KIND_RECONPERF = 1,
	BF_KIND_GBENCH = 2,
	BF_KIND_GOBENCH = 4,
};

struct bf_metric {
	char *name;		/* GROUP:FIELD */
	char *group;
	char *unit;		/* "ns", "1/s", "B/op", "allocs/op", "" */
	enum bf_dir dir;
	double *v;
	size_t n, cap;
};

/* Private: an open-addressing index by name (slot = position + 1, 0 = empty). */
struct bf_index {
	unsigned *slot;
	size_t nslots;		/* a power of two, at least twice the entries; 0 = none yet */
};

struct bf_set {
	struct bf_metric *m;	/* in the order first seen */
	size_t n, cap;
	char **groups;		/* scenarios / benchmark names, in the order first seen */
	size_t ngroups, gcap;
	struct bf_index mix, gix;	/* m[] and groups[] by name, so lookups stay O(1) */
	unsigned kinds;		/* bitmask of enum bf_kind loaded */
	size_t nfiles;
};

void bf_set_init(struct bf_set *s);
void bf_set_fini(struct bf_set *s);

/*
 * Loads one file into the set. On bad input returns -EINVAL (or -ENOENT, -EISDIR, ...)
 * and writes a message naming the file, the line or JSON field and the problem to err
 * ("base.json:12:5: parse error near '}'", "a.json: scenarios[1].reconcile.per_second:
 * must be a number, got string"). The set then holds whatever was loaded before the call.
 */
int bf_load_file(struct bf_set *s, const char *path, char *err, size_t errlen);
/* Same, from memory; name is used in messages. */
int bf_load_buf(struct bf_set *s, const char *name, const char *buf, size_t len, char *err,
		size_t errlen);

/*
 * Expands one side of the command line: a comma-separated list of files and directories
 * (a directory stands for its regular files that do not start with '.', sorted by name)
 * and loads each. Returns 0 or the first error (message in err).
 */
int bf_load_spec(struct bf_set *s, const char *spec, char *err, size_t errlen);

struct bf_metric *bf_find(const struct bf_set *s, const char *name);
bool bf_has_group(const struct bf_set *s, const char *group);

/* Adds one sample (creating the metric). Returns 0 or -ENOMEM / -EINVAL (non-finite v). */
int bf_add(struct bf_set *s, const char *group, const char *field, const char *unit,
	   enum bf_dir dir, double v);

const char *bf_kind_name(unsigned kind);

#endif
