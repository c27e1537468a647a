/*
 * test_scan_eio.c - a page the kernel cannot read is DLREG_EIO through every
 * backend.  read() reports the error as it is; a mapping reports it as a
 * SIGBUS, the signal a file truncated under the mapping raises, and that
 * one must not pass for DLREG_ETRUNCATED (the file did not change).
 *
 * The files live on a FUSE file system served by a child process that
 * speaks the kernel protocol directly (no libfuse): each read touching a
 * chosen page fails with EIO, as on a disk with a bad sector or a network
 * file system whose server went away.  Mounted in a private mount
 * namespace, gone with this process.  Needs root and /dev/fuse; exits 77
 * (skipped) without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "dlreg/scan.h"

#define PAGE 4096u
#define FILE_SIZE (3 * PAGE)
#define JSON "{\"eio\":1}"
#define RECORD_AT (FILE_SIZE - 200)

/* The files (node id 2 + index; 1 is the root) and the page whose reads fail. */
static const struct served {
	const char *name;
	uint64_t bad_page;
} files[] = {{"good", UINT64_MAX}, {"bad-tail", 2}, {"bad-head", 0}};
#define NFILES (sizeof files / sizeof files[0])

static unsigned char content[FILE_SIZE];

static void make_content(void)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	uint32_t len = (uint32_t)strlen(JSON);
	memset(content, 'x', sizeof content);
	memcpy(content + RECORD_AT, magic, sizeof magic);
	for (int i = 0; i < 4; i++)
		content[RECORD_AT + DLREG_METADATA_MAGIC_LEN + i] = (unsigned char)(len >> (8 * i));
	memcpy(content + RECORD_AT + DLREG_METADATA_HEADER_LEN, JSON, len);
}

/* ---- the server ---- */

static void reply(int fd, uint64_t unique, int err, const void *body, size_t len)
{
	struct fuse_out_header h = {
	        .len = (uint32_t)(sizeof h + len), .error = -err, .unique = unique};
	struct iovec iov[2] = {{&h, sizeof h}, {(void *)(uintptr_t)body, len}};
	if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT) /* ENOENT: interrupted */
		perror("server: writev");
}

static void attr_of(uint64_t node, struct fuse_attr *a)
{
	memset(a, 0, sizeof *a);
	a->ino = node;
	a->mtime = 1000000000;
	a->blksize = PAGE;
	if (node == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		return;
	}
	a->mode = S_IFREG | 0644;
	a->nlink = 1;
	a->size = FILE_SIZE;
	a->blocks = FILE_SIZE / 512;
}

static void serve_read(int fd, uint64_t unique, uint64_t node, const struct fuse_read_in *in)
{
	const struct served *f = &files[node - 2];
	uint64_t off = in->offset, end = off + in->size;
	if (f->bad_page != UINT64_MAX && off < (f->bad_page + 1) * PAGE &&
	    end > f->bad_page * PAGE) {
		reply(fd, unique, EIO, NULL, 0);
		return;
	}
	if (off > FILE_SIZE)
		off = FILE_SIZE;
	if (end > FILE_SIZE)
		end = FILE_SIZE;
	reply(fd, unique, 0, content + off, (size_t)(end - off));
}

static void serve(int fd)
{
	static unsigned char buf[FUSE_MIN_READ_BUFFER + 4 * PAGE];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			return; /* ENODEV: unmounted */
		const struct fuse_in_header *in = (const void *)buf;
		const void *arg = buf + sizeof *in;
		uint64_t node = in->nodeid;
		switch (in->opcode) {
		case FUSE_INIT: {
			const struct fuse_init_in *ii = arg;
			struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION,
			                          .minor = ii->minor < FUSE_KERNEL_MINOR_VERSION
			                                           ? ii->minor
			                                           : FUSE_KERNEL_MINOR_VERSION,
			                          .max_readahead = ii->max_readahead,
			                          .max_write = PAGE};
			reply(fd, in->unique, 0, &o, sizeof o);
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = {.entry_valid = 3600, .attr_valid = 3600};
			size_t i = 0;
			while (i < NFILES && strcmp(files[i].name, (const char *)arg) != 0)
				i++;
			if (node != FUSE_ROOT_ID || i == NFILES) {
				reply(fd, in->unique, ENOENT, NULL, 0);
				break;
			}
			o.nodeid = 2 + i;
			attr_of(o.nodeid, &o.attr);
			reply(fd, in->unique, 0, &o, sizeof o);
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o = {.attr_valid = 3600};
			attr_of(node, &o.attr);
			reply(fd, in->unique, 0, &o, sizeof o);
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = {0};
			reply(fd, in->unique, 0, &o, sizeof o);
			break;
		}
		case FUSE_READ:
			if (node >= 2 && node < 2 + NFILES)
				serve_read(fd, in->unique, node, arg);
			else
				reply(fd, in->unique, EINVAL, NULL, 0);
			break;
		case FUSE_RELEASE:
		case FUSE_FLUSH:
			reply(fd, in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break; /* no reply */
		case FUSE_DESTROY:
			reply(fd, in->unique, 0, NULL, 0);
			return;
		default:
			reply(fd, in->unique, ENOSYS, NULL, 0);
		}
	}
}

/* ---- the checks ---- */

static void scan_all(const char *dir)
{
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ,
	                                                   DLREG_SCAN_AUTO};
	for (size_t i = 0; i < NFILES; i++) {
		char path[600];
		int good = files[i].bad_page == UINT64_MAX;
		snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
		for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
			struct dlreg_scan_options o = {.backend = backends[b]};
			struct dlreg_metadata *m = NULL;
			uint64_t faults = dlreg_scan_fault_count();
			int rc = dlreg_scan_file(path, &o, &m);
			const char *bn = dlreg_scan_backend_name(backends[b]);
			if (good) {
				CHECK(rc == DLREG_OK && m && strcmp(m->json, JSON) == 0 &&
				              m->offset == RECORD_AT + DLREG_METADATA_HEADER_LEN,
				      "%s via %s: %s (%s)", files[i].name, bn, dlreg_strerror(rc),
				      dlreg_errdetail());
				CHECK(!m || backends[b] != DLREG_SCAN_MMAP ||
				              m->backend == DLREG_SCAN_MMAP,
				      "%s via mmap was read instead", files[i].name);
			} else {
				CHECK(rc == DLREG_EIO, "%s via %s: %s (%s), want EIO",
				      files[i].name, bn, dlreg_strerror(rc), dlreg_errdetail());
				/* The mapping really faulted: it is the mapped path under test. */
				if (backends[b] == DLREG_SCAN_MMAP)
					CHECK(dlreg_scan_fault_count() > faults,
					      "%s via mmap took no fault", files[i].name);
			}
			dlreg_metadata_free(m);
		}
	}
}

static int skip(const char *why)
{
	printf("skip: %s\n", why);
	return 77;
}

int main(int argc, char **argv)
{
	int usage = check_no_args(
	        argc, argv,
	        "usage: test_scan_eio\n"
	        "A page the kernel cannot read is DLREG_EIO through every backend (root: FUSE).\n");
	if (usage >= 0)
		return usage;
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	char opts[128];
	if (geteuid() != 0)
		return skip("mounting a FUSE file system needs root");
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		return skip("no /dev/fuse");
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return skip("cannot make a private mount namespace here");
	make_content();
	snprintf(dir, sizeof dir, "%s/dlreg-eio.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (fd < 0 || mount("dlreg-eio", dir, "fuse", MS_NOSUID | MS_NODEV, opts) != 0) {
		rmdir(dir);
		return skip("cannot mount a FUSE file system");
	}
	pid_t pid = fork();
	if (pid == 0) {
		serve(fd);
		_exit(0);
	}
	close(fd);
	if (pid < 0) {
		perror("fork");
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		return 1;
	}
	scan_all(dir);
	umount2(dir, MNT_DETACH);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	rmdir(dir);
	return check_report("scan_eio");
}
