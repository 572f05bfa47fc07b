/*
 * What the eBPF tests share: skip only when eBPF truly cannot run here (not root, no BTF;
 * CI runs as root with BTF, so there they run), and the path of the fixture program.
 */
#ifndef RECONPERF_TESTS_BPF_TEST_H
#define RECONPERF_TESTS_BPF_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/util.h"

static char bpf_fixture[4096];

/* Whether eBPF programs can be loaded here (the sampler's AUTO engine depends on it too). */
static inline bool bpf_can_run(void)
{
	return geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

static inline void need_bpf(void)
{
	if (geteuid() != 0)
		cr_skip_test("eBPF tests need root (CAP_BPF + CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no kernel BTF at /sys/kernel/btf/vmlinux");
	snprintf(bpf_fixture, sizeof(bpf_fixture), "%s/tests/fixtures/bpf_mix", rp_build());
	cr_assert(access(bpf_fixture, X_OK) == 0, "fixture %s not built", bpf_fixture);
}

#endif
