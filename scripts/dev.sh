#!/usr/bin/env bash
# Starts the server locally: wrangler dev (workerd) on 127.0.0.1:${PORT:-8787}, with its
# embedded SQLite-backed Durable Object storage under .wrangler/state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WRANGLER_SEND_METRICS=false
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --show-interactive-dev-session=false "$@"
