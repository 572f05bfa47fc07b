/*
 * Tests of `reconperf probe`: the real eBPF programs loaded into the running kernel, timing
 * tests/fixtures/bpf_mix, whose own measurements are the known answer. CI runs as root.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util.h"
#include "tests/bpf_test.h"

#define T_PROBE "timeout 120 %s probe"

/* No Criterion .timeout: with --jobs 2 its watchdog leaks under ASan (libcriterion 2.4);
 * commands run under timeout(1) instead, and the waits below are bounded. */

#define fixture bpf_fixture

/* "fixture NAME VALUE" lines printed by bpf_mix. */
static double fixture_val(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "fixture %s ", name);
	p = strstr(out, key);
	cr_assert(p, "fixture printed no '%s' in:\n%s", name, out);
	return strtod(p + strlen(key), NULL);
}

static cJSON *load_json(const char *path)
{
	char *s = read_file(path, NULL);
	cJSON *j;

	cr_assert(s, "no report at %s", path);
	j = cJSON_Parse(s);
	cr_assert(j, "bad JSON: %s", s);
	free(s);
	return j;
}

/* Runs `reconperf probe ARGS --format json -o FILE -- <fixture> FIXTURE_ARGS`, asserts it
 * exited 0, and returns its JSON report (r keeps its output; the file is removed). */
static cJSON *probe_report(struct run_result *r, const char *args, const char *fixture_args)
{
	char *dir = tmpdir_new(), out[4200];
	cJSON *root;

	snprintf(out, sizeof(out), "%s/p.json", dir);
	run_sh(r, T_PROBE " %s --format json -o %s -- %s %s", rp_bin(), args, out, fixture,
	       fixture_args);
	cr_assert_eq(r->status, 0, "stderr: %s", r->err);
	root = load_json(out);
	unlink(out);
	rmdir(dir);
	free(dir);
	return root;
}

static cJSON *probe_of(cJSON *root, const char *func)
{
	cJSON *p;

	cJSON_ArrayForEach(p, cJSON_GetObjectItem(root, "probes")) {
		if (!strcmp(cJSON_GetObjectItem(p, "func")->valuestring, func))
			return p;
	}
	cr_assert_fail("no probe '%s' in the report", func);
	return NULL;
}

static double num(cJSON *o, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItem(o, a);

	if (b)
		x = x ? cJSON_GetObjectItem(x, b) : NULL;
	cr_assert(x && cJSON_IsNumber(x), "missing %s%s%s", a, b ? "." : "", b ? b : "");
	return x->valuedouble;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

Test(bpf_probe, counts_every_call_of_a_mixed_function_exactly_with_offcpu_split)
{
	struct run_result r;

	need_bpf();
	cJSON *root = probe_report(&r, "--func rp_fixture_work --offcpu", "mix 2 100 3000 1000");
	cJSON *p = probe_of(root, "rp_fixture_work");
	double n = fixture_val(r.out, "count");

	cr_assert_eq(num(p, "count", NULL), n, "kernel counted %g calls, fixture made %g",
		     num(p, "count", NULL), n);
	cr_assert_eq(num(p, "unmatched", NULL), 0);

	/* Total wall: the fixture's clock reads sit just outside the probed window. */
	double sum = num(p, "latency_ns", "total"), fsum = fixture_val(r.out, "sum");
	cr_assert(sum <= fsum && sum > 0.95 * fsum, "probe total %g ns vs fixture %g ns", sum,
		  fsum);

	/* The off-CPU share while blocked is the fixture's sleeping share; the on-CPU time is
	 * the thread CPU time the fixture measured inside its calls. On-CPU here is wall time
	 * minus off-CPU time, so it also holds the uprobe traps and any time the hypervisor
	 * took the vCPU away (steal), which thread CPU time leaves out: a loose upper bound. */
	double blocked = num(p, "offcpu_ns", "blocked"), sleep = fixture_val(r.out, "sleep");
	double on = num(p, "oncpu_ns", "total"), cpu = fixture_val(r.out, "cpu");
	cr_assert(fabs(blocked / sum - sleep / fsum) < 0.05,
		  "blocked share %.3f vs fixture sleeping share %.3f", blocked / sum, sleep / fsum);
	cr_assert(on > 0.85 * cpu && on < 1.5 * cpu + 5e6, "on-CPU %g ns vs fixture CPU %g ns",
		  on, cpu);
	cr_assert(fabs(num(p, "offcpu_ns", "total") + on - sum) < 1e3,
		  "on + off must add up to the latency");
	cJSON_Delete(root);
	run_result_fini(&r);
}

/*
 * Each percentile must be a value of the fixture's own distribution at a nearby rank (the
 * fixture's timing includes a little outside the probed window, and a preemption there
 * can reorder calls), within the stated relative error 1/128.
 */
Test(bpf_probe, percentiles_fall_within_the_stated_error)
{
	struct run_result r;
	static const struct {
		char key[8];
		double p;
	} pc[] = { { "p50", 50 }, { "p90", 90 }, { "p99", 99 } };
	double lat[400];
	size_t n = 0;

	need_bpf();
	cJSON *root = probe_report(&r, "--func rp_fixture_work", "mix 1 200 3000 500 lat");
	for (const char *s = strstr(r.out, "lat "); s && n < 400; s = strstr(s + 1, "\nlat ")) {
		lat[n++] = strtod(s + (s[0] == '\n' ? 5 : 4), NULL);
	}
	cr_assert_eq(n, 200, "fixture printed %zu latencies", n);
	qsort(lat, n, sizeof(lat[0]), cmp_d);
	cJSON *p = probe_of(root, "rp_fixture_work");
	for (size_t i = 0; i < sizeof(pc) / sizeof(pc[0]); i++) {
		double v = num(p, "latency_ns", pc[i].key);
		size_t lo = (size_t)fmax(0, floor((pc[i].p - 2) / 100 * n) - 1);
		size_t hi = (size_t)fmin(n - 1, ceil((pc[i].p + 2) / 100 * n));
		double e = 1.0 / 128;

		cr_assert(v >= lat[lo] * (1 - e) - 20e3 && v <= lat[hi] * (1 + e),
			  "%s = %g ns, fixture has %g..%g ns at ranks %zu..%zu", pc[i].key, v,
			  lat[lo], lat[hi], lo, hi);
	}
	cr_assert(num(p, "latency_ns", "max") <= lat[n - 1],
		  "max %g above the fixture's %g", num(p, "latency_ns", "max"), lat[n - 1]);
	/* not far below it either; against the 4th largest: a preemption between the fixture's
	 * clock and the probe's entry or return makes the fixture's largest larger alone (a
	 * run in CI once) */
	cr_assert(num(p, "latency_ns", "max") > lat[n - 4] * 0.9, "max %g, the fixture's 4th "
		  "largest %g", num(p, "latency_ns", "max"), lat[n - 4]);
	cJSON_Delete(root);
	run_result_fini(&r);
}

Test(bpf_probe, times_nested_recursive_calls_each_on_their_own)
{
	struct run_result r;

	need_bpf();
	run_sh(&r, T_PROBE " --func rp_fixture_recurse --format prom -- %s recurse 50 5",
	       rp_bin(), fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "reconperf_probe_latency_seconds_count{func=\"rp_fixture_recurse\"}"
			 " 300\n"), "want 50 x 6 calls:\n%s", r.out);
	run_result_fini(&r);
}

/* Calls that leave by longjmp never return: each leaves a frame behind. Before frames were
 * matched by stack pointer, 32 of them filled the thread's stack and no later call was
 * timed. A concurrent probe of the same function by another session lost returns the
 * same way on this kernel. */
Test(bpf_probe, calls_left_by_longjmp_do_not_spoil_later_calls)
{
	struct run_result r;

	need_bpf();
	cJSON *root = probe_report(&r, "--func rp_fixture_jumper", "jump 100 50");
	cJSON *p = probe_of(root, "rp_fixture_jumper");

	cr_assert(strstr(r.out, "fixture count 50"), "fixture: %s", r.out);
	cr_assert_eq(num(p, "count", NULL), 50, "count %g, unmatched %g",
		     num(p, "count", NULL), num(p, "unmatched", NULL));
	cr_assert_eq(num(p, "unmatched", NULL), 100, "each call left by longjmp is one missed");
	cJSON_Delete(root);
	run_result_fini(&r);
}

Test(bpf_probe, probes_a_shared_library_function_by_lib_colon_symbol)
{
	struct run_result r;

	need_bpf();
	/* 20 calls of which 4 in 10 sleep through clock_nanosleep. */
	run_sh(&r, T_PROBE " --func libc:clock_nanosleep --func rp_fixture_work -- %s "
		   "mix 1 20 1000 100", rp_bin(), fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	unsigned long long n1 = 0, n2 = 0;
	const char *l1 = strstr(r.out, "\nlibc:clock_nanosleep"), *l2 = strstr(r.out,
									       "\nrp_fixture_work");
	cr_assert(l1 && l2, "table:\n%s", r.out);
	sscanf(l1, " libc:clock_nanosleep %llu", &n1);
	sscanf(l2, " rp_fixture_work %llu", &n2);
	cr_assert_eq(n1, 8, "clock_nanosleep calls: %llu\n%s", n1, r.out);
	cr_assert_eq(n2, 20);
	run_result_fini(&r);
}

Test(bpf_probe, missing_symbol_or_library_exits_2_and_writes_nothing)
{
	struct run_result r;
	char *dir, out[4200];

	need_bpf();
	dir = tmpdir_new();
	snprintf(out, sizeof(out), "%s/p.json", dir);
	run_sh(&r, T_PROBE " --func no_such_function -o %s -- %s loop 10", rp_bin(), out,
	       fixture);
	cr_assert_eq(r.status, 2, "status %d stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "'no_such_function' not found in") && strstr(r.err, "bpf_mix"),
		  "stderr: %s", r.err);
	cr_assert_not(file_exists(out));
	cr_assert_not(strstr(r.out, "ns_per_call"), "the held command must not run");
	run_result_fini(&r);
	run_sh(&r, T_PROBE " --func libnosuch:f -o %s -- %s loop 10", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no library matching 'libnosuch'"), "stderr: %s", r.err);
	cr_assert_not(file_exists(out));
	run_result_fini(&r);
	free(dir);
}

Test(bpf_probe, missing_btf_exits_2_naming_it)
{
	struct run_result r;

	need_bpf();
	run_sh(&r, T_PROBE " --btf /nonexistent/vmlinux --func rp_fixture_work -- %s loop 10",
	       rp_bin(), fixture);
	cr_assert_eq(r.status, 2, "status %d stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "no kernel BTF at '/nonexistent/vmlinux'"), "stderr: %s", r.err);
	run_result_fini(&r);
}

Test(bpf_probe, without_privilege_exits_2_naming_the_capabilities)
{
	struct run_result r;
	char *dir, out[4200];

	need_bpf();
	if (!have_cmd("setpriv"))
		cr_skip_test("setpriv (util-linux) is needed to drop capabilities");
	dir = tmpdir_new();
	snprintf(out, sizeof(out), "%s/p.json", dir);
	run_sh(&r, "setpriv --inh-caps=-all --bounding-set=-all %s probe --func rp_fixture_work "
		   "-o %s -- %s loop 10", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 2, "status %d stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "CAP_BPF") && strstr(r.err, "CAP_PERFMON"), "stderr: %s", r.err);
	cr_assert_not(file_exists(out));
	run_result_fini(&r);
	free(dir);
}

Test(bpf_probe, bad_options_exit_2)
{
	struct run_result r;

	run_sh(&r, T_PROBE " --func f", rp_bin());
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--pid P' or '-- CMD'"), "stderr: %s", r.err);
	run_result_fini(&r);
	run_sh(&r, T_PROBE " --pid 12abc --func f", rp_bin());
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'12abc'"), "stderr: %s", r.err);
	run_result_fini(&r);
	run_sh(&r, T_PROBE " --pid 1 --func f --format xml", rp_bin());
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'xml'"), "stderr: %s", r.err);
	run_result_fini(&r);
}

/* The first byte of the fixture's function as the process sees it: 0xcc while probed. */
static int text_byte(pid_t pid, unsigned long addr)
{
	char fn[64];
	unsigned char c;
	int fd;

	snprintf(fn, sizeof(fn), "/proc/%d/mem", (int)pid);
	fd = open(fn, O_RDONLY);
	if (fd < 0)
		return -1;
	if (pread(fd, &c, 1, (off_t)addr) != 1)
		c = 0;
	close(fd);
	return c;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

Test(bpf_probe, sigint_reports_and_removes_every_probe)
{
	char *dir, out[4200], line[128] = "";
	int pfd[2], st, orig, cur = -1;
	unsigned long addr = 0;
	pid_t fx, pr;
	FILE *fp;

	need_bpf();
	dir = tmpdir_new();
	snprintf(out, sizeof(out), "%s/p.json", dir);
	cr_assert(pipe(pfd) == 0);
	fx = fork();
	if (fx == 0) {
		dup2(pfd[1], 1);
		execl(fixture, fixture, "serve", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	fp = fdopen(pfd[0], "r");
	cr_assert(fgets(line, sizeof(line), fp), "fixture printed nothing");
	cr_assert(sscanf(line, "%*d %lx", &addr) == 1, "fixture line: %s", line);
	orig = text_byte(fx, addr);
	cr_assert_eq(orig, 0x55, "rp_fixture_work should start with push %%rbp, got 0x%x", orig);

	char pid_s[16];
	snprintf(pid_s, sizeof(pid_s), "%d", (int)fx);
	pr = fork();
	if (pr == 0) {
		int dn = open("/dev/null", O_WRONLY);

		dup2(dn, 1);
		execl(rp_bin(), rp_bin(), "probe", "--pid", pid_s, "--func", "rp_fixture_work",
		      "--format", "json", "-o", out, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && cur != 0xcc; i++) {	/* until the uprobe is in */
		nap_ms(10);
		cur = text_byte(fx, addr);
	}
	cr_assert_eq(cur, 0xcc, "the uprobe never appeared in the fixture's text");
	nap_ms(300);	/* some calls */
	kill(pr, SIGINT);
	cr_assert_eq(waitpid(pr, &st, 0), pr);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "probe status 0x%x", st);
	cr_assert_eq(text_byte(fx, addr), orig, "the breakpoint is still in the fixture's text");
	kill(fx, SIGKILL);
	waitpid(fx, &st, 0);
	fclose(fp);

	cJSON *root = load_json(out), *p = probe_of(root, "rp_fixture_work");
	cr_assert(num(p, "count", NULL) >= 10, "calls seen in 300 ms of 1 ms sleeps: %g",
		  num(p, "count", NULL));
	cr_assert(num(p, "latency_ns", "p50") >= 1e6, "each call sleeps 1 ms");
	cJSON_Delete(root);
	free(dir);
}

Test(bpf_probe, probes_a_library_of_a_running_process_and_reports_each_interval)
{
	struct run_result r;
	char *dir, out[4200];

	need_bpf();
	dir = tmpdir_new();
	snprintf(out, sizeof(out), "%s/p.json", dir);
	run_sh(&r, "%s serve > /dev/null & fx=$!; sleep 0.2; timeout 60 %s probe --pid $fx "
		   "--func libc:clock_nanosleep --duration 900ms --interval 250ms --format json "
		   "-o %s; rc=$?; kill $fx; exit $rc", fixture, rp_bin(), out);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	int tables = 0;
	for (const char *s = strstr(r.err, "FUNC"); s; s = strstr(s + 1, "FUNC"))
		tables++;
	cr_assert(tables >= 2 && tables <= 4, "900 ms at 250 ms intervals: %d tables\n%s", tables,
		  r.err);
	cJSON *root = load_json(out), *p = probe_of(root, "libc:clock_nanosleep");
	cr_assert(strstr(cJSON_GetObjectItem(p, "path")->valuestring, "libc.so"),
		  "resolved through /proc/PID/maps to libc");
	/* 1 ms sleeps for 900 ms: some hundreds, each at least 1 ms. */
	cr_assert(num(p, "count", NULL) >= 100, "count %g, unmatched %g, stderr:\n%s",
		  num(p, "count", NULL), num(p, "unmatched", NULL), r.err);
	cr_assert(num(p, "latency_ns", "p50") >= 1e6 * (1 - 1.0 / 128));
	cJSON_Delete(root);
	run_result_fini(&r);
	free(dir);
}

Test(bpf_probe, times_usdt_start_end_pairs_exactly)
{
	struct run_result r;

	need_bpf();
	cJSON *root = probe_report(&r, "--usdt reconperf:reconcile_start:reconcile_end",
				   "usdt 30 2000");
	cJSON *p = probe_of(root, "reconperf:reconcile_start:reconcile_end");
	cr_assert_eq(num(p, "count", NULL), 30);
	cr_assert(num(p, "latency_ns", "p50") >= 2e6 * (1 - 1.0 / 128), "each sleeps 2 ms");
	cJSON_Delete(root);
	run_result_fini(&r);
	run_sh(&r, T_PROBE " --usdt reconperf:nostart:reconcile_end -- %s usdt 3 20", rp_bin(),
	       fixture);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no USDT probe 'reconperf:nostart'"), "stderr: %s", r.err);
	run_result_fini(&r);
}

/*
 * A container's process whose libc is a file only its mount namespace has (a copy in a
 * tmpfs mounted there, found through LD_LIBRARY_PATH): LIB:FN resolves through its maps to
 * /proc/PID/root/..., the file it runs, which our namespace does not see at that path.
 */
Test(bpf_probe, probes_a_library_only_the_process_mount_namespace_has)
{
	struct run_result r;
	char *dir, ns[4200], out[4200];

	need_bpf();
	if (!have_cmd("unshare") || !have_cmd("pgrep"))
		cr_skip_test("unshare and pgrep are needed");
	dir = tmpdir_new();
	snprintf(ns, sizeof(ns), "%s/ns", dir);
	snprintf(out, sizeof(out), "%s/p.json", dir);
	cr_assert_eq(mkdir(ns, 0700), 0);
	run_sh(&r, "(unshare --mount --propagation private sh -c 'mount -t tmpfs none %s && "
		   "cp -L /lib/x86_64-linux-gnu/libc.so.6 %s/ && LD_LIBRARY_PATH=%s exec %s serve' "
		   ">/dev/null &); i=0; c=; while [ -z \"$c\" ] && [ $i -lt 100 ]; do sleep 0.05; "
		   "i=$((i+1)); for q in $(pgrep -f '%s serve'); do grep -q '%s/libc' "
		   "/proc/$q/maps && c=$q; done; done; [ -n \"$c\" ] || exit 99; "
		   "[ -e %s/libc.so.6 ] && echo visible; "
		   "timeout 60 %s probe --pid $c --func libc:clock_nanosleep --duration 600ms "
		   "--format json -o %s; rc=$?; kill $c; exit $rc", ns, ns, ns, fixture, fixture, ns,
	       ns, rp_bin(), out);
	cr_assert_eq(r.status, 0, "status %d, stderr: %s", r.status, r.err);
	cr_assert_null(strstr(r.out, "visible"), "the copy is visible from here");
	cJSON *root = load_json(out), *p = probe_of(root, "libc:clock_nanosleep");
	const char *path = cJSON_GetObjectItem(p, "path")->valuestring;

	cr_assert(strstr(path, "/root") && strstr(path, "/ns/libc.so.6"), "path %s", path);
	cr_assert(num(p, "count", NULL) >= 50, "count %g: 1 ms sleeps for 600 ms",
		  num(p, "count", NULL));
	cJSON_Delete(root);
	run_result_fini(&r);
	free(dir);
}
