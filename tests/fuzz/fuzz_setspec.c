/*
 * libFuzzer target: the command-line spellings of a scenario, `--set KEY=VALUE` and
 * `--fault TYPE[:k=v,...]` (one per input line; "fault=..." is the --fault form), with
 * every number through common/units; then the cross-field and fault checks, and the
 * promise of scenario_write_yaml: what it writes reads back to the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/faults.h"
#include "bench/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every key and fault of a must read the same in b; aborts (a finding) when not. */
static void same(const struct scenario *a, const struct scenario *b)
{
	char va[512], vb[512];
	const char *k;

	for (size_t i = 0; (k = scenario_key_name(i)); i++) {
		if (scenario_get(a, k, va, sizeof(va)) || scenario_get(b, k, vb, sizeof(vb)) ||
		    strcmp(va, vb)) {
			fprintf(stderr, "%s: '%s' written, '%s' read back\n", k, va, vb);
			abort();
		}
	}
	if (a->nfaults != b->nfaults)
		abort();
	for (size_t i = 0; i < a->nfaults; i++) {
		const struct sc_fault *fa = &a->faults[i], *fb = &b->faults[i];

		if (strcmp(fa->type, fb->type) || fa->nparams != fb->nparams)
			abort();
		for (size_t j = 0; j < fa->nparams; j++)
			if (strcmp(fa->params[j].key, fb->params[j].key) ||
			    strcmp(fa->params[j].val, fb->params[j].val))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scenario sc, back;
	char err[512], *text = malloc(size + 1), *line, *save = NULL, *yaml = NULL;
	size_t ylen = 0;
	FILE *fp;
	int bad = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	scenario_defaults(&sc);
	for (line = strtok_r(text, "\n", &save); line && !bad; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq) {
			bad = 1;
			break;
		}
		*eq = '\0';
		bad = scenario_set(&sc, line, eq + 1, err, sizeof(err)) != 0;
	}
	if (!bad && scenario_validate(&sc, err, sizeof(err)) == 0 &&
	    faults_validate(&sc, err, sizeof(err)) == 0) {
		fp = open_memstream(&yaml, &ylen);
		if (fp && scenario_write_yaml(&sc, fp) == 0 && fclose(fp) == 0) {
			if (scenario_load_string(&back, yaml, ylen, "fuzz.yaml", err,
						 sizeof(err))) {
				fprintf(stderr, "written YAML does not read back: %s\n%s", err,
					yaml);
				abort();
			}
			same(&sc, &back);
		}
		free(yaml);
	}
	free(text);
	return 0;
}
