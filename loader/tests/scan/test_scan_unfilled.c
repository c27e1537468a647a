/*
 * test_scan_unfilled.c - a mapped page the kernel cannot fill, in a file
 * that did not change, is neither DLREG_ETRUNCATED nor DLREG_EIO: the scan
 * reads the file instead and gives the read backend's answer.
 *
 * The file is sparse, on a tmpfs that is then filled to the last page: a
 * mapping's first touch of a hole must allocate a page, fails with ENOSPC
 * and raises SIGBUS, the signal of a file truncated under the mapping,
 * while read() returns zeros there without allocating.  Mounted in a
 * private mount namespace, gone with this process.  Needs root; exits 77
 * (skipped) without it, or where the mapping does not fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlreg/scan.h"

#define FILE_SIZE ((off_t)512 * 1024)
#define JSON "{\"unfilled\":1}"
#define RECORD_AT (FILE_SIZE - 200)

static int skip(const char *why)
{
	printf("skip: %s\n", why);
	return 77;
}

/* The marker record: magic, little-endian length (under 256), JSON. */
static const struct {
	unsigned char magic[DLREG_METADATA_MAGIC_LEN];
	unsigned char len[4];
	char json[sizeof JSON];
} record = {DLREG_METADATA_MAGIC_BYTES, {sizeof JSON - 1, 0, 0, 0}, JSON};

/* The sparse file: the record near its end, holes before it. */
static int make_plugin(const char *path)
{
	const size_t n = DLREG_METADATA_HEADER_LEN + sizeof JSON - 1;
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	int ok = fd >= 0 && ftruncate(fd, FILE_SIZE) == 0 &&
	         pwrite(fd, &record, n, RECORD_AT) == (ssize_t)n;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Writes `path` until the file system is full; 0 once it said ENOSPC. */
static int fill(const char *path)
{
	static unsigned char page[4096];
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ssize_t w;
	memset(page, 'f', sizeof page);
	while ((w = write(fd, page, sizeof page)) > 0)
		;
	int e = errno;
	close(fd);
	return w < 0 && e == ENOSPC ? 0 : -1;
}

static int scan_all(const char *plugin)
{
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_AUTO,
	                                                   DLREG_SCAN_READ};
	static const char *const names[] = {"mmap", "auto", "read"};
	struct stat before, after;
	int faulted = 0;
	CHECK(stat(plugin, &before) == 0, "stat before: %s", strerror(errno));
	for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
		struct dlreg_scan_options o = {.backend = backends[b]};
		struct dlreg_metadata *m = NULL;
		unsigned long long faults = dlreg_scan_fault_count();
		int rc = dlreg_scan_file(plugin, &o, &m);
		int took = dlreg_scan_fault_count() > faults;
		if (backends[b] == DLREG_SCAN_MMAP)
			faulted = took;
		CHECK(rc == DLREG_OK, "%s: %s (%s)%s", names[b], dlreg_strerror(rc),
		      dlreg_errdetail(), took ? ", after a fault" : "");
		if (rc == DLREG_OK) {
			CHECK(m->where == DLREG_META_MARKER &&
			              m->offset == (uint64_t)RECORD_AT + DLREG_METADATA_HEADER_LEN &&
			              strcmp(m->json, JSON) == 0,
			      "%s: found %s at %llu", names[b], m->json,
			      (unsigned long long)m->offset);
			/* A mapping that faulted hands the scan to pread: it says so. */
			if (took)
				CHECK(m->backend == DLREG_SCAN_READ,
				      "%s: faulted but reports backend %d", names[b], (int)m->backend);
		}
		dlreg_metadata_free(m);
	}
	CHECK(stat(plugin, &after) == 0 && after.st_size == before.st_size &&
	              after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
	      "the file changed during the scans");
	return faulted;
}

int main(int argc, char **argv)
{
	int usage = check_no_args(argc, argv,
	                          "usage: test_scan_unfilled\n"
	                          "A mapped page the kernel cannot fill in an unchanged file is "
	                          "read (root: tmpfs).\n");
	if (usage >= 0)
		return usage;
	const char *tmp = getenv("TMPDIR");
	char dir[512], plugin[600], filler[600];
	if (geteuid() != 0)
		return skip("mounting a tmpfs needs root");
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return skip("cannot make a private mount namespace here");
	snprintf(dir, sizeof dir, "%s/dlreg-unfilled.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (mount("dlreg-unfilled", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0) {
		rmdir(dir);
		return skip("cannot mount a tmpfs");
	}
	snprintf(plugin, sizeof plugin, "%s/plugin", dir);
	snprintf(filler, sizeof filler, "%s/filler", dir);
	int rc = 1;
	if (make_plugin(plugin) != 0 || fill(filler) != 0) {
		fprintf(stderr, "cannot set up the full tmpfs: %s\n", strerror(errno));
	} else if (!scan_all(plugin) && !check_failed) {
		rc = skip("the mapping of a hole on a full tmpfs did not fault on this kernel");
	} else {
		rc = check_report("scan_unfilled");
	}
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return rc;
}
