/*
 * icount_registry.c - the registry's read side, as dlreg-icount measures it.
 *
 * Setup opens ICOUNT_ENTRIES plain fixtures, so lookups run in a registry of
 * realistic size rather than one holding a single entry, then checks once
 * that the symbol read back belongs to the file asked for and warms the
 * symbol cache.  Each iteration is then a whole read-side use as a caller
 * writes it: begin a section, look up, end the section.
 *
 * Paths are hashed on every lookup, so their length is part of the count.
 * The fixtures are opened as "./libplainNN.so" from inside the fixture
 * directory: two builds in different directories then count the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlreg/dlreg.h>

#include "fixture_abi.h"
#include "icount.h"

#define ICOUNT_ENTRIES 20
/* The entry looked up: one in the middle, not the first one inserted. */
#define ICOUNT_TARGET 7

struct registry_state {
	dlreg_t *reg;
	dlreg_reader_t *reader;
	dlreg_lib_t *libs[ICOUNT_ENTRIES];
	size_t nlibs;
	char paths[ICOUNT_ENTRIES][64];
};

static void registry_teardown(void *p)
{
	struct registry_state *s = p;
	if (!s)
		return;
	for (size_t i = 0; i < s->nlibs; i++)
		dlreg_close(s->reg, s->libs[i]);
	if (s->reg)
		dlreg_destroy(s->reg, NULL);
	free(s);
}

static int registry_open_all(struct registry_state *s, const char *dir)
{
	if (chdir(dir) != 0)
		return DLREG_ENOENT;
	for (size_t i = 0; i < ICOUNT_ENTRIES; i++) {
		int n = snprintf(s->paths[i], sizeof(s->paths[i]), "./" DLREG_FIXTURE_PLAIN_FORMAT,
		                 (int)i);
		if (n < 0 || (size_t)n >= sizeof(s->paths[i]))
			return DLREG_EINVAL;
		int err = dlreg_open(s->reg, s->paths[i], 0, &s->libs[i]);
		if (err != DLREG_OK)
			return err;
		s->nlibs++;
	}
	return DLREG_OK;
}

/* The symbol must come from the target file: a wrong answer is a broken registry. */
static int registry_verify(struct registry_state *s)
{
	const char *path = s->paths[ICOUNT_TARGET];
	void *sym = NULL;
	dlreg_read_begin(s->reader);
	int err = dlreg_read_sym(s->reader, path, DLREG_FIXTURE_SYM_ANSWER, &sym);
	long got = err == DLREG_OK ? ((dlreg_fixture_answer_fn *)(uintptr_t)sym)(12345) : 0;
	dlreg_read_end(s->reader);
	if (err != DLREG_OK)
		return err;
	return got == dlreg_fixture_expected(dlreg_fixture_expected_id(path), 12345) ? DLREG_OK
	                                                                             : DLREG_EINVAL;
}

static int registry_setup(const char *fixture_dir, void **out)
{
	struct registry_state *s = calloc(1, sizeof(*s));
	if (!s)
		return DLREG_ENOMEM;
	int err = dlreg_create(NULL, &s->reg);
	if (err == DLREG_OK)
		err = registry_open_all(s, fixture_dir);
	if (err == DLREG_OK) {
		s->reader = dlreg_reader_self(s->reg);
		err = s->reader ? registry_verify(s) : DLREG_ENOMEM;
	}
	if (err != DLREG_OK) {
		registry_teardown(s);
		return err;
	}
	*out = s;
	return DLREG_OK;
}

static int lookup_run(void *p, long iterations, uint64_t *check)
{
	struct registry_state *s = p;
	const char *path = s->paths[ICOUNT_TARGET];
	uint64_t acc = 0;
	for (long i = 0; i < iterations; i++) {
		dlreg_read_begin(s->reader);
		const dlreg_lib_t *lib = dlreg_read_lookup(s->reader, path);
		dlreg_read_end(s->reader);
		if (!lib)
			return DLREG_ENOTLOADED;
		acc = acc * 31 + (uintptr_t)lib;
	}
	*check = acc;
	return DLREG_OK;
}

static int sym_run(void *p, long iterations, uint64_t *check)
{
	struct registry_state *s = p;
	const char *path = s->paths[ICOUNT_TARGET];
	uint64_t acc = 0;
	for (long i = 0; i < iterations; i++) {
		void *sym = NULL;
		dlreg_read_begin(s->reader);
		int err = dlreg_read_sym(s->reader, path, DLREG_FIXTURE_SYM_ANSWER, &sym);
		dlreg_read_end(s->reader);
		if (err != DLREG_OK)
			return err;
		acc = acc * 31 + (uintptr_t)sym;
	}
	*check = acc;
	return DLREG_OK;
}

const struct icount_mode icount_mode_lookup = {
        .name = "lookup",
        .description = "read section + dlreg_read_lookup of a registered path (20 entries)",
        .setup = registry_setup,
        .run = lookup_run,
        .teardown = registry_teardown,
};

const struct icount_mode icount_mode_sym = {
        .name = "sym",
        .description = "read section + dlreg_read_sym, symbol cache hit (20 entries)",
        .setup = registry_setup,
        .run = sym_run,
        .teardown = registry_teardown,
};
