#!/usr/bin/env bash
# bench_smoke: `make bench` keeps working.  Builds the benchmark's programs
# (tests/bench/bench_*.c, libc only; bench_addrmap compiles the address map
# into itself) into the lab and runs
# tests/bench/run.py --smoke: every row once with tiny counts, against the
# same peers (stubby, unbound, kresd).  Passes when every row produced a number; the numbers
# themselves are not judged (tests never time anything).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$LAB_DIR/bench
mkdir -p "$bin"
for src in "$root"/tests/bench/bench_*.c; do
    p=$(basename "$src" .c)
    cc -O2 -D_GNU_SOURCE -I"$root" -Wall -Wextra -Werror -pthread -o "$bin/$p" "$src" ||
        { echo "FAIL cannot build tests/bench/$p.c"; exit 1; }
done
for p in stubby unbound kresd; do
    command -v "$p" >/dev/null || echo "note: $p is not installed; its peer column stays empty"
done
python3 "$root/tests/bench/run.py" --build "$HASTLS_BUILD" --bin "$bin" --smoke
