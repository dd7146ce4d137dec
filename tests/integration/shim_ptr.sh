#!/usr/bin/env bash
# shim_ptr: address-to-name lookups through DNS under the shim.  The lab's
# reverse zones (10.0.127.in-addr.arpa. and fd00:1ab::/64 under ip6.arpa.,
# signed, delegated from arpa. under the private root) carry a PTR for every
# lab host address.  getent hosts ADDR (gethostbyaddr), python3
# gethostbyaddr and getnameinfo(NI_NAMEREQD) must return the lab names, over
# DoT only (no port-53 packet, so libc's own resolver did not answer), and an
# address without PTR must stay unnamed.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out

echo "== control: the lab's reverse zones validate (no shim)"
dig +dnssec +noall +comments +answer -x 127.0.10.1 @127.0.0.53 >"$out" 2>&1
expect_line "IPv4 PTR" "$out" 'IN[[:space:]]+PTR[[:space:]]+secure\.lab\.example\.$'
expect_line "validated (AD)" "$out" '^;; flags:.* ad[ ;]'
dig +dnssec +noall +comments +answer -x fd00:1ab::7 @127.0.0.53 >"$out" 2>&1
expect_line "IPv6 PTR" "$out" 'IN[[:space:]]+PTR[[:space:]]+v6\.lab\.example\.$'
expect_line "validated (AD)" "$out" '^;; flags:.* ad[ ;]'

# The lab resolver's own queries to the authoritative server use port 53 on lo
# too: each counted command runs once before, uncounted, so that the resolver
# has the answers cached (the PTRs, and the DS of every label libunbound walks)
# and the counts see only what the programs send.

echo "== getent hosts ADDR (gethostbyaddr)"
LD_PRELOAD=$S getent hosts 127.0.10.1 >/dev/null 2>&1
"$PKTCOUNT" --port 53 -o "$LAB_DIR/getent.pkts" -- env LD_PRELOAD="$S" \
    getent hosts 127.0.10.1 >"$out" 2>&1
expect_line "IPv4" "$out" '^127\.0\.10\.1 +secure\.lab\.example$'
n=$(cat "$LAB_DIR/getent.pkts")
[ "$n" -eq 0 ] && ok "no port-53 packet" || bad "$n port-53 packets"
LD_PRELOAD=$S getent hosts fd00:1ab::7 >"$out" 2>&1
expect_line "IPv6" "$out" '^fd00:1ab::7 +v6\.lab\.example$'
LD_PRELOAD=$S getent hosts 127.0.10.99 >"$out" 2>&1
expect_status "no PTR: not found" $? 2

echo "== python3 gethostbyaddr and getnameinfo"
cat >"$LAB_DIR/ptr.py" <<'PY'
import socket
print("byaddr4", socket.gethostbyaddr("127.0.10.2")[0])
print("byaddr6", socket.gethostbyaddr("fd00:1ab::8")[0])
print("nameinfo4", socket.getnameinfo(("127.0.10.5", 8080), socket.NI_NAMEREQD)[0])
print("nameinfo6", socket.getnameinfo(("fd00:1ab::8", 443), socket.NI_NAMEREQD)[0])
try:
    socket.getnameinfo(("127.0.10.99", 80), socket.NI_NAMEREQD)
    print("nameinfo-none found")
except socket.gaierror as e:
    print("nameinfo-none", e.errno == socket.EAI_NONAME)
try:
    socket.gethostbyaddr("127.0.10.99")
    print("byaddr-none found")
except socket.herror:
    print("byaddr-none herror")
PY
LD_PRELOAD=$S python3 "$LAB_DIR/ptr.py" >/dev/null 2>&1
"$PKTCOUNT" --port 53 -o "$LAB_DIR/py.pkts" -- env LD_PRELOAD="$S" \
    python3 "$LAB_DIR/ptr.py" >"$out" 2>&1
expect_line "gethostbyaddr IPv4" "$out" '^byaddr4 both\.lab\.example$'
expect_line "gethostbyaddr IPv6" "$out" '^byaddr6 dual\.lab\.example$'
expect_line "getnameinfo NI_NAMEREQD IPv4" "$out" '^nameinfo4 odd\.lab\.example$'
expect_line "getnameinfo NI_NAMEREQD IPv6" "$out" '^nameinfo6 dual\.lab\.example$'
expect_line "getnameinfo without PTR: EAI_NONAME" "$out" '^nameinfo-none True$'
expect_line "gethostbyaddr without PTR: herror" "$out" '^byaddr-none herror$'
n=$(cat "$LAB_DIR/py.pkts")
[ "$n" -eq 0 ] && ok "no port-53 packet" || bad "$n port-53 packets"

finish
