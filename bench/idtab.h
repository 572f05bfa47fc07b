/*
 * idtab — an open-addressing hash index from a 32-bit hash to 32-bit ids.
 *
 * The store and the informer keep their objects in entry arrays and find them through two
 * idtabs each (by uid, by kind/namespace/name). A slot holds the hash and the id, so probes
 * compare hashes without touching the entries, and the table can grow and delete (linear
 * probing, backward-shift deletion: no tombstones) without knowing what the ids mean. Equal
 * hashes are allowed: a lookup walks the candidates and the caller checks each.
 *
 * Load stays at or below 1/2, so a probe touches about 1.5 slots on average.
 *
 * Threading: none inside. Callers lock around writers; concurrent readers are safe only
 * against no writer.
 */
#ifndef RECONPERF_IDTAB_H
#define RECONPERF_IDTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct idtab {
	uint64_t *slot;		/* (hash << 32) | (id + 1); 0 = empty */
	uint32_t bits;
	bool dense;		/* keys are dense counters (uids): home = hash & mask, so keys
				 * touched in creation order touch slots in order */
	size_t n;
};

#define IDTAB_NONE UINT32_MAX

int idtab_init(struct idtab *t);		/* 0 or -ENOMEM; set dense after, if wanted */
void idtab_fini(struct idtab *t);
int idtab_reserve(struct idtab *t, size_t n);	/* room for n ids: 0 or -ENOMEM */
void idtab_put(struct idtab *t, uint32_t hash, uint32_t id);	/* after idtab_reserve */
void idtab_del(struct idtab *t, uint32_t hash, uint32_t id);	/* id must be present */
size_t idtab_bytes(const struct idtab *t);

static inline uint64_t idtab_home(const struct idtab *t, uint32_t hash)
{
	if (t->dense)
		return hash & ((1ull << t->bits) - 1);
	return ((uint64_t)hash * 0x9E3779B97F4A7C15ull) >> (64 - t->bits);
}

/* Candidate walk: for (i = idtab_home(t, h); (id = idtab_at(t, i, h)) != IDTAB_END; i = ...) */
#define IDTAB_END (IDTAB_NONE - 1)
/* The id in slot i if its hash is h, IDTAB_NONE if it holds another hash, IDTAB_END if
 * empty (the walk ends). */
static inline uint32_t idtab_at(const struct idtab *t, uint64_t i, uint32_t h)
{
	uint64_t s = t->slot[i];

	if (!s)
		return IDTAB_END;
	return (uint32_t)(s >> 32) == h ? (uint32_t)s - 1 : IDTAB_NONE;
}

static inline uint64_t idtab_next(const struct idtab *t, uint64_t i)
{
	return (i + 1) & ((1ull << t->bits) - 1);
}

#define idtab_foreach(t, h, i, id)                                                          \
	for (i = idtab_home(t, h); (id = idtab_at(t, i, h)) != IDTAB_END; i = idtab_next(t, i)) \
		if (id != IDTAB_NONE)

/* For a dense table of uids (which the store hands out counting up from 1). */
static inline uint32_t idtab_uid_hash(uint64_t uid)
{
	return (uint32_t)uid;
}

/*
 * The id of the entry whose uid is uid, the entries being records `stride` bytes apart
 * holding the uid (uint64_t) at byte offset `off`; IDTAB_NONE if absent. Inlined with
 * constant stride and offset it is the plain loop over the records' field.
 */
static inline uint32_t idtab_find_uid(const struct idtab *t, const void *ents, size_t stride,
				      size_t off, uint64_t uid)
{
	uint32_t h = idtab_uid_hash(uid), id;
	uint64_t i;

	idtab_foreach(t, h, i, id) {
		uint64_t v;

		memcpy(&v, (const char *)ents + (size_t)id * stride + off, sizeof(v));
		if (v == uid)
			return id;
	}
	return IDTAB_NONE;
}

#endif
