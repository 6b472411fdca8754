# The start of the end-to-end scripts that run their own Worker beside git's own server
# (trust.sh, sessions.sh), sourced with HERE and ROOT set: `beside NAME VAR:VALUE...` makes
# $TMP, starts `wrangler dev` there with a new admin token ($TOKEN, exported to git's credential
# helper as E2E_BESIDE_TOKEN) and the given variables at $BASE, and git http-backend at $REF
# (tests/support/reference-server.sh, $SERVER), and stops both when the script exits (keeping
# $TMP if a check failed). Git's global configuration is $TMP/gitconfig, which the script
# writes; `credential_helper` prints its line for it. Counts with check.sh's PASS and FAIL.
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"
SERVER=$ROOT/tests/support/reference-server.sh
PASS=0
FAIL=0
pids=()

beside_cleanup() {
    for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null
    "$SERVER" stop "$TMP/ref" >/dev/null 2>&1 || true
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}

credential_helper() {
    # shellcheck disable=SC2016 # expanded by the helper's shell, when git runs it
    printf '\thelper = "!f() { echo username=x; echo \\"password=$E2E_BESIDE_TOKEN\\"; }; f"\n'
}

beside() { # NAME VAR:VALUE...
    local name=$1 var
    shift
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    trap beside_cleanup EXIT
    TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export E2E_BESIDE_TOKEN=$TOKEN
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$TMP/gitconfig" GIT_TERMINAL_PROMPT=0
    export WRANGLER_SEND_METRICS=false
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
    local vars=(--var "ADMIN_TOKEN:$TOKEN")
    for var in "$@"; do vars+=(--var "$var"); done
    mapfile -t ports < <("$SERVER" free-port 3)
    cd "$ROOT" || return 1
    setsid bash scripts/wrangler.sh dev --ip 127.0.0.1 --port "${ports[2]}" \
        --persist-to "$TMP/state" --show-interactive-dev-session=false "${vars[@]}" \
        >"$TMP/wrangler.log" 2>&1 &
    pids+=($!)
    mkdir -p "$TMP/ref"
    "$SERVER" start "$TMP/ref" "${ports[0]}" "${ports[1]}" >/dev/null
    BASE=http://127.0.0.1:${ports[2]}
    REF=http://127.0.0.1:${ports[0]}
    for _ in $(seq 1 120); do
        curl -sf "$BASE/" >/dev/null 2>&1 && return 0
        sleep 1
    done
    tail -n 40 "$TMP/wrangler.log"
    echo "not ok - wrangler dev starts"
    FAIL=1
    exit 1
}
