/* libFuzzer target: the folded-stacks reader of the flame graph. */
#include <stdint.h>
#include <stdio.h>
#include "flamegraph/folded.h"
#include "flamegraph/stacktree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fg_tree *t = fg_tree_new();
	FILE *fp = fmemopen((void *)data, size ? size : 1, "r");
	char err[512];

	if (t && fp && size && fg_folded_read(t, fp, "fuzz.folded", 0, NULL, err, sizeof(err)) == 0)
		fg_tree_finish(t);
	if (fp)
		fclose(fp);
	fg_tree_free(t);
	return 0;
}
