#!/usr/bin/env bash
# The two ways a server runs without an admin token, each under its own wrangler dev:
#   closed: no ADMIN_TOKEN and no ANONYMOUS_PUSH (a fresh `wrangler deploy`): every push is
#           refused with a 403 that says how to set the token; reads work.
#   open:   `bash scripts/dev.sh` with no ADMIN_TOKEN in the environment: it says so at
#           start-up, runs with ANONYMOUS_PUSH, and git and isomorphic-git push without
#           credentials, as on the original, credential-free server; git-lfs too, under the
#           LFS_SECRET dev.sh makes.
#   and in both, a Git LFS upload is refused or allowed as a push is.
# Output: `ok - name` / `not ok - name` lines, then `modes: N passed, M failed`; exit 1 if M > 0.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/modes.XXXXXX")
PASS=0
FAIL=0
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
export WRANGLER_SEND_METRICS=false
unset ADMIN_TOKEN ISOGIT_TOKEN http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { # URL LOG
    for _ in $(seq 1 120); do
        curl -sf "$1/" >/dev/null 2>&1 && return 0
        sleep 1
    done
    cat "$2"
    return 1
}
contains() { grep -q -F -- "$2" "$1" || { echo "expected: $2"; cat "$1"; return 1; }; }

closed_port=$(free_port)
open_port=$(free_port)
cd "$ROOT"
setsid bash scripts/wrangler.sh dev --ip 127.0.0.1 --port "$closed_port" \
    --persist-to "$TMP/closed" --show-interactive-dev-session=false >"$TMP/closed.log" 2>&1 &
pids+=($!)
PORT=$open_port setsid bash scripts/dev.sh --persist-to "$TMP/open" >"$TMP/open.log" 2>&1 &
pids+=($!)
CLOSED=http://127.0.0.1:$closed_port
OPEN=http://127.0.0.1:$open_port
wait_up "$CLOSED" "$TMP/closed.log" && wait_up "$OPEN" "$TMP/open.log" || {
    echo "not ok - servers start"
    exit 1
}

git init -q -b main "$TMP/src"
echo hello >"$TMP/src/a.txt"
git -C "$TMP/src" add a.txt
git -C "$TMP/src" -c user.name=M -c user.email=m@example.test commit -q -m one

refused_push() {
    ! timeout 120 git -C "$TMP/src" push "$CLOSED/m/closed.git" main >"$TMP/push.out" 2>&1 || return 1
    cat "$TMP/push.out"
    contains "$TMP/push.out" "remote: pushing is disabled: this server has no admin token. Set one with \`npx wrangler secret put ADMIN_TOKEN\`, or let anyone push with ANONYMOUS_PUSH = \"true\" under [vars] in wrangler.toml" &&
        contains "$TMP/push.out" "The requested URL returned error: 403" &&
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$CLOSED/m/closed.git/info/refs")" = 404 ]
}
check "closed: git push is refused with a 403 that says how to set ADMIN_TOKEN, and creates nothing" refused_push
root_says() { curl -sf "$1/" >"$TMP/root" && contains "$TMP/root" "$2"; }
check "closed: / says pushing is disabled" root_says "$CLOSED" "Pushing is disabled until an admin token is set"

check "open: dev.sh says at start-up that anyone can push" \
    contains "$TMP/open.log" "dev.sh: no ADMIN_TOKEN in the environment: open pushes, anyone can push (ANONYMOUS_PUSH)"
check "open: / says anyone can push" root_says "$OPEN" "Anyone can push"
open_push() {
    timeout 120 git -C "$TMP/src" push "$OPEN/m/open.git" main &&
        timeout 120 git clone -q "$OPEN/m/open.git" "$TMP/clone" &&
        [ "$(git -C "$TMP/clone" rev-parse HEAD)" = "$(git -C "$TMP/src" rev-parse HEAD)" ]
}
check "open: git push without credentials creates the repository, and it clones" open_push
iso_push() {
    local dir=$TMP/iso
    node "$HERE/isogit.mjs" init "$dir" &&
        echo iso >"$dir/i.txt" &&
        node "$HERE/isogit.mjs" commit "$dir" "iso" 1700000000 >/dev/null &&
        timeout 120 node "$HERE/isogit.mjs" push "$dir" "$OPEN/m/iso.git"
}
check "open: isomorphic-git pushes without onAuth" iso_push

# git-lfs reads its filters from the global config: a file of our own.
lfs_git() { GIT_CONFIG_GLOBAL=$TMP/lfs.gitconfig timeout 120 git "$@"; }
lfs_git lfs install >/dev/null
lfs_push() {
    local src=$TMP/lfs
    git init -q -b main "$src" && lfs_git -C "$src" lfs track '*.bin' >/dev/null || return 1
    head -c 100000 /dev/urandom >"$src/a.bin"
    lfs_git -C "$src" add -A && lfs_git -C "$src" -c user.name=M -c user.email=m@example.test commit -qm lfs &&
        lfs_git -C "$src" push -q "$OPEN/m/lfs.git" main 2>&1 &&
        lfs_git clone -q "$OPEN/m/lfs.git" "$TMP/lfs-clone" 2>&1 &&
        cmp "$src/a.bin" "$TMP/lfs-clone/a.bin"
}
check "open: git-lfs uploads without credentials, and a clone smudges the file" lfs_push
lfs_refused() {
    local oid=1111111111111111111111111111111111111111111111111111111111111111
    curl -sS -m 30 -H 'Content-Type: application/vnd.git-lfs+json' -o "$TMP/batch.out" \
        -w '%{http_code}' "$CLOSED/m/closed.git/info/lfs/objects/batch" \
        -d "{\"operation\": \"upload\", \"objects\": [{\"oid\": \"$oid\", \"size\": 1}]}" >"$TMP/batch.code"
    [ "$(cat "$TMP/batch.code")" = 403 ] && contains "$TMP/batch.out" "pushing is disabled: this server has no admin token"
}
check "closed: a Git LFS upload is refused as a push is" lfs_refused

echo "modes: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
