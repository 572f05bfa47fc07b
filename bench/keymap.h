/*
 * keymap — an open-addressing hash map from a 64-bit key (an object uid) to a 32-bit value.
 *
 * Linear probing over a power-of-two table kept at most half full, Fibonacci hashing (so
 * sequential uids spread), and backward-shift deletion (no tombstones, so a map that sees
 * millions of insert/delete pairs never degrades). Every key value is allowed, 0 included.
 * The table grows by doubling; it never shrinks. Lookups and deletions never allocate.
 *
 * Not thread-safe: the owner (workqueue, rate limiter) holds its own lock around it.
 */
#ifndef RECONPERF_KEYMAP_H
#define RECONPERF_KEYMAP_H

#include <stdint.h>

struct km_slot {
	uint64_t key;
	uint32_t val;
	uint32_t used;
};

struct keymap {
	struct km_slot *slots;
	uint32_t mask;		/* capacity - 1 */
	uint32_t n;		/* keys present */
};

int km_init(struct keymap *m, uint32_t cap_hint);	/* 0 or -ENOMEM */
void km_fini(struct keymap *m);

static inline uint32_t km_hash(const struct keymap *m, uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & m->mask;
}

/* The value slot of key, or NULL when absent. Hot path. */
static inline uint32_t *km_find(struct keymap *m, uint64_t key)
{
	for (uint32_t i = km_hash(m, key);; i = (i + 1) & m->mask) {
		struct km_slot *s = &m->slots[i];

		if (!s->used)
			return NULL;
		if (s->key == key)
			return &s->val;
	}
}

/* Inserts key (which must be absent) with val. 0 or -ENOMEM (the map is unchanged). */
int km_insert(struct keymap *m, uint64_t key, uint32_t val);
/* Removes key if present. */
void km_del(struct keymap *m, uint64_t key);

#endif
