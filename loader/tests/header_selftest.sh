#!/bin/sh
# Compiles each public header alone, as the first and only include of a
# translation unit, with -std=c11 -pedantic -Werror: every header must be
# self-contained and strictly C11.
# usage: header_selftest.sh CC INCLUDE_DIR   (checks INCLUDE_DIR/dlreg/*.h)
set -eu
[ $# -eq 2 ] || { echo "usage: header_selftest.sh CC INCLUDE_DIR" >&2; exit 2; }
cc=$1
inc=$2
set -- "$inc"/dlreg/*.h
[ -f "$1" ] || { echo "header_selftest: no headers in $inc/dlreg" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
for h in "$@"; do
	name=$(basename "$h")
	printf '#include <dlreg/%s>\nint header_selftest_%s;\n' "$name" "$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)" >"$tmp/t.c"
	if $cc -std=c11 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" 2>"$tmp/err"; then
		echo "ok   $name"
	else
		echo "FAIL $name"
		cat "$tmp/err"
		rc=1
	fi
done
exit $rc
