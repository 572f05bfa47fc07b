/* workload — the shared parts of the built-in reconcilers. See workload.h. */
#include "bench/workload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct workload *workload_find(enum sc_workload w)
{
	switch (w) {
	case SC_WL_NOOP: return &wl_noop;
	case SC_WL_REPLICASET: return &wl_replicaset;
	case SC_WL_BACKUP: return &wl_backup;
	case SC_WL_ROLLOUT: return &wl_rollout;
	case SC_WL_PLUGIN: return &wl_plugin;
	}
	return NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void wl_spin_ns(uint64_t ns)
{
	uint64_t end = mono_ns() + ns, sink = 0;

	while (mono_ns() < end) {
		for (int i = 0; i < 32; i++)
			sink += (uint64_t)i * 2654435761u;
		__asm__ volatile("" : : "r"(sink));	/* keep the loop */
	}
}

void wl_burn(const struct scenario *sc, uint64_t *rng)
{
	if (sc->reconcile.cpu_ns)
		wl_spin_ns(sc->reconcile.cpu_ns);
	for (uint32_t i = 0; i < sc->reconcile.allocs; i++) {
		size_t n = sc->reconcile.alloc_size ? sc->reconcile.alloc_size : 1;
		unsigned char *p = malloc(n);

		if (!p)
			continue;
		/* Touch it as a deep copy would, so the allocation is not optimised away. */
		memset(p, (int)(wl_rand(rng) & 0xff), n < 256 ? n : 256);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

bool wl_injected_outcome(const struct scenario *sc, uint64_t *rng, struct ctrl_result *res)
{
	double u;

	if (sc->reconcile.fail_rate <= 0 && sc->reconcile.terminal_rate <= 0 &&
	    sc->reconcile.panic_rate <= 0 && sc->reconcile.requeue_after_rate <= 0)
		return false;
	u = wl_rand01(rng);
	if (u < sc->reconcile.panic_rate)
		ctrl_panic();
	u -= sc->reconcile.panic_rate;
	if (u < sc->reconcile.fail_rate) {
		res->outcome = CTRL_ERROR;
		return true;
	}
	u -= sc->reconcile.fail_rate;
	if (u < sc->reconcile.terminal_rate) {
		res->outcome = CTRL_TERMINAL;
		return true;
	}
	u -= sc->reconcile.terminal_rate;
	if (u < sc->reconcile.requeue_after_rate) {
		res->outcome = CTRL_REQUEUE_AFTER;
		res->after_ns = sc->reconcile.requeue_after_ns;
		return true;
	}
	return false;
}

void wl_write_status(struct wl_env *env, unsigned worker, struct obj *o, const int64_t *status,
		     uint32_t conditions, struct ctrl_result *res)
{
	int err;

	if (o->observed_generation == o->generation && o->conditions == conditions &&
	    (!status || memcmp(o->status, status, sizeof(o->status)) == 0))
		return;
	o->observed_generation = o->generation;
	o->conditions = conditions;
	if (status)
		memcpy(o->status, status, sizeof(o->status));
	err = client_update_status(env->client, worker, o);
	if (err)
		wl_store_error(res);
}

int wl_children_collect(void *arg, const struct obj *o)
{
	struct wl_children *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct obj *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	obj_copy(&c->v[c->n++], o);
	return 0;
}

void wl_children_fini(struct wl_children *c)
{
	for (size_t i = 0; i < c->n; i++)
		obj_fini(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

int wl_owner_index(const struct obj *o, char vals[][64], int max)
{
	if (!o->owner_uid || max < 1)
		return 0;
	snprintf(vals[0], 64, "%llu", (unsigned long long)o->owner_uid);
	return 1;
}

size_t wl_sync_children(struct wl_env *env, unsigned worker, const struct obj *parent,
			const struct wl_children *present, size_t desired,
			void (*init)(const struct obj *parent, size_t i, struct obj *child),
			bool (*fix)(const struct obj *parent, struct obj *child),
			struct ctrl_result *res)
{
	const char *kind = env->wl->child_kind;
	unsigned char *have = calloc(desired ? desired : 1, 1);
	size_t ok = 0;
	int err;

	if (!have) {
		res->outcome = CTRL_ERROR;
		return 0;
	}
	for (size_t k = 0; k < present->n; k++) {
		struct obj *c = &present->v[k];
		uint64_t i = (uint64_t)c->spec[1];

		if (i >= desired || have[i]) {
			err = client_delete(env->client, worker, c);
			if (err && err != -ENOENT)
				wl_store_error(res);
			continue;
		}
		have[i] = 1;
		ok++;
		if (fix && fix(parent, c)) {
			struct obj w;
			obj_copy(&w, c);
			err = client_update(env->client, worker, &w);
			if (err)
				wl_store_error(res);
			obj_fini(&w);
		}
	}
	for (size_t i = 0; i < desired; i++) {
		struct obj c;

		if (have[i])
			continue;
		memset(&c, 0, sizeof(c));
		snprintf(c.kind, sizeof(c.kind), "%s", kind);
		snprintf(c.ns, sizeof(c.ns), "%s", parent->ns);
		snprintf(c.name, sizeof(c.name), "%.70s-%zu", parent->name, i);
		c.owner_uid = parent->uid;
		c.spec[1] = (int64_t)i;
		init(parent, i, &c);
		err = client_create(env->client, worker, &c);
		if (err == 0 || err == -EEXIST)	/* -EEXIST: the cache had not seen it yet */
			ok++;
		else
			wl_store_error(res);
		obj_fini(&c);
	}
	free(have);
	return ok;
}

void wl_reconcile_owner(struct wl_env *env, unsigned worker, uint64_t key,
			wl_list_children_fn list,
			void (*init)(const struct obj *parent, size_t i, struct obj *child),
			struct ctrl_result *res)
{
	struct wl_children kids = { 0 };
	int64_t status[4] = { 0 };
	struct obj owner;
	size_t have;
	int err;

	wl_burn(env->sc, &env->rng[worker]);
	if (wl_injected_outcome(env->sc, &env->rng[worker], res))
		return;
	err = informer_get_uid(env->prim, key, &owner);
	if (err == -ENOENT)
		return;		/* deleted: the garbage collector removes its children */
	if (err) {
		wl_store_error(res);
		return;
	}
	list(env, &owner, &kids);
	have = wl_sync_children(env, worker, &owner, &kids,
				(size_t)(owner.spec[0] > 0 ? owner.spec[0] : 0), init, NULL, res);
	if (res->outcome == CTRL_SUCCESS) {
		status[0] = (int64_t)have;
		wl_write_status(env, worker, &owner, status, OBJ_COND_READY, res);
	}
	wl_children_fini(&kids);
	obj_fini(&owner);
}
