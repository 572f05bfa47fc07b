// SPDX-License-Identifier: GPL-2.0
/*
 * profile.bpf.c — on-CPU stacks by cpu-clock sampling and off-CPU stacks by sched_switch,
 * for one process (tgid set in .rodata before load). See profile.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profiler/bpf/profile.h"
#include "profiler/bpf/ucopy.h"

char LICENSE[] SEC("license") = "GPL";

/* the target as the caller sees it: ids in the caller's pid namespace (a container's) */
const volatile __u32 target_tgid;
const volatile __u64 pidns_dev, pidns_ino;
const volatile __u32 stack_copy = RP_SS_STACK_DEFAULT;	/* DWARF mode's copy, bytes */
const volatile __u32 dwarf;	/* off-CPU: copies into the ring instead of stack ids */
const volatile __u64 t0_ns;	/* CLOCK_MONOTONIC when the loader opened the programs */

__u64 seq;	/* DWARF mode's switch-outs */

__u64 lost;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, RP_PROF_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, RP_PROF_MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RP_PROF_MAX_KEYS);
	__type(key, struct rp_prof_key);
	__type(value, struct rp_prof_val);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct rp_prof_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct rp_prof_rt);
} rts SEC(".maps");

/*
 * On-CPU: the sampled thread's runtime at its first and newest sample (see profile.h); a
 * thread started since the programs were opened counts from its start (first 0).
 */
static __always_inline void note_runtime(__u32 tid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 rt = BPF_CORE_READ(task, se.sum_exec_runtime);
	struct rp_prof_rt *v = bpf_map_lookup_elem(&rts, &tid), first = { rt, rt };

	if (!v) {
		if (BPF_CORE_READ(task, start_time) >= t0_ns)
			first.first = 0;
		bpf_map_update_elem(&rts, &tid, &first, BPF_NOEXIST);
	} else if (rt > v->last) {
		v->last = rt;
	}
}

/* On-CPU: a sampled thread's runtime when it exits (what it ran after its newest sample). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(rp_prof_exit, struct task_struct *task)
{
	struct bpf_pidns_info ns;
	struct rp_prof_rt *v;
	__u32 tid;
	__u64 rt;

	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target_tgid)
		return 0;
	tid = ns.pid;
	v = bpf_map_lookup_elem(&rts, &tid);
	rt = BPF_CORE_READ(task, se.sum_exec_runtime);
	if (v && rt > v->last)
		v->last = rt;
	return 0;
}

static __always_inline void add(struct rp_prof_key *k, __u64 ns)
{
	struct rp_prof_val *v = bpf_map_lookup_elem(&counts, k), zero = {};

	if (!v) {
		bpf_map_update_elem(&counts, k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, k);
		if (!v) {
			__sync_fetch_and_add(&lost, 1);
			return;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	if (ns)
		__sync_fetch_and_add(&v->ns, ns);
}

SEC("perf_event")
int rp_prof_sample(struct bpf_perf_event_data *ctx)
{
	struct bpf_pidns_info ns;
	struct rp_prof_key k = {};

	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target_tgid)
		return 0;
	k.tid = ns.pid;
	note_runtime(k.tid);
	k.ustack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k.kstack = bpf_get_stackid(ctx, &stacks, 0);
	add(&k, 0);
	return 0;
}

/* DWARF mode: the copy's header and stack, one slot per CPU (max_entries set at load). */
struct copy_scratch {
	struct rp_prof_copy r;
	__u8 stack[RP_SS_STACK_MAX + 4096];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct copy_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RP_PROF_RING_BYTES);
} ring SEC(".maps");

/*
 * DWARF mode: where each thread's stack stops being readable, as the first page-by-page
 * copy found it; later copies are one read up to there instead of a failed read and a
 * read per page.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} tops SEC(".maps");

/*
 * The current thread's user registers (saved at its entry to the kernel: a system call's
 * time lands on its caller) and stack top, into the ring; kstack from the caller.
 */
static __always_inline void put_copy(__u32 tid, __s32 kstack, __u32 kind, __u64 sq)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct copy_scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	struct pt_regs *regs;
	__u64 len, *top;
	int paged;

	if (!s)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	s->r.tid = tid;
	s->r.kind = kind;
	s->r.seq = sq;
	s->r.ns = 0;
	s->r.ip = BPF_CORE_READ(regs, ip);
	s->r.sp = BPF_CORE_READ(regs, sp);
	s->r.bp = BPF_CORE_READ(regs, bp);
	s->r.kstack = kstack;
	top = bpf_map_lookup_elem(&tops, &tid);
	len = rp_ucopy(s->stack, s->r.sp, top ? *top : 0, stack_copy, &paged);
	if (len > RP_SS_STACK_MAX)
		return;
	if (paged && len && len < stack_copy) {	/* stopped at the stack's readable end */
		__u64 hi = s->r.sp + len;

		bpf_map_update_elem(&tops, &tid, &hi, BPF_ANY);
	}
	s->r.len = (__u32)len;
	/* the loader reads the ring every few tens of ms: no wake-ups */
	if (bpf_ringbuf_output(&ring, s, sizeof(s->r) + len, BPF_RB_NO_WAKEUP))
		__sync_fetch_and_add(&lost, 1);
}

SEC("perf_event")
int rp_prof_copy(struct bpf_perf_event_data *ctx)
{
	struct bpf_pidns_info ns;

	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target_tgid)
		return 0;
	note_runtime(ns.pid);
	put_copy(ns.pid, bpf_get_stackid(ctx, &stacks, 0), RP_PROF_ONCPU, 0);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rp_prof_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	struct bpf_pidns_info ns;
	__u32 tid;

	/*
	 * Runs in prev's context, so the stacks taken here are prev's, and prev's ids in the
	 * caller's namespace are the current task's. starts is keyed by the kernel's own
	 * (init namespace) thread id, which next carries too: only target threads get in.
	 */
	if (!preempt && (prev_state & RP_PROF_STATE_MASK) &&
	    !bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) &&
	    ns.tgid == target_tgid) {
		struct rp_prof_start s = { .ts = now, .tid = ns.pid };

		if (dwarf) {
			/* the copy goes to the ring now, its blocked time at the switch-in */
			__u64 sq = __sync_fetch_and_add(&seq, 1) + 1;

			s.ustack = (__s32)(__u32)sq;
			s.kstack = (__s32)(__u32)(sq >> 32);
			put_copy(ns.pid, bpf_get_stackid(ctx, &stacks, 0), RP_PROF_OUT, sq);
		} else {
			s.ustack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
			s.kstack = bpf_get_stackid(ctx, &stacks, 0);
		}
		tid = prev->pid;
		bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	}
	tid = next->pid;
	struct rp_prof_start *s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	__u64 blocked = now - s->ts;

	if (dwarf) {
		struct rp_prof_copy in = { .tid = s->tid, .kind = RP_PROF_IN, .ns = blocked,
					   .seq = (__u64)(__u32)s->ustack |
						  (__u64)(__u32)s->kstack << 32 };

		bpf_map_delete_elem(&starts, &tid);
		if (bpf_ringbuf_output(&ring, &in, sizeof(in), BPF_RB_NO_WAKEUP))
			__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	struct rp_prof_key k = { .tid = s->tid, .ustack = s->ustack, .kstack = s->kstack };
	bpf_map_delete_elem(&starts, &tid);
	add(&k, blocked);
	return 0;
}
