#!/usr/bin/env bash
# Builds the Worker (Rust -> wasm -> build/worker/shim.mjs) with local tools only: worker-build
# would otherwise download wasm-bindgen and esbuild. Run by wrangler through wrangler.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/scripts/esbuild.sh}"
exec worker-build --release --no-opt
