#!/usr/bin/env bash
# package.sh BUILD: the Debian package from end to end, on this machine.
#
#   package/build    `make deb`: dpkg-buildpackage from a clean export of
#                    HEAD, and lintian with no error or unexplained warning
#   package/install  `apt-get install ./libhastls_*.deb` (dependencies
#                    resolved by apt); the files are where they belong, the
#                    conffile is all comments and loads as the defaults
#   package/lab      in the lab, the installed /usr/bin/hastls-run curl,
#                    hastls run, hastls-shell, LD_PRELOAD=libhastls.so by
#                    name, and hastls check, each from the installed paths
#   package/purge    `apt-get purge` leaves nothing of the package behind
#
# Each line goes to $RESULTS (tests/lib.sh).  Installing into the real /usr
# needs root (CI and `make check` run as root); the package is purged on every
# exit path.  Nothing else is touched: the other tests use the build tree's
# paths, which are not the package's (/usr/lib/<multiarch>, /usr/bin).  Only
# one run at a time per machine installs (a lock), and a package left behind
# by a run that was killed is purged by the next; a libhastls installed by
# anyone else is never replaced (that fails, saying so).  Without
# dpkg-buildpackage the whole test is one SKIP line.  About 20 s.
#
# `scripts/lab run bash tests/package.sh --in-lab` is the lab part; it is run
# from here.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/tests/lib.sh"

pkg=libhastls
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=/usr/lib/$triplet
bindir=/usr/bin

# --- the lab part ------------------------------------------------------------------
if [ "${1:-}" = --in-lab ]; then
    . "$repo/tests/tools/checks.sh"
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    # The installed programs, never the build tree's; the lab's configuration
    # (HASTLS_CONF), since the installed defaults name public upstreams.
    unset HASTLS_SHIM LD_PRELOAD HASTLS_MODE HASTLS_APP
    got=$("$bindir/hastls-run" curl -sS --cacert "$LAB_CA" https://secure.lab.example/ 2>&1)
    expect_eq "hastls-run curl https://secure (record 0 443)" "OK secure.lab.example 443" "$got"
    "$bindir/hastls-run" curl -sS http://secure.lab.example/ >"$t/out" 2>"$t/err"
    st=$?
    if [ "$st" = 7 ] && ! grep -q IMPOSTOR "$t/out" &&
        grep -q '^hastls: blocked connect to secure.lab.example\[127.0.10.1\]:80: ' "$t/err"; then
        ok "hastls-run curl http://secure is blocked and logged"
    else
        bad "hastls-run curl http://secure is blocked and logged" "status $st: $(cat "$t/out" "$t/err")"
    fi
    got=$("$bindir/hastls-run" bash -c '
        exec 3<>/dev/tcp/secure.lab.example/443 && echo connected
        grep -o "/[^ ]*libhastls[^ ]*\.so" /proc/$$/maps | sort -u' 2>&1)
    expect_eq "hastls-run loads the installed shim and resolver" "connected
$libdir/hastls/libhastls-resolver.so
$libdir/libhastls.so" "$got"
    got=$("$bindir/hastls" run -- curl -sS --cacert "$LAB_CA" https://both.lab.example/ 2>&1)
    expect_eq "hastls run curl https://both" "OK both.lab.example 443" "$got"
    got=$(bash -c '. "$1" on >/dev/null && echo "$LD_PRELOAD"' sh "$bindir/hastls-shell")
    expect_eq "hastls-shell on preloads the installed shim" "$libdir/libhastls.so" "$got"
    # By name: the loader finds it in the multiarch directory.
    got=$(LD_PRELOAD=libhastls.so getent hosts secure.lab.example 2>&1)
    expect_eq "LD_PRELOAD=libhastls.so getent hosts" "127.0.10.1      secure.lab.example" "$got"
    got=$("$bindir/hastls" check secure.lab.example 80 443 2>&1)
    st=$?
    if [ "$st" = 1 ] && echo "$got" | grep -q '^HASTLS  secure    (0 443)$' &&
        echo "$got" | grep -q '^result: client cfb would block port 80$'; then
        ok "hastls check secure.lab.example 80 443"
    else
        bad "hastls check secure.lab.example 80 443" "status $st: $got"
    fi
    "$bindir/hastls" check secure.lab.example 443 >"$t/out" 2>&1
    st=$?
    [ "$st" = 0 ] && ok "hastls check secure.lab.example 443 allows" ||
        bad "hastls check secure.lab.example 443 allows" "status $st: $(cat "$t/out")"
    echo "$failures failure(s)"
    [ "$failures" -eq 0 ]
    exit
fi

# --- building, installing, purging --------------------------------------------------
build=$(cd "${1:?usage: package.sh BUILD}" && pwd)
log=$build/package.log
: >"$log"
failed=0
# A `make check` above exports its command-line variables in MAKEFLAGS; make
# deb runs with its own.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

# result NAME STATUS: records one line; on failure shows the end of the log.
result() {
    [ "$2" -eq 0 ] || [ "$2" -eq 77 ] || { tail -n 40 "$log"; failed=1; }
    record "package/$1" "$2"
}
finish() { [ "${KEEP_GOING:-0}" = 1 ] || exit $failed; exit 0; }
# step NAME CMD...: runs CMD with its output in the log.
step() {
    echo "== $*" >>"$log"
    "$@" >>"$log" 2>&1
}

if ! command -v dpkg-buildpackage >/dev/null 2>&1; then
    echo "package: skipped: dpkg-buildpackage is not installed (scripts/install-deps installs dpkg-dev)" |
        tee -a "$log"
    record package 77
    finish
fi

t=$(mktemp -d)
marker=/var/lib/hastls-package-test.installed
cleanup() {
    if [ -e "$marker" ]; then
        echo "== cleanup: purging $pkg" >>"$log"
        apt-get purge -y -qq -o DPkg::Lock::Timeout=300 "$pkg" >>"$log" 2>&1 &&
            rm -f "$marker"
    fi
    rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- package/build
start=$SECONDS
if step make -C "$repo" BUILD="$build" DEB_DIR="$t/debs" DEB_JOBS=1 deb; then
    st=0
    debs=("$t/debs/${pkg}"_*.deb)
    [ -f "${debs[0]}" ] || { echo "no ${pkg}_*.deb in $t/debs" >>"$log"; st=1; }
else
    st=1
fi
echo "package/build: $((SECONDS - start)) s" >>"$log"
result build $st
[ $st = 0 ] || finish

# -- package/install
if [ "$(id -u)" -ne 0 ]; then
    echo "package: installing the package into /usr needs root; run make check as root" | tee -a "$log"
    result install 1
    finish
fi
exec 9>/run/lock/hastls-package-test.lock
if ! flock -w 900 9; then
    echo "package: another package test held the lock for 15 minutes" >>"$log"
    result install 1
    finish
fi
status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)
if [ -n "$status" ] && [ "$status" != not-installed ]; then
    if [ -e "$marker" ]; then
        echo "package: purging the $pkg a killed run left installed" >>"$log"
        step apt-get purge -y -qq -o DPkg::Lock::Timeout=300 "$pkg" && rm -f "$marker"
    else
        echo "package: $pkg is installed on this machine ($status) and not by this test," \
            "which would replace and purge it: remove it first (apt-get purge $pkg)" | tee -a "$log"
        result install 1
        finish
    fi
fi
# apt reads the file as its _apt user.
chmod 0755 "$t" "$t/debs"
touch "$marker"
fails=0
check() {
    if "$@" >>"$log" 2>&1; then
        echo "ok   $*" >>"$log"
    else
        echo "FAIL $*" >>"$log"
        fails=$((fails + 1))
    fi
}
start=$SECONDS
check env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${debs[0]}"
check test "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" 2>&1)" = \
    "installed $(sed -n 's/^VERSION *:*= *//p' "$repo/Makefile")"
for f in "$libdir/libhastls.so" "$libdir/hastls/libhastls-resolver.so" "$bindir/hastls" \
    "$bindir/hastls-run" "$bindir/hastls-shell" /etc/hastls/hastls.conf \
    /usr/share/doc/$pkg/copyright /usr/share/doc/$pkg/README.md.gz \
    /usr/share/doc/$pkg/hastls.conf.example /usr/share/doc/$pkg/hastls-systemd.conf; do
    check test -f "$f"
done
for u in hastls-agent.socket hastls-agent.service; do
    check test -f /usr/lib/systemd/user/$u
    # Installed, not enabled: no user gets the socket without asking.
    check test ! -e /etc/systemd/user/sockets.target.wants/$u
done
check grep -qx "ExecStart=$bindir/hastls agent --foreground" /usr/lib/systemd/user/hastls-agent.service
if command -v systemd-analyze >/dev/null; then
    mkdir -m 0700 "$t/xdg"
    check env XDG_RUNTIME_DIR="$t/xdg" systemd-analyze --user verify \
        /usr/lib/systemd/user/hastls-agent.socket /usr/lib/systemd/user/hastls-agent.service
    check test -z "$(XDG_RUNTIME_DIR=$t/xdg systemd-analyze --user verify \
        /usr/lib/systemd/user/hastls-agent.socket /usr/lib/systemd/user/hastls-agent.service 2>&1)"
fi
for p in hastls hastls-agent hastls-run hastls-shell hastls.conf libhastls; do
    check man -w "$p"
done
check grep -qx /etc/hastls/hastls.conf /var/lib/dpkg/info/$pkg.conffiles
# Every setting in the conffile is commented out: its lines are blank,
# comments or the two section headers; the CLI loads it (HASTLS_CONF unset)
# and it gives exactly the built-in defaults.
check test -z "$(grep -v '^$\|^[#;]\|^\[resolver\]$\|^\[policy\]$' /etc/hastls/hastls.conf)"
hc() { env -u HASTLS_CONF -u HASTLS_LOG -u HASTLS_APP -u HASTLS_MODE "$bindir/hastls" config "$@"; }
check test "$(hc check 2>"$t/err")" = ok
check grep -q /etc/hastls/hastls.conf "$t/err"
: >"$t/empty.conf"
hc show >"$t/installed" 2>>"$log"
hc show "$t/empty.conf" >"$t/defaults" 2>>"$log"
check test -s "$t/defaults"
check diff -u "$t/defaults" "$t/installed"
check grep -q "^Environment=LD_PRELOAD=$libdir/libhastls.so\$" /usr/share/doc/$pkg/hastls-systemd.conf
echo "package/install: $((SECONDS - start)) s" >>"$log"
result install $fails

# -- package/lab
start=$SECONDS
echo "== lab" >>"$log"
(cd "$repo" && timeout --kill-after=15 300 scripts/lab run bash tests/package.sh --in-lab) >>"$log" 2>&1
st=$?
echo "package/lab: $((SECONDS - start)) s" >>"$log"
result lab $st

# -- package/purge
fails=0
dpkg-query -L "$pkg" >"$t/files" 2>>"$log"
check env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 "$pkg"
rm -f "$marker"
check test -z "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -vx not-installed)"
# Every path the package had is gone, but for directories other packages
# also own (/usr/bin, /usr/share/man/man1, ...).
left=()
while IFS= read -r f; do
    [ "$f" = /. ] && continue
    [ -e "$f" ] || [ -L "$f" ] || continue
    [ -d "$f" ] && [ ! -L "$f" ] && dpkg-query -S "$f" >/dev/null 2>&1 && continue
    left+=("$f")
done <"$t/files"
check test -s "$t/files"
check test -z "${left[*]}"
[ ${#left[@]} -eq 0 ] || echo "left behind: ${left[*]}" >>"$log"
check test ! -e /etc/hastls
check test ! -e "$libdir/hastls"
result purge $fails

finish
