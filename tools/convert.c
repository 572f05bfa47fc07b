/* reconperf convert — profiles from other formats into gzipped pprof. */
#include "tools/cli.h"
#include "common/afile.h"
#include "flamegraph/foldconv.h"
#include "flamegraph/load.h"
#include "profiler/gperf.h"
#include "profiler/legacy_heap.h"
#include "profiler/pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_convert_usage[] =
	"usage: reconperf convert IN -o OUT [--to pprof|folded] [--sample-index NAME]\n"
	"\n"
	"Converts a profile into a gzipped pprof file, told apart by content:\n"
	"  - gperftools' legacy CPU profile (CPUPROFILE=..., ProfilerStart; 32- or 64-bit);\n"
	"    functions are named from the binaries its memory map names, if still on disk\n"
	"  - gperftools' legacy heap profile (HEAPPROFILE=..., HeapProfilerDump; text): the\n"
	"    sample types of a Go heap profile (alloc_objects, alloc_space, inuse_objects,\n"
	"    inuse_space), named the same way\n"
	"  - pprof (gzipped or not): validated and re-encoded\n"
	"  - folded stacks ('main;run;reconcile 42' lines): one sample per stack, samples/count\n"
	"\n"
	"  -o OUT              output file, written whole or not at all ('-' for stdout)\n"
	"  --to folded         write folded stacks instead (from pprof or folded input)\n"
	"  --sample-index NAME with --to folded: the pprof sample type, by name or number\n"
	"Exit status: 0 ok; 2 bad usage or an input that is none of the above (the message\n"
	"names the record or field).\n";

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;
	char *buf = NULL, *nb;

	if (!fp)
		return NULL;
	for (;;) {
		nb = realloc(buf, cap + 1);
		if (!nb)
			goto fail;
		buf = nb;
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (n < cap)
			break;
		cap *= 2;
	}
	if (ferror(fp))
		goto fail;
	fclose(fp);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

/* pprof or folded in, folded stacks out (flamegraph/foldconv.h). */
static int to_folded(const char *in, const char *out, const char *si)
{
	struct afile *af;
	char err[512];
	int rc = afile_open(out, &af);

	if (rc) {
		cli_err("convert", "cannot write '%s': %s", out, strerror(-rc));
		return EXIT_USAGE;
	}
	rc = fg_convert_to_folded(in, si, afile_fp(af), err, sizeof(err));
	if (rc) {
		afile_abort(af);
		cli_err("convert", "%s", err);
		return rc == -EIO || rc == -ENOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	rc = afile_commit(af);
	if (rc) {
		cli_err("convert", "writing '%s' failed: %s", out, strerror(-rc));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_convert(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *to = "pprof", *si = NULL;
	struct pprof_builder *b = NULL;
	struct pprof_profile *p = NULL;
	char err[512];
	size_t len;
	char *buf;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			to = argv[++i];
			if (strcmp(to, "pprof") && strcmp(to, "folded")) {
				cli_err("convert", "'--to' must be pprof or folded, got '%s'", to);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--sample-index") && i + 1 < argc) {
			si = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_err("convert", "unknown option '%s'; see 'reconperf convert --help'",
				argv[i]);
			return EXIT_USAGE;
		} else if (!in) {
			in = argv[i];
		} else {
			cli_err("convert", "one input only, got '%s' and '%s'", in, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!in || !out) {
		cli_err("convert", "need IN and -o OUT; see 'reconperf convert --help'");
		return EXIT_USAGE;
	}
	if (!strcmp(to, "folded") || si)
		return to_folded(in, out, si);
	buf = slurp(in, &len);
	if (!buf) {
		cli_err("convert", "cannot read '%s': %s", in, strerror(errno));
		return EXIT_USAGE;
	}
	if (fg_detect((const unsigned char *)buf, len < 4096 ? len : 4096) == FG_FMT_FOLDED &&
	    !gperf_is_cpu_profile(buf, len) && !legacy_heap_detect(buf, len)) {
		rc = fg_convert_folded_to_pprof(in, out, err, sizeof(err));
		free(buf);
		if (rc == -EINVAL)
			cli_err("convert", "'%s' is text: not a pprof or gperftools profile, and as "
				"folded stacks: %s", in, err);
		else if (rc)
			cli_err("convert", "%s", err);
		return rc == -EINVAL ? EXIT_USAGE : rc ? EXIT_FAIL : EXIT_OK;
	}
	if (gperf_is_cpu_profile(buf, len)) {
		rc = gperf_cpu_to_builder(buf, len, &b, err, sizeof(err));
		if (!rc) {
			pprof_builder_add_comment(b, "converted from a gperftools CPU profile");
			rc = pprof_builder_write(b, out);
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		}
	} else if (legacy_heap_detect(buf, len)) {
		rc = legacy_heap_parse(buf, len, &b, err, sizeof(err));
		if (!rc) {
			pprof_builder_add_comment(b, "converted from a gperftools heap profile");
			rc = pprof_builder_write(b, out);
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		}
	} else {
		rc = pprof_read_mem(buf, len, &p, err, sizeof(err));
		if (!rc) {
			rc = pprof_write_profile(p, out);
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		} else if (rc == -EINVAL && strstr(err, "not a pprof")) {
			snprintf(err, sizeof(err), "not a pprof or gperftools CPU or heap profile");
		}
	}
	free(buf);
	pprof_builder_free(b);
	pprof_free(p);
	if (rc) {
		cli_err("convert", "'%s': %s", in, err);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	return EXIT_OK;
}
