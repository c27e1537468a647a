/*
 * qt_ref.c - the Qt 6 QLibrary store scheme, for comparison.
 *
 * What is modelled (qlibrary.cpp / qlibrary_unix.cpp; README.md here):
 *   - a global mutex guards a map path -> entry; finding or creating an
 *     entry takes it and bumps libraryRefCount; releasing takes it,
 *     decrements, and deletes the entry at zero;
 *   - each entry has its own mutex around load and unload;
 *     libraryUnloadCount counts successful loads not yet unloaded, and the
 *     real dlclose() happens when it reaches zero, under the entry's mutex;
 *   - load unlocks the entry's mutex around dlopen() (the fix for
 *     QTBUG-83207, where a constructor recursing into the loader deadlocked);
 *   - resolve reads the handle (pHnd, an atomic pointer) and calls dlsym()
 *     every time, without the entry's mutex or the global one, like
 *     QLibraryPrivate::resolve -> resolve_sys.
 *
 * Where this deliberately differs from Qt: when two threads load one entry
 * at once, Qt keeps the second dlopen() handle and leaks one glibc reference
 * (README.md here).  Here the loser drops its surplus
 * reference, so the storms' leak accounting stays meaningful for the scheme
 * itself.  Qt's lock-free "already loaded" check and its lock-free
 * decrement of libraryUnloadCount (the mutex only at zero) are also taken
 * under the entry mutex, which makes them race-free and only slower.
 *
 * A handle is the entry with one libraryRefCount and one libraryUnloadCount
 * reference, like a loaded QLibrary object.  read_sym does what the static
 * QLibrary::resolve(fileName, symbol) does short of loading: global mutex,
 * find (taking a reference), dlsym, release.  A symbol it
 * returns stays valid only while the caller holds a handle to the library.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlreg/dlreg.h"
#include "internal.h"
#include "reference.h"

enum { QT_BUCKETS = 256 };

struct qt_lib {
	struct qt_lib *next; /* map chain; global mutex */
	uint64_t hash;
	long ref_count;        /* libraryRefCount; global mutex */
	pthread_mutex_t mutex; /* the per-library mutex */
	_Atomic(void *) dl;    /* pHnd; written under the entry mutex */
	long unload_count;     /* libraryUnloadCount; entry mutex */
	char path[];
};

struct qt_store {
	pthread_mutex_t mutex; /* the global store mutex */
	struct qt_lib *buckets[QT_BUCKETS];
	atomic_long dl_refs;
};

static uint64_t qt_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int qt_create(void **out)
{
	struct qt_store *store = calloc(1, sizeof(*store));

	if (!store)
		return DLREG_ENOMEM;
	pthread_mutex_init(&store->mutex, NULL);
	atomic_init(&store->dl_refs, 0);
	*out = store;
	return DLREG_OK;
}

/* Entries still referenced are reported and left alone, like Qt's exit. */
static int qt_destroy(void *reg, unsigned long *leaked)
{
	struct qt_store *store = reg;
	unsigned long n = 0;

	for (int i = 0; i < QT_BUCKETS; i++)
		for (struct qt_lib *lib = store->buckets[i]; lib; lib = lib->next)
			n++;
	/* The store outlives its handles: their close still needs it. */
	if (n == 0) {
		pthread_mutex_destroy(&store->mutex);
		free(store);
	}
	if (leaked)
		*leaked = n;
	return n ? DLREG_EBUSY : DLREG_OK;
}

/* Global mutex held.  The entry for path, or NULL. */
static struct qt_lib *qt_find(struct qt_store *store, const char *path, uint64_t h)
{
	struct qt_lib *lib = store->buckets[h % QT_BUCKETS];

	while (lib && (lib->hash != h || strcmp(lib->path, path) != 0))
		lib = lib->next;
	return lib;
}

static struct qt_lib *qt_lib_new(const char *path, uint64_t h)
{
	size_t len = strlen(path);
	struct qt_lib *lib = calloc(1, sizeof(*lib) + len + 1);

	if (!lib)
		return NULL;
	memcpy(lib->path, path, len + 1);
	lib->hash = h;
	pthread_mutex_init(&lib->mutex, NULL);
	return lib;
}

/* QLibraryStore::findOrCreate: +1 libraryRefCount. */
static struct qt_lib *qt_find_or_create(struct qt_store *store, const char *path)
{
	uint64_t h = qt_hash(path);
	struct qt_lib *lib;

	pthread_mutex_lock(&store->mutex);
	lib = qt_find(store, path, h);
	if (!lib && (lib = qt_lib_new(path, h))) {
		lib->next = store->buckets[h % QT_BUCKETS];
		store->buckets[h % QT_BUCKETS] = lib;
	}
	if (lib)
		lib->ref_count++;
	pthread_mutex_unlock(&store->mutex);
	return lib;
}

/* QLibraryStore::findLibrary without creating: +1 libraryRefCount. */
static struct qt_lib *qt_find_ref(struct qt_store *store, const char *path)
{
	uint64_t h = qt_hash(path);
	struct qt_lib *lib;

	pthread_mutex_lock(&store->mutex);
	lib = qt_find(store, path, h);
	if (lib)
		lib->ref_count++;
	pthread_mutex_unlock(&store->mutex);
	return lib;
}

static void qt_unlink(struct qt_store *store, struct qt_lib *lib)
{
	struct qt_lib **p = &store->buckets[lib->hash % QT_BUCKETS];

	while (*p != lib)
		p = &(*p)->next;
	*p = lib->next;
}

/* QLibraryStore::releaseLibrary: -1 libraryRefCount, delete at zero. */
static void qt_release(struct qt_store *store, struct qt_lib *lib)
{
	int last;

	pthread_mutex_lock(&store->mutex);
	last = --lib->ref_count == 0;
	if (last)
		qt_unlink(store, lib);
	pthread_mutex_unlock(&store->mutex);
	if (last) {
		pthread_mutex_destroy(&lib->mutex);
		free(lib);
	}
}

/* QLibraryPrivate::load + load_sys: the entry mutex is dropped around dlopen. */
static int qt_load(struct qt_store *store, struct qt_lib *lib, unsigned hints)
{
	void *dl;

	pthread_mutex_lock(&lib->mutex);
	if (atomic_load_explicit(&lib->dl, memory_order_relaxed)) {
		lib->unload_count++;
		pthread_mutex_unlock(&lib->mutex);
		return DLREG_OK;
	}
	pthread_mutex_unlock(&lib->mutex);
	dl = dlreg_ref_dlopen(lib->path, dlreg__rtld_flags(hints));
	if (!dl)
		return dlreg_ref_load_error(lib->path);
	atomic_fetch_add_explicit(&store->dl_refs, 1, memory_order_relaxed);
	pthread_mutex_lock(&lib->mutex);
	if (atomic_load_explicit(&lib->dl, memory_order_relaxed)) {
		/* Another thread loaded it meanwhile: keep one glibc reference. */
		dlreg_ref_dlclose(dl);
		atomic_fetch_sub_explicit(&store->dl_refs, 1, memory_order_relaxed);
	} else {
		atomic_store_explicit(&lib->dl, dl, memory_order_release);
	}
	lib->unload_count++;
	pthread_mutex_unlock(&lib->mutex);
	return DLREG_OK;
}

/* QLibraryPrivate::unload: dlclose under the entry mutex at zero. */
static void qt_unload(struct qt_store *store, struct qt_lib *lib)
{
	pthread_mutex_lock(&lib->mutex);
	void *dl = atomic_load_explicit(&lib->dl, memory_order_relaxed);

	if (lib->unload_count > 0 && --lib->unload_count == 0 && dl) {
		atomic_store_explicit(&lib->dl, NULL, memory_order_relaxed);
		dlreg_ref_dlclose(dl);
		atomic_fetch_sub_explicit(&store->dl_refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&lib->mutex);
}

static int qt_open(void *reg, const char *path, unsigned hints, void **handle)
{
	struct qt_store *store = reg;
	struct qt_lib *lib;
	int err;

	if (!path || !*path || (hints & ~DLREG_HINT_ALL_))
		return DLREG_EINVAL;
	lib = qt_find_or_create(store, path);
	if (!lib)
		return DLREG_ENOMEM;
	err = qt_load(store, lib, hints);
	if (err != DLREG_OK) {
		qt_release(store, lib);
		return err;
	}
	*handle = lib;
	return DLREG_OK;
}

static int qt_close(void *reg, void *handle)
{
	struct qt_store *store = reg;

	if (!handle)
		return DLREG_EINVAL;
	qt_unload(store, handle);
	qt_release(store, handle);
	return DLREG_OK;
}

/*
 * QLibraryPrivate::resolve: dlsym every time on the handle as loaded now, no
 * lock.  As in Qt, the caller must hold the library loaded: an unload
 * racing this call leaves dlsym() a closed handle.
 */
static int qt_resolve(struct qt_lib *lib, const char *name, void **out)
{
	void *dl = atomic_load_explicit(&lib->dl, memory_order_acquire);
	void *sym = NULL;
	int err = DLREG_ENOTLOADED;

	if (dl) {
		sym = dlreg_ref_dlsym(dl, name);
		err = sym ? DLREG_OK : DLREG_ENOSYM;
	}
	*out = sym;
	return err;
}

static int qt_sym(void *reg, void *handle, const char *name, void **out)
{
	(void)reg;
	if (!handle || !name || !out)
		return DLREG_EINVAL;
	return qt_resolve(handle, name, out);
}

static void *qt_reader(void *reg)
{
	return reg;
}

static void qt_read_nop(void *reader)
{
	(void)reader;
}

static int qt_read_sym(void *reader, const char *path, const char *name, void **out)
{
	struct qt_store *store = reader;
	struct qt_lib *lib;
	int err;

	if (!path || !name || !out)
		return DLREG_EINVAL;
	lib = qt_find_ref(store, path);
	if (!lib)
		return DLREG_ENOTLOADED;
	err = qt_resolve(lib, name, out);
	qt_release(store, lib);
	return err;
}

/* Unloading is immediate: nothing is ever pending. */
static int qt_quiesce(void *reg)
{
	(void)reg;
	return DLREG_OK;
}

static long qt_dl_refs(void *reg)
{
	struct qt_store *store = reg;

	return atomic_load_explicit(&store->dl_refs, memory_order_relaxed);
}

const struct dlreg_variant_ops dlreg_variant_qt = {
        .name = "qt",
        .description = "Qt 6 QLibrary store: global mutex + map, per-library mutex "
                       "(released around dlopen), dlsym on every resolve",
        .create = qt_create,
        .destroy = qt_destroy,
        .open = qt_open,
        .close = qt_close,
        .sym = qt_sym,
        .reader = qt_reader,
        .read_begin = qt_read_nop,
        .read_end = qt_read_nop,
        .read_sym = qt_read_sym,
        .quiesce = qt_quiesce,
        .dl_refs = qt_dl_refs,
};
