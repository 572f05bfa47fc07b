/*
 * libFuzzer target: the pprof decoder (gzipped or raw profile.proto) and what reads a
 * decoded profile after it: the frames of every sample (flame graphs, folded output) and
 * the function table of `compare` on profiles.
 */
#include <stddef.h>
#include <stdint.h>
#include "profiler/pprof.h"
#include "profiler/profdiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_profile *p = NULL;
	struct profdiff d;
	const char *names[64];
	char err[512], scratch[64 * 20];
	size_t total;

	if (pprof_read_mem(data, size, &p, err, sizeof(err)))
		return 0;
	pprof_default_sample_index(p);
	for (size_t i = 0; i < p->nsamples; i++)
		pprof_sample_frames(p, &p->samples[i], names, 64, scratch, &total);
	if (profdiff_run(p, p, NULL, &d, err, sizeof(err)) == 0)
		profdiff_fini(&d);
	pprof_free(p);
	return 0;
}
