/*
 * bpftarget — the process that `probe` and `profile` observe: an existing one (--pid P) or
 * a command started held (-- CMD ARGS: forked, blocked before exec until the probes are
 * attached, so its first instruction is already observed), and the wait until the run
 * ends: --duration elapsed, SIGINT/SIGTERM, or the process gone.
 *
 * With hold_exit, a started command is also kept from vanishing when it ends: it is traced
 * (PTRACE_SEIZE, PTRACE_O_TRACEEXIT) and stays stopped at its exit, its memory maps intact,
 * until bpftarget_fini(), so its addresses can still be symbolized. Signals it receives are
 * passed on unchanged.
 *
 * The signal handler only sets a flag. Used by one thread of the tool.
 */
#ifndef RECONPERF_BPFTARGET_H
#define RECONPERF_BPFTARGET_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

struct bpftarget {
	pid_t pid;		/* the observed process (the child for a command) */
	int started;		/* we forked it */
	int release_fd;		/* write end of the hold pipe; -1 once released */
	char exe[PATH_MAX];	/* the command's executable (resolved through PATH) */
	int exit_status;	/* of a started command, when it ended; -1 otherwise */
	int traced;		/* hold_exit: we are its tracer */
	int held;		/* stopped at its exit (traced) */
};

/* --pid: checks it exists. Returns 0, -ESRCH. */
int bpftarget_attach_pid(struct bpftarget *t, pid_t pid);
/* -- CMD: resolves argv[0] (-ENOENT) and forks a held child. */
int bpftarget_spawn(struct bpftarget *t, char **argv);
/* The same, and keeps it at its exit until bpftarget_fini() (see above). */
int bpftarget_spawn_hold_exit(struct bpftarget *t, char **argv);
/* Lets a held child exec. */
void bpftarget_release(struct bpftarget *t);
/*
 * Waits until duration_ns (0: no limit) elapsed, a signal, or the target ended. Calls
 * tick(arg) every interval_ns (0: never). Returns 1 when stopped by a signal, else 0.
 */
int bpftarget_wait(struct bpftarget *t, uint64_t duration_ns, uint64_t interval_ns,
		   void (*tick)(void *arg), void *arg);
/*
 * The --pid / -- CMD set-up both subcommands share: checks the pid or spawns the command
 * (held; also at its exit with hold_exit). Prints the cause as "reconperf: CMD: ..." and
 * returns -1 on failure, else 0.
 */
int bpftarget_setup(struct bpftarget *t, const char *cmd, pid_t pid, char **argv,
		    int hold_exit);
/* Prints why a BPF program could not be loaded (no BTF at btf, no privilege, ...). */
void bpftarget_load_error(const char *cmd, const char *btf, int err);

/* Lets a command held at its exit go; kills (SIGTERM) and reaps one still running. */
void bpftarget_fini(struct bpftarget *t);

#endif
