/*
 * icount_scan.c - the scanner's parsing paths, as dlreg-icount measures them.
 *
 * Every input is built in memory from constants, so base and candidate
 * builds parse byte-identical buffers whatever their build directories or
 * compilers: a minimal ELF64 file whose PT_NOTE segment holds the dlreg
 * metadata note (note), a non-ELF buffer of pseudo-random bytes with a
 * marker record near its end (marker), and the bare substring search over
 * the same bytes (find).  Setup runs each path once and checks its result,
 * so a mode that quietly stopped finding the metadata fails instead of
 * measuring the wrong work.
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dlreg/metadata.h>
#include <dlreg/scan.h>

#include "icount.h"

/* A small plugin's worth of bytes: the search dominates, not the call. */
#define ICOUNT_SCAN_BYTES ((size_t)16 * 1024)

static const char icount_json[] = "{\"name\": \"icount\", \"version\": 1, "
                                  "\"provides\": [\"dlreg.icount\"], \"threads\": true}";
static const unsigned char icount_magic[DLREG_METADATA_MAGIC_LEN] = DLREG_METADATA_MAGIC_BYTES;

struct scan_state {
	unsigned char *buf;
	size_t len;
	size_t marker_at; /* offset of the marker record (marker, find) */
	struct dlreg_scan_options opt;
};

/*
 * Deterministic filler (xorshift, fixed seed).  The magic's first byte
 * occurs as often as in real data, so the search filter does real work.
 */
static void fill_noise(unsigned char *p, size_t n)
{
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* The marker record: magic, 32-bit little-endian length, JSON text. */
static size_t put_record(unsigned char *p)
{
	uint32_t len = (uint32_t)(sizeof(icount_json) - 1);
	memcpy(p, icount_magic, sizeof(icount_magic));
	for (int i = 0; i < 4; i++)
		p[DLREG_METADATA_MAGIC_LEN + i] = (unsigned char)(len >> (8 * i));
	memcpy(p + DLREG_METADATA_HEADER_LEN, icount_json, len);
	return DLREG_METADATA_HEADER_LEN + len;
}

static size_t align4(size_t v)
{
	return (v + 3) & ~(size_t)3;
}

/* ELF64 header, one PT_NOTE program header, the dlreg note, zero padding. */
static void build_elf(unsigned char *buf, size_t len)
{
	const size_t note_off = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	const size_t desc_len = DLREG_METADATA_HEADER_LEN + sizeof(icount_json);
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};
	Elf64_Nhdr nh = {6, (Elf64_Word)desc_len, DLREG_NOTE_TYPE_METADATA};

	memset(buf, 0, len);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_DYN;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(Elf64_Ehdr);
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 1;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	ph.p_type = PT_NOTE;
	ph.p_flags = PF_R;
	ph.p_offset = note_off;
	ph.p_vaddr = ph.p_paddr = note_off;
	ph.p_filesz = ph.p_memsz = sizeof(nh) + 8 + align4(desc_len);
	ph.p_align = 4;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	memcpy(buf + note_off, &nh, sizeof(nh));
	memcpy(buf + note_off + sizeof(nh), DLREG_NOTE_NAME, sizeof(DLREG_NOTE_NAME));
	put_record(buf + note_off + sizeof(nh) + 8); /* the NUL after the JSON is the memset's */
}

static int scan_check(const struct scan_state *s, enum dlreg_meta_where want)
{
	struct dlreg_metadata *meta = NULL;
	int err = dlreg_scan_buffer(s->buf, s->len, &s->opt, &meta);
	if (err != DLREG_OK)
		return err;
	int ok = meta->where == want && meta->json_len == sizeof(icount_json) - 1 &&
	         memcmp(meta->json, icount_json, meta->json_len) == 0;
	dlreg_metadata_free(meta);
	return ok ? DLREG_OK : DLREG_EINVAL;
}

static void scan_teardown(void *p)
{
	struct scan_state *s = p;
	if (s)
		free(s->buf);
	free(s);
}

static struct scan_state *scan_state_new(void)
{
	struct scan_state *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->len = ICOUNT_SCAN_BYTES;
	s->buf = malloc(s->len);
	if (!s->buf) {
		free(s);
		return NULL;
	}
	return s;
}

static int note_setup(const char *fixture_dir, void **out)
{
	(void)fixture_dir;
	struct scan_state *s = scan_state_new();
	if (!s)
		return DLREG_ENOMEM;
	build_elf(s->buf, s->len);
	s->opt.flags = DLREG_SCAN_NO_MARKER;
	int err = scan_check(s, DLREG_META_NOTE_SEGMENT);
	if (err != DLREG_OK) {
		scan_teardown(s);
		return err;
	}
	*out = s;
	return DLREG_OK;
}

/* Noise with the record 64 bytes before the end: the search covers the buffer. */
static int marker_setup(const char *fixture_dir, void **out)
{
	(void)fixture_dir;
	struct scan_state *s = scan_state_new();
	if (!s)
		return DLREG_ENOMEM;
	fill_noise(s->buf, s->len);
	s->marker_at = s->len - 64 - DLREG_METADATA_HEADER_LEN - (sizeof(icount_json) - 1);
	put_record(s->buf + s->marker_at);
	int err = scan_check(s, DLREG_META_MARKER);
	if (err == DLREG_OK &&
	    dlreg_find(s->buf, s->len, icount_magic, sizeof(icount_magic)) != s->marker_at)
		err = DLREG_EINVAL;
	if (err != DLREG_OK) {
		scan_teardown(s);
		return err;
	}
	*out = s;
	return DLREG_OK;
}

static int scan_run(void *p, long iterations, uint64_t *check)
{
	const struct scan_state *s = p;
	uint64_t acc = 0;
	for (long i = 0; i < iterations; i++) {
		struct dlreg_metadata *meta = NULL;
		int err = dlreg_scan_buffer(s->buf, s->len, &s->opt, &meta);
		if (err != DLREG_OK)
			return err;
		acc = acc * 31 + meta->offset + meta->json_len;
		dlreg_metadata_free(meta);
	}
	*check = acc;
	return DLREG_OK;
}

static int find_run(void *p, long iterations, uint64_t *check)
{
	const struct scan_state *s = p;
	uint64_t acc = 0;
	for (long i = 0; i < iterations; i++) {
		size_t at = dlreg_find(s->buf, s->len, icount_magic, sizeof(icount_magic));
		if (at == SIZE_MAX)
			return DLREG_ENOMETA;
		acc = acc * 31 + at;
	}
	*check = acc;
	return DLREG_OK;
}

const struct icount_mode icount_mode_note = {
        .name = "note",
        .description = "dlreg_scan_buffer on a 16 KiB ELF64 image, metadata in a PT_NOTE segment",
        .setup = note_setup,
        .run = scan_run,
        .teardown = scan_teardown,
};

const struct icount_mode icount_mode_marker = {
        .name = "marker",
        .description = "dlreg_scan_buffer on 16 KiB of non-ELF bytes, marker record near the end",
        .setup = marker_setup,
        .run = scan_run,
        .teardown = scan_teardown,
};

const struct icount_mode icount_mode_find = {
        .name = "find",
        .description = "dlreg_find of the 16-byte metadata magic in 16 KiB (found near the end)",
        .setup = marker_setup,
        .run = find_run,
        .teardown = scan_teardown,
};
