#!/usr/bin/env bash
# dane_gnutls: DANE (RFC 6698/7671) inside unmodified GnuTLS programs, in the
# lab against its TLSA records (tests/lab/zones/lab.example.zone):
#  - wget (Debian's is GnuTLS), with and without --no-check-certificate,
#    under dane = enforce (the default), report and off:
#      DANE-EE (3 1 1, 3 0 1) makes a self-signed certificate acceptable to
#      wget's own verification; DANE-TA (2 0 1, 2 1 1) a chain to the lab CA;
#      PKIX-EE (1 1 1) still needs wget's CA check; a certificate that
#      matches no record is refused with one "hastls: DANE check failed for
#      NAME:PORT: REASON (dane enforce)" line and wget's ordinary certificate
#      failure, also with --no-check-certificate; a bogus TLSA RRset refuses
#      the host; unsigned or unusable records and no records leave wget's
#      own check alone;
#  - gnutls-cli (a verify callback calling gnutls_certificate_verify_peers),
#    --insecure, --resume, and report mode;
#  - git over https (git-remote-https, libcurl-gnutls: its own transport
#    functions, so the peer comes from the thread's connect()), with and
#    without GIT_SSL_NO_VERIFY;
#  - a program calling GnuTLS through python's ctypes: the auto-verification
#    of gnutls_session_set_verify_cert, gnutls_certificate_verify_peers3
#    after a handshake that checked nothing, the program's own push/pull
#    functions, a refused session that cannot send, and resumption
#    (gnutls_session_set_data): the same peer again, and a session of
#    another name offered to dane-bad.
# Control runs without the shim show that each case differs from the
# program's own verification where it should.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"

out=$LAB_DIR/dane
mkdir -p "$out"
LINE='^hastls: DANE check failed for'
enforce=$HASTLS_CONF
# the first wget on PATH that is a program (under the sanitizers the first
# is a wrapper script)
wbin=$(type -aP wget | while read -r w; do ldd "$w" >/dev/null 2>&1 && echo "$w" && break; done)
if ! ldd "$wbin" 2>/dev/null | grep -q libgnutls; then
    echo "skip: this wget does not use GnuTLS"
    exit 77
fi

# run_wget TAG CONF ARGS...: wget under the shim with config CONF (CONF
# "none": without the shim); body in $out/TAG.out, stderr in $out/TAG.err,
# status in $st.
run_wget() {
    local tag=$1 cfg=$2
    shift 2
    if [ "$cfg" = none ]; then
        wget -q -O - --timeout=20 --tries=1 "$@" >"$out/$tag.out" 2>"$out/$tag.err"
    else
        HASTLS_CONF=$cfg LD_PRELOAD=$S wget -O - --timeout=20 --tries=1 "$@" \
            >"$out/$tag.out" 2>"$out/$tag.err"
    fi
    st=$?
}

# wget_ok TAG CONF HOST [ARGS]: the body is the service's and no hastls line.
wget_ok() {
    local tag=$1 cfg=$2 host=$3
    shift 3
    run_wget "$tag" "$cfg" "$@" "https://$host/"
    if [ "$st" -eq 0 ] && [ "$(cat "$out/$tag.out")" = "OK $host 443" ]; then
        ok "$tag: wget $* https://$host/ passes"
    else
        bad "$tag: wget $* https://$host/ (status $st): $(cat "$out/$tag.out" "$out/$tag.err")"
    fi
    expect_no_line "$tag: no hastls line" "$out/$tag.err" '^hastls:'
}

# wget_untrusted TAG CONF HOST [ARGS]: wget's own verification refuses
# (status 5), no hastls line.
wget_untrusted() {
    local tag=$1 cfg=$2 host=$3
    shift 3
    run_wget "$tag" "$cfg" "$@" "https://$host/"
    expect_status "$tag: wget $* https://$host/ fails its own certificate check" "$st" 5
    expect_no_line "$tag: no hastls line" "$out/$tag.err" '^hastls:'
}

# wget_refused TAG CONF HOST REGEX [ARGS]: wget fails with GnuTLS's
# certificate error (status 4) and one DANE line matching REGEX.
wget_refused() {
    local tag=$1 cfg=$2 host=$3 re=$4
    shift 4
    run_wget "$tag" "$cfg" "$@" "https://$host/"
    expect_status "$tag: wget $* https://$host/ fails as a TLS failure" "$st" 4
    [ -s "$out/$tag.out" ] && bad "$tag: a body came through: $(cat "$out/$tag.out")"
    expect_count "$tag: one DANE line" "$out/$tag.err" "$LINE" 1
    expect_line "$tag: the line names the host, the reason and the mode" "$out/$tag.err" \
        "$LINE $host:443: $re \\(dane enforce\\)\$"
    expect_line "$tag: wget reports GnuTLS's certificate error" "$out/$tag.err" \
        '^GnuTLS: Error in the certificate verification\.$'
}

# ---------------------------------------------------------------------------
# Controls without the shim: the lab's certificates as wget sees them.
for h in dane-ok dane-ta dane-ta1 dane-pkix; do
    run_wget "control-$h" none "https://$h.lab.example/"
    expect_status "control: wget alone refuses $h (not in the system's trust)" "$st" 5
done
run_wget control-bad none --ca-certificate="$LAB_CA" https://dane-bad.lab.example/
[ "$st" -eq 0 ] && ok "control: wget alone accepts dane-bad with the lab CA" ||
    bad "control: wget alone on dane-bad (status $st)"
run_wget control-bad-k none --no-check-certificate https://dane-bad.lab.example/
[ "$st" -eq 0 ] && ok "control: wget alone accepts dane-bad with --no-check-certificate" ||
    bad "control: wget alone on dane-bad -k (status $st)"
run_wget control-bogus none --ca-certificate="$LAB_CA" https://dane-bogus.lab.example/
[ "$st" -eq 0 ] && ok "control: wget alone accepts dane-bogus with the lab CA" ||
    bad "control: wget alone on dane-bogus (status $st)"

# ---------------------------------------------------------------------------
# wget under dane = enforce.
NC=--no-check-certificate
wget_ok ee-spki "$enforce" dane-ok.lab.example
wget_ok ee-cert "$enforce" dane-ee0.lab.example
wget_ok ee-k "$enforce" dane-ok.lab.example $NC
wget_ok ta-cert "$enforce" dane-ta.lab.example
wget_ok ta-spki "$enforce" dane-ta1.lab.example
wget_ok ta-k "$enforce" dane-ta.lab.example $NC
wget_ok pkix-ee "$enforce" dane-pkix.lab.example --ca-certificate="$LAB_CA"
wget_untrusted pkix-ee-noca "$enforce" dane-pkix.lab.example
wget_ok pkix-ee-k "$enforce" dane-pkix.lab.example $NC
wget_refused bad "$enforce" dane-bad.lab.example \
    'no matching DANE TLSA records at _443\._tcp\.dane-bad\.lab\.example' --ca-certificate="$LAB_CA"
wget_refused bad-k "$enforce" dane-bad.lab.example 'no matching DANE TLSA records.*' $NC
wget_refused bogus "$enforce" dane-bogus.lab.example \
    'the TLSA records at _443\._tcp\.dane-bogus\.lab\.example are DNSSEC-bogus: .*' --ca-certificate="$LAB_CA"
wget_refused bogus-k "$enforce" dane-bogus.lab.example '.*DNSSEC-bogus.*' $NC
wget_ok insecure "$enforce" dane-ins.insecure.lab.example --ca-certificate="$LAB_CA"
wget_untrusted insecure-noca "$enforce" dane-ins.insecure.lab.example
wget_ok unusable "$enforce" dane-unusable.lab.example --ca-certificate="$LAB_CA"
wget_untrusted unusable-noca "$enforce" dane-unusable.lab.example
wget_ok notlsa "$enforce" secure.lab.example --ca-certificate="$LAB_CA"
wget_untrusted notlsa-noca "$enforce" secure.lab.example

# The in-process resolver (no agent) does the TLSA lookups as well.
inproc=$(conf dane-inproc agent=off)
wget_ok inproc-ee "$inproc" dane-ok.lab.example
wget_refused inproc-bad "$inproc" dane-bad.lab.example 'no matching DANE TLSA records.*' $NC

# ---------------------------------------------------------------------------
# dane = report: the same lines, nothing refused; a match still vouches.
report=$(conf dane-report dane=report)
for a in "--ca-certificate=$LAB_CA" $NC; do
    tag=rep-bad${a:2:3}
    run_wget "$tag" "$report" "$a" https://dane-bad.lab.example/
    [ "$st" -eq 0 ] && [ "$(cat "$out/$tag.out")" = "OK dane-bad.lab.example 443" ] &&
        ok "report: wget $a passes dane-bad" || bad "report: wget $a dane-bad (status $st): $(cat "$out/$tag.err")"
    expect_count "report: one line ($a)" "$out/$tag.err" \
        "$LINE dane-bad.lab.example:443: no matching DANE TLSA records.* \\(dane report\\)\$" 1
done
run_wget rep-bogus "$report" $NC https://dane-bogus.lab.example/
[ "$st" -eq 0 ] && ok "report: wget passes dane-bogus" || bad "report: wget dane-bogus (status $st)"
expect_count "report: the bogus line" "$out/rep-bogus.err" "$LINE dane-bogus.lab.example:443: .*DNSSEC-bogus.* \\(dane report\\)\$" 1
wget_ok rep-ee "$report" dane-ok.lab.example

# ---------------------------------------------------------------------------
# dane = off, and per program.
off=$(conf dane-off dane=off)
wget_ok off-bad "$off" dane-bad.lab.example --ca-certificate="$LAB_CA"
wget_untrusted off-ee "$off" dane-ok.lab.example
app=$(conf dane-app -- '[app:wget]' 'dane = off')
wget_ok app-wget "$app" dane-bad.lab.example $NC

# ---------------------------------------------------------------------------
# gnutls-cli: its verify callback calls gnutls_certificate_verify_peers.
# run_cli TAG CONF ARGS...: gnutls-cli under the shim (CONF none: without).
run_cli() {
    local tag=$1 cfg=$2
    shift 2
    if [ "$cfg" = none ]; then
        gnutls-cli "$@" </dev/null >"$out/$tag.out" 2>"$out/$tag.err"
    else
        HASTLS_CONF=$cfg LD_PRELOAD=$S gnutls-cli "$@" </dev/null >"$out/$tag.out" 2>"$out/$tag.err"
    fi
    st=$?
}
run_cli cli-ok-control none --port 443 dane-ok.lab.example
expect_status "control: gnutls-cli alone refuses dane-ok" "$st" 1
run_cli cli-ok "$enforce" --port 443 dane-ok.lab.example
expect_status "gnutls-cli: dane-ok passes" "$st" 0
expect_line "gnutls-cli: DANE-EE makes the certificate trusted" "$out/cli-ok.out" '^- Status: The certificate is trusted\.'
expect_no_line "gnutls-cli: no hastls line" "$out/cli-ok.err" '^hastls:'
run_cli cli-ta "$enforce" --port 443 dane-ta1.lab.example
expect_line "gnutls-cli: DANE-TA makes the chain trusted" "$out/cli-ta.out" '^- Status: The certificate is trusted\.'
run_cli cli-bad "$enforce" --port 443 --x509cafile "$LAB_CA" dane-bad.lab.example
expect_status "gnutls-cli: dane-bad fails" "$st" 1
expect_line "gnutls-cli: its own check says not trusted" "$out/cli-bad.out" '^- Status: The certificate is NOT trusted\.'
expect_count "gnutls-cli: one DANE line" "$out/cli-bad.err" "$LINE dane-bad.lab.example:443: .* \\(dane enforce\\)\$" 1
run_cli cli-bad-ins-control none --insecure --port 443 dane-bad.lab.example
expect_line "control: gnutls-cli --insecure alone completes with dane-bad" "$out/cli-bad-ins-control.out" '^- Handshake was completed'
run_cli cli-bad-ins "$enforce" --insecure --port 443 dane-bad.lab.example
expect_status "gnutls-cli --insecure: dane-bad fails" "$st" 1
expect_no_line "gnutls-cli --insecure: no handshake completed" "$out/cli-bad-ins.out" '^- Handshake was completed'
expect_line "gnutls-cli --insecure: a certificate failure" "$out/cli-bad-ins.err" '^\*\*\* Fatal error: Error in the certificate verification\.$'
expect_count "gnutls-cli --insecure: one DANE line" "$out/cli-bad-ins.err" "$LINE" 1
run_cli cli-resume "$enforce" --resume --port 443 dane-ok.lab.example
expect_status "gnutls-cli --resume: dane-ok passes twice" "$st" 0
expect_line "gnutls-cli --resume: the second session is resumed" "$out/cli-resume.out" '^\*\*\* This is a resumed session'
expect_no_line "gnutls-cli --resume: no hastls line" "$out/cli-resume.err" '^hastls:'
run_cli cli-rep "$report" --insecure --port 443 dane-bad.lab.example
expect_status "report: gnutls-cli --insecure passes dane-bad" "$st" 0
expect_count "report: gnutls-cli one line" "$out/cli-rep.err" "$LINE dane-bad.lab.example:443: .* \\(dane report\\)\$" 1
# [app:wget] leaves other programs enforced.
run_cli cli-app "$app" --insecure --port 443 dane-bad.lab.example
expect_status "[app:wget] leaves gnutls-cli enforced" "$st" 1
# The upstream's DoT port: a GnuTLS connection there passes untouched.
run_cli cli-dot "$enforce" --port 853 --x509cafile "$LAB_CA" dot.lab.example
expect_status "gnutls-cli: the configured upstream's DoT port passes" "$st" 0
expect_no_line "gnutls-cli: no hastls line for the upstream" "$out/cli-dot.err" '^hastls:'

# ---------------------------------------------------------------------------
# git over https (libcurl-gnutls, its own transport functions).
# run_git TAG CONF HOST [ENV...]: git ls-remote under the shim.  git, like
# curl and wget (shim_lib.sh), hangs with the ASan runtime preloaded in
# front: it gets the shim alone ($SO, instrumented under the sanitizers).
run_git() {
    local tag=$1 cfg=$2 host=$3
    shift 3
    if [ "$cfg" = none ]; then
        env "$@" git ls-remote "https://$host/x" >"$out/$tag.out" 2>"$out/$tag.err"
    else
        env HASTLS_CONF="$cfg" LD_PRELOAD="$SO" "$@" git ls-remote "https://$host/x" \
            >"$out/$tag.out" 2>"$out/$tag.err"
    fi
    st=$?
}
NOTREPO='^fatal: https://.*/x/info/refs not valid: is this a git repository\?$'
export GIT_TERMINAL_PROMPT=0
run_git git-ok-control none dane-ok.lab.example
expect_line "control: git alone refuses dane-ok's certificate" "$out/git-ok-control.err" \
    '^fatal: unable to access .*server certificate verification failed'
run_git git-ok "$enforce" dane-ok.lab.example
expect_line "git: past TLS to dane-ok (the lab serves no repository)" "$out/git-ok.err" "$NOTREPO"
expect_no_line "git: no hastls line" "$out/git-ok.err" '^hastls:'
run_git git-ta "$enforce" dane-ta.lab.example
expect_line "git: past TLS to dane-ta" "$out/git-ta.err" "$NOTREPO"
run_git git-ok-nv "$enforce" dane-ok.lab.example GIT_SSL_NO_VERIFY=1
expect_line "git GIT_SSL_NO_VERIFY=1: past TLS to dane-ok" "$out/git-ok-nv.err" "$NOTREPO"
run_git git-bad-control none dane-bad.lab.example GIT_SSL_NO_VERIFY=1
expect_line "control: git GIT_SSL_NO_VERIFY=1 alone gets past TLS to dane-bad" "$out/git-bad-control.err" "$NOTREPO"
for v in 0 1; do
    tag=git-bad-$v
    if [ $v = 1 ]; then run_git $tag "$enforce" dane-bad.lab.example GIT_SSL_NO_VERIFY=1; else
        run_git $tag "$enforce" dane-bad.lab.example GIT_SSL_CAINFO="$LAB_CA"
    fi
    expect_status "git (GIT_SSL_NO_VERIFY=$v): dane-bad fails" "$st" 128
    expect_line "git (GIT_SSL_NO_VERIFY=$v): a TLS failure" "$out/$tag.err" \
        "^fatal: unable to access 'https://dane-bad.lab.example/x/': gnutls_handshake\\(\\) failed: Error in the certificate verification\\.\$"
    expect_count "git (GIT_SSL_NO_VERIFY=$v): one DANE line" "$out/$tag.err" \
        "$LINE dane-bad.lab.example:443: no matching DANE TLSA records.* \\(dane enforce\\)\$" 1
done
run_git git-bogus "$enforce" dane-bogus.lab.example GIT_SSL_NO_VERIFY=1
expect_count "git: dane-bogus refused with one line" "$out/git-bogus.err" "$LINE dane-bogus.lab.example:443: .*DNSSEC-bogus" 1
run_git git-rep "$report" dane-bad.lab.example GIT_SSL_NO_VERIFY=1
expect_line "report: git gets past TLS to dane-bad" "$out/git-rep.err" "$NOTREPO"
expect_count "report: git one line" "$out/git-rep.err" "$LINE dane-bad.lab.example:443: .* \\(dane report\\)\$" 1

# ---------------------------------------------------------------------------
# A program calling GnuTLS directly (python ctypes, through the global scope
# as a linked program does).
cat >"$out/gt.py" <<'EOF'
import ctypes, os, socket, sys

ctypes.CDLL("libgnutls.so.30", mode=ctypes.RTLD_GLOBAL)
g = ctypes.CDLL(None)
g.gnutls_strerror.restype = ctypes.c_char_p
g.gnutls_global_init()
CLIENT, CRD_CERTIFICATE, NAME_DNS, FMT_PEM = 2, 1, 1, 1
E_AGAIN, E_INTERRUPTED = -28, -52
PUSH = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class Datum(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("size", ctypes.c_uint)]


def client(host, addr=None, ca=None, auto=False, data=None, custom_io=False):
    """One GET over GnuTLS: (outcome, text, resumed, session data)."""
    cred = ctypes.c_void_p()
    g.gnutls_certificate_allocate_credentials(ctypes.byref(cred))
    if ca:
        g.gnutls_certificate_set_x509_trust_file(cred, ca.encode(), FMT_PEM)
    else:
        g.gnutls_certificate_set_x509_system_trust(cred)
    s = ctypes.c_void_p()
    g.gnutls_init(ctypes.byref(s), CLIENT)
    g.gnutls_set_default_priority(s)
    g.gnutls_credentials_set(s, CRD_CERTIFICATE, cred)
    name = host.encode()
    g.gnutls_server_name_set(s, NAME_DNS, name, len(name))
    if auto:
        g.gnutls_session_set_verify_cert(s, name, 0)
    if data is not None:
        g.gnutls_session_set_data(s, data, len(data))
    sock = socket.create_connection((addr or host, 443), timeout=20)
    if custom_io:
        # the program's own transport functions; the pointer is no descriptor
        def push(_p, buf, n):
            return sock.send(ctypes.string_at(buf, n))
        def pull(_p, buf, n):
            d = sock.recv(n)
            ctypes.memmove(buf, d, len(d))
            return len(d)
        keep = (PUSH(push), PUSH(pull))
        g.gnutls_transport_set_push_function(s, keep[0])
        g.gnutls_transport_set_pull_function(s, keep[1])
        g.gnutls_transport_set_ptr(s, ctypes.c_void_p(0x7f0000001234))
    else:
        g.gnutls_transport_set_int2(s, sock.fileno(), sock.fileno())
    while True:
        rc = g.gnutls_handshake(s)
        if rc >= 0 or g.gnutls_error_is_fatal(rc):
            break
    req = b"GET / HTTP/1.0\r\n\r\n"
    if rc < 0:
        vc = g.gnutls_session_get_verify_cert_status(s) if auto else 0
        # a program that writes anyway: nothing may reach the peer
        sent = g.gnutls_record_send(s, req, len(req))
        out = ("fail", "%s vc=0x%x send=%s" % (g.gnutls_strerror(rc).decode(), vc,
                                               "failed" if sent < 0 else "sent"), 0, None)
        g.gnutls_deinit(s)
        sock.close()
        return out
    st = ctypes.c_uint(0)
    g.gnutls_certificate_verify_peers3(s, name, ctypes.byref(st))
    g.gnutls_record_send(s, req, len(req))
    body = b""
    buf = ctypes.create_string_buffer(4096)
    while True:
        n = g.gnutls_record_recv(s, buf, 4096)
        if n in (E_AGAIN, E_INTERRUPTED):
            continue
        if n <= 0:
            break
        body += buf.raw[:n]
    resumed = g.gnutls_session_is_resumed(s)
    d = Datum()
    sess = None
    if g.gnutls_session_get_data2(s, ctypes.byref(d)) == 0:
        sess = ctypes.string_at(d.data, d.size)
    g.gnutls_deinit(s)
    sock.close()
    text = body.split(b"\r\n\r\n", 1)[-1].strip().decode()
    return ("ok", "%s status=0x%x" % (text, st.value), resumed, sess)


def case(what, fn):
    try:
        r = fn()
        print(what, r[0], r[1], "resumed=%d" % r[2])
    except Exception as e:
        print(what, "error", type(e).__name__, e)


ca = os.environ["LAB_CA"]
case("auto-ee", lambda: client("dane-ok.lab.example", auto=True))
case("auto-ta", lambda: client("dane-ta.lab.example", auto=True))
case("auto-bad", lambda: client("dane-bad.lab.example", ca=ca, auto=True))
case("auto-notlsa", lambda: client("secure.lab.example", auto=True))
case("peers3-ee", lambda: client("dane-ok.lab.example"))
case("peers3-bad", lambda: client("dane-bad.lab.example", ca=ca))
case("custom-io-ee", lambda: client("dane-ok.lab.example", custom_io=True, auto=True))
case("custom-io-bad", lambda: client("dane-bad.lab.example", ca=ca, custom_io=True))
def resume(first, then, addr=None):
    r = client(first, addr=addr, ca=ca)
    if not r[3]:
        return ("nodata", r[1], 0)
    return client(then, ca=ca, data=r[3])
case("resume-ee", lambda: resume("dane-ok.lab.example", "dane-ok.lab.example"))
# a session of a name no TLSA record governs, on dane-bad's address
case("resume-bad", lambda: resume("secure.lab.example", "dane-bad.lab.example", "127.0.10.25"))
EOF
python3 "$out/gt.py" >"$out/gt-control.out" 2>"$out/gt-control.err"
expect_line "control: python alone refuses dane-ok under set_verify_cert" "$out/gt-control.out" '^auto-ee fail Error in the certificate verification\. vc=0x42 '
expect_line "control: python alone resumes a session of secure on dane-bad" "$out/gt-control.out" \
    '^resume-bad ok OK dane-bad.lab.example 443 status=0x0 resumed=1$'
expect_line "control: python alone sees dane-ok's verify_peers3 fail" "$out/gt-control.out" '^peers3-ee ok OK dane-ok.lab.example 443 status=0x42 '
HASTLS_CONF=$enforce LD_PRELOAD=$S python3 "$out/gt.py" >"$out/gt.out" 2>"$out/gt.err"
expect_line "python: set_verify_cert accepts DANE-EE" "$out/gt.out" '^auto-ee ok OK dane-ok.lab.example 443 status=0x0 resumed=0$'
expect_line "python: set_verify_cert accepts DANE-TA" "$out/gt.out" '^auto-ta ok OK dane-ta.lab.example 443 status=0x0 resumed=0$'
# GNUTLS_CERT_INVALID | GNUTLS_CERT_MISMATCH
expect_line "python: set_verify_cert refuses dane-bad (invalid, mismatch), nothing sent after" "$out/gt.out" \
    '^auto-bad fail Error in the certificate verification\. vc=0x20002 send=failed resumed=0$'
expect_line "python: no TLSA leaves set_verify_cert's own verdict" "$out/gt.out" '^auto-notlsa fail Error in the certificate verification\. vc=0x42 '
expect_line "python: verify_peers3 reports DANE-EE as success" "$out/gt.out" '^peers3-ee ok OK dane-ok.lab.example 443 status=0x0 resumed=0$'
expect_line "python: an unchecked handshake with dane-bad fails, and nothing is sent after" "$out/gt.out" \
    '^peers3-bad fail Error in the certificate verification\. vc=0x0 send=failed resumed=0$'
expect_line "python: own push/pull functions, DANE-EE" "$out/gt.out" '^custom-io-ee ok OK dane-ok.lab.example 443 status=0x0 resumed=0$'
expect_line "python: own push/pull functions, dane-bad refused" "$out/gt.out" '^custom-io-bad fail Error in the certificate verification\. '
expect_line "python: a resumed session with a matching certificate" "$out/gt.out" '^resume-ee ok OK dane-ok.lab.example 443 status=0x0 resumed=1$'
expect_line "python: a resumed session does not skip the check" "$out/gt.out" '^resume-bad fail Error in the certificate verification\. '
expect_count "python: one line per refused connection" "$out/gt.err" "$LINE dane-bad.lab.example:443: no matching DANE TLSA records at _443\\._tcp\\.dane-bad\\.lab\\.example \\(dane enforce\\)\$" 4
expect_count "python: no other hastls line" "$out/gt.err" '^hastls:' 4
HASTLS_CONF=$report LD_PRELOAD=$S python3 "$out/gt.py" >"$out/gt-rep.out" 2>"$out/gt-rep.err"
expect_line "report: python passes dane-bad, resumed" "$out/gt-rep.out" '^resume-bad ok OK dane-bad.lab.example 443 status=0x0 resumed=1$'
expect_line "report: python passes dane-bad under set_verify_cert" "$out/gt-rep.out" '^auto-bad ok OK dane-bad.lab.example 443 status=0x0 '
expect_count "report: python one line per connection to dane-bad" "$out/gt-rep.err" "$LINE dane-bad.lab.example:443: .* \\(dane report\\)\$" 4

finish
