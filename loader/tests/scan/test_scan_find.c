/*
 * test_scan_find - dlreg_find against a naive search: random haystacks over
 * small alphabets (many partial matches), every needle length from 1 to 70,
 * every alignment of the haystack start, matches near both ends, and the
 * adversarial inputs that push it onto the memmem fallback.
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

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: test_scan_find\n");
		return 0;
	}
	edges();
	alignments();
	random_cases();
	adversarial();
	return check_report("scan_find");
}
