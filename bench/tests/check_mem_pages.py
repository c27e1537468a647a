#!/usr/bin/env python3
"""The in-RAM searches must get the large pages a warm file scan gets.

usage: check_mem_pages.py PROGRAM

Runs dlreg-bench-scan's warm mmap scan of a 4 MiB marker file and the
memchr, memmem and dlreg_find searches over its bytes in RAM, which are
the limits the warm scan is held against.  Each in-RAM run must report
pmd_mapped (the share of its buffer in huge pages), at least as large as
the share of the file the mmap run's mapping got in PMD entries: a buffer
in 4 KiB pages pays a TLB miss per page that the file scan does not, and
makes the limit slower than what it limits.
"""
import sys

import scan_bench_run

SIZE = "4M"
MEM = ("memchr", "memmem", "dlreg_find")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    report = scan_bench_run.run(sys.argv[1], [
        "--no-cold", "--min-size=" + SIZE, "--max-size=" + SIZE, "--read-bufs=128K",
        "--benchmark_filter=^scan/marker/warm/(mmap|%s)/" % "|".join(MEM),
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
    print("check_mem_pages: file %s, in RAM %s" %
          (file_share, ", ".join("%s %s" % (n, runs.get(n, {}).get("pmd_mapped")) for n in MEM)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
