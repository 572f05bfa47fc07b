/*
 * stacktree — call stacks merged into a tree: identical prefixes share nodes.
 *
 * A tree holds interned frame names and nodes. Node 0 is the root ("all"); every other node
 * has a parent with a smaller id, so a pass over ids in increasing order visits parents
 * before children (the layout relies on it). Each node carries FG_SLOTS sample counters: slot
 * 0 is the profile being drawn, slot 1 the base of a differential graph. Samples are added
 * to the leaf of a stack only; fg_tree_finish() turns them into inclusive totals, after which
 * the tree is read-only and its sibling links (child, next) are set.
 *
 * Built for speed on large inputs: names live in one growing string arena, children are
 * found through one open-addressing hash keyed by (parent, name), nodes are 32 bytes in one
 * array. Nothing is freed before fg_tree_free().
 *
 * Not thread-safe; one thread builds a tree, any thread may read a finished one.
 */
#ifndef RECONPERF_STACKTREE_H
#define RECONPERF_STACKTREE_H

#include <stddef.h>
#include <stdint.h>

#define FG_SLOTS 2
#define FG_ROOT 0u

struct fg_node {
	uint32_t parent;	/* FG_ROOT for top frames; the root's parent is itself */
	uint32_t name;		/* string id */
	uint32_t child;		/* first child, 0 = none; set by fg_tree_finish() */
	uint32_t next;		/* next sibling, 0 = none; set by fg_tree_finish() */
	uint64_t total[FG_SLOTS]; /* samples: at the leaf while building, inclusive once finished */
};

struct fg_tree;

struct fg_tree *fg_tree_new(void);
void fg_tree_free(struct fg_tree *t);

/* The id of the name s[0..len), adding it when new. 0 or -ENOMEM/-E2BIG. */
int fg_tree_intern(struct fg_tree *t, const char *s, size_t len, uint32_t *id);
/* The child of parent named name, created when missing. 0 or -ENOMEM/-E2BIG. */
int fg_tree_child(struct fg_tree *t, uint32_t parent, uint32_t name, uint32_t *out);
/* Makes room for about nodes nodes (a hint: saves rehashing). 0 or -ENOMEM. */
int fg_tree_reserve(struct fg_tree *t, size_t nodes);
/* Hints that (parent, name) is looked up soon: lets a reader overlap cache misses. */
void fg_tree_prefetch(const struct fg_tree *t, uint32_t parent, uint32_t name);
/* Adds n samples to slot of node (a stack's leaf). Saturates instead of wrapping. */
void fg_tree_add(struct fg_tree *t, uint32_t node, int slot, uint64_t n);
/* Adds a whole stack, names root first. 0 or a negative errno. */
int fg_tree_add_stack(struct fg_tree *t, const char *const *names, size_t depth, int slot,
		      uint64_t n);
/* Folds leaf samples into inclusive totals. Call once, after the last add. */
void fg_tree_finish(struct fg_tree *t);

size_t fg_tree_nodes(const struct fg_tree *t);
const struct fg_node *fg_tree_node(const struct fg_tree *t, uint32_t id);
const char *fg_tree_name(const struct fg_tree *t, uint32_t name, size_t *len);
/* Samples of node that are in no child (its own, "self"), in slot. Needs a finished tree. */
uint64_t fg_tree_self(const struct fg_tree *t, uint32_t node, int slot);
/* Children of node with a non-zero total in slot, sorted by name (byte order), into *out
 * (grown with realloc, *cap its capacity). Returns their number or -ENOMEM. */
long fg_tree_children_sorted(const struct fg_tree *t, uint32_t node, int slot, uint32_t **out,
			     size_t *cap);

#endif
