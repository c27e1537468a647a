/*
 * fault.c - turns a fault on a scan mapping into an error instead of a crash.
 *
 * A file can shrink or be rewritten while it is mapped; touching a page past
 * its new end raises SIGBUS.  Each thread keeps a stack of armed scopes in a
 * thread-local pointer; the handler (installed once, process-wide) jumps
 * back into the scan only when the faulting address lies inside the calling
 * thread's innermost armed mapping.  Every other fault, in this thread or
 * any other, is passed to the handler that was installed before ours.
 *
 * Async-signal-safety: the handler reads only the thread's scope pointer
 * (written by the same thread, ordered with signal fences; an initial-exec
 * thread-local, so reading it allocates nothing and takes no lock even in a
 * thread that never scanned, in a dlopen'ed libdlreg too), the saved
 * previous actions (see prev_act: published so that no handler can see one
 * half written) and atomic flags, and calls only siglongjmp, sigaction,
 * pthread_sigmask and raise.  The jump can only interrupt our own plain
 * loads from the mapping (memcpy and the search), never code holding a
 * lock or inside malloc, so leaving those frames is safe; the scan's heap
 * state lives in its job and is released by the caller after the jump.
 * The scope's buffer is taken with sigsetjmp(env, 1): the jump restores the
 * signal mask from before the fault, whatever the kernel or a sanitizer's
 * wrapper blocked while running the handler (otherwise SIGBUS would stay
 * blocked and the next fault would kill the process).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"
#include "scan_internal.h"

/*
 * The action each signal had before ours, which chain() runs for a fault
 * that is not a scan's.  install() reads it first and then swaps ours in;
 * between the two calls another thread may install a handler, which the
 * swap then reports and which becomes the action to chain to.  Our handler
 * may already be running (in any thread) when that report comes back, so
 * the action is not rewritten in place: each signal has two slots and an
 * index naming the current one.  Slot 0 holds what the first read saw and
 * is written before the system call that makes on_fault live; slot 1 holds
 * what the swap replaced, written before the release store that makes the
 * index name it.  Neither is written again, so a handler that loads the
 * index (acquire) reads a complete action: the one from the read, or the
 * one the swap found.  The index is a lock-free atomic, a plain load in the
 * handler: async-signal-safe.  A fault landing between the swap and the
 * store still runs the action of slot 0, a valid one: no system call both
 * installs a handler and hands what it replaced to that handler before it
 * can run.
 */
struct prev_action {
	struct sigaction sa;
	_Atomic int spent; /* installed with SA_RESETHAND and already run once */
};
static struct prev_action prev_act[2][2]; /* [0 SIGBUS, 1 SIGSEGV][slot] */
static _Atomic int prev_slot[2];
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the handler's atomics must be lock-free");
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int installed;
static _Atomic uint64_t faults_caught;
/*
 * Initial-exec: the handler runs for every SIGBUS and SIGSEGV of every
 * thread, also one that never scanned.  Where libdlreg was dlopen'ed, a
 * general-dynamic access there would call __tls_get_addr, which may
 * allocate (malloc in a signal handler: a crash inside malloc would then
 * hang instead of dying) and take the loader's TLS lock.
 */
static _Thread_local struct dlreg__fault_scope *volatile scope_top DLREG_TLS_IE;

/*
 * Runs the action that was installed before ours, as the kernel would have
 * run it: a signal someone sent (si_code <= 0), or an early memory-error
 * report (BUS_MCEERR_AO), to an ignored SIGBUS or SIGSEGV stays ignored; a
 * fault cannot be ignored, so SIG_IGN and SIG_DFL both end in the default
 * action there.  A handler runs with its own
 * sa_mask (and SA_NODEFER) applied, and one installed with SA_RESETHAND
 * runs once: after it, the default action, as the kernel's reset would
 * give (a handler that logs and returns to fault again must not loop).
 */
static void chain(int sig, siginfo_t *si, void *uc)
{
	int i = sig == SIGBUS ? 0 : 1;
	/* Acquire: pairs with take_over()'s release, the slot it names is whole. */
	int slot = atomic_load_explicit(&prev_slot[i], memory_order_acquire);
	struct prev_action *pa = &prev_act[i][slot];
	const struct sigaction *p = &pa->sa;
	void (*h)(int) = p->sa_handler; /* SIG_DFL and SIG_IGN whatever sa_flags says */
	/* A sent signal, or a memory error the kernel reports ahead of use
	 * (BUS_MCEERR_AO), is not a fault the thread would meet again. */
	if (h == SIG_IGN && (si->si_code <= 0 || (sig == SIGBUS && si->si_code == BUS_MCEERR_AO)))
		return;
	if (h != SIG_DFL && h != SIG_IGN && (p->sa_flags & SA_RESETHAND) &&
	    atomic_exchange(&pa->spent, 1))
		h = SIG_DFL;
	if (h == SIG_DFL || h == SIG_IGN) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		sigaction(sig, &dfl, NULL);
		raise(sig);
		return;
	}
	sigset_t mask, old;
	mask = p->sa_mask;
	if (p->sa_flags & SA_NODEFER)
		sigdelset(&mask, sig);
	else
		sigaddset(&mask, sig);
	/* Blocks sa_mask; with SA_NODEFER, sig is let through as well. */
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	if (p->sa_flags & SA_NODEFER) {
		sigset_t just;
		sigemptyset(&just);
		sigaddset(&just, sig);
		pthread_sigmask(SIG_UNBLOCK, &just, NULL);
	}
	if (p->sa_flags & SA_SIGINFO)
		p->sa_sigaction(sig, si, uc);
	else
		h(sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct dlreg__fault_scope *s = scope_top;
	uintptr_t addr = (uintptr_t)si->si_addr;
	/* si_code <= 0: sent by kill() or raise(), si_addr means nothing; not ours.
	 * BUS_MCEERR_AO: a memory error reported ahead of any access (to a
	 * process that asked for early reports), delivered wherever the thread
	 * is, malloc included: no load of the scan faulted, no jump. */
	if (s && si->si_code > 0 && !(sig == SIGBUS && si->si_code == BUS_MCEERR_AO) &&
	    addr >= s->lo && addr < s->hi) {
		s->fault_addr = addr;
		scope_top = s->prev;
		siglongjmp(s->env, 1);
	}
	int saved = errno;
	chain(sig, si, uc);
	errno = saved;
}

/*
 * The handler stays installed for the life of the process, so the code it
 * points to must too: if libdlreg was dlopen'ed, pin it (RTLD_NODELETE) so a
 * later dlclose cannot leave a dangling signal handler.  Linked into an
 * executable there is nothing to pin and the dlopen simply finds nothing.
 */
static void pin_self(void)
{
	Dl_info info;
	if (dladdr((void *)(uintptr_t)&pin_self, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

static int is_ours(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_fault;
}

/* Same handler, flags and mask (sa_restorer aside: chain() never uses it). */
static int same_action(const struct sigaction *a, const struct sigaction *b)
{
	if (a->sa_handler != b->sa_handler || a->sa_flags != b->sa_flags)
		return 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&a->sa_mask, sig) != sigismember(&b->sa_mask, sig))
			return 0;
	return 1;
}

/*
 * Installs sa for signal i (0 SIGBUS, 1 SIGSEGV) in one call that also
 * returns what it replaced.  Where that is not what the first read saw,
 * another thread installed it in between: it becomes the action to chain
 * to.  An unchanged action keeps slot 0, and with it its SA_RESETHAND state
 * (a fault in the window may already have run it once).
 */
static int take_over(int i, const struct sigaction *sa)
{
	struct sigaction old;
	memset(&old, 0, sizeof old);
	if (sigaction(i ? SIGSEGV : SIGBUS, sa, &old) != 0)
		return -1;
	if (!same_action(&old, &prev_act[i][0].sa)) {
		prev_act[i][1].sa = old;
		atomic_store_explicit(&prev_slot[i], 1, memory_order_release);
	}
	return 0;
}

/*
 * Puts back the action signal i had before ours.  The swap returns what
 * was current: where it is not ours, someone replaced ours since, and that
 * handler is theirs to keep.  An SA_RESETHAND handler that chain() already
 * ran once is not armed again: the kernel would have reset it to SIG_DFL.
 */
static void give_back(int i)
{
	int sig = i ? SIGSEGV : SIGBUS;
	/* Relaxed: stored by this thread, in take_over(). */
	int slot = atomic_load_explicit(&prev_slot[i], memory_order_relaxed);
	struct sigaction back = prev_act[i][slot].sa;
	if ((back.sa_flags & SA_RESETHAND) && atomic_load(&prev_act[i][slot].spent)) {
		memset(&back, 0, sizeof back);
		back.sa_handler = SIG_DFL;
		sigemptyset(&back.sa_mask);
	}
	struct sigaction cur;
	memset(&cur, 0, sizeof cur);
	if (sigaction(sig, &back, &cur) == 0 && !is_ours(&cur))
		sigaction(sig, &cur, NULL);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	/*
	 * Read the previous actions before ours can run: a single
	 * sigaction(sig, &sa, &old) makes on_fault live before `old` is stored,
	 * and a fault in another thread then would find no action to chain to.
	 */
	if (sigaction(SIGBUS, NULL, &prev_act[0][0].sa) != 0 ||
	    sigaction(SIGSEGV, NULL, &prev_act[1][0].sa) != 0)
		return;
	pin_self();
	if (take_over(0, &sa) != 0)
		return;
	if (take_over(1, &sa) != 0) {
		give_back(0);
		return;
	}
	installed = 1;
}

int dlreg__fault_ready(void)
{
	struct sigaction cur;
	if (pthread_once(&install_once, install) != 0 || !installed)
		return 0;
	/* An application may have replaced our handler since; then mapping is unsafe. */
	if (sigaction(SIGBUS, NULL, &cur) != 0)
		return 0;
	return is_ours(&cur);
}

void dlreg__fault_arm(struct dlreg__fault_scope *scope, const void *base, size_t len)
{
	sigset_t faults;
	scope->lo = (uintptr_t)base;
	scope->hi = scope->lo + len;
	scope->prev = scope_top;
#ifndef DLREG_SEEDED_BUG_no_sigbus_guard
	atomic_signal_fence(memory_order_seq_cst);
	scope_top = scope;
	atomic_signal_fence(memory_order_seq_cst);
#endif
	/*
	 * A thread may block every signal (leaving them to a sigwait thread),
	 * or scan from a handler whose mask holds SIGBUS; the kernel kills the
	 * process for a fault it cannot deliver.  One call unblocks them and
	 * tells whether they were blocked.
	 */
	sigemptyset(&faults);
	sigaddset(&faults, SIGBUS);
	sigaddset(&faults, SIGSEGV);
	scope->reblock = 0;
	if (pthread_sigmask(SIG_UNBLOCK, &faults, &scope->mask) == 0)
		scope->reblock = sigismember(&scope->mask, SIGBUS) == 1 ||
		                 sigismember(&scope->mask, SIGSEGV) == 1;
}

void dlreg__fault_disarm(struct dlreg__fault_scope *scope)
{
	if (scope->reblock)
		pthread_sigmask(SIG_SETMASK, &scope->mask, NULL);
	atomic_signal_fence(memory_order_seq_cst);
	scope_top = scope->prev;
	atomic_signal_fence(memory_order_seq_cst);
}

#ifdef DLREG_TEST_POPULATE_HOOK
/* test_scan_populate: whether this thread has a fault scope armed (none
 * may be left once a scan has returned, by its end or by a caught fault). */
int dlreg__test_fault_armed(void);
int dlreg__test_fault_armed(void)
{
	return scope_top != NULL;
}
#endif

void dlreg__fault_note_caught(void)
{
	atomic_fetch_add_explicit(&faults_caught, 1, memory_order_relaxed);
}

uint64_t dlreg_scan_fault_count(void)
{
	return atomic_load_explicit(&faults_caught, memory_order_relaxed);
}
