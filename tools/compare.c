/*
 * reconperf compare — the regression gate: two sides of benchmark results in, a verdict per
 * metric out, exit 1 on a significant regression past the threshold. The statistics live
 * in common/stats.c and common/compare.c; the readers in common/benchfile.c.
 */
#include "tools/cli.h"
#include "common/afile.h"
#include "common/benchfile.h"
#include "common/cmpconf.h"
#include "common/compare.h"
#include "profiler/pprof.h"
#include "profiler/profdiff.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

const char cmd_compare_usage[] =
	"usage: reconperf compare BASE NEW [--threshold PCT] [--alpha A] [--format table|md|json]\n"
	"                         [--config F] [--metric GLOB]... [--correction holm|bh|none]\n"
	"                         [-o F]\n"
	"       reconperf compare BASE.pb.gz NEW.pb.gz [--top N] [--sample-index NAME]\n"
	"                         [--format table|md|json] [-o F]\n"
	"\n"
	"Compare benchmark results of a base and a candidate build and give a verdict per metric.\n"
	"BASE and NEW are each a file, a comma-separated list of files or a directory of files:\n"
	"reconperf JSON reports (bench --format json), Google Benchmark JSON or Go benchmark\n"
	"text. Repetitions (and files) of one side are the samples of each metric.\n"
	"\n"
	"A metric regressed (or improved) when the two-sided Mann-Whitney U test is significant\n"
	"at --alpha after correction across all metrics, and the whole Hodges-Lehmann interval\n"
	"of the ratio new/base lies past --threshold on the bad (good) side. Unchanged: the\n"
	"whole interval lies within the threshold. Otherwise inconclusive.\n"
	"\n"
	"  --threshold PCT   smallest change that matters, in percent (default 5)\n"
	"  --alpha A         significance level across all metrics (default 0.05)\n"
	"  --correction C    holm (default; family-wise error), bh (false discovery rate), none\n"
	"  --format F        table (default), md (PR comment, CI step summary) or json\n"
	"  --config F        thresholds, ignores and directions per metric (docs/compare.md)\n"
	"  --metric GLOB     compare only metrics named GROUP:FIELD matching GLOB (repeatable)\n"
	"  -o F              write the report to F (atomically) instead of stdout\n"
	"\n"
	"Two pprof profiles (gzipped or raw profile.proto) compare function by function: flat\n"
	"and cumulative share of each side's total and their change in percentage points,\n"
	"largest flat change first. This is descriptive and always exits 0 on good input.\n"
	"  --top N           show the N functions that changed most (default 20, 0: all)\n"
	"  --sample-index T  sample type to compare (default: the base's default type)\n"
	"\n"
	"exit status: 0 no regression; 1 a significant regression past the threshold;\n"
	"2 bad usage or input (missing or malformed file, different scenarios, a metric on\n"
	"one side only).\n";

#define CMD "compare"

struct opts {
	double threshold, alpha;
	bool has_threshold, has_alpha, has_corr;
	enum cmp_correction corr;
	const char *format, *config, *out, *sample_index;
	char **globs;
	size_t nglobs;
	uint64_t top;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "threshold", required_argument, NULL, 't' },
		{ "alpha", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "metric", required_argument, NULL, 'm' },
		{ "correction", required_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 'T' },
		{ "sample-index", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cmpconf_parse_pct(optarg, &o->threshold)) {
				cli_err(CMD,
					"'--threshold' must be a percentage in 0..1000, got '%s'",
					optarg);
				return -EINVAL;
			}
			o->has_threshold = true;
			break;
		case 'a':
			if (cli_double(CMD, "--alpha", optarg, 1e-9, 0.5, &o->alpha))
				return -EINVAL;
			o->has_alpha = true;
			break;
		case 'f':
			if (strcmp(optarg, "table") && strcmp(optarg, "md") &&
			    strcmp(optarg, "json")) {
				cli_err(CMD, "'--format' must be table, md or json, got '%s'",
					optarg);
				return -EINVAL;
			}
			o->format = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'm': {
			char **g = realloc(o->globs, (o->nglobs + 1) * sizeof(*g));

			if (!g)
				return -ENOMEM;
			o->globs = g;
			o->globs[o->nglobs++] = optarg;
			break;
		}
		case 'C':
			if (!strcmp(optarg, "holm"))
				o->corr = CMP_CORR_HOLM;
			else if (!strcmp(optarg, "bh"))
				o->corr = CMP_CORR_BH;
			else if (!strcmp(optarg, "none"))
				o->corr = CMP_CORR_NONE;
			else {
				cli_err(CMD, "'--correction' must be holm, bh or none, got '%s'",
					optarg);
				return -EINVAL;
			}
			o->has_corr = true;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'T':
			if (cli_u64(CMD, "--top", optarg, 0, 1000000, &o->top))
				return -EINVAL;
			break;
		case 'S':
			o->sample_index = optarg;
			break;
		case ':':
			cli_err(CMD, "'%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			cli_err(CMD, "unknown option '%s'; see 'reconperf compare --help'",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		cli_err(CMD, "need exactly two inputs, BASE and NEW (got %d); see "
			"'reconperf compare --help'", argc - optind);
		return -EINVAL;
	}
	return 0;
}

static int load_side(struct bf_set *s, const char *side, const char *spec)
{
	char err[1024];

	if (bf_load_spec(s, spec, err, sizeof(err)) == 0)
		return 0;
	cli_err(CMD, "%s: %s", side, err);
	return -EINVAL;
}

/* Renders res (a cmp_result) or pd (a profdiff) in the asked format to stdout or -o. */
static int render(const struct cmp_result *res, const struct profdiff *pd,
		  const struct opts *o)
{
	struct afile *af = NULL;
	FILE *fp = stdout;
	int rc;

	if (o->out) {
		rc = afile_open(o->out, &af);
		if (rc) {
			cli_err(CMD, "cannot write '%s': %s", o->out, strerror(-rc));
			return rc;
		}
		fp = afile_fp(af);
	}
	if (pd && !strcmp(o->format, "md"))
		rc = profdiff_render_md(pd, o->top, fp);
	else if (pd && !strcmp(o->format, "json"))
		rc = profdiff_render_json(pd, o->top, fp);
	else if (pd)
		rc = profdiff_render_table(pd, o->top, fp);
	else if (!strcmp(o->format, "md"))
		rc = cmp_render_md(res, fp);
	else if (!strcmp(o->format, "json"))
		rc = cmp_render_json(res, fp);
	else
		rc = cmp_render_table(res, fp);
	if (af) {
		if (rc) {
			afile_abort(af);
		} else {
			rc = afile_commit(af);
		}
		if (rc)
			cli_err(CMD, "cannot write '%s': %s", o->out, strerror(-rc));
	}
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* A single regular file that is gzipped (results files never are) or named like a profile. */
static bool is_profile(const char *path)
{
	unsigned char magic[2];
	struct stat st;
	bool gz = false;
	int fd;

	if (strchr(path, ',') || stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pb") || ends_with(path, ".pprof"))
		return true;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		gz = read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
		close(fd);
	}
	return gz;
}

static int compare_profiles(const char *bpath, const char *npath, const struct opts *o)
{
	struct pprof_profile *p[2] = { NULL, NULL };
	const char *path[2] = { bpath, npath }, *side[2] = { "base", "new" };
	struct profdiff d = { 0 };
	char err[512];
	int code = EXIT_USAGE, rc;

	for (int s = 0; s < 2; s++) {
		rc = pprof_read_file(path[s], &p[s], err, sizeof(err));
		if (rc) {
			cli_err(CMD, "%s: %s: %s", side[s], path[s],
				rc == -EINVAL ? err : strerror(-rc));
			goto out;
		}
	}
	if (profdiff_run(p[0], p[1], o->sample_index, &d, err, sizeof(err))) {
		cli_err(CMD, "%s", err);
		goto out;
	}
	if (!render(NULL, &d, o))
		code = EXIT_OK;
out:
	profdiff_fini(&d);
	pprof_free(p[0]);
	pprof_free(p[1]);
	return code;
}

int cmd_compare(int argc, char **argv)
{
	struct opts o = { .threshold = 0.05, .alpha = 0.05, .format = "table", .top = 20 };
	struct bf_set base, new;
	struct cmpconf conf;
	struct cmp_result res = { 0 };
	struct cmp_opts co;
	char err[2048];
	int code = EXIT_USAGE;

	bf_set_init(&base);
	bf_set_init(&new);
	cmpconf_init(&conf);
	if (parse_opts(argc, argv, &o))
		goto out;
	bool pb = is_profile(argv[optind]), pn = is_profile(argv[optind + 1]);

	if (pb != pn) {
		cli_err(CMD, "'%s' is a profile but '%s' is not: compare two profiles or two sets "
			"of benchmark results", pb ? argv[optind] : argv[optind + 1],
			pb ? argv[optind + 1] : argv[optind]);
		goto out;
	}
	if (pb) {
		code = compare_profiles(argv[optind], argv[optind + 1], &o);
		goto out;
	}
	if (o.config && cmpconf_load(&conf, o.config, err, sizeof(err))) {
		cli_err(CMD, "config: %s", err);
		goto out;
	}
	co = (struct cmp_opts){
		.threshold = o.has_threshold ? o.threshold : conf.threshold,
		.alpha = o.has_alpha ? o.alpha : conf.alpha,
		.correction = o.has_corr ? o.corr : conf.correction,
		.conf = &conf,
		.globs = o.globs,
		.nglobs = o.nglobs,
	};
	if (load_side(&base, "base", argv[optind]) || load_side(&new, "new", argv[optind + 1]))
		goto out;
	if (cmp_run(&base, &new, &co, &res, err, sizeof(err))) {
		cli_err(CMD, "%s", err);
		goto out;
	}
	if (render(&res, NULL, &o))
		goto out;
	if (o.out || strcmp(o.format, "table"))
		for (size_t i = 0; i < res.nwarn; i++)
			cli_err(CMD, "warning: %s", res.warnings[i]);
	code = res.count[CMP_REGRESSED] ? EXIT_FAIL : EXIT_OK;
out:
	cmp_result_fini(&res);
	cmpconf_fini(&conf);
	bf_set_fini(&base);
	bf_set_fini(&new);
	free(o.globs);
	return code;
}
