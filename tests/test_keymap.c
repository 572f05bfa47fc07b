#include <criterion/criterion.h>
#include <stdlib.h>

#include "bench/keymap.h"

/* A model: keys drawn from a small universe so inserts and deletes collide and clusters
 * form; the keymap must agree with a plain array after every operation. */
#define UNIVERSE 3000

static uint64_t key_of(unsigned i)
{
	/* Spread keys so several share a home slot: multiples of a power of two. */
	return (uint64_t)i << 20;
}

static void check_all(struct keymap *m, const int32_t *model)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < UNIVERSE; i++) {
		uint32_t *v = km_find(m, key_of(i)), pv;
		bool peeked = km_peek(m, key_of(i), &pv);

		if (model[i] < 0) {
			cr_assert_null(v, "key %u should be absent", i);
			cr_assert_not(peeked);
		} else {
			cr_assert_not_null(v, "key %u should be present", i);
			cr_assert_eq(*v, (uint32_t)model[i]);
			cr_assert(peeked);
			cr_assert_eq(pv, (uint32_t)model[i]);
			n++;
		}
	}
	cr_assert_eq(m->n, n);
}

static void churn(bool retain)
{
	static int32_t model[UNIVERSE];
	struct keymap m;
	unsigned seed = 7;

	cr_assert_eq(km_init(&m, 4, retain), 0);
	for (unsigned i = 0; i < UNIVERSE; i++)
		model[i] = -1;
	for (int op = 0; op < 200000; op++) {
		unsigned i = (unsigned)rand_r(&seed) % UNIVERSE;

		if (model[i] < 0) {
			cr_assert_eq(km_insert(&m, key_of(i), (uint32_t)op), 0);
			model[i] = op;
		} else if (rand_r(&seed) % 3) {
			km_del(&m, key_of(i));
			model[i] = -1;
		}
		if (op % 20000 == 0)
			check_all(&m, model);
	}
	check_all(&m, model);
	km_del(&m, key_of(UNIVERSE + 5));	/* absent: no effect */
	check_all(&m, model);
	km_fini(&m);
}

Test(keymap, agrees_with_a_model_through_heavy_churn)
{
	churn(false);
}

Test(keymap, a_retaining_map_agrees_too_and_keeps_its_old_tables)
{
	churn(true);
}

Test(keymap, zero_and_max_are_ordinary_keys)
{
	struct keymap m;

	cr_assert_eq(km_init(&m, 0, false), 0);
	cr_assert_null(km_find(&m, 0));
	cr_assert_eq(km_insert(&m, 0, 11), 0);
	cr_assert_eq(km_insert(&m, UINT64_MAX, 12), 0);
	cr_assert_eq(*km_find(&m, 0), 11);
	cr_assert_eq(*km_find(&m, UINT64_MAX), 12);
	km_del(&m, 0);
	cr_assert_null(km_find(&m, 0));
	cr_assert_eq(*km_find(&m, UINT64_MAX), 12);
	km_fini(&m);
}
