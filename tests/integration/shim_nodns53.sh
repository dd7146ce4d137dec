#!/usr/bin/env bash
# shim_nodns53: with dns_redirect = no, under privacy strict (and encrypted)
# no program sends one cleartext port-53 packet: getent, curl and python3
# resolve over DoT through the shim; dig, which has its own resolver and
# talks to resolv.conf's 127.0.0.53:53 directly, is refused at connect/sendto
# with EACCES and a log line.  Controls: without the shim the same commands
# do send port-53 packets (so the counter works), and under privacy off the
# shim lets the program's own port-53 traffic through.  (With dns_redirect =
# yes, the default, the shim answers such queries itself:
# shim_dns_redirect.sh.)
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out

# count53 NAME CMD...: runs CMD under pktcount --port 53, prints the count.
# CMD runs once before, uncounted: the lab's resolver then has the answers
# cached and its own queries to the authoritative server (port 53 on lo too)
# do not blur the count.
count53() {
    local name=$1
    shift
    "$@" >/dev/null 2>&1
    "$PKTCOUNT" --port 53 -o "$LAB_DIR/$name.pkts" -- "$@" >"$LAB_DIR/$name.out" 2>&1
    echo $? >"$LAB_DIR/$name.status"
    cat "$LAB_DIR/$name.pkts"
}
zero() { # zero DESCRIPTION NAME
    local n
    n=$(cat "$LAB_DIR/$2.pkts")
    [ "$n" -eq 0 ] && ok "$1: 0 port-53 packets" || bad "$1: $n port-53 packets"
}

echo "== control: without the shim, port 53 is used"
n=$(count53 ctl getent ahosts both.lab.example)
[ "$n" -gt 0 ] && ok "getent without shim: $n packets" || bad "control counted nothing ($n)"

for privacy in strict encrypted; do
    echo "== privacy $privacy"
    export HASTLS_CONF
    HASTLS_CONF=$(conf "$privacy" privacy=$privacy dns_redirect=no)
    count53 getent env LD_PRELOAD="$S" getent ahosts secure.lab.example >/dev/null
    zero "getent" getent
    expect_line "getent resolved" "$LAB_DIR/getent.out" '^127\.0\.10\.1 +STREAM'
    count53 curl env LD_PRELOAD="$S" curl -sS --cacert "$LAB_CA" https://secure.lab.example/ >/dev/null
    zero "curl" curl
    expect_line "curl fetched" "$LAB_DIR/curl.out" '^OK secure\.lab\.example 443'
    count53 py env LD_PRELOAD="$S" python3 "$PROBE" both.lab.example:443 v6.lab.example:443 >/dev/null
    zero "python3" py
    expect_line "python3 connected" "$LAB_DIR/py.out" '^both\.lab\.example:443 127\.0\.10\.2 ok$'
    count53 dig env LD_PRELOAD="$S" dig +tries=1 +time=1 secure.lab.example >/dev/null
    zero "dig" dig
    expect_line "dig refused with the reason" "$LAB_DIR/dig.out" \
        "^hastls: blocked (connect|send) to \[127\.0\.0\.53\]:53: cleartext DNS is refused under privacy $privacy"
    count53 dig6 env LD_PRELOAD="$S" dig +tries=1 +time=1 +tcp @127.0.1.1 secure.lab.example >/dev/null
    zero "dig +tcp to another server" dig6
    # A raw UDP datagram to port 53 (the program's own resolver code).
    count53 raw env LD_PRELOAD="$S" python3 "$PROBE" --send 127.0.0.53:53 >/dev/null
    zero "python3 sendto port 53" raw
    expect_line "sendto refused" "$LAB_DIR/raw.out" '^127\.0\.0\.53:53 127\.0\.0\.53 EACCES$'
done

echo "== privacy off: the program's own port 53 is not refused"
HASTLS_CONF=$(conf off privacy=off dns_redirect=no) LD_PRELOAD=$S dig +tries=1 +time=2 +short \
    secure.lab.example >"$out" 2>&1
expect_line "dig works under off" "$out" '^127\.0\.10\.1$'

finish
