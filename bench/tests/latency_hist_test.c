/*
 * latency_hist_test.c - the histogram behind read_latency's percentiles.
 *
 * Checks the bucket arithmetic exhaustively over its boundaries and the
 * quantiles on distributions whose answer is known, so a wrong shift or an
 * off-by-one in a rank shows up as a wrong number here rather than as a
 * plausible-looking percentile in a report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latency_hist.h"

static int failures;

static void expect(int cond, const char *what, unsigned long long a, unsigned long long b)
{
	if (!cond) {
		printf("FAIL: %s (%llu, %llu)\n", what, a, b);
		failures++;
	}
}

/* Every bucket's floor maps back to it, and floors strictly increase. */
static void test_bucket_floors(void)
{
	for (unsigned i = 0; i + 1 < LATENCY_BUCKETS; i++) {
		uint64_t lo = latency_bucket_floor(i), hi = latency_bucket_floor(i + 1);

		expect(latency_bucket(lo) == i, "floor maps to its bucket", i, lo);
		expect(hi > lo, "floors increase", lo, hi);
		expect(latency_bucket(hi - 1) == i, "last value before the next floor", i, hi - 1);
	}
}

/* A value is never more than 1/16 above its bucket's floor. */
static void test_resolution(void)
{
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 + 1) {
		uint64_t lo = latency_bucket_floor(latency_bucket(v));

		expect(lo <= v, "floor at or below the value", lo, v);
		expect(v - lo <= v / LATENCY_SUB, "within 1/16", lo, v);
	}
	expect(latency_bucket(~0ull) == LATENCY_BUCKETS - 1, "huge values clamp",
	       latency_bucket(~0ull), LATENCY_BUCKETS - 1);
}

static void test_quantiles(void)
{
	static struct latency_hist h, other;

	latency_hist_reset(&h);
	for (uint64_t v = 1; v <= 1000; v++)
		latency_hist_add(&h, v);
	expect(h.count == 1000 && h.max == 1000, "count and max", h.count, h.max);
	uint64_t p50 = latency_hist_quantile(&h, 0.50), p99 = latency_hist_quantile(&h, 0.99);

	/* Ranks 500 and 990 hold the values 501 and 991; floors within 1/16. */
	expect(p50 <= 501 && p50 >= 501 - 501 / 16, "p50 of 1..1000", p50, 501);
	expect(p99 <= 991 && p99 >= 991 - 991 / 16, "p99 of 1..1000", p99, 991);
	expect(latency_hist_count_above(&h, 1) == 1000, "all at or above 1", 0, 0);

	/* One stall among many fast reads: only the tail quantiles see it. */
	latency_hist_reset(&other);
	for (int i = 0; i < 9999; i++)
		latency_hist_add(&other, 20);
	latency_hist_add(&other, 2000000);
	expect(latency_hist_quantile(&other, 0.999) == 20, "p99.9 ignores one stall in 10^4",
	       latency_hist_quantile(&other, 0.999), 20);
	expect(latency_hist_quantile(&other, 0.99995) >= 2000000 - 2000000 / 16, "p99.995 sees it",
	       latency_hist_quantile(&other, 0.99995), 2000000);
	expect(latency_hist_count_above(&other, 100000) == 1, "one stall above 100 us",
	       latency_hist_count_above(&other, 100000), 1);

	latency_hist_merge(&h, &other);
	expect(h.count == 11000 && h.max == 2000000, "merge adds counts and keeps the max", h.count,
	       h.max);
	latency_hist_reset(&other);
	expect(latency_hist_quantile(&other, 0.5) == 0, "empty histogram", 0, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
		fputs("usage: latency_hist_test\n"
		      "The histogram behind read_latency's percentiles: buckets and quantiles.\n",
		      help ? stdout : stderr);
		return help ? 0 : 2;
	}
	test_bucket_floors();
	test_resolution();
	test_quantiles();
	printf("latency_hist_test: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
