#!/bin/sh
# tests/check-layers.sh - the library and the tool stay apart.
#
#   src/lib/   libostiary: includes its own headers ("internal.h") and the
#              public <ostiary/...> ones, never a header of the tool (src/);
#   src/       the tool: includes its own headers and <ostiary/...>, never a
#              header of src/lib/ (it uses the public API only).
# The tests of the tool (tests/unit/ but test_lib_*) are held to the tool's
# rule.  The Makefile's flags are checked too: `make -n` must compile the
# library without -Isrc and the tool without -Isrc/lib, so that a stray
# include fails to compile as well.
#
#   sh tests/check-layers.sh        one line per violation; non-zero if any
set -u
cd "$(dirname "$0")/.." || exit 2

bad=0
violation() {
	echo "check-layers: $1" >&2
	bad=$((bad + 1))
}

# "FILE:LINE:q:NAME" (q is " or <) for every #include in the files given.
includes() {
	awk '/^[ \t]*#[ \t]*include[ \t]*["<]/ {
		s = $0
		sub(/^[ \t]*#[ \t]*include[ \t]*/, "", s)
		q = substr(s, 1, 1)
		s = substr(s, 2)
		sub(/[">].*/, "", s)
		print FILENAME ":" FNR ":" q s
	}' "$@"
}

# The library: quoted names are files of src/lib/ or public headers; no
# name, quoted or not, may be found in src/ (a tool header).
check_lib() {
	includes src/lib/*.c src/lib/*.h | while IFS=: read -r file line name; do
		q=$(printf '%.1s' "$name") name=${name#?}
		case $name in ostiary/*) continue ;; esac
		if [ -f "src/$name" ] || case $name in ../* | */../*) true ;; *) false ;; esac; then
			echo "$file:$line: the library includes the tool's $name"
		elif [ "$q" = '"' ] && [ ! -f "src/lib/$name" ]; then
			echo "$file:$line: the library includes \"$name\", not a file of src/lib/"
		fi
	done
}

# The tool: nothing of src/lib/, whatever the spelling.
check_tool() {
	includes "$@" | while IFS=: read -r file line name; do
		name=${name#?}
		case $name in ostiary/*) continue ;; esac
		case $name in
		lib/* | */lib/* | ../lib/*)
			echo "$file:$line: the tool includes the library's $name" ;;
		*)
			[ -f "src/lib/$name" ] &&
				echo "$file:$line: the tool includes the library's $name (use <ostiary/consul.h>)" ;;
		esac
	done
}

tool_tests=$(ls tests/unit/*.c tests/unit/*.h 2>/dev/null | grep -v '/test_lib_')
out=$( (check_lib; check_tool src/*.c src/*.h $tool_tests) 2>&1)
if [ -n "$out" ]; then
	printf '%s\n' "$out" | while read -r l; do echo "check-layers: $l" >&2; done
	bad=$((bad + $(printf '%s\n' "$out" | wc -l)))
fi

# The flags make would use (-B: as if everything were out of date).
flags() {
	${MAKE:-make} --no-print-directory -n -B BUILD=build "$1" 2>/dev/null | grep -- ' -c '
}
lib_cmd=$(flags build/src/lib/version.o)
tool_cmd=$(flags build/src/exitcode.o)
[ -n "$lib_cmd" ] && [ -n "$tool_cmd" ] || violation "make -n shows no compile command"
printf '%s\n' "$lib_cmd" | grep -Eq -- '(^| )-Isrc/?( |$)' &&
	violation "the library is compiled with -Isrc: $lib_cmd"
printf '%s\n' "$lib_cmd" | grep -Eq -- '(^| )-Isrc/lib/?( |$)' ||
	violation "the library is compiled without -Isrc/lib: $lib_cmd"
printf '%s\n' "$tool_cmd" | grep -Eq -- '(^| )-Isrc/lib/?( |$)' &&
	violation "the tool is compiled with -Isrc/lib: $tool_cmd"

if [ "$bad" -gt 0 ]; then
	echo "check-layers: $bad violation(s)" >&2
	exit 1
fi
echo "check-layers: src/lib/ and src/ include only what their layer may"
