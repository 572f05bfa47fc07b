/*
 * keymap — open-addressing uint64 -> uint32 map (see keymap.h).
 *
 * Slot fields are written with atomic stores so that km_peek() readers of a retaining map
 * race with nothing undefined; on x86-64 these are plain moves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/keymap.h"

static struct km_table *km_table_new(uint64_t cap)
{
	/* Slots start on a cache line, so a window of 8 (km_hash) is exactly two lines. */
	size_t sz = (sizeof(struct km_table) + cap * sizeof(struct km_slot) + 63) & ~(size_t)63;
	struct km_table *t = aligned_alloc(64, sz);

	if (t) {
		memset(t, 0, sz);
		t->mask = (uint32_t)(cap - 1);
	}
	return t;
}

int km_init(struct keymap *m, uint32_t cap_hint, bool retain)
{
	uint64_t cap = 16;

	while (cap < 2 * (uint64_t)cap_hint && cap < (1u << 31))
		cap <<= 1;
	m->t = km_table_new(cap);
	m->n = 0;
	m->retain = retain;
	return m->t ? 0 : -ENOMEM;
}

void km_fini(struct keymap *m)
{
	struct km_table *t = m->t, *older;

	for (; t; t = older) {
		older = t->older;
		free(t);
	}
	m->t = NULL;
	m->n = 0;
}

static void km_set(struct km_slot *s, uint64_t key, uint32_t val)
{
	__atomic_store_n(&s->key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&s->val, val, __ATOMIC_RELAXED);
	__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
}

static void km_place(struct km_table *t, uint64_t key, uint32_t val)
{
	uint32_t i = km_hash(t->mask, key);

	while (t->slots[i].used)
		i = (i + 1) & t->mask;
	km_set(&t->slots[i], key, val);
}

static int km_grow(struct keymap *m)
{
	struct km_table *old = m->t, *t;
	uint64_t cap = (uint64_t)old->mask + 1;

	if (cap >= (1u << 31) || !(t = km_table_new(cap * 2)))
		return -ENOMEM;
	for (uint64_t i = 0; i < cap; i++)
		if (old->slots[i].used)
			km_place(t, old->slots[i].key, old->slots[i].val);
	if (m->retain) {
		t->older = old;
	} else {
		t->older = old->older;
		free(old);
	}
	__atomic_store_n(&m->t, t, __ATOMIC_RELEASE);
	return 0;
}

int km_insert(struct keymap *m, uint64_t key, uint32_t val)
{
	if (2 * ((uint64_t)m->n + 1) > (uint64_t)m->t->mask + 1) {
		int rc = km_grow(m);

		if (rc)
			return rc;
	}
	km_place(m->t, key, val);
	m->n++;
	return 0;
}

/* Backward-shift deletion: walk the cluster after the hole and move back every entry whose
 * home slot does not lie cyclically in (hole, its slot], so lookups never meet a gap. */
void km_del(struct keymap *m, uint64_t key)
{
	struct km_table *t = m->t;
	uint32_t mask = t->mask, i = km_hash(mask, key);

	for (;; i = (i + 1) & mask) {
		if (!t->slots[i].used)
			return;
		if (t->slots[i].key == key)
			break;
	}
	uint32_t hole = i;

	__atomic_store_n(&t->slots[hole].used, 0, __ATOMIC_RELAXED);
	for (uint32_t j = (hole + 1) & mask; t->slots[j].used; j = (j + 1) & mask) {
		uint32_t home = km_hash(mask, t->slots[j].key);

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			km_set(&t->slots[hole], t->slots[j].key, t->slots[j].val);
			__atomic_store_n(&t->slots[j].used, 0, __ATOMIC_RELAXED);
			hole = j;
		}
	}
	m->n--;
}
