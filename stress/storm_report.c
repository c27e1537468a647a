/*
 * storm_report.c - progress lines, the final SUMMARY line and JSON.
 *
 * The SUMMARY line is also written from the watchdog and from fatal-signal
 * and sanitizer-death handlers, so building it is async-signal-safe: relaxed
 * atomic loads of the threads' counters and histograms, integer formatting
 * into a stack buffer, one write(2).  It is written at most once per run.
 * With --json those endings write a shorter JSON object the same way
 * ("partial": true, no per-thread detail), so stdout is always JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storm.h"

#define STORM_MAX_HISTS 512

static const char *const detector_names[STORM_DET_COUNT] = {
        [STORM_DET_USE_AFTER_GRACE] = "use_after_grace",
        [STORM_DET_LEAKS] = "leaks",
        [STORM_DET_WATCHDOG] = "watchdog",
        [STORM_DET_RACES] = "races",
        [STORM_DET_INVARIANTS] = "invariants",
        [STORM_DET_CRASH] = "crash",
};

/* Which detector names a failed run: the most specific symptom first. */
static const enum storm_detector detector_priority[STORM_DET_COUNT] = {
        STORM_DET_WATCHDOG,        STORM_DET_CRASH,      STORM_DET_RACES,
        STORM_DET_USE_AFTER_GRACE, STORM_DET_INVARIANTS, STORM_DET_LEAKS,
};

const char *storm_detector_name(enum storm_detector d)
{
	return (unsigned)d < STORM_DET_COUNT ? detector_names[d] : "?";
}

struct totals {
	uint64_t c[SC_COUNT];
	uint64_t det[STORM_DET_COUNT];
	uint64_t elapsed_ns;
	uint64_t p50, p99, p999, max, samples, stalls;
	uint64_t helper_ops; /* slow-loader and churner cycles: not in c[SC_OPS] */
};

/* A read this slow waited for something (a lock, the loader) or was preempted. */
#define STORM_STALL_NS 1000000u

static void collect(struct storm *s, struct totals *tt)
{
	struct storm_hist *hists[STORM_MAX_HISTS];
	size_t nh = 0;
	uint64_t end = atomic_load_explicit(&s->end_ns, memory_order_relaxed), start;

	memset(tt, 0, sizeof(*tt));
	for (unsigned i = 0; i < s->nthreads; i++) {
		/* "ops" is what the workers did, the N of --ops; the helper
		 * threads' cycles count toward their own progress only. */
		const char *role = s->threads[i].role;
		bool helper = role && strcmp(role, "worker") != 0;

		for (int c = 0; c < SC_COUNT; c++) {
			uint64_t v = atomic_load_explicit(&s->threads[i].counters[c],
			                                  memory_order_relaxed);

			if (c == SC_OPS && helper)
				tt->helper_ops += v;
			else
				tt->c[c] += v;
		}
		if (nh < STORM_MAX_HISTS)
			hists[nh++] = &s->threads[i].hist;
	}
	for (int d = 0; d < STORM_DET_COUNT; d++)
		tt->det[d] = atomic_load_explicit(&s->detectors[d], memory_order_relaxed);
	tt->det[STORM_DET_USE_AFTER_GRACE] += tt->c[SC_USE_AFTER_GRACE];
	tt->det[STORM_DET_INVARIANTS] += tt->c[SC_INVARIANTS];
	/* 0 before the workers started (a watchdog firing while pins open). */
	start = atomic_load_explicit(&s->start_ns, memory_order_relaxed);
	tt->elapsed_ns = start ? (end ? end : storm_now_ns()) - start : 0;
	tt->samples = storm_hist_total(hists, nh);
	tt->p50 = storm_hist_quantile(hists, nh, 500000);
	tt->p99 = storm_hist_quantile(hists, nh, 990000);
	tt->p999 = storm_hist_quantile(hists, nh, 999000);
	tt->max = storm_hist_max(hists, nh);
	tt->stalls = storm_hist_count_above(hists, nh, STORM_STALL_NS);
}

/*
 * Every load of the selected plugins failed (a directory of junk): the
 * storm exercised nothing but the churned copies of the build's fixtures,
 * so it cannot pass.
 */
static bool selected_never_loaded(const struct storm *s, const struct totals *tt)
{
	return tt->c[SC_OPEN_FAILS] > 0 && tt->c[SC_SELECTED_LOADS] == 0 && s->pins_loaded == 0;
}

/*
 * Nothing was ever in the registry (a read-only mix without pins, a
 * churn-only mix): every read missed, nothing could be released under a
 * reader, so no check had anything to see.  A scan-only mix loads nothing
 * by design and still exercises the scanner: that is a run, also when its
 * scans end in the errors they must (a plain plugin has no metadata:
 * scan_errors, not scans).
 */
static bool never_loaded(const struct storm *s, const struct totals *tt)
{
	return tt->c[SC_OPENS] + tt->c[SC_ACQUIRES] == 0 && s->pins_loaded == 0 &&
	       tt->c[SC_SCANS] + tt->c[SC_SCAN_ERRORS] == 0;
}

/* What the verdict rests on: a detector, or what else the SUMMARY names. */
enum storm_reason {
	REASON_NONE,
	REASON_DETECTOR, /* the detector in *first */
	REASON_ERRORS,
	REASON_INTERRUPTED,
	REASON_NO_OPERATIONS,
	REASON_NOTHING_LOADED,
};

/* The signal that interrupted the run, 0 if none (or the run was over). */
static int interrupt_of(struct storm *s)
{
	int sig = atomic_load_explicit(&s->interrupted, memory_order_relaxed);

	return sig > 0 ? sig : 0;
}

int storm_report_close_interrupts(struct storm *s)
{
	int none = 0;

	/* Fails only if a signal came first: then that one stays. */
	atomic_compare_exchange_strong_explicit(&s->interrupted, &none, -1, memory_order_relaxed,
	                                        memory_order_relaxed);
	return interrupt_of(s);
}

static enum storm_reason verdict_of(struct storm *s, const struct totals *tt,
                                    enum storm_detector *first)
{
	int ended = atomic_load_explicit(&s->end_detector, memory_order_acquire);

	/* A fatal ending names the detector whose exit code ends the run. */
	if (ended > 0) {
		*first = (enum storm_detector)(ended - 1);
		return REASON_DETECTOR;
	}
	*first = STORM_DET_COUNT;
	for (int i = 0; i < STORM_DET_COUNT; i++)
		if (tt->det[detector_priority[i]]) {
			*first = detector_priority[i];
			return REASON_DETECTOR;
		}
	if (tt->c[SC_ERRORS])
		return REASON_ERRORS;
	/* A cut-short run proves nothing, and says so before what it missed. */
	if (interrupt_of(s))
		return REASON_INTERRUPTED;
	if (tt->c[SC_OPS] == 0)
		return REASON_NO_OPERATIONS;
	if (selected_never_loaded(s, tt) || never_loaded(s, tt))
		return REASON_NOTHING_LOADED;
	return REASON_NONE;
}

/* The SUMMARY's detector= value. */
static const char *detector_label(enum storm_reason why, enum storm_detector first)
{
	switch (why) {
	case REASON_DETECTOR:
		return detector_names[first];
	case REASON_ERRORS:
		return "errors";
	case REASON_INTERRUPTED:
		return "interrupted";
	case REASON_NO_OPERATIONS:
		return "no_operations";
	case REASON_NOTHING_LOADED:
		return "nothing_loaded";
	default:
		return "none";
	}
}

int storm_report_verdict(struct storm *s)
{
	enum storm_detector first;
	enum storm_reason why;
	struct totals tt;

	collect(s, &tt);
	why = verdict_of(s, &tt, &first);
	if (why == REASON_NONE)
		return STORM_EXIT_SUCCESS;
	if (why == REASON_INTERRUPTED)
		return STORM_EXIT_INTERRUPTED +
		       interrupt_of(s);
	return STORM_EXIT_FAILURE;
}

bool storm_report_failed_yet(struct storm *s)
{
	static const enum storm_counter failing[] = {SC_ERRORS, SC_USE_AFTER_GRACE, SC_INVARIANTS};

	for (int d = 0; d < STORM_DET_COUNT; d++)
		if (atomic_load_explicit(&s->detectors[d], memory_order_relaxed))
			return true;
	for (unsigned i = 0; i < s->nthreads; i++)
		for (size_t k = 0; k < sizeof(failing) / sizeof(failing[0]); k++)
			if (atomic_load_explicit(&s->threads[i].counters[failing[k]],
			                         memory_order_relaxed))
				return true;
	return false;
}

/* ---- async-signal-safe line building ---- */

struct line {
	char buf[2048];
	size_t len;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void put_u64(struct line *l, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--n];
}

static void put_kv(struct line *l, const char *key, uint64_t v)
{
	put_str(l, " ");
	put_str(l, key);
	put_str(l, "=");
	put_u64(l, v);
}

static uint64_t ops_per_s(const struct totals *tt)
{
	if (tt->elapsed_ns == 0)
		return 0;
	return (uint64_t)((double)tt->c[SC_OPS] * 1e9 / (double)tt->elapsed_ns);
}

static void summary_line(struct storm *s, const struct totals *tt, struct line *l)
{
	enum storm_detector first;
	enum storm_reason why = verdict_of(s, tt, &first);

	l->len = 0;
	put_str(l, "SUMMARY variant=");
	put_str(l, s->ops->name);
	put_kv(l, "threads", s->nworkers);
	put_kv(l, "ops", tt->c[SC_OPS]);
	put_kv(l, "ops_per_s", ops_per_s(tt));
	put_kv(l, "errors", tt->c[SC_ERRORS]);
	for (int d = 0; d < STORM_DET_COUNT; d++)
		put_kv(l, detector_names[d], tt->det[d]);
	put_kv(l, "read_p50_ns", tt->p50);
	put_kv(l, "read_p99_ns", tt->p99);
	put_kv(l, "read_p999_ns", tt->p999);
	put_kv(l, "read_max_ns", tt->max);
	put_kv(l, "read_stalls_1ms", tt->stalls);
	put_str(l, " detector=");
	put_str(l, detector_label(why, first));
	put_str(l, why != REASON_NONE ? " verdict=FAILURE\n" : " verdict=SUCCESS\n");
}

/* A JSON string; every name written here is ASCII, but stay valid anyway. */
static void put_json_str(struct line *l, const char *s)
{
	put_str(l, "\"");
	for (; *s && l->len < sizeof(l->buf) - 8; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			l->buf[l->len++] = '\\';
			l->buf[l->len++] = (char)c;
		} else if (c < 0x20) {
			put_str(l, "\\u00");
			l->buf[l->len++] = "0123456789abcdef"[c >> 4];
			l->buf[l->len++] = "0123456789abcdef"[c & 15];
		} else {
			l->buf[l->len++] = (char)c;
		}
	}
	put_str(l, "\"");
}

static void put_json_u64(struct line *l, const char *key, uint64_t v, bool comma)
{
	if (comma)
		put_str(l, ",");
	put_json_str(l, key);
	put_str(l, ":");
	put_u64(l, v);
}

/*
 * The JSON object of a run a fatal ending stopped (watchdog, fatal signal,
 * sanitizer): the fields of the full object that need no stdio, in its
 * key names, and "partial": true.  Async-signal-safe like summary_line.
 */
static void json_partial(struct storm *s, const struct totals *tt, struct line *l)
{
	enum storm_detector first;
	enum storm_reason why = verdict_of(s, tt, &first);
	uint64_t ms = tt->elapsed_ns / 1000000u;

	l->len = 0;
	put_str(l, "{\"variant\":");
	put_json_str(l, s->ops->name);
	put_json_u64(l, "threads", s->nworkers, true);
	put_json_u64(l, "seed", s->cfg.seed, true);
	put_json_u64(l, "ops", tt->c[SC_OPS], true);
	put_json_u64(l, "helper_ops", tt->helper_ops, true);
	put_str(l, ",\"elapsed_s\":");
	put_u64(l, ms / 1000);
	put_str(l, ".");
	put_u64(l, ms % 1000 / 100);
	put_u64(l, ms % 100 / 10);
	put_u64(l, ms % 10);
	put_json_u64(l, "ops_per_s", ops_per_s(tt), true);
	put_json_u64(l, "errors", tt->c[SC_ERRORS], true);
	put_str(l, ",\"detectors\":{");
	for (int d = 0; d < STORM_DET_COUNT; d++)
		put_json_u64(l, detector_names[d], tt->det[d], d > 0);
	put_str(l, "},\"read_latency_ns\":{");
	put_json_u64(l, "samples", tt->samples, false);
	put_json_u64(l, "p50", tt->p50, true);
	put_json_u64(l, "p99", tt->p99, true);
	put_json_u64(l, "p999", tt->p999, true);
	put_json_u64(l, "max", tt->max, true);
	put_json_u64(l, "stalls_1ms", tt->stalls, true);
	put_str(l, "},\"detector\":");
	put_json_str(l, detector_label(why, first));
	put_str(l, why != REASON_NONE ? ",\"verdict\":\"FAILURE\"" : ",\"verdict\":\"SUCCESS\"");
	put_str(l, ",\"partial\":true}\n");
}

/* 0, or the errno of the failed write. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- JSON (normal exit only) ---- */

static void json_threads(struct storm *s)
{
	printf("\"thread_detail\":[");
	for (unsigned i = 0; i < s->nthreads; i++) {
		const struct storm_thread *t = &s->threads[i];

		printf("%s{\"index\":%u,\"role\":\"%s\",\"seed\":%" PRIu64 ",\"ops\":%" PRIu64
		       ",\"sequence\":\"%016" PRIx64 "\"}",
		       i ? "," : "", t->index, t->role, t->seed,
		       atomic_load_explicit(&t->counters[SC_OPS], memory_order_relaxed),
		       t->seq_hash);
	}
	printf("]");
}

static void json_counters(const struct totals *tt)
{
	printf("\"counters\":{\"opens\":%" PRIu64 ",\"open_fails\":%" PRIu64 ",\"closes\":%" PRIu64
	       ",\"read_hits\":%" PRIu64 ",\"read_misses\":%" PRIu64 ",\"calls\":%" PRIu64
	       ",\"acquires\":%" PRIu64 ",\"acquire_misses\":%" PRIu64 ",\"scans\":%" PRIu64
	       ",\"scan_errors\":%" PRIu64 ",\"churns\":%" PRIu64 "}",
	       tt->c[SC_OPENS], tt->c[SC_OPEN_FAILS], tt->c[SC_CLOSES], tt->c[SC_READ_HITS],
	       tt->c[SC_READ_MISSES], tt->c[SC_CALLS], tt->c[SC_ACQUIRES], tt->c[SC_ACQUIRE_MISSES],
	       tt->c[SC_SCANS], tt->c[SC_SCAN_ERRORS], tt->c[SC_CHURNS]);
}

static void json_summary(struct storm *s, const struct totals *tt)
{
	enum storm_detector first;
	enum storm_reason why = verdict_of(s, tt, &first);

	printf("{\"variant\":\"%s\",\"threads\":%u,\"seed\":%" PRIu64 ",\"ops\":%" PRIu64
	       ",\"helper_ops\":%" PRIu64 ",\"elapsed_s\":%.3f,\"ops_per_s\":%" PRIu64
	       ",\"errors\":%" PRIu64 ",\"detectors\":{",
	       s->ops->name, s->nworkers, s->cfg.seed, tt->c[SC_OPS], tt->helper_ops,
	       (double)tt->elapsed_ns / 1e9, ops_per_s(tt), tt->c[SC_ERRORS]);
	for (int d = 0; d < STORM_DET_COUNT; d++)
		printf("%s\"%s\":%" PRIu64, d ? "," : "", detector_names[d], tt->det[d]);
	printf("},\"read_latency_ns\":{\"samples\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
	       ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 ",\"stalls_1ms\":%" PRIu64 "},",
	       tt->samples, tt->p50, tt->p99, tt->p999, tt->max, tt->stalls);
	json_counters(tt);
	printf(",");
	json_threads(s);
	printf(",\"detector\":\"%s\",\"verdict\":\"%s\",\"partial\":false}\n",
	       detector_label(why, first), why != REASON_NONE ? "FAILURE" : "SUCCESS");
}

int storm_report_final(struct storm *s, bool normal_exit)
{
	bool json = s->cfg.json;
	struct totals tt;
	struct line l;
	int err = 0;

	if (atomic_exchange_explicit(&s->summary_done, 1, memory_order_acq_rel))
		return 0;
	collect(s, &tt);
	if (json && normal_exit) {
		json_summary(s, &tt);
		if (fflush(stdout) != 0)
			err = errno ? errno : EIO;
		else if (ferror(stdout))
			err = EIO;
	} else if (json) {
		/* No stdio here: a stalled or crashed thread may hold its lock. */
		json_partial(s, &tt, &l);
		err = write_all(1, l.buf, l.len);
	}
	summary_line(s, &tt, &l);
	/* With --json the SUMMARY is only a copy for the log: stdout holds the report. */
	if (json)
		write_all(2, l.buf, l.len);
	else
		err = write_all(1, l.buf, l.len);
	return err;
}

void storm_report_progress(struct storm *s)
{
	struct totals tt;

	collect(s, &tt);
	fprintf(stderr,
	        "dlreg-storm: [%7.1fs] ops=%" PRIu64 " ops/s=%" PRIu64 " reads=%" PRIu64
	        " errors=%" PRIu64 " uag=%" PRIu64 " inv=%" PRIu64 " read_p99.9=%" PRIu64 "ns\n",
	        (double)tt.elapsed_ns / 1e9, tt.c[SC_OPS], ops_per_s(&tt),
	        tt.c[SC_READ_HITS] + tt.c[SC_READ_MISSES], tt.c[SC_ERRORS],
	        tt.det[STORM_DET_USE_AFTER_GRACE], tt.det[STORM_DET_INVARIANTS], tt.p999);
}

void storm_report_counters(struct storm *s)
{
	int sig = interrupt_of(s);
	struct totals tt;

	collect(s, &tt);
	fprintf(stderr,
	        "dlreg-storm: elapsed_s=%.3f counters opens=%" PRIu64 " open_fails=%" PRIu64
	        " closes=%" PRIu64 " read_hits=%" PRIu64 " read_misses=%" PRIu64 " calls=%" PRIu64
	        " acquires=%" PRIu64 " acquire_misses=%" PRIu64 " scans=%" PRIu64
	        " scan_errors=%" PRIu64 " scan_faults_caught=%" PRIu64 " churns=%" PRIu64
	        " read_samples=%" PRIu64 "\n",
	        (double)tt.elapsed_ns / 1e9, tt.c[SC_OPENS], tt.c[SC_OPEN_FAILS], tt.c[SC_CLOSES],
	        tt.c[SC_READ_HITS], tt.c[SC_READ_MISSES], tt.c[SC_CALLS], tt.c[SC_ACQUIRES],
	        tt.c[SC_ACQUIRE_MISSES], tt.c[SC_SCANS], tt.c[SC_SCAN_ERRORS], storm_scan_faults(),
	        tt.c[SC_CHURNS], tt.samples);
	if (sig)
		fprintf(stderr, "dlreg-storm: interrupted by %s: the run is incomplete\n",
		        sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
	else if (tt.c[SC_OPS] == 0)
		fprintf(stderr, "dlreg-storm: no operation completed (the run ended before any "
		                "thread finished one): nothing was stormed\n");
	else if (selected_never_loaded(s, &tt))
		fprintf(stderr,
		        "dlreg-storm: no plugin from '%s' ever loaded (%" PRIu64
		        " opens failed): nothing was stormed\n",
		        s->cfg.plugins_dir ? s->cfg.plugins_dir : s->cfg.fixture_dir,
		        tt.c[SC_OPEN_FAILS]);
	else if (never_loaded(s, &tt))
		fprintf(stderr,
		        "dlreg-storm: no plugin was ever loaded, acquired or pinned and nothing was "
		        "scanned (%" PRIu64 " reads, all misses): nothing was stormed\n",
		        tt.c[SC_READ_MISSES]);
}
