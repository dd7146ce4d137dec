#!/usr/bin/env bash
# resolver_upstream: the DoT transport as an upstream sees it.  A small Python
# DoT relay (TLS with the lab's dot.lab.example certificate, forwarding each
# query over TCP to the lab resolver 127.0.0.53:53) logs the ALPN protocol
# negotiated, session resumption and the length and EDNS options of every
# query it receives.  Checked here:
#  - ALPN "dot" offered and negotiated (and "dns" with --alpn dns);
#  - every query padded (RFC 8467): a multiple of 128 octets with a Padding
#    option;
#  - when the server closes an idle connection, the next lookup reconnects and
#    resumes the TLS session (no second full handshake);
#  - upstream killed between lookups: the next lookup fails over to the second
#    upstream within its deadline; restarted: a new connection to it;
#  - a connection the server drops with a query in flight: the query goes
#    again on a new connection;
#  - our side closes a connection idle for 10 s and resumes the session later;
#  - a lone upstream is retried as soon as it is back, whatever its back-off;
#  - a cold validating lookup needs one round trip (chain prefetch);
#  - an upstream that accepts TCP but never speaks TLS: fail-over in time.
set -u
H=$HASTLS_BUILD/hastls
fails=0
relay=$LAB_DIR/dotrelay.py

cat >"$relay" <<'PY'
import argparse, socket, ssl, struct, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)      # ADDR:PORT
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--idle", type=float, default=0) # close a connection idle this long
ap.add_argument("--forward", default="127.0.0.53:53")
ap.add_argument("--drop-first", action="store_true") # close on the first query, unanswered
ap.add_argument("--delay", type=float, default=0)    # hold every answer this long
a = ap.parse_args()
logf = open(a.log, "a", buffering=1)
lock = threading.Lock()
dropped = [False]

def log(line):
    with lock:
        logf.write(line + "\n")

def skip_name(m, o):
    while True:
        c = m[o]
        if c & 0xC0 == 0xC0:
            return o + 2
        if c == 0:
            return o + 1
        o += c + 1

def options(m):
    """EDNS option codes of the query M, or None without OPT."""
    qd, an, ns, ar = struct.unpack(">HHHH", m[4:12])
    o = 12
    for _ in range(qd):
        o = skip_name(m, o) + 4
    for i in range(an + ns + ar):
        o = skip_name(m, o)
        t, _, _, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        if t == 41:
            codes, p = [], o
            while p < o + rdlen:
                code, olen = struct.unpack(">HH", m[p:p + 4])
                codes.append(code)
                p += 4 + olen
            return codes
        o += rdlen
    return None

def qname(m):
    o, labels = 12, []
    while m[o]:
        labels.append(m[o + 1:o + 1 + m[o]].decode())
        o += m[o] + 1
    return ".".join(labels) or ".", struct.unpack(">H", m[o + 1:o + 3])[0]

first = [None]

def answer_later(t, q, wl):
    time.sleep(a.delay)
    r = forward(q)
    with wl:
        t.sendall(struct.pack(">H", len(r)) + r)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def forward(q):
    h, p = a.forward.rsplit(":", 1)
    with socket.create_connection((h, int(p)), timeout=5) as u:
        u.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", recv_exact(u, 2))[0]
        return recv_exact(u, n)

def serve(conn):
    try:
        t = ctx.wrap_socket(conn, server_side=True)
    except Exception as e:
        log("handshake-failed %s" % e)
        return
    log("conn alpn=%s resumed=%s" % (t.selected_alpn_protocol(), t.session_reused))
    wlock = threading.Lock()
    if a.idle:
        t.settimeout(a.idle)
    try:
        while True:
            n = struct.unpack(">H", recv_exact(t, 2))[0]
            q = recv_exact(t, n)
            log("query len=%d mod128=%d options=%s" % (n, n % 128, options(q)))
            with lock:
                drop = a.drop_first and not dropped[0]
                dropped[0] = True
            if drop:
                log("dropping the connection")
                break
            if a.delay:
                now = time.time()
                if first[0] is None:
                    first[0] = now
                log("arrival %d %s %d" % ((now - first[0]) * 1000, *qname(q)))
                threading.Thread(target=answer_later, args=(t, q, wlock), daemon=True).start()
                continue
            r = forward(q)
            with wlock:
                t.sendall(struct.pack(">H", len(r)) + r)
    except (EOFError, socket.timeout, OSError):
        pass
    log("closed")
    try:
        t.close()
    except OSError:
        pass

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
ctx.set_alpn_protocols(["dot", "dns"])
host, port = a.listen.rsplit(":", 1)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, int(port)))
ls.listen(16)
log("ready")
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

# waitfor FILE REGEX: waits (at most 10 s) until a line of FILE matches.
waitfor() {
    for _ in $(seq 100); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "     (timed out waiting for /$2/ in $1)"
    return 1
}
start_relay() { # start_relay ADDR LOG [ARGS...]
    local addr=$1 log=$2
    shift 2
    : >"$log"
    python3 "$relay" --listen "$addr:853" --cert "$LAB_DIR/certs/dot.pem" \
        --key "$LAB_DIR/certs/dot.key" --log "$log" "$@" 3>&- &
    relay_pid=$!
    pids+=("$relay_pid")
    waitfor "$log" '^ready$'
}
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
check() { # check DESCRIPTION FILE REGEX
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no line matches: $3)"; fi
}
check_not() {
    if grep -Eq -- "$3" "$2"; then bad "$1 (a line matches: $3)"; else ok "$1"; fi
}

# ---- ALPN and padding
log1=$LAB_DIR/relay1.log
start_relay 127.0.0.57 "$log1"
"$H" lookup --stats --upstream 127.0.0.57#dot.lab.example secure.lab.example >"$LAB_DIR/l1.out" 2>&1
sed 's/^/    /' "$LAB_DIR/l1.out" "$log1"
check "lookup through the relay" "$LAB_DIR/l1.out" '^  \(0 443\)$'
check "ALPN dot negotiated" "$log1" '^conn alpn=dot '
check "queries reached the relay" "$log1" '^query '
check_not "every query a multiple of 128 octets" "$log1" '^query .* mod128=[1-9]'
unpadded=$(grep '^query ' "$log1" | grep -Evc 'options=\[([0-9]+, )*12(, [0-9]+)*\]$')
[ "$unpadded" -eq 0 ] && ok "every query carries the Padding option (12)" ||
    bad "$unpadded queries without the Padding option"
check "Padding option present" "$log1" '^query .*options=\[([0-9]+, )*12\]$'

"$H" lookup --alpn dns --upstream 127.0.0.57#dot.lab.example clear.lab.example A >/dev/null 2>&1
check "ALPN dns with --alpn dns (the draft's port-443 id)" "$log1" '^conn alpn=dns '

# ---- idle close by the server, reconnection with session resumption
log2=$LAB_DIR/relay2.log
start_relay 127.0.0.58 "$log2" --idle 0.3
fifo=$LAB_DIR/names.fifo
mkfifo "$fifo"
out=$LAB_DIR/l2.out
"$H" lookup --stats --names "$fifo" --upstream 127.0.0.58#dot.lab.example A >"$out" 2>&1 &
lp=$!
exec 3>"$fifo"
echo secure.lab.example >&3
waitfor "$out" '^secure.lab.example A:'
waitfor "$log2" '^closed$'
echo both.lab.example >&3
waitfor "$out" '^both.lab.example A:'
exec 3>&-
wait "$lp"
sed 's/^/    /' "$out" "$log2"
check "first lookup" "$out" '^secure.lab.example A: secure '
check "second lookup after the server closed the connection" "$out" '^both.lab.example A: secure '
check "one full handshake, then resumption" "$out" '^stats: tls_handshakes=1 tls_resumptions=[1-9][0-9]* '
check "the relay saw a resumed session" "$log2" '^conn alpn=dot resumed=True$'

# ---- upstream killed between lookups: fail-over, then reconnection
log3=$LAB_DIR/relay3.log
start_relay 127.0.0.59 "$log3"
r3=$relay_pid
rm -f "$fifo"
mkfifo "$fifo"
out=$LAB_DIR/l3.out
"$H" lookup --stats --timeout 3000 --names "$fifo" --upstream 127.0.0.59#dot.lab.example \
    --upstream 127.0.0.53#dot.lab.example A >"$out" 2>&1 &
lp=$!
exec 3>"$fifo"
echo secure.lab.example >&3
waitfor "$out" '^secure.lab.example A:'
kill "$r3"
wait "$r3" 2>/dev/null
echo clear.lab.example >&3
waitfor "$out" '^clear.lab.example A:'
start_relay 127.0.0.59 "$log3"
sleep 1.2 # past the hold-down and first back-off after its failure
echo odd.lab.example >&3
waitfor "$out" '^odd.lab.example A:'
# That lookup went on to the second upstream while the first was probed in
# the background; once the probe is through, lookups are back on the first.
waitfor "$log3" '^conn '
sleep 0.3 # the client's side of that handshake ends too
echo mail.lab.example >&3
waitfor "$out" '^mail.lab.example A:'
exec 3>&-
wait "$lp"
sed 's/^/    /' "$out" "$log3"
check "before the kill: through the relay" "$out" '^secure.lab.example A: secure '
check "after the kill: answered by the second upstream" "$out" '^clear.lab.example A: secure '
check "within the deadline" "$out" '^clear.lab.example A: secure .* elapsed_ms=([0-9]{1,3}|[12][0-9]{3})\.'
check "the fail-over logged why" "$out" 'upstream 127\.0\.0\.59@853: connection refused'
check "answer after the restart" "$out" '^odd.lab.example A: secure '
check "back on the restarted first upstream" "$log3" '^query '
# One full handshake per upstream, one more with the restarted relay (a new
# process: its session tickets are new too).
check "three handshakes in all" "$out" '^stats: tls_handshakes=3 tls_resumptions=0 '

# Reconnection to the same upstream after it comes back (one upstream only).
rm -f "$fifo"
mkfifo "$fifo"
out=$LAB_DIR/l4.out
"$H" lookup --stats --names "$fifo" --upstream 127.0.0.59#dot.lab.example A >"$out" 2>&1 &
lp=$!
exec 3>"$fifo"
echo secure.lab.example >&3
waitfor "$out" '^secure.lab.example A:'
kill "$relay_pid"
wait "$relay_pid" 2>/dev/null
start_relay 127.0.0.59 "$log3"
echo mail.lab.example >&3
waitfor "$out" '^mail.lab.example A:'
exec 3>&-
wait "$lp"
sed 's/^/    /' "$out"
check "restarted upstream: reconnected" "$out" '^mail.lab.example A: secure '

# ---- the server closes the connection with our query unanswered: the query
# goes again on a new connection to the same (only) upstream, in time.
log6=$LAB_DIR/relay6.log
start_relay 127.0.0.62 "$log6" --drop-first
out=$LAB_DIR/l6.out
HASTLS_LOG=debug "$H" lookup --stats --upstream 127.0.0.62#dot.lab.example secure.lab.example A \
    >"$out" 2>&1
sed 's/^/    /' "$out" "$log6"
check "the relay dropped a connection with a query in flight" "$log6" '^dropping the connection$'
check "answered over a new connection" "$out" '^secure.lab.example A: secure rcode=NOERROR'
n=$(grep -c '^conn ' "$log6")
[ "$n" -ge 2 ] && ok "reconnected ($n connections)" || bad "$n connections to the relay"
# libunbound would retry after a SERVFAIL and hide it: the transport itself
# must carry the query over to the new connection.
check_not "the transport never gave up on the query" "$out" 'no transport left for a query'


# ---- our side closes an idle connection after 10 s and resumes the session
# on the next lookup (the lab's unbound keeps idle connections longer).
rm -f "$fifo"
mkfifo "$fifo"
out=$LAB_DIR/l7.out
HASTLS_LOG=debug "$H" lookup --stats --names "$fifo" --upstream 127.0.0.53#dot.lab.example A \
    >"$out" 2>&1 &
lp=$!
exec 3>"$fifo"
echo secure.lab.example >&3
waitfor "$out" '^secure.lab.example A:'
for _ in $(seq 150); do # at most 15 s
    grep -q 'closing idle connection' "$out" && break
    sleep 0.1
done
echo clear.lab.example >&3
waitfor "$out" '^clear.lab.example A:'
exec 3>&-
wait "$lp"
grep -v '^hastls: upstream.*connecting' "$out" | sed 's/^/    /'
check "idle connection closed by us" "$out" 'upstream 127\.0\.0\.53@853: closing idle connection'
check "next lookup answered" "$out" '^clear.lab.example A: secure '
check "one full handshake, then a resumed session" "$out" '^stats: tls_handshakes=1 tls_resumptions=1 '

# ---- back-off never leaves a lone upstream untried: after several refused
# lookups (back-off grown to seconds) it is asked as soon as it is back.
rm -f "$fifo"
mkfifo "$fifo"
out=$LAB_DIR/l9.out
HASTLS_LOG=debug "$H" lookup --names "$fifo" --upstream 127.0.0.64#dot.lab.example A >"$out" 2>&1 &
lp=$!
exec 3>"$fifo"
for i in 1 2 3 4 5 6; do
    echo "refused$i.lab.example" >&3
    waitfor "$out" "^refused$i.lab.example A:"
done
log9=$LAB_DIR/relay9.log
start_relay 127.0.0.64 "$log9"
sleep 1.2 # past the 1 s hold-down after the last failure
echo secure.lab.example >&3
waitfor "$out" '^secure.lab.example A:'
exec 3>&-
wait "$lp"
grep -v 'connecting\|closed by server' "$out" | sed 's/^/    /'
n=$(grep -c '^refused[0-9]\.lab\.example A: failed ' "$out")
[ "$n" -eq 6 ] && ok "six lookups failed while the upstream was down" || bad "$n failed lookups of 6"
check "answered as soon as it is back, whatever the back-off" "$out" '^secure.lab.example A: secure '

# ---- a cold validating lookup takes one round trip to the upstream: the
# transport asks for the DNSSEC chain (root DNSKEY, DS and DNSKEY of example
# and lab.example) together with the answer.  The relay holds every answer for
# 500 ms, so every query that arrives later waited for an earlier answer.
log8=$LAB_DIR/relay8.log
start_relay 127.0.0.63 "$log8" --delay 0.5
out=$LAB_DIR/l8.out
"$H" lookup --upstream 127.0.0.63#dot.lab.example secure.lab.example >"$out" 2>&1
sed 's/^/    /' "$out" "$log8"
check "answer through the slow relay" "$out" '^secure.lab.example HASTLS: secure '
check "the chain asked for at once: root DNSKEY" "$log8" '^arrival [0-9]+ \. 48$'
check "the chain asked for at once: lab.example DNSKEY" "$log8" '^arrival [0-9]+ lab\.example 48$'
late=$(awk '/^arrival / && $2 >= 500 { n++ } END { print n + 0 }' "$log8")
[ "$late" -eq 0 ] && ok "every query sent in the first round trip" ||
    bad "$late queries waited for an earlier answer"

# ---- a black hole first: TCP connects (the kernel's backlog) but TLS never
# starts; the handshake times out and the second upstream answers in time.
hole=$LAB_DIR/hole.log
: >"$hole"
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.61", 853))
s.listen(16)
open(sys.argv[1], "w").write("ready\n")
time.sleep(600)
' "$hole" 3>&- &
pids+=("$!")
waitfor "$hole" '^ready$'
out=$LAB_DIR/l5.out
"$H" lookup --stats --timeout 3000 --upstream 127.0.0.61#dot.lab.example \
    --upstream 127.0.0.53#dot.lab.example www.insecure.lab.example A >"$out" 2>&1
sed 's/^/    /' "$out"
check "black hole skipped: answer from the second upstream" "$out" '^www.insecure.lab.example A: insecure rcode=NOERROR'
check "within the deadline" "$out" '^www.insecure.lab.example A: .* elapsed_ms=([0-9]{1,3}|[12][0-9]{3})\.'
check "why" "$out" 'upstream 127\.0\.0\.61@853: TLS handshake timed out'

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
