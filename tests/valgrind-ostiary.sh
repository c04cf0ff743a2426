#!/bin/sh
# Run ostiary under valgrind's memcheck, for `make valgrind`: any error or
# leak changes the exit status to 99, which the integration tests notice.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--log-file="${TMPDIR:-/tmp}/ostiary-valgrind.%p.log" \
	"${OSTIARY_REAL_BIN:-build/ostiary}" "$@"
