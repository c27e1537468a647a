/* corpus.c - the scanner's test inputs (see corpus.h). */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlreg/scan.h"
#include "corpus.h"

#define J_OK "{\"name\":\"corpus\",\"version\":1}"
#define J_UNI                                                                                      \
	"{\"name\":\"gr\\u00fc\xc3\x9f \xe6\x8f\x92\xe4\xbb\xb6 "                                  \
	"\xf0\x9f\x94\x8c\",\"tags\":[1,2.5e3,true,null]}"
#define J_STALE "{\"name\":\"stale\"}"

static void b_put(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			perror("realloc");
			exit(99);
		}
		b->p = q;
		b->cap = cap;
	}
	if (p)
		memcpy(b->p + b->len, p, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static void b_str(struct bytes *b, const char *s)
{
	b_put(b, s, strlen(s));
}

static void b_align(struct bytes *b, size_t a)
{
	while (b->len % a)
		b_put(b, NULL, 1);
}

/* Magic + little-endian length + text: the marker record. */
static void b_record(struct bytes *b, const char *json, uint32_t len)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	unsigned char l[4] = {(unsigned char)len, (unsigned char)(len >> 8),
	                      (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
	b_put(b, magic, sizeof magic);
	b_put(b, l, 4);
	b_put(b, json, strlen(json));
}

/* ---- a synthetic ELF image whose parts can be patched ---- */

struct img {
	struct bytes b;
	int is64;
	int big;
	size_t phoff;
	size_t note_off;
	size_t note_len;
	size_t dlreg_note; /* offset of the dlreg note header */
	size_t strtab_off;
	size_t strtab_len;
	size_t shoff;
};

struct img_opts {
	int is64;
	int big;
	int phdrs;      /* PT_LOAD + PT_NOTE */
	int shdrs;      /* null, note, strtab */
	unsigned align; /* note alignment 4 or 8 */
	int build_id;
	int dlreg_note;
	const char *json;
	const char *debug; /* bytes between the notes and the string table */
	size_t debug_len;
	size_t note_skew; /* bytes put in front of the notes (unaligned area) */
	uint32_t build_id_len; /* 0: 20 */
	const char *owner;     /* the dlreg note's owner name bytes; NULL: "dlreg" */
	uint32_t owner_sz;     /* its namesz (zero-filled past the name); 0: strlen + 1 */
	int bare_record;       /* no NUL after the record: its length fills the note */
};

enum { E_PHOFF, E_SHOFF, E_PHENTSIZE, E_PHNUM, E_SHENTSIZE, E_SHNUM, E_SHSTRNDX };
enum { P_TYPE, P_OFFSET, P_FILESZ, P_ALIGN };
enum { S_NAME, S_TYPE, S_OFFSET, S_SIZE, S_LINK, S_INFO, S_ALIGN };

static void put(struct img *m, size_t off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		m->b.p[off + (m->big ? n - 1 - i : i)] = (unsigned char)(v >> (8 * i));
}

static void set_e(struct img *m, int f, uint64_t v)
{
	static const unsigned o64[] = {32, 40, 54, 56, 58, 60, 62};
	static const unsigned o32[] = {28, 32, 42, 44, 46, 48, 50};
	unsigned n = f <= E_SHOFF ? (m->is64 ? 8 : 4) : 2;
	put(m, m->is64 ? o64[f] : o32[f], v, n);
}

static void set_p(struct img *m, unsigned i, int f, uint64_t v)
{
	static const unsigned o64[] = {0, 8, 32, 48};
	static const unsigned o32[] = {0, 4, 16, 28};
	size_t base = m->phoff + i * (m->is64 ? 56 : 32);
	put(m, base + (m->is64 ? o64[f] : o32[f]), v, f == P_TYPE ? 4 : (m->is64 ? 8 : 4));
}

static void set_s(struct img *m, unsigned i, int f, uint64_t v)
{
	static const unsigned o64[] = {0, 4, 24, 32, 40, 44, 48};
	static const unsigned o32[] = {0, 4, 16, 20, 24, 28, 32};
	int word = f == S_OFFSET || f == S_SIZE || f == S_ALIGN;
	size_t base = m->shoff + i * (m->is64 ? 64 : 40);
	put(m, base + (m->is64 ? o64[f] : o32[f]), v, word ? (m->is64 ? 8 : 4) : 4);
}

/* A note whose owner is `name` in nsz bytes (0: strlen + 1), zero-filled. */
static void note(struct img *m, const char *name, uint32_t nsz, uint32_t type, const void *desc,
                 uint32_t dsz, unsigned align)
{
	size_t start = m->b.len;
	size_t slen = strlen(name);
	if (!nsz)
		nsz = (uint32_t)slen + 1;
	b_put(&m->b, NULL, 12);
	put(m, start, nsz, 4);
	put(m, start + 4, dsz, 4);
	put(m, start + 8, type, 4);
	b_put(&m->b, name, slen < nsz ? slen : nsz);
	if (slen < nsz)
		b_put(&m->b, NULL, nsz - slen);
	while ((m->b.len - start) % align) /* padding counts from the area, not the file */
		b_put(&m->b, NULL, 1);
	b_put(&m->b, desc, dsz);
	while ((m->b.len - start) % align)
		b_put(&m->b, NULL, 1);
}

static void notes(struct img *m, const struct img_opts *o)
{
	m->note_off = m->b.len;
	if (o->build_id) {
		unsigned char id[DLREG_BUILD_ID_MAX + 1];
		uint32_t n = o->build_id_len ? o->build_id_len : 20;
		for (unsigned i = 0; i < sizeof id; i++)
			id[i] = (unsigned char)(0x40 + i);
		note(m, "GNU", 0, NT_GNU_BUILD_ID, id, n, o->align);
	}
	if (o->dlreg_note) {
		struct bytes d = {0};
		const char *json = o->json ? o->json : J_OK;
		b_record(&d, json, (uint32_t)strlen(json));
		if (!o->bare_record)
			b_put(&d, NULL, 1);
		m->dlreg_note = m->b.len;
		note(m, o->owner ? o->owner : "dlreg", o->owner_sz, DLREG_NOTE_TYPE_METADATA, d.p,
		     (uint32_t)d.len, o->align);
		free(d.p);
	}
	m->note_len = m->b.len - m->note_off;
}

static void ident(struct img *m, const struct img_opts *o, size_t ehsize)
{
	unsigned char *id = m->b.p;
	memcpy(id, ELFMAG, SELFMAG);
	id[EI_CLASS] = o->is64 ? ELFCLASS64 : ELFCLASS32;
	id[EI_DATA] = o->big ? ELFDATA2MSB : ELFDATA2LSB;
	id[EI_VERSION] = EV_CURRENT;
	put(m, 16, ET_DYN, 2);
	put(m, 18, o->is64 ? EM_X86_64 : EM_386, 2);
	put(m, 20, EV_CURRENT, 4);
	put(m, o->is64 ? 52 : 40, ehsize, 2);
}

static void program_headers(struct img *m, const struct img_opts *o)
{
	unsigned phsz = o->is64 ? 56 : 32;
	set_e(m, E_PHOFF, m->phoff);
	set_e(m, E_PHENTSIZE, phsz);
	set_e(m, E_PHNUM, 2);
	set_p(m, 0, P_TYPE, PT_LOAD);
	set_p(m, 0, P_FILESZ, m->b.len);
	set_p(m, 0, P_ALIGN, 4096);
	set_p(m, 1, P_TYPE, PT_NOTE);
	set_p(m, 1, P_OFFSET, m->note_off);
	set_p(m, 1, P_FILESZ, m->note_len);
	set_p(m, 1, P_ALIGN, o->align);
}

static void section_headers(struct img *m, const struct img_opts *o)
{
	unsigned shsz = o->is64 ? 64 : 40;
	set_e(m, E_SHOFF, m->shoff);
	set_e(m, E_SHENTSIZE, shsz);
	set_e(m, E_SHNUM, 3);
	set_e(m, E_SHSTRNDX, 2);
	set_s(m, 1, S_NAME, 1);
	set_s(m, 1, S_TYPE, SHT_NOTE);
	set_s(m, 1, S_OFFSET, m->note_off);
	set_s(m, 1, S_SIZE, m->note_len);
	set_s(m, 1, S_ALIGN, o->align);
	set_s(m, 2, S_NAME, 22);
	set_s(m, 2, S_TYPE, SHT_STRTAB);
	set_s(m, 2, S_OFFSET, m->strtab_off);
	set_s(m, 2, S_SIZE, m->strtab_len);
	set_s(m, 2, S_ALIGN, 1);
}

static void headers(struct img *m, const struct img_opts *o, size_t ehsize)
{
	static const char strtab[] = "\0.note.dlreg.metadata\0.shstrtab";
	unsigned shsz = o->is64 ? 64 : 40;
	m->strtab_off = m->b.len;
	m->strtab_len = sizeof strtab;
	b_put(&m->b, strtab, sizeof strtab);
	b_align(&m->b, 8);
	m->shoff = m->b.len;
	if (o->shdrs)
		b_put(&m->b, NULL, 3 * shsz);
	ident(m, o, ehsize);
	if (o->phdrs)
		program_headers(m, o);
	if (o->shdrs)
		section_headers(m, o);
}

static void img_build(struct img *m, const struct img_opts *o)
{
	size_t ehsize = o->is64 ? 64 : 52;
	memset(m, 0, sizeof *m);
	m->is64 = o->is64;
	m->big = o->big;
	b_put(&m->b, NULL, ehsize);
	m->phoff = m->b.len;
	if (o->phdrs)
		b_put(&m->b, NULL, 2 * (o->is64 ? 56 : 32));
	b_align(&m->b, 8);
	b_put(&m->b, NULL, o->note_skew);
	notes(m, o);
	if (o->debug)
		b_put(&m->b, o->debug, o->debug_len);
	headers(m, o, ehsize);
}

static const struct img_opts std64 = {
        .is64 = 1, .phdrs = 1, .shdrs = 1, .align = 4, .build_id = 1, .dlreg_note = 1};

static void std_img(struct img *m)
{
	img_build(m, &std64);
}

static void done(struct img *m, struct bytes *out)
{
	*out = m->b;
}

static void truncate_to(struct img *m, struct bytes *out, size_t len)
{
	m->b.len = len;
	*out = m->b;
}

/* ---- valid files ---- */

static void ok_elf64_le(struct bytes *out)
{
	struct img m;
	std_img(&m);
	done(&m, out);
}

static void ok_elf64_be(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.big = 1;
	img_build(&m, &o);
	done(&m, out);
}

static void ok_elf32_le(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.is64 = 0;
	img_build(&m, &o);
	done(&m, out);
}

static void ok_elf32_be(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.is64 = 0;
	o.big = 1;
	img_build(&m, &o);
	done(&m, out);
}

static void ok_align8(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.align = 8;
	img_build(&m, &o);
	done(&m, out);
}

static void ok_unicode(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.json = J_UNI;
	img_build(&m, &o);
	done(&m, out);
}

/* Program headers gone (as after some post-link tools): the section path finds it. */
static void ok_sections_only(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.phdrs = 0;
	img_build(&m, &o);
	done(&m, out);
}

/*
 * A note section of alignment 1 at an odd offset, as objcopy --add-section
 * makes one: no constraint on where it starts (padding counts from there).
 */
static void ok_section_unaligned(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.phdrs = 0;
	o.note_skew = 3;
	img_build(&m, &o);
	set_s(&m, 1, S_ALIGN, 1);
	done(&m, out);
}

static void ok_pn_xnum(struct bytes *out)
{
	struct img m;
	std_img(&m);
	set_e(&m, E_PHNUM, PN_XNUM);
	set_s(&m, 0, S_INFO, 2);
	done(&m, out);
}

static void ok_shn_xindex(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.phdrs = 0;
	img_build(&m, &o);
	set_e(&m, E_SHSTRNDX, SHN_XINDEX);
	set_s(&m, 0, S_LINK, 2);
	done(&m, out);
}

static void ok_shnum_extended(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.phdrs = 0;
	o.is64 = 0;
	img_build(&m, &o);
	set_e(&m, E_SHNUM, 0);
	set_s(&m, 0, S_SIZE, 3);
	done(&m, out);
}

static void ok_marker_text(struct bytes *out)
{
	struct bytes b = {0};
	b_str(&b, "plain data file\n");
	b_record(&b, J_OK, (uint32_t)strlen(J_OK));
	b_str(&b, "\ntrailer\n");
	*out = b;
}

/*
 * Debug data holding stale, broken copies of the record ahead of the real
 * one (a copy cut short, one whose length runs past the file, one whose
 * text is not JSON): the first valid record wins.
 */
static void debug_copies(struct bytes *b)
{
	b_str(b, ".debug_str junk ");
	b_record(b, "{\"name\":\"cut", (uint32_t)strlen(J_OK));
	b_str(b, " more debug ");
	b_record(b, "", 0x7fffffffu);
	b_record(b, "name=not-json}", 14);
	b_put(b, NULL, 3);
}

static void ok_marker_after_debug(struct bytes *out)
{
	struct bytes b = {0};
	debug_copies(&b);
	b_record(&b, J_OK, (uint32_t)strlen(J_OK));
	b_record(&b, J_STALE, (uint32_t)strlen(J_STALE)); /* later copies never win */
	*out = b;
}

/* An ELF with no notes at all: debug data first, then the real marker. */
static void ok_elf_marker_in_rodata(struct bytes *out)
{
	struct bytes dbg = {0};
	struct img m;
	struct img_opts o = std64;
	debug_copies(&dbg);
	b_record(&dbg, J_OK, (uint32_t)strlen(J_OK));
	o.dlreg_note = 0;
	o.build_id = 0;
	o.debug = (const char *)dbg.p;
	o.debug_len = dbg.len;
	img_build(&m, &o);
	free(dbg.p);
	done(&m, out);
}

/* A record straddling the 16 KiB read window: found only by carrying bytes across. */
static void ok_marker_straddle(struct bytes *out)
{
	struct bytes b = {0};
	b_put(&b, NULL, 16384 - 7);
	b_record(&b, J_OK, (uint32_t)strlen(J_OK));
	b_put(&b, NULL, 40000);
	*out = b;
}

/* ---- plain files ---- */

static void empty(struct bytes *out)
{
	memset(out, 0, sizeof *out);
}

static void text_no_meta(struct bytes *out)
{
	struct bytes b = {0};
	for (int i = 0; i < 200; i++)
		b_str(&b, "no metadata in this line\n");
	*out = b;
}

static void marker_cut(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "{\"a\":1", 100);
	*out = b;
}

static void marker_len_zero(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "{}", 0);
	*out = b;
}

static void marker_len_huge(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, J_OK, 0xffffffffu);
	*out = b;
}

static void marker_at_eof(struct bytes *out)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	struct bytes b = {0};
	b_str(&b, "tail:");
	b_put(&b, magic, sizeof magic);
	*out = b;
}

static void marker_json_nul(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "{\"a\":\"x", 10);
	b_put(&b, "\0\"}", 3);
	*out = b;
}

static void marker_not_object(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "[1,2,3]", 7);
	*out = b;
}

static void marker_bad_utf8(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "{\"a\":\"\xc0\xaf\"}", 10); /* overlong '/' */
	*out = b;
}

static void marker_surrogate(struct bytes *out)
{
	struct bytes b = {0};
	b_record(&b, "{\"a\":\"\xed\xa0\x80\"}", 11); /* UTF-8 encoded surrogate */
	*out = b;
}

static void many_bad_markers(struct bytes *out)
{
	struct bytes b = {0};
	for (unsigned i = 0; i <= DLREG_SCAN_MAX_BAD_MARKERS + 1; i++)
		b_record(&b, "", 0);
	b_record(&b, J_OK, (uint32_t)strlen(J_OK));
	*out = b;
}

/* ---- ELF structure ---- */

/*
 * DLREG_SCAN_MAX_NOTES / 1024 + 1 PT_NOTE segments over one area of 1024
 * empty notes: the walk stops at the limit instead of taking a step per
 * segment and note.
 */
static void notes_overlapping_many(struct bytes *out)
{
	enum { NOTES = 1024, SEGS = DLREG_SCAN_MAX_NOTES / NOTES + 1 };
	struct img m;
	memset(&m, 0, sizeof m);
	m.is64 = 1;
	b_put(&m.b, NULL, 64);
	m.phoff = m.b.len;
	b_put(&m.b, NULL, SEGS * 56);
	size_t area = m.b.len;
	for (unsigned i = 0; i < NOTES; i++)
		note(&m, "", 0, 1, NULL, 0, 4);
	const struct img_opts o = {.is64 = 1};
	ident(&m, &o, 64);
	set_e(&m, E_PHOFF, m.phoff);
	set_e(&m, E_PHENTSIZE, 56);
	set_e(&m, E_PHNUM, SEGS);
	for (unsigned i = 0; i < SEGS; i++) {
		set_p(&m, i, P_TYPE, PT_NOTE);
		set_p(&m, i, P_OFFSET, area);
		set_p(&m, i, P_FILESZ, m.b.len - area);
		set_p(&m, i, P_ALIGN, 4);
	}
	done(&m, out);
}

static void elf_magic_only(struct bytes *out)
{
	struct bytes b = {0};
	b_put(&b, ELFMAG, SELFMAG);
	*out = b;
}

static void elf_bad_class(struct bytes *out)
{
	struct img m;
	std_img(&m);
	m.b.p[EI_CLASS] = 3;
	done(&m, out);
}

static void elf_bad_data(struct bytes *out)
{
	struct img m;
	std_img(&m);
	m.b.p[EI_DATA] = 0;
	done(&m, out);
}

#define TRUNC_CASE(fn, expr)                                                                       \
	static void fn(struct bytes *out)                                                          \
	{                                                                                          \
		struct img m;                                                                      \
		std_img(&m);                                                                       \
		truncate_to(&m, out, (expr));                                                      \
	}

TRUNC_CASE(trunc_ident, 10)
TRUNC_CASE(trunc_ehdr, 63)
TRUNC_CASE(trunc_ehdr_exact, 64)
TRUNC_CASE(trunc_phdr_first, m.phoff + 30)
TRUNC_CASE(trunc_phdr_second, m.phoff + 56 + 30)
TRUNC_CASE(trunc_notes_start, m.note_off + 6)
TRUNC_CASE(trunc_dlreg_desc, m.dlreg_note + 40)
TRUNC_CASE(trunc_notes_end, m.note_off + m.note_len)
TRUNC_CASE(trunc_strtab, m.strtab_off + 10)
TRUNC_CASE(trunc_shdr_first, m.shoff + 32)
TRUNC_CASE(trunc_shdr_last, m.b.len - 1)

/* Without section headers a cut reaches the note checks themselves. */
static void phdrs_only(struct img *m)
{
	struct img_opts o = std64;
	o.shdrs = 0;
	img_build(m, &o);
}

#define TRUNC_NOSH_CASE(fn, expr)                                                                  \
	static void fn(struct bytes *out)                                                          \
	{                                                                                          \
		struct img m;                                                                      \
		phdrs_only(&m);                                                                    \
		truncate_to(&m, out, (expr));                                                      \
	}

TRUNC_NOSH_CASE(trunc_nosh_notes_start, m.note_off + 6)
TRUNC_NOSH_CASE(trunc_nosh_dlreg_desc, m.dlreg_note + 40)
TRUNC_NOSH_CASE(trunc_nosh_notes_end, m.note_off + m.note_len - 1)

static void trunc_elf32_be_phdr(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.is64 = 0;
	o.big = 1;
	img_build(&m, &o);
	truncate_to(&m, out, m.phoff + 40);
}

#define PATCH_CASE(fn, stmt)                                                                       \
	static void fn(struct bytes *out)                                                          \
	{                                                                                          \
		struct img m;                                                                      \
		std_img(&m);                                                                       \
		stmt;                                                                              \
		done(&m, out);                                                                     \
	}

PATCH_CASE(phoff_overflow, set_e(&m, E_PHOFF, UINT64_MAX - 15))
PATCH_CASE(phnum_past_eof, set_e(&m, E_PHNUM, 0xfffe))
PATCH_CASE(phentsize_small, set_e(&m, E_PHENTSIZE, 16))
PATCH_CASE(shoff_overflow, set_e(&m, E_SHOFF, UINT64_MAX - 8))
PATCH_CASE(shentsize_small, set_e(&m, E_SHENTSIZE, 20))
PATCH_CASE(pn_xnum_huge, (set_e(&m, E_PHNUM, PN_XNUM), set_s(&m, 0, S_INFO, 0x7fffffff)))
PATCH_CASE(pn_xnum_no_sections, (set_e(&m, E_PHNUM, PN_XNUM), set_e(&m, E_SHOFF, 0)))
PATCH_CASE(note_offset_overflow, set_p(&m, 1, P_OFFSET, UINT64_MAX - 7))
PATCH_CASE(note_filesz_overflow, set_p(&m, 1, P_FILESZ, UINT64_MAX - 3))
PATCH_CASE(note_past_eof, set_p(&m, 1, P_OFFSET, m.b.len - 8))
PATCH_CASE(note_misaligned, set_p(&m, 1, P_OFFSET, m.note_off + 2))
PATCH_CASE(note_bad_align, set_p(&m, 1, P_ALIGN, 16))
PATCH_CASE(note_area_short, set_p(&m, 1, P_FILESZ, m.note_len - 8))
PATCH_CASE(note_header_cut, set_p(&m, 1, P_FILESZ, 8))
PATCH_CASE(note_namesz_huge, put(&m, m.dlreg_note, 0xffffffffu, 4))
PATCH_CASE(note_descsz_huge, put(&m, m.dlreg_note + 4, 0xfffffff0u, 4))
PATCH_CASE(dlreg_desc_short, put(&m, m.dlreg_note + 4, 10, 4))
PATCH_CASE(dlreg_bad_magic, m.b.p[m.dlreg_note + 20] ^= 0xff)
PATCH_CASE(dlreg_len_past_desc, m.b.p[m.dlreg_note + 36] = 0xf0)
PATCH_CASE(dlreg_len_zero, memset(m.b.p + m.dlreg_note + 36, 0, 4))
PATCH_CASE(dlreg_json_broken, m.b.p[m.dlreg_note + 40] = '[')
PATCH_CASE(dlreg_json_ctrl, m.b.p[m.dlreg_note + 43] = '\n' - 9)

static void dlreg_too_big(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	size_t n = DLREG_METADATA_MAX + 100;
	char *big = malloc(n + 1);
	if (!big)
		exit(99);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	o.json = big;
	img_build(&m, &o);
	free(big);
	done(&m, out);
}

/*
 * The note area ends exactly where the dlreg note's descriptor does (its
 * padding cut off: still valid), or one byte before (it runs past).
 */
static size_t dlreg_desc_end(const struct img *m)
{
	const unsigned char *h = m->b.p + m->dlreg_note;
	uint32_t dsz = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
	               (uint32_t)h[7] << 24;
	size_t end = m->dlreg_note - m->note_off + 12 + 8 + dsz; /* "dlreg\0" padded to 8 */
	if (end >= m->note_len) { /* the case would test nothing */
		fprintf(stderr, "corpus: the dlreg descriptor needs padding\n");
		exit(99);
	}
	return end;
}

PATCH_CASE(ok_note_area_exact, set_p(&m, 1, P_FILESZ, dlreg_desc_end(&m)))
PATCH_CASE(note_area_one_short, set_p(&m, 1, P_FILESZ, dlreg_desc_end(&m) - 1))
/* The record's length one byte more than its note holds. */
PATCH_CASE(dlreg_len_one_past, put(&m, m.dlreg_note + 36, strlen(J_OK) + 2, 4))

static void opts_case(struct bytes *out, const struct img_opts *o)
{
	struct img m;
	img_build(&m, o);
	done(&m, out);
}

/* A record that fills its descriptor to the last byte. */
static void ok_dlreg_len_exact(struct bytes *out)
{
	struct img_opts o = std64;
	o.bare_record = 1;
	opts_case(out, &o);
}

/* The longest build-id kept, and one byte longer (ignored). */
static void ok_build_id_max(struct bytes *out)
{
	struct img_opts o = std64;
	o.build_id_len = DLREG_BUILD_ID_MAX;
	opts_case(out, &o);
}

static void ok_build_id_over(struct bytes *out)
{
	struct img_opts o = std64;
	o.build_id_len = DLREG_BUILD_ID_MAX + 1;
	opts_case(out, &o);
}

/*
 * Owner names that start like "dlreg" but are not it: not the metadata
 * note (the record in it is then found as a marker).
 */
static void owner_longer(struct bytes *out)
{
	struct img_opts o = std64;
	o.owner = "dlreg";
	o.owner_sz = 7; /* "dlreg\0\0" */
	opts_case(out, &o);
}

static void owner_prefix(struct bytes *out)
{
	struct img_opts o = std64;
	o.owner = "dlregs";
	opts_case(out, &o);
}

static void owner_cut(struct bytes *out)
{
	struct img_opts o = std64;
	o.owner = "dlreg";
	o.owner_sz = 5; /* no NUL */
	opts_case(out, &o);
}

static void sections_only(struct img *m)
{
	struct img_opts o = std64;
	o.phdrs = 0;
	img_build(m, &o);
}

#define SECT_CASE(fn, stmt)                                                                        \
	static void fn(struct bytes *out)                                                          \
	{                                                                                          \
		struct img m;                                                                      \
		sections_only(&m);                                                                 \
		stmt;                                                                              \
		done(&m, out);                                                                     \
	}

SECT_CASE(shstrndx_out_of_range, set_e(&m, E_SHSTRNDX, 7))
SECT_CASE(shn_xindex_out_of_range, (set_e(&m, E_SHSTRNDX, SHN_XINDEX), set_s(&m, 0, S_LINK, 99)))
SECT_CASE(strtab_no_nul, set_s(&m, 2, S_SIZE, 6))
SECT_CASE(sh_name_out_of_range, set_s(&m, 1, S_NAME, 4000))
SECT_CASE(strtab_wrong_type, set_s(&m, 2, S_TYPE, SHT_PROGBITS))
SECT_CASE(section_note_past_eof, set_s(&m, 1, S_OFFSET, m.b.len))
SECT_CASE(section_note_size_overflow, set_s(&m, 1, S_SIZE, UINT64_MAX))
SECT_CASE(section_note_misaligned, set_s(&m, 1, S_OFFSET, m.note_off + 2))
SECT_CASE(shnum_extended_huge, (set_e(&m, E_SHNUM, 0), set_s(&m, 0, S_SIZE, 1000000)))

static void elf_no_notes(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.dlreg_note = 0;
	o.build_id = 0;
	img_build(&m, &o);
	done(&m, out);
}

static void elf_build_id_only(struct bytes *out)
{
	struct img m;
	struct img_opts o = std64;
	o.dlreg_note = 0;
	img_build(&m, &o);
	done(&m, out);
}

#define OK(name, where, json, fn)                                                                  \
	{                                                                                          \
		name, DLREG_OK, where, json, fn, NULL                                              \
	}
#define ERR(name, err, fn)                                                                         \
	{                                                                                          \
		name, err, 0, NULL, fn, NULL                                                       \
	}
/* A failure whose detail must say `detail` (the check that caught it). */
#define ERRD(name, err, fn, detail)                                                                \
	{                                                                                          \
		name, err, 0, NULL, fn, detail                                                     \
	}

const struct corpus_case corpus_cases[] = {
        OK("ok-elf64-le", DLREG_META_NOTE_SEGMENT, J_OK, ok_elf64_le),
        OK("ok-elf64-be", DLREG_META_NOTE_SEGMENT, J_OK, ok_elf64_be),
        OK("ok-elf32-le", DLREG_META_NOTE_SEGMENT, J_OK, ok_elf32_le),
        OK("ok-elf32-be", DLREG_META_NOTE_SEGMENT, J_OK, ok_elf32_be),
        OK("ok-note-align8", DLREG_META_NOTE_SEGMENT, J_OK, ok_align8),
        OK("ok-unicode", DLREG_META_NOTE_SEGMENT, J_UNI, ok_unicode),
        OK("ok-sections-only", DLREG_META_NOTE_SECTION, J_OK, ok_sections_only),
        OK("ok-section-unaligned", DLREG_META_NOTE_SECTION, J_OK, ok_section_unaligned),
        OK("ok-pn-xnum", DLREG_META_NOTE_SEGMENT, J_OK, ok_pn_xnum),
        OK("ok-shn-xindex", DLREG_META_NOTE_SECTION, J_OK, ok_shn_xindex),
        OK("ok-shnum-extended", DLREG_META_NOTE_SECTION, J_OK, ok_shnum_extended),
        OK("ok-marker-text", DLREG_META_MARKER, J_OK, ok_marker_text),
        OK("ok-marker-after-debug", DLREG_META_MARKER, J_OK, ok_marker_after_debug),
        OK("ok-elf-marker-in-rodata", DLREG_META_MARKER, J_OK, ok_elf_marker_in_rodata),
        OK("ok-marker-straddle", DLREG_META_MARKER, J_OK, ok_marker_straddle),
        OK("ok-note-area-exact", DLREG_META_NOTE_SEGMENT, J_OK, ok_note_area_exact),
        OK("ok-dlreg-len-exact", DLREG_META_NOTE_SEGMENT, J_OK, ok_dlreg_len_exact),
        OK("ok-build-id-max", DLREG_META_NOTE_SEGMENT, J_OK, ok_build_id_max),
        OK("ok-build-id-over", DLREG_META_NOTE_SEGMENT, J_OK, ok_build_id_over),
        ERR("empty", DLREG_ENOMETA, empty),
        ERR("text-no-meta", DLREG_ENOMETA, text_no_meta),
        ERR("marker-cut", DLREG_ENOMETA, marker_cut),
        ERR("marker-len-zero", DLREG_ENOMETA, marker_len_zero),
        ERR("marker-len-huge", DLREG_ENOMETA, marker_len_huge),
        ERR("marker-at-eof", DLREG_ENOMETA, marker_at_eof),
        ERR("marker-json-nul", DLREG_ENOMETA, marker_json_nul),
        ERR("marker-not-object", DLREG_ENOMETA, marker_not_object),
        ERR("marker-bad-utf8", DLREG_ENOMETA, marker_bad_utf8),
        ERR("marker-surrogate", DLREG_ENOMETA, marker_surrogate),
        ERR("many-bad-markers", DLREG_EMALFORMED, many_bad_markers),
        ERR("elf-magic-only", DLREG_EMALFORMED, elf_magic_only),
        ERR("elf-bad-class", DLREG_EMALFORMED, elf_bad_class),
        ERR("elf-bad-data", DLREG_EMALFORMED, elf_bad_data),
        ERR("trunc-ident", DLREG_EMALFORMED, trunc_ident),
        ERR("trunc-ehdr", DLREG_EMALFORMED, trunc_ehdr),
        ERR("trunc-ehdr-exact", DLREG_EMALFORMED, trunc_ehdr_exact),
        ERR("trunc-phdr-first", DLREG_EMALFORMED, trunc_phdr_first),
        ERR("trunc-phdr-second", DLREG_EMALFORMED, trunc_phdr_second),
        ERR("trunc-notes-start", DLREG_EMALFORMED, trunc_notes_start),
        ERR("trunc-dlreg-desc", DLREG_EMALFORMED, trunc_dlreg_desc),
        ERR("trunc-notes-end", DLREG_EMALFORMED, trunc_notes_end),
        ERR("trunc-strtab", DLREG_EMALFORMED, trunc_strtab),
        ERR("trunc-shdr-first", DLREG_EMALFORMED, trunc_shdr_first),
        ERR("trunc-shdr-last", DLREG_EMALFORMED, trunc_shdr_last),
        ERR("trunc-elf32-be-phdr", DLREG_EMALFORMED, trunc_elf32_be_phdr),
        ERR("trunc-nosh-notes-start", DLREG_EMALFORMED, trunc_nosh_notes_start),
        ERR("trunc-nosh-dlreg-desc", DLREG_EMALFORMED, trunc_nosh_dlreg_desc),
        ERR("trunc-nosh-notes-end", DLREG_EMALFORMED, trunc_nosh_notes_end),
        ERR("phoff-overflow", DLREG_EMALFORMED, phoff_overflow),
        ERR("phnum-past-eof", DLREG_EMALFORMED, phnum_past_eof),
        ERR("phentsize-small", DLREG_EMALFORMED, phentsize_small),
        ERR("shoff-overflow", DLREG_EMALFORMED, shoff_overflow),
        ERR("shentsize-small", DLREG_EMALFORMED, shentsize_small),
        ERR("pn-xnum-huge", DLREG_ETOOBIG, pn_xnum_huge),
        ERR("notes-overlapping-many", DLREG_ETOOBIG, notes_overlapping_many),
        ERR("pn-xnum-no-sections", DLREG_EMALFORMED, pn_xnum_no_sections),
        ERR("note-offset-overflow", DLREG_EMALFORMED, note_offset_overflow),
        ERR("note-filesz-overflow", DLREG_EMALFORMED, note_filesz_overflow),
        ERR("note-past-eof", DLREG_EMALFORMED, note_past_eof),
        ERRD("note-misaligned", DLREG_EMALFORMED, note_misaligned, "misaligned offset"),
        ERR("note-bad-align", DLREG_EMALFORMED, note_bad_align),
        ERR("note-area-short", DLREG_EMALFORMED, note_area_short),
        ERRD("note-area-one-short", DLREG_EMALFORMED, note_area_one_short,
             "runs past its area"),
        ERR("note-header-cut", DLREG_EMALFORMED, note_header_cut),
        ERR("note-namesz-huge", DLREG_EMALFORMED, note_namesz_huge),
        ERR("note-descsz-huge", DLREG_EMALFORMED, note_descsz_huge),
        ERR("dlreg-desc-short", DLREG_EMALFORMED, dlreg_desc_short),
        ERR("dlreg-bad-magic", DLREG_EMALFORMED, dlreg_bad_magic),
        ERR("dlreg-len-past-desc", DLREG_EMALFORMED, dlreg_len_past_desc),
        ERRD("dlreg-len-one-past", DLREG_EMALFORMED, dlreg_len_one_past, "runs past its note"),
        ERR("dlreg-len-zero", DLREG_EMALFORMED, dlreg_len_zero),
        ERR("dlreg-json-broken", DLREG_EMALFORMED, dlreg_json_broken),
        ERR("dlreg-json-ctrl", DLREG_EMALFORMED, dlreg_json_ctrl),
        ERR("dlreg-too-big", DLREG_ETOOBIG, dlreg_too_big),
        ERR("shstrndx-out-of-range", DLREG_EMALFORMED, shstrndx_out_of_range),
        ERR("shn-xindex-out-of-range", DLREG_EMALFORMED, shn_xindex_out_of_range),
        ERR("strtab-no-nul", DLREG_EMALFORMED, strtab_no_nul),
        ERR("sh-name-out-of-range", DLREG_EMALFORMED, sh_name_out_of_range),
        ERR("strtab-wrong-type", DLREG_EMALFORMED, strtab_wrong_type),
        ERR("section-note-past-eof", DLREG_EMALFORMED, section_note_past_eof),
        ERR("section-note-size-overflow", DLREG_EMALFORMED, section_note_size_overflow),
        ERRD("section-note-misaligned", DLREG_EMALFORMED, section_note_misaligned,
             "misaligned offset"),
        ERR("shnum-extended-huge", DLREG_ETOOBIG, shnum_extended_huge),
        ERR("elf-no-notes", DLREG_ENOMETA, elf_no_notes),
        ERR("elf-build-id-only", DLREG_ENOMETA, elf_build_id_only),
        OK("ok-elf-marker-owner-longer", DLREG_META_MARKER, J_OK, owner_longer),
        OK("ok-elf-marker-owner-prefix", DLREG_META_MARKER, J_OK, owner_prefix),
        OK("ok-elf-marker-owner-cut", DLREG_META_MARKER, J_OK, owner_cut),
};
const size_t corpus_count = sizeof corpus_cases / sizeof corpus_cases[0];

void corpus_build(const struct corpus_case *c, struct bytes *out)
{
	memset(out, 0, sizeof *out);
	c->build(out);
}

int corpus_write_all(const char *dir)
{
	for (size_t i = 0; i < corpus_count; i++) {
		struct bytes b;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, corpus_cases[i].name);
		corpus_build(&corpus_cases[i], &b);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		size_t off = 0;
		while (fd >= 0 && off < b.len) {
			ssize_t w = write(fd, b.p + off, b.len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(b.p);
		if (fd < 0 || off != b.len || close(fd) != 0) {
			fprintf(stderr, "cannot write %s\n", corpus_cases[i].name);
			return -1;
		}
	}
	return 0;
}
