#!/usr/bin/env bash
# shim_pins: a host that proved it serves TLS stays TLS (libhastls(7),
# "Pins"), with real programs and an on-path attacker: a DoT upstream
# (tests/tools/dnsbreak_dot.py) that forwards to the lab's resolver but
# answers SERVFAIL to, or drops, the HASTLS query of secure.lab.example
# (0 443) and nothing else:
#  - a first lookup through the lab's resolver pins the host; the pin file
#    is 0600 in a 0700 directory, and `hastls pins list` shows it;
#  - through the attacker, http:// is refused (curl and python3), the line
#    names the pin, https:// still works; SERVFAIL and silence alike;
#  - the attacker's configuration's agent applies the pin to its shared
#    address table: a process that never resolved the name is refused port
#    80 of its literal address, allowed 443;
#  - without a pin (none yet, pins = no, expired, forgotten, or a pin file
#    that cannot be trusted) the failed lookup in a signed zone is bogus, as
#    before: every port refused, https:// too (fail closed, but blunt);
#  - an insecure answer (a trust anchor that covers nothing of the lab) does
#    not remove the pin; a secure denial (NODATA for the record type asked)
#    does; a short pin_max expires; `hastls pins forget` removes pins;
#  - a corrupt pin file is ignored with a warning, never trusted.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
PINS=$XDG_STATE_HOME/hastls/pins
RT=65301
have_cli() { [ -x "$H" ]; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
# attacker ADDR ACTION: dnsbreak_dot.py on ADDR:853 breaking secure's HASTLS.
attacker() {
    local log=$LAB_DIR/break-$2.log
    : >"$log"
    python3 "$TOOLS/dnsbreak_dot.py" --listen "$1:853" --cert "$LAB_DIR/certs/dot.pem" \
        --key "$LAB_DIR/certs/dot.key" --log "$log" "secure.lab.example/$RT/$2" 3>&- &
    pids+=("$!")
    for _ in $(seq 100); do
        grep -q '^ready$' "$log" && return 0
        sleep 0.1
    done
    bad "attacker $2 did not start"
}
attacker 127.0.0.71 servfail
attacker 127.0.0.72 drop
SF=$(conf sf upstream=127.0.0.71@853#dot.lab.example timeout_ms=1500)
DROP=$(conf drop upstream=127.0.0.72@853#dot.lab.example timeout_ms=1500)
SF_NOPINS=$(conf sfnopins upstream=127.0.0.71@853#dot.lab.example timeout_ms=1500 pins=no)

# curl_http CONF OUT: curl http://secure.lab.example/ under the shim.
curl_http() {
    HASTLS_CONF=$1 LD_PRELOAD=$S curl -sS -m 10 http://secure.lab.example/ >/dev/null 2>"$2"
}
# ports CONF: "80=V 443=V" for secure.lab.example under the shim with CONF.
ports() {
    HASTLS_CONF=$1 LD_PRELOAD=$S python3 "$PROBE" secure.lab.example:80 \
        secure.lab.example:443 2>"$LAB_DIR/ports.err" |
        sed -n 's/^secure\.lab\.example:\([0-9]*\) 127\.0\.10\.1 \(.*\)$/\1=\2/p' | paste -sd' '
}
# unpinned TAG CONF: the attacker's failure without a pin: bogus, all refused.
unpinned() {
    local got
    got=$(ports "$2")
    [ "$got" = "80=EACCES 443=EACCES" ] && ok "$1: every port refused (bogus)" ||
        bad "$1: got '$got', wanted every port refused"
    expect_line "$1: the bogus line" "$LAB_DIR/ports.err" \
        '^hastls: HASTLS record of secure\.lab\.example is bogus \(unusable record in a signed zone: '
}
# pinned TAG CONF: the pin decides: 80 refused, 443 allowed.
pinned() {
    local got
    got=$(ports "$2")
    [ "$got" = "80=EACCES 443=ok" ] && ok "$1: 80 refused, 443 allowed (the pin)" ||
        bad "$1: got '$got', wanted 80 refused and 443 allowed"
}

echo "== control: through the attacker without a pin"
unpinned "no pin yet" "$SF"
grep -q 'secure.lab.example 65301 servfail' "$LAB_DIR/break-servfail.log" &&
    ok "the attacker answered SERVFAIL to the HASTLS query" || bad "attacker saw no HASTLS query"
[ ! -e "$PINS" ] && ok "a failed lookup pins nothing" || bad "a pin file after a failure"

echo "== a secure lookup pins the host"
LD_PRELOAD=$S getent ahostsv4 secure.lab.example >/dev/null
expect_status "getent through the lab's resolver" $? 0
[ -f "$PINS" ] && ok "pin file written" || bad "no pin file $PINS"
[ "$(stat -c %a "$PINS" 2>/dev/null)" = 600 ] && ok "pin file 0600" || bad "pin file mode"
[ "$(stat -c %a "$(dirname "$PINS")")" = 700 ] && ok "pin directory 0700" || bad "pin dir mode"
grep -Eq '^secure\.lab\.example hastls [0-9]+ [0-9]+ 0 443$' "$PINS" &&
    ok "the pin holds (0 443)" || { bad "pin file content"; sed 's/^/    | /' "$PINS"; }
if have_cli; then
    "$H" pins list >"$LAB_DIR/list.out" 2>&1
    expect_line "hastls pins list" "$LAB_DIR/list.out" \
        '^secure\.lab\.example hastls \(0 443\) pinned [0-9T:Z-]+ until [0-9T:Z-]+$'
fi

echo "== through the attacker, the pin refuses http://"
for c in "$SF:servfail" "$DROP:drop"; do
    f=${c%%:*} how=${c##*:}
    curl_http "$f" "$LAB_DIR/c-$how.err"
    expect_status "$how: curl http:// refused" $? 7
    expect_line "$how: the blocked line names the pin" "$LAB_DIR/c-$how.err" \
        '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .*\(pinned: an earlier secure lookup.s record.*\) \(client cfb\)$'
    expect_line "$how: the lookup warning names the pin" "$LAB_DIR/c-$how.err" \
        '^hastls: HASTLS lookup for secure\.lab\.example failed .*: its pinned record \(0 443\) from a secure lookup is enforced until '
    HASTLS_CONF=$f LD_PRELOAD=$S curl -sS -m 10 --cacert "$LAB_CA" \
        https://secure.lab.example/ >/dev/null 2>"$LAB_DIR/s-$how.err"
    expect_status "$how: curl https:// works" $? 0
done
pinned "python3, servfail" "$SF"
pinned "python3, drop" "$DROP"
if have_cli; then
    "$H" check --config "$SF" secure.lab.example 80 443 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check through the attacker: blocks" $? 1
    expect_line "check: the pin in force" "$LAB_DIR/chk.out" \
        '^pin: \(0 443\) from a secure hastls lookup, pinned [0-9T:Z-]+, until [0-9T:Z-]+; in force: the current lookup cannot confirm or deny it$'
    expect_line "check: 80 blocked by the pin" "$LAB_DIR/chk.out" '^80 .*block.*pinned: an earlier secure lookup'
    expect_line "check: 443 allowed" "$LAB_DIR/chk.out" '^443 +tls +allow'
    "$H" check --json --config "$SF" secure.lab.example 80 >"$LAB_DIR/chk.json" 2>&1
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["pin"]; sys.exit(0 if p["governs"] and p["pairs"]==[[0,443]] and d["record"]["state"]=="pinned" else 1)' "$LAB_DIR/chk.json" &&
        ok "check --json: the pin" || bad "check --json: $(cat "$LAB_DIR/chk.json")"
    "$H" check secure.lab.example 80 >"$LAB_DIR/chk2.out" 2>&1
    expect_line "check through the lab's resolver: the pin not needed" "$LAB_DIR/chk2.out" \
        '^pin: \(0 443\) .*; not needed now: the current answer governs$'
fi

echo "== the agent's shared table carries the pin"
# The attacker's configuration has an agent of its own, which met the pin:
# a process that never resolves the name is governed by it too.
for port in 80 443; do
    HASTLS_CONF=$SF LD_PRELOAD=$S bash -c "exec 3<>/dev/tcp/127.0.10.1/$port && echo connected" \
        >"$LAB_DIR/lit-$port.out" 2>&1
done
expect_line "literal :80 from another process: refused by the pin" "$LAB_DIR/lit-80.out" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .*\(pinned: '
expect_line "literal :443 from another process: allowed" "$LAB_DIR/lit-443.out" '^connected$'

echo "== pins = no: as without pins"
unpinned "pins = no" "$SF_NOPINS"

echo "== an insecure answer does not remove the pin"
printf 'nothing.invalid. 3600 IN DS 12345 13 2 %s\n' \
    "$(printf '0%.0s' $(seq 64))" >"$LAB_DIR/other.ds"
INSEC=$(conf insec trust_anchor="$LAB_DIR/other.ds")
pinned "insecure answer" "$INSEC"
expect_line "insecure: the warning says so" "$LAB_DIR/ports.err" \
    'HASTLS lookup for secure\.lab\.example is insecure \(unsigned\) .*its pinned record \(0 443\)'
grep -q '^secure\.lab\.example ' "$PINS" && ok "the pin is still there" || bad "pin removed"

echo "== a secure denial removes it"
LD_PRELOAD=$S HASTLS_CONF=$(conf other record_type=65280) getent ahostsv4 secure.lab.example \
    >/dev/null
grep -q '^secure\.lab\.example ' "$PINS" && bad "pin survived a secure denial" ||
    ok "secure NODATA removed the pin"
unpinned "after the denial" "$SF"

echo "== pin_max: a pin expires"
SHORT=$(conf short pin_min=1 pin_max=2)
LD_PRELOAD=$S HASTLS_CONF=$SHORT getent ahostsv4 secure.lab.example >/dev/null
pinned "a fresh short pin" "$SF"
sleep 3
unpinned "an expired pin" "$SF"

echo "== hastls pins forget"
LD_PRELOAD=$S getent ahostsv4 secure.lab.example >/dev/null
LD_PRELOAD=$S getent ahostsv4 dual.lab.example >/dev/null
if have_cli; then
    "$H" pins forget secure.lab.example
    expect_status "forget one" $? 0
    grep -q '^secure\.lab\.example ' "$PINS" && bad "still pinned" || ok "forgotten"
    grep -q '^dual\.lab\.example ' "$PINS" && ok "the other pin stays" || bad "other pin gone"
    "$H" pins forget secure.lab.example 2>"$LAB_DIR/f.err"
    expect_status "forget an unpinned name" $? 1
    expect_line "forget: says so" "$LAB_DIR/f.err" '^hastls: secure\.lab\.example: not pinned$'
    "$H" pins forget --all
    [ "$(grep -vc '^hastls-pins 1$' "$PINS")" -eq 0 ] && ok "forget --all" || bad "pins left"
    "$H" pins forget 'bad name' 2>/dev/null
    expect_status "forget: a bad name is a usage error" $? 2
fi

echo "== a corrupt pin file is ignored with a warning"
LD_PRELOAD=$S getent ahostsv4 secure.lab.example >/dev/null
printf 'garbage\n' >"$PINS"
unpinned "a corrupt pin file" "$SF"
expect_line "corrupt file: the warning names it" "$LAB_DIR/ports.err" \
    "^hastls: pins: ignored, not trusted: ${PINS//./\\.}:1: the first line is not"
chmod 0644 "$PINS"
printf 'hastls-pins 1\nsecure.lab.example hastls 1 99999999999 0 443\n' >"$PINS"
unpinned "a pin file others may write" "$SF"
expect_line "loose mode: the warning" "$LAB_DIR/ports.err" 'readable or writable by other users'
echo "note: a pin file of another uid is refused in tests/unit/test_shim_pinstore.c (the lab maps one uid)"

finish
