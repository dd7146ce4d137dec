#!/usr/bin/env bash
# resolver_ca_dir: with the system's CA store (ca_bundle unset), the resolver
# finds the upstream's CA in the hashed directory /etc/ssl/certs, by subject
# hash, without loading the whole bundle; a CA that is in neither fails
# authentication (strict: no answer); a directory without hash names falls
# back to the bundle file.  Each case bind-mounts its own /etc/ssl/certs in a
# mount namespace of its own.
set -u
H=$HASTLS_BUILD/hastls
fails=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
conf=$LAB_DIR/ca-dir.conf
grep -v '^ca_bundle' "$HASTLS_CONF" >"$conf"
d=$LAB_DIR/certs-dir
mkdir -p "$d"
cp /etc/ssl/certs/ca-certificates.crt "$d/"
out=$LAB_DIR/ca-dir.out

# lookup: `hastls lookup` of secure.lab.example with $d as /etc/ssl/certs.
lookup() {
    unshare -m sh -c 'mount --bind "$0" /etc/ssl/certs && exec "$@"' "$d" \
        "$H" lookup --config "$conf" secure.lab.example A >"$out" 2>&1
    sed 's/^/    /' "$out"
}

# 1. The system's CAs only: the lab CA is unknown, strict gives no answer.
lookup
if grep -q 'certificate verification failed' "$out" && ! grep -q ': secure rcode=NOERROR' "$out"; then
    ok "a CA in neither the directory nor the bundle: authentication fails"
else
    bad "a CA in neither the directory nor the bundle: authentication fails"
fi

# 2. The lab CA by hash name in the directory (not in the bundle): found.
cp "$LAB_CA" "$d/lab-ca.pem"
openssl rehash "$d" 2>/dev/null
ls "$d" | grep -Eq '^[0-9a-f]{8}\.0$' || bad "openssl rehash made no hash name"
lookup
if grep -q '^secure.lab.example A: secure rcode=NOERROR' "$out"; then
    ok "the lab CA by hash name in the directory authenticates the upstream"
else
    bad "the lab CA by hash name in the directory authenticates the upstream"
fi

# 3. No hash names: the bundle file, which now holds the lab CA, is used.
rm -f "$d"/*.0 "$d/lab-ca.pem"
cat "$LAB_CA" >>"$d/ca-certificates.crt"
lookup
if grep -q '^secure.lab.example A: secure rcode=NOERROR' "$out"; then
    ok "a directory without hash names: the bundle file is loaded"
else
    bad "a directory without hash names: the bundle file is loaded"
fi

[ "$fails" -eq 0 ]
