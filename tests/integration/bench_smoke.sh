#!/usr/bin/env bash
# bench_smoke: `make bench` keeps working.  Builds the benchmark's programs
# (tests/bench/bench_{gai,connect,spawn}.c, libc only) into the lab and runs
# tests/bench/run.py --smoke: every row once with tiny counts, against the
# same peers (stubby, unbound, kresd).  Passes when every row produced a number; the numbers
# themselves are not judged (tests never time anything).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$LAB_DIR/bench
mkdir -p "$bin"
for p in bench_gai bench_connect bench_spawn; do
    cc -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o "$bin/$p" "$root/tests/bench/$p.c" ||
        { echo "FAIL cannot build tests/bench/$p.c"; exit 1; }
done
for p in stubby unbound kresd; do
    command -v "$p" >/dev/null || echo "note: $p is not installed; its peer column stays empty"
done
python3 "$root/tests/bench/run.py" --build "$HASTLS_BUILD" --bin "$bin" --smoke
