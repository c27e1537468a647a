/*
 * variant.h - one operations table over every registry the storms and
 * benchmarks drive: the real dlreg, the Qt-style and GModule-style
 * references, and the seeded-bug builds of dlreg.
 *
 * Handles and readers are opaque to the driver.  Every function returns 0 or
 * a dlreg_err value.  A variant that has no lock-free read side implements
 * read_begin/read_end as no-ops and read_sym with whatever it really does
 * (Qt: global mutex + map + dlsym; GModule: recursive mutex + list + dlsym),
 * so the same benchmark body measures each one honestly.
 */
#ifndef DLREG_VARIANT_H
#define DLREG_VARIANT_H

/*
 * flags: what the variant promises beyond the common contract.
 *
 * READ_SAFE: a symbol read_sym returns stays callable until read_end even if
 * another thread closes the library's last handle meanwhile (dlreg's grace
 * periods).  Without it (the references) a caller may only call a symbol of
 * a library it holds a reference to; the storms then read only held or
 * pinned libraries.
 */
#define DLREG_VARIANT_READ_SAFE 0x1u

struct dlreg_variant_ops {
	const char *name;
	const char *description;
	int (*create)(void **reg);
	/* Reports still-referenced libraries in *leaked; 0 or DLREG_EBUSY. */
	int (*destroy)(void *reg, unsigned long *leaked);
	int (*open)(void *reg, const char *path, unsigned hints, void **handle);
	int (*close)(void *reg, void *handle);
	/* Symbol through a referenced handle. */
	int (*sym)(void *reg, void *handle, const char *name, void **out);
	/* Read side: per-thread reader, sections, lookup by (path, name). */
	void *(*reader)(void *reg);
	void (*read_begin)(void *reader);
	void (*read_end)(void *reader);
	int (*read_sym)(void *reader, const char *path, const char *name, void **out);
	/* Wait for deferred unloads; 0 when nothing is pending afterwards. */
	int (*quiesce)(void *reg);
	/* glibc references held now (dlopen calls minus dlclose calls). */
	long (*dl_refs)(void *reg);

	/* Everything below is optional: NULL (or 0) when a variant has none. */
	unsigned flags; /* DLREG_VARIANT_* */
	/* Inside a section: the live entry registered under `path`, or NULL. */
	const void *(*read_lookup)(void *reader, const char *path);
	/* Inside a section: a handle with its own reference to a looked-up
	 * entry; DLREG_ENOTLOADED if it was retired meanwhile. */
	int (*read_acquire)(void *reader, const void *entry, void **handle);
	/* Poison check of an entry found in a section, or of a held handle:
	 * 0, or DLREG_EINVAL when its memory was already released. */
	int (*check)(const void *entry);
	/* Reference count of an entry or handle (a snapshot). */
	unsigned long (*refs)(const void *entry);
};

/* Variants compiled into a program; NULL-terminated. */
extern const struct dlreg_variant_ops *const dlreg_variants[];
const struct dlreg_variant_ops *dlreg_variant_find(const char *name);

#endif
