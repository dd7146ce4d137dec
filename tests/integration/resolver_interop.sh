#!/usr/bin/env bash
# resolver_interop: the DoT transport against independent DNS-over-TLS
# implementations, Debian's packages, each in front of the lab's resolver:
# PowerDNS dnsdist, Knot Resolver (kresd) and BIND (named).  Against each:
# strict lookups authenticate it, validate through it (secure, bogus,
# insecure), carry HASTLS, honour a pin (and fail on a wrong one), and 50
# lookups from 8 threads share one handshake with no query asked twice
# (dnsdist 1.7 answers only the first query of a TLS record that carries
# several: one query per record keeps it at full speed).
set -u
H=$HASTLS_BUILD/hastls
# shellcheck source=../tools/interop_servers.sh
. "$(dirname "$0")/../tools/interop_servers.sh"
fails=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
check() { # check DESCRIPTION FILE REGEX
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no line matches: $3)"; fi
}
trap 'jobs -p | xargs -r kill 2>/dev/null' EXIT

pin=$(openssl x509 -in "$LAB_DIR/certs/dot.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
wrong_pin=$(printf 'not the key' | openssl dgst -sha256 -binary | base64)

names=$LAB_DIR/interop-names.txt
: >"$names"
for i in $(seq 1 45); do echo "dd$i.lab.example" >>"$names"; done
for h in secure both clear mail odd; do echo "$h.lab.example" >>"$names"; done

# suite SERVER ADDR: the checks against the DoT server at ADDR:853.
suite() {
    local s=$1 out up=(--upstream "$2#dot.lab.example")
    out=$LAB_DIR/interop-$s-1.out
    "$H" lookup --stats "${up[@]}" secure.lab.example >"$out" 2>&1
    sed 's/^/    /' "$out"
    check "$s: secure A" "$out" '^secure.lab.example A: secure rcode=NOERROR'
    check "$s: HASTLS" "$out" '^  \(0 443\)$'
    check "$s: authenticated TLS, one handshake" "$out" \
        '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]* queries_cleartext=0$'

    out=$LAB_DIR/interop-$s-2.out
    "$H" lookup "${up[@]}" www.bogus.lab.example A >"$out" 2>&1
    sed 's/^/    /' "$out"
    check "$s: bogus detected" "$out" '^www.bogus.lab.example A: bogus '

    out=$LAB_DIR/interop-$s-3.out
    "$H" lookup "${up[@]}" www.insecure.lab.example A >"$out" 2>&1
    sed 's/^/    /' "$out"
    check "$s: insecure" "$out" '^www.insecure.lab.example A: insecure rcode=NOERROR'

    out=$LAB_DIR/interop-$s-4.out
    "$H" lookup --pin "$pin" "${up[@]}" clear.lab.example A >"$out" 2>&1
    check "$s: its key's pin accepted" "$out" '^clear.lab.example A: secure rcode=NOERROR'
    "$H" lookup --pin "$wrong_pin" "${up[@]}" clear.lab.example A >"$out" 2>&1
    sed 's/^/    /' "$out"
    check "$s: a wrong pin refused" "$out" '^clear.lab.example A: failed rcode=SERVFAIL'
    check "$s: ... saying why" "$out" 'pin'

    out=$LAB_DIR/interop-$s-5.out
    HASTLS_LOG=debug "$H" lookup --stats --threads 8 --names "$names" "${up[@]}" A \
        >"$out" 2>&1
    local st=$? n
    grep -v '^hastls: ' "$out" | sed 's/^/    /'
    [ "$st" -eq 0 ] && ok "$s: 50 lookups from 8 threads all answered" ||
        bad "$s: 50 lookups: status $st"
    n=$(grep -Ec '^[a-z0-9]+\.lab\.example A: secure ' "$out")
    [ "$n" -eq 50 ] && ok "$s: 50 secure answers" || bad "$s: $n secure answers of 50"
    check "$s: one handshake for all of them" "$out" '^stats: tls_handshakes=1 tls_resumptions=0 '
    # A query left unanswered waits half an attempt (750 ms) before it is
    # asked again: counted here, not timed.
    n=$(grep -c 'asking again' "$out")
    [ "$n" -eq 0 ] && ok "$s: no query had to be asked again" ||
        bad "$s: $n queries asked again (left unanswered)"
}

servers=()
command -v dnsdist >/dev/null 2>&1 && servers+=(dnsdist:127.0.0.60)
command -v kresd >/dev/null 2>&1 && servers+=(kresd:127.0.0.61)
command -v named >/dev/null 2>&1 && servers+=(named:127.0.0.62)
[ ${#servers[@]} -gt 0 ] || { echo "none of dnsdist, kresd, named installed: skip"; exit 77; }
for sv in "${servers[@]}"; do
    s=${sv%%:*} addr=${sv#*:}
    if ! "start_$s" "$addr"; then
        bad "$s did not start on $addr"
        tail -5 "$LAB_DIR/$s-$addr.log" "$LAB_DIR/$s-$addr"/*.log 2>/dev/null
        continue
    fi
    suite "$s" "$addr"
done

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
