/*
 * test_storm_report.c - the verdict and the final report of runs built by
 * hand: counters are set directly, so cases a real storm reaches only by
 * chance (no operation completed before the end) are exact.  TAP output.
 *
 * A run passes only if it did something: an operation completed, and a
 * plugin was loaded, acquired or pinned (or the mix only scans).  An
 * interrupted run does not pass either and exits 128 + the signal unless a
 * check failed first.  With --json a fatal ending still writes JSON.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storm.h"
#include "variant_dlreg.h"
#include "storm_tap.h"

/* storm_main.c is not linked in: the storm's other parts look for this. */
struct storm *storm_global;


static struct storm_thread threads[2];
static struct storm run;

/* A finished run of one worker (thread 0) and the main thread (1), no counts. */
static struct storm *fresh(void)
{
	memset(&run, 0, sizeof(run));
	memset(threads, 0, sizeof(threads));
	run.ops = &dlreg_variant_dlreg;
	run.threads = threads;
	run.nthreads = 2;
	run.nworkers = 1;
	run.cfg.seed = 42;
	run.cfg.fixture_dir = "fixtures";
	threads[0].role = "worker";
	threads[1].index = 1;
	threads[1].role = "main";
	atomic_store(&run.start_ns, 1000000000u);
	atomic_store(&run.end_ns, 3000000000u);
	storm_global = &run;
	return &run;
}

static void count(enum storm_counter c, uint64_t n)
{
	atomic_store(&threads[0].counters[c], n);
}

/* Everything storm_report_final and storm_report_counters write, per stream. */
struct output {
	char out[8192];
	char err[8192];
	int rc;
};

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void report(struct storm *s, bool normal_exit, struct output *o)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out, saved_err;

	if (!out || !err) {
		printf("Bail out! tmpfile failed\n");
		exit(1);
	}
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	if (normal_exit)
		storm_report_counters(s);
	o->rc = storm_report_verdict(s);
	storm_report_final(s, normal_exit);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(out, o->out, sizeof(o->out));
	slurp(err, o->err, sizeof(o->err));
}

static bool has(const char *text, const char *what)
{
	return strstr(text, what) != NULL;
}

/* One object on one line, with balanced braces outside strings. */
static bool json_shaped(const char *text)
{
	size_t len = strlen(text);
	int depth = 0;
	bool in_str = false;

	if (len < 3 || text[0] != '{' || text[len - 1] != '\n' || text[len - 2] != '}')
		return false;
	for (size_t i = 0; i < len - 1; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{')
			depth++;
		else if (c == '}' && --depth == 0 && i != len - 2)
			return false;
		else if (c == '\n')
			return false;
	}
	return depth == 0 && !in_str;
}

static void test_did_nothing(void)
{
	struct output o;

	report(fresh(), true, &o);
	ok(o.rc == STORM_EXIT_FAILURE, "no operation completed: exit 1");
	ok(has(o.out, " detector=no_operations verdict=FAILURE\n"),
	   "no operation completed: detector=no_operations");
	ok(has(o.err, "no operation completed"), "no operation completed: said on stderr");

	fresh();
	count(SC_OPS, 1000);
	count(SC_READ_MISSES, 1000);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_FAILURE && has(o.out, " detector=nothing_loaded verdict=FAILURE\n"),
	   "reads that all missed, nothing loaded or pinned: nothing_loaded");
	ok(has(o.err, "no plugin was ever loaded, acquired or pinned"),
	   "nothing loaded: said on stderr");

	fresh();
	count(SC_OPS, 1000);
	count(SC_CHURNS, 1000);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_FAILURE && has(o.out, " detector=nothing_loaded "),
	   "a churn-only run: nothing_loaded");

	fresh();
	count(SC_OPS, 100);
	count(SC_OPENS, 40);
	count(SC_OPEN_FAILS, 60);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_FAILURE && has(o.out, " detector=nothing_loaded "),
	   "only churned copies loaded: nothing_loaded");
}

static void test_did_something(void)
{
	struct output o;

	fresh();
	count(SC_OPS, 100);
	count(SC_OPENS, 10);
	count(SC_SELECTED_LOADS, 10);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_SUCCESS && has(o.out, " detector=none verdict=SUCCESS\n"),
	   "opens: SUCCESS");

	fresh();
	count(SC_OPS, 100);
	count(SC_SCANS, 100);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_SUCCESS, "a scan-only run: SUCCESS");

	/* Plain plugins carry no metadata: every scan ends in the error it must. */
	fresh();
	count(SC_OPS, 100);
	count(SC_SCAN_ERRORS, 100);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_SUCCESS && has(o.out, " detector=none verdict=SUCCESS\n"),
	   "a scan-only run whose scans all found no metadata: SUCCESS");

	fresh();
	run.pins_loaded = 1;
	count(SC_OPS, 100);
	count(SC_READ_HITS, 100);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_SUCCESS, "pinned reads: SUCCESS");
}

static void test_interrupted(void)
{
	struct output o;

	fresh();
	count(SC_OPS, 100);
	count(SC_OPENS, 10);
	count(SC_SELECTED_LOADS, 10);
	atomic_store(&run.interrupted, SIGINT);
	report(&run, true, &o);
	ok(o.rc == 128 + SIGINT, "SIGINT: exit 130");
	ok(has(o.out, " detector=interrupted verdict=FAILURE\n"), "SIGINT: detector=interrupted");
	ok(has(o.err, "interrupted by SIGINT"), "SIGINT: said on stderr");

	fresh();
	atomic_store(&run.interrupted, SIGTERM);
	report(&run, true, &o);
	ok(o.rc == 128 + SIGTERM && has(o.out, " detector=interrupted "),
	   "SIGTERM before any operation: interrupted, exit 143");

	fresh();
	count(SC_OPS, 100);
	count(SC_OPENS, 10);
	count(SC_ERRORS, 1);
	atomic_store(&run.interrupted, SIGINT);
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_FAILURE && has(o.out, " detector=errors "),
	   "a failed check before the interrupt still names the failure, exit 1");

	/* A signal after the run is over does not count: verdict, exit code,
	 * SUMMARY and JSON must agree however late it comes. */
	fresh();
	count(SC_OPS, 100);
	count(SC_OPENS, 10);
	count(SC_SELECTED_LOADS, 10);
	ok(storm_report_close_interrupts(&run) == 0, "closed with no interrupt: 0");
	int none = 0;
	ok(!atomic_compare_exchange_strong(&run.interrupted, &none, SIGINT),
	   "a signal after closing cannot claim the run");
	report(&run, true, &o);
	ok(o.rc == STORM_EXIT_SUCCESS && has(o.out, " detector=none verdict=SUCCESS\n") &&
	           !has(o.err, "interrupted by"),
	   "closed: SUCCESS, exit 0, no interruption said");

	fresh();
	count(SC_OPS, 100);
	atomic_store(&run.interrupted, SIGTERM);
	ok(storm_report_close_interrupts(&run) == SIGTERM,
	   "closing keeps a signal that came first");
}

static void test_json(void)
{
	struct output o;

	fresh();
	run.cfg.json = true;
	count(SC_OPS, 100);
	count(SC_OPENS, 10);
	count(SC_SELECTED_LOADS, 10);
	report(&run, true, &o);
	ok(json_shaped(o.out) && has(o.out, "\"verdict\":\"SUCCESS\"") &&
	           has(o.out, "\"partial\":false"),
	   "--json, normal end: the full object on stdout");
	ok(has(o.err, "SUMMARY ") && !has(o.out, "SUMMARY"), "--json: the SUMMARY on stderr");

	/* The watchdog's ending: async-signal-safe, no stdio. */
	fresh();
	run.cfg.json = true;
	count(SC_OPS, 7);
	storm_end_claim(&run, STORM_DET_WATCHDOG, STORM_EXIT_WATCHDOG);
	report(&run, false, &o);
	ok(json_shaped(o.out), "--json, fatal end: one JSON object on stdout");
	ok(has(o.out, "\"detector\":\"watchdog\"") && has(o.out, "\"verdict\":\"FAILURE\"") &&
	           has(o.out, "\"partial\":true") && has(o.out, "\"ops\":7,") &&
	           has(o.out, "\"variant\":\"dlreg\"") && has(o.out, "\"elapsed_s\":2.000,") &&
	           has(o.out, "\"watchdog\":1"),
	   "--json, fatal end: detector, verdict, counts");
	ok(has(o.err, " detector=watchdog verdict=FAILURE\n") && !has(o.out, "SUMMARY"),
	   "--json, fatal end: the SUMMARY on stderr");

	fresh();
	storm_end_claim(&run, STORM_DET_CRASH, STORM_EXIT_CRASH);
	report(&run, false, &o);
	ok(has(o.out, "SUMMARY ") && has(o.out, " detector=crash verdict=FAILURE\n"),
	   "without --json, fatal end: the SUMMARY on stdout");
}

int main(int argc, char **argv)
{
	int usage =
	        tap_args(argc, argv, 0,
	                 "usage: test_storm_report\n"
	                 "The storm's verdict and final report, of runs built by hand (TAP).\n");
	if (usage >= 0)
		return usage;
	test_did_nothing();
	test_did_something();
	test_interrupted();
	test_json();
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}
