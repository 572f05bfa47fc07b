/*
 * rollout — a config-hash roll-out: each Config carries a payload (spec_data) and owns
 * `dependants` Deployments whose spec[0] must equal the hash of the payload. A reconcile
 * hashes the payload (CPU proportional to its size, as real controllers hash ConfigMaps),
 * creates missing dependants and updates stale ones, then records the hash in status[0].
 * The oracle knows the desired hash from spec[2], set when the payload was written.
 */
#include "bench/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t payload_hash(const struct blob *b)
{
	const unsigned char *p = b ? blob_data(b) : NULL;
	size_t n = b ? blob_len(b) : 0;
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (int64_t)(h >> 1);
}

static void set_payload(struct wl_env *env, struct obj *o, uint64_t *rng)
{
	size_t n = env->sc->wl.payload_size;
	unsigned char *buf = malloc(n ? n : 1);

	if (!buf)
		return;
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(wl_rand(rng) >> 56);
	if (o->spec_data)
		blob_unref(o->spec_data);
	o->spec_data = blob_new(buf, n);
	o->spec[0]++;				/* version */
	o->spec[2] = payload_hash(o->spec_data);	/* desired hash, for the oracle */
	free(buf);
}

static int ro_init(struct wl_env *env)
{
	return env->child ? informer_add_index(env->child, WL_OWNER_INDEX, wl_owner_index) : 0;
}

static void ro_make(struct wl_env *env, uint64_t i, struct obj *o)
{
	uint64_t rng = env->sc->seed * 0x9E3779B97F4A7C15ull + i + 1;

	set_payload(env, o, &rng);
}

static void ro_mutate(struct wl_env *env, struct obj *o, uint64_t *rng)
{
	set_payload(env, o, rng);
}

/* The hash for the reconcile on this thread, read by the child callbacks. */
static _Thread_local int64_t tl_hash;

static void dep_init(const struct obj *parent, size_t i, struct obj *c)
{
	(void)parent;
	(void)i;
	c->spec[0] = tl_hash;
}

static bool dep_fix(const struct obj *parent, struct obj *c)
{
	(void)parent;
	if (c->spec[0] == tl_hash)
		return false;
	c->spec[0] = tl_hash;
	return true;
}

static void ro_reconcile(struct wl_env *env, unsigned worker, uint64_t key,
			 struct ctrl_result *res)
{
	struct wl_children kids = { 0 };
	char owner[32];
	struct obj cfg;
	int64_t status[4] = { 0 };
	int err;

	wl_burn(env->sc, &env->rng[worker]);
	if (wl_injected_outcome(env->sc, &env->rng[worker], res))
		return;
	err = informer_get_uid(env->prim, key, &cfg);
	if (err == -ENOENT)
		return;
	if (err) {
		wl_store_error(res);
		return;
	}
	tl_hash = payload_hash(cfg.spec_data);
	snprintf(owner, sizeof(owner), "%llu", (unsigned long long)cfg.uid);
	informer_by_index(env->child, WL_OWNER_INDEX, owner, wl_children_collect, &kids);
	wl_sync_children(env, worker, &cfg, &kids, env->sc->wl.dependants, dep_init, dep_fix,
			 res);
	if (res->outcome == CTRL_SUCCESS) {
		status[0] = tl_hash;
		wl_write_status(env, worker, &cfg, status, OBJ_COND_READY, res);
	}
	wl_children_fini(&kids);
	obj_fini(&cfg);
}

static bool ro_converged(const struct wl_env *env, const struct obj *p,
			 const struct obj *const *children, size_t n, char *why, size_t len)
{
	if (p->observed_generation != p->generation) {
		wl_why(why, len, "status.observedGeneration %lld != generation %lld",
			 (long long)p->observed_generation, (long long)p->generation);
		return false;
	}
	if (n != env->sc->wl.dependants) {
		wl_why(why, len, "%zu dependants exist, want %u", n, env->sc->wl.dependants);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (children[i]->spec[0] != p->spec[2]) {
			wl_why(why, len, "dependant %s runs an old config hash", children[i]->name);
			return false;
		}
	}
	if (p->status[0] != p->spec[2]) {
		wl_why(why, len, "status.configHash is stale");
		return false;
	}
	return true;
}

const struct workload wl_rollout = {
	.name = "rollout",
	.kind = "Config",
	.child_kind = "Deployment",
	.init = ro_init,
	.make = ro_make,
	.mutate = ro_mutate,
	.reconcile = ro_reconcile,
	.converged = ro_converged,
};
