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

# no_listed_pack_holds URL ID: no pack that URL's objects/info/packs lists holds object ID
# (each listed pack's idx read by git show-index).
no_listed_pack_holds() {
    local packs pack
    packs=$(curl -sf -m 30 "$1/objects/info/packs") || return 1
    for pack in $(printf '%s\n' "$packs" | sed -n 's/^P //p'); do
        curl -sf -m 60 "$1/objects/pack/${pack%.pack}.idx" >"$TMP/listed.idx" || return 1
        if git show-index --object-format=sha1 <"$TMP/listed.idx" | grep -q "$2"; then
            echo "$pack holds $2"
            return 1
        fi
    done
}

# refused_by_id DIR URL ID: git, fetching ID by id from URL into DIR, is refused as git's own
# server refuses an object no ref reaches ("not our ref").
refused_by_id() {
    if git -C "$1" fetch -q "$2" "$3" >"$TMP/refused.out" 2>&1; then
        echo "fetched"
        return 1
    fi
    grep -q "not our ref $3" "$TMP/refused.out" || { cat "$TMP/refused.out"; return 1; }
}
