/* bpfcommon — pre-load checks and error causes for the eBPF loaders. See bpfcommon.h. */
#include "profiler/bpf/bpfcommon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static void setup_print(void)
{
	const char *dbg = getenv("RECONPERF_BPF_DEBUG");

	if (!(dbg && *dbg && strcmp(dbg, "0")))
		libbpf_set_print(quiet_print);
}

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

int rp_bpf_check(const char *btf)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	pthread_once(&once, setup_print);
	if (access(btf ? btf : RP_BPF_DEFAULT_BTF, R_OK))
		return -ENOENT;
	if (syscall(SYS_capget, &hdr, d))
		return -errno;
	if (has_cap(d, CAP_SYS_ADMIN))
		return 0;
	if (!has_cap(d, CAP_BPF) || !has_cap(d, CAP_PERFMON))
		return -EPERM;
	return 0;
}

int rp_bpf_cpu_clock(int cpu, uint64_t every, bool freq)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = every,	/* a union with sample_freq */
		.freq = freq,
	};
	int fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int rp_bpf_classify(int err)
{
	return err == -EACCES ? -EPERM : err;
}

const char *rp_bpf_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no kernel BTF (needs CONFIG_DEBUG_INFO_BTF, /sys/kernel/btf/vmlinux, "
		       "or --btf FILE)";
	case -EPERM:
		return "not permitted: loading eBPF programs needs CAP_BPF and CAP_PERFMON "
		       "(or CAP_SYS_ADMIN / root)";
	case -EOPNOTSUPP:
		return "the kernel refused the program or attachment (needs uprobes, BPF "
		       "cookies and tp_btf: Linux >= 5.15 with BTF)";
	case -E2BIG:
		return "too many probes in one session";
	default:
		return strerror(-err);
	}
}
