#!/usr/bin/env python3
"""Runs one benchmark program briefly and fails if any benchmark rotted.

usage: check_smoke.py [--expect PREFIX]... [--allow-error TEXT]... -- PROGRAM ARGS...

PROGRAM runs with ARGS plus a JSON report into a temporary file.  Fails when
the program exits non-zero (but for 1 with runs that reported an error,
which the allowed TEXTs then judge), when no benchmark name starts with an expected
PREFIX, when a benchmark reports an error (unless its message contains an
allowed TEXT), when a benchmark ran no iteration, or when a churn run left
its library mapped (still_mapped > 0).
"""
import json
import os
import subprocess
import sys
import tempfile


def parse(argv):
    expect, allow = [], []
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] in ("--expect", "--allow-error") and i + 1 < len(argv):
            (expect if argv[i] == "--expect" else allow).append(argv[i + 1])
            i += 2
        else:
            raise SystemExit("check_smoke.py: unknown argument %r (see the docstring)" % argv[i])
    command = argv[i + 1:]
    if not command:
        raise SystemExit("usage: check_smoke.py [--expect P]... [--allow-error T]... -- PROGRAM ...")
    return expect, allow, command


def problems(report, expect, allow):
    found = []
    runs = report.get("benchmarks", [])
    for prefix in expect:
        if not any(r["name"].startswith(prefix) for r in runs):
            found.append("no benchmark named %s*" % prefix)
    for r in runs:
        if r.get("error_occurred"):
            msg = r.get("error_message", "")
            if not any(a in msg for a in allow):
                found.append("%s: %s" % (r["name"], msg))
            continue
        if r.get("iterations", 0) < 1:
            found.append("%s: ran no iteration" % r["name"])
        if r.get("still_mapped", 0) > 0:
            found.append("%s: the library stayed mapped after churn" % r["name"])
    return found


def main():
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        return 0
    expect, allow, command = parse(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="dlreg-smoke-") as tmp:
        out = os.path.join(tmp, "report.json")
        p = subprocess.run(command + ["--benchmark_out=" + out, "--benchmark_out_format=json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=110)
        sys.stderr.write(p.stderr)
        # Runs that reported an error make the program exit 1, saying so;
        # problems() then decides whether each error is allowed.
        said = p.returncode == 1 and "benchmark run(s) reported an error" in p.stderr
        if p.returncode != 0 and not said:
            print("FAIL: %s exited %d" % (os.path.basename(command[0]), p.returncode))
            return 1
        try:
            with open(out) as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            print("FAIL: no readable report: %s" % e)
            return 1
        if said and not any(r.get("error_occurred") for r in report.get("benchmarks", [])):
            print("FAIL: exit 1 for errors, but no run in the report has one")
            return 1
    found = problems(report, expect, allow)
    for f in found:
        print("FAIL:", f)
    print("check_smoke: %d benchmarks, %d problem(s)" % (len(report["benchmarks"]), len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
