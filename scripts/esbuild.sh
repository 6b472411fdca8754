#!/usr/bin/env bash
# esbuild as worker-build runs it to bundle the Worker, with node's built-in modules left to
# the runtime (nodejs_compat in wrangler.toml): src/host/digest.rs imports node:crypto, and
# worker-build marks node:* external only for emscripten builds.
exec "$(dirname "$0")/../node_modules/.bin/esbuild" "$@" '--external:node:*'
