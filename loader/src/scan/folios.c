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
 * against the kernel).  data=journal is read from /proc/fs/ext4/DEV/options,
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
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* Running kernel's major * 1000 + minor, once; 0 if unreadable. */
static unsigned kernel_version(void)
{
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

/*
 * Remembered answers: MEMO_SLOTS words, each a device number (major below
 * 2^12, minor below 2^20, as the kernel's own) shifted left by 2, the
 * answer in bit 1 and bit 0 set.  Direct-mapped by device; a racing update
 * loses only a memo.  A device whose numbers do not fit is asked each time.
 * A device number given to another file system (a loop device set up
 * again) keeps its answer until another device takes its slot.
 */
#define MEMO_SLOTS 8
static _Atomic uint64_t memo[MEMO_SLOTS];

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

void dlreg__folios_forget(void)
{
	for (unsigned i = 0; i < MEMO_SLOTS; i++)
		atomic_store_explicit(&memo[i], 0, memory_order_relaxed);
}

int dlreg__fd_caches_large_folios(int fd, dev_t dev)
{
	uint64_t key = 0;
	int keyed = memo_key(dev, &key);
	if (keyed) {
		uint64_t w = atomic_load_explicit(memo_slot(key), memory_order_relaxed);
		if ((w & 1) && w >> 2 == key)
			return (int)(w >> 1 & 1);
	}
	struct statfs sfs;
	if (fstatfs(fd, &sfs) != 0)
		return 0; /* not remembered: it may answer next time */
	int yes = dlreg__fs_type_large_folios((long)sfs.f_type, kernel_version());
	if (yes && (long)sfs.f_type == EXT4_MAGIC)
		yes = !ext4_data_journal(dev) && !ext4_encrypt_feature(fd);
	if (keyed)
		atomic_store_explicit(memo_slot(key), key << 2 | (uint64_t)yes << 1 | 1,
		                      memory_order_relaxed);
	return yes;
}
