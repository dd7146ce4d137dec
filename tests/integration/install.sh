#!/usr/bin/env bash
# install.sh: `make install` into a DESTDIR staging tree and running from it;
# the man pages render without a warning and document every key, variable and
# verb; the example configuration is valid and states the true defaults;
# `make uninstall` removes what install put there and nothing else.  Then, in
# a build directory of its own, the distribution flow (`make PREFIX=/usr`,
# `make PREFIX=/usr DESTDIR=... install`), the mixed flow (`make`, then
# `make PREFIX=/usr DESTDIR=... install` rebuilds for /usr) and a real install
# into another PREFIX, each run from where it was installed.
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
    "$prefix/share/man/man1/hastls-shell.1"
    "$prefix/share/man/man1/hastls-agent.1"
    "$prefix/lib/systemd/user/hastls-agent.socket"
    "$prefix/lib/systemd/user/hastls-agent.service"
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
grep -q "^hastls_bindir='$prefix/bin'\$" "$d$prefix/bin/hastls-run" &&
    ok "hastls-run knows BINDIR" || bad "hastls-run knows BINDIR" "$(grep -n bindir= "$d$prefix/bin/hastls-run")"

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
for p in man1/hastls.1 man1/hastls-run.1 man1/hastls-agent.1 man5/hastls.conf.5 man7/libhastls.7; do
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
# Every key the loader knows, from its own table in policy/config.c.
mapfile -t keys < <(sed -n 's/^ *\[K_[A-Z_]*\] = {"\([a-z_]*\)".*/\1/p' "$repo/policy/config.c")
[ "${#keys[@]}" -ge 14 ] || bad "the keys of policy/config.c" "only ${#keys[@]} found"
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

# --- other directories: what the build carries, and using it from there -----
# The compiled-in directories, read from what the programs do with them: a
# copy of the shim outside any installation looks for the resolver in its
# PKGLIBDIR, and a copy of the CLI looks for the shim in its LIBDIR.
compiled_pkglibdir() {
    local c=$t/copy-shim
    rm -rf "$c" && mkdir -p "$c" && cp "$1" "$c/libhastls.so"
    # The resolver's path: from the error when it is not there, from the
    # process's mappings when it is (an installation on this machine).
    # agent = off: an agent would answer, and the copy would load no resolver.
    if [ -n "${HASTLS_CONF:-}" ]; then
        cp "$HASTLS_CONF" "$c/noagent.conf" && sed -i '/^\[resolver\]/a agent = off' "$c/noagent.conf"
    else
        printf '[resolver]\nagent = off\n' >"$c/noagent.conf"
    fi
    (unset HASTLS_SHIM HASTLS_LOG; HASTLS_CONF=$c/noagent.conf LD_PRELOAD="$c/libhastls.so" bash -c '
        exec 3<>/dev/tcp/pkglibdir-probe.invalid/443
        grep -o "/[^ ]*/libhastls-resolver\.so" /proc/$$/maps' 2>&1) |
        sed -n -e 's|^hastls: cannot start the resolver (\(/.*\)/libhastls-resolver\.so: .*|\1|p' \
            -e 's|^\(/.*\)/libhastls-resolver\.so$|\1|p' | head -n 1
}
compiled_libdir() {
    local c=$t/copy-cli
    rm -rf "$c" && mkdir -p "$c" && cp "$1" "$c/hastls"
    (unset HASTLS_SHIM LD_PRELOAD; "$c/hastls" run -- sh -c 'echo "looked for $LD_PRELOAD;"' 2>&1) |
        sed -n 's|.*looked for \(/.*\)/libhastls\.so;.*|\1|p' | head -n 1
}

# exercise LABEL ROOT PREFIX: the shim, hastls-run and hastls installed under
# ROOT (a DESTDIR staging tree, or / for a real install) for PREFIX, run from
# there: each finds the others through its lookup relative to itself.
exercise() {
    local label=$1 root=$2 prefix=$3 got want
    local lib=$root$prefix/lib bin=$root$prefix/bin
    for f in "$lib/libhastls.so" "$lib/hastls/libhastls-resolver.so" "$bin/hastls" \
        "$bin/hastls-run" "$bin/hastls-shell"; do
        [ -f "$f" ] && ok "$label: installed ${f#"$root"}" || bad "$label: installed ${f#"$root"}" "missing"
    done
    grep -q "^hastls_bindir='$prefix/bin'\$" "$bin/hastls-run" &&
        ok "$label: hastls-run knows BINDIR" ||
        bad "$label: hastls-run knows BINDIR" "$(grep -n bindir= "$bin/hastls-run")"
    got=$(unset HASTLS_SHIM LD_PRELOAD; "$bin/hastls" run -- sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$label: hastls run preloads the shim installed with it" "$lib/libhastls.so" "$got"
    got=$(unset HASTLS_SHIM LD_PRELOAD; "$bin/hastls-run" -- sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$label: hastls-run preloads the shim installed with it" "$lib/libhastls.so" "$got"
    if [ -z "${LAB_DIR:-}" ]; then
        echo "note: not in the lab; the $label shim is not exercised"
        return
    fi
    # The shim resolves (loading the resolver installed next to it) and
    # enforces: secure.lab.example has the record (0 443).
    got=$(unset HASTLS_SHIM LD_PRELOAD; "$bin/hastls-run" bash -c '
        exec 3<>/dev/tcp/secure.lab.example/443 && echo connected
        grep -o "/[^ ]*libhastls[^ ]*\.so" /proc/$$/maps | sort -u
        exec 4<>/dev/tcp/secure.lab.example/80 || echo refused' 2>"$t/err")
    want="connected
$lib/hastls/libhastls-resolver.so
$lib/libhastls.so
refused"
    expect_eq "$label: hastls-run: the shim resolves and enforces" "$want" "$got"
    grep -q '^hastls: blocked connect to secure.lab.example\[127.0.10.1\]:80: ' "$t/err" &&
        ok "$label: the block is logged" || bad "$label: the block is logged" "$(cat "$t/err")"
    got=$(unset HASTLS_SHIM LD_PRELOAD; "$bin/hastls" run -- curl -sS --cacert "$LAB_CA" \
        https://secure.lab.example/ 2>&1)
    expect_eq "$label: hastls run curl https" "OK secure.lab.example 443" "$got"
    got=$(unset HASTLS_SHIM; LD_PRELOAD="$lib/libhastls.so" getent hosts secure.lab.example)
    expect_eq "$label: LD_PRELOAD=libhastls.so getent" "127.0.10.1      secure.lab.example" "$got"
    got=$("$bin/hastls" check secure.lab.example 443 2>&1)
    st=$?
    [ "$st" = 0 ] && echo "$got" | grep -q '^HASTLS  secure    (0 443)$' &&
        ok "$label: hastls check" || bad "$label: hastls check" "status $st: $got"
}

mtimes() { stat -c %Y "$@" 2>/dev/null | tr '\n' ' '; }
b=$t/build
mkb() {
    make -s -j2 -C "$repo" BUILD="$b" "$@" >"$t/make.log" 2>&1 ||
        { cat "$t/make.log"; return 1; }
}
products=("$b/libhastls.so" "$b/libhastls-resolver.so" "$b/hastls")

# The distribution flow: build for /usr, then install that build staged.
d1=$t/stage-usr
mkb PREFIX=/usr all && ok "make PREFIX=/usr" || bad "make PREFIX=/usr" "failed"
expect_eq "PREFIX=/usr build: the shim's PKGLIBDIR" "/usr/lib/hastls" "$(compiled_pkglibdir "$b/libhastls.so")"
expect_eq "PREFIX=/usr build: the CLI's LIBDIR" "/usr/lib" "$(compiled_libdir "$b/hastls")"
before=$(mtimes "${products[@]}")
sleep 1 # a rebuild within the same second would keep the mtimes
mkb PREFIX=/usr DESTDIR="$d1" install && ok "make PREFIX=/usr DESTDIR=... install" ||
    bad "make PREFIX=/usr DESTDIR=... install" "failed"
expect_eq "install for the directories of the build rebuilds nothing" "$before" \
    "$(mtimes "${products[@]}")"
exercise "PREFIX=/usr staged" "$d1" /usr
grep -q '^Environment=LD_PRELOAD=/usr/lib/libhastls.so$' "$d1/usr/share/doc/hastls/hastls-systemd.conf" &&
    grep -q '^#ExecStart=/usr/bin/hastls-run ' "$d1/usr/share/doc/hastls/hastls-systemd.conf" &&
    ok "PREFIX=/usr: the systemd drop-in names the installed paths" ||
    bad "PREFIX=/usr: the systemd drop-in names the installed paths" \
        "$(grep -n 'hastls-run\|LD_PRELOAD' "$d1/usr/share/doc/hastls/hastls-systemd.conf")"

# The mixed flow: a plain `make` (for /usr/local), then install for /usr:
# make rebuilds what carries the directories before installing it.
mkb all && ok "make (the defaults)" || bad "make (the defaults)" "failed"
expect_eq "default build: the shim's PKGLIBDIR" "/usr/local/lib/hastls" \
    "$(compiled_pkglibdir "$b/libhastls.so")"
expect_eq "default build: the CLI's LIBDIR" "/usr/local/lib" "$(compiled_libdir "$b/hastls")"
d2=$t/stage-mixed
mkb PREFIX=/usr DESTDIR="$d2" install && ok "then make PREFIX=/usr DESTDIR=... install" ||
    bad "then make PREFIX=/usr DESTDIR=... install" "failed"
expect_eq "mixed flow: the installed shim's PKGLIBDIR" "/usr/lib/hastls" \
    "$(compiled_pkglibdir "$d2/usr/lib/libhastls.so")"
expect_eq "mixed flow: the installed CLI's LIBDIR" "/usr/lib" "$(compiled_libdir "$d2/usr/bin/hastls")"
exercise "mixed flow staged" "$d2" /usr

# The agent's user units, as make install wrote them for /usr: they name
# the installed hastls and are left disabled (no symbolic link anywhere).
expect_eq "PREFIX=/usr: hastls-agent.service runs the installed hastls" \
    "ExecStart=/usr/bin/hastls agent --foreground" \
    "$(grep '^ExecStart=' "$d2/usr/lib/systemd/user/hastls-agent.service")"
expect_eq "PREFIX=/usr: hastls-agent.socket listens on the fixed socket" \
    "ListenStream=%t/hastls/agent.sock" \
    "$(grep '^ListenStream=' "$d2/usr/lib/systemd/user/hastls-agent.socket")"
expect_eq "PREFIX=/usr: the units are not enabled" "" "$(find "$d2" -type l -name 'hastls-agent*')"
grep -q '^\[Install\]' "$d2/usr/lib/systemd/user/hastls-agent.service" &&
    bad "hastls-agent.service has no [Install] section" "it has one" ||
    ok "hastls-agent.service has no [Install] section"

# A real install (no DESTDIR) for another PREFIX, after the /usr build: the
# copy of the shim outside it finds the resolver in the compiled-in PKGLIBDIR.
p=$t/prefix
mkb PREFIX="$p" SYSCONFDIR="$p/etc" install && ok "make PREFIX=$p install" ||
    bad "make PREFIX=$p install" "failed"
for f in share/man/man5/hastls.conf.5 share/man/man1/hastls-shell.1 etc/hastls/hastls.conf.example; do
    [ -f "$p/$f" ] && ok "PREFIX install: $f" || bad "PREFIX install: $f" "missing"
done
exercise "PREFIX install" "" "$p"
# systemd-analyze verify checks the units (keys, the ExecStart binary, the
# Documentation= man page) without a running systemd; its user mode wants
# only a runtime directory.
if command -v systemd-analyze >/dev/null; then
    mkdir -m 0700 "$t/xdg"
    XDG_RUNTIME_DIR=$t/xdg MANPATH=$p/share/man systemd-analyze --user verify \
        "$p/lib/systemd/user/hastls-agent.socket" "$p/lib/systemd/user/hastls-agent.service" \
        >"$t/verify" 2>&1
    st=$?
    [ "$st" = 0 ] && [ ! -s "$t/verify" ] && ok "systemd-analyze --user verify: the units" ||
        bad "systemd-analyze --user verify: the units" "status $st: $(head -n 5 "$t/verify")"
else
    echo "skip: systemd-analyze is not installed; the units are not verified"
fi
if [ -n "${LAB_DIR:-}" ]; then
    c=$t/copy-shim
    rm -rf "$c" && mkdir -p "$c" && cp "$p/lib/libhastls.so" "$c/"
    # agent = off: the lab's agent would answer, and no resolver would load.
    cp "$HASTLS_CONF" "$c/noagent.conf" && sed -i '/^\[resolver\]/a agent = off' "$c/noagent.conf"
    got=$(unset HASTLS_SHIM; HASTLS_CONF=$c/noagent.conf LD_PRELOAD="$c/libhastls.so" bash -c '
        exec 3<>/dev/tcp/secure.lab.example/443 && echo connected
        grep -o "/[^ ]*libhastls-resolver.so" /proc/$$/maps | sort -u' 2>&1)
    expect_eq "PREFIX install: a copied shim loads the resolver from PKGLIBDIR" \
        "connected
$p/lib/hastls/libhastls-resolver.so" "$got"
fi
mkb PREFIX="$p" SYSCONFDIR="$p/etc" uninstall || bad "make PREFIX=$p uninstall" "failed"
left_files=$(find "$p" -type f)
expect_eq "PREFIX uninstall leaves no file" "" "$left_files"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
