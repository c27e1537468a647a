/*
 * corpus.h - hostile and valid inputs for the scanner, built in memory.
 *
 * Each case is a synthetic file plus the result the scanner must give for
 * it.  The same table drives the unit test (every backend), the CLI test
 * (files written by scan-gen-corpus) and the fuzzer's seed corpus.
 */
#ifndef DLREG_TEST_CORPUS_H
#define DLREG_TEST_CORPUS_H

#include <stddef.h>

struct bytes {
	unsigned char *p;
	size_t len;
	size_t cap;
};

struct corpus_case {
	const char *name; /* also the file name; "ok-" cases scan successfully */
	int expect;       /* enum dlreg_err */
	int where;        /* enum dlreg_meta_where for ok cases */
	const char *json; /* expected metadata for ok cases */
	void (*build)(struct bytes *out);
	const char *detail; /* if set, in dlreg_errdetail() of a failing case */
};

extern const struct corpus_case corpus_cases[];
extern const size_t corpus_count;

/* Builds case c into a fresh buffer (free out->p). */
void corpus_build(const struct corpus_case *c, struct bytes *out);

/* Writes every case into dir as a file named after it; 0 on success. */
int corpus_write_all(const char *dir);

#endif
