#!/usr/bin/env bash
# shim_lookups: name lookups under the shim through every libc entry point
# programs use: getent (getaddrinfo, gethostbyname2, gethostbyaddr), python3
# (getaddrinfo errors as EAI_* codes, AI_CANONNAME, gethostbyname_ex,
# gethostbyaddr, getnameinfo), res_query/__res_query/res_search/res_send via
# ctypes answered from the validated packet (AD bit, ID of the query), the
# hosts file (and that its names never reach DNS), localhost.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out

echo "== getent"
LD_PRELOAD=$S getent ahosts secure.lab.example >"$out" 2>&1
expect_line "ahosts: stream entry with canonical name" "$out" '^127\.0\.10\.1 +STREAM secure\.lab\.example$'
expect_count "ahosts: stream, dgram, raw" "$out" '^127\.0\.10\.1 ' 3
LD_PRELOAD=$S getent ahostsv6 v6.lab.example >"$out" 2>&1
expect_line "ahostsv6 v6-only host" "$out" '^fd00:1ab::7 +STREAM v6\.lab\.example$'
LD_PRELOAD=$S getent ahostsv4 dual.lab.example >"$out" 2>&1
expect_line "ahostsv4 dual" "$out" '^127\.0\.10\.8 +STREAM'
expect_no_line "ahostsv4 has no IPv6" "$out" 'fd00'
LD_PRELOAD=$S getent hosts alias.lab.example >"$out" 2>&1
expect_line "hosts: CNAME gives canonical name and alias" "$out" \
    '^127\.0\.10\.1 +secure\.lab\.example +alias\.lab\.example$'
LD_PRELOAD=$S getent ahosts www.bogus.lab.example >"$out" 2>&1
expect_status "bogus: not found" $? 2
expect_line "bogus: why" "$out" '^hastls: lookup of www\.bogus\.lab\.example failed DNSSEC validation'
LD_PRELOAD=$S getent ahosts nosuch.lab.example >"$out" 2>&1
expect_status "NXDOMAIN: not found" $? 2
LD_PRELOAD=$S getent hosts localhost >"$out" 2>&1
expect_line "localhost" "$out" '^(127\.0\.0\.1|::1) +localhost'
LD_PRELOAD=$S getent hosts 127.0.20.1 >"$out" 2>&1
expect_line "gethostbyaddr from the hosts file" "$out" '^127\.0\.20\.1 +hostsfile\.lab\.example$'

echo "== hosts-file names never reach DNS"
"$PKTCOUNT" --addr 127.0.0.53 -o "$LAB_DIR/hosts.pkts" -- env LD_PRELOAD="$S" \
    python3 -c 'import socket
try:
    socket.getaddrinfo("hostsfile.lab.example", 80, socket.AF_INET6)
    print("found")
except socket.gaierror as e:
    print("gai", e.errno == socket.EAI_NONAME)' >"$out" 2>&1
expect_line "no IPv6 in the file: EAI_NONAME" "$out" '^gai True$'
n=$(cat "$LAB_DIR/hosts.pkts")
[ "$n" -eq 0 ] && ok "no packet to the resolver ($n)" || bad "hosts name went to DNS ($n packets)"
"$PKTCOUNT" --addr 127.0.0.53 -o "$LAB_DIR/hosts2.pkts" -- env LD_PRELOAD="$S" \
    getent ahosts hostsfile.lab.example >"$out" 2>&1
expect_line "hosts file answer" "$out" '^127\.0\.20\.1 +STREAM hostsfile\.lab\.example$'
n=$(cat "$LAB_DIR/hosts2.pkts")
[ "$n" -eq 0 ] && ok "no packet to the resolver ($n)" || bad "hosts name went to DNS ($n packets)"

echo "== python3"
cat >"$LAB_DIR/lookups.py" <<'PY'
import ctypes, socket, struct
GAI = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
def gai(name, *a, **k):
    try:
        r = socket.getaddrinfo(name, *a, **k)
        return "ok " + " ".join(sorted({x[4][0] for x in r}))
    except socket.gaierror as e:
        return "gai:" + GAI.get(e.errno, str(e.errno))
print("bogus", gai("www.bogus.lab.example", 443))
print("expired", gai("www.expired.lab.example", 443))
print("nxdomain", gai("nosuch.lab.example", 443))
print("nodata", gai("v6.lab.example", 443, socket.AF_INET))
print("insecure", gai("www.insecure.lab.example", 443))
print("dual", gai("dual.lab.example", 443, type=socket.SOCK_STREAM))
print("mapped", gai("secure.lab.example", 443, socket.AF_INET6, socket.SOCK_STREAM, 0,
                    socket.AI_V4MAPPED))
print("numeric", gai("127.0.10.1", "https", type=socket.SOCK_STREAM))
print("numericonly", gai("secure.lab.example", 443, flags=socket.AI_NUMERICHOST))
r = socket.getaddrinfo("alias.lab.example", 80, socket.AF_INET, socket.SOCK_STREAM, 0,
                       socket.AI_CANONNAME)
print("canon", r[0][3])
print("byname_ex", socket.gethostbyname_ex("alias.lab.example"))
print("byname", socket.gethostbyname("mail.lab.example"))
print("byaddr", socket.gethostbyaddr("127.0.20.1")[0])
print("nameinfo", socket.getnameinfo(("127.0.20.1", 443), 0))
print("nameinfo_numeric", socket.getnameinfo(("127.0.10.1", 80), socket.NI_NUMERICHOST))
try:
    socket.getnameinfo(("127.0.10.99", 80), socket.NI_NAMEREQD)
    print("namereqd ok")
except socket.gaierror as e:
    print("namereqd gai:" + GAI.get(e.errno, str(e.errno)))
print("nameinfo_fallback", socket.getnameinfo(("127.0.10.99", 80), 0))

libc = ctypes.CDLL(None)
buf = ctypes.create_string_buffer(4096)
for fn in ("res_query", "__res_query", "res_search", "__res_search"):
    n = getattr(libc, fn)(b"secure.lab.example", 1, 65301, buf, 4096)
    raw = buf.raw[:n] if n > 0 else b""
    an = struct.unpack("!H", raw[6:8])[0] if n >= 12 else -1
    ad = bool(raw[3] & 0x20) if n >= 12 else None
    print(fn, "len>0" if n > 0 else "len=%d" % n, "ancount=%d" % an, "ad=%s" % ad)
n = libc.res_query(b"nosuch.lab.example", 1, 1, buf, 4096)
print("res_query_nx", n)
# res_send with a query of our own: the answer carries our ID.
q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l for l in b"secure.lab.example".split(b".")) + b"\0"
q += struct.pack("!HH", 1, 1)
n = libc.res_send(q, len(q), buf, 4096)
raw = buf.raw[:n] if n > 0 else b""
print("res_send", "id=%04x" % struct.unpack("!H", raw[:2])[0] if n >= 12 else n,
      "ancount=%d" % struct.unpack("!H", raw[6:8])[0] if n >= 12 else "")
PY
LD_PRELOAD=$S python3 "$LAB_DIR/lookups.py" >"$out" 2>&1
expect_line "bogus -> EAI_FAIL" "$out" '^bogus gai:EAI_FAIL$'
expect_line "expired -> EAI_FAIL" "$out" '^expired gai:EAI_FAIL$'
expect_line "nxdomain -> EAI_NONAME" "$out" '^nxdomain gai:EAI_NONAME$'
expect_line "no A -> EAI_NODATA" "$out" '^nodata gai:EAI_NODATA$'
expect_line "insecure zone resolves" "$out" '^insecure ok 127\.0\.10\.10$'
expect_line "dual: both families" "$out" '^dual ok 127\.0\.10\.8 fd00:1ab::8$'
expect_line "AI_V4MAPPED" "$out" '^mapped ok ::ffff:127\.0\.10\.1$'
expect_line "numeric host and service name" "$out" '^numeric ok 127\.0\.10\.1$'
expect_line "AI_NUMERICHOST with a name" "$out" '^numericonly gai:EAI_NONAME$'
expect_line "AI_CANONNAME follows the CNAME" "$out" '^canon secure\.lab\.example$'
expect_line "gethostbyname_ex" "$out" \
    "^byname_ex \('secure\.lab\.example', \['alias\.lab\.example'\], \['127\.0\.10\.1'\]\)$"
expect_line "gethostbyname" "$out" '^byname 127\.0\.10\.4$'
expect_line "gethostbyaddr (hosts file)" "$out" '^byaddr hostsfile\.lab\.example$'
expect_line "getnameinfo (hosts file, service)" "$out" "^nameinfo \('hostsfile\.lab\.example', 'https'\)$"
expect_line "getnameinfo NI_NUMERICHOST" "$out" "^nameinfo_numeric \('127\.0\.10\.1', 'http'\)$"
expect_line "getnameinfo NI_NAMEREQD without PTR" "$out" '^namereqd gai:EAI_(NONAME|AGAIN)$'
expect_line "getnameinfo numeric fallback" "$out" "^nameinfo_fallback \('127\.0\.10\.99', 'http'\)$"
for fn in res_query __res_query res_search __res_search; do
    expect_line "$fn: validated HASTLS answer" "$out" "^$fn len>0 ancount=[1-9] ad=True$"
done
expect_line "res_query NXDOMAIN -> -1" "$out" '^res_query_nx -1$'
expect_line "res_send keeps the query ID" "$out" '^res_send id=4242 ancount=[1-9]$'

echo "== resolv.conf search list"
if echo "search nosuch.example lab.example" >>/etc/resolv.conf 2>/dev/null; then
    LD_PRELOAD=$S getent ahosts secure >"$out" 2>&1
    expect_line "short name through the search list" "$out" '^127\.0\.10\.1 +STREAM secure\.lab\.example$'
    LD_PRELOAD=$S python3 -c 'import socket
for n in ("mail", "secure.", "nosuchhost"):
    try:
        print(n, socket.getaddrinfo(n, 25, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except socket.gaierror as e:
        print(n, "gai", e.errno == socket.EAI_NONAME)' >"$out" 2>&1
    expect_line "python3 short name" "$out" '^mail 127\.0\.10\.4$'
    expect_line "absolute name: no search" "$out" '^secure\. gai True$'
    expect_line "unknown everywhere: EAI_NONAME" "$out" '^nosuchhost gai True$'
    LD_PRELOAD=$S python3 "$PROBE" secure:80 >"$out" 2>&1
    expect_line "enforced under the qualified name" "$out" \
        '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80'
else
    echo "skip: /etc/resolv.conf is not writable here"
fi

finish
