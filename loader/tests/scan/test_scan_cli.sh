#!/bin/sh
# test_scan_cli.sh - drives dlreg-scan the way a user would.
#
# usage: test_scan_cli.sh DLREG_SCAN SCAN_GEN_CORPUS PLUGIN_A PLUGIN_B [PATH JSON]...
#   PATH JSON pairs: fixture plugins and the exact metadata each must print.
#
# Every corpus case must give exit 0 and one metadata line ("ok-*" files) or
# exit 1 with exactly one error line on stderr naming the file as
# basename#hash; no output may contain the temporary directory's full path
# unless --full-paths is given; all backends must agree.
set -u

if [ "${1:-}" = "--help" ] || [ $# -lt 4 ]; then
	echo "usage: test_scan_cli.sh DLREG_SCAN SCAN_GEN_CORPUS PLUGIN_A PLUGIN_B [PATH JSON]..."
	[ "${1:-}" = "--help" ] && exit 0
	exit 2
fi
scan=$1
gen=$2
plugin_a=$3
plugin_b=$4
shift 4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlreg-scan-cli-secret-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
check() { # check DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then pass; else fail "$what"; fi
}
lines() { wc -l <"$1" | tr -d ' '; }
no_path_leak() { ! grep -q -F "$tmp" "$tmp/out" "$tmp/err"; }

# Runs dlreg-scan with a watchdog: a FIFO that blocked would hang the test.
run() {
	timeout 20 "$scan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

expect_ok() { # expect_ok NAME JSON-SUBSTRING ARGS...
	name=$1
	want=$2
	shift 2
	run "$@"
	check "$name: exit $rc, want 0" [ "$rc" -eq 0 ]
	check "$name: stdout has $(lines "$tmp/out") lines" [ "$(lines "$tmp/out")" -eq 1 ]
	check "$name: stderr not empty" [ ! -s "$tmp/err" ]
	check "$name: metadata missing" grep -q -F -- "$want" "$tmp/out"
	check "$name: full path in output" no_path_leak
}

expect_error() { # expect_error NAME FILE [ARGS...]
	name=$1
	shift
	run "$@"
	base=$(basename "$1")
	check "$name: exit $rc, want 1" [ "$rc" -eq 1 ]
	check "$name: stdout not empty" [ ! -s "$tmp/out" ]
	check "$name: stderr has $(lines "$tmp/err") lines" [ "$(lines "$tmp/err")" -eq 1 ]
	check "$name: error line does not name $base#hash: $(cat "$tmp/err")" \
		grep -q "^dlreg-scan: $base#[0-9a-f]\{8\}: " "$tmp/err"
	check "$name: full path in output" no_path_leak
}

"$gen" "$tmp/corpus" >/dev/null || fail "corpus generation"
n=0
for f in "$tmp"/corpus/*; do
	name=$(basename "$f")
	n=$((n + 1))
	case $name in
	ok-unicode) expect_ok "$name" '"tags":[1,2.5e3,true,null]' "$f" ;;
	ok-*) expect_ok "$name" '{"name":"corpus","version":1}' "$f" ;;
	*) expect_error "$name" "$f" ;;
	esac
done
check "only $n corpus files" [ "$n" -ge 40 ]

# The backends agree on every file (mmap with a cap below some files' sizes).
for backend in mmap read auto; do
	timeout 60 "$scan" --backend "$backend" --read-buf 16K "$tmp"/corpus/* \
		>"$tmp/$backend.out" 2>"$tmp/$backend.err"
	check "backend $backend: exit status" [ $? -eq 1 ]
done
check "mmap and read disagree" cmp -s "$tmp/mmap.out" "$tmp/read.out"
check "mmap and auto disagree" cmp -s "$tmp/mmap.out" "$tmp/auto.out"
check "mmap and read errors disagree" cmp -s "$tmp/mmap.err" "$tmp/read.err"
check "ok lines" [ "$(lines "$tmp/read.out")" -eq "$(ls "$tmp"/corpus | grep -c '^ok-')" ]

# JSON lines: one object per file, failures included, all parseable.
timeout 60 "$scan" --json "$tmp"/corpus/* >"$tmp/json.out" 2>/dev/null
check "--json lines" [ "$(lines "$tmp/json.out")" -eq "$n" ]
if command -v python3 >/dev/null 2>&1; then
	check "--json output does not parse" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(isinstance(r["ok"], bool) and "#" in r["file"] for r in rows)
assert all(r["metadata"]["name"] for r in rows if r["ok"])
assert all(r["error"].startswith("E") for r in rows if not r["ok"])
' "$tmp/json.out"
fi

# Real plugins built with DLREG_PLUGIN_METADATA.
expect_ok plugin-a '{"name":"scan-a","version":1,"keys":["png","jpeg"]}' "$plugin_a"
check "plugin-a: not found in a PT_NOTE" grep -q "	note-segment	" "$tmp/out"
expect_ok plugin-b '{"name":"scan-b","version":2}' --backend mmap "$plugin_b"
while [ $# -ge 2 ]; do
	expect_ok "fixture $(basename "$1")" "	$2" "$1"
	shift 2
done

# Files that are not plugins at all.
cp "$plugin_a" "$tmp/copy.so"
mkdir "$tmp/dir.so"
mkfifo "$tmp/fifo.so"
expect_error directory "$tmp/dir.so"
expect_error fifo "$tmp/fifo.so"
check "fifo: named as such" grep -q "not a regular file: a FIFO, not opened" "$tmp/err"
expect_error missing "$tmp/missing.so"
expect_error device /dev/null
check "device: named as such" grep -q "not a regular file: a character device, not opened" "$tmp/err"
# ... and never opened: a writer blocked opening the FIFO would be released
# by any reader's open, even a non-blocking one closed at once.
rm -f "$tmp/fifo-opened"
(exec 3>"$tmp/fifo.so" && : >"$tmp/fifo-opened") &
writer=$!
# Waits until the writer (the subshell, or a child it forked) sleeps in the
# kernel's FIFO open: before that, no open of ours could release it, and the
# check below would pass whatever dlreg-scan did.
in_fifo_open() {
	for p in "$writer" $(cat /proc/"$writer"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/wchan 2>/dev/null)" = wait_for_partner ] && return 0
	done
	return 1
}
# A kernel without symbol names shows "0" there: then only a pause.
if [ "$(cat /proc/"$writer"/wchan 2>/dev/null)" = 0 ]; then
	echo "# wchan shows no symbols here: the FIFO check can only pause 0.5 s"
	sleep 0.5
else
	tries=0
	until in_fifo_open || [ "$tries" -ge 100 ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	check "fifo: writer never seen blocked in its open (/proc/$writer/wchan)" in_fifo_open
fi
run "$tmp/fifo.so"
sleep 0.5
check "fifo: not opened" [ ! -e "$tmp/fifo-opened" ]
kill "$writer" 2>/dev/null
# (Unblock it if the kill came first: a reader opens the FIFO here.)
exec 4<>"$tmp/fifo.so" && exec 4<&-
wait "$writer" 2>/dev/null

# Several files: the good ones print, the status says some failed.
run "$tmp/copy.so" "$tmp/missing.so" "$plugin_b"
check "mixed: exit $rc" [ "$rc" -eq 1 ]
check "mixed: two metadata lines" [ "$(lines "$tmp/out")" -eq 2 ]
check "mixed: one error line" [ "$(lines "$tmp/err")" -eq 1 ]

# Options may follow the files (dlreg-scan *.so --json); after "--" an
# argument that looks like one is a file.
run "$plugin_b" --json --backend mmap
check "options after the file: exit $rc" [ "$rc" -eq 0 ]
check "options after the file: not JSON: $(cat "$tmp/out")" \
	grep -q '^{"file":.*"backend":"mmap"' "$tmp/out"
check "options after the file: stderr not empty" [ ! -s "$tmp/err" ]
run "$plugin_b" --frobnicate
check "unknown option after the file: exit $rc" [ "$rc" -eq 2 ]
check "unknown option after the file: stdout not empty" [ ! -s "$tmp/out" ]
run "$plugin_b" --backend=read --json
check "--backend=read: exit $rc" [ "$rc" -eq 0 ]
check "--backend=read: not taken: $(cat "$tmp/out")" grep -q '"backend":"read"' "$tmp/out"
run -- "$plugin_b" --json
check "-- then --json: exit $rc" [ "$rc" -eq 1 ]
check "-- then --json: not text" grep -q "^$(basename "$plugin_b")#.*	" "$tmp/out"
check "-- then --json: not a file" grep -q "^dlreg-scan: --json#" "$tmp/err"

# --full-paths is the only way to see a path.
run --full-paths "$tmp/missing.so"
check "--full-paths: path not shown" grep -q -F "$tmp/missing.so" "$tmp/err"

# Caps and usage errors.
run --backend mmap --max-map 4K "$tmp/corpus/ok-marker-straddle"
check "--max-map: exit $rc" [ "$rc" -eq 1 ]
check "--max-map: not ETOOBIG" grep -q "too large" "$tmp/err"
run --max-meta 8 "$plugin_a"
check "--max-meta: exit $rc" [ "$rc" -eq 1 ]
run --help
check "--help: exit $rc" [ "$rc" -eq 0 ]
check "--help: no usage" grep -q "^usage: dlreg-scan" "$tmp/out"
for args in "--backend" "--backend bogus x" "--read-buf 1000 x" "--max-map -5 x" \
	"--max-map 12Q x" "--frobnicate x" "--backend= x" "--json=1 x" "--read-buf=1K x" \
	"--frobnicate=1 x" ""; do
	# shellcheck disable=SC2086
	run $args
	check "usage error '$args': exit $rc" [ "$rc" -eq 2 ]
	check "usage error '$args': $(lines "$tmp/err") lines" [ "$(lines "$tmp/err")" -eq 1 ]
done

# The metadata limit: the message names the option and the limit, --help too.
run --max-meta 16777217 "$plugin_a"
check "--max-meta above the limit: exit $rc" [ "$rc" -eq 2 ]
check "--max-meta above the limit: $(cat "$tmp/err")" \
	grep -q -- "--max-meta: 16777217 is above the limit of 16M (16777216 bytes)" "$tmp/err"
run --max-meta 16M "$plugin_a"
check "--max-meta 16M: exit $rc" [ "$rc" -eq 0 ]
run --help
check "--help: no metadata limit" grep -q -- "--max-meta .*at most 16M" "$tmp/out"
run -h
check "-h: exit $rc" [ "$rc" -eq 0 ]

# Names with a tab, a newline or a backslash stay one field of one line.
odd=$(printf 'odd\tname\nx\\y.so')
cp "$plugin_a" "$tmp/$odd"
run "$tmp/$odd"
check "odd name: exit $rc" [ "$rc" -eq 0 ]
check "odd name: stdout has $(lines "$tmp/out") lines" [ "$(lines "$tmp/out")" -eq 1 ]
check "odd name: not escaped: $(cat "$tmp/out")" grep -q -F 'odd\tname\nx\\y.so#' "$tmp/out"
check "odd name: not five fields" [ "$(awk -F '\t' '{ print NF }' "$tmp/out")" -eq 5 ]
run "$tmp/missing-$odd"
check "odd missing name: exit $rc" [ "$rc" -eq 1 ]
check "odd missing name: stderr has $(lines "$tmp/err") lines" [ "$(lines "$tmp/err")" -eq 1 ]
check "odd missing name: not escaped: $(cat "$tmp/err")" \
	grep -q -F 'missing-odd\tname\nx\\y.so#' "$tmp/err"

# A name as long as a file name can be: named once, whole, with its hash.
long=$(printf '%0255d' 0)
run "$tmp/$long"
check "long name: exit $rc" [ "$rc" -eq 1 ]
check "long name: not named once, whole: $(cat "$tmp/err")" \
	grep -q "^dlreg-scan: $long#[0-9a-f]\{8\}: no such file (open failed: " "$tmp/err"

# JSON is UTF-8 whatever bytes a file name holds.
bad=$(printf 'bad\377\355\240\200name.so')
cp "$plugin_a" "$tmp/$bad"
run --json "$tmp/$bad" "$tmp/missing-$bad"
check "non-UTF-8 name --json: exit $rc" [ "$rc" -eq 1 ]
if command -v python3 >/dev/null 2>&1; then
	check "non-UTF-8 name --json: not UTF-8 JSON: $(cat "$tmp/out")" python3 -c '
import json, sys
rows = [json.loads(l.decode("utf-8")) for l in open(sys.argv[1], "rb")]
assert len(rows) == 2 and rows[0]["ok"] and not rows[1]["ok"]
assert rows[0]["file"].startswith("bad\ufffd\ufffd\ufffd\ufffdname.so#")
' "$tmp/out"
fi

# Output that cannot be written is a failure, not a silent success.
if [ -w /dev/full ]; then
	for mode in "" --json; do
		# shellcheck disable=SC2086
		timeout 20 "$scan" $mode "$plugin_a" >/dev/full 2>"$tmp/err"
		rc=$?
		check "stdout full ($mode): exit $rc" [ "$rc" -eq 1 ]
		check "stdout full ($mode): no message" grep -q "cannot write to stdout" "$tmp/err"
	done
fi

# Each error line goes out in one write(2): lines of scans running side by
# side (xargs -P) must not interleave.  Names with escapes take the most
# pieces.
if command -v strace >/dev/null 2>&1 &&
	strace -f -o /dev/null true >/dev/null 2>&1; then
	# LeakSanitizer cannot run under ptrace: its report would be more lines.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		timeout 20 strace -f -e trace=write -o "$tmp/trace" "$scan" \
		"$tmp/missing-$bad" "$tmp/$(printf 'tab\tname.so')" >/dev/null 2>"$tmp/err"
	check "error lines: $(lines "$tmp/err"), want 2" [ "$(lines "$tmp/err")" -eq 2 ]
	check "error lines: not one write each: $(grep -c 'write(2,' "$tmp/trace")" \
		[ "$(grep -c 'write(2,' "$tmp/trace")" -eq 2 ]
else
	echo "# strace cannot run here: error-line writes not counted"
fi

echo "scan_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
