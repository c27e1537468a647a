/*
 * dlreg-icount - deterministic single-thread paths, for instruction counts.
 *
 * Timing on a shared 2-core machine moves by several percent from run to
 * run; the number of instructions a path executes does not.  scripts/gate
 * runs this program under `valgrind --tool=cachegrind --cache-sim=no` twice
 * per mode, with two iteration counts, and divides the difference in
 * instructions by the difference in iterations.  That cancels process
 * start-up, dlopen() of the fixtures and every first-call cost (the symbol
 * cache's one dlsym()), leaving the steady-state cost of one call.  So each
 * mode must do the same work in every iteration, on one thread, with inputs
 * that do not depend on addresses, time or randomness.
 *
 * Output (stdout): one line per run, "mode=M iterations=N check=X", where X
 * folds every result so the compiler cannot drop the work.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlreg/dlreg.h>

#include "fixture_abi.h"
#include "icount.h"

#ifndef DLREG_ICOUNT_FIXTURE_DIR
#define DLREG_ICOUNT_FIXTURE_DIR "."
#endif

#define ICOUNT_DEFAULT_ITERATIONS 10000L
#define ICOUNT_MAX_ITERATIONS 1000000000L

static const struct icount_mode *const modes[] = {
        &icount_mode_lookup, &icount_mode_sym,    &icount_mode_note,
        &icount_mode_find,   &icount_mode_marker, NULL,
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dlreg-icount [--iterations N] [--fixture-dir DIR] MODE\n"
	        "       dlreg-icount --list\n\n"
	        "Runs one deterministic single-thread path N times (default %ld) and prints\n"
	        "\"mode=M iterations=N check=X\".  Meant for instruction counting:\n"
	        "  valgrind --tool=cachegrind --cache-sim=no dlreg-icount MODE\n"
	        "Run it with two iteration counts and divide the difference in Ir by\n"
	        "the difference in N to get one call's cost.\n\nModes:\n",
	        ICOUNT_DEFAULT_ITERATIONS);
	for (size_t i = 0; modes[i]; i++)
		fprintf(out, "  %-8s %s\n", modes[i]->name, modes[i]->description);
	fprintf(out, "\nFixture directory (lookup, sym): %s\n", DLREG_ICOUNT_FIXTURE_DIR);
}

static const struct icount_mode *mode_find(const char *name)
{
	for (size_t i = 0; modes[i]; i++)
		if (strcmp(modes[i]->name, name) == 0)
			return modes[i];
	return NULL;
}

static int parse_iterations(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > ICOUNT_MAX_ITERATIONS)
		return -1;
	*out = v;
	return 0;
}

struct icount_args {
	const char *mode;
	long iterations;
	const char *fixture_dir;
	int list;
};

/* Returns -1 after printing a one-line error, 1 for --help, 0 otherwise. */
static int parse_args(int argc, char **argv, struct icount_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		if (strcmp(arg, "--list") == 0) {
			a->list = 1;
		} else if (strcmp(arg, "--iterations") == 0 || strcmp(arg, "--fixture-dir") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "dlreg-icount: %s needs a value\n", arg);
				return -1;
			}
			const char *v = argv[++i];
			if (arg[2] == 'f') {
				a->fixture_dir = v;
			} else if (parse_iterations(v, &a->iterations) != 0) {
				fprintf(stderr, "dlreg-icount: bad --iterations '%s' (0..%ld)\n", v,
				        ICOUNT_MAX_ITERATIONS);
				return -1;
			}
		} else if (arg[0] == '-') {
			fprintf(stderr, "dlreg-icount: unknown option '%s' (see --help)\n", arg);
			return -1;
		} else if (a->mode) {
			fprintf(stderr, "dlreg-icount: one mode only, got '%s' and '%s'\n", a->mode,
			        arg);
			return -1;
		} else {
			a->mode = arg;
		}
	}
	return 0;
}

static int run_mode(const struct icount_mode *m, const struct icount_args *a)
{
	void *state = NULL;
	int err = m->setup(a->fixture_dir, &state);
	if (err != 0) {
		fprintf(stderr, "dlreg-icount: %s: setup failed: %s%s%s\n", m->name,
		        dlreg_strerror(err), *dlreg_errdetail() ? ": " : "", dlreg_errdetail());
		return 1;
	}
	uint64_t check = 0;
	err = m->run(state, a->iterations, &check);
	m->teardown(state);
	if (err != 0) {
		fprintf(stderr, "dlreg-icount: %s: %s\n", m->name, dlreg_strerror(err));
		return 1;
	}
	printf("mode=%s iterations=%ld check=%016llx\n", m->name, a->iterations,
	       (unsigned long long)check);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct icount_args a = {NULL, ICOUNT_DEFAULT_ITERATIONS, DLREG_ICOUNT_FIXTURE_DIR, 0};
	int rc = parse_args(argc, argv, &a);
	if (rc != 0) {
		if (rc > 0)
			usage(stdout);
		return rc > 0 ? 0 : 2;
	}
	if (a.list) {
		for (size_t i = 0; modes[i]; i++)
			printf("%s\n", modes[i]->name);
		return 0;
	}
	if (!a.mode) {
		fprintf(stderr, "dlreg-icount: no mode given (see --help)\n");
		return 2;
	}
	const struct icount_mode *m = mode_find(a.mode);
	if (!m) {
		fprintf(stderr, "dlreg-icount: unknown mode '%s' (see --list)\n", a.mode);
		return 2;
	}
	return run_mode(m, &a);
}
