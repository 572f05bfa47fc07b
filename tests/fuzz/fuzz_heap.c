/*
 * libFuzzer target: gperftools' legacy heap profile reader (`reconperf convert`): header,
 * stack lines, MAPPED_LIBRARIES (parsed, and its files looked up on disk), then the
 * builder's encoding into a pprof profile.
 */
#include <stdint.h>
#include <stdlib.h>
#include "profiler/legacy_heap.h"
#include "profiler/pprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_builder *b = NULL;
	void *out = NULL;
	size_t len;
	char err[512];

	if (legacy_heap_parse((const char *)data, size, &b, err, sizeof(err)) == 0 &&
	    pprof_builder_encode(b, &out, &len) == 0)
		free(out);
	pprof_builder_free(b);
	return 0;
}
