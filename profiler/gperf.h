/*
 * gperf — gperftools' legacy CPU profile format (what ProfilerStart/CPUPROFILE write) into a
 * pprof builder.
 *
 * Format (gperftools docs/cpuprofile-fileformat.html, pprof's legacy_profile.go): machine
 * words of the writing process (4 or 8 bytes, detected from the header, little-endian);
 * header 0, 3, 0, period_us, 0; then records count, n, pc[n] (leaf first); a trailer 0, 1, 0;
 * then the text of the writer's /proc/self/maps. Each record becomes a sample with values
 * {count, count * period}; the maps text becomes the profile's mappings and is used to
 * symbolize the addresses from the files on disk (so a profile converted after the program
 * exited still gets names, when the binaries are still there).
 *
 * Pure functions; any thread.
 */
#ifndef RECONPERF_GPERF_H
#define RECONPERF_GPERF_H

#include <stdbool.h>
#include <stddef.h>

struct pprof_builder;

/* Does buf start like a legacy CPU profile? */
bool gperf_is_cpu_profile(const void *buf, size_t len);

/*
 * Parses buf into a new builder (sample types samples/count, cpu/nanoseconds) and
 * symbolizes it from the embedded maps. -EINVAL with err naming the record or word on
 * malformed input.
 */
int gperf_cpu_to_builder(const void *buf, size_t len, struct pprof_builder **out, char *err,
			 size_t errlen);

#endif
