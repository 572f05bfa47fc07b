/*
 * preload — the constructor of libreconperf-preload.so, which `reconperf record` puts in
 * LD_PRELOAD. Built only into that library (mk/cpuprof.mk), never into libreconperf.a.
 *
 * Environment (set by `reconperf record`):
 *   RECONPERF_CPUPROFILE=PATH   start the CPU sampler at load, write PATH at exit
 *   RECONPERF_HZ=N              sampling rate (default 100)
 *   RECONPERF_ENGINE=bpf-stack|bpf|perf|timer  force an engine (default: timers up to
 *                               100 Hz, above that bpf-stack, else perf events, else timers)
 *   RECONPERF_STACK_COPY=BYTES  bpf-stack's copy of the stack per sample (default 32768)
 *   RECONPERF_ROOT_PID          set by the first process; a descendant (a child that
 *                               inherited the environment) writes PATH.PID instead of PATH
 *   RECONPERF_MEMPROFILE=PATH   the allocation profiler's hook (preload_mem_start below)
 *
 * The profile is written at exit (atexit); when the program leaves through _exit or _Exit
 * (which skip atexit: dash does, and so do many forked workers), by the wrappers of those
 * below; and, when the program left SIGINT/SIGTERM at their default action, on those
 * signals: the handler only wakes a writer thread (sem_post), which writes, restores the
 * default action and re-raises, so the exit status is the signal's. Failures are reported
 * on stderr with the "reconperf: record:" prefix.
 */
#include "reconperf/profiler.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "profiler/pprof.h"
#include "profiler/sampler.h"

static char cpu_path[4096];
static int written;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t fatal_sem;		/* wakes the writer thread */
static sem_t exit_done;		/* the writer wrote for _exit */
static volatile sig_atomic_t fatal_sig, exit_req;
static int writer_up;		/* the writer thread runs in this process */
static pid_t owner;		/* the process whose profiles this copy of the state writes */

/*
 * The allocation profiler's hook point: called from the constructor when
 * RECONPERF_MEMPROFILE is set, and at exit. Weak so the library links before the heap side
 * exists; profiler/alloc provides strong definitions.
 */
__attribute__((weak)) int preload_mem_start(const char *path);
__attribute__((weak)) int preload_mem_write(void);

static void write_cpu(void)
{
	int rc;

	pthread_mutex_lock(&write_lock);
	if (!written && cpu_path[0]) {
		written = 1;
		rc = rp_profiler_stop_write(cpu_path);
		if (rc)
			fprintf(stderr, "reconperf: record: cannot write '%s': %s\n", cpu_path,
				strerror(-rc));
	}
	pthread_mutex_unlock(&write_lock);
}

static void at_exit(void)
{
	write_cpu();
	if (preload_mem_write)
		preload_mem_write();
}

static void on_fatal(int sig)
{
	fatal_sig = sig;
	sem_post(&fatal_sem);
	/* the writer thread ends the process; wait here so the program does not go on */
	for (;;)
		pause();
}

static void *fatal_writer(void *arg)
{
	sigset_t all, one;

	(void)arg;
	/* the program's threads take the signal, never this one (it would wait on itself) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (sem_wait(&fatal_sem) < 0 && errno == EINTR)
		;
	at_exit();
	if (exit_req) {		/* _exit waits for this, then ends the process */
		sem_post(&exit_done);
		for (;;)
			pause();
	}
	signal(fatal_sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, fatal_sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(fatal_sig);
	for (;;)
		pause();
	return NULL;
}

/*
 * _exit and _Exit skip the atexit handlers, so these wrappers write the profiles first. Not
 * in the calling thread: _exit may be called from a signal handler that interrupted the
 * allocator, where writing would deadlock. The writer thread writes while the caller waits;
 * if the writer makes no progress for EXIT_STUCK_S seconds (stuck on a lock the caller
 * holds), the process exits without the profile and says so. Only the process that owns
 * the profiles writes: a vfork child shares its parent's memory and must leave it alone.
 * A second thread calling _exit meanwhile waits for the first.
 */
#define EXIT_STUCK_S 20

static void exit_write(void)
{
	static int once;
	unsigned long seen = pprof_write_progress();
	struct timespec t;
	int idle = 0;

	if (!owner || getpid() != owner)
		return;
	if (__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST)) {
		for (;;)
			pause();
	}
	if (!writer_up) {
		at_exit();
		return;
	}
	exit_req = 1;
	sem_post(&fatal_sem);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1;
		if (sem_timedwait(&exit_done, &t) == 0)
			return;
		if (errno == EINTR)
			continue;
		if (pprof_write_progress() != seen) {
			seen = pprof_write_progress();
			idle = 0;
		} else if (++idle >= EXIT_STUCK_S) {
			static const char msg[] = "reconperf: record: the profile was not written at "
						  "_exit: its writer made no progress for 20 s (was "
						  "_exit called from a signal handler?)\n";

			if (write(2, msg, sizeof(msg) - 1) < 0)
				errno = 0;	/* nowhere left to say it */
			return;
		}
	}
}

void _exit(int status)
{
	exit_write();
	for (;;)
		syscall(SYS_exit_group, status);
}

void _Exit(int status) __attribute__((noreturn, alias("_exit")));

static const int fatal_sigs[] = { SIGINT, SIGTERM };
static int fatal_want;	/* bit i: fatal_sigs[i] is ours */

/* Created before the sampler starts (or restarts after fork), so it is not sampled. */
static int start_fatal_writer(void)
{
	pthread_t th;
	pthread_attr_t attr;
	int rc;

	if (sem_init(&fatal_sem, 0, 0) || sem_init(&exit_done, 0, 0))
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	rc = pthread_create(&th, &attr, fatal_writer, NULL);
	pthread_attr_destroy(&attr);
	return rc ? -1 : 0;
}

/* The writer thread, and the SIGINT/SIGTERM handlers where those had their default action. */
static void catch_fatal(void)
{
	struct sigaction sa, old;

	writer_up = start_fatal_writer() == 0;
	if (!writer_up)
		return;
	for (size_t i = 0; i < 2; i++)
		if (sigaction(fatal_sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			fatal_want |= 1 << i;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 2; i++)
		if (fatal_want & (1 << i))
			sigaction(fatal_sigs[i], &sa, NULL);
}

/*
 * A child forked without exec: the sampler stopped itself in the child (sampler.c). Profile
 * the child on its own into PATH.PID, as a descendant that execs does. The writer thread of
 * SIGINT/SIGTERM did not survive the fork either: start another, or give the signals back
 * their default action if on_fatal is still installed (it would wait for ever).
 */
static char cpu_base[sizeof(cpu_path) - 32];
static struct rp_profiler_opts cpu_opts;

static void fork_child(void)
{
	struct sigaction old;
	int rc;

	pthread_mutex_init(&write_lock, NULL);
	if (owner)
		owner = getpid();
	writer_up = writer_up && start_fatal_writer() == 0;
	if (!writer_up)
		for (size_t i = 0; i < 2; i++)
			if (sigaction(fatal_sigs[i], NULL, &old) == 0 &&
			    old.sa_handler == on_fatal)
				signal(fatal_sigs[i], SIG_DFL);
	if (written || !cpu_path[0])
		return;
	snprintf(cpu_path, sizeof(cpu_path), "%s.%d", cpu_base, (int)getpid());
	rc = rp_profiler_start(&cpu_opts);
	if (rc) {
		fprintf(stderr, "reconperf: record: cannot start the CPU profiler in child %d: "
			"%s\n", (int)getpid(), rp_profiler_strerror(&cpu_opts, rc));
		cpu_path[0] = 0;
	}
}

/*
 * Programs that close every descriptor at their start (daemons, sandboxes: closefrom(3),
 * close_range(3, ~0U, 0), or close() in a loop) would close the sampler's events and ring
 * and leave the profile empty. These wrappers leave the running sampler's descriptors
 * (sampler_fd_guarded) open and close the rest: a guarded close() returns 0.
 */
static int (*real_close)(int);
static int (*real_close_range)(unsigned, unsigned, int);

static void resolve_close(void)
{
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_close_range = (int (*)(unsigned, unsigned, int))dlsym(RTLD_NEXT, "close_range");
}

static int do_close_range(unsigned lo, unsigned hi, int flags)
{
	if (real_close_range)
		return real_close_range(lo, hi, flags);
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

int close(int fd)
{
	if (sampler_fd_guarded(fd))
		return 0;
	if (real_close)
		return real_close(fd);
	return (int)syscall(SYS_close, fd);
}

int close_range(unsigned lo, unsigned hi, int flags)
{
	unsigned from = lo;
	int rc = 0;

	if (lo > hi)
		return do_close_range(lo, hi, flags);	/* EINVAL, as asked */
	for (unsigned fd = lo; fd <= hi && fd < 65536; fd++) {
		if (!sampler_fd_guarded((int)fd))
			continue;
		if (from < fd && do_close_range(from, fd - 1, flags) < 0)
			rc = -1;
		from = fd + 1;
	}
	if (from <= hi && do_close_range(from, hi, flags) < 0)
		rc = -1;
	return rc;
}

void closefrom(int lo)
{
	close_range(lo > 0 ? (unsigned)lo : 0, ~0u, 0);
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *cpu = getenv("RECONPERF_CPUPROFILE"), *hz = getenv("RECONPERF_HZ");
	const char *root = getenv("RECONPERF_ROOT_PID"), *mem = getenv("RECONPERF_MEMPROFILE");
	const char *copy = getenv("RECONPERF_STACK_COPY");
	struct rp_profiler_opts o = { .hz = hz ? atoi(hz) : 100,
				      .engine = getenv("RECONPERF_ENGINE"),
				      .stack_copy = copy ? (unsigned)atoi(copy) : 0 };
	char pid[32];
	int rc, first;

	resolve_close();
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	first = !root || !strcmp(root, pid);
	if (!root)
		setenv("RECONPERF_ROOT_PID", pid, 1);
	if (mem && preload_mem_start && preload_mem_start(mem) == 0)
		owner = getpid();
	if (!cpu || !cpu[0])
		goto out;
	/* a descendant that inherited the environment writes its own file */
	snprintf(cpu_path, sizeof(cpu_path), first ? "%s" : "%s.%s", cpu, pid);
	snprintf(cpu_base, sizeof(cpu_base), "%s", cpu);
	cpu_opts = o;
	catch_fatal();
	rc = rp_profiler_start(&o);
	if (rc) {
		fprintf(stderr, "reconperf: record: cannot start the CPU profiler: %s\n",
			rp_profiler_strerror(&o, rc));
		cpu_path[0] = 0;
	} else {
		owner = getpid();
	}
out:
	if (owner && !writer_up)	/* the heap profile alone */
		catch_fatal();
	/* after the sampler's own handler (registered by its first start) */
	if (owner)
		pthread_atfork(NULL, NULL, fork_child);
	atexit(at_exit);
}
