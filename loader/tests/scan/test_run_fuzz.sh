#!/bin/sh
# test_run_fuzz.sh RUN_FUZZ CANARY FUZZ_BACKENDS SEED_DIR PLUGIN
# Checks the fuzz suite's runner, so that a passing fuzz test means something:
#  - each planted finding of fuzz_canary (trap, abort, UBSan, ASan) fails
#    run_fuzz.sh with status 1 and leaves its input in the artifact directory,
#    also with no sanitizer options in the environment;
#  - an input without a finding passes, and the scratch corpus is removed;
#  - fuzz_backends, whose first input byte is a configuration byte, gets the
#    seeds whole through --prefix-seeds: the ELF seeds and the plugin must
#    yield their metadata from notes.
set -u
[ $# -eq 5 ] || { echo "usage: test_run_fuzz.sh RUN_FUZZ CANARY FUZZ_BACKENDS SEED_DIR PLUGIN" >&2; exit 2; }
run=$1 canary=$2 backends=$3 seed_dir=$4 plugin=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlreg-test-run-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Every run below uses its own TMPDIR, to see what run_fuzz.sh leaves behind.
run_case() { # NAME FUZZ_CANARY WANT-STATUS
	d=$tmp/$1
	mkdir -p "$d/seeds" "$d/tmp"
	printf 'seed' >"$d/seeds/seed"
	env -u ASAN_OPTIONS -u UBSAN_OPTIONS FUZZ_CANARY="$2" TMPDIR="$d/tmp" \
		"$run" "$canary" "$d/seeds" 2 "$d/artifacts" >"$d/log" 2>&1
	rc=$?
	if [ "$rc" -ne "$3" ]; then
		fail "$1: run_fuzz.sh exited with $rc, want $3"
		tail -20 "$d/log"
	elif [ "$3" -ne 0 ] && [ -z "$(ls -A "$d/artifacts" 2>/dev/null)" ]; then
		fail "$1: no input kept in $d/artifacts"
	else
		echo "ok   $1: status $rc"
	fi
	[ -z "$(ls -A "$d/tmp")" ] || fail "$1: run_fuzz.sh left $(ls "$d/tmp") in its TMPDIR"
}
run_case clean "" 0
for kind in trap abort overflow heap; do
	run_case "$kind" "$kind" 1
done

# Usage errors: a zero or missing time budget is not a run.
for secs in 0 "" x; do
	"$run" "$canary" "$seed_dir" "$secs" "$tmp/usage" >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || fail "SECONDS='$secs': status $rc, want 2"
done

# fuzz_backends from the seeds with a configuration byte in front (0x00: the
# file as it is, default options).  Every "ok-*" seed and the plugin must
# yield metadata from the buffer reference, and the ELF ones whose record is
# a note (all but ok-elf-marker-*) and the plugin must find it in a note.
want_ok=1 want_note=1
for f in "$seed_dir"/ok-*; do
	want_ok=$((want_ok + 1))
	case ${f##*/} in ok-elf-marker-*) continue ;; esac
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = 177ELF ] && want_note=$((want_note + 1))
done
mkdir -p "$tmp/backends-tmp"
FUZZ_VERBOSE=1 TMPDIR="$tmp/backends-tmp" "$run" --prefix-seeds 00 "$backends" "$seed_dir" 1 \
	"$tmp/backends-artifacts" "$plugin" >"$tmp/backends.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { fail "fuzz_backends run: status $rc"; tail -30 "$tmp/backends.log"; }
# The seeds run first: count in the lines before libFuzzer's INITED report.
sed '/INITED/q' "$tmp/backends.log" | grep '^  buffer  *rc=0 ' >"$tmp/found"
got_ok=$(wc -l <"$tmp/found")
got_note=$(grep -c ' where=[12] ' "$tmp/found")
if [ "$got_ok" -lt "$want_ok" ] || [ "$got_note" -lt "$want_note" ]; then
	fail "fuzz_backends seeds: $got_ok found metadata ($got_note in a note), want $want_ok ($want_note)"
else
	echo "ok   fuzz_backends seeds: $got_ok found metadata ($got_note in a note)"
fi

[ "$fails" -eq 0 ] || exit 1
echo "all passed"
