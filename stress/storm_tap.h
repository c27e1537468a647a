/*
 * storm_tap.h - the TAP lines of the storm's unit tests: "ok N - what" or
 * "not ok N - what"; a test program exits non-zero when tap_failures is.
 */
#ifndef STORM_TAP_H
#define STORM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failures;

static inline void ok(int cond, const char *what)
{
	printf("%s %d - %s\n", cond ? "ok" : "not ok", ++tap_count, what);
	if (!cond)
		tap_failures++;
}

/*
 * A test's arguments: -1 when there are `want` (run it), else `usage`
 * printed and the exit status to return: 0 for --help or -h alone (on
 * stdout), 2 for anything else (on stderr).
 */
static inline int tap_args(int argc, char **argv, int want, const char *usage)
{
	int help = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
	if (argc == want + 1 && !help)
		return -1;
	fputs(usage, help ? stdout : stderr);
	return help ? 0 : 2;
}

#endif
