#!/usr/bin/env python3
"""The in-RAM searches must get the large pages a warm file scan gets.

usage: check_mem_pages.py PROGRAM

Runs dlreg-bench-scan's warm mmap scan of a 4 MiB marker file and the
memchr, memmem, dlreg_find and dlreg_find_noprefetch searches over its
bytes in RAM, which are the limits the warm scan is held against (each
must also find the marker where it is, or its run reports an error).  Each in-RAM run must report
pmd_mapped (the share of its buffer in huge pages), at least as large as
the share of the file the mmap run's mapping got in PMD entries: a buffer
in 4 KiB pages pays a TLB miss per page that the file scan does not, and
makes the limit slower than what it limits.  The same holds for the
buffer of the side-by-side auto_vs_memory run (ram_pmd_mapped), which must
also report each search's mean time (auto_us, memchr_us, memmem_us) and
the ratios of their totals (memmem_over_auto, memchr_over_auto).
"""
import sys

import scan_bench_run

SIZE = "4M"
MEM = ("memchr", "memmem", "dlreg_find", "dlreg_find_noprefetch")


def side_by_side(run, file_share):
    """The failures of the auto_vs_memory run, printed; [] if none."""
    if not run or run.get("error_occurred"):
        print("FAIL: no auto_vs_memory run without an error")
        return ["auto_vs_memory"]
    bad = []
    us = {k: run.get(k) for k in ("auto_us", "memchr_us", "memmem_us")}
    for k, v in us.items():
        if not isinstance(v, (int, float)) or v <= 0:
            print("FAIL: auto_vs_memory: %s is %r" % (k, v))
            bad.append(k)
    for rival in ("memchr", "memmem") if not bad else ():
        got = run.get(rival + "_over_auto")
        want = us[rival + "_us"] / us["auto_us"]
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-3 * want:
            print("FAIL: auto_vs_memory: %s_over_auto %r, the means give %.6g" %
                  (rival, got, want))
            bad.append(rival)
    share = run.get("ram_pmd_mapped")
    if not isinstance(share, (int, float)):
        print("FAIL: auto_vs_memory reports no ram_pmd_mapped")
        bad.append("ram_pmd_mapped")
    elif isinstance(file_share, (int, float)) and share + 1e-9 < file_share:
        print("FAIL: auto_vs_memory: %.2f of the buffer in huge pages, the file scan %.2f" %
              (share, file_share))
        bad.append("ram_pmd_mapped")
    return bad


def main():
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    report = scan_bench_run.run(sys.argv[1], [
        "--no-cold", "--min-size=" + SIZE, "--max-size=" + SIZE, "--read-bufs=128K",
        "--benchmark_filter=^scan/marker/warm/(mmap|auto_vs_memory|%s)/" % "|".join(MEM),
        "--benchmark_repetitions=1"], "dlreg-mem-pages-")
    if report is None:
        return 1
    runs = {r["name"].split("/")[3]: r for r in report}
    bad = [name for name in ("mmap",) + MEM
           if name not in runs or runs[name].get("error_occurred")]
    for name in bad:
        print("FAIL: no %s run without an error" % name)
    file_share = runs.get("mmap", {}).get("pmd_mapped")
    if not bad and not isinstance(file_share, (int, float)):
        print("FAIL: the mmap run has no pmd_mapped")
        bad.append("mmap")
    for name in MEM if not bad else ():
        share = runs[name].get("pmd_mapped")
        if not isinstance(share, (int, float)):
            print("FAIL: %s reports no pmd_mapped" % name)
            bad.append(name)
        elif share + 1e-9 < file_share:
            print("FAIL: %s: %.2f of the buffer in huge pages, the file scan %.2f" %
                  (name, share, file_share))
            bad.append(name)
    bad += side_by_side(runs.get("auto_vs_memory"), file_share)
    print("check_mem_pages: file %s, in RAM %s" %
          (file_share, ", ".join("%s %s" % (n, runs.get(n, {}).get("pmd_mapped")) for n in MEM)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
