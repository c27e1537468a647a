/*
 * storm_fatal.c - a crash still ends with a SUMMARY line.
 *
 * Fatal signals (a call into an unmapped plugin, SIGBUS from a truncated
 * mapping, abort from a corrupted heap) are caught, reported with the
 * crashing thread's operation and plugin, counted as detector "crash", and
 * the run exits with STORM_EXIT_CRASH.  The handlers are installed before
 * the scanner installs its own fault handler, which then chains faults it
 * does not own to these.
 *
 * Under a sanitizer, its death callback writes the SUMMARY before the
 * sanitizer exits with its own exit code: a ThreadSanitizer report counts
 * as "races"; an AddressSanitizer report of a use after free as
 * "use_after_grace", any other memory error as "crash".  The sanitizer
 * defaults below make that so for the driver run on its own too (without
 * halt_on_error, ThreadSanitizer would report, go on, let the run say
 * SUCCESS and then exit 66).
 *
 * SIGINT and SIGTERM only ask the run to stop: the workers finish their
 * operation, the run is checked, reported (detector=interrupted) and its
 * churn directory removed as after any run.  A second one kills at once.
 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storm.h"

#if defined(__SANITIZE_THREAD__)
#define STORM_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define STORM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STORM_TSAN 1
#elif __has_feature(address_sanitizer)
#define STORM_ASAN 1
#endif
#endif

#if defined(STORM_TSAN) || defined(STORM_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef STORM_ASAN
#include <sanitizer/asan_interface.h>
#endif

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static const int stop_signals[] = {SIGINT, SIGTERM};

/*
 * Ends the process at once with `code`.  The raw system call skips the
 * sanitizers' exit processing too: their thread-leak and leak reports about
 * threads still stuck in a deadlock would replace the detector's exit code.
 */
void storm_exit_now(int code)
{
	syscall(SYS_exit_group, code);
	_exit(code);
}

static void say(const char *s)
{
	ssize_t n = write(2, s, strlen(s));

	(void)n;
}

/*
 * One stderr line built piece by piece and written with one write(2): a
 * line another thread writes meanwhile (a second fatal signal's, the
 * SUMMARY) then never lands in the middle of it, where a reader looking
 * for a line starting "SUMMARY " would miss it.
 */
struct say_line {
	char buf[512];
	size_t len;
};

static void add(struct say_line *l, const char *s)
{
	size_t n = strlen(s), room = sizeof(l->buf) - 1 - l->len; /* 1 kept for the '\n' */

	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void say_line(struct say_line *l)
{
	ssize_t n;

	if (l->len == 0 || l->buf[l->len - 1] != '\n')
		l->buf[l->len++] = '\n';
	n = write(2, l->buf, l->len);
	(void)n;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	case SIGABRT:
		return "SIGABRT";
	default:
		return "signal";
	}
}

/*
 * Each storm thread's own record, set when it starts (initial-exec TLS in
 * the executable: safe to read from a signal handler).  Threads the storm
 * did not start (a plugin's, the watchdog's) report as the main thread.
 */
static _Thread_local struct storm_thread *self;

void storm_set_self(struct storm_thread *t)
{
	self = t;
}

static struct storm_thread *self_thread(struct storm *s)
{
	if (self)
		return self;
	return s->nthreads ? &s->threads[s->nthreads - 1] : NULL;
}

bool storm_end_claim(struct storm *s, enum storm_detector d, int code)
{
	int none = 0;

	atomic_fetch_add_explicit(&s->detectors[d], 1, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&s->end_detector, &none, (int)d + 1,
	                                             memory_order_acq_rel, memory_order_acquire))
		return false;
	atomic_store_explicit(&s->end_code, code, memory_order_release);
	return true;
}

/*
 * The winner writes the SUMMARY and ends the process within milliseconds;
 * a loser waits for that, so the detector the SUMMARY names and the exit
 * code always belong together.  If the winner never gets there (it cannot
 * happen unless the winner itself hangs), the loser ends the run with the
 * winner's code after ten seconds.
 */
void storm_end_lost(struct storm *s)
{
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
	int code;

	for (int i = 0; i < 1000; i++)
		nanosleep(&pause, NULL);
	code = atomic_load_explicit(&s->end_code, memory_order_acquire);
	say("dlreg-storm: the run's first fatal ending did not finish; exiting for it\n");
	storm_report_final(s, false);
	storm_exit_now(code > 0 ? code : STORM_EXIT_CRASH);
}

/* Adds what the failing thread was doing to its line. */
static void add_where(struct say_line *l, struct storm *s)
{
	struct storm_thread *t = self_thread(s);
	const char *what, *state;
	int plugin;

	if (!t)
		return;
	what = atomic_load_explicit(&t->what, memory_order_relaxed);
	state = atomic_load_explicit(&t->state, memory_order_relaxed);
	plugin = atomic_load_explicit(&t->plugin, memory_order_relaxed);
	add(l, " in thread role=");
	add(l, t->role);
	add(l, " op=");
	add(l, what ? what : "idle");
	add(l, " state=");
	add(l, state ? state : "-");
	add(l, " plugin=");
	add(l, plugin >= 0 && (size_t)plugin < s->cat.n ? s->cat.v[plugin].name : "-");
}

/* Which of stop_signals got on_interrupt (not those ignored from the start). */
static atomic_bool stop_handled[sizeof(stop_signals) / sizeof(stop_signals[0])];

/*
 * From the first SIGINT or SIGTERM on, both take their default action: the
 * second one kills at once whichever it is (SA_RESETHAND alone would only
 * reset the signal that came, so SIGINT then SIGTERM went unheard).
 */
static void stop_signals_default(void)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		if (stop_handled[i])
			sigaction(stop_signals[i], &dfl, NULL);
}

/* Only lock-free atomic stores, sigaction(2) and write(2): async-signal-safe. */
static void on_interrupt(int sig)
{
	struct storm *s = storm_global;
	int none = 0;

	struct say_line l = {.len = 0};

	stop_signals_default();
	add(&l, sig == SIGINT ? "dlreg-storm: SIGINT" : "dlreg-storm: SIGTERM");
	if (s && !atomic_compare_exchange_strong_explicit(&s->interrupted, &none, sig,
	                                                  memory_order_relaxed,
	                                                  memory_order_relaxed) &&
	    none < 0) {
		/* storm_report_close_interrupts ran: the verdict is being taken. */
		add(&l, ": the run is over, not counted (a second signal ends it at once)");
		say_line(&l);
		return;
	}
	if (s)
		atomic_store_explicit(&s->stop, true, memory_order_relaxed);
	add(&l, ": stopping the run (a second signal ends it at once)");
	say_line(&l);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	struct storm *s = storm_global;

	struct say_line l = {.len = 0};

	(void)si;
	(void)uc;
	add(&l, "dlreg-storm: fatal ");
	add(&l, signal_name(sig));
	if (s)
		add_where(&l, s);
	say_line(&l);
	if (s) {
		if (!storm_end_claim(s, STORM_DET_CRASH, STORM_EXIT_CRASH))
			storm_end_lost(s);
		storm_report_final(s, false);
		storm_churn_remove();
	}
	storm_exit_now(STORM_EXIT_CRASH);
}

#if defined(STORM_TSAN) || defined(STORM_ASAN)
/*
 * What scripts/storm and run-storm.sh put in TSAN_OPTIONS / ASAN_OPTIONS,
 * as this program's defaults: the first report stops the run (so the
 * SUMMARY names it) with the exit code the verdict documents.  The
 * environment's options are parsed after these and win.
 */
#ifdef STORM_TSAN
__attribute__((visibility("default"), used)) const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7";
}
#else
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "halt_on_error=1:abort_on_error=0:exitcode=67:detect_leaks=1:"
	       "allow_user_segv_handler=1";
}
/* The ASan build is ASan+UBSan: by default UBSan only prints a report. */
__attribute__((visibility("default"), used)) const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}
#endif

static enum storm_detector sanitizer_detector(void)
{
#ifdef STORM_ASAN
	const char *desc = __asan_get_report_description();

	return desc && strstr(desc, "use-after-free") ? STORM_DET_USE_AFTER_GRACE : STORM_DET_CRASH;
#else
	return STORM_DET_RACES;
#endif
}

static void on_sanitizer_death(void)
{
	struct storm *s = storm_global;
	enum storm_detector d = sanitizer_detector();

	struct say_line l = {.len = 0};

	if (!s)
		return;
	add(&l, "dlreg-storm: the sanitizer stopped the run (");
	add(&l, storm_detector_name(d));
	add(&l, ")");
	add_where(&l, s);
	say_line(&l);
	/* The sanitizer exits with its own code (-1 here) once this returns. */
	if (!storm_end_claim(s, d, -1))
		storm_end_lost(s);
	storm_report_final(s, false);
	storm_churn_remove();
}
#endif

void storm_fatal_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
	/* Handled once, then the default action: a second signal kills.  A
	 * signal ignored from the start (a background job of a script) stays so. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		struct sigaction old;

		if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		/* Set first: the handler may run as soon as it is installed. */
		stop_handled[i] = true;
		if (sigaction(stop_signals[i], &sa, NULL) != 0)
			stop_handled[i] = false;
	}
#if defined(STORM_TSAN) || defined(STORM_ASAN)
	__sanitizer_set_death_callback(on_sanitizer_death);
#endif
}
