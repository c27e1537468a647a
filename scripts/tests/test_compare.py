"""Unit tests for scripts/compare and the statistics in scripts/libbench.py.

Reports are synthetic Google Benchmark JSON written by the tests, so the
expected verdicts are known exactly.  Runs under any Python 3.
"""

import importlib.machinery
import importlib.util
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

SCRIPTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
COMPARE = os.path.join(SCRIPTS, "compare")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, SCRIPTS)
import libbench as lb  # noqa: E402


def load_compare():
    loader = importlib.machinery.SourceFileLoader("compare_under_test", COMPARE)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def strict_json(text):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def refuse(name):
        raise ValueError("not JSON: %s" % name)
    return json.loads(text, parse_constant=refuse)


def make_report(times, reps=9, unit="ns", seed=1, noise=0.01, aggregates=True):
    """A report with `reps` repetitions per benchmark around times[name]."""
    rnd = random.Random(seed)
    benchmarks = []
    for name, t in times.items():
        vals = [t * (1 + rnd.uniform(-noise, noise)) for _ in range(reps)]
        for i, v in enumerate(vals):
            benchmarks.append({"name": name, "run_name": name, "run_type": "iteration",
                               "repetitions": reps, "repetition_index": i, "threads": 1,
                               "iterations": 1000, "real_time": v, "cpu_time": v * 0.98,
                               "time_unit": unit})
        if aggregates:
            for agg in ("mean", "median", "stddev"):
                benchmarks.append({"name": name + "_" + agg, "run_name": name,
                                   "run_type": "aggregate", "repetitions": reps,
                                   "threads": 1, "aggregate_name": agg,
                                   "real_time": 1.0, "cpu_time": 1.0, "time_unit": unit})
    return {"context": {"date": "2024-01-01", "num_cpus": 2}, "benchmarks": benchmarks}


TIMES = {"BM_read_sym/dlreg/threads:1": 18.0, "BM_read_sym/qt/threads:2": 300.0,
         "BM_scan/mmap/65536": 4200.0}


class CliCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def run_compare(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([sys.executable, COMPARE] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=e)
        return p.returncode, p.stdout, p.stderr

    def json_compare(self, *args):
        code, out, err = self.run_compare("--format", "json", *args)
        return code, json.loads(out), err


class TestVerdicts(CliCase):
    def test_identical_reports_pass(self):
        a = self.write("a.json", make_report(TIMES))
        code, doc, _ = self.json_compare(a, a)
        self.assertEqual(code, 0)
        self.assertEqual([r["verdict"] for r in doc["benchmarks"]], ["same"] * 3)
        self.assertEqual(doc["regressions"], [])
        self.assertAlmostEqual(doc["geomean"]["real_change_pct"], 0.0)

    def test_every_time_20_percent_slower_fails(self):
        a = self.write("a.json", make_report(TIMES, seed=1))
        slow = {k: v * 1.2 for k, v in TIMES.items()}
        b = self.write("b.json", make_report(slow, seed=2))
        code, doc, _ = self.json_compare(a, b)
        self.assertEqual(code, 1)
        self.assertEqual(sorted(doc["regressions"]), sorted(TIMES))
        for r in doc["benchmarks"]:
            self.assertEqual(r["verdict"], "slower")
            self.assertAlmostEqual(r["real_change_pct"], 20.0, delta=2.0)
            # 9 vs 9 fully separated: 2 / C(18, 9) = 2 / 48620.
            self.assertAlmostEqual(r["p_value"], 2.0 / 48620, places=12)
        self.assertAlmostEqual(doc["geomean"]["real_change_pct"], 20.0, delta=2.0)

    def test_faster_is_not_a_regression(self):
        a = self.write("a.json", make_report(TIMES, seed=1))
        b = self.write("b.json", make_report({k: v * 0.8 for k, v in TIMES.items()}, seed=2))
        code, doc, _ = self.json_compare(a, b)
        self.assertEqual(code, 0)
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"faster"})

    def test_significant_but_below_threshold_passes(self):
        a = self.write("a.json", make_report(TIMES, seed=1, noise=0.002))
        b = self.write("b.json", make_report({k: v * 1.03 for k, v in TIMES.items()},
                                             seed=2, noise=0.002))
        code, doc, _ = self.json_compare(a, b)
        self.assertEqual(code, 0)
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"slower"})
        code, doc, _ = self.json_compare("--threshold", "2", a, b)
        self.assertEqual(code, 1)

    def test_cv_multiplier_raises_threshold(self):
        # Base noise +-10% uniform: CV ~ 5.8%, so 3 x CV ~ 17% > the 12% slowdown.
        a = self.write("a.json", make_report(TIMES, seed=3, noise=0.10, reps=15))
        b = self.write("b.json", make_report({k: v * 1.4 for k, v in TIMES.items()},
                                             seed=4, noise=0.10, reps=15))
        code, doc, _ = self.json_compare("--cv-multiplier", "3", a, b)
        for r in doc["benchmarks"]:
            self.assertGreater(r["threshold_pct"], 10.0)
        self.assertEqual(code, 1)  # 40% is past any threshold
        b2 = self.write("b2.json", make_report({k: v * 1.12 for k, v in TIMES.items()},
                                               seed=4, noise=0.0, reps=15))
        code, doc, _ = self.json_compare("--cv-multiplier", "3", a, b2)
        self.assertEqual(code, 0, doc)
        code, doc, _ = self.json_compare(a, b2)
        self.assertEqual(code, 1)

    def test_three_repetitions_warns_and_cannot_fail(self):
        a = self.write("a.json", make_report(TIMES, reps=3, seed=1))
        b = self.write("b.json", make_report({k: v * 2 for k, v in TIMES.items()},
                                             reps=3, seed=2))
        code, doc, err = self.json_compare(a, b)
        self.assertEqual(code, 0)
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"too few repetitions"})
        self.assertIn("3 vs 3 repetitions can never reach p < 0.05", err)
        self.assertIn("0.1000", err)
        self.assertIn("at least 4", err)

    def test_aggregates_only_report(self):
        doc = make_report(TIMES, reps=5)
        doc["benchmarks"] = [e for e in doc["benchmarks"] if e["run_type"] == "aggregate"]
        for e in doc["benchmarks"]:
            if e["aggregate_name"] == "median":
                e["real_time"] = e["cpu_time"] = 50.0
        a = self.write("a.json", doc)
        code, out, _ = self.json_compare(a, a)
        self.assertEqual(code, 0)
        r = out["benchmarks"][0]
        self.assertTrue(r["old"]["from_aggregate"])
        self.assertEqual(r["old"]["real_median"], 50.0)  # the median aggregate, not the mean
        self.assertEqual(r["verdict"], "too few repetitions")

    def test_units_are_normalised(self):
        a = self.write("a.json", make_report({"BM_x": 2.0}, unit="us", noise=0.0))
        b = self.write("b.json", make_report({"BM_x": 2000.0}, unit="ns", noise=0.0))
        code, doc, _ = self.json_compare(a, b)
        self.assertEqual(code, 0)
        self.assertAlmostEqual(doc["benchmarks"][0]["real_change_pct"], 0.0)
        code, out, _ = self.run_compare(a, b)
        self.assertIn("2.000 us", out)

    def test_filter_and_partial_overlap(self):
        a = self.write("a.json", make_report(TIMES))
        b = self.write("b.json", make_report({"BM_read_sym/dlreg/threads:1": 18.0,
                                              "BM_new_one": 5.0}))
        code, doc, err = self.json_compare(a, b)
        self.assertEqual([r["name"] for r in doc["benchmarks"]], ["BM_read_sym/dlreg/threads:1"])
        self.assertEqual(doc["only_in_new"], ["BM_new_one"])
        self.assertIn("only in", err)
        code, doc, _ = self.json_compare("--filter", "qt", a, a)
        self.assertEqual([r["name"] for r in doc["benchmarks"]], ["BM_read_sym/qt/threads:2"])

    def test_time_segment_change_is_one_benchmark(self):
        # UseRealTime in the base, UseManualTime in the candidate: the same
        # benchmark, compared under the name without the segment.
        old = {"BM_a/real_time/threads:1": 100.0, "BM_b/real_time": 50.0, "BM_c": 10.0}
        new = {"BM_a/manual_time/threads:1": 120.0, "BM_b/real_time": 50.0, "BM_c": 10.0}
        a = self.write("a.json", make_report(old, seed=1))
        b = self.write("b.json", make_report(new, seed=2))
        code, doc, err = self.json_compare(a, b)
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["only_in_base"], [])
        self.assertEqual(doc["only_in_new"], [])
        self.assertEqual(doc["regressions"], ["BM_a/threads:1"])
        row = next(r for r in doc["benchmarks"] if r["name"] == "BM_a/threads:1")
        self.assertEqual((row["name"], row["base_name"], row["new_name"]),
                         ("BM_a/threads:1", "BM_a/real_time/threads:1",
                          "BM_a/manual_time/threads:1"))
        self.assertIn("compared as BM_a/threads:1", err)
        # Every run of the renamed benchmark failed in NEW: a regression,
        # as under one name.
        failing = make_report(new, seed=2)
        for e in failing["benchmarks"]:
            if e["run_name"] == "BM_a/manual_time/threads:1" and e["run_type"] == "iteration":
                e.update(error_occurred=True, error_message="fixture missing")
        f = self.write("f.json", failing)
        code, doc, err = self.json_compare(a, f)
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["failed_in_new"],
                         [{"name": "BM_a/real_time/threads:1", "error_message": "fixture missing"}])
        self.assertEqual(doc["only_in_base"], [])
        # Two candidates for one base name: ambiguous, so not paired.
        new2 = dict(new, **{"BM_a/process_time/threads:1": 120.0})
        c = self.write("c.json", make_report(new2, seed=2))
        code, doc, err = self.json_compare(a, c)
        self.assertEqual(code, 0, err)
        self.assertEqual(doc["only_in_base"], ["BM_a/real_time/threads:1"])
        self.assertEqual(len(doc["only_in_new"]), 2)
        self.assertNotIn("compared as", err)

    def test_error_runs_are_skipped(self):
        doc = make_report(TIMES)
        for e in doc["benchmarks"]:
            if e["name"].startswith("BM_scan"):
                e.update({"error_occurred": True, "error_message": "no file"})
                del e["real_time"]
        a = self.write("a.json", doc)
        code, out, err = self.json_compare(a, a)
        self.assertEqual(code, 0)
        self.assertEqual(len(out["benchmarks"]), 2)
        self.assertIn("BM_scan/mmap/65536: every run reported an error", err)

    def test_runs_the_benchmark_skipped_are_no_samples(self):
        # Google Benchmark 1.8+ writes a SkipWithMessage run as "skipped": true
        # with zero times (or none): read as 0 ns it turned a skip in the base
        # into a +inf % regression and one in the new report into "faster".
        def skipping(seed, drop_times=False):
            doc = make_report(TIMES, seed=seed)
            for e in doc["benchmarks"]:
                if e["name"].startswith("BM_scan"):
                    e.update({"skipped": True, "skip_message": "no huge pages",
                              "real_time": 0.0, "cpu_time": 0.0, "iterations": 0})
                    if drop_times:
                        del e["real_time"], e["cpu_time"]
            return doc
        a = self.write("a.json", make_report(TIMES, seed=1))
        s = self.write("s.json", skipping(2))
        for base, new, side in ((a, s, "new"), (s, a, "base")):
            code, out, err = self.json_compare(base, new)
            self.assertEqual(code, 0, err)
            self.assertEqual(sorted(r["name"] for r in out["benchmarks"]),
                             sorted(k for k in TIMES if not k.startswith("BM_scan")))
            self.assertEqual(out["skipped_in_" + side],
                             [{"name": "BM_scan/mmap/65536", "skip_message": "no huge pages"}])
            self.assertIn("BM_scan/mmap/65536: every run was skipped by the benchmark "
                          "(no huge pages)", err)
        # A skipped run without time fields is no malformed report either.
        t = self.write("t.json", skipping(3, drop_times=True))
        code, out, err = self.json_compare(a, t)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(out["benchmarks"]), 2)
        # Some repetitions skipped: the others are the samples.
        doc = make_report(TIMES, seed=4)
        scan = [e for e in doc["benchmarks"] if e["name"] == "BM_scan/mmap/65536"]
        scan[0].update({"skipped": True, "skip_message": "busy", "real_time": 0.0,
                        "cpu_time": 0.0})
        code, out, err = self.json_compare(a, self.write("p.json", doc))
        self.assertEqual(code, 0, err)
        row = [r for r in out["benchmarks"] if r["name"] == "BM_scan/mmap/65536"][0]
        self.assertEqual(row["new"]["repetitions"], 8)
        self.assertEqual(row["verdict"], "same")
        self.assertIn("a run was skipped", err)

    def test_benchmark_failing_only_in_new_is_a_regression(self):
        a = self.write("a.json", make_report(TIMES))
        doc = make_report(TIMES, seed=2)
        for e in doc["benchmarks"]:
            if e["name"].startswith("BM_scan"):
                e.update({"error_occurred": True, "error_message": "no file"})
                del e["real_time"]
        b = self.write("b.json", doc)
        for fmt in ("table", "markdown"):
            code, out, err = self.run_compare("--format", fmt, a, b)
            self.assertEqual(code, 1, err)
            self.assertIn("regression: BM_scan/mmap/65536: every run failed in %s: no file" % b,
                          err)
            self.assertNotIn("only in", err)
        code, out, err = self.json_compare(a, b)
        self.assertEqual(code, 1)
        self.assertEqual(out["failed_in_new"],
                         [{"name": "BM_scan/mmap/65536", "error_message": "no file"}])
        self.assertEqual(out["regressions"], [])
        # One failed repetition is enough; the others are still compared.
        doc = make_report(TIMES, seed=2)
        doc["benchmarks"][0].update({"error_occurred": True, "error_message": "crashed"})
        code, out, err = self.json_compare(a, self.write("c.json", doc))
        self.assertEqual(code, 1)
        self.assertEqual(len(out["benchmarks"]), 3)
        self.assertIn("a run failed", err)
        # Failing in the base, or in both, is no regression of the new report.
        self.assertEqual(self.json_compare(b, a)[0], 0)
        self.assertEqual(self.json_compare(b, b)[0], 0)
        # Every benchmark that ran in the base failing in the new one: still
        # exit 1, not "no benchmarks in common".
        one = self.write("one.json", make_report({"BM_scan/mmap/65536": 4200.0}))
        code, out, err = self.run_compare(one, b)
        self.assertEqual(code, 1, err)
        # A run that failed in the base does not excuse a new report in which
        # every run fails: that benchmark no longer runs at all.
        doc = make_report(TIMES, seed=3)
        doc["benchmarks"][-1 - 3].update({"error_occurred": True, "error_message": "flaky"})
        flaky = self.write("flaky.json", doc)
        code, out, err = self.json_compare(flaky, b)
        self.assertEqual(code, 1, err)
        self.assertEqual(out["failed_in_new"],
                         [{"name": "BM_scan/mmap/65536", "error_message": "no file"}])
        self.assertIn("regression: BM_scan/mmap/65536: every run failed", err)
        # Failing now and then in both: compared on the other runs, no regression.
        doc = make_report(TIMES, seed=4)
        doc["benchmarks"][-1 - 3].update({"error_occurred": True, "error_message": "flaky"})
        self.assertEqual(self.json_compare(flaky, self.write("flaky2.json", doc))[0], 0)

    def test_complexity_rows_are_ignored(self):
        doc = make_report({"BM_sort/8": 24.0, "BM_sort/64": 192.0})
        doc["benchmarks"] += [
            {"name": "BM_sort_BigO", "run_name": "BM_sort", "run_type": "aggregate",
             "repetitions": 9, "threads": 1, "aggregate_name": "BigO",
             "aggregate_unit": "time", "cpu_coefficient": 3.0, "real_coefficient": 3.0,
             "big_o": "N", "time_unit": "ns"},
            {"name": "BM_sort_RMS", "run_name": "BM_sort", "run_type": "aggregate",
             "repetitions": 9, "threads": 1, "aggregate_name": "RMS",
             "aggregate_unit": "percentage", "rms": 0.01}]
        a = self.write("a.json", doc)
        code, out, err = self.json_compare(a, a)
        self.assertEqual(code, 0, err)
        self.assertEqual([r["name"] for r in out["benchmarks"]], ["BM_sort/8", "BM_sort/64"])
        self.assertEqual(err, "")


def with_counter(report, name, values, only=None):
    """Adds counter `name` to each iteration entry: values[benchmark] scaled
    by the entry's own noise-free index, so every sample differs a little."""
    for e in report["benchmarks"]:
        if e["run_type"] != "iteration" or (only is not None and e["run_name"] not in only):
            continue
        e[name] = values[e["run_name"]] * (1 + 0.001 * e["repetition_index"])
    return report


class TestCounter(CliCase):
    RATIOS = {k: 0.6 for k in TIMES}

    def test_counter_regression_with_equal_times_fails(self):
        a = self.write("a.json", with_counter(make_report(TIMES, seed=1), "vs_ref", self.RATIOS))
        b = self.write("b.json", with_counter(make_report(TIMES, seed=1), "vs_ref",
                                              {k: v * 1.1 for k, v in self.RATIOS.items()}))
        self.assertEqual(self.json_compare(a, b)[0], 0)  # time alone: no change
        code, doc, _ = self.json_compare("--counter", "vs_ref", a, b)
        self.assertEqual(code, 1)
        self.assertEqual(doc["metric"], "counter:vs_ref")
        for r in doc["benchmarks"]:
            self.assertEqual(r["verdict"], "slower")
            self.assertAlmostEqual(r["counter_change_pct"], 10.0, places=6)
            self.assertAlmostEqual(r["real_change_pct"], 0.0, places=6)
        self.assertAlmostEqual(doc["geomean"]["counter_change_pct"], 10.0, places=6)

    def test_higher_is_better_counter_judged_by_its_fall(self):
        # A throughput: 10 % more is an improvement, 10 % less the regression.
        rate = {k: 1e9 for k in TIMES}
        a = self.write("a.json", with_counter(make_report(TIMES, seed=1), "bytes_per_second", rate))
        up = self.write("up.json", with_counter(make_report(TIMES, seed=1), "bytes_per_second",
                                                {k: v * 1.1 for k, v in rate.items()}))
        down = self.write("down.json", with_counter(make_report(TIMES, seed=1), "bytes_per_second",
                                                    {k: v * 0.9 for k, v in rate.items()}))
        flag = ("--counter", "bytes_per_second", "--higher-is-better")
        code, doc, _ = self.json_compare(*flag, a, up)
        self.assertEqual(code, 0)
        self.assertEqual(doc["better"], "higher")
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"faster"})
        code, doc, _ = self.json_compare(*flag, a, down)
        self.assertEqual(code, 1)
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"slower"})
        self.assertEqual(len(doc["regressions"]), len(TIMES))
        for r in doc["benchmarks"]:
            self.assertAlmostEqual(r["counter_change_pct"], -10.0, places=6)
        # Without the flag the same rise is judged a regression.
        code, doc, _ = self.json_compare("--counter", "bytes_per_second", a, up)
        self.assertEqual(code, 1)
        self.assertEqual(doc["better"], "lower")
        # A 3 % fall stays under the 5 % threshold; the table names the direction.
        small = self.write("small.json", with_counter(make_report(TIMES, seed=1), "bytes_per_second",
                                                      {k: v * 0.97 for k, v in rate.items()}))
        code, out, _ = self.run_compare(*flag, "--format", "markdown", a, small)
        self.assertEqual(code, 0, out)
        self.assertIn("Metric: counter bytes_per_second (higher is better)", out)
        self.assertIn("change < -5%", out)
        self.assertIn("| -5.0% |", out)

    def test_higher_is_better_needs_a_counter(self):
        a = self.write("a.json", make_report(TIMES))
        code, _, err = self.run_compare("--higher-is-better", a, a)
        self.assertEqual(code, 2)
        self.assertIn("--higher-is-better needs --counter", err)

    def test_slower_times_with_equal_counter_pass(self):
        a = self.write("a.json", with_counter(make_report(TIMES, seed=1), "vs_ref", self.RATIOS))
        b = self.write("b.json", with_counter(
            make_report({k: v * 1.3 for k, v in TIMES.items()}, seed=2), "vs_ref", self.RATIOS))
        self.assertEqual(self.json_compare(a, b)[0], 1)
        code, doc, _ = self.json_compare("--counter", "vs_ref", a, b)
        self.assertEqual(code, 0)
        self.assertEqual({r["verdict"] for r in doc["benchmarks"]}, {"same"})

    def test_counter_with_every_common_benchmark_failed_in_new(self):
        # No row left to average: the geomean's counter cell is empty, and
        # the failures still make it a regression in every format.
        one = {"BM_scan/mmap/65536": 4200.0}
        a = self.write("a.json", with_counter(make_report(one), "vs_ref", {k: 0.6 for k in one}))
        doc = make_report(one, seed=2)
        for e in doc["benchmarks"]:
            e.update({"error_occurred": True, "error_message": "no file"})
        b = self.write("b.json", doc)
        for fmt in ("table", "markdown", "json"):
            code, out, err = self.run_compare("--counter", "vs_ref", "--format", fmt, a, b)
            self.assertEqual(code, 1, err)
            self.assertNotIn("unexpected", err)
            self.assertIn("regression: BM_scan/mmap/65536: every run failed", err)

    def test_benchmarks_without_the_counter_are_left_out(self):
        one = ["BM_scan/mmap/65536"]
        a = self.write("a.json", with_counter(make_report(TIMES), "vs_ref", self.RATIOS, one))
        code, doc, err = self.json_compare("--counter", "vs_ref", a, a)
        self.assertEqual(code, 0)
        self.assertEqual([r["name"] for r in doc["benchmarks"]], one)
        self.assertIn("without counter vs_ref left out", err)
        code, out, err = self.run_compare("--counter", "nosuch", a, a)
        self.assertEqual(code, 2)
        self.assertEqual(len(err.strip().splitlines()), 3)  # two warnings, one error
        self.assertIn("with counter nosuch", err)
        self.assertNotIn("Traceback", err)

    def test_counter_from_zero_is_a_regression(self):
        # A stall counter: 0 in every base repetition, 4 to 7 in the new ones.
        a = self.write("a.json", with_counter(make_report(TIMES, seed=1), "stalls",
                                              {k: 0.0 for k in TIMES}))
        b = self.write("b.json", with_counter(make_report(TIMES, seed=1), "stalls",
                                              {k: 5.0 for k in TIMES}))
        code, out, err = self.run_compare("--counter", "stalls", "--format", "json", a, b)
        self.assertEqual(code, 1, err)
        doc = strict_json(out)
        for r in doc["benchmarks"]:
            self.assertEqual((r["verdict"], r["regression"]), ("slower", True))
            self.assertIsNone(r["counter_change_pct"])  # +inf has no JSON number
        self.assertEqual(sorted(doc["regressions"]), sorted(TIMES))
        code, out, _ = self.run_compare("--counter", "stalls", a, b)
        self.assertEqual(code, 1)
        self.assertIn("+inf%", out)
        self.assertIn("slower REGRESSION", out)
        # Back to 0 is faster; 0 to 0 is no change.
        code, doc, _ = self.json_compare("--counter", "stalls", b, a)
        self.assertEqual((code, {r["verdict"] for r in doc["benchmarks"]}), (0, {"faster"}))
        code, doc, _ = self.json_compare("--counter", "stalls", a, a)
        self.assertEqual(code, 0)
        self.assertEqual({r["counter_change_pct"] for r in doc["benchmarks"]}, {0.0})

    def test_negative_counter_is_judged_by_its_direction(self):
        # Lower is better whatever the sign: -10 -> -5 rose by half its size.
        def reports(base, new):
            return [self.write(name, with_counter(make_report(TIMES, seed=1), "margin",
                                                  {k: v for k in TIMES}))
                    for name, v in (("a.json", base), ("b.json", new))]

        def judge(base, new):
            code, out, err = self.run_compare("--counter", "margin", "--format", "json",
                                              *reports(base, new))
            doc = strict_json(out)
            self.assertEqual(len({(r["verdict"], r["regression"], r["counter_change_pct"])
                                  for r in doc["benchmarks"]}), 1, out)
            r = doc["benchmarks"][0]
            return code, r["verdict"], r["regression"], r["counter_change_pct"]

        code, verdict, regression, change = judge(-10.0, -5.0)
        self.assertEqual((code, verdict, regression), (1, "slower", True))
        self.assertAlmostEqual(change, 50.0, places=6)
        code, verdict, regression, change = judge(-5.0, -10.0)
        self.assertEqual((code, verdict, regression), (0, "faster", False))
        self.assertAlmostEqual(change, -100.0, places=6)
        # A change of sign: by the same rule, relative to the base's size.
        code, verdict, regression, change = judge(2.0, -2.0)
        self.assertEqual((code, verdict, regression), (0, "faster", False))
        self.assertAlmostEqual(change, -200.0, places=6)
        code, verdict, regression, change = judge(-2.0, 2.0)
        self.assertEqual((code, verdict, regression), (1, "slower", True))
        self.assertAlmostEqual(change, 200.0, places=6)
        # Within the threshold it is slower but no regression; equal is same.
        code, verdict, regression, change = judge(-100.0, -98.0)
        self.assertEqual((code, verdict, regression), (0, "slower", False))
        self.assertAlmostEqual(change, 2.0, places=6)
        self.assertEqual(judge(-10.0, -10.0)[:3], (0, "same", False))
        code, out, _ = self.run_compare("--counter", "margin", "--color", "never",
                                        *reports(-10.0, -5.0))
        self.assertEqual(code, 1)
        self.assertIn("+50.0%", out)
        self.assertIn("slower REGRESSION", out)

    def test_tied_counter_gets_the_exact_test(self):
        # An integer counter, 4 vs 4 with one value in both samples: ranks
        # 1 2 3 4.5 | 4.5 6 7.5 7.5, exact p = 4/70 = 0.057, so no verdict at
        # alpha 0.05 (the normal approximation, p = 0.041, said slower).
        def report(values):
            doc = make_report({"BM_a": 100.0}, reps=4, seed=1)
            for e in doc["benchmarks"]:
                if e["run_type"] == "iteration":
                    e["faults"] = values[e["repetition_index"]]
            return doc
        a = self.write("a.json", report([1, 2, 3, 4]))
        b = self.write("b.json", report([4, 5, 6, 6]))
        code, doc, err = self.json_compare("--counter", "faults", a, b)
        self.assertEqual(code, 0, err)
        r = doc["benchmarks"][0]
        self.assertEqual((r["test"], r["verdict"], r["regression"]), ("exact", "same", False))
        self.assertAlmostEqual(r["p_value"], 4 / 70, places=12)
        self.assertAlmostEqual(r["min_p"], 2 / 70, places=12)
        code, doc, err = self.json_compare("--counter", "faults", "--alpha", "0.06", a, b)
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["benchmarks"][0]["verdict"], "slower")

    def test_change_from_zero(self):
        self.assertEqual(lb.change_pct(0.0, 5.0), float("inf"))
        self.assertEqual(lb.change_pct(0.0, 0.0), 0.0)
        self.assertEqual(lb.change_pct(10.0, 15.0), 50.0)
        self.assertEqual(lb.change_pct(0.0, -5.0), float("-inf"))
        self.assertEqual(lb.change_pct(-10.0, -15.0), -50.0)
        self.assertEqual(lb.change_pct(-10.0, 5.0), 150.0)
        self.assertEqual(lb.change_pct(10.0, -5.0), -150.0)
        self.assertEqual(lb.format_pct(float("inf")), "+inf%")
        self.assertEqual(lb.format_pct(float("nan")), "-")

    def test_counter_columns_in_table_and_markdown(self):
        a = self.write("a.json", with_counter(make_report(TIMES), "vs_ref", self.RATIOS))
        code, out, _ = self.run_compare("--counter", "vs_ref", "--format", "markdown", a, a)
        self.assertEqual(code, 0)
        self.assertIn("| Old vs_ref | New vs_ref | vs_ref |", out)
        self.assertIn("Metric: counter vs_ref (lower is better)", out)
        code, out, _ = self.run_compare("--counter", "vs_ref", "--color", "never", a, a)
        self.assertEqual(code, 0)
        self.assertIn("Old vs_ref", out.splitlines()[0])
        self.assertIn("0.6", out)


class TestRobustCv(CliCase):
    def test_one_drifted_sample_widens_only_the_stdev_limit(self):
        t = {"BM_a": 100.0}
        base = make_report(t, reps=10, seed=1, noise=0.004)
        base["benchmarks"][3]["real_time"] = 130.0  # one drifted sample
        new = make_report({"BM_a": 105.0}, reps=10, seed=2, noise=0.004)
        a, b = self.write("a.json", base), self.write("b.json", new)
        code, doc, _ = self.json_compare("--threshold", "3", "--cv-multiplier", "3", a, b)
        self.assertEqual(code, 0)
        self.assertGreater(doc["benchmarks"][0]["threshold_pct"], 20.0)
        code, doc, _ = self.json_compare("--threshold", "3", "--cv-multiplier", "3",
                                         "--cv", "robust", a, b)
        self.assertEqual(code, 1)
        self.assertEqual(doc["benchmarks"][0]["threshold_pct"], 3.0)
        self.assertEqual(doc["cv"], "robust")

    def test_robust_cv_of_known_values(self):
        # median 10, deviations 0 0 1 1 9 -> MAD 1.
        self.assertAlmostEqual(lb.robust_cv([10, 10, 9, 11, 19]), 0.14826)
        self.assertEqual(lb.robust_cv([1.0, 2.0]), 0.0)


class TestOutputFormats(CliCase):
    def test_table_has_no_colour_when_piped(self):
        a = self.write("a.json", make_report(TIMES))
        b = self.write("b.json", make_report({k: v * 1.2 for k, v in TIMES.items()}, seed=2))
        code, out, _ = self.run_compare(a, b)
        self.assertEqual(code, 1)
        self.assertNotIn("\033[", out)
        self.assertIn("slower REGRESSION", out)
        self.assertIn("geomean (3)", out)
        code, out, _ = self.run_compare("--color", "always", a, b)
        self.assertIn("\033[1;31m", out)

    def test_markdown(self):
        a = self.write("a.json", make_report(TIMES))
        code, out, _ = self.run_compare("--format", "markdown", a, a)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("| Benchmark |"))
        self.assertTrue(lines[1].startswith("|---|"))
        self.assertEqual(sum(1 for x in lines if x.startswith("| BM_")), 3)


class TestBadInput(CliCase):
    def assert_bad(self, expect, *args):
        code, out, err = self.run_compare(*args)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(expect, err)

    def test_missing_file(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("no such file", a, os.path.join(self.dir, "missing.json"))

    def test_empty_file(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("empty file", self.write("e.json", ""), a)

    def test_not_json(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("not JSON", a, self.write("n.json", "{\"benchmarks\": [1,"))
        self.assert_bad("not JSON", a, self.write("t.json", "Run on (2 X 2000 MHz CPU s)\n"))

    def test_not_a_benchmark_report(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("not a benchmark report", a, self.write("x.json", {"context": {}}))
        self.assert_bad("not a benchmark report", a, self.write("y.json", [1, 2]))
        self.assert_bad("not a benchmark report", a,
                        self.write("z.json", {"benchmarks": [{"name": "BM_x"}]}))

    def test_values_python_cannot_take_are_bad_input(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("not a benchmark report (JSON nested too deeply)", a,
                        self.write("deep.json", "[" * 100000 + "]" * 100000))
        for field, value, expect in (("real_time", 10 ** 400, "real_time is not a finite number"),
                                     ("cpu_time", "12", "cpu_time is not a finite number"),
                                     ("time_unit", ["ns"], "unknown time_unit ['ns']"),
                                     ("time_unit", {"ns": 1}, "unknown time_unit"),
                                     ("aggregate_name", ["median"], "aggregate_name is not a "
                                                                   "string"),
                                     ("run_name", 7, "run_name is not a string")):
            doc = make_report(TIMES)
            doc["benchmarks"][0][field] = value
            self.assert_bad("not a benchmark report", a, self.write("x.json", doc))
            self.assert_bad(expect, a, self.write("x.json", doc))

    def test_unexpected_error_exits_2(self):
        # Exit status 1 means a regression and 0 none: a bug is neither.
        compare = load_compare()

        def boom(argv):
            raise ValueError("boom\nsecond line")

        with mock.patch.object(compare, "run", boom), \
                mock.patch.object(sys, "stderr", io.StringIO()) as err:
            with self.assertRaises(SystemExit) as e:
                compare.main()
        self.assertEqual(e.exception.code, 2)
        self.assertEqual(err.getvalue(),
                         "compare: error: unexpected ValueError: boom second line\n")

    def test_no_common_benchmarks(self):
        a = self.write("a.json", make_report({"BM_a": 1.0}))
        b = self.write("b.json", make_report({"BM_b": 1.0}))
        self.assert_bad("no benchmarks in common", a, b)
        self.assert_bad("no benchmarks matching --filter in common", "--filter", "zzz", a, a)

    def test_bad_options(self):
        a = self.write("a.json", make_report(TIMES))
        self.assert_bad("--alpha", "--alpha", "2", a, a)
        self.assert_bad("bad regular expression", "--filter", "(", a, a)
        self.assert_bad("required", a)

    def test_output_write_error_is_not_a_regression(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        a = self.write("a.json", make_report(TIMES))
        b = self.write("b.json", make_report({k: v * 1.2 for k, v in TIMES.items()}))
        for fmt in ("table", "markdown", "json"):
            for new in (a, b):
                with open("/dev/full", "w") as full:
                    p = subprocess.run([sys.executable, COMPARE, "--format", fmt, a, new],
                                       stdout=full, stderr=subprocess.PIPE,
                                       universal_newlines=True)
                self.assertEqual(p.returncode, 2, (fmt, p.stderr))
                self.assertNotIn("Traceback", p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertIn("cannot write the output", p.stderr)

    def test_help(self):
        code, out, _ = self.run_compare("--help")
        self.assertEqual(code, 0)
        self.assertIn("BASE.json", out)
        self.assertIn("output write error", out)
        self.assertIn("reported an error in NEW only", out)


class TestMannWhitney(unittest.TestCase):
    def test_exact_hand_computed(self):
        # n1 = n2 = 3, fully separated: U = 0.  C(6,3) = 20 orderings, one has
        # U = 0 and one (mirror) U = 9, so p = 2/20 = 0.1.
        self.assertEqual(lb.mann_whitney_p([1, 2, 3], [4, 5, 6]), (2 / 20, "exact"))
        self.assertEqual(lb.mann_whitney_p([4, 5, 6], [1, 2, 3]), (2 / 20, "exact"))
        # n1 = n2 = 4, separated: C(8,4) = 70, p = 2/70.
        self.assertAlmostEqual(lb.mann_whitney_p([1, 2, 3, 4], [5, 6, 7, 8])[0], 2 / 70)
        # n1 = 3, n2 = 4, U = 1 (one x above one y): C(7,3) = 35 orderings;
        # U = 0 only for x x x y y y y, U = 1 only for x x y x y y y (sorted
        # order), so P(U <= 1) = 2/35
        # and the two-sided p = 4/35 = 0.1143.
        u, ties = lb.mann_whitney_u([1, 2, 4], [3, 5, 6, 7])
        self.assertEqual((u, ties), (1.0, []))
        self.assertAlmostEqual(lb.mann_whitney_p([1, 2, 4], [3, 5, 6, 7])[0], 4 / 35)
        # n1 = n2 = 5, U = 2: counts of U = 0, 1, 2 are 1, 1, 2 (partitions of
        # 2 into at most 5 parts of size <= 5), C(10,5) = 252: p = 2*4/252.
        self.assertAlmostEqual(lb.mann_whitney_p([1, 2, 3, 5, 6], [4, 7, 8, 9, 10])[0],
                               8 / 252)
        # n1 = n2 = 3, U = 4 (1, 2, 3 each above 0.5; 3 above 2.5): counts of
        # U = 0..4 are 1 1 2 3 3, so P(U <= 4) = 10/20 and p = min(1, 20/20) = 1.
        self.assertEqual(lb.mann_whitney_p([1, 2, 3], [0.5, 2.5, 3.5]), (1.0, "exact"))

    def test_exact_counts_match_enumeration(self):
        for n1 in range(1, 6):
            for n2 in range(1, 6):
                brute = [0] * (n1 * n2 + 1)
                for xs in itertools.combinations(range(n1 + n2), n1):
                    ys = [v for v in range(n1 + n2) if v not in xs]
                    brute[sum(1 for x in xs for y in ys if x > y)] += 1
                self.assertEqual(lb.exact_u_counts(n1, n2), brute, (n1, n2))

    def test_normal_approximation_large_samples(self):
        # 30 vs 30, U = 300: mean 450, sigma = sqrt(30*30*61/12) = 67.639,
        # z = (150 - 0.5) / 67.639 = 2.2103, p = erfc(z / sqrt 2) = 0.02709.
        self.assertAlmostEqual(lb.normal_p(300, 30, 30), 0.027086, places=5)
        for u in range(0, 451, 25):
            self.assertLess(abs(lb.normal_p(u, 30, 30) - lb.exact_p(u, 30, 30)), 0.01, u)
        # Samples larger than EXACT_MAX use the approximation.
        rnd = random.Random(7)
        x = [rnd.gauss(100, 5) for _ in range(30)]
        y = [rnd.gauss(103, 5) for _ in range(30)]
        p, method = lb.mann_whitney_p(x, y)
        self.assertEqual(method, "normal")
        u, _ = lb.mann_whitney_u(x, y)
        self.assertLess(abs(p - lb.exact_p(u, 30, 30)), 0.01)

    def test_normal_approximation_with_ties(self):
        # x = 1 2 3 3, y = 3 4 5 6: ranks 1 2 4 4 | 4 6 7 8, R1 = 11, U = 1.
        # One tie group of 3: sum(t^3 - t) = 24; N = 8;
        # var = 4*4/12 * (9 - 24/56) = 11.4286, z = (7 - 0.5)/3.3806 = 1.9227,
        # p = erfc(1.9227 / sqrt 2) = 0.05451.
        u, ties = lb.mann_whitney_u([1, 2, 3, 3], [3, 4, 5, 6])
        self.assertEqual((u, ties), (1.0, [3]))
        self.assertAlmostEqual(lb.normal_p(u, 4, 4, ties), 0.054514, places=5)
        self.assertEqual(lb.normal_p(0.0, 3, 3, [6]), 1.0)  # all equal: no variance
        # Ties beyond EXACT_MAX still use it.
        x = [float(v // 3) for v in range(30)]
        p, method = lb.mann_whitney_p(x, [v + 4.0 for v in x])
        self.assertEqual(method, "normal")
        u, ties = lb.mann_whitney_u(x, [v + 4.0 for v in x])
        self.assertEqual(p, lb.normal_p(u, 30, 30, ties))

    def test_ties_exact_hand_computed(self):
        # x = 1 2 3 3, y = 3 4 5 6: ranks 1 2 4 4 | 4 6 7 8, R1 = 11.  Of the
        # C(8,4) = 70 subsets of four ranks, only 1 2 4 4 (the 4s chosen 2
        # of 3 ways) sums to 11 or less: P(R1 <= 11) = 3/70, p = 6/70 (the
        # normal approximation says 0.0545).
        self.assertEqual(lb.mann_whitney_p([1, 2, 3, 3], [3, 4, 5, 6]), (6 / 70, "exact"))
        # x = 1 1 2, y = 2 3 3: ranks 1.5 1.5 3.5 | 3.5 5.5 5.5, R1 = 6.5, the
        # smallest sum: both 1.5s and one of the two 3.5s, 2 of C(6,3) = 20
        # subsets; p = 4/20 (normal: 0.110).
        self.assertEqual(lb.mann_whitney_p([1, 1, 2], [2, 3, 3]), (4 / 20, "exact"))
        # x = 1 2 3 4, y = 4 5 6 6: ranks 1 2 3 4.5 | 4.5 6 7.5 7.5, R1 = 10.5,
        # the smallest sum, reached 2 ways: p = 4/70 = 0.057, not below 0.05
        # (normal: 0.041).
        self.assertEqual(lb.mann_whitney_p([1, 2, 3, 4], [4, 5, 6, 6]), (4 / 70, "exact"))
        # x = 1, y = 2 2: ranks 1 | 2.5 2.5.  R1 = 1 has P(R1 <= 1) = 1/3 and
        # P(R1 >= 1) = 1; twice the smaller tail: p = 2/3, as without ties.
        # (P(|R1 - 2| >= 1) would be 1/3, below min_p(1, 2).)
        self.assertEqual(lb.mann_whitney_p([1], [2, 2]), (2 / 3, "exact"))
        self.assertEqual(lb.mann_whitney_p([2, 2], [1]), (2 / 3, "exact"))

    def test_unequal_sizes_stay_exact(self):
        # 1 against 21, y all tied and above x: the exact p is 2/22 (x is the
        # smallest of 22 values, twice that tail), the smallest p of these
        # sizes; the tie-corrected normal approximation said 1.3e-5.
        self.assertEqual(lb.mann_whitney_p([1], [2] * 21), (2 / 22, "exact"))
        self.assertEqual(lb.mann_whitney_p([2] * 21, [1]), (2 / 22, "exact"))
        # 3 against 25 fully apart, y tied: 2 / C(28, 3) = 6.1e-4 (normal: 2.9e-7).
        self.assertEqual(lb.mann_whitney_p([1, 1, 1], [2] * 25), (2 / 3276, "exact"))
        # Without ties too: 5 against 80 is exact, 21 against 21 is not.
        self.assertEqual(lb.mann_whitney_p(list(range(5)), list(range(5, 85)))[1], "exact")
        self.assertEqual(lb.min_p(5, 80), lb.exact_p(0, 5, 80))
        self.assertEqual(lb.mann_whitney_p(list(range(21)), list(range(21, 42)))[1], "normal")

    def test_ties_exact_counts(self):
        # Runs 2 2 2 (doubled mid-ranks 3 7 11), three values chosen, taking
        # (a, b, c) of the runs in C(2,a) C(2,b) C(2,c) ways: doubled sums 13
        # (2 1 0: 2 ways), 17 (2 0 1 and 1 2 0: 2 + 2), 21 (1 1 1: 8), 25
        # (0 2 1 and 1 0 2: 2 + 2), 29 (0 1 2: 2); C(6,3) = 20.
        self.assertEqual(lb.exact_rank_sum_counts(3, (2, 2, 2)),
                         (13, [2, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 2]))
        # One run: every subset has the same sum.
        self.assertEqual(lb.exact_rank_sum_counts(2, (4,)), (10, [6]))
        # No ties: the rank-sum counts are the U counts, shifted.
        for n1, n2 in ((1, 1), (3, 4), (5, 5), (2, 7)):
            lo, counts = lb.exact_rank_sum_counts(n1, (1,) * (n1 + n2))
            self.assertEqual(lo, n1 * (n1 + 1))
            self.assertEqual(counts[::2], lb.exact_u_counts(n1, n2), (n1, n2))
            self.assertEqual(set(counts[1::2]), {0} if n1 * n2 else set())

    @staticmethod
    def brute_p(x, y):
        """The two-sided exact p by enumerating every subset of the pooled
        values that could be x, with doubled mid-ranks counted here:
        2 * (number of smaller values) + (number of equal values) + 1."""
        pooled = list(x) + list(y)
        doubled = [2 * sum(w < v for w in pooled) + sum(w == v for w in pooled) + 1
                   for v in pooled]
        obs = sum(doubled[: len(x)])
        sums = [sum(doubled[i] for i in c)
                for c in itertools.combinations(range(len(pooled)), len(x))]
        below = sum(s <= obs for s in sums)
        above = sum(s >= obs for s in sums)
        return min(1.0, 2 * min(below, above) / len(sums))

    def test_ties_exact_match_enumeration(self):
        rnd = random.Random(11)
        for _ in range(400):
            n1, n2 = rnd.randint(1, 6), rnd.randint(1, 6)
            top = rnd.randint(0, 5)
            x = [rnd.randint(0, top) for _ in range(n1)]
            y = [rnd.randint(0, top) for _ in range(n2)]
            p, method = lb.mann_whitney_p(x, y)
            self.assertEqual(method, "exact")
            self.assertAlmostEqual(p, self.brute_p(x, y), places=12, msg=(x, y))
            # No tie pattern goes below the smallest p of the sizes.
            self.assertGreaterEqual(p, lb.min_p(n1, n2) * (1 - 1e-12), (x, y))

    def test_ties_exact_symmetry(self):
        # Swapping the samples or mirroring the values (which reverses the
        # tie pattern) swaps the two tails: the same p.
        rnd = random.Random(12)
        for _ in range(200):
            n1, n2 = rnd.randint(1, 12), rnd.randint(1, 12)
            x = [rnd.randint(0, 6) for _ in range(n1)]
            y = [rnd.randint(2, 8) for _ in range(n2)]
            p = lb.mann_whitney_p(x, y)
            self.assertEqual(lb.mann_whitney_p(y, x), p, (x, y))
            self.assertEqual(lb.mann_whitney_p([-v for v in x], [-v for v in y]), p, (x, y))
            self.assertEqual(lb.mann_whitney_p(list(reversed(x)), y), p, (x, y))

    def test_all_equal_samples(self):
        for n1, n2 in ((1, 1), (3, 3), (4, 9), (20, 20)):
            self.assertEqual(lb.mann_whitney_p([5.0] * n1, [5.0] * n2), (1.0, "exact"))
        self.assertEqual(lb.mann_whitney_p([5] * 21, [5] * 21), (1.0, "normal"))
        # Equal within each sample, apart from each other: as separated as
        # without ties, 2 / C(6,3).
        self.assertEqual(lb.mann_whitney_p([1, 1, 1], [2, 2, 2]), (0.1, "exact"))
        self.assertEqual(lb.mann_whitney_p([0] * 9, [1] * 9), (2 / 48620, "exact"))

    def test_without_ties_values_unchanged(self):
        # Samples without ties keep the U-count path: every arrangement of
        # 4 vs 5 distinct values gives the p it gave before (2 P(U <= min(u,
        # n1 n2 - u)), at most 1), and the tie-aware counts agree.
        n1, n2 = 4, 5
        counts = lb.exact_u_counts(n1, n2)
        for xs in itertools.combinations(range(n1 + n2), n1):
            ys = [v for v in range(n1 + n2) if v not in xs]
            u = sum(1 for a in xs for b in ys if a > b)
            before = min(1.0, 2.0 * sum(counts[: min(u, n1 * n2 - u) + 1]) / 126)
            self.assertEqual(lb.mann_whitney_p(list(xs), ys), (before, "exact"), xs)

    def test_tie_aware_p_without_ties(self):
        # Given runs of size 1 the tie-aware p is the U-count p, exactly.
        n1, n2 = 4, 5
        for xs in itertools.combinations(range(n1 + n2), n1):
            ys = [v for v in range(n1 + n2) if v not in xs]
            s2 = 2 * (sum(xs) + n1)  # the values are 0 .. 8: ranks 1 .. 9
            self.assertEqual(lb.exact_tied_p(s2, n1, [1] * (n1 + n2)),
                             lb.mann_whitney_p(list(xs), ys)[0], xs)

    def test_ties_exact_at_exact_max(self):
        # 20 vs 20 with one pair tied: exact and quick enough to run per
        # benchmark; close to the normal approximation at this size.
        x = [float(v) for v in range(20)]
        y = [v + 0.5 for v in range(20)]
        y[0] = x[3]
        p, method = lb.mann_whitney_p(x, y)
        self.assertEqual(method, "exact")
        u, ties = lb.mann_whitney_u(x, y)
        self.assertEqual(ties, [2])
        self.assertLess(abs(p - lb.normal_p(u, 20, 20, ties)), 0.01)
        lo, counts = lb.exact_rank_sum_counts(20, tuple([1] * 3 + [2] + [1] * 35))
        self.assertEqual(sum(counts), 137846528820)  # C(40, 20)

    def test_min_p(self):
        self.assertAlmostEqual(lb.min_p(3, 3), 0.1)
        self.assertAlmostEqual(lb.min_p(4, 4), 2 / 70)
        self.assertEqual(lb.min_p(1, 0), 1.0)
        self.assertEqual(lb.min_reps_for(0.05), 4)
        self.assertEqual(lb.min_reps_for(0.01), 5)  # 2/C(10,5) = 0.0079; 2/C(8,4) = 0.029


if __name__ == "__main__":
    unittest.main(verbosity=1)
