/*
 * rng — a seeded generator for statistical tests: splitmix64 for uniforms, Box-Muller for
 * normals, lognormal noise with a given coefficient of variation. Header-only (static
 * inline) so each test binary carries its own; one generator per test, no shared state.
 */
#ifndef RECONPERF_TESTS_RNG_H
#define RECONPERF_TESTS_RNG_H

#include <math.h>
#include <stdint.h>

struct rng {
	uint64_t s;
};

static inline uint64_t rng_u64(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double rng_unif(struct rng *r)
{
	return ((double)(rng_u64(r) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double rng_norm(struct rng *r)
{
	return sqrt(-2 * log(rng_unif(r))) * cos(2 * M_PI * rng_unif(r));
}

/* A lognormal value with median `median` and coefficient of variation cv. */
static inline double rng_lognormal(struct rng *r, double median, double cv)
{
	double sigma = sqrt(log(1 + cv * cv));

	return median * exp(sigma * rng_norm(r));
}

/*
 * A benchmark-like sample: lognormal noise, and with probability p_out an outlier 1.2x to
 * 2x slower (a machine hiccup), as seen on shared CI runners.
 */
static inline double rng_bench(struct rng *r, double median, double cv, double p_out)
{
	double v = rng_lognormal(r, median, cv);

	if (rng_unif(r) < p_out)
		v *= 1.2 + 0.8 * rng_unif(r);
	return v;
}

#endif
