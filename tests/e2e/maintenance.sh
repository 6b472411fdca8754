#!/usr/bin/env bash
# Maintenance end to end: the real Worker under wrangler dev, driven by the real git CLI,
# beside git's own git http-backend (tests/support/reference-server.sh) in the same run.
#
# Usage: E2E_ADMIN_TOKEN=TOKEN tests/e2e/maintenance.sh BASE_URL
#   BASE_URL  the Worker, started with ADMIN_TOKEN=TOKEN (scripts/test.sh starts it)
#
# Sections:
#   k1  100 one-line edits of a 1 MB file, each its own push: the loose objects start
#       maintenance by themselves (the alarm), POST api/maintenance runs it again at the end;
#       a full clone then holds at most 1.5x the bytes of git's, and a fetch of the next edit
#       receives a delta. Clone times of both are printed (benchmarks time; tests do not).
#   k2  300 small pushes onto a generated history: afterwards objects/info/packs lists one
#       pack; dumb clones of ours and of a static server on a `git gc`-ed copy agree (times
#       printed).
#   k3  clones that start before maintenance and end after it, read through a slow proxy:
#       a smart clone across a purge (which deletes what it retires at once, but not what a
#       reader in flight holds) and a dumb clone across a repack; both pass fsck.
#   k4  a secret pushed on a branch that is then deleted: absent from a fresh
#       `git clone --mirror` at once (as from git http-backend), and after POST api/purge no
#       fetch by id, loose-object read or listed pack returns it.
#   k5  rows: git push's answer (x-rows-written, x-rows-read), GET info/refs's (nothing
#       written) and a maintenance run's account (rows_written, rows_read) tell what they
#       cost; the figures are printed. ls-refs of 4,101 refs, and of a prefix, reads about a
#       row per ref it lists; a fetch with haves among them reads fewer than there are.
# Output: `ok - name` / `not ok - name` lines, `#` diagnostics, then
# `maintenance: N passed, M failed`; exit 1 if M > 0.
set -u

EXPECTED=29

BASE=${1:?usage: maintenance.sh BASE_URL}
BASE=${BASE%/}
TOKEN=${E2E_ADMIN_TOKEN:?maintenance.sh needs E2E_ADMIN_TOKEN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVER=$ROOT/tests/support/reference-server.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/maintenance.XXXXXX")
PASS=0
FAIL=0
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "$SERVER" stop "$TMP/ref" >/dev/null 2>&1 || true
    if [ "$FAIL" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
# shellcheck source=tests/e2e/check.sh
. "$HERE/check.sh"

cat >"$TMP/gitconfig" <<'EOF'
[user]
	name = E2E Tester
	email = e2e@example.test
[init]
	defaultBranch = main
[advice]
	detachedHead = false
[credential]
	helper = "!f() { echo username=x; echo \"password=$E2E_ADMIN_TOKEN\"; }; f"
EOF
export E2E_ADMIN_TOKEN=$TOKEN
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$TMP/gitconfig" GIT_TERMINAL_PROMPT=0
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

mapfile -t ports < <("$SERVER" free-port 3)
mkdir -p "$TMP/ref"
"$SERVER" start "$TMP/ref" "${ports[0]}" "${ports[1]}" >/dev/null
REF=http://127.0.0.1:${ports[0]}
STATIC=http://127.0.0.1:${ports[1]}
OWNER=maint-$(date +%Y%m%d%H%M%S)-$$

api() { # PATH [curl args...]: the repository API with the admin token
    local path=$1
    shift
    curl -s -m 120 -H "Authorization: Bearer $TOKEN" "$@" "$BASE/$OWNER/$path"
}
post() { api "$1" -X POST -H 'content-type: application/json'; }
field() { # JSON-FILE EXPR: a value of the JSON in the file, by a Python expression on `d`
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# Runs maintenance now through the API's hook (it sets the alarm, or joins the run in
# progress, which then started before the request) and waits until the alarm has run it to
# its end, after the request; the summary is left in $TMP/summary.json.
maintain() { # REPO
    local since
    since=$(date +%s)
    post "$1.git/api/maintenance" >/dev/null
    for _ in $(seq 1 300); do
        api "$1.git/api" >"$TMP/summary.json"
        if [ "$(field "$TMP/summary.json" '(not d["maintenance"]["in_progress"]) and (d["maintenance"]["last_run"] or {}).get("finished", 0) >= '"$since")" = True ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "maintenance of $1 did not finish"
    cat "$TMP/summary.json"
    return 1
}
ms() { date +%s%3N; }
pack_bytes() { du -cb "$1"/objects/pack/*.pack | tail -1 | cut -f1; }
fsck_ok() { git -C "$1" fsck --full --strict --no-dangling; }
same_refs() { # DIR DIR
    diff <(git -C "$1" for-each-ref --format='%(refname) %(objectname)' refs/heads refs/tags) \
        <(git -C "$2" for-each-ref --format='%(refname) %(objectname)' refs/heads refs/tags)
}
clone_is() { same_refs "$1" "$2" && fsck_ok "$1"; }
ratio() { python3 -c "import sys; print(f'{int(sys.argv[1]) / max(1, int(sys.argv[2])):.2f}')" "$1" "$2"; }
at_most() { # A B FACTOR: A <= B * FACTOR
    python3 -c "import sys; a, b, f = map(float, sys.argv[1:]); sys.exit(0 if a <= b * f else 1)" "$1" "$2" "$3" ||
        { echo "$1 > $2 x $3"; return 1; }
}

# Pushes the work tree's HEAD to main of both servers.
push_both() { # WORKTREE NAME
    git -C "$1" push -q "$BASE/$OWNER/$2.git" HEAD:refs/heads/main &&
        git -C "$1" push -q "$REF/$OWNER/$2.git" HEAD:refs/heads/main
}

# --- k1: one-line edits of a 1 MB file ------------------------------------------------------
"$SERVER" create "$TMP/ref" "$OWNER/edits" >/dev/null
git init -q "$TMP/edits"
head -c 760000 /dev/urandom | base64 -w 76 >"$TMP/edits/big.txt"
lines=$(wc -l <"$TMP/edits/big.txt")
git -C "$TMP/edits" add big.txt
git -C "$TMP/edits" commit -qm "a 1 MB file"
pushed=0
push_both "$TMP/edits" edits && pushed=$((pushed + 1))
for i in $(seq 1 99); do
    sed -i "$(((i * 131) % lines + 1))s/.*/edit $i/" "$TMP/edits/big.txt"
    git -C "$TMP/edits" commit -qam "edit $i"
    push_both "$TMP/edits" edits && pushed=$((pushed + 1))
done
check "k1: 100 one-line edits of a 1 MB file pushed to both servers" test "$pushed" = 100
api "edits.git/api" >"$TMP/summary.json"
# Started, not finished: the run the alarm began at the 256th loose object may still be going
# (it took 11 s on CI's machine, longer than the pushes that came after it).
check "k1: the loose objects started maintenance by themselves (the alarm)" \
    test "$(field "$TMP/summary.json" 'd["maintenance"]["in_progress"] or d["maintenance"]["last_run"] is not None')" = True
check "k1: maintenance through the API's hook" maintain edits
check "k1: one pack and no loose object after it" \
    test "$(field "$TMP/summary.json" '(d["packs"], d["loose"])')" = "(1, 0)"
cp "$TMP/summary.json" "$TMP/edits-summary.json"
start=$(ms)
git clone -q --bare "$BASE/$OWNER/edits.git" "$TMP/edits-ours.git"
ours_ms=$(($(ms) - start))
start=$(ms)
git clone -q --bare "$REF/$OWNER/edits.git" "$TMP/edits-ref.git"
ref_ms=$(($(ms) - start))
ours_bytes=$(pack_bytes "$TMP/edits-ours.git")
ref_bytes=$(pack_bytes "$TMP/edits-ref.git")
echo "# k1: full clone: ours $ours_bytes bytes in $ours_ms ms, git http-backend $ref_bytes bytes in $ref_ms ms (bytes x$(ratio "$ours_bytes" "$ref_bytes"), time x$(ratio "$ours_ms" "$ref_ms"))"
echo "# k1: maintenance: $(field "$TMP/edits-summary.json" 'd["maintenance"]["last_run"]')"
check "k1: the clone is git's (refs, fsck)" clone_is "$TMP/edits-ours.git" "$TMP/edits-ref.git"
check "k1: the clone holds at most 1.5x the bytes of git's" at_most "$ours_bytes" "$ref_bytes" 1.5
sed -i "2s/.*/the next edit/" "$TMP/edits/big.txt"
git -C "$TMP/edits" commit -qam "the next edit"
git -C "$TMP/edits" push -q "$BASE/$OWNER/edits.git" HEAD:refs/heads/main
# The pack as received (a thin pack's bases are added to it once it is in).
GIT_TRACE_PACKFILE="$TMP/next.pack" git -C "$TMP/edits-ours.git" fetch -q origin main:main
fetched=$(stat -c %s "$TMP/next.pack")
echo "# k1: the fetch of the next edit received a pack of $fetched bytes"
check "k1: a fetch of the next edit receives a delta, not the file (< 10 KB)" at_most "$fetched" 10000 1
check "k1: and the fetched repository passes fsck" fsck_ok "$TMP/edits-ours.git"

# --- k2: 300 small pushes onto a generated history --------------------------------------------
"$SERVER" create "$TMP/ref" "$OWNER/small" >/dev/null
bash "$HERE/make-repo.sh" "$TMP/small" "${E2E_SMALL_SCALE:-4}" >/dev/null
git -C "$TMP/small" checkout -q main
pushed=0
git -C "$TMP/small" push -q --all "$BASE/$OWNER/small.git" &&
    git -C "$TMP/small" push -q --tags "$BASE/$OWNER/small.git" &&
    git -C "$TMP/small" push -q --all "$REF/$OWNER/small.git" &&
    git -C "$TMP/small" push -q --tags "$REF/$OWNER/small.git" && pushed=1
for i in $(seq 1 300); do
    echo "small change $i" >>"$TMP/small/CHANGES"
    git -C "$TMP/small" add CHANGES
    git -C "$TMP/small" commit -qm "small change $i"
    push_both "$TMP/small" small && pushed=$((pushed + 1))
done
check "k2: a history and 300 small pushes on it, to both servers" test "$pushed" = 301
check "k2: maintenance through the API's hook" maintain small
curl -s -m 30 "$BASE/$OWNER/small.git/objects/info/packs" >"$TMP/packs"
check "k2: objects/info/packs lists one pack" test "$(grep -c '^P ' "$TMP/packs")" = 1
git -C "$TMP/ref/repos/$OWNER/small.git" gc -q
start=$(ms)
GIT_SMART_HTTP=0 git clone -q --mirror "$BASE/$OWNER/small.git" "$TMP/small-ours.git"
ours_ms=$(($(ms) - start))
start=$(ms)
GIT_SMART_HTTP=0 git clone -q --mirror "$STATIC/$OWNER/small.git" "$TMP/small-static.git"
static_ms=$(($(ms) - start))
echo "# k2: dumb clone: ours $ours_ms ms, a static server on a git gc-ed copy $static_ms ms (x$(ratio "$ours_ms" "$static_ms"))"
echo "# k2: maintenance: $(field "$TMP/summary.json" 'd["maintenance"]["last_run"]')"
check "k2: the dumb clones agree and pass fsck" clone_is "$TMP/small-ours.git" "$TMP/small-static.git"

# --- k3: clones across maintenance, through a slow proxy ------------------------------------
python3 "$ROOT/tests/support/slow-proxy.py" "${ports[2]}" "${BASE##*:}" 400000 &
pids+=($!)
SLOW=http://127.0.0.1:${ports[2]}
for _ in $(seq 1 50); do curl -s -m 2 "$SLOW/" >/dev/null && break; sleep 0.1; done
# Something for the purge to rewrite, so that it retires the pack the clone reads.
echo "one more" >>"$TMP/small/CHANGES"
git -C "$TMP/small" commit -qam "one more"
git -C "$TMP/small" push -q "$BASE/$OWNER/small.git" HEAD:refs/heads/main
git clone -q --bare "$SLOW/$OWNER/small.git" "$TMP/across-smart.git" >"$TMP/across-smart.log" 2>&1 &
clone=$!
sleep 1
post "small.git/api/purge" >"$TMP/purge.json"
api "small.git/api" >"$TMP/during.json"
held=$(field "$TMP/during.json" 'd["maintenance"]["retired_packs"]')
still=$(kill -0 "$clone" 2>/dev/null && echo running || echo done)
echo "# k3: after the purge the smart clone was $still; retired packs kept for readers in flight: $held"
wait "$clone"
check "k3: a smart clone across a purge completes" test $? = 0
check "k3: and passes fsck" fsck_ok "$TMP/across-smart.git"
for i in $(seq 1 30); do
    echo "loose $i" >>"$TMP/small/CHANGES"
    git -C "$TMP/small" commit -qam "loose $i"
    git -C "$TMP/small" push -q "$BASE/$OWNER/small.git" HEAD:refs/heads/main
done
GIT_SMART_HTTP=0 git clone -q --mirror "$SLOW/$OWNER/small.git" "$TMP/across-dumb.git" >"$TMP/across-dumb.log" 2>&1 &
clone=$!
sleep 1
maintain small >/dev/null
still=$(kill -0 "$clone" 2>/dev/null && echo running || echo done)
echo "# k3: after the repack the dumb clone was $still"
wait "$clone"
check "k3: a dumb clone across a repack completes" test $? = 0
check "k3: and passes fsck" fsck_ok "$TMP/across-dumb.git"

# --- k4: a secret on a deleted branch -------------------------------------------------------
"$SERVER" create "$TMP/ref" "$OWNER/leak" >/dev/null
git clone -q "$TMP/small" "$TMP/leak"
git -C "$TMP/leak" checkout -q -b leak
echo "password = hunter2" >"$TMP/leak/secret.txt"
git -C "$TMP/leak" add secret.txt && git -C "$TMP/leak" commit -qm "oops"
secret=$(git -C "$TMP/leak" rev-parse HEAD:secret.txt)
for url in "$BASE/$OWNER/leak.git" "$REF/$OWNER/leak.git"; do
    git -C "$TMP/leak" push -q "$url" main leak
    git -C "$TMP/leak" push -q "$url" :leak
done
for server in ours ref; do
    url=$BASE/$OWNER/leak.git
    [ "$server" = ref ] && url=$REF/$OWNER/leak.git
    git clone -q --mirror "$url" "$TMP/leak-$server.git"
    check "k4: a fresh clone --mirror has no trace of the deleted branch's secret ($server)" \
        sh -c "! git -C '$TMP/leak-$server.git' cat-file -e $secret"
done
git init -q --bare "$TMP/by-id.git"
check "k4: before the purge, a fetch by id finds the unreachable object" \
    git -C "$TMP/by-id.git" fetch -q "$BASE/$OWNER/leak.git" "$secret"
post "leak.git/api/purge" >"$TMP/purge.json"
echo "# k4: purge: $(cat "$TMP/purge.json")"
check "k4: the purge dropped it" test "$(field "$TMP/purge.json" 'd["pruned"] >= 3')" = True
git init -q --bare "$TMP/by-id-after.git"
check "k4: after the purge a fetch by id is refused as git refuses it" \
    refused_by_id "$TMP/by-id-after.git" "$BASE/$OWNER/leak.git" "$secret"
check "k4: and its loose file is gone" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -m 30 "$BASE/$OWNER/leak.git/objects/${secret:0:2}/${secret:2}")" = 404
check "k4: and no listed pack holds it" no_listed_pack_holds "$BASE/$OWNER/leak.git" "$secret"

# --- k5: rows, as the platform bills them ------------------------------------------------------
# A header's count, from a file of headers (curl -D, or git's GIT_TRACE_CURL).
header() { # FILE NAME
    grep -i "$2: " "$1" | tail -1 | sed 's/.*: *//' | tr -d '\r'
}
echo "one more $RANDOM" >>"$TMP/small/CHANGES"
git -C "$TMP/small" commit -qam "one more"
GIT_TRACE_CURL="$TMP/push.trace" GIT_TRACE_CURL_NO_DATA=1 \
    git -C "$TMP/small" push -q "$BASE/$OWNER/small.git" HEAD:refs/heads/main
grep -A40 'POST /'"$OWNER"'/small.git/git-receive-pack' "$TMP/push.trace" | grep '<= Recv header' >"$TMP/push.headers"
written=$(header "$TMP/push.headers" x-rows-written)
read=$(header "$TMP/push.headers" x-rows-read)
echo "# k5: a push of one commit to a history of $(field "$TMP/summary.json" 'd["objects"]') objects: $written rows written, $read read"
check "k5: git push's answer tells the rows the push wrote and read" \
    test "${written:-0}" -gt 0 -a "${read:-0}" -gt 0
curl -s -m 30 -D "$TMP/refs.headers" -o /dev/null "$BASE/$OWNER/small.git/info/refs"
check "k5: GET info/refs wrote nothing and read rows; the instance has read at least as many" \
    test "$(header "$TMP/refs.headers" x-rows-written)" = 0 -a "$(header "$TMP/refs.headers" x-rows-read)" -gt 0 \
    -a "$(header "$TMP/refs.headers" x-instance-rows-read)" -ge "$(header "$TMP/refs.headers" x-rows-read)"
maintain small
echo "# k5: maintenance of the same: $(field "$TMP/summary.json" '(d["maintenance"]["last_run"]["rows_written"], d["maintenance"]["last_run"]["rows_read"])') rows (written, read)"
check "k5: a maintenance run's account tells the rows it wrote and read" \
    test "$(field "$TMP/summary.json" 'd["maintenance"]["last_run"]["rows_written"] > 0 < d["maintenance"]["last_run"]["rows_read"]')" = True

# Listing refs reads the refs listed: more than one page of the listing (4,000 refs), and a
# prefix that matches a few of them.
git init -q "$TMP/many"
git -C "$TMP/many" commit -q --allow-empty -m refs
tip=$(git -C "$TMP/many" rev-parse HEAD)
for i in $(seq 1 4100); do echo "create refs/heads/b$i $tip"; done |
    git -C "$TMP/many" update-ref --stdin
git -C "$TMP/many" push -q "$BASE/$OWNER/many.git" 'refs/heads/*:refs/heads/*'
ls_refs_rows() { # [PREFIX]: "LINES READ" of a v2 ls-refs (with that ref-prefix), to stdout
    local body
    body=$(printf '0014command=ls-refs\n0001'
        [ -z "${1:-}" ] || printf '%04xref-prefix %s\n' $((16 + ${#1})) "$1"
        printf '0000')
    curl -s -m 60 -D "$TMP/ls.headers" -o "$TMP/ls.out" -H 'Git-Protocol: version=2' \
        -H 'content-type: application/x-git-upload-pack-request' --data-binary "$body" \
        "$BASE/$OWNER/many.git/git-upload-pack"
    echo "$(grep -c ' refs/' "$TMP/ls.out") $(header "$TMP/ls.headers" x-rows-read)"
}
reads_what_it_lists() { # [PREFIX]: at most 20 rows besides the refs listed, and some listed
    local lines rows
    read -r lines rows < <(ls_refs_rows "$@")
    echo "# ls-refs ${1:-(all)}: $lines refs listed, ${rows:-no count of} rows read"
    [ "$lines" -gt 0 ] && [ "${rows:-999999}" -le $((lines + 20)) ]
}
check "k5: ls-refs of 4,101 refs reads a row per ref, not the pages before each page again" \
    reads_what_it_lists
check "k5: ls-refs with ref-prefix refs/heads/b1 reads the refs it lists, not all after them" \
    reads_what_it_lists refs/heads/b1
# A fetch that has something reads the tags (for include-tag), not the 4,101 branches.
git clone -q --bare "$BASE/$OWNER/many.git" "$TMP/many-clone.git"
git -C "$TMP/many" commit -q --allow-empty -m more
git -C "$TMP/many" push -q "$BASE/$OWNER/many.git" HEAD:refs/heads/b1
GIT_TRACE_CURL="$TMP/fetch.trace" GIT_TRACE_CURL_NO_DATA=1 \
    git -C "$TMP/many-clone.git" fetch -q origin refs/heads/b1:refs/heads/b1
grep '<= Recv header' "$TMP/fetch.trace" >"$TMP/fetch.headers"
fetch_read=$(header "$TMP/fetch.headers" x-rows-read)
echo "# k5: a fetch of one commit among 4,101 branches read ${fetch_read:-no count of} rows"
check "k5: a fetch with haves among 4,101 branches reads fewer rows than there are branches" \
    test "${fetch_read:-999999}" -lt 1000 -a "$(git -C "$TMP/many-clone.git" rev-parse b1)" = "$(git -C "$TMP/many" rev-parse HEAD)"

TOTAL=$((PASS + FAIL))
if [ "$TOTAL" -ne "$EXPECTED" ]; then
    echo "not ok - maintenance.sh made $TOTAL checks, expected $EXPECTED"
    FAIL=$((FAIL + 1))
fi
echo "maintenance: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
