"""Unit tests for the shell scripts (setup, test, storm, bench): their usage
errors and the checks they make before building or running anything.

Nothing here builds or installs: the scripts run against stand-ins (a copy
of the script in a scratch tree, fake commands first in PATH, fake build
directories), or stop at argument checking.  Needs bash.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SCRIPTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True  # keep the source tree clean


def write_exe(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class ShellCase(unittest.TestCase):
    def setUp(self):
        if shutil.which("bash") is None:
            self.skipTest("bash not installed")
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.bin = os.path.join(self.dir, "fakebin")
        os.mkdir(self.bin)

    def tearDown(self):
        self.tmp.cleanup()

    def run_script(self, script, *args):
        """Runs `script` (a path) with the fake commands first in PATH."""
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        p = subprocess.run(["bash", script] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def copy_script(self, name):
        """A copy of scripts/NAME in a scratch tree whose scripts/setup only
        leaves a mark, so nothing outside the scratch tree is touched."""
        root = os.path.join(self.dir, "tree")
        write_exe(os.path.join(root, "scripts", "setup"),
                  "#!/bin/sh\ntouch \"$(dirname \"$0\")/../setup-ran\"\n")
        dest = os.path.join(root, "scripts", name)
        shutil.copy(os.path.join(SCRIPTS, name), dest)
        return root, dest


class TestSetup(ShellCase):
    def installs(self, *args):
        # dpkg-query finds nothing: --check names every package setup installs.
        write_exe(os.path.join(self.bin, "dpkg-query"), "#!/bin/sh\nexit 1\n")
        code, out, err = self.run_script(os.path.join(SCRIPTS, "setup"), "--check", *args)
        self.assertEqual(code, 1, err)
        self.assertTrue(out.startswith("setup: missing: "), out)
        return out[len("setup: missing: "):].split()

    def test_help_lists_what_is_installed(self):
        code, out, _ = self.run_script(os.path.join(SCRIPTS, "setup"), "--help")
        self.assertEqual(code, 0)
        lines = out.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("Installs")) + 1
        end = next(i for i, l in enumerate(lines) if l.startswith("--with-plots"))
        listed = " ".join(lines[start:end]).split()
        self.assertEqual(sorted(listed), sorted(self.installs()))
        extra = set(self.installs("--with-plots")) - set(listed)
        self.assertTrue(extra)
        for p in extra:
            self.assertIn(p, lines[end])


class TestTestScript(ShellCase):
    def test_usage_errors_exit_2_before_setup(self):
        root, script = self.copy_script("test")
        for args in (["--only"], ["--suite"], ["--only", ""], ["--only", "bogus"],
                     ["--werror", "--only", "release", "--only", "bogus"], ["--bogus"]):
            code, out, err = self.run_script(script, *args)
            self.assertEqual(code, 2, (args, err))
            self.assertTrue(err.startswith("test: "), err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertNotIn("line ", err)
            self.assertEqual(out, "")
            self.assertFalse(os.path.exists(os.path.join(root, "setup-ran")), args)


class TestStorm(ShellCase):
    def setUp(self):
        super().setUp()
        self.root, self.script = self.copy_script("storm")
        # Every run starts "in the same second"; ninja builds nothing.
        write_exe(os.path.join(self.bin, "date"), "#!/bin/sh\necho 20240101-000000\n")
        write_exe(os.path.join(self.bin, "ninja"), "#!/bin/sh\nexit 0\n")

    def fake_build(self, sanitize, options=True):
        """A configured build directory with a stand-in dlreg-storm that
        records that it ran."""
        build = os.path.join(self.dir, "build-%s" % len(os.listdir(self.dir)))
        os.makedirs(os.path.join(build, "meson-info"))
        open(os.path.join(build, "build.ninja"), "w").close()
        if options:
            with open(os.path.join(build, "meson-info", "intro-buildoptions.json"), "w") as f:
                json.dump([{"name": "buildtype", "value": "debugoptimized"},
                           {"name": "b_sanitize", "value": sanitize}], f)
        write_exe(os.path.join(build, "stress", "dlreg-storm"),
                  "#!/bin/sh\ntouch \"$(dirname \"$0\")/ran\"\n"
                  "echo 'SUMMARY verdict=SUCCESS detector=none' >&2\n")
        return build

    def storm(self, build):
        return self.run_script(self.script, "--no-setup", "--build-dir", build)

    def test_refuses_a_build_without_thread_sanitizer(self):
        for sanitize, options in (("none", True), ("address,undefined", True),
                                  (["address"], True), ("none", False)):
            build = self.fake_build(sanitize, options)
            code, out, err = self.storm(build)
            self.assertEqual(code, 2, (sanitize, err))
            self.assertIn(build, err)
            self.assertNotIn("SUCCESS", err)
            self.assertFalse(os.path.exists(os.path.join(build, "stress", "ran")), sanitize)

    def test_thread_sanitizer_build_runs(self):
        for sanitize in ("thread", "address,thread", ["thread"]):
            build = self.fake_build(sanitize)
            code, out, err = self.storm(build)
            self.assertEqual(code, 0, (sanitize, err))
            self.assertTrue(os.path.exists(os.path.join(build, "stress", "ran")))
            self.assertIn("storm: SUCCESS", err)

    def test_each_run_has_its_own_log(self):
        build = self.fake_build("thread")
        for _ in range(3):
            code, out, err = self.storm(build)
            self.assertEqual(code, 0, err)
        logs = [n for n in os.listdir(build) if n.startswith("storm-") and n.endswith(".log")]
        self.assertEqual(len(logs), 3, logs)
        self.assertTrue(all(n.startswith("storm-20240101-000000-") for n in logs), logs)

    def test_stdout_is_the_storms_alone(self):
        """`scripts/storm --json | consumer`: what setup prints (its report,
        apt's output) goes to stderr, and stdout is the driver's JSON."""
        write_exe(os.path.join(self.root, "scripts", "setup"),
                  "#!/bin/sh\necho 'setup: all packages present'\n")
        build = self.fake_build("thread")
        write_exe(os.path.join(build, "stress", "dlreg-storm"),
                  "#!/bin/sh\necho '{\"verdict\": \"SUCCESS\"}'\n")
        code, out, err = self.run_script(self.script, "--build-dir", build, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"verdict": "SUCCESS"})
        self.assertIn("setup: all packages present", err)

    def test_build_dir_needs_a_value(self):
        for args in (["--build-dir"], ["--build-dir", ""]):
            code, out, err = self.run_script(self.script, "--no-setup", *args)
            self.assertEqual(code, 2, args)
            self.assertIn("--build-dir needs a directory", err)

    def test_ctrl_c_keeps_the_report(self):
        """Ctrl-C signals the whole process group: the driver stops and
        reports (exit 130), and what it writes then still reaches stderr and
        the log (the tee in between must not die first)."""
        build = self.fake_build("thread")
        ready = os.path.join(build, "ready")
        write_exe(os.path.join(build, "stress", "dlreg-storm"),
                  "#!/bin/sh\n"
                  "trap 'echo \"fake: report after SIGINT\" >&2; "
                  "echo \"SUMMARY detector=interrupted verdict=FAILURE\"; exit 130' INT\n"
                  "touch '%s'\n"
                  "while :; do sleep 0.05; done\n" % ready)
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        p = subprocess.Popen(["bash", self.script, "--no-setup", "--build-dir", build],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, universal_newlines=True, env=env,
                             start_new_session=True)
        try:
            for _ in range(600):
                if os.path.exists(ready) or p.poll() is not None:
                    break
                time.sleep(0.05)
            os.killpg(p.pid, signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("detector=interrupted", out)
        self.assertIn("fake: report after SIGINT", err)
        self.assertIn("storm: FAILURE (exit 130)", err)
        logs = [n for n in os.listdir(build) if n.endswith(".log")]
        with open(os.path.join(build, logs[0])) as f:
            self.assertIn("fake: report after SIGINT", f.read())


class TestBench(ShellCase):
    def setUp(self):
        super().setUp()
        # Should bench get past its checks, it configures and builds nothing.
        for tool in ("meson", "ninja"):
            write_exe(os.path.join(self.bin, tool), "#!/bin/sh\nexit 1\n")

    def test_build_dir_or_out_that_is_a_file(self):
        path = os.path.join(self.dir, "file")
        with open(path, "w") as f:
            f.write("x")
        build = os.path.join(self.dir, "build")
        for args in (["--build-dir", path], ["--build-dir", build, "--out", path]):
            code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), *args)
            opt = args[-2]
            self.assertEqual(code, 2, (opt, err))
            self.assertIn("not a directory", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertEqual(out, "")
        with open(path) as f:
            self.assertEqual(f.read(), "x")

    def test_quick_report_stays_out_of_results(self):
        """--quick without --out writes into BUILD-DIR/bench-smoke/: here a
        file of that name, so bench names it and stops."""
        build = os.path.join(self.dir, "build")
        os.makedirs(build)
        with open(os.path.join(build, "bench-smoke"), "w") as f:
            f.write("x")
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--quick",
                                         "--build-dir", build)
        self.assertEqual(code, 2, err)
        self.assertIn(os.path.join(build, "bench-smoke") + ": exists and is not a directory", err)

    def test_bad_usage(self):
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--repetitions", "0")
        self.assertEqual(code, 2, err)
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--bogus")
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
