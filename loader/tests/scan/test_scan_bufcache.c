/*
 * test_scan_bufcache - the read windows kept between scans (bufcache.c,
 * compiled into this test): a given-back window is taken again, a too
 * small one is dropped for a new one, no more than BUFCACHE_SLOTS windows
 * and none over BUFCACHE_KEEP_MAX are kept, and under concurrent take/give
 * no window is ever held by two threads (run under TSan and ASan too).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/bufcache.h"
#include "check.h"

static void check_reuse(void)
{
	void *a = dlreg__buf_take(4096);
	CHECK(a && dlreg__buf_cap(a) == 4096, "a fresh window has the size asked");
	if (!a)
		return;
	memset(a, 0xa5, 4096);
	dlreg__buf_give(a);
	void *b = dlreg__buf_take(1000);
	CHECK(b == a, "a smaller request takes the window given back");
	CHECK(b && dlreg__buf_cap(b) == 4096, "and it keeps its size");
	dlreg__buf_give(b);
	void *c = dlreg__buf_take(8192);
	CHECK(c && dlreg__buf_cap(c) == 8192, "a bigger request gets a fresh window");
	dlreg__buf_give(c);
	void *d = dlreg__buf_take(1);
	CHECK(d && dlreg__buf_cap(d) == 8192, "the too-small window was dropped, the big one kept");
	dlreg__buf_give(d);
	dlreg__buf_drop_all();
	/* Two windows, so that the same pointer cannot come back from malloc instead. */
	void *e = dlreg__buf_take(256), *x = dlreg__buf_take(256);
	dlreg__buf_give(e);
	dlreg__buf_give(x);
	void *f = dlreg__buf_take(256), *y = dlreg__buf_take(256);
	CHECK(e && x && f == e && y == x, "requests of the windows' exact size take them again");
	dlreg__buf_give(f);
	dlreg__buf_give(y);
	dlreg__buf_give(NULL); /* the read backend gives back what it may not have got */
	void *g = dlreg__buf_take(256);
	CHECK(g == f, "giving back NULL is a no-op");
	dlreg__buf_give(g);
	CHECK(dlreg__buf_take((size_t)-1) == NULL &&
	              dlreg__buf_take((size_t)-1 - sizeof(max_align_t) + 1) == NULL,
	      "a size whose header would wrap is refused");
}

static void check_bounds(void)
{
	enum { N = BUFCACHE_SLOTS + 3 };
	void *w[N];
	for (int i = 0; i < N; i++) {
		w[i] = dlreg__buf_take(64 * 1024);
		CHECK(w[i] != NULL, "take %d", i);
	}
	for (int i = 0; i < N; i++)
		dlreg__buf_give(w[i]);
	int kept = 0, fresh = 0;
	for (int i = 0; i < N; i++) {
		w[i] = dlreg__buf_take(16);
		if (w[i] && dlreg__buf_cap(w[i]) == 64 * 1024)
			kept++;
		else if (w[i] && dlreg__buf_cap(w[i]) == 16)
			fresh++;
	}
	CHECK(kept == BUFCACHE_SLOTS && fresh == N - BUFCACHE_SLOTS,
	      "%d of %d windows kept (want %d), %d fresh", kept, N, BUFCACHE_SLOTS, fresh);
	for (int i = 0; i < N; i++)
		dlreg__buf_give(w[i]);
	dlreg__buf_drop_all();
	void *max = dlreg__buf_take(BUFCACHE_KEEP_MAX);
	dlreg__buf_give(max);
	void *again = dlreg__buf_take(16);
	CHECK(max && again == max, "a window of exactly %zu bytes is kept", (size_t)BUFCACHE_KEEP_MAX);
	dlreg__buf_give(again);
	dlreg__buf_drop_all();
	void *big = dlreg__buf_take(BUFCACHE_KEEP_MAX + 1);
	CHECK(big != NULL, "take a window over the kept maximum");
	dlreg__buf_give(big);
	void *small = dlreg__buf_take(16);
	CHECK(small && dlreg__buf_cap(small) == 16, "a window over %zu bytes is not kept",
	      (size_t)BUFCACHE_KEEP_MAX);
	dlreg__buf_give(small);
	dlreg__buf_drop_all();
	small = dlreg__buf_take(16);
	CHECK(small && dlreg__buf_cap(small) == 16, "drop_all empties the cache");
	dlreg__buf_give(small);
	dlreg__buf_drop_all();
}

/*
 * THREADS threads each take a window, fill it with their own byte, yield,
 * check that no byte changed, and give it back, ROUNDS times.  Window sizes
 * vary so that takes also drop too-small windows.
 */
enum { THREADS = 8, ROUNDS = 20000 };
static int bad_rounds[THREADS];

static void *churn(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned char mark = (unsigned char)(0x10 + id);
	for (int r = 0; r < ROUNDS; r++) {
		size_t n = (size_t)64 << ((r + id) % 8);
		unsigned char *w = dlreg__buf_take(n);
		if (!w || dlreg__buf_cap(w) < n) {
			bad_rounds[id]++;
			dlreg__buf_give(w);
			continue;
		}
		memset(w, mark, n);
		sched_yield();
		for (size_t k = 0; k < n; k++)
			if (w[k] != mark) {
				bad_rounds[id]++;
				break;
			}
		dlreg__buf_give(w);
	}
	return NULL;
}

static void check_exclusive(void)
{
	pthread_t t[THREADS];
	int started = 0;
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, churn, (void *)(intptr_t)i) == 0)
			started++;
		else
			break;
	CHECK(started == THREADS, "%d of %d threads started", started, THREADS);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	int bad = 0;
	for (int i = 0; i < started; i++)
		bad += bad_rounds[i];
	CHECK(bad == 0, "%d rounds saw a window too small or written by another thread", bad);
	dlreg__buf_drop_all();
}

int main(int argc, char **argv)
{
	int usage =
	        check_no_args(argc, argv,
	                      "usage: test_scan_bufcache\n"
	                      "The read windows the scanner keeps between scans (bufcache.c).\n");
	if (usage >= 0)
		return usage;
	dlreg__buf_drop_all();
	check_reuse();
	dlreg__buf_drop_all();
	check_bounds();
	check_exclusive();
	return check_report("scan_bufcache");
}
