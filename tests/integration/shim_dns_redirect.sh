#!/usr/bin/env bash
# shim_dns_redirect: programs with their own DNS client (dig, host, nslookup,
# kdig, drill, Node's c-ares, dnspython, Net::DNS, a raw-socket probe) get
# their answers from the shim's validating resolver under privacy strict,
# with not one port-53 packet to or from the lab resolver on the wire: the
# right addresses, AD only for a secure name and only when asked, RRSIGs for
# DO, SERVFAIL with EDE 6 for a bogus name, TC then TCP for a big answer,
# pipelined TCP, IPv6 and v4-mapped servers, sendmsg/sendmmsg/recvmmsg, fork, non-blocking sockets with epoll,
# a reused query ID, and 16 threads mixing their own queries with
# getaddrinfo(); the responder ignores queries from other processes.  The connection that follows a program's own lookup is
# governed: Node's dns.resolve4 then net.connect(80) to a (0 443) host, and a
# connection to an MX target, are refused with EACCES and the blocked line.
# Chromium (headless, its built-in DNS client) loads an allowed page with no
# port-53 packet and no blocked line, and is refused a forbidden one.
# dns_redirect = no (per [app:NAME]) brings back the refusal.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
DPROBE=$TOOLS/dnsredir_probe.py
SYSPY=/usr/bin/python3 # Debian's, which has python3-dnspython

# run NAME [--addr A] CMD...: CMD under the shim; its output in $LAB_DIR/NAME.out,
# the port-53 packets to or from A (default the lab resolver 127.0.0.53) in
# $LAB_DIR/NAME.pkts.
run() {
    local name=$1 addr=127.0.0.53
    shift
    if [ "$1" = --addr ]; then
        addr=$2
        shift 2
    fi
    "$PKTCOUNT" --port 53 --addr "$addr" -o "$LAB_DIR/$name.pkts" -- \
        env LD_PRELOAD="$S" "$@" >"$LAB_DIR/$name.out" 2>&1
    echo $? >"$LAB_DIR/$name.status"
}
zero() { # zero NAME: NAME sent and received no port-53 packet
    local n
    n=$(cat "$LAB_DIR/$1.pkts")
    [ "$n" -eq 0 ] && ok "$1: 0 port-53 packets" || bad "$1: $n port-53 packets"
}
# check NAME REGEX...: NAME ran without port-53 packets and its output
# matches every REGEX.
check() {
    local name=$1
    shift
    zero "$name"
    for re in "$@"; do
        expect_line "$name: $re" "$LAB_DIR/$name.out" "$re"
    done
}

echo "== control: without the shim, dig sends port-53 packets"
"$PKTCOUNT" --port 53 --addr 127.0.0.53 -o "$LAB_DIR/ctl.pkts" -- \
    dig +tries=1 +time=2 secure.lab.example >/dev/null 2>&1
n=$(cat "$LAB_DIR/ctl.pkts")
[ "$n" -gt 0 ] && ok "dig without the shim: $n packets" || bad "control counted nothing ($n)"

echo "== privacy strict: dig"
run dig dig +tries=1 +time=5 secure.lab.example
check dig '^secure\.lab\.example\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.10\.1$' \
    '^;; flags: qr rd ra ad;' '^;; SERVER: 127\.0\.0\.53#53\(127\.0\.0\.53\) \(UDP\)'
run dig_dnssec dig +tries=1 +time=5 +dnssec secure.lab.example
check dig_dnssec '^;; flags: qr rd ra ad;' '; EDNS: version: 0, flags: do;' \
    '^secure\.lab\.example\.[[:space:]].*RRSIG[[:space:]]+A '
run dig_noad dig +tries=1 +time=5 +noadflag secure.lab.example
check dig_noad '^;; flags: qr rd ra;'
run dig_insecure dig +tries=1 +time=5 +dnssec www.insecure.lab.example
check dig_insecure '^;; flags: qr rd ra;' 'IN[[:space:]]+A[[:space:]]+127\.0\.10\.10$'
run dig_bogus dig +tries=1 +time=5 www.bogus.lab.example
check dig_bogus 'status: SERVFAIL' '^; EDE: 6 \(DNSSEC Bogus\)'
expect_no_line "dig_bogus: no address handed out" "$LAB_DIR/dig_bogus.out" '127\.0\.10\.11'
run dig_nx dig +tries=1 +time=5 nosuch.lab.example
check dig_nx 'status: NXDOMAIN' '^lab\.example\..*SOA'
run dig_tcp dig +tries=1 +time=5 +tcp secure.lab.example
check dig_tcp 'IN[[:space:]]+A[[:space:]]+127\.0\.10\.1$' '^;; SERVER: 127\.0\.0\.53#53\(127\.0\.0\.53\) \(TCP\)'
run dig_tc dig +tries=1 +time=5 +noedns big.lab.example TXT
check dig_tc '^;; Truncated, retrying in TCP mode\.' '\(TCP\)$' '^big\.lab\.example\..*TXT'
run dig_srv dig +tries=1 +time=5 +short _xmpp-client._tcp.lab.example SRV
check dig_srv '^0 0 5222 xmpp\.lab\.example\.$'
run dig_hastls dig +tries=1 +time=5 +short secure.lab.example TYPE65301
check dig_hastls '^\\# 4 000001BB$'

echo "== privacy strict: host, nslookup, drill, kdig"
run host host secure.lab.example
check host '^secure\.lab\.example has address 127\.0\.10\.1$'
run host_mx host -t mx lab.example
check host_mx '^lab\.example mail is handled by 10 mail\.lab\.example\.$'
run nslookup nslookup secure.lab.example
check nslookup '^Address: 127\.0\.10\.1$'
run drill drill secure.lab.example
check drill '^secure\.lab\.example\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.10\.1$'
if command -v kdig >/dev/null; then
    run kdig kdig +dnssec secure.lab.example
    check kdig 'Flags: qr rd ra ad;' '^secure\.lab\.example\..*RRSIG'
else
    bad "kdig missing (knot-dnsutils, scripts/install-deps)"
fi

echo "== privacy strict: node, dnspython, Net::DNS"
run node node -e '
const dns = require("dns");
dns.resolve4("secure.lab.example", (e, a) => console.log("A", e ? e.code : a.join(",")));
dns.resolveSrv("_xmpp-client._tcp.lab.example", (e, a) =>
    console.log("SRV", e ? e.code : a.map(r => r.name + ":" + r.port).join(",")));
dns.resolveMx("lab.example", (e, a) =>
    console.log("MX", e ? e.code : a.map(r => r.priority + " " + r.exchange).join(",")));
dns.resolve4("www.bogus.lab.example", (e, a) => console.log("BOGUS", e ? e.code : a));
'
check node '^A 127\.0\.10\.1$' '^SRV xmpp\.lab\.example:5222$' '^MX 10 mail\.lab\.example$' \
    '^BOGUS ESERVFAIL$'
if $SYSPY -c 'import dns.resolver' 2>/dev/null; then
    run dnspython $SYSPY -c '
import dns.flags, dns.resolver
r = dns.resolver.Resolver()
r.use_edns(0, dns.flags.DO, 1232)
a = r.resolve("secure.lab.example", "A")
print("A", ",".join(x.address for x in a), "ad" if a.response.flags & dns.flags.AD else "-")
m = r.resolve("lab.example", "MX")
print("MX", ",".join(str(x.exchange) for x in m))
try:
    r.resolve("www.bogus.lab.example", "A")
except dns.resolver.NoNameservers:
    print("BOGUS servfail")
'
    check dnspython '^A 127\.0\.10\.1 ad$' '^MX mail\.lab\.example\.$' '^BOGUS servfail$'
else
    bad "dnspython missing (python3-dnspython, scripts/install-deps)"
fi
if perl -MNet::DNS -e1 2>/dev/null; then
    run perl perl -MNet::DNS -e '
my $r = Net::DNS::Resolver->new(udp_timeout => 5, retry => 1);
my $p = $r->query("secure.lab.example", "A");
print "A ", ($p ? join(",", map { $_->address } grep { $_->type eq "A" } $p->answer) : $r->errorstring), "\n";
$r->usevc(1);
$p = $r->query("_xmpp-client._tcp.lab.example", "SRV");
print "SRV ", ($p ? join(",", map { $_->target } $p->answer) : $r->errorstring), "\n";
'
    check perl '^A 127\.0\.10\.1$' '^SRV xmpp\.lab\.example$'
else
    bad "Net::DNS missing (libnet-dns-perl, scripts/install-deps)"
fi

echo "== privacy strict: sockets the way DNS clients use them"
run epoll python3 "$DPROBE" epoll 127.0.0.53 secure.lab.example both.lab.example secure.lab.example
check epoll '^epoll secure\.lab\.example 127\.0\.10\.1 id=4242 from=127\.0\.0\.53:53$' \
    '^epoll both\.lab\.example 127\.0\.10\.2 id=4242 from=127\.0\.0\.53:53$'
expect_count "epoll: the reused ID answered every time" "$LAB_DIR/epoll.out" '^epoll .* id=4242 ' 3
run connected python3 "$DPROBE" connected 127.0.0.53 clear.lab.example
# getsockname() shows the local address the kernel picks towards the server
# (programs learn their outgoing address so), not the responder's loopback
# route: in the lab, where the servers' addresses are on lo, the server's
# own address, as without the shim (the control run below).
check connected '^connected clear\.lab\.example 127\.0\.10\.3 peer=127\.0\.0\.53:53 local=127\.0\.0\.53$'
run connected6 --addr fd00:1ab::53 python3 "$DPROBE" connected fd00:1ab::53 secure.lab.example
check connected6 '^connected secure\.lab\.example 127\.0\.10\.1 peer=fd00:1ab::53:53 local=fd00:1ab::53$'
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.53", 53))
print("local=" + s.getsockname()[0])
' >"$LAB_DIR/bare_local.out" 2>&1
expect_line "control: the same address without the shim" "$LAB_DIR/bare_local.out" '^local=127\.0\.0\.53$'
run tcp python3 "$DPROBE" tcp 127.0.0.53 secure.lab.example dual.lab.example
check tcp '^tcp secure\.lab\.example 127\.0\.10\.1 peer=127\.0\.0\.53:53$' \
    '^tcp dual\.lab\.example 127\.0\.10\.8 peer=127\.0\.0\.53:53$'
run v6 --addr fd00:1ab::53 python3 "$DPROBE" epoll fd00:1ab::53 secure.lab.example
check v6 '^epoll secure\.lab\.example 127\.0\.10\.1 id=4242 from=fd00:1ab::53:53$'
run v6tcp --addr fd00:1ab::53 python3 "$DPROBE" tcp fd00:1ab::53 both.lab.example
check v6tcp '^tcp both\.lab\.example 127\.0\.10\.2 peer=fd00:1ab::53:53$'
run mapped python3 "$DPROBE" epoll ::ffff:127.0.0.53 odd.lab.example
check mapped '^epoll odd\.lab\.example 127\.0\.10\.5 id=4242 from=::ffff:127\.0\.0\.53:53$'
run msg python3 "$DPROBE" msg 127.0.0.53 norecord.lab.example
check msg '^msg norecord\.lab\.example 127\.0\.10\.6 from=127\.0\.0\.53:53$'
if cc -o "$LAB_DIR/dnsredir_mmsg" "$TOOLS/dnsredir_mmsg.c" 2>"$LAB_DIR/mmsg_cc.out"; then
    run mmsg "$LAB_DIR/dnsredir_mmsg" 127.0.0.53 secure.lab.example nosuch.lab.example
    check mmsg '^answer 1 rcode 0 ancount 1 from=127\.0\.0\.53:53$' \
        '^answer 2 rcode 3 ancount 0 from=127\.0\.0\.53:53$'
else
    bad "cannot build dnsredir_mmsg.c: $(cat "$LAB_DIR/mmsg_cc.out")"
fi
run bound python3 "$DPROBE" bound 127.0.0.53 127.0.0.2 odd.lab.example
check bound '^bound odd\.lab\.example 127\.0\.10\.5 from=127\.0\.0\.53:53 local=127\.0\.0\.2$'
# Bound to an address that is not loopback (the lab's IPv6 addresses are on lo).
run bound6 --addr fd00:1ab::53 python3 "$DPROBE" bound fd00:1ab::53 fd00:1ab::7 odd.lab.example
check bound6 '^bound odd\.lab\.example 127\.0\.10\.5 from=fd00:1ab::53:53 local=fd00:1ab::7$'
run fork python3 "$DPROBE" fork 127.0.0.53 secure.lab.example both.lab.example
check fork '^parent secure\.lab\.example 127\.0\.10\.1 from=127\.0\.0\.53:53$' \
    '^child new both\.lab\.example 127\.0\.10\.2 from=127\.0\.0\.53:53$' \
    '^child inherited both\.lab\.example 127\.0\.10\.2 from=127\.0\.0\.53:53$' \
    '^parent again both\.lab\.example 127\.0\.10\.2 from=127\.0\.0\.53:53$'
# The responder listens on loopback, where every local user can reach it: it
# answers only the sockets the shim sent there.
run foreign python3 "$DPROBE" foreign 127.0.0.53 secure.lab.example
check foreign '^foreign no answer$' '^own-socket no answer$'
expect_no_line "foreign: nothing answered" "$LAB_DIR/foreign.out" 'answered|ERROR'
run threads python3 "$DPROBE" threads 127.0.0.53 16 20
check threads '^threads 320 of 320$'
expect_status "threads: no error" "$(cat "$LAB_DIR/threads.status")" 0

echo "== privacy strict: the connection after a program's own lookup is governed"
run node_connect node -e '
const dns = require("dns"), net = require("net");
dns.resolve4("secure.lab.example", (e, a) => {
    if (e) return console.log("lookup", e.code);
    const c = net.connect(80, a[0]);
    c.on("connect", () => { console.log("connected"); c.end(); });
    c.on("error", err => console.log("connect", err.code));
});
'
check node_connect '^connect EACCES$' \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .*\(client cfb\)$'
run node_mx node -e '
const dns = require("dns"), net = require("net");
dns.resolveMx("lab.example", (e, a) => {
    if (e) return console.log("lookup", e.code);
    const c = net.connect(110, "127.0.10.4");
    c.on("connect", () => { console.log("connected"); c.end(); });
    c.on("error", err => console.log("connect", err.code));
});
'
check node_mx '^connect EACCES$' '^hastls: blocked connect to mail\.lab\.example\[127\.0\.10\.4\]:110: '
# Control: the same literal address without the MX lookup is not governed
# (agent = off: no other process's lookups through the agent's shared table).
run node_literal env HASTLS_CONF="$(conf literal agent=off)" node -e '
const c = require("net").connect(110, "127.0.10.4");
c.on("connect", () => { console.log("connected"); c.end(); });
c.on("error", err => console.log("connect", err.code));
'
check node_literal '^connect ECONNREFUSED$'

echo "== privacy strict: Chromium (its own DNS client, headless, default features)"
# chrome NAME URL [ENV...]: Chromium under the shim (and ENV) dumps URL's page.
chrome() {
    local name=$1 url=$2
    shift 2
    mkdir -p "$LAB_DIR/home"
    run "$name" HOME="$LAB_DIR/home" "$@" timeout 120 chromium --headless=new --no-sandbox \
        --disable-gpu --no-first-run --user-data-dir="$LAB_DIR/$name.profile" --dump-dom "$url"
}
if [ -n "$PRE" ]; then
    # Under make integration-asan the runtime in front breaks Chromium's
    # wrapper script (/usr/bin/chromium) before the browser starts.
    echo "skip chromium: not with the sanitizer runtime preloaded"
elif command -v chromium >/dev/null; then
    chrome chromium http://both.lab.example/
    check chromium 'OK both\.lab\.example 80'
    expect_no_line "chromium: no blocked line" "$LAB_DIR/chromium.out" '^hastls: '
    chrome chromium_forbidden http://secure.lab.example/
    check chromium_forbidden \
        '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: '
    expect_no_line "chromium_forbidden: never reached the impostor" \
        "$LAB_DIR/chromium_forbidden.out" 'IMPOSTOR'
    # Control: with dns_redirect = no its own client is refused (and falls
    # back to the C library), which is what the lines above must not show.
    chrome chromium_noredir http://both.lab.example/ \
        HASTLS_CONF="$(conf chrome_noredir dns_redirect=no)"
    expect_line "chromium_noredir: its own queries refused" "$LAB_DIR/chromium_noredir.out" \
        '^hastls: blocked connect to \[127\.0\.0\.53\]:53: '
else
    echo "skip chromium: not installed"
fi

echo "== privacy strict, agent = off: the in-process resolver answers"
noagent=$(conf noagent agent=off)
HASTLS_CONF=$noagent run inproc dig +tries=1 +time=5 +dnssec secure.lab.example
check inproc '^;; flags: qr rd ra ad;' '^secure\.lab\.example\.[[:space:]].*RRSIG[[:space:]]+A '
HASTLS_CONF=$noagent run inproc_bogus dig +tries=1 +time=5 www.bogus.lab.example
check inproc_bogus 'status: SERVFAIL' '^; EDE: 6 \(DNSSEC Bogus\)'
HASTLS_CONF=$noagent run inproc_node node -e '
require("dns").resolve4("clear.lab.example", (e, a) => console.log("A", e ? e.code : a.join(",")));
'
check inproc_node '^A 127\.0\.10\.3$'

echo "== privacy encrypted"
HASTLS_CONF=$(conf encrypted privacy=encrypted) run enc dig +tries=1 +time=5 +short secure.lab.example
check enc '^127\.0\.10\.1$'

echo "== dns_redirect = no for one program: refused again"
HASTLS_CONF=$(conf noredir -- '[app:dig]' 'dns_redirect = no') \
    run noredir dig +tries=1 +time=1 secure.lab.example
check noredir '^hastls: blocked (connect|send) to \[127\.0\.0\.53\]:53: cleartext DNS is refused under privacy strict'
if [ -x "$HASTLS_BUILD/hastls" ]; then # not in make integration-asan's build
    HASTLS_CONF=$LAB_DIR/noredir.conf "$HASTLS_BUILD/hastls" config show --app /usr/bin/dig \
        >"$LAB_DIR/noredir_show.out" 2>&1
    expect_line "hastls config show: dns_redirect for dig" "$LAB_DIR/noredir_show.out" \
        '^dns_redirect = no$'
fi
HASTLS_CONF=$LAB_DIR/noredir.conf run noredir_host host secure.lab.example
check noredir_host '^secure\.lab\.example has address 127\.0\.10\.1$'

echo "== privacy off: answered by the shim too (validated)"
HASTLS_CONF=$(conf off privacy=off) LD_PRELOAD=$S dig +tries=1 +time=5 www.bogus.lab.example \
    >"$LAB_DIR/off.out" 2>&1
expect_line "off: bogus still SERVFAIL" "$LAB_DIR/off.out" 'status: SERVFAIL'

finish
