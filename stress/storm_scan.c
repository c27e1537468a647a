/*
 * storm_scan.c - the scan operation: the one place the storm calls the
 * metadata scanner, so a build without it only loses this file's body.
 *
 * Files nobody modifies must give their one right result every time (the
 * declared JSON, or "no metadata" for a plain ELF plugin).  Churned copies
 * may be caught mid-change: then a defined error is fine, but a success
 * must still carry exactly the JSON of the content being churned, and a
 * crash (SIGBUS on a truncated mapping) ends the run through the fatal
 * signal detector.
 */
#include <string.h>

#include "dlreg/dlreg.h"
#include "storm.h"

#ifdef DLREG_STORM_HAVE_SCAN
#include "dlreg/scan.h"

bool storm_scan_available(void)
{
	return true;
}

uint64_t storm_scan_faults(void)
{
	return dlreg_scan_fault_count();
}

static const enum dlreg_scan_backend scan_backends[] = {DLREG_SCAN_MMAP, DLREG_SCAN_READ,
                                                        DLREG_SCAN_AUTO};
static const char *const scan_states[] = {"scan mmap", "scan read", "scan auto"};

static bool churn_error_ok(int err)
{
	return err == DLREG_ETRUNCATED || err == DLREG_ENOMETA || err == DLREG_EMALFORMED;
}

static void scan_failed(struct storm_thread *t, const struct storm_plugin *p, int err)
{
	storm_count(t, SC_SCAN_ERRORS, 1);
	if (p->slot >= 0 ? churn_error_ok(err)
	                 : (p->meta_none && err == DLREG_ENOMETA) || (!p->meta && !p->meta_none))
		return;
	storm_fail(t, SC_ERRORS, "scan %s: %s (%s)", p->name, dlreg_strerror(err),
	           dlreg_errdetail());
}

static void scan_found(struct storm_thread *t, const struct storm_plugin *p,
                       const struct dlreg_metadata *m)
{
	storm_count(t, SC_SCANS, 1);
	if (p->meta_none)
		storm_fail(t, SC_INVARIANTS, "scan %s: metadata found in a plugin without any",
		           p->name);
	else if (p->meta && (m->json_len != strlen(p->meta) || strcmp(m->json, p->meta) != 0))
		storm_fail(t, SC_INVARIANTS, "scan %s: wrong metadata '%.60s'", p->name, m->json);
}

void storm_scan_plugin(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                       uint64_t r)
{
	unsigned which = s->cfg.scan_backend == STORM_SCAN_MIX ? (unsigned)((r >> 4) % 3)
	                                                       : (unsigned)s->cfg.scan_backend - 1;
	struct dlreg_scan_options opt = {.backend = scan_backends[which]};
	struct dlreg_metadata *m = NULL;
	int err;

	storm_set_state(t, scan_states[which]);
	err = dlreg_scan_file(p->path, &opt, &m);
	storm_set_state(t, "checked");
	if (err != DLREG_OK) {
		scan_failed(t, p, err);
		return;
	}
	scan_found(t, p, m);
	dlreg_metadata_free(m);
}

#else

bool storm_scan_available(void)
{
	return false;
}

uint64_t storm_scan_faults(void)
{
	return 0;
}

void storm_scan_plugin(struct storm *s, struct storm_thread *t, const struct storm_plugin *p,
                       uint64_t r)
{
	(void)s;
	(void)t;
	(void)p;
	(void)r;
}

#endif
