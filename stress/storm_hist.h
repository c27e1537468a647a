/*
 * storm_hist.h - log-linear latency histograms, one per thread.
 *
 * Values below 16 ns have a bucket each; above, every power of two is cut
 * into 16 equal buckets, so any reported percentile is within 1/16 (6.25%)
 * of the true value.  A histogram has one writer (its thread), which stores
 * with relaxed atomics and no read-modify-write, so a watchdog or a fatal
 * signal handler may read a histogram while its thread is still running.
 */
#ifndef DLREG_STORM_HIST_H
#define DLREG_STORM_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STORM_HIST_SUB_BITS 4
#define STORM_HIST_SUB (1u << STORM_HIST_SUB_BITS)
/* 16 exact buckets + 16 per power of two from 2^4 to 2^63. */
#define STORM_HIST_BUCKETS (STORM_HIST_SUB + (64 - STORM_HIST_SUB_BITS) * STORM_HIST_SUB)

struct storm_hist {
	_Atomic uint64_t count[STORM_HIST_BUCKETS];
	_Atomic uint64_t max;
};

static inline unsigned storm_hist_bucket(uint64_t v)
{
	unsigned e, sub;

	if (v < STORM_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (e - STORM_HIST_SUB_BITS)) & (STORM_HIST_SUB - 1);
	return STORM_HIST_SUB + (e - STORM_HIST_SUB_BITS) * STORM_HIST_SUB + sub;
}

/* Owner thread only. */
static inline void storm_hist_add(struct storm_hist *h, uint64_t v)
{
	_Atomic uint64_t *c = &h->count[storm_hist_bucket(v)];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, v, memory_order_relaxed);
}

/* Largest value that falls into bucket i. */
uint64_t storm_hist_bucket_high(unsigned i);

/*
 * The q-quantile (0 < q <= 1, as parts per million) over n histograms read
 * together; never above the largest value seen.  0 when they are empty.
 * Async-signal-safe (no allocation, relaxed loads only).
 */
uint64_t storm_hist_quantile(struct storm_hist *const *hists, size_t n, uint32_t q_ppm);
uint64_t storm_hist_total(struct storm_hist *const *hists, size_t n);
uint64_t storm_hist_max(struct storm_hist *const *hists, size_t n);
/* Samples in buckets that lie entirely at or above `value`. */
uint64_t storm_hist_count_above(struct storm_hist *const *hists, size_t n, uint64_t value);

#endif
