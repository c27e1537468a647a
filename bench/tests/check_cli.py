#!/usr/bin/env python3
"""The benchmark programs' command lines: bad flags fail with one clear line.

usage: check_cli.py DLREG_BENCH DLREG_BENCH_SCAN

A usage error exits 2 with one stderr line naming the option and the bad
value; a --benchmark_filter that matches nothing exits 3; -h prints the
usage and exits 0; a report that cannot be written to stdout fails.  Runs
list the benchmarks (--benchmark_list_tests) instead of running them.
"""
import os
import subprocess
import sys
import tempfile

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def run(argv, stdout=subprocess.PIPE):
    return subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60)


def usage_error(prog, args, *names):
    p = run([prog] + args)
    tag = "%s %s" % (os.path.basename(prog), " ".join(args))
    lines = p.stderr.splitlines()
    expect(p.returncode == 2, "%s: exit %d, want 2 (%r)" % (tag, p.returncode, p.stderr))
    expect(len(lines) == 1, "%s: %d stderr lines, want 1: %r" % (tag, len(lines), p.stderr))
    for name in names:
        expect(name in p.stderr, "%s: message does not name %r: %r" % (tag, name, p.stderr))


def check_common(prog, extra):
    tag = os.path.basename(prog)
    listing = [prog, "--benchmark_list_tests"] + extra
    for flag, value in (("--benchmark_repetitions", "-1"), ("--benchmark_repetitions", "0"),
                        ("--benchmark_repetitions", "abc"), ("--benchmark_min_time", "-1"),
                        ("--benchmark_min_time", "nan"), ("--benchmark_min_warmup_time", "-2"),
                        ("--benchmark_filter", "("), ("--benchmark_time_unit", "xx"),
                        ("--benchmark_format", "xml"), ("--benchmark_context", "novalue"),
                        # Google's own key: the JSON context would hold it twice.
                        ("--benchmark_context", "host_name=forged"),
                        # Google keeps the first value silently.
                        ("--benchmark_context", "k=1,k=2"),
                        ("--benchmark_out", "/nonexistent/dlreg/report.json")):
        usage_error(listing[0], listing[1:] + ["%s=%s" % (flag, value)], flag, value)
    usage_error(prog, ["--benchmark_repetitions"], "--benchmark_repetitions")

    p = run(listing + ["--benchmark_filter=no_such_benchmark"])
    expect(p.returncode == 3, "%s: unmatched filter: exit %d, want 3" % (tag, p.returncode))
    expect("--benchmark_filter" in p.stderr, "%s: unmatched filter: %r" % (tag, p.stderr))
    p = run(listing + ["--benchmark_repetitions=2", "--benchmark_min_time=0.5"])
    expect(p.returncode == 0 and p.stdout.strip(), "%s: list: exit %d" % (tag, p.returncode))

    for h in ("-h", "--help"):
        p = run([prog, h])
        expect(p.returncode == 0 and p.stdout.startswith("usage: " + tag),
               "%s %s: exit %d, stdout %r" % (tag, h, p.returncode, p.stdout[:80]))
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            p = run(listing, stdout=full)
        expect(p.returncode == 1 and "stdout" in p.stderr,
               "%s >/dev/full: exit %d, stderr %r" % (tag, p.returncode, p.stderr))


def check_registry(prog):
    # An option the program knows, at the end without its value.
    for flag in ("--fixture-dir", "--slow-ctor-us", "--loader-gap-us"):
        usage_error(prog, ["--benchmark_list_tests", flag], flag, "needs a value")
    # A key the program reports itself: the report would show the flag's value.
    usage_error(prog, ["--benchmark_context=registry.slow_ctor_us=1", "--benchmark_list_tests"],
                "--benchmark_context", "registry.slow_ctor_us")
    usage_error(prog, ["--fixture-dir=/nonexistent/dlreg", "--benchmark_list_tests"],
                "/nonexistent/dlreg")
    with tempfile.TemporaryDirectory(prefix="dlreg-bench-cli-") as empty:
        usage_error(prog, ["--fixture-dir=" + empty, "--benchmark_list_tests"], empty)


def check_scan(prog, extra, scan_dir):
    for value in ("", ",", "16K,,64K", "16K,", ",16K", "16K,64K,128K,256K,1M,2M,4M,16K,64K",
                  "16K," * 80 + "16K", "8K", "16Q", "16K,64K,16384"):
        usage_error(prog, extra + ["--read-bufs=" + value], "--read-bufs")
    for value in (",", "16K,,64K", "8K", "16Q", "16K,64K,16384"):
        usage_error(prog, extra + ["--read-bufs=" + value], value)
    usage_error(prog, extra + ["--scan-dir="], "--scan-dir")
    # An option the program knows, at the end without its value.
    for flag in ("--warm", "--scan-dir", "--meta-plugin", "--min-size", "--max-size",
                 "--read-bufs", "--size-factor"):
        usage_error(prog, extra + ["--benchmark_list_tests", flag], flag, "needs a value")
    # A key the program reports itself: a usage error, before any file is written.
    usage_error(prog, extra + ["--benchmark_context=scan.warm=cold", "--benchmark_list_tests"],
                "--benchmark_context", "scan.warm")
    expect(not os.listdir(scan_dir), "context clash left files in --scan-dir")
    # A --meta-plugin without a metadata note: refused before any benchmark
    # runs (each note benchmark used to fail on its own, and the program exit 0).
    p = run([prog, "--meta-plugin=" + os.path.abspath(__file__)] + extra)
    lines = p.stderr.strip().splitlines()
    expect(p.returncode == 1 and len(lines) == 1 and "no dlreg metadata note" in p.stderr
           and "Run on" not in p.stderr,
           "--meta-plugin without a note: exit %d, %r" % (p.returncode, p.stderr))
    expect(not os.listdir(scan_dir), "--meta-plugin without a note left files in --scan-dir")
    # A reader that quits early (a closed pipe) ends the program with
    # SIGPIPE; its test files must go all the same.
    r, w = os.pipe()
    os.close(r)
    try:
        p = run([prog, "--benchmark_list_tests"] + extra, stdout=w)
    finally:
        os.close(w)
    left = os.listdir(scan_dir)
    expect(p.returncode != 0 and not left,
           "%s >closed pipe: exit %d, left %r in --scan-dir" % (os.path.basename(prog),
                                                               p.returncode, left))


def main():
    if len(sys.argv) != 3:
        print("usage: check_cli.py DLREG_BENCH DLREG_BENCH_SCAN", file=sys.stderr)
        return 2
    registry, scan = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="dlreg-bench-cli-") as tmp:
        scan_extra = ["--scan-dir=" + tmp, "--min-size=4K", "--max-size=4K", "--no-cold"]
        check_common(registry, [])
        check_common(scan, scan_extra)
        check_registry(registry)
        check_scan(scan, scan_extra, tmp)
    for f in failures:
        print("FAIL:", f)
    print("check_cli: %d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
