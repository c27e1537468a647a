#!/bin/sh
# test_scan_overlay.sh PATH-TO-test_scan_populate - runs
# `test_scan_populate --overlay DIR` on overlayfs mounted over $TMPDIR
# (default /var/tmp) in a private mount namespace: the scanner's own
# 2 MiB-aligned mapping of an overlay file (the kernel aligns none there)
# must start aligned, give back the rest of its reservation, and find the
# record.  Needs root, unshare and overlayfs, and a $TMPDIR whose file
# system caches large folios (ext4 from Linux 6.16, xfs); exits 77
# (skipped) without them.
set -u
if [ $# -ne 1 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
	echo "usage: $0 PATH-TO-test_scan_populate"
	[ $# -eq 1 ] && exit 0
	exit 2
fi
prog=$1
. "$(dirname "$0")/need_root_ns.sh"
need_root_ns "mounting overlayfs"
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
	echo "skip: no overlayfs here"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/dlreg-overlay.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/lower" "$tmp/upper" "$tmp/work" "$tmp/merged" || exit 1
unshare -m --propagation private sh -c '
	if ! mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" \
		"$1/merged" 2>"$1/log"; then
		echo "skip: cannot mount overlayfs: $(cat "$1/log")"
		exit 77
	fi
	"$2" --overlay "$1/merged"
' sh "$tmp" "$prog"
