/*
 * registry_bench.c - dlreg-bench: the registry benchmarks.
 *
 * Every benchmark runs one body over several variants (variant.h: dlreg and
 * the Qt-style and GModule-style references, plus the "dlopen" and "unsync"
 * baselines of baselines.h) on 1, 2 and 4 threads, in one process, so the
 * ratios between variants come from the same run on the same machine.
 *
 *   registry/read_sym/V       begin, lookup (path, name), end; 12 loaded
 *                             plugins x 3 symbols, every cache warm; the
 *                             same 36 string pairs (the same addresses)
 *                             every time, as from literals at call sites
 *   registry/read_sym_copies/V
 *                             the same lookups, each key string taken from
 *                             64 copies in turn: equal strings at other
 *                             addresses, as from strings built per call
 *                             (dlreg's pointer-keyed memo never hits)
 *   registry/open_close/V     open + close of a library V already holds
 *   registry/churn/V          open, close, quiesce of a library nobody else
 *                             holds: a real dlopen and dlclose every time
 *                             (one plugin per thread)
 *   registry/read_sym_ref/V   read_sym on one thread with the unsync table
 *                             as a reference timed between batches; the
 *                             counter vs_unsync cancels the host's drift
 *   registry/read_latency/V   read_sym timed one by one while a separate
 *                             thread loads a plugin whose constructor
 *                             sleeps; counters give percentiles in ns
 *
 * Times are wall-clock (UseRealTime) per operation of all threads together,
 * so for a fixed amount of work time/op halves when two threads scale.
 */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "baselines.h"
#include "dlreg/dlreg.h"
#include "dlreg_bench.h"
#include "fixture_abi.h"
#include "fixture_host.h"
#include "latency_hist.h"
#include "reference.h"
#include "variant.h"
#include "variant_dlreg.h"

#ifndef DLREG_BENCH_FIXTURE_DIR
#error "build with -DDLREG_BENCH_FIXTURE_DIR=\"...\" (the fixture plugins' directory)"
#endif

#define PROG "dlreg-bench"

/* Found by the fixture plugins with dlsym (exported: -rdynamic). */
struct dlreg_fixture_host dlreg_fixture_host_instance;

#define READ_PLUGINS 12u  /* libplain00..11: held for the whole run */
#define CHURN_PLUGINS 12u /* libplain12..23: loaded and unloaded */
#define READ_NAMES 3u
#define READ_KEYS (READ_PLUGINS * READ_NAMES)
#define KEY_COPIES 64u
#define COPY_KEYS (READ_KEYS * KEY_COPIES)
#define STALL_NS 100000u /* a read slower than this waited for something */

struct options {
	const char *fixture_dir;
	unsigned long slow_ctor_us;
	unsigned long loader_gap_us;
};

struct read_key {
	const char *path;
	const char *name;
};

struct bench_variant {
	const struct dlreg_variant_ops *ops;
	void *reg;
	void *held[READ_PLUGINS];
	unsigned nheld;
};

/* A read_sym family: a variant and the keys it cycles through. */
struct read_case {
	struct bench_variant *v;
	const struct read_key *keys;
	size_t nkeys;
};

/* A read_latency run: the loader thread and the readers' merged histogram. */
struct latency_case {
	struct bench_variant *v;
	pthread_t loader;
	bool loader_running;
	atomic_bool stop;
	atomic_ulong loads;
	atomic_ulong load_errors;
	pthread_mutex_t lock;
	struct latency_hist hist;
	int done;
};

static const char *const read_names[READ_NAMES] = {
        DLREG_FIXTURE_SYM_ID,
        DLREG_FIXTURE_SYM_KIND,
        DLREG_FIXTURE_SYM_ANSWER,
};

static char plain_paths[READ_PLUGINS + CHURN_PLUGINS][PATH_MAX];
static char slow_path[PATH_MAX];
static struct read_key read_keys[READ_KEYS];
/* KEY_COPIES copies of read_keys' strings, copy by copy (copy_arena). */
static struct read_key copy_keys[COPY_KEYS];
static char *copy_arena;
static struct options opt = {
        .fixture_dir = DLREG_BENCH_FIXTURE_DIR,
        .slow_ctor_us = 2000,
        .loader_gap_us = 3000,
};

/* The program's variant table (variant.h), in report order. */
const struct dlreg_variant_ops *const dlreg_variants[] = {
        &dlreg_variant_dlreg,    &dlreg_variant_qt,       &dlreg_variant_gmodule,
        &dlreg_bench_dlopen_ops, &dlreg_bench_unsync_ops, NULL,
};
static const char *const variant_names[] = {"dlreg", "qt", "gmodule", "dlopen", "unsync"};
#define NVARIANTS (sizeof(variant_names) / sizeof(variant_names[0]))
static struct bench_variant variants[NVARIANTS];
static struct read_case read_cases[NVARIANTS], copy_cases[NVARIANTS];
static struct latency_case latency_cases[NVARIANTS];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned long us)
{
	struct timespec left = {.tv_sec = (time_t)(us / 1000000u),
	                        .tv_nsec = (long)(us % 1000000u) * 1000};

	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ variants --- */

/* Fills every symbol cache and checks that each symbol is its file's. */
static int variant_warm(struct bench_variant *v)
{
	void *rd = v->ops->reader(v->reg);

	if (!rd)
		return DLREG_ENOMEM;
	for (unsigned i = 0; i < READ_PLUGINS; i++) {
		void *syms[READ_NAMES] = {NULL};
		int err = DLREG_OK;

		v->ops->read_begin(rd);
		for (unsigned j = 0; j < READ_NAMES && !err; j++)
			err = v->ops->read_sym(rd, plain_paths[i], read_names[j], &syms[j]);
		if (!err && dlreg_fixture_check(syms[0], syms[1], syms[2],
		                                dlreg_fixture_expected_id(plain_paths[i]), i) != 0)
			err = DLREG_EINVAL;
		v->ops->read_end(rd);
		if (err)
			return err;
	}
	return DLREG_OK;
}

static int variant_prepare(struct bench_variant *v, const char *name)
{
	v->ops = dlreg_variant_find(name);
	if (!v->ops) {
		fprintf(stderr, "%s: variant '%s' is not compiled in\n", PROG, name);
		return -1;
	}
	int err = v->ops->create(&v->reg);
	const char *what = "creating the registry";

	for (unsigned i = 0; !err && i < READ_PLUGINS; i++) {
		what = plain_paths[i];
		err = v->ops->open(v->reg, plain_paths[i], 0, &v->held[i]);
		v->nheld += err == DLREG_OK;
	}
	if (!err) {
		what = "looking their symbols up";
		err = variant_warm(v);
	}
	if (err) {
		fprintf(stderr, "%s: variant '%s' cannot load the fixtures: %s: %s\n", PROG, name,
		        what, dlreg_strerror(err));
		return -1;
	}
	return 0;
}

/* Drops the held references and reports what the variant still holds. */
static int variant_release(struct bench_variant *v)
{
	unsigned long leaked = 0;
	int bad = 0;

	if (!v->reg)
		return 0;
	for (unsigned i = 0; i < v->nheld; i++)
		bad |= v->ops->close(v->reg, v->held[i]) != DLREG_OK;
	bad |= v->ops->quiesce(v->reg) != DLREG_OK;
	bad |= v->ops->destroy(v->reg, &leaked) != DLREG_OK;
	if (bad || leaked) {
		fprintf(stderr, "%s: variant '%s' did not release cleanly (%lu still referenced)\n",
		        PROG, v->ops->name, leaked);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- bodies --- */

/* Ends a run that hit an error, naming the operation and the error. */
static void bench_fail(dlreg_bench_state_t *st, const char *op, int err)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s failed: %s", op, dlreg_strerror(err));
	dlreg_bench_skip_with_error(st, msg);
}

/* n lookups of V from key *k on; nonzero if one failed. */
static int lookup_run(const struct dlreg_variant_ops *ops, void *rd, const struct read_key *keys,
                      size_t nkeys, size_t *k, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		void *sym = NULL;

		ops->read_begin(rd);
		bad |= ops->read_sym(rd, keys[*k].path, keys[*k].name, &sym);
		ops->read_end(rd);
		DLREG_BENCH_DO_NOT_OPTIMIZE(sym);
		bad |= sym == NULL;
		if (++*k == nkeys)
			*k = 0;
	}
	return bad;
}

/*
 * Bodies report a failure with skip_with_error inside the loop and let the
 * next keep_running return false, so every thread still meets Google
 * Benchmark's end-of-run barrier.
 */
static void bench_read_sym(dlreg_bench_state_t *st, void *data)
{
	const struct read_case *c = data;
	struct bench_variant *v = c->v;
	void *rd = v->ops->reader(v->reg);
	/* Threads start at different keys so they do not walk in lockstep. */
	size_t k = (size_t)dlreg_bench_thread_index(st) * 7u % c->nkeys;
	size_t n;

	if (!rd)
		dlreg_bench_skip_with_error(st, "no reader");
	while (dlreg_bench_keep_running_batch(st, &n))
		if (lookup_run(v->ops, rd, c->keys, c->nkeys, &k, n))
			dlreg_bench_skip_with_error(st, "read_sym failed");
	dlreg_bench_set_items_processed(st, dlreg_bench_iterations_done(st));
}

/*
 * read_sym_ref/V: the read_sym body on one thread, against a reference
 * measured in the same thread, batch by batch.
 *
 * On this kind of shared VM a core's speed at loads and stores changes
 * with the host's load for a second or more at a time: read_sym here runs
 * at ~28 ns most of the time and at ~17 ns in fast spells, and the
 * unsynchronised table moves by the same factor (45 -> 27 ns) while a
 * chain of dependent adds does not move at all, so it is the memory side
 * that changes, not the clock.  Times from different processes then spread
 * by 10-20 %, and an A/B comparison of two builds cannot see a few
 * percent.  This body times each batch of V's lookups (manual time: the
 * wall time of V's lookups only) and, between batches, REF_LOOKUPS lookups
 * of the unsynchronised table (bench/baselines.c, no dlreg code).  The
 * counter "vs_unsync" is V's time per lookup over the reference's, both
 * summed over the run: a spell that slows or speeds both cancels out,
 * a change in V's code does not.
 */
#define REF_LOOKUPS 256u

static const struct bench_variant *ref_variant; /* the unsync baseline */

static void bench_read_sym_ref(dlreg_bench_state_t *st, void *data)
{
	struct bench_variant *v = data;
	const struct dlreg_variant_ops *ref_ops = ref_variant->ops;
	void *rd = v->ops->reader(v->reg);
	void *ref_rd = ref_ops->reader(ref_variant->reg);
	size_t k = 0, ref_k = 0, n;
	uint64_t lookup_ns = 0, ref_ns = 0, refs = 0;

	if (!rd || !ref_rd)
		dlreg_bench_skip_with_error(st, "no reader");
	while (dlreg_bench_keep_running_batch(st, &n)) {
		uint64_t t0 = now_ns();
		int bad = lookup_run(v->ops, rd, read_keys, READ_KEYS, &k, n);
		uint64_t t1 = now_ns();
		bad |= lookup_run(ref_ops, ref_rd, read_keys, READ_KEYS, &ref_k, REF_LOOKUPS);
		uint64_t t2 = now_ns();

		dlreg_bench_set_iteration_time(st, (double)(t1 - t0) * 1e-9);
		lookup_ns += t1 - t0;
		ref_ns += t2 - t1;
		refs += REF_LOOKUPS;
		if (bad)
			dlreg_bench_skip_with_error(st, "read_sym failed");
	}
	int64_t iters = dlreg_bench_iterations_done(st);
	dlreg_bench_set_items_processed(st, iters);
	if (iters > 0 && lookup_ns > 0 && ref_ns > 0)
		dlreg_bench_counter_set(st, "vs_unsync",
		                        ((double)lookup_ns / (double)iters) /
		                            ((double)ref_ns / (double)refs),
		                        DLREG_BENCH_COUNTER_DEFAULT);
}

static void bench_open_close(dlreg_bench_state_t *st, void *data)
{
	struct bench_variant *v = data;
	unsigned k = (unsigned)dlreg_bench_thread_index(st) % READ_PLUGINS;

	while (dlreg_bench_keep_running(st)) {
		void *h;
		int err = v->ops->open(v->reg, plain_paths[k], 0, &h);

		if (err)
			bench_fail(st, "open", err);
		else if ((err = v->ops->close(v->reg, h)))
			bench_fail(st, "close", err);
		if (++k == READ_PLUGINS)
			k = 0;
	}
	dlreg_bench_set_items_processed(st, dlreg_bench_iterations_done(st));
}

struct mapped_query {
	const char *path;
	int found;
};

static int mapped_visit(struct dl_phdr_info *info, size_t size, void *data)
{
	struct mapped_query *q = data;

	(void)size;
	if (info->dlpi_name && strcmp(info->dlpi_name, q->path) == 0)
		q->found = 1;
	return q->found;
}

/* Whether the dynamic loader still has `path` mapped. */
static int path_mapped(const char *path)
{
	struct mapped_query q = {path, 0};

	dl_iterate_phdr(mapped_visit, &q);
	return q.found;
}

/* open, close, quiesce; the name of the step that failed, or NULL. */
static const char *churn_once(struct bench_variant *v, const char *path, int *err)
{
	void *h;

	if ((*err = v->ops->open(v->reg, path, 0, &h)))
		return "open";
	if ((*err = v->ops->close(v->reg, h)))
		return "close";
	/*
	 * EBUSY: something is still pending after the grace period, which with
	 * several churning threads is another thread's entry retired meanwhile;
	 * still_mapped says whether ours went.
	 */
	*err = v->ops->quiesce(v->reg);
	if (*err && *err != DLREG_EBUSY)
		return "quiesce";
	return NULL;
}

static void bench_churn(dlreg_bench_state_t *st, void *data)
{
	struct bench_variant *v = data;
	const char *path =
	        plain_paths[READ_PLUGINS + (unsigned)dlreg_bench_thread_index(st) % CHURN_PLUGINS];

	while (dlreg_bench_keep_running(st)) {
		int err;
		const char *failed = churn_once(v, path, &err);

		if (failed)
			bench_fail(st, failed, err);
	}
	/* Evidence that each iteration really unloaded: 0 when it did. */
	dlreg_bench_counter_set(st, "still_mapped", path_mapped(path), DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_set_items_processed(st, dlreg_bench_iterations_done(st));
}

static void *latency_loader(void *data)
{
	struct latency_case *c = data;
	const struct dlreg_variant_ops *ops = c->v->ops;

	while (!atomic_load(&c->stop)) {
		void *h;

		if (ops->open(c->v->reg, slow_path, 0, &h) == DLREG_OK &&
		    ops->close(c->v->reg, h) == DLREG_OK && ops->quiesce(c->v->reg) == DLREG_OK)
			atomic_fetch_add(&c->loads, 1);
		else
			atomic_fetch_add(&c->load_errors, 1);
		sleep_us(opt.loader_gap_us);
	}
	return NULL;
}

static void latency_setup(const dlreg_bench_state_t *st, void *data)
{
	struct latency_case *c = data;

	(void)st;
	latency_hist_reset(&c->hist);
	c->done = 0;
	atomic_store(&c->stop, false);
	atomic_store(&c->loads, 0);
	atomic_store(&c->load_errors, 0);
	c->loader_running = pthread_create(&c->loader, NULL, latency_loader, c) == 0;
}

static void latency_teardown(const dlreg_bench_state_t *st, void *data)
{
	struct latency_case *c = data;

	(void)st;
	atomic_store(&c->stop, true);
	if (c->loader_running)
		pthread_join(c->loader, NULL);
	c->loader_running = false;
}

static void latency_report(dlreg_bench_state_t *st, struct latency_case *c)
{
	static const struct {
		const char *name;
		double q;
	} quantiles[] = {
	        {"p50_ns", 0.50}, {"p99_ns", 0.99}, {"p999_ns", 0.999}, {"p9999_ns", 0.9999}};

	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
		dlreg_bench_counter_set(st, quantiles[i].name,
		                        (double)latency_hist_quantile(&c->hist, quantiles[i].q),
		                        DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_counter_set(st, "max_ns", (double)c->hist.max, DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_counter_set(st, "stalls_100us",
	                        (double)latency_hist_count_above(&c->hist, STALL_NS),
	                        DLREG_BENCH_COUNTER_DEFAULT);
	dlreg_bench_counter_set(st, "loads", (double)atomic_load(&c->loads),
	                        DLREG_BENCH_COUNTER_DEFAULT);
}

/* Merges a reader's histogram; the last reader of the run reports. */
static void latency_publish(dlreg_bench_state_t *st, struct latency_case *c,
                            const struct latency_hist *mine)
{
	pthread_mutex_lock(&c->lock);
	latency_hist_merge(&c->hist, mine);
	if (++c->done == dlreg_bench_thread_count(st))
		latency_report(st, c);
	pthread_mutex_unlock(&c->lock);
}

static void bench_read_latency(dlreg_bench_state_t *st, void *data)
{
	struct latency_case *c = data;
	const struct dlreg_variant_ops *ops = c->v->ops;
	void *rd = ops->reader(c->v->reg);
	size_t k = (size_t)dlreg_bench_thread_index(st) * 7u % READ_KEYS;
	struct latency_hist mine;

	latency_hist_reset(&mine);
	if (!rd || !c->loader_running)
		dlreg_bench_skip_with_error(st, "no reader or no loader thread");
	while (dlreg_bench_keep_running(st)) {
		void *sym = NULL;
		uint64_t t0 = now_ns();

		ops->read_begin(rd);
		int err = ops->read_sym(rd, read_keys[k].path, read_keys[k].name, &sym);

		ops->read_end(rd);
		latency_hist_add(&mine, now_ns() - t0);
		DLREG_BENCH_DO_NOT_OPTIMIZE(sym);
		if (err)
			bench_fail(st, "read_sym", err);
		if (++k == READ_KEYS)
			k = 0;
	}
	if (atomic_load(&c->load_errors) && !dlreg_bench_error_occurred(st))
		dlreg_bench_skip_with_error(st, "the loader thread failed to load or unload");
	latency_publish(st, c, &mine);
	dlreg_bench_set_items_processed(st, dlreg_bench_iterations_done(st));
}

/* -------------------------------------------------------- registration --- */

static dlreg_bench_t *threads_1_2_4(dlreg_bench_t *b)
{
	b = dlreg_bench_use_real_time(b);
	return dlreg_bench_threads(dlreg_bench_threads(dlreg_bench_threads(b, 1), 2), 4);
}

static int register_one(const char *what, const char *variant, dlreg_bench_fn *fn, void *data,
                        dlreg_bench_t **out)
{
	char name[128];

	snprintf(name, sizeof(name), "registry/%s/%s", what, variant);
	*out = threads_1_2_4(dlreg_bench_register(name, fn, data));
	if (!*out) {
		fprintf(stderr, "%s: cannot register %s\n", PROG, name);
		return -1;
	}
	return 0;
}

static int register_latency(struct bench_variant *v, struct latency_case *c)
{
	dlreg_bench_t *b;

	c->v = v;
	if (register_one("read_latency", v->ops->name, bench_read_latency, c, &b))
		return -1;
	if (dlreg_bench_setup(b, latency_setup, c) ||
	    dlreg_bench_teardown(b, latency_teardown, c)) {
		fprintf(stderr, "%s: cannot attach the loader thread to read_latency\n", PROG);
		return -1;
	}
	return 0;
}

/* unsync cannot take writers next to readers, so it joins read_sym only. */
static int register_all(void)
{
	dlreg_bench_t *b;

	for (size_t i = 0; i < NVARIANTS; i++) {
		read_cases[i] = (struct read_case){&variants[i], read_keys, READ_KEYS};
		if (register_one("read_sym", variant_names[i], bench_read_sym, &read_cases[i], &b))
			return -1;
	}
	for (size_t i = 0; i < NVARIANTS; i++) {
		copy_cases[i] = (struct read_case){&variants[i], copy_keys, COPY_KEYS};
		if (register_one("read_sym_copies", variant_names[i], bench_read_sym, &copy_cases[i],
		                 &b))
			return -1;
	}
	for (size_t i = 0; i < NVARIANTS; i++)
		if (variants[i].ops == &dlreg_bench_unsync_ops)
			ref_variant = &variants[i];
	for (size_t i = 0; ref_variant && i < NVARIANTS; i++) {
		char name[128];

		if (&variants[i] == ref_variant)
			continue;
		snprintf(name, sizeof(name), "registry/read_sym_ref/%s", variant_names[i]);
		b = dlreg_bench_register(name, bench_read_sym_ref, &variants[i]);
		if (!b || !dlreg_bench_threads(dlreg_bench_use_manual_time(b), 1)) {
			fprintf(stderr, "%s: cannot register %s\n", PROG, name);
			return -1;
		}
	}
	for (size_t i = 0; i < NVARIANTS; i++) {
		if (variants[i].ops == &dlreg_bench_unsync_ops)
			continue;
		if (register_one("open_close", variant_names[i], bench_open_close, &variants[i],
		                 &b) ||
		    register_one("churn", variant_names[i], bench_churn, &variants[i], &b))
			return -1;
	}
	for (size_t i = 0; i < NVARIANTS; i++) {
		if (variants[i].ops != &dlreg_bench_unsync_ops &&
		    register_latency(&variants[i], &latency_cases[i]))
			return -1;
	}
	return 0;
}

/*
 * The run's parameters in the report's context.  A key that
 * --benchmark_context also sets is refused (the shim names it): the report
 * would otherwise show the flag's value instead of the one the run used.
 * Returns the first error (a dlreg_bench_err value).
 */
static int context_add(const char *key, const char *value, int err)
{
	int e = dlreg_bench_context_add(key, value);

	return err ? err : e;
}

static int context_add_all(void)
{
	char buf[64];
	int err = 0;

	snprintf(buf, sizeof(buf), "%lu", opt.slow_ctor_us);
	err = context_add("registry.slow_ctor_us", buf, err);
	snprintf(buf, sizeof(buf), "%lu", opt.loader_gap_us);
	err = context_add("registry.loader_gap_us", buf, err);
	snprintf(buf, sizeof(buf), "%u plugins x %u symbols", READ_PLUGINS, READ_NAMES);
	err = context_add("registry.read_keys", buf, err);
	for (size_t i = 0; i < NVARIANTS; i++) {
		/* One not compiled in is reported by variant_prepare. */
		const struct dlreg_variant_ops *ops = dlreg_variant_find(variant_names[i]);

		if (!ops)
			continue;
		snprintf(buf, sizeof(buf), "registry.variant.%s", ops->name);
		err = context_add(buf, ops->description, err);
	}
	return err;
}

/* -------------------------------------------------------------- setup --- */

static int paths_init(void)
{
	int n = snprintf(slow_path, sizeof(slow_path), "%s/%s", opt.fixture_dir,
	                 DLREG_FIXTURE_FILE_SLOW);
	int bad = n < 0 || (size_t)n >= sizeof(slow_path);

	for (unsigned i = 0; i < READ_PLUGINS + CHURN_PLUGINS; i++) {
		n = snprintf(plain_paths[i], sizeof(plain_paths[i]),
		             "%s/" DLREG_FIXTURE_PLAIN_FORMAT, opt.fixture_dir, i);
		bad |= n < 0 || (size_t)n >= sizeof(plain_paths[i]);
	}
	if (bad) {
		fprintf(stderr, "%s: --fixture-dir is too long\n", PROG);
		return -1;
	}
	for (unsigned i = 0; i < READ_KEYS; i++)
		read_keys[i] =
		        (struct read_key){plain_paths[i / READ_NAMES], read_names[i % READ_NAMES]};
	/* One arena: copy c of key i at copy_keys[c * READ_KEYS + i]. */
	size_t per_copy = 0;

	for (unsigned i = 0; i < READ_KEYS; i++)
		per_copy += strlen(read_keys[i].path) + strlen(read_keys[i].name) + 2;
	copy_arena = malloc(per_copy * KEY_COPIES);
	if (!copy_arena) {
		fprintf(stderr, "%s: out of memory for the key copies\n", PROG);
		return -1;
	}
	char *p = copy_arena;

	for (unsigned c = 0; c < KEY_COPIES; c++) {
		for (unsigned i = 0; i < READ_KEYS; i++) {
			size_t lp = strlen(read_keys[i].path) + 1, ln = strlen(read_keys[i].name) + 1;
			struct read_key *key = &copy_keys[c * READ_KEYS + i];

			key->path = memcpy(p, read_keys[i].path, lp);
			key->name = memcpy(p + lp, read_keys[i].name, ln);
			p += lp + ln;
		}
	}
	return 0;
}

static void usage(void)
{
	printf("usage: " PROG " [--fixture-dir=DIR] [--slow-ctor-us=N] [--loader-gap-us=N]\n"
	       "       [--benchmark_* flags]\n\n"
	       "Registry benchmarks on 1, 2 and 4 threads: read_sym and read_sym_copies\n"
	       "(read_sym with each key string taken from 64 equal copies) over the dlreg,\n"
	       "qt, gmodule, dlopen and unsync variants; open_close, churn and read_latency\n"
	       "over all but unsync (it takes no writer next to readers); and read_sym_ref\n"
	       "(one thread, each variant timed against unsync in the same thread; manual\n"
	       "time).\n\n"
	       "  --fixture-dir=DIR   directory of the fixture plugins (default: the build's)\n"
	       "  --slow-ctor-us=N    constructor sleep of libslow.so in read_latency (2000)\n"
	       "  --loader-gap-us=N   pause between the loader thread's loads (3000)\n"
	       "  --progress          accepted; this program has no progress of its own to show\n\n"
	       "Reports go to stdout (--benchmark_format=json for JSON); errors to stderr.\n"
	       "Exit status: 0 success, 1 a benchmark could not run or reported an error\n"
	       "(ERROR OCCURRED) or stdout could not be written, 2 usage error, 3 no\n"
	       "benchmark matches --benchmark_filter.\n\n");
	dlreg_bench_print_default_help();
}

static int parse_ulong(const char *flag, const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(text, &end, 10);

	if (errno || end == text || *end || text[0] == '-' || v > max) {
		fprintf(stderr, "%s: %s wants an integer in 0..%lu, not '%s'\n", PROG, flag, max,
		        text);
		return -1;
	}
	*out = v;
	return 0;
}

/* "--name=value" or "--name value"; advances *i past a separate value. */
static const char *flag_arg(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0)
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int options_parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		int err = 0;

		if ((v = flag_arg(argc, argv, &i, "--fixture-dir")))
			opt.fixture_dir = v;
		else if ((v = flag_arg(argc, argv, &i, "--slow-ctor-us")))
			err = parse_ulong("--slow-ctor-us", v, 10000000, &opt.slow_ctor_us);
		else if ((v = flag_arg(argc, argv, &i, "--loader-gap-us")))
			err = parse_ulong("--loader-gap-us", v, 10000000, &opt.loader_gap_us);
		else if (strcmp(argv[i], "--progress") == 0)
			continue; /* nothing to report before Google Benchmark's own output */
		else if (i + 1 == argc && (strcmp(argv[i], "--fixture-dir") == 0 ||
		                           strcmp(argv[i], "--slow-ctor-us") == 0 ||
		                           strcmp(argv[i], "--loader-gap-us") == 0)) {
			/* flag_arg found the name but no value after it. */
			fprintf(stderr, "%s: %s needs a value: %s=VALUE\n", PROG, argv[i], argv[i]);
			return -1;
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", PROG, argv[i]);
			return -1;
		}
		if (err)
			return -1;
	}
	return 0;
}

/* Names a missing fixture before any variant tries to load it. */
static int fixtures_check(void)
{
	struct stat st;

	const char *why = stat(opt.fixture_dir, &st) != 0 ? strerror(errno)
	                  : !S_ISDIR(st.st_mode)          ? "not a directory"
	                                                  : NULL;

	if (why) {
		fprintf(stderr, "%s: --fixture-dir '%s': %s\n", PROG, opt.fixture_dir, why);
		return -1;
	}
	for (unsigned i = 0; i < READ_PLUGINS; i++) {
		if (access(plain_paths[i], R_OK) != 0) {
			fprintf(stderr, "%s: fixture plugin '%s' (--fixture-dir): %s\n", PROG,
			        plain_paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void host_init(void)
{
	dlreg_fixture_host_instance.fixture_dir = opt.fixture_dir;
	dlreg_fixture_host_instance.slow_ctor_us = (unsigned)opt.slow_ctor_us;
}

static int variants_prepare(void)
{
	for (size_t i = 0; i < NVARIANTS; i++) {
		if (variant_prepare(&variants[i], variant_names[i]))
			return -1;
		if (pthread_mutex_init(&latency_cases[i].lock, NULL) != 0)
			return -1;
	}
	return 0;
}

static int variants_release(void)
{
	int bad = 0;

	for (size_t i = 0; i < NVARIANTS; i++)
		bad |= variant_release(&variants[i]);
	return bad;
}

int main(int argc, char **argv)
{
	if (dlreg_bench_initialize(&argc, argv, usage) != 0 || options_parse(argc, argv) != 0)
		return 2;
	if (paths_init() != 0 || fixtures_check() != 0)
		return 2;
	int err = context_add_all();

	if (err == DLREG_BENCH_EINVAL)
		return 2;
	if (err) {
		fprintf(stderr, "%s: cannot add the run's parameters to the report\n", PROG);
		return 1;
	}
	host_init();
	int failed = variants_prepare() || register_all();
	int none = 0;

	if (!failed) {
		size_t ran = dlreg_bench_run();
		/* A failed run has said why on stderr. */
		failed = ran == DLREG_BENCH_RUN_FAILED;
		none = ran == 0;
		if (!failed && dlreg_bench_error_count() > 0) {
			fprintf(stderr, "%s: %zu benchmark run(s) reported an error (see the report)\n",
			        PROG, dlreg_bench_error_count());
			failed = 1;
		}
	}
	dlreg_bench_shutdown();
	failed |= variants_release();
	free(copy_arena);
	if (none)
		fprintf(stderr, "%s: no benchmark matches --benchmark_filter\n", PROG);
	failed |= dlreg_bench_stdout_check(PROG) != 0;
	return failed ? 1 : none ? 3 : 0;
}
