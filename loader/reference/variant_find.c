/* variant_find.c - lookup in the program's variant table by name. */
#include <string.h>

#include "variant.h"

const struct dlreg_variant_ops *dlreg_variant_find(const char *name)
{
	for (const struct dlreg_variant_ops *const *v = dlreg_variants; *v; v++)
		if (strcmp((*v)->name, name) == 0)
			return *v;
	return NULL;
}
