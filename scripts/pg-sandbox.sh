#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on a free loopback port, for tests, benchmarks and the demo.
#
#   scripts/pg-sandbox.sh start DIR   -> initdb + start; prints the connection URL; writes DIR/env
#   scripts/pg-sandbox.sh stop DIR    -> stop the server and delete DIR
#   scripts/pg-sandbox.sh run CMD...  -> start, run CMD with PGPULSE_TEST_* set, always stop
#
# With PGPULSE_SANDBOX_SHARED=1 and PGPULSE_TEST_* already set (bench/run.sh starts one server
# for all benchmarks: initdb costs seconds each), `run` starts no server: CMD gets a fresh
# database in the running one, dropped afterwards with any ALTER SYSTEM setting CMD made.
#
# PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres`
# user (commands are started from /tmp, which that user can read).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd /tmp && runuser -u postgres -- "$@"); else "$@"; fi
}

# free_port
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start() {
  local dir=$1
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  local port; port=$(free_port)
  as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
track_commit_timestamp = on
wal_level = logical
max_connections = 200
fsync = off
synchronous_commit = on  # off loses acknowledged commits in a crash, which crash tests make
full_page_writes = off
log_min_messages = warning
CONF
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  local url="postgresql://postgres@127.0.0.1:$port/postgres"
  cat >"$dir/env" <<ENV
export PGPULSE_TEST_DB='$url'
export PGPULSE_TEST_PGDATA='$dir/data'
export PGPULSE_TEST_PGBIN='$PGBIN'
export PGPULSE_TEST_PGLOG='$dir/server.log'
ENV
  echo "$url"
}

stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

run_in_shared() {  # CMD...: in a database of its own in the running sandbox
  local server=$PGPULSE_TEST_DB db="run_$$_$RANDOM" rc=0
  psql "$server" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
  PGPULSE_TEST_DB=${server%/*}/$db "$@" || rc=$?
  psql "$server" -XAtq -c "DROP DATABASE $db WITH (FORCE)" -c 'ALTER SYSTEM RESET ALL' \
    -c 'SELECT pg_reload_conf()' >/dev/null || true
  return "$rc"
}

case "${1:-}" in
  start) start "${2:?directory}" ;;
  stop) stop "${2:?directory}" ;;
  run)
    shift
    if [ "${PGPULSE_SANDBOX_SHARED:-}" = 1 ] && [ -n "${PGPULSE_TEST_DB:-}" ]; then
      run_in_shared "$@"
      exit
    fi
    dir=$(mktemp -d /tmp/pgpulse-pg.XXXXXX)
    trap 'stop "$dir"' EXIT
    trap 'exit 130' INT TERM
    start "$dir" >/dev/null
    # shellcheck disable=SC1091
    . "$dir/env"
    "$@"
    ;;
  *) echo "usage: $0 start DIR | stop DIR | run CMD..." >&2; exit 2 ;;
esac
