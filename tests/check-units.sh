#!/bin/sh
# The shipped systemd units keep their hardening: `systemd-analyze security`
# must rate each below 5 (exposure), offline, from the files themselves.
# Skipped where systemd-analyze is missing (it is in Debian's systemd).
set -eu
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "check-units: no systemd-analyze; skipped"
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp packaging/systemd/ostiary.service "$dir/ostiary.service"
cp packaging/systemd/ostiary@.service "$dir/ostiary@web.service"
for unit in "$dir/ostiary.service" "$dir/ostiary@web.service"; do
	if ! systemd-analyze security --offline=true --threshold=50 "$unit" >"$dir/out" 2>&1; then
		cat "$dir/out" >&2
		echo "check-units: $(basename "$unit"): exposure 5.0 or more" >&2
		exit 1
	fi
	echo "check-units: $(basename "$unit"): $(tail -n 1 "$dir/out")"
done
