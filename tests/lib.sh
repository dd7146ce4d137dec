# Shared helpers for the test runners (sourced, not executed).
# record NAME STATUS: appends "PASS NAME" or "FAIL NAME" to $RESULTS.
record() {
    local name=$1 status=$2 tag=${TEST_TAG:+[$TEST_TAG] }
    if [ "$status" -eq 0 ]; then
        echo "PASS ${tag}$name" | tee -a "${RESULTS:-/dev/null}"
    elif [ "$status" -eq 77 ]; then
        echo "SKIP ${tag}$name" | tee -a "${RESULTS:-/dev/null}"
    else
        echo "FAIL ${tag}$name (status $status)" | tee -a "${RESULTS:-/dev/null}"
    fi
}
