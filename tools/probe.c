/*
 * probe — latency of user functions in any process, from the kernel: uprobe at entry,
 * uretprobe at return (profiler/bpf/latency.*), kept as log-linear histograms in the
 * kernel, optionally split into on-CPU and off-CPU time by sched_switch.
 */
#include "tools/cli.h"
#include "tools/bpftarget.h"
#include "bench/hist.h"
#include "common/afile.h"
#include "common/units.h"
#include "profiler/bpf/latency.h"
#include "profiler/bpf/usym.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cmd_probe_usage[] =
	"usage: reconperf probe (--pid P | -- CMD [ARGS...]) --func SYMBOL [--func ...]\n"
	"                       [--usdt PROVIDER:START:END]\n"
	"                       [--duration D] [--interval D] [--offcpu]\n"
	"                       [--format table|json|prom] [-o FILE] [--btf FILE]\n"
	"\n"
	"Latency of every call of each function, measured by the kernel: a uprobe at entry and\n"
	"a uretprobe at return, per thread, nested and recursive calls each timed on their\n"
	"own. Latencies are kept in the kernel as log-linear histograms (128 linear buckets per\n"
	"power of two: reported values are within 1/128 = 0.8% of the true value).\n"
	"\n"
	"  --pid P          probe a running process (all its threads)\n"
	"  -- CMD ARGS      start CMD held, attach, then let it run; stop when it exits\n"
	"  --func SYMBOL    function to time (up to 8): SYMBOL in the executable, LIB:SYMBOL\n"
	"                   in a shared library (libc:malloc), or /path/to/lib.so:SYMBOL\n"
	"  --usdt P:S:E     time from USDT probe P:S to P:E on the same thread in the\n"
	"                   executable, e.g. reconperf:reconcile_start:reconcile_end (the\n"
	"                   bench's probes, include/reconperf/usdt.h)\n"
	"  --duration D     stop after D (500ms, 10s, 2m); default: until exit or Ctrl-C\n"
	"  --interval D     also print the table so far to stderr every D\n"
	"  --offcpu         split each call into on-CPU and off-CPU time (sched_switch)\n"
	"  --format F       table (default), json or prom (Prometheus text)\n"
	"  -o FILE          write the report to FILE (atomically) instead of stdout\n"
	"  --btf FILE       kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
	"\n"
	"Needs: root or CAP_BPF + CAP_PERFMON; a kernel with uprobes, BPF cookies and BTF\n"
	"(Linux >= 5.15); --offcpu also tp_btf (no tracefs, no kprobes needed).\n"
	"Probing the first instruction of a function costs ~0.4 us per call when it is\n"
	"`push %rbp`, ~14 us when the kernel must single-step it (endbr64, lea, Go's\n"
	"stack check). Never use return probes on Go functions (they break stack moves).\n"
	"See docs/ebpf.md.\n";

enum fmt { FMT_TABLE, FMT_JSON, FMT_PROM };

struct probe_fn {
	struct usym sym;
	const char *spec;
	char usdt[3][64];	/* --usdt PROVIDER:START:END, else usdt[0][0] == 0 */
	int id;
};

struct probe_run {
	struct bpf_lat *lat;
	struct probe_fn fn[RP_LAT_MAX_PROBES];
	int nfn;
	int offcpu;
	uint64_t duration_ns;	/* measured */
};

struct probe_row {
	struct hist *h;
	struct bpf_lat_totals t;
};

static int read_rows(struct probe_run *r, struct probe_row *rows)
{
	for (int i = 0; i < r->nfn; i++) {
		rows[i].h = hist_new();
		if (!rows[i].h)
			return -ENOMEM;
		bpf_lat_read(r->lat, r->fn[i].id, rows[i].h, &rows[i].t);
	}
	return 0;
}

static void free_rows(struct probe_run *r, struct probe_row *rows)
{
	for (int i = 0; i < r->nfn; i++)
		hist_free(rows[i].h);
}

static double pct(const struct probe_row *row, double p)
{
	uint64_t v;

	if (!row->t.count)
		return 0;
	v = hist_percentile(row->h, p);	/* a bucket midpoint: never report past the max */
	return (double)(v < row->t.max_ns ? v : row->t.max_ns);
}

static double mean(const struct probe_row *row)
{
	return row->t.count ? (double)row->t.sum_ns / (double)row->t.count : 0;
}

static uint64_t oncpu(const struct probe_row *row)
{
	return row->t.sum_ns > row->t.offcpu_ns ? row->t.sum_ns - row->t.offcpu_ns : 0;
}

static void write_table(FILE *fp, struct probe_run *r, struct probe_row *rows)
{
	char b[7][32];

	fprintf(fp, "%-28s %10s %9s %9s %9s %9s %9s %9s", "FUNC", "COUNT", "P50", "P90", "P99",
		"P99.9", "MAX", "MEAN");
	if (r->offcpu)
		fprintf(fp, " %9s %9s %9s", "ONCPU", "OFFCPU", "RUNQ");
	fputc('\n', fp);
	for (int i = 0; i < r->nfn; i++) {
		const struct probe_row *w = &rows[i];

		fprintf(fp, "%-28s %10llu %9s %9s %9s %9s %9s %9s", r->fn[i].spec,
			(unsigned long long)w->t.count, units_fmt_ns(pct(w, 50), b[0], 32),
			units_fmt_ns(pct(w, 90), b[1], 32), units_fmt_ns(pct(w, 99), b[2], 32),
			units_fmt_ns(pct(w, 99.9), b[3], 32),
			units_fmt_ns((double)w->t.max_ns, b[4], 32),
			units_fmt_ns(mean(w), b[5], 32));
		if (r->offcpu)
			fprintf(fp, " %9s %9s %9s", units_fmt_ns((double)oncpu(w), b[6], 32),
				units_fmt_ns((double)w->t.offcpu_ns, b[0], 32),
				units_fmt_ns((double)w->t.runq_ns, b[1], 32));
		if (w->t.missed)
			fprintf(fp, "  (%llu unmatched)", (unsigned long long)w->t.missed);
		fputc('\n', fp);
	}
}

static int write_json(FILE *fp, struct probe_run *r, struct probe_row *rows, pid_t pid)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *s;

	if (!root)
		return -ENOMEM;
	cJSON_AddNumberToObject(root, "pid", pid);
	cJSON_AddNumberToObject(root, "duration_ns", (double)r->duration_ns);
	cJSON_AddNumberToObject(root, "relative_error", hist_rel_error());
	arr = cJSON_AddArrayToObject(root, "probes");
	for (int i = 0; i < r->nfn && arr; i++) {
		const struct probe_row *w = &rows[i];
		cJSON *o = cJSON_CreateObject(), *l;

		if (!o)
			break;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "func", r->fn[i].spec);
		cJSON_AddStringToObject(o, "path", r->fn[i].sym.path);
		cJSON_AddNumberToObject(o, "offset", (double)r->fn[i].sym.offset);
		cJSON_AddNumberToObject(o, "count", (double)w->t.count);
		cJSON_AddNumberToObject(o, "unmatched", (double)w->t.missed);
		l = cJSON_AddObjectToObject(o, "latency_ns");
		cJSON_AddNumberToObject(l, "p50", pct(w, 50));
		cJSON_AddNumberToObject(l, "p90", pct(w, 90));
		cJSON_AddNumberToObject(l, "p99", pct(w, 99));
		cJSON_AddNumberToObject(l, "p999", pct(w, 99.9));
		cJSON_AddNumberToObject(l, "max", (double)w->t.max_ns);
		cJSON_AddNumberToObject(l, "mean", mean(w));
		cJSON_AddNumberToObject(l, "total", (double)w->t.sum_ns);
		if (r->offcpu) {
			l = cJSON_AddObjectToObject(o, "oncpu_ns");
			cJSON_AddNumberToObject(l, "total", (double)oncpu(w));
			l = cJSON_AddObjectToObject(o, "offcpu_ns");
			cJSON_AddNumberToObject(l, "total", (double)w->t.offcpu_ns);
			cJSON_AddNumberToObject(l, "blocked",
						(double)(w->t.offcpu_ns - w->t.runq_ns));
			cJSON_AddNumberToObject(l, "runq", (double)w->t.runq_ns);
		}
	}
	s = cJSON_Print(root);
	cJSON_Delete(root);
	if (!s)
		return -ENOMEM;
	fprintf(fp, "%s\n", s);
	free(s);
	return 0;
}

static void prom_label(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
}

static void write_prom(FILE *fp, struct probe_run *r, struct probe_row *rows)
{
	static const double q[] = { 0.5, 0.9, 0.99, 0.999 };

	fprintf(fp, "# HELP reconperf_probe_latency_seconds Latency of probed calls "
		    "(uprobe to uretprobe).\n# TYPE reconperf_probe_latency_seconds summary\n");
	for (int i = 0; i < r->nfn; i++) {
		for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
			fputs("reconperf_probe_latency_seconds{func=\"", fp);
			prom_label(fp, r->fn[i].spec);
			fprintf(fp, "\",quantile=\"%g\"} %.9g\n", q[k],
				pct(&rows[i], q[k] * 100) / 1e9);
		}
		fputs("reconperf_probe_latency_seconds_sum{func=\"", fp);
		prom_label(fp, r->fn[i].spec);
		fprintf(fp, "\"} %.9g\n", (double)rows[i].t.sum_ns / 1e9);
		fputs("reconperf_probe_latency_seconds_count{func=\"", fp);
		prom_label(fp, r->fn[i].spec);
		fprintf(fp, "\"} %llu\n", (unsigned long long)rows[i].t.count);
	}
	if (!r->offcpu)
		return;
	fprintf(fp, "# HELP reconperf_probe_offcpu_seconds_total Off-CPU time inside probed calls."
		    "\n# TYPE reconperf_probe_offcpu_seconds_total counter\n");
	for (int i = 0; i < r->nfn; i++) {
		fputs("reconperf_probe_offcpu_seconds_total{func=\"", fp);
		prom_label(fp, r->fn[i].spec);
		fprintf(fp, "\"} %.9g\n", (double)rows[i].t.offcpu_ns / 1e9);
	}
	fprintf(fp, "# HELP reconperf_probe_oncpu_seconds_total On-CPU time inside probed calls."
		    "\n# TYPE reconperf_probe_oncpu_seconds_total counter\n");
	for (int i = 0; i < r->nfn; i++) {
		fputs("reconperf_probe_oncpu_seconds_total{func=\"", fp);
		prom_label(fp, r->fn[i].spec);
		fprintf(fp, "\"} %.9g\n", (double)oncpu(&rows[i]) / 1e9);
	}
}

static void tick(void *arg)
{
	struct probe_run *r = arg;
	struct probe_row rows[RP_LAT_MAX_PROBES] = { 0 };

	if (read_rows(r, rows) == 0)
		write_table(stderr, r, rows);
	free_rows(r, rows);
}

static int report(struct probe_run *r, enum fmt fmt, const char *out, pid_t pid)
{
	struct probe_row rows[RP_LAT_MAX_PROBES] = { 0 };
	struct afile *af = NULL;
	int err;

	err = read_rows(r, rows);
	if (!err)
		err = afile_open(out ? out : "-", &af);
	if (err) {
		cli_err("probe", "cannot write '%s': %s", out ? out : "-", strerror(-err));
		free_rows(r, rows);
		return EXIT_USAGE;
	}
	if (fmt == FMT_JSON)
		err = write_json(afile_fp(af), r, rows, pid);
	else if (fmt == FMT_PROM)
		write_prom(afile_fp(af), r, rows);
	else
		write_table(afile_fp(af), r, rows);
	free_rows(r, rows);
	if (err) {
		afile_abort(af);
		return EXIT_USAGE;
	}
	err = afile_commit(af);
	if (err) {
		cli_err("probe", "cannot write '%s': %s", out ? out : "-", strerror(-err));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int resolve_all(struct probe_run *r, const struct bpftarget *t, pid_t pid)
{
	for (int i = 0; i < r->nfn; i++) {
		struct probe_fn *f = &r->fn[i];
		if (f->usdt[0][0]) {
			snprintf(f->sym.path, sizeof(f->sym.path), "%s", t->exe);
			continue;
		}
		int err = usym_resolve(pid, strchr(f->spec, ':') ? NULL : t->exe, f->spec, &f->sym);

		if (!err)
			continue;
		if (err == -ENOENT && !f->sym.path[0])
			cli_err("probe", "no library matching '%.*s' for '%s'%s",
				(int)(strrchr(f->spec, ':') - f->spec), f->spec, f->spec,
				pid > 0 ? " in /proc/PID/maps" : " in the library path");
		else if (err == -ENOENT && f->sym.offset == 0 && access(f->sym.path, R_OK))
			cli_err("probe", "cannot read '%s' for '%s'", f->sym.path, f->spec);
		else if (err == -ENOENT)
			cli_err("probe", "symbol '%s' not found in '%s' (.symtab or .dynsym); "
				"is it static and stripped, or inlined?", f->sym.name, f->sym.path);
		else if (err == -ENOTSUP)
			cli_err("probe", "'%s' in '%s' is an IFUNC; probe the implementation "
				"it selects instead", f->sym.name, f->sym.path);
		else if (err == -ENOEXEC)
			cli_err("probe", "'%s' is not an ELF file", f->sym.path);
		else
			cli_err("probe", "bad --func '%s': %s", f->spec, strerror(-err));
		return -1;
	}
	return 0;
}

static int parse(int argc, char **argv, struct probe_run *r, pid_t *pid, char ***cmd,
		 uint64_t *dur, uint64_t *ival, enum fmt *fmt, const char **out, const char **btf)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int pidv;

		if (!strcmp(a, "--")) {
			if (i + 1 >= argc) {
				cli_err("probe", "'--' must be followed by a command");
				return -1;
			}
			*cmd = argv + i + 1;
			return 0;
		}
		if (!strcmp(a, "--offcpu")) {
			r->offcpu = 1;
			continue;
		}
		if (!v) {
			cli_err("probe", "'%s' needs a value; see 'reconperf probe --help'", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--pid")) {
			if (cli_int("probe", a, v, 1, 1 << 22, &pidv))
				return -1;
			*pid = pidv;
		} else if (!strcmp(a, "--func")) {
			if (r->nfn >= RP_LAT_MAX_PROBES) {
				cli_err("probe", "at most %d '--func' options", RP_LAT_MAX_PROBES);
				return -1;
			}
			r->fn[r->nfn++].spec = v;
		} else if (!strcmp(a, "--usdt")) {
			struct probe_fn *f = &r->fn[r->nfn];

			if (r->nfn >= RP_LAT_MAX_PROBES) {
				cli_err("probe", "at most %d '--func'/'--usdt' options",
					RP_LAT_MAX_PROBES);
				return -1;
			}
			if (sscanf(v, "%63[^:]:%63[^:]:%63[^:]", f->usdt[0], f->usdt[1],
				   f->usdt[2]) != 3 || strlen(v) != strlen(f->usdt[0]) +
				   strlen(f->usdt[1]) + strlen(f->usdt[2]) + 2) {
				cli_err("probe", "'--usdt' must be PROVIDER:START:END, got '%s'", v);
				return -1;
			}
			f->spec = v;
			r->nfn++;
		} else if (!strcmp(a, "--duration")) {
			if (cli_duration("probe", a, v, dur))
				return -1;
		} else if (!strcmp(a, "--interval")) {
			if (cli_duration("probe", a, v, ival) || !*ival) {
				if (!*ival)
					cli_err("probe", "'--interval' must be > 0, got '%s'", v);
				return -1;
			}
		} else if (!strcmp(a, "--format")) {
			if (!strcmp(v, "table"))
				*fmt = FMT_TABLE;
			else if (!strcmp(v, "json"))
				*fmt = FMT_JSON;
			else if (!strcmp(v, "prom"))
				*fmt = FMT_PROM;
			else {
				cli_err("probe", "'--format' must be table, json or prom, "
					"got '%s'", v);
				return -1;
			}
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			*out = v;
		} else if (!strcmp(a, "--btf")) {
			*btf = v;
		} else {
			cli_err("probe", "unknown option '%s'; see 'reconperf probe --help'", a);
			return -1;
		}
	}
	return 0;
}

int cmd_probe(int argc, char **argv)
{
	struct probe_run r = { 0 };
	struct bpftarget t = { .release_fd = -1, .exit_status = -1 };
	uint64_t dur = 0, ival = 0, t0;
	enum fmt fmt = FMT_TABLE;
	const char *out = NULL, *btf = NULL;
	char **cmd = NULL;
	pid_t pid = 0;
	int err, code = EXIT_USAGE;
	struct timespec ts;

	if (parse(argc, argv, &r, &pid, &cmd, &dur, &ival, &fmt, &out, &btf))
		return EXIT_USAGE;
	if (!pid == !cmd) {
		cli_err("probe", "give exactly one of '--pid P' or '-- CMD'");
		return EXIT_USAGE;
	}
	if (!r.nfn) {
		cli_err("probe", "give at least one '--func SYMBOL' or '--usdt P:START:END'");
		return EXIT_USAGE;
	}
	if (bpftarget_setup(&t, "probe", pid, cmd, 0))
		return EXIT_USAGE;
	if (resolve_all(&r, &t, pid))
		goto out;
	struct bpf_lat_opts lo = { .btf_path = btf, .offcpu = r.offcpu };
	err = bpf_lat_open(&lo, &r.lat);
	if (err) {
		bpftarget_load_error("probe", btf, err);
		goto out;
	}
	for (int i = 0; i < r.nfn; i++) {
		if (r.fn[i].usdt[0][0])
			err = bpf_lat_attach_usdt(r.lat, t.pid, r.fn[i].sym.path, r.fn[i].usdt[0],
						  r.fn[i].usdt[1], r.fn[i].usdt[2], &r.fn[i].id);
		else
			err = bpf_lat_attach_func(r.lat, t.pid, r.fn[i].sym.path,
						  r.fn[i].sym.offset, &r.fn[i].id);
		if (err && r.fn[i].usdt[0][0] && err == -ENOENT) {
			cli_err("probe", "no USDT probe '%s:%s' or '%s:%s' in '%s' (see readelf -n)",
				r.fn[i].usdt[0], r.fn[i].usdt[1], r.fn[i].usdt[0], r.fn[i].usdt[2],
				r.fn[i].sym.path);
			goto out;
		}
		if (err) {
			cli_err("probe", "cannot attach to '%s' (%s+0x%llx): %s", r.fn[i].spec,
				r.fn[i].sym.path, (unsigned long long)r.fn[i].sym.offset,
				err == -EPERM ? bpf_lat_strerror(err) : strerror(-err));
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	bpftarget_wait(&t, dur, ival, tick, &r);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r.duration_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0;
	code = report(&r, fmt, out, t.pid);
out:
	bpf_lat_free(r.lat);
	bpftarget_fini(&t);
	return code;
}
