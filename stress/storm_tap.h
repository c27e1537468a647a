/*
 * storm_tap.h - the TAP lines of the storm's unit tests: "ok N - what" or
 * "not ok N - what"; a test program exits non-zero when tap_failures is.
 */
#ifndef STORM_TAP_H
#define STORM_TAP_H

#include <stdio.h>

static int tap_count;
static int tap_failures;

static inline void ok(int cond, const char *what)
{
	printf("%s %d - %s\n", cond ? "ok" : "not ok", ++tap_count, what);
	if (!cond)
		tap_failures++;
}

#endif
