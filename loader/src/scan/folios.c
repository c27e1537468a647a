/*
 * folios.c - whether a file's page cache holds large folios.
 *
 * auto maps a cold file only where it does (scan.h): a fault in a
 * MADV_HUGEPAGE mapping then reads the file ahead in 2 MiB folios, one
 * I/O each.  Without them readahead fills 4 KiB pages that are mapped 16
 * per fault, and a cold mapped scan is slower than read.  The kernel does
 * not say which it will do, so this knows it by file system:
 *
 *   ext4 from Linux 6.16, xfs from 5.18: large folios;
 *   but not ext4 mounted data=journal (as an option or as the default
 *   mount options in its superblock), nor ext4 with the encrypt feature
 *   (even for files that are not encrypted), nor with the verity feature.
 *
 * The ext4 exceptions were measured on Linux 6.18 with loop-mounted file
 * systems (a hinted mapping of an evicted 8 MiB file, FileHugePages in
 * /proc/meminfo; loader/tests/scan/test_scan_folios_mount.sh checks them
 * against the kernel, and the version rules as if on Linux 5.18, 6.15 and
 * 6.16).  data=journal is read from /proc/fs/ext4/DEV/options,
 * which lists the superblock's default options too (/proc/self/mountinfo
 * does not: there such a mount looks like one with nodelalloc and
 * nodioread_nolock, which has large folios).  The encrypt feature is
 * FS_IOC_GET_ENCRYPTION_POLICY_EX answering ENODATA instead of EOPNOTSUPP.
 * The verity feature cannot be seen without reading the superblock, which
 * needs the block device: such a file system counts as having large
 * folios, and its cold files from 64 KiB to 16 MiB are mapped.  Nor is a
 * single file with the journal-data attribute (chattr +j) seen, which the
 * kernel sources treat as data=journal (not measured: setting it needs
 * CAP_SYS_RESOURCE, which this VM's root lacks).  Kernel patches posted
 * in 2025 drop the data=journal exception and add one for file systems
 * whose journal is small for their size.  test_scan_folios_mount.sh
 * fails on a kernel without the data=journal exception (this rule then
 * needs a version bound); the small-journal case is not covered.
 *
 * overlayfs (containers): a file's pages are its layer file's, so that
 * file's file system decides, and cachestat() on the overlay file finds
 * none of them (Linux 6.18: 0 of 2048 pages of a file mincore() shows
 * all resident); auto asks mincore() instead (dlreg__fd_cache_elsewhere).
 * The layers are the lowerdir and upperdir the mount's entry in
 * /proc/self/mountinfo names: large folios only if every one has them.
 * Inside a container those are paths of the host, not reachable; then
 * the layers count as ext4 or xfs with default options (Docker's overlay2
 * supports no other backing file system), so large folios from Linux 6.16.
 * Measured on overlayfs over ext4 (Linux 6.18, auto_vs_best, marker
 * search, medians of 5) before auto knew this: it read every file, and
 * took 1.33-1.45x mmap's time cached from 4 to 64 MiB and 1.17-1.42x cold
 * from 64 KiB to 1 MiB.
 *
 * What counting wrong costs, measured on ext4 mounted data=journal (a loop
 * device with direct I/O, Linux 6.18, dlreg-bench-scan auto_vs_best, cold
 * marker search, medians of 7; auto reading as it now does): mmap, read
 * and auto took 334, 359 and 374 us at 256 KiB, 1068, 1059 and 1065 us at
 * 1 MiB, 4584, 4088 and 3973 us at 4 MiB.  Counted as having large
 * folios, auto would map after its first page, about mmap's time and that
 * page's read: 1.15x the best at 4 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#endif

#include "folios.h"

/* statfs() f_type of the file systems whose page cache holds large folios. */
#define EXT4_MAGIC 0xEF53L /* ext2 and ext3 too: the ext4 driver mounts them */
#define XFS_MAGIC 0x58465342L
#define OVERLAYFS_MAGIC 0x794C7630L

/* What is remembered of a device (folios.h). */
enum {
	TRAIT_LARGE = DLREG__LARGE_FOLIOS,        /* its page cache holds large folios */
	TRAIT_ELSEWHERE = DLREG__CACHE_ELSEWHERE, /* its pages are another file's */
};

#ifdef DLREG_TEST_KERNEL_HOOK
/* Defined by test_scan_folios.c: the kernel version to answer instead of
 * the running one's (major * 1000 + minor), or 0 for the running one. */
unsigned dlreg__test_kernel_version(void);
#endif

/* Running kernel's major * 1000 + minor, once; 0 if unreadable. */
static unsigned kernel_version(void)
{
#ifdef DLREG_TEST_KERNEL_HOOK
	if (dlreg__test_kernel_version())
		return dlreg__test_kernel_version();
#endif
	static _Atomic unsigned cached; /* 0: not asked yet; 1: asked, unreadable */
	unsigned v = atomic_load_explicit(&cached, memory_order_relaxed);
	if (v)
		return v == 1 ? 0 : v;
	struct utsname u;
	unsigned maj = 0, min = 0;
	v = 1;
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &maj, &min) == 2 && maj > 0)
		v = maj * 1000 + min;
	atomic_store_explicit(&cached, v, memory_order_relaxed); /* racing callers store the same */
	return v == 1 ? 0 : v;
}

int dlreg__fs_type_large_folios(long fs_type, unsigned kernel)
{
	if (fs_type == EXT4_MAGIC)
		return kernel >= 6016;
	if (fs_type == XFS_MAGIC)
		return kernel >= 5018;
	return 0;
}

static int is_option_sep(char c)
{
	return c == ',' || c == '\n' || c == ' ' || c == '\t' || c == '\0';
}

int dlreg__options_have(const char *text, size_t len, const char *opt)
{
	size_t n = strlen(opt);
	size_t i = 0;
	while (i < len) {
		while (i < len && is_option_sep(text[i]))
			i++;
		size_t start = i;
		while (i < len && !is_option_sep(text[i]))
			i++;
		if (i - start == n && n && memcmp(text + start, opt, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether the ext4 file system on block device dev runs data=journal:
 * /proc/fs/ext4/NAME/options, NAME being the device's kernel name
 * (/sys/dev/block/MAJ:MIN links to it).  0 when either is unreadable.
 */
static int ext4_data_journal(dev_t dev)
{
	char path[64], link[PATH_MAX];
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u", major(dev), minor(dev));
	ssize_t k = readlink(path, link, sizeof link - 1);
	if (k <= 0)
		return 0;
	link[k] = '\0';
	const char *name = strrchr(link, '/');
	name = name ? name + 1 : link;
	char opts_path[PATH_MAX];
	if (snprintf(opts_path, sizeof opts_path, "/proc/fs/ext4/%s/options", name) >=
	    (int)sizeof opts_path)
		return 0;
	int fd = open(opts_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char text[4096]; /* about 400 bytes on Linux 6.18 */
	size_t got = 0;
	ssize_t r;
	while (got < sizeof text && (r = read(fd, text + got, sizeof text - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return dlreg__options_have(text, got, "data=journal");
}

/* Whether fd's ext4 file system has the encrypt feature (the file need not be encrypted). */
static int ext4_encrypt_feature(int fd)
{
#ifdef FS_IOC_GET_ENCRYPTION_POLICY_EX
	struct fscrypt_get_policy_ex_arg arg;
	memset(&arg, 0, sizeof arg);
	arg.policy_size = sizeof arg.policy;
	if (ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) == 0)
		return 1;
	/* ENODATA: the feature, no policy on this file; EOVERFLOW: a policy we do not know. */
	return errno == ENODATA || errno == EOVERFLOW;
#else
	(void)fd;
	return 0;
#endif
}

/* The traits of a file system that is not overlayfs, from a descriptor on it. */
static unsigned direct_traits(int fd, dev_t dev, long fs_type)
{
	int yes = dlreg__fs_type_large_folios(fs_type, kernel_version());
	if (yes && fs_type == EXT4_MAGIC)
		yes = !ext4_data_journal(dev) && !ext4_encrypt_feature(fd);
	return yes ? TRAIT_LARGE : 0;
}

static int is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* [p, end) with mountinfo's octal escapes (\054 for a comma) undone, into out. */
static int unescape(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;
	while (p < end) {
		char c = *p++;
		if (c == '\\' && end - p >= 3 && is_octal(p[0]) && is_octal(p[1]) &&
		    is_octal(p[2])) {
			c = (char)((p[0] - '0') << 6 | (p[1] - '0') << 3 | (p[2] - '0'));
			p += 3;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

int dlreg__overlay_layers(const char *opts, int (*fn)(const char *dir, void *arg), void *arg)
{
	char value[PATH_MAX], dir[PATH_MAX];
	int any = 0;
	for (const char *p = opts; *p;) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t klen = eq ? (size_t)(eq - p) : 0;
		/* "lowerdir=a:b::c" as given to mount (':' separates, '\\' escapes the next
		 * character, "::" starts the data-only layers); one layer per "lowerdir+=",
		 * "datadir+=" and "upperdir=" (Linux 6.8's new mount options). */
		int list = klen == 8 && memcmp(p, "lowerdir", 8) == 0;
		int one = (klen == 8 && memcmp(p, "upperdir", 8) == 0) ||
		          (klen == 9 && memcmp(p, "lowerdir+", 9) == 0) ||
		          (klen == 8 && memcmp(p, "datadir+", 8) == 0);
		if (list || one) {
			if (unescape(eq + 1, end, value, sizeof value) != 0)
				return -1;
			/* '\\' escapes the next character in every form; ':' separates
			 * only in lowerdir's list. */
			for (const char *v = value; *v;) {
				size_t n = 0;
				while (*v && !(list && *v == ':')) {
					if (*v == '\\' && v[1])
						v++;
					dir[n++] = *v++; /* no longer than value */
				}
				dir[n] = '\0';
				if (*v == ':')
					v++;
				if (n) {
					any = 1;
					int r = fn(dir, arg);
					if (r)
						return r;
				}
			}
		}
		p = *end ? end + 1 : end;
	}
	return any ? 0 : -1;
}

/* What the layers of an overlay mount showed. */
struct layer_walk {
	int without; /* a layer in reach without large folios */
	int unseen;  /* a layer out of reach: a relative path, gone, another overlay */
};

/* One layer: stops the walk (1) at the first in reach without large folios. */
static int layer_large(const char *dir, void *arg)
{
	struct layer_walk *w = arg;
	/* mountinfo shows a path as given to mount: a relative one is relative to
	 * whoever mounted it, not to this process. */
	int fd = dir[0] == '/' ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct stat st;
	struct statfs sfs;
	if (fd < 0 || fstat(fd, &st) != 0 || fstatfs(fd, &sfs) != 0 ||
	    (long)sfs.f_type == OVERLAYFS_MAGIC) {
		if (fd >= 0)
			close(fd);
		w->unseen = 1;
		return 0;
	}
	int yes = direct_traits(fd, st.st_dev, (long)sfs.f_type) & TRAIT_LARGE;
	close(fd);
	w->without = !yes;
	return !yes;
}

/* This process's mount ID of the mount fd is open on, or -1. */
static long fd_mount_id(int fd)
{
	char path[64], text[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	ssize_t got = read(in, text, sizeof text - 1);
	close(in);
	if (got <= 0)
		return -1;
	text[got] = '\0';
	const char *m = strstr(text, "mnt_id:");
	return m ? strtol(m + 7, NULL, 10) : -1;
}

/*
 * Whether every layer of the overlay mount that fd is on caches large
 * folios: 0 if one in reach does not; else -1 if one cannot be seen from
 * here (in a container; a relative path; an overlay) or the mount is not
 * found; else 1.
 */
static int overlay_layers_large(int fd)
{
	long id = fd_mount_id(fd);
	FILE *f = id >= 0 ? fopen("/proc/self/mountinfo", "re") : NULL;
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	int all = -1;
	while (getline(&line, &cap, f) > 0) {
		char *end;
		if (strtol(line, &end, 10) != id || *end != ' ')
			continue;
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE SUPEROPTS */
		char *sep = strstr(line, " - ");
		char type[32], *super = NULL;
		if (sep && sscanf(sep, " - %31s", type) == 1 && strcmp(type, "overlay") == 0) {
			super = strrchr(sep, ' ');
			super = super ? super + 1 : NULL;
		}
		if (super) {
			super[strcspn(super, "\n")] = '\0';
			struct layer_walk w = {0, 0};
			if (dlreg__overlay_layers(super, layer_large, &w) >= 0)
				all = w.without ? 0 : w.unseen ? -1 : 1;
		}
		break;
	}
	free(line);
	fclose(f);
	return all;
}

static unsigned overlay_traits(int fd)
{
	int large = overlay_layers_large(fd);
	if (large < 0)
		large = dlreg__fs_type_large_folios(EXT4_MAGIC, kernel_version());
	return TRAIT_ELSEWHERE | (large ? TRAIT_LARGE : 0);
}

/*
 * Remembered answers: MEMO_SLOTS words, each a device number (major below
 * 2^12, minor below 2^20, as the kernel's own) in bits 32-63, a 16-bit tag
 * in bits 16-31, the traits in bits 1-2 and bit 0 set.  Direct-mapped by
 * device; a racing update loses only a memo.  A device whose numbers do
 * not fit is asked each time.
 * Anonymous devices (major 0: overlayfs, tmpfs, btrfs) get their numbers
 * back and give them out again as soon as a file system is unmounted, so
 * for them the tag names the mount: its unique mount ID (statx
 * STATX_MNT_ID_UNIQUE, Linux 6.8; never reused), else its file-system
 * type, and a recheck asks it again (one statx() or fstatfs()).  (With the
 * type only, an overlay mounted anew on another's number keeps the old
 * one's answer.)  auto rechecks only before deciding whether to drop a
 * file's cached pages (scan.c); elsewhere a stale answer costs speed, not
 * the cache, and a statx() per scan cost 0.6 us on a 64 KiB scan of 11 us
 * on overlayfs.  A block device given to another file
 * system (a loop device set up again) keeps its answer until another
 * device takes its slot.
 */
#define MEMO_SLOTS 8
static _Atomic uint64_t memo[MEMO_SLOTS];

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x4000U /* Linux 6.8; C libraries of that time lack the name */
#endif

static int memo_key(dev_t dev, uint64_t *key)
{
	unsigned ma = major(dev), mi = minor(dev);
	if (ma >= (1u << 12) || mi >= (1u << 20))
		return 0;
	*key = (uint64_t)ma << 20 | mi;
	return 1;
}

static _Atomic uint64_t *memo_slot(uint64_t key)
{
	return &memo[(key ^ key >> 20) % MEMO_SLOTS];
}

static uint64_t tag16(uint64_t x)
{
	return (x ^ x >> 16 ^ x >> 32 ^ x >> 48) & 0xFFFF;
}

/*
 * The memo tag of an anonymous device's mount (above); sets *sfs and
 * *have_sfs when it had to ask fstatfs().  -1 if neither answers.
 */
static int64_t anon_tag(int fd, struct statfs *sfs, int *have_sfs)
{
#if defined(__linux__) && defined(STATX_MNT_ID)
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return (int64_t)tag16(stx.stx_mnt_id);
#endif
	if (fstatfs(fd, sfs) != 0)
		return -1;
	*have_sfs = 1;
	return (int64_t)tag16((uint64_t)sfs->f_type);
}

void dlreg__folios_forget(void)
{
	for (unsigned i = 0; i < MEMO_SLOTS; i++)
		atomic_store_explicit(&memo[i], 0, memory_order_relaxed);
}

static unsigned fd_traits(int fd, dev_t dev, int recheck)
{
	uint64_t key = 0;
	int keyed = memo_key(dev, &key);
	int anon = keyed && major(dev) == 0;
	struct statfs sfs;
	int have_sfs = 0;
	int64_t tag = 0;
	if (anon && recheck && (tag = anon_tag(fd, &sfs, &have_sfs)) < 0)
		return 0;
	if (keyed) {
		uint64_t w = atomic_load_explicit(memo_slot(key), memory_order_relaxed);
		if ((w & 1) && w >> 32 == key &&
		    (!anon || !recheck || (w >> 16 & 0xFFFF) == (uint64_t)tag))
			return (unsigned)(w >> 1 & 3);
	}
	if (anon && !recheck && (tag = anon_tag(fd, &sfs, &have_sfs)) < 0)
		return 0;
	if (!have_sfs && fstatfs(fd, &sfs) != 0)
		return 0; /* not remembered: it may answer next time */
	unsigned traits = (long)sfs.f_type == OVERLAYFS_MAGIC
	                          ? overlay_traits(fd)
	                          : direct_traits(fd, dev, (long)sfs.f_type);
	if (keyed)
		atomic_store_explicit(memo_slot(key),
		                      key << 32 | (uint64_t)tag << 16 | (uint64_t)traits << 1 | 1,
		                      memory_order_relaxed);
	return traits;
}

unsigned dlreg__fd_cache_traits(int fd, dev_t dev, int recheck)
{
	return fd_traits(fd, dev, recheck);
}

int dlreg__fd_caches_large_folios(int fd, dev_t dev)
{
	return (fd_traits(fd, dev, 1) & TRAIT_LARGE) != 0;
}

int dlreg__fd_cache_elsewhere(int fd, dev_t dev)
{
	return (fd_traits(fd, dev, 1) & TRAIT_ELSEWHERE) != 0;
}
