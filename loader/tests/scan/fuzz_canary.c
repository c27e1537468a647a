/*
 * fuzz_canary - a libFuzzer target with planted findings, built with the same
 * flags as the scanner's fuzz targets.  test_run_fuzz.sh runs it through
 * run_fuzz.sh and wants every kind of finding to fail the run.  The
 * environment variable FUZZ_CANARY arms one, on every input:
 *   trap      __builtin_trap (what fuzz_scan's checks do)
 *   abort     abort() (what fuzz_backends' checks do)
 *   overflow  signed integer overflow (UBSan)
 *   heap      a heap buffer overflow (ASan)
 * Unset (or anything else), the target never finds anything.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *armed = "";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *e = getenv("FUZZ_CANARY");
	if (e)
		armed = e;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	if (strcmp(armed, "trap") == 0)
		__builtin_trap();
	if (strcmp(armed, "abort") == 0)
		abort();
	if (strcmp(armed, "overflow") == 0) {
		volatile int big = INT_MAX;
		volatile int sum = big + (int)(size | 1);
		(void)sum;
	}
	if (strcmp(armed, "heap") == 0) {
		volatile unsigned char *p = malloc(size + 1);
		if (!p)
			abort();
		p[size + 1] = 1;
		free((void *)p);
	}
	return 0;
}
