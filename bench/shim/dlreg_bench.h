/*
 * dlreg_bench.h - Google Benchmark from C.
 *
 * benchmark::State and benchmark::internal::Benchmark are hidden behind the
 * opaque handles dlreg_bench_state_t and dlreg_bench_t, so every benchmark
 * in this repository is written in C and only shim.cc is C++.  A program:
 *
 *     if (dlreg_bench_initialize(&argc, argv, usage) != 0)  -- bad flag: exit 2
 *     ...parse its own remaining flags...
 *     b = dlreg_bench_register("name", body, data);
 *     b = dlreg_bench_threads(b, 2);   -- builders return b, or NULL on failure
 *     if (!b) ...
 *     ran = dlreg_bench_run();    -- 0: nothing matched --benchmark_filter,
 *                                 -- DLREG_BENCH_RUN_FAILED: the run failed
 *     dlreg_bench_shutdown();
 *
 * Benchmark loop.  The plain loop costs one out-of-line call per iteration
 * (about 1.2 ns here), which distorts bodies under ~100 ns; use the batch
 * loop for those:
 *
 *     size_t n;
 *     while (dlreg_bench_keep_running_batch(st, &n))
 *             for (size_t i = 0; i < n; i++)
 *                     body();
 *
 * Batch semantics: each call grants n iterations, 1 <= n <=
 * DLREG_BENCH_BATCH_MAX, and never more than the run has left, so the body
 * executes exactly as many times as Google Benchmark planned for the run
 * (State::max_iterations) and the reported "iterations" equals the number
 * of body executions.  (State::KeepRunningBatch alone may overshoot by up to
 * one batch; the shim asks it for min(remaining, DLREG_BENCH_BATCH_MAX).)
 * Timing covers the whole loop, not each batch, so the batch size does not
 * change what is measured, only how often the shim is called.  A body that
 * stops early (skip with error) must leave the loop itself.
 *
 * Setup/Teardown/ComputeStatistics.  Google Benchmark 1.7.1 accepts only
 * plain function pointers for these (no user data, and the State passed to
 * Setup does not name the benchmark).  The shim therefore keeps a fixed
 * table of DLREG_BENCH_CALLBACK_SLOTS slots per kind; slot i is served by a
 * distinct function instantiated from a C++ template with i compiled in, so
 * the trampoline finds its (callback, data) pair without looking at the
 * State at all.  A family holds at most one setup slot and one teardown
 * slot: its first dlreg_bench_setup claims one, and a later call replaces
 * the callback in that same slot (the last call wins, as with Google's
 * Setup), so replacing never uses up the table.  Each
 * dlreg_bench_compute_statistics adds a statistic (Google Benchmark reports
 * them all) and claims a slot of its own.  When a call needs a new slot and
 * every slot of that kind is taken it fails with DLREG_BENCH_ENOSPC and
 * leaves the family as it was.  Slots are never freed (benchmarks live
 * until exit); they are written under a mutex and read during
 * dlreg_bench_run, so set and replace callbacks before the run.
 *
 * Threads.  With Threads(k) the body runs on k threads at once, each with
 * its own state; counters set on each thread are summed unless flagged
 * AVG_THREADS.  Setup and teardown run once per run, on the main thread,
 * before the threads start and after they end.
 */
#ifndef DLREG_BENCH_H
#define DLREG_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlreg_bench_state dlreg_bench_state_t; /* a benchmark::State */
typedef struct dlreg_bench dlreg_bench_t;             /* a registered benchmark family */

/* Body of a benchmark; runs once per run per thread. */
typedef void dlreg_bench_fn(dlreg_bench_state_t *st, void *data);
/* Setup or teardown; only the const accessors may be used on st. */
typedef void dlreg_bench_hook_fn(const dlreg_bench_state_t *st, void *data);
/* Custom statistic over one value per repetition. */
typedef double dlreg_bench_stat_fn(const double *values, size_t n, void *data);

#define DLREG_BENCH_BATCH_MAX 1024u
#define DLREG_BENCH_CALLBACK_SLOTS 64u
/*
 * The most repetitions, per family (dlreg_bench_repetitions) or for all
 * (--benchmark_repetitions): Google Benchmark plans every repetition of
 * every benchmark up front, so a huge count fails on allocation.
 */
#define DLREG_BENCH_REPETITIONS_MAX 100000
/* What dlreg_bench_run returns when the run failed. */
#define DLREG_BENCH_RUN_FAILED SIZE_MAX

/* Error values of the int-returning calls (0 is success). */
enum dlreg_bench_err {
	DLREG_BENCH_OK = 0,
	DLREG_BENCH_EINVAL = 1, /* NULL handle or argument outside its contract */
	DLREG_BENCH_ENOSPC = 2, /* all callback slots of that kind are taken */
	DLREG_BENCH_ENOMEM = 3, /* allocation failed */
	DLREG_BENCH_EIO = 4,    /* a write failed (dlreg_bench_stdout_check) */
};

enum dlreg_bench_unit { DLREG_BENCH_NS, DLREG_BENCH_US, DLREG_BENCH_MS, DLREG_BENCH_S };

enum dlreg_bench_stat_unit { DLREG_BENCH_STAT_TIME, DLREG_BENCH_STAT_PERCENTAGE };

/* Counter flags; combine with |.  They map one to one onto benchmark::Counter. */
enum dlreg_bench_counter_flag {
	DLREG_BENCH_COUNTER_DEFAULT = 0,
	DLREG_BENCH_COUNTER_RATE = 1 << 0,                /* reported as value / seconds */
	DLREG_BENCH_COUNTER_AVG_THREADS = 1 << 1,         /* divided by the thread count */
	DLREG_BENCH_COUNTER_ITERATION_INVARIANT = 1 << 2, /* multiplied by iterations */
	DLREG_BENCH_COUNTER_AVG_ITERATIONS = 1 << 3,      /* divided by iterations */
	DLREG_BENCH_COUNTER_INVERT = 1 << 4,              /* reported as 1 / value */
	DLREG_BENCH_COUNTER_BASE_1024 = 1 << 5,           /* console shows Ki/Mi, not k/M */
};

/*
 * Parses and removes Google Benchmark's --benchmark_* flags from argv and
 * handles -h and --help (prints `help`, or Google's help if NULL, and exits
 * 0).  Returns 0, or DLREG_BENCH_EINVAL after printing one line to stderr
 * when a flag value is invalid, before Google Benchmark sees it (it would
 * abort, exit 0, or leave the flag in argv): --benchmark_repetitions must
 * be in 1..DLREG_BENCH_REPETITIONS_MAX, --benchmark_min_time a number of
 * seconds above 0,
 * --benchmark_filter a valid regular expression, --benchmark_out a writable
 * file, and the time unit, formats, color and context well formed (each
 * --benchmark_context key once, and none of the keys Google Benchmark
 * writes itself, listed at dlreg_bench_context_add).  DLREG_BENCH_ENOMEM
 * when it cannot allocate (Google Benchmark's own parsing included).
 */
int dlreg_bench_initialize(int *argc, char **argv, void (*help)(void));
/* Google Benchmark's own flag summary, for a program's usage text. */
void dlreg_bench_print_default_help(void);
/*
 * Runs every benchmark that matches --benchmark_filter; returns how many
 * (with --benchmark_list_tests, how many were listed).  0 means nothing
 * matched the filter: Google Benchmark has printed why, and the program
 * should fail.  DLREG_BENCH_RUN_FAILED means the run stopped on an error
 * Google Benchmark raised as a C++ exception (an allocation or the start of
 * a benchmark thread failed): one line on stderr, "PROG: benchmark run
 * failed: REASON", names it; the benchmarks after it did not run and the
 * reports are cut short, so the program should fail.  It is also what a
 * run returns whose --benchmark_out report could not be written (a full
 * disk): "PROG: cannot write --benchmark_out FILE: REASON".  An error on one of
 * the extra threads of a Threads(k) run, or on the main thread once one of
 * them has started, cannot be caught (Google Benchmark runs them without a
 * handler, and cannot unwind past a running thread): it still ends the
 * program in std::terminate.
 */
size_t dlreg_bench_run(void);
void dlreg_bench_shutdown(void);
/*
 * Flushes stdout and reports a failed write to it (a full disk, a closed
 * pipe) on stderr as "PROG: cannot write to stdout: ...": 0 when fine,
 * DLREG_BENCH_EIO otherwise.  Call last, so a lost report fails the run.
 */
int dlreg_bench_stdout_check(const char *prog);
/*
 * Adds key=value to the report's "context" object; call after
 * dlreg_bench_initialize and before run.  DLREG_BENCH_EINVAL for a key
 * already added, here or by --benchmark_context (then with one line on
 * stderr naming the key: Google Benchmark would report the flag's value),
 * or one Google Benchmark writes itself (date, host_name, executable,
 * num_cpus, mhz_per_cpu, cpu_scaling_enabled, caches, load_avg,
 * library_build_type).
 */
int dlreg_bench_context_add(const char *key, const char *value);

/* Registers fn(st, data) under `name`; NULL on failure.  `name` is copied. */
dlreg_bench_t *dlreg_bench_register(const char *name, dlreg_bench_fn *fn, void *data);

/*
 * Builders.  Each returns b, or NULL if b is NULL (or not a handle from
 * dlreg_bench_register) or the call breaks a contract Google Benchmark
 * would otherwise enforce by aborting; so a chain of builders needs one
 * NULL check at the end.  Besides each argument's own range, calls must
 * agree with each other: every argument list (arg, args, range, ranges,
 * dense_range) has the same length, and arg_name/arg_names name that many;
 * iterations excludes min_time and min_warmup_time (of 0 s: only an
 * earlier iterations call), and use_real_time excludes use_manual_time.
 * repetitions takes 1..DLREG_BENCH_REPETITIONS_MAX, the range of
 * --benchmark_repetitions.
 * range and ranges take negative bounds.  ranges takes n {lo, hi} pairs:
 * declare the array const (before C2x, gcc's -Wpedantic refuses passing a
 * non-const int64_t[][2] here without a cast).
 */
dlreg_bench_t *dlreg_bench_arg(dlreg_bench_t *b, int64_t x);
dlreg_bench_t *dlreg_bench_args(dlreg_bench_t *b, const int64_t *args, size_t n);
dlreg_bench_t *dlreg_bench_range(dlreg_bench_t *b, int64_t lo, int64_t hi);
dlreg_bench_t *dlreg_bench_range_multiplier(dlreg_bench_t *b, int multiplier);
dlreg_bench_t *dlreg_bench_ranges(dlreg_bench_t *b, const int64_t (*lo_hi)[2], size_t n);
dlreg_bench_t *dlreg_bench_dense_range(dlreg_bench_t *b, int64_t lo, int64_t hi, int step);
dlreg_bench_t *dlreg_bench_arg_name(dlreg_bench_t *b, const char *name);
dlreg_bench_t *dlreg_bench_arg_names(dlreg_bench_t *b, const char *const *names, size_t n);
dlreg_bench_t *dlreg_bench_threads(dlreg_bench_t *b, int threads);
dlreg_bench_t *dlreg_bench_thread_range(dlreg_bench_t *b, int min_threads, int max_threads);
dlreg_bench_t *dlreg_bench_use_real_time(dlreg_bench_t *b);
dlreg_bench_t *dlreg_bench_use_manual_time(dlreg_bench_t *b);
dlreg_bench_t *dlreg_bench_measure_process_cpu_time(dlreg_bench_t *b);
dlreg_bench_t *dlreg_bench_min_time(dlreg_bench_t *b, double seconds);
dlreg_bench_t *dlreg_bench_min_warmup_time(dlreg_bench_t *b, double seconds);
dlreg_bench_t *dlreg_bench_iterations(dlreg_bench_t *b, int64_t n);
dlreg_bench_t *dlreg_bench_repetitions(dlreg_bench_t *b, int n);
dlreg_bench_t *dlreg_bench_report_aggregates_only(dlreg_bench_t *b, bool only);
dlreg_bench_t *dlreg_bench_display_aggregates_only(dlreg_bench_t *b, bool only);
dlreg_bench_t *dlreg_bench_unit(dlreg_bench_t *b, enum dlreg_bench_unit unit);

/*
 * Callbacks routed through the slot table described above: 0,
 * DLREG_BENCH_EINVAL (a NULL or unknown handle, a NULL fn, a NULL or empty
 * statistic name, an unknown unit), DLREG_BENCH_ENOSPC (no slot left for a
 * new callback) or, from compute_statistics, DLREG_BENCH_ENOMEM.  A second
 * setup (or teardown) on a family replaces the first, in the slot the
 * family already holds.
 */
int dlreg_bench_setup(dlreg_bench_t *b, dlreg_bench_hook_fn *fn, void *data);
int dlreg_bench_teardown(dlreg_bench_t *b, dlreg_bench_hook_fn *fn, void *data);
int dlreg_bench_compute_statistics(dlreg_bench_t *b, const char *name, dlreg_bench_stat_fn *fn,
                                   void *data, enum dlreg_bench_stat_unit unit);

/*
 * Inside a body.  If Google Benchmark fails inside keep_running,
 * keep_running_batch, pause_timing or resume_timing (an allocation while
 * it reads --benchmark_perf_counters, say), the call fails the run with the
 * error's message, as skip_with_error does, instead of throwing into C:
 * the keep_running calls then return false, and after a pause or resume
 * the loop ends at its next check.
 */
bool dlreg_bench_keep_running(dlreg_bench_state_t *st);
bool dlreg_bench_keep_running_batch(dlreg_bench_state_t *st, size_t *n);
/*
 * Pausing stops the run's timer until resume; after skip_with_error both
 * do nothing (the run is discarded).  Only inside the loop: pausing before
 * the first keep_running, or leaving the loop paused, breaks Google
 * Benchmark's contract (Debian's library checks it and aborts).
 */
void dlreg_bench_pause_timing(dlreg_bench_state_t *st);
void dlreg_bench_resume_timing(dlreg_bench_state_t *st);
/* Marks the run failed with `msg`; the loop then ends at its next check. */
void dlreg_bench_skip_with_error(dlreg_bench_state_t *st, const char *msg);
bool dlreg_bench_error_occurred(const dlreg_bench_state_t *st);
/*
 * How many times a run was marked failed in this process (skip_with_error,
 * from a body or from the shim on a failure inside the loop), on any
 * thread.  After dlreg_bench_run: not 0 means some benchmark reported an
 * error (ERROR OCCURRED in the report), and the program should fail.
 */
size_t dlreg_bench_error_count(void);
/* With use_manual_time: the time of the iteration (or batch) just run. */
void dlreg_bench_set_iteration_time(dlreg_bench_state_t *st, double seconds);
/* These three fail the run with "out of memory" if they cannot allocate. */
void dlreg_bench_set_bytes_processed(dlreg_bench_state_t *st, int64_t bytes);
void dlreg_bench_set_items_processed(dlreg_bench_state_t *st, int64_t items);
void dlreg_bench_set_label(dlreg_bench_state_t *st, const char *label);
/* Sets (replaces) a user counter; flags are dlreg_bench_counter_flag bits. */
int dlreg_bench_counter_set(dlreg_bench_state_t *st, const char *name, double value,
                            unsigned flags);
/*
 * Argument i of this run.  Only from the body or a setup/teardown hook of
 * the run that owns st; an i past the family's argument list prints the
 * benchmark's name and aborts (State::range() would read past its vector).
 */
int64_t dlreg_bench_range_get(const dlreg_bench_state_t *st, size_t i);
int dlreg_bench_thread_index(const dlreg_bench_state_t *st);
int dlreg_bench_thread_count(const dlreg_bench_state_t *st);
/*
 * Iterations the loop has granted this thread so far (0 before the loop
 * starts, and in hooks); after skip_with_error, those granted before it
 * (State::iterations() then reports the whole plan).
 */
int64_t dlreg_bench_iterations_done(const dlreg_bench_state_t *st);
/*
 * Iterations planned for this run on this thread (1 in setup and teardown
 * hooks: Google Benchmark hands them a state planned for one).
 */
int64_t dlreg_bench_max_iterations(const dlreg_bench_state_t *st);

/*
 * Optimisation barriers (the same inline asm Google Benchmark uses).
 * DLREG_BENCH_DO_NOT_OPTIMIZE(lvalue): the compiler must assume the value
 * is read and may have been changed, so computing it cannot be elided or
 * hoisted out of the loop.  dlreg_bench_escape(p): memory reachable from p
 * is observable.  dlreg_bench_clobber(): all memory may have been read and
 * written, so pending stores must happen.
 */
#if defined(__clang__)
#define DLREG_BENCH_DO_NOT_OPTIMIZE(lvalue) __asm__ volatile("" : "+r,m"(lvalue) : : "memory")
#else
#define DLREG_BENCH_DO_NOT_OPTIMIZE(lvalue) __asm__ volatile("" : "+m,r"(lvalue) : : "memory")
#endif

static inline void dlreg_bench_escape(const void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static inline void dlreg_bench_clobber(void)
{
	__asm__ volatile("" : : : "memory");
}

#ifdef __cplusplus
}
#endif

#endif /* DLREG_BENCH_H */
