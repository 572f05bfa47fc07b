// SPDX-License-Identifier: GPL-2.0
/*
 * latency.bpf.c — call latency of user functions (uprobe + uretprobe) or of USDT start/end
 * pairs, kept as log-linear histograms in .bss, with each call's off-CPU time from
 * sched_switch (tp_btf: needs BTF, no tracefs).
 *
 * Each attachment carries a BPF cookie = probe index. Per thread a stack of frames (depth
 * counter + frames[]) pairs each return with its entry, so nested and recursive calls are
 * timed each on their own; a function's frames carry its entry stack pointer, so frames
 * whose return was lost (longjmp, exceptions) are dropped, not paired with later returns
 * (see drop_stale). The sched_switch program only touches threads that have a call
 * in flight: it stamps the switch-out time and adds the gap to the thread's off-CPU total
 * at switch-in; a call's off-CPU time is that total's growth between entry and return.
 *
 * Counters are updated with atomic adds (two CPUs may finish calls of one probe at once);
 * thread state is touched only by the thread itself and by its own context switches.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "profiler/bpf/latency.h"

char LICENSE[] SEC("license") = "GPL";

__u64 hist[RP_LAT_MAX_PROBES][RP_LAT_NBUCKETS];
struct rp_lat_stats stats[RP_LAT_MAX_PROBES];

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);	/* dead threads age out */
	__uint(max_entries, RP_LAT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct rp_lat_thread);
} threads SEC(".maps");

/* A zeroed value to insert new threads (too big for the 512-byte BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rp_lat_thread);
} zero SEC(".maps");

/* floor(log2(v)) for v > 0, without loops (BPF has no clz). */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xffffffffULL) << 5; v >>= s; r |= s;
	s = (v > 0xffff) << 4; v >>= s; r |= s;
	s = (v > 0xff) << 3; v >>= s; r |= s;
	s = (v > 0xf) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

/* bench/hist.c's hist_index(), same layout. */
static __always_inline __u32 hist_index(__u64 v)
{
	if (v < 2 * RP_LAT_SUB)
		return (__u32)v;
	__u32 k = log2_u64(v);
	__u32 shift = k - RP_LAT_SUB_BITS;
	return ((shift + 1) << RP_LAT_SUB_BITS) + (__u32)((v >> shift) - RP_LAT_SUB);
}

static __always_inline void record(__u32 probe, __u64 ns, __u64 off, __u64 runq)
{
	__u32 p = probe & (RP_LAT_MAX_PROBES - 1);
	__u32 idx = hist_index(ns);
	struct rp_lat_stats *st = &stats[p];

	if (idx >= RP_LAT_NBUCKETS)
		idx = RP_LAT_NBUCKETS - 1;
	__sync_fetch_and_add(&hist[p][idx], 1);
	__sync_fetch_and_add(&st->count, 1);
	__sync_fetch_and_add(&st->sum_ns, ns);
	if (off)
		__sync_fetch_and_add(&st->offcpu_ns, off);
	if (runq)
		__sync_fetch_and_add(&st->runq_ns, runq);
	for (int i = 0; i < 4; i++) {
		__u64 old = st->max_ns;

		if (ns <= old || __sync_val_compare_and_swap(&st->max_ns, old, ns) == old)
			break;
	}
}

/*
 * A function probe's frames carry the stack pointer at entry, so that a return the kernel
 * never reported (longjmp, an exception, a uretprobe lost to the kernel) cannot leave a
 * stale frame that every later return of the thread would be paired with. On x86-64 the
 * return pops the return address: a call that entered with sp returns with sp + 8.
 */
#ifdef __TARGET_ARCH_x86
#define RET_SP_ADJ 8
#else
#define RET_SP_ADJ 0
#endif

/* The thread's frame on top of its stack, or NULL when none is kept (depth 0 or past
 * MAX_DEPTH). */
static __always_inline struct rp_lat_frame *top(struct rp_lat_thread *t)
{
	__u32 d = t->depth;

	if (d == 0 || d > RP_LAT_MAX_DEPTH)
		return NULL;
	return &t->frames[(d - 1) & (RP_LAT_MAX_DEPTH - 1)];
}

/* Drops the frames of function calls that cannot still be running: at an entry with stack
 * pointer sp, those that entered at sp or above it (a live caller is above: its sp is
 * higher); at a return, those that entered below the returning call (deeper calls whose
 * return was lost). Each dropped frame counts as missed. */
static __always_inline void drop_stale(struct rp_lat_thread *t, __u64 sp, bool at_entry)
{
	for (int i = 0; i < RP_LAT_MAX_DEPTH; i++) {
		struct rp_lat_frame *f = top(t);

		if (!f || !f->sp)
			return;
		if (at_entry ? f->sp > sp : f->sp + RET_SP_ADJ >= sp)
			return;
		__sync_fetch_and_add(&stats[f->probe & (RP_LAT_MAX_PROBES - 1)].missed, 1);
		t->depth--;
	}
}

/* sp: the stack pointer at a function's entry, 0 for a USDT start. */
static __always_inline void enter(__u32 probe, __u64 sp)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rp_lat_thread *t = bpf_map_lookup_elem(&threads, &tid);

	if (!t) {
		__u32 z = 0;
		struct rp_lat_thread *zt = bpf_map_lookup_elem(&zero, &z);

		if (!zt)
			return;
		if (bpf_map_update_elem(&threads, &tid, zt, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&threads, &tid)) {
			__sync_fetch_and_add(&stats[probe & (RP_LAT_MAX_PROBES - 1)].missed, 1);
			return;
		}
		t = bpf_map_lookup_elem(&threads, &tid);
		if (!t)
			return;
	}
	if (sp)
		drop_stale(t, sp, true);
	__u32 d = t->depth++;
	if (d >= RP_LAT_MAX_DEPTH)
		return;
	struct rp_lat_frame *f = &t->frames[d & (RP_LAT_MAX_DEPTH - 1)];
	f->probe = probe;
	f->sp = sp;
	f->off_at_entry = t->off_ns;
	f->runq_at_entry = t->runq_ns;
	f->start_ns = bpf_ktime_get_ns();	/* last: exclude our own bookkeeping */
}

/* sp: the stack pointer after a function's return, 0 for a USDT end. */
static __always_inline void leave(__u32 probe, __u64 sp)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rp_lat_thread *t = bpf_map_lookup_elem(&threads, &tid);
	__u32 p = probe & (RP_LAT_MAX_PROBES - 1);
	struct rp_lat_frame *f;

	if (!t || t->depth == 0) {	/* the call began before we attached */
		__sync_fetch_and_add(&stats[p].missed, 1);
		return;
	}
	if (sp) {
		drop_stale(t, sp, false);
		f = top(t);
		/* A return from above the top frame: its entry was never seen; keep the frame. */
		if (f && f->sp && f->sp + RET_SP_ADJ != sp) {
			__sync_fetch_and_add(&stats[p].missed, 1);
			return;
		}
		if (t->depth == 0) {
			__sync_fetch_and_add(&stats[p].missed, 1);
			return;
		}
	}
	__u32 d = --t->depth;
	if (d >= RP_LAT_MAX_DEPTH) {
		__sync_fetch_and_add(&stats[p].missed, 1);
		return;
	}
	f = &t->frames[d & (RP_LAT_MAX_DEPTH - 1)];
	if (f->probe != probe) {	/* an entry or return was lost (longjmp, exception) */
		__sync_fetch_and_add(&stats[p].missed, 1);
		return;
	}
	record(probe, now - f->start_ns, t->off_ns - f->off_at_entry,
	       t->runq_ns - f->runq_at_entry);
}

SEC("uprobe")
int BPF_KPROBE(rp_lat_entry)
{
	enter((__u32)bpf_get_attach_cookie(ctx), PT_REGS_SP(ctx));
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(rp_lat_return)
{
	leave((__u32)bpf_get_attach_cookie(ctx), PT_REGS_SP(ctx));
	return 0;
}

/* reconperf:reconcile_start(controller, key) — see include/reconperf/usdt.h. */
SEC("usdt")
int BPF_USDT(rp_usdt_start, void *controller, void *key)
{
	enter((__u32)bpf_usdt_cookie(ctx), 0);
	return 0;
}

/* reconperf:reconcile_end(controller, key, result). */
SEC("usdt")
int BPF_USDT(rp_usdt_end, void *controller, void *key, int result)
{
	leave((__u32)bpf_usdt_cookie(ctx), 0);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rp_lat_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 tid = prev->pid;
	struct rp_lat_thread *t = bpf_map_lookup_elem(&threads, &tid);
	__u64 now = bpf_ktime_get_ns();

	if (t && t->depth > 0) {
		t->out_ns = now;
		t->out_runnable = preempt || (prev_state & RP_LAT_STATE_MASK) == 0;
	}
	tid = next->pid;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (t && t->out_ns) {
		__u64 gap = now - t->out_ns;

		t->off_ns += gap;
		if (t->out_runnable)
			t->runq_ns += gap;
		t->out_ns = 0;
	}
	return 0;
}
