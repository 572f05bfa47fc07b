/*
 * u64map — an open-addressing hash map from non-zero uint64_t keys to pointers, with
 * backward-shift deletion (no tombstones), so lookups stay short after heavy churn.
 * Not thread-safe: the owner locks around it.
 */
#ifndef RECONPERF_U64MAP_H
#define RECONPERF_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;		/* 0 = empty */
	void **vals;
	size_t cap, len;	/* cap is a power of two */
};

int u64map_init(struct u64map *m, size_t hint);
void u64map_fini(struct u64map *m);
void *u64map_get(const struct u64map *m, uint64_t key);
/* Inserts or replaces. Returns 0 or -ENOMEM. key must not be 0. */
int u64map_put(struct u64map *m, uint64_t key, void *val);
/* Removes and returns the value, or NULL. */
void *u64map_del(struct u64map *m, uint64_t key);
/* Iteration: for (size_t i = 0; u64map_next(m, &i, &k, &v);) */
int u64map_next(const struct u64map *m, size_t *i, uint64_t *key, void **val);

#endif
