// shim.cc - the only C++ in the benchmarks: dlreg_bench.h over Google
// Benchmark 1.7.1.  Handles are the Google objects themselves, cast; no
// wrapper allocation stands between a C body and benchmark::State.
#include "dlreg_bench.h"

#include <benchmark/benchmark.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace
{

using benchmark::State;
using benchmark::internal::Benchmark;

State *state_of(dlreg_bench_state_t *st)
{
	return reinterpret_cast<State *>(st);
}

const State *state_of(const dlreg_bench_state_t *st)
{
	return reinterpret_cast<const State *>(st);
}

const dlreg_bench_state_t *handle_of(const State &st)
{
	return reinterpret_cast<const dlreg_bench_state_t *>(&st);
}

Benchmark *bench_of(dlreg_bench_t *b)
{
	return reinterpret_cast<Benchmark *>(b);
}

dlreg_bench_t *handle_of(Benchmark *b)
{
	return reinterpret_cast<dlreg_bench_t *>(b);
}

// --- families and runs -----------------------------------------------------
//
// Google Benchmark checks builder calls against each other and aborts on a
// conflict (BM_CHECK): every argument list must have the same length, and
// argument names that length; MinTime and MinWarmUpTime exclude
// Iterations (a warm-up of 0 s excludes only later ones), and UseRealTime
// excludes UseManualTime.  The shim keeps what it needs to refuse such a call with
// NULL instead.  Families live until exit, like Google's, and are freed
// then: a leak checker must not report them.

constexpr size_t kNoSlot = DLREG_BENCH_CALLBACK_SLOTS;

struct family {
	std::string name;
	int width = -1; // length of the argument lists given so far, -1 none
	int names = -1; // number of argument names given, -1 none
	bool min_time = false, iterations = false, real_time = false, manual_time = false;
	bool warmup = false; // a MinWarmUpTime above 0 is in force
	// The family's setup and teardown slots (below), claimed by its first
	// setup or teardown call and reused by later ones; kNoSlot until then.
	// Written under slot_lock.
	size_t setup_slot = kNoSlot, teardown_slot = kNoSlot;

	// Benchmark::ArgsCnt() of 1.7.1.
	int args_count() const
	{
		return width >= 0 ? width : names;
	}
	bool takes_args(size_t n) const
	{
		return args_count() == -1 || static_cast<size_t>(args_count()) == n;
	}
};

std::mutex family_lock;
// Owns every family; a list, so that adding one moves none (bodies and
// hooks hold pointers to them).
std::list<family> family_store;
std::unordered_map<Benchmark *, family *> families;

family *family_of(dlreg_bench_t *b)
{
	if (!b)
		return nullptr;
	std::lock_guard<std::mutex> guard(family_lock);
	auto it = families.find(bench_of(b));
	return it == families.end() ? nullptr : it->second;
}

// What the shim knows about the body or hook running on this thread: the
// State it was handed, its family, and the iterations the loop granted.
// State::iterations() cannot say the last: after SkipWithError it reports
// max_iterations.
struct run_record {
	const State *st;
	const family *fam;
	int64_t granted;
};

thread_local run_record *tl_run;

struct run_scope {
	run_record rec;
	run_record *saved;
	run_scope(const State &st, const family *fam) : rec{&st, fam, 0}, saved(tl_run)
	{
		tl_run = &rec;
	}
	~run_scope()
	{
		tl_run = saved;
	}
	run_scope(const run_scope &) = delete;
	run_scope &operator=(const run_scope &) = delete;
};

run_record *record_of(const State *st)
{
	return tl_run && tl_run->st == st ? tl_run : nullptr;
}

// --- callback slots ------------------------------------------------------
//
// Google Benchmark stores Setup/Teardown/statistics as bare function
// pointers.  Slot i of a table is served by trampoline<i>, a separate
// function, so the slot index travels inside the pointer itself.  A family
// owns at most one slot of each hook table: Google keeps only its last
// Setup (Teardown), so a replacement rewrites the family's slot.  Each
// statistic is kept, so each one claims a slot.

constexpr size_t kSlots = DLREG_BENCH_CALLBACK_SLOTS;

struct hook_slot {
	dlreg_bench_hook_fn *fn;
	void *data;
	const family *fam;
};

struct stat_slot {
	dlreg_bench_stat_fn *fn;
	void *data;
};

std::mutex slot_lock;
hook_slot setup_slots[kSlots];
hook_slot teardown_slots[kSlots];
stat_slot stat_slots[kSlots];
size_t setup_used, teardown_used, stat_used;

using hook_ptr = void (*)(const State &);
using stat_ptr = double (*)(const std::vector<double> &);

template <hook_slot *Table, size_t I> void hook_trampoline(const State &st)
{
	run_scope scope(st, Table[I].fam);
	Table[I].fn(handle_of(st), Table[I].data);
}

template <size_t I> double stat_trampoline(const std::vector<double> &v)
{
	return stat_slots[I].fn(v.data(), v.size(), stat_slots[I].data);
}

template <hook_slot *Table, size_t... I>
constexpr std::array<hook_ptr, sizeof...(I)> make_hooks(std::index_sequence<I...>)
{
	return {{&hook_trampoline<Table, I>...}};
}

template <size_t... I>
constexpr std::array<stat_ptr, sizeof...(I)> make_stats(std::index_sequence<I...>)
{
	return {{&stat_trampoline<I>...}};
}

constexpr auto setup_trampolines = make_hooks<setup_slots>(std::make_index_sequence<kSlots>{});
constexpr auto teardown_trampolines =
        make_hooks<teardown_slots>(std::make_index_sequence<kSlots>{});
constexpr auto stat_trampolines = make_stats(std::make_index_sequence<kSlots>{});

// Claims the next free slot of a table; kSlots when none is left.
size_t slot_claim(size_t *used)
{
	std::lock_guard<std::mutex> guard(slot_lock);
	if (*used == kSlots)
		return kSlots;
	return (*used)++;
}

// Points a family's slot of a hook table (*own, the family's setup_slot or
// teardown_slot) at (fn, data), claiming the table's next free slot if the
// family has none yet.  Returns the slot, or kSlots when the family has
// none and none is left; then nothing changes.
size_t hook_slot_set(hook_slot *table, size_t *used, size_t *own, const family *fam,
                     dlreg_bench_hook_fn *fn, void *data)
{
	std::lock_guard<std::mutex> guard(slot_lock);
	if (*own == kNoSlot) {
		if (*used == kSlots)
			return kSlots;
		*own = (*used)++;
	}
	table[*own] = hook_slot{fn, data, fam};
	return *own;
}

// --- flag validation -------------------------------------------------------

// Value of --name=VALUE or -name=VALUE in arg, or nullptr.
const char *flag_value(const char *arg, const char *name)
{
	if (arg[0] != '-')
		return nullptr;
	arg += (arg[1] == '-') ? 2 : 1;
	size_t len = std::strlen(name);
	if (std::strncmp(arg, name, len) != 0 || arg[len] != '=')
		return nullptr;
	return arg + len + 1;
}

bool format_valid(const char *v)
{
	return !std::strcmp(v, "console") || !std::strcmp(v, "json") || !std::strcmp(v, "csv");
}

// The most repetitions, for --benchmark_repetitions and Repetitions():
// Google Benchmark reserves room for every repetition up front, so a huge
// count aborts on allocation.
constexpr long kRepetitionsMax = DLREG_BENCH_REPETITIONS_MAX;

bool parse_long(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long x = std::strtol(v, &end, 10);
	if (errno || end == v || *end || std::isspace(static_cast<unsigned char>(*v)) || x < lo ||
	    x > hi)
		return false;
	*out = x;
	return true;
}

// Seconds as Google Benchmark 1.7.1 reads them: a plain decimal number.
bool parse_seconds(const char *v, bool zero_ok)
{
	char *end;
	errno = 0;
	double x = std::strtod(v, &end);
	if (errno || end == v || *end || std::isspace(static_cast<unsigned char>(*v)) ||
	    !std::isfinite(x) || x < 0 || (x == 0 && !zero_ok) || x > 1e6)
		return false;
	return true;
}

// Google Benchmark reads --benchmark_filter as a POSIX extended regular
// expression; a leading '-' negates it.  It reports a bad one only when the
// benchmarks run, and then runs nothing and lets the program succeed.
bool filter_valid(const char *v, std::string *why)
{
	if (*v == '-')
		v++;
	try {
		std::regex re(v, std::regex_constants::extended);
	} catch (const std::regex_error &e) {
		*why = e.what();
		return false;
	}
	return true;
}

// Context keys Google Benchmark's JSON reporter writes itself: a custom
// one of the same name would make the "context" object repeat a key.
const char *const kBuiltinContext[] = {"date",        "host_name",           "executable",
                                       "num_cpus",    "mhz_per_cpu",         "cpu_scaling_enabled",
                                       "caches",      "load_avg",            "library_build_type"};

bool context_builtin(const std::string &key)
{
	for (const char *builtin : kBuiltinContext)
		if (key == builtin)
			return true;
	return false;
}

// --benchmark_context=KEY=VALUE[,KEY=VALUE...]; Google Benchmark leaves a
// malformed list in argv, where it reads as an unknown argument.  Of a key
// given twice (in one flag or across several) it silently keeps the first
// value, and one of its own keys (host_name, ...) ends up twice in the
// JSON "context" object, where a reader takes the forged value.  Keys are
// collected into *keys across flags.
bool context_valid(const char *v, std::set<std::string> *keys, std::string *why)
{
	std::string s(v);
	size_t start = 0;
	if (s.empty())
		return true;
	for (;;) {
		size_t comma = s.find(',', start);
		std::string item =
		        s.substr(start, comma == std::string::npos ? comma : comma - start);
		size_t eq = item.find('=');
		if (eq == std::string::npos || item.find('=', eq + 1) != std::string::npos)
			return false;
		std::string key = item.substr(0, eq);
		if (key.empty()) {
			*why = "empty key";
			return false;
		}
		if (context_builtin(key)) {
			*why = "'" + key + "' is written by Google Benchmark itself";
			return false;
		}
		if (!keys->insert(key).second) {
			*why = "key '" + key + "' given twice";
			return false;
		}
		if (comma == std::string::npos)
			return true;
		start = comma + 1;
	}
}

// The file --benchmark_out names must be writable: Google Benchmark finds
// out only when the benchmarks run, and then runs none.
bool out_writable(const char *path, std::string *why)
{
	if (!*path)
		return true;
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			*why = "a directory";
			return false;
		}
		if (access(path, W_OK) == 0)
			return true;
	} else if (errno == ENOENT) {
		std::string dir(path);
		size_t slash = dir.rfind('/');
		dir = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
		if (access(dir.c_str(), W_OK | X_OK) == 0)
			return true;
		*why = "directory '" + dir + "': " + std::strerror(errno);
		return false;
	}
	*why = std::strerror(errno);
	return false;
}

int flag_error(const char *prog, const char *name, const char *want, const char *v,
               const std::string &why = std::string())
{
	std::fprintf(stderr, "%s: --%s %s, not '%s'%s%s\n", prog, name, want, v,
	             why.empty() ? "" : ": ", why.c_str());
	return DLREG_BENCH_EINVAL;
}

// Checks one --benchmark_* flag's value before Google Benchmark sees it:
// the library aborts on some bad values (a negative repetition count),
// prints its help and exits 0 on others (an unknown time unit or format),
// and leaves the rest in argv, where they read as unknown arguments.
int flag_check(const char *prog, const char *arg, std::set<std::string> *context)
{
	static const char *const valued[] = {
	        "benchmark_filter",      "benchmark_min_time",  "benchmark_min_warmup_time",
	        "benchmark_repetitions", "benchmark_format",    "benchmark_out",
	        "benchmark_out_format",  "benchmark_color",     "benchmark_perf_counters",
	        "benchmark_context",     "benchmark_time_unit", "v"};
	long n;
	std::string why;
	const char *v;

	for (const char *name : valued) {
		if (arg[0] == '-' && arg[1] == '-' && !std::strcmp(arg + 2, name)) {
			std::fprintf(stderr, "%s: --%s needs a value: --%s=VALUE\n", prog, name,
			             name);
			return DLREG_BENCH_EINVAL;
		}
	}
	if ((v = flag_value(arg, "benchmark_repetitions")) &&
	    !parse_long(v, 1, kRepetitionsMax, &n)) {
		std::string want = "wants an integer in 1.." + std::to_string(kRepetitionsMax);
		return flag_error(prog, "benchmark_repetitions", want.c_str(), v);
	}
	if ((v = flag_value(arg, "benchmark_min_time")) && !parse_seconds(v, false))
		return flag_error(prog, "benchmark_min_time",
		                  "wants seconds above 0 (up to 1e6), as a plain number", v);
	if ((v = flag_value(arg, "benchmark_min_warmup_time")) && !parse_seconds(v, true))
		return flag_error(prog, "benchmark_min_warmup_time",
		                  "wants seconds, 0 to 1e6, as a plain number", v);
	if ((v = flag_value(arg, "v")) && !parse_long(v, INT32_MIN, INT32_MAX, &n))
		return flag_error(prog, "v", "wants an integer", v);
	if ((v = flag_value(arg, "benchmark_time_unit")) && *v && std::strcmp(v, "ns") &&
	    std::strcmp(v, "us") && std::strcmp(v, "ms") && std::strcmp(v, "s"))
		return flag_error(prog, "benchmark_time_unit", "must be ns, us, ms or s", v);
	if ((v = flag_value(arg, "benchmark_color")) && !*v)
		return flag_error(prog, "benchmark_color", "must be auto, true or false", v);
	if ((v = flag_value(arg, "benchmark_context")) && !context_valid(v, context, &why))
		return flag_error(prog, "benchmark_context",
		                  "wants KEY=VALUE[,KEY=VALUE...], each key once", v, why);
	if ((v = flag_value(arg, "benchmark_filter")) && !filter_valid(v, &why))
		return flag_error(prog, "benchmark_filter",
		                  "wants a POSIX extended regular expression", v, why);
	if ((v = flag_value(arg, "benchmark_out")) && !out_writable(v, &why))
		return flag_error(prog, "benchmark_out", "wants a writable file", v, why);
	for (const char *name : {"benchmark_format", "benchmark_out_format"}) {
		if ((v = flag_value(arg, name)) && !format_valid(v))
			return flag_error(prog, name, "must be console, json or csv", v);
	}
	return DLREG_BENCH_OK;
}

// --benchmark_out and --benchmark_out_format as Google Benchmark reads
// them: defaults from BENCHMARK_OUT and BENCHMARK_OUT_FORMAT, then the
// command line ("--" only, the last one wins); an empty file name is no
// file.
std::string out_file;
std::string out_format;

// *out_env, *format_env: the value came from the environment.
void out_flags_note(int argc, char **argv, bool *out_env, bool *format_env)
{
	static const char kOut[] = "--benchmark_out=";
	static const char kFormat[] = "--benchmark_out_format=";
	const char *env_out = std::getenv("BENCHMARK_OUT");
	const char *env_format = std::getenv("BENCHMARK_OUT_FORMAT");
	out_file = env_out ? env_out : "";
	out_format = env_format ? env_format : "json";
	*out_env = env_out != nullptr;
	*format_env = env_format != nullptr;
	for (int i = 1; i < argc; i++) {
		if (!std::strncmp(argv[i], kOut, sizeof(kOut) - 1)) {
			out_file = argv[i] + sizeof(kOut) - 1;
			*out_env = false;
		} else if (!std::strncmp(argv[i], kFormat, sizeof(kFormat) - 1)) {
			out_format = argv[i] + sizeof(kFormat) - 1;
			*format_env = false;
		}
	}
}

// Every --benchmark_* flag is checked before Google Benchmark parses them;
// *context receives the keys --benchmark_context gives, out_file and
// out_format the report's file and format.
int flags_check(int argc, char **argv, std::set<std::string> *context)
{
	const char *slash = argc > 0 ? std::strrchr(argv[0], '/') : nullptr;
	const char *prog = slash ? slash + 1 : argc > 0 ? argv[0] : "benchmark";

	for (int i = 1; i < argc; i++) {
		int err = flag_check(prog, argv[i], context);
		if (err)
			return err;
	}
	// The flags are checked above; what the environment gave is checked here.
	bool out_env, format_env;
	out_flags_note(argc, argv, &out_env, &format_env);
	std::string why;
	if (out_env && !out_writable(out_file.c_str(), &why)) {
		std::fprintf(stderr, "%s: BENCHMARK_OUT wants a writable file, not '%s': %s\n", prog,
		             out_file.c_str(), why.c_str());
		return DLREG_BENCH_EINVAL;
	}
	if (format_env && !format_valid(out_format.c_str())) {
		std::fprintf(stderr, "%s: BENCHMARK_OUT_FORMAT must be console, json or csv, not '%s'\n",
		             prog, out_format.c_str());
		return DLREG_BENCH_EINVAL;
	}
	return DLREG_BENCH_OK;
}

// -h or --help anywhere (Google Benchmark itself knows only --help).
bool help_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

// The value a C caller passed for an enum parameter.  C lets an enum hold
// any value of its integer type; in C++ one outside the enumerators' range
// is undefined (UBSan reports loading it, and -fstrict-enums folds range
// checks away), so a check of the caller's value reads its bytes.
template <class E> int enum_value(const E &e)
{
	static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
	int v;
	std::memcpy(&v, &e, sizeof(v));
	return v;
}

benchmark::Counter::Flags counter_flags(unsigned flags)
{
	int f = benchmark::Counter::kDefaults;
	if (flags & DLREG_BENCH_COUNTER_RATE)
		f |= benchmark::Counter::kIsRate;
	if (flags & DLREG_BENCH_COUNTER_AVG_THREADS)
		f |= benchmark::Counter::kAvgThreads;
	if (flags & DLREG_BENCH_COUNTER_ITERATION_INVARIANT)
		f |= benchmark::Counter::kIsIterationInvariant;
	if (flags & DLREG_BENCH_COUNTER_AVG_ITERATIONS)
		f |= benchmark::Counter::kAvgIterations;
	if (flags & DLREG_BENCH_COUNTER_INVERT)
		f |= benchmark::Counter::kInvert;
	return static_cast<benchmark::Counter::Flags>(f);
}

constexpr unsigned kCounterFlagsAll = DLREG_BENCH_COUNTER_RATE | DLREG_BENCH_COUNTER_AVG_THREADS |
                                      DLREG_BENCH_COUNTER_ITERATION_INVARIANT |
                                      DLREG_BENCH_COUNTER_AVG_ITERATIONS |
                                      DLREG_BENCH_COUNTER_INVERT | DLREG_BENCH_COUNTER_BASE_1024;

// Runs a builder step on a family registered here, turning a null or
// unknown handle, a call Google Benchmark would abort on (valid(family) is
// false) or an allocation failure into nullptr, so a C caller checks a
// chain once.  step records in the family what it changed.
template <class V, class F> dlreg_bench_t *build_checked(dlreg_bench_t *b, V &&valid, F &&step)
{
	family *f = family_of(b);
	if (!f || !valid(*f))
		return nullptr;
	try {
		step(bench_of(b), *f);
	} catch (...) {
		return nullptr;
	}
	return b;
}

// The same for a step that no earlier builder call can conflict with.
template <class F> dlreg_bench_t *build(dlreg_bench_t *b, bool valid, F &&step)
{
	return build_checked(
	        b, [valid](const family &) { return valid; },
	        [&step](Benchmark *g, family &) { step(g); });
}

// Short enough for std::string's inline buffer: storing it allocates nothing.
constexpr const char *kOutOfMemory = "out of memory";

// The message of the exception being handled: call only in a catch block,
// and use the text only there (it may live in the exception object).
// Allocates nothing.
const char *error_text() noexcept
{
	try {
		throw;
	} catch (const std::bad_alloc &) {
		return kOutOfMemory;
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unknown error";
	}
}

// Google Benchmark threw inside KeepRunning or KeepRunningBatch (it
// allocates as the loop stops when it reads --benchmark_perf_counters).
// The run fails with the error, and one more KeepRunning ends the loop as
// after any SkipWithError: it grants nothing, stops the run and meets the
// other threads at the stop barrier.  Returns false, for the loop.
bool loop_failed(dlreg_bench_state_t *st, const char *why)
{
	dlreg_bench_skip_with_error(st, why);
	try {
		state_of(st)->KeepRunning();
	} catch (...) {
		// With the error set it skips the pause that allocates; should it
		// throw all the same, the loop still ends here.
	}
	return false;
}

std::mutex context_lock;
// Keys in the report's context so far: those --benchmark_context gave
// (context_flag_keys too) and those dlreg_bench_context_add added.
std::set<std::string> context_keys;
std::set<std::string> context_flag_keys;
std::string context_prog = "benchmark";

// Runs marked failed (dlreg_bench_skip_with_error), on any thread.
std::atomic<size_t> run_errors{0};

// The --benchmark_out report as Google Benchmark writes it, with the one
// check it leaves out: it writes through an ofstream whose state nobody
// reads, so a full disk or a quota lost the report and the run said
// nothing.  Finalize comes after the last line; flushing there puts any
// write error in the stream's state (the close after it has nothing left
// to write).
template <class Reporter> class checked_file : public Reporter {
public:
	template <class... Args> explicit checked_file(Args... args) : Reporter(args...) {}
	void Finalize() override
	{
		Reporter::Finalize();
		errno = 0;
		this->GetOutputStream().flush();
		if (!this->GetOutputStream().good())
			error = errno ? errno : -1;
	}
	int error = 0; // errno of the failed write, -1 when unknown
};

// The file reporter for out_format, or nullptr for no --benchmark_out.
// *error points at its write error once the run has finished.
std::unique_ptr<benchmark::BenchmarkReporter> file_reporter(const int **error)
{
	std::unique_ptr<benchmark::BenchmarkReporter> r;
	if (out_file.empty())
		return r;
	if (out_format == "console") {
		auto *c = new checked_file<benchmark::ConsoleReporter>(
		        benchmark::ConsoleReporter::OO_None);
		*error = &c->error;
		r.reset(c);
	} else if (out_format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		auto *c = new checked_file<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
		*error = &c->error;
		r.reset(c);
	} else {
		auto *c = new checked_file<benchmark::JSONReporter>();
		*error = &c->error;
		r.reset(c);
	}
	return r;
}

} // namespace

extern "C" {

int dlreg_bench_initialize(int *argc, char **argv, void (*help)(void))
{
	if (!argc || !argv)
		return DLREG_BENCH_EINVAL;
	if (help_wanted(*argc, argv)) {
		(help ? help : benchmark::PrintDefaultHelp)();
		if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
			std::fprintf(stderr, "%s: cannot write to stdout: %s\n", argv[0],
			             std::strerror(errno));
			std::exit(1);
		}
		std::exit(0);
	}
	try {
		std::set<std::string> flag_keys;
		int err = flags_check(*argc, argv, &flag_keys);
		if (err)
			return err;
		const char *slash = *argc > 0 ? std::strrchr(argv[0], '/') : nullptr;
		std::lock_guard<std::mutex> guard(context_lock);
		if (*argc > 0)
			context_prog = slash ? slash + 1 : argv[0];
		// Google Benchmark adds these to the context during Initialize, so
		// dlreg_bench_context_add must refuse them from now on.
		context_keys.insert(flag_keys.begin(), flag_keys.end());
		context_flag_keys.insert(flag_keys.begin(), flag_keys.end());
	} catch (...) {
		return DLREG_BENCH_ENOMEM;
	}
	try {
		// Copies the flags into strings and the context into a map.
		benchmark::Initialize(argc, argv, help ? help : benchmark::PrintDefaultHelp);
	} catch (...) {
		return DLREG_BENCH_ENOMEM;
	}
	return DLREG_BENCH_OK;
}

void dlreg_bench_print_default_help(void)
{
	benchmark::PrintDefaultHelp();
}

// Google Benchmark reports its own failures by throwing (std::bad_alloc,
// std::system_error when it cannot start a benchmark's threads); one that
// reached C would end the program in std::terminate.
size_t dlreg_bench_run(void)
{
	try {
		const int *error = nullptr;
		std::unique_ptr<benchmark::BenchmarkReporter> file = file_reporter(&error);
		size_t ran = benchmark::RunSpecifiedBenchmarks(nullptr, file.get());
		if (error && *error) {
			std::lock_guard<std::mutex> guard(context_lock);
			std::fprintf(stderr, "%s: cannot write --benchmark_out %s: %s\n",
			             context_prog.c_str(), out_file.c_str(),
			             *error > 0 ? std::strerror(*error) : "write error");
			return DLREG_BENCH_RUN_FAILED;
		}
		return ran;
	} catch (...) {
		const char *why = error_text();
		std::lock_guard<std::mutex> guard(context_lock);
		std::fprintf(stderr, "%s: benchmark run failed: %s\n", context_prog.c_str(), why);
		return DLREG_BENCH_RUN_FAILED;
	}
}

void dlreg_bench_shutdown(void)
{
	benchmark::Shutdown();
}

int dlreg_bench_stdout_check(const char *prog)
{
	int err = std::fflush(stdout) != 0 ? errno : 0;
	if (!err && !std::ferror(stdout))
		return DLREG_BENCH_OK;
	std::fprintf(stderr, "%s: cannot write to stdout: %s\n", prog ? prog : "dlreg-bench",
	             err ? std::strerror(err) : "write error");
	return DLREG_BENCH_EIO;
}

int dlreg_bench_context_add(const char *key, const char *value)
{
	if (!key || !*key || !value)
		return DLREG_BENCH_EINVAL;
	for (const char *builtin : kBuiltinContext)
		if (!std::strcmp(key, builtin))
			return DLREG_BENCH_EINVAL;
	std::lock_guard<std::mutex> guard(context_lock);
	bool inserted = false;
	std::set<std::string>::iterator it;
	try {
		// Google Benchmark keeps the first value of a repeated key and
		// only prints a warning: refuse the second here instead.
		std::tie(it, inserted) = context_keys.insert(key);
		if (!inserted) {
			// Only the shim knows where the first one came from.
			if (context_flag_keys.count(*it))
				std::fprintf(stderr,
				             "%s: --benchmark_context sets '%s', which this program "
				             "reports itself\n",
				             context_prog.c_str(), key);
			return DLREG_BENCH_EINVAL;
		}
		benchmark::AddCustomContext(key, value);
	} catch (...) {
		if (inserted)
			context_keys.erase(it);
		return DLREG_BENCH_ENOMEM;
	}
	return DLREG_BENCH_OK;
}

dlreg_bench_t *dlreg_bench_register(const char *name, dlreg_bench_fn *fn, void *data)
{
	if (!name || !*name || !fn)
		return nullptr;
	std::list<family> one;
	try {
		one.emplace_back();
		family *fam = &one.back();
		fam->name = name;
		auto body = [fn, data, fam](State &st) {
			run_scope scope(st, fam);
			fn(reinterpret_cast<dlreg_bench_state_t *>(&st), data);
		};
		// Google Benchmark cannot forget a benchmark: everything that
		// can fail comes before RegisterBenchmark, or a NULL return
		// would leave a benchmark registered without its builders.
		// The map's node is allocated here and its buckets reserved,
		// so the insert after it allocates nothing.
		std::unordered_map<Benchmark *, family *> node_home;
		node_home.emplace(nullptr, fam);
		auto node = node_home.extract(node_home.begin());
		std::lock_guard<std::mutex> guard(family_lock);
		families.reserve(families.size() + 1);
		Benchmark *g = benchmark::RegisterBenchmark(name, body);
		// Google now holds the body, which points to fam: from here
		// nothing throws (splice neither throws nor moves the family;
		// a node insert into reserved buckets does not allocate).
		family_store.splice(family_store.end(), one);
		node.key() = g;
		families.insert(std::move(node));
		return handle_of(g);
	} catch (...) {
		return nullptr;
	}
}

dlreg_bench_t *dlreg_bench_arg(dlreg_bench_t *b, int64_t x)
{
	return build_checked(
	        b, [](const family &f) { return f.takes_args(1); },
	        [&](Benchmark *g, family &f) {
		        g->Arg(x);
		        f.width = 1;
	        });
}

dlreg_bench_t *dlreg_bench_args(dlreg_bench_t *b, const int64_t *args, size_t n)
{
	return build_checked(
	        b, [&](const family &f) { return args && n && n <= INT_MAX && f.takes_args(n); },
	        [&](Benchmark *g, family &f) {
		        g->Args(std::vector<int64_t>(args, args + n));
		        f.width = static_cast<int>(n);
	        });
}

dlreg_bench_t *dlreg_bench_range(dlreg_bench_t *b, int64_t lo, int64_t hi)
{
	// 1.7.1 takes negative bounds too (and spaces them out by the same
	// multiplier on either side of 0).
	return build_checked(
	        b, [&](const family &f) { return lo <= hi && f.takes_args(1); },
	        [&](Benchmark *g, family &f) {
		        g->Range(lo, hi);
		        f.width = 1;
	        });
}

dlreg_bench_t *dlreg_bench_range_multiplier(dlreg_bench_t *b, int multiplier)
{
	return build(b, multiplier > 1, [&](Benchmark *g) { g->RangeMultiplier(multiplier); });
}

dlreg_bench_t *dlreg_bench_ranges(dlreg_bench_t *b, const int64_t (*lo_hi)[2], size_t n)
{
	bool valid = lo_hi && n && n <= INT_MAX;
	for (size_t i = 0; valid && i < n; i++)
		valid = lo_hi[i][0] <= lo_hi[i][1];
	return build_checked(
	        b, [&](const family &f) { return valid && f.takes_args(n); },
	        [&](Benchmark *g, family &f) {
		        std::vector<std::pair<int64_t, int64_t>> r;
		        for (size_t i = 0; i < n; i++)
			        r.emplace_back(lo_hi[i][0], lo_hi[i][1]);
		        g->Ranges(r);
		        f.width = static_cast<int>(n);
	        });
}

dlreg_bench_t *dlreg_bench_dense_range(dlreg_bench_t *b, int64_t lo, int64_t hi, int step)
{
	// Google's loop adds step until it passes hi: that must not overflow.
	bool valid = lo <= hi && step > 0 && hi <= INT64_MAX - step;
	return build_checked(
	        b, [&](const family &f) { return valid && f.takes_args(1); },
	        [&](Benchmark *g, family &f) {
		        g->DenseRange(lo, hi, step);
		        f.width = 1;
	        });
}

dlreg_bench_t *dlreg_bench_arg_name(dlreg_bench_t *b, const char *name)
{
	return build_checked(
	        b, [&](const family &f) { return name != nullptr && f.takes_args(1); },
	        [&](Benchmark *g, family &f) {
		        g->ArgName(name);
		        f.names = 1;
	        });
}

dlreg_bench_t *dlreg_bench_arg_names(dlreg_bench_t *b, const char *const *names, size_t n)
{
	bool valid = names && n && n <= INT_MAX;
	for (size_t i = 0; valid && i < n; i++)
		valid = names[i] != nullptr;
	return build_checked(
	        b, [&](const family &f) { return valid && f.takes_args(n); },
	        [&](Benchmark *g, family &f) {
		        g->ArgNames(std::vector<std::string>(names, names + n));
		        f.names = static_cast<int>(n);
	        });
}

dlreg_bench_t *dlreg_bench_threads(dlreg_bench_t *b, int threads)
{
	return build(b, threads > 0, [&](Benchmark *g) { g->Threads(threads); });
}

dlreg_bench_t *dlreg_bench_thread_range(dlreg_bench_t *b, int min_threads, int max_threads)
{
	return build(b, min_threads > 0 && min_threads <= max_threads,
	             [&](Benchmark *g) { g->ThreadRange(min_threads, max_threads); });
}

dlreg_bench_t *dlreg_bench_use_real_time(dlreg_bench_t *b)
{
	return build_checked(
	        b, [](const family &f) { return !f.manual_time; },
	        [](Benchmark *g, family &f) {
		        g->UseRealTime();
		        f.real_time = true;
	        });
}

dlreg_bench_t *dlreg_bench_use_manual_time(dlreg_bench_t *b)
{
	return build_checked(
	        b, [](const family &f) { return !f.real_time; },
	        [](Benchmark *g, family &f) {
		        g->UseManualTime();
		        f.manual_time = true;
	        });
}

dlreg_bench_t *dlreg_bench_measure_process_cpu_time(dlreg_bench_t *b)
{
	return build(b, true, [](Benchmark *g) { g->MeasureProcessCPUTime(); });
}

dlreg_bench_t *dlreg_bench_min_time(dlreg_bench_t *b, double seconds)
{
	return build_checked(
	        b, [&](const family &f) { return seconds > 0 && !f.iterations; },
	        [&](Benchmark *g, family &f) {
		        g->MinTime(seconds);
		        f.min_time = true;
	        });
}

dlreg_bench_t *dlreg_bench_min_warmup_time(dlreg_bench_t *b, double seconds)
{
	return build_checked(
	        b, [&](const family &f) { return seconds >= 0 && !f.iterations; },
	        [&](Benchmark *g, family &f) {
		        g->MinWarmUpTime(seconds);
		        f.warmup = seconds > 0;
	        });
}

dlreg_bench_t *dlreg_bench_iterations(dlreg_bench_t *b, int64_t n)
{
	return build_checked(
	        b, [&](const family &f) { return n > 0 && !f.min_time && !f.warmup; },
	        [&](Benchmark *g, family &f) {
		        g->Iterations(n);
		        f.iterations = true;
	        });
}

dlreg_bench_t *dlreg_bench_repetitions(dlreg_bench_t *b, int n)
{
	return build(b, n > 0 && n <= kRepetitionsMax, [&](Benchmark *g) { g->Repetitions(n); });
}

dlreg_bench_t *dlreg_bench_report_aggregates_only(dlreg_bench_t *b, bool only)
{
	return build(b, true, [&](Benchmark *g) { g->ReportAggregatesOnly(only); });
}

dlreg_bench_t *dlreg_bench_display_aggregates_only(dlreg_bench_t *b, bool only)
{
	return build(b, true, [&](Benchmark *g) { g->DisplayAggregatesOnly(only); });
}

dlreg_bench_t *dlreg_bench_unit(dlreg_bench_t *b, enum dlreg_bench_unit unit)
{
	static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
	                                            benchmark::kMillisecond, benchmark::kSecond};
	int u = enum_value(unit);
	bool valid = u >= DLREG_BENCH_NS && u <= DLREG_BENCH_S;
	return build(b, valid, [&](Benchmark *g) { g->Unit(units[u]); });
}

int dlreg_bench_setup(dlreg_bench_t *b, dlreg_bench_hook_fn *fn, void *data)
{
	family *f = family_of(b);
	if (!f || !fn)
		return DLREG_BENCH_EINVAL;
	size_t i = hook_slot_set(setup_slots, &setup_used, &f->setup_slot, f, fn, data);
	if (i == kSlots)
		return DLREG_BENCH_ENOSPC;
	// The same trampoline again on a replacement.
	bench_of(b)->Setup(setup_trampolines[i]);
	return DLREG_BENCH_OK;
}

int dlreg_bench_teardown(dlreg_bench_t *b, dlreg_bench_hook_fn *fn, void *data)
{
	family *f = family_of(b);
	if (!f || !fn)
		return DLREG_BENCH_EINVAL;
	size_t i = hook_slot_set(teardown_slots, &teardown_used, &f->teardown_slot, f, fn, data);
	if (i == kSlots)
		return DLREG_BENCH_ENOSPC;
	bench_of(b)->Teardown(teardown_trampolines[i]);
	return DLREG_BENCH_OK;
}

int dlreg_bench_compute_statistics(dlreg_bench_t *b, const char *name, dlreg_bench_stat_fn *fn,
                                   void *data, enum dlreg_bench_stat_unit unit)
{
	if (!family_of(b) || !name || !*name || !fn)
		return DLREG_BENCH_EINVAL;
	int su = enum_value(unit);
	if (su != DLREG_BENCH_STAT_TIME && su != DLREG_BENCH_STAT_PERCENTAGE)
		return DLREG_BENCH_EINVAL;
	size_t i = slot_claim(&stat_used);
	if (i == kSlots)
		return DLREG_BENCH_ENOSPC;
	stat_slots[i] = stat_slot{fn, data};
	auto u = su == DLREG_BENCH_STAT_TIME ? benchmark::kTime : benchmark::kPercentage;
	try {
		bench_of(b)->ComputeStatistics(name, stat_trampolines[i], u);
	} catch (...) {
		return DLREG_BENCH_ENOMEM;
	}
	return DLREG_BENCH_OK;
}

bool dlreg_bench_keep_running(dlreg_bench_state_t *st)
{
	State *s = state_of(st);
	try {
		if (!s->KeepRunning())
			return false;
	} catch (...) {
		return loop_failed(st, error_text());
	}
	if (run_record *r = record_of(s))
		r->granted++;
	return true;
}

bool dlreg_bench_keep_running_batch(dlreg_bench_state_t *st, size_t *n)
{
	State *s = state_of(st);
	// iterations() is 0 before the first call and counts every granted
	// iteration after it, so this is what the run has left.
	benchmark::IterationCount left = s->max_iterations - s->iterations();
	benchmark::IterationCount k = left < DLREG_BENCH_BATCH_MAX ? left : DLREG_BENCH_BATCH_MAX;
	// With nothing left, a request of 1 makes Google Benchmark finish the
	// run (stop the timer, meet the other threads) and return false.
	if (k < 1)
		k = 1;
	try {
		if (!s->KeepRunningBatch(k))
			return false;
	} catch (...) {
		return loop_failed(st, error_text());
	}
	if (run_record *r = record_of(s))
		r->granted += k;
	*n = static_cast<size_t>(k);
	return true;
}

// Google Benchmark aborts on a pause or resume after SkipWithError (which
// stops the timer itself); the run is discarded anyway, so both do nothing.
// A pause reads --benchmark_perf_counters into the counters, which
// allocates: if that throws, the run fails instead.
void dlreg_bench_pause_timing(dlreg_bench_state_t *st)
{
	State *s = state_of(st);
	if (s->error_occurred())
		return;
	try {
		s->PauseTiming();
	} catch (...) {
		dlreg_bench_skip_with_error(st, error_text());
	}
}

void dlreg_bench_resume_timing(dlreg_bench_state_t *st)
{
	State *s = state_of(st);
	if (s->error_occurred())
		return;
	try {
		s->ResumeTiming();
	} catch (...) {
		dlreg_bench_skip_with_error(st, error_text());
	}
}

void dlreg_bench_skip_with_error(dlreg_bench_state_t *st, const char *msg)
{
	State *s = state_of(st);
	run_errors.fetch_add(1, std::memory_order_relaxed);
	try {
		s->SkipWithError(msg ? msg : "error");
	} catch (...) {
		// The message copy failed before the error was recorded; the
		// constant fits std::string's inline buffer, so this retry
		// allocates nothing.  Should it throw all the same, the run is
		// still counted as failed above.
		try {
			s->SkipWithError(kOutOfMemory);
		} catch (...) {
		}
	}
}

size_t dlreg_bench_error_count(void)
{
	return run_errors.load(std::memory_order_relaxed);
}

bool dlreg_bench_error_occurred(const dlreg_bench_state_t *st)
{
	return state_of(st)->error_occurred();
}

void dlreg_bench_set_iteration_time(dlreg_bench_state_t *st, double seconds)
{
	state_of(st)->SetIterationTime(seconds);
}

// These store into maps and strings: an allocation failure fails the run
// rather than leaving it without the value, or throwing into C.
void dlreg_bench_set_bytes_processed(dlreg_bench_state_t *st, int64_t bytes)
{
	try {
		state_of(st)->SetBytesProcessed(bytes);
	} catch (...) {
		dlreg_bench_skip_with_error(st, kOutOfMemory);
	}
}

void dlreg_bench_set_items_processed(dlreg_bench_state_t *st, int64_t items)
{
	try {
		state_of(st)->SetItemsProcessed(items);
	} catch (...) {
		dlreg_bench_skip_with_error(st, kOutOfMemory);
	}
}

void dlreg_bench_set_label(dlreg_bench_state_t *st, const char *label)
{
	try {
		state_of(st)->SetLabel(label ? label : "");
	} catch (...) {
		dlreg_bench_skip_with_error(st, kOutOfMemory);
	}
}

int dlreg_bench_counter_set(dlreg_bench_state_t *st, const char *name, double value, unsigned flags)
{
	if (!st || !name || !*name || (flags & ~kCounterFlagsAll))
		return DLREG_BENCH_EINVAL;
	auto k = (flags & DLREG_BENCH_COUNTER_BASE_1024) ? benchmark::Counter::kIs1024
	                                                 : benchmark::Counter::kIs1000;
	try {
		state_of(st)->counters[name] = benchmark::Counter(value, counter_flags(flags), k);
	} catch (...) {
		return DLREG_BENCH_ENOMEM;
	}
	return DLREG_BENCH_OK;
}

int64_t dlreg_bench_range_get(const dlreg_bench_state_t *st, size_t i)
{
	// State::range() checks the index only with assert(): in a release
	// build it would read past the run's argument list.
	const State *s = state_of(st);
	const run_record *r = record_of(s);
	if (!r) {
		std::fprintf(stderr, "dlreg_bench_range_get: called outside the body or a hook of "
		                     "the run that owns this state\n");
		std::abort();
	}
	int n = r->fam && r->fam->width > 0 ? r->fam->width : 0;
	if (i >= static_cast<size_t>(n)) {
		std::fprintf(stderr, "dlreg_bench_range_get(%zu): benchmark %s has %d argument%s\n", i,
		             r->fam ? r->fam->name.c_str() : "?", n, n == 1 ? "" : "s");
		std::abort();
	}
	return s->range(i);
}

int dlreg_bench_thread_index(const dlreg_bench_state_t *st)
{
	return state_of(st)->thread_index();
}

int dlreg_bench_thread_count(const dlreg_bench_state_t *st)
{
	return state_of(st)->threads();
}

int64_t dlreg_bench_iterations_done(const dlreg_bench_state_t *st)
{
	const State *s = state_of(st);
	const run_record *r = record_of(s);
	return r ? r->granted : s->iterations();
}

int64_t dlreg_bench_max_iterations(const dlreg_bench_state_t *st)
{
	return state_of(st)->max_iterations;
}

} // extern "C"
