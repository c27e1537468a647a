/* redact.c - keep full paths out of logs and error text by default. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static uint32_t fnv1a32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void redact_span(const char *path, size_t n, char *buf, size_t len, int full)
{
	if (full) {
		snprintf(buf, len, "%.*s", (int)n, path);
		return;
	}
	const char *base = path;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/' && i + 1 < n)
			base = path + i + 1;
	int blen = (int)(n - (size_t)(base - path));
	snprintf(buf, len, "%.*s#%08x", blen, base, (unsigned)fnv1a32(path, n));
}

void dlreg__redact_path(const char *path, char *buf, size_t len, int full)
{
	if (!len)
		return;
	if (!path) {
		snprintf(buf, len, "(null)");
		return;
	}
	redact_span(path, strlen(path), buf, len, full);
}

static int ends_path(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == ':' || c == ',' ||
	       c == ')' || c == '"' || c == '\'';
}

void dlreg__redact_text_path(const char *text, const char *path, char *buf, size_t len,
			     int full)
{
	size_t o = 0;
	if (!len)
		return;
	buf[0] = '\0';
	/* A bare file name is not a path: only one with a directory part is known. */
	size_t known = path && strchr(path, '/') ? strlen(path) : 0;
	for (const char *p = text; *p && o + 1 < len;) {
		int starts = *p == '/' && (p == text || p[-1] == ' ' || p[-1] == '"' ||
					   p[-1] == '\'' || p[-1] == '(' || p[-1] == ':');
		int is_known = !full && known && strncmp(p, path, known) == 0;
		if (!is_known && (!starts || full)) {
			buf[o++] = *p++;
			continue;
		}
		size_t n = 0;
		if (is_known)
			n = known;
		else
			while (!ends_path(p[n]))
				n++;
		char red[128];
		redact_span(p, n, red, sizeof red, 0);
		size_t rl = strlen(red);
		if (rl > len - 1 - o)
			rl = len - 1 - o;
		memcpy(buf + o, red, rl);
		o += rl;
		p += n;
	}
	buf[o] = '\0';
}
