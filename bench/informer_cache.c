/* informer_cache — the informer's indexer cache and secondary indexes. See informer_int.h. */
#include "bench/informer_int.h"
#include "common/grow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t val_hash(const char *val)
{
	return obj_name_hash("", "", val);
}

uint32_t icache_find_val(const struct iindex *x, const char *val)
{
	uint32_t h = val_hash(val), id;
	uint64_t i;

	idtab_foreach(&x->by_val, h, i, id)
		if (!strcmp(x->v[id].val, val))
			return id;
	return NONE;
}

/* ---- secondary indexes (processor, under the write lock) ---- */

int icache_vals(struct informer *inf, const struct obj *o, struct ivals *iv)
{
	for (int i = 0; i < inf->nix; i++) {
		int n = inf->ix[i].fn(o, iv->v[i], INFORMER_MAX_INDEX_VALUES);

		iv->n[i] = n < 0 ? 0 : n > INFORMER_MAX_INDEX_VALUES ? INFORMER_MAX_INDEX_VALUES : n;
		for (int j = 0; j < iv->n[i]; j++)
			iv->v[i][j][63] = 0;
	}
	return 0;
}

static bool has_member(const struct informer *inf, uint32_t e, uint32_t idx, const char *val)
{
	for (uint32_t n = inf->ent[e].mine; n != NONE; n = inf->node[n].mine)
		if (inf->node[n].idx == idx && !strcmp(inf->ix[idx].v[inf->node[n].val].val, val))
			return true;
	return false;
}

static bool same_members(const struct informer *inf, uint32_t e, const struct ivals *iv)
{
	int want = 0, have = 0;

	for (uint32_t n = inf->ent[e].mine; n != NONE; n = inf->node[n].mine)
		have++;
	for (int i = 0; i < inf->nix; i++) {
		want += iv->n[i];
		for (int j = 0; j < iv->n[i]; j++)
			if (!has_member(inf, e, (uint32_t)i, iv->v[i][j]))
				return false;
	}
	return want == have;
}

static void unlink_members(struct informer *inf, uint32_t e)
{
	uint32_t n = inf->ent[e].mine, next;

	for (; n != NONE; n = next) {
		struct inode *d = &inf->node[n];
		struct iindex *x = &inf->ix[d->idx];
		struct ival *v = &x->v[d->val];

		next = d->mine;
		if (d->prev != NONE)
			inf->node[d->prev].next = d->next;
		else
			v->head = d->next;
		if (d->next != NONE)
			inf->node[d->next].prev = d->prev;
		if (--v->count == 0) {
			idtab_del(&x->by_val, v->hash, d->val);
			v->head = x->free;
			x->free = d->val;
		}
		d->mine = inf->free_node;
		inf->free_node = n;
	}
	inf->ent[e].mine = NONE;
}

static uint32_t value_get(struct iindex *x, const char *val)
{
	uint32_t id = icache_find_val(x, val);

	if (id != NONE)
		return id;
	if (idtab_reserve(&x->by_val, x->by_val.n + 1))
		return NONE;
	if (x->free != NONE) {
		id = x->free;
		x->free = x->v[id].head;
	} else {
		if (rp_grow((void **)&x->v, &x->cap, sizeof(*x->v), x->nv + 1, 64))
			return NONE;
		id = x->nv++;
	}
	snprintf(x->v[id].val, sizeof(x->v[id].val), "%s", val);
	x->v[id].hash = val_hash(val);
	x->v[id].head = NONE;
	x->v[id].count = 0;
	idtab_put(&x->by_val, x->v[id].hash, id);
	return id;
}

/* Best effort on ENOMEM: the object stays cached, only missing from an index. */
static void link_members(struct informer *inf, uint32_t e, const struct ivals *iv)
{
	for (int i = 0; i < inf->nix; i++) {
		struct iindex *x = &inf->ix[i];

		for (int j = 0; j < iv->n[i]; j++) {
			uint32_t val, n;

			if (has_member(inf, e, (uint32_t)i, iv->v[i][j]))
				continue;	/* duplicate value from the index function */
			val = value_get(x, iv->v[i][j]);
			if (val == NONE)
				return;
			if (inf->free_node != NONE) {
				n = inf->free_node;
				inf->free_node = inf->node[n].mine;
			} else {
				if (rp_grow((void **)&inf->node, &inf->cap_node, sizeof(*inf->node),
					    inf->nnode + 1, 64))
					return;
				n = inf->nnode++;
			}
			inf->node[n] = (struct inode){ .ent = e, .val = val, .prev = NONE,
						       .next = x->v[val].head, .mine = inf->ent[e].mine,
						       .idx = (uint32_t)i };
			if (x->v[val].head != NONE)
				inf->node[x->v[val].head].prev = n;
			x->v[val].head = n;
			x->v[val].count++;
			inf->ent[e].mine = n;
		}
	}
}

/* ---- cache mutations (processor only) ---- */

/* Adds v (the cache takes the caller's reference). -ENOMEM leaves the cache unchanged. */
int icache_add(struct informer *inf, struct objv *v, const struct ivals *iv)
{
	uint32_t e;
	int rc = 0;

	pthread_rwlock_wrlock(&inf->rw);
	if (idtab_reserve(&inf->by_uid, inf->nobj + 1) ||
	    idtab_reserve(&inf->by_name, inf->nobj + 1) ||
	    (inf->free_ent == NONE &&
	     rp_grow((void **)&inf->ent, &inf->cap_ent, sizeof(*inf->ent), inf->nent + 1, 64))) {
		rc = -ENOMEM;
		goto out;
	}
	if (inf->free_ent != NONE) {
		e = inf->free_ent;
		inf->free_ent = inf->ent[e].mine;
	} else {
		e = inf->nent++;
	}
	inf->ent[e] = (struct ient){ .v = v, .uid = v->uid, .hash = v->name_hash,
				     .mark = inf->epoch, .mine = NONE };
	idtab_put(&inf->by_uid, idtab_uid_hash(v->uid), e);
	idtab_put(&inf->by_name, v->name_hash, e);
	inf->nobj++;
	if (iv)
		link_members(inf, e, iv);
out:
	pthread_rwlock_unlock(&inf->rw);
	return rc;
}

/* Replaces e's version with v; returns the old one (the caller's reference now). */
struct objv *icache_replace(struct informer *inf, uint32_t e, struct objv *v,
				  const struct ivals *iv)
{
	struct objv *old;

	pthread_rwlock_wrlock(&inf->rw);
	old = inf->ent[e].v;
	inf->ent[e].v = v;
	inf->ent[e].mark = inf->epoch;
	if (iv && !same_members(inf, e, iv)) {
		unlink_members(inf, e);
		link_members(inf, e, iv);
	}
	pthread_rwlock_unlock(&inf->rw);
	return old;
}

struct objv *icache_remove(struct informer *inf, uint32_t e)
{
	struct ient *x = &inf->ent[e];
	struct objv *old;

	pthread_rwlock_wrlock(&inf->rw);
	old = x->v;
	unlink_members(inf, e);
	idtab_del(&inf->by_uid, idtab_uid_hash(x->uid), e);
	idtab_del(&inf->by_name, x->hash, e);
	x->v = NULL;
	x->mine = inf->free_ent;
	inf->free_ent = e;
	inf->nobj--;
	pthread_rwlock_unlock(&inf->rw);
	return old;
}
