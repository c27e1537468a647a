/*
 * test_scan_race - scanners against a mutator that truncates, regrows and
 * rewrites the files they are mapping or reading.
 *
 * Every scan must end in valid metadata (exactly the expected JSON) or an
 * error from the allowed set; the process must never die.  The run asserts
 * that both outcomes happened and that the fault scope really caught SIGBUS
 * (dlreg_scan_fault_count), i.e. that the races were real.  One mapping
 * scanner runs with every signal blocked: a scan must take its SIGBUS all
 * the same, and give the thread its mask back.
 *
 * --expect-crash runs the same storm in a child and passes only if the
 * child dies: used with the no_sigbus_guard seeded-bug build, it proves the
 * storm would catch a missing fault guard.
 *
 * Duration: DLREG_TEST_TIER=short (default) 3 s, long 60 s, or --seconds N.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlreg/scan.h"
#include "check.h"

#define NFILES 4
#define NSCANNERS 4
#define J_RACE "{\"name\":\"race\",\"n\":[1,2,3]}"

struct file {
	char path[512];
	unsigned char *content;
	size_t len;
};

static struct file files[NFILES];
static atomic_int stop;
static atomic_ulong n_ok, n_truncated, n_nometa, n_malformed, n_other, n_bad_json, n_mask_lost;
static char tmpdir[256];

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Random filler (never 0xF0, so no stray magic), then the record at the end. */
static void make_content(struct file *f, size_t len, uint64_t seed)
{
	static const unsigned char magic[] = DLREG_METADATA_MAGIC_BYTES;
	const uint32_t jl = (uint32_t)strlen(J_RACE);
	f->len = len;
	f->content = malloc(len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)xorshift(&seed);
		f->content[i] = c == 0xf0 ? 0x0f : c;
	}
	unsigned char *rec = f->content + len - 20 - jl - 7;
	memcpy(rec, magic, 16);
	for (int k = 0; k < 4; k++)
		rec[16 + k] = (unsigned char)(jl >> (8 * k));
	memcpy(rec + 20, J_RACE, jl);
}

static int write_all(int fd, const unsigned char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static void restore(struct file *f, int fd)
{
	if (ftruncate(fd, (off_t)f->len) != 0 || write_all(fd, f->content, f->len, 0) != 0)
		atomic_fetch_add(&n_other, 1000000); /* setup failure: fail loudly */
}

/* One mutation, then the file is made whole again. */
static void mutate(struct file *f, uint64_t *rng)
{
	int fd = open(f->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	uint64_t r = xorshift(rng);
	switch (r % 5) {
	case 0: /* shrink under the mappings, briefly (the SIGBUS case, so the most often) */
	case 2:
	case 3:
		if (ftruncate(fd, (off_t)((r >> 8) % f->len)) == 0)
			usleep((useconds_t)((r >> 40) % 300));
		break;
	case 1: { /* scribble somewhere, maybe over the record */
		unsigned char junk[64];
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = (unsigned char)xorshift(rng);
		size_t at = (size_t)((r >> 8) % (f->len - sizeof junk));
		if (r & 0x100000)
			at = f->len - 48;
		if (write_all(fd, junk, sizeof junk, (off_t)at) == 0)
			usleep((useconds_t)((r >> 40) % 200));
		break;
	}
	default: /* truncate to nothing and rewrite */
		if (ftruncate(fd, 0) == 0)
			usleep((useconds_t)((r >> 40) % 100));
		break;
	}
	restore(f, fd);
	close(fd);
}

static void *mutator(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
	while (!atomic_load(&stop))
		mutate(&files[xorshift(&rng) % NFILES], &rng);
	return NULL;
}

static void count(int rc, const struct dlreg_metadata *m)
{
	switch (rc) {
	case DLREG_OK:
		if (strcmp(m->json, J_RACE) != 0 || m->where != DLREG_META_MARKER)
			atomic_fetch_add(&n_bad_json, 1);
		atomic_fetch_add(&n_ok, 1);
		break;
	case DLREG_ETRUNCATED:
		atomic_fetch_add(&n_truncated, 1);
		break;
	case DLREG_ENOMETA:
		atomic_fetch_add(&n_nometa, 1);
		break;
	case DLREG_EMALFORMED:
		atomic_fetch_add(&n_malformed, 1);
		break;
	default:
		fprintf(stderr, "unexpected result %s (%s)\n", dlreg_strerror(rc),
		        dlreg_errdetail());
		atomic_fetch_add(&n_other, 1);
	}
}

static void *scanner(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;
	/* Two scanners map (the SIGBUS path), one reads (the short-read path)
	 * and one lets auto choose, on files the mutator leaves cached or
	 * rewritten: its first-page, cachestat and header-pass paths. */
	static const enum dlreg_scan_backend backend[NSCANNERS] = {
	        DLREG_SCAN_MMAP, DLREG_SCAN_MMAP, DLREG_SCAN_READ, DLREG_SCAN_AUTO};
	struct dlreg_scan_options o = {.backend = backend[(uintptr_t)arg],
	                               .read_buf_size = DLREG_SCAN_READ_BUF_MIN};
	/*
	 * The second mapping scanner blocks every signal, as a thread that
	 * leaves them to a sigwait thread does: the kernel would kill the
	 * process for a SIGBUS it cannot deliver, unless the scan unblocks
	 * it, and the scan must leave the mask as it found it.
	 */
	sigset_t all, now;
	int blocked = (uintptr_t)arg == 1;
	sigfillset(&all);
	if (blocked)
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&stop)) {
		struct dlreg_metadata *m = NULL;
		int rc = dlreg_scan_file(files[xorshift(&rng) % NFILES].path, &o, &m);
		count(rc, m);
		dlreg_metadata_free(m);
		if (blocked && (pthread_sigmask(SIG_BLOCK, NULL, &now) != 0 ||
		                !sigismember(&now, SIGBUS) || !sigismember(&now, SIGSEGV)))
			atomic_fetch_add(&n_mask_lost, 1);
	}
	return NULL;
}

static int storm(double seconds)
{
	pthread_t mt, st[NSCANNERS];
	uint64_t faults0 = dlreg_scan_fault_count();
	pthread_create(&mt, NULL, mutator, (void *)(uintptr_t)0x1234567);
	for (uintptr_t i = 0; i < NSCANNERS; i++)
		pthread_create(&st[i], NULL, scanner, (void *)i);
	double end = now_s() + seconds;
	while (now_s() < end)
		usleep(20000);
	atomic_store(&stop, 1);
	pthread_join(mt, NULL);
	for (int i = 0; i < NSCANNERS; i++)
		pthread_join(st[i], NULL);
	uint64_t faults = dlreg_scan_fault_count() - faults0;
	unsigned long ok = atomic_load(&n_ok), tr = atomic_load(&n_truncated);
	unsigned long errs = tr + atomic_load(&n_nometa) + atomic_load(&n_malformed);
	printf("SUMMARY seconds=%.0f scans=%lu ok=%lu truncated=%lu nometa=%lu malformed=%lu "
	       "faults_caught=%llu other=%lu bad_json=%lu\n",
	       seconds, ok + errs + atomic_load(&n_other), ok, tr, atomic_load(&n_nometa),
	       atomic_load(&n_malformed), (unsigned long long)faults, atomic_load(&n_other),
	       atomic_load(&n_bad_json));
	CHECK(ok > 0, "no scan succeeded");
	CHECK(errs > 0, "no scan failed: the mutator never got in the way");
	CHECK(faults > 0, "no SIGBUS was caught: the mapping races did not happen");
	CHECK(atomic_load(&n_other) == 0, "unexpected results");
	CHECK(atomic_load(&n_bad_json) == 0, "successful scans with wrong metadata");
	CHECK(atomic_load(&n_mask_lost) == 0, "%lu scans unblocked SIGBUS or SIGSEGV for good",
	      atomic_load(&n_mask_lost));
	return faults > 0 ? 0 : 1;
}

/* The seeded build must die in the storm; a survivor means the storm is blind. */
static int expect_crash(double seconds)
{
	pid_t pid = fork();
	if (pid == 0) {
		storm(seconds);
		_exit(0);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	int died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
	printf("child %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited with",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	CHECK(died, "the storm survived without a fault guard");
	return 0;
}

static double tier_seconds(void)
{
	const char *t = getenv("DLREG_TEST_TIER");
	return t && strcmp(t, "long") == 0 ? 60.0 : 3.0;
}

int main(int argc, char **argv)
{
	double seconds = tier_seconds();
	int crash = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: test_scan_race [--seconds N] [--expect-crash]\n");
			return 0;
		} else if (strcmp(argv[i], "--expect-crash") == 0) {
			crash = 1;
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else {
			fprintf(stderr, "test_scan_race: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/dlreg-scan-race-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "test_scan_race: cannot create a temporary directory\n");
		return 2;
	}
	/* Around auto's thresholds: 64 KiB, 128 KiB-2 MiB, from 2 MiB. */
	static const size_t sizes[NFILES] = {64 * 1024, 256 * 1024, 1024 * 1024 + 333,
	                                     2560 * 1024};
	for (int i = 0; i < NFILES; i++) {
		snprintf(files[i].path, sizeof files[i].path, "%s/f%d", tmpdir, i);
		make_content(&files[i], sizes[i], 0x5eed0000u + (uint64_t)i);
		int fd = open(files[i].path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write_all(fd, files[i].content, files[i].len, 0) != 0) {
			fprintf(stderr, "test_scan_race: cannot write test files\n");
			return 2;
		}
		close(fd);
	}
	if (crash)
		expect_crash(seconds);
	else
		storm(seconds);
	for (int i = 0; i < NFILES; i++) {
		unlink(files[i].path);
		free(files[i].content);
	}
	rmdir(tmpdir);
	return check_report("scan_race");
}
