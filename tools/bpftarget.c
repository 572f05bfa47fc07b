/* bpftarget — the observed process for probe and profile. See bpftarget.h. */
#include "tools/bpftarget.h"
#include "tools/cli.h"
#include "profiler/bpf/bpfcommon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bpftarget_attach_pid(struct bpftarget *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->release_fd = -1;
	t->exit_status = -1;
	t->pid = pid;
	if (kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	snprintf(t->exe, sizeof(t->exe), "/proc/%d/exe", (int)pid);
	return 0;
}

static int find_exe(const char *cmd, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(cmd, '/')) {
		if (stat(cmd, &st) || !S_ISREG(st.st_mode) || access(cmd, X_OK))
			return -ENOENT;
		return cap >= PATH_MAX && realpath(cmd, out) ? 0 : -ENAMETOOLONG;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (snprintf(out, cap, "%.*s/%s", (int)n, n ? p : ".", cmd) < (int)cap &&
		    !stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return 0;
		p += n + (e ? 1 : 0);
	}
	return -ENOENT;
}

int bpftarget_spawn(struct bpftarget *t, char **argv)
{
	int fds[2], err;
	char c;

	memset(t, 0, sizeof(*t));
	t->release_fd = -1;
	t->exit_status = -1;
	err = find_exe(argv[0], t->exe, sizeof(t->exe));
	if (err)
		return err;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	t->pid = fork();
	if (t->pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (t->pid == 0) {
		close(fds[1]);
		/* Held until the parent has attached; EOF without a byte means it gave up. */
		if (read(fds[0], &c, 1) != 1)
			_exit(127);
		execv(t->exe, argv);
		_exit(127);
	}
	close(fds[0]);
	t->started = 1;
	t->release_fd = fds[1];
	return 0;
}

int bpftarget_spawn_hold_exit(struct bpftarget *t, char **argv)
{
	int err = bpftarget_spawn(t, argv);

	if (err)
		return err;
	if (ptrace(PTRACE_SEIZE, t->pid, 0, PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) {
		err = -errno;
		bpftarget_fini(t);
		return err;
	}
	t->traced = 1;
	return 0;
}

/* A traced child stopped: at its exit (hold it), or for a signal (pass it on). */
static void on_stop(struct bpftarget *t, int st)
{
	if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
		t->held = 1;
		return;
	}
	if (st >> 16 == PTRACE_EVENT_STOP)
		ptrace(PTRACE_LISTEN, t->pid, 0, 0);
	else
		ptrace(PTRACE_CONT, t->pid, 0, WSTOPSIG(st));
}

void bpftarget_release(struct bpftarget *t)
{
	if (t->release_fd >= 0) {
		if (write(t->release_fd, "g", 1) != 1) {
			/* the child is gone; the wait notices */
		}
		close(t->release_fd);
		t->release_fd = -1;
	}
}

static int target_gone(struct bpftarget *t)
{
	int st;

	if (t->started) {
		if (t->exit_status >= 0 || t->held)
			return 1;
		while (waitpid(t->pid, &st, WNOHANG | __WALL) == t->pid) {
			if (!WIFSTOPPED(st)) {
				t->exit_status = WIFEXITED(st) ? WEXITSTATUS(st)
							       : 128 + WTERMSIG(st);
				return 1;
			}
			on_stop(t, st);
			if (t->held)
				return 1;
		}
		return 0;
	}
	return kill(t->pid, 0) && errno == ESRCH;
}

int bpftarget_wait(struct bpftarget *t, uint64_t duration_ns, uint64_t interval_ns,
		   void (*tick)(void *arg), void *arg)
{
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t start = mono_ns(), next_tick = start + interval_ns;

	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	bpftarget_release(t);
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		uint64_t now;

		if (stop_signal || target_gone(t))
			break;
		now = mono_ns();
		if (duration_ns && now - start >= duration_ns)
			break;
		if (interval_ns && tick && now >= next_tick) {
			tick(arg);
			next_tick += interval_ns;
		}
		nanosleep(&ts, NULL);
	}
	return stop_signal != 0;
}

void bpftarget_fini(struct bpftarget *t)
{
	int st;

	if (t->release_fd >= 0) {	/* never released: the held child exits on EOF */
		close(t->release_fd);
		t->release_fd = -1;
	}
	if (t->started && t->exit_status < 0) {
		if (t->held)
			ptrace(PTRACE_DETACH, t->pid, 0, 0);
		kill(t->pid, SIGTERM);	/* ignored by one already exiting */
		while (waitpid(t->pid, &st, __WALL) == t->pid && WIFSTOPPED(st)) {
			on_stop(t, st);
			if (t->held)
				ptrace(PTRACE_DETACH, t->pid, 0, 0);
		}
		t->exit_status = 0;
	}
}

int bpftarget_setup(struct bpftarget *t, const char *cmd, pid_t pid, char **argv,
		    int hold_exit)
{
	int err;

	if (pid) {
		if (bpftarget_attach_pid(t, pid) == 0)
			return 0;
		cli_err(cmd, "no process with pid %d", (int)pid);
		return -1;
	}
	err = hold_exit ? bpftarget_spawn_hold_exit(t, argv) : bpftarget_spawn(t, argv);
	if (!err)
		return 0;
	cli_err(cmd, "cannot run '%s': %s", argv[0],
		err == -ENOENT ? "command not found" : strerror(-err));
	return -1;
}

void bpftarget_load_error(const char *cmd, const char *btf, int err)
{
	if (err == -ENOENT)
		cli_err(cmd, "no kernel BTF at '%s': %s", btf ? btf : RP_BPF_DEFAULT_BTF,
			rp_bpf_strerror(err));
	else
		cli_err(cmd, "cannot load the eBPF program: %s", rp_bpf_strerror(err));
}
