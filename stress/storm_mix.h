/*
 * storm_mix.h - the operations a storm thread chooses from, and their mix.
 *
 * Every operation the driver can run has one entry here (name, default
 * weight, whether it needs something the build or the run may lack);
 * adding an operation means one enum value, one row in storm_mix.c and one
 * case in storm_ops.c.
 */
#ifndef DLREG_STORM_MIX_H
#define DLREG_STORM_MIX_H

#include <stddef.h>
#include <stdint.h>

enum storm_op {
	STORM_OP_OPEN,        /* open a plugin (default hints), keep the handle */
	STORM_OP_CLOSE,       /* close one of this thread's handles */
	STORM_OP_READ,        /* section: read_sym + call + checks */
	STORM_OP_CALL,        /* cached symbols through a held handle, full check */
	STORM_OP_ACQUIRE,     /* section: lookup + acquire a reference */
	STORM_OP_REOPEN,      /* open again with other hints */
	STORM_OP_SCAN,        /* metadata scan of a plugin or a churned copy */
	STORM_OP_CHURN,       /* replace / truncate / restore a private copy */
	STORM_OP_PINNED_READ, /* read of a library pinned for the whole run */
	STORM_OP_LOCKED_READ, /* pinned read while holding the fixtures' user mutex */
	STORM_OP_COUNT
};

struct storm_mix {
	unsigned weight[STORM_OP_COUNT];
	uint64_t cumulative[STORM_OP_COUNT];
	uint64_t total;
};

const char *storm_op_name(enum storm_op op);

/* The default mix (every operation the build supports). */
void storm_mix_default(struct storm_mix *mix);

/*
 * Parses "open=W,close=W,...": listed operations get their weight, the
 * others 0.  0 on success; -1 with a message in err otherwise (unknown
 * name, an operation listed twice, bad number, all weights zero).
 */
int storm_mix_parse(const char *text, struct storm_mix *mix, char *err, size_t errlen);

/* Recomputes the cumulative weights; call after changing weights by hand. */
void storm_mix_finish(struct storm_mix *mix);

/* The operation a 64-bit random value selects (total must be > 0). */
enum storm_op storm_mix_pick(const struct storm_mix *mix, uint64_t r);

/* "open=10,close=10,..." (non-zero weights only). */
void storm_mix_format(const struct storm_mix *mix, char *buf, size_t len);

#endif
