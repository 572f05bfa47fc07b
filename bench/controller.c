/* controller — worker threads, outcome rules and reconcile metrics. See controller.h. */
#include "bench/controller.h"
#include "common/fastclock.h"
#include "reconperf/usdt.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 32 KiB: stays in cache even when keys come in random order (e2e); a collision between
 * the few keys in flight only skips one check (see claim()). */
#define CLAIM_SLOTS (1u << 12)

/* Cache-line aligned: a worker's counters, written every reconcile, share no line with
 * another worker's fields. */
struct worker {
	struct controller *c;
	unsigned id;
	pthread_t thread;
	bool started;
	struct hist *lat;
	sigjmp_buf jb;
	/* single writer (the worker); read relaxed by ctrl_stats */
	_Atomic uint64_t reconciles, results[BR__COUNT], errors, terminal, panics, busy_ns;
	_Atomic uint64_t overhead_ns;
	_Atomic unsigned active;	/* 1 while in a reconcile; single writer */
} __attribute__((aligned(64)));

struct controller {
	struct ctrl_opts o;
	struct worker *w;
	struct hist *lat;	/* merged at stop */
	_Atomic uint64_t claims[CLAIM_SLOTS];	/* key in reconcile, by hash(key) */
	_Atomic uint64_t concurrent;
	bool running;
};

static _Thread_local struct worker *cur_worker;

/* Four reads per reconcile: the TSC (fastclock) costs a third of clock_gettime here. */
static inline uint64_t now_ns(void)
{
	return fastclock_ns();
}

static inline void bump(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/*
 * Keys k..k+7 go to 8 different cache lines (the workers, taking consecutive keys, do not
 * fight over one line), and k, k+8, k+16 ... share a line in order: dense uids reconciled
 * round-robin walk 8 sequential streams the prefetcher follows, where a hashed slot was a
 * cache miss per reconcile.
 */
static inline size_t claim_slot(uint64_t key)
{
	return (size_t)((key & 7) * (CLAIM_SLOTS / 8) + ((key >> 3) & (CLAIM_SLOTS / 8 - 1)));
}

/*
 * One slot per hash(key): the same key always meets itself, so a second concurrent claim of
 * a key is always seen. A different key in the slot (a collision among the few keys in
 * flight) skips the check for that reconcile rather than guessing.
 */
static bool claim(struct controller *c, uint64_t key)
{
	_Atomic uint64_t *s = &c->claims[claim_slot(key)];
	uint64_t expect = 0, tag = key + 1;

	if (atomic_compare_exchange_strong(s, &expect, tag))
		return true;
	if (expect == tag)
		atomic_fetch_add(&c->concurrent, 1);
	return false;
}

static void release(struct controller *c, uint64_t key)
{
	atomic_store(&c->claims[claim_slot(key)], 0);
}

_Noreturn void ctrl_panic(void)
{
	siglongjmp(cur_worker->jb, 1);
}

static void run_one(struct worker *w, uint64_t key, struct ctrl_result *res)
{
	struct controller *c = w->c;

	res->outcome = CTRL_SUCCESS;
	res->after_ns = 0;
	if (sigsetjmp(w->jb, 0) == 0) {
		c->o.reconcile(c->o.arg, w->id, key, res);
	} else {
		bump(&w->panics, 1);
		res->outcome = CTRL_ERROR;
	}
}

/* The key as decimal text for the USDT probes; cheaper than snprintf on the hot path. */
static const char *key_text(uint64_t key, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	do {
		*--p = (char)('0' + key % 10);
		key /= 10;
	} while (key);
	return p;
}

static enum bench_result result_of(enum ctrl_outcome o)
{
	switch (o) {
	case CTRL_SUCCESS: return BR_SUCCESS;
	case CTRL_REQUEUE: return BR_REQUEUE;
	case CTRL_REQUEUE_AFTER: return BR_REQUEUE_AFTER;
	default: return BR_ERROR;
	}
}

static void apply_outcome(struct worker *w, uint64_t key, const struct ctrl_result *res)
{
	struct wq *q = w->c->o.queue;

	switch (res->outcome) {
	case CTRL_SUCCESS:
		bump(&w->results[BR_SUCCESS], 1);
		wq_forget(q, key);
		break;
	case CTRL_TERMINAL:
		bump(&w->results[BR_ERROR], 1);
		bump(&w->errors, 1);
		bump(&w->terminal, 1);
		wq_forget(q, key);
		break;
	case CTRL_ERROR:
		bump(&w->results[BR_ERROR], 1);
		bump(&w->errors, 1);
		wq_add_rate_limited(q, key);
		break;
	case CTRL_REQUEUE:
		bump(&w->results[BR_REQUEUE], 1);
		wq_add_rate_limited(q, key);
		break;
	case CTRL_REQUEUE_AFTER:
		bump(&w->results[BR_REQUEUE_AFTER], 1);
		wq_forget(q, key);
		wq_add_after(q, key, res->after_ns);
		break;
	}
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct controller *c = w->c;
	const struct ctrl_hooks *h = &c->o.hooks;
	uint64_t key, tg, td;

	cur_worker = w;
	if (h->worker_start)
		h->worker_start(h->arg, w->id);
	/* The queue's own Get and Done timestamps bound the harness time (one clock read
	 * fewer each, on this machine ~10-30 ns apiece); without them, read the clock. */
	while (wq_get_stamped(c->o.queue, &key, &tg) == 0) {
		struct ctrl_result res;
		uint64_t ta = tg ? tg : now_ns(), t0, dt, te;
		bool claimed = claim(c, key);
		char kbuf[24];
		const char *ktext = key_text(key, kbuf);

		atomic_store_explicit(&w->active, 1, memory_order_relaxed);
		if (h->before)
			h->before(h->arg, w->id, key);
		RP_USDT_RECONCILE_START(c->o.name, ktext);
		t0 = now_ns();
		run_one(w, key, &res);
		dt = now_ns() - t0;
		RP_USDT_RECONCILE_END(c->o.name, ktext, (int)result_of(res.outcome));
		if (h->after)
			h->after(h->arg, w->id, key);
		hist_record(w->lat, dt);
		bump(&w->busy_ns, dt);
		bump(&w->reconciles, 1);
		if (claimed)
			release(c, key);
		atomic_store_explicit(&w->active, 0, memory_order_relaxed);
		apply_outcome(w, key, &res);
		wq_done_stamped(c->o.queue, key, &td);
		te = td ? td : now_ns();
		bump(&w->overhead_ns, te > ta + dt ? te - ta - dt : 0);
	}
	if (h->worker_stop)
		h->worker_stop(h->arg, w->id);
	return NULL;
}

int ctrl_new(const struct ctrl_opts *o, struct controller **out)
{
	struct controller *c;

	*out = NULL;
	if (!o->queue || !o->reconcile || o->workers == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	c->w = aligned_alloc(64, o->workers * sizeof(*c->w));
	if (c->w)
		memset(c->w, 0, o->workers * sizeof(*c->w));
	c->lat = hist_new();
	if (!c->w || !c->lat)
		goto err_free;
	for (unsigned i = 0; i < o->workers; i++) {
		c->w[i].c = c;
		c->w[i].id = o->first_worker + i;
		c->w[i].lat = hist_new();
		if (!c->w[i].lat)
			goto err_free;
	}
	*out = c;
	return 0;
err_free:
	ctrl_free(c);
	return -ENOMEM;
}

int ctrl_start(struct controller *c)
{
	for (unsigned i = 0; i < c->o.workers; i++) {
		int err = pthread_create(&c->w[i].thread, NULL, worker_main, &c->w[i]);
		if (err) {
			ctrl_stop(c, false);
			return -err;
		}
		c->w[i].started = true;
	}
	c->running = true;
	return 0;
}

void ctrl_stop(struct controller *c, bool drain)
{
	if (!c)
		return;
	if (drain)
		wq_shutdown_with_drain(c->o.queue);
	else
		wq_shutdown(c->o.queue);
	for (unsigned i = 0; i < c->o.workers; i++) {
		if (!c->w[i].started)
			continue;
		pthread_join(c->w[i].thread, NULL);
		c->w[i].started = false;
		hist_merge(c->lat, c->w[i].lat);
	}
	c->running = false;
}

void ctrl_free(struct controller *c)
{
	if (!c)
		return;
	if (c->running)
		ctrl_stop(c, false);
	if (c->w)
		for (unsigned i = 0; i < c->o.workers; i++)
			hist_free(c->w[i].lat);
	free(c->w);
	hist_free(c->lat);
	free(c);
}

void ctrl_stats(struct controller *c, struct ctrl_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < c->o.workers; i++) {
		struct worker *w = &c->w[i];
		st->reconciles += atomic_load_explicit(&w->reconciles, memory_order_relaxed);
		for (int r = 0; r < BR__COUNT; r++)
			st->results[r] += atomic_load_explicit(&w->results[r], memory_order_relaxed);
		st->errors += atomic_load_explicit(&w->errors, memory_order_relaxed);
		st->terminal += atomic_load_explicit(&w->terminal, memory_order_relaxed);
		st->panics += atomic_load_explicit(&w->panics, memory_order_relaxed);
		st->busy_ns += atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
		st->overhead_ns += atomic_load_explicit(&w->overhead_ns, memory_order_relaxed);
		st->active += atomic_load_explicit(&w->active, memory_order_relaxed);
	}
	st->concurrent = atomic_load(&c->concurrent);
}

const struct hist *ctrl_latency(struct controller *c)
{
	return c->lat;
}
