#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR SECONDS ARTIFACT_DIR [EXTRA_SEED_FILE]...
# Runs a libFuzzer target for SECONDS from the committed seeds plus extra seed
# files (e.g. a real plugin), in a scratch corpus so the source tree is never
# written.  Crashing inputs are kept in ARTIFACT_DIR.
set -u
if [ "${1:-}" = "--help" ] || [ $# -lt 4 ]; then
	echo "usage: run_fuzz.sh FUZZER SEED_DIR SECONDS ARTIFACT_DIR [EXTRA_SEED_FILE]..."
	[ "${1:-}" = "--help" ] && exit 0
	exit 2
fi
fuzzer=$1
seeds=$2
seconds=$3
artifacts=$4
shift 4
work=$(mktemp -d "${TMPDIR:-/tmp}/dlreg-fuzz-XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts" "$work/seeds"
for f in "$@"; do
	cp "$f" "$work/seeds/" || exit 2
done
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" "$work/seeds"
