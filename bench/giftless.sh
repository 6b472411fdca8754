#!/usr/bin/env bash
# The reference Git LFS server of the benchmark: giftless (from PyPI) with its local storage,
# under gunicorn, on 127.0.0.1, letting anyone read and write.
#
# Usage:
#   bench/giftless.sh start DIR PORT   installs giftless in a virtualenv under
#                                      ${XDG_CACHE_HOME:-~/.cache}/git-on-durable-objects
#                                      unless it is there, then serves DIR/storage on PORT;
#                                      its LFS URL for repository O/R is http://127.0.0.1:PORT/O/R
#   bench/giftless.sh stop DIR
set -euo pipefail

VENV=${XDG_CACHE_HOME:-$HOME/.cache}/git-on-durable-objects/giftless
# giftless's wheel declares no dependencies: these are what its modules import. PyJWT 2.10
# refuses the grants giftless signs for anonymous users (their "sub" is null).
DEPENDENCIES=(giftless==0.6.2 gunicorn flask flask-classful flask-marshmallow marshmallow
    webargs figcan python-dateutil python-dotenv pyyaml "pyjwt<2.10" cachetools typing-extensions
    werkzeug requests)

start() {
    local dir=$1 port=$2
    if ! "$VENV/bin/pip" install -q --dry-run --no-index "${DEPENDENCIES[@]}" >/dev/null 2>&1; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "${DEPENDENCIES[@]}"
    fi
    mkdir -p "$dir/storage"
    # The actions' grants are JWTs giftless signs and checks with its own key.
    local key
    key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    cat >"$dir/giftless.yaml" <<EOF
AUTH_PROVIDERS:
  - factory: giftless.auth.jwt:factory
    options:
      algorithm: HS256
      private_key: $key
  - giftless.auth.allow_anon:read_write
PRE_AUTHORIZED_ACTION_PROVIDER:
  factory: giftless.auth.jwt:factory
  options:
    algorithm: HS256
    private_key: $key
TRANSFER_ADAPTERS:
  basic:
    factory: giftless.transfer.basic_streaming:factory
    options:
      storage_class: giftless.storage.local_storage:LocalStorage
      storage_options:
        path: $dir/storage
EOF
    GIFTLESS_CONFIG_FILE=$dir/giftless.yaml setsid "$VENV/bin/gunicorn" -w 2 --threads 4 \
        -b "127.0.0.1:$port" --pid "$dir/giftless.pid" giftless.wsgi_entrypoint:app \
        >"$dir/giftless.log" 2>&1 &
    for _ in $(seq 1 60); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.5
    done
    cat "$dir/giftless.log" >&2
    return 1
}

stop() {
    [ -f "$1/giftless.pid" ] && kill "$(cat "$1/giftless.pid")" 2>/dev/null || true
}

case ${1:-} in
start) start "$2" "$3" ;;
stop) stop "$2" ;;
*) echo "usage: giftless.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
