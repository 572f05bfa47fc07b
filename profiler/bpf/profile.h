/*
 * profile.h — what profile.bpf.c and its loader profile.c share, and the loader API.
 *
 * On-CPU mode: a perf_event program on every CPU's cpu-clock event (hrtimer-driven, so the
 * asked rate is reached in a VM too) counts samples of the target process by (user stack,
 * kernel stack). Off-CPU mode: a tp_btf/sched_switch program stamps a target thread's
 * switch-out (when it blocks, not when preempted) with its stacks and, at switch-in, adds
 * the nanoseconds blocked to those stacks. Stacks are frame-pointer walks by the kernel
 * (bpf_get_stackid), kept in a stack-trace map; user space reads and symbolizes them. In
 * DWARF mode the programs copy the user registers and stack top (of each sample, or of
 * each blocking switch-out) into a ring buffer instead, and user space unwinds the copies by
 * the target's DWARF CFI (profiler/unwind_snap.h), so code without frame pointers gives
 * whole stacks too; a switch-in then adds the time blocked to its switch-out's stack.
 *
 * Fixed-width types only; profile.c asserts the sizes.
 */
#ifndef RECONPERF_BPF_PROFILE_H
#define RECONPERF_BPF_PROFILE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define RP_PROF_MAX_STACKS 16384	/* distinct stacks (user and kernel) */
#define RP_PROF_MAX_DEPTH 127		/* frames per stack (PERF_MAX_STACK_DEPTH) */
#define RP_PROF_MAX_KEYS 32768		/* distinct (tid, user, kernel) triples */
#define RP_PROF_STATE_MASK 0xff		/* see latency.h */

struct rp_prof_key {
	__u32 tid;
	__s32 ustack;		/* stack id, < 0 when the walk failed */
	__s32 kstack;
	__u32 pad;
};

struct rp_prof_val {
	__u64 count;		/* samples, or switches */
	__u64 ns;		/* off-CPU: nanoseconds blocked */
};

/*
 * DWARF mode, in the ring: an on-CPU sample, or a thread switching out blocked, with its
 * registers and then len bytes of user stack from sp; or (no stack) the thread switching
 * back in, which names the switch-out by its seq and gives the nanoseconds blocked.
 */
enum { RP_PROF_ONCPU, RP_PROF_OUT, RP_PROF_IN };

struct rp_prof_copy {
	__u32 tid;
	__u32 len;
	__u64 ip, sp, bp;	/* the user registers (at the kernel entry, in a system call) */
	__s32 kstack;		/* kernel stack id in `stacks`, < 0 if none */
	__u32 kind;		/* RP_PROF_ONCPU, _OUT or _IN */
	__u64 seq;		/* _OUT, _IN: the switch-out */
	__u64 ns;		/* _IN: nanoseconds blocked */
};

#define RP_PROF_RING_BYTES (16u << 20)

/*
 * On-CPU: a thread's runtime as the scheduler accounted it (task_struct se.sum_exec_runtime,
 * up to a tick stale) at its first sample (0 for a thread started during the profile) and
 * at its newest sample or its exit: what its samples stand for.
 */
struct rp_prof_rt {
	__u64 first, last;
};

struct rp_prof_start {		/* a thread switched out while blocked */
	__u64 ts;
	__s32 ustack;		/* DWARF mode: the low 32 bits of the switch-out's seq */
	__s32 kstack;		/* DWARF mode: the high 32 bits */
	__u32 tid;		/* in the caller's pid namespace */
	__u32 pad;
};

#ifndef __bpf__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_prof;

struct bpf_prof_opts {
	pid_t pid;		/* the process (tgid) to profile */
	unsigned hz;		/* on-CPU sampling rate per CPU */
	bool offcpu;		/* off-CPU mode instead of on-CPU */
	bool dwarf;		/* copy user stacks, unwind them by DWARF CFI here */
	unsigned stack_copy;	/* dwarf: bytes copied per sample (0: RP_SS_STACK_DEFAULT) */
	const char *btf_path;	/* NULL: /sys/kernel/btf/vmlinux */
};

/* Loads and attaches. Errors as bpf_lat_open() (see bpfcommon.h). */
int bpf_prof_open(const struct bpf_prof_opts *o, struct bpf_prof **out);
/* Stops collecting (detaches) but keeps the maps for reading. */
void bpf_prof_stop(struct bpf_prof *p);
/*
 * DWARF mode: unwinds the copies in the ring and adds them to the counts (call while
 * the process runs, every few tens of ms, and once after bpf_prof_stop). Returns the
 * copies read or -errno; 0 in frame-pointer mode.
 */
int bpf_prof_poll(struct bpf_prof *p);

/* One aggregated stack: frames leaf first; kernel frames are kernel addresses. */
struct bpf_prof_stack {
	uint32_t tid;
	const uint64_t *user;
	size_t nuser;
	const uint64_t *kern;
	size_t nkern;
	uint64_t count;		/* samples (on-CPU) or switches (off-CPU) */
	uint64_t ns;		/* off-CPU nanoseconds */
	bool user_lost;		/* the user stack walk failed (no frame pointers, ...) */
};

/* Calls fn for each stack; stops and returns fn's value when it is non-zero. */
int bpf_prof_foreach(struct bpf_prof *p, int (*fn)(void *arg, const struct bpf_prof_stack *s),
		     void *arg);
/*
 * On-CPU: the CPU time thread tid ran, as the scheduler accounted it, to its newest sample
 * or its exit: from its start (*whole) when it started during the profile, else from its
 * first sample. 0 when unknown (no sample, or its entry evicted past 16384 threads).
 */
uint64_t bpf_prof_thread_cpu(struct bpf_prof *p, uint32_t tid, bool *whole);
/* Events dropped: keys map full, stack ids lost. */
uint64_t bpf_prof_lost(const struct bpf_prof *p);
void bpf_prof_free(struct bpf_prof *p);
#endif

#endif
