/*
 * keymap — open-addressing uint64 -> uint32 map (see keymap.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "bench/keymap.h"

int km_init(struct keymap *m, uint32_t cap_hint)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)cap_hint && cap < (1u << 31))
		cap <<= 1;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->mask = cap - 1;
	m->n = 0;
	return 0;
}

void km_fini(struct keymap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->mask = 0;
	m->n = 0;
}

static void km_place(struct keymap *m, uint64_t key, uint32_t val)
{
	uint32_t i = km_hash(m, key);

	while (m->slots[i].used)
		i = (i + 1) & m->mask;
	m->slots[i] = (struct km_slot){ .key = key, .val = val, .used = 1 };
}

static int km_grow(struct keymap *m)
{
	struct keymap old = *m;
	uint64_t cap = (uint64_t)m->mask + 1;

	if (cap >= (1u << 31))
		return -ENOMEM;
	m->slots = calloc(cap * 2, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	m->mask = (uint32_t)(cap * 2 - 1);
	for (uint64_t i = 0; i < cap; i++)
		if (old.slots[i].used)
			km_place(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	return 0;
}

int km_insert(struct keymap *m, uint64_t key, uint32_t val)
{
	if (2 * ((uint64_t)m->n + 1) > (uint64_t)m->mask + 1) {
		int rc = km_grow(m);

		if (rc)
			return rc;
	}
	km_place(m, key, val);
	m->n++;
	return 0;
}

/* Backward-shift deletion: walk the cluster after the hole and move back every entry whose
 * home slot does not lie cyclically in (hole, its slot], so lookups never meet a gap. */
void km_del(struct keymap *m, uint64_t key)
{
	uint32_t i = km_hash(m, key);

	for (;; i = (i + 1) & m->mask) {
		if (!m->slots[i].used)
			return;
		if (m->slots[i].key == key)
			break;
	}
	uint32_t hole = i;

	for (uint32_t j = (hole + 1) & m->mask; m->slots[j].used; j = (j + 1) & m->mask) {
		uint32_t home = km_hash(m, m->slots[j].key);

		if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].used = 0;
	m->n--;
}
