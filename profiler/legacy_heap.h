/*
 * legacy_heap — gperftools' legacy heap profile (the text HeapProfilerDump/GetHeapProfile
 * writes, docs/heapprofile.html; pprof's profile/legacy_profile.go parses the same) into a
 * pprof builder, for `reconperf convert`:
 *
 *   heap profile: INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ heapprofile     (or heap_v2/RATE)
 *   INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ 0xADDR 0xADDR ...            one per stack
 *   ...
 *   MAPPED_LIBRARIES:
 *   a copy of /proc/PID/maps
 *
 * Addresses are return addresses (the first is in malloc's caller), so every address is
 * moved back one byte onto its call, as pprof does. "heapprofile" counts every allocation
 * (values are exact); "heap_v2/RATE" was sampled and is unsampled with Go's scale. Other
 * kinds (the old "heap/RATE" sampling) are refused with a message naming the line.
 *
 * The builder gets the sample types of a Go heap profile (alloc_objects, alloc_space,
 * inuse_objects, inuse_space); its addresses are named from the binaries of the maps section
 * when they are still on disk (pprof_builder_symbolize_maps), else they keep one mapping per
 * executable file line. The caller writes it.
 */
#ifndef RECONPERF_LEGACY_HEAP_H
#define RECONPERF_LEGACY_HEAP_H

#include <stdbool.h>
#include <stddef.h>

struct pprof_builder;

/* Does buf start like a legacy heap profile? */
bool legacy_heap_detect(const void *buf, size_t len);

/*
 * Parses buf (need not be NUL-terminated) into a new builder. On bad input returns -EINVAL
 * with err holding "line N: what is wrong" and *out NULL; -ENOMEM.
 */
int legacy_heap_parse(const char *buf, size_t len, struct pprof_builder **out, char *err,
		      size_t errlen);

#endif
