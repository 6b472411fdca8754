#!/usr/bin/env bash
# Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/ from objects, packs
# and requests made by the real git: commits and tags (signed, with merged tags, in
# ISO-8859-1), packs with OFS_DELTA and REF_DELTA entries, a tag, a thin pack; push requests carrying them; fetch requests as git sends them (clone, fetch
# with haves, shallow, gzip is left to the fuzzer).
set -euo pipefail
cd "$(dirname "$0")"
corpus=corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{pktline,delta,upload_pack_request,receive_pack,index_pack,objects,request,fetch_answer}
# Commits and tags made by real git, the formats' unit-test fixtures, and the odd objects
# tests/git_reads.rs generates and compares with git.
cp ../tests/fixtures/objects/*.commit ../tests/fixtures/objects/*.tag "$corpus/objects/"
(cd .. && GIT_READS_CORPUS="$OLDPWD/$corpus/objects" cargo test --quiet --test git_reads \
    generated_objects >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export GIT_AUTHOR_NAME=Seed GIT_AUTHOR_EMAIL=seed@example.com
export GIT_COMMITTER_NAME=Seed GIT_COMMITTER_EMAIL=seed@example.com
export GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="1700000000 +0000"
git init -q -b main "$work/repo"
cd "$work/repo"
for i in 1 2 3 4; do
    seq 1 $((200 * i)) >numbers.txt
    printf 'version %s\n' "$i" >>notes.txt
    mkdir -p dir && printf 'file %s\n' "$i" >"dir/f$i"
    git add -A && git commit -q -m "commit $i"
done
git tag -a -m "a tag" v1 HEAD~1
cd - >/dev/null

pack() { # OUT ARGS...: a pack of the revisions on stdin
    local out=$1
    shift
    git -C "$work/repo" pack-objects --stdout "$@" >"$out"
}
printf 'main\nv1\n' | pack "$corpus/index_pack/ofs.pack" --revs --delta-base-offset
printf 'main\n' | pack "$corpus/index_pack/ref.pack" --revs
printf 'main\n^main~2\n' | pack "$corpus/index_pack/thin.pack" --revs --thin --delta-base-offset
printf 'main~3\n' | pack "$corpus/index_pack/first.pack" --revs

pkt() { # TEXT: one pkt-line of TEXT (printf escapes allowed, \0 included)
    printf "$1" >"$work/pkt"
    printf '%04x' $(($(wc -c <"$work/pkt") + 4))
    cat "$work/pkt"
}
zero=0000000000000000000000000000000000000000
printf '{"protect": [{"pattern": "refs/tags/*", "deny_delete": true}]}' >"$work/settings.json"
main=$(git -C "$work/repo" rev-parse main)
tag=$(git -C "$work/repo" rev-parse v1)
for seed in ofs ref first; do
    tip=$main
    [ "$seed" = first ] && tip=$(git -C "$work/repo" rev-parse main~3)
    {
        printf '\x3f' # the receive_pack target feeds the body in pieces of this byte + 1
        pkt "$zero $tip refs/heads/main\0report-status side-band-64k atomic object-format=sha1 agent=git/2\n"
        pkt "$zero $tag refs/tags/v1\n"
        printf '0000'
        cat "$corpus/index_pack/$seed.pack"
    } >"$corpus/receive_pack/$seed"
done
{
    printf '\x3f'
    pkt "$zero $main refs/heads/a\0report-status push-options\n"
    pkt "$main $zero refs/heads/b\n"
    printf '0000'
    pkt "ci.skip\n"
    printf '0000'
} >"$corpus/receive_pack/options"

# Fetch requests, as git sends them; forty m's stand for main and forty n's for main~3.
m=mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm
n=nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
caps="multi_ack_detailed no-done side-band-64k thin-pack ofs-delta include-tag agent=git/2"
{ pkt "want $m $caps\n"; printf '0000'; pkt "done\n"; } >"$corpus/upload_pack_request/clone"
{ pkt "want $m $caps\n"; printf '0000'; pkt "have $n\n"; printf '0000'; } >"$corpus/upload_pack_request/negotiate"
{ pkt "want $m $caps\n"; printf '0000'; pkt "have $n\n"; pkt "done\n"; } >"$corpus/upload_pack_request/fetch"
{ pkt "want $m $caps deepen-relative\n"; pkt "deepen 1\n"; printf '0000'; } >"$corpus/upload_pack_request/shallow"
{ pkt "want $m $caps\n"; pkt "shallow $n\n"; pkt "deepen-since 1600000000\n"; pkt "deepen-not refs/heads/main\n"; printf '0000'; pkt "done\n"; } >"$corpus/upload_pack_request/deepen"
v2() { # COMMAND ARG...: a protocol v2 request, marked for the fuzz target with a leading v
    printf 'v'
    pkt "command=$1\n"
    pkt "object-format=sha1\n"
    printf '0001'
    shift
    local arg
    for arg in "$@"; do pkt "$arg\n"; done
    printf '0000'
}
v2 ls-refs peel symrefs unborn "ref-prefix refs/heads/" "ref-prefix HEAD" >"$corpus/upload_pack_request/v2-ls-refs"
v2 fetch "want $m" "have $n" thin-pack ofs-delta "filter blob:limit=1k" done >"$corpus/upload_pack_request/v2-fetch"
v2 fetch "want-ref refs/heads/main" "deepen 2" "filter combine:tree%%3A1+blob:none" sideband-all >"$corpus/upload_pack_request/v2-want-ref"
v2 fetch "want $m" "have $n" wait-for-done >"$corpus/upload_pack_request/v2-acks"
v2 object-info size "oid $m" "oid $n" >"$corpus/upload_pack_request/v2-object-info"
cp "$corpus"/upload_pack_request/* "$corpus/pktline/"

# What another server answers an import (a byte choosing v2 or v0 and the piece size, then
# the answer), as git http-backend sends it for the seed repository: the advertisements in
# both protocols, ls-refs, and each protocol's whole fetch answer.
served() { # GIT-PROTOCOL SERVICE-ARGS: git upload-pack's answer for the seed repository
    GIT_PROTOCOL=$1 git upload-pack --stateless-rpc "${@:2}" "$work/repo"
}
{ printf '\x00'; pkt "# service=git-upload-pack\n"; printf '0000'; served version=2 --advertise-refs; } \
    >"$corpus/fetch_answer/v2-advertisement"
{ printf '\x01'; pkt "# service=git-upload-pack\n"; printf '0000'; served "" --advertise-refs; } \
    >"$corpus/fetch_answer/v0-advertisement"
{ printf '\x00'; v2 ls-refs symrefs "ref-prefix HEAD" "ref-prefix refs/" | tail -c +2 | served version=2; } \
    >"$corpus/fetch_answer/ls-refs"
{ printf '\x40'; v2 fetch "want $main" ofs-delta no-progress done | tail -c +2 | served version=2; } \
    >"$corpus/fetch_answer/v2-fetch"
{ printf '\x81'; { pkt "want $main side-band-64k ofs-delta no-progress\n"; printf '0000'; pkt "done\n"; } | served ""; } \
    >"$corpus/fetch_answer/v0-fetch"

# Whole requests: a byte choosing method, grant and repository (bits 0-2: GET HEAD POST PUT
# PATCH DELETE; bits 3-4: admin, open push, none; bit 7: the private one), then the path and
# query, Range, Content-Type, Git-Protocol and Authorization lines, then the body.
request() { # NAME CHOICE TARGET [RANGE TYPE PROTOCOL AUTH BODY-FILE]
    {
        printf "$2"
        printf '%s\n%s\n%s\n%s\n%s\n' "$3" "${4:-}" "${5:-}" "${6:-}" "${7:-}"
        [ -z "${8:-}" ] || cat "$8"
    } >"$corpus/request/$1"
}
R=/o/r.git
request info-refs '\x10' "$R/info/refs?service=git-upload-pack" "" "" "version=2"
request info-refs-v0 '\x10' "$R/info/refs?service=git-upload-pack"
request receive-refs '\x00' "$R/info/refs?service=git-receive-pack"
request dumb-refs '\x10' "$R/info/refs"
request head '\x11' "$R/HEAD"
request packs '\x10' "$R/objects/info/packs" "bytes=0-10"
request api '\x10' "$R/api"
request api-refs '\x10' "$R/api/refs?prefix=refs/tags/"
request api-log '\x10' "$R/api/commits?ref=main&limit=3&path=a.txt"
request api-commit '\x10' "$R/api/commit/HEAD~2"
request api-odd '\x10' "$R/api/commit/HEAD%5E0%C3%A9"
request api-tree '\x10' "$R/api/tree/main/dir"
request api-compare '\x10' "$R/api/compare/main~3...main"
request api-raw '\x10' "$R/api/raw/main/a.txt" "bytes=1-5"
request api-settings '\x04' "$R/api/settings" "" "application/json" "" "" "$work/settings.json"
request page-summary '\x10' "$R"
request page-tree '\x10' "$R/-/tree/main/dir1"
request page-blob '\x10' "$R/-/blob/main/notes.txt"
request page-log '\x10' "$R/-/commits/main?path=dir2&cursor=x.1"
request page-commit '\x10' "$R/-/commit/main%5E2"
request page-compare '\x10' "$R/-/compare/v1.0...main"
request page-refs '\x10' "$R/-/refs" "W/\"x\""
request private '\x90' "$R/info/refs?service=git-upload-pack" "" "" "" "Bearer gdo_0000_x"
request upload-v2 '\x12' "$R/git-upload-pack" "" "application/x-git-upload-pack-request" \
    "version=2" "" "$corpus/upload_pack_request/v2-fetch"
request upload-v0 '\x12' "$R/git-upload-pack" "" "application/x-git-upload-pack-request" \
    "" "" "$corpus/upload_pack_request/clone"
request push '\x02' "$R/git-receive-pack" "" "application/x-git-receive-pack-request" \
    "" "" "$corpus/receive_pack/options"
L=application/vnd.git-lfs+json
oid=4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393
printf '{"operation": "upload", "transfers": ["basic"], "ref": {"name": "refs/heads/main"}, "objects": [{"oid": "%s", "size": 5}]}' "$oid" >"$work/lfs-batch.json"
printf '{"path": "a.psd", "ref": {"name": "refs/heads/main"}}' >"$work/lfs-lock.json"
printf '{"oid": "%s", "size": 5}' "$oid" >"$work/lfs-verify.json"
printf '{"force": true}' >"$work/lfs-unlock.json"
request lfs-batch '\x02' "$R/info/lfs/objects/batch" "" "$L" "" "" "$work/lfs-batch.json"
request lfs-lock '\x02' "$R/info/lfs/locks" "" "$L" "" "" "$work/lfs-lock.json"
request lfs-locks '\x10' "$R/info/lfs/locks?path=a.psd&limit=2&cursor=1"
request lfs-verify '\x12' "$R/info/lfs/verify" "" "$L" "" "Bearer upload.5.1800000000.00" "$work/lfs-verify.json"
request lfs-unlock '\x02' "$R/info/lfs/locks/1/unlock" "" "$L" "" "" "$work/lfs-unlock.json"

# Deltas: two bytes of base length, the base, then a delta (copy, insert).
printf '\x05\x00hello\x05\x08\x91\x00\x05\x03abc' >"$corpus/delta/copy-insert"
printf '\x00\x00\x00\x03\x03abc' >"$corpus/delta/insert"
echo "seeds in $(pwd)/$corpus"
