#!/usr/bin/env bash
# dane_prefetch: the TLSA RRset of a service comes with the address lookup.
#  - getaddrinfo with a port (python3, under dane = enforce) asks
#    _PORT._tcp.NAME in the same batch as A, AAAA and HASTLS: through the
#    agent, one LOOKUP of four queries, and the TLS handshake that follows
#    asks nothing more (the agent's counters); in-process, the shim's debug
#    lines show the answer fetched with the addresses, then taken from the
#    cache by the handshake;
#  - no TLSA query for dane = off, port 80, a program that has loaded no TLS
#    library, an address literal, a hosts-file name, localhost;
#  - DTLS: openssl s_client -dtls against s_server -dtls on dane-ok's address
#    gets DANE from _4433._udp (match) and _4434._udp (no match: refused),
#    the _udp answer also fetched with the addresses;
#  - hastls lookup --port N [--udp] shows the RRset the shim would fetch.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"

out=$LAB_DIR/prefetch
mkdir -p "$out"
H=$HASTLS_BUILD/hastls
LINE='^hastls: DANE check failed for'
inproc=$(conf prefetch-inproc agent=off)
off=$(conf prefetch-off dane=off)

# A program's lookup with a port, then (with "tls") a TLS handshake with
# verification off: only DANE can refuse it.
cat >"$out/probe.py" <<'EOF'
import socket, ssl, sys
host, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "tls":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=20) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            print("handshake", t.version())
else:
    t = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    print("addr", socket.getaddrinfo(host, port, type=t)[0][4][0])
EOF

# field NAME [CONF]: one line of hastls agent status.
field() {
    HASTLS_CONF=${2:-$HASTLS_CONF} "$H" agent status 2>/dev/null | sed -n "s/^$1: //p"
}

# through_agent TAG CONF HOST PORT KIND: runs the probe under the shim with
# CONF (an agent serves it); $dl and $dq get the agent's new lookups and
# queries, $st the status.
through_agent() {
    local tag=$1 cfg=$2
    shift 2
    local l0 q0
    l0=$(field lookups "$cfg") q0=$(field queries "$cfg")
    HASTLS_LOG=debug HASTLS_CONF=$cfg LD_PRELOAD=$S python3 "$out/probe.py" "$@" \
        >"$out/$tag.out" 2>"$out/$tag.err"
    st=$?
    dl=$(($(field lookups "$cfg") - l0)) dq=$(($(field queries "$cfg") - q0))
}

# An agent for each configuration first (its start is not what is counted).
for cfg in "$HASTLS_CONF" "$off"; do
    HASTLS_CONF=$cfg LD_PRELOAD=$S getent hosts secure.lab.example >/dev/null
    if [ -z "$(field lookups "$cfg")" ]; then
        bad "no agent to count the queries with ($cfg)"
        finish
    fi
done

# ---------------------------------------------------------------------------
# Through the agent: one batch of four, nothing asked for the handshake.
through_agent agent-tls "$HASTLS_CONF" dane-ok.lab.example 443 tls
expect_status "agent: python3 connects to dane-ok:443 through DANE" "$st" 0
expect_line "agent: the handshake completed" "$out/agent-tls.out" '^handshake TLS'
[ "$dl" -eq 1 ] && [ "$dq" -eq 4 ] &&
    ok "agent: one lookup of 4 queries (A, AAAA, HASTLS, TLSA), none for the handshake" ||
    bad "agent: $dl lookups, $dq queries (wanted 1 and 4)"
expect_line "agent: the TLSA RRset came with the addresses" "$out/agent-tls.err" \
    '^hastls: TLSA _443\._tcp\.dane-ok\.lab\.example: use, 1 usable record\(s\) \(fetched with the addresses\)$'
expect_line "agent: the handshake took it from the cache" "$out/agent-tls.err" \
    '^hastls: TLSA _443\._tcp\.dane-ok\.lab\.example: use, from the cache$'
expect_no_line "agent: no query of the handshake's own" "$out/agent-tls.err" 'asked for the handshake'

# The same refusal as without the prefetch: dane-bad's record matches nothing.
through_agent agent-bad "$HASTLS_CONF" dane-bad.lab.example 443 tls
[ "$st" -ne 0 ] && ok "agent: dane-bad is refused (status $st)" || bad "agent: dane-bad connected"
expect_count "agent: one DANE line for dane-bad" "$out/agent-bad.err" \
    "$LINE dane-bad.lab.example:443: .* \\(dane enforce\\)\$" 1
[ "$dl" -eq 1 ] && [ "$dq" -eq 4 ] && ok "agent: dane-bad: one lookup of 4 queries" ||
    bad "agent: dane-bad: $dl lookups, $dq queries (wanted 1 and 4)"

# No TLSA query where none is worth it.
through_agent agent-off "$off" dane-ta.lab.example 443 tls
expect_status "dane = off: python3 connects to dane-ta:443" "$st" 0
[ "$dl" -eq 1 ] && [ "$dq" -eq 3 ] && ok "dane = off: one lookup of 3 queries, no TLSA" ||
    bad "dane = off: $dl lookups, $dq queries (wanted 1 and 3)"
expect_no_line "dane = off: no TLSA line" "$out/agent-off.err" 'TLSA'
through_agent agent-80 "$HASTLS_CONF" dane-ta1.lab.example 80 tcp
expect_line "port 80: the lookup answers" "$out/agent-80.out" '^addr 127\.0\.10\.23$'
[ "$dl" -eq 1 ] && [ "$dq" -eq 3 ] && ok "port 80: one lookup of 3 queries, no TLSA" ||
    bad "port 80: $dl lookups, $dq queries (wanted 1 and 3)"
# A program without a TLS library (python3 that never imports ssl, so
# never loads libssl) would never use the answer: none is asked.
cat >"$out/plain.py" <<'EOF'
import socket, sys
print("addr", socket.getaddrinfo(sys.argv[1], 443, type=socket.SOCK_STREAM)[0][4][0])
print("ssl loaded" if "_ssl" in sys.modules else "no ssl")
EOF
l0=$(field lookups) q0=$(field queries)
HASTLS_LOG=debug LD_PRELOAD=$S python3 "$out/plain.py" dane-ee0.lab.example \
    >"$out/plain.out" 2>"$out/plain.err"
expect_status "no TLS library: the lookup answers" $? 0
expect_line "no TLS library: python3 never loaded ssl" "$out/plain.out" '^no ssl$'
dl=$(($(field lookups) - l0)) dq=$(($(field queries) - q0))
[ "$dl" -eq 1 ] && [ "$dq" -eq 3 ] && ok "no TLS library: one lookup of 3 queries, no TLSA" ||
    bad "no TLS library: $dl lookups, $dq queries (wanted 1 and 3)"
expect_no_line "no TLS library: no TLSA line" "$out/plain.err" 'TLSA'
for h in 127.0.10.20 hostsfile.lab.example localhost; do
    through_agent "agent-$h" "$HASTLS_CONF" "$h" 443 tcp
    expect_status "$h:443: the lookup answers" "$st" 0
    [ "$dl" -eq 0 ] && [ "$dq" -eq 0 ] && ok "$h:443: no query at all" ||
        bad "$h:443: $dl lookups, $dq queries (wanted none)"
    expect_no_line "$h:443: no TLSA line" "$out/agent-$h.err" 'TLSA'
done

# ---------------------------------------------------------------------------
# In-process (agent = off): the same, seen in the shim's debug lines.
HASTLS_LOG=debug HASTLS_CONF=$inproc LD_PRELOAD=$S python3 "$out/probe.py" \
    dane-ee0.lab.example 443 tls >"$out/inproc.out" 2>"$out/inproc.err"
expect_status "in-process: python3 connects to dane-ee0:443 through DANE" $? 0
expect_count "in-process: the TLSA RRset came with the addresses" "$out/inproc.err" \
    '^hastls: TLSA _443\._tcp\.dane-ee0\.lab\.example: use, 1 usable record\(s\) \(fetched with the addresses\)$' 1
expect_count "in-process: the handshake took it from the cache" "$out/inproc.err" \
    '^hastls: TLSA _443\._tcp\.dane-ee0\.lab\.example: use, from the cache$' 1
expect_no_line "in-process: no query of the handshake's own" "$out/inproc.err" 'asked for the handshake'
expect_no_line "in-process: no agent" "$out/inproc.err" 'agent'

# ---------------------------------------------------------------------------
# DTLS: _udp records for UDP ports 4433 (match) and 4434 (no match).
c=$LAB_DIR/certs
for p in 4433 4434; do
    openssl s_server -dtls -accept "127.0.10.20:$p" -cert "$c/daneee.pem" -key "$c/daneee.key" \
        -quiet </dev/null >"$out/dtls-server-$p.log" 2>&1 &
done
wait_udp() {
    local i
    for i in $(seq 50); do
        ss -Hlun "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
wait_udp 4433 && wait_udp 4434 || bad "the DTLS servers did not start"
timeout 20 openssl s_client -dtls -verify_return_error -connect dane-ok.lab.example:4433 \
    </dev/null >"$out/dtls-control.out" 2>&1
[ $? -ne 0 ] && ok "control: s_client -dtls alone refuses the self-signed certificate" ||
    bad "control: s_client -dtls alone accepted it"
HASTLS_LOG=debug HASTLS_CONF=$inproc LD_PRELOAD=$S timeout 20 openssl s_client -dtls \
    -verify_return_error -connect dane-ok.lab.example:4433 </dev/null \
    >"$out/dtls-ok.out" 2>"$out/dtls-ok.err"
expect_status "DTLS: s_client -dtls -verify_return_error passes through DANE-EE on _udp" $? 0
expect_line "DTLS: verification OK" "$out/dtls-ok.out" '^ +Verify return code: 0 \(ok\)'
expect_line "DTLS: the _udp RRset came with the addresses" "$out/dtls-ok.err" \
    '^hastls: TLSA _4433\._udp\.dane-ok\.lab\.example: use, 1 usable record\(s\) \(fetched with the addresses\)$'
expect_line "DTLS: the handshake took it from the cache" "$out/dtls-ok.err" \
    '^hastls: TLSA _4433\._udp\.dane-ok\.lab\.example: use, from the cache$'
expect_no_line "DTLS: no _tcp query" "$out/dtls-ok.err" '_tcp'
HASTLS_CONF=$inproc LD_PRELOAD=$S timeout 20 openssl s_client -dtls \
    -connect dane-ok.lab.example:4434 </dev/null >"$out/dtls-bad.out" 2>"$out/dtls-bad.err"
st=$?
[ "$st" -ne 0 ] && ok "DTLS: no matching _udp record: refused (status $st)" ||
    bad "DTLS: the mismatch connected"
expect_count "DTLS: one DANE line naming the _udp owner" "$out/dtls-bad.err" \
    "$LINE dane-ok.lab.example:4434: no matching DANE TLSA records at _4434\\._udp\\.dane-ok\\.lab\\.example \\(dane enforce\\)\$" 1
HASTLS_CONF=$off LD_PRELOAD=$S timeout 20 openssl s_client -dtls \
    -connect dane-ok.lab.example:4434 </dev/null >"$out/dtls-off.out" 2>"$out/dtls-off.err"
expect_status "DTLS: dane = off leaves the mismatch to s_client (verification off)" $? 0
expect_no_line "DTLS: dane = off: no hastls line" "$out/dtls-off.err" '^hastls:'

# ---------------------------------------------------------------------------
# hastls lookup --port: what the shim fetches.
"$H" lookup --grace --port 443 dane-ok.lab.example >"$out/cli-443.out" 2>&1
expect_status "hastls lookup --port 443: secure answers" $? 0
expect_line "hastls lookup --port 443: the TLSA RRset under its owner" "$out/cli-443.out" \
    '^_443\._tcp\.dane-ok\.lab\.example TLSA: secure rcode=NOERROR '
expect_line "hastls lookup --port 443: the record" "$out/cli-443.out" '^  3 1 1 [0-9a-f]{64}$'
expect_line "hastls lookup --port 443: what DANE makes of it" "$out/cli-443.out" \
    '^  dane: use, 1 usable record\(s\)$'
expect_line "hastls lookup --port 443: the addresses too" "$out/cli-443.out" \
    '^dane-ok\.lab\.example A: secure '
"$H" lookup --port 4434 --udp dane-ok.lab.example >"$out/cli-udp.out" 2>&1
expect_line "hastls lookup --port 4434 --udp: the _udp RRset" "$out/cli-udp.out" \
    '^_4434\._udp\.dane-ok\.lab\.example TLSA: secure '
"$H" lookup --port 443 secure.lab.example >"$out/cli-none.out" 2>&1
expect_line "hastls lookup --port 443: a secure absence" "$out/cli-none.out" \
    '^_443\._tcp\.secure\.lab\.example TLSA: secure rcode=NXDOMAIN'
expect_line "hastls lookup --port 443: none" "$out/cli-none.out" '^  dane: none, 0 usable'
"$H" lookup --port 80 dane-ok.lab.example >"$out/cli-80.out" 2>&1
expect_line "hastls lookup --port 80: not fetched" "$out/cli-80.out" \
    '^dane-ok\.lab\.example TLSA: not fetched for TCP port 80 '
expect_no_line "hastls lookup --port 80: no TLSA query" "$out/cli-80.out" '^_80\.'
"$H" lookup --config "$off" --port 443 dane-ok.lab.example >"$out/cli-off.out" 2>&1
expect_line "hastls lookup --port 443 under dane = off: not fetched" "$out/cli-off.out" \
    'TLSA: not fetched for TCP port 443 \(dane = off\)$'
"$H" lookup --port 0 dane-ok.lab.example >"$out/cli-bad.out" 2>&1
expect_status "hastls lookup --port 0: usage error" $? 2
expect_line "hastls lookup --port 0: says what is wrong" "$out/cli-bad.out" '--port wants 1\.\.65535'
"$H" lookup --udp dane-ok.lab.example >"$out/cli-bad2.out" 2>&1
expect_status "hastls lookup --udp without --port: usage error" $? 2

finish
