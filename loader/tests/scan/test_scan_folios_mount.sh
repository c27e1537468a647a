#!/bin/sh
# test_scan_folios_mount.sh PROBE - runs `PROBE --probe` (test_scan_folios)
# on loop-mounted ext4 file systems of each kind folios.c tells apart:
# default options; data=journal as a mount option and as the superblock's
# default; nodelalloc,nodioread_nolock (which /proc/self/mountinfo shows
# like the last, though it keeps large folios); the encrypt feature; the
# verity feature, a documented miss (auto cannot see it); and overlayfs
# over ext4, with its layers in sight and hidden, and over another
# overlay.  Each must agree with the
# kernel, except the documented misses, which are reported.  Everything is mounted
# in a private mount namespace and goes away with it.  Needs root, unshare,
# mkfs.ext4, tune2fs and loop devices; exits 77 (skipped) without them.
set -u
if [ $# -ne 1 ] || [ "$1" = --help ]; then
	echo "usage: $0 PATH-TO-test_scan_folios"
	[ $# -eq 1 ] && exit 0
	exit 2
fi
probe=$1
. "$(dirname "$0")/need_root_ns.sh"
need_root_ns "loop mounts"
for t in mkfs.ext4 tune2fs mount umount; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "skip: no $t"
		exit 77
	fi
done
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/dlreg-folios.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

unshare -m --propagation private sh -s "$probe" "$tmp" <<'EOS'
probe=$1
tmp=$2
failed=0
ran=0
# verdict KIND EXPECT RC: the probe's exit status RC against EXPECT
# (agree, or known-miss: a case folios.c documents it cannot see).
verdict() {
	case $2,$3 in
	agree,0) echo "ok: $1" ;;
	known-miss,0) echo "note: $1: auto now agrees with the kernel (folios.c says it cannot)" ;;
	known-miss,*) echo "ok: $1: the documented miss (folios.c)" ;;
	*) echo "FAIL: $1: auto and the kernel disagree"; failed=1 ;;
	esac
}
# as_kernels KIND PATH V=L...: what auto thinks of PATH's file system as
# if the kernel were Linux V (folios.c's rules by version) must be large=L.
as_kernels() {
	kind=$1 path=$2
	shift 2
	for vl in "$@"; do
		v=${vl%=*} want=${vl#*=}
		got=$(echo "$path" | "$probe" --traits --kernel "$v")
		case "$got" in
		*" large=$want "*) echo "ok: $kind as on Linux $v: large=$want" ;;
		*) echo "FAIL: $kind as on Linux $v: '$got', not large=$want"; failed=1 ;;
		esac
	done
}
# kind mkfs-features tune2fs-default-options mount-options expect [V=L...]
one() {
	kind=$1 features=$2 defopts=$3 opts=$4 expect=$5
	shift 5
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
	as_kernels "$kind" "$mnt" "$@"
	umount "$mnt"
	verdict "$kind" "$expect" "$rc"
}
# ext4_layer KIND MOUNT-OPTIONS: a fresh 64 MiB ext4 image mounted on
# $tmp/KIND, the overlays' layers; fails, with a note, if it cannot be.
ext4_layer() {
	mkdir -p "$tmp/$1"
	rm -f "$tmp/$1.img"
	truncate -s 64M "$tmp/$1.img"
	if ! mkfs.ext4 -q -F "$tmp/$1.img" >"$tmp/log" 2>&1 ||
		! mount -o "loop${2:+,$2}" "$tmp/$1.img" "$tmp/$1" 2>"$tmp/log"; then
		echo "note: $1: cannot set up the ext4 layer: $(cat "$tmp/log")"
		return 1
	fi
}
# overlayfs over a loop-mounted ext4: kind ext4-mount-options hide expect
# [V=L...].  With hide, a tmpfs mounted over the layers' directory hides
# them, as a container's mount namespace hides its host's: auto then
# assumes ext4 with default options.
ovl() {
	kind=$1 opts=$2 hide=$3 expect=$4
	shift 4
	base=$tmp/$kind
	ext4_layer "$kind" "$opts" || return
	mkdir -p "$base/layers/lower" "$base/layers/upper" "$base/layers/work" "$tmp/$kind-merged"
	if ! mount -t overlay overlay -o "lowerdir=$base/layers/lower,upperdir=$base/layers/upper,workdir=$base/layers/work" \
		"$tmp/$kind-merged" 2>"$tmp/log"; then
		echo "note: $kind: cannot mount overlayfs: $(cat "$tmp/log")"
		umount "$base"
		return
	fi
	if [ "$hide" = hide ] && ! mount -t tmpfs none "$base/layers" 2>"$tmp/log"; then
		echo "note: $kind: cannot hide the layers: $(cat "$tmp/log")"
		umount "$tmp/$kind-merged"
		umount "$base"
		return
	fi
	ran=$((ran + 1))
	"$probe" --probe "$tmp/$kind-merged"
	rc=$?
	as_kernels "$kind" "$tmp/$kind-merged" "$@"
	[ "$hide" = hide ] && umount "$base/layers"
	umount "$tmp/$kind-merged"
	umount "$base"
	verdict "$kind" "$expect" "$rc"
}
# Large folios in ext4's page cache came with Linux 6.16, in xfs's with
# 5.18: as on 5.18, hidden layers must count as ext4, not xfs.
one default "" "" "" agree 6.15=0 6.16=1
one data-journal "" "" data=journal agree
one journal-by-default "" journal_data "" agree
one nodelalloc "" "" nodelalloc,nodioread_nolock agree
one encrypt encrypt "" "" agree
one verity verity "" "" known-miss
# The memo across remounts: one process asks about a file on an overlay
# over default ext4, then, once that is gone, about one on an overlay over
# data=journal ext4, which the kernel gives the same anonymous device
# number.  The second answer must be its own (no large folios).
memo_remount() {
	m=$tmp/remount
	mkdir -p "$m" "$tmp/ra" "$tmp/rb"
	for x in a b; do
		rm -f "$tmp/r$x.img"
		truncate -s 64M "$tmp/r$x.img"
		if ! mkfs.ext4 -q -F "$tmp/r$x.img" >"$tmp/log" 2>&1; then
			echo "note: memo-remount: mkfs.ext4 failed: $(cat "$tmp/log")"
			return
		fi
	done
	if ! mount -o loop "$tmp/ra.img" "$tmp/ra" 2>"$tmp/log" ||
		! mount -o loop,data=journal "$tmp/rb.img" "$tmp/rb" 2>"$tmp/log"; then
		echo "note: memo-remount: cannot mount the layers: $(cat "$tmp/log")"
		return
	fi
	for x in a b; do mkdir -p "$tmp/r$x/l" "$tmp/r$x/u" "$tmp/r$x/w"; done
	rm -f "$tmp/fifo" "$tmp/traits"
	mkfifo "$tmp/fifo"
	"$probe" --traits <"$tmp/fifo" >"$tmp/traits" &
	pid=$!
	exec 3>"$tmp/fifo"
	devs=""
	n=0
	for x in a b; do
		n=$((n + 1))
		if ! mount -t overlay overlay -o "lowerdir=$tmp/r$x/l,upperdir=$tmp/r$x/u,workdir=$tmp/r$x/w" "$m" 2>"$tmp/log"; then
			echo "note: memo-remount: cannot mount overlayfs: $(cat "$tmp/log")"
			break
		fi
		echo x >"$m/f"
		devs="$devs $(stat -c %d "$m/f")"
		echo "$m/f" >&3
		for _ in $(seq 50); do
			[ "$(wc -l <"$tmp/traits")" -ge "$n" ] && break
			sleep 0.1
		done
		umount "$m"
	done
	exec 3>&-
	wait "$pid"
	umount "$tmp/ra"
	umount "$tmp/rb"
	set -- $devs
	if [ $# -ne 2 ] || [ "$1" != "$2" ]; then
		echo "note: memo-remount: the second overlay got another device number ($devs); not run"
		return
	fi
	ran=$((ran + 1))
	first=$(sed -n 1p "$tmp/traits")
	second=$(sed -n 2p "$tmp/traits")
	case "$first|$second" in
	*large=1*"|"*large=0*elsewhere=1*) echo "ok: memo-remount" ;;
	*) echo "FAIL: memo-remount: the memo kept the first overlay's answer: '$first' then '$second'"; failed=1 ;;
	esac
}
# An overlay whose lower layer is another overlay (out of reach: it counts
# as ext4 with default options) and whose upper layer, where the probe file
# is written, is default ext4: large folios.
ovl_nested() {
	kind=overlay-nested base=$tmp/overlay-nested inner=$tmp/overlay-nested-inner
	mkdir -p "$inner" "$tmp/$kind-merged"
	ext4_layer "$kind" "" || return
	mkdir -p "$base/il" "$base/iu" "$base/iw" "$base/upper" "$base/work"
	if ! mount -t overlay overlay -o "lowerdir=$base/il,upperdir=$base/iu,workdir=$base/iw" \
		"$inner" 2>"$tmp/log"; then
		echo "note: $kind: cannot mount the inner overlay: $(cat "$tmp/log")"
		umount "$base"
		return
	fi
	if ! mount -t overlay overlay -o "lowerdir=$inner,upperdir=$base/upper,workdir=$base/work" \
		"$tmp/$kind-merged" 2>"$tmp/log"; then
		echo "note: $kind: cannot mount an overlay over an overlay: $(cat "$tmp/log")"
		umount "$inner"
		umount "$base"
		return
	fi
	ran=$((ran + 1))
	"$probe" --probe "$tmp/$kind-merged"
	rc=$?
	umount "$tmp/$kind-merged"
	umount "$inner"
	umount "$base"
	verdict "$kind" agree "$rc"
}
if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then
	memo_remount
	ovl overlay "" "" agree 6.15=0 6.16=1
	ovl overlay-journal data=journal "" agree
	ovl overlay-hidden "" hide agree 5.18=0 6.15=0 6.16=1
	ovl overlay-hidden-journal data=journal hide known-miss
	ovl_nested
else
	echo "note: no overlayfs here"
fi
if [ "$ran" = 0 ]; then
	echo "skip: no loop mount worked here"
	exit 77
fi
exit $failed
EOS
