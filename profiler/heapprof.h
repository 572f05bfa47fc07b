/*
 * heapprof — the sampled heap: buckets of (stack, block size) with sampled allocation and free
 * counts, and the set of live sampled blocks keyed by address. Internal to the allocation
 * profiler: profiler/alloc.c calls it from inside the malloc hooks, with its re-entry guard
 * raised, so allocations made here are forwarded without being counted or sampled.
 *
 * Invariants: a bucket is never freed before heapprof_reset(), so a live block may point at
 * it without a reference count; frees of a bucket are counted with atomics, allocations under
 * the bucket lock. The live set is 64 lock stripes of chained hashes, fronted by a counting
 * filter of 2^16 one-byte counters (saturating; 64 KiB, so it stays in cache), so a free of
 * an unsampled block costs one load and, rarely, a stripe lookup. Lock order: never two of
 * these locks at once.
 *
 * Threading: any thread, concurrently. Fork: heapprof_atfork_* hold every lock across fork().
 */
#ifndef RECONPERF_HEAPPROF_H
#define RECONPERF_HEAPPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAPPROF_MAX_FRAMES 64
#define HEAPPROF_MAX_LABELS 4

int heapprof_init(void);	/* idempotent; -ENOMEM */
/*
 * A sampled block p of n bytes allocated from pcs[0..npcs) (leaf first), by a thread with
 * labels[0..nlabels) (key, value pointers that outlive the profile, as prof_label_set says).
 */
void heapprof_record(void *p, size_t n, const uint64_t *pcs, int npcs,
		     const char *const labels[][2], int nlabels);

extern uint8_t heapprof_filter[];
#define HEAPPROF_FILTER_BITS 16

static inline size_t heapprof_filter_slot(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - HEAPPROF_FILTER_BITS));
}

void heapprof_forget_slow(void *p);

/* Before p is freed: drops it from the live set if it was sampled. Hot path on every free. */
static inline void heapprof_forget(void *p)
{
	if (__atomic_load_n(&heapprof_filter[heapprof_filter_slot(p)], __ATOMIC_RELAXED))
		heapprof_forget_slow(p);
}

/* Number of sampled blocks live now. */
uint64_t heapprof_live(void);
/* Writes the heap profile; rate is the sampling period for unsampling (1 = exact). */
int heapprof_write(const char *path, uint64_t rate);
void heapprof_reset(void);

void heapprof_atfork_prepare(void);
void heapprof_atfork_parent(void);
void heapprof_atfork_child(void);

#endif
