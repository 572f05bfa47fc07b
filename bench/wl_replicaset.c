/*
 * replicaset — a ReplicaSet-like scaler: each ReplicaSet (spec[0] = replicas) owns Pods
 * named "<rs>-<i>"; the reconciler lists its Pods from the cache through the owner index,
 * creates the missing ones, deletes the surplus and reports status.replicas (status[0]).
 * Pods named by ordinal make creation idempotent under a stale cache (a create the cache
 * has not seen yet fails with AlreadyExists), the way StatefulSets avoid duplicates.
 */
#include "bench/workload.h"

#include <errno.h>
#include <stdio.h>

static int rs_init(struct wl_env *env)
{
	return env->child ? informer_add_index(env->child, WL_OWNER_INDEX, wl_owner_index) : 0;
}

static void rs_make(struct wl_env *env, uint64_t i, struct obj *o)
{
	(void)i;
	o->spec[0] = env->sc->wl.replicas;
	obj_set_label(o, "app", o->name);
}

static void rs_mutate(struct wl_env *env, struct obj *o, uint64_t *rng)
{
	uint64_t r = env->sc->wl.replicas ? env->sc->wl.replicas : 1;
	int64_t next = (int64_t)(wl_rand(rng) % (2 * r + 1));

	o->spec[0] = next == o->spec[0] ? (next + 1) % (int64_t)(2 * r + 1) : next;
}

static void pod_init(const struct obj *parent, size_t i, struct obj *c)
{
	(void)i;
	obj_set_label(c, "app", parent->name);
	c->conditions = 0;
}

static void pods_of(struct wl_env *env, const struct obj *rs, struct wl_children *out)
{
	char owner[32];

	snprintf(owner, sizeof(owner), "%llu", (unsigned long long)rs->uid);
	informer_by_index(env->child, WL_OWNER_INDEX, owner, wl_children_collect, out);
}

static void rs_reconcile(struct wl_env *env, unsigned worker, uint64_t key,
			 struct ctrl_result *res)
{
	wl_reconcile_owner(env, worker, key, pods_of, pod_init, res);
}

static bool rs_converged(const struct wl_env *env, const struct obj *p,
			 const struct obj *const *children, size_t n, char *why, size_t len)
{
	(void)env;
	(void)children;
	if (p->observed_generation != p->generation) {
		wl_why(why, len, "status.observedGeneration %lld != generation %lld",
			 (long long)p->observed_generation, (long long)p->generation);
		return false;
	}
	if ((int64_t)n != p->spec[0]) {
		wl_why(why, len, "%zu pods exist, spec.replicas is %lld", n,
			 (long long)p->spec[0]);
		return false;
	}
	if (p->status[0] != p->spec[0]) {
		wl_why(why, len, "status.replicas %lld != spec.replicas %lld",
			 (long long)p->status[0], (long long)p->spec[0]);
		return false;
	}
	return true;
}

const struct workload wl_replicaset = {
	.name = "replicaset",
	.kind = "ReplicaSet",
	.child_kind = "Pod",
	.init = rs_init,
	.make = rs_make,
	.mutate = rs_mutate,
	.reconcile = rs_reconcile,
	.converged = rs_converged,
};
