/*
 * storm_main.c - dlreg-storm: set up, run, check, report.
 *
 * Order matters: fatal-signal handlers go in before anything can scan (the
 * scanner chains to them); the mapped-object snapshot is taken before the
 * variant loads anything; the watchdog starts before the pins are opened
 * (a variant that hangs in that first open is a stall like any other);
 * pins are opened and their symbols looked up once before the workers
 * start, so pinned reads never need the dynamic loader.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlreg/dlreg.h"
#include "fixture_abi.h"
#include "storm.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define STORM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define STORM_SANITIZED 1
#endif
#endif
#ifndef STORM_SANITIZED
#define STORM_SANITIZED 0
#endif

struct storm *storm_global;
static struct storm storm_instance;

static int pick_variant(struct storm *s)
{
	s->ops = s->cfg.variant ? dlreg_variant_find(s->cfg.variant) : dlreg_variants[0];
	if (s->ops)
		return 0;
	fprintf(stderr, "dlreg-storm: unknown --variant '%s'; this build has:", s->cfg.variant);
	for (const struct dlreg_variant_ops *const *v = dlreg_variants; *v; v++)
		fprintf(stderr, " %s", (*v)->name);
	fputc('\n', stderr);
	return -1;
}

/* Unavailable operations: an error if asked for, dropped from the default mix. */
static int setup_mix(struct storm *s)
{
	for (int op = 0; op < STORM_OP_COUNT; op++) {
		const char *why;

		if (!s->cfg.mix.weight[op] || storm_op_available(s, (enum storm_op)op, &why))
			continue;
		if (s->cfg.mix_given) {
			fprintf(stderr, "dlreg-storm: --mix: operation '%s' cannot run: %s\n",
			        storm_op_name((enum storm_op)op), why);
			return -1;
		}
		fprintf(stderr, "dlreg-storm: note: no '%s' operations: %s\n",
		        storm_op_name((enum storm_op)op), why);
		s->cfg.mix.weight[op] = 0;
	}
	storm_mix_finish(&s->cfg.mix);
	if (s->cfg.mix.total == 0) {
		fprintf(stderr, "dlreg-storm: no operation can run with these plugins\n");
		return -1;
	}
	return 0;
}

static void thread_init(struct storm *s, unsigned i, const char *role, uint64_t ops_target)
{
	struct storm_thread *t = &s->threads[i];

	t->index = i;
	t->role = role;
	t->seed = s->cfg.seed + i;
	t->ops_target = ops_target;
	storm_prng_seed(&t->rng, t->seed);
	t->seq_hash = 0xcbf29ce484222325ull;
	atomic_init(&t->plugin, -1);
}

static int setup_threads(struct storm *s)
{
	unsigned n = s->cfg.threads, i = 0;

	s->nworkers = n;
	s->nthreads = n + (s->cfg.slow_loader ? 1 : 0) + (s->cfg.churn_thread ? 1 : 0) + 1;
	s->threads = calloc(s->nthreads, sizeof(*s->threads));
	if (!s->threads)
		return -1;
	for (; i < n; i++) {
		uint64_t share = s->cfg.ops ? s->cfg.ops / n + (i < s->cfg.ops % n) : 0;

		thread_init(s, i, "worker", share);
		s->threads[i].held = calloc(s->cfg.max_held, sizeof(struct storm_held));
		if (!s->threads[i].held)
			return -1;
	}
	if (s->cfg.slow_loader)
		thread_init(s, i++, "slow-loader", 0);
	if (s->cfg.churn_thread && storm_churn_active())
		thread_init(s, i++, "churner", 0);
	else if (s->cfg.churn_thread)
		s->nthreads--;
	thread_init(s, i, "main", 0);
	return 0;
}

static struct storm_thread *main_thread(struct storm *s)
{
	return &s->threads[s->nthreads - 1];
}

/* Main-thread phases are watched like operations but are not counted as ones. */
static void phase(struct storm *s, const char *what)
{
	struct storm_thread *t = main_thread(s);

	if (what)
		storm_op_enter(t, what, -1);
	else
		atomic_store_explicit(&t->what, NULL, memory_order_release);
}

/* Looks every fixture symbol up once, so later pinned reads are cache hits. */
static void warm_pin(struct storm *s, const struct storm_plugin *p)
{
	static const char *const names[] = {DLREG_FIXTURE_SYM_ID, DLREG_FIXTURE_SYM_KIND,
	                                    DLREG_FIXTURE_SYM_ANSWER};
	void *reader = s->ops->reader(s->reg), *sym;

	if (!reader)
		return;
	s->ops->read_begin(reader);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		s->ops->read_sym(reader, p->path, names[i], &sym);
	s->ops->read_end(reader);
}

static int open_pins(struct storm *s)
{
	struct storm_thread *t = main_thread(s);

	s->pin_handles = calloc(s->cat.n_pins + 1, sizeof(void *));
	if (!s->pin_handles)
		return -1;
	for (size_t i = 0; i < s->cat.n_pins; i++) {
		const struct storm_plugin *p = &s->cat.v[s->cat.pins[i]];
		int err;

		/* A stall here names the plugin in the watchdog's dump. */
		atomic_store_explicit(&t->plugin, (int)s->cat.pins[i], memory_order_relaxed);
		err = s->ops->open(s->reg, p->path, 0, &s->pin_handles[i]);
		if (err != DLREG_OK) {
			storm_fail(t, SC_ERRORS, "pin %s: %s", p->name, dlreg_strerror(err));
			s->pin_handles[i] = NULL;
			continue;
		}
		s->pins_loaded++;
		warm_pin(s, p);
	}
	return 0;
}

static void close_pins(struct storm *s)
{
	struct storm_thread *t = main_thread(s);

	for (size_t i = 0; i < s->cat.n_pins && s->pin_handles; i++) {
		int err;

		if (!s->pin_handles[i])
			continue;
		err = s->ops->close(s->reg, s->pin_handles[i]);
		if (err != DLREG_OK)
			storm_fail(t, SC_INVARIANTS, "unpin %s: %s", s->cat.v[s->cat.pins[i]].name,
			           dlreg_strerror(err));
	}
	free(s->pin_handles);
	s->pin_handles = NULL;
}

static bool run_over(struct storm *s, uint64_t now)
{
	/* Set before the end only by SIGINT/SIGTERM (storm_fatal.c). */
	if (atomic_load_explicit(&s->stop, memory_order_relaxed))
		return true;
	if (s->cfg.stop_on_failure && storm_report_failed_yet(s))
		return true;
	if (s->cfg.ops)
		return atomic_load_explicit(&s->workers_done, memory_order_acquire) >= s->nworkers;
	return now - atomic_load_explicit(&s->start_ns, memory_order_relaxed) >=
	       (uint64_t)(s->cfg.duration_s * 1e9);
}

static void wait_run(struct storm *s)
{
	bool progress = s->cfg.progress > 0 || (s->cfg.progress < 0 && isatty(2));
	uint64_t next = atomic_load_explicit(&s->start_ns, memory_order_relaxed) + 1000000000ull;
	uint64_t now;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};

	while (!run_over(s, now = storm_now_ns())) {
		if (progress && now >= next) {
			storm_report_progress(s);
			next += 1000000000ull;
		}
		nanosleep(&tick, NULL);
	}
	atomic_store_explicit(&s->stop, true, memory_order_relaxed);
}

static int setup(struct storm *s)
{
	int err;

	if (pick_variant(s) != 0)
		return -1;
	pthread_mutex_init(&s->user_mutex, NULL);
	s->sanitized = STORM_SANITIZED;
	/* The sanitizer runtimes refuse RTLD_DEEPBIND outright. */
	if (s->sanitized)
		s->cfg.hints &= ~DLREG_HINT_DEEPBIND;
	storm_fatal_install();
	if (storm_catalog_build(s) != 0 || storm_churn_setup(s) != 0 ||
	    storm_catalog_finish(s) != 0 || setup_mix(s) != 0 || setup_threads(s) != 0)
		return -1;
	storm_host_bind(s);
	storm_leaks_snapshot(s);
	err = s->ops->create(&s->reg);
	if (err != DLREG_OK) {
		fprintf(stderr, "dlreg-storm: cannot create the %s registry: %s\n", s->ops->name,
		        dlreg_strerror(err));
		return -1;
	}
	return 0;
}

static void run(struct storm *s)
{
	bool failed;

	storm_opts_print(s);
	failed = storm_watchdog_start(s) != 0;
	phase(s, "pin");
	open_pins(s);
	phase(s, NULL);
	atomic_store_explicit(&s->start_ns, storm_now_ns(), memory_order_relaxed);
	if (failed || storm_threads_start(s) != 0)
		atomic_fetch_add_explicit(&main_thread(s)->counters[SC_ERRORS], 1,
		                          memory_order_relaxed);
	else
		wait_run(s);
	/*
	 * The run is over here: a signal from now on (during the join, the
	 * unpinning or the leak check, which all finish anyway) does not make
	 * a complete run "interrupted".
	 */
	storm_report_close_interrupts(s);
	atomic_store_explicit(&s->stop, true, memory_order_relaxed);
	phase(s, "join");
	storm_threads_join(s);
	atomic_store_explicit(&s->end_ns, storm_now_ns(), memory_order_relaxed);
	phase(s, "unpin");
	close_pins(s);
	phase(s, "leak check");
	storm_leaks_check(s, main_thread(s));
	phase(s, NULL);
	storm_watchdog_stop();
}

/* Output lost to a full disk or a closed pipe must not pass for a result. */
static int stdout_error(void)
{
	if (fflush(stdout) != 0)
		return errno ? errno : EIO;
	return ferror(stdout) ? EIO : 0;
}

static void report_write_error(int err)
{
	fprintf(stderr, "dlreg-storm: cannot write to stdout: %s\n", strerror(err));
}

int main(int argc, char **argv)
{
	struct storm *s = &storm_instance;
	int rc = storm_opts_parse(argc, argv, &s->cfg);
	int err;

	if (rc > 0 && (err = stdout_error()) != 0) {
		report_write_error(err);
		return STORM_EXIT_FAILURE;
	}
	if (rc != 0)
		return rc > 0 ? STORM_EXIT_SUCCESS : STORM_EXIT_USAGE;
	storm_global = s;
	if (setup(s) != 0) {
		storm_churn_cleanup(s);
		return STORM_EXIT_USAGE;
	}
	run(s);
	storm_churn_cleanup(s);
	storm_report_counters(s);
	rc = storm_report_verdict(s);
	err = storm_report_final(s, true);
	if (!err)
		err = stdout_error();
	if (err) {
		report_write_error(err);
		rc = STORM_EXIT_FAILURE;
	}
	fflush(stderr);
	/* Exit handlers would run LeakSanitizer a second time; it already ran. */
	_exit(rc);
}
