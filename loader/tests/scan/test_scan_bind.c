/*
 * test_scan_bind - the metadata handed out for a loaded library belongs to
 * the object actually loaded.  Scans a copy of plugin A, replaces the file
 * (rename over it, rewrite in place, or glibc already holding an older
 * object under that path), opens, and expects DLREG_EREPLACED with the
 * handle closed again; with nothing replaced the open succeeds.  Runs once
 * with build-ids and once with plugins linked without them (file identity).
 *
 * With --no-proc (test_scan_bind_noproc.sh runs it with /proc hidden):
 * the same, where the identity check cannot ask /proc/self/maps which file
 * is mapped and stat()s the loaded object's name instead (bind.c): an
 * unchanged file without build-id still loads, a replaced or rewritten one
 * is still refused, and an older object glibc holds from a file since
 * replaced is the documented miss (reported, not failed).
 *
 * Usage: test_scan_bind [--no-proc] A.so B.so A-nobid.so B-nobid.so
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlreg/dlreg.h"
#include "dlreg/scan.h"
#include "check.h"

static char tmpdir[256];
static dlreg_t *reg;
static int no_proc; /* --no-proc: /proc is hidden */

/* Copies src to dst through a temporary name, so dst gets a new inode. */
static int install_copy(const char *src, const char *dst)
{
	char tmp[600];
	char buf[65536];
	snprintf(tmp, sizeof tmp, "%s.new", dst);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n = 0;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	int ok = in >= 0 && out >= 0 && n == 0;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		ok = 0;
	return ok && rename(tmp, dst) == 0 ? 0 : -1;
}

/* Overwrites dst in place (same inode) with src's bytes. */
static int rewrite_in_place(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n = 0;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return in >= 0 && out >= 0 && n == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void expect_replaced(const char *what, const char *path, const struct dlreg_metadata *m)
{
	dlreg_lib_t *lib = (dlreg_lib_t *)&lib;
	struct dlreg_stats before, after;
	dlreg_stats(reg, &before);
	int rc = dlreg_open_verified(reg, path, 0, m, &lib);
	dlreg_stats(reg, &after);
	CHECK(rc == DLREG_EREPLACED, "%s: got %s (%s)", what, dlreg_strerror(rc),
	      dlreg_errdetail());
	CHECK(lib == NULL, "%s: handle returned on failure", what);
	CHECK(after.opens - before.opens == after.closes - before.closes,
	      "%s: the handle was not closed again", what);
	CHECK(strstr(dlreg_errdetail(), tmpdir) == NULL, "%s: detail leaks the path: %s", what,
	      dlreg_errdetail());
}

static void expect_loads(const char *what, const char *path, const char *name, int id)
{
	dlreg_lib_t *lib = NULL;
	struct dlreg_metadata *m = NULL;
	int rc = dlreg_open_scanned(reg, path, 0, NULL, &lib, &m);
	CHECK(rc == DLREG_OK, "%s: %s (%s)", what, dlreg_strerror(rc), dlreg_errdetail());
	if (rc != DLREG_OK)
		return;
	CHECK(strstr(m->json, name) != NULL, "%s: metadata %s", what, m->json);
	int (*fn)(void) = NULL;
	CHECK(dlreg_sym(lib, "scan_plugin_id", (void **)&fn) == DLREG_OK && fn && fn() == id,
	      "%s: the loaded code is not plugin %d", what, id);
	dlreg_metadata_free(m);
	dlreg_close(reg, lib);
}

static struct dlreg_metadata *scan(const char *path)
{
	struct dlreg_metadata *m = NULL;
	int rc = dlreg_scan_file(path, NULL, &m);
	CHECK(rc == DLREG_OK, "scan: %s (%s)", dlreg_strerror(rc), dlreg_errdetail());
	return m;
}

/* One round with plugins a and b; `tag` keeps file names apart between rounds. */
static void round_trip(const char *a, const char *b, const char *tag, int with_build_id)
{
	char p[512];
	struct dlreg_metadata *m;

	tmp_path(p, sizeof p, tag);
	strcat(p, "-ok.so");
	CHECK(install_copy(a, p) == 0, "copy");
	expect_loads("unchanged file", p, "\"scan-a\"", 1);

	tmp_path(p, sizeof p, tag);
	strcat(p, "-renamed.so");
	CHECK(install_copy(a, p) == 0, "copy");
	m = scan(p);
	CHECK(m && (m->build_id_len > 0) == with_build_id, "%s: build-id presence", tag);
	CHECK(install_copy(b, p) == 0, "replace by rename");
	if (m)
		expect_replaced("replaced by rename", p, m);
	dlreg_metadata_free(m);

	tmp_path(p, sizeof p, tag);
	strcat(p, "-rewritten.so");
	CHECK(install_copy(a, p) == 0, "copy");
	m = scan(p);
	/*
	 * Same inode, maybe the same size: only the mtime tells the identity
	 * check apart, and it ticks coarsely (a limit of the fallback that
	 * build-ids do not have), so let it tick.
	 */
	usleep(30000);
	CHECK(rewrite_in_place(b, p) == 0, "rewrite in place");
	if (m)
		expect_replaced("rewritten in place", p, m);
	dlreg_metadata_free(m);
}

/* glibc already holds A under this path; the file now is B: not what we scanned. */
static void stale_loaded_object(const char *a, const char *b, const char *tag)
{
	char p[512];
	dlreg_lib_t *held = NULL;
	tmp_path(p, sizeof p, tag);
	strcat(p, "-stale.so");
	CHECK(install_copy(a, p) == 0, "copy");
	CHECK(dlreg_open(reg, p, 0, &held) == DLREG_OK, "open A");
	CHECK(install_copy(b, p) == 0, "replace");
	struct dlreg_metadata *m = scan(p);
	CHECK(m && strstr(m->json, "\"scan-b\""), "scanned B");
	if (m && no_proc && m->build_id_len == 0) {
		/* The documented miss: the name glibc loaded A by now names B. */
		dlreg_lib_t *lib = NULL;
		int rc = dlreg_open_verified(reg, p, 0, m, &lib);
		printf("%s: older object still loaded, /proc hidden: %s (bind.c: without /proc "
		       "this cannot be told)\n",
		       tag, rc == DLREG_OK ? "taken for the scanned file" : dlreg_strerror(rc));
		if (lib)
			dlreg_close(reg, lib);
	} else if (m) {
		expect_replaced("older object still loaded", p, m);
	}
	dlreg_metadata_free(m);
	if (held)
		dlreg_close(reg, held);
}

static void bad_arguments(const char *a)
{
	dlreg_lib_t *lib = NULL;
	struct dlreg_metadata *m = NULL;
	CHECK(dlreg_open_scanned(reg, "libc.so.6", 0, NULL, &lib, &m) == DLREG_EINVAL && !lib && !m,
	      "path without '/'");
	CHECK(dlreg_open_scanned(NULL, a, 0, NULL, &lib, &m) == DLREG_EINVAL, "NULL registry");
	static const char rec[] = "\xf0"
	                          "dlreg:metadata\xa1\x02\x00\x00\x00{}";
	CHECK(dlreg_scan_buffer(rec, sizeof rec - 1, NULL, &m) == DLREG_OK, "buffer scan");
	char p[512];
	tmp_path(p, sizeof p, "bid-ok.so");
	CHECK(dlreg_open_verified(reg, p, 0, m, &lib) == DLREG_EINVAL && !lib,
	      "metadata without build-id or identity");
	dlreg_metadata_free(m);
	tmp_path(p, sizeof p, "missing.so");
	CHECK(dlreg_open_scanned(reg, p, 0, NULL, &lib, &m) == DLREG_ENOENT, "missing file");
}

/* Removes every file the checks left in tmpdir, then tmpdir itself; a
 * directory that cannot be removed is a failure, not litter. */
static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	CHECK(d != NULL, "opendir %s: %s", tmpdir, strerror(errno));
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char p[512];
			tmp_path(p, sizeof p, e->d_name);
			CHECK(unlink(p) == 0, "unlink %s: %s", p, strerror(errno));
		}
		closedir(d);
	}
	CHECK(rmdir(tmpdir) == 0, "rmdir %s: %s", tmpdir, strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--no-proc") == 0) {
		no_proc = 1;
		argc--;
		argv++;
		if (access("/proc/self/maps", R_OK) == 0) {
			fprintf(stderr,
			        "test_scan_bind: --no-proc, but /proc/self/maps is there\n");
			return 2;
		}
	}
	if (argc != 5) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
		        "usage: test_scan_bind [--no-proc] A.so B.so A-nobid.so B-nobid.so\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/dlreg-scan-bind-XXXXXX", base);
	if (!mkdtemp(tmpdir) || dlreg_create(NULL, &reg) != DLREG_OK) {
		fprintf(stderr, "test_scan_bind: setup failed\n");
		return 2;
	}
	round_trip(argv[1], argv[2], "bid", 1);
	round_trip(argv[3], argv[4], "nobid", 0);
	stale_loaded_object(argv[1], argv[2], "bid");
	stale_loaded_object(argv[3], argv[4], "nobid");
	bad_arguments(argv[1]);

	struct dlreg_stats st;
	CHECK(dlreg_quiesce(reg) == DLREG_OK, "quiesce");
	dlreg_stats(reg, &st);
	CHECK(st.live == 0, "%llu entries still live", (unsigned long long)st.live);
	CHECK(st.dlopen_calls == st.dlclose_calls, "dlopen %llu vs dlclose %llu",
	      (unsigned long long)st.dlopen_calls, (unsigned long long)st.dlclose_calls);
	CHECK(dlreg_destroy(reg, NULL) == DLREG_OK, "destroy");
	remove_tmpdir();
	int rc = check_report(no_proc ? "scan_bind --no-proc" : "scan_bind");
	if (no_proc) {
		/* LeakSanitizer's check at exit lists /proc/PID/task, hidden here
		 * (and a sanitizer reads its options from /proc/self/environ):
		 * leave without it; scan_bind checks the same code for leaks. */
		fflush(stdout);
		_exit(rc);
	}
	return rc;
}
