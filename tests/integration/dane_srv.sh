#!/usr/bin/env bash
# dane_srv: secure SRV delegation (RFC 7673, RFC 7712) inside unmodified
# programs, against prosody serving XMPP (STARTTLS on 5222) for the source
# domains of tests/lab/zones with the certificate of the derived domains
# (certs/chat.pem: chat, pkix, bad.hosting.example, chat.insecure.lab.example):
#  - im.lab.example -> chat.hosting.example: the SRV and the target's
#    addresses secure, DANE-EE at _5222._tcp.chat.hosting.example: passes
#    (even without the lab CA);
#  - im-pkix.lab.example -> pkix.hosting.example: secure, no TLSA: the
#    derived domain is accepted by the program's PKIX check (with the CA);
#  - im-bad.lab.example -> bad.hosting.example: secure, a TLSA record of
#    another key: refused with the DANE line, although the name would do;
#  - im.insecure.lab.example -> chat.hosting.example (unsigned SRV) and
#    im-ins.lab.example -> chat.insecure.lab.example (unsigned addresses):
#    the source name only, the program's certificate name error;
#  - im.bogus.lab.example: a bogus SRV, refused with the DANE line.
# Programs: openssl s_client -starttls xmpp given the target by hand (the
# shim looks the SRV up itself), python3 looking the SRV up itself (res_query
# through ctypes, dnspython through the shim's DNS responder), and slixmpp
# (SRV through aiodns/c-ares, then STARTTLS and SASL as alice), gnutls-cli
# -starttls-proto xmpp (GnuTLS) given the target by hand, and `hastls check
# --srv --connect` walking the delegation and doing the STARTTLS handshake.
# Controls without the shim show the certificate fails the source name
# everywhere.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"

out=$LAB_DIR/srv
# Debian's python3, with python3-dnspython and python3-slixmpp
PY=/usr/bin/python3
P=$out/prosody
mkdir -p "$out"
LINE='^hastls: DANE check failed for'
SOURCES="im.lab.example im-pkix.lab.example im-bad.lab.example im-ins.lab.example
 im.insecure.lab.example im.bogus.lab.example im-port.lab.example"

# ---------------------------------------------------------------------------
# prosody: its own config, data and log in the lab directory.
. "$TOOLS/prosody_lab.sh"
# (the derived domains too: gnutls-cli's XMPP dialogue names the host it
# connects to)
prosody_lab_start "$P" "$LAB_DIR/certs" $SOURCES chat.hosting.example pkix.hosting.example \
    bad.hosting.example chat.insecure.lab.example 2>"$out/prosody.err" ||
    { bad "$(cat "$out/prosody.err")"; finish; }
trap prosody_lab_stop EXIT

# ---------------------------------------------------------------------------
# openssl s_client, the target given by hand.
# sc TAG SHIM(0/1) TARGET[:PORT] SOURCE [ARGS]: s_client -starttls xmpp to
# TARGET:PORT (5222) for SOURCE (stream to, SNI and the name to verify); output in
# $out/TAG.out and .err, status in $st.
sc() {
    local tag=$1 shim=$2 target=$3 source=$4
    shift 4
    local pre=()
    [ "$shim" = 1 ] && pre=(env LD_PRELOAD="$S")
    case $target in *:*) ;; *) target=$target:5222 ;; esac
    "${pre[@]}" openssl s_client -connect "$target" -starttls xmpp -xmpphost "$source" \
        -servername "$source" -verify_hostname "$source" -verify_return_error "$@" \
        </dev/null >"$out/$tag.out" 2>"$out/$tag.err"
    st=$?
}
# sc_pass TAG TARGET SOURCE [ARGS]: under the shim, verified, no hastls line.
sc_pass() {
    local tag=$1 target=$2 source=$3
    shift 3
    sc "$tag" 1 "$target" "$source" "$@"
    if [ "$st" -eq 0 ] && grep -q '^Verify return code: 0 (ok)' "$out/$tag.out"; then
        ok "$tag: s_client $source via $target $* verifies"
    else
        bad "$tag: s_client $source via $target $* (status $st): $(grep -i 'verify' "$out/$tag.out" "$out/$tag.err" | head -3)"
    fi
    expect_no_line "$tag: no hastls line" "$out/$tag.err" '^hastls:'
}
# sc_fail TAG SHIM TARGET SOURCE REGEX [ARGS]: fails, the verify error REGEX.
sc_fail() {
    local tag=$1 shim=$2 target=$3 source=$4 re=$5
    shift 5
    sc "$tag" "$shim" "$target" "$source" "$@"
    [ "$st" -ne 0 ] && ok "$tag: s_client $source via $target fails (status $st)" ||
        bad "$tag: s_client $source via $target connected"
    expect_line "$tag: $re" "$out/$tag.err" "$re"
}
MISMATCH='verify error:num=62:hostname mismatch'

# Controls: the certificate is valid for the derived domains, not the sources.
sc_fail ctl-im 0 chat.hosting.example im.lab.example "$MISMATCH" -CAfile "$LAB_CA"
openssl s_client -connect chat.hosting.example:5222 -starttls xmpp -xmpphost im.lab.example \
    -verify_hostname chat.hosting.example -verify_return_error -CAfile "$LAB_CA" \
    </dev/null >"$out/ctl-target.out" 2>&1
expect_status "control: the certificate verifies for chat.hosting.example" $? 0
openssl s_client -connect chat.insecure.lab.example:5222 -starttls xmpp -xmpphost im-ins.lab.example \
    -verify_hostname chat.insecure.lab.example -verify_return_error -CAfile "$LAB_CA" \
    </dev/null >"$out/ctl-ins.out" 2>&1
expect_status "control: ... and for chat.insecure.lab.example" $? 0
sc_fail ctl-noca 0 chat.hosting.example im.lab.example 'unable to get local issuer certificate'

# Secure delegations.
sc_pass sec-ee chat.hosting.example im.lab.example -CAfile "$LAB_CA"
sc_pass sec-ee-noca chat.hosting.example im.lab.example
sc_pass sec-pkix pkix.hosting.example im-pkix.lab.example -CAfile "$LAB_CA"
sc_fail sec-pkix-noca 1 pkix.hosting.example im-pkix.lab.example 'unable to get local issuer certificate'
sc_fail sec-bad 1 bad.hosting.example im-bad.lab.example \
    "$LINE im-bad.lab.example:5222: .*at _5222\\._tcp\\.bad\\.hosting\\.example \\(dane enforce\\)\$" -CAfile "$LAB_CA"
expect_count "sec-bad: one DANE line" "$out/sec-bad.err" "$LINE" 1
# Insecure ones: the source name only, no TLSA at the target.
sc_fail ins-srv 1 chat.hosting.example im.insecure.lab.example "$MISMATCH" -CAfile "$LAB_CA"
expect_no_line "ins-srv: no DANE line" "$out/ins-srv.err" "$LINE"
sc_fail ins-addr 1 chat.insecure.lab.example im-ins.lab.example "$MISMATCH" -CAfile "$LAB_CA"
expect_no_line "ins-addr: no DANE line" "$out/ins-addr.err" "$LINE"
# A bogus SRV: refused before the handshake.
sc_fail bogus 1 chat.hosting.example im.bogus.lab.example \
    "$LINE im\\.bogus\\.lab\\.example:5222: the SRV records at _xmpp-client\\._tcp\\.im\\.bogus\\.lab\\.example are DNSSEC-bogus: .* \\(dane enforce\\)\$" \
    -CAfile "$LAB_CA"
# A target no SRV of the source lists: the source name only.
sc_fail unlisted 1 chat.hosting.example im-pkix.lab.example "$MISMATCH" -CAfile "$LAB_CA"
# Port 5223: the shim does not look the SRV up itself (python below does).
sc_fail port-byhand 1 pkix.hosting.example:5223 im-port.lab.example "$MISMATCH" -CAfile "$LAB_CA"
# dane = report: the bogus SRV is reported, nothing refused (the name fails).
report=$(conf srv-report dane=report)
HASTLS_CONF=$report sc_fail rep-bogus 1 chat.hosting.example im.bogus.lab.example \
    "$LINE im\\.bogus\\.lab\\.example:5222: the SRV records .* \\(dane report\\)\$" -CAfile "$LAB_CA"
expect_line "rep-bogus: the handshake ran (hostname mismatch)" "$out/rep-bogus.err" "$MISMATCH"
# dane = off: no delegation either.
off=$(conf srv-off dane=off)
HASTLS_CONF=$off sc_fail off-im 1 chat.hosting.example im.lab.example "$MISMATCH" -CAfile "$LAB_CA"

# ---------------------------------------------------------------------------
# GnuTLS: gnutls-cli -starttls-proto xmpp, the target given by hand, the
# source as SNI and the name to verify.
# gc TAG SHIM(0/1) TARGET SOURCE [ARGS]: output in $out/TAG.out, status $st.
gc() {
    local tag=$1 shim=$2 target=$3 source=$4
    shift 4
    local pre=()
    [ "$shim" = 1 ] && pre=(env LD_PRELOAD="$S")
    "${pre[@]}" gnutls-cli --starttls-proto=xmpp --sni-hostname "$source" \
        --verify-hostname "$source" -p 5222 "$@" "$target" </dev/null >"$out/$tag.out" 2>&1
    st=$?
}
GMISMATCH='The name in the certificate does not match the expected'
gc gctl-pkix 0 pkix.hosting.example im-pkix.lab.example --x509cafile "$LAB_CA"
expect_status "control: gnutls-cli alone refuses pkix.hosting.example for im-pkix" "$st" 1
expect_line "control: gnutls-cli alone: the name does not match" "$out/gctl-pkix.out" "$GMISMATCH"
gc g-pkix 1 pkix.hosting.example im-pkix.lab.example --x509cafile "$LAB_CA"
expect_status "gnutls-cli: secure delegation, the derived name passes the PKIX check" "$st" 0
expect_no_line "gnutls-cli: no hastls line" "$out/g-pkix.out" '^hastls:'
gc g-pkix-noca 1 pkix.hosting.example im-pkix.lab.example
expect_status "gnutls-cli: the derived name does not make the CA check pass" "$st" 1
gc g-ee 1 chat.hosting.example im.lab.example
expect_status "gnutls-cli: DANE-EE at the derived domain, no CA" "$st" 0
gc g-bad 1 bad.hosting.example im-bad.lab.example --x509cafile "$LAB_CA"
expect_status "gnutls-cli: the derived domain's TLSA does not match: refused" "$st" 1
expect_count "gnutls-cli: one DANE line for the source" "$out/g-bad.out" \
    "$LINE im-bad.lab.example:5222: .* \\(dane enforce\\)\$" 1
gc g-ins 1 chat.hosting.example im.insecure.lab.example --x509cafile "$LAB_CA"
expect_status "gnutls-cli: the unsigned SRV delegates nothing" "$st" 1
expect_line "gnutls-cli: the name does not match" "$out/g-ins.out" "$GMISMATCH"
gc g-insaddr 1 chat.insecure.lab.example im-ins.lab.example --x509cafile "$LAB_CA"
expect_status "gnutls-cli: unsigned target addresses delegate nothing" "$st" 1
gc g-bogus 1 chat.hosting.example im.bogus.lab.example --x509cafile "$LAB_CA"
expect_status "gnutls-cli: a bogus SRV refuses" "$st" 1
expect_count "gnutls-cli: one DANE line naming the SRV" "$out/g-bogus.out" \
    "$LINE im.bogus.lab.example:5222: the SRV records .*DNSSEC-bogus.* \\(dane enforce\\)\$" 1

# ---------------------------------------------------------------------------
# python3: the SRV looked up by the program, then STARTTLS with
# server_hostname = the source.
cat >"$out/py.py" <<'EOF'
import ctypes, os, socket, ssl, sys
import dns.message, dns.rdatatype, dns.resolver

libc = ctypes.CDLL(None)
libc.res_query.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]

def srv_res_query(source):
    buf = ctypes.create_string_buffer(4096)
    n = libc.res_query(("_xmpp-client._tcp." + source).encode(), 1, 33, buf, 4096)
    if n < 0:
        raise LookupError("res_query failed")
    m = dns.message.from_wire(buf.raw[:n])
    rr = [r for a in m.answer if a.rdtype == dns.rdatatype.SRV for r in a]
    return str(rr[0].target).rstrip("."), rr[0].port

def srv_dnspython(source):
    a = dns.resolver.resolve("_xmpp-client._tcp." + source, "SRV")
    return str(a[0].target).rstrip("."), a[0].port

def starttls(ctx, source, target, port):
    s = socket.create_connection((target, port), timeout=20)
    s.sendall(("<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
               "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" % source).encode())
    data = b""
    while b"</stream:features>" not in data:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed before the features")
        data += d
    s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    data = b""
    while b"<proceed" not in data:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed before proceed")
        data += d
    t = ctx.wrap_socket(s, server_hostname=source)
    peer = t.getpeercert()["subject"]
    t.close()
    return "tls " + dict(x[0] for x in peer)["commonName"]

ctx = ssl.create_default_context(cafile=os.environ["LAB_CA"])
for how, fn in (("res_query", srv_res_query), ("dnspython", srv_dnspython)):
    for source in sys.argv[1:]:
        try:
            target, port = fn(source)
        except Exception as e:
            print(how, source, "nosrv", type(e).__name__)
            continue
        try:
            print(how, source, "ok", starttls(ctx, source, target, port))
        except ssl.SSLCertVerificationError as e:
            print(how, source, "certfail", e.verify_message)
        except Exception as e:
            print(how, source, "error", type(e).__name__, e)
EOF
PYSRC="im.lab.example im-pkix.lab.example im-bad.lab.example im.insecure.lab.example im-ins.lab.example
 im.bogus.lab.example im-port.lab.example"
# shellcheck disable=SC2086 # the sources are separate words
"$PY" "$out/py.py" $PYSRC >"$out/py-ctl.out" 2>"$out/py-ctl.err"
for how in res_query dnspython; do
    expect_line "control: python ($how) alone fails im.lab.example's name" "$out/py-ctl.out" \
        "^$how im.lab.example certfail Hostname mismatch"
    expect_line "control: python ($how) alone fails im-port.lab.example's name" "$out/py-ctl.out" \
        "^$how im-port.lab.example certfail Hostname mismatch"
done
# shellcheck disable=SC2086
LD_PRELOAD=$S "$PY" "$out/py.py" $PYSRC >"$out/py.out" 2>"$out/py.err"
for how in res_query dnspython; do
    expect_line "python ($how): secure delegation with DANE-EE" "$out/py.out" \
        "^$how im.lab.example ok tls chat.hosting.example$"
    expect_line "python ($how): secure delegation, PKIX with the derived name" "$out/py.out" \
        "^$how im-pkix.lab.example ok tls chat.hosting.example$"
    expect_line "python ($how): secure delegation, a TLSA mismatch" "$out/py.out" \
        "^$how im-bad.lab.example certfail"
    expect_line "python ($how): an unsigned SRV" "$out/py.out" \
        "^$how im.insecure.lab.example certfail Hostname mismatch"
    expect_line "python ($how): unsigned target addresses" "$out/py.out" \
        "^$how im-ins.lab.example certfail Hostname mismatch"
    expect_line "python ($how): a bogus SRV is not handed out" "$out/py.out" \
        "^$how im.bogus.lab.example nosrv"
    expect_line "python ($how): the SRV it asked counts on port 5223 too" "$out/py.out" \
        "^$how im-port.lab.example ok tls chat.hosting.example$"
done
expect_count "python: one DANE line per refused connection (im-bad twice)" "$out/py.err" \
    "$LINE im-bad.lab.example:5222: .*_5222\\._tcp\\.bad\\.hosting\\.example \\(dane enforce\\)\$" 2

# ---------------------------------------------------------------------------
# slixmpp: SRV through aiodns (its own DNS client), STARTTLS, SASL.
cat >"$out/xmpp.py" <<'EOF'
import asyncio, logging, os, sys
import slixmpp

class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, "secret")
        self.ca_certs = os.environ["LAB_CA"]
        self.result = "no session"
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("failed_auth", lambda e: self.end("auth failed"))
        self.add_event_handler("connection_failed", lambda e: self.end("connection failed: %s" % e))
        self.add_event_handler("disconnected", lambda e: self.done.set_result(None) if not self.done.done() else None)

    def end(self, what):
        self.result = what
        self.disconnect()

    async def started(self, event):
        self.end("session")

async def main(jid):
    c = Client(jid)
    c.done = asyncio.get_event_loop().create_future()
    c.connect()
    try:
        await asyncio.wait_for(c.done, 20)
    except asyncio.TimeoutError:
        c.result += " (timeout)"
    print(jid, c.result)

logging.basicConfig(level=logging.ERROR)
for jid in sys.argv[1:]:
    asyncio.run(main(jid))
EOF
XJIDS="alice@im.lab.example alice@im-pkix.lab.example alice@im.insecure.lab.example"
# shellcheck disable=SC2086
timeout 60 "$PY" "$out/xmpp.py" $XJIDS >"$out/xmpp-ctl.out" 2>"$out/xmpp-ctl.err"
expect_no_line "control: slixmpp alone gets no session on im.lab.example" "$out/xmpp-ctl.out" \
    '^alice@im.lab.example session$'
expect_count "control: slixmpp alone rejects the certificate for each source" "$out/xmpp-ctl.err" \
    'CERT: Invalid certificate' 3
# shellcheck disable=SC2086
LD_PRELOAD=$S timeout 60 "$PY" "$out/xmpp.py" $XJIDS >"$out/xmpp.out" 2>"$out/xmpp.err"
expect_line "slixmpp: alice@im.lab.example authenticates (DANE-EE at the target)" "$out/xmpp.out" \
    '^alice@im.lab.example session$'
expect_line "slixmpp: alice@im-pkix.lab.example authenticates (the derived name)" "$out/xmpp.out" \
    '^alice@im-pkix.lab.example session$'
expect_no_line "slixmpp: no session through the unsigned SRV" "$out/xmpp.out" \
    '^alice@im.insecure.lab.example session$'
expect_count "slixmpp: the certificate is rejected for that one only" "$out/xmpp.err" \
    'CERT: Invalid certificate' 1
expect_line "prosody: alice authenticated" "$P/prosody.log" 'Authenticated as alice@im.lab.example'

# ---------------------------------------------------------------------------
# hastls check --srv --connect: the seed's walk, then STARTTLS with prosody.
# cs TAG SOURCE [ARGS]: output in $out/TAG.out, status in $st.
cs() {
    local tag=$1 src=$2
    shift 2
    "$HASTLS_BUILD/hastls" check --srv "_xmpp-client._tcp.$src" --connect "$@" \
        >"$out/$tag.out" 2>&1
    st=$?
}
cs cs-im im.lab.example --ca "$LAB_CA"
expect_status "check --srv --connect: im passes" "$st" 0
expect_line "check --srv: im's delegation is secure" "$out/cs-im.out" '^  delegation: secure'
expect_line "check --srv: STARTTLS xmpp with SNI im" "$out/cs-im.out" \
    '^  connect: 127.0.10.40 port 5222, STARTTLS xmpp, SNI im.lab.example'
expect_line "check --srv: DANE-EE decides" "$out/cs-im.out" '^  certificate verdict: pass \(DANE\)$'
cs cs-pkix im-pkix.lab.example --ca "$LAB_CA"
expect_status "check --srv --connect: im-pkix passes" "$st" 0
expect_line "check --srv: PKIX for the derived name" "$out/cs-pkix.out" '^  PKIX: ok for pkix.hosting.example$'
cs cs-bad im-bad.lab.example --ca "$LAB_CA"
expect_status "check --srv --connect: im-bad fails" "$st" 1
expect_line "check --srv: no TLSA match" "$out/cs-bad.out" '^  certificate: fails: no matching DANE TLSA records$'
cs cs-ins im.insecure.lab.example --ca "$LAB_CA"
expect_status "check --srv --connect: the unsigned SRV fails" "$st" 1
expect_line "check --srv: the source name only" "$out/cs-ins.out" \
    '^  PKIX: fails for im.insecure.lab.example: hostname mismatch$'
cs cs-json im.lab.example --json
"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
t = d["targets"][0]
assert d["passed"] and t["target"].rstrip(".") == "chat.hosting.example", d
assert t["delegation"] == "secure", t
print("ok")' "$out/cs-json.out" >"$out/cs-json.chk" 2>&1
expect_line "check --srv --connect --json: passed, secure, the target" "$out/cs-json.chk" '^ok$'

finish
