/*
 * baselines.c - the "dlopen" and "unsync" variants (see baselines.h).
 */
#include "baselines.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlreg/dlreg.h"

/* dlopen() mode for dlreg hints, so every variant loads alike. */
static int baseline_mode(unsigned hints)
{
	int mode = (hints & DLREG_HINT_LAZY) ? RTLD_LAZY : RTLD_NOW;

	mode |= (hints & DLREG_HINT_GLOBAL) ? RTLD_GLOBAL : RTLD_LOCAL;
	if (hints & DLREG_HINT_NODELETE)
		mode |= RTLD_NODELETE;
	if (hints & DLREG_HINT_DEEPBIND)
		mode |= RTLD_DEEPBIND;
	return mode;
}

static int baseline_load_error(void)
{
	(void)dlerror();
	return DLREG_ELOAD;
}

/* ------------------------------------------------------------- dlopen --- */

/* glibc references taken through this variant and not dropped yet. */
struct raw_reg {
	atomic_long refs;
};

static int raw_create(void **reg)
{
	struct raw_reg *r = calloc(1, sizeof(*r));

	if (!r)
		return DLREG_ENOMEM;
	atomic_init(&r->refs, 0);
	*reg = r;
	return DLREG_OK;
}

static int raw_destroy(void *reg, unsigned long *leaked)
{
	struct raw_reg *r = reg;
	long refs = atomic_load(&r->refs);

	if (leaked)
		*leaked = refs > 0 ? (unsigned long)refs : 0;
	free(r);
	return refs > 0 ? DLREG_EBUSY : DLREG_OK;
}

static int raw_open(void *reg, const char *path, unsigned hints, void **handle)
{
	struct raw_reg *r = reg;
	void *dl = dlopen(path, baseline_mode(hints));

	if (!dl)
		return baseline_load_error();
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	*handle = dl;
	return DLREG_OK;
}

static int raw_close(void *reg, void *handle)
{
	struct raw_reg *r = reg;

	atomic_fetch_sub_explicit(&r->refs, 1, memory_order_relaxed);
	return dlclose(handle) == 0 ? DLREG_OK : baseline_load_error();
}

static int raw_sym(void *reg, void *handle, const char *name, void **out)
{
	(void)reg;
	void *s = dlsym(handle, name);

	if (!s)
		return DLREG_ENOSYM;
	*out = s;
	return DLREG_OK;
}

static void *raw_reader(void *reg)
{
	return reg;
}

static void raw_section(void *reader)
{
	(void)reader;
}

static int raw_read_sym(void *reader, const char *path, const char *name, void **out)
{
	(void)reader;
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!dl)
		return baseline_load_error();
	void *s = dlsym(dl, name);
	dlclose(dl);
	if (!s)
		return DLREG_ENOSYM;
	*out = s;
	return DLREG_OK;
}

static int raw_quiesce(void *reg)
{
	(void)reg;
	return DLREG_OK;
}

static long raw_dl_refs(void *reg)
{
	return atomic_load(&((struct raw_reg *)reg)->refs);
}

const struct dlreg_variant_ops dlreg_bench_dlopen_ops = {
        .name = "dlopen",
        .description = "no registry: dlopen+dlsym+dlclose per lookup",
        .create = raw_create,
        .destroy = raw_destroy,
        .open = raw_open,
        .close = raw_close,
        .sym = raw_sym,
        .reader = raw_reader,
        .read_begin = raw_section,
        .read_end = raw_section,
        .read_sym = raw_read_sym,
        .quiesce = raw_quiesce,
        .dl_refs = raw_dl_refs,
};

/* ------------------------------------------------------------- unsync --- */

#define UNSYNC_SLOTS 64u /* power of two; the benchmarks register < 32 paths */
#define UNSYNC_SYMS 8u

struct unsync_sym {
	uint64_t hash;
	const char *name; /* owned */
	void *addr;
};

struct unsync_entry {
	uint64_t hash;
	char *path; /* owned; NULL: free slot */
	void *dl;
	long refs;
	unsigned nsyms;
	struct unsync_sym syms[UNSYNC_SYMS];
};

struct unsync_table {
	struct unsync_entry slots[UNSYNC_SLOTS];
	long dl_refs;
};

/*
 * Word-at-a-time multiply/rotate hash: as cheap per byte as anything a real
 * registry would use, so the baseline is not slowed by a byte-wise hash.
 * The tail is one 8-byte load ending at the last byte (overlapping the
 * previous word): assembling it byte by byte and reloading it as a word
 * would stall on store forwarding, as much as the whole rest of the hash.
 */
static uint64_t unsync_hash(const char *s)
{
	size_t n = strlen(s), i = 0;
	uint64_t h = 0x243f6a8885a308d3ull + n;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h = (h << 27) | (h >> 37);
	}
	if (i < n) {
		if (n >= 8) {
			memcpy(&w, s + n - 8, 8);
		} else {
			w = 0;
			for (size_t k = 0; k < n; k++)
				w = (w << 8) | (unsigned char)s[k];
		}
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	return h ^ (h >> 31);
}

static struct unsync_entry *unsync_find(struct unsync_table *t, const char *path, uint64_t h)
{
	for (uint64_t i = 0; i < UNSYNC_SLOTS; i++) {
		struct unsync_entry *e = &t->slots[(h + i) & (UNSYNC_SLOTS - 1)];

		if (!e->path)
			return NULL;
		if (e->hash == h && strcmp(e->path, path) == 0)
			return e;
	}
	return NULL;
}

static struct unsync_entry *unsync_free_slot(struct unsync_table *t, uint64_t h)
{
	for (uint64_t i = 0; i < UNSYNC_SLOTS; i++) {
		struct unsync_entry *e = &t->slots[(h + i) & (UNSYNC_SLOTS - 1)];

		if (!e->path)
			return e;
	}
	return NULL;
}

static int unsync_create(void **reg)
{
	struct unsync_table *t = calloc(1, sizeof(*t));

	if (!t)
		return DLREG_ENOMEM;
	*reg = t;
	return DLREG_OK;
}

static void unsync_entry_free(struct unsync_entry *e)
{
	for (unsigned i = 0; i < e->nsyms; i++)
		free((char *)e->syms[i].name);
	free(e->path);
}

static int unsync_destroy(void *reg, unsigned long *leaked)
{
	struct unsync_table *t = reg;
	unsigned long live = 0;

	for (unsigned i = 0; i < UNSYNC_SLOTS; i++) {
		if (t->slots[i].path && t->slots[i].dl)
			live++;
		unsync_entry_free(&t->slots[i]);
	}
	if (leaked)
		*leaked = live;
	free(t);
	return live ? DLREG_EBUSY : DLREG_OK;
}

static int unsync_insert(struct unsync_table *t, const char *path, uint64_t h, void *dl,
                         struct unsync_entry **out)
{
	struct unsync_entry *e = unsync_free_slot(t, h);

	if (!e)
		return DLREG_ENOMEM;
	e->path = strdup(path);
	if (!e->path)
		return DLREG_ENOMEM;
	e->hash = h;
	e->dl = dl;
	e->refs = 0;
	e->nsyms = 0;
	*out = e;
	return DLREG_OK;
}

static int unsync_open(void *reg, const char *path, unsigned hints, void **handle)
{
	struct unsync_table *t = reg;
	uint64_t h = unsync_hash(path);
	struct unsync_entry *e = unsync_find(t, path, h);

	if (!e) {
		void *dl = dlopen(path, baseline_mode(hints));

		if (!dl)
			return baseline_load_error();
		int err = unsync_insert(t, path, h, dl, &e);

		if (err) {
			dlclose(dl);
			return err;
		}
		t->dl_refs++;
	}
	e->refs++;
	*handle = e;
	return DLREG_OK;
}

/*
 * Removing from linear probing would need a tombstone or a re-insert of the
 * cluster; the benchmarks never close an unsync entry before the end, so the
 * last close only drops the library and leaves the slot marked dead.
 */
static int unsync_close(void *reg, void *handle)
{
	struct unsync_table *t = reg;
	struct unsync_entry *e = handle;

	if (--e->refs > 0 || !e->dl)
		return DLREG_OK;
	int rc = dlclose(e->dl);

	e->dl = NULL;
	t->dl_refs--;
	return rc == 0 ? DLREG_OK : baseline_load_error();
}

static int unsync_sym_lookup(struct unsync_entry *e, const char *name, void **out)
{
	uint64_t h = unsync_hash(name);

	for (unsigned i = 0; i < e->nsyms; i++) {
		if (e->syms[i].hash == h && strcmp(e->syms[i].name, name) == 0) {
			*out = e->syms[i].addr;
			return DLREG_OK;
		}
	}
	void *addr = dlsym(e->dl, name);

	if (!addr)
		return DLREG_ENOSYM;
	if (e->nsyms < UNSYNC_SYMS) {
		char *copy = strdup(name);

		if (copy)
			e->syms[e->nsyms++] = (struct unsync_sym){h, copy, addr};
	}
	*out = addr;
	return DLREG_OK;
}

static int unsync_sym(void *reg, void *handle, const char *name, void **out)
{
	(void)reg;
	return unsync_sym_lookup(handle, name, out);
}

static int unsync_read_sym(void *reader, const char *path, const char *name, void **out)
{
	struct unsync_entry *e = unsync_find(reader, path, unsync_hash(path));

	if (!e || !e->dl)
		return DLREG_ENOTLOADED;
	return unsync_sym_lookup(e, name, out);
}

static long unsync_dl_refs(void *reg)
{
	return ((struct unsync_table *)reg)->dl_refs;
}

const struct dlreg_variant_ops dlreg_bench_unsync_ops = {
        .name = "unsync",
        .description = "unsynchronised open-addressing table (lower bound, not thread-safe)",
        .create = unsync_create,
        .destroy = unsync_destroy,
        .open = unsync_open,
        .close = unsync_close,
        .sym = unsync_sym,
        .reader = raw_reader,
        .read_begin = raw_section,
        .read_end = raw_section,
        .read_sym = unsync_read_sym,
        .quiesce = raw_quiesce,
        .dl_refs = unsync_dl_refs,
};
