/* grow — see grow.h. */
#include "common/grow.h"

#include <errno.h>
#include <stdlib.h>

int rp_grow(void **p, uint32_t *cap, size_t elem, uint32_t need, uint32_t first)
{
	uint64_t ncap = *cap ? *cap : (first ? first : 1);
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	if (ncap < need)
		return -E2BIG;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = (uint32_t)ncap;
	return 0;
}
