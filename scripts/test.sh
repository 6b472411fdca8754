#!/usr/bin/env bash
# Runs every test: native unit and service tests (cargo test), then the end-to-end suite with
# the real git CLI and isomorphic-git against the real Worker under wrangler dev (started with a
# random admin token, which the suite pushes with), once with git fetching in protocol v0 and
# once in v2, then maintenance beside git http-backend (tests/e2e/maintenance.sh), then the
# JSON API compared with git (tests/e2e/api.sh), then git-lfs pushing, cloning and locking
# against the Worker and its local R2 bucket (tests/e2e/lfs.sh), then the web pages in headless
# Chromium compared with git (tests/e2e/pages.sh, screenshots under target/e2e-artifacts), then
# importing from git http-backend and forking (tests/e2e/service.sh), then the two
# ways a server runs without an admin token (tests/e2e/modes.sh), then the trust checks on a
# short maintenance clock beside git http-backend (tests/e2e/trust.sh), then seeded random
# git sessions run against both the Worker and git http-backend and compared
# (tests/e2e/sessions.sh, E2E_SESSIONS of them, default 150), then
# the same suite, in both protocols, against git's own git http-backend (tests/e2e/reference.sh),
# which shows that what the suite expects is git's behaviour.
# Fails if any of them fails; prints each part's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo test"
cargo test --quiet 2>&1

echo "== fuzz targets, briefly (so they keep building; long runs: bash fuzz/run.sh SECONDS)"
bash fuzz/run.sh "${FUZZ_SECONDS:-20}"

echo "== build the Worker"
# Built here so that a cold compile does not count against waiting for wrangler dev;
# wrangler's own build step then finds everything up to date.
bash scripts/build.sh

echo "== end-to-end (wrangler dev)"
export WRANGLER_SEND_METRICS=false
port=${E2E_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
state=$(mktemp -d)
log="$state/wrangler.log"
# The suite pushes with the admin token, and its access-control section makes tokens with it.
E2E_ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export E2E_ADMIN_TOKEN
# Git LFS grants are signed with LFS_SECRET (tests/e2e/lfs.sh).
lfs_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
bash scripts/wrangler.sh dev --ip 127.0.0.1 --port "$port" --persist-to "$state" \
  --var "ADMIN_TOKEN:$E2E_ADMIN_TOKEN" --var "LFS_SECRET:$lfs_secret" --var MIRROR_MIN_INTERVAL_SECONDS:1 \
  --var WEBHOOK_RETRY_SECONDS:1 \
  --show-interactive-dev-session=false >"$log" 2>&1 &
wrangler_pid=$!
stop_wrangler() {
  kill "$wrangler_pid" 2>/dev/null || true
  wait "$wrangler_pid" 2>/dev/null || true
}
cleanup() {
  stop_wrangler
  rm -rf "$state"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  if ! kill -0 "$wrangler_pid" 2>/dev/null; then
    cat "$log"
    echo "wrangler dev exited before it was ready" >&2
    exit 1
  fi
  sleep 1
done
curl -sf "http://127.0.0.1:$port/" >/dev/null || { cat "$log"; echo "wrangler dev did not start" >&2; exit 1; }
# Once with git fetching in protocol v0 and once in v2 (section j speaks v2 in both).
status=0
for protocol in 0 2; do
  started=$SECONDS
  E2E_PROTOCOL=$protocol bash tests/e2e/run.sh "http://127.0.0.1:$port" || status=$?
  echo "== end-to-end (wrangler dev, protocol v$protocol): exit $status, $((SECONDS - started)) s"
done
started=$SECONDS
bash tests/e2e/maintenance.sh "http://127.0.0.1:$port" || status=$?
echo "== end-to-end maintenance (wrangler dev beside git http-backend): exit $status, $((SECONDS - started)) s"
started=$SECONDS
bash tests/e2e/api.sh "http://127.0.0.1:$port" || status=$?
echo "== end-to-end JSON API (wrangler dev, compared with git): exit $status, $((SECONDS - started)) s"
started=$SECONDS
bash tests/e2e/lfs.sh "http://127.0.0.1:$port" || status=$?
echo "== end-to-end Git LFS (git-lfs against wrangler dev and its local R2): exit $status, $((SECONDS - started)) s"
started=$SECONDS
bash tests/e2e/pages.sh "http://127.0.0.1:$port" || status=$?
echo "== end-to-end web pages (headless Chromium against wrangler dev, compared with git; screenshots in target/e2e-artifacts/pages): exit $status, $((SECONDS - started)) s"
started=$SECONDS
bash tests/e2e/service.sh "http://127.0.0.1:$port" || status=$?
echo "== end-to-end import and fork (wrangler dev, from git http-backend): exit $status, $((SECONDS - started)) s"
if [ "$status" -ne 0 ]; then
  echo "---- wrangler dev log (last 60 lines)"
  tail -n 60 "$log"
fi
stop_wrangler

echo "== end-to-end, servers without an admin token (closed, and open pushes)"
modes=0
bash tests/e2e/modes.sh || modes=$?

echo "== end-to-end trust (wrangler dev on a short maintenance clock, beside git http-backend)"
trust=0
started=$SECONDS
bash tests/e2e/trust.sh || trust=$?
echo "== end-to-end trust: exit $trust, $((SECONDS - started)) s"

echo "== end-to-end random sessions beside git http-backend (tests/e2e/sessions.sh)"
sessions=0
started=$SECONDS
# The one difference ours keeps on purpose (see the script) is stepped around.
SESSIONS=${E2E_SESSIONS:-150} SESSION_TOLERATE=lazy-blobs \
  bash tests/e2e/sessions.sh || sessions=$?
echo "== end-to-end random sessions: exit $sessions, $((SECONDS - started)) s"

echo "== end-to-end reference (git http-backend behind lighttpd)"
reference=0
for protocol in 0 2; do
  started=$SECONDS
  env -u E2E_ADMIN_TOKEN E2E_PROTOCOL=$protocol bash tests/e2e/reference.sh || reference=$?
  echo "== end-to-end reference (protocol v$protocol): exit $reference, $((SECONDS - started)) s"
done
if [ "$status" -ne 0 ] || [ "$modes" -ne 0 ] || [ "$trust" -ne 0 ] || [ "$sessions" -ne 0 ] ||
  [ "$reference" -ne 0 ]; then
  echo "end-to-end failed: against the Worker exit $status, without an admin token exit $modes, trust exit $trust, random sessions exit $sessions, against git http-backend exit $reference" >&2
  exit 1
fi
