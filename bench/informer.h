/*
 * informer — client-go's shared index informer over the simulated store.
 *
 * A reflector thread lists one kind, then watches from the list's revision, and pushes what
 * it sees into a delta queue (unbounded, like DeltaFIFO). A processor thread pops deltas,
 * updates the indexer cache (by uid, by namespace/name, and named secondary indexes), then
 * calls the handlers. Rules, as client-go (docs/store.md):
 *   - the cache is updated before handlers run; handlers see each key's events in order;
 *   - the initial list calls on_add(initial_list = true);
 *   - a relist calls on_update for every listed object already cached (even unchanged),
 *     on_add for new ones, and on_delete(tombstone = true) for cached objects the list no
 *     longer has (deletes missed while the watch was down);
 *   - resync (every resync_ns, 0 = never) calls on_update(o, o) for every cached object;
 *   - a watch that ends with 410 Gone (-ESTALE, the watcher fell behind the history) makes
 *     the reflector relist after a backoff: exponential from backoff_min (0.8 s) to
 *     backoff_max (30 s) with up to +100% jitter, reset after 2 min without trouble, as
 *     client-go's reflector; a failed list (fault hook) backs off the same way;
 *   - a dropped watch (informer_break_watch) is re-opened from the last revision seen,
 *     without a relist, as client-go does; only a watch that ended within 1 s having
 *     delivered nothing counts as an error and relists (client-go's "very short watch"),
 *     and relist_on_drop makes every drop relist.
 *
 * Threading: handlers run on the processor thread, one at a time, with no informer lock
 * held; they may call informer_get/list/by_index and the store. Reads (get, list, by_index,
 * len) are safe from any thread concurrently with the processor (a reader-writer lock; list
 * and by_index callbacks run without it, on references taken under it). add_index and
 * add_handler only before informer_start. informer_stop joins both threads.
 *
 * Cost: one watch event costs a few hash probes, one write-lock, two unpacks (old and new)
 * when handlers want objects (none for _v handlers), and the handler calls; cached objects
 * are the store's own immutable versions (shared references), so the cache adds only its
 * tables and indexes.
 */
#ifndef RECONPERF_INFORMER_H
#define RECONPERF_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/obj.h"
#include "bench/store.h"

#define INFORMER_MAX_HANDLERS 8
#define INFORMER_MAX_INDEXES 8
#define INFORMER_MAX_INDEX_VALUES 8	/* values one object may have in one index */

struct informer;

/*
 * The objects passed are valid only during the call (obj_copy to keep one). A handler may
 * instead take the cached versions themselves (the _v calls, read with obj.h's objv
 * accessors; objv_ref to keep one): they cost no unpack, and when no handler and no index
 * wants objects the processor unpacks nothing. For a delete, v is the deleted version (its
 * rv is that of its last change, not of the deletion).
 */
struct informer_handler {
	void (*on_add)(void *arg, const struct obj *o, bool initial_list);
	void (*on_update)(void *arg, const struct obj *old, const struct obj *cur);
	void (*on_delete)(void *arg, const struct obj *o, bool tombstone);
	void *arg;
	void (*on_add_v)(void *arg, const struct objv *v, bool initial_list);
	void (*on_update_v)(void *arg, const struct objv *old, const struct objv *cur);
	void (*on_delete_v)(void *arg, const struct objv *v, bool tombstone);
};

/* Writes up to max index values (NUL-terminated, < 64 bytes) and returns how many. */
typedef int (*informer_index_fn)(const struct obj *o, char vals[][64], int max);

struct informer_opts {
	const char *kind;		/* required */
	uint64_t resync_ns;		/* 0 = no resync */
	uint64_t backoff_min_ns;	/* 0 = 800 ms */
	uint64_t backoff_max_ns;	/* 0 = 30 s */
	uint64_t backoff_reset_ns;	/* 0 = 2 min */
	bool relist_on_drop;		/* relist after every dropped watch */
	uint64_t seed;			/* backoff jitter */
};

struct informer *informer_new(struct store *s, const struct informer_opts *o);	/* NULL: errno */
void informer_free(struct informer *inf);	/* stops it first; NULL-safe */

int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn);
int informer_add_handler(struct informer *inf, const struct informer_handler *h);
int informer_start(struct informer *inf);
bool informer_has_synced(struct informer *inf);
/* 0 once the initial list has been delivered to the handlers, -ETIMEDOUT. */
int informer_wait_synced(struct informer *inf, uint64_t timeout_ns);
/* 0 once every change up to store revision rv has been delivered, -ETIMEDOUT. */
int informer_wait_rv(struct informer *inf, uint64_t rv, uint64_t timeout_ns);
uint64_t informer_last_rv(struct informer *inf);
void informer_stop(struct informer *inf);

/* Cache reads: out is overwritten (obj_fini it after). -ENOENT when not cached. */
int informer_get(struct informer *inf, const char *ns, const char *name, struct obj *out);
int informer_get_uid(struct informer *inf, uint64_t uid, struct obj *out);
/* fn runs without informer locks; non-zero from fn stops and is returned. */
int informer_list(struct informer *inf, const char *ns, const char *selector, store_list_fn fn,
		  void *arg);
int informer_by_index(struct informer *inf, const char *index, const char *val,
		      store_list_fn fn, void *arg);	/* -ENOENT: no such index */

size_t informer_len(struct informer *inf);
uint64_t informer_relists(struct informer *inf);	/* lists after the initial one */
uint64_t informer_rewatches(struct informer *inf);	/* watches re-opened without a list */
void informer_break_watch(struct informer *inf);	/* drop the current watch (fault) */
size_t informer_bytes(struct informer *inf);	/* tables, indexes, queue; the objects
						 * themselves are the store's (store_bytes) */

#endif
