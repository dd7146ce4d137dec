#!/usr/bin/env bash
# resolver_faults: faults cost once.  Counted, not timed: a lookup is "slow"
# when it took most of what the fault used to cost it, far from what it
# costs now.
#  - an upstream that answers everything but the HASTLS queries (a relay
#    that drops them): no lookup waits the whole deadline; the first lookup
#    of a name waits a quarter of it after the address answers, the next
#    ones of the same name not at all; under the shim the connection then
#    gets the failed row (allowed with a warning for an unsigned zone,
#    blocked as bogus for a signed one under bogus = block);
#  - a HASTLS answer that comes after that wait: applied to the address
#    memory at once, without a new lookup (443 allowed, 80 refused by the
#    record's pair);
#  - a black-holed first upstream (TCP connects, TLS never starts), 20
#    lookups over 8 s: at most one of them waits for it (its probes run in
#    the background);
#  - a server that closes every connection before answering: a bounded
#    number of handshakes across 20 lookups, each lookup failing fast with
#    the reason, or failing over to a second upstream.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

waitfor() { # waitfor FILE REGEX: at most 10 s
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
    python3 "$TOOLS/dnsbreak_dot.py" --listen "$addr:853" --cert "$LAB_DIR/certs/dot.pem" \
        --key "$LAB_DIR/certs/dot.key" --log "$log" "$@" 3>&- &
    pids+=("$!")
    waitfor "$log" '^ready$'
}
# slow FILE TYPE MS: how many TYPE lines of FILE took MS ms or more.
slow() {
    awk -v t="$2:" -v ms="$3" '$2 == t {
        for (i = 3; i <= NF; i++)
            if ($i ~ /^elapsed_ms=/) { split($i, kv, "="); if (kv[2] + 0 >= ms) n++ }
    } END { print n + 0 }' "$1"
}
# lookups OUT NAMES-FILE PAUSE ARGS...: one hastls lookup process, fed the
# names of NAMES-FILE one at a time (each after the previous one's answer,
# then PAUSE seconds).
lookups() {
    local out=$1 list=$2 pause=$3 fifo=$LAB_DIR/names.$RANDOM
    shift 3
    mkfifo "$fifo"
    "$H" lookup --grace --names "$fifo" "$@" >"$out" 2>&1 &
    local lp=$!
    exec 3>"$fifo"
    while read -r n; do
        echo "$n" >&3
        waitfor "$out" "^$n [A-Z]+:" >/dev/null
        sleep "$pause"
    done <"$list"
    exec 3>&-
    wait "$lp"
    rm -f "$fifo"
}

echo "== an upstream that never answers the HASTLS queries"
log1=$LAB_DIR/drop.log
start_relay 127.0.0.70 "$log1" "*/65301/drop"
names1=$LAB_DIR/names1
printf '%s\n' secure.lab.example clear.lab.example secure.lab.example \
    www.insecure.lab.example both.lab.example clear.lab.example mail.lab.example \
    secure.lab.example odd.lab.example both.lab.example >"$names1"
out=$LAB_DIR/drop.out
lookups "$out" "$names1" 0 --timeout 2000 --upstream 127.0.0.70#dot.lab.example
sed 's/^/    /' "$out"
expect_line "the relay dropped HASTLS queries" "$log1" ' 65301 drop$'
expect_count "every lookup answered its addresses" "$out" '^[a-z.]+ A: (secure|insecure) rcode=NOERROR' 10
expect_count "every HASTLS answer failed" "$out" '^[a-z.]+ HASTLS: failed ' 10
n=$(slow "$out" HASTLS 1500)
[ "$n" -eq 0 ] && ok "no lookup waited the whole deadline for HASTLS" ||
    bad "$n lookups waited the whole 2000 ms deadline"
expect_line "the first lookup of a name gives up after a quarter of the deadline" "$out" \
    'no answer within 500 ms of the address answers'
expect_count "a name's next lookups do not wait again" "$out" \
    'not waited for: this name.s HASTLS query went unanswered' 4

echo "== the same under the shim: the failed row of the decision table"
c1=$(conf drop upstream=127.0.0.70@853#dot.lab.example timeout_ms=2000 agent=off)
err=$LAB_DIR/drop-shim.err
HASTLS_CONF=$c1 LD_PRELOAD=$S python3 - >"$LAB_DIR/drop-shim.out" 2>"$err" <<'PY'
import socket, time
slow = 0
for name in ["www.insecure.lab.example", "xmpp.insecure.lab.example",
             "secure.lab.example", "www.insecure.lab.example"]:
    t = time.monotonic()
    socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
    slow += time.monotonic() - t >= 1.5
print("slow", slow)
for name in ["www.insecure.lab.example", "secure.lab.example"]:
    s = socket.socket()
    try:
        s.connect((socket.gethostbyname(name), 80))
        print("connected", name)
    except PermissionError:
        print("refused", name)
    s.close()
PY
sed 's/^/    /' "$LAB_DIR/drop-shim.out" "$err"
expect_line "no lookup under the shim waited the whole deadline" "$LAB_DIR/drop-shim.out" '^slow 0$'
expect_line "unsigned zone: the connection is allowed" "$LAB_DIR/drop-shim.out" \
    '^connected www.insecure.lab.example$'
expect_line "... with the warning" "$err" \
    'HASTLS lookup for www.insecure.lab.example failed \(no answer within 500 ms'
expect_line "signed zone: the unanswered record counts as bogus, refused" \
    "$LAB_DIR/drop-shim.out" '^refused secure.lab.example$'
expect_line "... saying why" "$err" 'blocked connect to secure.lab.example\[127\.0\.10\.1\]:80'

echo "== a HASTLS answer that comes after the lookup stopped waiting"
log5=$LAB_DIR/late.log
# Later than the wait (1500 ms after the addresses), within the transport's
# attempt (3000 ms): the deadline is 6000 ms.
start_relay 127.0.0.74 "$log5" "*/65301/delay=2.2"
c2=$(conf late upstream=127.0.0.74@853#dot.lab.example timeout_ms=6000 agent=off)
err=$LAB_DIR/late-shim.err
HASTLS_LOG=info HASTLS_CONF=$c2 LD_PRELOAD=$S python3 - >"$LAB_DIR/late-shim.out" 2>"$err" <<'PY'
import socket, time
addr = socket.getaddrinfo("secure.lab.example", 443, socket.AF_INET,
                          socket.SOCK_STREAM)[0][4][0]
def attempt(when, port):
    s = socket.socket()
    try:
        s.connect((addr, port))
        print(when, port, "connected")
    except PermissionError:
        print(when, port, "refused")
    s.close()
attempt("before", 443)
time.sleep(3.5) # the answer comes 2.2 s after it was asked
attempt("after", 443)
attempt("after", 80)
PY
sed 's/^/    /' "$LAB_DIR/late-shim.out" "$err"
expect_line "the relay answered HASTLS late" "$log5" '^answered .* 65301 late$'
expect_line "before the answer: no usable record in a signed zone, refused" \
    "$LAB_DIR/late-shim.out" '^before 443 refused$'
expect_line "the late answer is applied without a new lookup" "$err" \
    'HASTLS answer for secure.lab.example came late: the record is secure'
expect_line "after it: (0 443) governs, 443 allowed" "$LAB_DIR/late-shim.out" '^after 443 connected$'
expect_line "... and 80 refused by the record's pair" "$err" \
    'blocked connect to secure.lab.example\[127\.0\.10\.1\]:80: record pair \(0 443\)'

echo "== a black-holed first upstream"
hole=$LAB_DIR/hole.log
: >"$hole"
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.71", 853))
s.listen(64)
open(sys.argv[1], "w").write("ready\n")
time.sleep(600)
' "$hole" 3>&- &
pids+=("$!")
waitfor "$hole" '^ready$'
names2=$LAB_DIR/names2
{
    printf '%s\n' secure.lab.example both.lab.example clear.lab.example mail.lab.example \
        odd.lab.example norecord.lab.example dual.lab.example xmpp.lab.example \
        www.insecure.lab.example xmpp.insecure.lab.example badsig.lab.example \
        halfbogus.lab.example
    for i in 1 2 3 4 5 6 7 8; do echo "nx$i.insecure.lab.example"; done
} >"$names2"
out=$LAB_DIR/hole.out
lookups "$out" "$names2" 0.4 --stats --timeout 2000 --upstream 127.0.0.71#dot.lab.example \
    --upstream 127.0.0.53#dot.lab.example A
sed 's/^/    /' "$out"
expect_count "20 lookups answered" "$out" '^[a-z0-9.]+ A: [a-z]+ rcode=(NOERROR|NXDOMAIN)' 20
n=$(slow "$out" A 700)
[ "$n" -le 1 ] && ok "at most one lookup waited for the black hole ($n)" ||
    bad "$n lookups waited for the black hole"
expect_line "why it was left" "$out" 'upstream 127\.0\.0\.71@853: TLS handshake timed out'

echo "== a server that closes every connection"
log3=$LAB_DIR/close.log
start_relay 127.0.0.72 "$log3" --close-all
names3=$LAB_DIR/names3
head -n 20 "$names2" >"$names3"
out=$LAB_DIR/close.out
t0=$(date +%s)
lookups "$out" "$names3" 0.05 --stats --timeout 2000 --upstream 127.0.0.72#dot.lab.example A
# Two connections, then at most one a second (a lone upstream is tried again
# after its one-second hold-down, whatever its back-off).
most=$((3 + $(date +%s) - t0))
sed 's/^/    /' "$out"
n=$(grep -c '^conn ' "$log3")
[ "$n" -ge 1 ] && [ "$n" -le "$most" ] && ok "$n handshakes across 20 lookups (at most $most)" ||
    bad "$n handshakes across 20 lookups (at most $most)"
expect_count "every lookup failed" "$out" '^[a-z0-9.]+ A: failed ' 20
n=$(slow "$out" A 1500)
[ "$n" -eq 0 ] && ok "each failed fast" || bad "$n lookups took the whole deadline"
expect_line "with the reason" "$out" 'closed the connection before answering anything'

log4=$LAB_DIR/close2.log
start_relay 127.0.0.73 "$log4" --close-all
out=$LAB_DIR/close2.out
t0=$(date +%s)
lookups "$out" "$names3" 0.05 --stats --timeout 2000 --upstream 127.0.0.73#dot.lab.example \
    --upstream 127.0.0.53#dot.lab.example A
most=$((3 + $(date +%s) - t0))
sed 's/^/    /' "$out"
expect_count "with a second upstream every lookup is answered" "$out" \
    '^[a-z0-9.]+ A: [a-z]+ rcode=(NOERROR|NXDOMAIN)' 20
n=$(grep -c '^conn ' "$log4")
[ "$n" -ge 1 ] && [ "$n" -le "$most" ] && ok "$n handshakes with the closing server (at most $most)" ||
    bad "$n handshakes with the closing server (at most $most)"

finish
