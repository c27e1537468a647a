/*
 * test_registry.c - unit tests of the registry core against the fixture
 * plugins.  Each test asserts an outcome a user would see.
 *
 * usage: test_registry FIXTURE_DIR [TEST-NAME]
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dlreg/dlreg.h"
#include "fixture_abi.h"
#include "fixture_host.h"

static const char *fixdir;
static dlreg_t *host_reg; /* the registry fixture callbacks use */
static int failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                        \
			return;                                                            \
		}                                                                          \
	} while (0)

#define CHECK_ERR(expr, want)                                                              \
	do {                                                                               \
		int got_ = (expr);                                                         \
		if (got_ != (want)) {                                                      \
			fprintf(stderr, "%s:%d: %s = %s, want %s (detail: %s)\n", __FILE__, \
				__LINE__, #expr, dlreg_strerror(got_), dlreg_strerror(want), \
				dlreg_errdetail());                                        \
			failures++;                                                        \
			return;                                                            \
		}                                                                          \
	} while (0)

static int host_open(void *ctx, const char *path, void **handle)
{
	(void)ctx;
	return dlreg_open(host_reg, path, 0, (dlreg_lib_t **)handle);
}

static int host_close(void *ctx, void *handle)
{
	(void)ctx;
	return dlreg_close(host_reg, handle);
}

static pthread_mutex_t user_mutex = PTHREAD_MUTEX_INITIALIZER;

struct dlreg_fixture_host dlreg_fixture_host_instance = {
	.open = host_open,
	.close = host_close,
	.user_mutex = &user_mutex,
	.slow_ctor_us = 1000,
};

static char *fixture(const char *name)
{
	static _Thread_local char buf[8][4096];
	static _Thread_local int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof buf[0], "%s/lib%s.so", fixdir, name);
	return b;
}

struct map_probe {
	const char *suffix;
	bool found;
};

static int probe_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct map_probe *p = data;
	size_t n = strlen(info->dlpi_name), m = strlen(p->suffix);
	if (n >= m && strcmp(info->dlpi_name + n - m, p->suffix) == 0)
		p->found = true;
	return 0;
}

/* Is an object whose name ends in /lib<name>.so mapped? */
static bool mapped(const char *name)
{
	char suffix[256];
	snprintf(suffix, sizeof suffix, "/lib%s.so", name);
	struct map_probe p = { suffix, false };
	dl_iterate_phdr(probe_cb, &p);
	return p.found;
}

/* dlsym's void * to a function pointer without the cast ISO C forbids. */
static long call_answer(void *sym, long x)
{
	long (*fn)(long);
	memcpy(&fn, &sym, sizeof fn);
	return fn(x);
}

static int call_id(void *sym)
{
	int (*fn)(void);
	memcpy(&fn, &sym, sizeof fn);
	return fn();
}

static dlreg_t *new_reg(void)
{
	dlreg_t *reg = NULL;
	if (dlreg_create(NULL, &reg) != DLREG_OK)
		abort();
	host_reg = reg;
	return reg;
}

static void done_reg(dlreg_t *reg)
{
	size_t left = 0;
	int err = dlreg_destroy(reg, &left);
	if (err != DLREG_OK || left) {
		fprintf(stderr, "destroy: %s, %zu still referenced\n", dlreg_strerror(err), left);
		failures++;
	}
	host_reg = NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_symlink_shares_entry(void)
{
	dlreg_t *reg = new_reg();
	char dir[] = "/tmp/dlreg-test-XXXXXX";
	CHECK(mkdtemp(dir));
	char link[4200];
	snprintf(link, sizeof link, "%s/alias.so", dir);
	CHECK(symlink(fixture("plain03"), link) == 0);
	dlreg_lib_t *a, *b;
	CHECK_ERR(dlreg_open(reg, fixture("plain03"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, link, 0, &b), DLREG_OK);
	CHECK(a == b);
	CHECK(dlreg_lib_refs(a) == 2);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	dlreg_read_begin(rd);
	const dlreg_lib_t *via_link = dlreg_read_lookup(rd, link);
	const dlreg_lib_t *via_path = dlreg_read_lookup(rd, fixture("plain03"));
	dlreg_read_end(rd);
	CHECK(via_link == a && via_path == a);
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	CHECK(st.live == 1);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	unlink(link);
	rmdir(dir);
	done_reg(reg);
}

static void test_counts_and_real_unload(void)
{
	dlreg_t *reg = new_reg();
	CHECK(!mapped("plain04"));
	dlreg_lib_t *a, *b;
	CHECK_ERR(dlreg_open(reg, fixture("plain04"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("plain04"), 0, &b), DLREG_OK);
	CHECK(a == b && dlreg_lib_refs(a) == 2);
	CHECK(mapped("plain04"));
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK(dlreg_lib_refs(b) == 1);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(mapped("plain04")); /* one reference left */
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("plain04"));
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	CHECK(st.opens == 2 && st.closes == 2);
	CHECK(st.dlopen_calls == st.dlclose_calls);
	CHECK(st.live == 0 && st.retired == 1 && st.released == 1);
	CHECK(dlreg_pending(reg) == 0);
	done_reg(reg);
}

static void test_nodelete_stays_mapped(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain05"), DLREG_HINT_NODELETE, &a), DLREG_OK);
	CHECK(dlreg_lib_hints(a) & DLREG_HINT_NODELETE);
	CHECK(dlreg_lib_refs(a) == 2); /* ours and the entry's own (dlreg.h) */
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(mapped("plain05"));
	CHECK(dlreg_lib_refs(a) == 1); /* an entry that stays is never freed */
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	dlreg_read_begin(rd);
	bool still = dlreg_read_lookup(rd, fixture("plain05")) != NULL;
	dlreg_read_end(rd);
	CHECK(still);
	done_reg(reg); /* a nodelete pin is not a leak */
	CHECK(mapped("plain05"));
}

static void test_cached_symbol_equals_dlsym(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain06"), 0, &a), DLREG_OK);
	void *mine = NULL, *again = NULL, *viaread = NULL;
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_ANSWER, &mine), DLREG_OK);
	void *theirs = dlsym(dlreg_lib_dlhandle(a), DLREG_FIXTURE_SYM_ANSWER);
	CHECK(mine && mine == theirs);
	struct dlreg_stats s1, s2;
	dlreg_stats(reg, &s1);
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_ANSWER, &again), DLREG_OK);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	dlreg_read_begin(rd);
	int err = dlreg_read_sym(rd, fixture("plain06"), DLREG_FIXTURE_SYM_ANSWER, &viaread);
	long answer = err == DLREG_OK ? call_answer(viaread, 41) : -1;
	dlreg_read_end(rd);
	dlreg_stats(reg, &s2);
	CHECK(again == mine && viaread == mine);
	CHECK(s2.sym_misses == s1.sym_misses); /* hits never call dlsym */
	int id = call_id(dlsym(dlreg_lib_dlhandle(a), DLREG_FIXTURE_SYM_ID));
	CHECK(answer == dlreg_fixture_expected(id, 41));
	void *none = (void *)1;
	CHECK_ERR(dlreg_sym(a, "no_such_symbol_here", &none), DLREG_ENOSYM);
	CHECK(strstr(dlreg_errdetail(), "no_such_symbol_here") != NULL);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}

static void test_lookup_after_close_misses(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain07"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	void *sym = NULL;
	dlreg_read_begin(rd);
	const dlreg_lib_t *l = dlreg_read_lookup(rd, fixture("plain07"));
	int err = dlreg_read_sym(rd, fixture("plain07"), DLREG_FIXTURE_SYM_ANSWER, &sym);
	dlreg_read_end(rd);
	CHECK(l == NULL);
	CHECK_ERR(err, DLREG_ENOTLOADED);
	done_reg(reg);
}

/* One read_sym in a read section of its own. */
static int read_sym_once(dlreg_reader_t *rd, const char *path, const char *name, void **sym)
{
	dlreg_read_begin(rd);
	int err = dlreg_read_sym(rd, path, name, sym);
	dlreg_read_end(rd);
	return err;
}

/*
 * Equal strings at other addresses (the reader's second memo, keyed by the
 * strings' hashes), one buffer holding different paths in turn (the first
 * memo, keyed by address, must compare contents), and both memos after the
 * entry is retired: a remembered lookup of a retired entry must miss.
 */
static void test_read_sym_equal_strings(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a, *b;
	CHECK_ERR(dlreg_open(reg, fixture("plain08"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("plain09"), 0, &b), DLREG_OK);
	void *want_a = dlsym(dlreg_lib_dlhandle(a), DLREG_FIXTURE_SYM_ANSWER);
	void *want_b = dlsym(dlreg_lib_dlhandle(b), DLREG_FIXTURE_SYM_ANSWER);
	CHECK(want_a && want_b && want_a != want_b);
	enum { COPIES = 40 };
	char *paths[COPIES], *names[COPIES];
	for (int i = 0; i < COPIES; i++) {
		paths[i] = strdup(fixture("plain08"));
		names[i] = strdup(DLREG_FIXTURE_SYM_ANSWER);
		CHECK(paths[i] && names[i]);
	}
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	char buf[4096];
	int wrong = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < COPIES; i++) {
			void *sym = NULL;
			int err = read_sym_once(rd, paths[i], names[i], &sym);
			wrong += err != DLREG_OK || sym != want_a;
			/* The same buffer, the other library every other time. */
			snprintf(buf, sizeof buf, "%s", fixture(i % 2 ? "plain09" : "plain08"));
			err = read_sym_once(rd, buf, DLREG_FIXTURE_SYM_ANSWER, &sym);
			wrong += err != DLREG_OK || sym != (i % 2 ? want_b : want_a);
		}
	}
	CHECK(wrong == 0);
	/* Retired: every remembered form misses, and a fresh copy too. */
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	char *fresh = strdup(fixture("plain08"));
	CHECK(fresh != NULL);
	int found = 0;
	for (int i = 0; i <= COPIES; i++) {
		void *sym = NULL;
		int err = read_sym_once(rd, i < COPIES ? paths[i] : fresh, names[i % COPIES], &sym);
		found += err != DLREG_ENOTLOADED;
	}
	CHECK(found == 0);
	/* Loaded again: the lookups find the new entry. */
	CHECK_ERR(dlreg_open(reg, fixture("plain08"), 0, &a), DLREG_OK);
	void *want_new = dlsym(dlreg_lib_dlhandle(a), DLREG_FIXTURE_SYM_ANSWER);
	for (int i = 0; i < COPIES; i++) {
		void *sym = NULL;
		int err = read_sym_once(rd, paths[i], names[i], &sym);
		wrong += err != DLREG_OK || sym != want_new;
	}
	CHECK(wrong == 0);
	for (int i = 0; i < COPIES; i++) {
		free(paths[i]);
		free(names[i]);
	}
	free(fresh);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	done_reg(reg);
}

/*
 * A way of the second memo that was never filled is all zeroes.  This
 * path makes the second memo's key 0 for DLREG_FIXTURE_SYM_ANSWER (the
 * string hash and key of 0.2.0, inverted), so on a fresh registry, before
 * any retirement, it used to match such a way and follow its NULL alias.
 */
static void test_read_sym_zero_key(void)
{
	static const char path[] = "\x2f\x74\x6d\x70\x2f\x66\x69\x6d\x02\x4a\x5c\xed\xa1\x47\x4b\x47";
	dlreg_t *reg = new_reg();
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	void *sym = (void *)1;
	CHECK_ERR(read_sym_once(rd, path, DLREG_FIXTURE_SYM_ANSWER, &sym), DLREG_ENOTLOADED);
	done_reg(reg);
}

static void test_retired_entry_not_acquired(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a, *b = NULL;
	CHECK_ERR(dlreg_open(reg, fixture("plain08"), 0, &a), DLREG_OK);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	dlreg_read_begin(rd);
	const dlreg_lib_t *l = dlreg_read_lookup(rd, fixture("plain08"));
	int closed = dlreg_close(reg, a); /* retire while a reader holds it */
	int got = dlreg_lib_acquire(rd, l, &b);
	int alive = dlreg_lib_check(l); /* still valid memory inside the section */
	CHECK_ERR(dlreg_quiesce(reg), DLREG_EDEADLK);
	dlreg_read_end(rd);
	CHECK(l == a && closed == DLREG_OK);
	CHECK_ERR(got, DLREG_ENOTLOADED);
	CHECK_ERR(alive, DLREG_OK);
	CHECK(dlreg_pending(reg) == 1);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(dlreg_pending(reg) == 0 && !mapped("plain08"));
	done_reg(reg);
}

/* An entry a reader found, acquired: the same entry with one reference
 * more (one more open in the stats), usable after the read section and
 * closed like an open's handle; NULL arguments are refused. */
static void test_acquire_live(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a, *b = NULL, *c = NULL;
	CHECK_ERR(dlreg_open(reg, fixture("plain08"), 0, &a), DLREG_OK);
	struct dlreg_stats st0, st;
	dlreg_stats(reg, &st0);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	CHECK(rd != NULL);
	dlreg_read_begin(rd);
	const dlreg_lib_t *l = dlreg_read_lookup(rd, fixture("plain08"));
	int got = dlreg_lib_acquire(rd, l, &b);
	int null_reader = dlreg_lib_acquire(NULL, l, &c);
	int null_entry = dlreg_lib_acquire(rd, NULL, &c);
	int null_out = dlreg_lib_acquire(rd, l, NULL);
	bool null_said = strstr(dlreg_errdetail(), "NULL") != NULL;
	dlreg_read_end(rd);
	CHECK(l == a);
	CHECK_ERR(got, DLREG_OK);
	CHECK(b == a && dlreg_lib_refs(a) == 2);
	CHECK_ERR(null_reader, DLREG_EINVAL);
	CHECK_ERR(null_entry, DLREG_EINVAL);
	CHECK_ERR(null_out, DLREG_EINVAL);
	CHECK(c == NULL && null_said);
	dlreg_stats(reg, &st);
	CHECK(st.opens == st0.opens + 1);
	/* The open's handle closed: the acquired reference keeps the library. */
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	void *sym = NULL;
	CHECK_ERR(dlreg_sym(b, DLREG_FIXTURE_SYM_ANSWER, &sym), DLREG_OK);
	CHECK(sym != NULL && dlreg_lib_refs(b) == 1 && mapped("plain08"));
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("plain08"));
	dlreg_stats(reg, &st);
	CHECK(st.closes == st0.closes + 2 && st.live == 0 && st.dlopen_calls == st.dlclose_calls);
	done_reg(reg);
}

/* An entry of one registry cannot be acquired through another's reader:
 * the reference would be taken where that registry's grace periods and
 * destroy never look. */
static void test_acquire_other_registry(void)
{
	dlreg_t *reg = new_reg(), *other = new_reg();
	dlreg_lib_t *a, *b = NULL;
	CHECK_ERR(dlreg_open(reg, fixture("plain08"), 0, &a), DLREG_OK);
	dlreg_reader_t *rd = dlreg_reader_self(reg), *ord = dlreg_reader_self(other);
	CHECK(rd != NULL && ord != NULL);
	dlreg_read_begin(rd);
	dlreg_read_begin(ord);
	const dlreg_lib_t *l = dlreg_read_lookup(rd, fixture("plain08"));
	int got = dlreg_lib_acquire(ord, l, &b);
	dlreg_read_end(ord);
	dlreg_read_end(rd);
	CHECK(l == a);
	CHECK_ERR(got, DLREG_EINVAL);
	CHECK(b == NULL && strstr(dlreg_errdetail(), "another") != NULL);
	CHECK(dlreg_lib_refs(a) == 1);
	struct dlreg_stats st;
	dlreg_stats(other, &st);
	CHECK(st.opens == 0);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(other);
	done_reg(reg);
}

/* An unbalanced dlreg_read_end aborts (in a child) instead of wrapping the
 * nesting count; balanced nesting does not. */
static void test_unbalanced_read_end_aborts(void)
{
	dlreg_t *reg = new_reg();
	int err[2];
	CHECK(pipe(err) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		dup2(err[1], STDERR_FILENO);
		dlreg_reader_t *rd = dlreg_reader_self(reg);
		if (!rd)
			_exit(2);
		dlreg_read_begin(rd);
		dlreg_read_begin(rd);
		dlreg_read_end(rd);
		dlreg_read_end(rd);
		if (dlreg_quiesce(reg) != DLREG_OK)
			_exit(3);
		dlreg_read_end(rd);
		_exit(0);
	}
	close(err[1]);
	char buf[512];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(err[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(err[0]);
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fprintf(stderr, "child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK(strstr(buf, "dlreg_read_end without a matching dlreg_read_begin") != NULL);
	done_reg(reg);
}

static void *alarm_thread(void *arg)
{
	sleep((unsigned)(uintptr_t)arg);
	fprintf(stderr, "test hung (deadlock?)\n");
	_exit(3);
}

static void test_ctor_opens_itself(void)
{
	dlreg_t *reg = new_reg();
	unsigned long ctor0 = dlreg_fixture_host_instance.ctor_runs;
	unsigned long err0 = dlreg_fixture_host_instance.callback_errors;
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("cb_self"), 0, &a), DLREG_OK);
	CHECK(dlreg_fixture_host_instance.ctor_runs > ctor0);
	CHECK(dlreg_fixture_host_instance.callback_errors == err0); /* a valid reference */
	CHECK(dlreg_lib_refs(a) >= 1);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("cb_self"));
	done_reg(reg);
}

/*
 * dlreg_quiesce and dlreg_destroy called from a plugin's constructor (its
 * dlopen() holds the loader's lock) and from its destructor (dlclose()
 * does): DLREG_EDEADLK, nothing done, and the registry goes on working.
 * The host's open and close callbacks, which libcb_self.so's constructor
 * and libdtor_cb.so's destructor make, try both first.
 */
static struct {
	int quiesce_rc, destroy_rc, calls;
} in_loader;

static void in_loader_try(void)
{
	in_loader.calls++;
	in_loader.quiesce_rc = dlreg_quiesce(host_reg);
	in_loader.destroy_rc = dlreg_destroy(host_reg, NULL);
}

static int in_loader_open(void *ctx, const char *path, void **handle)
{
	in_loader_try();
	return host_open(ctx, path, handle);
}

static int in_loader_close(void *ctx, void *handle)
{
	in_loader_try();
	return host_close(ctx, handle);
}

static void test_quiesce_destroy_inside_loader(void)
{
	dlreg_t *reg = new_reg();
	struct dlreg_fixture_host saved = dlreg_fixture_host_instance;
	dlreg_fixture_host_instance.open = in_loader_open;
	dlreg_fixture_host_instance.close = in_loader_close;
	dlreg_lib_t *a;
	for (int round = 0; round < 2; round++) {
		in_loader.quiesce_rc = in_loader.destroy_rc = -1;
		in_loader.calls = 0;
		if (round == 0) { /* the constructor's open, then its close */
			CHECK_ERR(dlreg_open(reg, fixture("cb_self"), 0, &a), DLREG_OK);
		} else { /* the destructor's open and close, in the quiesce below */
			CHECK_ERR(dlreg_open(reg, fixture("dtor_cb"), 0, &a), DLREG_OK);
			CHECK(in_loader.calls == 0);
		}
		CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
		CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
		CHECK(in_loader.calls == 2);
		CHECK_ERR(in_loader.quiesce_rc, DLREG_EDEADLK);
		CHECK_ERR(in_loader.destroy_rc, DLREG_EDEADLK);
		CHECK(!mapped(round == 0 ? "cb_self" : "dtor_cb"));
	}
	dlreg_fixture_host_instance = saved;
	/* Still a working registry. */
	CHECK_ERR(dlreg_open(reg, fixture("plain09"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}

static void test_ctor_opens_other(void)
{
	dlreg_t *reg = new_reg();
	unsigned long err0 = dlreg_fixture_host_instance.callback_errors;
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("cb_other"), 0, &a), DLREG_OK);
	CHECK(dlreg_fixture_host_instance.callback_errors == err0);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	dlreg_read_begin(rd);
	bool other = dlreg_read_lookup(rd, fixture("plain00")) != NULL;
	dlreg_read_end(rd);
	CHECK(other);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK); /* its destructor closes plain00 */
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("cb_other") && !mapped("plain00"));
	done_reg(reg);
}

static void test_load_failure_detail(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a = (dlreg_lib_t *)1;
	CHECK_ERR(dlreg_open(reg, fixture("fail"), 0, &a), DLREG_EUNDEFINED);
	CHECK(a == NULL);
	const char *d = dlreg_errdetail();
	CHECK(strstr(d, "undefined symbol") != NULL);
	CHECK(strstr(d, "libfail.so#") != NULL); /* redacted: basename#hash */
	CHECK(strstr(d, fixdir) == NULL);        /* never the full path */
	/* The same plugin loads lazily: the undefined function is never called. */
	CHECK_ERR(dlreg_open(reg, fixture("fail"), DLREG_HINT_LAZY, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}

/* Copies a file, replacing each `find` in it by `repl` (as long) if given. */
static bool copy_file(const char *from, const char *to, const char *find, const char *repl)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	static char buf[1 << 20];
	size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
	bool ok = in && out && n > 0 && n < sizeof buf;
	for (size_t i = 0; ok && find && i + strlen(find) <= n; i++)
		if (memcmp(buf + i, find, strlen(find)) == 0)
			memcpy(buf + i, repl, strlen(find));
	if (ok)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = false;
	return ok;
}

/*
 * A file that exists but needs a library that cannot be found is refused by
 * the loader (DLREG_ELOAD), not reported missing; and the caller's path is
 * redacted as a whole in the detail text, also when it holds a space or is
 * relative.  The copy of libdep0.so needs libgone.so instead of libbase.so.
 */
static void test_missing_dependency_and_odd_paths(void)
{
	dlreg_t *reg = new_reg();
	char dir[] = "/tmp/dlreg odd:dir-XXXXXX";
	CHECK(mkdtemp(dir));
	const char *secret = dir + strlen(dir) - 6; /* mkdtemp's random part */
	char copy[4200], none[4200], rel[8400];
	snprintf(copy, sizeof copy, "%s/libdep0.so", dir);
	snprintf(none, sizeof none, "%s/libnone.so", dir);
	CHECK(copy_file(fixture("dep0"), copy, "libbase.so", "libgone.so"));
	dlreg_lib_t *a = NULL;
	CHECK_ERR(dlreg_open(reg, copy, 0, &a), DLREG_ELOAD);
	CHECK(strstr(dlreg_errdetail(), "libgone.so") != NULL);
	CHECK(strstr(dlreg_errdetail(), secret) == NULL);
	CHECK_ERR(dlreg_open(reg, none, 0, &a), DLREG_ENOENT);
	CHECK(strstr(dlreg_errdetail(), "libnone.so#") != NULL);
	CHECK(strstr(dlreg_errdetail(), secret) == NULL);
	/* The same directory by a relative path, from any working directory. */
	rel[0] = '\0';
	for (int i = 0; i < 64; i++)
		strcat(rel, "../");
	strcat(rel, none + 1);
	CHECK_ERR(dlreg_open(reg, rel, 0, &a), DLREG_ENOENT);
	CHECK(strstr(dlreg_errdetail(), "libnone.so#") != NULL);
	CHECK(strstr(dlreg_errdetail(), secret) == NULL);
	/* dlsym's text names the object by the path it was opened with. */
	CHECK(copy_file(fixture("plain22"), none, NULL, NULL));
	CHECK_ERR(dlreg_open(reg, rel, 0, &a), DLREG_OK);
	void *sym;
	CHECK_ERR(dlreg_sym(a, "dlreg_no_such_symbol", &sym), DLREG_ENOSYM);
	CHECK(strstr(dlreg_errdetail(), "libnone.so#") != NULL);
	CHECK(strstr(dlreg_errdetail(), secret) == NULL);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	unlink(none);
	unlink(copy);
	rmdir(dir);
	done_reg(reg);
}

/*
 * An ELF file that is not a shared object (a relocatable object, an
 * executable) is DLREG_ENOTELF, as a file that is not ELF at all: copies of
 * a plugin with another e_type.
 */
static void test_elf_not_shared_object(void)
{
	dlreg_t *reg = new_reg();
	char dir[] = "/tmp/dlreg-test-XXXXXX";
	CHECK(mkdtemp(dir));
	static const struct {
		const char *name;
		unsigned char e_type; /* the low byte of e_type */
	} kinds[] = { { "librel.so", 1 /* ET_REL */ }, { "libexec.so", 2 /* ET_EXEC */ } };
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char copy[4200];
		snprintf(copy, sizeof copy, "%s/%s", dir, kinds[i].name);
		CHECK(copy_file(fixture("plain22"), copy, NULL, NULL));
		FILE *f = fopen(copy, "r+b");
		CHECK(f != NULL);
		/* e_type follows e_ident, in the byte order its EI_DATA names. */
		int data = fseek(f, EI_DATA, SEEK_SET) == 0 ? fgetc(f) : EOF;
		long low = data == ELFDATA2MSB ? EI_NIDENT + 1 : EI_NIDENT;
		bool patched = data != EOF && fseek(f, low, SEEK_SET) == 0 &&
			       fputc(kinds[i].e_type, f) != EOF;
		CHECK(fclose(f) == 0 && patched);
		dlreg_lib_t *a = (dlreg_lib_t *)1;
		CHECK_ERR(dlreg_open(reg, copy, 0, &a), DLREG_ENOTELF);
		CHECK(a == NULL && strstr(dlreg_errdetail(), kinds[i].name) != NULL);
		unlink(copy);
	}
	rmdir(dir);
	done_reg(reg);
}

/*
 * For a bare name the loader names the object by the file its search
 * found, a search path's directory joined to the name, which may be
 * relative.  The test runs itself again with a relative LD_LIBRARY_PATH
 * (read at startup only) naming the fixtures: the detail of a failed open
 * and of a missing symbol names that file redacted, never its directory.
 */
static const char search_env[] = "DLREG_TEST_RELATIVE_SEARCH";

static void test_bare_name_found_file_redacted(void)
{
	if (!getenv(search_env)) {
		char rel[8400] = "";
		for (int i = 0; i < 64; i++)
			strcat(rel, "../");
		strcat(rel, fixdir + 1);
		pid_t pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY); /* its "ok" line is ours */
			if (null >= 0)
				dup2(null, STDOUT_FILENO);
			setenv("LD_LIBRARY_PATH", rel, 1);
			setenv(search_env, "1", 1);
			execl("/proc/self/exe", "test_registry", fixdir, "bare_name_found_file_redacted",
			      (char *)NULL);
			_exit(127);
		}
		int status = 0;
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		return;
	}
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, "libfail.so", 0, &a), DLREG_EUNDEFINED);
	CHECK(strstr(dlreg_errdetail(), "undefined symbol") != NULL);
	CHECK(strstr(dlreg_errdetail(), "libfail.so#") != NULL);
	CHECK(strstr(dlreg_errdetail(), fixdir + 1) == NULL);
	CHECK_ERR(dlreg_open(reg, "libplain23.so", 0, &a), DLREG_OK);
	void *sym;
	CHECK_ERR(dlreg_sym(a, "dlreg_no_such_symbol", &sym), DLREG_ENOSYM);
	CHECK(strstr(dlreg_errdetail(), "libplain23.so#") != NULL);
	CHECK(strstr(dlreg_errdetail(), fixdir + 1) == NULL);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}

static void test_bad_arguments(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(NULL, fixture("plain01"), 0, &a), DLREG_EINVAL);
	CHECK_ERR(dlreg_open(reg, NULL, 0, &a), DLREG_EINVAL);
	CHECK_ERR(dlreg_open(reg, "", 0, &a), DLREG_EINVAL);
	CHECK_ERR(dlreg_open(reg, fixture("plain01"), 0x100, &a), DLREG_EINVAL);
	CHECK_ERR(dlreg_open(reg, fixture("plain01"), 0, NULL), DLREG_EINVAL);
	CHECK_ERR(dlreg_open(reg, fixture("notelf"), 0, &a), DLREG_ENOTELF);
	CHECK_ERR(dlreg_open(reg, fixture("empty"), 0, &a), DLREG_ENOTELF);
	CHECK_ERR(dlreg_open(reg, fixdir, 0, &a), DLREG_EISDIR);
	CHECK_ERR(dlreg_open(reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
	CHECK(strstr(dlreg_errdetail(), fixdir) == NULL);
	CHECK_ERR(dlreg_close(reg, NULL), DLREG_EINVAL);
	CHECK(strstr(dlreg_errdetail(), "close: NULL") != NULL);
	CHECK_ERR(dlreg_close(NULL, NULL), DLREG_EINVAL);
	CHECK(strstr(dlreg_errdetail(), "close: NULL") != NULL);
	/* Each failure has its own detail, never an earlier call's. */
	CHECK_ERR(dlreg_open(reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
	CHECK_ERR(dlreg_sym(NULL, "x", (void **)&a), DLREG_EINVAL);
	CHECK(strstr(dlreg_errdetail(), "cannot open") == NULL);
	CHECK_ERR(dlreg_open(reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
	CHECK_ERR(dlreg_quiesce(NULL), DLREG_EINVAL);
	CHECK(strstr(dlreg_errdetail(), "cannot open") == NULL);
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	void *sym;
	CHECK_ERR(dlreg_open(reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
	dlreg_read_begin(rd);
	int rs = dlreg_read_sym(rd, fixture("does_not_exist"), "x", &sym);
	dlreg_read_end(rd);
	CHECK_ERR(rs, DLREG_ENOTLOADED);
	CHECK(strstr(dlreg_errdetail(), "cannot open") == NULL);
	CHECK_ERR(dlreg_create(NULL, NULL), DLREG_EINVAL);
	struct dlreg_config bad = { .reclaim = (enum dlreg_reclaim)7 };
	dlreg_t *r2;
	CHECK_ERR(dlreg_create(&bad, &r2), DLREG_EINVAL);
	struct dlreg_config bad_flags = { .flags = 0x100 };
	CHECK_ERR(dlreg_create(&bad_flags, &r2), DLREG_EINVAL);
	struct dlreg_config bad_level = { .log_level = (enum dlreg_log_level)9 };
	CHECK_ERR(dlreg_create(&bad_level, &r2), DLREG_EINVAL);
	CHECK(strcmp(dlreg_strerror(9999), "unknown error") == 0);
	for (int e = 0; e < DLREG_ERR_COUNT_; e++)
		CHECK(strcmp(dlreg_strerror(e), "unknown error") != 0);
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	CHECK(st.live == 0 && st.dlopen_calls == 0);
	/* Empty strings are EINVAL on the read side too, with a loaded library. */
	CHECK_ERR(dlreg_open(reg, fixture("plain01"), 0, &a), DLREG_OK);
	struct dlreg_stats s0, s1;
	dlreg_stats(reg, &s0);
	CHECK_ERR(read_sym_once(rd, fixture("plain01"), "", &sym), DLREG_EINVAL);
	CHECK_ERR(read_sym_once(rd, "", DLREG_FIXTURE_SYM_ANSWER, &sym), DLREG_EINVAL);
	CHECK_ERR(dlreg_read_sym(NULL, fixture("plain01"), DLREG_FIXTURE_SYM_ANSWER, &sym),
		  DLREG_EINVAL);
	CHECK_ERR(read_sym_once(rd, fixture("plain01"), DLREG_FIXTURE_SYM_ANSWER, NULL),
		  DLREG_EINVAL);
	CHECK_ERR(dlreg_sym(a, "", &sym), DLREG_EINVAL);
	dlreg_stats(reg, &s1);
	CHECK(s1.sym_misses == s0.sym_misses); /* no dlsym() for them */
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	done_reg(reg);
}

struct section_holder {
	dlreg_t *reg;
	pthread_barrier_t in, out;
};

static void *hold_section(void *arg)
{
	struct section_holder *h = arg;
	dlreg_reader_t *rd = dlreg_reader_self(h->reg);
	dlreg_read_begin(rd);
	pthread_barrier_wait(&h->in);
	pthread_barrier_wait(&h->out); /* stays in the section across the fork */
	dlreg_read_end(rd);
	return NULL;
}

static void test_fork_child_opens_and_closes(void)
{
	dlreg_t *reg = new_reg();
	struct section_holder h = { .reg = reg };
	pthread_barrier_init(&h.in, NULL, 2);
	pthread_barrier_init(&h.out, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, hold_section, &h);
	pthread_barrier_wait(&h.in);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		dlreg_lib_t *a;
		int rc = 0;
		if (dlreg_open(reg, fixture("plain09"), 0, &a) != DLREG_OK)
			rc = 1;
		else if (dlreg_close(reg, a) != DLREG_OK)
			rc = 2;
		else if (dlreg_quiesce(reg) != DLREG_OK) /* hangs if the parent's reader blocks */
			rc = 3;
		else if (mapped("plain09"))
			rc = 4;
		_exit(rc);
	}
	int status = 0;
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	pthread_barrier_wait(&h.out);
	pthread_join(t, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "fork child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	done_reg(reg);
}

/*
 * A reclaim thread is waiting for a grace period that a reader's section
 * holds open when another thread forks: the fork must not block on the
 * registry, and the child must be able to use and destroy the registry.
 */
static atomic_int keep_loading_said; /* "destructors keep loading" warnings */

static void keep_loading_log(void *ctx, enum dlreg_log_level lvl, const char *msg)
{
	(void)ctx;
	(void)lvl;
	if (strstr(msg, "keep loading"))
		atomic_fetch_add(&keep_loading_said, 1);
}

static void test_fork_during_grace_wait(void)
{
	/* The batch the reclaim thread held is lost in the child: its quiesce
	 * and destroy must count it done, not wait it out and warn that
	 * destructors keep loading libraries. */
	struct dlreg_config cfg = { .reclaim = DLREG_RECLAIM_THREAD, .log = keep_loading_log,
				    .log_level = DLREG_LOG_WARN };
	dlreg_t *reg;
	CHECK_ERR(dlreg_create(&cfg, &reg), DLREG_OK);
	host_reg = reg;
	struct section_holder h = { .reg = reg };
	pthread_barrier_init(&h.in, NULL, 2);
	pthread_barrier_init(&h.out, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, hold_section, &h);
	pthread_barrier_wait(&h.in);
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain14"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK); /* the reclaim thread now waits */
	usleep(50000);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		dlreg_lib_t *b;
		int rc = dlreg_open(reg, fixture("plain15"), 0, &b) != DLREG_OK ? 1
			 : dlreg_close(reg, b) != DLREG_OK                 ? 2
			 : dlreg_destroy(reg, NULL) != DLREG_OK            ? 3
			 : atomic_load(&keep_loading_said)                 ? 4
									   : 0;
		_exit(rc);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	pthread_barrier_wait(&h.out);
	pthread_join(t, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("plain14"));
	done_reg(reg);
}

/*
 * A thread other than the registry's creator forks while an entry's
 * release waits for a reader's section: in the child the release is
 * still queued on the reclaimer's record, and the child's quiesce must
 * carry it out (nothing pending, the library unmapped).
 */
struct forker {
	int status;
};

static void *fork_and_quiesce(void *arg)
{
	struct forker *f = arg;
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		int rc = dlreg_quiesce(host_reg) != DLREG_OK ? 1
			 : dlreg_pending(host_reg) != 0      ? 2
			 : mapped("plain15")                 ? 3
							     : 0;
		_exit(rc);
	}
	f->status = -1;
	if (pid > 0)
		waitpid(pid, &f->status, 0);
	return NULL;
}

static void test_fork_from_other_thread(void)
{
	dlreg_t *reg = new_reg();
	struct section_holder h = { .reg = reg };
	pthread_barrier_init(&h.in, NULL, 2);
	pthread_barrier_init(&h.out, NULL, 2);
	pthread_t t, f;
	pthread_create(&t, NULL, hold_section, &h);
	pthread_barrier_wait(&h.in);
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain15"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK(dlreg_pending(reg) == 1);
	struct forker fk = { 0 };
	pthread_create(&f, NULL, fork_and_quiesce, &fk);
	pthread_join(f, NULL);
	pthread_barrier_wait(&h.out);
	pthread_join(t, NULL);
	if (!WIFEXITED(fk.status) || WEXITSTATUS(fk.status) != 0)
		fprintf(stderr, "fork child: status %#x\n", (unsigned)fk.status);
	CHECK(WIFEXITED(fk.status) && WEXITSTATUS(fk.status) == 0);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(dlreg_pending(reg) == 0 && !mapped("plain15"));
	done_reg(reg);
}

#ifdef DLREG_TEST_MEMO_FILL_HOOK
/*
 * A thread that forks while another fills a way of its reader memo leaves
 * the way half filled in the child: keys and generation set, the alias and
 * symbol not yet.  The child's next reader record is that thread's, recycled;
 * a lookup by the same strings must not hit the half-filled way.
 */
static atomic_int memo_hook_armed;   /* the next fill stops in the hook */
static atomic_int memo_hook_stopped; /* a fill is stopped there */
static atomic_int memo_hook_release;
static atomic_int memo_fills; /* ways of the first memo filled so far */

void dlreg__test_memo_fill_hook(void);
void dlreg__test_memo_fill_hook(void)
{
	atomic_fetch_add(&memo_fills, 1);
	if (!atomic_exchange(&memo_hook_armed, 0))
		return;
	atomic_store(&memo_hook_stopped, 1);
	while (!atomic_load(&memo_hook_release))
		sched_yield();
}

struct memo_filler {
	dlreg_t *reg;
	const char *path;
	void *sym;
	int rc;
};

static void *fill_memo(void *arg)
{
	struct memo_filler *f = arg;
	dlreg_reader_t *rd = dlreg_reader_register(f->reg);
	f->rc = DLREG_ENOMEM;
	if (rd) {
		dlreg_read_begin(rd);
		f->rc = dlreg_read_sym(rd, f->path, DLREG_FIXTURE_SYM_KIND, &f->sym);
		dlreg_read_end(rd);
		dlreg_reader_unregister(rd);
	}
	return NULL;
}

static void test_fork_child_memo_half_filled(void)
{
	dlreg_t *reg = new_reg();
	struct memo_filler f = { .reg = reg, .path = fixture("plain23") };
	dlreg_lib_t *a;
	void *want;
	CHECK_ERR(dlreg_open(reg, f.path, 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_KIND, &want), DLREG_OK);
	atomic_store(&memo_hook_armed, 1);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, fill_memo, &f) == 0);
	while (!atomic_load(&memo_hook_stopped))
		sched_yield();
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		/* The only reader record free here is the stopped thread's. */
		dlreg_reader_t *rd = dlreg_reader_register(reg);
		void *sym = NULL;
		int rc = 1;
		if (rd) {
			dlreg_read_begin(rd);
			rc = dlreg_read_sym(rd, f.path, DLREG_FIXTURE_SYM_KIND, &sym) != DLREG_OK ? 2
			     : sym != want                                                      ? 3
												: 0;
			dlreg_read_end(rd);
		}
		_exit(rc);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	atomic_store(&memo_hook_release, 1);
	pthread_join(t, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "fork child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_ERR(f.rc, DLREG_OK);
	CHECK(f.sym == want);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}

/* First-memo ways filled by one lookup (a section of its own); -1 if it
 * did not find `want`. */
static int fills_by_lookup(dlreg_reader_t *rd, const char *path, const char *name, void *want)
{
	int before = atomic_load(&memo_fills);
	void *sym = NULL;
	if (read_sym_once(rd, path, name, &sym) != DLREG_OK || sym != want)
		return -1;
	return atomic_load(&memo_fills) - before;
}

/*
 * When a hit of the second memo (equal strings, other addresses) fills a
 * way of the first: only for a caller that hits it with the same pointers
 * twice in a row.  Copies that change every call never fill one; stable
 * strings whose way was lost get it back on their second lookup.
 */
static void test_memo_refill_on_repeat(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	void *want;
	CHECK_ERR(dlreg_open(reg, fixture("plain19"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_KIND, &want), DLREG_OK);
	enum { COPIES = 8 };
	char *paths[COPIES], *names[COPIES];
	for (int i = 0; i < COPIES; i++) {
		paths[i] = strdup(fixture("plain19"));
		names[i] = strdup(DLREG_FIXTURE_SYM_KIND);
		CHECK(paths[i] && names[i]);
	}
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	/* A miss of both memos fills a way of each; the same pointers then hit. */
	CHECK(fills_by_lookup(rd, paths[0], names[0], want) == 1);
	CHECK(fills_by_lookup(rd, paths[0], names[0], want) == 0);
	/* Other copies in turn: second-memo hits, nothing filled. */
	int filled = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 1; i < COPIES; i++)
			filled |= fills_by_lookup(rd, paths[i], names[i], want);
	CHECK(filled == 0);
	/* One copy twice in a row: the second lookup fills, the third hits. */
	CHECK(fills_by_lookup(rd, paths[1], names[1], want) == 0);
	CHECK(fills_by_lookup(rd, paths[1], names[1], want) == 1);
	CHECK(fills_by_lookup(rd, paths[1], names[1], want) == 0);
	for (int i = 0; i < COPIES; i++) {
		free(paths[i]);
		free(names[i]);
	}
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	done_reg(reg);
}
#endif

struct log_capture {
	char lines[32][512];
	int n;
};

static void capture_log(void *ctx, enum dlreg_log_level lvl, const char *msg)
{
	struct log_capture *c = ctx;
	(void)lvl;
	if (c->n < 32)
		snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", msg);
}

/* destroy leaves a still-referenced entry allocated for its user; keep the
 * handle reachable so LeakSanitizer sees it as in use, as it is. */
static dlreg_lib_t *leaked_on_purpose;

/* A second NODELETE open of the entry, through a path the registry has
 * not seen (the slow path), does not pin it again: two handles and one
 * pin, and once both handles are closed destroy finds nothing held. */
static void test_nodelete_twice_pins_once(void)
{
	dlreg_t *reg = new_reg();
	char alias[4200];
	snprintf(alias, sizeof alias, "%s/./libplain05.so", fixdir);
	dlreg_lib_t *a, *b;
	CHECK_ERR(dlreg_open(reg, fixture("plain05"), DLREG_HINT_NODELETE, &a), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, alias, DLREG_HINT_NODELETE, &b), DLREG_OK);
	CHECK(a == b && dlreg_lib_refs(a) == 3);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(dlreg_lib_refs(a) == 1 && mapped("plain05"));
	done_reg(reg); /* fails if the entry holds a second pin */
}

static void test_log_redacts_paths(void)
{
	struct log_capture cap = { .n = 0 };
	/* WARN exactly: the failed open and the leak report are warnings. */
	struct dlreg_config cfg = { .log = capture_log, .log_ctx = &cap,
				    .log_level = DLREG_LOG_WARN };
	dlreg_t *reg;
	CHECK_ERR(dlreg_create(&cfg, &reg), DLREG_OK);
	host_reg = reg;
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("fail"), 0, &a), DLREG_EUNDEFINED);
	CHECK_ERR(dlreg_open(reg, fixture("plain10"), 0, &leaked_on_purpose), DLREG_OK);
	size_t left;
	CHECK_ERR(dlreg_destroy(reg, &left), DLREG_EBUSY); /* reports the leak */
	CHECK(left == 1);
	/* Its own detail, not the failed open's. */
	CHECK(strstr(dlreg_errdetail(), "1 library still referenced") != NULL);
	CHECK(cap.n >= 2);
	bool saw_hash = false, saw_held = false;
	for (int i = 0; i < cap.n; i++) {
		CHECK(strstr(cap.lines[i], fixdir) == NULL);
		saw_hash |= strstr(cap.lines[i], "libplain10.so#") != NULL;
		saw_held |= strstr(cap.lines[i], "still referenced") != NULL;
	}
	CHECK(saw_hash && saw_held);
	/* The orphaned handle still resolves symbols (cache miss included) and
	 * refuses a close through another registry. */
	void *sym = NULL;
	CHECK_ERR(dlreg_sym(leaked_on_purpose, DLREG_FIXTURE_SYM_KIND, &sym), DLREG_OK);
	CHECK(sym == dlsym(dlreg_lib_dlhandle(leaked_on_purpose), DLREG_FIXTURE_SYM_KIND));

	struct log_capture full = { .n = 0 };
	struct dlreg_config cfg2 = { .log = capture_log, .log_ctx = &full,
				     .flags = DLREG_CONFIG_FULL_PATHS };
	CHECK_ERR(dlreg_create(&cfg2, &reg), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("fail"), 0, &a), DLREG_EUNDEFINED);
	CHECK(full.n >= 1 && strstr(full.lines[0], fixdir) != NULL);
	CHECK_ERR(dlreg_close(reg, leaked_on_purpose), DLREG_EINVAL);
	CHECK_ERR(dlreg_destroy(reg, NULL), DLREG_OK);
	host_reg = NULL;
}

static void test_reclaim_thread_mode(void)
{
	struct dlreg_config cfg = { .reclaim = DLREG_RECLAIM_THREAD };
	dlreg_t *reg;
	CHECK_ERR(dlreg_create(&cfg, &reg), DLREG_OK);
	host_reg = reg;
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(reg, fixture("plain11"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	/*
	 * Poll the registry's own counter, not dl_iterate_phdr: the reclaim
	 * thread's dlclose frees link-map names that a concurrent walk reads,
	 * under glibc locks TSan does not see.
	 */
	struct dlreg_stats st = { 0 };
	for (int i = 0; i < 500; i++) {
		dlreg_stats(reg, &st);
		if (st.released >= 1)
			break;
		usleep(10000);
	}
	CHECK(st.released >= 1); /* released without anyone calling quiesce */
	dlreg_quiesce(reg);      /* orders the release before the walk below */
	CHECK(!mapped("plain11"));
	done_reg(reg);
}

struct racer {
	dlreg_t *reg;
	pthread_barrier_t *go;
	dlreg_lib_t *got;
	int err;
};

static void *race_open(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(r->go);
	r->err = dlreg_open(r->reg, fixture("plain12"), 0, &r->got);
	return NULL;
}

static void test_concurrent_open_one_entry(void)
{
	for (int round = 0; round < 20; round++) {
		dlreg_t *reg = new_reg();
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 4);
		struct racer r[4];
		pthread_t t[4];
		for (int i = 0; i < 4; i++) {
			r[i] = (struct racer){ reg, &go, NULL, -1 };
			pthread_create(&t[i], NULL, race_open, &r[i]);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < 4; i++)
			CHECK(r[i].err == DLREG_OK && r[i].got == r[0].got);
		CHECK(dlreg_lib_refs(r[0].got) == 4);
		struct dlreg_stats st;
		dlreg_stats(reg, &st);
		CHECK(st.live == 1 && st.dlopen_calls - st.dlclose_calls == 1);
		for (int i = 0; i < 4; i++)
			CHECK_ERR(dlreg_close(reg, r[i].got), DLREG_OK);
		CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
		dlreg_stats(reg, &st);
		CHECK(st.dlopen_calls == st.dlclose_calls && !mapped("plain12"));
		done_reg(reg);
	}
}

static void test_hints_are_promoted(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a, *b;
	CHECK_ERR(dlreg_open(reg, fixture("plain13"), 0, &a), DLREG_OK);
	CHECK(!(dlreg_lib_hints(a) & (DLREG_HINT_GLOBAL | DLREG_HINT_LAZY)));
	/* GLOBAL takes the slow path; LAZY along with it is not taken over:
	 * the object stays bound as it was (RTLD_NOW). */
	CHECK_ERR(dlreg_open(reg, fixture("plain13"), DLREG_HINT_GLOBAL | DLREG_HINT_LAZY, &b),
		  DLREG_OK);
	CHECK(a == b && (dlreg_lib_hints(a) & DLREG_HINT_GLOBAL) &&
	      !(dlreg_lib_hints(a) & DLREG_HINT_LAZY));
	/* RTLD_GLOBAL really happened: the symbol is visible globally. */
	CHECK(dlsym(RTLD_DEFAULT, DLREG_FIXTURE_SYM_ANSWER) != NULL);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, b), DLREG_OK);
	done_reg(reg);
}

/*
 * The loader never binds an object it holds again: a NOW open of an object
 * opened LAZY returns it lazily bound, and the entry says so (libfail.so
 * keeps an undefined function reference, which a NOW load refuses).
 * DEEPBIND does not apply to a loaded object either; GLOBAL does.
 */
static void test_hints_only_what_the_loader_applies(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *lazy, *now, *deep, *global;
	CHECK_ERR(dlreg_open(reg, fixture("fail"), DLREG_HINT_LAZY, &lazy), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("fail"), 0, &now), DLREG_OK);
	CHECK(now == lazy && (dlreg_lib_hints(now) & DLREG_HINT_LAZY));
	CHECK_ERR(dlreg_open(reg, fixture("fail"), DLREG_HINT_DEEPBIND, &deep), DLREG_OK);
	CHECK(deep == lazy && !(dlreg_lib_hints(deep) & DLREG_HINT_DEEPBIND));
	CHECK_ERR(dlreg_open(reg, fixture("fail"), DLREG_HINT_GLOBAL, &global), DLREG_OK);
	CHECK(global == lazy && (dlreg_lib_hints(global) & DLREG_HINT_GLOBAL) &&
	      (dlreg_lib_hints(global) & DLREG_HINT_LAZY));
	CHECK(dlreg_lib_refs(lazy) == 4);
	for (int i = 0; i < 4; i++)
		CHECK_ERR(dlreg_close(reg, lazy), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("fail"));
	done_reg(reg);
}

/*
 * dlreg_sym counts its dlsym() calls in the registry's statistics, also
 * after the entry is retired, and an orphaned handle's lookups (after
 * dlreg_destroy) touch nothing of the freed registry, even while destroy
 * runs: a second thread resolves through the handle the whole time.
 */
struct sym_loop {
	dlreg_lib_t *lib;
	atomic_bool stop;
	atomic_long calls;
	long bad;
};

static void *sym_loop_main(void *p)
{
	struct sym_loop *s = p;
	char name[32];
	for (long i = 0; !atomic_load(&s->stop); i++) {
		void *sym;
		snprintf(name, sizeof name, "dlreg_no_such_%ld", i % 64);
		if (dlreg_sym(s->lib, name, &sym) != DLREG_ENOSYM ||
		    dlreg_sym(s->lib, DLREG_FIXTURE_SYM_KIND, &sym) != DLREG_OK)
			s->bad++;
		atomic_fetch_add(&s->calls, 1);
	}
	return NULL;
}

static dlreg_lib_t *orphaned_on_purpose; /* reachable for LeakSanitizer */

static void test_sym_misses_and_orphans(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *a;
	struct dlreg_stats s0, s1;
	void *sym;
	dlreg_stats(reg, &s0);
	CHECK_ERR(dlreg_open(reg, fixture("plain16"), 0, &a), DLREG_OK);
	for (int i = 0; i < 3; i++)
		CHECK_ERR(dlreg_sym(a, "dlreg_no_such_symbol", &sym), DLREG_ENOSYM);
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_KIND, &sym), DLREG_OK);
	CHECK_ERR(dlreg_sym(a, DLREG_FIXTURE_SYM_KIND, &sym), DLREG_OK); /* a hit */
	dlreg_stats(reg, &s1);
	CHECK(s1.sym_misses == s0.sym_misses + 4);
	CHECK_ERR(dlreg_close(reg, a), DLREG_OK); /* retired: its count moves over */
	dlreg_stats(reg, &s1);
	CHECK(s1.sym_misses == s0.sym_misses + 4);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	dlreg_stats(reg, &s1);
	CHECK(s1.sym_misses == s0.sym_misses + 4);

	CHECK_ERR(dlreg_open(reg, fixture("plain17"), 0, &orphaned_on_purpose), DLREG_OK);
	struct sym_loop s = { .lib = orphaned_on_purpose };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, sym_loop_main, &s) == 0);
	while (atomic_load(&s.calls) < 100)
		sched_yield();
	size_t left = 0;
	int err = dlreg_destroy(reg, &left);
	host_reg = NULL;
	long at_destroy = atomic_load(&s.calls);
	while (atomic_load(&s.calls) < at_destroy + 100)
		sched_yield();
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);
	CHECK_ERR(err, DLREG_EBUSY);
	CHECK(left == 1 && s.bad == 0);
}

/* A log sink may call back into the registry, but not destroy it. */
struct reentrant_sink {
	dlreg_t *reg;
	int destroy_rc;    /* what dlreg_destroy from the sink returned */
	dlreg_lib_t *held; /* opened from the sink during destroy */
	int open_rc;
	int messages;
};

static void reentrant_log(void *ctx, enum dlreg_log_level lvl, const char *msg)
{
	struct reentrant_sink *s = ctx;
	(void)lvl;
	s->messages++;
	if (strncmp(msg, "destroy:", 8) == 0) {
		if (!s->held)
			s->open_rc = dlreg_open(s->reg, fixture("plain19"), 0, &s->held);
	} else {
		s->destroy_rc = dlreg_destroy(s->reg, NULL);
	}
}

static dlreg_lib_t *sink_orphans[2]; /* reachable for LeakSanitizer */

/*
 * What one thread wrote into an entry (a symbol it cached) before its
 * close is seen by the thread whose last close frees the entry: the
 * reference count's decrement and last decrement order them, and nothing
 * else does here (the closer learns of the close from a relaxed counter).
 * Under ThreadSanitizer a weaker ordering on either is a reported race.
 */
struct order_ctx {
	dlreg_t *reg;
	const char *path;
	sem_t go;
	atomic_bool quit;
	atomic_int errors;
};

static void *order_user(void *arg)
{
	struct order_ctx *c = arg;
	for (;;) {
		sem_wait(&c->go);
		if (atomic_load(&c->quit))
			return NULL;
		dlreg_lib_t *h = NULL;
		void *sym = NULL;
		if (dlreg_open(c->reg, c->path, 0, &h) != DLREG_OK ||
		    dlreg_sym(h, DLREG_FIXTURE_SYM_ANSWER, &sym) != DLREG_OK ||
		    dlreg_close(c->reg, h) != DLREG_OK)
			atomic_fetch_add(&c->errors, 1);
	}
}

static void test_close_orders_entry_writes(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s", fixture("plain15"));
	struct order_ctx c = { .reg = new_reg(), .path = path };
	CHECK(sem_init(&c.go, 0, 0) == 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, order_user, &c) == 0);
	for (int i = 0; i < 40; i++) {
		dlreg_lib_t *lib;
		CHECK_ERR(dlreg_open(c.reg, c.path, 0, &lib), DLREG_OK);
		struct dlreg_stats st;
		dlreg_stats(c.reg, &st);
		uint64_t closes = st.closes;
		sem_post(&c.go);
		do {
			sched_yield();
			dlreg_stats(c.reg, &st);
		} while (st.closes == closes);
		CHECK_ERR(dlreg_close(c.reg, lib), DLREG_OK);
		CHECK_ERR(dlreg_quiesce(c.reg), DLREG_OK);
		CHECK(!mapped("plain15"));
	}
	atomic_store(&c.quit, true);
	sem_post(&c.go);
	pthread_join(t, NULL);
	sem_destroy(&c.go);
	CHECK(atomic_load(&c.errors) == 0);
	done_reg(c.reg);
}

#ifdef DLREG_TEST_UNLOCK_HOOK
/*
 * The path set grows (64 slots, then 128, ... past 512) while other threads
 * look paths up in it: the map a reader is walking is freed only after a
 * grace period.  Run by test_registry_hooked, whose frees overwrite the
 * memory first: after an early free a reader follows garbage and crashes
 * (the sanitizers cannot see it: Concurrency Kit's loads are inline
 * assembly).  Each path is the same plugin reached through another number
 * of "./", so each open adds an alias; a new registry each round starts
 * the set small again.
 */
enum { GROW_PATHS = 600, GROW_ROUNDS = 12, GROW_READERS = 2 };
static atomic_bool poison_frees; /* see __wrap_free */

struct grow_ctx {
	dlreg_t *reg;
	char **paths;
	atomic_int published; /* paths opened so far */
	atomic_bool stop;
	atomic_long hits;
};

static void *grow_reader(void *arg)
{
	struct grow_ctx *c = arg;
	dlreg_reader_t *rd = dlreg_reader_self(c->reg);
	unsigned x = (unsigned)(uintptr_t)&x;
	long hits = 0;
	while (rd && !atomic_load(&c->stop)) {
		int n = atomic_load(&c->published);
		dlreg_read_begin(rd);
		for (int k = 0; k < 16 && n > 0; k++) {
			x = x * 1103515245u + 12345u;
			hits += dlreg_read_lookup(rd, c->paths[(x >> 8) % (unsigned)n]) != NULL;
		}
		dlreg_read_end(rd);
	}
	atomic_fetch_add(&c->hits, hits);
	return NULL;
}

static void test_path_set_grows_under_readers(void)
{
	static char *paths[GROW_PATHS];
	static dlreg_lib_t *libs[GROW_PATHS];
	for (int i = 0; i < GROW_PATHS; i++) {
		size_t len = strlen(fixdir) + 2 * (size_t)i + 32;
		paths[i] = malloc(len);
		CHECK(paths[i] != NULL);
		int n = snprintf(paths[i], len, "%s/", fixdir);
		for (int k = 0; k < i; k++)
			n += snprintf(paths[i] + n, len - (size_t)n, "./");
		snprintf(paths[i] + n, len - (size_t)n, "libplain14.so");
	}
	long hits = 0;
	atomic_store(&poison_frees, true);
	for (int round = 0; round < GROW_ROUNDS; round++) {
		struct grow_ctx c = { .reg = new_reg(), .paths = paths };
		pthread_t t[GROW_READERS];
		for (int i = 0; i < GROW_READERS; i++)
			CHECK(pthread_create(&t[i], NULL, grow_reader, &c) == 0);
		for (int i = 0; i < GROW_PATHS; i++) {
			CHECK_ERR(dlreg_open(c.reg, paths[i], 0, &libs[i]), DLREG_OK);
			atomic_store(&c.published, i + 1);
		}
		atomic_store(&c.stop, true);
		for (int i = 0; i < GROW_READERS; i++)
			pthread_join(t[i], NULL);
		hits += atomic_load(&c.hits);
		/* Every alias names the one entry. */
		dlreg_reader_t *rd = dlreg_reader_self(c.reg);
		CHECK(rd != NULL);
		dlreg_read_begin(rd);
		int found = 0;
		for (int i = 0; i < GROW_PATHS; i++)
			found += dlreg_read_lookup(rd, paths[i]) == (const dlreg_lib_t *)libs[0];
		dlreg_read_end(rd);
		CHECK(found == GROW_PATHS);
		CHECK(dlreg_lib_refs(libs[0]) == GROW_PATHS);
		for (int i = 0; i < GROW_PATHS; i++)
			CHECK_ERR(dlreg_close(c.reg, libs[i]), DLREG_OK);
		done_reg(c.reg);
	}
	atomic_store(&poison_frees, false);
	CHECK(hits > 0);
	CHECK(!mapped("plain14"));
	for (int i = 0; i < GROW_PATHS; i++)
		free(paths[i]);
}
#endif

/*
 * A failing call's detail survives the user code it runs before returning:
 * a log sink that opens and closes a library, a plugin destructor (run by
 * the failing open's reclamation) that does the same.  Both clear the
 * thread's detail for their own calls.
 */
struct busy_sink {
	dlreg_t *reg;
	int calls; /* registry calls the sink made that returned DLREG_OK */
};

static void busy_log(void *ctx, enum dlreg_log_level lvl, const char *msg)
{
	struct busy_sink *s = ctx;
	(void)lvl;
	(void)msg;
	dlreg_lib_t *h;
	if (dlreg_open(s->reg, fixture("plain02"), 0, &h) == DLREG_OK &&
	    dlreg_close(s->reg, h) == DLREG_OK)
		s->calls++;
}

static void test_detail_survives_user_code(void)
{
	struct busy_sink s = { 0 };
	struct dlreg_config cfg = { .log = busy_log, .log_ctx = &s, .log_level = DLREG_LOG_WARN };
	CHECK_ERR(dlreg_create(&cfg, &s.reg), DLREG_OK);
	host_reg = s.reg;
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(s.reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
	CHECK(s.calls == 1);
	CHECK(strstr(dlreg_errdetail(), "libdoes_not_exist.so#") != NULL);
	done_reg(s.reg);

	/*
	 * The destructor of a retired plugin runs inside a later failing open
	 * (the close, made inside a read section, reclaims nothing).
	 */
	dlreg_t *reg = new_reg();
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	CHECK(rd != NULL);
	CHECK_ERR(dlreg_open(reg, fixture("dtor_cb"), 0, &a), DLREG_OK);
	dlreg_read_begin(rd);
	int closed = dlreg_close(reg, a);
	dlreg_read_end(rd);
	CHECK_ERR(closed, DLREG_OK);
	bool ran = false;
	for (int i = 0; i < 100 && !ran; i++) {
		unsigned long dtors = dlreg_fixture_host_instance.dtor_runs;
		CHECK_ERR(dlreg_open(reg, fixture("does_not_exist"), 0, &a), DLREG_ENOENT);
		ran = dlreg_fixture_host_instance.dtor_runs != dtors;
	}
	CHECK(ran);
	CHECK(strstr(dlreg_errdetail(), "libdoes_not_exist.so#") != NULL);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("dtor_cb") && !mapped("plain01"));
	done_reg(reg);
}

static void test_log_sink_reentry(void)
{
	struct reentrant_sink s = { .destroy_rc = -1, .open_rc = -1 };
	struct dlreg_config cfg = { .log = reentrant_log, .log_ctx = &s,
				    .log_level = DLREG_LOG_DEBUG };
	CHECK_ERR(dlreg_create(&cfg, &s.reg), DLREG_OK);
	host_reg = s.reg;
	dlreg_lib_t *a;
	/* A failed open logs; the sink's destroy is refused and open goes on. */
	CHECK_ERR(dlreg_open(s.reg, "/nonexistent/dir/libnothing.so", 0, &a), DLREG_ENOENT);
	CHECK_ERR(s.destroy_rc, DLREG_EDEADLK);
	/* So is a last close's (a DEBUG message). */
	s.destroy_rc = -1;
	CHECK_ERR(dlreg_open(s.reg, fixture("plain18"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(s.reg, a), DLREG_OK);
	CHECK_ERR(s.destroy_rc, DLREG_EDEADLK);
	CHECK_ERR(dlreg_quiesce(s.reg), DLREG_OK);
	CHECK(!mapped("plain18"));
	/* destroy's warning about a held entry: the sink opens another library. */
	CHECK_ERR(dlreg_open(s.reg, fixture("plain20"), 0, &sink_orphans[0]), DLREG_OK);
	size_t left = 0;
	CHECK_ERR(dlreg_destroy(s.reg, &left), DLREG_EBUSY);
	host_reg = NULL;
	sink_orphans[1] = s.held;
	CHECK_ERR(s.open_rc, DLREG_OK);
	CHECK(left == 2);
	/* Both handles outlive the registry for dlreg_sym. */
	void *sym;
	CHECK_ERR(dlreg_sym(s.held, DLREG_FIXTURE_SYM_KIND, &sym), DLREG_OK);
	CHECK_ERR(dlreg_sym(sink_orphans[0], DLREG_FIXTURE_SYM_KIND, &sym), DLREG_OK);
}

/*
 * A close or failing open made inside the application's own read section
 * logs inside it: the sink's quiesce is refused there, and only there.
 */
struct section_sink {
	dlreg_t *reg;
	int quiesce_rc; /* what dlreg_quiesce from the sink returned */
	int messages;
};

static void section_log(void *ctx, enum dlreg_log_level lvl, const char *msg)
{
	struct section_sink *s = ctx;
	(void)lvl;
	(void)msg;
	s->messages++;
	s->quiesce_rc = dlreg_quiesce(s->reg);
}

static void test_log_sink_in_read_section(void)
{
	struct section_sink s = { .quiesce_rc = -1 };
	struct dlreg_config cfg = { .log = section_log, .log_ctx = &s,
				    .log_level = DLREG_LOG_DEBUG };
	CHECK_ERR(dlreg_create(&cfg, &s.reg), DLREG_OK);
	dlreg_reader_t *rd = dlreg_reader_self(s.reg);
	CHECK(rd != NULL);
	dlreg_lib_t *a;
	CHECK_ERR(dlreg_open(s.reg, fixture("plain22"), 0, &a), DLREG_OK);
	dlreg_read_begin(rd);
	CHECK_ERR(dlreg_close(s.reg, a), DLREG_OK);
	CHECK(s.messages == 1);
	CHECK_ERR(s.quiesce_rc, DLREG_EDEADLK);
	s.quiesce_rc = -1;
	CHECK_ERR(dlreg_open(s.reg, "/nonexistent/dir/libnothing.so", 0, &a), DLREG_ENOENT);
	CHECK(s.messages == 2);
	CHECK_ERR(s.quiesce_rc, DLREG_EDEADLK);
	dlreg_read_end(rd);
	/* Outside the section the same sink's quiesce unloads the entry. */
	s.quiesce_rc = -1;
	CHECK_ERR(dlreg_open(s.reg, fixture("plain22"), 0, &a), DLREG_OK);
	CHECK_ERR(dlreg_close(s.reg, a), DLREG_OK);
	CHECK_ERR(s.quiesce_rc, DLREG_OK);
	CHECK(!mapped("plain22"));
	CHECK_ERR(dlreg_destroy(s.reg, NULL), DLREG_OK);
}

/*
 * Threads that used dlreg_reader_self may still be exiting (their reader
 * record released by a thread-exit destructor) while the registry is
 * destroyed: a detached thread cannot be joined first.
 */
struct exiting_reader {
	dlreg_t *reg;
	atomic_int done;
};

static void *exiting_reader_main(void *p)
{
	struct exiting_reader *e = p;
	dlreg_reader_t *r = dlreg_reader_self(e->reg);
	if (r) {
		dlreg_read_begin(r);
		(void)dlreg_read_lookup(r, "libnothing.so");
		dlreg_read_end(r);
	}
	atomic_fetch_add(&e->done, 1);
	return NULL; /* the record is released after this, at thread exit */
}

static void test_destroy_while_readers_exit(void)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int round = 0; round < 200; round++) {
		struct exiting_reader e = { .reg = new_reg() };
		int started = 0;
		for (int i = 0; i < 2; i++) {
			pthread_t t;
			started += pthread_create(&t, &attr, exiting_reader_main, &e) == 0;
		}
		while (atomic_load(&e.done) < started)
			;
		done_reg(e.reg);
	}
	pthread_attr_destroy(&attr);
	usleep(100 * 1000); /* let the last detached threads finish exiting */
}

/*
 * Two readers that hand a section over to each other, so that one of them is
 * always inside one, each new section starting at the newest epoch.
 */
struct relay_readers {
	dlreg_t *reg;
	const char *path;
	_Atomic int turn, started;
	atomic_bool stop;
};

struct relay_arg {
	struct relay_readers *rr;
	int me;
};

static void *relay_reader_main(void *arg)
{
	struct relay_arg *a = arg;
	struct relay_readers *rr = a->rr;
	dlreg_reader_t *rd = dlreg_reader_self(rr->reg);
	dlreg_read_begin(rd);
	atomic_fetch_add(&rr->started, 1);
	while (!atomic_load(&rr->stop)) {
		if (atomic_load(&rr->turn) != a->me) {
			sched_yield();
			continue;
		}
		/* The other reader is inside a section while this one renews its own. */
		dlreg_read_end(rd);
		dlreg_read_begin(rd);
		(void)dlreg_read_lookup(rd, rr->path);
		atomic_store(&rr->turn, 1 - a->me);
	}
	dlreg_read_end(rd);
	return NULL;
}

/*
 * dlreg_quiesce releases every entry retired before the call, also while
 * readers keep starting new sections (there is never a moment without one),
 * and also an entry an earlier close already handed to the epoch machinery.
 */
static void test_quiesce_with_busy_readers(void)
{
	dlreg_t *reg = new_reg();
	char path[4096]; /* fixture()'s buffers are reused by this thread's later calls */
	snprintf(path, sizeof path, "%s", fixture("plain00"));
	struct relay_readers rr = { .reg = reg, .path = path };
	struct relay_arg args[2] = { { &rr, 0 }, { &rr, 1 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, relay_reader_main, &args[i]);
	while (atomic_load(&rr.started) < 2)
		sched_yield();
	int stuck = 0;
	size_t pending = 0;
	for (int i = 0; i < 20 && !stuck; i++) {
		dlreg_lib_t *h;
		if (dlreg_open(reg, fixture("plain23"), 0, &h) != DLREG_OK ||
		    dlreg_close(reg, h) != DLREG_OK || dlreg_quiesce(reg) != DLREG_OK) {
			stuck = -1;
			break;
		}
		if (mapped("plain23") || dlreg_pending(reg) != 0) {
			pending = dlreg_pending(reg);
			stuck = i + 1;
		}
	}
	atomic_store(&rr.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (stuck)
		fprintf(stderr, "quiesce %d returned with %zu pending, plain23 %smapped\n", stuck,
			pending, mapped("plain23") ? "" : "un");
	CHECK(stuck == 0);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	CHECK(!mapped("plain23"));
	done_reg(reg);
}

static pid_t dtor_fork_pid = -1;

/* A host callback that forks: run by libdtor_cb.so's destructor. */
static int open_that_forks(void *ctx, const char *path, void **handle)
{
	(void)ctx;
	(void)path;
	*handle = NULL;
	dtor_fork_pid = fork();
	if (dtor_fork_pid == 0)
		alarm(10); /* a hang is the failure this guards against */
	return 1; /* nothing opened */
}

/*
 * A destructor forks while its library is being released: the child goes
 * on with that release (the forking thread's own) and must then be able to
 * quiesce and destroy the registry, as the parent must.
 */
static void test_fork_in_destructor(void)
{
	dlreg_t *reg = new_reg();
	pid_t parent = getpid();
	dlreg_lib_t *h;
	CHECK_ERR(dlreg_open(reg, fixture("dtor_cb"), 0, &h), DLREG_OK);
	int (*saved_open)(void *, const char *, void **) = dlreg_fixture_host_instance.open;
	unsigned long err0 = dlreg_fixture_host_instance.callback_errors;
	dlreg_fixture_host_instance.open = open_that_forks;
	int close_err = dlreg_close(reg, h);
	int quiesce_err = dlreg_quiesce(reg); /* the release, if close left it */
	if (getpid() != parent) {
		int rc = close_err != DLREG_OK		       ? 1
			 : quiesce_err != DLREG_OK	       ? 2
			 : dlreg_quiesce(reg) != DLREG_OK      ? 3
			 : dlreg_destroy(reg, NULL) != DLREG_OK ? 4
							       : 0;
		_exit(rc);
	}
	dlreg_fixture_host_instance.open = saved_open;
	dlreg_fixture_host_instance.callback_errors = err0;
	CHECK_ERR(close_err, DLREG_OK);
	CHECK_ERR(quiesce_err, DLREG_OK);
	CHECK(dtor_fork_pid > 0);
	int status = 0;
	CHECK(waitpid(dtor_fork_pid, &status, 0) == dtor_fork_pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "fork child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!mapped("dtor_cb"));
	done_reg(reg);
}

/* How many mapped objects have a path that starts with `prefix`. */
struct prefix_probe {
	const char *prefix;
	int n;
};

static int prefix_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct prefix_probe *p = data;
	p->n += strncmp(info->dlpi_name, p->prefix, strlen(p->prefix)) == 0;
	return 0;
}

static int mapped_under(const char *dir)
{
	char prefix[256];
	snprintf(prefix, sizeof prefix, "%s/", dir);
	struct prefix_probe p = { prefix, 0 };
	dl_iterate_phdr(prefix_cb, &p);
	return p.n;
}

/* Links of the chain below: a round each, well over the 64 stalled rounds
 * after which quiesce gives up, which a chain must not count as stalled. */
enum { CHAIN_LINKS = 100 };

/*
 * Opens every path of `paths` and gives each library the handle of the one
 * before it (libchain.so's destructor closes it), so that closing the
 * returned handle unloads them all, last to first, one per grace period.
 */
static dlreg_lib_t *open_chain(dlreg_t *reg, char (*paths)[64], int n)
{
	dlreg_lib_t *prev = NULL;
	for (int i = 0; i < n; i++) {
		dlreg_lib_t *h;
		void *hold;
		if (dlreg_open(reg, paths[i], 0, &h) != DLREG_OK ||
		    dlreg_sym(h, DLREG_FIXTURE_SYM_CHAIN_HOLD, &hold) != DLREG_OK) {
			fprintf(stderr, "chain link %d: %s\n", i, dlreg_errdetail());
			return NULL;
		}
		if (prev)
			dlreg_fixture_chain_hold_sym(hold)(prev);
		prev = h;
	}
	return prev;
}

/*
 * A chain of libraries whose destructors each close the next through the
 * registry: every release retires the next link.  dlreg_quiesce releases
 * the whole chain; so does dlreg_destroy, which must not tear the registry
 * down under the destructors still due (they would close their handles in
 * a half-destroyed registry, or find them orphaned and fail).
 */
static void test_long_destructor_chain(void)
{
	static char paths[CHAIN_LINKS][64];
	char dir[] = "/tmp/dlreg-chain-XXXXXX";
	CHECK(mkdtemp(dir));
	for (int i = 0; i < CHAIN_LINKS; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/libchain%03d.so", dir, i);
		CHECK(copy_file(fixture("chain"), paths[i], NULL, NULL));
	}
	unsigned long dtor0 = dlreg_fixture_host_instance.dtor_runs;
	unsigned long err0 = dlreg_fixture_host_instance.callback_errors;

	dlreg_t *reg = new_reg();
	dlreg_lib_t *last = open_chain(reg, paths, CHAIN_LINKS);
	int loaded = mapped_under(dir);
	int closed = last ? dlreg_close(reg, last) : -1;
	int quiesced = dlreg_quiesce(reg);
	size_t q_pending = dlreg_pending(reg);
	int q_left = mapped_under(dir);
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	done_reg(reg);

	reg = new_reg();
	last = open_chain(reg, paths, CHAIN_LINKS);
	int closed2 = last ? dlreg_close(reg, last) : -1;
	size_t still = 12345;
	int destroyed = dlreg_destroy(reg, &still);
	host_reg = NULL;
	int d_left = mapped_under(dir);
	unsigned long dtors = dlreg_fixture_host_instance.dtor_runs - dtor0;
	unsigned long errors = dlreg_fixture_host_instance.callback_errors - err0;

	for (int i = 0; i < CHAIN_LINKS; i++)
		unlink(paths[i]);
	rmdir(dir);
	if (q_pending || q_left || destroyed != DLREG_OK || still || d_left || errors)
		fprintf(stderr,
			"quiesce left %zu pending, %d links mapped; destroy: %s, %zu still "
			"referenced, %d links mapped; %lu callback errors\n",
			q_pending, q_left, dlreg_strerror(destroyed), still, d_left, errors);
	CHECK(loaded == CHAIN_LINKS);
	CHECK_ERR(closed, DLREG_OK);
	CHECK_ERR(quiesced, DLREG_OK);
	CHECK(q_pending == 0 && q_left == 0);
	CHECK(st.live == 0 && st.released == CHAIN_LINKS && st.dlopen_calls == st.dlclose_calls);
	CHECK_ERR(closed2, DLREG_OK);
	CHECK_ERR(destroyed, DLREG_OK);
	CHECK(still == 0 && d_left == 0);
	CHECK(dtors == 2 * CHAIN_LINKS && errors == 0);
}

/* Two copies of libdtor_cb.so whose destructors load and close each other. */
static char cycle_paths[2][64];
static atomic_bool cycle_on;
static atomic_uint cycle_turn;

static int cycle_open(void *ctx, const char *path, void **handle)
{
	if (!atomic_load(&cycle_on))
		return host_open(ctx, path, handle); /* plain01, as the fixture asks */
	unsigned turn = atomic_fetch_add(&cycle_turn, 1);
	return dlreg_open(host_reg, cycle_paths[(turn + 1) % 2], 0, (dlreg_lib_t **)handle);
}

static int refuse_open(void *ctx, const char *path, void **handle)
{
	(void)ctx;
	(void)path;
	(void)handle;
	return 1;
}

/*
 * Destructors that load and close each other never run out of work: each
 * release loads and retires the other library.  dlreg_quiesce gives up
 * after its stalled rounds and leaves the rest for later; dlreg_destroy
 * gives up too, and leaves the library still retired loaded (its
 * destructor would call into the freed registry), counted in
 * still_referenced.
 */
static void test_destructor_cycle_is_bounded(void)
{
	char dir[] = "/tmp/dlreg-cycle-XXXXXX";
	CHECK(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		snprintf(cycle_paths[i], sizeof cycle_paths[i], "%s/libcycle%d.so", dir, i);
		CHECK(copy_file(fixture("dtor_cb"), cycle_paths[i], NULL, NULL));
	}
	int (*saved_open)(void *, const char *, void **) = dlreg_fixture_host_instance.open;
	unsigned long err0 = dlreg_fixture_host_instance.callback_errors;
	dlreg_fixture_host_instance.open = cycle_open;

	dlreg_t *reg = new_reg();
	dlreg_lib_t *h;
	struct dlreg_stats s0, s1;
	/* The first destructor to run is libcycle0's: it loads libcycle1. */
	atomic_store(&cycle_turn, 0);
	atomic_store(&cycle_on, true);
	int opened = dlreg_open(reg, cycle_paths[0], 0, &h);
	int closed = opened == DLREG_OK ? dlreg_close(reg, h) : -1;
	dlreg_stats(reg, &s0);
	int quiesced = dlreg_quiesce(reg);
	dlreg_stats(reg, &s1);
	size_t gave_up_with = dlreg_pending(reg);
	/* Ended: the next destructor opens and closes plain01 and stops. */
	atomic_store(&cycle_on, false);
	int quiesced2 = dlreg_quiesce(reg);
	size_t pending = dlreg_pending(reg);
	int q_left = mapped_under(dir);
	done_reg(reg);

	reg = new_reg();
	atomic_store(&cycle_turn, 0);
	atomic_store(&cycle_on, true);
	int opened2 = dlreg_open(reg, cycle_paths[0], 0, &h);
	int closed2 = opened2 == DLREG_OK ? dlreg_close(reg, h) : -1;
	size_t still = 0;
	int destroyed = dlreg_destroy(reg, &still);
	host_reg = NULL;
	atomic_store(&cycle_on, false);
	int d_left = mapped_under(dir);

	/* The registry left one library loaded with its reference: drop it here. */
	dlreg_fixture_host_instance.open = refuse_open;
	for (int i = 0; i < 2; i++) {
		void *dl = dlopen(cycle_paths[i], RTLD_NOW | RTLD_NOLOAD);
		if (dl) {
			dlclose(dl);
			dlclose(dl);
		}
		unlink(cycle_paths[i]);
	}
	rmdir(dir);
	int cleaned = mapped_under(dir);
	dlreg_fixture_host_instance.open = saved_open;
	dlreg_fixture_host_instance.callback_errors = err0;

	CHECK_ERR(opened, DLREG_OK);
	CHECK_ERR(closed, DLREG_OK);
	CHECK_ERR(quiesced, DLREG_OK);
	uint64_t loads = s1.dlopen_calls - s0.dlopen_calls;
	if (gave_up_with == 0 || loads < 64 || loads > 128)
		fprintf(stderr, "quiesce: %zu pending after %llu loads\n", gave_up_with,
			(unsigned long long)loads);
	CHECK(gave_up_with > 0 && loads >= 64 && loads <= 128);
	CHECK_ERR(quiesced2, DLREG_OK);
	CHECK(pending == 0 && q_left == 0 && !mapped("plain01"));
	CHECK_ERR(opened2, DLREG_OK);
	CHECK_ERR(closed2, DLREG_OK);
	CHECK_ERR(destroyed, DLREG_EBUSY);
	CHECK(still == 1 && d_left == 1 && cleaned == 0);
}

#ifdef DLREG_TEST_UNLOCK_HOOK
/*
 * Built with the registry's objects and -Wl,--wrap=pthread_mutex_unlock
 * (meson.build): after_unlock, when set, runs once on its thread right
 * after that thread's next unlock, to stop it at a chosen point.
 */
int __real_pthread_mutex_unlock(pthread_mutex_t *m);
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m);
static _Thread_local void (*after_unlock)(void);

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
	int rc = __real_pthread_mutex_unlock(m);
	void (*fn)(void) = after_unlock;
	if (fn) {
		after_unlock = NULL;
		fn();
	}
	return rc;
}

static struct {
	sem_t in_dtor;      /* the closer's batch is being released */
	sem_t quiesce_took; /* dlreg_quiesce has taken (nothing) */
	sem_t closer_done;  /* the closer's dlreg_close has returned */
} inflight;

/* libchain.so's destructor drops its handle only once quiesce has taken. */
static int inflight_close(void *ctx, void *handle)
{
	sem_post(&inflight.in_dtor);
	sem_wait(&inflight.quiesce_took);
	return host_close(ctx, handle);
}

/* Retires libchain.so; with no reader in a section, this close's poll
 * releases it at once, on this thread, as one batch. */
static void *inflight_closer(void *lib)
{
	dlreg_close(host_reg, lib);
	sem_post(&inflight.closer_done);
	return NULL;
}

/* Quiesce, right after its take: the other batch ends before it goes on. */
static void inflight_after_take(void)
{
	sem_post(&inflight.quiesce_took);
	sem_wait(&inflight.closer_done);
}

/*
 * Another thread's batch is in flight when dlreg_quiesce takes, and is
 * over, its destructor having retired another library, before quiesce
 * looks at who is releasing: quiesce must still release that library (a
 * destructor's retirement, which dlreg.h says it follows), not return
 * because it took nothing and then saw nobody releasing.
 */
static void test_quiesce_waits_for_batch_in_flight(void)
{
	dlreg_t *reg = new_reg();
	dlreg_lib_t *chain, *plain;
	void *hold;
	CHECK_ERR(dlreg_open(reg, fixture("chain"), 0, &chain), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("plain04"), 0, &plain), DLREG_OK);
	CHECK_ERR(dlreg_sym(chain, DLREG_FIXTURE_SYM_CHAIN_HOLD, &hold), DLREG_OK);
	dlreg_fixture_chain_hold_sym(hold)(plain);
	sem_init(&inflight.in_dtor, 0, 0);
	sem_init(&inflight.quiesce_took, 0, 0);
	sem_init(&inflight.closer_done, 0, 0);
	int (*saved_close)(void *, void *) = dlreg_fixture_host_instance.close;
	dlreg_fixture_host_instance.close = inflight_close;

	pthread_t t;
	CHECK(pthread_create(&t, NULL, inflight_closer, chain) == 0);
	sem_wait(&inflight.in_dtor);
	after_unlock = inflight_after_take; /* quiesce's first unlock ends its take */
	int quiesced = dlreg_quiesce(reg);
	after_unlock = NULL;
	size_t pending = dlreg_pending(reg);
	bool left = mapped("plain04");
	pthread_join(t, NULL);
	dlreg_fixture_host_instance.close = saved_close;
	done_reg(reg);
	sem_destroy(&inflight.in_dtor);
	sem_destroy(&inflight.quiesce_took);
	sem_destroy(&inflight.closer_done);

	CHECK_ERR(quiesced, DLREG_OK);
	if (pending || left)
		fprintf(stderr, "quiesce returned with %zu pending; plain04 %s\n", pending,
			left ? "still loaded" : "unloaded");
	CHECK(pending == 0 && !left);
}

/*
 * Allocation failures.  The hooked build also wraps malloc, calloc, realloc
 * and aligned_alloc (meson.build): only references from the registry's
 * objects and this file are wrapped, so the loader's own allocations never
 * fail.  alloc_fail_at = k makes the calling thread's k-th allocation from
 * now fail (0 the first); -1 fails none.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
static _Thread_local long alloc_fail_at = -1;
static _Thread_local bool alloc_failed;
/* Non-zero: every allocation of at least this many bytes fails. */
static _Thread_local size_t alloc_fail_from_size;

static bool alloc_fails(size_t n)
{
	if (alloc_fail_from_size && n >= alloc_fail_from_size) {
		alloc_failed = true;
		return true;
	}
	if (alloc_fail_at < 0 || alloc_fail_at-- != 0)
		return false;
	alloc_failed = true;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails(n) ? NULL : __real_malloc(n);
}

/*
 * With poison_frees set, memory is overwritten before it is freed: a reader
 * still walking a freed map then follows garbage and crashes, where the
 * sanitizers see nothing (Concurrency Kit's loads are inline assembly).
 */
void __real_free(void *p);
void __wrap_free(void *p);

void __wrap_free(void *p)
{
	if (p && atomic_load_explicit(&poison_frees, memory_order_relaxed))
		memset(p, 0xa5, malloc_usable_size(p));
	__real_free(p);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return alloc_fails(k * n) ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails(n) ? NULL : __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return alloc_fails(n) ? NULL : __real_aligned_alloc(a, n);
}

static void fail_alloc(long k)
{
	alloc_fail_at = k;
	alloc_failed = false;
}

/* Whether the call since fail_alloc() met its failure; disarms. */
static bool alloc_was_failed(void)
{
	alloc_fail_at = -1;
	return alloc_failed;
}

/* References the registry holds on the loader. */
static uint64_t held_refs(dlreg_t *reg)
{
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	return st.dlopen_calls - st.dlclose_calls;
}

/*
 * An ENOMEM is reported with its own detail, and only for a failed
 * allocation.  Otherwise the calling test stops: its sweep would go on
 * for ever.
 */
static bool enomem_ok(const char *what, long k, int err, bool failed)
{
	if (err == DLREG_ENOMEM && failed && dlreg_errdetail()[0])
		return true;
	fprintf(stderr, "%s, allocation %ld %s: %s (detail '%s'); want ENOMEM with a detail, only "
		"after a failed allocation\n", what, k, failed ? "failed" : "not failed",
		dlreg_strerror(err), dlreg_errdetail());
	failures++;
	return false;
}

#define CHECK_ENOMEM(what, k, err, failed)                   \
	do {                                                 \
		if (!enomem_ok((what), (k), (err), (failed))) \
			return;                              \
	} while (0)

/* A loaded library is usable through every path: by handle, by path, by symbol. */
static void check_usable(dlreg_t *reg, dlreg_reader_t *rd, const char *path)
{
	void *sym = NULL;
	CHECK_ERR(read_sym_once(rd, path, DLREG_FIXTURE_SYM_ANSWER, &sym), DLREG_OK);
	CHECK(sym && call_answer(sym, 1) != 0);
	dlreg_lib_t *again;
	CHECK_ERR(dlreg_open(reg, path, 0, &again), DLREG_OK);
	CHECK_ERR(dlreg_close(reg, again), DLREG_OK);
}

/*
 * The symbol of plain fixture `lib` through dlreg_sym (rd NULL) or through
 * dlreg_read_sym by its path, with the first, second, ... allocation
 * failing: each call gives the symbol or ENOMEM, until one meets no
 * failure.
 */
static void sym_sweep(const char *what, dlreg_lib_t *lib, dlreg_reader_t *rd)
{
	for (long k = 0;; k++) {
		void *sym = NULL;
		fail_alloc(k);
		int err = rd ? read_sym_once(rd, dlreg_lib_path(lib), DLREG_FIXTURE_SYM_ANSWER, &sym)
			     : dlreg_sym(lib, DLREG_FIXTURE_SYM_ANSWER, &sym);
		bool failed = alloc_was_failed();
		if (err == DLREG_OK) {
			CHECK(sym && call_answer(sym, 1) != 0);
			if (!failed)
				return;
			continue;
		}
		CHECK_ENOMEM(what, k, err, failed);
	}
}

/* dlreg_reader_self on a thread of its own: NULL while its record cannot
 * be allocated, then a record that reads. */
static void reader_self_sweep_on(dlreg_t *reg)
{
	for (long k = 0;; k++) {
		fail_alloc(k);
		dlreg_reader_t *rd = dlreg_reader_self(reg);
		bool failed = alloc_was_failed();
		if (rd) {
			void *sym = NULL;
			CHECK_ERR(read_sym_once(rd, fixture("plain10"), DLREG_FIXTURE_SYM_ANSWER, &sym),
				  DLREG_OK);
			CHECK(dlreg_reader_self(reg) == rd);
			if (!failed)
				return;
			continue;
		}
		CHECK(failed);
	}
}

static void *reader_self_sweep(void *reg)
{
	reader_self_sweep_on(reg);
	return NULL;
}

/*
 * The path set full and unable to grow: an open under a new spelling of a
 * loaded library's path must either make that path known to readers or
 * fail with ENOMEM and change nothing.  Allocations of 1 KiB and more fail
 * (the set's table from 128 slots on; an alias is far smaller), and the
 * same library is opened under ever new paths (a/./lib, a/././lib, ...)
 * until the set has no slot left.
 */
static void test_path_set_full(void)
{
	dlreg_t *reg = new_reg();
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	enum { MAX_OPENS = 200 };
	dlreg_lib_t *libs[MAX_OPENS];
	int opened = 0, refused = 0;
	char path[4096];
	CHECK(rd != NULL);
	for (int i = 1; i <= MAX_OPENS && !refused; i++) {
		int n = snprintf(path, sizeof path, "%s/", fixdir);
		for (int k = 0; k < i && n < (int)sizeof path - 8; k++)
			n += snprintf(path + n, sizeof path - (size_t)n, "./");
		snprintf(path + n, sizeof path - (size_t)n, "libplain10.so");
		uint64_t held = held_refs(reg);
		dlreg_lib_t *lib = NULL;
		alloc_fail_from_size = 1024;
		alloc_failed = false;
		int err = dlreg_open(reg, path, 0, &lib);
		bool failed = alloc_failed;
		alloc_fail_from_size = 0;
		void *sym = NULL;
		int found = read_sym_once(rd, path, DLREG_FIXTURE_SYM_ANSWER, &sym);
		if (err == DLREG_OK) {
			libs[opened++] = lib;
			CHECK_ERR(found, DLREG_OK);
			continue;
		}
		refused++;
		CHECK_ENOMEM("open with the path set full", i, err, failed);
		CHECK(lib == NULL);
		CHECK_ERR(found, DLREG_ENOTLOADED);
		CHECK(held_refs(reg) == held);
		/* Nothing kept: with memory back the same open works. */
		CHECK_ERR(dlreg_open(reg, path, 0, &lib), DLREG_OK);
		CHECK_ERR(read_sym_once(rd, path, DLREG_FIXTURE_SYM_ANSWER, &sym), DLREG_OK);
		if (lib)
			libs[opened++] = lib;
	}
	/* Else the set grew without a 1 KiB allocation: nothing was tested. */
	CHECK(refused == 1);
	for (int i = 0; i < opened; i++)
		CHECK_ERR(dlreg_close(reg, libs[i]), DLREG_OK);
	done_reg(reg);
}

/*
 * dlreg.h: DLREG_ENOMEM means "allocation failed; nothing changed".  Each
 * call that allocates is run with its first, second, ... allocation
 * failing, until one run needs no more.  A failed run must return ENOMEM
 * with a detail (or succeed, where the failed allocation was a cache's)
 * and leave the registry as it was: no entry, no reference on the loader,
 * the library unloaded; a run that succeeds must leave a usable entry.
 */
static void test_allocation_failures(void)
{
	long k;
	bool failed;
	int err;

	/* dlreg_create */
	for (k = 0;; k++) {
		dlreg_t *reg = (dlreg_t *)1;
		fail_alloc(k);
		err = dlreg_create(NULL, &reg);
		failed = alloc_was_failed();
		if (!failed) {
			CHECK_ERR(err, DLREG_OK);
			done_reg(reg);
			break;
		}
		CHECK_ENOMEM("create", k, err, failed);
		CHECK(reg == NULL);
	}
	CHECK(k > 0);

	dlreg_t *reg = new_reg();
	dlreg_reader_t *rd = dlreg_reader_self(reg);
	CHECK(rd != NULL);

	/* dlreg_open of a library not loaded */
	const char *fresh = fixture("plain10");
	for (k = 0;; k++) {
		dlreg_lib_t *a = (dlreg_lib_t *)1;
		fail_alloc(k);
		err = dlreg_open(reg, fresh, 0, &a);
		failed = alloc_was_failed();
		if (err == DLREG_OK) {
			check_usable(reg, rd, fresh);
			CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
			CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
			if (!failed)
				break;
			continue;
		}
		CHECK_ENOMEM("open", k, err, failed);
		CHECK(a == NULL && held_refs(reg) == 0 && !mapped("plain10"));
		CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	}
	CHECK(k > 0);
	CHECK(!mapped("plain10"));

	/* dlreg_reader_self on a new thread */
	dlreg_lib_t *held;
	CHECK_ERR(dlreg_open(reg, fresh, 0, &held), DLREG_OK);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, reader_self_sweep, reg) == 0);
	pthread_join(t, NULL);
	CHECK_ERR(dlreg_close(reg, held), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);

	/* dlreg_open of a loaded library by a second path (a new alias) */
	char dir[] = "/tmp/dlreg-enomem-XXXXXX";
	CHECK(mkdtemp(dir));
	char link[4200];
	snprintf(link, sizeof link, "%s/libalias.so", dir);
	CHECK(symlink(fixture("plain11"), link) == 0);
	dlreg_lib_t *base;
	CHECK_ERR(dlreg_open(reg, fixture("plain11"), 0, &base), DLREG_OK);
	for (k = 0;; k++) {
		dlreg_lib_t *a = (dlreg_lib_t *)1;
		fail_alloc(k);
		err = dlreg_open(reg, link, 0, &a);
		failed = alloc_was_failed();
		if (err == DLREG_OK) {
			CHECK(a == base);
			check_usable(reg, rd, link);
			CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
			if (!failed)
				break;
			continue;
		}
		CHECK_ENOMEM("open by a second path", k, err, failed);
		CHECK(a == NULL && dlreg_lib_refs(base) == 1 && held_refs(reg) == 1);
	}

	/* dlreg_sym and dlreg_read_sym: the symbol cache */
	sym_sweep("sym", base, NULL);
	CHECK_ERR(dlreg_close(reg, base), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("plain12"), 0, &base), DLREG_OK);
	sym_sweep("read_sym", base, rd);
	CHECK_ERR(dlreg_close(reg, base), DLREG_OK);

	/*
	 * dlreg_open with DLREG_HINT_NODELETE of a library not loaded: the
	 * loader's no-delete cannot be undone, so no allocation may fail once
	 * the object is loaded.
	 */
	const char *pinned = fixture("plain13");
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	uint64_t refs0 = held_refs(reg);
	for (k = 0;; k++) {
		dlreg_lib_t *a = (dlreg_lib_t *)1;
		fail_alloc(k);
		err = dlreg_open(reg, pinned, DLREG_HINT_NODELETE, &a);
		failed = alloc_was_failed();
		if (err == DLREG_OK) {
			CHECK(!failed && dlreg_lib_refs(a) == 2);
			CHECK_ERR(dlreg_close(reg, a), DLREG_OK);
			break;
		}
		CHECK_ENOMEM("open with NODELETE", k, err, failed);
		CHECK(a == NULL && held_refs(reg) == refs0 && !mapped("plain13"));
	}
	CHECK(k > 0 && mapped("plain13"));

	unlink(link);
	rmdir(dir);
	done_reg(reg);
}
#endif

/*
 * An entry never holds more than DLREG_REFS_MAX references: opens and
 * acquires beyond fail with DLREG_EOVERFLOW and change nothing.  Run by
 * test_registry_refs_limit, built with a limit of 16 (the real one, 2^31 - 1,
 * takes 2^31 opens to reach).
 */
#ifdef DLREG_REFS_MAX
static void test_refs_limit(void)
{
	dlreg_t *reg = new_reg();
	static dlreg_lib_t *h[DLREG_REFS_MAX];
	for (int i = 0; i < DLREG_REFS_MAX; i++)
		CHECK_ERR(dlreg_open(reg, fixture("plain21"), i % 2 ? DLREG_HINT_LAZY : 0, &h[i]),
			  DLREG_OK);
	CHECK(dlreg_lib_refs(h[0]) == DLREG_REFS_MAX);
	dlreg_lib_t *more;
	CHECK_ERR(dlreg_open(reg, fixture("plain21"), 0, &more), DLREG_EOVERFLOW);
	CHECK(more == NULL && strstr(dlreg_errdetail(), "references") != NULL);
	/* The slow path too: a GLOBAL open misses the fast path (and is refused
	 * there already, by the same count), and a path the registry has not
	 * seen reaches the insert under the lock. */
	CHECK_ERR(dlreg_open(reg, fixture("plain21"), DLREG_HINT_GLOBAL, &more), DLREG_EOVERFLOW);
	char alias[4200];
	snprintf(alias, sizeof alias, "%s/./libplain21.so", fixdir);
	CHECK_ERR(dlreg_open(reg, alias, 0, &more), DLREG_EOVERFLOW);
	CHECK(dlreg_lib_refs(h[0]) == DLREG_REFS_MAX);
	/* NODELETE too, refused before the loader makes the object stay for good. */
	CHECK_ERR(dlreg_open(reg, fixture("plain21"), DLREG_HINT_NODELETE, &more), DLREG_EOVERFLOW);
	CHECK(!(dlreg_lib_hints(h[0]) & DLREG_HINT_NODELETE));
	dlreg_reader_t *r = dlreg_reader_self(reg);
	CHECK(r != NULL);
	dlreg_read_begin(r);
	const dlreg_lib_t *found = dlreg_read_lookup(r, fixture("plain21"));
	int acq = found ? dlreg_lib_acquire(r, found, &more) : -1;
	dlreg_read_end(r);
	CHECK_ERR(acq, DLREG_EOVERFLOW);
	CHECK(dlreg_lib_refs(h[0]) == DLREG_REFS_MAX);
	CHECK_ERR(dlreg_close(reg, h[DLREG_REFS_MAX - 1]), DLREG_OK);
	CHECK_ERR(dlreg_open(reg, fixture("plain21"), 0, &h[DLREG_REFS_MAX - 1]), DLREG_OK);
	for (int i = 0; i < DLREG_REFS_MAX; i++)
		CHECK_ERR(dlreg_close(reg, h[i]), DLREG_OK);
	CHECK_ERR(dlreg_quiesce(reg), DLREG_OK);
	struct dlreg_stats st;
	dlreg_stats(reg, &st);
	CHECK(st.live == 0 && st.dlopen_calls == st.dlclose_calls && !mapped("plain21"));
	done_reg(reg);
}
#endif

struct test {
	const char *name;
	void (*fn)(void);
};

static const struct test tests[] = {
	{ "symlink_shares_entry", test_symlink_shares_entry },
	{ "counts_and_real_unload", test_counts_and_real_unload },
	{ "nodelete_stays_mapped", test_nodelete_stays_mapped },
	{ "cached_symbol_equals_dlsym", test_cached_symbol_equals_dlsym },
	{ "lookup_after_close_misses", test_lookup_after_close_misses },
	{ "read_sym_equal_strings", test_read_sym_equal_strings },
	{ "read_sym_zero_key", test_read_sym_zero_key },
	{ "retired_entry_not_acquired", test_retired_entry_not_acquired },
	{ "ctor_opens_itself", test_ctor_opens_itself },
	{ "ctor_opens_other", test_ctor_opens_other },
	{ "load_failure_detail", test_load_failure_detail },
	{ "missing_dependency_and_odd_paths", test_missing_dependency_and_odd_paths },
	{ "bad_arguments", test_bad_arguments },
	{ "quiesce_destroy_inside_loader", test_quiesce_destroy_inside_loader },
	{ "elf_not_shared_object", test_elf_not_shared_object },
	{ "bare_name_found_file_redacted", test_bare_name_found_file_redacted },
	{ "acquire_live", test_acquire_live },
	{ "acquire_other_registry", test_acquire_other_registry },
	{ "unbalanced_read_end_aborts", test_unbalanced_read_end_aborts },
	{ "fork_child_opens_and_closes", test_fork_child_opens_and_closes },
	{ "fork_during_grace_wait", test_fork_during_grace_wait },
	{ "fork_from_other_thread", test_fork_from_other_thread },
	{ "nodelete_twice_pins_once", test_nodelete_twice_pins_once },
	{ "log_redacts_paths", test_log_redacts_paths },
	{ "reclaim_thread_mode", test_reclaim_thread_mode },
	{ "concurrent_open_one_entry", test_concurrent_open_one_entry },
	{ "hints_are_promoted", test_hints_are_promoted },
	{ "hints_only_what_the_loader_applies", test_hints_only_what_the_loader_applies },
	{ "sym_misses_and_orphans", test_sym_misses_and_orphans },
	{ "log_sink_reentry", test_log_sink_reentry },
	{ "log_sink_in_read_section", test_log_sink_in_read_section },
	{ "detail_survives_user_code", test_detail_survives_user_code },
	{ "close_orders_entry_writes", test_close_orders_entry_writes },
	{ "destroy_while_readers_exit", test_destroy_while_readers_exit },
	{ "quiesce_with_busy_readers", test_quiesce_with_busy_readers },
	{ "fork_in_destructor", test_fork_in_destructor },
	{ "long_destructor_chain", test_long_destructor_chain },
	{ "destructor_cycle_is_bounded", test_destructor_cycle_is_bounded },
#ifdef DLREG_REFS_MAX
	{ "refs_limit", test_refs_limit },
#endif
#ifdef DLREG_TEST_MEMO_FILL_HOOK
	{ "fork_child_memo_half_filled", test_fork_child_memo_half_filled },
	{ "memo_refill_on_repeat", test_memo_refill_on_repeat },
#endif
#ifdef DLREG_TEST_UNLOCK_HOOK
	{ "quiesce_waits_for_batch_in_flight", test_quiesce_waits_for_batch_in_flight },
	{ "allocation_failures", test_allocation_failures },
	{ "path_set_full", test_path_set_full },
	{ "path_set_grows_under_readers", test_path_set_grows_under_readers },
#endif
};

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: %s FIXTURE_DIR [TEST]\ntests:", argv[0]);
		for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
			fprintf(stderr, " %s", tests[i].name);
		fprintf(stderr, "\n");
		return argc < 2 ? 2 : 0;
	}
	fixdir = argv[1];
	dlreg_fixture_host_instance.fixture_dir = fixdir;
	pthread_t watchdog;
	pthread_create(&watchdog, NULL, alarm_thread, (void *)(uintptr_t)120);
	pthread_detach(watchdog);
	int ran = 0;
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		if (argc > 2 && strcmp(argv[2], tests[i].name) != 0)
			continue;
		int before = failures;
		tests[i].fn();
		printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "no test named '%s'\n", argv[2]);
		return 2;
	}
	return failures ? 1 : 0;
}
