#!/usr/bin/env bash
# hastls_run_coverage: what hastls run says, before it starts a program, about
# the TLS of that program that DANE does not cover (shim/cli/coverage.h), with
# real programs run under it in the lab:
#  - Chromium (/usr/lib/chromium/chromium, BoringSSL built in): one line
#    naming BoringSSL, although it also links GnuTLS (through libcups);
#    /usr/bin/chromium, a shell script: its interpreter is what is read, so
#    no line, and --explain says so;
#  - certutil (NSS's libssl3.so): the NSS line; a program that needs NSS
#    through a library of its own found by $ORIGIN RUNPATH, and one found
#    through LD_LIBRARY_PATH: the same line naming that library; a program
#    needing NSS both ways: still one line;
#  - a program with OpenSSL linked statically (libssl.a): the built-in
#    OpenSSL line; a program carrying a Go build-ID section: the Go line
#    (a C program marked so with objcopy: no Go toolchain here);
#  - a statically linked program: the refusal hastls run already writes, and
#    with --allow-unprotected its warning alone (no second line for it);
#  - curl (OpenSSL) and Debian's python3 (no TLS library linked; _ssl is
#    dlopen()ed):
#    no line; --explain names curl's OpenSSL through libcurl;
#  - dane = off, [app:certutil] dane = off and --quiet: no line.
# Every program runs and its status and output pass through untouched.
# Under make integration-asan (the hastls CLI instrumented, the shim too)
# the Chromium part is skipped, saying why: Chromium cannot run with the
# ASan runtime in it.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
t=$LAB_DIR/coverage
mkdir -p "$t"
LINE='^hastls run: DANE does not cover'

# run TAG ARGS...: `hastls run ARGS`, stdout in $t/TAG.out, stderr in
# $t/TAG.err, status in $st.
run() {
    local tag=$1
    shift
    "$H" run "$@" >"$t/$tag.out" 2>"$t/$tag.err" </dev/null
    st=$?
}
# expect_lines DESCRIPTION TAG N: TAG's stderr has N hastls run lines.
expect_lines() {
    local n
    n=$(grep -c '^hastls run:' "$t/$2.err")
    if [ "$n" -eq "$3" ]; then ok "$1"; else
        bad "$1 ($n hastls run lines, wanted $3)"
        sed 's/^/    | /' "$t/$2.err"
    fi
}

# --- Chromium -------------------------------------------------------------------
chrome=/usr/lib/chromium/chromium
if [ -n "${HASTLS_PRELOAD:-}" ]; then
    # make integration-asan: the instrumented shim brings the ASan runtime
    # into Chromium, which then aborts ("Shadow memory range interleaves with
    # an existing memory mapping": its address space layout and ASan's shadow
    # memory collide).  The plain integration pass runs this part.
    echo "skip chromium under the sanitizers: Chromium aborts with the ASan runtime loaded"
elif [ -x "$chrome" ]; then
    run chrome "$chrome" --version
    expect_status "chromium --version runs under hastls run" "$st" 0
    expect_line "...and prints its version" "$t/chrome.out" '^Chromium [0-9]'
    expect_line "chromium: the BoringSSL line" "$t/chrome.err" \
        "$LINE chromium: its TLS library \\(BoringSSL\\) is built in; the HASTLS policy on connect\\(\\) still applies\$"
    expect_lines "chromium: that line alone" chrome 1
    run chrome-v --explain "$chrome" --version
    expect_line "chromium --explain: GnuTLS covered, through libcups" "$t/chrome-v.err" \
        "^hastls run: DANE covers chromium's TLS through GnuTLS \\(libgnutls\\.so\\.30, needed by libcups\\.so\\.2\\)\$"
    run chrome-q --quiet "$chrome" --version
    expect_lines "chromium --quiet: no line" chrome-q 0
    expect_status "chromium --quiet runs" "$st" 0
    run chrome-sh chromium --version
    expect_lines "/usr/bin/chromium (a script): no line" chrome-sh 0
    run chrome-sh-v -v chromium --version
    expect_line "...--explain says its interpreter is what was read" "$t/chrome-sh-v.err" \
        '^hastls run: DANE: /usr/bin/chromium is run by /(usr/)?bin/(da)?sh: that program is looked at, not the programs it starts$'
    off=$(conf off dane=off)
    run chrome-off --config "$off" "$chrome" --version
    expect_lines "chromium under dane = off: no line" chrome-off 0
else
    echo "skip chromium: $chrome is not installed (scripts/install-deps)"
fi

# --- NSS --------------------------------------------------------------------------
if command -v certutil >/dev/null; then
    mkdir -p "$t/nssdb"
    run nss certutil -N -d "sql:$t/nssdb" --empty-password
    expect_status "certutil runs under hastls run" "$st" 0
    [ -s "$t/nssdb/cert9.db" ] && ok "...and made its database" || bad "certutil made no database"
    expect_line "certutil: the NSS line" "$t/nss.err" \
        "$LINE certutil: its TLS library is NSS \\(libssl3\\.so\\), which the shim has no DANE hook for; the HASTLS policy on connect\\(\\) still applies\$"
    expect_lines "certutil: that line alone" nss 1
    app=$(conf app -- '[app:certutil]' 'dane = off')
    run nss-app --config "$app" certutil -L -d "sql:$t/nssdb"
    expect_lines "[app:certutil] dane = off: no line" nss-app 0
    run nss-q -q certutil -L -d "sql:$t/nssdb"
    expect_lines "certutil -q: no line" nss-q 0
else
    echo "skip certutil: not installed (libnss3-tools)"
fi

# NSS needed through a library of the program's own: RUNPATH $ORIGIN/lib,
# then LD_LIBRARY_PATH.
nsslib=$(ls /usr/lib/*/libssl3.so /usr/lib/libssl3.so 2>/dev/null | head -1)
if [ -n "$nsslib" ] && command -v cc >/dev/null; then
    mkdir -p "$t/app/lib" "$t/app2"
    printf 'int fake_tls(void) { return 7; }\n' >"$t/fake.c"
    printf 'int fake_tls(void);\nint main(void) { return fake_tls() - 7; }\n' >"$t/main.c"
    if cc -shared -fPIC -o "$t/app/lib/libfake.so.1" -Wl,-soname,libfake.so.1 "$t/fake.c" \
        -Wl,--no-as-needed "$nsslib" &&
        cc -o "$t/app/prog" "$t/main.c" -L"$t/app/lib" -l:libfake.so.1 \
            -Wl,-rpath,'$ORIGIN/lib' &&
        cc -o "$t/app2/prog2" "$t/main.c" -L"$t/app/lib" -l:libfake.so.1 &&
        cc -o "$t/app/both" "$t/main.c" -L"$t/app/lib" -l:libfake.so.1 -Wl,--no-as-needed \
            "$nsslib" -Wl,-rpath,'$ORIGIN/lib'; then
        run origin "$t/app/prog"
        expect_status "a program with its own library runs" "$st" 0
        expect_line "...the NSS line names the library that needs it" "$t/origin.err" \
            "$LINE prog: its TLS library is NSS \\(libssl3\\.so, needed by libfake\\.so\\.1\\)"
        LD_LIBRARY_PATH=$t/app/lib run ldpath "$t/app2/prog2"
        expect_status "a program found its library through LD_LIBRARY_PATH" "$st" 0
        expect_line "...the same line" "$t/ldpath.err" "$LINE prog2: its TLS library is NSS"
        run both "$t/app/both"
        expect_lines "NSS needed twice: one line" both 1
    else
        bad "cannot build the test programs linked to NSS"
    fi
fi

# --- built into the program --------------------------------------------------------
if [ -f /usr/lib/x86_64-linux-gnu/libssl.a ] || [ -f "$(cc -print-file-name=libssl.a)" ]; then
    cat >"$t/ossl.c" <<'EOF'
#include <openssl/ssl.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    (void)argv;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    SSL *s = SSL_new(c);
    if (argc > 9)
        SSL_connect(s); /* keeps the client state machine in */
    printf("%s\n", s ? "ssl ok" : "ssl failed");
    return 0;
}
EOF
    if cc -o "$t/ossl" "$t/ossl.c" -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -ldl -pthread; then
        run ossl "$t/ossl"
        expect_status "a program with OpenSSL built in runs" "$st" 0
        expect_line "...and prints" "$t/ossl.out" '^ssl ok$'
        expect_line "...the built-in OpenSSL line" "$t/ossl.err" \
            "$LINE ossl: its TLS library \\(OpenSSL, linked statically\\) is built in; the HASTLS policy on connect\\(\\) still applies\$"
        expect_lines "...alone" ossl 1
    else
        bad "cannot link a program with libssl.a"
    fi
else
    echo "skip static OpenSSL: no libssl.a (libssl-dev)"
fi

printf 'int main(void) { return 3; }\n' >"$t/three.c"
printf 'Go build ID: "hastls-test"' >"$t/note"
if cc -o "$t/three" "$t/three.c" &&
    objcopy --add-section .note.go.buildid="$t/note" "$t/three" "$t/gomark"; then
    run go "$t/gomark"
    expect_status "a program marked as Go runs, its status passed through" "$st" 3
    expect_line "...the Go line" "$t/go.err" \
        "$LINE gomark: it is a Go program, whose TLS \\(crypto/tls\\) is built in; Go makes its system calls without libc, so the HASTLS policy on connect\\(\\) does not apply to it either\$"
    expect_lines "...alone" go 1
    run plain "$t/three"
    expect_lines "the same program unmarked: no line" plain 0
else
    bad "cannot build the Go-marked program"
fi

# --- statically linked ---------------------------------------------------------------
if cc -static -o "$t/static" "$t/three.c" 2>/dev/null; then
    run static "$t/static"
    expect_status "a static program is refused" "$st" 126
    expect_line "...with the static line" "$t/static.err" \
        "^hastls run: $t/static is statically linked: there is no dynamic loader to load libhastls\\.so; refusing to run it unprotected"
    expect_lines "...alone" static 1
    run static-u --allow-unprotected "$t/static"
    expect_status "--allow-unprotected runs it" "$st" 3
    expect_lines "...with its warning alone (no DANE line on top)" static-u 1
    expect_line "...the warning" "$t/static-u.err" 'is statically linked.*UNPROTECTED'
else
    echo "skip static: no static libc (libc6-dev)"
fi

# --- covered: no line ---------------------------------------------------------------
# /usr/bin/curl by its path: under the sanitizers PATH starts with a wrapper
# script (tests/tools/shim_lib.sh), which would be what is read.
run curl /usr/bin/curl -sS --max-time 20 --cacert "$LAB_CA" https://secure.lab.example/
expect_line "curl runs under hastls run" "$t/curl.out" '^OK secure\.lab\.example 443$'
expect_lines "curl: no line" curl 0
run curl-v --explain /usr/bin/curl -sS --max-time 20 --cacert "$LAB_CA" https://secure.lab.example/
expect_line "curl --explain: OpenSSL through libcurl" "$t/curl-v.err" \
    "^hastls run: DANE covers curl's TLS through OpenSSL \\(libssl\\.so\\.3, needed by libcurl\\.so\\.4\\)\$"
expect_no_line "curl --explain: nothing uncovered" "$t/curl-v.err" "$LINE"
run py /usr/bin/python3 -c 'import ssl; print(ssl.OPENSSL_VERSION.split()[0])'
expect_line "python3 runs" "$t/py.out" '^OpenSSL$'
expect_lines "python3: no line" py 0
run py-v -v /usr/bin/python3 -c 'pass'
expect_line "python3 --explain: no TLS library linked" "$t/py-v.err" \
    '^hastls run: DANE: python3 links no TLS library; one it loads at run time is covered if it is OpenSSL or GnuTLS$'

finish
