/*
 * storm_ops.c - what each storm operation does, and what it checks.
 *
 * Every result is checked against what the variant promised:
 *   - a handle the thread holds is never poisoned and has refs >= 1;
 *   - an entry found inside a read section is never poisoned before the
 *     section ends, and a symbol read there answers like its library must
 *     (use_after_grace otherwise: the registry released something a reader
 *     could still see);
 *   - close of a held handle never fails, acquire never revives a retired
 *     entry, symbols through a held handle answer right (invariants);
 *   - an open fails exactly when the plugin's kind says it must (errors).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "dlreg/dlreg.h"
#include "fixture_abi.h"
#include "storm.h"

/* A refcount this large is a negative one seen through an unsigned type. */
#define STORM_REFS_INSANE (1ul << 30)

/* storm_op_available keeps an operation whose set is empty out of the mix. */
static size_t pick(const size_t *set, size_t n, uint64_t r)
{
	assert(n > 0);
	return set[r % n];
}

static void set_plugin(struct storm_thread *t, size_t idx)
{
	atomic_store_explicit(&t->plugin, (int)idx, memory_order_relaxed);
}

/* When an operation falls back to another, the watchdog names the one run. */
static void relabel(struct storm_thread *t, const char *what)
{
	atomic_store_explicit(&t->what, what, memory_order_relaxed);
}

static bool open_expected(const struct storm_plugin *p, unsigned hints, int err)
{
	switch (p->expect) {
	case STORM_EXPECT_LOADS:
		return err == DLREG_OK;
	/* NOW may also succeed when a lazy open already registered it. */
	case STORM_EXPECT_NEEDS_LAZY:
		return err == DLREG_OK || (!(hints & DLREG_HINT_LAZY) && err == DLREG_EUNDEFINED);
	case STORM_EXPECT_FAILS:
		return err == DLREG_ENOTELF;
	default:
		return true;
	}
}

static void check_held(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                       void *handle, const char *when)
{
	unsigned long refs;

	if (s->ops->check && s->ops->check(handle) != DLREG_OK)
		storm_fail(t, SC_USE_AFTER_GRACE, "%s %s: held handle is poisoned", when, p->name);
	if (!s->ops->refs)
		return;
	refs = s->ops->refs(handle);
	if (refs == 0 || refs >= STORM_REFS_INSANE)
		storm_fail(t, SC_INVARIANTS, "%s %s: held handle has refcount %lu", when, p->name,
		           refs);
}

static void hold(struct storm_thread *t, void *handle, size_t idx)
{
	t->held[t->nheld].handle = handle;
	t->held[t->nheld].plugin = (uint32_t)idx;
	t->nheld++;
}

static bool holds(const struct storm_thread *t, size_t idx)
{
	for (unsigned i = 0; i < t->nheld; i++)
		if (t->held[i].plugin == idx)
			return true;
	return false;
}

static void close_at(struct storm *s, struct storm_thread *t, unsigned k)
{
	struct storm_held h = t->held[k];
	const struct storm_plugin *p = &s->cat.v[h.plugin];
	int err;

	t->held[k] = t->held[--t->nheld];
	set_plugin(t, h.plugin);
	check_held(s, t, p, h.handle, "close");
	storm_set_state(t, "variant close");
	err = s->ops->close(s->reg, h.handle);
	storm_set_state(t, "checked");
	if (err != DLREG_OK)
		storm_fail(t, SC_INVARIANTS, "close %s failed: %s", p->name, dlreg_strerror(err));
	storm_count(t, SC_CLOSES, 1);
}

static void op_open(struct storm *s, struct storm_thread *t, uint64_t r, unsigned hints);

static void op_close(struct storm *s, struct storm_thread *t, uint64_t r)
{
	if (t->nheld == 0) {
		relabel(t, "open (nothing to close)");
		op_open(s, t, r, 0);
		return;
	}
	close_at(s, t, (unsigned)(r % t->nheld));
}

static void op_open(struct storm *s, struct storm_thread *t, uint64_t r, unsigned hints)
{
	size_t idx = pick(s->cat.openable, s->cat.n_openable, r >> 8);
	const struct storm_plugin *p = &s->cat.v[idx];
	void *handle = NULL;
	int err;

	if (t->nheld >= s->cfg.max_held) {
		relabel(t, "close (holding --max-held)");
		close_at(s, t, (unsigned)(r % t->nheld));
		return;
	}
	set_plugin(t, idx);
	storm_set_state(t, "variant open");
	err = s->ops->open(s->reg, p->path, hints, &handle);
	storm_set_state(t, "checked");
	if (!open_expected(p, hints, err))
		storm_fail(t, SC_ERRORS, "open %s hints=%#x: %s", p->name, hints,
		           err ? dlreg_strerror(err) : "succeeded but must fail");
	if (err != DLREG_OK) {
		storm_count(t, SC_OPEN_FAILS, 1);
		return;
	}
	storm_count(t, SC_OPENS, 1);
	if (p->slot < 0)
		storm_count(t, SC_SELECTED_LOADS, 1);
	check_held(s, t, p, handle, "open");
	hold(t, handle, idx);
}

/*
 * Checks a plugin's id/kind/answer exports against each other and the
 * plugin's expectations.  0 when right, -1 when wrong, 1 when the library
 * does not carry the fixture ABI (nothing to check).
 */
static int check_exports(const struct storm_plugin *p, void *id, void *kind, void *answer, long x)
{
	int got;

	if (!p->abi && (!id || !kind || !answer))
		return 1;
	if (dlreg_fixture_check(id, kind, answer, p->expected_id, x) != 0)
		return -1;
	got = dlreg_fixture_id_sym(id)();
	return p->family && dlreg_fixture_id_family(got) != p->family ? -1 : 0;
}

/* Symbols through a held handle (cached in dlreg, dlsym in the references). */
static void op_call(struct storm *s, struct storm_thread *t, uint64_t r)
{
	void *id = NULL, *kind = NULL, *answer = NULL;
	struct storm_held h;
	const struct storm_plugin *p;
	long x = (long)(r >> 2);
	int e1, e2, e3, first_err;

	if (t->nheld == 0) {
		relabel(t, "open (nothing held to call)");
		op_open(s, t, r, 0);
		return;
	}
	h = t->held[r % t->nheld];
	p = &s->cat.v[h.plugin];
	set_plugin(t, h.plugin);
	check_held(s, t, p, h.handle, "call");
	storm_set_state(t, "variant sym");
	e1 = s->ops->sym(s->reg, h.handle, DLREG_FIXTURE_SYM_ID, &id);
	e2 = s->ops->sym(s->reg, h.handle, DLREG_FIXTURE_SYM_KIND, &kind);
	e3 = s->ops->sym(s->reg, h.handle, DLREG_FIXTURE_SYM_ANSWER, &answer);
	first_err = e1 ? e1 : e2 ? e2 : e3;
	if (p->abi && first_err)
		storm_fail(t, SC_INVARIANTS, "call %s: fixture symbol missing (%s)", p->name,
		           dlreg_strerror(first_err));
	storm_set_state(t, "plugin call");
	if (check_exports(p, e1 ? NULL : id, e2 ? NULL : kind, e3 ? NULL : answer, x) < 0)
		storm_fail(t, SC_INVARIANTS, "call %s: wrong answer through a held handle",
		           p->name);
	storm_count(t, SC_CALLS, 1);
}

static void spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

static const void *lookup(struct storm *s, void *reader, const struct storm_plugin *p)
{
	return s->ops->read_lookup ? s->ops->read_lookup(reader, p->path) : NULL;
}

/* Inside the section: an entry found in it must not be poisoned before it ends. */
static void check_entry(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                        const void *entry, const char *when)
{
	if (entry && s->ops->check && s->ops->check(entry) != DLREG_OK)
		storm_fail(t, SC_USE_AFTER_GRACE, "read %s: entry poisoned inside a section (%s)",
		           p->name, when);
}

/*
 * Inside the section, after a hit: the answer is right for the library the
 * symbol came from.  A plugin with a known id is checked against it; for
 * one without (a churned copy), the id must come from the same entry as the
 * answer: the entry found before the answer must still be the one indexed
 * after the id lookup (an entry that leaves the index never returns, and
 * cannot be freed and reused while this section is open).
 */
static void check_read_answer(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                              void *reader, const void *before, void *answer, long x, long got)
{
	void *id = NULL, *kind = NULL;
	bool same_entry;
	int rc = 0;

	if (p->expected_id >= 0 && (got != dlreg_fixture_expected(p->expected_id, x) ||
	                            dlreg_fixture_answer_sym(answer)(x) != got))
		rc = -1;
	if (s->ops->read_sym(reader, p->path, DLREG_FIXTURE_SYM_ID, &id) != DLREG_OK ||
	    s->ops->read_sym(reader, p->path, DLREG_FIXTURE_SYM_KIND, &kind) != DLREG_OK)
		id = kind = NULL; /* retired meanwhile: nothing more to compare */
	same_entry = !s->ops->read_lookup || (before && before == lookup(s, reader, p));
	if (rc == 0 && id && kind && (p->expected_id >= 0 || same_entry)) {
		rc = check_exports(p, id, kind, answer, x);
		if (rc == 0 && got != dlreg_fixture_expected(dlreg_fixture_id_sym(id)(), x))
			rc = -1;
	}
	if (rc < 0)
		storm_fail(t, SC_USE_AFTER_GRACE, "read %s: wrong answer inside a section",
		           p->name);
}

static void read_verify(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                        const void *before, void *answer, long x, long got)
{
	void *reader = t->reader;
	const void *now = lookup(s, reader, p);

	check_entry(s, t, p, before, "after the call");
	check_entry(s, t, p, now, "after the call");
	spin(s->cfg.read_hold);
	check_entry(s, t, p, before, "after holding");
	check_entry(s, t, p, now, "after holding");
	if (p->abi)
		check_read_answer(s, t, p, reader, before, answer, x, got);
}

static bool read_sampled(struct storm_thread *t, unsigned every)
{
	uint64_t n = atomic_load_explicit(&t->counters[SC_READ_HITS], memory_order_relaxed) +
	             atomic_load_explicit(&t->counters[SC_READ_MISSES], memory_order_relaxed);

	return n % every == 0;
}

static void read_result(struct storm_thread *t, const struct storm_plugin *p, int err,
                        bool must_hit)
{
	if (err == DLREG_OK) {
		storm_count(t, SC_READ_HITS, 1);
		return;
	}
	storm_count(t, SC_READ_MISSES, 1);
	if (err == DLREG_ENOTLOADED && !must_hit)
		return;
	if (err == DLREG_ENOSYM && !p->abi)
		return;
	/* A found entry of a fixture that lacks a fixture symbol is a broken one. */
	if (err == DLREG_ENOSYM)
		storm_fail(t, SC_USE_AFTER_GRACE, "read %s: entry found but its symbol is gone",
		           p->name);
	else
		storm_fail(t, must_hit ? SC_INVARIANTS : SC_ERRORS, "read %s: %s%s", p->name,
		           dlreg_strerror(err), must_hit ? " while a reference is held" : "");
}

/*
 * One read-side lookup + call, timed (sampled) from section start to the
 * call's return.  Plugins without a known id first look their entry up (see
 * check_read_answer); those reads are not timed, so every timed read is the
 * same work: begin, read_sym, call.
 */
static void read_one(struct storm *s, struct storm_thread *t, size_t idx, uint64_t r, bool must_hit)
{
	const struct storm_plugin *p = &s->cat.v[idx];
	void *reader = t->reader, *answer = NULL;
	bool need_entry = p->expected_id < 0 && s->ops->read_lookup;
	bool timed = !need_entry && read_sampled(t, s->cfg.sample_every);
	uint64_t t0 = timed ? storm_now_ns() : 0;
	const void *before = NULL;
	long x = (long)(r >> 2), got = 0;
	int err;

	/*
	 * One read in four names the plugin through this thread's buffer, which
	 * held other paths before: equal strings at another address, and one
	 * address with changing contents (dlreg's reader memos, keyed by
	 * address and by contents, must both tell).
	 */
	const char *path = p->path;
	if (((r >> 58) & 3) == 0) {
		snprintf(t->path_copy, sizeof(t->path_copy), "%s", p->path);
		path = t->path_copy;
	}

	set_plugin(t, idx);
	storm_set_state(t, "read section");
	s->ops->read_begin(reader);
	if (need_entry)
		before = lookup(s, reader, p);
	err = s->ops->read_sym(reader, path, DLREG_FIXTURE_SYM_ANSWER, &answer);
	if (err == DLREG_OK)
		got = dlreg_fixture_answer_sym(answer)(x);
	if (timed)
		storm_hist_add(&t->hist, storm_now_ns() - t0);
	if (err == DLREG_OK)
		read_verify(s, t, p, before, answer, x, got);
	s->ops->read_end(reader);
	storm_set_state(t, "checked");
	read_result(t, p, err, must_hit);
}

/* Variants without safe reads may only read what this thread holds. */
static void op_read(struct storm *s, struct storm_thread *t, uint64_t r)
{
	size_t idx;

	if (s->ops->flags & DLREG_VARIANT_READ_SAFE) {
		idx = pick(s->cat.openable, s->cat.n_openable, r >> 8);
	} else if (t->nheld) {
		idx = t->held[(r >> 8) % t->nheld].plugin;
	} else {
		relabel(t, "open (nothing held to read)");
		op_open(s, t, r, 0);
		return;
	}
	read_one(s, t, idx, r, holds(t, idx));
}

static void op_pinned_read(struct storm *s, struct storm_thread *t, uint64_t r)
{
	read_one(s, t, pick(s->cat.pins, s->cat.n_pins, r >> 8), r, true);
}

/* The user mutex is what the usermutex fixture's constructor takes. */
static void op_locked_read(struct storm *s, struct storm_thread *t, uint64_t r)
{
	storm_set_state(t, "user mutex");
	pthread_mutex_lock(&s->user_mutex);
	op_pinned_read(s, t, r);
	pthread_mutex_unlock(&s->user_mutex);
}

static void acquire_in_section(struct storm *s, struct storm_thread *t, size_t idx,
                               const void *entry)
{
	const struct storm_plugin *p = &s->cat.v[idx];
	void *handle = NULL;
	unsigned long refs;
	int err;

	if (s->ops->check(entry) != DLREG_OK)
		storm_fail(t, SC_USE_AFTER_GRACE, "acquire %s: entry poisoned inside a section",
		           p->name);
	err = s->ops->read_acquire(t->reader, entry, &handle);
	if (err == DLREG_OK) {
		storm_count(t, SC_ACQUIRES, 1);
		if (p->slot < 0)
			storm_count(t, SC_SELECTED_LOADS, 1);
		check_held(s, t, p, handle, "acquire");
		hold(t, handle, idx);
		return;
	}
	storm_count(t, SC_ACQUIRE_MISSES, 1);
	/* Refused means retired; a retired entry's count must stay 0. */
	refs = s->ops->refs(entry);
	if (err != DLREG_ENOTLOADED || refs != 0)
		storm_fail(t, SC_INVARIANTS, "acquire %s: %s with refcount %lu", p->name,
		           dlreg_strerror(err), refs);
}

static void op_acquire(struct storm *s, struct storm_thread *t, uint64_t r)
{
	size_t idx = pick(s->cat.openable, s->cat.n_openable, r >> 8);
	const void *entry;

	if (!s->ops->read_lookup || !s->ops->read_acquire || !s->ops->check || !s->ops->refs) {
		relabel(t, "open (variant cannot acquire)");
		op_open(s, t, r, 0);
		return;
	}
	if (t->nheld >= s->cfg.max_held) {
		relabel(t, "close (holding --max-held)");
		close_at(s, t, (unsigned)(r % t->nheld));
		return;
	}
	set_plugin(t, idx);
	storm_set_state(t, "read section");
	s->ops->read_begin(t->reader);
	entry = s->ops->read_lookup(t->reader, s->cat.v[idx].path);
	if (entry)
		acquire_in_section(s, t, idx, entry);
	else
		storm_count(t, SC_ACQUIRE_MISSES, 1);
	s->ops->read_end(t->reader);
	storm_set_state(t, "checked");
}

static void op_scan(struct storm *s, struct storm_thread *t, uint64_t r)
{
	size_t idx = pick(s->cat.scannable, s->cat.n_scannable, r >> 8);

	set_plugin(t, idx);
	storm_scan_plugin(s, t, &s->cat.v[idx], r);
}

bool storm_op_available(const struct storm *s, enum storm_op op, const char **why)
{
	*why = NULL;
	if ((op == STORM_OP_PINNED_READ || op == STORM_OP_LOCKED_READ) && s->cat.n_pins == 0)
		*why = "no pinned plugin (--pin)";
	else if (op == STORM_OP_SCAN && !storm_scan_available())
		*why = "this build has no metadata scanner";
	else if (op == STORM_OP_SCAN && s->cat.n_scannable == 0)
		*why = "no plugin to scan";
	else if (op == STORM_OP_CHURN && !storm_churn_active())
		*why = "no churn copies (--slots 0 or no plain fixture to copy)";
	else if (op != STORM_OP_PINNED_READ && op != STORM_OP_LOCKED_READ && op != STORM_OP_SCAN &&
	         op != STORM_OP_CHURN && s->cat.n_openable == 0)
		*why = "no plugin to open";
	return *why == NULL;
}

void storm_op_run(struct storm *s, struct storm_thread *t, enum storm_op op, uint64_t r)
{
	switch (op) {
	case STORM_OP_OPEN:
		op_open(s, t, r, 0);
		break;
	case STORM_OP_CLOSE:
		op_close(s, t, r);
		break;
	case STORM_OP_READ:
		op_read(s, t, r);
		break;
	case STORM_OP_CALL:
		op_call(s, t, r);
		break;
	case STORM_OP_ACQUIRE:
		op_acquire(s, t, r);
		break;
	case STORM_OP_REOPEN:
		op_open(s, t, r, s->cfg.hints & (unsigned)(r >> 16));
		break;
	case STORM_OP_SCAN:
		op_scan(s, t, r);
		break;
	case STORM_OP_CHURN:
		storm_churn_step(s, t, r);
		break;
	case STORM_OP_PINNED_READ:
		op_pinned_read(s, t, r);
		break;
	case STORM_OP_LOCKED_READ:
		op_locked_read(s, t, r);
		break;
	default:
		break;
	}
}

void storm_close_held(struct storm *s, struct storm_thread *t)
{
	while (t->nheld)
		close_at(s, t, t->nheld - 1);
}
