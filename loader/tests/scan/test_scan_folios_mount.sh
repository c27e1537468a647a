#!/bin/sh
# test_scan_folios_mount.sh PROBE - runs `PROBE --probe` (test_scan_folios)
# on loop-mounted ext4 file systems of each kind folios.c tells apart:
# default options; data=journal as a mount option and as the superblock's
# default; nodelalloc,nodioread_nolock (which /proc/self/mountinfo shows
# like the last, though it keeps large folios); the encrypt feature; the
# verity feature, a documented miss (auto cannot see it).  Each must agree
# with the kernel, except verity, which is reported.  Everything is mounted
# in a private mount namespace and goes away with it.  Needs root, unshare,
# mkfs.ext4, tune2fs and loop devices; exits 77 (skipped) without them.
set -u
if [ $# -ne 1 ] || [ "$1" = --help ]; then
	echo "usage: $0 PATH-TO-test_scan_folios"
	[ $# -eq 1 ] && exit 0
	exit 2
fi
probe=$1
if [ "$(id -u)" != 0 ]; then
	echo "skip: loop mounts need root"
	exit 77
fi
for t in unshare mkfs.ext4 tune2fs mount umount; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "skip: no $t"
		exit 77
	fi
done
if ! unshare -m --propagation private true 2>/dev/null; then
	echo "skip: cannot make a private mount namespace here"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/dlreg-folios.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

unshare -m --propagation private sh -s "$probe" "$tmp" <<'EOS'
probe=$1
tmp=$2
failed=0
ran=0
# kind mkfs-features tune2fs-default-options mount-options expect
one() {
	kind=$1 features=$2 defopts=$3 opts=$4 expect=$5
	img=$tmp/$kind.img mnt=$tmp/$kind
	mkdir -p "$mnt"
	rm -f "$img"
	truncate -s 64M "$img"
	if ! mkfs.ext4 -q -F ${features:+-O "$features"} "$img" >"$tmp/log" 2>&1; then
		echo "note: $kind: mkfs.ext4 failed: $(cat "$tmp/log")"
		return
	fi
	if [ -n "$defopts" ] && ! tune2fs -o "$defopts" "$img" >"$tmp/log" 2>&1; then
		echo "note: $kind: tune2fs failed: $(cat "$tmp/log")"
		return
	fi
	if ! mount -o "loop${opts:+,$opts}" "$img" "$mnt" 2>"$tmp/log"; then
		echo "note: $kind: cannot mount: $(cat "$tmp/log")"
		return
	fi
	ran=$((ran + 1))
	"$probe" --probe "$mnt"
	rc=$?
	umount "$mnt"
	case $expect,$rc in
	agree,0) echo "ok: $kind" ;;
	known-miss,0) echo "note: $kind: auto now agrees with the kernel (folios.c says it cannot)" ;;
	known-miss,*) echo "ok: $kind: the documented miss (folios.c)" ;;
	*) echo "FAIL: $kind: auto and the kernel disagree"; failed=1 ;;
	esac
}
one default "" "" "" agree
one data-journal "" "" data=journal agree
one journal-by-default "" journal_data "" agree
one nodelalloc "" "" nodelalloc,nodioread_nolock agree
one encrypt encrypt "" "" agree
one verity verity "" "" known-miss
if [ "$ran" = 0 ]; then
	echo "skip: no loop mount worked here"
	exit 77
fi
exit $failed
EOS
