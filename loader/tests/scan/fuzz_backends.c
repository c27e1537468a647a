/*
 * fuzz_backends - libFuzzer target that scans each input as a file through
 * every backend and compares their answers.  Built only with -Dfuzz=true and
 * clang; meson's 'fuzz' suite runs it for 45 s from the seeds in corpus/,
 * each given behind a few config bytes (run_fuzz.sh --prefix-seeds: a seed
 * given as it is would lose its first byte to the config).
 * (fuzz_scan fuzzes the parser over a buffer, faster; this one adds the file
 * paths: mappings, read windows, auto's choices, sparse and evicted files.)
 *
 * Input layout: data[0] = config byte, data[1..] = file body.
 *   cfg bits 0-1: max_meta_size  (0 default, 1 -> 16, 2 -> 64, 3 default)
 *   cfg bit  2  : DLREG_SCAN_NO_MARKER
 *   cfg bits 3-5: layout of the file built from the body
 *        0-3 : the body as is
 *        4   : body, zero padded to 70 KiB         (auto 64..128 KiB paths)
 *        5   : body, zeros, body again, 200 KiB    (auto mid path, read windows)
 *        6   : body, hole, body again, 1.1 MiB    (sparse extents)
 *        7   : body, hole, body again, 2.1 MiB    (auto header pass + map)
 *   cfg bit  6  : evict the file from the page cache before the auto scan
 *                 (padded layouts only; drives auto's cold-file mapping)
 *
 * Every backend (buffer = reference, mmap, read 16 KiB, read default,
 * read 4 MiB, auto) must give the same result code, and on success the
 * same json, where, offset, elf class/byte order, section (all 64 bytes)
 * and build-id.  Results are also checked against the input bytes, and no
 * error detail may carry the file's full path.  A disagreement aborts.
 * The mountinfo parsers of folios.c get the input too.
 *
 * Files go to a fresh directory under $TMPDIR (else /tmp), removed at exit.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlreg/scan.h"
#include "scan/folios.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[PATH_MAX - 32];
static char path[PATH_MAX];
static unsigned char *big; /* the file's content */
static size_t big_cap;

static void remove_workdir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/dlreg-fuzz-backends-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_backends: mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof path, "%s/scan.bin", dir);
	atexit(remove_workdir);
	return 0;
}

struct res {
	int rc;
	struct dlreg_metadata *m;
	char detail[512];
};

static const char *bname[] = {"buffer", "mmap", "read16k", "readdef", "read4m", "auto"};
#define NB 6

static void dump_res(const char *name, const struct res *r)
{
	fprintf(stderr, "  %-8s rc=%d (%s) detail=\"%s\"", name, r->rc, dlreg_strerror(r->rc),
	        r->detail);
	if (r->m) {
		fprintf(stderr, " where=%d off=%llu len=%zu class=%u be=%d sect=\"%s\" bid=%zu backend=%s json=%.80s",
		        r->m->where, (unsigned long long)r->m->offset, r->m->json_len,
		        r->m->elf_class, r->m->elf_big_endian, r->m->section, r->m->build_id_len,
		        dlreg_scan_backend_name(r->m->backend), r->m->json);
	}
	fprintf(stderr, "\n");
}

static int same(const struct res *a, const struct res *b)
{
	if (a->rc != b->rc)
		return 0;
	if (!a->m || !b->m)
		return !a->m && !b->m;
	const struct dlreg_metadata *x = a->m, *y = b->m;
	return x->json_len == y->json_len && memcmp(x->json, y->json, x->json_len + 1) == 0 &&
	       x->where == y->where && x->offset == y->offset && x->elf_class == y->elf_class &&
	       x->elf_big_endian == y->elf_big_endian &&
	       memcmp(x->section, y->section, sizeof x->section) == 0 &&
	       x->build_id_len == y->build_id_len &&
	       memcmp(x->build_id, y->build_id, x->build_id_len) == 0;
}

static void check_one(const char *name, const struct res *r, const unsigned char *buf, size_t len,
                      int is_file)
{
	if (r->rc == DLREG_OK) {
		const struct dlreg_metadata *m = r->m;
		if (!m || strlen(m->json) != m->json_len || m->json_len == 0 || m->offset > len ||
		    m->json_len > len - m->offset ||
		    memcmp(buf + m->offset, m->json, m->json_len) != 0 ||
		    m->build_id_len > DLREG_BUILD_ID_MAX || !memchr(m->section, 0, sizeof m->section) ||
		    m->has_identity != is_file || (is_file && m->identity.size != len)) {
			fprintf(stderr, "INVARIANT violated by %s\n", name);
			dump_res(name, r);
			abort();
		}
	} else if (r->m || r->rc <= 0 || r->rc >= DLREG_ERR_COUNT_) {
		fprintf(stderr, "INVARIANT (error result) violated by %s\n", name);
		dump_res(name, r);
		abort();
	}
	if (is_file && r->rc != DLREG_OK && strstr(r->detail, dir)) {
		fprintf(stderr, "full path leaked in detail by %s\n", name);
		dump_res(name, r);
		abort();
	}
}

static int write_file(const unsigned char *p, size_t len, size_t body, int layout)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int ok = 1;
	if (layout == 6 || layout == 7) {
		/* body at 0, hole, body at the end: sparse file */
		ok = pwrite(fd, p, body, 0) == (ssize_t)body &&
		     pwrite(fd, p + len - body, body, (off_t)(len - body)) == (ssize_t)body &&
		     ftruncate(fd, (off_t)len) == 0;
	} else {
		ok = pwrite(fd, p, len, 0) == (ssize_t)len;
	}
	close(fd);
	return ok ? 0 : -1;
}

static void evict(void)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void run_file(struct res *r, enum dlreg_scan_backend be, size_t bufsz,
                     const struct dlreg_scan_options *base)
{
	struct dlreg_scan_options o = *base;
	o.backend = be;
	o.read_buf_size = bufsz;
	r->m = NULL;
	r->rc = dlreg_scan_file(path, &o, &r->m);
	snprintf(r->detail, sizeof r->detail, "%s", dlreg_errdetail());
}

static void fuzz_folios(const uint8_t *data, size_t size)
{
	/* The mountinfo parsers are cheap: give them the bytes too. */
	if (size > 8192)
		return;
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	(void)dlreg__options_have(s, size, "data=journal");
	(void)dlreg__options_have(s, size, "");
	free(s);
}

static int count_layer(const char *d, void *arg)
{
	size_t n = strlen(d);
	if (n == 0 || n >= 4096)
		abort();
	(*(int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned cfg = data[0];
	const uint8_t *body = data + 1;
	size_t blen = size - 1;
	if (blen > 70000)
		return 0;

	fuzz_folios(body, blen);
	{
		char *s = malloc(blen + 1);
		if (!s)
			abort();
		memcpy(s, body, blen);
		s[blen] = 0;
		int n = 0;
		(void)dlreg__overlay_layers(s, count_layer, &n);
		free(s);
	}

	struct dlreg_scan_options base = {0};
	switch (cfg & 3) {
	case 1: base.max_meta_size = 16; break;
	case 2: base.max_meta_size = 64; break;
	default: break;
	}
	if (cfg & 4)
		base.flags |= DLREG_SCAN_NO_MARKER;
	int layout = (cfg >> 3) & 7;
	size_t len = blen;
	switch (layout) {
	case 4: len = 70 * 1024; break;
	case 5: len = 200 * 1024; break;
	case 6: len = 1024 * 1024 + 100 * 1024; break;
	case 7: len = 2 * 1024 * 1024 + 100 * 1024; break;
	default: layout = 0; break;
	}
	if (len < blen)
		len = blen;
	if (!big || len > big_cap) {
		free(big);
		big = malloc(len ? len : 1);
		if (!big)
			abort();
		big_cap = len;
	}
	unsigned char *content = big;
	memset(content, 0, len);
	memcpy(content, body, blen);
	if (layout >= 5 && blen)
		memcpy(content + len - blen, body, blen);

	struct res r[NB];
	memset(r, 0, sizeof r);
	/* reference: the pure parser over exactly the file's bytes (exact-size copy for ASan) */
	{
		unsigned char *exact = malloc(len ? len : 1);
		if (!exact)
			abort();
		memcpy(exact, content, len);
		r[0].rc = dlreg_scan_buffer(len ? exact : NULL, len, &base, &r[0].m);
		snprintf(r[0].detail, sizeof r[0].detail, "%s", dlreg_errdetail());
		check_one("buffer", &r[0], content, len, 0);
		free(exact);
	}
	if (write_file(content, len, blen, layout) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		abort();
	}
	run_file(&r[1], DLREG_SCAN_MMAP, 0, &base);
	run_file(&r[2], DLREG_SCAN_READ, DLREG_SCAN_READ_BUF_MIN, &base);
	run_file(&r[3], DLREG_SCAN_READ, 0, &base);
	run_file(&r[4], DLREG_SCAN_READ, DLREG_SCAN_READ_BUF_MAX, &base);
	if (layout && (cfg & 0x40))
		evict();
	run_file(&r[5], DLREG_SCAN_AUTO, 0, &base);

	int bad = 0;
	for (int i = 1; i < NB; i++) {
		check_one(bname[i], &r[i], content, len, 1);
		if (!same(&r[0], &r[i]))
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "BACKEND DISAGREEMENT (cfg=0x%02x layout=%d len=%zu)\n", cfg, layout,
		        len);
		for (int i = 0; i < NB; i++)
			dump_res(bname[i], &r[i]);
		abort();
	}
	if (getenv("FUZZ_VERBOSE")) {
		fprintf(stderr, "cfg=0x%02x layout=%d len=%zu\n", cfg, layout, len);
		for (int i = 0; i < NB; i++)
			dump_res(bname[i], &r[i]);
	}
	for (int i = 0; i < NB; i++)
		dlreg_metadata_free(r[i].m);
	return 0;
}
