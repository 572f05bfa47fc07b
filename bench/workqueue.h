/*
 * workqueue — client-go's rate-limiting workqueue and controller-runtime's priority queue,
 * over uint64_t keys (object uids; every value, 0 included, is a valid key).
 *
 * WQ_CLIENTGO (k8s.io/client-go/util/workqueue: Typed + delayingType + rateLimitingType):
 *   - a key is dirty (waiting), processing (handed out by Get, not yet Done), or both;
 *     a key is never handed to two getters at once;
 *   - Add of a dirty key is a no-op (duplicates collapse); Add of a processing key marks it
 *     dirty and parks it: Done queues it once; Add during shutdown is a no-op;
 *   - Get hands out in FIFO order and keeps handing out queued keys during shutdown;
 *     it returns -ESHUTDOWN only when shut down and the FIFO is empty;
 *   - AddAfter(d): counts a retry (workqueue_retries_total counts every AddAfter), then
 *     d == 0 is an Add; otherwise the key waits until now + d; among waiting entries of one
 *     key the earliest ready time wins; an immediate Add does not cancel a waiting entry
 *     (the key can be processed twice);
 *   - AddRateLimited = AddAfter(rl_when(key)); Forget/NumRequeues go to the rate limiter;
 *   - ShutDownWithDrain waits until nothing is processing.
 *   Metrics as client-go's defaultQueueMetrics: depth counts dirty keys (parked ones too),
 *   adds counts non-collapsed Adds, queue_duration is the first Add (or the ready time of a
 *   delayed entry) -> Get, work_duration Get -> Done.
 *
 * WQ_PRIORITY (controller-runtime pkg/controller/priorityqueue, >= v0.23):
 *   - AddWithOpts{After, RateLimited, Priority}: RateLimited takes rl_when(key) when After is
 *     0 or larger; After > 0 counts a retry; a key already queued keeps the highest priority
 *     and the earliest ready time (no delay beats any delay);
 *   - Get order: keys without a delay first, by priority (highest first) then insertion
 *     order; then keys whose delay passed, by ready time, priority, insertion; a processing
 *     key is skipped until its Done (same never-two-getters rule);
 *   - default rate limiter: per-key exponential only (RL_DEFAULT means RL_EXPONENTIAL here:
 *     no 10 qps bucket);
 *   - Get returns -ESHUTDOWN as soon as the queue is shut down (it does not drain);
 *     ShutDownWithDrain is ShutDown; Add after shutdown is kept but never handed out;
 *   - Len and depth count keys that are ready (processing ones included), adds counts a key
 *     when it becomes ready.
 *
 * Delayed entries are promoted lazily, at the start of every operation, with the add time
 * set to their ready time, so results match client-go's background goroutine. A blocked Get
 * sleeps until the earliest ready time; with a custom clock it re-reads the clock every ms.
 *
 * Threading: every function may be called from any thread; one mutex, held for a few
 * hundred ns at most. wq_get, wq_try_get, wq_add and wq_done are the hot path. Getters
 * sleep on a condition variable and are woken only when sleeping.
 */
#ifndef RECONPERF_WORKQUEUE_H
#define RECONPERF_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"
#include "bench/ratelimit.h"

enum wq_kind { WQ_CLIENTGO, WQ_PRIORITY };

struct wq_opts {
	enum wq_kind kind;
	struct rl_opts rl;
	/* NULL = CLOCK_MONOTONIC ns; a fake clock makes delays testable without sleeping. */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	bool metrics_off;	/* no timestamps, no histograms (counters stay) */
	uint32_t size_hint;	/* expected distinct keys (0 = 1024) */
};

struct wq_add_opts {		/* controller-runtime's priorityqueue.AddOpts */
	uint64_t after_ns;
	bool rate_limited;
	int priority;
};

/* Priority of the initial list and of resyncs in controller-runtime (handler.LowPriority). */
#define WQ_LOW_PRIORITY (-100)

struct wq;

struct wq *wq_new(const struct wq_opts *o);	/* NULL with errno EINVAL or ENOMEM */
void wq_free(struct wq *q);

void wq_add(struct wq *q, uint64_t key);
/* controller-runtime priority queue AddWithOpts{Priority}; on WQ_CLIENTGO same as wq_add. */
void wq_add_priority(struct wq *q, uint64_t key, int priority);
void wq_add_after(struct wq *q, uint64_t key, uint64_t delay_ns);
void wq_add_rate_limited(struct wq *q, uint64_t key);
/* AddWithOpts. On WQ_CLIENTGO, priority is ignored and the delay is chosen as on the
 * priority queue (rl_when(key) when rate_limited and it is shorter than a non-zero after_ns):
 * a delay goes through AddAfter, no delay at all is a plain Add (no retry counted). */
void wq_add_opts(struct wq *q, uint64_t key, const struct wq_add_opts *o);

/* Blocks; 0, or -ESHUTDOWN once shut down and nothing is left to hand out. */
int wq_get(struct wq *q, uint64_t *key);
/* As wq_get, and the key's priority (0 on WQ_CLIENTGO). */
int wq_get_priority(struct wq *q, uint64_t *key, int *priority);
/* Non-blocking: -EAGAIN when nothing is ready. */
int wq_try_get(struct wq *q, uint64_t *key);
void wq_done(struct wq *q, uint64_t key);
/* wq_get / wq_done that also return the time the queue stamped the item with (the
 * work_duration start and end: read as the call starts, or as a sleeping Get wakes), in
 * fastclock ns; 0 when there is none (metrics off, or a custom clock). A worker loop
 * timing itself reuses them instead of reading the clock again. */
int wq_get_stamped(struct wq *q, uint64_t *key, uint64_t *stamp);
void wq_done_stamped(struct wq *q, uint64_t key, uint64_t *stamp);
/* wq_done(done_key) then wq_get(key), under one lock acquisition: the same result, one
 * round trip fewer for a worker loop (Get, work, Forget, Done+Get, ...). */
int wq_done_get(struct wq *q, uint64_t done_key, uint64_t *key);
void wq_forget(struct wq *q, uint64_t key);
uint32_t wq_num_requeues(struct wq *q, uint64_t key);
size_t wq_len(struct wq *q);		/* keys ready to be handed out (client-go Len()) */
/* The depth metric read without the lock: a moment's value, for a producer deciding
 * whether to wait (a key counted here is dirty, so adding it again would collapse). */
uint64_t wq_depth_hint(struct wq *q);

void wq_shutdown(struct wq *q);		/* wakes all getters */
void wq_shutdown_with_drain(struct wq *q);	/* waits until processing is empty */
bool wq_shutting_down(struct wq *q);

struct wq_metrics {
	uint64_t depth, depth_max, adds, retries;
	struct hist *queue_duration;	/* ns, caller frees; NULL with metrics_off */
	struct hist *work_duration;	/* ns */
	double unfinished_work_s, longest_running_s;
	uint64_t dropped;	/* adds lost to allocation failure (should stay 0) */
};

/* Copies; the caller hist_free()s the hists. 0 or -ENOMEM. */
int wq_metrics_snapshot(struct wq *q, struct wq_metrics *m);

#endif
