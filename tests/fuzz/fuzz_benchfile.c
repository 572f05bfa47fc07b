/* libFuzzer target: compare's readers (reconperf JSON, Google Benchmark JSON, Go text). */
#include <stdint.h>
#include "common/benchfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_set s;
	char err[512];

	bf_set_init(&s);
	bf_load_buf(&s, "fuzz", (const char *)data, size, err, sizeof(err));
	bf_set_fini(&s);
	return 0;
}
