#!/usr/bin/env bash
# cli_dane: the DANE and SRV-delegation forms of `hastls check` against the
# lab's TLSA hosts and services.
#   - `check NAME 443`: the TLSA owner, its DNSSEC status, each record
#     (usable or why not) and the verdict under dane = enforce, for every
#     TLSA case of the lab; the exit status of a refusal (bogus TLSA);
#   - `--connect`: real handshakes with services.py checked with OpenSSL's
#     DANE verifier (DANE-EE, DANE-TA pass; a record for another key fails;
#     a bogus RRset is refused without connecting; an insecure one leaves
#     PKIX), SMTP STARTTLS on port 25 (no TLSA record: PKIX only), XMPP
#     STARTTLS with a real prosody, and a certificate outside the CA bundle;
#   - `--srv`: the secure delegation _xmpp-client._tcp.lab.example (TLSA of
#     the target asked, DANE-EE passes on the direct-TLS service of the
#     lab's xmpp host, --starttls none), the insecure one in
#     insecure.lab.example (TLSA never asked, proved by counting the packets
#     between the lab's unbound and NSD, with a control that the count sees
#     such a query; the certificate lacks the source domain: it fails), the
#     fallback without an SRV record, and XMPP STARTTLS refused by a server
#     that speaks none;
#   - JSON parsed with python3, a name with a quote and a control byte;
#   - bad arguments: exit 2 with a message naming what is wrong.
# Uses $HASTLS_BUILD/hastls and the lab's $HASTLS_CONF (dane enforce).
set -u

H=${HASTLS_BUILD:?HASTLS_BUILD not set}/hastls
[ -x "$H" ] || { echo "cli_dane: $H missing" >&2; exit 2; }
: "${HASTLS_CONF:?not inside the lab}"
T=${LAB_TOOLS:?not inside the lab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
st=0

ok() {
    echo "ok   $1"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
    if [ -s "$tmp/out" ]; then sed 's/^/    | /' "$tmp/out" | head -40; fi
    if [ -s "$tmp/err" ]; then sed 's/^/    ! /' "$tmp/err" | head -10; fi
}
run() {
    "$H" check "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
}
status() {
    if [ "$st" -eq "$2" ]; then ok "$1: exit $2"; else bad "$1: exit $st, want $2"; fi
}
line() {
    if grep -Eq -- "$2" "$tmp/out"; then ok "$1"; else bad "$1 (no line matches /$2/)"; fi
}
noline() {
    if grep -Eq -- "$2" "$tmp/out"; then bad "$1 (a line matches /$2/)"; else ok "$1"; fi
}
errline() {
    if grep -Eq -- "$2" "$tmp/err"; then ok "$1"; else bad "$1 (no error matches /$2/)"; fi
}
json() {
    if python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/out" "$2" 2>"$tmp/pyerr"; then
        ok "$1"
    else
        bad "$1 (not true: $2) $(tail -n 1 "$tmp/pyerr")"
    fi
}

L=lab.example
hex='[0-9a-f]{64}'

# ---- check NAME 443: the records, their status, the verdict ----
run dane-ok.$L 443
status "dane-ok" 0
line "dane-ok: owner and status" "^tlsa: _443\._tcp\.dane-ok\.$L secure \(NOERROR\)$"
line "dane-ok: the record, usable" "^  3 1 1 $hex \(usable\)$"
line "dane-ok: enforced" "^DANE 443: enforced: the certificate must match one of 1 record$"

run dane-ee0.$L 443
line "dane-ee0: 3 0 1" "^  3 0 1 $hex \(usable\)$"
run dane-ta.$L 443
line "dane-ta: 2 0 1" "^  2 0 1 $hex \(usable\)$"
run dane-ta1.$L 443
line "dane-ta1: 2 1 1" "^  2 1 1 $hex \(usable\)$"
run dane-pkix.$L 443
line "dane-pkix: 1 1 1 enforced" "^DANE 443: enforced: "
run dane-bad.$L 443
line "dane-bad: a usable record (the mismatch shows only on --connect)" "^DANE 443: enforced: "

run dane-bogus.$L 443
status "dane-bogus: connect() allowed, the refusal is the handshake's" 0
line "dane-bogus: status bogus" "^tlsa: _443\._tcp\.dane-bogus\.$L bogus "
line "dane-bogus: record not used" "^  3 1 1 $hex \(not used: bogus\)$"
line "dane-bogus: the validator's reason" "^  reason: .*(signature|RRSIG)"
line "dane-bogus: refused" "^DANE 443: refused: TLSA bogus \("
line "dane-bogus: the handshake refused" "^tls: the shim refuses the TLS handshake on port 443 "

run dane-unusable.$L 443
status "dane-unusable" 0
line "dane-unusable: unknown usage" "^  4 1 1 $hex \(unusable: .*usage"
line "dane-unusable: short digest" "^  3 1 1 00 \(unusable: .*digest"
line "dane-unusable: none" "^DANE 443: none \(no usable TLSA record"

run dane-ins.insecure.$L 443
status "dane-ins (insecure)" 0
line "dane-ins: insecure" "^tlsa: _443\._tcp\.dane-ins\.insecure\.$L insecure "
line "dane-ins: none" "^DANE 443: none \(insecure TLSA, the program's own verification applies\)$"

run secure.$L 443
line "secure: no TLSA" "^DANE 443: none \(no TLSA record"
# Without PORT no TLSA is asked: the ports shown are only the record's.
run secure.$L
noline "no PORT: no DANE block" "^(tlsa|DANE)"

# dane = report and dane = off change the verdict, not the records.
cfg_report=$tmp/report.conf
{ cat "$HASTLS_CONF"; printf '\n[app:reportapp]\ndane = report\n[app:offapp]\ndane = off\n'; } >"$cfg_report"
run --config "$cfg_report" --app reportapp dane-bogus.$L 443
status "dane-bogus under dane = report" 0
line "dane-bogus under report: logged" "^DANE 443: report: TLSA bogus"
run --config "$cfg_report" --app offapp dane-ok.$L 443
line "dane-ok under dane = off" "^DANE 443: off "

# ---- --connect ----
run --connect dane-ok.$L 443
status "connect dane-ok" 0
line "connect dane-ok: SNI" "^connect: 127\.0\.10\.20 port 443, direct TLS, SNI dane-ok\.$L, TLSv1"
line "connect dane-ok: DANE-EE match" "^certificate: DANE-EE\(3\) match on the key, depth 0$"
line "connect dane-ok: PKIX fails (self-signed), DANE decides" "^PKIX: fails for dane-ok\.$L: .*not what decides"
line "connect dane-ok: verdict" "^certificate verdict: pass \(DANE\)$"

run --connect dane-ee0.$L 443
line "connect dane-ee0: match on the certificate" "^certificate: DANE-EE\(3\) match on the certificate, depth 0$"

run --connect dane-ta.$L 443
status "connect dane-ta" 0
line "connect dane-ta: the anchor at depth 1" "^certificate: DANE-TA\(2\) match on the certificate, depth 1$"
line "connect dane-ta: PKIX ok too" "^PKIX: ok for dane-ta\.$L"

run --connect dane-bad.$L 443
status "connect dane-bad" 1
line "connect dane-bad: no match" "^certificate: fails: no matching DANE TLSA records$"
line "connect dane-bad: PKIX alone does not save it" "^certificate verdict: fail$"

run --connect dane-bogus.$L 443
status "connect dane-bogus" 1
line "connect dane-bogus: not connected" "^connect: not connected: the shim refuses the handshake"
noline "connect dane-bogus: no handshake" "^presented:"

run --connect dane-ins.insecure.$L 443
status "connect dane-ins (insecure TLSA)" 0
noline "connect dane-ins: no DANE check" "^certificate: "
line "connect dane-ins: PKIX decides" "^certificate verdict: pass \(PKIX\)$"

# A CA bundle that does not hold the lab CA: PKIX fails where DANE is not used.
run --connect --ca /etc/ssl/certs/ca-certificates.crt secure.$L 443
status "connect secure with another CA bundle" 1
line "another CA bundle: PKIX fails" "^PKIX: fails for secure\.$L: "

# SMTP STARTTLS on port 25 (services.py's banner service), no TLSA record.
run --connect mail.$L 25
status "connect mail:25 STARTTLS" 0
line "mail:25: STARTTLS smtp" "^connect: 127\.0\.10\.4 port 25, STARTTLS smtp, SNI mail\.$L"
line "mail:25: no TLSA" "^DANE 25: none \(no TLSA record"
line "mail:25: PKIX" "^PKIX: ok for mail\.$L$"
# The xmpp service answers TLS at once: an XMPP dialogue gets no stream.
run --connect xmpp.$L 5222
status "xmpp:5222 with XMPP STARTTLS against direct TLS" 3
line "xmpp STARTTLS: the dialogue fails" "^connect: .*XMPP"
run --connect --starttls none xmpp.$L 5222
status "xmpp:5222 direct TLS" 0
line "xmpp direct TLS: DANE-EE" "^certificate: DANE-EE\(3\) match on the key"

# XMPP STARTTLS with a real server: prosody on xmpp.lab.example:15222, the
# stream to xmpp.lab.example, the lab's xmpp certificate (no TLSA record on
# that port: PKIX decides).
if command -v prosody >/dev/null; then
    P=$tmp/prosody
    mkdir -p "$P"
    cp "$LAB_DIR/certs/xmpp.pem" "$LAB_DIR/certs/xmpp.key" "$P/"
    cat >"$P/prosody.cfg.lua" <<CFG
daemonize = false
run_as_root = true
pidfile = "$P/prosody.pid"
data_path = "$P"
certificates = "$P"
log = { { levels = { min = "info" }, to = "file", filename = "$P/prosody.log" } }
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s" }
c2s_ports = { 15222 }
c2s_direct_tls_ports = { }
interfaces = { "127.0.10.13" }
c2s_require_encryption = true
VirtualHost "xmpp.lab.example"
  ssl = { certificate = "$P/xmpp.pem", key = "$P/xmpp.key" }
CFG
    prosody --config "$P/prosody.cfg.lua" >"$P/out" 2>&1 &
    prosody_pid=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.10.13/15222) 2>/dev/null && break
        sleep 0.1
    done
    run --connect --starttls xmpp xmpp.$L 15222
    status "prosody: XMPP STARTTLS" 0
    line "prosody: the upgrade" "^connect: 127\.0\.10\.13 port 15222, STARTTLS xmpp, SNI xmpp\.$L, TLSv1"
    line "prosody: its certificate, PKIX" "^PKIX: ok for xmpp\.$L$"
    kill "$prosody_pid" 2>/dev/null
    wait "$prosody_pid" 2>/dev/null
else
    echo "skip prosody: not installed (scripts/install-deps)"
fi

run --json --connect dane-ok.$L 443
json "connect JSON" 'd["connect"]["outcome"] == "pass" and d["connect"]["passed_by"] == "DANE" and d["connect"]["dane"]["usage"] == 3 and d["connect"]["dane"]["depth"] == 0 and d["connect"]["pkix"]["ok"] is False and d["exit"] == 0'
json "dane JSON" 'd["dane"][0]["owner"] == "_443._tcp.dane-ok.lab.example" and d["dane"][0]["status"] == "secure" and d["dane"][0]["verdict"] == "enforced" and d["dane"][0]["records"][0]["usable"] is True and len(d["dane"][0]["records"][0]["data"]) == 64'
run --json dane-bogus.$L 80 443
json "bogus JSON: the refusal, not in the exit status" 'd["dane_refused"] == [443] and [e["port"] for e in d["dane"]] == [80, 443] and d["dane"][0]["verdict"] == "none" and d["dane"][1]["verdict"] == "refused" and d["exit"] == 0'
run --json dane-unusable.$L 443
json "unusable JSON" 'sorted(r["why"] is not None for r in d["dane"][0]["records"]) == [True, True] and d["dane"][0]["verdict"] == "none"'

# A name with a quote and a control byte: the JSON stays valid.
run --json "$(printf 'a"b\001c.%s' "$L")" 443
json "JSON escaping of a strange name" 'd["name"] == "a\"b\x01c.lab.example" and d["dane"][0]["owner"] == "_443._tcp.a\"b\x01c.lab.example"'

# ---- --srv: the secure delegation ----
run --srv _xmpp-client._tcp.$L --connect --starttls none
status "srv lab.example --connect" 0
line "srv: step 1 secure" "^step 1: SRV secure \(NOERROR\)$"
line "srv: the record" "^  0 0 5222 xmpp\.$L$"
line "srv: target" "^target 1: xmpp\.$L port 5222 \(priority 0, weight 0\)$"
line "srv: A secure" "^  A +secure +127\.0\.10\.13$"
line "srv: delegation secure" "^  delegation: secure "
line "srv: TLSA of the target" "^  tlsa: _5222\._tcp\.xmpp\.$L secure"
line "srv: names" "^  names: $L, xmpp\.$L; any name \(DANE-EE\)$"
line "srv: SNI is the source domain" "^  connect: 127\.0\.10\.13 port 5222, direct TLS, SNI $L,"
line "srv: DANE-EE passes" "^  certificate: DANE-EE\(3\) match on the key, depth 0$"
line "srv: result" "^result: pass: xmpp\.$L port 5222$"
run --srv _xmpp-client._tcp.$L --json
json "srv JSON" 'd["srv"]["status"] == "secure" and d["srv"]["records"] == [{"priority": 0, "weight": 0, "port": 5222, "target": "xmpp.lab.example"}] and d["targets"][0]["delegation"] == "secure" and d["targets"][0]["tlsa"]["asked"] is True and d["targets"][0]["names"] == ["lab.example", "xmpp.lab.example"] and d["targets"][0]["any_name"] is True and d["targets"][0]["connect"] is None and d["exit"] == 0'

# ---- --srv: the insecure delegation; its TLSA is never asked ----
ins=_xmpp-client._tcp.insecure.$L
"$H" check --srv "$ins" >/dev/null 2>&1 # the lab's unbound caches the rest
"$T/pktcount" --addr 127.0.1.1 --port 53 -o "$tmp/n" -- \
    "$H" check --srv "$ins" --json --connect --starttls none >"$tmp/out" 2>"$tmp/err"
st=$?
status "srv insecure --connect (the certificate lacks the source domain)" 1
json "srv insecure JSON: not asked" 'd["srv"]["status"] == "insecure" and d["targets"][0]["delegation"] == "insecure" and d["targets"][0]["tlsa"]["asked"] is False and d["targets"][0]["tlsa"]["verdict"] == "not-asked" and d["targets"][0]["names"] == ["insecure.lab.example"]'
json "srv insecure JSON: PKIX against the source domain fails" 'd["targets"][0]["connect"]["outcome"] == "fail" and d["targets"][0]["connect"]["pkix"]["ok"] is False and d["passed"] is None'
n_walk=$(cat "$tmp/n")
"$T/pktcount" --addr 127.0.1.1 --port 53 -o "$tmp/n" -- \
    "$H" lookup "_5222._tcp.xmpp.insecure.$L" TLSA >/dev/null 2>&1
n_ctl=$(cat "$tmp/n")
if [ "$n_walk" = 0 ] && [ "$n_ctl" -gt 0 ]; then
    ok "srv insecure: no query reached NSD (control: the TLSA lookup makes $n_ctl packets)"
else
    bad "srv insecure: $n_walk packets to NSD during the walk (want 0), control $n_ctl (want > 0)"
fi
run --srv "$ins"
line "srv insecure: text" "^  tlsa: _5222\._tcp\.xmpp\.insecure\.$L not asked$"
line "srv insecure: why" "^  DANE: not asked: delegation insecure$"
line "srv insecure: names" "^  names: insecure\.$L$"

# No SRV record: the domain itself (no delegation); port 25 with SMTP.
run --srv _smtp._tcp.mail.$L --connect
status "srv fallback smtp" 0
line "srv fallback: step 2" "^step 2: no SRV record: the domain itself on the service's port 25"
line "srv fallback: no delegation" "^  delegation: none "
line "srv fallback: STARTTLS smtp" "^  connect: 127\.0\.10\.4 port 25, STARTTLS smtp"
# XMPP STARTTLS (the default of xmpp-client) against the direct-TLS service.
run --srv _xmpp-client._tcp.$L --connect
status "srv with XMPP STARTTLS against direct TLS: no handshake" 3
line "srv XMPP STARTTLS: the dialogue fails" "^  connect: .*XMPP"

# ---- bad arguments ----
run secure.$L 0
status "port 0" 2
errline "port 0: message" "bad port '0'"
run secure.$L 70000
status "port 70000" 2
run --connect secure.$L
status "--connect without PORT" 2
errline "--connect without PORT: message" "--connect needs a PORT"
run --connect secure.$L 443 80
status "--connect with two ports" 2
run --starttls pop --connect secure.$L 443
status "--starttls pop" 2
errline "--starttls pop: message" "--starttls 'pop'"
run --srv "lab.example"
status "srv without service label" 2
errline "srv without service label: message" "does not start with a service label"
run --srv "_xmpp-client._udp.$L"
status "srv _udp" 2
errline "srv _udp: message" "TLS runs over _tcp"
run --srv '_xmpp-client._tcp.a"b.example'
status "srv quote" 2
errline "srv quote: message" "label 3 .* has the character"
run --srv "_x._tcp.$(printf 'a%.0s' $(seq 64)).example"
status "srv label too long" 2
errline "srv label too long: message" "label 3 is longer than 63"
run --srv "_x._tcp.$(printf 'abcdefgh.%.0s' $(seq 30))example"
status "srv name too long" 2
errline "srv name too long: message" "longer than 253"
run --srv "_xmpp-client._tcp.b$(printf '\303\274')cher.example"
status "srv U-label" 2
errline "srv U-label: message" "A-label form"
run --srv "_xmpp-client._tcp.$L" extra
status "srv with a NAME" 2
run "$(printf 'a%.0s' $(seq 300))" 443
status "NAME too long" 2

echo "cli_dane: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
