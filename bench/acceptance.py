#!/usr/bin/env python3
"""acceptance - the project's benchmark targets, checked on one report.

usage: acceptance.py REPORT.json [--format table|markdown]
Exit status: 0 every target met, 1 a target missed (or absent), 2 bad usage
or input, or output that could not be written.

Every figure is a ratio of medians (over repetitions) of two benchmarks of
the same report, so it compares variants measured in the same run on the
same machine; absolute numbers from different machines are never compared.

  read_sym qt/dlreg, 2 threads          >= 10
  read_sym dlopen/dlreg, 2 threads      >= 20
  read_sym dlreg scaling 1 -> 2 threads >= 1.8  (time at 1 / time at 2)
  read_sym dlreg/unsync, 2 threads      <= 1.5
  the same four for read_sym_copies (equal strings at other addresses,
  so that dlreg's memo of string addresses never hits); required: in
  read_sym dlreg skips the hashing that unsync does, so only these make
  "within 1.5x of unsync" a limit
  churn dlreg/dlopen, 1 and 2 threads   <= 1.25 (and every run still_mapped 0)
  scan note warm auto, 1 GiB            <= 50 us
  scan note warm auto, 1 GiB / smallest <= 1.5  (flat in file size)
  scan marker warm auto vs memmem in RAM, every size >= 256 MiB
                                        >= 2    (memmem time / auto time)
  scan marker warm auto vs memchr in RAM, same sizes
                                        >= 0.7
  scan auto / best of (mmap, read at the default buffer), every size,
  warm and cold                         <= 1.05

A size whose every repetition reported an error, a ratio with a time of 0
in it, and a note or marker sweep with no warm or no cold point at all,
count as absent.  A run without an error and without a numeric real_time
is bad input.  A churn
figure whose dlreg or dlopen runs include one with still_mapped > 0 (the
plugin was still loaded after the run: the loop did not really unload it,
so it timed no churn) shows "mapped" instead of a value and is missed.

The auto/best figure comes from the auto_vs_best family when the report has
it (auto, mmap and read timed side by side; the median over repetitions of
each one's mean time, then auto's over the smaller of the other two), else
from the separate auto, mmap and read-128K families.  In the same way the
memmem and memchr figures come from the auto_vs_memory family (auto's warm
search, memchr and memmem side by side) when the report has it, else from
the separate auto, memmem and memchr families.

Prints one line per target (value, goal, met or missed) on stdout.  Where
the report's cold auto_vs_best runs carry device counters (auto_dev_reads,
auto_dev_kib and the same for mmap and read), a second table follows: the
read requests and KiB the block device served per cold scan, medians over
the repetitions, which is the I/O behind each cold time.
Exit status: 0 all met, 1 a target missed or its benchmarks are absent,
2 bad input or output that could not be written.
"""
import json
import math
import os
import re
import statistics
import sys

_TIME = re.compile(r"/(real|manual|process)_time(?=/|$)")
UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
READ_DEFAULT = "read-128K"


def load(path):
    """(the report's iteration runs without errors, the canonical names of
    those that reported one), or exit 2."""
    try:
        with open(path) as f:
            doc = json.load(f)
        runs = [b for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
        ok = [b for b in runs if not b.get("error_occurred")]
        for b in ok:
            canonical(b)
            t = b.get("real_time")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                raise ValueError("%s: real_time is %r, not a number" % (b["name"], t))
        return ok, {canonical(b) for b in runs if b.get("error_occurred")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        sys.stderr.write("acceptance: %s: not a benchmark report (%s)\n" % (path, e))
        sys.exit(2)


def canonical(b):
    return _TIME.sub("", b.get("run_name", b["name"]))


def medians(runs):
    """{canonical name: median real time in ns} over iteration runs."""
    times = {}
    for b in runs:
        times.setdefault(canonical(b), []).append(
            b["real_time"] * UNITS.get(b.get("time_unit"), 1.0))
    return {k: statistics.median(v) for k, v in times.items()}


def counter_medians(runs, names):
    """{canonical name: {counter: median}} for runs that carry every counter in names."""
    seen = {}
    for b in runs:
        if all(isinstance(b.get(c), (int, float)) for c in names):
            row = seen.setdefault(canonical(b), {c: [] for c in names})
            for c in names:
                row[c].append(float(b[c]))
    return {k: {c: statistics.median(v) for c, v in row.items()} for k, row in seen.items()}


def div(num, den):
    """num / den, or None (absent) unless both are times above zero: a zero
    time is no measurement, and must not meet an upper bound."""
    if isinstance(num, (int, float)) and isinstance(den, (int, float)) and num > 0 and den > 0:
        return num / den
    return None


def ratio(m, num, den):
    return div(m.get(num), m.get(den))


def still_mapped(runs):
    """The canonical names of the runs that reported still_mapped > 0."""
    return {canonical(b) for b in runs
            if isinstance(b.get("still_mapped"), (int, float)) and b["still_mapped"] > 0}


def churn_ratio(m, mapped, num, den):
    """ratio(), or "mapped" when a run of either side left its library mapped."""
    return "mapped" if num in mapped or den in mapped else ratio(m, num, den)


def read_targets(m, family):
    rs = "registry/" + family + "/%s/threads:%d"
    return [
        ("%s qt/dlreg, 2 threads" % family, ratio(m, rs % ("qt", 2), rs % ("dlreg", 2)),
         ">=", 10.0),
        ("%s dlopen/dlreg, 2 threads" % family,
         ratio(m, rs % ("dlopen", 2), rs % ("dlreg", 2)), ">=", 20.0),
        ("%s dlreg scaling 1->2 threads" % family,
         ratio(m, rs % ("dlreg", 1), rs % ("dlreg", 2)), ">=", 1.8),
        ("%s dlreg/unsync, 2 threads" % family,
         ratio(m, rs % ("dlreg", 2), rs % ("unsync", 2)), "<=", 1.5),
    ]


def registry_targets(m, mapped=frozenset()):
    ch = "registry/churn/%s/threads:%d"
    return read_targets(m, "read_sym") + read_targets(m, "read_sym_copies") + [
        ("churn dlreg/dlopen, 1 thread",
         churn_ratio(m, mapped, ch % ("dlreg", 1), ch % ("dlopen", 1)), "<=", 1.25),
        ("churn dlreg/dlopen, 2 threads",
         churn_ratio(m, mapped, ch % ("dlreg", 2), ch % ("dlopen", 2)), "<=", 1.25),
    ]


GIB = 1024 * 1024 * 1024
_SIZE = re.compile(r"^scan/(marker|note)/(warm|cold)/([^/]+)/size:(\d+)$")
VS_COUNTERS = ("auto_us", "mmap_us", "read_us")
MEM_COUNTERS = ("auto_us", "memchr_us", "memmem_us")
DEV_COUNTERS = tuple("%s_dev_%s" % (b, c) for b in ("auto", "mmap", "read")
                     for c in ("reads", "kib"))


def scan_points(m, backend):
    """[(kind, cache, size)] of the benchmarks of `backend`, in size order."""
    pts = []
    for name in m:
        g = _SIZE.match(name)
        if g and g.group(3) == backend:
            pts.append((g.group(1), g.group(2), int(g.group(4))))
    return sorted(pts, key=lambda p: (p[0], p[1], p[2]))


def sweep(sources, backends):
    """The (kind, cache, size) points any of `backends` has in any of
    `sources` (names: medians, counter medians, failed runs), in order."""
    pts = set()
    for src in sources:
        for backend in backends:
            pts.update(scan_points(src, backend))
    return sorted(pts)


def note_targets(m):
    """The 1 GiB lookup itself, not whichever note file is largest."""
    pts = [p for p in scan_points(m, "auto") if p[:2] == ("note", "warm")]
    key = "scan/note/warm/auto/size:%d"
    big = m.get(key % GIB)
    out = [("scan note warm auto, %d bytes (us)" % GIB, div(big, 1e3), "<=", 50.0)]
    small = pts[0][2] if pts else GIB
    if small == GIB:
        out.append(("scan note warm auto, 1 GiB / smallest", None, "<=", 1.5))
    else:
        out.append(("scan note warm auto, %d / %d bytes" % (GIB, small),
                    div(big, m.get(key % small)), "<=", 1.5))
    return out


def memory_targets(m, side, failed):
    out = []
    for kind, cache, size in sweep((m, side, failed),
                                   ("auto", "memmem", "memchr", "auto_vs_memory")):
        if (kind, cache) != ("marker", "warm") or size < 256 * 1024 * 1024:
            continue
        vs = side.get("scan/marker/warm/auto_vs_memory/size:%d" % size)
        auto = vs["auto_us"] if vs else m.get("scan/marker/warm/auto/size:%d" % size)
        for rival, goal in (("memmem", 2.0), ("memchr", 0.7)):
            if vs:
                r = vs[rival + "_us"]
            else:
                r = m.get("scan/marker/warm/%s/size:%d" % (rival, size))
            out.append(("scan marker warm auto vs %s, %d bytes" % (rival, size),
                        div(r, auto), ">=", goal))
    if not out:
        out.append(("scan marker warm auto vs memmem, >= 256 MiB", None, ">=", 2.0))
    return out


def auto_targets(m, vs, failed):
    out = []
    points = sweep((m, vs, failed), ("auto", "auto_vs_best", "mmap", READ_DEFAULT))
    for kind in ("marker", "note"):
        for cache in ("cold", "warm"):
            if not any(p[:2] == (kind, cache) for p in points):
                out.append(("scan %s %s auto/best, every size" % (kind, cache), None,
                            "<=", 1.05))
    for kind, cache, size in points:
        label = "scan %s %s auto/best, %d bytes" % (kind, cache, size)
        side = vs.get("scan/%s/%s/auto_vs_best/size:%d" % (kind, cache, size))
        if side:
            best = min(side["mmap_us"], side["read_us"])
            out.append((label, div(side["auto_us"], best), "<=", 1.05))
            continue
        rivals = [m.get("scan/%s/%s/%s/size:%d" % (kind, cache, b, size))
                  for b in ("mmap", READ_DEFAULT)]
        rivals = [r for r in rivals if r]
        best = min(rivals) if len(rivals) == 2 else None
        auto = m.get("scan/%s/%s/auto/size:%d" % (kind, cache, size))
        out.append((label, div(auto, best), "<=", 1.05))
    return out


def scan_targets(m, vs, failed, side=None):
    return (note_targets(m) + memory_targets(m, side or {}, failed)
            + auto_targets(m, vs, failed))


def main(argv):
    fmt = "table"
    args = []
    it = iter(argv)
    for a in it:
        if a == "--format":
            fmt = next(it, None)
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        else:
            args.append(a)
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(__doc__.split("\n", 2)[2])
        return 0
    if len(args) != 1 or fmt not in ("table", "markdown"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    runs, failed = load(args[0])
    m = medians(runs)
    rows = (registry_targets(m, still_mapped(runs))
            + scan_targets(m, counter_medians(runs, VS_COUNTERS), failed,
                           counter_medians(runs, MEM_COUNTERS)))
    missed = 0
    if fmt == "markdown":
        print("| target | value | goal | |\n|---|---:|---:|---|")
    for label, value, op, goal in rows:
        number = isinstance(value, (int, float))
        ok = number and (value >= goal if op == ">=" else value <= goal)
        missed += not ok
        shown = "%.2f" % value if number else "absent" if value is None else value
        verdict = "met" if ok else "MISSED"
        if fmt == "markdown":
            print("| %s | %s | %s %g | %s |" % (label, shown, op, goal, verdict))
        else:
            print("%-56s %8s  %s %-5g %s" % (label, shown, op, goal, verdict))
    print_device_io(counter_medians(runs, DEV_COUNTERS), fmt)
    return 1 if missed else 0


def print_device_io(dev, fmt):
    """The cold auto_vs_best runs' device reads per scan, if the report has them."""
    rows = []
    for name in sorted(dev, key=lambda n: scan_points({n: 0}, "auto_vs_best")):
        pts = scan_points({name: 0}, "auto_vs_best")
        if not pts:
            continue
        kind, cache, size = pts[0]
        c = dev[name]
        rows.append(("%s %s, %d bytes" % (kind, cache, size),
                     ["%.2f (%.0f KiB)" % (c[b + "_dev_reads"], c[b + "_dev_kib"])
                      for b in ("auto", "mmap", "read")]))
    if not rows:
        return
    if fmt == "markdown":
        print("\n| device reads per scan (KiB) | auto | mmap | read |\n|---|---:|---:|---:|")
        for label, cells in rows:
            print("| %s | %s |" % (label, " | ".join(cells)))
    else:
        print("\ndevice reads per scan (KiB read), auto_vs_best:")
        print("%-32s %22s %22s %22s" % ("", "auto", "mmap", "read"))
        for label, cells in rows:
            print("%-32s %22s %22s %22s" % ((label,) + tuple(cells)))


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
        sys.stdout.flush()
        sys.exit(code)
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as e:  # a full disk: the verdict never got out, which is no "missed"
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write("acceptance: cannot write the output: %s\n" % (e.strerror or e))
        sys.exit(2)
