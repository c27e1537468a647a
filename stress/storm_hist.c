/* storm_hist.c - reading the latency histograms (see storm_hist.h). */
#include "storm_hist.h"

uint64_t storm_hist_bucket_high(unsigned i)
{
	unsigned e, sub;
	uint64_t low;

	if (i < STORM_HIST_SUB)
		return i;
	e = (i - STORM_HIST_SUB) / STORM_HIST_SUB + STORM_HIST_SUB_BITS;
	sub = (i - STORM_HIST_SUB) % STORM_HIST_SUB;
	low = (uint64_t)(STORM_HIST_SUB + sub) << (e - STORM_HIST_SUB_BITS);
	return low + ((uint64_t)1 << (e - STORM_HIST_SUB_BITS)) - 1;
}

static uint64_t hist_bucket_sum(struct storm_hist *const *hists, size_t n, unsigned i)
{
	uint64_t sum = 0;

	for (size_t t = 0; t < n; t++)
		sum += atomic_load_explicit(&hists[t]->count[i], memory_order_relaxed);
	return sum;
}

uint64_t storm_hist_total(struct storm_hist *const *hists, size_t n)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < STORM_HIST_BUCKETS; i++)
		total += hist_bucket_sum(hists, n, i);
	return total;
}

uint64_t storm_hist_max(struct storm_hist *const *hists, size_t n)
{
	uint64_t max = 0;

	for (size_t t = 0; t < n; t++) {
		uint64_t m = atomic_load_explicit(&hists[t]->max, memory_order_relaxed);

		if (m > max)
			max = m;
	}
	return max;
}

uint64_t storm_hist_quantile(struct storm_hist *const *hists, size_t n, uint32_t q_ppm)
{
	uint64_t total = storm_hist_total(hists, n);
	uint64_t max = storm_hist_max(hists, n);
	uint64_t rank, seen = 0;

	if (total == 0)
		return 0;
	/* The smallest value with at least ceil(q * total) samples at or below. */
	rank = (total / 1000000u) * q_ppm + ((total % 1000000u) * q_ppm + 999999u) / 1000000u;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < STORM_HIST_BUCKETS; i++) {
		seen += hist_bucket_sum(hists, n, i);
		if (seen >= rank) {
			uint64_t high = storm_hist_bucket_high(i);

			return high < max ? high : max;
		}
	}
	return max;
}

uint64_t storm_hist_count_above(struct storm_hist *const *hists, size_t n, uint64_t value)
{
	uint64_t count = 0;

	for (unsigned i = 0; i < STORM_HIST_BUCKETS; i++)
		if (i > 0 && storm_hist_bucket_high(i - 1) + 1 >= value)
			count += hist_bucket_sum(hists, n, i);
	return count;
}
