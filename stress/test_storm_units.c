/*
 * test_storm_units.c - the storm driver's own building blocks: latency
 * histogram, operation mix, random streams.  TAP output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "storm_hist.h"
#include "storm_mix.h"
#include "storm_prng.h"
#include "storm_tap.h"


/* Every value lands in a bucket whose bounds contain it. */
static void test_buckets(void)
{
	int good = 1;

	for (uint64_t v = 0; v < 100000 && good; v++) {
		unsigned b = storm_hist_bucket(v);

		good = storm_hist_bucket_high(b) >= v &&
		       (b == 0 || storm_hist_bucket_high(b - 1) < v);
	}
	for (int shift = 17; shift < 64 && good; shift++) {
		uint64_t v = (1ull << shift) + 12345;
		unsigned b = storm_hist_bucket(v);

		good = b < STORM_HIST_BUCKETS && storm_hist_bucket_high(b) >= v &&
		       storm_hist_bucket_high(b - 1) < v;
	}
	ok(good, "histogram buckets bracket every value");
	ok(storm_hist_bucket(UINT64_MAX) == STORM_HIST_BUCKETS - 1, "largest value fits");
}

static struct storm_hist h1, h2;

static void test_quantiles(void)
{
	struct storm_hist *both[2] = {&h1, &h2};
	uint64_t p50, p99, p999;

	/* 1..1000 ns split over two histograms, plus one 5 ms outlier. */
	for (uint64_t v = 1; v <= 1000; v++)
		storm_hist_add(v % 2 ? &h1 : &h2, v);
	storm_hist_add(&h2, 5000000);
	p50 = storm_hist_quantile(both, 2, 500000);
	p99 = storm_hist_quantile(both, 2, 990000);
	p999 = storm_hist_quantile(both, 2, 999000);
	ok(storm_hist_total(both, 2) == 1001, "merged count");
	ok(p50 >= 501 && p50 <= 501 + 501 / 16, "p50 within one bucket");
	ok(p99 >= 991 && p99 <= 991 + 991 / 16, "p99 within one bucket");
	ok(p999 >= 1000 && p999 <= 1000 + 1000 / 16, "p99.9 within one bucket");
	ok(storm_hist_max(both, 2) == 5000000, "max is exact");
	ok(storm_hist_quantile(both, 2, 1000000) == 5000000, "p100 is the max");
	ok(storm_hist_count_above(both, 2, 1000000) == 1, "one sample above 1 ms");
	ok(storm_hist_count_above(both, 2, 1024) == 1 && storm_hist_count_above(both, 2, 992) == 10,
	   "counts whole buckets at or above a value");
}

static void test_mix(void)
{
	struct storm_mix mix;
	char err[256], text[256];
	int picks[STORM_OP_COUNT] = {0};

	ok(storm_mix_parse("open=1,close=3", &mix, err, sizeof(err)) == 0, "mix parses");
	ok(mix.weight[STORM_OP_OPEN] == 1 && mix.weight[STORM_OP_CLOSE] == 3 &&
	           mix.weight[STORM_OP_READ] == 0 && mix.total == 4,
	   "unlisted operations get weight 0");
	for (uint64_t r = 0; r < 4000; r++)
		picks[storm_mix_pick(&mix, r)]++;
	ok(picks[STORM_OP_OPEN] == 1000 && picks[STORM_OP_CLOSE] == 3000, "picks follow weights");
	storm_mix_format(&mix, text, sizeof(text));
	ok(strcmp(text, "open=1,close=3") == 0, "mix formats back");
	ok(storm_mix_parse("bogus=1", &mix, err, sizeof(err)) != 0 && strstr(err, "bogus"),
	   "unknown operation is rejected by name");
	ok(storm_mix_parse("open=x", &mix, err, sizeof(err)) != 0, "bad weight rejected");
	ok(storm_mix_parse("open=-1", &mix, err, sizeof(err)) != 0, "negative weight rejected");
	ok(storm_mix_parse("open=+1", &mix, err, sizeof(err)) != 0 &&
	           storm_mix_parse("open= 1", &mix, err, sizeof(err)) != 0,
	   "signed or padded weight rejected (plain decimal)");
	ok(storm_mix_parse("open", &mix, err, sizeof(err)) != 0, "missing weight rejected");
	ok(storm_mix_parse("open=0,close=0", &mix, err, sizeof(err)) != 0, "all-zero mix rejected");
	storm_mix_default(&mix);
	ok(mix.total > 0 && mix.weight[STORM_OP_LOCKED_READ] == 0,
	   "default mix never holds the user mutex");
}

static void test_prng(void)
{
	struct storm_prng a, b, c;
	uint64_t state = 0;
	int same = 1, differ = 0;

	ok(storm_splitmix64(&state) == 0xe220a8397b1dcdafull, "splitmix64 reference value");
	storm_prng_seed(&a, 42);
	storm_prng_seed(&b, 42);
	storm_prng_seed(&c, 43);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = storm_prng_next(&a);

		same &= x == storm_prng_next(&b);
		differ |= x != storm_prng_next(&c);
	}
	ok(same, "same seed, same stream");
	ok(differ, "seed + 1, another stream");
}

int main(int argc, char **argv)
{
	int usage = tap_args(argc, argv, 0,
	                     "usage: test_storm_units\n"
	                     "The storm's histogram, operation mix and random streams (TAP).\n");
	if (usage >= 0)
		return usage;
	test_buckets();
	test_quantiles();
	test_mix();
	test_prng();
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}
