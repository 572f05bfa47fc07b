/*
 * sampler_bpf — the sampler's "bpf-cpu-clock" engine (profiler/sampler.h): one cpu-clock
 * perf event per CPU, its period the sampling period, and a small eBPF program on each
 * (profiler/bpf/sigsample.bpf.c) that sends the sample signal to the interrupted thread
 * when it is one of ours. The clocks run per CPU, not per thread, so a context switch of a
 * sampled thread costs nothing extra (a per-thread perf event stops and restarts its
 * hrtimer at every switch: up to 60% on a switch-heavy program at 1000 Hz on a KVM guest),
 * and time the thread spends in the kernel is sampled too (the signal lands on its return
 * to user mode, so the sample shows the system call's caller).
 *
 * Thread and process ids are those of the caller's pid namespace (the program compares
 * them with bpf_get_ns_current_pid_tgid()), so it works inside a container.
 *
 * Needs CAP_BPF and CAP_PERFMON (or root) and kernel BTF; sbpf_open() fails otherwise and
 * the sampler falls back to per-thread perf events, then POSIX timers.
 *
 * Threading: open/close/add/remove from the sampler's threads under its lock.
 */
#ifndef RECONPERF_SAMPLER_BPF_H
#define RECONPERF_SAMPLER_BPF_H

#include <stdint.h>
#include <sys/types.h>

struct sbpf;

/* Loads the program for process tgid and starts a clock of period_ns on every online CPU. */
int sbpf_open(pid_t tgid, int signo, uint64_t period_ns, struct sbpf **out);
/* Threads to signal: only the registered ones are. */
int sbpf_add_thread(struct sbpf *s, pid_t tid);
void sbpf_remove_thread(struct sbpf *s, pid_t tid);
/* Signals sent, and periods whose signal could not be sent (counted as dropped samples). */
void sbpf_counts(const struct sbpf *s, uint64_t *sent, uint64_t *failed);
/* Stops the clocks, detaches and frees. NULL is fine. */
void sbpf_close(struct sbpf *s);
/*
 * In a fork child: closes the inherited descriptors without disabling the events (they are
 * the parent's too) and forgets s without freeing libbpf's objects, whose teardown would
 * disable them.
 */
void sbpf_forget(struct sbpf *s);

#endif
