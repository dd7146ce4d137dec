#!/usr/bin/env bash
# resolver_reasons: every failed lookup says what really happened, per
# upstream, in the shim's log lines and in `hastls lookup`'s reason:
#  - an upstream that refuses connections: several lookups in a row in one
#    program, each naming the refusal (the later ones: skipped, backing off
#    after it), none claiming that an upstream answered SERVFAIL;
#  - an upstream with the wrong certificate (127.0.0.54, other.lab.example,
#    asked for as dot.lab.example): every lookup names the mismatch;
#  - scripted hostile DoT upstreams (tests/tools/hostile_dot.py, the lab's
#    dot.lab.example certificate): one that closes the connection without
#    answering, one that answers with TC set, one whose answer has a
#    compression loop, and one that really answers SERVFAIL;
#  - a bogus answer from the front cache keeps the validator's reason;
#  - a signed HASTLS record whose RDATA cannot be read (malformed.lab.example)
#    is called a malformed record, not a validation failure.
set -u
H=$HASTLS_BUILD/hastls
S=${HASTLS_PRELOAD:-$HASTLS_BUILD/libhastls.so}
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
fails=0

ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
# count FILE REGEX: the number of lines of FILE matching REGEX.
count() { grep -Ec -- "$2" "$1"; }
check() { # check DESCRIPTION FILE REGEX
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no line matches: $3)"; fi
}
check_not() {
    if grep -Eq -- "$3" "$2"; then bad "$1 (a line matches: $3)"; else ok "$1"; fi
}
check_count() { # check_count DESCRIPTION FILE REGEX N
    local n
    n=$(count "$2" "$3")
    if [ "$n" = "$4" ]; then ok "$1"; else bad "$1 ($n lines, not $4, match: $3)"; fi
}

# conf NAME UPSTREAM PRIVACY: the lab's configuration with another upstream.
conf() {
    local f=$LAB_DIR/$1.conf
    sed -e "s|^upstream *=.*|upstream = $2|" -e "s|^privacy *=.*|privacy = $3|" \
        "$HASTLS_CONF" >"$f"
    echo "$f"
}
# lookups CONF OUT NAME...: one Python program looks the names up in a row
# under the shim; its log lines (and the errors it got) go to OUT.
lookups() {
    local c=$1 out=$2
    shift 2
    HASTLS_CONF=$c LD_PRELOAD=$S python3 -c '
import socket, sys
for n in sys.argv[1:]:
    try:
        socket.getaddrinfo(n, 443)
        print("resolved", n)
    except socket.gaierror as e:
        print("error", n, e.errno)
' "$@" >"$out" 2>&1
    sed 's/^/    /' "$out"
}

names=(a.lab.example secure.lab.example both.lab.example clear.lab.example)

echo "== an upstream that refuses connections, four lookups in a row"
lookups "$(conf down 127.0.0.9@853#dot.lab.example strict)" "$LAB_DIR/down.out" "${names[@]}"
for n in "${names[@]}"; do
    check "$n: refused, or skipped after the refusal" "$LAB_DIR/down.out" \
        "^hastls: no answer for $n under privacy strict: no authenticated DNS-over-TLS upstream reachable \(privacy=strict\): .*127\.0\.0\.9@853: (connection refused|skipped: backing off after connection refused until [0-9]+ ms from now)"
done
check_count "every lookup failed (EAI_AGAIN)" "$LAB_DIR/down.out" '^error .* -3$' 4
check_not "no lookup claims a SERVFAIL answer" "$LAB_DIR/down.out" 'answered SERVFAIL'

echo "== the wrong certificate, three lookups in a row"
lookups "$(conf wrong 127.0.0.54@853#dot.lab.example strict)" "$LAB_DIR/wrong.out" \
    "${names[@]:1}"
for n in "${names[@]:1}"; do
    check "$n: names the certificate mismatch" "$LAB_DIR/wrong.out" \
        "^hastls: no answer for $n under privacy strict: .*127\.0\.0\.54@853: (skipped: backing off after )?certificate name mismatch"
done
check_not "no lookup claims a SERVFAIL answer" "$LAB_DIR/wrong.out" 'answered SERVFAIL'
"$H" lookup --upstream 127.0.0.54#dot.lab.example secure.lab.example A >"$LAB_DIR/wrong.cli" 2>&1
sed 's/^/    /' "$LAB_DIR/wrong.cli"
check "hastls lookup names it too" "$LAB_DIR/wrong.cli" \
    '^  reason: no authenticated DNS-over-TLS upstream reachable \(privacy=strict\): 127\.0\.0\.54@853: certificate name mismatch'

echo "== hostile upstreams"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT
# hostile ADDR MODE: starts tests/tools/hostile_dot.py on ADDR:853.
hostile() {
    local log=$LAB_DIR/hostile-$2.log
    : >"$log"
    python3 "$TOOLS/hostile_dot.py" --listen "$1:853" --cert "$LAB_DIR/certs/dot.pem" \
        --key "$LAB_DIR/certs/dot.key" --log "$log" "$2" 3>&- &
    pids+=("$!")
    for _ in $(seq 100); do
        grep -q '^ready$' "$log" && return 0
        sleep 0.1
    done
    bad "hostile upstream $2 did not start"
    return 1
}
hostile 127.0.0.61 close
hostile 127.0.0.62 tc
hostile 127.0.0.63 loop
hostile 127.0.0.64 servfail

# cli ADDR OUT: hastls lookup of secure.lab.example A through ADDR.
cli() {
    "$H" lookup --upstream "$1#dot.lab.example" secure.lab.example A >"$2" 2>&1
    sed 's/^/    /' "$2"
}
cli 127.0.0.61 "$LAB_DIR/close.cli"
check "closed connection named" "$LAB_DIR/close.cli" \
    '^  reason: no authenticated DNS-over-TLS upstream reachable \(privacy=strict\): 127\.0\.0\.61@853: connection closed by the upstream before answering'
check "the upstream saw the query" "$LAB_DIR/hostile-close.log" '^query close$'
cli 127.0.0.62 "$LAB_DIR/tc.cli"
check "TC answer named" "$LAB_DIR/tc.cli" \
    '^  reason: .*127\.0\.0\.62@853: answer truncated \(TC\) over TLS'
cli 127.0.0.63 "$LAB_DIR/loop.cli"
check "compression loop named" "$LAB_DIR/loop.cli" \
    '^  reason: .*127\.0\.0\.63@853: malformed answer: compression loop'
cli 127.0.0.64 "$LAB_DIR/servfail.cli"
check "a real SERVFAIL answer is called one" "$LAB_DIR/servfail.cli" \
    '^  reason: the upstream answered SERVFAIL \(127\.0\.0\.64@853: answered SERVFAIL\)$'
for m in close tc loop; do
    check_not "$m: not called a SERVFAIL answer" "$LAB_DIR/$m.cli" 'answered SERVFAIL'
done

lookups "$(conf tc 127.0.0.62@853#dot.lab.example strict)" "$LAB_DIR/tc.out" \
    secure.lab.example both.lab.example
for n in secure.lab.example both.lab.example; do
    check "shim: $n names the TC answer" "$LAB_DIR/tc.out" \
        "^hastls: no answer for $n under privacy strict: .*127\.0\.0\.62@853: answer truncated \(TC\) over TLS"
done

echo "== a bogus answer, then the same from the front cache"
lookups "$HASTLS_CONF" "$LAB_DIR/bogus.out" www.bogus.lab.example www.bogus.lab.example
check_count "both lookups give the validator's reason" "$LAB_DIR/bogus.out" \
    '^hastls: lookup of www\.bogus\.lab\.example failed DNSSEC validation: validation failure <www\.bogus\.lab\.example\. A IN>: no keys have a DS' 2
check_count "both fail (EAI_FAIL)" "$LAB_DIR/bogus.out" '^error .* -4$' 2

echo "== a signed HASTLS record that cannot be read"
"$H" lookup malformed.lab.example HASTLS >"$LAB_DIR/malformed.cli" 2>&1
sed 's/^/    /' "$LAB_DIR/malformed.cli"
check "hastls lookup: validated" "$LAB_DIR/malformed.cli" '^malformed\.lab\.example HASTLS: secure rcode=NOERROR'
check "hastls lookup: malformed record" "$LAB_DIR/malformed.cli" \
    '^  malformed record \(RDATA length is not a multiple of 4\)$'
lookups "$HASTLS_CONF" "$LAB_DIR/malformed.out" malformed.lab.example
check "shim: malformed record" "$LAB_DIR/malformed.out" \
    '^hastls: HASTLS record of malformed\.lab\.example is bogus \(malformed record: RDATA length is not a multiple of 4\): its connections will be blocked$'
check_not "shim: not called a validation failure" "$LAB_DIR/malformed.out" 'failed DNSSEC validation'
check "its addresses are handed out" "$LAB_DIR/malformed.out" '^resolved malformed\.lab\.example$'

echo "$fails failed"
[ "$fails" = 0 ]
