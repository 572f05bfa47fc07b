/*
 * fastclock — TSC-based CLOCK_MONOTONIC nanoseconds (see fastclock.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fastclock.h"

struct fastclock_state fastclock_g;
static pthread_once_t fastclock_once = PTHREAD_ONCE_INIT;

uint64_t fastclock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
static int kernel_uses_tsc(void)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	char buf[32] = "";
	int ok;

	if (!f)
		return 0;
	ok = fgets(buf, sizeof(buf), f) && !strcmp(buf, "tsc\n");
	fclose(f);
	return ok;
}

/* One (tsc, ns) pair: the ns read bracketed by two TSC reads, keeping the tightest of a few
 * tries so a preemption between the reads does not skew the pair. */
static void sample(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		uint64_t a = __rdtsc(), n = fastclock_mono_ns(), b = __rdtsc();

		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = n;
		}
	}
}

static void calibrate(void)
{
	const char *env = getenv("RECONPERF_CLOCK");
	uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;

	if ((env && !strcmp(env, "mono")) || !kernel_uses_tsc()) {
		atomic_store(&fastclock_g.mode, 2);
		return;
	}
	sample(&t0, &n0);
	do
		sample(&t1, &n1);
	while (n1 - n0 < 2000000);
	if (t1 <= t0) {
		atomic_store(&fastclock_g.mode, 2);
		return;
	}
	fastclock_g.mult = (uint64_t)(((unsigned __int128)(n1 - n0) << 32) / (t1 - t0));
	fastclock_g.tsc0 = t1;
	fastclock_g.ns0 = n1;
	atomic_store_explicit(&fastclock_g.mode, 1, memory_order_release);
}
#else
static void calibrate(void)
{
	atomic_store(&fastclock_g.mode, 2);
}
#endif

uint64_t fastclock_slow(void)
{
	if (!atomic_load_explicit(&fastclock_g.mode, memory_order_acquire)) {
		pthread_once(&fastclock_once, calibrate);
		if (atomic_load_explicit(&fastclock_g.mode, memory_order_acquire) == 1)
			return fastclock_ns();
	}
	return fastclock_mono_ns();
}

uint64_t fastclock_to_mono(uint64_t t)
{
	uint64_t now = fastclock_ns(), mono = fastclock_mono_ns();

	return t > now ? mono + (t - now) : mono;
}

int fastclock_uses_tsc(void)
{
	fastclock_ns();
	return atomic_load(&fastclock_g.mode) == 1;
}
