#!/usr/bin/env bash
# Requests behind maintenance: the latency of `GET info/refs` on a repository while its repack
# runs in the alarm, and on a second repository meanwhile, beside the same requests at rest.
# A benchmark, not a test: it prints figures and asserts nothing.
#
# Usage: bash bench/latency.sh BASE_URL [SOURCE]
#   BASE_URL  a running server (bash scripts/dev.sh; with ADMIN_TOKEN set, give it as
#             BENCH_TOKEN)
#   SOURCE    a bare repository to push (default: go-git's history in BENCH_GOGIT, else
#             the local mirror at /work/.mirror/go-git+go-git/repo)
set -euo pipefail
BASE=${1:?usage: latency.sh BASE_URL [SOURCE]}
BASE=${BASE%/}
SOURCE=${2:-${BENCH_GOGIT:-/work/.mirror/go-git+go-git/repo}}
TOKEN=${BENCH_TOKEN:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
owner=latency-$(date +%s)-$$
auth=()
[ -n "$TOKEN" ] && auth=(-H "Authorization: Bearer $TOKEN")
url() { # NAME: the repository's URL, with the token for git
    if [ -n "$TOKEN" ]; then echo "${BASE/:\/\//://x:$TOKEN@}/$owner/$1.git"; else echo "$BASE/$owner/$1.git"; fi
}

# Samples GET info/refs of NAME every 50 ms for SECONDS, or until $TMP/stop exists; prints
# count, median, p99 and max.
sample() { # NAME SECONDS
    local deadline=$((SECONDS + $2))
    : >"$TMP/$1.times"
    while [ "$SECONDS" -lt "$deadline" ] && [ ! -e "$TMP/stop" ]; do
        curl -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" \
            "$BASE/$owner/$1.git/info/refs?service=git-upload-pack" >>"$TMP/$1.times"
        sleep 0.05
    done
    python3 - "$TMP/$1.times" <<'EOF'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"{len(t):5d} requests  median {q(0.5):7.1f} ms  p99 {q(0.99):7.1f} ms  max {t[-1]:7.1f} ms")
EOF
}
in_progress() {
    curl -s "${auth[@]}" "$BASE/$owner/repo.git/api" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["maintenance"]["in_progress"])'
}

echo "pushing $(git -C "$SOURCE" count-objects -v | sed -n 's/^in-pack: //p') objects of $SOURCE"
git -C "$SOURCE" push -q "$(url repo)" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
git init -q -b main "$TMP/small" && echo small >"$TMP/small/a" &&
    git -C "$TMP/small" add a && git -C "$TMP/small" -c user.name=b -c user.email=b@b commit -qm small
git -C "$TMP/small" push -q "$(url other)" main
# Let whatever the pushes made due run first.
while [ "$(in_progress)" = True ]; do sleep 1; done

echo "at rest, this repository:    $(sample repo 5)"
echo "at rest, another repository: $(sample other 5)"
curl -s -o /dev/null "${auth[@]}" -X POST -H 'content-type: application/json' \
    "$BASE/$owner/repo.git/api/maintenance"
sample repo 600 >"$TMP/during-repo" &
sample other 600 >"$TMP/during-other" &
sleep 0.5
while [ "$(in_progress)" = True ]; do sleep 0.5; done
touch "$TMP/stop"
wait
echo "during a repack, this one:   $(cat "$TMP/during-repo")"
echo "during a repack, another:    $(cat "$TMP/during-other")"
curl -s "${auth[@]}" "$BASE/$owner/repo.git/api" | python3 -c '
import json, sys
run = json.load(sys.stdin)["maintenance"]["last_run"]
fields = "objects", "slices", "took_ms", "busy_ms", "memory"
print("the repack: %s objects in %s slices, %s ms in all, %s ms in slices, wasm memory %s" % tuple(run[f] for f in fields))'
