#!/usr/bin/env bash
# resolver_alpn: ALPN lists and servers that do not speak DNS.  A port-443
# server that multiplexes DNS and HTTP by ALPN (tests/tools/tls_mux.py, "dns"
# for DNS, anything else HTTP) and Knot Resolver (kresd, which refuses a
# handshake offering only "dns") are both usable with one configuration,
# `alpn = dot, dns`; neither is with a single id.  A TLS server that
# negotiates no ALPN and answers HTTP fails its upstream once (one
# connection, not one per query), with a line saying the reply is not DNS,
# and the lookup goes on to the next upstream.
set -u
H=$HASTLS_BUILD/hastls
tools=$(dirname "$0")/../tools
# shellcheck source=../tools/interop_servers.sh
. "$tools/interop_servers.sh"
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
command -v kresd >/dev/null 2>&1 || { echo "kresd not installed: skip"; exit 77; }

# conf NAME ALPN UPSTREAM...: the lab's configuration with these upstreams
# and alpn line; prints its path.
conf() {
    local f=$LAB_DIR/alpn-$1.conf alpn=$2 u
    shift 2
    {
        echo "[resolver]"
        for u in "$@"; do echo "upstream = $u"; done
        echo "alpn = $alpn"
        grep -Ev '^(\[resolver\]|upstream *=)' "$HASTLS_CONF"
    } >"$f"
    echo "$f"
}

# mux NAME ADDR SERVER-ALPN: a tls_mux on ADDR:443, logging to $LAB_DIR/NAME.log.
mux() {
    local _
    interop_addr "$2"
    python3 "$tools/tls_mux.py" --listen "$2:443" --cert "$LAB_DIR/certs/dot.pem" \
        --key "$LAB_DIR/certs/dot.key" --alpn "$3" --log "$LAB_DIR/$1.log" &
    for _ in $(seq 100); do
        grep -qs '^listening' "$LAB_DIR/$1.log" && return 0
        sleep 0.05
    done
    bad "tls_mux $1 did not start"
    return 1
}

start_kresd 127.0.0.61 || bad "kresd did not start"
mux mux 127.0.0.64 dns,http/1.1
mux web 127.0.0.63 ''
KRESD=127.0.0.61@853#dot.lab.example
MUX=127.0.0.64@443#dot.lab.example
WEB=127.0.0.63@443#dot.lab.example
UNBOUND=127.0.0.53@853#dot.lab.example

# 1. One list for both servers.
out=$LAB_DIR/alpn1.out
"$H" lookup --config "$(conf both-kresd 'dot, dns' "$KRESD")" secure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "alpn = dot, dns: kresd answers" "$out" '^secure.lab.example A: secure rcode=NOERROR'
out=$LAB_DIR/alpn2.out
"$H" lookup --config "$(conf both-mux 'dot, dns' "$MUX")" secure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "alpn = dot, dns: the port-443 server answers" "$out" \
    '^secure.lab.example A: secure rcode=NOERROR'
check "... over its DNS service (ALPN dns selected)" "$LAB_DIR/mux.log" '^conn alpn=dns$'

# 2. A single id serves only one of them.
out=$LAB_DIR/alpn3.out
"$H" lookup --config "$(conf dns-kresd dns "$KRESD")" secure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "alpn = dns: kresd refuses the handshake" "$out" 'reason: .*no application protocol'
out=$LAB_DIR/alpn4.out
"$H" lookup --config "$(conf dot-mux dot "$MUX")" secure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "alpn = dot: the port-443 server answers HTTP, said so" "$out" \
    'reason: .*127.0.0.64@443: the reply is not DNS \(it begins "HTTP/1.1 400'

# 3. A server that answers HTTP, first in the list: one connection, a line
# saying why, and the next upstream answers.
: >"$LAB_DIR/web.log"
out=$LAB_DIR/alpn5.out
"$H" lookup --config "$(conf web-first dot "$WEB" "$UNBOUND")" secure.lab.example >"$out" 2>&1
sed 's/^/    /' "$out"
check "HTTP server first: the next upstream answers" "$out" \
    '^secure.lab.example A: secure rcode=NOERROR'
check "... HASTLS too" "$out" '^secure.lab.example HASTLS: secure rcode=NOERROR'
check "... and the log says the reply is not DNS" "$out" \
    '^hastls: upstream 127.0.0.63@443: the reply is not DNS \(it begins "HTTP/1.1 400'
n=$(grep -c '^conn ' "$LAB_DIR/web.log")
[ "$n" -eq 1 ] && ok "... one connection to it for the whole lookup" ||
    bad "... $n connections to the HTTP server (one expected)"

# ... and alone: one connection for the whole lookup (libunbound asks again
# at once after SERVFAIL: none of its retries may cost a connection), and
# the reason is the server's, not "the upstream answered SERVFAIL".
: >"$LAB_DIR/web.log"
out=$LAB_DIR/alpn5b.out
"$H" lookup --config "$(conf web-alone dot "$WEB")" secure.lab.example >"$out" 2>&1
sed 's/^/    /' "$out"
check "HTTP server alone: the lookup fails with the reason" "$out" \
    '^  reason: .*127.0.0.63@443: the reply is not DNS \(it begins "HTTP/1.1 400'
n=$(grep -c '^conn ' "$LAB_DIR/web.log")
[ "$n" -eq 1 ] && ok "... one connection to it for the whole lookup" ||
    bad "... $n connections to the HTTP server (one expected)"

# 4. Offering only "dns", a server that selects no ALPN is not used.
: >"$LAB_DIR/web.log"
out=$LAB_DIR/alpn6.out
"$H" lookup --config "$(conf dns-web dns "$WEB" "$MUX")" secure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "alpn = dns: a server selecting none fails, said so" "$out" \
    '127.0.0.63@443: the server selected none of the ALPN ids offered \(dns\)'
check "... and the next upstream answers" "$out" '^secure.lab.example A: secure rcode=NOERROR'

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
