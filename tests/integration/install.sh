#!/usr/bin/env bash
# install.sh: `make install` into a DESTDIR staging tree and running from it;
# the man pages render without a warning and document every key, variable and
# verb; the example configuration is valid and states the true defaults;
# `make uninstall` removes what install put there and nothing else.
#
# Runs inside the lab (scripts/lab run bash FILE), or directly:
#   HASTLS_BUILD=$PWD/build bash tests/integration/install.sh
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${HASTLS_BUILD:?HASTLS_BUILD must name the build directory}

# A `make check` above us exports its command-line variables (BUILD=,
# PREFIX=, ...) in MAKEFLAGS; the installs below choose their own.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
. "$repo/tests/tools/checks.sh"

# make in the source tree, on the same build directory; its chatter goes to a
# log that is shown only when it fails.
mk() {
    make -s -C "$repo" BUILD="$build" "$@" >"$t/make.log" 2>&1 ||
        { cat "$t/make.log"; return 1; }
}

d=$t/stage
prefix=/usr/local
mkdir -p "$d/etc/hastls"
# An administrator's configuration that install must leave alone.
printf '[policy]\nclient = cso\n' >"$d/etc/hastls/hastls.conf"
cp "$d/etc/hastls/hastls.conf" "$t/admin.conf"

mk DESTDIR="$d" install || { echo "make install failed"; exit 1; }
ok "make install DESTDIR"

installed=(
    "$prefix/lib/libhastls.so"
    "$prefix/lib/hastls/libhastls-resolver.so"
    "$prefix/bin/hastls"
    "$prefix/bin/hastls-run"
    "$prefix/bin/hastls-shell"
    "$prefix/share/man/man1/hastls.1"
    "$prefix/share/man/man1/hastls-run.1"
    "$prefix/share/man/man5/hastls.conf.5"
    "$prefix/share/man/man7/libhastls.7"
    "$prefix/share/doc/hastls/README.md"
    "$prefix/share/doc/hastls/INSTALL.md"
    "$prefix/share/doc/hastls/hastls.conf.example"
    "$prefix/share/doc/hastls/hastls-systemd.conf"
    "/etc/hastls/hastls.conf.example"
)
for f in "${installed[@]}"; do
    [ -f "$d$f" ] && ok "installed $f" || bad "installed $f" "missing"
done
for f in hastls hastls-run hastls-shell; do
    [ -x "$d$prefix/bin/$f" ] && ok "$f executable" || bad "$f executable" "mode"
done
cmp -s "$t/admin.conf" "$d/etc/hastls/hastls.conf" && ok "existing hastls.conf untouched" ||
    bad "existing hastls.conf untouched" "changed"
if grep -rq '@LIBDIR@\|@BINDIR@\|@VERSION@' "$d$prefix/bin/hastls-run" "$d$prefix/bin/hastls-shell"; then
    bad "placeholders substituted" "$(grep -n '@[A-Z]*@' "$d$prefix/bin/hastls-"*)"
else
    ok "placeholders substituted"
fi
grep -q "^hastls_libdir='$prefix/lib'\$" "$d$prefix/bin/hastls-run" &&
    ok "hastls-run knows LIBDIR" || bad "hastls-run knows LIBDIR" "$(grep -n libdir= "$d$prefix/bin/hastls-run")"

# --- running from the staging tree ------------------------------------------
version=$(sed -n 's/^VERSION *:*= *//p' "$repo/Makefile")
expect_eq "installed hastls --version" "hastls $version" "$("$d$prefix/bin/hastls" --version)"
expect_eq "installed hastls-run --version" "hastls-run $version" \
    "$("$d$prefix/bin/hastls-run" --version)"
want=$d$prefix/lib/libhastls.so
got=$(unset HASTLS_SHIM LD_PRELOAD; "$d$prefix/bin/hastls-run" -- sh -c 'echo "$LD_PRELOAD"')
expect_eq "installed hastls-run preloads the installed shim" "$want" "$got"
got=$(unset HASTLS_SHIM LD_PRELOAD; "$d$prefix/bin/hastls" run -- cat /proc/self/maps |
    grep -c "$want" | tr -d ' ')
[ "${got:-0}" -ge 1 ] && ok "installed hastls run loads the installed shim" ||
    bad "installed hastls run loads the installed shim" "maps lines: $got"
got=$(unset HASTLS_SHIM LD_PRELOAD; bash -c '. "$1" on >/dev/null; echo "$LD_PRELOAD"' sh \
    "$d$prefix/bin/hastls-shell")
expect_eq "installed hastls-shell finds the installed shim" "$want" "$got"

# --- man pages ------------------------------------------------------------------
for p in man1/hastls.1 man1/hastls-run.1 man5/hastls.conf.5 man7/libhastls.7; do
    f=$d$prefix/share/man/$p
    MANWIDTH=80 man -l "$f" >"$t/page" 2>"$t/warn"
    st=$?
    if [ "$st" = 0 ] && [ ! -s "$t/warn" ] && [ "$(wc -l <"$t/page")" -gt 20 ]; then
        ok "man -l $p renders without warnings"
    else
        bad "man -l $p renders without warnings" "status $st: $(head -n 5 "$t/warn")"
    fi
    MANWIDTH=80 man -l "$f" 2>/dev/null >"$t/${p#*/}.txt"
done
# Every configuration key and variable is in hastls.conf(5); every verb of
# the CLI (from its own --help) is in hastls(1).
keys=(upstream privacy ca_bundle pin alpn trust_anchor timeout_ms agent agent_idle client
    record_type mode bogus log)
for k in "${keys[@]}" HASTLS_CONF HASTLS_LOG HASTLS_APP HASTLS_MODE; do
    grep -q -- "$k" "$t/hastls.conf.5.txt" || bad "hastls.conf(5) documents $k" "absent"
done
ok "hastls.conf(5) documents every key and variable"
for k in "${keys[@]}"; do
    grep -q "^#$k = \|^; $k = " "$repo/docs/hastls.conf.example" ||
        bad "hastls.conf.example shows $k" "absent"
done
ok "hastls.conf.example shows every key"
verbs=$("$build/hastls" --help | sed -n 's/^  \([a-z][a-z-]*\)[ :].*/\1/p')
[ -n "$verbs" ] || bad "hastls --help lists verbs" "none found"
for v in $verbs; do
    grep -q "^       $v\b" "$t/hastls.1.txt" && ok "hastls(1) documents verb $v" ||
        bad "hastls(1) documents verb $v" "no entry"
done
man -M "$d$prefix/share/man" -w hastls.conf >/dev/null 2>&1 &&
    ok "man -M finds hastls.conf(5)" || bad "man -M finds hastls.conf(5)" "not found"

# --- the example configuration ---------------------------------------------------
ex=$d/etc/hastls/hastls.conf.example
got=$(env -u HASTLS_LOG "$build/hastls" config check "$ex" 2>&1)
expect_eq "example configuration is valid as installed" "ok" "$got"
# Uncommented, it must still be valid and say exactly what the defaults are.
sed 's/^#\([a-z[]\)/\1/' "$ex" >"$t/uncommented.conf"
got=$(env -u HASTLS_LOG "$build/hastls" config check "$t/uncommented.conf" 2>&1)
expect_eq "example configuration is valid uncommented" "ok" "$got"
: >"$t/empty.conf"
env -u HASTLS_LOG "$build/hastls" config show "$t/empty.conf" >"$t/defaults" 2>&1
env -u HASTLS_LOG "$build/hastls" config show "$t/uncommented.conf" >"$t/example" 2>&1
if diff -u "$t/defaults" "$t/example" >"$t/diff"; then
    ok "example states the built-in defaults"
else
    bad "example states the built-in defaults" "$(cat "$t/diff")"
fi

# --- the systemd drop-in ------------------------------------------------------------
# systemd-analyze parses a unit with the drop-in and names every unknown key or
# bad value; as shipped and with its commented lines switched on.
if command -v systemd-analyze >/dev/null 2>&1; then
    u=$t/units
    mkdir -p "$u/hastls-test.service.d"
    printf '[Unit]\nDescription=hastls drop-in test\n[Service]\nExecStart=/bin/true\n' \
        >"$u/hastls-test.service"
    for variant in shipped uncommented; do
        src=$d$prefix/share/doc/hastls/hastls-systemd.conf
        if [ $variant = shipped ]; then
            cp "$src" "$u/hastls-test.service.d/hastls.conf"
        else
            sed -e 's/^#\(ExecStart\|Environment\|ReadOnlyPaths\)/\1/' \
                -e "s|/usr/local/bin/hastls-run|$d$prefix/bin/hastls-run|" \
                -e 's|/usr/sbin/myservice --foreground|/bin/true|' \
                "$src" >"$u/hastls-test.service.d/hastls.conf"
        fi
        SYSTEMD_UNIT_PATH="$u:" timeout 60 systemd-analyze verify hastls-test.service \
            >"$t/sd.out" 2>&1
        st=$?
        if [ "$st" = 0 ] && ! grep -q 'hastls.conf' "$t/sd.out"; then
            ok "systemd drop-in parses ($variant)"
        else
            bad "systemd drop-in parses ($variant)" "status $st: $(cat "$t/sd.out")"
        fi
    done
else
    echo "note: no systemd-analyze; the systemd drop-in is not checked"
fi

# --- uninstall ---------------------------------------------------------------------
mk DESTDIR="$d" uninstall || bad "make uninstall" "failed"
left=()
for f in "${installed[@]}"; do
    [ -e "$d$f" ] && left+=("$f")
done
expect_eq "make uninstall removes every installed file" "" "${left[*]}"
cmp -s "$t/admin.conf" "$d/etc/hastls/hastls.conf" && ok "uninstall keeps hastls.conf" ||
    bad "uninstall keeps hastls.conf" "gone or changed"

# --- a build for another PREFIX, installed there and used -----------------------
# The shim and the CLI carry the directories they were built for, so install
# refuses a build made for other ones ...
make -s -C "$repo" BUILD="$build" DESTDIR="$t/stage-refused" PREFIX=/opt/hastls install \
    >"$t/make.log" 2>&1
if [ $? != 0 ] && grep -q 'built for other directories' "$t/make.log" &&
    [ ! -e "$t/stage-refused/opt/hastls/lib/libhastls.so" ]; then
    ok "install refuses a build made for another PREFIX"
else
    bad "install refuses a build made for another PREFIX" "$(tail -n 3 "$t/make.log")"
fi
# ... and a build made for PREFIX installs there and works from there.
p=$t/prefix
make -s -j2 -C "$repo" BUILD="$t/build" PREFIX="$p" SYSCONFDIR="$p/etc" install \
    >"$t/make.log" 2>&1 || { cat "$t/make.log"; bad "make PREFIX=$p install" "failed"; }
for f in lib/libhastls.so lib/hastls/libhastls-resolver.so bin/hastls bin/hastls-run \
    share/man/man5/hastls.conf.5 etc/hastls/hastls.conf.example; do
    [ -f "$p/$f" ] && ok "PREFIX install: $f" || bad "PREFIX install: $f" "missing"
done
grep -q "^hastls_libdir='$p/lib'\$" "$p/bin/hastls-run" &&
    ok "PREFIX install: hastls-run knows LIBDIR" || bad "PREFIX install: hastls-run knows LIBDIR" "no"
got=$(unset HASTLS_SHIM LD_PRELOAD; "$p/bin/hastls" run -- sh -c 'echo "$LD_PRELOAD"')
expect_eq "PREFIX install: hastls run preloads \$LIBDIR/libhastls.so" "$p/lib/libhastls.so" "$got"
if [ -n "${LAB_DIR:-}" ]; then
    # The installed shim resolves (loading the resolver from PKGLIBDIR) and
    # enforces: secure.lab.example has the record (0 443).
    got=$(unset HASTLS_SHIM LD_PRELOAD; "$p/bin/hastls-run" bash -c '
        exec 3<>/dev/tcp/secure.lab.example/443 && echo connected
        grep -o "/[^ ]*libhastls-resolver.so" /proc/$$/maps | sort -u
        exec 4<>/dev/tcp/secure.lab.example/80 || echo refused' 2>"$t/err")
    want="connected
$p/lib/hastls/libhastls-resolver.so
refused"
    expect_eq "PREFIX install: the installed shim resolves and enforces" "$want" "$got"
    grep -q '^hastls: blocked connect to secure.lab.example\[127.0.10.1\]:80: ' "$t/err" &&
        ok "PREFIX install: the block is logged" ||
        bad "PREFIX install: the block is logged" "$(cat "$t/err")"
    got=$("$p/bin/hastls" lookup secure.lab.example HASTLS 2>&1)
    echo "$got" | grep -q 'HASTLS: secure' && echo "$got" | grep -q '(0 443)' &&
        ok "PREFIX install: hastls lookup" || bad "PREFIX install: hastls lookup" "$got"
else
    echo "note: not in the lab; the installed shim is not exercised"
fi
make -s -C "$repo" BUILD="$t/build" PREFIX="$p" SYSCONFDIR="$p/etc" uninstall >/dev/null 2>&1
left_files=$(find "$p" -type f)
expect_eq "PREFIX uninstall leaves no file" "" "$left_files"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
