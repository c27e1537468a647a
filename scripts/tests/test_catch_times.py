"""Unit tests for scripts/catch-times: its input errors and help.

Timing real seeded-bug runs needs a build and belongs to the stress suite;
here only what must hold without one.
"""

import os
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

    def test_bad_options(self):
        for args in (["--runs", "0", "x"], ["--filter", "(", "x"], []):
            code, _, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
