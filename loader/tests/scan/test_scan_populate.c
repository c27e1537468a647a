/*
 * test_scan_populate.c - the mapped marker search where page faults are
 * slow: it has the kernel map each stretch in (MADV_POPULATE_READ) before
 * searching it, stretches of 2 MiB doubling up to 64 MiB.  Built from the
 * library's sources with DLREG_TEST_POPULATE_HOOK: the hooks below decide
 * whether faults count as slow, see each stretch and can fail one.
 *
 * Checked: a marker across a stretch's end is found, and found once; the
 * stretches cover the file's data, in order, overlapping by the magic's
 * length less one, never into a hole; their lengths double up to the cap;
 * a failed populate call ends the populating, not the search; with cheap
 * faults nothing is populated.
 *
 * And auto's mapped search of a cached file, where a stretch shows small
 * folios (a hook decides which): the search goes on through pread from
 * that stretch on, and finds a record before, across and after the
 * switch, past a rejected marker too; the result says read.  The mmap
 * backend, and auto where faults are cheap, never switch.
 *
 * And auto where cachestat() is missing and the file system keeps no
 * large folios (hooks again), from 16 MiB: mincore() on the mapping
 * decides; a cold file is read and its mapping given back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlreg/scan.h"
#include "scan/folios.h"
#include "smaps.h"

#define MIB ((uint64_t)1 << 20)
#define OVERLAP (DLREG_METADATA_MAGIC_LEN - 1)
#define JSON "{\"populate\":1}"
#define MAX_STRETCHES 64

static int faults_slow = 1;
static uint64_t seen_from[MAX_STRETCHES], seen_to[MAX_STRETCHES];
static int nseen;
static int fail_call = -1; /* the call that fails, by index */
static int fail_errno;
static int truncate_call = -1; /* the call before which the file shrinks to a page */
static char path[4096 + 32];

int dlreg__test_fault_armed(void);

int dlreg__test_faults_slow(void);
int dlreg__test_faults_slow(void)
{
	return faults_slow;
}

/* With --overlay: the start of the scanned file's mapping, seen from the
 * first populate call of each scan (0: not found). */
static int find_mapping;
static const char probe_name[] = "dlreg-populate-aligned";
static uintptr_t mapping_start;

static uintptr_t file_mapping_start(void)
{
	char line[4608];
	uintptr_t lo = 0, found = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		const char *slash = strrchr(line, '/');
		if (slash && strcmp(slash + 1, probe_name) == 0 &&
		    sscanf(line, "%" SCNxPTR "-", &lo) == 1) {
			found = lo;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

int dlreg__test_populate_hook(uint64_t from, uint64_t to);
int dlreg__test_populate_hook(uint64_t from, uint64_t to)
{
	if (find_mapping && nseen == 0)
		mapping_start = file_mapping_start();
	int i = nseen++;
	if (i == truncate_call && truncate(path, 4096) != 0)
		fprintf(stderr, "test_scan_populate: truncate: %s\n", strerror(errno));
	if (i < MAX_STRETCHES) {
		seen_from[i] = from;
		seen_to[i] = to;
	}
	return i == fail_call ? fail_errno : 0;
}

/* The first stretch, by index, taken for small folios; ASK_KERNEL: every
 * stretch counts as slow and PAGEMAP_SCAN decides, as in production. */
static int small_from = -1;
#define ASK_KERNEL (-2)
static int nasked; /* verdicts asked */

int dlreg__test_small_folios(uint64_t from, uint64_t to);
int dlreg__test_small_folios(uint64_t from, uint64_t to)
{
	(void)from;
	(void)to;
	nasked++;
	if (small_from == ASK_KERNEL)
		return -2;
	return small_from >= 0 && nseen - 1 >= small_from;
}

static int no_cachestat, no_large_folios;

int dlreg__test_no_cachestat(void);
int dlreg__test_no_cachestat(void)
{
	return no_cachestat;
}

int dlreg__test_no_large_folios(void);
int dlreg__test_no_large_folios(void)
{
	return no_large_folios;
}

static void reset_hooks(int slow)
{
	faults_slow = slow;
	nseen = 0;
	fail_call = -1;
	fail_errno = 0;
	truncate_call = -1;
	small_from = -1;
	nasked = 0;
	no_cachestat = no_large_folios = 0;
}

static char dir[4096];

/* Writes `len` bytes of filler (no 0xf0, the magic's first byte) at `off`. */
static int write_filler(int fd, uint64_t off, uint64_t len)
{
	static unsigned char chunk[1 << 16];
	if (chunk[0] == 0)
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = (unsigned char)('a' + i % 23);
	while (len > 0) {
		size_t n = len < sizeof chunk ? (size_t)len : sizeof chunk;
		ssize_t w = pwrite(fd, chunk, n, (off_t)off);
		if (w <= 0)
			return -1;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int write_record(int fd, uint64_t at)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	unsigned char rec[DLREG_METADATA_HEADER_LEN + sizeof JSON];
	uint32_t len = (uint32_t)strlen(JSON);
	memcpy(rec, magic, sizeof magic);
	for (int i = 0; i < 4; i++)
		rec[DLREG_METADATA_MAGIC_LEN + i] = (unsigned char)(len >> (8 * i));
	memcpy(rec + DLREG_METADATA_HEADER_LEN, JSON, len);
	size_t n = DLREG_METADATA_HEADER_LEN + len;
	return pwrite(fd, rec, n, (off_t)at) == (ssize_t)n ? 0 : -1;
}

/*
 * A file of `size` bytes of filler, a record at `at` (UINT64_MAX: none)
 * and, when hole_len is not 0, a hole of hole_len bytes from hole_at.
 */
static int make_file(uint64_t size, uint64_t at, uint64_t hole_at, uint64_t hole_len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = ftruncate(fd, (off_t)size);
	if (rc == 0 && hole_len == 0)
		rc = write_filler(fd, 0, size);
	else if (rc == 0) {
		rc = write_filler(fd, 0, hole_at);
		if (rc == 0)
			rc = write_filler(fd, hole_at + hole_len, size - hole_at - hole_len);
	}
	if (rc == 0 && at != UINT64_MAX)
		rc = write_record(fd, at);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

/*
 * Scans with `backend`; the offset of the JSON, or UINT64_MAX with *err
 * set.  The result must name `want` as the backend used.
 */
static uint64_t scan_with(enum dlreg_scan_backend backend, enum dlreg_scan_backend want, int *err)
{
	struct dlreg_scan_options o = {.backend = backend};
	struct dlreg_metadata *m = NULL;
	*err = dlreg_scan_file(path, &o, &m);
	if (*err != DLREG_OK)
		return UINT64_MAX;
	uint64_t off = m->offset;
	CHECK(m->backend == want, "backend %s, not %s", dlreg_scan_backend_name(m->backend),
	      dlreg_scan_backend_name(want));
	CHECK(m->where == DLREG_META_MARKER, "found as %s", dlreg_meta_where_name(m->where));
	CHECK(m->json_len == strlen(JSON) && strcmp(m->json, JSON) == 0, "json %s", m->json);
	dlreg_metadata_free(m);
	return off;
}

static uint64_t scan(int *err)
{
	return scan_with(DLREG_SCAN_MMAP, DLREG_SCAN_MMAP, err);
}

/* The stretches seen, from `first_from`: in order, overlapping by OVERLAP, doubling to 64 MiB. */
static void check_stretches(const char *what, uint64_t first_from, uint64_t last_to)
{
	CHECK(nseen >= 1 && nseen <= MAX_STRETCHES, "%s: %d stretches", what, nseen);
	if (nseen < 1 || nseen > MAX_STRETCHES)
		return;
	CHECK(seen_from[0] == first_from, "%s: first stretch from %llu, not %llu", what,
	      (unsigned long long)seen_from[0], (unsigned long long)first_from);
	uint64_t len = 2 * MIB;
	for (int i = 0; i < nseen; i++) {
		uint64_t want_to = seen_from[i] + len + OVERLAP;
		if (i == nseen - 1 && last_to < want_to)
			want_to = last_to;
		CHECK(seen_to[i] == want_to, "%s: stretch %d is [%llu, %llu), not to %llu", what, i,
		      (unsigned long long)seen_from[i], (unsigned long long)seen_to[i],
		      (unsigned long long)want_to);
		if (i > 0)
			CHECK(seen_from[i] == seen_to[i - 1] - OVERLAP,
			      "%s: stretch %d starts at %llu, the last ended at %llu", what, i,
			      (unsigned long long)seen_from[i], (unsigned long long)seen_to[i - 1]);
		if (len < 64 * MIB)
			len *= 2;
	}
}

static void marker_at(uint64_t size, uint64_t at, int want_stretches)
{
	char what[64];
	snprintf(what, sizeof what, "record at %llu of %llu", (unsigned long long)at,
	         (unsigned long long)size);
	if (make_file(size, at, 0, 0) != 0) {
		CHECK(0, "%s: cannot write the file: %s", what, strerror(errno));
		return;
	}
	reset_hooks(1);
	int err;
	uint64_t off = scan(&err);
	CHECK(off == at + DLREG_METADATA_HEADER_LEN, "%s: %s, json at %llu", what,
	      dlreg_strerror(err), (unsigned long long)off);
	CHECK(nseen == want_stretches, "%s: %d stretches, not %d", what, nseen, want_stretches);
	uint64_t end = 0;
	for (int i = 0; i < nseen && i < MAX_STRETCHES; i++)
		end = seen_to[i];
	check_stretches(what, 0, end);
	CHECK(end >= at + DLREG_METADATA_MAGIC_LEN, "%s: the magic reaches past the stretches",
	      what);
}

/*
 * Auto over a cached file of `size` with a record at `at`, stretches from
 * index `small` on (-1: none) taken for small folios; `bad` (not
 * UINT64_MAX) puts a marker whose length runs past the file there.  The
 * record is found by `want`, after `want_stretches` populate calls.
 */
static void auto_switch(uint64_t size, uint64_t at, uint64_t bad, int small,
                        enum dlreg_scan_backend want, int want_stretches)
{
	char what[96];
	snprintf(what, sizeof what, "auto, small folios from stretch %d, record at %llu", small,
	         (unsigned long long)at);
	int fd = -1;
	if (make_file(size, at, 0, 0) != 0 ||
	    (bad != UINT64_MAX && ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0 ||
	                           write_record(fd, bad) != 0 ||
	                           pwrite(fd, "\xff\xff\xff\x7f", 4,
	                                  (off_t)(bad + DLREG_METADATA_MAGIC_LEN)) != 4))) {
		CHECK(0, "%s: cannot write the file: %s", what, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	reset_hooks(1);
	small_from = small;
	int err;
	uint64_t off = scan_with(DLREG_SCAN_AUTO, want, &err);
	CHECK(off == at + DLREG_METADATA_HEADER_LEN, "%s: %s, json at %llu", what,
	      dlreg_strerror(err), (unsigned long long)off);
	CHECK(nseen == want_stretches, "%s: %d stretches, not %d", what, nseen, want_stretches);
	CHECK(nasked == nseen, "%s: %d verdicts asked over %d stretches", what, nasked, nseen);
}

/* Open descriptors of this process (the directory stream's own included). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * Auto over a cached 9 MiB file whose every stretch counts as slow, so
 * that the kernel is asked how it is mapped (PAGEMAP_SCAN on
 * /proc/self/pagemap, opened once a scan): whatever it answers (mapped on,
 * or on through pread), the record is found, every stretch was asked
 * about, and each scan closes the descriptor it opened.
 */
static void ask_kernel(void)
{
	if (make_file(9 * MIB + 100, 9 * MIB + 20, 0, 0) != 0) {
		CHECK(0, "ask the kernel: cannot write the file: %s", strerror(errno));
		return;
	}
	if (access("/proc/self/pagemap", R_OK) != 0)
		printf("no /proc/self/pagemap to read (%s): the kernel is never asked\n",
		       strerror(errno));
	int before = count_fds();
	for (int i = 0; i < 8; i++) {
		reset_hooks(1);
		small_from = ASK_KERNEL;
		struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
		struct dlreg_metadata *m = NULL;
		int err = dlreg_scan_file(path, &o, &m);
		CHECK(err == DLREG_OK && m->offset == 9 * MIB + 20 + DLREG_METADATA_HEADER_LEN,
		      "ask the kernel, scan %d: %s, json at %llu", i, dlreg_strerror(err),
		      (unsigned long long)(m ? m->offset : 0));
		CHECK(!m || m->backend == DLREG_SCAN_MMAP || m->backend == DLREG_SCAN_READ,
		      "ask the kernel, scan %d: backend %s", i,
		      m ? dlreg_scan_backend_name(m->backend) : "-");
		CHECK(nseen >= 1 && nasked == nseen,
		      "ask the kernel, scan %d: %d verdicts asked over %d stretches", i, nasked,
		      nseen);
		dlreg_metadata_free(m);
	}
	int after = count_fds();
	CHECK(before >= 0 && after == before,
	      "ask the kernel: %d descriptors open before 8 scans, %d after", before, after);
}

/* Pages of the file at `path` in the page cache (mincore), or -1. */
static long resident_pages(uint64_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((size + page - 1) / page);
	unsigned char *vec = malloc(pages);
	long in = -1;
	if (vec && mincore(p, (size_t)size, vec) == 0) {
		in = 0;
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	}
	free(vec);
	munmap(p, (size_t)size);
	return in;
}

/* Drops the file's pages from the page cache (written back first). */
static int evict(void)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd) == 0 ? posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) : -1;
	close(fd);
	return rc;
}

/*
 * Auto over a 17 MiB file where cachestat() is missing (Linux < 6.5, or a
 * seccomp filter) and the file system keeps no large folios: the file is
 * mapped and mincore() over four runs of pages decides.  Cached, the
 * search stays on the mapping; cold (evicted, but for what the header
 * pass reads), the mapping is given back and the file read.  Either way
 * each scan leaves the bytes mapped as they were.
 */
static void cachestat_missing(void)
{
	uint64_t size = DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN + MIB;
	uint64_t at = size - 4096;
	if (make_file(size, at, 0, 0) != 0) {
		CHECK(0, "no cachestat: cannot write the file: %s", strerror(errno));
		return;
	}
	for (int cold = 0; cold < 2; cold++) {
		const char *how = cold ? "cold" : "cached";
		unsigned long long before = 0;
		for (int i = 0; i < 4; i++) {
			long in = cold ? (evict() == 0 ? resident_pages(size) : -1) : 0;
			if (cold &&
			    (in < 0 || (uint64_t)in * (uint64_t)sysconf(_SC_PAGESIZE) > size / 8)) {
				printf("no cachestat, cold: the file's pages stay cached in %s (%ld "
				       "resident after POSIX_FADV_DONTNEED): skipped\n",
				       dir, in);
				break;
			}
			reset_hooks(0);
			no_cachestat = no_large_folios = 1;
			int err;
			uint64_t off = scan_with(DLREG_SCAN_AUTO,
			                         cold ? DLREG_SCAN_READ : DLREG_SCAN_MMAP, &err);
			CHECK(off == at + DLREG_METADATA_HEADER_LEN,
			      "no cachestat, %s, scan %d: %s, json at %llu", how, i,
			      dlreg_strerror(err), (unsigned long long)off);
			/* The first scan settles what the library keeps (its read buffer). */
			unsigned long long now = mapped_bytes();
			if (i == 0)
				before = now;
			CHECK(now == before,
			      "no cachestat, %s: %lld bytes more mapped after %d scans", how,
			      (long long)(now - before), i + 1);
		}
	}
	reset_hooks(0);
}

/*
 * auto's choice for small and mid-sized marker files, cold and cached, as
 * the fault cost decides it (the hook, whatever this host's cost): a cold
 * file of 96 KiB (from DLREG_SCAN_AUTO_COLD_SMALL_MIN) or 1.5 MiB (below
 * DLREG_SCAN_AUTO_MMAP_MIN) is mapped where faults are cheap and the file
 * system caches large folios, read where faults are slow or it does not,
 * and on overlayfs (neither cachestat() nor RWF_NOWAIT can tell it cold);
 * a cached one is read.  The record, near the end, is found each time.
 */
static void fault_cost_decides(void)
{
	static const uint64_t sizes[] = {96 * 1024, 3 * MIB / 2};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		uint64_t size = sizes[k], at = size - 200;
		if (make_file(size, at, 0, 0) != 0) {
			CHECK(0, "fault cost: cannot write the file: %s", strerror(errno));
			return;
		}
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		int large = fd >= 0 && fstat(fd, &st) == 0 &&
		            dlreg__fd_caches_large_folios(fd, st.st_dev) == 1;
		int elsewhere = large && dlreg__fd_cache_elsewhere(fd, st.st_dev) == 1;
		if (fd >= 0)
			close(fd);
		for (int slow = 0; slow < 2; slow++) {
			for (int cold = 1; cold >= 0; cold--) {
				long in = cold ? (evict() == 0 ? resident_pages(size) : -1) : 0;
				if (cold && in != 0) {
					printf("fault cost, %llu bytes: %ld pages stay cached "
					       "in %s: cold case skipped\n",
					       (unsigned long long)size, in, dir);
					continue;
				}
				reset_hooks(slow);
				enum dlreg_scan_backend want = cold && large && !elsewhere && !slow
				                                       ? DLREG_SCAN_MMAP
				                                       : DLREG_SCAN_READ;
				int err;
				uint64_t off = scan_with(DLREG_SCAN_AUTO, want, &err);
				CHECK(off == at + DLREG_METADATA_HEADER_LEN,
				      "fault cost, %llu bytes, %s, faults %s: %s, json at %llu",
				      (unsigned long long)size, cold ? "cold" : "cached",
				      slow ? "slow" : "cheap", dlreg_strerror(err),
				      (unsigned long long)off);
			}
		}
	}
	reset_hooks(0);
}

/*
 * Whether auto maps a cached 9 MiB file in the test's directory at all: it
 * reads where the file system keeps no large folios (tmpfs without huge=),
 * and then has no mapped search to switch from.
 */
static int auto_maps_here(void)
{
	if (make_file(9 * MIB + 100, 9 * MIB + 20, 0, 0) != 0)
		return 1; /* the cases say why */
	reset_hooks(1);
	small_from = -1;
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	int maps = dlreg_scan_file(path, &o, &m) != DLREG_OK || m->backend == DLREG_SCAN_MMAP;
	dlreg_metadata_free(m);
	return maps;
}

/*
 * Bytes of what a scan of the probe file could leave mapped: mappings of
 * that file, and anonymous mappings with no access (the scanner's
 * reservations).  Not the whole address space: a ThreadSanitizer runtime
 * maps its own memory for each new range the scanner touches.
 */
static unsigned long long probe_bytes(void)
{
	unsigned long long total = 0, lo, hi;
	char line[4608], perms[8];
	FILE *f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		int name = 0;
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perms, &name) < 3)
			continue;
		const char *slash = strrchr(line, '/');
		int probe = slash && strcmp(slash + 1, probe_name) == 0;
		int reserved = strcmp(perms, "---p") == 0 && (name == 0 || line[name] == '\0');
		if (probe || reserved)
			total += hi - lo;
	}
	if (f)
		fclose(f);
	return total;
}

/*
 * --overlay DIR (test_scan_overlay.sh): DIR is overlayfs over a file system
 * that caches large folios.  The kernel does not align a mapping of an
 * overlay file to 2 MiB (overlayfs has no get_unmapped_area), so the
 * scanner reserves an aligned range and maps the file into it (map_file):
 * each mapping must start 2 MiB-aligned, the reservation's unused head and
 * tail must be given back (the bytes mapped are as before, scan after
 * scan), and the record must be found, through the mmap backend and auto.
 */
static int overlay(const char *where)
{
	snprintf(dir, sizeof dir, "%s", where);
	snprintf(path, sizeof path, "%s/%s", dir, probe_name);
	if (make_file(4 * MIB, UINT64_MAX, 0, 0) != 0) {
		fprintf(stderr, "test_scan_populate: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int large = 0, elsewhere = 0;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		large = dlreg__fd_caches_large_folios(fd, st.st_dev);
		elsewhere = dlreg__fd_cache_elsewhere(fd, st.st_dev);
	}
	if (fd >= 0)
		close(fd);
	if (!large || !elsewhere) {
		printf("skip: %s: %s\n", dir,
		       !elsewhere ? "not overlayfs" : "its layers keep no large folios");
		unlink(path);
		return 77;
	}
	static const struct {
		uint64_t size, at;
		enum dlreg_scan_backend backend;
	} cases[] = {
	        {4 * MIB + 123, 3 * MIB + 7, DLREG_SCAN_MMAP},
	        {17 * MIB, 17 * MIB - 100, DLREG_SCAN_MMAP},
	        {4 * MIB + 123, 3 * MIB + 7, DLREG_SCAN_AUTO},
	        {17 * MIB, 17 * MIB - 100, DLREG_SCAN_AUTO},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const char *b = dlreg_scan_backend_name(cases[c].backend);
		if (make_file(cases[c].size, cases[c].at, 0, 0) != 0) {
			CHECK(0, "cannot write %s: %s", path, strerror(errno));
			continue;
		}
		unsigned long long before = 0;
		for (int round = 0; round < 5; round++) {
			/* The first scan settles what stays; 4 more must add nothing. */
			if (round == 1)
				before = probe_bytes();
			reset_hooks(1);
			find_mapping = 1;
			mapping_start = 0;
			int err;
			uint64_t off = scan_with(cases[c].backend, DLREG_SCAN_MMAP, &err);
			find_mapping = 0;
			CHECK(off == cases[c].at + DLREG_METADATA_HEADER_LEN,
			      "%s, %llu bytes: %s, json at %llu", b,
			      (unsigned long long)cases[c].size, dlreg_strerror(err),
			      (unsigned long long)off);
			CHECK(mapping_start != 0 && mapping_start % (2 * MIB) == 0,
			      "%s, %llu bytes: the mapping starts at %#lx, not 2 MiB-aligned", b,
			      (unsigned long long)cases[c].size, (unsigned long)mapping_start);
		}
		unsigned long long after = probe_bytes();
		CHECK(after == before, "%s, %llu bytes: %lld bytes more mapped after 4 scans", b,
		      (unsigned long long)cases[c].size, (long long)(after - before));
	}
	fault_cost_decides();
	unlink(path);
	return check_report("scan_populate --overlay");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--overlay") == 0)
		return overlay(argv[2]);
	int usage = check_no_args(
	        argc, argv,
	        "usage: test_scan_populate [--overlay DIR]\n"
	        "The mapped marker search where page faults are slow (populated stretches).\n"
	        "--overlay DIR: on overlayfs over a file system with large folios, each\n"
	        "mapping starts 2 MiB-aligned and leaves nothing mapped behind it.\n");
	if (usage >= 0)
		return usage;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/dlreg-populate-XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "test_scan_populate: cannot create a directory in %s: %s\n", base,
		        strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/f", dir);

	/* A record across the end of the first stretch (2 MiB), of the second (6 MiB), in the last. */
	marker_at(9 * MIB + 100, 2 * MIB - 5, 1);
	marker_at(9 * MIB + 100, 2 * MIB - DLREG_METADATA_MAGIC_LEN, 1);
	marker_at(9 * MIB + 100, 2 * MIB - DLREG_METADATA_MAGIC_LEN + 1, 1);
	marker_at(9 * MIB + 100, 2 * MIB, 2);
	marker_at(9 * MIB + 100, 6 * MIB - 1, 2);
	marker_at(9 * MIB + 100, 9 * MIB + 20, 3);

	/* No record: stretches over the whole file, doubling up to 64 MiB (2+4+...+64+64+14). */
	uint64_t big = 140 * MIB;
	if (make_file(big, UINT64_MAX, 0, 0) == 0) {
		reset_hooks(1);
		int err;
		(void)scan(&err);
		CHECK(err == DLREG_ENOMETA, "no record: %s", dlreg_strerror(err));
		CHECK(nseen == 7, "no record, 140 MiB: %d stretches, not 7", nseen);
		check_stretches("no record", 0, big);
		CHECK(nseen >= 1 && seen_to[nseen - 1] == big, "no record: the last stretch ends at %llu",
		      (unsigned long long)(nseen >= 1 ? seen_to[nseen - 1] : 0));
	} else {
		CHECK(0, "cannot write a 140 MiB file: %s", strerror(errno));
	}

	/* A failed call ends the populating; the search goes on by faults. */
	static const int errs[] = {EINVAL, EFAULT, ENOMEM};
	for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
		for (int call = 0; call < 2; call++) {
			if (make_file(9 * MIB, 6 * MIB + 3, 0, 0) != 0) {
				CHECK(0, "cannot write the file: %s", strerror(errno));
				break;
			}
			reset_hooks(1);
			fail_call = call;
			fail_errno = errs[e];
			int err;
			uint64_t off = scan(&err);
			CHECK(off == 6 * MIB + 3 + DLREG_METADATA_HEADER_LEN,
			      "call %d failing with %s: %s, json at %llu", call, strerror(errs[e]),
			      dlreg_strerror(err), (unsigned long long)off);
			CHECK(nseen == call + 1, "call %d failing with %s: %d calls made", call,
			      strerror(errs[e]), nseen);
		}
	}

	/*
	 * The fault scope ends with the scan, whether the scan returns or a
	 * fault it caught jumps out of it: the file shrinks to a page before
	 * the second stretch, the search faults past it (DLREG_ETRUNCATED),
	 * and no scope is left armed for a later fault to be taken for the
	 * scan's.
	 */
	if (make_file(9 * MIB, 6 * MIB + 3, 0, 0) == 0) {
		reset_hooks(1);
		int err;
		(void)scan(&err);
		CHECK(err == DLREG_OK && !dlreg__test_fault_armed(),
		      "a scan that returned: %s, a fault scope %s armed", dlreg_strerror(err),
		      dlreg__test_fault_armed() ? "still" : "not");
		uint64_t caught = dlreg_scan_fault_count();
		reset_hooks(1);
		truncate_call = 1;
		(void)scan(&err);
		CHECK(err == DLREG_ETRUNCATED && dlreg_scan_fault_count() == caught + 1,
		      "shrunk under the scan: %s, %llu faults caught", dlreg_strerror(err),
		      (unsigned long long)(dlreg_scan_fault_count() - caught));
		CHECK(!dlreg__test_fault_armed(),
		      "a scan that caught a fault left its scope armed");
		reset_hooks(0);
	}

	/* Faults cheap: nothing populated, the same answer. */
	if (make_file(9 * MIB, 6 * MIB - 1, 0, 0) == 0) {
		reset_hooks(0);
		int err;
		uint64_t off = scan(&err);
		CHECK(off == 6 * MIB - 1 + DLREG_METADATA_HEADER_LEN, "cheap faults: %s, json at %llu",
		      dlreg_strerror(err), (unsigned long long)off);
		CHECK(nseen == 0, "cheap faults: %d stretches populated", nseen);
	}

	/*
	 * A hole from 1 to 8 MiB (where the file system reports holes): no
	 * stretch reaches into it, and the one after it starts at its end with
	 * the first length carried on (the second stretch: 4 MiB).
	 */
	if (make_file(12 * MIB, 11 * MIB, 1 * MIB, 7 * MIB) == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		off_t data = fd >= 0 ? lseek(fd, (off_t)(1 * MIB), SEEK_DATA) : -1;
		if (fd >= 0)
			close(fd);
		if (data == (off_t)(8 * MIB)) {
			reset_hooks(1);
			int err;
			uint64_t off = scan(&err);
			CHECK(off == 11 * MIB + DLREG_METADATA_HEADER_LEN, "hole: %s, json at %llu",
			      dlreg_strerror(err), (unsigned long long)off);
			CHECK(nseen == 2, "hole: %d stretches, not 2", nseen);
			if (nseen == 2) {
				CHECK(seen_from[0] == 0 && seen_to[0] == 1 * MIB,
				      "hole: first stretch [%llu, %llu)", (unsigned long long)seen_from[0],
				      (unsigned long long)seen_to[0]);
				CHECK(seen_from[1] == 8 * MIB && seen_to[1] == 12 * MIB,
				      "hole: second stretch [%llu, %llu)", (unsigned long long)seen_from[1],
				      (unsigned long long)seen_to[1]);
			}
		} else {
			printf("no hole reported at 1 MiB here (SEEK_DATA gave %lld): hole case skipped\n",
			       (long long)data);
		}
	}

	/*
	 * Auto over a cached 9 MiB file (mapped: not ELF, from 2 MiB): small
	 * folios from the first stretch on read everything; from the second,
	 * a record the first stretch holds (also across its end) is found
	 * mapped, later ones through pread, also right at the switch, across
	 * later stretch ends and past a rejected marker; none: mapped to the
	 * end.
	 */
	int auto_maps = auto_maps_here();
	if (!auto_maps) {
		printf("auto reads 9 MiB files in %s (its file system keeps no large folios, e.g. "
		       "tmpfs without huge=): the auto cases are skipped\n",
		       dir);
	} else {
		auto_switch(9 * MIB + 100, 100, UINT64_MAX, 0, DLREG_SCAN_READ, 1);
		auto_switch(9 * MIB + 100, 6 * MIB - 1, UINT64_MAX, 0, DLREG_SCAN_READ, 1);
		auto_switch(9 * MIB + 100, 2 * MIB - 5, UINT64_MAX, 1, DLREG_SCAN_MMAP, 1);
		auto_switch(9 * MIB + 100, 2 * MIB, UINT64_MAX, 1, DLREG_SCAN_READ, 2);
		auto_switch(9 * MIB + 100, 6 * MIB - 1, UINT64_MAX, 1, DLREG_SCAN_READ, 2);
		auto_switch(9 * MIB + 100, 9 * MIB + 20, UINT64_MAX, 1, DLREG_SCAN_READ, 2);
		auto_switch(9 * MIB + 100, 9 * MIB + 20, 3 * MIB, 1, DLREG_SCAN_READ, 2);
		auto_switch(9 * MIB + 100, 7 * MIB, 1 * MIB, 1, DLREG_SCAN_READ, 2);
		auto_switch(9 * MIB + 100, 9 * MIB + 20, UINT64_MAX, 2, DLREG_SCAN_READ, 3);
		auto_switch(9 * MIB + 100, 9 * MIB + 20, UINT64_MAX, -1, DLREG_SCAN_MMAP, 3);
		ask_kernel();
	}

	/* The mmap backend maps to the end, and is never asked about folios. */
	if (make_file(9 * MIB, 6 * MIB + 3, 0, 0) == 0) {
		reset_hooks(1);
		small_from = 0;
		int err;
		uint64_t off = scan(&err);
		CHECK(off == 6 * MIB + 3 + DLREG_METADATA_HEADER_LEN, "mmap, small folios: %s",
		      dlreg_strerror(err));
		CHECK(nasked == 0, "mmap: %d verdicts asked", nasked);
	}
	/* Faults cheap: auto maps by faults, nothing to ask. */
	if (auto_maps && make_file(9 * MIB, 6 * MIB + 3, 0, 0) == 0) {
		reset_hooks(0);
		small_from = 0;
		int err;
		uint64_t off = scan_with(DLREG_SCAN_AUTO, DLREG_SCAN_MMAP, &err);
		CHECK(off == 6 * MIB + 3 + DLREG_METADATA_HEADER_LEN, "auto, cheap faults: %s",
		      dlreg_strerror(err));
		CHECK(nseen == 0 && nasked == 0, "auto, cheap faults: %d stretches, %d verdicts",
		      nseen, nasked);
	}

	cachestat_missing();
	fault_cost_decides();

	unlink(path);
	rmdir(dir);
	return check_report("scan_populate");
}
