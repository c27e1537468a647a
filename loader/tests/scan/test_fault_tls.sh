#!/bin/sh
# test_fault_tls.sh LIB - the fault handler reads its thread-local without
# __tls_get_addr.
#
# The handler runs for every SIGBUS and SIGSEGV of every thread.  In a
# library loaded with dlopen, a general-dynamic thread-local access calls
# __tls_get_addr, which may allocate and take the loader's TLS lock: not
# async-signal-safe (a crash inside malloc would hang).  Checked on the
# built library's code: on_fault must exist and call no __tls_get_addr.
set -u
case ${1-} in
-h | --help)
	echo "usage: test_fault_tls.sh LIB"
	echo "The fault handler in LIB reads its thread-local without __tls_get_addr."
	exit 0
	;;
esac
lib=${1:?usage: test_fault_tls.sh LIB}
case $lib in
*.so | *.so.*) ;;
*)
	echo "SKIP: $lib is not a shared library"
	exit 77
	;;
esac
if ! command -v objdump >/dev/null 2>&1; then
	echo "SKIP: no objdump"
	exit 77
fi
code=$(objdump -d --no-show-raw-insn "$lib" | awk '/^[0-9a-f]+ <on_fault>:$/ { on = 1 } on && /^$/ { exit } on')
if [ -z "$code" ]; then
	echo "FAIL: no on_fault in $lib"
	exit 1
fi
if printf '%s\n' "$code" | grep -q '__tls_get_addr'; then
	echo "FAIL: on_fault calls __tls_get_addr:"
	printf '%s\n' "$code" | grep '__tls_get_addr'
	exit 1
fi
echo "ok: on_fault reads its thread-local without __tls_get_addr ($(printf '%s\n' "$code" | wc -l) lines)"
