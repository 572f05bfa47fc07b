/*
 * latency.h — what latency.bpf.c and its loader latency.c share: limits and the layout of
 * the per-probe statistics kept in the BPF program's .bss (mmapped by the loader, so reading
 * a histogram is a memory copy, not a syscall per bucket).
 *
 * The histogram uses bench/hist.h's layout exactly (HIST_SUB = 2^7 linear sub-buckets per
 * power of two; values below 256 exact), so a kernel bucket index is a hist bucket index
 * and the relative error is the same 1/128 as the bench's in-process histograms.
 *
 * Fixed-width types only; latency.c asserts the sizes.
 *
 * The loader API below (user space only) opens and loads the program, attaches uprobe
 * pairs or USDT pairs (each attachment one "probe" with its own histogram), optionally the
 * sched_switch program for the on/off-CPU split, and reads the counters. Freeing the handle
 * detaches every probe and frees the maps. One thread uses a handle at a time.
 */
#ifndef RECONPERF_BPF_LATENCY_H
#define RECONPERF_BPF_LATENCY_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define RP_LAT_MAX_PROBES 8		/* functions (or USDT pairs) per session */
#define RP_LAT_MAX_DEPTH 32		/* nested/recursive calls tracked per thread */
#define RP_LAT_MAX_THREADS 16384	/* threads with a call in flight or seen */
#define RP_LAT_SUB_BITS 7
#define RP_LAT_SUB (1u << RP_LAT_SUB_BITS)
#define RP_LAT_NBUCKETS ((64 - RP_LAT_SUB_BITS + 1) * RP_LAT_SUB)	/* 7424 */

/* Task states are masked with this before comparing (prev_state carries flag bits such as
 * TASK_REPORT_MAX/0x2000 on recent kernels). 0 after masking = still runnable (preempted). */
#define RP_LAT_STATE_MASK 0xff

struct rp_lat_stats {
	__u64 count;		/* completed calls (entry and return both seen) */
	__u64 sum_ns;		/* wall time of those calls */
	__u64 max_ns;
	__u64 offcpu_ns;	/* off-CPU time inside calls (needs the sched_switch program) */
	__u64 runq_ns;		/* of offcpu_ns: preempted, waiting while runnable */
	__u64 missed;		/* unmatched returns, lost returns, calls deeper than MAX_DEPTH */
	__u64 pad[2];
};

/* One call in flight on a thread. */
struct rp_lat_frame {
	__u64 start_ns;
	__u64 off_at_entry;	/* thread's off_ns when the call began */
	__u64 runq_at_entry;
	__u64 sp;		/* stack pointer at a function's entry; 0 for USDT pairs */
	__u32 probe;
	__u32 pad;
};

struct rp_lat_thread {
	__u32 depth;		/* calls in flight (> MAX_DEPTH: frames not kept) */
	__u32 out_runnable;	/* switched out while runnable (preempted) */
	__u64 out_ns;		/* when it was switched out, 0 while on a CPU */
	__u64 off_ns;		/* total off-CPU time while depth > 0 */
	__u64 runq_ns;		/* of off_ns, while runnable */
	struct rp_lat_frame frames[RP_LAT_MAX_DEPTH];
};

#ifndef __bpf__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hist;
struct bpf_lat;

struct bpf_lat_opts {
	const char *btf_path;	/* kernel BTF; NULL: /sys/kernel/btf/vmlinux */
	bool offcpu;		/* attach tp_btf/sched_switch for the on/off-CPU split */
};

struct bpf_lat_totals {
	uint64_t count, sum_ns, max_ns;
	uint64_t offcpu_ns;	/* off-CPU inside calls (0 unless opts.offcpu) */
	uint64_t runq_ns;	/* of offcpu_ns: preempted while runnable */
	uint64_t missed;	/* returns without entries, calls deeper than MAX_DEPTH */
};

/*
 * Opens and loads the program. Errors: -ENOENT no kernel BTF at the path; -EPERM missing
 * privilege (CAP_BPF + CAP_PERFMON, or root); -EOPNOTSUPP a kernel that cannot load it
 * (e.g. no BPF cookies, no tp_btf with offcpu); others from libbpf.
 */
int bpf_lat_open(const struct bpf_lat_opts *opts, struct bpf_lat **out);
/* uprobe at path+offset and uretprobe at its returns, for process pid (-1: all). */
int bpf_lat_attach_func(struct bpf_lat *l, pid_t pid, const char *path, uint64_t offset,
			int *probe);
/* USDT provider:start_name ... provider:end_name pair in path, for pid (-1: all). */
int bpf_lat_attach_usdt(struct bpf_lat *l, pid_t pid, const char *path, const char *provider,
			const char *start_name, const char *end_name, int *probe);
/* Adds the probe's latencies so far into dst (may be NULL) and fills *t (may be NULL). */
int bpf_lat_read(const struct bpf_lat *l, int probe, struct hist *dst, struct bpf_lat_totals *t);
void bpf_lat_free(struct bpf_lat *l);
/* A message for an error of bpf_lat_open/attach, naming what is missing. */
const char *bpf_lat_strerror(int err);

/*
 * The bench's `--probe`: reconcile latency measured by the kernel from the USDT probes in
 * include/reconperf/usdt.h of `binary` (NULL: this executable) in process pid (0: this one).
 * _read adds all reconciles so far into dst; _stop detaches and frees (NULL is fine).
 */
struct bpf_usdt_latency;
int bpf_usdt_latency_start(pid_t pid, const char *binary, struct bpf_usdt_latency **out);
int bpf_usdt_latency_read(struct bpf_usdt_latency *u, struct hist *dst);
void bpf_usdt_latency_stop(struct bpf_usdt_latency *u);
#endif

#endif
