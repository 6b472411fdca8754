#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) each, from the seed corpus (made by
# seed.sh when missing) plus whatever earlier runs found. cargo fuzz needs nightly
# features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build them. Prints each target's
# executions and fails if any target finds a crash (its input is left in fuzz/artifacts/).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
[ -d corpus ] || bash seed.sh
export RUSTC_BOOTSTRAP=1
targets=${FUZZ_TARGETS:-"pktline delta upload_pack_request receive_pack index_pack objects request fetch_answer"}
build_log=$(mktemp)
if ! cargo fuzz build -O >"$build_log" 2>&1; then
    grep -v '^ *Compiling ' "$build_log" | head -n 60
    echo "fuzz targets: build failed" >&2
    exit 1
fi
tail -n 3 "$build_log"
rm -f "$build_log"
for target in $targets; do
    mkdir -p "corpus/$target"
    log=$(mktemp)
    if ! cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" \
        -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz $target: crash (input in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $target: $runs executions in ${seconds} s, no crash"
    rm -f "$log"
done
