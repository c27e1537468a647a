/*
 * scan_bench.c - dlreg-bench-scan: the metadata scanner's benchmarks.
 *
 *   scan/marker/C/B    dlreg_scan_file on a non-ELF file whose only marker
 *                      record is at its very end: a full-file search
 *   scan/note/C/B      dlreg_scan_file on a real plugin with a metadata
 *                      note, padded (sparse) to the size: header lookup
 *   scan/K/C/auto_vs_best
 *                      auto, mmap and read (default buffer) on one file,
 *                      side by side in every iteration; counters compare
 *                      auto with the better of the other two
 *   scan/marker/warm/memchr|memmem|dlreg_find|dlreg_find_noprefetch
 *                      the same search over the same bytes already in RAM,
 *                      in huge pages where a file mapping gets PMD entries
 *                      (the limits a warm file scan is measured against);
 *                      dlreg_find_noprefetch is find.c built without its
 *                      software prefetch, which helps on some CPUs and not
 *                      on others
 *   scan/marker/warm/auto_vs_memory
 *                      auto's warm marker search, memchr and memmem (as
 *                      above) side by side in every iteration; counters
 *                      compare them
 *
 * C is the page cache state and B the backend: mmap, read-<buffer size>
 * (a sweep) or auto; every name ends in /size:<bytes>.  C is warm (file
 * cached as dlreg's own scan of it leaves it: see warm_up; counter pmd_mapped is
 * the share of it a mapping gets in 2 MiB entries) or cold (evicted with
 * posix_fadvise(POSIX_FADV_DONTNEED) before every iteration, outside the
 * timed region, and checked with mincore; a run whose eviction left more
 * than 1 % of the pages of the file's data resident fails with an error
 * instead of reporting a warm number as cold).  Times are wall-clock;
 * bytes_per_second is file bytes over wall time.
 *
 * The files are written to a fresh directory (--scan-dir, default $TMPDIR
 * or /var/tmp; it must be a disk-backed file system for cold runs) and
 * removed at exit, also on SIGINT/SIGTERM/SIGHUP/SIGQUIT and on SIGPIPE (a
 * report piped into a reader that quit).  Their bytes are
 * pseudo-random without any 0xF0 (the marker's first byte), so memchr for
 * that byte and every search scan all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "dlreg/metadata.h"
#include "dlreg/scan.h"
#include "dlreg_bench.h"

#ifndef DLREG_BENCH_META_PLUGIN
#error "build with -DDLREG_BENCH_META_PLUGIN=\"...\" (a plugin with a metadata note)"
#endif

#define PROG "dlreg-bench-scan"
#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define MAX_SIZES 32
#define MAX_BUFS 8
#define MAX_FILES (2 * MAX_SIZES)
#define CHUNK (1u << 20)
#define RESIDENT_TOLERANCE_PCT 1

enum file_kind { KIND_MARKER, KIND_NOTE };

struct options {
	const char *scan_dir;
	uint64_t min_size;
	uint64_t max_size;
	const char *meta_plugin;
	size_t bufs[MAX_BUFS];
	unsigned nbufs;
	unsigned size_factor;
	int cold;
	int progress;
	enum warm_how { WARM_SCANNED, WARM_READAHEAD, WARM_WRITTEN } warm;
};

/* One registered family; the file size comes from its argument. */
struct scan_family {
	enum file_kind kind;
	enum dlreg_scan_backend backend;
	size_t buf; /* read backend only */
	int cold;
	/* auto_vs_best: iterations so far at each size (index into sizes[]),
	 * which picks the order */
	unsigned turn[MAX_SIZES];
};

struct mem_family {
	const char *name;
	size_t (*search)(const unsigned char *buf, size_t n);
};

/* --warm values, indexed by enum warm_how. */
static const char *const warm_names[] = {"scanned", "readahead", "written"};

static struct options opt = {
        .min_size = 4 * KIB,
        .max_size = GIB,
        .meta_plugin = DLREG_BENCH_META_PLUGIN,
        .size_factor = 4,
        .cold = 1,
};

static const unsigned char magic[DLREG_METADATA_MAGIC_LEN] = DLREG_METADATA_MAGIC_BYTES;

static uint64_t sizes[MAX_SIZES];
static unsigned nsizes;
static uint64_t note_min_size; /* the plugin's own size */

/* Cleanup state; plain arrays so the signal handler can walk them. */
static char work_dir[PATH_MAX];
static char file_paths[MAX_FILES][PATH_MAX];
static volatile sig_atomic_t nfiles;
static unsigned char *mem_buffers[MAX_SIZES]; /* mem_map()ed, sizes[i] bytes */

/* ------------------------------------------------------------ cleanup --- */

static void cleanup_files(void)
{
	for (sig_atomic_t i = 0; i < nfiles; i++)
		unlink(file_paths[i]);
	nfiles = 0;
	if (work_dir[0])
		rmdir(work_dir);
	work_dir[0] = '\0';
}

static void cleanup_on_signal(int sig)
{
	cleanup_files();
	signal(sig, SIG_DFL);
	raise(sig);
}

static size_t page_round(uint64_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size_t)((n + page - 1) / page * page);
}

static void cleanup_at_exit(void)
{
	cleanup_files();
	for (unsigned i = 0; i < nsizes; i++)
		if (mem_buffers[i])
			munmap(mem_buffers[i], page_round(sizes[i]));
}

static int cleanup_install(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (signal(sigs[i], cleanup_on_signal) == SIG_ERR)
			return -1;
	return atexit(cleanup_at_exit);
}

/* ------------------------------------------------------------- content --- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Pseudo-random bytes with no 0xF0, so no marker can start by chance. */
static void fill_random(unsigned char *p, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w = splitmix64(state);
		size_t k = n - i < 8 ? n - i : 8;

		memcpy(p + i, &w, k);
		for (size_t j = i; j < i + k; j++)
			if (p[j] == magic[0])
				p[j] = 0x0f;
	}
}

/* The marker record (magic, LE32 length, JSON) for a file of `size`. */
static size_t marker_record(unsigned char *out, size_t cap, uint64_t size)
{
	char json[96];
	int len = snprintf(json, sizeof(json), "{\"bench\": \"scan\", \"size\": %llu}",
	                   (unsigned long long)size);
	size_t total = DLREG_METADATA_HEADER_LEN + (size_t)len;

	if (total > cap)
		return 0;
	memcpy(out, magic, sizeof(magic));
	for (int b = 0; b < 4; b++)
		out[DLREG_METADATA_MAGIC_LEN + b] = (unsigned char)((unsigned)len >> (8 * b));
	memcpy(out + DLREG_METADATA_HEADER_LEN, json, (size_t)len);
	return total;
}

/* The bytes of the marker file of `size` from `off` (deterministic). */
static void marker_chunk(unsigned char *p, size_t n, uint64_t off, uint64_t size, uint64_t *state)
{
	unsigned char rec[128];
	size_t rlen = marker_record(rec, sizeof(rec), size);
	uint64_t rec_at = size - rlen;

	fill_random(p, n, state);
	if (off + n <= rec_at)
		return;
	size_t from = rec_at > off ? (size_t)(rec_at - off) : 0;

	memcpy(p + from, rec + (off + from - rec_at), n - from);
}

/* ---------------------------------------------------------------- files --- */

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *file_path(enum file_kind kind, uint64_t size)
{
	for (unsigned i = 0; i < nsizes; i++)
		if (sizes[i] == size)
			return file_paths[2 * i + (kind == KIND_NOTE)];
	return NULL;
}

static int file_create(unsigned slot, const char *stem, uint64_t size, int *fd)
{
	int n = snprintf(file_paths[slot], PATH_MAX, "%s/%s-%llu", work_dir, stem,
	                 (unsigned long long)size);

	if (n < 0 || n >= PATH_MAX)
		return -1;
	/* Counted before it exists: a signal right after open still removes it. */
	if ((sig_atomic_t)slot >= nfiles)
		nfiles = (sig_atomic_t)slot + 1;
	*fd = open(file_paths[slot], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return *fd < 0 ? -1 : 0;
}

static int marker_file_write(unsigned idx, unsigned char *chunk)
{
	uint64_t size = sizes[idx], state = size;
	int fd;

	if (file_create(2 * idx, "marker", size, &fd))
		return -1;
	int bad = 0;

	for (uint64_t off = 0; !bad && off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		marker_chunk(chunk, n, off, size, &state);
		bad = write_all(fd, chunk, n);
	}
	bad = bad || fsync(fd) != 0;
	return (close(fd) != 0 || bad) ? -1 : 0;
}

/* The plugin's bytes, then a hole up to `size`: only headers are read. */
static int note_file_write(unsigned idx, const unsigned char *plugin, size_t plen)
{
	uint64_t size = sizes[idx];
	int fd;

	if (file_create(2 * idx + 1, "note", size, &fd))
		return -1;
	int bad = write_all(fd, plugin, plen) || ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0;

	return (close(fd) != 0 || bad) ? -1 : 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	unsigned char *p = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (p = malloc((size_t)sb.st_size))) {
		if (pread(fd, p, (size_t)sb.st_size, 0) != sb.st_size) {
			free(p);
			p = NULL;
		}
		*len = (size_t)sb.st_size;
	}
	close(fd);
	return p;
}

static int files_write(void)
{
	size_t plen = 0;
	unsigned char *plugin = slurp(opt.meta_plugin, &plen);
	unsigned char *chunk = malloc(CHUNK);
	int bad = !plugin || !chunk;

	if (!plugin)
		fprintf(stderr, "%s: cannot read --meta-plugin %s\n", PROG, opt.meta_plugin);
	if (plugin && !bad) {
		/* The note benchmarks time finding this plugin's note: it must have one. */
		struct dlreg_scan_options only_notes = {.flags = DLREG_SCAN_NO_MARKER};
		struct dlreg_metadata *meta = NULL;
		int err = dlreg_scan_buffer(plugin, plen, &only_notes, &meta);

		if (err != DLREG_OK) {
			fprintf(stderr, "%s: --meta-plugin %s: no dlreg metadata note: %s\n", PROG,
			        opt.meta_plugin, dlreg_strerror(err));
			free(plugin);
			free(chunk);
			dlreg_metadata_free(meta);
			return -1;
		}
		dlreg_metadata_free(meta);
	}
	note_min_size = plen;
	for (unsigned i = 0; !bad && i < nsizes; i++) {
		if (opt.progress)
			fprintf(stderr, "%s: writing %llu-byte files\n", PROG,
			        (unsigned long long)sizes[i]);
		bad = marker_file_write(i, chunk);
		if (!bad && sizes[i] >= plen)
			bad = note_file_write(i, plugin, plen);
	}
	if (bad && plugin)
		fprintf(stderr, "%s: cannot write the test files in %s: %s\n", PROG, work_dir,
		        strerror(errno));
	free(plugin);
	free(chunk);
	return bad ? -1 : 0;
}

static int work_dir_create(void)
{
	const char *base = opt.scan_dir ? opt.scan_dir : getenv("TMPDIR");
	int n = snprintf(work_dir, sizeof(work_dir), "%s/dlreg-bench-scan.XXXXXX",
	                 base && *base ? base : "/var/tmp");

	if (n < 0 || (size_t)n >= sizeof(work_dir) || !mkdtemp(work_dir)) {
		fprintf(stderr, "%s: cannot create a directory under %s: %s\n", PROG,
		        base && *base ? base : "/var/tmp", strerror(errno));
		work_dir[0] = '\0';
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------- page cache --- */

/*
 * Pages of the file at fd (*pages) and how many of them are in the page
 * cache now (*resident); with data_only, only the pages of its data
 * extents (SEEK_DATA), those a cold scan has to read from the device: a
 * note file is mostly a hole, whose pages a scan never needs.
 */
static int resident_pages(int fd, uint64_t size, bool data_only, size_t *resident, size_t *pages)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (size_t)((size + page - 1) / page);
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(n);
	int rc = -1;

	if (map != MAP_FAILED && vec && mincore(map, (size_t)size, vec) == 0) {
		off_t data = 0, hole = data_only ? 0 : (off_t)size;

		*resident = *pages = 0;
		rc = 0;
		while ((uint64_t)data < size) {
			if (data_only && ((data = lseek(fd, data, SEEK_DATA)) < 0 ||
			                  (hole = lseek(fd, data, SEEK_HOLE)) < 0)) {
				rc = errno == ENXIO ? 0 : -1; /* ENXIO: no data past `data` */
				break;
			}
			for (size_t i = (size_t)data / page; i < n && (off_t)(i * page) < hole;
			     i++) {
				*resident += vec[i] & 1u;
				++*pages;
			}
			data = hole;
		}
	}
	free(vec);
	if (map != MAP_FAILED)
		munmap(map, (size_t)size);
	return rc;
}

/* Per file slot: made warm by warm_up, and not evicted since. */
static bool warm_done[MAX_FILES];

static unsigned file_slot(enum file_kind kind, uint64_t size)
{
	for (unsigned i = 0; i < nsizes; i++)
		if (sizes[i] == size)
			return 2 * i + (kind == KIND_NOTE);
	return 0;
}

/*
 * Drops the file in `slot` from the page cache; 0 only if mincore confirms
 * it for the pages of its data (resident_pages): 1 % of all the pages of
 * a sparse note file would be thousands of times the few a lookup reads.
 * A folio still locked for a read that was in flight (readahead past what
 * the last scan waited for) cannot be dropped yet: the eviction is tried
 * again, EVICT_TRIES times in all, 1 ms apart, before it counts as failed.
 * Whatever the outcome, the file is no longer as warm_up left it: the next
 * warm run puts it back.
 */
#define EVICT_TRIES 20
static int evict(unsigned slot, uint64_t size, char *why, size_t whylen)
{
	int fd = open(file_paths[slot], O_RDONLY | O_CLOEXEC);
	size_t resident = 0, pages = 0;
	int rc = -1;

	warm_done[slot] = false;
	if (fd < 0) {
		snprintf(why, whylen, "cannot open the test file: %s", strerror(errno));
		return -1;
	}
	for (unsigned tries = 1; rc != 0; tries++) {
		if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
		    resident_pages(fd, size, true, &resident, &pages) != 0) {
			snprintf(why, whylen, "posix_fadvise, lseek or mincore failed");
			break;
		}
		if (resident * 100 <= pages * RESIDENT_TOLERANCE_PCT) {
			rc = 0;
		} else if (tries == EVICT_TRIES) {
			snprintf(why, whylen,
			         "page cache eviction did not happen: %zu of %zu data pages still "
			         "resident after %u tries (a memory-backed --scan-dir?)",
			         resident, pages, tries);
			break;
		} else {
			nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
		}
	}
	close(fd);
	return rc;
}

/*
 * Share of the `size` bytes mapped at `map` that /proc/self/smaps counts
 * under `field` (a "... kB" line of that mapping); -1 if it cannot be told.
 */
static double smaps_share(const void *map, uint64_t size, const char *field)
{
	char head[32], line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t flen = strlen(field);
	int mine = 0;
	unsigned long kb;
	double share = -1;

	snprintf(head, sizeof(head), "%lx-", (unsigned long)(uintptr_t)map);
	while (f && fgets(line, sizeof(line), f)) {
		const char *dash = strchr(line, '-'), *space = strchr(line, ' ');

		if (dash && space && dash < space) /* a mapping's header line */
			mine = strncmp(line, head, strlen(head)) == 0;
		else if (mine && strncmp(line, field, flen) == 0 && line[flen] == ':' &&
		         sscanf(line + flen + 1, "%lu kB", &kb) == 1) {
			share = (double)kb * 1024.0 / (double)size;
			break;
		}
	}
	if (f)
		fclose(f);
	return share;
}

/*
 * Share of the file a fresh private mapping of it gets in PMD entries (one
 * per 2 MiB folio): FilePmdMapped of that mapping in /proc/self/smaps,
 * after touching every page; -1 if it cannot be told.
 */
static double pmd_mapped_share(const char *path, uint64_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	double share = -1;

	if (fd < 0)
		return -1;
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);

	close(fd);
	if (map == MAP_FAILED)
		return -1;
	const volatile unsigned char *p = map;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned sum = 0;

	for (uint64_t off = 0; off < size; off += page)
		sum += p[off];
	(void)sum;
	share = smaps_share(map, size, "FilePmdMapped");
	munmap(map, (size_t)size);
	return share;
}

/*
 * Puts the file in the page cache before a warm run: evicted, then scanned
 * once by dlreg_scan_file with default options (auto), so the cache holds
 * what dlreg's own earlier scan of the file left, which is what a warm
 * scan meets in use (a cold auto scan maps with MADV_HUGEPAGE from 2 MiB
 * where the file system caches large folios, and leaves 2 MiB folios).
 * --warm=readahead reads it front to back instead, so readahead decides
 * the folio sizes; --warm=written skips the eviction and keeps the folios
 * the writes left, until a cold run of the file evicts it.  That choice
 * matters on kernels whose file system caches large folios (ext4 from
 * Linux 6.16): a file read through readahead sits mostly in 2 MiB folios,
 * which a mapping gets one PMD entry each, while one written in 1 MiB
 * write() calls sits in smaller folios mapped page by page, and a warm
 * mmap scan of it takes longer (results/README.md has the figures).  Done
 * once per file and again only if the file lost pages meanwhile or a cold
 * run evicted it since (random interleaving runs cold and warm runs of a
 * file in any order, and a cold read scan leaves it fully cached the way
 * readahead does, which must not pass for dlreg's own).  Returns the file's
 * pmd_mapped_share as this run meets it.
 */
static double warm_up(enum file_kind kind, uint64_t size)
{
	unsigned slot = file_slot(kind, size);
	const char *path = file_paths[slot];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = malloc(CHUNK);
	size_t resident = 0, pages = 1;

	if (fd >= 0 && buf &&
	    (!warm_done[slot] || resident_pages(fd, size, false, &resident, &pages) != 0 ||
	     resident < pages)) {
		if (opt.warm != WARM_WRITTEN)
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (opt.warm == WARM_SCANNED) {
			struct dlreg_metadata *m = NULL;

			if (dlreg_scan_file(path, NULL, &m) == 0)
				dlreg_metadata_free(m);
		} else {
			while (read(fd, buf, CHUNK) > 0)
				;
		}
		warm_done[slot] = true;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return pmd_mapped_share(path, size);
}

/* -------------------------------------------------------------- bodies --- */

static int scan_check(const struct scan_family *f, const struct dlreg_metadata *m, uint64_t size)
{
	if (f->kind == KIND_NOTE)
		return m->where == DLREG_META_NOTE_SEGMENT ? 0 : -1;
	return m->where == DLREG_META_MARKER && m->offset + m->json_len == size ? 0 : -1;
}

static void scan_fail(dlreg_bench_state_t *st, const char *what, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s %s", what, dlreg_strerror(err), dlreg_errdetail());
	dlreg_bench_skip_with_error(st, msg);
}

/*
 * One timed scan (and, cold, an untimed eviction before it).  A failure
 * skips the run with its reason.
 */
static void scan_once(dlreg_bench_state_t *st, const struct scan_family *f, const char *path,
                      uint64_t size, const struct dlreg_scan_options *o, int *used_mmap)
{
	if (f->cold) {
		char why[160];

		dlreg_bench_pause_timing(st);
		int rc = evict(file_slot(f->kind, size), size, why, sizeof(why));

		dlreg_bench_resume_timing(st);
		if (rc) {
			dlreg_bench_skip_with_error(st, why);
			return;
		}
	}
	struct dlreg_metadata *m = NULL;
	int err = dlreg_scan_file(path, o, &m);

	if (err) {
		scan_fail(st, "dlreg_scan_file", err);
		return;
	}
	int bad = scan_check(f, m, size);

	*used_mmap = m->backend == DLREG_SCAN_MMAP;
	dlreg_metadata_free(m);
	if (bad)
		dlreg_bench_skip_with_error(st, "the scan found the wrong metadata");
}

static void bench_scan(dlreg_bench_state_t *st, void *data)
{
	const struct scan_family *f = data;
	uint64_t size = (uint64_t)dlreg_bench_range_get(st, 0);
	struct dlreg_scan_options o = {.backend = f->backend, .read_buf_size = f->buf};
	const char *path = file_path(f->kind, size);
	int used_mmap = 0;
	double pmd = f->cold ? -1 : warm_up(f->kind, size);

	/* After a failed scan (a skipped run) the next keep_running ends it. */
	while (dlreg_bench_keep_running(st))
		scan_once(st, f, path, size, &o, &used_mmap);
	int64_t its = dlreg_bench_iterations_done(st);

	if (f->kind == KIND_MARKER)
		dlreg_bench_set_bytes_processed(st, its * (int64_t)size);
	dlreg_bench_set_items_processed(st, its);
	/* Which backend auto picked: the crossover is visible in the report. */
	dlreg_bench_counter_set(st, "mmap_used", used_mmap, DLREG_BENCH_COUNTER_DEFAULT);
	if (pmd >= 0)
		dlreg_bench_counter_set(st, "pmd_mapped", pmd, DLREG_BENCH_COUNTER_DEFAULT);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Reads the block device under the scan directory has completed, and the
 * 512-byte sectors they read (fields 1 and 3 of /sys/dev/block/M:m/stat; a
 * partition has its own).  Device-wide: another process's reads in the same
 * window count too.  0 and both -1 where the scan directory has no block
 * device of its own (tmpfs, overlayfs, btrfs) or the file is unreadable.
 */
struct dev_reads {
	long long ios, sectors;
};

static int dev_reads_now(struct dev_reads *r)
{
	static char path[64];
	static int state; /* 0 unknown, 1 path set, -1 none */

	r->ios = r->sectors = -1;
	if (state == 0) {
		struct stat sb;

		state = -1;
		if (stat(work_dir, &sb) == 0 && major(sb.st_dev) != 0) {
			snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", major(sb.st_dev),
			         minor(sb.st_dev));
			if (access(path, R_OK) == 0)
				state = 1;
		}
	}
	if (state != 1)
		return 0;
	FILE *f = fopen(path, "r");
	long long ios, merges, sectors;
	int got = f ? fscanf(f, "%lld %lld %lld", &ios, &merges, &sectors) : 0;

	if (f)
		fclose(f);
	if (got != 3)
		return 0;
	r->ios = ios;
	r->sectors = sectors;
	return 1;
}

/* Counter `name`: num / den (both totals of the same run). */
static void counter_ratio(dlreg_bench_state_t *st, const char *name, uint64_t num, uint64_t den)
{
	dlreg_bench_counter_set(st, name, (double)num / (double)den, DLREG_BENCH_COUNTER_DEFAULT);
}

/* Counters name[i]: total_ns[i] over `count` operations, in microseconds. */
static void counter_means(dlreg_bench_state_t *st, const char *const *name,
                          const uint64_t *total_ns, unsigned n, int64_t count)
{
	for (unsigned i = 0; i < n; i++)
		dlreg_bench_counter_set(st, name[i], (double)total_ns[i] / 1e3 / (double)count,
		                        DLREG_BENCH_COUNTER_DEFAULT);
}

/*
 * auto_vs_best: is auto as fast as the better of mmap and read?  Separate
 * families answer it badly on this kind of VM: they run seconds apart, the
 * host's load moves a run by 10-50 % (cold most), and auto, which runs the
 * very code of one of the two, then "misses" by noise.  Here every
 * iteration scans the file with all three, each timed on its own (cold:
 * each after its own eviction), in an order that goes through the six
 * permutations from one iteration (and one repetition) to the next, so that
 * each backend runs in each place, and follows each other one, equally
 * often: a warm scan runs faster after one that left more of the file in
 * the L3 cache (at 16 MiB, mmap 15 us slower after read than after mmap;
 * auto 30 us), and the first cold scan of an iteration may pay for
 * reclaim or a device waking up that the next ones do not.  Manual time is
 * auto's.
 * Counters: auto_over_best = auto's total time / the smaller of mmap's and
 * read's totals; auto_over_mmap, auto_over_read; auto_us, mmap_us, read_us
 * (mean microseconds per scan); mmap_used as in bench_scan.  Cold, where
 * the scan directory has a block device: auto_dev_reads, mmap_dev_reads,
 * read_dev_reads (read requests the device completed per scan) and
 * auto_dev_kib, mmap_dev_kib, read_dev_kib (KiB they read per scan), the
 * I/O behind each time (dev_reads_now).
 */
enum { VS_AUTO, VS_MMAP, VS_READ, VS_N };
/*
 * The order of three timed things (0, 1, 2) in side-by-side iteration k:
 * six_orders[k % 6].  Each in each place, and after each other one,
 * equally often.
 */
static const unsigned six_orders[6][3] = {{0, 1, 2}, {2, 0, 1}, {1, 2, 0},
                                          {0, 2, 1}, {1, 0, 2}, {2, 1, 0}};
/*
 * Cold marker searches from VS_LARGE_MIN take 0.1-0.5 s a backend, so at
 * any usual --benchmark_min_time a repetition is one iteration: a single
 * scan each, whose device and host noise the median then carries
 * (auto/best 0.89-1.21 over the nine repetitions of one run at 256 MiB).
 * There one iteration is VS_LARGE_ROUNDS rounds of the three scans; times
 * and counters stay per scan.
 */
#define VS_LARGE_MIN (256 * MIB)
#define VS_LARGE_ROUNDS 3u

static void bench_auto_vs(dlreg_bench_state_t *st, void *data)
{
	static const enum dlreg_scan_backend backend[VS_N] = {DLREG_SCAN_AUTO, DLREG_SCAN_MMAP,
	                                                      DLREG_SCAN_READ};
	struct scan_family *f = data;
	uint64_t size = (uint64_t)dlreg_bench_range_get(st, 0);
	const char *path = file_path(f->kind, size);
	/* Per size: the runs of the family's other sizes (interleaved with
	 * --benchmark_enable_random_interleaving) must not skip orders. */
	unsigned *turn = &f->turn[file_slot(f->kind, size) / 2];
	uint64_t total[VS_N] = {0};
	long long dev_ios[VS_N] = {0}, dev_sectors[VS_N] = {0};
	int dev_ok = f->cold;
	int used_mmap = 0;
	double pmd = f->cold ? -1 : warm_up(f->kind, size);

	if (f->cold) {
		/*
		 * One untimed cold scan first.  The first cold scan after other
		 * benchmarks pays for reclaiming the memory the file's pages
		 * need (up to 1.4x its time at 256 MiB-1 GiB here); later ones
		 * get the pages the previous eviction freed.  Without this the
		 * backend that goes first would carry that cost in runs of one
		 * iteration.
		 */
		struct dlreg_scan_options o = {.backend = DLREG_SCAN_READ};
		struct dlreg_metadata *m = NULL;
		char why[160];

		if (evict(file_slot(f->kind, size), size, why, sizeof(why)) == 0 &&
		    dlreg_scan_file(path, &o, &m) == 0)
			dlreg_metadata_free(m);
	}
	const unsigned rounds = f->cold && f->kind == KIND_MARKER && size >= VS_LARGE_MIN
	                                ? VS_LARGE_ROUNDS
	                                : 1;
	int64_t scans = 0;

	while (dlreg_bench_keep_running(st)) {
		uint64_t auto_ns = 0;

		for (unsigned k = 0; k < rounds * VS_N && !dlreg_bench_error_occurred(st); k++) {
			unsigned j = k % VS_N;
			unsigned b = six_orders[*turn % 6][j];
			struct dlreg_scan_options o = {.backend = backend[b]};
			struct dlreg_metadata *m = NULL;
			char why[160];

			if (f->cold && evict(file_slot(f->kind, size), size, why, sizeof(why))) {
				dlreg_bench_skip_with_error(st, why);
				break;
			}
			struct dev_reads d0, d1;

			dev_ok = dev_ok && dev_reads_now(&d0);
			uint64_t t0 = now_ns();
			int err = dlreg_scan_file(path, &o, &m);
			uint64_t t = now_ns() - t0;

			dev_ok = dev_ok && dev_reads_now(&d1);
			if (dev_ok) {
				dev_ios[b] += d1.ios - d0.ios;
				dev_sectors[b] += d1.sectors - d0.sectors;
			}

			if (err) {
				scan_fail(st, "dlreg_scan_file", err);
				break;
			}
			if (scan_check(f, m, size))
				dlreg_bench_skip_with_error(st, "the scan found the wrong metadata");
			if (b == VS_AUTO) {
				used_mmap = m->backend == DLREG_SCAN_MMAP;
				auto_ns += t;
				scans++;
			}
			dlreg_metadata_free(m);
			total[b] += t;
			if (j == VS_N - 1)
				(*turn)++; /* kept across repetitions: one-iteration runs rotate too */
		}
		dlreg_bench_set_iteration_time(st, (double)auto_ns * 1e-9 / rounds);
	}
	int64_t its = dlreg_bench_iterations_done(st);

	if (f->kind == KIND_MARKER)
		dlreg_bench_set_bytes_processed(st, its * (int64_t)size);
	dlreg_bench_set_items_processed(st, its);
	dlreg_bench_counter_set(st, "mmap_used", used_mmap, DLREG_BENCH_COUNTER_DEFAULT);
	if (pmd >= 0)
		dlreg_bench_counter_set(st, "pmd_mapped", pmd, DLREG_BENCH_COUNTER_DEFAULT);
	/* Mean time per scan of each backend in this run: acceptance.py takes
	 * the median of each over the repetitions and divides those, which
	 * unlike a median of per-run ratios does not favour "best" when mmap
	 * and read are equal and noisy (the smaller of two noisy values). */
	static const char *const mean_name[VS_N] = {"auto_us", "mmap_us", "read_us"};

	if (scans > 0)
		counter_means(st, mean_name, total, VS_N, scans);
	static const char *const ios_name[VS_N] = {"auto_dev_reads", "mmap_dev_reads",
	                                           "read_dev_reads"};
	static const char *const kib_name[VS_N] = {"auto_dev_kib", "mmap_dev_kib", "read_dev_kib"};

	for (unsigned b = 0; dev_ok && scans > 0 && b < VS_N; b++) {
		dlreg_bench_counter_set(st, ios_name[b], (double)dev_ios[b] / (double)scans,
		                        DLREG_BENCH_COUNTER_DEFAULT);
		dlreg_bench_counter_set(st, kib_name[b],
		                        (double)dev_sectors[b] / 2.0 / (double)scans,
		                        DLREG_BENCH_COUNTER_DEFAULT);
	}
	if (total[VS_MMAP] && total[VS_READ]) {
		uint64_t best = total[VS_MMAP] < total[VS_READ] ? total[VS_MMAP] : total[VS_READ];

		counter_ratio(st, "auto_over_best", total[VS_AUTO], best);
		counter_ratio(st, "auto_over_mmap", total[VS_AUTO], total[VS_MMAP]);
		counter_ratio(st, "auto_over_read", total[VS_AUTO], total[VS_READ]);
	}
}

/*
 * Anonymous memory for `size` bytes on the terms a warm mmap scan gets:
 * 2 MiB-aligned and MADV_HUGEPAGE, so that each whole 2 MiB of it can sit
 * in a huge page as each whole 2 MiB of a file mapping can in a PMD entry.
 * From malloc it would sit in 4 KiB pages (transparent_hugepage "madvise"),
 * and a search over it would pay a TLB miss per page that the file scan
 * does not: not the limit of a warm scan, but a slower target.
 */
static unsigned char *mem_map(uint64_t size)
{
	const size_t align = 2 * MIB, len = page_round(size);
	unsigned char *raw =
	        mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (raw == MAP_FAILED)
		return NULL;
	unsigned char *p =
	        (unsigned char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));

	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	munmap(p + len, (size_t)(raw + align - p));
	madvise(p, len, MADV_HUGEPAGE); /* only a hint: pmd_mapped shows what it got */
	return p;
}

/* The marker file's bytes in RAM, loaded once per size. */
static unsigned char *mem_buffer(uint64_t size)
{
	for (unsigned i = 0; i < nsizes; i++) {
		if (sizes[i] != size)
			continue;
		if (!mem_buffers[i]) {
			unsigned char *p = mem_map(size);
			int fd = open(file_path(KIND_MARKER, size), O_RDONLY | O_CLOEXEC);
			uint64_t got = 0;
			ssize_t r = 1;

			while (p && fd >= 0 && got < size && r > 0) {
				r = pread(fd, p + got, (size_t)(size - got), (off_t)got);
				got += r > 0 ? (uint64_t)r : 0;
			}
			if (fd >= 0)
				close(fd);
			if (p && got != size) {
				munmap(p, page_round(size));
				p = NULL;
			}
			mem_buffers[i] = p;
		}
		return mem_buffers[i];
	}
	return NULL;
}

static size_t search_memchr(const unsigned char *buf, size_t n)
{
	const unsigned char *p = memchr(buf, magic[0], n);

	return p ? (size_t)(p - buf) : SIZE_MAX;
}

static size_t search_memmem(const unsigned char *buf, size_t n)
{
	const unsigned char *p = memmem(buf, n, magic, sizeof(magic));

	return p ? (size_t)(p - buf) : SIZE_MAX;
}

static size_t search_dlreg_find(const unsigned char *buf, size_t n)
{
	return dlreg_find(buf, n, magic, sizeof(magic));
}

/* find.c built with DLREG_FIND_PREFETCH=0 under this name (meson.build). */
size_t dlreg_bench_find_noprefetch(const void *hay, size_t n, const void *needle, size_t m);

static size_t search_dlreg_find_noprefetch(const unsigned char *buf, size_t n)
{
	return dlreg_bench_find_noprefetch(buf, n, magic, sizeof(magic));
}

static void bench_mem(dlreg_bench_state_t *st, void *data)
{
	const struct mem_family *f = data;
	uint64_t size = (uint64_t)dlreg_bench_range_get(st, 0);
	const unsigned char *buf = mem_buffer(size);
	unsigned char rec[128];
	size_t want = (size_t)size - marker_record(rec, sizeof(rec), size);

	if (!buf) {
		dlreg_bench_skip_with_error(st, "cannot load the test file into memory");
		return;
	}
	double pmd = smaps_share(buf, size, "AnonHugePages");

	while (dlreg_bench_keep_running(st)) {
		size_t at = f->search(buf, (size_t)size);

		/* The buffer is unchanged between iterations; make the compiler
		 * believe otherwise so it cannot hoist the pure search out. */
		dlreg_bench_clobber();
		if (at != want)
			dlreg_bench_skip_with_error(st, "the search found the wrong offset");
	}
	dlreg_bench_set_bytes_processed(st, dlreg_bench_iterations_done(st) * (int64_t)size);
	/* The share of the buffer in huge pages, to hold against the file's. */
	if (pmd >= 0)
		dlreg_bench_counter_set(st, "pmd_mapped", pmd, DLREG_BENCH_COUNTER_DEFAULT);
}

/*
 * auto_vs_memory: the warm marker search of a file against memchr and
 * memmem over the same bytes in RAM, side by side.  The separate families
 * above run seconds apart, and on a shared host a memory-bound scan and a
 * compute-bound memmem do not slow down together: over the reports of one
 * day memmem's median at 256 MiB ranged 20-29 ms against the scan's
 * 11-12.5.  Here every iteration runs all three, each timed on its own, in
 * the six orders in turn (per size, kept across repetitions), as
 * auto_vs_best does for the backends.  Manual time is auto's.
 * Counters: auto_us, memchr_us, memmem_us (mean microseconds per search in
 * this run); memmem_over_auto and memchr_over_auto (their totals over
 * auto's: how many times auto's bytes/s); pmd_mapped (the file, as in
 * bench_scan) and ram_pmd_mapped (the buffer, as bench_mem's pmd_mapped).
 */
enum { VM_AUTO, VM_MEMCHR, VM_MEMMEM, VM_N };

static unsigned vs_memory_turn[MAX_SIZES];

static void bench_auto_vs_memory(dlreg_bench_state_t *st, void *data)
{
	const struct scan_family *f = data;
	uint64_t size = (uint64_t)dlreg_bench_range_get(st, 0);
	const char *path = file_path(KIND_MARKER, size);
	const unsigned char *buf = mem_buffer(size);
	unsigned *turn = &vs_memory_turn[file_slot(KIND_MARKER, size) / 2];
	unsigned char rec[128];
	size_t want = (size_t)size - marker_record(rec, sizeof(rec), size);
	uint64_t total[VM_N] = {0};
	int64_t rounds = 0;

	if (!buf) {
		dlreg_bench_skip_with_error(st, "cannot load the test file into memory");
		return;
	}
	double ram_pmd = smaps_share(buf, size, "AnonHugePages");
	double pmd = warm_up(KIND_MARKER, size);

	while (dlreg_bench_keep_running(st)) {
		uint64_t auto_ns = 0;

		for (unsigned j = 0; j < VM_N && !dlreg_bench_error_occurred(st); j++) {
			unsigned what = six_orders[*turn % 6][j];
			struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
			struct dlreg_metadata *m = NULL;
			size_t at = want;
			int err = 0;
			uint64_t t0 = now_ns();

			if (what == VM_AUTO)
				err = dlreg_scan_file(path, &o, &m);
			else if (what == VM_MEMCHR)
				at = search_memchr(buf, (size_t)size);
			else
				at = search_memmem(buf, (size_t)size);
			uint64_t t = now_ns() - t0;

			dlreg_bench_clobber();
			if (err) {
				scan_fail(st, "dlreg_scan_file", err);
				break;
			}
			if (m && scan_check(f, m, size))
				dlreg_bench_skip_with_error(st, "the scan found the wrong metadata");
			dlreg_metadata_free(m);
			if (at != want)
				dlreg_bench_skip_with_error(st, "the search found the wrong offset");
			if (what == VM_AUTO)
				auto_ns = t;
			total[what] += t;
		}
		(*turn)++; /* kept across repetitions: one-iteration runs rotate too */
		rounds++;
		dlreg_bench_set_iteration_time(st, (double)auto_ns * 1e-9);
	}
	int64_t its = dlreg_bench_iterations_done(st);

	dlreg_bench_set_bytes_processed(st, its * (int64_t)size);
	dlreg_bench_set_items_processed(st, its);
	if (pmd >= 0)
		dlreg_bench_counter_set(st, "pmd_mapped", pmd, DLREG_BENCH_COUNTER_DEFAULT);
	if (ram_pmd >= 0)
		dlreg_bench_counter_set(st, "ram_pmd_mapped", ram_pmd, DLREG_BENCH_COUNTER_DEFAULT);
	if (rounds == 0 || dlreg_bench_error_occurred(st))
		return;
	/* As auto_vs_best: acceptance.py divides the medians of the means. */
	static const char *const mean_name[VM_N] = {"auto_us", "memchr_us", "memmem_us"};

	counter_means(st, mean_name, total, VM_N, rounds);
	if (total[VM_AUTO]) {
		counter_ratio(st, "memchr_over_auto", total[VM_MEMCHR], total[VM_AUTO]);
		counter_ratio(st, "memmem_over_auto", total[VM_MEMMEM], total[VM_AUTO]);
	}
}

/* -------------------------------------------------------- registration --- */

/* "16K", "1M": buffer sizes as they appear in benchmark names. */
static void size_label(size_t n, char *out, size_t len)
{
	if (n % MIB == 0)
		snprintf(out, len, "%zuM", (size_t)(n / MIB));
	else
		snprintf(out, len, "%zuK", (size_t)(n / KIB));
}

/* Which sizes a read buffer gets: all for buffers up to the default, else
 * sizes at least as large as the buffer. */
static int buf_applies(size_t buf, uint64_t size)
{
	return buf <= DLREG_SCAN_READ_BUF_DEFAULT || buf <= size;
}

static void scan_name(const struct scan_family *f, char *out, size_t len)
{
	char backend[40];

	if (f->backend == DLREG_SCAN_READ) {
		char b[24];

		size_label(f->buf, b, sizeof(b));
		snprintf(backend, sizeof(backend), "read-%s", b);
	} else {
		snprintf(backend, sizeof(backend), "%s",
		         f->backend == DLREG_SCAN_MMAP ? "mmap" : "auto");
	}
	snprintf(out, len, "scan/%s/%s/%s", f->kind == KIND_NOTE ? "note" : "marker",
	         f->cold ? "cold" : "warm", backend);
}

/*
 * Registers body `fn` under `name` over every size the family applies to,
 * timed by wall clock or, with `manual`, by the body itself; the family is
 * copied into storage that lives as long as the program.
 */
static int register_family(const struct scan_family *tmpl, const char *name, dlreg_bench_fn *fn,
                           bool manual)
{
	/* Per kind and cache: mmap, the read sweep, auto, auto_vs_best; and
	 * auto_vs_memory. */
	static struct scan_family families[2 * 2 * (MAX_BUFS + 3) + 1];
	static unsigned used;
	uint64_t min = tmpl->kind == KIND_NOTE ? note_min_size : 0;

	if (used == sizeof(families) / sizeof(families[0]))
		return -1;
	struct scan_family *f = &families[used++];

	*f = *tmpl;
	dlreg_bench_t *b = dlreg_bench_register(name, fn, f);

	for (unsigned i = 0; b && i < nsizes; i++)
		if (sizes[i] >= min &&
		    (f->backend != DLREG_SCAN_READ || buf_applies(f->buf, sizes[i])))
			b = dlreg_bench_arg(b, (int64_t)sizes[i]);
	b = dlreg_bench_arg_name(b, "size");
	b = manual ? dlreg_bench_use_manual_time(b) : dlreg_bench_use_real_time(b);
	if (!dlreg_bench_unit(b, DLREG_BENCH_US)) {
		fprintf(stderr, "%s: cannot register %s\n", PROG, name);
		return -1;
	}
	return 0;
}

static int register_scan(const struct scan_family *f)
{
	char name[96];

	scan_name(f, name, sizeof(name));
	return register_family(f, name, bench_scan, false);
}

static int register_auto_vs(const struct scan_family *f)
{
	char name[96];

	snprintf(name, sizeof(name), "scan/%s/%s/auto_vs_best",
	         f->kind == KIND_NOTE ? "note" : "marker", f->cold ? "cold" : "warm");
	return register_family(f, name, bench_auto_vs, true);
}

static int register_mem(void)
{
	static const struct mem_family families[] = {
	        {"scan/marker/warm/memchr", search_memchr},
	        {"scan/marker/warm/memmem", search_memmem},
	        {"scan/marker/warm/dlreg_find", search_dlreg_find},
	        {"scan/marker/warm/dlreg_find_noprefetch", search_dlreg_find_noprefetch},
	};

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		dlreg_bench_t *b =
		        dlreg_bench_register(families[i].name, bench_mem, (void *)&families[i]);

		for (unsigned j = 0; b && j < nsizes; j++)
			b = dlreg_bench_arg(b, (int64_t)sizes[j]);
		b = dlreg_bench_unit(dlreg_bench_arg_name(dlreg_bench_use_real_time(b), "size"),
		                     DLREG_BENCH_US);
		if (!b) {
			fprintf(stderr, "%s: cannot register %s\n", PROG, families[i].name);
			return -1;
		}
	}
	return 0;
}

/* Every backend of one (kind, cache) pair: mmap, the read sweep, auto. */
static int register_kind(enum file_kind kind, int cold)
{
	struct scan_family f = {kind, DLREG_SCAN_MMAP, 0, cold, {0}};
	int err = register_scan(&f);

	f.backend = DLREG_SCAN_READ;
	for (unsigned i = 0; !err && i < opt.nbufs; i++) {
		f.buf = opt.bufs[i];
		err = register_scan(&f);
	}
	f.backend = DLREG_SCAN_AUTO;
	f.buf = 0;
	err = err ? err : register_scan(&f) || register_auto_vs(&f);
	if (!err && kind == KIND_MARKER && !cold)
		err = register_family(&f, "scan/marker/warm/auto_vs_memory", bench_auto_vs_memory,
		                      true);
	return err;
}

static int register_all(void)
{
	for (int cold = 0; cold <= opt.cold; cold++)
		for (int kind = KIND_MARKER; kind <= KIND_NOTE; kind++)
			if (register_kind((enum file_kind)kind, cold))
				return -1;
	return register_mem();
}

/* ------------------------------------------------------------- context --- */

/* The value of `key` in /proc/meminfo ("0 kB"), or "unknown". */
static void meminfo_value(const char *key, char *out, size_t len)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	size_t klen = strlen(key);

	snprintf(out, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		const char *v = line + klen + 1;

		while (*v == ' ')
			v++;
		snprintf(out, len, "%.*s", (int)strcspn(v, "\n"), v);
		break;
	}
	if (f)
		fclose(f);
}

static void first_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(out, len, "unknown");
	if (f && fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* read_ahead_kb of the block device under the scan directory, or "unknown". */
static void read_ahead_kb(char *out, size_t len)
{
	struct stat sb;
	char path[96];

	snprintf(out, len, "unknown");
	if (stat(work_dir, &sb) != 0)
		return;
	/* A whole disk has queue/ itself; a partition's is its parent's. */
	static const char *const forms[] = {"/sys/dev/block/%u:%u/queue/read_ahead_kb",
	                                    "/sys/dev/block/%u:%u/../queue/read_ahead_kb"};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(path, sizeof(path), forms[i], major(sb.st_dev), minor(sb.st_dev));
		if (access(path, R_OK) == 0) {
			first_line(path, out, len);
			return;
		}
	}
}

/*
 * Adds one key of the run's context unless an earlier one failed; returns
 * the first error (a dlreg_bench_err value).  DLREG_BENCH_EINVAL: the key is
 * one --benchmark_context set too (the shim says so on stderr).
 */
static int context_add(int err, const char *key, const char *value)
{
	int e = dlreg_bench_context_add(key, value);

	return err ? err : e;
}

static int context_add_all(void)
{
	char buf[256];
	struct statfs sfs;
	int err = 0;

	meminfo_value("FileHugePages", buf, sizeof(buf));
	err = context_add(err, "scan.FileHugePages", buf);
	first_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
	err = context_add(err, "scan.transparent_hugepage", buf);
	snprintf(buf, sizeof(buf), "0x%lx",
	         statfs(work_dir, &sfs) == 0 ? (unsigned long)sfs.f_type : 0ul);
	err = context_add(err, "scan.dir_fs_magic", buf);
	err = context_add(err, "scan.warm", warm_names[opt.warm]);
	read_ahead_kb(buf, sizeof(buf));
	err = context_add(err, "scan.read_ahead_kb", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)DLREG_SCAN_AUTO_MMAP_MIN);
	err = context_add(err, "scan.auto_mmap_min", buf);
	snprintf(buf, sizeof(buf), "%zu", (size_t)DLREG_SCAN_READ_BUF_DEFAULT);
	err = context_add(err, "scan.read_buf_default", buf);
	/* What auto weighs cold mappings below auto_mmap_min by (dlreg/scan.h). */
	snprintf(buf, sizeof(buf), "%u", dlreg_scan_fault_cost_ns());
	err = context_add(err, "scan.fault_cost_ns", buf);
	snprintf(buf, sizeof(buf), "%u", DLREG_SCAN_AUTO_SLOW_FAULT_NS);
	err = context_add(err, "scan.auto_slow_fault_ns", buf);
	return err;
}

/* ------------------------------------------------------------- options --- */

/* "4096", "64K", "1M", "1G" (binary units). */
static int parse_size(const char *flag, const char *text, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	uint64_t mul = 1;

	if (*end == 'K' || *end == 'k')
		mul = KIB;
	else if (*end == 'M' || *end == 'm')
		mul = MIB;
	else if (*end == 'G' || *end == 'g')
		mul = GIB;
	if (mul != 1)
		end++;
	if (errno || end == text || *end || text[0] == '-' || v == 0 || v > (64 * GIB) / mul) {
		fprintf(stderr, "%s: %s wants a size like 4096, 64K, 1M or 1G, not '%s'\n", PROG,
		        flag, text);
		return -1;
	}
	*out = v * mul;
	return 0;
}

/*
 * "16K,128K,...": one to MAX_BUFS sizes, each in 16K..4M, no empty item and
 * no size twice (two families of one name).
 */
static int parse_bufs(const char *text)
{
	char item[64];
	const char *p = text;

	if (!*text) {
		fprintf(stderr, "%s: --read-bufs wants a list like 16K,128K, not ''\n", PROG);
		return -1;
	}
	opt.nbufs = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (len == 0) {
			fprintf(stderr, "%s: --read-bufs: empty item in '%s'\n", PROG, text);
			return -1;
		}
		if (opt.nbufs == MAX_BUFS) {
			fprintf(stderr, "%s: --read-bufs: more than %u sizes in '%s'\n", PROG,
			        (unsigned)MAX_BUFS, text);
			return -1;
		}
		if (len >= sizeof(item)) {
			fprintf(stderr, "%s: --read-bufs: item '%.*s...' is too long\n", PROG,
			        (int)sizeof(item) - 1, p);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_size("--read-bufs", item, &v))
			return -1;
		if (v < DLREG_SCAN_READ_BUF_MIN || v > DLREG_SCAN_READ_BUF_MAX) {
			fprintf(stderr, "%s: --read-bufs: %s is outside 16K..4M\n", PROG, item);
			return -1;
		}
		for (unsigned i = 0; i < opt.nbufs; i++) {
			if (opt.bufs[i] == v) {
				fprintf(stderr, "%s: --read-bufs: %s is listed twice in '%s'\n", PROG,
				        item, text);
				return -1;
			}
		}
		opt.bufs[opt.nbufs++] = (size_t)v;
		p += len;
		if (!*p)
			return 0;
		p++; /* the comma; a trailing one leaves an empty item */
	}
}

static const char *flag_arg(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0)
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int option_one(int argc, char **argv, int *i)
{
	const char *v;

	if (strcmp(argv[*i], "--no-cold") == 0)
		opt.cold = 0;
	else if (strcmp(argv[*i], "--progress") == 0)
		opt.progress = 1;
	else if ((v = flag_arg(argc, argv, i, "--warm"))) {
		const unsigned n = sizeof(warm_names) / sizeof(warm_names[0]);
		unsigned k = 0;

		while (k < n && strcmp(v, warm_names[k]) != 0)
			k++;
		if (k == n) {
			fprintf(stderr, "%s: --warm wants scanned, readahead or written, not '%s'\n",
			        PROG, v);
			return -1;
		}
		opt.warm = (enum warm_how)k;
	} else if ((v = flag_arg(argc, argv, i, "--scan-dir"))) {
		if (!*v) {
			fprintf(stderr, "%s: --scan-dir wants a directory, not ''\n", PROG);
			return -1;
		}
		opt.scan_dir = v;
	} else if ((v = flag_arg(argc, argv, i, "--meta-plugin")))
		opt.meta_plugin = v;
	else if ((v = flag_arg(argc, argv, i, "--min-size")))
		return parse_size("--min-size", v, &opt.min_size);
	else if ((v = flag_arg(argc, argv, i, "--max-size")))
		return parse_size("--max-size", v, &opt.max_size);
	else if ((v = flag_arg(argc, argv, i, "--read-bufs")))
		return parse_bufs(v);
	else if ((v = flag_arg(argc, argv, i, "--size-factor"))) {
		if (strcmp(v, "2") != 0 && strcmp(v, "4") != 0) {
			fprintf(stderr, "%s: --size-factor wants 2 or 4, not '%s'\n", PROG, v);
			return -1;
		}
		opt.size_factor = (unsigned)(v[0] - '0');
	} else {
		static const char *const valued[] = {"--warm",     "--scan-dir",  "--meta-plugin",
		                                     "--min-size", "--max-size",  "--read-bufs",
		                                     "--size-factor"};

		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(argv[*i], valued[k]) == 0) {
				/* flag_arg found the name but no value after it. */
				fprintf(stderr, "%s: %s needs a value: %s=VALUE\n", PROG, argv[*i],
				        argv[*i]);
				return -1;
			}
		fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", PROG, argv[*i]);
		return -1;
	}
	return 0;
}

static int options_parse(int argc, char **argv)
{
	static const size_t default_bufs[] = {16 * KIB,  64 * KIB, 128 * KIB,
	                                      256 * KIB, MIB,      4 * MIB};

	opt.nbufs = sizeof(default_bufs) / sizeof(default_bufs[0]);
	memcpy(opt.bufs, default_bufs, sizeof(default_bufs));
	for (int i = 1; i < argc; i++)
		if (option_one(argc, argv, &i))
			return -1;
	if (opt.min_size > opt.max_size) {
		fprintf(stderr, "%s: --min-size is above --max-size\n", PROG);
		return -1;
	}
	/* 4 KiB * factor^k, clipped to the requested range. */
	for (uint64_t s = 4 * KIB; s <= 64 * GIB && nsizes < MAX_SIZES; s *= opt.size_factor)
		if (s >= opt.min_size && s <= opt.max_size)
			sizes[nsizes++] = s;
	if (!nsizes) {
		fprintf(stderr, "%s: no size of 4K * %u^k lies in --min-size..--max-size\n", PROG,
		        opt.size_factor);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	printf("usage: " PROG
	       " [--scan-dir=DIR] [--min-size=S] [--max-size=S] [--size-factor=2|4]\n"
	       "       [--read-bufs=S,...] [--no-cold] [--warm=scanned|readahead|written]\n"
	       "       [--meta-plugin=PATH] [--benchmark_* flags]\n\n"
	       "Scanner benchmarks: full-file marker search and ELF note lookup through the\n"
	       "mmap, read and auto backends, warm and cold page cache, plus memchr, memmem\n"
	       "and dlreg_find over the same bytes in RAM.  Sizes are 4K * F^k.\n\n"
	       "  --scan-dir=DIR      where the test files go (default $TMPDIR, else /var/tmp);\n"
	       "                      must be disk-backed for the cold runs\n"
	       "  --min-size=S        smallest file size (default 4K)\n"
	       "  --max-size=S        largest file size (default 1G)\n"
	       "  --size-factor=F     step between sizes, 2 or 4 (default 4)\n"
	       "  --read-bufs=LIST    read backend buffer sweep, 1 to 8 sizes in 16K..4M\n"
	       "                      (default 16K,64K,128K,256K,1M,4M)\n"
	       "  --no-cold           skip the cold page cache runs\n"
	       "  --warm=HOW          how a warm file gets into the page cache: scanned\n"
	       "                      (default: evicted, then scanned once by dlreg with\n"
	       "                      its default options), readahead (evicted, then read\n"
	       "                      once) or written (the folios its writes left; use\n"
	       "                      with --no-cold)\n"
	       "  --progress          report file generation on stderr (default: on a TTY)\n"
	       "  --meta-plugin=PATH  ELF plugin with a metadata note (default: the build's)\n\n"
	       "Exit status: 0 success, 1 setup or the run failed, a benchmark reported an\n"
	       "error (ERROR OCCURRED) or stdout could not be written, 2 usage error, 3 no\n"
	       "benchmark matches --benchmark_filter.\n\n");
	dlreg_bench_print_default_help();
}

int main(int argc, char **argv)
{
	opt.progress = isatty(STDERR_FILENO);
	if (dlreg_bench_initialize(&argc, argv, usage) != 0 || options_parse(argc, argv) != 0)
		return 2;
	if (cleanup_install() != 0 || work_dir_create() != 0)
		return 1;
	/* Before the files are written: a clash with --benchmark_context is a usage error. */
	int cerr = context_add_all();
	if (cerr == DLREG_BENCH_EINVAL)
		return 2;
	if (cerr != 0 || files_write() != 0 || register_all() != 0)
		return 1;
	size_t ran = dlreg_bench_run();
	int none = ran == 0;

	dlreg_bench_shutdown();
	if (none)
		fprintf(stderr, "%s: no benchmark matches --benchmark_filter\n", PROG);
	size_t errors = dlreg_bench_error_count();

	if (ran != DLREG_BENCH_RUN_FAILED && errors > 0)
		fprintf(stderr, "%s: %zu benchmark run(s) reported an error (see the report)\n", PROG,
		        errors);
	/* A failed run has said why on stderr. */
	if (dlreg_bench_stdout_check(PROG) != 0 || ran == DLREG_BENCH_RUN_FAILED || errors > 0)
		return 1;
	return none ? 3 : 0;
}
