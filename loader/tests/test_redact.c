/*
 * test_redact - how paths are kept out of error details and log lines
 * (src/redact.c, compiled in).
 *
 * dlreg__redact_path: "basename#hash" (FNV-1a 32 of the whole path; the
 * expected hashes below were computed apart from the library), the path
 * itself with full, "(null)", and every length of output buffer.
 * dlreg__redact_text_path: every absolute path in a text (one starting the
 * text or after a space, quote, '(' or ':', up to whitespace, ':', ',',
 * ')' or a quote) becomes its redacted form, and the path the caller named
 * wherever it stands, also when it is relative or holds spaces or colons;
 * nothing else changes; with full nothing changes at all.  Every output is
 * checked in a buffer of exactly the size given (the ASan build catches a
 * write past it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "check.h"

/*
 * What a redaction wrote into a heap buffer of exactly len bytes, filled
 * with 'Z' before: with len 0 nothing may be written, else the text must
 * be `want`.  `what` names the call for the failure message.
 */
static void check_out(const char *what, char *buf, size_t len, const char *want)
{
	if (len == 0)
		CHECK(buf[0] == 'Z', "%s, len 0: wrote to the buffer", what);
	else
		CHECK(strcmp(buf, want) == 0, "%s, len %zu:\n  '%s'\n not '%s'", what, len, buf,
		      want);
	free(buf);
}

static char *exact_buf(size_t len)
{
	char *buf = malloc(len ? len : 1);
	if (!buf) {
		fprintf(stderr, "test_redact: out of memory\n");
		exit(1);
	}
	memset(buf, 'Z', len ? len : 1);
	return buf;
}

static void check_path(const char *path, size_t len, int full, const char *want)
{
	char *buf = exact_buf(len), what[300];
	dlreg__redact_path(path, buf, len, full);
	snprintf(what, sizeof what, "redact_path(%s%s)", path ? path : "NULL",
	         full ? ", full" : "");
	check_out(what, buf, len, want);
}

static void check_text(const char *text, const char *path, size_t len, int full, const char *want)
{
	char *buf = exact_buf(len), what[300];
	dlreg__redact_text_path(text, path, buf, len, full);
	snprintf(what, sizeof what, "redact_text(\"%.200s\", %s%s)", text, path ? path : "NULL",
	         full ? ", full" : "");
	check_out(what, buf, len, want);
}

static void check_paths(void)
{
	check_path("/a/b/libx.so", 64, 0, "libx.so#a4b78664");
	check_path("libx.so", 64, 0, "libx.so#eb6b2b70");
	check_path("/a/b/", 64, 0, "b/#8d6ceb19"); /* a trailing '/' keeps its name */
	check_path("/", 64, 0, "/#2a0c975e");
	check_path("/x", 64, 0, "x#57d1f0d2");
	check_path("/a/b/libx.so", 64, 1, "/a/b/libx.so");
	check_path(NULL, 64, 0, "(null)");
	check_path(NULL, 3, 0, "(n");
	/* Cut to the buffer, always terminated: "libx.so#a4b78664" is 16 bytes. */
	check_path("/a/b/libx.so", 17, 0, "libx.so#a4b78664");
	check_path("/a/b/libx.so", 16, 0, "libx.so#a4b7866");
	check_path("/a/b/libx.so", 8, 0, "libx.so");
	check_path("/a/b/libx.so", 2, 0, "l");
	check_path("/a/b/libx.so", 1, 0, "");
	check_path("/a/b/libx.so", 0, 0, "");
	check_path("/a/b/libx.so", 5, 1, "/a/b");
}

static void check_texts(void)
{
	/* Where a path may start: the text's start, after ' ', '"', '\'', '(' and ':'. */
	check_text("/opt/secret/dep.so: cannot open", NULL, 256, 0, "dep.so#a1ca7c66: cannot open");
	check_text("required by /opt/secret/dep.so", NULL, 256, 0, "required by dep.so#a1ca7c66");
	check_text("file \"/opt/secret/dep.so\"", NULL, 256, 0, "file \"dep.so#a1ca7c66\"");
	check_text("file '/opt/secret/dep.so'", NULL, 256, 0, "file 'dep.so#a1ca7c66'");
	check_text("version `V' not found (required by /opt/secret/dep.so)", NULL, 256, 0,
	           "version `V' not found (required by dep.so#a1ca7c66)");
	check_text("(/opt/secret/dep.so)", NULL, 256, 0, "(dep.so#a1ca7c66)");
	check_text("open:/opt/secret/dep.so", NULL, 256, 0, "open:dep.so#a1ca7c66");
	/* Where it ends: whitespace, ':', ',', ')', a quote, the text's end. */
	check_text("/opt/secret/dep.so\tx", NULL, 256, 0, "dep.so#a1ca7c66\tx");
	check_text("/opt/secret/dep.so\nx", NULL, 256, 0, "dep.so#a1ca7c66\nx");
	check_text("/opt/secret/dep.so,x", NULL, 256, 0, "dep.so#a1ca7c66,x");
	check_text("/opt/secret/dep.so", NULL, 256, 0, "dep.so#a1ca7c66");
	check_text("a /x and /x", NULL, 256, 0, "a x#57d1f0d2 and x#57d1f0d2");
	/* Not a path's start: inside a word, or a relative path nobody named. */
	check_text("a/opt/secret and x/y", NULL, 256, 0, "a/opt/secret and x/y");
	check_text("lib/secret/dep.so: no", NULL, 256, 0, "lib/secret/dep.so: no");
	check_text("no paths here", NULL, 256, 0, "no paths here");
	check_text("", NULL, 256, 0, "");
	/* The named path, as one, wherever it stands; spaces and colons in it. */
	check_text("rel dir/with space/lib.so: undefined symbol: f", "rel dir/with space/lib.so",
	           256, 0, "lib.so#27706bca: undefined symbol: f");
	check_text("x rel dir/with space/lib.so and rel dir/with space/lib.so",
	           "rel dir/with space/lib.so", 256, 0, "x lib.so#27706bca and lib.so#27706bca");
	check_text("/home/u/secret/lib.so: wrong ELF class; /opt/secret/dep.so",
	           "/home/u/secret/lib.so", 256, 0,
	           "lib.so#afe0d066: wrong ELF class; dep.so#a1ca7c66");
	/* A bare name is not a path: left as it is. */
	check_text("libx.so: cannot open", "libx.so", 256, 0, "libx.so: cannot open");
	/* full: nothing changes. */
	check_text("/opt/secret/dep.so: cannot open (rel dir/with space/lib.so)",
	           "rel dir/with space/lib.so", 256, 1,
	           "/opt/secret/dep.so: cannot open (rel dir/with space/lib.so)");
	/* Cut to the buffer, always terminated, also inside a redacted name. */
	check_text("/opt/secret/dep.so: cannot open", NULL, 10, 0, "dep.so#a1");
	check_text("/opt/secret/dep.so: cannot open", NULL, 15, 0, "dep.so#a1ca7c6");
	check_text("/opt/secret/dep.so: cannot open", NULL, 16, 0, "dep.so#a1ca7c66");
	check_text("/opt/secret/dep.so: cannot open", NULL, 17, 0, "dep.so#a1ca7c66:");
	check_text("ab /x", NULL, 13, 0, "ab x#57d1f0d");
	check_text("ab /x", NULL, 4, 0, "ab ");
	check_text("ab /x", NULL, 1, 0, "");
	check_text("ab /x", NULL, 0, 0, "");
	check_text("/opt/secret/dep.so", NULL, 8, 1, "/opt/se");
	/* A path longer than the redacted form's buffer: its name cut, no directory. */
	char text[600], out[600];
	memset(text, 'd', sizeof text);
	text[0] = '/';
	text[300] = '/';
	memcpy(text + 301, "lib", 3);
	text[sizeof text - 1] = '\0';
	dlreg__redact_text_path(text, NULL, out, sizeof out, 0);
	CHECK(strncmp(out, "libddd", 6) == 0 && strlen(out) < 128 && !strchr(out, '/'),
	      "a 599-byte path: '%.40s...' (%zu bytes)", out, strlen(out));
}

int main(int argc, char **argv)
{
	int rc = check_no_args(argc, argv,
	                       "usage: test_redact\n\n"
	                       "Checks how paths are kept out of error details and log lines\n"
	                       "(src/redact.c): basename#hash forms, which paths in a text are\n"
	                       "redacted and which are not, full paths, and output cut to every\n"
	                       "buffer size.\n");
	if (rc >= 0)
		return rc;
	check_paths();
	check_texts();
	return check_report("test_redact");
}
