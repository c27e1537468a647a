/*
 * icount.h - the modes of dlreg-icount.
 *
 * A mode is one path measured on its own.  setup does every one-time cost
 * (creating a registry, loading fixtures, building an input buffer); run
 * executes the path `iterations` times and folds each result into *check;
 * teardown releases what setup made.  run must cost the same in every
 * iteration, so instruction counts are linear in `iterations`.
 */
#ifndef DLREG_ICOUNT_H
#define DLREG_ICOUNT_H

#include <stdint.h>

struct icount_mode {
	const char *name;
	const char *description;
	/* Returns 0 or a dlreg_err value; *state is passed to run and teardown. */
	int (*setup)(const char *fixture_dir, void **state);
	int (*run)(void *state, long iterations, uint64_t *check);
	void (*teardown)(void *state);
};

extern const struct icount_mode icount_mode_lookup;
extern const struct icount_mode icount_mode_sym;
extern const struct icount_mode icount_mode_note;
extern const struct icount_mode icount_mode_find;
extern const struct icount_mode icount_mode_marker;

#endif
