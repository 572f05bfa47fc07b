/* bench — one repetition of a scenario, end to end. See bench.h. */
#include "bench/bench.h"

#include <ctype.h>
#include <malloc.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/faults.h"
#include "bench/informer.h"
#include "bench/oracle.h"
#include "bench/store.h"
#include "bench/workload.h"
#include "bench/workqueue.h"
#include "reconperf/profiler.h"

#define MAX_STUCK 20

/* A controller instance: what a leader failover throws away. Each has its own view of the
 * workload (informers, queue), sharing the store, the client and the per-worker state. */
struct instance {
	struct run *r;
	struct wl_env env;
	struct informer *prim, *child;
	struct wq *q;
	struct controller *ctrl;
};

struct run {
	const struct scenario *sc;
	const struct workload *wl;
	const struct bench_hooks *hooks;
	struct wl_env env;	/* the template each instance copies */
	struct store *store;
	struct oracle *oracle;
	struct faults *faults;
	pthread_mutex_t imu;	/* guards inst against a restart while the sampler reads */
	struct instance inst;
	struct instance second;	/* a competing controller instance (conflict mode: instance) */
	struct ctrl_stats base;	/* counters of retired instances */
	struct hist *lat_base;	/* reconcile times of retired instances */
	uint64_t t_start;

	/* the objects the load generator wants to exist, dense */
	pthread_mutex_t wmu;	/* the fault scheduler picks from want too */
	uint64_t *want;
	size_t nwant, capwant;
	uint64_t next_name;
	uint64_t load_rng;
	uint64_t churn_ops, churn_ns, churn_lag_ns;	/* the writer's record */

	/* exact allocation counts, per worker */
	struct alloc_acc {
		uint64_t a0, b0, allocs, bytes, n;
	} *acc;

	/* time series */
	pthread_t sampler;
	bool sampler_on;
	_Atomic bool stop_sampler;
	struct bench_point *points;
	size_t npoints, cappoints;
	const char *phase;
	uint64_t depth_max;
	uint64_t retries_base, adds_base, relists_base;
	struct hist *qwait_base;
	bool restart_failed;
};

static uint64_t now_ns(void)
{
	return oracle_now_ns();
}

static bool interrupted(const struct run *r)
{
	return r->hooks->interrupted && *r->hooks->interrupted;
}

/* Waits for convergence in short slices so that an interrupt ends the wait. */
static int wait_converged(struct run *r, uint64_t deadline)
{
	for (;;) {
		uint64_t t = now_ns(), slice = t + 100000000ull;
		int rc;

		if (interrupted(r))
			return -EINTR;
		rc = oracle_wait(r->oracle, slice < deadline ? slice : deadline);
		if (rc == 0 || now_ns() >= deadline)
			return rc;
	}
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* ---- informer handlers: map events to keys, as controller-runtime's handlers do ----
 * They take the cached versions (no unpack per event): they read only uid, generation and
 * the owner reference. */

static void prim_add(void *arg, const struct objv *v, bool initial)
{
	struct instance *in = arg;

	if (initial)
		wq_add_priority(in->q, v->uid, -100);
	else
		wq_add(in->q, v->uid);
}

static void prim_update(void *arg, const struct objv *old, const struct objv *cur)
{
	struct instance *in = arg;

	/* GenerationChangedPredicate: status-only writes and resyncs do not enqueue. */
	if (in->r->sc->reconcile.generation_predicate && old->generation == cur->generation)
		return;
	wq_add(in->q, cur->uid);
}

static void prim_delete(void *arg, const struct objv *v, bool tombstone)
{
	struct instance *in = arg;

	(void)tombstone;
	wq_add(in->q, v->uid);
}

static void child_add(void *arg, const struct objv *v, bool initial)
{
	struct instance *in = arg;

	(void)initial;
	if (v->owner_uid)
		wq_add(in->q, v->owner_uid);
}

static void child_update(void *arg, const struct objv *old, const struct objv *cur)
{
	struct instance *in = arg;

	if (cur->owner_uid)
		wq_add(in->q, cur->owner_uid);
	if (old->owner_uid && old->owner_uid != cur->owner_uid)
		wq_add(in->q, old->owner_uid);
}

static void child_delete(void *arg, const struct objv *v, bool tombstone)
{
	child_add(arg, v, tombstone);
}

/* ---- the reconcile wrapper: exact allocation counts around the workload ---- */

static void reconcile_cb(void *arg, unsigned worker, uint64_t key, struct ctrl_result *res)
{
	struct instance *in = arg;

	faults_maybe_stall(in->r->faults, worker);	/* a hung worker hangs inside reconcile */
	in->r->wl->reconcile(&in->env, worker, key, res);
}

static void before_cb(void *arg, unsigned worker, uint64_t key)
{
	struct run *r = arg;
	const struct ctrl_hooks *h = &r->hooks->ctrl;

	if (r->hooks->phase)
		r->hooks->phase("reconcile");
	if (r->acc)
		r->hooks->alloc_counters(&r->acc[worker].a0, &r->acc[worker].b0);
	if (h->before)
		h->before(h->arg, worker, key);
}

static void after_cb(void *arg, unsigned worker, uint64_t key)
{
	struct run *r = arg;
	const struct ctrl_hooks *h = &r->hooks->ctrl;

	if (h->after)
		h->after(h->arg, worker, key);
	if (r->acc) {
		uint64_t a, b;
		r->hooks->alloc_counters(&a, &b);
		r->acc[worker].allocs += a - r->acc[worker].a0;
		r->acc[worker].bytes += b - r->acc[worker].b0;
		r->acc[worker].n++;
	}
	if (r->hooks->phase)
		r->hooks->phase("queue");
}

static void start_cb(void *arg, unsigned worker)
{
	struct run *r = arg;

	if (r->hooks->phase)
		r->hooks->phase("queue");
	if (r->hooks->ctrl.worker_start)
		r->hooks->ctrl.worker_start(r->hooks->ctrl.arg, worker);
}

static void stop_cb(void *arg, unsigned worker)
{
	struct run *r = arg;

	if (r->hooks->ctrl.worker_stop)
		r->hooks->ctrl.worker_stop(r->hooks->ctrl.arg, worker);
}

/* ---- controller instances ---- */

static int instance_start(struct run *r, struct instance *in, bool hooks, char *err,
			  size_t errlen)
{
	const struct scenario *sc = r->sc;
	struct wq_opts qo = {
		.kind = sc->queue.kind == SC_Q_PRIORITY ? WQ_PRIORITY : WQ_CLIENTGO,
		.size_hint = sc->objects < UINT32_MAX ? (uint32_t)sc->objects : UINT32_MAX,
		.rl = {
			.kind = (enum rl_kind)sc->queue.limiter,
			.base_delay_ns = sc->queue.base_delay_ns,
			.max_delay_ns = sc->queue.max_delay_ns,
			.qps = sc->queue.qps,
			.burst = sc->queue.burst,
		},
	};
	struct ctrl_opts co = {
		.name = r->wl->name,
		.workers = sc->workers,
		.reconcile = reconcile_cb,
		.arg = in,
	};
	int rc;

	if (hooks)
		co.hooks = (struct ctrl_hooks){ start_cb, stop_cb, before_cb, after_cb, r };
	else
		co.first_worker = sc->workers;	/* the competing instance: its own worker slots */
	in->r = r;
	in->env = r->env;
	in->q = wq_new(&qo);
	if (!in->q)
		return -ENOMEM;
	co.queue = in->q;
	if (r->store) {
		struct informer_opts io = { .kind = r->wl->kind, .resync_ns = sc->resync_ns,
					    .backoff_min_ns = 10000000ull,
					    .backoff_max_ns = 1000000000ull };
		struct informer_handler ph = { .arg = in, .on_add_v = prim_add,
					       .on_update_v = prim_update,
					       .on_delete_v = prim_delete };

		in->prim = informer_new(r->store, &io);
		if (!in->prim || informer_add_handler(in->prim, &ph))
			return -ENOMEM;
		if (r->wl->child_kind) {
			struct informer_handler ch = { .arg = in, .on_add_v = child_add,
						       .on_update_v = child_update,
						       .on_delete_v = child_delete };
			io.kind = r->wl->child_kind;
			in->child = informer_new(r->store, &io);
			if (!in->child || informer_add_handler(in->child, &ch))
				return -ENOMEM;
		}
		in->env.prim = in->prim;
		in->env.child = in->child;
		if (r->wl->init && (rc = r->wl->init(&in->env)) != 0) {
			snprintf(err, errlen, "workload '%s' failed to start: %s", r->wl->name,
				 rc == -ENOEXEC ? "cannot load the plugin" : strerror(-rc));
			return rc;
		}
	}
	rc = ctrl_new(&co, &in->ctrl);
	if (rc)
		return rc;
	rc = ctrl_start(in->ctrl);
	if (rc)
		return rc;
	if (in->child && (rc = informer_start(in->child)))
		return rc;
	if (in->prim && (rc = informer_start(in->prim)))
		return rc;
	return 0;
}

/* Stops an instance's threads; its counters stay readable until instance_retire(). */
static void instance_stop(struct instance *in)
{
	if (in->prim)
		informer_stop(in->prim);
	if (in->child)
		informer_stop(in->child);
	if (in->ctrl)
		ctrl_stop(in->ctrl, false);
	if (in->r && in->r->wl->fini && in->r->store)
		in->r->wl->fini(&in->env);
}

static void instance_free(struct instance *in)
{
	ctrl_free(in->ctrl);
	informer_free(in->prim);
	informer_free(in->child);
	wq_free(in->q);
	memset(in, 0, sizeof(*in));
}

static void stats_add(struct ctrl_stats *t, const struct ctrl_stats *st)
{
	t->reconciles += st->reconciles;
	for (int i = 0; i < BR__COUNT; i++)
		t->results[i] += st->results[i];
	t->errors += st->errors;
	t->terminal += st->terminal;
	t->panics += st->panics;
	t->concurrent += st->concurrent;
	t->busy_ns += st->busy_ns;
	t->overhead_ns += st->overhead_ns;
}

/* Folds a stopped instance's counters and latencies into the run's and frees it (a
 * restarted controller starts from nothing but the run keeps counting). */
static void instance_retire(struct run *r, struct instance *in)
{
	struct ctrl_stats st;
	struct wq_metrics wm;

	if (in->ctrl) {
		ctrl_stats(in->ctrl, &st);
		stats_add(&r->base, &st);
		hist_merge(r->lat_base, ctrl_latency(in->ctrl));
	}
	if (in->q && wq_metrics_snapshot(in->q, &wm) == 0) {
		hist_merge(r->qwait_base, wm.queue_duration);
		hist_free(wm.queue_duration);
		hist_free(wm.work_duration);
		r->retries_base += wm.retries;
		r->adds_base += wm.adds;
		if (wm.depth_max > r->depth_max)
			r->depth_max = wm.depth_max;
	}
	if (in->prim)
		r->relists_base += informer_relists(in->prim);
	instance_free(in);
}

/* ---- what the fault injector acts on ---- */

static void restart_cb(void *arg)
{
	struct run *r = arg;
	char err[256];

	/* The old leader dies: its informers, queue and workers go; a new one lists from
	 * scratch. Nothing in the store changes. */
	pthread_mutex_lock(&r->imu);
	instance_stop(&r->inst);
	instance_retire(r, &r->inst);
	if (instance_start(r, &r->inst, true, err, sizeof(err)) != 0)
		r->restart_failed = true;
	pthread_mutex_unlock(&r->imu);
}

static void break_watches_cb(void *arg)
{
	struct run *r = arg;

	pthread_mutex_lock(&r->imu);
	if (r->inst.prim)
		informer_break_watch(r->inst.prim);
	if (r->inst.child)
		informer_break_watch(r->inst.child);
	pthread_mutex_unlock(&r->imu);
}

static uint64_t pick_cb(void *arg, uint64_t rnd)
{
	struct run *r = arg;
	uint64_t uid = 0;

	pthread_mutex_lock(&r->wmu);
	if (r->nwant)
		uid = r->want[rnd % r->nwant];
	pthread_mutex_unlock(&r->wmu);
	return uid;
}

static void instance_totals(struct run *r, struct ctrl_stats *t)
{
	struct ctrl_stats st;

	*t = r->base;
	if (r->inst.ctrl) {
		ctrl_stats(r->inst.ctrl, &st);
		stats_add(t, &st);
	}
	if (r->second.ctrl) {
		ctrl_stats(r->second.ctrl, &st);
		stats_add(t, &st);
	}
}

/* ---- the time-series sampler ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* the sanitizer runtime's own count (sanitizer/allocator_interface.h, not shipped with gcc) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Memory of the whole process: malloc's live bytes (what a leak grows) and the resident
 * set (which also holds what the allocator keeps cached after frees). */
static void sample_memory(struct bench_point *p)
{
	unsigned long pages = 0, resident = 0;
	FILE *fp = fopen("/proc/self/statm", "re");

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* the sanitizer's allocator owns the heap here; glibc's counters stay near zero */
	p->heap_bytes = __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	p->heap_bytes = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
#endif
	p->rss_bytes = 0;
	if (fp) {
		if (fscanf(fp, "%lu %lu", &pages, &resident) == 2)
			p->rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(fp);
	}
}

static void *sampler_main(void *arg)
{
	struct run *r = arg;
	uint64_t interval = r->sc->sample_interval_ns ? r->sc->sample_interval_ns : 100000000ull;
	uint64_t last_t = now_ns(), last_n = 0;

	while (!atomic_load(&r->stop_sampler)) {
		struct timespec ts = { (time_t)(interval / 1000000000ull),
				       (long)(interval % 1000000000ull) };
		struct ctrl_stats st;
		struct bench_point p;
		uint64_t t;

		nanosleep(&ts, NULL);
		sample_memory(&p);
		pthread_mutex_lock(&r->imu);
		instance_totals(r, &st);
		t = now_ns();
		p.t_ns = t - r->t_start;
		p.reconciles_per_s = t > last_t ? (double)(st.reconciles - last_n) * 1e9 /
							(double)(t - last_t) : 0;
		p.depth = r->inst.q ? wq_len(r->inst.q) : 0;
		p.unconverged = r->oracle ? oracle_unconverged(r->oracle) : 0;
		if (p.depth > r->depth_max)
			r->depth_max = p.depth;
		if (r->npoints == r->cappoints) {
			size_t cap = r->cappoints ? r->cappoints * 2 : 256;
			struct bench_point *v = realloc(r->points, cap * sizeof(*v));
			if (v) {
				r->points = v;
				r->cappoints = cap;
			}
		}
		if (r->npoints < r->cappoints)
			r->points[r->npoints++] = p;
		pthread_mutex_unlock(&r->imu);
		last_t = t;
		last_n = st.reconciles;
		if (r->hooks->progress) {
			struct bench_progress pr = { p.t_ns, st.reconciles, p.depth, p.unconverged,
						     r->phase };
			r->hooks->progress(r->hooks->progress_arg, &pr);
		}
	}
	return NULL;
}

/* ---- the load generator ---- */

static int want_push(struct run *r, uint64_t uid)
{
	int err = 0;

	pthread_mutex_lock(&r->wmu);
	if (r->nwant == r->capwant) {
		size_t cap = r->capwant ? r->capwant * 2 : 1024;
		uint64_t *v = realloc(r->want, cap * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		r->want = v;
		r->capwant = cap;
	}
	r->want[r->nwant++] = uid;
out:
	pthread_mutex_unlock(&r->wmu);
	return err;
}

static void name_obj(struct run *r, struct obj *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	snprintf(o->kind, sizeof(o->kind), "%s", r->wl->kind);
	snprintf(o->ns, sizeof(o->ns), "default");
	snprintf(o->name, sizeof(o->name), "%s-%06llu", r->wl->kind,
		 (unsigned long long)r->next_name++);
	for (i = 0; o->name[i]; i++)
		o->name[i] = (char)tolower((unsigned char)o->name[i]);
}

static int create_one(struct run *r)
{
	struct obj o;
	int err;

	name_obj(r, &o);
	r->wl->make(&r->env, r->next_name - 1, &o);
	err = store_create(r->store, &o);
	if (!err)
		err = want_push(r, o.uid);
	obj_fini(&o);
	return err;
}

/* Only the load generator changes want (under wmu); it may read it without the lock. */
static uint64_t pick_wanted(struct run *r)
{
	return r->nwant ? r->want[wl_rand(&r->load_rng) % r->nwant] : 0;
}

static int update_one(struct run *r)
{
	uint64_t uid = pick_wanted(r);
	int err = -EBUSY;

	for (int attempt = 0; uid && err == -EBUSY && attempt < 5; attempt++) {
		struct obj o;

		err = store_get_uid(r->store, uid, &o);
		if (err)
			return err == -ENOENT ? 0 : err;
		r->wl->mutate(&r->env, &o, &r->load_rng);
		err = store_update(r->store, &o);
		obj_fini(&o);
	}
	return err == -EBUSY ? 0 : err;
}

static int delete_one(struct run *r)
{
	struct obj o;
	size_t i;
	int err;

	if (!r->nwant)
		return 0;
	i = wl_rand(&r->load_rng) % r->nwant;
	err = store_get_uid(r->store, r->want[i], &o);
	if (!err) {
		err = store_delete(r->store, o.kind, o.ns, o.name, 0);
		obj_fini(&o);
	}
	/* The set stays dense (swap with the last), so every delete deletes something and the
	 * asked delete rate is the real one. */
	pthread_mutex_lock(&r->wmu);
	r->want[i] = r->want[--r->nwant];
	pthread_mutex_unlock(&r->wmu);
	return err == -ENOENT ? 0 : err;
}

/* Open-loop churn: operations are due at fixed intervals of the asked rates, whatever the
 * controller does; when the generator falls behind it catches up as fast as it can. */
static int churn(struct run *r, uint64_t duration_ns)
{
	const struct scenario *sc = r->sc;
	double rates[3] = { sc->churn.creates_per_s, sc->churn.updates_per_s,
			    sc->churn.deletes_per_s };
	double next[3] = { 0, 0, 0 };
	uint64_t t0 = now_ns(), end = t0 + duration_ns;
	int err = 0;

	for (;;) {
		uint64_t t = now_ns();
		double el = (double)(t - t0);
		int did = 0;

		if (t >= end || interrupted(r))
			break;
		for (int k = 0; k < 3 && !err; k++) {
			if (rates[k] <= 0)
				continue;
			if (next[k] < el && el - next[k] > (double)r->churn_lag_ns)
				r->churn_lag_ns = (uint64_t)(el - next[k]);
			while (next[k] <= el && !err) {
				oracle_perturb(r->oracle, 0, NULL, NULL);
				err = k == 0 ? create_one(r) : k == 1 ? update_one(r) : delete_one(r);
				next[k] += 1e9 / rates[k];
				r->churn_ops++;
				if (++did >= 64)
					break;
			}
		}
		if (err)
			return err;
		if (!did) {
			double soonest = 1e18;
			for (int k = 0; k < 3; k++)
				if (rates[k] > 0 && next[k] < soonest)
					soonest = next[k];
			uint64_t wait = soonest > el ? (uint64_t)(soonest - el) : 0;
			if (wait > end - t)
				wait = end - t;
			if (wait > 1000000)
				wait = 1000000;
			struct timespec ts = { 0, (long)wait };
			nanosleep(&ts, NULL);
		}
	}
	r->churn_ns = now_ns() - t0;
	return 0;
}

/* ---- queue mode: one producer, keys round-robin, as the client-go benchmark ---- */

/*
 * When (nearly) every key is already queued, more Adds would only collapse: the producer
 * sleeps until the workers have drained half the keys, instead of spinning on no-op Adds
 * (on a 2-CPU machine a spinning producer takes a third of it from the workers, and its
 * reads of the queue's lines slow every worker). The queue stays between half and nearly
 * full, so the workers never run dry.
 */
static void queue_mode_wait(struct run *r, uint64_t n, uint64_t end)
{
	struct timespec ts = { 0, 50000 };

	if (wq_depth_hint(r->inst.q) + n / 64 < n)
		return;
	while (wq_depth_hint(r->inst.q) > n / 2 && now_ns() < end && !interrupted(r))
		nanosleep(&ts, NULL);
}

static void run_queue_mode(struct run *r)
{
	const struct scenario *sc = r->sc;
	uint64_t n = sc->objects ? sc->objects : 1;
	uint64_t end = now_ns() + (sc->duration_ns ? sc->duration_ns : 1000000000ull);
	uint64_t k = 0;

	while (now_ns() < end && !interrupted(r)) {
		queue_mode_wait(r, n, end);
		for (int i = 0; i < 1024; i++) {
			wq_add(r->inst.q, k + 1);
			if (++k == n)
				k = 0;
		}
	}
	wq_shutdown_with_drain(r->inst.q);
}

/* ---- results ---- */

static void count_lost(struct run *r, struct bench_run *br)
{
	for (size_t i = 0; i < r->nwant; i++) {
		struct obj o;

		if (store_get_uid(r->store, r->want[i], &o) != 0) {
			br->convergence.lost_objects++;
			continue;
		}
		obj_fini(&o);
	}
}

/* Every instance has been retired: all counters are in the run's bases. */
static int fill_result(struct run *r, struct bench_run *br, uint64_t t_end, uint64_t cpu0)
{
	const struct scenario *sc = r->sc;
	const struct ctrl_stats *st = &r->base;

	snprintf(br->name, sizeof(br->name), "%s", sc->name);
	br->objects = sc->objects;
	br->workers = sc->workers;
	br->wall_ns = t_end - r->t_start;
	br->cpu_ns = cpu_ns() - cpu0;
	br->reconciles = st->reconciles;
	br->churn.offered_per_s = sc->churn.creates_per_s + sc->churn.updates_per_s +
				  sc->churn.deletes_per_s;
	br->churn.ops = r->churn_ops;
	br->churn.done_per_s = r->churn_ns ? (double)r->churn_ops * 1e9 / (double)r->churn_ns : 0;
	br->churn.max_lag_ns = r->churn_lag_ns;
	br->per_second = br->wall_ns ? (double)st->reconciles * 1e9 / (double)br->wall_ns : 0;
	memcpy(br->results, st->results, sizeof(br->results));
	br->reconcile_errors = st->errors;
	br->terminal_errors = st->terminal;
	br->panics = st->panics;
	br->convergence.concurrent_reconciles = st->concurrent;
	br->latency = hist_dup(r->lat_base);
	br->queue_wait = hist_dup(r->qwait_base);
	if (!br->latency || !br->queue_wait)
		return -ENOMEM;
	br->retries = r->retries_base;
	br->wq.adds = r->adds_base;
	br->wq.depth_max = r->depth_max;
	br->relists = r->relists_base;
	if (r->env.client) {
		struct client_counters cc;
		client_counters(r->env.client, &cc);
		br->conflicts = cc.conflicts;
		br->api_errors = cc.surfaced;
		br->api_retried = cc.retried;
	}
	if (st->reconciles)
		br->harness_ns_per_reconcile = (double)st->overhead_ns / (double)st->reconciles;
	if (r->acc) {
		uint64_t a = 0, b = 0, n = 0;
		for (unsigned w = 0; w < sc->workers; w++) {
			a += r->acc[w].allocs;
			b += r->acc[w].bytes;
			n += r->acc[w].n;
		}
		if (n) {
			br->allocs_per_reconcile = (double)a / (double)n;
			br->bytes_per_reconcile = (double)b / (double)n;
		}
	}
	if (r->store) {
		size_t objs = store_count(r->store, NULL);
		if (objs)
			br->bytes_per_object = (double)store_bytes(r->store) / (double)objs;
	}
	br->points = r->points;
	br->npoints = r->npoints;
	r->points = NULL;
	r->npoints = 0;
	return faults_report(r->faults, br);
}

static int setup_env(struct run *r, int repetition)
{
	const struct scenario *sc = r->sc;

	r->env.sc = sc;
	r->env.wl = r->wl;
	/* two slots per worker: a competing controller instance has its own workers */
	r->env.rng = calloc(2 * (size_t)sc->workers, sizeof(*r->env.rng));
	r->lat_base = hist_new();
	r->qwait_base = hist_new();
	if (!r->env.rng || !r->lat_base || !r->qwait_base)
		return -ENOMEM;
	for (unsigned w = 0; w < 2 * sc->workers; w++)
		r->env.rng[w] = (sc->seed + 1) * 0x9E3779B97F4A7C15ull + w * 7919 +
				(uint64_t)repetition * 104729 + 1;
	r->load_rng = (sc->seed + 11) * 0xD1B54A32D192ED03ull + (uint64_t)repetition + 1;
	if (r->hooks->alloc_counters) {
		r->acc = calloc(sc->workers, sizeof(*r->acc));
		if (!r->acc)
			return -ENOMEM;
	}
	return 0;
}

static void stop_sampler(struct run *r)
{
	if (r->sampler_on) {
		atomic_store(&r->stop_sampler, true);
		pthread_join(r->sampler, NULL);
		r->sampler_on = false;
	}
}

/* Every exit path: threads joined, memory freed. */
static void run_cleanup(struct run *r)
{
	stop_sampler(r);
	faults_stop(r->faults);
	instance_stop(&r->inst);
	instance_stop(&r->second);
	instance_free(&r->inst);
	instance_free(&r->second);
	faults_free(r->faults);
	if (r->store)
		store_set_commit_hook(r->store, NULL, NULL);
	oracle_free(r->oracle);	/* first: it holds stored versions, which count in the store */
	store_free(r->store);
	client_free(r->env.client);
	free(r->env.rng);
	free(r->acc);
	free(r->want);
	free(r->points);
	hist_free(r->lat_base);
	hist_free(r->qwait_base);
	pthread_mutex_destroy(&r->imu);
	pthread_mutex_destroy(&r->wmu);
}

/* Builds the store, the client, the oracle, the faults and the initial objects. */
static int setup_world(struct run *r, int repetition, char *err, size_t errlen)
{
	const struct scenario *sc = r->sc;
	struct store_opts so = { .watch_history = sc->watch_history };
	struct fault_env fe = { .arg = r, .restart = restart_cb, .break_watches = break_watches_cb,
				.pick_primary = pick_cb, .workers = 2 * sc->workers };
	int rc;

	r->store = store_new(&so);
	if (!r->store)
		return -ENOMEM;
	r->env.store = r->store;
	rc = client_new(r->store, 2 * sc->workers, &r->env.client);
	if (rc)
		return rc;
	rc = oracle_new(r->wl, &r->env, &r->oracle);
	if (rc)
		return rc;
	fe.store = r->store;
	fe.oracle = r->oracle;
	rc = faults_new(sc, repetition, &fe, &r->faults, err, errlen);
	if (rc)
		return rc;
	if (faults_any(r->faults))
		client_set_faults(r->env.client, faults_client_hook, r->faults);
	if (r->hooks->phase)
		client_set_phase(r->env.client, r->hooks->phase, "reconcile");
	store_set_commit_hook_v(r->store, oracle_on_commit_v, r->oracle);
	/* The objects exist before the controller starts: its start is a storm. */
	for (uint64_t i = 0; i < sc->objects && !rc; i++)
		rc = create_one(r);
	if (rc)
		snprintf(err, errlen, "creating the initial objects: %s", strerror(-rc));
	return rc;
}

/* e2e: churn, wait for the fault schedule, then for convergence or the deadline. */
static int drive_e2e(struct run *r, struct bench_run *br, char *err, size_t errlen)
{
	const struct scenario *sc = r->sc;
	uint64_t lp, lc;
	int rc;

	if (sc->duration_ns && (rc = churn(r, sc->duration_ns)) != 0) {
		snprintf(err, errlen, "load generator: %s", strerror(-rc));
		return rc;
	}
	faults_wait_schedule(r->faults, r->hooks->interrupted);
	r->phase = "converge";
	rc = wait_converged(r, now_ns() + sc->deadline_ns);
	if (rc == -EINTR)
		return rc;
	br->convergence.converged = rc == 0 && !r->restart_failed;
	faults_stop(r->faults);
	oracle_finish(r->oracle);
	oracle_times(r->oracle, &lp, &lc);
	if (rc == 0)
		br->convergence.time_ns = lc > lp ? lc - lp : 0;
	else
		oracle_stuck(r->oracle, &br->convergence.stuck, &br->convergence.nstuck,
			     MAX_STUCK);
	return 0;
}

int bench_run(const struct scenario *sc, int repetition, const struct bench_hooks *hooks,
	      struct bench_run **out, char *err, size_t errlen)
{
	static const struct bench_hooks no_hooks;
	struct run r = { .sc = sc, .hooks = hooks ? hooks : &no_hooks, .phase = "load" };
	struct bench_run *br = NULL;
	uint64_t cpu0, t_end;
	int rc;

	*out = NULL;
	pthread_mutex_init(&r.imu, NULL);
	pthread_mutex_init(&r.wmu, NULL);
	r.wl = workload_find(sc->workload);
	rc = r.wl ? setup_env(&r, repetition) : -EINVAL;
	if (!rc && sc->mode == SC_MODE_E2E)
		rc = setup_world(&r, repetition, err, errlen);
	if (!rc && !(br = bench_run_new()))
		rc = -ENOMEM;
	if (rc)
		goto out;
	br->repetition = repetition;
	cpu0 = cpu_ns();
	r.t_start = now_ns();
	if (r.oracle)
		oracle_perturb(r.oracle, 0, NULL, NULL);
	rc = instance_start(&r, &r.inst, true, err, errlen);
	if (!rc && faults_want_second_instance(r.faults))
		rc = instance_start(&r, &r.second, false, err, errlen);
	if (!rc && r.faults)
		rc = faults_start(r.faults, r.t_start);
	if (rc) {
		if (!*err)
			snprintf(err, errlen, "starting the controller: %s", strerror(-rc));
		goto out;
	}
	if (pthread_create(&r.sampler, NULL, sampler_main, &r) == 0)
		r.sampler_on = true;
	if (sc->mode == SC_MODE_QUEUE) {
		run_queue_mode(&r);
		br->convergence.converged = true;
	} else if ((rc = drive_e2e(&r, br, err, errlen)) != 0) {
		goto out;
	}
	t_end = now_ns();
	stop_sampler(&r);
	if (interrupted(&r)) {
		rc = -EINTR;
		goto out;
	}
	pthread_mutex_lock(&r.imu);
	instance_stop(&r.inst);
	instance_stop(&r.second);
	instance_retire(&r, &r.inst);
	instance_retire(&r, &r.second);
	pthread_mutex_unlock(&r.imu);
	if (r.store)
		count_lost(&r, br);
	rc = fill_result(&r, br, t_end, cpu0);
	if (rc)
		goto out;
	*out = br;
	br = NULL;
out:
	if (rc == -EINTR)
		snprintf(err, errlen, "interrupted");
	bench_run_free(br);
	run_cleanup(&r);
	return rc;
}

/* ---- profiler labels ---- */

/* Twice per reconcile: one thread-local load and one store (see prof_label_cell). */
static void label_phase(const char *phase)
{
	static __thread const char *volatile *cell;

	if (!cell)
		cell = prof_label_cell("phase");
	if (cell)
		*cell = phase;
}

static void label_worker(void *arg, unsigned worker)
{
	(void)worker;
	prof_label_set("controller", arg);
}

void bench_hooks_label(struct bench_hooks *h, const char *controller)
{
	h->phase = label_phase;
	h->ctrl.worker_start = label_worker;
	h->ctrl.arg = (void *)controller;
}
