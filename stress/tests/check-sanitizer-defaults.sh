#!/usr/bin/env bash
# check-sanitizer-defaults.sh LOCK_ORDER_INVERSION - a ThreadSanitizer build
# of the storm run on its own, without TSAN_OPTIONS, behaves as under
# scripts/storm: the first report stops the run, the SUMMARY names it
# (detector=races) and the exit code is 66.  Without those defaults the
# report went by, the SUMMARY said SUCCESS and the exit code was 66.
# Options in TSAN_OPTIONS still win over the defaults.
set -u
storm="$1"
failures=0
out="$(mktemp)" && err="$(mktemp)" || exit 1
trap 'rm -f "$out" "$err"' EXIT

# run WHAT WANT-EXIT [VAR=VALUE]: the seeded lock-order inversion, 2 threads.
run() {
	local what="$1" want="$2" rc summary
	shift 2
	env -u TSAN_OPTIONS "$@" timeout 60 "$storm" --fixtures plain01,plain02 --pin none \
		--mix open=50,close=50 --max-held 1 --threads 2 --watchdog 5 --duration 20 \
		--no-progress >"$out" 2>"$err"
	rc=$?
	summary="$(grep '^SUMMARY ' "$out" | tail -n 1)"
	if [[ "$summary" == *" detector=races verdict=FAILURE" ]] && [ "$rc" -eq "$want" ]; then
		echo "ok   $what: detector=races, exit $rc"
	else
		echo "FAIL $what: exit $rc (want $want), SUMMARY: '$summary'," \
			"$(grep -c 'WARNING: ThreadSanitizer' "$err") ThreadSanitizer reports"
		failures=$((failures + 1))
	fi
}
run "no TSAN_OPTIONS" 66
run "TSAN_OPTIONS=exitcode=70 wins" 70 TSAN_OPTIONS=exitcode=70

[ "$failures" -eq 0 ] || {
	echo "$failures failures"
	exit 1
}
echo "the ThreadSanitizer defaults hold"
