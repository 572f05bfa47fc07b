/*
 * keymap — an open-addressing hash map from a 64-bit key (an object uid) to a 32-bit value.
 *
 * Linear probing over a power-of-two table kept at most half full, Fibonacci hashing of
 * 8-key windows (so sequential uids spread, and stay in order within a window), and backward-shift deletion (no tombstones, so a map that sees
 * millions of insert/delete pairs never degrades). Every key value is allowed, 0 included.
 * The table grows by doubling; it never shrinks. Lookups and deletions never allocate.
 *
 * Threading: one writer at a time (the owner's lock). With `retain` set, km_peek() may run
 * concurrently with writers, without the lock: old tables stay allocated until km_fini()
 * and every slot field is written atomically, so a peek never touches freed memory. A peek
 * can miss a present key or return a value torn from another slot, so its caller must
 * verify the answer against data it owns (the workqueue checks its entry's key under a
 * sequence number) and fall back to the locked path.
 */
#ifndef RECONPERF_KEYMAP_H
#define RECONPERF_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

struct km_slot {
	uint64_t key;
	uint32_t val;
	uint32_t used;
};

struct km_table {
	uint32_t mask;			/* capacity - 1 */
	struct km_table *older;		/* retained predecessor */
	struct km_slot slots[] __attribute__((aligned(64)));
};

struct keymap {
	struct km_table *t;		/* published with release for km_peek() */
	uint32_t n;			/* keys present */
	bool retain;
};

int km_init(struct keymap *m, uint32_t cap_hint, bool retain);	/* 0 or -ENOMEM */
void km_fini(struct keymap *m);

/*
 * Runs of 8 consecutive keys share a home window of 8 slots (two cache lines), and the
 * windows are spread by Fibonacci hashing of key >> 3: dense uids visited in order (a
 * producer adding keys round-robin) touch slots in order, where the hardware prefetcher
 * helps, instead of one random line per key; any other key pattern still spreads.
 */
static inline uint32_t km_hash(uint32_t mask, uint64_t key)
{
	uint32_t w = (uint32_t)(((key >> 3) * 0x9e3779b97f4a7c15ull) >> 32);

	return ((w << 3) | (uint32_t)(key & 7)) & mask;
}

/* The value slot of key, or NULL when absent. Hot path; under the owner's lock. */
static inline uint32_t *km_find(struct keymap *m, uint64_t key)
{
	struct km_table *t = m->t;

	for (uint32_t i = km_hash(t->mask, key);; i = (i + 1) & t->mask) {
		struct km_slot *s = &t->slots[i];

		if (!s->used)
			return NULL;
		if (s->key == key)
			return &s->val;
	}
}

/* Lock-free lookup for retaining maps (see above): true and *val when key was seen. */
static inline bool km_peek(const struct keymap *m, uint64_t key, uint32_t *val)
{
	struct km_table *t = __atomic_load_n(&m->t, __ATOMIC_ACQUIRE);
	uint32_t i = km_hash(t->mask, key);

	for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		struct km_slot *s = &t->slots[i];

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			return false;
		if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) == key) {
			*val = __atomic_load_n(&s->val, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

/* Inserts key (which must be absent) with val. 0 or -ENOMEM (the map is unchanged). */
int km_insert(struct keymap *m, uint64_t key, uint32_t val);
/* Removes key if present. */
void km_del(struct keymap *m, uint64_t key);

#endif
