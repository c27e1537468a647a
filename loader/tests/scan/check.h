/* check.h - the scanner tests' assertions: count, report, never abort early. */
#ifndef DLREG_TEST_CHECK_H
#define DLREG_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed;
static int check_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/*
 * For a test that takes no arguments: with none, -1 (run it); with --help
 * or -h, `usage` on stdout and 0; with anything else, `usage` on stderr
 * and 2 (the exit status to return).
 */
static inline int check_no_args(int argc, char **argv, const char *usage)
{
	if (argc < 2)
		return -1;
	int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
	fputs(usage, help && argc == 2 ? stdout : stderr);
	return help && argc == 2 ? 0 : 2;
}

/* Prints the closing "N passed, N failed" line; the exit status to return. */
static inline int check_report(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
