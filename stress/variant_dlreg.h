/*
 * variant_dlreg.h - the real registry behind the variant table.
 *
 * Compiled once per registry build: against libdlreg for dlreg-storm, and
 * against each seeded-bug build for dlreg-storm-bug-<name> (then named
 * "bug:<name>" through DLREG_STORM_VARIANT_NAME).
 */
#ifndef DLREG_STORM_VARIANT_DLREG_H
#define DLREG_STORM_VARIANT_DLREG_H

#include "variant.h"

/* Default reclamation: retired entries are released by later calls. */
extern const struct dlreg_variant_ops dlreg_variant_dlreg;
/* Same registry with a background reclaim thread (DLREG_RECLAIM_THREAD). */
extern const struct dlreg_variant_ops dlreg_variant_dlreg_thread;

#endif
