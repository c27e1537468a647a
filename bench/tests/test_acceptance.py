#!/usr/bin/env python3
"""Unit tests of bench/acceptance.py on small made-up reports."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "acceptance.py")
MIB = 1024 * 1024


def run(name, real_time, unit="ns", **counters):
    b = {"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
         "real_time": real_time, "cpu_time": real_time, "time_unit": unit, "iterations": 1}
    b.update(counters)
    return b


def registry_runs():
    rs = "registry/read_sym/%s/threads:%d"
    ch = "registry/churn/%s/threads:%d"
    cs = "registry/read_sym_copies/%s/threads:%d"
    runs = [run(rs % ("dlreg", 1), 20.0), run(rs % ("dlreg", 2), 10.0),
            run(rs % ("qt", 2), 300.0), run(rs % ("dlopen", 2), 900.0),
            run(rs % ("unsync", 2), 9.0),
            run(cs % ("dlreg", 1), 30.0), run(cs % ("dlreg", 2), 16.0),
            run(cs % ("qt", 2), 260.0), run(cs % ("dlopen", 2), 400.0),
            run(cs % ("unsync", 2), 12.0)]
    for t in (1, 2):
        runs += [run(ch % ("dlreg", t), 1000.0), run(ch % ("dlopen", t), 950.0)]
    return runs


def scan_runs(memmem_us=200.0, note_big_us=8.0, cold=True):
    big = 256 * MIB
    runs = [run("scan/note/warm/auto/size:%d" % (4 * MIB), 6.0, "us"),
            run("scan/note/warm/auto/size:%d" % (1024 * MIB), note_big_us, "us"),
            run("scan/marker/warm/auto/size:%d" % big, 100.0, "us"),
            run("scan/marker/warm/mmap/size:%d" % big, 99.0, "us"),
            run("scan/marker/warm/read-128K/size:%d" % big, 180.0, "us"),
            run("scan/marker/warm/memmem/size:%d" % big, memmem_us, "us"),
            run("scan/marker/warm/memchr/size:%d" % big, 90.0, "us")]
    for b in ("mmap", "read-128K"):
        runs.append(run("scan/note/warm/%s/size:%d" % (b, 4 * MIB), 6.0, "us"))
        runs.append(run("scan/note/warm/%s/size:%d" % (b, 1024 * MIB), 8.0, "us"))
    for kind in ("marker", "note") if cold else ():
        runs.append(run("scan/%s/cold/auto_vs_best/size:%d" % (kind, 4 * MIB), 100.0, "us",
                        auto_us=100.0, mmap_us=99.0, read_us=120.0))
    return runs


def with_time(runs, name, real_time, unit="ns"):
    """runs with the run of benchmark `name` replaced by one of real_time."""
    return [r for r in runs if r["name"] != name + "/real_time"] + [run(name, real_time, unit)]


def failed(name):
    return run(name, 0.0, "us", error_occurred=True, error_message="eviction did not happen")


class Acceptance(unittest.TestCase):
    def check(self, runs, *options):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            with open(path, "w") as f:
                json.dump({"context": {}, "benchmarks": runs}, f)
            p = subprocess.run([sys.executable, SCRIPT, path] + list(options),
                               capture_output=True, text=True)
        rows = {}
        for line in p.stdout.splitlines():
            label = line[:56].strip()
            rows[label] = line[56:].split()
        return p.returncode, rows, p.stdout

    def test_all_met(self):
        code, rows, out = self.check(registry_runs() + scan_runs())
        self.assertEqual(code, 0, out)
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % (256 * MIB)][0],
                         "2.00")
        self.assertEqual(rows["scan note warm auto, %d / %d bytes" % (1024 * MIB, 4 * MIB)][0],
                         "1.33")

    def test_output_that_cannot_be_written(self):
        """A verdict that never got out is exit 2 with one line, not 1
        ("missed") with a traceback."""
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            with open(path, "w") as f:
                json.dump({"context": {}, "benchmarks": registry_runs() + scan_runs()}, f)
            with open("/dev/full", "w") as full:
                p = subprocess.run([sys.executable, SCRIPT, path], stdout=full,
                                   stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr, "acceptance: cannot write the output: "
                                   "No space left on device\n")

    def test_memmem_and_note_misses(self):
        code, rows, out = self.check(registry_runs() + scan_runs(memmem_us=150.0,
                                                                 note_big_us=60.0))
        self.assertEqual(code, 1)
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % (256 * MIB)][-1],
                         "MISSED")
        self.assertEqual(rows["scan note warm auto, %d bytes (us)" % (1024 * MIB)][-1],
                         "MISSED")
        self.assertEqual(rows["scan note warm auto, %d / %d bytes" % (1024 * MIB, 4 * MIB)][-1],
                         "MISSED")

    def test_side_by_side_uses_medians_of_each_backend(self):
        # mmap and read alternate between 100 and 130 us; auto is always 110.
        # The per-run "best" would be 100 every time (auto 1.10 over it);
        # the medians of each backend give 110 / 115 = 0.96.
        name = "scan/marker/cold/auto_vs_best/size:%d" % (64 * MIB)
        runs = []
        for i in range(10):
            a, b = (100.0, 130.0) if i % 2 else (130.0, 100.0)
            runs.append(run(name, 110.0, "us", auto_us=110.0, mmap_us=a, read_us=b,
                            auto_over_best=1.1))
        code, rows, out = self.check(registry_runs() + scan_runs() + runs)
        row = rows["scan marker cold auto/best, %d bytes" % (64 * MIB)]
        self.assertEqual(row[0], "0.96", out)
        self.assertEqual(code, 0, out)

    def test_side_by_side_miss(self):
        name = "scan/marker/warm/auto_vs_best/size:%d" % (4 * MIB)
        runs = [run(name, 110.0, "us", auto_us=110.0, mmap_us=100.0, read_us=150.0)
                for _ in range(3)]
        code, rows, out = self.check(registry_runs() + scan_runs() + runs)
        self.assertEqual(code, 1)
        self.assertEqual(rows["scan marker warm auto/best, %d bytes" % (4 * MIB)],
                         ["1.10", "<=", "1.05", "MISSED"])

    def test_memory_side_by_side_preferred(self):
        # The separate families give memmem 150 / auto 100 = 1.50 (missed);
        # the side-by-side runs, medians of each one's mean, 230 / 110.
        name = "scan/marker/warm/auto_vs_memory/size:%d" % (256 * MIB)
        runs = [run(name, a, "us", auto_us=a, memchr_us=c, memmem_us=mm)
                for a, c, mm in ((100.0, 80.0, 200.0), (110.0, 90.0, 230.0),
                                 (120.0, 95.0, 260.0))]
        code, rows, out = self.check(registry_runs() + scan_runs(memmem_us=150.0) + runs)
        big = 256 * MIB
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % big],
                         ["2.09", ">=", "2", "met"], out)
        self.assertEqual(rows["scan marker warm auto vs memchr, %d bytes" % big][0], "0.82",
                         out)
        self.assertEqual(code, 0, out)

    def test_memory_side_by_side_miss(self):
        name = "scan/marker/warm/auto_vs_memory/size:%d" % (256 * MIB)
        runs = [run(name, 100.0, "us", auto_us=100.0, memchr_us=60.0, memmem_us=190.0)]
        code, rows, out = self.check(registry_runs() + scan_runs() + runs)
        big = 256 * MIB
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % big],
                         ["1.90", ">=", "2", "MISSED"], out)
        self.assertEqual(rows["scan marker warm auto vs memchr, %d bytes" % big],
                         ["0.60", ">=", "0.7", "MISSED"], out)
        self.assertEqual(code, 1, out)

    def test_memory_side_by_side_only(self):
        # A report with only the side-by-side family still has the figures
        # (and a size only it has counts).
        name = "scan/marker/warm/auto_vs_memory/size:%d" % (1024 * MIB)
        runs = [run(name, 400.0, "us", auto_us=400.0, memchr_us=380.0, memmem_us=900.0)]
        code, rows, out = self.check(registry_runs() + scan_runs() + runs)
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % (1024 * MIB)],
                         ["2.25", ">=", "2", "met"], out)
        self.assertEqual(code, 0, out)

    def test_copies_rows(self):
        cs = "registry/read_sym_copies/%s/threads:%d"
        runs = with_time(registry_runs(), cs % ("unsync", 2), 10.0)
        code, rows, out = self.check(runs + scan_runs())
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["read_sym_copies dlreg/unsync, 2 threads"],
                         ["1.60", "<=", "1.5", "MISSED"])
        self.assertEqual(rows["read_sym_copies dlopen/dlreg, 2 threads"][-1], "met")
        self.assertEqual(rows["read_sym_copies dlreg scaling 1->2 threads"][0], "1.88")

    def test_copies_rows_required(self):
        # read_sym alone: dlreg below unsync there says nothing about the limit.
        runs = [r for r in registry_runs() if "/read_sym_copies/" not in r["name"]]
        code, rows, out = self.check(runs + scan_runs())
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["read_sym dlreg/unsync, 2 threads"][-1], "met", out)
        self.assertEqual(rows["read_sym_copies dlreg/unsync, 2 threads"],
                         ["absent", "<=", "1.5", "MISSED"], out)

    def test_device_reads_table(self):
        name = "scan/marker/cold/auto_vs_best/size:%d" % (256 * 1024)
        dev = dict(auto_dev_reads=2.0, auto_dev_kib=272.0, mmap_dev_reads=1.0,
                   mmap_dev_kib=256.0, read_dev_reads=2.0, read_dev_kib=256.0)
        runs = [run(name, 220.0, "us", auto_us=220.0, mmap_us=150.0, read_us=250.0, **dev)
                for _ in range(3)]
        runs[0]["auto_dev_reads"] = 3.0  # the median, not the first run, is shown
        code, _, out = self.check(registry_runs() + scan_runs() + runs)
        self.assertEqual(code, 1, out)
        self.assertIn("device reads per scan", out)
        line = [ln for ln in out.splitlines() if ln.startswith("marker cold, 262144 bytes")]
        self.assertEqual(len(line), 1, out)
        self.assertEqual(line[0].split()[4:], ["2.00", "(272", "KiB)", "1.00", "(256", "KiB)",
                                              "2.00", "(256", "KiB)"])
        code, _, out = self.check(registry_runs() + scan_runs() + runs, "--format=markdown")
        self.assertIn("| marker cold, 262144 bytes | 2.00 (272 KiB) | 1.00 (256 KiB) |", out)
        # Without the counters there is no such table.
        code, _, out = self.check(registry_runs() + scan_runs())
        self.assertNotIn("device reads", out)

    def test_markdown_either_spelling(self):
        for options in (["--format=markdown"], ["--format", "markdown"]):
            code, _, out = self.check(registry_runs() + scan_runs(), *options)
            self.assertEqual(code, 0, (options, out))
            self.assertTrue(out.startswith("| target | value | goal |"), (options, out))
        code, _, out = self.check(registry_runs() + scan_runs(), "--format")
        self.assertEqual(code, 2)

    def test_churn_that_stayed_mapped_is_missed(self):
        # A churn loop whose plugin was still loaded at the end timed no
        # unloading: however fast, its figure is no churn figure.
        ch = "registry/churn/%s/threads:%d"
        runs = registry_runs()
        for r in runs:
            if "/churn/" in r["name"]:
                r["still_mapped"] = 0
        code, rows, out = self.check(runs + scan_runs())
        self.assertEqual(code, 0, out)
        self.assertEqual(rows["churn dlreg/dlopen, 2 threads"], ["1.05", "<=", "1.25", "met"])
        stuck = run(ch % ("dlreg", 2), 400.0, still_mapped=1)
        code, rows, out = self.check(runs + [stuck] + scan_runs())
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["churn dlreg/dlopen, 2 threads"],
                         ["mapped", "<=", "1.25", "MISSED"], out)
        self.assertEqual(rows["churn dlreg/dlopen, 1 thread"][-1], "met", out)
        code, _, out = self.check(runs + [stuck] + scan_runs(), "--format=markdown")
        self.assertIn("| churn dlreg/dlopen, 2 threads | mapped | <= 1.25 | MISSED |", out)
        # The baseline's runs count too: a dlopen that stayed mapped timed no churn.
        code, rows, out = self.check(runs + [run(ch % ("dlopen", 1), 950.0, still_mapped=1)]
                                     + scan_runs())
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["churn dlreg/dlopen, 1 thread"][0], "mapped", out)

    def test_absent_targets_fail(self):
        code, rows, out = self.check(registry_runs())
        self.assertEqual(code, 1)
        self.assertIn("absent", out)

    def test_note_target_is_the_1gib_file(self):
        # The largest note file present (256 MiB) does not stand in for 1 GiB.
        runs = [r for r in scan_runs() if not r["name"].startswith("scan/note/warm/auto/")]
        runs += [run("scan/note/warm/auto/size:%d" % (4 * MIB), 6.0, "us"),
                 run("scan/note/warm/auto/size:%d" % (256 * MIB), 7.0, "us"),
                 failed("scan/note/warm/auto/size:%d" % (1024 * MIB))]
        code, rows, out = self.check(registry_runs() + runs)
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan note warm auto, %d bytes (us)" % (1024 * MIB)][0], "absent",
                         out)
        self.assertEqual(rows["scan note warm auto, %d / %d bytes" % (1024 * MIB, 4 * MIB)][0],
                         "absent", out)
        self.assertNotIn("scan note warm auto, %d bytes (us)" % (256 * MIB), rows, out)

    def test_failed_points_are_absent(self):
        # Every repetition of a point failed: the point is missed, not skipped.
        cold = failed("scan/marker/cold/auto_vs_best/size:%d" % (16 * MIB))
        code, rows, out = self.check(registry_runs() + scan_runs() + [cold])
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan marker cold auto/best, %d bytes" % (16 * MIB)][0], "absent",
                         out)
        gib = [failed("scan/marker/warm/auto/size:%d" % (1024 * MIB)),
               run("scan/marker/warm/memmem/size:%d" % (1024 * MIB), 800.0, "us"),
               run("scan/marker/warm/memchr/size:%d" % (1024 * MIB), 360.0, "us")]
        code, rows, out = self.check(registry_runs() + scan_runs() + gib)
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan marker warm auto vs memmem, %d bytes" % (1024 * MIB)][0],
                         "absent", out)

    def test_no_cold_points_is_a_miss(self):
        # A report without cold runs (--no-cold, or all of them failed).
        code, rows, out = self.check(registry_runs() + scan_runs(cold=False))
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan marker cold auto/best, every size"][0], "absent", out)
        self.assertEqual(rows["scan note cold auto/best, every size"][0], "absent", out)
        self.assertNotIn("scan marker warm auto/best, every size", rows, out)

    def test_help(self):
        for h in ("-h", "--help"):
            p = subprocess.run([sys.executable, SCRIPT, h], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0)
            self.assertTrue(p.stdout.startswith("usage: acceptance.py"), p.stdout)
            self.assertIn("auto_vs_best", p.stdout)

    def test_bad_input(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write("not json")
            f.flush()
            p = subprocess.run([sys.executable, SCRIPT, f.name], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not a benchmark report", p.stderr)

    def test_runs_without_a_time_are_bad_input(self):
        # A run (not an error) with no real_time, or one that is not a
        # number, is a malformed report (2), not a missed target (1).
        for bad in ({}, {"real_time": "5"}, {"real_time": None}, {"real_time": True}):
            b = {"name": "registry/read_sym/dlreg/threads:1", "run_type": "iteration"}
            b.update(bad)
            code, _, out = self.check(registry_runs() + scan_runs() + [b])
            self.assertEqual(code, 2, (bad, out))

    def test_zero_times_meet_no_target(self):
        # A time of 0 is no measurement: a ratio with it is absent either way.
        rs = "registry/read_sym/%s/threads:%d"
        code, rows, out = self.check(with_time(registry_runs(), rs % ("dlreg", 2), 0.0)
                                     + scan_runs())
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["read_sym dlreg/unsync, 2 threads"],
                         ["absent", "<=", "1.5", "MISSED"], out)
        self.assertEqual(rows["read_sym qt/dlreg, 2 threads"][0], "absent", out)
        big = "scan/note/warm/auto/size:%d" % (1024 * MIB)
        code, rows, out = self.check(registry_runs() + with_time(scan_runs(), big, 0.0, "us"))
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan note warm auto, %d bytes (us)" % (1024 * MIB)][0], "absent")
        small = "scan/note/warm/auto/size:%d" % (4 * MIB)
        code, rows, out = self.check(registry_runs() + with_time(scan_runs(), small, 0.0, "us"))
        self.assertEqual(code, 1, out)
        self.assertEqual(rows["scan note warm auto, %d / %d bytes" % (1024 * MIB, 4 * MIB)][0],
                         "absent", out)


if __name__ == "__main__":
    unittest.main()
