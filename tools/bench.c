/*
 * reconperf bench — run scenarios, print or write the report.
 *
 * Parses options, loads scenarios (the embedded default when none is named), applies
 * overrides, runs every repetition (interleaving several scenarios so machine drift hits
 * them alike), and renders the report. Profilers are wired in through bench hooks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/report.h"
#include "bench/faults.h"
#include "bench/scenario.h"
#include "common/afile.h"
#include "common/units.h"
#include "flamegraph/html.h"
#include "flamegraph/load.h"
#include "tools/cli.h"

const char cmd_bench_usage[] =
	"usage: reconperf bench [SCENARIO.yaml ...] [options]\n"
	"\n"
	"Run simulated controller workloads and report reconcile latency, throughput,\n"
	"retries and time to converge. Without a scenario, runs the embedded default.\n"
	"Several scenarios run interleaved, repetition by repetition.\n"
	"\n"
	"options:\n"
	"  --workers N        worker threads (MaxConcurrentReconciles), 1..1024\n"
	"  --objects N        primary objects, 1..10000000\n"
	"  --duration D       load (churn) phase, e.g. 5s; 0 = until converged\n"
	"  --deadline D       give up converging after D\n"
	"  --seed N           seed of every random choice (same seed, same run)\n"
	"  --repeat R         repetitions of each scenario, 1..1000\n"
	"  --set KEY=VALUE    set any scenario field (see docs/scenarios.md)\n"
	"  --fault SPEC       add a fault: TYPE[:key=value,...] (see docs/faults.md)\n"
	"  --format F         table (default), json, prom or gobench\n"
	"  -o FILE            write the report to FILE (atomically) instead of stdout\n"
	"  --html FILE        also write a self-contained HTML report (charts, flame graphs)\n"
	"  -q, --quiet        no progress on stderr\n"
	"\n"
	"exit status: 0 converged; 1 a run did not converge, lost objects or reconciled a key\n"
	"twice at once; 2 bad usage or scenario; 130 interrupted.\n";

struct bench_cli {
	const char *out;
	const char *html;	/* --html FILE */
	const char *cpuprofile, *memprofile;	/* profiles to draw in the HTML report */
	enum report_format fmt;
	bool quiet;
	/* overrides applied to every scenario, in order */
	struct { const char *key; const char *val; } sets[256];
	size_t nsets;
	uint32_t repeat;
	bool repeat_set;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void progress(void *arg, const struct bench_progress *p)
{
	const char *name = arg;

	fprintf(stderr, "\r%s: %-8s %6.1fs  reconciles %-10llu depth %-8llu unconverged %-8llu",
		name, p->phase, (double)p->t_ns / 1e9, (unsigned long long)p->reconciles,
		(unsigned long long)p->depth, (unsigned long long)p->unconverged);
}

static int add_set(struct bench_cli *c, const char *key, const char *val)
{
	if (c->nsets == sizeof(c->sets) / sizeof(c->sets[0])) {
		cli_err("bench", "too many overrides (at most 256)");
		return -E2BIG;
	}
	c->sets[c->nsets].key = key;
	c->sets[c->nsets].val = val;
	c->nsets++;
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_cli *c, int *first_file)
{
	enum { O_WORKERS = 256, O_OBJECTS, O_DURATION, O_DEADLINE, O_SEED, O_REPEAT, O_SET,
	       O_FAULT, O_FORMAT, O_HTML };
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "objects", required_argument, NULL, O_OBJECTS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "set", required_argument, NULL, O_SET },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "html", required_argument, NULL, O_HTML },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *keys[] = { [O_WORKERS - O_WORKERS] = "workers", "objects", "duration",
				      "deadline", "seed" };
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:q", opts, NULL)) != -1) {
		switch (ch) {
		case O_WORKERS: case O_OBJECTS: case O_DURATION: case O_DEADLINE: case O_SEED:
			if (add_set(c, keys[ch - O_WORKERS], optarg))
				return -EINVAL;
			break;
		case O_HTML:
			c->html = optarg;
			break;
		case O_REPEAT: {
			uint64_t v;
			if (cli_u64("bench", "--repeat", optarg, 1, 1000, &v))
				return -EINVAL;
			c->repeat = (uint32_t)v;
			c->repeat_set = true;
			break;
		}
		case O_SET: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				cli_err("bench", "'--set' takes KEY=VALUE, got '%s'", optarg);
				return -EINVAL;
			}
			*eq = '\0';
			if (add_set(c, optarg, eq + 1))
				return -EINVAL;
			break;
		}
		case O_FAULT:
			if (add_set(c, "fault", optarg))
				return -EINVAL;
			break;
		case O_FORMAT:
			if (report_format_parse(optarg, &c->fmt)) {
				cli_err("bench", "'--format' must be table, json, prom or gobench, got '%s'",
					optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			c->out = optarg;
			break;
		case 'q':
			c->quiet = true;
			break;
		case ':':
			cli_err("bench", "option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			cli_err("bench", "unknown option '%s'; see 'reconperf bench --help'",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	*first_file = optind;
	return 0;
}

static int load_scenario(struct scenario *sc, const char *path, const struct bench_cli *c)
{
	char err[512] = "";
	int rc = path ? scenario_load_file(sc, path, err, sizeof(err))
		      : scenario_load_embedded(sc, err, sizeof(err));

	if (rc) {
		cli_err("bench", "%s", err);
		return rc;
	}
	for (size_t i = 0; i < c->nsets; i++) {
		if (scenario_set(sc, c->sets[i].key, c->sets[i].val, err, sizeof(err))) {
			cli_err("bench", "%s", err);
			return -EINVAL;
		}
	}
	if (c->repeat_set)
		sc->repeat = c->repeat;
	if (scenario_validate(sc, err, sizeof(err)) || faults_validate(sc, err, sizeof(err))) {
		cli_err("bench", "%s", err);
		return -EINVAL;
	}
	return 0;
}

static void fill_context(struct bench_report *rep, const struct scenario *scs, size_t n,
			 int argc, char **argv)
{
	time_t now = time(NULL);
	struct tm tm;
	size_t off = 0;

	gmtime_r(&now, &tm);
	strftime(rep->date, sizeof(rep->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gethostname(rep->host, sizeof(rep->host) - 1);
	snprintf(rep->version, sizeof(rep->version), "%s", RP_VERSION);
	snprintf(rep->scenario, sizeof(rep->scenario), "%.56s%s", scs[0].name, n > 1 ? ",..." : "");
	snprintf(rep->scenario_file, sizeof(rep->scenario_file), "%.255s", scs[0].file);
	rep->seed = scs[0].seed;
	for (int i = 0; i < argc && off + 2 < sizeof(rep->options); i++) {
		int w = snprintf(rep->options + off, sizeof(rep->options) - off, "%s%s",
				 i ? " " : "", argv[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static int render(const struct bench_cli *c, const struct bench_report *rep)
{
	struct afile *af;
	FILE *fp;
	int rc;

	if (c->out) {
		rc = afile_open(c->out, &af);
		if (rc) {
			cli_err("bench", "cannot write '%s': %s", c->out, strerror(-rc));
			return EXIT_USAGE;
		}
		fp = afile_fp(af);
	} else {
		af = NULL;
		fp = stdout;
	}
	rc = report_write(fp, rep, c->fmt);
	if (af) {
		if (rc) {
			afile_abort(af);
		} else if ((rc = afile_commit(af)) != 0) {
			cli_err("bench", "writing '%s': %s", c->out, strerror(-rc));
			return EXIT_USAGE;
		}
	}
	if (rc) {
		cli_err("bench", "rendering the report: %s", strerror(-rc));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The flame graph of a profile for the HTML report; NULL (and a warning) when it fails. */
static char *flame_svg(const char *path)
{
	char err[512], *svg = NULL;

	if (!path)
		return NULL;
	if (fg_render_file(path, NULL, NULL, &svg, err, sizeof(err))) {
		cli_err("bench", "no flame graph in the HTML report: %s", err);
		return NULL;
	}
	return svg;
}

static int render_html(const struct bench_cli *c, const struct bench_report *rep)
{
	char *cpu = flame_svg(c->cpuprofile), *mem = flame_svg(c->memprofile);
	struct afile *af;
	int rc = afile_open(c->html, &af);

	if (rc) {
		cli_err("bench", "cannot write '%s': %s", c->html, strerror(-rc));
		goto out;
	}
	rc = html_report_write(afile_fp(af), rep, cpu, mem);
	if (rc)
		afile_abort(af);
	else
		rc = afile_commit(af);
	if (rc)
		cli_err("bench", "writing '%s': %s", c->html, strerror(-rc));
out:
	free(cpu);
	free(mem);
	return rc ? EXIT_USAGE : EXIT_OK;
}

static bool run_failed(const struct bench_run *r)
{
	return !r->convergence.converged || r->convergence.lost_objects ||
	       r->convergence.concurrent_reconciles;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_cli c = { .fmt = REPORT_TABLE };
	struct bench_report rep = { 0 };
	struct scenario *scs = NULL;
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	size_t nsc, maxrep = 1;
	int first, code = EXIT_OK;

	if (parse_args(argc, argv, &c, &first))
		return EXIT_USAGE;
	nsc = first < argc ? (size_t)(argc - first) : 1;
	scs = calloc(nsc, sizeof(*scs));
	if (!scs)
		return EXIT_USAGE;
	for (size_t i = 0; i < nsc; i++) {
		if (load_scenario(&scs[i], first < argc ? argv[first + (int)i] : NULL, &c)) {
			free(scs);
			return EXIT_USAGE;
		}
		if (scs[i].repeat > maxrep)
			maxrep = scs[i].repeat;
	}
	fill_context(&rep, scs, nsc, argc, argv);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* Interleaved: repetition k of every scenario before repetition k+1 of any. */
	for (size_t k = 0; k < maxrep && code == EXIT_OK; k++) {
		for (size_t i = 0; i < nsc; i++) {
			struct bench_hooks hooks = { .interrupted = (const volatile int *)&stop_flag };
			char err[512] = "";
			struct bench_run *run;
			int rc;

			if (k >= scs[i].repeat)
				continue;
			if (!c.quiet && cli_progress_enabled()) {
				hooks.progress = progress;
				hooks.progress_arg = scs[i].name;
			}
			rc = bench_run(&scs[i], (int)k, &hooks, &run, err, sizeof(err));
			if (hooks.progress)
				fputs("\r\033[K", stderr);
			if (rc == -EINTR) {
				cli_err("bench", "interrupted; no report written");
				code = 130;
				break;
			}
			if (rc) {
				cli_err("bench", "%s: %s", scs[i].name, err[0] ? err : strerror(-rc));
				code = EXIT_USAGE;
				break;
			}
			if (bench_report_add(&rep, run)) {
				bench_run_free(run);
				cli_err("bench", "out of memory");
				code = EXIT_USAGE;
				break;
			}
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (code == EXIT_OK) {
		code = render(&c, &rep);
		if (code == EXIT_OK && c.html)
			code = render_html(&c, &rep);
		for (size_t i = 0; code == EXIT_OK && i < rep.nruns; i++)
			if (run_failed(rep.runs[i]))
				code = EXIT_FAIL;
	}
	bench_report_fini(&rep);
	free(scs);
	return code;
}
