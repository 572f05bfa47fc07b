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
#include "bench/workload.h"
#include "flamegraph/html.h"
#include "flamegraph/load.h"
#include "profiler/alloc.h"
#include "reconperf/profiler.h"
#include "profiler/bpf/latency.h"
#include "bench/scenario.h"
#include "common/afile.h"
#include "common/units.h"
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
	"  --cpuprofile FILE  write a CPU profile (pprof) of the whole run to FILE; samples carry\n"
	"                     the labels controller=NAME and phase=reconcile|store|queue\n"
	"  --hz N             CPU samples per second of each thread's CPU time (default 100)\n"
	"  --engine E         the sampler's engine: bpf-stack, bpf, perf or timer (see\n"
	"                     'reconperf record --help'); default: timer up to 100 Hz, above\n"
	"                     it bpf-stack, else perf\n"
	"  --stack-copy SIZE  bytes of stack the bpf-stack engine copies per sample, 4KiB..\n"
	"                     64KiB (default 32KiB); deeper stacks lose their outermost frames\n"
	"  --profiler P       builtin (default) or gperftools: the same profiles through\n"
	"                     gperftools' CPU and heap profilers, converted to pprof\n"
	"  --memprofile FILE  write a heap profile (pprof) of the whole run to FILE\n"
	"  --mem-rate SIZE    mean bytes between heap samples (default 512KiB)\n"
	"  --probe            also time every reconcile from the kernel (USDT + eBPF; needs\n"
	"                     CAP_BPF and CAP_PERFMON) and report it beside the in-process one\n"
	"  --html FILE        write a self-contained HTML report (charts, fault table, and the\n"
	"                     flame graphs of --cpuprofile and --memprofile) to FILE\n"
	"  -q, --quiet        no progress on stderr\n"
	"\n"
	"exit status: 0 converged; 1 a run did not converge, lost objects or reconciled a key\n"
	"twice at once; 2 bad usage or scenario; 130 interrupted.\n";

struct bench_cli {
	const char *out;
	enum report_format fmt;
	bool quiet;
	/* overrides applied to every scenario, in order */
	struct { const char *key; const char *val; char keybuf[64]; } sets[256];
	size_t nsets;
	uint32_t repeat;
	bool repeat_set;
	const char *memprofile;
	uint64_t mem_rate;
	bool probe;
	const char *cpuprofile;
	int hz;
	const char *engine;
	unsigned stack_copy;
	bool gperftools;
	char gperf_tmp[64];
	const char *html;
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
	       O_FAULT, O_FORMAT, O_MEMPROFILE, O_MEMRATE, O_PROBE, O_CPUPROFILE, O_HZ,
	       O_PROFILER, O_HTML, O_ENGINE, O_STACK_COPY };
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
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "memprofile", required_argument, NULL, O_MEMPROFILE },
		{ "mem-rate", required_argument, NULL, O_MEMRATE },
		{ "probe", no_argument, NULL, O_PROBE },
		{ "cpuprofile", required_argument, NULL, O_CPUPROFILE },
		{ "hz", required_argument, NULL, O_HZ },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "stack-copy", required_argument, NULL, O_STACK_COPY },
		{ "profiler", required_argument, NULL, O_PROFILER },
		{ "html", required_argument, NULL, O_HTML },
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
		case O_REPEAT: {
			uint64_t v;
			if (cli_u64("bench", "--repeat", optarg, 1, 1000, &v))
				return -EINVAL;
			c->repeat = (uint32_t)v;
			c->repeat_set = true;
			break;
		}
		case O_SET: {
			/* argv stays untouched: a re-exec under tcmalloc passes it on as it was */
			const char *eq = strchr(optarg, '=');
			size_t n = eq ? (size_t)(eq - optarg) : 0;
			if (!n || n >= sizeof(c->sets[0].keybuf)) {
				cli_err("bench", "'--set' takes KEY=VALUE, got '%s'", optarg);
				return -EINVAL;
			}
			if (add_set(c, NULL, eq + 1))
				return -EINVAL;
			memcpy(c->sets[c->nsets - 1].keybuf, optarg, n);
			c->sets[c->nsets - 1].keybuf[n] = '\0';
			c->sets[c->nsets - 1].key = c->sets[c->nsets - 1].keybuf;
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
		case O_MEMPROFILE:
			c->memprofile = optarg;
			break;
		case O_MEMRATE:
			if (cli_size("bench", "--mem-rate", optarg, &c->mem_rate))
				return -EINVAL;
			if (c->mem_rate == 0) {
				cli_err("bench", "'--mem-rate' must be at least 1 byte, got '%s'", optarg);
				return -EINVAL;
			}
			break;
		case O_PROBE:
			c->probe = true;
			break;
		case O_CPUPROFILE:
			c->cpuprofile = optarg;
			break;
		case O_HTML:
			c->html = optarg;
			break;
		case O_HZ:
			if (cli_int("bench", "--hz", optarg, 1, 10000, &c->hz))
				return -EINVAL;
			break;
		case O_ENGINE:
			if (!rp_profiler_engine_known(optarg)) {
				cli_err("bench", "'--engine' must be auto, bpf-stack, bpf, perf or "
					"timer, got '%s'", optarg);
				return -EINVAL;
			}
			c->engine = optarg;
			break;
		case O_STACK_COPY:
			if (cli_stack_copy("bench", optarg, &c->stack_copy))
				return -EINVAL;
			break;
		case O_PROFILER:
			if (strcmp(optarg, "builtin") && strcmp(optarg, "gperftools")) {
				cli_err("bench", "'--profiler' must be builtin or gperftools, got '%s'",
					optarg);
				return -EINVAL;
			}
			c->gperftools = !strcmp(optarg, "gperftools");
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

/* One repetition, with the kernel-side probe around it when asked. */
static int run_one(const struct bench_cli *c, const struct scenario *sc, int k,
		   struct bench_hooks *hooks, struct bench_run **run, char *err, size_t errlen)
{
	struct bpf_usdt_latency *u = NULL;
	int rc;

	if (c->probe) {
		rc = bpf_usdt_latency_start(0, NULL, &u);
		if (rc) {
			snprintf(err, errlen, "--probe: %s", bpf_lat_strerror(rc));
			return rc;
		}
	}
	rc = bench_run(sc, k, hooks, run, err, errlen);
	if (u && rc == 0) {
		(*run)->probe_latency = hist_new();
		if ((*run)->probe_latency)
			bpf_usdt_latency_read(u, (*run)->probe_latency);
	}
	bpf_usdt_latency_stop(u);
	return rc;
}

static int start_cpu_profiler(struct bench_cli *c)
{
	int rc;

	if (!c->cpuprofile)
		return 0;
	if (c->gperftools) {
		snprintf(c->gperf_tmp, sizeof(c->gperf_tmp), "/tmp/reconperf-gperf-%d.prof",
			 (int)getpid());
		rc = prof_gperftools_start(c->gperf_tmp, c->hz ? c->hz : 100);
		if (rc == -ENOENT)
			cli_err("bench", "'--profiler gperftools': libprofiler.so.0 is not installed "
				"(Debian: libgoogle-perftools4)");
		else if (rc)
			cli_err("bench", "'--profiler gperftools': cannot start: %s", strerror(-rc));
		return rc;
	}
	struct rp_profiler_opts o = { .hz = c->hz ? c->hz : 100, .engine = c->engine,
				      .stack_copy = c->stack_copy };
	rc = rp_profiler_start(&o);
	if (rc)
		cli_err("bench", "'--cpuprofile': cannot start the profiler: %s",
			rp_profiler_strerror(&o, rc));
	return rc;
}

static int stop_cpu_profiler(const struct bench_cli *c, bool write)
{
	int rc;

	if (!c->cpuprofile)
		return 0;
	if (c->gperftools) {
		rc = prof_gperftools_stop(c->gperf_tmp, write ? c->cpuprofile : NULL);
		unlink(c->gperf_tmp);
	} else {
		rc = write ? rp_profiler_stop_write(c->cpuprofile) : rp_profiler_stop();
	}
	if (rc && write)
		cli_err("bench", "writing '%s': %s", c->cpuprofile, strerror(-rc));
	return rc;
}

static int start_profilers(struct bench_cli *c)
{
	if (alloc_available())
		alloc_count_start();	/* exact allocs and bytes per reconcile */
	if (c->memprofile && c->gperftools) {
		int rc = alloc_gperf_start("/tmp/reconperf-heap");
		if (rc) {
			cli_err("bench", "'--profiler gperftools': cannot start the heap profiler: %s",
				strerror(-rc));
			return rc;
		}
	} else if (c->memprofile) {
		struct alloc_prof_opts o = { .rate = c->mem_rate };
		int rc;

		if (!alloc_available()) {
			cli_err("bench", "'--memprofile': the allocation interposer is not active");
			return -ENOTSUP;
		}
		rc = alloc_prof_start(&o);
		if (rc) {
			cli_err("bench", "'--memprofile': cannot start: %s", strerror(-rc));
			return rc;
		}
	}
	return start_cpu_profiler(c);
}

/* The heap sampler stops first, so the CPU profile's symbolization (libdw) is not in it. */
static int stop_profilers(const struct bench_cli *c, bool write)
{
	int rc;

	if (c->memprofile && !c->gperftools)
		alloc_prof_stop();
	rc = stop_cpu_profiler(c, write);
	if (c->memprofile && write) {
		char msg[256] = "";
		int err = c->gperftools ? alloc_gperf_write_pprof(c->memprofile, msg, sizeof(msg))
					: alloc_prof_write(c->memprofile);
		if (err) {
			cli_err("bench", "writing '%s': %s", c->memprofile,
				msg[0] ? msg : strerror(-err));
			rc = err;
		}
	}
	if (alloc_available())
		alloc_count_stop();
	return rc;
}

/* The HTML report, with the flame graphs of the profiles this run wrote. */
static int write_html(const struct bench_cli *c, const struct bench_report *rep)
{
	char *svg[2] = { NULL, NULL }, err[512];
	const char *prof[2] = { c->cpuprofile, c->memprofile };
	const char *index[2] = { NULL, "alloc_space" };
	struct afile *af;
	int rc;

	for (int i = 0; i < 2; i++) {
		if (prof[i] && fg_render_file(prof[i], index[i], NULL, &svg[i], err, sizeof(err))) {
			cli_err("bench", "'--html': drawing '%s': %s", prof[i], err);
			svg[i] = NULL;	/* the report goes out without that flame graph */
		}
	}
	rc = afile_open(c->html, &af);
	if (rc) {
		cli_err("bench", "cannot write '%s': %s", c->html, strerror(-rc));
	} else if ((rc = html_report_write(afile_fp(af), rep, svg[0], svg[1])) != 0) {
		afile_abort(af);
		cli_err("bench", "writing '%s': %s", c->html, strerror(-rc));
	} else if ((rc = afile_commit(af)) != 0) {
		cli_err("bench", "writing '%s': %s", c->html, strerror(-rc));
	}
	free(svg[0]);
	free(svg[1]);
	return rc;
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
	if (c.gperftools && c.memprofile && !alloc_gperf_loaded()) {
		/* tcmalloc must be the allocator from the first call: run again under it */
		int rc = alloc_gperf_reexec(argv - 1);
		cli_err("bench", "'--profiler gperftools --memprofile': %s",
			rc == -ENOENT ? "libtcmalloc.so.4 is not installed (Debian: "
					"libgoogle-perftools4)" : strerror(-rc));
		return EXIT_USAGE;
	}
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
	if (start_profilers(&c)) {
		free(scs);
		return EXIT_USAGE;
	}
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
			if (alloc_available())
				hooks.alloc_counters = alloc_thread_counters;
			if (c.cpuprofile && !c.gperftools) {
				bench_hooks_label(&hooks, workload_find(scs[i].workload)->name);
			}
			if (!c.quiet && cli_progress_enabled()) {
				hooks.progress = progress;
				hooks.progress_arg = scs[i].name;
			}
			rc = run_one(&c, &scs[i], (int)k, &hooks, &run, err, sizeof(err));
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
	if (stop_profilers(&c, code == EXIT_OK) && code == EXIT_OK)
		code = EXIT_USAGE;
	if (code == EXIT_OK && c.html && write_html(&c, &rep))
		code = EXIT_USAGE;
	if (code == EXIT_OK) {
		code = render(&c, &rep);
		for (size_t i = 0; code == EXIT_OK && i < rep.nruns; i++)
			if (run_failed(rep.runs[i]))
				code = EXIT_FAIL;
	}
	bench_report_fini(&rep);
	free(scs);
	return code;
}
