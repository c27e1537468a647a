#!/usr/bin/env python3
"""test_scan_json_diff.py HARNESS [--cases N] [--seed S]

The metadata validator (src/scan/json.c) against Python's json module:
generated JSON texts, valid and not, and mutations of them (bytes flipped,
inserted, removed, cut; invalid UTF-8 put in), each given to
`HARNESS --stdin` (test_scan_json) and judged by the reference below.
Every disagreement is printed (the first 20) with its bytes; exit 1 if any.

The reference: the bytes must decode as strict UTF-8 (no overlong forms,
no encoded surrogates, nothing past U+10FFFF), json.loads must take the
text without NaN or Infinity, the top value must be an object, and no more
than 64 containers may nest.  Python's json agrees with RFC 8259 on
everything else the validator checks (whitespace, numbers, escapes,
control characters in strings).
"""
import argparse
import json
import random
import struct
import subprocess
import sys

MAX_DEPTH = 64


def nesting(v):
    """Containers nested in v, v included; iterative (deep texts)."""
    deepest = 0
    stack = [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict):
            deepest = max(deepest, d)
            stack.extend((y, d + 1) for y in x.values())
        elif isinstance(x, list):
            deepest = max(deepest, d)
            stack.extend((y, d + 1) for y in x)
    return deepest


def reject_constant(name):
    raise ValueError("not JSON: " + name)


def reference(b):
    try:
        s = b.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    try:
        v = json.loads(s, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return False
    return isinstance(v, dict) and nesting(v) <= MAX_DEPTH


WS = [" ", "\t", "\n", "\r"]
BAD_WS = ["\v", "\f", "\xa0", "\ufeff", "\u2028"]
CHARS = (
    [chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\']
    + ["\x7f", "\xe9", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000",
       "\U0010ffff", "\u2603", "\U0001f600"]
)
ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\uD83D",
           "\\udE00", "\\u0000", "\\uFFFF"]
BAD_ESCAPES = ["\\x41", "\\U0041", "\\u12", "\\u12G4", "\\'", "\\a", "\\0", "\\"]
NUMBERS = ["0", "-0", "1", "-1", "10", "123456789", "0.5", "-0.25", "1e5", "1E+5", "2e-3",
           "-1.5E-07", "12345678901234567890", "1e400"]
BAD_NUMBERS = ["01", "-01", "+1", "1.", ".5", "1e", "1e+", "-", "0x1F", "1.2.3", "NaN",
               "Infinity", "-Infinity", "--1", "1_000"]
WORDS = ["true", "false", "null"]
BAD_WORDS = ["tru", "True", "nul", "NULL", "falsey", "undefined"]
# Bytes that break UTF-8 in every way RFC 3629 names, and some that do not.
BYTE_SNIPPETS = [
    b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff",
    b"\xfe", b"\x80", b"\xbf", b"\xc2", b"\xe1\x80", b"\xf0\x90\x80", b"\xe1\xc0\x80",
    b"\x00", b"\x01", b"\x1f", b"\x7f", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80",
    b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
]


class Gen:
    def __init__(self, rnd):
        self.r = rnd

    def ws(self):
        r = self.r
        if r.random() < 0.6:
            return ""
        s = "".join(r.choice(WS) for _ in range(r.randint(1, 3)))
        if r.random() < 0.02:
            s += r.choice(BAD_WS)
        return s

    def string(self):
        r = self.r
        out = []
        for _ in range(r.choice([0, 1, 2, 5, 12])):
            x = r.random()
            if x < 0.75:
                out.append(r.choice(CHARS))
            elif x < 0.97:
                out.append(r.choice(ESCAPES))
            elif x < 0.985:
                out.append(r.choice(BAD_ESCAPES))
            else:
                out.append(chr(r.randrange(0, 0x20)))
        return '"' + "".join(out) + '"'

    def number(self):
        r = self.r
        if r.random() < 0.05:
            return r.choice(BAD_NUMBERS)
        if r.random() < 0.5:
            return r.choice(NUMBERS)
        s = r.choice(["", "-"]) + r.choice(["0", str(r.randrange(1, 10**r.randint(1, 12)))])
        if r.random() < 0.3:
            s += "." + str(r.randrange(0, 10**r.randint(1, 6))).zfill(r.randint(1, 3))
        if r.random() < 0.3:
            s += r.choice("eE") + r.choice(["", "+", "-"]) + str(r.randrange(0, 400))
        return s

    def value(self, depth, budget):
        r = self.r
        x = r.random()
        if depth < budget and x < 0.3:
            return self.container(depth + 1, budget, r.random() < 0.5)
        if x < 0.55:
            return self.string()
        if x < 0.8:
            return self.number()
        if r.random() < 0.05:
            return r.choice(BAD_WORDS)
        return r.choice(WORDS)

    def container(self, depth, budget, obj):
        r = self.r
        n = r.choice([0, 1, 1, 2, 3, 5])
        items = []
        for _ in range(n):
            v = self.value(depth, budget)
            if obj:
                key = self.string() if r.random() > 0.01 else r.choice(["a", "'a'", "1"])
                items.append(self.ws() + key + self.ws() + ":" + self.ws() + v + self.ws())
            else:
                items.append(self.ws() + v + self.ws())
        sep = "," if r.random() > 0.01 else r.choice(["", ",,", ";"])
        body = sep.join(items)
        if r.random() < 0.01:
            body += ","
        o, c = ("{", "}") if obj else ("[", "]")
        if r.random() < 0.005:
            c = "]" if obj else "}"
        return o + self.ws() + body + self.ws() + c

    def chain(self, depth):
        """depth nested containers, an object outside, mixed inside."""
        r = self.r
        opens, closes = [], []
        for i in range(depth):
            obj = i == 0 or r.random() < 0.5
            if obj:
                opens.append("{" + self.ws() + '"k"' + self.ws() + ":" + self.ws())
                closes.append(self.ws() + "}")
            else:
                opens.append("[" + self.ws())
                closes.append(self.ws() + "]")
        # The innermost container holds a plain value instead of a member.
        last = opens.pop()
        closes.pop()
        inner = "{}" if last.startswith("{") else "[" + self.value(depth, depth) + "]"
        return "".join(opens) + inner + "".join(reversed(closes))

    def document(self):
        r = self.r
        x = r.random()
        if x < 0.06:
            text = self.chain(r.choice([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH, MAX_DEPTH + 1,
                                        MAX_DEPTH + 1, r.randint(2, 90)]))
        elif x < 0.08:
            text = self.value(0, 3)  # most likely not an object
        else:
            text = self.container(1, r.choice([1, 2, 3, 6]), True)
        text = self.ws() + text + self.ws()
        if r.random() < 0.01:
            text += r.choice(["{}", "x", "0", '""'])
        return text.encode("utf-8", errors="surrogatepass")


def mutate(rnd, b):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 3)):
        x = rnd.random()
        i = rnd.randint(0, len(b))
        if x < 0.25 and b:
            j = min(i, len(b) - 1)
            b[j] ^= 1 << rnd.randrange(8)
        elif x < 0.45:
            b[i:i] = rnd.choice(BYTE_SNIPPETS)
        elif x < 0.6:
            b[i:i] = bytes([rnd.choice(b'{}[]:,"\\ 0-e.tfn')])
        elif x < 0.75 and b:
            del b[min(i, len(b) - 1)]
        elif x < 0.85:
            del b[i:]
        elif b:
            j = rnd.randint(0, len(b))
            a, z = sorted((i, j))
            b[z:z] = b[a:z]
    return bytes(b)


def main():
    ap = argparse.ArgumentParser(
        description="The metadata validator against Python's json module on generated "
        "and mutated texts.")
    ap.add_argument("harness", help="path to test_scan_json")
    ap.add_argument("--cases", type=int, default=40000,
                    help="texts to compare (default 40000)")
    ap.add_argument("--seed", type=int, default=20261203,
                    help="random seed (default 20261203; the run is repeatable)")
    args = ap.parse_args()
    if args.cases < 1:
        ap.error("--cases must be at least 1")

    rnd = random.Random(args.seed)
    gen = Gen(rnd)
    texts = []
    for _ in range(args.cases):
        t = gen.document()
        if rnd.random() < 0.45:
            t = mutate(rnd, t)
        texts.append(t)
    payload = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    try:
        p = subprocess.run([args.harness, "--stdin"], input=payload, capture_output=True,
                           timeout=100)
    except OSError as e:
        print(f"test_scan_json_diff: cannot run {args.harness}: {e}", file=sys.stderr)
        return 1
    if p.returncode != 0:
        print(f"test_scan_json_diff: {args.harness} --stdin exited {p.returncode}: "
              f"{p.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    got = p.stdout.decode("ascii", errors="replace").strip()
    if len(got) != len(texts) or set(got) - {"0", "1"}:
        print(f"test_scan_json_diff: {len(got)} verdicts for {len(texts)} texts",
              file=sys.stderr)
        return 1

    bad = 0
    valid = 0
    for t, g in zip(texts, got):
        want = reference(t)
        valid += want
        if (g == "1") != want:
            bad += 1
            if bad <= 20:
                print(f"DISAGREE: validator {'valid' if g == '1' else 'invalid'}, json "
                      f"{'valid' if want else 'invalid'}: {t[:300]!r}"
                      + (" ..." if len(t) > 300 else ""))
    print(f"test_scan_json_diff: {len(texts)} texts (seed {args.seed}), {valid} valid to "
          f"json, {len(texts) - valid} not; {bad} disagreements")
    # A generator that made only one kind would test nothing.
    if valid < len(texts) // 5 or valid > len(texts) * 4 // 5:
        print("test_scan_json_diff: the generated texts are too one-sided "
              f"({valid} of {len(texts)} valid)", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
