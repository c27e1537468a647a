#!/usr/bin/env bash
# check-runner.sh RUN_STORM - run-storm.sh reads the storm's whole stderr
# before it judges a stall: a watchdog ending passes only with the
# per-thread dump, which reaches run-storm.sh through tee.  Here the dump
# comes late on purpose (from a child that outlives the fake storm, as a
# slow tee would deliver it): run-storm.sh must wait for the end of stderr,
# not only for the storm.
set -u
runner="$1"
failures=0
work="$(mktemp -d)" || exit 1
trap 'rm -rf "$work"' EXIT

cat >"$work/fake-storm" <<'FAKE'
#!/usr/bin/env bash
# Exits like a watchdog ending; its dump arrives 0.5 s later.
(
	sleep 0.5
	for i in 0 1; do
		echo "dlreg-storm: watchdog: thread $i role=worker op=open plugin=- state=- in_op_ms=0.0 ops_done=0" >&2
	done
) >/dev/null &
echo "SUMMARY variant=fake threads=2 ops=1 detector=watchdog verdict=FAILURE"
exit 3
FAKE
chmod +x "$work/fake-storm"

"$runner" watchdog 1 1 "$work/fake-storm" >"$work/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^run-storm: caught by watchdog (exit 3) as expected$' "$work/out"; then
	echo "ok   a watchdog dump that comes after the storm's exit is seen"
else
	echo "FAIL a late watchdog dump: run-storm.sh exit $rc: $(tail -n 2 "$work/out")"
	failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || {
	echo "$failures failures"
	exit 1
}
echo "run-storm.sh checks passed"
