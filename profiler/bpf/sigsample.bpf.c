// SPDX-License-Identifier: GPL-2.0
/*
 * sigsample.bpf.c — the kernel half of the sampler's "bpf-cpu-clock" engine
 * (profiler/sampler_bpf.h): attached to one cpu-clock perf event per CPU, it runs at every
 * period of that CPU's clock and, when the interrupted task is a thread the sampler
 * registered in `tids`, sends it the sample signal (bpf_send_signal_thread: the interrupted
 * thread, delivered on its way back to user mode, where the handler unwinds it).
 */
/*
 * The UAPI headers, not vmlinux.h: its types carry preserve_access_index, which would make
 * the field reads below CO-RE relocations and have libbpf parse the kernel's BTF at every
 * start (~60 ms of CPU in the profiled program). Nothing here depends on kernel internals.
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* ids as the sampled process sees them: in its pid namespace (a container's, say) */
const volatile __u32 target_tgid;
const volatile __u64 pidns_dev, pidns_ino;
const volatile __u32 signo;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* SAMPLER_MAX_THREADS */
	__type(key, __u32);
	__type(value, __u32);
} tids SEC(".maps");

__u64 sent, failed;

SEC("perf_event")
int rp_sigsample(struct bpf_perf_event_data *ctx)
{
	struct bpf_pidns_info ns;
	__u32 tid;

	(void)ctx;
	/* fails when the interrupted task is not in that namespace */
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target_tgid)
		return 0;
	tid = ns.pid;
	if (!bpf_map_lookup_elem(&tids, &tid))
		return 0;
	/* -EBUSY: this CPU's signal work is still queued from the last period */
	if (bpf_send_signal_thread(signo))
		__sync_fetch_and_add(&failed, 1);
	else
		__sync_fetch_and_add(&sent, 1);
	return 0;
}
