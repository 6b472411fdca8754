#!/usr/bin/env bash
# Proves the end-to-end suite against git's own server: starts git http-backend behind
# lighttpd (tests/support/reference-server.sh) on free loopback ports, runs
# tests/e2e/run.sh against it in reference mode (E2E_REFERENCE=1; the static port, which serves
# the same repositories as plain files, answers the Range checks), stops the server.
#
# Usage: tests/e2e/reference.sh            (extra environment, e.g. E2E_SCALE, is passed on)
# Exit status: that of run.sh. The server's directory (config, logs, repositories) is removed
# afterwards unless E2E_KEEP=1 or run.sh failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=$HERE/../support/reference-server.sh
DIR=$(mktemp -d "${TMPDIR:-/tmp}/e2e-reference.XXXXXX")
rc=1
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
    "$SERVER" stop "$DIR" || true
    if [ "$rc" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$DIR"; else echo "# reference server dir kept: $DIR"; fi
}
trap cleanup EXIT

mapfile -t ports < <("$SERVER" free-port 2)
"$SERVER" start "$DIR" "${ports[0]}" "${ports[1]}"
set +e
E2E_REFERENCE=1 E2E_REFERENCE_DIR=$DIR E2E_REFERENCE_STATIC="http://127.0.0.1:${ports[1]}" \
    "$HERE/run.sh" "http://127.0.0.1:${ports[0]}"
rc=$?
set -e
exit "$rc"
