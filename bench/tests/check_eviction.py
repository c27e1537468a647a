#!/usr/bin/env python3
"""Cold runs on a memory-backed --scan-dir must fail, note lookups included.

usage: check_eviction.py PROGRAM

Runs dlreg-bench-scan's cold auto benchmarks of 4 MiB files in a tmpfs
directory, where posix_fadvise(POSIX_FADV_DONTNEED) cannot drop anything:
every run must end with the eviction error.  A note file is sparse, so
the pages a lookup reads are a tiny share of it; a check that tolerated 1 %
of the file's pages would let such a run report a warm time as cold.
Exit 77 (skipped) when no writable tmpfs is mounted.
"""
import os
import sys

import scan_bench_run

SIZE = "4M"
FAMILIES = ("scan/marker/cold/auto/", "scan/note/cold/auto/")


def tmpfs_dir():
    """A writable directory on tmpfs, or None."""
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return None
    candidates = [m for m, fs in mounts if fs == "tmpfs"]
    for d in sorted(candidates, key=lambda m: (m != "/dev/shm", m)):
        if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            return d
    return None


def main():
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    scan_dir = tmpfs_dir()
    if not scan_dir:
        print("SKIP: no writable tmpfs to put the scan files on")
        return 77
    runs = scan_bench_run.run(sys.argv[1], [
        "--scan-dir=" + scan_dir, "--min-size=" + SIZE, "--max-size=" + SIZE,
        "--read-bufs=128K", "--benchmark_filter=^scan/(marker|note)/cold/auto/",
        "--benchmark_repetitions=1"], "dlreg-eviction-", errors=True)
    if runs is None:
        return 1
    bad = 0
    for family in FAMILIES:
        mine = [r for r in runs if r["name"].startswith(family)]
        if not mine:
            print("FAIL: no %s run" % family)
            bad += 1
        for r in mine:
            msg = r.get("error_message", "") if r.get("error_occurred") else ""
            if "page cache eviction did not happen" not in msg:
                print("FAIL: %s: %s on tmpfs, where nothing can be evicted" %
                      (r["name"], "reported %.1f us" % r["real_time"] if not msg else msg))
                bad += 1
    print("check_eviction: %d run(s), %d problem(s)" % (len(runs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
