#!/usr/bin/env bash
# Starts the server locally: wrangler dev (workerd) on 127.0.0.1:${PORT:-8787}, with its
# embedded SQLite-backed Durable Object storage under .wrangler/state.
#
# Access: ADMIN_TOKEN from the environment becomes the server's admin token (as
# `wrangler secret put ADMIN_TOKEN` does in production), so pushes need a token. Without it
# (unset or empty) the server runs with open pushes (ANONYMOUS_PUSH), and says so.
# Git LFS grants are signed with LFS_SECRET from the environment, or with a random one made
# now (grants outlive no restart: git-lfs then asks the batch endpoint again).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WRANGLER_SEND_METRICS=false
if [ -n "${ADMIN_TOKEN:-}" ]; then
  access=(--var "ADMIN_TOKEN:$ADMIN_TOKEN")
  echo "dev.sh: ADMIN_TOKEN is set: pushes need the admin token or a repository's write token" >&2
else
  access=(--var "ANONYMOUS_PUSH:true")
  echo "dev.sh: no ADMIN_TOKEN in the environment: open pushes, anyone can push (ANONYMOUS_PUSH)" >&2
fi
lfs_secret=${LFS_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
access+=(--var "LFS_SECRET:$lfs_secret")
exec bash scripts/wrangler.sh dev --ip 127.0.0.1 --port "${PORT:-8787}" \
  --show-interactive-dev-session=false "${access[@]}" "$@"
