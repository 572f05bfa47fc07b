/*
 * ratelimit — client-go's workqueue rate limiters (see ratelimit.h).
 *
 * The bucket follows golang.org/x/time/rate's reserveN(): advance the token count by the
 * elapsed time (capped at burst), take one token, and when the count went negative the
 * wait is -tokens / qps seconds. A reservation always succeeds (Reserve() has an infinite
 * maxFutureReserve), so tokens can go far below zero: that is the long tail of kubernetes
 * issue 104554, reproduced on purpose.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "bench/keymap.h"
#include "bench/ratelimit.h"

struct rl {
	struct rl_opts o;
	pthread_mutex_t mu;
	struct keymap failures;		/* key -> failures since Forget (never 0 in the map) */
	atomic_uint_fast32_t nfailing;	/* failures.n, readable without the lock */
	bool bucket_started;
	uint64_t last_ns;
	double tokens;
};

struct rl *rl_new(const struct rl_opts *o)
{
	struct rl_opts d = o ? *o : (struct rl_opts){ 0 };

	if (d.kind < RL_DEFAULT || d.kind > RL_NONE || isnan(d.qps) || d.qps < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!d.base_delay_ns)
		d.base_delay_ns = RL_DEFAULT_BASE_NS;
	if (!d.max_delay_ns)
		d.max_delay_ns = RL_DEFAULT_MAX_NS;
	if (d.qps == 0)
		d.qps = RL_DEFAULT_QPS;
	if (!d.burst)
		d.burst = RL_DEFAULT_BURST;
	if (d.base_delay_ns > d.max_delay_ns) {
		errno = EINVAL;
		return NULL;
	}
	struct rl *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->o = d;
	if (km_init(&r->failures, 64, false)) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void rl_free(struct rl *r)
{
	if (!r)
		return;
	km_fini(&r->failures);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void rl_get_opts(const struct rl *r, struct rl_opts *o)
{
	*o = r->o;
}

/* ItemExponentialFailureRateLimiter.When: base * 2^failures, then failures++. */
static uint64_t rl_exp_when(struct rl *r, uint64_t key)
{
	uint32_t *f = km_find(&r->failures, key);
	uint32_t exp = f ? *f : 0;

	if (f) {
		if (*f < UINT32_MAX)
			(*f)++;
	} else if (!km_insert(&r->failures, key, 1)) {
		atomic_store_explicit(&r->nfailing, r->failures.n, memory_order_relaxed);
	}
	double backoff = (double)r->o.base_delay_ns * pow(2.0, (double)exp);

	if (backoff > (double)INT64_MAX)
		return r->o.max_delay_ns;
	uint64_t calc = (uint64_t)backoff;

	return calc > r->o.max_delay_ns ? r->o.max_delay_ns : calc;
}

/* Duration.Seconds() of an elapsed time, as Go computes it (whole seconds + fraction). */
static double rl_seconds(uint64_t ns)
{
	return (double)(ns / 1000000000ull) + (double)(ns % 1000000000ull) / 1e9;
}

/* BucketRateLimiter.When: Reserve().Delay() on a rate.Limiter(qps, burst). */
static uint64_t rl_bucket_when(struct rl *r, uint64_t now)
{
	if (isinf(r->o.qps))
		return 0;
	if (!r->bucket_started) {
		/* A new Limiter has last = zero time: the first advance fills it to burst. */
		r->bucket_started = true;
		r->tokens = r->o.burst;
		r->last_ns = now;
	}
	uint64_t last = now < r->last_ns ? now : r->last_ns;
	double tokens = r->tokens + rl_seconds(now - last) * r->o.qps;

	if (tokens > r->o.burst)
		tokens = r->o.burst;
	tokens -= 1;
	r->tokens = tokens;
	r->last_ns = now;
	if (tokens >= 0)
		return 0;
	double wait = (-tokens / r->o.qps) * 1e9;

	return wait > (double)INT64_MAX ? (uint64_t)INT64_MAX : (uint64_t)wait;
}

uint64_t rl_when(struct rl *r, uint64_t key, uint64_t now_ns)
{
	uint64_t d = 0, b;

	if (r->o.kind == RL_NONE)
		return 0;
	pthread_mutex_lock(&r->mu);
	if (r->o.kind != RL_BUCKET)
		d = rl_exp_when(r, key);
	if (r->o.kind != RL_EXPONENTIAL) {
		b = rl_bucket_when(r, now_ns);
		if (b > d)
			d = b;
	}
	pthread_mutex_unlock(&r->mu);
	return d;
}

void rl_forget(struct rl *r, uint64_t key)
{
	/* Hot path: a reconcile that succeeds forgets a key that (nearly always) never failed. */
	if (!atomic_load_explicit(&r->nfailing, memory_order_relaxed))
		return;
	pthread_mutex_lock(&r->mu);
	km_del(&r->failures, key);
	atomic_store_explicit(&r->nfailing, r->failures.n, memory_order_relaxed);
	pthread_mutex_unlock(&r->mu);
}

uint32_t rl_num_requeues(struct rl *r, uint64_t key)
{
	uint32_t n = 0, *f;

	if (r->o.kind == RL_BUCKET || r->o.kind == RL_NONE)
		return 0;
	pthread_mutex_lock(&r->mu);
	f = km_find(&r->failures, key);
	if (f)
		n = *f;
	pthread_mutex_unlock(&r->mu);
	return n;
}
