#!/usr/bin/env bash
# dane_openssl: DANE (RFC 6698/7671) inside unmodified OpenSSL programs, in
# the lab against its TLSA records (tests/lab/zones/lab.example.zone):
#  - curl (Debian's, with its own BIO), python3's ssl and urllib, and
#    openssl s_client, under dane = enforce (the default):
#      DANE-EE (3 1 1, 3 0 1) makes a self-signed certificate acceptable
#      without the program trusting it; DANE-TA (2 0 1, 2 1 1) a chain to the
#      lab CA; PKIX-EE (1 1 1) still needs the program's CA check;
#      a certificate that matches no record is refused with one
#      "hastls: DANE check failed for NAME:PORT: REASON (dane enforce)" line
#      and an ordinary certificate failure, also when the program turned
#      verification off (curl -k, CERT_NONE, s_client's default);
#      a bogus TLSA RRset refuses the host; an unsigned one is ignored;
#      a session set for resumption does not skip the check;
#      OpenSSL's connect BIO opening the connection in the handshake is checked;
#  - dane = report logs the same failures and refuses nothing;
#  - dane = off, and [app:curl] dane = off, leave the programs untouched.
# Control runs without the shim show that each case differs from the
# program's own verification where it should.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
# Under make integration-asan curl hangs with the ASan runtime in front
# (tests/tools/shim_lib.sh): its cases run the instrumented shim without it,
# so without heap checks; python3 and openssl s_client have them all.
[ -z "${HASTLS_PRELOAD:-}" ] ||
    echo "note: curl runs without the ASan runtime in front (no heap checks in it, see shim_lib.sh)"

out=$LAB_DIR/dane
mkdir -p "$out"
LINE='^hastls: DANE check failed for'

# run_curl TAG CONF [CURL ARGS...]: curl under the shim with config CONF;
# body in $out/TAG.out, stderr in $out/TAG.err, status in $st.
run_curl() {
    local tag=$1 cfg=$2
    shift 2
    HASTLS_CONF=$cfg LD_PRELOAD=$S curl -sS --max-time 20 "$@" >"$out/$tag.out" 2>"$out/$tag.err"
    st=$?
}

# curl_ok TAG CONF HOST [ARGS]: the body is the service's and no hastls line.
curl_ok() {
    local tag=$1 cfg=$2 host=$3
    shift 3
    run_curl "$tag" "$cfg" "$@" "https://$host/"
    if [ "$st" -eq 0 ] && [ "$(cat "$out/$tag.out")" = "OK $host 443" ]; then
        ok "$tag: curl $* https://$host/ passes"
    else
        bad "$tag: curl $* https://$host/ (status $st): $(cat "$out/$tag.out" "$out/$tag.err")"
    fi
    expect_no_line "$tag: no hastls line" "$out/$tag.err" '^hastls:'
}

# curl_refused TAG CONF HOST REGEX [ARGS]: curl fails with its certificate
# error (60) and one DANE line matching REGEX under enforce.
curl_refused() {
    local tag=$1 cfg=$2 host=$3 re=$4
    shift 4
    run_curl "$tag" "$cfg" "$@" "https://$host/"
    expect_status "$tag: curl $* https://$host/ fails as a certificate failure" "$st" 60
    [ -s "$out/$tag.out" ] && bad "$tag: a body came through: $(cat "$out/$tag.out")"
    expect_count "$tag: one DANE line" "$out/$tag.err" "$LINE" 1
    expect_line "$tag: the line names the host, the reason and the mode" "$out/$tag.err" \
        "$LINE $host:443: $re \\(dane enforce\\)\$"
    expect_line "$tag: curl reports a certificate problem" "$out/$tag.err" \
        '^curl: \(60\) SSL certificate problem'
}

enforce=$HASTLS_CONF

# ---------------------------------------------------------------------------
# Controls without the shim: the lab's certificates as the programs see them.
curl -sS --max-time 20 https://dane-ok.lab.example/ >/dev/null 2>&1
expect_status "control: curl alone refuses dane-ok's self-signed certificate" $? 60
got=$(curl -sS --max-time 20 --cacert "$LAB_CA" https://dane-bad.lab.example/ 2>&1)
[ "$got" = "OK dane-bad.lab.example 443" ] && ok "control: curl alone accepts dane-bad" ||
    bad "control: curl alone on dane-bad: $got"

# ---------------------------------------------------------------------------
# curl under dane = enforce.
curl_ok ee-spki "$enforce" dane-ok.lab.example
curl_ok ee-cert "$enforce" dane-ee0.lab.example
curl_ok ee-k "$enforce" dane-ok.lab.example -k
curl_ok ta-cert "$enforce" dane-ta.lab.example
curl_ok ta-spki "$enforce" dane-ta1.lab.example
curl_ok pkix-ee "$enforce" dane-pkix.lab.example --cacert "$LAB_CA"
run_curl pkix-ee-noca "$enforce" https://dane-pkix.lab.example/
expect_status "pkix-ee: without the CA the program's own check still fails" "$st" 60
curl_refused bad "$enforce" dane-bad.lab.example 'no matching DANE TLSA records at _443\._tcp\.dane-bad\.lab\.example' \
    --cacert "$LAB_CA"
curl_refused bad-k "$enforce" dane-bad.lab.example 'no matching DANE TLSA records.*' -k
curl_refused bogus "$enforce" dane-bogus.lab.example \
    'the TLSA records at _443\._tcp\.dane-bogus\.lab\.example are DNSSEC-bogus: .*' --cacert "$LAB_CA"
curl_refused bogus-k "$enforce" dane-bogus.lab.example '.*DNSSEC-bogus.*' -k
curl_ok insecure "$enforce" dane-ins.insecure.lab.example --cacert "$LAB_CA"
run_curl insecure-noca "$enforce" https://dane-ins.insecure.lab.example/
expect_status "insecure: an unsigned TLSA record does not replace the program's check" "$st" 60
expect_no_line "insecure: no hastls line" "$out/insecure-noca.err" '^hastls:'
curl_ok unusable "$enforce" dane-unusable.lab.example --cacert "$LAB_CA"
run_curl unusable-noca "$enforce" https://dane-unusable.lab.example/
expect_status "unusable: records no client can use leave the program's check" "$st" 60
expect_no_line "unusable: no hastls line" "$out/unusable-noca.err" '^hastls:'
"$HASTLS_BUILD/hastls" lookup _443._tcp.dane-unusable.lab.example TLSA >"$out/lookup.out" 2>&1
expect_line "hastls lookup: the TLSA RRset is secure" "$out/lookup.out" '^_443._tcp.dane-unusable.lab.example TLSA: secure '
expect_line "hastls lookup: a short digest is unusable" "$out/lookup.out" '^  3 1 1 00 \(unusable: data length differs from the digest.s\)$'
expect_line "hastls lookup: an unknown usage is unusable" "$out/lookup.out" '^  4 1 1 [0-9a-f]{64} \(unusable: unknown certificate usage\)$'
curl_ok notlsa "$enforce" secure.lab.example --cacert "$LAB_CA"
run_curl notlsa-noca "$enforce" https://secure.lab.example/
expect_status "no TLSA: the program's own check applies" "$st" 60

# ---------------------------------------------------------------------------
# python3's ssl (the descriptor path), urllib, resumption.
cat >"$out/py.py" <<'EOF'
import os, socket, ssl, sys, urllib.request

def fetch(ctx, host, sni=None, session=None):
    s = socket.create_connection((host, 443), timeout=20)
    t = ctx.wrap_socket(s, server_hostname=sni or host, session=session)
    t.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = t.recv(4096)
        if not d:
            break
        data += d
    r, sess = t.session_reused, t.session
    t.close()
    return data.split(b"\r\n\r\n", 1)[-1].strip().decode(), r, sess

def case(what, fn):
    try:
        print(what, "ok", fn())
    except ssl.SSLCertVerificationError as e:
        print(what, "certfail", e.verify_message)
    except Exception as e:
        print(what, "error", type(e).__name__, e)

lab = ssl.create_default_context(cafile=os.environ["LAB_CA"])
system = ssl.create_default_context()
none = ssl.create_default_context()
none.check_hostname = False
none.verify_mode = ssl.CERT_NONE
case("ee-system", lambda: fetch(system, "dane-ok.lab.example")[0])
case("ta-system", lambda: fetch(system, "dane-ta.lab.example")[0])
case("bad-lab", lambda: fetch(lab, "dane-bad.lab.example")[0])
case("bad-none", lambda: fetch(none, "dane-bad.lab.example")[0])
case("bogus-lab", lambda: fetch(lab, "dane-bogus.lab.example")[0])
case("urllib-ee", lambda: urllib.request.urlopen("https://dane-ok.lab.example/", timeout=20).read().decode().strip())

# The handshake started by the first write (SSL_write).
def implicit(host):
    s = socket.create_connection((host, 443), timeout=20)
    t = lab.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
    t.sendall(b"GET / HTTP/1.0\r\n\r\n")
    return t.recv(4096).split(b"\r\n\r\n", 1)[-1].strip().decode()
case("implicit-ok", lambda: implicit("dane-ta.lab.example"))
case("implicit-bad", lambda: implicit("dane-bad.lab.example"))

# asyncio: memory BIOs, no descriptor in the SSL (the connect() memory).
import asyncio
async def aio(host, ctx):
    r, w = await asyncio.open_connection(host, 443, ssl=ctx)
    w.write(b"GET / HTTP/1.0\r\n\r\n")
    data = await r.read()
    w.close()
    return data.split(b"\r\n\r\n", 1)[-1].strip().decode()
case("asyncio-ok", lambda: asyncio.run(aio("dane-ok.lab.example", system)))
case("asyncio-bad", lambda: asyncio.run(aio("dane-bad.lab.example", lab)))
# A session from a handshake no TLSA record governed (another name on
# dane-bad's address), offered to dane-bad itself.
body, reused, sess = fetch(lab, "127.0.10.25", sni="secure.lab.example")
case("resume-bad", lambda: "%s %s" % fetch(lab, "dane-bad.lab.example", session=sess)[:2])
EOF
python3 "$out/py.py" >"$out/py-control.out" 2>"$out/py-control.err"
expect_line "control: python alone resumes the session on dane-bad" "$out/py-control.out" \
    '^resume-bad ok OK dane-bad.lab.example 443 True$'
expect_line "control: python alone refuses dane-ok" "$out/py-control.out" '^ee-system certfail'
HASTLS_CONF=$enforce LD_PRELOAD=$S python3 "$out/py.py" >"$out/py.out" 2>"$out/py.err"
expect_line "python: DANE-EE passes the default context" "$out/py.out" '^ee-system ok OK dane-ok.lab.example 443$'
expect_line "python: DANE-TA passes the default context" "$out/py.out" '^ta-system ok OK dane-ta.lab.example 443$'
expect_line "python: dane-bad is a certificate failure" "$out/py.out" '^bad-lab certfail no matching DANE TLSA records$'
expect_line "python: dane-bad also under CERT_NONE" "$out/py.out" '^bad-none certfail no matching DANE TLSA records$'
expect_line "python: a bogus TLSA RRset refuses" "$out/py.out" '^bogus-lab (certfail|error)'
expect_line "python: urllib over DANE-EE" "$out/py.out" '^urllib-ee ok OK dane-ok.lab.example 443$'
expect_line "python: the resumed session does not skip the check" "$out/py.out" \
    '^resume-bad certfail no matching DANE TLSA records$'
expect_line "python: an implicit handshake (SSL_write) passes DANE-TA" "$out/py.out" '^implicit-ok ok OK dane-ta.lab.example 443$'
expect_line "python: an implicit handshake (SSL_write) is checked" "$out/py.out" '^implicit-bad certfail no matching DANE TLSA records$'
expect_line "python: asyncio (memory BIOs) passes DANE-EE" "$out/py.out" '^asyncio-ok ok OK dane-ok.lab.example 443$'
expect_line "python: asyncio (memory BIOs) is checked" "$out/py.out" '^asyncio-bad certfail no matching DANE TLSA records$'
expect_count "python: one line per refused connection" "$out/py.err" "$LINE" 6
expect_count "python: the lines say enforce" "$out/py.err" "$LINE .* \\(dane enforce\\)\$" 6

# The in-process resolver (no agent): its own TLS passes untouched.
inproc=$(conf dane-inproc agent=off)
curl_ok inproc-ee "$inproc" dane-ok.lab.example
curl_refused inproc-bad "$inproc" dane-bad.lab.example 'no matching DANE TLSA records.*' --cacert "$LAB_CA"

# ---------------------------------------------------------------------------
# openssl s_client: verification off by default (it reports and goes on).
HASTLS_CONF=$enforce LD_PRELOAD=$S openssl s_client -connect dane-bad.lab.example:443 \
    </dev/null >"$out/sc-bad.out" 2>"$out/sc-bad.err"
st=$?
[ "$st" -ne 0 ] && ok "s_client: dane-bad fails (status $st)" || bad "s_client: dane-bad connected"
expect_count "s_client: one DANE line" "$out/sc-bad.err" "$LINE dane-bad.lab.example:443: .* \\(dane enforce\\)\$" 1
openssl s_client -connect dane-bad.lab.example:443 </dev/null >"$out/sc-control.out" 2>&1
expect_line "control: s_client alone completes the handshake with dane-bad" "$out/sc-control.out" '^New, TLS'
HASTLS_CONF=$enforce LD_PRELOAD=$S openssl s_client -verify_return_error \
    -connect dane-ok.lab.example:443 </dev/null >"$out/sc-ok.out" 2>"$out/sc-ok.err"
expect_status "s_client -verify_return_error: dane-ok passes" $? 0
expect_line "s_client: verification OK through DANE-EE" "$out/sc-ok.out" '^Verify return code: 0 \(ok\)'
# -reconnect: new handshakes on the same SSL object (its DANE state kept).
HASTLS_CONF=$enforce LD_PRELOAD=$S openssl s_client -verify_return_error -reconnect \
    -connect dane-ok.lab.example:443 </dev/null >"$out/sc-re.out" 2>"$out/sc-re.err"
expect_status "s_client -reconnect: dane-ok passes every time" $? 0
expect_count "s_client -reconnect: six full handshakes, each checked" "$out/sc-re.out" '^New, TLS' 6
expect_no_line "s_client -reconnect: no hastls line" "$out/sc-re.err" '^hastls:'

# ---------------------------------------------------------------------------
# OpenSSL's connect BIO that opens the connection inside the handshake: no
# descriptor exists when the handshake starts (and the thread's latest
# connect() is another connection's); the BIO's own host and port count.
bc=$out/bio_connect
if cc -O1 -Wall -Werror -o "$bc" "$TOOLS/bio_connect.c" -lssl -lcrypto 2>"$out/bc-cc.err"; then
    "$bc" dane-ok.lab.example:443 "$LAB_CA" >"$out/bc-ctl.out" 2>&1
    expect_status "control: the connect BIO alone refuses dane-ok's self-signed certificate" $? 1
    "$bc" dane-bad.lab.example:443 "$LAB_CA" noverify >"$out/bc-ctl2.out" 2>&1
    expect_status "control: the connect BIO alone accepts dane-bad without verification" $? 0
    HASTLS_CONF=$enforce LD_PRELOAD=$S "$bc" dane-ok.lab.example:443 "$LAB_CA" \
        >"$out/bc-ok.out" 2>"$out/bc-ok.err"
    expect_status "connect BIO: DANE-EE vouches for dane-ok" $? 0
    expect_line "connect BIO: dane-ok answers" "$out/bc-ok.out" '^ok OK dane-ok.lab.example 443$'
    # a connection of the same thread to another host first: not the peer
    HASTLS_CONF=$enforce LD_PRELOAD=$S "$bc" dane-bad.lab.example:https - noverify \
        >"$out/bc-bad.out" 2>"$out/bc-bad.err"
    expect_status "connect BIO: dane-bad refused though verification is off" $? 1
    expect_line "connect BIO: a certificate failure" "$out/bc-bad.out" '^fail certificate verify failed|^fail no matching DANE TLSA records'
    expect_count "connect BIO: one DANE line" "$out/bc-bad.err" "$LINE dane-bad.lab.example:443: .* \\(dane enforce\\)\$" 1
else
    bad "cc bio_connect.c: $(cat "$out/bc-cc.err")"
fi

# ---------------------------------------------------------------------------
# dane = report: the same lines, nothing refused.
report=$(conf dane-report dane=report)
run_curl rep-bad "$report" --cacert "$LAB_CA" https://dane-bad.lab.example/
[ "$st" -eq 0 ] && [ "$(cat "$out/rep-bad.out")" = "OK dane-bad.lab.example 443" ] &&
    ok "report: dane-bad passes" || bad "report: dane-bad (status $st): $(cat "$out/rep-bad.err")"
expect_count "report: one line" "$out/rep-bad.err" "$LINE dane-bad.lab.example:443: .* \\(dane report\\)\$" 1
run_curl rep-bogus "$report" --cacert "$LAB_CA" https://dane-bogus.lab.example/
[ "$st" -eq 0 ] && ok "report: dane-bogus passes" || bad "report: dane-bogus (status $st)"
expect_count "report: bogus line" "$out/rep-bogus.err" "$LINE dane-bogus.lab.example:443: .*DNSSEC-bogus.* \\(dane report\\)\$" 1
HASTLS_CONF=$report LD_PRELOAD=$S python3 "$out/py.py" >"$out/py-rep.out" 2>"$out/py-rep.err"
expect_line "report: python passes dane-bad under CERT_NONE" "$out/py-rep.out" '^bad-none ok OK dane-bad.lab.example 443$'
expect_line "report: python passes dane-bad with its CA" "$out/py-rep.out" '^bad-lab ok OK dane-bad.lab.example 443$'

# ---------------------------------------------------------------------------
# dane = off, and per program.
off=$(conf dane-off dane=off)
curl_ok off-bad "$off" dane-bad.lab.example --cacert "$LAB_CA"
run_curl off-ee "$off" https://dane-ok.lab.example/
expect_status "off: DANE-EE no longer vouches for dane-ok" "$st" 60
expect_no_line "off: no hastls line" "$out/off-ee.err" '^hastls:'
app=$(conf dane-app -- '[app:curl]' 'dane = off')
"$HASTLS_BUILD/hastls" config show --app /usr/bin/curl "$app" >"$out/show.out" 2>&1
expect_line "hastls config show: dane as [app:curl] sets it" "$out/show.out" '^dane = off$'
"$HASTLS_BUILD/hastls" config show "$report" >"$out/show.out" 2>&1
expect_line "hastls config show: dane as [policy] sets it" "$out/show.out" '^dane = report$'
curl_ok app-curl "$app" dane-bad.lab.example --cacert "$LAB_CA"
HASTLS_CONF=$app LD_PRELOAD=$S python3 "$out/py.py" >"$out/py-app.out" 2>"$out/py-app.err"
expect_line "[app:curl] leaves python enforced" "$out/py-app.out" '^bad-lab certfail'

finish
