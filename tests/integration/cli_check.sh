#!/usr/bin/env bash
# cli_check: `hastls check NAME [PORT...]` against the lab's signed zones: the
# addresses, canonical name, HASTLS record, DNSSEC statuses, enforcement, the
# per-port verdicts under cio/cfb/cso with the configured client marked, the
# lookup results per family (one bogus family refuses the name), the JSON form
# (parsed with python3) and the exit statuses 0/1/2/3.  Uses
# $HASTLS_BUILD/hastls and the lab's $HASTLS_CONF (client cfb).  Prints one
# line per check; exit 0 when all pass.
set -u

H=${HASTLS_BUILD:?HASTLS_BUILD not set}/hastls
[ -x "$H" ] || { echo "cli_check: $H missing" >&2; exit 2; }
: "${HASTLS_CONF:?not inside the lab}"
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

# run ARGS...: runs hastls check ARGS, keeping stdout, stderr and the status.
run() {
    "$H" check "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
}
# status WHAT N: the last run exited with N.
status() {
    if [ "$st" -eq "$2" ]; then ok "$1: exit $2"; else bad "$1: exit $st, want $2"; fi
}
# line WHAT REGEX: some line of the last output matches REGEX (extended).
line() {
    if grep -Eq -- "$2" "$tmp/out"; then ok "$1"; else bad "$1 (no line matches /$2/)"; fi
}
# noline WHAT REGEX: no line of the last output matches REGEX.
noline() {
    if grep -Eq -- "$2" "$tmp/out"; then bad "$1 (a line matches /$2/)"; else ok "$1"; fi
}
# json WHAT PYTHON-EXPRESSION: the last output is one JSON object d for which
# the expression is true.
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

# Configurations built on the lab's own (same upstream, CA, trust anchor):
# an [app:] section that makes a program secure-only, the same in report mode,
# bogus records ignored, and an upstream port where nothing listens.
cfg_apps=$tmp/apps.conf
{
    cat "$HASTLS_CONF"
    printf '\n[app:strictapp]\nclient = cso\n'
    printf '\n[app:reportapp]\nclient = cso\nmode = report\n'
    printf '\n[app:plainapp]\nclient = cio\n'
} >"$cfg_apps"
cfg_ignore=$tmp/ignore.conf
{ cat "$HASTLS_CONF"; printf 'bogus = ignore\n'; } >"$cfg_ignore"
cfg_dead=$tmp/dead.conf
printf '%s\n' "[resolver]" "upstream = 127.0.0.53@8853#dot.lab.example" \
    "privacy = strict" "ca_bundle = $LAB_CA" "trust_anchor = $LAB_TRUST_ANCHOR" \
    "timeout_ms = 2000" >"$cfg_dead"
cfg_broken=$tmp/broken.conf
printf '[policy]\nclient = sometimes\n' >"$cfg_broken"

# ---- secure.lab.example: (0 443) ----
run secure.lab.example
status "secure, default ports" 1
line "secure: address" '^A +secure +127\.0\.10\.1$'
line "secure: AAAA secure, none" '^AAAA +secure +no addresses \(NOERROR\)$'
line "secure: record" '^HASTLS +secure +\(0 443\)$'
line "secure: reasons given" '^ +reason: validated'
line "secure: enforced" '^record: enforced'
line "secure: configured client" '^policy: client cfb, mode enforce, bogus block'
line "secure: header marks cfb" '^port +class +cio +cfb\* +cso +reason \(cfb\)$'
line "secure: 80 no-cleartext, blocked for all" \
    '^80 +no-cleartext +block +block\* +block +record pair \(0 443\) serves 80 only over TLS on 443'
line "secure: 443 tls, allowed for all" '^443 +tls +allow +allow\* +allow +record pair \(0 443\) serves 443 over TLS$'
line "secure: result" '^result: client cfb would block port 80$'
noline "secure: no CNAME" '^canonical:'
noline "secure: only the record's ports and counterparts" '^(25|993|8080) '

run --json secure.lab.example
status "secure --json" 1
json "secure JSON: name, no canonical" 'd["name"] == "secure.lab.example" and d["canonical"] is None'
json "secure JSON: addresses" 'd["addresses"] == ["127.0.10.1"]'
json "secure JSON: answers" '[d["answers"][t]["status"] for t in ("A", "AAAA", "HASTLS")] == ["secure"] * 3 and d["answers"]["A"]["records"] == ["127.0.10.1"] and d["answers"]["AAAA"]["records"] == []'
json "secure JSON: record" 'd["record"]["text"] == "(0 443)" and d["record"]["pairs"] == [[0, 443]] and d["record"]["enforced"] is True and d["record"]["state"] == "enforced"'
json "secure JSON: ports" '[p["port"] for p in d["ports"]] == [80, 443]'
json "secure JSON: 80" 'd["ports"][0]["class"] == "no-cleartext" and d["ports"][0]["verdicts"] == {"cio": "block", "cfb": "block", "cso": "block"} and d["ports"][0]["verdict"] == "block" and "only over TLS on 443" in d["ports"][0]["reason"]'
json "secure JSON: 443" 'd["ports"][1]["class"] == "tls" and set(d["ports"][1]["verdicts"].values()) == {"allow"} and d["ports"][1]["verdict"] == "allow"'
json "secure JSON: config" 'd["config"]["client"] == "cfb" and d["config"]["mode"] == "enforce" and d["config"]["record_type"] == 65301'
json "secure JSON: blocked, exit" 'd["blocked"] == [80] and d["exit"] == 1 and d["lookup_failed"] is False'

run secure.lab.example 443
status "secure 443 only" 0
line "secure 443: row" '^443 +tls '
noline "secure 443: no other row" '^80 '
line "secure 443: result" '^result: client cfb allows every port listed$'

run secure.lab.example 443 80 443 8080
status "secure 443 80 443 8080" 1
json_rows=$(grep -Eo '^[0-9]+ ' "$tmp/out" | tr -d ' ' | tr '\n' ' ')
if [ "$json_rows" = "80 443 8080 " ]; then ok "ports deduplicated and sorted"; else bad "ports deduplicated and sorted (rows: $json_rows)"; fi
line "8080 unlisted" '^8080 +unlisted +allow +allow\* +allow +the record does not mention port 8080$'

# ---- both.lab.example: (80 443), cfb vs cso ----
run both.lab.example
status "both under cfb" 0
line "both: 80 cleartext, cfb allows" '^80 +cleartext +allow +allow\* +block +record pair \(80 443\) serves 80 in cleartext'
line "both: 443 tls" '^443 +tls +allow +allow\* +allow '
run --json both.lab.example 80
json "both JSON: cleartext allowed with a note under cfb" 'd["ports"][0]["class"] == "cleartext" and d["ports"][0]["verdict"] == "allow" and d["ports"][0]["note"] is True and d["ports"][0]["verdicts"]["cso"] == "block" and d["exit"] == 0'

run --config "$cfg_apps" --app strictapp both.lab.example
status "both under cso (--config, --app)" 1
line "both cso: policy line" '^policy: client cso, mode enforce, bogus block; config .*apps\.conf \[app:strictapp\]$'
line "both cso: header marks cso" '^port +class +cio +cfb +cso\* +reason \(cso\)$'
line "both cso: 80 blocked, cso's reason" '^80 +cleartext +allow +allow +block\* +record pair \(80 443\) serves 80 in cleartext; a secure-only client must use TLS on 443$'
line "both cso: result" '^result: client cso would block port 80$'
run --config "$cfg_apps" --app strictapp both.lab.example 443
status "both 443 under cso" 0
run --config "$cfg_apps" --app /usr/local/bin/strictapp --json both.lab.example
status "both --app by full path" 1
json "both cso JSON" 'd["config"]["client"] == "cso" and d["config"]["app_section"] != "" and d["blocked"] == [80] and d["ports"][0]["verdict"] == "block"'
run --config "$cfg_apps" both.lab.example
status "both, app file without --app: cfb" 0
run --config "$cfg_apps" --app stricktapp both.lab.example
status "both, --app matching no section: cfb" 0
line "both: unmatched --app said" '^policy: client cfb, .*; no \[app:\] section matches stricktapp$'
# Without --config the file comes from HASTLS_CONF; --app beats HASTLS_APP.
HASTLS_CONF=$cfg_apps HASTLS_APP=plainapp run --app strictapp both.lab.example
status "both, HASTLS_CONF and --app over HASTLS_APP" 1
line "both: --app won" '^policy: client cso'
HASTLS_CONF=$cfg_apps HASTLS_APP=strictapp run both.lab.example
status "both, HASTLS_APP selects the section" 1

# Report mode: the status still answers "would the policy block".
run --config "$cfg_apps" --app reportapp both.lab.example
status "both under cso, mode report" 1
line "report: mode shown" '^policy: client cso, mode report'
line "report: result says it is only logged" '^result: client cso would block port 80 \(mode report'

# ---- mail.lab.example: (25 25 0 993 0 995), default ports ----
run mail.lab.example
status "mail default ports" 1
line "mail: record" '^HASTLS +secure +\(25 25 0 993 0 995\)$'
line "mail: 25 starttls" '^25 +starttls +allow +allow\* +allow '
line "mail: 110 no-cleartext (pop3 -> 995)" '^110 +no-cleartext +block +block\* +block +record pair \(0 995\)'
line "mail: 143 no-cleartext (imap -> 993)" '^143 +no-cleartext +block +block\* +block +record pair \(0 993\)'
line "mail: 993 tls" '^993 +tls '
line "mail: 995 tls" '^995 +tls '
line "mail: result" '^result: client cfb would block ports 110 143$'
run --json mail.lab.example
json "mail JSON: default ports" '[p["port"] for p in d["ports"]] == [25, 110, 143, 993, 995]'
json "mail JSON: classes" '[p["class"] for p in d["ports"]] == ["starttls", "no-cleartext", "no-cleartext", "tls", "tls"]'
json "mail JSON: pairs" 'd["record"]["pairs"] == [[25, 25], [0, 993], [0, 995]]'

# ---- norecord.lab.example: secure proof of absence ----
run norecord.lab.example
status "norecord" 0
line "norecord: address" '^A +secure +127\.0\.10\.6$'
line "norecord: no record, secure" '^HASTLS +secure +no record \(NOERROR\)$'
line "norecord: nothing to enforce" '^record: not enforced: DNSSEC proves there is no HASTLS record'
line "norecord: 80 and 443 by default, not enforced" '^80 +- +allow +allow\* +allow +no HASTLS record'
line "norecord: 443" '^443 +- +allow '
run --json norecord.lab.example 25
status "norecord --json 25" 0
json "norecord JSON" 'd["record"]["text"] is None and d["record"]["pairs"] == [] and d["record"]["state"] == "absent" and d["record"]["enforced"] is False and d["record"]["status"] == "secure"'
json "norecord JSON: the port asked" '[p["port"] for p in d["ports"]] == [25] and d["ports"][0]["class"] is None and d["ports"][0]["verdict"] == "allow" and d["blocked"] == []'

# ---- www.insecure.lab.example: record present, unsigned zone ----
run www.insecure.lab.example
status "insecure record" 0
line "insecure: address insecure" '^A +insecure +127\.0\.10\.10$'
line "insecure: record shown, insecure" '^HASTLS +insecure +\(0 443\)$'
line "insecure: never enforced" '^record: not enforced: the record is not DNSSEC-signed'
line "insecure: 80 allowed" '^80 +- +allow +allow\* +allow +the HASTLS record is insecure'
run --config "$cfg_apps" --app strictapp --json www.insecure.lab.example 80
status "insecure record under cso" 0
json "insecure JSON" 'd["record"]["status"] == "insecure" and d["record"]["text"] == "(0 443)" and d["record"]["enforced"] is False and d["record"]["state"] == "insecure" and d["ports"][0]["verdicts"] == {"cio": "allow", "cfb": "allow", "cso": "allow"}'

# ---- badsig.lab.example: HASTLS RRSIG corrupted, A validates ----
run badsig.lab.example
status "badsig" 1
line "badsig: address still secure" '^A +secure +127\.0\.10\.9$'
line "badsig: record bogus" '^HASTLS +bogus +\(80 443\) \(not validated\)$'
line "badsig: validator's reason" '^ +reason: .*validation failure'
line "badsig: blocks everything" '^record: bogus: every connection to this name is blocked \(bogus = block\)'
line "badsig: 80 blocked for all" '^80 +bogus +block +block\* +block +its HASTLS record is bogus \(it failed DNSSEC validation, or is signed but cannot be used; bogus = block\)'
line "badsig: 443 blocked for all" '^443 +bogus +block +block\* +block '
noline "badsig: the name itself resolves" '^lookup: refused'
run --json badsig.lab.example 443
status "badsig --json 443" 1
json "badsig JSON" 'd["answers"]["HASTLS"]["status"] == "bogus" and d["record"]["state"] == "bogus-block" and d["record"]["blocks_all"] is True and d["record"]["enforced"] is False and d["blocked"] == [443] and "validation failure" in d["record"]["reason"]'
run --config "$cfg_ignore" badsig.lab.example
status "badsig, bogus = ignore" 0
line "badsig ignore: not enforced" '^record: not enforced: the record is bogus and bogus = ignore'

# ---- www.bogus.lab.example: every answer bogus: the shim refuses the name ----
run --config "$cfg_ignore" --json www.bogus.lab.example
status "bogus addresses, even with bogus = ignore" 1
json "bogus addresses JSON" 'd["lookup_refused"] is True and d["answers"]["A"]["status"] == "bogus" and d["blocked"] == []'
run www.bogus.lab.example
line "bogus addresses: EAI_FAIL explained" '^lookup: refused: .*EAI_FAIL'

# ---- halfbogus.lab.example: A valid, AAAA bogus: the shim refuses AF_UNSPEC ----
run halfbogus.lab.example 443
status "one family bogus: the name is refused" 1
line "halfbogus: A secure" '^A +secure +127\.0\.10\.15$'
line "halfbogus: AAAA bogus" '^AAAA +bogus +fd00:1ab::f \(not validated\)$'
line "halfbogus: which answer, and A alone" \
    '^lookup: refused: the AAAA answer is bogus, the shim fails the lookup \(EAI_FAIL\); a lookup of A only \(AF_INET\) succeeds$'
line "halfbogus: the record still decides A-only connections" '^443 +tls +allow +allow\* +allow '
line "halfbogus: result" '^result: the name cannot be resolved under the shim'
run --json halfbogus.lab.example 80
status "halfbogus --json 80" 1
json "halfbogus JSON: per family" 'd["lookup"] == {"AF_UNSPEC": "EAI_FAIL", "AF_INET": "ok", "AF_INET6": "EAI_FAIL"} and d["lookup_refused"] is True and d["blocked"] == [80] and d["exit"] == 1'
run --json secure.lab.example 443
json "secure JSON: lookups of a name without AAAA" 'd["lookup"] == {"AF_UNSPEC": "ok", "AF_INET": "ok", "AF_INET6": "EAI_NODATA"} and d["lookup_refused"] is False'
run --json --config "$cfg_dead" hostsfile.lab.example 80
json "hosts JSON: lookups from the file" 'd["lookup"] == {"AF_UNSPEC": "ok", "AF_INET": "ok", "AF_INET6": "EAI_NONAME"}'
run --json 127.0.10.1 80
json "literal JSON: no lookup" 'd["lookup"] is None'

# ---- alias.lab.example: CNAME secure.lab.example ----
run alias.lab.example
status "alias" 1
line "alias: canonical name" '^canonical: secure\.lab\.example \(CNAME followed\)$'
line "alias: target's address" '^A +secure +127\.0\.10\.1$'
line "alias: target's record" '^HASTLS +secure +\(0 443\)$'
run --json alias.lab.example
json "alias JSON" 'd["name"] == "alias.lab.example" and d["canonical"] == "secure.lab.example" and d["addresses"] == ["127.0.10.1"] and d["record"]["text"] == "(0 443)"'

# ---- dual.lab.example: both families ----
run --json dual.lab.example
json "dual JSON: IPv4 and IPv6" 'd["addresses"] == ["127.0.10.8", "fd00:1ab::8"]'

# ---- an address literal: never looked up, not governed ----
run --config "$cfg_dead" 127.0.10.1
status "IPv4 literal (no lookup: even without an upstream)" 0
line "literal: said so" '^address literal: 127\.0\.10\.1, nothing is looked up$'
line "literal: not governed" '^record: not governed: an address literal'
line "literal: 80 allowed" '^80 +- +allow +allow\* +allow +an address no lookup returned is not governed$'
noline "literal: no answers" '^(A|AAAA|HASTLS) '
run --json --config "$cfg_apps" --app strictapp fd00:1ab::7 80
status "IPv6 literal --json" 0
json "literal JSON" 'd["addresses"] == ["fd00:1ab::7"] and d["answers"] == {} and d["record"]["state"] == "literal" and d["record"]["status"] is None and d["ports"][0]["verdict"] == "allow" and d["exit"] == 0'

run 127.1 443
status "IPv4 literal, short form" 0
line "short literal: as getaddrinfo reads it" '^address literal: 127\.0\.0\.1, '

# ---- hosts-file names: answered without DNS, not governed ----
run --config "$cfg_dead" hostsfile.lab.example
status "hosts-file name (no DNS: even without an upstream)" 0
line "hosts: the file's address" '^hosts file: 127\.0\.20\.1 \(no DNS lookup\)$'
line "hosts: not governed" '^record: not governed: the shim answers this name from the hosts file'
noline "hosts: no DNS answers" '^(A|AAAA|HASTLS) '
run --json --config "$cfg_dead" LocalHost. 22
status "localhost --json" 0
json "localhost JSON" 'd["addresses"] == ["127.0.0.1", "::1"] and d["answers"] == {} and d["record"]["state"] == "hosts" and d["canonical"] is None and d["ports"][0]["port"] == 22 and d["ports"][0]["verdict"] == "allow"'

# ---- names with odd bytes: JSON stays valid, text is escaped ----
odd=$'odd"\\\x01\xff\xc3\xa9.lab.example'
run --json "$odd"
status "odd name (NXDOMAIN, nothing to enforce)" 0
json "odd name JSON round trip" 'd["name"] == "odd\"\\\x01\xff\u00e9.lab.example" and d["addresses"] == [] and d["answers"]["A"]["rcode"] == "NXDOMAIN"'
run $'esc\x1b[31m.lab.example'
if grep -q $'\x1b' "$tmp/out"; then bad "text output escapes control bytes"; else ok "text output escapes control bytes"; fi
line "text shows the escaped byte" '^name: esc\\027\[31m\.lab\.example$'

# ---- failures: exit 3 ----
run --config "$cfg_dead" secure.lab.example
status "no upstream reachable" 3
line "failed statuses" '^HASTLS +failed +no answer$'
line "failed: the transport's reason" '^ +reason: no authenticated DNS-over-TLS upstream reachable'
line "failed: allowed with a warning" '^80 +- +allow +allow\* +allow +the HASTLS lookup failed'
run --config "$cfg_dead" --json secure.lab.example
status "no upstream reachable, --json" 3
json "failed JSON" 'd["lookup_failed"] is True and d["exit"] == 3 and d["record"]["state"] == "failed" and d["answers"]["HASTLS"]["status"] == "failed"'
run --config "$cfg_broken" secure.lab.example
status "invalid configuration" 3
if grep -Eq "^hastls: .*broken\.conf:2: " "$tmp/err"; then ok "invalid configuration: FILE:LINE message"; else bad "invalid configuration: FILE:LINE message"; fi
run --config "$tmp/missing.conf" secure.lab.example
status "missing configuration" 3

# (Whether check predicts the shim, name by name and port by port against
# real connect() calls, is tests/integration/check_parity.sh.)

# ---- usage ----
run --help
status "--help" 0
line "--help: synopsis" '^usage: hastls check '
line "--help: exit statuses" '^  3  configuration error'
line "--help: report mode explained" 'also in report mode'
"$H" --help >"$tmp/out" 2>&1
line "hastls --help lists check" '^  check '
run
status "no name" 2
run secure.lab.example 0
status "port 0" 2
run secure.lab.example 65536
status "port 65536" 2
run secure.lab.example http
status "port by name" 2
run secure.lab.example 44x3
status "port with junk" 2
run --bogus secure.lab.example
status "unknown option" 2
run secure.lab.example --config
status "--config without a value" 2
run ""
status "empty name" 2
run "$(printf 'a%.0s' $(seq 300))"
status "name too long" 2

echo "cli_check: $passes checks ok, $fails failed"
[ "$fails" -eq 0 ] || exit 1
