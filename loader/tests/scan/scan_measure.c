/*
 * scan-measure - manual measurements for the scanner (not a test, not a
 * benchmark gate; bench/ has the real benchmarks):
 *   1. dlreg_find vs glibc memmem on random data, warm, at several sizes;
 *   2. scan time of the mmap and read backends on 4 KiB, 1 MiB and 256 MiB
 *      files whose metadata record sits at the end (worst case: full search).
 * Prints one line per measurement (tab-separated) on stdout; medians of N
 * runs.  Build with: ninja -C BUILD loader/tests/scan/scan-measure
 *
 * usage: scan-measure [--runs N] [--dir DIR]
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlreg/scan.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static void fill_random(unsigned char *p, size_t n)
{
	uint64_t s = 0x243f6a8885a308d3ull;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		unsigned char c = (unsigned char)(s >> 24);
		p[i] = c ? c : 1; /* no NUL bytes: memchr(0) must read everything */
	}
}

static volatile size_t sink;

static void measure_find(int runs)
{
	static const unsigned char needle[] = DLREG_METADATA_MAGIC_BYTES;
	static const size_t sizes[] = {64, 4096, 65536, 1 << 20, 16 << 20, 256u << 20};
	size_t max = sizes[sizeof sizes / sizeof sizes[0] - 1];
	unsigned char *buf = malloc(max);
	fill_random(buf, max);
	printf("# search\tsize\tdlreg_find_GBps\tmemmem_GBps\tmemchr_GBps(ceiling)\n");
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		size_t reps = (256u << 20) / n;
		double tf[64], tm[64], tc[64];
		for (int r = 0; r < runs; r++) {
			double t0 = now_s();
			for (size_t k = 0; k < reps; k++)
				sink += dlreg_find(buf, n, needle, sizeof needle);
			double t1 = now_s();
			for (size_t k = 0; k < reps; k++)
				sink += (size_t)memmem(buf, n, needle, sizeof needle);
			double t2 = now_s();
			for (size_t k = 0; k < reps; k++)
				sink += (size_t)memchr(buf, 0, n);
			double t3 = now_s();
			tf[r] = t1 - t0;
			tm[r] = t2 - t1;
			tc[r] = t3 - t2;
		}
		double bytes = (double)n * (double)reps;
		printf("search\t%zu\t%.2f\t%.2f\t%.2f\n", n, bytes / median(tf, runs) / 1e9,
		       bytes / median(tm, runs) / 1e9, bytes / median(tc, runs) / 1e9);
	}
	free(buf);
}

static int make_file(const char *path, size_t n)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	static const char json[] = "{\"name\":\"measure\"}";
	unsigned char *p = malloc(n);
	fill_random(p, n);
	size_t at = n - 20 - (sizeof json - 1);
	memcpy(p + at, magic, 16);
	p[at + 16] = (unsigned char)(sizeof json - 1);
	memset(p + at + 17, 0, 3);
	memcpy(p + at + 20, json, sizeof json - 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ok = fd >= 0 && write(fd, p, n) == (ssize_t)n;
	if (fd >= 0)
		close(fd);
	free(p);
	return ok ? 0 : -1;
}

static void measure_scan(const char *dir, int runs)
{
	static const size_t sizes[] = {4096, 1 << 20, 256u << 20};
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ};
	char path[512];
	printf("# scan\tsize\tbackend\tmedian_us\tGBps\n");
	for (size_t s = 0; s < 3; s++) {
		snprintf(path, sizeof path, "%s/scan-measure-%zu", dir, sizes[s]);
		if (make_file(path, sizes[s]) != 0) {
			fprintf(stderr, "scan-measure: cannot write a file in %s\n", dir);
			return;
		}
		for (size_t b = 0; b < 2; b++) {
			struct dlreg_scan_options o = {.backend = backends[b]};
			int inner = sizes[s] < (1u << 20) ? 2000 : sizes[s] < (16u << 20) ? 100 : 1;
			double t[64];
			for (int r = 0; r < runs; r++) {
				double t0 = now_s();
				for (int k = 0; k < inner; k++) {
					struct dlreg_metadata *m = NULL;
					if (dlreg_scan_file(path, &o, &m) != DLREG_OK)
						fprintf(stderr, "scan-measure: scan failed: %s\n",
						        dlreg_errdetail());
					dlreg_metadata_free(m);
				}
				t[r] = (now_s() - t0) / inner;
			}
			double med = median(t, runs);
			printf("scan\t%zu\t%s\t%.1f\t%.2f\n", sizes[s],
			       dlreg_scan_backend_name(backends[b]), med * 1e6,
			       (double)sizes[s] / med / 1e9);
		}
		unlink(path);
	}
}

int main(int argc, char **argv)
{
	int runs = 7;
	const char *dir = "/tmp";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else {
			printf("usage: scan-measure [--runs N] [--dir DIR]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (runs < 1 || runs > 64) {
		fprintf(stderr, "scan-measure: --runs must be 1..64\n");
		return 2;
	}
	measure_find(runs);
	measure_scan(dir, runs);
	return 0;
}
