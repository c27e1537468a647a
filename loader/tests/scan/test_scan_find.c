/*
 * test_scan_find - dlreg_find against a naive search: random haystacks over
 * small alphabets (many partial matches), every needle length from 1 to 70,
 * every alignment of the haystack start, matches near both ends, and the
 * adversarial inputs that push it onto the memmem fallback.  Haystacks of
 * 8 to 24 KiB (no prefetch) and over 512 KiB (prefetching, then the hand
 * over to the plain loop) take the SIMD loops through each part and the
 * last block, with the needle planted at every position of each of those
 * stretches among decoys that pass the first/last-byte filter.  Built twice: against the library
 * (AVX2 where the CPU has it) and, as scan_find_sse2, with find.c compiled in under
 * DLREG_FIND_NO_AVX2, so the SSE2 loops are tested on any x86-64.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlreg/scan.h"
#include "check.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static size_t naive(const unsigned char *h, size_t n, const unsigned char *nd, size_t m)
{
	if (m == 0)
		return 0;
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(h + i, nd, m) == 0)
			return i;
	return SIZE_MAX;
}

static void fill(unsigned char *p, size_t n, unsigned alphabet)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(alphabet >= 256 ? rnd() : 'a' + rnd() % alphabet);
}

static void one(const unsigned char *h, size_t n, const unsigned char *nd, size_t m,
                const char *what)
{
	size_t want = naive(h, n, nd, m);
	size_t got = dlreg_find(h, n, nd, m);
	CHECK(got == want, "%s: n=%zu m=%zu got %zu want %zu", what, n, m, got, want);
}

static void random_cases(void)
{
	enum { MAXN = 700 };
	/* Exact-size allocations so ASan flags any read past either end. */
	for (int round = 0; round < 6000; round++) {
		size_t n = rnd() % MAXN;
		size_t m = 1 + rnd() % 70;
		unsigned alpha = (unsigned[]){2, 3, 4, 26, 256}[rnd() % 5];
		unsigned char *h = malloc(n ? n : 1), *nd = malloc(m);
		fill(h, n, alpha);
		fill(nd, m, alpha);
		if (n >= m && rnd() % 2) {
			/* Plant the needle, often at the very end or start. */
			size_t at =
			        (unsigned[]){0, 1, 2}[rnd() % 3] == 0 ? n - m : rnd() % (n - m + 1);
			memcpy(h + at, nd, m);
		}
		one(h, n, nd, m, "random");
		free(h);
		free(nd);
	}
}

static void alignments(void)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	unsigned char *buf = malloc(4096 + 64);
	for (size_t off = 0; off < 64; off++) {
		for (size_t at = 0; at + sizeof magic <= 300; at += 7) {
			size_t n = 300;
			unsigned char *h = buf + off;
			memset(h, 0, n);
			memcpy(h + at, magic, sizeof magic);
			CHECK(dlreg_find(h, n, magic, sizeof magic) == at, "align off=%zu at=%zu",
			      off, at);
			CHECK(dlreg_find(h, at + sizeof magic - 1, magic, sizeof magic) == SIZE_MAX,
			      "cut match found off=%zu at=%zu", off, at);
		}
	}
	free(buf);
}

static void edges(void)
{
	CHECK(dlreg_find("abc", 3, "", 0) == 0, "empty needle");
	CHECK(dlreg_find("", 0, "a", 1) == SIZE_MAX, "empty hay");
	CHECK(dlreg_find("ab", 2, "abc", 3) == SIZE_MAX, "needle longer");
	CHECK(dlreg_find("abc", 3, "abc", 3) == 0, "whole");
	CHECK(dlreg_find(NULL, 5, "a", 1) == SIZE_MAX, "NULL hay");
	CHECK(dlreg_find("xxab", 4, "ab", 2) == 2, "two bytes at end");
}

/* First and last byte match everywhere: the filter passes every position. */
static void adversarial(void)
{
	size_t n = 1 << 20;
	unsigned char *h = malloc(n);
	unsigned char nd[300];
	memset(h, 'a', n);
	memset(nd, 'a', sizeof nd);
	nd[150] = 'b';
	one(h, n, nd, sizeof nd, "adversarial miss");
	memcpy(h + n - sizeof nd, nd, sizeof nd);
	one(h, n, nd, sizeof nd, "adversarial hit at end");
	nd[150] = 'a';
	one(h, n, nd, sizeof nd, "all same");
	free(h);
}

/*
 * A haystack over {first byte, last byte, filler} with none of the
 * needle's middle bytes in it (m >= 3: every first/last pair is a decoy
 * the SIMD filter lets through and memcmp rejects) and, for m == 2, no
 * first byte followed by the last: the only match is the planted one.
 */
static void long_fill(unsigned char *h, size_t n, const unsigned char *nd, size_t m)
{
	for (size_t i = 0; i < n; i++) {
		unsigned r = rnd() % 16;
		h[i] = r == 0 ? nd[0] : r == 1 ? nd[m - 1] : (unsigned char)('x' + (r & 1));
		if (m == 2 && i > 0 && h[i - 1] == nd[0] && h[i] == nd[1])
			h[i] = 'x';
	}
}

/* The needle planted at `at` in a copy of `base`. */
static void long_case(unsigned char *h, const unsigned char *base, size_t n,
                      const unsigned char *nd, size_t m, size_t at)
{
	memcpy(h, base, n);
	memcpy(h + at, nd, m);
	size_t got = dlreg_find(h, n, nd, m);
	CHECK(got == at, "long: n=%zu m=%zu at=%zu got %zu", n, m, at, got);
	/* A second copy at the end changes nothing; with the first cut, the
	 * second is found; with both cut, none. */
	if (at + 2 * m <= n) {
		memcpy(h + n - m, nd, m);
		got = dlreg_find(h, n, nd, m);
		CHECK(got == at, "long, two copies: n=%zu m=%zu at=%zu got %zu", n, m, at, got);
		memset(h + at, 'x', m);
		got = dlreg_find(h, n, nd, m);
		CHECK(got == n - m, "long, first cut: n=%zu m=%zu at=%zu got %zu", n, m, at, got);
		memset(h + n - m, 'x', m);
		got = dlreg_find(h, n, nd, m);
		CHECK(got == SIZE_MAX, "long, none: n=%zu m=%zu at=%zu got %zu", n, m, at, got);
	}
}

/*
 * Haystacks of n bytes, needles of each length: the needle planted at
 * every position of 2 * win from the start, from where the prefetching
 * loop hands over (n - 8 KiB and the block pair before it) and up to the
 * end.
 */
static void long_haystacks(const size_t *sizes, size_t nsizes, const size_t *lengths,
                           size_t nlengths, size_t win)
{
	for (size_t si = 0; si < nsizes; si++) {
		size_t n = sizes[si];
		/* Exact size: ASan sees reads past the end. */
		unsigned char *h = malloc(n), *base = malloc(n);
		for (size_t li = 0; li < nlengths; li++) {
			size_t m = lengths[li];
			unsigned char nd[65];
			nd[0] = 'a';
			for (size_t k = 1; k + 1 < m; k++)
				nd[k] = (unsigned char)('c' + k % 20); /* never in the haystack */
			nd[m - 1] = 'b';
			long_fill(base, n, nd, m);
			size_t last = n - m;
			size_t marks[] = {0, n > 8192 + 256 ? n - 8192 - 256 : 0,
			                  last > 2 * win ? last - 2 * win : 0};
			for (size_t k = 0; k < 3; k++)
				for (size_t at = marks[k]; at <= last && at < marks[k] + 2 * win;
				     at++)
					long_case(h, base, n, nd, m, at);
		}
		free(h);
		free(base);
	}
}

/* Below 512 KiB the loops do not prefetch; from it on they do. */
static void long_cases(void)
{
	static const size_t small[] = {8191, 8255, 8256, 8320,  8383,
	                               8384, 8449, 9000, 16447, 24593};
	static const size_t small_lengths[] = {2, 3, 16, 17, 33, 64, 65};
	static const size_t big[] = {512 * 1024 + 129, 600001};
	static const size_t big_lengths[] = {2, 16, 65};
	long_haystacks(small, sizeof small / sizeof small[0], small_lengths,
	               sizeof small_lengths / sizeof small_lengths[0], 160);
	long_haystacks(big, sizeof big / sizeof big[0], big_lengths,
	               sizeof big_lengths / sizeof big_lengths[0], 80);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: test_scan_find\n");
		return 0;
	}
	edges();
	alignments();
	random_cases();
	long_cases();
	adversarial();
	return check_report("scan_find");
}
