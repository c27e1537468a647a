#!/usr/bin/env bash
# check-fatal-json.sh [--tsan] LOCK_ACROSS_DLOPEN NO_SIGBUS_GUARD [LOCK_ORDER_INVERSION]
#
# With --json, stdout holds one JSON object however the run ends, also when
# the watchdog (seeded bug lock_across_dlopen), a fatal signal (seeded bug
# no_sigbus_guard: SIGBUS) or ThreadSanitizer (--tsan: seeded bug
# lock_order_inversion) stops it.  Its "detector" must be the SUMMARY's (on
# stderr) and the exit code that detector's.
set -u
tsan=0
if [ "${1:-}" = --tsan ]; then
	tsan=1
	shift
fi
watchdog_bug="$1" sigbus_bug="$2" lock_order_bug="${3:-}"
# As run-storm.sh sets them: these runs test the report, not the defaults.
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:abort_on_error=0:exitcode=67:detect_leaks=1:allow_user_segv_handler=1"
failures=0
out="$(mktemp)" && err="$(mktemp)" || exit 1
trap 'rm -f "$out" "$err"' EXIT

# ending WHAT EXPECTED-DETECTORS STORM ARGS...
ending() {
	local what="$1" expect="$2" rc detector summary
	shift 2
	timeout 60 "$@" --json --no-progress --stop-on-failure --duration 20 >"$out" 2>"$err"
	rc=$?
	detector="$(python3 -c '
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    assert isinstance(d, dict) and d["verdict"] == "FAILURE"
except (ValueError, AssertionError, KeyError, TypeError) as e:
    sys.exit("not a FAILURE JSON object: %r" % e)
print(d["detector"])' "$out" 2>&1)" || {
		echo "FAIL $what: exit $rc, $detector: $(head -c 400 "$out")"
		failures=$((failures + 1))
		return
	}
	summary="$(grep '^SUMMARY ' "$err" | tail -n 1)"
	if [[ "$summary" != *" detector=$detector verdict=FAILURE" ]]; then
		echo "FAIL $what: JSON says $detector, stderr's SUMMARY: '$summary'"
		failures=$((failures + 1))
		return
	fi
	case ",$expect," in
	*",$detector,"*) ;;
	*)
		echo "FAIL $what: detector $detector, want one of $expect"
		failures=$((failures + 1))
		return
		;;
	esac
	case "$detector:$rc" in
	watchdog:3 | crash:4 | crash:67 | races:66) echo "ok   $what: JSON, detector=$detector, exit $rc" ;;
	*)
		echo "FAIL $what: detector=$detector but exit $rc"
		failures=$((failures + 1))
		;;
	esac
}

ending "watchdog" "$([ "$tsan" = 1 ] && echo watchdog,races || echo watchdog)" \
	"$watchdog_bug" --fixtures cb_self,plain00 --mix open=50,close=50 --watchdog 1
ending "fatal signal" crash \
	"$sigbus_bug" --fixtures plain00 --slots 2 --churn-thread --mix scan=100 --scan-backend mmap
if [ "$tsan" = 1 ]; then
	ending "ThreadSanitizer" races \
		"$lock_order_bug" --fixtures plain01,plain02 --pin none --mix open=50,close=50 \
		--max-held 1 --watchdog 5 --threads 2
fi

[ "$failures" -eq 0 ] || {
	echo "$failures failures"
	exit 1
}
echo "every fatal ending wrote JSON"
