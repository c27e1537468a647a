"""Unit tests for scripts/plot.

The name parsing runs under any Python 3.  Drawing needs matplotlib, which
plot finds itself (this interpreter, /usr/bin/python3 or python3); without
any, the drawing tests are skipped and plot must fail with exit status 2.
"""

import importlib.machinery
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

SCRIPTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PLOT = os.path.join(SCRIPTS, "plot")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, SCRIPTS)
import libbench as lb  # noqa: E402


def load_plot():
    loader = importlib.machinery.SourceFileLoader("plot_under_test", PLOT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


plot = load_plot()


def entry(name, t, **counters):
    e = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
         "repetition_index": 0, "threads": 1, "iterations": 100, "real_time": t,
         "cpu_time": t, "time_unit": "ns"}
    e.update(counters)
    return e


def sample_report(scale=1.0):
    b = []
    for variant, t in (("dlreg", 20.0), ("qt", 250.0)):
        for threads in (1, 2, 4):
            name = "registry/read_sym/%s/real_time/threads:%d" % (variant, threads)
            b.append(entry(name, t * scale / threads, items_per_second=1e9 * threads / t))
    for backend, gbps in (("mmap", 10.0), ("auto", 9.0), ("read-16K", 8.0)):
        for size in (4096, 65536, 1048576):
            b.append(entry("scan/marker/warm/%s/size:%d/real_time" % (backend, size),
                           size / gbps * scale, bytes_per_second=gbps * 1e9 / scale))
    for fn, gbps in (("memchr", 70.0), ("dlreg_find", 20.0)):
        for size in (4096, 65536, 1048576):
            b.append(entry("scan/marker/warm/%s/size:%d/real_time" % (fn, size),
                           size / gbps * scale, bytes_per_second=gbps * 1e9 / scale))
    b.append(entry("scan/marker/warm/memmem/size:65536/real_time", 9.5 * scale,
                   bytes_per_second=6.9e9))
    b.append(entry("BM_find/avx2/65536", 3000.0 * scale, bytes_per_second=21e9))
    # ELF note lookups carry no bytes_per_second: no bandwidth line.
    b.append(entry("scan/note/warm/mmap/size:65536/real_time", 20000.0 * scale))
    return {"context": {}, "benchmarks": b}


def have_matplotlib():
    return plot.find_python_with_matplotlib() is not None or \
        importlib.util.find_spec("matplotlib") is not None


class TestParsing(unittest.TestCase):
    def series(self, doc):
        return lb.collect(doc)[0]

    def test_split_name(self):
        self.assertEqual(plot.split_name("registry/read_sym/qt/real_time/threads:2"),
                         (["registry", "read_sym", "qt"], 2))
        self.assertEqual(plot.split_name("scan/find/mmap/4096"), (["scan", "find", "mmap",
                                                                   "4096"], None))

    def test_throughput_groups_variants_by_family(self):
        data = plot.throughput_data(self.series(sample_report()))
        self.assertEqual(list(data), ["registry/read_sym"])
        self.assertEqual(sorted(data["registry/read_sym"]), ["dlreg", "qt"])
        pts = data["registry/read_sym"]["dlreg"]
        self.assertEqual([t for t, _ in pts], [1, 2, 4])
        self.assertAlmostEqual(pts[1][1], 1e8)  # items_per_second, not 1/time

    def test_throughput_falls_back_to_time(self):
        doc = {"benchmarks": [entry("BM_x/v/threads:2", 50.0)]}
        data = plot.throughput_data(self.series(doc))
        self.assertAlmostEqual(data["BM_x"]["v"][0][1], 2e7)

    def test_counter_median_ignores_non_finite_values(self):
        doc = {"benchmarks": [entry("BM_c", 10.0, items_per_second=v)
                              for v in (float("inf"), 5.0, float("nan"), 7.0)]}
        s = self.series(doc)["BM_c"]
        self.assertAlmostEqual(plot.counter_median(s, "items_per_second"), 6.0)
        doc = {"benchmarks": [entry("BM_c", 10.0, items_per_second=float("inf"))]}
        self.assertIsNone(plot.counter_median(self.series(doc)["BM_c"], "items_per_second"))

    def test_bandwidth_sizes_and_limits(self):
        charts, limits = plot.bandwidth_data(self.series(sample_report()))
        self.assertEqual(sorted(charts), ["BM_find", "scan/marker/warm"])
        scan = charts["scan/marker/warm"]
        self.assertEqual(sorted(scan), ["auto", "dlreg_find", "mmap", "read-16K"])
        self.assertEqual([s for s, _ in scan["mmap"]], [4096, 65536, 1048576])
        self.assertEqual(sorted(limits), ["memchr", "memmem"])
        self.assertEqual(limits["memmem"], [(65536, 6.9e9)])
        self.assertTrue(plot.is_limit("memchr") and plot.is_limit("memmem_glibc"))
        self.assertFalse(plot.is_limit("mmap"))

    def test_bandwidth_key(self):
        self.assertEqual(plot.bandwidth_key(["scan", "marker", "cold", "read-16K", "size:4096"]),
                         ("scan/marker/cold", "read-16K", 4096))
        self.assertEqual(plot.bandwidth_key(["BM_find", "avx2", "65536", "align:8"]),
                         ("BM_find", "avx2 align:8", 65536))
        self.assertIsNone(plot.bandwidth_key(["BM_find", "fast"]))
        self.assertIsNone(plot.bandwidth_key(["avx2", "65536"]))

    def test_before_after_pairs_common_names(self):
        a = self.series(sample_report())
        name = "scan/marker/warm/mmap/size:4096/real_time"
        b = self.series({"benchmarks": [entry(name, 819.2)]})
        self.assertEqual(plot.before_after_data(a, b), ([(name, 409.6, 819.2)], []))

    def test_before_after_leaves_out_zero_times(self):
        # A log scale has no 0: such a benchmark is named, not drawn.
        a = self.series({"benchmarks": [entry("BM_a", 10.0), entry("BM_zero", 0.0),
                                        entry("BM_was_zero", 0.0), entry("BM_now_zero", 4.0)]})
        b = self.series({"benchmarks": [entry("BM_a", 11.0), entry("BM_zero", 0.0),
                                        entry("BM_was_zero", 3.0), entry("BM_now_zero", 0.0)]})
        self.assertEqual(plot.before_after_data(a, b),
                         ([("BM_a", 10.0, 11.0)], ["BM_zero", "BM_was_zero", "BM_now_zero"]))


class TestCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, doc):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def run_plot(self, *args):
        p = subprocess.run([sys.executable, PLOT] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        return p.returncode, p.stdout, p.stderr

    def test_bad_input_is_one_line_exit_2(self):
        out = os.path.join(self.dir, "out")
        for args in (["-o", out, os.path.join(self.dir, "missing.json")],
                     ["-o", out, self.write("bad.json", "not json")],
                     ["-o", out, self.write("x.json", {"a": 1})],
                     [self.write("ok.json", sample_report())]):
            code, stdout, err = self.run_plot(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertNotIn("Traceback", err)

    def test_output_path_that_is_a_file(self):
        a = self.write("r.json", sample_report())
        existing = self.write("existing", "x")
        code, stdout, err = self.run_plot("-o", existing, a)
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("exists and is not a directory", err)
        self.assertNotIn("Errno", err)
        with open(existing) as f:
            self.assertEqual(f.read(), "x")

    def test_charts_are_written(self):
        if not have_matplotlib():
            self.skipTest("no Python with matplotlib")
        a = self.write("before.json", sample_report())
        b = self.write("after.json", sample_report(scale=1.1))
        out = os.path.join(self.dir, "charts")
        code, stdout, err = self.run_plot(a, b, "-o", out)
        self.assertEqual(code, 0, err)
        files = stdout.split()
        expect = {"before-after"}
        for side in ("before", "after"):
            expect |= {side + "-throughput-registry-read_sym", side + "-bandwidth-BM_find",
                       side + "-bandwidth-scan-marker-warm"}
        self.assertEqual({os.path.splitext(os.path.basename(f))[0] for f in files}, expect)
        for f in files:
            with open(f, "rb") as fh:
                head = fh.read(512)
            if f.endswith(".png"):
                self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
            else:
                self.assertIn(b"<svg", head)
        with open(os.path.join(out, "before-after.svg")) as fh:
            svg = fh.read()
        self.assertIn("+10.0%", svg)  # every time is 10% longer in after.json

    def test_charts_that_cannot_be_written(self):
        """A full disk (a 64 KiB tmpfs, in a private mount namespace, as
        root) while charts are saved: exit 2, one line, and no empty or cut
        chart left under a chart's name (an empty .svg was)."""
        if not have_matplotlib():
            self.skipTest("no Python with matplotlib")
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare for a private tmpfs")
        a = self.write("r.json", sample_report())
        out = os.path.join(self.dir, "charts")
        os.mkdir(out)
        listing = os.path.join(self.dir, "listing")
        script = ('mount -t tmpfs -o size=64k tmpfs "$1" || exit 99; shift; "$@"; rc=$?; '
                  'for f in "$OUT"/* "$OUT"/.*part; do [ -f "$f" ] || continue; '
                  'printf "%s %s " "${f##*/}" "$(stat -c %s "$f")"; '
                  'tail -c 12 "$f" | od -An -tx1 | tr -d " \\n"; echo; done > "$LISTING"; '
                  'exit $rc')
        p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", out, sys.executable,
                            PLOT, a, "-o", out],
                           env=dict(os.environ, OUT=out, LISTING=listing),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode == 99:
            self.skipTest("cannot mount a tmpfs here: " + p.stderr.strip())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        with open(listing) as f:
            files = [line.split() for line in f.read().splitlines()]
        for name, size, tail in files:
            self.assertFalse(name.endswith(".part"), files)
            if name.endswith(".png"):  # a complete PNG ends with its IEND chunk
                self.assertTrue(tail.endswith("49454e44ae426082"), (name, size, tail))
            else:
                self.assertEqual(bytes.fromhex(tail).rstrip(b"\n")[-6:], b"</svg>", (name, size))

    def test_before_after_with_a_zero_time(self):
        if not have_matplotlib():
            self.skipTest("no Python with matplotlib")
        before, after = sample_report(), sample_report(scale=1.1)
        for doc in (before, after):
            doc["benchmarks"].append(entry("BM_empty", 0.0))
        a = self.write("before.json", before)
        b = self.write("after.json", after)
        out = os.path.join(self.dir, "charts")
        code, stdout, err = self.run_plot(a, b, "-o", out)
        self.assertEqual(code, 0, err)
        self.assertNotIn("Traceback", err)
        self.assertIn("plot: warning: before-after: 1 benchmark(s) with a median time of 0 "
                      "left out: BM_empty", err)
        self.assertIn(os.path.join(out, "before-after.svg"), stdout.split())
        with open(os.path.join(out, "before-after.svg")) as fh:
            self.assertNotIn("BM_empty", fh.read())

    def test_unexpected_error_exits_2(self):
        # Exit status 2 with one line, never a traceback and status 1.
        def boom(argv):
            raise ValueError("boom\nsecond line")

        with mock.patch.object(plot, "run", boom), \
                mock.patch.object(sys, "stderr", io.StringIO()) as err:
            with self.assertRaises(SystemExit) as e:
                plot.main()
        self.assertEqual(e.exception.code, 2)
        self.assertEqual(err.getvalue(), "plot: error: unexpected ValueError: boom second line\n")

    def test_no_matplotlib_is_a_clean_error(self):
        if importlib.util.find_spec("matplotlib") is not None:
            self.skipTest("this Python has matplotlib")
        # The re-exec marker makes plot behave as if no other Python had it.
        a = self.write("r.json", sample_report())
        env = dict(os.environ, DLREG_PLOT_REEXEC="1")
        p = subprocess.run([sys.executable, PLOT, a, "-o", os.path.join(self.dir, "o")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("matplotlib not found", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_nothing_to_plot(self):
        if not have_matplotlib():
            self.skipTest("no Python with matplotlib")
        a = self.write("one.json", {"benchmarks": [entry("BM_plain", 5.0)]})
        code, _, err = self.run_plot(a, "-o", os.path.join(self.dir, "o"))
        self.assertEqual(code, 2)
        self.assertIn("nothing to plot", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
