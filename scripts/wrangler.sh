#!/usr/bin/env bash
# Runs the pinned wrangler (node_modules) with a Node.js it supports (22 or later): the
# machine's own, or the one scripts/setup.sh installs under .tools/node where the machine's
# is older (Debian's, say).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node=node
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  node=$(echo "$root"/.tools/node/node_modules/node-*/bin/node)
fi
exec "$node" "$root/node_modules/wrangler/bin/wrangler.js" "$@"
