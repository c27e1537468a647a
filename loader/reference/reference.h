/*
 * reference.h - the comparison registries (not installed): the Qt 6 QLibrary
 * store scheme and the GModule scheme, each behind the variant table, plus
 * the few functions they share.  They model the locking of the originals
 * (README.md here), not their data structures; see each source's header.
 */
#ifndef DLREG_REFERENCE_H
#define DLREG_REFERENCE_H

#include "variant.h"

extern const struct dlreg_variant_ops dlreg_variant_qt;
extern const struct dlreg_variant_ops dlreg_variant_gmodule;

/*
 * dlopen/dlclose/dlsym as the references call them.  Under ThreadSanitizer
 * each call is bracketed like a critical section of glibc's loader lock,
 * which TSan cannot see: the loader's own allocations, made inside one call
 * and freed inside another on a different thread, are ordered by that lock.
 * Elsewhere these are the plain calls.
 */
void *dlreg_ref_dlopen(const char *path, int mode);
int dlreg_ref_dlclose(void *dl);
void *dlreg_ref_dlsym(void *dl, const char *name);


/*
 * The dlreg_err value for a dlopen() of `path` that just failed; reads (and
 * so clears) dlerror().  Mirrors dlreg's classification so the storms can
 * expect the same error from every variant.
 */
int dlreg_ref_load_error(const char *path);

#endif
