/*
 * storm_leaks.c - after the storm, nothing the storm loaded may remain.
 *
 * With every handle closed and deferred unloads flushed (quiesce):
 *   - the variant holds no glibc reference (dl_refs == 0; below 0 means more
 *     dlclose than dlopen, an invariant violation);
 *   - destroy reports no still-referenced library;
 *   - no object from the plugin, fixture or churn directory is mapped that
 *     was not mapped before the storm (dl_iterate_phdr);
 *   - every fixture constructor that ran was matched by its destructor;
 *   - no fixture callback into the registry failed;
 *   - under AddressSanitizer, LeakSanitizer finds no leaked memory.
 */
#include <errno.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlreg/dlreg.h"
#include "storm.h"

#if defined(__SANITIZE_ADDRESS__)
#define STORM_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STORM_LSAN 1
#endif
#endif
#ifdef STORM_LSAN
#include <sanitizer/lsan_interface.h>
#endif

enum { LEAK_MAX_DIRS = 6 };

struct mapped_set {
	/* Each watched directory + "/", as given and as realpath() sees it
	 * (an object's name is the path it was opened by, symlinks included). */
	char *dirs[LEAK_MAX_DIRS];
	unsigned ndirs;
	char **names; /* grown as needed: a plugins directory may hold any number */
	size_t n, cap;
	bool short_of_memory; /* a name could not be kept: the check is incomplete */
};

static struct mapped_set before;

static char *with_slash(const char *dir)
{
	size_t len = strlen(dir);
	char *p = malloc(len + 2);

	if (p) {
		memcpy(p, dir, len);
		memcpy(p + len, "/", 2);
	}
	return p;
}

static bool under(const struct mapped_set *set, const char *name)
{
	for (unsigned i = 0; i < set->ndirs; i++)
		if (strncmp(name, set->dirs[i], strlen(set->dirs[i])) == 0)
			return true;
	return false;
}

static bool watched(const struct mapped_set *set, const char *name)
{
	char real[PATH_MAX];

	return under(set, name) || (realpath(name, real) && under(set, real));
}

static int collect_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mapped_set *set = arg;

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0] || !watched(set, info->dlpi_name))
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		char **names = realloc(set->names, cap * sizeof(*names));

		if (!names) {
			set->short_of_memory = true;
			return 0;
		}
		set->names = names;
		set->cap = cap;
	}
	if ((set->names[set->n] = strdup(info->dlpi_name)) != NULL)
		set->n++;
	else
		set->short_of_memory = true;
	return 0;
}

static void set_dirs(struct storm *s, struct mapped_set *set)
{
	const char *dirs[LEAK_MAX_DIRS] = {s->cfg.fixture_dir, s->cfg.plugins_dir, s->churn_dir};

	for (unsigned i = 0; i < LEAK_MAX_DIRS / 2; i++) {
		char real[PATH_MAX], *p;

		if (!dirs[i])
			continue;
		if ((p = with_slash(dirs[i])) != NULL)
			set->dirs[set->ndirs++] = p;
		if (realpath(dirs[i], real) && (p = with_slash(real)) != NULL)
			set->dirs[set->ndirs++] = p;
	}
}

static void set_free(struct mapped_set *set)
{
	for (unsigned i = 0; i < set->ndirs; i++)
		free(set->dirs[i]);
	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	memset(set, 0, sizeof(*set));
}

int storm_leaks_snapshot(struct storm *s)
{
	set_dirs(s, &before);
	dl_iterate_phdr(collect_one, &before);
	return 0;
}

static bool mapped_before(const char *name)
{
	for (size_t i = 0; i < before.n; i++)
		if (strcmp(before.names[i], name) == 0)
			return true;
	return false;
}

static void check_mapped(struct storm_thread *t)
{
	struct mapped_set now = {0};

	for (unsigned i = 0; i < before.ndirs; i++)
		now.dirs[now.ndirs++] = strdup(before.dirs[i]);
	dl_iterate_phdr(collect_one, &now);
	if (before.short_of_memory || now.short_of_memory) {
		/* Not a leak of the registry's, but the check cannot be made. */
		fprintf(stderr, "dlreg-storm: thread %u leak check: out of memory listing the "
		        "mapped objects\n", t->index);
		atomic_fetch_add_explicit(&storm_global->detectors[STORM_DET_LEAKS], 1,
		                          memory_order_relaxed);
	}
	for (size_t i = 0; i < now.n; i++) {
		if (mapped_before(now.names[i]))
			continue;
		fprintf(stderr, "dlreg-storm: thread %u leak: %s is still mapped after the storm\n",
		        t->index, now.names[i]);
		atomic_fetch_add_explicit(&storm_global->detectors[STORM_DET_LEAKS], 1,
		                          memory_order_relaxed);
	}
	set_free(&now);
	set_free(&before);
}

static void leak(struct storm *s, struct storm_thread *t, const char *what, long n)
{
	atomic_fetch_add_explicit(&s->detectors[STORM_DET_LEAKS], 1, memory_order_relaxed);
	fprintf(stderr, "dlreg-storm: thread %u leak: %s (%ld)\n", t->index, what, n);
}

/* Flushes deferred unloads; a destructor may retire more, hence the loop. */
static long settle(struct storm *s)
{
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
	long refs = s->ops->dl_refs(s->reg);

	for (int round = 0; round < 200 && refs != 0; round++) {
		s->ops->quiesce(s->reg);
		refs = s->ops->dl_refs(s->reg);
		if (refs != 0)
			nanosleep(&pause, NULL);
	}
	return refs;
}

static void check_destroy(struct storm *s, struct storm_thread *t)
{
	unsigned long leaked = 0;
	int err;

	storm_set_state(t, "destroy");
	err = s->ops->destroy(s->reg, &leaked);
	s->reg = NULL;
	if (leaked)
		leak(s, t, "destroy found libraries still referenced", (long)leaked);
	else if (err != DLREG_OK)
		storm_fail(t, SC_ERRORS, "destroy failed: %s", dlreg_strerror(err));
}

static void check_lsan(struct storm *s, struct storm_thread *t)
{
#ifdef STORM_LSAN
	storm_set_state(t, "leak sanitizer");
	if (__lsan_do_recoverable_leak_check() != 0)
		leak(s, t, "LeakSanitizer reported leaked memory (see above)", 1);
#else
	(void)s;
	(void)t;
#endif
}

void storm_leaks_check(struct storm *s, struct storm_thread *t)
{
	long refs, unbalanced;
	unsigned long cb_errors;

	storm_set_state(t, "quiesce");
	refs = settle(s);
	if (refs > 0)
		leak(s, t, "glibc references still held after close-all and quiesce", refs);
	if (refs < 0)
		storm_fail(t, SC_INVARIANTS, "more dlclose than dlopen calls (%ld)", refs);
	check_destroy(s, t);
	storm_set_state(t, "mapped objects");
	check_mapped(t);
	unbalanced = storm_host_unbalanced();
	if (unbalanced != 0)
		leak(s, t, "fixture constructors without a matching destructor", unbalanced);
	cb_errors = storm_host_callback_errors();
	if (cb_errors)
		storm_fail(t, SC_ERRORS, "%lu fixture callbacks into the registry failed",
		           cb_errors);
	check_lsan(s, t);
}
