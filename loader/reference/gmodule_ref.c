/*
 * gmodule_ref.c - the GLib GModule scheme, for comparison.
 *
 * What is modelled (gmodule/gmodule.c; README.md here): one global recursive
 * mutex, held across the whole open (lookup by name, dlopen(), lookup by
 * handle, the module's check-init hook) and the whole close (the module's
 * unload hook, dlclose()).  Modules live on a list; a second open of a
 * name already on it only bumps the count, and an open whose dlopen()
 * returned a handle already on the list (another path to the same file)
 * drops the surplus glibc reference and bumps that module's count.
 * Symbol lookups take the same mutex and call dlsym().
 *
 * The mutex is recursive so a constructor that calls back into the module
 * system on the loading thread does not deadlock; a cycle through any other
 * lock (a user mutex taken by a constructor while another thread holds it
 * and waits for this mutex) still does, and the storms show it.
 *
 * The hooks are looked up under the names dlreg_module_check_init and
 * dlreg_module_unload (GModule's are g_module_check_init/g_module_unload),
 * so a GModule plugin loaded here never has its hooks run by mistake.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dlreg/dlreg.h"
#include "internal.h"
#include "reference.h"

#define GM_CHECK_INIT "dlreg_module_check_init"
#define GM_UNLOAD "dlreg_module_unload"

/* A check-init hook returns NULL on success or an error message. */
typedef const char *gm_check_init_fn(void *module);
typedef void gm_unload_fn(void *module);

struct gm_module {
	struct gm_module *next;
	void *dl;
	long ref_count;
	char path[];
};

struct gm_store {
	pthread_mutex_t mutex; /* recursive; guards everything below */
	struct gm_module *modules;
	atomic_long dl_refs;
};

static int gm_create(void **out)
{
	struct gm_store *store = calloc(1, sizeof(*store));
	pthread_mutexattr_t attr;

	if (!store)
		return DLREG_ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&store->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	atomic_init(&store->dl_refs, 0);
	*out = store;
	return DLREG_OK;
}

static int gm_destroy(void *reg, unsigned long *leaked)
{
	struct gm_store *store = reg;
	unsigned long n = 0;

	for (struct gm_module *m = store->modules; m; m = m->next)
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

/* Mutex held. */
static struct gm_module *gm_find_by_name(struct gm_store *store, const char *path)
{
	struct gm_module *m = store->modules;

	while (m && strcmp(m->path, path) != 0)
		m = m->next;
	return m;
}

static struct gm_module *gm_find_by_handle(struct gm_store *store, void *dl)
{
	struct gm_module *m = store->modules;

	while (m && m->dl != dl)
		m = m->next;
	return m;
}

static void gm_dlclose(struct gm_store *store, void *dl)
{
	dlreg_ref_dlclose(dl);
	atomic_fetch_sub_explicit(&store->dl_refs, 1, memory_order_relaxed);
}

/* Mutex held.  Runs the module's check-init hook, if it has one. */
static int gm_check_init(struct gm_module *m)
{
	void *sym = dlreg_ref_dlsym(m->dl, GM_CHECK_INIT);
	gm_check_init_fn *fn;

	if (!sym)
		return DLREG_OK;
	memcpy(&fn, &sym, sizeof(fn));
	return fn(m) ? DLREG_ELOAD : DLREG_OK;
}

/* Mutex held.  A new module for a fresh glibc handle (which it takes over). */
static int gm_insert(struct gm_store *store, const char *path, void *dl, struct gm_module **out)
{
	size_t len = strlen(path);
	struct gm_module *m = malloc(sizeof(*m) + len + 1);
	int err;

	if (!m) {
		gm_dlclose(store, dl);
		return DLREG_ENOMEM;
	}
	memcpy(m->path, path, len + 1);
	m->dl = dl;
	m->ref_count = 1;
	err = gm_check_init(m);
	if (err != DLREG_OK) {
		gm_dlclose(store, dl);
		free(m);
		return err;
	}
	m->next = store->modules;
	store->modules = m;
	*out = m;
	return DLREG_OK;
}

/* Mutex held: the whole of g_module_open. */
static int gm_open_locked(struct gm_store *store, const char *path, unsigned hints,
                          struct gm_module **out)
{
	struct gm_module *m = gm_find_by_name(store, path);
	void *dl;

	if (m) {
		m->ref_count++;
		*out = m;
		return DLREG_OK;
	}
	dl = dlreg_ref_dlopen(path, dlreg__rtld_flags(hints));
	if (!dl)
		return dlreg_ref_load_error(path);
	atomic_fetch_add_explicit(&store->dl_refs, 1, memory_order_relaxed);
	m = gm_find_by_handle(store, dl);
	if (m) {
		gm_dlclose(store, dl);
		m->ref_count++;
		*out = m;
		return DLREG_OK;
	}
	return gm_insert(store, path, dl, out);
}

static int gm_open(void *reg, const char *path, unsigned hints, void **handle)
{
	struct gm_store *store = reg;
	struct gm_module *m = NULL;
	int err;

	if (!path || !*path || (hints & ~DLREG_HINT_ALL_))
		return DLREG_EINVAL;
	pthread_mutex_lock(&store->mutex);
	err = gm_open_locked(store, path, hints, &m);
	pthread_mutex_unlock(&store->mutex);
	if (err == DLREG_OK)
		*handle = m;
	return err;
}

static void gm_unlink(struct gm_store *store, struct gm_module *m)
{
	struct gm_module **p = &store->modules;

	while (*p != m)
		p = &(*p)->next;
	*p = m->next;
}

/* Mutex held: the whole of g_module_close. */
static void gm_close_locked(struct gm_store *store, struct gm_module *m)
{
	void *sym;

	if (--m->ref_count > 0)
		return;
	sym = dlreg_ref_dlsym(m->dl, GM_UNLOAD);
	if (sym) {
		gm_unload_fn *fn;

		memcpy(&fn, &sym, sizeof(fn));
		fn(m);
	}
	gm_unlink(store, m);
	gm_dlclose(store, m->dl);
	free(m);
}

static int gm_close(void *reg, void *handle)
{
	struct gm_store *store = reg;

	if (!handle)
		return DLREG_EINVAL;
	pthread_mutex_lock(&store->mutex);
	gm_close_locked(store, handle);
	pthread_mutex_unlock(&store->mutex);
	return DLREG_OK;
}

/* g_module_symbol: dlsym under the global mutex. */
static int gm_sym(void *reg, void *handle, const char *name, void **out)
{
	struct gm_store *store = reg;
	struct gm_module *m = handle;
	void *sym;

	if (!m || !name || !out)
		return DLREG_EINVAL;
	pthread_mutex_lock(&store->mutex);
	sym = dlreg_ref_dlsym(m->dl, name);
	pthread_mutex_unlock(&store->mutex);
	*out = sym;
	return sym ? DLREG_OK : DLREG_ENOSYM;
}

static void *gm_reader(void *reg)
{
	return reg;
}

static void gm_read_nop(void *reader)
{
	(void)reader;
}

/* Lookup by name and dlsym, both under the global mutex. */
static int gm_read_sym(void *reader, const char *path, const char *name, void **out)
{
	struct gm_store *store = reader;
	struct gm_module *m;
	void *sym = NULL;
	int err = DLREG_ENOTLOADED;

	if (!path || !name || !out)
		return DLREG_EINVAL;
	pthread_mutex_lock(&store->mutex);
	m = gm_find_by_name(store, path);
	if (m) {
		sym = dlreg_ref_dlsym(m->dl, name);
		err = sym ? DLREG_OK : DLREG_ENOSYM;
	}
	pthread_mutex_unlock(&store->mutex);
	*out = sym;
	return err;
}

static int gm_quiesce(void *reg)
{
	(void)reg;
	return DLREG_OK;
}

static long gm_dl_refs(void *reg)
{
	struct gm_store *store = reg;

	return atomic_load_explicit(&store->dl_refs, memory_order_relaxed);
}

const struct dlreg_variant_ops dlreg_variant_gmodule = {
        .name = "gmodule",
        .description = "GModule: one recursive mutex held across open (dlopen, check-init), "
                       "close (dlclose) and every lookup",
        .create = gm_create,
        .destroy = gm_destroy,
        .open = gm_open,
        .close = gm_close,
        .sym = gm_sym,
        .reader = gm_reader,
        .read_begin = gm_read_nop,
        .read_end = gm_read_nop,
        .read_sym = gm_read_sym,
        .quiesce = gm_quiesce,
        .dl_refs = gm_dl_refs,
};
