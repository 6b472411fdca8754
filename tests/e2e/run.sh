#!/usr/bin/env bash
# End-to-end test suite: drives a running Git server with the real git CLI (dumb and smart
# HTTP for reads, smart receive-pack for pushes), hand-made requests (curl) and isomorphic-git.
#
# Usage:
#   tests/e2e/run.sh BASE_URL            e.g. tests/e2e/run.sh http://127.0.0.1:8787
#   E2E_REFERENCE=1 E2E_REFERENCE_DIR=DIR E2E_REFERENCE_STATIC=STATIC_URL tests/e2e/run.sh BASE_URL
#       The server is git http-backend started by tests/support/reference-server.sh with
#       that DIR: repositories are created (git init --bare) before their first push, and
#       the checks specific to our server are skipped (tests/e2e/reference.sh does all this).
#       STATIC_URL is the same server's static port (the repositories as plain files): the
#       Range checks ask it, since git http-backend does not implement Range.
#
# Environment:
#   E2E_SCALE  size of the generated source repository (tests/e2e/make-repo.sh SCALE), default 1
#   E2E_OWNER  owner part of the repository URLs, default e2e
#   E2E_KEEP   1 = keep the temporary directory (it is always kept when a check failed)
#   E2E_TIMEOUT  seconds allowed to each git / isomorphic-git network command, default 600
#   E2E_PROTOCOL  the protocol.version git fetches with (sections a-h), 0 or 2, default 2;
#              scripts/test.sh runs the suite once with each. Section j speaks v2 in both.
#   E2E_ADMIN_TOKEN  the admin token the server was started with (scripts/test.sh sets it). When
#              set, every push of sections a-h authenticates with it: git through a credential
#              helper in the suite's gitconfig (git asks it only after a 401, so reads, and git
#              http-backend, never use it), hand-made curl pushes with -u x:TOKEN, isomorphic-git
#              through onAuth (isogit.mjs, ISOGIT_TOKEN); and section i runs. Unset: the pushes
#              send no credential (a server with open pushes, or the reference) and every check
#              of section i is skipped ("no admin token"), so the count stays the same.
#
# Repositories are $BASE_URL/$E2E_OWNER/<name>-<date>-<pid>.git, new on each run, so the suite
# can be re-run against the same server. Sections a-g read with GIT_SMART_HTTP=0 (dumb HTTP),
# section h with smart HTTP (upload-pack). Section i is access control (tokens, private
# repositories, protected branches, the JSON API under <repository>.git/api).
# Output: one `ok - name` / `not ok - name` line per check (diagnostics as `#` lines), then
# exactly one line `e2e: N passed, M failed`; the exit status is non-zero if M > 0.
#
# Checks skipped in reference mode (E2E_REFERENCE=1), because their expected text is our
# server's own wording and git's receive-pack / http-backend say something else:
#   g: never-pushed repository, GET info/refs and GET HEAD -> body contains `repository not found`
#      (git http-backend answers 404 with an empty body)
# and because git's own server behaves differently, where ours is stricter:
#   f: the objects a push refused for a stale old value or an existing ref carried are not served
#      (git's receive-pack moves the pushed objects out of its quarantine before it tries the ref
#      updates, so it serves them afterwards; ours discards them)
#   f: the limits (MAX_OBJECT_BYTES, MAX_PUSH_BYTES, MAX_WANTS): git http-backend sets none
#   g: CORS headers (git http-backend sends none)
#   h: the empty repository is made by PUT api (reference-server.sh creates it)
#   h: a malformed upload-pack request answers 4xx (git http-backend answers 200 and dies)
#   h: wasm memory within 64 MiB (git http-backend is not wasm)
#   i: every check of access control (git http-backend has no tokens)
# The Range checks (c) ask the reference server's static port in reference mode (git
# http-backend does not implement Range). One check expects different text from each: the
# `unpack` line for a pack with a bad trailing checksum is ours `unpack pack checksum mismatch
# (pack is corrupted)`, git's `unpack unpack-objects abnormal exit` (git unpacks pushes of < 100
# objects with unpack-objects).
# Everything else (including the 404 statuses themselves and the 200 of every receive-pack
# answer) is checked against both; the missing-objects wording `ng <ref> missing necessary
# objects` is git's own, so it is checked against both as well.
#
# The suite counts its checks: passed + failed + skipped must equal EXPECTED (below), the same in
# both modes, else it prints a `not ok` and fails, so a section that stops early fails the run.
set -u

# The number of checks (ok, not ok and skipped) one run makes. Change it with the checks.
EXPECTED=300

if [ $# -lt 1 ]; then
    echo "usage: $0 BASE_URL" >&2
    exit 2
fi
BASE=${1%/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REFERENCE=${E2E_REFERENCE:-0}
PROTOCOL=${E2E_PROTOCOL:-2}
case "$PROTOCOL" in 0 | 2) ;; *) echo "$0: E2E_PROTOCOL must be 0 or 2" >&2; exit 2 ;; esac
SCALE=${E2E_SCALE:-1}
OWNER=${E2E_OWNER:-e2e}
RUN_ID=$(date +%Y%m%d%H%M%S)-$$
if [ "$REFERENCE" = 1 ] && { [ -z "${E2E_REFERENCE_DIR:-}" ] || [ -z "${E2E_REFERENCE_STATIC:-}" ]; }; then
    echo "$0: E2E_REFERENCE=1 needs E2E_REFERENCE_DIR (the reference-server.sh DIR) and" \
        "E2E_REFERENCE_STATIC (its static URL)" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
PASS=0
FAIL=0
SKIP=0
cleanup() {
    if [ "$FAIL" -gt 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "# kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# Isolate git from the machine's configuration; never prompt; loopback only.
cat >"$TMP/gitconfig" <<'EOF'
[user]
	name = E2E Tester
	email = e2e@example.test
[init]
	defaultBranch = main
[advice]
	detachedHead = false
	nestedTag = false
[core]
	autocrlf = false
[uploadpack]
	allowFilter = true
EOF
# The protocol git fetches with (see E2E_PROTOCOL above).
printf '[protocol]\n\tversion = %s\n' "$PROTOCOL" >>"$TMP/gitconfig"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$TMP/gitconfig" GIT_TERMINAL_PROMPT=0
export GIT_HTTP_LOW_SPEED_LIMIT=1 GIT_HTTP_LOW_SPEED_TIME=300
unset GIT_ASKPASS SSH_ASKPASS
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

# Pushes authenticate with the admin token when there is one (see E2E_ADMIN_TOKEN above). The
# helper reads the token from the environment when git runs it, so any token text is safe; git
# consults it only after a 401. AUTH: the curl arguments of hand-made pushes.
ADMIN=${E2E_ADMIN_TOKEN:-}
AUTH=()
if [ -n "$ADMIN" ]; then
    export E2E_ADMIN_TOKEN=$ADMIN
    cat >>"$TMP/gitconfig" <<'EOF'
[credential]
	helper = "!f() { echo username=x; echo \"password=$E2E_ADMIN_TOKEN\"; }; f"
EOF
    AUTH=(-u "x:$ADMIN")
fi

# ---------------------------------------------------------------------------------------------
# Helpers

# check NAME CMD...: runs CMD, counts the result, prints its output as diagnostics on failure.
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"
# skip NAME WHY: a check that does not apply to this server.
skip() {
    SKIP=$((SKIP + 1))
    echo "ok - $1 # SKIP $2"
}
ours() { [ "$REFERENCE" != 1 ]; }

# new_repo NAME: prints the URL of a new repository; in reference mode creates it first.
new_repo() {
    local path="$OWNER/$1-$RUN_ID"
    if [ "$REFERENCE" = 1 ]; then
        "$ROOT/tests/support/reference-server.sh" create "$E2E_REFERENCE_DIR" "$path" >/dev/null
    fi
    echo "$BASE/$path.git"
}

# Every network command runs under a time limit, so a hanging server fails a check, not the run.
LIMIT=${E2E_TIMEOUT:-600}
dumb() { GIT_SMART_HTTP=0 timeout "$LIMIT" "$@"; }

# get URL OUT: GET into OUT, fails on a non-2xx status.
get() { curl -sS --fail --max-time 300 -o "$2" "$1"; }

refs_of() { # GITDIR [PATTERN...]
    local d=$1
    shift
    git -C "$d" for-each-ref --format='%(objectname) %(objecttype) %(refname)' "$@"
}

same_refs() { # EXPECTED_GITDIR ACTUAL_GITDIR: same refs/heads and refs/tags
    diff -u <(refs_of "$1" refs/heads refs/tags) <(refs_of "$2" refs/heads refs/tags)
}

# The clone's remote-tracking branches and tags equal the source's branches and tags.
clone_refs_match() { # SOURCE CLONE
    diff -u <(git -C "$1" for-each-ref --format='%(objectname) %(refname:lstrip=2)' refs/heads) \
        <(git -C "$2" for-each-ref --format='%(objectname) %(refname:lstrip=3)' refs/remotes/origin |
            grep -v ' HEAD$') &&
        diff -u <(refs_of "$1" refs/tags) <(refs_of "$2" refs/tags)
}

same_tree() { # SOURCE_REV_IN_SRC CLONE_DIR: checked-out tree equals, work tree clean, on main
    local want got branch
    want=$(git -C "$SRC" rev-parse "$1^{tree}") || return 1
    got=$(git -C "$2" rev-parse 'HEAD^{tree}') || return 1
    branch=$(git -C "$2" symbolic-ref HEAD) || return 1
    echo "tree: want $want got $got; HEAD -> $branch"
    [ "$want" = "$got" ] || return 1
    [ "$branch" = refs/heads/main ] || return 1
    [ -z "$(git -C "$2" status --porcelain)" ] || { git -C "$2" status --porcelain; return 1; }
    # Files on disk, not only the index: compare every file's content and mode to the tree.
    git -C "$2" diff --quiet HEAD -- || return 1
}

fsck() { git -C "$1" fsck --full --no-progress; }

# info_refs URL OUT
info_refs() { get "$1/info/refs" "$2"; }

push_capture() { # DIR ARGS...: git push, output kept in $TMP/push.out
    local d=$1
    shift
    timeout "$LIMIT" git -C "$d" push "$@" >"$TMP/push.out" 2>&1
    local rc=$?
    cat "$TMP/push.out"
    return $rc
}

contains() { # FILE TEXT: FILE contains TEXT (fixed string, binary-safe)
    if grep -a -q -F -- "$2" "$1"; then return 0; fi
    echo "expected to find: $2"
    echo "--- in $1:"
    head -c 3000 "$1" | cat -v
    echo
    return 1
}
lacks() { # FILE TEXT
    if ! grep -a -q -F -- "$2" "$1"; then return 0; fi
    echo "did not expect: $2"
    echo "--- in $1:"
    head -c 3000 "$1" | cat -v
    echo
    return 1
}

# pkt_cmd OLD NEW REF: one receive-pack command pkt-line with `report-status`, as in the brief:
# <4-hex-len><old> <new> <ref>\0report-status\n
pkt_cmd() {
    local cmd="$1 $2 $3" caps='report-status'
    printf '%04x%s\0%s\n' $((4 + ${#cmd} + 1 + ${#caps} + 1)) "$cmd" "$caps"
}

# raw_push URL OLD NEW REF PACKFILE OUT: POSTs a hand-made receive-pack request, body to OUT
# (with the admin token, if any).
raw_push() {
    local url=$1 old=$2 new=$3 ref=$4 pack=$5 out=$6
    {
        pkt_cmd "$old" "$new" "$ref"
        printf '0000'
        cat "$pack"
    } >"$out.req"
    curl -sS --max-time 300 -H 'Expect:' "${AUTH[@]}" \
        -H 'Content-Type: application/x-git-receive-pack-request' \
        -H 'Accept: application/x-git-receive-pack-result' \
        --data-binary @"$out.req" -o "$out" -w '%{http_code}\n' "$url/git-receive-pack" >"$out.status"
}

# pkt_lines FILE: the pkt-lines of FILE, one per line: a data packet's payload without its
# trailing newline and without anything from a NUL on (capabilities), a flush packet as 0000.
# Fails on anything that is not pkt-lines.
pkt_lines() {
    python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
i = 0
while i < len(data):
    n = int(data[i:i + 4], 16)
    if n == 0:
        print("0000")
        i += 4
        continue
    if n < 4 or i + n > len(data):
        sys.exit("bad pkt-line length %d at offset %d" % (n, i))
    payload = data[i + 4:i + n].split(b"\0")[0]
    if payload.endswith(b"\n"):
        payload = payload[:-1]
    print(payload.decode("utf-8", "replace"))
    i += n
' "$1"
}
# report_is OUT LINE...: the receive-pack answer OUT is exactly these pkt-lines and a flush.
report_is() {
    local out=$1
    shift
    diff -u <(printf '%s\n' "$@" 0000) <(pkt_lines "$out")
}
# raw_status_is OUT CODE: raw_push got HTTP status CODE for OUT.
raw_status_is() {
    echo "HTTP $(cat "$1.status")"
    [ "$(cat "$1.status")" = "$2" ]
}
# pack_of NEW OUT: a pack (OUT) of NEW's objects that are not in main ($MAIN), and OUT.objects,
# the ids it holds (read back from the pack with git index-pack and git show-index).
pack_of() {
    printf '%s\n^%s\n' "$1" "$MAIN" | git -C "$SRC" pack-objects -q --revs --stdout >"$2" || return 1
    git -C "$SRC" index-pack -o "$2.idx" "$2" >/dev/null || return 1
    git show-index <"$2.idx" | cut -d' ' -f2 | sort >"$2.objects"
}
# packs_snapshot URL OUT: objects/info/packs into OUT.
packs_snapshot() { get "$1/objects/info/packs" "$2"; }
unchanged_packs() { # URL BEFORE_FILE: objects/info/packs byte for byte as before (no new pack)
    get "$1/objects/info/packs" "$TMP/after.packs" || return 1
    cat "$TMP/after.packs"
    cmp "$2" "$TMP/after.packs" || { diff -u "$2" "$TMP/after.packs"; return 1; }
}
not_served() { # URL IDS_FILE: each object listed (at least one) answers 404 as a loose object
    local id code n=0 bad=0
    while read -r id; do
        n=$((n + 1))
        code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' "$1/objects/${id:0:2}/${id:2}")
        echo "GET objects/${id:0:2}/${id:2} -> $code"
        [ "$code" = 404 ] || bad=1
    done <"$2"
    [ "$n" -ge 1 ] || { echo "no objects listed in $2"; return 1; }
    [ "$bad" = 0 ]
}
ref_is() { # GITDIR REF ID: REF resolves to ID in GITDIR
    local got
    got=$(git -C "$1" rev-parse --verify -q "$2")
    echo "$2: want $3 got ${got:-nothing}"
    [ -n "$3" ] && [ "$got" = "$3" ]
}

contains_all() { # FILE TEXT...
    local f=$1
    shift
    while [ $# -gt 0 ]; do
        contains "$f" "$1" || return 1
        shift
    done
}
nonempty() { # VALUE ERRFILE: VALUE is not empty (else show ERRFILE)
    [ -n "$1" ] || { cat "$2"; return 1; }
}
symref_is() { # GITDIR REF
    local got
    got=$(git -C "$1" symbolic-ref HEAD) || return 1
    echo "HEAD -> $got"
    [ "$got" = "$2" ]
}
status_is() { # CODE URL: a GET of URL answers CODE
    local got
    got=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' "$2")
    echo "GET $2 -> $got"
    [ "$got" = "$1" ]
}
info_refs_has() { # URL LINE: info/refs has exactly this line
    info_refs "$1" "$TMP/got.refs" || return 1
    cat "$TMP/got.refs"
    grep -q -x -F -- "$2" "$TMP/got.refs"
}

unchanged_refs() { # URL BEFORE_FILE
    info_refs "$1" "$TMP/after.refs" || return 1
    diff -u "$2" "$TMP/after.refs"
}

new_commit() { # DIR PARENT MESSAGE: prints a new commit (not on any branch) with one new file
    local d=$1 parent=$2 msg=$3 blob tree
    blob=$(printf '%s\n' "$msg" | git -C "$d" hash-object -w --stdin) || return 1
    tree=$( {
        git -C "$d" ls-tree "$parent^{tree}"
        printf '100644 blob %s\traw-%s.txt\n' "$blob" "$RUN_ID"
    } | git -C "$d" mktree) || return 1
    git -C "$d" commit-tree "$tree" -p "$parent" -m "$msg"
}

echo "# e2e against $BASE (reference mode: $REFERENCE, protocol v$PROTOCOL), run $RUN_ID, tmp $TMP"

# ---------------------------------------------------------------------------------------------
# a. Full push of a generated repository, dumb mirror clone and dumb normal clone.
SRC=$TMP/src
if ! "$HERE/make-repo.sh" "$SRC" "$SCALE" >"$TMP/make-repo.log" 2>&1; then
    echo "# make-repo.sh failed:"
    sed 's/^/#   /' "$TMP/make-repo.log"
    FAIL=$((FAIL + 1))
    echo "not ok - a: generate the source repository"
    echo "e2e: $PASS passed, $FAIL failed"
    exit 1
fi
URL=$(new_repo demo)
echo "# repository $URL"

fixture_ok() {
    local objects big
    objects=$(git -C "$SRC" rev-list --all --objects | wc -l)
    big=$(git -C "$SRC" cat-file --batch-all-objects --batch-check='%(objectsize) %(objecttype)' |
        awk '$2 == "blob" && $1 > 2097152' | wc -l)
    echo "objects: $objects, blobs > 2 MB: $big"
    [ "$objects" -gt 100 ] && [ "$big" -ge 1 ]
}
check "a: source fixture has > 100 objects and a blob > 2 MB" fixture_ok

check "a: push all branches and tags to a new repository" \
    push_capture "$SRC" "$URL" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
check "a: push output reports new branches and tags" \
    contains_all "$TMP/push.out" "[new branch]" "[new tag]"

MIRROR=$TMP/mirror.git
check "a: GIT_SMART_HTTP=0 git clone --mirror" dumb git clone -q --mirror "$URL" "$MIRROR"
check "a: mirror's for-each-ref equals the source's" same_refs "$SRC" "$MIRROR"
check "a: mirror passes git fsck --full" fsck "$MIRROR"
check "a: mirror's HEAD is refs/heads/main" \
    symref_is "$MIRROR" refs/heads/main

CLONE=$TMP/clone
check "a: GIT_SMART_HTTP=0 git clone" dumb git clone -q "$URL" "$CLONE"
check "a: clone checks out the tree of the source's main" same_tree main "$CLONE"
check "a: clone's remote branches and tags equal the source's" clone_refs_match "$SRC" "$CLONE"
check "a: clone passes git fsck --full" fsck "$CLONE"

# ---------------------------------------------------------------------------------------------
# b. Incremental push of 3 commits (< 100 objects), dumb fetch in the earlier clones.
OLD_MAIN=$(git -C "$SRC" rev-parse main)
incremental_commits() {
    local i n
    for i in 1 2 3; do
        printf 'incremental %s\n' "$i" >>"$SRC/notes/incremental.txt"
        printf 'tweak %s\n' "$i" >>"$SRC/src/main.c"
        git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Incremental commit $i" || return 1
    done
    n=$(git -C "$SRC" rev-list --count "$OLD_MAIN..main")
    echo "new commits on main: $n"
    [ "$n" = 3 ]
}
check "b: commit 3 incremental commits in the source" incremental_commits
B_NEW=$(git -C "$SRC" rev-parse main)
small_push() {
    local n
    n=$(git -C "$SRC" rev-list --objects "$OLD_MAIN..main" | wc -l)
    echo "objects in the push: $n"
    [ "$n" -lt 100 ]
}
check "b: the incremental push holds fewer than 100 objects" small_push
check "b: push 3 new commits" push_capture "$SRC" "$URL" main
check "b: push output reports the fast-forward" \
    contains "$TMP/push.out" "${OLD_MAIN:0:7}..$(git -C "$SRC" rev-parse --short=7 main)  main -> main"
check "b: GIT_SMART_HTTP=0 git fetch in the mirror" dumb git -C "$MIRROR" fetch -q
check "b: the mirror's main is the source's new commit" ref_is "$MIRROR" refs/heads/main "$B_NEW"
check "b: mirror's for-each-ref equals the source's" same_refs "$SRC" "$MIRROR"
check "b: mirror passes git fsck --full" fsck "$MIRROR"
check "b: GIT_SMART_HTTP=0 git pull --ff-only in the clone" dumb git -C "$CLONE" pull -q --ff-only
check "b: clone checks out the new main" same_tree main "$CLONE"
check "b: the clone's HEAD is the source's new commit" ref_is "$CLONE" HEAD "$B_NEW"
check "b: clone's remote branches and tags equal the source's" clone_refs_match "$SRC" "$CLONE"
check "b: clone passes git fsck --full" fsck "$CLONE"

# ---------------------------------------------------------------------------------------------
# c. Byte-level checks: info/refs as git update-server-info writes it; .idx as index-pack does.
expected_info_refs() {
    rm -rf "$TMP/expected.git"
    git clone -q --mirror "$SRC" "$TMP/expected.git" && git -C "$TMP/expected.git" update-server-info
}
info_refs_identical() {
    expected_info_refs || return 1
    info_refs "$URL" "$TMP/got.refs" || return 1
    cmp "$TMP/expected.git/info/refs" "$TMP/got.refs" || {
        diff -u "$TMP/expected.git/info/refs" "$TMP/got.refs"
        return 1
    }
}
check "c: info/refs is byte-identical to git update-server-info's" info_refs_identical

idx_identical() {
    local d=$TMP/packs name n=0 bad=0
    rm -rf "$d" && mkdir -p "$d" || return 1
    get "$URL/objects/info/packs" "$d/packs" || return 1
    echo "objects/info/packs:"
    cat "$d/packs"
    while read -r tag name; do
        [ "$tag" = P ] || continue
        case "$name" in pack-*.pack) ;; *) echo "bad line: P $name"; return 1 ;; esac
        n=$((n + 1))
        mkdir "$d/$n"
        get "$URL/objects/pack/$name" "$d/$n/$name" || return 1
        get "$URL/objects/pack/${name%.pack}.idx" "$d/$n/server.idx" || return 1
        git -c pack.writeReverseIndex=false index-pack -o "$d/$n/local.idx" "$d/$n/$name" || return 1
        if cmp "$d/$n/server.idx" "$d/$n/local.idx"; then
            echo "$name: .idx identical ($(stat -c %s "$d/$n/server.idx") bytes)"
        else
            echo "$name: .idx differs from git index-pack's"
            bad=1
        fi
    done <"$d/packs"
    [ "$n" -ge 1 ] || { echo "no pack listed"; return 1; }
    [ "$bad" = 0 ]
}
check "c: every stored pack's .idx is byte-identical to git index-pack's" idx_identical

# Range requests on the first stored pack (the full push's, > 2 MB): the answer is 206 with
# Content-Range and exactly that slice of the whole file. The open range starts 1000 bytes
# before the 1 MiB mark, so it spans the server's 1 MiB storage rows.
# git http-backend does not implement Range (lighttpd applies it to the CGI's output, and for a
# spooled response sends the headers of a 206 and no body), so in reference mode these two ask
# the static file server of the same repositories (E2E_REFERENCE_STATIC), as dumb clients would.
RANGE_URL=$URL
if ! ours; then RANGE_URL=${E2E_REFERENCE_STATIC%/}${URL#"$BASE"}; fi
RANGE=$TMP/range
mkdir -p "$RANGE"
RANGE_PACK=$(sed -n 's/^P \(pack-[0-9a-f]*\.pack\)$/\1/p' "$TMP/packs/packs" 2>/dev/null | head -n 1)
get "$RANGE_URL/objects/pack/$RANGE_PACK" "$RANGE/whole.pack" || echo "# could not GET the pack $RANGE_PACK"
ranged_get() { # RANGE FIRST LAST: GET with Range: bytes=RANGE is 206, bytes FIRST-LAST/SIZE
    local size code
    size=$(stat -c %s "$RANGE/whole.pack") || return 1
    [ -n "$RANGE_PACK" ] && [ "$size" -gt "$3" ] && [ "$3" -gt "$2" ] || { echo "pack '$RANGE_PACK' of $size bytes is too small"; return 1; }
    code=$(curl -s --max-time 300 -H "Range: bytes=$1" -D "$RANGE/headers" -o "$RANGE/got" \
        -w '%{http_code}' "$RANGE_URL/objects/pack/$RANGE_PACK") || return 1
    echo "GET $RANGE_URL/objects/pack/$RANGE_PACK, Range: bytes=$1 -> $code"
    tr -d '\r' <"$RANGE/headers"
    [ "$code" = 206 ] || return 1
    tr -d '\r' <"$RANGE/headers" | grep -i -q -x -F "content-range: bytes $2-$3/$size" ||
        { echo "expected Content-Range: bytes $2-$3/$size"; return 1; }
    tail -c +$(($2 + 1)) "$RANGE/whole.pack" | head -c $(($3 - $2 + 1)) >"$RANGE/want"
    echo "body: $(stat -c %s "$RANGE/got") bytes, expected $(stat -c %s "$RANGE/want")"
    cmp "$RANGE/want" "$RANGE/got"
}
check "c: GET of a stored pack with Range: bytes=100-199 is 206, Content-Range and that slice" \
    ranged_get 100-199 100 199
RANGE_SIZE=$(stat -c %s "$RANGE/whole.pack" 2>/dev/null || echo 0)
check "c: GET of a stored pack with Range: bytes=1047576- is 206, Content-Range and the rest of the file" \
    ranged_get 1047576- 1047576 $((RANGE_SIZE - 1))

# ---------------------------------------------------------------------------------------------
# d. isomorphic-git pushes to a new repository; git reads it back over dumb HTTP.
ISO=$TMP/iso
ISO_URL=$(new_repo iso)
iso() { timeout "$LIMIT" node "$HERE/isogit.mjs" "$@"; }
# iso_push DIR URL [BRANCH]: isomorphic-git push, with the admin token (if any) for its onAuth.
iso_push() { ISOGIT_TOKEN=$ADMIN timeout "$LIMIT" node "$HERE/isogit.mjs" push "$@"; }
mkdir -p "$ISO/lib/deep" "$ISO/bin"
printf 'hello from isomorphic-git\n' >"$ISO/README.md"
printf 'export const answer = 42;\n' >"$ISO/lib/deep/answer.js"
: >"$ISO/lib/empty.txt"
head -c 100000 /dev/urandom >"$ISO/bin/data.bin"
check "d: isomorphic-git init" iso init "$ISO"
ISO_C1=$(iso commit "$ISO" "First commit from isomorphic-git" 1700000000 2>"$TMP/iso.err")
check "d: isomorphic-git commit" nonempty "$ISO_C1" "$TMP/iso.err"
check "d: isomorphic-git push to a new repository" iso_push "$ISO" "$ISO_URL"
printf 'second line\n' >>"$ISO/README.md"
printf 'more\n' >"$ISO/lib/more.txt"
rm "$ISO/lib/empty.txt"
head -c 50000 /dev/urandom >"$ISO/bin/data.bin"
ISO_C2=$(iso commit "$ISO" "Second commit from isomorphic-git" 1700003600 2>"$TMP/iso.err")
check "d: isomorphic-git second commit" nonempty "$ISO_C2" "$TMP/iso.err"
check "d: isomorphic-git pushes the second commit" iso_push "$ISO" "$ISO_URL"
ISO_CLONE=$TMP/iso-clone
check "d: GIT_SMART_HTTP=0 git clone of the isomorphic-git repository" dumb git clone -q "$ISO_URL" "$ISO_CLONE"
iso_matches() {
    local want got
    want=$(git -C "$ISO" log --format='%H %T %s' main) || return 1
    got=$(git -C "$ISO_CLONE" log --format='%H %T %s' HEAD) || return 1
    printf 'isomorphic-git:\n%s\nclone:\n%s\n' "$want" "$got"
    [ "$want" = "$got" ] || return 1
    [ "$(git -C "$ISO_CLONE" rev-parse HEAD)" = "$ISO_C2" ] || return 1
    [ "$(printf '%s\n' "$got" | wc -l)" = 2 ] || return 1
    [ "$(git -C "$ISO_CLONE" symbolic-ref HEAD)" = refs/heads/main ] || return 1
    [ -z "$(git -C "$ISO_CLONE" status --porcelain)" ] || return 1
    diff -r --exclude=.git "$ISO" "$ISO_CLONE"
}
check "d: the clone has both commits and the same tree" iso_matches
check "d: the clone passes git fsck --full" fsck "$ISO_CLONE"
git -C "$ISO" branch other main
check "d: isomorphic-git pushes an existing commit to a new branch (empty pack)" \
    iso_push "$ISO" "$ISO_URL" other
check "d: info/refs lists the new branch" \
    info_refs_has "$ISO_URL" "$ISO_C2	refs/heads/other"

# ---------------------------------------------------------------------------------------------
# e. Branch deletion and force push.
check "e: push deleting refs/heads/topic" push_capture "$SRC" "$URL" :refs/heads/topic
check "e: push output reports the deletion" contains "$TMP/push.out" "[deleted]"
topic_gone() {
    info_refs "$URL" "$TMP/got.refs" || return 1
    cat "$TMP/got.refs"
    grep -q -F "	refs/heads/main" "$TMP/got.refs" || { echo "refs/heads/main missing"; return 1; }
    ! grep -F "refs/heads/topic" "$TMP/got.refs"
}
check "e: refs/heads/topic is gone from info/refs, main still there" topic_gone
git -C "$SRC" branch -q -D topic
OLD_FEATURE=$(git -C "$SRC" rev-parse feature)
rewrite_feature() {
    local new
    git -C "$SRC" checkout -q feature &&
        git -C "$SRC" commit -q --amend -m "Feature part, rewritten" &&
        git -C "$SRC" checkout -q main || return 1
    new=$(git -C "$SRC" rev-parse feature)
    echo "feature: $OLD_FEATURE -> $new"
    [ "$new" != "$OLD_FEATURE" ] && [ "$(git -C "$SRC" rev-parse "$new^")" = "$(git -C "$SRC" rev-parse "$OLD_FEATURE^")" ]
}
check "e: rewrite the source's feature branch tip (amend)" rewrite_feature
NEW_FEATURE=$(git -C "$SRC" rev-parse feature)
rewritten_rejected() {
    if timeout "$LIMIT" git -C "$SRC" push "$URL" feature >"$TMP/push.out" 2>&1; then
        cat "$TMP/push.out"
        echo "push succeeded"
        return 1
    fi
    cat "$TMP/push.out"
    grep -F "[rejected]" "$TMP/push.out"
}
check "e: a push of the rewritten branch without --force is [rejected]" rewritten_rejected
check "e: git push --force of the rewritten branch" push_capture "$SRC" --force "$URL" feature
check "e: push output reports the forced update" contains "$TMP/push.out" "(forced update)"
check "e: info/refs has the new value of refs/heads/feature" \
    info_refs_has "$URL" "$NEW_FEATURE	refs/heads/feature"
check "e: GIT_SMART_HTTP=0 git fetch --prune in the mirror" dumb git -C "$MIRROR" fetch -q --prune
check "e: the mirror's feature is the rewritten commit" ref_is "$MIRROR" refs/heads/feature "$NEW_FEATURE"
check "e: mirror's for-each-ref equals the source's" same_refs "$SRC" "$MIRROR"
check "e: mirror passes git fsck --full" fsck "$MIRROR"
check "e: info/refs still byte-identical to git update-server-info's" info_refs_identical

# ---------------------------------------------------------------------------------------------
# f. Rejections: the messages git/the server print; refs, packs and loose objects unchanged
#    afterwards. Then what the server itself accepts and refuses, with hand-made requests.
BEFORE=$TMP/before.refs
BEFORE_PACKS=$TMP/before.packs
info_refs "$URL" "$BEFORE" || echo "# could not read info/refs"
packs_snapshot "$URL" "$BEFORE_PACKS" || echo "# could not read objects/info/packs"
MAIN=$(git -C "$SRC" rev-parse main)
ZERO=0000000000000000000000000000000000000000

# unchanged_after WHAT [IDS_FILE [KEPT_BY_GIT]]: the checks after a refused push: info/refs and
# objects/info/packs byte for byte as before (no new pack), and no object listed in IDS_FILE (the
# objects the push carried) served. KEPT_BY_GIT=1: git's receive-pack moves the pushed objects
# out of its quarantine before it tries the ref updates and serves them afterwards, so that one
# check is ours only.
unchanged_after() {
    check "f: refs unchanged after $1" unchanged_refs "$URL" "$BEFORE"
    check "f: objects/info/packs unchanged after $1" unchanged_packs "$URL" "$BEFORE_PACKS"
    [ $# -ge 2 ] || return 0
    if ours || [ "${3:-0}" != 1 ]; then
        check "f: the objects carried by $1 are not served (404 each)" not_served "$URL" "$2"
    else
        skip "f: the objects carried by $1 are not served (404 each)" \
            "git's receive-pack keeps a refused push's objects (quarantine migrated before the ref update)"
    fi
}
# refused_as OUT REF: the report is `unpack ok`, one `ng REF <reason>` and the flush.
refused_as() {
    pkt_lines "$1" >"$1.lines" || return 1
    cat "$1.lines"
    [ "$(wc -l <"$1.lines")" = 3 ] && [ "$(sed -n 1p "$1.lines")" = "unpack ok" ] &&
        case "$(sed -n 2p "$1.lines")" in "ng $2 "?*) true ;; *) false ;; esac &&
        [ "$(sed -n 3p "$1.lines")" = 0000 ]
}
# accepted_as OUT REF: HTTP 200 and the report is exactly `unpack ok`, `ok REF`.
accepted_as() { raw_status_is "$1" 200 && report_is "$1" "unpack ok" "ok $2"; }

# Non-fast-forward without --force: git's client refuses on its own (nothing reaches the server).
diverge_commit() {
    git -C "$SRC" checkout -q -b diverge main~1 || return 1
    printf 'diverging\n' >"$SRC/diverge.txt"
    git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Diverging commit" &&
        git -C "$SRC" checkout -q main || return 1
    [ "$(git -C "$SRC" rev-parse diverge^)" = "$(git -C "$SRC" rev-parse main~1)" ]
}
check "f: commit a diverging commit on main~1 in the source" diverge_commit
DIVERGE=$(git -C "$SRC" rev-parse diverge)
nonff() {
    if timeout "$LIMIT" git -C "$SRC" push "$URL" diverge:main >"$TMP/push.out" 2>&1; then
        cat "$TMP/push.out"
        echo "push succeeded"
        return 1
    fi
    cat "$TMP/push.out"
    grep -F "[rejected]" "$TMP/push.out" | grep -F "diverge -> main (non-fast-forward)"
}
check "f: git's client refuses a non-fast-forward push on its own: [rejected] (non-fast-forward)" nonff
unchanged_after "the rejected non-fast-forward push"

# Hand-made requests.
RAW=$TMP/raw
mkdir -p "$RAW"
git -C "$SRC" pack-objects -q --stdout </dev/null >"$RAW/empty.pack"
: >"$RAW/none.pack" # a delete-only request carries no pack at all

# The server accepts a non-fast-forward update whose old value is right (git's receive-pack
# does: receive.denyNonFastForwards is false by default). On a scratch branch: created at main,
# moved to the diverging commit, deleted again.
SCRATCH=refs/heads/scratch-nonff
raw_push "$URL" "$ZERO" "$MAIN" "$SCRATCH" "$RAW/empty.pack" "$RAW/scratch-create.out"
check "f: create a scratch branch at main (raw request): HTTP 200, exactly unpack ok, ok $SCRATCH" \
    accepted_as "$RAW/scratch-create.out" "$SCRATCH"
pack_of "$DIVERGE" "$RAW/diverge.pack" || echo "# could not pack the diverging commit"
raw_push "$URL" "$MAIN" "$DIVERGE" "$SCRATCH" "$RAW/diverge.pack" "$RAW/nonff.out"
check "f: non-fast-forward update with the right old value (raw request): HTTP 200, exactly unpack ok, ok $SCRATCH" \
    accepted_as "$RAW/nonff.out" "$SCRATCH"
check "f: info/refs has the scratch branch at the diverging commit" \
    info_refs_has "$URL" "$DIVERGE	$SCRATCH"
raw_push "$URL" "$DIVERGE" "$ZERO" "$SCRATCH" "$RAW/none.pack" "$RAW/scratch-delete.out"
check "f: delete the scratch branch with the right old value (raw request): HTTP 200, exactly unpack ok, ok $SCRATCH" \
    accepted_as "$RAW/scratch-delete.out" "$SCRATCH"
check "f: refs as before once the scratch branch is deleted" unchanged_refs "$URL" "$BEFORE"
check "f: objects/info/packs as before after the scratch branch (its 3 objects are stored loose)" \
    unchanged_packs "$URL" "$BEFORE_PACKS"

STALE_NEW=$(new_commit "$SRC" main "Raw stale-old commit")
pack_of "$STALE_NEW" "$RAW/stale.pack" || echo "# could not pack the stale-old commit"
STALE_OLD=$(git -C "$SRC" rev-parse main~1)
raw_push "$URL" "$STALE_OLD" "$STALE_NEW" refs/heads/main "$RAW/stale.pack" "$RAW/stale.out"
check "f: stale old value (raw request): HTTP 200" raw_status_is "$RAW/stale.out" 200
stale_common() {
    echo "HTTP $(cat "$RAW/stale.out.status")"
    contains "$RAW/stale.out" "unpack ok" && contains "$RAW/stale.out" "ng refs/heads/main " &&
        refused_as "$RAW/stale.out" refs/heads/main
}
check "f: stale old value (raw request): unpack ok, ng refs/heads/main" stale_common
check "f: stale old value (raw request): ng refs/heads/main failed to update ref" \
    report_is "$RAW/stale.out" "unpack ok" "ng refs/heads/main failed to update ref"
unchanged_after "the stale old value" "$RAW/stale.pack.objects" 1

# A create (old = zeros) of a ref that exists is refused.
EXISTS_NEW=$(new_commit "$SRC" main "Raw create-existing commit")
pack_of "$EXISTS_NEW" "$RAW/exists.pack" || echo "# could not pack the create-existing commit"
raw_push "$URL" "$ZERO" "$EXISTS_NEW" refs/heads/main "$RAW/exists.pack" "$RAW/exists.out"
check "f: create of the existing refs/heads/main (raw request): HTTP 200" raw_status_is "$RAW/exists.out" 200
check "f: create of the existing refs/heads/main (raw request): unpack ok, ng refs/heads/main" \
    refused_as "$RAW/exists.out" refs/heads/main
check "f: create of the existing refs/heads/main (raw request): ng refs/heads/main failed to update ref" \
    report_is "$RAW/exists.out" "unpack ok" "ng refs/heads/main failed to update ref"
unchanged_after "the create of an existing ref" "$RAW/exists.pack.objects" 1

# A delete whose old value is stale is refused (feature, not main: git never deletes the
# branch HEAD names).
STALE_FEATURE=$(git -C "$SRC" rev-parse "$NEW_FEATURE~1")
raw_push "$URL" "$STALE_FEATURE" "$ZERO" refs/heads/feature "$RAW/none.pack" "$RAW/stale-delete.out"
check "f: delete of refs/heads/feature with a stale old value (raw request): HTTP 200" \
    raw_status_is "$RAW/stale-delete.out" 200
check "f: delete with a stale old value (raw request): unpack ok, ng refs/heads/feature" \
    refused_as "$RAW/stale-delete.out" refs/heads/feature
check "f: delete with a stale old value (raw request): ng refs/heads/feature failed to update ref" \
    report_is "$RAW/stale-delete.out" "unpack ok" "ng refs/heads/feature failed to update ref"
unchanged_after "the delete with a stale old value"

raw_push "$URL" "$ZERO" "$MAIN" refs/heads/bad..name "$RAW/empty.pack" "$RAW/funny.out"
check "f: invalid ref name (raw request): HTTP 200" raw_status_is "$RAW/funny.out" 200
check "f: invalid ref name (raw request): ng refs/heads/bad..name funny refname" \
    report_is "$RAW/funny.out" "unpack ok" "ng refs/heads/bad..name funny refname"
unchanged_after "the invalid ref name"

# A ref beside a ref that is its directory: no git repository can hold both, so git refuses it.
df_push() {
    if timeout "$LIMIT" git -C "$SRC" push "$URL" main:refs/heads/main/sub >"$TMP/df.out" 2>&1; then
        cat "$TMP/df.out"
        echo "push succeeded"
        return 1
    fi
    cat "$TMP/df.out"
    grep -F "[remote rejected]" "$TMP/df.out" | grep -F "main -> main/sub (failed to update ref)"
}
check "f: git push of refs/heads/main/sub beside refs/heads/main: [remote rejected] (failed to update ref)" df_push
unchanged_after "the push of refs/heads/main/sub"

# Two commands for one ref: git applies them in turn, so the second fails on the first's result.
{
    pkt_cmd "$ZERO" "$MAIN" refs/heads/dup
    cmd="$ZERO $MAIN refs/heads/dup"
    printf '%04x%s\n' $((4 + ${#cmd} + 1)) "$cmd"
    printf '0000'
    cat "$RAW/empty.pack"
} >"$RAW/dup.req"
curl -sS --max-time 300 -H 'Expect:' "${AUTH[@]}" -H 'Content-Type: application/x-git-receive-pack-request' \
    --data-binary @"$RAW/dup.req" -o "$RAW/dup.out" -w '%{http_code}\n' "$URL/git-receive-pack" >"$RAW/dup.out.status"
check "f: two creates of refs/heads/dup in one push (raw request): ok, then ng failed to update ref" \
    report_is "$RAW/dup.out" "unpack ok" "ok refs/heads/dup" "ng refs/heads/dup failed to update ref"
raw_push "$URL" "$MAIN" "$ZERO" refs/heads/dup "$RAW/none.pack" "$RAW/dup-delete.out"
check "f: delete refs/heads/dup (raw request): exactly unpack ok, ok refs/heads/dup" \
    accepted_as "$RAW/dup-delete.out" refs/heads/dup
unchanged_after "the duplicate commands and the delete"

CORRUPT_NEW=$(new_commit "$SRC" main "Raw corrupt-pack commit")
pack_of "$CORRUPT_NEW" "$RAW/good.pack" || echo "# could not pack the corrupt-pack commit"
flip_last_byte() { # IN OUT
    local size last
    size=$(stat -c %s "$1")
    last=$(tail -c 1 "$1" | od -An -tu1 | tr -d ' ')
    head -c $((size - 1)) "$1" >"$2"
    # shellcheck disable=SC2059 # the format is the octal escape of the flipped byte
    printf "\\$(printf '%03o' $((last ^ 255)))" >>"$2"
}
flip_last_byte "$RAW/good.pack" "$RAW/corrupt.pack"
raw_push "$URL" "$ZERO" "$CORRUPT_NEW" refs/heads/corrupt "$RAW/corrupt.pack" "$RAW/corrupt.out"
corrupt_reported() {
    cmp -s "$RAW/good.pack" "$RAW/corrupt.pack" && { echo "pack not corrupted"; return 1; }
    echo "HTTP $(cat "$RAW/corrupt.out.status")"
    contains "$RAW/corrupt.out" "unpack " || return 1
    lacks "$RAW/corrupt.out" "unpack ok" || return 1
    contains "$RAW/corrupt.out" "ng refs/heads/corrupt unpacker error"
}
check "f: corrupted pack checksum (raw request): unpack <error>, ng refs/heads/corrupt unpacker error" corrupt_reported
check "f: corrupted pack checksum (raw request): HTTP 200" raw_status_is "$RAW/corrupt.out" 200
# The pack's last byte (of its trailing SHA-1) is flipped: ours names the bad checksum; git
# unpacks < 100 objects with unpack-objects, which dies, and reports that.
if ours; then
    CORRUPT_UNPACK="unpack pack checksum mismatch (pack is corrupted)"
else
    CORRUPT_UNPACK="unpack unpack-objects abnormal exit"
fi
check "f: corrupted pack checksum (raw request): exactly '$CORRUPT_UNPACK', ng refs/heads/corrupt unpacker error" \
    report_is "$RAW/corrupt.out" "$CORRUPT_UNPACK" "ng refs/heads/corrupt unpacker error"
unchanged_after "the corrupted pack" "$RAW/good.pack.objects"

MISSING_NEW=$(new_commit "$SRC" main "Raw missing-objects commit")
raw_push "$URL" "$ZERO" "$MISSING_NEW" refs/heads/missing "$RAW/empty.pack" "$RAW/missing.out"
check "f: missing objects (raw request): HTTP 200" raw_status_is "$RAW/missing.out" 200
check "f: missing objects (raw request): ng refs/heads/missing missing necessary objects" \
    report_is "$RAW/missing.out" "unpack ok" "ng refs/heads/missing missing necessary objects"
unchanged_after "the missing objects"

# Limits (ours only: git http-backend has none of them by default). Each refusal names the
# limit and the [vars] entry that sets it, and changes nothing.
if ours; then
    big_file_push() {
        local work=$TMP/big-object
        rm -rf "$work" && git clone -q "$URL" "$work" 2>/dev/null || return 1
        head -c $((257 * 1048576)) /dev/zero >"$work/zeros.bin"
        git -C "$work" add zeros.bin && git -C "$work" commit -q -m "257 MiB of zeros" || return 1
        if timeout "$LIMIT" git -C "$work" push origin HEAD:refs/heads/big >"$TMP/big.out" 2>&1; then
            cat "$TMP/big.out"
            echo "push succeeded"
            return 1
        fi
        cat "$TMP/big.out"
        grep -F "HEAD -> big (unpacker error)" "$TMP/big.out" &&
            grep -F "bytes: over the limit of 268435456 (MAX_OBJECT_BYTES)" "$TMP/big.out"
    }
    check "f: git push of a 257 MiB file: [remote rejected] (unpacker error), the limit named" big_file_push
    unchanged_after "the push of a 257 MiB file"

    # 159 bytes that would build a 512 MiB object: a 64 KiB zero blob, then a delta of 8,192
    # copies of all of it.
    python3 - "$RAW/bomb.pack" <<'PY'
import hashlib, sys, zlib
def entry(type_number, data, extra=b""):
    size = len(data)
    head = bytearray([(type_number << 4) | (size & 15)])
    size >>= 4
    while size:
        head[-1] |= 0x80
        head.append(size & 0x7f)
        size >>= 7
    return bytes(head) + extra + zlib.compress(data)
first = entry(3, bytes(65536))
delta = bytes([0x80, 0x80, 0x04, 0x80, 0x80, 0x80, 0x80, 0x02]) + bytes([0x80]) * 8192
distance = len(first)
ofs = bytearray([distance & 0x7f])
distance >>= 7
while distance:
    distance -= 1
    ofs.insert(0, 0x80 | (distance & 0x7f))
    distance >>= 7
body = b"PACK" + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + first + entry(6, delta, bytes(ofs))
open(sys.argv[1], "wb").write(body + hashlib.sha1(body).digest())
open(sys.argv[1] + ".offset", "w").write(str(12 + len(first)))
PY
    raw_push "$URL" "$ZERO" "$MAIN" refs/heads/bomb "$RAW/bomb.pack" "$RAW/bomb.out"
    check "f: a $(wc -c <"$RAW/bomb.pack")-byte pack that would build 512 MiB (raw request): refused, MAX_OBJECT_BYTES named" \
        report_is "$RAW/bomb.out" \
        "unpack object at offset $(cat "$RAW/bomb.pack.offset") is 536870912 bytes: over the limit of 268435456 (MAX_OBJECT_BYTES)" \
        "ng refs/heads/bomb unpacker error"
    unchanged_after "the 159-byte pack"

    too_large_body() {
        head -c $((100 * 1048576 + 1)) /dev/zero >"$RAW/huge.req"
        code=$(curl -sS --max-time 300 "${AUTH[@]}" -H 'Content-Type: application/x-git-receive-pack-request' \
            --data-binary @"$RAW/huge.req" -o "$RAW/huge.out" -w '%{http_code}' "$URL/git-receive-pack")
        rm -f "$RAW/huge.req"
        echo "HTTP $code: $(cat "$RAW/huge.out")"
        [ "$code" = 413 ] && contains "$RAW/huge.out" \
            "push body of 104857601 bytes: over the limit of 104857600 (MAX_PUSH_BYTES)"
    }
    check "f: a push body over 100 MiB: 413, MAX_PUSH_BYTES named" too_large_body

    too_many_wants() {
        python3 - "$RAW/wants.req" <<'PY'
import os, sys
out = bytearray()
for i in range(100001):
    line = b"want %040x\n" % i
    out += b"%04x" % (len(line) + 4) + line
out += b"00000009done\n"
open(sys.argv[1], "wb").write(out)
PY
        curl -sS --max-time 300 -H 'Expect:' -H 'Content-Type: application/x-git-upload-pack-request' \
            --data-binary @"$RAW/wants.req" -o "$RAW/wants.out" "$URL/git-upload-pack" || return 1
        contains "$RAW/wants.out" "ERR upload-pack: too many wants: over the limit of 100000 (MAX_WANTS)"
    }
    check "f: an upload-pack request with 100,001 wants: ERR, MAX_WANTS named" too_many_wants
else
    for name in "git push of a 257 MiB file" "a 159-byte pack that would build 512 MiB" \
        "a push body over 100 MiB" "an upload-pack request with 100,001 wants"; do
        skip "f: $name: refused, the limit named" "git http-backend sets no such limit"
    done
    for after in "the push of a 257 MiB file" "the 159-byte pack"; do
        skip "f: refs unchanged after $after" "git http-backend sets no such limit"
        skip "f: objects/info/packs unchanged after $after" "git http-backend sets no such limit"
    done
fi

# ---------------------------------------------------------------------------------------------
# g. Plain HTTP answers.
root_page() {
    local code type
    code=$(curl -s --max-time 60 -o "$TMP/root.body" -w '%{http_code} %{content_type}' "$BASE/") || return 1
    echo "GET $BASE/ -> $code"
    type=${code#* }
    [ "${code%% *}" = 200 ] && case "$type" in text/plain*) true ;; *) false ;; esac
}
check "g: GET / is 200 text/plain" root_page
NEVER=$BASE/$OWNER/never-pushed-$RUN_ID.git
check "g: GET info/refs of a never-pushed repository is 404" \
    status_is 404 "$NEVER/info/refs"
check "g: GET HEAD of a never-pushed repository is 404" \
    status_is 404 "$NEVER/HEAD"
if ours; then
    curl -s --max-time 60 -o "$TMP/never.body" "$NEVER/info/refs"
    check "g: the 404 of info/refs of a never-pushed repository says 'repository not found'" \
        contains "$TMP/never.body" "repository not found"
    curl -s --max-time 60 -o "$TMP/never.body" "$NEVER/HEAD"
    check "g: the 404 of HEAD of a never-pushed repository says 'repository not found'" \
        contains "$TMP/never.body" "repository not found"
else
    skip "g: the 404 of info/refs of a never-pushed repository says 'repository not found'" "git http-backend sends an empty body"
    skip "g: the 404 of HEAD of a never-pushed repository says 'repository not found'" "git http-backend sends an empty body"
fi
head_is_main() { # URL
    get "$1/HEAD" "$TMP/head.body" || return 1
    cat -v "$TMP/head.body"
    [ "$(cat "$TMP/head.body"; echo x)" = "ref: refs/heads/main
x" ]
}
check "g: HEAD of the pushed repository is 'ref: refs/heads/main'" head_is_main "$URL"
check "g: HEAD of the isomorphic-git repository is 'ref: refs/heads/main'" head_is_main "$ISO_URL"
check "g: an unknown path in a repository is 404" \
    status_is 404 "$URL/no/such/path"
check "g: an unknown path outside any repository is 404" \
    status_is 404 "$BASE/no-such-path"
check "g: a loose-object path that does not exist is 404" \
    status_is 404 "$URL/objects/00/00000000000000000000000000000000000000"

# CORS (src/host/mod.rs): every answer, the preflight included, carries exactly these four headers.
cors_headers() { # HEADERS_FILE: each CORS header once with its exact value, and no other
    local norm=$1.norm line
    tr -d '\r' <"$1" | sed -E 's/^([^: ]+): */\L\1: /' >"$norm"
    cat "$norm"
    for line in 'access-control-allow-origin: *' \
        'access-control-allow-methods: GET, POST, PUT, PATCH, DELETE, OPTIONS' \
        'access-control-allow-headers: accept, authorization, cache-control, content-type, git-protocol, if-none-match, pragma, range, user-agent, x-authorization' \
        'access-control-expose-headers: accept-ranges, content-length, content-type, content-range, etag, www-authenticate, x-wasm-memory, x-rows-read, x-rows-written, x-instance-rows-read, x-instance-rows-written'; do
        [ "$(grep -c -x -F -- "$line" "$norm")" = 1 ] || { echo "expected once: $line"; return 1; }
    done
    [ "$(grep -c '^access-control-' "$norm")" = 4 ] || { echo "other access-control- headers"; return 1; }
}
cors_answer() { # CODE URL [CURL_ARGS...]: the request answers CODE with the CORS headers
    local code=$1 url=$2 got
    shift 2
    got=$(curl -s --max-time 60 -D "$TMP/cors.headers" -o /dev/null -w '%{http_code}' \
        -H 'Origin: http://app.example.test' "$@" "$url") || return 1
    echo "$* $url -> $got"
    [ "$got" = "$code" ] && cors_headers "$TMP/cors.headers"
}
if ours; then
    check "g: CORS preflight (OPTIONS git-upload-pack, POST, content-type,git-protocol) is 204 with the CORS headers" \
        cors_answer 204 "$URL/git-upload-pack" -X OPTIONS -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: content-type,git-protocol'
    check "g: GET info/refs?service=git-upload-pack is 200 with the CORS headers" \
        cors_answer 200 "$URL/info/refs?service=git-upload-pack"
    check "g: GET of an unknown path (404) carries the CORS headers" \
        cors_answer 404 "$BASE/no-such-path"
else
    skip "g: CORS preflight (OPTIONS git-upload-pack, POST, content-type,git-protocol) is 204 with the CORS headers" "git http-backend sends no CORS headers"
    skip "g: GET info/refs?service=git-upload-pack is 200 with the CORS headers" "git http-backend sends no CORS headers"
    skip "g: GET of an unknown path (404) carries the CORS headers" "git http-backend sends no CORS headers"
fi

# ---------------------------------------------------------------------------------------------
# h. Smart fetch (upload-pack): git with protocol version E2E_PROTOCOL and with v2, shallow
#    clones and fetches, isomorphic-git clone/fetch (v1), empty repositories.
smart() { timeout "$LIMIT" "$@"; }
commit_count() { # GITDIR EXPECTED
    local n
    n=$(git -C "$1" rev-list --count HEAD) || return 1
    echo "commits: $n, expected $2"
    [ "$n" = "$2" ]
}
is_shallow() { [ -s "$1/.git/shallow" ] || [ -s "$1/shallow" ]; }
not_shallow() { ! is_shallow "$1"; }
# server_refs GITDIR MIRROR|CLONE: the branches and tags of GITDIR (a mirror's refs/heads, or a
# clone's refs/remotes/origin) equal the server's info/refs, peeled lines aside.
server_refs() {
    info_refs "$URL" "$TMP/server-refs" || return 1
    local heads=refs/heads strip=2
    if [ "$2" = CLONE ]; then heads=refs/remotes/origin strip=3; fi
    diff -u <(grep -v '\^{}$' "$TMP/server-refs" | sed 's|\trefs/heads/|\t|; s|\trefs/tags/|\ttags/|' | sort) \
        <({ git -C "$1" for-each-ref --format="%(objectname)%09%(refname:lstrip=$strip)" "$heads" | awk -F'\t' '$2 != "HEAD"'
            git -C "$1" for-each-ref --format='%(objectname)%09tags/%(refname:lstrip=2)' refs/tags; } | sort)
}
# oracle NAME ARGS...: git's own upload-pack (over file://) clones the source (or ORACLE_SRC)
# into $TMP/oracle-NAME with git clone ARGS: what a correct server gives for the same clone.
oracle() {
    local dir=$TMP/oracle-$1
    shift
    rm -rf "$dir"
    git clone -q --no-local "$@" "file://${ORACLE_SRC:-$SRC}" "$dir"
}
# oracle_commits NAME ARGS...: oracle, then the commits of its HEAD, sorted.
oracle_commits() {
    local name=$1
    oracle "$@" && git -C "$TMP/oracle-$name" rev-list HEAD | sort
}
same_commits() { # DIR ORACLE_FILE
    [ -s "$2" ] || { echo "the oracle's commit list $2 is empty"; return 1; }
    diff -u "$2" <(git -C "$1" rev-list HEAD | sort)
}
shallow_list() { # DIR: its shallow file, sorted (nothing if it has none)
    local f=$1/.git/shallow
    [ -f "$f" ] || f=$1/shallow
    if [ -f "$f" ]; then sort "$f"; fi
}
same_shallow() { # DIR ORACLE_DIR: the same shallow commits, and there are some
    shallow_list "$2" >"$TMP/shallow.want" && shallow_list "$1" >"$TMP/shallow.got" || return 1
    echo "shallow commits: $(wc -l <"$TMP/shallow.got"), git's own server: $(wc -l <"$TMP/shallow.want")"
    [ -s "$TMP/shallow.want" ] || { echo "the oracle is not shallow"; return 1; }
    diff -u "$TMP/shallow.want" "$TMP/shallow.got"
}
object_set() { # DIR: every object in its object store, sorted, with its type
    git -C "$1" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)'
}
same_objects() { # DIR ORACLE_DIR: the same object set (not one object more or fewer)
    object_set "$2" >"$TMP/objects.want" && object_set "$1" >"$TMP/objects.got" || return 1
    echo "objects: $(wc -l <"$TMP/objects.got"), git's own server: $(wc -l <"$TMP/objects.want")"
    [ -s "$TMP/objects.want" ] || { echo "the oracle has no objects"; return 1; }
    diff -u "$TMP/objects.want" "$TMP/objects.got"
}

SMART_MIRROR=$TMP/smart-mirror.git
check "h: git clone --mirror (protocol v$PROTOCOL)" smart git clone -q --mirror "$URL" "$SMART_MIRROR"
check "h: smart mirror's branches and tags equal the server's" server_refs "$SMART_MIRROR" MIRROR
check "h: smart mirror passes git fsck --full" fsck "$SMART_MIRROR"

SMART_CLONE=$TMP/smart-clone
check "h: git clone with protocol v2" \
    smart git -c protocol.version=2 clone -q "$URL" "$SMART_CLONE"
check "h: smart clone checks out the source's main" same_tree main "$SMART_CLONE"
check "h: smart clone's remote branches and tags equal the server's" server_refs "$SMART_CLONE" CLONE
check "h: smart clone passes git fsck --full" fsck "$SMART_CLONE"

H_OLD=$(git -C "$SRC" rev-parse main)
smart_commits() {
    local i n
    for i in 1 2; do
        printf 'smart fetch %s\n' "$i" >>"$SRC/notes/smart.txt"
        git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Smart fetch commit $i" || return 1
    done
    n=$(git -C "$SRC" rev-list --count "$H_OLD..main")
    echo "new commits on main: $n"
    [ "$n" = 2 ]
}
check "h: commit 2 more commits in the source" smart_commits
H_NEW=$(git -C "$SRC" rev-parse main)
check "h: push 2 more commits" push_capture "$SRC" "$URL" main
check "h: git fetch in the smart mirror gets them" smart git -C "$SMART_MIRROR" fetch -q
check "h: the smart mirror's main is the source's new commit" ref_is "$SMART_MIRROR" refs/heads/main "$H_NEW"
check "h: smart mirror's branches and tags equal the server's after the fetch" server_refs "$SMART_MIRROR" MIRROR
check "h: smart mirror passes git fsck --full after the fetch" fsck "$SMART_MIRROR"
check "h: git pull --ff-only (protocol v2) in the smart clone" \
    smart git -c protocol.version=2 -C "$SMART_CLONE" pull -q --ff-only
check "h: smart clone checks out the new main" same_tree main "$SMART_CLONE"
check "h: the smart clone's HEAD is the source's new commit" ref_is "$SMART_CLONE" HEAD "$H_NEW"
check "h: smart clone passes git fsck --full after the pull" fsck "$SMART_CLONE"

advertises() { # SERVICE LINE: info/refs?service=SERVICE starts `# service=SERVICE`, flush, and
    # has the pkt-line LINE (capabilities aside). git-receive-pack's is asked with the admin token
    # (if any), git-upload-pack's anonymously.
    local auth=()
    if [ "$1" = git-receive-pack ]; then auth=("${AUTH[@]}"); fi
    curl -sS --fail --max-time 60 "${auth[@]}" -o "$TMP/adv.$1" "$URL/info/refs?service=$1" || return 1
    pkt_lines "$TMP/adv.$1" >"$TMP/adv.$1.lines" || return 1
    cat "$TMP/adv.$1.lines"
    [ "$(sed -n 1p "$TMP/adv.$1.lines")" = "# service=$1" ] &&
        [ "$(sed -n 2p "$TMP/adv.$1.lines")" = 0000 ] || { echo "bad service header"; return 1; }
    grep -q -x -F -- "$2" "$TMP/adv.$1.lines" || { echo "expected the line: $2"; return 1; }
}
check "h: info/refs?service=git-upload-pack advertises the source's main id as refs/heads/main" \
    advertises git-upload-pack "$H_NEW refs/heads/main"
check "h: info/refs?service=git-receive-pack advertises the source's main id as refs/heads/main" \
    advertises git-receive-pack "$H_NEW refs/heads/main"

# Requests over 1 KiB are gzipped by git: 60 local commits make a long list of haves. They are
# dated an hour ahead so git's negotiator sends them before the common origin/main: with equal
# dates it may send origin/main first, get `ready`, and never make a request long enough to gzip.
gzip_fetch() {
    local i now
    now=$(date +%s)
    for i in $(seq 60); do
        printf '%s\n' "$i" >"$SMART_CLONE/local-$i.txt"
        git -C "$SMART_CLONE" add -A &&
            GIT_COMMITTER_DATE="@$((now + 3600 + i)) +0000" GIT_AUTHOR_DATE="@$((now + 3600 + i)) +0000" \
                git -C "$SMART_CLONE" commit -q -m "local $i" || return 1
    done
    printf 'gzip\n' >>"$SRC/notes/smart.txt"
    git -C "$SRC" commit -q -am "Commit to fetch with a gzipped request" &&
        timeout "$LIMIT" git -C "$SRC" push -q "$URL" main || return 1
    GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 timeout "$LIMIT" git -C "$SMART_CLONE" fetch origin 2>"$TMP/gzip.trace" || return 1
    contains "$TMP/gzip.trace" "Content-Encoding: gzip" &&
        [ "$(git -C "$SMART_CLONE" rev-parse origin/main)" = "$(git -C "$SRC" rev-parse main)" ]
}
check "h: a fetch whose request git gzips (many haves) succeeds" gzip_fetch
check "h: the clone passes git fsck --full after the gzipped fetch" fsck "$SMART_CLONE"

SHALLOW=$TMP/shallow
check "h: git clone --depth 1" smart git clone -q --depth 1 "$URL" "$SHALLOW"
check "h: the depth-1 clone has one commit and is shallow" \
    sh -c "$(declare -f commit_count is_shallow); commit_count '$SHALLOW' 1 && is_shallow '$SHALLOW'"
check "h: the depth-1 clone checks out the source's main" same_tree main "$SHALLOW"
check "h: the depth-1 clone passes git fsck --full" fsck "$SHALLOW"
oracle deepen --depth 1 || echo "# the oracle's git clone --depth 1 failed"
check "h: the depth-1 clone's shallow list is git's own server's" same_shallow "$SHALLOW" "$TMP/oracle-deepen"
check "h: the depth-1 clone's objects are git's own server's" same_objects "$SHALLOW" "$TMP/oracle-deepen"
check "h: git fetch --deepen 2" smart git -C "$SHALLOW" fetch -q --deepen 2
{ git -C "$TMP/oracle-deepen" fetch -q --deepen 2 &&
    git -C "$TMP/oracle-deepen" rev-list HEAD | sort >"$TMP/oracle-deepen.list"; } >/dev/null
check "h: the deepened clone has the commits git's own server gives" same_commits "$SHALLOW" "$TMP/oracle-deepen.list"
check "h: the deepened clone's shallow list is git's own server's (deepen-relative)" same_shallow "$SHALLOW" "$TMP/oracle-deepen"
check "h: the deepened clone's objects are git's own server's (deepen-relative)" same_objects "$SHALLOW" "$TMP/oracle-deepen"
check "h: the deepened clone passes git fsck --full" fsck "$SHALLOW"
check "h: git fetch --unshallow" smart git -C "$SHALLOW" fetch -q --unshallow
check "h: the unshallowed clone has all of main's history and no shallow file" \
    sh -c "$(declare -f commit_count is_shallow not_shallow); commit_count '$SHALLOW' $(git -C "$SRC" rev-list --count main) && not_shallow '$SHALLOW'"
check "h: the unshallowed clone passes git fsck --full" fsck "$SHALLOW"

SINCE=$(git -C "$SRC" log -1 --format=%ct main~3)
SINCE_CLONE=$TMP/since
only_since() { # DIR TIME: every commit in DIR is at or after TIME
    local old
    old=$(git -C "$1" log --format='%ct %H' | awk -v t="$2" '$1 < t')
    echo "older commits: ${old:-none}"
    [ -z "$old" ] && is_shallow "$1"
}
check "h: git clone --shallow-since" smart git clone -q --shallow-since="$SINCE" "$URL" "$SINCE_CLONE"
check "h: the --shallow-since clone holds only commits since then" only_since "$SINCE_CLONE" "$SINCE"
oracle_commits since --shallow-since="$SINCE" >"$TMP/oracle-since.list"
check "h: the --shallow-since clone has the commits git's own server gives" same_commits "$SINCE_CLONE" "$TMP/oracle-since.list"
check "h: the --shallow-since clone's shallow list is git's own server's (deepen-since)" same_shallow "$SINCE_CLONE" "$TMP/oracle-since"
check "h: the --shallow-since clone's objects are git's own server's (deepen-since)" same_objects "$SINCE_CLONE" "$TMP/oracle-since"
check "h: the --shallow-since clone passes git fsck --full" fsck "$SINCE_CLONE"

# --shallow-exclude (deepen-not) of the annotated tag v0.2, where feature branched off: main's
# history without v0.2's, cut where the merged branches meet it.
EXCLUDE_CLONE=$TMP/exclude
check "h: git clone --shallow-exclude=v0.2" smart git clone -q --shallow-exclude=v0.2 "$URL" "$EXCLUDE_CLONE"
oracle_commits exclude --shallow-exclude=v0.2 >"$TMP/oracle-exclude.list"
check "h: the --shallow-exclude clone has the commits git's own server gives" same_commits "$EXCLUDE_CLONE" "$TMP/oracle-exclude.list"
check "h: the --shallow-exclude clone's shallow list is git's own server's (deepen-not)" same_shallow "$EXCLUDE_CLONE" "$TMP/oracle-exclude"
check "h: the --shallow-exclude clone's objects are git's own server's (deepen-not)" same_objects "$EXCLUDE_CLONE" "$TMP/oracle-exclude"
check "h: the --shallow-exclude clone checks out the source's main" same_tree main "$EXCLUDE_CLONE"
check "h: the --shallow-exclude clone passes git fsck --full" fsck "$EXCLUDE_CLONE"

EMPTY_URL=$(new_repo empty)
EMPTY_SRC=$TMP/empty-src
git init -q "$EMPTY_SRC" && git -C "$EMPTY_SRC" commit -q --allow-empty -m "only"
# As git's own server does, a push may not delete the branch HEAD names (the next clone would
# check nothing out).
no_delete_current() {
    timeout "$LIMIT" git -C "$EMPTY_SRC" push -q "$EMPTY_URL" main || return 1
    ! timeout "$LIMIT" git -C "$EMPTY_SRC" push "$EMPTY_URL" :main 2>"$TMP/delete-current.err" &&
        contains "$TMP/delete-current.err" "[remote rejected] main (deletion of the current branch prohibited)" &&
        contains "$TMP/delete-current.err" "remote: error: refusing to delete the current branch: refs/heads/main"
}
check "h: deleting the branch HEAD names is refused in git's words" no_delete_current
EMPTY_URL=$(new_repo empty-put)
if ours; then
    check "h: PUT api makes an empty repository" \
        curl -sS --fail --max-time 60 -X PUT "${AUTH[@]}" -o /dev/null "$EMPTY_URL/api"
else
    skip "h: PUT api makes an empty repository" "reference-server.sh create made it empty"
fi
check "h: git clone of an empty repository" \
    sh -c "timeout $LIMIT git clone '$EMPTY_URL' '$TMP/empty-clone' 2>'$TMP/empty-clone.err'"
check "h: git says it cloned an empty repository" contains "$TMP/empty-clone.err" "cloned an empty repository"

want_unknown() {
    local body="$TMP/unknown.req"
    {
        printf '0032want %s\n' 1234567890123456789012345678901234567890
        printf '00000009done\n'
    } >"$body"
    curl -sS --max-time 60 --data-binary @"$body" -H 'Content-Type: application/x-git-upload-pack-request' \
        -o "$TMP/unknown.out" "$URL/git-upload-pack" || return 1
    contains "$TMP/unknown.out" "not our ref 1234567890123456789012345678901234567890"
}
check "h: a want of an unknown object answers 'not our ref'" want_unknown
malformed_upload() {
    local status
    status=$(printf 'zzzz' | curl -s --max-time 60 --data-binary @- -o "$TMP/malformed.out" -w '%{http_code}' \
        -H 'Content-Type: application/x-git-upload-pack-request' "$URL/git-upload-pack")
    echo "status $status: $(cat "$TMP/malformed.out")"
    [ "$status" -ge 400 ] && [ "$status" -lt 500 ]
}
if ours; then
    check "h: a malformed upload-pack request answers 4xx with a reason" malformed_upload
else
    skip "h: a malformed upload-pack request answers 4xx with a reason" "git http-backend answers 200 and dies"
fi

# isomorphic-git speaks only smart HTTP.
ISO_SMART=$TMP/iso-smart
check "h: isomorphic-git clone" smart node "$HERE/isogit.mjs" clone "$ISO_SMART" "$URL"
iso_matches_source() { # DIR: same tree, same history, same branches and tags as the source
    local want got
    want=$(git -C "$SRC" rev-parse 'main^{tree}')
    got=$(git -C "$1" rev-parse 'HEAD^{tree}')
    echo "tree: want $want got $got"
    [ "$want" = "$got" ] || return 1
    diff -u <(git -C "$SRC" rev-list main | sort) <(node "$HERE/isogit.mjs" log "$1" | sort) || return 1
    git -C "$1" diff --quiet HEAD -- || return 1
    server_refs "$1" CLONE
}
check "h: the isomorphic-git clone has the source's tree and log, the server's branches and tags" iso_matches_source "$ISO_SMART"
check "h: the isomorphic-git clone passes git fsck --full" fsck "$ISO_SMART"
ISO_FETCH_OLD=$(git -C "$SRC" rev-parse main)
iso_fetch_commit() {
    printf 'iso fetch\n' >>"$SRC/notes/smart.txt"
    git -C "$SRC" commit -q -am "Commit for isomorphic-git to fetch" || return 1
    [ "$(git -C "$SRC" rev-parse main^)" = "$ISO_FETCH_OLD" ]
}
check "h: commit a commit for isomorphic-git to fetch in the source" iso_fetch_commit
ISO_FETCH_NEW=$(git -C "$SRC" rev-parse main)
check "h: push a commit for isomorphic-git to fetch" push_capture "$SRC" "$URL" main
check "h: isomorphic-git fetch" smart node "$HERE/isogit.mjs" fetch "$ISO_SMART"
check "h: the isomorphic-git clone's origin/main is the source's new commit" \
    ref_is "$ISO_SMART" refs/remotes/origin/main "$ISO_FETCH_NEW"
check "h: the isomorphic-git clone's HEAD is the source's new commit" ref_is "$ISO_SMART" HEAD "$ISO_FETCH_NEW"
check "h: after the fetch the isomorphic-git clone matches the source" iso_matches_source "$ISO_SMART"
printf 'from isomorphic-git\n' >"$ISO_SMART/iso-file.txt"
ISO_COMMIT=$(node "$HERE/isogit.mjs" commit "$ISO_SMART" "Commit from isomorphic-git" \
    $(($(git -C "$SRC" log -1 --format=%ct main) + 60)))
check "h: isomorphic-git pushes a commit" iso_push "$ISO_SMART" "$URL"
ISO_BACK=$TMP/iso-back
check "h: git clone gets isomorphic-git's commit" \
    sh -c "timeout $LIMIT git clone -q '$URL' '$ISO_BACK' && [ \"\$(git -C '$ISO_BACK' rev-parse HEAD)\" = '$ISO_COMMIT' ]"
check "h: that clone passes git fsck --full" fsck "$ISO_BACK"
ISO_SHALLOW=$TMP/iso-shallow
check "h: isomorphic-git clone with depth 1" smart node "$HERE/isogit.mjs" clone "$ISO_SHALLOW" "$URL" --depth 1
iso_log_is() { # DIR COUNT
    local n
    n=$(node "$HERE/isogit.mjs" log "$1" | wc -l)
    echo "isomorphic-git log: $n commits, expected $2"
    [ "$n" = "$2" ]
}
check "h: the isomorphic-git depth-1 clone has one commit" iso_log_is "$ISO_SHALLOW" 1
ISO_SINCE=$TMP/iso-since
check "h: isomorphic-git clone with since" \
    smart node "$HERE/isogit.mjs" clone "$ISO_SINCE" "$URL" --since "$SINCE"
check "h: the isomorphic-git since clone holds only commits since then" only_since "$ISO_SINCE" "$SINCE"
# git's own server, for the same --shallow-since clone of what the server holds now: the oracle
# clones ISO_BACK (the git clone above, whose main is isomorphic-git's commit; the source's is not).
ORACLE_SRC=$ISO_BACK oracle_commits iso-since --shallow-since="$SINCE" >"$TMP/oracle-iso-since.list"
iso_same_commits() { # DIR ORACLE_FILE: isomorphic-git's log of DIR, sorted, is ORACLE_FILE
    [ -s "$2" ] || { echo "the oracle's commit list $2 is empty"; return 1; }
    diff -u "$2" <(node "$HERE/isogit.mjs" log "$1" | sort)
}
check "h: the isomorphic-git since clone has the commits git's own server gives" \
    iso_same_commits "$ISO_SINCE" "$TMP/oracle-iso-since.list"

# Many small pushes leave loose objects and several packs; a clone must put them together.
MANY_URL=$(new_repo many)
many_pushes() {
    local total step rev
    total=$(git -C "$SRC" rev-list --count --first-parent main)
    for step in 40 30 20 12 6 3 0; do
        [ "$step" -lt "$total" ] || continue
        rev=$(git -C "$SRC" rev-parse "main~$step") || return 1
        git -C "$SRC" push -q "$MANY_URL" "$rev:refs/heads/main" || return 1
    done
    git -C "$SRC" push -q "$MANY_URL" 'refs/tags/*:refs/tags/*'
}
check "h: build a repository with many small pushes" many_pushes
MANY_CLONE=$TMP/many-clone.git
check "h: git clone --mirror of the many-pushes repository" smart git clone -q --mirror "$MANY_URL" "$MANY_CLONE"
check "h: it passes git fsck --full" fsck "$MANY_CLONE"
check "h: its main and tags equal the source's" \
    diff -u <(refs_of "$SRC" refs/heads/main refs/tags) <(refs_of "$MANY_CLONE" refs/heads/main refs/tags)

# Two versions of a 24 MB incompressible file, the second (smaller) stored by git as a delta of
# the first: larger than the 8 MiB the server holds whole, so reading the second back streams
# through scratch rows. A --depth 1 clone and a fetch from the first commit rebuild it.
VERSIONS=$TMP/versions
VERSIONS_URL=$(new_repo versions)
two_versions() {
    git init -q -b main "$VERSIONS" &&
        head -c 24000000 /dev/urandom >"$VERSIONS/big.bin" &&
        git -C "$VERSIONS" add big.bin && git -C "$VERSIONS" commit -q -m "first version" &&
        git -C "$VERSIONS" tag first &&
        python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[1], "wb").write(d[:1000] + b"second" + d[2000000:])' "$VERSIONS/big.bin" &&
        git -C "$VERSIONS" commit -q -am "second version" && git -C "$VERSIONS" repack -adq || return 1
    # git's own pack holds the second as a delta of the first, as the push will.
    git -C "$VERSIONS" verify-pack -v "$VERSIONS"/.git/objects/pack/*.idx |
        grep -E "^$(git -C "$VERSIONS" rev-parse main:big.bin) blob +[0-9]+ [0-9]+ [0-9]+ 1 $(git -C "$VERSIONS" rev-parse first:big.bin)" || return 1
    timeout "$LIMIT" git -C "$VERSIONS" push -q "$VERSIONS_URL" main first
}
check "h: push two versions of a 24 MB file, the second a delta of the first" two_versions
VERSIONS_SHALLOW=$TMP/versions-shallow
check "h: git clone --depth 1 of the two versions" smart git clone -q --depth 1 "$VERSIONS_URL" "$VERSIONS_SHALLOW"
same_file() { cmp "$1/big.bin" "$VERSIONS/big.bin" && fsck "$1"; }
check "h: its big file is the second version, and it passes git fsck --full" same_file "$VERSIONS_SHALLOW"
VERSIONS_FIRST=$TMP/versions-first.git
fetch_second() {
    smart git clone -q --bare --single-branch --branch first "$VERSIONS_URL" "$VERSIONS_FIRST" &&
        [ -z "$(git -C "$VERSIONS_FIRST" for-each-ref refs/heads)" ] &&
        smart git -C "$VERSIONS_FIRST" fetch -q origin main &&
        [ "$(git -C "$VERSIONS_FIRST" rev-parse FETCH_HEAD)" = "$(git -C "$VERSIONS" rev-parse main)" ] &&
        git -C "$VERSIONS_FIRST" cat-file -e "$(git -C "$VERSIONS" rev-parse main:big.bin)" &&
        fsck "$VERSIONS_FIRST"
}
check "h: a clone of the first version fetches the second, and passes git fsck --full" fetch_second
wasm_within() { # URL BYTES: the server's x-wasm-memory is at most BYTES
    local memory
    memory=$(curl -sI --max-time 60 "$1/info/refs" |
        awk 'tolower($1) == "x-wasm-memory:" { sub(/\r$/, "", $2); print $2 }')
    echo "x-wasm-memory: ${memory:-none}"
    [ -n "$memory" ] && [ "$memory" -le "$2" ]
}
if ours; then
    check "h: after all that, wasm memory is at most 64 MiB" wasm_within "$VERSIONS_URL" $((64 << 20))
else
    skip "h: after all that, wasm memory is at most 64 MiB" "git http-backend is not wasm"
fi

# ---------------------------------------------------------------------------------------------
# i. Access control (ours only, with the admin token E2E_ADMIN_TOKEN): pushes need a token (HTTP
#    Basic, the token as the password, or Bearer), write and read tokens, revocation and
#    expiry, private repositories, protected branches, the JSON API under <repository>.git/api.
#    Everything here that talks to the server runs inside an icheck, so a skipped section makes
#    no request and counts the same.
if ! ours; then
    I_SKIP="git http-backend has no tokens"
elif [ -z "$ADMIN" ]; then
    I_SKIP="no admin token"
else
    I_SKIP=
fi
# icheck NAME CMD...: check NAME, or skip it with the reason I_SKIP.
icheck() {
    if [ -n "$I_SKIP" ]; then skip "$1" "$I_SKIP"; else check "$@"; fi
}

# The server's refusals, word for word.
MSG_NEED='authentication required: send a token as the password (HTTP Basic) or as a Bearer token'
MSG_INVALID='invalid token: it is unknown, revoked or expired'
MSG_READ_ONLY='this token can only read: pushing needs a write token'
MSG_ADMIN='only the admin token can manage tokens and settings'
REALM='Basic realm="git-on-durable-objects"'
WRONG=gdo_0123456789abcdef0123456789abcdef # a token no server issued

# anon_git ARGS...: git with no credential helper at all (prompts are disabled), so a 401 fails.
anon_git() { timeout "$LIMIT" git -c credential.helper= "$@"; }
# tok_git TOKEN ARGS...: git whose only credential helper answers username x, password TOKEN
# (the form issue 8 gives users: the helper reads $T when git runs it).
tok_git() {
    local token=$1
    shift
    # shellcheck disable=SC2016 # $T is expanded by the helper's shell, not here
    T=$token timeout "$LIMIT" git -c credential.helper= \
        -c credential.helper='!f() { echo username=x; echo "password=$T"; }; f' "$@"
}
url_with() { # URL TOKEN: URL with x:TOKEN as its user information
    printf '%s://x:%s@%s\n' "${1%%://*}" "$2" "${1#*://}"
}
# fails_with ERE CMD...: CMD fails and its output (kept in $TMP/acl.out) matches ERE.
fails_with() {
    local re=$1
    shift
    if "$@" >"$TMP/acl.out" 2>&1; then
        cat "$TMP/acl.out"
        echo "succeeded, expected a failure"
        return 1
    fi
    cat "$TMP/acl.out"
    grep -E -q -- "$re" "$TMP/acl.out" || { echo "expected output matching: $re"; return 1; }
}
# succeeds_with ERE CMD...: CMD succeeds and its output (kept in $TMP/acl.out) matches ERE.
succeeds_with() {
    local re=$1
    shift
    "$@" >"$TMP/acl.out" 2>&1 || { cat "$TMP/acl.out"; echo "failed"; return 1; }
    cat "$TMP/acl.out"
    grep -E -q -- "$re" "$TMP/acl.out" || { echo "expected output matching: $re"; return 1; }
}
# req OUT METHOD URL [CURL_ARGS...]: one request; the body in OUT, the status in OUT.status, the
# headers (names lower-cased, no CR) in OUT.headers.
req() {
    local out=$1 method=$2 url=$3
    shift 3
    curl -sS --max-time 60 -X "$method" -D "$out.raw-headers" -o "$out" -w '%{http_code}' \
        "$@" "$url" >"$out.status" || return 1
    tr -d '\r' <"$out.raw-headers" | sed -E 's/^([^: ]+): */\L\1: /' >"$out.headers"
    echo "$method $url -> $(cat "$out.status")"
}
json_eq() { # FILE JSON: FILE holds JSON equal to JSON (spacing and key order aside)
    python3 -c '
import json, sys
got = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[2])
print("got:  " + json.dumps(got, sort_keys=True))
print("want: " + json.dumps(want, sort_keys=True))
sys.exit(0 if got == want else 1)' "$1" "$2"
}
json_get() { # FILE KEY: the top-level string field KEY of the JSON in FILE
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
# answered OUT CODE [text|json MESSAGE]: the request of OUT answered CODE; text: the body is
# text/plain, exactly MESSAGE and a newline; json: the body is application/json {"error": MESSAGE}.
# A 401 also carries exactly one WWW-Authenticate: Basic realm="git-on-durable-objects".
answered() {
    local out=$1 code=$2 want
    cat "$out.headers"
    head -c 2000 "$out"
    echo
    [ "$(cat "$out.status")" = "$code" ] || { echo "expected HTTP $code"; return 1; }
    if [ "$code" = 401 ]; then
        [ "$(grep -c -i '^www-authenticate:' "$out.headers")" = 1 ] &&
            grep -q -x -F "www-authenticate: $REALM" "$out.headers" ||
            { echo "expected once: WWW-Authenticate: $REALM"; return 1; }
    fi
    case "${3:-}" in
    text)
        grep -q -i '^content-type: text/plain' "$out.headers" || { echo "expected text/plain"; return 1; }
        [ "$(cat "$out"; echo x)" = "$4
x" ] || { echo "expected the body: $4 (and a newline)"; return 1; }
        ;;
    json)
        grep -q -i '^content-type: application/json' "$out.headers" || { echo "expected application/json"; return 1; }
        want=$(python3 -c 'import json, sys; print(json.dumps({"error": sys.argv[1]}))' "$4")
        json_eq "$out" "$want"
        ;;
    esac
}
# refs_are URL 'ID REF'...: the repository's info/refs (read with the admin token) lists exactly
# these refs.
refs_are() {
    curl -sS --fail --max-time 60 -u "x:$ADMIN" -o "$TMP/acl.refs" "$1/info/refs" || return 1
    diff -u <(if [ $# -gt 1 ]; then printf '%s\n' "${@:2}"; fi | tr ' ' '\t' | sort) <(sort "$TMP/acl.refs")
}
mirror_has() { # GITDIR 'ID REF'...: a mirror clone holds exactly these branches and tags, and
    # passes git fsck --full
    diff -u <(printf '%s\n' "${@:2}" | sort) \
        <(git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/heads refs/tags | sort) &&
        fsck "$1"
}
# make_token URL SCOPE NAME [EXPIRES_IN]: the admin creates a token (Basic auth): 201, the JSON
# well formed; sets NAME to the secret and NAME_ID to its id.
make_token() {
    local url=$1 scope=$2 name=$3 body out=$TMP/acl-token-$3
    body="{\"scope\":\"$scope\"}"
    if [ $# -ge 4 ]; then body="{\"scope\":\"$scope\",\"expires_in\":$4}"; fi
    req "$out" POST "$url/api/tokens" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data "$body" || return 1
    answered "$out" 201 || return 1
    python3 - "$out" "$scope" "${4:-}" <<'PY' || return 1
import datetime, json, re, sys
j = json.load(open(sys.argv[1]))
scope, expires_in = sys.argv[2], sys.argv[3]
def need(ok, what):
    if not ok:
        sys.exit("bad token answer: " + what)
need(all(k in j for k in ("id", "token", "scope", "expires")), "fields %s" % sorted(j))
need(re.fullmatch(r"[0-9a-f]{16}", str(j["id"])) is not None, "id %r" % j["id"])
need(str(j["token"]).startswith("gdo_") and len(j["token"]) > 20, "token %r" % j["token"])
need(j["scope"] == scope, "scope %r" % j["scope"])
if expires_in:
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|\+00:00)", str(j["expires"]))
    need(m is not None, "expires %r is not RFC 3339 UTC" % j["expires"])
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    ahead = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    need(-5 < ahead < int(expires_in) + 5, "expires %s is %.1f s from now" % (j["expires"], ahead))
else:
    need(j["expires"] is None, "expires %r, expected null" % j["expires"])
PY
    printf -v "$name" '%s' "$(json_get "$out" token)"
    printf -v "${name}_ID" '%s' "$(json_get "$out" id)"
}

# A small source repository: main A1-A2-A3-A4, release/v1 at A2, topic at A3.
ACL=$TMP/acl
I_ANON= I_URL= I_PROT= A1= A2= A3= A4= ISO_ACL_C=
W= W_ID= RD= RD_ID= EXP= EXP_ID=
acl_source() {
    local i
    git init -q -b main "$ACL" || return 1
    for i in 1 2 3 4; do
        printf 'acl %s\n' "$i" >"$ACL/acl.txt"
        git -C "$ACL" add acl.txt && git -C "$ACL" commit -q -m "acl $i" || return 1
    done
    A1=$(git -C "$ACL" rev-parse main~3) A2=$(git -C "$ACL" rev-parse main~2)
    A3=$(git -C "$ACL" rev-parse main~1) A4=$(git -C "$ACL" rev-parse main)
    git -C "$ACL" branch release/v1 "$A2" && git -C "$ACL" branch topic "$A3"
}
if [ -z "$I_SKIP" ]; then
    I_ANON=$(new_repo acl-anon)
    I_URL=$(new_repo acl)
    I_PROT=$(new_repo acl-protect)
    echo "# repositories $I_ANON, $I_URL, $I_PROT"
fi
icheck "i: make a small source repository (main, release/v1, topic)" acl_source

# 1-2. No credential, a wrong one: git fails as it does against any server that asks for one.
icheck "i: git push with no credential fails (terminal prompts disabled / Authentication failed)" \
    fails_with 'could not read Username|Authentication failed' anon_git -C "$ACL" push "$I_ANON" main
icheck "i: ... and the repository does not exist (info/refs 404)" status_is 404 "$I_ANON/info/refs"
icheck "i: git push with a wrong token from a credential helper fails: Authentication failed" \
    fails_with 'Authentication failed' tok_git "$WRONG" -C "$ACL" push "$I_ANON" main
icheck "i: ... and the repository still does not exist after the wrong token (info/refs 404)" \
    status_is 404 "$I_ANON/info/refs"
anon_token_api() {
    req "$TMP/acl-anon-put" POST "$I_ANON/api/tokens" -H 'Content-Type: application/json' \
        --data '{"scope":"write"}' || return 1
    answered "$TMP/acl-anon-put" 401 json "$MSG_NEED"
}
icheck "i: anonymous POST api/tokens: 401, WWW-Authenticate, authentication required (JSON)" anon_token_api
missing_repo_token() {
    req "$TMP/acl-missing" POST "$I_ANON/api/tokens" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data '{"scope":"write"}' || return 1
    answered "$TMP/acl-missing" 404 json "repository not found"
}
icheck "i: admin POST api/tokens on a repository that does not exist: 404 repository not found" missing_repo_token

# 3. PUT api creates an empty repository.
put_api() { # CODE CREATED [CURL_ARGS...]: PUT api answers CODE with created CREATED, head main
    local code=$1 created=$2
    shift 2
    req "$TMP/acl-put" PUT "$I_URL/api" "$@" || return 1
    answered "$TMP/acl-put" "$code" || return 1
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j)
sys.exit(0 if j.get("created") is (sys.argv[2] == "true") and j.get("head") == "refs/heads/main" else 1)' \
        "$TMP/acl-put" "$created"
}
icheck "i: PUT api with the admin token (Bearer): 201, created true, head refs/heads/main" \
    put_api 201 true -H "Authorization: Bearer $ADMIN"
icheck "i: a second PUT api: 200, created false" put_api 200 false -H "Authorization: Bearer $ADMIN"
anon_put() {
    req "$TMP/acl-put" PUT "$I_URL/api" || return 1
    answered "$TMP/acl-put" 401 json "$MSG_NEED"
}
icheck "i: an anonymous PUT api: 401, WWW-Authenticate Basic realm, authentication required" anon_put
settings_are() { # URL JSON [CURL_ARGS...]: GET api/settings answers 200 and JSON
    local url=$1 want=$2
    shift 2
    req "$TMP/acl-settings" GET "$url/api/settings" "$@" || return 1
    answered "$TMP/acl-settings" 200 && json_eq "$TMP/acl-settings" "$want"
}
PUBLIC='{"visibility":"public","default_branch":"main","protect":[]}'
PRIVATE='{"visibility":"private","default_branch":"main","protect":[]}'
icheck "i: GET api/settings of the new repository (anonymous): public, main, no protected refs" \
    settings_are "$I_URL" "$PUBLIC"
icheck "i: the new repository is empty: git clone says so" \
    succeeds_with 'cloned an empty repository' anon_git clone "$I_URL" "$TMP/acl-empty"

# 4-5. A write token pushes, from a credential helper and in the URL.
icheck "i: the admin creates a write token (POST api/tokens, Basic): 201, id, gdo_ token, scope write, expires null" \
    make_token "$I_URL" write W
icheck "i: git push with the write token from a credential helper" \
    tok_git "$W" -C "$ACL" push "$I_URL" "$A3:refs/heads/main" release/v1 topic
icheck "i: info/refs lists what the write token pushed" \
    refs_are "$I_URL" "$A3 refs/heads/main" "$A2 refs/heads/release/v1" "$A3 refs/heads/topic"
url_push() { anon_git -C "$ACL" push "$(url_with "$I_URL" "$W")" "$A4:refs/heads/main"; }
icheck "i: git push with the write token in the URL (http://x:TOKEN@...)" url_push
I_REFS=("$A4 refs/heads/main" "$A2 refs/heads/release/v1" "$A3 refs/heads/topic")
icheck "i: info/refs has main at the commit pushed with the token in the URL" refs_are "$I_URL" "${I_REFS[@]}"
icheck "i: git push with a wrong token to the repository fails: Authentication failed" \
    fails_with 'Authentication failed' tok_git "$WRONG" -C "$ACL" push "$I_URL" main:refs/heads/wrong
icheck "i: refs unchanged after the wrong token" refs_are "$I_URL" "${I_REFS[@]}"

# 6. isomorphic-git with onAuth.
ISO_ACL=$TMP/acl-iso
iso_acl_source() {
    mkdir -p "$ISO_ACL" && printf 'pushed by isomorphic-git with a token\n' >"$ISO_ACL/iso.txt" &&
        iso init "$ISO_ACL" || return 1
    ISO_ACL_C=$(iso commit "$ISO_ACL" "isomorphic-git commit for access control" 1700000000) || return 1
    git -C "$ISO_ACL" branch iso-acl main
}
icheck "i: isomorphic-git commits a branch to push" iso_acl_source
icheck "i: isomorphic-git push without a token (no onAuth) fails with 401" \
    fails_with '401' env -u ISOGIT_TOKEN timeout "$LIMIT" node "$HERE/isogit.mjs" push "$ISO_ACL" "$I_URL" iso-acl
icheck "i: isomorphic-git push with a wrong token fails: onAuthFailure cancels (UserCanceledError)" \
    fails_with 'UserCanceledError' env ISOGIT_TOKEN="$WRONG" timeout "$LIMIT" node "$HERE/isogit.mjs" push "$ISO_ACL" "$I_URL" iso-acl
icheck "i: refs unchanged after isomorphic-git's pushes without a token and with a wrong one" \
    refs_are "$I_URL" "${I_REFS[@]}"
iso_token_push() {
    ISOGIT_TOKEN=$W timeout "$LIMIT" node "$HERE/isogit.mjs" push "$ISO_ACL" "$I_URL" iso-acl \
        >"$TMP/acl-iso.json" || { cat "$TMP/acl-iso.json"; return 1; }
    cat "$TMP/acl-iso.json"
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if j["ok"] and j["auth_calls"] >= 1 else "expected ok and auth_calls >= 1")' "$TMP/acl-iso.json"
}
icheck "i: isomorphic-git push with onAuth (the write token) succeeds, auth_calls >= 1" iso_token_push
I_REFS+=("$ISO_ACL_C refs/heads/iso-acl")
icheck "i: info/refs lists isomorphic-git's branch" refs_are "$I_URL" "${I_REFS[@]}"

# 7. A read token cannot push.
icheck "i: the admin creates a read token: 201, scope read" make_token "$I_URL" read RD
read_receive_refs() {
    req "$TMP/acl-read" GET "$I_URL/info/refs?service=git-receive-pack" -u "x:$RD" || return 1
    answered "$TMP/acl-read" 403 text "$MSG_READ_ONLY"
}
icheck "i: GET info/refs?service=git-receive-pack with the read token: 403, can only read" read_receive_refs
read_receive_post() {
    req "$TMP/acl-read" POST "$I_URL/git-receive-pack" -u "x:$RD" -H 'Expect:' \
        -H 'Content-Type: application/x-git-receive-pack-request' --data-binary 0000 || return 1
    answered "$TMP/acl-read" 403 text "$MSG_READ_ONLY"
}
icheck "i: POST git-receive-pack with the read token: 403, can only read" read_receive_post
read_push() {
    fails_with '403' tok_git "$RD" -C "$ACL" push "$I_URL" main:refs/heads/by-reader || return 1
    contains "$TMP/acl.out" "remote: $MSG_READ_ONLY"
}
icheck "i: git push with the read token fails: 403, git shows 'remote: $MSG_READ_ONLY'" read_push
icheck "i: refs unchanged after the read token's push" refs_are "$I_URL" "${I_REFS[@]}"
read_token_reads() {
    req "$TMP/acl-read" GET "$I_URL/info/refs?service=git-upload-pack" -u "x:$RD" || return 1
    answered "$TMP/acl-read" 200
}
icheck "i: the read token reads: GET info/refs?service=git-upload-pack 200" read_token_reads

# 8. Token management is the admin's.
tokens_listed() { # ID:SCOPE...: GET api/tokens as the admin lists exactly these, and no secret
    req "$TMP/acl-list" GET "$I_URL/api/tokens" -u "x:$ADMIN" || return 1
    answered "$TMP/acl-list" 200 || return 1
    lacks "$TMP/acl-list" "$RD" && lacks "$TMP/acl-list" "$W" || return 1
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
got = {t["id"]: t["scope"] for t in j["tokens"]}
want = dict(a.split(":") for a in sys.argv[2:])
print("got %s, want %s" % (got, want))
ok = got == want and all(set(t) >= {"id", "scope", "created", "expires"} and "token" not in t for t in j["tokens"])
sys.exit(0 if ok else 1)' "$TMP/acl-list" "$@"
}
icheck "i: GET api/tokens as the admin lists both tokens (ids, scopes), no secret" \
    tokens_listed "$W_ID:write" "$RD_ID:read"
not_admin() { # METHOD PATH TOKEN [CURL_ARGS...]: a non-admin token there: 403, only the admin
    local method=$1 path=$2 token=$3
    shift 3
    req "$TMP/acl-admin" "$method" "$I_URL/$path" -u "x:$token" "$@" || return 1
    answered "$TMP/acl-admin" 403 json "$MSG_ADMIN"
}
icheck "i: GET api/tokens with the write token: 403, only the admin token" not_admin GET api/tokens "$W"
icheck "i: POST api/tokens with the write token: 403, only the admin token" \
    not_admin POST api/tokens "$W" -H 'Content-Type: application/json' --data '{"scope":"write"}'
icheck "i: PATCH api/settings with the read token: 403, only the admin token" \
    not_admin PATCH api/settings "$RD" -H 'Content-Type: application/json' --data '{"visibility":"private"}'
api_refused() { # METHOD PATH CODE MESSAGE [CURL_ARGS...]: the request answers CODE, JSON MESSAGE
    local method=$1 path=$2 code=$3 message=$4
    shift 4
    req "$TMP/acl-api" "$method" "$I_URL/$path" "$@" || return 1
    answered "$TMP/acl-api" "$code" json "$message"
}
icheck "i: GET api/tokens with no credential: 401, authentication required" \
    api_refused GET api/tokens 401 "$MSG_NEED"
icheck "i: GET api/tokens with a wrong token (Bearer): 401, invalid token" \
    api_refused GET api/tokens 401 "$MSG_INVALID" -H "Authorization: Bearer $WRONG"
bad_settings() {
    req "$TMP/acl-bad" PATCH "$I_URL/api/settings" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data '{"visibility":"secret"}' || return 1
    answered "$TMP/acl-bad" 400 || return 1
    python3 -c '
import json, sys
e = json.load(open(sys.argv[1])).get("error")
sys.exit(0 if isinstance(e, str) and e else "expected a non-empty error")' "$TMP/acl-bad"
}
icheck "i: PATCH api/settings with visibility 'secret': 400 with an error" bad_settings
huge_settings() { # a body over the API's 64 KiB: 413, read no further
    python3 -c 'print("{\"protect\":[" + ",".join(["{\"pattern\":\"refs/heads/x\"}"] * 3000) + "]}")' \
        >"$TMP/acl-huge.json"
    req "$TMP/acl-huge" PATCH "$I_URL/api/settings" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data-binary @"$TMP/acl-huge.json" || return 1
    answered "$TMP/acl-huge" 413 json "request body too large"
}
icheck "i: PATCH api/settings with a body over 64 KiB: 413, request body too large" huge_settings
# What a web page can make a browser send without a CORS preflight (a form's or plain text's
# type), with credentials the browser has cached, is refused before it is read.
cross_site() { # PATH TYPE EXPECTED_TYPE JSON?: a POST of TYPE with the admin token: 415
    req "$TMP/acl-415" POST "$I_URL/$1" -u "x:$ADMIN" -H "Content-Type: $2" --data-binary 0000 || return 1
    answered "$TMP/acl-415" 415 "${4:-text}" "unsupported media type \"$2\": expected $3"
}
icheck "i: POST git-receive-pack as text/plain, even with the admin token: 415" \
    cross_site git-receive-pack text/plain application/x-git-receive-pack-request
icheck "i: POST api/tokens as a form, even with the admin token: 415" \
    cross_site api/tokens application/x-www-form-urlencoded application/json json
icheck "i: settings unchanged after the bad PATCH" settings_are "$I_URL" "$PUBLIC"

# 9. Revocation.
revoke() { # ID CODE: the admin DELETEs api/tokens/ID, answered CODE
    req "$TMP/acl-revoke" DELETE "$I_URL/api/tokens/$1" -u "x:$ADMIN" || return 1
    answered "$TMP/acl-revoke" "$2"
}
icheck "i: DELETE api/tokens/<the write token's id>: 204" revoke "$W_ID" 204
icheck "i: git push with the revoked write token fails: Authentication failed" \
    fails_with 'Authentication failed' tok_git "$W" -C "$ACL" push "$I_URL" main:refs/heads/revoked
icheck "i: refs unchanged after the revoked token's push" refs_are "$I_URL" "${I_REFS[@]}"
token_refused() { # TOKEN: GET info/refs?service=git-receive-pack with TOKEN: 401 invalid token
    req "$TMP/acl-refused" GET "$I_URL/info/refs?service=git-receive-pack" -u "x:$1" || return 1
    answered "$TMP/acl-refused" 401 text "$MSG_INVALID"
}
icheck "i: curl with the revoked token: 401, invalid token" token_refused "$W"
icheck "i: DELETE api/tokens/<an id never issued>: 404" revoke 0123456789abcdef 404
icheck "i: GET api/tokens lists only the read token now" tokens_listed "$RD_ID:read"

# 10. Expiry (to the second: a token made at 12.9 s with expires_in 5 lives until 17 s).
icheck "i: the admin creates a write token expiring in 5 s: 201, expires RFC 3339 UTC" \
    make_token "$I_URL" write EXP 5
token_works() {
    req "$TMP/acl-works" GET "$I_URL/info/refs?service=git-receive-pack" -u "x:$1" || return 1
    answered "$TMP/acl-works" 200
}
icheck "i: the expiring token works at once: info/refs?service=git-receive-pack 200" token_works "$EXP"
expired() { sleep 6 && token_refused "$EXP"; }
icheck "i: 6 s later it answers 401, invalid token" expired

# 11. A private repository.
patch_settings() { # JSON_BODY WANT_JSON: the admin PATCHes api/settings: 200, the whole settings
    req "$TMP/acl-patch" PATCH "$I_URL/api/settings" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data "$1" || return 1
    answered "$TMP/acl-patch" 200 && json_eq "$TMP/acl-patch" "$2"
}
icheck "i: PATCH api/settings visibility private (admin): 200, the whole settings" \
    patch_settings '{"visibility":"private"}' "$PRIVATE"
icheck "i: GET api/settings with the read token shows private" settings_are "$I_URL" "$PRIVATE" -u "x:$RD"
icheck "i: anonymous GET api/settings of the private repository: 401, authentication required" \
    api_refused GET api/settings 401 "$MSG_NEED"
private_anon() { # every anonymous read answers 401 with the text, naming no ref
    local path
    for path in info/refs 'info/refs?service=git-upload-pack' HEAD objects/info/packs \
        "objects/${A4:0:2}/${A4:2}"; do
        req "$TMP/acl-private" GET "$I_URL/$path" || return 1
        answered "$TMP/acl-private" 401 text "$MSG_NEED" || return 1
        lacks "$TMP/acl-private" "refs/" || return 1
    done
    req "$TMP/acl-private" POST "$I_URL/git-upload-pack" -H 'Expect:' \
        -H 'Content-Type: application/x-git-upload-pack-request' --data-binary 0000 || return 1
    answered "$TMP/acl-private" 401 text "$MSG_NEED" || return 1
    lacks "$TMP/acl-private" "refs/"
}
icheck "i: anonymous GET info/refs (dumb and smart), HEAD, objects, POST git-upload-pack: 401, no ref named" \
    private_anon
icheck "i: anonymous smart git clone of the private repository fails" \
    fails_with 'could not read Username|Authentication failed' anon_git clone -q "$I_URL" "$TMP/acl-anon-smart"
icheck "i: anonymous dumb git clone (GIT_SMART_HTTP=0) of the private repository fails" \
    fails_with 'could not read Username|Authentication failed' \
    env GIT_SMART_HTTP=0 timeout "$LIMIT" git -c credential.helper= clone -q "$I_URL" "$TMP/acl-anon-dumb"
icheck "i: smart git clone --mirror with the read token (credential helper)" \
    tok_git "$RD" clone -q --mirror "$I_URL" "$TMP/acl-smart.git"
icheck "i: the read token's smart mirror holds the pushed refs and passes git fsck --full" \
    mirror_has "$TMP/acl-smart.git" "${I_REFS[@]}"
icheck "i: dumb git clone --mirror (GIT_SMART_HTTP=0) with the read token" \
    env GIT_SMART_HTTP=0 T="$RD" timeout "$LIMIT" git -c credential.helper= \
    -c credential.helper='!f() { echo username=x; echo "password=$T"; }; f' clone -q --mirror "$I_URL" "$TMP/acl-dumb.git"
icheck "i: the read token's dumb mirror holds the pushed refs and passes git fsck --full" \
    mirror_has "$TMP/acl-dumb.git" "${I_REFS[@]}"
iso_read_clone() {
    ISOGIT_TOKEN=$RD timeout "$LIMIT" node "$HERE/isogit.mjs" clone "$TMP/acl-iso-clone" "$I_URL" || return 1
    ref_is "$TMP/acl-iso-clone" HEAD "$A4"
}
icheck "i: isomorphic-git clone with the read token (onAuth) of the private repository" iso_read_clone
icheck "i: PATCH api/settings visibility public (admin): 200, the whole settings" \
    patch_settings '{"visibility":"public"}' "$PUBLIC"
anon_clone_again() {
    anon_git clone -q "$I_URL" "$TMP/acl-public" && ref_is "$TMP/acl-public" HEAD "$A4"
}
icheck "i: anonymous git clone works again once public" anon_clone_again

# 12. Protected refs: main refuses force and deletion, release/* deletion only.
PROTECT='[{"pattern":"refs/heads/main","deny_force":true,"deny_delete":true},{"pattern":"refs/heads/release/*","deny_force":false,"deny_delete":true}]'
P_A5= P_NF= P_NF2= P_REL= P_TOPIC=
protect_source() { # the commits the pushes below use, none on a branch of $ACL
    P_A5=$(new_commit "$ACL" "$A4" "acl 5, a fast-forward of main") &&
        P_NF=$(new_commit "$ACL" "$A4" "acl diverging from main") &&
        P_NF2=$(new_commit "$ACL" "$A4" "acl diverging again, by hand") &&
        P_REL=$(new_commit "$ACL" "$A1" "acl release rewritten") &&
        P_TOPIC=$(new_commit "$ACL" "$A1" "acl topic rewritten") || return 1
    git -C "$ACL" branch -f diverge "$P_NF"
    printf '%s\n^%s\n' "$P_NF2" "$A4" | git -C "$ACL" pack-objects -q --revs --stdout >"$TMP/acl-nf2.pack" &&
        : >"$TMP/acl-none.pack"
}
icheck "i: make the commits for the protected-branch pushes" protect_source
icheck "i: the admin pushes main, release/v1 and topic to a new repository (credential helper)" \
    push_capture "$ACL" "$I_PROT" main release/v1 topic
patch_protect() {
    req "$TMP/acl-patch" PATCH "$I_PROT/api/settings" -u "x:$ADMIN" -H 'Content-Type: application/json' \
        --data "{\"protect\":$PROTECT}" || return 1
    answered "$TMP/acl-patch" 200 &&
        json_eq "$TMP/acl-patch" "{\"visibility\":\"public\",\"default_branch\":\"main\",\"protect\":$PROTECT}"
}
icheck "i: PATCH api/settings protect main (deny force, delete) and refs/heads/release/* (deny delete): 200" \
    patch_protect
icheck "i: GET api/settings (anonymous) shows the protected refs" settings_are "$I_PROT" \
    "{\"visibility\":\"public\",\"default_branch\":\"main\",\"protect\":$PROTECT}"
icheck "i: a fast-forward push to the protected main succeeds" \
    succeeds_with "${A4:0:7}\.\.${P_A5:0:7} +[^ ]+ -> main" push_capture "$ACL" "$I_PROT" "$P_A5:refs/heads/main"
icheck "i: git push --force of a non-fast-forward to main: [remote rejected] (non-fast-forward)" \
    fails_with '\[remote rejected\] diverge -> main \(non-fast-forward\)' \
    push_capture "$ACL" --force "$I_PROT" diverge:main
icheck "i: main unchanged after the refused force push" \
    refs_are "$I_PROT" "$P_A5 refs/heads/main" "$A2 refs/heads/release/v1" "$A3 refs/heads/topic"
icheck "i: git push :main: [remote rejected] main (deletion prohibited)" \
    fails_with '\[remote rejected\] main \(deletion prohibited\)' push_capture "$ACL" "$I_PROT" :main
icheck "i: main still there after the refused deletion" \
    refs_are "$I_PROT" "$P_A5 refs/heads/main" "$A2 refs/heads/release/v1" "$A3 refs/heads/topic"
icheck "i: git push :release/v1 (release/* deny delete): [remote rejected] release/v1 (deletion prohibited)" \
    fails_with '\[remote rejected\] release/v1 \(deletion prohibited\)' push_capture "$ACL" "$I_PROT" :release/v1
icheck "i: git push --force of a non-fast-forward to release/v1 (deny_force false) succeeds" \
    succeeds_with '\(forced update\)' push_capture "$ACL" --force "$I_PROT" "$P_REL:refs/heads/release/v1"
icheck "i: git push --force to the unprotected topic succeeds" \
    succeeds_with '\(forced update\)' push_capture "$ACL" --force "$I_PROT" "$P_TOPIC:refs/heads/topic"
icheck "i: git push :topic (unprotected) deletes it" \
    succeeds_with '\[deleted\] +topic' push_capture "$ACL" "$I_PROT" :topic
raw_protected() { # OLD NEW PACK REASON: a hand-made update of main is refused: ng main REASON
    raw_push "$I_PROT" "$1" "$2" refs/heads/main "$3" "$TMP/acl-raw.out" &&
        raw_status_is "$TMP/acl-raw.out" 200 &&
        report_is "$TMP/acl-raw.out" "unpack ok" "ng refs/heads/main $4"
}
icheck "i: hand-made delete of main: exactly unpack ok, ng refs/heads/main deletion prohibited" \
    raw_protected "$P_A5" "$ZERO" "$TMP/acl-none.pack" "deletion prohibited"
icheck "i: hand-made non-fast-forward update of main: exactly unpack ok, ng refs/heads/main non-fast-forward" \
    raw_protected "$P_A5" "$P_NF2" "$TMP/acl-nf2.pack" "non-fast-forward"
icheck "i: refs after all that: main the fast-forward, release/v1 forced, topic gone" \
    refs_are "$I_PROT" "$P_A5 refs/heads/main" "$P_REL refs/heads/release/v1"

# 13. CORS: a browser app may send Authorization and use the API's methods.
icheck "i: CORS preflight (OPTIONS api/settings, PATCH, authorization,content-type) is 204 with the CORS headers" \
    cors_answer 204 "$I_URL/api/settings" -X OPTIONS -H 'Access-Control-Request-Method: PATCH' \
    -H 'Access-Control-Request-Headers: authorization,content-type'
icheck "i: a 401 (anonymous PUT api) carries the CORS headers" cors_answer 401 "$I_URL/api" -X PUT

# 14. A browser app: isomorphic-git in headless Chromium, on a page of another origin
#     (tests/e2e/browser.mjs), pushes to a new repository without a credential (refused:
#     its onAuth is asked, and cancels), then with a write token through onAuth, and clones
#     the commit back.
I_WEB= WEB= WEB_ID=
web_repo() { I_WEB=$(new_repo acl-web) && put_web && make_token "$I_WEB" write WEB; }
put_web() {
    req "$TMP/acl-web-put" PUT "$I_WEB/api" -u "x:$ADMIN" || return 1
    answered "$TMP/acl-web-put" 201
}
icheck "i: a repository and a write token for the browser" web_repo
browser_push() {
    timeout "$LIMIT" node "$HERE/browser.mjs" "$I_WEB" "$WEB" >"$TMP/acl-web.json" ||
        { cat "$TMP/acl-web.json"; return 1; }
    cat "$TMP/acl-web.json"
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
need = {"anonymous": "UserCanceledError", "auth_calls": 1, "cloned": "hello from a browser\n"}
bad = [k for k, v in need.items() if j.get(k) != v]
if not (isinstance(j.get("pushed"), dict) and j["pushed"].get("ok")):
    bad.append("pushed")
sys.exit("unexpected: " + ", ".join(bad) if bad else 0)' "$TMP/acl-web.json" || return 1
    refs_are "$I_WEB" "$(json_get "$TMP/acl-web.json" commit) refs/heads/main"
}
icheck "i: headless Chromium, another origin: refused without a credential, pushes with onAuth and a write token, clones it back" \
    browser_push

# ---------------------------------------------------------------------------------------------
# j. Protocol v2 with git at protocol.version=2 in both passes: ls-remote with and without a
#    ref-prefix, fetch of one branch, partial clones (--filter) and their lazy fetches, a fetch
#    after a push, and a thin incremental fetch. Each is compared with git's own server: its
#    upload-pack over file:// (the oracle) or git ls-remote of the source, and in reference mode
#    the whole section runs against git http-backend.
v2() { timeout "$LIMIT" git -c protocol.version=2 "$@"; }
spoke_v2() { contains "$1" "< version 2"; } # TRACE: GIT_TRACE_PACKET shows a v2 answer
V2_URL=$(new_repo v2)
check "j: push the source's branches and tags" \
    push_capture "$SRC" "$V2_URL" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
# HEAD, branches and tags (with peeled lines) as git ls-remote of the source lists them.
source_refs() { git ls-remote "$SRC" | grep -E $'\t(HEAD$|refs/heads/|refs/tags/)'; }
ls_remote_all() {
    GIT_TRACE_PACKET="$TMP/j-ls-all.trace" v2 ls-remote "$V2_URL" >"$TMP/j-ls-all.out" || return 1
    spoke_v2 "$TMP/j-ls-all.trace" && lacks "$TMP/j-ls-all.trace" "ref-prefix" || return 1
    diff -u <(source_refs) "$TMP/j-ls-all.out"
}
check "j: git ls-remote (v2, no ref-prefix) lists what git ls-remote of the source lists" ls_remote_all
ls_remote_heads() {
    GIT_TRACE_PACKET="$TMP/j-ls-heads.trace" v2 ls-remote --refs --heads "$V2_URL" >"$TMP/j-ls-heads.out" || return 1
    spoke_v2 "$TMP/j-ls-heads.trace" && contains "$TMP/j-ls-heads.trace" "ref-prefix refs/heads/" || return 1
    # Only branches came back: the prefix was applied by the server, not by the client.
    lacks "$TMP/j-ls-heads.trace" "refs/tags/" || return 1
    diff -u <(source_refs | grep $'\trefs/heads/') "$TMP/j-ls-heads.out"
}
check "j: git ls-remote --refs --heads (v2, ref-prefix refs/heads/) gets the source's branches and nothing else" \
    ls_remote_heads
V2_CLONE=$TMP/v2-clone
v2_clone() {
    GIT_TRACE_PACKET="$TMP/j-clone.trace" v2 clone -q "$V2_URL" "$V2_CLONE" || return 1
    spoke_v2 "$TMP/j-clone.trace" && contains "$TMP/j-clone.trace" "command=fetch" &&
        same_tree main "$V2_CLONE" && fsck "$V2_CLONE"
}
check "j: git clone (v2) checks out the source's main and passes git fsck --full" v2_clone
check "j: the v2 clone's remote branches and tags equal the source's" clone_refs_match "$SRC" "$V2_CLONE"
v2_shallow() { # --depth 1: shallow-info (and wanted-refs) sections, as git's own server gives
    GIT_TRACE_PACKET="$TMP/j-shallow.trace" v2 clone -q --depth 1 "$V2_URL" "$TMP/j-shallow" || return 1
    spoke_v2 "$TMP/j-shallow.trace" && contains "$TMP/j-shallow.trace" "deepen 1" &&
        contains "$TMP/j-shallow.trace" "shallow-info" || return 1
    oracle j-shallow --depth 1 || return 1
    same_shallow "$TMP/j-shallow" "$TMP/oracle-j-shallow" && same_objects "$TMP/j-shallow" "$TMP/oracle-j-shallow" &&
        fsck "$TMP/j-shallow"
}
check "j: git clone --depth 1 (v2) has git's own server's shallow list and objects" v2_shallow
fetch_one_branch() {
    GIT_TRACE_PACKET="$TMP/j-one.trace" v2 -C "$V2_CLONE" fetch -q origin release/1.x || return 1
    spoke_v2 "$TMP/j-one.trace" && contains "$TMP/j-one.trace" "ref-prefix refs/heads/release/1.x" &&
        lacks "$TMP/j-one.trace" "refs/heads/feature" &&
        [ "$(git -C "$V2_CLONE" rev-parse FETCH_HEAD)" = "$(git -C "$SRC" rev-parse release/1.x)" ]
}
check "j: git fetch origin release/1.x (v2) asks for that branch only and gets it" fetch_one_branch

# filter_clone NAME SPEC: a --no-checkout clone with --filter=SPEC holds exactly the objects
# git's own server sends for the same clone.
filter_clone() {
    local dir=$TMP/j-filter-$1
    GIT_TRACE_PACKET="$TMP/j-filter-$1.trace" v2 clone -q --no-checkout --filter="$2" "$V2_URL" "$dir" || return 1
    # git writes blob:limit's size in bytes: blob:limit=1k is sent as blob:limit=1024.
    spoke_v2 "$TMP/j-filter-$1.trace" && contains "$TMP/j-filter-$1.trace" "filter ${2%%=*}" || return 1
    oracle "filter-$1" --no-checkout --filter="$2" || return 1
    same_objects "$dir" "$TMP/oracle-filter-$1"
}
check "j: git clone --filter=blob:none sends the objects git's own server sends" filter_clone none blob:none
check "j: git clone --filter=blob:limit=1k sends the objects git's own server sends" filter_clone limit blob:limit=1k
check "j: git clone --filter=tree:0 sends the objects git's own server sends" filter_clone tree tree:0
missing_blobs() { # DIR: some objects are missing (promised), as a partial clone's are
    local n
    n=$(git -C "$1" rev-list --objects --missing=print --all | grep -c '^?')
    echo "missing objects: $n"
    [ "$n" -gt 0 ]
}
check "j: the blob:none clone lacks blobs until they are asked for" missing_blobs "$TMP/j-filter-none"
PARTIAL=$TMP/j-partial
partial_clone() { v2 clone -q --filter=blob:none "$V2_URL" "$PARTIAL" && same_tree main "$PARTIAL"; }
check "j: git clone --filter=blob:none (v2) checks out the source's main (lazy fetch of its blobs)" \
    partial_clone
same_log_p() { # DIR: git log -p in DIR (fetching each blob it lacks) says what it says in the source
    diff -u <(git -C "$SRC" log -p --format='%H %s' main) \
        <(timeout "$LIMIT" git -c protocol.version=2 -C "$1" log -p --format='%H %s')
}
check "j: git log -p in the blob:none clone equals the source's" same_log_p "$PARTIAL"
same_blame() { # DIR FILE
    diff -u <(git -C "$SRC" blame -s main -- "$2") <(timeout "$LIMIT" git -c protocol.version=2 -C "$1" blame -s -- "$2")
}
check "j: git blame in the blob:none clone equals the source's" same_blame "$PARTIAL" notes/changelog.txt
check "j: the blob:none clone passes git fsck --full" fsck "$PARTIAL"

J_OLD=$(git -C "$SRC" rev-parse main)
fetch_after_push() {
    printf 'v2 fetch\n' >>"$SRC/notes/smart.txt"
    git -C "$SRC" commit -q -am "Commit for a v2 fetch" &&
        timeout "$LIMIT" git -C "$SRC" push -q "$V2_URL" main || return 1
    GIT_TRACE_PACKET="$TMP/j-fetch.trace" v2 -C "$V2_CLONE" fetch -q origin || return 1
    spoke_v2 "$TMP/j-fetch.trace" && contains "$TMP/j-fetch.trace" "have $J_OLD" &&
        [ "$(git -C "$V2_CLONE" rev-parse origin/main)" = "$(git -C "$SRC" rev-parse main)" ] &&
        fsck "$V2_CLONE"
}
check "j: git fetch (v2) after a push gets the new commit and passes git fsck --full" fetch_after_push

# A one-line change to a 1 MB file: a thin pack sends a delta of the client's version (git
# http-backend sends about 300 bytes).
thin_fetch() {
    head -c 750000 /dev/urandom | base64 -w 75 >"$SRC/large.txt" &&
        git -C "$SRC" add large.txt && git -C "$SRC" commit -q -m "A 1 MB file" &&
        timeout "$LIMIT" git -C "$SRC" push -q "$V2_URL" main &&
        v2 -C "$V2_CLONE" fetch -q origin || return 1
    sed -i '5000s/^./#/' "$SRC/large.txt" && git -C "$SRC" commit -q -am "One line of it changed" &&
        timeout "$LIMIT" git -C "$SRC" push -q "$V2_URL" main || return 1
    rm -f "$TMP/j-thin.pack"
    GIT_TRACE_PACKFILE="$TMP/j-thin.pack" v2 -C "$V2_CLONE" fetch -q origin || return 1
    local bytes
    bytes=$(wc -c <"$TMP/j-thin.pack")
    echo "thin pack: $bytes bytes"
    [ "$bytes" -lt 2000 ] && fsck "$V2_CLONE" &&
        [ "$(git -C "$V2_CLONE" rev-parse origin/main:large.txt)" = "$(git -C "$SRC" rev-parse main:large.txt)" ]
}
check "j: the fetch of a one-line change to a 1 MB file (v2, thin) takes under 2 KB" thin_fetch

echo "# skipped: $SKIP"
RAN=$((PASS + FAIL + SKIP))
if [ "$RAN" -ne "$EXPECTED" ]; then
    FAIL=$((FAIL + 1))
    echo "not ok - the suite ran $RAN checks ($PASS passed, $((FAIL - 1)) failed, $SKIP skipped), expected $EXPECTED"
fi
echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
