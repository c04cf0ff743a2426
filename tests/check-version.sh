#!/bin/sh
# tests/check-version.sh - the packaging repeats the version the public
# header defines (include/ostiary/consul.h, OSTIARY_VERSION): the RPM spec's
# Version and the newest entry of the Debian changelog have to carry it
# literally.  Fails, naming the file, when one of them disagrees.
set -u
cd "$(dirname "$0")/.." || exit 2

header=$(sed -n 's/^#define OSTIARY_VERSION "\(.*\)"$/\1/p' include/ostiary/consul.h)
[ -n "$header" ] || { echo "check-version: no OSTIARY_VERSION in consul.h" >&2; exit 1; }
# "ostiary (0.1.0-2) unstable; ...": the upstream part, before any "-N".
deb=$(sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' packaging/debian/changelog)
rpm=$(sed -n 's/^Version: *//p' packaging/rpm/ostiary.spec)
rc=0
for pair in "packaging/debian/changelog:$deb" "packaging/rpm/ostiary.spec:$rpm"; do
	if [ "${pair#*:}" != "$header" ]; then
		echo "check-version: ${pair%%:*} says '${pair#*:}', consul.h says '$header'" >&2
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "check-version: $header everywhere"
exit $rc
