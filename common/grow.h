/*
 * grow — make room in a realloc'd array with a 32-bit capacity, doubling.
 */
#ifndef RECONPERF_GROW_H
#define RECONPERF_GROW_H

#include <stddef.h>
#include <stdint.h>

/*
 * Ensures *cap >= need for *p, an array of elem-byte elements: the capacity doubles from
 * `first` (when 0) until it holds need. 0, -ENOMEM (nothing changed), or -E2BIG past
 * UINT32_MAX elements.
 */
int rp_grow(void **p, uint32_t *cap, size_t elem, uint32_t need, uint32_t first);
/* The capacity rp_grow would pick (for arrays it does not realloc): 0 or -E2BIG. */
int rp_grow_cap(uint32_t cap, uint32_t need, uint32_t first, uint32_t *out);

#endif
