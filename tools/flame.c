/*
 * reconperf flame — a profile (pprof or folded stacks) drawn as an interactive SVG flame
 * graph; with --diff, coloured by the change against a base profile.
 */
#include "common/afile.h"
#include "flamegraph/load.h"
#include "flamegraph/stacktree.h"
#include "flamegraph/svg.h"
#include "tools/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char cmd_flame_usage[] =
	"usage: reconperf flame PROFILE|FOLDED [--diff BASE] [--icicle] [--sample-index NAME]\n"
	"                       [--title T] [--width N] [--minwidth PX] [--colors S] [-o F.svg]\n"
	"\n"
	"Draws a profile as one self-contained interactive SVG flame graph: click a frame to\n"
	"zoom, 'Reset zoom' to go back, 'Search' (or Ctrl-F) for a regular expression and the\n"
	"share of samples it matches; hover for the frame's samples and share.\n"
	"The input is a pprof profile (gzipped or not) or folded stacks ('a;b;c 42' lines),\n"
	"told apart by content.\n"
	"\n"
	"  --diff BASE         colour by the change of each frame's share against BASE\n"
	"                      (red grew, blue shrank; deeper colour, larger change)\n"
	"  --icicle            root at the top, stacks growing down\n"
	"  --sample-index NAME pprof sample type to draw, by name or number\n"
	"                      (default: the profile's default type, else the last)\n"
	"  --title T           title (default 'Flame Graph')\n"
	"  --width N           image width in px, 200..100000 (default 1200)\n"
	"  --minwidth PX       frames narrower than PX are left out and counted (default 0.1)\n"
	"  --colors S          hash (by name), module (by library/package) or kind\n"
	"                      (kernel, runtime, user); default hash\n"
	"  -o F.svg            output file, written whole or not at all (default: stdout)\n";

static int load(const char *path, struct fg_tree *t, int slot, const char *si,
		struct fg_load_info *info)
{
	char err[512];
	int ret = fg_load_file(t, path, slot, si, info, err, sizeof(err));

	if (ret)
		cli_err("flame", "%s", err);
	return ret;
}

int cmd_flame(int argc, char **argv)
{
	const char *in = NULL, *base = NULL, *out = "-", *si = NULL;
	struct fg_svg_opts o;
	struct fg_load_info info, binfo;
	struct fg_tree *t = NULL;
	struct afile *af = NULL;
	char sub[160];
	uint64_t u;
	int ret = EXIT_USAGE, err;

	fg_svg_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has = i + 1 < argc;

		if (!strcmp(a, "--icicle")) {
			o.icicle = true;
			continue;
		}
		if (a[0] == '-' && a[1] && !has) {
			cli_err("flame", "'%s' needs a value", a);
			return EXIT_USAGE;
		}
		if (!strcmp(a, "--diff")) {
			base = argv[++i];
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			out = argv[++i];
		} else if (!strcmp(a, "--sample-index")) {
			si = argv[++i];
		} else if (!strcmp(a, "--title")) {
			o.title = argv[++i];
		} else if (!strcmp(a, "--width")) {
			if (cli_u64("flame", "--width", argv[++i], 200, 100000, &u))
				return EXIT_USAGE;
			o.width = (unsigned)u;
		} else if (!strcmp(a, "--minwidth")) {
			if (cli_double("flame", "--minwidth", argv[++i], 0, 10000, &o.minwidth))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--colors")) {
			if (fg_colors_parse(argv[++i], &o.colors)) {
				cli_err("flame", "'--colors' must be hash, module or kind, got '%s'",
					argv[i]);
				return EXIT_USAGE;
			}
		} else if (a[0] == '-' && a[1]) {
			cli_err("flame", "unknown option '%s'; see 'reconperf flame --help'", a);
			return EXIT_USAGE;
		} else if (in) {
			cli_err("flame", "one profile at a time, got '%s' and '%s'", in, a);
			return EXIT_USAGE;
		} else {
			in = a;
		}
	}
	if (!in) {
		cli_err("flame", "no profile given; see 'reconperf flame --help'");
		return EXIT_USAGE;
	}
	t = fg_tree_new();
	if (!t) {
		cli_err("flame", "out of memory");
		return EXIT_USAGE;
	}
	if (load(in, t, 0, si, &info))
		goto out;
	if (base && load(base, t, 1, si, &binfo))
		goto out;
	fg_tree_finish(t);
	o.diff = base != NULL;
	o.unit = info.format == FG_FMT_PPROF && info.unit[0] ? info.unit : "samples";
	if (info.sample_type[0]) {
		snprintf(sub, sizeof(sub), "%s", info.sample_type);
		o.subtitle = sub;
	}
	err = afile_open(out, &af);
	if (err) {
		cli_err("flame", "cannot write '%s': %s", out, strerror(-err));
		goto out;
	}
	err = fg_svg_write(t, &o, afile_fp(af));
	if (err) {
		afile_abort(af);
		cli_err("flame", "writing '%s' failed: %s", out, strerror(-err));
		goto out;
	}
	err = afile_commit(af);
	if (err) {
		cli_err("flame", "writing '%s' failed: %s", out, strerror(-err));
		goto out;
	}
	ret = EXIT_OK;
out:
	fg_tree_free(t);
	return ret;
}
