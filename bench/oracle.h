/*
 * oracle — knows the desired state of every object and says when the world has converged.
 *
 * It sees every committed change of the store through the store's commit hook (in revision
 * order, under the store lock), keeps every object's latest version, and re-evaluates the
 * workload's predicate for the primary object that a change touches (the object itself, or
 * its owner). It counts unconverged primaries; the moment that count returns to zero is the
 * convergence time of every perturbation still pending.
 *
 * Perturbations (a churn wave, an injected fault) are marked with oracle_perturb(); each is
 * resolved at the first later moment when every primary is converged, and reported through
 * its callback with the time it took. A perturbation of one object (oracle_perturb_obj)
 * resolves when that object is converged again. oracle_wait() blocks until converged or a deadline.
 *
 * Threads: the hook runs on whichever thread commits to the store; every other function may
 * be called from any thread. Lock order: store, then oracle. The oracle never calls the store.
 */
#ifndef RECONPERF_ORACLE_H
#define RECONPERF_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/result.h"
#include "bench/store.h"
#include "bench/workload.h"

struct oracle;

/* Called (under the oracle lock) when a perturbation resolves; converge_ns is its time. */
typedef void (*oracle_resolved_fn)(void *arg, int tag, uint64_t converge_ns);

int oracle_new(const struct workload *wl, const struct wl_env *env, struct oracle **out);
void oracle_free(struct oracle *o);

/* The store commit hook (a store_commit_v_fn); arg is the oracle. */
void oracle_on_commit_v(void *arg, enum watch_type type, uint64_t rv, const struct objv *v,
			void **cookie);

/* Marks a perturbation at now; fn(arg, tag, ns) fires when the world is converged again. */
void oracle_perturb(struct oracle *o, int tag, oracle_resolved_fn fn, void *arg);
/* Marks a perturbation of one object (a primary, or an owned object: its owner stands
 * for it); fn fires when that primary is converged again, or at once when the oracle does
 * not know it. For faults that hit one object: its recovery is what to time. */
void oracle_perturb_obj(struct oracle *o, uint64_t uid, int tag, oracle_resolved_fn fn,
			void *arg);
/* At the end of a run: when every primary is converged, resolves the pending
 * perturbations (those that never unsettled anything took 0 ns, the others until the last
 * return to converged); otherwise reports each as unresolved (converge_ns = UINT64_MAX). */
void oracle_finish(struct oracle *o);

uint64_t oracle_unconverged(struct oracle *o);
uint64_t oracle_primaries(struct oracle *o);
/* Waits until no primary is unconverged, or abs_deadline (CLOCK_MONOTONIC ns) passes.
 * Returns 0 or -ETIMEDOUT. */
int oracle_wait(struct oracle *o, uint64_t abs_deadline_ns);
/* Time of the last perturbation and of the last return to converged (CLOCK_MONOTONIC ns). */
void oracle_times(struct oracle *o, uint64_t *last_perturb, uint64_t *last_converged);
/* The unconverged primaries with the reason, at most max. Caller frees *out. */
int oracle_stuck(struct oracle *o, struct bench_stuck **out, size_t *n, size_t max);
/* Is a primary with this uid present in the oracle's view? */
bool oracle_has(struct oracle *o, uint64_t uid);
/* Approximate bytes held. */
size_t oracle_bytes(struct oracle *o);

uint64_t oracle_now_ns(void);

#endif
