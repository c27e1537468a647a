/* internal.h - helpers shared by the registry and the scanner (not installed). */
#ifndef DLREG_INTERNAL_H
#define DLREG_INTERNAL_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dlreg/dlreg.h"

#if defined(__GNUC__)
#define DLREG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DLREG_LIKELY(x) __builtin_expect(!!(x), 1)
#define DLREG_UNLIKELY(x) __builtin_expect(!!(x), 0)
/*
 * Initial-exec TLS: an access is one %fs-relative load, never a
 * __tls_get_addr call (which may allocate and take the loader's TLS lock).
 * For the read path's hot thread-locals and for what the fault handler
 * reads.  It costs a few bytes of the static TLS surplus glibc reserves
 * for dlopen'ed libraries.
 */
#define DLREG_TLS_IE __attribute__((tls_model("initial-exec")))
#else
#define DLREG_PRINTF(f, a)
#define DLREG_LIKELY(x) (x)
#define DLREG_UNLIKELY(x) (x)
#define DLREG_TLS_IE
#endif

/* dlopen() flags for DLREG_HINT_* (also used by the reference registries). */
static inline int dlreg__rtld_flags(unsigned hints)
{
	int f = (hints & DLREG_HINT_LAZY) ? RTLD_LAZY : RTLD_NOW;
	f |= (hints & DLREG_HINT_GLOBAL) ? RTLD_GLOBAL : RTLD_LOCAL;
	if (hints & DLREG_HINT_NODELETE)
		f |= RTLD_NODELETE;
#ifdef RTLD_DEEPBIND
	if (hints & DLREG_HINT_DEEPBIND)
		f |= RTLD_DEEPBIND;
#endif
	return f;
}

/* The calling thread's detail text (see dlreg_errdetail). */
#define DLREG__DETAIL_LEN 512
void dlreg__set_detail(const char *fmt, ...) DLREG_PRINTF(1, 2);
void dlreg__clear_detail(void);

/*
 * A copy of the detail text, kept across user code a call runs (the log
 * sink, a plugin's constructor or destructor), which may call the registry
 * and so replace the text the caller is to see.
 */
struct dlreg__detail {
	char text[DLREG__DETAIL_LEN];
};
void dlreg__save_detail(struct dlreg__detail *saved);
void dlreg__restore_detail(const struct dlreg__detail *saved);

/*
 * Writes a loggable form of `path` into buf: "basename#1a2b3c4d" (the hash
 * is FNV-1a 32 of the full path, stable across runs) or, with full != 0, the
 * path itself.  Always NUL-terminates when len > 0.
 */
void dlreg__redact_path(const char *path, char *buf, size_t len, int full);

/*
 * Copies text into buf, redacting unless full every absolute path it
 * contains (a run starting with '/' at the text's start or after a space,
 * quote, '(' or ':', up to whitespace, ':', ',', ')' or a quote) and every
 * occurrence of `path` (when it is not NULL and has a directory part) as
 * one path, wherever it stands: the string a caller gave may be relative or
 * hold spaces or colons, which the scan for absolute paths would cut short
 * or miss.  Always NUL-terminates when len > 0.
 */
void dlreg__redact_text_path(const char *text, const char *path, char *buf, size_t len,
			     int full);

/* 64-bit string hash, word at a time; *len_out gets strlen(s). */
static inline uint64_t dlreg__hash_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static inline uint64_t dlreg__hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	uint64_t w;
	const char *start = s;
	while (n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	if (n) {
		/* One 8-byte load ending at the last byte when the string is long
		 * enough: a byte-wise partial copy read back as a word stalls on
		 * store forwarding (measured with perf on the read path). */
		if (s - start >= 8) {
			memcpy(&w, s + n - 8, 8);
		} else {
			w = 0;
			memcpy(&w, s, n);
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	return dlreg__hash_mix(h);
}

static inline uint64_t dlreg__hash_str(const char *s, size_t *len_out)
{
	size_t n = strlen(s);
	if (len_out)
		*len_out = n;
	return dlreg__hash_bytes(s, n);
}

#endif
