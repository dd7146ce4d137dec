#!/usr/bin/env bash
# The lab checks itself: signed hierarchy and validation outcomes, the DoT
# resolvers and their certificate names, every service and impostor of
# tests/lab/hosts, the hosts file, and pktcount.  Runs inside the lab
# (tests/run-integration, or: scripts/lab run bash tests/integration/lab_selftest.sh).
# The expectations are derived here from tests/lab/hosts independently of
# tests/lab/services.py.  Prints one FAIL line per failed check.
set -u

[ -n "${LAB_DIR:-}" ] || { echo "lab_selftest: not inside the lab (run it with scripts/lab run)" >&2; exit 2; }
cd "$(dirname "$0")/../.." || exit 2
T=$LAB_TOOLS
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
HOSTS=tests/lab/hosts
failed=0
passed=0
tmp=$LAB_DIR/selftest
mkdir -p "$tmp"

ok() { passed=$((passed + 1)); }
bad() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
# check WHAT CMD...: CMD must succeed.
check() {
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then ok; else bad "$what ($(head -c 300 "$tmp/out" | tr '\n' ' '))"; fi
}
# check_not WHAT CMD...: CMD must fail.
check_not() {
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then bad "$what (succeeded, should fail)"; else ok; fi
}

# ---------------------------------------------------------------------------
# DNS through unbound #1 (cleartext port 53).

# q NAME TYPE [SERVER]: dig's answer; sets STATUS, FLAGS, ANSWER.
q() {
    local out
    out=$(dig +tries=1 +time=5 @"${3:-127.0.0.53}" "$1" "$2" +dnssec +noall +comments +answer 2>&1)
    STATUS=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")
    FLAGS=$(sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$out")
    ANSWER=$(grep -v '^;' <<<"$out" | grep -v RRSIG | grep .)
}
has_flag() { [[ " $FLAGS " == *" $1 "* ]]; }

# expect NAME TYPE STATUS secure|insecure [ANSWER-REGEX]
expect() {
    local name=$1 type=$2 st=$3 sec=$4 re=${5:-}
    q "$name" "$type"
    if [ "$STATUS" != "$st" ]; then
        bad "$name $type: status ${STATUS:-none}, expected $st"
        return
    fi
    if [ "$sec" = secure ] && ! has_flag ad; then
        bad "$name $type: no AD flag (flags: $FLAGS)"
        return
    fi
    if [ "$sec" = insecure ] && has_flag ad; then
        bad "$name $type: AD flag set on an insecure answer"
        return
    fi
    if [ -n "$re" ] && ! grep -Eq "$re" <<<"$ANSWER"; then
        bad "$name $type: answer does not match /$re/: $ANSWER"
        return
    fi
    ok
}

expect secure.lab.example A NOERROR secure '127\.0\.10\.1$'
expect secure.lab.example TYPE65301 NOERROR secure 'TYPE65301[[:space:]]+\\# 4 000001BB'
expect both.lab.example TYPE65301 NOERROR secure '\\# 4 005001BB'
expect clear.lab.example TYPE65301 NOERROR secure '\\# 4 00500000'
expect mail.lab.example TYPE65301 NOERROR secure '\\# 12 00190019000003E1000003E3'
expect odd.lab.example TYPE65301 NOERROR secure '\\# 4 1F9020FB'
expect norecord.lab.example A NOERROR secure '127\.0\.10\.6$'
expect norecord.lab.example TYPE65301 NOERROR secure ''
[ -z "$ANSWER" ] || bad "norecord.lab.example has a HASTLS record: $ANSWER"
expect v6.lab.example AAAA NOERROR secure 'fd00:1ab::7$'
expect v6.lab.example TYPE65301 NOERROR secure '\\# 4 000001BB'
expect dual.lab.example A NOERROR secure '127\.0\.10\.8$'
expect dual.lab.example AAAA NOERROR secure 'fd00:1ab::8$'
expect alias.lab.example A NOERROR secure 'CNAME[[:space:]]+secure\.lab\.example\.'
expect badsig.lab.example A NOERROR secure '127\.0\.10\.9$'
expect badsig.lab.example TYPE65301 SERVFAIL any
# One family bogus: the AAAA RRSIG is corrupted, A and HASTLS validate.
expect halfbogus.lab.example A NOERROR secure '127\.0\.10\.15$'
expect halfbogus.lab.example AAAA SERVFAIL any
expect halfbogus.lab.example TYPE65301 NOERROR secure '\\# 4 000001BB'
expect 15.10.0.127.in-addr.arpa PTR NOERROR secure 'PTR[[:space:]]+halfbogus\.lab\.example\.$'
expect f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.a.1.0.0.0.d.f.ip6.arpa PTR NOERROR secure \
    'PTR[[:space:]]+halfbogus\.lab\.example\.$'
# Records that cannot be used: one of zero bytes (signed and unsigned), one
# of 3 bytes; the resolver serves them as they are.
expect empty.lab.example A NOERROR secure '127\.0\.10\.16$'
expect empty.lab.example TYPE65301 NOERROR secure 'TYPE65301[[:space:]]+\\# 0$'
expect malformed.lab.example TYPE65301 NOERROR secure '\\# 3 000001$'
expect empty.insecure.lab.example A NOERROR insecure '127\.0\.10\.18$'
expect empty.insecure.lab.example TYPE65301 NOERROR insecure 'TYPE65301[[:space:]]+\\# 0$'
# CNAME chains across the signed/unsigned boundary: the whole answer is as
# secure as its weakest link.
expect u2s.insecure.lab.example A NOERROR insecure 'CNAME[[:space:]]+secure\.lab\.example\.'
expect u2s.insecure.lab.example TYPE65301 NOERROR insecure '\\# 4 000001BB'
expect s2u.lab.example A NOERROR insecure 'CNAME[[:space:]]+www\.insecure\.lab\.example\.'
expect www.bogus.lab.example A SERVFAIL any
expect www.bogus.lab.example TYPE65301 SERVFAIL any
expect www.expired.lab.example A SERVFAIL any
expect www.expired.lab.example TYPE65301 SERVFAIL any
expect www.insecure.lab.example A NOERROR insecure '127\.0\.10\.10$'
expect www.insecure.lab.example TYPE65301 NOERROR insecure '\\# 4 000001BB'
expect nosuchhost.lab.example A NXDOMAIN secure
expect _xmpp-client._tcp.lab.example SRV NOERROR secure '0 0 5222 xmpp\.lab\.example\.'
expect _xmpp-client._tcp.insecure.lab.example SRV NOERROR insecure '0 0 5222 xmpp\.insecure\.lab\.example\.'
# The TLSA record must match the certificate the xmpp service presents.
spki=$(openssl x509 -in "$LAB_DIR/certs/xmpp.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    sha256sum | cut -d' ' -f1 | tr a-f A-F)
expect _5222._tcp.xmpp.lab.example TLSA NOERROR secure "3 1 1 ${spki:0:56}"
expect _5222._tcp.xmpp.insecure.lab.example TLSA NOERROR insecure "3 1 1 ${spki:0:56}"
# The DANE hosts: each TLSA record as the lab computed it, the broken one bogus.
expect _443._tcp.dane-bad.lab.example TLSA NOERROR secure "3 1 1 ${spki:0:56}"
expect _443._tcp.dane-ins.insecure.lab.example TLSA NOERROR insecure "3 1 1 ${spki:0:56}"
expect _443._tcp.dane-bogus.lab.example TLSA SERVFAIL any
spki=$(openssl x509 -in "$LAB_DIR/certs/daneee.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    sha256sum | cut -d' ' -f1 | tr a-f A-F)
expect _443._tcp.dane-ok.lab.example TLSA NOERROR secure "3 1 1 ${spki:0:56}"
spki=$(openssl x509 -in "$LAB_CA" -outform DER | sha256sum | cut -d' ' -f1 | tr a-f A-F)
expect _443._tcp.dane-ta.lab.example TLSA NOERROR secure "2 0 1 ${spki:0:56}"
# Reverse zones: a validated PTR for every host address in DNS, none for the
# hosts-file name.
expect 1.10.0.127.in-addr.arpa PTR NOERROR secure 'PTR[[:space:]]+secure\.lab\.example\.$'
expect 14.10.0.127.in-addr.arpa PTR NOERROR secure 'PTR[[:space:]]+xmpp\.insecure\.lab\.example\.$'
expect 8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.a.1.0.0.0.d.f.ip6.arpa PTR NOERROR secure \
    'PTR[[:space:]]+dual\.lab\.example\.$'
expect 99.10.0.127.in-addr.arpa PTR NXDOMAIN secure

# The other cleartext listener, and the authoritative server itself.
q secure.lab.example A 127.0.0.55
[ "$STATUS" = NOERROR ] && has_flag ad && ok || bad "127.0.0.55:53 does not answer with AD ($STATUS $FLAGS)"
q secure.lab.example A fd00:1ab::53
[ "$STATUS" = NOERROR ] && has_flag ad && ok || bad "[fd00:1ab::53]:53 does not answer with AD ($STATUS $FLAGS)"
q lab.example SOA 127.0.1.1
[ "$STATUS" = NOERROR ] && has_flag aa && ok || bad "NSD 127.0.1.1 not authoritative for lab.example ($STATUS $FLAGS)"
dig +noall +answer @127.0.1.1 . DNSKEY | grep -w DNSKEY | grep -vw RRSIG >"$tmp/root.key"
ds=$(ldns-key2ds -n -2 "$tmp/root.key" 2>&1 | awk '{print $NF}')
[ -n "$ds" ] && grep -qi "$ds" "$LAB_TRUST_ANCHOR" && ok || bad "LAB_TRUST_ANCHOR matches no root DNSKEY ($ds)"

# ---------------------------------------------------------------------------
# DNS over TLS.

tls() { openssl s_client -connect "$1" -verify_hostname "$2" -CAfile "$LAB_CA" -verify_return_error </dev/null; }
check "DoT 127.0.0.53:853 as dot.lab.example" tls 127.0.0.53:853 dot.lab.example
check "DoT 127.0.0.53:443 as dot.lab.example" tls 127.0.0.53:443 dot.lab.example
check_not "DoT 127.0.0.53:853 as wrong.name" tls 127.0.0.53:853 wrong.name
check_not "DoT 127.0.0.54:853 as dot.lab.example" tls 127.0.0.54:853 dot.lab.example
check "DoT 127.0.0.54:853 as other.lab.example" tls 127.0.0.54:853 other.lab.example
check_not "TLS on 127.0.0.55:853" tls 127.0.0.55:853 dot.lab.example

# dotq WHAT EXPECTED-REGEX ARGS...: one real query over TLS.
dotq() {
    local what=$1 re=$2
    shift 2
    if "$T/dotquery" "$@" >"$tmp/out" 2>&1 && grep -Eq "$re" "$tmp/out"; then ok; else
        bad "$what: $(tr '\n' ' ' <"$tmp/out")"
    fi
}
dotq "DoT query 853" 'status: NOERROR flags: .*ad.* answers: 2' 127.0.0.53 secure.lab.example --type HASTLS
dotq "DoT query 443" 'status: NOERROR flags: .*ad.* answers: 2' --port 443 127.0.0.53 secure.lab.example --type HASTLS
dotq "DoT query over IPv6" 'status: NOERROR flags: .*ad.* answers: 2' fd00:1ab::53 secure.lab.example --type HASTLS
dotq "DoT query ALPN dot" 'status: NOERROR' --alpn dot 127.0.0.53 both.lab.example
dotq "DoT query bogus" 'status: SERVFAIL' 127.0.0.53 www.bogus.lab.example
dotq "DoT query unbound #2" 'status: NOERROR flags: .*ad' --name other.lab.example 127.0.0.54 secure.lab.example
"$T/dotquery" 127.0.0.54 secure.lab.example >"$tmp/out" 2>&1
[ $? = 1 ] && ok || bad "DoT query to 127.0.0.54 as dot.lab.example did not fail the certificate check"
"$T/dotquery" 127.0.0.55 secure.lab.example >"$tmp/out" 2>&1
[ $? = 2 ] && grep -qi refused "$tmp/out" && ok || bad "127.0.0.55:853 does not refuse: $(cat "$tmp/out")"

# ---------------------------------------------------------------------------
# Name service switch inside the lab: resolv.conf and hosts.

grep -qx 'nameserver 127.0.0.53' /etc/resolv.conf && ok || bad "/etc/resolv.conf is not the lab's"
[ "$(getent hosts hostsfile.lab.example | awk '{print $1}')" = 127.0.20.1 ] && ok ||
    bad "hostsfile.lab.example not in /etc/hosts"
[ "$(getent ahostsv4 both.lab.example | awk 'NR==1{print $1}')" = 127.0.10.2 ] && ok ||
    bad "glibc does not resolve both.lab.example through the lab resolver"

# ---------------------------------------------------------------------------
# Services: every host, address and port, real or impostor as its record says.

ports="80 443 25 993 995 8080 8443"
# The DANE-EE hosts serve a self-signed certificate: trusted here by name.
cat "$LAB_CA" "$LAB_DIR/certs/daneee.pem" >"$tmp/ca-all.pem"
while read -r name addrs status pairs; do
    case $name in '' | '#'*) continue ;; esac
    for addr in ${addrs//,/ }; do
        for port in $ports; do
            want=OK
            if [ "$status" = secure ] && [ "$pairs" != - ]; then
                want=IMPOSTOR
                for p in $pairs; do [ "$p" = "$port" ] && want=OK; done
            fi
            want="$want $name $port"
            url_addr=$addr
            [[ $addr == *:* ]] && url_addr="[$addr]"
            case $port in
                80 | 8080) got=$(curl -sS --max-time 5 "http://$url_addr:$port/" 2>&1) ;;
                443 | 8443) got=$(curl -sS --max-time 5 --cacert "$tmp/ca-all.pem" \
                    --resolve "$name:$port:$addr" "https://$name:$port/" 2>&1) ;;
                25) got=$("$T/banner" "$addr" "$port" 2>&1) ;;
                *) got=$("$T/banner" --tls --ca "$tmp/ca-all.pem" --name "$name" "$addr" "$port" 2>&1) ;;
            esac
            [ "$got" = "$want" ] && ok || bad "$addr:$port ($name): got '$got', expected '$want'"
        done
    done
done <"$HOSTS"
got=$("$T/banner" --starttls --name mail.lab.example 127.0.10.4 25 2>&1)
[ "$got" = "OK mail.lab.example 25" ] && ok || bad "STARTTLS on mail.lab.example:25: $got"
got=$("$T/banner" --tls --name xmpp.lab.example 127.0.10.13 5222 2>&1)
[ "$got" = "OK xmpp.lab.example 5222" ] && ok || bad "xmpp.lab.example:5222: $got"
got=$("$T/banner" --tls --name xmpp.insecure.lab.example 127.0.10.14 5222 2>&1)
[ "$got" = "OK xmpp.insecure.lab.example 5222" ] && ok || bad "xmpp.insecure.lab.example:5222: $got"
# Names through the lab resolver, not just addresses.
got=$(curl -sS --max-time 5 --cacert "$LAB_CA" https://alias.lab.example/ 2>&1)
[ "$got" = "OK secure.lab.example 443" ] && ok || bad "https://alias.lab.example/: $got"
got=$(curl -sS --max-time 5 --cacert "$LAB_CA" https://u2s.insecure.lab.example/ 2>&1)
[ "$got" = "OK secure.lab.example 443" ] && ok || bad "https://u2s.insecure.lab.example/: $got"
got=$(curl -sS --max-time 5 --cacert "$LAB_CA" https://s2u.lab.example/ 2>&1)
[ "$got" = "OK www.insecure.lab.example 443" ] && ok || bad "https://s2u.lab.example/: $got"
got=$(curl -sS --max-time 5 http://hostsfile.lab.example/ 2>&1)
[ "$got" = "OK hostsfile.lab.example 80" ] && ok || bad "http://hostsfile.lab.example/: $got"

# ---------------------------------------------------------------------------
# pktcount: a UDP query and its answer count 2 (each packet once); an idle
# port counts 0; CMD's status comes back.

"$T/pktcount" --port 53 --addr 127.0.0.53 --proto udp -o "$tmp/n" -- \
    dig +tries=1 +retry=0 @127.0.0.53 secure.lab.example A >/dev/null
st=$?
[ $st = 0 ] && [ "$(cat "$tmp/n")" = 2 ] && ok || bad "pktcount of one dig query: status $st, count $(cat "$tmp/n" 2>&1)"
"$T/pktcount" --port 853 -o "$tmp/n" -- "$T/dotquery" 127.0.0.53 clear.lab.example >/dev/null
[ "$(cat "$tmp/n")" -gt 4 ] && ok || bad "pktcount of one DoT query: count $(cat "$tmp/n")"
"$T/pktcount" --port 9 -o "$tmp/n" -- dig +tries=1 @127.0.0.53 both.lab.example A >/dev/null
[ "$(cat "$tmp/n")" = 0 ] && ok || bad "pktcount of an idle port: count $(cat "$tmp/n")"
"$T/pktcount" --proto tcp --addr 127.0.0.53 -o "$tmp/n" -- dig +tries=1 @127.0.0.53 odd.lab.example A >/dev/null
[ "$(cat "$tmp/n")" = 0 ] && ok || bad "pktcount --proto tcp of a UDP query: count $(cat "$tmp/n")"
"$T/pktcount" --addr fd00:1ab::7 --port 80 -o "$tmp/n" -- curl -s http://v6.lab.example/ >/dev/null
[ "$(cat "$tmp/n")" -ge 5 ] && ok || bad "pktcount --addr fd00:1ab::7 of an HTTP exchange: count $(cat "$tmp/n")"
"$T/pktcount" --addr 127.0.10.7 -o "$tmp/n" -- curl -s http://v6.lab.example/ >/dev/null
[ "$(cat "$tmp/n")" = 0 ] && ok || bad "pktcount --addr of an unused address: count $(cat "$tmp/n")"
# Busy unrelated traffic (a bulk transfer on lo) must not disturb the count.
"$PY" - <<'PY' &
import socket
s = socket.socket(); s.bind(("127.0.0.1", 9998)); s.listen()
c, _ = s.accept()
while c.recv(1 << 20):
    pass
PY
bulk=$!
sleep 0.2
"$T/pktcount" --port 53 --addr 127.0.0.53 -o "$tmp/n" -- "$PY" -c '
import socket, subprocess
c = socket.create_connection(("127.0.0.1", 9998))
buf = b"x" * (1 << 20)
for i in range(20):
    c.sendall(buf)
    if i == 10:
        subprocess.run(["dig", "+tries=1", "+retry=0", "@127.0.0.53", "both.lab.example"], stdout=subprocess.DEVNULL)
c.close()' 2>"$tmp/err"
wait "$bulk"
[ "$(cat "$tmp/n")" = 2 ] && [ ! -s "$tmp/err" ] && ok ||
    bad "pktcount under bulk traffic: count $(cat "$tmp/n") (expected 2) $(cat "$tmp/err")"
"$T/pktcount" -o "$tmp/n" -- sh -c 'exit 3'
[ $? = 3 ] && ok || bad "pktcount does not pass on its command's status"

# ---------------------------------------------------------------------------
# The lab itself, nested in this one: silent on success, CMD's status comes
# back, a second lab is independent (own keys, own servers on the same
# addresses), and leaves nothing behind.

out=$(scripts/lab run true 2>&1)
[ $? = 0 ] && [ -z "$out" ] && ok || bad "scripts/lab run true is not silent: $out"
TMPDIR=$tmp scripts/lab run sh -c 'echo "$LAB_DIR"; cat "$LAB_TRUST_ANCHOR";
    dig +short @127.0.0.53 secure.lab.example; exit 7' >"$tmp/nested" 2>&1
st=$?
[ $st = 7 ] && ok || bad "scripts/lab run does not pass on CMD's status (got $st)"
grep -qx '127.0.10.1' "$tmp/nested" && ok || bad "nested lab does not resolve: $(cat "$tmp/nested")"
grep -q DS "$tmp/nested" && ! grep -qF "$(awk '{print $NF}' "$LAB_TRUST_ANCHOR")" "$tmp/nested" && ok ||
    bad "nested lab has no trust anchor of its own"
! compgen -G "$tmp/hastls-lab.*" >/dev/null && ok || bad "nested lab left its directory behind"
q both.lab.example A
[ "$STATUS" = NOERROR ] && has_flag ad && ok || bad "this lab's resolver is gone after the nested lab"

echo "lab_selftest: $passed checks passed, $failed failed"
[ "$failed" = 0 ]
