/*
 * fuzz_scan - libFuzzer target for the scanner's parser (dlreg_scan_buffer)
 * and for dlreg_find.  Built only with -Dfuzz=true and clang; meson's 'fuzz'
 * suite runs it for 45 s from the seeds in corpus/.  See README.md here for
 * longer runs.
 *
 * Beyond "does not crash" (ASan/UBSan), it checks what a result promises:
 * the JSON is NUL-terminated at json_len and is a copy of the input bytes at
 * the reported offset; a failure is a known error without a result; and
 * dlreg_find agrees with a naive search.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dlreg/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t naive(const uint8_t *h, size_t n, const uint8_t *nd, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(h + i, nd, m) == 0)
			return i;
	return m == 0 ? 0 : SIZE_MAX;
}

static void check_scan(const uint8_t *data, size_t size)
{
	struct dlreg_metadata *m = NULL;
	/* Vary the limits with the input so ETOOBIG and NO_MARKER paths get explored. */
	struct dlreg_scan_options o = {0};
	if (size && (data[size - 1] & 3) == 1)
		o.max_meta_size = 16;
	if (size && (data[size - 1] & 12) == 4)
		o.flags = DLREG_SCAN_NO_MARKER;
	int rc = dlreg_scan_buffer(data, size, &o, &m);
	if (rc == DLREG_OK) {
		if (!m || strlen(m->json) != m->json_len || m->json_len == 0)
			__builtin_trap();
		if (m->offset > size || m->json_len > size - m->offset ||
		    memcmp(data + m->offset, m->json, m->json_len) != 0)
			__builtin_trap();
	} else if (m || rc <= 0 || rc >= DLREG_ERR_COUNT_) {
		__builtin_trap();
	}
	dlreg_metadata_free(m);
}

static void check_find(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 4096)
		return;
	size_t m = 1 + data[0] % 40;
	if (m > size - 1)
		return;
	const uint8_t *needle = data + 1;
	const uint8_t *hay = data + 1 + m;
	size_t n = size - 1 - m;
	if (dlreg_find(hay, n, needle, m) != naive(hay, n, needle, m))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_scan(data, size);
	check_find(data, size);
	return 0;
}
