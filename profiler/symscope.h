/*
 * symscope — one compile unit's functions and inlined calls as sorted address ranges, so
 * the chain of scopes at an address (innermost inlined call out to its function) is a
 * binary search and a few parent steps instead of two walks of the unit's DIE tree per
 * address (dwarf_getscopes + dwarf_getscopes_die: ~1 ms an address in a large unit such as
 * CPython's ceval.c, seconds at the end of a profile with thousands of distinct PCs).
 *
 * The tree is walked once, on the unit's first address. Entries are DW_TAG_subprogram and
 * DW_TAG_inlined_subroutine DIEs with code ranges, each with its enclosing entry in the
 * tree (its caller, for an inlined call). A unit whose tree imports other units
 * (DW_TAG_imported_unit, as dwz writes) or whose ranges do not nest is marked unusable
 * and the caller keeps the libdw walks for it.
 *
 * Threading: none; the symbolizer owns the indexes.
 */
#ifndef RECONPERF_SYMSCOPE_H
#define RECONPERF_SYMSCOPE_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scope_ent {
	Dwarf_Die die;
	uint32_t parent;	/* enclosing entry, SCOPE_NONE at the unit's top */
	uint32_t depth;		/* entries above it */
	bool inlined;		/* DW_TAG_inlined_subroutine (else DW_TAG_subprogram) */
};

struct scope_rng {
	uint64_t lo, hi;	/* [lo, hi), unit-relative addresses as dwarf_ranges gives */
	uint32_t ent;		/* the entry it belongs to */
	uint32_t depth;		/* the entry's */
	uint32_t up;		/* the nearest range that contains it, SCOPE_NONE */
};

struct cu_scopes {
	struct scope_ent *ent;
	struct scope_rng *rng;
	size_t nent, nrng;
	bool usable;
};

#define SCOPE_NONE UINT32_MAX

/* Walks cudie's tree into c. 0 (c->usable says whether to use it) or -ENOMEM. */
int cu_scopes_build(Dwarf_Die *cudie, struct cu_scopes *c);
/* The entries that contain addr, innermost first, up to the first subprogram: how many
 * (at most max), 0 when no range holds addr. */
int cu_scopes_find(const struct cu_scopes *c, uint64_t addr, uint32_t *chain, int max);
void cu_scopes_free(struct cu_scopes *c);

#endif
