#!/usr/bin/env bash
# run-storm.sh - runs one dlreg-storm for a meson test and checks how it ended.
#
# usage: run-storm.sh [CHECK...] EXPECT SHORT_S LONG_S STORM [STORM_ARGS...]
#
#   EXPECT   "success", or a comma list of detectors one of which must stop
#            the run: use_after_grace leaks watchdog races invariants crash.
#   SHORT_S  --duration for the default tier; LONG_S when DLREG_TEST_TIER=long.
#   CHECK    --p999-below NS   read_p999_ns must be below NS (success runs)
#            --max-above NS    read_max_ns must be above NS (a reader stalled)
#
# A seeded bug must be caught by its own detector, with that detector's exit
# code, never by a timeout or a setup error: an expected detector passes only
# when the SUMMARY line names it AND the exit code belongs to it (and, for
# the watchdog, stderr holds its per-thread dump)
#   watchdog 3, crash 4 (or 67: AddressSanitizer memory error),
#   races 66 (ThreadSanitizer), use_after_grace 1 (or 67: ASan use after free),
#   invariants 1, leaks 1.
# This script then exits 0; anything else (including SUCCESS) exits 1.
set -u

die() { echo "run-storm: $*" >&2; exit 1; }

p999_below=""
max_above=""
while [ $# -gt 0 ]; do
	case "$1" in
	--p999-below) p999_below="$2"; shift 2 ;;
	--max-above) max_above="$2"; shift 2 ;;
	*) break ;;
	esac
done
[ $# -ge 4 ] || die "usage: run-storm.sh [CHECK...] EXPECT SHORT_S LONG_S STORM [ARGS...]"
expect="$1" short_s="$2" long_s="$3" storm="$4"
shift 4

here="$(cd "$(dirname "$0")" && pwd)"
duration="$short_s"
[ "${DLREG_TEST_TIER:-short}" = long ] && duration="$long_s"

# Later keys win, so anything the caller set stays unless it is one of these.
# The path is quoted: the sanitizer splits options at spaces.
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7:suppressions='$here/tsan.supp'"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:abort_on_error=0:exitcode=67:detect_leaks=1:allow_user_segv_handler=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

out="$(mktemp)" && err="$(mktemp)" || die "mktemp failed"
trap 'rm -f "$out" "$err"' EXIT
# stderr goes to the log as it comes and is kept in $err for the checks
# below.  A bare `wait` does not wait for a `2> >(tee ...)` of a command:
# the checks could read $err before tee wrote the watchdog's dump.  So tee
# reads fd 3, closed once the storm is done, and is waited for by its pid.
exec 3> >(tee "$err" >&2)
tee_pid=$!
"$storm" --duration "$duration" --no-progress "$@" >"$out" 2>&3 3>&-
rc=$?
exec 3>&-
wait "$tee_pid"
cat "$out"

summary="$(grep '^SUMMARY ' "$out" | tail -n 1)"
[ -n "$summary" ] || die "no SUMMARY line (exit code $rc): the storm did not finish its report"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$summary"; }
detector="$(field detector)"
verdict="$(field verdict)"

if [ "$expect" = success ]; then
	[ "$rc" -eq 0 ] && [ "$verdict" = SUCCESS ] ||
		die "expected SUCCESS, got verdict=$verdict detector=$detector exit=$rc"
	if [ -n "$p999_below" ]; then
		p999="$(field read_p999_ns)"
		[ "$p999" -lt "$p999_below" ] || die "read_p999_ns=$p999 is not below $p999_below"
	fi
	if [ -n "$max_above" ]; then
		max="$(field read_max_ns)"
		[ "$max" -gt "$max_above" ] || die "read_max_ns=$max is not above $max_above"
	fi
	echo "run-storm: SUCCESS as expected"
	exit 0
fi

[ "$verdict" = FAILURE ] || die "expected one of [$expect] to catch the bug; the run passed"
case ",$expect," in
*",$detector,"*) ;;
*) die "expected one of [$expect], but detector=$detector (exit $rc)" ;;
esac
case "$detector:$rc" in
watchdog:3 | crash:4 | crash:67 | races:66 | use_after_grace:1 | use_after_grace:67 | \
	invariants:1 | leaks:1) ;;
*) die "detector=$detector but exit code $rc is not that detector's" ;;
esac
# A stall must come with the state of every thread, not just the exit code.
if [ "$detector" = watchdog ]; then
	dumped="$(grep -c '^dlreg-storm: watchdog: thread [0-9]* role=' "$err")"
	[ "$dumped" -ge 2 ] || die "the watchdog fired without a per-thread dump"
fi
echo "run-storm: caught by $detector (exit $rc) as expected"
exit 0
