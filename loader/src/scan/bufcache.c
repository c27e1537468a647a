/*
 * bufcache.c - the read backend's windows, kept for the next scan.
 *
 * A scan through pread needs a window of up to read_buf_size bytes
 * (128 KiB by default).  malloc serves a block that size from fresh pages
 * more often than not: from mmap below its dynamic threshold, or from heap
 * top it trimmed after the last free.  Each of the window's pages then
 * faults on the first pread into it, and the block is unmapped or trimmed
 * again on free: on the reference VM a warm 1 MiB scan through a 128 KiB
 * window took 97-129 us that way against 58-60 us through a window whose
 * pages were already there, and which of the two a scan got depended on
 * what else the process had allocated.
 *
 * So finished windows go into BUFCACHE_SLOTS slots, one pointer each, and
 * the next scan takes one.  Taking is an exchange with NULL and giving back
 * a compare-and-swap from NULL, so a window is only ever held by one thread
 * and there is no ABA: a slot never holds a pointer someone else may free.
 * The release/acquire pair orders the previous owner's writes to the
 * window before the next owner's.  A slot whose window is too small for
 * the request is emptied and that window freed (the cache converges on the
 * size in use); windows over BUFCACHE_KEEP_MAX (DLREG_SCAN_READ_BUF_MAX)
 * are never kept.  What stays allocated between scans is what the widest
 * scans that ran at once used, at most BUFCACHE_SLOTS windows: 512 KiB with
 * the default window, 16 MiB at most.  It stays reachable from the slots,
 * and a destructor frees it when libdlreg is unloaded or the process exits.
 *
 * Standalone (malloc and C11 atomics only), so tests can compile it alone.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "bufcache.h"

#if defined(__SANITIZE_ADDRESS__)
#define BUFCACHE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUFCACHE_ASAN 1
#endif
#endif
#ifdef BUFCACHE_ASAN
#include <sanitizer/asan_interface.h>
/* A cached window is poisoned: a use after dlreg__buf_give still reports. */
#define BUF_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define BUF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define BUF_POISON(p, n) ((void)(p), (void)(n))
#define BUF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The window's usable size, in front of it; keeps malloc's alignment. */
union buf_hdr {
	size_t cap;
	max_align_t align;
};

static _Atomic(union buf_hdr *) slots[BUFCACHE_SLOTS];

static void *window_of(union buf_hdr *h)
{
	return h + 1;
}

void *dlreg__buf_take(size_t cap)
{
	for (unsigned i = 0; i < BUFCACHE_SLOTS; i++) {
		if (!atomic_load_explicit(&slots[i], memory_order_relaxed))
			continue;
		union buf_hdr *h = atomic_exchange_explicit(&slots[i], NULL, memory_order_acquire);
		if (!h)
			continue;
		BUF_UNPOISON(window_of(h), h->cap);
		if (h->cap >= cap)
			return window_of(h);
		free(h);
	}
	if (cap > (size_t)-1 - sizeof(union buf_hdr))
		return NULL;
	union buf_hdr *h = malloc(sizeof *h + cap);
	if (!h)
		return NULL;
	h->cap = cap;
	return window_of(h);
}

void dlreg__buf_give(void *buf)
{
	if (!buf)
		return;
	union buf_hdr *h = (union buf_hdr *)buf - 1;
	if (h->cap <= BUFCACHE_KEEP_MAX) {
		BUF_POISON(buf, h->cap);
		for (unsigned i = 0; i < BUFCACHE_SLOTS; i++) {
			union buf_hdr *empty = NULL;
			if (atomic_compare_exchange_strong_explicit(&slots[i], &empty, h,
			                                            memory_order_release,
			                                            memory_order_relaxed))
				return;
		}
		BUF_UNPOISON(buf, h->cap);
	}
	free(h);
}

void dlreg__buf_drop_all(void)
{
	for (unsigned i = 0; i < BUFCACHE_SLOTS; i++) {
		union buf_hdr *h = atomic_exchange_explicit(&slots[i], NULL, memory_order_acquire);
		if (h) {
			BUF_UNPOISON(window_of(h), h->cap);
			free(h);
		}
	}
}

__attribute__((destructor)) static void drop_at_exit(void)
{
	dlreg__buf_drop_all();
}

size_t dlreg__buf_cap(const void *buf)
{
	return ((const union buf_hdr *)buf - 1)->cap;
}
