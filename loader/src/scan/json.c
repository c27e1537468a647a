/*
 * json.c - decides whether candidate metadata is real: strict UTF-8 and one
 * RFC 8259 JSON object, nothing else.  This is what separates the genuine
 * marker from stale or partial copies of it (debug data, string tables).
 * Validation only; nothing is decoded.  Nesting is bounded so hostile input
 * cannot exhaust the stack.
 */
#include <stddef.h>

#include "scan_internal.h"

#define JSON_MAX_DEPTH 64

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c >= 0x01 && c < 0x80)
		return 1;
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t k = utf8_seq(s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

struct cursor {
	const unsigned char *p;
	const unsigned char *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int is_hex(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static int parse_escape(struct cursor *c)
{
	if (c->p >= c->end)
		return 0;
	unsigned char e = *c->p++;
	if (e != 'u')
		return e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
		       e == 'r' || e == 't';
	if (c->end - c->p < 4)
		return 0;
	for (int i = 0; i < 4; i++)
		if (!is_hex(c->p[i]))
			return 0;
	c->p += 4;
	return 1;
}

static int parse_string(struct cursor *c)
{
	c->p++; /* opening quote */
	while (c->p < c->end) {
		unsigned char ch = *c->p++;
		if (ch == '"')
			return 1;
		if (ch < 0x20)
			return 0;
		if (ch == '\\' && !parse_escape(c))
			return 0;
	}
	return 0;
}

static int parse_digits(struct cursor *c)
{
	const unsigned char *start = c->p;
	while (c->p < c->end && is_digit(*c->p))
		c->p++;
	return c->p > start;
}

static int parse_number(struct cursor *c)
{
	if (*c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!parse_digits(c))
		return 0;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!parse_digits(c))
			return 0;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!parse_digits(c))
			return 0;
	}
	return 1;
}

static int parse_word(struct cursor *c, const char *w)
{
	for (; *w; w++, c->p++)
		if (c->p >= c->end || *c->p != (unsigned char)*w)
			return 0;
	return 1;
}

static int parse_value(struct cursor *c, int depth);

/* Object or array; `close` is '}' or ']'. */
static int parse_container(struct cursor *c, int depth, unsigned char close)
{
	if (depth >= JSON_MAX_DEPTH)
		return 0;
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 1;
	}
	for (;;) {
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"' || !parse_string(c))
				return 0;
			skip_ws(c);
			if (c->p >= c->end || *c->p++ != ':')
				return 0;
		}
		if (!parse_value(c, depth + 1))
			return 0;
		skip_ws(c);
		if (c->p >= c->end)
			return 0;
		unsigned char ch = *c->p++;
		if (ch == close)
			return 1;
		if (ch != ',')
			return 0;
		skip_ws(c);
	}
}

static int parse_value(struct cursor *c, int depth)
{
	skip_ws(c);
	if (c->p >= c->end)
		return 0;
	switch (*c->p) {
	case '{':
		return parse_container(c, depth, '}');
	case '[':
		return parse_container(c, depth, ']');
	case '"':
		return parse_string(c);
	case 't':
		return parse_word(c, "true");
	case 'f':
		return parse_word(c, "false");
	case 'n':
		return parse_word(c, "null");
	default:
		if (*c->p == '-' || is_digit(*c->p))
			return parse_number(c);
		return 0;
	}
}

int dlreg__json_valid(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	if (!utf8_valid(s, len))
		return 0;
	struct cursor c = {s, s + len};
	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{' || !parse_value(&c, 0))
		return 0;
	skip_ws(&c);
	return c.p == c.end;
}
