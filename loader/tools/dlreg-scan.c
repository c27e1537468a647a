/*
 * dlreg-scan - print the dlreg metadata of plugin files without loading them.
 *
 * One line per file on stdout (tab-separated text, or JSON lines with
 * --json); one line per failing file on stderr.  Exit status: 0 if every
 * file was scanned, 1 if any failed or stdout could not be written, 2 on a
 * usage error.  File names are shown as basename#hash unless --full-paths
 * is given; in text lines and on stderr they are escaped like C strings
 * (\t, \n, \\, ...) so a name cannot break its line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlreg/scan.h"
#include "internal.h"

struct cli {
	struct dlreg_scan_options opt;
	int json;
	int full_paths;
	int progress;
};

static const char usage_text[] =
        "usage: dlreg-scan [OPTIONS] FILE...\n"
        "Prints each file's dlreg plugin metadata without loading it.\n"
        "Options may follow the files; after \"--\" every argument is a file.\n"
        "A value may also be given as --option=VALUE.\n"
        "\n"
        "  --backend mmap|read|auto  how to read files (default auto)\n"
        "  --json                    one JSON object per file on stdout\n"
        "  --max-map BYTES           never map files larger than this (default 1T)\n"
        "  --max-meta BYTES          largest metadata accepted (default 64K, at most 16M)\n"
        "  --read-buf BYTES          read backend buffer, 16K..4M (default 128K)\n"
        "  --notes-only              ELF notes only, no marker search\n"
        "  --full-paths              show full paths instead of basename#hash\n"
        "  --progress                progress on stderr (default: only on a terminal)\n"
        "  -h, --help                this text\n"
        "BYTES takes a K, M, G or T suffix (powers of 1024).\n"
        "Text output: NAME<TAB>WHERE<TAB>OFFSET<TAB>BUILD-ID<TAB>JSON\n"
        "NAME (here and on stderr) is escaped like a C string: backslash, tab, newline\n"
        "and carriage return as \\\\, \\t, \\n and \\r, other control bytes as \\ooo (octal).\n"
        "Exit status: 0 all files scanned, 1 some file failed or stdout could not be\n"
        "written, 2 usage error.\n";

static const char *const err_names[DLREG_ERR_COUNT_] = {
        "OK",         "EINVAL",     "ENOMEM",     "ENOENT",  "EACCES",    "EISDIR", "ENOTELF",
        "EUNDEFINED", "ELOAD",      "ENOTLOADED", "ENOSYM",  "EDEADLK",   "EBUSY",  "EIO",
        "ETRUNCATED", "EMALFORMED", "ENOMETA",    "ETOOBIG", "EREPLACED", "EOVERFLOW",
};

static const char *err_name(int rc)
{
	return rc >= 0 && rc < DLREG_ERR_COUNT_ && err_names[rc] ? err_names[rc] : "EUNKNOWN";
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "dlreg-scan: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try --help)\n");
	return 2;
}

/* Parses BYTES[K|M|G|T]; 0 on success. */
static int parse_bytes(const char *s, size_t *out)
{
	char *end;
	unsigned shift = 0;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static int parse_backend(const char *s, enum dlreg_scan_backend *b)
{
	if (!s)
		return -1;
	if (strcmp(s, "mmap") == 0)
		*b = DLREG_SCAN_MMAP;
	else if (strcmp(s, "read") == 0)
		*b = DLREG_SCAN_READ;
	else if (strcmp(s, "auto") == 0)
		*b = DLREG_SCAN_AUTO;
	else
		return -1;
	return 0;
}

/* Handles one option that takes a value; returns 0, or 2 after printing why. */
static int parse_valued(struct cli *c, const char *opt, const char *val)
{
	if (!val)
		return usage_error("%s needs a value", opt);
	if (strcmp(opt, "--backend") == 0)
		return parse_backend(val, &c->opt.backend)
		               ? usage_error("unknown backend '%s'", val)
		               : 0;
	size_t *dst = strcmp(opt, "--max-map") == 0    ? &c->opt.max_map_size
	              : strcmp(opt, "--max-meta") == 0 ? &c->opt.max_meta_size
	                                               : &c->opt.read_buf_size;
	if (parse_bytes(val, dst) || *dst == 0) {
		fprintf(stderr, "dlreg-scan: %s: bad size '%s' (try --help)\n", opt, val);
		return 2;
	}
	if (dst == &c->opt.max_meta_size && *dst > DLREG_SCAN_META_LIMIT) {
		fprintf(stderr,
		        "dlreg-scan: --max-meta: %s is above the limit of 16M (%zu bytes)\n", val,
		        DLREG_SCAN_META_LIMIT);
		return 2;
	}
	if (dst == &c->opt.read_buf_size &&
	    (*dst < DLREG_SCAN_READ_BUF_MIN || *dst > DLREG_SCAN_READ_BUF_MAX)) {
		fprintf(stderr, "dlreg-scan: --read-buf: %s is outside 16K..4M\n", val);
		return 2;
	}
	return 0;
}

static int is_valued(const char *a)
{
	return strcmp(a, "--backend") == 0 || strcmp(a, "--max-map") == 0 ||
	       strcmp(a, "--max-meta") == 0 || strcmp(a, "--read-buf") == 0;
}

/*
 * Options may come before, between or after the files, as with getopt_long;
 * "--" ends them.  Moves the files to argv[1..n] in their order; returns n,
 * or -1 (exit 0) / -2 (exit 2).
 */
static int parse_args(int argc, char **argv, struct cli *c)
{
	int files = 0;
	int options = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!options || a[0] != '-' || !a[1]) {
			argv[++files] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options = 0;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (strcmp(a, "--json") == 0)
			c->json = 1;
		else if (strcmp(a, "--full-paths") == 0)
			c->full_paths = 1;
		else if (strcmp(a, "--progress") == 0)
			c->progress = 1;
		else if (strcmp(a, "--notes-only") == 0)
			c->opt.flags |= DLREG_SCAN_NO_MARKER;
		else if (is_valued(a)) {
			if (parse_valued(c, a, i + 1 < argc ? argv[i + 1] : NULL))
				return -2;
			i++;
		} else if (strchr(a, '=') && a[1] == '-') {
			/* --opt=value */
			char name[16];
			size_t n = (size_t)(strchr(a, '=') - a);
			if (n >= sizeof name) {
				usage_error("unknown option '%s'", a);
				return -2;
			}
			memcpy(name, a, n);
			name[n] = '\0';
			if (!is_valued(name)) {
				usage_error("unknown option '%s'", a);
				return -2;
			}
			if (parse_valued(c, name, a + n + 1))
				return -2;
		} else {
			usage_error("unknown option '%s'", a);
			return -2;
		}
	}
	return files;
}

/* Length of the valid UTF-8 sequence (RFC 3629) starting at s, 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * A JSON string (RFC 8259: UTF-8).  File names are bytes: a byte that does
 * not start a valid UTF-8 sequence becomes U+FFFD.
 */
static void put_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (n == 0)
			fputs("\\ufffd", stdout);
		else if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			fwrite(p, 1, n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}

/*
 * A name as one field of one line: backslash, tab, newline and carriage
 * return as C escapes, other control bytes as \ooo.  Bytes from 0x80 up
 * pass unchanged (UTF-8 names stay readable).
 */
static void put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			putc(*p, f);
	}
}

/* Validated JSON has raw control characters only as whitespace: one line is safe. */
static void put_one_line(const char *json)
{
	for (const char *p = json; *p; p++)
		putchar(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
}

static void build_id_hex(const struct dlreg_metadata *m, char *buf)
{
	if (!m->build_id_len) {
		strcpy(buf, "-");
		return;
	}
	for (size_t i = 0; i < m->build_id_len; i++)
		sprintf(buf + 2 * i, "%02x", m->build_id[i]);
}

static void print_ok(const struct cli *c, const char *name, const struct dlreg_metadata *m)
{
	char bid[2 * DLREG_BUILD_ID_MAX + 1];
	build_id_hex(m, bid);
	if (!c->json) {
		put_escaped(stdout, name);
		printf("\t%s\t%llu\t%s\t", dlreg_meta_where_name(m->where),
		       (unsigned long long)m->offset, bid);
		put_one_line(m->json);
		putchar('\n');
		return;
	}
	printf("{\"file\":");
	put_json_string(name);
	printf(",\"ok\":true,\"where\":\"%s\",\"offset\":%llu,\"elf_class\":%u,\"build_id\":",
	       dlreg_meta_where_name(m->where), (unsigned long long)m->offset, m->elf_class);
	if (m->build_id_len)
		printf("\"%s\"", bid);
	else
		printf("null");
	printf(",\"backend\":\"%s\",\"size\":%llu,\"metadata\":",
	       dlreg_scan_backend_name(m->backend), (unsigned long long)m->identity.size);
	put_one_line(m->json);
	printf("}\n");
}

static void put_error_line(FILE *f, const char *name, int rc, const char *detail)
{
	fputs("dlreg-scan: ", f);
	put_escaped(f, name);
	fprintf(f, ": %s (", dlreg_strerror(rc));
	put_escaped(f, detail);
	fputs(")\n", f);
}

static void print_error(const struct cli *c, const char *name, int rc, const char *detail)
{
	/*
	 * stderr is unbuffered: written piece by piece, the line would take a
	 * write per escaped byte, and lines of scans running side by side
	 * (xargs -P) would interleave.  It goes out in one write.
	 */
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);
	if (mem) {
		put_error_line(mem, name, rc, detail);
		if (fclose(mem) == 0)
			fwrite(line, 1, len, stderr);
		else
			put_error_line(stderr, name, rc, detail);
		free(line);
	} else {
		put_error_line(stderr, name, rc, detail);
	}
	if (!c->json)
		return;
	printf("{\"file\":");
	put_json_string(name);
	printf(",\"ok\":false,\"error\":\"%s\",\"message\":", err_name(rc));
	put_json_string(dlreg_strerror(rc));
	printf(",\"detail\":");
	put_json_string(detail);
	printf("}\n");
}

static int scan_one(const struct cli *c, const char *path)
{
	struct dlreg_metadata *m = NULL;
	char name[512];
	char detail[512];
	dlreg__redact_path(path, name, sizeof name, c->full_paths);
	int rc = dlreg_scan_file(path, &c->opt, &m);
	if (rc == DLREG_OK) {
		print_ok(c, name, m);
		dlreg_metadata_free(m);
		return 0;
	}
	snprintf(detail, sizeof detail, "%s", dlreg_errdetail());
	/*
	 * The library prefixes its detail with the file's name, which the line
	 * already has; a long full path there may be cut short.
	 */
	size_t nl = 0;
	while (name[nl] && detail[nl] == name[nl])
		nl++;
	const char *why =
	        nl > 0 && detail[nl] == ':' && detail[nl + 1] == ' ' ? detail + nl + 2 : detail;
	print_error(c, name, rc, why);
	return 1;
}

/* 0, or the errno of a failed write to stdout (a full disk, a closed pipe). */
static int stdout_error(void)
{
	if (fflush(stdout) != 0)
		return errno ? errno : EIO;
	return ferror(stdout) ? EIO : 0;
}

static int write_failed(int err)
{
	fprintf(stderr, "dlreg-scan: cannot write to stdout: %s\n", strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct cli c = {.progress = isatty(STDERR_FILENO)};
	int files = parse_args(argc, argv, &c);
	int err;
	if (files == -1 && (err = stdout_error()) != 0)
		return write_failed(err);
	if (files < 0)
		return files == -1 ? 0 : 2;
	if (files == 0)
		return usage_error("%s", "no FILE given");
	if (c.full_paths)
		c.opt.flags |= DLREG_SCAN_FULL_PATHS;
	/* Reject bad option values once, up front, instead of failing every file. */
	struct dlreg_metadata *none = NULL;
	if (dlreg_scan_buffer("", 0, &c.opt, &none) == DLREG_EINVAL)
		return usage_error("%s", dlreg_errdetail());
	int failed = 0;
	for (int i = 1; i <= files; i++) {
		if (c.progress)
			fprintf(stderr, "dlreg-scan: [%d/%d]\n", i, files);
		failed |= scan_one(&c, argv[i]);
		if ((err = stdout_error()) != 0)
			return write_failed(err);
	}
	return failed;
}
