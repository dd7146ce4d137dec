#!/usr/bin/env bash
# shim_https_rr: a DNSSEC-secure HTTPS record (RFC 9460) as the "serves TLS"
# signal (https_rr in hastls.conf(5)), with python3 and curl under the shim
# and hastls check agreeing:
#  - web.lab.example has a signed HTTPS record and no HASTLS record: under
#    https_rr = enforce it stands for (80 443): a cso client is refused port
#    80 (the line names the signal), 443 works; a cfb client gets port 80 (the
#    table's cleartext row);
#  - ignore (the default) changes nothing; report logs and changes nothing;
#  - the same record in the unsigned zone is never the signal; a host with a
#    secure HASTLS record keeps it (the HTTPS record is not even asked);
#  - under enforce the signal pins the host (source https): with an attacker
#    answering SERVFAIL to its HTTPS query the pin keeps port 80 refused for
#    cso; under ignore that pin is not used.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls

# verdicts CONF NAME: "80=V 443=V" for NAME under the shim with CONF.
verdicts() {
    HASTLS_CONF=$1 LD_PRELOAD=$S python3 "$PROBE" "$2:80" "$2:443" 2>"$LAB_DIR/v.err" |
        sed -n 's/^[^:]*:\([0-9]*\) [^ ]* \(.*\)$/\1=\2/p' | paste -sd' '
}
want() { # DESCRIPTION GOT WANT
    [ "$2" = "$3" ] && ok "$1: $3" || bad "$1: got '$2', wanted '$3'"
}

ENF_CSO=$(conf enfcso https_rr=enforce client=cso)
ENF_CFB=$(conf enfcfb https_rr=enforce client=cfb)
REP_CSO=$(conf repcso https_rr=report client=cso)
IGN_CSO=$(conf igncso client=cso)

want "ignore, cso" "$(verdicts "$IGN_CSO" web.lab.example)" "80=ok 443=ok"
want "enforce, cso" "$(verdicts "$ENF_CSO" web.lab.example)" "80=EACCES 443=ok"
expect_line "enforce: the blocked line names the signal" "$LAB_DIR/v.err" \
    '^hastls: blocked connect to web\.lab\.example\[127\.0\.10\.30\]:80: .*\(the pair \(80 443\) of its DNSSEC-secure HTTPS record, https_rr = enforce\) \(client cso\)$'
want "enforce, cfb" "$(verdicts "$ENF_CFB" web.lab.example)" "80=ok 443=ok"
want "report, cso" "$(verdicts "$REP_CSO" web.lab.example)" "80=ok 443=ok"
expect_line "report: the line" "$LAB_DIR/v.err" \
    '^hastls: web\.lab\.example has no usable HASTLS record but a DNSSEC-secure HTTPS record: under https_rr = enforce it would stand for \(80 443\) \(https_rr = report\)$'
want "unsigned HTTPS record, enforce, cso" "$(verdicts "$ENF_CSO" web.insecure.lab.example)" \
    "80=ok 443=ok"
want "a secure HASTLS record wins" "$(verdicts "$ENF_CSO" both.lab.example)" "80=EACCES 443=ok"
expect_no_line "no HTTPS line for a host with a record" "$LAB_DIR/v.err" 'HTTPS record'

HASTLS_CONF=$ENF_CSO LD_PRELOAD=$S curl -sS -m 10 http://web.lab.example/ >/dev/null \
    2>"$LAB_DIR/curl.err"
expect_status "curl http:// refused (enforce, cso)" $? 7
HASTLS_CONF=$ENF_CSO LD_PRELOAD=$S curl -sS -m 10 --cacert "$LAB_CA" \
    https://web.lab.example/ >/dev/null 2>"$LAB_DIR/curls.err"
expect_status "curl https:// works" $? 0

echo "== the signal's pin"
grep -Eq '^web\.lab\.example https [0-9]+ [0-9]+ 80 443$' "$XDG_STATE_HOME/hastls/pins" &&
    ok "the signal pinned web.lab.example (https, (80 443))" ||
    bad "no https pin: $(cat "$XDG_STATE_HOME/hastls/pins" 2>&1)"
python3 "$TOOLS/dnsbreak_dot.py" --listen 127.0.0.73:853 --cert "$LAB_DIR/certs/dot.pem" \
    --key "$LAB_DIR/certs/dot.key" --log "$LAB_DIR/break.log" web.lab.example/65/servfail 3>&- &
breaker=$!
trap 'kill $breaker 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^ready$' "$LAB_DIR/break.log" 2>/dev/null && break; sleep 0.1; done
ATT_CSO=$(conf attcso https_rr=enforce client=cso upstream=127.0.0.73@853#dot.lab.example)
ATT_IGN=$(conf attign client=cso upstream=127.0.0.73@853#dot.lab.example)
want "HTTPS query stripped, enforce: the pin refuses 80" "$(verdicts "$ATT_CSO" web.lab.example)" \
    "80=EACCES 443=ok"
expect_line "the refusal names the pin" "$LAB_DIR/v.err" \
    '^hastls: blocked connect to web\.lab\.example\[127\.0\.10\.30\]:80: .*\(pinned: '
grep -q 'web.lab.example 65 servfail' "$LAB_DIR/break.log" && ok "the attacker stripped the HTTPS answer" ||
    bad "the attacker saw no HTTPS query"
if [ -x "$H" ]; then
    "$H" check --config "$ATT_CSO" web.lab.example 80 >"$LAB_DIR/chk-att.out" 2>&1
    expect_status "hastls check, HTTPS stripped: blocks" $? 1
    expect_line "check: the https pin in force" "$LAB_DIR/chk-att.out" \
        '^pin: \(80 443\) from a secure https lookup, .*; in force'
fi
want "HTTPS query stripped, ignore: the https pin is not used" \
    "$(verdicts "$ATT_IGN" web.lab.example)" "80=ok 443=ok"

if [ -x "$H" ]; then
    "$H" check --config "$ENF_CSO" web.lab.example 80 443 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check (enforce, cso): blocks" $? 1
    expect_line "check: the https line" "$LAB_DIR/chk.out" \
        '^https: a DNSSEC-secure HTTPS record: it stands for \(80 443\) \(https_rr = enforce\)$'
    expect_line "check: 80 blocked" "$LAB_DIR/chk.out" '^80 .*block\*'
    "$H" check --config "$IGN_CSO" web.lab.example 80 >"$LAB_DIR/chk2.out" 2>&1
    expect_status "hastls check (ignore): allows" $? 0
    "$H" check --json --config "$REP_CSO" web.lab.example 80 >"$LAB_DIR/chk.json" 2>&1
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["https_signal"] and d["record"]["state"]=="absent" else 1)' "$LAB_DIR/chk.json" &&
        ok "check --json (report): the signal, not enforced" || bad "check --json: $(cat "$LAB_DIR/chk.json")"
fi
finish
