/*
 * storm_prng.h - the storm's per-thread random streams.
 *
 * xoshiro256** seeded through splitmix64: fast, good enough for choosing
 * operations, and identical on every platform, so a seed reproduces each
 * thread's operation sequence exactly.
 */
#ifndef DLREG_STORM_PRNG_H
#define DLREG_STORM_PRNG_H

#include <stdint.h>

struct storm_prng {
	uint64_t s[4];
};

static inline uint64_t storm_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void storm_prng_seed(struct storm_prng *p, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		p->s[i] = storm_splitmix64(&seed);
}

static inline uint64_t storm_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t storm_prng_next(struct storm_prng *p)
{
	uint64_t *s = p->s;
	uint64_t result = storm_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = storm_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) for n > 0 (the bias of a 64-bit modulo is negligible). */
static inline uint64_t storm_prng_below(uint64_t r, uint64_t n)
{
	return n ? r % n : 0;
}

#endif
