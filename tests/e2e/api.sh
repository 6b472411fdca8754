#!/usr/bin/env bash
# The read-only JSON API end to end: the real Worker under wrangler dev, a history pushed by
# the real git CLI, and every endpoint compared with what git says of the same history.
#
# Usage: E2E_ADMIN_TOKEN=TOKEN tests/e2e/api.sh BASE_URL
#   BASE_URL  the Worker, started with ADMIN_TOKEN=TOKEN (scripts/test.sh starts it)
#
# The history is make-repo.sh's (merges, a tag of a tag, binaries, a symlink, an executable)
# plus a commit in ISO-8859-1, one whose message has no final newline, a file with spaces
# and non-ASCII in its name, a mode change, a file that becomes a symlink, and a 10 MB file.
# Checks:
#   refs       GET api/refs (and ?prefix=) = git for-each-ref
#   commits    GET api/commits, every page, for branches, tags and paths = git log [-- path]
#   commit     GET api/commit/<id> = git log -1 fields, the message = git cat-file's, files =
#              git diff --raw against the first parent; the ISO-8859-1 commit as git log
#              shows it (UTF-8)
#   tree       GET api/tree/<rev>/<path> = git ls-tree -l
#   compare    GET api/compare/<a>...<b> = git log a..b and git diff --raw a...b
#   raw        GET api/raw/<rev>/<path> of every file = git cat-file blob; a range; the ETag
#              is the blob id and answers 304; a full commit id is cached as immutable
#   access     a private repository's API needs a read token, as its clones do; CORS, and a
#              real headless Chromium calling it from a page of another origin
#   refusals   404 and 400 as JSON
#   reserved   a push to a repository named api, or owned by api, is refused saying why
# Prints the time of commits?limit=100 and of raw for the 10 MB file beside git log -100 and
# git cat-file on a local clone (benchmarks time; tests do not).
# Output: `ok - name` / `not ok - name` lines, `#` diagnostics, then
# `api: N passed, M failed`; exit 1 if M > 0.
set -u

EXPECTED=21

BASE=${1:?usage: api.sh BASE_URL}
BASE=${BASE%/}
TOKEN=${E2E_ADMIN_TOKEN:?api.sh needs E2E_ADMIN_TOKEN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LINES=$ROOT/tests/support/api-lines.py
TMP=$(mktemp -d "${TMPDIR:-/tmp}/api.XXXXXX")
PASS=0
FAIL=0
cleanup() {
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export GIT_AUTHOR_NAME="Ada Example" GIT_AUTHOR_EMAIL="ada@example.test"
export GIT_COMMITTER_NAME="Ada Example" GIT_COMMITTER_EMAIL="ada@example.test"

SRC=$TMP/src
bash "$HERE/make-repo.sh" "$SRC" 1 >/dev/null
g() { git -C "$SRC" -c core.quotePath=false "$@"; }
at() { # TIME ZONE: the dates of the next commit
    export GIT_AUTHOR_DATE="@$1 $2" GIT_COMMITTER_DATE="@$1 $2"
}
g checkout -q main
at 1800000000 +0530
printf 'caf\351\n' >"$SRC/latin1.txt"
g add latin1.txt
git -C "$SRC" -c i18n.commitEncoding=ISO-8859-1 -c user.name="$(printf 'Jos\351')" \
    commit -q -m "$(printf 'caf\351 cr\350me')"
at 1800000100 -0800
mkdir -p "$SRC/docs/ünï cödé"
printf 'spaces and accents\n' >"$SRC/docs/ünï cödé/read me.md"
chmod +x "$SRC/docs/ünï cödé/read me.md"
head -c 10000000 /dev/urandom >"$SRC/big10.bin"
g add -A
g commit -q -m 'a name with spaces, an executable, 10 MB'
at 1800000200 +0000
first=$(g ls-files | grep -v -e '^big10.bin$' -e ' ' | head -1)
rm "$SRC/$first"
ln -s big10.bin "$SRC/$first"
g add -A
g commit -q -m 'a file becomes a symlink'
tip=$(printf 'no final newline' | g commit-tree "$(g rev-parse 'HEAD^{tree}')" -p HEAD)
g update-ref refs/heads/main "$tip"

REPO=e2e/api-$$-$RANDOM
URL=$BASE/$REPO.git
API=$URL/api
AUTH=(-u "x:$TOKEN")
git -C "$SRC" -c credential.helper= push -q "http://x:$TOKEN@${BASE#http://}/$REPO.git" \
    --all --follow-tags 2>"$TMP/push.err" || { cat "$TMP/push.err"; exit 1; }
g push -q "http://x:$TOKEN@${BASE#http://}/$REPO.git" --tags 2>>"$TMP/push.err" || true

get() { # OUT PATH: GET $API/PATH into OUT, 200 expected
    local code
    code=$(curl -sS -m 60 "${AUTH[@]}" -o "$1" -w '%{http_code}' "$API/$2") || return 1
    [ "$code" = 200 ] || { echo "GET $2 -> $code"; cat "$1"; return 1; }
}
lines() { python3 "$LINES" "$@"; }

refs_agree() {
    get "$TMP/refs.json" refs && diff -u \
        <(g for-each-ref --format='%(refname) %(objectname) %(*objectname)' | sed 's/ *$//') \
        <(lines refs "$TMP/refs.json") || return 1
    get "$TMP/tags.json" 'refs?prefix=refs/tags/' && diff -u \
        <(g for-each-ref --format='%(refname) %(objectname) %(*objectname)' refs/tags | sed 's/ *$//') \
        <(lines refs "$TMP/tags.json")
}
check "refs: GET api/refs and ?prefix=refs/tags/ = git for-each-ref" refs_agree

pages() { # QUERY: the ids of every page of api/commits?QUERY, following the cursor
    local query=$1 next="" n=0
    while :; do
        get "$TMP/page.json" "commits?$query${next:+&cursor=$next}" || return 1
        lines oids "$TMP/page.json"
        next=$(lines next "$TMP/page.json")
        n=$((n + 1))
        [ -n "$next" ] && [ "$n" -lt 1000 ] || break
    done
}
log_agrees() { # REV [PATH]: every page of the API's log = git log
    local rev=$1 query="ref=$1&limit=${LIMIT:-1000}"
    if [ $# -ge 2 ]; then
        query="$query&path=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$2")"
        diff -u <(g log --format=%H "$rev" -- "$2") <(pages "$query")
    else
        diff -u <(g log --format=%H "$rev") <(pages "$query")
    fi
}
all_logs() {
    for rev in main feature topic v1.0-final HEAD; do
        log_agrees "$rev" || return 1
    done
}
check "commits: git log order for branches, tags and HEAD (one page)" all_logs
paged_logs() { LIMIT=7 all_logs; }
check "commits: git log order through pages of 7 (cursors)" paged_logs
path_logs() {
    local path
    while read -r path; do
        log_agrees main "$path" || return 1
    done < <(
        g ls-tree -r --name-only main | head -12
        g ls-tree -d --name-only main
        echo 'docs/ünï cödé/read me.md'
        echo 'no/such/path'
    )
}
check "commits: git log -- PATH for files, directories and a missing path" path_logs

commit_agrees() { # REV: fields, message and files of api/commit/<id> = git's
    local id parent
    id=$(g rev-parse "$1") || return 1
    get "$TMP/commit.json" "commit/$id" || return 1
    diff -u <(g log -1 --format='%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI' "$id") \
        <(lines commit "$TMP/commit.json") || return 1
    if g cat-file commit "$id" | grep -q '^encoding '; then
        # git log re-encodes into UTF-8.
        diff -u <(g log -1 --format=%B "$id") <(lines message "$TMP/commit.json"; echo) || return 1
    else
        cmp <(g cat-file commit "$id" | sed '1,/^$/d') <(lines message "$TMP/commit.json") || return 1
    fi
    parent=$(g rev-parse -q --verify "$id^1" || g hash-object -t tree /dev/null)
    diff -u <(g diff --raw --no-abbrev --no-renames "$parent" "$id") <(lines files "$TMP/commit.json")
}
every_commit() {
    local rev
    for rev in $(g rev-list --all | head -40); do commit_agrees "$rev" || return 1; done
}
check "commit: 40 commits (merges, roots) = git log -1, cat-file and diff --raw" every_commit
check "commit: the ISO-8859-1 commit reads as git log shows it (UTF-8)" commit_agrees main~3
check "commit: a message without a final newline is kept as it is" commit_agrees main

tree_agrees() { # REV PATH
    local spec=$1
    [ -n "$2" ] && spec="$1:$2"
    get "$TMP/tree.json" "tree/$1/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$2")" &&
        diff -u <(g ls-tree -l --full-tree "$spec") <(lines tree "$TMP/tree.json")
}
every_tree() {
    local dir
    tree_agrees main "" && tree_agrees feature "" && tree_agrees v1.0-final "" || return 1
    while read -r dir; do tree_agrees main "$dir" || return 1; done < <(g ls-tree -r -d --name-only main)
}
check "tree: the root of branches and tags and every directory of main = git ls-tree -l" every_tree

compare_agrees() { # A B
    get "$TMP/compare.json" "compare/$1...$2" || return 1
    diff -u <(g log --format=%H "$1..$2") <(lines oids "$TMP/compare.json") &&
        diff -u <(g diff --raw --no-abbrev --no-renames "$1...$2") <(lines files "$TMP/compare.json")
}
all_compares() {
    compare_agrees feature main && compare_agrees main topic && compare_agrees topic main &&
        compare_agrees v0.2 main && compare_agrees main~5 main
}
check "compare: five pairs = git log a..b and git diff --raw a...b" all_compares

raw_agrees() { # REV PATH
    local path
    path=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$2")
    curl -sS -m 60 "${AUTH[@]}" -o "$TMP/raw.out" "$API/raw/$1/$path" &&
        cmp "$TMP/raw.out" <(g cat-file blob "$1:$2")
}
every_raw() {
    local path
    while IFS= read -r path; do raw_agrees main "$path" || return 1; done < <(g ls-tree -r --name-only main)
}
check "raw: every file of main is byte-identical to git cat-file blob" every_raw
raw_range() {
    curl -sS -m 60 "${AUTH[@]}" -H 'Range: bytes=5000000-5000999' -D "$TMP/range.h" \
        -o "$TMP/range.out" "$API/raw/main/big10.bin" &&
        grep -qi '^content-range: bytes 5000000-5000999/10000000' "$TMP/range.h" &&
        cmp "$TMP/range.out" <(g cat-file blob main:big10.bin | tail -c +5000001 | head -c 1000)
}
check "raw: Range bytes=5000000-5000999 of the 10 MB file: 206, those bytes" raw_range
raw_caching() {
    local blob commit
    blob=$(g rev-parse main:big10.bin)
    commit=$(g rev-parse main)
    curl -sS -m 60 "${AUTH[@]}" -I "$API/raw/main/big10.bin" | tr -d '\r' >"$TMP/h1" &&
        grep -qi "^etag: \"$blob\"" "$TMP/h1" && grep -qi '^cache-control: no-cache' "$TMP/h1" &&
        [ "$(curl -sS -m 60 "${AUTH[@]}" -o /dev/null -w '%{http_code}' \
            -H "If-None-Match: \"$blob\"" "$API/raw/main/big10.bin")" = 304 ] &&
        curl -sS -m 60 "${AUTH[@]}" -I "$API/raw/$commit/big10.bin" | tr -d '\r' >"$TMP/h2" &&
        grep -qi '^cache-control: .*immutable' "$TMP/h2" &&
        grep -qi '^content-type: application/octet-stream' "$TMP/h2"
}
check "raw: ETag is the blob id and revalidates (304); a full commit id is immutable" raw_caching
raw_text() {
    curl -sS -m 60 "${AUTH[@]}" -D "$TMP/text.h" -o /dev/null "$API/raw/main/docs/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9/read%20me.md" &&
        grep -qi '^content-type: text/plain; charset=utf-8' <(tr -d '\r' <"$TMP/text.h") &&
        grep -qi '^x-content-type-options: nosniff' <(tr -d '\r' <"$TMP/text.h")
}
check "raw: a markdown file with spaces and accents in its path: text/plain; charset=utf-8, nosniff" raw_text

status_is() { # CODE JSON_ERROR PATH [CURL_ARGS...]
    local want=$1 error=$2 path=$3 code
    shift 3
    code=$(curl -sS -m 60 -o "$TMP/refusal.json" -w '%{http_code}' "$@" "$API/$path") || return 1
    echo "GET $path -> $code $(cat "$TMP/refusal.json")"
    [ "$code" = "$want" ] && python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["error"] != sys.argv[2])' \
        "$TMP/refusal.json" "$error"
}
refusals() {
    status_is 404 'unknown revision: nope' 'commits?ref=nope' "${AUTH[@]}" &&
        status_is 404 'path not found: no/such' 'tree/main/no/such' "${AUTH[@]}" &&
        status_is 400 'bad limit "0": from 1 to 1000' 'commits?limit=0' "${AUTH[@]}" &&
        status_is 400 'bad comparison "main..topic": expected <base>...<head>' 'compare/main..topic' "${AUTH[@]}"
}
check "refusals: unknown revision and path 404, bad limit and comparison 400, as JSON" refusals

# A private repository: the API needs a read token, as its clones do.
private() {
    curl -sS -m 60 "${AUTH[@]}" -X PATCH -H 'Content-Type: application/json' \
        --data '{"visibility":"private"}' -o /dev/null "$API/settings" &&
        curl -sS -m 60 "${AUTH[@]}" -X POST -H 'Content-Type: application/json' \
            --data '{"scope":"read"}' -o "$TMP/token.json" "$API/tokens"
}
check "access: the admin makes the repository private and a read token" private
READ=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$TMP/token.json" 2>/dev/null)
ANON='authentication required: send a token as the password (HTTP Basic) or as a Bearer token'
check "access: anonymous GET api/commits of the private repository: 401, JSON" \
    status_is 401 "$ANON" commits
check "access: anonymous GET api/raw of the private repository: 401" \
    status_is 401 "$ANON" raw/main/big10.bin
read_token() {
    local AUTH=(-H "Authorization: Bearer $READ")
    get "$TMP/private.json" 'commits?limit=1' &&
        [ "$(lines oids "$TMP/private.json")" = "$(g rev-parse main)" ] || return 1
    AUTH=(-u "x:$READ")
    raw_agrees main big10.bin
}
check "access: with the read token (Bearer and Basic) the API answers" read_token
cors() {
    curl -sS -m 60 -X OPTIONS -D "$TMP/cors.h" -o /dev/null -H 'Origin: https://app.example' \
        -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: authorization, range' \
        "$API/commits" &&
        tr -d '\r' <"$TMP/cors.h" | grep -qi '^access-control-allow-origin: \*' &&
        tr -d '\r' <"$TMP/cors.h" | grep -qi '^access-control-allow-headers: .*authorization.*range' &&
        curl -sS -m 60 -H "Authorization: Bearer $READ" -H 'Origin: https://app.example' -D "$TMP/cors2.h" \
            -o /dev/null "$API/raw/main/big10.bin" &&
        tr -d '\r' <"$TMP/cors2.h" | grep -qi '^access-control-expose-headers: .*etag'
}
check "access: browsers may call it (CORS preflight allows Authorization and Range; ETag exposed)" cors
in_browser() {
    timeout 120 node "$HERE/browser-api.mjs" "$API" "$READ" big10.bin >"$TMP/browser.json" || return 1
    cat "$TMP/browser.json"
    python3 - "$TMP/browser.json" "$(g rev-parse main)" "$(g rev-parse main:big10.bin)" \
        "$(g cat-file blob main:big10.bin | head -c 10 | od -An -tx1 | tr -d ' \n')" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = {"commit": sys.argv[2], "anonymous": 401, "raw_status": 206,
        "raw_etag": '"%s"' % sys.argv[3], "raw_bytes": sys.argv[4]}
sys.exit(0 if got == want else 1)
PY
}
check "access: headless Chromium, from another origin, reads commits and a range of a raw file with the token; 401 without" in_browser

# `api` is the server's own name: no repository and no owner may have it, and git says so.
reserved_name() {
    local name host=${BASE#http://}
    for name in api/x e2e/api api; do
        g push -q "http://x:$E2E_ADMIN_TOKEN@$host/$name.git" main >"$TMP/reserved.out" 2>&1 && return 1
        grep -q "remote: the name api is reserved for the server's own endpoints" "$TMP/reserved.out" ||
            { cat "$TMP/reserved.out"; return 1; }
    done
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/x/-/refs")" = 404 ]
}
check "reserved: a push to api/x, e2e/api or api is refused, naming the reserved name" reserved_name

# Times, printed: the API beside git on a local clone.
CLONE=$TMP/clone
git clone -q --bare "http://x:$READ@${BASE#http://}/$REPO.git" "$CLONE" 2>/dev/null
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
best() { local b=999999 t i; for i in 1 2 3; do t=$(ms "$@"); [ "$t" -lt "$b" ] && b=$t; done; echo "$b"; }
t_log=$(best curl -sf -m 60 -H "Authorization: Bearer $READ" "$API/commits?limit=100")
t_git_log=$(best git -C "$CLONE" log -100)
t_raw=$(best curl -sf -m 60 -H "Authorization: Bearer $READ" "$API/raw/main/big10.bin")
t_cat=$(best git -C "$CLONE" cat-file blob main:big10.bin)
echo "# times (best of 3): commits?limit=100 ${t_log} ms, git log -100 ${t_git_log} ms;" \
    "raw of 10 MB ${t_raw} ms, git cat-file blob ${t_cat} ms"

echo "api: $PASS passed, $FAIL failed"
if [ $((PASS + FAIL)) -ne "$EXPECTED" ]; then
    echo "api: expected $EXPECTED checks, ran $((PASS + FAIL))"
    exit 1
fi
[ "$FAIL" -eq 0 ]
