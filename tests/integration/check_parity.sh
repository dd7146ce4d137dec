#!/usr/bin/env bash
# check_parity: `hastls check` predicts exactly what the shim does.  For every
# name of tests/lab/hosts and the ports 80 443 25 993 8080 (the lab serves
# them all), under client cfb, cso (an [app:] section) and cio, and with
# bogus = ignore:
#  - the shim: a fresh python3 under LD_PRELOAD per name looks the name up
#    asking for AF_UNSPEC, AF_INET and AF_INET6 (the error code, or ok), then
#    connect()s to every address of the first lookup that succeeded on each
#    port (allowed, or refused with EACCES) (tests/tools/parity_probe.py);
#  - check: `hastls check --json NAME PORT` for each port and once with all
#    five: its lookup results, its verdict per port, and its exit status
#    (0: allows every port asked about; 1: blocks one, or the shim refuses the
#    name: getaddrinfo(AF_UNSPEC) fails with EAI_FAIL).
# Any difference, name by name and port by port, fails the test, with both
# sides shown.  Then res_query()/res_send() (tests/tools/res_probe.py): bogus
# answers refused by the same rule.  Runs inside the lab (tests/run-integration,
# or scripts/lab run bash tests/integration/check_parity.sh with HASTLS_BUILD
# set).
set -u

: "${LAB_DIR:?not inside the lab}"
H=${HASTLS_BUILD:?HASTLS_BUILD not set}/hastls
[ -x "$H" ] || { echo "check_parity: $H missing" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/../tools/shim_lib.sh"
HOSTS=$here/../lab/hosts
PARITY=$TOOLS/parity_probe.py
ports="80 443 25 993 8080"
# Every host, and the CNAMEs of the zones (the target's own record governs).
names="$(awk '!/^#/ && NF { print $1 }' "$HOSTS") alias.lab.example u2s.insecure.lab.example s2u.lab.example"
tmp=$LAB_DIR/parity
mkdir -p "$tmp"

# The comparison: reads the shim's lines (parity_probe.py) and check's runs
# ("NAME PORT|all STATUS<TAB>JSON" a line); prints one line per disagreement
# and a summary; exits 1 on any disagreement, or when the runs are too few or
# too uniform to show anything (no block, no refused lookup, no allow).
cat >"$tmp/compare.py" <<'PY'
import json, sys

shim_file, check_file, ports = sys.argv[1], sys.argv[2], sys.argv[3].split()
fams = ["AF_UNSPEC", "AF_INET", "AF_INET6"]
shim = {}
for line in open(shim_file):
    name, kind, key, value = line.split()
    shim.setdefault(name, {})[(kind, key)] = value
runs = {}
for line in open(check_file):
    head, _, text = line.rstrip("\n").partition("\t")
    name, key, status = head.split()
    try:
        runs[(name, key)] = (int(status), json.loads(text))
    except ValueError:
        runs[(name, key)] = (int(status), None)

bad = []
seen = {"block": 0, "allow": 0, "EAI_FAIL": 0, "lookups": 0, "ports": 0}

def differ(name, what, check, actual):
    bad.append("%s %s: check says %s, the shim did %s" % (name, what, check, actual))

for name in sorted(shim):
    got = shim[name]
    st_all, all_ = runs.get((name, "all"), (None, None))
    if all_ is None:
        bad.append("%s: hastls check %s gave no JSON (exit %s)" % (name, " ".join(ports), st_all))
        continue
    lookups = all_["lookup"] or {}
    for fam in fams:
        actual = got.get(("lookup", fam), "missing")
        seen["lookups"] += 1
        seen["EAI_FAIL"] += actual == "EAI_FAIL"
        if lookups.get(fam) != actual:
            differ(name, "lookup " + fam, lookups.get(fam), actual)
    # check's prediction of the connections: none when no lookup resolves.
    resolvable = any(lookups.get(f) == "ok" for f in fams)
    # What the shim did with getaddrinfo(AF_UNSPEC), for the exit statuses.
    refused = got.get(("lookup", "AF_UNSPEC")) == "EAI_FAIL"
    rows = {str(p["port"]): p["verdict"] for p in all_["ports"]}
    want_all = 1 if refused else 0
    for port in ports:
        st, one = runs.get((name, port), (None, None))
        actual = got.get(("port", port), "missing")
        seen["ports"] += 1
        if actual in seen:
            seen[actual] += 1
        if one is None or len(one["ports"]) != 1:
            bad.append("%s port %s: hastls check gave no JSON (exit %s)" % (name, port, st))
            continue
        verdict = one["ports"][0]["verdict"]
        if rows.get(port) != verdict:
            bad.append("%s port %s: check alone says %s, with the other ports %s"
                       % (name, port, verdict, rows.get(port)))
        predicted = verdict if resolvable else "-"
        if predicted != actual:
            differ(name, "port " + port, predicted, actual)
        # The exit status the shim's behaviour calls for: 1 when it refused
        # the name or the connection.
        # 3 when nothing is refused but a lookup failed (check's exit status).
        want = 1 if refused or actual == "block" else 3 if one.get("lookup_failed") else 0
        want_all = max(want_all, want) if want_all != 1 and want != 1 else 1
        if st != want:
            differ(name, "exit of check %s %s" % (name, port), st,
                   "%s (exit %d wanted)" % ("a refusal" if want else "no refusal", want))
    if st_all != want_all:
        differ(name, "exit of check %s %s" % (name, " ".join(ports)), st_all,
               "%s (exit %d wanted)" % ("a refusal" if want_all else "no refusal", want_all))

for line in bad:
    print("    " + line)
print("%d names, %d lookups (%d EAI_FAIL), %d connections (%d blocked, %d allowed)"
      % (len(shim), seen["lookups"], seen["EAI_FAIL"], seen["ports"], seen["block"],
         seen["allow"]))
if not (seen["block"] and seen["allow"] and seen["EAI_FAIL"]):
    print("    too uniform to compare anything: the shim may not be in effect")
    sys.exit(1)
sys.exit(1 if bad else 0)
PY

# parity LABEL CONFIG [APP]: the shim and check, with CONFIG (and the
# [app:APP] section), on every name and port.
parity() {
    local label=$1 config=$2 app=${3:-} name port asked out st
    : >"$tmp/shim.txt"
    : >"$tmp/check.txt"
    for name in $names; do
        # shellcheck disable=SC2086 # the ports are separate words
        HASTLS_CONF=$config HASTLS_APP=$app LD_PRELOAD=$S python3 "$PARITY" "$name" $ports \
            >>"$tmp/shim.txt" 2>>"$tmp/shim.err"
        for port in $ports all; do
            asked=$port
            [ "$port" = all ] && asked=$ports
            # shellcheck disable=SC2086 # the ports are separate words
            out=$("$H" check --config "$config" ${app:+--app "$app"} --json "$name" $asked \
                2>>"$tmp/check.err")
            st=$?
            printf '%s %s %s\t%s\n' "$name" "$port" "$st" "$out" >>"$tmp/check.txt"
        done
    done
    if python3 "$tmp/compare.py" "$tmp/shim.txt" "$tmp/check.txt" "$ports" >"$tmp/result"; then
        ok "$label: $(tail -n 1 "$tmp/result")"
    else
        bad "$label: check and the shim disagree"
        cat "$tmp/result"
        sed 's/^/    ! /' "$tmp/shim.err" | head -5
    fi
}

cfg_cio=$(conf cio client=cio)
cfg_ignore=$(conf ignore bogus=ignore)
cfg_apps=$(conf apps -- "" "[app:strictapp]" "client = cso")

parity "client cfb" "$HASTLS_CONF"
# The name whose AAAA answer alone is bogus: refused for any lookup that asks
# for AAAA, resolved and governed by its record for A alone, and check says so.
# has DESCRIPTION FILE REGEX: some line of FILE matches (FILE not shown).
has() {
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no line matches $3)"; fi
}
has "halfbogus: getaddrinfo(AF_UNSPEC) fails" "$tmp/shim.txt" \
    '^halfbogus\.lab\.example lookup AF_UNSPEC EAI_FAIL$'
has "halfbogus: getaddrinfo(AF_INET) succeeds" "$tmp/shim.txt" \
    '^halfbogus\.lab\.example lookup AF_INET ok$'
has "halfbogus: the A address governed by the record" "$tmp/shim.txt" \
    '^halfbogus\.lab\.example port 80 block$'
has "halfbogus: check refuses the name" "$tmp/check.txt" \
    '^halfbogus\.lab\.example 443 1	.*"lookup_refused":true'
parity "client cso by [app:] section" "$cfg_apps" strictapp
parity "client cio" "$cfg_cio"
parity "bogus = ignore" "$cfg_ignore"

# res_query()/res_send() answer by the same rule, per type asked: a bogus
# answer is never handed out (TRY_AGAIN, as a validating resolver's
# SERVFAIL), the valid family of a half-bogus name is.
# res WHAT REGEX ARGS...: tests/tools/res_probe.py ARGS under the shim.
res() {
    local what=$1 re=$2 got
    shift 2
    got=$(LD_PRELOAD=$S python3 "$TOOLS/res_probe.py" "$@" 2>/dev/null)
    if [[ $got =~ $re ]]; then ok "$what"; else bad "$what (got '$got', want /$re/)"; fi
}
res "res_query of halfbogus A: the valid answer" '^[1-9][0-9]* h_errno=0 ancount=[1-9]' \
    query halfbogus.lab.example A
res "res_query of halfbogus AAAA: refused" '^-1 h_errno=2$' query halfbogus.lab.example AAAA
res "res_query of a bogus name: refused" '^-1 h_errno=2$' query www.bogus.lab.example A
res "res_send: the answer with the query's ID" '^[1-9][0-9]* h_errno=0 ancount=[1-9][0-9]* id=16962$' \
    send secure.lab.example A
res "res_send of a bogus name: refused" '^-1 h_errno=2$' send www.bogus.lab.example A
res "res_send of a malformed query: NO_RECOVERY" '^-1 h_errno=3$' garbage
finish
