// shim_register_oom.cc - dlreg_bench_register under allocation failure.
//
// The Nth allocation after arming fails (std::bad_alloc), for N = 1, 2, ...
// until a registration needs fewer than N.  Each registration gets its own
// name and a body that records that it ran.  The contract checked: NULL
// from dlreg_bench_register means the benchmark is not registered (it does
// not run); a handle means it is, and its builders apply.
#include "dlreg_bench.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

long fail_in = 0; // > 0: the fail_in-th allocation from now fails

void *allocate(std::size_t n)
{
	if (fail_in > 0 && --fail_in == 0)
		throw std::bad_alloc();
	if (void *p = std::malloc(n ? n : 1))
		return p;
	throw std::bad_alloc();
}

constexpr int kMax = 200;
bool ran[kMax];

void body(dlreg_bench_state_t *st, void *data)
{
	ran[reinterpret_cast<std::size_t>(data)] = true;
	while (dlreg_bench_keep_running(st)) {
	}
}

} // namespace

void *operator new(std::size_t n) { return allocate(n); }
void *operator new[](std::size_t n) { return allocate(n); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

int main(int argc, char **argv)
{
	if (argc > 1 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
		std::printf("usage: %s\nRegisters benchmarks while the Nth allocation fails, N = 1, "
		            "2, ...,\nand checks that exactly those whose registration returned a "
		            "handle run.\n",
		            argv[0]);
		return 0;
	}
	char prog[] = "shim-register-oom";
	char flag[] = "--benchmark_min_time=0.001";
	char quiet[] = "--benchmark_format=json";
	char *args[] = {prog, flag, quiet, nullptr};
	int nargs = 3;
	if (dlreg_bench_initialize(&nargs, args, nullptr) != 0)
		return 1;
	dlreg_bench_t *handle[kMax] = {};
	int n = 1;
	for (; n < kMax; n++) {
		std::string name = "oom/" + std::to_string(n);
		fail_in = n;
		handle[n] = dlreg_bench_register(name.c_str(), body, reinterpret_cast<void *>(n));
		bool failed = fail_in == 0;
		fail_in = 0;
		if (handle[n] && !dlreg_bench_iterations(handle[n], 1)) {
			std::fprintf(stderr, "%s: %s: iterations refused\n", prog, name.c_str());
			return 1;
		}
		if (!failed)
			break; // this registration took fewer than n allocations
	}
	if (n == kMax) {
		std::fprintf(stderr, "%s: every registration up to %d allocations failed\n", prog, kMax);
		return 1;
	}
	if (dlreg_bench_run() == DLREG_BENCH_RUN_FAILED)
		return 1;
	dlreg_bench_shutdown();
	int bad = 0, refused = 0;
	for (int i = 1; i <= n; i++) {
		refused += !handle[i];
		if (!handle[i] != !ran[i]) {
			std::fprintf(stderr, "%s: oom/%d: register returned %s, the benchmark %s\n",
			             prog, i, handle[i] ? "a handle" : "NULL",
			             ran[i] ? "ran" : "did not run");
			bad++;
		}
	}
	std::fprintf(stderr, "%s: %d registrations, %d refused (NULL), %d wrong\n", prog, n,
	             refused, bad);
	return bad || refused == 0 ? 1 : 0;
}
