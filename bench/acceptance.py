#!/usr/bin/env python3
"""acceptance - the project's benchmark targets, checked on one report.

usage: acceptance.py REPORT.json [--format table|markdown]

Every figure is a ratio of medians (over repetitions) of two benchmarks of
the same report, so it compares variants measured in the same run on the
same machine; absolute numbers from different machines are never compared.

  read_sym qt/dlreg, 2 threads          >= 10
  read_sym dlopen/dlreg, 2 threads      >= 20
  read_sym dlreg scaling 1 -> 2 threads >= 1.8  (time at 1 / time at 2)
  read_sym dlreg/unsync, 2 threads      <= 1.5
  churn dlreg/dlopen, 1 and 2 threads   <= 1.25
  scan auto / best of (mmap, read at the default buffer), every size,
  warm and cold                         <= 1.05

Prints one line per target (value, goal, met or missed) on stdout.
Exit status: 0 all met, 1 a target missed or its benchmarks are absent,
2 bad input.
"""
import json
import re
import statistics
import sys

_TIME = re.compile(r"/(real|manual|process)_time(?=/|$)")
UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
READ_DEFAULT = "read-128K"


def medians(path):
    """{canonical name: median real time in ns} over iteration runs."""
    try:
        with open(path) as f:
            doc = json.load(f)
        runs = doc["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.stderr.write("acceptance: %s: not a benchmark report (%s)\n" % (path, e))
        sys.exit(2)
    times = {}
    for b in runs:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = _TIME.sub("", b.get("run_name", b["name"]))
        times.setdefault(name, []).append(b["real_time"] * UNITS.get(b.get("time_unit"), 1.0))
    return {k: statistics.median(v) for k, v in times.items()}


def ratio(m, num, den):
    if num in m and den in m and m[den] > 0:
        return m[num] / m[den]
    return None


def registry_targets(m):
    rs = "registry/read_sym/%s/threads:%d"
    ch = "registry/churn/%s/threads:%d"
    return [
        ("read_sym qt/dlreg, 2 threads", ratio(m, rs % ("qt", 2), rs % ("dlreg", 2)), ">=", 10.0),
        ("read_sym dlopen/dlreg, 2 threads",
         ratio(m, rs % ("dlopen", 2), rs % ("dlreg", 2)), ">=", 20.0),
        ("read_sym dlreg scaling 1->2 threads",
         ratio(m, rs % ("dlreg", 1), rs % ("dlreg", 2)), ">=", 1.8),
        ("read_sym dlreg/unsync, 2 threads",
         ratio(m, rs % ("dlreg", 2), rs % ("unsync", 2)), "<=", 1.5),
        ("churn dlreg/dlopen, 1 thread", ratio(m, ch % ("dlreg", 1), ch % ("dlopen", 1)), "<=", 1.25),
        ("churn dlreg/dlopen, 2 threads",
         ratio(m, ch % ("dlreg", 2), ch % ("dlopen", 2)), "<=", 1.25),
    ]


def scan_targets(m):
    out = []
    pat = re.compile(r"^scan/(marker|note)/(warm|cold)/auto/size:(\d+)$")
    for name in sorted(m, key=lambda n: (n.split("/")[1:3], int(n.rsplit(":", 1)[-1]))):
        g = pat.match(name)
        if not g:
            continue
        kind, cache, size = g.groups()
        rivals = [m.get("scan/%s/%s/%s/size:%s" % (kind, cache, b, size))
                  for b in ("mmap", READ_DEFAULT)]
        rivals = [r for r in rivals if r]
        best = min(rivals) if len(rivals) == 2 else None
        label = "scan %s %s auto/best, %s bytes" % (kind, cache, size)
        out.append((label, m[name] / best if best else None, "<=", 1.05))
    return out


def main(argv):
    fmt = "table"
    args = [a for a in argv if not a.startswith("--format")]
    for a in argv:
        if a.startswith("--format="):
            fmt = a.split("=", 1)[1]
    if len(args) != 1 or fmt not in ("table", "markdown") or args[0] in ("-h", "--help"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 0 if args and args[0] in ("-h", "--help") else 2
    m = medians(args[0])
    rows = registry_targets(m) + scan_targets(m)
    missed = 0
    if fmt == "markdown":
        print("| target | value | goal | |\n|---|---:|---:|---|")
    for label, value, op, goal in rows:
        ok = value is not None and (value >= goal if op == ">=" else value <= goal)
        missed += not ok
        shown = "absent" if value is None else "%.2f" % value
        verdict = "met" if ok else "MISSED"
        if fmt == "markdown":
            print("| %s | %s | %s %g | %s |" % (label, shown, op, goal, verdict))
        else:
            print("%-46s %8s  %s %-5g %s" % (label, shown, op, goal, verdict))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
