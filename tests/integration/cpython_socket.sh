#!/usr/bin/env bash
# cpython_socket: CPython's own socket tests (Debian's libpython3.11-testsuite)
# as a peer's check of the shim: the same selection runs once on plain glibc
# and once under the shim, in the same lab, and every test case must end the
# same way (ok, skipped, expected failure) in both runs.
#
# The selection: the test_socket classes that resolve names, connect, listen
# and send (GeneralModuleTests holds getaddrinfo, gethostbyname*,
# gethostbyaddr, getnameinfo, getfqdn and the idna/numeric cases), and
# test_socketserver.  It finishes in about a minute on an idle machine.  Left
# out: the rest of test_socket (Unix, CAN, RDS, TIPC, VSOCK sockets and the
# recvmsg ancillary-data classes make no lookup; ThreadedVSOCKSocketStreamTest
# blocks in a namespace without vsock).  Cases that need the public network
# are skipped by CPython itself in both runs: the "network" resource is not
# enabled.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
PY=/usr/bin/python3.11
if ! "$PY" -c 'import test.test_socket, test.test_socketserver' 2>/dev/null; then
    echo "skip: $PY has no test suite (Debian package libpython3.11-testsuite)"
    exit 77
fi
classes=(GeneralModuleTests BasicTCPTest BasicTCPTest2 BasicUDPTest BasicSocketPairTest
    NetworkConnectionNoServer NetworkConnectionAttributesTest NetworkConnectionBehaviourTest
    CreateServerTest CreateServerFunctionalTest TCPTimeoutTest UDPTimeoutTest TestExceptions
    NonBlockingTCPTests SendmsgTCPTest SendmsgUDPTest SendmsgUDP6Test RecvmsgTCPTest
    FileObjectClassTestCase ContextManagersTest InheritanceTest TCPCloserTest
    SendfileUsingSendTest)
match=()
for c in "${classes[@]}"; do
    match+=(-m "test.test_socket.$c.*")
done
match+=(-m 'test.test_socketserver.*')

printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback pyhost\n' \
    >"$LAB_DIR/hosts.cpython"
mount --bind "$LAB_DIR/hosts.cpython" /etc/hosts || {
    bad "cannot bind-mount a hosts file"
    finish
}

# run LABEL [ENV...]: the selection, one line per case in $LAB_DIR/LABEL.cases
# ("ID RESULT"), the whole output in $LAB_DIR/LABEL.log.
run() {
    local label=$1
    shift
    (cd "$LAB_DIR" && unshare -u sh -c 'hostname pyhost && exec "$@"' sh \
        env "$@" timeout 400 "$PY" -m test -v "${match[@]}" test_socket test_socketserver) \
        >"$LAB_DIR/$label.log" 2>&1
    echo $? >"$LAB_DIR/$label.status"
    # "name (test.module.Class.name) ... ok", possibly continued on later
    # lines ("... skipped 'why'", "... expected failure").
    sed -nE 's/^([A-Za-z_0-9]+) \((test\.[A-Za-z_0-9.]+)\)( .*)?\.\.\. ?(ok|FAIL|ERROR|skipped|expected failure|unexpected success).*/\2 \4/p' \
        "$LAB_DIR/$label.log" | sort >"$LAB_DIR/$label.cases"
}

run glibc
run shim LD_PRELOAD="$S"
g=$LAB_DIR/glibc.cases s=$LAB_DIR/shim.cases
n=$(wc -l <"$g")
if [ "$n" -lt 150 ]; then
    bad "glibc run: only $n cases recognised (status $(cat "$LAB_DIR/glibc.status"))"
    tail -n 30 "$LAB_DIR/glibc.log" | sed 's/^/    | /'
fi
grep -q ' \(FAIL\|ERROR\)$' "$g" &&
    echo "note: failing without the shim too: $(grep -c ' \(FAIL\|ERROR\)$' "$g") cases (compared all the same)"
if diff "$g" "$s" >"$LAB_DIR/cases.diff"; then
    ok "$n cases end the same way with and without the shim"
else
    bad "cases that end differently (< glibc, > shim)"
    sed 's/^/    | /' "$LAB_DIR/cases.diff"
    grep -E -A25 '^(FAIL|ERROR): ' "$LAB_DIR/shim.log" | head -n 120 | sed 's/^/    shim | /'
fi
ok "skipped in both runs: $(grep -c ' skipped$' "$s") cases (CPython's own reasons)"
[ "$(cat "$LAB_DIR/shim.status")" = "$(cat "$LAB_DIR/glibc.status")" ] ||
    bad "exit status $(cat "$LAB_DIR/shim.status") under the shim, $(cat "$LAB_DIR/glibc.status") without"
finish
