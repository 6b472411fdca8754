#!/usr/bin/env bash
# Benchmark: our Git server side by side with git's own `git http-backend` (behind lighttpd)
# and lighttpd serving the same bare repositories as static files (dumb HTTP), on this machine,
# in the same run. Prints figures; asserts nothing about timing.
#
# Usage (the server started with `bash scripts/dev.sh --var MAX_PUSH_BYTES:1073741824`, as
# case d pushes more than the default limit):
#   bench/run.sh BASE_URL                      e.g. bench/run.sh http://127.0.0.1:8787
#   BENCH_SCALE=0.05 bench/run.sh BASE_URL     quick run (sizes scaled down)
#   BENCH_TOKEN=SECRET bench/run.sh BASE_URL   our server started with ADMIN_TOKEN=SECRET: pushes
#                                              to it authenticate (see BENCH_TOKEN below)
#
# Cases (each push goes once into a fresh repository, $BASE_URL/$BENCH_OWNER/<case>-<run id>.git):
#   a  push of a generated history, ~30,000 objects (3,700 commits editing source-like text
#      in nested directories, topic-branch merges, tags), all branches and tags
#   b  push of one commit holding 5,000 files of random data, ~39 MiB in all
#   c  dumb clone (GIT_SMART_HTTP=0 git clone --bare) of repository (a): from our server vs from
#      lighttpd serving the reference's bare repository of (a) as static files
#   d  push of a repository whose pack is >= 200 MB (random data files, 256 KiB..8 MiB each);
#      afterwards prints the `x-wasm-memory` response header of
#      `curl -sI $BASE_URL/<owner>/<name>.git/info/refs` ("n/a" when absent, as with the reference)
#   e  smart clone (upload-pack, protocol v0) of (a), ours vs git http-backend
#   f  smart clone of (b)
#   g  incremental smart fetch of 3 new commits pushed to (a), into the clones of (e)
#   h  smart clone of (d) (>= 200 MB); prints x-wasm-memory again afterwards
#   P  protocol v2 (git -c protocol.version=2): P1 smart clone of (a); P2 clone --filter=blob:none
#      of (a); then BENCH_REFS (40,000) more branches are added to (a) (not timed: git push
#      of that many refs is slow on the client), and P4 times five ls-remote of all refs, P5
#      five ls-remote --tags (a ref-prefix); P6 fetch of a one-line
#      change to a 1 MB text file into a clone that has it (a thin pack; bytes received shown)
#   V  two versions of one incompressible file (BENCH_VERSIONS_MB, 200 MB), the second stored
#      as a delta of the first: push of both in one push (V1), then a smart clone (V2), a
#      --depth 1 clone (V3), and an incremental fetch from the first commit to the second
#      (V4), each beside the reference; prints x-wasm-memory after each
#   M  maintenance: M1 99 one-line edit pushes of a 1.1 MB file (each its own push, the file
#      over the 1 MiB loose limit, so each push stores a pack holding it whole; ours starts
#      maintenance on its own past its pack threshold), M2 a clone right after the pushes,
#      M3 a clone once maintenance finished (bytes received shown), M3b the bytes that
#      maintenance stored beside `git gc`'s pack of the same history, M4 the fetch of the
#      next edit; M5 300 small pushes onto go-git's
#      history (BENCH_GOGIT, default the local mirror, else (a)), M6 a dumb clone before
#      maintenance (the reference: a static server on the repository as pushed), M7
#      maintenance (ours: from the API's hook to the alarm's end; the reference: git gc),
#      M8 a dumb clone after it (the reference: static, after git gc), M8b another once the
#      loose files it packed are swept (POST api/purge; they are otherwise served for an
#      hour to dumb clones that listed the packs before), M9 a smart clone;
#      prints each run's account (time, slices, memory). BENCH_MAINTENANCE=0 skips it
#   R  reads through the JSON API (BENCH_READS=0 skips it), on go-git's history (as M5) plus a
#      10 MB text file, each request 10 times beside git on a local bare clone doing the same:
#      R1 commits?limit=100 vs git log -100, R2 commits?limit=100&path=plumbing/object/commit.go
#      vs git log -100 -- that path, R3 raw of the 10 MB file vs git cat-file blob, R4 tree of
#      the root vs git ls-tree -l, R5 compare/main~200...main vs git log main~200..main and
#      git diff --raw main~200...main; prints x-wasm-memory after
#   F  files in Git LFS (BENCH_LFS=0 skips it): BENCH_LFS_FILES (20) random files of
#      BENCH_LFS_MB (300 x scale) MB in all, tracked by git-lfs: F1 git push (the uploads,
#      then the refs), F2 git clone (the refs, then the downloads, smudged); the reference
#      is giftless (bench/giftless.sh: from PyPI, local storage) for the files beside
#      git http-backend for the refs; the clones' files are compared with the source's;
#      prints the Worker's x-wasm-memory after each (read from a transfer's answer)
#   L  large, when BENCH_LARGE_REPO names a bare repository (e.g. a clone of git/git): push
#      of all its branches and tags, then a smart clone and a dumb clone (against static
#      lighttpd), each beside the reference; then maintenance of it as pushed (L4) and after
#      3 commits pushed (L5), each beside git gc; prints x-wasm-memory after each
#   W  web pages (BENCH_PAGES=0 skips it), on go-git's history (BENCH_GOGIT, as M5; all its
#      branches and tags pushed to ours) beside Debian's cgit serving the same bare repository
#      (bench/cgit.sh: CGI behind lighttpd, cache off): each page BENCH_PAGE_RUNS (20) times
#      after one GET to warm both (ours builds caches on the first), ours and cgit in turn:
#      summary (beside cgit's summary, and again beside its about page, which renders the
#      README), tree of the root and of plumbing/object, blob of plumbing/object/commit.go
#      (590 lines), log (first page, and ?path=plumbing), a commit changing 6 files with its
#      diff, compare of two tags 11 commits apart (cgit: diff?id=..&id2=..), refs; prints per
#      page the median ms of each, their ratio, our x-rows-read and x-wasm-memory of the last
#      GET, and whether our page holds what git says it should (entries, lines, commits,
#      files, refs), once maintenance has run on ours (the repository at rest). Goal: every
#      ratio within 1.5, the summary under 50 ms
#   S  service, import and fork (BENCH_SERVICE=0 skips it), on go-git's history (BENCH_GOGIT,
#      as W: all its branches and tags, pushed once, not timed, to git http-backend as the
#      source), each BENCH_SERVICE_RUNS (3) times into fresh repositories, the median shown:
#      S1 POST api/import {"url": <the source on git http-backend>} (202; the import runs in
#      the object's alarm), timed from the POST until GET api's import is no longer running
#      (polled every 0.1 s); S2 POST api/fork {"to": ...} of the imported repository once
#      its maintenance has run (POST api/maintenance, not timed: the repository at rest, its
#      one pack exact, as the goal says) (201, synchronous), the request timed; beside each, git clone --mirror of the source from
#      git http-backend into a fresh directory (timed again for each). Prints per run the
#      import's state (done), objects and bytes (its account in GET api), the fork's
#      x-rows-written and x-rows-read (and the rows its source's instance read), and whether
#      git ls-remote of the import equals the source's and of the fork its source's (else
#      FAIL); in the rows table, the last run's: S1 the new repository's instance's since the
#      POST started it (GET api's polls included), S2 the fork's x-rows-*. Goal: a fork of
#      go-git under 1 s; import and fork beside git clone --mirror from git http-backend
# Output: a table `case | ours (s) | reference (s) | ratio (ours/reference)`; a failed command
# shows as FAIL (its output is kept in the work directory, which is then not removed). Then
# the rows ours wrote and read in each case, in all and per object (see rows_probe; a
# maintenance run's are those its account in GET api tells).
#
# Environment (all optional):
#   BENCH_SCALE          multiplies every size below (default 1); e.g. 0.05 for a quick run
#   BENCH_COMMITS        commits of (a)                       (default 3700 x scale)
#   BENCH_RANDOM_FILES   files of (b)                         (default 5000 x scale)
#   BENCH_RANDOM_MB      MiB of (b)                           (default 39 x scale)
#   BENCH_BIG_MB         MiB of random data in (d)            (default 210 x scale); 0 skips (d)
#   BENCH_BIG_REFERENCE  1 (default) also pushes (d) to the reference for comparison; 0 = ours only
#   BENCH_VERSIONS_MB    MB of the file of (V)                (default 200 x scale); 0 skips (V)
#   BENCH_REFS           branches added to (a) for (P4, P5)   (default 40000 x scale)
#   BENCH_LARGE_REPO     a bare repository for the large section (default: none, skipped)
#   BENCH_OWNER          owner part of the repository URLs    (default bench)
#   BENCH_ONLY           the letters of the sections to run, the others skipped: e.g. W, or MR
#                        (default: all). a, b, c, e, f, g and P run together when one of them
#                        is named (they build on each other), as do d and h
#   BENCH_PAGE_RUNS      GETs of each page in (W)             (default 20)
#   BENCH_SERVICE_RUNS   runs of S1 and S2, their median shown (default 3)
#   BENCH_OURS_REFERENCE_DIR  when BASE_URL is itself a reference-server.sh server (to test this
#                        script): its DIR, so that repositories are created there before pushing
#   BENCH_KEEP           1 keeps the work directory (generated repositories, logs)
#   BENCH_TOKEN          the admin token our server was started with (`ADMIN_TOKEN=... bash
#                        scripts/dev.sh` starts it so): every push to our server then
#                        authenticates with it, through a credential helper given to that git
#                        push only (git asks it after the server's 401); (S) sends it as
#                        `Authorization: Bearer` with its API requests. Reads send no
#                        credential, and pushes to the reference never do. Unset or empty: no
#                        credential (a server with open pushes)
#
# Needs: git, node, curl, lighttpd (the reference), all on 127.0.0.1 only; for (W) cgit, which
# bench/cgit.sh installs with apt-get when it is missing.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BASE_URL" >&2
    exit 2
fi
BASE=${1%/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SERVER=$ROOT/tests/support/reference-server.sh

SCALE=${BENCH_SCALE:-1}
scaled() { awk -v v="$1" -v s="$SCALE" 'BEGIN { x = int(v * s + 0.5); if (x < 1) x = 1; print x }'; }
COMMITS=${BENCH_COMMITS:-$(scaled 3700)}
RANDOM_FILES=${BENCH_RANDOM_FILES:-$(scaled 5000)}
RANDOM_MB=${BENCH_RANDOM_MB:-$(scaled 39)}
BIG_MB=${BENCH_BIG_MB:-$(scaled 210)}
BIG_REFERENCE=${BENCH_BIG_REFERENCE:-1}
VERSIONS_MB=${BENCH_VERSIONS_MB:-$(scaled 200)}
REFS=${BENCH_REFS:-$(scaled 40000)}
OWNER=${BENCH_OWNER:-bench}
OURS_DIR=${BENCH_OURS_REFERENCE_DIR:-}
RUN_ID=$(date +%Y%m%d%H%M%S)-$$
ONLY=${BENCH_ONLY:-}
only() { [ -z "$ONLY" ] || [[ $ONLY =~ [$1] ]]; } # LETTERS: whether one of these sections runs
CORE=0
if only abcefgP; then CORE=1; fi
only dh || BIG_MB=0
only V || VERSIONS_MB=0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
REFDIR=$WORK/reference
failed=0
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
    "$SERVER" stop "$REFDIR" || true
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$failed" -ne 0 ]; then
        echo "# work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

cat >"$WORK/gitconfig" <<'EOF'
[user]
	name = Bench
	email = bench@example.test
[init]
	defaultBranch = main
[protocol]
	version = 0
EOF
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_TERMINAL_PROMPT=0
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
unset GIT_ASKPASS SSH_ASKPASS

# Pushes to our server authenticate with BENCH_TOKEN (see above): the helper reads the token
# from the environment when git runs it.
TOKEN=${BENCH_TOKEN:-}
OURS_AUTH=()
CURL_AUTH=()
if [ -n "$TOKEN" ]; then
    CURL_AUTH=(-u "x:$TOKEN")
    export BENCH_TOKEN=$TOKEN
    # shellcheck disable=SC2016 # $BENCH_TOKEN is expanded by the helper's shell, not here
    OURS_AUTH=(-c credential.helper= -c 'credential.helper=!f() { echo username=x; echo "password=$BENCH_TOKEN"; }; f')
fi
# push_to DIR URL REFSPEC...: git -C DIR push -q URL REFSPEC..., with BENCH_TOKEN's credential
# helper when URL is our server's.
push_to() {
    local dir=$1 url=$2 auth=()
    shift 2
    if [[ $url == "$BASE/"* ]]; then auth=("${OURS_AUTH[@]}"); fi
    git "${auth[@]}" -C "$dir" push -q "$url" "$@"
}

log() { echo "# $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# timed VAR LOGNAME CMD...: runs CMD (output to $WORK/LOGNAME.log), sets VAR to the wall-clock
# seconds, or to FAIL.
timed() {
    local var=$1 name=$2 t0 t1
    shift 2
    log "$name: $*"
    t0=$(now)
    if "$@" >"$WORK/$name.log" 2>&1; then
        t1=$(now)
        printf -v "$var" '%s' "$(elapsed "$t0" "$t1")"
    else
        failed=1
        log "FAILED: $* (see $WORK/$name.log):"
        tail -5 "$WORK/$name.log" | sed 's/^/#   /' >&2
        printf -v "$var" '%s' FAIL
    fi
}

# Repository URLs: ours (created first only when ours is itself a reference server) and the
# reference's (always created first: git http-backend cannot create repositories).
ours_url() {
    if [ -n "$OURS_DIR" ]; then "$SERVER" create "$OURS_DIR" "$OWNER/$1-$RUN_ID" >/dev/null; fi
    echo "$BASE/$OWNER/$1-$RUN_ID.git"
}
ref_url() {
    "$SERVER" create "$REFDIR" "$OWNER/$1-$RUN_ID" >/dev/null
    echo "$REF_BASE/$OWNER/$1-$RUN_ID.git"
}
static_url() { echo "$STATIC_BASE/$OWNER/$1-$RUN_ID.git"; }

# Stored size in KiB, packed and loose (fast-import leaves < 100 objects loose).
pack_kib() { git -C "$1" count-objects -v | awk '$1 == "size-pack:" || $1 == "size:" { s += $2 } END { print s }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# What push_all pushes: the objects its branches and tags reach (a mirror may hold refs whose
# objects it lacks, as GitHub's refs/pull/* in a partial copy).
objects() { git -C "$1" rev-list --objects --branches --tags | wc -l | tr -d ' '; }

generate() { # NAME GEN-ARGS...: bare repository $WORK/NAME.git from bench/gen-repo.mjs
    local repo=$WORK/$1.git
    shift
    git init -q --bare -b main "$repo"
    node "$HERE/gen-repo.mjs" "$@" | git -C "$repo" fast-import --quiet
}

rows=()
ours_a=- ref_a=- ours_b=- ref_b=- ours_c=- ref_c=- ours_d=- ref_d=-
ours_e=- ref_e=- ours_f=- ref_f=- ours_g=- ref_g=- ours_h=- ref_h=- wasm_memory_clone=
ours_p=- ref_p=- ours_m=- ref_m=- ours_r=- ref_r=-
# Rows, as the platform bills them: each answer of our repository's object tells the rows its
# instance read and wrote since it started (x-instance-rows-*), and those of the answer itself
# (x-rows-*), so the rows of what ran in between are the difference (streamed bodies and the
# alarm's maintenance included). An instance idle for a few seconds (a client preparing a
# large push) is restarted, and its count with it: then the sum of the x-rows-* headers of
# the answers git received in between (GIT_TRACE_CURL) stands instead, exact for pushes and
# short of what clones read while their packs streamed (marked >=).
rows_table=()
rows_probe() { # URL OWN: the instance's "read written", less this request's own if OWN=1
    curl -sI --max-time 60 "$1/info/refs" | tr -d '\r' | awk -v own="$2" '
        tolower($1) == "x-instance-rows-read:" { r = $2 } tolower($1) == "x-instance-rows-written:" { w = $2 }
        tolower($1) == "x-rows-read:" { rr = $2 } tolower($1) == "x-rows-written:" { rw = $2 }
        END { if (r == "") print "- -"; else if (own == 1) print r - rr, w - rw; else print r, w }'
}
rows_before() {
    read -r ROWS_R0 ROWS_W0 < <(rows_probe "$1" 0)
    : >"$WORK/rows.trace"
    export GIT_TRACE_CURL=$WORK/rows.trace GIT_TRACE_CURL_NO_DATA=1
}
rows_after() { # CASE URL OBJECTS: a line of the rows table for what ran since rows_before
    local r1 w1 traced
    unset GIT_TRACE_CURL GIT_TRACE_CURL_NO_DATA
    read -r r1 w1 < <(rows_probe "$2" 1)
    if [[ $ROWS_R0 =~ ^[0-9]+$ && $r1 =~ ^[0-9]+$ ]] && [ "$r1" -ge "$ROWS_R0" ] && [ "$w1" -ge "$ROWS_W0" ]; then
        rows_table+=("$1|$((w1 - ROWS_W0))|$((r1 - ROWS_R0))|$3")
        return
    fi
    traced=$(tr -d '\r' <"$WORK/rows.trace" | awk '
        tolower($0) ~ /<= recv header: x-rows-read:/ { r += $NF }
        tolower($0) ~ /<= recv header: x-rows-written:/ { w += $NF }
        tolower($0) ~ /<= recv header: content-type: application\/x-git-upload-pack-result/ { s = ">=" }
        tolower($0) ~ /<= recv header: x-rows-read:/ { seen = 1 }
        END { if (seen) print w + 0, s (r + 0); else print "n/a n/a" }')
    rows_table+=("$1|${traced% *}|${traced#* }|$3")
}

row() { # CASE OURS REF
    local ratio=-
    if [[ $2 =~ ^[0-9.]+$ && $3 =~ ^[0-9.]+$ ]]; then
        ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    rows+=("$1|$2|$3|$ratio")
}

# --- reference server ------------------------------------------------------------------------
mapfile -t ports < <("$SERVER" free-port 2)
"$SERVER" start "$REFDIR" "${ports[0]}" "${ports[1]}" >&2
REF_BASE=http://127.0.0.1:${ports[0]}
STATIC_BASE=http://127.0.0.1:${ports[1]}
log "ours: $BASE; reference: $REF_BASE (git http-backend), $STATIC_BASE (static); scale $SCALE; work $WORK"

# --- (a) history -----------------------------------------------------------------------------
push_all() { push_to "$1" "$2" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'; }
if [ "$CORE" = 1 ]; then
    t0=$(now)
    generate history history "$COMMITS" 1
    git -C "$WORK/history.git" repack -adq
    t1=$(now)
    A_OBJECTS=$(objects "$WORK/history.git")
    A_KIB=$(pack_kib "$WORK/history.git")
    log "generated (a): $COMMITS commits, $A_OBJECTS objects, pack $A_KIB KiB in $(elapsed "$t0" "$t1") s"

    A_OURS=$(ours_url history)
    A_REF=$(ref_url history)
    rows_before "$A_OURS"
    timed ours_a push-a-ours push_all "$WORK/history.git" "$A_OURS"
    rows_after "a: push history" "$A_OURS" "$A_OBJECTS"
    timed ref_a push-a-ref push_all "$WORK/history.git" "$A_REF"
    row "a: push history, $A_OBJECTS objects ($(mib "$A_KIB") MiB pack)" "$ours_a" "$ref_a"
fi

# --- (b) random files ------------------------------------------------------------------------
push_main() { push_to "$1" "$2" main; }
if [ "$CORE" = 1 ]; then
    t0=$(now)
    generate random random "$RANDOM_FILES" $((RANDOM_MB * 1024 * 1024))
    t1=$(now)
    B_KIB=$(pack_kib "$WORK/random.git")
    log "generated (b): $RANDOM_FILES files, $RANDOM_MB MiB, pack $B_KIB KiB in $(elapsed "$t0" "$t1") s"
    B_OBJECTS=$(objects "$WORK/random.git")
    rows_before "$(ours_url random)"
    timed ours_b push-b-ours push_main "$WORK/random.git" "$(ours_url random)"
    rows_after "b: push random files" "$(ours_url random)" "$B_OBJECTS"
    timed ref_b push-b-ref push_main "$WORK/random.git" "$(ref_url random)"
    row "b: push $RANDOM_FILES random files, $RANDOM_MB MiB, 1 commit" "$ours_b" "$ref_b"
fi

# --- (c) dumb clone of (a) -------------------------------------------------------------------
dumb_clone() { rm -rf "$2" && GIT_SMART_HTTP=0 git clone -q --bare "$1" "$2"; }
if [ "$CORE" = 1 ]; then
    if [ "$ours_a" != FAIL ]; then
        rows_before "$A_OURS"
        timed ours_c clone-c-ours dumb_clone "$A_OURS" "$WORK/clone-ours.git"
        rows_after "c: dumb clone of (a)" "$A_OURS" "$A_OBJECTS"
    else
        ours_c=FAIL
    fi
    timed ref_c clone-c-ref dumb_clone "$(static_url history)" "$WORK/clone-ref.git"
    for side in ours ref; do
        if [ -d "$WORK/clone-$side.git" ] &&
            ! diff <(git -C "$WORK/history.git" for-each-ref) <(git -C "$WORK/clone-$side.git" for-each-ref) >/dev/null; then
            log "WARNING: the dumb clone from $side has different refs than the source"
            failed=1
        fi
    done
    row "c: dumb clone --bare of (a), ours vs static lighttpd" "$ours_c" "$ref_c"
fi

# --- (d) >= 200 MB pack ----------------------------------------------------------------------
wasm_memory=skipped
if [ "$BIG_MB" -gt 0 ]; then
    t0=$(now)
    generate big big $((BIG_MB * 1024 * 1024))
    # fast-import leaves so few objects loose: pack them once, so that both pushes reuse the
    # packed data instead of compressing 200 MB each time (the client's cost, not the server's).
    git -C "$WORK/big.git" repack -adq
    t1=$(now)
    D_KIB=$(pack_kib "$WORK/big.git")
    log "generated (d): $BIG_MB MiB of random files, objects $D_KIB KiB in $(elapsed "$t0" "$t1") s"
    D_OURS=$(ours_url big)
    D_OBJECTS=$(objects "$WORK/big.git")
    rows_before "$D_OURS"
    timed ours_d push-d-ours push_main "$WORK/big.git" "$D_OURS"
    rows_after "d: push >= 200 MB" "$D_OURS" "$D_OBJECTS"
    if [ "$BIG_REFERENCE" = 1 ]; then
        timed ref_d push-d-ref push_main "$WORK/big.git" "$(ref_url big)"
    else
        ref_d=-
    fi
    row "d: push $BIG_MB MiB of random files ($(mib "$D_KIB") MiB pack)" "$ours_d" "$ref_d"
    wasm_memory=$(curl -sI --max-time 60 "$D_OURS/info/refs" |
        awk 'tolower($1) == "x-wasm-memory:" { sub(/\r$/, "", $2); print $2 }')
    wasm_memory=${wasm_memory:-n/a}
fi

# --- (e, f, g, h) smart clones and fetch (upload-pack) -----------------------------------------
smart_clone() { rm -rf "$2" && git clone -q --bare "$1" "$2"; }
ran() { [[ $1 =~ ^[0-9.]+$ ]]; } # TIME: whether a case ran, and did not fail
same_refs_as() { # SOURCE CLONE NAME: branches and tags (a mirror source may hold refs/pull/*)
    if [ -d "$2" ] && ! diff <(git -C "$1" for-each-ref refs/heads refs/tags) <(git -C "$2" for-each-ref refs/heads refs/tags) >/dev/null; then
        log "WARNING: the $3 clone has different refs than its source"
        failed=1
    fi
}
if ran "$ours_a"; then
    rows_before "$A_OURS"
    timed ours_e clone-e-ours smart_clone "$A_OURS" "$WORK/smart-ours.git"
    rows_after "e: smart clone of (a)" "$A_OURS" "$A_OBJECTS"
    timed ref_e clone-e-ref smart_clone "$A_REF" "$WORK/smart-ref.git"
    same_refs_as "$WORK/history.git" "$WORK/smart-ours.git" "(e) ours"
    row "e: smart clone of (a)" "$ours_e" "$ref_e"
fi
if ran "$ours_b"; then
    B_OURS=$BASE/$OWNER/random-$RUN_ID.git
    B_REF=$REF_BASE/$OWNER/random-$RUN_ID.git
    rows_before "$B_OURS"
    timed ours_f clone-f-ours smart_clone "$B_OURS" "$WORK/random-ours.git"
    rows_after "f: smart clone of (b)" "$B_OURS" "$B_OBJECTS"
    timed ref_f clone-f-ref smart_clone "$B_REF" "$WORK/random-ref.git"
    same_refs_as "$WORK/random.git" "$WORK/random-ours.git" "(f) ours"
    row "f: smart clone of (b)" "$ours_f" "$ref_f"
fi
if ran "$ours_a"; then
    work=$WORK/history-work
    git clone -q "$WORK/history.git" "$work"
    for i in 1 2 3; do
        printf 'incremental %s\n' "$i" >>"$work/INCREMENTAL.md"
        git -C "$work" add -A && git -C "$work" commit -q -m "incremental $i"
    done
    rows_before "$A_OURS"
    push_to "$work" "$A_OURS" HEAD:main && push_to "$work" "$A_REF" HEAD:main
    rows_after "g0: push of 3 commits onto (a)" "$A_OURS" 9
    rows_before "$A_OURS"
    fetch_into() { git -C "$1" fetch -q origin '+refs/heads/*:refs/heads/*'; }
    timed ours_g fetch-g-ours fetch_into "$WORK/smart-ours.git"
    rows_after "g: fetch of 3 commits" "$A_OURS" 9
    timed ref_g fetch-g-ref fetch_into "$WORK/smart-ref.git"
    row "g: incremental fetch of 3 commits into (e)" "$ours_g" "$ref_g"
fi
if [ "$BIG_MB" -gt 0 ] && [ "$ours_d" != FAIL ]; then
    rows_before "$D_OURS"
    timed ours_h clone-h-ours smart_clone "$D_OURS" "$WORK/big-ours.git"
    rows_after "h: smart clone of (d)" "$D_OURS" "$D_OBJECTS"
    if [ "$BIG_REFERENCE" = 1 ]; then
        timed ref_h clone-h-ref smart_clone "$REF_BASE/$OWNER/big-$RUN_ID.git" "$WORK/big-ref.git"
    else
        ref_h=-
    fi
    same_refs_as "$WORK/big.git" "$WORK/big-ours.git" "(h) ours"
    row "h: smart clone of (d)" "$ours_h" "$ref_h"
    rm -rf "$WORK/big-ours.git" "$WORK/big-ref.git"
    wasm_memory_clone=$(curl -sI --max-time 60 "$D_OURS/info/refs" |
        awk 'tolower($1) == "x-wasm-memory:" { sub(/\r$/, "", $2); print $2 }')
fi

wasm_of() { # URL: the x-wasm-memory header of its info/refs, in MiB
    curl -sI --max-time 60 "$1/info/refs" |
        awk 'tolower($1) == "x-wasm-memory:" { sub(/\r$/, "", $2); printf "%d MiB", $2 / 1048576 }'
}

# --- (P) protocol v2: clone, partial clone, ls-remote among 40,000 refs, thin fetch ----------
v2_clone() { rm -rf "$2" && git -c protocol.version=2 clone -q --bare "$1" "$2"; }
v2_partial() { rm -rf "$2" && git -c protocol.version=2 clone -q --bare --filter=blob:none "$1" "$2"; }
ls_remote_5() { # URL ARGS...: git ls-remote (v2) five times
    local url=$1 i
    shift
    for i in 1 2 3 4 5; do git -c protocol.version=2 ls-remote "$@" "$url" >"$WORK/ls-remote.out" || return 1; done
}
if ran "$ours_a"; then
    rows_before "$A_OURS"
    timed ours_p clone-p1-ours v2_clone "$A_OURS" "$WORK/v2-ours.git"
    rows_after "P1: v2 clone of (a)" "$A_OURS" "$A_OBJECTS"
    timed ref_p clone-p1-ref v2_clone "$A_REF" "$WORK/v2-ref.git"
    same_refs_as "$WORK/smart-ours.git" "$WORK/v2-ours.git" "(P1) ours"
    row "P1: smart clone of (a), protocol v2" "$ours_p" "$ref_p"
    rows_before "$A_OURS"
    timed ours_p clone-p2-ours v2_partial "$A_OURS" "$WORK/v2-ours.git"
    rows_after "P2: blob:none clone of (a)" "$A_OURS" "$A_OBJECTS"
    timed ref_p clone-p2-ref v2_partial "$A_REF" "$WORK/v2-ref.git"
    row "P2: clone --filter=blob:none of (a), protocol v2" "$ours_p" "$ref_p"
    rm -rf "$WORK/v2-ours.git" "$WORK/v2-ref.git"
    # 40,000 more branches on (a)'s commits. git push takes minutes to send that many (its
    # own cost, on the client), so ours gets them as hand-made receive-pack requests of 10,000
    # commands (MAX_PUSH_REFS) and an empty pack, the reference with git update-ref in place.
    git -C "$WORK/history.git" rev-list --all >"$WORK/commits"
    awk -v n="$REFS" 'NR == FNR { c[FNR - 1] = $1; k = FNR; next }
        END { for (i = 0; i < n; i++) printf "%s refs/heads/many/%05d\n", c[i % k], i }' \
        "$WORK/commits" /dev/null >"$WORK/many-refs"
    pkt() { printf '%04x%s' $((${#1} + 4)) "$1"; }
    many_refs_ours() {
        local batch body=$WORK/many.req zero=0000000000000000000000000000000000000000 first
        split -l 10000 "$WORK/many-refs" "$WORK/many-refs."
        for batch in "$WORK"/many-refs.*; do
            first=1
            while read -r id name; do
                if [ "$first" = 1 ]; then
                    # A NUL cannot be in a shell string: printf writes it.
                    local line="$zero $id $name"
                    printf '%04x%s\0report-status\n' $((${#line} + 19)) "$line"
                    first=0
                else
                    pkt "$zero $id $name"$'\n'
                fi
            done <"$batch" >"$body"
            printf '0000' >>"$body"
            git pack-objects -q --stdout </dev/null >>"$body"
            curl -sS --fail --max-time 300 "${CURL_AUTH[@]}" --data-binary @"$body" \
                -H 'Content-Type: application/x-git-receive-pack-request' \
                "$1/git-receive-pack" >"$WORK/many.out" || return 1
            grep -q 'unpack ok' "$WORK/many.out" && ! grep -q ' ng ' "$WORK/many.out" || return 1
        done
    }
    many_refs_ours "$A_OURS" || { failed=1; log "FAILED: adding $REFS branches to (a) on ours"; }
    sed 's/^\([0-9a-f]*\) \(.*\)$/create \2 \1/' "$WORK/many-refs" |
        git -C "$REFDIR/repos/$OWNER/history-$RUN_ID.git" update-ref --stdin
    git -C "$REFDIR/repos/$OWNER/history-$RUN_ID.git" pack-refs --all
    rows_before "$A_OURS"
    timed ours_p ls-all-ours ls_remote_5 "$A_OURS"
    rows_after "P4: 5 x ls-remote of all refs" "$A_OURS" "$A_OBJECTS"
    lines_ours=$(wc -l <"$WORK/ls-remote.out")
    timed ref_p ls-all-ref ls_remote_5 "$A_REF"
    row "P4: 5 x ls-remote, all $lines_ours refs, v2" "$ours_p" "$ref_p"
    timed ours_p ls-tags-ours ls_remote_5 "$A_OURS" --tags
    lines_ours=$(wc -l <"$WORK/ls-remote.out")
    timed ref_p ls-tags-ref ls_remote_5 "$A_REF" --tags
    row "P5: 5 x ls-remote --tags (ref-prefix), $lines_ours lines, v2" "$ours_p" "$ref_p"
    refs_memory=$(wasm_of "$A_OURS")
fi
thin_fetch() { # URL CLONE: fetch into CLONE, the pack received kept as CLONE.pack
    rm -f "$2.pack" && GIT_TRACE_PACKFILE="$2.pack" git -c protocol.version=2 -C "$2" fetch -q origin
}
if [ "$CORE" = 1 ]; then
    # A one-line change to a 1 MB file, fetched into a clone that has the file: a thin pack.
    thin=$WORK/thin
    git init -q -b main "$thin"
    head -c 750000 /dev/urandom | base64 -w 75 >"$thin/large.txt"
    git -C "$thin" add large.txt && git -C "$thin" commit -q -m "a 1 MB file"
    T_OURS=$(ours_url thin)
    T_REF=$(ref_url thin)
    if push_to "$thin" "$T_OURS" main && push_to "$thin" "$T_REF" main &&
        v2_clone "$T_OURS" "$WORK/thin-ours.git" && v2_clone "$T_REF" "$WORK/thin-ref.git"; then
        sed -i '5000s/^./#/' "$thin/large.txt"
        git -C "$thin" commit -q -am "one line changed"
        push_to "$thin" "$T_OURS" main && push_to "$thin" "$T_REF" main
        rows_before "$T_OURS"
        timed ours_p fetch-p6-ours thin_fetch "$T_OURS" "$WORK/thin-ours.git"
        rows_after "P6: thin fetch" "$T_OURS" 3
        timed ref_p fetch-p6-ref thin_fetch "$T_REF" "$WORK/thin-ref.git"
        thin_bytes="ours $(wc -c <"$WORK/thin-ours.git.pack" 2>/dev/null) B, ref $(wc -c <"$WORK/thin-ref.git.pack" 2>/dev/null) B"
        row "P6: thin fetch, 1-line change to a 1 MB file ($thin_bytes)" "$ours_p" "$ref_p"
    else
        failed=1
        log "FAILED: setting up (P6)"
    fi
fi

# --- (V) two versions of one large file, the second a delta of the first ------------------------
versions_memory=()
if [ "$VERSIONS_MB" -gt 0 ]; then
    src=$WORK/versions
    git init -q -b main "$src"
    head -c $((VERSIONS_MB * 1000000)) /dev/urandom >"$src/big.bin"
    git -C "$src" add big.bin && git -C "$src" commit -q -m "first version" && git -C "$src" tag first
    # The second version is the first with 2 MB cut out of it: smaller, so that git's
    # pack-objects (which tries larger objects first) stores it as a delta of the first.
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[1], "wb").write(d[:1000] + b"second" + d[2000000:])' "$src/big.bin"
    git -C "$src" commit -q -am "second version"
    git -C "$src" repack -adq
    V_OURS=$(ours_url versions)
    V_REF=$(ref_url versions)
    push_versions() { push_to "$src" "$1" main first; }
    timed ours_v push-v-ours push_versions "$V_OURS"
    timed ref_v push-v-ref push_versions "$V_REF"
    row "V1: push two versions of a $VERSIONS_MB MB file, one a delta" "$ours_v" "$ref_v"
    versions_memory+=("after V1: $(wasm_of "$V_OURS")")
    timed ours_v clone-v-ours smart_clone "$V_OURS" "$WORK/versions-ours.git"
    timed ref_v clone-v-ref smart_clone "$V_REF" "$WORK/versions-ref.git"
    same_refs_as "$src" "$WORK/versions-ours.git" "(V2) ours"
    row "V2: smart clone of (V1)" "$ours_v" "$ref_v"
    versions_memory+=("after V2: $(wasm_of "$V_OURS")")
    shallow_clone() { rm -rf "$2" && git clone -q --bare --depth 1 "$1" "$2"; }
    timed ours_v shallow-v-ours shallow_clone "$V_OURS" "$WORK/versions-ours.git"
    timed ref_v shallow-v-ref shallow_clone "$V_REF" "$WORK/versions-ref.git"
    row "V3: clone --depth 1 of (V1)" "$ours_v" "$ref_v"
    versions_memory+=("after V3: $(wasm_of "$V_OURS")")
    first_only() { rm -rf "$2" && git clone -q --bare --single-branch --branch first "$1" "$2"; }
    first_only "$V_OURS" "$WORK/versions-ours.git" && first_only "$V_REF" "$WORK/versions-ref.git"
    timed ours_v fetch-v-ours git -C "$WORK/versions-ours.git" fetch -q origin main
    timed ref_v fetch-v-ref git -C "$WORK/versions-ref.git" fetch -q origin main
    row "V4: fetch of the second version into a clone of the first" "$ours_v" "$ref_v"
    versions_memory+=("after V4: $(wasm_of "$V_OURS")")
    if ! git -C "$WORK/versions-ours.git" fsck >/dev/null 2>&1 || [ "$(git -C "$WORK/versions-ours.git" rev-parse FETCH_HEAD)" != "$(git -C "$src" rev-parse main)" ]; then
        log "WARNING: the fetch of (V4) from ours is not the source's main, or fails fsck"
        failed=1
    fi
    rm -rf "$src" "$WORK/versions-ours.git" "$WORK/versions-ref.git"
fi

# --- maintenance helpers (L and M) -----------------------------------------------------------
# maintain URL: starts maintenance through the API's hook and waits for the alarm to finish it,
# asking every 20 ms (a shell loop of curl and python asked every 300 ms, longer than a run of
# go-git's history takes); prints the run's account (JSON) to $WORK/<name>.json.
maintain() { # URL NAME
    python3 - "$1" "$WORK/$2.json" "$TOKEN" <<'PY'
import base64, json, sys, time, urllib.request
url, out, token = sys.argv[1:4]
auth = {"Authorization": "Basic " + base64.b64encode(f"x:{token}".encode()).decode()} if token else {}
def call(method, path):
    request = urllib.request.Request(url + path, method=method, headers=auth)
    if method == "POST":
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read()
since = int(time.time())
call("POST", "/api/maintenance")
for _ in range(30000):
    body = call("GET", "/api")
    d = json.loads(body)["maintenance"]
    if not d["in_progress"] and (d["last_run"] or {}).get("finished", 0) >= since:
        open(out, "wb").write(body)
        sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
PY
}
run_rows() { # CASE NAME OBJECTS: a line of the rows table from the account of a run
    local rows
    rows=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["maintenance"]["last_run"]; print(r["rows_written"], r["rows_read"])' "$WORK/$2.json" 2>/dev/null) || rows="n/a n/a"
    rows_table+=("$1|${rows% *}|${rows#* }|$3")
}
run_figures() { # NAME: the figures of the run maintain() left in $WORK/NAME.json
    python3 - "$WORK/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["maintenance"]["last_run"]
t = r["tally"]
print(f"{r['objects']} objects, {r['slices']} slices, busy {r['busy_ms']} ms of {r['took_ms']} ms, "
      f"pack {r['pack_bytes']} B, reused {t['reused']} ({t['reused_deltas']} deltas), "
      f"new deltas {t['new_deltas']}, rebuilt {t['rebuilt']}, wasm memory {r['memory'] // 1048576} MiB")
PY
}

pushes() { # DIR URL N FILE: N commits each adding a line to FILE, each pushed on its own
    local i
    for i in $(seq 1 "$3"); do
        echo "change $i" >>"$1/$4"
        git -C "$1" add "$4" && git -C "$1" commit -q -m "change $i"
        push_to "$1" "$2" HEAD:refs/heads/main || return 1
    done
}

# --- (L) large: a git/git-scale repository ----------------------------------------------------
large_memory=()
LARGE_REPO=${BENCH_LARGE_REPO:-}
only L || LARGE_REPO=
if [ -n "$LARGE_REPO" ]; then
    L_OURS=$(ours_url large)
    L_REF=$(ref_url large)
    L_OBJECTS=$(objects "$LARGE_REPO")
    rows_before "$L_OURS"
    timed ours_l push-l-ours push_all "$LARGE_REPO" "$L_OURS"
    rows_after "L1: push large" "$L_OURS" "$L_OBJECTS"
    timed ref_l push-l-ref push_all "$LARGE_REPO" "$L_REF"
    row "L1: push large, $L_OBJECTS objects" "$ours_l" "$ref_l"
    large_memory+=("after L1: $(wasm_of "$L_OURS")")
    rows_before "$L_OURS"
    timed ours_l clone-l-ours smart_clone "$L_OURS" "$WORK/large-ours.git"
    rows_after "L2: smart clone of it" "$L_OURS" "$L_OBJECTS"
    timed ref_l clone-l-ref smart_clone "$L_REF" "$WORK/large-ref.git"
    same_refs_as "$LARGE_REPO" "$WORK/large-ours.git" "(L2) ours"
    row "L2: smart clone of (L1)" "$ours_l" "$ref_l"
    large_memory+=("after L2: $(wasm_of "$L_OURS")")
    timed ours_l clone-l-dumb-ours dumb_clone "$L_OURS" "$WORK/large-ours.git"
    timed ref_l clone-l-dumb-ref dumb_clone "$(static_url large)" "$WORK/large-ref.git"
    row "L3: dumb clone of (L1), ours vs static lighttpd" "$ours_l" "$ref_l"
    large_memory+=("after L3: $(wasm_of "$L_OURS")")
    rm -rf "$WORK/large-ours.git" "$WORK/large-ref.git"
    # L4: maintenance of the history as pushed (ours finds its one pack exact and writes
    # nothing), L5: after 3 commits pushed on a new branch (a pack written for every
    # object), each beside git gc of the reference's copy.
    L_REF_DIR=$REFDIR/repos/$OWNER/large-$RUN_ID.git
    timed ours_l maint-l4-ours maintain "$L_OURS" l4
    run_rows "L4: maintenance of (L1) as pushed" l4 "$L_OBJECTS"
    timed ref_l gc-l4-ref git -C "$L_REF_DIR" gc -q
    row "L4: maintenance of (L1) as pushed (ref: git gc)" "$ours_l" "$ref_l"
    log "L4: $(run_figures l4)"
    rm -rf "$WORK/large-work" && git clone -q --shared "$LARGE_REPO" "$WORK/large-work"
    pushes "$WORK/large-work" "$L_OURS" 3 CHANGES.bench
    git -C "$WORK/large-work" reset -q --hard HEAD~3
    pushes "$WORK/large-work" "$L_REF" 3 CHANGES.bench
    timed ours_l maint-l5-ours maintain "$L_OURS" l5
    run_rows "L5: maintenance after 3 commits" l5 "$L_OBJECTS"
    timed ref_l gc-l5-ref git -C "$L_REF_DIR" gc -q
    row "L5: maintenance after 3 commits pushed (ref: git gc)" "$ours_l" "$ref_l"
    log "L5: $(run_figures l5)"
    large_memory+=("after L5: $(wasm_of "$L_OURS")")
    rm -rf "$WORK/large-work"
fi

# --- (M) maintenance: one-line edits of a 1 MB file; 300 small pushes onto go-git's history ----
clone_bytes() { # URL DIR: smart clone, bytes of the pack received in DIR.pack
    rm -rf "$2" "$2.pack" && GIT_TRACE_PACKFILE="$2.pack" git -c protocol.version=2 clone -q --bare "$1" "$2"
}
clone_row() { # LABEL NAME OURS_URL REF_URL: both smart clones timed, a row with their bytes
    timed ours_m "clone-$2-ours" clone_bytes "$3" "$WORK/$2-ours.git"
    timed ref_m "clone-$2-ref" clone_bytes "$4" "$WORK/$2-ref.git"
    row "$1: ours $(wc -c <"$WORK/$2-ours.git.pack") B, ref $(wc -c <"$WORK/$2-ref.git.pack") B" "$ours_m" "$ref_m"
}
edit_pushes() { # DIR URL: 100 one-line edits of big.txt, each pushed on its own
    local i lines
    lines=$(wc -l <"$1/big.txt")
    for i in $(seq 1 99); do
        sed -i "$(((i * 131) % lines + 1))s/.*/edit $i/" "$1/big.txt"
        git -C "$1" commit -q -am "edit $i"
        push_to "$1" "$2" HEAD:refs/heads/main || return 1
    done
}
if [ "${BENCH_MAINTENANCE:-1}" = 1 ] && only M; then
    for side in ours ref; do
        rm -rf "$WORK/edits-$side" && git init -q -b main "$WORK/edits-$side"
    done
    head -c 830000 /dev/urandom | base64 -w 76 >"$WORK/edits-ours/big.txt"
    cp "$WORK/edits-ours/big.txt" "$WORK/edits-ref/big.txt"
    E_OURS=$(ours_url edits)
    E_REF=$(ref_url edits)
    for side in ours ref; do
        git -C "$WORK/edits-$side" add big.txt && git -C "$WORK/edits-$side" commit -q -m "a 1.1 MB file"
    done
    push_to "$WORK/edits-ours" "$E_OURS" main && push_to "$WORK/edits-ref" "$E_REF" main
    rows_before "$E_OURS"
    timed ours_m push-m1-ours edit_pushes "$WORK/edits-ours" "$E_OURS"
    rows_after "M1: 99 edit pushes (maintenance included)" "$E_OURS" 297
    timed ref_m push-m1-ref edit_pushes "$WORK/edits-ref" "$E_REF"
    row "M1: 99 one-line edit pushes of a 1.1 MB file" "$ours_m" "$ref_m"
    clone_row "M2: clone right after" m2 "$E_OURS" "$E_REF"
    # The loose objects start maintenance on their own; let it finish before timing clones.
    maintain "$E_OURS" m-edits-auto || log "FAILED: maintenance of (M1)"
    clone_row "M3: clone after maintenance" m3 "$E_OURS" "$E_REF"
    log "M3: $(run_figures m-edits-auto)"
    rm -rf "$WORK/edits-gc.git" && cp -r "$REFDIR/repos/$OWNER/edits-$RUN_ID.git" "$WORK/edits-gc.git"
    git -C "$WORK/edits-gc.git" gc -q --prune=now
    gc_bytes=$(cat "$WORK"/edits-gc.git/objects/pack/*.pack | wc -c)
    stored=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["maintenance"]["last_run"]["pack_bytes"])' "$WORK/m-edits-auto.json" 2>/dev/null) || stored=n/a
    row "M3b: stored after maintenance: ours $stored B, git gc $gc_bytes B ($(awk -v a="$stored" -v b="$gc_bytes" 'BEGIN { if (a + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'))" - -
    sed -i '7s/.*/the next edit/' "$WORK/edits-ours/big.txt" "$WORK/edits-ref/big.txt"
    for side in ours ref; do git -C "$WORK/edits-$side" commit -q -am "the next edit"; done
    push_to "$WORK/edits-ours" "$E_OURS" main && push_to "$WORK/edits-ref" "$E_REF" main
    timed ours_m fetch-m4-ours thin_fetch "$E_OURS" "$WORK/m3-ours.git"
    timed ref_m fetch-m4-ref thin_fetch "$E_REF" "$WORK/m3-ref.git"
    row "M4: fetch of the next edit: ours $(wc -c <"$WORK/m3-ours.git.pack") B, ref $(wc -c <"$WORK/m3-ref.git.pack") B" "$ours_m" "$ref_m"

    GOGIT=${BENCH_GOGIT:-/work/.mirror/go-git+go-git/repo}
    [ -d "$GOGIT" ] || GOGIT=$WORK/history.git
    rm -rf "$WORK/gogit" && git clone -q "$GOGIT" "$WORK/gogit" && git -C "$WORK/gogit" checkout -q -B main
    G_OURS=$(ours_url gogit)
    G_REF=$(ref_url gogit)
    G_OBJECTS=$(objects "$WORK/gogit")
    rows_before "$G_OURS"
    push_to "$WORK/gogit" "$G_OURS" main && push_to "$WORK/gogit" "$G_REF" main
    rows_after "M5a: push of go-git's main" "$G_OURS" "$G_OBJECTS"
    maintain "$G_OURS" m-gogit-first || log "FAILED: maintenance of go-git"
    run_rows "M5b: maintenance of it as pushed" m-gogit-first "$G_OBJECTS"
    log "M5: go-git's history as pushed: $(run_figures m-gogit-first)"
    rows_before "$G_OURS"
    timed ours_m push-m5-ours pushes "$WORK/gogit" "$G_OURS" 300 CHANGES.bench
    rows_after "M5: 300 small pushes" "$G_OURS" 900
    git -C "$WORK/gogit" reset -q --hard HEAD~300
    timed ref_m push-m5-ref pushes "$WORK/gogit" "$G_REF" 300 CHANGES.bench
    row "M5: 300 small pushes onto go-git's history" "$ours_m" "$ref_m"
    GREF_DIR=$REFDIR/repos/$OWNER/gogit-$RUN_ID.git
    git -C "$GREF_DIR" update-server-info
    timed ours_m dumb-m6-ours dumb_clone "$G_OURS" "$WORK/m6-ours.git"
    timed ref_m dumb-m6-ref dumb_clone "$(static_url gogit)" "$WORK/m6-ref.git"
    row "M6: dumb clone, before maintenance (static: as pushed)" "$ours_m" "$ref_m"
    t0=$(now)
    maintain "$G_OURS" m-gogit || log "FAILED: maintenance of go-git after 300 pushes"
    ours_m=$(elapsed "$t0" "$(now)")
    run_rows "M7: maintenance after them" m-gogit "$G_OBJECTS"
    timed ref_m gc-m7-ref git -C "$GREF_DIR" gc -q
    row "M7: maintenance (ours: API to finished, ref: git gc)" "$ours_m" "$ref_m"
    log "M7: $(run_figures m-gogit)"
    log "M7: objects/info/packs lists $(curl -s -m 30 "$G_OURS/objects/info/packs" | grep -c '^P ') pack(s)"
    timed ours_m dumb-m8-ours dumb_clone "$G_OURS" "$WORK/m8-ours.git"
    timed ref_m dumb-m8-ref dumb_clone "$(static_url gogit)" "$WORK/m8-ref.git"
    row "M8: dumb clone, after (static: a git gc-ed copy)" "$ours_m" "$ref_m"
    # For an hour the loose files the repack packed are still served (a dumb clone that
    # listed the packs before it may still ask for them), so a dumb clone walks them one by
    # one; a purge sweeps them at once, which shows the steady state.
    curl -s -m 120 "${CURL_AUTH[@]}" -X POST -H 'content-type: application/json' "$G_OURS/api/purge" >/dev/null
    timed ours_m dumb-m8b-ours dumb_clone "$G_OURS" "$WORK/m8b-ours.git"
    timed ref_m dumb-m8b-ref dumb_clone "$(static_url gogit)" "$WORK/m8b-ref.git"
    row "M8b: dumb clone, once the packed loose files are swept" "$ours_m" "$ref_m"
    rows_before "$G_OURS"
    clone_row "M9: smart clone, after" m9 "$G_OURS" "$G_REF"
    rows_after "M9: smart clone after maintenance (and the reference's)" "$G_OURS" "$G_OBJECTS"
    log "M: x-wasm-memory after: $(wasm_of "$G_OURS")"
fi

# --- R: reads through the JSON API ------------------------------------------------------------
times() { # N CMD...: CMD N times, its output dropped; fails if one fails
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do "$@" >/dev/null || return 1; done
}
api_get() { curl -sf -m 120 "$@"; }
if [ "${BENCH_READS:-1}" = 1 ] && only R; then
    GOGIT=${BENCH_GOGIT:-/work/.mirror/go-git+go-git/repo}
    [ -d "$GOGIT" ] || GOGIT=$WORK/history.git
    rm -rf "$WORK/reads" && git clone -q "$GOGIT" "$WORK/reads" && git -C "$WORK/reads" checkout -q -B main
    head -c 7500000 /dev/urandom | base64 -w 76 >"$WORK/reads/big.txt"
    git -C "$WORK/reads" add big.txt && git -C "$WORK/reads" commit -q -m "a 10 MB text file"
    R_OURS=$(ours_url reads)
    push_to "$WORK/reads" "$R_OURS" main
    rm -rf "$WORK/reads-local.git" && git clone -q --bare "$R_OURS" "$WORK/reads-local.git"
    L=$WORK/reads-local.git
    P=plumbing/object/commit.go
    rows_before "$R_OURS"
    timed ours_r r1-ours times 10 api_get "$R_OURS/api/commits?limit=100"
    rows_after "R1: 10 x commits?limit=100" "$R_OURS" 10
    timed ref_r r1-ref times 10 git -C "$L" log -100
    row "R1: 10 x commits?limit=100 (ref: git log -100)" "$ours_r" "$ref_r"
    rows_before "$R_OURS"
    timed ours_r r2-ours times 10 api_get "$R_OURS/api/commits?limit=100&path=$P"
    rows_after "R2: 10 x commits path" "$R_OURS" 10
    timed ref_r r2-ref times 10 git -C "$L" log -100 -- "$P"
    row "R2: 10 x commits?limit=100&path= (git log -100 -- path)" "$ours_r" "$ref_r"
    rows_before "$R_OURS"
    timed ours_r r3-ours times 10 api_get "$R_OURS/api/raw/main/big.txt"
    rows_after "R3: 10 x raw 10 MB" "$R_OURS" 10
    timed ref_r r3-ref times 10 git -C "$L" cat-file blob main:big.txt
    row "R3: 10 x raw of a 10 MB file (git cat-file blob)" "$ours_r" "$ref_r"
    rows_before "$R_OURS"
    timed ours_r r4-ours times 10 api_get "$R_OURS/api/tree/main"
    rows_after "R4: 10 x tree" "$R_OURS" 10
    timed ref_r r4-ref times 10 git -C "$L" ls-tree -l main
    row "R4: 10 x tree of the root (git ls-tree -l)" "$ours_r" "$ref_r"
    compare_git() { git -C "$L" log main~200..main && git -C "$L" diff --raw main~200...main; }
    rows_before "$R_OURS"
    timed ours_r r5-ours times 10 api_get "$R_OURS/api/compare/main~200...main"
    rows_after "R5: 10 x compare" "$R_OURS" 10
    timed ref_r r5-ref times 10 compare_git
    row "R5: 10 x compare/main~200...main (git log, diff --raw)" "$ours_r" "$ref_r"
    log "R: x-wasm-memory after: $(wasm_of "$R_OURS")"
fi

# --- F: files in Git LFS ---------------------------------------------------------------------
# lfs_wasm URL FILE: the x-wasm-memory of the Worker's answer to a HEAD of FILE's download.
lfs_wasm() {
    local oid href auth
    oid=$(sha256sum "$2" | cut -d' ' -f1)
    curl -sS -m 60 "${CURL_AUTH[@]}" -H 'Content-Type: application/vnd.git-lfs+json' \
        "$1/info/lfs/objects/batch" -o "$WORK/lfs-batch.json" \
        -d "{\"operation\": \"download\", \"objects\": [{\"oid\": \"$oid\", \"size\": 0}]}"
    read -r href auth < <(python3 -c 'import json, sys; a = json.load(open(sys.argv[1]))["objects"][0]["actions"]["download"]
print(a["href"], a["header"]["Authorization"])' "$WORK/lfs-batch.json")
    curl -sI -m 60 -H "Authorization: $auth" "$href" |
        awk 'tolower($1) == "x-wasm-memory:" { sub(/\r$/, "", $2); printf "%d MiB", $2 / 1048576 }'
}
lfs_memory=()
if [ "${BENCH_LFS:-1}" = 1 ] && only F; then
    LFS_FILES=${BENCH_LFS_FILES:-20}
    LFS_MB=${BENCH_LFS_MB:-$(scaled 300)}
    LFS_PORT=$("$SERVER" free-port 1)
    GIFTLESS_DIR=$WORK/giftless
    "$HERE/giftless.sh" start "$GIFTLESS_DIR" "$LFS_PORT"
    trap '"$HERE/giftless.sh" stop "$GIFTLESS_DIR"; cleanup' EXIT
    GIT_CONFIG_GLOBAL=$WORK/gitconfig git lfs install >/dev/null
    LFS_SRC=$WORK/lfs-src
    git init -q "$LFS_SRC"
    git -C "$LFS_SRC" lfs track '*.bin' >/dev/null
    for ((i = 0; i < LFS_FILES; i++)); do
        head -c $((LFS_MB * 1048576 / LFS_FILES)) /dev/urandom >"$LFS_SRC/file-$i.bin"
    done
    git -C "$LFS_SRC" add -A && git -C "$LFS_SRC" commit -q -m "$LFS_FILES files, $LFS_MB MB"
    F_OURS=$(ours_url lfs)
    F_REF=$(ref_url lfs)
    F_REF_LFS=http://127.0.0.1:$LFS_PORT/$OWNER/lfs-$RUN_ID
    same_lfs_files() { # DIR: its files are the source's
        for ((i = 0; i < LFS_FILES; i++)); do cmp "$LFS_SRC/file-$i.bin" "$1/file-$i.bin" || return 1; done
    }
    rows_before "$F_OURS"
    timed ours_lfs f1-ours push_to "$LFS_SRC" "$F_OURS" main
    rows_after "F1: push, $LFS_FILES LFS files" "$F_OURS" "$LFS_FILES"
    lfs_memory+=("F1: $(lfs_wasm "$F_OURS" "$LFS_SRC/file-0.bin")")
    timed ref_lfs f1-ref git -c "lfs.url=$F_REF_LFS" -C "$LFS_SRC" push -q "$F_REF" main
    row "F1: push of $LFS_FILES LFS files, $LFS_MB MB (ref: giftless)" "$ours_lfs" "$ref_lfs"
    rows_before "$F_OURS"
    timed ours_lfs f2-ours git clone -q "$F_OURS" "$WORK/lfs-ours"
    rows_after "F2: clone, $LFS_FILES LFS files" "$F_OURS" "$LFS_FILES"
    lfs_memory+=("F2: $(lfs_wasm "$F_OURS" "$LFS_SRC/file-0.bin")")
    timed ref_lfs f2-ref git -c "lfs.url=$F_REF_LFS" clone -q "$F_REF" "$WORK/lfs-ref"
    row "F2: clone of $LFS_FILES LFS files, $LFS_MB MB (ref: giftless)" "$ours_lfs" "$ref_lfs"
    same_lfs_files "$WORK/lfs-ours" && same_lfs_files "$WORK/lfs-ref" ||
        { failed=1; log "F: a clone's files differ from the source's"; }
    "$HERE/giftless.sh" stop "$GIFTLESS_DIR"
fi

# --- W: web pages beside cgit -------------------------------------------------------------------
# page_get URL SIDE: one GET, its body in $WORK/page-SIDE.html, its headers in
# $WORK/page-SIDE.headers, its seconds appended to $WORK/page-SIDE.times; fails unless 200.
page_get() {
    local out
    out=$(curl -s -m 120 -o "$WORK/page-$2.html" -D "$WORK/page-$2.headers" \
        -w '%{http_code} %{time_total}' "$1") || out="${out:-000} -"
    if [ "${out% *}" != 200 ]; then
        cp "$WORK/page-$2.html" "$WORK/page-failed-$2-$((++page_failures)).html" 2>/dev/null || true
        log "W: FAILED: $1 answered ${out% *}$(grep -o '<p class="error">[^<]*' "$WORK/page-$2.html" 2>/dev/null |
            head -1 | sed 's/^<p class="error">/: /') (body: $WORK/page-failed-$2-$page_failures.html)"
        return 1
    fi
    echo "${out#* }" >>"$WORK/page-$2.times"
}
median_ms() { # FILE: the median of its seconds, in ms
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) printf "%.1f", v[(NR + 1) / 2] * 1000
        else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) * 500 }'
}
header_of() { tr -d '\r' <"$1" | awk -v h="$2:" 'tolower($1) == h { v = $2 } END { print (v == "" ? "-" : v) }'; }
count_in() { grep -oE "$2" "$1" | wc -l | tr -d ' '; } # FILE ERE: its matches
# page_row LABEL OURS_URL CGIT_URL [ERE WANT]: the page timed on both sides, in turn, after a
# GET to warm each; ERE counted in our last page should match WANT times (git's count).
page_row() {
    local i ok_ours=1 ok_cgit=1 ours=FAIL cgit=FAIL ratio=- rows=- memory=- check=-
    rm -f "$WORK/page-ours.times" "$WORK/page-cgit.times"
    page_get "$2" ours || ok_ours=0
    page_get "$3" cgit || ok_cgit=0
    log "W: $1: first GET: ours $(median_ms "$WORK/page-ours.times" 2>/dev/null) ms, cgit $(median_ms "$WORK/page-cgit.times" 2>/dev/null) ms"
    rm -f "$WORK/page-ours.times" "$WORK/page-cgit.times"
    for ((i = 0; i < PAGE_RUNS; i++)); do
        if [ "$ok_ours" = 1 ] && ! page_get "$2" ours; then ok_ours=0; fi
        if [ "$ok_cgit" = 1 ] && ! page_get "$3" cgit; then ok_cgit=0; fi
    done
    if [ "$ok_ours" = 1 ]; then
        ours=$(median_ms "$WORK/page-ours.times")
        rows=$(header_of "$WORK/page-ours.headers" x-rows-read)
        memory=$(header_of "$WORK/page-ours.headers" x-wasm-memory)
        [[ $memory =~ ^[0-9]+$ ]] && memory="$((memory / 1048576)) MiB"
        if [ $# -ge 5 ]; then
            local got
            got=$(count_in "$WORK/page-ours.html" "$4")
            if [ "$got" = "$5" ]; then check=ok; else check="$got/$5"; fi
            [ "$check" = ok ] || log "W: $1: our page has $got of $4, git says $5 ($2)"
        fi
    else
        failed=1
    fi
    [ "$ok_cgit" = 1 ] && cgit=$(median_ms "$WORK/page-cgit.times") || failed=1
    if ran "$ours" && ran "$cgit"; then
        ratio=$(awk -v a="$ours" -v b="$cgit" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    pages+=("$1|$ours|$cgit|$ratio|$rows|$memory|$check")
}
pages=()
ours_w=-
CGIT=
if [ "${BENCH_PAGES:-1}" = 1 ] && only W; then
    PAGE_RUNS=${BENCH_PAGE_RUNS:-20}
    page_failures=0
    GOGIT=${BENCH_GOGIT:-/work/.mirror/go-git+go-git/repo}
    # Fixed points of go-git's history: a commit changing 6 files (+151 -78), two tags 11
    # commits apart (18 files changed), a directory of 43 entries, a file of 590 lines (17 KB).
    W_COMMIT=867c5595593ced5ffbbf8325b9201feebffb242c
    W_FROM=v5.16.4
    W_TO=v5.16.5
    W_DIR=plumbing/object
    W_FILE=plumbing/object/commit.go
    W_LOG_PATH=plumbing
    # One bare repository, its branches and tags: pushed to ours, served by cgit.
    W_SRC=$WORK/cgit-repos/go-git.git
    if ! { git clone -q --bare "$GOGIT" "$W_SRC" && git -C "$W_SRC" cat-file -e "$W_COMMIT^{commit}" &&
        git -C "$W_SRC" cat-file -e "$W_FROM^{commit}" && git -C "$W_SRC" cat-file -e "main:$W_FILE"; }; then
        failed=1
        log "FAILED: (W) needs go-git's history (BENCH_GOGIT=$GOGIT) with $W_COMMIT, $W_FROM, main:$W_FILE"
    else
        CGIT_DIR=$WORK/cgit
        trap '"$HERE/cgit.sh" stop "$CGIT_DIR"; cleanup' EXIT
        CGIT=$("$HERE/cgit.sh" start "$CGIT_DIR" "$WORK/cgit-repos")/go-git
        W_OURS=$(ours_url pages)
        timed ours_w push-w-ours push_all "$W_SRC" "$W_OURS"
        log "W: pushed go-git's $(git -C "$W_SRC" for-each-ref refs/heads refs/tags | wc -l) branches and tags in $ours_w s; cgit: $CGIT/"
        # Pages are timed on the repository at rest: the repack the push started in the alarm
        # would otherwise run between the requests.
        ran "$ours_w" && { maintain "$W_OURS" pages-maintained || log "W: maintenance did not finish"; }
    fi
    if [ -n "$CGIT" ] && ran "$ours_w"; then
        P=${W_OURS%.git}
        wgit() { git -C "$W_SRC" "$@"; }
        at_most_30() { awk '{ print ($1 > 30 ? 30 : $1) }'; }
        # What our pages should hold, by git: the tree listing's td.mode cells, the blob's
        # lines (tr id="L<n>"), the log's li.commit, the diff's div.file (data-status), the refs'
        # rows (a <time> each).
        ROOT_N=$(wgit ls-tree main | wc -l)
        page_row "summary" "$P" "$CGIT/" 'class="mode"' "$ROOT_N"
        page_row "summary (cgit: about, the README)" "$P" "$CGIT/about/"
        page_row "tree /" "$P/-/tree/main" "$CGIT/tree/" 'class="mode"' "$ROOT_N"
        page_row "tree $W_DIR" "$P/-/tree/main/$W_DIR" "$CGIT/tree/$W_DIR" \
            'class="mode"' "$(wgit ls-tree "main:$W_DIR" | wc -l)"
        page_row "blob $W_FILE" "$P/-/blob/main/$W_FILE" "$CGIT/tree/$W_FILE" \
            '<tr id="L[0-9]+"' "$(wgit cat-file blob "main:$W_FILE" | wc -l)"
        page_row "log (first page)" "$P/-/commits/main" "$CGIT/log/" \
            '<li class="commit"' "$(wgit rev-list --count main | at_most_30)"
        page_row "log ?path=$W_LOG_PATH" "$P/-/commits/main?path=$W_LOG_PATH" "$CGIT/log/$W_LOG_PATH" \
            '<li class="commit"' "$(wgit rev-list --count main -- "$W_LOG_PATH" | at_most_30)"
        page_row "commit ${W_COMMIT:0:7} (diff)" "$P/-/commit/$W_COMMIT" "$CGIT/commit/?id=$W_COMMIT" \
            'data-status=' "$(wgit diff --name-only "$W_COMMIT^" "$W_COMMIT" | wc -l)"
        page_row "compare $W_FROM...$W_TO" "$P/-/compare/$W_FROM...$W_TO" "$CGIT/diff/?id=$W_TO&id2=$W_FROM" \
            'data-status=' "$(wgit diff --name-only "$W_FROM...$W_TO" | wc -l)"
        page_row "refs" "$P/-/refs" "$CGIT/refs/" '<time' "$(wgit for-each-ref refs/heads refs/tags | wc -l)"
    fi
    [ -z "$CGIT" ] || "$HERE/cgit.sh" stop "$CGIT_DIR"
fi

# --- S: service: import and fork of go-git, beside git clone --mirror ------------------------
# service_post URL BODY OUT: a JSON POST with the admin token; the answer's body in OUT, its
# headers in OUT.headers; prints its status (000 when there was none).
service_post() {
    curl -sS -m 900 -X POST "${S_AUTH[@]}" -H 'Content-Type: application/json' -d "$2" \
        -o "$3" -D "$3.headers" -w '%{http_code}' "$1" 2>>"$WORK/service-curl.log" || true
}
json_field() { # FILE KEY...: a field of the JSON in FILE, by path ("" when absent or not JSON)
    python3 -c 'import json, sys
try:
    v = json.load(open(sys.argv[1]))
except Exception:
    v = None
for k in sys.argv[2:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"
}
median_s() { # FILE: the median of the seconds in it, one a line; FAIL if one is FAIL or none
    if [ ! -s "$1" ] || grep -q FAIL "$1"; then echo FAIL; return; fi
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]
        else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
same_ls_remote() { # URL_A URL_B NAME: git ls-remote (HEAD included) of both the same, not empty
    git ls-remote "$1" >"$WORK/$3.a" 2>>"$WORK/$3.log" && git ls-remote "$2" >"$WORK/$3.b" 2>>"$WORK/$3.log" &&
        [ -s "$WORK/$3.a" ] && diff "$WORK/$3.a" "$WORK/$3.b" >"$WORK/$3.diff"
}
mirror_clone() { rm -rf "$2" && git clone -q --mirror "$1" "$2"; }
# service_run N: S1 and S2 once, into fresh repositories import-N-<run id> and fork-N-<run id>;
# each side's seconds (or FAIL) appended to $WORK/s{1,2}-{ours,ref}.times, the run's figures
# to service_lines.
service_run() {
    local n=$1 url fork
    url=$BASE/$OWNER/import-$n-$RUN_ID.git fork=$OWNER/fork-$n-$RUN_ID
    local status t0 t1 deadline state=- objects=- bytes=- refs=- irows=(- -) src0=(- -) src1=(- -)
    local ours1=FAIL ref1 ours2=FAIL ref2 fstatus=- fstate=- frefs=- fwritten=- fread=- fsource=-
    # S1, ours: from the POST until GET api's import is no longer running.
    log "S1 run $n: POST $url/api/import {\"url\": \"$S_REF\"}"
    t0=$(now)
    status=$(service_post "$url/api/import" "{\"url\": \"$S_REF\"}" "$WORK/s1-$n.post")
    if [ "$status" = 202 ]; then
        deadline=$(($(date +%s) + 1800))
        while :; do
            curl -s -m 60 "${S_AUTH[@]}" -o "$WORK/s1-$n.json" "$url/api" || true
            t1=$(now)
            state=$(json_field "$WORK/s1-$n.json" import state)
            [ "$state" = running ] && [ "$(date +%s)" -lt "$deadline" ] || break
            sleep 0.1
        done
        objects=$(json_field "$WORK/s1-$n.json" import objects)
        bytes=$(json_field "$WORK/s1-$n.json" import bytes)
        read -r -a irows < <(rows_probe "$url" 1) # the instance's, since the POST started it
        if same_ls_remote "$S_REF" "$url" "s1-$n-refs"; then refs=ok; else refs=FAIL; fi
        if [ "$state" = done ] && [ "$refs" = ok ]; then
            ours1=$(elapsed "$t0" "$t1")
        else
            failed=1
            log "S1 run $n: FAILED: state $state ($(json_field "$WORK/s1-$n.json" import error)), ls-remote $refs (see $WORK/s1-$n-refs.diff)"
        fi
    else
        failed=1
        log "S1 run $n: FAILED: POST api/import answered $status: $(head -c 300 "$WORK/s1-$n.post" 2>/dev/null)"
    fi
    timed ref1 "s1-ref-$n" mirror_clone "$S_REF" "$WORK/service-mirror.git"
    echo "$ours1" >>"$WORK/s1-ours.times"
    echo "$ref1" >>"$WORK/s1-ref.times"
    service_lines+=("S1 run $n: ours $ours1 s (state $state, $objects objects, $bytes bytes, ls-remote $refs; rows written ${irows[1]}, read ${irows[0]}), ref $ref1 s")
    # S2, ours: the fork's request, synchronous.
    if [ "$ours1" != FAIL ]; then
        maintain "$url" "s2-$n-maintain" || log "S2 run $n: the source's maintenance did not finish"
        read -r -a src0 < <(rows_probe "$url" 0)
        log "S2 run $n: POST $url/api/fork {\"to\": \"$fork\"}"
        t0=$(now)
        fstatus=$(service_post "$url/api/fork" "{\"to\": \"$fork\"}" "$WORK/s2-$n.json")
        t1=$(now)
        read -r -a src1 < <(rows_probe "$url" 1)
        fstate=$(json_field "$WORK/s2-$n.json" state)
        fwritten=$(header_of "$WORK/s2-$n.json.headers" x-rows-written)
        fread=$(header_of "$WORK/s2-$n.json.headers" x-rows-read)
        if [[ ${src0[0]} =~ ^[0-9]+$ && ${src1[0]} =~ ^[0-9]+$ ]] && [ "${src1[0]}" -ge "${src0[0]}" ]; then
            fsource=$((src1[0] - src0[0]))
        fi
        if same_ls_remote "$url" "$BASE/$fork.git" "s2-$n-refs"; then frefs=ok; else frefs=FAIL; fi
        if [ "$fstatus" = 201 ] && [ "$fstate" = done ] && [ "$frefs" = ok ]; then
            ours2=$(elapsed "$t0" "$t1")
        else
            failed=1
            log "S2 run $n: FAILED: answered $fstatus, state $fstate, ls-remote $frefs: $(head -c 300 "$WORK/s2-$n.json" 2>/dev/null)"
        fi
    fi
    timed ref2 "s2-ref-$n" mirror_clone "$S_REF" "$WORK/service-mirror.git"
    echo "$ours2" >>"$WORK/s2-ours.times"
    echo "$ref2" >>"$WORK/s2-ref.times"
    service_lines+=("S2 run $n: ours $ours2 s (status $fstatus, state $fstate, ls-remote $frefs; x-rows-written $fwritten, x-rows-read $fread; the source's rows read $fsource), ref $ref2 s")
    S_ROWS1=("${irows[1]}" "${irows[0]}" "$objects") S_ROWS2=("$fwritten" "$fread" "$objects")
}
service_lines=()
if [ "${BENCH_SERVICE:-1}" = 1 ] && only S; then
    SERVICE_RUNS=${BENCH_SERVICE_RUNS:-3}
    GOGIT=${BENCH_GOGIT:-/work/.mirror/go-git+go-git/repo}
    S_SRC=$WORK/service-src.git
    S_AUTH=()
    [ -z "$TOKEN" ] || S_AUTH=(-H "Authorization: Bearer $TOKEN")
    if [ -n "$OURS_DIR" ]; then
        log "S: skipped: BASE_URL is a reference server (BENCH_OURS_REFERENCE_DIR), without api/import"
    elif ! git clone -q --bare "$GOGIT" "$S_SRC"; then
        failed=1
        log "FAILED: (S) needs go-git's history (BENCH_GOGIT=$GOGIT)"
    else
        S_REF=$(ref_url service)
        S_OBJECTS=$(objects "$S_SRC")
        # The source, on git http-backend: go-git's branches and tags (not timed).
        if ! push_all "$S_SRC" "$S_REF"; then
            failed=1
            log "FAILED: (S) pushing go-git's history to the reference ($S_REF)"
        else
            log "S: go-git's $(git -C "$S_SRC" for-each-ref refs/heads refs/tags | wc -l) branches and tags, $S_OBJECTS objects, at $S_REF"
            rm -f "$WORK"/s[12]-{ours,ref}.times
            S_ROWS1=(- - -) S_ROWS2=(- - -)
            for ((run = 1; run <= SERVICE_RUNS; run++)); do service_run "$run"; done
            rm -rf "$WORK/service-mirror.git"
            row "S1: import of go-git (median of $SERVICE_RUNS)" "$(median_s "$WORK/s1-ours.times")" "$(median_s "$WORK/s1-ref.times")"
            row "S2: fork of go-git at rest (median of $SERVICE_RUNS)" "$(median_s "$WORK/s2-ours.times")" "$(median_s "$WORK/s2-ref.times")"
            rows_table+=("S1: import of go-git (its last run)|${S_ROWS1[0]}|${S_ROWS1[1]}|${S_ROWS1[2]}")
            rows_table+=("S2: fork of go-git at rest (its last run's answer)|${S_ROWS2[0]}|${S_ROWS2[1]}|${S_ROWS2[2]}")
        fi
    fi
fi

# --- report ----------------------------------------------------------------------------------
echo
if [ ${#rows[@]} -gt 0 ]; then
    echo "bench: ours = $BASE, reference = git http-backend / static lighttpd on 127.0.0.1, scale $SCALE"
    printf '%-58s %10s %14s %8s\n' "case" "ours (s)" "reference (s)" "ratio"
    for r in "${rows[@]}"; do
        IFS='|' read -r c o f x <<<"$r"
        printf '%-58s %10s %14s %8s\n' "$c" "$o" "$f" "$x"
    done
fi
if [ ${#service_lines[@]} -gt 0 ]; then
    echo
    echo "service (S): go-git's branches and tags imported from git http-backend, then forked at rest;"
    echo "ref: git clone --mirror from git http-backend, timed beside ours in each run; source $S_REF"
    printf '%s\n' "${service_lines[@]}"
    s2_median=$(median_s "$WORK/s2-ours.times")
    echo "goal: a fork of go-git under 1 s ($s2_median s): $(awk -v t="$s2_median" 'BEGIN { print (t ~ /^[0-9.]+$/ && t < 1) ? "met" : "missed" }')"
fi
if [ "$wasm_memory" != skipped ]; then
    if [[ $wasm_memory =~ ^[0-9]+$ ]]; then
        echo "x-wasm-memory after (d): $wasm_memory bytes ($((wasm_memory / 1048576)) MiB)"
    else
        echo "x-wasm-memory after (d): $wasm_memory"
    fi
fi
if [ -n "$wasm_memory_clone" ]; then
    echo "x-wasm-memory after (h): $wasm_memory_clone bytes ($((wasm_memory_clone / 1048576)) MiB)"
fi
if [ -n "${refs_memory:-}" ]; then
    echo "x-wasm-memory after (P5): $refs_memory"
fi
if [ ${#versions_memory[@]} -gt 0 ]; then
    echo "x-wasm-memory (versions): ${versions_memory[*]}"
fi
if [ ${#rows_table[@]} -gt 0 ]; then
    echo
    echo "rows (ours), as billed: written and read in each case; objects: those it moves (for R: requests)"
    printf '%-58s %10s %12s %9s %10s %10s\n' "case" "written" "read" "objects" "w/object" "r/object"
    for r in "${rows_table[@]}"; do
        IFS='|' read -r c w rd o <<<"$r"
        per() { awk -v a="$1" -v b="$2" 'BEGIN { p = ""; if (a ~ /^>=/) { p = ">="; a = substr(a, 3) }
            if (a ~ /^[0-9]+$/ && b > 0) printf "%s%.3f", p, a / b; else print "-" }'; }
        printf '%-58s %10s %12s %9s %10s %10s\n' "$c" "$w" "$rd" "$o" "$(per "$w" "$o")" "$(per "$rd" "$o")"
    done
fi
if [ ${#lfs_memory[@]} -gt 0 ]; then
    echo "x-wasm-memory of the Worker (LFS): ${lfs_memory[*]}"
fi
if [ ${#large_memory[@]} -gt 0 ]; then
    echo "x-wasm-memory (large): ${large_memory[*]}"
fi
if [ ${#pages[@]} -gt 0 ]; then
    echo
    echo "pages (W): go-git's history, ours ${W_OURS%.git} beside cgit $CGIT; median of $PAGE_RUNS GETs"
    echo "each, after one to warm; rows read and wasm memory: our last GET's x-rows-read, x-wasm-memory;"
    echo "content: our page holds what git says it should (ok, else found/expected)"
    printf '%-42s %9s %9s %7s %9s %11s %8s\n' "page" "ours (ms)" "cgit (ms)" "ratio" "rows read" "wasm memory" "content"
    missed=()
    for r in "${pages[@]}"; do
        IFS='|' read -r c o f x rr m k <<<"$r"
        printf '%-42s %9s %9s %7s %9s %11s %8s\n' "$c" "$o" "$f" "$x" "$rr" "$m" "$k"
        awk -v x="$x" 'BEGIN { exit !(x !~ /^[0-9.]+$/ || x > 1.5) }' && missed+=("$c")
    done
    IFS='|' read -r _ summary_ms _ <<<"${pages[0]}"
    summary_goal=$(awk -v t="$summary_ms" 'BEGIN { print (t ~ /^[0-9.]+$/ && t < 50) ? "met" : "missed" }')
    if [ ${#missed[@]} -eq 0 ]; then
        echo "goal: every page within 1.5x of cgit: met; the summary under 50 ms ($summary_ms ms): $summary_goal"
    else
        echo "goal: every page within 1.5x of cgit: missed (or failed) by $(printf '%s, ' "${missed[@]}" | sed 's/, $//');" \
            "the summary under 50 ms ($summary_ms ms): $summary_goal"
    fi
fi
