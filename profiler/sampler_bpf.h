/*
 * sampler_bpf — the sampler's two eBPF engines (profiler/sampler.h). Both run one cpu-clock
 * perf event per CPU, its period the sampling period, with a small eBPF program on each
 * that acts when the interrupted task is one of our threads:
 *
 *   SBPF_SIGNAL ("bpf-cpu-clock", profiler/bpf/sigsample.bpf.c) sends the thread the sample
 *     signal; its handler unwinds. The signal is delivered through irq_work (a self-IPI) and
 *     a signal frame: on a KVM or Firecracker guest that is the larger part of a sample.
 *   SBPF_STACK ("bpf-stack", profiler/bpf/stacksample.bpf.c) copies the thread's user
 *     registers, the top of its stack (32 KiB unless told) and its label pointers into a
 *     ring buffer; the collector unwinds the copy (profiler/unwind_snap.h). No signal, so
 *     the thread pays the timer interrupt and the copy only.
 *
 * The clocks run per CPU, not per thread, so a context switch of a sampled thread costs
 * nothing extra (a per-thread perf event stops and restarts its hrtimer at every switch:
 * up to 60% on a switch-heavy program at 1000 Hz on a KVM guest), and time the thread
 * spends in the kernel is sampled too (the signal lands on its return to user mode; the
 * copy takes the registers saved at its entry to the kernel: both show the system call's
 * caller).
 *
 * Thread and process ids are those of the caller's pid namespace (the programs compare
 * them with bpf_get_ns_current_pid_tgid()), so it works inside a container.
 *
 * Needs CAP_BPF and CAP_PERFMON (or root) and kernel BTF; sbpf_open() fails otherwise and
 * the sampler falls back to per-thread perf events, then POSIX timers.
 *
 * Threading: open/close/add/remove from the sampler's threads under its lock; consume from
 * one thread (the collector, or the stopping thread after it has been joined).
 */
#ifndef RECONPERF_SAMPLER_BPF_H
#define RECONPERF_SAMPLER_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profiler/bpf/stacksample.h"

struct sbpf;

enum sbpf_mode { SBPF_SIGNAL, SBPF_STACK };

/* One copied sample of SBPF_STACK: the header and r->len bytes of stack after it. */
typedef void (*sbpf_sample_fn)(void *arg, const struct rp_ss_rec *r);

/*
 * Loads the mode's program for process tgid and starts a clock of period_ns on every
 * online CPU. signo: SBPF_SIGNAL's signal; fn, arg, stack_copy: SBPF_STACK's consumer
 * (sbpf_consume) and the most bytes of stack a sample copies (RP_SS_STACK_MIN..MAX).
 */
int sbpf_open(pid_t tgid, enum sbpf_mode mode, int signo, sbpf_sample_fn fn, void *arg,
	      uint64_t period_ns, uint32_t stack_copy, struct sbpf **out);
/*
 * Threads to sample: only the registered ones are. labels and stack_hi (SBPF_STACK): the
 * user address of the thread's label pairs and the top of its stack, 0 if unknown.
 */
int sbpf_add_thread(struct sbpf *s, pid_t tid, uint64_t labels, uint64_t stack_hi);
void sbpf_remove_thread(struct sbpf *s, pid_t tid);
/* The threads map's descriptor (SBPF_STACK: tid -> struct rp_ss_thread), for a thread to
 * publish its own labels with one bpf() call, no lock (sampler_label_set). */
int sbpf_tids_fd(const struct sbpf *s);
/* SBPF_STACK: passes the samples in the ring to fn; the number passed, or -errno. */
int sbpf_consume(struct sbpf *s);
/* SBPF_STACK: a descriptor that polls readable when the program asks for a consume. */
int sbpf_ring_fd(const struct sbpf *s);
/*
 * Samples taken (signals sent, or copies put in the ring), periods whose sample was lost
 * (a signal that could not be sent, a full ring), and copies read page by page (the
 * thread's stack top unknown).
 */
void sbpf_counts(const struct sbpf *s, uint64_t *taken, uint64_t *lost, uint64_t *short_copy);
/*
 * How many CPUs' clocks sbpf_open() put in phase with the kernel's tick (the periods that
 * fall on a tick then share its interrupt), which it does only when
 * sbpf_tick_align_asked(): RECONPERF_TICK_ALIGN=1 in the environment.
 */
int sbpf_aligned(const struct sbpf *s);
bool sbpf_tick_align_asked(void);
/* Stops the clocks and detaches; the ring can still be consumed. NULL is fine. */
void sbpf_stop(struct sbpf *s);
/* Stops the clocks, detaches and frees. NULL is fine. */
void sbpf_close(struct sbpf *s);
/*
 * In a fork child: closes the inherited descriptors without disabling the events (they are
 * the parent's too) and forgets s without freeing libbpf's objects, whose teardown would
 * disable them.
 */
void sbpf_forget(struct sbpf *s);

#endif
