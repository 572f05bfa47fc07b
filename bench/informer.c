/* informer — reflector, delta queue, processor, handlers and the public calls; the indexer
 * cache and its indexes are in informer_cache.c. See informer.h. */
#include "bench/informer_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_BATCH 256
#define VERY_SHORT_WATCH_NS 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void abs_deadline(struct timespec *ts, uint64_t at_ns)
{
	ts->tv_sec = (time_t)(at_ns / 1000000000ull);
	ts->tv_nsec = (long)(at_ns % 1000000000ull);
}

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* ---- handlers ---- */

static void emit_add(struct informer *inf, const struct obj *o, const struct objv *v,
		     bool initial)
{
	for (int i = 0; i < inf->nh; i++) {
		if (inf->h[i].on_add)
			inf->h[i].on_add(inf->h[i].arg, o, initial);
		if (inf->h[i].on_add_v)
			inf->h[i].on_add_v(inf->h[i].arg, v, initial);
	}
}

static void emit_update(struct informer *inf, const struct obj *old, const struct obj *cur,
			const struct objv *oldv, const struct objv *curv)
{
	for (int i = 0; i < inf->nh; i++) {
		if (inf->h[i].on_update)
			inf->h[i].on_update(inf->h[i].arg, old, cur);
		if (inf->h[i].on_update_v)
			inf->h[i].on_update_v(inf->h[i].arg, oldv, curv);
	}
}

static void emit_delete(struct informer *inf, const struct obj *o, const struct objv *v,
			bool tombstone)
{
	for (int i = 0; i < inf->nh; i++) {
		if (inf->h[i].on_delete)
			inf->h[i].on_delete(inf->h[i].arg, o, tombstone);
		if (inf->h[i].on_delete_v)
			inf->h[i].on_delete_v(inf->h[i].arg, v, tombstone);
	}
}

/* ---- the processor ---- */

static void remove_entry(struct informer *inf, uint32_t e, bool tombstone, const struct objv *ev,
			 uint64_t rv)
{
	struct objv *old = icache_remove(inf, e);

	if (inf->want_obj) {	/* inf->old: upsert may hold the new object in inf->cur */
		objv_unpack(ev ? ev : old, &inf->old);
		if (ev)
			inf->old.rv = inf->old.deletion_rv = rv;
	}
	if (inf->nh)
		emit_delete(inf, &inf->old, ev ? ev : old, tombstone);
	if (inf->want_obj)
		obj_fini(&inf->old);
	objv_unref(old);
}

/* Stores v (consuming the caller's reference) and tells the handlers: on_add for a new
 * object, on_update for a cached one. */
static void upsert(struct informer *inf, struct objv *v, bool initial)
{
	uint32_t e = find_uid(inf, v->uid), other;
	struct ivals *iv = inf->nix ? &inf->ivals : NULL;

	if (inf->want_obj)
		objv_unpack(v, &inf->cur);
	if (iv)
		icache_vals(inf, &inf->cur, iv);
	if (e == NONE) {
		/* A name still held by an older uid: its delete was missed. */
		other = find_name(inf, objv_ns(v), objv_name(v));
		if (other != NONE)
			remove_entry(inf, other, true, NULL, 0);
		if (icache_add(inf, v, iv)) {
			objv_unref(v);	/* out of memory: the next relist retries */
		} else if (inf->nh) {
			emit_add(inf, &inf->cur, v, initial);
		}
	} else {
		struct objv *old = icache_replace(inf, e, v, iv);

		if (inf->want_old)
			objv_unpack(old, &inf->old);
		if (inf->want_update)
			emit_update(inf, &inf->old, &inf->cur, old, v);
		if (inf->want_old)
			obj_fini(&inf->old);
		objv_unref(old);
	}
	if (inf->want_obj)
		obj_fini(&inf->cur);
}

static void process_event(struct informer *inf, uint32_t type, uint64_t rv, struct objv *v)
{
	if (type == WATCH_DELETED) {
		uint32_t e = find_uid(inf, v->uid);

		if (e != NONE)	/* DeltaFIFO drops deletes of objects it never knew */
			remove_entry(inf, e, false, v, rv);
		objv_unref(v);
	} else {
		upsert(inf, v, false);
	}
}

static void process_replace(struct informer *inf, struct replace *r)
{
	bool initial = !atomic_load(&inf->synced);
	uint32_t e;

	inf->epoch++;
	for (size_t i = 0; i < r->n; i++)
		if ((e = find_uid(inf, r->v[i]->uid)) != NONE)
			inf->ent[e].mark = inf->epoch;	/* only this thread reads marks */
	for (e = 0; e < inf->nent; e++)
		if (inf->ent[e].v && inf->ent[e].mark != inf->epoch)
			remove_entry(inf, e, true, NULL, 0);
	for (size_t i = 0; i < r->n; i++)
		upsert(inf, r->v[i], initial);
	free(r->v);
	free(r);
}

static void resync(struct informer *inf)
{
	if (!inf->want_update)
		return;
	/* The processor is the only writer, so the cache cannot change under this walk. */
	for (uint32_t e = 0; e < inf->nent; e++) {
		if (!inf->ent[e].v)
			continue;
		if (inf->want_old)
			objv_unpack(inf->ent[e].v, &inf->cur);
		emit_update(inf, &inf->cur, &inf->cur, inf->ent[e].v, inf->ent[e].v);
		if (inf->want_old)
			obj_fini(&inf->cur);
	}
}

static void progress(struct informer *inf, uint64_t rv, bool synced)
{
	atomic_store(&inf->last_rv, rv);
	if (synced)
		atomic_store(&inf->synced, true);
	if (atomic_load(&inf->nwait)) {
		pthread_mutex_lock(&inf->smu);
		pthread_cond_broadcast(&inf->scond);
		pthread_mutex_unlock(&inf->smu);
	}
}

static void drop_delta(struct delta *d)
{
	if (d->type == D_REPLACE) {
		for (size_t i = 0; i < d->r->n; i++)
			objv_unref(d->r->v[i]);
		free(d->r->v);
		free(d->r);
	} else {
		objv_unref(d->v);	/* NULL for bookmarks */
	}
}

static void *processor_main(void *arg)
{
	struct informer *inf = arg;
	struct dq batch = { 0 }, t;
	uint64_t next_resync = inf->o.resync_ns ? now_ns() + inf->o.resync_ns : 0;
	struct timespec ts;

	pthread_mutex_lock(&inf->qmu);
	for (;;) {
		while (!inf->q.n && !atomic_load(&inf->stopping)) {
			if (!next_resync) {
				pthread_cond_wait(&inf->qcond, &inf->qmu);
				continue;
			}
			if (now_ns() >= next_resync)
				break;
			abs_deadline(&ts, next_resync);
			pthread_cond_timedwait(&inf->qcond, &inf->qmu, &ts);
		}
		if (atomic_load(&inf->stopping))
			break;
		t = inf->q;
		inf->q = batch;
		batch = t;
		pthread_mutex_unlock(&inf->qmu);

		for (size_t i = 0; i < batch.n; i++) {
			struct delta *d = &batch.a[i];

			if (d->type == D_REPLACE) {
				process_replace(inf, d->r);
				progress(inf, d->rv, true);
			} else if (d->type == WATCH_BOOKMARK) {
				continue;
			} else {
				process_event(inf, d->type, d->rv, d->v);
			}
		}
		if (batch.n && batch.a[batch.n - 1].type != D_REPLACE)
			progress(inf, batch.a[batch.n - 1].rv, false);
		batch.n = 0;
		if (next_resync && now_ns() >= next_resync) {
			if (atomic_load(&inf->synced))
				resync(inf);
			next_resync = now_ns() + inf->o.resync_ns;
		}
		pthread_mutex_lock(&inf->qmu);
	}
	pthread_mutex_unlock(&inf->qmu);
	free(batch.a);
	return NULL;
}

/* ---- the reflector ---- */

static int push(struct informer *inf, const struct delta *d, size_t n)
{
	struct dq *q = &inf->q;
	bool wake;

	pthread_mutex_lock(&inf->qmu);
	if (q->n + n > q->cap) {
		size_t cap = q->cap ? q->cap : 1024;
		struct delta *a;

		while (cap < q->n + n)
			cap *= 2;
		a = realloc(q->a, cap * sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&inf->qmu);
			return -ENOMEM;
		}
		q->a = a;
		q->cap = cap;
	}
	wake = !q->n;
	memcpy(q->a + q->n, d, n * sizeof(*d));
	q->n += n;
	if (wake)
		pthread_cond_signal(&inf->qcond);
	pthread_mutex_unlock(&inf->qmu);
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* client-go's exponential backoff manager: initial, doubled up to max, reset after a calm
 * period, each wait jittered by up to +100%. Returns true when stopping. */
static bool backoff_wait(struct informer *inf)
{
	uint64_t now = now_ns(), d, until;
	struct timespec ts;
	bool stop;

	if (!inf->backoff_start || now - inf->backoff_start > inf->o.backoff_reset_ns)
		inf->backoff_cur = inf->o.backoff_min_ns;
	else if (inf->backoff_cur < inf->o.backoff_max_ns)
		inf->backoff_cur = inf->backoff_cur * 2 > inf->o.backoff_max_ns ?
				   inf->o.backoff_max_ns : inf->backoff_cur * 2;
	inf->backoff_start = now;
	d = inf->backoff_cur + (uint64_t)((double)(rng_next(&inf->rng) >> 11) / 9007199254740992.0 *
					  (double)inf->backoff_cur);
	until = now + d;
	abs_deadline(&ts, until);
	pthread_mutex_lock(&inf->rmu);
	while (!atomic_load(&inf->stopping) && now_ns() < until)
		pthread_cond_timedwait(&inf->rcond, &inf->rmu, &ts);
	stop = atomic_load(&inf->stopping);
	pthread_mutex_unlock(&inf->rmu);
	return stop;
}

/* Lists and queues the result as one Replace delta. A relist is counted before the delta
 * is queued, so whoever sees its effect also sees the count. */
static int list(struct informer *inf, uint64_t *rv, bool relist)
{
	struct replace *r = malloc(sizeof(*r));
	struct delta d = { .type = D_REPLACE };
	int rc;

	if (!r)
		return -ENOMEM;
	rc = store_list_v(inf->s, inf->kind, NULL, NULL, &r->v, &r->n, rv);
	if (rc) {
		free(r);
		return rc;
	}
	d.rv = *rv;
	d.r = r;
	if (relist)
		atomic_fetch_add(&inf->relists, 1);
	rc = push(inf, &d, 1);
	if (rc)
		drop_delta(&d);
	return rc;
}

/* Reads one watch until it ends: -ESTALE, -ESHUTDOWN (broken or stopping). */
static int watch(struct informer *inf, uint64_t *rv, uint64_t *got)
{
	struct store_wev ev[WATCH_BATCH];
	struct delta d[WATCH_BATCH];
	struct store_watch *w;
	int n;

	pthread_mutex_lock(&inf->rmu);
	if (atomic_load(&inf->stopping)) {
		pthread_mutex_unlock(&inf->rmu);
		return -ESHUTDOWN;
	}
	w = inf->w = store_watch_open(inf->s, inf->kind, *rv);
	pthread_mutex_unlock(&inf->rmu);
	if (!w)
		return -ENOMEM;
	while ((n = store_watch_next_v(w, ev, WATCH_BATCH, UINT64_MAX)) > 0) {
		for (int i = 0; i < n; i++)
			d[i] = (struct delta){ .rv = ev[i].rv, .v = ev[i].v, .type = ev[i].type };
		if (push(inf, d, (size_t)n)) {
			for (int i = 0; i < n; i++)
				objv_unref(ev[i].v);
			n = -ESTALE;	/* out of memory: start over from a list */
			break;
		}
		*rv = ev[n - 1].rv;
		*got += (uint64_t)n;
	}
	pthread_mutex_lock(&inf->rmu);
	inf->w = NULL;
	pthread_mutex_unlock(&inf->rmu);
	store_watch_close(w);
	return n;
}

static void *reflector_main(void *arg)
{
	struct informer *inf = arg;
	bool need_list = true, listed = false, failed = false;
	uint64_t rv = 0;

	while (!atomic_load(&inf->stopping)) {
		if (need_list) {
			if ((listed || failed) && backoff_wait(inf))
				break;
			if (list(inf, &rv, listed)) {
				failed = true;
				continue;
			}
			listed = true;
			need_list = false;
		}
		uint64_t start = now_ns(), got = 0;
		int rc = watch(inf, &rv, &got);

		if (atomic_load(&inf->stopping))
			break;
		if (rc == -ESTALE || inf->o.relist_on_drop ||
		    (!got && now_ns() - start < VERY_SHORT_WATCH_NS))
			need_list = true;
		else
			atomic_fetch_add(&inf->rewatches, 1);
	}
	return NULL;
}

/* ---- public ---- */

struct informer *informer_new(struct store *s, const struct informer_opts *o)
{
	struct informer *inf;
	pthread_rwlockattr_t ra;

	if (!s || !o || !o->kind || !*o->kind || strlen(o->kind) >= sizeof(inf->kind)) {
		errno = EINVAL;
		return NULL;
	}
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return NULL;
	if (idtab_init(&inf->by_uid) || idtab_init(&inf->by_name)) {
		idtab_fini(&inf->by_uid);
		free(inf);
		errno = ENOMEM;
		return NULL;
	}
	inf->by_uid.dense = true;
	inf->s = s;
	inf->o = *o;
	strcpy(inf->kind, o->kind);
	inf->o.kind = inf->kind;
	if (!inf->o.backoff_min_ns)
		inf->o.backoff_min_ns = 800000000ull;
	if (!inf->o.backoff_max_ns)
		inf->o.backoff_max_ns = 30000000000ull;
	if (inf->o.backoff_max_ns < inf->o.backoff_min_ns)
		inf->o.backoff_max_ns = inf->o.backoff_min_ns;
	if (!inf->o.backoff_reset_ns)
		inf->o.backoff_reset_ns = 120000000000ull;
	inf->rng = o->seed ? o->seed : 0x2545f4914f6cdd1dull;
	inf->free_ent = inf->free_node = NONE;
	pthread_rwlockattr_init(&ra);
	/* Writers first: a stream of readers (workers) must not starve the processor. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&inf->rw, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&inf->qmu, NULL);
	pthread_mutex_init(&inf->rmu, NULL);
	pthread_mutex_init(&inf->smu, NULL);
	cond_init(&inf->qcond);
	cond_init(&inf->rcond);
	cond_init(&inf->scond);
	return inf;
}

int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn)
{
	struct iindex *x;

	if (inf->started)
		return -EBUSY;
	if (!fn || !name || !*name || strlen(name) >= sizeof(x->name))
		return -EINVAL;
	for (int i = 0; i < inf->nix; i++)
		if (!strcmp(inf->ix[i].name, name))
			return -EEXIST;
	if (inf->nix == INFORMER_MAX_INDEXES)
		return -ENOSPC;
	x = &inf->ix[inf->nix];
	memset(x, 0, sizeof(*x));
	if (idtab_init(&x->by_val))
		return -ENOMEM;
	strcpy(x->name, name);
	x->fn = fn;
	x->free = NONE;
	inf->nix++;
	inf->want_obj = true;
	return 0;
}

int informer_add_handler(struct informer *inf, const struct informer_handler *h)
{
	if (inf->started)
		return -EBUSY;
	if (inf->nh == INFORMER_MAX_HANDLERS)
		return -ENOSPC;
	inf->h[inf->nh++] = *h;
	inf->want_obj |= h->on_add || h->on_update || h->on_delete;
	inf->want_old |= h->on_update != NULL;
	inf->want_update |= h->on_update || h->on_update_v;
	return 0;
}

int informer_start(struct informer *inf)
{
	int rc;

	if (inf->started)
		return -EBUSY;
	rc = pthread_create(&inf->processor, NULL, processor_main, inf);
	if (rc)
		return -rc;
	rc = pthread_create(&inf->reflector, NULL, reflector_main, inf);
	if (rc) {
		atomic_store(&inf->stopping, true);
		pthread_mutex_lock(&inf->qmu);
		pthread_cond_broadcast(&inf->qcond);
		pthread_mutex_unlock(&inf->qmu);
		pthread_join(inf->processor, NULL);
		return -rc;
	}
	inf->started = true;
	return 0;
}

void informer_stop(struct informer *inf)
{
	if (!inf->started || inf->joined)
		return;
	atomic_store(&inf->stopping, true);
	pthread_mutex_lock(&inf->rmu);
	if (inf->w)
		store_watch_break(inf->w);
	pthread_cond_broadcast(&inf->rcond);
	pthread_mutex_unlock(&inf->rmu);
	pthread_mutex_lock(&inf->qmu);
	pthread_cond_broadcast(&inf->qcond);
	pthread_mutex_unlock(&inf->qmu);
	pthread_join(inf->reflector, NULL);
	pthread_join(inf->processor, NULL);
	inf->joined = true;
	pthread_mutex_lock(&inf->smu);
	pthread_cond_broadcast(&inf->scond);
	pthread_mutex_unlock(&inf->smu);
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	informer_stop(inf);
	for (size_t i = 0; i < inf->q.n; i++)
		drop_delta(&inf->q.a[i]);
	free(inf->q.a);
	for (uint32_t e = 0; e < inf->nent; e++)
		objv_unref(inf->ent[e].v);
	free(inf->ent);
	free(inf->node);
	idtab_fini(&inf->by_uid);
	idtab_fini(&inf->by_name);
	for (int i = 0; i < inf->nix; i++) {
		idtab_fini(&inf->ix[i].by_val);
		free(inf->ix[i].v);
	}
	pthread_rwlock_destroy(&inf->rw);
	pthread_mutex_destroy(&inf->qmu);
	pthread_mutex_destroy(&inf->rmu);
	pthread_mutex_destroy(&inf->smu);
	pthread_cond_destroy(&inf->qcond);
	pthread_cond_destroy(&inf->rcond);
	pthread_cond_destroy(&inf->scond);
	free(inf);
}

bool informer_has_synced(struct informer *inf)
{
	return atomic_load(&inf->synced);
}

static int wait_for(struct informer *inf, uint64_t rv, bool sync, uint64_t timeout_ns)
{
	uint64_t until = timeout_ns == UINT64_MAX ? UINT64_MAX : now_ns() + timeout_ns;
	struct timespec ts;
	int rc = 0;

	abs_deadline(&ts, until == UINT64_MAX ? now_ns() + 3600000000000ull : until);
	pthread_mutex_lock(&inf->smu);
	atomic_fetch_add(&inf->nwait, 1);
	while (sync ? !atomic_load(&inf->synced) : atomic_load(&inf->last_rv) < rv) {
		if (inf->joined || (until != UINT64_MAX && now_ns() >= until)) {
			rc = -ETIMEDOUT;
			break;
		}
		if (until == UINT64_MAX)
			pthread_cond_wait(&inf->scond, &inf->smu);
		else
			pthread_cond_timedwait(&inf->scond, &inf->smu, &ts);
	}
	atomic_fetch_sub(&inf->nwait, 1);
	pthread_mutex_unlock(&inf->smu);
	return rc;
}

int informer_wait_synced(struct informer *inf, uint64_t timeout_ns)
{
	return wait_for(inf, 0, true, timeout_ns);
}

int informer_wait_rv(struct informer *inf, uint64_t rv, uint64_t timeout_ns)
{
	return wait_for(inf, rv, false, timeout_ns);
}

uint64_t informer_last_rv(struct informer *inf)
{
	return atomic_load(&inf->last_rv);
}

static int get_entry(struct informer *inf, uint32_t e, struct obj *out)
{
	if (e == NONE) {
		pthread_rwlock_unlock(&inf->rw);
		return -ENOENT;
	}
	objv_unpack(inf->ent[e].v, out);
	pthread_rwlock_unlock(&inf->rw);
	return 0;
}

int informer_get(struct informer *inf, const char *ns, const char *name, struct obj *out)
{
	pthread_rwlock_rdlock(&inf->rw);
	return get_entry(inf, find_name(inf, ns ? ns : "", name), out);
}

int informer_get_uid(struct informer *inf, uint64_t uid, struct obj *out)
{
	pthread_rwlock_rdlock(&inf->rw);
	return get_entry(inf, find_uid(inf, uid), out);
}

struct refs {
	struct objv **v;
	size_t n, cap;
};

static int refs_add(struct refs *r, struct objv *v)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct objv **a = realloc(r->v, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		r->v = a;
		r->cap = cap;
	}
	r->v[r->n++] = objv_ref(v);
	return 0;
}

/* Calls fn for each collected version (outside the lock) and drops the references. */
static int refs_call(struct refs *r, int rc, store_list_fn fn, void *arg)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!rc) {
			struct obj o;

			objv_unpack(r->v[i], &o);
			rc = fn(arg, &o);
			obj_fini(&o);
		}
		objv_unref(r->v[i]);
	}
	free(r->v);
	return rc;
}

int informer_list(struct informer *inf, const char *ns, const char *selector, store_list_fn fn,
		  void *arg)
{
	struct obj_selector sel;
	struct refs r = { 0 };
	int rc = obj_selector_parse(&sel, selector);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&inf->rw);
	for (uint32_t e = 0; e < inf->nent && !rc; e++) {
		struct objv *v = inf->ent[e].v;

		if (v && (!ns || !strcmp(objv_ns(v), ns)) && objv_selector_match(&sel, v))
			rc = refs_add(&r, v);
	}
	pthread_rwlock_unlock(&inf->rw);
	return refs_call(&r, rc, fn, arg);
}

int informer_by_index(struct informer *inf, const char *index, const char *val,
		      store_list_fn fn, void *arg)
{
	struct refs r = { 0 };
	struct iindex *x = NULL;
	uint32_t id;
	int rc = 0;

	for (int i = 0; i < inf->nix; i++)
		if (!strcmp(inf->ix[i].name, index))
			x = &inf->ix[i];
	if (!x)
		return -ENOENT;
	pthread_rwlock_rdlock(&inf->rw);
	id = icache_find_val(x, val);
	for (uint32_t n = id == NONE ? NONE : x->v[id].head; n != NONE && !rc; n = inf->node[n].next)
		rc = refs_add(&r, inf->ent[inf->node[n].ent].v);
	pthread_rwlock_unlock(&inf->rw);
	return refs_call(&r, rc, fn, arg);
}

size_t informer_len(struct informer *inf)
{
	size_t n;

	pthread_rwlock_rdlock(&inf->rw);
	n = inf->nobj;
	pthread_rwlock_unlock(&inf->rw);
	return n;
}

uint64_t informer_relists(struct informer *inf)
{
	return atomic_load(&inf->relists);
}

uint64_t informer_rewatches(struct informer *inf)
{
	return atomic_load(&inf->rewatches);
}

void informer_break_watch(struct informer *inf)
{
	pthread_mutex_lock(&inf->rmu);
	if (inf->w)
		store_watch_break(inf->w);
	pthread_mutex_unlock(&inf->rmu);
}

size_t informer_bytes(struct informer *inf)
{
	size_t b = sizeof(*inf);

	pthread_rwlock_rdlock(&inf->rw);
	b += (size_t)inf->cap_ent * sizeof(*inf->ent) + (size_t)inf->cap_node * sizeof(*inf->node) +
	     idtab_bytes(&inf->by_uid) + idtab_bytes(&inf->by_name);
	for (int i = 0; i < inf->nix; i++)
		b += idtab_bytes(&inf->ix[i].by_val) + (size_t)inf->ix[i].cap * sizeof(struct ival);
	pthread_rwlock_unlock(&inf->rw);
	pthread_mutex_lock(&inf->qmu);
	b += inf->q.cap * sizeof(struct delta);
	pthread_mutex_unlock(&inf->qmu);
	return b;
}
