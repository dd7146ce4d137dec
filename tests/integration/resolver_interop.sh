#!/usr/bin/env bash
# resolver_interop: the DoT transport against a second, independent DNS-over-TLS
# implementation, PowerDNS dnsdist (Debian package), in front of the lab's
# resolver: strict lookups authenticate it, validate through it (secure and
# bogus), carry HASTLS, and 50 lookups from 8 threads share one handshake.
set -u
command -v dnsdist >/dev/null 2>&1 || { echo "dnsdist not installed: skip"; exit 77; }
H=$HASTLS_BUILD/hastls
fails=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
check() { # check DESCRIPTION FILE REGEX
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no line matches: $3)"; fi
}

# dnsdist's defaults on purpose: without maxInFlight it handles a connection's
# queries in order and (1.7.3) leaves some pipelined ones unanswered, which the
# transport's one resend per query must absorb.
conf=$LAB_DIR/dnsdist.conf
cat >"$conf" <<EOC
setSecurityPollSuffix('')
setLocal('127.0.0.60:53')
addTLSLocal('127.0.0.60:853', '$LAB_DIR/certs/dot.pem', '$LAB_DIR/certs/dot.key', {alpn='dot'})
newServer({address='127.0.0.53:53'})
EOC
dnsdist --supervised --disable-syslog -C "$conf" >"$LAB_DIR/dnsdist.log" 2>&1 3>&- &
dd=$!
trap 'kill $dd 2>/dev/null' EXIT
for _ in $(seq 100); do
    grep -q 'Listening on 127.0.0.60:853' "$LAB_DIR/dnsdist.log" && break
    sleep 0.1
done
# Readiness and sanity with the lab's own DoT client (not ours).
for _ in $(seq 50); do
    "$LAB_TOOLS/dotquery" --ca "$LAB_CA" --name dot.lab.example 127.0.0.60 secure.lab.example \
        >/dev/null 2>&1 && break
    sleep 0.1
done

up=(--upstream 127.0.0.60#dot.lab.example)
out=$LAB_DIR/interop1.out
"$H" lookup --stats "${up[@]}" secure.lab.example >"$out" 2>&1
sed 's/^/    /' "$out"
check "secure A through dnsdist" "$out" '^secure.lab.example A: secure rcode=NOERROR'
check "HASTLS through dnsdist" "$out" '^  \(0 443\)$'
check "authenticated TLS, one handshake" "$out" '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]* queries_cleartext=0$'

out=$LAB_DIR/interop2.out
"$H" lookup "${up[@]}" www.bogus.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "bogus detected through dnsdist" "$out" '^www.bogus.lab.example A: bogus '

out=$LAB_DIR/interop3.out
"$H" lookup "${up[@]}" www.insecure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "insecure through dnsdist" "$out" '^www.insecure.lab.example A: insecure rcode=NOERROR'

names=$LAB_DIR/interop-names.txt
: >"$names"
for i in $(seq 1 45); do echo "dd$i.lab.example" >>"$names"; done
for h in secure both clear mail odd; do echo "$h.lab.example" >>"$names"; done
out=$LAB_DIR/interop4.out
"$H" lookup --stats --threads 8 --names "$names" "${up[@]}" A >"$out" 2>&1
st=$?
sed 's/^/    /' "$out"
[ "$st" -eq 0 ] && ok "50 lookups from 8 threads all answered" || bad "50 lookups: status $st"
n=$(grep -Ec '^[a-z0-9]+\.lab\.example A: secure ' "$out")
[ "$n" -eq 50 ] && ok "50 secure answers" || bad "$n secure answers of 50"
check "one handshake with dnsdist for all of them" "$out" '^stats: tls_handshakes=1 tls_resumptions=0 '

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
