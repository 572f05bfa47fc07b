/*
 * store — the simulated API server and etcd in one process.
 *
 * Objects (bench/obj.h) are keyed by uid and by kind/namespace/name. Every committed change
 * takes the next global revision (resourceVersion) and appends one event to a bounded watch
 * history, so revisions are contiguous and event N sits at ring slot N. Semantics follow
 * the Kubernetes API server (docs/store.md):
 *   - create: -EEXIST (409 AlreadyExists) if the name exists; the store sets uid (unique,
 *     never reused), rv, generation = 1, and clears status (status subresource);
 *   - update: by name; o->rv must equal the stored rv (0 = unconditional, as k8s allows),
 *     a non-zero o->uid must match (uid precondition), else -EBUSY (409 Conflict); status
 *     fields are ignored; generation +1 only when the spec (spec[], spec_data) changes;
 *     labels and owner may change; a write that changes nothing bumps nothing and emits no
 *     event; on success (also no-op) *o becomes the stored object;
 *   - update_status: only observed_generation, status[] and conditions; same preconditions;
 *   - delete: rv precondition (0 = none); deletes the objects it owns, recursively, each with
 *     its own DELETED event after the owner's (background cascading deletion, as the garbage
 *     collector does). An object created or updated with an owner_uid that does not exist
 *     is deleted by the same collector right after that write (its events: the write, then
 *     DELETED);
 *   - watch from rv X delivers every change with revision > X in revision order; if X is
 *     older than the history still kept, store_watch_next returns -ESTALE (410 Gone).
 *     The history keeps the last watch_history events; store_compact drops more.
 * Errors: -ENOENT 404, -EEXIST 409, -EBUSY 409 Conflict, -ESTALE 410, -EINVAL bad object or
 * selector, -ENOMEM; plus whatever the fault hook returns (-EIO, -EAGAIN, -ETIMEDOUT ...).
 *
 * Threading: every call is thread-safe (one mutex; objects are packed and unpacked outside
 * it). A watch handle belongs to one reader thread; store_watch_break may be called from any
 * thread. Free informers and close watches before store_free.
 *
 * Cost: get/create/update/delete O(1) expected (open-addressing tables by uid and by name;
 * owner -> children lists), list O(objects), watch delivery O(1) per event plus one wakeup
 * per batch: an idle watcher is woken by the next change, a busy one (its last read
 * returned events) when 64 events wait or after 50 us.
 */
#ifndef RECONPERF_STORE_H
#define RECONPERF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/obj.h"

struct store;
struct store_watch;

struct store_opts {
	uint64_t watch_history;		/* events kept; older are compacted. 0 = 65536 */
	uint64_t (*clock)(void *arg);	/* reserved: the store records no times yet */
	void *clock_arg;
};

struct store *store_new(const struct store_opts *o);	/* o may be NULL; NULL on ENOMEM */
void store_free(struct store *s);

int store_create(struct store *s, struct obj *o);	/* in/out: fills uid, rv, generation */
/* out is overwritten (not obj_fini'd first); the caller obj_fini's it. */
int store_get(struct store *s, const char *kind, const char *ns, const char *name,
	      struct obj *out);
int store_get_uid(struct store *s, uint64_t uid, struct obj *out);
int store_update(struct store *s, struct obj *o);
int store_update_status(struct store *s, struct obj *o);
int store_delete(struct store *s, const char *kind, const char *ns, const char *name,
		 uint64_t rv);

/* Called for each object, outside the store lock; return non-zero to stop (store_list then
 * returns that value). ns NULL = all namespaces; selector as in obj.h. *list_rv (may be NULL)
 * is the revision the list is consistent with: watch from it to see every later change. */
typedef int (*store_list_fn)(void *arg, const struct obj *o);
int store_list(struct store *s, const char *kind, const char *ns, const char *selector,
	       store_list_fn fn, void *arg, uint64_t *list_rv);

enum watch_type { WATCH_ADDED, WATCH_MODIFIED, WATCH_DELETED };
struct watch_event {
	enum watch_type type;
	uint64_t rv;		/* revision of this change */
	struct obj obj;		/* owned by the receiver: obj_fini it. For DELETED: the last
				 * state, with rv = deletion_rv = the deletion's revision */
};

/* kind NULL = every kind. Events with revision > from_rv. NULL on ENOMEM. */
struct store_watch *store_watch_open(struct store *s, const char *kind, uint64_t from_rv);
/* timeout_ns: 0 = do not wait, UINT64_MAX = forever. 0, -ETIMEDOUT, -ESTALE (from_rv or a
 * later position was compacted: relist), -ESHUTDOWN (broken or store freed). */
int store_watch_next(struct store_watch *w, struct watch_event *ev, uint64_t timeout_ns);
void store_watch_break(struct store_watch *w);	/* next store_watch_next: -ESHUTDOWN */
void store_watch_close(struct store_watch *w);	/* NULL-safe */

uint64_t store_revision(struct store *s);
size_t store_count(struct store *s, const char *kind);	/* kind NULL = all */
size_t store_bytes(struct store *s);	/* objects (every live version, also those only
					 * informers still hold), tables, history */

/* After each committed change, in revision order, under the store lock: be quick, do not
 * call the store. ev->obj is only valid during the call (do not obj_fini it). */
typedef void (*store_commit_fn)(void *arg, const struct watch_event *ev);
void store_set_commit_hook(struct store *s, store_commit_fn fn, void *arg);
/* The same hook given the stored version itself, not an unpacked copy (no unpack per
 * commit): v is valid during the call; for DELETED it is the last version (v->rv < rv).
 * *cookie is the hook's own slot for this object, NULL at the object's first commit and
 * whenever a hook is set, kept by the store until the object is deleted (a hook keeps its
 * per-object state there instead of looking it up; the store prefetches it before the
 * commit). Replaces a store_commit_fn hook, and the other way round. */
struct objv;
typedef void (*store_commit_v_fn)(void *arg, enum watch_type type, uint64_t rv,
				  const struct objv *v, void **cookie);
void store_set_commit_hook_v(struct store *s, store_commit_v_fn fn, void *arg);

enum store_verb {
	SV_GET, SV_LIST, SV_CREATE, SV_UPDATE, SV_UPDATE_STATUS, SV_DELETE,
	SV_WATCH,	/* store_watch_open: an error fails the watch's first read */
	SV__COUNT
};
/* Called before each client call with no lock held; o names the target (for get, list,
 * watch and delete only its kind/ns/name/uid are set). Return 0 to proceed or -errno to
 * fail the call; set *applied = true to perform the call anyway and still return the error
 * (a timeout after the write happened). The hook may block (a slow API server). */
typedef int (*store_fault_fn)(void *arg, enum store_verb verb, const struct obj *o,
			      bool *applied);
void store_set_fault_hook(struct store *s, store_fault_fn fn, void *arg);

/* Drops history up to revision rv (clamped to the current revision). */
int store_compact(struct store *s, uint64_t rv);

/* ---- for the informer: the same calls without unpacking (references owned by caller) ---- */
#define WATCH_BOOKMARK 3	/* only from store_watch_next_v: progress, v = NULL */
struct store_wev {
	int type;		/* enum watch_type, or WATCH_BOOKMARK */
	uint64_t rv;
	struct objv *v;		/* for DELETED: the last version (v->rv < rv) */
};
/* Up to max events; returns how many (> 0) or a negative errno as store_watch_next. When
 * the watch has passed events of other kinds and has nothing else to return, it returns
 * one WATCH_BOOKMARK whose rv is the last revision looked at (as the API server's
 * bookmarks), so a kind-filtered watcher knows how far the store has been seen. */
int store_watch_next_v(struct store_watch *w, struct store_wev *evs, int max,
		       uint64_t timeout_ns);
/* A consistent snapshot: *out (malloc'd, free it after objv_unref of each) of *n versions. */
int store_list_v(struct store *s, const char *kind, const char *ns, const char *selector,
		 struct objv ***out, size_t *n, uint64_t *list_rv);

#endif
