"""Unit tests for scripts/gate: the parts that decide pass or fail.

Building and benchmarking real revisions takes minutes, so these tests feed
the gate's decision functions synthetic inputs (cachegrind summaries,
benchmark reports, fake build directories, a throwaway git repository) and
check the verdicts.  Runs under any Python 3.
"""

import importlib.machinery
import importlib.util
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

SCRIPTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GATE = os.path.join(SCRIPTS, "gate")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, SCRIPTS)
import libbench as lb  # noqa: E402


def load_gate():
    loader = importlib.machinery.SourceFileLoader("gate_under_test", GATE)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gate = load_gate()


def report(times, reps=3, aggregates=True):
    b = []
    for name, values in times.items():
        values = values if isinstance(values, list) else [values] * reps
        for i, v in enumerate(values):
            b.append({"name": name, "run_name": name, "run_type": "iteration",
                      "repetitions": len(values), "repetition_index": i, "threads": 1,
                      "iterations": 10, "real_time": v, "cpu_time": v, "time_unit": "ns"})
        if aggregates:
            b.append({"name": name + "_mean", "run_name": name, "run_type": "aggregate",
                      "aggregate_name": "mean", "repetitions": len(values), "threads": 1,
                      "real_time": 0.0, "cpu_time": 0.0, "time_unit": "ns"})
    return {"context": {"host_name": "x"}, "benchmarks": b}


CACHEGRIND_STDERR = """==4242== Cachegrind, a cache and branch-prediction profiler
==4242== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote et al.
==4242== Command: ./dlreg-icount --iterations 1000 sym
==4242==
==4242== I   refs:      1,349,628
"""


class TestIcount(unittest.TestCase):
    def test_parse_cachegrind(self):
        self.assertEqual(gate.parse_cachegrind_ir(CACHEGRIND_STDERR), 1349628)
        self.assertIsNone(gate.parse_cachegrind_ir("==1== error: no such file\n"))

    def test_per_call_removes_fixed_cost(self):
        # 500 000 of start-up plus 561 per call, at 1000 and 11000 calls.
        low, high = 500000 + 561 * 1000, 500000 + 561 * 11000
        self.assertEqual(gate.per_call(low, high, (1000, 11000)), 561.0)

    def test_tolerance(self):
        self.assertEqual(gate.icount_verdict(1000.0, 1019.0, 2.0)[1], "pass")
        self.assertEqual(gate.icount_verdict(1000.0, 1021.0, 2.0)[1], "FAIL")
        self.assertEqual(gate.icount_verdict(1000.0, 900.0, 2.0)[1], "pass")
        self.assertEqual(gate.icount_verdict(None, 900.0, 2.0), (None, "no base"))

    def fake_build(self, root, name):
        path = os.path.join(root, name, gate.ICOUNT_REL)
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o755)
        return os.path.join(root, name)

    def run_icount_gate(self, base_counts, new_counts, with_base=True):
        with tempfile.TemporaryDirectory() as tmp:
            new = self.fake_build(tmp, "new")
            base = self.fake_build(tmp, "base") if with_base else os.path.join(tmp, "none")
            counts = {new: new_counts, base: base_counts}

            def modes(binary):
                return sorted(counts[binary.split("/bench/")[0]])

            def measure(binary, mode):
                return counts[binary.split("/bench/")[0]][mode]

            args = gate.parse_args([])
            with mock.patch.object(gate, "icount_modes", modes), \
                    mock.patch.object(gate, "icount_measure", measure), \
                    mock.patch.object(gate.shutil, "which", lambda _: "/usr/bin/valgrind"):
                return gate.gate_icount(new, base, args)

    def test_gate_catches_growth(self):
        s = self.run_icount_gate({"sym": 561.0, "lookup": 379.0},
                                 {"sym": 590.0, "lookup": 379.0})
        self.assertEqual(s.failed, ["sym"])
        self.assertIn("| sym | 561.0 | 590.0 | +5.2% | +2% | FAIL |", s.lines)

    def test_new_mode_and_missing_base_pass_with_notice(self):
        s = self.run_icount_gate({"sym": 561.0}, {"sym": 561.0, "note": 90.0})
        self.assertEqual(s.failed, [])
        self.assertEqual([r["result"] for r in s.rows], ["no base", "pass"])
        s = self.run_icount_gate({}, {"sym": 561.0}, with_base=False)
        self.assertEqual(s.failed, [])
        self.assertTrue(any(n.startswith("no base") for n in s.notes))


class TestRatios(unittest.TestCase):
    def series(self, times):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(report(times), f)
        try:
            return lb.collect(lb.load_report(f.name))[0]
        finally:
            os.unlink(f.name)

    def test_ratio_pass_fail_missing(self):
        table = [("two", "BM_q/2", "BM_d/2", 10.0), ("one", "BM_q/1", "BM_d/1", 2.0),
                 ("gone", "BM_x", "BM_d/1", 2.0)]
        s = self.series({"BM_q/2": [300.0, 310.0, 290.0], "BM_d/2": [25.0, 24.0, 26.0],
                         "BM_q/1": 50.0, "BM_d/1": 30.0})
        rows = gate.evaluate_ratios(s, table)
        self.assertEqual([r["result"] for r in rows], ["pass", "FAIL", "missing"])
        self.assertAlmostEqual(rows[0]["ratio"], 12.0)  # medians 300 / 25
        self.assertAlmostEqual(rows[1]["ratio"], 50.0 / 30.0)

    def test_a_failed_benchmark_is_an_error_not_missing(self):
        doc = report({"BM_q/real_time/threads:2": 300.0, "BM_d/real_time/threads:2": 25.0})
        for e in doc["benchmarks"]:
            if e["run_name"].startswith("BM_d/"):
                e.update(error_occurred=True, error_message="no plugin")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            series, errors = gate.collect_canonical([path])
        self.assertEqual(sorted(series), ["BM_q/threads:2"])
        self.assertEqual(errors, {"BM_d/threads:2": "no plugin"})
        table = [("q/d", "BM_q/threads:2", "BM_d/threads:2", 10.0)]
        row = gate.evaluate_ratios(series, table, errors)[0]
        self.assertEqual((row["result"], row["error"]), ("error", "BM_d/threads:2: no plugin"))

    def test_min_ratio_option_and_extra_ratios(self):
        args = gate.parse_args(["--min-ratio", "15", "--ratio", "BM_a/x,BM_b/y,3.5"])
        table = gate.ratio_table(args)
        self.assertEqual(table[0][3], 15.0)
        self.assertEqual(table[-1], ("BM_a/x / BM_b/y", "BM_a/x", "BM_b/y", 3.5))

    def test_extra_ratio_named_as_the_program_lists_it_is_gated(self):
        # Programs list ".../real_time/threads:2"; measurements are keyed by
        # the canonical name.  Such a ratio must be measured, not "missing".
        args = gate.parse_args(["--ratio", "BM_q/real_time/threads:2,"
                                "BM_d/manual_time/threads:2,3"])
        self.assertEqual(args.extra_ratios[0][1:3], ("BM_q/threads:2", "BM_d/threads:2"))
        doc = report({"BM_q/real_time/threads:2": 20.0, "BM_d/manual_time/threads:2": 10.0})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            series, errors = gate.collect_canonical([path])
        row = gate.evaluate_ratios(series, args.extra_ratios, errors)[0]
        self.assertEqual((row["result"], row["ratio"]), ("FAIL", 2.0))


class TestRatioAttempts(unittest.TestCase):
    QT, DL = "registry/read_sym/qt/threads:2", "registry/read_sym/dlreg/threads:2"
    PROBE = "registry/read_sym/unsync/threads:2"
    TABLE = [("qt/dlreg", QT, DL, 10.0), ("memmem/find", "BM_m", "BM_f", 2.0)]

    def run_attempts(self, qt_times, attempts=5, parallel=None, strict=False, failing=None,
                     extra=()):
        """Ratio gate where attempt i measures qt at qt_times[i] and dlreg at 10.

        parallel[i] is how many probe threads ran at once in attempt i
        (CPU time summed over threads / wall time); 2.0 when not given.
        failing maps a benchmark to the error_message its runs report in
        every attempt.  Each attempt writes a report file, as the programs
        do, with the real_time segment in the threaded names.
        """
        calls = []
        parallel = parallel or [2.0] * len(qt_times)

        def run_plan(plan, reps, min_time, out_dir, tag, log):
            calls.append(sorted(n for _, names in plan for n in names))
            i = len(calls) - 1
            doc = report({self.QT: qt_times[i], self.DL: 10.0, "BM_m": 30.0, "BM_f": 10.0,
                          self.PROBE: 5.0})
            for e in doc["benchmarks"]:
                if e["run_name"] == self.PROBE:
                    e["cpu_time"] = 5.0 * parallel[i]
                if e["run_name"] in (failing or {}):
                    e.update(error_occurred=True, error_message=failing[e["run_name"]])
                for key in ("name", "run_name"):
                    e[key] = e[key].replace("/threads:", "/real_time/threads:")
            path = os.path.join(out_dir, "%s.json" % tag)
            with open(path, "w") as f:
                json.dump(doc, f)
            return [path]

        def select(programs, wanted):
            return [("prog", sorted(wanted))]

        argv = ["--ratio-attempts", str(attempts)] + (["--strict"] if strict else [])
        for spec in extra:
            argv += ["--ratio", spec]
        args = gate.parse_args(argv)
        with tempfile.TemporaryDirectory() as out, \
                mock.patch.object(gate, "programs_of", lambda build: ["prog"]), \
                mock.patch.object(gate, "select", select), \
                mock.patch.object(gate, "run_plan", run_plan), \
                mock.patch.object(gate, "ratio_table", lambda a: self.TABLE + a.extra_ratios):
            return gate.gate_ratio("build", args, out), calls

    def ratios(self, row):
        return [a["ratio"] for a in row["attempts"]]

    def test_two_agreeing_attempts_settle_a_ratio(self):
        section, calls = self.run_attempts([120.0, 130.0, 10.0])
        self.assertEqual(section.failed, [])
        self.assertEqual(len(calls), 2)
        row = section.rows[0]
        self.assertEqual((row["result"], self.ratios(row)), ("pass", [12.0, 13.0]))
        self.assertAlmostEqual(row["ratio"], 12.5)

    def test_one_noisy_attempt_is_outvoted(self):
        # 6 (noise), then 12 and 15: the median, 12, passes.
        section, calls = self.run_attempts([60.0, 120.0, 150.0, 10.0])
        self.assertEqual(len(calls), 3)
        # Once the other ratio is settled (two passes), only the unsettled one
        # runs again, with its probe.
        self.assertEqual(len(calls[1]), 5)
        self.assertEqual(calls[2], sorted([self.DL, self.QT, self.PROBE]))
        row = section.rows[0]
        self.assertEqual((row["result"], row["ratio"]), ("pass", 12.0))
        self.assertEqual(section.failed, [])
        self.assertTrue(any("median of the attempts" in n for n in section.notes))

    def test_one_lucky_attempt_does_not_hide_a_regression(self):
        # A lock in the read path: 5.8, 5.9, then one noisy 10.5.
        section, calls = self.run_attempts([58.0, 59.0, 105.0])
        self.assertEqual(len(calls), 2)
        self.assertEqual(section.failed, ["qt/dlreg"])
        section, _ = self.run_attempts([58.0, 105.0, 59.0])
        self.assertEqual(section.failed, ["qt/dlreg"])
        self.assertAlmostEqual(section.rows[0]["ratio"], 5.9)
        self.assertIn("| qt/dlreg | 59.00 ns | 10.00 ns | 5.9 | 10 | 2.00 of 2 | FAIL |",
                      section.lines)
        self.assertEqual(section.rows[1]["result"], "pass")

    def test_attempts_that_never_agree_are_judged_on_the_lowest(self):
        # Two attempts on free cores disagree (4 fails, 20 passes), the other
        # three were busy: the lucky 20 must not lift the verdict to the
        # median of the two, 12.
        section, calls = self.run_attempts([40.0, 200.0, 40.0, 40.0, 40.0],
                                           parallel=[2.0, 2.0, 1.1, 1.1, 1.1])
        self.assertEqual(len(calls), 5)
        row = section.rows[0]
        self.assertFalse(row["decided"])
        self.assertEqual((row["result"], row["ratio"]), ("FAIL", 4.0))
        self.assertEqual(section.failed, ["qt/dlreg"])
        self.assertTrue(any("judged on the lowest" in n for n in section.notes), section.notes)

    def test_a_benchmark_that_fails_fails_its_ratio(self):
        section, calls = self.run_attempts([120.0] * 5, failing={self.DL: "read_sym failed"})
        self.assertEqual(section.failed, ["qt/dlreg"])
        self.assertEqual(section.rows[0]["result"], "error")
        self.assertIn("| qt/dlreg | - | - | - | 10 | - | error |", section.lines)
        self.assertTrue(any(self.DL + ": read_sym failed" in n for n in section.notes),
                        section.notes)
        # The error settles the ratio: only the other one is measured again.
        self.assertEqual(len(calls), 2)
        self.assertNotIn(self.QT, calls[1])
        self.assertEqual(section.rows[1]["result"], "pass")

    def test_busy_machine_is_inconclusive_not_a_failure(self):
        # The lock-free probe ran 1.1 threads at once: the second core was taken.
        section, calls = self.run_attempts([40.0] * 5, parallel=[1.1] * 5)
        self.assertEqual(len(calls), 5)
        self.assertEqual(section.failed, [])
        self.assertEqual(section.rows[0]["result"], "inconclusive")
        self.assertTrue(any("inconclusive" in n and "not gated" in n for n in section.notes))
        section, _ = self.run_attempts([40.0] * 5, parallel=[1.1] * 5, strict=True)
        self.assertEqual(section.failed, ["qt/dlreg"])

    def test_a_ratio_asked_for_that_no_program_has_fails(self):
        # A typo in --ratio must not pass silently: the built-in ratios may
        # be missing from a build, one the caller named may not.
        section, _ = self.run_attempts([120.0, 130.0], extra=["BM_m,BM_typo,1.5"])
        self.assertEqual(section.rows[2]["result"], "missing")
        self.assertEqual(section.failed, ["BM_m / BM_typo"])
        self.assertTrue(any("BM_m / BM_typo" in n and "counted as a failure" in n
                            for n in section.notes), section.notes)
        section, _ = self.run_attempts([120.0, 130.0], extra=["BM_m,BM_f,1.5"])
        self.assertEqual(section.failed, [])
        self.assertEqual(section.rows[2]["result"], "pass")

    def test_busy_attempts_do_not_count(self):
        # Busy attempts 14 and 15 would pass; the only valid one, 4, decides.
        section, _ = self.run_attempts([140.0, 40.0, 150.0, 150.0, 150.0],
                                       parallel=[1.1, 1.95, 1.1, 1.1, 1.1])
        self.assertEqual(section.rows[0]["result"], "FAIL")
        self.assertEqual(section.failed, ["qt/dlreg"])

    def test_one_attempt_means_no_retry(self):
        section, calls = self.run_attempts([60.0, 120.0], attempts=1)
        self.assertEqual(section.failed, ["qt/dlreg"])
        self.assertEqual(len(calls), 1)


class TestMerge(unittest.TestCase):
    def test_merge_keeps_every_repetition(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i, t in enumerate((10.0, 11.0, 12.0)):
                p = os.path.join(tmp, "r%d.json" % i)
                with open(p, "w") as f:
                    json.dump(report({"BM_a": t, "BM_b": 2 * t}, reps=2), f)
                paths.append(p)
            merged = gate.merge_reports(paths)
        rows = [e for e in merged["benchmarks"] if e["name"] == "BM_a"]
        self.assertEqual([e["repetition_index"] for e in rows], list(range(6)))
        self.assertEqual({e["repetitions"] for e in rows}, {6})
        self.assertEqual(sorted(e["real_time"] for e in rows), [10, 10, 11, 11, 12, 12])
        self.assertFalse(any(e["run_type"] == "aggregate" for e in merged["benchmarks"]))
        series, _ = lb.collect(merged)
        self.assertEqual(len(series["BM_b"].real), 6)

    def test_merge_drops_runs_the_benchmark_skipped(self):
        # Google Benchmark 1.8+: SkipWithMessage writes "skipped": true and
        # zero times; those are no samples.
        doc = report({"BM_a": 10.0, "BM_s": 10.0}, reps=2, aggregates=False)
        for e in doc["benchmarks"]:
            if e["name"] == "BM_s":
                e.update(skipped=True, skip_message="no huge pages", real_time=0.0,
                         cpu_time=0.0, iterations=0)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "r.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            merged = gate.merge_reports([p])
        self.assertEqual({e["name"] for e in merged["benchmarks"]}, {"BM_a"})

    def test_merge_matches_benchmarks_by_canonical_name(self):
        # The candidate times read_sym_ref as manual_time, the base as real_time.
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i, seg in enumerate(("real_time", "manual_time")):
                p = os.path.join(tmp, "r%d.json" % i)
                with open(p, "w") as f:
                    json.dump(report({"BM_r/%s/threads:1" % seg: 10.0 + i}, reps=2), f)
                paths.append(p)
            merged = gate.merge_reports(paths)
        self.assertEqual({(e["name"], e["run_name"]) for e in merged["benchmarks"]},
                         {("BM_r/threads:1", "BM_r/threads:1")})
        self.assertEqual([e["repetition_index"] for e in merged["benchmarks"]], [0, 1, 2, 3])

    def test_batch_medians_ignore_a_minority_state(self):
        # 12 processes, one value each: a fast minority state (20) among 30s.
        values = [30, 20, 31, 30, 29, 30, 20, 30, 31, 29, 30, 20]
        doc = {"context": {}, "benchmarks": [
            {"name": "BM_a", "run_name": "BM_a", "run_type": "iteration",
             "real_time": v, "cpu_time": v + 1, "time_unit": "ns", "iterations": 1}
            for v in values]}
        out = gate.batch_medians(doc, 5)
        rows = out["benchmarks"]
        self.assertEqual([e["real_time"] for e in rows], [30, 30])  # 2 left over
        self.assertEqual([e["cpu_time"] for e in rows], [31, 31])
        self.assertEqual([e["repetition_index"] for e in rows], [0, 1])
        self.assertEqual({e["repetitions"] for e in rows}, {2})
        self.assertIs(gate.batch_medians(doc, 1), doc)

    def test_batch_medians_take_the_reference_counter_too(self):
        ratios = [0.62, 0.60, 0.61, 0.70, 0.63, 0.64]
        doc = {"context": {}, "benchmarks": [
            {"name": "BM_r", "run_name": "BM_r", "run_type": "iteration", "real_time": 30,
             "cpu_time": 30, "time_unit": "ns", "iterations": 1, "vs_unsync": r}
            for r in ratios]}
        rows = gate.batch_medians(doc, 3)["benchmarks"]
        self.assertEqual([e["vs_unsync"] for e in rows], [0.61, 0.64])


class TestGateAB(unittest.TestCase):
    RS = "registry/read_sym/dlreg/real_time/threads:1"
    REF = "registry/read_sym_ref/dlreg/manual_time/threads:1"

    def run_ab(self, slower=1.0, counter=1.0, new_names=None, failing=None):
        """The A/B gate over synthetic benchmark processes.

        Each process reports RS (20 ns) and REF (25 ns, counter vs_unsync
        0.6) with 1 % noise; the candidate's times are multiplied by
        `slower` and its counter by `counter`.  new_names spells the
        candidate's benchmarks (default: as the base does); failing maps
        "base" or "new" to {canonical name: error_message}, or "base-once"
        for the first base process only.
        """
        rnd = random.Random(1)
        base_names = [self.RS, self.REF]

        def run_plan(plan, reps, min_time, out_dir, tag, log):
            side = "base" if tag.startswith("ab-base-") else "new"
            benchmarks = []
            for name in plan[0][1]:
                ref = "read_sym_ref" in name
                t = (25.0 if ref else 20.0) * (slower if side == "new" else 1.0)
                t *= 1 + rnd.gauss(0, 0.01)
                e = {"name": name, "run_name": name, "run_type": "iteration",
                     "iterations": 1000, "real_time": t, "cpu_time": t, "time_unit": "ns",
                     "threads": 1}
                if ref:
                    e["vs_unsync"] = (0.6 * (counter if side == "new" else 1.0)
                                      * (1 + rnd.gauss(0, 0.005)))
                msg = (failing or {}).get(side, {}).get(gate.canonical_name(name))
                if side == "base" and tag == "ab-base-0":
                    msg = msg or (failing or {}).get("base-once", {}).get(
                        gate.canonical_name(name))
                if msg:
                    e.update(error_occurred=True, error_message=msg, real_time=0, cpu_time=0)
                benchmarks.append(e)
            path = os.path.join(out_dir, tag + ".json")
            with open(path, "w") as f:
                json.dump({"context": {}, "benchmarks": benchmarks}, f)
            return [path]

        plans = ([("base", base_names)], [("new", new_names or base_names)])
        args = gate.parse_args(["--full", "--rounds", "9", "--batch", "3"])
        with tempfile.TemporaryDirectory() as out, \
                mock.patch.object(gate, "ab_plans", lambda *a: plans), \
                mock.patch.object(gate, "run_plan", run_plan):
            return gate.gate_ab("new", "base", args, out)

    def test_equal_builds_pass(self):
        s = self.run_ab()
        self.assertEqual(s.failed, [])
        self.assertIn("### By time", s.lines)
        self.assertIn("### By counter vs_unsync", s.lines)

    def test_slower_candidate_fails_by_time(self):
        # 10 % slower, the counter unchanged: above max(3 %, 3 x CV ~ 0.6 %).
        s = self.run_ab(slower=1.10)
        self.assertEqual(s.failed, ["A/B regression by time"])
        self.assertTrue(any(l.startswith("| registry/read_sym/dlreg/threads:1 |")
                            and "REGRESSION" in l for l in s.lines), s.lines)

    def test_counter_regression_fails(self):
        s = self.run_ab(counter=1.10)
        self.assertEqual(s.failed, ["A/B regression by counter vs_unsync"])

    def test_a_benchmark_that_fails_in_the_candidate_fails_the_gate(self):
        rs = gate.canonical_name(self.RS)
        s = self.run_ab(failing={"new": {rs: "read_sym failed"}})
        self.assertEqual(s.failed, ["A/B: %s reported an error in the candidate: read_sym "
                                    "failed" % rs])
        # In the base only: noted, not a failure (the candidate may have fixed it).
        s = self.run_ab(failing={"base": {rs: "no plugin"}})
        self.assertEqual(s.failed, [])
        self.assertIn("%s reported an error in the base (no plugin); not compared" % rs,
                      s.notes)
        # Failing in one base process of 27: still not compared, as the note
        # says, even where the candidate is slower (REF is, by time, too).
        s = self.run_ab(slower=1.10, failing={"base-once": {rs: "no plugin"}})
        self.assertIn("%s reported an error in the base (no plugin); not compared" % rs,
                      s.notes)
        self.assertFalse(any(l.startswith("| %s |" % rs) for l in s.lines), s.lines)
        self.assertEqual(s.failed, ["A/B regression by time"])
        self.assertTrue(any(l.startswith("| %s |" % gate.canonical_name(self.REF))
                            and "REGRESSION" in l for l in s.lines), s.lines)
        # Nothing left to compare is no setup error: the failures say why.
        ref = gate.canonical_name(self.REF)
        s = self.run_ab(failing={"new": {rs: "read_sym failed", ref: "no unsync"}})
        self.assertEqual(len(s.failed), 2)
        self.assertTrue(all("in the candidate" in f for f in s.failed))

    def test_a_renamed_time_segment_is_still_compared(self):
        # The candidate times REF as real_time; its counter got 10 % worse.
        renamed = self.REF.replace("manual_time", "real_time")
        s = self.run_ab(counter=1.10, new_names=[self.RS, renamed])
        self.assertEqual(s.failed, ["A/B regression by counter vs_unsync"])
        self.assertTrue(any(l.startswith("| registry/read_sym_ref/dlreg/threads:1 |")
                            for l in s.lines), s.lines)
        self.assertIn("registry/read_sym_ref/dlreg/threads:1: %s in the base, %s in the "
                      "candidate; compared by the name without the time segment"
                      % (self.REF, renamed), s.notes)


class TestBaseSelection(unittest.TestCase):
    def setUp(self):
        if shutil.which("git") is None:
            self.skipTest("git not installed")
        self.tmp = tempfile.TemporaryDirectory()
        self.repo = self.tmp.name
        self.env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
                        GIT_CONFIG_NOSYSTEM="1", HOME=self.repo)
        self.git("init", "-q", "-b", "main")

    def tearDown(self):
        self.tmp.cleanup()

    def git(self, *args):
        return subprocess.run(["git", "-C", self.repo] + list(args), env=self.env, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()

    def commit(self, msg):
        with open(os.path.join(self.repo, "f"), "a") as f:
            f.write(msg + "\n")
        self.git("add", "f")
        self.git("commit", "-q", "-m", msg)
        return self.git("rev-parse", "HEAD")

    def test_no_commit_no_parent(self):
        self.assertEqual(gate.default_base(self.repo), (None, "HEAD has no commit"))
        self.commit("one")
        self.assertEqual(gate.default_base(self.repo), (None, "HEAD has no parent"))

    def test_main_uses_parent_and_branch_uses_merge_base(self):
        first = self.commit("one")
        second = self.commit("two")
        self.assertEqual(gate.default_base(self.repo), (first, "HEAD~1"))
        self.git("checkout", "-q", "-b", "topic", first)
        self.commit("three")
        self.commit("four")
        self.assertEqual(gate.default_base(self.repo), (first, "merge-base with main"))
        self.assertEqual(gate.resolve_base(self.repo, "main"), (second, "main"))
        with self.assertRaises(gate.SetupError):
            gate.resolve_base(self.repo, "no-such-ref")


class TestPrepareBuilds(unittest.TestCase):
    """What the gate configures and builds for the gates selected: the
    commands are recorded, not run."""

    SHA = "0123456789ab" * 3 + "0123"

    def prepare(self, *argv, compiler=None, envs=None, buildtype="release", real_base=False,
                base_buildtype="release"):
        """(commands run, base build or None, the header's base line).

        `compiler`: what the candidate build reports as its C compiler
        (None: cannot tell); `envs` collects each meson setup's $CC;
        `buildtype`, `base_buildtype`: what the given candidate and base
        build directories are configured as;
        `real_base`: resolve --base in the scratch directory (no commits)."""
        with tempfile.TemporaryDirectory() as tmp:
            new = os.path.join(tmp, "new")
            for d in (new, os.path.join(tmp, "base")):  # configured build directories
                os.mkdir(d)
                with open(os.path.join(d, "build.ninja"), "w") as f:
                    f.write("# configured\n")
            calls = []

            def run(cmd, cwd=None, log=None, check=True, env=None):
                if cmd[:3] == ["meson", "introspect", "--buildoptions"]:
                    kind = buildtype if cmd[3] == new else base_buildtype
                    return subprocess.CompletedProcess(cmd, 0, json.dumps(
                        [{"name": "buildtype", "value": kind},
                         {"name": "b_sanitize", "value": "none"}]), "")
                if cmd[:2] == ["meson", "introspect"]:
                    return subprocess.CompletedProcess(cmd, 1, "", "")
                if cmd[0] == "git" and "rev-parse" in cmd:  # a directory without commits
                    return subprocess.CompletedProcess(cmd, 128, "", "")
                calls.append(cmd)
                if envs is not None and cmd[:2] == ["meson", "setup"]:
                    envs.append((env or os.environ).get("CC"))
                return subprocess.CompletedProcess(cmd, 0, "", "")

            def worktree(root, cache, sha, log):
                calls.append(["git", "worktree", "add", sha])
                return os.path.join(cache, "src-" + sha[:12])

            def resolve_base(root, ref):
                return self.SHA, "HEAD~1"

            args = gate.parse_args(["--new-build", new] + [a % {"tmp": tmp} for a in argv])
            self.calls = calls
            with mock.patch.object(gate, "run", run), \
                    mock.patch.object(gate, "resolve_base",
                                      gate.resolve_base if real_base else resolve_base), \
                    mock.patch.object(gate, "ensure_worktree", worktree), \
                    mock.patch.object(gate, "icount_targets", lambda build: [gate.ICOUNT_REL]), \
                    mock.patch.object(gate, "build_compiler", lambda build: compiler):
                _, base, header = gate.prepare_builds(args, tmp, os.path.join(tmp, "cache"))
            base_calls = [c[:2] + [os.path.relpath(c[2], tmp)] + c[3:] if c[:2] == ["ninja", "-C"]
                          else c for c in calls if c[:3] != ["ninja", "-C", new]]
            line = [h for h in header if h.startswith("- Base:")]
            return base_calls, base and os.path.relpath(base, tmp), line[0]

    def ninja_targets(self, calls):
        """The targets of each ninja run ([] for all): after -C DIR -k 0."""
        return [c[5:] for c in calls if c[0] == "ninja"]

    def test_icount_alone_builds_only_its_targets(self):
        calls, base, line = self.prepare(compiler=["cc"])
        self.assertEqual(base, os.path.join("cache", "base-" + self.SHA[:12] + "-cc"))
        self.assertEqual(self.ninja_targets(calls), [[gate.ICOUNT_REL]])
        calls, base, line = self.prepare("--full", "--skip", "ab")
        self.assertEqual(self.ninja_targets(calls), [[gate.ICOUNT_REL]])

    def test_base_is_built_by_the_candidates_compiler(self):
        # A base cached for one compiler is not used for another: its own
        # directory, configured with the candidate's compiler as $CC.
        for compiler, tag in ((["/usr/bin/clang"], "clang"), (["ccache", "gcc-12"], "gcc-12"),
                              (["cc"], "cc")):
            envs = []
            calls, base, line = self.prepare("--full", compiler=compiler, envs=envs)
            self.assertEqual(base, os.path.join("cache", "base-%s-%s" % (self.SHA[:12], tag)))
            self.assertEqual(envs, [" ".join(compiler)])
            self.assertIn("built with " + tag, line)
        # A candidate whose compiler cannot be told: the base takes $CC's.
        with mock.patch.dict(os.environ, {"CC": "clang-14 -m64"}):
            envs = []
            calls, base, line = self.prepare("--full", envs=envs)
        self.assertEqual(base, os.path.join("cache", "base-%s-clang-14" % self.SHA[:12]))
        self.assertEqual(envs, ["clang-14 -m64"])

    def test_compiler_tag(self):
        self.assertEqual(gate.compiler_tag(["ccache", "/usr/lib/ccache/gcc"]), "gcc")
        self.assertEqual(gate.compiler_tag(["clang"]), "clang")
        self.assertEqual(gate.compiler_tag([]), "cc")
        self.assertEqual(gate.compiler_tag(["my cc$"]), "my_cc_")
        self.assertEqual(gate.compiler_tag(["ccache"]), "cc")
        with mock.patch.dict(os.environ, {"CC": ""}):
            self.assertEqual(gate.env_compiler(), ["cc"])
        with mock.patch.dict(os.environ, {"CC": "'unbalanced"}):
            self.assertEqual(gate.env_compiler(), ["cc"])

    def test_ab_builds_the_whole_base(self):
        for argv in (["--full"], ["--full", "--skip", "icount"]):
            calls, base, line = self.prepare(*argv)
            self.assertEqual(self.ninja_targets(calls), [[]], argv)

    def test_no_gate_that_uses_the_base_builds_none(self):
        # The ratio gate runs the candidate only: no worktree, no meson, no ninja.
        for argv in (["--skip", "icount"], ["--quick", "--skip", "icount"],
                     ["--full", "--skip", "icount", "--skip", "ab"]):
            calls, base, line = self.prepare(*argv)
            self.assertEqual(calls, [], argv)
            self.assertIsNone(base, argv)
            self.assertIn("not built", line)

    def test_arguments_are_checked_before_any_build(self):
        # A --base that names no commit: refused before the candidate is built.
        with self.assertRaises(gate.SetupError) as cm:
            self.prepare("--base", "nope", real_base=True)
        self.assertIn("--base nope: not a commit", str(cm.exception))
        self.assertEqual(self.calls, [])
        # A given build directory that is not a release build is refused
        # (scripts/bench refuses one too): its timings gate nothing.
        base = ("--base-build", os.path.join("%(tmp)s", "base"))
        for argv, kinds, opt in (((), ("debugoptimized", "release"), "--new-build"),
                                 (base, ("debugoptimized", "release"), "--new-build"),
                                 (base, ("release", "debug"), "--base-build")):
            with self.assertRaises(gate.SetupError) as cm:
                self.prepare(*argv, buildtype=kinds[0], base_buildtype=kinds[1])
            self.assertRegex(str(cm.exception), r"^%s .*: a %s build; the gate times release "
                             r"builds only" % (opt, "debug" if opt == "--base-build"
                                               else "debugoptimized"))
            self.assertEqual(self.calls, [])

    def test_base_build_dir_is_built_only_for_what_uses_it(self):
        base_dir = os.path.join("%(tmp)s", "base")
        calls, base, line = self.prepare("--base-build", base_dir, "--skip", "icount")
        self.assertEqual(calls, [])
        self.assertIsNone(base)
        self.assertIn("not used", line)
        calls, base, line = self.prepare("--base-build", base_dir)
        self.assertEqual(calls, [["ninja", "-C", "base", "-k", "0", gate.ICOUNT_REL]])
        self.assertEqual(base, "base")
        calls, base, line = self.prepare("--base-build", base_dir, "--full")
        self.assertEqual(self.ninja_targets(calls), [[]])


class TestRunPlan(unittest.TestCase):
    """A benchmark program exits 1 when a benchmark reported an error: the
    report is still read (the gates judge the error); any other failure
    stops the gate."""

    def run_plan(self, rc, runs):
        with tempfile.TemporaryDirectory() as tmp:
            prog = os.path.join(tmp, "prog")
            with open(prog, "w") as f:
                f.write("#!/bin/sh\nfor a; do case $a in --benchmark_out=*) "
                        "cat > \"${a#--benchmark_out=}\" <<'EOF'\n%s\nEOF\n;; esac; done\n"
                        "exit %d\n" % (json.dumps({"context": {}, "benchmarks": runs}), rc))
            os.chmod(prog, 0o755)
            log = os.path.join(tmp, "log")
            with mock.patch.object(gate, "_launcher", []):
                paths = gate.run_plan([(gate.Program(prog, []), ["BM_a"])], 3, 0.01, tmp,
                                      "t", log)
            return [gate.lb.errors(gate.lb.load_report(p)) for p in paths]

    def test_benchmark_error_is_read_from_the_report(self):
        bad = {"name": "BM_a", "run_name": "BM_a", "run_type": "iteration", "repetitions": 1,
               "repetition_index": 0, "threads": 1, "iterations": 0, "real_time": 0,
               "cpu_time": 0, "time_unit": "ns", "error_occurred": True,
               "error_message": "fixture missing"}
        self.assertEqual(self.run_plan(1, [bad]), [{"BM_a": "fixture missing"}])
        good = dict(bad, error_occurred=False, iterations=10, real_time=1.0, cpu_time=1.0)
        del good["error_message"]
        for rc, runs in ((1, [good]), (2, [bad]), (1, "not a list")):
            with self.assertRaises(gate.SetupError, msg=(rc, runs)) as cm:
                self.run_plan(rc, runs)
            self.assertIn("failed with status %d" % rc, str(cm.exception))


class TestCli(unittest.TestCase):
    def run_gate(self, *args):
        p = subprocess.run([sys.executable, GATE] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        return p.returncode, p.stdout, p.stderr

    def test_help(self):
        code, out, _ = self.run_gate("--help")
        self.assertEqual(code, 0)
        self.assertIn("--full", out)
        self.assertIn("Exit status", out)

    def test_bad_arguments_are_one_line_errors(self):
        for args in (["--bogus"], ["--full", "--rounds", "2", "--repetitions", "2"],
                     ["--full", "--batch", "0"],
                     ["--ratio", "a,b"], ["--quick", "--full"], ["--min-ratio", "-1"]):
            code, out, err = self.run_gate(*args)
            self.assertEqual(code, 2, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertNotIn("Traceback", err)

    def test_non_finite_numbers_and_empty_paths_are_usage_errors(self):
        # Parsed in this process: a gate that accepted them would start building.
        for args in (["--min-time", "nan"], ["--min-time", "inf"], ["--min-ratio", "inf"],
                     ["--min-ratio", "nan"], ["--icount-tolerance", "nan"],
                     ["--icount-tolerance", "inf"], ["--ratio", "a,b,nan"],
                     ["--ratio", "a,b,inf"], ["--cache-dir", ""], ["--out-dir", ""],
                     ["--out-dir", os.path.abspath(__file__)]):
            with mock.patch.object(sys, "stderr", io.StringIO()) as err:
                with self.assertRaises(SystemExit) as e:
                    gate.parse_args(args)
            self.assertEqual(e.exception.code, 2, args)
            self.assertTrue(err.getvalue().startswith("gate: error: " + args[0]),
                            err.getvalue())
            self.assertEqual(len(err.getvalue().strip().splitlines()), 1)

    def test_unusable_cache_dir_is_a_setup_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "file")
            with open(path, "w") as f:
                f.write("x")
            other = os.path.join(tmp, "other")
            os.mkdir(other)
            with open(os.path.join(other, "keep"), "w") as f:
                f.write("x")
            for cache, why in ((path, "exists and is not a directory"),
                               (os.path.join(path, "sub"), "cannot use %s/sub as the cache "
                                "directory" % path),
                               (other, "not empty and not a gate cache")):
                code, out, err = self.run_gate("--new-build", tmp, "--cache-dir", cache)
                self.assertEqual(code, 2, (cache, err))
                self.assertTrue(err.startswith("gate: error: "), err)
                self.assertIn(why, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertEqual(out, "")
            self.assertEqual(os.listdir(other), ["keep"])

    def test_out_dir_that_cannot_be_made_is_a_setup_error(self):
        # Refused before anything is built: --new-build names no build here.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "file")
            with open(path, "w") as f:
                f.write("x")
            code, out, err = self.run_gate("--new-build", os.path.join(tmp, "none"),
                                           "--out-dir", os.path.join(path, "sub"))
            self.assertEqual(code, 2, err)
            self.assertEqual(err.strip(), "gate: error: --out-dir: cannot create %s/sub: "
                             "Not a directory" % path)
            self.assertEqual(out, "")

    def test_clean_removes_only_a_gate_cache(self):
        with tempfile.TemporaryDirectory() as tmp:
            other = os.path.join(tmp, "other")
            os.makedirs(os.path.join(other, "src"))
            path = os.path.join(tmp, "file")
            with open(path, "w") as f:
                f.write("x")
            for cache in (other, path):
                code, out, err = self.run_gate("--clean", "--cache-dir", cache)
                self.assertEqual(code, 2, (cache, err))
                self.assertIn("nothing removed", err)
                self.assertNotIn("Traceback", err)
            self.assertTrue(os.path.isdir(os.path.join(other, "src")))
            self.assertTrue(os.path.isfile(path))
            # A cache the gate made (its marker) or an older one (only gate.log
            # and builds) goes.
            cache = os.path.join(tmp, "cache")
            gate.open_cache(cache)
            os.mkdir(os.path.join(cache, "cand-working-tree"))
            old = os.path.join(tmp, "old")
            os.makedirs(os.path.join(old, "base-0123456789ab"))
            with open(os.path.join(old, "gate.log"), "w") as f:
                f.write("$ ninja\n")
            calls = []
            with mock.patch.object(gate, "git", lambda *a: calls.append(a)):
                for c in (cache, old):
                    self.assertEqual(gate.clean(tmp, c), 0)
                    self.assertFalse(os.path.exists(c))
            self.assertIn((tmp, "worktree", "prune"), calls)

    def test_unexpected_error_exits_2(self):
        # Exit status 1 means a regression and 0 a pass: a bug is neither.
        def boom(args):
            raise RuntimeError("boom\nsecond line")

        with mock.patch.object(gate, "run_gates", boom), \
                mock.patch.object(sys, "argv", ["gate"]), \
                mock.patch.object(sys, "stderr", io.StringIO()) as err:
            with self.assertRaises(SystemExit) as e:
                gate.main()
        self.assertEqual(e.exception.code, 2)
        self.assertEqual(err.getvalue(),
                         "gate: error: unexpected RuntimeError: boom second line\n")

    def test_full_without_a_base_names_why(self):
        header = ["- Candidate: build new", "- Base: none (HEAD has no parent)"]
        args = gate.parse_args(["--full"])
        with mock.patch.object(gate, "prepare_builds", lambda *a: ("new", None, list(header))):
            with self.assertRaises(gate.SetupError) as cm:
                gate.run_gates(args)
        self.assertEqual(str(cm.exception),
                         "--full needs a base revision (HEAD has no parent); pass --base REF")

    def test_skipping_every_gate_is_a_usage_error(self):
        # It used to measure nothing and say "Result: PASS".
        for argv in (["--skip", "ratio", "--skip", "icount"],
                     ["--full", "--skip", "ratio", "--skip", "icount", "--skip", "ab"]):
            code, out, err = self.run_gate(*argv)
            self.assertEqual(code, 2, (argv, err))
            self.assertIn("every gate of this mode is skipped", err)
            self.assertEqual(out, "")

    def test_bad_build_dir_is_a_setup_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, out, err = self.run_gate("--new-build", tmp, "--cache-dir", tmp)
        self.assertEqual(code, 2)
        self.assertIn("not a configured build directory", err)
        self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main(verbosity=1)
