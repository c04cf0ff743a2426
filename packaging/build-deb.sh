#!/bin/sh
# Build the Debian packages of ostiary from this source tree.
#
#   packaging/build-deb.sh [-g] [-o OUTDIR] [-- DPKG-BUILDPACKAGE-ARGS...]
#
# debian/ has to be at the top of the source tree, so the tree is copied to a
# temporary directory (without build/, build-asan/, .git/ and __pycache__/),
# packaging/debian is copied to debian/ there, and dpkg-buildpackage runs in
# the copy; this tree is left as it was.  The .deb files (and .changes,
# .buildinfo) land in OUTDIR, build/deb by default.
#
#   -g   copy the last commit (git archive HEAD) instead of the work tree
#
# The arguments for dpkg-buildpackage, after "--", default to "-us -uc -b"
# (binary packages, unsigned).  DEB_BUILD_OPTIONS=nocheck skips the unit tests.
# The build dependencies are listed in packaging/debian/control; install them
# with "apt-get build-dep ./" from a tree that has debian/, or by hand.
set -eu

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
outdir=$root/build/deb
from_git=no
while getopts go:h opt; do
	case $opt in
	g) from_git=yes ;;
	o) outdir=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- -us -uc -b

for tool in dpkg-buildpackage dpkg-parsechangelog tar; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "build-deb.sh: $tool not found (apt-get install dpkg-dev debhelper)" >&2
		exit 1
	}
done

version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
work=$(mktemp -d "${TMPDIR:-/tmp}/ostiary-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
src=$work/ostiary-$version

mkdir "$src"
if [ "$from_git" = yes ]; then
	git -C "$root" archive --format=tar HEAD | tar -C "$src" -xf -
else
	# GNU tar (dpkg-dev depends on it): the "./" names match at the
	# top of the tree only; Python caches are left out everywhere.
	tar -C "$root" --exclude=./build --exclude=./build-asan --exclude=./.git \
		--exclude=./debian --exclude=__pycache__ -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -R "$src/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage "$@")

mkdir -p "$outdir"
found=no
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.changes "$work"/*.buildinfo \
	"$work"/*.dsc "$work"/*.tar.*; do
	[ -e "$f" ] || continue
	cp "$f" "$outdir/"
	echo "build-deb.sh: $outdir/$(basename "$f")"
	found=yes
done
[ "$found" = yes ] || { echo "build-deb.sh: dpkg-buildpackage made no files" >&2; exit 1; }
