#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include "common/u64map.h"

Test(u64map, put_get_delete_against_a_reference_array)
{
	enum { N = 20000 };
	struct u64map m;
	static uintptr_t ref[N];	/* 0 = absent */
	uint64_t s = 42;

	cr_assert_eq(u64map_init(&m, 4), 0);
	for (int step = 0; step < 200000; step++) {
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		uint64_t k = s % N;
		int op = (int)((s >> 32) % 3);
		if (op < 2) {
			uintptr_t v = (uintptr_t)step + 1;
			cr_assert_eq(u64map_put(&m, k + 1, (void *)v), 0);
			ref[k] = v;
		} else {
			void *got = u64map_del(&m, k + 1);
			cr_assert_eq((uintptr_t)got, ref[k], "del %llu", (unsigned long long)k);
			ref[k] = 0;
		}
	}
	size_t live = 0;
	for (int k = 0; k < N; k++) {
		cr_assert_eq((uintptr_t)u64map_get(&m, (uint64_t)k + 1), ref[k], "key %d", k);
		live += ref[k] != 0;
	}
	cr_assert_eq(m.len, live);
	size_t i = 0, seen = 0;
	uint64_t key;
	void *val;
	while (u64map_next(&m, &i, &key, &val)) {
		cr_assert_eq((uintptr_t)val, ref[key - 1]);
		seen++;
	}
	cr_assert_eq(seen, live);
	u64map_fini(&m);
}
