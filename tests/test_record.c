/*
 * record and convert: the real binary on the cpushare fixture (50/30/20% of its CPU time in
 * burn_50/burn_30/burn_20 on three threads), checked with `go tool pprof -top` / `-traces`.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profiler/gperf.h"
#include "profiler/pprof.h"
#include "tests/bpf_test.h"
#include "tests/gopprof.h"
#include "tests/threadmix.h"
#include "tests/util.h"

static char *fixture(const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/tests/fixtures/%s", rp_build(), name) > 0);
	if (!file_exists(p))
		cr_assert_fail("fixture %s not built (make test-bins)", p);
	return p;
}

static char *scratch(const char *name)
{
	char *d = tmpdir_new(), *p;

	cr_assert(asprintf(&p, "%s/%s", d, name) > 0);
	free(d);
	return p;
}

static void need_go(void)
{
	if (!have_cmd("go"))
		cr_skip_test("go is not installed");
}

/*
 * Runs reconperf record on the cpushare fixture (engine NULL: the default); returns the CPU
 * seconds the fixture measured itself at the end of main (its "cpu_seconds=" line): the
 * time the sampler could sample. What follows (writing the profile: symbolization, ~0.1-0.3
 * CPU-s) and record's own process are not the program's work.
 */
static double record_fixture(const char *fx, const char *out, const char *hz, const char *secs,
			     const char *engine, int *status)
{
	char *argv[] = { (char *)rp_bin(), "record", "-o", (char *)out, "--hz", (char *)hz,
			 "--engine", (char *)engine, "--", (char *)fx, (char *)secs, NULL };
	char *log = scratch("stdout"), line[128];
	double cpu = -1;
	FILE *f;
	pid_t pid;

	if (!engine)	/* drop "--engine E" */
		memmove(&argv[6], &argv[8], 4 * sizeof(argv[0]));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, status, 0), pid);
	f = fopen(log, "r");
	cr_assert_not_null(f, "%s", log);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu_seconds=%lf", &cpu) == 1)
			break;
	fclose(f);
	cr_assert_gt(cpu, 0, "the fixture printed no cpu_seconds line");
	unlink(log);
	free(log);
	return cpu;
}

static int64_t total_samples(const char *path)
{
	struct pprof_profile *p;
	char err[256];
	int64_t n = 0;

	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s: %s", path, err);
	for (size_t i = 0; i < p->nsamples; i++)
		n += p->samples[i].values[0];
	pprof_free(p);
	return n;
}

static void assert_share(const char *top, const char *fn, double want_flat, double want_cum)
{
	double flat, cum;

	cr_assert_eq(gopprof_top_row(top, fn, &flat, &cum), 0, "no row for %s in:\n%s", fn, top);
	if (want_flat >= 0)
		cr_assert(flat > want_flat - 3 && flat < want_flat + 3, "%s flat %.2f%%, want %.0f%%"
			  " +-3\n%s", fn, flat, want_flat, top);
	cr_assert(cum > want_cum - 3 && cum < want_cum + 3, "%s cum %.2f%%, want %.0f%% +-3\n%s",
		  fn, cum, want_cum, top);
}

/* Every -traces block that contains leaf must contain each of chain, in order. */
static void assert_traces(const char *traces, const char *leaf, const char *const *chain,
			  size_t n)
{
	char *dup = strdup(traces), *save = NULL;
	int blocks = 0;

	for (char *blk = strtok_r(dup, "-", &save); blk; blk = strtok_r(NULL, "-", &save)) {
		const char *at;

		if (!(at = strstr(blk, leaf)))
			continue;
		blocks++;
		for (size_t i = 0; i < n; i++) {
			at = strstr(at, chain[i]);
			cr_assert_not_null(at, "a stack of %s lacks %s:\n%s", leaf, chain[i], blk);
		}
	}
	cr_assert_gt(blocks, 0, "no stack with %s", leaf);
	free(dup);
}

struct fxcase {
	char name[32], engine[16];
};

ParameterizedTestParameters(record, fixture_shares_and_whole_stacks)
{
	static struct fxcase cases[] = { { "cpushare-fp", "bpf-stack" },
					 { "cpushare-nofp", "bpf-stack" },
					 { "cpushare-fp", "bpf" }, { "cpushare-nofp", "bpf" },
					 { "cpushare-fp", "perf" }, { "cpushare-nofp", "perf" } };

	return cr_make_param_array(struct fxcase, cases, 6);
}

ParameterizedTest(struct fxcase *c, record, fixture_shares_and_whole_stacks, .timeout = 300)
{
	char *fx = fixture(c->name), *out = scratch("cpu.pb.gz");
	struct run_result r;
	int status;
	double cpu;
	int64_t n;
	static const char *const main_chain[] = { "phase_main", "main" };
	static const char *const b_chain[] = { "stage_b", "worker_b" };
	static const char *const c_chain[] = { "stage_c", "worker_c" };

	need_go();
	if (!strncmp(c->engine, "bpf", 3))
		need_bpf();
	cpu = record_fixture(fx, out, "1000", "2", c->engine, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	n = total_samples(out);
	/* every thread at the asked rate: samples >= 90% of CPU-seconds x Hz */
	cr_assert_geq((double)n, 0.9 * cpu * 1000, "%lld samples for %.3f CPU-s at 1000 Hz",
		      (long long)n, cpu);

	cr_assert_eq(gopprof(&r, "-top -nodecount=100", out), 0, "%s", r.err);
	assert_share(r.out, "burn_50", 50, 50);
	assert_share(r.out, "burn_30", 30, 30);
	assert_share(r.out, "burn_20", 20, 20);
	assert_share(r.out, "phase_main", 0, 50);
	assert_share(r.out, "main", -1, 50);
	assert_share(r.out, "stage_b", 0, 30);
	assert_share(r.out, "worker_b", 0, 30);
	assert_share(r.out, "stage_c", 0, 20);
	assert_share(r.out, "worker_c", 0, 20);
	run_result_fini(&r);

	cr_assert_eq(gopprof(&r, "-traces", out), 0, "%s", r.err);
	assert_traces(r.out, "burn_50", main_chain, 2);
	assert_traces(r.out, "burn_30", b_chain, 2);
	assert_traces(r.out, "burn_20", c_chain, 2);
	run_result_fini(&r);
	free(fx);
	free(out);
}

struct mixcase {
	char engine[16], hz[8];
};

ParameterizedTestParameters(record, each_thread_weighs_its_cpu_time_however_it_runs)
{
	static struct mixcase cases[] = { { "bpf-stack", "1000" }, { "bpf", "1000" },
					  { "perf", "1000" }, { "timer", "100" } };

	return cr_make_param_array(struct mixcase, cases, 4);
}

/*
 * threadmix: a computing thread and two threads handing a byte to each other from CPU to
 * CPU (microsecond slices around a CPU going idle: the clocks see ~2/3 of that time here,
 * so counting samples gave the computing thread 57% for its 50%). Each thread's cumulative
 * share of the cpu values must be its share of the CPU time it measured itself, +-3 points.
 */
ParameterizedTest(struct mixcase *c, record, each_thread_weighs_its_cpu_time_however_it_runs,
		  .timeout = 120)
{
	char *fx = fixture("threadmix"), *out = scratch("mix.pb.gz");
	struct run_result r, top;

	need_go();
	if (!strncmp(c->engine, "bpf", 3))
		need_bpf();
	cr_assert_eq(run_sh(&r, "%s record -o %s --hz %s --engine %s -- %s 10000", rp_bin(), out,
			    c->hz, c->engine, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(gopprof(&top, "-top -cum -nodecount=100", out), 0, "%s", top.err);
	threadmix_assert_shares(r.out, out, top.out);
	run_result_fini(&top);
	run_result_fini(&r);
	free(fx);
	free(out);
}

/* The engine named in the profile's comment, and samples against CPU-seconds x Hz. */
static void assert_engine(const char *out, const char *engine, double cpu, double hz)
{
	struct pprof_profile *p;
	char err[256], want[64];
	int64_t n = 0;

	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->ncomments, 1);
	snprintf(want, sizeof(want), "engine=%s ", engine);
	cr_assert(strstr(p->comments[0], want), "want %s in: %s", want, p->comments[0]);
	/* the per-CPU clocks' period is 1/331 longer (against aliasing, see sampler_start) */
	if (!strncmp(engine, "bpf", 3))
		cr_assert_eq(p->period, (int64_t)(1e9 / hz) + (int64_t)(1e9 / hz) / 331);
	else
		cr_assert_eq(p->period, (int64_t)(1e9 / hz));
	for (size_t i = 0; i < p->nsamples; i++)
		n += p->samples[i].values[0];
	/* each of the fixture's threads loses its last partial period */
	cr_assert_geq((double)n, 0.75 * cpu * hz, "%lld samples for %.3f CPU-s at %.0f Hz",
		      (long long)n, cpu, hz);
	pprof_free(p);
}

Test(record, tick_timers_up_to_100_hz_per_cpu_clocks_or_perf_events_above_or_as_asked,
     .timeout = 120)
{
	char *fx = fixture("cpushare-fp"), *out = scratch("t.pb.gz");
	char *argv[] = { (char *)rp_bin(), "record", "--engine", "perf", "--hz", "100", "-o",
			 out, "--", fx, "1", NULL };
	struct run_result r;
	int status;
	double cpu;

	/* the default at 100 Hz: no extra interrupt, nothing per context switch */
	cpu = record_fixture(fx, out, "100", "2", NULL, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	assert_engine(out, "posix-timer", cpu, 100);
	/* above: the eBPF engine where it may be loaded (root, BTF), else perf events */
	cpu = record_fixture(fx, out, "250", "1", NULL, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	assert_engine(out, bpf_can_run() ? "bpf-stack" : "perf-task-clock", cpu, 250);
	cr_assert_eq(run_argv(&r, argv), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	assert_engine(out, "perf-task-clock", 0, 100);
	if (bpf_can_run()) {
		argv[3] = "bpf";
		cr_assert_eq(run_argv(&r, argv), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		run_result_fini(&r);
		assert_engine(out, "bpf-cpu-clock", 0, 100);
		argv[3] = "bpf-stack";
		cr_assert_eq(run_argv(&r, argv), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		run_result_fini(&r);
		assert_engine(out, "bpf-stack", 0, 100);
	}
	free(fx);
	free(out);
}

/* A container's view: the eBPF engine must match the program's ids in its own namespace. */
Test(record, bpf_engine_samples_a_program_in_its_own_pid_namespace, .timeout = 60)
{
	char *fx = fixture("cpushare-fp"), *out = scratch("ns.pb.gz");
	struct run_result r;
	int64_t n;

	need_bpf();
	if (!have_cmd("unshare"))
		cr_skip_test("unshare (util-linux) is not installed");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(run_sh(&r, "unshare --pid --fork --mount-proc '%s' record -o '%s' "
				    "--hz 1000 --engine %s -- '%s' 1", rp_bin(), out,
				    i ? "bpf-stack" : "bpf", fx), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		run_result_fini(&r);
		assert_engine(out, i ? "bpf-stack" : "bpf-cpu-clock", 0, 1000);
		/* the fixture burns ~1 CPU-s: ~1000 samples (none if ids were compared globally) */
		n = total_samples(out);
		cr_assert_geq(n, 700, "%lld samples", (long long)n);
	}
	free(fx);
	free(out);
}

Test(record, exit_status_and_signals_pass_through_and_the_profile_is_still_written,
     .timeout = 120)
{
	char *out = scratch("s.pb.gz"), *fx = fixture("cpushare-fp");
	struct run_result r;

	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' -- sh -c 'exit 3'", rp_bin(), out), 0);
	cr_assert_eq(r.status, 3, "%s", r.err);
	run_result_fini(&r);
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' -- true", rp_bin(), out), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	cr_assert(file_exists(out));
	unlink(out);

	/* SIGTERM to record goes on to the program, which writes and dies of it */
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' -- '%s' 60 & p=$!; sleep 1; kill -TERM $p; "
			    "wait $p", rp_bin(), out, fx), 0);
	cr_assert_eq(r.status, 128 + SIGTERM, "status %d: %s", r.status, r.err);
	run_result_fini(&r);
	cr_assert(file_exists(out), "no profile after SIGTERM");
	cr_assert_gt(total_samples(out), 10);

	/* SIGKILL: nothing is written, and the earlier run's profile is not reported as this
	 * run's */
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' -- sh -c 'kill -9 $$'", rp_bin(), out), 0);
	cr_assert_eq(r.status, 128 + SIGKILL, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "no profile written") && strstr(r.err, "an earlier run's"),
		  "stderr: %s", r.err);
	cr_assert_null(strstr(r.err, "wrote"), "stderr: %s", r.err);
	run_result_fini(&r);
	free(out);
	free(fx);
}

/*
 * _exit and _Exit skip atexit; the preload's wrappers write the profile first. dash leaves
 * through _exit, and its vfork'd child that cannot exec too: that child shares the shell's
 * memory and must not write (nor mark the profile written); the shell must. A child that
 * runs another program writes OUT.PID, and record names it, counting only this run's.
 */
Test(record, a_program_leaving_through__exit_still_writes_its_profile, .timeout = 120)
{
	char *out = scratch("x.pb.gz"), *fx = fixture("cpushare-nofp"), *kid = NULL;
	struct run_result r;
	const char *at;
	int pid = 0;

	need_go();
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 200 -- '%s' 0.5 _exit", rp_bin(), out,
			    fx), 0);
	cr_assert_eq(r.status, 7, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "cpu_seconds="), "%s", r.out);
	cr_assert(strstr(r.err, "wrote"), "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_geq(total_samples(out), 80, "0.5 CPU-s at 200 Hz");
	cr_assert_eq(run_sh(&r, "go tool pprof -top '%s'", out), 0);
	cr_assert(strstr(r.out, "burn_50") && strstr(r.out, "burn_20"), "%s", r.out);
	run_result_fini(&r);
	unlink(out);

	for (int round = 0; round < 2; round++) {
		cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 200 -- sh -c '/nonexistent/rp "
				    "2>/dev/null; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); "
				    "done; \"%s\" 0.3; exit 3'", rp_bin(), out, fx), 0);
		cr_assert_eq(r.status, 3, "status %d: %s", r.status, r.err);
		cr_assert(strstr(r.err, "wrote"), "the shell wrote no profile: %s", r.err);
		/* one child each round: the first round's file is not counted again */
		at = strstr(r.err, "a child process wrote its own profile, ");
		cr_assert(at, "%s", r.err);
		at += strlen("a child process wrote its own profile, ");
		cr_assert(!strncmp(at, out, strlen(out)) &&
				  sscanf(at + strlen(out), ".%d", &pid) == 1, "%s", r.err);
		run_result_fini(&r);
		cr_assert_geq(total_samples(out), 5, "the shell's loop: ~0.1 CPU-s at 200 Hz");
		free(kid);
		cr_assert(asprintf(&kid, "%s.%d", out, pid) > 0);
		cr_assert_geq(total_samples(kid), 40, "%s: the fixture's 0.3 CPU-s at 200 Hz", kid);
	}
	cr_assert_eq(run_sh(&r, "go tool pprof -top '%s'", kid), 0);
	cr_assert(strstr(r.out, "burn_50"), "%s", r.out);
	run_result_fini(&r);
	free(kid);
	free(out);
	free(fx);
}

/*
 * A program that closes every descriptor at its start (closefrom, as daemons do) keeps the
 * sampler's events and ring: the preload's wrappers close the rest (the fixture checks
 * that its own descriptor went). One that calls the system call itself does close them
 * (eBPF engine: every sample lost), and record says why the samples fell short.
 */
Test(record, a_program_closing_every_descriptor_is_still_sampled, .timeout = 120)
{
	static const char *const engines[] = { "perf", NULL };
	char *out = scratch("c.pb.gz"), *fx = fixture("cpushare-nofp");
	struct run_result r;

	for (int i = 0; i < 2; i++) {
		const char *e = engines[i] ? engines[i] : "bpf-stack";

		if (!engines[i] && !bpf_can_run())
			continue;
		cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 1000 --engine %s -- '%s' 0.5 "
				    "closefrom", rp_bin(), out, e, fx), 0);
		cr_assert_eq(r.status, 0, "%s: %s", e, r.err);
		cr_assert(strstr(r.out, "closed=1"), "%s: the program's descriptor stayed open: %s",
			  e, r.out);
		cr_assert_null(strstr(r.err, "fewer than half"), "%s: %s", e, r.err);
		run_result_fini(&r);
		cr_assert_geq(total_samples(out), 400, "%s: 0.5 CPU-s at 1000 Hz", e);
	}
	if (bpf_can_run()) {
		cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 1000 --engine bpf-stack -- '%s' "
				    "0.5 close_range_syscall", rp_bin(), out, fx), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert(strstr(r.out, "closed=1"), "%s", r.out);
		cr_assert(strstr(r.err, "fewer than half") && strstr(r.err, "close the profiler's"),
			  "%s", r.err);
		run_result_fini(&r);
	}
	free(out);
	free(fx);
}

/* LD_PRELOAD cannot reach a static program: record runs it and says what to use instead */
Test(record, a_statically_linked_program_runs_and_record_says_why_no_profile, .timeout = 60)
{
	char *out = scratch("st.pb.gz"), *fx = fixture("cpushare-static");
	struct run_result r;

	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' -- '%s' 0.1", rp_bin(), out, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "cpu_seconds="), "the program did not run: %s", r.out);
	cr_assert(strstr(r.err, "statically linked") && strstr(r.err, "reconperf profile"),
		  "stderr: %s", r.err);
	cr_assert(!file_exists(out));
	run_result_fini(&r);
	free(out);
	free(fx);
}

Test(record, bad_usage_exits_2_with_a_message)
{
	struct run_result r;

	cr_assert_eq(run_sh(&r, "'%s' record --hz 0 -- true", rp_bin()), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--hz'"), "%s", r.err);
	run_result_fini(&r);
	cr_assert_eq(run_sh(&r, "'%s' record -o x.pb.gz", rp_bin()), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no command"), "%s", r.err);
	run_result_fini(&r);
	cr_assert_eq(run_sh(&r, "'%s' record --stack-copy 128KiB -- true", rp_bin()), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--stack-copy' must be 4KiB..64KiB, got '128KiB'"), "%s", r.err);
	run_result_fini(&r);
	cr_assert_eq(run_sh(&r, "'%s' record --stack-copy lots -- true", rp_bin()), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--stack-copy'"), "%s", r.err);
	run_result_fini(&r);
}

Test(convert, gperftools_profile_of_the_fixture_reads_in_go_pprof_with_its_functions,
     .timeout = 300)
{
	char *fx = fixture("cpushare-gperf"), *legacy = scratch("g.prof"), *out = scratch("g.pb.gz");
	struct run_result r;
	double flat, cum;

	need_go();
	cr_assert_eq(run_sh(&r, "CPUPROFILE='%s' CPUPROFILE_FREQUENCY=1000 '%s' 1", legacy, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	cr_assert(file_exists(legacy));
	cr_assert_eq(run_sh(&r, "'%s' convert '%s' -o '%s'", rp_bin(), legacy, out), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	cr_assert_gt(total_samples(out), 10);
	cr_assert_eq(gopprof(&r, "-top -nodecount=100", out), 0, "%s", r.err);
	cr_assert_eq(gopprof_top_row(r.out, "burn_50", &flat, &cum), 0, "%s", r.out);
	cr_assert_gt(flat, 10, "%s", r.out);
	cr_assert_eq(gopprof_top_row(r.out, "main", &flat, &cum), 0, "%s", r.out);
	run_result_fini(&r);
	/* pprof in, pprof out: re-encoded and still readable */
	cr_assert_eq(run_sh(&r, "'%s' convert '%s' -o '%s.2'", rp_bin(), out, out), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	cr_assert_eq(gopprof(&r, "-top", out), 0, "%s", r.err);
	run_result_fini(&r);
	free(fx);
	free(legacy);
	free(out);
}

/*
 * Found by fuzz_gperf: a record count times the period overflowed, and merged into an
 * earlier sample of the same (here empty) stack it overflowed the builder's signed total
 * (UBSan). Counts whose nanoseconds do not fit, or whose sum over a stack does not, are
 * refused naming the record.
 */
Test(convert, gperftools_counts_that_overflow_are_refused_naming_the_record)
{
	static const uint64_t crash[] = { 0, 3, 0, 10000, 0xa0000000000, 5, 3, 0, 0, 0,
					  0x12ffffffffffffff, 5, 0, 0, 0, 0, 0, 0 };
	uint64_t big = (uint64_t)INT64_MAX / 10000000 - 1;	/* fits once, not twice */
	uint64_t sum[] = { 0, 3, 0, 10000, 0, big, 1, 0x401000, big, 1, 0x401000, 0, 1, 0 };
	struct pprof_builder *b = (struct pprof_builder *)1;
	char err[256] = "";

	cr_assert_eq(gperf_cpu_to_builder(crash, sizeof(crash), &b, err, sizeof(err)), -EINVAL);
	cr_assert_null(b);
	cr_assert(strstr(err, "record 1 (word 10): count 1369094286720630783 out of range"),
		  "%s", err);
	cr_assert_eq(gperf_cpu_to_builder(sum, sizeof(sum), &b, err, sizeof(err)), -EINVAL);
	cr_assert_null(b);
	cr_assert(strstr(err, "record 1 (word 8):") && strstr(err, "overflows the total"),
		  "%s", err);
	sum[8] = 1;	/* the same stack once more with a small count: fine */
	cr_assert_eq(gperf_cpu_to_builder(sum, sizeof(sum), &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pprof_builder_total(b, 0), (int64_t)big + 1);
	pprof_builder_free(b);
}

/* The maps text of a profile names files to symbolize from: a FIFO or a device named
 * there is skipped, not opened for reading (opening a FIFO would block for ever). */
Test(convert, maps_naming_a_fifo_or_a_device_do_not_block_the_reader, .timeout = 60)
{
	uint64_t w[] = { 0, 3, 0, 10000, 0, 2, 1, 0x401000, 0, 1, 0 };
	char *fifo = scratch("fifo"), maps[4200], *buf;
	struct pprof_builder *b = NULL;
	char err[256] = "";
	size_t len;

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	len = (size_t)snprintf(maps, sizeof(maps),
			       "00400000-00452000 r-xp 00000000 08:02 1 %s\n"
			       "00500000-00552000 r-xp 00000000 00:05 4 /dev/zero\n", fifo);
	buf = malloc(sizeof(w) + len);
	memcpy(buf, w, sizeof(w));
	memcpy(buf + sizeof(w), maps, len);
	cr_assert_eq(gperf_cpu_to_builder(buf, sizeof(w) + len, &b, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(pprof_builder_total(b, 0), 2);
	pprof_builder_free(b);
	free(buf);
	unlink(fifo);
	free(fifo);
}

Test(convert, malformed_input_exits_2_naming_the_problem_and_writes_nothing)
{
	char *in = scratch("bad.pb"), *out = scratch("out.pb.gz");
	struct run_result r;
	FILE *fp = fopen(in, "w");

	fputs("this is not a profile at all\n", fp);
	fclose(fp);
	cr_assert_eq(run_sh(&r, "'%s' convert '%s' -o '%s'", rp_bin(), in, out), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "not a pprof or gperftools"), "%s", r.err);
	cr_assert_not(file_exists(out));
	run_result_fini(&r);

	/* a legacy header with a record running past the end */
	fp = fopen(in, "w");
	{
		uint64_t w[] = { 0, 3, 0, 1000, 0, 1, 50, 0x401000 };

		fwrite(w, sizeof(w), 1, fp);
	}
	fclose(fp);
	cr_assert_eq(run_sh(&r, "'%s' convert '%s' -o '%s'", rp_bin(), in, out), 0);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "record 0"), "%s", r.err);
	cr_assert_not(file_exists(out));
	run_result_fini(&r);
	free(in);
	free(out);
}

/* Stacks deeper than bpf-stack's copy: cut, counted, and said so; the signal engine walks
 * them whole. */
/* Samples of cpuwork's deep mode (fat_down under each) and how many of them reach worker. */
static void deep_samples(const char *path, int64_t *fat, int64_t *whole, char *comment,
			 size_t len)
{
	struct pprof_profile *p;
	char err[256];

	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	*fat = *whole = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const char *names[128];
		size_t k = pprof_sample_frames(p, &p->samples[i], names, 128, NULL, NULL);
		bool has_fat = false, has_worker = false;

		for (size_t j = 0; j < k; j++) {
			has_fat |= !strcmp(names[j], "fat_down");
			has_worker |= !strcmp(names[j], "worker");
		}
		*fat += has_fat ? p->samples[i].values[0] : 0;
		*whole += has_fat && has_worker ? p->samples[i].values[0] : 0;
	}
	snprintf(comment, len, "%s", p->ncomments ? p->comments[0] : "(none)");
	pprof_free(p);
}

Test(record, stacks_deeper_than_the_copy_are_reported, .timeout = 120)
{
	char *fx = fixture("cpuwork-nofp"), *out = scratch("deep.pb.gz"), comment[512];
	struct run_result r;
	int64_t fat, whole;

	need_bpf();
	/* 100 frames of ~256 bytes under each sample: more than a 16 KiB copy holds */
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 1000 --engine bpf-stack --stack-copy "
			    "16KiB -- '%s' 1 100000 deep", rp_bin(), out, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.err, "stacks were deeper than the bpf-stack engine copies (16 KiB)"),
		  "%s", r.err);
	run_result_fini(&r);
	deep_samples(out, &fat, &whole, comment, sizeof(comment));
	cr_assert(strstr(comment, "stack_copy=16384 ") && !strstr(comment, "truncated=0 "), "%s",
		  comment);
	/* (a sample taken while the recursion was still shallow is whole) */
	cr_assert(fat > 20 && whole < fat / 2, "%lld of %lld cut samples reach worker",
		  (long long)whole, (long long)fat);
	/* the default copy (32 KiB) holds them: whole stacks, nothing cut */
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 1000 --engine bpf-stack -- '%s' 1 "
			    "100000 deep", rp_bin(), out, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "deeper than"), "%s", r.err);
	run_result_fini(&r);
	deep_samples(out, &fat, &whole, comment, sizeof(comment));
	cr_assert(strstr(comment, "stack_copy=32768 ") && strstr(comment, "truncated=0 "), "%s",
		  comment);
	cr_assert(fat > 20 && whole >= fat * 9 / 10, "%lld of %lld samples reach worker",
		  (long long)whole, (long long)fat);
	/* the signalling engine's handler walks the live stack: no copy to outgrow */
	cr_assert_eq(run_sh(&r, "'%s' record -o '%s' --hz 1000 --engine bpf -- '%s' 1 100000 "
			    "deep", rp_bin(), out, fx), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	deep_samples(out, &fat, &whole, comment, sizeof(comment));
	cr_assert(fat > 20 && whole >= fat * 9 / 10, "%lld of %lld samples reach worker",
		  (long long)whole, (long long)fat);
	free(fx);
	free(out);
}
