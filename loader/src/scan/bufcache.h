/* bufcache.h - read windows kept between scans (bufcache.c; not installed). */
#ifndef DLREG_SCAN_BUFCACHE_H
#define DLREG_SCAN_BUFCACHE_H

#include <stddef.h>

/* How many windows are kept, and the largest size kept. */
#define BUFCACHE_SLOTS 4
#define BUFCACHE_KEEP_MAX ((size_t)4 << 20) /* DLREG_SCAN_READ_BUF_MAX */

/*
 * A window of at least `cap` bytes, exclusively the caller's until it is
 * given back: a kept one if one is big enough, else a new one.  NULL when
 * out of memory.  Its contents are unspecified.
 */
void *dlreg__buf_take(size_t cap);

/* Ends the caller's use of a window from dlreg__buf_take (NULL: nothing). */
void dlreg__buf_give(void *buf);

/*
 * Frees every kept window (windows held now are given back later as
 * usual).  Runs when libdlreg is unloaded or the process exits, so no
 * memory stays allocated after it; safe while other threads scan.
 */
void dlreg__buf_drop_all(void);

/* The window's usable size (at least what was asked of dlreg__buf_take). */
size_t dlreg__buf_cap(const void *buf);

#endif
