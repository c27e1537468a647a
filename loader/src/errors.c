/* errors.c - error names and the per-thread detail text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const err_text[DLREG_ERR_COUNT_] = {
	[DLREG_OK] = "success",
	[DLREG_EINVAL] = "invalid argument",
	[DLREG_ENOMEM] = "out of memory",
	[DLREG_ENOENT] = "no such file",
	[DLREG_EACCES] = "permission denied",
	[DLREG_EISDIR] = "is a directory",
	[DLREG_ENOTELF] = "not an ELF shared object",
	[DLREG_EUNDEFINED] = "undefined symbol in object",
	[DLREG_ELOAD] = "dynamic loader refused the object",
	[DLREG_ENOTLOADED] = "no such library in the registry",
	[DLREG_ENOSYM] = "symbol not found",
	[DLREG_EDEADLK] = "call would wait for itself",
	[DLREG_EBUSY] = "libraries still referenced",
	[DLREG_EIO] = "I/O error",
	[DLREG_ETRUNCATED] = "file truncated or changed while read",
	[DLREG_EMALFORMED] = "malformed file",
	[DLREG_ENOMETA] = "no metadata in file",
	[DLREG_ETOOBIG] = "file or metadata too large",
	[DLREG_EREPLACED] = "loaded object is not the scanned file",
	[DLREG_EOVERFLOW] = "too many references to one library",
};

const char *dlreg_strerror(int err)
{
	if (err < 0 || err >= DLREG_ERR_COUNT_ || !err_text[err])
		return "unknown error";
	return err_text[err];
}

static _Thread_local char detail[DLREG__DETAIL_LEN];

const char *dlreg_errdetail(void)
{
	return detail;
}

void dlreg__clear_detail(void)
{
	detail[0] = '\0';
}

void dlreg__set_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
}

void dlreg__save_detail(struct dlreg__detail *saved)
{
	size_t n = strlen(detail);
	memcpy(saved->text, detail, n + 1);
}

void dlreg__restore_detail(const struct dlreg__detail *saved)
{
	size_t n = strlen(saved->text);
	memcpy(detail, saved->text, n + 1);
}
