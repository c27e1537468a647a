/*
 * shim_selftest.c - benchmarks that exercise every part of dlreg_bench.h
 * and leave evidence in the JSON report; check_shim.py runs this program
 * and asserts on that evidence.  Each counter below is chosen so that a
 * broken shim call gives a different number, not just a different time.
 */
#include "dlreg_bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	printf("usage: dlreg-bench-shim-selftest [--benchmark_* flags]\n"
	       "Benchmarks that exercise the C shim; check_shim.py asserts on their JSON.\n\n");
	dlreg_bench_print_default_help();
}

static struct hook_record hooks_a = {.tag = 11};
static struct hook_record hooks_b = {.tag = 22};
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
	dlreg_bench_t *b = dlreg_bench_register("shim/stats", bench_batch, NULL);
	b = dlreg_bench_iterations(dlreg_bench_repetitions(b, 3), 1000);
	b = dlreg_bench_report_aggregates_only(dlreg_bench_display_aggregates_only(b, true), false);
	if (!b ||
	    dlreg_bench_compute_statistics(b, "count", stat_count, &count_scale,
	                                   DLREG_BENCH_STAT_TIME) ||
	    dlreg_bench_compute_statistics(b, "max", stat_max, NULL, DLREG_BENCH_STAT_PERCENTAGE))
		return fail("cannot register shim/stats");
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
	/* Claim every remaining teardown slot; exactly 64 exist in all. */
	unsigned claimed = 2; /* the two hooked benchmarks above */
	while (dlreg_bench_teardown(b, hook_teardown, &hooks_a) == DLREG_BENCH_OK)
		claimed++;
	if (claimed != DLREG_BENCH_CALLBACK_SLOTS)
		return fail("teardown slot table does not hold exactly DLREG_BENCH_CALLBACK_SLOTS");
	if (dlreg_bench_teardown(b, hook_teardown, &hooks_a) != DLREG_BENCH_ENOSPC)
		return fail("a full slot table did not report DLREG_BENCH_ENOSPC");
	return 0;
}

/*
 * Teardown must pair with setup.  Only hooks_b is checked: the slot-filling
 * loop above also points shim/contracts' teardown at hooks_a.  A filtered
 * run that skips shim/hooks_b sees 0 and 0.
 */
static int check_hook_counts(void)
{
	int sb = atomic_load(&hooks_b.setups), tb = atomic_load(&hooks_b.teardowns);
	fprintf(stderr, "hooks_b: setups=%d teardowns=%d\n", sb, tb);
	if (sb != tb)
		return fail("teardown did not run once per setup");
	return 0;
}

int main(int argc, char **argv)
{
	if (dlreg_bench_initialize(&argc, argv, usage) != 0)
		return 2;
	if (argc > 1) {
		fprintf(stderr, "dlreg-bench-shim-selftest: unknown argument '%s'\n", argv[1]);
		return 2;
	}
	if (register_loops() || register_counters_and_args() || register_hooks() ||
	    check_contracts())
		return 1;
	if (dlreg_bench_context_add("shim_check", "ok") != 0)
		return fail("cannot add context");
	size_t ran = dlreg_bench_run();
	dlreg_bench_shutdown();
	fprintf(stderr, "benchmarks run: %zu\n", ran);
	return check_hook_counts();
}
