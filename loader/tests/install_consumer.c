/*
 * install_consumer.c - a program built the way a user of an installed dlreg
 * builds one: only the installed headers, compiler and linker flags from
 * `pkg-config dlreg`.  test_install.sh compiles it as C11 (and, renamed, as
 * C++) and runs it against the installed library.
 *
 * usage: install_consumer PLUGIN EXPECTED-JSON
 * Scans PLUGIN's metadata and wants EXPECTED-JSON, opens it through a
 * registry, looks a symbol up through the locked and the read-side paths,
 * closes and destroys.  Prints "lib=<path of the libdlreg it runs>" and exits
 * 0, or names the step that failed and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <dlreg/dlreg.h>
#include <dlreg/scan.h>

static int fail(const char *step, int err)
{
	fprintf(stderr, "install_consumer: %s: %s (%s)\n", step, dlreg_strerror(err),
	        dlreg_errdetail());
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr, "usage: install_consumer PLUGIN EXPECTED-JSON\n");
		return argc == 2 ? 0 : 2;
	}
	const char *path = argv[1];
	struct dlreg_metadata *meta = NULL;
	int err = dlreg_scan_file(path, NULL, &meta);
	if (err)
		return fail("dlreg_scan_file", err);
	if (strcmp(meta->json, argv[2]) != 0) {
		fprintf(stderr, "install_consumer: metadata %s, want %s\n", meta->json, argv[2]);
		dlreg_metadata_free(meta);
		return 1;
	}
	dlreg_metadata_free(meta);

	dlreg_t *reg = NULL;
	dlreg_lib_t *lib = NULL;
	void *sym = NULL, *read = NULL;
	if ((err = dlreg_create(NULL, &reg)) != 0)
		return fail("dlreg_create", err);
	if ((err = dlreg_open(reg, path, 0, &lib)) != 0)
		return fail("dlreg_open", err);
	if ((err = dlreg_sym(lib, "dlreg_fixture_answer", &sym)) != 0)
		return fail("dlreg_sym", err);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	if (!rd)
		return fail("dlreg_reader_self", DLREG_ENOMEM);
	dlreg_read_begin(rd);
	err = dlreg_read_sym(rd, path, "dlreg_fixture_answer", &read);
	dlreg_read_end(rd);
	if (err)
		return fail("dlreg_read_sym", err);
	if (read != sym) {
		fprintf(stderr, "install_consumer: dlreg_read_sym and dlreg_sym disagree\n");
		return 1;
	}
	if ((err = dlreg_close(reg, lib)) != 0)
		return fail("dlreg_close", err);
	size_t left = 0;
	if ((err = dlreg_destroy(reg, &left)) != 0)
		return fail("dlreg_destroy", err);
	if (left != 0) {
		fprintf(stderr, "install_consumer: dlreg_destroy: %zu libraries left\n", left);
		return 1;
	}

	/* The library's own read-only data (ISO C has no function-to-object
	 * pointer conversion for dladdr on a function). */
	Dl_info info;
	const char *text = dlreg_strerror(DLREG_ENOMEM);
	if (!dladdr(text, &info) || !info.dli_fname) {
		fprintf(stderr, "install_consumer: dladdr cannot place libdlreg's data\n");
		return 1;
	}
	printf("lib=%s\n", info.dli_fname);
	return 0;
}
