/*
 * symbolize — names for addresses in a live process: its executable mappings (from
 * /proc/PID/maps, with GNU build IDs) and, for an address, the chain of frames that
 * contains it — the innermost inlined function first, then the functions it was inlined
 * into, ending with the real (out-of-line) function — each with its source file and line.
 * Uses elfutils libdwfl (symbol tables, DWARF, separate debuginfo); works for PIE, static
 * and shared objects.
 *
 * A symbolizer is a snapshot: mappings loaded after sym_new() are not seen. The strings it
 * returns live until sym_free(). Not thread-safe; never call from a signal handler.
 */
#ifndef RECONPERF_SYMBOLIZE_H
#define RECONPERF_SYMBOLIZE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

struct sym_map {
	uint64_t start, limit, offset;
	const char *path;
	const char *build_id;	/* lowercase hex, "" when unknown */
};

struct sym_frame {
	const char *name;	/* function name ("" never: NULL when unknown) */
	const char *file;	/* NULL when unknown */
	int line;		/* 0 when unknown */
	int start_line;		/* line of the function's declaration, 0 when unknown */
};

/* pid 0 = this process. Returns 0 or a negative errno (-ESRCH: no such process). */
int sym_new(pid_t pid, struct symbolizer **out);
/*
 * From the text of a /proc/PID/maps taken earlier (a gperftools profile carries one): the
 * files are read from disk at the addresses the maps give. -ENOENT when no file is there.
 */
int sym_new_from_maps(const char *maps_text, struct symbolizer **out);
void sym_free(struct symbolizer *s);

/* The executable file mappings, in address order. */
size_t sym_nmaps(const struct symbolizer *s);
const struct sym_map *sym_map_at(const struct symbolizer *s, size_t i);
/* The mapping that holds addr, or NULL. */
const struct sym_map *sym_map_for(const struct symbolizer *s, uint64_t addr);

/*
 * Frames for addr, innermost first, at most max. Returns how many were stored; 0 when the
 * address has no symbol at all.
 */
int sym_lookup(struct symbolizer *s, uint64_t addr, struct sym_frame *frames, int max);
/*
 * Inlined frames come from a per-unit index of scope ranges (profiler/symscope.h); off,
 * every lookup walks the unit's DIE tree through libdw instead (slow, for comparisons).
 */
void sym_set_indexed(struct symbolizer *s, bool on);
/* Lookups answered from the index, and lookups that needed libdw's walks. */
void sym_index_stats(const struct symbolizer *s, uint64_t *indexed, uint64_t *walked);

#endif
