#!/bin/sh
# tests/check-man.sh - the library's man page lists every public function.
#
#   sh tests/check-man.sh      one line per function of include/ostiary/consul.h
#                              missing from packaging/man/ostiary-consul.3
set -u
cd "$(dirname "$0")/.." || exit 2
bad=0
for f in $(grep -oE '\bconsul_[a-z0-9_]+\(' include/ostiary/consul.h | tr -d '(' | sort -u); do
	if ! grep -q "$f(" packaging/man/ostiary-consul.3; then
		echo "check-man: $f is not in packaging/man/ostiary-consul.3" >&2
		bad=$((bad + 1))
	fi
done
[ "$bad" -eq 0 ] && echo "check-man: every public function is in ostiary-consul(3)"
[ "$bad" -eq 0 ]
