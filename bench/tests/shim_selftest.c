/*
 * shim_selftest.c - benchmarks that exercise every part of dlreg_bench.h
 * and leave evidence in the JSON report; check_shim.py runs this program
 * and asserts on that evidence.  Each counter below is chosen so that a
 * broken shim call gives a different number, not just a different time.
 */
#define _POSIX_C_SOURCE 200809L
#include "dlreg_bench.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* shim_barrier_peer.c: counted calls the optimiser may drop or merge. */
extern int dlreg_shim_peer_calls;
int dlreg_shim_peer_const(int x) __attribute__((const));
int dlreg_shim_peer_pure(const int *p) __attribute__((pure));

/* Counts body executions exactly; "body_runs" must equal the iterations. */
static void bench_batch(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	size_t n;
	unsigned long runs = 0;
	unsigned long x = 1;
	while (dlreg_bench_keep_running_batch(st, &n)) {
		for (size_t i = 0; i < n; i++) {
			x = x * 6364136223846793005ul + 1442695040888963407ul;
			DLREG_BENCH_DO_NOT_OPTIMIZE(x);
			runs++;
		}
	}
	dlreg_bench_counter_set(st, "body_runs", (double)runs, DLREG_BENCH_COUNTER_DEFAULT);
}

/* The unbatched loop, with a pause/resume pair that must not lose iterations. */
static void bench_single(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	unsigned long runs = 0;
	char buf[64];
	while (dlreg_bench_keep_running(st)) {
		if (runs == 0) {
			dlreg_bench_pause_timing(st);
			memset(buf, 0, sizeof(buf));
			dlreg_bench_resume_timing(st);
		}
		buf[runs % sizeof(buf)]++;
		dlreg_bench_escape(buf);
		dlreg_bench_clobber();
		runs++;
	}
	dlreg_bench_counter_set(st, "body_runs", (double)runs, DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_set_bytes_processed(st, (int64_t)runs * (int64_t)sizeof(buf));
	dlreg_bench_set_items_processed(st, (int64_t)runs);
	dlreg_bench_set_label(st, "single-loop");
}

/* Every counter flag, with values whose reported form is predictable. */
static void bench_counters(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	size_t n;
	while (dlreg_bench_keep_running_batch(st, &n))
		for (size_t i = 0; i < n; i++)
			dlreg_bench_clobber();
	dlreg_bench_counter_set(st, "plain", 1.0, DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_counter_set(st, "avg_threads", 3.0, DLREG_BENCH_COUNTER_AVG_THREADS);
	dlreg_bench_counter_set(st, "invariant", 2.0, DLREG_BENCH_COUNTER_ITERATION_INVARIANT);
	dlreg_bench_counter_set(st, "per_iter", 1000.0, DLREG_BENCH_COUNTER_AVG_ITERATIONS);
	dlreg_bench_counter_set(st, "inverted", 4.0,
	                        DLREG_BENCH_COUNTER_INVERT | DLREG_BENCH_COUNTER_AVG_THREADS);
	dlreg_bench_counter_set(st, "rate", 1.0, DLREG_BENCH_COUNTER_RATE);
	dlreg_bench_counter_set(st, "thread_count", (double)dlreg_bench_thread_count(st),
	                        DLREG_BENCH_COUNTER_AVG_THREADS);
	dlreg_bench_counter_set(st, "index_sum", (double)dlreg_bench_thread_index(st),
	                        DLREG_BENCH_COUNTER_DEFAULT);
	/* The console shows 2k (2048 in base 1024) and 2.048k (check_shim.py looks). */
	dlreg_bench_counter_set(st, "kibi", 2048.0,
	                        DLREG_BENCH_COUNTER_BASE_1024 | DLREG_BENCH_COUNTER_AVG_THREADS);
	dlreg_bench_counter_set(st, "kilo", 2048.0, DLREG_BENCH_COUNTER_AVG_THREADS);
}

/* Arguments reach the body in order: "code" = 10 * range(0) + range(1). */
static void bench_args(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
	double code =
	        10.0 * (double)dlreg_bench_range_get(st, 0) + (double)dlreg_bench_range_get(st, 1);
	dlreg_bench_counter_set(st, "code", code, DLREG_BENCH_COUNTER_AVG_THREADS);
}

static void bench_one_arg(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
	dlreg_bench_counter_set(st, "value", (double)dlreg_bench_range_get(st, 0),
	                        DLREG_BENCH_COUNTER_DEFAULT);
}

/* Manual time: each iteration claims exactly 2 ms. */
static void bench_manual(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_set_iteration_time(st, 0.002);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Each iteration spins 1 ms of wall time timed, then sleeps 5 ms paused:
 * the run reports about 1 ms per iteration.  Without the pause Google's
 * resume restarts the timer, which drops the spin too (about 0 ms); without
 * the resume nothing after the first pause is timed.
 */
static void bench_paused(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	struct timespec ts = {0, 5 * 1000 * 1000};
	while (dlreg_bench_keep_running(st)) {
		double end = now_s() + 1e-3;
		while (now_s() < end)
			dlreg_bench_clobber();
		dlreg_bench_pause_timing(st);
		nanosleep(&ts, NULL);
		dlreg_bench_resume_timing(st);
	}
}

/*
 * Pause, skip and resume in that order (a failed eviction between a pause
 * and a resume, say), then pause and resume again, must end the run with
 * the error, not abort; the
 * iterations the loop granted before the skip are recorded for main.
 */
static atomic_llong skip_done = -1;

static void bench_pause_skip(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	int runs = 0;
	while (dlreg_bench_keep_running(st)) {
		if (++runs == 6) {
			dlreg_bench_pause_timing(st);
			dlreg_bench_skip_with_error(st, "skipped while paused");
			dlreg_bench_resume_timing(st);
			dlreg_bench_pause_timing(st);
			dlreg_bench_resume_timing(st);
			atomic_store(&skip_done, (long long)dlreg_bench_iterations_done(st));
		}
	}
}

/* A body that asks for an argument its family does not have. */
static void bench_range_oob(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
	dlreg_bench_counter_set(st, "second", (double)dlreg_bench_range_get(st, 1),
	                        DLREG_BENCH_COUNTER_DEFAULT);
}

static void bench_noop(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
}

static void bench_error(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	dlreg_bench_skip_with_error(st, "expected failure");
	if (!dlreg_bench_error_occurred(st))
		dlreg_bench_counter_set(st, "error_flag_lost", 1.0, DLREG_BENCH_COUNTER_DEFAULT);
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
}

/* One thread fails mid-run and keeps calling the loop: the run must end. */
static void bench_error_threads(dlreg_bench_state_t *st, void *data)
{
	(void)data;
	size_t n;
	int64_t seen = 0;

	while (dlreg_bench_keep_running_batch(st, &n)) {
		seen += (int64_t)n;
		if (dlreg_bench_thread_index(st) == 1 && seen >= 10)
			dlreg_bench_skip_with_error(st, "thread 1 failed");
	}
}

/*
 * Setup/teardown routing: each registration has its own record; setup arms
 * it with the record's tag and the body consumes it, so a run whose setup
 * did not run, or ran another registration's callback, reports "armed" 0 or
 * the wrong tag.
 */
struct hook_record {
	int tag;
	atomic_int armed;
	atomic_int setups;
	atomic_int teardowns;
};

static void hook_setup(const dlreg_bench_state_t *st, void *data)
{
	struct hook_record *r = data;
	atomic_store(&r->armed, r->tag * 100 + dlreg_bench_thread_count(st));
	atomic_fetch_add(&r->setups, 1);
}

static void hook_teardown(const dlreg_bench_state_t *st, void *data)
{
	(void)st;
	struct hook_record *r = data;
	atomic_fetch_add(&r->teardowns, 1);
}

static void bench_hooked(dlreg_bench_state_t *st, void *data)
{
	struct hook_record *r = data;
	while (dlreg_bench_keep_running(st))
		dlreg_bench_clobber();
	double armed = (double)atomic_load(&r->armed);
	dlreg_bench_counter_set(st, "armed", armed, DLREG_BENCH_COUNTER_AVG_THREADS);
	/* Counts up per repetition only if setup runs before every run. */
	dlreg_bench_counter_set(st, "setups_seen", (double)atomic_load(&r->setups),
	                        DLREG_BENCH_COUNTER_AVG_THREADS);
}

/* Custom statistics: "count" returns n * scale, "max" the largest value. */
static double stat_count(const double *values, size_t n, void *data)
{
	(void)values;
	return (double)n * *(const double *)data;
}

static double stat_max(const double *values, size_t n, void *data)
{
	(void)data;
	double m = n ? values[0] : 0.0;
	for (size_t i = 1; i < n; i++)
		if (values[i] > m)
			m = values[i];
	return m;
}

static void usage(void)
{
	printf("usage: dlreg-bench-shim-selftest [--range-oob | --run-error]\n"
	       "                                 [--benchmark_* flags]\n"
	       "Benchmarks that exercise the C shim; check_shim.py asserts on their JSON.\n"
	       "  --range-oob  only run a benchmark that reads an argument it lacks (aborts)\n"
	       "  --run-error  only run a benchmark whose threads cannot start (fails)\n\n");
	dlreg_bench_print_default_help();
}

static struct hook_record hooks_a = {.tag = 11};
static struct hook_record hooks_b = {.tag = 22};
static struct hook_record hooks_replaced = {.tag = 33};
static struct hook_record hooks_decoy = {.tag = 44};
static struct hook_record hooks_fill = {.tag = 55};
static double count_scale = 1000.0;

static int fail(const char *what)
{
	fprintf(stderr, "dlreg-bench-shim-selftest: %s\n", what);
	return 1;
}

static int register_loops(void)
{
	dlreg_bench_t *b = dlreg_bench_register("shim/batch_exact", bench_batch, NULL);
	b = dlreg_bench_iterations(b, 2500);
	b = dlreg_bench_threads(dlreg_bench_threads(b, 1), 2);
	if (!b)
		return fail("cannot register shim/batch_exact");
	b = dlreg_bench_register("shim/batch_auto", bench_batch, NULL);
	b = dlreg_bench_min_time(b, 0.02);
	b = dlreg_bench_thread_range(b, 1, 2);
	if (!b)
		return fail("cannot register shim/batch_auto");
	b = dlreg_bench_register("shim/single", bench_single, NULL);
	b = dlreg_bench_min_warmup_time(dlreg_bench_min_time(b, 0.01), 0.0);
	if (!dlreg_bench_unit(dlreg_bench_use_real_time(b), DLREG_BENCH_US))
		return fail("cannot register shim/single");
	b = dlreg_bench_register("shim/manual", bench_manual, NULL);
	b = dlreg_bench_unit(dlreg_bench_iterations(dlreg_bench_use_manual_time(b), 50),
	                     DLREG_BENCH_MS);
	if (!b)
		return fail("cannot register shim/manual");
	b = dlreg_bench_register("shim/error", bench_error, NULL);
	if (!dlreg_bench_measure_process_cpu_time(b))
		return fail("cannot register shim/error");
	b = dlreg_bench_register("shim/error_threads", bench_error_threads, NULL);
	if (!dlreg_bench_iterations(dlreg_bench_threads(b, 2), 100000))
		return fail("cannot register shim/error_threads");
	b = dlreg_bench_register("shim/paused", bench_paused, NULL);
	if (!dlreg_bench_use_real_time(dlreg_bench_iterations(b, 20)))
		return fail("cannot register shim/paused");
	b = dlreg_bench_register("shim/pause_skip", bench_pause_skip, NULL);
	if (!dlreg_bench_iterations(b, 1000))
		return fail("cannot register shim/pause_skip");
	/* Google Benchmark names the family after a warm-up time it applied. */
	b = dlreg_bench_register("shim/warmup", bench_noop, NULL);
	if (!dlreg_bench_min_time(dlreg_bench_min_warmup_time(b, 0.002), 0.002))
		return fail("cannot register shim/warmup");
	return 0;
}

static int register_counters_and_args(void)
{
	dlreg_bench_t *b = dlreg_bench_register("shim/counters", bench_counters, NULL);
	b = dlreg_bench_iterations(dlreg_bench_threads(b, 2), 4000);
	if (!b)
		return fail("cannot register shim/counters");

	static const char *const names[] = {"size", "mode"};
	static const int64_t ranges[][2] = {{1, 8}, {0, 1}};
	b = dlreg_bench_register("shim/args", bench_args, NULL);
	b = dlreg_bench_range_multiplier(b, 8);
	b = dlreg_bench_arg_names(dlreg_bench_ranges(b, ranges, 2), names, 2);
	static const int64_t extra[] = {5, 7};
	b = dlreg_bench_min_time(dlreg_bench_args(b, extra, 2), 0.001);
	if (!b)
		return fail("cannot register shim/args");

	b = dlreg_bench_register("shim/one_arg", bench_one_arg, NULL);
	b = dlreg_bench_arg_name(dlreg_bench_arg(b, 3), "n");
	b = dlreg_bench_dense_range(b, 4, 6, 2);
	b = dlreg_bench_min_time(dlreg_bench_range(b, 16, 16), 0.001);
	if (!b)
		return fail("cannot register shim/one_arg");

	/* Multiplier 2: 8, 16, 32, 64 (the default, 8, would give 8 and 64). */
	b = dlreg_bench_register("shim/range", bench_one_arg, NULL);
	b = dlreg_bench_range(dlreg_bench_range_multiplier(b, 2), 8, 64);
	if (!dlreg_bench_iterations(b, 10))
		return fail("cannot register shim/range");
	b = dlreg_bench_register("shim/range_negative", bench_one_arg, NULL);
	if (!dlreg_bench_iterations(dlreg_bench_range(b, -8, 8), 10))
		return fail("cannot register shim/range_negative");
	return 0;
}

static int register_hooks(void)
{
	struct hook_record *records[] = {&hooks_a, &hooks_b};
	const char *hook_names[] = {"shim/hooks_a", "shim/hooks_b"};
	for (int i = 0; i < 2; i++) {
		dlreg_bench_t *b = dlreg_bench_register(hook_names[i], bench_hooked, records[i]);
		b = dlreg_bench_repetitions(dlreg_bench_threads(b, 2), 2);
		b = dlreg_bench_iterations(b, 100);
		if (!b || dlreg_bench_setup(b, hook_setup, records[i]) ||
		    dlreg_bench_teardown(b, hook_teardown, records[i]))
			return fail("cannot register the setup/teardown benchmarks");
	}
	/* Aggregates only on the console (stdout), every repetition in the file. */
	dlreg_bench_t *b = dlreg_bench_register("shim/stats", bench_batch, NULL);
	b = dlreg_bench_iterations(dlreg_bench_repetitions(b, 3), 1000);
	b = dlreg_bench_display_aggregates_only(b, true);
	if (!b ||
	    dlreg_bench_compute_statistics(b, "count", stat_count, &count_scale,
	                                   DLREG_BENCH_STAT_TIME) ||
	    dlreg_bench_compute_statistics(b, "max", stat_max, NULL, DLREG_BENCH_STAT_PERCENTAGE))
		return fail("cannot register shim/stats");
	/* Aggregates only, on the console and in the file. */
	b = dlreg_bench_register("shim/report_aggregates", bench_batch, NULL);
	b = dlreg_bench_iterations(dlreg_bench_repetitions(b, 3), 100);
	if (!dlreg_bench_report_aggregates_only(b, true))
		return fail("cannot register shim/report_aggregates");
	return 0;
}

/*
 * Callback slots.  shim/hook_replaced takes a setup and a teardown slot,
 * then one shim/slot_fill_NN family after another takes one of each until
 * none is left.  With the tables full, shim/hook_replaced's hooks are
 * replaced more times than there are slots: each replacement reuses the
 * family's own slots, so each succeeds, and only the last callbacks run
 * (hooks_decoy must see no call; the body reports the last setup's tag).
 */
static int register_slots(void)
{
	dlreg_bench_t *r =
	        dlreg_bench_register("shim/hook_replaced", bench_hooked, &hooks_replaced);
	r = dlreg_bench_iterations(r, 10);
	if (!r || dlreg_bench_setup(r, hook_setup, &hooks_decoy) ||
	    dlreg_bench_teardown(r, hook_teardown, &hooks_decoy))
		return fail("cannot register shim/hook_replaced");
	/* The two hooked benchmarks (register_hooks) and shim/hook_replaced. */
	unsigned claimed = 3;
	int setup_err = 0;
	for (unsigned i = 0; !setup_err && i < DLREG_BENCH_CALLBACK_SLOTS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "shim/slot_fill_%02u", i);
		dlreg_bench_t *f =
		        dlreg_bench_iterations(dlreg_bench_register(name, bench_noop, NULL), 1);
		if (!f)
			return fail("cannot register a shim/slot_fill benchmark");
		setup_err = dlreg_bench_setup(f, hook_setup, &hooks_fill);
		if (dlreg_bench_teardown(f, hook_teardown, &hooks_fill) != setup_err)
			return fail("the setup and teardown slot tables filled up differently");
		if (!setup_err)
			claimed++;
	}
	if (claimed != DLREG_BENCH_CALLBACK_SLOTS)
		return fail("the slot tables do not hold exactly DLREG_BENCH_CALLBACK_SLOTS each");
	if (setup_err != DLREG_BENCH_ENOSPC)
		return fail("a full slot table did not report DLREG_BENCH_ENOSPC");
	for (unsigned i = 0; i <= DLREG_BENCH_CALLBACK_SLOTS; i++) {
		if (dlreg_bench_setup(r, hook_setup, &hooks_decoy) ||
		    dlreg_bench_teardown(r, hook_teardown, &hooks_decoy))
			return fail("replacing a setup or teardown needed a new slot");
	}
	if (dlreg_bench_setup(r, hook_setup, &hooks_replaced) ||
	    dlreg_bench_teardown(r, hook_teardown, &hooks_replaced))
		return fail("replacing a setup or teardown needed a new slot");
	return 0;
}

/* Contract checks that need no run: each must fail as documented. */
static int check_contracts(void)
{
	dlreg_bench_t *b = dlreg_bench_register("shim/contracts", bench_one_arg, NULL);
	if (!b || !dlreg_bench_arg(b, 1) || !dlreg_bench_iterations(b, 1))
		return fail("cannot register shim/contracts");
	if (dlreg_bench_threads(b, 0) || dlreg_bench_range(b, 9, 1) ||
	    dlreg_bench_repetitions(b, 0) || dlreg_bench_arg(NULL, 1) ||
	    dlreg_bench_register("", bench_one_arg, NULL))
		return fail("a builder accepted an invalid argument");
	/* Repetitions are bounded as --benchmark_repetitions is; the last call wins. */
	if (dlreg_bench_repetitions(b, DLREG_BENCH_REPETITIONS_MAX + 1) ||
	    dlreg_bench_repetitions(b, INT_MAX))
		return fail("repetitions accepted a count above DLREG_BENCH_REPETITIONS_MAX");
	if (!dlreg_bench_repetitions(b, DLREG_BENCH_REPETITIONS_MAX) ||
	    !dlreg_bench_repetitions(b, 1))
		return fail("repetitions refused a count in 1..DLREG_BENCH_REPETITIONS_MAX");
	/* Calls that contradict earlier ones: Google Benchmark would abort. */
	static const int64_t pair[] = {1, 2};
	static const int64_t pair_ranges[][2] = {{1, 2}, {3, 4}};
	static const char *const two_names[] = {"x", "y"};
	if (dlreg_bench_args(b, pair, 2) || dlreg_bench_ranges(b, pair_ranges, 2) ||
	    dlreg_bench_arg_names(b, two_names, 2) || dlreg_bench_min_time(b, 0.1) ||
	    dlreg_bench_dense_range(b, INT64_MAX - 1, INT64_MAX, 2))
		return fail("a builder accepted a call that contradicts an earlier one");
	dlreg_bench_t *c = dlreg_bench_register("shim/contracts2", bench_noop, NULL);
	c = dlreg_bench_min_time(dlreg_bench_args(c, pair, 2), 0.001);
	c = dlreg_bench_use_real_time(c);
	if (!c || dlreg_bench_arg(c, 1) || dlreg_bench_arg_name(c, "n") ||
	    dlreg_bench_range(c, 1, 8) || dlreg_bench_dense_range(c, 1, 8, 1) ||
	    dlreg_bench_iterations(c, 5) || dlreg_bench_use_manual_time(c))
		return fail("a builder accepted a call that contradicts an earlier one");
	dlreg_bench_t *w = dlreg_bench_register("shim/contracts_warmup", bench_noop, NULL);
	w = dlreg_bench_min_warmup_time(w, 0.001);
	if (!w || dlreg_bench_iterations(w, 5) || !dlreg_bench_min_warmup_time(w, 0.0) ||
	    !dlreg_bench_iterations(w, 5) || dlreg_bench_min_warmup_time(w, 0.0))
		return fail("min_warmup_time and iterations: the wrong call was refused or accepted");
	dlreg_bench_t *d = dlreg_bench_register("shim/contracts3", bench_noop, NULL);
	d = dlreg_bench_use_manual_time(dlreg_bench_arg_names(d, two_names, 2));
	if (!d || dlreg_bench_use_real_time(d) || dlreg_bench_arg(d, 1) ||
	    !dlreg_bench_args(d, pair, 2))
		return fail("names then args: the wrong call was refused or accepted");
	/* Its body never sets an iteration time: one iteration, not 1e9. */
	if (!dlreg_bench_iterations(d, 1))
		return fail("cannot set iterations of shim/contracts3");
	/*
	 * C may pass any int as an enum: one that names no enumerator is
	 * refused, without the C++ side loading it as its enum (UBSan would
	 * report that).
	 */
	if (dlreg_bench_unit(b, (enum dlreg_bench_unit)7) ||
	    dlreg_bench_compute_statistics(b, "bad_unit", stat_max, NULL,
	                                   (enum dlreg_bench_stat_unit)9) != DLREG_BENCH_EINVAL)
		return fail("a builder accepted an enum value outside the enumerators");
	/* A handle the shim did not hand out is refused, not dereferenced. */
	static char not_a_handle[64];
	if (dlreg_bench_threads((dlreg_bench_t *)not_a_handle, 1) ||
	    dlreg_bench_setup((dlreg_bench_t *)not_a_handle, hook_setup, NULL) !=
	            DLREG_BENCH_EINVAL)
		return fail("a builder accepted a handle it did not hand out");
	return 0;
}

/*
 * The barriers, on calls the compiler may drop (a const call whose result
 * nothing reads) or merge (two pure calls with the same argument and no
 * store between them).  Only a working barrier keeps each call.  This file
 * is built with -O2 (meson.build) so that the optimiser would act.
 */
static int check_barriers(void)
{
	dlreg_shim_peer_calls = 0;
	for (int i = 0; i < 100; i++) {
		int v = dlreg_shim_peer_const(i);
		DLREG_BENCH_DO_NOT_OPTIMIZE(v);
	}
	if (dlreg_shim_peer_calls != 100)
		return fail("DLREG_BENCH_DO_NOT_OPTIMIZE let the compiler drop a computation");

	int cell = 5;
	dlreg_shim_peer_calls = 0;
	int a = dlreg_shim_peer_pure(&cell);
	dlreg_bench_clobber();
	int b = dlreg_shim_peer_pure(&cell);
	int sum = a + b;
	DLREG_BENCH_DO_NOT_OPTIMIZE(sum);
	if (dlreg_shim_peer_calls != 2)
		return fail("dlreg_bench_clobber let the compiler merge two reads of memory");

	/* A store to a local no one reads stays only if the local escaped. */
	int local = 1;
	dlreg_shim_peer_calls = 0;
	dlreg_bench_escape(&local);
	int c = dlreg_shim_peer_pure(&sum);
	local = 2;
	int d = dlreg_shim_peer_pure(&sum);
	int both = c + d;
	DLREG_BENCH_DO_NOT_OPTIMIZE(both);
	if (dlreg_shim_peer_calls != 2)
		return fail("dlreg_bench_escape did not make the pointed-to memory observable");
	return 0;
}

/* Custom context: a repeated key or one of Google's own is refused. */
static int check_context(void)
{
	if (dlreg_bench_context_add("shim_check", "ok") != 0)
		return fail("cannot add context");
	if (dlreg_bench_context_add("shim_check", "again") != DLREG_BENCH_EINVAL)
		return fail("a repeated context key was accepted (and dropped)");
	if (dlreg_bench_context_add("host_name", "x") != DLREG_BENCH_EINVAL ||
	    dlreg_bench_context_add("", "x") != DLREG_BENCH_EINVAL)
		return fail("a reserved or empty context key was accepted");
	return 0;
}

/* After the run: what the bodies left for main. */
static int check_after_run(void)
{
	long long done = atomic_load(&skip_done);
	fprintf(stderr, "pause_skip: iterations_done=%lld\n", done);
	/* -1: filtered out. */
	if (done != -1 && done != 6)
		return fail("iterations_done after skip_with_error is not the iterations granted");
	return 0;
}

/*
 * Teardown must pair with setup (a filtered run that skips a family sees 0
 * and 0), and a callback replaced before the run must not run at all.
 */
static int check_hook_counts(void)
{
	const struct hook_record *paired[] = {&hooks_a, &hooks_b, &hooks_replaced, &hooks_fill};
	for (size_t i = 0; i < sizeof(paired) / sizeof(paired[0]); i++) {
		int s = atomic_load(&paired[i]->setups), t = atomic_load(&paired[i]->teardowns);
		fprintf(stderr, "hooks %d: setups=%d teardowns=%d\n", paired[i]->tag, s, t);
		if (s != t)
			return fail("teardown did not run once per setup");
	}
	if (atomic_load(&hooks_decoy.setups) || atomic_load(&hooks_decoy.teardowns))
		return fail("a replaced setup or teardown ran");
	return 0;
}

/*
 * --range-oob: registers only a family whose body reads an argument it
 * does not have; the run must stop with a message naming it (check_shim.py
 * expects SIGABRT).
 */
static int run_range_oob(void)
{
	dlreg_bench_t *b = dlreg_bench_register("shim/range_oob", bench_range_oob, NULL);
	if (!dlreg_bench_iterations(dlreg_bench_arg(b, 7), 1))
		return fail("cannot register shim/range_oob");
	dlreg_bench_run();
	dlreg_bench_shutdown();
	return fail("range_get past the arguments returned");
}

/*
 * --run-error: a run that cannot start its second thread (the default
 * thread stack is made larger than any address space) makes Google
 * Benchmark throw std::system_error; dlreg_bench_run must return
 * DLREG_BENCH_RUN_FAILED (check_shim.py checks the line on stderr) rather
 * than let the exception end the program.
 */
static int run_error(void)
{
	dlreg_bench_t *b = dlreg_bench_register("shim/run_error", bench_noop, NULL);
	if (!dlreg_bench_iterations(dlreg_bench_threads(b, 2), 1))
		return fail("cannot register shim/run_error");
	pthread_attr_t saved, huge;
	if (pthread_getattr_default_np(&saved) != 0)
		return fail("cannot read the default thread attributes");
	if (pthread_attr_init(&huge) != 0 ||
	    pthread_attr_setstacksize(&huge, (size_t)1 << (sizeof(size_t) * CHAR_BIT - 2)) != 0 ||
	    pthread_setattr_default_np(&huge) != 0)
		return fail("cannot set the default thread stack size");
	size_t ran = dlreg_bench_run();
	int restored = pthread_setattr_default_np(&saved);
	pthread_attr_destroy(&huge);
	pthread_attr_destroy(&saved);
	dlreg_bench_shutdown();
	fprintf(stderr, "run_error: dlreg_bench_run returned %zu\n", ran);
	if (restored != 0)
		return fail("cannot restore the default thread attributes");
	if (ran != DLREG_BENCH_RUN_FAILED)
		return fail("a run that could not start its threads did not fail");
	return 0;
}

int main(int argc, char **argv)
{
	if (dlreg_bench_initialize(&argc, argv, usage) != 0)
		return 2;
	if (argc == 2 && strcmp(argv[1], "--range-oob") == 0)
		return run_range_oob();
	if (argc == 2 && strcmp(argv[1], "--run-error") == 0)
		return run_error();
	if (argc > 1) {
		fprintf(stderr, "dlreg-bench-shim-selftest: unknown argument '%s'\n", argv[1]);
		return 2;
	}
	if (register_loops() || register_counters_and_args() || register_hooks() ||
	    register_slots() || check_contracts() || check_barriers() || check_context())
		return 1;
	size_t ran = dlreg_bench_run();
	dlreg_bench_shutdown();
	fprintf(stderr, "benchmarks run: %zu\n", ran);
	fprintf(stderr, "runs failed: %zu\n", dlreg_bench_error_count());
	if (ran == DLREG_BENCH_RUN_FAILED)
		return 1;
	return check_hook_counts() || check_after_run();
}
