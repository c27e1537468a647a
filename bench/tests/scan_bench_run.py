"""Runs dlreg-bench-scan for the check_*.py tests and returns its JSON report.

run(program, args, prefix, errors=False): the report's "benchmarks" list,
or None after printing a FAIL line (the program failed).  Its stderr is
passed through; the report goes to a temporary directory named with
`prefix`.  With errors=True some runs are meant to report an error: the
program must then exit 1 and say so in one line; with errors="maybe"
either way is accepted (the caller looks at the runs).
"""
import json
import os
import subprocess
import sys
import tempfile


def run(program, args, prefix, errors=False):
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        out = os.path.join(tmp, "report.json")
        p = subprocess.run([program] + list(args) +
                           ["--benchmark_min_time=0.002", "--benchmark_out=" + out,
                            "--benchmark_out_format=json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=110)
        sys.stderr.write(p.stderr)
        name = os.path.basename(program)
        said = p.returncode == 1 and "benchmark run(s) reported an error" in p.stderr
        if errors == "maybe":
            if p.returncode != 0 and not said:
                print("FAIL: %s exited %d" % (name, p.returncode))
                return None
        elif errors:
            if not said:
                print("FAIL: %s exited %d with runs that reported errors, want 1 and a line "
                      "saying so" % (name, p.returncode))
                return None
        elif p.returncode != 0:
            print("FAIL: %s exited %d" % (name, p.returncode))
            return None
        with open(out) as f:
            return json.load(f)["benchmarks"]
