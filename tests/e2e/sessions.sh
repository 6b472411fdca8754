#!/usr/bin/env bash
# Seeded random git sessions, end to end: the Worker under its own wrangler dev beside git's
# own git http-backend (tests/support/reference-server.sh), driven by the real git CLI, the
# same session against both, the outcomes compared.
#
# Usage: tests/e2e/sessions.sh    (builds nothing: scripts/test.sh has built the Worker)
#
# Environment:
#   SESSIONS      how many sessions, default 40
#   SESSION_SEED  the run's seed, default 20261202; session k draws from RANDOM seeded with
#                 (SESSION_SEED, k) alone, so one session replays by itself:
#   SESSION_FIRST the first session's number k, default 1
#                 (a failure prints `replay: SESSION_SEED=S SESSION_FIRST=k SESSIONS=1 ...`)
#   SESSION_TOLERATE  a comma-separated list of known differences to step around, so that
#                 a run can look past them for others; by default none (strict):
#                 lazy-blobs    leave blobs out of a blobless client's objects compared: ours
#                               advertises no-thin to pushes (a stored pack must be whole), so
#                               git does not fetch the delta bases a thin pack would use
#                 scripts/test.sh runs it with it, and a strict run shows only that one
#
# Each session:
#   a. builds a random branchy history in a work repository, its commits dated from the
#      seed: branches forking at various depths, merges, small text files, now and then a
#      ~200 KB file, annotated tags, tags of tags, lightweight tags;
#   b. pushes every branch and tag to a new repository on both servers
#      ($BASE/sessions-<date>-<pid>/s<k>.git and the same path on the reference, which is
#      given uploadpack.allowAnySHA1InWant, as ours serves any object by id: a v0 blobless
#      clone's lazy fetches need it); ours runs with PRUNE_GRACE_SECONDS=0 and
#      RETIRED_SWEEP_SECONDS=1, so maintenance prunes what a session left unreachable;
#   c. clones each in the same random client state, in the same protocol version (0 or 2):
#      full, --depth N (1..4, sometimes --no-single-branch), --shallow-since=<a commit's
#      date>, --single-branch -b <branch or tag>, or --filter=blob:none;
#   d. runs the same 3-6 random commands in both clients (fetch of a branch or tag with or
#      without a refspec, fetch of everything / --prune / --tags, --deepen=N, --unshallow,
#      pull, a new commit and push, an amend or rewind and force-push, a new tag pushed, a
#      remote branch deleted), each with the same dates in both so that new commits have the
#      same ids; sometimes maintenance on ours first (POST api/maintenance, then GET api
#      until it is done);
#   e. after the push and after each command compares: the exit status, HEAD, the refs
#      (`for-each-ref` name, id, symref), whether shallow and the shallow file, `fsck
#      --no-dangling`'s status, every object the client has (`cat-file
#      --batch-all-objects`), and what each server advertises (`ls-remote`).
#   The first difference ends the session and fails its check, with the seed, the client
#   state, the commands so far, and a diff of both sides.
# Output: one `ok - session k ...` / `not ok - session k ...` line per session, each followed
# by a `#` line telling what it did, then `sessions: N passed, M failed`; exit 1 if M > 0.
set -u

SESSIONS=${SESSIONS:-40}
SESSION_SEED=${SESSION_SEED:-20261202}
SESSION_FIRST=${SESSION_FIRST:-1}
EXPECTED=$SESSIONS

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/e2e/beside.sh
. "$HERE/beside.sh"
# Maintenance prunes at once what no ref reaches (grace 0) and sweeps what it replaced a
# second later, so that a session's later commands read what it left.
beside sessions "PRUNE_GRACE_SECONDS:0" "RETIRED_SWEEP_SECONDS:1"
unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE GIT_DIR GIT_WORK_TREE
# Clients never gc on their own (it would drop objects on one side only), check what they
# receive, and merge on pull.
cat >"$TMP/gitconfig" <<EOF
[user]
	name = E2E Tester
	email = e2e@example.test
[init]
	defaultBranch = main
[advice]
	detachedHead = false
	skippedCherryPicks = false
[gc]
	auto = 0
[maintenance]
	auto = false
[pull]
	rebase = false
[transfer]
	fsckObjects = true
[credential]
$(credential_helper)
EOF
OWNER=sessions-$(date +%Y%m%d%H%M%S)-$$
echo "# seed $SESSION_SEED, tolerating ${SESSION_TOLERATE:-nothing}, sessions $SESSION_FIRST..$((SESSION_FIRST + SESSIONS - 1)), owner $OWNER"

# --- randomness: RANDOM, drawn only in this shell (never in a $(...) subshell) -------------
tolerate() { case ",${SESSION_TOLERATE:-}," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
rand() { R=$((RANDOM % $1)); }   # R in 0..N-1
pick() {                         # pick NAME...: P is one of them
    R=$((RANDOM % $#))
    shift "$R"
    P=$1
}
# The clock: every commit, tag and command a little later, the same in both clients.
tick() {
    T=$((T + 60 + RANDOM % 3000))
    export GIT_AUTHOR_DATE="@$T +0000" GIT_COMMITTER_DATE="@$T +0000"
}

# --- a. the history ---------------------------------------------------------------------------
branches=()
tags=()
commit_on() { # BRANCH: a commit on it, touching a small file (now and then a large one)
    local b=$1
    [ "$(git -C "$W" symbolic-ref -q --short HEAD)" = "$b" ] || git -C "$W" checkout -q "$b" || return 1
    tick
    rand 6
    printf '%s %s %s\n' "$b" "$T" "$RANDOM" >>"$W/f$R.txt"
    rand 14
    if [ "$R" = 0 ]; then
        rand 100000
        seq "$R" $((R + 33000)) | sed 's/$/ lorem ipsum/' | head -c 200000 >"$W/big$((RANDOM % 2)).txt"
    fi
    git -C "$W" add -A && git -C "$W" commit -q -m "$b at $T"
}
build_history() {
    W=$S/work
    git init -q -b main "$W"
    branches=(main)
    tags=()
    commit_on main && commit_on main || return 1
    local ops n b a depth count
    rand 15
    ops=$((6 + R))
    for n in $(seq 1 "$ops"); do
        rand 100
        if [ "$R" -lt 45 ]; then
            pick "${branches[@]}"
            commit_on "$P" || return 1
        elif [ "$R" -lt 65 ] && [ "${#branches[@]}" -lt 6 ]; then
            pick "${branches[@]}"
            count=$(git -C "$W" rev-list --count --first-parent "$P")
            rand "$count"
            depth=$R
            b=b$n
            git -C "$W" branch "$b" "$P~$depth" || return 1
            branches+=("$b")
            commit_on "$b" || return 1
        elif [ "$R" -lt 80 ] && [ "${#branches[@]}" -gt 1 ]; then
            pick "${branches[@]}"
            a=$P
            pick "${branches[@]}"
            b=$P
            [ "$a" = "$b" ] && continue
            tick
            git -C "$W" checkout -q "$a" || return 1
            if ! git -C "$W" merge -q --no-ff -X theirs -m "merge $b into $a" "$b" >/dev/null 2>&1; then
                git -C "$W" merge --abort 2>/dev/null
                git -C "$W" merge -q --no-ff -s ours -m "merge $b into $a (ours)" "$b" || return 1
            fi
        elif [ "$R" -lt 90 ]; then
            pick "${branches[@]}"
            count=$(git -C "$W" rev-list --count --first-parent "$P")
            rand "$count"
            tick
            git -C "$W" tag -a "v$n" -m "tag v$n" "$P~$R" || return 1
            tags+=("v$n")
        elif [ "$R" -lt 95 ] && [ "${#tags[@]}" -gt 0 ]; then
            pick "${tags[@]}"
            tick
            git -C "$W" tag -a "v$n-of-$P" -m "tag of $P" "$P" 2>/dev/null || return 1
            tags+=("v$n-of-$P")
        else
            pick "${branches[@]}"
            git -C "$W" tag "light$n" "$P" || return 1
            tags+=("light$n")
        fi
    done
    git -C "$W" checkout -q main
}

# --- e. the comparison ----------------------------------------------------------------------
state() { # DIR URL: what the client has, and what its server advertises
    local dir=$1
    export GIT_NO_LAZY_FETCH=1
    echo "## HEAD"
    git -C "$dir" symbolic-ref -q HEAD
    git -C "$dir" rev-parse -q --verify HEAD
    echo "## refs"
    git -C "$dir" for-each-ref --format='%(refname) %(objectname) %(symref)'
    echo "## shallow"
    git -C "$dir" rev-parse --is-shallow-repository
    [ -f "$dir/.git/shallow" ] && sort "$dir/.git/shallow"
    echo "## fsck --no-dangling"
    git -C "$dir" fsck --no-dangling >"$dir.fsck" 2>&1
    echo "exit $?"
    echo "## objects"
    git -C "$dir" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)' 2>/dev/null |
        if tolerate lazy-blobs && [ "$mode" = --filter=blob:none ]; then grep -v ' blob$'; else cat; fi | sort
    echo "## server ls-remote"
    git ls-remote "$2" 2>&1 | sort
    unset GIT_NO_LAZY_FETCH
}
# compare WHAT: both clients' states (and the last exit statuses) the same, or a report.
compare() {
    local what=$1
    {
        echo "## exit $RC_OURS"
        state "$S/ours" "$URL_OURS"
    } >"$S/state.ours"
    {
        echo "## exit $RC_REF"
        state "$S/ref" "$URL_REF"
    } >"$S/state.ref"
    cmp -s "$S/state.ours" "$S/state.ref" && return 0
    echo "DIFFERENCE after: $what"
    echo "session $K, seed $SESSION_SEED"
    echo "replay: SESSION_SEED=$SESSION_SEED SESSION_FIRST=$K SESSIONS=1 bash tests/e2e/sessions.sh"
    echo "client state: $CLIENT"
    echo "steps:"
    printf '  %s\n' "${STEPS[@]}"
    echo "--- diff (< ours, > git http-backend):"
    diff "$S/state.ours" "$S/state.ref" | head -n 40
    echo "--- ours: output of the last command:"
    tail -n 15 "$S/out.ours"
    echo "--- git http-backend: output of the last command:"
    tail -n 15 "$S/out.ref"
    return 1
}
# run WHAT SNIPPET: the snippet in each client (ours first), same dates, statuses kept.
run_both() {
    local snippet=$1
    STEPS+=("$snippet")
    (cd "$S/ours" && ORIGIN_URL=$URL_OURS && eval "$snippet") >"$S/out.ours" 2>&1
    RC_OURS=$?
    (cd "$S/ref" && ORIGIN_URL=$URL_REF && eval "$snippet") >"$S/out.ref" 2>&1
    RC_REF=$?
    compare "$snippet"
}

# POST api/maintenance on ours, then GET api until it is no longer in progress.
maintain() {
    local repo=$OWNER/s$K.git deadline=$((SECONDS + 90))
    STEPS+=("[maintenance on ours]")
    curl -s -m 60 -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
        "$BASE/$repo/api/maintenance" >"$S/maint.json" || return 1
    while [ "$SECONDS" -lt "$deadline" ]; do
        curl -s -m 60 -H "Authorization: Bearer $TOKEN" "$BASE/$repo/api" >"$S/api.json"
        if [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["maintenance"]["in_progress"])' \
            "$S/api.json" 2>/dev/null)" = False ]; then
            return 0
        fi
        sleep 0.3
    done
    echo "maintenance on ours did not finish within 90 s (session $K, seed $SESSION_SEED)"
    cat "$S/maint.json" "$S/api.json"
    return 1
}

# --- d. the commands --------------------------------------------------------------------------
remote_branches=()
remote_tags=()
known_remote() { # what the reference has now (both have it, or compare failed already)
    mapfile -t remote_branches < <(git ls-remote --heads "$URL_REF" | sed 's|.*refs/heads/||')
    mapfile -t remote_tags < <(git ls-remote --tags --refs "$URL_REF" | sed 's|.*refs/tags/||')
    [ "${#remote_branches[@]}" -gt 0 ] || remote_branches=(main)
    [ "${#remote_tags[@]}" -gt 0 ] || remote_tags=(none)
}
# next_command: SNIPPET is a random command, decided here, the same for both clients.
next_command() {
    local cur b n
    known_remote
    cur=$(git -C "$S/ref" symbolic-ref -q --short HEAD)
    tick
    n=$T
    rand 100
    if [ "$R" -lt 18 ]; then
        pick "${remote_branches[@]}" "${remote_branches[@]}" nosuch
        b=$P
        rand 4
        case $R in
            0) SNIPPET="git fetch origin $b" ;;
            1) SNIPPET="git fetch origin $b:refs/remotes/origin/$b" ;;
            2) SNIPPET="git fetch origin +refs/heads/$b:refs/remotes/origin/$b" ;;
            3)
                pick "${remote_tags[@]}"
                SNIPPET="git fetch origin refs/tags/$P:refs/tags/$P"
                ;;
        esac
    elif [ "$R" -lt 28 ]; then
        pick "git fetch origin" "git fetch --prune origin" "git fetch --tags origin"
        SNIPPET=$P
    elif [ "$R" -lt 38 ]; then
        rand 3
        SNIPPET="git fetch --deepen=$((R + 1)) origin"
    elif [ "$R" -lt 44 ]; then
        SNIPPET="git fetch --unshallow origin"
    elif [ "$R" -lt 56 ]; then
        SNIPPET="git pull --no-rebase --no-edit"
    elif [ "$R" -lt 72 ]; then
        rand 6
        SNIPPET="echo 'client $n' >>c$R.txt && git add -A && git commit -q -m 'client $n' && "
        if [ -n "$cur" ]; then
            rand 4
            if [ "$R" = 0 ]; then SNIPPET+="git push origin HEAD:refs/heads/new$n"; else SNIPPET+="git push origin HEAD"; fi
        else
            SNIPPET+="git push origin HEAD:refs/heads/new$n"
        fi
    elif [ "$R" -lt 84 ]; then
        [ -n "$cur" ] || cur=main
        rand 3
        case $R in
            0) SNIPPET="git commit -q --amend -m 'rewritten $n' && git push --force origin HEAD:refs/heads/$cur" ;;
            1) SNIPPET="git reset -q --hard HEAD~1 && echo 'again $n' >>a.txt && git add -A && git commit -q -m 'again $n' && git push --force origin HEAD:refs/heads/$cur" ;;
            2)
                pick "${remote_branches[@]}"
                b=$P
                pick "${remote_branches[@]}"
                SNIPPET="git push --force origin refs/remotes/origin/$b:refs/heads/$P"
                ;;
        esac
    elif [ "$R" -lt 90 ]; then
        pick "${remote_tags[@]}" HEAD
        SNIPPET="git tag -a t$n -m 'tag $n' $P && git push origin t$n"
    else
        # Any branch, the servers' HEAD (main) too: both refuse to delete it.
        local deletable=("${remote_branches[@]}")
        [ "${#deletable[@]}" -gt 0 ] || deletable=(nosuch)
        pick "${deletable[@]}"
        SNIPPET="git push origin --delete $P"
    fi
    return 0
}

# --- one session --------------------------------------------------------------------------------
session() {
    local v mode ncmd i
    RANDOM=$(((SESSION_SEED * 7919 + K * 104729) % 2147483647))
    T=$((1600000000 + K * 1000000))
    S=$TMP/s$K
    rm -rf "$S"
    mkdir -p "$S"
    STEPS=()
    CLIENT="(not yet)"
    RC_OURS=0 RC_REF=0
    : >"$S/out.ours"
    : >"$S/out.ref"
    URL_OURS=$BASE/$OWNER/s$K.git
    URL_REF=$REF/$OWNER/s$K.git
    build_history >"$S/history.log" 2>&1 || {
        echo "the history could not be built (a bug of this script): session $K, seed $SESSION_SEED"
        cat "$S/history.log"
        return 1
    }
    # b. both servers, every branch and tag
    local refpath
    refpath=$("$SERVER" create "$TMP/ref" "$OWNER/s$K") || return 1
    # Ours serves any object asked for by id (and says so in v0: allow-tip-sha1-in-want
    # allow-reachable-sha1-in-want), which a partial clone's lazy fetch of blobs needs in v0.
    git -C "$refpath" config uploadpack.allowAnySHA1InWant true
    local push=(push -q origin 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*')
    git -C "$W" remote add origin "$URL_OURS"
    git -C "$W" "${push[@]}" >"$S/out.ours" 2>&1
    RC_OURS=$?
    git -C "$W" remote set-url origin "$URL_REF"
    git -C "$W" "${push[@]}" >"$S/out.ref" 2>&1
    RC_REF=$?
    STEPS+=("git push origin 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'  (from the work repository: $(git -C "$W" rev-list --all | wc -l) commits, ${#branches[@]} branches, ${#tags[@]} tags)")
    if [ "$RC_OURS" != "$RC_REF" ] ||
        [ "$(git ls-remote "$URL_OURS" 2>&1 | sort)" != "$(git ls-remote "$URL_REF" 2>&1 | sort)" ]; then
        echo "DIFFERENCE after the first push: exit $RC_OURS (ours) vs $RC_REF (git http-backend)"
        echo "session $K, seed $SESSION_SEED"
        diff <(git ls-remote "$URL_OURS" 2>&1 | sort) <(git ls-remote "$URL_REF" 2>&1 | sort) | head -n 20
        tail -n 10 "$S/out.ours" "$S/out.ref"
        return 1
    fi
    # c. the clients
    rand 2
    v=$((R * 2))
    rand 5
    case $R in
        0) mode="" ;;
        1)
            rand 4
            mode="--depth $((R + 1))"
            rand 2
            [ "$R" = 0 ] && mode+=" --no-single-branch"
            ;;
        2)
            local dates
            mapfile -t dates < <(git -C "$W" log --format=%ct main)
            pick "${dates[@]}"
            mode="--shallow-since=$(date -u -d "@$P" '+%Y-%m-%dT%H:%M:%SZ')"
            ;;
        3)
            pick "${branches[@]}" "${branches[@]}" "${tags[@]}" main
            mode="--single-branch -b $P"
            ;;
        4) mode="--filter=blob:none" ;;
    esac
    CLIENT="protocol v$v, clone ${mode:-(full)}"
    tick
    mkdir -p "$S/ours" "$S/ref"
    run_both "git -c protocol.version=$v clone -q $mode \"\$ORIGIN_URL\" . && git config protocol.version $v" ||
        return 1
    # d. the commands
    rand 4
    ncmd=$((3 + R))
    for i in $(seq 1 "$ncmd"); do
        rand 100
        if [ "$R" -lt 25 ]; then
            maintain || return 1
        fi
        next_command
        run_both "$SNIPPET" || return 1
    done
    DESC="$CLIENT; $(printf '%s; ' "${STEPS[@]:2}")"
    rm -rf "$S"
    return 0
}

for K in $(seq "$SESSION_FIRST" $((SESSION_FIRST + SESSIONS - 1))); do
    DESC=
    check "session $K (seed $SESSION_SEED)" session
    [ -n "$DESC" ] && echo "#   $DESC" | cut -c 1-400
done

TOTAL=$((PASS + FAIL))
if [ "$TOTAL" -ne "$EXPECTED" ]; then
    echo "not ok - sessions.sh made $TOTAL checks, expected $EXPECTED"
    FAIL=$((FAIL + 1))
fi
echo "sessions: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
