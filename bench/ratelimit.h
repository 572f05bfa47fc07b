/*
 * ratelimit — client-go's workqueue rate limiters (k8s.io/client-go/util/workqueue).
 *
 * RL_EXPONENTIAL is ItemExponentialFailureRateLimiter: the n-th When() of a key (n counted
 * from 0 since its last Forget) returns base * 2^n, capped at max (and at max when the
 * product overflows int64 nanoseconds, as Go does). RL_BUCKET is BucketRateLimiter over
 * golang.org/x/time/rate: a bucket of `burst` tokens refilled at `qps`, starting full; every
 * When() reserves one token (even when the caller then drops the item), and returns how
 * long until that token exists. RL_DEFAULT is DefaultControllerRateLimiter(): the max of
 * both, each called on every When(), so a startup storm of 10,000 keys drains the bucket
 * to -9,900 tokens and the last key waits 990 s. RL_NONE always returns 0.
 *
 * Forget() and NumRequeues() touch only the per-key failure count.
 *
 * Zero option fields take client-go's defaults: base 5 ms, max 1000 s, qps 10, burst 100.
 * qps may be INFINITY (a bucket that never delays).
 *
 * Threading: every call may come from any thread (one internal mutex). rl_forget() of a
 * key that never failed is lock-free when no key has failures (the common success path).
 */
#ifndef RECONPERF_RATELIMIT_H
#define RECONPERF_RATELIMIT_H

#include <stdint.h>

enum rl_kind {
	RL_DEFAULT,		/* max(exponential, bucket) */
	RL_EXPONENTIAL,
	RL_BUCKET,
	RL_NONE,
};

struct rl_opts {
	enum rl_kind kind;
	uint64_t base_delay_ns;	/* 0 = 5 ms */
	uint64_t max_delay_ns;	/* 0 = 1000 s */
	double qps;		/* 0 = 10 */
	uint32_t burst;		/* 0 = 100 */
};

#define RL_DEFAULT_BASE_NS 5000000ull
#define RL_DEFAULT_MAX_NS 1000000000000ull
#define RL_DEFAULT_QPS 10.0
#define RL_DEFAULT_BURST 100u

struct rl;

/* NULL with errno EINVAL (bad kind, negative or NaN qps, base > max) or ENOMEM. */
struct rl *rl_new(const struct rl_opts *o);
void rl_free(struct rl *r);

/* The delay in ns before key should be retried, for a failure at now_ns (any monotonic ns
 * clock; the bucket treats a clock going backwards as no time passing). */
uint64_t rl_when(struct rl *r, uint64_t key, uint64_t now_ns);
void rl_forget(struct rl *r, uint64_t key);
uint32_t rl_num_requeues(struct rl *r, uint64_t key);

/* The options after defaults were applied. */
void rl_get_opts(const struct rl *r, struct rl_opts *o);

#endif
