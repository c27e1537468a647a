/*
 * storm_variants_bug.c - the variant table of a seeded-bug driver: only the
 * registry built with -DDLREG_SEEDED_BUG=<name>, called "bug:<name>".
 */
#include <stddef.h>

#include "variant_dlreg.h"

const struct dlreg_variant_ops *const dlreg_variants[] = {
        &dlreg_variant_dlreg,
        NULL,
};
