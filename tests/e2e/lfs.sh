#!/usr/bin/env bash
# Git LFS end to end: the real git-lfs client against the real Worker under wrangler dev, its
# objects in the local R2 bucket.
#
# Usage: E2E_ADMIN_TOKEN=TOKEN tests/e2e/lfs.sh BASE_URL
#   BASE_URL  the Worker, started with ADMIN_TOKEN=TOKEN and an LFS_SECRET (scripts/test.sh
#             starts it so)
#
# Checks:
#   push       git push with a write token uploads every tracked file (1 KiB, 5 MiB, 60 MiB,
#              and an older version of one); GET api counts them once, at their sizes; a
#              second push of the same files (another branch) uploads nothing
#   clone      a clone smudges every file to the bytes pushed; git lfs fsck passes
#   pull       a clone with GIT_LFS_SKIP_SMUDGE=1 holds pointers, git lfs pull fills them,
#              git lfs fetch --all also brings the old version
#   again      a batch upload of what the bucket holds asks for no transfer
#   range      a download with a Range answers 206 with those bytes
#   read-only  a read token's push is refused with the server's words, and uploads nothing
#   grants     a transfer without a grant, with a forged one, with another object's, with
#              another repository's, or with a download grant for an upload, is refused 403/405
#   tampered   an upload whose bytes do not hash to its oid is refused 422 and stores
#              nothing: its verify answers 404 and a download batch says it does not exist
#   verify     a verify needs the upload's grant: none, or a download grant, is 403
#   oversize   a batch upload over MAX_LFS_OBJECT_BYTES fails that object with the limit named
#   private    a private repository's batch needs a read token (401 with LFS-Authenticate
#              without one); a clone with a read token smudges every file
#   locks      git lfs lock/locks/unlock; another user's push of a locked file is refused by
#              git-lfs (locksverify), their unlock is refused, the admin's --force unlocks
#   delete     DELETE api needs the admin (401 anonymous, 403 a write token), answers 204, and
#              the repository is gone: GET api and git ls-remote say not found, a second
#              DELETE is 404; pushed to again, the name is a new repository: the old tokens
#              are refused, it holds no LFS object, and the bucket no longer has the old ones
# Output: `ok - name` / `not ok - name` lines, `#` diagnostics, then
# `lfs: N passed, M failed`; exit 1 if M > 0.
set -u

EXPECTED=13

BASE=${1:?usage: lfs.sh BASE_URL}
BASE=${BASE%/}
ADMIN=${E2E_ADMIN_TOKEN:?lfs.sh needs E2E_ADMIN_TOKEN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lfs.XXXXXX")
PASS=0
FAIL=0
cleanup() {
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"

# git-lfs installs its filters in the global config: a HOME of our own keeps them here.
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
unset GIT_CONFIG_GLOBAL http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export GIT_AUTHOR_NAME="Ada Example" GIT_AUTHOR_EMAIL="ada@example.test"
export GIT_COMMITTER_NAME="Ada Example" GIT_COMMITTER_EMAIL="ada@example.test"
mkdir -p "$HOME"
git lfs install >/dev/null

HOSTPORT=${BASE#http://}
NAME=e2e/lfs-$RANDOM$RANDOM
URL=$BASE/$NAME.git
LFS=$URL/info/lfs
J='Content-Type: application/json'
L='Content-Type: application/vnd.git-lfs+json'

# token SCOPE: a new token of the repository.
token() {
    curl -sS -m 30 -u "x:$ADMIN" -H "$J" "$URL/api/tokens" -d "{\"scope\": \"$1\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
# as TOKEN: the repository's URL with TOKEN as its password.
as() { echo "http://x:$1@$HOSTPORT/$NAME.git"; }
# json EXPR: evaluates the Python expression EXPR over the JSON on stdin (as `j`).
json() { python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"; }
# batch OPERATION OID SIZE [CURL_ARGS...]: the batch answer for one object.
batch() {
    local op=$1 oid=$2 size=$3
    shift 3
    curl -sS -m 30 "$@" -H "$L" -H "Accept: application/vnd.git-lfs+json" "$LFS/objects/batch" \
        -d "{\"operation\": \"$op\", \"transfers\": [\"basic\"], \"objects\": [{\"oid\": \"$oid\", \"size\": $size}]}"
}
# action OPERATION OID SIZE ACTION FIELD: a field of an action of a batch answer (admin).
action() {
    batch "$1" "$2" "$3" -u "x:$ADMIN" | json "j['objects'][0]['actions']['$4']$5"
}
oid_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

curl -sS -m 30 -X PUT -u "x:$ADMIN" "$URL/api" >/dev/null
WRITE=$(token write)
READ=$(token read)
OTHER=$(token write)

SRC=$TMP/src
git init -q -b main "$SRC"
g() { git -C "$SRC" "$@"; }
g lfs track '*.bin' '*.psd' >/dev/null
head -c 1024 /dev/urandom >"$SRC/small.bin"
head -c $((5 << 20)) /dev/urandom >"$SRC/big.bin"
head -c $((60 << 20)) /dev/urandom >"$SRC/huge.bin"
head -c 4000 /dev/urandom >"$SRC/art.psd"
echo "plain text" >"$SRC/README"
g add -A && g commit -qm "first"
cp "$SRC/art.psd" "$TMP/art.old"
head -c 4000 /dev/urandom >"$SRC/art.psd"
g add -A && g commit -qm "art, again"
g remote add origin "$(as "$WRITE")"

# same_files DIR: DIR's tracked files have the bytes of the source's.
same_files() {
    local f
    for f in small.bin big.bin huge.bin art.psd README; do
        cmp "$SRC/$f" "$1/$f" || return 1
    done
}
lfs_totals() { curl -sS -m 30 -u "x:$ADMIN" "$URL/api" | json "j['lfs']['objects'], j['lfs']['bytes']"; }

# puts: how many uploads git-lfs made, from its GIT_CURL_VERBOSE output on stdin.
puts() { grep -c "^> PUT " || true; }
pushed() {
    GIT_CURL_VERBOSE=1 g push origin main >"$TMP/push.out" 2>&1 || { tail -20 "$TMP/push.out"; return 1; }
    [ "$(puts <"$TMP/push.out")" = 5 ] || { echo "uploads: $(puts <"$TMP/push.out")"; return 1; }
    local bytes=$((1024 + (5 << 20) + (60 << 20) + 8000))
    [ "$(lfs_totals)" = "5 $bytes" ] || { lfs_totals; return 1; }
    GIT_CURL_VERBOSE=1 g push origin main:refs/heads/again >"$TMP/again.out" 2>&1 || return 1
    [ "$(puts <"$TMP/again.out")" = 0 ] || { echo "uploaded again: $(puts <"$TMP/again.out")"; return 1; }
    [ "$(lfs_totals)" = "5 $bytes" ] || { echo "pushed again: $(lfs_totals)"; return 1; }
}
check push pushed

cloned() {
    git clone -q "$URL" "$TMP/clone" 2>&1 || return 1
    same_files "$TMP/clone" && git -C "$TMP/clone" lfs fsck
}
check clone cloned

pulled() {
    GIT_LFS_SKIP_SMUDGE=1 git clone -q "$URL" "$TMP/pull" 2>&1 || return 1
    head -c 100 "$TMP/pull/big.bin" | grep -q "^version https://git-lfs.github.com/spec/v1" || return 1
    git -C "$TMP/pull" lfs pull 2>&1 && same_files "$TMP/pull" || return 1
    git -C "$TMP/pull" lfs fetch --all 2>&1 || return 1
    local old
    old=$(oid_of "$TMP/art.old")
    cmp "$TMP/art.old" "$TMP/pull/.git/lfs/objects/${old:0:2}/${old:2:2}/$old"
}
check pull pulled

held_needs_nothing() {
    local answer
    answer=$(batch upload "$(oid_of "$SRC/big.bin")" "$(size_of "$SRC/big.bin")" -u "x:$WRITE")
    echo "$answer"
    [ "$(echo "$answer" | json "'actions' in j['objects'][0], j['objects'][0]['authenticated']")" = "False True" ]
}
check again held_needs_nothing

ranged() {
    local oid href auth
    oid=$(oid_of "$SRC/big.bin")
    href=$(action download "$oid" 0 download "['href']")
    auth=$(action download "$oid" 0 download "['header']['Authorization']")
    curl -sS -m 30 -H "Authorization: $auth" -H "Range: bytes=1000-1999" -D "$TMP/range.h" \
        -o "$TMP/range.out" "$href" || return 1
    grep -q "^HTTP/1.1 206" "$TMP/range.h" || { cat "$TMP/range.h"; return 1; }
    cmp "$TMP/range.out" <(tail -c +1001 "$SRC/big.bin" | head -c 1000)
}
check range ranged

read_only() {
    head -c 2048 /dev/urandom >"$SRC/read.bin"
    g add read.bin && g commit -qm "with a read token" || return 1
    if g lfs push "$(as "$READ")" main >"$TMP/ro.out" 2>&1; then
        cat "$TMP/ro.out"
        return 1
    fi
    cat "$TMP/ro.out"
    grep -q "this token can only read: pushing needs a write token" "$TMP/ro.out" || return 1
    [ "$(batch download "$(oid_of "$SRC/read.bin")" 2048 -u "x:$READ" |
        json "j['objects'][0]['error']['code']")" = 404 ]
}
check read-only read_only

# status METHOD URL [CURL_ARGS...]: the HTTP status of a request.
status() {
    local method=$1 url=$2
    shift 2
    curl -sS -m 30 -o "$TMP/status.out" -w '%{http_code}' -X "$method" "$@" "$url"
}
refused_grants() {
    local oid href auth forged other_oid other_auth
    oid=$(oid_of "$SRC/small.bin")
    href=$(action download "$oid" 0 download "['href']")
    auth=$(action download "$oid" 0 download "['header']['Authorization']")
    [ "$(status GET "$href" -H "Authorization: $auth")" = 200 ] || return 1
    cmp "$TMP/status.out" "$SRC/small.bin" || return 1
    [ "$(status GET "$href")" = 403 ] || { echo "no grant"; return 1; }
    grep -q "ask the batch endpoint again" "$TMP/status.out" || return 1
    [ "$(status GET "$href" -u "x:$WRITE")" = 403 ] || { echo "a token as grant"; return 1; }
    forged="${auth%?}$(printf '%s' "${auth: -1}" | tr '0-9a-f' '1-9a-f0')"
    [ "$(status GET "$href" -H "Authorization: $forged")" = 403 ] || { echo "forged"; return 1; }
    other_oid=$(oid_of "$SRC/big.bin")
    other_auth=$(action download "$other_oid" 0 download "['header']['Authorization']")
    [ "$(status GET "$href" -H "Authorization: $other_auth")" = 403 ] || { echo "other object"; return 1; }
    [ "$(status GET "$BASE/e2e/elsewhere.git/info/lfs/objects/$oid" -H "Authorization: $auth")" = 403 ] ||
        { echo "other repository"; return 1; }
    [ "$(status PUT "$href" -H "Authorization: $auth" --data-binary @"$SRC/small.bin")" = 405 ] ||
        { echo "download grant uploads"; return 1; }
}
check grants refused_grants

tampered() {
    local oid href auth
    head -c 3000 /dev/urandom >"$TMP/meant"
    head -c 3000 /dev/urandom >"$TMP/sent"
    oid=$(oid_of "$TMP/meant")
    href=$(action upload "$oid" 3000 upload "['href']")
    auth=$(action upload "$oid" 3000 upload "['header']['Authorization']")
    [ "$(status PUT "$href" -H "Authorization: $auth" --data-binary @"$TMP/sent")" = 422 ] || return 1
    cat "$TMP/status.out"
    grep -q "do not hash to $oid: nothing was stored" "$TMP/status.out" || return 1
    [ "$(status POST "$LFS/verify" -H "$L" -H "Authorization: $auth" \
        -d "{\"oid\": \"$oid\", \"size\": 3000}")" = 404 ] || return 1
    [ "$(batch download "$oid" 3000 -u "x:$ADMIN" | json "j['objects'][0]['error']['code']")" = 404 ]
}
check tampered tampered

verify_needs_grant() {
    local oid body auth
    oid=$(oid_of "$SRC/small.bin")
    body="{\"oid\": \"$oid\", \"size\": 1024}"
    [ "$(status POST "$LFS/verify" -H "$L" -u "x:$WRITE" -d "$body")" = 403 ] || return 1
    auth=$(action download "$oid" 0 download "['header']['Authorization']")
    [ "$(status POST "$LFS/verify" -H "$L" -H "Authorization: $auth" -d "$body")" = 403 ] || return 1
    auth=$(action upload "$(oid_of "$TMP/meant")" 3000 verify "['header']['Authorization']")
    [ "$(status POST "$LFS/verify" -H "$L" -H "Authorization: $auth" -d "$body")" = 403 ]
}
check verify verify_needs_grant

oversize() {
    local answer
    answer=$(batch upload "$(printf 'a%.0s' $(seq 64))" 104857601 -u "x:$WRITE")
    echo "$answer"
    [ "$(echo "$answer" | json "j['objects'][0]['error']['code']")" = 422 ] &&
        echo "$answer" | grep -q "Size must be less than or equal to 104857600 (MAX_LFS_OBJECT_BYTES)"
}
check oversize oversize

private() {
    curl -sS -m 30 -u "x:$ADMIN" -X PATCH -H "$J" -d '{"visibility": "private"}' \
        -o /dev/null "$URL/api/settings" || return 1
    local oid
    oid=$(oid_of "$SRC/small.bin")
    batch download "$oid" 1024 -D "$TMP/private.h" -o "$TMP/private.out" || return 1
    grep -q "^HTTP/1.1 401" "$TMP/private.h" && grep -qi "^LFS-Authenticate: Basic" "$TMP/private.h" ||
        { cat "$TMP/private.h" "$TMP/private.out"; return 1; }
    git clone -q "$(as "$READ")" "$TMP/private" 2>&1 && same_files "$TMP/private" || return 1
    curl -sS -m 30 -u "x:$ADMIN" -X PATCH -H "$J" -d '{"visibility": "public"}' \
        -o /dev/null "$URL/api/settings"
}
check private private

locks() {
    local mine=$TMP/clone theirs=$TMP/theirs
    git -C "$mine" remote set-url origin "$(as "$WRITE")"
    git -C "$mine" lfs lock big.bin 2>&1 | grep -q "Locked big.bin" || return 1
    git -C "$mine" lfs locks 2>&1 | grep -q "^big.bin" || return 1
    git clone -q "$(as "$OTHER")" "$theirs" 2>&1 || return 1
    git -C "$theirs" config lfs.locksverify true
    git -C "$theirs" lfs lock big.bin >"$TMP/relock.out" 2>&1 && return 1
    grep -q "already created lock" "$TMP/relock.out" || { cat "$TMP/relock.out"; return 1; }
    head -c 100 /dev/urandom >"$theirs/big.bin"
    git -C "$theirs" commit -qam "over a lock" || return 1
    git -C "$theirs" push -q origin main >"$TMP/locked.out" 2>&1 && return 1
    grep -q "Unable to push locked files" "$TMP/locked.out" || { cat "$TMP/locked.out"; return 1; }
    git -C "$theirs" lfs unlock big.bin >"$TMP/unlock.out" 2>&1 && return 1
    grep -q "this lock belongs to someone else" "$TMP/unlock.out" || { cat "$TMP/unlock.out"; return 1; }
    git -C "$theirs" remote set-url origin "http://x:$ADMIN@$HOSTPORT/$NAME.git"
    git -C "$theirs" lfs unlock --force big.bin 2>&1 || return 1
    [ -z "$(git -C "$mine" lfs locks 2>&1)" ] || return 1
    git -C "$theirs" remote set-url origin "$(as "$OTHER")"
    git -C "$theirs" push -q origin main 2>&1
}
check locks locks

# DELETE api takes the repository whole: its rows, its tokens and its objects in the bucket.
deleted() {
    local oid auth
    oid=$(oid_of "$SRC/small.bin")
    [ "$(status DELETE "$URL/api")" = 401 ] || { echo "anonymous"; return 1; }
    [ "$(status DELETE "$URL/api" -u "x:$WRITE")" = 403 ] || { echo "a write token"; return 1; }
    [ "$(status DELETE "$URL/api" -u "x:$ADMIN")" = 204 ] || { cat "$TMP/status.out"; return 1; }
    [ "$(status GET "$URL/api" -u "x:$ADMIN")" = 404 ] || { echo "still answers"; return 1; }
    git ls-remote "$URL" >"$TMP/gone.out" 2>&1 && return 1
    grep -q "repository '$URL/' not found" "$TMP/gone.out" || { cat "$TMP/gone.out"; return 1; }
    [ "$(status DELETE "$URL/api" -u "x:$ADMIN")" = 404 ] || { echo "deleted twice"; return 1; }
    # The name is pushed to again: a new repository, with none of the old one's tokens or
    # objects. Had the bucket kept the old object, its verify (without an upload) would pass.
    # (git-lfs's pre-push hook off: it would upload the objects again.)
    git -C "$SRC" -c core.hooksPath=/dev/null push -q "http://x:$ADMIN@$HOSTPORT/$NAME.git" \
        "$(git -C "$SRC" rev-list --max-parents=0 HEAD | tail -1):refs/heads/first" 2>&1 || return 1
    [ "$(status GET "$URL/api/refs" -u "x:$READ")" = 401 ] || { echo "an old token reads"; return 1; }
    [ "$(lfs_totals)" = "0 0" ] || { echo "lfs totals: $(lfs_totals)"; return 1; }
    auth=$(action upload "$oid" 1024 verify "['header']['Authorization']")
    [ "$(status POST "$LFS/verify" -H "$L" -H "Authorization: $auth" \
        -d "{\"oid\": \"$oid\", \"size\": 1024}")" = 404 ] || { echo "the bucket kept it"; return 1; }
}
check delete deleted

echo "lfs: $PASS passed, $FAIL failed"
[ "$((PASS + FAIL))" -eq "$EXPECTED" ] || { echo "lfs: expected $EXPECTED checks"; exit 1; }
[ "$FAIL" -eq 0 ]
