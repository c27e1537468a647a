#!/bin/sh
# Installs the build into a scratch DESTDIR and builds a consumer the way a
# user of the installed library would: the installed headers only, flags from
# `pkg-config dlreg` (PKG_CONFIG_SYSROOT_DIR pointing into the DESTDIR), as
# strict C11 and, when a C++ compiler is given, as C++11.  Each consumer must
# run against the installed libdlreg (checked with dladdr), not the build's.
# Also checks the soname link chain and that the library exports dlreg_*
# names only.
#
# usage: test_install.sh MESON BUILD_ROOT VERSION CC CXX|none CONSUMER.c PLUGIN JSON
set -eu
if [ $# -ne 8 ]; then
	echo "usage: test_install.sh MESON BUILD_ROOT VERSION CC CXX|none CONSUMER.c PLUGIN JSON" >&2
	exit 2
fi
meson=$1 build=$2 version=$3 cc=$4 cxx=$5 consumer=$6 plugin=$7 json=$8
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config not installed"; exit 77; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/dlreg-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT INT TERM

fail() {
	echo "FAIL: $*"
	exit 1
}

"$meson" install -C "$build" --no-rebuild --destdir "$dest" >"$dest.log" 2>&1 ||
	{ cat "$dest.log"; rm -f "$dest.log"; fail "meson install"; }
rm -f "$dest.log"

pc=$(find "$dest" -name dlreg.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no dlreg.pc installed"
[ "$(printf '%s\n' "$pc" | wc -l)" -eq 1 ] || fail "more than one dlreg.pc: $pc"
export PKG_CONFIG_PATH="${pc%/*}" PKG_CONFIG_SYSROOT_DIR="$dest"
got=$(pkg-config --modversion dlreg) || fail "pkg-config cannot read $pc"
[ "$got" = "$version" ] || fail "dlreg.pc says version $got, the project $version"
echo "ok   dlreg.pc, version $got"

# The soname chain: libdlreg.so -> libdlreg.so.0 -> libdlreg.so.VERSION.
libdir=$(pkg-config --variable=libdir dlreg)
libdir=$dest${libdir#"$dest"}
[ -f "$libdir/libdlreg.so.$version" ] || fail "no $libdir/libdlreg.so.$version"
for link in libdlreg.so libdlreg.so.0; do
	[ -L "$libdir/$link" ] || fail "$libdir/$link is not a symlink"
	[ "$(readlink -f "$libdir/$link")" = "$(readlink -f "$libdir/libdlreg.so.$version")" ] ||
		fail "$link does not lead to libdlreg.so.$version"
done
if command -v readelf >/dev/null 2>&1; then
	soname=$(readelf -d "$libdir/libdlreg.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
	[ "$soname" = libdlreg.so.0 ] || fail "soname is '$soname', want libdlreg.so.0"
	echo "ok   soname $soname"
fi
if command -v nm >/dev/null 2>&1; then
	bad=$(nm -D --defined-only "$libdir/libdlreg.so.$version" | awk '{print $3}' |
		grep -v -e '^dlreg_[a-z]' -e '^_init$' -e '^_fini$' || true)
	[ -z "$bad" ] || fail "exports outside the API: $bad"
	internal=$(nm -D --defined-only "$libdir/libdlreg.so.$version" | awk '{print $3}' |
		grep '^dlreg__' || true)
	[ -z "$internal" ] || fail "exports internal names: $internal"
	echo "ok   exports: dlreg_* only"
fi
for tool in dlreg-scan; do
	found=$(find "$dest" -type f -name "$tool")
	[ -n "$found" ] || fail "$tool not installed"
	LD_LIBRARY_PATH="$libdir" "$found" --help >/dev/null || fail "installed $tool --help"
done
echo "ok   dlreg-scan installed"

cflags=$(pkg-config --cflags dlreg)
libs=$(pkg-config --libs dlreg)
case "$cflags $libs" in
*"$dest"*) ;;
*) fail "pkg-config flags do not point into the DESTDIR: $cflags $libs" ;;
esac

check_consumer() { # NAME BINARY
	out=$(LD_LIBRARY_PATH="$libdir" "$2" "$plugin" "$json") || fail "$1 consumer failed"
	case "$out" in
	"lib=$libdir/"*) echo "ok   $1 consumer ran against $out" ;;
	*) fail "$1 consumer did not run against the installed library: $out" ;;
	esac
}

# shellcheck disable=SC2086 # flags are word lists
$cc -std=c11 -pedantic -Wall -Wextra -Werror $cflags "$consumer" -o "$dest/consumer-c" $libs ||
	fail "C11 consumer does not build from the installed headers and dlreg.pc"
check_consumer C11 "$dest/consumer-c"

if [ "$cxx" != none ]; then
	cp "$consumer" "$dest/consumer.cc"
	# shellcheck disable=SC2086
	$cxx -std=c++11 -pedantic -Wall -Wextra -Werror $cflags "$dest/consumer.cc" \
		-o "$dest/consumer-cxx" $libs ||
		fail "C++11 consumer does not build from the installed headers and dlreg.pc"
	check_consumer C++11 "$dest/consumer-cxx"
else
	echo "ok   (no C++ compiler: C++ consumer not built)"
fi
