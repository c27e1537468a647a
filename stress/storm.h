/*
 * storm.h - state shared by the parts of dlreg-storm.
 *
 * One struct storm per run (the global storm_global, because the fixture
 * host callbacks, the watchdog and the fatal-signal handler need it without
 * a context argument).  Each thread of the run owns one struct
 * storm_thread; fields other threads read (what it is doing, its counters,
 * its latency histogram) are relaxed atomics written only by the owner, so
 * the watchdog and the signal handler can read them at any time.
 */
#ifndef DLREG_STORM_H
#define DLREG_STORM_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "storm_hist.h"
#include "storm_mix.h"
#include "storm_prng.h"
#include "variant.h"

/* Exit codes; a sanitizer that stops the run exits with its own code. */
enum {
	STORM_EXIT_SUCCESS = 0,
	STORM_EXIT_FAILURE = 1,  /* a check failed (see the SUMMARY detectors) */
	STORM_EXIT_USAGE = 2,    /* bad command line or setup error */
	STORM_EXIT_WATCHDOG = 3, /* a thread stalled; per-thread dump on stderr */
	STORM_EXIT_CRASH = 4,    /* fatal signal (SIGSEGV, SIGBUS, ...) */
	/* SIGINT or SIGTERM stopped the run early: 128 + the signal (130, 143),
	 * unless a check had already failed (then STORM_EXIT_FAILURE). */
	STORM_EXIT_INTERRUPTED = 128,
};

/* What can fail a run, each reported by name and count in the SUMMARY. */
enum storm_detector {
	STORM_DET_USE_AFTER_GRACE, /* poisoned entry or wrong answer in a section */
	STORM_DET_LEAKS,           /* glibc refs, mapped fixtures, ctor/dtor, LSan */
	STORM_DET_WATCHDOG,        /* no progress in one operation for too long */
	STORM_DET_RACES,           /* ThreadSanitizer report */
	STORM_DET_INVARIANTS,      /* refcounts, resurrection, answers, close */
	STORM_DET_CRASH,           /* fatal signal or a sanitizer's memory error */
	STORM_DET_COUNT
};

const char *storm_detector_name(enum storm_detector d);

/* Per-thread counters.  The two detector counters are summed into the
 * detector totals at the end. */
enum storm_counter {
	SC_OPS,
	SC_ERRORS, /* an operation failed that must not fail */
	SC_OPENS,
	SC_OPEN_FAILS, /* failed as expected (fail/notelf/empty plugins) */
	SC_CLOSES,
	SC_READ_HITS,
	SC_READ_MISSES,
	SC_CALLS,
	SC_ACQUIRES,
	SC_ACQUIRE_MISSES,
	SC_SCANS,
	SC_SCAN_ERRORS, /* defined errors (truncated copy, no metadata, ...) */
	SC_CHURNS,
	SC_USE_AFTER_GRACE,
	SC_INVARIANTS,
	SC_SELECTED_LOADS, /* opens and acquires of a selected plugin (not a churn copy) */
	SC_COUNT
};

enum storm_expect {
	STORM_EXPECT_LOADS, /* must open with any hints */
	STORM_EXPECT_NEEDS_LAZY /* RTLD_NOW fails with EUNDEFINED, LAZY loads */,
	STORM_EXPECT_FAILS,   /* never loads (not ELF) */
	STORM_EXPECT_UNKNOWN, /* a foreign library: no expectation */
};

struct storm_plugin {
	char *path;
	const char *name; /* file name inside path */
	int expected_id;  /* dlreg_fixture_id() it must report; -1: any */
	int family;       /* fixture family it must belong to; 0: any */
	enum storm_expect expect;
	bool abi;         /* exports the fixture ABI: calls are checked */
	const char *meta; /* metadata JSON a scan must find, or NULL */
	bool meta_none;   /* a scan must report "no metadata" */
	int slot;         /* churn slot, -1 for files nobody modifies */
	bool scan_only;   /* a churned copy that is never opened */
};

struct storm_catalog {
	struct storm_plugin *v;
	size_t n;
	size_t *openable; /* indices that open/read/acquire choose from */
	size_t n_openable;
	size_t *scannable; /* indices scans choose from */
	size_t n_scannable;
	size_t *pins; /* opened once before the storm, closed after */
	size_t n_pins;
	int slow;                  /* libslow.so for the slow loader, or -1 */
	char *meta_text;           /* expected-metadata.txt contents (meta points in) */
	const char *meta_file[16]; /* "metaN" -> its JSON, from that file */
	const char *meta_json[16];
	unsigned n_meta;
};

struct storm_config {
	unsigned threads;
	double duration_s;
	uint64_t ops;     /* total over the workers; 0: run for duration_s */
	unsigned plugins; /* 0: every selected plugin */
	const char *fixtures;
	struct storm_mix mix;
	bool mix_given;
	uint64_t seed;
	const char *variant;
	double watchdog_s; /* 0: no watchdog */
	const char *plugins_dir;
	const char *fixture_dir;
	const char *tmpdir;
	bool json;
	int progress; /* -1: on when stderr is a TTY */
	bool slow_loader;
	unsigned slow_us;
	unsigned slow_period_ms;
	const char *pins;
	unsigned max_held;
	unsigned sample_every;
	unsigned read_hold;
	bool churn_thread;
	unsigned slots;
	unsigned hints;   /* DLREG_HINT_* bits reopen may draw */
	int scan_backend; /* STORM_SCAN_* */
	bool stop_on_failure;
};

/* --scan-backend: which scanner backend scans use. */
enum { STORM_SCAN_MIX = 0, STORM_SCAN_MMAP, STORM_SCAN_READ, STORM_SCAN_AUTO };

struct storm_held {
	void *handle;
	uint32_t plugin;
};

struct storm_thread {
	unsigned index;
	const char *role; /* "worker", "slow-loader", "churner", "main" */
	uint64_t seed;
	struct storm_prng rng;
	uint64_t seq_hash;           /* hash of every drawn (operation, argument) */
	uint64_t ops_target;         /* 0: until told to stop */
	_Atomic(const char *) what;  /* operation in progress, NULL when idle */
	_Atomic(const char *) state; /* step inside it */
	_Atomic int plugin;          /* catalog index, -1 for none */
	_Atomic uint64_t since_ns;   /* when `what` started */
	_Atomic uint64_t counters[SC_COUNT];
	struct storm_hist hist;
	struct storm_held *held;
	unsigned nheld;
	void *reader;
	unsigned reports;
	pthread_t tid;
	bool started;
	char path_copy[PATH_MAX]; /* read_one's copy of a plugin path */
};

struct storm {
	struct storm_config cfg;
	const struct dlreg_variant_ops *ops;
	void *reg;
	struct storm_catalog cat;
	char *churn_dir;
	struct storm_thread *threads; /* workers, slow loader, churner, main */
	unsigned nthreads;
	unsigned nworkers;
	pthread_mutex_t user_mutex;
	atomic_bool stop;
	atomic_uint workers_done;
	_Atomic uint64_t start_ns; /* when the workers started; 0 before */
	_Atomic uint64_t end_ns; /* 0 while running */
	_Atomic uint64_t detectors[STORM_DET_COUNT];
	atomic_int summary_done;
	atomic_int end_detector; /* claimed fatal detector + 1; 0 while none */
	atomic_int end_code;     /* its exit code; -1 for the sanitizer's own */
	/* The first SIGINT/SIGTERM received; 0 while none; -1 once the run is
	 * over (storm_report_close_interrupts): later signals are not counted. */
	atomic_int interrupted;
	void **pin_handles;
	unsigned pins_loaded; /* pins opened before the storm started */
	bool sanitized;       /* built with ASan or TSan */
};

extern struct storm *storm_global;

static inline uint64_t storm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Owner thread only: relaxed store of counter + n. */
static inline void storm_count(struct storm_thread *t, enum storm_counter c, uint64_t n)
{
	atomic_store_explicit(&t->counters[c],
	                      atomic_load_explicit(&t->counters[c], memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline void storm_set_state(struct storm_thread *t, const char *state)
{
	atomic_store_explicit(&t->state, state, memory_order_relaxed);
}

/* Marks the start and end of one operation for the watchdog. */
void storm_op_enter(struct storm_thread *t, const char *what, int plugin);
void storm_op_leave(struct storm_thread *t);

/* Counts c (SC_ERRORS or a detector counter) and prints the first few. */
void storm_fail(struct storm_thread *t, enum storm_counter c, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* storm_opts.c */
int storm_opts_parse(int argc, char **argv, struct storm_config *cfg);
void storm_opts_print(const struct storm *s);

/* storm_catalog.c */
int storm_catalog_build(struct storm *s);
/* Takes ownership of path; returns the new index or -1. */
int storm_catalog_add(struct storm_catalog *cat, char *path, int slot);
int storm_catalog_find(const struct storm_catalog *cat, const char *name);
int storm_catalog_push(size_t **idx, size_t *n, size_t value);
/* The JSON fixture `name` ("meta1") declares, or NULL. */
const char *storm_catalog_meta(const struct storm_catalog *cat, const char *name);
/* After the churn slots were added: the scan list. */
int storm_catalog_finish(struct storm *s);
void storm_catalog_free(struct storm_catalog *cat);

/* storm_churn.c */
int storm_churn_setup(struct storm *s);
bool storm_churn_active(void);
void storm_churn_step(struct storm *s, struct storm_thread *t, uint64_t r);
void storm_churn_cleanup(struct storm *s);
/* Removes the churn directory; async-signal-safe (for fatal exits). */
void storm_churn_remove(void);

/* storm_ops.c */
void storm_op_run(struct storm *s, struct storm_thread *t, enum storm_op op, uint64_t r);
void storm_close_held(struct storm *s, struct storm_thread *t);
bool storm_op_available(const struct storm *s, enum storm_op op, const char **why);

/* storm_scan.c: the one place the scanner is called. */
bool storm_scan_available(void);
/* Faults on truncated mappings the scanner turned into errors so far. */
uint64_t storm_scan_faults(void);
void storm_scan_plugin(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                       uint64_t r);

/* storm_threads.c */
int storm_threads_start(struct storm *s);
void storm_threads_join(struct storm *s);

/* storm_watchdog.c */
int storm_watchdog_start(struct storm *s);
void storm_watchdog_stop(void);

/* storm_leaks.c */
int storm_leaks_snapshot(struct storm *s);
void storm_leaks_check(struct storm *s, struct storm_thread *main_thread);

/* storm_report.c: the run is over (its time is up, its operations are done
 * or it was stopped); a SIGINT/SIGTERM from now on no longer counts as an
 * interruption (so the exit code, the SUMMARY and the JSON all agree).
 * Returns the signal that interrupted the run, or 0.  Idempotent. */
int storm_report_close_interrupts(struct storm *s);

/* storm_fatal.c */
/* Fatal-signal and sanitizer-death handlers, and SIGINT/SIGTERM: those set
 * `interrupted` and `stop`, so the run ends through the normal report and
 * cleanup; a second one kills at once (the default action). */
void storm_fatal_install(void);
/* Names the calling thread's record, for fatal-signal reports. */
void storm_set_self(struct storm_thread *t);
/*
 * A fatal ending (crash, sanitizer report, watchdog) is claimed once.  The
 * first claimer names the SUMMARY's detector and ends the process with its
 * own exit code.  Returns true to the winner; a loser has still counted its
 * detector and must call storm_end_lost(), which waits for the winner.
 */
bool storm_end_claim(struct storm *s, enum storm_detector d, int code);
void storm_end_lost(struct storm *s) __attribute__((noreturn));
/* Exits at once, skipping exit handlers and sanitizer exit reports. */
void storm_exit_now(int code) __attribute__((noreturn));

/* storm_report.c */
void storm_report_progress(struct storm *s);
void storm_report_counters(struct storm *s);
/*
 * Writes the SUMMARY (with --json, a JSON object on stdout and the line on
 * stderr) once.  normal_exit: the run ended through main, which may use
 * stdio (the full JSON object).  Otherwise (watchdog, fatal signal,
 * sanitizer) async-signal-safe, with a partial JSON object.  Returns 0, or
 * the errno of a failed write of the report to stdout.
 */
int storm_report_final(struct storm *s, bool normal_exit);
/* The exit code of a run that ended normally: STORM_EXIT_SUCCESS,
 * STORM_EXIT_FAILURE, or STORM_EXIT_INTERRUPTED + the signal. */
int storm_report_verdict(struct storm *s);
/* Cheap check for the main loop: has any check failed yet? */
bool storm_report_failed_yet(struct storm *s);

/* storm_host.c */
void storm_host_bind(struct storm *s);
unsigned long storm_host_callback_errors(void);
long storm_host_unbalanced(void); /* constructors run minus destructors run */

#endif
