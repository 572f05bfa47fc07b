/*
 * workload — the built-in reconcilers, each modelled on a real controller, behind one
 * interface the runner drives:
 *
 *   noop        reads its object from the cache, writes observedGeneration: the harness itself
 *   replicaset  owns `replicas` Pods per ReplicaSet, creates and deletes them to match spec
 *   backup      a BackupPolicy keeps `retain` Backups; each reconcile lists the policy's
 *               backups by scanning every Backup (list: scan) or through an index (list: index)
 *   rollout     a Config with a payload; its Deployments carry the payload's hash, so a
 *               config change rolls out to every dependant
 *   plugin      a user reconciler from a shared library (include/reconperf/reconciler.h)
 *
 * Every workload exposes the oracle's predicate: given the authoritative primary object and
 * its children, is it converged, and if not, why. Reconcilers read from the informer cache
 * and write to the store, as with controller-runtime's client.
 *
 * Threads: reconcile() runs on the controller's workers, concurrently for different keys;
 * converged() is called by the oracle under the store's commit hook (quick, no store calls).
 */
#ifndef RECONPERF_WORKLOAD_H
#define RECONPERF_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/client.h"
#include "bench/controller.h"
#include "bench/informer.h"
#include "bench/obj.h"
#include "bench/scenario.h"
#include "bench/store.h"

struct wl_env {
	const struct scenario *sc;
	struct store *store;		/* NULL in queue mode */
	struct client *client;		/* writes go through it (faults, retries) */
	struct informer *prim;		/* informer of the primary kind (NULL in queue mode) */
	struct informer *child;		/* informer of the owned kind, or NULL */
	const struct workload *wl;
	void *state;			/* the workload's own */
	uint64_t *rng;			/* [workers] per-worker PRNG state */
};

struct workload {
	const char *name;
	const char *kind;		/* primary kind */
	const char *child_kind;		/* owned kind, or NULL */
	int (*init)(struct wl_env *env);	/* optional: state, indexes */
	void (*fini)(struct wl_env *env);	/* optional */
	/* Fills the i-th primary object for creation (kind, ns and name are set already). */
	void (*make)(struct wl_env *env, uint64_t i, struct obj *o);
	/* Changes the spec for a churn update. */
	void (*mutate)(struct wl_env *env, struct obj *o, uint64_t *rng);
	void (*reconcile)(struct wl_env *env, unsigned worker, uint64_t key,
			  struct ctrl_result *res);
	/* why/len: where to say why not; len 0 (why NULL) when no reason is wanted. */
	bool (*converged)(const struct wl_env *env, const struct obj *prim,
			  const struct obj *const *children, size_t n, char *why, size_t len);
};

const struct workload *workload_find(enum sc_workload w);

/* The work every reconcile does before its own logic: reconcile.cpu of busy CPU and
 * reconcile.allocs allocations of reconcile.alloc_size bytes, touched and freed. */
/* converged()'s reason: snprintf into why unless len is 0 (no reason wanted). */
#define wl_why(why, len, ...) \
	do { \
		if (len) \
			snprintf(why, len, __VA_ARGS__); \
	} while (0)

void wl_burn(const struct scenario *sc, uint64_t *rng);
/* Spins for ns of wall time (the calibrated unit of simulated CPU work). */
void wl_spin_ns(uint64_t ns);

/* Rolls the scenario's injected outcomes (fail_rate, terminal_rate, panic_rate,
 * requeue_after_rate). Returns true when it set an outcome and the reconcile must return. */
bool wl_injected_outcome(const struct scenario *sc, uint64_t *rng, struct ctrl_result *res);

/* The shared ending of reconcilers: write status (observedGeneration and the given status
 * fields) when it differs; sets res on failure. */
void wl_write_status(struct wl_env *env, unsigned worker, struct obj *o, const int64_t *status,
		     uint32_t conditions, struct ctrl_result *res);
/* A store error fails the reconcile (rate-limited requeue); the client counted it. */
static inline void wl_store_error(struct ctrl_result *res)
{
	res->outcome = CTRL_ERROR;
}

static inline uint64_t wl_rand(uint64_t *s)	/* xorshift64* */
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline double wl_rand01(uint64_t *s)
{
	return (double)(wl_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* make/mutate of workloads whose spec is one number (noop, plugin): spec[0] = i, then a
 * random value on each churn update. */
void wl_spec_index_make(struct wl_env *env, uint64_t i, struct obj *o);
void wl_spec_random_mutate(struct wl_env *env, struct obj *o, uint64_t *rng);

extern const struct workload wl_noop, wl_replicaset, wl_backup, wl_rollout, wl_plugin;



/*
 * Owned children named "<parent>-<i>" with spec[1] = i (i < desired): creates the missing
 * ones, deletes those past desired, and lets fix() update a present child (return true when
 * it changed the child and it must be written). `present` holds the cached children.
 * Returns the number of children that exist (or were created) below desired.
 */
struct wl_children {
	struct obj *v;
	size_t n, cap;
};
int wl_children_collect(void *arg, const struct obj *o);	/* a store_list_fn */
void wl_children_fini(struct wl_children *c);
size_t wl_sync_children(struct wl_env *env, unsigned worker, const struct obj *parent,
			const struct wl_children *present, size_t desired,
			void (*init)(const struct obj *parent, size_t i, struct obj *child),
			bool (*fix)(const struct obj *parent, struct obj *child),
			struct ctrl_result *res);
/*
 * The reconcile of an owner that keeps spec[0] children: burn and roll the injected outcomes,
 * read the owner from the cache (gone: nothing to do), let list() collect its cached
 * children, sync them to spec[0] with init(), then write status[0] = children present.
 */
typedef void (*wl_list_children_fn)(struct wl_env *env, const struct obj *owner,
				    struct wl_children *out);
void wl_reconcile_owner(struct wl_env *env, unsigned worker, uint64_t key,
			wl_list_children_fn list,
			void (*init)(const struct obj *parent, size_t i, struct obj *child),
			struct ctrl_result *res);
/* The owner index every workload with children registers on its child informer. */
int wl_owner_index(const struct obj *o, char vals[][64], int max);
#define WL_OWNER_INDEX "owner"
#endif
