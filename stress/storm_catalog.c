/*
 * storm_catalog.c - which files a storm opens, reads and scans, and what
 * each one must do.
 *
 * Fixture plugins come in a fixed interleaved order (a plain plugin between
 * every special one), so --plugins N always mixes plain and special
 * plugins.  With --plugins-dir, every shared object in the directory is
 * used in name order; the fixture ABI is checked only for files named like
 * fixtures.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_abi.h"
#include "storm.h"

/* Names are "lib<name>.so" in the fixture directory. */
static const char *const fixture_order[] = {
        "plain00", "cb_self",   "plain01", "cb_other", "plain02", "dtor_cb", "plain03", "dep0",
        "plain04", "usermutex", "plain05", "meta0",    "plain06", "fail",    "plain07", "dep1",
        "plain08", "slow",      "plain09", "meta1",    "plain10", "notelf",  "plain11", "base",
        "plain12", "empty",     "plain13", "plain14",  "plain15", "plain16", "plain17", "plain18",
        "plain19", "plain20",   "plain21", "plain22",  "plain23",
};
#define FIXTURE_ORDER_N (sizeof(fixture_order) / sizeof(fixture_order[0]))

static int cat_error(const char *fmt, const char *a)
{
	fprintf(stderr, "dlreg-storm: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	return -1;
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* What a plugin must do, from its file name (fixtures) or nothing (foreign). */
static void plugin_classify(struct storm_plugin *p)
{
	p->expected_id = dlreg_fixture_expected_id(p->name);
	p->family = p->expected_id >= 0 ? dlreg_fixture_id_family(p->expected_id) : 0;
	p->abi = p->expected_id >= 0;
	p->expect = p->abi ? STORM_EXPECT_LOADS : STORM_EXPECT_UNKNOWN;
	if (p->family == DLREG_FIXTURE_FAMILY_FAIL)
		p->expect = STORM_EXPECT_NEEDS_LAZY;
	if (strcmp(p->name, DLREG_FIXTURE_FILE_NOTELF) == 0 ||
	    strcmp(p->name, DLREG_FIXTURE_FILE_EMPTY) == 0)
		p->expect = STORM_EXPECT_FAILS;
	/* An ELF fixture without the metadata macro must scan as "none". */
	p->meta_none = p->abi && p->family != DLREG_FIXTURE_FAMILY_META;
}

int storm_catalog_add(struct storm_catalog *cat, char *path, int slot)
{
	struct storm_plugin *v = realloc(cat->v, (cat->n + 1) * sizeof(*v));
	struct storm_plugin *p;
	const char *slash;

	if (!v) {
		free(path);
		return cat_error("out of memory%s", "");
	}
	cat->v = v;
	p = &v[cat->n];
	memset(p, 0, sizeof(*p));
	p->path = path;
	slash = strrchr(path, '/');
	p->name = slash ? slash + 1 : path;
	p->slot = slot;
	plugin_classify(p);
	return (int)cat->n++;
}

int storm_catalog_find(const struct storm_catalog *cat, const char *name)
{
	for (size_t i = 0; i < cat->n; i++)
		if (cat->v[i].slot < 0 && strcmp(cat->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

int storm_catalog_push(size_t **idx, size_t *n, size_t value)
{
	size_t *grown = realloc(*idx, (*n + 1) * sizeof(**idx));

	if (!grown)
		return cat_error("out of memory%s", "");
	*idx = grown;
	grown[(*n)++] = value;
	return 0;
}

/* "plain00" or "libplain00.so" -> "libplain00.so" (caller frees). */
static char *fixture_file_name(const char *name, size_t len)
{
	char *out = malloc(len + 7);

	if (!out)
		return NULL;
	if (len > 6 && memcmp(name, "lib", 3) == 0 && memcmp(name + len - 3, ".so", 3) == 0)
		snprintf(out, len + 7, "%.*s", (int)len, name);
	else
		snprintf(out, len + 7, "lib%.*s.so", (int)len, name);
	return out;
}

/* Adds dir/file if not there yet; returns its index or -1. */
static int add_named(struct storm_catalog *cat, const char *dir, const char *file, bool required)
{
	int i = storm_catalog_find(cat, file);
	char *path;

	if (i >= 0)
		return i;
	path = join_path(dir, file);
	if (!path)
		return cat_error("out of memory%s", "");
	if (!is_file(path)) {
		free(path);
		return required ? cat_error("no plugin file '%s' (wrong --fixture-dir?)", file)
		                : -2;
	}
	return storm_catalog_add(cat, path, -1);
}

/* Appends a comma list of names to `idx`; -1 on a missing file. */
static int add_list(struct storm_catalog *cat, const char *dir, const char *list, size_t **idx,
                    size_t *n)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		char *file = len ? fixture_file_name(p, len) : NULL;
		int i = file ? add_named(cat, dir, file, true) : -1;

		free(file);
		if (i < 0)
			return len ? -1 : cat_error("empty name in list '%s'", list);
		if (storm_catalog_push(idx, n, (size_t)i) != 0)
			return -1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int add_default_fixtures(struct storm_catalog *cat, const char *dir, size_t **idx, size_t *n)
{
	for (size_t k = 0; k < FIXTURE_ORDER_N; k++) {
		char *file = fixture_file_name(fixture_order[k], strlen(fixture_order[k]));
		int i = file ? add_named(cat, dir, file, false) : -1;

		free(file);
		if (i == -2)
			continue; /* not built here (e.g. no scanner, so no meta plugins) */
		if (i < 0 || storm_catalog_push(idx, n, (size_t)i) != 0)
			return -1;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool looks_like_shared_object(const char *name)
{
	const char *so = strstr(name, ".so");

	return so && (so[3] == '\0' || so[3] == '.');
}

/* Every shared object in dir, in name order. */
static int add_directory(struct storm_catalog *cat, const char *dir, size_t **idx, size_t *n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t count = 0;
	struct dirent *e;
	int rc = 0;

	if (!d)
		return cat_error("cannot open --plugins-dir '%s'", dir);
	while ((e = readdir(d)) != NULL) {
		char **grown;

		if (!looks_like_shared_object(e->d_name))
			continue;
		grown = realloc(names, (count + 1) * sizeof(*names));
		if (!grown || !(grown[count] = strdup(e->d_name))) {
			names = grown ? grown : names;
			rc = cat_error("out of memory%s", "");
			break;
		}
		names = grown;
		count++;
	}
	closedir(d);
	if (names)
		qsort(names, count, sizeof(*names), name_cmp);
	for (size_t k = 0; k < count; k++) {
		if (rc == 0) {
			int i = add_named(cat, dir, names[k], false);

			if (i >= 0)
				rc = storm_catalog_push(idx, n, (size_t)i);
			else if (i != -2)
				rc = -1;
		}
		free(names[k]);
	}
	free(names);
	if (rc == 0 && *n == 0)
		rc = cat_error("no shared objects in '%s'", dir);
	return rc;
}

/* Reads expected-metadata.txt ("name<TAB>json" lines) into the meta plugins. */
static void load_metadata(struct storm_catalog *cat, const char *dir)
{
	char *path = join_path(dir, DLREG_FIXTURE_METADATA_FILE);
	FILE *f = path ? fopen(path, "r") : NULL;
	char *text = NULL, *line, *save = NULL;
	size_t cap = 0;

	free(path);
	if (!f)
		return;
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		fclose(f);
		return;
	}
	fclose(f);
	cat->meta_text = text;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		char file[128];
		int i;

		if (line[0] == '#' || !tab)
			continue;
		*tab = '\0';
		if (cat->n_meta < sizeof(cat->meta_file) / sizeof(cat->meta_file[0])) {
			cat->meta_file[cat->n_meta] = line;
			cat->meta_json[cat->n_meta++] = tab + 1;
		}
		snprintf(file, sizeof(file), "lib%s.so", line);
		i = storm_catalog_find(cat, file);
		if (i >= 0)
			cat->v[i].meta = tab + 1;
	}
}

const char *storm_catalog_meta(const struct storm_catalog *cat, const char *name)
{
	for (unsigned i = 0; i < cat->n_meta; i++)
		if (strcmp(cat->meta_file[i], name) == 0)
			return cat->meta_json[i];
	return NULL;
}

static int select_plugins(struct storm *s, size_t **sel, size_t *nsel)
{
	const struct storm_config *c = &s->cfg;
	const char *dir = c->plugins_dir ? c->plugins_dir : c->fixture_dir;

	if (c->plugins_dir)
		return add_directory(&s->cat, dir, sel, nsel);
	if (c->fixtures)
		return add_list(&s->cat, dir, c->fixtures, sel, nsel);
	return add_default_fixtures(&s->cat, dir, sel, nsel);
}

/* The slow loader owns libslow.so: workers must not keep it loaded. */
static void drop_slow(struct storm_catalog *cat, size_t *sel, size_t *nsel)
{
	size_t k = 0;

	for (size_t j = 0; j < *nsel; j++)
		if ((int)sel[j] != cat->slow)
			sel[k++] = sel[j];
	*nsel = k;
}

static int pick_pins(struct storm *s)
{
	const struct storm_config *c = &s->cfg;
	const char *dir = c->plugins_dir ? c->plugins_dir : c->fixture_dir;
	char *plain00;
	int i;

	if (c->pins && strcmp(c->pins, "none") == 0)
		return 0;
	if (c->pins)
		return add_list(&s->cat, dir, c->pins, &s->cat.pins, &s->cat.n_pins);
	plain00 = join_path(dir, "libplain00.so");
	i = plain00 && is_file(plain00) ? add_named(&s->cat, dir, "libplain00.so", true) : -1;
	free(plain00);
	if (i < 0)
		return 0; /* no default pin outside the fixture directory */
	return storm_catalog_push(&s->cat.pins, &s->cat.n_pins, (size_t)i);
}

/* The fixture directory, when plugins or the slow loader come from it. */
static int check_fixture_dir(const struct storm_config *c)
{
	struct stat st;

	if (c->plugins_dir && !c->slow_loader)
		return 0;
	if (stat(c->fixture_dir, &st) != 0) {
		fprintf(stderr, "dlreg-storm: --fixture-dir '%s': %s\n", c->fixture_dir,
		        strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return cat_error("--fixture-dir '%s' is not a directory", c->fixture_dir);
	/* Else every plugin in it would be "missing", and the error say so. */
	if (access(c->fixture_dir, X_OK) != 0) {
		fprintf(stderr, "dlreg-storm: --fixture-dir '%s': %s\n", c->fixture_dir,
		        strerror(errno));
		return -1;
	}
	return 0;
}

int storm_catalog_build(struct storm *s)
{
	struct storm_catalog *cat = &s->cat;

	cat->slow = -1;
	if (check_fixture_dir(&s->cfg) != 0)
		return -1;
	if (select_plugins(s, &cat->openable, &cat->n_openable) != 0)
		return -1;
	if (s->cfg.plugins && s->cfg.plugins < cat->n_openable)
		cat->n_openable = s->cfg.plugins;
	if (s->cfg.slow_loader) {
		cat->slow = add_named(cat, s->cfg.fixture_dir, DLREG_FIXTURE_FILE_SLOW, true);
		if (cat->slow < 0)
			return -1;
		drop_slow(cat, cat->openable, &cat->n_openable);
	}
	if (pick_pins(s) != 0)
		return -1;
	load_metadata(cat, s->cfg.fixture_dir);
	return 0;
}

/* Scans choose among the openable plugins plus every churned copy. */
int storm_catalog_finish(struct storm *s)
{
	struct storm_catalog *cat = &s->cat;

	cat->scannable = malloc((cat->n_openable + cat->n + 1) * sizeof(*cat->scannable));
	if (!cat->scannable)
		return cat_error("out of memory%s", "");
	for (size_t j = 0; j < cat->n_openable; j++)
		cat->scannable[cat->n_scannable++] = cat->openable[j];
	for (size_t i = 0; i < cat->n; i++)
		if (cat->v[i].scan_only)
			cat->scannable[cat->n_scannable++] = i;
	if (cat->n_openable == 0 && cat->n_pins == 0) {
		if (s->cfg.plugins_dir)
			return cat_error("no plugin to storm in --plugins-dir '%s'",
			                 s->cfg.plugins_dir);
		fprintf(stderr,
		        "dlreg-storm: no plugin to storm: --fixture-dir '%s' holds none of the "
		        "fixture plugins (lib%s.so, ...)\n",
		        s->cfg.fixture_dir, fixture_order[0]);
		return -1;
	}
	return 0;
}

void storm_catalog_free(struct storm_catalog *cat)
{
	for (size_t i = 0; i < cat->n; i++)
		free(cat->v[i].path);
	free(cat->v);
	free(cat->openable);
	free(cat->scannable);
	free(cat->pins);
	free(cat->meta_text);
	memset(cat, 0, sizeof(*cat));
}
