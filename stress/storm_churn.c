/*
 * storm_churn.c - private copies of plugins that change under the storm.
 *
 * The copies live in a private directory (mkdtemp) and are only ever opened
 * or scanned through their own paths there, so no fixture in the build tree
 * is touched.  Two kinds of slot:
 *   loadN.so  opened, read and scanned; changed only by writing a new file
 *             and rename()ing it over the old one, so an object that is
 *             mapped keeps its inode and is never truncated under the
 *             loader (that would be a SIGBUS in plugin code, not a registry
 *             bug);
 *   scanN.so  only scanned; truncated in place, rewritten in place and
 *             replaced by rename, which is what a metadata scanner has to
 *             survive (a truncated mapping must be an error, not SIGBUS).
 * Load slots hold plain fixtures (answers stay checkable).  Even scan slots
 * hold the last meta fixture, so a successful scan has one right answer (a
 * prefix or a whole copy carries that JSON or none); odd ones hold a plain
 * fixture followed by 1 MiB of noise, so a scan has to search every page
 * (no note, no marker) and is long enough for truncations to land inside
 * it: with the fault guard off (seeded bug no_sigbus_guard), SIGBUS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture_abi.h"
#include "storm.h"

enum { CHURN_MAX_SOURCES = 8, CHURN_BULK_PAD = 1 << 20 };

struct churn_source {
	unsigned char *data;
	size_t len;
	const char *meta; /* expected metadata of this content, or NULL */
};

struct storm_churn {
	char *dir;
	unsigned slots; /* slots whose copy exists: load slots first, then scan slots */
	unsigned half;  /* --slots: the first scan slot */
	struct churn_source load_src[CHURN_MAX_SOURCES];
	unsigned nload_src;
	struct churn_source scan_src[2]; /* even slots: meta; odd: bulk */
	int *slot_plugin;                /* slot -> catalog index */
};

static struct storm_churn churn;

static int read_file(const char *path, struct churn_source *src)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(src->data = malloc((size_t)len)) ||
	    fread(src->data, 1, (size_t)len, f) != (size_t)len) {
		free(src->data);
		src->data = NULL;
		fclose(f);
		return -1;
	}
	fclose(f);
	src->len = (size_t)len;
	return 0;
}

/* Plain fixtures from the end of the range, so they rarely collide with
 * the plugins the storm opens directly. */
static void load_sources(const char *fixture_dir)
{
	for (int i = DLREG_FIXTURE_PLAIN_COUNT - 1; i >= 0 && churn.nload_src < CHURN_MAX_SOURCES;
	     i--) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/" DLREG_FIXTURE_PLAIN_FORMAT, fixture_dir, i);
		if (read_file(path, &churn.load_src[churn.nload_src]) == 0)
			churn.nload_src++;
	}
}

/* Even scan slots' content: the highest-numbered meta fixture, else plain. */
static void load_meta_source(struct storm *s, struct churn_source *src)
{
	for (int i = 9; i >= 0; i--) {
		char name[64], path[4096];

		snprintf(name, sizeof(name), DLREG_FIXTURE_META_FORMAT, i);
		snprintf(path, sizeof(path), "%s/%s", s->cfg.fixture_dir, name);
		if (read_file(path, src) != 0)
			continue;
		snprintf(name, sizeof(name), "meta%d", i);
		src->meta = storm_catalog_meta(&s->cat, name);
		if (src->meta)
			return;
		free(src->data);
		src->data = NULL;
	}
	src->len = churn.load_src[0].len;
	src->data = malloc(src->len);
	if (src->data)
		memcpy(src->data, churn.load_src[0].data, src->len);
	src->meta = NULL;
}

/* Odd scan slots' content: a plain fixture and 1 MiB of deterministic noise. */
static int make_bulk_source(struct churn_source *src)
{
	const struct churn_source *plain = &churn.load_src[0];
	uint64_t x = 0x2545f4914f6cdd1dull;

	src->len = plain->len + CHURN_BULK_PAD;
	src->data = malloc(src->len);
	if (!src->data)
		return -1;
	memcpy(src->data, plain->data, plain->len);
	for (size_t i = plain->len; i < src->len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		src->data[i] = (unsigned char)x;
	}
	src->meta = NULL;
	return 0;
}

/* Scan slot k (k = 0, 1, ...) alternates meta and bulk content. */
static const struct churn_source *scan_source(unsigned slot)
{
	return &churn.scan_src[(slot - churn.half) % 2];
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int write_new(const char *path, const struct churn_source *src)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, src->data, src->len);
	return close(fd) == 0 ? rc : -1;
}

/* ".new-<thread>" in the churn directory (async-signal-safe formatting). */
static void temp_name(char *buf, size_t len, unsigned thread)
{
	size_t n = strlen(churn.dir);
	char digits[12];
	int d = 0;

	do
		digits[d++] = (char)('0' + thread % 10);
	while ((thread /= 10) != 0 && d < (int)sizeof(digits));
	if (n + 6 + (size_t)d + 1 > len) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, churn.dir, n);
	memcpy(buf + n, "/.new-", 6);
	n += 6;
	while (d > 0)
		buf[n++] = digits[--d];
	buf[n] = '\0';
}

/* Writes a whole new file next to path and renames it over path.  Each
 * thread reuses one temporary name: its replacements never overlap. */
static int replace_by_rename(struct storm_thread *t, const char *path,
                             const struct churn_source *src)
{
	char tmp[4096];

	temp_name(tmp, sizeof(tmp), t->index);
	if (write_new(tmp, src) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int truncate_in_place(const char *path, const struct churn_source *src, uint64_t r)
{
	return truncate(path, (off_t)(r % src->len));
}

static int restore_in_place(const char *path, const struct churn_source *src)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = write_all(fd, src->data, src->len);
	if (rc == 0)
		rc = ftruncate(fd, (off_t)src->len);
	return close(fd) == 0 ? rc : -1;
}

static int add_slot(struct storm *s, unsigned slot, const char *kind, unsigned n,
                    const struct churn_source *src)
{
	char path[4096];
	char *copy;
	int idx;

	snprintf(path, sizeof(path), "%s/%s%u.so", churn.dir, kind, n);
	copy = strdup(path);
	if (!copy || write_new(path, src) != 0) {
		int err = errno;

		/* A partly written copy is no slot yet: remove_files would miss it. */
		unlink(path);
		free(copy);
		fprintf(stderr, "dlreg-storm: cannot write churn copy %s: %s\n", path,
		        strerror(err));
		return -1;
	}
	idx = storm_catalog_add(&s->cat, copy, (int)slot);
	if (idx < 0) {
		unlink(path);
		return -1;
	}
	churn.slot_plugin[slot] = idx;
	/* Slots are created in order, so the first churn.slots all exist. */
	churn.slots = slot + 1;
	return 0;
}

static void slot_expectations(struct storm *s, int idx, bool scan_only)
{
	struct storm_plugin *p = &s->cat.v[idx];

	p->expected_id = -1;
	p->scan_only = scan_only;
	if (scan_only) {
		const struct churn_source *src = scan_source((unsigned)p->slot);

		p->abi = false;
		p->expect = STORM_EXPECT_UNKNOWN;
		p->meta = src->meta;
		p->meta_none = src->meta == NULL;
		return;
	}
	p->family = DLREG_FIXTURE_FAMILY_PLAIN;
	p->abi = true;
	p->expect = STORM_EXPECT_LOADS;
	p->meta_none = true;
}

static int make_slots(struct storm *s)
{
	unsigned n = s->cfg.slots;

	churn.slot_plugin = malloc(2 * n * sizeof(*churn.slot_plugin));
	if (!churn.slot_plugin)
		return -1;
	/* No slot has a copy yet: cleanup after a failure here must not take
	 * index 0 (a fixture, or a file of --plugins-dir) for one. */
	for (unsigned i = 0; i < 2 * n; i++)
		churn.slot_plugin[i] = -1;
	churn.half = n;
	for (unsigned i = 0; i < n; i++) {
		if (add_slot(s, i, "load", i, &churn.load_src[i % churn.nload_src]) != 0)
			return -1;
		slot_expectations(s, churn.slot_plugin[i], false);
		if (storm_catalog_push(&s->cat.openable, &s->cat.n_openable,
		                       (size_t)churn.slot_plugin[i]) != 0)
			return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (add_slot(s, n + i, "scan", i, scan_source(n + i)) != 0)
			return -1;
		slot_expectations(s, churn.slot_plugin[n + i], true);
	}
	return 0;
}

int storm_churn_setup(struct storm *s)
{
	char templ[4096];

	if (s->cfg.slots == 0)
		return 0;
	load_sources(s->cfg.fixture_dir);
	if (churn.nload_src == 0)
		return 0; /* nothing to copy: churn is off (storm_op_available says so) */
	load_meta_source(s, &churn.scan_src[0]);
	if (!churn.scan_src[0].data || make_bulk_source(&churn.scan_src[1]) != 0)
		return -1;
	/* mkdtemp's template: six 'X's it replaces. */
	snprintf(templ, sizeof(templ), "%s/dlreg-storm-%.6s", s->cfg.tmpdir,
	         (const char[]){'X', 'X', 'X', 'X', 'X', 'X', '\0'});
	if (!mkdtemp(templ)) {
		fprintf(stderr, "dlreg-storm: cannot create a directory in --tmpdir %s: %s\n",
		        s->cfg.tmpdir, strerror(errno));
		return -1;
	}
	churn.dir = strdup(templ);
	s->churn_dir = churn.dir;
	if (!churn.dir) {
		rmdir(templ);
		return -1;
	}
	return make_slots(s);
}

bool storm_churn_active(void)
{
	return churn.slots > 0;
}

void storm_churn_step(struct storm *s, struct storm_thread *t, uint64_t r)
{
	unsigned slot = (unsigned)(r % churn.slots);
	int idx = churn.slot_plugin[slot];
	const char *path = s->cat.v[idx].path;
	bool scan_only = slot >= churn.half;
	unsigned action = (unsigned)((r >> 32) % 3);
	const struct churn_source *src = scan_only ? scan_source(slot) : NULL;
	int rc;

	atomic_store_explicit(&t->plugin, idx, memory_order_relaxed);
	if (!scan_only) {
		storm_set_state(t, "rename");
		rc = replace_by_rename(t, path, &churn.load_src[(r >> 40) % churn.nload_src]);
	} else if (action == 0) {
		storm_set_state(t, "truncate");
		rc = truncate_in_place(path, src, r >> 8);
	} else if (action == 1) {
		storm_set_state(t, "rewrite");
		rc = restore_in_place(path, src);
	} else {
		storm_set_state(t, "rename");
		rc = replace_by_rename(t, path, src);
	}
	if (rc != 0)
		storm_fail(t, SC_ERRORS, "churn %s: %s", s->cat.v[idx].name, strerror(errno));
	storm_count(t, SC_CHURNS, 1);
}

static void remove_files(struct storm *s)
{
	char tmp[4096];

	for (unsigned i = 0; i < churn.slots; i++)
		if (churn.slot_plugin[i] >= 0)
			unlink(s->cat.v[churn.slot_plugin[i]].path);
	for (unsigned i = 0; i < s->nthreads; i++) {
		temp_name(tmp, sizeof(tmp), i);
		unlink(tmp);
	}
}

/*
 * On a fatal exit other threads may still be churning and recreate a file
 * right after it was removed; they stop at their next operation boundary,
 * so a few rounds suffice.  Only async-signal-safe calls.
 */
void storm_churn_remove(void)
{
	struct storm *s = storm_global;
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};

	if (!churn.dir || !s)
		return;
	atomic_store_explicit(&s->stop, true, memory_order_relaxed);
	for (int round = 0; round < 50; round++) {
		remove_files(s);
		if (rmdir(churn.dir) == 0 || errno == ENOENT)
			return;
		nanosleep(&pause, NULL);
	}
}

void storm_churn_cleanup(struct storm *s)
{
	if (churn.dir) {
		storm_churn_remove();
		if (access(churn.dir, F_OK) == 0)
			fprintf(stderr, "dlreg-storm: could not remove %s\n", churn.dir);
		free(churn.dir);
		churn.dir = NULL;
		s->churn_dir = NULL;
	}
	for (unsigned i = 0; i < churn.nload_src; i++)
		free(churn.load_src[i].data);
	free(churn.scan_src[0].data);
	free(churn.scan_src[1].data);
	free(churn.slot_plugin);
	memset(&churn, 0, sizeof(churn));
}
