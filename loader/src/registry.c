/*
 * registry.c - the dlreg registry: lock-free reads, RCU-deferred unload.
 *
 * THE PROTOCOL
 *
 * Objects.  An entry (struct dlreg_lib) stands for one loaded object, i.e.
 * one glibc link map, and holds exactly one glibc reference to it.  It is
 * reachable through two Concurrency Kit ck_hs sets, each written by one
 * writer at a time (under reg->lock) and read by any number of lock-free
 * readers:
 *   by_handle  keyed by the dlopen() handle.  glibc already de-duplicates by
 *              file identity (st_dev, st_ino) when it maps a file, so equal
 *              handles <=> same file identity, with no stat() and no window
 *              between a stat() and the dlopen() it describes;
 *   by_path    keyed by every path string the entry was opened by (aliases),
 *              so the read side never calls stat().
 *
 * States of an entry (lib->state):
 *   LIVE     in both sets; refs > 0 (refs counts handles, plus one pin for
 *            NODELETE entries).
 *   RETIRED  refs reached 0 under reg->lock and the entry left both sets in
 *            the same critical section; it waits on the limbo list.
 *   DEAD     its grace period ended; it was dlclose()d, poisoned and freed.
 * Transitions only go LIVE -> RETIRED -> DEAD.
 *
 * Read side.  dlreg_read_begin/end bracket a ck_epoch section on the
 * thread's own record.  Inside it: ck_hs_get on by_path, then a walk of the
 * entry's symbol cache (lock-free push-only lists).  No lock, no syscall, no
 * atomic read-modify-write on a shared line; the only RMW is ck_epoch's
 * exchange on the thread's own record.
 *
 * Open.  Fast path: inside a section, find the path; if the entry's hints
 * cover the request, CAS refs from n > 0 to n + 1.  A CAS never succeeds on
 * refs == 0, so a RETIRED entry is never resurrected.  Slow path: dlopen()
 * with no lock held; then under reg->lock find-or-insert by handle.  If the
 * entry exists, +1 ref and drop our extra glibc reference with dlclose()
 * after unlocking (a refcount decrement: the entry still holds one).
 *
 * Close.  refs > 1: CAS decrement, no lock.  refs == 1: under reg->lock CAS
 * 1 -> 0 (retrying if a fast-path open got in first), remove the entry from
 * both sets, mark it RETIRED and push it on the limbo stack.  Close never
 * waits.
 *
 * Reclamation.  Only a thread outside every read section and outside every
 * dlopen/dlclose dlreg made reclaims.  Polling (open/close): holding
 * reg->reclaim_lock briefly (never across a wait, never with reg->lock
 * except in the fork handlers), it steals the limbo stack, hands each node
 * to ck_epoch_call on the registry's reclaimer record, ck_epoch_poll()s
 * (never waits) and takes the nodes whose grace period ended.  Waiting
 * (dlreg_quiesce, the reclaim thread): under reclaim_lock it steals the
 * limbo stack and everything earlier polls queued on the reclaimer record,
 * then waits in ck_epoch_synchronize_wait holding no lock at all.  Either way
 * the dlclose()s and frees run after every lock is dropped.
 *
 * DEADLOCK FREEDOM - four rules, each broken by one seeded-bug build:
 *   1. At most one registry lock is held at a time, and none is held across
 *      dlopen, dlclose, dlsym, file I/O or a user callback (log sink, plugin
 *      code).  [lock_across_dlopen, lock_order_inversion]
 *   2. No thread waits for another thread's load: two concurrent opens of one
 *      object both dlopen() and the loser drops its extra reference.
 *      [wait_for_load]
 *   3. Grace periods are waited for only outside read sections, outside the
 *      registry locks and outside the dynamic loader (never from a
 *      constructor or destructor: tl_in_loader counts our own dlopen/dlclose
 *      frames on this thread).  [dlclose_no_grace runs user destructors
 *      inline, the symptom this rule prevents]
 *   4. A pointer a reader found is never freed or unmapped before its
 *      section ends.  [free_no_grace, dlclose_no_grace]
 * Given 1, a plugin constructor (running inside glibc's loader lock) that
 * calls back into the registry can only block on reg->lock, whose holders
 * never call into the loader, so they finish.  Given 2, nobody waits on a
 * load in progress, so a constructor opening its own library or a library
 * whose constructor opens ours completes.  Given 3, a grace-period wait never
 * waits on a section owned by the waiting thread, and never holds a lock a
 * reader needs (readers take none).
 *
 * INVARIANTS (checked by the storms):
 *   - refs never underflows (the locked decrement stops at 0; closing a
 *     handle more often than it was opened is undefined behaviour, reported
 *     as EINVAL when it is seen before the entry is released) and never
 *     wraps (opens and acquires stop at REFS_MAX, 2^31 - 1: DLREG_EOVERFLOW);
 *   - dlopen_calls - dlclose_calls == number of entries not yet DEAD;
 *   - an entry found by a reader inside a section is LIVE or RETIRED, never
 *     DEAD, until that section ends (poison: dlreg_lib_check).
 *
 * Destroy runs alone (the API's contract) but for three things it cannot
 * exclude: calls on handles it leaves referenced (dlreg_sym; handle-only
 * calls never follow lib->reg), the log sink (destroy refuses to run from
 * one, and sends its own warnings before it tears anything down) and
 * threads exiting after they used dlreg_reader_self (their key destructor
 * unregisters a record only while its registry is on the global list,
 * under g_regs_lock, which destroy takes to unlink it before freeing).
 *
 * fork: handlers take reclaim_lock then lock (the only place both are held,
 * always in that order) so the child inherits them unheld; the child resets
 * the epoch records of threads that do not exist in it, so a parent thread
 * caught inside a read section cannot stall the child's grace periods.
 */
#include <ck_epoch.h>
#include <ck_hs.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "annotate.h"
#include "internal.h"

#ifdef DLREG_SEEDED_BUG
#define DLREG_STR2_(x) #x
#define DLREG_STR_(x) DLREG_STR2_(x)
const char dlreg_seeded_bug_name[] = DLREG_STR_(DLREG_SEEDED_BUG);
#endif

#define LIB_LIVE 0x4c495645u    /* "LIVE" */
#define LIB_RETIRED 0x52455449u /* "RETI" */
#define LIB_DEAD 0xdeaddeadu    /* poison */
/* ck_epoch.c's private record states (ck 0.7.1): USED = 0, FREE = 1. */
#define EPOCH_RECORD_USED 0u
enum { SYM_BUCKETS = 16 };

/*
 * The most references one entry holds: an open or acquire beyond it fails
 * with DLREG_EOVERFLOW instead of wrapping the 32-bit count (a wrapped
 * count would retire, unload and free an entry under its holders).  The
 * unit tests build a copy with a small limit.
 */
#ifndef DLREG_REFS_MAX
#define DLREG_REFS_MAX (UINT32_MAX / 2)
#endif
#define REFS_MAX ((uint32_t)(DLREG_REFS_MAX))

/* Symbol cache node: immutable once published. */
struct sym_node {
	struct sym_node *next;
	uint64_t hash;
	void *addr;
	size_t len; /* strlen(name): memo hits compare lengths, then bytes */
	char name[];
};

/* Something waiting for a grace period: an entry, or memory ck_hs retired. */
struct retire {
	struct retire *next;
	ck_epoch_entry_t epoch_entry;
	void (*release)(struct dlreg *reg, struct retire *r);
};

struct alias {
	const char *path; /* first member: the ck_hs key */
	uint64_t hash;
	size_t len; /* strlen(path) */
	struct dlreg_lib *lib;
	struct alias *next; /* the entry's other aliases (writer only) */
	bool published;     /* in by_path (writer only) */
	char buf[];
};

struct dlreg_lib {
	void *dl; /* first member: the by_handle key */
	_Atomic uint32_t state;
	_Atomic uint32_t refs;
	_Atomic unsigned hints;
	bool pinned; /* holds a NODELETE pin reference (writer only) */
	bool full_paths; /* the registry's DLREG_CONFIG_FULL_PATHS, for handle-only calls */
	/* NULL once orphaned by dlreg_destroy; handle-only calls never follow it. */
	_Atomic(struct dlreg *) reg;
	/* dlsym() calls dlreg_sym made; folded into the registry's count at retirement. */
	_Atomic uint64_t sym_misses;
	struct alias *aliases;
	const char *path; /* first alias's path */
	_Atomic(struct sym_node *) syms[SYM_BUCKETS];
	struct retire retire;
};

struct ck_record_box {
	ck_epoch_record_t rec; /* first: records are found by address */
};

enum { MEMO_SET_BITS = 6, MEMO_WAYS = 4 };

/*
 * One set of the reader memo: MEMO_WAYS remembered lookups.  The keys are
 * the caller's string pointers; they only choose the set and the way, and
 * share the set's first cache line.
 */
struct memo_set {
	_Alignas(64) const char *path_key[MEMO_WAYS];
	const char *name_key[MEMO_WAYS];
	uint64_t gen[MEMO_WAYS];
	const struct alias *alias[MEMO_WAYS];
	const struct sym_node *sym[MEMO_WAYS];
	unsigned next; /* the way the next new key replaces (round robin) */
};

/*
 * One set of the reader's second memo: the same kind of remembered lookup,
 * keyed by the strings' hashes (combined) instead of their addresses.
 */
struct hmemo_set {
	_Alignas(64) uint64_t key[MEMO_WAYS];
	uint64_t gen[MEMO_WAYS];
	const struct alias *alias[MEMO_WAYS];
	const struct sym_node *sym[MEMO_WAYS];
	uint64_t caller[MEMO_WAYS]; /* memo_ptr_key of the way's last caller */
	unsigned next;
};

struct dlreg_reader {
	ck_epoch_record_t rec; /* first member */
	dlreg_t *reg;
	/*
	 * The thread that registered or recycled the record last.  Written when
	 * a thread takes the record, read by other threads' exit destructors
	 * (reader_key_destructor), hence atomic; never read on the read path.
	 */
	_Atomic(pthread_t) owner;
	bool is_reclaimer;
	struct memo_set memo[1 << MEMO_SET_BITS];   /* owner thread only */
	struct hmemo_set hmemo[1 << MEMO_SET_BITS]; /* owner thread only */
};

struct dlreg {
	/* Retirements so far; read-mostly, on its own line (see the memo). */
	_Alignas(64) _Atomic uint64_t gen;
	_Alignas(64) pthread_mutex_t lock; /* the writer lock */
	ck_hs_t by_handle;
	ck_hs_t by_path;
	ck_epoch_t epoch;
	int grace;                          /* TSan annotation address */
	_Atomic(struct retire *) limbo;     /* Treiber stack; pushed under lock */
	pthread_mutex_t reclaim_lock;       /* guards reclaimer and ready */
	struct dlreg_reader *reclaimer;     /* epoch record for ck_epoch_call */
	struct retire *ready;               /* grace period over; not released */
	_Atomic size_t pending;             /* retired entries and memory, not released */
	_Atomic unsigned releasing;         /* ready lists being released right now */
	pthread_mutex_t thread_lock;        /* reclaim thread's sleep */
	pthread_key_t self_key;
	struct dlreg_config cfg;
	pthread_t thread;
	bool thread_running;
	pthread_cond_t thread_cond;
	bool thread_stop;
	struct dlreg *next_reg; /* global list, for fork handlers */
	struct {
		_Atomic uint64_t opens, closes, dlopen_calls, dlclose_calls, live, retired,
			released, sym_misses;
	} st;
#ifdef DLREG_SEEDED_BUG_wait_for_load
	struct loading *loading;
	pthread_cond_t loading_cond;
#endif
};

/* Hot thread-locals use the initial-exec model (DLREG_TLS_IE): no
 * __tls_get_addr call on the read path. */
/* Frames of our own dlopen/dlclose on this thread: >0 means we are inside
 * the dynamic loader (a constructor or destructor may be calling us). */
static _Thread_local unsigned tl_in_loader DLREG_TLS_IE;
/* Read sections open on this thread, over all registries. */
static _Thread_local unsigned tl_sections DLREG_TLS_IE;
/* The registry one of whose `releasing` batches this thread holds, or NULL.
 * At most one: releasing never nests (a destructor it runs is inside the
 * loader, where no reclamation starts).  A fork child keeps only its own. */
static _Thread_local struct dlreg *tl_releasing;
/* Log sink calls in progress on this thread: dlreg_destroy refuses there. */
static _Thread_local unsigned tl_in_sink;
/* Registry whose ck_hs is being modified by this thread (under its lock):
 * ck_malloc callbacks carry no context. */
static _Thread_local struct dlreg *tl_hs_owner;
#ifdef DLREG_TSAN
/*
 * TSan: a recursive mutex standing for glibc's dl_load_lock, taken just
 * outside it around every dlopen/dlclose/dlsym, so TSan sees the order the
 * real lock imposes (the loader's own allocations are made in one call and
 * freed in another, on other threads).  acquire/release annotations around
 * the calls are not enough: a thread announces its acquire while it may
 * still wait for the real lock.
 */
static pthread_mutex_t dl_order = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
#define dl_enter() pthread_mutex_lock(&dl_order)
#define dl_leave() pthread_mutex_unlock(&dl_order)
#else
#define dl_enter() ((void)0)
#define dl_leave() ((void)0)
#endif

static pthread_mutex_t g_regs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dlreg *g_regs;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- logging */

static int full_paths(const dlreg_t *reg)
{
	return reg && (reg->cfg.flags & DLREG_CONFIG_FULL_PATHS);
}

static void reg_log(dlreg_t *reg, enum dlreg_log_level lvl, const char *fmt, ...)
	DLREG_PRINTF(3, 4);
static void reg_log(dlreg_t *reg, enum dlreg_log_level lvl, const char *fmt, ...)
{
	if (!reg->cfg.log || lvl < reg->cfg.log_level)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct dlreg__detail saved;
	dlreg__save_detail(&saved);
	tl_in_sink++;
	reg->cfg.log(reg->cfg.log_ctx, lvl, msg);
	tl_in_sink--;
	dlreg__restore_detail(&saved);
}

/* ------------------------------------------------------- retire/reclaim */

static void retire_push(struct dlreg *reg, struct retire *r)
{
	/* Counted first: a reclaim round may take and release r at once. */
	atomic_fetch_add_explicit(&reg->pending, 1, memory_order_relaxed);
	struct retire *head = atomic_load_explicit(&reg->limbo, memory_order_relaxed);
	do
		r->next = head;
	while (!atomic_compare_exchange_weak_explicit(&reg->limbo, &head, r, memory_order_release,
						      memory_order_relaxed));
}

struct retired_mem {
	struct retire retire;
	void *ptr;
};

static void release_mem(struct dlreg *reg, struct retire *r)
{
	struct retired_mem *m = (struct retired_mem *)((char *)r - offsetof(struct retired_mem, retire));
	(void)reg;
	free(m->ptr);
	free(m);
}

/* ck_hs allocator.  Frees ck_hs asks to defer (a map readers may still walk)
 * wait for a grace period like entries do. */
static void *hs_malloc(size_t n)
{
	return malloc(n);
}

static void hs_free(void *p, size_t n, bool defer)
{
	(void)n;
	struct retired_mem *m;
	if (!defer || !tl_hs_owner || !(m = malloc(sizeof *m))) {
		/* Without a node we cannot defer; leaking is the safe choice. */
		if (!defer || !tl_hs_owner)
			free(p);
		return;
	}
	m->ptr = p;
	m->retire.release = release_mem;
	retire_push(tl_hs_owner, &m->retire);
}

static struct ck_malloc hs_allocator = {
	.malloc = hs_malloc,
	.realloc = NULL,
	.free = hs_free,
};

static void poison_and_free_lib(struct dlreg_lib *lib)
{
	for (int i = 0; i < SYM_BUCKETS; i++) {
		struct sym_node *n = atomic_load_explicit(&lib->syms[i], memory_order_relaxed);
		while (n) {
			struct sym_node *next = n->next;
			free(n);
			n = next;
		}
	}
	struct alias *a = lib->aliases;
	while (a) {
		struct alias *next = a->next;
		free(a);
		a = next;
	}
	atomic_store_explicit(&lib->state, LIB_DEAD, memory_order_relaxed);
	atomic_store_explicit(&lib->refs, 0, memory_order_relaxed);
	lib->dl = (void *)(uintptr_t)0xdeadbeefu;
	lib->aliases = NULL;
	lib->path = "(released)";
	free(lib);
}

static void lib_dlclose(struct dlreg *reg, void *dl)
{
	/* Destructors may call the registry; the caller's detail stays. */
	struct dlreg__detail saved;
	dlreg__save_detail(&saved);
	dl_enter();
	tl_in_loader++;
	dlclose(dl);
	tl_in_loader--;
	dl_leave();
	dlreg__restore_detail(&saved);
	/* Release: held_dl_refs() must see the dlopen this dlclose follows. */
	atomic_fetch_add_explicit(&reg->st.dlclose_calls, 1, memory_order_release);
}

static void release_lib(struct dlreg *reg, struct retire *r)
{
	struct dlreg_lib *lib = (struct dlreg_lib *)((char *)r - offsetof(struct dlreg_lib, retire));
	if (lib->dl)
		lib_dlclose(reg, lib->dl);
	poison_and_free_lib(lib);
	atomic_fetch_add_explicit(&reg->st.released, 1, memory_order_relaxed);
}

/* ck_epoch callback: runs inside ck_epoch_poll under reclaim_lock; only
 * moves the node to the ready list. */
static void grace_over(ck_epoch_entry_t *e)
{
	struct retire *r = (struct retire *)((char *)e - offsetof(struct retire, epoch_entry));
	struct dlreg *reg = tl_hs_owner; /* set by poll_locked */
	r->next = reg->ready;
	reg->ready = r;
}

/*
 * Runs dlclose and free for a list whose grace period is over: no lock
 * held, not in a section.  `releasing` counts such lists in flight so that
 * dlreg_quiesce can wait for another thread's batch to finish.
 */
static void release_list(struct dlreg *reg, struct retire *r)
{
	if (r)
		dlreg_ann_acquire(&reg->grace);
	while (r) {
		struct retire *next = r->next;
		r->release(reg, r);
		atomic_fetch_sub_explicit(&reg->pending, 1, memory_order_relaxed);
		r = next;
	}
	tl_releasing = NULL;
	atomic_fetch_sub_explicit(&reg->releasing, 1, memory_order_release);
}

/*
 * Under reclaim_lock (held briefly, never across a wait or user code):
 * hands the limbo stack to ck_epoch_call, polls without waiting, and takes
 * what the poll found ready.  The caller must call release_list on the
 * result after unlocking.
 */
static struct retire *poll_locked(struct dlreg *reg)
{
	struct dlreg *saved = tl_hs_owner;
	tl_hs_owner = reg;
	struct retire *r = atomic_exchange_explicit(&reg->limbo, NULL, memory_order_acquire);
	while (r) {
		struct retire *next = r->next;
		ck_epoch_call(&reg->reclaimer->rec, &r->epoch_entry, grace_over);
		r = next;
	}
	ck_epoch_poll(&reg->reclaimer->rec);
	tl_hs_owner = saved;
	r = reg->ready;
	reg->ready = NULL;
	atomic_fetch_add_explicit(&reg->releasing, 1, memory_order_relaxed);
	tl_releasing = reg;
	return r;
}

static bool may_reclaim_here(void)
{
	return tl_in_loader == 0 && tl_sections == 0;
}

/* Opportunistic, non-blocking reclamation from open/close. */
static void reclaim_poll(struct dlreg *reg)
{
	if (!may_reclaim_here())
		return;
	if (atomic_load_explicit(&reg->pending, memory_order_relaxed) == 0)
		return;
	if (reg->cfg.reclaim == DLREG_RECLAIM_THREAD && reg->thread_running) {
		pthread_cond_signal(&reg->thread_cond);
		return;
	}
	if (pthread_mutex_trylock(&reg->reclaim_lock) != 0)
		return;
	struct retire *r = poll_locked(reg);
	pthread_mutex_unlock(&reg->reclaim_lock);
	release_list(reg, r);
}

/* Sleeps instead of spinning while a grace period waits on a reader. */
static void grace_wait_cb(ck_epoch_t *epoch, ck_epoch_record_t *rec, void *ctx)
{
	(void)epoch;
	(void)rec;
	(void)ctx;
	struct timespec ts = { 0, 50 * 1000 };
	nanosleep(&ts, NULL);
}

/*
 * Under reclaim_lock: everything retired that nobody is releasing yet, in
 * one list: the limbo stack, what earlier polls queued on the reclaimer's
 * record (whatever its epoch bucket) and what a poll found ready.  Only for
 * a caller that waits for a full grace period before releasing the list.
 */
static struct retire *take_all_locked(struct dlreg *reg)
{
	struct dlreg *saved = tl_hs_owner;
	tl_hs_owner = reg;
	/* Dispatches every bucket at once: grace_over only moves nodes to ready. */
	ck_epoch_reclaim(&reg->reclaimer->rec);
	tl_hs_owner = saved;
	struct retire *all = reg->ready;
	reg->ready = NULL;
	struct retire *r = atomic_exchange_explicit(&reg->limbo, NULL, memory_order_acquire);
	while (r) {
		struct retire *next = r->next;
		r->next = all;
		all = r;
		r = next;
	}
	return all;
}

/*
 * One blocking round, holding no lock while it waits: take everything
 * retired so far for ourselves (limbo and the reclaimer's record), wait
 * for a grace period, release it.  Polls alone would not do: they dispatch
 * only the buckets two and one epochs back, and while readers keep starting
 * sections a round's grace period and polls can move the epoch by a
 * multiple of the bucket count, so one bucket is never dispatched.
 *
 * `others`, if given, tells whether another thread's batch was in flight
 * when this round took: its destructors may retire more after the take,
 * and the batch may be over before anyone looks at `releasing` again.
 * Read under reclaim_lock, before the take: a batch taken earlier is
 * counted from its take on, so it is either seen here or done, and then
 * what it retired (pushed before its release decrement, which this acquire
 * load reads) is in limbo for this take.
 */
static bool reclaim_round(struct dlreg *reg, bool *others)
{
	/* Counted in flight before it leaves limbo or the record, so that a
	 * concurrent quiesce never sees it nowhere. */
	atomic_fetch_add_explicit(&reg->releasing, 1, memory_order_relaxed);
	tl_releasing = reg;
	pthread_mutex_lock(&reg->reclaim_lock);
	if (others) /* 1 is this round's own count */
		*others = atomic_load_explicit(&reg->releasing, memory_order_acquire) > 1;
	struct retire *mine = take_all_locked(reg);
	pthread_mutex_unlock(&reg->reclaim_lock);
	if (!mine) {
		tl_releasing = NULL;
		atomic_fetch_sub_explicit(&reg->releasing, 1, memory_order_release);
		return false;
	}
	ck_epoch_synchronize_wait(&reg->epoch, grace_wait_cb, NULL);
	release_list(reg, mine);
	return true;
}

/* Waits until no other thread is releasing a batch it took earlier; true if
 * one was. */
static bool wait_for_releasers(struct dlreg *reg)
{
	struct timespec ts = { 0, 100 * 1000 };
	bool waited = false;
	while (atomic_load_explicit(&reg->releasing, memory_order_acquire) != 0) {
		waited = true;
		nanosleep(&ts, NULL);
	}
	return waited;
}

/* glibc references the registry holds: the entries not released yet. */
static int64_t held_dl_refs(struct dlreg *reg)
{
	/* Closes first: a dlclose is counted after its dlopen was, and this
	 * acquire load pairs with lib_dlclose's release increment, so every
	 * dlopen counted before a dlclose seen here is seen below; calls made
	 * between the two loads make the result too high, not negative.  It
	 * is exact when nothing else runs (destroy). */
	uint64_t closed = atomic_load_explicit(&reg->st.dlclose_calls, memory_order_acquire);
	uint64_t opened = atomic_load_explicit(&reg->st.dlopen_calls, memory_order_relaxed);
	return (int64_t)(opened - closed);
}

/* Stalled rounds (see quiesce_rounds) after which quiesce and destroy give up. */
enum { STALLED_ROUNDS_MAX = 64 };

/*
 * Releasing can retire more: a destructor closing a handle, or a chain of
 * libraries each closing the next, one link per round.  And a concurrent
 * poller may hold a batch whose destructors retire more.  So: rounds until
 * one finds nothing to take while no other thread is releasing.
 *
 * Closing alone always ends: every retirement uses up a loaded entry.  Only
 * destructors that load what they close can go on forever (A's destructor
 * opens and closes B, B's opens and closes A), so progress is measured in
 * glibc references: a round that brings them below their lowest count so
 * far made progress, which can happen only as many times as there were
 * references at the start.  Any other round is stalled, and after
 * STALLED_ROUNDS_MAX of those the rest is left where it is: returns false.
 * A chain of any length whose destructors load a library now and then
 * still gets through.
 */
static bool quiesce_rounds(struct dlreg *reg)
{
	int64_t lowest = held_dl_refs(reg);
	unsigned stalled = 0;
	for (;;) {
		bool busy;
		bool took = reclaim_round(reg, &busy);
		/* busy: a batch in flight at our take, maybe over before the wait
		 * looks, whose destructors may have retired more since. */
		bool others = wait_for_releasers(reg) || busy;
		if (atomic_load_explicit(&reg->pending, memory_order_relaxed) == 0)
			return true;
		/* What is still pending was retired after our take (by another
		 * thread), or is lost with the threads a fork left behind. */
		if (!took && !others)
			return true;
		int64_t held = held_dl_refs(reg);
		if (held < lowest)
			lowest = held;
		else if (++stalled == STALLED_ROUNDS_MAX)
			return false;
	}
}

int dlreg_quiesce(dlreg_t *reg)
{
	if (!reg) {
		dlreg__set_detail("quiesce: NULL registry");
		return DLREG_EINVAL;
	}
	if (!may_reclaim_here()) {
		dlreg__set_detail("quiesce from inside a read section or a dlopen/dlclose made "
				  "by dlreg");
		return DLREG_EDEADLK;
	}
	/* Stalled rounds leave the rest to a later call (dlreg.h says so). */
	(void)quiesce_rounds(reg);
	return DLREG_OK;
}

size_t dlreg_pending(dlreg_t *reg)
{
	return reg ? atomic_load_explicit(&reg->pending, memory_order_relaxed) : 0;
}

static void *reclaim_thread_main(void *arg)
{
	struct dlreg *reg = arg;
	pthread_mutex_lock(&reg->thread_lock);
	while (!reg->thread_stop) {
		if (atomic_load_explicit(&reg->pending, memory_order_relaxed) != 0) {
			pthread_mutex_unlock(&reg->thread_lock);
			bool worked = reclaim_round(reg, NULL);
			pthread_mutex_lock(&reg->thread_lock);
			/* Nothing to take: what is pending is another thread's batch
			 * in flight; sleep instead of spinning on it. */
			if (worked)
				continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&reg->thread_cond, &reg->thread_lock, &ts);
	}
	pthread_mutex_unlock(&reg->thread_lock);
	return NULL;
}

/* ----------------------------------------------------------------- hashing */

static unsigned long hs_hash_handle(const void *obj, unsigned long seed)
{
	const struct dlreg_lib *lib = obj;
	return (unsigned long)dlreg__hash_mix((uint64_t)(uintptr_t)lib->dl ^ seed);
}

static unsigned long handle_hash(const dlreg_t *reg, const void *dl)
{
	return (unsigned long)dlreg__hash_mix((uint64_t)(uintptr_t)dl ^ reg->by_handle.seed);
}

static bool hs_cmp_handle(const void *a, const void *b)
{
	dlreg_ann_acquire(a);
	return *(void *const *)a == *(void *const *)b;
}

static unsigned long hs_hash_alias(const void *obj, unsigned long seed)
{
	(void)seed;
	return (unsigned long)((const struct alias *)obj)->hash;
}

static bool hs_cmp_alias(const void *a, const void *b)
{
	dlreg_ann_acquire(a);
	return strcmp(*(const char *const *)a, *(const char *const *)b) == 0;
}

/* --------------------------------------------------------- create/destroy */

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

static void atfork_install(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static bool reg_owns_record(struct dlreg *reg, const struct dlreg_reader *r)
{
	/* Only the links are read, as ck_epoch reads them: published by ck's push. */
	for (ck_stack_entry_t *e = ck_pr_load_ptr(&reg->epoch.records.head); e;
	     e = ck_pr_load_ptr(&e->next))
		if ((const char *)e - offsetof(ck_epoch_record_t, record_next) ==
		    (const char *)&r->rec)
			return true;
	return false;
}

/*
 * Is `r`, just found by reg_owns_record, the calling thread's record?
 * Another thread may be recycling it at this moment (a stale address, see
 * below), hence the atomic `owner`.  Its stores can be relaxed: the only
 * value equal to pthread_self() is one this thread stored itself, which
 * program order makes visible.  What must not be read is this thread's own
 * store from the memory's earlier life as another record (freed by a
 * destroy and allocated again since).  Records are only ever pushed, each
 * after a store fence, and ck's acquire fence here pairs with the push by
 * which the new owner's ck_epoch_register published the record (the walk
 * read that push or a later one): the load returns that owner's store or a
 * later one.  ck's fence, not C11's, which TSan builds reject; a compiler
 * barrier on x86.  Thread exit only.
 */
static bool owned_by_self(const struct dlreg_reader *r)
{
	ck_pr_fence_acquire();
	return pthread_equal(atomic_load_explicit(&r->owner, memory_order_relaxed), pthread_self());
}

/*
 * A thread that used dlreg_reader_self exits, maybe while another thread
 * destroys the registry (a detached thread cannot be joined first).  The
 * record is unregistered only while its registry is on the global list,
 * under g_regs_lock: dlreg_destroy unlinks the registry under that lock
 * before it frees the records, so the record is found and released before
 * destroy goes on, or not found at all.  Thread exit only: a walk of the
 * registries' records.
 */
static void reader_key_destructor(void *p)
{
	pthread_mutex_lock(&g_regs_lock);
	for (struct dlreg *reg = g_regs; reg; reg = reg->next_reg)
		/*
		 * The address alone may be stale: a destroy that ran between
		 * glibc's fetch of the value and this lock freed the record, and
		 * another registry may have allocated a record for a live thread
		 * at the same address since.  A record this thread owns is its
		 * own (the owner is set by whoever registers or recycles it).
		 */
		if (reg_owns_record(reg, p) && owned_by_self(p)) {
			dlreg_reader_unregister(p);
			break;
		}
	pthread_mutex_unlock(&g_regs_lock);
}

/* DLREG_ENOMEM, with its detail: what could not be allocated. */
static int out_of_memory(const char *what)
{
	dlreg__set_detail("%s: out of memory", what);
	return DLREG_ENOMEM;
}

static int too_many_refs(const char *what)
{
	dlreg__set_detail("%s: the library holds %u references, the most it may", what,
			  (unsigned)REFS_MAX);
	return DLREG_EOVERFLOW;
}

static int reg_init_sets(struct dlreg *reg)
{
	unsigned mode = CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC | CK_HS_MODE_DELETE;
	if (!ck_hs_init(&reg->by_handle, mode, hs_hash_handle, hs_cmp_handle, &hs_allocator, 64,
			0x5eed1u))
		return DLREG_ENOMEM;
	if (!ck_hs_init(&reg->by_path, mode, hs_hash_alias, hs_cmp_alias, &hs_allocator, 64,
			0x5eed2u)) {
		ck_hs_destroy(&reg->by_handle);
		return DLREG_ENOMEM;
	}
	return DLREG_OK;
}

static struct dlreg_reader *reader_alloc(dlreg_t *reg)
{
	struct dlreg_reader *r = aligned_alloc(CK_MD_CACHELINE, sizeof *r +
				 (CK_MD_CACHELINE - sizeof *r % CK_MD_CACHELINE) % CK_MD_CACHELINE);
	if (!r)
		return NULL;
	memset(r, 0, sizeof *r);
	r->reg = reg;
	atomic_store_explicit(&r->owner, pthread_self(), memory_order_relaxed);
	return r;
}

int dlreg_create(const struct dlreg_config *config, dlreg_t **out)
{
	if (!out) {
		dlreg__set_detail("create: NULL result");
		return DLREG_EINVAL;
	}
	*out = NULL;
	if (config && ((unsigned)config->reclaim > DLREG_RECLAIM_THREAD ||
		       (unsigned)config->log_level > DLREG_LOG_ERROR ||
		       (config->flags & ~DLREG_CONFIG_FULL_PATHS))) {
		dlreg__set_detail("create: unknown reclaim mode, log level or flags");
		return DLREG_EINVAL;
	}
	pthread_once(&g_atfork_once, atfork_install);
	size_t size = (sizeof(struct dlreg) + 63) / 64 * 64;
	struct dlreg *reg = aligned_alloc(64, size);
	if (!reg)
		return out_of_memory("create: the registry");
	memset(reg, 0, size);
	/* Memo ways start zeroed, generation 0: a live generation never is. */
	atomic_init(&reg->gen, 1);
	if (config)
		reg->cfg = *config;
	pthread_mutex_init(&reg->lock, NULL);
	pthread_mutex_init(&reg->reclaim_lock, NULL);
	pthread_cond_init(&reg->thread_cond, NULL);
	pthread_mutex_init(&reg->thread_lock, NULL);
#ifdef DLREG_SEEDED_BUG_wait_for_load
	pthread_cond_init(&reg->loading_cond, NULL);
#endif
	ck_epoch_init(&reg->epoch);
	int err = reg_init_sets(reg);
	bool sets_ok = err == DLREG_OK;
	if (!sets_ok)
		out_of_memory("create: its hash sets");
	if (err == DLREG_OK && !(reg->reclaimer = reader_alloc(reg)))
		err = out_of_memory("create: its reclaimer's reader record");
	if (err == DLREG_OK && pthread_key_create(&reg->self_key, reader_key_destructor) != 0) {
		dlreg__set_detail("create: no thread-specific data key left");
		err = DLREG_ENOMEM;
	}
	if (err != DLREG_OK) {
		free(reg->reclaimer);
		if (sets_ok) {
			ck_hs_destroy(&reg->by_handle);
			ck_hs_destroy(&reg->by_path);
		}
		free(reg);
		return err;
	}
	reg->reclaimer->is_reclaimer = true;
	ck_epoch_register(&reg->epoch, &reg->reclaimer->rec, reg->reclaimer);
	if (reg->cfg.reclaim == DLREG_RECLAIM_THREAD) {
		if (pthread_create(&reg->thread, NULL, reclaim_thread_main, reg) == 0)
			reg->thread_running = true;
		else
			reg->cfg.reclaim = DLREG_RECLAIM_POLL;
	}
	pthread_mutex_lock(&g_regs_lock);
	reg->next_reg = g_regs;
	g_regs = reg;
	pthread_mutex_unlock(&g_regs_lock);
	*out = reg;
	return DLREG_OK;
}

static void reg_unlink(struct dlreg *reg)
{
	pthread_mutex_lock(&g_regs_lock);
	for (struct dlreg **p = &g_regs; *p; p = &(*p)->next_reg)
		if (*p == reg) {
			*p = reg->next_reg;
			break;
		}
	pthread_mutex_unlock(&g_regs_lock);
}

static void stop_reclaim_thread(struct dlreg *reg)
{
	if (!reg->thread_running)
		return;
	pthread_mutex_lock(&reg->thread_lock);
	reg->thread_stop = true;
	pthread_cond_signal(&reg->thread_cond);
	pthread_mutex_unlock(&reg->thread_lock);
	pthread_join(reg->thread, NULL);
	reg->thread_running = false;
}

static uint32_t user_refs(const struct dlreg_lib *lib)
{
	return atomic_load_explicit(&lib->refs, memory_order_relaxed) - (lib->pinned ? 1u : 0u);
}

/*
 * Destroy, once the releases are done: a warning per entry still
 * referenced, while the registry is whole.  The messages are collected
 * before any is sent: the sink may open or close libraries, which changes
 * the index under a walk.  (It may not destroy: tl_in_sink.)
 */
static void report_referenced(struct dlreg *reg)
{
	if (!reg->cfg.log || DLREG_LOG_WARN < reg->cfg.log_level)
		return;
	struct held {
		char name[128];
		uint32_t refs;
	} *v = NULL;
	size_t n = 0, cap = 0;
	bool short_of_memory = false;
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;
	while (ck_hs_next(&reg->by_handle, &it, &obj)) {
		struct dlreg_lib *lib = obj;
		uint32_t refs = user_refs(lib);
		if (!refs)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct held *nv = realloc(v, ncap * sizeof *v);
			if (!nv) {
				short_of_memory = true;
				break;
			}
			v = nv;
			cap = ncap;
		}
		dlreg__redact_path(lib->path, v[n].name, sizeof v[n].name, full_paths(reg));
		v[n++].refs = refs;
	}
	for (size_t i = 0; i < n; i++)
		reg_log(reg, DLREG_LOG_WARN, "destroy: %s still referenced (%u handles); left loaded",
			v[i].name, (unsigned)v[i].refs);
	if (short_of_memory)
		reg_log(reg, DLREG_LOG_WARN,
			"destroy: more libraries still referenced (out of memory to name them)");
	free(v);
}

/* Destroy: entries still referenced stay loaded and allocated (their users'
 * handles keep working); nodelete-only entries drop their pin. */
static size_t destroy_entries(struct dlreg *reg)
{
	size_t leaked = 0;
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;
	while (ck_hs_next(&reg->by_handle, &it, &obj)) {
		struct dlreg_lib *lib = obj;
		if (user_refs(lib)) {
			leaked++;
			/* Orphaned: dlreg_sym keeps working, close refuses. */
			atomic_store_explicit(&lib->reg, NULL, memory_order_relaxed);
			continue;
		}
		lib_dlclose(reg, lib->dl);
		poison_and_free_lib(lib);
	}
	return leaked;
}

/*
 * Destroy, last: whatever is still retired is never released.  That is only
 * anything when destructors kept loading libraries (quiesce_rounds gave up).
 * A retired library keeps its glibc reference and stays loaded: its
 * dlclose would run a destructor that calls into the registry being freed.
 * Its entry is freed, as nothing can reach a retired entry once readers are
 * gone.  Retired memory is freed.  Returns the number of libraries left.
 */
static size_t abandon_retired(struct dlreg *reg)
{
	pthread_mutex_lock(&reg->reclaim_lock);
	struct retire *r = take_all_locked(reg);
	pthread_mutex_unlock(&reg->reclaim_lock);
	size_t left = 0;
	while (r) {
		struct retire *next = r->next;
		if (r->release == release_lib) {
			poison_and_free_lib(
				(struct dlreg_lib *)((char *)r - offsetof(struct dlreg_lib, retire)));
			left++;
		} else {
			r->release(reg, r);
		}
		r = next;
	}
	return left;
}

static void free_readers(struct dlreg *reg)
{
	ck_stack_entry_t *cursor, *next;
	/* Records are never unlinked from the epoch's stack; free them all. */
	for (cursor = CK_STACK_FIRST(&reg->epoch.records); cursor; cursor = next) {
		next = CK_STACK_NEXT(cursor);
		ck_epoch_record_t *rec = (ck_epoch_record_t *)((char *)cursor -
					offsetof(ck_epoch_record_t, record_next));
		free(rec);
	}
}

int dlreg_destroy(dlreg_t *reg, size_t *still_referenced)
{
	if (still_referenced)
		*still_referenced = 0;
	if (!reg) {
		dlreg__set_detail("destroy: NULL registry");
		return DLREG_EINVAL;
	}
	if (!may_reclaim_here()) {
		dlreg__set_detail("destroy from inside a read section or the dynamic loader");
		return DLREG_EDEADLK;
	}
	if (tl_in_sink) {
		/* The call that logged goes on using the registry after the sink returns. */
		dlreg__set_detail("destroy from inside the log sink");
		return DLREG_EDEADLK;
	}
	stop_reclaim_thread(reg);
	/*
	 * Every release, and what the destructors it runs retire in turn, is
	 * done before anything is torn down (a destructor may call back into
	 * the registry), and before the warnings, which then name only what
	 * really stays loaded.
	 */
	bool settled = quiesce_rounds(reg);
	if (!settled)
		reg_log(reg, DLREG_LOG_WARN,
			"destroy: library destructors keep loading libraries; the ones still "
			"retired are left loaded");
	report_referenced(reg);
	/* The log sink may have closed libraries. */
	if (settled)
		(void)quiesce_rounds(reg);
	reg_unlink(reg);
	size_t leaked = destroy_entries(reg);
	leaked += abandon_retired(reg);
	pthread_key_delete(reg->self_key);
	tl_hs_owner = NULL;
	ck_hs_destroy(&reg->by_handle);
	ck_hs_destroy(&reg->by_path);
	free_readers(reg);
	pthread_mutex_destroy(&reg->lock);
	pthread_mutex_destroy(&reg->reclaim_lock);
	pthread_cond_destroy(&reg->thread_cond);
	pthread_mutex_destroy(&reg->thread_lock);
	free(reg);
	if (still_referenced)
		*still_referenced = leaked;
	if (!leaked)
		return DLREG_OK;
	/* Not an earlier call's text, nor one a destructor or the log sink left. */
	dlreg__set_detail("destroy: %zu librar%s still referenced; left loaded", leaked,
			  leaked == 1 ? "y" : "ies");
	return DLREG_EBUSY;
}

/* ----------------------------------------------------------------- readers */

dlreg_reader_t *dlreg_reader_register(dlreg_t *reg)
{
	if (!reg)
		return NULL;
	ck_epoch_record_t *rec = ck_epoch_recycle(&reg->epoch, NULL);
	if (rec) {
		/* TSan: ck's recycle CAS hands the record over from its last owner. */
		dlreg_ann_acquire(rec);
		struct dlreg_reader *r = (struct dlreg_reader *)rec;
		/* An exiting thread may be reading it (owned_by_self). */
		atomic_store_explicit(&r->owner, pthread_self(), memory_order_relaxed);
		/* A way its last owner left half filled (a fork child) must not match. */
		memset(r->memo, 0, sizeof r->memo);
		memset(r->hmemo, 0, sizeof r->hmemo);
		return r;
	}
	struct dlreg_reader *r = reader_alloc(reg);
	if (!r)
		return NULL;
	ck_epoch_register(&reg->epoch, &r->rec, r);
	return r;
}

void dlreg_reader_unregister(dlreg_reader_t *reader)
{
	if (!reader || reader->is_reclaimer)
		return;
	if (pthread_getspecific(reader->reg->self_key) == reader)
		pthread_setspecific(reader->reg->self_key, NULL);
	dlreg_ann_release(&reader->rec);
	ck_epoch_unregister(&reader->rec);
}

dlreg_reader_t *dlreg_reader_self(dlreg_t *reg)
{
	if (!reg)
		return NULL;
	struct dlreg_reader *r = pthread_getspecific(reg->self_key);
	if (DLREG_LIKELY(r != NULL))
		return r;
	r = dlreg_reader_register(reg);
	if (r && pthread_setspecific(reg->self_key, r) != 0) {
		dlreg_reader_unregister(r);
		return NULL;
	}
	return r;
}

void dlreg_read_begin(dlreg_reader_t *reader)
{
	tl_sections++;
	ck_epoch_begin(&reader->rec, NULL);
	/*
	 * ck_epoch_begin snapshots the global epoch with a plain load after its
	 * full fence, and nothing orders the section's own loads (ck_hs, the
	 * entry, reg->gen) after that load: on a weakly ordered CPU they may be
	 * satisfied first, from before a removal, while the snapshot reads an
	 * epoch another thread's synchronize advanced after the poller tagged
	 * the removed entry (ck_epoch_call reads the epoch without a fence).
	 * ck_epoch_poll then counts this section as newer than the entry and
	 * dispatches it (bucket epoch - 1 or - 2) under it.  Reading the epoch
	 * again with acquire orders every later load after a value at least as
	 * new as the snapshot.  A plain load on x86.
	 */
	(void)__atomic_load_n(&reader->rec.global->epoch, __ATOMIC_ACQUIRE);
}

/*
 * dlreg_read_end without a section open on the record.  Going on would wrap
 * the record's nesting count: every later grace period of the registry
 * would wait on it forever, and this thread would never reclaim again.
 */
static _Noreturn __attribute__((cold, noinline)) void read_end_unbalanced(void)
{
	static const char msg[] = "dlreg: dlreg_read_end without a matching dlreg_read_begin "
				  "on this reader; aborting\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	abort();
}

void dlreg_read_end(dlreg_reader_t *reader)
{
	if (DLREG_UNLIKELY(ck_pr_load_uint(&reader->rec.active) == 0))
		read_end_unbalanced();
	dlreg_ann_release(&reader->reg->grace);
	ck_epoch_end(&reader->rec, NULL);
	tl_sections--;
}

static struct dlreg_lib *find_by_path(struct dlreg *reg, const char *path)
{
	uint64_t h = dlreg__hash_str(path, NULL);
	struct alias key = { .path = path };
	struct alias *a = ck_hs_get(&reg->by_path, (unsigned long)h, &key);
	if (!a)
		return NULL;
	dlreg_ann_acquire(a);
	return a->lib;
}

const dlreg_lib_t *dlreg_read_lookup(dlreg_reader_t *reader, const char *path)
{
	if (!reader || !path)
		return NULL;
	return find_by_path(reader->reg, path);
}

static struct sym_node *sym_cache_find(struct dlreg_lib *lib, uint64_t h, const char *name)
{
	struct sym_node *n =
		atomic_load_explicit(&lib->syms[h % SYM_BUCKETS], memory_order_acquire);
	for (; n; n = n->next)
		if (n->hash == h && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* Resolves a cache miss with dlsym and publishes the answer (push-only list). */
static int sym_cache_fill(struct dlreg_lib *lib, _Atomic uint64_t *misses, uint64_t h,
			  const char *name, size_t len, struct sym_node **out, void **sym)
{
	dlerror();
	dl_enter();
	void *addr = dlsym(lib->dl, name);
	dl_leave();
	const char *err = addr ? NULL : dlerror();
	atomic_fetch_add_explicit(misses, 1, memory_order_relaxed);
	if (!addr) {
		char msg[384], red[256];
		snprintf(msg, sizeof msg, "%s", err ? err : "symbol has a NULL value");
		/* dlerror() names the object by the loader's name for it: the path it
		 * was first loaded by (by anyone), or the file a bare name's search
		 * found, which may be relative, unlike the entry's path. */
		struct link_map *lm = NULL;
		const char *named = lib->path;
		if (lib->dl && dlinfo(lib->dl, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name &&
		    strchr(lm->l_name, '/'))
			named = lm->l_name;
		dlreg__redact_text_path(msg, named, red, sizeof red, lib->full_paths);
		dlreg__set_detail("%s", red);
		return DLREG_ENOSYM;
	}
	struct sym_node *n = malloc(sizeof *n + len + 1);
	if (n) {
		n->hash = h;
		n->addr = addr;
		n->len = len;
		memcpy(n->name, name, len + 1);
		_Atomic(struct sym_node *) *head = &lib->syms[h % SYM_BUCKETS];
		n->next = atomic_load_explicit(head, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(head, &n->next, n,
							      memory_order_release,
							      memory_order_relaxed))
			;
	}
	/* Out of memory only costs the cache entry; the answer is still right. */
	*out = n;
	*sym = addr;
	return DLREG_OK;
}

/*
 * `misses` counts the dlsym() calls: the registry's own counter where the
 * caller has the registry (a reader), else the entry's.  A handle may
 * outlive its registry (dlreg_destroy), so handle-only calls never touch it.
 */
static int lib_sym_node_h(struct dlreg_lib *lib, _Atomic uint64_t *misses, const char *name,
			  uint64_t h, size_t len, struct sym_node **node, void **sym)
{
	struct sym_node *n = sym_cache_find(lib, h, name);
	if (DLREG_LIKELY(n != NULL)) {
		*node = n;
		*sym = n->addr;
		return DLREG_OK;
	}
	return sym_cache_fill(lib, misses, h, name, len, node, sym);
}

static int lib_sym(struct dlreg_lib *lib, const char *name, void **sym)
{
	struct sym_node *node;
	size_t len;
	uint64_t h = dlreg__hash_str(name, &len);
	return lib_sym_node_h(lib, &lib->sym_misses, name, h, len, &node, sym);
}

/*
 * The reader memo: a per-thread 4-way set-associative cache in front of
 * ck_hs for repeated (path, name) lookups.  A way remembers the
 * registry-owned alias and symbol node a previous lookup found, and the
 * registry generation then.  reg->gen moves on every retirement, so an
 * unchanged generation proves no entry was retired since the way was
 * filled: the alias and the node are still live memory, and comparing their
 * strings with the caller's makes the hit exact (the caller's pointers only
 * pick the set and the way).  Ordering: the generation is loaded after
 * ck_epoch_begin's fence; a retirement that this load misses cannot be
 * released before this section ends, because its grace period needs this
 * record's section to end (or to have begun after the global epoch moved
 * past the retirement, which makes the increment visible to the load).
 *
 * Why set-associative: the set comes from the string addresses, so which
 * keys collide depends on the process's memory layout.  Direct-mapped with
 * 64 slots, 36 keys left some 8 of them evicting each other in a typical
 * layout and none in a lucky one, and the same program's read side ranged
 * from 44 to 71 ns between runs.  With 64 sets of 4 ways, a working set of
 * a hundred keys almost never overflows a set.
 */
static inline uint64_t memo_ptr_key(const char *path, const char *name)
{
	return (uint64_t)(uintptr_t)path * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)name;
}

static inline struct memo_set *memo_set_of(struct dlreg_reader *r, const char *path,
					   const char *name)
{
	uint64_t k = memo_ptr_key(path, name);
	return &r->memo[(k * 0xff51afd7ed558ccdull) >> (64 - MEMO_SET_BITS)];
}

#ifdef DLREG_TEST_MEMO_FILL_HOOK
/* Defined by the test that stops a thread with a way half filled. */
void dlreg__test_memo_fill_hook(void);
#endif

static void memo_fill(struct memo_set *ms, unsigned w, uint64_t gen, const char *path,
		      const char *name, const struct alias *a, const struct sym_node *node)
{
	if (w >= MEMO_WAYS)
		w = ms->next++ % MEMO_WAYS;
	ms->path_key[w] = path;
	ms->name_key[w] = name;
	ms->gen[w] = gen;
#ifdef DLREG_TEST_MEMO_FILL_HOOK
	dlreg__test_memo_fill_hook();
#endif
	ms->alias[w] = a;
	ms->sym[w] = node;
}

/* The way whose keys are (path, name), or MEMO_WAYS. */
static inline unsigned memo_way(const struct memo_set *ms, const char *path, const char *name)
{
	for (unsigned w = 0; w < MEMO_WAYS; w++)
		if ((((uintptr_t)ms->path_key[w] ^ (uintptr_t)path) |
		     ((uintptr_t)ms->name_key[w] ^ (uintptr_t)name)) == 0)
			return w;
	return MEMO_WAYS;
}

/*
 * The second memo, for callers whose strings are equal but not the same
 * objects from one call to the next (built per call, copies): the set and
 * the key come from the hashes of both strings, which a miss of the first
 * memo computes anyway for ck_hs, and a hit skips ck_hs and the entry's
 * symbol buckets.  The proof is the first memo's: an unchanged generation
 * keeps the alias and the node alive, and comparing their strings with the
 * caller's makes the hit exact.  Measured with dlreg-bench's
 * read_sym_copies (64 copies of every key string, so the first memo never
 * hits), one thread: 43-44 ns per lookup without this level, 30 ns with it
 * (results/20261130-638ff3a-vm.json), against 21.5 ns for the
 * unsynchronised table, which hashes and compares the same strings.
 *
 * A hit compares lengths (the hashing measured them) and then bytes with
 * memcmp, not strcmp: 3 ns less per lookup here (33 -> 30 ns).  And a hit
 * fills a way of the first memo only when the same pointers hit this way
 * twice in a row (`caller`): a caller whose strings are copies would
 * never hit that way, and its five stores cost another 1-1.5 ns, while a
 * caller with stable strings whose first-memo way was evicted gets it
 * back on its second lookup.
 */
static inline uint64_t hmemo_key(uint64_t hpath, uint64_t hname)
{
	return hpath ^ ((hname << 29 | hname >> 35) * 0x9e3779b97f4a7c15ull);
}

static inline struct hmemo_set *hmemo_set_of(struct dlreg_reader *r, uint64_t key)
{
	return &r->hmemo[(key * 0xff51afd7ed558ccdull) >> (64 - MEMO_SET_BITS)];
}

/*
 * A miss of the first memo: the second, else ck_hs and the entry's symbol
 * cache.  A ck_hs result fills a way of each memo; a hit of the second
 * fills one of the first only for a caller that repeats its pointers.
 */
static __attribute__((noinline)) int read_sym_slow(dlreg_reader_t *reader, struct memo_set *ms,
						   unsigned way, uint64_t gen, const char *path,
						   const char *name, void **sym)
{
	struct dlreg *reg = reader->reg;
	size_t name_len, path_len;
	uint64_t h = dlreg__hash_str(path, &path_len);
	uint64_t hn = dlreg__hash_str(name, &name_len);
	uint64_t key = hmemo_key(h, hn);
	struct hmemo_set *hs = hmemo_set_of(reader, key);
	uint64_t caller = memo_ptr_key(path, name);
	for (unsigned hw = 0; hw < MEMO_WAYS; hw++) {
		if (hs->key[hw] != key || hs->gen[hw] != gen)
			continue;
		/* Keys are set only together with a live alias and node. */
		const struct alias *ha = hs->alias[hw];
		const struct sym_node *hn = hs->sym[hw];
		if (ha->len == path_len && hn->len == name_len &&
		    memcmp(ha->path, path, path_len) == 0 && memcmp(hn->name, name, name_len) == 0) {
			*sym = hn->addr;
			if (hs->caller[hw] == caller) {
				memo_fill(ms, way, gen, path, name, ha, hn);
			} else {
				hs->caller[hw] = caller;
			}
			return DLREG_OK;
		}
	}
	struct alias k = { .path = path };
	struct alias *a = ck_hs_get(&reg->by_path, (unsigned long)h, &k);
	/* Empty strings are refused only here, where no memo hit: no alias or
	 * symbol node holds "" (open and dlreg_sym refuse it). */
	if (!*path || !*name) {
		dlreg__set_detail("read_sym: empty path or name");
		return DLREG_EINVAL;
	}
	if (!a) {
		dlreg__set_detail("read_sym: no live entry under that path");
		return DLREG_ENOTLOADED;
	}
	dlreg_ann_acquire(a);
	struct sym_node *node = NULL;
	int err = lib_sym_node_h(a->lib, &reg->st.sym_misses, name, hn, name_len, &node, sym);
	if (err != DLREG_OK || !node)
		return err;
	/* A way of this key with an old generation is the one to renew. */
	unsigned w = 0;
	while (w < MEMO_WAYS && hs->key[w] != key)
		w++;
	if (w == MEMO_WAYS)
		w = hs->next++ % MEMO_WAYS;
	hs->alias[w] = a;
	hs->sym[w] = node;
	hs->gen[w] = gen;
	hs->key[w] = key;
	hs->caller[w] = caller;
	memo_fill(ms, way, gen, path, name, a, node);
	return DLREG_OK;
}

/*
 * The hit path: one set, four key compares, the generation, two strcmp.
 * The miss path is out of line; it goes on with this set, way and
 * generation (loaded inside the section, before ck_hs, which is what the
 * memo's proof needs).
 */
int dlreg_read_sym(dlreg_reader_t *reader, const char *path, const char *name, void **sym)
{
	if (DLREG_UNLIKELY(!reader || !path || !name || !sym)) {
		dlreg__set_detail("read_sym: NULL reader, path, name or result");
		return DLREG_EINVAL;
	}
	uint64_t gen = atomic_load_explicit(&reader->reg->gen, memory_order_acquire);
	struct memo_set *ms = memo_set_of(reader, path, name);
	unsigned w = memo_way(ms, path, name);
	if (DLREG_LIKELY(w < MEMO_WAYS && ms->gen[w] == gen)) {
		const struct sym_node *node = ms->sym[w];
		/* Keys are set only together with a live alias and node. */
		if (DLREG_LIKELY(strcmp(ms->alias[w]->path, path) == 0 &&
				 strcmp(node->name, name) == 0)) {
			*sym = node->addr;
			return DLREG_OK;
		}
	}
	return read_sym_slow(reader, ms, w, gen, path, name, sym);
}

int dlreg_sym(dlreg_lib_t *lib, const char *name, void **sym)
{
	if (!lib || !name || !sym || !*name) {
		dlreg__set_detail("sym: NULL handle, name or result, or empty name");
		return DLREG_EINVAL;
	}
	return lib_sym(lib, name, sym);
}

/*
 * CAS refs n -> n+1 for 0 < n < REFS_MAX: never resurrects a retired entry,
 * never wraps.  1 taken, 0 retired, -1 at the limit.
 */
static int ref_get_live(struct dlreg_lib *lib)
{
	uint32_t r = atomic_load_explicit(&lib->refs, memory_order_relaxed);
	while (r > 0) {
		if (r >= REFS_MAX)
			return -1;
		if (atomic_compare_exchange_weak_explicit(&lib->refs, &r, r + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 1;
	}
	return 0;
}

int dlreg_lib_acquire(dlreg_reader_t *reader, const dlreg_lib_t *clib, dlreg_lib_t **out)
{
	if (!reader || !clib || !out) {
		dlreg__set_detail("acquire: NULL reader, entry or result");
		return DLREG_EINVAL;
	}
	struct dlreg_lib *lib = (struct dlreg_lib *)clib;
	if (atomic_load_explicit(&lib->reg, memory_order_relaxed) != reader->reg) {
		dlreg__set_detail("acquire: the entry belongs to another (or a destroyed) registry");
		return DLREG_EINVAL;
	}
	int got = ref_get_live(lib);
	if (got < 0)
		return too_many_refs("acquire");
	if (!got) {
		dlreg__set_detail("acquire: the entry was retired");
		return DLREG_ENOTLOADED;
	}
	atomic_fetch_add_explicit(&reader->reg->st.opens, 1, memory_order_relaxed);
	*out = lib;
	return DLREG_OK;
}

const char *dlreg_lib_path(const dlreg_lib_t *lib)
{
	return lib ? lib->path : NULL;
}

void *dlreg_lib_dlhandle(const dlreg_lib_t *lib)
{
	return lib ? lib->dl : NULL;
}

uint32_t dlreg_lib_refs(const dlreg_lib_t *lib)
{
	return lib ? atomic_load_explicit(&lib->refs, memory_order_relaxed) : 0;
}

unsigned dlreg_lib_hints(const dlreg_lib_t *lib)
{
	return lib ? atomic_load_explicit(&lib->hints, memory_order_relaxed) : 0;
}

int dlreg_lib_check(const dlreg_lib_t *lib)
{
	if (!lib)
		return DLREG_EINVAL;
	uint32_t s = atomic_load_explicit(&lib->state, memory_order_relaxed);
	return s == LIB_LIVE || s == LIB_RETIRED ? DLREG_OK : DLREG_EINVAL;
}

void dlreg_stats(dlreg_t *reg, struct dlreg_stats *out)
{
	if (!reg || !out)
		return;
	out->opens = atomic_load_explicit(&reg->st.opens, memory_order_relaxed);
	out->closes = atomic_load_explicit(&reg->st.closes, memory_order_relaxed);
	out->dlopen_calls = atomic_load_explicit(&reg->st.dlopen_calls, memory_order_relaxed);
	out->dlclose_calls = atomic_load_explicit(&reg->st.dlclose_calls, memory_order_relaxed);
	out->live = atomic_load_explicit(&reg->st.live, memory_order_relaxed);
	out->retired = atomic_load_explicit(&reg->st.retired, memory_order_relaxed);
	out->released = atomic_load_explicit(&reg->st.released, memory_order_relaxed);
	/* dlreg_sym's misses are counted on the live entries (lib_sym_node). */
	uint64_t misses = 0;
	pthread_mutex_lock(&reg->lock);
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;
	while (ck_hs_next(&reg->by_handle, &it, &obj))
		misses += atomic_load_explicit(&((struct dlreg_lib *)obj)->sym_misses,
					       memory_order_relaxed);
	out->sym_misses = misses + atomic_load_explicit(&reg->st.sym_misses, memory_order_relaxed);
	pthread_mutex_unlock(&reg->lock);
}

/* -------------------------------------------------------------------- open */

/*
 * Hints the dynamic loader applies to an object it already holds: dlopen
 * makes a loaded object global or no-delete, but never binds it again (a
 * NOW open of a lazily bound object returns it as it is) nor gives it
 * RTLD_DEEPBIND.  Only these promote an entry.
 */
#define HINTS_PROMOTED (DLREG_HINT_GLOBAL | DLREG_HINT_NODELETE)

/*
 * Fast path: the path is registered and has the promotable hints we ask
 * for.  Sets *full where the entry holds REFS_MAX references: the open
 * fails before the loader runs (a NODELETE dlopen could not be undone).
 */
static struct dlreg_lib *open_fast(struct dlreg *reg, const char *path, unsigned hints,
				   bool *full)
{
	*full = false;
	struct dlreg_reader *rd = dlreg_reader_self(reg);
	if (!rd)
		return NULL;
	struct dlreg_lib *got = NULL;
	dlreg_read_begin(rd);
	struct dlreg_lib *lib = find_by_path(reg, path);
	if (lib) {
		unsigned have = atomic_load_explicit(&lib->hints, memory_order_relaxed);
		/* LAZY, NOW and DEEPBIND: a dlopen would return this object as it is. */
		unsigned need = hints & HINTS_PROMOTED;
		int ref = (have & need) == need ? ref_get_live(lib) : 0;
		if (ref > 0)
			got = lib;
		else if (ref < 0 || atomic_load_explicit(&lib->refs, memory_order_relaxed) >= REFS_MAX)
			*full = true;
	}
	dlreg_read_end(rd);
	return got;
}

static int first_bytes_elf(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = pread(fd, m, sizeof m, 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
}

/* Does the loader's message name `path` itself ("<path>: ...")?  Otherwise it
 * is about a dependency. */
static bool names_path(const char *dlerr, const char *path)
{
	size_t n = strlen(path);
	return strncmp(dlerr, path, n) == 0 && dlerr[n] == ':';
}

/* Classifies a dlopen failure; only runs on the failure path. */
static int classify_load_error(const char *path, const char *dlerr)
{
	if (strchr(path, '/')) {
		struct stat st;
		if (stat(path, &st) != 0)
			return errno == ENOENT || errno == ENOTDIR ? DLREG_ENOENT
			       : errno == EACCES                   ? DLREG_EACCES
								   : DLREG_ELOAD;
		if (S_ISDIR(st.st_mode))
			return DLREG_EISDIR;
		int elf = first_bytes_elf(path);
		if (elf < 0)
			return errno == EACCES ? DLREG_EACCES : DLREG_ELOAD;
		if (elf == 0)
			return DLREG_ENOTELF;
	}
	if (strstr(dlerr, "undefined symbol"))
		return DLREG_EUNDEFINED;
	/* A message naming another file is about a dependency (missing, or not
	 * ELF); a bare name's search may name the file it found instead. */
	bool own = names_path(dlerr, path);
	/* Not ELF, or ELF but not a shared object (a relocatable object, an
	 * executable). */
	if (strstr(dlerr, "invalid ELF header") || strstr(dlerr, "file too short") ||
	    strstr(dlerr, "only ET_DYN and ET_EXEC can be loaded") ||
	    strstr(dlerr, "cannot dynamically load"))
		return own || !strchr(path, '/') ? DLREG_ENOTELF : DLREG_ELOAD;
	if (strstr(dlerr, "No such file"))
		return own ? DLREG_ENOENT : DLREG_ELOAD;
	return DLREG_ELOAD;
}

/*
 * The file a bare name's search found, when the loader's message names it
 * ("<dir>/<name>: ..."; search path entries hold no ':'), into buf; else
 * `path`.  Its directory may be relative (a relative LD_LIBRARY_PATH
 * entry), which the scan for absolute paths would miss.
 */
static const char *named_file(const char *dlerr, const char *path, char *buf, size_t len)
{
	const char *colon = strchr(dlerr, ':');
	size_t n = strlen(path), m = colon ? (size_t)(colon - dlerr) : 0;
	if (strchr(path, '/') || m <= n || m >= len || dlerr[m - n - 1] != '/' ||
	    strncmp(dlerr + m - n, path, n) != 0)
		return path;
	memcpy(buf, dlerr, m);
	buf[m] = '\0';
	return buf;
}

static int load_failed(struct dlreg *reg, const char *path)
{
	const char *e = dlerror();
	char dlerr[384];
	snprintf(dlerr, sizeof dlerr, "%s", e ? e : "dlopen failed");
	int err = classify_load_error(path, dlerr);
	char red[400], found[384];
	dlreg__redact_text_path(dlerr, named_file(dlerr, path, found, sizeof found), red,
				sizeof red, full_paths(reg));
	dlreg__set_detail("%s", red);
	char name[128];
	dlreg__redact_path(path, name, sizeof name, full_paths(reg));
	reg_log(reg, DLREG_LOG_WARN, "open %s failed: %s (%s)", name, dlreg_strerror(err), red);
	return err;
}

static struct alias *alias_new(const char *path)
{
	size_t len;
	uint64_t h = dlreg__hash_str(path, &len);
	struct alias *a = malloc(sizeof *a + len + 1);
	if (!a)
		return NULL;
	memcpy(a->buf, path, len + 1);
	a->path = a->buf;
	a->hash = h;
	a->len = len;
	a->lib = NULL;
	a->next = NULL;
	a->published = false;
	return a;
}

static struct dlreg_lib *lib_new(struct dlreg *reg, void *dl, unsigned hints)
{
	struct dlreg_lib *lib = calloc(1, sizeof *lib);
	if (!lib)
		return NULL;
	lib->dl = dl;
	lib->full_paths = full_paths(reg);
	atomic_init(&lib->reg, reg);
	atomic_init(&lib->state, LIB_LIVE);
	atomic_init(&lib->refs, 1);
	atomic_init(&lib->hints, hints);
	lib->retire.release = release_lib;
	return lib;
}

static bool path_registered(struct dlreg *reg, struct alias *a)
{
	return ck_hs_get(&reg->by_path, (unsigned long)a->hash, a) != NULL;
}

/*
 * Under reg->lock.  Publishes `a` for `lib` unless that path already names
 * an entry (then a new entry keeps `a` unpublished, only for its name).
 * Sets *attached if `a` now belongs to `lib`.  ENOMEM (nothing changed)
 * where the path set has no slot for `a` and cannot grow: an open that went
 * on would leave its path unknown to readers.
 */
static int alias_attach(struct dlreg *reg, struct dlreg_lib *lib, struct alias *a,
			bool *attached)
{
	*attached = false;
	bool taken = path_registered(reg, a);
	if (taken && lib->path)
		return DLREG_OK;
	const char *had_path = lib->path;
	a->lib = lib;
	if (!lib->path)
		lib->path = a->path; /* before the put: a reader that finds `a` reads it */
	if (!taken) {
		dlreg_ann_release(a);
		if (!ck_hs_put(&reg->by_path, (unsigned long)a->hash, a)) {
			lib->path = had_path;
			return out_of_memory("open: growing the path set");
		}
		a->published = true;
	}
	a->next = lib->aliases;
	lib->aliases = a;
	*attached = true;
	return DLREG_OK;
}

struct open_prep {
	struct dlreg_lib *fresh; /* preallocated entry */
	struct alias *alias;     /* preallocated alias */
	bool extra_ref;          /* our dlopen reference is surplus */
};

/* Under reg->lock: find-or-insert by handle.  Never calls the loader. */
static int open_insert_locked(struct dlreg *reg, void *dl, unsigned hints,
			      struct open_prep *p, struct dlreg_lib **out)
{
	void *key = dl;
	struct dlreg_lib *lib = ck_hs_get(&reg->by_handle, handle_hash(reg, dl), &key);
	bool attached;
	if (lib) {
		dlreg_ann_acquire(lib);
		/* Fast-path opens stop at REFS_MAX; this one and the pin below at most pass it by two. */
		if (atomic_load_explicit(&lib->refs, memory_order_relaxed) >= REFS_MAX)
			return too_many_refs("open");
		int err = alias_attach(reg, lib, p->alias, &attached);
		if (err)
			return err;
		atomic_fetch_add_explicit(&lib->refs, 1, memory_order_relaxed);
		atomic_fetch_or_explicit(&lib->hints, hints & HINTS_PROMOTED, memory_order_relaxed);
		p->extra_ref = true;
	} else {
		lib = p->fresh;
		dlreg_ann_release(lib);
		if (!ck_hs_put(&reg->by_handle, handle_hash(reg, dl), lib))
			return out_of_memory("open: growing the handle set");
		int err = alias_attach(reg, lib, p->alias, &attached);
		if (err) {
			/* Only writers read the handle set: `lib` goes back unseen. */
			ck_hs_remove(&reg->by_handle, handle_hash(reg, dl), &key);
			return err;
		}
		p->fresh = NULL;
		atomic_fetch_add_explicit(&reg->st.live, 1, memory_order_relaxed);
	}
	if (attached)
		p->alias = NULL;
	if ((hints & DLREG_HINT_NODELETE) && !lib->pinned) {
		lib->pinned = true;
		atomic_fetch_add_explicit(&lib->refs, 1, memory_order_relaxed);
	}
	*out = lib;
	return DLREG_OK;
}

static void lock_writer(struct dlreg *reg)
{
	pthread_mutex_lock(&reg->lock);
	tl_hs_owner = reg;
}

static void unlock_writer(struct dlreg *reg)
{
	tl_hs_owner = NULL;
	pthread_mutex_unlock(&reg->lock);
}

#ifdef DLREG_SEEDED_BUG_wait_for_load
/* Seeded bug: Qt-5-style "someone is loading this path, wait for them". */
struct loading {
	struct loading *next;
	char *path;
};

static void wait_for_other_load(struct dlreg *reg, const char *path, struct loading *me)
{
	pthread_mutex_lock(&reg->lock);
	for (;;) {
		struct loading *l = reg->loading;
		while (l && strcmp(l->path, path) != 0)
			l = l->next;
		if (!l)
			break;
		pthread_cond_wait(&reg->loading_cond, &reg->lock);
	}
	me->path = (char *)path;
	me->next = reg->loading;
	reg->loading = me;
	pthread_mutex_unlock(&reg->lock);
}

static void load_done(struct dlreg *reg, struct loading *me)
{
	pthread_mutex_lock(&reg->lock);
	for (struct loading **p = &reg->loading; *p; p = &(*p)->next)
		if (*p == me) {
			*p = me->next;
			break;
		}
	pthread_cond_broadcast(&reg->loading_cond);
	pthread_mutex_unlock(&reg->lock);
}
#endif

static void *do_dlopen(struct dlreg *reg, const char *path, unsigned hints)
{
	(void)reg;
	dlerror();
	dl_enter();
	tl_in_loader++;
	void *dl = dlopen(path, dlreg__rtld_flags(hints));
	tl_in_loader--;
	dl_leave();
	return dl;
}

static int open_slow(struct dlreg *reg, const char *path, unsigned hints, dlreg_lib_t **out)
{
	/*
	 * Both allocated before the loader runs: a NODELETE dlopen cannot be
	 * undone, so an open should not fail after it.  Only growing the sets
	 * (open_insert_locked) still can (documented at dlreg_open).
	 */
	struct open_prep p = { .alias = alias_new(path), .fresh = lib_new(reg, NULL, hints) };
	if (!p.alias || !p.fresh) {
		free(p.alias);
		free(p.fresh);
		return out_of_memory(p.alias ? "open: the entry" : "open: the path's alias");
	}
#ifdef DLREG_SEEDED_BUG_wait_for_load
	struct loading me;
	wait_for_other_load(reg, path, &me);
#endif
#ifdef DLREG_SEEDED_BUG_lock_across_dlopen
	lock_writer(reg);
#endif
	void *dl = do_dlopen(reg, path, hints);
#ifdef DLREG_SEEDED_BUG_wait_for_load
	load_done(reg, &me);
#endif
	if (!dl) {
#ifdef DLREG_SEEDED_BUG_lock_across_dlopen
		unlock_writer(reg);
#endif
		free(p.alias);
		free(p.fresh);
		return load_failed(reg, path);
	}
	atomic_fetch_add_explicit(&reg->st.dlopen_calls, 1, memory_order_relaxed);
	p.fresh->dl = dl; /* published, if at all, under the lock below */
	struct dlreg_lib *lib = NULL;
#ifndef DLREG_SEEDED_BUG_lock_across_dlopen
	lock_writer(reg);
#endif
	int err = open_insert_locked(reg, dl, hints, &p, &lib);
	unlock_writer(reg);
	if (err != DLREG_OK || p.extra_ref)
		lib_dlclose(reg, dl);
	free(p.alias);
	free(p.fresh);
	if (err != DLREG_OK)
		return err;
	*out = lib;
	return DLREG_OK;
}

int dlreg_open(dlreg_t *reg, const char *path, unsigned hints, dlreg_lib_t **out)
{
	if (out)
		*out = NULL;
	dlreg__clear_detail();
	if (!reg || !path || !out || (hints & ~DLREG_HINT_ALL_)) {
		dlreg__set_detail("open: NULL registry, path or result, or unknown hints");
		return DLREG_EINVAL;
	}
	if (!*path) {
		dlreg__set_detail("open: empty path");
		return DLREG_EINVAL;
	}
	bool full;
	struct dlreg_lib *lib = open_fast(reg, path, hints, &full);
	int err = DLREG_OK;
	if (full)
		err = too_many_refs("open");
	else if (!lib)
		err = open_slow(reg, path, hints, &lib);
	if (err == DLREG_OK) {
		atomic_fetch_add_explicit(&reg->st.opens, 1, memory_order_relaxed);
		*out = lib;
	}
	reclaim_poll(reg);
	return err;
}

/* ------------------------------------------------------------------- close */

/* Under reg->lock: the entry leaves both sets and waits for a grace period. */
static void retire_locked(struct dlreg *reg, struct dlreg_lib *lib)
{
	void *key = lib->dl;
	ck_hs_remove(&reg->by_handle, handle_hash(reg, lib->dl), &key);
	for (struct alias *a = lib->aliases; a; a = a->next)
		if (a->published)
			ck_hs_remove(&reg->by_path, (unsigned long)a->hash, a);
	atomic_store_explicit(&lib->state, LIB_RETIRED, memory_order_relaxed);
	atomic_fetch_add_explicit(&reg->gen, 1, memory_order_release);
	atomic_fetch_sub_explicit(&reg->st.live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&reg->st.retired, 1, memory_order_relaxed);
	/* No handle is left to call dlreg_sym: the entry's count moves over. */
	atomic_fetch_add_explicit(&reg->st.sym_misses,
				  atomic_exchange_explicit(&lib->sym_misses, 0, memory_order_relaxed),
				  memory_order_relaxed);
#if !defined(DLREG_SEEDED_BUG_free_no_grace) && !defined(DLREG_SEEDED_BUG_dlclose_no_grace)
	retire_push(reg, &lib->retire);
#endif
}

#if defined(DLREG_SEEDED_BUG_free_no_grace) || defined(DLREG_SEEDED_BUG_dlclose_no_grace)
/* Seeded bugs: part of the release skips the grace period. */
static void release_early(struct dlreg *reg, struct dlreg_lib *lib)
{
#ifdef DLREG_SEEDED_BUG_free_no_grace
	lib_dlclose(reg, lib->dl); /* keeps the accounting exact */
	poison_and_free_lib(lib);
	atomic_fetch_add_explicit(&reg->st.released, 1, memory_order_relaxed);
#else
	lib_dlclose(reg, lib->dl);
	lib->dl = NULL;
	retire_push(reg, &lib->retire);
#endif
}
#endif

/* Drops one reference; returns true if it was the last (entry retired). */
static bool ref_put(struct dlreg *reg, struct dlreg_lib *lib)
{
#ifdef DLREG_SEEDED_BUG_refcount_nonatomic
	/* Seeded bug: check-then-decrement on a plain load/store. */
	uint32_t *plain = (uint32_t *)&lib->refs;
	uint32_t r = *plain;
	if (r > 1) {
		*plain = r - 1;
		return false;
	}
#else
	uint32_t r = atomic_load_explicit(&lib->refs, memory_order_relaxed);
	while (r > 1)
		if (atomic_compare_exchange_weak_explicit(&lib->refs, &r, r - 1,
							  memory_order_release,
							  memory_order_relaxed))
			return false;
#endif
	lock_writer(reg);
#ifdef DLREG_SEEDED_BUG_lock_order_inversion
	/* Seeded bug: lock -> reclaim_lock here, reclaim_lock -> lock in poll. */
	pthread_mutex_lock(&reg->reclaim_lock);
	pthread_mutex_unlock(&reg->reclaim_lock);
#endif
	r = atomic_load_explicit(&lib->refs, memory_order_relaxed);
	bool last = false;
	for (;;) {
		if (r == 0)
			break;
		if (atomic_compare_exchange_weak_explicit(&lib->refs, &r, r - 1,
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			last = r == 1;
			break;
		}
	}
	if (last)
		retire_locked(reg, lib);
	unlock_writer(reg);
#if defined(DLREG_SEEDED_BUG_free_no_grace) || defined(DLREG_SEEDED_BUG_dlclose_no_grace)
	if (last)
		release_early(reg, lib);
#endif
	return last;
}

int dlreg_close(dlreg_t *reg, dlreg_lib_t *lib)
{
	dlreg__clear_detail();
	if (!reg || !lib) {
		dlreg__set_detail("close: NULL registry or handle");
		return DLREG_EINVAL;
	}
	if (atomic_load_explicit(&lib->reg, memory_order_relaxed) != reg) {
		dlreg__set_detail("close: handle belongs to another (or a destroyed) registry");
		return DLREG_EINVAL;
	}
	if (atomic_load_explicit(&lib->state, memory_order_relaxed) != LIB_LIVE ||
	    atomic_load_explicit(&lib->refs, memory_order_relaxed) == 0) {
		dlreg__set_detail("close: handle is not live (closed more often than opened?)");
		return DLREG_EINVAL;
	}
	bool last = ref_put(reg, lib);
	atomic_fetch_add_explicit(&reg->st.closes, 1, memory_order_relaxed);
	if (last && reg->cfg.log && reg->cfg.log_level <= DLREG_LOG_DEBUG)
		reg_log(reg, DLREG_LOG_DEBUG, "retired an entry; unload after a grace period");
#ifdef DLREG_SEEDED_BUG_lock_order_inversion
	if (may_reclaim_here() && pthread_mutex_trylock(&reg->reclaim_lock) == 0) {
		lock_writer(reg);
		unlock_writer(reg);
		pthread_mutex_unlock(&reg->reclaim_lock);
	}
#endif
	reclaim_poll(reg);
	return DLREG_OK;
}

/* -------------------------------------------------------------------- fork */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&g_regs_lock);
	for (struct dlreg *reg = g_regs; reg; reg = reg->next_reg) {
		pthread_mutex_lock(&reg->reclaim_lock);
		pthread_mutex_lock(&reg->lock);
	}
}

static void atfork_parent(void)
{
	for (struct dlreg *reg = g_regs; reg; reg = reg->next_reg) {
		pthread_mutex_unlock(&reg->lock);
		pthread_mutex_unlock(&reg->reclaim_lock);
	}
	pthread_mutex_unlock(&g_regs_lock);
}

/* In the child only this thread exists: other threads' records are reset so
 * their (now eternal) sections cannot block a grace period. */
static void child_reset_records(struct dlreg *reg)
{
	pthread_t self = pthread_self();
	ck_stack_entry_t *cursor;
	CK_STACK_FOREACH(&reg->epoch.records, cursor)
	{
		struct dlreg_reader *r = (struct dlreg_reader *)((char *)cursor -
					 offsetof(ck_epoch_record_t, record_next));
		if (r->is_reclaimer ||
		    pthread_equal(atomic_load_explicit(&r->owner, memory_order_relaxed), self))
			continue;
		if (r->rec.state == EPOCH_RECORD_USED) {
			r->rec.active = 0;
			memset(&r->rec.local, 0, sizeof r->rec.local);
			ck_epoch_unregister(&r->rec);
		}
	}
}

static void atfork_child(void)
{
#ifdef DLREG_TSAN
	/* Another thread may have held the stand-in for glibc's loader lock. */
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	dl_order = fresh;
#endif
	for (struct dlreg *reg = g_regs; reg; reg = reg->next_reg) {
		pthread_mutex_unlock(&reg->lock);
		pthread_mutex_unlock(&reg->reclaim_lock);
		child_reset_records(reg);
		/* Batches other threads were releasing at fork are lost here (they
		 * leak); nobody may wait for them.  This thread's own batch (a
		 * destructor that forked) goes on here and is counted off when done. */
		atomic_store_explicit(&reg->releasing, tl_releasing == reg ? 1u : 0u,
				      memory_order_relaxed);
		if (reg->thread_running) {
			/* The reclaim thread does not exist here, yet it may still be
			 * counted as a waiter on the condition variable. */
			reg->thread_running = false;
			reg->cfg.reclaim = DLREG_RECLAIM_POLL;
			pthread_cond_init(&reg->thread_cond, NULL);
			pthread_mutex_init(&reg->thread_lock, NULL);
		}
	}
	pthread_mutex_unlock(&g_regs_lock);
}
