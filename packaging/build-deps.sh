#!/bin/sh
# Make sure the build and test dependencies are present.
#
#   sh packaging/build-deps.sh              what `make check` needs (make deps)
#   sh packaging/build-deps.sh --gates      that, plus what every CI gate needs
#                                           (make deps-gates): --asan --fuzz --valgrind
#   sh packaging/build-deps.sh --asan       plus clang, its sanitizer runtimes and
#                                           llvm-symbolizer (make check-asan)
#   sh packaging/build-deps.sh --fuzz       plus clang with libFuzzer (make fuzz)
#   sh packaging/build-deps.sh --valgrind   plus valgrind (make valgrind)
#
# As root on Debian/Ubuntu it installs what is missing with apt-get;
# otherwise it prints the exact command to run and fails.
set -eu

asan=0 fuzz=0 memcheck=0
for arg in "$@"; do
	case $arg in
	--gates) asan=1 fuzz=1 memcheck=1 ;;
	--asan) asan=1 ;;
	--fuzz) fuzz=1 ;;
	--valgrind) memcheck=1 ;;
	*)
		echo "usage: sh packaging/build-deps.sh [--gates | --asan | --fuzz | --valgrind]..." >&2
		exit 2 ;;
	esac
done

# Does clang compile and link a libFuzzer target with ASan and UBSan?  That
# takes the compiler-rt archives (libclang_rt.{fuzzer,asan,ubsan_standalone}
# -<arch>.a: libclang-rt-14-dev on bookworm, through libclang-rt-dev, which
# clang only recommends), so it covers -fsanitize=address,undefined as well.
clang_links() {
	dir=$(mktemp -d) || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return n > 0 && d[0] == 1; }' \
		>"$dir/t.c"
	ok=0
	clang -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" >/dev/null 2>&1 || ok=1
	rm -rf "$dir"
	return "$ok"
}

# Debian package -> a file or command that proves it is installed.
check() {
	missing=""
	[ -f /usr/include/curl/curl.h ] || [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] ||
		[ -n "$(find /usr/include -name curl.h -path '*curl/curl.h' 2>/dev/null | head -n1)" ] ||
		missing="$missing libcurl4-openssl-dev"
	[ -f /usr/include/jansson.h ] || missing="$missing libjansson-dev"
	[ -f /usr/include/libconfig.h ] || missing="$missing libconfig-dev"
	# --metrics-addr serves GET /metrics with it (src/metrics.c).
	[ -f /usr/include/microhttpd.h ] || missing="$missing libmicrohttpd-dev"
	[ -f /usr/include/criterion/criterion.h ] || missing="$missing libcriterion-dev"
	command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
	command -v cc >/dev/null 2>&1 || missing="$missing gcc"
	command -v make >/dev/null 2>&1 || missing="$missing make"
	command -v python3 >/dev/null 2>&1 || missing="$missing python3"
	# The TLS tests make their certificates and servers with it.
	command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
	# The simulator's self-test runs a real third-party Consul client against it:
	# Debian's python-consul fork, which only Debian's own interpreter sees.
	/usr/bin/python3 -c 'import consul' >/dev/null 2>&1 || missing="$missing python3-consul2"
	# The metrics tests parse /metrics with a real Prometheus parser.
	/usr/bin/python3 -c 'import prometheus_client.parser' >/dev/null 2>&1 ||
		missing="$missing python3-prometheus-client"
	if [ "$asan" = 1 ] || [ "$fuzz" = 1 ]; then
		if ! command -v clang >/dev/null 2>&1; then
			missing="$missing clang libclang-rt-dev"
		elif ! clang_links; then
			missing="$missing libclang-rt-dev"
		fi
	fi
	# Without it sanitizer reports are bare addresses.
	if [ "$asan" = 1 ] || [ "$fuzz" = 1 ]; then
		command -v llvm-symbolizer >/dev/null 2>&1 || missing="$missing llvm"
	fi
	if [ "$memcheck" = 1 ]; then
		command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
	fi
	echo "$missing"
}

missing=$(check)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "ostiary: installing build dependencies:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	missing=$(check)
	[ -z "$missing" ] && exit 0
	echo "ostiary: still missing after apt-get:$missing" >&2
	exit 1
fi

echo "ostiary: missing build dependencies:$missing" >&2
echo "ostiary: install them with:  sudo apt-get install$missing" >&2
exit 1
