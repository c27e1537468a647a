#!/bin/sh
# run_fuzz.sh [--prefix-seeds HEX[,HEX]...] FUZZER SEED_DIR SECONDS ARTIFACT_DIR [EXTRA_SEED_FILE]...
# Runs a libFuzzer target for SECONDS from the committed seeds plus extra seed
# files (e.g. a real plugin), in a scratch corpus so the source tree is never
# written.  Crashing inputs are kept in ARTIFACT_DIR.
#
# --prefix-seeds: for a target whose first input byte selects options rather
# than being file content (fuzz_backends), each seed is given once per listed
# byte, with that byte in front, so the seed's own bytes reach the scanner
# intact (an ELF seed keeps its 0x7f).
#
# Exit status: 0 when the run ends without a finding; 1 when the fuzzer
# reports one (crash, trap, abort, sanitizer report, timeout, out of memory),
# whatever status libFuzzer exits with (its own is 77, which meson takes for
# "skipped"); 2 on a usage or setup error.
set -u
usage() {
	echo "usage: run_fuzz.sh [--prefix-seeds HEX[,HEX]...] FUZZER SEED_DIR SECONDS ARTIFACT_DIR [EXTRA_SEED_FILE]..."
}
prefixes=
if [ "${1:-}" = "--prefix-seeds" ]; then
	[ $# -ge 2 ] || { usage >&2; exit 2; }
	prefixes=$(printf '%s' "$2" | tr ',' ' ')
	for b in $prefixes; do
		case $b in
		[0-9a-fA-F] | [0-9a-fA-F][0-9a-fA-F]) ;;
		*) echo "run_fuzz.sh: --prefix-seeds: '$b' is not a hex byte" >&2; exit 2 ;;
		esac
	done
	[ -n "$prefixes" ] || { echo "run_fuzz.sh: --prefix-seeds: no bytes" >&2; exit 2; }
	shift 2
fi
if [ "${1:-}" = "--help" ] || [ $# -lt 4 ]; then
	usage
	[ "${1:-}" = "--help" ] && exit 0
	exit 2
fi
fuzzer=$1
seeds=$2
seconds=$3
artifacts=$4
shift 4
# libFuzzer reads -max_total_time=0 as "no limit".
case $seconds in
'' | *[!0-9]*) echo "run_fuzz.sh: SECONDS must be a positive integer, not '$seconds'" >&2; exit 2 ;;
esac
[ "$seconds" -gt 0 ] || { echo "run_fuzz.sh: SECONDS must be at least 1" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run_fuzz.sh: no seed directory $seeds" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dlreg-fuzz-XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM
mkdir -p "$artifacts" "$work/corpus" "$work/seeds" || exit 2

if [ -n "$prefixes" ]; then
	n=0
	for f in "$seeds"/* "$@"; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		for b in $prefixes; do
			# shellcheck disable=SC2059 # the format is the byte's octal escape
			{ printf "\\$(printf '%03o' "0x$b")" && cat "$f"; } >"$work/seeds/$n-$b" || exit 2
		done
	done
	set -- "$work/seeds"
else
	for f in "$@"; do
		cp "$f" "$work/seeds/" || exit 2
	done
	set -- "$seeds" "$work/seeds"
fi

# New inputs go to the first directory, the scratch corpus.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" "$@"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run_fuzz.sh: ${fuzzer##*/} exited with status $rc: a finding (inputs in $artifacts/)" >&2
	exit 1
fi
exit 0
