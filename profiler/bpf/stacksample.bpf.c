// SPDX-License-Identifier: GPL-2.0
/*
 * stacksample.bpf.c — the kernel half of the sampler's "bpf-stack" engine: attached to one
 * cpu-clock perf event per CPU, it runs at every period of that CPU's clock and, when the
 * interrupted task is a thread the sampler registered in `tids`, copies the thread's user
 * registers, the top of its user stack and its label pointers into a ring buffer. No signal
 * is sent: the sample costs the timer interrupt and this copy, and the unwinding happens
 * later in the sampler's collector thread (see stacksample.h).
 *
 * UAPI headers, not vmlinux.h, so that loading needs no CO-RE relocation (see
 * sigsample.bpf.c): struct pt_regs is the x86-64 ABI's, the same in the UAPI header.
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>

#include "profiler/bpf/stacksample.h"
#include "profiler/bpf/ucopy.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid;
const volatile __u64 pidns_dev, pidns_ino;
const volatile __u32 stack_copy = RP_SS_STACK_DEFAULT;	/* bytes copied at most */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* SAMPLER_MAX_THREADS */
	__type(key, __u32);
	__type(value, struct rp_ss_thread);
} tids SEC(".maps");

struct scratch {
	struct rp_ss_rec r;
	__u8 stack[RP_SS_STACK_MAX + 4096];	/* the slack: what the verifier can prove */
};

/*
 * One slot per CPU (the loader sets max_entries to the number of possible CPUs), indexed by
 * the CPU the program runs on: a per-CPU array's value may not exceed 32 KiB. The program
 * cannot be re-entered on its CPU (one perf_event program at a time per CPU).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RP_SS_RING_BYTES);
} ring SEC(".maps");

__u64 taken, lost, short_copy;

SEC("perf_event")
int rp_stacksample(struct bpf_perf_event_data *ctx)
{
	struct bpf_pidns_info ns;
	struct rp_ss_thread *th;
	struct scratch *s;
	struct pt_regs regs;
	__u32 tid, cpu = bpf_get_smp_processor_id();
	__u64 len, flags;
	int paged;

	(void)ctx;
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target_tgid)
		return 0;
	tid = ns.pid;
	th = bpf_map_lookup_elem(&tids, &tid);
	s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!th || !s)
		return 0;
	/* the user registers: saved at the entry to the kernel, whether the clock interrupted
	 * user code (the interrupt's entry) or a system call (the call's entry) */
	if (bpf_probe_read_kernel(&regs, sizeof(regs),
				  (void *)bpf_task_pt_regs(bpf_get_current_task_btf())))
		return 0;
	s->r.tid = tid;
	s->r.ip = regs.rip;
	s->r.sp = regs.rsp;
	s->r.bp = regs.rbp;
	len = rp_ucopy(s->stack, regs.rsp, th->stack_hi, stack_copy, &paged);
	if (paged)	/* the stack's top unknown (a thread running before the start) */
		__sync_fetch_and_add(&short_copy, 1);
	s->r.len = (__u32)len;
	if (!th->labels ||
	    bpf_probe_read_user(s->r.labels, sizeof(s->r.labels), (void *)th->labels))
		__builtin_memset(s->r.labels, 0, sizeof(s->r.labels));
	flags = bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) >= RP_SS_WAKE_BYTES ?
			BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (len > RP_SS_STACK_MAX)
		return 0;
	if (bpf_ringbuf_output(&ring, s, sizeof(s->r) + len, flags))
		__sync_fetch_and_add(&lost, 1);
	else
		__sync_fetch_and_add(&taken, 1);
	return 0;
}
