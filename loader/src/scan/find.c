/*
 * find.c - substring search for the marker scan (and the benchmarks).
 *
 * A first/last-byte SIMD filter: compare 16 or 32 candidate start positions
 * at once against the needle's first byte and, shifted by m-1, its last
 * byte; only positions where both match are verified with memcmp.  On real
 * data almost no position survives the filter, so the loop runs at close to
 * memchr speed.  Adversarial inputs (both bytes everywhere) would make it
 * O(n*m); a work budget hands such inputs to glibc memmem, whose two-way
 * algorithm is linear.
 *
 * The SIMD loops prefetch FIND_PREFETCH bytes ahead.  Two compares per
 * position leave the hardware prefetchers behind on a search from DRAM
 * (a warm page cache or a large buffer).  On the AMD EPYC guest of the
 * 2169c50 report in results/ (2.6 GHz, AVX-512), dlreg_find over 256 MiB
 * and 1 GiB in RAM went from 24-33 to 34-37 GB/s (glibc memchr: 33-38),
 * and the warm marker scan from 0.79-0.86 to 0.93-0.95 times memchr's
 * bytes/s (dlreg-bench-scan, old and new builds alternated, 5 repetitions
 * each).  prefetcht0, prefetcht1 and prefetchnta at 4, 8 and 16 KiB came
 * within 6 % of each other, 64 KiB fell back.  In the L2 cache it only
 * costs, so small haystacks go without (FIND_PREFETCH_MIN).  The gain is
 * this CPU's: on the EPYC guest of the 20261202 reports and of e9626e1's
 * (2.1 GHz, slow page faults) the loop without prefetch already ran at
 * memchr's speed at 256 MiB, and a prefetch 2-8 KiB ahead made it 5-15 %
 * slower there (a scratch program, medians of 31, order rotated); in
 * e9626e1's report it saved 2-14 % from 1 to 64 MiB and cost 8-9 % at
 * 256 MiB and 1 GiB.  A choice made at run time, once per process, was
 * measured and not kept (results/README.md, e9626e1).  A prefetch
 * never faults, not even on a page of a truncated file, so it is safe
 * inside the scanner's SIGBUS scope; it stays inside the haystack.
 */
#include <stdint.h>
#include <string.h>

#include "scan_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define DLREG_FIND_X86 1
#include <immintrin.h>
#endif

/* Verification may cost this much more than the bytes already scanned. */
#define FIND_SLACK 4096u

#ifdef DLREG_FIND_X86
/* Distance of the software prefetch in the SIMD loops (see the top); the
 * benchmarks build a copy with 0 (none) to measure it on each host. */
#ifndef DLREG_FIND_PREFETCH
#define DLREG_FIND_PREFETCH 8192u
#endif
#define FIND_PREFETCH ((size_t)DLREG_FIND_PREFETCH)
/* Smaller haystacks are searched without it: the read backend's windows,
 * just copied, and anything else likely to be in the L2 cache already,
 * where a prefetch only costs (256 KiB in RAM: 1.04-1.10x the time with it,
 * 1 MiB 0.97-0.99x, 4 MiB 0.93x; dlreg-bench-scan, builds alternated). */
#define FIND_PREFETCH_MIN ((size_t)512 * 1024)

/* Where a loop over turns up to pair_stop stops prefetching (0: never
 * starts), for blocks up to stop: FIND_PREFETCH short of pair_stop. */
static size_t prefetch_stop(size_t stop, size_t pair_stop)
{
	return FIND_PREFETCH && stop >= FIND_PREFETCH_MIN && pair_stop > FIND_PREFETCH
	               ? pair_stop - FIND_PREFETCH
	               : 0;
}
#endif

static int over_budget(size_t work, size_t scanned)
{
	return work > FIND_SLACK + 2 * scanned;
}

static size_t find_memmem_from(const unsigned char *h, size_t n, const unsigned char *nd, size_t m,
                               size_t from)
{
	if (from > n - m)
		return SIZE_MAX;
	const unsigned char *p = memmem(h + from, n - from, nd, m);
	return p ? (size_t)(p - h) : SIZE_MAX;
}

static int verify(const unsigned char *at, const unsigned char *nd, size_t m)
{
	return at[m - 1] == nd[m - 1] && memcmp(at + 1, nd + 1, m - 2) == 0;
}

/* Candidate starts from..n-m, memchr on the first byte (n >= m >= 2). */
static size_t find_scalar(const unsigned char *h, size_t n, const unsigned char *nd, size_t m,
                          size_t from)
{
	size_t last = n - m;
	size_t work = 0;
	size_t i = from;
	while (i <= last) {
		const unsigned char *p = memchr(h + i, nd[0], last - i + 1);
		if (!p)
			return SIZE_MAX;
		i = (size_t)(p - h);
		if (verify(p, nd, m))
			return i;
		work += m;
		if (over_budget(work, i))
			return find_memmem_from(h, n, nd, m, i + 1);
		i++;
	}
	return SIZE_MAX;
}

#ifdef DLREG_FIND_X86
/* Checks each set bit of mask (a candidate at base + bit); SIZE_MAX if none. */
static size_t verify_mask(const unsigned char *h, size_t base, uint64_t mask,
                          const unsigned char *nd, size_t m, size_t *work)
{
	while (mask) {
		size_t k = (size_t)__builtin_ctzll(mask);
		if (memcmp(h + base + k + 1, nd + 1, m - 2) == 0)
			return base + k;
		*work += m;
		mask &= mask - 1;
	}
	return SIZE_MAX;
}

/*
 * The hot loops live in their own functions, free of calls, so the compiler
 * keeps the broadcast bytes in registers; verification (memcmp) happens in
 * the caller, once per block that has a candidate.  Each returns the start
 * of the first block of positions i.. (< stop) with a candidate and its
 * bit mask, or stop.  They test two blocks a turn (one branch for both)
 * and prefetch the turn FIND_PREFETCH ahead while that is still haystack,
 * in a loop of its own so that the plain loop after it has no test for it.
 */
static __m128i match_sse2(const unsigned char *p, size_t m, __m128i f, __m128i l)
{
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + m - 1));
	return _mm_and_si128(_mm_cmpeq_epi8(a, f), _mm_cmpeq_epi8(b, l));
}

static uint64_t mask_sse2(__m128i e0, __m128i e1)
{
	uint64_t lo = (unsigned)_mm_movemask_epi8(e0), hi = (unsigned)_mm_movemask_epi8(e1);
	return lo | hi << 16;
}

/* Blocks p and p + 32: 0 or 32, the first with a candidate (its mask in
 * *mask), or 64 if neither has one. */
static inline size_t pair_sse2(const unsigned char *p, size_t m, __m128i f, __m128i l,
                               uint64_t *mask)
{
	__m128i e0 = match_sse2(p, m, f, l);
	__m128i e1 = match_sse2(p + 16, m, f, l);
	__m128i e2 = match_sse2(p + 32, m, f, l);
	__m128i e3 = match_sse2(p + 48, m, f, l);
	if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3))))
		return 64;
	*mask = mask_sse2(e0, e1);
	if (*mask)
		return 0;
	*mask = mask_sse2(e2, e3);
	return 32;
}

__attribute__((noinline)) static size_t next_block_sse2(const unsigned char *h, size_t i,
                                                        size_t stop, const unsigned char *nd,
                                                        size_t m, uint64_t *mask)
{
	const __m128i f = _mm_set1_epi8((char)nd[0]);
	const __m128i l = _mm_set1_epi8((char)nd[m - 1]);
	const size_t pair_stop = stop > 32 ? stop - 32 : 0;
	const size_t pf_stop = prefetch_stop(stop, pair_stop);
	size_t k;
	for (; i < pf_stop; i += 64) {
		_mm_prefetch((const char *)(h + i + FIND_PREFETCH), _MM_HINT_T0);
		if ((k = pair_sse2(h + i, m, f, l, mask)) < 64)
			return i + k;
	}
	for (; i < pair_stop; i += 64)
		if ((k = pair_sse2(h + i, m, f, l, mask)) < 64)
			return i + k;
	if (i < stop) {
		*mask = mask_sse2(match_sse2(h + i, m, f, l), match_sse2(h + i + 16, m, f, l));
		if (*mask)
			return i;
	}
	return stop;
}

#ifndef DLREG_FIND_NO_AVX2
__attribute__((target("avx2"))) static __m256i match_avx2(const unsigned char *p, size_t m,
                                                          __m256i f, __m256i l)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + m - 1));
	return _mm256_and_si256(_mm256_cmpeq_epi8(a, f), _mm256_cmpeq_epi8(b, l));
}

__attribute__((target("avx2"))) static uint64_t mask_avx2(__m256i e0, __m256i e1)
{
	return (uint64_t)(uint32_t)_mm256_movemask_epi8(e0) |
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(e1) << 32;
}

/* Blocks p and p + 64: 0 or 64, the first with a candidate (its mask in
 * *mask), or 128 if neither has one. */
__attribute__((target("avx2"))) static inline size_t pair_avx2(const unsigned char *p, size_t m,
                                                               __m256i f, __m256i l, uint64_t *mask)
{
	__m256i e0 = match_avx2(p, m, f, l);
	__m256i e1 = match_avx2(p + 32, m, f, l);
	__m256i e2 = match_avx2(p + 64, m, f, l);
	__m256i e3 = match_avx2(p + 96, m, f, l);
	__m256i any = _mm256_or_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e2, e3));
	if (_mm256_testz_si256(any, any))
		return 128;
	*mask = mask_avx2(e0, e1);
	if (*mask)
		return 0;
	*mask = mask_avx2(e2, e3);
	return 64;
}

__attribute__((target("avx2"), noinline)) static size_t next_block_avx2(const unsigned char *h,
                                                                        size_t i, size_t stop,
                                                                        const unsigned char *nd,
                                                                        size_t m, uint64_t *mask)
{
	const __m256i f = _mm256_set1_epi8((char)nd[0]);
	const __m256i l = _mm256_set1_epi8((char)nd[m - 1]);
	const size_t pair_stop = stop > 64 ? stop - 64 : 0;
	const size_t pf_stop = prefetch_stop(stop, pair_stop);
	size_t k;
	for (; i < pf_stop; i += 128) {
		_mm_prefetch((const char *)(h + i + FIND_PREFETCH), _MM_HINT_T0);
		_mm_prefetch((const char *)(h + i + FIND_PREFETCH + 64), _MM_HINT_T0);
		if ((k = pair_avx2(h + i, m, f, l, mask)) < 128)
			return i + k;
	}
	for (; i < pair_stop; i += 128)
		if ((k = pair_avx2(h + i, m, f, l, mask)) < 128)
			return i + k;
	if (i < stop) {
		*mask = mask_avx2(match_avx2(h + i, m, f, l), match_avx2(h + i + 32, m, f, l));
		if (*mask)
			return i;
	}
	return stop;
}
#endif

typedef size_t next_block_fn(const unsigned char *h, size_t i, size_t stop, const unsigned char *nd,
                             size_t m, uint64_t *mask);

/* Blocks of `width` candidate starts: block i reads up to h[i + width - 1 + m - 1]. */
static size_t find_blocks(const unsigned char *h, size_t n, const unsigned char *nd, size_t m,
                          size_t width, next_block_fn *next)
{
	size_t stop = n - m + 1 >= width ? n - m + 2 - width : 0;
	size_t work = 0;
	size_t i = 0;
	for (;;) {
		uint64_t mask = 0;
		i = next(h, i, stop, nd, m, &mask);
		if (i >= stop)
			break;
		size_t r = verify_mask(h, i, mask, nd, m, &work);
		if (r != SIZE_MAX)
			return r;
		if (over_budget(work, i))
			return find_memmem_from(h, n, nd, m, i + width);
		i += width;
	}
	/* The last, partial block: positions from i (== stop) to n - m. */
	return find_scalar(h, n, nd, m, i);
}
#endif

size_t dlreg_find(const void *hay, size_t n, const void *needle, size_t m)
{
	if (m == 0)
		return 0;
	if (!hay || !needle || n < m)
		return SIZE_MAX;
	const unsigned char *h = hay;
	const unsigned char *nd = needle;
	if (m == 1) {
		const unsigned char *p = memchr(h, nd[0], n);
		return p ? (size_t)(p - h) : SIZE_MAX;
	}
#ifdef DLREG_FIND_X86
#ifndef DLREG_FIND_NO_AVX2 /* the SSE2 loops on any x86-64 (scan_find_sse2) */
	if (__builtin_cpu_supports("avx2"))
		return find_blocks(h, n, nd, m, 64, next_block_avx2);
#endif
	return find_blocks(h, n, nd, m, 32, next_block_sse2);
#else
	return find_scalar(h, n, nd, m, 0);
#endif
}
