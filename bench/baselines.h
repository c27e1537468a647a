/*
 * baselines.h - two registries the benchmarks measure dlreg against, behind
 * the same operations table as every other variant (variant.h).
 *
 * "dlopen": no registry at all.  read_sym is dlopen + dlsym + dlclose on a
 * library that is already loaded, which is what code without a registry
 * does per lookup; open/close are dlopen/dlclose.
 *
 * "unsync": a plain open-addressing table path -> entry -> cached symbols,
 * the same two lookups dlreg's read side makes, with no synchronisation at
 * all: the lower bound for any safe design.  NOT thread-safe for writers:
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
