/*
 * scan.c - the public scanner: options, file checks, the three byte
 * sources (buffer, mapping, pread window) and the result.
 *
 * Sizes: file sizes and offsets are uint64_t throughout (st_size is checked
 * non-negative first); a file is mapped only if its size fits max_map_size,
 * which is a size_t, so the length handed to mmap() can never be truncated
 * on a 32-bit system.  The mapping is guarded by a fault scope (fault.c).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "bufcache.h"
#include "folios.h"
#include "scan_internal.h"

_Static_assert(BUFCACHE_KEEP_MAX >= DLREG_SCAN_READ_BUF_MAX, "every read window can be kept");

/* Files at least this big ask the filesystem for data extents, skipping holes. */
#define SPARSE_MIN ((uint64_t)1 << 20)

/* What one header read loads into the pread window: ELF header, program
 * headers and the notes of an ordinary shared object.  Not less: on a cold
 * file its readahead (64 KiB) then covers a small file whole. */
#define READ_HEADER_CHUNK ((size_t)16 * 1024)

/* The window of auto's header pass, for files of DLREG_SCAN_AUTO_MMAP_MIN and
 * more: a page, which holds the ELF header, program headers and notes of an
 * ordinary shared object (its first LOAD segment); 16 KiB cost 0.5 us more
 * per note lookup. */
#define HEADER_PASS_WINDOW ((size_t)4 * 1024)

/* Files from this size on are checked for a kernel pseudo file system
 * (pseudo_fs): no plugin is this big, and /proc/kcore is 128 TiB. */
#define PSEUDO_HUGE_MIN ((uint64_t)64 << 30)

/* Page-cache residency probe of DLREG_SCAN_AUTO: samples of this many pages. */
#define RESIDENCY_SAMPLES 4
#define RESIDENCY_SAMPLE_PAGES 32
/* cachestat walks the cache page by page for small folios (~35 ns a page
 * here, 0.35 us a call): 4 runs of 8 pages cost 2.2 us, of 32 pages 5 us. */
#define CACHESTAT_SAMPLE_PAGES 8

/* Mappings from this size on get MADV_HUGEPAGE (map_file): below it one
 * fault maps the whole file anyway (fault-around is 64 KiB). */
#define HUGE_HINT_MIN ((size_t)64 * 1024)
/* A PMD-sized folio on x86-64 and arm64 with 4 KiB pages. */
#define PMD_FOLIO ((off_t)2 << 20)

/*
 * Where page faults are slow (DLREG_SCAN_AUTO_SLOW_FAULT_NS), a marker
 * search over a mapping has the kernel map each stretch of it in one
 * MADV_POPULATE_READ call (Linux 5.14) before searching it, instead of
 * taking a fault per folio: stretches of POPULATE_FIRST bytes, doubling up
 * to POPULATE_MAX, so that a marker near the start does not pay for mapping
 * the whole file.  Measured on a PVM guest (10 us a fault), the mmap
 * backend's scan populating and not, alternated in one process (medians
 * of 15-21): cached 64 MiB 2.24 against 2.51 ms, 256 MiB 11.2-11.6 against
 * 12.3-12.6 ms, 256 KiB and 1 MiB 0.85-0.86x (no PMD mapping there:
 * fault-around maps 16 pages a fault); cached 4 and 16 MiB and every cold
 * size from 64 KiB to 256 MiB within 2 %.  A bare loop (map, memchr,
 * unmap) over a cached 256 MiB file: faults 10.8 ms, one call for the
 * whole file 9.45, fixed stretches of 4 MiB 10.3, of 64 MiB 9.85.  Where
 * faults are cheap this is not done: every crossover in scan.h was
 * measured without it.
 */
#define POPULATE_FIRST ((size_t)2 << 20)
#define POPULATE_MAX ((size_t)64 << 20)

/*
 * Where faults are slow, a page-cache folio the mapping cannot take in
 * one PMD entry costs a page table entry a page to map in and, on a
 * hypervisor that shadows page tables, a trip through it on the first
 * touch of every page.  Measured on a PVM guest (Linux 6.18, ext4, warm,
 * dlreg-bench-scan --warm=written, auto_vs_best, medians of 5-7, four
 * runs): a file its writes left in small folios took the mapped search
 * 3.8-6.1x read's time from 4 to 256 MiB (256 MiB: 95.5-144 against
 * 16.8-26.9 ms), where one left in 2 MiB folios takes 0.5-0.6x from
 * 16 MiB.  MADV_POPULATE_READ tells them apart on the way: 2 MiB in
 * one PMD entry took 6.7-9.6 us, in 4 KiB pages 51-82 us (4 MiB: 18
 * against 109 us).  So auto's mapped search of a cached file times each
 * stretch's call; above POPULATE_SMALL_NS a page, it asks the kernel how
 * the stretch is mapped (PAGEMAP_SCAN, Linux 6.7; where it cannot tell,
 * the time decides), and where most of it is not in PMD entries the rest
 * of the search goes through the pread window (mem_go_read).  Three runs
 * with it: auto took 1.9-2.1x read's time at 4 MiB (the first 2 MiB
 * stretch mapped in and unmapped for nothing, about 160 us), 1.18-1.27x
 * at 16 MiB, 1.05-1.07x at 64 MiB and 1.01-1.03x at 256 MiB; on files in
 * 2 MiB folios, warm and cold, auto/best stayed where it was (1.00-1.03
 * warm).
 */
#define POPULATE_SMALL_NS 40

#ifdef DLREG_TEST_POPULATE_HOOK
/*
 * Defined by the test of the populating search (test_scan_populate.c): it
 * sees each stretch, may fail one with an errno, and says whether faults
 * count as slow, whatever this host's cost.
 */
int dlreg__test_populate_hook(uint64_t from, uint64_t to);
int dlreg__test_faults_slow(void);
/* Whether stretch [from, to) is taken for small folios: 1 yes, 0 no, -1 as
 * measured, -2 as the kernel says (PAGEMAP_SCAN), as if the stretch was slow. */
int dlreg__test_small_folios(uint64_t from, uint64_t to);
/* Whether cachestat() counts as missing (as before Linux 6.5), and the
 * file system as keeping no large folios, whatever this host has. */
int dlreg__test_no_cachestat(void);
int dlreg__test_no_large_folios(void);
#endif

static int faults_cheap(void);

struct scan_opts {
	enum dlreg_scan_backend backend;
	size_t buf_size;
	size_t max_map;
	size_t max_meta;
	unsigned flags;
};

static int resolve_opts(const struct dlreg_scan_options *opt, struct scan_opts *o)
{
	static const struct dlreg_scan_options defaults;
	if (!opt)
		opt = &defaults;
	if (opt->backend != DLREG_SCAN_AUTO && opt->backend != DLREG_SCAN_MMAP &&
	    opt->backend != DLREG_SCAN_READ) {
		dlreg__set_detail("unknown scan backend %d", (int)opt->backend);
		return DLREG_EINVAL;
	}
	if (opt->read_buf_size && (opt->read_buf_size < DLREG_SCAN_READ_BUF_MIN ||
	                           opt->read_buf_size > DLREG_SCAN_READ_BUF_MAX)) {
		dlreg__set_detail("read buffer size %zu outside %zu..%zu", opt->read_buf_size,
		                  DLREG_SCAN_READ_BUF_MIN, DLREG_SCAN_READ_BUF_MAX);
		return DLREG_EINVAL;
	}
	if (opt->max_meta_size > DLREG_SCAN_META_LIMIT || (opt->flags & ~DLREG_SCAN_FLAGS_ALL_)) {
		dlreg__set_detail("metadata limit above %zu or unknown flags",
		                  DLREG_SCAN_META_LIMIT);
		return DLREG_EINVAL;
	}
	o->backend = opt->backend;
	o->buf_size = opt->read_buf_size ? opt->read_buf_size : DLREG_SCAN_READ_BUF_DEFAULT;
	o->max_map = opt->max_map_size ? opt->max_map_size : DLREG_SCAN_MAX_MAP_DEFAULT;
	o->max_meta = opt->max_meta_size ? opt->max_meta_size : DLREG_METADATA_MAX;
	o->flags = opt->flags;
	return DLREG_OK;
}

/* ---- data extents ---- */

/* Next data region [*ds, *de) at or after from; DLREG_ENOMETA when none is left. */
static int next_data(int fd, int sparse, uint64_t from, uint64_t size, uint64_t *ds, uint64_t *de)
{
	*ds = from;
	*de = size;
	if (from >= size)
		return DLREG_ENOMETA;
	if (!sparse)
		return DLREG_OK;
	off_t d = lseek(fd, (off_t)from, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? DLREG_ENOMETA : DLREG_OK; /* no hole support: all data */
	off_t h = lseek(fd, d, SEEK_HOLE);
	*ds = (uint64_t)d;
	if (h >= d && (uint64_t)h < size)
		*de = (uint64_t)h;
	return *ds < size ? DLREG_OK : DLREG_ENOMETA;
}

/* ---- memory source (buffer or mapping) ---- */

/* The pread source (below); a mapped search may go on through one. */
struct read_src {
	struct dlreg__src base;
	int fd;
	int sparse;
	unsigned char *buf;
	size_t cap;
	uint64_t win_off;
	size_t win_len;
	size_t hdr_chunk; /* what a header read loads (read_read_at) */
};

struct mem_src {
	struct dlreg__src base;
	const unsigned char *p;
	int fd; /* -1 for a plain buffer */
	int sparse;
	size_t populate; /* the next stretch to populate (mappings); 0: none */
	/*
	 * Auto's mapped search of a cached file where faults are slow: the
	 * pread source the search goes on through once a stretch shows small
	 * folios (rd_cap: its window; 0 never), whether it has (reading), and
	 * /proc/self/pagemap, opened at the first slow stretch (-1: not open).
	 */
	struct read_src *rd;
	size_t rd_cap;
	int reading;
	int pagemap;
};

static int mem_go_read(struct mem_src *m);
static int read_read_at(struct dlreg__src *src, uint64_t off, void *dst, size_t n);
static int read_find(struct dlreg__src *src, uint64_t from, uint64_t *at);

static int mem_read_at(struct dlreg__src *src, uint64_t off, void *dst, size_t n)
{
	struct mem_src *m = (struct mem_src *)src;
	if (m->reading)
		return read_read_at(&m->rd->base, off, dst, n);
	memcpy(dst, m->p + off, n);
	return DLREG_OK;
}

#ifndef PAGEMAP_SCAN
/* Linux 6.7's <linux/fs.h>: the C libraries of Debian 12 lack it. */
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};
struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_HUGE (1 << 6)
#endif

/* 1 while PAGEMAP_SCAN answers, -1 once it did not (before Linux 6.7, a seccomp filter). */
static atomic_int pagemap_scan_works;

/*
 * Whether most of what is mapped in [a, b) is not in PMD entries: 1 yes,
 * 0 no, -1 if the kernel cannot tell.  One ioctl over the range, after one
 * open of /proc/self/pagemap per scan (8-14 us together on a PVM guest),
 * only for stretches that took long to map in; regions past what the
 * vector holds are not counted.
 */
static int mostly_small(struct mem_src *m, uintptr_t a, uintptr_t b)
{
	if (atomic_load_explicit(&pagemap_scan_works, memory_order_relaxed) < 0)
		return -1;
	if (m->pagemap < 0)
		m->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (m->pagemap < 0)
		return -1;
	struct page_region vec[16];
	struct pm_scan_arg arg;
	memset(&arg, 0, sizeof arg);
	arg.size = sizeof arg;
	arg.start = a;
	arg.end = b;
	arg.vec = (uintptr_t)vec;
	arg.vec_len = sizeof vec / sizeof vec[0];
	arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE;
	long n = ioctl(m->pagemap, PAGEMAP_SCAN, &arg);
	if (n < 0) {
		if (errno == ENOTTY || errno == EINVAL || errno == EPERM || errno == EACCES)
			atomic_store_explicit(&pagemap_scan_works, -1, memory_order_relaxed);
		return -1;
	}
	atomic_store_explicit(&pagemap_scan_works, 1, memory_order_relaxed);
	uint64_t huge = 0, small = 0;
	for (long i = 0; i < n; i++) {
		uint64_t len = vec[i].end - vec[i].start;
		if (!(vec[i].categories & PAGE_IS_PRESENT))
			continue;
		if (vec[i].categories & PAGE_IS_HUGE)
			huge += len;
		else
			small += len;
	}
	if (huge + small == 0)
		return -1;
	return small > huge;
}

static uint64_t elapsed_ns(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
	       (uint64_t)t0->tv_nsec;
}

/*
 * Maps in bytes [from, to) of the mapping (whole pages), and doubles the
 * next stretch.  Any failure ends the populating: EINVAL before Linux
 * 5.14; EFAULT or EIO past the end of a file that shrank or over pages the
 * kernel could not read, which the search then meets as a fault.
 */
static int mem_populate(struct mem_src *m, uint64_t from, uint64_t to)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)(m->p + from) & ~(page - 1);
	uintptr_t b = ((uintptr_t)(m->p + to) + page - 1) & ~(page - 1);
	int err = 0;
	struct timespec t0;
	if (m->rd_cap)
		clock_gettime(CLOCK_MONOTONIC, &t0);
#ifdef DLREG_TEST_POPULATE_HOOK
	err = dlreg__test_populate_hook(from, to);
#endif
#ifdef MADV_POPULATE_READ
	if (err == 0 && madvise((void *)a, (size_t)(b - a), MADV_POPULATE_READ) != 0)
		err = errno;
#else
	err = EINVAL; /* headers older than Linux 5.14: as the kernel would answer */
#endif
	if (err != 0) {
		m->populate = 0;
		return 0;
	}
	if (m->populate < POPULATE_MAX)
		m->populate *= 2;
	if (!m->rd_cap)
		return 0;
	int slow = elapsed_ns(&t0) > (uint64_t)((b - a) / page) * POPULATE_SMALL_NS;
#ifdef DLREG_TEST_POPULATE_HOOK
	int forced = dlreg__test_small_folios(from, to);
	if (forced >= 0)
		return forced;
	if (forced == -2)
		slow = 1;
#endif
	/* Where the kernel cannot tell (-1), the time decides. */
	return slow && mostly_small(m, a, b) != 0;
}

static int mem_find(struct dlreg__src *src, uint64_t from, uint64_t *at)
{
	struct mem_src *m = (struct mem_src *)src;
	uint64_t ds, de;
	int rc;
	if (m->reading)
		return read_find(&m->rd->base, from, at);
	while ((rc = next_data(m->fd, m->sparse, from, src->size, &ds, &de)) == DLREG_OK) {
		/* Stretch by stretch, each searched with the bytes a marker starting in it spans. */
		for (uint64_t pos = ds; pos < de;) {
			uint64_t end = m->populate && de - pos > m->populate ? pos + m->populate : de;
			uint64_t stop = de - end > DLREG_METADATA_MAGIC_LEN - 1
			                        ? end + DLREG_METADATA_MAGIC_LEN - 1
			                        : de;
			if (m->populate && mem_populate(m, pos, stop) && mem_go_read(m) == DLREG_OK)
				return read_find(&m->rd->base, pos, at);
			size_t r = dlreg_find(m->p + pos, (size_t)(stop - pos), dlreg__magic,
			                      DLREG_METADATA_MAGIC_LEN);
			if (r != SIZE_MAX) {
				*at = pos + r;
				return DLREG_OK;
			}
			pos = end;
		}
		from = de;
	}
	return rc;
}

static void mem_src_init(struct mem_src *m, const void *p, uint64_t size, int fd)
{
	m->base.size = size;
	m->base.read_at = mem_read_at;
	m->base.find_magic = mem_find;
	m->p = p;
	m->fd = fd;
	m->sparse = fd >= 0 && size >= SPARSE_MIN;
	m->populate = 0;
	m->rd = NULL;
	m->rd_cap = 0;
	m->reading = 0;
	m->pagemap = -1;
}

/* ---- pread source: one window of the file, reused for headers and search ---- */

static int pread_full(int fd, void *dst, size_t n, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)dst + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dlreg__set_detail("read failed at offset %llu: %s",
			                  (unsigned long long)(off + done), strerror(errno));
			return DLREG_EIO;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return DLREG_OK;
}

static int shrank(void)
{
	dlreg__set_detail("file shrank while it was read");
	return DLREG_ETRUNCATED;
}

/*
 * The kernel pseudo file system (sysfs, procfs, ...) the file open on fd is
 * on, or NULL.  One fstatfs(); asked only where it cannot cost a scan that
 * matters: after a short read, before mapping a file without blocks on an
 * anonymous device (map_file) and for files of PSEUDO_HUGE_MIN and more
 * (scan_fd).  Every such file system is on an anonymous device (major 0).
 */
static const char *pseudo_fs(int fd)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} pseudo[] = {
	        {0x62656572ul, "sysfs"},      {0x9fa0ul, "procfs"},       {0x64626720ul, "debugfs"},
	        {0x74726163ul, "tracefs"},    {0x73636673ul, "securityfs"}, {0x62656570ul, "configfs"},
	        {0x27e0ebul, "cgroup"},       {0x63677270ul, "cgroup2"},
	};
	struct statfs sfs;
	if (fstatfs(fd, &sfs) == 0)
		for (size_t i = 0; i < sizeof pseudo / sizeof pseudo[0]; i++)
			if ((unsigned long)sfs.f_type == pseudo[i].magic)
				return pseudo[i].name;
	return NULL;
}

/*
 * A read came up short.  A kernel pseudo-file reports a size that is not its
 * content (4096 for every sysfs attribute): that is no truncation, and no
 * file a scan can use.
 */
static int short_read(int fd)
{
	const char *fs = pseudo_fs(fd);
	if (fs) {
		dlreg__set_detail("a %s pseudo-file: the size it reports is not its content", fs);
		return DLREG_EINVAL;
	}
	return shrank();
}

/* What a window load from `off` asks for: `max`, the buffer and the file permitting. */
static size_t window_want(const struct read_src *r, uint64_t off, size_t max)
{
	uint64_t left = r->base.size - off;
	size_t lim = max < r->cap ? max : r->cap;
	return left < lim ? (size_t)left : lim;
}

/* Loads up to `max` bytes (at most the buffer) of the file from `off`. */
static int window_load(struct read_src *r, uint64_t off, size_t max)
{
	size_t want = window_want(r, off, max);
	size_t got = 0;
	r->win_off = off;
	r->win_len = 0;
	int rc = pread_full(r->fd, r->buf, want, off, &got);
	r->win_len = got;
	if (rc == DLREG_OK && got < want)
		rc = short_read(r->fd);
	return rc;
}

/*
 * window_load, but only from the page cache (RWF_NOWAIT): 1 if all of it
 * was there.  Else an empty window and 0, or -1 where RWF_NOWAIT is not
 * supported (overlayfs answers EOPNOTSUPP, cached or not; Linux before
 * 4.14 EINVAL or ENOSYS).  After 0, on a cold file the kernel has started
 * reading it, and the window_load the caller does next waits for that
 * I/O.  Costs what window_load costs on a cached file, which makes it a
 * free residency probe of the pages it loads.
 */
static int window_load_cached(struct read_src *r, uint64_t off, size_t max)
{
	r->win_off = off;
	r->win_len = 0;
#ifdef RWF_NOWAIT
	size_t want = window_want(r, off, max);
	struct iovec iov = {r->buf, want};
	ssize_t got = preadv2(r->fd, &iov, 1, (off_t)off, RWF_NOWAIT);
	if (got == (ssize_t)want) {
		r->win_len = want;
		return 1;
	}
	return got < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS) ? -1 : 0;
#else
	(void)max;
	return -1;
#endif
}

/* Slides the window forward, keeping the last `keep` bytes (a needle's m-1). */
static int window_advance(struct read_src *r, size_t keep)
{
	uint64_t end = r->win_off + r->win_len;
	uint64_t left = r->base.size - end;
	if (keep > r->win_len)
		keep = r->win_len;
	memmove(r->buf, r->buf + r->win_len - keep, keep);
	size_t want = left < r->cap - keep ? (size_t)left : r->cap - keep;
	size_t got = 0;
	r->win_off = end - keep;
	r->win_len = keep;
	int rc = pread_full(r->fd, r->buf + keep, want, end, &got);
	r->win_len += got;
	if (rc == DLREG_OK && (got < want || want == 0))
		rc = short_read(r->fd);
	return rc;
}

static int in_window(const struct read_src *r, uint64_t off, size_t n)
{
	return off >= r->win_off && off - r->win_off <= r->win_len &&
	       n <= r->win_len - (off - r->win_off);
}

static int read_read_at(struct dlreg__src *src, uint64_t off, void *dst, size_t n)
{
	struct read_src *r = (struct read_src *)src;
	size_t got = 0;
	if (!in_window(r, off, n) && n <= r->cap / 2) {
		/*
		 * Start the window a little earlier: neighbouring headers come
		 * next.  Header reads load a few pages, not the whole buffer, so
		 * an ELF note lookup costs the same on any file size.
		 */
		uint64_t start = off & ~(uint64_t)4095;
		size_t chunk = n > r->hdr_chunk / 2 ? r->cap : r->hdr_chunk;
		int rc = window_load(r, off + n - start <= chunk ? start : off, chunk);
		if (rc)
			return rc;
	}
	if (in_window(r, off, n)) {
		memcpy(dst, r->buf + (off - r->win_off), n);
		return DLREG_OK;
	}
	int rc = pread_full(r->fd, dst, n, off, &got);
	return rc == DLREG_OK && got < n ? short_read(r->fd) : rc;
}

/* Searches [pos, de) window by window, carrying m-1 bytes across windows. */
static int read_find_extent(struct read_src *r, uint64_t pos, uint64_t de, uint64_t *at)
{
	const size_t m = DLREG_METADATA_MAGIC_LEN;
	for (;;) {
		if (!in_window(r, pos, 1)) {
			int rc = window_load(r, pos, r->cap);
			if (rc)
				return rc;
		}
		size_t rel = (size_t)(pos - r->win_off);
		size_t hit = dlreg_find(r->buf + rel, r->win_len - rel, dlreg__magic, m);
		if (hit != SIZE_MAX) {
			*at = pos + hit;
			return DLREG_OK;
		}
		if (r->win_off + r->win_len >= de)
			return DLREG_ENOMETA;
		int rc = window_advance(r, m - 1);
		if (rc)
			return rc;
		if (pos < r->win_off)
			pos = r->win_off;
	}
}

static int read_find(struct dlreg__src *src, uint64_t from, uint64_t *at)
{
	struct read_src *r = (struct read_src *)src;
	uint64_t ds, de;
	int rc;
	while ((rc = next_data(r->fd, r->sparse, from, src->size, &ds, &de)) == DLREG_OK) {
		rc = read_find_extent(r, ds, de, at);
		if (rc != DLREG_ENOMETA)
			return rc;
		from = de;
	}
	return rc;
}

/* ---- running a job over each kind of source ---- */

static void job_init(struct dlreg__scan_job *job, struct dlreg__src *src, const struct scan_opts *o)
{
	memset(job, 0, sizeof *job);
	job->src = src;
	job->max_meta = o->max_meta;
	job->flags = o->flags;
}

/* Whether the loaded window starts with the ELF magic (it starts the file). */
static int window_has_elf_magic(const struct read_src *r)
{
	return r->win_len >= SELFMAG && memcmp(r->buf, ELFMAG, SELFMAG) == 0;
}

/* A pread source over fd with an empty window of `cap` bytes. */
static int read_src_init(struct read_src *r, int fd, uint64_t size, size_t cap)
{
	*r = (struct read_src){.base = {size, read_read_at, read_find},
	                       .fd = fd,
	                       .sparse = size >= SPARSE_MIN,
	                       .cap = cap,
	                       .hdr_chunk = READ_HEADER_CHUNK};
	r->buf = dlreg__buf_take(cap);
	if (!r->buf) {
		dlreg__set_detail("cannot allocate a %zu-byte read buffer", cap);
		return DLREG_ENOMEM;
	}
	return DLREG_OK;
}

/*
 * The rest of a mapped search through the pread window: m->rd gets a
 * buffer (where none can be had, the search stays mapped and stops asking).
 */
static int mem_go_read(struct mem_src *m)
{
	if (read_src_init(m->rd, m->fd, m->base.size, m->rd_cap) != DLREG_OK) {
		dlreg__clear_detail();
		m->rd_cap = 0;
		return DLREG_ENOMEM;
	}
	m->reading = 1;
	return DLREG_OK;
}

/* A read source whose header reads load `hdr_chunk` bytes. */
static int run_read_hdr(struct dlreg__scan_job *job, int fd, uint64_t size, size_t cap,
                        size_t hdr_chunk)
{
	/* A small file needs no bigger window than itself. */
	if (size < cap)
		cap = size < 64 ? 64 : (size_t)size;
	struct read_src r;
	if (read_src_init(&r, fd, size, cap) != DLREG_OK)
		return DLREG_ENOMEM;
	r.hdr_chunk = hdr_chunk;
	job->src = &r.base;
	int rc = dlreg__scan_run(job);
	dlreg__buf_give(r.buf);
	return rc;
}

static int run_read(struct dlreg__scan_job *job, int fd, uint64_t size, size_t cap)
{
	return run_read_hdr(job, fd, size, cap, READ_HEADER_CHUNK);
}

/*
 * auto's header pass: the ELF note of a plugin, through a pread window of
 * HEADER_PASS_WINDOW bytes.  Only an ELF file can hold a note: one that
 * does not start with the ELF magic ends the pass after the first pread
 * (elf_ident() would tell the same after a second).  DLREG_ENOMETA: no
 * note, search for a marker.
 */
static int run_header_pass(struct dlreg__scan_job *job, int fd, uint64_t size)
{
	size_t cap = size < HEADER_PASS_WINDOW ? (size_t)size : HEADER_PASS_WINDOW;
	struct read_src r;
	if (read_src_init(&r, fd, size, cap) != DLREG_OK)
		return DLREG_ENOMEM;
	int rc = window_load(&r, 0, cap);
	if (rc == DLREG_OK && !window_has_elf_magic(&r) &&
	    !(job->flags & DLREG_SCAN_NO_MARKER))
		rc = DLREG_ENOMETA;
	else if (rc == DLREG_OK) {
		unsigned flags = job->flags;
		job->flags = flags | DLREG_SCAN_NO_MARKER;
		job->src = &r.base;
		rc = dlreg__scan_run(job);
		job->flags = flags;
	}
	dlreg__buf_give(r.buf);
	return rc;
}

/*
 * Returned by a mapped scan whose mapping could not be filled although the
 * file still holds the faulting byte; scan_fd then reads the file instead.
 * Never seen outside this file.
 */
#define SCAN_UNMAPPABLE (-1)

/*
 * What a fault on the mapping of fd at file offset `off` means.  The file
 * shrank under the mapping, or the kernel could not read the page (a media
 * or network error, which read() reports as EIO, and so does the read
 * backend), or it could not fill the page for another reason while read()
 * can: tmpfs out of space when a mapping first touches a hole (read()
 * returns zeros there without allocating).  The faulting byte is read once
 * more through the descriptor: an error there is EIO; a file that now ends
 * before it shrank; one that still holds it gets SCAN_UNMAPPABLE, and
 * scan_fd's check after the read that follows tells a file cut and regrown
 * meanwhile (ETRUNCATED) from one that never changed (the read's result).
 */
static int fault_verdict(int fd, uint64_t off)
{
	unsigned char byte;
	ssize_t r;
	do
		r = pread(fd, &byte, 1, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		dlreg__set_detail("read failed at offset %llu of the mapped file: %s",
		                  (unsigned long long)off, strerror(errno));
		return DLREG_EIO;
	}
	if (r == 1)
		return SCAN_UNMAPPABLE;
	dlreg__set_detail("file shrank while it was mapped");
	return DLREG_ETRUNCATED;
}

/*
 * The only function that sigsetjmps.  Nothing it reads after a jump was
 * changed after the sigsetjmp, but for the handler's volatile fault_addr:
 * the job lives in the caller's frame.  The jump restores the mask saved
 * here, before arming unblocked the faults.
 */
static int run_guarded(struct dlreg__scan_job *job, int fd, const void *base, size_t span)
{
	struct dlreg__fault_scope scope;
	if (sigsetjmp(scope.env, 1)) {
		dlreg__fault_note_caught();
		return fault_verdict(fd, (uint64_t)(scope.fault_addr - (uintptr_t)base));
	}
	dlreg__fault_arm(&scope, base, span);
	int rc = dlreg__scan_run(job);
	dlreg__fault_disarm(&scope);
	return rc;
}

struct mapping {
	void *p;
	size_t span; /* whole pages */
	int err;     /* errno of a failed mmap, else 0 */
};

/*
 * The file system's traits (folios.c), asked once per scan and only when a
 * decision needs them.  traits_checked() makes sure the answer remembered
 * for an anonymous device (overlayfs, tmpfs, btrfs; its number may have
 * gone to a later mount) is this mount's, at the cost of a statx() call:
 * asked before auto decides whether to drop a file's cached pages.
 */
struct fs_traits {
	int fd;
	dev_t dev;
	blkcnt_t blocks; /* st_blocks: no kernel pseudo-file has any (map_file) */
	int known; /* 1: bits asked, 2: asked with a recheck */
	unsigned bits;
};

static unsigned traits_seen(unsigned bits)
{
#ifdef DLREG_TEST_POPULATE_HOOK
	if (dlreg__test_no_large_folios())
		bits &= ~(unsigned)DLREG__LARGE_FOLIOS;
#endif
	return bits;
}

static unsigned traits_of(struct fs_traits *t)
{
	if (!t->known) {
		t->bits = traits_seen(dlreg__fd_cache_traits(t->fd, t->dev, 0));
		t->known = 1;
	}
	return t->bits;
}

static unsigned traits_checked(struct fs_traits *t)
{
	if (t->known != 2) {
		t->bits = traits_seen(dlreg__fd_cache_traits(t->fd, t->dev, 1));
		t->known = 2;
	}
	return t->bits;
}

/*
 * fd mapped again at a 2 MiB-aligned address, len bytes (span rounded up
 * to pages), or MAP_FAILED: an address range reserved with room to align,
 * the file mapped over it, the rest given back.  (Should the MAP_FIXED
 * mapping fail, older kernels may have unmapped that part of the
 * reservation already, and another thread's mapping may land there before
 * the munmap below: a window of one failed system call.)
 */
static void *map_pmd_aligned(int fd, size_t len, size_t span)
{
	size_t room;
	if (__builtin_add_overflow(span, (size_t)PMD_FOLIO, &room))
		return MAP_FAILED;
	char *res = mmap(NULL, room, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	char *at = res + ((size_t)PMD_FOLIO - (uintptr_t)res % PMD_FOLIO) % PMD_FOLIO;
	void *p = mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		munmap(res, room);
		return MAP_FAILED;
	}
	if (at > res)
		munmap(res, (size_t)(at - res));
	if (res + room > at + span)
		munmap(at + span, (size_t)(res + room - (at + span)));
	return p;
}

static int map_file(int fd, struct fs_traits *ft, uint64_t size, struct mapping *mp)
{
	size_t len = (size_t)size; /* size <= max_map_size, a size_t */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span;
	mp->err = 0;
	/*
	 * A kernel pseudo-file is never mapped (the callers read it instead):
	 * sysfs maps a PCI device's memory (resourceN), and a load from a
	 * device register can act on the device (a status register that clears
	 * when read).  Such files are on anonymous devices and own no blocks
	 * (their inodes never account any): a file on a disk pays nothing, nor
	 * does one holding data on tmpfs, overlayfs, btrfs or NFS, where an
	 * fstatfs() per scan would cost a warm mapped scan of a small file
	 * about 5% (tmpfs) or a round trip to the server (NFS, FUSE).
	 */
	const char *fs = major(ft->dev) == 0 && ft->blocks == 0 ? pseudo_fs(ft->fd) : NULL;
	if (fs) {
		mp->err = ENODEV;
		dlreg__set_detail("a %s pseudo-file is not mapped", fs);
		return DLREG_EINVAL;
	}
	if (__builtin_add_overflow(len, page - 1, &span)) {
		dlreg__set_detail("file too large to map");
		return DLREG_ETOOBIG;
	}
	span &= ~(page - 1);
	/*
	 * A 2 MiB folio is mapped by one PMD entry only at a 2 MiB-aligned
	 * address.  ext4 and xfs get one from the kernel for mappings of 2 MiB
	 * and more; overlayfs does not (its files have no get_unmapped_area),
	 * and there a warm mapped scan took 2.2-2.5x as long from 4 to 64 MiB
	 * (Linux 6.18, over ext4): there the address is aligned here, as it is
	 * for any other mapping the kernel leaves unaligned.
	 */
	int want_pmd = len >= PMD_FOLIO && (traits_of(ft) & DLREG__LARGE_FOLIOS);
	int aligned_first = want_pmd && (traits_of(ft) & DLREG__CACHE_ELSEWHERE);
	void *p = aligned_first ? map_pmd_aligned(fd, len, span) : MAP_FAILED;
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		mp->err = errno;
		dlreg__set_detail("mmap of %zu bytes failed: %s", len, strerror(mp->err));
		return mp->err == ENOMEM ? DLREG_ENOMEM : DLREG_EIO;
	}
	if (want_pmd && !aligned_first && (uintptr_t)p % PMD_FOLIO != 0) {
		void *q = map_pmd_aligned(fd, len, span);
		if (q != MAP_FAILED) {
			munmap(p, span);
			p = q;
		}
	}
#ifdef MADV_HUGEPAGE
	/*
	 * Page-cache folios of 2 MiB: a fault in a VM_HUGEPAGE mapping reads
	 * ahead PMD-sized folios (where the file system caches large folios),
	 * so a cold scan takes 128 faults a 256 MiB file instead of one per
	 * 16 pages, and leaves the file cached so that the next mapping gets
	 * it in PMD entries.  Only a hint: ignored where it fails.
	 */
	if (len >= HUGE_HINT_MIN)
		(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	mp->p = p;
	mp->span = span;
	return DLREG_OK;
}

/*
 * The marker search over a mapping.  With read_cap (auto, a cached file),
 * where faults are slow, the search may go on through a pread window of
 * that size once a stretch shows small folios; *used then says read.
 */
static int scan_mapping(struct dlreg__scan_job *job, const struct mapping *mp, int fd,
                        uint64_t size, size_t read_cap, enum dlreg_scan_backend *used)
{
	struct mem_src m;
	struct read_src rd;
	mem_src_init(&m, mp->p, size, fd);
	m.populate = faults_cheap() ? 0 : POPULATE_FIRST;
	if (m.populate && read_cap) {
		m.rd = &rd;
		m.rd_cap = read_cap;
	}
	job->src = &m.base;
	int rc = run_guarded(job, fd, mp->p, mp->span);
	munmap(mp->p, mp->span); /* the whole pages: TSan clears its shadow for exactly this range */
	if (m.reading) {
		dlreg__buf_give(rd.buf);
		if (used)
			*used = DLREG_SCAN_READ;
	}
	if (m.pagemap >= 0)
		close(m.pagemap);
	return rc;
}

/*
 * DLREG_SCAN_MMAP.  A file system that maps no files (sysfs, procfs,
 * debugfs: mmap fails with ENODEV) gets the read backend instead, as an
 * empty file does: what such a file holds must not depend on the backend.
 */
static int run_mapped(struct dlreg__scan_job *job, int fd, struct fs_traits *ft, uint64_t size,
                      size_t buf_size, enum dlreg_scan_backend *used)
{
	struct mapping mp;
	int rc = map_file(fd, ft, size, &mp);
	if (rc == DLREG_OK)
		return scan_mapping(job, &mp, fd, size, 0, NULL);
	if (mp.err != ENODEV)
		return rc;
	dlreg__clear_detail();
	*used = DLREG_SCAN_READ;
	return run_read(job, fd, size, buf_size);
}

/* First page of residency sample i of a file of `pages` pages, samples `run` long. */
static size_t sample_first(size_t pages, size_t run, unsigned i)
{
	return (pages - run) / (RESIDENCY_SAMPLES - 1) * i;
}

/*
 * Whether most of a mapped file is in the page cache: mincore() over
 * `samples` (RESIDENCY_SAMPLES evenly spaced, or 1 in the middle) runs of
 * pages (no page is touched).  If the probe itself fails, the file counts
 * as cached.  One call costs about 1 us on the reference VM.
 */
static int mostly_resident(const struct mapping *mp, unsigned samples)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = mp->span / page;
	size_t run = RESIDENCY_SAMPLE_PAGES < pages ? RESIDENCY_SAMPLE_PAGES : pages;
	unsigned char vec[RESIDENCY_SAMPLE_PAGES];
	unsigned in = 0, total = 0;
	for (unsigned i = 0; i < samples; i++) {
		size_t first = samples == 1 ? (pages - run) / 2 : sample_first(pages, run, i);
		if (mincore((char *)mp->p + first * page, run * page, vec) != 0)
			return 1;
		for (size_t k = 0; k < run; k++)
			in += vec[k] & 1;
		total += (unsigned)run;
	}
	return 2 * in >= total;
}

#if defined(__linux__) && !defined(SYS_cachestat) &&                                              \
        (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__riscv))
#define SYS_cachestat 451 /* Linux 6.5; C libraries of that time lack the name */
#endif

/*
 * The same question without a mapping: cachestat(2) over `samples` runs
 * (RESIDENCY_SAMPLES, or 1 in the middle of the file) of `sample_pages`
 * pages, through the descriptor.  1 mostly cached, 0 mostly not, -1 when
 * the kernel cannot tell (no cachestat before Linux 6.5, a seccomp filter,
 * EPERM: the kernel hides the cache state of a file the caller may not
 * write, as it does for mincore; or overlayfs, where cachestat finds none
 * of a file's pages, which are its layer file's); auto then maps and asks
 * mincore, or reads, or, from 128 KiB to 2 MiB, trusts the first page.
 * About 2 us (one run of CACHESTAT_SAMPLE_PAGES: 0.5 us; of one page:
 * 0.31 us, the syscall itself) on the reference VM, where mapping, mincore
 * and unmapping cost 15 us.
 */
static int cachestat_resident(int fd, struct fs_traits *ft, uint64_t size, unsigned samples,
                              size_t sample_pages)
{
#ifdef DLREG_TEST_POPULATE_HOOK
	if (dlreg__test_no_cachestat())
		return -1;
#endif
#ifdef SYS_cachestat
	if (traits_of(ft) & DLREG__CACHE_ELSEWHERE)
		return -1; /* overlayfs: the pages are the layer file's (folios.c) */
	struct {
		uint64_t off, len;
	} range;
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
	} cs;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((size + page - 1) / page);
	size_t run = sample_pages < pages ? sample_pages : pages;
	uint64_t in = 0, total = 0;
	for (unsigned i = 0; i < samples; i++) {
		/* One sample: the middle of the file, clear of the header's pages. */
		size_t first = samples == 1 ? (pages - run) / 2 : sample_first(pages, run, i);
		range.off = (uint64_t)first * page;
		range.len = (uint64_t)run * page;
		if (syscall(SYS_cachestat, fd, &range, &cs, 0) != 0)
			return -1;
		in += cs.nr_cache;
		total += run;
	}
	return 2 * in >= total;
#else
	(void)fd;
	(void)ft;
	(void)size;
	(void)samples;
	return -1;
#endif
}

/* ---- what a page fault costs ---- */

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * The fastest of three runs of FAULT_PROBE_PAGES first-touch faults on
 * private anonymous pages (no huge page: one fault per page), in ns per
 * fault; 0 if no mapping could be made.  The minimum drops a run that a
 * preemption or an interrupt lengthened.
 */
#define FAULT_PROBE_PAGES 8u
static unsigned measure_fault_cost(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = FAULT_PROBE_PAGES * page;
	uint64_t best = UINT64_MAX;
	for (int run = 0; run < 3; run++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
#ifdef MADV_NOHUGEPAGE
		(void)madvise(p, len, MADV_NOHUGEPAGE);
#endif
		volatile char *v = p;
		uint64_t t0 = mono_ns();
		for (size_t i = 0; i < FAULT_PROBE_PAGES; i++)
			v[i * page] = 1;
		uint64_t t = mono_ns() - t0;
		munmap(p, len);
		if (t < best)
			best = t;
	}
	if (best == UINT64_MAX)
		return 0;
	best /= FAULT_PROBE_PAGES;
	return best == 0 ? 1 : best >= UINT_MAX ? UINT_MAX - 1 : (unsigned)best;
}

/*
 * The cost plus one; 0 until measured.  Threads that race measure twice;
 * either answer will do.  An unmeasurable cost (0) is kept as well.
 */
static _Atomic unsigned fault_cost_1;

unsigned dlreg_scan_fault_cost_ns(void)
{
	unsigned v = atomic_load_explicit(&fault_cost_1, memory_order_relaxed);
	if (v == 0) {
		v = measure_fault_cost() + 1u;
		atomic_store_explicit(&fault_cost_1, v, memory_order_relaxed);
	}
	return v - 1u;
}

/* Whether a cold file below DLREG_SCAN_AUTO_MMAP_MIN may be mapped, and
 * whether a mapped marker search maps in by faults (else: mem_populate). */
static int faults_cheap(void)
{
#ifdef DLREG_TEST_POPULATE_HOOK
	return !dlreg__test_faults_slow();
#else
	return dlreg_scan_fault_cost_ns() < DLREG_SCAN_AUTO_SLOW_FAULT_NS;
#endif
}

/*
 * DLREG_SCAN_AUTO.  Cached files below DLREG_SCAN_AUTO_MMAP_MIN are read:
 * mapping costs more than copying them.  A cold one of 64 to 128 KiB,
 * where a hinted fault reads it whole in one folio, is mapped before
 * anything is read (cachestat() only: mincore would need the mapping
 * first); from 128 KiB to 2 MiB a cold one is mapped once its first page
 * shows no ELF magic (run_auto_mid).  Larger ELF files first get a
 * header-only pass through the pread window (the ELF note of a plugin, a
 * few pages, flat in file size: cheaper than mapping).  Only if that finds
 * no note does the full marker search run, over a mapping or through the
 * pread window (scan.h has the measured crossovers):
 *
 *                      cached                  cold
 *                      large folios   other    large folios   other
 *   64 .. 128 KiB      read           read     map (first)    read
 *   128 KiB .. 2 MiB   read           read     map            read
 *   2 .. 16 MiB        map            read     map            read
 *   16 .. 256 MiB      map            map      map            read
 *   256 MiB and up     map            map      map            map
 *
 * "Large folios" is the file system (folios.c).  "Cached"
 * is cachestat(), else mincore() on the mapping, over a sample of pages.
 * Where a page fault costs DLREG_SCAN_AUTO_SLOW_FAULT_NS or more (a
 * hypervisor that shadows page tables), the two "map" cells below 2 MiB
 * read instead (faults_cheap), and the mappings are populated stretch by
 * stretch (mem_populate); a cached file's search goes on through pread
 * from the first stretch that shows small folios (mostly_small).
 * Where the file is mapped either way it only decides whether to drop the
 * pages already cached, and one run of pages is asked.
 */
/*
 * auto from DLREG_SCAN_AUTO_COLD_SMALL_MAX to DLREG_SCAN_AUTO_MMAP_MIN, and
 * on to DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN where the file system caches
 * no large folios: the first page through a read window as big as
 * run_read's, from the page cache only if it is there (RWF_NOWAIT).  With
 * large folios, a file whose first page was not cached, that has no ELF
 * magic and that cachestat() does not find cached (cold, or it cannot
 * tell: overlayfs, or a file the caller may not write) is then mapped,
 * after dropping what the read cached, as in run_auto.  Where RWF_NOWAIT
 * cannot tell either (overlayfs), the file is read.  Every other file
 * goes on through the same window, so a cached one costs what read costs
 * (0.3-0.45 us less than with the cachestat call this asked before).  A
 * cached first page counts for the whole file: one whose first page alone
 * is cached is read, as without large folios.  Without large folios, the
 * one-page first read makes a cold note lookup 0.76-0.8x read's time
 * (btrfs, 256 KiB-16 MiB) and a cold marker search 1.0-1.07x read's
 * (readahead ramps up from a smaller first read; asking for the rest with
 * POSIX_FADV_WILLNEED did not help consistently: 1.01-1.16x at 1-4 MiB
 * over three runs, against 1.03-1.11x without).
 */
static int run_auto_mid(struct dlreg__scan_job *job, int fd, const struct stat *st,
                        const struct scan_opts *o, struct fs_traits *ft,
                        enum dlreg_scan_backend *used)
{
	uint64_t size = (uint64_t)st->st_size;
	size_t cap = size < o->buf_size ? (size_t)size : o->buf_size;
	struct read_src r;
	if (read_src_init(&r, fd, size, cap) != DLREG_OK)
		return DLREG_ENOMEM;
	r.hdr_chunk = HEADER_PASS_WINDOW;
	/* A first page in the cache stands for a cached file: no cachestat call. */
	int first_cached = window_load_cached(&r, 0, HEADER_PASS_WINDOW);
	int rc = first_cached == 1 ? DLREG_OK : window_load(&r, 0, HEADER_PASS_WINDOW);
	if (rc == DLREG_OK && first_cached == 0 && !window_has_elf_magic(&r) &&
	    !(job->flags & DLREG_SCAN_NO_MARKER) && (traits_of(ft) & DLREG__LARGE_FOLIOS) &&
	    faults_cheap() && cachestat_resident(fd, ft, size, 1, CACHESTAT_SAMPLE_PAGES) != 1 &&
	    dlreg__fault_ready()) {
		struct mapping mp;
		(void)posix_fadvise(fd, 0, PMD_FOLIO, POSIX_FADV_DONTNEED);
		if (map_file(fd, ft, size, &mp) == DLREG_OK) {
			dlreg__buf_give(r.buf);
			*used = DLREG_SCAN_MMAP;
			return scan_mapping(job, &mp, fd, size, 0, NULL);
		}
	}
	if (rc == DLREG_OK) {
		job->src = &r.base;
		rc = dlreg__scan_run(job);
	}
	dlreg__buf_give(r.buf);
	return rc;
}

static int run_auto(struct dlreg__scan_job *job, int fd, const struct stat *st,
                    const struct scan_opts *o, enum dlreg_scan_backend *used)
{
	uint64_t size = (uint64_t)st->st_size;
	struct fs_traits ft = {fd, st->st_dev, st->st_blocks, 0, 0};
	*used = DLREG_SCAN_READ;
	/* Where faults are slow nothing here is mapped: no cachestat call, read. */
	if (size >= DLREG_SCAN_AUTO_COLD_SMALL_MIN && size <= DLREG_SCAN_AUTO_COLD_SMALL_MAX &&
	    size <= o->max_map && (traits_of(&ft) & DLREG__LARGE_FOLIOS) && faults_cheap()) {
		int cached = cachestat_resident(fd, &ft, size, 1, 1);
		struct mapping mp;
		/* Where the mapping fails (ENOMEM: the map count or RLIMIT_AS), read. */
		if (cached == 0 && dlreg__fault_ready() && map_file(fd, &ft, size, &mp) == DLREG_OK) {
			*used = DLREG_SCAN_MMAP;
			return scan_mapping(job, &mp, fd, size, 0, NULL);
		}
		if (cached == 1)
			return run_read_hdr(job, fd, size, o->buf_size, HEADER_PASS_WINDOW);
	}
	if (size > DLREG_SCAN_AUTO_COLD_SMALL_MAX && size < DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN &&
	    size <= o->max_map) {
		if (size < DLREG_SCAN_AUTO_MMAP_MIN || !(traits_of(&ft) & DLREG__LARGE_FOLIOS))
			return run_auto_mid(job, fd, st, o, &ft, used);
	}
	if (size < DLREG_SCAN_AUTO_MMAP_MIN || size > o->max_map)
		return run_read(job, fd, size, o->buf_size);
	int rc = run_header_pass(job, fd, size);
	if (rc != DLREG_ENOMETA || (job->flags & DLREG_SCAN_NO_MARKER))
		return rc;
	free(job->json);
	job_init(job, NULL, o);
	/* Asked only now: a note lookup never maps, so it need not pay the sigaction call. */
	if (!dlreg__fault_ready())
		return run_read(job, fd, size, o->buf_size);
	/* Checked: cachestat's answer below decides whether pages are dropped. */
	int map_cold = (traits_checked(&ft) & DLREG__LARGE_FOLIOS) ||
	               size >= DLREG_SCAN_AUTO_COLD_MMAP_MIN;
	int cached = cachestat_resident(fd, &ft, size, map_cold ? 1 : RESIDENCY_SAMPLES,
	                                CACHESTAT_SAMPLE_PAGES);
	if (cached == 0 && !map_cold)
		return run_read(job, fd, size, o->buf_size);
	struct mapping mp;
	if (map_file(fd, &ft, size, &mp) != DLREG_OK)
		return run_read(job, fd, size, o->buf_size);
	if (cached < 0) {
		/* Where the file is mapped either way, one run decides what to drop. */
		cached = mostly_resident(&mp, map_cold ? 1 : RESIDENCY_SAMPLES);
		if (!cached && !map_cold) {
			munmap(mp.p, mp.span);
			return run_read(job, fd, size, o->buf_size);
		}
	}
	/*
	 * Cold: drop the pages the first pread cached (a few 4 KiB pages and
	 * the readahead around them).  Readahead cannot build a 2 MiB folio
	 * over a range that holds one and falls back to 4 KiB pages for its
	 * whole 4 MiB window: a cold 4 MiB file would be mapped page by page,
	 * no faster than read, and stay cached so.  Only the first 2 MiB, and
	 * of them only clean pages no one maps, go; a file whose middle the
	 * probe found uncached but whose start was cached reads that again.
	 */
	if (!cached)
		(void)posix_fadvise(fd, 0, PMD_FOLIO, POSIX_FADV_DONTNEED);
	*used = DLREG_SCAN_MMAP;
	return scan_mapping(job, &mp, fd, size, cached ? o->buf_size : 0, used);
}

/* ---- files ---- */

static int open_error(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return DLREG_ENOENT;
	case EACCES:
	case EPERM:
		return DLREG_EACCES;
	case EISDIR:
		return DLREG_EISDIR;
	case ENOMEM:
		return DLREG_ENOMEM;
	case ENAMETOOLONG:
	case ELOOP:
	case ENXIO:  /* a socket, or a device with nothing behind it */
	case ENODEV: /* a device without a driver */
		return DLREG_EINVAL;
	default:
		return DLREG_EIO;
	}
}

/* What a mode names when it is neither a regular file nor a directory. */
static const char *special_kind(mode_t mode)
{
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a special file";
}

/*
 * Opens `path` for reading if it is a regular file.  A path that names
 * anything else but a directory is refused before it is opened: even a
 * non-blocking open acts on some files (it releases a writer blocked opening
 * a FIFO, arms a watchdog, rewinds a tape).  That costs one path lookup per
 * scan (about 1 us on the reference VM, where the open, fstat and close take
 * 2.7).  A path swapped for such a file between the stat and the open is
 * still refused, by the fstat after the open: only that race can open one.
 */
static int open_regular(const char *path, int *fd_out, struct stat *st)
{
	struct stat pre;
	if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode) && !S_ISDIR(pre.st_mode)) {
		dlreg__set_detail("not a regular file: %s, not opened", special_kind(pre.st_mode));
		return DLREG_EINVAL;
	}
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		dlreg__set_detail("open failed: %s", strerror(e));
		return open_error(e);
	}
	int rc = DLREG_OK;
	if (fstat(fd, st) != 0) {
		dlreg__set_detail("fstat failed: %s", strerror(errno));
		rc = DLREG_EIO;
	} else if (S_ISDIR(st->st_mode)) {
		dlreg__set_detail("is a directory");
		rc = DLREG_EISDIR;
	} else if (!S_ISREG(st->st_mode)) {
		dlreg__set_detail("not a regular file: %s", special_kind(st->st_mode));
		rc = DLREG_EINVAL;
	} else if (st->st_size < 0) {
		dlreg__set_detail("negative file size");
		rc = DLREG_EIO;
	}
	if (rc)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

static enum dlreg_scan_backend pick_backend(const struct scan_opts *o, uint64_t size)
{
	int mappable = size > 0 && size <= o->max_map;
	if (o->backend == DLREG_SCAN_READ || !mappable)
		return DLREG_SCAN_READ;
	/* Without our fault handler in place a mapping could crash us: read instead. */
	return dlreg__fault_ready() ? DLREG_SCAN_MMAP : DLREG_SCAN_READ;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int scan_fd(struct dlreg__scan_job *job, int fd, const struct stat *st,
                   const struct scan_opts *o, enum dlreg_scan_backend *used)
{
	uint64_t size = (uint64_t)st->st_size;
	struct stat after;
	/* /proc/kcore: the kernel's memory, 128 TiB of it as a file, no plugin. */
	if (size >= PSEUDO_HUGE_MIN && major(st->st_dev) == 0) {
		const char *fs = pseudo_fs(fd);
		if (fs) {
			dlreg__set_detail("a %s pseudo-file of %llu bytes: not searched", fs,
			                  (unsigned long long)size);
			return DLREG_EINVAL;
		}
	}
	if (o->backend == DLREG_SCAN_MMAP && size > o->max_map) {
		dlreg__set_detail("file of %llu bytes above the mapping cap of %zu",
		                  (unsigned long long)size, o->max_map);
		return DLREG_ETOOBIG;
	}
	int rc;
	if (o->backend == DLREG_SCAN_AUTO) {
		rc = run_auto(job, fd, st, o, used);
	} else {
		struct fs_traits ft = {fd, st->st_dev, st->st_blocks, 0, 0};
		*used = pick_backend(o, size);
		rc = *used == DLREG_SCAN_MMAP ? run_mapped(job, fd, &ft, size, o->buf_size, used)
		                              : run_read(job, fd, size, o->buf_size);
	}
	if (rc == SCAN_UNMAPPABLE) {
		/* The same answer the read backend gives, from the start. */
		free(job->json);
		job_init(job, NULL, o);
		*used = DLREG_SCAN_READ;
		rc = run_read(job, fd, size, o->buf_size);
	}
	/* Whatever the verdict, it is void if the file changed meanwhile. */
	if (fstat(fd, &after) == 0 && !same_file(st, &after)) {
		dlreg__set_detail("file changed while it was read");
		rc = DLREG_ETRUNCATED;
	}
	return rc;
}

static int make_result(const struct dlreg__scan_job *job, const struct stat *st,
                       enum dlreg_scan_backend used, struct dlreg_metadata **out)
{
	struct dlreg_metadata *m = calloc(1, sizeof *m + job->json_len + 1);
	if (!m) {
		dlreg__set_detail("cannot allocate the scan result");
		return DLREG_ENOMEM;
	}
	char *text = (char *)(m + 1);
	memcpy(text, job->json, job->json_len + 1);
	m->json = text;
	m->json_len = job->json_len;
	m->where = job->where;
	m->offset = job->offset;
	m->elf_class = job->elf_class;
	m->elf_big_endian = job->elf_big_endian;
	memcpy(m->section, job->section, sizeof m->section);
	m->build_id_len = job->build_id_len;
	memcpy(m->build_id, job->build_id, sizeof m->build_id);
	m->backend = used;
	if (st) {
		m->has_identity = 1;
		m->identity.dev = (uint64_t)st->st_dev;
		m->identity.ino = (uint64_t)st->st_ino;
		m->identity.size = (uint64_t)st->st_size;
		m->identity.mtime_sec = (int64_t)st->st_mtim.tv_sec;
		m->identity.mtime_nsec = (long)st->st_mtim.tv_nsec;
	}
	*out = m;
	return DLREG_OK;
}

/* Prefixes the detail text with the (redacted) file name. */
static void name_detail(const char *path, unsigned flags)
{
	char name[DLREG__REDACTED_NAME_SIZE];
	char why[400];
	snprintf(why, sizeof why, "%s", dlreg_errdetail());
	dlreg__redact_path(path, name, sizeof name, (flags & DLREG_SCAN_FULL_PATHS) != 0);
	dlreg__set_detail("%s: %s", name, why);
}

int dlreg_scan_file(const char *path, const struct dlreg_scan_options *opt,
                    struct dlreg_metadata **out)
{
	struct scan_opts o;
	struct dlreg__scan_job job;
	struct stat st;
	int fd = -1;
	enum dlreg_scan_backend used = DLREG_SCAN_READ;
	dlreg__clear_detail();
	if (!out)
		return DLREG_EINVAL;
	*out = NULL;
	if (!path || !*path) {
		dlreg__set_detail("empty path");
		return DLREG_EINVAL;
	}
	int rc = resolve_opts(opt, &o);
	if (rc)
		return rc;
	job_init(&job, NULL, &o);
	rc = open_regular(path, &fd, &st);
	if (rc == DLREG_OK) {
		rc = scan_fd(&job, fd, &st, &o, &used);
		close(fd); /* read-only: nothing a failing close could have lost */
	}
	if (rc == DLREG_OK)
		rc = make_result(&job, &st, used, out);
	free(job.json);
	if (rc)
		name_detail(path, o.flags);
	return rc;
}

int dlreg_scan_buffer(const void *buf, size_t len, const struct dlreg_scan_options *opt,
                      struct dlreg_metadata **out)
{
	struct scan_opts o;
	struct dlreg__scan_job job;
	struct mem_src m;
	dlreg__clear_detail();
	if (!out)
		return DLREG_EINVAL;
	*out = NULL;
	if (!buf && len) {
		dlreg__set_detail("NULL buffer");
		return DLREG_EINVAL;
	}
	int rc = resolve_opts(opt, &o);
	if (rc)
		return rc;
	mem_src_init(&m, buf ? buf : "", len, -1);
	job_init(&job, &m.base, &o);
	rc = dlreg__scan_run(&job);
	if (rc == DLREG_OK)
		rc = make_result(&job, NULL, DLREG_SCAN_AUTO, out);
	free(job.json);
	return rc;
}

void dlreg_metadata_free(struct dlreg_metadata *meta)
{
	free(meta);
}

const char *dlreg_meta_where_name(enum dlreg_meta_where where)
{
	switch (where) {
	case DLREG_META_NOTE_SEGMENT:
		return "note-segment";
	case DLREG_META_NOTE_SECTION:
		return "note-section";
	case DLREG_META_MARKER:
		return "marker";
	}
	return "unknown";
}

const char *dlreg_scan_backend_name(enum dlreg_scan_backend backend)
{
	switch (backend) {
	case DLREG_SCAN_AUTO:
		return "auto";
	case DLREG_SCAN_MMAP:
		return "mmap";
	case DLREG_SCAN_READ:
		return "read";
	}
	return "unknown";
}
