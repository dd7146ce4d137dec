#!/usr/bin/env bash
# resolver_callgraph: the transport dispatches queued work instead of calling
# back into its callers, so the resolver's call graph (and the DNS wire
# module's) has no cycle: gcc writes each file's graph (-fcallgraph-info) and
# tests/tools/callgraph_cycles.py looks for strongly connected components.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$LAB_DIR/callgraph
mkdir -p "$out"
fails=0
for f in "$root"/shim/resolver/*.c "$root"/policy/dnswire.c; do
    if ! gcc -D_GNU_SOURCE -I"$root" -std=gnu11 -O0 -fcallgraph-info -c "$f" \
        -o "$out/$(basename "$f" .c).o" -dumpdir "$out/" 2>"$out/cc.log"; then
        echo "FAIL cannot compile $f"
        sed 's/^/    | /' "$out/cc.log"
        exit 1
    fi
done
if python3 "$root/tests/tools/callgraph_cycles.py" "$out"; then
    echo "ok   no call cycle in shim/resolver/ and policy/dnswire.c"
else
    echo "FAIL call cycles (listed above)"
    exit 1
fi
