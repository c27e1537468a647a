#!/usr/bin/env bash
# check-cli.sh STORM - dlreg-storm's command line: --help, --list-variants,
# one-line errors with exit code 2 on bad input, valid JSON with --json.
set -u
storm="$1"
failures=0
check() {
	local what="$1" want_rc="$2"
	shift 2
	local out err rc
	out="$("$storm" "$@" 2>/tmp/storm-cli-err.$$)"
	rc=$?
	err="$(cat /tmp/storm-cli-err.$$)"
	rm -f /tmp/storm-cli-err.$$
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
	LAST_OUT="$out"
}

check "--help" 0 --help
grep -q '^usage: dlreg-storm' <<<"$LAST_OUT" || { echo "FAIL --help text"; failures=$((failures + 1)); }
check "--list-variants" 0 --list-variants
for v in dlreg dlreg-thread qt gmodule; do
	grep -q "^$v	" <<<"$LAST_OUT" || { echo "FAIL variant $v missing"; failures=$((failures + 1)); }
done
check "unknown option" 2 --bogus
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
check "json run" 0 --ops 300 --threads 1 --json --no-progress
python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d["verdict"] != "SUCCESS")' <<<"$LAST_OUT" ||
	{ echo "FAIL --json output is not a SUCCESS JSON object: $LAST_OUT"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "all command-line checks passed"
