#!/usr/bin/env python3
"""A warm run must meet its file as the warm-up leaves it, whatever ran before.

usage: check_warm_state.py PROGRAM

Runs dlreg-bench-scan's cold read-128K and warm mmap scans of a 4 MiB
marker file, their repetitions interleaved at random as scripts/bench runs
them, so that warm runs follow cold ones.  A cold read scan leaves the
file fully cached the way readahead does, in other folios than dlreg's
own scan (on ext4 from Linux 6.16: small ones rather than 2 MiB); a warm
run that took that for warm would measure another mapping.  Every warm run
must report the same pmd_mapped (the share of the file a mapping of it
gets in PMD entries at the start of the run).  Where the two ways of
caching the file leave the same folios this cannot tell, and passes.
"""
import sys

import scan_bench_run

REPS = 6


def main():
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    report = scan_bench_run.run(sys.argv[1], [
        "--min-size=4M", "--max-size=4M", "--read-bufs=128K",
        "--benchmark_filter=^scan/marker/(cold/read-128K|warm/mmap)/",
        "--benchmark_enable_random_interleaving=true",
        "--benchmark_repetitions=%d" % REPS], "dlreg-warm-state-", errors="maybe")
    if report is None:
        return 1
    runs = [r for r in report if r.get("run_type") == "iteration"]
    cold = [r for r in runs if "/cold/" in r["name"]]
    if cold and all("page cache eviction did not happen" in r.get("error_message", "")
                    for r in cold):
        print("SKIP: the scan directory cannot be evicted (memory-backed $TMPDIR?)")
        return 77
    warm = [r for r in runs if "/warm/" in r["name"]]
    shares = [r.get("pmd_mapped") for r in warm if not r.get("error_occurred")]
    if len(shares) != REPS or not all(isinstance(s, (int, float)) for s in shares):
        print("FAIL: expected %d warm runs with pmd_mapped, got %r" % (REPS, shares))
        return 1
    print("check_warm_state: pmd_mapped of the warm runs: %s" % shares)
    if max(shares) - min(shares) > 0.01:
        print("FAIL: the warm runs met the file in different states")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
