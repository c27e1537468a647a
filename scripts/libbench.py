"""Google Benchmark reports: loading, grouping by benchmark, rank statistics.

Shared by scripts/compare, scripts/gate and scripts/plot.  Standard library
only, so it runs under any Python 3 (3.7 or newer).

A report is the JSON Google Benchmark writes with --benchmark_out (ours or
any other program's).  Each entry of "benchmarks" is one run: run_type
"iteration" for a measured repetition, "aggregate" for a statistic over the
repetitions (mean, median, stddev, cv, ...).  Entries are grouped by
run_name (older reports lack it: the name then serves, with an aggregate's
"_<aggregate_name>" suffix removed).  Per-repetition values are used when a
group has them; a group that carries only aggregates (a run with
--benchmark_report_aggregates_only) contributes its median, or its mean, as
a single sample, which is too few for any rank test.  The rows of a
Complexity() fit (aggregate_name BigO or RMS, which carry coefficients
instead of times) are not measurements and are ignored, and so are runs a
benchmark skipped itself (State::SkipWithMessage, Google Benchmark 1.8 and
later: "skipped": true, with zero or no times).
"""

import json
import math
import re
import statistics

# Nanoseconds per unit of Google Benchmark's time_unit field.
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Aggregates of a Complexity() fit: a coefficient and an RMS error, no times.
COMPLEXITY_AGGREGATES = ("BigO", "RMS")

# At most this many pairs (n1 n2 <= EXACT_MAX^2, e.g. 20 against 20 or 5
# against 80): exact p-value, with or without ties (see "rank statistics"
# below); more use the normal approximation.
EXACT_MAX = 20


class ReportError(Exception):
    """Bad input; the message is one line that names the file."""


def read_json(path):
    """Parses a JSON file; ReportError with a one-line reason otherwise."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ReportError("%s: no such file" % path)
    except IsADirectoryError:
        raise ReportError("%s: is a directory" % path)
    except OSError as e:
        raise ReportError("%s: cannot read: %s" % (path, e.strerror or e))
    if not raw.strip():
        raise ReportError("%s: empty file" % path)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ReportError("%s: not JSON (not UTF-8 text)" % path)
    except RecursionError:
        raise ReportError("%s: not a benchmark report (JSON nested too deeply)" % path)
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        where = ""
        if hasattr(e, "lineno"):
            where = " at line %d column %d" % (e.lineno, e.colno)
        raise ReportError("%s: not JSON (%s%s)" % (path, msg, where))


def _is_number(v):
    """True for a finite int or float (an int too large for a float is not)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def is_complexity(entry):
    """True for a row of a Complexity() fit (BigO or RMS)."""
    return (entry.get("run_type") == "aggregate"
            and entry.get("aggregate_name") in COMPLEXITY_AGGREGATES)


def is_skipped(entry):
    """True for a run the benchmark skipped itself (SkipWithMessage): no
    measurement, whatever its time fields say."""
    return entry.get("skipped") is True


def _check_entry(path, i, e):
    if not isinstance(e, dict) or not isinstance(e.get("name"), str):
        raise ReportError("%s: not a benchmark report (benchmarks[%d] has no name)" % (path, i))
    for field in ("run_name", "aggregate_name"):
        if field in e and not isinstance(e[field], (str, type(None))):
            raise ReportError("%s: not a benchmark report (benchmarks[%d] %s: %s is not a "
                              "string)" % (path, i, e["name"], field))
    if e.get("error_occurred") or is_skipped(e) or is_complexity(e):
        return
    if e.get("run_type") == "aggregate" and e.get("aggregate_unit", "time") != "time":
        return
    for field in ("real_time", "cpu_time"):
        if not _is_number(e.get(field)):
            what = "has no %s" % field if e.get(field) is None else \
                "%s is not a finite number" % field
            raise ReportError("%s: not a benchmark report (benchmarks[%d] %s %s)"
                              % (path, i, e["name"], what))
    unit = e.get("time_unit", "ns")
    if not isinstance(unit, str) or unit not in TIME_UNITS:
        raise ReportError("%s: not a benchmark report (benchmarks[%d] %s: unknown "
                          "time_unit %r)" % (path, i, e["name"], unit))


def load_report(path):
    """Reads and validates a report; returns the parsed JSON object."""
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ReportError("%s: not a benchmark report (no \"benchmarks\" list)" % path)
    for i, e in enumerate(doc["benchmarks"]):
        _check_entry(path, i, e)
    return doc


# Segments Google Benchmark adds to a name for UseRealTime and friends.
_TIME_SEGMENT = re.compile(r"^(real|manual|process)_time$")


def canonical_name(name):
    """A benchmark name without its time-type segment ("real_time")."""
    return "/".join(s for s in name.split("/") if not _TIME_SEGMENT.match(s))


def pair_by_canonical(only_a, only_b):
    """[(a, b)]: names present on one side only whose canonical names agree,
    where exactly one name on each side has that canonical name."""
    def groups(names):
        out = {}
        for n in names:
            out.setdefault(canonical_name(n), []).append(n)
        return out
    ga, gb = groups(only_a), groups(only_b)
    return [(ga[c][0], gb[c][0]) for c in ga
            if c in gb and len(ga[c]) == 1 and len(gb[c]) == 1]


def run_key(entry):
    """The benchmark an entry belongs to (its run_name, or its name)."""
    rn = entry.get("run_name")
    if isinstance(rn, str) and rn:
        return rn
    name = entry["name"]
    agg = entry.get("aggregate_name")
    if entry.get("run_type") == "aggregate" and agg and name.endswith("_" + agg):
        return name[: -len(agg) - 1]
    return name


class Series:
    """One benchmark's samples, normalised to nanoseconds."""

    def __init__(self, name, unit):
        self.name = name
        self.unit = unit  # the report's time_unit, for display
        self.real = []
        self.cpu = []
        self.entries = []  # the iteration entries (or the one aggregate used)
        self.from_aggregate = False

    def samples(self, metric):
        return self.real if metric == "real" else self.cpu

    def counter(self, name):
        """The user counter `name` of every sample, or None unless each has a
        finite number there."""
        values = [e.get(name) for e in self.entries]
        if not values or not all(_is_number(v) for v in values):
            return None
        return [float(v) for v in values]

    def add(self, entry):
        scale = TIME_UNITS[entry.get("time_unit", "ns")]
        self.real.append(float(entry["real_time"]) * scale)
        self.cpu.append(float(entry["cpu_time"]) * scale)
        self.entries.append(entry)


def _pick_aggregate(aggs):
    by_name = {a.get("aggregate_name"): a for a in aggs}
    return by_name.get("median") or by_name.get("mean")


def errors(doc):
    """{name: error_message} of every benchmark with a run that failed
    (error_occurred), in report order; the first failed run's message."""
    out = {}
    for e in doc["benchmarks"]:
        if e.get("error_occurred"):
            msg = e.get("error_message")
            out.setdefault(run_key(e), msg if isinstance(msg, str) and msg else "no message")
    return out


def skips(doc):
    """{name: skip_message} of every benchmark with a run it skipped itself
    (skipped: true), in report order; the first such run's message."""
    out = {}
    for e in doc["benchmarks"]:
        if is_skipped(e) and not e.get("error_occurred"):
            msg = e.get("skip_message")
            out.setdefault(run_key(e), msg if isinstance(msg, str) and msg else "no message")
    return out


def collect(doc):
    """Groups a report's runs: (ordered dict name -> Series, skipped names).

    Runs that failed (error_occurred) are skipped and reported; a name whose
    every run failed is absent from the result.  errors() tells why.  Of
    the aggregates only a median or a mean is used (never a Complexity()
    row).  Runs the benchmark skipped itself (skipped: true) are left out
    too; skips() names them.
    """
    iters, aggs, order, skipped = {}, {}, [], []
    for e in doc["benchmarks"]:
        key = run_key(e)
        if e.get("error_occurred"):
            skipped.append(key)
            continue
        if is_skipped(e):
            continue
        if key not in iters and key not in aggs:
            order.append(key)
        if e.get("run_type", "iteration") == "aggregate":
            aggs.setdefault(key, []).append(e)
        else:
            iters.setdefault(key, []).append(e)
    out = {}
    for key in order:
        runs = iters.get(key)
        agg = None if runs else _pick_aggregate(aggs.get(key, []))
        chosen = runs or ([agg] if agg else [])
        if not chosen:
            continue
        s = Series(key, chosen[0].get("time_unit", "ns"))
        for e in chosen:
            s.add(e)
        s.from_aggregate = agg is not None
        out[key] = s
    return out, sorted(set(skipped) - set(out))


# --- rank statistics ------------------------------------------------------
#
# Mann-Whitney U test of two samples x (n1 values) and y (n2 values).  The
# pooled N = n1 + n2 values are ranked 1 .. N from the smallest; equal values
# share the mean of the ranks they span (mid-ranks).  U of x is R1 - n1 (n1 +
# 1) / 2, R1 the sum of the ranks of x: the number of pairs with x_i > y_j,
# a pair of equal values counting one half.
#
# Under the null hypothesis every one of the C(N, n1) ways to choose which of
# the pooled values are x is equally likely; the ranks, mid-ranks included,
# are fixed by the pooled values.  The two-sided p-value is
#
#     p = min(1, 2 * min(P(U <= u), P(U >= u)))
#
# for the observed u.  Without ties the null distribution is symmetric about
# n1 n2 / 2, and this equals P(|U - n1 n2 / 2| >= |u - n1 n2 / 2|).  With
# ties it need not be symmetric; doubling the smaller tail is used there
# because it keeps p >= 2 / C(N, n1) (the observed arrangement is in its own
# tail), which is what fully separated samples without ties give: min_p() is
# then the smallest p of its sizes, ties or not.  (With the absolute-deviation
# form and n1 != n2, ties can reach 1 / C(N, n1): 1 vs 2 values with y tied
# would give p = 1/3.)
#
# At most EXACT_MAX^2 pairs (use_exact): exact p.  Without ties the
# distribution of U depends on n1 and n2 only and is counted once per pair
# of sizes
# (exact_u_counts).  With ties it depends on the sizes of the runs of equal
# values and is counted per call (exact_rank_sum_counts), on integers: twice
# a mid-rank is an integer, so the observed sum is compared exactly, with no
# floating-point tolerance; the smaller side is counted.  The work grows
# about as N^2 n1^2: at 20 vs 20 with one tie (the slowest case there) it
# is about 10 ms of CPython, cheap next to running the benchmarks.  Larger samples: normal approximation, tie
# and continuity corrected.


def _doubled_ranks(values):
    """Twice the mid-rank of each value (an integer), and the sizes of the
    runs of equal values in ascending order of value, 1 for a value that
    occurs once; the sizes add up to len(values)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    doubled = [0] * len(values)
    runs = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            doubled[order[k]] = i + j + 2  # ranks i+1 .. j+1, twice their mean
        runs.append(j - i + 1)
        i = j + 1
    return doubled, runs


def _ranks(values):
    """Average ranks (1-based) and the sizes of tie groups."""
    doubled, runs = _doubled_ranks(values)
    return [d / 2.0 for d in doubled], [t for t in runs if t > 1]


def mann_whitney_u(x, y):
    """U of sample x (pairs with x > y, ties counting one half) and tie sizes."""
    ranks, ties = _ranks(list(x) + list(y))
    r1 = sum(ranks[: len(x)])
    return r1 - len(x) * (len(x) + 1) / 2.0, ties


_exact_cache = {}


def exact_u_counts(n1, n2):
    """How many of the C(n1+n2, n1) orderings give U = 0, 1, ..., n1*n2.

    Dynamic programming over the largest value: it belongs either to x (and
    exceeds all j values of y, adding j to U) or to y (adding nothing), so
    f(i, j)[u] = f(i-1, j)[u-j] + f(i, j-1)[u], with f(i, 0) = f(0, j) = [1].
    """
    key = (n1, n2)
    if key in _exact_cache:
        return _exact_cache[key]
    prev = [[1] for _ in range(n2 + 1)]  # row i = 0
    for i in range(1, n1 + 1):
        row = [[1]]
        for j in range(1, n2 + 1):
            a, b = prev[j], row[j - 1]
            cur = [0] * (i * j + 1)
            for u, c in enumerate(b):
                cur[u] += c
            for u, c in enumerate(a):
                cur[u + j] += c
            row.append(cur)
        prev = row
    _exact_cache[key] = prev[n2]
    return prev[n2]


def exact_p(u, n1, n2):
    """Two-sided exact p-value for U = u (no ties)."""
    counts = exact_u_counts(n1, n2)
    total = sum(counts)
    # The distribution is symmetric around n1*n2/2: fold onto the lower tail.
    lo = min(u, n1 * n2 - u)
    tail = sum(counts[: int(math.floor(lo + 1e-9)) + 1])
    return min(1.0, 2.0 * tail / total)


def exact_rank_sum_counts(n1, runs):
    """Null distribution of twice the rank sum of n1 values chosen from a
    pooled sample whose runs of equal values have the sizes `runs` (in
    ascending order of value): (lo, counts), where counts[i] is how many of
    the C(N, n1) subsets of n1 values have a doubled rank sum of lo + i.

    Dynamic programming over the runs: a run of t values with doubled
    mid-rank r puts j of them in the subset in C(t, j) ways, adding j * r to
    the sum.  ways[k] is the distribution, as (lowest sum, counts from
    there), of the sums of k values chosen from the runs seen so far; None
    when there is none, or when the runs still to come have too few values
    to complete a subset of n1.
    """
    n = sum(runs)
    ways = [None] * (n1 + 1)
    ways[0] = (0, [1])
    seen = 0
    for t in runs:
        r = 2 * seen + t + 1  # ranks seen+1 .. seen+t, twice their mean
        seen += t
        needed = n1 - (n - seen)  # fewer values than this cannot be completed
        # Descending k: ways[k - j] still describes the runs before this one.
        for k in range(min(n1, seen), max(needed, 1) - 1, -1):
            parts = [] if ways[k] is None else [ways[k] + (1,)]
            c = 1
            for j in range(1, min(t, k) + 1):
                c = c * (t - j + 1) // j  # C(t, j)
                if ways[k - j] is not None:
                    lo, counts = ways[k - j]
                    parts.append((lo + j * r, counts, c))
            if not parts:
                continue
            lo = min(start for start, _, _ in parts)
            out = [0] * (max(start + len(counts) for start, counts, _ in parts) - lo)
            for start, counts, ways_each in parts:
                for i, v in enumerate(counts, start - lo):
                    out[i] += ways_each * v
            ways[k] = (lo, out)
        for k in range(max(needed, 0)):
            ways[k] = None
    return ways[n1]


def exact_tied_p(s2, n1, runs):
    """Two-sided exact p-value for a doubled rank sum s2 of the n1 values of
    x, ties given mid-ranks; runs as for exact_rank_sum_counts.  The same p
    as by U, which is s2 / 2 - n1 (n1 + 1) / 2."""
    lo, counts = exact_rank_sum_counts(n1, runs)
    i = s2 - lo
    below, above = sum(counts[: i + 1]), sum(counts[i:])
    return min(1.0, 2 * min(below, above) / sum(counts))


def normal_p(u, n1, n2, ties=()):
    """Two-sided p from the normal approximation, tie and continuity corrected."""
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties)
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / float(n * (n - 1)))
    if var <= 0:
        return 1.0
    z = max(0.0, abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def use_exact(n1, n2):
    """True when samples of these sizes get the exact p-value: as many pairs
    as EXACT_MAX a side at most.  Sizes far apart (3 against 40) stay exact:
    there the normal approximation is worst, and the counting cheap."""
    return n1 * n2 <= EXACT_MAX * EXACT_MAX


def mann_whitney_p(x, y):
    """(two-sided p-value, method) of a Mann-Whitney U test: method "exact"
    (ties or not) or "normal", see the notes above; "none" if n < 1."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 1.0, "none"
    u, ties = mann_whitney_u(x, y)
    if not use_exact(n1, n2):
        return normal_p(u, n1, n2, ties), "normal"
    if not ties:
        return exact_p(u, n1, n2), "exact"
    # The p of y's rank sum is the same; counting the smaller side is cheaper.
    if n1 > n2:
        x, y, n1 = y, x, n2
    doubled, runs = _doubled_ranks(list(x) + list(y))
    return exact_tied_p(sum(doubled[:n1]), n1, runs), "exact"


def min_p(n1, n2):
    """The smallest p-value samples of these sizes can give: that of fully
    separated samples without ties.  Ties do not go below it where the p is
    exact (see the notes above), so whether a significant result is possible
    at all depends on the sizes alone.  Beyond use_exact's sizes the tie
    correction can take the normal approximation below it."""
    if n1 == 0 or n2 == 0:
        return 1.0
    if use_exact(n1, n2):
        return exact_p(0, n1, n2)
    return normal_p(0, n1, n2)


def min_reps_for(alpha):
    """Smallest n such that n vs n repetitions can reach p < alpha."""
    n = 1
    while min_p(n, n) >= alpha and n < 1000:
        n += 1
    return n


# --- descriptive statistics ----------------------------------------------


def median(values):
    return statistics.median(values) if values else float("nan")


def cv(values):
    """Coefficient of variation (sample stddev / mean); 0 with fewer than 2."""
    if len(values) < 2:
        return 0.0
    mean = statistics.mean(values)
    return statistics.stdev(values) / mean if mean > 0 else 0.0


def robust_cv(values):
    """1.4826 x median absolute deviation / median: the CV a normal sample
    would have, estimated so that one or two drifted samples do not inflate
    it; 0 with fewer than 3."""
    if len(values) < 3:
        return 0.0
    mid = statistics.median(values)
    mad = statistics.median([abs(v - mid) for v in values])
    return 1.4826 * mad / mid if mid > 0 else 0.0


def change_pct(old, new):
    """The change from old to new in % of old's size, so that its sign is
    that of new - old whatever the signs: a counter from -10 to -5 is +50 %,
    from 10 to -5 -150 %.  From 0, +inf when new is larger (a counter that
    was 0 and no longer is), -inf when smaller, 0 when it stays 0."""
    if old == 0 and math.isfinite(new):
        return math.copysign(float("inf"), new) if new != 0 else 0.0
    if not math.isfinite(old) or not math.isfinite(new):
        return float("nan")
    if old > 0:
        return (new / old - 1.0) * 100.0
    return (new - old) / -old * 100.0


def geomean_ratio(pairs):
    """Geometric mean of new/old over (old, new) pairs with positive values."""
    logs = [math.log(n / o) for o, n in pairs if o > 0 and n > 0]
    if not logs:
        return float("nan")
    return math.exp(sum(logs) / len(logs))


def format_time(ns, unit):
    """A time in nanoseconds, shown in `unit` with 4 significant digits."""
    if not math.isfinite(ns):
        return "-"
    v = ns / TIME_UNITS.get(unit, 1.0)
    if abs(v) >= 1000:
        return "%.0f %s" % (v, unit)
    if abs(v) >= 100:
        return "%.1f %s" % (v, unit)
    if abs(v) >= 10:
        return "%.2f %s" % (v, unit)
    return "%.3f %s" % (v, unit)


def format_pct(p):
    """A change in %: "+5.0%", "+inf%" from a zero base, "-" when unknown."""
    if math.isinf(p):
        return "+inf%" if p > 0 else "-inf%"
    if not math.isfinite(p):
        return "-"
    return "%+.1f%%" % p

