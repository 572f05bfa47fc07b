/* faults — parsing, scheduling and injecting faults. See faults.h. */
#include "bench/faults.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/units.h"

enum ftype { F_API_LATENCY, F_API_ERROR, F_CONFLICT, F_STATUS_TAMPER, F_WATCH_DROP,
	     F_WRITE_FAIL, F_RESTART, F_WORKER_STALL, F__COUNT };
enum dist { D_FIXED, D_UNIFORM, D_EXPONENTIAL, D_LOGNORMAL };
enum ekind { E_SERVER, E_THROTTLE, E_TIMEOUT };

static const struct ftype_info {
	const char *name;
	bool scheduled;
	const char *keys;	/* allowed parameter keys, space separated */
} finfo[F__COUNT] = {
	[F_API_LATENCY] = { "api_latency", false, "probability verbs dist value min max mean sigma" },
	[F_API_ERROR] = { "api_error", false, "probability verbs kind retry_after applied_probability" },
	[F_CONFLICT] = { "conflict", false, "probability mode" },
	[F_STATUS_TAMPER] = { "status_tamper", true, "at every rate start until count" },
	[F_WATCH_DROP] = { "watch_drop", true, "at every rate start until count compact_probability" },
	[F_WRITE_FAIL] = { "write_fail", true, "at every rate start until count duration retry_after" },
	[F_RESTART] = { "restart", true, "at every rate start until count" },
	[F_WORKER_STALL] = { "worker_stall", true, "at every rate start until count duration worker" },
};

struct fault {
	enum ftype type;
	double probability;
	unsigned verbs;		/* bit per client_verb */
	enum dist dist;
	uint64_t value, min, max, mean;
	double sigma;
	enum ekind ekind;
	uint64_t retry_after;
	double applied_probability, compact_probability;
	uint64_t duration;
	int worker;		/* -1 = any */
	bool second_instance;	/* conflict mode: instance */
	/* schedule (scheduled faults) */
	uint64_t *times;
	size_t ntimes;
	/* results */
	_Atomic uint64_t injected;
	uint64_t failed;		/* under the oracle lock */
	struct hist *converge;		/* under the oracle lock */
};

struct event {
	uint64_t t;
	int fault;
};

struct faults {
	struct fault_env env;
	const struct scenario *sc;
	struct fault *f;
	size_t n;
	struct event *ev;
	size_t nev;
	uint64_t *rng;			/* [workers + 1] per-call decisions */
	uint64_t sched_rng;
	_Atomic uint64_t *stall_ns;	/* [workers] */
	_Atomic uint64_t write_fail_until;
	_Atomic uint64_t watch_down_until;	/* watch requests fail until then */
	_Atomic uint64_t write_fail_retry_after;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	_Atomic size_t fired;
	uint64_t t0;
};

static uint64_t now_ns(void)
{
	return oracle_now_ns();
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static double rnd01(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- parsing ---- */

static int bad(char *err, size_t len, const struct scenario *sc, const struct sc_fault *sf,
	       int line, int col, const char *fmt, const char *a, const char *b)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, a, b);
	if (line > 0)
		snprintf(err, len, "%s:%d:%d: fault '%s': %s", sc->file, line, col, sf->type, msg);
	else
		snprintf(err, len, "--fault '%s': %s", sf->type, msg);
	return -EINVAL;
}

static bool key_allowed(const char *keys, const char *k)
{
	size_t n = strlen(k);

	for (const char *p = keys; (p = strstr(p, k)) != NULL; p += n)
		if ((p == keys || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static int parse_verbs(const char *s, unsigned *out)
{
	static const char *names[CV__COUNT] = { "create", "update", "update_status", "delete" };
	char buf[96], *save = NULL;

	*out = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",| ", &save); t; t = strtok_r(NULL, ",| ", &save)) {
		int i;
		if (!strcmp(t, "all")) {
			*out = (1u << CV__COUNT) - 1;
			continue;
		}
		for (i = 0; i < CV__COUNT && strcmp(t, names[i]); i++)
			;
		if (i == CV__COUNT)
			return -EINVAL;
		*out |= 1u << i;
	}
	return *out ? 0 : -EINVAL;
}

static int pick_enum(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

struct sched {
	uint64_t start, until, every, count;
	double rate;
	uint64_t at[64];
	size_t nat;
};

static int parse_param(const struct scenario *sc, const struct sc_fault *sf,
		       const struct sc_fault_param *p, struct fault *f, struct sched *s,
		       char *err, size_t len)
{
	static const char *dists[] = { "fixed", "uniform", "exponential", "lognormal" };
	static const char *kinds[] = { "server_error", "throttle", "timeout" };
	const char *k = p->key, *v = p->val;
	double d;
	uint64_t u;
	int e;

#define BAD(what) bad(err, len, sc, sf, p->line, p->col, "'%s' must be " what ", got '%s'", k, v)
	if (!strcmp(k, "probability") || !strcmp(k, "applied_probability") ||
	    !strcmp(k, "compact_probability")) {
		if (units_double(v, 0, 1, &d))
			return BAD("a probability in 0..1");
		if (k[0] == 'p')
			f->probability = d;
		else if (k[0] == 'a')
			f->applied_probability = d;
		else
			f->compact_probability = d;
	} else if (!strcmp(k, "verbs")) {
		if (parse_verbs(v, &f->verbs))
			return BAD("a list of create, update, update_status, delete or all");
	} else if (!strcmp(k, "dist")) {
		if ((e = pick_enum(v, dists, 4)) < 0)
			return BAD("fixed, uniform, exponential or lognormal");
		f->dist = (enum dist)e;
	} else if (!strcmp(k, "kind")) {
		if ((e = pick_enum(v, kinds, 3)) < 0)
			return BAD("server_error, throttle or timeout");
		f->ekind = (enum ekind)e;
	} else if (!strcmp(k, "mode")) {
		if (strcmp(v, "writer") && strcmp(v, "instance"))
			return BAD("writer or instance");
		f->second_instance = !strcmp(v, "instance");
	} else if (!strcmp(k, "sigma")) {
		if (units_double(v, 0, 10, &d))
			return BAD("a number in 0..10");
		f->sigma = d;
	} else if (!strcmp(k, "worker")) {
		if (!strcmp(v, "any"))
			f->worker = -1;
		else if (units_u64(v, 0, 1023, &u))
			return BAD("a worker index or 'any'");
		else
			f->worker = (int)u;
	} else if (!strcmp(k, "count")) {
		if (units_u64(v, 1, 1000000, &u))
			return BAD("an integer in 1..1000000");
		s->count = u;
	} else if (!strcmp(k, "rate")) {
		if (units_double(v, 0.001, 100000, &d))
			return BAD("a rate per second in 0.001..100000");
		s->rate = d;
	} else if (!strcmp(k, "at")) {
		char buf[96], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", v);
		for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			if (s->nat == 64 || units_duration_ns(t, 1000000000ull, &u))
				return BAD("a list of times such as 1s,2.5s");
			s->at[s->nat++] = u;
		}
	} else {
		/* the durations */
		uint64_t *dst = !strcmp(k, "value") ? &f->value : !strcmp(k, "min") ? &f->min :
				!strcmp(k, "max") ? &f->max : !strcmp(k, "mean") ? &f->mean :
				!strcmp(k, "retry_after") ? &f->retry_after :
				!strcmp(k, "duration") ? &f->duration : !strcmp(k, "every") ? &s->every :
				!strcmp(k, "start") ? &s->start : !strcmp(k, "until") ? &s->until : NULL;
		if (!dst || units_duration_ns(v, 1000000000ull, &u))
			return BAD("a duration such as 100ms or 2s");
		*dst = u;
	}
#undef BAD
	return 0;
}

static int build_schedule(struct fault *f, const struct sched *s, const struct scenario *sc,
			  uint64_t *rng)
{
	uint64_t until = s->until ? s->until : sc->duration_ns ? sc->duration_ns : 10000000000ull;
	uint64_t max = s->count ? s->count : 100000, cap = s->nat + 1024;
	uint64_t *t = malloc(cap * sizeof(*t));
	size_t n = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->nat && n < max; i++)
		t[n++] = s->at[i];
	if (s->every)
		for (uint64_t x = s->start + s->every; x <= until && n < max; x += s->every) {
			if (n == cap && !(t = realloc(t, (cap *= 2) * sizeof(*t))))
				return -ENOMEM;
			t[n++] = x;
		}
	if (s->rate > 0) {
		double x = (double)s->start;
		for (;;) {
			x += -log(1.0 - rnd01(rng)) * 1e9 / s->rate;
			if (x > (double)until || n >= max)
				break;
			if (n == cap && !(t = realloc(t, (cap *= 2) * sizeof(*t))))
				return -ENOMEM;
			t[n++] = (uint64_t)x;
		}
	}
	if (!s->nat && !s->every && s->rate <= 0)
		t[n++] = s->start ? s->start : until / 2;	/* one, halfway, by default */
	f->times = t;
	f->ntimes = n;
	return 0;
}

static int parse_fault(const struct scenario *sc, const struct sc_fault *sf, struct fault *f,
		       uint64_t *rng, char *err, size_t len)
{
	struct sched s = { 0 };
	int t;

	for (t = 0; t < F__COUNT && strcmp(sf->type, finfo[t].name); t++)
		;
	if (t == F__COUNT)
		return bad(err, len, sc, sf, sf->line, sf->col,
			   "unknown fault type%s%s (want api_latency, api_error, conflict, "
			   "status_tamper, watch_drop, write_fail, restart or worker_stall)", "", "");
	memset(f, 0, sizeof(*f));
	f->type = (enum ftype)t;
	f->probability = 0.1;
	f->verbs = (1u << CV__COUNT) - 1;
	f->dist = D_UNIFORM;
	f->min = 100000000ull;
	f->max = 500000000ull;
	f->value = f->mean = 200000000ull;
	f->sigma = 0.5;
	f->retry_after = f->type == F_WRITE_FAIL ? 2000000000ull : 1000000000ull;
	f->applied_probability = 0.5;
	f->compact_probability = 0.5;
	f->duration = f->type == F_WRITE_FAIL ? 1000000000ull : 500000000ull;
	f->worker = -1;
	for (size_t i = 0; i < sf->nparams; i++) {
		const struct sc_fault_param *p = &sf->params[i];
		if (!key_allowed(finfo[t].keys, p->key))
			return bad(err, len, sc, sf, p->line, p->col,
				   "unknown key '%s' (this fault takes: %s)", p->key, finfo[t].keys);
		if (parse_param(sc, sf, p, f, &s, err, len))
			return -EINVAL;
	}
	if (f->min > f->max)
		return bad(err, len, sc, sf, sf->line, sf->col, "'min' %s exceeds 'max'%s", "", "");
	if (finfo[t].scheduled && rng)
		return build_schedule(f, &s, sc, rng);
	return 0;
}

int faults_validate(const struct scenario *sc, char *err, size_t errlen)
{
	for (size_t i = 0; i < sc->nfaults; i++) {
		struct fault f;
		if (parse_fault(sc, &sc->faults[i], &f, NULL, err, errlen))
			return -EINVAL;
	}
	if (sc->nfaults && sc->mode != SC_MODE_E2E) {
		snprintf(err, errlen, "%s: faults need 'mode: e2e' (queue mode has no API server)",
			 sc->file);
		return -EINVAL;
	}
	return 0;
}

/* ---- construction ---- */

static int store_hook(void *arg, enum store_verb verb, const struct obj *o, bool *applied);

static int event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t ? 1 : x->fault - y->fault;
}

int faults_new(const struct scenario *sc, int repetition, const struct fault_env *env,
	       struct faults **out, char *err, size_t errlen)
{
	struct faults *fs = calloc(1, sizeof(*fs));
	size_t nev = 0;

	*out = NULL;
	if (!fs)
		return -ENOMEM;
	fs->env = *env;
	fs->sc = sc;
	fs->n = sc->nfaults;
	fs->f = calloc(fs->n ? fs->n : 1, sizeof(*fs->f));
	fs->rng = calloc(env->workers + 1, sizeof(*fs->rng));
	fs->stall_ns = calloc(env->workers ? env->workers : 1, sizeof(*fs->stall_ns));
	if (!fs->f || !fs->rng || !fs->stall_ns)
		goto nomem;
	fs->sched_rng = (sc->seed + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)repetition * 31 + 7;
	for (unsigned w = 0; w <= env->workers; w++)
		fs->rng[w] = (sc->seed + 3) * 0xD1B54A32D192ED03ull + w * 131 +
			     (uint64_t)repetition * 7919 + 1;
	for (size_t i = 0; i < fs->n; i++) {
		int rc = parse_fault(sc, &sc->faults[i], &fs->f[i], &fs->sched_rng, err, errlen);
		if (rc) {
			faults_free(fs);
			return rc;
		}
		fs->f[i].converge = hist_new();
		if (!fs->f[i].converge)
			goto nomem;
		nev += fs->f[i].ntimes;
	}
	fs->ev = calloc(nev ? nev : 1, sizeof(*fs->ev));
	if (!fs->ev)
		goto nomem;
	for (size_t i = 0; i < fs->n; i++)
		for (size_t k = 0; k < fs->f[i].ntimes; k++)
			fs->ev[fs->nev++] = (struct event){ fs->f[i].times[k], (int)i };
	qsort(fs->ev, fs->nev, sizeof(*fs->ev), event_cmp);
	if (fs->nev)	/* before any watcher exists: the store reads it without a lock */
		store_set_fault_hook(env->store, store_hook, fs);
	*out = fs;
	return 0;
nomem:
	faults_free(fs);
	return -ENOMEM;
}

void faults_free(struct faults *fs)
{
	if (!fs)
		return;
	faults_stop(fs);
	for (size_t i = 0; fs->f && i < fs->n; i++) {
		free(fs->f[i].times);
		hist_free(fs->f[i].converge);
	}
	free(fs->f);
	free(fs->ev);
	free(fs->rng);
	free(fs->stall_ns);
	free(fs);
}

bool faults_any(const struct faults *fs)
{
	return fs && fs->n > 0;
}

bool faults_want_second_instance(const struct faults *fs)
{
	for (size_t i = 0; fs && i < fs->n; i++)
		if (fs->f[i].type == F_CONFLICT && fs->f[i].second_instance)
			return true;
	return false;
}

/* ---- convergence bookkeeping (called under the oracle lock) ---- */

static void resolved(void *arg, int tag, uint64_t ns)
{
	struct faults *fs = arg;
	struct fault *f = &fs->f[tag];

	if (ns == UINT64_MAX)
		f->failed++;
	else
		hist_record(f->converge, ns);
}

static void injected(struct faults *fs, size_t i)
{
	atomic_fetch_add(&fs->f[i].injected, 1);
	oracle_perturb(fs->env.oracle, (int)i, resolved, fs);
}

/* A fault that hits one object: timed until that object has recovered. */
static void injected_obj(struct faults *fs, size_t i, uint64_t uid)
{
	atomic_fetch_add(&fs->f[i].injected, 1);
	oracle_perturb_obj(fs->env.oracle, uid, (int)i, resolved, fs);
}

/* ---- per-call faults ---- */

static uint64_t latency(struct fault *f, uint64_t *rng)
{
	double u = rnd01(rng);

	switch (f->dist) {
	case D_FIXED: return f->value;
	case D_UNIFORM: return f->min + (uint64_t)(u * (double)(f->max - f->min));
	case D_EXPONENTIAL: return (uint64_t)(-log(1.0 - u) * (double)f->mean);
	default: {
		/* Box-Muller normal, then exp: median = mean parameter, spread sigma */
		double v = rnd01(rng);
		double z = sqrt(-2.0 * log(1.0 - u)) * cos(2 * M_PI * v);
		return (uint64_t)((double)f->mean * exp(f->sigma * z));
	}
	}
}

void faults_client_hook(void *arg, unsigned worker, enum client_verb verb, const struct obj *o,
			int attempt, struct client_fault *out)
{
	struct faults *fs = arg;
	uint64_t *rng = &fs->rng[worker < fs->env.workers ? worker : fs->env.workers];
	uint64_t until = atomic_load_explicit(&fs->write_fail_until, memory_order_relaxed);

	(void)o;
	if (until && now_ns() < until) {
		out->err = -EIO;	/* etcd down: 500 ServerTimeout with Retry-After */
		out->retry_after_ns = atomic_load_explicit(&fs->write_fail_retry_after,
							   memory_order_relaxed);
		return;
	}
	for (size_t i = 0; i < fs->n; i++) {
		struct fault *f = &fs->f[i];

		if (finfo[f->type].scheduled || f->second_instance || !(f->verbs & (1u << verb)))
			continue;
		if (attempt > 0 && f->type != F_API_LATENCY)
			continue;	/* a retry is not a new fault */
		if (rnd01(rng) >= f->probability)
			continue;
		switch (f->type) {
		case F_API_LATENCY:
			out->delay_ns += latency(f, rng);
			break;
		case F_API_ERROR:
			if (f->ekind == E_TIMEOUT) {
				out->err = -ETIMEDOUT;
				out->applied = rnd01(rng) < f->applied_probability;
			} else {
				out->err = f->ekind == E_THROTTLE ? -EAGAIN : -EIO;
				out->retry_after_ns = f->ekind == E_THROTTLE ? f->retry_after : 0;
			}
			break;
		case F_CONFLICT:
			if (verb == CV_CREATE)
				continue;
			out->compete = true;
			break;
		default:
			continue;
		}
		injected_obj(fs, i, o->uid ? o->uid : o->owner_uid);
	}
}

void faults_maybe_stall(struct faults *fs, unsigned worker)
{
	uint64_t ns;

	if (!fs || worker >= fs->env.workers)
		return;
	ns = atomic_exchange_explicit(&fs->stall_ns[worker], 0, memory_order_relaxed);
	if (ns) {
		struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* ---- scheduled faults ---- */

static void tamper(struct faults *fs, size_t i)
{
	uint64_t uid = fs->env.pick_primary(fs->env.arg, rnd(&fs->sched_rng));
	struct obj o;

	if (!uid || store_get_uid(fs->env.store, uid, &o) != 0)
		return;
	injected_obj(fs, i, uid);
	/* An outside writer: a wrong status that claims an older generation and not ready. */
	o.status[0] += 1000;
	o.observed_generation = o.generation - 1;
	o.conditions = 0;
	store_update_status(fs->env.store, &o);
	obj_fini(&o);
}

/* An outside writer changes a label: a new revision, nothing for the controller to do. */
static void touch_one(struct faults *fs)
{
	uint64_t uid = fs->env.pick_primary(fs->env.arg, rnd(&fs->sched_rng));
	struct obj o;
	char val[24];

	if (!uid || store_get_uid(fs->env.store, uid, &o) != 0)
		return;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)o.rv);
	if (obj_set_label(&o, "reconperf/touched", val) == 0)
		store_update(fs->env.store, &o);
	obj_fini(&o);
}

/* The store's own hook: only watch requests, during a watch outage. */
static int store_hook(void *arg, enum store_verb verb, const struct obj *o, bool *applied)
{
	struct faults *fs = arg;

	(void)o;
	(void)applied;
	if (verb == SV_WATCH && now_ns() < atomic_load(&fs->watch_down_until))
		return -EIO;
	return 0;
}

static void fire(struct faults *fs, struct fault *f, size_t i)
{
	switch (f->type) {
	case F_STATUS_TAMPER:
		tamper(fs, i);
		break;
	case F_WATCH_DROP:
		injected(fs, i);
		if (rnd01(&fs->sched_rng) < f->compact_probability) {
			/* The stream stays down a while; meanwhile the world moves on and the
			 * history is compacted past the resume point: 410 Gone, then a relist. */
			atomic_store(&fs->watch_down_until, now_ns() + 50000000ull);
			fs->env.break_watches(fs->env.arg);
			touch_one(fs);
			store_compact(fs->env.store, store_revision(fs->env.store));
		} else {
			fs->env.break_watches(fs->env.arg);
		}
		break;
	case F_WRITE_FAIL:
		injected(fs, i);
		atomic_store(&fs->write_fail_retry_after, f->retry_after);
		atomic_store(&fs->write_fail_until, now_ns() + f->duration);
		break;
	case F_RESTART:
		injected(fs, i);
		fs->env.restart(fs->env.arg);
		break;
	case F_WORKER_STALL: {
		/* the controller's own workers are the first half of the slots */
		unsigned n = fs->env.workers / 2 ? fs->env.workers / 2 : 1;
		unsigned w = f->worker >= 0 ? (unsigned)f->worker % n
					    : (unsigned)(rnd(&fs->sched_rng) % n);
		injected(fs, i);
		atomic_store(&fs->stall_ns[w], f->duration);
		break;
	}
	default:
		break;
	}
}

static void *sched_main(void *arg)
{
	struct faults *fs = arg;

	for (size_t k = 0; k < fs->nev && !atomic_load(&fs->stop); k++) {
		uint64_t due = fs->t0 + fs->ev[k].t;

		for (;;) {
			uint64_t t = now_ns();
			if (t >= due || atomic_load(&fs->stop))
				break;
			uint64_t w = due - t > 20000000ull ? 20000000ull : due - t;
			struct timespec ts = { 0, (long)w };
			nanosleep(&ts, NULL);
		}
		if (atomic_load(&fs->stop))
			break;
		fire(fs, &fs->f[fs->ev[k].fault], (size_t)fs->ev[k].fault);
		atomic_store(&fs->fired, k + 1);
	}
	return NULL;
}

int faults_start(struct faults *fs, uint64_t t0)
{
	int rc;

	fs->t0 = t0;
	if (!fs->nev)
		return 0;
	rc = pthread_create(&fs->thread, NULL, sched_main, fs);
	if (rc)
		return -rc;
	fs->running = true;
	return 0;
}

void faults_wait_schedule(struct faults *fs, const volatile int *stop)
{
	while (fs && fs->running && atomic_load(&fs->fired) < fs->nev && !(stop && *stop)) {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	/* a write outage still running must end before convergence is judged */
	while (fs && now_ns() < atomic_load(&fs->write_fail_until) && !(stop && *stop)) {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
}

void faults_stop(struct faults *fs)
{
	if (!fs || !fs->running)
		return;
	atomic_store(&fs->stop, true);
	pthread_join(fs->thread, NULL);
	fs->running = false;
}

int faults_report(struct faults *fs, struct bench_run *r)
{
	for (size_t i = 0; fs && i < fs->n; i++) {
		struct fault *f = &fs->f[i];
		struct bench_fault_stat *st = bench_run_add_fault(r, finfo[f->type].name);

		if (!st)
			return -ENOMEM;
		st->injected = atomic_load(&f->injected);
		st->failed = f->failed;
		hist_merge(st->converge, f->converge);
		if (f->type == F_RESTART)
			r->restarts += st->injected;
	}
	return 0;
}
