# tests/tools/shim_lib.sh: helpers shared by tests/integration/shim_*.sh
# (sourced inside the lab).  Sets S (the shim), PROBE, and counts failures in
# $fails; finish() prints the summary and exits with the test's status.
S=$HASTLS_BUILD/libhastls.so
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
# with [policy]/[resolver] keys replaced or added; prints its path.
conf() {
    local f=$LAB_DIR/$1.conf
    shift
    cp "$HASTLS_CONF" "$f"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        local k=${1%%=*} v=${1#*=}
        if grep -q "^$k *=" "$f"; then
            sed -i "s|^$k *=.*|$k = $v|" "$f"
        else
            sed -i "/^\[policy\]/a $k = $v" "$f"
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
