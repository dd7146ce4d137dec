#!/usr/bin/env bash
# The policy verbs of the hastls CLI: `hastls decide` and `hastls config`,
# their output, messages and exit statuses.  Needs no lab service, but runs
# inside the lab like every integration test (it also checks the lab's
# ready-made $HASTLS_CONF).  Uses $HASTLS_BUILD/hastls.  Prints one FAIL line
# per failed check; exit 0 when all pass.
set -u

H=${HASTLS_BUILD:?HASTLS_BUILD not set}/hastls
[ -x "$H" ] || { echo "cli_policy: $H missing" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0

bad() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}

# expect WHAT STATUS STDOUT STDERR-PATTERN -- CMD...: runs CMD, compares the exit
# status and standard output exactly, and standard error against an extended
# regular expression ("" means it must be empty).
expect() {
    local what=$1 status=$2 out=$3 errpat=$4
    shift 5
    "$@" >"$tmp/out" 2>"$tmp/err"
    local st=$?
    if [ "$st" -ne "$status" ]; then
        bad "$what: status $st, want $status (stderr: $(head -c 300 "$tmp/err"))"
        return
    fi
    if [ "$(cat "$tmp/out")" != "$out" ]; then
        bad "$what: stdout '$(cat "$tmp/out")', want '$out'"
        return
    fi
    if [ -z "$errpat" ]; then
        if [ -s "$tmp/err" ]; then
            bad "$what: unexpected stderr '$(cat "$tmp/err")'"
            return
        fi
    elif ! grep -Eq -- "$errpat" "$tmp/err"; then
        bad "$what: stderr '$(cat "$tmp/err")' does not match /$errpat/"
        return
    fi
    passed=$((passed + 1))
}

nl=$'\n'
# ---- decide ----
expect "decide no-cleartext" 0 \
    "class: no-cleartext${nl}verdict: block${nl}reason: record pair (0 443) serves 80 only over TLS on 443, never in cleartext" \
    "" -- "$H" decide --record "(0 443)" --port 80 --client cfb
expect "decide client defaults to cfb" 0 \
    "class: cleartext${nl}verdict: allow${nl}reason: record pair (80 443) serves 80 in cleartext (TLS on 443)" \
    "" -- "$H" decide --record "(80 443)" --port 80
expect "decide cso refuses cleartext" 0 \
    "class: cleartext${nl}verdict: block${nl}reason: record pair (80 443) serves 80 in cleartext; a secure-only client must use TLS on 443" \
    "" -- "$H" decide --record "80 443" --port 80 --client cso
expect "decide tls" 0 \
    "class: tls${nl}verdict: allow${nl}reason: record pair (0 993) serves 993 over TLS" \
    "" -- "$H" decide --record "(25 25 0 993 0 995)" --port=993 --client=cso
expect "decide starttls" 0 \
    "class: starttls${nl}verdict: allow${nl}reason: record pair (25 25) serves 25 with an in-band TLS upgrade (STARTTLS)" \
    "" -- "$H" decide --record "(25 25 0 993 0 995)" --port 25 --client cso
expect "decide no-tls cio" 0 \
    "class: no-tls${nl}verdict: allow${nl}reason: record pair (80 0) serves no TLS on 443, only cleartext on 80" \
    "" -- "$H" decide --record "(80 0)" --port 443 --client cio
expect "decide no-tls cfb" 0 \
    "class: no-tls${nl}verdict: block${nl}reason: record pair (80 0) serves no TLS on 443, only cleartext on 80" \
    "" -- "$H" decide --record "(80 0)" --port 443
expect "decide unlisted" 0 \
    "class: unlisted${nl}verdict: allow${nl}reason: the record does not mention port 22" \
    "" -- "$H" decide --record "(0 443)" --port 22 --client cso

expect "decide bad record" 2 "" "^hastls decide: bad record '\(0 0\)': the pair \(0 0\) is undefined" \
    -- "$H" decide --record "(0 0)" --port 80
expect "decide unbalanced record" 2 "" "bad record '\(80 443': syntax error" \
    -- "$H" decide --record "(80 443" --port 80
expect "decide odd record" 2 "" "bad record '80': a port without its partner" \
    -- "$H" decide --record "80" --port 80
expect "decide bad port" 2 "" "^hastls decide: bad port '65536' \(expected 1..65535\)" \
    -- "$H" decide --record "(0 443)" --port 65536
expect "decide port 0" 2 "" "bad port '0'" -- "$H" decide --record "(0 443)" --port 0
expect "decide port junk" 2 "" "bad port '80x'" -- "$H" decide --record "(0 443)" --port 80x
expect "decide bad client" 2 "" "^hastls decide: bad client 'csx' \(expected cio, cfb or cso\)" \
    -- "$H" decide --record "(0 443)" --port 80 --client csx
expect "decide missing port" 2 "" "--record and --port are required" \
    -- "$H" decide --record "(0 443)"
expect "decide missing value" 2 "" "option '--record' needs a value" -- "$H" decide --record
expect "decide unknown option" 2 "" "unknown option '--frob'" -- "$H" decide --frob
expect "decide extra argument" 2 "" "unexpected argument 'extra'" \
    -- "$H" decide --record "(0 443)" --port 80 extra
"$H" decide --help >"$tmp/help" 2>&1 && grep -q '^usage: hastls decide' "$tmp/help" &&
    passed=$((passed + 1)) || bad "decide --help"

# ---- config check ----
cat >"$tmp/good.conf" <<'EOF'
[resolver]
upstream = 127.0.0.53@853#dot.lab.example   ; the lab's DoT resolver
privacy = strict
timeout_ms = 2000

[policy]
client = cfb

[app:curl]
client = cso
EOF
expect "config check good file" 0 "ok" "" -- "$H" config check "$tmp/good.conf"

cat >"$tmp/bad.conf" <<'EOF'
[resolver]
upstream = 127.0.0.53@99999#dot.lab.example
privacy = sometimes

[policy]
client = cso
client = cio
[app:curl]
upstream = 1.1.1.1
[resolvers]
EOF
"$H" config check "$tmp/bad.conf" >"$tmp/out" 2>"$tmp/err"
st=$?
want="hastls: $tmp/bad.conf:2: bad upstream '127.0.0.53@99999#dot.lab.example': port '99999' is not a number in 1..65535
hastls: $tmp/bad.conf:3: bad value 'sometimes' for privacy (expected strict, encrypted, opportunistic or off)
hastls: $tmp/bad.conf:7: 'client' given twice in [policy] (first on line 6)
hastls: $tmp/bad.conf:9: key 'upstream' is not allowed in [app:curl] (only client, record_type, mode, bogus, dane, log, pins, pin_min, pin_max, https_rr, privacy, agent and dns_redirect are)
hastls: $tmp/bad.conf:10: unknown section [resolvers] (expected [resolver], [policy] or [app:NAME])"
if [ "$st" -ne 1 ] || [ -s "$tmp/out" ] || [ "$(cat "$tmp/err")" != "$want" ]; then
    bad "config check bad file: status $st, stdout '$(cat "$tmp/out")', stderr:$nl$(cat "$tmp/err")"
else
    passed=$((passed + 1))
fi

expect "config check missing file" 1 "" "^hastls: $tmp/nope.conf:0: cannot read: No such file or directory$" \
    -- "$H" config check "$tmp/nope.conf"
printf '[policy]\nclient = %0250d\n' 0 >"$tmp/long.conf"
expect "config check long line" 1 "" ":2: line too long" -- "$H" config check "$tmp/long.conf"

# Without FILE: what a program would load, saying which file.
expect "config check HASTLS_CONF" 0 "ok" "checking $tmp/good.conf \(from HASTLS_CONF\)" \
    -- env HASTLS_CONF="$tmp/good.conf" "$H" config check
expect "config check bad HASTLS_CONF" 1 "" "bad.conf:3: bad value 'sometimes'" \
    -- env HASTLS_CONF="$tmp/bad.conf" "$H" config check
expect "config check bad HASTLS_LOG" 1 "" "HASTLS_LOG: bad value 'chatty'" \
    -- env HASTLS_CONF="$tmp/good.conf" HASTLS_LOG=chatty "$H" config check
expect "config check bad HASTLS_MODE" 1 "" "HASTLS_MODE: bad value 'loud'" \
    -- env HASTLS_CONF="$tmp/good.conf" HASTLS_MODE=loud "$H" config check
# HASTLS_APP and HASTLS_MODE as a program under the shim sees them
HASTLS_CONF="$tmp/good.conf" HASTLS_APP=curl HASTLS_MODE=report "$H" config show >"$tmp/out" 2>&1
if grep -qx 'client = cso' "$tmp/out" && grep -qx 'mode = report' "$tmp/out"; then
    passed=$((passed + 1))
else
    bad "config show with HASTLS_APP/HASTLS_MODE: $(cat "$tmp/out")"
fi
# an explicit --app wins over HASTLS_APP
HASTLS_CONF="$tmp/good.conf" HASTLS_APP=curl "$H" config show --app /bin/wget >"$tmp/out" 2>&1
grep -qx 'client = cfb' "$tmp/out" && passed=$((passed + 1)) || bad "--app over HASTLS_APP"
if [ -n "${HASTLS_CONF:-}" ]; then
    # The lab's ready configuration is valid.
    expect "config check lab HASTLS_CONF" 0 "ok" "from HASTLS_CONF" -- "$H" config check
fi
if [ ! -e /etc/hastls/hastls.conf ]; then
    expect "config check defaults" 0 "ok" "built-in defaults" -- env -u HASTLS_CONF "$H" config check
fi

# config show applies the matching app sections.
"$H" config show --app /usr/bin/curl "$tmp/good.conf" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -qx 'client = cso' "$tmp/out" && grep -qx 'timeout_ms = 2000' "$tmp/out" &&
    grep -qx 'upstream = 127.0.0.53@853#dot.lab.example' "$tmp/out"; then
    passed=$((passed + 1))
else
    bad "config show --app: $(cat "$tmp/out" "$tmp/err")"
fi
"$H" config show "$tmp/good.conf" >"$tmp/out" 2>&1
grep -qx 'client = cfb' "$tmp/out" && passed=$((passed + 1)) || bad "config show without app"
# what show prints is itself a valid file with the same settings
"$H" config show --app /usr/bin/curl "$tmp/good.conf" >"$tmp/shown.conf" 2>/dev/null
"$H" config show "$tmp/shown.conf" >"$tmp/shown2.conf" 2>/dev/null
if diff <(grep -v '^\[policy\]' "$tmp/shown.conf") <(grep -v '^\[policy\]' "$tmp/shown2.conf") >/dev/null; then
    passed=$((passed + 1))
else
    bad "config show output does not load back to the same settings"
fi

expect "config without subcommand" 2 "" "^usage: hastls config" -- "$H" config
expect "config unknown subcommand" 2 "" "unknown subcommand 'verify'" -- "$H" config verify
expect "config extra argument" 2 "" "unexpected argument 'b'" -- "$H" config check a b
expect "config unknown option" 2 "" "unknown option '--frob'" -- "$H" config check --frob
"$H" config --help >"$tmp/help" 2>&1 && grep -q '^usage: hastls config check' "$tmp/help" &&
    passed=$((passed + 1)) || bad "config --help"

echo "cli_policy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
