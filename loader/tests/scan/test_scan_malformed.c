/*
 * test_scan_malformed - every corpus case through every backend and the
 * buffer parser, plus the inputs that only exist as files: directory, FIFO,
 * unreadable file, missing file, 3 GiB sparse files, caps and options.
 *
 * Usage: test_scan_malformed [PLUGIN.so]   (a plugin built with
 * DLREG_PLUGIN_METADATA whose metadata has "name":"scan-a")
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#endif
#define CACHESTAT_NR 451 /* cachestat(2), on both */
#endif

#include "dlreg/scan.h"
#include "scan/folios.h"
#include "check.h"
#include "smaps.h"
#include "corpus.h"

static char tmpdir[256];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = n ? fwrite(p, 1, n, f) : 0;
	return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* The detail of a failed scan must name the file only as basename#hash. */
static void check_detail_redacted(const char *what)
{
	const char *d = dlreg_errdetail();
	CHECK(d[0] != '\0', "%s: empty error detail", what);
	CHECK(strstr(d, tmpdir) == NULL, "%s: detail leaks the path: %s", what, d);
	CHECK(strchr(d, '#') != NULL, "%s: detail without a redacted name: %s", what, d);
}

static void same_result(const char *what, const struct dlreg_metadata *a,
                        const struct dlreg_metadata *b)
{
	CHECK(a->json_len == b->json_len && strcmp(a->json, b->json) == 0, "%s: json differs",
	      what);
	CHECK(a->where == b->where && a->offset == b->offset, "%s: location differs (%llu vs %llu)",
	      what, (unsigned long long)a->offset, (unsigned long long)b->offset);
	CHECK(a->build_id_len == b->build_id_len, "%s: build-id differs", what);
}

static void check_case(const struct corpus_case *c)
{
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ,
	                                                   DLREG_SCAN_AUTO};
	struct bytes b;
	struct dlreg_metadata *ref = NULL, *m = NULL;
	char path[512];
	corpus_build(c, &b);
	path_in(path, sizeof path, c->name);
	CHECK(write_file(path, b.p, b.len) == 0, "%s: cannot write", c->name);

	int rc = dlreg_scan_buffer(b.p, b.len, NULL, &ref);
	CHECK(rc == c->expect, "%s: buffer: got %s, want %s (%s)", c->name, dlreg_strerror(rc),
	      dlreg_strerror(c->expect), dlreg_errdetail());
	CHECK(rc == DLREG_OK || !c->detail || strstr(dlreg_errdetail(), c->detail),
	      "%s: buffer: detail '%s' does not say '%s'", c->name, dlreg_errdetail(), c->detail);
	if (rc == DLREG_OK) {
		CHECK(strcmp(ref->json, c->json) == 0, "%s: wrong json %s", c->name, ref->json);
		CHECK((int)ref->where == c->where, "%s: found by %s", c->name,
		      dlreg_meta_where_name(ref->where));
		CHECK(!ref->has_identity, "%s: buffer result with identity", c->name);
	}
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		struct dlreg_scan_options o = {.backend = backends[i],
		                               .read_buf_size = DLREG_SCAN_READ_BUF_MIN};
		rc = dlreg_scan_file(path, &o, &m);
		const char *bn = dlreg_scan_backend_name(backends[i]);
		CHECK(rc == c->expect, "%s: %s: got %s, want %s (%s)", c->name, bn,
		      dlreg_strerror(rc), dlreg_strerror(c->expect), dlreg_errdetail());
		CHECK((rc == DLREG_OK) == (m != NULL), "%s: %s: result pointer", c->name, bn);
		if (rc != DLREG_OK) {
			check_detail_redacted(c->name);
			CHECK(!c->detail || strstr(dlreg_errdetail(), c->detail),
			      "%s: %s: detail '%s' does not say '%s'", c->name, bn,
			      dlreg_errdetail(), c->detail);
			continue;
		}
		if (ref)
			same_result(c->name, ref, m);
		CHECK(m->has_identity && m->identity.size == b.len, "%s: identity", c->name);
		dlreg_metadata_free(m);
		m = NULL;
	}
	dlreg_metadata_free(ref);
	free(b.p);
}

static void check_corpus(void)
{
	CHECK(corpus_count >= 40, "only %zu corpus cases", corpus_count);
	for (size_t i = 0; i < corpus_count; i++)
		check_case(&corpus_cases[i]);
}

/* Details of the ELF cases that the table does not express. */
static void check_elf_details(void)
{
	struct bytes b;
	struct dlreg_metadata *m = NULL;
	for (size_t i = 0; i < corpus_count; i++) {
		const struct corpus_case *c = &corpus_cases[i];
		int be = strstr(c->name, "-be") != NULL, e32 = strstr(c->name, "elf32") != NULL;
		if (strncmp(c->name, "ok-elf", 6) != 0 || strstr(c->name, "marker"))
			continue;
		corpus_build(c, &b);
		CHECK(dlreg_scan_buffer(b.p, b.len, NULL, &m) == DLREG_OK, "%s", c->name);
		if (m) {
			CHECK(m->elf_class == (e32 ? 32u : 64u), "%s: class %u", c->name,
			      m->elf_class);
			CHECK(m->elf_big_endian == be, "%s: byte order", c->name);
			CHECK(m->build_id_len == 20 && m->build_id[0] == 0x40 &&
			              m->build_id[19] == 0x53,
			      "%s: build-id", c->name);
		}
		dlreg_metadata_free(m);
		m = NULL;
		free(b.p);
	}
	/* A build-id of DLREG_BUILD_ID_MAX bytes is kept whole; a longer one is none. */
	for (size_t i = 0; i < corpus_count; i++) {
		const struct corpus_case *c = &corpus_cases[i];
		if (strncmp(c->name, "ok-build-id-", 12) != 0)
			continue;
		size_t want = strcmp(c->name, "ok-build-id-max") == 0 ? DLREG_BUILD_ID_MAX : 0;
		corpus_build(c, &b);
		CHECK(dlreg_scan_buffer(b.p, b.len, NULL, &m) == DLREG_OK, "%s", c->name);
		CHECK(m && m->build_id_len == want &&
		              (!want || (m->build_id[0] == 0x40 && m->build_id[want - 1] == 0x7f)),
		      "%s: build-id of %zu bytes, want %zu", c->name, m ? m->build_id_len : 0,
		      want);
		dlreg_metadata_free(m);
		m = NULL;
		free(b.p);
	}
	for (size_t i = 0; i < corpus_count; i++) {
		if (strcmp(corpus_cases[i].name, "ok-sections-only") != 0)
			continue;
		corpus_build(&corpus_cases[i], &b);
		CHECK(dlreg_scan_buffer(b.p, b.len, NULL, &m) == DLREG_OK, "sections-only");
		CHECK(m && strcmp(m->section, ".note.dlreg.metadata") == 0, "section name %s",
		      m ? m->section : "-");
		/* Nothing follows the name: not the table's next names, nor
		 * stale bytes where the table ends first. */
		size_t tail = 0;
		for (size_t k = m ? strlen(m->section) : sizeof m->section; k < sizeof m->section; k++)
			tail |= (unsigned char)m->section[k];
		CHECK(tail == 0, "sections-only: bytes after the section name's NUL");
		dlreg_metadata_free(m);
		m = NULL;
		free(b.p);
	}
}

/* A raised limit admits what the default one refuses. */
static void check_limits(void)
{
	struct bytes b;
	struct dlreg_metadata *m = NULL;
	struct dlreg_scan_options o = {.max_meta_size = 1 << 20};
	for (size_t i = 0; i < corpus_count; i++) {
		if (strcmp(corpus_cases[i].name, "dlreg-too-big") != 0)
			continue;
		corpus_build(&corpus_cases[i], &b);
		CHECK(dlreg_scan_buffer(b.p, b.len, &o, &m) == DLREG_OK, "raised meta limit");
		CHECK(m && m->json_len == DLREG_METADATA_MAX + 100, "big json length");
		dlreg_metadata_free(m);
		m = NULL;
		free(b.p);
	}
	/* max_meta_size admits metadata of exactly that size, in a note or a marker. */
	static const struct {
		const char *name;
		int over; /* the result one byte over the limit */
	} at_limit[] = {{"ok-elf64-le", DLREG_ETOOBIG}, {"ok-marker-text", DLREG_ENOMETA}};
	for (size_t k = 0; k < sizeof at_limit / sizeof at_limit[0]; k++) {
		for (size_t i = 0; i < corpus_count; i++) {
			if (strcmp(corpus_cases[i].name, at_limit[k].name) != 0)
				continue;
			corpus_build(&corpus_cases[i], &b);
			CHECK(dlreg_scan_buffer(b.p, b.len, NULL, &m) == DLREG_OK, "%s",
			      at_limit[k].name);
			struct dlreg_scan_options lim = {.max_meta_size = m ? m->json_len : 1};
			dlreg_metadata_free(m);
			m = NULL;
			int rc = dlreg_scan_buffer(b.p, b.len, &lim, &m);
			CHECK(rc == DLREG_OK, "%s with max_meta_size %zu: %s (%s)", at_limit[k].name,
			      lim.max_meta_size, dlreg_strerror(rc), dlreg_errdetail());
			dlreg_metadata_free(m);
			m = NULL;
			lim.max_meta_size--;
			rc = dlreg_scan_buffer(b.p, b.len, &lim, &m);
			CHECK(rc == at_limit[k].over, "%s with max_meta_size %zu: %s, want %s",
			      at_limit[k].name, lim.max_meta_size, dlreg_strerror(rc),
			      dlreg_strerror(at_limit[k].over));
			dlreg_metadata_free(m);
			m = NULL;
			free(b.p);
		}
	}
	/* Metadata larger than the read window is read around it, and mapped whole. */
	char path[512];
	path_in(path, sizeof path, "dlreg-too-big");
	static const enum dlreg_scan_backend both[] = {DLREG_SCAN_READ, DLREG_SCAN_MMAP};
	for (size_t i = 0; i < 2; i++) {
		o.backend = both[i];
		o.read_buf_size = DLREG_SCAN_READ_BUF_MIN;
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_OK && m->json_len == DLREG_METADATA_MAX + 100 &&
		              m->json[0] == '{',
		      "big metadata via %s: %s", dlreg_scan_backend_name(both[i]),
		      dlreg_strerror(rc));
		dlreg_metadata_free(m);
		m = NULL;
	}
	struct dlreg_scan_options bad[] = {
	        {.read_buf_size = 1000},
	        {.read_buf_size = DLREG_SCAN_READ_BUF_MAX + 1},
	        {.max_meta_size = DLREG_SCAN_META_LIMIT + 1},
	        {.flags = 0x80},
	        {.backend = (enum dlreg_scan_backend)7},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(dlreg_scan_buffer("", 0, &bad[i], &m) == DLREG_EINVAL && !m, "bad option %zu",
		      i);
	CHECK(dlreg_scan_file(NULL, NULL, &m) == DLREG_EINVAL, "NULL path");
	CHECK(dlreg_scan_file("", NULL, &m) == DLREG_EINVAL, "empty path");
	CHECK(dlreg_scan_file("x", NULL, NULL) == DLREG_EINVAL, "NULL out");
	CHECK(dlreg_scan_buffer(NULL, 5, NULL, &m) == DLREG_EINVAL, "NULL buffer");
}

/* JSON acceptance rules, through the marker form. */
static void check_json_rules(void)
{
	static const struct {
		const char *text;
		int ok;
	} t[] = {
	        {"{}", 1},
	        {" \t\r\n{ \"a\" : [ ] , \"b\":{\"c\":-0.5E+2}}\n", 1},
	        {"{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}", 1},
	        {"{\"a\":[true,false,null,0,-1,1e5,1.25]}", 1},
	        {"[]", 0},
	        {"\"s\"", 0},
	        {"{", 0},
	        {"{\"a\":1,}", 0},
	        {"{\"a\" 1}", 0},
	        {"{a:1}", 0},
	        {"{\"a\":01}", 0},
	        {"{\"a\":1.}", 0},
	        {"{\"a\":.5}", 0},
	        {"{\"a\":tru}", 0},
	        {"{\"a\":\"\\x\"}", 0},
	        {"{\"a\":\"\\u12g4\"}", 0},
	        {"{\"a\":\"tab\there\"}", 0},
	        {"{} {}", 0},
	        {"{\"a\":1}x", 0},
	        {"{\"a\":\"\xff\"}", 0},
	        {"{\"a\":\"\xe2\x82\"}", 0},
	        {"{\"a\":\"\xf4\x90\x80\x80\"}", 0},
	};
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		unsigned char buf[256];
		uint32_t n = (uint32_t)strlen(t[i].text);
		struct dlreg_metadata *m = NULL;
		memcpy(buf, magic, 16);
		for (int k = 0; k < 4; k++)
			buf[16 + k] = (unsigned char)(n >> (8 * k));
		memcpy(buf + 20, t[i].text, n);
		int rc = dlreg_scan_buffer(buf, 20 + n, NULL, &m);
		CHECK(rc == (t[i].ok ? DLREG_OK : DLREG_ENOMETA), "json rule %zu (%s): %s", i,
		      t[i].text, dlreg_strerror(rc));
		dlreg_metadata_free(m);
	}
}

/* Nesting deeper than the validator's bound is refused, not recursed into. */
static void check_json_depth(void)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	char deep[400];
	size_t k = 0;
	deep[k++] = '{';
	deep[k++] = '"';
	deep[k++] = 'a';
	deep[k++] = '"';
	deep[k++] = ':';
	for (int d = 0; d < 150; d++)
		deep[k++] = '[';
	for (int d = 0; d < 150; d++)
		deep[k++] = ']';
	deep[k++] = '}';
	unsigned char buf[420];
	memcpy(buf, magic, 16);
	for (int i = 0; i < 4; i++)
		buf[16 + i] = (unsigned char)(k >> (8 * i));
	memcpy(buf + 20, deep, k);
	struct dlreg_metadata *m = NULL;
	CHECK(dlreg_scan_buffer(buf, 20 + k, NULL, &m) == DLREG_ENOMETA, "deep nesting accepted");
	dlreg_metadata_free(m);
	/* The bound itself: 64 levels (the object and 63 arrays) pass, 65 do not. */
	for (int levels = 64; levels <= 65; levels++) {
		k = 5;
		for (int d = 1; d < levels; d++)
			deep[k++] = '[';
		for (int d = 1; d < levels; d++)
			deep[k++] = ']';
		deep[k++] = '}';
		for (int i = 0; i < 4; i++)
			buf[16 + i] = (unsigned char)(k >> (8 * i));
		memcpy(buf + 20, deep, k);
		m = NULL;
		int rc = dlreg_scan_buffer(buf, 20 + k, NULL, &m);
		CHECK(rc == (levels == 64 ? DLREG_OK : DLREG_ENOMETA), "%d levels: %s", levels,
		      dlreg_strerror(rc));
		dlreg_metadata_free(m);
	}
}

/* DLREG_SCAN_MAX_BAD_MARKERS rejected markers are tolerated, one more is not. */
static void check_bad_marker_limit(void)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	static const char json[] = "{\"a\":1}";
	enum { REC = DLREG_METADATA_HEADER_LEN };
	unsigned char buf[(DLREG_SCAN_MAX_BAD_MARKERS + 2) * REC + sizeof json];
	for (unsigned bad = DLREG_SCAN_MAX_BAD_MARKERS; bad <= DLREG_SCAN_MAX_BAD_MARKERS + 1;
	     bad++) {
		size_t n = 0;
		for (unsigned i = 0; i <= bad; i++) { /* bad records of length 0, then one good */
			memcpy(buf + n, magic, sizeof magic);
			memset(buf + n + sizeof magic, 0, 4);
			n += REC;
		}
		buf[n - 4] = (unsigned char)(sizeof json - 1);
		memcpy(buf + n, json, sizeof json - 1);
		n += sizeof json - 1;
		struct dlreg_metadata *m = NULL;
		int rc = dlreg_scan_buffer(buf, n, NULL, &m);
		CHECK(rc == (bad == DLREG_SCAN_MAX_BAD_MARKERS ? DLREG_OK : DLREG_EMALFORMED),
		      "%u bad markers before a good one: %s", bad, dlreg_strerror(rc));
		dlreg_metadata_free(m);
	}
}

static void check_special_files(void)
{
	struct dlreg_metadata *m = NULL;
	char path[512];
	CHECK(dlreg_scan_file(tmpdir, NULL, &m) == DLREG_EISDIR, "directory");
	check_detail_redacted("directory");

	path_in(path, sizeof path, "missing.so");
	CHECK(dlreg_scan_file(path, NULL, &m) == DLREG_ENOENT, "missing file");
	check_detail_redacted("missing");
	path_in(path, sizeof path, "ok-elf64-le/x");
	CHECK(dlreg_scan_file(path, NULL, &m) == DLREG_ENOENT, "file used as a directory");

	path_in(path, sizeof path, "fifo");
	CHECK(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));
	alarm(20); /* a blocking open would hang here: fail loudly instead */
	double t0 = now_s();
	CHECK(dlreg_scan_file(path, NULL, &m) == DLREG_EINVAL, "fifo");
	CHECK(now_s() - t0 < 5.0, "fifo scan took %.1f s", now_s() - t0);
	alarm(0);
	check_detail_redacted("fifo");
	CHECK(dlreg_scan_file("/dev/null", NULL, &m) == DLREG_EINVAL, "character device");

	/* A sysfs attribute reports 4096 bytes and reads fewer: not a truncation.
	 * sysfs maps no files (mmap: ENODEV), so the mmap backend reads it too and
	 * gives the same answer; so for /sys/kernel/notes, whose size is true
	 * (the kernel's own ELF notes, no dlreg one). */
	static const char sysattr[] = "/sys/kernel/mm/transparent_hugepage/enabled";
	static const char sysnotes[] = "/sys/kernel/notes";
	static const enum dlreg_scan_backend all[] = {DLREG_SCAN_AUTO, DLREG_SCAN_READ,
	                                              DLREG_SCAN_MMAP};
	struct statfs sfs;
	if (statfs(sysattr, &sfs) == 0 && (unsigned long)sfs.f_type == 0x62656572ul) {
		for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
			struct dlreg_scan_options o = {.backend = all[b]};
			int prc = dlreg_scan_file(sysattr, &o, &m);
			CHECK(prc == DLREG_EINVAL && strstr(dlreg_errdetail(), "sysfs pseudo-file"),
			      "sysfs attribute, %s: %s (%s)", dlreg_scan_backend_name(o.backend),
			      dlreg_strerror(prc), dlreg_errdetail());
			dlreg_metadata_free(m);
			m = NULL;
		}
	} else {
		printf("note: %s is not on sysfs here; pseudo-file case not run\n", sysattr);
	}
	if (statfs(sysnotes, &sfs) == 0 && (unsigned long)sfs.f_type == 0x62656572ul) {
		for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
			struct dlreg_scan_options o = {.backend = all[b]};
			int prc = dlreg_scan_file(sysnotes, &o, &m);
			CHECK(prc == DLREG_ENOMETA, "%s, %s: %s (%s), want ENOMETA", sysnotes,
			      dlreg_scan_backend_name(o.backend), dlreg_strerror(prc),
			      dlreg_errdetail());
			dlreg_metadata_free(m);
			m = NULL;
		}
	} else {
		printf("note: no %s on sysfs here; unmappable-file case not run\n", sysnotes);
	}

	/* open() of a socket fails (ENXIO): still not a regular file. */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	path_in(path, sizeof path, "socket");
	int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(sfd >= 0, "socket: %s", strerror(errno));
	int plen = snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	CHECK(plen >= 0 && (size_t)plen < sizeof sun.sun_path, "socket path too long: %s", path);
	CHECK(bind(sfd, (const struct sockaddr *)&sun, sizeof sun) == 0, "bind: %s",
	      strerror(errno));
	int rc = dlreg_scan_file(path, NULL, &m);
	CHECK(rc == DLREG_EINVAL, "socket: %s (%s)", dlreg_strerror(rc), dlreg_errdetail());
	check_detail_redacted("socket");
	close(sfd);

	/* A name as long as a file name can be keeps its hash in the detail. */
	char name[256];
	memset(name, 'n', 255);
	name[255] = '\0';
	path_in(path, sizeof path, name);
	CHECK(dlreg_scan_file(path, NULL, &m) == DLREG_ENOENT, "long name");
	check_detail_redacted("long name");
	CHECK(strstr(dlreg_errdetail(), name) != NULL, "long name cut short: %s",
	      dlreg_errdetail());
}

/* The kernel function a process sleeps in, or "" (/proc/PID/wchan). */
static void wchan_of(pid_t pid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, (int)n, f))
			buf[0] = '\0';
		fclose(f);
	}
}

/*
 * Not even a non-blocking open: a writer blocked opening a FIFO is released
 * by any reader's open, so a scan of the FIFO must leave it blocked.
 */
static void check_fifo_not_opened(void)
{
	static const enum dlreg_scan_backend all[] = {DLREG_SCAN_AUTO, DLREG_SCAN_READ,
	                                              DLREG_SCAN_MMAP};
	struct dlreg_metadata *m = NULL;
	char path[512];
	char wchan[128];
	path_in(path, sizeof path, "fifo-writer");
	CHECK(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));
	pid_t pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(30);
		int fd = open(path, O_WRONLY); /* blocks until some reader opens */
		_exit(fd >= 0 ? 0 : 1);
	}
	/* Until the writer sleeps in the FIFO's open, no open of ours could be seen. */
	int blocked = 0;
	for (int i = 0; i < 500 && !blocked; i++) {
		wchan_of(pid, wchan, sizeof wchan);
		if (strcmp(wchan, "0") == 0)
			break; /* no symbol names here */
		blocked = strcmp(wchan, "wait_for_partner") == 0;
		if (!blocked)
			usleep(10000);
	}
	if (!blocked) {
		printf("note: /proc/%d/wchan shows \"%s\"; FIFO check only pauses\n", (int)pid, wchan);
		usleep(500000);
	}
	for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
		struct dlreg_scan_options o = {.backend = all[b]};
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_EINVAL && strstr(dlreg_errdetail(), "a FIFO, not opened"),
		      "fifo with a blocked writer, %s: %s (%s)", dlreg_scan_backend_name(o.backend),
		      dlreg_strerror(rc), dlreg_errdetail());
	}
	usleep(100000); /* a released writer exits at once */
	int status;
	pid_t got = waitpid(pid, &status, WNOHANG);
	CHECK(got == 0, "the scans opened the FIFO: its blocked writer was released");
	if (blocked) {
		wchan_of(pid, wchan, sizeof wchan);
		CHECK(strcmp(wchan, "wait_for_partner") == 0, "writer no longer blocked: %s", wchan);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid, "wait for the writer");
	}
	unlink(path);
}

/*
 * Root reads through mode 000, so as root the check runs in a child that
 * has dropped to uid/gid 65534.  The same child must still read a 0644 file
 * next to it, so the EACCES comes from the file's mode and nothing else.
 * The child works in tmpdir by relative names: $TMPDIR itself may be a
 * private (0700) directory that uid 65534 cannot search.
 */
static void check_unreadable(void)
{
	char locked[512], open_ok[512];
	path_in(locked, sizeof locked, "ok-elf64-le");
	path_in(open_ok, sizeof open_ok, "ok-marker-text");
	CHECK(chmod(locked, 0) == 0, "chmod");
	pid_t pid = fork();
	if (pid == 0) {
		struct dlreg_metadata *m = NULL;
		if (chdir(tmpdir) != 0)
			_exit(201);
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(200);
		if (dlreg_scan_file(strrchr(open_ok, '/') + 1, NULL, &m) != DLREG_OK)
			_exit(201);
		_exit(dlreg_scan_file(strrchr(locked, '/') + 1, NULL, &m));
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	CHECK(WIFEXITED(status), "child crashed");
	int code = WEXITSTATUS(status);
	if (code == 200)
		printf("note: cannot drop privileges; unreadable-file case not run\n");
	else
		CHECK(code == DLREG_EACCES, "unreadable file: child says %d (%s)", code,
		      code < DLREG_ERR_COUNT_ ? dlreg_strerror(code) : "setup failed");
	chmod(locked, 0644);
}

/* 3 GiB of hole: no data extents, so every backend answers at once. */
static void check_sparse(void)
{
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ,
	                                                   DLREG_SCAN_AUTO};
	const uint64_t big = (uint64_t)3 << 30;
	char path[512];
	path_in(path, sizeof path, "sparse-3g");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)big) == 0, "sparse file: %s", strerror(errno));
	for (size_t i = 0; i < 3; i++) {
		struct dlreg_metadata *m = NULL;
		struct dlreg_scan_options o = {.backend = backends[i]};
		double t0 = now_s();
		int rc = dlreg_scan_file(path, &o, &m);
		double dt = now_s() - t0;
		CHECK(rc == DLREG_ENOMETA, "sparse %s: %s", dlreg_scan_backend_name(backends[i]),
		      dlreg_strerror(rc));
		CHECK(dt < 3.0, "sparse %s took %.2f s", dlreg_scan_backend_name(backends[i]), dt);
	}
	/* A record near the end is found: the search visits data extents only. */
	unsigned char rec[64];
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	memcpy(rec, magic, 16);
	memcpy(rec + 16, "\x02\x00\x00\x00{}", 6);
	const uint64_t at = big - 4096;
	CHECK(pwrite(fd, rec, 22, (off_t)at) == 22, "pwrite");
	for (size_t i = 0; i < 3; i++) {
		struct dlreg_metadata *m = NULL;
		struct dlreg_scan_options o = {.backend = backends[i]};
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_OK && m->offset == at + 20 && m->where == DLREG_META_MARKER,
		      "sparse record %s: %s", dlreg_scan_backend_name(backends[i]),
		      dlreg_strerror(rc));
		dlreg_metadata_free(m);
	}
	struct dlreg_metadata *m = NULL;
	struct dlreg_scan_options cap = {.backend = DLREG_SCAN_MMAP, .max_map_size = 1 << 30};
	CHECK(dlreg_scan_file(path, &cap, &m) == DLREG_ETOOBIG, "mapping cap");
	cap.backend = DLREG_SCAN_AUTO;
	CHECK(dlreg_scan_file(path, &cap, &m) == DLREG_OK && m->backend == DLREG_SCAN_READ,
	      "auto above the cap reads");
	dlreg_metadata_free(m);
	close(fd);
	unlink(path);
}

static void check_plugin(const char *plugin)
{
	struct dlreg_metadata *m = NULL;
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ};
	for (size_t i = 0; i < 2; i++) {
		struct dlreg_scan_options o = {.backend = backends[i]};
		int rc = dlreg_scan_file(plugin, &o, &m);
		CHECK(rc == DLREG_OK, "plugin: %s (%s)", dlreg_strerror(rc), dlreg_errdetail());
		if (!m)
			continue;
		CHECK(strstr(m->json, "\"scan-a\"") != NULL, "plugin json %s", m->json);
		CHECK(m->where == DLREG_META_NOTE_SEGMENT, "plugin found by %s",
		      dlreg_meta_where_name(m->where));
		CHECK(m->build_id_len >= 8, "plugin build-id length %zu", m->build_id_len);
		CHECK(m->backend == backends[i], "backend used");
		dlreg_metadata_free(m);
		m = NULL;
	}
	struct dlreg_scan_options no_marker = {.flags = DLREG_SCAN_NO_MARKER};
	char path[512];
	path_in(path, sizeof path, "ok-marker-text");
	CHECK(dlreg_scan_file(path, &no_marker, &m) == DLREG_ENOMETA, "NO_MARKER flag");
}

/* Open descriptors and mappings of this process. */
static void count_fds_maps(size_t *fds, size_t *maps)
{
	*fds = *maps = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		*fds += e->d_name[0] != '.';
	if (d)
		closedir(d);
	FILE *f = fopen("/proc/self/maps", "re");
	for (int c; f && (c = getc(f)) != EOF;)
		*maps += c == '\n';
	if (f)
		fclose(f);
}

/*
 * The fault-cost probe, which runs at the first dlreg_scan_fault_cost_ns()
 * call of a process (here, before any scan), unmaps the pages it faults
 * in.  Counted in bytes, not mappings: its leftovers could merge.
 */
static void check_fault_probe_unmaps(void)
{
	(void)mapped_bytes(); /* its own first allocations settle */
	unsigned long long before = mapped_bytes();
	unsigned ns = dlreg_scan_fault_cost_ns();
	unsigned long long after = mapped_bytes();
	CHECK(after == before, "the fault-cost probe (%u ns a fault) left %lld bytes mapped", ns,
	      (long long)(after - before));
}

/*
 * Scans give back every descriptor and mapping they take, on success and
 * on each kind of failure, through every backend.
 */
static void check_no_leaks(const char *plugin)
{
	static const char *const names[] = {"ok-marker-straddle", "ok-elf64-le",
	                                    "note-area-one-short", "marker-cut", "dlreg-too-big"};
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ,
	                                                   DLREG_SCAN_AUTO};
	char paths[sizeof names / sizeof names[0] + 3][512];
	size_t n = 0;
	for (; n < sizeof names / sizeof names[0]; n++)
		path_in(paths[n], sizeof paths[n], names[n]);
	snprintf(paths[n++], sizeof paths[0], "%s", plugin);
	snprintf(paths[n++], sizeof paths[0], "%s", tmpdir);      /* opened, then refused */
	snprintf(paths[n++], sizeof paths[0], "%s", "/dev/null"); /* likewise */
	size_t fds0 = 0, maps0 = 0, fds, maps;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			count_fds_maps(&fds0, &maps0);
		for (int rep = 0; rep < (round ? 20 : 1); rep++)
			for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++)
				for (size_t i = 0; i < n; i++) {
					struct dlreg_scan_options o = {.backend = backends[b]};
					struct dlreg_metadata *m = NULL;
					(void)dlreg_scan_file(paths[i], &o, &m);
					dlreg_metadata_free(m);
				}
	}
	count_fds_maps(&fds, &maps);
	CHECK(fds == fds0 && maps == maps0,
	      "%zu scans: %zu descriptors and %zu mappings before, %zu and %zu after",
	      20 * n * (sizeof backends / sizeof backends[0]), fds0, maps0, fds, maps);
}

/* Writes `size` bytes of 'x' to a new file, `tail` (if any) at its very end. */
static int write_filled(const char *path, uint64_t size, const void *tail, size_t tail_len)
{
	static char block[1 << 16];
	memset(block, 'x', sizeof block);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	for (uint64_t off = 0; fd >= 0 && off < size; off += sizeof block) {
		size_t n = size - off < sizeof block ? (size_t)(size - off) : sizeof block;
		CHECK(pwrite(fd, block, n, (off_t)off) == (ssize_t)n, "fill: %s", strerror(errno));
	}
	if (fd >= 0 && tail_len)
		CHECK(pwrite(fd, tail, tail_len, (off_t)(size - tail_len)) == (ssize_t)tail_len,
		      "tail: %s", strerror(errno));
	return fd;
}

/* Fraction of the file's pages in the page cache, or -1 if it cannot tell. */
static double resident_fraction(int fd, uint64_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((size + (uint64_t)page - 1) / (uint64_t)page);
	unsigned char *vec = malloc(pages);
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	double f = -1;
	if (vec && p != MAP_FAILED && mincore(p, (size_t)size, vec) == 0) {
		size_t in = 0;
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
		f = (double)in / (double)pages;
	}
	if (p != MAP_FAILED)
		munmap(p, (size_t)size);
	free(vec);
	return f;
}

/* A marker record holding the metadata {} (22 bytes). */
static void marker_record(unsigned char rec[22])
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	memcpy(rec, magic, 16);
	memcpy(rec + 16, "\x02\x00\x00\x00{}", 6);
}

/*
 * The read backend searches window by window, carrying the magic's length
 * less one byte into the next: a record that starts at any offset across
 * the first two window edges (the second window starts that carry early)
 * is found, where it is.
 */
static void check_window_edges(void)
{
	const size_t w = DLREG_SCAN_READ_BUF_MIN, carry = DLREG_METADATA_MAGIC_LEN - 1;
	const size_t edges[] = {w, 2 * w - carry};
	static unsigned char file[4 * DLREG_SCAN_READ_BUF_MIN];
	unsigned char rec[22];
	char path[512];
	path_in(path, sizeof path, "window-edge");
	marker_record(rec);
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_READ, .read_buf_size = w};
	for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
		for (size_t at = edges[e] - sizeof rec; at <= edges[e] + 2; at++) {
			memset(file, 'x', sizeof file);
			memcpy(file + at, rec, sizeof rec);
			CHECK(write_file(path, file, sizeof file) == 0, "cannot write %s", path);
			struct dlreg_metadata *m = NULL;
			int rc = dlreg_scan_file(path, &o, &m);
			CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER &&
			              m->offset == at + DLREG_METADATA_HEADER_LEN,
			      "record at %zu (window edge %zu): %s (%s), at %llu", at, edges[e],
			      dlreg_strerror(rc), dlreg_errdetail(),
			      m ? (unsigned long long)m->offset : 0ULL);
			dlreg_metadata_free(m);
		}
	}
	unlink(path);
}

/*
 * Whether auto may map a cold file here: folios.c's answer (compiled into
 * this test), which test_scan_folios checks against the kernel.
 */
static int dir_caches_large_folios(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && dlreg__fd_caches_large_folios(fd, st.st_dev);
}

/*
 * Whether cachestat(2) answers for fd (Linux 6.5, no seccomp filter) and
 * auto believes it (not on overlayfs, where it sees none of the pages).
 */
static int cachestat_answers(int fd)
{
	struct {
		uint64_t off, len;
	} range = {0, 4096};
	uint64_t cs[5];
	struct stat st;
	return syscall(CACHESTAT_NR, fd, &range, cs, 0) == 0 && fstat(fd, &st) == 0 &&
	       !dlreg__fd_cache_elsewhere(fd, st.st_dev);
}

/*
 * Whether a read from the page cache only (RWF_NOWAIT) can be asked of fd:
 * overlayfs answers EOPNOTSUPP.  Asked of a cached file (on a cold one the
 * kernel would start reading it).
 */
static int nowait_answers(int fd)
{
	unsigned char byte;
	struct iovec iov = {&byte, 1};
	return preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno == EAGAIN;
}

/*
 * From DLREG_SCAN_AUTO_COLD_SMALL_MAX to DLREG_SCAN_AUTO_MMAP_MIN, a file
 * whose first page is cached counts as cached (read without waiting,
 * RWF_NOWAIT): evicted, then its first page alone read back (no readahead),
 * auto reads it.  Where that read cannot be asked (overlayfs) auto reads
 * every file of this size.
 */
static void check_auto_first_page_only(const char *path, int fd, uint64_t size, const char *how)
{
	unsigned char page[4096];
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) != 0 ||
	    pread(fd, page, sizeof page, 0) != (ssize_t)sizeof page) {
		CHECK(0, "cannot cache the first page alone of %s", path);
		return;
	}
	double f = resident_fraction(fd, size);
	if (f < 0 || f > 0.1) {
		printf("note: reading one page cached %.0f %% of the file; first-page case%s not run\n",
		       f * 100, how);
		return;
	}
	enum dlreg_scan_backend want = DLREG_SCAN_READ;
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	int rc = dlreg_scan_file(path, &o, &m);
	CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER && m->backend == want,
	      "auto%s, %llu-byte marker file with only its first page cached: %s, backend %s, "
	      "want %s",
	      how, (unsigned long long)size, dlreg_strerror(rc),
	      m ? dlreg_scan_backend_name(m->backend) : "-", dlreg_scan_backend_name(want));
	dlreg_metadata_free(m);
}

/*
 * A marker record at the end of a non-ELF file of `size` bytes, scanned by
 * auto cached and then evicted; each time the backend must be the one the
 * rule in dlreg/scan.h gives.  `how` names the residency probe.
 */
static void check_auto_marker_size(uint64_t size, const char *how)
{
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	char path[512];
	unsigned char rec[22];
	marker_record(rec);
	path_in(path, sizeof path, "auto-marker");
	int fd = write_filled(path, size, rec, sizeof rec);
	if (fd < 0)
		return;
	int large = dir_caches_large_folios(fd);
	enum dlreg_scan_backend want_cached =
	        size >= DLREG_SCAN_AUTO_MMAP_MIN &&
	                        (large || size >= DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN)
	                ? DLREG_SCAN_MMAP
	                : DLREG_SCAN_READ;
	/*
	 * Below 2 MiB, with large folios: up to DLREG_SCAN_AUTO_COLD_SMALL_MAX a
	 * cold file is mapped only if cachestat tells it is cold (not on
	 * overlayfs, where it sees no page); above, if its first page was not
	 * in the cache, which needs RWF_NOWAIT (not on overlayfs).  Neither
	 * where page faults are slow (DLREG_SCAN_AUTO_SLOW_FAULT_NS).
	 */
	unsigned fault_ns = dlreg_scan_fault_cost_ns();
	CHECK(fault_ns == dlreg_scan_fault_cost_ns(), "fault cost measured again: %u, then %u ns",
	      fault_ns, dlreg_scan_fault_cost_ns());
	int small_cold_maps = large && size >= DLREG_SCAN_AUTO_COLD_SMALL_MIN &&
	                      fault_ns < DLREG_SCAN_AUTO_SLOW_FAULT_NS &&
	                      (size <= DLREG_SCAN_AUTO_COLD_SMALL_MAX ? cachestat_answers(fd)
	                                                               : nowait_answers(fd));
	enum dlreg_scan_backend want_cold =
	        size >= DLREG_SCAN_AUTO_COLD_MMAP_MIN ||
	                        (large && size >= DLREG_SCAN_AUTO_MMAP_MIN) || small_cold_maps
	                ? DLREG_SCAN_MMAP
	                : DLREG_SCAN_READ;
	/*
	 * Where faults are slow, a mapped search of a cached file goes on
	 * through pread once a stretch shows small folios, which the writes
	 * that made this file may have left (test_scan_populate checks that
	 * switch): read is right there too.
	 */
	int read_too = want_cached == DLREG_SCAN_MMAP && fault_ns >= DLREG_SCAN_AUTO_SLOW_FAULT_NS;
	int rc = dlreg_scan_file(path, &o, &m);
	CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER &&
	              (m->backend == want_cached || (read_too && m->backend == DLREG_SCAN_READ)),
	      "auto%s, cached %llu-byte marker file: %s, backend %s, want %s%s", how,
	      (unsigned long long)size, dlreg_strerror(rc),
	      m ? dlreg_scan_backend_name(m->backend) : "-", dlreg_scan_backend_name(want_cached),
	      read_too ? " or read" : "");
	dlreg_metadata_free(m);
	m = NULL;
	/* Evicted (where the file system can: not on tmpfs). */
	if (fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 &&
	    resident_fraction(fd, size) >= 0 && resident_fraction(fd, size) < 0.1) {
		rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER && m->backend == want_cold,
		      "auto%s, evicted %llu-byte marker file (%s large folios): %s, backend %s, "
		      "want %s",
		      how, (unsigned long long)size, large ? "with" : "without", dlreg_strerror(rc),
		      m ? dlreg_scan_backend_name(m->backend) : "-",
		      dlreg_scan_backend_name(want_cold));
		dlreg_metadata_free(m);
		if (size > DLREG_SCAN_AUTO_COLD_SMALL_MAX && size < DLREG_SCAN_AUTO_MMAP_MIN)
			check_auto_first_page_only(path, fd, size, how);
	} else {
		printf("note: %s cannot be evicted from the page cache; cold auto case%s not run\n",
		       tmpdir, how);
	}
	close(fd);
	unlink(path);
}

/*
 * Between DLREG_SCAN_AUTO_COLD_SMALL_MIN and _MAX (before anything is
 * read) and from there to DLREG_SCAN_AUTO_MMAP_MIN (after the first page):
 * cached, read; cold, mapped where the cache has large folios and
 * cachestat answers, read elsewhere.  Above it: cached, mapped; cold,
 * mapped where the cache has large folios, read elsewhere.
 */
static void check_auto_marker(const char *how)
{
	printf("note: a page fault costs %u ns here; auto maps cold files below %llu KiB only "
	       "under %u ns\n",
	       dlreg_scan_fault_cost_ns(), (unsigned long long)(DLREG_SCAN_AUTO_MMAP_MIN >> 10),
	       DLREG_SCAN_AUTO_SLOW_FAULT_NS);
	check_auto_marker_size(DLREG_SCAN_AUTO_COLD_SMALL_MIN + 32 * 1024, how);
	check_auto_marker_size(DLREG_SCAN_AUTO_MMAP_MIN / 4 * 3, how);
	check_auto_marker_size(DLREG_SCAN_AUTO_MMAP_MIN * 2, how);
}

#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE)
/*
 * Runs body(arg) in a child under a seccomp filter of n instructions, after
 * an architecture check (other architectures' calls are allowed); the
 * child's checks count here through its exit status.  `what` names the
 * case in messages.  A child that cannot install the filter notes it and
 * passes.
 */
static void in_seccomp_child(const struct sock_filter *filter, size_t n, const char *what,
                             void (*body)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		check_failed = 0; /* the exit status tells the child's own checks */
		struct sock_filter prog[32] = {
		        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0),
		        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		if (n > sizeof prog / sizeof prog[0] - 3)
			_exit(2);
		memcpy(prog + 3, filter, n * sizeof *filter);
		struct sock_fprog fprog = {.len = (unsigned short)(n + 3), .filter = prog};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
			printf("note: cannot install a seccomp filter (%s); %s not run\n",
			       strerror(errno), what);
			_exit(0);
		}
		body(arg);
		fflush(NULL);
		_exit(check_failed ? 1 : 0);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	              WEXITSTATUS(status) == 0,
	      "%s: child failed (status 0x%x)", what, (unsigned)status);
}

static void auto_marker_mincore_child(void *arg)
{
	(void)arg;
	long r = syscall(CACHESTAT_NR, -1, NULL, NULL, 0);
	CHECK(r == -1 && errno == ENOSYS, "seccomp filter: cachestat answered %ld, errno %d", r,
	      errno);
	check_auto_marker(" (mincore probe)");
}
#endif

/*
 * The same with cachestat(2) answering ENOSYS, as on kernels before 6.5:
 * auto falls back to mincore on a mapping.  A seccomp filter in a child
 * process makes the kernel answer so.
 */
static void check_auto_marker_mincore(void)
{
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE)
	static const struct sock_filter cachestat_enosys[] = {
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CACHESTAT_NR, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	in_seccomp_child(cachestat_enosys, sizeof cachestat_enosys / sizeof cachestat_enosys[0],
	                 "auto with the mincore probe", auto_marker_mincore_child, NULL);
#else
	printf("note: no seccomp filter on this system; mincore fallback not run\n");
#endif
}

/*
 * auto never needs a mapping: where mapping a file fails (ENOMEM, as when
 * the process is at vm.max_map_count or RLIMIT_AS), an evicted marker file
 * that auto would map is read instead, at every size auto maps from.  A
 * seccomp filter in a child makes every mmap of a file fail so (anonymous
 * mappings, malloc's, still work).
 */
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE) && defined(SYS_mmap)
/* mmap with a descriptor (args[4], low word; both arches are little-endian)
 * fails with ENOMEM; anonymous mappings (malloc's) still work. */
static const struct sock_filter file_mmap_enomem[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOMEM & SECCOMP_RET_DATA)),
};
#endif

struct map_fails_files {
	const uint64_t *sizes;
	int fds[3];
	char paths[3][512];
};

static void auto_map_fails_child(void *arg)
{
	struct map_fails_files *f = arg;
	void *probe = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, f->fds[0], 0);
	CHECK(probe == MAP_FAILED && errno == ENOMEM, "seccomp filter: a file mapping worked");
	for (unsigned i = 0; i < 3; i++) {
		struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
		struct dlreg_metadata *m = NULL;
		if (posix_fadvise(f->fds[i], 0, 0, POSIX_FADV_DONTNEED) != 0)
			continue;
		int rc = dlreg_scan_file(f->paths[i], &o, &m);
		CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER &&
		              m->backend == DLREG_SCAN_READ,
		      "auto, evicted %llu-byte marker file, mmap failing: %s (%s), backend %s, "
		      "want read",
		      (unsigned long long)f->sizes[i], dlreg_strerror(rc), dlreg_errdetail(),
		      m ? dlreg_scan_backend_name(m->backend) : "-");
		dlreg_metadata_free(m);
	}
}

static void check_auto_map_fails(void)
{
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE) && defined(SYS_mmap)
	static const uint64_t sizes[] = {DLREG_SCAN_AUTO_COLD_SMALL_MIN + 32 * 1024,
	                                 DLREG_SCAN_AUTO_MMAP_MIN / 4 * 3,
	                                 DLREG_SCAN_AUTO_MMAP_MIN * 2};
	struct map_fails_files f = {.sizes = sizes};
	unsigned char rec[22];
	marker_record(rec);
	for (unsigned i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof name, "auto-nomap-%u", i);
		path_in(f.paths[i], sizeof f.paths[i], name);
		f.fds[i] = write_filled(f.paths[i], sizes[i], rec, sizeof rec);
		if (f.fds[i] < 0)
			return;
		CHECK(fdatasync(f.fds[i]) == 0, "fdatasync %s", f.paths[i]);
	}
	in_seccomp_child(file_mmap_enomem, sizeof file_mmap_enomem / sizeof file_mmap_enomem[0],
	                 "auto with mmap failing", auto_map_fails_child, &f);
	for (unsigned i = 0; i < 3; i++) {
		close(f.fds[i]);
		unlink(f.paths[i]);
	}
#else
	printf("note: no seccomp filter on this system; failing-mmap case not run\n");
#endif
}

/*
 * A kernel pseudo-file is never mapped, whatever the backend: sysfs maps
 * some (a PCI device's registers as resourceN; BTF, which this uses, as it
 * is safe to map), and loads from device registers can act on the device.
 * With every file mapping failing (the filter above), the mmap backend and
 * auto must still find that /sys/kernel/btf/vmlinux holds no metadata: they
 * read it, never trying to map it.
 */
static void pseudo_never_mapped_child(void *arg)
{
	const char *path = arg;
	static const enum dlreg_scan_backend backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_AUTO};
	for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
		struct dlreg_scan_options o = {.backend = backends[b]};
		struct dlreg_metadata *m = NULL;
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_ENOMETA, "%s, %s, mmap failing: %s (%s), want ENOMETA (read, not mapped)",
		      path, dlreg_scan_backend_name(o.backend), dlreg_strerror(rc), dlreg_errdetail());
		dlreg_metadata_free(m);
	}
}

static void check_pseudo_never_mapped(void)
{
	static const char btf[] = "/sys/kernel/btf/vmlinux";
	struct statfs sfs;
	struct stat st;
	if (statfs(btf, &sfs) != 0 || (unsigned long)sfs.f_type != 0x62656572ul ||
	    stat(btf, &st) != 0 || st.st_size <= 0) {
		printf("note: no %s on sysfs here; never-mapped pseudo-file case not run\n", btf);
		return;
	}
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE) && defined(SYS_mmap)
	in_seccomp_child(file_mmap_enomem, sizeof file_mmap_enomem / sizeof file_mmap_enomem[0],
	                 "pseudo-file with mmap failing", pseudo_never_mapped_child, (void *)btf);
#else
	printf("note: no seccomp filter on this system; never-mapped pseudo-file case not run\n");
#endif
}

/*
 * The pseudo-file check costs a mapped scan of a file that holds data no
 * system call, on an anonymous device too: tmpfs here, overlayfs, btrfs or
 * NFS elsewhere (where an fstatfs() is a round trip to the server).  In a
 * child whose seccomp filter kills it at the first fstatfs(), a mapped scan
 * of a small marker file on tmpfs (/dev/shm) must find the marker.
 */
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE) && defined(SYS_fstatfs)
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U /* Linux 4.14 */
#endif
static const struct sock_filter fstatfs_kills[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fstatfs, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void data_file_mapped_child(void *arg)
{
	const char *path = arg;
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_MMAP};
	struct dlreg_metadata *m = NULL;
	int rc = dlreg_scan_file(path, &o, &m);
	CHECK(rc == DLREG_OK && m && m->backend == DLREG_SCAN_MMAP,
	      "tmpfs marker file via mmap: %s (%s), backend %s", dlreg_strerror(rc),
	      dlreg_errdetail(), m ? dlreg_scan_backend_name(m->backend) : "-");
	dlreg_metadata_free(m);
}
#endif

static void check_mapped_data_file_no_fstatfs(void)
{
	static const char dir[] = "/dev/shm";
	struct statfs sfs;
	if (statfs(dir, &sfs) != 0 || (unsigned long)sfs.f_type != 0x01021994ul) {
		printf("note: %s is not tmpfs here; fstatfs-free mapping case not run\n", dir);
		return;
	}
#if defined(SECCOMP_MODE_FILTER) && defined(AUDIT_ARCH_NATIVE) && defined(SYS_fstatfs)
	char path[64];
	snprintf(path, sizeof path, "%s/dlreg-scan-XXXXXX", dir);
	unsigned char buf[4096 + 22];
	memset(buf, 'x', sizeof buf);
	marker_record(buf + 4096);
	int fd = mkstemp(path);
	int written = fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
	CHECK(written, "cannot write a file in %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (written)
		in_seccomp_child(fstatfs_kills, sizeof fstatfs_kills / sizeof fstatfs_kills[0],
		                 "mapped scan of a tmpfs file, fstatfs killing",
		                 data_file_mapped_child, path);
	if (fd >= 0)
		unlink(path);
#else
	printf("note: no seccomp filter on this system; fstatfs-free mapping case not run\n");
#endif
}

/*
 * Where the cache holds large folios, auto's cold scan of a 4 MiB marker
 * file maps it with MADV_HUGEPAGE after dropping the pages its first pread
 * cached, so the file is left in 2 MiB folios: a later mapping gets them
 * in PMD entries.  Fails if the hint is lost, or if the pages are not
 * dropped (readahead then falls back to 4 KiB pages for the whole file).
 */
static void check_auto_cold_leaves_large_folios(void)
{
	const uint64_t size = DLREG_SCAN_AUTO_MMAP_MIN * 2;
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	unsigned char rec[22];
	char path[512];
	marker_record(rec);
	path_in(path, sizeof path, "auto-folios");
	int fd = write_filled(path, size, rec, sizeof rec);
	if (fd < 0)
		return;
	if (!dir_caches_large_folios(fd) || fdatasync(fd) != 0 ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 || resident_fraction(fd, size) < 0 ||
	    resident_fraction(fd, size) > 0.01) {
		printf("note: %s has no large folios or cannot be evicted; folio check not run\n",
		       tmpdir);
		close(fd);
		unlink(path);
		return;
	}
	int rc = dlreg_scan_file(path, &o, &m);
	CHECK(rc == DLREG_OK && m->backend == DLREG_SCAN_MMAP,
	      "auto, evicted 4 MiB marker file: %s, backend %s", dlreg_strerror(rc),
	      m ? dlreg_scan_backend_name(m->backend) : "-");
	dlreg_metadata_free(m);
	/* At a 2 MiB-aligned address, as a PMD entry needs (overlayfs gets none unasked). */
	const size_t pmd = (size_t)2 << 20;
	unsigned char *res =
	        mmap(NULL, (size_t)size + pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *p = MAP_FAILED;
	if (res != MAP_FAILED)
		p = mmap(res + (pmd - (uintptr_t)res % pmd) % pmd, (size_t)size, PROT_READ,
		         MAP_SHARED | MAP_FIXED, fd, 0);
	CHECK(p != MAP_FAILED, "map %s: %s", path, strerror(errno));
	if (p != MAP_FAILED) {
		const volatile unsigned char *touch = p; /* fault every page in */
		for (uint64_t off = 0; off < size; off += 4096)
			(void)touch[off];
		long kb = file_pmd_mapped_kb(p);
		if (kb < 0)
			printf("note: no FilePmdMapped in /proc/self/smaps; folio check not run\n");
		else
			CHECK(kb >= (long)(size / 2 / 1024),
			      "after auto's cold scan, %ld of %llu kB mapped in PMD entries", kb,
			      (unsigned long long)(size / 1024));
	}
	if (res != MAP_FAILED)
		munmap(res, (size_t)size + pmd);
	close(fd);
	unlink(path);
}

/*
 * A file of DLREG_SCAN_AUTO_COLD_MMAP_MIN bytes is mapped for the marker
 * search even when none of it is cached (sparse: only the marker's page
 * holds data).
 */
static void check_auto_cold_big(void)
{
	const uint64_t size = DLREG_SCAN_AUTO_COLD_MMAP_MIN;
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	unsigned char rec[22];
	char path[512];
	marker_record(rec);
	path_in(path, sizeof path, "auto-cold-big");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	if (fd < 0)
		return;
	CHECK(ftruncate(fd, (off_t)size) == 0 &&
	              pwrite(fd, rec, sizeof rec, (off_t)(size - sizeof rec)) == (ssize_t)sizeof rec,
	      "write %s: %s", path, strerror(errno));
	if (fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 &&
	    resident_fraction(fd, size) >= 0 && resident_fraction(fd, size) < 0.1) {
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_OK && m->where == DLREG_META_MARKER &&
		              m->offset == size - sizeof rec + 20 && m->backend == DLREG_SCAN_MMAP,
		      "auto, big evicted marker file: %s, backend %s", dlreg_strerror(rc),
		      m ? dlreg_scan_backend_name(m->backend) : "-");
		dlreg_metadata_free(m);
	} else {
		printf("note: %s cannot be evicted from the page cache; cold big auto case not run\n",
		       tmpdir);
	}
	close(fd);
	unlink(path);
}

/*
 * A plugin's bytes padded to `size`, its note looked up by auto, cached and
 * (where the file system can evict) cold.  A note lookup reads headers
 * only: the plugin is read, cached or not (from DLREG_SCAN_AUTO_COLD_SMALL_MAX
 * on, an ELF file is never mapped for its note), except a cold file of
 * DLREG_SCAN_AUTO_COLD_SMALL_MIN.._MAX bytes, which is mapped where the
 * cache holds large folios, cachestat answers and faults are cheap (one
 * fault reads it whole).
 */
static void check_auto_plugin(const char *plugin, uint64_t size)
{
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_AUTO};
	struct dlreg_metadata *m = NULL;
	char path[512];
	char buf[1 << 16];
	ssize_t n;
	off_t off = 0;

	path_in(path, sizeof path, "auto-plugin");
	int in = open(plugin, O_RDONLY);
	CHECK(in >= 0, "open %s", plugin);
	int fd = write_filled(path, size, NULL, 0);
	while (in >= 0 && fd >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
		CHECK((uint64_t)(off + n) <= size && pwrite(fd, buf, (size_t)n, off) == n,
		      "copy plugin into %llu bytes", (unsigned long long)size);
		off += n;
	}
	if (in >= 0)
		close(in);
	if (fd < 0) {
		unlink(path);
		return;
	}
	for (int cold = 0; cold < 2; cold++) {
		if (cold && (fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
		             resident_fraction(fd, size) < 0 || resident_fraction(fd, size) > 0.1)) {
			printf("note: %s cannot be evicted from the page cache; cold plugin case not run\n",
			       tmpdir);
			break;
		}
		enum dlreg_scan_backend want = DLREG_SCAN_READ;
		if (cold && size >= DLREG_SCAN_AUTO_COLD_SMALL_MIN &&
		    size <= DLREG_SCAN_AUTO_COLD_SMALL_MAX && dir_caches_large_folios(fd) &&
		    dlreg_scan_fault_cost_ns() < DLREG_SCAN_AUTO_SLOW_FAULT_NS && cachestat_answers(fd))
			want = DLREG_SCAN_MMAP;
		int rc = dlreg_scan_file(path, &o, &m);
		CHECK(rc == DLREG_OK && m->where == DLREG_META_NOTE_SEGMENT && m->backend == want,
		      "auto, %s plugin padded to %llu bytes: %s, where %s, backend %s, want %s",
		      cold ? "evicted" : "cached", (unsigned long long)size, dlreg_strerror(rc),
		      m ? dlreg_meta_where_name(m->where) : "-",
		      m ? dlreg_scan_backend_name(m->backend) : "-", dlreg_scan_backend_name(want));
		dlreg_metadata_free(m);
		m = NULL;
	}
	close(fd);
	unlink(path);
}

/*
 * DLREG_SCAN_AUTO: a plugin's note is read with pread (above
 * DLREG_SCAN_AUTO_MMAP_MIN a header pass); a marker search maps or reads by
 * size, page-cache residency and file system.
 */
static void check_auto(const char *plugin)
{
	check_auto_plugin(plugin, DLREG_SCAN_AUTO_COLD_SMALL_MIN + 32 * 1024);
	check_auto_plugin(plugin, DLREG_SCAN_AUTO_MMAP_MIN / 4 * 3);
	check_auto_plugin(plugin, DLREG_SCAN_AUTO_MMAP_MIN * 2);
	check_auto_marker("");
	check_auto_marker_mincore();
	check_auto_map_fails();
	check_pseudo_never_mapped();
	check_mapped_data_file_no_fstatfs();
	check_auto_cold_big();
	check_auto_cold_leaves_large_folios();
}

static void check_full_paths_flag(void)
{
	struct dlreg_metadata *m = NULL;
	char path[512];
	struct dlreg_scan_options full = {.flags = DLREG_SCAN_FULL_PATHS};
	path_in(path, sizeof path, "missing-full.so");
	CHECK(dlreg_scan_file(path, &full, &m) == DLREG_ENOENT, "missing (full)");
	CHECK(strstr(dlreg_errdetail(), path) != NULL, "FULL_PATHS detail: %s", dlreg_errdetail());
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: test_scan_malformed [PLUGIN.so]\n");
		return 0;
	}
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/dlreg-scan-secret-XXXXXX", base);
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) != 0) {
		fprintf(stderr, "test_scan_malformed: cannot create a temporary directory\n");
		return 2;
	}
	check_fault_probe_unmaps(); /* first: the probe runs once a process */
	check_corpus();
	check_elf_details();
	check_limits();
	check_json_rules();
	check_json_depth();
	check_bad_marker_limit();
	check_special_files();
	check_fifo_not_opened();
	check_unreadable();
	check_sparse();
	check_window_edges();
	check_full_paths_flag();
	if (argc > 1) {
		check_plugin(argv[1]);
		check_no_leaks(argv[1]);
		check_auto(argv[1]);
	}
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_report("scan_malformed");
}
