#!/usr/bin/env bash
# shim_records: HASTLS records that cannot be used, and CNAME chains, under
# the shim (libhastls(7), "Record states"):
#  - a signed name whose HASTLS RRset is one record of zero bytes
#    (empty.lab.example: libunbound answers SERVFAIL while the name's A and
#    AAAA answers validate) and one of 3 bytes (malformed.lab.example) are
#    bogus: every port blocked under bogus = block, none under bogus = ignore;
#  - the same record of zero bytes in the unsigned zone
#    (empty.insecure.lab.example: SERVFAIL, nothing shows the zone is signed)
#    stays "failed": allowed, with the warning;
#  - a CNAME chain: the canonical name's own record, looked up for it,
#    governs its addresses: u2s.insecure.lab.example (unsigned) -> secure
#    (0 443) blocks port 80; s2u.lab.example (signed) -> www.insecure (an
#    unsigned record) blocks nothing; the refusal names the name asked;
#  - curl sees the same, and `hastls check` agrees (exit status 1 = blocks).
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
# The sanitizer build (make integration-asan) has the shim only: the CLI's
# parts run in the plain build.
have_cli() {
    [ -x "$H" ] && return 0
    echo "note: no $H in this build: hastls check not run"
    return 1
}

echo "== records that cannot be used: bogus"
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" empty.lab.example:80 \
    empty.lab.example:443 malformed.lab.example:80 malformed.lab.example:443 \
    >"$LAB_DIR/unusable.out" 2>"$LAB_DIR/unusable.err"
for t in empty.lab.example:80 empty.lab.example:443 malformed.lab.example:80 \
    malformed.lab.example:443; do
    expect_line "$t blocked" "$LAB_DIR/unusable.out" "^${t//./\\.} 127\.0\.10\.1[67] EACCES$"
done
expect_line "empty: bogus warning" "$LAB_DIR/unusable.err" \
    '^hastls: HASTLS record of empty\.lab\.example is bogus \(unusable record in a signed zone: .*\): its connections will be blocked$'
expect_line "malformed: bogus warning" "$LAB_DIR/unusable.err" \
    '^hastls: HASTLS record of malformed\.lab\.example is bogus \(malformed record: RDATA length is not a multiple of 4\)'
expect_no_line "no 'not checked' warning" "$LAB_DIR/unusable.err" 'are not checked'
HASTLS_CONF=$(conf ign bogus=ignore) LD_PRELOAD=$S python3 "$PROBE" empty.lab.example:80 \
    malformed.lab.example:443 >"$LAB_DIR/ign.out" 2>&1
expect_line "empty, bogus = ignore: allowed" "$LAB_DIR/ign.out" '^empty\.lab\.example:80 127\.0\.10\.16 ok$'
expect_line "malformed, bogus = ignore: allowed" "$LAB_DIR/ign.out" \
    '^malformed\.lab\.example:443 127\.0\.10\.17 ok$'
LD_PRELOAD=$S curl -sS http://empty.lab.example/ >"$LAB_DIR/c.out" 2>"$LAB_DIR/c.err"
expect_status "curl http://empty fails" $? 7
expect_line "curl: blocked line" "$LAB_DIR/c.err" \
    '^hastls: blocked connect to empty\.lab\.example\[127\.0\.10\.16\]:80: .+ \(client cfb\)$'
have_cli && for n in empty malformed; do
    "$H" check "$n.lab.example" 443 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check $n: blocks" $? 1
    expect_line "hastls check $n: bogus" "$LAB_DIR/chk.out" '^record: bogus'
done

echo "== a failed record answer outside a signed zone: failed, allowed with a warning"
# The same record of zero bytes in the unsigned zone: libunbound answers
# SERVFAIL there too, but nothing shows that the zone is signed.
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" \
    empty.insecure.lab.example:80 >"$LAB_DIR/failed.out" 2>&1
expect_line "empty.insecure:80 allowed" "$LAB_DIR/failed.out" \
    '^empty\.insecure\.lab\.example:80 127\.0\.10\.18 ok$'
expect_line "empty.insecure: the 'not checked' warning" "$LAB_DIR/failed.out" \
    '^hastls: HASTLS lookup for empty\.insecure\.lab\.example failed \(.*\): its connections are not checked$'
if have_cli; then
    "$H" check empty.insecure.lab.example 80 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check empty.insecure: allowed, a lookup failed" $? 3
    expect_line "hastls check empty.insecure: failed" "$LAB_DIR/chk.out" \
        '^record: not enforced: the HASTLS lookup failed'
fi

echo "== CNAME chains: the canonical name's own record"
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" u2s.insecure.lab.example:80 \
    u2s.insecure.lab.example:443 s2u.lab.example:80 s2u.lab.example:443 \
    >"$LAB_DIR/cname.out" 2>"$LAB_DIR/cname.err"
expect_line "insecure -> secure (0 443): 80 blocked" "$LAB_DIR/cname.out" \
    '^u2s\.insecure\.lab\.example:80 127\.0\.10\.1 EACCES$'
expect_line "insecure -> secure (0 443): 443 allowed" "$LAB_DIR/cname.out" \
    '^u2s\.insecure\.lab\.example:443 127\.0\.10\.1 ok$'
expect_line "secure -> insecure: 80 allowed" "$LAB_DIR/cname.out" \
    '^s2u\.lab\.example:80 127\.0\.10\.10 ok$'
expect_line "secure -> insecure: 443 allowed" "$LAB_DIR/cname.out" \
    '^s2u\.lab\.example:443 127\.0\.10\.10 ok$'
expect_line "the refusal names the name asked" "$LAB_DIR/cname.err" \
    '^hastls: blocked connect to u2s\.insecure\.lab\.example\[127\.0\.10\.1\]:80: .+ \(client cfb\)$'
LD_PRELOAD=$S curl -sS http://u2s.insecure.lab.example/ >"$LAB_DIR/u.out" 2>"$LAB_DIR/u.err"
expect_status "curl http://u2s fails" $? 7
expect_no_line "curl never reached the impostor" "$LAB_DIR/u.out" IMPOSTOR
LD_PRELOAD=$S curl -sS --cacert "$LAB_CA" https://u2s.insecure.lab.example/ >"$LAB_DIR/u2.out" 2>&1
expect_line "curl https://u2s" "$LAB_DIR/u2.out" '^OK secure\.lab\.example 443'
LD_PRELOAD=$S curl -sS http://s2u.lab.example/ >"$LAB_DIR/s.out" 2>&1
expect_line "curl http://s2u" "$LAB_DIR/s.out" '^OK www\.insecure\.lab\.example 80'
if have_cli; then
    "$H" check u2s.insecure.lab.example 80 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check u2s 80: blocks" $? 1
    expect_line "hastls check u2s: the target's own record" "$LAB_DIR/chk.out" \
        '^HASTLS +secure +\(0 443\)$'
    "$H" check s2u.lab.example 80 443 >"$LAB_DIR/chk.out" 2>&1
    expect_status "hastls check s2u: allows" $? 0
fi

echo "== res_query(): the same rules for the addresses a program's own DNS code got"
# rawconnect NAME ADDR PORT: res_query(NAME, A), then connect() to ADDR:PORT
# (a literal: governed only because the answer recorded it).
cat >"$LAB_DIR/rawconnect.py" <<'PY'
import ctypes, errno, socket, sys
name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
lib = ctypes.CDLL(None)
buf = ctypes.create_string_buffer(4096)
n = lib.res_query(name.encode(), 1, 1, buf, 4096)
s = socket.socket()
s.settimeout(5)
try:
    s.connect((addr, port))
    print(name, n > 0, "ok")
except OSError as e:
    print(name, n > 0, errno.errorcode.get(e.errno, e.errno))
PY
for t in "empty.lab.example 127.0.10.16 443 EACCES" "malformed.lab.example 127.0.10.17 443 EACCES" \
    "empty.insecure.lab.example 127.0.10.18 443 ok" "u2s.insecure.lab.example 127.0.10.1 80 EACCES" \
    "u2s.insecure.lab.example 127.0.10.1 443 ok" "s2u.lab.example 127.0.10.10 80 ok"; do
    read -r n a p want <<<"$t"
    got=$(LD_PRELOAD=$S python3 "$LAB_DIR/rawconnect.py" "$n" "$a" "$p" 2>/dev/null)
    [ "$got" = "$n True $want" ] && ok "res_query $n, connect $a:$p: $want" ||
        bad "res_query $n, connect $a:$p: got '$got', wanted $want"
done
finish
