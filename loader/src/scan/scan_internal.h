/* scan_internal.h - the scanner's private interfaces (not installed). */
#ifndef DLREG_SCAN_INTERNAL_H
#define DLREG_SCAN_INTERNAL_H

#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dlreg/scan.h"

/*
 * A byte source the parser reads through: a buffer, a mapping or a file
 * descriptor.  Every read is bounds-checked against `size` by the caller;
 * read_at() fails with DLREG_ETRUNCATED if the file ends early.
 */
struct dlreg__src {
	uint64_t size;
	int (*read_at)(struct dlreg__src *src, uint64_t off, void *dst, size_t n);
	/*
	 * First offset >= from where the metadata magic starts: DLREG_OK and
	 * *at, DLREG_ENOMETA if there is none, or an I/O error.
	 */
	int (*find_magic)(struct dlreg__src *src, uint64_t from, uint64_t *at);
};

/* What the parser found; json is malloc'd and owned by the job. */
struct dlreg__scan_job {
	struct dlreg__src *src;
	size_t max_meta;
	unsigned flags;
	unsigned notes_walked; /* bounded by DLREG_SCAN_MAX_NOTES */
	char *json; /* freed by whoever runs the job, also after a fault */
	size_t json_len;
	enum dlreg_meta_where where;
	uint64_t offset;
	unsigned elf_class;
	int elf_big_endian;
	char section[64];
	size_t build_id_len;
	unsigned char build_id[DLREG_BUILD_ID_MAX];
};

/* Runs the whole search (ELF notes, then sections, then markers). */
int dlreg__scan_run(struct dlreg__scan_job *job);

/* Room for any file's redacted name (basename#1a2b3c4d) with its NUL. */
#define DLREG__REDACTED_NAME_SIZE (NAME_MAX + 10)

/* The metadata magic, as bytes. */
extern const unsigned char dlreg__magic[DLREG_METADATA_MAGIC_LEN];

/* 1 if text[0..len) is UTF-8 forming exactly one JSON object (no NUL). */
int dlreg__json_valid(const char *text, size_t len);

/*
 * Per-thread fault scope.  While armed, a SIGBUS or SIGSEGV whose address is
 * inside [lo, hi) is stored in fault_addr and jumps back to `env`, which
 * must be sigsetjmp'd with savemask 1 before arming (the jump then restores
 * the caller's signal mask).  Arming unblocks SIGBUS and SIGSEGV in the
 * thread (a fault the thread blocks kills the process, handler or not);
 * disarming blocks again what was blocked.  Scopes nest per thread.  Faults
 * anywhere else go to the handler that was installed before ours.
 */
struct dlreg__fault_scope {
	sigjmp_buf env;
	uintptr_t lo;
	uintptr_t hi;
	struct dlreg__fault_scope *prev;
	sigset_t mask; /* the thread's signal mask when armed */
	int reblock;   /* 1: SIGBUS or SIGSEGV was blocked, mask is restored on disarm */
	volatile uintptr_t fault_addr; /* volatile: read after the jump */
};

/* Installs the handler once; 1 if it is (still) the active SIGBUS handler. */
int dlreg__fault_ready(void);
void dlreg__fault_arm(struct dlreg__fault_scope *scope, const void *base, size_t len);
void dlreg__fault_disarm(struct dlreg__fault_scope *scope);
/* Counts a fault after the jump landed (outside the signal handler). */
void dlreg__fault_note_caught(void);

#endif
