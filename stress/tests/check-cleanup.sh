#!/usr/bin/env bash
# check-cleanup.sh STORM FIXTURE_DIR LATE_DIR - dlreg-storm removes what it created
# and nothing else:
#   - when writing a churn copy fails during setup (exit 2), the partly
#     written copy and the churn directory go, and no other file is touched
#     (the fixtures are a private copy here: a broken cleanup once unlinked
#     the catalog's first plugin for every slot not created yet);
#   - when SIGINT or SIGTERM stops a run, it still ends with its SUMMARY
#     (detector=interrupted verdict=FAILURE), exits 128 + the signal and
#     removes its churn directory;
#   - a signal once the run is over (LATE_DIR's plugin raises SIGINT when
#     it is unloaded, after the workers stopped) does not count: the run
#     passes;
#   - a second signal, SIGINT or SIGTERM, kills it at once.
set -u
storm="$1"
fixtures="$2"
late="$3"
failures=0
pass() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	failures=$((failures + 1))
}

work="$(mktemp -d)" || exit 1
trap 'rm -rf "$work"' EXIT
mkdir "$work/fx" "$work/tmp" || exit 1
find "$fixtures" -maxdepth 1 -type f -exec cp {} "$work/fx/" \; || exit 1
before="$(ls "$work/fx")"

# The small copies fit in 512 KiB; the 1 MiB scan copy does not: with
# SIGXFSZ ignored, its write fails with EFBIG.
(
	trap '' XFSZ
	ulimit -f 512
	exec "$storm" --fixture-dir "$work/fx" --tmpdir "$work/tmp" --duration 1 --no-progress
) >"$work/out" 2>"$work/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "cannot write churn copy" "$work/err"; then
	pass "failed churn setup: exit 2, named"
else
	fail "failed churn setup: exit $rc, want 2 with 'cannot write churn copy': $(tail -n 3 "$work/err")"
fi
after="$(ls "$work/fx")"
[ "$before" = "$after" ] && pass "failed churn setup: the fixtures are untouched" ||
	fail "failed churn setup: fixtures removed: $(comm -23 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
left="$(find "$work/tmp" -mindepth 1)"
[ -z "$left" ] && pass "failed churn setup: nothing left in --tmpdir" ||
	fail "failed churn setup: left behind: $left"

# Job control: a background job of a script would otherwise ignore SIGINT.
set -m
interrupt() {
	local sig="$1" want="$2" pid rc i summary left
	rm -rf "$work/tmp"/*
	# Emptied here, not by the job's redirection: until the job gets to it,
	# the wait below would find the previous run's progress line.
	: >"$work/out"
	: >"$work/err"
	"$storm" --tmpdir "$work/tmp" --duration 60 --watchdog 60 --progress >"$work/out" 2>"$work/err" &
	pid=$!
	# Interrupt the storm itself, after its first progress line.
	for i in $(seq 1 200); do
		grep -q '^dlreg-storm: \[' "$work/err" && break
		sleep 0.1
	done
	kill "-$sig" "$pid"
	# It stops within the operations in progress, not after --duration.
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "$sig: still running 30 s after the signal"
	fi
	wait "$pid"
	rc=$?
	[ "$rc" -eq "$want" ] && pass "$sig: exit $want" || fail "$sig: exit $rc, want $want"
	summary="$(grep '^SUMMARY ' "$work/out")"
	[[ "$summary" == *" detector=interrupted verdict=FAILURE" ]] &&
		pass "$sig: SUMMARY says interrupted" || fail "$sig: SUMMARY: '$summary'"
	grep -q "interrupted by SIG$sig" "$work/err" && pass "$sig: said on stderr" ||
		fail "$sig: no 'interrupted by SIG$sig' on stderr: $(tail -n 3 "$work/err")"
	left="$(find "$work/tmp" -mindepth 1 -maxdepth 1)"
	[ -z "$left" ] && pass "$sig: churn directory removed" || fail "$sig: left behind: $left"
}
interrupt INT 130
interrupt TERM 143

# The pinned plugin is unloaded after the join, and its destructor raises
# SIGINT: a complete run, whose verdict must not be "interrupted".
rm -rf "$work/tmp"/*
"$storm" --plugins-dir "$late" --pin signal_at_unload --mix pinned_read=1 --slots 0 \
	--tmpdir "$work/tmp" --duration 1 --no-progress >"$work/out" 2>"$work/err"
rc=$?
summary="$(grep '^SUMMARY ' "$work/out")"
if grep -q "SIGINT: the run is over, not counted" "$work/err"; then
	pass "signal after the run: seen and not counted"
else
	fail "signal after the run: no 'the run is over, not counted' on stderr: $(tail -n 3 "$work/err")"
fi
[ "$rc" -eq 0 ] && [[ "$summary" == *" detector=none verdict=SUCCESS" ]] &&
	pass "signal after the run: exit 0, SUCCESS" ||
	fail "signal after the run: exit $rc, SUMMARY '$summary'"

# A second signal kills at once, also when it is the other one: SIGINT,
# then SIGTERM while a slow constructor (4 s inside dlopen) holds up the
# stop.  (The churn directory may stay then: --slots 0 makes none.)
rm -rf "$work/tmp"/*
: >"$work/err"
"$storm" --tmpdir "$work/tmp" --slots 0 --slow-loader --slow-us 4000000 --watchdog 30 \
	--duration 60 --progress >"$work/out" 2>"$work/err" &
pid=$!
for i in $(seq 1 200); do
	grep -q '^dlreg-storm: \[' "$work/err" && break
	sleep 0.1
done
kill -INT "$pid"
sleep 0.3
kill -TERM "$pid"
for i in $(seq 1 15); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	fail "INT then TERM: still running 1.5 s after the second signal"
	kill -KILL "$pid"
fi
wait "$pid"
rc=$?
[ "$rc" -eq 143 ] && pass "INT then TERM: killed by the second signal" ||
	fail "INT then TERM: exit $rc, want 143 (killed by SIGTERM)"

[ "$failures" -eq 0 ] || {
	echo "$failures failures"
	exit 1
}
echo "all cleanup checks passed"
