/*
 * Test helper for tests/fixtures/threadmix (a computing thread, then two threads handing a
 * byte to each other across CPUs; it prints each thread's own CPU time): asserts that each
 * thread's cumulative share of a CPU profile's cpu values is its share of the CPU time,
 * +-3 points. Header-only, for the tests of record and of profile.
 */
#ifndef RECONPERF_TESTS_THREADMIX_H
#define RECONPERF_TESTS_THREADMIX_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "profiler/pprof.h"
#include "tests/gopprof.h"

/*
 * out: the fixture's standard output; path: its profile; top: `go tool pprof -top -cum`
 * of it. The profile's comment must say cpu_weights=thread-cpu.
 */
static inline void threadmix_assert_shares(const char *out, const char *path, const char *top)
{
	static const char *const fns[] = { "spin_thread", "ping_thread", "pong_thread" };
	double cpu[3], main_cpu, got[3], flat, sum_cpu = 0, sum_got = 0;
	struct pprof_profile *p;
	char err[256];

	cr_assert_eq(sscanf(out, "spin=%lf ping=%lf pong=%lf main=%lf", &cpu[0], &cpu[1],
			    &cpu[2], &main_cpu), 4, "threadmix printed: %s", out);
	cr_assert_eq(pprof_read_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert(p->ncomments && strstr(p->comments[0], "cpu_weights=thread-cpu"), "%s",
		  p->ncomments ? p->comments[0] : "no comment");
	pprof_free(p);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(gopprof_top_row(top, fns[i], &flat, &got[i]), 0, "no %s in:\n%s",
			     fns[i], top);
		sum_cpu += cpu[i];
		sum_got += got[i];
	}
	cr_assert_gt(sum_got, 90, "the threads' stacks hold %.1f%% of the profile:\n%s", sum_got,
		     top);
	for (int i = 0; i < 3; i++) {
		double want = 100 * cpu[i] / sum_cpu, have = 100 * got[i] / sum_got;

		cr_assert(have > want - 3 && have < want + 3,
			  "%s: %.1f%% of the threads' cpu values for %.1f%% of their CPU time "
			  "(spin %.3f ping %.3f pong %.3f s)\n%s", fns[i], have, want, cpu[0],
			  cpu[1], cpu[2], top);
	}
}

#endif
