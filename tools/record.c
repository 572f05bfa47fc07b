/*
 * reconperf record — run any dynamically linked program with the CPU sampler preloaded
 * (libreconperf-preload.so) and write its profile when it exits.
 */
#include "tools/cli.h"
#include "profiler/pprof.h"
#include "profiler/sampler.h"
#include "reconperf/profiler.h"

#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

const char cmd_record_usage[] =
	"usage: reconperf record [-o F] [--hz N] [--engine bpf-stack|bpf|perf|timer]\n"
	"                        [--stack-copy SIZE] [--mem[=F]] [--mem-rate SIZE] -- CMD [ARGS]\n"
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
	"                     the interrupted thread's registers and the top of its stack,\n"
	"                     unwound by a collector thread: no signal, nothing per context\n"
	"                     switch; needs root), bpf (the same clocks, the program signals\n"
	"                     the thread and its handler unwinds: no stack depth limit),\n"
	"                     perf (perf_event task-clock per thread) or timer (POSIX CPU\n"
	"                     timers, at most one sample per kernel tick; cheapest); default:\n"
	"                     timer up to 100 Hz, above it bpf-stack, else perf\n"
	"  --stack-copy SIZE  bytes of stack bpf-stack copies per sample, 4KiB..64KiB (default\n"
	"                     32KiB); deeper stacks lose their outermost frames (counted)\n"
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

/*
 * Descendants of the program write PATH.PID. A snapshot of those files (name, inode, time)
 * before the run tells the ones this run wrote from an earlier run's: profiles are written
 * by rename, so a rewritten file is a new inode.
 */
struct child_file {
	char *name;
	struct stat st;
};

struct child_files {
	struct child_file *v;
	size_t n;
};

/* Calls fn for each regular file PATH.PID (PID digits); path is absolute. */
static void each_child_file(const char *path, void (*fn)(const char *name, long pid,
							  const struct stat *st, void *arg),
			    void *arg)
{
	char dir[PATH_MAX];
	const char *base = strrchr(path, '/') + 1;
	size_t blen = strlen(base);
	struct dirent *d;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	dh = opendir(dir);
	if (!dh)
		return;
	while ((d = readdir(dh))) {
		const char *tail = d->d_name + blen + 1;
		char *end, full[PATH_MAX + 256];
		struct stat st;
		long pid;

		if (strncmp(d->d_name, base, blen) || d->d_name[blen] != '.' || *tail < '1' ||
		    *tail > '9')
			continue;
		pid = strtol(tail, &end, 10);
		snprintf(full, sizeof(full), "%s%s", dir, d->d_name);
		if (!*end && !stat(full, &st) && S_ISREG(st.st_mode))
			fn(d->d_name, pid, &st, arg);
	}
	closedir(dh);
}

static void keep_child_file(const char *name, long pid, const struct stat *st, void *arg)
{
	struct child_files *cf = arg;
	struct child_file *v = realloc(cf->v, (cf->n + 1) * sizeof(*v));

	(void)pid;
	if (!v)
		return;
	cf->v = v;
	v[cf->n].name = strdup(name);
	v[cf->n].st = *st;
	if (v[cf->n].name)
		cf->n++;
}

struct new_files {
	const struct child_files *before;
	size_t n;
	long lo;
};

static void count_new_file(const char *name, long pid, const struct stat *st, void *arg)
{
	struct new_files *nf = arg;

	for (size_t i = 0; i < nf->before->n; i++) {
		const struct stat *b = &nf->before->v[i].st;

		if (!strcmp(nf->before->v[i].name, name) && b->st_ino == st->st_ino &&
		    b->st_dev == st->st_dev && b->st_mtim.tv_sec == st->st_mtim.tv_sec &&
		    b->st_mtim.tv_nsec == st->st_mtim.tv_nsec)
			return;
	}
	if (!nf->n++ || pid < nf->lo)
		nf->lo = pid;
}

static void child_files_free(struct child_files *cf)
{
	for (size_t i = 0; i < cf->n; i++)
		free(cf->v[i].name);
	free(cf->v);
}

/* Says where the profiles that descendants wrote during this run are. */
static void children_note(const char *path, const struct child_files *before)
{
	struct new_files nf = { before, 0, 0 };

	each_child_file(path, count_new_file, &nf);
	if (nf.n == 1)
		fprintf(stderr, "reconperf: record: a child process wrote its own profile, %s.%ld\n",
			path, nf.lo);
	else if (nf.n > 1)
		fprintf(stderr, "reconperf: record: %zu child processes wrote their own profiles, "
			"%s.PID (%s.%ld first); 'go tool pprof -top %s %s.*' reads them as one\n",
			nf.n, path, path, nf.lo, path, path);
}

static void summary(const char *path, double cpu_s, int hz)
{
	struct pprof_profile *p;
	char err[256];
	int64_t n = 0, cpu_ns = 0;

	if (pprof_read_file(path, &p, err, sizeof(err))) {
		cli_err("record", "no profile in '%s': %s", path, err);
		return;
	}
	const char *at;
	double profiled = -1;
	long long cut = 0, dropped = 0, capped = 0, copy = 0;
	char engine[32] = "";
	int depth = SAMPLER_MAX_DEPTH;

	for (size_t i = 0; i < p->nsamples; i++) {
		n += p->samples[i].values[0];
		cpu_ns += p->nsample_types > 1 ? p->samples[i].values[1] : 0;
	}
	/* the program's CPU time when the profile stopped, from the sampler's comment */
	for (size_t i = 0; i < p->ncomments; i++) {
		if ((at = strstr(p->comments[i], "process_cpu_ns=")))
			profiled = strtod(at + 15, NULL) / 1e9;
		if ((at = strstr(p->comments[i], "truncated=")))
			cut = strtoll(at + 10, NULL, 10);
		if ((at = strstr(p->comments[i], "dropped=")))
			dropped = strtoll(at + 8, NULL, 10);
		if ((at = strstr(p->comments[i], "engine=")))
			snprintf(engine, sizeof(engine), "%.*s", (int)strcspn(at + 7, " "), at + 7);
		if ((at = strstr(p->comments[i], "stack_copy=")))
			copy = strtoll(at + 11, NULL, 10);
		if ((at = strstr(p->comments[i], "max_depth=")))
			depth = atoi(at + 10);
		if ((at = strstr(p->comments[i], "depth_capped=")))
			capped = strtoll(at + 13, NULL, 10);
	}
	if (profiled > 0)
		fprintf(stderr, "reconperf: record: wrote %s: %lld samples over %.2f CPU-s of the "
			"program (%.0f%% of CPU-s x hz), their cpu values %.2f CPU-s; %.2f CPU-s in "
			"all, writing the profile and any children included\n", path, (long long)n,
			profiled, 100.0 * (double)n / (profiled * hz), (double)cpu_ns / 1e9, cpu_s);
	else
		fprintf(stderr, "reconperf: record: wrote %s: %lld samples, %.2f CPU-s of the "
			"program (%.0f%% of CPU-s x hz)\n", path, (long long)n, cpu_s,
			cpu_s > 0 ? 100.0 * (double)n / (cpu_s * hz) : 0.0);
	/* far fewer samples than the CPU time asks for, and cpu values that do not make up
	 * for them (a thread's samples carry the time its clock missed, so threads in
	 * microsecond slices alone do not trip this): a clock or its descriptor went away
	 * (the posix-timer engine's clocks tick at most once per kernel tick: 250 Hz here) */
	if (profiled >= 0.2 && (double)cpu_ns < 0.5e9 * profiled &&
	    n < 0.5 * profiled * (strcmp(engine, "posix-timer") ? hz : hz < 250 ? hz : 250))
		fprintf(stderr, "reconperf: record: %lld samples are fewer than half of what %.2f "
			"CPU-s at %d Hz give: did the program close the profiler's file descriptors "
			"(closefrom or close_range at its start), or run with the sample signal "
			"blocked? '--engine timer' uses no descriptor\n", (long long)n, profiled,
			hz);
	if (dropped > 0)
		fprintf(stderr, "reconperf: record: %lld samples were dropped (a full ring, or a "
			"signal the kernel could not queue)\n", dropped);
	if (cut > 0)
		fprintf(stderr, "reconperf: record: %lld stacks were deeper than the bpf-stack engine "
			"copies (%lld KiB): their outermost frames are missing; '--stack-copy "
			"64KiB' copies more, '--engine bpf' walks them whole\n", cut, copy / 1024);
	if (capped > 0)
		fprintf(stderr, "reconperf: record: %lld stacks reached %d frames, the most a sample "
			"keeps: their outermost frames are missing\n", capped, depth);
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
	int hz = 100, i, status, rc;
	bool mem_only = false, had_out = false, had_mem = false;
	uint64_t mem_rate = 0;
	unsigned stack_copy = 0;
	struct stat out_before, mem_before;
	struct child_files out_kids = { 0 }, mem_kids = { 0 };
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
		} else if (!strcmp(a, "--stack-copy") && i + 1 < argc) {
			if (cli_stack_copy("record", argv[++i], &stack_copy))
				return EXIT_USAGE;
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
	if (out)
		each_child_file(outabs, keep_child_file, &out_kids);
	if (mem)
		each_child_file(memabs, keep_child_file, &mem_kids);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("record", "fork: %s", strerror(errno));
		free(ld);
		rc = EXIT_FAIL;
		goto done;
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
		if (stack_copy) {
			snprintf(rates, sizeof(rates), "%u", stack_copy);
			setenv("RECONPERF_STACK_COPY", rates, 1);
		} else {
			unsetenv("RECONPERF_STACK_COPY");
		}
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
			rc = EXIT_FAIL;
			goto done;
		}
	}
	/* 127 without a profile: the command was not found or could not run (said above) */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
	    !(out ? rewritten(outabs, had_out, &out_before) :
		    rewritten(memabs, had_mem, &mem_before))) {
		rc = 127;
		goto done;
	}
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
	if (out)
		children_note(outabs, &out_kids);
	if (mem && !rewritten(memabs, had_mem, &mem_before))
		cli_err("record", "no heap profile written to '%s'%s", memabs,
			had_mem ? "; the file there is an earlier run's" : "");
	else if (mem)
		mem_summary(memabs);
	if (mem)
		children_note(memabs, &mem_kids);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
done:
	child_files_free(&out_kids);
	child_files_free(&mem_kids);
	return rc;
}
