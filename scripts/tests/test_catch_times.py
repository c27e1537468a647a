"""Unit tests for scripts/catch-times: its input errors and help.

Timing real seeded-bug runs needs a build and belongs to the stress suite;
here only what must hold without one.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SCRIPTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TOOL = os.path.join(SCRIPTS, "catch-times")


def run(*args):
    p = subprocess.run([sys.executable, TOOL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


class TestCatchTimesInput(unittest.TestCase):
    def test_help(self):
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        self.assertIn("storm-bug-", out)

    def test_not_a_build_directory(self):
        with tempfile.TemporaryDirectory() as d:
            code, out, err = run(d)
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn("not a configured meson build directory", err)

    def test_half_configured_build_directory(self):
        if shutil.which("meson") is None:
            self.skipTest("meson not installed")
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "build.ninja"), "w").close()
            code, out, err = run(d)
            self.assertEqual(code, 2)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("not a configured meson build directory", err)
            # With meson-info/ but no usable introspection data: meson's reason.
            os.mkdir(os.path.join(d, "meson-info"))
            code, out, err = run(d)
            self.assertEqual(code, 2)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertRegex(err, r"meson introspect failed: \S")

    def test_bad_timeout(self):
        for value in ("nan", "inf", "-inf", "1e300", "0", "-1", "86401"):
            code, out, err = run("--timeout", value, "x")
            self.assertEqual(code, 2, value)
            self.assertIn("--timeout", err)
            self.assertNotIn("Traceback", err)
            self.assertEqual(out, "")

    def test_bad_options(self):
        for args in (["--runs", "0", "x"], ["--filter", "(", "x"], []):
            code, _, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
