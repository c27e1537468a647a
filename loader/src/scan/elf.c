/*
 * elf.c - finds the metadata in a byte source: ELF notes in PT_NOTE
 * segments, then in SHT_NOTE sections, then a forward marker search.
 *
 * Nothing read from the file is trusted: every offset, size and count goes
 * through range_ok()/add_ok() (overflow-checked) before it is used, header
 * counts are capped, names are read with a bound, and every byte the
 * verdict depends on is first copied out of the source (so a file rewritten
 * under a mapping cannot change a value between its check and its use).
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "scan_internal.h"

const unsigned char dlreg__magic[DLREG_METADATA_MAGIC_LEN] = DLREG_METADATA_MAGIC_BYTES;

static const char dlreg_note_name[6] = DLREG_NOTE_NAME;
static const char gnu_note_name[4] = "GNU";

struct elf {
	int present;
	int is64;
	int big;
	uint64_t phoff;
	uint64_t shoff;
	uint32_t phnum;
	uint32_t shnum;
	uint32_t shstrndx;
	uint32_t phentsize;
	uint32_t shentsize;
};

struct strtab {
	int present;
	uint64_t off;
	uint64_t size;
};

static int fail(int err, const char *fmt, ...) DLREG_PRINTF(2, 3);

static int fail(int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dlreg__set_detail("%s", msg);
	return err;
}

static uint64_t rd(const unsigned char *p, unsigned n, int big)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[big ? i : n - 1 - i] << (8 * (n - 1 - i));
	return v;
}

static uint32_t rd16(const unsigned char *p, int big)
{
	return (uint32_t)rd(p, 2, big);
}

static uint32_t rd32(const unsigned char *p, int big)
{
	return (uint32_t)rd(p, 4, big);
}

/* An address-sized field: 8 bytes in ELF64, 4 in ELF32. */
static uint64_t rdw(const unsigned char *p, const struct elf *e)
{
	return rd(p, e->is64 ? 8 : 4, e->big);
}

static int add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

static int range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	uint64_t end;
	return add_ok(off, len, &end) && end <= size;
}

static int align_up(uint64_t v, unsigned a, uint64_t *out)
{
	uint64_t t;
	if (!add_ok(v, a - 1, &t))
		return 0;
	*out = t & ~(uint64_t)(a - 1);
	return 1;
}

static int src_read(struct dlreg__src *src, uint64_t off, void *dst, size_t n)
{
	if (!range_ok(off, n, src->size))
		return fail(DLREG_EMALFORMED, "read of %zu bytes at %llu past end of file", n,
		            (unsigned long long)off);
	return src->read_at(src, off, dst, n);
}

/* ---- ELF header and extended numbering ---- */

static size_t phdr_size(const struct elf *e)
{
	return e->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
}

static size_t shdr_size(const struct elf *e)
{
	return e->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
}

static int elf_ident(struct dlreg__src *src, struct elf *e)
{
	unsigned char id[EI_NIDENT];
	if (src->size < SELFMAG)
		return DLREG_OK;
	int rc = src_read(src, 0, id, SELFMAG);
	if (rc || memcmp(id, ELFMAG, SELFMAG) != 0)
		return rc;
	e->present = 1;
	if (src->size < EI_NIDENT)
		return fail(DLREG_EMALFORMED, "ELF identification truncated");
	rc = src_read(src, 0, id, EI_NIDENT);
	if (rc)
		return rc;
	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)
		return fail(DLREG_EMALFORMED, "unknown ELF class %u", id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB && id[EI_DATA] != ELFDATA2MSB)
		return fail(DLREG_EMALFORMED, "unknown ELF byte order %u", id[EI_DATA]);
	e->is64 = id[EI_CLASS] == ELFCLASS64;
	e->big = id[EI_DATA] == ELFDATA2MSB;
	return DLREG_OK;
}

static int elf_header(struct dlreg__src *src, struct elf *e)
{
	unsigned char h[sizeof(Elf64_Ehdr)];
	size_t hsize = e->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (src->size < hsize)
		return fail(DLREG_EMALFORMED, "ELF header truncated (%llu of %zu bytes)",
		            (unsigned long long)src->size, hsize);
	int rc = src_read(src, 0, h, hsize);
	if (rc)
		return rc;
	/* ELF32 fields sit 12 bytes earlier from e_phoff on (two 4-byte addresses). */
	const unsigned char *p = h + (e->is64 ? 32 : 28);
	unsigned w = e->is64 ? 8 : 4;
	e->phoff = rdw(p, e);
	e->shoff = rdw(p + w, e);
	p += 2 * w + 6; /* e_flags, e_ehsize */
	e->phentsize = rd16(p, e->big);
	e->phnum = rd16(p + 2, e->big);
	e->shentsize = rd16(p + 4, e->big);
	e->shnum = rd16(p + 6, e->big);
	e->shstrndx = rd16(p + 8, e->big);
	return DLREG_OK;
}

/* Section 0 carries the real counts when they do not fit the header (gABI). */
static int elf_section0(struct dlreg__src *src, struct elf *e)
{
	unsigned char s[sizeof(Elf64_Shdr)];
	if (e->shoff == 0)
		return fail(DLREG_EMALFORMED, "extended numbering but no section headers");
	if (e->shentsize < shdr_size(e))
		return fail(DLREG_EMALFORMED, "section header size %u too small", e->shentsize);
	if (!range_ok(e->shoff, shdr_size(e), src->size))
		return fail(DLREG_EMALFORMED, "section header 0 past end of file");
	int rc = src_read(src, e->shoff, s, shdr_size(e));
	if (rc)
		return rc;
	unsigned w = e->is64 ? 8 : 4;
	const unsigned char *size_f = s + 8 + 3 * w; /* after name, type, flags, addr, offset */
	const unsigned char *link_f = size_f + w;
	if (e->phnum == PN_XNUM)
		e->phnum = rd32(link_f + 4, e->big); /* sh_info */
	if (e->shnum == 0) {
		uint64_t n = rdw(size_f, e);
		if (n > DLREG_SCAN_MAX_HEADERS)
			return fail(DLREG_ETOOBIG, "%llu section headers (limit %u)",
			            (unsigned long long)n, DLREG_SCAN_MAX_HEADERS);
		e->shnum = (uint32_t)n;
	}
	if (e->shstrndx == SHN_XINDEX)
		e->shstrndx = rd32(link_f, e->big);
	return DLREG_OK;
}

static int table_ok(struct dlreg__src *src, const char *what, uint64_t off, uint32_t num,
                    uint32_t entsize, size_t min_entsize)
{
	uint64_t len;
	if (num == 0)
		return DLREG_OK;
	if (num > DLREG_SCAN_MAX_HEADERS)
		return fail(DLREG_ETOOBIG, "%u %s headers (limit %u)", num, what,
		            DLREG_SCAN_MAX_HEADERS);
	if (entsize < min_entsize)
		return fail(DLREG_EMALFORMED, "%s header size %u too small", what, entsize);
	if (__builtin_mul_overflow((uint64_t)num, (uint64_t)entsize, &len) ||
	    !range_ok(off, len, src->size))
		return fail(DLREG_EMALFORMED, "%s header table past end of file", what);
	return DLREG_OK;
}

static int elf_open(struct dlreg__src *src, struct elf *e)
{
	int rc = elf_ident(src, e);
	if (rc || !e->present)
		return rc;
	rc = elf_header(src, e);
	if (rc)
		return rc;
	int extended = e->phnum == PN_XNUM || (e->shnum == 0 && e->shoff != 0) ||
	               e->shstrndx == SHN_XINDEX;
	if (extended && (rc = elf_section0(src, e)) != DLREG_OK)
		return rc;
	if (e->shoff == 0)
		e->shnum = 0;
	rc = table_ok(src, "program", e->phoff, e->phnum, e->phentsize, phdr_size(e));
	if (rc)
		return rc;
	return table_ok(src, "section", e->shoff, e->shnum, e->shentsize, shdr_size(e));
}

/* ---- metadata records ---- */

/* Copies L bytes at off and validates them: EMALFORMED if not a JSON object. */
static int load_json(struct dlreg__scan_job *job, uint64_t off, uint32_t len)
{
	char *text = malloc((size_t)len + 1);
	if (!text)
		return fail(DLREG_ENOMEM, "cannot allocate %u bytes of metadata", len);
	job->json = text; /* owned by the job from here on, also across a fault */
	int rc = src_read(job->src, off, text, len);
	if (rc == DLREG_OK && !dlreg__json_valid(text, len))
		rc = fail(DLREG_EMALFORMED, "metadata at offset %llu is not a valid JSON object",
		          (unsigned long long)off);
	if (rc) {
		job->json = NULL;
		free(text);
		return rc;
	}
	text[len] = '\0';
	job->json_len = len;
	job->offset = off;
	return DLREG_OK;
}

/* Reads the 20-byte record header at off: DLREG_OK and *len, or EMALFORMED. */
static int record_header(struct dlreg__src *src, uint64_t off, uint32_t *len)
{
	unsigned char h[DLREG_METADATA_HEADER_LEN];
	int rc = src_read(src, off, h, sizeof h);
	if (rc)
		return rc;
	if (memcmp(h, dlreg__magic, DLREG_METADATA_MAGIC_LEN) != 0)
		return fail(DLREG_EMALFORMED, "metadata record without its magic");
	*len = (uint32_t)rd(h + DLREG_METADATA_MAGIC_LEN, 4, 0);
	if (*len == 0)
		return fail(DLREG_EMALFORMED, "metadata record of length 0");
	return DLREG_OK;
}

static int take_note(struct dlreg__scan_job *job, uint64_t desc, uint32_t descsz)
{
	uint32_t len;
	if (descsz < DLREG_METADATA_HEADER_LEN)
		return fail(DLREG_EMALFORMED, "dlreg note descriptor of %u bytes is too short",
		            descsz);
	int rc = record_header(job->src, desc, &len);
	if (rc)
		return rc;
	if (len > descsz - DLREG_METADATA_HEADER_LEN)
		return fail(DLREG_EMALFORMED, "metadata length %u runs past its note", len);
	if (len > job->max_meta)
		return fail(DLREG_ETOOBIG, "metadata is %u bytes (limit %zu)", len, job->max_meta);
	return load_json(job, desc + DLREG_METADATA_HEADER_LEN, len);
}

static int take_build_id(struct dlreg__scan_job *job, uint64_t desc, uint32_t descsz)
{
	if (descsz == 0 || descsz > DLREG_BUILD_ID_MAX)
		return DLREG_OK; /* not a usable build-id; identity checks fall back */
	int rc = src_read(job->src, desc, job->build_id, descsz);
	if (rc == DLREG_OK)
		job->build_id_len = descsz;
	return rc;
}

struct note {
	uint64_t name;
	uint32_t namesz;
	uint32_t type;
	uint64_t desc;
	uint32_t descsz;
};

/* *match = 1 if the note's owner name is exactly `name` (sz bytes with its NUL). */
static int note_named(struct dlreg__src *src, const struct note *n, const char *name, uint32_t sz,
                      int *match)
{
	char buf[8];
	*match = 0;
	if (n->namesz != sz)
		return DLREG_OK;
	int rc = src_read(src, n->name, buf, sz);
	if (rc == DLREG_OK)
		*match = memcmp(buf, name, sz) == 0;
	return rc;
}

static int handle_note(struct dlreg__scan_job *job, const struct note *n, enum dlreg_meta_where w)
{
	int match = 0;
	int rc = DLREG_OK;
	if (!job->json && n->type == DLREG_NOTE_TYPE_METADATA) {
		rc = note_named(job->src, n, dlreg_note_name, sizeof dlreg_note_name, &match);
		if (rc || !match)
			return rc;
		job->where = w;
		return take_note(job, n->desc, n->descsz);
	}
	if (!job->build_id_len && n->type == NT_GNU_BUILD_ID) {
		rc = note_named(job->src, n, gnu_note_name, sizeof gnu_note_name, &match);
		if (rc == DLREG_OK && match)
			rc = take_build_id(job, n->desc, n->descsz);
	}
	return rc;
}

/*
 * Note alignment from p_align / sh_addralign: 4 (also for 0, 1, 2) or 8.
 * Padding counts from the start of the area, so the area itself need only
 * sit where its own alignment says (at most 4): 0 and 1 put no constraint
 * on it (objcopy --add-section gives a section alignment 1, at any offset).
 */
static int note_align(uint64_t align, uint64_t off, unsigned *na)
{
	if (align > 8 || align == 3 || (align > 4 && align < 8))
		return fail(DLREG_EMALFORMED, "note alignment %llu", (unsigned long long)align);
	if (align > 1 && off % (align < 4 ? align : 4) != 0)
		return fail(DLREG_EMALFORMED, "note area at misaligned offset %llu",
		            (unsigned long long)off);
	*na = align == 8 ? 8 : 4;
	return DLREG_OK;
}

/* Walks the notes in [start, start+len); positions are relative to start. */
static int scan_notes(struct dlreg__scan_job *job, const struct elf *e, uint64_t start,
                      uint64_t len, unsigned na, enum dlreg_meta_where w)
{
	uint64_t pos = 0;
	while (pos < len) {
		unsigned char h[12];
		uint64_t desc, end;
		if (++job->notes_walked > DLREG_SCAN_MAX_NOTES)
			return fail(DLREG_ETOOBIG, "more than %u ELF notes",
			            DLREG_SCAN_MAX_NOTES);
		if (len - pos < sizeof h)
			return fail(DLREG_EMALFORMED, "note header truncated at offset %llu",
			            (unsigned long long)(start + pos));
		int rc = src_read(job->src, start + pos, h, sizeof h);
		if (rc)
			return rc;
		struct note n = {.namesz = rd32(h, e->big),
		                 .descsz = rd32(h + 4, e->big),
		                 .type = rd32(h + 8, e->big)};
		if (!add_ok(pos + sizeof h, n.namesz, &desc) || !align_up(desc, na, &desc) ||
		    !add_ok(desc, n.descsz, &end) || end > len)
			return fail(DLREG_EMALFORMED, "note at offset %llu runs past its area",
			            (unsigned long long)(start + pos));
		n.name = start + pos + sizeof h;
		n.desc = start + desc;
		rc = handle_note(job, &n, w);
		if (rc)
			return rc;
		if (!align_up(end, na, &pos))
			return fail(DLREG_EMALFORMED, "note size overflows");
	}
	return DLREG_OK;
}

/* ---- program headers, section headers ---- */

static int scan_segments(struct dlreg__scan_job *job, const struct elf *e)
{
	for (uint32_t i = 0; i < e->phnum; i++) {
		unsigned char p[sizeof(Elf64_Phdr)];
		int rc = src_read(job->src, e->phoff + (uint64_t)i * e->phentsize, p, phdr_size(e));
		if (rc)
			return rc;
		if (rd32(p, e->big) != PT_NOTE)
			continue;
		/* p_offset, p_filesz, p_align: ELF64 8/32/48, ELF32 4/16/28. */
		uint64_t off = rdw(p + (e->is64 ? 8 : 4), e);
		uint64_t size = rdw(p + (e->is64 ? 32 : 16), e);
		uint64_t align = rdw(p + (e->is64 ? 48 : 28), e);
		unsigned na = 4;
		if (size == 0)
			continue;
		if ((rc = note_align(align, off, &na)) != DLREG_OK)
			return rc;
		if (!range_ok(off, size, job->src->size))
			return fail(DLREG_EMALFORMED, "PT_NOTE segment %u past end of file", i);
		if ((rc = scan_notes(job, e, off, size, na, DLREG_META_NOTE_SEGMENT)) != DLREG_OK)
			return rc;
	}
	return DLREG_OK;
}

struct shdr {
	uint32_t name;
	uint32_t type;
	uint64_t offset;
	uint64_t size;
	uint64_t align;
};

static int read_shdr(struct dlreg__scan_job *job, const struct elf *e, uint32_t i, struct shdr *s)
{
	unsigned char b[sizeof(Elf64_Shdr)];
	unsigned w = e->is64 ? 8 : 4;
	int rc = src_read(job->src, e->shoff + (uint64_t)i * e->shentsize, b, shdr_size(e));
	if (rc)
		return rc;
	s->name = rd32(b, e->big);
	s->type = rd32(b + 4, e->big);
	s->offset = rdw(b + 8 + 2 * w, e);
	s->size = rdw(b + 8 + 3 * w, e);
	s->align = rdw(b + 16 + 4 * w, e);
	return DLREG_OK;
}

static int load_strtab(struct dlreg__scan_job *job, const struct elf *e, struct strtab *st)
{
	struct shdr s;
	if (e->shstrndx == SHN_UNDEF)
		return DLREG_OK;
	if (e->shstrndx >= e->shnum)
		return fail(DLREG_EMALFORMED, "section name table index %u >= section count %u",
		            e->shstrndx, e->shnum);
	int rc = read_shdr(job, e, e->shstrndx, &s);
	if (rc)
		return rc;
	if (s.type != SHT_STRTAB || !range_ok(s.offset, s.size, job->src->size))
		return fail(DLREG_EMALFORMED,
		            "section name table %u is not a string table in the file", e->shstrndx);
	st->present = 1;
	st->off = s.offset;
	st->size = s.size;
	return DLREG_OK;
}

/* Name of a section, bounded by the table and by the buffer (longer names are cut). */
static int section_name(struct dlreg__scan_job *job, const struct strtab *st, uint32_t name,
                        char out[64])
{
	memset(out, 0, 64); /* all 64 bytes reach dlreg_metadata.section */
	if (!st->present)
		return DLREG_OK;
	if (name >= st->size)
		return fail(DLREG_EMALFORMED, "section name offset %u outside the name table",
		            name);
	uint64_t avail = st->size - name;
	size_t n = avail < 64 ? (size_t)avail : 64;
	int rc = src_read(job->src, st->off + name, out, n);
	if (rc)
		return rc;
	char *end = memchr(out, '\0', n);
	if (!end) {
		if (n < 64)
			return fail(DLREG_EMALFORMED, "section name runs off the name table");
		end = out + 63;
	}
	memset(end, 0, (size_t)(out + 64 - end)); /* nor the table's next names */
	return DLREG_OK;
}

static int scan_section(struct dlreg__scan_job *job, const struct elf *e, const struct strtab *st,
                        const struct shdr *s, uint32_t i)
{
	char name[64];
	unsigned na = 4;
	int rc = section_name(job, st, s->name, name);
	if (rc || s->size == 0)
		return rc;
	if ((rc = note_align(s->align, s->offset, &na)) != DLREG_OK)
		return rc;
	if (!range_ok(s->offset, s->size, job->src->size))
		return fail(DLREG_EMALFORMED, "note section %u past end of file", i);
	int had = job->json != NULL;
	rc = scan_notes(job, e, s->offset, s->size, na, DLREG_META_NOTE_SECTION);
	if (rc == DLREG_OK && !had && job->json)
		memcpy(job->section, name, sizeof job->section);
	return rc;
}

static int scan_sections(struct dlreg__scan_job *job, const struct elf *e)
{
	struct strtab st = {0};
	if (e->shnum == 0)
		return DLREG_OK;
	int rc = load_strtab(job, e, &st);
	for (uint32_t i = 1; rc == DLREG_OK && i < e->shnum; i++) {
		struct shdr s;
		rc = read_shdr(job, e, i, &s);
		if (rc == DLREG_OK && s.type == SHT_NOTE)
			rc = scan_section(job, e, &st, &s, i);
	}
	return rc;
}

/* ---- markers ---- */

/* DLREG_OK if a valid record starts at `at`; EMALFORMED if it is to be skipped. */
static int try_marker(struct dlreg__scan_job *job, uint64_t at)
{
	uint32_t len;
	if (!range_ok(at, DLREG_METADATA_HEADER_LEN, job->src->size))
		return fail(DLREG_EMALFORMED, "marker at the end of the file");
	int rc = record_header(job->src, at, &len);
	if (rc)
		return rc;
	if (len > job->max_meta)
		return fail(DLREG_EMALFORMED, "marker length %u above the limit", len);
	if (!range_ok(at + DLREG_METADATA_HEADER_LEN, len, job->src->size))
		return fail(DLREG_EMALFORMED, "marker length %u runs past the file", len);
	return load_json(job, at + DLREG_METADATA_HEADER_LEN, len);
}

static int scan_markers(struct dlreg__scan_job *job)
{
	uint64_t from = 0;
	unsigned bad = 0;
	for (;;) {
		uint64_t at;
		int rc = job->src->find_magic(job->src, from, &at);
		if (rc == DLREG_ENOMETA)
			return bad ? fail(rc, "no valid metadata marker (%u rejected)", bad)
			           : fail(rc, "no dlreg note and no metadata marker");
		if (rc)
			return rc;
		rc = try_marker(job, at);
		if (rc != DLREG_EMALFORMED)
			return rc;
		if (++bad > DLREG_SCAN_MAX_BAD_MARKERS)
			return fail(DLREG_EMALFORMED, "more than %u invalid metadata markers",
			            DLREG_SCAN_MAX_BAD_MARKERS);
		from = at + 1;
	}
}

int dlreg__scan_run(struct dlreg__scan_job *job)
{
	struct elf e = {0};
	int rc = elf_open(job->src, &e);
	if (rc)
		return rc;
	if (e.present) {
		job->elf_class = e.is64 ? 64 : 32;
		job->elf_big_endian = e.big;
		rc = scan_segments(job, &e);
		if (rc == DLREG_OK && !job->json)
			rc = scan_sections(job, &e);
		if (rc || job->json)
			return rc;
	}
	if (job->flags & DLREG_SCAN_NO_MARKER)
		return fail(DLREG_ENOMETA, "no dlreg note");
	rc = scan_markers(job);
	if (rc == DLREG_OK)
		job->where = DLREG_META_MARKER;
	return rc;
}
