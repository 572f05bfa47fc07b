/*
 * Tests of the USDT probes (include/reconperf/usdt.h) and the loader API the bench's
 * `--probe` uses (bpf_usdt_latency_*): this test process marks reconciles and the kernel
 * times them. Needs root, as CI runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "profiler/bpf/latency.h"
#include "reconperf/usdt.h"
#include "tests/util.h"
#include "tests/bpf_test.h"


static void reconcile(const char *key, long us)
{
	struct timespec ts = { 0, us * 1000 };

	RP_USDT_RECONCILE_START("test", key);
	nanosleep(&ts, NULL);
	RP_USDT_RECONCILE_END("test", key, 0);
}

Test(bpf_usdt, header_emits_probes_when_sdt_is_available)
{
	cr_assert_eq(RP_USDT_ENABLED, 1, "systemtap-sdt-dev is a build dependency");
}

Test(bpf_usdt, kernel_times_every_reconcile_of_this_process)
{
	struct bpf_usdt_latency *u = NULL;
	struct hist *h = hist_new();
	char key[32];
	int err;

	need_bpf();
	reconcile("before", 100);	/* not counted: nothing attached yet */
	err = bpf_usdt_latency_start(0, NULL, &u);
	cr_assert_eq(err, 0, "start: %s", bpf_lat_strerror(err));
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "default/obj-%d", i);
		reconcile(key, 2000);
	}
	cr_assert_eq(bpf_usdt_latency_read(u, h), 0);
	bpf_usdt_latency_stop(u);
	reconcile("after", 100);	/* detached: not counted */
	cr_assert_eq(hist_count(h), 40);
	/* Each reconcile sleeps 2 ms: never less, and the median not far above. */
	cr_assert(hist_min(h) >= 2000000 * (1 - hist_rel_error()), "min %llu",
		  (unsigned long long)hist_min(h));
	cr_assert(hist_percentile(h, 50) < 2000000 * 3, "p50 %llu",
		  (unsigned long long)hist_percentile(h, 50));
	hist_free(h);
}

Test(bpf_usdt, stop_accepts_null)
{
	bpf_usdt_latency_stop(NULL);
}
