/* The controller's outcome rules (controller-runtime's) and its one-key-one-worker check. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench/controller.h"
#include "bench/workqueue.h"

struct fixture {
	_Atomic int calls[64];
	_Atomic int inflight[64];
	_Atomic int overlap;
	enum ctrl_outcome outcome;
	int panic_key;
	uint64_t after_ns;
};

static void rec(void *arg, unsigned worker, uint64_t key, struct ctrl_result *res)
{
	struct fixture *f = arg;
	(void)worker;
	if (atomic_fetch_add(&f->inflight[key % 64], 1) != 0)
		atomic_fetch_add(&f->overlap, 1);
	atomic_fetch_add(&f->calls[key % 64], 1);
	if ((int)key == f->panic_key) {
		atomic_fetch_sub(&f->inflight[key % 64], 1);
		ctrl_panic();
	}
	struct timespec ts = { 0, 20000 };
	nanosleep(&ts, NULL);
	res->outcome = f->outcome;
	res->after_ns = f->after_ns;
	atomic_fetch_sub(&f->inflight[key % 64], 1);
}

static struct wq *queue(void)
{
	struct wq_opts o = { .kind = WQ_CLIENTGO,
			     .rl = { .kind = RL_EXPONENTIAL, .base_delay_ns = 1000000,
				     .max_delay_ns = 1000000 } };
	return wq_new(&o);
}

static void run(struct fixture *f, unsigned workers, void (*feed)(struct wq *), int settle_ms,
		struct ctrl_stats *st)
{
	struct wq *q = queue();
	struct controller *c;
	struct ctrl_opts o = { .name = "t", .workers = workers, .queue = q, .reconcile = rec,
			       .arg = f };
	cr_assert_eq(ctrl_new(&o, &c), 0);
	cr_assert_eq(ctrl_start(c), 0);
	feed(q);
	usleep((useconds_t)settle_ms * 1000);
	ctrl_stop(c, false);
	ctrl_stats(c, st);
	cr_assert_eq(hist_count(ctrl_latency(c)), st->reconciles);
	ctrl_free(c);
	wq_free(q);
}

static void feed_one(struct wq *q) { wq_add(q, 1); }

Test(controller, success_reconciles_once_and_forgets)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_SUCCESS;
	f.panic_key = -1;
	run(&f, 2, feed_one, 100, &st);
	cr_assert_eq(f.calls[1], 1);
	cr_assert_eq(st.results[BR_SUCCESS], 1);
	cr_assert_eq(st.errors, 0);
}

Test(controller, error_requeues_with_backoff_until_stopped)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_ERROR;
	f.panic_key = -1;
	run(&f, 2, feed_one, 200, &st);
	cr_assert_gt(f.calls[1], 3, "an erroring key must be retried, got %d calls", f.calls[1]);
	cr_assert_eq(st.results[BR_ERROR], (uint64_t)f.calls[1]);
	cr_assert_eq(st.errors, (uint64_t)f.calls[1]);
}

Test(controller, terminal_error_is_not_requeued)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_TERMINAL;
	f.panic_key = -1;
	run(&f, 2, feed_one, 100, &st);
	cr_assert_eq(f.calls[1], 1);
	cr_assert_eq(st.terminal, 1);
	cr_assert_eq(st.errors, 1);
}

Test(controller, requeue_after_comes_back_after_the_delay)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_REQUEUE_AFTER;
	f.after_ns = 30000000;	/* 30 ms */
	f.panic_key = -1;
	run(&f, 1, feed_one, 200, &st);
	/* ~200 ms / 30 ms: between 3 and 8 calls whatever the machine's load */
	cr_assert_geq(f.calls[1], 3);
	cr_assert_leq(f.calls[1], 8);
	cr_assert_eq(st.results[BR_REQUEUE_AFTER], (uint64_t)f.calls[1]);
}

static void feed_panic(struct wq *q) { wq_add(q, 7); wq_add(q, 8); }

Test(controller, panic_is_recovered_counted_and_retried)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_SUCCESS;
	f.panic_key = 7;
	run(&f, 2, feed_panic, 150, &st);
	cr_assert_gt(st.panics, 1, "a panicking key is retried, and panics again");
	cr_assert_eq(f.calls[8], 1, "other keys are unaffected");
	cr_assert_eq(st.results[BR_SUCCESS], 1);
}

/* Adds every key again while earlier adds are still being processed, so keys come back
 * through the dirty-while-processing path many times. */
static void feed_storm(struct wq *q)
{
	for (int round = 0; round < 200; round++) {
		for (uint64_t k = 0; k < 16; k++)
			wq_add(q, k);
		usleep(200);
	}
}

Test(controller, a_key_is_never_in_two_workers_at_once)
{
	static struct fixture f;
	struct ctrl_stats st;
	memset(&f, 0, sizeof(f));
	f.outcome = CTRL_SUCCESS;
	f.panic_key = -1;
	run(&f, 8, feed_storm, 300, &st);
	cr_assert_eq(f.overlap, 0);
	cr_assert_eq(st.concurrent, 0);
	cr_assert_gt(st.reconciles, 16);
}
