/*
 * metadata.h - declaring a plugin's metadata so it can be read without
 * loading the plugin.
 *
 * In exactly one source file of a plugin:
 *
 *     #include <dlreg/metadata.h>
 *     DLREG_PLUGIN_METADATA("{\"name\": \"png\", \"version\": 3}");
 *
 * The argument must be a string literal holding one JSON object in UTF-8, at
 * most DLREG_METADATA_MAX bytes, without NUL bytes.  A second declaration in
 * the same object is a compile or link error (one object, one metadata blob).
 *
 * Where it lives (the on-disk format, stable):
 *
 *   An ELF note in an allocated, read-only, non-executable section named
 *   ".note.dlreg.metadata" (the linker places it in a PT_NOTE segment, so it
 *   survives `strip --strip-all`):
 *
 *     namesz = 6, name = "dlreg\0" (padded to 8)
 *     type   = DLREG_NOTE_TYPE_METADATA
 *     desc   = marker record (below), padded to a multiple of 4
 *
 *   The marker record, also usable on its own inside any non-ELF file:
 *
 *     16 bytes  DLREG_METADATA_MAGIC_BYTES
 *      4 bytes  JSON length L, unsigned little-endian (whatever the file's
 *               byte order)
 *      L bytes  the JSON text (the note form adds one NUL after it)
 *
 *   Header fields of the note itself (namesz, descsz, type) use the ELF
 *   file's byte order, like every ELF note.
 */
#ifndef DLREG_METADATA_H
#define DLREG_METADATA_H

#include <stdint.h>

/* Largest JSON text the macro accepts, and the scanner's default limit. */
#define DLREG_METADATA_MAX (64u * 1024u)

/* Owner name and type of the ELF note. */
#define DLREG_NOTE_NAME "dlreg"
#define DLREG_NOTE_TYPE_METADATA 0x4d455441u

/* The 16-byte magic: 0xF0, "dlreg:metadata", 0xA1 (all bytes non-zero). */
#define DLREG_METADATA_MAGIC_LEN 16
#define DLREG_METADATA_MAGIC_BYTES                                                                 \
	{                                                                                          \
		0xf0, 'd', 'l', 'r', 'e', 'g', ':', 'm', 'e', 't', 'a', 'd', 'a', 't', 'a', 0xa1   \
	}
/* Magic + 4-byte length: the bytes in front of the JSON text. */
#define DLREG_METADATA_HEADER_LEN (DLREG_METADATA_MAGIC_LEN + 4)

#define DLREG__LE_BYTE(v, n) ((unsigned char)(((uint32_t)(v) >> (8 * (n))) & 0xffu))

/*
 * The note is one hidden object with external linkage and one unmangled
 * name, so a second declaration anywhere in the same object clashes at link
 * time.  C++ would give a const object internal linkage: every translation
 * unit would keep its own note without a word, and a scan would see only
 * the first of them.  extern "C" keeps the linkage external (an unnamed
 * type is allowed there) and the name the one C uses, so C and C++
 * declarations clash with each other too.
 */
#if defined(__cplusplus)
#define DLREG__STATIC_ASSERT static_assert
#define DLREG__NOTE_LINKAGE extern "C"
#else
#define DLREG__STATIC_ASSERT _Static_assert
#define DLREG__NOTE_LINKAGE
#endif
#define DLREG__NOTE_VISIBILITY __attribute__((visibility("hidden")))

/*
 * AddressSanitizer would pad the note with a redzone and raise its alignment
 * to 32, which makes the note area unparseable (gABI notes align to 4 or 8).
 * GCC leaves objects in named sections alone; clang needs telling.
 */
#if defined(__clang__)
#define DLREG__NOTE_NO_SANITIZE __attribute__((no_sanitize("address")))
#else
#define DLREG__NOTE_NO_SANITIZE
#endif

/*
 * The note is one object whose layout is exactly the ELF note layout: three
 * 32-bit words, the padded name, then the descriptor.  `"" json ""` makes a
 * non-literal argument a compile error.
 */
#define DLREG_PLUGIN_METADATA(json)                                                                \
	DLREG__STATIC_ASSERT(sizeof("" json "") - 1 <= DLREG_METADATA_MAX,                         \
	                     "dlreg plugin metadata is larger than DLREG_METADATA_MAX");           \
	DLREG__NOTE_LINKAGE                                                                        \
	DLREG__NOTE_NO_SANITIZE                                                                    \
	DLREG__NOTE_VISIBILITY __attribute__((section(".note.dlreg.metadata"), used, aligned(4)))  \
	const struct {                                                                             \
		uint32_t namesz;                                                                   \
		uint32_t descsz;                                                                   \
		uint32_t type;                                                                     \
		char name[8];                                                                      \
		unsigned char magic[DLREG_METADATA_MAGIC_LEN];                                     \
		unsigned char len[4];                                                              \
		char text[sizeof("" json "")];                                                     \
	} dlreg_plugin_metadata_note = {                                                           \
	        6u,                                                                                \
	        (uint32_t)(DLREG_METADATA_HEADER_LEN + sizeof("" json "")),                        \
	        DLREG_NOTE_TYPE_METADATA,                                                          \
	        DLREG_NOTE_NAME,                                                                   \
	        DLREG_METADATA_MAGIC_BYTES,                                                        \
	        {DLREG__LE_BYTE(sizeof("" json "") - 1, 0),                                        \
	         DLREG__LE_BYTE(sizeof("" json "") - 1, 1),                                        \
	         DLREG__LE_BYTE(sizeof("" json "") - 1, 2),                                        \
	         DLREG__LE_BYTE(sizeof("" json "") - 1, 3)},                                       \
	        json,                                                                              \
	}

#endif /* DLREG_METADATA_H */
