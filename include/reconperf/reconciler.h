/*
 * reconperf reconciler plug-in ABI, version 1.
 *
 * A shared library that exports `const struct rp_reconciler rp_reconciler_v1` is loaded by
 * `reconperf bench` for a scenario with `workload: plugin` and `plugin: path/to/lib.so`.
 * Its objects are of kind "Custom"; each has a spec and a status of four integers, a
 * generation and an observedGeneration. reconperf creates them, churns their spec, and calls
 * reconcile(key) from its workers, concurrently for different keys (never for the same key
 * at once). The reconciler reads through api->get (the informer cache) and writes status
 * through api->update_status (the API server; a stale resourceVersion is a conflict). The
 * object counts as converged when observed_generation == generation and `ready` is set.
 *
 * The library needs nothing from reconperf at link time: every service comes through `api`.
 */
#ifndef RECONPERF_RECONCILER_H
#define RECONPERF_RECONCILER_H

#include <stdint.h>

#define RP_RECONCILER_ABI 1

struct rp_object {
	uint64_t uid;
	const char *ns, *name;	/* valid during the call */
	uint64_t resource_version;
	int64_t generation;
	int64_t observed_generation;
	int64_t spec[4];
	int64_t status[4];
	int ready;
};

enum rp_outcome {
	RP_SUCCESS = 0,
	RP_ERROR = 1,		/* rate-limited requeue */
	RP_TERMINAL = 2,	/* no requeue */
	RP_REQUEUE = 3,
	RP_REQUEUE_AFTER = 4,
};

struct rp_result {
	enum rp_outcome outcome;
	uint64_t requeue_after_ns;
};

/* Return values of api calls: 0, or -ENOENT (not found), -EBUSY (conflict), another -errno. */
struct rp_api {
	uint32_t abi;
	int (*get)(void *ctx, uint64_t uid, struct rp_object *out);
	int (*update_status)(void *ctx, const struct rp_object *o);
	void (*burn_ns)(uint64_t ns);	/* simulated CPU work */
};

struct rp_reconciler {
	uint32_t abi;		/* RP_RECONCILER_ABI */
	const char *name;
	/* Optional; *state is passed back to every reconcile. Non-zero fails the run. */
	int (*init)(const struct rp_api *api, void **state);
	void (*reconcile)(void *state, void *ctx, uint64_t key, struct rp_result *res);
	void (*fini)(void *state);	/* optional */
};

#endif
