/*
 * pprof — read and write gzipped pprof profile.proto files (the format of `go tool pprof`).
 *
 * Readers get a decoded, validated, in-memory model (struct pprof_profile): every string
 * index is resolved to a C string, every id to a pointer, so a reader never touches the
 * string table or looks ids up itself. pprof_read_file() accepts gzip or raw protobuf and
 * validates as `go tool pprof` does (string_table[0] == "", string indices in range, ids
 * non-zero and unique, each sample has one value per sample type, location/function/mapping
 * ids known); an error message names the field. The model is immutable once read.
 *
 * Writers use a builder: pprof_builder_add() takes a stack of program counters (leaf
 * first; every entry after the first is a return address), deduplicates them into
 * locations (non-leaf addresses are stored minus 1 so they point into the call instruction,
 * as pprof's own legacy parser does), and aggregates identical (stack, labels) pairs by
 * summing their values. pprof_builder_add_symbolic() takes function names instead (kernel
 * frames, folded stacks). pprof_builder_symbolize() resolves addresses against a live
 * process (mappings with build IDs, function names, file:line, inlined frames) so the
 * profile stands on its own; pprof_builder_write() writes the gzipped profile atomically.
 *
 * Threading: a profile or a builder belongs to one thread at a time; no global state.
 * Every function returns 0 or a negative errno unless it says otherwise.
 */
#ifndef RECONPERF_PPROF_H
#define RECONPERF_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pprof_value_type {
	const char *type;	/* "samples", "cpu", "alloc_space", ... */
	const char *unit;	/* "count", "nanoseconds", "bytes", ... */
};

struct pprof_label {
	const char *key;
	const char *str;	/* NULL for a numeric label */
	int64_t num;
	const char *num_unit;	/* "" when absent */
};

struct pprof_function {
	uint64_t id;
	const char *name;
	const char *system_name;
	const char *filename;
	int64_t start_line;
};

struct pprof_line {
	uint64_t function_id;	/* 0: no function */
	const struct pprof_function *function;	/* NULL when function_id is 0 */
	int64_t line;
};

struct pprof_mapping {
	uint64_t id;
	uint64_t memory_start, memory_limit, file_offset;
	const char *filename;
	const char *build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_location {
	uint64_t id;
	uint64_t mapping_id;	/* 0: none */
	const struct pprof_mapping *mapping;	/* NULL when mapping_id is 0 */
	uint64_t address;
	struct pprof_line *lines;	/* innermost (inlined) first, then its callers */
	size_t nlines;
	bool is_folded;
};

struct pprof_sample {
	const uint64_t *location_ids;	/* leaf first */
	const struct pprof_location **locations;	/* the same, resolved */
	size_t nlocations;
	const int64_t *values;		/* one per sample type */
	struct pprof_label *labels;
	size_t nlabels;
};

struct pprof_profile {
	struct pprof_value_type *sample_types;
	size_t nsample_types;
	struct pprof_sample *samples;
	size_t nsamples;
	struct pprof_mapping *mappings;
	size_t nmappings;
	struct pprof_location *locations;
	size_t nlocations;
	struct pprof_function *functions;
	size_t nfunctions;
	const char *const *strings;	/* the string table; strings[0] == "" */
	size_t nstrings;
	struct pprof_value_type period_type;
	int64_t period;
	int64_t time_nanos, duration_nanos;
	const char **comments;
	size_t ncomments;
	const char *default_sample_type;	/* "" when absent */
	const char *drop_frames, *keep_frames;
	void *priv;	/* private: the decoded message and arrays */
};

/*
 * Reads a pprof file (gzipped or raw). On error returns -EINVAL (malformed; err says which
 * field), -ENOMEM or -errno from opening the file, and *out is NULL.
 */
int pprof_read_file(const char *path, struct pprof_profile **out, char *err, size_t errlen);
int pprof_read_mem(const void *buf, size_t len, struct pprof_profile **out, char *err,
		   size_t errlen);
void pprof_free(struct pprof_profile *p);

/* Index of the sample type named type ("cpu", "alloc_space", ...), or -1. */
int pprof_sample_type_index(const struct pprof_profile *p, const char *type);
/* The default sample index: default_sample_type if set, else the last sample type. */
int pprof_default_sample_index(const struct pprof_profile *p);
/* Location or function with that id, or NULL (binary search; the reader sorts by id). */
const struct pprof_location *pprof_location_by_id(const struct pprof_profile *p, uint64_t id);
const struct pprof_function *pprof_function_by_id(const struct pprof_profile *p, uint64_t id);
/* The string value of label key on s, or NULL. */
const char *pprof_sample_label(const struct pprof_sample *s, const char *key);

/*
 * The frames of a sample as function names, leaf first, with inlined frames expanded
 * (innermost first, as pprof shows them). A location without lines gives "0x<address>"
 * (written into the caller's scratch space, which must hold max * 20 bytes, or NULL to
 * skip such frames). Returns the number of frames stored (at most max); *total gets the
 * full count when not NULL.
 */
size_t pprof_sample_frames(const struct pprof_profile *p, const struct pprof_sample *s,
			   const char **names, size_t max, char *scratch, size_t *total);

/* ---- writing ---- */

struct pprof_builder;

struct pprof_label_kv {
	const char *key;
	const char *str;	/* NULL: numeric label */
	int64_t num;
	const char *num_unit;	/* NULL or "" when none */
};

struct pprof_builder_opts {
	const struct pprof_value_type *sample_types;	/* copied */
	size_t nsample_types;
	struct pprof_value_type period_type;	/* {NULL, NULL}: none */
	int64_t period;
	const char *default_sample_type;	/* NULL: none */
	int64_t time_nanos;		/* 0: now */
	int64_t duration_nanos;
};

struct pprof_builder *pprof_builder_new(const struct pprof_builder_opts *o);
void pprof_builder_free(struct pprof_builder *b);
void pprof_builder_set_duration(struct pprof_builder *b, int64_t duration_nanos);
int pprof_builder_add_comment(struct pprof_builder *b, const char *comment);

/* pcs: leaf first; pcs[1..] are return addresses. values: nsample_types entries. */
int pprof_builder_add(struct pprof_builder *b, const uint64_t *pcs, size_t n,
		      const int64_t *values, const struct pprof_label_kv *labels, size_t nlabels);
/* frames: function names, leaf first (e.g. "[k] do_syscall_64" or folded stack frames). */
int pprof_builder_add_symbolic(struct pprof_builder *b, const char *const *frames, size_t n,
			       const int64_t *values, const struct pprof_label_kv *labels,
			       size_t nlabels);
/*
 * Adds a mapping explicitly (when the addresses come from elsewhere than a live process,
 * e.g. a gperftools profile's copy of /proc/self/maps). Locations whose address falls in
 * it point to it. Call before pprof_builder_write.
 */
int pprof_builder_add_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			      uint64_t offset, const char *filename, const char *build_id);
/*
 * Resolves every address location against process pid (0 = this process), which must
 * still be alive: mappings from /proc/PID/maps with build IDs, then names, file:line and
 * inlined frames from the symbol tables and DWARF (elfutils). Addresses it cannot name stay
 * as addresses. Returns 0 even when some addresses stay unnamed.
 */
int pprof_builder_symbolize(struct pprof_builder *b, pid_t pid);
/* The same from the text of a /proc/PID/maps (files read from disk); -ENOENT if none found. */
int pprof_builder_symbolize_maps(struct pprof_builder *b, const char *maps_text);
/* Number of distinct samples and the sum of values[idx] over them so far. */
size_t pprof_builder_nsamples(const struct pprof_builder *b);
int64_t pprof_builder_total(const struct pprof_builder *b, size_t idx);
/* Writes the gzipped profile to path atomically ("-" = stdout). */
int pprof_builder_write(struct pprof_builder *b, const char *path);
/*
 * A count that grows while any profile of this process is symbolized (one step a location)
 * or written: a thread waiting on a writer tells a slow write from a stuck one by it.
 */
unsigned long pprof_write_progress(void);
/* Serializes to a malloc'ed gzipped buffer. */
int pprof_builder_encode(struct pprof_builder *b, void **buf, size_t *len);

/* Re-encodes a decoded profile (e.g. for `convert`); written atomically, gzipped. */
int pprof_write_profile(const struct pprof_profile *p, const char *path);

#endif
