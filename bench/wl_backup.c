/*
 * backup — the backup operator: each BackupPolicy (spec[0] = retain) keeps that many
 * Backups labelled policy=<name>. Every reconcile lists the policy's backups, either by
 * scanning every cached Backup and filtering on the label (list: scan, what an operator
 * without a field index does: O(all backups) per reconcile, O(n^2) per resync) or through a
 * secondary index on the label (list: index, O(own backups)).
 */
#include "bench/workload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int policy_index(const struct obj *o, char vals[][64], int max)
{
	const char *p = obj_label(o, "policy");

	if (!p || max < 1)
		return 0;
	snprintf(vals[0], 64, "%s", p);
	return 1;
}

static int bk_init(struct wl_env *env)
{
	return env->child ? informer_add_index(env->child, "policy", policy_index) : 0;
}

static void bk_make(struct wl_env *env, uint64_t i, struct obj *o)
{
	(void)i;
	o->spec[0] = env->sc->wl.backups_per_policy;
}

static void bk_mutate(struct wl_env *env, struct obj *o, uint64_t *rng)
{
	uint64_t r = env->sc->wl.backups_per_policy ? env->sc->wl.backups_per_policy : 1;

	o->spec[0] = (int64_t)(1 + wl_rand(rng) % (2 * r));
}

static void backup_init(const struct obj *parent, size_t i, struct obj *c)
{
	(void)i;
	obj_set_label(c, "policy", parent->name);
}

struct scan {
	const char *policy;
	struct wl_children *out;
};

static int scan_one(void *arg, const struct obj *o)
{
	struct scan *s = arg;
	const char *p = obj_label(o, "policy");

	return p && strcmp(p, s->policy) == 0 ? wl_children_collect(s->out, o) : 0;
}

static void backups_of(struct wl_env *env, const struct obj *pol, struct wl_children *out)
{
	struct scan s = { pol->name, out };

	if (env->sc->wl.list == SC_LIST_INDEX)
		informer_by_index(env->child, "policy", pol->name, wl_children_collect, out);
	else
		informer_list(env->child, pol->ns, NULL, scan_one, &s);
}

static void bk_reconcile(struct wl_env *env, unsigned worker, uint64_t key,
			 struct ctrl_result *res)
{
	wl_reconcile_owner(env, worker, key, backups_of, backup_init, res);
}

static bool bk_converged(const struct wl_env *env, const struct obj *p,
			 const struct obj *const *children, size_t n, char *why, size_t len)
{
	(void)env;
	(void)children;
	if (p->observed_generation != p->generation) {
		wl_why(why, len, "status.observedGeneration %lld != generation %lld",
			 (long long)p->observed_generation, (long long)p->generation);
		return false;
	}
	if ((int64_t)n != p->spec[0] || p->status[0] != p->spec[0]) {
		wl_why(why, len, "%zu backups exist, status says %lld, spec.retain is %lld", n,
			 (long long)p->status[0], (long long)p->spec[0]);
		return false;
	}
	return true;
}

const struct workload wl_backup = {
	.name = "backup",
	.kind = "BackupPolicy",
	.child_kind = "Backup",
	.init = bk_init,
	.make = bk_make,
	.mutate = bk_mutate,
	.reconcile = bk_reconcile,
	.converged = bk_converged,
};
