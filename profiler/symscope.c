/* symscope — per-unit scope ranges for inlined-frame lookup. See symscope.h. */
#include "profiler/symscope.h"
#include "common/grow.h"

#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WALK_MAX 512	/* DIE nesting depth followed */

static int add_ent(struct cu_scopes *c, uint32_t *cap, Dwarf_Die *die, uint32_t parent,
		   bool inlined)
{
	if (rp_grow((void **)&c->ent, cap, sizeof(*c->ent), (uint32_t)c->nent + 1, 256))
		return -ENOMEM;
	c->ent[c->nent] = (struct scope_ent){ *die, parent,
					      parent == SCOPE_NONE ? 0 : c->ent[parent].depth + 1,
					      inlined };
	c->nent++;
	return 0;
}

/* The DIE's ranges as entry ent; how many (0: none, a declaration or abstract instance). */
static int add_ranges(struct cu_scopes *c, uint32_t *cap, Dwarf_Die *die, uint32_t ent)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	int n = 0;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		if (rp_grow((void **)&c->rng, cap, sizeof(*c->rng), (uint32_t)c->nrng + 1, 1024))
			return -ENOMEM;
		c->rng[c->nrng++] = (struct scope_rng){ lo, hi, ent, c->ent[ent].depth,
							SCOPE_NONE };
		n++;
	}
	return n;
}

/* Outer ranges first: by start, then the longer, then the shallower entry. */
static int cmp_rng(const void *a, const void *b)
{
	const struct scope_rng *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* Each range's geometric parent (a stack of open ranges); false if two overlap unnested. */
static bool link_ranges(struct cu_scopes *c)
{
	uint32_t *stack = malloc((c->nrng + 1) * sizeof(*stack));
	size_t top = 0;

	if (!stack)
		return false;
	for (size_t i = 0; i < c->nrng; i++) {
		struct scope_rng *r = &c->rng[i];

		while (top && c->rng[stack[top - 1]].hi <= r->lo)
			top--;
		if (top && c->rng[stack[top - 1]].hi < r->hi) {
			free(stack);
			return false;
		}
		r->up = top ? stack[top - 1] : SCOPE_NONE;
		stack[top++] = (uint32_t)i;
	}
	free(stack);
	return true;
}

int cu_scopes_build(Dwarf_Die *cudie, struct cu_scopes *c)
{
	struct { Dwarf_Die die; uint32_t enclosing; } *stack;
	uint32_t ecap = 0, rcap = 0;
	size_t top = 0;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	stack = malloc(WALK_MAX * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	if (dwarf_child(cudie, &stack[0].die) == 0) {
		stack[0].enclosing = SCOPE_NONE;
		top = 1;
	}
	c->usable = true;
	while (top) {
		Dwarf_Die die = stack[top - 1].die, child;
		uint32_t enclosing = stack[top - 1].enclosing, inner = enclosing;
		int tag = dwarf_tag(&die);

		/* the next sibling replaces this DIE on the stack before its children go on */
		if (dwarf_siblingof(&die, &stack[top - 1].die) != 0)
			top--;
		if (tag == DW_TAG_imported_unit) {
			c->usable = false;
			break;
		}
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			uint32_t e = (uint32_t)c->nent;
			int n;

			rc = add_ent(c, &ecap, &die, enclosing, tag == DW_TAG_inlined_subroutine);
			if (rc)
				break;
			n = add_ranges(c, &rcap, &die, e);
			if (n < 0) {
				rc = n;
				break;
			}
			if (n > 0)
				inner = e;
			else
				c->nent--;	/* no code of its own: not a scope at an address */
		}
		if (dwarf_haschildren(&die) && dwarf_child(&die, &child) == 0) {
			if (top == WALK_MAX) {
				c->usable = false;
				break;
			}
			stack[top].die = child;
			stack[top].enclosing = inner;
			top++;
		}
	}
	free(stack);
	if (rc || !c->usable) {
		c->usable = false;
		return rc;
	}
	if (c->nrng > 1)	/* a unit without ranges has no array at all */
		qsort(c->rng, c->nrng, sizeof(*c->rng), cmp_rng);
	c->usable = link_ranges(c);
	return 0;
}

int cu_scopes_find(const struct cu_scopes *c, uint64_t addr, uint32_t *chain, int max)
{
	size_t lo = 0, hi = c->nrng;
	uint32_t r, e;
	int n = 0;

	/* the last range starting at or before addr: the innermost that holds it, or a range
	 * nested in it that ended before addr */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->rng[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return 0;
	for (r = (uint32_t)(lo - 1); r != SCOPE_NONE && c->rng[r].hi <= addr; r = c->rng[r].up)
		;
	if (r == SCOPE_NONE)
		return 0;
	for (e = c->rng[r].ent; e != SCOPE_NONE && n < max; e = c->ent[e].parent) {
		chain[n++] = e;
		if (!c->ent[e].inlined)
			break;
	}
	return n;
}

void cu_scopes_free(struct cu_scopes *c)
{
	free(c->ent);
	free(c->rng);
	memset(c, 0, sizeof(*c));
}
