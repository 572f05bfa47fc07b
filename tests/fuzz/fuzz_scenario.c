/* libFuzzer target: the scenario reader and the fault validator. */
#include <stddef.h>
#include <stdint.h>
#include "bench/faults.h"
#include "bench/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scenario sc;
	char err[512];

	if (scenario_load_string(&sc, (const char *)data, size, "fuzz.yaml", err, sizeof(err)) == 0)
		if (scenario_validate(&sc, err, sizeof(err)) == 0)
			faults_validate(&sc, err, sizeof(err));
	return 0;
}
