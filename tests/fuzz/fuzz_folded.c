/* libFuzzer target: the folded-stacks reader of the flame graph, then the writer. */
#include <stdint.h>
#include <stdio.h>
#include "flamegraph/folded.h"
#include "flamegraph/stacktree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct fg_tree *t = fg_tree_new();
	char err[512];

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (t && fg_folded_read_mem(t, (const char *)data, size, "fuzz.folded", 0, NULL, err,
				    sizeof(err)) == 0) {
		fg_tree_finish(t);
		if (sink)
			fg_folded_write(t, 0, sink);
	}
	fg_tree_free(t);
	return 0;
}
