/*
 * fastclock — CLOCK_MONOTONIC nanoseconds for hot paths, read from the TSC when that is
 * safe (x86-64, and the kernel itself uses the TSC as its clocksource, so the counter is
 * invariant and synchronised across CPUs); clock_gettime(CLOCK_MONOTONIC) otherwise.
 *
 * On this project's 2-vCPU KVM guest clock_gettime costs ~30 ns and rdtsc ~12 ns: the
 * workqueue reads the clock three times per item, so it matters. The TSC is mapped to
 * nanoseconds by a rate calibrated once per process against CLOCK_MONOTONIC over ~2 ms
 * (first call), anchored at that moment: values track CLOCK_MONOTONIC within the
 * calibration error (about 1e-5, i.e. ~10 us per second elapsed). Callers that hand a
 * deadline to the kernel convert a relative delay (fastclock_to_mono()).
 *
 * RECONPERF_CLOCK=mono in the environment forces clock_gettime.
 *
 * Threading: any thread; the first call calibrates under pthread_once.
 */
#ifndef RECONPERF_FASTCLOCK_H
#define RECONPERF_FASTCLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

struct fastclock_state {
	atomic_int mode;	/* 0 = not calibrated, 1 = TSC, 2 = clock_gettime */
	uint64_t tsc0, ns0;
	uint64_t mult;		/* ns per tick << 32 */
};

extern struct fastclock_state fastclock_g;

uint64_t fastclock_slow(void);
uint64_t fastclock_mono_ns(void);	/* clock_gettime(CLOCK_MONOTONIC) in ns */
/* The CLOCK_MONOTONIC time at which the fastclock will read t (for timed waits). */
uint64_t fastclock_to_mono(uint64_t t);
/* 1 when the TSC is used (after the first call), 0 otherwise. */
int fastclock_uses_tsc(void);

/* Hot path: no syscall, no lock. */
static inline uint64_t fastclock_ns(void)
{
#if defined(__x86_64__)
	if (atomic_load_explicit(&fastclock_g.mode, memory_order_acquire) == 1) {
		uint64_t d = __rdtsc() - fastclock_g.tsc0;

		return fastclock_g.ns0 + (uint64_t)(((unsigned __int128)d * fastclock_g.mult) >> 32);
	}
#endif
	return fastclock_slow();
}

#endif
