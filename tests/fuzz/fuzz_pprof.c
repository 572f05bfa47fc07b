/* libFuzzer target: the pprof decoder (gzipped or raw profile.proto). */
#include <stddef.h>
#include <stdint.h>
#include "profiler/pprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_profile *p = NULL;
	char err[512];

	if (pprof_read_mem(data, size, &p, err, sizeof(err)) == 0)
		pprof_free(p);
	return 0;
}
