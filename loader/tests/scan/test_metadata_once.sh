#!/bin/sh
# metadata.h promises one metadata note per object: a second
# DLREG_PLUGIN_METADATA in the same object is a compile or link error, so a
# scan can never have two notes to choose between.  Links shared objects
# from two translation units that each declare metadata, as C, as C++ (where
# a const object would get internal linkage and both notes would be kept)
# and mixed, and expects each link to fail; one declaration must link.
# usage: test_metadata_once.sh CC CXX|none INCLUDE_DIR
set -eu
[ $# -eq 3 ] || { echo "usage: test_metadata_once.sh CC CXX|none INCLUDE_DIR" >&2; exit 2; }
cc=$1 cxx=$2 inc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <dlreg/metadata.h>\nDLREG_PLUGIN_METADATA("{\\"tu\\":1}");\n' >"$tmp/one.c"
printf '#include <dlreg/metadata.h>\nDLREG_PLUGIN_METADATA("{\\"tu\\":2}");\nint two(void);\nint two(void) { return 2; }\n' >"$tmp/two.c"
cp "$tmp/one.c" "$tmp/one.cc"
cp "$tmp/two.c" "$tmp/two.cc"
rc=0

# compile LANG SRC: an object next to SRC, or exit 1 if it does not compile.
compile() {
	if [ "$1" = c ]; then
		# shellcheck disable=SC2086 # compiler commands are word lists
		$cc -std=c11 -pedantic -Wall -Wextra -Werror -fPIC -I"$inc" -c "$2" -o "$2.o"
	else
		# shellcheck disable=SC2086
		$cxx -std=c++11 -pedantic -Wall -Wextra -Werror -fPIC -I"$inc" -c "$2" -o "$2.o"
	fi || { echo "FAIL $2 does not compile"; exit 1; }
}

# expect ok|fail NAME OBJECTS...: links OBJECTS into a shared object.
expect() {
	want=$1 name=$2
	shift 2
	# shellcheck disable=SC2086
	if $cc -shared -o "$tmp/$name.so" "$@" 2>"$tmp/err"; then got=ok; else got=fail; fi
	if [ "$got" = "$want" ] && [ "$want" = ok ]; then
		echo "ok   $name: links"
	elif [ "$got" = "$want" ]; then
		echo "ok   $name: does not link"
	else
		notes=$(readelf -nW "$tmp/$name.so" 2>/dev/null | grep -c '^ *dlreg ' || true)
		echo "FAIL $name: link should $want (the object has $notes dlreg notes)"
		cat "$tmp/err"
		rc=1
	fi
}

compile c "$tmp/one.c"
compile c "$tmp/two.c"
expect ok c-once "$tmp/one.c.o"
expect fail c-twice "$tmp/one.c.o" "$tmp/two.c.o"
if [ "$cxx" != none ]; then
	compile cxx "$tmp/one.cc"
	compile cxx "$tmp/two.cc"
	expect ok cxx-once "$tmp/one.cc.o"
	expect fail cxx-twice "$tmp/one.cc.o" "$tmp/two.cc.o"
	expect fail c-and-cxx "$tmp/one.c.o" "$tmp/two.cc.o"
else
	echo "ok   (no C++ compiler: C++ declarations not checked)"
fi
exit $rc
