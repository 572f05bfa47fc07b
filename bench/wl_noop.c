/*
 * noop — the reconciler that does nothing but what every reconciler does: read its object
 * from the cache and record observedGeneration. What the bench measures with it is the
 * harness: queue, informer, store and worker overhead. In queue mode there is no store;
 * the reconcile is only the configured CPU and allocation work.
 */
#include "bench/workload.h"

#include <errno.h>

void wl_spec_index_make(struct wl_env *env, uint64_t i, struct obj *o)
{
	(void)env;
	o->spec[0] = (int64_t)i;
}

void wl_spec_random_mutate(struct wl_env *env, struct obj *o, uint64_t *rng)
{
	(void)env;
	o->spec[0] = (int64_t)(wl_rand(rng) >> 1);
}

static void noop_reconcile(struct wl_env *env, unsigned worker, uint64_t key,
			   struct ctrl_result *res)
{
	struct obj o;
	int err;

	wl_burn(env->sc, &env->rng[worker]);
	if (wl_injected_outcome(env->sc, &env->rng[worker], res) || !env->store)
		return;
	err = informer_get_uid(env->prim, key, &o);
	if (err == -ENOENT)
		return;		/* deleted: nothing to do */
	if (err) {
		wl_store_error(res);
		return;
	}
	wl_write_status(env, worker, &o, NULL, OBJ_COND_READY, res);
	obj_fini(&o);
}

static bool noop_converged(const struct wl_env *env, const struct obj *p,
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
	return true;
}

const struct workload wl_noop = {
	.name = "noop",
	.kind = "Noop",
	.make = wl_spec_index_make,
	.mutate = wl_spec_random_mutate,
	.reconcile = noop_reconcile,
	.converged = noop_converged,
};
