#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the modules that decide what is accepted and what is
# sent, then one table: module, mutants, caught, missed, timeouts, unviable, and the share
# detected, (caught + timeouts) / (mutants - unviable).
# Not part of CI: a full run takes about two hours on 2 cores.
#
# Usage:
#   bash scripts/mutants.sh                 every module below, from scratch
#   bash scripts/mutants.sh --iterate       only what the last run did not catch (and new code)
#   bash scripts/mutants.sh --table         print the table of the runs so far, run nothing
#   MUTANTS_FILES="src/format/delta.rs" bash scripts/mutants.sh    other files
#   MUTANTS_TIMEOUT=120 bash scripts/mutants.sh   a longer limit per test run (default 30 s)
#   MUTANTS_JOBS=2 bash scripts/mutants.sh        two mutants at once (default one)
#
# Each run's outcome files are kept in mutants.out.runs/N; the table takes, for each mutant,
# the newest outcome (tests are only ever added, so a caught mutant stays caught).
# Survivors judged equivalent are listed in tests/MUTANTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

files=${MUTANTS_FILES:-"src/access/*.rs src/maintenance/*.rs src/format/checksum.rs src/http/*.rs src/http/api/*.rs src/browse/*.rs src/receive_pack/*.rs src/index_pack/*.rs src/format/delta.rs src/format/diff_delta.rs src/format/pack.rs src/format/pktline.rs src/format/loose.rs src/upload_pack/*.rs src/rev_walk.rs src/protocol/*.rs src/store/*.rs"}
file_args=()
for f in $files; do file_args+=(-f "$f"); done

if [ "${1:-}" != --table ]; then
  command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
  cargo mutants -j "${MUTANTS_JOBS:-1}" --profile mutants --timeout "${MUTANTS_TIMEOUT:-30}" --build-timeout 300 "${file_args[@]}" "$@" ||
    true # a run with missed mutants exits non-zero; the table below says what was missed
  mkdir -p mutants.out.runs
  n=$(find mutants.out.runs -mindepth 1 -maxdepth 1 -type d | wc -l)
  mkdir -p "mutants.out.runs/$((n + 1))"
  cp mutants.out/*.txt "mutants.out.runs/$((n + 1))/"
fi

cargo mutants --list "${file_args[@]}" >mutants.out.runs/all.txt
python3 - mutants.out.runs <<'EOF'
import os, sys
from collections import Counter, defaultdict
root = sys.argv[1]
every = [l.rstrip("\n") for l in open(os.path.join(root, "all.txt")) if l.strip()]
outcome = {}
runs = sorted((d for d in os.listdir(root) if d.isdigit()), key=int)
for run in runs:
    for kind in ("caught", "missed", "timeout", "unviable"):
        path = os.path.join(root, run, kind + ".txt")
        if os.path.exists(path):
            for line in open(path):
                if line.strip():
                    outcome[line.rstrip("\n")] = kind
table = defaultdict(Counter)
for m in every:
    table[m.split(":")[0]][outcome.get(m, "untested")] += 1
print(f"{'module':24} {'mutants':>7} {'caught':>6} {'missed':>6} {'timeout':>7} {'unviable':>8} {'untested':>8} {'detected':>8}")
for module in sorted(table):
    c = table[module]
    viable = sum(c.values()) - c["unviable"]
    share = 100 * (c["caught"] + c["timeout"]) / viable if viable else 100
    print(f"{module:24} {sum(c.values()):7} {c['caught']:6} {c['missed']:6} {c['timeout']:7} {c['unviable']:8} {c['untested']:8} {share:7.1f}%")
print("\nmissed:")
for m in every:
    if outcome.get(m) == "missed":
        print("  " + m)
EOF
