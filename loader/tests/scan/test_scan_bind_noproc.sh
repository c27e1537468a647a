#!/bin/sh
# test_scan_bind_noproc.sh TEST_SCAN_BIND A.so B.so A-nobid.so B-nobid.so -
# runs `test_scan_bind --no-proc ...` in a private mount namespace with an
# empty tmpfs over /proc, as in a chroot or a container without /proc:
# the identity check of plugins without build-id then falls back to
# stat() (bind.c).  Needs root and unshare; exits 77 (skipped) without.
set -u
if [ $# -ne 5 ]; then
	if [ $# -eq 1 ] && { [ "$1" = --help ] || [ "$1" = -h ]; }; then
		echo "usage: $0 TEST_SCAN_BIND A.so B.so A-nobid.so B-nobid.so"
		exit 0
	fi
	echo "usage: $0 TEST_SCAN_BIND A.so B.so A-nobid.so B-nobid.so" >&2
	exit 2
fi
. "$(dirname "$0")/need_root_ns.sh"
need_root_ns "hiding /proc"
exec unshare -m --propagation private sh -c '
	if ! mount -t tmpfs none /proc 2>/dev/null; then
		echo "skip: cannot mount over /proc"
		exit 77
	fi
	prog=$1
	shift
	exec "$prog" --no-proc "$@"
' sh "$@"
