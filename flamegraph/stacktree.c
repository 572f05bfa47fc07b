/* stacktree — see stacktree.h. */
#include "flamegraph/stacktree.h"
#include "common/grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct fg_str {
	uint32_t off;
	uint32_t len;
	uint32_t hash;
};

/* The key lives in the slot, so a lookup touches one cache line, not the node too. */
struct slot {
	uint32_t parent, name, node;
};

struct fg_tree {
	char *bytes;		/* string arena: names back to back, NUL-terminated */
	size_t nbytes, capbytes;
	struct fg_str *strs;
	uint32_t nstrs, capstrs;
	uint32_t *strhash;	/* open addressing: string id + 1, 0 = empty */
	uint32_t strmask;

	struct fg_node *nodes;
	uint32_t nnodes, capnodes;
	struct slot *nodehash;	/* open addressing by (parent, name); node 0 = empty */
	uint32_t nodeslots;	/* any size: slots are picked by multiply-shift */
	int finished;
};

#define MIX 0x9e3779b97f4a7c15ull

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ len, w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * MIX;
		h ^= h >> 29;
		s += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * MIX;
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 31));
}

static inline uint32_t hash_pair(uint32_t parent, uint32_t name)
{
	uint64_t h = ((uint64_t)parent << 32 | name) * MIX;

	return (uint32_t)(h >> 32 ^ h);
}

/*
 * The node array and the node hash are mapped directly and asked for transparent huge
 * pages: lookups in a large tree land on random pages, and with 4 KiB pages much of their
 * time goes to TLB misses. mmap'd memory also starts zeroed.
 */
static void *big_realloc(void *p, size_t old, size_t bytes)
{
	void *np = p ? mremap(p, old, bytes, MREMAP_MAYMOVE)
		     : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (np == MAP_FAILED)
		return NULL;
	madvise(np, bytes, MADV_HUGEPAGE);
	return np;
}

static void big_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

static int grow_nodes(struct fg_tree *t, uint32_t need)
{
	uint32_t ncap;
	void *np;
	int err;

	if (need <= t->capnodes)
		return 0;
	err = rp_grow_cap(t->capnodes, need, 4096, &ncap);
	if (err)
		return err;
	np = big_realloc(t->nodes, (size_t)t->capnodes * sizeof(*t->nodes),
			 (size_t)ncap * sizeof(*t->nodes));
	if (!np)
		return -ENOMEM;
	t->nodes = np;
	t->capnodes = ncap;
	return 0;
}

struct fg_tree *fg_tree_new(void)
{
	struct fg_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->strmask = 1023;
	t->nodeslots = 4096;
	t->strhash = calloc(t->strmask + 1, sizeof(uint32_t));
	t->nodehash = big_realloc(NULL, 0, (size_t)t->nodeslots * sizeof(*t->nodehash));
	if (!t->strhash || !t->nodehash || grow_nodes(t, 1)) {
		fg_tree_free(t);
		return NULL;
	}
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nnodes = 1;
	if (fg_tree_intern(t, "all", 3, &t->nodes[0].name)) {
		fg_tree_free(t);
		return NULL;
	}
	return t;
}

void fg_tree_free(struct fg_tree *t)
{
	if (!t)
		return;
	free(t->bytes);
	free(t->strs);
	free(t->strhash);
	big_free(t->nodes, (size_t)t->capnodes * sizeof(*t->nodes));
	if (t->nodehash)
		big_free(t->nodehash, (size_t)t->nodeslots * sizeof(*t->nodehash));
	free(t);
}

static int rehash_strs(struct fg_tree *t)
{
	uint32_t nmask = t->strmask * 2 + 1, *nh = calloc((size_t)nmask + 1, sizeof(uint32_t));

	if (!nh)
		return -ENOMEM;
	for (uint32_t id = 0; id < t->nstrs; id++) {
		uint32_t i = t->strs[id].hash & nmask;

		while (nh[i])
			i = (i + 1) & nmask;
		nh[i] = id + 1;
	}
	free(t->strhash);
	t->strhash = nh;
	t->strmask = nmask;
	return 0;
}

int fg_tree_intern(struct fg_tree *t, const char *s, size_t len, uint32_t *id)
{
	uint32_t h = hash_bytes(s, len), i = h & t->strmask, e;
	struct fg_str *st;
	int err;

	while ((e = t->strhash[i])) {
		st = &t->strs[e - 1];
		if (st->hash == h && st->len == len && !memcmp(t->bytes + st->off, s, len)) {
			*id = e - 1;
			return 0;
		}
		i = (i + 1) & t->strmask;
	}
	if (len >= UINT32_MAX || t->nbytes + len + 1 > UINT32_MAX)
		return -E2BIG;
	if (t->nbytes + len + 1 > t->capbytes) {
		size_t ncap = t->capbytes ? t->capbytes : 65536;
		char *nb;

		while (ncap < t->nbytes + len + 1)
			ncap *= 2;
		nb = realloc(t->bytes, ncap);
		if (!nb)
			return -ENOMEM;
		t->bytes = nb;
		t->capbytes = ncap;
	}
	err = rp_grow((void **)&t->strs, &t->capstrs, sizeof(*t->strs), t->nstrs + 1, 1024);
	if (err)
		return err;
	st = &t->strs[t->nstrs];
	st->off = (uint32_t)t->nbytes;
	st->len = (uint32_t)len;
	st->hash = h;
	memcpy(t->bytes + t->nbytes, s, len);
	t->bytes[t->nbytes + len] = '\0';
	t->nbytes += len + 1;
	t->strhash[i] = ++t->nstrs;
	*id = t->nstrs - 1;
	if ((uint64_t)t->nstrs * 2 > t->strmask)
		return rehash_strs(t);
	return 0;
}

/* A slot index in [0, n) from a 32-bit hash, without a division (Lemire's reduction). */
static inline uint32_t reduce(uint32_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)h * n) >> 32);
}

static int rehash_nodes(struct fg_tree *t, uint32_t nslots)
{
	struct slot *nh = big_realloc(NULL, 0, (size_t)nslots * sizeof(*nh));

	if (!nh)
		return -ENOMEM;
	for (uint32_t j = 0; j < t->nodeslots; j++) {
		struct slot *e = &t->nodehash[j];
		uint32_t i;

		if (!e->node)
			continue;
		i = reduce(hash_pair(e->parent, e->name), nslots);
		while (nh[i].node)
			i = i + 1 == nslots ? 0 : i + 1;
		nh[i] = *e;
	}
	big_free(t->nodehash, (size_t)t->nodeslots * sizeof(*t->nodehash));
	t->nodehash = nh;
	t->nodeslots = nslots;
	return 0;
}

/* Linear probing stays short up to 70% full. */
#define MAX_LOAD_PCT 70

int fg_tree_reserve(struct fg_tree *t, size_t nodes)
{
	uint64_t want = (uint64_t)nodes * 100 / MAX_LOAD_PCT + 1;

	if (want > UINT32_MAX)
		want = UINT32_MAX;
	if (want <= t->nodeslots)
		return 0;
	return rehash_nodes(t, (uint32_t)want);
}

int fg_tree_child(struct fg_tree *t, uint32_t parent, uint32_t name, uint32_t *out)
{
	uint32_t i = reduce(hash_pair(parent, name), t->nodeslots), e;
	struct slot *sl;
	struct fg_node *n;
	int err;

	for (sl = &t->nodehash[i]; sl->node; sl = &t->nodehash[i]) {
		if (sl->parent == parent && sl->name == name) {
			*out = sl->node;
			return 0;
		}
		i = i + 1 == t->nodeslots ? 0 : i + 1;
	}
	err = grow_nodes(t, t->nnodes + 1);
	if (err)
		return err;
	e = t->nnodes++;
	n = &t->nodes[e];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->name = name;
	/* Sibling links wait for fg_tree_finish(): touching the parent here costs a cache miss
	 * per new node, there the misses overlap. */
	*sl = (struct slot){ parent, name, e };
	*out = e;
	if ((uint64_t)t->nnodes * 100 > (uint64_t)t->nodeslots * MAX_LOAD_PCT) {
		if (t->nodeslots > UINT32_MAX / 2)
			return -E2BIG;
		return rehash_nodes(t, t->nodeslots * 2);
	}
	return 0;
}

void fg_tree_prefetch(const struct fg_tree *t, uint32_t parent, uint32_t name)
{
	__builtin_prefetch(&t->nodehash[reduce(hash_pair(parent, name), t->nodeslots)]);
}

void fg_tree_add(struct fg_tree *t, uint32_t node, int slot, uint64_t n)
{
	uint64_t *v = &t->nodes[node].total[slot];

	*v = *v + n < *v ? UINT64_MAX : *v + n;
}

int fg_tree_add_stack(struct fg_tree *t, const char *const *names, size_t depth, int slot,
		      uint64_t n)
{
	uint32_t node = FG_ROOT, name;
	int err;

	for (size_t i = 0; i < depth; i++) {
		err = fg_tree_intern(t, names[i], strlen(names[i]), &name);
		if (!err)
			err = fg_tree_child(t, node, name, &node);
		if (err)
			return err;
	}
	fg_tree_add(t, node, slot, n);
	return 0;
}

void fg_tree_finish(struct fg_tree *t)
{
	if (t->finished)
		return;
	/* Children have larger ids than their parents: one backward pass sums every subtree
	 * and links the siblings (each list ends up in increasing id order). */
	for (uint32_t id = t->nnodes - 1; id > 0; id--) {
		struct fg_node *n = &t->nodes[id], *p = &t->nodes[n->parent];

		for (int s = 0; s < FG_SLOTS; s++)
			fg_tree_add(t, n->parent, s, n->total[s]);
		n->next = p->child;
		p->child = id;
	}
	t->finished = 1;
}

size_t fg_tree_nodes(const struct fg_tree *t)
{
	return t->nnodes;
}

const struct fg_node *fg_tree_node(const struct fg_tree *t, uint32_t id)
{
	return &t->nodes[id];
}

const char *fg_tree_name(const struct fg_tree *t, uint32_t name, size_t *len)
{
	if (len)
		*len = t->strs[name].len;
	return t->bytes + t->strs[name].off;
}

uint64_t fg_tree_self(const struct fg_tree *t, uint32_t node, int slot)
{
	uint64_t sum = 0;

	for (uint32_t c = t->nodes[node].child; c; c = t->nodes[c].next)
		sum += t->nodes[c].total[slot];
	return t->nodes[node].total[slot] > sum ? t->nodes[node].total[slot] - sum : 0;
}

static int cmp_name(const void *a, const void *b, void *arg)
{
	const struct fg_tree *t = arg;
	const struct fg_str *x = &t->strs[t->nodes[*(const uint32_t *)a].name];
	const struct fg_str *y = &t->strs[t->nodes[*(const uint32_t *)b].name];
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(t->bytes + x->off, t->bytes + y->off, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

long fg_tree_children_sorted(const struct fg_tree *t, uint32_t node, int slot, uint32_t **out,
			     size_t *cap)
{
	size_t n = 0;

	for (uint32_t c = t->nodes[node].child; c; c = t->nodes[c].next) {
		if (!t->nodes[c].total[slot])
			continue;
		if (n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			uint32_t *p = realloc(*out, ncap * sizeof(**out));

			if (!p)
				return -ENOMEM;
			*out = p;
			*cap = ncap;
		}
		(*out)[n++] = c;
	}
	if (n > 1)	/* *out may still be NULL when there is nothing to sort */
		qsort_r(*out, n, sizeof(**out), cmp_name, (void *)t);
	return (long)n;
}
