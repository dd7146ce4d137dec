#!/usr/bin/env bash
# demo: `make demo` runs to the end and every step turns out as it explains
# (scripts/demo exits non-zero when a connection is not allowed or refused as
# expected, or when a lookup under the shim sent a port-53 packet).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(bash "$top/scripts/demo" 2>&1)
st=$?
printf '%s\n' "$out"
[ $st -eq 0 ] || { echo "demo failed with status $st"; exit 1; }
printf '%s\n' "$out" | grep -q '^== Summary' || { echo "demo did not reach its summary"; exit 1; }
printf '%s\n' "$out" | grep -q 'hastls: blocked connect to secure.lab.example\[127.0.10.1\]:80' ||
    { echo "demo shows no blocked-connect log line"; exit 1; }
exit 0
