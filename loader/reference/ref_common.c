/* ref_common.c - what the reference registries share: loader calls, errors. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlreg/dlreg.h"
#include "reference.h"

#if defined(__SANITIZE_THREAD__)
#define REF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define REF_TSAN 1
#endif
#endif

#ifdef REF_TSAN
/*
 * Stands for glibc's recursive dl_load_lock, taken just outside it so TSan
 * sees the order the real lock imposes (annotating acquire/release around
 * the calls is not enough: a thread can announce its acquire while still
 * waiting for the real lock).  Recursive, like the real one, because a
 * constructor may re-enter the registry on the loading thread.
 */
static pthread_mutex_t ref_loader_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
#define ref_loader_enter() pthread_mutex_lock(&ref_loader_lock)
#define ref_loader_leave() pthread_mutex_unlock(&ref_loader_lock)
#else
#define ref_loader_enter() ((void)0)
#define ref_loader_leave() ((void)0)
#endif

void *dlreg_ref_dlopen(const char *path, int mode)
{
	void *dl;

	ref_loader_enter();
	dl = dlopen(path, mode);
	ref_loader_leave();
	return dl;
}

int dlreg_ref_dlclose(void *dl)
{
	int rc;

	ref_loader_enter();
	rc = dlclose(dl);
	ref_loader_leave();
	return rc;
}

void *dlreg_ref_dlsym(void *dl, const char *name)
{
	void *sym;

	ref_loader_enter();
	sym = dlsym(dl, name);
	ref_loader_leave();
	return sym;
}

/* 1 if the file starts with the ELF magic, 0 if not, -1 if unreadable. */
static int ref_is_elf(const char *path)
{
	unsigned char magic[4];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

static int ref_file_error(const char *path)
{
	struct stat st;
	int elf;

	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? DLREG_ENOENT
		       : errno == EACCES                   ? DLREG_EACCES
		                                           : DLREG_ELOAD;
	if (S_ISDIR(st.st_mode))
		return DLREG_EISDIR;
	elf = ref_is_elf(path);
	if (elf < 0)
		return DLREG_EACCES;
	return elf ? DLREG_OK : DLREG_ENOTELF;
}

int dlreg_ref_load_error(const char *path)
{
	const char *msg = dlerror();
	int err = strchr(path, '/') ? ref_file_error(path) : DLREG_OK;

	if (err != DLREG_OK)
		return err;
	if (msg && strstr(msg, "undefined symbol"))
		return DLREG_EUNDEFINED;
	if (msg && (strstr(msg, "invalid ELF header") || strstr(msg, "file too short")))
		return DLREG_ENOTELF;
	return DLREG_ELOAD;
}
