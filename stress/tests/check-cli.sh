#!/usr/bin/env bash
# check-cli.sh STORM - dlreg-storm's command line: --help, --list-variants,
# one-line errors with exit code 2 on bad input, valid JSON with --json,
# and runs that did nothing failing.
set -u
storm="$1"
failures=0
check() {
	local what="$1" want_rc="$2"
	shift 2
	local out err rc
	# A run that never ends fails here, not at the suite's timeout.
	out="$(timeout 20 "$storm" "$@" 2>/tmp/storm-cli-err.$$)"
	rc=$?
	err="$(cat /tmp/storm-cli-err.$$)"
	rm -f /tmp/storm-cli-err.$$
	LAST_OUT="$out"
	LAST_ERR="$err"
	if [ "$rc" -ne "$want_rc" ]; then
		echo "FAIL $what: exit $rc, want $want_rc ($err)"
		failures=$((failures + 1))
		return
	fi
	if [ "$want_rc" -eq 2 ] && { [ "$(wc -l <<<"$err")" -ne 1 ] || [[ "$err" != dlreg-storm:* ]]; }; then
		echo "FAIL $what: error is not one 'dlreg-storm:' line: $err"
		failures=$((failures + 1))
		return
	fi
	echo "ok   $what"
}
# expect WHAT COMMAND...: a check on the last run's output.
expect() {
	local what="$1"
	shift
	if "$@"; then
		echo "ok   $what"
	else
		echo "FAIL $what (stdout: $LAST_OUT; stderr: $LAST_ERR)"
		failures=$((failures + 1))
	fi
}
json_field() {
	python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$LAST_OUT"
}

check "--help" 0 --help
grep -q '^usage: dlreg-storm' <<<"$LAST_OUT" || { echo "FAIL --help text"; failures=$((failures + 1)); }
check "--list-variants" 0 --list-variants
for v in dlreg dlreg-thread qt gmodule; do
	grep -q "^$v	" <<<"$LAST_OUT" || { echo "FAIL variant $v missing"; failures=$((failures + 1)); }
done
check "unknown option" 2 --bogus
# An unknown letter inside a group: the error names it, not a neighbour.
check "unknown short option" 2 --threads 2 -xy
expect "unknown short option named" grep -q "unknown option '-x'" <<<"$LAST_ERR"
check "missing value" 2 --threads
check "zero threads" 2 --threads 0
check "bad duration" 2 --duration soon
check "bad mix weight" 2 --mix open=x
check "unknown mix op" 2 --mix teleport=1
check "unknown variant" 2 --variant nosuch
check "unknown fixture" 2 --fixtures nosuch
check "bad hints" 2 --hints nodelete
check "bad scan backend" 2 --scan-backend tape
check "stray argument" 2 extra
check "missing plugins dir" 2 --plugins-dir /nonexistent/dlreg
check "--fixtures with --plugins-dir" 2 --plugins-dir "$(dirname "$storm")" --fixtures plain00
check "-h" 0 -h
grep -q '^usage: dlreg-storm' <<<"$LAST_OUT" || { echo "FAIL -h text"; failures=$((failures + 1)); }
check "duplicate mix op" 2 --mix read=1,read=2
expect "duplicate mix op named" grep -q "'read' appears twice" <<<"$LAST_ERR"
check "hex duration" 2 --duration 0x10
check "duration out of range" 2 --duration 1e9
expect "duration range named" grep -q -- "--duration: 1e9 s is outside 0.001..1e6 s" <<<"$LAST_ERR"
check "signed count" 2 --ops +10
check "signed mix weight" 2 --mix open=+1,close=1
check "missing fixture dir" 2 --fixture-dir /nonexistent/dlreg
expect "missing fixture dir named" grep -q "/nonexistent/dlreg" <<<"$LAST_ERR"
# Empty names and lists are mistakes, not "nothing" or "/" (--tmpdir '').
for opt in fixtures pin hints tmpdir fixture-dir plugins-dir variant; do
	check "empty --$opt" 2 "--$opt" '' --ops 10 --no-progress
	expect "empty --$opt named" grep -q -- "--$opt: empty value" <<<"$LAST_ERR"
done
# Each worker runs its share of --ops: a share of 0 would run until killed.
check "--ops below --threads" 2 --ops 1 --threads 2 --no-progress
expect "--ops below --threads named" grep -q -- "--ops 1 is below --threads 2" <<<"$LAST_ERR"
check "--ops equal to --threads" 0 --ops 3 --threads 3 --json --no-progress
expect "--ops 3 --threads 3 ran 3 operations" [ "$(json_field ops)" = 3 ]
# (Sanitizer builds leave out deepbind, which ASan cannot run with.)
expect "hints listed without a trailing comma" grep -Eq '^dlreg-storm: hints=lazy,global(,deepbind)?$' <<<"$LAST_ERR"
check "no hints" 0 --ops 3 --threads 3 --hints none --json --no-progress
expect "no hints listed as none" grep -q '^dlreg-storm: hints=none$' <<<"$LAST_ERR"

# Numbers are decimal: a leading zero is not octal.
check "leading-zero ops" 0 --ops 010 --threads 1 --json --no-progress
expect "--ops 010 ran 10 operations" [ "$(json_field ops)" = 10 ]
check "leading-zero threads" 0 --threads 08 --ops 16 --json --no-progress
expect "--threads 08 ran 8 threads" [ "$(json_field threads)" = 8 ]

# A directory of files that never load stormed nothing: that is no success.
junk="$(mktemp -d)"
for i in 1 2 3; do echo "not a shared object" >"$junk/libjunk$i.so"; done
check "nothing loaded" 1 --plugins-dir "$junk" --ops 60 --seed 1 --no-progress
expect "nothing loaded: verdict" grep -q ' detector=nothing_loaded verdict=FAILURE$' <<<"$LAST_OUT"
expect "nothing loaded: message names the directory" grep -q "no plugin from '$junk' ever loaded" <<<"$LAST_ERR"
rm -rf "$junk"
# Reads of plugins nobody opened or pinned all miss: nothing was stormed.
check "read-only, nothing pinned" 1 --mix read=1 --pin none --duration 0.3 --no-progress
expect "read-only, nothing pinned: verdict" grep -q ' detector=nothing_loaded verdict=FAILURE$' <<<"$LAST_OUT"
expect "read-only, nothing pinned: message" grep -q "no plugin was ever loaded" <<<"$LAST_ERR"

# A scan-only mix loads nothing by design: plain plugins carry no metadata,
# so every scan ends in "no metadata", as it must.  That is a run.
check "scan-only, plain plugin, nothing pinned" 0 --mix scan=1 --fixtures plain00 --pin none \
	--slots 0 --ops 50 --no-progress
if ! grep -q "no metadata scanner" <<<"$LAST_ERR"; then
	expect "scan-only: verdict" grep -q ' detector=none verdict=SUCCESS$' <<<"$LAST_OUT"
fi

# No plugin to scan (the only fixture is the slow loader's, no copies): the
# default mix drops scan with a note, and asking for it is a usage error.
check "nothing to scan, default mix" 0 --fixtures slow --slow-loader --slots 0 --ops 40 \
	--no-progress
if ! grep -q "no metadata scanner" <<<"$LAST_ERR"; then
	expect "nothing to scan: note" grep -q "no 'scan' operations: no plugin to scan" <<<"$LAST_ERR"
	check "nothing to scan, scan asked for" 2 --mix scan=1 --fixtures slow --slow-loader \
		--slots 0 --ops 10 --no-progress
fi

# "ops" is the workers' N; the helper threads' cycles are "helper_ops".
check "helper threads" 0 --slow-loader --churn-thread --ops 2000 --threads 2 --json --no-progress
expect "helper threads: ops is --ops" [ "$(json_field ops)" = 2000 ]
expect "helper threads: helper_ops reported" [ "$(json_field helper_ops)" -ge 0 ]

# The report must reach stdout, or the run fails.
for args in "" "--json"; do
	# shellcheck disable=SC2086
	"$storm" --ops 10 --no-progress $args >/dev/full 2>/tmp/storm-cli-err.$$
	rc=$?
	LAST_OUT="" LAST_ERR="$(cat /tmp/storm-cli-err.$$)"
	rm -f /tmp/storm-cli-err.$$
	expect "stdout full ($args): exit $rc" [ "$rc" -eq 1 ]
	expect "stdout full ($args): message" grep -q "^dlreg-storm: cannot write to stdout" <<<"$LAST_ERR"
done

check "json run" 0 --ops 300 --threads 1 --json --no-progress
python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d["verdict"] != "SUCCESS")' <<<"$LAST_OUT" ||
	{ echo "FAIL --json output is not a SUCCESS JSON object: $LAST_OUT"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "all command-line checks passed"
