# tests/tools/shim_lib.sh: helpers shared by tests/integration/shim_*.sh
# (sourced inside the lab).  Sets S (the shim), PROBE, and counts failures in
# $fails; finish() prints the summary and exits with the test's status.
# SO is the shim itself; S is what the tests put in LD_PRELOAD: the shim, or
# HASTLS_PRELOAD when set (`make integration-asan`: the ASan runtime, then an
# instrumented shim).  PRE is what comes before the shim in S.
SO=$HASTLS_BUILD/libhastls.so
S=${HASTLS_PRELOAD:-$SO}
PRE=${S%"$SO"}
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$TOOLS/shim_probe.py
PKTCOUNT=$LAB_TOOLS/pktcount
fails=0

ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

# conf NAME KEY=VALUE... [-- EXTRA-LINES]: a copy of the lab's configuration
# with keys replaced, or added to their section ([resolver] for the
# resolver's keys, else [policy]); prints its path.
conf() {
    local f=$LAB_DIR/$1.conf
    shift
    cp "$HASTLS_CONF" "$f"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        local k=${1%%=*} v=${1#*=}
        if grep -q "^$k *=" "$f"; then
            sed -i "s|^$k *=.*|$k = $v|" "$f"
        else
            local sect=policy
            case $k in
            upstream | privacy | ca_bundle | pin | alpn | trust_anchor | timeout_ms | agent | agent_idle | dns_redirect)
                sect=resolver ;;
            esac
            sed -i "/^\[$sect\]/a $k = $v" "$f"
        fi
        shift
    done
    if [ "${1:-}" = -- ]; then
        shift
        printf '%s\n' "$@" >>"$f"
    fi
    echo "$f"
}

# expect_line DESCRIPTION FILE REGEX: some line of FILE matches.
expect_line() {
    if grep -Eq -- "$3" "$2"; then ok "$1"; else
        bad "$1 (no line of $2 matches: $3)"
        sed 's/^/    | /' "$2"
    fi
}
# expect_no_line DESCRIPTION FILE REGEX
expect_no_line() {
    if grep -Eq -- "$3" "$2"; then
        bad "$1 (a line of $2 matches: $3)"
        sed 's/^/    | /' "$2"
    else ok "$1"; fi
}
# expect_count DESCRIPTION FILE REGEX N: exactly N lines match.
expect_count() {
    local n
    n=$(grep -Ec -- "$3" "$2")
    if [ "$n" -eq "$4" ]; then ok "$1"; else
        bad "$1 ($n lines match $3, wanted $4)"
        sed 's/^/    | /' "$2"
    fi
}
# expect_status DESCRIPTION GOT WANT
expect_status() {
    if [ "$2" -eq "$3" ]; then ok "$1"; else bad "$1 (status $2, wanted $3)"; fi
}

finish() {
    if [ "$fails" -eq 0 ]; then
        echo "all passed"
        exit 0
    fi
    echo "$fails failed"
    exit 1
}

# Under the sanitizers every instrumented process writes its reports to
# $LAB_DIR/sanitizer.PID instead of stderr (children of the programs too,
# where nobody reads stderr).  Any such file fails the test, whatever path the
# script leaves by.
if [ -n "${HASTLS_PRELOAD:-}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"
    sanitizer_check() {
        local st=$? f found=0
        for f in "$LAB_DIR"/sanitizer.*; do
            [ -e "$f" ] || continue
            found=1
            echo "FAIL sanitizer report $f:"
            sed 's/^/    | /' "$f"
        done
        [ "$found" -eq 0 ] || exit 1
        exit $st
    }
    trap sanitizer_check EXIT
    # curl and wget hang in their second setlocale() call whenever the ASan
    # runtime is preloaded into them, shim or not (Debian 12: gcc 12 libasan,
    # glibc 2.36).  They run with the instrumented shim but without the runtime
    # in front (it is then loaded as the shim's dependency, after libc): stack,
    # global and UB checks of the shim stay on for them, heap checks do not
    # (libc's malloc wins).  Every other program gets the full runtime.
    asan_rt=${PRE%% *}
    mkdir -p "$LAB_DIR/asan-bin"
    for prog in curl wget; do
        real=$(command -v "$prog") || continue
        printf '#!/bin/sh\nLD_PRELOAD=$(printf %%s "$LD_PRELOAD" | sed "s|%s *||g") exec %s "$@"\n' \
            "$asan_rt" "$real" >"$LAB_DIR/asan-bin/$prog"
        chmod +x "$LAB_DIR/asan-bin/$prog"
    done
    PATH=$LAB_DIR/asan-bin:$PATH
fi
