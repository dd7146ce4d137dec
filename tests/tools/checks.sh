# tests/tools/checks.sh: check helpers for the integration scripts (sourced).
#   ok NAME                    a passed check
#   bad NAME DETAIL...         a failed one; counted in $failures
#   expect_eq NAME EXPECTED ACTUAL
failures=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1: ${*:2}"
    failures=$((failures + 1))
}
expect_eq() {
    if [ "$2" == "$3" ]; then
        ok "$1"
    else
        bad "$1" "expected [$2], got [$3]"
    fi
}
