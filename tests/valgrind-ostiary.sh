#!/bin/sh
# Run ostiary under valgrind's memcheck, for `make valgrind`: the integration
# tests run this script in place of ostiary (OSTIARY_BIN), with the real
# binary in OSTIARY_REAL_BIN.
#
# Each run writes its memcheck log to $OSTIARY_VALGRIND_DIR/ostiary-valgrind.<pid>.log
# (default: ${TMPDIR:-/tmp}); `make valgrind` reads them all after the suite
# and fails when any reports an error or a definite or indirect leak, whatever
# the tests saw.  Such a report also turns ostiary's exit status into 99.
# exec keeps the pid, so the tests' signals reach valgrind and the program.
dir=${OSTIARY_VALGRIND_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$dir" || exit 125
exec valgrind --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--log-file="$dir/ostiary-valgrind.%p.log" \
	"${OSTIARY_REAL_BIN:-build/ostiary}" "$@"
