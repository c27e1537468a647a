/*
 * bind.c - scan-then-load: the metadata reported for a loaded library must
 * belong to the object the dynamic loader actually mapped.
 *
 * A plugin file can be replaced (rename over it, rewrite in place) between
 * the scan and dlopen(), and glibc may also hand back an object it loaded
 * earlier from the same path.  So after dlreg_open() we look at the loaded
 * object itself: its GNU build-id is read from its own PT_NOTE in memory
 * (found through dl_iterate_phdr by the link map's base address and name)
 * and compared with the scanned one.  Without build-ids we compare files:
 * the path is opened again and must still be the scanned file (dev, inode,
 * size, mtime), and one page of it is mapped; /proc/self/maps then names the
 * file behind that page and the file behind the loaded object's first
 * segment, which must be the same (dev, inode).  Both sides are mappings,
 * so the check holds on overlayfs too, where maps names the layer's file
 * and stat() the overlay's.  An object glibc loaded earlier from a file
 * since replaced at that path is caught so.  Without /proc the link map's
 * file name is stat()ed instead, which cannot tell such an object apart,
 * nor a file swapped away and back between dlopen() and the stat() (build-
 * ids can), which is why plugins should be linked with --build-id (the
 * toolchain default on Debian).
 *
 * Built only on the public API (dlreg_open, dlreg_close, dlreg_lib_dlhandle);
 * no registry lock is held here.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "scan_internal.h"

struct loaded_id {
	ElfW(Addr) base;
	const char *name;
	int found;
	uintptr_t seg; /* an address inside the object's first PT_LOAD segment, or 0 */
	size_t len;
	unsigned char id[DLREG_BUILD_ID_MAX];
};

static size_t note_pad(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The loader validated this note area when it mapped it; we still stay in bounds. */
static void build_id_in(const unsigned char *p, size_t size, size_t align, struct loaded_id *out)
{
	size_t pos = 0;
	align = align == 8 ? 8 : 4;
	/* pos may pass size: the last note's padding need not lie inside the area. */
	while (pos <= size && size - pos >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		memcpy(&nh, p + pos, sizeof nh);
		if (nh.n_namesz > size - pos - sizeof nh)
			return;
		size_t desc = note_pad(pos + sizeof nh + nh.n_namesz, align);
		if (desc > size || nh.n_descsz > size - desc)
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(p + pos + sizeof nh, "GNU", 4) == 0 && nh.n_descsz > 0 &&
		    nh.n_descsz <= DLREG_BUILD_ID_MAX) {
			out->len = nh.n_descsz;
			memcpy(out->id, p + desc, nh.n_descsz);
			return;
		}
		pos = note_pad(desc + nh.n_descsz, align);
	}
}

static int find_loaded(struct dl_phdr_info *info, size_t size, void *data)
{
	struct loaded_id *l = data;
	(void)size;
	if (info->dlpi_addr != l->base || !info->dlpi_name || strcmp(info->dlpi_name, l->name) != 0)
		return 0;
	l->found = 1;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE && !l->len)
			build_id_in((const unsigned char *)(info->dlpi_addr + ph->p_vaddr),
			            ph->p_memsz, ph->p_align, l);
		/* Its start is file-backed (only a segment's tail can be bss). */
		if (ph->p_type == PT_LOAD && ph->p_filesz && !l->seg)
			l->seg = (uintptr_t)(info->dlpi_addr + ph->p_vaddr);
	}
	return 1;
}

struct mapped_file {
	uintptr_t addr;
	int found;
	unsigned major, minor;
	uint64_t ino;
};

/* Fills in the file behind each address from /proc/self/maps; -1 without it. */
static int maps_lookup(struct mapped_file *f, size_t n)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, maps) > 0) {
		uintptr_t lo, hi;
		unsigned major, minor;
		/* The kernel prints its unsigned long i_ino: 64 bits under a 32-bit
		 * process on a 64-bit kernel, where %lu would saturate every inode
		 * number past 2^32 to one value and so match different files. */
		uint64_t ino;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %*s %x:%x %" SCNu64, &lo, &hi, &major,
		           &minor, &ino) != 5)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!f[i].found && f[i].addr >= lo && f[i].addr < hi) {
				f[i].found = 1;
				f[i].major = major;
				f[i].minor = minor;
				f[i].ino = ino;
			}
	}
	free(line);
	fclose(maps);
	return 0;
}

/*
 * Without build-ids: 1 if the object whose first segment is at `seg` was
 * mapped from the file at `path`, and that file is still the scanned one;
 * 0 if not (why[] says which); -1 if it cannot be told (no /proc).
 */
static int mapped_from_scanned(uintptr_t seg, const char *path, const struct dlreg_metadata *meta,
                               char *why, size_t n)
{
	const struct dlreg_file_identity *id = &meta->identity;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_dev != id->dev ||
	    (uint64_t)st.st_ino != id->ino || (uint64_t)st.st_size != id->size ||
	    (int64_t)st.st_mtim.tv_sec != id->mtime_sec ||
	    (long)st.st_mtim.tv_nsec != id->mtime_nsec || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		snprintf(why, n, "loaded file differs from the scanned one");
		return 0;
	}
	void *page = mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (page == MAP_FAILED)
		return -1;
	struct mapped_file f[2] = {{.addr = seg}, {.addr = (uintptr_t)page}};
	int rc = maps_lookup(f, 2);
	munmap(page, 1);
	if (rc != 0 || !f[0].found || !f[1].found || !f[1].ino)
		return -1;
	if (f[0].major == f[1].major && f[0].minor == f[1].minor && f[0].ino == f[1].ino)
		return 1;
	snprintf(why, n, "loaded object was mapped from another file than the scanned one");
	return 0;
}

static int identity_matches(const char *file, const struct dlreg_metadata *meta)
{
	struct stat st;
	const struct dlreg_file_identity *id = &meta->identity;
	return stat(file, &st) == 0 && (uint64_t)st.st_dev == id->dev &&
	       (uint64_t)st.st_ino == id->ino && (uint64_t)st.st_size == id->size &&
	       (int64_t)st.st_mtim.tv_sec == id->mtime_sec &&
	       (long)st.st_mtim.tv_nsec == id->mtime_nsec;
}

/* DLREG_OK if the object behind lib is the scanned file; why[] says what differed. */
static int verify_loaded(const dlreg_lib_t *lib, const struct dlreg_metadata *meta, char *why,
                         size_t n)
{
	struct link_map *lm = NULL;
	void *h = dlreg_lib_dlhandle(lib);
	if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name) {
		snprintf(why, n, "cannot inspect the loaded object");
		return DLREG_EREPLACED;
	}
	struct loaded_id l = {.base = lm->l_addr, .name = lm->l_name};
	dl_iterate_phdr(find_loaded, &l);
	if (meta->build_id_len && l.len) {
		if (l.len == meta->build_id_len && memcmp(l.id, meta->build_id, l.len) == 0)
			return DLREG_OK;
		snprintf(why, n, "loaded object has another build-id");
		return DLREG_EREPLACED;
	}
	if (meta->has_identity && l.seg) {
		int same = mapped_from_scanned(l.seg, lm->l_name, meta, why, n);
		if (same == 1)
			return DLREG_OK;
		if (same == 0)
			return DLREG_EREPLACED;
	}
	if (meta->has_identity && identity_matches(lm->l_name, meta))
		return DLREG_OK;
	snprintf(why, n,
	         meta->has_identity ? "loaded file differs from the scanned one"
	                            : "loaded object has no build-id to compare");
	return DLREG_EREPLACED;
}

int dlreg_open_verified(dlreg_t *reg, const char *path, unsigned hints,
                        const struct dlreg_metadata *meta, dlreg_lib_t **out)
{
	dlreg_lib_t *lib = NULL;
	char why[96];
	char name[DLREG__REDACTED_NAME_SIZE];
	dlreg__clear_detail();
	if (!out)
		return DLREG_EINVAL;
	*out = NULL;
	if (!reg || !path || !strchr(path, '/') || !meta) {
		dlreg__set_detail("need a registry, metadata and a path containing '/'");
		return DLREG_EINVAL;
	}
	if (!meta->build_id_len && !meta->has_identity) {
		dlreg__set_detail("metadata has neither a build-id nor a file identity");
		return DLREG_EINVAL;
	}
	int rc = dlreg_open(reg, path, hints, &lib);
	if (rc)
		return rc;
	rc = verify_loaded(lib, meta, why, sizeof why);
	if (rc == DLREG_OK) {
		*out = lib;
		return DLREG_OK;
	}
	dlreg_close(reg, lib);
	dlreg__redact_path(path, name, sizeof name, 0);
	dlreg__set_detail("%s: %s", name, why);
	return rc;
}

int dlreg_open_scanned(dlreg_t *reg, const char *path, unsigned hints,
                       const struct dlreg_scan_options *opt, dlreg_lib_t **out,
                       struct dlreg_metadata **meta)
{
	struct dlreg_metadata *m = NULL;
	if (meta)
		*meta = NULL;
	if (!out || !reg || !path || !strchr(path, '/')) {
		if (out)
			*out = NULL;
		dlreg__set_detail("need a registry and a path containing '/'");
		return DLREG_EINVAL;
	}
	*out = NULL;
	int rc = dlreg_scan_file(path, opt, &m);
	if (rc == DLREG_OK)
		rc = dlreg_open_verified(reg, path, hints, m, out);
	if (rc == DLREG_OK && meta)
		*meta = m;
	else
		dlreg_metadata_free(m);
	return rc;
}
