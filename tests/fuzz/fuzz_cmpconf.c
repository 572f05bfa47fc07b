/*
 * libFuzzer target: compare's config file (`reconperf compare --config`), then the
 * per-metric questions, whose globs come from the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/cmpconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const metrics[] = { "default:latency.p99", "BenchmarkReconcile-8:ns/op",
					       "x:cpu_time", "" };
	struct cmpconf c;
	char err[512], *text = malloc(size + 1);
	double thr;
	int hb;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';	/* the reader takes a string, as cmpconf_load makes it */
	cmpconf_init(&c);
	if (cmpconf_parse(&c, "fuzz.conf", text, err, sizeof(err)) == 0)
		for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
			cmpconf_ignored(&c, metrics[i]);
			cmpconf_threshold(&c, metrics[i], &thr);
			cmpconf_direction(&c, metrics[i], &hb);
		}
	cmpconf_fini(&c);
	free(text);
	return 0;
}
