/*
 * test_scan_json - the metadata validator (src/scan/json.c, compiled in):
 * strict UTF-8 and one RFC 8259 JSON object, nesting at most 64 deep.
 *
 * Without arguments: a table of texts that must pass and texts that must
 * fail, each copied into a buffer of exactly its length (so the ASan build
 * catches a read past the end), and the length honoured (bytes after it
 * not looked at).  With --stdin: the verdict on each record read from
 * stdin (a 4-byte little-endian length, then the bytes), one '0' or '1'
 * each, for test_scan_json_diff.py, which compares them with Python's json
 * module on generated and mutated texts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_internal.h"
#include "check.h"

struct json_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	int valid;
	const char *why;
};

/* A text with NUL bytes or whose length matters: sizeof of a literal, less its NUL. */
#define L(s) s, sizeof s - 1

static const struct json_case cases[] = {
        /* Objects, values, whitespace. */
        {"{}", 0, 1, "the empty object"},
        {" \t\r\n{ \t\r\n} \t\r\n", 0, 1, "the four whitespace characters around and inside"},
        {"{\"a\":1}", 0, 1, "one member"},
        {"{\"a\":[1,2,{\"b\":null}],\"c\":{}}", 0, 1, "nested arrays and objects"},
        {"{\"\":\"\"}", 0, 1, "empty key and value"},
        {"{\"a\":1,\"a\":2}", 0, 1, "a repeated key (RFC 8259 allows it)"},
        {"{\"t\":true,\"f\":false,\"n\":null}", 0, 1, "the three words"},
        {"{\"a\":[]}", 0, 1, "an empty array"},
        {"{\"a\" : [ 1 , 2 ] }", 0, 1, "whitespace around every token"},
        {"", 0, 0, "empty text"},
        {" \n", 0, 0, "whitespace only"},
        {"[]", 0, 0, "an array at the top"},
        {"\"a\"", 0, 0, "a string at the top"},
        {"1", 0, 0, "a number at the top"},
        {"null", 0, 0, "a word at the top"},
        {"{", 0, 0, "an object not closed"},
        {"{\"a\"}", 0, 0, "a key without a value"},
        {"{\"a\":}", 0, 0, "a colon without a value"},
        {"{\"a\" 1}", 0, 0, "no colon"},
        {"{\"a\":1,}", 0, 0, "a trailing comma"},
        {"{,}", 0, 0, "a comma alone"},
        {"{\"a\":1 \"b\":2}", 0, 0, "no comma between members"},
        {"{a:1}", 0, 0, "an unquoted key"},
        {"{'a':1}", 0, 0, "a single-quoted key"},
        {"{1:1}", 0, 0, "a number as key"},
        {"{\"a\":[1,2}", 0, 0, "an array closed by '}'"},
        {"{\"a\":[1}]}", 0, 0, "brackets crossed"},
        {"{\"a\":{]}", 0, 0, "an object closed by ']'"},
        {"{\"a\":[1,]}", 0, 0, "a trailing comma in an array"},
        {"{\"a\":[,1]}", 0, 0, "a leading comma in an array"},
        {"{}x", 0, 0, "text after the object"},
        {"{}{}", 0, 0, "two objects"},
        {"{} {}", 0, 0, "two objects with a space"},
        {"\v{}", 0, 0, "a vertical tab is not whitespace"},
        {"{}\f", 0, 0, "a form feed is not whitespace"},
        {"\xc2\xa0{}", 0, 0, "a no-break space is not whitespace"},
        {"\xef\xbb\xbf{}", 0, 0, "a byte-order mark"},
        /* Words. */
        {"{\"a\":tru}", 0, 0, "a cut word"},
        {"{\"a\":truex}", 0, 0, "a word run on"},
        {"{\"a\":True}", 0, 0, "a capital word"},
        {"{\"a\":nul}", 0, 0, "null cut"},
        {"{\"a\":fals}", 0, 0, "false cut"},
        {"{\"a\":NaN}", 0, 0, "NaN"},
        {"{\"a\":Infinity}", 0, 0, "Infinity"},
        {"{\"a\":-Infinity}", 0, 0, "-Infinity"},
        /* Numbers. */
        {"{\"a\":0,\"b\":-0,\"c\":0.5,\"d\":-1.25e+10,\"e\":1E5,\"f\":1e-0,\"g\":10}", 0, 1,
         "numbers of every form"},
        {"{\"a\":123456789012345678901234567890e123456789}", 0, 1, "a number of any size"},
        {"{\"a\":01}", 0, 0, "a leading zero"},
        {"{\"a\":-01}", 0, 0, "a leading zero after the sign"},
        {"{\"a\":-}", 0, 0, "a sign alone"},
        {"{\"a\":+1}", 0, 0, "a plus sign"},
        {"{\"a\":1.}", 0, 0, "a point without digits"},
        {"{\"a\":.5}", 0, 0, "a point without an integer part"},
        {"{\"a\":1e}", 0, 0, "an exponent without digits"},
        {"{\"a\":1e+}", 0, 0, "an exponent sign without digits"},
        {"{\"a\":1.5.2}", 0, 0, "two points"},
        {"{\"a\":0x10}", 0, 0, "hexadecimal"},
        {"{\"a\":1 2}", 0, 0, "two numbers"},
        {"{\"a\":- 1}", 0, 0, "a space after the sign"},
        /* Strings and escapes. */
        {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 0, 1, "every one-character escape"},
        {"{\"a\":\"\\u00e9\\uABCD\\uabcd\\uFfEe\\u0000\"}", 0, 1,
         "\\u escapes, either case, U+0000"},
        {"{\"a\":\"it's\"}", 0, 1, "a single quote in a string"},
        {"{\"a\":\"\\ud800\"}", 0, 1, "a lone surrogate escape (RFC 8259 syntax allows it)"},
        {"{\"a\":\"\x7f\"}", 0, 1, "DEL is not a control character to JSON"},
        {"{\"a\":\"\\x41\"}", 0, 0, "an unknown escape"},
        {"{\"a\":\"\\U0041\"}", 0, 0, "a capital U escape"},
        {"{\"a\":\"\\u12\"}", 0, 0, "a \\u escape with two digits"},
        {"{\"a\":\"\\u12G4\"}", 0, 0, "a \\u escape with a non-hex digit"},
        {"{\"a\":\"\\'\"}", 0, 0, "an escaped single quote"},
        {"{\"a\":\"\x01\"}", 0, 0, "U+0001 raw in a string"},
        {"{\"a\":\"\x1f\"}", 0, 0, "U+001F raw in a string"},
        {"{\"a\":\"\t\"}", 0, 0, "a raw tab in a string"},
        {"{\"a\":\"\n\"}", 0, 0, "a raw newline in a string"},
        {"{\"a\":\"abc", 0, 0, "a string not closed"},
        {"{\"a\":\"\\", 0, 0, "a string ending in a backslash"},
        {"{\"a\":\"\\\"}", 0, 0, "the closing quote escaped"},
        /* NUL bytes. */
        {L("{\"a\":\"\0\"}"), 0, "a NUL in a string"},
        {L("{}\0"), 0, "a NUL after the object"},
        {L("\0{}"), 0, "a NUL before the object"},
        /* UTF-8: every boundary of RFC 3629's table. */
        {"{\"a\":\"\xc2\x80\xdf\xbf\"}", 0, 1, "U+0080 and U+07FF"},
        {"{\"a\":\"\xe0\xa0\x80\xed\x9f\xbf\"}", 0, 1, "U+0800 and U+D7FF"},
        {"{\"a\":\"\xee\x80\x80\xef\xbf\xbf\"}", 0, 1, "U+E000 and U+FFFF"},
        {"{\"a\":\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}", 0, 1, "U+10000 and U+10FFFF"},
        {"{\"a\":\"\xe1\x80\x80\xec\xbf\xbf\xf1\x80\x80\x80\xf3\xbf\xbf\xbf\"}", 0, 1,
         "the ordinary three- and four-byte leads"},
        {"{\"\xc3\xa9\":1}", 0, 1, "UTF-8 in a key"},
        {"{\"a\":\"\xc0\xaf\"}", 0, 0, "an overlong '/' (C0)"},
        {"{\"a\":\"\xc1\xbf\"}", 0, 0, "an overlong two-byte form (C1)"},
        {"{\"a\":\"\xe0\x80\x80\"}", 0, 0, "an overlong three-byte U+0000"},
        {"{\"a\":\"\xe0\x9f\xbf\"}", 0, 0, "an overlong U+07FF"},
        {"{\"a\":\"\xf0\x8f\xbf\xbf\"}", 0, 0, "an overlong U+FFFF"},
        {"{\"a\":\"\xed\xa0\x80\"}", 0, 0, "U+D800, an encoded surrogate"},
        {"{\"a\":\"\xed\xbf\xbf\"}", 0, 0, "U+DFFF, an encoded surrogate"},
        {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, 0, "U+110000, past Unicode"},
        {"{\"a\":\"\xf5\x80\x80\x80\"}", 0, 0, "an F5 lead"},
        {"{\"a\":\"\xff\"}", 0, 0, "an FF byte"},
        {"{\"a\":\"\xfe\"}", 0, 0, "an FE byte"},
        {"{\"a\":\"\x80\"}", 0, 0, "a lone continuation byte"},
        {"{\"a\":\"\xbf\"}", 0, 0, "the last continuation byte alone"},
        {"{\"a\":\"\xc2\"}", 0, 0, "a two-byte lead before a quote"},
        {"{\"a\":\"\xe1\x80\"}", 0, 0, "a three-byte sequence cut"},
        {"{\"a\":\"\xf0\x90\x80\"}", 0, 0, "a four-byte sequence cut"},
        {"{\"a\":\"\xe1\xc0\x80\"}", 0, 0, "a lead where a continuation belongs"},
        {"{\"a\":\"\xf1\x80\x80\x7f\"}", 0, 0, "ASCII where the last continuation belongs"},
        {"{\"a\":\"\xc2\xc0\"}", 0, 0, "a two-byte lead before a C0 byte"},
        {"{\"a\":1}\xc2", 0, 0, "a lead byte cut by the end of the text"},
        {"{\"a\":1}\xf0\x90\x80", 0, 0, "a four-byte sequence cut by the end of the text"},
        {"{\"a\":1}\x80", 0, 0, "a continuation byte after the object"},
        /* Cut by the length: each one ends exactly where its buffer does. */
        {"{\"a\":tr", 0, 0, "a word cut by the end"},
        {"{\"a\":1e", 0, 0, "an exponent cut by the end"},
        {"{\"a\":-", 0, 0, "a sign cut by the end"},
        {"{\"a\":0.", 0, 0, "a fraction cut by the end"},
        {"{\"a\":\"\\u00", 0, 0, "a \\u escape cut by the end"},
        {"{\"a\":\"\\u123", 0, 0, "a \\u escape cut by the end after three digits"},
        {"{\"a\":\"\\", 0, 0, "an escape cut by the end"},
        {"{\"a\"", 0, 0, "a key cut by the end"},
        {"{\"a\":", 0, 0, "a value cut by the end"},
        {"{\"a\":[", 0, 0, "an array cut by the end"},
        {"{\"a\":1", 0, 0, "a member cut by the end"},
        {"{\"a\":1,", 0, 0, "a comma cut by the end"},
        {"{}garbage", 2, 1, "the bytes after the length are not looked at"},
        {"{\"a\":1}", 6, 0, "and the length is what is validated"},
        {L("{\"a\":\"\xe1\x80\x80\""), 0, "a text cut after a string by its length"},
};

/* `depth` nested containers, an object outside and arrays in it: "{"a":[[...]]}". */
static char *nested(int depth)
{
	size_t n = (size_t)depth * 2 + 8;
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t k = 0;
	k += (size_t)sprintf(s, "{\"a\":");
	for (int i = 1; i < depth; i++)
		s[k++] = '[';
	for (int i = 1; i < depth; i++)
		s[k++] = ']';
	if (depth == 1) /* no arrays: the object alone */
		k = (size_t)sprintf(s, "{}");
	else
		s[k++] = '}';
	s[k] = '\0';
	return s;
}

/* dlreg__json_valid over a copy in a buffer of exactly len bytes. */
static int valid_exact(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);
	if (!copy) {
		fprintf(stderr, "test_scan_json: out of memory\n");
		exit(1);
	}
	memcpy(copy, text, len);
	int v = dlreg__json_valid(copy, len);
	free(copy);
	return v;
}

static void check_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct json_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		int v = valid_exact(c->text, len);
		CHECK(v == c->valid, "%s: %s, not %s", c->why, v ? "valid" : "invalid",
		      c->valid ? "valid" : "invalid");
	}
}

static void check_depth(void)
{
	static const struct {
		int depth, valid;
	} d[] = {{1, 1}, {2, 1}, {63, 1}, {64, 1}, {65, 0}, {100, 0}, {100000, 0}};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		char *s = nested(d[i].depth);
		CHECK(s != NULL, "allocate %d levels", d[i].depth);
		if (!s)
			continue;
		int v = valid_exact(s, strlen(s));
		CHECK(v == d[i].valid, "%d nested containers: %s, not %s", d[i].depth,
		      v ? "valid" : "invalid", d[i].valid ? "valid" : "invalid");
		free(s);
	}
	/* The bound counts objects too, not only arrays: 65 objects. */
	char obj[65 * 7 + 1];
	size_t k = 0;
	for (int i = 0; i < 64; i++)
		k += (size_t)sprintf(obj + k, "{\"a\":");
	k += (size_t)sprintf(obj + k, "{}");
	for (int i = 0; i < 64; i++)
		obj[k++] = '}';
	CHECK(!valid_exact(obj, k), "65 nested objects: valid, not invalid");
	/* 64 objects: drop the innermost "{}" and one '}'. */
	char obj64[65 * 7 + 1];
	size_t m = 0;
	for (int i = 0; i < 63; i++)
		m += (size_t)sprintf(obj64 + m, "{\"a\":");
	m += (size_t)sprintf(obj64 + m, "{}");
	for (int i = 0; i < 63; i++)
		obj64[m++] = '}';
	CHECK(valid_exact(obj64, m), "64 nested objects: invalid, not valid");
}

/* Records from stdin: u32 little-endian length, bytes; one verdict each. */
static int run_stdin(void)
{
	unsigned char h[4];
	size_t n = 0;
	while (fread(h, 1, 4, stdin) == 4) {
		uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
		               (uint32_t)h[3] << 24;
		if (len > (1u << 24)) {
			fprintf(stderr, "test_scan_json: record %zu: length %u above 16 MiB\n", n,
			        len);
			return 1;
		}
		char *buf = malloc(len ? len : 1);
		if (!buf || fread(buf, 1, len, stdin) != len) {
			fprintf(stderr, "test_scan_json: record %zu: %s\n", n,
			        buf ? "cut short" : "out of memory");
			free(buf);
			return 1;
		}
		putchar(dlreg__json_valid(buf, len) ? '1' : '0');
		free(buf);
		n++;
	}
	if (ferror(stdin)) {
		perror("test_scan_json: stdin");
		return 1;
	}
	putchar('\n');
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const char usage[] =
	        "usage: test_scan_json [--stdin]\n\n"
	        "Checks the metadata validator (strict UTF-8, one RFC 8259 object, at most\n"
	        "64 nested containers) on a table of texts that must pass or fail, each in a\n"
	        "buffer of exactly its length.  --stdin: one verdict ('0' or '1') for each\n"
	        "record on stdin (a 4-byte little-endian length, then the bytes), for\n"
	        "test_scan_json_diff.py.\n";
	if (argc == 2 && strcmp(argv[1], "--stdin") == 0)
		return run_stdin();
	int rc = check_no_args(argc, argv, usage);
	if (rc >= 0)
		return rc;
	check_table();
	check_depth();
	return check_report("test_scan_json");
}
