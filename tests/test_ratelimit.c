#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

#include "bench/ratelimit.h"

#define MS 1000000ull
#define SEC 1000000000ull

static struct rl *mk(enum rl_kind kind)
{
	struct rl *r = rl_new(&(struct rl_opts){ .kind = kind });

	cr_assert_not_null(r);
	return r;
}

/* client-go ItemExponentialFailureRateLimiter: base * 2^n, n = failures before this call. */
static uint64_t exp_formula(uint64_t base, uint64_t max, unsigned n)
{
	if (n >= 63 || base > (UINT64_MAX >> n))
		return max;
	uint64_t v = base << n;

	return v > max ? max : v;
}

Test(ratelimit, defaults_are_client_go_defaults)
{
	struct rl *r = mk(RL_DEFAULT);
	struct rl_opts o;

	rl_get_opts(r, &o);
	cr_assert_eq(o.base_delay_ns, 5 * MS);
	cr_assert_eq(o.max_delay_ns, 1000 * SEC);
	cr_assert_float_eq(o.qps, 10.0, 1e-12);
	cr_assert_eq(o.burst, 100);
	rl_free(r);
}

Test(ratelimit, exponential_doubles_from_base_and_caps_at_max)
{
	struct rl *r = mk(RL_EXPONENTIAL);

	for (unsigned n = 0; n < 100; n++) {
		uint64_t d = rl_when(r, 7, 0);

		cr_assert_eq(d, exp_formula(5 * MS, 1000 * SEC, n), "failure %u: %llu", n,
			     (unsigned long long)d);
	}
	/* 5ms * 2^17 = 655 s is the last uncapped step; 2^18 passes 1000 s. */
	cr_assert_eq(exp_formula(5 * MS, 1000 * SEC, 17), 655360 * MS);
	cr_assert_eq(exp_formula(5 * MS, 1000 * SEC, 18), 1000 * SEC);
	cr_assert_eq(rl_num_requeues(r, 7), 100);
	rl_free(r);
}

Test(ratelimit, custom_base_and_max_follow_the_same_formula)
{
	struct rl *r = rl_new(&(struct rl_opts){ .kind = RL_EXPONENTIAL, .base_delay_ns = 3 * MS,
						  .max_delay_ns = 100 * MS });

	cr_assert_not_null(r);
	for (unsigned n = 0; n < 10; n++)
		cr_assert_eq(rl_when(r, 1, 0), exp_formula(3 * MS, 100 * MS, n));
	rl_free(r);
}

Test(ratelimit, forget_resets_only_that_keys_failures)
{
	struct rl *r = mk(RL_EXPONENTIAL);

	for (int i = 0; i < 3; i++) {
		rl_when(r, 1, 0);
		rl_when(r, 2, 0);
	}
	cr_assert_eq(rl_num_requeues(r, 1), 3);
	rl_forget(r, 1);
	cr_assert_eq(rl_num_requeues(r, 1), 0);
	cr_assert_eq(rl_num_requeues(r, 2), 3);
	cr_assert_eq(rl_when(r, 1, 0), 5 * MS);
	cr_assert_eq(rl_when(r, 2, 0), 40 * MS);
	rl_forget(r, 99);	/* never failed: no effect */
	cr_assert_eq(rl_num_requeues(r, 2), 4);
	rl_free(r);
}

/* rate.Limiter(qps, burst): starts full; the k-th call (k from 1) at one instant waits
 * (k - burst) / qps seconds once the burst is spent. */
Test(ratelimit, bucket_starts_full_then_spaces_calls_at_qps)
{
	struct rl *r = mk(RL_BUCKET);

	for (int k = 1; k <= 100; k++)
		cr_assert_eq(rl_when(r, (uint64_t)k, 1000 * SEC), 0, "call %d", k);
	for (int k = 101; k <= 400; k++) {
		uint64_t d = rl_when(r, (uint64_t)k, 1000 * SEC);
		uint64_t want = (uint64_t)(k - 100) * 100 * MS;

		cr_assert(d + 1 >= want && d <= want, "call %d: %llu, want %llu", k,
			  (unsigned long long)d, (unsigned long long)want);
	}
	cr_assert_eq(rl_num_requeues(r, 150), 0, "the bucket counts no failures");
	rl_free(r);
}

Test(ratelimit, bucket_refills_with_time_up_to_burst_only)
{
	struct rl *r = mk(RL_BUCKET);
	uint64_t t0 = 50 * SEC;

	for (int k = 0; k < 200; k++)
		rl_when(r, 1, t0);	/* tokens: 100 - 200 = -100 */
	/* 5 s later: -100 + 50 = -50, minus this call's token: wait 5.1 s. */
	cr_assert_eq(rl_when(r, 1, t0 + 5 * SEC), 5100 * MS);
	/* An hour idle refills to burst, not beyond: 100 free calls, then 100 ms. */
	uint64_t t1 = t0 + 3600 * SEC;

	for (int k = 0; k < 100; k++)
		cr_assert_eq(rl_when(r, 1, t1), 0);
	cr_assert_eq(rl_when(r, 1, t1), 100 * MS);
	rl_free(r);
}

Test(ratelimit, bucket_treats_a_clock_going_back_as_no_time_passing)
{
	struct rl *r = mk(RL_BUCKET);

	for (int k = 0; k < 100; k++)
		rl_when(r, 1, 10 * SEC);
	cr_assert_eq(rl_when(r, 1, 9 * SEC), 100 * MS);
	cr_assert_eq(rl_when(r, 1, 9 * SEC), 200 * MS);
	rl_free(r);
}

/* kubernetes#104554: DefaultControllerRateLimiter reserves a bucket token on every When(),
 * so a storm of 10,000 distinct failing keys ends 990 s (16.5 min) later. */
Test(ratelimit, ten_thousand_failures_at_once_end_with_a_16_minute_tail)
{
	struct rl *r = mk(RL_DEFAULT);
	uint64_t last = 0;

	for (uint64_t k = 1; k <= 10000; k++) {
		uint64_t d = rl_when(r, k, 0);
		uint64_t bucket = k > 100 ? (k - 100) * 100 * MS : 0;
		uint64_t want = bucket > 5 * MS ? bucket : 5 * MS;

		cr_assert(d + 1 >= want && d <= want, "key %llu: %llu want %llu",
			  (unsigned long long)k, (unsigned long long)d, (unsigned long long)want);
		last = d;
	}
	cr_assert_eq(last, 990 * SEC);
	rl_free(r);
}

Test(ratelimit, default_takes_the_max_and_counts_failures)
{
	struct rl *r = mk(RL_DEFAULT);

	/* One key failing: the exponential term wins once it passes the bucket's. */
	for (unsigned n = 0; n < 20; n++)
		cr_assert_eq(rl_when(r, 42, n * 2000 * SEC), exp_formula(5 * MS, 1000 * SEC, n));
	cr_assert_eq(rl_num_requeues(r, 42), 20);
	rl_forget(r, 42);
	cr_assert_eq(rl_num_requeues(r, 42), 0);
	rl_free(r);
}

Test(ratelimit, none_never_delays)
{
	struct rl *r = mk(RL_NONE);

	for (int i = 0; i < 1000; i++)
		cr_assert_eq(rl_when(r, 1, 0), 0);
	cr_assert_eq(rl_num_requeues(r, 1), 0);
	rl_free(r);
}

Test(ratelimit, infinite_qps_bucket_never_delays)
{
	struct rl *r = rl_new(&(struct rl_opts){ .kind = RL_BUCKET, .qps = INFINITY });

	cr_assert_not_null(r);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(rl_when(r, 1, 0), 0);
	rl_free(r);
}

Test(ratelimit, bad_options_are_rejected)
{
	errno = 0;
	cr_assert_null(rl_new(&(struct rl_opts){ .qps = -1 }));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rl_new(&(struct rl_opts){ .qps = NAN }));
	cr_assert_null(rl_new(&(struct rl_opts){ .kind = (enum rl_kind)9 }));
	cr_assert_null(rl_new(&(struct rl_opts){ .base_delay_ns = 10 * SEC,
						.max_delay_ns = 1 * SEC }));
	rl_free(NULL);
}

Test(ratelimit, many_keys_keep_separate_counts)
{
	struct rl *r = mk(RL_EXPONENTIAL);

	for (uint64_t k = 0; k < 50000; k++)
		for (uint64_t j = 0; j <= k % 3; j++)
			rl_when(r, k * 0x10001, 0);
	for (uint64_t k = 0; k < 50000; k += 2)
		rl_forget(r, k * 0x10001);
	for (uint64_t k = 0; k < 50000; k++)
		cr_assert_eq(rl_num_requeues(r, k * 0x10001), k % 2 ? k % 3 + 1 : 0, "key %llu",
			     (unsigned long long)k);
	rl_free(r);
}
