#!/usr/bin/env bash
# resolver_status: `hastls lookup` under the lab's configuration (strict, DoT to
# 127.0.0.53@853#dot.lab.example) gives the right DNSSEC status, RCODE,
# canonical name and records for the lab's names, carries HASTLS RDATA, sends
# the batch over one TLS connection, and sends nothing to the upstream's
# cleartext port 53.
set -u
H=$HASTLS_BUILD/hastls
fails=0
out=

# lookup ARGS...: runs hastls lookup, output in $out (status ignored here).
lookup() {
    out=$("$H" lookup "$@" 2>&1)
    printf '%s\n' "$out" | sed 's/^/    /'
}
# expect DESCRIPTION REGEX: the last output has a line matching REGEX.
expect() {
    if printf '%s\n' "$out" | grep -Eq -- "$2"; then
        echo "ok   $1"
    else
        echo "FAIL $1 (no line matches: $2)"
        fails=$((fails + 1))
    fi
}
reject() {
    if printf '%s\n' "$out" | grep -Eq -- "$2"; then
        echo "FAIL $1 (a line matches: $2)"
        fails=$((fails + 1))
    else
        echo "ok   $1"
    fi
}

lookup --stats secure.lab.example
expect "secure A" '^secure.lab.example A: secure rcode=NOERROR canonical=secure.lab.example '
expect "A record" '^  127\.0\.10\.1$'
expect "secure AAAA (no data, secure)" '^secure.lab.example AAAA: secure rcode=NOERROR'
expect "secure HASTLS" '^secure.lab.example HASTLS: secure rcode=NOERROR'
expect "HASTLS RDATA" '^  \(0 443\)$'
expect "one batch, one handshake, all over TLS" '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]* queries_cleartext=0$'

lookup mail.lab.example HASTLS
expect "several port pairs" '^  \(25 25 0 993 0 995\)$'

lookup odd.lab.example HASTLS
expect "odd ports" '^  \(8080 8443\)$'

lookup norecord.lab.example A HASTLS
expect "no HASTLS record: secure NODATA" '^norecord.lab.example HASTLS: secure rcode=NOERROR'
reject "no HASTLS record: no records" '^  \('

lookup alias.lab.example A
expect "CNAME followed" '^alias.lab.example A: secure rcode=NOERROR canonical=secure.lab.example '
expect "CNAME target's address" '^  127\.0\.10\.1$'

lookup v6.lab.example AAAA
expect "IPv6 only" '^v6.lab.example AAAA: secure'
expect "IPv6 address" '^  fd00:1ab::7$'

lookup dual.lab.example A AAAA
expect "dual A" '^  127\.0\.10\.8$'
expect "dual AAAA" '^  fd00:1ab::8$'

lookup www.insecure.lab.example A HASTLS
expect "unsigned zone: insecure" '^www.insecure.lab.example A: insecure rcode=NOERROR'
expect "unsigned zone: HASTLS insecure" '^www.insecure.lab.example HASTLS: insecure'

lookup www.bogus.lab.example A
expect "DS matching no key: bogus" '^www.bogus.lab.example A: bogus '
expect "bogus reason from the validator" '^  reason: validation failure <www.bogus.lab.example. A IN>'

lookup www.expired.lab.example A
expect "expired signatures: bogus" '^www.expired.lab.example A: bogus '
expect "expired reason" 'reason: .*(expired|signature)'

lookup badsig.lab.example A HASTLS
expect "badsig A still validates" '^badsig.lab.example A: secure '
expect "badsig HASTLS bogus" '^badsig.lab.example HASTLS: bogus '

lookup nosuchname.lab.example A
expect "NXDOMAIN, securely denied" '^nosuchname.lab.example A: secure rcode=NXDOMAIN '

lookup _xmpp-client._tcp.lab.example SRV
expect "SRV" '^  0 0 5222 xmpp.lab.example$'
lookup _5222._tcp.xmpp.lab.example TLSA
expect "TLSA" '^  3 1 1 [0-9a-f]{64}$'

# The draft's port 443 with ALPN (seed 004): the lab serves DoT there too.
lookup --upstream 127.0.0.53@443#dot.lab.example --stats secure.lab.example A
expect "DoT on port 443" '^secure.lab.example A: secure '
expect "port 443 over TLS" '^stats: tls_handshakes=1 .* queries_cleartext=0$'

# Exit status: 0 when all answers are secure or insecure, 1 otherwise.
"$H" lookup secure.lab.example A >/dev/null 2>&1
st=$?
[ "$st" -eq 0 ] && echo "ok   status 0 for a secure answer" ||
    { echo "FAIL status $st for a secure answer"; fails=$((fails + 1)); }
"$H" lookup www.bogus.lab.example A >/dev/null 2>&1
st=$?
[ "$st" -eq 1 ] && echo "ok   status 1 for a bogus answer" ||
    { echo "FAIL status $st for a bogus answer"; fails=$((fails + 1)); }

# Usage: --help on stdout with 0, errors on stderr with 2.
"$H" lookup --help >"$LAB_DIR/help.out" 2>&1
st=$?
[ "$st" -eq 0 ] && grep -q '^usage: hastls lookup' "$LAB_DIR/help.out" && echo "ok   --help" ||
    { echo "FAIL --help (status $st)"; fails=$((fails + 1)); }
for bad in "--privacy loud x" "--timeout 5 x" "--pin notbase64 x" "--alpn dot,,dns x" "--alpn dot,dot x" \
    "x NOSUCHTYPE" "--bogus x" ""; do
    # shellcheck disable=SC2086
    "$H" lookup $bad >/dev/null 2>"$LAB_DIR/usage.err"
    st=$?
    if [ "$st" -eq 2 ] && [ -s "$LAB_DIR/usage.err" ]; then
        echo "ok   usage error '$bad': status 2"
    else
        echo "FAIL usage error '$bad': status $st"
        fails=$((fails + 1))
    fi
done
lookup --upstream 127.0.0.53#dot.lab.example 'bad..name' A
expect "malformed name: failed with libunbound's reason" '^bad\.\.name A: failed .*'
expect "malformed name: reason" '^  reason: libunbound: '

# An IPv6 upstream: the lab's unbound also serves DoT on [fd00:1ab::53]:853,
# authenticated as dot.lab.example; the wrong name fails as over IPv4.
lookup --upstream '[fd00:1ab::53]@853#dot.lab.example' secure.lab.example A HASTLS
expect "IPv6 upstream: secure A" '^secure.lab.example A: secure rcode=NOERROR'
expect "IPv6 upstream: HASTLS RDATA" '^  \(0 443\)$'
lookup --upstream '[fd00:1ab::53]@853#other.lab.example' secure.lab.example A
expect "IPv6 upstream, wrong name: failed" '^secure.lab.example A: failed rcode=SERVFAIL'
expect "IPv6 upstream, wrong name: reason" \
    'reason: no authenticated DNS-over-TLS upstream reachable \(privacy=strict\): \[fd00:1ab::53\]@853: certificate name mismatch'

# Nothing of ours goes to the upstream's cleartext port: count packets to or
# from 127.0.0.53 port 53 while we resolve a fresh name (the upstream's own
# recursion goes to 127.0.1.1 and is not counted).
"$LAB_TOOLS/pktcount" --addr 127.0.0.53 --port 53 -o "$LAB_DIR/resolver_status.pkts" -- \
    "$H" lookup both.lab.example >"$LAB_DIR/resolver_status.out" 2>&1
out=$(cat "$LAB_DIR/resolver_status.out")
expect "both.lab.example resolved" '^  \(80 443\)$'
n=$(cat "$LAB_DIR/resolver_status.pkts")
[ "$n" = 0 ] && echo "ok   no cleartext packet to 127.0.0.53:53" ||
    { echo "FAIL $n cleartext packets to 127.0.0.53:53"; fails=$((fails + 1)); }

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
