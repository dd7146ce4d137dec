#!/usr/bin/env bash
# chromium: a browser that resolves in one process and connects from
# another.  Chromium asks getaddrinfo() in its browser process and connects
# from its network-service process, which never resolved the name; the
# address memory the user's agent shares (shim/core/sharedtab.h) governs
# the connection all the same.  Under hastls run, in the lab:
#  - http://secure.lab.example/ (record (0 443)): the page fails with
#    net::ERR_NETWORK_ACCESS_DENIED (the shim's EACCES) and the shim's
#    blocked line; the impostor on port 80 is never reached;
#  - https://secure.lab.example/ loads (the lab CA trusted through a
#    temporary NSS database, as Chromium on Linux reads $HOME/.pki/nssdb);
#  - the controls: with agent = off and dns_redirect = no nothing is
#    shared and Chromium's network service learns no name, so the page of
#    the impostor loads (the limitation libhastls(7) states); with agent =
#    off alone, Chromium's own DNS client (which runs in the network
#    service) is answered by the shim there, so that process knows the name
#    and refuses port 80 itself; without the lab CA the https page does not
#    load (the certificate is checked for real).
# Skipped (77) when chromium cannot start at all here.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls

command -v chromium >/dev/null || { echo "skip: chromium is not installed (scripts/install-deps)"; exit 77; }
# Its profile and NSS database in the lab, never in the user's home.
export HOME=$LAB_DIR/home
mkdir -p "$HOME/.pki/nssdb"
export XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
# browse URL OUT [CONF]: the page's DOM in OUT, stderr in OUT.err; a fresh
# profile each time (nothing cached between the cases).
browse() {
    HASTLS_CONF=${3:-$HASTLS_CONF} timeout 25 "$H" run -- chromium --headless --no-sandbox \
        --user-data-dir="$(mktemp -d "$LAB_DIR/profile.XXXXXX")" --no-first-run \
        --dump-dom "$1" >"$2" 2>"$2.err" </dev/null
}

if ! HOME=$LAB_DIR/home-probe timeout 25 chromium --headless --no-sandbox --user-data-dir="$LAB_DIR/probe" \
    --dump-dom about:blank >"$LAB_DIR/probe.out" 2>&1 ||
    ! grep -q '<html' "$LAB_DIR/probe.out"; then
    echo "skip: chromium does not run here:"
    sed 's/^/    | /' "$LAB_DIR/probe.out" | tail -5
    exit 77
fi

"$H" agent && ok "the agent runs" || bad "hastls agent failed"
certutil -d "sql:$HOME/.pki/nssdb" -N --empty-password </dev/null &&
    certutil -d "sql:$HOME/.pki/nssdb" -A -t C,, -n "hastls lab CA" -i "$LAB_CA" </dev/null &&
    ok "lab CA in a temporary NSS database" || bad "certutil failed"

echo "== a (0 443) host: http refused in the network service, https loads"
browse http://secure.lab.example/ "$LAB_DIR/http"
expect_line "http: net::ERR_NETWORK_ACCESS_DENIED" "$LAB_DIR/http.err" \
    'Page load failed: net::ERR_NETWORK_ACCESS_DENIED'
expect_line "...the shim's blocked line" "$LAB_DIR/http.err" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: record pair \(0 443\) serves 80 only over TLS on 443, never in cleartext \(client cfb\)$'
expect_no_line "...the impostor never answered" "$LAB_DIR/http" IMPOSTOR
browse https://secure.lab.example/ "$LAB_DIR/https"
expect_line "https: the page loads" "$LAB_DIR/https" 'OK secure\.lab\.example 443'
expect_no_line "...nothing blocked on 443" "$LAB_DIR/https.err" 'hastls: blocked connect to .*:443'

echo "== control: agent = off and dns_redirect = no: nothing shared, nothing learnt"
off=$(conf off agent=off dns_redirect=no)
browse http://secure.lab.example/ "$LAB_DIR/off" "$off"
expect_line "agent = off, dns_redirect = no: the impostor's page loads (not governed)" \
    "$LAB_DIR/off" 'IMPOSTOR secure\.lab\.example 80'
echo "== agent = off alone: Chromium's own DNS answered in its network service"
offr=$(conf offr agent=off)
browse http://secure.lab.example/ "$LAB_DIR/offr" "$offr"
expect_no_line "agent = off: the impostor is never reached" "$LAB_DIR/offr" 'IMPOSTOR'
expect_line "agent = off: the blocked line" "$LAB_DIR/offr.err" \
    'hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80'

echo "== control: without the lab CA the https page does not load"
HOME=$LAB_DIR/home-nocert XDG_CONFIG_HOME=$LAB_DIR/home-nocert/.config \
    browse https://secure.lab.example/ "$LAB_DIR/nocert"
expect_no_line "no page without the lab CA" "$LAB_DIR/nocert" 'OK secure'
expect_line "...a certificate error" "$LAB_DIR/nocert.err" 'ERR_CERT_AUTHORITY_INVALID'
"$H" agent stop >/dev/null 2>&1

finish
