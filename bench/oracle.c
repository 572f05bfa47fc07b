/* oracle — convergence from the store's point of view. See oracle.h. */
#include "bench/oracle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/u64map.h"

struct opending;

/*
 * One object. Primaries keep only a reference to their latest stored version: unpacking
 * every commit into a per-object copy touched a dozen cold cache lines under the store
 * lock; a primary is unpacked into the oracle's scratch copy when it is evaluated. Owned
 * objects keep an unpacked copy as well, since the workload's check reads children as
 * objects, and through their owner's kids array.
 */
struct entry {
	struct objv *v;		/* the latest committed version (a reference) */
	bool primary;
	bool converged;		/* primaries only */
	uint64_t converged_at;	/* primaries: last return to converged */
	struct opending *pend;	/* primaries: perturbations of this object, newest first */
	struct obj **kids;	/* primaries: owned objects seen (their kid copies) */
	size_t nkids, capkids;
	size_t size;		/* bytes of this allocation */
	struct obj kid[];	/* owned objects only: v unpacked */
};

struct pending {
	int tag;
	uint64_t t0;
	oracle_resolved_fn fn;
	void *arg;
};

/* A perturbation of one object, resolved when that object is converged again. */
struct opending {
	struct pending p;
	struct opending *next;
};

struct oracle {
	const struct workload *wl;
	const struct wl_env *env;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct u64map objs;		/* uid -> entry */
	uint64_t primaries, unconverged;
	uint64_t last_perturb, last_converged;
	struct pending *pend;
	size_t npend, cappend;
	size_t bytes;
	struct obj scratch;		/* a primary being evaluated (under mu) */
};

uint64_t oracle_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int oracle_new(const struct workload *wl, const struct wl_env *env, struct oracle **out)
{
	struct oracle *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	if (u64map_init(&o->objs, 1024)) {
		free(o);
		return -ENOMEM;
	}
	o->wl = wl;
	o->env = env;
	pthread_mutex_init(&o->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = o;
	return 0;
}

static void entry_free(struct entry *e)
{
	for (struct opending *op = e->pend, *next; op; op = next) {
		next = op->next;
		free(op);
	}
	if (!e->primary)
		obj_fini(e->kid);
	objv_unref(e->v);
	free(e->kids);
	free(e);
}

void oracle_free(struct oracle *o)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	if (!o)
		return;
	while (u64map_next(&o->objs, &i, &k, &v))
		entry_free(v);
	u64map_fini(&o->objs);
	free(o->pend);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o);
}

static bool evaluate(struct oracle *o, struct entry *p, char *why, size_t len)
{
	bool ok;

	objv_unpack(p->v, &o->scratch);
	ok = o->wl->converged(o->env, &o->scratch, (const struct obj *const *)p->kids, p->nkids,
			      why, len);
	obj_fini(&o->scratch);
	return ok;
}

static void resolve_pending(struct oracle *o, uint64_t now)
{
	for (size_t i = 0; i < o->npend; i++)
		o->pend[i].fn(o->pend[i].arg, o->pend[i].tag, now - o->pend[i].t0);
	o->npend = 0;
	pthread_cond_broadcast(&o->cv);
}

static void resolve_obj(struct entry *e, uint64_t now)
{
	for (struct opending *op = e->pend, *next; op; op = next) {
		next = op->next;
		op->p.fn(op->p.arg, op->p.tag, now > op->p.t0 ? now - op->p.t0 : 0);
		free(op);
	}
	e->pend = NULL;
}

/* Recomputes a primary's state and keeps the unconverged count right. */
static void settle(struct oracle *o, struct entry *p)
{
	/* No reason asked (len 0): formatting one on every commit cost more than the check. */
	bool now_ok = evaluate(o, p, NULL, 0);

	if (now_ok == p->converged)
		return;
	p->converged = now_ok;
	if (now_ok) {
		p->converged_at = oracle_now_ns();
		resolve_obj(p, p->converged_at);
		if (--o->unconverged == 0) {
			o->last_converged = oracle_now_ns();
			resolve_pending(o, o->last_converged);
		}
	} else {
		o->unconverged++;
	}
}

static void kid_remove(struct entry *p, struct obj *k)
{
	for (size_t i = 0; i < p->nkids; i++) {
		if (p->kids[i] == k) {
			p->kids[i] = p->kids[--p->nkids];
			return;
		}
	}
}

static int kid_add(struct entry *p, struct obj *k)
{
	if (p->nkids == p->capkids) {
		size_t cap = p->capkids ? p->capkids * 2 : 4;
		struct obj **v = realloc(p->kids, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->kids = v;
		p->capkids = cap;
	}
	p->kids[p->nkids++] = k;
	return 0;
}

/* The primary entry with this uid (an owned object's owner), or NULL (0, unknown, or not
 * a primary). */
static struct entry *owner_entry(struct oracle *o, uint64_t uid)
{
	struct entry *p = uid ? u64map_get(&o->objs, uid) : NULL;

	return p && p->primary ? p : NULL;
}

static void on_delete(struct oracle *o, struct entry *e)
{
	if (e->primary) {
		resolve_obj(e, oracle_now_ns());
		o->primaries--;
		if (!e->converged && --o->unconverged == 0) {
			o->last_converged = oracle_now_ns();
			resolve_pending(o, o->last_converged);
		}
		/* Children outlive their owner until the garbage collector removes them. */
		for (size_t i = 0; i < e->nkids; i++)
			e->kids[i]->owner_uid = 0;
	} else {
		struct entry *p = owner_entry(o, e->kid->owner_uid);

		if (p) {
			kid_remove(p, e->kid);
			settle(o, p);
		}
	}
	o->bytes -= e->size;
	entry_free(e);
}

/* One committed change: v is the stored version (the store keeps it alive while it is
 * current; the oracle takes its own reference). */
static void on_commit(struct oracle *o, enum watch_type type, const struct objv *v,
		      void **cookie)
{
	struct entry *e, *p;

	pthread_mutex_lock(&o->mu);
	e = *cookie ? *cookie : u64map_get(&o->objs, v->uid);
	if (type == WATCH_DELETED) {
		if (e) {
			u64map_del(&o->objs, v->uid);
			on_delete(o, e);
		}
		*cookie = NULL;
		goto out;
	}
	if (!e) {
		bool primary = strcmp(objv_kind(v), o->wl->kind) == 0;
		size_t size = sizeof(*e) + (primary ? 0 : sizeof(struct obj));

		e = calloc(1, size);
		if (!e || u64map_put(&o->objs, v->uid, e)) {
			free(e);
			goto out;	/* out of memory: the object stays unknown */
		}
		o->bytes += size;
		e->size = size;
		e->primary = primary;
		e->v = objv_ref((struct objv *)v);	/* refcounts change through const */
		if (primary) {
			o->primaries++;
			e->converged = true;	/* settle() below counts it if it is not */
		} else {
			objv_unpack(v, e->kid);
			if ((p = owner_entry(o, e->kid->owner_uid)))
				kid_add(p, e->kid);
		}
	} else {
		objv_unref(e->v);
		e->v = objv_ref((struct objv *)v);
		if (!e->primary) {
			uint64_t was = e->kid->owner_uid;

			obj_fini(e->kid);
			objv_unpack(v, e->kid);
			if (was != e->kid->owner_uid) {	/* re-owned: move it between owners */
				if ((p = owner_entry(o, was))) {
					kid_remove(p, e->kid);
					settle(o, p);
				}
				if ((p = owner_entry(o, e->kid->owner_uid)))
					kid_add(p, e->kid);
			}
		}
	}
	*cookie = e;	/* the next commit of this object finds e without the map */
	if (e->primary) {
		settle(o, e);
	} else if ((p = owner_entry(o, e->kid->owner_uid))) {
		settle(o, p);
	}
out:
	pthread_mutex_unlock(&o->mu);
}

void oracle_on_commit_v(void *arg, enum watch_type type, uint64_t rv, const struct objv *v,
			void **cookie)
{
	(void)rv;
	on_commit(arg, type, v, cookie);
}

void oracle_perturb(struct oracle *o, int tag, oracle_resolved_fn fn, void *arg)
{
	pthread_mutex_lock(&o->mu);
	o->last_perturb = oracle_now_ns();
	if (fn) {
		if (o->npend == o->cappend) {
			size_t cap = o->cappend ? o->cappend * 2 : 64;
			struct pending *v = realloc(o->pend, cap * sizeof(*v));
			if (!v)
				goto out;
			o->pend = v;
			o->cappend = cap;
		}
		o->pend[o->npend++] = (struct pending){ tag, o->last_perturb, fn, arg };
	}
out:
	pthread_mutex_unlock(&o->mu);
}

void oracle_perturb_obj(struct oracle *o, uint64_t uid, int tag, oracle_resolved_fn fn,
			void *arg)
{
	struct opending *op = malloc(sizeof(*op));
	struct entry *e;

	if (!op)
		return;
	pthread_mutex_lock(&o->mu);
	op->p = (struct pending){ tag, oracle_now_ns(), fn, arg };
	e = u64map_get(&o->objs, uid);
	if (e && !e->primary && e->kid->owner_uid)
		e = u64map_get(&o->objs, e->kid->owner_uid);
	if (!e || !e->primary) {
		fn(arg, tag, 0);	/* nothing of the workload's: nothing to converge */
		pthread_mutex_unlock(&o->mu);	/* fn runs under the lock, as oracle.h says */
		free(op);
		return;
	}
	op->next = e->pend;
	e->pend = op;
	pthread_mutex_unlock(&o->mu);
}

/* An object's pending perturbations at the end: converged (since when) or failed. */
static void finish_obj(struct entry *e)
{
	for (struct opending *op = e->pend, *next; op; op = next) {
		next = op->next;
		op->p.fn(op->p.arg, op->p.tag, !e->converged ? UINT64_MAX :
			 e->converged_at > op->p.t0 ? e->converged_at - op->p.t0 : 0);
		free(op);
	}
	e->pend = NULL;
}

void oracle_finish(struct oracle *o)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	pthread_mutex_lock(&o->mu);
	while (u64map_next(&o->objs, &it, &k, &v))
		finish_obj(v);
	for (size_t i = 0; i < o->npend; i++) {
		const struct pending *p = &o->pend[i];
		uint64_t ns = o->unconverged ? UINT64_MAX :
			      o->last_converged > p->t0 ? o->last_converged - p->t0 : 0;
		p->fn(p->arg, p->tag, ns);
	}
	o->npend = 0;
	pthread_mutex_unlock(&o->mu);
}

uint64_t oracle_unconverged(struct oracle *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->mu);
	n = o->unconverged;
	pthread_mutex_unlock(&o->mu);
	return n;
}

uint64_t oracle_primaries(struct oracle *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->mu);
	n = o->primaries;
	pthread_mutex_unlock(&o->mu);
	return n;
}

int oracle_wait(struct oracle *o, uint64_t abs_deadline_ns)
{
	struct timespec ts = { (time_t)(abs_deadline_ns / 1000000000ull),
			       (long)(abs_deadline_ns % 1000000000ull) };
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	while (o->unconverged) {
		if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) == ETIMEDOUT) {
			rc = o->unconverged ? -ETIMEDOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void oracle_times(struct oracle *o, uint64_t *last_perturb, uint64_t *last_converged)
{
	pthread_mutex_lock(&o->mu);
	*last_perturb = o->last_perturb;
	*last_converged = o->last_converged;
	pthread_mutex_unlock(&o->mu);
}

int oracle_stuck(struct oracle *o, struct bench_stuck **out, size_t *n, size_t max)
{
	struct bench_stuck *v = NULL;
	size_t i = 0, cnt = 0;
	uint64_t k;
	void *val;

	pthread_mutex_lock(&o->mu);
	if (o->unconverged && max) {
		size_t want = o->unconverged < max ? o->unconverged : max;
		v = calloc(want, sizeof(*v));
		while (v && cnt < want && u64map_next(&o->objs, &i, &k, &val)) {
			struct entry *e = val;
			if (!e->primary || e->converged)
				continue;
			snprintf(v[cnt].key, sizeof(v[cnt].key), "%.20s/%.40s/%.90s", objv_kind(e->v),
				 objv_ns(e->v), objv_name(e->v));
			evaluate(o, e, v[cnt].reason, sizeof(v[cnt].reason));
			cnt++;
		}
	}
	pthread_mutex_unlock(&o->mu);
	*out = v;
	*n = cnt;
	return v || !cnt ? 0 : -ENOMEM;
}

bool oracle_has(struct oracle *o, uint64_t uid)
{
	struct entry *e;

	pthread_mutex_lock(&o->mu);
	e = u64map_get(&o->objs, uid);
	pthread_mutex_unlock(&o->mu);
	return e != NULL;
}

size_t oracle_bytes(struct oracle *o)
{
	size_t b;

	pthread_mutex_lock(&o->mu);
	b = o->bytes + o->objs.cap * (sizeof(uint64_t) + sizeof(void *));
	pthread_mutex_unlock(&o->mu);
	return b;
}
