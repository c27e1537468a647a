/*
 * scan.h - reading a plugin's metadata without loading it.
 *
 * The scanner never runs code from the file and cannot be crashed by it:
 * every offset, size and count is checked with overflow-safe arithmetic
 * before use, the mapping size is capped, and a file truncated while mapped
 * yields DLREG_ETRUNCATED instead of SIGBUS (a mapped page the kernel cannot
 * read, DLREG_EIO, as through read(); one it cannot fill while read() can,
 * such as a hole of a file on a full tmpfs, gets the file read instead, and
 * the result says DLREG_SCAN_READ).  All functions are thread-safe;
 * results are private copies (nothing points into a mapping or buffer after a
 * call returns).
 *
 * Where the metadata is looked for, in order (the first hit wins):
 *   1. ELF files (32/64-bit, either byte order): notes in PT_NOTE segments;
 *   2. then notes in SHT_NOTE sections;
 *   3. then (any file) a forward search for the marker record described in
 *      dlreg/metadata.h.  A marker counts only if its length is non-zero,
 *      within max_meta_size and inside the file, and its text is valid UTF-8
 *      forming one JSON object (no NUL, RFC 8259, objects and arrays nested
 *      at most 64 deep).  The first marker that passes wins, so stale or
 *      partial copies in debug data are skipped.  More than
 *      DLREG_SCAN_MAX_BAD_MARKERS rejected markers make the file
 *      DLREG_EMALFORMED.
 * Notes are matched by owner "dlreg" and type DLREG_NOTE_TYPE_METADATA; the
 * first such note is used.  A dlreg note whose record is broken (bad magic,
 * length past the descriptor, invalid JSON) is DLREG_EMALFORMED, not skipped:
 * a note is authoritative.
 *
 * Defined results for hostile files (each is tested):
 *   0-byte file, no ELF note and no valid marker   DLREG_ENOMETA
 *   ELF magic with a truncated header, tables or notes past the end of file,
 *   bad class/byte order, header entry sizes too small, a note area at an
 *   offset its alignment (2, or 4 for 4 and 8) does not divide, or
 *   a note alignment other than 0, 1, 2, 4 or 8 (gABI alignments are powers
 *   of two; binutils' readelf refuses the same, but reads 3 as 4),
 *   note sizes running past their segment or section, e_shstrndx >= e_shnum
 *   (also via SHN_XINDEX), section names running off their string table,
 *   extended numbering (PN_XNUM, SHN_XINDEX) without a section 0   DLREG_EMALFORMED
 *   more than DLREG_SCAN_MAX_HEADERS program or section headers, more
 *   than DLREG_SCAN_MAX_NOTES notes walked (areas may overlap),
 *   a note's metadata above max_meta_size (a longer marker only does not
 *   count, above), file above max_map_size (mmap backend)
 *                                                   DLREG_ETOOBIG
 *   directory                                        DLREG_EISDIR
 *   FIFO, device, socket (never opened; one swapped in
 *   between the check and the open: opened without
 *   blocking, then refused)                          DLREG_EINVAL
 *   a kernel pseudo-file (sysfs, procfs, debugfs, ...) that reads shorter
 *   than the size it reports, or of 64 GiB or more (/proc/kcore)
 *                                                    DLREG_EINVAL
 *   file shrank or changed while read                DLREG_ETRUNCATED
 *   a read error (bad sector, lost network server), mapped or read
 *                                                    DLREG_EIO
 *   missing / unreadable                             DLREG_ENOENT / DLREG_EACCES
 * Each failure also sets dlreg_errdetail(); paths in it are redacted
 * (basename#hash) unless DLREG_SCAN_FULL_PATHS is given.
 *
 * "Changed while read" is the file's size and mtime before and after the
 * scan.  The kernel sets mtime when a write starts, before it copies the
 * data, so a write already under way when a scan starts (one pwrite paused
 * on a page fault, say) can go unseen and the scan return a mix of old and
 * new bytes.  No check of the file can close that: install plugins by
 * rename (a new inode), as dlreg_open_verified's identity check expects.
 * A file rewritten in place is never a memory-safety problem, only this.
 */
#ifndef DLREG_SCAN_H
#define DLREG_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "dlreg/dlreg.h"
#include "dlreg/metadata.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dlreg_scan_backend {
	/*
	 * Chosen per file.  From 128 KiB a file's first page is read first:
	 * an ELF note is found through small preads, without mapping the
	 * file.  Only a file with no note (from 2 MiB) or no ELF magic
	 * (below) is then searched for a marker, over a mapping or through
	 * read, by size, page-cache residency (cachestat() or, from 2 MiB,
	 * mincore() on a sample of its pages) and whether the file system
	 * caches large folios:
	 *
	 *                      cached                  cold
	 *                      large folios   others   large folios   others
	 *   below 64 KiB       read           read     read           read
	 *   64 .. 128 KiB      read           read     map (first)    read
	 *   128 KiB .. 2 MiB   read           read     map            read
	 *   2 .. 16 MiB        map            read     map            read
	 *   16 .. 256 MiB      map            map      map            read
	 *   256 MiB and up     map            map      map            map
	 *
	 * (Large folios: ext4 from Linux 6.16, but not mounted data=journal
	 * nor with the encrypt or verity feature; xfs from 5.18.  The verity
	 * feature cannot be seen without the block device, so such an ext4
	 * counts as having them.  overlayfs: as its layers, where
	 * /proc/self/mountinfo names them in reach, else as ext4; mincore()
	 * instead of cachestat(), which sees none of its pages, and from 64
	 * KiB to 2 MiB files are read, cold or not, since neither cachestat()
	 * nor a page-cache-only read can tell there.)  Where the file system
	 * has none, a file below 16 MiB is read without asking whether it is
	 * cached.
	 * From 64 to 128 KiB a cold file is mapped before anything is read
	 * from it (cachestat() only): one fault reads it whole, as much as the
	 * first read's readahead would.  From 128 KiB to 2 MiB an ELF file is
	 * read whole through the read window, note or not.
	 */
	DLREG_SCAN_AUTO = 0,
	/*
	 * Map the whole file (up to max_map_size) under a per-thread fault
	 * scope.  Falls back to read (reported in dlreg_metadata.backend) for
	 * empty files, kernel pseudo-files (sysfs, procfs, ...: never mapped,
	 * as a mapping of device memory can act on the device) and when the
	 * application has replaced the SIGBUS handler
	 * the scope relies on.  The handler is installed on first use, chains
	 * to the one it replaced for every fault that is not a scan's, and pins
	 * libdlreg in memory (a dlclose could otherwise leave it dangling).
	 * While the mapping is read, SIGBUS and SIGSEGV are unblocked in the
	 * calling thread (the thread's mask is restored afterwards).
	 */
	DLREG_SCAN_MMAP = 1,
	/*
	 * pread() through a buffer of read_buf_size bytes.  Buffers are kept
	 * for the next scan (at most four: 512 KiB with the default size; freed
	 * when libdlreg is unloaded): a fresh one's pages fault on the first
	 * pread into it, which made a warm 1 MiB scan take 97-129 us instead
	 * of 59 on the reference VM.
	 */
	DLREG_SCAN_READ = 2,
};

/*
 * Size from which DLREG_SCAN_AUTO may map a file.  Small files are cheaper
 * to read than to map and unmap (a mapped scan costs 3-5 us of map and
 * unmap on the reference VM); above this, mapping a cached file avoids the
 * copy.  Every mapping from 64 KiB gets MADV_HUGEPAGE: where the file system
 * caches large folios (ext4 from Linux 6.16, xfs from 5.18), a fault then
 * reads ahead in 2 MiB folios, and a file cached so is mapped with one PMD
 * entry per 2 MiB.
 * Measured with dlreg-bench-scan's auto_vs_best family (auto, mmap and read
 * timed side by side in every iteration; results/README.md), full marker
 * scan, ext4, Linux 6.18, medians of 9, two full runs
 * (results/20261130-469ff78-vm.json, -e9af147-vm.json):
 *   warm (as dlreg's own earlier scan left the file): read and mmap meet
 *   at 1 MiB (61-67 us); from there mmap wins, read takes 2.5-2.8x as
 *   long at 4 MiB, 2.8x at 16 MiB, 2.6-2.7x at 64 and 256 MiB;
 *   cold: with the hint mmap wins at every size from 64 KiB, read takes
 *   1.2-1.6x as long at 64 KiB-4 MiB, 1.1x at 16-256 MiB, 1.01-1.07x at
 *   1 GiB.
 * Why not lower, where mapping starts to win: between 1 and 2 MiB (the
 * library's mmap, read and auto in turn, 201 scans each, medians of four
 * runs) read took 1.00-1.01x mmap's time at 1 MiB, 1.04-1.12x at
 * 1.125-1.5 MiB and 1.25-1.27x at 1.75 MiB on files auto had cached (a
 * fourth run: 1.46-1.64x at 1.25-1.75 MiB), but on files read() had
 * cached, in smaller folios, mmap took 1.30-1.43x read's time at 1-1.75
 * MiB.  Mapping cached files from 1.25 MiB made auto 0.81-0.97x read's
 * time on the first kind and 1.32-1.37x on the second: not kept.
 * auto pays for deciding: one 4 KiB pread (the ELF check; no ELF magic, no
 * header pass) and one cachestat run, 2-4 us warm (1.00-1.04x mmap from
 * 4 MiB).  Cold, that pread is one synchronous I/O more than a blind
 * mapping does (65-100 us; 170-370 us on a PVM guest's virtio disk, where
 * auto took 1.24x the mapping's time at 4 MiB and 0.95-1.03x from 16 MiB).
 * It stays: only it tells an ELF file, whose note lookup must read a page,
 * not the 2-4 MiB a hinted fault reads.  From 128 KiB to 2 MiB auto maps a
 * cold file after that read (it used to read it: 1.3-1.6x the mapping's
 * time): auto takes 1.37x the hinted mapping's time at 256 KiB (255 us,
 * read 273) and
 * 1.17x at 1 MiB (441 us, read 510), 1.06x at 4 MiB, from 16 MiB
 * 1.01-1.02x (all three backends rotated through every place in the
 * iteration; with auto always first, as in the two reports above, 4 MiB
 * read 1.09-1.10x and 64 MiB 1.05-1.06x).  Cached, the same path costs
 * read one cachestat call: 1.03x read at 256 KiB and 1 MiB, where its
 * one-page first read makes a note lookup 0.88x read's (4.6 us).
 * Mapping first would make every cold ELF note lookup read up to 4 MiB
 * (mmap: 190-230 us at 4 MiB, 460-490 us at 1 GiB, where auto's header
 * pass takes 65-210 us).
 * On btrfs (no large folios) mapping stays page by page and read wins cold
 * up to 16 MiB (mmap takes 1.15-1.2x as long), hence the "cold, other"
 * column, and cached up to 8 MiB: DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN.
 * ELF note lookups read only headers, so auto never maps for them.  Auto
 * also reads when the file is above max_map_size or when the application
 * replaced the SIGBUS handler the fault scope relies on.  The residency
 * probes (cachestat(2), Linux 6.5; else mincore() on the mapping) report
 * residency only for files the caller owns or may write; for others the
 * file counts as cached.
 */
#define DLREG_SCAN_AUTO_MMAP_MIN ((uint64_t)2 << 20)

/*
 * Size from which DLREG_SCAN_AUTO maps a cached file whose file system
 * caches no large folios (btrfs; ext4 before Linux 6.16, as in Debian
 * bookworm's own kernel): such a mapping is filled 16 pages per fault, and
 * below this copying the file is cheaper.  Measured on btrfs on a loop
 * device (Linux 6.18, auto_vs_best, warm, medians of 7, two runs): mmap
 * took 1.33x read's time at 2 MiB (191 against 144 us), 1.25-1.26x at
 * 4 MiB, 1.16x at 8 MiB, and 0.86-0.88x at 16 MiB (1875 against 2129 us),
 * 0.90x at 64 MiB.  (Where a 16 MiB file no longer fits the L3 cache
 * with its copy, 32 MiB here, read falls behind.)
 */
#define DLREG_SCAN_AUTO_SMALL_FOLIO_MMAP_MIN ((uint64_t)16 << 20)

/*
 * Size from which DLREG_SCAN_AUTO maps a file for the marker search even
 * when it is not in the page cache and its file system has no large
 * folios.  Measured before the hint, on ext4: read (128 KiB buffer) took
 * 0.87-0.93x mmap's time at 64 MiB, 1.00-1.04x at 256 MiB and 1.05-1.08x
 * at 1 GiB (side by side, medians of 9, two runs): page-fault readahead
 * reads as much per I/O as read()'s, and the scan skips the copy.
 */
#define DLREG_SCAN_AUTO_COLD_MMAP_MIN ((uint64_t)256 << 20)

/*
 * Sizes from which and up to which DLREG_SCAN_AUTO maps a small file that
 * cachestat() finds out of the page cache, on a file system that caches
 * large folios (above).  The hinted fault reads such a file whole in one
 * folio and one I/O, and a marker search follows in RAM; reading it takes
 * the header read's I/O, which on a cold file reads ahead 64 KiB in 4 KiB
 * pages, and a second for the rest.  Measured on dense files (ext4, Linux
 * 6.18, medians of 40 side by side, a raw syscall probe): at 64 KiB a
 * cold marker search takes 95 us mapped and 122 us read, an ELF header
 * lookup 93 us mapped and 121 us read; at 128 KiB the search takes 122 and
 * 217 us, the header lookup 123 us either way; at 192 KiB the header
 * lookup takes 114 us mapped and 95 us read, at 256 KiB 177 and 130 us,
 * and mapping first would make a note lookup pay for the whole file.
 * Below 64 KiB mappings get no hint and the read wins (cold 16 KiB: 70 us
 * read, 80 us mapped).  A cached file in this range is read, its header
 * through a 4 KiB window instead of 16 KiB (a cold file's readahead is no
 * concern there).  dlreg-bench-scan auto_vs_best at 64 KiB, medians of 9:
 * cold marker search auto 86 us, mmap 86, read 98; cold note 74, 73, 74;
 * cached note 5.01, 11.8, 4.98 us; cached marker search 8.05, 13.1, 7.59
 * us: the probe is one syscall (cachestat, 0.31 us; 0.45 us in place), 6 %
 * of that search.
 */
#define DLREG_SCAN_AUTO_COLD_SMALL_MIN ((uint64_t)64 << 10)
#define DLREG_SCAN_AUTO_COLD_SMALL_MAX ((uint64_t)128 << 10)

/*
 * Page-fault cost (dlreg_scan_fault_cost_ns) from which DLREG_SCAN_AUTO
 * reads the cold files below DLREG_SCAN_AUTO_MMAP_MIN that it would
 * otherwise map (from DLREG_SCAN_AUTO_COLD_SMALL_MIN, on file systems with
 * large folios).  Every crossover above was measured on a VM whose nested
 * paging makes a fault cheap: a warm 64 KiB file, 17 faults, is mapped,
 * scanned and unmapped in 15 us there.  Where the hypervisor shadows the
 * guest's page tables instead (PVM here: 10 us a fault, 1 us a syscall),
 * the same cold scans took, mapped and read (dlreg-bench-scan
 * auto_vs_best, medians of 3-5): 64 KiB 201 and 112 us, 128 KiB 302 and
 * 198, 256 KiB 265 and 220, 1 MiB 733 and 362; from 4 MiB the mapping
 * still wins (782 and 999 us), one fault per large folio.  Cached files
 * below 2 MiB are read on both kinds of host; where faults are slow, auto
 * skips the cachestat call from 64 to 128 KiB too, which only decided
 * whether to map (warm marker search there: 1.07x read's time with it,
 * 1.00x without, where a syscall costs 1 us).  There a mapped marker search
 * (auto's from 2 MiB, and the mmap backend's) also has the kernel map each
 * stretch in before searching it (MADV_POPULATE_READ), instead of taking a
 * fault per folio: a cached 64 MiB file took 0.89x the time, 256 MiB
 * 0.91-0.92x, cold files and cached ones of 4-16 MiB the same (within 2 %).
 * A cached file in small folios, as the writes that made it leave it on
 * ext4, is another matter there: every page then costs a page table entry
 * and a trip through the hypervisor on first touch, and mapped it took
 * 3.8-6.1x read's time from 4 to 256 MiB.  So auto's mapped search of a
 * cached file times each stretch the kernel maps in, and where one comes
 * out slow and not in PMD entries (PAGEMAP_SCAN, Linux 6.7; before that
 * the time alone decides) it goes on through the pread window from there
 * (dlreg_metadata.backend then says read): 1.9-2.1x read's time at 4 MiB
 * (one 2 MiB stretch mapped in and unmapped for nothing), 1.18-1.27x at
 * 16 MiB, 1.05-1.07x at 64 MiB, 1.01-1.03x at 256 MiB (dlreg-bench-scan
 * --warm=written, three runs); files in 2 MiB folios pay nothing.
 */
#define DLREG_SCAN_AUTO_SLOW_FAULT_NS 3000u

#define DLREG_SCAN_READ_BUF_MIN ((size_t)16 * 1024)
#define DLREG_SCAN_READ_BUF_MAX ((size_t)4 * 1024 * 1024)
#define DLREG_SCAN_READ_BUF_DEFAULT ((size_t)128 * 1024)
/* Default mapping cap: 1 TiB with 64-bit pointers, 512 MiB with 32-bit. */
#if SIZE_MAX > 0xffffffffu
#define DLREG_SCAN_MAX_MAP_DEFAULT ((size_t)1 << 40)
#else
#define DLREG_SCAN_MAX_MAP_DEFAULT ((size_t)1 << 29)
#endif
/* Largest max_meta_size accepted (the default is DLREG_METADATA_MAX). */
#define DLREG_SCAN_META_LIMIT ((size_t)16 * 1024 * 1024)
/* Program or section header counts above this are DLREG_ETOOBIG. */
#define DLREG_SCAN_MAX_HEADERS 65536u
/*
 * ELF notes walked in one file, over all its PT_NOTE segments and SHT_NOTE
 * sections, before it is DLREG_ETOOBIG.  Areas may overlap: without a bound
 * N headers over one area of N notes cost N^2 steps (a 900 KB file took
 * 4.5 s).  A plugin has a handful.
 */
#define DLREG_SCAN_MAX_NOTES 65536u
/* Rejected markers tolerated in one file before it is DLREG_EMALFORMED. */
#define DLREG_SCAN_MAX_BAD_MARKERS 256u
/* Longest GNU build-id recorded; longer ones are ignored. */
#define DLREG_BUILD_ID_MAX 64

#define DLREG_SCAN_FULL_PATHS 0x1u /* detail text shows full paths */
#define DLREG_SCAN_NO_MARKER 0x2u  /* ELF notes only: skip the marker search */
#define DLREG_SCAN_FLAGS_ALL_ 0x3u

/* Zero-initialised options (or NULL) mean: auto backend, every default. */
struct dlreg_scan_options {
	enum dlreg_scan_backend backend;
	size_t read_buf_size; /* 0 or DLREG_SCAN_READ_BUF_MIN..DLREG_SCAN_READ_BUF_MAX */
	size_t max_map_size;  /* 0: DLREG_SCAN_MAX_MAP_DEFAULT; larger files never mapped */
	size_t max_meta_size; /* 0: DLREG_METADATA_MAX; at most DLREG_SCAN_META_LIMIT */
	unsigned flags;       /* DLREG_SCAN_* */
};

enum dlreg_meta_where {
	DLREG_META_NOTE_SEGMENT = 1, /* a note in a PT_NOTE segment */
	DLREG_META_NOTE_SECTION = 2, /* a note in an SHT_NOTE section */
	DLREG_META_MARKER = 3,       /* found by the marker search */
};

/* The scanned file, as fstat() saw it when the scan started. */
struct dlreg_file_identity {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_sec;
	long mtime_nsec;
};

/* A scan result: one allocation, released with dlreg_metadata_free(). */
struct dlreg_metadata {
	const char *json;            /* NUL-terminated UTF-8 JSON object */
	size_t json_len;             /* bytes before the NUL */
	enum dlreg_meta_where where; /* how it was found */
	uint64_t offset;             /* file offset of the first JSON byte */
	unsigned elf_class;          /* 32 or 64; 0 for a non-ELF file */
	int elf_big_endian;          /* 1 for ELFDATA2MSB */
	char section[64];            /* SHT_NOTE section name, "" unless NOTE_SECTION */
	/*
	 * 0: no GNU build-id note found.  The first one in PT_NOTE segments
	 * counts; SHT_NOTE sections are walked only when the metadata is not in
	 * a segment, so a build-id in a section alone goes unseen next to a
	 * segment's metadata (as it does for dlreg_open_verified, which reads
	 * the loaded object's PT_NOTE).
	 */
	size_t build_id_len;
	unsigned char build_id[DLREG_BUILD_ID_MAX];
	int has_identity; /* 0 for dlreg_scan_buffer() results */
	struct dlreg_file_identity identity;
	enum dlreg_scan_backend backend; /* used: MMAP or READ (AUTO from a buffer) */
};

/*
 * Scans the file at `path`.  Opens it O_NONBLOCK (a FIFO never blocks) and
 * scans only regular files.  On success sets *out (free it with
 * dlreg_metadata_free) and returns DLREG_OK; otherwise *out is NULL and the
 * return value is one of the errors listed at the top of this header.
 */
DLREG_API int dlreg_scan_file(const char *path, const struct dlreg_scan_options *opt,
                              struct dlreg_metadata **out);

/*
 * Pure parser over `len` bytes at `buf` (same rules as a file; no I/O, no
 * signal handling).  The backend option is not used (an unknown value is
 * DLREG_EINVAL all the same, as for a file); has_identity is 0.
 */
DLREG_API int dlreg_scan_buffer(const void *buf, size_t len, const struct dlreg_scan_options *opt,
                                struct dlreg_metadata **out);

DLREG_API void dlreg_metadata_free(struct dlreg_metadata *meta);

/* "note-segment", "note-section", "marker" (or "unknown"). */
DLREG_API const char *dlreg_meta_where_name(enum dlreg_meta_where where);
/* "auto", "mmap", "read" (or "unknown"). */
DLREG_API const char *dlreg_scan_backend_name(enum dlreg_scan_backend backend);

/*
 * Number of faults (SIGBUS/SIGSEGV inside an active scan mapping) the fault
 * scope has turned into DLREG_ETRUNCATED since the process started, over all
 * threads.  A snapshot, for monitoring and tests.
 */
DLREG_API uint64_t dlreg_scan_fault_count(void);

/*
 * What a page fault costs this process, in ns: the fastest of three runs of
 * 8 first-touch faults on anonymous pages, measured the first time auto
 * weighs mapping a cold file below DLREG_SCAN_AUTO_MMAP_MIN (or the first
 * time this is called), then kept.  About 0.1 ms once where a fault costs
 * 10 us.  0 if it could not be measured (auto then counts faults as cheap).
 * Auto compares it with DLREG_SCAN_AUTO_SLOW_FAULT_NS.
 */
DLREG_API unsigned dlreg_scan_fault_cost_ns(void);

/*
 * Offset of the first occurrence of needle[0..m) in hay[0..n), or SIZE_MAX.
 * m == 0 matches at 0.  SIMD first/last-byte filter (AVX2 when the CPU has
 * it, else SSE2 on x86-64, else memchr), falling back to glibc memmem's
 * linear-time search if verification work grows beyond a few times the
 * bytes scanned.  Reads only inside both ranges.
 */
DLREG_API size_t dlreg_find(const void *hay, size_t n, const void *needle, size_t m);

/*
 * Opens `path` through the registry and checks that the object the dynamic
 * loader actually mapped is the file `meta` was scanned from: GNU build-ids
 * compared when both have one (the loaded one read from the object's own
 * PT_NOTE in memory), otherwise the file: the file at the link map's name
 * must still have the scanned identity (dev, inode, size, mtime), and the
 * loaded object must be mapped from that very file (/proc/self/maps; an
 * object glibc loaded earlier from a file since replaced is refused; only
 * the identity is compared where /proc is not mounted).  On mismatch the
 * handle is closed again and DLREG_EREPLACED returned.  `path` must contain
 * a '/' (so no library search path can pick another file).  DLREG_EINVAL if
 * `meta` has neither a build-id nor an identity.  Other errors are
 * dlreg_open's.
 */
DLREG_API int dlreg_open_verified(dlreg_t *reg, const char *path, unsigned hints,
                                  const struct dlreg_metadata *meta, dlreg_lib_t **out);

/*
 * dlreg_scan_file() + dlreg_open_verified(): the metadata returned belongs to
 * the object that is loaded.  On success *out holds a reference and, if
 * `meta` is non-NULL, *meta the metadata (free with dlreg_metadata_free);
 * on failure both are NULL.
 */
DLREG_API int dlreg_open_scanned(dlreg_t *reg, const char *path, unsigned hints,
                                 const struct dlreg_scan_options *opt, dlreg_lib_t **out,
                                 struct dlreg_metadata **meta);

#ifdef __cplusplus
}
#endif

#endif /* DLREG_SCAN_H */
