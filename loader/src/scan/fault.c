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
 * previous actions (written once before our handler goes live) and an
 * atomic flag, and calls only siglongjmp, sigaction, pthread_sigmask and
 * raise.  The jump can only interrupt our own plain loads from the mapping
 * (memcpy and the search), never code holding a lock or inside malloc, so
 * leaving those frames is safe; the scan's heap state lives in its job and
 * is released by the caller after the jump.
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

static struct sigaction prev_bus;
static struct sigaction prev_segv;
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

/* SA_RESETHAND of a previous handler already called once (0 SIGBUS, 1 SIGSEGV). */
static _Atomic int prev_spent[2];

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
	const struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
	void (*h)(int) = p->sa_handler; /* SIG_DFL and SIG_IGN whatever sa_flags says */
	/* A sent signal, or a memory error the kernel reports ahead of use
	 * (BUS_MCEERR_AO), is not a fault the thread would meet again. */
	if (h == SIG_IGN && (si->si_code <= 0 || (sig == SIGBUS && si->si_code == BUS_MCEERR_AO)))
		return;
	if (h != SIG_DFL && h != SIG_IGN && (p->sa_flags & SA_RESETHAND) &&
	    atomic_exchange(&prev_spent[sig == SIGBUS ? 0 : 1], 1))
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
	/* si_code <= 0: sent by kill() or raise(), si_addr means nothing; not ours. */
	if (s && si->si_code > 0 && addr >= s->lo && addr < s->hi) {
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

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	/* Save the previous actions before ours can run and read them. */
	if (sigaction(SIGBUS, NULL, &prev_bus) != 0 || sigaction(SIGSEGV, NULL, &prev_segv) != 0)
		return;
	pin_self();
	if (sigaction(SIGBUS, &sa, NULL) != 0)
		return;
	if (sigaction(SIGSEGV, &sa, NULL) != 0) {
		sigaction(SIGBUS, &prev_bus, NULL);
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
	return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault;
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

void dlreg__fault_note_caught(void)
{
	atomic_fetch_add_explicit(&faults_caught, 1, memory_order_relaxed);
}

uint64_t dlreg_scan_fault_count(void)
{
	return atomic_load_explicit(&faults_caught, memory_order_relaxed);
}
