/* smaps.h - the scanner tests' look at /proc/self/smaps and /proc/self/maps. */
#ifndef DLREG_TEST_SMAPS_H
#define DLREG_TEST_SMAPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* kB of the mapping at p that /proc/self/smaps counts as FilePmdMapped, or -1. */
static inline long file_pmd_mapped_kb(const void *p)
{
	char want[32], line[256];
	long kb = -1;
	int in = 0;
	snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, want, strlen(want)) == 0)
			in = 1;
		else if (in && sscanf(line, "FilePmdMapped: %ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Bytes of address space this process has mapped (/proc/self/maps). */
static inline unsigned long long mapped_bytes(void)
{
	unsigned long long total = 0, lo, hi;
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2)
			total += hi - lo;
	if (f)
		fclose(f);
	return total;
}

#endif
