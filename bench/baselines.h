/*
 * baselines.h - two registries the benchmarks measure dlreg against, behind
 * the same operations table as every other variant (variant.h).
 *
 * "dlopen": no registry at all.  read_sym is dlopen + dlsym + dlclose on a
 * library that is already loaded, which is what code without a registry
 * does per lookup; open/close are dlopen/dlclose.
 *
 * "unsync": a plain open-addressing table path -> entry -> cached symbols,
 * with no synchronisation at all: each lookup hashes both strings and
 * compares them, the floor for any safe design that does as much.  (dlreg's
 * memo of string addresses skips the hashing when the caller passes the
 * same strings again, and so runs below this floor in read_sym; the
 * read_sym_copies benchmark takes that away.)  NOT thread-safe for writers:
 * open/close/a symbol miss may only run while no other thread uses the
 * table.  The benchmarks fill it before their threads start and then only
 * read (hits, which write nothing).
 */
#ifndef DLREG_BENCH_BASELINES_H
#define DLREG_BENCH_BASELINES_H

#include "variant.h"

extern const struct dlreg_variant_ops dlreg_bench_dlopen_ops;
extern const struct dlreg_variant_ops dlreg_bench_unsync_ops;

#endif
