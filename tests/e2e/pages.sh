#!/usr/bin/env bash
# The repository's web pages end to end: the real Worker under wrangler dev, a history pushed
# by the real git CLI, and every kind of page opened in a real headless Chromium (with
# JavaScript on and off) and compared with what git says of the same history
# (tests/e2e/pages.mjs does the browsing; this script builds and pushes the histories).
#
# Usage: E2E_ADMIN_TOKEN=TOKEN tests/e2e/pages.sh BASE_URL
#   BASE_URL        the Worker, started with ADMIN_TOKEN=TOKEN (scripts/test.sh starts it)
#   E2E_ARTIFACTS   where screenshots go (under pages/; default target/e2e-artifacts)
#   E2E_GOGIT       a bare repository (go-git's) whose default branch is also pushed and
#                   browsed; default /work/.mirror/go-git+go-git/repo when it exists; set it
#                   to "" to skip that part
#   CHROMIUM        the browser (default /usr/bin/chromium)
#
# The generated history (pages/demo-N): 40-odd commits on main (so that the log has pages),
# nested directories, a README.md with headings, a relative link, an image, raw <script> and
# <img onerror> and a javascript: link; a binary file, a png, a symlink, a submodule entry, an
# LFS pointer, a file over 1 MiB, an empty file; file names `<img src=x onerror=alert(1)>.txt`
# and `dir with space/ünïcödé file.txt`; commit messages with <script> and author names with
# quotes and entities; a text file edited in several places (several hunks); added, deleted,
# modified, mode-changed and type-changed files; a merge; branches `topic`, `feature/x`,
# `x"onmouseover=alert(1)` and `<b>bold`; tags v0.1 (light), v1.0 (annotated) and
# `<svg/onload=alert(1)>`. A copy of main is pushed to a second repository made private, and
# an empty repository is made with PUT api.
# Output: `ok - name` / `not ok - name` lines (this script's and pages.mjs's), `#`
# diagnostics, then `pages: N passed, M failed`; exit 1 if M > 0.
set -euo pipefail

BASE=${1:?usage: pages.sh BASE_URL}
BASE=${BASE%/}
TOKEN=${E2E_ADMIN_TOKEN:?pages.sh needs E2E_ADMIN_TOKEN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARTIFACTS=${E2E_ARTIFACTS:-$ROOT/target/e2e-artifacts}/pages
GOGIT=${E2E_GOGIT-/work/.mirror/go-git+go-git/repo}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pages.XXXXXX")
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
export GIT_COMMITTER_NAME="Con Mitter" GIT_COMMITTER_EMAIL="con@example.test"
# git drops < and > from names: the hostile author is quotes and entities instead.
HOSTILE_AUTHOR="Mallory \"O'Hara\" &amp; &lt;script&gt;alert(1)&lt;/script&gt;"

SRC=$TMP/src
git init -q -b main "$SRC"
g() { git -C "$SRC" -c core.quotePath=false "$@"; }
T=1700000000
at() { # [SECONDS]: the next commit's dates, SECONDS after the last one's
    T=$((T + ${1:-3600}))
    export GIT_AUTHOR_DATE="@$T +0200" GIT_COMMITTER_DATE="@$T +0200"
}
commit() { g add -A && g commit -q "$@"; }
notes() { # EDITS...: notes.txt, 60 lines, with "N:TEXT" replacing line N
    python3 - "$SRC/notes.txt" "$@" <<'PY'
import os, sys
path, edits = sys.argv[1], sys.argv[2:]
if os.path.exists(path):
    lines = open(path).read().split("\n")[:-1]
else:
    lines = ["line %d: the quick brown fox jumps over the lazy dog" % n for n in range(1, 61)]
for edit in edits:
    n, text = edit.split(":", 1)
    lines[int(n) - 1] = text
open(path, "w").write("\n".join(lines) + "\n")
PY
}

# 1. The first commit.
at
mkdir -p "$SRC/src" "$SRC/docs" "$SRC/tools"
printf '# Demo\n\nA first README.\n' >"$SRC/README.md"
notes
cat >"$SRC/src/main.rs" <<'EOF'
// The entry point: prints a greeting.
fn main() {
    let greeting = "hello, <world> & \"friends\"";
    for n in 0..3 {
        println!("{greeting} {n}");
    }
}
EOF
printf '# Guide\n\nRead me first.\n' >"$SRC/docs/guide.md"
printf 'old documentation\nto be deleted\n' >"$SRC/docs/old.md"
: >"$SRC/empty.txt"
printf 'a file that becomes a symlink\n' >"$SRC/typechange.txt"
printf '#!/bin/sh\necho run\n' >"$SRC/tools/run.sh"
printf 'no final newline\nhere' >"$SRC/tools/no-eol.txt"
commit -m 'initial import'

# 2. Hostile names, nested directories, binary, png, symlink.
at
mkdir -p "$SRC/src/lib/deep/nested" "$SRC/dir with space" "$SRC/img" "$SRC/bin"
printf 'pub fn deep() -> u32 {\n    42\n}\n' >"$SRC/src/lib/deep/nested/mod.rs"
printf 'ünïcödé content\n\ttabbed\n   spaced   out   \n' >"$SRC/dir with space/ünïcödé file.txt"
printf 'a file whose name is markup\n<script>alert(1)</script>\n' >"$SRC/<img src=x onerror=alert(1)>.txt"
python3 - "$SRC/img/logo.png" <<'PY'
import struct, sys, zlib
w = h = 24
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + b"".join(bytes((200, 8 * x, 8 * y)) for x in range(w)) for y in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 8)' >"$SRC/bin/data.bin"
ln -s README.md "$SRC/link-to-readme"
GIT_AUTHOR_NAME=$HOSTILE_AUTHOR commit -m '<script>alert(1)</script> add hostile names' \
    -m 'and <img src=x onerror=alert(1)> in the body'
g tag v0.1

# 3. Several hunks, added, deleted, modified and mode-changed files, the real README.
at
notes '5:line 5: EDITED in the third commit' '30:line 30: EDITED <b>too</b>' '55:line 55: EDITED & last'
cat >"$SRC/README.md" <<'EOF'
# Demo repository

Some *intro* text with a [relative link to the guide](docs/guide.md) and the logo:

![the logo](img/logo.png)

## Hostile section

<script>alert(1)</script>

<img src=x onerror=alert(1)>

A [javascript link](javascript:alert(1)) stays inert.

### Code

```sh
echo "hello" && exit 0
```

- one
- two
EOF
g rm -q docs/old.md
printf 'new documentation\n' >"$SRC/docs/new.md"
chmod +x "$SRC/tools/run.sh"
commit -m 'Several hunks, added, deleted and changed files' -m 'Body line with <b>markup</b> & "quotes".

    indented   spaces   kept'

# A topic branch, merged back with --no-ff.
g checkout -q -b topic
at
notes '40:line 40: changed on topic'
printf 'from topic\n' >"$SRC/topic.txt"
commit -m 'topic: line 40 and topic.txt'
g checkout -q main
at
notes '10:line 10: changed on main'
commit -m 'main: line 10'
g tag '<svg/onload=alert(1)>'
at
g merge -q --no-ff topic -m 'Merge branch topic <script>alert(1)</script>'

# 5. A type change and a binary change.
at
rm "$SRC/typechange.txt"
ln -s notes.txt "$SRC/typechange.txt"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(255, -1, -1)) * 8)' >"$SRC/bin/data.bin"
commit -m 'a type change and a binary change'
HOSTILE_AT=$(g rev-parse HEAD)

# 6. A file over 1 MiB, an LFS pointer, a submodule entry.
at
seq 1 200000 >"$SRC/large.txt"
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %s\n' \
    4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393 12345 >"$SRC/asset.bin"
g add -A
g update-index --add --cacheinfo "160000,$(g rev-parse HEAD~3),vendor/lib"
g commit -q -m 'large file, LFS pointer, submodule'
g tag -a v1.0 -m '<script>alert(1)</script> release 1.0'

# feature/x: two commits off main.
g checkout -q -b feature/x
at
notes '20:line 20: changed on feature/x'
printf 'feature\n' >"$SRC/feature.txt"
commit -m 'feature: line 20 and feature.txt'
at
mkdir -p "$SRC/docs/feature"
printf '# Deep feature doc\n' >"$SRC/docs/feature/deep.md"
commit -m 'feature: a deep doc'
g checkout -q main

# 31 more commits on main, so that the log has two pages; some authored before committed.
for n in $(seq 1 31); do
    at 600
    echo "counter $n" >"$SRC/counter.txt"
    if [ $((n % 5)) -eq 0 ]; then
        GIT_AUTHOR_DATE="@$((T - 86400)) -0700" commit -m "counter $n (authored a day earlier)"
    else
        commit -m "counter $n"
    fi
done
# The tip: a message without a final newline.
at
tip=$(printf 'the tip: a message without a final newline' | g commit-tree "$(g rev-parse 'HEAD^{tree}')" -p HEAD)
g update-ref refs/heads/main "$tip"
g branch 'x"onmouseover=alert(1)' "$HOSTILE_AT"
g branch '<b>bold' v0.1

ID=$RANDOM$RANDOM
REPO=pages/demo-$ID
PRIVATE=pages/private-$ID
EMPTY=pages/empty-$ID
HOSTPORT=${BASE#http://}
as() { echo "http://x:$TOKEN@$HOSTPORT/$1.git"; }
push() { # REPO REFSPEC...
    local repo=$1
    shift
    git -C "$SRC" -c credential.helper= push -q "$(as "$repo")" "$@"
}
check "push: main, topic, feature/x, v0.1 and v1.0 to $REPO" \
    push "$REPO" refs/heads/main refs/heads/topic refs/heads/feature/x refs/tags/v0.1 refs/tags/v1.0
check "push: branches x\"onmouseover=alert(1) and <b>bold, tag <svg/onload=alert(1)>" \
    push "$REPO" 'refs/heads/x"onmouseover=alert(1)' 'refs/heads/<b>bold' 'refs/tags/<svg/onload=alert(1)>'
make_private() {
    push "$PRIVATE" refs/heads/main &&
        curl -sS -m 30 -f -u "x:$TOKEN" -X PATCH -H 'Content-Type: application/json' \
            --data '{"visibility":"private"}' "$BASE/$PRIVATE.git/api/settings" &&
        [ "$(curl -sS -m 30 -o /dev/null -w '%{http_code}' "$BASE/$PRIVATE.git/api/refs")" = 401 ]
}
check "push: main to $PRIVATE, made private (PATCH api/settings), anonymous api/refs 401" make_private
check "PUT api: the empty repository $EMPTY" \
    curl -sS -m 30 -f -u "x:$TOKEN" -X PUT "$BASE/$EMPTY.git/api"

# go-git's history: its default branch and the tags on it.
GOGIT_REPO=
if [ -n "$GOGIT" ] && git -C "$GOGIT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
    GOGIT_REPO=pages/go-git-$ID
    GOGIT_BRANCH=$(git -C "$GOGIT" symbolic-ref --short HEAD)
    push_gogit() {
        local started=$SECONDS
        # shellcheck disable=SC2046
        timeout 300 git -C "$GOGIT" -c credential.helper= push -q "$(as "$GOGIT_REPO")" \
            "refs/heads/$GOGIT_BRANCH:refs/heads/$GOGIT_BRANCH" \
            $(git -C "$GOGIT" tag --merged "$GOGIT_BRANCH" | sed 's|.*|refs/tags/&:refs/tags/&|') || return 1
        echo "# pushed go-git's $GOGIT_BRANCH ($(git -C "$GOGIT" rev-list --count "$GOGIT_BRANCH") commits) in $((SECONDS - started)) s"
    }
    check "push: go-git's $GOGIT_BRANCH and its tags to $GOGIT_REPO" push_gogit
    grep '^# pushed' "$TMP/check.out" || true
fi

mkdir -p "$ARTIFACTS"
python3 - "$TMP/config.json" "$BASE" "$TOKEN" "$REPO" "$PRIVATE" "$EMPTY" "$SRC" "$ARTIFACTS" \
    "$GOGIT_REPO" "$GOGIT" <<'PY'
import json, sys
out, base, token, repo, private, empty, src, artifacts, gogit_repo, gogit = sys.argv[1:]
json.dump({"base": base, "token": token, "repo": repo, "private": private, "empty": empty,
           "src": src, "artifacts": artifacts,
           "gogit": {"repo": gogit_repo, "src": gogit} if gogit_repo else None},
          open(out, "w"), indent=1)
PY

# The browser part: its `ok`/`not ok` lines count here.
set +e
timeout 900 node "$HERE/pages.mjs" "$TMP/config.json" 2>&1 | tee "$TMP/pages.out"
node_status=${PIPESTATUS[0]}
set -e
PASS=$((PASS + $(grep -c '^ok - ' "$TMP/pages.out" || true)))
FAIL=$((FAIL + $(grep -c '^not ok - ' "$TMP/pages.out" || true)))
if ! grep -q '^pages.mjs: ' "$TMP/pages.out"; then
    echo "not ok - pages.mjs ran to its end (exit $node_status)"
    FAIL=$((FAIL + 1))
elif [ "$node_status" -ne 0 ] && ! grep -q '^not ok - ' "$TMP/pages.out"; then
    echo "not ok - pages.mjs exited $node_status without a failed check"
    FAIL=$((FAIL + 1))
fi
echo "# screenshots in $ARTIFACTS"

echo "pages: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
