/*
 * test_storm_poison.c - the storm's poison check must see a released entry.
 *
 * The storm checks every entry it finds in a read section, and every handle
 * it holds, with the variant's check (for dlreg: dlreg_lib_check) and counts
 * use_after_grace when one is poisoned.  The seeded bugs are caught by other
 * detectors too (a wrong answer, a crash, ASan), so a check that always said
 * "fine" would go unnoticed there.  This test feeds the check a live entry,
 * a retired one (closed inside the section that found it, still valid until
 * the section ends) and a released one, which a buggy reader would still
 * hold: only the last must fail.
 *
 * To read a released entry without reading freed memory, every free() of
 * the registry compiled into this program is kept back until the end
 * (-Wl,--wrap=free): the entry's memory keeps exactly what the registry
 * left in it.  TAP output.  Usage: test_storm_poison FIXTURE_DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "dlreg/dlreg.h"
#include "fixture_abi.h"
#include "variant_dlreg.h"
#include "storm_tap.h"

void __real_free(void *p);
void __wrap_free(void *p);

enum { KEPT_MAX = 1 << 16 };
static void *kept[KEPT_MAX];
static size_t nkept;

/* Single-threaded test: a plain array is enough. */
void __wrap_free(void *p)
{
	if (!p)
		return;
	if (nkept < KEPT_MAX)
		kept[nkept++] = p;
	else
		__real_free(p);
}

static void release_kept(void)
{
	while (nkept)
		__real_free(kept[--nkept]);
}


int main(int argc, char **argv)
{
	const struct dlreg_variant_ops *v = &dlreg_variant_dlreg;
	const void *live, *retired, *released;
	char path[4096];
	void *reg = NULL, *handle = NULL, *reader;
	unsigned long leaked = 0;

	int usage = tap_args(argc, argv, 1,
	                     "usage: test_storm_poison FIXTURE_DIR\n"
	                     "The storm's poison check on a live, a retired and a released "
	                     "entry (TAP).\n");
	if (usage >= 0)
		return usage;
	snprintf(path, sizeof(path), "%s/" DLREG_FIXTURE_PLAIN_FORMAT, argv[1], 0);
	if (v->create(&reg) != DLREG_OK || v->open(reg, path, 0, &handle) != DLREG_OK ||
	    !(reader = v->reader(reg))) {
		printf("Bail out! cannot create a registry or open %s\n", path);
		return 1;
	}
	ok(v->check != NULL, "the dlreg variant has a poison check");
	if (!v->check) {
		printf("1..%d\n", tap_count);
		return 1;
	}
	ok(v->check(handle) == DLREG_OK, "a held handle passes");

	v->read_begin(reader);
	live = v->read_lookup(reader, path);
	ok(live && v->check(live) == DLREG_OK, "a live entry found in a section passes");
	/* The last close retires the entry; this section may still use it. */
	ok(v->close(reg, handle) == DLREG_OK, "last close");
	retired = live;
	ok(v->check(retired) == DLREG_OK, "a retired entry passes until the section ends");
	v->read_end(reader);

	/* The grace period ends: the entry is unloaded, poisoned and "freed". */
	ok(v->quiesce(reg) == DLREG_OK, "quiesce releases the retired entry");
	released = live;
	ok(v->check(released) != DLREG_OK, "a released entry is reported poisoned");

	ok(v->destroy(reg, &leaked) == DLREG_OK && leaked == 0, "destroy finds nothing held");
	release_kept();
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}
