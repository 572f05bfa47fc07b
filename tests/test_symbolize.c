/*
 * symbolize: the per-unit scope index gives, address by address, the frames libdw's own
 * tree walks give (function, file, line and inlined callers), over the text of this test
 * binary, which holds libreconperf.a built with -O2 -g (much inlining).
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>
#include <zlib.h>

#include "profiler/symbolize.h"

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

Test(symbolize, scope_index_agrees_with_libdw_at_every_sampled_address, .timeout = 120)
{
	struct symbolizer *fast, *slow;
	const struct sym_map *text = NULL;
	struct sym_frame a[32], b[32];
	long checked = 0, inlined = 0;
	uint64_t indexed, walked;

	cr_assert_eq(sym_new(0, &fast), 0);
	cr_assert_eq(sym_new(0, &slow), 0);
	sym_set_indexed(slow, false);
	/* this binary's own code: the mapping that holds this function */
	text = sym_map_for(fast, (uint64_t)(uintptr_t)&sym_lookup);
	cr_assert_not_null(text);
	for (uint64_t pc = text->start; pc < text->limit && checked < 40000; pc += 13) {
		int n = sym_lookup(fast, pc, a, 32), m = sym_lookup(slow, pc, b, 32);

		cr_assert_eq(n, m, "%#llx: %d frames indexed, %d from libdw (%s / %s)",
			     (unsigned long long)pc, n, m, n ? a[0].name : "-",
			     m ? b[0].name : "-");
		for (int i = 0; i < n; i++) {
			bool eq = same(a[i].name, b[i].name) && same(a[i].file, b[i].file) &&
				  a[i].line == b[i].line && a[i].start_line == b[i].start_line;

			cr_assert(eq, "%#llx frame %d: %s %s:%d (%d) indexed, %s %s:%d (%d) from libdw",
				  (unsigned long long)pc, i, a[i].name, a[i].file, a[i].line,
				  a[i].start_line, b[i].name, b[i].file, b[i].line,
				  b[i].start_line);
		}
		inlined += n > 1;
		checked++;
	}
	/* the comparison must have covered inlined calls, not only plain functions, and the
	 * index must have answered (a unit it cannot index falls back to the same walks) */
	cr_assert_gt(inlined, 100, "%ld addresses with inlined frames of %ld", inlined, checked);
	sym_index_stats(fast, &indexed, &walked);
	cr_assert_gt(indexed, 9 * walked, "indexed %llu, walked %llu of %ld",
		     (unsigned long long)indexed, (unsigned long long)walked, checked);
	sym_free(fast);
	sym_free(slow);
}

/*
 * A library without debug info on disk sends libdw to its debuginfod client; the
 * symbolizer keeps it from loading (network, libcurl's TLS set-up, and node's crash).
 * Several libraries, so that at least one lacks its debug files wherever this runs.
 */
Test(symbolize, libdw_does_not_load_its_debuginfod_client)
{
	struct symbolizer *s;
	struct sym_frame fr[8];

	cr_assert_eq(sym_new(0, &s), 0);
	cr_assert_gt(sym_lookup(s, (uint64_t)(uintptr_t)&fopen, fr, 8), 0);
	cr_assert_gt(sym_lookup(s, (uint64_t)(uintptr_t)&cJSON_Parse, fr, 8), 0);
	cr_assert_gt(sym_lookup(s, (uint64_t)(uintptr_t)&deflate, fr, 8), 0);
	cr_assert_gt(sym_lookup(s, (uint64_t)(uintptr_t)&yaml_parser_initialize, fr, 8), 0);
	sym_free(s);
	cr_assert_null(dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_NOLOAD),
		       "libdebuginfod was loaded while symbolizing");
}

/* Generated code takes its names from the JIT's /tmp/perf-PID.map (a later line wins). */
Test(symbolize, jit_code_is_named_from_the_perf_map)
{
	char path[64];
	struct symbolizer *s;
	struct sym_frame fr[4];
	uint8_t *code = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a = (uintptr_t)code;
	FILE *f;

	cr_assert_neq(code, MAP_FAILED);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "%lx 100 LazyCompile:~old_fn app.js:3\n", (unsigned long)a);
	fprintf(f, "%lx 40 JS:*new_fn app.js:3\n", (unsigned long)a);
	fprintf(f, "not a line\n");
	fprintf(f, "%lx 80 Stub:second\n", (unsigned long)a + 0x1000);
	fclose(f);
	cr_assert_eq(sym_new(0, &s), 0);
	cr_assert_eq(sym_lookup(s, a + 0x10, fr, 4), 1);
	cr_assert_str_eq(fr[0].name, "JS:*new_fn app.js:3");
	cr_assert_eq(sym_lookup(s, a + 0x50, fr, 4), 1);	/* past new_fn: the older entry */
	cr_assert_str_eq(fr[0].name, "LazyCompile:~old_fn app.js:3");
	cr_assert_eq(sym_lookup(s, a + 0x1010, fr, 4), 1);
	cr_assert_str_eq(fr[0].name, "Stub:second");
	cr_assert_eq(sym_lookup(s, a + 0x200, fr, 4), 0);	/* in no entry */
	sym_free(s);
	unlink(path);
	munmap(code, 8192);
}
