"""Unit tests for the shell scripts (setup, test, storm, bench and
stress/run-storm.sh): their usage errors and the checks they make before
building or running anything.

Nothing here builds the project or installs: the scripts run against
stand-ins (a copy of the script in a scratch tree, fake commands first in
PATH, fake build directories, a one-line ThreadSanitizer program when a
compiler builds one), or stop at argument checking.  Needs bash.
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

    def run_script(self, script, *args, **env_vars):
        """Runs `script` (a path) with the fake commands first in PATH."""
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        env.update(env_vars)
        p = subprocess.run(["bash", script] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def copy_script(self, name, tree="tree"):
        """A copy of scripts/NAME in a scratch tree whose scripts/setup only
        leaves a mark, so nothing outside the scratch tree is touched."""
        root = os.path.join(self.dir, tree)
        write_exe(os.path.join(root, "scripts", "setup"),
                  "#!/bin/sh\ntouch \"$(dirname \"$0\")/../setup-ran\"\n")
        dest = os.path.join(root, "scripts", name)
        shutil.copy(os.path.join(SCRIPTS, name), dest)
        return root, dest


    def tsan_stand_in(self, path):
        """A ThreadSanitizer program at `path` that prints a passing SUMMARY
        line; skips the test when no compiler builds one."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        src = os.path.join(self.dir, "stand_in.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n'
                    'int main(void) { puts("SUMMARY detector=none verdict=SUCCESS"); '
                    'return 0; }\n')
        cc = shutil.which(os.environ.get("CC") or "cc")
        if cc is None or subprocess.run([cc, "-fsanitize=thread", src, "-o", path],
                                        stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("no compiler that builds a ThreadSanitizer program")
        if subprocess.run([path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("ThreadSanitizer programs do not run here")
        return path


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


    def test_non_root_installs_through_sudo_without_questions(self):
        """As a user, apt-get runs through sudo, which resets the
        environment: DEBIAN_FRONTEND must still reach apt-get."""
        write_exe(os.path.join(self.bin, "dpkg-query"), "#!/bin/sh\nexit 1\n")
        write_exe(os.path.join(self.bin, "id"), "#!/bin/sh\necho 1000\n")
        write_exe(os.path.join(self.bin, "sudo"), '#!/bin/sh\nexec env -i PATH="$PATH" "$@"\n')
        log = os.path.join(self.dir, "apt.log")
        write_exe(os.path.join(self.bin, "apt-get"),
                  '#!/bin/sh\necho "$1 frontend=$DEBIAN_FRONTEND" >> "%s"\n' % log)
        code, out, err = self.run_script(os.path.join(SCRIPTS, "setup"))
        self.assertEqual(code, 0, err)
        with open(log) as f:
            self.assertEqual(f.read().splitlines(),
                             ["update frontend=noninteractive", "install frontend=noninteractive"])


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

    # A stand-in meson: setup makes an empty build directory (or fails as
    # meson does, with its reason on stdout), the build has one suite, unit,
    # and `meson test` runs its one test when selected.
    FAKE_MESON = """#!/bin/sh
cmd=$1; shift
case "$cmd" in
setup)
    if [ -n "$FAKE_SETUP_ERROR" ]; then
        echo "meson.build:1:0: ERROR: $FAKE_SETUP_ERROR"; exit 1
    fi
    mkdir -p "$1" && touch "$1/build.ninja" ;;
introspect) echo '[{"name": "t", "suite": ["dlreg:unit"]}]' ;;
test)
    if [ -n "$FAKE_TEST_ERROR" ]; then echo "ERROR: $FAKE_TEST_ERROR"; exit 1; fi
    if [ -n "$FAKE_TEST_LITTER" ]; then mkdir "$TMPDIR/$FAKE_TEST_LITTER"; fi
    if [ -n "$FAKE_TEST_CTRL_C" ]; then
        # Ctrl-C: the whole process group gets SIGINT, meson reports and exits 1.
        trap 'echo "1/2 t INTERRUPT"; printf "Ok: 1\\nFail: 1\\n"; exit 1' INT
        kill -INT 0
        sleep 5
    fi
    case " $* " in
    *" --suite unit "* | *" --suite dlreg:unit "*) printf 'Ok: 1\\nFail: 0\\n' ;;
    *" --suite "*) echo "No suitable tests defined." ;;
    *) printf 'Ok: 1\\nFail: 0\\n' ;;
    esac ;;
esac
"""

    def fake_meson(self):
        write_exe(os.path.join(self.bin, "meson"), self.FAKE_MESON)
        write_exe(os.path.join(self.bin, "ninja"), "#!/bin/sh\nexit 0\n")
        root, script = self.copy_script("test")
        return root, script

    def test_configure_error_is_shown(self):
        """meson prints why a configuration failed on stdout: it must reach
        the build log that the failure line names and shows."""
        root, script = self.fake_meson()
        code, out, err = self.run_script(script, "--only", "release", "--no-bench", CC="gcc",
                                         FAKE_SETUP_ERROR="fake reason")
        self.assertEqual(code, 1, err)
        self.assertIn("ERROR: fake reason", err)
        with open(os.path.join(root, "build-release.build.log")) as f:
            self.assertIn("ERROR: fake reason", f.read())
        self.assertIn("FAILED: build-release: build failed", out)

    def test_unknown_suite_is_a_failure(self):
        root, script = self.fake_meson()
        for suite in ("unit", "dlreg:unit"):
            code, out, err = self.run_script(script, "--only", "release", "--suite", suite,
                                             CC="gcc")
            self.assertEqual(code, 0, (suite, out, err))
            self.assertIn("1 passed, 0 failed", out)
        code, out, err = self.run_script(script, "--only", "release", "--suite", "unti",
                                         CC="gcc")
        self.assertEqual(code, 1, out)
        self.assertIn("FAILED: --suite unti: no such test suite", out)
        self.assertIn("0 passed, 1 failed", out)

    def test_meson_test_error_is_a_failure(self):
        """`meson test` that stops before running anything (an unknown test
        setup, a broken build directory) prints no summary: not a pass."""
        root, script = self.fake_meson()
        code, out, err = self.run_script(script, "--only", "release", "--long", CC="gcc",
                                         FAKE_TEST_ERROR="Unknown test setup 'long'.")
        self.assertEqual(code, 1, out)
        self.assertIn("meson test exited with status 1", out)
        self.assertIn("0 passed, 1 failed", out)

    def test_files_left_in_tmpdir_are_a_failure(self):
        """Each build's tests run in a scratch $TMPDIR under the caller's;
        what they leave there fails the build's step and is removed."""
        root, script = self.fake_meson()
        tmp = os.path.join(self.dir, "tmp")
        os.mkdir(tmp)
        code, out, err = self.run_script(script, "--only", "release", "--no-bench", CC="gcc",
                                         TMPDIR=tmp)
        self.assertEqual(code, 0, out + err)
        self.assertIn("1 passed, 0 failed", out)
        self.assertEqual(os.listdir(tmp), [])
        code, out, err = self.run_script(script, "--only", "release", "--no-bench", CC="gcc",
                                         TMPDIR=tmp, FAKE_TEST_LITTER="dlreg-x.123456")
        self.assertEqual(code, 1, out + err)
        self.assertIn("FAILED: build-release: left in $TMPDIR: dlreg-x.123456 (removed)", out)
        self.assertTrue(out.rstrip().splitlines()[-1].startswith("1 passed, 1 failed"), out)
        self.assertEqual(os.listdir(tmp), [])
        # A $TMPDIR where no scratch directory can be made fails the step.
        code, out, err = self.run_script(script, "--only", "release", "--no-bench", CC="gcc",
                                         TMPDIR=os.path.join(self.dir, "missing"))
        self.assertEqual(code, 1, out + err)
        self.assertIn("FAILED: build-release: cannot create a scratch directory", out)

    def test_ctrl_c_stops_after_the_report(self):
        """Ctrl-C during a build's tests: meson stops and reports; the script
        reports what ran, starts no further build and exits 130."""
        root, script = self.fake_meson()
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""),
                   CC="gcc", FAKE_TEST_CTRL_C="1")
        p = subprocess.run(["bash", script, "--only", "release", "--only", "tsan"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, universal_newlines=True, env=env,
                           start_new_session=True, timeout=60)
        self.assertEqual(p.returncode, 130, p.stdout + p.stderr)
        self.assertIn("test: build-release: 1 passed, 1 failed", p.stdout)
        self.assertNotIn("build-tsan", p.stdout)
        self.assertIn("FAILED: interrupted", p.stdout)
        self.assertTrue(p.stdout.rstrip().splitlines()[-1].startswith("1 passed, 1 failed"),
                        p.stdout)

    def test_runs_through_a_symlink(self):
        """A symlink to scripts/test (e.g. in ~/bin) runs the checkout's."""
        root, script = self.fake_meson()
        link = os.path.join(self.bin, "dlreg-test")
        os.symlink(script, link)
        code, out, err = self.run_script(link, "--only", "release", "--no-bench", CC="gcc")
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(root, "setup-ran")))
        self.assertTrue(os.path.exists(os.path.join(root, "build-release", "build.ninja")))


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

    def test_build_dir_with_an_equals_sign(self):
        """--build-dir=DIR is the wrapper's option, not one for dlreg-storm
        (which would be run from another, perhaps freshly built, directory)."""
        build = self.fake_build("thread")
        code, out, err = self.run_script(self.script, "--no-setup", "--build-dir=" + build)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(build, "stress", "ran")))
        self.assertFalse(os.path.exists(os.path.join(self.root, "build-tsan")))

    def test_build_dir_needs_a_value(self):
        for args in (["--build-dir"], ["--build-dir", ""], ["--build-dir="]):
            code, out, err = self.run_script(self.script, "--no-setup", *args)
            self.assertEqual(code, 2, args)
            self.assertIn("--build-dir needs a directory", err)

    def test_runs_through_a_symlink(self):
        """A symlink to scripts/storm runs the checkout's setup (and uses its
        suppressions), not whatever lies next to the symlink."""
        build = self.fake_build("thread")
        link = os.path.join(self.bin, "storm")
        os.symlink(self.script, link)
        code, out, err = self.run_script(link, "--build-dir", build)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.root, "setup-ran")))
        self.assertIn(os.path.join(os.path.realpath(self.root), "stress", "tsan.supp"), err)

    def test_space_in_the_checkout_path(self):
        """The suppressions path in TSAN_OPTIONS survives a space in the
        checkout's path (unquoted, ThreadSanitizer stops at start-up)."""
        root, script = self.copy_script("storm", tree="a tree")
        os.makedirs(os.path.join(root, "stress"))
        open(os.path.join(root, "stress", "tsan.supp"), "w").close()
        build = self.fake_build("thread")
        self.tsan_stand_in(os.path.join(build, "stress", "dlreg-storm"))
        code, out, err = self.run_script(script, "--no-setup", "--build-dir", build,
                                         TSAN_OPTIONS="")
        self.assertEqual(code, 0, err)
        self.assertIn("verdict=SUCCESS", out)
        self.assertIn("storm: SUCCESS", err)

    def test_late_sanitizer_report_is_counted(self):
        """The log is counted only once all of the driver's stderr is in it:
        a ThreadSanitizer report that reaches the log after the driver exited
        (here from a child that outlives it, as a slow tee delivers it) still
        fails a run the driver passed."""
        build = self.fake_build("thread")
        write_exe(os.path.join(build, "stress", "dlreg-storm"),
                  "#!/bin/sh\n"
                  "(sleep 0.5; echo 'WARNING: ThreadSanitizer: data race (fake)' >&2) "
                  ">/dev/null &\n"
                  "echo 'SUMMARY detector=none verdict=SUCCESS'\n")
        code, out, err = self.storm(build)
        self.assertEqual(code, 1, err)
        self.assertIn("ThreadSanitizer reports: 1", err)
        self.assertIn("storm: FAILURE", err)

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


class TestRunStorm(ShellCase):
    def test_space_in_the_source_path(self):
        """run-storm.sh's suppressions path survives a space in the path of
        the source tree (unquoted, ThreadSanitizer stops at start-up)."""
        stress = os.path.join(self.dir, "a tree", "stress")
        os.makedirs(stress)
        runner = os.path.join(stress, "run-storm.sh")
        shutil.copy(os.path.join(SCRIPTS, "..", "stress", "run-storm.sh"), runner)
        open(os.path.join(stress, "tsan.supp"), "w").close()
        storm = self.tsan_stand_in(os.path.join(self.dir, "dlreg-storm"))
        code, out, err = self.run_script(runner, "success", "1", "1", storm, TSAN_OPTIONS="")
        self.assertEqual(code, 0, err)
        self.assertIn("run-storm: SUCCESS as expected", out)


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

    def test_empty_values_are_refused_in_both_spellings(self):
        """--opt= with nothing after it is the same usage error as --opt ''
        (an empty --build-dir once configured meson in the current directory)."""
        for opt in ("--filter", "--out", "--build-dir", "--scan-dir", "--repetitions"):
            for args in ([opt, ""], [opt + "="]):
                code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), *args)
                self.assertEqual(code, 2, (args, err))
                self.assertEqual(err, "bench: %s needs a value (see --help)\n" % opt, args)
                self.assertEqual(out, "")

    def test_scan_dir_that_is_not_a_directory(self):
        """Refused before anything is built or run: the scan benchmarks run
        after the registry ones, which a bad --scan-dir would not stop."""
        path = os.path.join(self.dir, "file")
        with open(path, "w") as f:
            f.write("x")
        for scan_dir in (path, os.path.join(self.dir, "missing")):
            code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--quick",
                                             "--build-dir", os.path.join(self.dir, "build"),
                                             "--scan-dir", scan_dir)
            self.assertEqual(code, 2, err)
            self.assertEqual(err, "bench: --scan-dir %s: not a directory\n" % scan_dir)
            self.assertEqual(out, "")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "missing")))

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

    def fake_release_build(self):
        """A configured release build whose stand-in benchmark programs check
        --benchmark_filter as the real ones do for one bad filter, "(?:x)",
        and otherwise record that they ran and match nothing (exit 3)."""
        build = os.path.join(self.dir, "build")
        os.makedirs(os.path.join(build, "meson-private"))
        open(os.path.join(build, "meson-private", "coredata.dat"), "w").close()
        write_exe(os.path.join(self.bin, "meson"),
                  "#!/bin/sh\n[ \"$1\" = introspect ] || exit 1\n"
                  "echo '[{\"name\": \"b_sanitize\", \"value\": \"none\"},"
                  " {\"name\": \"buildtype\", \"value\": \"release\"}]'\n")
        write_exe(os.path.join(self.bin, "ninja"), "#!/bin/sh\nexit 0\n")
        for prog in ("dlreg-bench", "dlreg-bench-scan"):
            write_exe(os.path.join(build, "bench", prog),
                      "#!/bin/sh\n"
                      "for a; do case $a in --benchmark_filter='(?:x)')\n"
                      "  echo \"%s: --benchmark_filter wants a POSIX extended regular "
                      "expression, not '(?:x)': Mismatched '(' and ')' in regular "
                      "expression\" >&2; exit 2 ;; esac; done\n"
                      "echo \"$*\" >>\"$(dirname \"$0\")/ran\"\n"
                      "echo 'Failed to match any benchmarks' >&2\nexit 3\n" % prog)
        return build

    def test_filter_checked_by_the_benchmark_programs(self):
        """--filter is checked in the grammar the programs compile it with,
        by asking them, before any benchmark runs; Python's re neither
        decides (it accepts "(?:x)") nor refuses ("zz**" is POSIX ERE)."""
        build = self.fake_release_build()
        ran = os.path.join(build, "bench", "ran")
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--build-dir", build,
                                         "--out", os.path.join(self.dir, "out"),
                                         "--filter", "(?:x)")
        self.assertEqual(code, 2, err)
        self.assertEqual(err, "bench: --filter: '(?:x)' is not a valid regular expression "
                              "(Mismatched '(' and ')' in regular expression)\n")
        self.assertFalse(os.path.exists(ran), "a benchmark program ran")
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--build-dir", build,
                                         "--out", os.path.join(self.dir, "out"),
                                         "--filter", "zz**")
        self.assertEqual(code, 1, err)
        self.assertIn("does --filter match any?", err)
        with open(ran) as f:
            lines = f.read().splitlines()
        self.assertEqual(sum("--benchmark_list_tests=true" in line for line in lines), 1, lines)
        self.assertEqual(len(lines), 3, lines)

    def test_report_that_cannot_be_written(self):
        """A full disk (here a file size limit, which makes write() fail
        with EFBIG) while the report is written: one line, exit 1, and no
        half-written report or .part file left."""
        build = self.fake_release_build()
        entries = ",".join('{"name": "BM_x/%d", "run_name": "BM_x/%d", "run_type": '
                           '"iteration", "repetitions": 1, "repetition_index": 0, '
                           '"threads": 1, "iterations": 10, "real_time": 1.5, '
                           '"cpu_time": 1.5, "time_unit": "ns"}' % (i, i) for i in range(300))
        with open(os.path.join(self.dir, "fake.json"), "w") as f:
            f.write('{"context": {"library_build_type": "release"}, "benchmarks": [%s]}'
                    % entries)
        for prog in ("dlreg-bench", "dlreg-bench-scan"):
            write_exe(os.path.join(build, "bench", prog),
                      "#!/bin/sh\nfor a; do case $a in --benchmark_out=*)\n"
                      "  cp '%s' \"${a#--benchmark_out=}\" ;; esac; done\nexit 0\n"
                      % os.path.join(self.dir, "fake.json"))
        out_dir = os.path.join(self.dir, "out")
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        size_kib = os.path.getsize(os.path.join(self.dir, "fake.json")) // 1024 + 8
        p = subprocess.run(["bash", "-c", 'ulimit -f "$1" && exec bash "$2" --build-dir "$3" '
                            '--out "$4"', "bash", str(size_kib), os.path.join(SCRIPTS, "bench"),
                            build, out_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=env, stdin=subprocess.DEVNULL,
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"(?m)^bench: cannot write .*: File too large$")
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(os.listdir(out_dir), [])

    def test_benchmark_errors_are_not_a_failed_program(self):
        """A program exits 1 when some of its runs reported an error; its
        report is complete, so bench writes it and names the errors, rather
        than calling the report partial."""
        build = self.fake_release_build()
        entry = ('{"name": "BM_%s", "run_name": "BM_%s", "run_type": "iteration", '
                 '"repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": %d, '
                 '"real_time": 1.5, "cpu_time": 1.5, "time_unit": "ns"%s}')
        report = ('{"context": {"library_build_type": "release"}, "benchmarks": [%s, %s]}'
                  % (entry % ("ok", "ok", 10, ""),
                     entry % ("bad", "bad", 0, ', "error_occurred": true, '
                              '"error_message": "fixture missing"')))
        with open(os.path.join(self.dir, "fake.json"), "w") as f:
            f.write(report)
        for prog in ("dlreg-bench", "dlreg-bench-scan"):
            write_exe(os.path.join(build, "bench", prog),
                      "#!/bin/sh\nfor a; do case $a in --benchmark_out=*)\n"
                      "  cp '%s' \"${a#--benchmark_out=}\" ;; esac; done\n"
                      "echo 'x: 1 benchmark run(s) reported an error' >&2\nexit 1\n"
                      % os.path.join(self.dir, "fake.json"))
        out_dir = os.path.join(self.dir, "out")
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--build-dir", build,
                                         "--out", out_dir)
        self.assertEqual(code, 1, err)
        self.assertIn("bench: BM_bad: fixture missing", err)
        self.assertIn("some benchmarks reported errors", err)
        self.assertNotIn("a benchmark program failed", err)
        self.assertEqual(len(os.listdir(out_dir)), 1, os.listdir(out_dir))

    def test_bad_usage(self):
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--repetitions", "0")
        self.assertEqual(code, 2, err)
        code, out, err = self.run_script(os.path.join(SCRIPTS, "bench"), "--bogus")
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
