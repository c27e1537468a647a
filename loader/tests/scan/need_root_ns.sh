# need_root_ns.sh - sourced by the scanner's root-only shell tests.
# need_root_ns WHAT: exits 77 (skipped), saying why, unless this runs as
# root and can make a private mount namespace; WHAT says what needs root.
need_root_ns() {
	if [ "$(id -u)" != 0 ]; then
		echo "skip: $1 needs root"
		exit 77
	fi
	if ! command -v unshare >/dev/null 2>&1 ||
		! unshare -m --propagation private true 2>/dev/null; then
		echo "skip: cannot make a private mount namespace here"
		exit 77
	fi
}
