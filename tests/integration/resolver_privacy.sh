#!/usr/bin/env bash
# resolver_privacy: the four privacy profiles (seed 004, 2.2) and SPKI pins,
# observed on the wire with pktcount and in the transport's counters:
#  - strict + wrong certificate name: no answer, the reason names the upstream,
#    and not one packet to or from the upstream's port 53;
#  - encrypted accepts that unauthenticated upstream; refuses a TLS-less one;
#  - opportunistic falls back to the TLS-less upstream's port 53;
#  - off uses cleartext only (no handshake, nothing on port 853);
#  - a matching pin authenticates (even with the wrong name), a wrong one fails;
#  - strict fails over from an unauthenticated upstream to an authenticated one.
set -u
H=$HASTLS_BUILD/hastls
P=$LAB_TOOLS/pktcount
fails=0
out=

# run COUNTFILE PKTCOUNT-FILTER... -- LOOKUP-ARGS...: lookup under pktcount.
run() {
    local f=$1
    shift
    local filt=()
    while [ "$1" != -- ]; do
        filt+=("$1")
        shift
    done
    shift
    "$P" "${filt[@]}" -o "$LAB_DIR/$f" -- "$H" lookup --stats "$@" >"$LAB_DIR/$f.out" 2>&1
    out=$(cat "$LAB_DIR/$f.out")
    printf '%s\n' "$out" | sed 's/^/    /'
}
expect() {
    if printf '%s\n' "$out" | grep -Eq -- "$2"; then
        echo "ok   $1"
    else
        echo "FAIL $1 (no line matches: $2)"
        fails=$((fails + 1))
    fi
}
# run53 NAME "ADDR..." LOOKUP-ARGS...: lookup while counting port-53 packets to
# or from each ADDR (the upstreams configured: the only places our cleartext
# could go; the lab resolvers' own recursion to 127.0.1.1 is not counted);
# NAME gets the sum.
run53() {
    local f=$1 addrs=$2 cmd=() i=0 sum=0
    shift 2
    for a in $addrs; do
        cmd+=("$P" --port 53 --addr "$a" -o "$LAB_DIR/$f.$i" --)
        i=$((i + 1))
    done
    "${cmd[@]}" "$H" lookup --stats "$@" >"$LAB_DIR/$f.out" 2>&1
    for ((j = 0; j < i; j++)); do sum=$((sum + $(cat "$LAB_DIR/$f.$j"))); done
    echo "$sum" >"$LAB_DIR/$f"
    out=$(cat "$LAB_DIR/$f.out")
    printf '%s\n' "$out" | sed 's/^/    /'
}
count() { # count DESCRIPTION FILE OP N
    local n
    n=$(cat "$LAB_DIR/$2")
    if [ "$n" -"$3" "$4" ]; then
        echo "ok   $1 ($n packets)"
    else
        echo "FAIL $1 ($n packets, wanted -$3 $4)"
        fails=$((fails + 1))
    fi
}

wrong=127.0.0.54@853#dot.lab.example

echo "== strict, certificate for another name"
run53 strict.pkts 127.0.0.54 --privacy strict --upstream $wrong secure.lab.example A
expect "no answer" '^secure.lab.example A: failed rcode=SERVFAIL'
expect "reason names upstream and problem" \
    '^  reason: no authenticated DNS-over-TLS upstream reachable \(privacy=strict\): 127\.0\.0\.54@853: certificate name mismatch \(wanted dot\.lab\.example\)$'
expect "handshake made, no query sent" '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=0 queries_cleartext=0$'
count "strict: no port-53 packet to or from the upstream" strict.pkts eq 0

echo "== encrypted, same upstream"
run enc.pkts --port 53 --addr 127.0.0.54 -- --privacy encrypted --upstream $wrong secure.lab.example A
expect "answer over unauthenticated TLS" '^secure.lab.example A: secure rcode=NOERROR'
expect "queries over TLS only" '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]* queries_cleartext=0$'
count "encrypted: no port-53 packet to the upstream" enc.pkts eq 0

echo "== encrypted, upstream without TLS"
run53 enc55.pkts 127.0.0.55 --privacy encrypted --upstream 127.0.0.55 secure.lab.example A
expect "refused: no answer" '^secure.lab.example A: failed '
expect "reason" 'reason: no DNS-over-TLS upstream reachable \(privacy=encrypted\): 127\.0\.0\.55@853: connection refused'
count "encrypted: no port-53 packet to or from the TLS-less upstream" enc55.pkts eq 0

echo "== opportunistic, upstream without TLS"
run opp.pkts --port 53 --addr 127.0.0.55 -- --privacy opportunistic --upstream 127.0.0.55 secure.lab.example A
expect "answer over cleartext" '^secure.lab.example A: secure rcode=NOERROR'
expect "counted as cleartext" '^stats: tls_handshakes=0 tls_resumptions=0 queries_tls=0 queries_cleartext=[1-9][0-9]*$'
count "opportunistic: packets to 127.0.0.55:53" opp.pkts gt 0

echo "== opportunistic, upstream with TLS: no fallback needed"
run opptls.pkts --port 53 --addr 127.0.0.53 -- --privacy opportunistic \
    --upstream 127.0.0.53#dot.lab.example www.insecure.lab.example A
expect "answer" '^www.insecure.lab.example A: insecure rcode=NOERROR'
expect "over TLS" '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]* queries_cleartext=0$'
count "opportunistic with TLS: no port-53 packet" opptls.pkts eq 0

echo "== off"
run off.pkts --port 853 -- --privacy off --upstream 127.0.0.53#dot.lab.example secure.lab.example A
expect "answer" '^secure.lab.example A: secure rcode=NOERROR'
expect "cleartext only" '^stats: tls_handshakes=0 tls_resumptions=0 queries_tls=0 queries_cleartext=[1-9][0-9]*$'
count "off: no packet on port 853" off.pkts eq 0

echo "== SPKI pins"
pin() {
    openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
        openssl dgst -sha256 -binary | base64
}
other_pin=$(pin "$LAB_DIR/certs/other.pem")
dot_pin=$(pin "$LAB_DIR/certs/dot.pem")
run pin1.pkts --port 53 --addr 127.0.0.54 -- --privacy strict --upstream $wrong --pin "$other_pin" secure.lab.example A
expect "matching pin authenticates despite the name" '^secure.lab.example A: secure rcode=NOERROR'
run53 pin2.pkts 127.0.0.53 --privacy strict --upstream 127.0.0.53#dot.lab.example --pin "$other_pin" secure.lab.example A
expect "wrong pin fails although the name verifies" '^secure.lab.example A: failed '
expect "wrong pin reason" '127\.0\.0\.53@853: no configured SPKI pin matches the certificate'
count "wrong pin: no port-53 packet" pin2.pkts eq 0
run pin3.pkts --port 53 --addr 127.0.0.53 -- --privacy strict --upstream 127.0.0.53 --pin "$other_pin" --pin "$dot_pin" secure.lab.example A
expect "one of several pins, no name configured" '^secure.lab.example A: secure rcode=NOERROR'

echo "== strict fails over to the next upstream"
run53 fo.pkts "127.0.0.54 127.0.0.55 127.0.0.53" --privacy strict --upstream $wrong --upstream 127.0.0.55#dot.lab.example \
    --upstream 127.0.0.53#dot.lab.example norecord.lab.example A
expect "answer from the third upstream" '^norecord.lab.example A: secure rcode=NOERROR'
expect "two handshakes (first unauthenticated)" '^stats: tls_handshakes=2 '
count "fail-over: no port-53 packet to or from any upstream" fo.pkts eq 0

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
