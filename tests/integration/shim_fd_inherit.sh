#!/usr/bin/env bash
# shim_fd_inherit: no descriptor of the shim's resolver (libunbound's socket
# pairs and streams, its event library's, the transport's) reaches a program
# that a shimmed process execs, nor a fork child before it runs any code.  The
# exec()ed child lists every descriptor it inherited beyond 0, 1, 2 and those
# the test opened itself, and writes garbage into each; the parent's next
# lookups still get the right, DNSSEC-secure answers (the secure name's HASTLS
# record still refuses a cleartext connect).
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out
tool=$LAB_DIR/shim_fd_inherit
if ! cc -o "$tool" "$TOOLS/shim_fd_inherit.c" 2>"$out"; then
    bad "cannot build shim_fd_inherit.c"
    sed 's/^/    | /' "$out"
    finish
fi

# Both ways a program resolves: by itself (agent = off: libunbound inside the
# program) and through the user's agent (only the agent client's socket).
noagent=$(conf noagent agent=off)
for mode in in-process agent; do
    cfg=$HASTLS_CONF
    [ "$mode" = agent ] || cfg=$noagent
    echo "== $mode: fork, then exec"
    HASTLS_CONF=$cfg LD_PRELOAD=$S timeout 60 "$tool" fork secure.lab.example 127.0.10.1 \
        dual.lab.example 127.0.10.8 >"$out" 2>"$LAB_DIR/err"
    st=$?
    cat "$LAB_DIR/err" >>"$out"
    expect_status "$mode: the parent exits 0" "$st" 0
    expect_no_line "$mode: the fork child holds none of the resolver's descriptors" "$out" '^fork child keeps fd'
    expect_line "$mode: the exec()ed child inherited nothing" "$out" '^inherited 0$'
    expect_no_line "$mode: no descriptor was inherited" "$out" '^inherited fd'
    expect_line "$mode: the child ran to its end" "$out" '^child status 0$'
    expect_count "$mode: the parent's lookups after the child are right" "$out" \
        '^lookup ok 127\.0\.10\.(1|8)$' 3
    expect_no_line "$mode: no lookup went wrong" "$out" '^lookup wrong'
    expect_line "$mode: the secure record still refuses cleartext" "$out" '^connect refused$'
    expect_no_line "$mode: libunbound saw no garbage" "$out" 'libunbound|bad data'

    echo "== $mode: exec without fork (a daemon running a helper)"
    HASTLS_CONF=$cfg LD_PRELOAD=$S timeout 60 "$tool" exec secure.lab.example 127.0.10.1 >"$out" 2>&1
    st=$?
    expect_status "$mode: the helper exits 0" "$st" 0
    expect_line "$mode: the name resolved first" "$out" '^lookup ok 127\.0\.10\.1$'
    expect_line "$mode: the helper inherited nothing" "$out" '^inherited 0$'

    echo "== $mode: python3 execs a program (the descriptors it had before are kept)"
    HASTLS_CONF=$cfg LD_PRELOAD=$S python3 -c "
import socket, os, sys
before = os.listdir('/proc/self/fd')
socket.getaddrinfo('secure.lab.example', 80)
os.execv(sys.argv[1], [sys.argv[1], 'list'] + before)
" "$tool" >"$out" 2>&1
    expect_status "$mode: python3 and the program exit 0" $? 0
    expect_line "$mode: the program inherited nothing of the resolver" "$out" '^inherited 0$'
done

finish
