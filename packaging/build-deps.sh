#!/bin/sh
# Make sure the build and test dependencies are present.
# As root on Debian/Ubuntu it installs what is missing with apt-get;
# otherwise it prints the exact command to run and fails.
set -eu

# Debian package -> a file that proves it is installed.
check() {
	missing=""
	[ -f /usr/include/curl/curl.h ] || [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] ||
		[ -n "$(find /usr/include -name curl.h -path '*curl/curl.h' 2>/dev/null | head -n1)" ] ||
		missing="$missing libcurl4-openssl-dev"
	[ -f /usr/include/jansson.h ] || missing="$missing libjansson-dev"
	[ -f /usr/include/libconfig.h ] || missing="$missing libconfig-dev"
	[ -f /usr/include/criterion/criterion.h ] || missing="$missing libcriterion-dev"
	command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
	command -v cc >/dev/null 2>&1 || missing="$missing gcc"
	command -v make >/dev/null 2>&1 || missing="$missing make"
	command -v python3 >/dev/null 2>&1 || missing="$missing python3"
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
