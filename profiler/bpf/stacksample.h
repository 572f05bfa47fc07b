/*
 * stacksample.h — what stacksample.bpf.c and its loader (profiler/sampler_bpf.c) share: the
 * sampler's "bpf-stack" engine, where the kernel takes the sample itself (no signal) and a
 * collector thread unwinds the copied stack (profiler/unwind_snap.h).
 *
 * Fixed-width types only; sampler_bpf.c asserts the sizes.
 */
#ifndef RECONPERF_BPF_STACKSAMPLE_H
#define RECONPERF_BPF_STACKSAMPLE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define RP_SS_STACK_MAX 65536	/* the most bytes of user stack a sample copies, from %rsp up */
#define RP_SS_STACK_MIN 4096
#define RP_SS_STACK_DEFAULT 32768	/* what it copies unless told (the program's .rodata) */
#define RP_SS_LABEL_WORDS 8	/* the thread's label pairs (SAMPLER_MAX_LABELS x 2 pointers) */
#define RP_SS_RING_BYTES (4u << 20)
#define RP_SS_WAKE_BYTES (RP_SS_RING_BYTES / 8)	/* wake the collector past this much */

/* A registered thread, keyed by its id in the sampler's pid namespace. */
struct rp_ss_thread {
	__u64 labels;		/* user address of its label pairs, 0 if unknown */
	__u64 stack_hi;		/* the top of its stack (exclusive), 0 if unknown */
};

/* One sample in the ring: this header, then len bytes of stack from sp. */
struct rp_ss_rec {
	__u32 tid;
	__u32 len;
	__u64 ip, sp, bp;
	__u64 labels[RP_SS_LABEL_WORDS];
};

#endif
