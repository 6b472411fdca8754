# The check of the end-to-end scripts (sourced): `check NAME CMD...` runs CMD, counts it in
# PASS or FAIL, prints `ok - NAME` or `not ok - NAME`, and on failure the command and its
# output (kept in $TMP/check.out) as `#` lines.
check() {
    local name=$1
    shift
    if "$@" >"$TMP/check.out" 2>&1; then
        PASS=$((PASS + 1))
        echo "ok - $name"
    else
        local rc=$?
        FAIL=$((FAIL + 1))
        echo "not ok - $name"
        echo "#   command: $* (exit $rc)"
        head -c 6000 "$TMP/check.out" | sed 's/^/#   /'
        echo
    fi
}
