"""Unit tests for scripts/catch-times: its input errors and help.

Timing real seeded-bug runs needs a build and belongs to the stress suite;
here only what must hold without one.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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


FAKE_MESON = """#!/bin/sh
# A stand-in meson: one seeded-bug test whose driver "compile" builds.
case "$1" in
introspect)
    printf '[{"name": "storm-bug-x", "cmd": ["%s", "stress/prog"], "env": {}, "workdir": "%s"}]' \
        "${INTERP:-/bin/sh}" "$2"
    ;;
compile)
    [ -n "$FAIL_BUILD" ] && exit 1
    mkdir -p "$3/stress"
    printf '%s\\n' "${PROG:-echo "SUMMARY verdict=CAUGHT detector=crash"}" > "$3/stress/prog"
    echo "compiled $3"
    ;;
*) exit 9 ;;
esac
"""


class TestCatchTimesBuild(unittest.TestCase):
    """Like `meson test`, catch-times builds first: a program missing from a
    partly built directory must not read as a bug that went uncaught."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.bin = os.path.join(self.tmp.name, "bin")
        self.build = os.path.join(self.tmp.name, "build")
        os.makedirs(self.bin)
        os.makedirs(os.path.join(self.build, "meson-info"))
        open(os.path.join(self.build, "build.ninja"), "w").close()
        meson = os.path.join(self.bin, "meson")
        with open(meson, "w") as f:
            f.write(FAKE_MESON)
        os.chmod(meson, 0o755)

    def tearDown(self):
        self.tmp.cleanup()

    def run_tool(self, *args, **env):
        e = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""), **env)
        p = subprocess.run([sys.executable, TOOL] + list(args) + [self.build], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        return p.returncode, p.stdout, p.stderr

    def test_builds_before_running(self):
        code, out, err = self.run_tool("--runs", "2")
        self.assertEqual(code, 0, err)
        self.assertIn("compiled " + self.build, err)  # the build's output: stderr
        self.assertNotIn("compiled", out)
        self.assertRegex(out, r"storm-bug-x .* detectors crash +caught 2/2")

    def test_no_rebuild_names_what_is_missing(self):
        code, out, err = self.run_tool("--no-rebuild")
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertIn("storm-bug-x: stress/prog is not built", err)

    def test_timeout_ends_the_whole_run(self):
        """A run that times out is ended with everything it started (the
        driver under run-storm.sh), not only the runner script."""
        pid_file = os.path.join(self.tmp.name, "pid")
        code, out, err = self.run_tool("--runs", "1", "--timeout", "0.5",
                                       PROG='sleep 60 & echo $! > "%s"; wait' % pid_file)
        with open(pid_file) as f:
            pid = int(f.read())
        alive = True
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive = False
                break
            time.sleep(0.05)
        if alive:
            os.kill(pid, signal.SIGKILL)
        self.assertFalse(alive, "the run's child outlived its timeout")
        self.assertEqual(code, 1, err)
        self.assertRegex(out, r"storm-bug-x .* detectors timeout +caught 0/1")

    def test_test_that_cannot_start(self):
        """A test program that cannot be executed is bad input (2), not a
        bug that went uncaught (1), and not "cannot write the output"."""
        code, out, err = self.run_tool("--runs", "1", INTERP=os.path.join(self.tmp.name, "none"))
        self.assertEqual(code, 2, err)
        self.assertIn("storm-bug-x: cannot start ", err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(out, "")

    def test_output_that_cannot_be_written(self):
        """stdout on a full disk: exit 2 with one line, not a traceback and
        not 1, which says a bug went uncaught."""
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        e = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        with open("/dev/full", "w") as full:
            p = subprocess.run([sys.executable, TOOL, "--runs", "1", self.build], env=e,
                               stdout=full, stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("catch-times: error: cannot write the output: ", p.stderr)
        self.assertNotIn("Traceback", p.stderr)

    def test_failed_build(self):
        code, out, err = self.run_tool(FAIL_BUILD="1")
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertIn("the build failed", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
