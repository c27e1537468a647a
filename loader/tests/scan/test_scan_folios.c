/*
 * test_scan_folios - auto's idea of which page caches hold large folios
 * (folios.c, compiled into this test), against the kernel's.
 *
 * Without arguments: the options-list matcher, the file-system type rule,
 * the per-device memo, and one probe of $TMPDIR (below).  With --probe
 * DIR: only the probe, strict both ways (test_scan_folios_mount.sh runs it
 * on loop-mounted ext4 file systems of each kind folios.c tells apart).
 *
 * The probe: an evicted 4 MiB file mapped with MADV_HUGEPAGE and faulted
 * in whole; the kernel cached it in large folios if /proc/self/smaps shows
 * at least 2 MiB of the mapping in PMD entries.  Where auto says large
 * folios the kernel must agree (else auto maps cold files it should
 * read).  The other way (auto reads where mapping would be faster) is
 * reported; with --probe it fails too.  Before that, with the file just
 * written and resident: whether cachestat() sees its pages (not on
 * overlayfs) must be what auto thinks, both ways.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "scan/folios.h"
#include "check.h"
#include "smaps.h"

#define PROBE_SIZE ((size_t)4 << 20)

/* The kernel version folios.c is told it runs on (--traits --kernel X.Y;
 * major * 1000 + minor), 0 for the running one. */
static unsigned as_kernel;

unsigned dlreg__test_kernel_version(void);
unsigned dlreg__test_kernel_version(void)
{
	return as_kernel;
}

static int has(const char *text, const char *opt)
{
	return dlreg__options_have(text, strlen(text), opt);
}

static void check_options(void)
{
	/* As /proc/fs/ext4/DEV/options prints them (Linux 6.18), trimmed. */
	static const char journal[] = "rw\nbsddf\nnodelalloc\nstripe=0\ndata=journal\n"
	                              "inode_readahead_blks=32\n";
	static const char ordered[] = "rw\nnodelalloc\ndata=ordered\ninode_readahead_blks=32\n";
	CHECK(has(journal, "data=journal"), "data=journal found in an options file");
	CHECK(!has(ordered, "data=journal"), "data=ordered is not data=journal");
	CHECK(has("rw,data=journal", "data=journal") && has("data=journal,rw", "data=journal") &&
	              has("data=journal", "data=journal"),
	      "comma-separated, first, last and only option");
	CHECK(!has("rw,data=journaled", "data=journal") && !has("rw,xdata=journal", "data=journal"),
	      "a longer option holding it is not it");
	CHECK(!has("", "data=journal") && !has("\n\n", "data=journal"), "empty lists");
	CHECK(!has("rw,data=journal", ""), "an empty option matches nothing");
	/* Not NUL-terminated: the length bounds the match. */
	CHECK(!dlreg__options_have("data=journalX", 11, "data=journal") &&
	              dlreg__options_have("data=journalX", 12, "data=journal"),
	      "the text ends at len");
}

static void check_fs_types(void)
{
	CHECK(dlreg__fs_type_large_folios(0xEF53, 6016) &&
	              !dlreg__fs_type_large_folios(0xEF53, 6015) &&
	              !dlreg__fs_type_large_folios(0xEF53, 6001),
	      "ext4 from Linux 6.16");
	CHECK(dlreg__fs_type_large_folios(0x58465342, 5018) &&
	              !dlreg__fs_type_large_folios(0x58465342, 5017),
	      "xfs from Linux 5.18");
	CHECK(!dlreg__fs_type_large_folios(0x9123683E, 6018) &&
	              !dlreg__fs_type_large_folios(0x01021994, 6018) &&
	              !dlreg__fs_type_large_folios(0xEF53, 0),
	      "btrfs and tmpfs never; ext4 with an unreadable kernel version not");
}

/* Collects the layer directories dlreg__overlay_layers() reports, joined by '|'. */
struct layers {
	char got[512];
	int stop_at; /* return 1 from this call on (counted from 1); 0: never */
	int calls;
};

static int collect(const char *dir, void *arg)
{
	struct layers *l = arg;
	size_t n = strlen(l->got);
	snprintf(l->got + n, sizeof l->got - n, "%s%s", n ? "|" : "", dir);
	return ++l->calls == l->stop_at;
}

static void check_layers(const char *opts, int want_rc, const char *want)
{
	struct layers l = {.got = "", .stop_at = 0, .calls = 0};
	int rc = dlreg__overlay_layers(opts, collect, &l);
	CHECK(rc == want_rc && strcmp(l.got, want) == 0,
	      "overlay options \"%s\": %d \"%s\", want %d \"%s\"", opts, rc, l.got, want_rc, want);
}

static void check_overlay_options(void)
{
	/* As /proc/self/mountinfo shows them (Linux 6.18). */
	check_layers("rw,lowerdir=/l,upperdir=/u,workdir=/w,uuid=on", 0, "/l|/u");
	check_layers("rw,lowerdir=/a:/b::/data,upperdir=/u,workdir=/w", 0, "/a|/b|/data|/u");
	check_layers("ro,lowerdir=/only", 0, "/only");
	/* Linux 6.8's one-layer-per-option form. */
	check_layers("rw,lowerdir+=/a,lowerdir+=/b,datadir+=/d,upperdir=/u,workdir=/w", 0,
	             "/a|/b|/d|/u");
	/* Octal escapes (a comma, a space, a backslash) and '\:' for a ':' in a name. */
	check_layers("rw,lowerdir=/x\\054y:/s\\040t,upperdir=/u\\134\\134v", 0, "/x,y|/s t|/u\\v");
	/* A '\\:' in a one-layer option is a ':' too, and does not separate. */
	check_layers("rw,lowerdir=/l,upperdir=/u\\134:p,lowerdir+=/a:b", 0, "/l|/u:p|/a:b");
	check_layers("rw,lowerdir=/a\\134:b:/c", 0, "/a:b|/c");
	/* Every octal digit (\\047 is a quote), an escape ending the options, a '\\' ending a name. */
	check_layers("rw,lowerdir=/a\\047b,upperdir=/u\\040", 0, "/a'b|/u ");
	check_layers("rw,upperdir=/u\\134,workdir=/w", 0, "/u\\");
	check_layers("rw,workdir=/w,xino=off", -1, "");
	check_layers("", -1, "");
	check_layers("rw,lowerdir=,upperdir=", -1, "");
	/* "lowerdirX" and "upperdirs" are other options. */
	check_layers("rw,lowerdirX=/a,upperdirs=/b,lowerdir=/c", 0, "/c");
	/* The walk stops where fn says so, with its answer. */
	struct layers l = {.got = "", .stop_at = 2, .calls = 0};
	int rc = dlreg__overlay_layers("lowerdir=/a:/b:/c,upperdir=/u", collect, &l);
	CHECK(rc == 1 && strcmp(l.got, "/a|/b") == 0, "the walk stops at fn's non-zero answer");
	/* A name longer than PATH_MAX fails whole. */
	static char big[PATH_MAX + 32];
	memcpy(big, "lowerdir=/", 10);
	memset(big + 10, 'x', PATH_MAX + 10);
	struct layers l2 = {.got = "", .stop_at = 0, .calls = 0};
	CHECK(dlreg__overlay_layers(big, collect, &l2) == -1 && l2.calls == 0,
	      "a layer name past PATH_MAX");
	/* At the bound: a name of PATH_MAX - 1 bytes fits its buffer, one of PATH_MAX does not. */
	big[10 + PATH_MAX - 2] = '\0';
	struct layers l3 = {.got = "", .stop_at = 0, .calls = 0};
	CHECK(dlreg__overlay_layers(big, collect, &l3) == 0 && l3.calls == 1,
	      "a layer name of PATH_MAX - 1 bytes");
	big[10 + PATH_MAX - 2] = 'x';
	big[10 + PATH_MAX - 1] = '\0';
	struct layers l4 = {.got = "", .stop_at = 0, .calls = 0};
	CHECK(dlreg__overlay_layers(big, collect, &l4) == -1 && l4.calls == 0,
	      "a layer name of PATH_MAX bytes");
}

/*
 * The memo, with made-up device numbers (major 4000: no block device, so no
 * options file is read for them): an answer is remembered for its device
 * and given for no other, neither one sharing its slot nor one whose minor
 * does not fit the memo.  Needs dir on a file system with large folios,
 * whose answer differs from procfs's none.
 */
static void check_memo(const char *dir)
{
	int large = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int none = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	dev_t a = makedev(4000, 1), b = makedev(4000, 9); /* the same slot */
	dlreg__folios_forget();
	if (large < 0 || none < 0 || dlreg__fd_cache_traits(large, a, 0) != DLREG__LARGE_FOLIOS) {
		printf("note: %s: no large folios here; the memo's checks did not run\n", dir);
	} else {
		CHECK(dlreg__fd_cache_traits(none, a, 0) == DLREG__LARGE_FOLIOS,
		      "a device's answer is remembered");
		CHECK(dlreg__fd_cache_traits(none, b, 0) == 0,
		      "and not given for another device in its slot");
		dlreg__folios_forget();
		/* Minor 2^20 of major 4000 must not read as major 4001's minor 0. */
		CHECK(dlreg__fd_cache_traits(large, makedev(4001, 0), 0) == DLREG__LARGE_FOLIOS &&
		              dlreg__fd_cache_traits(none, makedev(4000, 1u << 20), 0) == 0,
		      "a minor past 20 bits is asked each time, not taken for another device's");
	}
	dlreg__folios_forget();
	if (large >= 0)
		close(large);
	if (none >= 0)
		close(none);
}

/* Descriptors open in this process, or -1. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Whether transparent huge pages are off ("[never]"), so no PMD entry maps a file. */
static int thp_never(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return 1;
	int ok = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	return !ok || strstr(buf, "[never]") != NULL;
}

/* Pages of fd's first `size` bytes in the page cache, or -1. */
static long resident_pages(int fd, size_t size)
{
	size_t pages = size / 4096;
	unsigned char *vec = malloc(pages);
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	long in = -1;
	if (vec && p != MAP_FAILED && mincore(p, size, vec) == 0) {
		in = 0;
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	}
	if (p != MAP_FAILED)
		munmap(p, size);
	free(vec);
	return in;
}

#if defined(__linux__) && !defined(SYS_cachestat) && defined(__x86_64__)
#define SYS_cachestat 451
#endif

/*
 * 1 if cachestat() on fd finds none of the pages mincore() shows resident
 * (they are another file's: overlayfs), 0 if it finds them, -1 if it
 * cannot be told here (no cachestat, the file not resident).
 */
static int kernel_cache_elsewhere(int fd, size_t size)
{
#ifdef SYS_cachestat
	struct {
		uint64_t off, len;
	} range = {0, size};
	uint64_t cs[5];
	long in = resident_pages(fd, size);
	if (in < (long)(size / 4096) || syscall(SYS_cachestat, fd, &range, cs, 0) != 0)
		return -1;
	return cs[0] == 0;
#else
	(void)fd;
	(void)size;
	return -1;
#endif
}

/*
 * 1 if the kernel cached fd's evicted file in large folios, 0 if not, -1
 * if it cannot be told here (no eviction, THP off, no smaps).
 */
static int kernel_large_folios(int fd, const char *dir)
{
	long left = -1;
	for (int i = 0; i < 20 && left != 0; i++) { /* readahead in flight may hold a folio */
		if (fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
			break;
		left = resident_pages(fd, PROBE_SIZE);
		if (left != 0)
			usleep(1000);
	}
	if (left != 0) {
		printf("note: %s: the probe file cannot be evicted (%ld pages left)\n", dir, left);
		return -1;
	}
	if (thp_never()) {
		printf("note: transparent huge pages are off; no PMD entry can show a large "
		       "folio\n");
		return -1;
	}
	/* At a 2 MiB-aligned address, as a PMD entry needs (reserved, then replaced). */
	const size_t pmd = (size_t)2 << 20;
	unsigned char *res =
	        mmap(NULL, PROBE_SIZE + pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *p = MAP_FAILED;
	if (res != MAP_FAILED) {
		unsigned char *at = res + (pmd - (uintptr_t)res % pmd) % pmd;
		p = mmap(at, PROBE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	}
	if (p == MAP_FAILED) {
		printf("note: %s: cannot map the probe file: %s\n", dir, strerror(errno));
		if (res != MAP_FAILED)
			munmap(res, PROBE_SIZE + pmd);
		return -1;
	}
	int yes = -1;
	if (madvise(p, PROBE_SIZE, MADV_HUGEPAGE) == 0) {
		const volatile unsigned char *touch = p;
		for (size_t off = 0; off < PROBE_SIZE; off += 4096)
			(void)touch[off];
		long kb = file_pmd_mapped_kb(p);
		yes = kb < 0 ? -1 : kb >= 2048;
	}
	munmap(res, PROBE_SIZE + pmd);
	return yes;
}

/*
 * Probes `dir`.  strict: a disagreement either way fails; else only
 * auto's "large folios" where the kernel has none fails.
 */
static void probe(const char *dir, int strict)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/dlreg-folios-XXXXXX", dir);
	int fd = mkstemp(path);
	CHECK(fd >= 0, "create a probe file in %s: %s", dir, strerror(errno));
	if (fd < 0)
		return;
	unlink(path);
	char *block = malloc(1 << 20);
	int ok = block != NULL;
	for (size_t off = 0; ok && off < PROBE_SIZE; off += 1 << 20) {
		for (size_t i = 0; i < 1 << 20; i++)
			block[i] = (char)(i * 2654435761u >> 13);
		ok = pwrite(fd, block, 1 << 20, (off_t)off) == 1 << 20;
	}
	free(block);
	CHECK(ok, "write the probe file in %s", dir);
	struct stat st;
	if (!ok || fstat(fd, &st) != 0) {
		close(fd);
		return;
	}
	int fds = open_fds();
	dlreg__folios_forget();
	int said = dlreg__fd_caches_large_folios(fd, st.st_dev);
	CHECK(dlreg__fd_caches_large_folios(fd, st.st_dev) == said, "%s: the memo answers the same",
	      dir);
	int elsewhere = dlreg__fd_cache_elsewhere(fd, st.st_dev);
	CHECK(open_fds() == fds, "%s: asking left %d descriptors open", dir, open_fds() - fds);
	int blind = kernel_cache_elsewhere(fd, PROBE_SIZE); /* written: all resident */
	printf("%s: auto says cachestat() %s; it %s\n", dir,
	       elsewhere ? "cannot see the file's pages" : "sees the file's pages",
	       blind < 0 ? "cannot be asked here"
	       : blind   ? "found none of them"
	                 : "found them");
	CHECK(blind < 0 || elsewhere == blind, "%s: auto is wrong about what cachestat() sees",
	      dir);
	int truth = kernel_large_folios(fd, dir);
	close(fd);
	printf("%s: auto says %s large folios; the kernel %s\n", dir, said ? "with" : "without",
	       truth < 0 ? "cannot tell here"
	       : truth   ? "cached the probe in them"
	                 : "did not");
	if (truth < 0) {
		CHECK(!strict, "%s: the kernel's answer is needed", dir);
		return;
	}
	CHECK(!(said && !truth), "%s: auto counts on large folios the kernel does not make", dir);
	if (strict)
		CHECK(said || !truth, "%s: auto misses the large folios the kernel makes", dir);
	else if (!said && truth)
		printf("note: %s has large folios that auto does not count on (cold files below "
		       "16 MiB are read, not mapped)\n",
		       dir);
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: test_scan_folios [--probe DIR | --traits [--kernel X.Y]]\n\n"
		       "Checks which file systems the scanner's auto backend counts on to cache\n"
		       "large folios, against what the kernel does: unit checks and a probe of\n"
		       "$TMPDIR (default /var/tmp), or with --probe only DIR, strict both ways.\n"
		       "--traits: for each path read from stdin, what auto thinks of its file\n"
		       "system (large=0|1 elsewhere=0|1), remembered as auto remembers it;\n"
		       "with --kernel X.Y, as if the kernel were Linux X.Y.\n");
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--traits") && !strcmp(argv[2], "--kernel")) {
		unsigned maj, min;
		char end;
		if (sscanf(argv[3], "%u.%u%c", &maj, &min, &end) != 2 || maj == 0 || min >= 1000) {
			fprintf(stderr,
			        "test_scan_folios: --kernel wants X.Y (6.15, say), not '%s'\n",
			        argv[3]);
			return 2;
		}
		as_kernel = maj * 1000 + min;
		argc = 2;
	}
	if (argc == 2 && !strcmp(argv[1], "--traits")) {
		/* One path a line on stdin, the memo kept from one to the next. */
		char line[4096];
		dlreg__folios_forget();
		while (fgets(line, sizeof line, stdin)) {
			line[strcspn(line, "\n")] = '\0';
			int fd = open(line, O_RDONLY | O_CLOEXEC);
			struct stat st;
			if (fd < 0 || fstat(fd, &st) != 0) {
				printf("%s error=%s\n", line, strerror(errno));
			} else {
				printf("%s large=%d elsewhere=%d\n", line,
				       dlreg__fd_caches_large_folios(fd, st.st_dev),
				       dlreg__fd_cache_elsewhere(fd, st.st_dev));
			}
			if (fd >= 0)
				close(fd);
			fflush(stdout);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--probe")) {
		probe(argv[2], 1);
		return check_report("test_scan_folios --probe");
	}
	if (argc != 1) {
		fprintf(stderr, "usage: test_scan_folios [--probe DIR | --traits [--kernel X.Y]] "
		                "(--help for more)\n");
		return 2;
	}
	check_options();
	check_fs_types();
	check_overlay_options();
	const char *dir = getenv("TMPDIR");
	check_memo(dir && *dir ? dir : "/var/tmp");
	probe(dir && *dir ? dir : "/var/tmp", 0);
	return check_report("test_scan_folios");
}
