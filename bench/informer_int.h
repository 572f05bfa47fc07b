/*
 * informer_int — the informer's internal state, shared by informer.c (reflector, processor,
 * public calls) and informer_cache.c (the indexer cache and its secondary indexes). Not for
 * anyone else: see informer.h.
 */
#ifndef RECONPERF_INFORMER_INT_H
#define RECONPERF_INFORMER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "bench/idtab.h"
#include "bench/informer.h"

#define NONE UINT32_MAX

enum { D_REPLACE = 16 };	/* beside enum watch_type and WATCH_BOOKMARK */

struct replace {		/* a list result travelling through the delta queue */
	size_t n;
	struct objv **v;
};

struct delta {
	uint64_t rv;
	union {
		struct objv *v;		/* watch events */
		struct replace *r;	/* D_REPLACE */
	};
	uint32_t type;
};

struct dq {
	struct delta *a;
	size_t n, cap;
};

struct ient {			/* one cached object */
	struct objv *v;		/* NULL when free */
	uint64_t uid;
	uint32_t hash;		/* v->name_hash */
	uint32_t mark;		/* relist epoch that saw it */
	uint32_t mine;		/* its index memberships (node list); or the next free entry */
};

struct ival {			/* one value of one secondary index */
	char val[64];
	uint32_t hash;
	uint32_t head;		/* member nodes; or the next free value */
	uint32_t count;
};

struct inode {			/* entry ent has value val in index idx */
	uint32_t ent, val, prev, next, mine;
	uint32_t idx;
};

struct iindex {
	char name[32];
	informer_index_fn fn;
	struct idtab by_val;
	struct ival *v;
	uint32_t nv, cap, free;
};

struct ivals {			/* index values computed for one object */
	int n[INFORMER_MAX_INDEXES];
	char v[INFORMER_MAX_INDEXES][INFORMER_MAX_INDEX_VALUES][64];
};

struct informer {
	struct store *s;
	struct informer_opts o;
	char kind[24];
	struct informer_handler h[INFORMER_MAX_HANDLERS];
	int nh;
	bool want_old, want_obj;	/* unpack old and new objects for handlers or indexes */
	bool want_update;		/* some handler takes updates */
	struct iindex ix[INFORMER_MAX_INDEXES];
	int nix;

	/* cache: written by the processor under rw (write), read by anyone under rw (read) */
	pthread_rwlock_t rw;
	struct ient *ent;
	uint32_t nent, cap_ent, free_ent;
	size_t nobj;
	struct idtab by_uid, by_name;
	struct inode *node;
	uint32_t nnode, cap_node, free_node;
	uint32_t epoch;

	/* delta queue: reflector -> processor */
	pthread_mutex_t qmu;
	pthread_cond_t qcond;
	struct dq q;

	/* reflector control: the current watch, backoff, stop */
	pthread_mutex_t rmu;
	pthread_cond_t rcond;
	struct store_watch *w;
	uint64_t backoff_cur, backoff_start, rng;

	/* progress, for waiters */
	pthread_mutex_t smu;
	pthread_cond_t scond;
	atomic_uint nwait;
	atomic_ullong last_rv;
	atomic_bool synced, stopping;
	atomic_ullong relists, rewatches;

	pthread_t reflector, processor;
	bool started, joined;

	struct obj cur, old;	/* processor scratch */
	struct ivals ivals;
};

/* ---- cache lookups (callers hold rw, or are the processor): hot, so inline here ---- */

static inline uint32_t find_uid(const struct informer *inf, uint64_t uid)
{
	return idtab_find_uid(&inf->by_uid, inf->ent, sizeof(*inf->ent),
			      offsetof(struct ient, uid), uid);
}

static inline uint32_t find_name(const struct informer *inf, const char *ns, const char *name)
{
	uint32_t h = obj_name_hash(inf->kind, ns, name), e;
	uint64_t i;

	idtab_foreach(&inf->by_name, h, i, e)
		if (objv_is(inf->ent[e].v, h, inf->kind, ns, name))
			return e;
	return NONE;
}

/* ---- informer_cache.c: the cache and its indexes (processor only, takes rw itself) ---- */

/* The index values of o for every index, into iv. */
int icache_vals(struct informer *inf, const struct obj *o, struct ivals *iv);
/* Adds v (the cache takes the caller's reference) with index values iv (NULL: no indexes). */
int icache_add(struct informer *inf, struct objv *v, const struct ivals *iv);
/* Replaces entry e's version with v; returns the old one (the caller's reference now). */
struct objv *icache_replace(struct informer *inf, uint32_t e, struct objv *v,
			    const struct ivals *iv);
/* Removes entry e; returns its version (the caller's reference now). */
struct objv *icache_remove(struct informer *inf, uint32_t e);
/* The id of value val in index x, or NONE (callers hold rw). */
uint32_t icache_find_val(const struct iindex *x, const char *val);

#endif
