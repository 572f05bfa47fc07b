/*
 * plugin — a user reconciler from a shared library, through include/reconperf/reconciler.h.
 * The library is dlopen()ed at init; its reconcile sees objects as struct rp_object and
 * reaches the cache and the store through struct rp_api.
 */
#include "bench/workload.h"
#include "reconperf/reconciler.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plugin_state {
	void *dl;
	const struct rp_reconciler *r;
	void *user;
};

struct plugin_ctx {		/* one per call */
	struct wl_env *env;
	unsigned worker;
	struct obj cached;
	bool have;
};

static void to_rp(const struct obj *o, struct rp_object *r)
{
	memset(r, 0, sizeof(*r));
	r->uid = o->uid;
	r->ns = o->ns;
	r->name = o->name;
	r->resource_version = o->rv;
	r->generation = o->generation;
	r->observed_generation = o->observed_generation;
	memcpy(r->spec, o->spec, sizeof(r->spec));
	memcpy(r->status, o->status, sizeof(r->status));
	r->ready = (o->conditions & OBJ_COND_READY) != 0;
}

static int api_get(void *ctx, uint64_t uid, struct rp_object *out)
{
	struct plugin_ctx *c = ctx;
	int err;

	if (c->have) {
		obj_fini(&c->cached);
		c->have = false;
	}
	err = informer_get_uid(c->env->prim, uid, &c->cached);
	if (err)
		return err;
	c->have = true;
	to_rp(&c->cached, out);
	return 0;
}

static int api_update_status(void *ctx, const struct rp_object *o)
{
	struct plugin_ctx *c = ctx;
	struct obj w;
	int err;

	if (!c->have || c->cached.uid != o->uid)
		return -EINVAL;	/* get() the object first, as with a real client */
	obj_copy(&w, &c->cached);
	w.rv = o->resource_version;
	w.observed_generation = o->observed_generation;
	memcpy(w.status, o->status, sizeof(w.status));
	w.conditions = o->ready ? OBJ_COND_READY : 0;
	err = client_update_status(c->env->client, c->worker, &w);
	obj_fini(&w);
	return err;
}

static const struct rp_api plugin_api = {
	.abi = RP_RECONCILER_ABI,
	.get = api_get,
	.update_status = api_update_status,
	.burn_ns = wl_spin_ns,
};

static int pl_init(struct wl_env *env)
{
	struct plugin_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->dl = dlopen(env->sc->plugin, RTLD_NOW | RTLD_LOCAL);
	if (!st->dl)
		goto err;
	st->r = dlsym(st->dl, "rp_reconciler_v1");
	if (!st->r || st->r->abi != RP_RECONCILER_ABI || !st->r->reconcile)
		goto err;
	if (st->r->init && st->r->init(&plugin_api, &st->user) != 0)
		goto err;
	env->state = st;
	return 0;
err:
	if (st->dl)
		dlclose(st->dl);
	free(st);
	return -ENOEXEC;
}

static void pl_fini(struct wl_env *env)
{
	struct plugin_state *st = env->state;

	if (!st)
		return;
	if (st->r && st->r->fini)
		st->r->fini(st->user);
	dlclose(st->dl);
	free(st);
	env->state = NULL;
}

static void pl_reconcile(struct wl_env *env, unsigned worker, uint64_t key,
			 struct ctrl_result *res)
{
	struct plugin_state *st = env->state;
	struct plugin_ctx ctx = { .env = env, .worker = worker };
	struct rp_result r = { RP_SUCCESS, 0 };

	wl_burn(env->sc, &env->rng[worker]);
	if (wl_injected_outcome(env->sc, &env->rng[worker], res))
		return;
	st->r->reconcile(st->user, &ctx, key, &r);
	if (ctx.have)
		obj_fini(&ctx.cached);
	switch (r.outcome) {
	case RP_SUCCESS: res->outcome = CTRL_SUCCESS; break;
	case RP_TERMINAL: res->outcome = CTRL_TERMINAL; break;
	case RP_REQUEUE: res->outcome = CTRL_REQUEUE; break;
	case RP_REQUEUE_AFTER:
		res->outcome = CTRL_REQUEUE_AFTER;
		res->after_ns = r.requeue_after_ns;
		break;
	default: res->outcome = CTRL_ERROR; break;
	}
}

static bool pl_converged(const struct wl_env *env, const struct obj *p,
			 const struct obj *const *children, size_t n, char *why, size_t len)
{
	(void)env;
	(void)children;
	(void)n;
	if (p->observed_generation != p->generation) {
		wl_why(why, len, "status.observedGeneration %lld != generation %lld",
			 (long long)p->observed_generation, (long long)p->generation);
		return false;
	}
	if (!(p->conditions & OBJ_COND_READY)) {
		wl_why(why, len, "not ready");
		return false;
	}
	return true;
}

const struct workload wl_plugin = {
	.name = "plugin",
	.kind = "Custom",
	.init = pl_init,
	.fini = pl_fini,
	.make = wl_spec_index_make,	/* spec[0] only, as noop: the plug-in decides the rest */
	.mutate = wl_spec_random_mutate,
	.reconcile = pl_reconcile,
	.converged = pl_converged,
};
