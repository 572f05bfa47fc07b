/*
 * bpfcommon — what every eBPF loader in profiler/bpf/ shares: the checks made before
 * loading (kernel BTF present, privilege held) so a failure names what is missing, the
 * mapping of libbpf/kernel errors to those causes, and silencing libbpf's own printing
 * (set RECONPERF_BPF_DEBUG=1 to see it on stderr).
 *
 * Errors: -ENOENT no BTF; -EPERM no CAP_BPF+CAP_PERFMON (nor CAP_SYS_ADMIN);
 * -EOPNOTSUPP a kernel feature missing. Any thread.
 */
#ifndef RECONPERF_BPFCOMMON_H
#define RECONPERF_BPFCOMMON_H

#include <stdbool.h>
#include <stdint.h>

#define RP_BPF_DEFAULT_BTF "/sys/kernel/btf/vmlinux"

/* Checks that btf (NULL: the default) is readable and that we hold the capabilities. */
int rp_bpf_check(const char *btf);
/*
 * A cpu-clock perf event on cpu (for all processes: needs CAP_PERFMON), sampling every
 * `every` ns, or `every` times a second when freq; its descriptor, or -errno (-ENODEV and
 * -ENOENT for a possible but offline CPU).
 */
int rp_bpf_cpu_clock(int cpu, uint64_t every, bool freq);
/* Normalises an error from libbpf (EACCES from the verifier on privilege, ...). */
int rp_bpf_classify(int err);
/* What is missing, for the three causes above; strerror otherwise. */
const char *rp_bpf_strerror(int err);

#endif
