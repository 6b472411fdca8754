#!/usr/bin/env bash
# Installs everything building, running and testing need, skipping what is already there:
# Debian packages, the wasm target, worker-build, wasm-bindgen-cli at the Cargo.lock version,
# Node.js 22 where the machine's is older, and the npm packages (wrangler with workerd, isomorphic-git, and for the browser check
# playwright-core, LightningFS, buffer and esbuild).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_missing=()
# chromium: the browser check of the end-to-end suite (isomorphic-git in headless Chromium);
# git-lfs: the LFS end-to-end check.
for tool in git:git git-lfs:git-lfs curl:curl lighttpd:lighttpd python3:python3 chromium:chromium; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || apt_missing+=("${tool##*:}")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "setup: installing ${apt_missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

worker_build_version=0.8.7
if ! worker-build --version 2>/dev/null | grep -qx "$worker_build_version"; then
  cargo install worker-build --version "$worker_build_version" --locked
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
  # --locked can name a transitive version the registry mirror lacks; fall back to resolving.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked ||
    cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# wrangler needs Node.js 22 or later. Where the machine's is older, an official build from
# the npm registry (its node-<os>-<arch> packages) goes under .tools/node, which
# scripts/wrangler.sh runs wrangler with.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ] &&
  ! ls .tools/node/node_modules/node-*/bin/node >/dev/null 2>&1; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  npm install --no-save --no-audit --no-fund --prefix .tools/node \
    "node-$(uname -s | tr '[:upper:]' '[:lower:]')-$arch@22.23.3"
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
