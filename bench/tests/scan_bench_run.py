"""Runs dlreg-bench-scan for the check_*.py tests and returns its JSON report.

run(program, args, prefix): the report's "benchmarks" list, or None after
printing a FAIL line (the program failed).  Its stderr is passed through;
the report goes to a temporary directory named with `prefix`.
"""
import json
import os
import subprocess
import sys
import tempfile


def run(program, args, prefix):
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        out = os.path.join(tmp, "report.json")
        p = subprocess.run([program] + list(args) +
                           ["--benchmark_min_time=0.002", "--benchmark_out=" + out,
                            "--benchmark_out_format=json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=110)
        sys.stderr.write(p.stderr)
        if p.returncode != 0:
            print("FAIL: %s exited %d" % (os.path.basename(program), p.returncode))
            return None
        with open(out) as f:
            return json.load(f)["benchmarks"]
