/*
 * reconperf record — run any dynamically linked program with the CPU sampler preloaded
 * (libreconperf-preload.so) and write its profile when it exits.
 */
#include "tools/cli.h"
#include "profiler/pprof.h"
#include "profiler/sampler.h"
#include "reconperf/profiler.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char cmd_record_usage[] =
	"usage: reconperf record [-o F] [--hz N] [--engine bpf-stack|bpf|perf|timer]\n"
	"                        [--mem[=F]] [--mem-rate SIZE] -- CMD [ARGS]\n"
	"\n"
	"Runs CMD with reconperf's CPU sampler preloaded (LD_PRELOAD), samples every thread it\n"
	"creates at N samples per CPU-second, and writes a gzipped pprof profile when it exits\n"
	"(also on SIGINT/SIGTERM). Read it with 'go tool pprof -top F' or 'reconperf flame F'.\n"
	"CMD must be dynamically linked. A child process of CMD writes F.PID.\n"
	"Exit status: CMD's (128+N when it died of signal N); 2 for bad usage.\n"
	"\n"
	"  -o F               profile to write (default cpu.pb.gz)\n"
	"  --hz N             samples per CPU-second per thread, 1..10000 (default 100)\n"
	"  --engine E         bpf-stack (a cpu-clock per CPU and an eBPF program that copies\n"
	"                     the interrupted thread's registers and top 16 KiB of stack,\n"
	"                     unwound by a collector thread: no signal, nothing per context\n"
	"                     switch; needs root), bpf (the same clocks, the program signals\n"
	"                     the thread and its handler unwinds: no stack depth limit),\n"
	"                     perf (perf_event task-clock per thread) or timer (POSIX CPU\n"
	"                     timers, at most one sample per kernel tick; cheapest); default:\n"
	"                     timer up to 100 Hz, above it bpf-stack, else perf\n"
	"  --mem              the heap profile instead of the CPU profile, to -o F (default\n"
	"                     mem.pb.gz): alloc_space, alloc_objects, inuse_space, inuse_objects\n"
	"  --mem=F            the heap profile to F as well as the CPU profile to -o\n"
	"  --mem-rate SIZE    mean bytes between heap samples, e.g. 64KiB (default 512KiB;\n"
	"                     1 records every allocation)\n";

/* The preload library: $RECONPERF_PRELOAD, else beside the binary, else ../lib. */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("RECONPERF_PRELOAD");
	char exe[PATH_MAX], *slash;
	static const char *const rel[] = { "libreconperf-preload.so",
					   "../lib/libreconperf-preload.so",
					   "../lib/reconperf/libreconperf-preload.so" };
	ssize_t n;

	if (env && env[0]) {
		snprintf(out, len, "%s", env);
		return access(out, R_OK) ? -ENOENT : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	slash[1] = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s%s", exe, rel[i]);
		if (realpath(p, out) && !access(out, R_OK))
			return 0;
	}
	return -ENOENT;
}

static int abs_path(const char *p, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return snprintf(out, len, "%s", p) >= (int)len ? -ENAMETOOLONG : 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(out, len, "%s/%s", cwd, p) >= (int)len ? -ENAMETOOLONG : 0;
}

static volatile pid_t child;

/* SIGTERM/SIGHUP sent to record go on to the program, which writes its profile and dies */
static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* The file execvp would run for cmd (PATH search when it has no '/'), or NULL. */
static char *find_cmd(const char *cmd)
{
	const char *path = getenv("PATH");
	char *r = NULL;

	if (strchr(cmd, '/'))
		return strdup(cmd);
	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (asprintf(&r, "%.*s/%s", (int)n, n ? path : ".", cmd) < 0)
			return NULL;
		if (access(r, X_OK) == 0)
			return r;
		free(r);
		r = NULL;
		path += n + (path[n] == ':');
	}
	return NULL;
}

/* An ELF executable without a program interpreter: LD_PRELOAD cannot reach it. */
static bool static_elf(const char *cmd)
{
	char *file = find_cmd(cmd);
	bool is_static = false;
	int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	size_t n = 0;
	Elf *e;

	free(file);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &n) == 0) {
		is_static = true;
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
				is_static = false;
		}
	}
	elf_end(e);
	close(fd);
	return is_static;
}

/* Is there a file at path that is not the one seen before the run (profiles are written by
 * rename, so a new one is a new inode)? */
static bool rewritten(const char *path, bool had, const struct stat *before)
{
	struct stat st;

	if (stat(path, &st))
		return false;
	return !had || st.st_ino != before->st_ino || st.st_dev != before->st_dev ||
	       st.st_mtim.tv_sec != before->st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != before->st_mtim.tv_nsec;
}

static void summary(const char *path, double cpu_s, int hz)
{
	struct pprof_profile *p;
	char err[256];
	int64_t n = 0;

	if (pprof_read_file(path, &p, err, sizeof(err))) {
		cli_err("record", "no profile in '%s': %s", path, err);
		return;
	}
	const char *at;
	double profiled = -1;
	long long cut = 0, dropped = 0, capped = 0;

	for (size_t i = 0; i < p->nsamples; i++)
		n += p->samples[i].values[0];
	/* the program's CPU time when the profile stopped, from the sampler's comment */
	for (size_t i = 0; i < p->ncomments; i++) {
		if ((at = strstr(p->comments[i], "process_cpu_ns=")))
			profiled = strtod(at + 15, NULL) / 1e9;
		if ((at = strstr(p->comments[i], "truncated=")))
			cut = strtoll(at + 10, NULL, 10);
		if ((at = strstr(p->comments[i], "dropped=")))
			dropped = strtoll(at + 8, NULL, 10);
		if ((at = strstr(p->comments[i], "depth_capped=")))
			capped = strtoll(at + 13, NULL, 10);
	}
	if (profiled > 0)
		fprintf(stderr, "reconperf: record: wrote %s: %lld samples over %.2f CPU-s of the "
			"program (%.0f%% of CPU-s x hz); %.2f CPU-s in all, writing the profile "
			"and any children included\n", path, (long long)n, profiled,
			100.0 * (double)n / (profiled * hz), cpu_s);
	else
		fprintf(stderr, "reconperf: record: wrote %s: %lld samples, %.2f CPU-s of the "
			"program (%.0f%% of CPU-s x hz)\n", path, (long long)n, cpu_s,
			cpu_s > 0 ? 100.0 * (double)n / (cpu_s * hz) : 0.0);
	if (dropped > 0)
		fprintf(stderr, "reconperf: record: %lld samples were dropped (a full ring, or a "
			"signal the kernel could not queue)\n", dropped);
	if (cut > 0)
		fprintf(stderr, "reconperf: record: %lld stacks were deeper than the bpf-stack engine "
			"copies (16 KiB): their outermost frames are missing; '--engine bpf' walks "
			"them whole\n", cut);
	if (capped > 0)
		fprintf(stderr, "reconperf: record: %lld stacks reached %d frames, the most a sample "
			"keeps: their outermost frames are missing\n", capped, SAMPLER_MAX_DEPTH);
	pprof_free(p);
}

static void mem_summary(const char *path)
{
	struct pprof_profile *p;
	char err[256];
	int64_t alloc = 0, inuse = 0;
	int ia, ii;

	if (pprof_read_file(path, &p, err, sizeof(err))) {
		cli_err("record", "no heap profile in '%s': %s", path, err);
		return;
	}
	ia = pprof_sample_type_index(p, "alloc_space");
	ii = pprof_sample_type_index(p, "inuse_space");
	for (size_t i = 0; ia >= 0 && ii >= 0 && i < p->nsamples; i++) {
		alloc += p->samples[i].values[ia];
		inuse += p->samples[i].values[ii];
	}
	fprintf(stderr, "reconperf: record: wrote %s: %.1f MiB allocated, %.1f MiB in use at exit "
		"(estimated from samples every %lld bytes)\n", path, alloc / 1048576.0,
		inuse / 1048576.0, (long long)p->period);
	pprof_free(p);
}

int cmd_record(int argc, char **argv)
{
	const char *out = NULL, *mem = NULL, *engine = NULL;
	char preload[PATH_MAX], outabs[PATH_MAX], memabs[PATH_MAX], hzs[16], rates[32], *ld = NULL;
	int hz = 100, i, status;
	bool mem_only = false, had_out = false, had_mem = false;
	uint64_t mem_rate = 0;
	struct stat out_before, mem_before;
	struct rusage ru;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(a, "--hz") && i + 1 < argc) {
			if (cli_int("record", "--hz", argv[++i], 1, 10000, &hz))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--engine") && i + 1 < argc) {
			engine = argv[++i];
			if (!rp_profiler_engine_known(engine)) {
				cli_err("record", "'--engine' must be auto, bpf-stack, bpf, perf or "
					"timer, got '%s'", engine);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--mem")) {
			mem_only = true;
		} else if (!strncmp(a, "--mem=", 6) && a[6]) {
			mem = a + 6;
		} else if (!strcmp(a, "--mem-rate") && i + 1 < argc) {
			if (cli_size("record", "--mem-rate", argv[++i], &mem_rate))
				return EXIT_USAGE;
			if (mem_rate < 1 || mem_rate > (UINT64_C(1) << 40)) {
				cli_err("record", "'--mem-rate' must be 1B..1TiB, got '%s'", argv[i]);
				return EXIT_USAGE;
			}
		} else {
			cli_err("record", "unknown option '%s'; see 'reconperf record --help'", a);
			return EXIT_USAGE;
		}
	}
	if (i + 1 >= argc) {
		cli_err("record", "no command to run: 'reconperf record [options] -- CMD [ARGS]'");
		return EXIT_USAGE;
	}
	if (find_preload(preload, sizeof(preload))) {
		cli_err("record", "cannot find libreconperf-preload.so beside the reconperf binary"
			" (set RECONPERF_PRELOAD)");
		return EXIT_USAGE;
	}
	if (mem_only) {		/* the heap profile alone, where -o says */
		mem = out ? out : "mem.pb.gz";
		out = NULL;
	} else if (!out) {
		out = "cpu.pb.gz";
	}
	if ((out && abs_path(out, outabs, sizeof(outabs))) ||
	    (mem && abs_path(mem, memabs, sizeof(memabs)))) {
		cli_err("record", "output path too long");
		return EXIT_USAGE;
	}
	snprintf(hzs, sizeof(hzs), "%d", hz);
	/* what is there now: a profile from an earlier run must not pass for this run's */
	had_out = out && stat(outabs, &out_before) == 0;
	had_mem = mem && stat(memabs, &mem_before) == 0;
	if (getenv("LD_PRELOAD") && getenv("LD_PRELOAD")[0]) {
		if (asprintf(&ld, "%s:%s", preload, getenv("LD_PRELOAD")) < 0)
			return EXIT_FAIL;
	} else {
		ld = strdup(preload);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("record", "fork: %s", strerror(errno));
		free(ld);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		setenv("LD_PRELOAD", ld, 1);
		if (out)
			setenv("RECONPERF_CPUPROFILE", outabs, 1);
		else
			unsetenv("RECONPERF_CPUPROFILE");
		setenv("RECONPERF_HZ", hzs, 1);
		unsetenv("RECONPERF_ROOT_PID");
		if (engine)
			setenv("RECONPERF_ENGINE", engine, 1);
		if (mem)
			setenv("RECONPERF_MEMPROFILE", memabs, 1);
		if (mem_rate) {
			snprintf(rates, sizeof(rates), "%llu", (unsigned long long)mem_rate);
			setenv("RECONPERF_MEMPROFILE_RATE", rates, 1);
		}
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "reconperf: record: cannot run '%s': %s\n", argv[i + 1],
			strerror(errno));
		_exit(127);
	}
	free(ld);
	child = pid;
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	/* Ctrl-C reaches the program (same process group); it writes and dies, we report */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			cli_err("record", "wait: %s", strerror(errno));
			return EXIT_FAIL;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
	    access(out ? outabs : memabs, F_OK))
		return 127;
	if (out && !rewritten(outabs, had_out, &out_before))
		cli_err("record", "no profile written to '%s' (%s)%s", outabs,
			static_elf(argv[i + 1]) ?
				"the program is statically linked: LD_PRELOAD cannot load the "
				"sampler into it; 'reconperf profile -- CMD' samples it from outside" :
				"the program did not reach its exit handlers, or crashed in them",
			had_out ? "; the file there is an earlier run's" : "");
	else if (out)
		summary(outabs, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
					ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, hz);
	if (mem && !rewritten(memabs, had_mem, &mem_before))
		cli_err("record", "no heap profile written to '%s'%s", memabs,
			had_mem ? "; the file there is an earlier run's" : "");
	else if (mem)
		mem_summary(memabs);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
