#!/usr/bin/env bash
# Trust, end to end: the Worker under its own wrangler dev, with maintenance's clock made short
# through its variables, beside git's own git http-backend (tests/support/reference-server.sh)
# in the same run; driven by the real git CLI and curl.
#
# Usage: tests/e2e/trust.sh    (builds nothing: scripts/test.sh has built the Worker)
#
# Sections:
#   t1  maintenance on its own clock, with no request asking: the quiet repack after the last
#       push (MAINTENANCE_QUIET_SECONDS), the sweep of the packs it retired
#       (RETIRED_SWEEP_SECONDS), the prune of a deleted branch's objects once their grace
#       ends (PRUNE_GRACE_SECONDS); and of small pushes kept as loose files, the repack that
#       packs them and the sweep of their files, with no pack retired to wake the alarm.
#   t2  objects and refs read as git reads them, against both servers: a push to `refs/tags`
#       is refused as git refuses it (`funny refname`); a root commit whose `parent` line
#       comes after its committer is no fast-forward of a protected branch (ours only: git
#       http-backend has no protection).
#   t3  what to send, against both servers in protocol v0 and v2: after `clone --depth 1`, a
#       fetch of a branch that forked below the shallow boundary; after a repack into one
#       exact pack, a fetch that also wants a commit no ref reaches (ours only: git
#       http-backend refuses unadvertised wants); an object pushed again is freshened, so
#       the prune after its first grace keeps it (ours only).
#   t4  requests no server should die of (ours only): a revision with a multi-byte suffix, and
#       ancestors four billion deep through 32 path segments, each answered 4xx at once; the
#       repository answers next.
#   t5  the retry after a failed run, with no request asking (ours only): the stored objects of
#       a repository corrupted in its SQLite file behind the server's back (a storage fault);
#       the alarm's repack fails, is tried again, is given up with the reason in `GET api`,
#       leaving the repository as it was; once the rows are repaired, the alarm tries again a
#       quiet time later and repacks.
#   t6  purge means purge while a repack runs (ours only): a branch with a secret pushed and
#       deleted during a repack of many alarm turns, then POST api/purge; no listed pack,
#       loose file or fetch by id has the secret, and the repository serves.
#   t7  a Git LFS grant on its clock (LFS_GRANT_SECONDS, ours only): an object uploaded
#       and verified under its grants; a download grant works at once, is refused as
#       expired once its seconds have passed, and a new batch grants again.
# Output: `ok - name` / `not ok - name` lines, `#` diagnostics, then
# `trust: N passed, M failed`; exit 1 if M > 0.
set -u

EXPECTED=37

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/e2e/beside.sh
. "$HERE/beside.sh"
# The clock, short: a repack 5 s after the last push, retired packs swept 3 s after the
# repack, unreachable objects pruned 10 s after a repack found them.
# Git LFS grants last 3 s.
QUIET=5 SWEEP=3 GRACE=10 GRANT=3
beside trust "MAINTENANCE_QUIET_SECONDS:$QUIET" "RETIRED_SWEEP_SECONDS:$SWEEP" \
    "PRUNE_GRACE_SECONDS:$GRACE" "LFS_GRANT_SECONDS:$GRANT" \
    "LFS_SECRET:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$TMP/gitconfig" <<EOF
[user]
	name = E2E Tester
	email = e2e@example.test
[init]
	defaultBranch = main
[advice]
	detachedHead = false
[credential]
$(credential_helper)
EOF
OWNER=trust-$(date +%Y%m%d%H%M%S)-$$

api() { # PATH [curl args...]: the repository API with the admin token
    local path=$1
    shift
    curl -s -m 60 -H "Authorization: Bearer $TOKEN" "$@" "$BASE/$OWNER/$path"
}
field() { # JSON-FILE EXPR: a value of the JSON in the file, by a Python expression on `d`
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# until_api REPO EXPR SECONDS: polls GET api (no other request) until EXPR holds of it.
until_api() {
    local deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        api "$1.git/api" >"$TMP/summary.json"
        [ "$(field "$TMP/summary.json" "$2" 2>/dev/null)" = True ] && return 0
        sleep 0.5
    done
    echo "not within $3 s: $2"
    cat "$TMP/summary.json"
    return 1
}
# A work tree with main (files 0..N) and its commits dated so that pushes are repeatable.
make_tree() { # DIR FILES
    git init -q "$1"
    for n in $(seq 1 "$2"); do echo "file $n" >"$1/f$n.txt"; done
    git -C "$1" add . && git -C "$1" commit -q -m base
}

# --- t1: maintenance on its own clock ------------------------------------------------------
make_tree "$TMP/clock" 150
git -C "$TMP/clock" push -q "$BASE/$OWNER/clock.git" main
for n in $(seq 1 120); do echo "second $n" >"$TMP/clock/s$n.txt"; done
git -C "$TMP/clock" add . && git -C "$TMP/clock" commit -q -m second
git -C "$TMP/clock" checkout -q -b doomed
for n in $(seq 1 120); do echo "doomed $n" >"$TMP/clock/d$n.txt"; done
git -C "$TMP/clock" add . && git -C "$TMP/clock" commit -q -m doomed
git -C "$TMP/clock" push -q "$BASE/$OWNER/clock.git" main
git -C "$TMP/clock" push -q "$BASE/$OWNER/clock.git" doomed
git -C "$TMP/clock" push -q "$BASE/$OWNER/clock.git" :doomed
api clock.git/api >"$TMP/before.json"
check "t1: three packs and no run before the quiet time" \
    test "$(field "$TMP/before.json" '(d["packs"], d["maintenance"]["last_run"])')" = "(3, None)"
check "t1: the alarm alone repacks once the repository is quiet" \
    until_api clock '(d["maintenance"]["last_run"] or {}).get("retired_packs") == 2' 60
check "t1: and finds the deleted branch's objects unreachable" \
    test "$(field "$TMP/summary.json" '(d["packs"], d["maintenance"]["unreachable"])')" = "(2, 122)"
check "t1: the sweep's delay later, it deletes the packs it replaced" \
    until_api clock 'd["maintenance"]["retired_packs"] == 0' 60
check "t1: the unreachable objects are kept through their grace" \
    test "$(field "$TMP/summary.json" 'd["maintenance"]["unreachable"]')" -eq 122
check "t1: and pruned by the alarm once it ends, leaving one pack" \
    until_api clock '(d["packs"], d["objects"], d["maintenance"]["unreachable"]) == (1, 274, 0)' 90
rm -rf "$TMP/mirror"
check "t1: what is left clones whole" git clone -q --mirror "$BASE/$OWNER/clock.git" "$TMP/mirror"

# Two small pushes, kept as loose files (no pack): the quiet repack packs them, and the alarm
# comes back by itself for the sweep of their files, though it retired no pack.
make_tree "$TMP/loose" 3
git -C "$TMP/loose" push -q "$BASE/$OWNER/loose.git" main
echo more >"$TMP/loose/more.txt"
git -C "$TMP/loose" add . && git -C "$TMP/loose" commit -q -m more
git -C "$TMP/loose" push -q "$BASE/$OWNER/loose.git" main
blob=$(git -C "$TMP/loose" rev-parse HEAD:more.txt)
loose_file() { curl -s -o /dev/null -w '%{http_code}' "$BASE/$OWNER/loose.git/objects/${blob:0:2}/${blob:2}"; }
until_swept() { # SECONDS: polls the loose file until it answers 404
    local deadline=$((SECONDS + $1))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(loose_file)" = 404 ] && return 0
        sleep 0.5
    done
    echo "the loose file still answers $(loose_file)"
    return 1
}
check "t1: small pushes are kept as loose files, served to dumb clients" \
    test "$(api loose.git/api | python3 -c 'import json,sys; print(json.load(sys.stdin)["packs"])')-$(loose_file)" = 0-200
check "t1: the alarm alone packs them once the repository is quiet" \
    until_api loose '(d["packs"], d["loose"], (d["maintenance"]["last_run"] or {}).get("retired_packs")) == (1, 0, 0)' 60
check "t1: and sweeps their files the sweep's delay later" until_swept 60

# --- t2: objects and refs read as git reads them ---------------------------------------------
make_tree "$TMP/names" 2
for server in ours reference; do
    url=$BASE/$OWNER/names.git
    [ "$server" = reference ] && url=$REF/$OWNER/names.git && "$SERVER" create "$TMP/ref" "$OWNER/names" >/dev/null
    git -C "$TMP/names" push -q "$url" main
    funny() {
        ! git -C "$TMP/names" push "$1" main:refs/tags >"$TMP/funny.out" 2>&1 &&
            grep -q 'refs/tags (funny refname)' "$TMP/funny.out" &&
            git -C "$TMP/names" push -q "$1" main:refs/tags/v1 || { cat "$TMP/funny.out"; return 1; }
    }
    check "t2: $server: a push to refs/tags is a funny refname; tags push after it" funny "$url"
done
crafted_push() {
    local url=$BASE/$OWNER/names.git tree next root
    api names.git/api/settings -X PATCH -H 'content-type: application/json' \
        -d '{"protect": [{"pattern": "refs/heads/main", "deny_force": true}]}' >/dev/null
    tree=$(git -C "$TMP/names" rev-parse 'main^{tree}')
    next=$(git -C "$TMP/names" rev-parse main)
    root=$(printf 'tree %s\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\nparent %s\n\nroot\n' \
        "$tree" "$next" | git -C "$TMP/names" hash-object -t commit -w --stdin)
    ! git -C "$TMP/names" push --force "$url" "$root:refs/heads/main" >"$TMP/crafted.out" 2>&1 &&
        grep -q 'main (non-fast-forward)' "$TMP/crafted.out" &&
        test "$(git ls-remote "$url" refs/heads/main | cut -f1)" = "$next" || { cat "$TMP/crafted.out"; return 1; }
}
check "t2: ours: a parent line after the committer is no parent, so no fast-forward" crafted_push

# --- t3: what to send ------------------------------------------------------------------------
git init -q "$TMP/forks"
for n in 1 2 3 4 5 6; do
    echo "main $n" >"$TMP/forks/m.txt"
    git -C "$TMP/forks" add . && git -C "$TMP/forks" commit -q -m "main $n"
    [ "$n" = 2 ] && git -C "$TMP/forks" branch below
done
git -C "$TMP/forks" checkout -q below
echo side >"$TMP/forks/b.txt"
git -C "$TMP/forks" add . && git -C "$TMP/forks" commit -q -m "below 1"
for server in ours reference; do
    url=$BASE/$OWNER/forks.git
    [ "$server" = reference ] && url=$REF/$OWNER/forks.git && "$SERVER" create "$TMP/ref" "$OWNER/forks" >/dev/null
    git -C "$TMP/forks" push -q "$url" main below
    shallow_fetch() {
        local dir=$TMP/shallow-$server-v$2
        rm -rf "$dir"
        git -c protocol.version="$2" clone -q --depth 1 --single-branch -b main "$1" "$dir" &&
            git -C "$dir" -c protocol.version="$2" fetch -q origin below:refs/remotes/origin/below &&
            git -C "$dir" fsck --no-dangling &&
            test "$(git -C "$dir" rev-list --count origin/below)" = 3
    }
    for v in 0 2; do
        check "t3: $server: v$v: after --depth 1, a branch forked below the boundary is fetched whole" \
            shallow_fetch "$url" "$v"
    done
done
unreachable_want() {
    local url=$BASE/$OWNER/exact.git lost dir=$TMP/exact-clone
    make_tree "$TMP/exact" 3
    git -C "$TMP/exact" push -q "$url" main
    git -C "$TMP/exact" checkout -q -b lost
    echo lost >"$TMP/exact/lost.txt"
    git -C "$TMP/exact" add . && git -C "$TMP/exact" commit -q -m lost
    lost=$(git -C "$TMP/exact" rev-parse lost)
    git -C "$TMP/exact" push -q "$url" lost && git -C "$TMP/exact" push -q "$url" :lost
    api exact.git/api/maintenance -X POST -H "content-type: application/json" >/dev/null
    until_api exact '(d["packs"], d["maintenance"]["in_progress"], (d["maintenance"]["last_run"] or {}).get("packs_after")) == (1, False, 1)' 60 || return 1
    git init -q "$dir" && git -C "$dir" fetch -q "$url" main "$lost" &&
        git -C "$dir" cat-file -e "$lost^{tree}:lost.txt"
}
check "t3: ours: one exact pack, and a fetch that also wants a commit no ref reaches" unreachable_want
freshened() {
    local url=$BASE/$OWNER/fresh.git again
    make_tree "$TMP/fresh" 1
    git -C "$TMP/fresh" push -q "$url" main
    git -C "$TMP/fresh" checkout -q -b old
    head -c 3000 /dev/urandom | od -An -tx1 >"$TMP/fresh/kept.txt"
    git -C "$TMP/fresh" add . && git -C "$TMP/fresh" commit -q -m old
    git -C "$TMP/fresh" push -q "$url" old && git -C "$TMP/fresh" push -q "$url" :old
    # The quiet repack finds the blob unreachable; a new commit that needs it comes half a
    # grace later, and its branch is deleted too.
    until_api fresh 'd["maintenance"]["unreachable"] >= 3' 30 || return 1
    sleep $((GRACE / 2))
    git -C "$TMP/fresh" checkout -q -b again main
    git -C "$TMP/fresh" checkout -q old -- kept.txt
    git -C "$TMP/fresh" commit -q -m again
    again=$(git -C "$TMP/fresh" rev-parse again)
    git -C "$TMP/fresh" push -q "$url" again && git -C "$TMP/fresh" push -q "$url" :again
    # Past the blob's first grace, after the repacks the alarm ran meanwhile.
    sleep $((GRACE / 2 + QUIET + 2))
    until_api fresh 'not d["maintenance"]["in_progress"]' 30 || return 1
    rm -rf "$TMP/fresh-fetch" && git init -q "$TMP/fresh-fetch" &&
        git -C "$TMP/fresh-fetch" fetch -q "$url" "$again" &&
        git -C "$TMP/fresh-fetch" cat-file -e "$again:kept.txt"
}
check "t3: ours: a blob pushed again is freshened and outlives its first grace" freshened

# --- t4: requests no server should die of -----------------------------------------------------
answers_at_once() { # PATH STATUS
    local status
    status=$(curl -s -o "$TMP/odd.out" -w '%{http_code}' -m 10 "$BASE/$OWNER/forks.git/$1")
    test "$status" = "$2" || { echo "$1: $status"; cat "$TMP/odd.out"; return 1; }
}
check "t4: a multi-byte revision suffix is a bad revision" \
    answers_at_once 'api/commit/HEAD%5E0%C3%A9' 400
segments=$(printf 'd/%.0s' $(seq 1 32))
check "t4: ancestors four billion deep through 32 segments answer at once" \
    answers_at_once "api/tree/HEAD~4000000000/${segments%/}" 404
check "t4: and the repository answers next" git ls-remote --exit-code "$BASE/$OWNER/forks.git" main

# --- t5: the retry after a failed run --------------------------------------------------------
# storage_fault corrupt|repair: overwrites the loose objects of $OWNER/fault in its object's
# SQLite file (saving them first), or puts them back, behind the running server's back, as a
# fault of the storage would; wrangler dev keeps the file in WAL mode, so the server's next
# statement reads the change. Prints how many rows it changed.
storage_fault() {
    python3 - "$1" "$TMP/state" "$OWNER/fault" "$TMP/fault-rows.json" <<'PYEOF2'
import glob, json, sqlite3, sys
action, state, name, saved = sys.argv[1:]
for path in glob.glob(state + "/v3/do/*/*.sqlite"):
    db = sqlite3.connect(path, timeout=30)
    try:
        if db.execute("select name from __miniflare_do_name").fetchone()[0] != name:
            continue
    except sqlite3.Error:
        continue
    if action == "corrupt":
        rows = [(oid.hex(), data.hex()) for oid, data in db.execute("select oid, data from loose")]
        json.dump(rows, open(saved, "w"))
        db.execute("update loose set data = x'00112233'")
    else:
        rows = json.load(open(saved))
        for oid, data in rows:
            db.execute("update loose set data = ? where oid = ?", (bytes.fromhex(data), bytes.fromhex(oid)))
    db.commit()
    print(len(rows))
    sys.exit(0 if rows else 1)
sys.exit(1)
PYEOF2
}
make_tree "$TMP/fault" 3
git -C "$TMP/fault" push -q "$BASE/$OWNER/fault.git" main
check "t5: a storage fault: the pushed objects corrupted behind the server's back" \
    storage_fault corrupt
check "t5: the alarm alone repacks, fails three times, gives up and says why" \
    until_api fault '"is corrupt" in str((d["maintenance"]["last_run"] or {}).get("error"))' 90
check "t5: nothing was half-written: no pack, the loose objects still there" \
    test "$(field "$TMP/summary.json" '(d["packs"], d["loose"])')" = "(0, 5)"
check "t5: the storage repaired" storage_fault repair
check "t5: the alarm alone tries again a quiet time later, and repacks" \
    until_api fault '(d["packs"], d["loose"], d["maintenance"]["last_run"]["error"]) == (1, 0, None)' 60
rm -rf "$TMP/fault-clone"
check "t5: what it packed clones whole and passes git fsck" \
    sh -c "git clone -q '$BASE/$OWNER/fault.git' '$TMP/fault-clone' && git -C '$TMP/fault-clone' fsck --full --strict"

# --- t6: a purge while a repack runs ---------------------------------------------------------
# Two pushes of 6,000 and 3,000 files make a repack of many alarm turns; while it runs, a
# branch with a secret is pushed (as a pack) and deleted, then the purge comes.
git init -q "$TMP/busy"
write_files() { # DIR SEED STEP: files f0, fSTEP, f2*STEP... < 6000 of random text
    python3 - "$@" <<'PYEOF2'
import random, sys
random.seed(int(sys.argv[2]))
for i in range(0, 6000, int(sys.argv[3])):
    open(f"{sys.argv[1]}/f{i}.txt", "w").write(random.randbytes(800).hex())
PYEOF2
}
write_files "$TMP/busy" 1 1
git -C "$TMP/busy" add . && git -C "$TMP/busy" commit -q -m first
git -C "$TMP/busy" push -q "$BASE/$OWNER/busy.git" main
write_files "$TMP/busy" 2 2
git -C "$TMP/busy" commit -q -am second
git -C "$TMP/busy" push -q "$BASE/$OWNER/busy.git" main
# 150 files and the secret: over git's unpack limit of 100 objects, so a pack is stored.
git -C "$TMP/busy" checkout -q -b secret
mkdir "$TMP/busy/more"
for n in $(seq 1 150); do echo "more $n" >"$TMP/busy/more/m$n.txt"; done
head -c 24 /dev/urandom | od -An -tx1 >"$TMP/busy/secret.txt"
git -C "$TMP/busy" add . && git -C "$TMP/busy" commit -q -m secret
secret=$(git -C "$TMP/busy" rev-parse HEAD:secret.txt)
api busy.git/api/maintenance -X POST -H 'content-type: application/json' >/dev/null
git -C "$TMP/busy" push -q "$BASE/$OWNER/busy.git" secret
git -C "$TMP/busy" push -q "$BASE/$OWNER/busy.git" :secret
api busy.git/api >"$TMP/during.json"
status=$(api busy.git/api/purge -X POST -H 'content-type: application/json' -o "$TMP/purge.json" -w '%{http_code}')
check "t6: the secret was pushed and deleted while the repack ran" \
    test "$(field "$TMP/during.json" 'd["maintenance"]["in_progress"]')" = True
check "t6: the purge answers 200 with its account" \
    test "$status $(field "$TMP/purge.json" 'd["error"] is None and d["pruned"] >= 153')" = "200 True"
check "t6: no listed pack holds the secret" no_listed_pack_holds "$BASE/$OWNER/busy.git" "$secret"
check "t6: no loose file holds it" test "$(curl -s -o /dev/null -w '%{http_code}' -m 30 \
    "$BASE/$OWNER/busy.git/objects/${secret:0:2}/${secret:2}")" = 404
git init -q --bare "$TMP/busy-by-id.git"
check "t6: a fetch by id is refused as git refuses it" \
    refused_by_id "$TMP/busy-by-id.git" "$BASE/$OWNER/busy.git" "$secret"
rm -rf "$TMP/busy-clone"
check "t6: the repository answers next: a clone is whole and passes git fsck" \
    sh -c "git clone -q '$BASE/$OWNER/busy.git' '$TMP/busy-clone' && git -C '$TMP/busy-clone' fsck --full --strict"

# --- t7: a Git LFS grant on its clock -------------------------------------------------------
LFS_URL=$BASE/$OWNER/lfs.git/info/lfs
printf 'large file contents\n' >"$TMP/lfs.bin"
lfs_oid=$(sha256sum "$TMP/lfs.bin" | cut -d' ' -f1)
lfs_size=$(stat -c %s "$TMP/lfs.bin")
# lfs_action OPERATION ACTION: "href authorization" of an action of a batch answer (admin).
lfs_action() {
    curl -s -m 30 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/vnd.git-lfs+json' \
        "$LFS_URL/objects/batch" \
        -d "{\"operation\": \"$1\", \"objects\": [{\"oid\": \"$lfs_oid\", \"size\": $lfs_size}]}" |
        python3 -c 'import json, sys; a = json.load(sys.stdin)["objects"][0]["actions"][sys.argv[1]]
print(a["href"], a["header"]["Authorization"])' "$2"
}
lfs_uploaded() {
    local href auth
    read -r href auth < <(lfs_action upload upload)
    curl -sf -m 30 -X PUT -H "Authorization: $auth" --data-binary @"$TMP/lfs.bin" "$href" >/dev/null &&
        read -r href auth < <(lfs_action upload verify) &&
        curl -sf -m 30 -H "Authorization: $auth" -H 'Content-Type: application/vnd.git-lfs+json' \
            -d "{\"oid\": \"$lfs_oid\", \"size\": $lfs_size}" "$href" >/dev/null
}
check "t7: an object is uploaded and verified under its grants" lfs_uploaded
# downloaded HREF AUTH: the object's bytes come back under that grant.
downloaded() { curl -sf -m 30 -H "Authorization: $2" "$1" | cmp - "$TMP/lfs.bin"; }
lfs_expires() {
    local href auth
    read -r href auth < <(lfs_action download download)
    downloaded "$href" "$auth" || { echo "refused at once"; return 1; }
    sleep $((GRANT + 2))
    curl -s -m 30 -H "Authorization: $auth" "$href" -o "$TMP/expired.out" -w '%{http_code}' >"$TMP/expired.code"
    [ "$(cat "$TMP/expired.code")" = 403 ] && grep -q "this grant has expired" "$TMP/expired.out" ||
        { cat "$TMP/expired.code" "$TMP/expired.out"; return 1; }
}
check "t7: a download grant works at once and is refused once its seconds have passed" lfs_expires
lfs_again() {
    local href auth
    read -r href auth < <(lfs_action download download)
    downloaded "$href" "$auth"
}
check "t7: a new batch grants again" lfs_again

TOTAL=$((PASS + FAIL))
if [ "$TOTAL" -ne "$EXPECTED" ]; then
    echo "not ok - trust.sh made $TOTAL checks, expected $EXPECTED"
    FAIL=$((FAIL + 1))
fi
echo "trust: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
