#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/workqueue.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* A fake clock: tests move time by hand and never sleep for a delay. */
static _Atomic uint64_t fake_ns;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_ns);
}

static void at(uint64_t t)
{
	atomic_store(&fake_ns, t);
}

static struct wq *mk(enum wq_kind kind)
{
	at(1 * SEC);
	struct wq *q = wq_new(&(struct wq_opts){ .kind = kind, .clock = fake_clock });

	cr_assert_not_null(q);
	return q;
}

static uint64_t must_get(struct wq *q)
{
	uint64_t k = UINT64_MAX;
	int rc = wq_try_get(q, &k);

	cr_assert_eq(rc, 0, "try_get: %d", rc);
	return k;
}

static void assert_empty(struct wq *q)
{
	uint64_t k;

	cr_assert_eq(wq_try_get(q, &k), -EAGAIN, "expected nothing ready, got key %llu",
		     (unsigned long long)k);
}

static struct wq_metrics snap(struct wq *q)
{
	struct wq_metrics m;

	cr_assert_eq(wq_metrics_snapshot(q, &m), 0);
	return m;
}

static void snap_free(struct wq_metrics *m)
{
	hist_free(m->queue_duration);
	hist_free(m->work_duration);
}

/* Both queues, for the rules they share. */
struct kcase {
	int kind;
};

static struct criterion_test_params both_kinds(void)
{
	static struct kcase cases[] = { { WQ_CLIENTGO }, { WQ_PRIORITY } };

	return cr_make_param_array(struct kcase, cases, 2);
}

/* ---- client-go: dirty and processing sets ---- */

Test(workqueue, hands_out_keys_in_fifo_order)
{
	struct wq *q = mk(WQ_CLIENTGO);

	for (uint64_t k = 10; k > 0; k--)
		wq_add(q, k);
	cr_assert_eq(wq_len(q), 10);
	for (uint64_t k = 10; k > 0; k--)
		cr_assert_eq(must_get(q), k);
	assert_empty(q);
	wq_free(q);
}

Test(workqueue, duplicate_adds_collapse)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 5);
	wq_add(q, 6);
	wq_add(q, 5);
	wq_add(q, 5);
	cr_assert_eq(wq_len(q), 2);
	cr_assert_eq(must_get(q), 5);
	cr_assert_eq(must_get(q), 6);
	assert_empty(q);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.adds, 2, "adds_total counts only non-collapsed adds: %llu",
		     (unsigned long long)m.adds);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, add_while_processing_parks_and_requeues_once_on_done)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	cr_assert_eq(must_get(q), 1);
	wq_add(q, 1);
	wq_add(q, 1);
	cr_assert_eq(wq_len(q), 0, "a processing key is parked, not queued");
	assert_empty(q);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.depth, 1, "depth counts the parked key (client-go's dirty set)");
	cr_assert_eq(m.adds, 2);
	snap_free(&m);
	wq_done(q, 1);
	cr_assert_eq(wq_len(q), 1);
	cr_assert_eq(must_get(q), 1);
	assert_empty(q);
	wq_done(q, 1);
	assert_empty(q);
	wq_free(q);
}

Test(workqueue, done_get_is_done_then_get)
{
	struct wq *q = mk(WQ_CLIENTGO);
	uint64_t k;

	wq_add(q, 1);
	wq_add(q, 2);
	cr_assert_eq(must_get(q), 1);
	wq_add(q, 1);				/* parked */
	cr_assert_eq(wq_done_get(q, 1, &k), 0);	/* 1 requeued behind 2 */
	cr_assert_eq(k, 2);
	cr_assert_eq(wq_done_get(q, 2, &k), 0);
	cr_assert_eq(k, 1);
	wq_shutdown(q);
	cr_assert_eq(wq_done_get(q, 1, &k), -ESHUTDOWN, "done, then nothing left after shutdown");
	struct wq_metrics m = snap(q);

	cr_assert_eq(hist_count(m.work_duration), 3);
	cr_assert_eq(m.depth, 0);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, done_from_another_thread_than_get_still_finds_the_key)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	wq_add(q, 2);
	cr_assert_eq(must_get(q), 1);
	cr_assert_eq(must_get(q), 2);
	wq_add(q, 1);
	wq_done(q, 1);		/* not the last key this thread got */
	cr_assert_eq(must_get(q), 1);
	wq_done(q, 2);
	wq_done(q, 1);
	assert_empty(q);
	wq_free(q);
}

Test(workqueue, done_of_an_idle_key_is_harmless)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_done(q, 3);
	wq_add(q, 3);
	wq_done(q, 3);	/* queued, not processing: stays queued exactly once */
	cr_assert_eq(wq_len(q), 1);
	cr_assert_eq(must_get(q), 3);
	assert_empty(q);
	wq_free(q);
}

Test(workqueue, every_key_value_is_valid_including_zero)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 0);
	wq_add(q, UINT64_MAX);
	wq_add(q, 0);
	cr_assert_eq(must_get(q), 0);
	cr_assert_eq(must_get(q), UINT64_MAX);
	wq_free(q);
}

Test(workqueue, a_hundred_thousand_keys_grow_the_tables_and_leave_nothing_behind)
{
	struct wq *q = mk(WQ_CLIENTGO);

	for (int round = 0; round < 2; round++) {
		for (uint64_t k = 0; k < 100000; k++)
			wq_add(q, k * 7919);
		cr_assert_eq(wq_len(q), 100000);
		for (uint64_t k = 0; k < 100000; k++) {
			cr_assert_eq(must_get(q), k * 7919);
			if (k % 2)
				wq_add(q, k * 7919);	/* parked */
		}
		for (uint64_t k = 0; k < 100000; k++)
			wq_done(q, k * 7919);
		cr_assert_eq(wq_len(q), 50000);
		for (uint64_t k = 1; k < 100000; k += 2) {
			cr_assert_eq(must_get(q), k * 7919);
			wq_done(q, k * 7919);
		}
		assert_empty(q);
	}
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.depth, 0);
	cr_assert_eq(m.dropped, 0);
	cr_assert_eq(m.adds, 300000);
	snap_free(&m);
	wq_free(q);
}

/* ---- shutdown ---- */

Test(workqueue, add_during_shutdown_is_a_noop_and_get_drains_what_is_queued)
{
	struct wq *q = mk(WQ_CLIENTGO);
	uint64_t k;

	wq_add(q, 1);
	wq_add(q, 2);
	cr_assert_not(wq_shutting_down(q));
	wq_shutdown(q);
	cr_assert(wq_shutting_down(q));
	wq_add(q, 3);
	wq_add_after(q, 4, 0);
	wq_add_rate_limited(q, 5);
	cr_assert_eq(wq_len(q), 2);
	cr_assert_eq(wq_get(q, &k), 0);
	cr_assert_eq(k, 1);
	cr_assert_eq(wq_get(q, &k), 0);
	cr_assert_eq(k, 2);
	cr_assert_eq(wq_get(q, &k), -ESHUTDOWN);
	cr_assert_eq(wq_try_get(q, &k), -ESHUTDOWN);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.retries, 0, "no retries are counted after shutdown");
	snap_free(&m);
	wq_free(q);
}

struct getter {
	struct wq *q;
	uint64_t key;
	int rc;
	atomic_int finished;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;

	g->rc = wq_get(g->q, &g->key);
	atomic_store(&g->finished, 1);
	return NULL;
}


Test(workqueue, blocked_getter_is_woken_by_an_add, .timeout = 60)
{
	struct wq *q = mk(WQ_CLIENTGO);
	struct getter g = { .q = q };
	pthread_t th;

	pthread_create(&th, NULL, getter_main, &g);
	usleep(20000);
	wq_add(q, 77);
	pthread_join(th, NULL);
	cr_assert_eq(g.rc, 0);
	cr_assert_eq(g.key, 77);
	wq_free(q);
}

struct drainer {
	struct wq *q;
	atomic_int returned;
};

static void *drain_main(void *arg)
{
	struct drainer *d = arg;

	wq_shutdown_with_drain(d->q);
	atomic_store(&d->returned, 1);
	return NULL;
}

Test(workqueue, shutdown_with_drain_waits_until_processing_is_empty, .timeout = 60)
{
	struct wq *q = mk(WQ_CLIENTGO);
	struct drainer d = { .q = q };
	pthread_t th;
	uint64_t k;

	wq_add(q, 1);
	wq_add(q, 2);
	cr_assert_eq(wq_get(q, &k), 0);
	pthread_create(&th, NULL, drain_main, &d);
	while (!wq_shutting_down(q))
		usleep(1000);
	usleep(30000);
	cr_assert_eq(atomic_load(&d.returned), 0, "drain returned while key 1 was processing");
	cr_assert_eq(wq_get(q, &k), 0, "queued keys are still handed out while draining");
	cr_assert_eq(k, 2);
	wq_done(q, 1);
	usleep(30000);
	cr_assert_eq(atomic_load(&d.returned), 0, "drain returned while key 2 was processing");
	wq_done(q, 2);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&d.returned), 1);
	cr_assert_eq(wq_get(q, &k), -ESHUTDOWN);
	wq_free(q);
}

Test(workqueue, shutdown_with_drain_returns_at_once_when_idle)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	wq_shutdown_with_drain(q);	/* nothing processing: must not block */
	cr_assert_eq(must_get(q), 1);
	wq_free(q);
}

ParameterizedTestParameters(workqueue, shutdown_wakes_every_blocked_getter)
{
	return both_kinds();
}

ParameterizedTest(struct kcase *c, workqueue, shutdown_wakes_every_blocked_getter, .timeout = 60)
{
	struct wq *q = mk((enum wq_kind)c->kind);
	struct getter g[4];
	pthread_t th[4];

	wq_add_after(q, 5, 100 * SEC);	/* a pending delay: getters sleep with a deadline */
	for (int i = 0; i < 4; i++) {
		g[i] = (struct getter){ .q = q };
		pthread_create(&th[i], NULL, getter_main, &g[i]);
	}
	usleep(20000);
	wq_shutdown(q);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(g[i].rc, -ESHUTDOWN);
	}
	wq_free(q);
}

/* ---- delaying queue ---- */

Test(workqueue, add_after_waits_for_its_time)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 9, 5 * SEC);
	assert_empty(q);
	cr_assert_eq(wq_len(q), 0);
	at(6 * SEC - 1);
	assert_empty(q);
	at(6 * SEC);
	cr_assert_eq(wq_len(q), 1);
	cr_assert_eq(must_get(q), 9);
	wq_free(q);
}

Test(workqueue, earliest_add_after_wins_among_waiting_entries)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 1, 10 * SEC);
	wq_add_after(q, 1, 3 * SEC);	/* earlier: moves the entry */
	wq_add_after(q, 2, 3 * SEC);
	wq_add_after(q, 2, 10 * SEC);	/* later: ignored */
	at(4 * SEC);
	cr_assert_eq(wq_len(q), 2);
	cr_assert_eq(must_get(q), 1);
	cr_assert_eq(must_get(q), 2);
	wq_done(q, 1);
	wq_done(q, 2);
	at(20 * SEC);
	assert_empty(q);	/* the later entries were merged away, not kept */
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.retries, 4, "retries_total counts every AddAfter");
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, delayed_entries_come_out_in_ready_time_order)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 1, 30 * SEC);
	wq_add_after(q, 2, 10 * SEC);
	wq_add_after(q, 3, 20 * SEC);
	at(100 * SEC);
	cr_assert_eq(must_get(q), 2);
	cr_assert_eq(must_get(q), 3);
	cr_assert_eq(must_get(q), 1);
	wq_free(q);
}

Test(workqueue, a_delayed_entry_is_added_before_later_plain_adds)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 1, 1 * SEC);	/* ready at 2 s */
	at(3 * SEC);
	wq_add(q, 2);			/* client-go's waiting loop added key 1 at 2 s */
	cr_assert_eq(must_get(q), 1);
	cr_assert_eq(must_get(q), 2);
	wq_free(q);
}

Test(workqueue, immediate_add_does_not_cancel_a_pending_delayed_one)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 1, 5 * SEC);
	wq_add(q, 1);
	cr_assert_eq(must_get(q), 1);
	wq_done(q, 1);
	assert_empty(q);
	at(6 * SEC);
	cr_assert_eq(must_get(q), 1, "the delayed entry fires too: a second reconcile");
	wq_done(q, 1);
	assert_empty(q);
	wq_free(q);
}

Test(workqueue, delayed_entry_that_fires_while_processing_is_parked)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	cr_assert_eq(must_get(q), 1);
	wq_add_after(q, 1, 1 * SEC);
	at(5 * SEC);
	assert_empty(q);
	wq_done(q, 1);
	cr_assert_eq(must_get(q), 1);
	wq_free(q);
}

Test(workqueue, zero_delay_add_after_is_an_add_and_counts_a_retry)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_after(q, 1, 0);
	cr_assert_eq(must_get(q), 1);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.retries, 1);
	cr_assert_eq(m.adds, 1);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, blocked_get_wakes_when_a_delay_expires_on_the_real_clock, .timeout = 60)
{
	struct wq *q = wq_new(&(struct wq_opts){ .kind = WQ_CLIENTGO });
	struct timespec a, b;
	uint64_t k;

	cr_assert_not_null(q);
	clock_gettime(CLOCK_MONOTONIC, &a);
	wq_add_after(q, 4, 30 * MS);
	cr_assert_eq(wq_get(q, &k), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_eq(k, 4);
	int64_t el = (b.tv_sec - a.tv_sec) * (int64_t)SEC + (b.tv_nsec - a.tv_nsec);

	cr_assert_geq(el, (int64_t)(30 * MS), "handed out before its delay: %lld ns",
		      (long long)el);
	wq_free(q);
}


ParameterizedTestParameters(workqueue, blocked_getter_wakes_for_a_delay_added_after_it_slept)
{
	return both_kinds();
}

ParameterizedTest(struct kcase *c, workqueue, blocked_getter_wakes_for_a_delay_added_after_it_slept,
		  .timeout = 60)
{
	struct wq *q = mk((enum wq_kind)c->kind);
	struct getter g = { .q = q };
	pthread_t th;

	pthread_create(&th, NULL, getter_main, &g);
	usleep(20000);
	wq_add_after(q, 8, 10 * SEC);
	usleep(20000);
	cr_assert_eq(atomic_load(&g.finished), 0, "handed out before its delay");
	at(12 * SEC);
	pthread_join(th, NULL);
	cr_assert_eq(g.rc, 0);
	cr_assert_eq(g.key, 8);
	wq_free(q);
}

/* ---- rate limiting ---- */

Test(workqueue, rate_limited_adds_follow_the_exponential_backoff)
{
	struct wq *q = mk(WQ_CLIENTGO);
	uint64_t t = 1 * SEC;

	for (int n = 0; n < 5; n++) {
		wq_add_rate_limited(q, 1);
		at(t + (5 * MS << n) - 1);
		assert_empty(q);
		at(t + (5 * MS << n));
		cr_assert_eq(must_get(q), 1, "failure %d ready after %llu ms", n,
			     (unsigned long long)(5 << n));
		wq_done(q, 1);
		t += 5 * MS << n;
	}
	cr_assert_eq(wq_num_requeues(q, 1), 5);
	wq_forget(q, 1);
	cr_assert_eq(wq_num_requeues(q, 1), 0);
	wq_free(q);
}

Test(workqueue, forget_touches_only_the_failure_count)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add_rate_limited(q, 1);
	wq_add_rate_limited(q, 1);
	wq_add(q, 2);
	wq_forget(q, 1);
	wq_forget(q, 2);
	cr_assert_eq(wq_num_requeues(q, 1), 0);
	at(2 * SEC);
	cr_assert_eq(must_get(q), 2);
	cr_assert_eq(must_get(q), 1, "forget does not remove a waiting entry");
	wq_free(q);
}

/* The bucket behind AddRateLimited: 10,000 failing keys at once, the last ready at 990 s. */
Test(workqueue, ten_thousand_rate_limited_adds_end_with_a_16_minute_tail)
{
	struct wq *q = mk(WQ_CLIENTGO);
	uint64_t t0 = 1 * SEC;

	for (uint64_t k = 1; k <= 10000; k++)
		wq_add_rate_limited(q, k);
	at(t0 + 5 * MS);
	cr_assert_eq(wq_len(q), 100, "the burst of 100 after the 5 ms base delay");
	at(t0 + 10 * SEC);
	cr_assert_eq(wq_len(q), 200);
	at(t0 + 990 * SEC - 1);
	cr_assert_eq(wq_len(q), 9999);
	at(t0 + 990 * SEC);
	cr_assert_eq(wq_len(q), 10000, "the last key is ready 16.5 minutes after the storm");
	for (uint64_t k = 1; k <= 10000; k++)
		cr_assert_eq(must_get(q), k);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.retries, 10000);
	/* Queue time starts at each key's ready time: the first 100 waited from 5 ms to
	 * 990 s, the last one not at all. */
	cr_assert_eq(hist_max(m.queue_duration), 990 * SEC - 5 * MS);
	cr_assert_eq(hist_min(m.queue_duration), 0);
	snap_free(&m);
	wq_free(q);
}

/* ---- metrics ---- */

static double rel(uint64_t got, uint64_t want)
{
	return want ? ((double)got - (double)want) / (double)want : (double)got;
}

Test(workqueue, queue_duration_runs_from_first_add_to_get_excluding_delay)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);			/* at 1 s */
	at(2 * SEC);
	wq_add(q, 1);			/* collapsed: the first add counts */
	wq_add_after(q, 2, 1 * SEC);	/* ready at 3 s */
	at(4 * SEC);
	cr_assert_eq(must_get(q), 1);	/* waited 3 s */
	at(4500 * MS);
	cr_assert_eq(must_get(q), 2);	/* waited 1.5 s after its ready time */
	struct wq_metrics m = snap(q);

	cr_assert_eq(hist_count(m.queue_duration), 2);
	cr_assert_eq(hist_max(m.queue_duration), 3 * SEC);
	cr_assert_eq(hist_min(m.queue_duration), 1500 * MS);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, queue_duration_of_a_parked_key_starts_at_its_add)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	must_get(q);
	at(2 * SEC);
	wq_add(q, 1);
	at(5 * SEC);
	wq_done(q, 1);
	at(6 * SEC);
	must_get(q);
	struct wq_metrics m = snap(q);

	cr_assert_eq(hist_max(m.queue_duration), 4 * SEC);
	cr_assert_eq(hist_count(m.work_duration), 1);
	cr_assert(fabs(rel(hist_max(m.work_duration), 4 * SEC)) < 1e-9);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, work_duration_unfinished_work_and_longest_processor)
{
	struct wq *q = mk(WQ_CLIENTGO);

	wq_add(q, 1);
	wq_add(q, 2);
	wq_add(q, 3);
	must_get(q);			/* 1 at 1 s */
	at(2 * SEC);
	must_get(q);			/* 2 at 2 s */
	at(4 * SEC);
	must_get(q);			/* 3 at 4 s */
	struct wq_metrics m = snap(q);

	cr_assert_float_eq(m.unfinished_work_s, 3 + 2 + 0, 1e-9);
	cr_assert_float_eq(m.longest_running_s, 3, 1e-9);
	snap_free(&m);
	at(7 * SEC);
	wq_done(q, 1);			/* worked 6 s */
	m = snap(q);
	cr_assert_float_eq(m.unfinished_work_s, 5 + 3, 1e-9);
	cr_assert_float_eq(m.longest_running_s, 5, 1e-9);
	cr_assert_eq(hist_count(m.work_duration), 1);
	cr_assert_eq(hist_max(m.work_duration), 6 * SEC);
	snap_free(&m);
	wq_done(q, 3);
	wq_done(q, 2);
	m = snap(q);
	cr_assert_float_eq(m.unfinished_work_s, 0, 1e-12);
	cr_assert_float_eq(m.longest_running_s, 0, 1e-12);
	cr_assert_eq(hist_count(m.work_duration), 3);
	cr_assert_eq(hist_min(m.work_duration), 3 * SEC);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, depth_and_depth_max_follow_the_dirty_set)
{
	struct wq *q = mk(WQ_CLIENTGO);

	for (uint64_t k = 0; k < 7; k++)
		wq_add(q, k);
	for (int i = 0; i < 4; i++)
		must_get(q);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.depth, 3);
	cr_assert_eq(m.depth_max, 7);
	cr_assert_eq(m.adds, 7);
	snap_free(&m);
	wq_free(q);
}

Test(workqueue, metrics_off_keeps_counters_and_no_histograms)
{
	struct wq *q = wq_new(&(struct wq_opts){ .metrics_off = true });

	cr_assert_not_null(q);
	wq_add(q, 1);
	wq_add(q, 1);
	must_get(q);
	wq_done(q, 1);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.adds, 1);
	cr_assert_null(m.queue_duration);
	cr_assert_null(m.work_duration);
	wq_free(q);
}

Test(workqueue, bad_options_are_rejected)
{
	errno = 0;
	cr_assert_null(wq_new(&(struct wq_opts){ .kind = (enum wq_kind)7 }));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(wq_new(&(struct wq_opts){ .rl.qps = -3 }));
	wq_free(NULL);
}

/* ---- controller-runtime priority queue ---- */

Test(priorityqueue, hands_out_highest_priority_first_then_in_add_order)
{
	struct wq *q = mk(WQ_PRIORITY);
	int prio;
	uint64_t k;

	wq_add_priority(q, 1, 0);
	wq_add_priority(q, 2, 5);
	wq_add_priority(q, 3, WQ_LOW_PRIORITY);
	wq_add_priority(q, 4, 5);
	wq_add(q, 5);
	cr_assert_eq(wq_len(q), 5);
	uint64_t want[] = { 2, 4, 1, 5, 3 };
	int wantp[] = { 5, 5, 0, 0, WQ_LOW_PRIORITY };

	for (int i = 0; i < 5; i++) {
		cr_assert_eq(wq_get_priority(q, &k, &prio), 0);
		cr_assert_eq(k, want[i], "position %d: key %llu", i, (unsigned long long)k);
		cr_assert_eq(prio, wantp[i]);
	}
	assert_empty(q);
	wq_free(q);
}

Test(priorityqueue, a_repeated_add_keeps_the_highest_priority)
{
	struct wq *q = mk(WQ_PRIORITY);

	wq_add_priority(q, 1, WQ_LOW_PRIORITY);
	wq_add_priority(q, 2, 0);
	wq_add_priority(q, 1, 10);	/* raised */
	wq_add_priority(q, 2, -50);	/* not lowered */
	wq_add_priority(q, 3, 1);
	cr_assert_eq(wq_len(q), 3);
	cr_assert_eq(must_get(q), 1);
	cr_assert_eq(must_get(q), 3);
	cr_assert_eq(must_get(q), 2);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.adds, 3);
	snap_free(&m);
	wq_free(q);
}

Test(priorityqueue, delayed_keys_come_after_undelayed_ones_whatever_their_priority)
{
	struct wq *q = mk(WQ_PRIORITY);

	wq_add_opts(q, 1, &(struct wq_add_opts){ .after_ns = 1 * SEC, .priority = 100 });
	wq_add_opts(q, 2, &(struct wq_add_opts){ .after_ns = 2 * SEC, .priority = 0 });
	wq_add_opts(q, 3, &(struct wq_add_opts){ .after_ns = 2 * SEC, .priority = 9 });
	assert_empty(q);
	cr_assert_eq(wq_len(q), 0);
	at(5 * SEC);
	wq_add_priority(q, 4, WQ_LOW_PRIORITY);
	cr_assert_eq(wq_len(q), 4);
	cr_assert_eq(must_get(q), 4, "no delay sorts before any delay");
	cr_assert_eq(must_get(q), 1, "then ready time");
	cr_assert_eq(must_get(q), 3, "then priority");
	cr_assert_eq(must_get(q), 2);
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.retries, 3, "retries count adds with a delay");
	snap_free(&m);
	wq_free(q);
}

Test(priorityqueue, earliest_ready_time_wins_and_no_delay_beats_any_delay)
{
	struct wq *q = mk(WQ_PRIORITY);

	wq_add_after(q, 1, 10 * SEC);
	wq_add_after(q, 1, 3 * SEC);
	wq_add_after(q, 1, 7 * SEC);
	at(4 * SEC);
	cr_assert_eq(must_get(q), 1);
	wq_done(q, 1);
	at(20 * SEC);
	assert_empty(q);

	wq_add_after(q, 2, 10 * SEC);
	wq_add(q, 2);			/* clears the delay: one item, ready now */
	cr_assert_eq(must_get(q), 2);
	wq_done(q, 2);
	at(40 * SEC);
	assert_empty(q);	/* unlike client-go, the delayed entry was merged */
	wq_free(q);
}

Test(priorityqueue, add_while_processing_waits_for_done)
{
	struct wq *q = mk(WQ_PRIORITY);

	wq_add(q, 1);
	cr_assert_eq(must_get(q), 1);
	wq_add_priority(q, 1, 3);
	wq_add(q, 2);
	cr_assert_eq(wq_len(q), 2, "Len counts the processing key that is queued again");
	cr_assert_eq(must_get(q), 2, "a processing key is skipped");
	assert_empty(q);
	wq_done(q, 1);
	int prio;
	uint64_t k;

	cr_assert_eq(wq_get_priority(q, &k, &prio), 0);
	cr_assert_eq(k, 1);
	cr_assert_eq(prio, 3);
	assert_empty(q);
	wq_free(q);
}

Test(priorityqueue, rate_limited_adds_have_no_bucket)
{
	struct wq *q = mk(WQ_PRIORITY);

	for (uint64_t k = 1; k <= 10000; k++)
		wq_add_rate_limited(q, k);
	at(1 * SEC + 5 * MS - 1);
	cr_assert_eq(wq_len(q), 0);
	at(1 * SEC + 5 * MS);
	cr_assert_eq(wq_len(q), 10000, "all ready after the 5 ms base delay");
	for (uint64_t k = 1; k <= 10000; k++)
		cr_assert_eq(must_get(q), k);
	cr_assert_eq(wq_num_requeues(q, 10000), 1);
	wq_free(q);
}

Test(priorityqueue, rate_limited_with_after_takes_the_shorter_delay)
{
	struct wq *q = mk(WQ_PRIORITY);

	for (int i = 0; i < 6; i++)	/* 5..160 ms: the earliest, 5 ms, wins */
		wq_add_opts(q, 1, &(struct wq_add_opts){ .rate_limited = true });
	at(1 * SEC + 5 * MS);
	cr_assert_eq(must_get(q), 1);
	wq_done(q, 1);
	assert_empty(q);
	at(2 * SEC);
	/* The 7th failure wants 5 ms * 2^6 = 320 ms; After 100 ms is shorter. */
	wq_add_opts(q, 1, &(struct wq_add_opts){ .rate_limited = true, .after_ns = 100 * MS });
	at(2 * SEC + 100 * MS - 1);
	assert_empty(q);
	at(2 * SEC + 100 * MS);
	cr_assert_eq(must_get(q), 1);
	wq_done(q, 1);
	/* The 8th wants 640 ms, shorter than After 1 s. */
	wq_add_opts(q, 1, &(struct wq_add_opts){ .rate_limited = true, .after_ns = 1 * SEC });
	at(2 * SEC + 740 * MS - 1);
	assert_empty(q);
	at(2 * SEC + 740 * MS);
	cr_assert_eq(must_get(q), 1);
	cr_assert_eq(wq_num_requeues(q, 1), 8);
	wq_free(q);
}

Test(priorityqueue, adds_depth_and_queue_duration_start_when_a_key_becomes_ready)
{
	struct wq *q = mk(WQ_PRIORITY);

	wq_add_after(q, 1, 5 * SEC);	/* ready at 6 s */
	struct wq_metrics m = snap(q);

	cr_assert_eq(m.adds, 0);
	cr_assert_eq(m.depth, 0);
	cr_assert_eq(m.retries, 1);
	snap_free(&m);
	at(8 * SEC);
	m = snap(q);
	cr_assert_eq(m.adds, 1);
	cr_assert_eq(m.depth, 1);
	snap_free(&m);
	at(9 * SEC);
	must_get(q);
	at(10 * SEC);
	wq_done(q, 1);
	m = snap(q);
	cr_assert_eq(m.depth, 0);
	cr_assert_eq(hist_max(m.queue_duration), 3 * SEC, "from ready time, not from the add");
	cr_assert_eq(hist_max(m.work_duration), 1 * SEC);
	snap_free(&m);
	wq_free(q);
}

Test(priorityqueue, get_reports_shutdown_at_once_and_does_not_drain)
{
	struct wq *q = mk(WQ_PRIORITY);
	uint64_t k;

	wq_add(q, 1);
	wq_add(q, 2);
	cr_assert_eq(must_get(q), 1);
	wq_shutdown_with_drain(q);	/* controller-runtime: drain is plain shutdown */
	cr_assert(wq_shutting_down(q));
	cr_assert_eq(wq_get(q, &k), -ESHUTDOWN);
	cr_assert_eq(wq_try_get(q, &k), -ESHUTDOWN);
	wq_done(q, 1);
	wq_free(q);
}



/* ---- the never-two-getters rule under stress, for both queues ---- */

#define NKEYS 64
#define NWORKERS 6

struct stress {
	struct wq *q;
	atomic_int holder[NKEYS];
	atomic_long handed, violations, adds_left;
};

static void *stress_worker(void *arg)
{
	struct stress *s = arg;
	uint64_t k;

	while (wq_get(s->q, &k) == 0) {
		int zero = 0;

		if (k >= NKEYS || !atomic_compare_exchange_strong(&s->holder[k], &zero, 1))
			atomic_fetch_add(&s->violations, 1);
		atomic_fetch_add(&s->handed, 1);
		if (k % 5 == 0)
			sched_yield();
		if (k % 7 == 0 && atomic_load(&s->adds_left) > 0)
			wq_add(s->q, k);	/* re-add while processing: parks */
		atomic_store(&s->holder[k], 0);
		wq_forget(s->q, k);
		wq_done(s->q, k);
	}
	return NULL;
}

static void *stress_producer(void *arg)
{
	struct stress *s = arg;
	unsigned seed = 12345;

	while (atomic_fetch_sub(&s->adds_left, 1) > 0) {
		uint64_t k = (uint64_t)rand_r(&seed) % NKEYS;

		switch (k % 4) {
		case 0:
			wq_add_priority(s->q, k, (int)(k % 3));
			break;
		case 1:
			wq_add_after(s->q, k, (uint64_t)(rand_r(&seed) % 3) * 100000);
			break;
		default:
			wq_add(s->q, k);
		}
	}
	return NULL;
}

ParameterizedTestParameters(workqueue, stress)
{
	return both_kinds();
}

ParameterizedTest(struct kcase *c, workqueue, stress, .timeout = 120)
{
	static struct stress s;
	pthread_t w[NWORKERS], p[2];

	memset(&s, 0, sizeof(s));
	s.q = wq_new(&(struct wq_opts){ .kind = (enum wq_kind)c->kind });
	cr_assert_not_null(s.q);
	atomic_store(&s.adds_left, 500000);
	for (int i = 0; i < NWORKERS; i++)
		pthread_create(&w[i], NULL, stress_worker, &s);
	for (int i = 0; i < 2; i++)
		pthread_create(&p[i], NULL, stress_producer, &s);
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	/* Let the delayed entries (<= 0.2 ms) come due and everything settle. */
	for (int spins = 0; spins < 20000; spins++) {
		struct wq_metrics m;

		cr_assert_eq(wq_metrics_snapshot(s.q, &m), 0);
		snap_free(&m);
		if (!m.depth && m.unfinished_work_s == 0 && wq_len(s.q) == 0) {
			usleep(2000);
			cr_assert_eq(wq_metrics_snapshot(s.q, &m), 0);
			snap_free(&m);
			if (!m.depth && m.unfinished_work_s == 0)
				break;
		}
		usleep(1000);
	}
	wq_shutdown_with_drain(s.q);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(w[i], NULL);
	struct wq_metrics m = snap(s.q);

	cr_assert_eq(atomic_load(&s.violations), 0, "a key was held by two workers");
	cr_assert_gt(atomic_load(&s.handed), 0);
	cr_assert_eq(m.depth, 0, "every key added was handed out: depth %llu",
		     (unsigned long long)m.depth);
	cr_assert_eq(hist_count(m.queue_duration), (uint64_t)atomic_load(&s.handed));
	cr_assert_eq(hist_count(m.work_duration), (uint64_t)atomic_load(&s.handed));
	cr_assert_eq(m.adds, (uint64_t)atomic_load(&s.handed), "adds %llu handed %ld",
		     (unsigned long long)m.adds, atomic_load(&s.handed));
	cr_assert_eq(m.dropped, 0);
	snap_free(&m);
	wq_free(s.q);
}
