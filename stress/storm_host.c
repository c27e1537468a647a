/*
 * storm_host.c - the fixture host: routes the fixture plugins' callbacks
 * (constructors and destructors opening and closing libraries) to the
 * variant under test.  Exported from the executable (export_dynamic) so the
 * plugins find it with dlsym(RTLD_DEFAULT, DLREG_FIXTURE_HOST_SYMBOL).
 */
#include "fixture_host.h"
#include "storm.h"

struct dlreg_fixture_host dlreg_fixture_host_instance;

static int host_open(void *ctx, const char *path, void **handle)
{
	struct storm *s = ctx;

	return s->ops->open(s->reg, path, 0, handle);
}

static int host_close(void *ctx, void *handle)
{
	struct storm *s = ctx;

	return s->ops->close(s->reg, handle);
}

void storm_host_bind(struct storm *s)
{
	struct dlreg_fixture_host *h = &dlreg_fixture_host_instance;

	h->ctx = s;
	h->fixture_dir = s->cfg.fixture_dir;
	h->user_mutex = &s->user_mutex;
	h->slow_ctor_us = s->cfg.slow_us;
	/* Published last: a plugin loaded from now on sees a complete host. */
	__atomic_store_n(&h->close, host_close, __ATOMIC_RELEASE);
	__atomic_store_n(&h->open, host_open, __ATOMIC_RELEASE);
}

unsigned long storm_host_callback_errors(void)
{
	return __atomic_load_n(&dlreg_fixture_host_instance.callback_errors, __ATOMIC_RELAXED);
}

long storm_host_unbalanced(void)
{
	unsigned long ctor =
	        __atomic_load_n(&dlreg_fixture_host_instance.ctor_runs, __ATOMIC_RELAXED);
	unsigned long dtor =
	        __atomic_load_n(&dlreg_fixture_host_instance.dtor_runs, __ATOMIC_RELAXED);

	return (long)(ctor - dtor);
}
