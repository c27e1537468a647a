/*
 * test_scan_pread - the read backend against what pread(2) may do that a
 * plain file on a local disk seldom shows: fail with EINTR (a signal
 * arrives during a read from a network or FUSE file system), return fewer
 * bytes than asked, and read a file that someone rewrites in the middle of
 * the scan.
 *
 * Built from the library's sources and linked with -Wl,--wrap=pread64 (the
 * symbol pread is with 64-bit file offsets, which the build uses), so the
 * scanner's every pread goes through __wrap_pread64 below.
 *
 * usage: test_scan_pread PLUGIN.so
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dlreg/scan.h"
#include "check.h"

ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off);

enum hook { HOOK_NONE, HOOK_EINTR_SHORT, HOOK_REWRITE };

static enum hook hook;
static unsigned long calls;      /* preads since the hook was set */
static unsigned long interrupts; /* EINTRs given */
static unsigned long shortened;  /* reads cut short */
static const char *rewrite_path; /* HOOK_REWRITE: the file to change */
static unsigned long rewrite_at; /* ... at this pread */

/* Same size, other bytes, another mtime: what an editor or a copy leaves. */
static void rewrite(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0, "rewrite: open %s: %s", path, strerror(errno));
	static unsigned n;
	n++;
	CHECK(pwrite(fd, n % 2 ? "#" : "%", 1, 0) == 1, "rewrite: %s", strerror(errno));
	/* An mtime of its own: the clock may not have moved since the file was written. */
	struct timespec t[2] = {{.tv_sec = 1000000000 + n}, {.tv_sec = 1000000000 + n}};
	CHECK(futimens(fd, t) == 0, "rewrite: futimens: %s", strerror(errno));
	close(fd);
}

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
	calls++;
	switch (hook) {
	case HOOK_EINTR_SHORT:
		/* Every other call is interrupted; the others read at most half. */
		if (calls % 2) {
			interrupts++;
			errno = EINTR;
			return -1;
		}
		if (n > 1) {
			n = n / 2;
			shortened++;
		}
		break;
	case HOOK_REWRITE:
		if (calls == rewrite_at)
			rewrite(rewrite_path);
		break;
	case HOOK_NONE:
		break;
	}
	return __real_pread64(fd, buf, n, off);
}

static char tmpdir[256];

/* A data file of `size` bytes with a metadata record at `at`. */
static void write_marker_file(const char *path, size_t size, size_t at)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	static const char json[] = "{\"name\":\"pread\"}";
	unsigned char *b = malloc(size);
	CHECK(b != NULL, "out of memory");
	if (!b)
		return;
	memset(b, 'x', size);
	uint32_t len = sizeof json - 1;
	unsigned char l[4] = {(unsigned char)len, 0, 0, 0};
	memcpy(b + at, magic, sizeof magic);
	memcpy(b + at + sizeof magic, l, 4);
	memcpy(b + at + sizeof magic + 4, json, len);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, b, size) == (ssize_t)size && close(fd) == 0, "write %s: %s",
	      path, strerror(errno));
	free(b);
}

static struct dlreg_metadata *scan(const char *path, enum dlreg_scan_backend backend, int *rc)
{
	struct dlreg_scan_options o = {.backend = backend, .read_buf_size = DLREG_SCAN_READ_BUF_MIN};
	struct dlreg_metadata *m = NULL;
	*rc = dlreg_scan_file(path, &o, &m);
	return m;
}

/* Interrupted and short reads change nothing in what a scan finds. */
static void check_eintr_short(const char *path, enum dlreg_scan_backend backend)
{
	const char *bn = dlreg_scan_backend_name(backend);
	int rc;
	hook = HOOK_NONE;
	struct dlreg_metadata *want = scan(path, backend, &rc);
	CHECK(rc == DLREG_OK, "%s via %s: %s (%s)", path, bn, dlreg_strerror(rc), dlreg_errdetail());
	hook = HOOK_EINTR_SHORT;
	calls = interrupts = shortened = 0;
	struct dlreg_metadata *got = scan(path, backend, &rc);
	hook = HOOK_NONE;
	CHECK(rc == DLREG_OK, "%s via %s, reads interrupted and short: %s (%s)", path, bn,
	      dlreg_strerror(rc), dlreg_errdetail());
	CHECK(interrupts > 0 && shortened > 0, "%s via %s: %lu EINTRs, %lu short reads given",
	      path, bn, interrupts, shortened);
	CHECK(got && want && got->json_len == want->json_len &&
	              strcmp(got->json, want->json) == 0 && got->offset == want->offset &&
	              got->where == want->where && got->build_id_len == want->build_id_len,
	      "%s via %s: another result with interrupted and short reads", path, bn);
	dlreg_metadata_free(want);
	dlreg_metadata_free(got);
}

/* A file rewritten during the scan (at its first read, or a later one) is ETRUNCATED. */
static void check_rewrite(const char *path, unsigned long at)
{
	hook = HOOK_REWRITE;
	calls = 0;
	rewrite_path = path;
	rewrite_at = at;
	int rc;
	struct dlreg_metadata *m = scan(path, DLREG_SCAN_READ, &rc);
	hook = HOOK_NONE;
	CHECK(calls >= at, "%s: only %lu reads, the rewrite at read %lu never came", path, calls,
	      at);
	CHECK(rc == DLREG_ETRUNCATED && m == NULL && strstr(dlreg_errdetail(), "changed"),
	      "%s rewritten at read %lu: %s (%s)", path, at, dlreg_strerror(rc),
	      dlreg_errdetail());
	dlreg_metadata_free(m);
}

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr, "usage: test_scan_pread PLUGIN.so\n");
		return argc == 2 ? 0 : 2;
	}
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/dlreg-scan-pread-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "test_scan_pread: cannot create a temporary directory\n");
		return 2;
	}
	char data[512], copy[512];
	snprintf(data, sizeof data, "%s/data", tmpdir);
	snprintf(copy, sizeof copy, "%s/plugin.so", tmpdir);
	/* The record past the first window, so that the search reads on. */
	write_marker_file(data, 5 * DLREG_SCAN_READ_BUF_MIN, 3 * DLREG_SCAN_READ_BUF_MIN + 5);
	check_eintr_short(data, DLREG_SCAN_READ);
	check_eintr_short(data, DLREG_SCAN_AUTO);
	check_eintr_short(argv[1], DLREG_SCAN_READ);
	check_rewrite(data, 1);
	check_rewrite(data, 3);
	/* The plugin's note is found by the header pass; rewrite a copy. */
	FILE *in = fopen(argv[1], "rb"), *out = fopen(copy, "wb");
	CHECK(in && out, "cannot copy %s", argv[1]);
	char buf[65536];
	for (size_t n; in && out && (n = fread(buf, 1, sizeof buf, in)) > 0;)
		CHECK(fwrite(buf, 1, n, out) == n, "copy: %s", strerror(errno));
	if (in)
		fclose(in);
	if (out)
		CHECK(fclose(out) == 0, "copy: %s", strerror(errno));
	check_rewrite(copy, 1);
	unlink(data);
	unlink(copy);
	CHECK(rmdir(tmpdir) == 0, "rmdir %s: %s", tmpdir, strerror(errno));
	return check_report("scan_pread");
}
