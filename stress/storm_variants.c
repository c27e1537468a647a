/* storm_variants.c - the variants dlreg-storm can run (the first is the default). */
#include <stddef.h>

#include "reference.h"
#include "variant_dlreg.h"

const struct dlreg_variant_ops *const dlreg_variants[] = {
        &dlreg_variant_dlreg,
        &dlreg_variant_dlreg_thread,
        &dlreg_variant_qt,
        &dlreg_variant_gmodule,
        NULL,
};
