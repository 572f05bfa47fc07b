/* grow — see grow.h. */
#include "common/grow.h"

#include <errno.h>
#include <stdlib.h>

int rp_grow_cap(uint32_t cap, uint32_t need, uint32_t first, uint32_t *out)
{
	uint64_t ncap = cap ? cap : (first ? first : 1);

	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	if (ncap < need)
		return -E2BIG;
	*out = (uint32_t)ncap;
	return 0;
}

int rp_grow(void **p, uint32_t *cap, size_t elem, uint32_t need, uint32_t first)
{
	uint32_t ncap;
	void *np;
	int err;

	if (need <= *cap)
		return 0;
	err = rp_grow_cap(*cap, need, first, &ncap);
	if (err)
		return err;
	np = realloc(*p, (size_t)ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}
