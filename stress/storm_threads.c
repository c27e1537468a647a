/*
 * storm_threads.c - the storm's threads: workers running the operation mix,
 * the optional slow loader and churner, and what each reports while it runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlreg/dlreg.h"
#include "storm.h"

/* How many failures a thread prints before it only counts them. */
enum { STORM_REPORTS_PER_THREAD = 5 };

static const char *const counter_names[SC_COUNT] = {
        [SC_ERRORS] = "error",
        [SC_USE_AFTER_GRACE] = "use_after_grace",
        [SC_INVARIANTS] = "invariant",
};

void storm_op_enter(struct storm_thread *t, const char *what, int plugin)
{
	atomic_store_explicit(&t->plugin, plugin, memory_order_relaxed);
	atomic_store_explicit(&t->state, "start", memory_order_relaxed);
	atomic_store_explicit(&t->since_ns, storm_now_ns(), memory_order_relaxed);
	atomic_store_explicit(&t->what, what, memory_order_release);
}

void storm_op_leave(struct storm_thread *t)
{
	atomic_store_explicit(&t->what, NULL, memory_order_release);
	storm_count(t, SC_OPS, 1);
}

void storm_fail(struct storm_thread *t, enum storm_counter c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	storm_count(t, c, 1);
	if (t->reports >= STORM_REPORTS_PER_THREAD)
		return;
	t->reports++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "dlreg-storm: thread %u %s: %s%s\n", t->index,
	        counter_names[c] ? counter_names[c] : "failure", msg,
	        t->reports == STORM_REPORTS_PER_THREAD ? " (further reports only counted)" : "");
}

static uint64_t seq_step(uint64_t h, unsigned op, uint64_t r)
{
	h ^= r + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return (h ^ op) * 0x100000001b3ull;
}

static void *worker_main(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = storm_global;
	uint64_t done = 0;

	t->reader = s->ops->reader(s->reg);
	if (!t->reader) {
		storm_fail(t, SC_ERRORS, "no reader record (out of memory)");
		atomic_fetch_add_explicit(&s->workers_done, 1, memory_order_release);
		return NULL;
	}
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed) &&
	       (t->ops_target == 0 || done < t->ops_target)) {
		uint64_t r1 = storm_prng_next(&t->rng);
		uint64_t r2 = storm_prng_next(&t->rng);
		enum storm_op op = storm_mix_pick(&s->cfg.mix, r1);

		t->seq_hash = seq_step(t->seq_hash, (unsigned)op, r2);
		storm_op_enter(t, storm_op_name(op), -1);
		storm_op_run(s, t, op, r2);
		storm_op_leave(t);
		done++;
	}
	storm_op_enter(t, "close all", -1);
	storm_close_held(s, t);
	atomic_store_explicit(&t->what, NULL, memory_order_release);
	atomic_fetch_add_explicit(&s->workers_done, 1, memory_order_release);
	return NULL;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Waits until `deadline` in short slices, so a stop request is seen soon. */
static void sleep_until(struct storm *s, uint64_t deadline)
{
	uint64_t now;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed) &&
	       (now = storm_now_ns()) < deadline)
		sleep_ns(deadline - now < 10000000u ? deadline - now : 10000000u);
}

static void slow_cycle(struct storm *s, struct storm_thread *t, const struct storm_plugin *p)
{
	void *handle = NULL;
	int err;

	storm_set_state(t, "variant open");
	err = s->ops->open(s->reg, p->path, 0, &handle);
	if (err != DLREG_OK) {
		storm_fail(t, SC_ERRORS, "slow loader: open %s: %s", p->name, dlreg_strerror(err));
		return;
	}
	storm_count(t, SC_OPENS, 1);
	storm_set_state(t, "variant close");
	err = s->ops->close(s->reg, handle);
	if (err != DLREG_OK)
		storm_fail(t, SC_INVARIANTS, "slow loader: close %s: %s", p->name,
		           dlreg_strerror(err));
	storm_count(t, SC_CLOSES, 1);
	/* Unload now, so the next open runs the constructor again. */
	storm_set_state(t, "quiesce");
	s->ops->quiesce(s->reg);
}

/* Loads libslow.so once per period: its constructor sleeps inside dlopen. */
static void *slow_loader_main(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = storm_global;
	const struct storm_plugin *p = &s->cat.v[s->cat.slow];
	uint64_t period = (uint64_t)s->cfg.slow_period_ms * 1000000u;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t start = storm_now_ns();

		storm_op_enter(t, "slow load", s->cat.slow);
		slow_cycle(s, t, p);
		storm_op_leave(t);
		sleep_until(s, start + period);
	}
	return NULL;
}

static void *churner_main(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = storm_global;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t r = storm_prng_next(&t->rng);

		storm_op_enter(t, "churn", -1);
		storm_churn_step(s, t, r);
		storm_op_leave(t);
		sched_yield();
	}
	return NULL;
}

static void *(*role_main(const char *role))(void *)
{
	if (strcmp(role, "worker") == 0)
		return worker_main;
	if (strcmp(role, "slow-loader") == 0)
		return slow_loader_main;
	if (strcmp(role, "churner") == 0)
		return churner_main;
	return NULL;
}

/* Every storm thread names itself first, so a fatal-signal handler can tell
 * which thread crashed without reading state other threads write. */
static void *thread_entry(void *arg)
{
	struct storm_thread *t = arg;

	storm_set_self(t);
	return role_main(t->role)(arg);
}

int storm_threads_start(struct storm *s)
{
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct storm_thread *t = &s->threads[i];
		void *(*fn)(void *) = role_main(t->role);
		int err;

		if (!fn)
			continue;
		t->started = true;
		err = pthread_create(&t->tid, NULL, thread_entry, t);
		if (err != 0) {
			t->started = false;
			fprintf(stderr, "dlreg-storm: cannot start thread %u: %s\n", i,
			        strerror(err));
			return -1;
		}
	}
	return 0;
}

void storm_threads_join(struct storm *s)
{
	for (unsigned i = 0; i < s->nthreads; i++)
		if (s->threads[i].started && role_main(s->threads[i].role)) {
			pthread_join(s->threads[i].tid, NULL);
			s->threads[i].started = false;
		}
}
