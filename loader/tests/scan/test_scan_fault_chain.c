/*
 * test_scan_fault_chain.c - faults that are not a scan's reach the action
 * the application installed before the scanner's handler, as the kernel
 * would have delivered them.
 *
 * Each case runs in a child: the handler is installed once per process, on
 * the first mapped scan, over whatever the child set up first.
 *   - a handler installed with SA_RESETHAND that returns (to fault again)
 *     runs once, and the repeated fault then kills with the default action;
 *   - a handler runs with its sa_mask blocked, and its own signal too
 *     unless installed with SA_NODEFER;
 *   - an application that replaces the scanner's SIGBUS handler gets
 *     read scans (a mapping would be unguarded) and its own faults;
 *   - an ignored SIGBUS (with and without SA_SIGINFO in sa_flags) stays
 *     ignored for a signal someone sent; a real fault still kills, by SIGBUS;
 *   - a thread that blocks every signal (as one that leaves them to a
 *     sigwait thread does) still gets DLREG_ETRUNCATED from a mapped scan
 *     of a file truncated under it, not a SIGBUS that kills the process (a
 *     fault the thread blocks is fatal), and its mask is as it was after;
 *   - a handler another thread installs between the scanner's read of the
 *     previous action and the installation of its own is the one faults
 *     are passed to, for SIGBUS and for SIGSEGV, not the one the read saw;
 *     where installing for SIGSEGV fails, SIGBUS is given back that
 *     handler.  The other thread is simulated by sigaction, interposed
 *     below;
 *   - where installing for SIGSEGV fails after a SIGBUS reached an
 *     SA_RESETHAND handler through the scanner's, SIGBUS is given back
 *     SIG_DFL, as the kernel's reset would have left it, not that handler
 *     armed again.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "dlreg/scan.h"

static const char *self;
static char tmpdir[256];
static volatile sig_atomic_t calls;
static volatile sig_atomic_t usr1_blocked;
static sigjmp_buf back;

/*
 * sigaction, interposed: linked to libdlreg.so, the library's calls find
 * this executable's definition first (linked statically, it replaces
 * libc's).  It forwards to the real one.  While a window case arms it, it
 * installs a handler of its own (through the real sigaction) right after
 * the first read of a signal's action, as another thread could between the
 * scanner's read and its own installation, or makes a change of SIGSEGV's
 * action fail.  It only reads flags and forwards: safe in a handler, where
 * the scanner calls sigaction too.
 */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
/* [0] SIGBUS, [1] SIGSEGV: install window_handler after the next read. */
static volatile sig_atomic_t window_after_read[2];
static volatile sig_atomic_t fail_segv_change;
/* Raise SIGBUS before failing that change (it finds the scanner's handler). */
static volatile sig_atomic_t bus_before_segv_fail;

static void window_handler(int sig, siginfo_t *si, void *uc);

static sigaction_fn find_real_sigaction(void)
{
	/*
	 * A sanitizer runtime linked into the executable (clang's) defines
	 * sigaction weakly, as its interceptor, and this definition replaces
	 * it: call the interceptor by its own name where there is one, so the
	 * sanitizer still sees every action.  Else the next definition.
	 */
	void *sym = dlsym(RTLD_DEFAULT, "__interceptor_sigaction");
	if (!sym)
		sym = dlsym(RTLD_NEXT, "sigaction");
	sigaction_fn fn = NULL;
	if (sym)
		memcpy(&fn, &sym, sizeof fn);
	return fn;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	int i = sig == SIGBUS ? 0 : sig == SIGSEGV ? 1 : -1;
	if (i == 1 && act && fail_segv_change) {
		fail_segv_change = 0;
		if (bus_before_segv_fail) {
			bus_before_segv_fail = 0;
			raise(SIGBUS);
		}
		errno = EINVAL;
		return -1;
	}
	int rc = real_sigaction(sig, act, old);
	if (rc == 0 && i >= 0 && !act && window_after_read[i]) {
		struct sigaction w;
		memset(&w, 0, sizeof w);
		w.sa_sigaction = window_handler;
		w.sa_flags = SA_SIGINFO;
		sigemptyset(&w.sa_mask);
		window_after_read[i] = 0;
		if (real_sigaction(sig, &w, NULL) != 0)
			window_after_read[i] = -1; /* reported by the child */
	}
	return rc;
}

/* A scan of a file with a marker: 0 if it found it with backend `want`. */
static int marker_scan(enum dlreg_scan_backend want)
{
	static const char text[] = "{\"a\":1}";
	unsigned char rec[DLREG_METADATA_HEADER_LEN + sizeof text - 1];
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	char path[300];
	snprintf(path, sizeof path, "%s/marker", tmpdir);
	memcpy(rec, magic, sizeof magic);
	uint32_t len = (uint32_t)(sizeof text - 1);
	for (int i = 0; i < 4; i++)
		rec[DLREG_METADATA_MAGIC_LEN + i] = (unsigned char)(len >> (8 * i));
	memcpy(rec + DLREG_METADATA_HEADER_LEN, text, len);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, rec, sizeof rec) != (ssize_t)sizeof rec)
		return -1;
	close(fd);
	struct dlreg_scan_options o = {.backend = DLREG_SCAN_MMAP};
	struct dlreg_metadata *m = NULL;
	int rc = dlreg_scan_file(path, &o, &m);
	int ok = rc == DLREG_OK && m && m->backend == want;
	dlreg_metadata_free(m);
	return ok ? 0 : -1;
}

/* A mapped scan of a file with a marker: installs the scanner's handler. */
static int mapped_scan(void)
{
	return marker_scan(DLREG_SCAN_MMAP);
}

/* A page nobody may touch: every access is a real SIGSEGV (si_code > 0). */
static volatile char *guard_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : (volatile char *)p;
}

/* A page of a file truncated to nothing: touching it is a real SIGBUS. */
static volatile char *bus_page(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/gone", tmpdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		return NULL;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || ftruncate(fd, 0) != 0)
		return NULL;
	close(fd);
	return (volatile char *)p;
}

static void set_action(int sig, void (*h)(int), void (*sa)(int, siginfo_t *, void *), int flags,
                       const sigset_t *mask)
{
	struct sigaction a;
	memset(&a, 0, sizeof a);
	if (sa)
		a.sa_sigaction = sa;
	else
		a.sa_handler = h;
	a.sa_flags = flags;
	if (mask)
		a.sa_mask = *mask;
	else
		sigemptyset(&a.sa_mask);
	sigaction(sig, &a, NULL);
}

static void count_and_return(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	if (++calls > 3)
		_exit(3); /* looping: the reset never took effect */
}

static volatile sig_atomic_t segv_blocked;

static void note_mask_and_leave(int sig)
{
	sigset_t cur;
	(void)sig;
	calls++;
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0) {
		usr1_blocked = sigismember(&cur, SIGUSR1) == 1;
		segv_blocked = sigismember(&cur, SIGSEGV) == 1;
	}
	siglongjmp(back, 1);
}

static void leave(int sig)
{
	(void)sig;
	calls++;
	siglongjmp(back, 1);
}

/* Calls of the action the window cases set first and of the one set in the window. */
static volatile sig_atomic_t stale_calls;
static volatile sig_atomic_t window_bus_calls;
static volatile sig_atomic_t window_segv_calls;

static void stale_handler(int sig)
{
	(void)sig;
	stale_calls++;
	siglongjmp(back, 1);
}

static void window_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (sig == SIGBUS)
		window_bus_calls++;
	else
		window_segv_calls++;
	siglongjmp(back, 1);
}

static int is_window_handler(int sig)
{
	struct sigaction cur;
	memset(&cur, 0, sizeof cur);
	return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	       cur.sa_sigaction == window_handler;
}

/* Child bodies: the exit status or the signal that ended them is the result. */

static int child_resethand(void)
{
	set_action(SIGSEGV, NULL, count_and_return, SA_SIGINFO | SA_RESETHAND, NULL);
	volatile char *g = guard_page();
	if (!g || mapped_scan() != 0)
		return 2;
	(void)g[0];
	return 4; /* a fault that returns cannot be survived */
}

static int child_mask(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	set_action(SIGSEGV, note_mask_and_leave, NULL, 0, &mask);
	volatile char *g = guard_page();
	if (!g || mapped_scan() != 0)
		return 2;
	if (sigsetjmp(back, 1) == 0)
		(void)g[0];
	/* sa_mask, and the signal itself as without SA_NODEFER. */
	return calls == 1 && usr1_blocked && segv_blocked ? 0 : 5;
}

/* With SA_NODEFER the handler runs with its own signal let through. */
static int child_nodefer(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	set_action(SIGSEGV, note_mask_and_leave, NULL, SA_NODEFER, &mask);
	volatile char *g = guard_page();
	if (!g || mapped_scan() != 0)
		return 2;
	if (sigsetjmp(back, 1) == 0)
		(void)g[0];
	return calls == 1 && usr1_blocked && !segv_blocked ? 0 : 5;
}

/*
 * An application that replaces the scanner's SIGBUS handler after it was
 * installed: a mapped scan would no longer be guarded, so it is read
 * instead; the application's handler still gets its faults.
 */
static int child_replaced(void)
{
	if (mapped_scan() != 0)
		return 2;
	set_action(SIGBUS, leave, NULL, 0, NULL);
	if (marker_scan(DLREG_SCAN_READ) != 0)
		return 6;
	volatile char *b = bus_page();
	if (!b)
		return 2;
	if (sigsetjmp(back, 1) == 0)
		(void)b[0];
	return calls == 1 ? 0 : 5;
}

static int child_ignored(int flags, int real_fault)
{
	set_action(SIGBUS, SIG_IGN, NULL, flags, NULL);
	volatile char *b = bus_page();
	if (!b || mapped_scan() != 0)
		return 2;
	if (!real_fault) {
		raise(SIGBUS);
		kill(getpid(), SIGBUS);
		return 0;
	}
	(void)b[0];
	return 6;
}

/*
 * Another thread's handler lands between the scanner's read of one
 * signal's action (i: 0 SIGBUS, 1 SIGSEGV) and its own installation: faults
 * that are not a scan's, a real one and a sent one, must reach that
 * handler, not the stale one the read saw.  The other signal's action did
 * not change: its faults still reach the one read.
 */
static int child_window(int i)
{
	set_action(SIGBUS, stale_handler, NULL, 0, NULL);
	set_action(SIGSEGV, stale_handler, NULL, 0, NULL);
	volatile char *b = bus_page();
	volatile char *g = guard_page();
	if (!b || !g)
		return 2;
	window_after_read[i] = 1;
	if (mapped_scan() != 0 || window_after_read[i] != 0)
		return 2; /* not installed, or the window was never reached */
	if (sigsetjmp(back, 1) == 0)
		(void)(i ? g : b)[0];
	if (sigsetjmp(back, 1) == 0)
		raise(i ? SIGSEGV : SIGBUS);
	if (sigsetjmp(back, 1) == 0)
		(void)(i ? b : g)[0];
	if ((i ? window_segv_calls : window_bus_calls) != 2)
		return 8; /* the stale handler ran instead */
	return (i ? window_bus_calls : window_segv_calls) == 0 && stale_calls == 1 ? 0 : 9;
}

/*
 * The same window for SIGBUS, then installing for SIGSEGV fails: the
 * scanner gives SIGBUS back, and must give back the handler that was
 * current (the window's), not the stale one; scans read instead of mapping.
 */
static int child_window_restore(void)
{
	set_action(SIGBUS, stale_handler, NULL, 0, NULL);
	set_action(SIGSEGV, stale_handler, NULL, 0, NULL);
	volatile char *b = bus_page();
	if (!b)
		return 2;
	window_after_read[0] = 1;
	fail_segv_change = 1;
	if (marker_scan(DLREG_SCAN_READ) != 0 || window_after_read[0] != 0 || fail_segv_change)
		return 2;
	struct sigaction segv;
	memset(&segv, 0, sizeof segv);
	if (!is_window_handler(SIGBUS) || sigaction(SIGSEGV, NULL, &segv) != 0 ||
	    (segv.sa_flags & SA_SIGINFO) || segv.sa_handler != stale_handler)
		return 10;
	if (sigsetjmp(back, 1) == 0)
		(void)b[0];
	return window_bus_calls == 1 && stale_calls == 0 ? 0 : 8;
}

/*
 * SIGBUS has an SA_RESETHAND handler when the scanner installs its own; a
 * SIGBUS sent between that and the failing installation for SIGSEGV runs
 * it once, through the scanner's.  Giving SIGBUS back must then leave
 * SIG_DFL, as the kernel's reset would have, not arm that handler again.
 */
static int child_resethand_restore(void)
{
	set_action(SIGBUS, NULL, count_and_return, SA_SIGINFO | SA_RESETHAND, NULL);
	fail_segv_change = 1;
	bus_before_segv_fail = 1;
	if (marker_scan(DLREG_SCAN_READ) != 0 || fail_segv_change || bus_before_segv_fail)
		return 2;
	struct sigaction bus;
	memset(&bus, 0, sizeof bus);
	if (calls != 1 || sigaction(SIGBUS, NULL, &bus) != 0)
		return 2;
	return !(bus.sa_flags & SA_SIGINFO) && bus.sa_handler == SIG_DFL ? 0 : 11;
}

/* Truncates the storm file some time (0-2 ms) after each scan starts. */
static atomic_int storm_go;
static atomic_int storm_stop;
static int storm_fd = -1;

static void *truncator(void *arg)
{
	unsigned seed = 12345;
	(void)arg;
	while (!atomic_load(&storm_stop)) {
		if (!atomic_exchange(&storm_go, 0))
			continue;
		seed = seed * 1103515245u + 12345u;
		struct timespec ts = {0, (long)(seed >> 8) % 2000000L};
		nanosleep(&ts, NULL);
		if (ftruncate(storm_fd, 4096) != 0)
			return NULL;
	}
	return NULL;
}

static int child_blocked(void)
{
	enum { SIZE = 32 << 20 };
	char path[300];
	static char block[1 << 16];
	sigset_t all, before, after;
	snprintf(path, sizeof path, "%s/storm", tmpdir);
	storm_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (storm_fd < 0)
		return 2;
	memset(block, 'x', sizeof block);
	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, NULL) != 0 ||
	    pthread_sigmask(SIG_BLOCK, NULL, &before) != 0)
		return 2;
	pthread_t t;
	if (pthread_create(&t, NULL, truncator, NULL) != 0)
		return 2;
	int bad = 0;
	for (int round = 0; round < 40 && dlreg_scan_fault_count() < 3; round++) {
		for (off_t off = 0; off < SIZE; off += (off_t)sizeof block)
			if (pwrite(storm_fd, block, sizeof block, off) != (ssize_t)sizeof block)
				bad = 1;
		struct dlreg_scan_options o = {.backend = DLREG_SCAN_MMAP};
		struct dlreg_metadata *m = NULL;
		atomic_store(&storm_go, 1);
		int rc = dlreg_scan_file(path, &o, &m);
		if (rc != DLREG_ETRUNCATED && rc != DLREG_ENOMETA)
			bad = 1;
		dlreg_metadata_free(m);
		while (atomic_load(&storm_go))
			;
	}
	atomic_store(&storm_stop, 1);
	pthread_join(t, NULL);
	if (pthread_sigmask(SIG_BLOCK, NULL, &after) != 0)
		return 2;
	for (int sig = 1; sig < 32; sig++)
		if (sigismember(&before, sig) != sigismember(&after, sig))
			bad = 1;
	unlink(path);
	if (bad)
		return 7;
	/* No fault landed in 40 rounds: nothing shown either way. */
	return dlreg_scan_fault_count() > 0 ? 0 : 77;
}

static const char *describe(int status, char *buf, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(buf, n, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(buf, n, "exit %d", WEXITSTATUS(status));
	else
		snprintf(buf, n, "status %#x", status);
	return buf;
}

int main(int argc, char **argv)
{
	/* Two arguments: one of the cases, run as a child by the test itself. */
	if (argc != 1 && argc != 3)
		return check_no_args(
		        argc, argv,
		        "usage: test_scan_fault_chain\n"
		        "Faults that are not a scan's reach the application's own action.\n");
	real_sigaction = find_real_sigaction();
	if (!real_sigaction) {
		fprintf(stderr, "no sigaction to forward to\n");
		return 1;
	}
	self = argv[0];
	const char *t = getenv("TMPDIR");
	if (argc == 3) {
		snprintf(tmpdir, sizeof tmpdir, "%s", argv[2]);
		if (!strcmp(argv[1], "resethand"))
			return child_resethand();
		if (!strcmp(argv[1], "mask"))
			return child_mask();
		if (!strcmp(argv[1], "nodefer"))
			return child_nodefer();
		if (!strcmp(argv[1], "replaced"))
			return child_replaced();
		if (!strcmp(argv[1], "ignored-sent"))
			return child_ignored(0, 0);
		if (!strcmp(argv[1], "ignored-siginfo-sent"))
			return child_ignored(SA_SIGINFO, 0);
		if (!strcmp(argv[1], "ignored-fault"))
			return child_ignored(0, 1);
		if (!strcmp(argv[1], "ignored-siginfo-fault"))
			return child_ignored(SA_SIGINFO, 1);
		if (!strcmp(argv[1], "blocked"))
			return child_blocked();
		if (!strcmp(argv[1], "window-bus"))
			return child_window(0);
		if (!strcmp(argv[1], "window-segv"))
			return child_window(1);
		if (!strcmp(argv[1], "window-restore"))
			return child_window_restore();
		if (!strcmp(argv[1], "resethand-restore"))
			return child_resethand_restore();
		return 2;
	}
	snprintf(tmpdir, sizeof tmpdir, "%s/dlreg-fault-chain-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	static const char *const names[] = {"resethand", "mask", "nodefer", "replaced",
	                                    "ignored-sent", "ignored-siginfo-sent",
	                                    "ignored-fault", "ignored-siginfo-fault", "blocked",
	                                    "window-bus", "window-segv", "window-restore",
	                                    "resethand-restore"};
	static const int sigs[] = {SIGSEGV, 0, 0, 0, 0, 0, SIGBUS, SIGBUS, 0, 0, 0, 0, 0};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* No core files for the deaths this test expects. */
			struct rlimit no_core = {0, 0};
			setrlimit(RLIMIT_CORE, &no_core);
			alarm(20);
			execl(self, self, names[i], tmpdir, (char *)NULL);
			_exit(127);
		}
		int st = 0;
		char buf[64];
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (sigs[i])
			CHECK(pid > 0 && WIFSIGNALED(st) && WTERMSIG(st) == sigs[i],
			      "%s: want signal %d, got %s", names[i], sigs[i],
			      describe(st, buf, sizeof buf));
		else if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77)
			printf("note: %s: no truncation landed inside a scan; not shown\n", names[i]);
		else
			CHECK(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: want exit 0, got %s",
			      names[i], describe(st, buf, sizeof buf));
	}
	char path[300];
	snprintf(path, sizeof path, "%s/marker", tmpdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/gone", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return check_report("scan_fault_chain");
}
