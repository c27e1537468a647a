/*
 * variant_dlreg.c - adapter from the variant table to the public dlreg API.
 *
 * A handle is a dlreg_lib_t * holding one reference; a reader is the
 * calling thread's dlreg_reader_t.  dl_refs comes from dlreg_stats:
 * dlopen() calls minus dlclose() calls, i.e. glibc references still held.
 */
#include <stddef.h>

#include "dlreg/dlreg.h"
#include "variant_dlreg.h"

#ifndef DLREG_STORM_VARIANT_NAME
#define DLREG_STORM_VARIANT_NAME "dlreg"
#endif

static int vd_create_mode(enum dlreg_reclaim reclaim, void **out)
{
	struct dlreg_config cfg = {.reclaim = reclaim};
	dlreg_t *reg;
	int err = dlreg_create(&cfg, &reg);

	if (err == DLREG_OK)
		*out = reg;
	return err;
}

static int vd_create(void **out)
{
	return vd_create_mode(DLREG_RECLAIM_POLL, out);
}

static int vd_create_thread(void **out)
{
	return vd_create_mode(DLREG_RECLAIM_THREAD, out);
}

static int vd_destroy(void *reg, unsigned long *leaked)
{
	size_t still = 0;
	int err = dlreg_destroy(reg, &still);

	if (leaked)
		*leaked = still;
	return err;
}

static int vd_open(void *reg, const char *path, unsigned hints, void **handle)
{
	dlreg_lib_t *lib;
	int err = dlreg_open(reg, path, hints, &lib);

	if (err == DLREG_OK)
		*handle = lib;
	return err;
}

static int vd_close(void *reg, void *handle)
{
	return dlreg_close(reg, handle);
}

static int vd_sym(void *reg, void *handle, const char *name, void **out)
{
	(void)reg;
	return dlreg_sym(handle, name, out);
}

static void *vd_reader(void *reg)
{
	return dlreg_reader_self(reg);
}

static void vd_read_begin(void *reader)
{
	dlreg_read_begin(reader);
}

static void vd_read_end(void *reader)
{
	dlreg_read_end(reader);
}

static int vd_read_sym(void *reader, const char *path, const char *name, void **out)
{
	return dlreg_read_sym(reader, path, name, out);
}

static int vd_quiesce(void *reg)
{
	int err = dlreg_quiesce(reg);

	if (err != DLREG_OK)
		return err;
	return dlreg_pending(reg) == 0 ? DLREG_OK : DLREG_EBUSY;
}

static long vd_dl_refs(void *reg)
{
	struct dlreg_stats st;

	dlreg_stats(reg, &st);
	return (long)(st.dlopen_calls - st.dlclose_calls);
}

static const void *vd_read_lookup(void *reader, const char *path)
{
	return dlreg_read_lookup(reader, path);
}

static int vd_read_acquire(void *reader, const void *entry, void **handle)
{
	dlreg_lib_t *lib;
	int err = dlreg_lib_acquire(reader, entry, &lib);

	if (err == DLREG_OK)
		*handle = lib;
	return err;
}

static int vd_check(const void *entry)
{
	return dlreg_lib_check(entry);
}

static unsigned long vd_refs(const void *entry)
{
	return dlreg_lib_refs(entry);
}

#define VD_COMMON                                                                                  \
	.destroy = vd_destroy, .open = vd_open, .close = vd_close, .sym = vd_sym,                  \
	.reader = vd_reader, .read_begin = vd_read_begin, .read_end = vd_read_end,                 \
	.read_sym = vd_read_sym, .quiesce = vd_quiesce, .dl_refs = vd_dl_refs,                     \
	.flags = DLREG_VARIANT_READ_SAFE, .read_lookup = vd_read_lookup,                           \
	.read_acquire = vd_read_acquire, .check = vd_check, .refs = vd_refs

const struct dlreg_variant_ops dlreg_variant_dlreg = {
        .name = DLREG_STORM_VARIANT_NAME,
        .description = "dlreg: lock-free reads, RCU-deferred unload, poll reclamation",
        .create = vd_create,
        VD_COMMON,
};

const struct dlreg_variant_ops dlreg_variant_dlreg_thread = {
        .name = DLREG_STORM_VARIANT_NAME "-thread",
        .description = "dlreg with a background reclaim thread",
        .create = vd_create_thread,
        VD_COMMON,
};
