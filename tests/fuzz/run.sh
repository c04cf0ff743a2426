#!/bin/sh
# tests/fuzz/run.sh - build the libFuzzer targets and fuzz each for a while.
#
#   sh tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS (default 20) bounds each target (-max_total_time); TARGETs default
# to all of them.  Everything goes under build-fuzz/:
#   fuzz_<target>          the binaries (ASan + UBSan + libFuzzer)
#   lib/                   the library's objects they link
#   corpus/<target>/       the working corpus: the committed seeds are
#                          copied in before each run, and what libFuzzer
#                          finds stays there for the next run; the
#                          committed tests/fuzz/corpus/ is never written
#   artifacts/<target>/    crashing, leaking or hanging inputs
#   logs/<target>.log      libFuzzer's output (<target>.build.log: clang's)
# The config targets rewrite their input file for every run: they do it in
# /dev/shm when there is one (on ext4, truncating a file forces it to disk,
# which halves their speed), else in build-fuzz/tmp/.
# One summary line per target; the exit status is non-zero when a build
# fails or any target crashes, leaks, breaks a property or hangs.
#
# Knobs: CC (default clang), FUZZ_FLAGS (more libFuzzer flags), FUZZ_JOBS
# (how many targets fuzz at once, default 1; `make fuzz` uses every core).
#
# shellcheck disable=SC2086 # word lists (sources, flags) are split on purpose
set -u

TARGETS="duration address conf_file consul_json response kv"
OUT=build-fuzz
CC=${CC:-clang}

usage() {
	echo "usage: sh tests/fuzz/run.sh [SECONDS] [TARGET...]  (targets: $TARGETS)" >&2
	exit 2
}

seconds=${1:-20}
[ $# -gt 0 ] && shift
# libFuzzer reads -max_total_time=0 as "no limit": refuse it.
case $seconds in '' | *[!0-9]* | 0) usage ;; esac
[ $# -gt 0 ] && TARGETS=$*
jobs=${FUZZ_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) echo "FUZZ_JOBS must be a positive number" >&2; usage ;; esac

cd "$(dirname "$0")/../.." || exit 2
# Every target includes consul.h, which includes curl's and jansson's headers.
DEPCFLAGS=$(pkg-config --cflags libcurl jansson libconfig) || exit 2

# Sets srcs, pkgs and extra: the least each target links (the library as
# objects of build-fuzz/lib/, see build_lib).
target_deps() {
	extra=
	case $1 in
	duration)
		srcs="$OUT/lib/duration.o $OUT/lib/error.o"
		pkgs= ;;
	address | response | kv)
		srcs="$OUT/lib/*.o"
		pkgs="libcurl jansson" ;;
	conf_file | consul_json)
		# conf.c, conf_validate.c, conf_file.c, conf_consul.c and conf_kv.c need
		# only sig.c (signal names), file.c (opening files) and metrics_addr.c
		# (the --metrics-addr syntax) of the rest of src/.
		srcs="tests/fuzz/fuzz_conf.c tests/fuzz/fuzz_files.c $OUT/lib/*.o src/conf.c"
		srcs="$srcs src/conf_validate.c src/conf_file.c src/conf_consul.c src/conf_kv.c"
		srcs="$srcs src/metrics_addr.c src/file.c src/sig.c"
		[ "$1" = conf_file ] && srcs="$srcs tests/fuzz/fuzz_libconfig.c"
		pkgs="libcurl jansson libconfig"
		extra=-ldl ;; # dlsym (in libc itself since glibc 2.34)
	*)
		return 1 ;;
	esac
}

# -fno-sanitize-recover: a UBSan report must stop the run, or libFuzzer
# would not see it and would save no reproducer.
FLAGS="-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined -std=c11"
FLAGS="$FLAGS -D_DEFAULT_SOURCE -D_GNU_SOURCE $DEPCFLAGS -Wall -Wextra -Wno-unused-parameter"

# The library's objects, compiled as the Makefile does: with its own
# directory and never the tool's (-Isrc/lib, not -Isrc).  fuzzer-no-link
# instruments them for coverage; the targets' link adds libFuzzer.
build_lib() {
	mkdir -p "$OUT/lib" || return 1
	for c in src/lib/*.c; do
		o=$OUT/lib/$(basename "$c" .c).o
		$CC $FLAGS -fsanitize=fuzzer-no-link,address,undefined -Iinclude -Isrc/lib \
			-c "$c" -o "$o" || return 1
	done
}

# A target and what it needs of the tool see the public header and src/.
build() {
	target_deps "$1" || { echo "unknown target: $1" >&2; usage; }
	libs=
	[ -n "$pkgs" ] && libs=$(pkg-config --libs $pkgs)
	# $srcs holds globs ($OUT/lib/*.o): expanded here.
	$CC $FLAGS -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -Itests/fuzz \
		-o "$OUT/fuzz_$1" "tests/fuzz/fuzz_$1.c" tests/fuzz/fuzz_util.c $srcs $libs $extra \
		>"$OUT/logs/$1.build.log" 2>&1
}

# "cov: 123" from libFuzzer's last status line ("|": field names hold "/").
status_field() {
	printf '%s\n' "$2" | sed -n "s|.* $1: *\([0-9][0-9]*[A-Za-z]*\).*|\1|p"
}

summarize() {
	t=$1 rc=$2 log=$OUT/logs/$1.log
	last=$(grep -a '^#[0-9]' "$log" | tail -n 1)
	runs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	line=$(printf '%-12s %-4s runs %-9s exec/s %-7s cov %-5s ft %-6s corpus %s' "$t" \
		"$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" "${runs:-?}" \
		"$(status_field exec/s "$last")" "$(status_field cov "$last")" \
		"$(status_field ft "$last")" "$(status_field corp "$last")")
	echo "$line"
	[ "$rc" -eq 0 ] && return
	# What went wrong, and the input that shows it.
	grep -aE 'property failed|^SUMMARY:|ERROR: libFuzzer' "$log" | head -n 1 | sed 's/^/    /'
	sed -n 's/.*Test unit written to \(.*\)/    reproduce: \1/p' "$log"
	echo "    log: $log"
	# The report itself, for CI runs that keep no files: from the first
	# sanitizer, libFuzzer or property line on, at most 80 lines (it ends
	# with the input in Base64 when the input is small).
	awk '/^==[0-9]+== ?ERROR|runtime error:|property failed|^ERROR: libFuzzer|^Base64:/ { p = 1 }
		p && n++ < 80' "$log" | sed 's/^/    | /'
}

run() {
	t=$1 work=$OUT/corpus/$1 art=$OUT/artifacts/$1
	dict=
	mkdir -p "$work" "$art"
	cp -R "tests/fuzz/corpus/$t/." "$work/" || return 1
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	TMPDIR=$FENCE "$OUT/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
		$dict ${FUZZ_FLAGS:-} "$work" </dev/null >"$OUT/logs/$t.log" 2>&1
	rc=$?
	summarize "$t" "$rc"
	return "$rc"
}

mkdir -p "$OUT/logs" || exit 2
# The fenced directories live under here; a crashed target leaves its own.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	FENCE=/dev/shm/ostiary-fuzz.$$
else
	FENCE=$PWD/$OUT/tmp/ostiary-fuzz.$$
fi
mkdir -p "$FENCE" || exit 2
running=
trap 'rm -rf "$FENCE"' EXIT
# Background jobs of a script ignore SIGINT: stop the running targets here.
trap '[ -n "$running" ] && kill $running 2>/dev/null; exit 130' INT TERM
failed=0
built=
if ! build_lib >"$OUT/logs/lib.build.log" 2>&1; then
	echo "the library: build failed:" >&2
	cat "$OUT/logs/lib.build.log" >&2
	exit 1
fi
for t in $TARGETS; do
	if ! build "$t"; then
		echo "$t: build failed:" >&2
		cat "$OUT/logs/$t.build.log" >&2
		failed=$((failed + 1))
		continue
	fi
	built="$built $t"
done
# FUZZ_JOBS targets at a time (each is one process on one core); the
# summaries come in target order.
set -- $built
while [ $# -gt 0 ]; do
	batch='' running=''
	while [ $# -gt 0 ] && [ "$(echo $batch | wc -w)" -lt "$jobs" ]; do
		run "$1" >"$OUT/logs/$1.summary" 2>&1 &
		batch="$batch $!:$1" running="$running $!"
		shift
	done
	for job in $batch; do
		wait "${job%%:*}" || failed=$((failed + 1))
		cat "$OUT/logs/${job#*:}.summary"
	done
done
running=
echo "fuzz: $(echo $TARGETS | wc -w) targets, ${seconds}s each, $jobs at a time, $failed failed"
[ "$failed" -eq 0 ]
