#!/usr/bin/env python3
"""Runs dlreg-bench-shim-selftest and asserts on its Google Benchmark JSON.

usage: check_shim.py SELFTEST_BINARY

Every expectation below would change if the matching shim call were broken:
iteration counts are exact, counters carry values the flags transform in a
known way, and setup callbacks leave per-registration tags.
"""
import json
import os
import subprocess
import sys
import tempfile

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def run(binary, *args, env=None):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=100,
                          env=None if env is None else dict(os.environ, **env))


def by_name(report):
    runs = {}
    for b in report["benchmarks"]:
        runs.setdefault(b["name"], []).append(b)
    return runs


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def check_loops(runs):
    for threads in (1, 2):
        name = f"shim/batch_exact/iterations:2500/threads:{threads}"
        r = runs.get(name, [{}])[0]
        # Iterations(2500) per thread; Google reports the sum over threads.
        expect(r.get("iterations") == 2500 * threads, f"{name}: iterations {r.get('iterations')}")
        expect(r.get("body_runs") == r.get("iterations"), f"{name}: batch overshoot {r}")
        name = f"shim/batch_auto/min_time:0.020/threads:{threads}"
        r = runs.get(name, [{}])[0]
        expect(r.get("iterations", 0) > 1000, f"{name}: too few iterations {r.get('iterations')}")
        expect(r.get("body_runs") == r.get("iterations"), f"{name}: batch count {r}")
    r = runs.get("shim/single/min_time:0.010/real_time", [{}])[0]
    expect(r.get("body_runs") == r.get("iterations"), f"shim/single: loop count {r}")
    expect(r.get("label") == "single-loop", "shim/single: label")
    expect(r.get("time_unit") == "us", "shim/single: unit")
    its = r.get("iterations", 0)
    expect(close(r.get("bytes_per_second", 0) / r.get("items_per_second", 1), 64.0, 1e-6),
           "shim/single: bytes vs items processed")
    expect(its > 0, "shim/single ran")
    r = runs.get("shim/manual/iterations:50/manual_time", [{}])[0]
    expect(r.get("iterations") == 50 and r.get("time_unit") == "ms", f"shim/manual: {r}")
    expect(close(r.get("real_time", 0), 2.0, 1e-6), f"shim/manual: manual time {r.get('real_time')}")
    r = runs.get("shim/error/process_time", [{}])[0]
    expect(r.get("error_occurred") is True, "shim/error: error_occurred")
    expect(r.get("error_message") == "expected failure", "shim/error: message")
    expect("error_flag_lost" not in r, "shim/error: error_occurred() was false after skip")
    r = runs.get("shim/error_threads/iterations:100000/threads:2", [{}])[0]
    expect(r.get("error_message") == "thread 1 failed", f"shim/error_threads: {r}")
    # 1 ms spun timed, 5 ms asleep paused per iteration (bench_paused).
    r = runs.get("shim/paused/iterations:20/real_time", [{}])[0]
    per_iter_ms = r.get("real_time", 1e99) * {"ns": 1e-6, "us": 1e-3, "ms": 1.0}.get(
        r.get("time_unit"), 1e99)
    expect(0.8 <= per_iter_ms < 4.0,
           f"shim/paused: {per_iter_ms} ms per iteration, want about 1 (pause or resume lost)")
    r = runs.get("shim/pause_skip/iterations:1000", [{}])[0]
    expect(r.get("error_message") == "skipped while paused", f"shim/pause_skip: {r}")
    expect("shim/warmup/min_time:0.002/min_warmup_time:0.002" in runs, "shim/warmup did not run")


def check_counters(runs):
    name = "shim/counters/iterations:4000/threads:2"
    r = runs.get(name, [{}])[0]
    total = r.get("iterations")
    expect(total == 8000, f"{name}: iterations {total}")
    want = {
        "plain": 2.0,              # 1 per thread, summed
        "avg_threads": 3.0,        # 3 per thread, averaged
        "invariant": 2.0 * 2 * 8000,  # summed, times iterations
        "per_iter": 2000.0 / 8000,    # summed, over iterations
        "inverted": 0.25,          # 4 averaged, inverted
        "thread_count": 2.0,
        "index_sum": 1.0,          # thread indexes 0 + 1
    }
    for key, value in want.items():
        expect(close(r.get(key, -1.0), value), f"{name}: {key} = {r.get(key)}, want {value}")
    rate = r.get("rate", 0.0)
    # Rates divide by the CPU seconds of all threads together.
    seconds = r.get("cpu_time", 0.0) * (total or 0) * 1e-9
    expect(rate > 0 and close(rate, 2.0 / seconds, 0.05) if seconds else False,
           f"{name}: rate {rate} vs 2/cpu seconds")


def check_args(runs):
    want = {
        "shim/args/size:1/mode:0/min_time:0.001": 10,
        "shim/args/size:8/mode:0/min_time:0.001": 80,
        "shim/args/size:1/mode:1/min_time:0.001": 11,
        "shim/args/size:8/mode:1/min_time:0.001": 81,
        "shim/args/size:5/mode:7/min_time:0.001": 57,
    }
    for name, code in want.items():
        expect(runs.get(name, [{}])[0].get("code") == code, f"{name}: code")
    for n in (3, 4, 6, 16):
        name = f"shim/one_arg/n:{n}/min_time:0.001"
        expect(runs.get(name, [{}])[0].get("value") == n, f"{name}: value")
    arg_runs = [n for n in runs if n.startswith("shim/args/")]
    expect(len(arg_runs) == 5, f"shim/args: {len(arg_runs)} instances, want 5")
    # range with multiplier 2, and a range across 0.
    for family, values in (("shim/range", [8, 16, 32, 64]),
                           ("shim/range_negative", [-8, -1, 0, 1, 8])):
        got = sorted(r[0].get("value") for n, r in runs.items() if n.startswith(family + "/"))
        expect(got == values, f"{family}: arguments {got}, want {values}")


def check_hooks(runs):
    for tag, suffix in ((11, "a"), (22, "b")):
        name = f"shim/hooks_{suffix}/iterations:100/repeats:2/threads:2"
        reps = [r for r in runs.get(name, []) if r.get("run_type") == "iteration"]
        expect(len(reps) == 2, f"{name}: {len(reps)} repetitions, want 2")
        for i, r in enumerate(reps):
            expect(r.get("armed") == tag * 100 + 2, f"{name}: setup routed wrong: {r.get('armed')}")
            expect(r.get("setups_seen") == i + 1, f"{name}: setup not run per repetition")
    # Setup and teardown replaced more times than there are slots: only the
    # last setup (tag 33, one thread) may run, once.
    name = "shim/hook_replaced/iterations:10"
    r = runs.get(name, [{}])[0]
    expect(r.get("armed") == 33 * 100 + 1 and r.get("setups_seen") == 1,
           f"{name}: not the last setup, or not once: armed {r.get('armed')}, "
           f"setups_seen {r.get('setups_seen')}")


def check_stats(runs):
    base = "shim/stats/iterations:1000/repeats:3"
    reps = runs.get(base, [])
    expect(len(reps) == 3, f"{base}: {len(reps)} repetitions in the file, want 3")
    expect(all(r.get("body_runs") == 1000 for r in reps), f"{base}: body_runs")
    aggs = {r["aggregate_name"]: r for n, rs in runs.items() if n.startswith(base + "_")
            for r in rs}
    for agg in ("mean", "median", "stddev", "count", "max"):
        expect(agg in aggs, f"{base}: aggregate {agg} missing")
    expect(aggs.get("count", {}).get("body_runs") == 3000.0, f"{base}_count: n * scale")
    expect(aggs.get("max", {}).get("aggregate_unit") == "percentage", f"{base}_max: unit")
    # A percentage-unit statistic is reported raw: seconds per repetition.
    top = max((r["real_time"] for r in reps), default=0.0) * 1000 * 1e-9
    expect(close(aggs.get("max", {}).get("real_time", -1.0), top, 1e-6), f"{base}_max: value")
    # report_aggregates_only: no repetition in the file either.
    name = "shim/report_aggregates/iterations:100/repeats:3"
    kinds = [r.get("run_type") for n, rs in runs.items() if n.startswith(name) for r in rs]
    expect(kinds.count("aggregate") >= 4 and "iteration" not in kinds,
           f"{name}: run types in the file {kinds}")


def check_report(path):
    with open(path) as f:
        report = json.load(f)
    expect(report["context"].get("shim_check") == "ok", "custom context missing")
    expect("library_build_type" in report["context"], "library_build_type missing")
    runs = by_name(report)
    check_loops(runs)
    check_counters(runs)
    check_args(runs)
    check_hooks(runs)
    check_stats(runs)


def check_display(stdout):
    """display_aggregates_only: the console report (stdout) has no repetition of shim/stats."""
    try:
        shown = json.loads(stdout)["benchmarks"]
    except (ValueError, KeyError):
        failures.append("stdout is not a JSON report")
        return
    expect(len(shown) > 0, "stdout JSON empty")
    kinds = [b.get("run_type") for b in shown
             if b["name"].startswith("shim/stats/iterations:1000/repeats:3")]
    expect("aggregate" in kinds and "iteration" not in kinds,
           f"shim/stats on stdout: run types {kinds}")


def check_console(binary):
    """Counter flags that only change the console form: BASE_1024."""
    p = run(binary, "--benchmark_filter=^shim/counters/", "--benchmark_format=console",
            "--benchmark_color=false")
    expect(p.returncode == 0, f"console run exited {p.returncode}")
    expect("kibi=2k " in p.stdout, "BASE_1024 counter not shown as 2k: " + p.stdout[-300:])
    expect("kilo=2.048k" in p.stdout, "plain counter not shown as 2.048k: " + p.stdout[-300:])


def check_range_oob(binary):
    p = run(binary, "--range-oob")
    expect(p.returncode == -6, f"--range-oob: exit {p.returncode}, want SIGABRT")
    expect("dlreg_bench_range_get(1): benchmark shim/range_oob has 1 argument" in p.stderr,
           f"--range-oob: message {p.stderr[-200:]!r}")


def check_run_error(binary):
    """An exception inside the run comes back as DLREG_BENCH_RUN_FAILED, one line on stderr."""
    p = run(binary, "--run-error")
    prefix = "dlreg-bench-shim-selftest: benchmark run failed: "
    lines = [line for line in p.stderr.splitlines() if "benchmark run failed" in line]
    expect(p.returncode == 0, f"--run-error: exit {p.returncode}, stderr {p.stderr[-300:]!r}")
    expect(len(lines) == 1 and lines[0].startswith(prefix) and "terminate" not in p.stderr,
           f"--run-error: message {p.stderr[-300:]!r}")


def check_error_count(path, stderr):
    """dlreg_bench_error_count: one per run the report shows failed."""
    try:
        with open(path) as f:
            failed = sum(1 for b in json.load(f)["benchmarks"] if b.get("error_occurred"))
    except (OSError, ValueError):
        return  # check_report has said so
    counted = [line.split(":")[1].strip() for line in stderr.splitlines()
               if line.startswith("runs failed:")]
    expect(failed > 0 and counted == [str(failed)],
           f"dlreg_bench_error_count: {counted}, the report has {failed} failed run(s)")


def check_out_error(binary):
    """A --benchmark_out report that cannot be written fails the run, with one line."""
    if not os.path.exists("/dev/full"):
        print("check_out_error: no /dev/full, skipped")
        return
    for fmt in ("json", "console", "csv"):
        p = run(binary, "--benchmark_filter=^shim/single", "--benchmark_out=/dev/full",
                f"--benchmark_out_format={fmt}")
        line = "dlreg-bench-shim-selftest: cannot write --benchmark_out /dev/full: "
        expect(p.returncode == 1 and p.stderr.count(line) == 1,
               f"--benchmark_out=/dev/full ({fmt}): rc {p.returncode}, stderr {p.stderr[-300:]!r}")
    # Google Benchmark also takes the file and its format from the environment.
    p = run(binary, "--benchmark_filter=^shim/single", env={"BENCHMARK_OUT": "/dev/full"})
    expect(p.returncode == 1 and p.stderr.count(line) == 1,
           f"BENCHMARK_OUT=/dev/full: rc {p.returncode}, stderr {p.stderr[-300:]!r}")
    p = run(binary, "--benchmark_filter=^shim/single", env={"BENCHMARK_OUT_FORMAT": "xml"})
    expect(p.returncode == 2 and "BENCHMARK_OUT_FORMAT" in p.stderr,
           f"BENCHMARK_OUT_FORMAT=xml: rc {p.returncode}, stderr {p.stderr[-300:]!r}")
    with tempfile.TemporaryDirectory(prefix="dlreg-shim-") as tmp:
        out = os.path.join(tmp, "report.csv")
        p = run(binary, "--benchmark_filter=^shim/single", f"--benchmark_out={out}",
                env={"BENCHMARK_OUT_FORMAT": "csv"})
        with open(out) as f:
            text = f.read()
        expect(p.returncode == 0 and "name,iterations," in text and not text.startswith("{"),
               f"BENCHMARK_OUT_FORMAT=csv: rc {p.returncode}, report {text[:120]!r}")


def check_command_line(binary):
    p = run(binary, "--benchmark_format=xml")
    expect(p.returncode == 2 and p.stderr.count("\n") == 1 and "xml" in p.stderr,
           f"bad --benchmark_format: rc {p.returncode}, stderr {p.stderr!r}")
    p = run(binary, "--no-such-flag")
    expect(p.returncode == 2 and "--no-such-flag" in p.stderr, f"unknown flag: rc {p.returncode}")
    # A key --benchmark_context gave is refused to dlreg_bench_context_add,
    # with a message: Google Benchmark would keep the flag's value.
    p = run(binary, "--benchmark_context=shim_check=forged", "--benchmark_list_tests")
    expect(p.returncode == 1 and "--benchmark_context sets 'shim_check'" in p.stderr,
           f"context key from the flag and the program: rc {p.returncode}, {p.stderr!r}")
    p = run(binary, "--benchmark_context=library_build_type=x", "--benchmark_list_tests")
    expect(p.returncode == 2 and "library_build_type" in p.stderr,
           f"built-in context key in the flag: rc {p.returncode}, {p.stderr!r}")
    p = run(binary, "--help")
    expect(p.returncode == 0 and "usage: dlreg-bench-shim-selftest" in p.stdout
           and "benchmark_filter" in p.stdout, f"--help: rc {p.returncode}")


def main():
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 2:
        print("usage: check_shim.py SELFTEST_BINARY", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="dlreg-shim-") as tmp:
        out = os.path.join(tmp, "report.json")
        p = run(binary, "--benchmark_format=json", f"--benchmark_out={out}",
                "--benchmark_out_format=json")
        sys.stderr.write(p.stderr)
        expect(p.returncode == 0, f"selftest exited {p.returncode}")
        try:
            check_report(out)
        except OSError:
            failures.append("no JSON report written")
        except ValueError as e:  # cut short: the program died while writing it
            failures.append(f"the JSON report is not JSON: {e}")
        # stdout carries the same report in JSON form, as displayed.
        check_display(p.stdout)
        check_error_count(out, p.stderr)
    check_console(binary)
    check_range_oob(binary)
    check_run_error(binary)
    check_out_error(binary)
    check_command_line(binary)
    for f in failures:
        print("FAIL:", f)
    print(f"check_shim: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
