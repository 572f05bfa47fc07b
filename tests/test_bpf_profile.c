/*
 * Tests of `reconperf profile`: the real eBPF programs in the running kernel profiling
 * tests/fixtures/bpf_mix, whose burner and sleeper functions are the known answer. The
 * profiles are read back both by go tool pprof and by profiler/pprof.h. CI runs as root.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiler/pprof.h"
#include "tests/util.h"
#include "tests/bpf_test.h"
#include "tests/threadmix.h"

#define fixture bpf_fixture

/* Share (0..1) of value idx in samples whose stack holds a frame named fn. */
static double share_with(const struct pprof_profile *p, int idx, const char *fn)
{
	const char *names[1024];
	double all = 0, with = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		size_t n = pprof_sample_frames(p, s, names, 1024, NULL, NULL);
		int hit = 0;

		for (size_t k = 0; k < n && !hit; k++)
			hit = !strcmp(names[k], fn);
		all += (double)s->values[idx];
		if (hit)
			with += (double)s->values[idx];
	}
	return all > 0 ? with / all : 0;
}

static double total(const struct pprof_profile *p, int idx)
{
	double t = 0;

	for (size_t i = 0; i < p->nsamples; i++)
		t += (double)p->samples[i].values[idx];
	return t;
}

/* The cum% go tool pprof -top -cum gives fn, or -1 when it is not listed. */
static double pprof_cum(const char *top, const char *fn)
{
	char pat[128], tok[5][32], name[128];
	const char *l;

	snprintf(pat, sizeof(pat), " %s\n", fn);
	for (l = strstr(top, pat); l; l = strstr(l + 1, pat)) {
		const char *b = l;

		while (b > top && b[-1] != '\n')
			b--;
		/* flat flat% sum% cum cum% name */
		if (sscanf(b, "%31s %31s %31s %31s %31s %127s", tok[0], tok[1], tok[2], tok[3],
			   tok[4], name) == 6 && !strcmp(name, fn))
			return strtod(tok[4], NULL);
	}
	return -1;
}

static char *go_pprof_top(const char *path)
{
	struct run_result r;
	char *out;

	if (!have_cmd("go"))
		cr_skip_test("go (golang-go) is needed for go tool pprof");
	run_sh(&r, "HOME=${HOME:-/tmp} GOFLAGS=-mod=mod go tool pprof -top -cum %s", path);
	cr_assert_eq(r.status, 0, "go tool pprof failed: %s", r.err);
	out = r.out;
	r.out = NULL;
	run_result_fini(&r);
	return out;
}

Test(bpf_profile, oncpu_profile_puts_the_burner_on_top)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	snprintf(out, sizeof(out), "%s/on.pb.gz", dir);
	run_sh(&r, "timeout 120 %s profile --hz 499 -o %s -- %s profile 1500", rp_bin(), out,
	       fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	cr_assert(cpu >= 0 && !strcmp(p->sample_types[cpu].unit, "nanoseconds"));
	cr_assert_eq(p->period, 1000000000 / 499);
	double burner = share_with(p, cpu, "rp_fixture_burner");
	double sleeper = share_with(p, cpu, "rp_fixture_sleeper");
	/* The sleeper only runs to enter and leave clock_nanosleep. */
	cr_assert(burner > 0.8, "burner share of on-CPU time %.3f", burner);
	cr_assert(sleeper < 0.1, "sleeper share of on-CPU time %.3f", sleeper);
	cr_assert(share_with(p, cpu, "main") > 0.95, "stacks must reach main");
	/* Samples at 499 Hz of CPU time add up to the CPU time the fixture used. */
	const char *fc = strstr(r.out, "fixture cpu ");
	cr_assert(fc, "fixture output: %s", r.out);
	double used = strtod(fc + 12, NULL);
	cr_assert(total(p, cpu) > 0.75 * used && total(p, cpu) < 1.25 * used,
		  "sampled %g ns of CPU, the fixture used %g ns", total(p, cpu), used);
	pprof_free(p);

	char *top = go_pprof_top(out);
	double cum = pprof_cum(top, "rp_fixture_burner");
	cr_assert(cum > 80, "go tool pprof -top -cum: rp_fixture_burner %g%%\n%s", cum, top);
	cr_assert(strstr(top, "[k] "), "kernel frames named from kallsyms:\n%s", top);
	free(top);
	run_result_fini(&r);
	free(dir);
}

/* In a container's pid namespace the target's ids differ from the kernel's own. */
Test(bpf_profile, profiles_a_program_in_its_own_pid_namespace_on_and_off_cpu)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	if (!have_cmd("unshare"))
		cr_skip_test("unshare (util-linux) is not installed");
	snprintf(out, sizeof(out), "%s/on.pb.gz", dir);
	run_sh(&r, "timeout 120 unshare --pid --fork --mount-proc %s profile --hz 499 -o %s -- "
	       "%s profile 1500", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	cr_assert(cpu >= 0);
	double burner = share_with(p, cpu, "rp_fixture_burner");
	cr_assert(burner > 0.8, "burner share of on-CPU time %.3f (total %g ns)", burner,
		  total(p, cpu));
	pprof_free(p);

	run_sh(&r, "timeout 120 unshare --pid --fork --mount-proc %s profile --offcpu -o %s -- "
	       "%s profile 1500", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int off = pprof_sample_type_index(p, "off_cpu");
	cr_assert(off >= 0);
	cr_assert(share_with(p, off, "rp_fixture_sleeper") > 0.8, "sleeper share %.3f",
		  share_with(p, off, "rp_fixture_sleeper"));
	pprof_free(p);
	free(dir);
}

Test(bpf_profile, offcpu_profile_weighs_the_sleeping_path_by_time_blocked)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	snprintf(out, sizeof(out), "%s/off.pb.gz", dir);
	run_sh(&r, "timeout 120 %s profile --offcpu -o %s -- %s profile 1500", rp_bin(), out,
	       fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int off = pprof_sample_type_index(p, "off_cpu");
	cr_assert(off >= 0 && !strcmp(p->sample_types[off].unit, "nanoseconds"));
	cr_assert_eq(pprof_default_sample_index(p), off);
	double sleeper = share_with(p, off, "rp_fixture_sleeper");
	double burner = share_with(p, off, "rp_fixture_burner");
	cr_assert(sleeper > 0.9, "sleeper share of off-CPU time %.3f", sleeper);
	cr_assert(burner < 0.05, "burner blocks nowhere (preemption is not counted): %.3f",
		  burner);

	/* Blocked time matches the wall time the fixture spent in its sleeper. */
	const char *s = strstr(r.out, "fixture slept ");
	cr_assert(s, "fixture output: %s", r.out);
	double slept = strtod(s + 14, NULL), got = total(p, off) * sleeper;
	cr_assert(got > 0.85 * slept && got <= 1.02 * slept, "off-CPU in sleeper %g ns, slept %g",
		  got, slept);
	pprof_free(p);

	char *top = go_pprof_top(out);
	cr_assert(strstr(top, "Type: off_cpu"), "%s", top);
	double cum = pprof_cum(top, "rp_fixture_sleeper");
	cr_assert(cum > 90, "go tool pprof -top -cum: rp_fixture_sleeper %g%%\n%s", cum, top);
	cr_assert(strstr(top, "[k] schedule"), "kernel path of the block:\n%s", top);
	free(top);
	run_result_fini(&r);
	free(dir);
}

Test(bpf_profile, profiles_a_running_process_by_pid_for_a_duration)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	snprintf(out, sizeof(out), "%s/pid.pb.gz", dir);
	run_sh(&r, "%s serve > %s/serve.out & fx=$!; sleep 0.2; "
		   "timeout 60 %s profile --offcpu --pid $fx --duration 700ms -o %s; rc=$?; "
		   "kill $fx; exit $rc", fixture, dir, rp_bin(), out);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int off = pprof_sample_type_index(p, "off_cpu");
	cr_assert(share_with(p, off, "rp_fixture_work") > 0.9);
	/* 700 ms of 1 ms sleeps: most of it blocked. */
	cr_assert(total(p, off) > 0.3e9, "blocked %g ns", total(p, off));
	pprof_free(p);
	run_result_fini(&r);
	free(dir);
}

Test(bpf_profile, failures_exit_2_and_write_nothing)
{
	struct run_result r;
	char *dir = tmpdir_new(), out[4200];

	need_bpf();
	snprintf(out, sizeof(out), "%s/x.pb.gz", dir);
	run_sh(&r, "%s profile -- %s loop 1", rp_bin(), fixture);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'-o FILE'"), "stderr: %s", r.err);
	run_result_fini(&r);
	run_sh(&r, "%s profile --hz 0 -o %s -- %s loop 1", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--hz'"), "stderr: %s", r.err);
	run_result_fini(&r);
	run_sh(&r, "timeout 60 %s profile --btf /nonexistent -o %s -- %s loop 1", rp_bin(), out,
	       fixture);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no kernel BTF at '/nonexistent'"), "stderr: %s", r.err);
	cr_assert_not(strstr(r.out, "ns_per_call"), "the held command must not run");
	run_result_fini(&r);
	if (have_cmd("setpriv")) {
		run_sh(&r, "setpriv --inh-caps=-all --bounding-set=-all timeout 60 %s profile "
			   "-o %s -- %s loop 1", rp_bin(), out, fixture);
		cr_assert_eq(r.status, 2, "stderr: %s", r.err);
		cr_assert(strstr(r.err, "CAP_BPF and CAP_PERFMON"), "stderr: %s", r.err);
		run_result_fini(&r);
	}
	cr_assert_not(file_exists(out));
	free(dir);
}

Test(bpf_profile, sigint_writes_the_profile_and_leaves_the_process_running)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	snprintf(out, sizeof(out), "%s/int.pb.gz", dir);
	/* Ctrl-C while profiling a --pid: the profile is written, the target keeps running. */
	run_sh(&r, "%s serve > /dev/null & fx=$!; sleep 0.2; "
		   "timeout 60 %s profile --offcpu --pid $fx -o %s & pr=$!; sleep 0.8; "
		   "kill -INT $pr; wait $pr; rc=$?; kill -0 $fx || rc=99; kill $fx; exit $rc",
	       fixture, rp_bin(), out);
	cr_assert_eq(r.status, 0, "status %d (99: the target died) stderr: %s", r.status, r.err);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert(share_with(p, pprof_sample_type_index(p, "off_cpu"), "rp_fixture_work") > 0.9);
	pprof_free(p);
	run_result_fini(&r);
	free(dir);
}

/*
 * DWARF mode (the default on-CPU): the kernel copies each sample's registers and stack top,
 * and profile unwinds them by the target's CFI. cpushare-nofp has no frame pointers: its
 * shares (50/30/20 of CPU time in burn_50/30/20) with whole stacks down to main and
 * start_thread, where the kernel's frame-pointer walk (--unwind fp) loses main.
 */
Test(bpf_profile, dwarf_unwinding_gives_whole_stacks_without_frame_pointers)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256], *fx;
	static const struct {
		const char *fn;
		double share;
	} want[] = { { "burn_50", 0.5 }, { "burn_30", 0.3 }, { "burn_20", 0.2 } };

	need_bpf();
	cr_assert(asprintf(&fx, "%s/tests/fixtures/cpushare-nofp", rp_build()) > 0);
	snprintf(out, sizeof(out), "%s/dwarf.pb.gz", dir);
	run_sh(&r, "timeout 120 %s profile --hz 999 -o %s -- %s 1.5", rp_bin(), out, fx);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	cr_assert_geq(cpu, 0);
	cr_assert(p->ncomments && strstr(p->comments[0], "DWARF"), "%s",
		  p->ncomments ? p->comments[0] : "(no comment)");
	for (size_t i = 0; i < 3; i++) {
		double s = share_with(p, cpu, want[i].fn);

		cr_assert(s > want[i].share - 0.04 && s < want[i].share + 0.04, "%s: %.3f",
			  want[i].fn, s);
	}
	double main_s = share_with(p, cpu, "main"), burn50 = share_with(p, cpu, "burn_50");
	double threads = share_with(p, cpu, "start_thread");
	double thr_burn = share_with(p, cpu, "burn_30") + share_with(p, cpu, "burn_20");

	cr_assert(main_s > burn50 - 0.03, "main %.3f, burn_50 %.3f: cut stacks", main_s, burn50);
	cr_assert(threads > thr_burn - 0.03, "start_thread %.3f, the threads' burners %.3f",
		  threads, thr_burn);
	pprof_free(p);

	/* the same under the kernel's frame-pointer walk: main is lost */
	run_sh(&r, "timeout 120 %s profile --hz 999 --unwind fp -o %s -- %s 0.5", rp_bin(), out,
	       fx);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	cpu = pprof_sample_type_index(p, "cpu");
	cr_assert_lt(share_with(p, cpu, "main"), 0.25);
	cr_assert_gt(share_with(p, cpu, "burn_50"), 0.4);
	pprof_free(p);

	run_sh(&r, "%s profile --unwind lr -o %s -- true", rp_bin(), out);
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert(strstr(r.err, "'--unwind' must be dwarf or fp"), "%s", r.err);
	run_result_fini(&r);
	free(fx);
	free(dir);
}

/*
 * Off-CPU in DWARF mode: each blocking switch-out's registers and stack are copied, and the
 * switch-in adds the time blocked. cpuwork-nofp's pingpong threads block in libc's read
 * (no frame pointers) under ponger: every such stack reaches ponger and start_thread, which
 * the kernel's frame-pointer walk (--unwind fp) loses.
 */
Test(bpf_profile, offcpu_dwarf_stacks_reach_the_blocked_threads_callers)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256], *fx;
	int off;

	need_bpf();
	cr_assert(asprintf(&fx, "%s/tests/fixtures/cpuwork-nofp", rp_build()) > 0);
	snprintf(out, sizeof(out), "%s/off.pb.gz", dir);
	run_sh(&r, "timeout 120 %s profile --offcpu -o %s -- %s 2 20000 pingpong", rp_bin(), out,
	       fx);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	off = pprof_sample_type_index(p, "off_cpu");
	cr_assert_geq(off, 0);
	double rd = share_with(p, off, "__libc_read"), pong = share_with(p, off, "ponger");
	double thr = share_with(p, off, "start_thread"), mn = share_with(p, off, "main");

	/* (the blocked reads' share of all blocked time moves with the machine's speed: 0.297
	 * under ASan in CI, ~0.6 in a plain build; what counts is that they reach ponger) */
	cr_assert_gt(rd, 0.1, "read %.3f", rd);
	cr_assert(pong > rd - 0.02 && thr > pong - 0.02, "read %.3f ponger %.3f start_thread %.3f",
		  rd, pong, thr);
	/* the rest is main waiting in pthread_join */
	cr_assert_gt(pong + mn, 0.95, "ponger %.3f main %.3f", pong, mn);
	pprof_free(p);

	run_sh(&r, "timeout 120 %s profile --offcpu --unwind fp -o %s -- %s 2 20000 pingpong",
	       rp_bin(), out, fx);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	off = pprof_sample_type_index(p, "off_cpu");
	rd = share_with(p, off, "__libc_read");
	cr_assert_lt(share_with(p, off, "ponger"), rd / 2, "the frame-pointer walk found ponger");
	pprof_free(p);
	free(fx);
	free(dir);
}

/*
 * A process in its own mount namespace (a container's) runs a file that is not at that
 * path in ours: profile opens its files through /proc/PID/root, for the names and for the
 * DWARF walk. The fixture is copied into a tmpfs mounted in the new namespace only.
 */
Test(bpf_profile, names_and_stacks_of_a_process_in_another_mount_namespace)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), ns[4200], out[4200], err[256], *fx;

	need_bpf();
	if (!have_cmd("unshare"))
		cr_skip_test("unshare (util-linux) is needed");
	cr_assert(asprintf(&fx, "%s/tests/fixtures/cpushare-nofp", rp_build()) > 0);
	snprintf(ns, sizeof(ns), "%s/ns", dir);
	snprintf(out, sizeof(out), "%s/ns.pb.gz", dir);
	cr_assert_eq(mkdir(ns, 0700), 0);
	run_sh(&r, "unshare --mount --propagation private sh -c 'mount -t tmpfs none %s && "
		   "cp %s %s/fx && exec %s/fx 2' >/dev/null & p=$!; i=0; "
		   "while [ \"$(readlink /proc/$p/exe)\" != %s/fx ] && [ $i -lt 100 ]; do "
		   "sleep 0.05; i=$((i+1)); done; "
		   "[ -e %s/fx ] && echo visible; "
		   "timeout 60 %s profile --pid $p --duration 1s --hz 499 -o %s; s=$?; wait $p; "
		   "exit $s", ns, fx, ns, ns, ns, ns, rp_bin(), out);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_null(strstr(r.out, "visible"), "the fixture's copy is visible from here");
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	double b50 = share_with(p, cpu, "burn_50"), mn = share_with(p, cpu, "main");
	double thr = share_with(p, cpu, "burn_30") + share_with(p, cpu, "burn_20");

	/* a 1 s window of the three threads' run: the shares are the scheduler's, the names
	 * and whole stacks are what counts */
	cr_assert(b50 > 0.1 && thr > 0.1 && b50 + thr > 0.95, "burn_50 %.3f, burn_30+20 %.3f: "
		  "the fixture unnamed?", b50, thr);
	cr_assert_gt(mn, b50 - 0.03, "main %.3f, burn_50 %.3f: cut stacks", mn, b50);
	cr_assert_gt(share_with(p, cpu, "start_thread"), thr - 0.03, "threads' stacks cut");
	pprof_free(p);
	free(fx);
	free(dir);
}

/*
 * A container's process profiled from outside: in its own pid namespace (pid 1 there) and
 * mount namespace (its own /tmp). The programs must match it by its namespace's ids, its
 * JIT's perf map is read from its /tmp under its own pid, and the walk goes through the
 * generated code by its frame pointer to the C caller and main. Before, no sample at all.
 */
Test(bpf_profile, a_containers_process_profiled_from_outside)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256];

	need_bpf();
	if (!have_cmd("unshare") || !have_cmd("pgrep"))
		cr_skip_test("unshare and pgrep are needed");
	snprintf(out, sizeof(out), "%s/ct.pb.gz", dir);
	/* the fixture is opened before /tmp is covered (the build may live under /tmp) and run
	 * through its descriptor */
	run_sh(&r, "(unshare --pid --fork --mount --propagation private sh -c 'exec 3<%s && "
		   "mount -t tmpfs none /tmp && exec /proc/self/fd/3 jit 3000' >/dev/null &); "
		   "i=0; c=; while [ -z \"$c\" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); "
		   "for q in $(pgrep -f 'fd/3 jit 3000'); do grep -q 'NSpid:.*[0-9][[:space:]]1$' "
		   "/proc/$q/status && c=$q; done; done; [ -n \"$c\" ] || exit 99; "
		   "timeout 60 %s profile --pid $c --duration 1s --hz 499 -o %s", fixture, rp_bin(),
	       out);
	cr_assert_eq(r.status, 0, "status %d, stderr: %s", r.status, r.err);
	run_result_fini(&r);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	cr_assert_gt(total(p, cpu), 0.5e9, "%g ns sampled in 1 s of a busy process", total(p, cpu));
	cr_assert_gt(share_with(p, cpu, "rp_jit_loop"), 0.8, "the JIT's name");
	cr_assert_gt(share_with(p, cpu, "rp_fixture_jit_caller"), 0.8, "through the JIT frame");
	cr_assert_gt(share_with(p, cpu, "main"), 0.8);
	pprof_free(p);
	free(dir);
}

/* The same program without namespaces, started by profile: its map is in our /tmp. */
Test(bpf_profile, jit_code_is_named_from_the_perf_map)
{
	struct run_result r;
	struct pprof_profile *p;
	char *dir = tmpdir_new(), out[4200], err[256], map[64];
	int pid = 0;

	need_bpf();
	snprintf(out, sizeof(out), "%s/jit.pb.gz", dir);
	run_sh(&r, "timeout 60 %s profile --hz 499 -o %s -- %s jit 800", rp_bin(), out, fixture);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "jit ") && sscanf(strstr(r.out, "jit "), "jit %d", &pid) == 1,
		  "%s", r.out);
	run_result_fini(&r);
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", pid);
	unlink(map);
	cr_assert_eq(pprof_read_file(out, &p, err, sizeof(err)), 0, "%s", err);
	int cpu = pprof_sample_type_index(p, "cpu");
	cr_assert_gt(share_with(p, cpu, "rp_jit_loop"), 0.8);
	cr_assert_gt(share_with(p, cpu, "rp_fixture_jit_caller"), 0.8);
	pprof_free(p);
	free(dir);
}

/*
 * threadmix: a computing thread, then two threads handing a byte to each other across CPUs
 * (microsecond slices, ~2/3 of which the clocks see). Each thread's cumulative share of
 * the cpu values must be its share of the CPU time it measured itself, +-3 points (DWARF
 * mode: the fixture has no frame pointers).
 */
Test(bpf_profile, each_thread_weighs_its_cpu_time_however_it_runs, .timeout = 120)
{
	char *dir = tmpdir_new(), out[4200], *fx, *top;
	struct run_result r;

	need_bpf();
	cr_assert(asprintf(&fx, "%s/tests/fixtures/threadmix", rp_build()) > 0);
	snprintf(out, sizeof(out), "%s/mix.pb.gz", dir);
	run_sh(&r, "timeout 120 %s profile --hz 499 -o %s -- %s 10000", rp_bin(), out, fx);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	top = go_pprof_top(out);
	threadmix_assert_shares(r.out, out, top);
	run_result_fini(&r);
	free(top);
	free(fx);
	free(dir);
}
