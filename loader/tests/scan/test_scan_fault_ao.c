/*
 * test_scan_fault_ao.c - the scanner's fault handler jumps out of a scan
 * only for a fault of the scan's own loads, never for an early memory-error
 * report (SIGBUS with BUS_MCEERR_AO), which the kernel sends to a process
 * that asked for early reports wherever its thread happens to be: in the
 * middle of malloc, say, where a jump would leave the allocator's lock
 * held.  Such a report goes on to the handler installed before the
 * scanner's, as it would without the scanner.
 *
 * The library's sources are compiled in, for the fault scope itself.  The
 * signals are queued by the thread to itself (rt_tgsigqueueinfo, which
 * lets a thread give itself a kernel si_code), with an address inside the
 * armed range: BUS_ADRERR there must jump (the control: the scope is
 * armed and the signal arrives), BUS_MCEERR_AO must not.  Nor may a
 * BUS_ADRERR one byte outside the range, on either side: a fault that is
 * not the scan's goes on to the application's handler too.
 */
#include <signal.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "scan/scan_internal.h"

static volatile sig_atomic_t chained_code = -1;

/* The application's own SIGBUS handler, installed before the scanner's. */
static void app_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chained_code = si->si_code;
}

static int send_self(int code, void *addr)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = addr;
	return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS,
	                    &si);
}

/* 1 if the handler jumped out of the armed scope [base, base + len) for a
 * fault at base + off, 0 if not, -1 if the signal could not be sent. */
static int jumps_at(int code, void *base, size_t len, intptr_t off)
{
	struct dlreg__fault_scope scope;
	volatile int sent = 0;
	if (sigsetjmp(scope.env, 1))
		return 1; /* the handler popped the scope */
	dlreg__fault_arm(&scope, base, len);
	sent = send_self(code, (void *)((uintptr_t)base + (uintptr_t)off)) == 0;
	dlreg__fault_disarm(&scope);
	return sent ? 0 : -1;
}

static int jumps(int code, void *base, size_t len)
{
	return jumps_at(code, base, len, 100);
}

int main(int argc, char **argv)
{
	int usage = check_no_args(
	        argc, argv,
	        "usage: test_scan_fault_ao\n"
	        "The fault handler jumps only for the scan's own faults, not for BUS_MCEERR_AO.\n");
	if (usage >= 0)
		return usage;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = app_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) != 0) {
		perror("sigaction");
		return 1;
	}
	if (!dlreg__fault_ready()) {
		printf("skip: the scanner's fault handler is not installed here\n");
		return 77;
	}
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	void *page = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	int r = jumps(BUS_ADRERR, page, len);
	if (r < 0) {
		printf("skip: a thread cannot queue itself a SIGBUS with a kernel si_code here\n");
		return 77;
	}
	CHECK(r == 1, "BUS_ADRERR inside the armed range did not jump");
	CHECK(chained_code == -1, "BUS_ADRERR went on to the application's handler");

	r = jumps(BUS_MCEERR_AO, page, len);
	CHECK(r == 0, "BUS_MCEERR_AO inside the armed range %s",
	      r == 1 ? "jumped out of the scope" : "could not be sent");
	CHECK(chained_code == BUS_MCEERR_AO,
	      "BUS_MCEERR_AO did not reach the application's handler (si_code seen: %d)",
	      (int)chained_code);

	/* The range's first and last bytes are the scan's; the bytes around it are not. */
	static const struct {
		intptr_t off;
		int jump;
	} edge[] = {{0, 1}, {-1, 0}, {0, 1}, {1, 0}};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		intptr_t off = i < 2 ? edge[i].off : (intptr_t)len - 1 + edge[i].off;
		chained_code = -1;
		r = jumps_at(BUS_ADRERR, page, len, off);
		CHECK(r == edge[i].jump, "BUS_ADRERR at offset %ld of the armed range: %s", (long)off,
		      r == 1 ? "jumped" : r == 0 ? "did not jump" : "could not be sent");
		CHECK(chained_code == (edge[i].jump ? -1 : BUS_ADRERR),
		      "BUS_ADRERR at offset %ld: the application's handler saw si_code %d", (long)off,
		      (int)chained_code);
	}
	munmap(page, len);
	return check_report("scan_fault_ao");
}
