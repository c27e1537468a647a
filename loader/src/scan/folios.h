/* folios.h - whether a file's page cache holds large folios (folios.c; not installed). */
#ifndef DLREG_SCAN_FOLIOS_H
#define DLREG_SCAN_FOLIOS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Whether the page cache of the file open on fd (on device dev, its
 * st_dev) holds large folios, so that a fault in a MADV_HUGEPAGE mapping
 * reads it ahead in 2 MiB folios.  Remembered per device.  0 when unsure.
 */
int dlreg__fd_caches_large_folios(int fd, dev_t dev);

/*
 * Both answers at once: DLREG__LARGE_FOLIOS | DLREG__CACHE_ELSEWHERE.
 * recheck: on an anonymous device (major 0: overlayfs, tmpfs, btrfs),
 * whose number a later mount may take, make sure the remembered answer is
 * this mount's (one statx() call); else the memo is trusted as it is.
 * The two functions above always recheck.
 */
enum { DLREG__LARGE_FOLIOS = 1, DLREG__CACHE_ELSEWHERE = 2 };
unsigned dlreg__fd_cache_traits(int fd, dev_t dev, int recheck);

/*
 * Whether the file open on fd (on device dev) keeps its pages in another
 * file's page cache, so that cachestat() on fd finds none of them
 * (overlayfs: the pages are the layer file's).  Remembered per device.
 */
int dlreg__fd_cache_elsewhere(int fd, dev_t dev);

/*
 * Layer directories named by an overlay mount's super options as
 * /proc/self/mountinfo prints them ("rw,lowerdir=/a:/b,upperdir=/c,..."):
 * calls fn(dir, arg) for each of lowerdir's and upperdir's, unescaped,
 * until fn returns non-zero, and returns what it returned; 0 after the
 * last, -1 when there is none or a name does not fit the buffer.
 */
int dlreg__overlay_layers(const char *opts, int (*fn)(const char *dir, void *arg), void *arg);

/*
 * Whether the file-system type (statfs f_type) caches large folios on
 * kernel `kernel` (major * 1000 + minor) with default mount options.
 */
int dlreg__fs_type_large_folios(long fs_type, unsigned kernel);

/*
 * Whether `text` (len bytes: an options list as /proc/fs/ext4/DEV/options
 * prints it, one per line, or comma-separated) holds the option `opt`
 * exactly (not as a prefix of a longer one).
 */
int dlreg__options_have(const char *text, size_t len, const char *opt);

/* Forgets every remembered device (for tests). */
void dlreg__folios_forget(void);

#endif
