#!/bin/sh
# tests/check-pkgconfig.sh DIR - DIR/prefix holds a `make install`: build
# tests/pkgconfig/use-ostiary.c against it with only what `pkg-config
# --cflags --libs ostiary` gives (PKG_CONFIG_PATH at the installed .pc), run
# it, and check that the header's version, the library's and the .pc's
# Version agree.  `make pkgconfig-test` does the install first.
# CC and LDFLAGS come from make (LDFLAGS carries -fsanitize under SANITIZE=1).
set -u
cd "$(dirname "$0")/.." || exit 2
[ $# -eq 1 ] || { echo "usage: sh tests/check-pkgconfig.sh DIR" >&2; exit 2; }
dir=$1
fail() {
	echo "check-pkgconfig: $*" >&2
	exit 1
}

pc=$dir/prefix/lib/pkgconfig/ostiary.pc
[ -f "$pc" ] || fail "no $pc (make install did not put it there)"
PKG_CONFIG_PATH=$dir/prefix/lib/pkgconfig
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs ostiary) || fail "pkg-config refuses $pc"
modversion=$(pkg-config --modversion ostiary) || fail "no Version in $pc"
echo "check-pkgconfig: pkg-config --cflags --libs ostiary: $flags"

# Built in DIR from a copy, so that nothing of the source tree is in reach.
cp tests/pkgconfig/use-ostiary.c "$dir/use-ostiary.c" || exit 2
# shellcheck disable=SC2086 # flags are words
${CC:-cc} ${LDFLAGS:-} -o "$dir/use-ostiary" "$dir/use-ostiary.c" $flags ||
	fail "cannot build a program with those flags"
out=$("$dir/use-ostiary") || fail "the program failed"
set -- $out
[ $# -eq 2 ] || fail "unexpected output: $out"
[ "$1" = "$2" ] || fail "header says $1, library says $2"
[ "$1" = "$modversion" ] || fail "header says $1, ostiary.pc says $modversion"
echo "check-pkgconfig: built and ran a program against the installed ostiary $1"
