#!/usr/bin/env bash
# shim_fork_stress: fork() while other threads hold the shim's locks.
#  - every lock of shim/core and shim/hooks is in the one fork list
#    (shim/core/locks.h), which the pthread_atfork handlers walk;
#  - tests/tools/shim_fork_stress.c: threads loop over getaddrinfo of lab
#    names, getaddrinfo with services and AI_ADDRCONFIG (shim/core/ai.c's two
#    locks) and connect(), while the main thread forks 200 times; every child
#    resolves, connects, sees a forbidden connect refused and exits.  A child
#    that hangs (a lock fork() left held) fails the test;
#  - when pthread_atfork fails, the shim refuses to run (status 1, one line)
#    instead of running without its fork handlers.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
repo=$(cd "$TOOLS/../.." && pwd)
out=$LAB_DIR/out

echo "== the fork list"
list=$repo/shim/core/locks.h
sources=("$repo"/shim/core/*.c "$repo"/shim/hooks/*.c)
lock_type='pthread_(mutex|rwlock|spinlock)_t'
# A static lock cannot be reached from the list.
if grep -nE "static +(volatile +)?$lock_type" "${sources[@]}" >"$out"; then
    bad "no static locks (each must be in $list)"
    sed 's/^/    | /' "$out"
else
    ok "no static locks"
fi
# A process-wide lock is defined at file scope and named in the list.
missing=0
while IFS=: read -r file _ line; do
    name=$(printf '%s\n' "$line" | sed -nE "s/^$lock_type +([A-Za-z_][A-Za-z0-9_]*).*/\2/p")
    if ! grep -qE "^ +(MUTEX|RWLOCK)\($name\)" "$list"; then
        bad "${file#"$repo"/}: lock $name is not in $list"
        missing=1
    fi
done < <(grep -HnE "^$lock_type +[A-Za-z_]" "${sources[@]}")
[ "$missing" = 1 ] || ok "every file-scope lock is in the list"
# A lock inside an object (a struct member) is reached through a TABLE entry
# whose comment names the file.
missing=0
while IFS= read -r f; do
    base=${f##*/}
    grep -qE "/\* $base: " "$list" || {
        bad "${f#"$repo"/} has locks inside an object but no TABLE entry in $list"
        missing=1
    }
done < <(grep -lE "^[[:space:]]+$lock_type" "${sources[@]}")
[ "$missing" = 1 ] || ok "every file with locks inside objects has a TABLE entry"

echo "== fork under load"
# Not under the sanitizers (HASTLS_PRELOAD): gcc 12's ASan runtime does not
# lock its allocator around fork() (a child forked while another thread is in
# malloc() hangs in the runtime, shim or not), and loaded behind the program
# instead it never sees the threads' creation: a forked child's new threads
# get stacks that glibc reclaimed from the parent's threads with their stale
# shadow, and every local they write is reported.  The plain run covers this
# part; the lock list above and the fail-closed start below run in both.
stress_preload=$S
if [ -n "${HASTLS_PRELOAD:-}" ]; then
    echo "note: fork under load is not run under the sanitizers (see the comment)"
else
    cc -O1 -pthread -o "$LAB_DIR/shim_fork_stress" "$TOOLS/shim_fork_stress.c" 2>"$out" || {
        bad "cannot build shim_fork_stress.c"
        cat "$out"
        finish
    }
    # A child waits at most 30 s before it counts as hung, and the first hung
    # child ends the run: the bound below is only for a parent stuck in fork().
    LD_PRELOAD=$stress_preload timeout -k 5 240 "$LAB_DIR/shim_fork_stress" 200 5 >"$out" 2>"$LAB_DIR/err"
    st=$?
    # The children's refused connects log a line each; the rest is diagnostics.
    grep -v '^hastls: blocked connect to ' "$LAB_DIR/err" >"$LAB_DIR/diag"
    [ "$st" -ne 124 ] && [ "$st" -ne 137 ] || echo "parent did not finish (status $st)" >>"$LAB_DIR/diag"
    expect_status "fork stress exits 0" "$st" 0
    expect_line "200 forks" "$out" '^forks 200$'
    expect_line "every child finished and passed" "$out" '^children_ok 200$'
    expect_line "no child hung" "$out" '^children_hung 0$'
    expect_line "workers saw only expected results" "$out" '^worker_errors 0$'
    expect_count "no diagnostics" "$LAB_DIR/diag" '.' 0
    # 127.0.10.1 is secure.lab.example's address, and alias.lab.example's
    # through its CNAME: the line names whichever the workers looked up last.
    expect_line "children enforce the policy" "$LAB_DIR/err" \
        '^hastls: blocked connect to (secure|alias)\.lab\.example\[127\.0\.10\.1\]:80: '
fi

echo "== pthread_atfork fails"
cc -shared -fPIC -o "$LAB_DIR/shim_atfork_fail.so" "$TOOLS/shim_atfork_fail.c" 2>"$out" || {
    bad "cannot build shim_atfork_fail.c"
    cat "$out"
    finish
}
LD_PRELOAD="$S $LAB_DIR/shim_atfork_fail.so" sh -c 'echo ran' >"$out" 2>"$LAB_DIR/err"
st=$?
expect_status "the program does not run (status 1)" "$st" 1
expect_count "nothing of it ran" "$out" 'ran' 0
expect_line "the reason is logged" "$LAB_DIR/err" \
    '^hastls: cannot install the fork handlers \(Cannot allocate memory\): refusing to run unprotected$'
finish
