#!/usr/bin/env bash
# Repositories as a service, end to end: import from git http-backend (behind lighttpd, on
# loopback), mirrors, forks and webhooks, against the real Worker under wrangler dev, checked with the real git.
#
# Usage: E2E_ADMIN_TOKEN=TOKEN tests/e2e/service.sh BASE_URL
#   BASE_URL      the Worker, started with ADMIN_TOKEN=TOKEN, MIRROR_MIN_INTERVAL_SECONDS=1 and
#                 WEBHOOK_RETRY_SECONDS=1 (scripts/test.sh starts it so)
#   E2E_GOGIT     a bare repository (go-git's) imported and forked for timings (printed as
#                 `#` lines beside `git clone --mirror` from git http-backend); default
#                 /work/.mirror/go-git+go-git/repo when it exists; "" skips it
#
# The source history: branches main, trunk (HEAD) and feature/x, a lightweight and an
# annotated tag, a merge; served by git http-backend directly and through
# tests/support/git-proxy.py, which can answer in v0 only, ask for a password, cut the pack
# halfway, or answer garbage.
#
# Checks:
#   import-v2       POST api/import {url} answers 202 and "running"; GET api's import ends
#                   "done" with the refs created; ls-remote (HEAD included) equals the
#                   source's; a mirror clone passes git fsck
#   import-v0       the same from a server that answers only in protocol v0
#   import-auth     without the token: failed, "Authentication failed for '<url>/'", nothing
#                   kept; with it, done
#   import-missing  failed: "repository '<url>/' not found"
#   import-cut      the source goes away halfway through the pack: failed, and the
#                   repository holds no refs, no packs and no objects; importing again from a
#                   working source then succeeds
#   import-garbage  an answer that is not the protocol: failed with "protocol error"; one
#                   that goes on after its pack: failed, "data after the end of the pack"
#   import-deleted  DELETE api while an import waits for its pack (from a source 3 s slow):
#                   the repository stays deleted (404), the import applying nothing
#   import-refused  409 into a repository with refs; 400 for a URL that is not http(s) or
#                   carries credentials; 401 without a credential
#   import-empty    an empty source: done, no refs, HEAD the source's branch
#   fork            POST api/fork answers 201; the fork's refs equal the source's; its clone
#                   equals the source's; a push to the fork leaves the source unchanged
#   fork-default    "refs": "default" takes only HEAD's branch
#   fork-private    a private source makes a private fork
#   fork-refused    401 without a credential, 409 into a repository with refs, 400 for the
#                   name api, 404 for a missing source (and nothing left behind)
#   mirror-follows  an import with "mirror": {"interval": 2} follows its source on its own
#                   (the server runs with MIRROR_MIN_INTERVAL_SECONDS=1): new commits, a
#                   forced move backwards, a new branch and tag, a deleted branch
#   mirror-push     git push to a mirror is refused, git showing "remote: this repository is
#                   a mirror of <url>..."
#   mirror-sync     POST api/mirror/sync fetches now (a mirror on an hour's interval); 409 on
#                   a repository that is not a mirror
#   mirror-gone     the source gone: the sync fails saying so and the refs stay; back: done
#   mirror-stop     DELETE api/mirror: the repository keeps its refs and takes pushes
#   directory       GET /api/repos?prefix=svc-<run>/ lists this run's repositories by name
#                   (visibility, bytes, last push), page by page with limit and cursor to
#                   the same list; a deleted one is gone; 401 without a credential, 403
#                   with a repository's token
#   hooks           POST api/hooks answers 201 (no secret shown); a receiver started here
#                   (tests/support/hook-receiver.py) gets the ping and one push event per ref
#                   each git push moved (ref and new value as pushed, forced and deleted
#                   flags), every one signed right, its repository's clone_url one git lists
#   hooks-down      the receiver down while two pushes land, then back: their events arrive
#                   (the server retries every WEBHOOK_RETRY_SECONDS=1 s, doubling), every
#                   delivery GET api/hooks/<id>/deliveries lists is delivered, received under
#                   its id, and the failed attempts are listed
#   hooks-import    an import's end is an "import" event, a maintenance run's (POST
#                   api/maintenance) a "maintenance" event
#   hooks-refused   400 for an unknown event or a bad URL, 401 without a credential
# Output: `ok - name` / `not ok - name`, `#` diagnostics, then `service: N passed, M failed`.
set -euo pipefail

BASE=${1:?usage: service.sh BASE_URL}
BASE=${BASE%/}
TOKEN=${E2E_ADMIN_TOKEN:?service.sh needs E2E_ADMIN_TOKEN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GOGIT=${E2E_GOGIT-/work/.mirror/go-git+go-git/repo}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/service.XXXXXX")
PASS=0
FAIL=0
REFSERVER="$ROOT/tests/support/reference-server.sh"
PROXY_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
    [ -n "${RECEIVER_PID:-}" ] && kill "$RECEIVER_PID" 2>/dev/null || true
    bash "$REFSERVER" stop "$TMP/ref" >/dev/null 2>&1 || true
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export GIT_AUTHOR_NAME="Ada Example" GIT_AUTHOR_EMAIL="ada@example.test"
export GIT_COMMITTER_NAME="Con Mitter" GIT_COMMITTER_EMAIL="con@example.test"
RUN=$(date +%s)-$$

read -r REF_PORT STATIC_PORT PROXY_PORT < <(bash "$REFSERVER" free-port 3 | tr '\n' ' '; echo)
bash "$REFSERVER" start "$TMP/ref" "$REF_PORT" "$STATIC_PORT" >/dev/null
REF=http://127.0.0.1:$REF_PORT
python3 "$ROOT/tests/support/git-proxy.py" "$PROXY_PORT" "$REF" >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 50); do grep -q ready "$TMP/proxy.log" 2>/dev/null && break; sleep 0.1; done
PROXY=http://127.0.0.1:$PROXY_PORT

# The source history, pushed to git http-backend.
SRC=$TMP/src
git init -q -b main "$SRC"
g() { git -C "$SRC" "$@"; }
for i in 1 2 3; do echo "line $i" >>"$SRC/file.txt"; g add file.txt; g commit -qm "main $i"; done
g tag v1
g checkout -qb feature/x
echo x >"$SRC/x.txt"; g add x.txt; g commit -qm "feature"
g checkout -q main
g merge -q --no-ff -m "merge feature" feature/x
g tag -a v2 -m "annotated v2"
g checkout -qb trunk
echo t >"$SRC/t.txt"; g add t.txt; g commit -qm "trunk"
SOURCE_DIR=$(bash "$REFSERVER" create "$TMP/ref" o/src)
g push -q --mirror "$REF/o/src.git"
git -C "$SOURCE_DIR" symbolic-ref HEAD refs/heads/trunk
bash "$REFSERVER" create "$TMP/ref" o/empty >/dev/null

api() { # METHOD REPO PATH [BODY] [CURL ARGS...]: the answer's body, then its status on a line
    local method=$1 repo=$2 path=$3 body=${4:-}
    shift 4 2>/dev/null || shift $#
    curl -sS -X "$method" -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" \
        ${body:+-d "$body"} -w '\n%{http_code}' "$@" "$BASE/$repo.git/$path"
}
field() { # JSON FIELD...: a field of the JSON on stdin, by path
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"
}
wait_import() { # REPO: waits until GET api's import is no longer running; prints GET api
    local answer state
    for _ in $(seq 1 240); do
        answer=$(curl -sS -H "Authorization: Bearer $TOKEN" "$BASE/$1.git/api")
        state=$(printf '%s' "$answer" | field import state)
        [ "$state" != running ] && break
        sleep 0.5
    done
    printf '%s\n' "$answer"
}
import_into() { # REPO BODY: POST api/import, expecting 202 and "running"; prints GET api after
    local answer
    answer=$(api POST "$1" api/import "$2")
    [ "$(printf '%s' "$answer" | tail -n 1)" = 202 ] || { echo "POST answered: $answer"; return 1; }
    printf '%s' "$answer" | head -n -1 | field import state | grep -qx running ||
        { echo "not running: $answer"; return 1; }
    wait_import "$1"
}
same_refs() { # URL_A URL_B [AUTH]: ls-remote (HEAD included) equal
    git ls-remote "$1" >"$TMP/a.refs" && git ls-remote "$2" >"$TMP/b.refs" &&
        diff "$TMP/a.refs" "$TMP/b.refs" && [ -s "$TMP/a.refs" ]
}
authed() { # URL: the URL with the admin token as its password
    printf '%s' "$1" | sed "s#://#://x:$TOKEN@#"
}

imported_equal() { # REPO SOURCE_URL
    local summary
    summary=$(import_into "$1" "{\"url\": \"$2\"}") || return 1
    echo "$summary"
    [ "$(printf '%s' "$summary" | field import state)" = done ] || return 1
    [ "$(printf '%s' "$summary" | field import updated)" = "$(git ls-remote --refs "$REF/o/src.git" | wc -l)" ] || return 1
    same_refs "$REF/o/src.git" "$BASE/$1.git" || return 1
    rm -rf "$TMP/mirror" && git clone -q --mirror "$BASE/$1.git" "$TMP/mirror" &&
        git -C "$TMP/mirror" fsck --strict
}
check import-v2 imported_equal "svc-$RUN/v2" "$REF/o/src.git"
check import-v0 imported_equal "svc-$RUN/v0" "$PROXY/v0/o/src.git"

failed_with() { # REPO URL TEXT: the import fails saying TEXT, and keeps nothing
    local summary
    summary=$(import_into "$1" "{\"url\": \"$2\"}") || return 1
    echo "$summary"
    [ "$(printf '%s' "$summary" | field import state)" = failed ] || return 1
    printf '%s' "$summary" | field import error | grep -qF "$3" || return 1
    for key in refs packs loose objects; do
        [ "$(printf '%s' "$summary" | field "$key")" = 0 ] || { echo "$key is not 0"; return 1; }
    done
}
import_auth() {
    failed_with "svc-$RUN/auth" "$PROXY/auth/o/src.git" \
        "Authentication failed for '$PROXY/auth/o/src.git/'" || return 1
    local summary
    summary=$(import_into "svc-$RUN/auth" "{\"url\": \"$PROXY/auth/o/src.git\", \"token\": \"s3cret\"}")
    [ "$(printf '%s' "$summary" | field import state)" = done ] &&
        same_refs "$REF/o/src.git" "$BASE/svc-$RUN/auth.git"
}
check import-auth import_auth
check import-missing failed_with "svc-$RUN/missing" "$PROXY/plain/o/nope.git" \
    "repository '$PROXY/plain/o/nope.git/' not found"
import_cut() {
    failed_with "svc-$RUN/cut" "$PROXY/cut/o/src.git" "failed" || return 1
    imported_equal "svc-$RUN/cut" "$REF/o/src.git"
}
check import-cut import_cut
import_garbage() {
    failed_with "svc-$RUN/garbage" "$PROXY/garbage/o/src.git" "protocol error" &&
        failed_with "svc-$RUN/garbage" "$PROXY/trailing/o/src.git" "data after the end of the pack"
}
check import-garbage import_garbage

import_deleted() {
    local answer
    answer=$(api POST "svc-$RUN/deleted" api/import "{\"url\": \"$PROXY/slow/o/src.git\"}")
    [ "$(printf '%s' "$answer" | tail -n 1)" = 202 ] || { echo "$answer"; return 1; }
    sleep 1.5
    api DELETE "svc-$RUN/deleted" api | tail -n 1 | grep -qx 204 || return 1
    sleep 4
    answer=$(api GET "svc-$RUN/deleted" api)
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 404 ] && ! git ls-remote "$BASE/svc-$RUN/deleted.git"
}
check import-deleted import_deleted
import_refused() {
    local answer
    answer=$(api POST "svc-$RUN/v2" api/import "{\"url\": \"$REF/o/src.git\"}")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 409 ] || return 1
    printf '%s' "$answer" | grep -qF "an import goes into a new or empty repository" || return 1
    for body in '{"url": "ftp://example.com/r.git"}' '{"url": "https://u:p@example.com/r.git"}' '{}' \
        '{"url": "https://example.com/r.git?private_token=x"}'; do
        answer=$(api POST "svc-$RUN/bad" api/import "$body")
        echo "$answer"
        [ "$(printf '%s' "$answer" | tail -n 1)" = 400 ] || return 1
    done
    answer=$(curl -sS -X POST -H "Content-Type: application/json" -d "{\"url\": \"$REF/o/src.git\"}" \
        -w '\n%{http_code}' "$BASE/svc-$RUN/bad.git/api/import")
    [ "$(printf '%s' "$answer" | tail -n 1)" = 401 ]
}
check import-refused import_refused
import_empty() {
    local summary
    summary=$(import_into "svc-$RUN/empty" "{\"url\": \"$REF/o/empty.git\"}") || return 1
    echo "$summary"
    [ "$(printf '%s' "$summary" | field import state)" = done ] &&
        [ "$(printf '%s' "$summary" | field refs)" = 0 ] &&
        [ "$(printf '%s' "$summary" | field head)" = refs/heads/main ]
}
check import-empty import_empty

fork_equal() {
    local answer
    answer=$(api POST "svc-$RUN/v2" api/fork "{\"to\": \"svc-$RUN/fork\"}")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 201 ] || return 1
    same_refs "$BASE/svc-$RUN/v2.git" "$BASE/svc-$RUN/fork.git" || return 1
    rm -rf "$TMP/a" "$TMP/b"
    git clone -q "$BASE/svc-$RUN/v2.git" "$TMP/a" && git clone -q "$BASE/svc-$RUN/fork.git" "$TMP/b" &&
        [ "$(git -C "$TMP/a" rev-parse 'HEAD^{tree}')" = "$(git -C "$TMP/b" rev-parse 'HEAD^{tree}')" ] &&
        git -C "$TMP/b" fsck --strict || return 1
    git ls-remote "$BASE/svc-$RUN/v2.git" >"$TMP/before.refs"
    echo pushed >"$TMP/b/pushed.txt"
    git -C "$TMP/b" add pushed.txt && git -C "$TMP/b" commit -qm "to the fork only" &&
        git -C "$TMP/b" push -q "$(authed "$BASE/svc-$RUN/fork.git")" HEAD || return 1
    git ls-remote "$BASE/svc-$RUN/v2.git" | diff "$TMP/before.refs" - || return 1
    ! git ls-remote "$BASE/svc-$RUN/fork.git" | diff -q "$TMP/before.refs" - >/dev/null
}
check fork fork_equal
fork_default() {
    local answer
    answer=$(api POST "svc-$RUN/v2" api/fork "{\"to\": \"svc-$RUN/trunk-only\", \"refs\": \"default\"}")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 201 ] || return 1
    git ls-remote "$BASE/svc-$RUN/trunk-only.git" | awk '{print $2}' | tr '\n' ' ' |
        grep -qx "HEAD refs/heads/trunk "
}
check fork-default fork_default
fork_private() {
    api PATCH "svc-$RUN/v0" api/settings '{"visibility": "private"}' >/dev/null &&
        api POST "svc-$RUN/v0" api/fork "{\"to\": \"svc-$RUN/private-fork\"}" | tail -n 1 | grep -qx 201 &&
        ! git ls-remote "$BASE/svc-$RUN/private-fork.git" &&
        same_refs "$(authed "$BASE/svc-$RUN/v0.git")" "$(authed "$BASE/svc-$RUN/private-fork.git")"
}
check fork-private fork_private
fork_refused() {
    local answer
    answer=$(curl -sS -X POST -H "Content-Type: application/json" -d "{\"to\": \"svc-$RUN/anon\"}" \
        -w '\n%{http_code}' "$BASE/svc-$RUN/v2.git/api/fork")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 401 ] || return 1
    answer=$(api POST "svc-$RUN/v2" api/fork "{\"to\": \"svc-$RUN/v0\"}")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 409 ] || return 1
    answer=$(api POST "svc-$RUN/v2" api/fork '{"to": "api/x"}')
    echo "$answer"
    printf '%s' "$answer" | grep -qF "the name api is reserved" &&
        [ "$(printf '%s' "$answer" | tail -n 1)" = 400 ] || return 1
    answer=$(api POST "svc-$RUN/none" api/fork "{\"to\": \"svc-$RUN/from-none\"}")
    echo "$answer"
    printf '%s' "$answer" | grep -qF "repository 'svc-$RUN/none' not found" &&
        [ "$(printf '%s' "$answer" | tail -n 1)" = 404 ] || return 1
    api GET "svc-$RUN/from-none" api | tail -n 1 | grep -qx 404
}
check fork-refused fork_refused

# Mirrors, of a source of their own that the checks change.
MIRRORED_DIR=$(bash "$REFSERVER" create "$TMP/ref" o/mirrored)
g push -q --mirror "$REF/o/mirrored.git"
WORK=$TMP/work
git clone -q "$REF/o/mirrored.git" "$WORK"
change_source() { # a new commit on main, trunk forced back, a new branch and tag, a branch gone
    local n=$1
    git -C "$WORK" checkout -q main && git -C "$WORK" pull -q --ff-only origin main &&
        echo "change $n" >>"$WORK/file.txt" && git -C "$WORK" commit -qam "change $n" &&
        git -C "$WORK" push -q origin main "main~2:refs/heads/trunk" --force \
            "main:refs/heads/new-$n" "main:refs/tags/t-$n" &&
        git -C "$WORK" push -q origin --delete "$(git ls-remote --heads "$REF/o/mirrored.git" |
            awk '{print $2}' | grep -v -e main -e trunk | head -n 1)"
}
until_same() { # SOURCE_URL OURS_URL: waits (20 s at most) until their refs are equal
    for _ in $(seq 1 40); do
        same_refs "$1" "$2" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    same_refs "$1" "$2"
}
mirror_follows() {
    local summary
    summary=$(import_into "svc-$RUN/mirror" "{\"url\": \"$REF/o/mirrored.git\", \"mirror\": {\"interval\": 2}}") ||
        return 1
    echo "$summary"
    [ "$(printf '%s' "$summary" | field import state)" = done ] &&
        [ "$(printf '%s' "$summary" | field import mirror interval)" = 2 ] || return 1
    change_source 1 || return 1
    until_same "$REF/o/mirrored.git" "$BASE/svc-$RUN/mirror.git" || return 1
    change_source 2 || return 1
    until_same "$REF/o/mirrored.git" "$BASE/svc-$RUN/mirror.git"
}
check mirror-follows mirror_follows
mirror_push() {
    rm -rf "$TMP/m" && git clone -q "$BASE/svc-$RUN/mirror.git" "$TMP/m" || return 1
    echo local >"$TMP/m/local.txt" && git -C "$TMP/m" add local.txt && git -C "$TMP/m" commit -qm local
    if git -C "$TMP/m" push "$(authed "$BASE/svc-$RUN/mirror.git")" HEAD:refs/heads/local 2>"$TMP/push.err"; then
        echo "the push was taken"
        return 1
    fi
    cat "$TMP/push.err"
    grep -qF "remote: this repository is a mirror of $REF/o/mirrored.git" "$TMP/push.err"
}
check mirror-push mirror_push
mirror_sync() {
    local summary answer
    summary=$(import_into "svc-$RUN/hourly" "{\"url\": \"$REF/o/mirrored.git\", \"mirror\": {\"interval\": 3600}}") ||
        return 1
    [ "$(printf '%s' "$summary" | field import state)" = done ] || return 1
    change_source 3 || return 1
    sleep 2
    ! same_refs "$REF/o/mirrored.git" "$BASE/svc-$RUN/hourly.git" >/dev/null 2>&1 || return 1
    answer=$(api POST "svc-$RUN/hourly" api/mirror/sync)
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 202 ] || return 1
    until_same "$REF/o/mirrored.git" "$BASE/svc-$RUN/hourly.git" || return 1
    answer=$(api POST "svc-$RUN/v2" api/mirror/sync)
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 409 ]
}
check mirror-sync mirror_sync
mirror_gone() {
    local summary
    git ls-remote "$BASE/svc-$RUN/hourly.git" >"$TMP/kept.refs"
    mv "$MIRRORED_DIR" "$MIRRORED_DIR.away"
    api POST "svc-$RUN/hourly" api/mirror/sync | tail -n 1 | grep -qx 202 || return 1
    summary=$(wait_import "svc-$RUN/hourly")
    mv "$MIRRORED_DIR.away" "$MIRRORED_DIR"
    echo "$summary"
    [ "$(printf '%s' "$summary" | field import state)" = failed ] &&
        printf '%s' "$summary" | field import error | grep -qF "repository '$REF/o/mirrored.git/' not found" &&
        git ls-remote "$BASE/svc-$RUN/hourly.git" | diff "$TMP/kept.refs" - || return 1
    api POST "svc-$RUN/hourly" api/mirror/sync | tail -n 1 | grep -qx 202 || return 1
    summary=$(wait_import "svc-$RUN/hourly")
    [ "$(printf '%s' "$summary" | field import state)" = done ]
}
check mirror-gone mirror_gone
mirror_stop() {
    local answer
    answer=$(api DELETE "svc-$RUN/mirror" api/mirror)
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 200 ] || return 1
    git -C "$TMP/m" push -q "$(authed "$BASE/svc-$RUN/mirror.git")" HEAD:refs/heads/local &&
        git ls-remote "$BASE/svc-$RUN/mirror.git" | grep -q refs/heads/local
}
check mirror-stop mirror_stop

directory() {
    local all page cursor="" listed
    all=$(curl -sS -H "Authorization: Bearer $TOKEN" "$BASE/api/repos?prefix=svc-$RUN/&limit=1000")
    echo "$all"
    listed=$(printf '%s' "$all" | python3 -c 'import json, sys
d = json.load(sys.stdin)
names = [r["name"] for r in d["repos"]]
assert names == sorted(names) and d["next"] is None, d
by = {r["name"]: r for r in d["repos"]}
run = sys.argv[1]
assert by[run + "/private-fork"]["visibility"] == "private", by[run + "/private-fork"]
assert by[run + "/fork"]["visibility"] == "public" and by[run + "/fork"]["bytes"] > 0
assert by[run + "/fork"]["last_push"], by[run + "/fork"]
print("\n".join(names))' "svc-$RUN") || return 1
    for name in v2 v0 fork trunk-only private-fork mirror hourly; do
        printf '%s\n' "$listed" | grep -qx "svc-$RUN/$name" || { echo "svc-$RUN/$name not listed"; return 1; }
    done
    local paged=""
    while :; do
        page=$(curl -sS -H "Authorization: Bearer $TOKEN" "$BASE/api/repos?prefix=svc-$RUN/&limit=2&cursor=$cursor")
        paged+=$(printf '%s' "$page" | python3 -c 'import json, sys; print("\n".join(r["name"] for r in json.load(sys.stdin)["repos"]))')$'\n'
        cursor=$(printf '%s' "$page" | field next)
        [ -n "$cursor" ] || break
    done
    [ "$(printf '%s' "$paged" | grep .)" = "$listed" ] || { echo "paged: $paged"; return 1; }
    api DELETE "svc-$RUN/trunk-only" api | tail -n 1 | grep -qx 204 || return 1
    ! curl -sS -H "Authorization: Bearer $TOKEN" "$BASE/api/repos?prefix=svc-$RUN/trunk-only" | grep -q trunk-only || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/repos")" = 401 ] || return 1
    local token
    token=$(api POST "svc-$RUN/v2" api/tokens '{"scope": "write"}' | head -n 1 | field token)
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$BASE/api/repos")" = 403 ]
}
check directory directory

# Webhooks, sent to a receiver of our own that checks every signature.
HOOK_PORT=$(bash "$REFSERVER" free-port 1)
RECEIVED=$TMP/received.jsonl
RECEIVER_PID=
start_receiver() {
    python3 "$ROOT/tests/support/hook-receiver.py" "$HOOK_PORT" s3cret "$RECEIVED" >"$TMP/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    for _ in $(seq 1 50); do grep -q ready "$TMP/receiver.log" 2>/dev/null && return 0; sleep 0.1; done
}
stop_receiver() { kill "$RECEIVER_PID" 2>/dev/null; wait "$RECEIVER_PID" 2>/dev/null || true; }
touch "$RECEIVED"
start_receiver
HOOKED=svc-$RUN/hooked
EXPECTED=$TMP/expected-events
: >"$EXPECTED"
hpush() { # REFSPEC...: pushes to $HOOKED, noting the ref and new value of each ref it moves
    git -C "$TMP/h" push --porcelain "$(authed "$BASE/$HOOKED.git")" "$@" >"$TMP/hpush.out" || return 1
    local ref
    for ref in $(sed -n 's/^[-+* ]\t[^:]*:\(refs\/[^\t]*\)\t.*/\1/p' "$TMP/hpush.out"); do
        printf '%s %s\n' "$ref" "$(git ls-remote "$(authed "$BASE/$HOOKED.git")" "$ref" | cut -f1 | grep . || echo 0000000000000000000000000000000000000000)" >>"$EXPECTED"
    done
}
received_pushes() { # the push events received, as "ref after", once per delivery id, sorted
    python3 -c 'import json, sys
seen = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["event"] == "push":
        seen[d["id"]] = "%s %s" % (d["ref"], d["after"])
print("\n".join(sorted(seen.values())))' "$RECEIVED"
}
until_received() { # waits (60 s at most) until the push events received are those expected
    for _ in $(seq 1 120); do
        [ "$(received_pushes)" = "$(sort "$EXPECTED")" ] && return 0
        sleep 0.5
    done
    diff <(sort "$EXPECTED") <(received_pushes)
}
hooks_deliver() {
    local answer
    api PUT "$HOOKED" api | tail -n 1 | grep -qx 201 || return 1
    answer=$(api POST "$HOOKED" api/hooks "{\"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"secret\": \"s3cret\", \"events\": [\"push\", \"import\"]}")
    echo "$answer"
    [ "$(printf '%s' "$answer" | tail -n 1)" = 201 ] || return 1
    ! printf '%s' "$answer" | grep -q s3cret || return 1
    HOOK_ID=$(printf '%s' "$answer" | head -n 1 | field id)
    rm -rf "$TMP/h" && git clone -q "$SRC" "$TMP/h" &&
        git -C "$TMP/h" checkout -q -b main origin/main &&
        git -C "$TMP/h" branch -q feature/x origin/feature/x || return 1
    hpush main feature/x v1 || return 1
    echo more >>"$TMP/h/file.txt" && git -C "$TMP/h" commit -qam "more" && hpush main || return 1
    hpush --force main~2:refs/heads/main :refs/heads/feature/x || return 1
    until_received || return 1
    grep -q '"event": "ping"' "$RECEIVED" || { echo "no ping"; return 1; }
    ! grep -q '"valid": false' "$RECEIVED" || { echo "a bad signature"; return 1; }
    grep -q '"forced": true' "$RECEIVED" && grep -q '"deleted": true' "$RECEIVED" || return 1
    # The payload's clone_url is the repository's, as git clones it.
    local url
    url=$(python3 -c 'import json, sys
print(next(d["clone_url"] for d in map(json.loads, open(sys.argv[1])) if d["event"] == "push"))' "$RECEIVED")
    [ "$url" = "$BASE/$HOOKED.git" ] || { echo "clone_url: $url"; return 1; }
    git ls-remote "$(authed "$url")" refs/heads/main | grep -q refs/heads/main
}
check hooks hooks_deliver
hooks_down() {
    local pushed=0
    stop_receiver
    git -C "$TMP/h" reset -q --hard "$(git ls-remote "$BASE/$HOOKED.git" refs/heads/main | cut -f1)" &&
        echo down >>"$TMP/h/file.txt" && git -C "$TMP/h" commit -qam "while down" && hpush main &&
        git -C "$TMP/h" tag t-down && hpush t-down || pushed=1
    sleep 3
    start_receiver
    [ "$pushed" = 0 ] && until_received || return 1
    local deliveries
    deliveries=$(api GET "$HOOKED" "api/hooks/$HOOK_ID/deliveries" | head -n 1)
    printf '%s' "$deliveries" | python3 -c 'import json, sys
listed = json.load(sys.stdin)["deliveries"]
received = {json.loads(l)["id"] for l in open(sys.argv[1])}
assert listed and all(d["state"] == "delivered" for d in listed), [d["state"] for d in listed]
assert {d["id"] for d in listed} <= received, "listed but not received"
assert any(a["status"] is None for d in listed for a in d["attempts"]), "no failed attempt listed"
print(len(listed), "deliveries, all delivered")' "$RECEIVED"
}
check hooks-down hooks_down
hooks_import() {
    local answer summary
    api PUT "svc-$RUN/hooked-import" api | tail -n 1 | grep -qx 201 || return 1
    answer=$(api POST "svc-$RUN/hooked-import" api/hooks "{\"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"secret\": \"s3cret\", \"events\": [\"import\", \"maintenance\"]}")
    [ "$(printf '%s' "$answer" | tail -n 1)" = 201 ] || { echo "$answer"; return 1; }
    summary=$(import_into "svc-$RUN/hooked-import" "{\"url\": \"$REF/o/src.git\"}") || return 1
    api POST "svc-$RUN/hooked-import" api/maintenance | tail -n 1 | grep -qx 202 || return 1
    for _ in $(seq 1 60); do
        grep -q '"event": "import"' "$RECEIVED" && grep -q '"event": "maintenance"' "$RECEIVED" &&
            return 0
        sleep 0.5
    done
    echo "no import or no maintenance event"
    return 1
}
check hooks-import hooks_import
hooks_refused() {
    api POST "$HOOKED" api/hooks '{"url": "http://127.0.0.1:1/h", "events": ["issues"]}' | tail -n 1 | grep -qx 400 &&
        api POST "$HOOKED" api/hooks '{"url": "ftp://127.0.0.1/h"}' | tail -n 1 | grep -qx 400 &&
        curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
            -d '{"url": "http://127.0.0.1:1/h"}' "$BASE/$HOOKED.git/api/hooks" | grep -qx 401
}
check hooks-refused hooks_refused
stop_receiver

if [ -n "$GOGIT" ] && [ -d "$GOGIT" ]; then
    bash "$REFSERVER" create "$TMP/ref" o/go-git >/dev/null
    git -C "$GOGIT" push -q --mirror "$REF/o/go-git.git" 2>/dev/null || true
    started=$(date +%s%N)
    git clone -q --mirror "$REF/o/go-git.git" "$TMP/gogit-mirror"
    mirror_ms=$((($(date +%s%N) - started) / 1000000))
    started=$(date +%s%N)
    summary=$(import_into "svc-$RUN/go-git" "{\"url\": \"$REF/o/go-git.git\"}")
    import_ms=$((($(date +%s%N) - started) / 1000000))
    started=$(date +%s%N)
    forked=$(api POST "svc-$RUN/go-git" api/fork "{\"to\": \"svc-$RUN/go-git-fork\"}" -D "$TMP/fork.headers")
    fork_ms=$((($(date +%s%N) - started) / 1000000))
    echo "# go-git: git clone --mirror from git http-backend $mirror_ms ms; import $import_ms ms (polled every 0.5 s): $(printf '%s' "$summary" | field import objects) objects; fork $fork_ms ms ($(printf '%s' "$forked" | tail -n 1), rows written $(grep -i '^x-rows-written' "$TMP/fork.headers" | tr -d '\r' | cut -d' ' -f2))"
    check go-git-import same_refs "$REF/o/go-git.git" "$BASE/svc-$RUN/go-git.git"
    check go-git-fork same_refs "$REF/o/go-git.git" "$BASE/svc-$RUN/go-git-fork.git"
fi

echo "service: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
