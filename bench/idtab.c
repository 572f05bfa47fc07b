/* idtab — open-addressing hash index of ids. See idtab.h. */
#include "bench/idtab.h"

#include <errno.h>
#include <stdlib.h>

#define MIN_BITS 6

int idtab_init(struct idtab *t)
{
	t->bits = MIN_BITS;
	t->n = 0;
	t->dense = false;
	t->slot = calloc(1ull << t->bits, sizeof(*t->slot));
	return t->slot ? 0 : -ENOMEM;
}

void idtab_fini(struct idtab *t)
{
	free(t->slot);
	t->slot = NULL;
}

static void put_slot(struct idtab *t, uint64_t s)
{
	uint64_t i = idtab_home(t, (uint32_t)(s >> 32));

	while (t->slot[i])
		i = idtab_next(t, i);
	t->slot[i] = s;
}

int idtab_reserve(struct idtab *t, size_t n)
{
	uint32_t bits = t->bits, old_bits = t->bits;
	uint64_t *old = t->slot;

	while ((1ull << bits) < n * 2)
		bits++;
	if (bits == t->bits)
		return 0;
	t->slot = calloc(1ull << bits, sizeof(*t->slot));
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->bits = bits;
	for (uint64_t i = 0; i < (1ull << old_bits); i++)
		if (old[i])
			put_slot(t, old[i]);
	free(old);
	return 0;
}

void idtab_put(struct idtab *t, uint32_t hash, uint32_t id)
{
	put_slot(t, ((uint64_t)hash << 32) | ((uint64_t)id + 1));
	t->n++;
}

void idtab_del(struct idtab *t, uint32_t hash, uint32_t id)
{
	uint64_t want = ((uint64_t)hash << 32) | ((uint64_t)id + 1), i = idtab_home(t, hash), j, k;

	while (t->slot[i] != want) {
		if (!t->slot[i])
			return;
		i = idtab_next(t, i);
	}
	t->n--;
	t->slot[i] = 0;
	/* Backward shift: move later members of the cluster into the hole when their home
	 * position does not lie cyclically in (i, j]. */
	for (j = idtab_next(t, i); t->slot[j]; j = idtab_next(t, j)) {
		k = idtab_home(t, (uint32_t)(t->slot[j] >> 32));
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			t->slot[i] = t->slot[j];
			t->slot[j] = 0;
			i = j;
		}
	}
}

size_t idtab_bytes(const struct idtab *t)
{
	return (1ull << t->bits) * sizeof(*t->slot);
}
