#!/bin/sh
# tests/check-man.sh - the library's man page lists every public function.
#
#   sh tests/check-man.sh      one line per function of include/ostiary/consul.h
#                              missing from packaging/man/ostiary-consul.3,
#                              per long option of src/conf_options.c missing
#                              from ostiary.1, per setting of src/conf_file.c
#                              missing from ostiary.conf.5
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
# Options, as the man source spells them: \-\-name.
for o in $(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument,.*/\1/p' src/conf_options.c); do
	man=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
	if ! grep -q -- "\\\\-\\\\-$man" packaging/man/ostiary.1; then
		echo "check-man: --$o is not in packaging/man/ostiary.1" >&2
		bad=$((bad + 1))
	fi
done
# Settings of the configuration file, in any of its key tables.
for k in $(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", CONF_FILE_.*/\1/p' src/conf_file.c | sort -u); do
	if ! grep -qw -- "$k" packaging/man/ostiary.conf.5; then
		echo "check-man: setting $k is not in packaging/man/ostiary.conf.5" >&2
		bad=$((bad + 1))
	fi
done
[ "$bad" -eq 0 ] && echo "check-man: every option is in ostiary(1), every setting in ostiary.conf(5)"
[ "$bad" -eq 0 ]
