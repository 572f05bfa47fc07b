/*
 * ucopy.h — the user-stack copy that both eBPF stack samplers make (stacksample.bpf.c, the
 * in-process bpf-stack engine; profile.bpf.c, `reconperf profile`'s DWARF mode): up to cap
 * bytes from sp, in one read when the whole window is mapped, else page by page up to the
 * first page that cannot be read (a stack whose top we do not know). BPF programs only.
 */
#ifndef RECONPERF_BPF_UCOPY_H
#define RECONPERF_BPF_UCOPY_H

#include "profiler/bpf/stacksample.h"

/*
 * dst must hold RP_SS_STACK_MAX + 4096 bytes (the slack is what the verifier can prove
 * of the page-by-page reads). hi: the stack's top, 0 if unknown. *paged is set when the
 * single read failed. Returns the bytes copied.
 */
static __always_inline __u64 rp_ucopy(__u8 *dst, __u64 sp, __u64 hi, __u64 cap, int *paged)
{
	__u64 len, got = 0, chunk = 4096 - (sp & 4095);

	if (cap > RP_SS_STACK_MAX)
		cap = RP_SS_STACK_MAX;
	len = cap;
	if (hi > sp && hi - sp < len)
		len = hi - sp;
	*paged = 0;
	if (!bpf_probe_read_user(dst, len, (void *)sp))
		return len;
	*paged = 1;
	for (int i = 0; i < RP_SS_STACK_MAX / 4096 + 1; i++) {
		if (got >= cap)
			break;
		if (chunk > cap - got)
			chunk = cap - got;
		if (bpf_probe_read_user(dst + (got & (RP_SS_STACK_MAX - 1)),
					chunk & 4095 ? chunk & 4095 : 4096, (void *)(sp + got)))
			break;
		got += chunk;
		chunk = 4096;
	}
	return got;
}

#endif
