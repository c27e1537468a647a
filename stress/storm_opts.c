/* storm_opts.c - dlreg-storm's command line: parsing, --help, parameter dump. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlreg/dlreg.h"
#include "storm.h"

#ifndef DLREG_STORM_FIXTURE_DIR
#define DLREG_STORM_FIXTURE_DIR "."
#endif

static const char usage_text[] =
        "usage: dlreg-storm [OPTION]...\n"
        "Multithreaded load/unload storm over a shared-library registry variant.\n"
        "Proves no deadlock, race, leak or use-after-free, and reports read latency.\n"
        "\n"
        "  --variant NAME        registry to storm (--list-variants shows them)\n"
        "  --threads N           worker threads (default 2)\n"
        "  --duration SECONDS    run time (default 5)\n"
        "  --ops N               run N operations in total instead (reproducible;\n"
        "                        N >= --threads: each worker runs its share)\n"
        "  --mix OP=W,...        operation weights; unlisted operations get 0. Ops:\n"
        "                        open close read call acquire reopen scan churn\n"
        "                        pinned_read locked_read\n"
        "  --seed N              thread i draws from seed+i (default: from the clock)\n"
        "  --plugins N           use the first N selected plugins (default all)\n"
        "  --fixtures A,B,...    fixture plugins by name (plain00, cb_self, ...)\n"
        "  --fixture-dir DIR     where the fixture plugins are (default: build tree)\n"
        "  --plugins-dir DIR     storm any directory of shared objects instead of\n"
        "                        the fixtures (not with --fixtures);\n"
        "                        answers are checked only for the fixture ABI\n"
        "  --pin A,B,...|none    plugins held open for the whole run (pinned_read\n"
        "                        and locked_read read only these; default plain00)\n"
        "  --max-held N          handles a thread holds at most (default 8)\n"
        "  --hints LIST          hints reopen may use: lazy,global,deepbind or none\n"
        "  --slots N             churned copies: N loadable + N scan-only (default 2)\n"
        "  --churn-thread        one extra thread churning the copies continuously\n"
        "  --slow-loader         one extra thread opening/closing libslow.so\n"
        "  --slow-us N           slow fixture constructor time (default 2000;\n"
        "                        20000 with --slow-loader)\n"
        "  --slow-period-ms N    slow loader: one load per N ms (default 50)\n"
        "  --sample-every N      time every Nth read (default 4; 1 = all)\n"
        "  --read-hold N         spin N iterations inside each read section\n"
        "  --watchdog SECONDS    stall limit per operation (default 10; 0 = off)\n"
        "  --stop-on-failure     end the run as soon as any check fails\n"
        "  --scan-backend B      mmap, read, auto, or mix (default: each scan draws one)\n"
        "  --tmpdir DIR          parent of the private churn directory\n"
        "  --json                final summary as one JSON object on stdout (the\n"
        "                        SUMMARY line then goes to stderr); a run the\n"
        "                        watchdog, a fatal signal or a sanitizer ends\n"
        "                        writes a shorter one (\"partial\": true)\n"
        "  --progress            progress line on stderr every second (default on a TTY)\n"
        "  --no-progress         no progress line\n"
        "  --list-variants       print the variants of this build and exit\n"
        "  -h, --help            this text\n"
        "\n"
        "Ends with one stdout line: SUMMARY variant=.. threads=.. ops=.. ops_per_s=..\n"
        "errors=.. <detector>=<count>... read_p50_ns=.. read_p99_ns=.. read_p999_ns=..\n"
        "read_max_ns=.. read_stalls_1ms=.. detector=.. verdict=SUCCESS|FAILURE.\n"
        "A run that stormed nothing fails: detector=no_operations (no operation\n"
        "completed) or nothing_loaded (every load failed, or nothing was ever loaded,\n"
        "acquired or pinned and nothing was scanned).  SIGINT or SIGTERM stops a run\n"
        "early; it is still checked, reported (detector=interrupted) and cleaned up\n"
        "(a second signal kills at once).  Numbers are plain decimal.\n"
        "Exit: 0 success, 1 a check failed (or stdout could not be written),\n"
        "2 usage, 3 watchdog, 4 fatal signal, 128 + the signal when interrupted\n"
        "(130 SIGINT, 143 SIGTERM; 1 if a check had failed); a sanitizer that stops\n"
        "the run exits with its own code.  Sanitizer defaults as scripts/storm sets\n"
        "them (halt_on_error=1, exitcode 66 TSan, 67 ASan); TSAN_OPTIONS and\n"
        "ASAN_OPTIONS override them.\n";

enum {
	OPT_VARIANT = 256,
	OPT_THREADS,
	OPT_DURATION,
	OPT_OPS,
	OPT_MIX,
	OPT_SEED,
	OPT_PLUGINS,
	OPT_FIXTURES,
	OPT_FIXTURE_DIR,
	OPT_PLUGINS_DIR,
	OPT_PIN,
	OPT_MAX_HELD,
	OPT_HINTS,
	OPT_SLOTS,
	OPT_CHURN_THREAD,
	OPT_SLOW_LOADER,
	OPT_SLOW_US,
	OPT_SLOW_PERIOD,
	OPT_SAMPLE_EVERY,
	OPT_READ_HOLD,
	OPT_WATCHDOG,
	OPT_TMPDIR,
	OPT_SCAN_BACKEND,
	OPT_STOP_ON_FAILURE,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_LIST,
	OPT_HELP,
};

static const struct option long_options[] = {
        {"variant", required_argument, NULL, OPT_VARIANT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"ops", required_argument, NULL, OPT_OPS},
        {"mix", required_argument, NULL, OPT_MIX},
        {"seed", required_argument, NULL, OPT_SEED},
        {"plugins", required_argument, NULL, OPT_PLUGINS},
        {"fixtures", required_argument, NULL, OPT_FIXTURES},
        {"fixture-dir", required_argument, NULL, OPT_FIXTURE_DIR},
        {"plugins-dir", required_argument, NULL, OPT_PLUGINS_DIR},
        {"pin", required_argument, NULL, OPT_PIN},
        {"max-held", required_argument, NULL, OPT_MAX_HELD},
        {"hints", required_argument, NULL, OPT_HINTS},
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"churn-thread", no_argument, NULL, OPT_CHURN_THREAD},
        {"slow-loader", no_argument, NULL, OPT_SLOW_LOADER},
        {"slow-us", required_argument, NULL, OPT_SLOW_US},
        {"slow-period-ms", required_argument, NULL, OPT_SLOW_PERIOD},
        {"sample-every", required_argument, NULL, OPT_SAMPLE_EVERY},
        {"read-hold", required_argument, NULL, OPT_READ_HOLD},
        {"watchdog", required_argument, NULL, OPT_WATCHDOG},
        {"tmpdir", required_argument, NULL, OPT_TMPDIR},
        {"scan-backend", required_argument, NULL, OPT_SCAN_BACKEND},
        {"stop-on-failure", no_argument, NULL, OPT_STOP_ON_FAILURE},
        {"json", no_argument, NULL, OPT_JSON},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"list-variants", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

static int opt_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "dlreg-storm: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, " (try --help)\n");
	return -1;
}

/* Plain decimal only: no sign, space, hex or octal ("010" is ten). */
static int parse_u64(const char *name, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v = 0;
	char *end = NULL;

	errno = 0;
	if (text[0] >= '0' && text[0] <= '9')
		v = strtoull(text, &end, 10);
	if (!end || errno || *end || v < lo || v > hi) {
		char range[64];

		snprintf(range, sizeof(range), "%" PRIu64 "..%" PRIu64, lo, hi);
		fprintf(stderr, "dlreg-storm: --%s: '%s' is not a number in %s (try --help)\n",
		        name, text, range);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_uint(const char *name, const char *text, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;

	if (parse_u64(name, text, lo, hi, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_seconds(const char *name, const char *text, double lo, double *out)
{
	char *end;
	double v;

	/* Decimal only: strtod would also read hex ("0x10"), "inf" and "nan". */
	if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.') ||
	    text[strspn(text, "0123456789.eE+-")] != '\0')
		return opt_error("--%s: '%s' is not a decimal number of seconds", name, text);
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v))
		return opt_error("--%s: '%s' is not a number of seconds", name, text);
	if (v < lo || v > 1e6) {
		char range[96];
		snprintf(range, sizeof range, "%.40s s is outside %g..1e6 s", text, lo);
		return opt_error("--%s: %s", name, range);
	}
	*out = v;
	return 0;
}

/*
 * Names and lists must not be empty: an empty --tmpdir would put the churn
 * directory in "/", an empty --pin or --fixtures would silently select
 * nothing, the default or everything.
 */
static int parse_text(const char *name, const char *text, const char **out)
{
	if (!*text)
		return opt_error("--%s: empty value%s", name, "");
	*out = text;
	return 0;
}

static int parse_hints(const char *text, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"lazy", DLREG_HINT_LAZY},
	             {"global", DLREG_HINT_GLOBAL},
	             {"deepbind", DLREG_HINT_DEEPBIND},
	             {"none", 0}};
	const char *p = text;

	if (!*text)
		return opt_error("--hints: empty value; use %s%s", "lazy,global,deepbind or none", "");
	*out = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i = 0;

		while (i < sizeof(names) / sizeof(names[0]) &&
		       (strlen(names[i].name) != len || memcmp(names[i].name, p, len) != 0))
			i++;
		if (i == sizeof(names) / sizeof(names[0]))
			return opt_error(
			        "--hints: unknown hint in '%s'%s; use lazy,global,deepbind "
			        "or none (nodelete would keep entries for the process "
			        "lifetime and defeat the leak checks)",
			        text, "");
		*out |= names[i].bit;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int parse_backend(const char *text, int *out)
{
	static const char *const names[] = {"mix", "mmap", "read", "auto"};

	for (int i = 0; i < 4; i++)
		if (strcmp(text, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return opt_error("--scan-backend: '%s' is not one of mmap, read, auto, mix%s", text, "");
}

static void opts_defaults(struct storm_config *cfg)
{
	const char *tmp = getenv("TMPDIR");

	memset(cfg, 0, sizeof(*cfg));
	cfg->threads = 2;
	cfg->duration_s = 5;
	cfg->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	cfg->watchdog_s = 10;
	cfg->fixture_dir = DLREG_STORM_FIXTURE_DIR;
	cfg->tmpdir = tmp && *tmp ? tmp : "/tmp";
	cfg->progress = -1;
	cfg->slow_period_ms = 50;
	cfg->max_held = 8;
	cfg->sample_every = 4;
	cfg->slots = 2;
	cfg->hints = DLREG_HINT_LAZY | DLREG_HINT_GLOBAL | DLREG_HINT_DEEPBIND;
	storm_mix_default(&cfg->mix);
}

static void list_variants(void)
{
	for (const struct dlreg_variant_ops *const *v = dlreg_variants; *v; v++)
		printf("%s\t%s\n", (*v)->name, (*v)->description);
}

static int opts_mix(struct storm_config *cfg, const char *text)
{
	char err[256];

	if (storm_mix_parse(text, &cfg->mix, err, sizeof(err)) != 0)
		return opt_error("--mix: %s%s", err, "");
	cfg->mix_given = true;
	return 0;
}

/* One option; 0 to go on, 1 to exit successfully, -1 on error. */
static int opts_one(struct storm_config *cfg, int c, const char *arg, bool *slow_us_given)
{
	switch (c) {
	case OPT_VARIANT:
		return parse_text("variant", arg, &cfg->variant);
	case OPT_THREADS:
		return parse_uint("threads", arg, 1, 256, &cfg->threads);
	case OPT_DURATION:
		return parse_seconds("duration", arg, 0.001, &cfg->duration_s);
	case OPT_OPS:
		return parse_u64("ops", arg, 1, UINT64_MAX / 2, &cfg->ops);
	case OPT_MIX:
		return opts_mix(cfg, arg);
	case OPT_SEED:
		return parse_u64("seed", arg, 0, UINT64_MAX, &cfg->seed);
	case OPT_PLUGINS:
		return parse_uint("plugins", arg, 1, 100000, &cfg->plugins);
	case OPT_FIXTURES:
		return parse_text("fixtures", arg, &cfg->fixtures);
	case OPT_FIXTURE_DIR:
		return parse_text("fixture-dir", arg, &cfg->fixture_dir);
	case OPT_PLUGINS_DIR:
		return parse_text("plugins-dir", arg, &cfg->plugins_dir);
	case OPT_PIN:
		return parse_text("pin", arg, &cfg->pins);
	case OPT_MAX_HELD:
		return parse_uint("max-held", arg, 1, 4096, &cfg->max_held);
	case OPT_HINTS:
		return parse_hints(arg, &cfg->hints);
	case OPT_SLOTS:
		return parse_uint("slots", arg, 0, 64, &cfg->slots);
	case OPT_CHURN_THREAD:
		cfg->churn_thread = true;
		return 0;
	case OPT_SLOW_LOADER:
		cfg->slow_loader = true;
		return 0;
	case OPT_SLOW_US:
		*slow_us_given = true;
		return parse_uint("slow-us", arg, 0, 10000000, &cfg->slow_us);
	case OPT_SLOW_PERIOD:
		return parse_uint("slow-period-ms", arg, 1, 100000, &cfg->slow_period_ms);
	case OPT_SAMPLE_EVERY:
		return parse_uint("sample-every", arg, 1, 1000000, &cfg->sample_every);
	case OPT_READ_HOLD:
		return parse_uint("read-hold", arg, 0, 100000000, &cfg->read_hold);
	case OPT_WATCHDOG:
		return parse_seconds("watchdog", arg, 0, &cfg->watchdog_s);
	case OPT_TMPDIR:
		return parse_text("tmpdir", arg, &cfg->tmpdir);
	case OPT_SCAN_BACKEND:
		return parse_backend(arg, &cfg->scan_backend);
	case OPT_STOP_ON_FAILURE:
		cfg->stop_on_failure = true;
		return 0;
	case OPT_JSON:
		cfg->json = true;
		return 0;
	case OPT_PROGRESS:
		cfg->progress = 1;
		return 0;
	case OPT_NO_PROGRESS:
		cfg->progress = 0;
		return 0;
	case OPT_LIST:
		list_variants();
		return 1;
	case OPT_HELP:
		fputs(usage_text, stdout);
		return 1;
	default:
		return -1;
	}
}

int storm_opts_parse(int argc, char **argv, struct storm_config *cfg)
{
	bool slow_us_given = false;
	int c, rc;

	opts_defaults(cfg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (c == '?') {
			const char *bad = argv[optind - 1];
			char flag[3] = {'-', (char)optopt, '\0'};

			/* An unknown short option: optind has not moved past its
			 * argument if more letters follow ("-xy"), so argv names
			 * another one; optopt is the letter. */
			if (optopt > 0 && optopt < 256 && optopt != 'h')
				return opt_error("unknown option '%s'%s", flag, "");
			return opt_error("unknown option or missing value: '%s'%s", bad, "");
		}
		rc = opts_one(cfg, c == 'h' ? OPT_HELP : c, optarg, &slow_us_given);
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return opt_error("unexpected argument '%s'%s", argv[optind], "");
	/* --plugins-dir storms the whole directory: a --fixtures list would be ignored. */
	if (cfg->plugins_dir && cfg->fixtures)
		return opt_error("--fixtures selects fixture plugins; it cannot be combined with "
		                 "--plugins-dir%s%s",
		                 "", "");
	/* Each worker runs its share of --ops; a share of 0 would mean "until stopped". */
	if (cfg->ops && cfg->ops < cfg->threads) {
		char ops[24], threads[16];

		snprintf(ops, sizeof(ops), "%" PRIu64, cfg->ops);
		snprintf(threads, sizeof(threads), "%u", cfg->threads);
		return opt_error("--ops %s is below --threads %s: every worker needs at least one "
		                 "operation",
		                 ops, threads);
	}
	if (!slow_us_given)
		cfg->slow_us = cfg->slow_loader ? 20000 : 2000;
	if (cfg->watchdog_s > 0 && cfg->watchdog_s * 1e6 <= 2.0 * cfg->slow_us) {
		fprintf(stderr,
		        "dlreg-storm: --watchdog must exceed twice the slow constructor time "
		        "(%u us) (try --help)\n",
		        cfg->slow_us);
		return -1;
	}
	return 0;
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_hints(unsigned hints)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{DLREG_HINT_LAZY, "lazy"},
	             {DLREG_HINT_GLOBAL, "global"},
	             {DLREG_HINT_DEEPBIND, "deepbind"}};
	const char *sep = "";
	fputs("dlreg-storm: hints=", stderr);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (hints & names[i].bit) {
			fprintf(stderr, "%s%s", sep, names[i].name);
			sep = ",";
		}
	}
	fputs(*sep ? "\n" : "none\n", stderr);
}

static void print_threads(const struct storm *s)
{
	for (unsigned i = 0; i < s->nthreads; i++) {
		const struct storm_thread *t = &s->threads[i];

		if (strcmp(t->role, "main") == 0)
			continue;
		fprintf(stderr,
		        "dlreg-storm: thread %u role=%s seed=%" PRIu64 " ops_target=%" PRIu64 "\n",
		        t->index, t->role, t->seed, t->ops_target);
	}
}

void storm_opts_print(const struct storm *s)
{
	const struct storm_config *c = &s->cfg;
	char mix[512];

	storm_mix_format(&c->mix, mix, sizeof(mix));
	fprintf(stderr, "dlreg-storm: variant=%s (%s)\n", s->ops->name, s->ops->description);
	fprintf(stderr,
	        "dlreg-storm: threads=%u duration_s=%.3f ops=%" PRIu64 " seed=%" PRIu64 "\n",
	        c->threads, c->ops ? 0.0 : c->duration_s, c->ops, c->seed);
	fprintf(stderr, "dlreg-storm: mix=%s\n", mix);
	fprintf(stderr, "dlreg-storm: plugins=%zu openable=%zu scannable=%zu pins=%zu dir=%s\n",
	        s->cat.n, s->cat.n_openable, s->cat.n_scannable, s->cat.n_pins,
	        c->plugins_dir ? c->plugins_dir : c->fixture_dir);
	fprintf(stderr, "dlreg-storm: max_held=%u slots=%u churn_thread=%s churn_dir=%s\n",
	        c->max_held, c->slots, yes_no(c->churn_thread), s->churn_dir ? s->churn_dir : "-");
	fprintf(stderr, "dlreg-storm: slow_loader=%s slow_us=%u slow_period_ms=%u\n",
	        yes_no(c->slow_loader), c->slow_us, c->slow_period_ms);
	fprintf(stderr,
	        "dlreg-storm: sample_every=%u read_hold=%u watchdog_s=%.3f stop_on_failure=%s "
	        "json=%s\n",
	        c->sample_every, c->read_hold, c->watchdog_s, yes_no(c->stop_on_failure),
	        yes_no(c->json));
	fprintf(stderr, "dlreg-storm: scan_backend=%s\n",
	        (const char *const[]){"mix", "mmap", "read", "auto"}[c->scan_backend]);
	print_hints(c->hints);
	fprintf(stderr, "dlreg-storm: scanner=%s sanitizer=%s\n",
	        storm_scan_available() ? "yes" : "no", s->sanitized ? "yes" : "no");
	print_threads(s);
}
