/*
 * latency_hist.h - a log-linear latency histogram in nanoseconds.
 *
 * Values below 16 ns get one bucket each; above, every power of two is cut
 * into 16 equal buckets, so a reported percentile is within 1/16 (6.25 %)
 * below the true value.  Adding is a few instructions and no allocation,
 * which keeps the recorder out of the latency it records.
 */
#ifndef DLREG_BENCH_LATENCY_HIST_H
#define DLREG_BENCH_LATENCY_HIST_H

#include <stdint.h>
#include <string.h>

#define LATENCY_SUB_BITS 4u
#define LATENCY_SUB (1u << LATENCY_SUB_BITS)
/* Covers up to 2^48 ns (three days); larger values land in the last bucket. */
#define LATENCY_BUCKETS ((48u - LATENCY_SUB_BITS + 1u) * LATENCY_SUB)

struct latency_hist {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[LATENCY_BUCKETS];
};

static inline unsigned latency_bucket(uint64_t ns)
{
	if (ns < LATENCY_SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned idx = (e - LATENCY_SUB_BITS + 1u) * LATENCY_SUB +
	               (unsigned)((ns >> (e - LATENCY_SUB_BITS)) & (LATENCY_SUB - 1u));
	return idx < LATENCY_BUCKETS ? idx : LATENCY_BUCKETS - 1u;
}

/* Smallest value that lands in bucket idx. */
static inline uint64_t latency_bucket_floor(unsigned idx)
{
	if (idx < LATENCY_SUB)
		return idx;
	unsigned e = idx / LATENCY_SUB + LATENCY_SUB_BITS - 1u;
	return (uint64_t)(LATENCY_SUB + idx % LATENCY_SUB) << (e - LATENCY_SUB_BITS);
}

static inline void latency_hist_reset(struct latency_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static inline void latency_hist_add(struct latency_hist *h, uint64_t ns)
{
	h->bucket[latency_bucket(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

static inline void latency_hist_merge(struct latency_hist *into, const struct latency_hist *from)
{
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

/* The q-quantile (0 < q < 1) as a bucket floor; 0 for an empty histogram. */
static inline uint64_t latency_hist_quantile(const struct latency_hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count);
	uint64_t seen = 0;

	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank)
			return latency_bucket_floor(i);
	}
	return h->max;
}

/* Values at or above the floor of ns's bucket (at most 6.25 % below ns). */
static inline uint64_t latency_hist_count_above(const struct latency_hist *h, uint64_t ns)
{
	uint64_t n = 0;

	for (unsigned i = latency_bucket(ns); i < LATENCY_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

#endif
