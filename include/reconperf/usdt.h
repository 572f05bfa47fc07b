/*
 * usdt — USDT (statically defined tracing) probes around each reconcile, for eBPF tools.
 *
 * RP_USDT_RECONCILE_START(controller, key) and RP_USDT_RECONCILE_END(controller, key, result)
 * put a `nop` and an ELF note (.note.stapsdt, provider "reconperf", probes
 * "reconcile_start" / "reconcile_end") at the call site. Untraced, the cost is one nop;
 * traced, the kernel turns the nop into a uprobe (about 0.2 us per hit on x86-64) and the
 * arguments are read by the BPF program from registers or memory as the note says.
 *
 *   controller  const char *, NUL-terminated (e.g. "replicaset")
 *   key         const char *, NUL-terminated (e.g. "default/web-1")
 *   result      int: 0 success, 1 error, 2 requeue, 3 requeue_after (enum bench_result)
 *
 * The pointers must stay valid for the duration of the probe (a traced probe copies the
 * strings, it does not keep them). `readelf -n BINARY` lists the notes; `reconperf bench
 * --probe` and bpftrace (`usdt:BINARY:reconperf:reconcile_end`) attach to them.
 *
 * Define RP_NO_USDT before including to compile the probes out (for a platform without
 * <sys/sdt.h>). Any thread may hit a probe; the macros have no state.
 */
#ifndef RECONPERF_USDT_H
#define RECONPERF_USDT_H

#if !defined(RP_NO_USDT) && defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define RP_USDT_ENABLED 1
#endif
#endif

#ifdef RP_USDT_ENABLED
#define RP_USDT_PROVIDER reconperf
#define RP_USDT_RECONCILE_START(controller, key) \
	STAP_PROBE2(reconperf, reconcile_start, (const char *)(controller), (const char *)(key))
#define RP_USDT_RECONCILE_END(controller, key, result) \
	STAP_PROBE3(reconperf, reconcile_end, (const char *)(controller), (const char *)(key), \
		    (int)(result))
#else
#define RP_USDT_ENABLED 0
#define RP_USDT_RECONCILE_START(controller, key) \
	do { (void)(controller); (void)(key); } while (0)
#define RP_USDT_RECONCILE_END(controller, key, result) \
	do { (void)(controller); (void)(key); (void)(result); } while (0)
#endif

#endif
