/* storm_mix.c - operation names, default weights, parsing and choosing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storm_mix.h"

struct op_row {
	const char *name;
	unsigned default_weight;
};

/* Reads dominate, like a plugin host's steady state; churn stays rare. */
static const struct op_row op_rows[STORM_OP_COUNT] = {
        [STORM_OP_OPEN] = {"open", 10},
        [STORM_OP_CLOSE] = {"close", 10},
        [STORM_OP_READ] = {"read", 45},
        [STORM_OP_CALL] = {"call", 15},
        [STORM_OP_ACQUIRE] = {"acquire", 6},
        [STORM_OP_REOPEN] = {"reopen", 4},
        [STORM_OP_SCAN] = {"scan", 5},
        [STORM_OP_CHURN] = {"churn", 2},
        [STORM_OP_PINNED_READ] = {"pinned_read", 3},
        [STORM_OP_LOCKED_READ] = {"locked_read", 0},
};

const char *storm_op_name(enum storm_op op)
{
	return (unsigned)op < STORM_OP_COUNT ? op_rows[op].name : "?";
}

void storm_mix_finish(struct storm_mix *mix)
{
	uint64_t sum = 0;

	for (int i = 0; i < STORM_OP_COUNT; i++) {
		sum += mix->weight[i];
		mix->cumulative[i] = sum;
	}
	mix->total = sum;
}

void storm_mix_default(struct storm_mix *mix)
{
	for (int i = 0; i < STORM_OP_COUNT; i++)
		mix->weight[i] = op_rows[i].default_weight;
	storm_mix_finish(mix);
}

static int op_lookup(const char *name, size_t len)
{
	for (int i = 0; i < STORM_OP_COUNT; i++)
		if (strlen(op_rows[i].name) == len && memcmp(op_rows[i].name, name, len) == 0)
			return i;
	return -1;
}

static int mix_parse_item(const char *item, size_t len, struct storm_mix *mix, unsigned *seen,
                          char *err, size_t errlen)
{
	const char *eq = memchr(item, '=', len);
	unsigned long w;
	char num[24], *end;
	int op;

	if (!eq) {
		snprintf(err, errlen, "mix item '%.*s' is not NAME=WEIGHT", (int)len, item);
		return -1;
	}
	op = op_lookup(item, (size_t)(eq - item));
	if (op < 0) {
		snprintf(err, errlen, "unknown operation '%.*s' in mix", (int)(eq - item), item);
		return -1;
	}
	if (*seen & (1u << op)) {
		snprintf(err, errlen, "operation '%s' appears twice in the mix", op_rows[op].name);
		return -1;
	}
	*seen |= 1u << op;
	len -= (size_t)(eq - item) + 1;
	if (len == 0 || len >= sizeof(num)) {
		snprintf(err, errlen, "bad weight for '%s' in mix", op_rows[op].name);
		return -1;
	}
	memcpy(num, eq + 1, len);
	num[len] = '\0';
	errno = 0;
	w = strtoul(num, &end, 10);
	/* Plain decimal, like every other number: strtoul would take "+5", " 5". */
	if (errno || *end || num[0] < '0' || num[0] > '9' || w > 1000000ul) {
		snprintf(err, errlen, "bad weight '%s' for '%s' (0..1000000)", num,
		         op_rows[op].name);
		return -1;
	}
	mix->weight[op] = (unsigned)w;
	return 0;
}

int storm_mix_parse(const char *text, struct storm_mix *mix, char *err, size_t errlen)
{
	const char *p = text;
	unsigned seen = 0;

	memset(mix, 0, sizeof(*mix));
	while (*p) {
		size_t len = strcspn(p, ",");

		if (mix_parse_item(p, len, mix, &seen, err, errlen) != 0)
			return -1;
		p += len;
		if (*p == ',')
			p++;
	}
	storm_mix_finish(mix);
	if (mix->total == 0) {
		snprintf(err, errlen, "mix '%s' has no operation with a weight above 0", text);
		return -1;
	}
	return 0;
}

enum storm_op storm_mix_pick(const struct storm_mix *mix, uint64_t r)
{
	uint64_t x = r % mix->total;
	int op = 0;

	while (x >= mix->cumulative[op])
		op++;
	return (enum storm_op)op;
}

void storm_mix_format(const struct storm_mix *mix, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < STORM_OP_COUNT && used < len; i++) {
		int n;

		if (!mix->weight[i])
			continue;
		n = snprintf(buf + used, len - used, "%s%s=%u", used ? "," : "", op_rows[i].name,
		             mix->weight[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
