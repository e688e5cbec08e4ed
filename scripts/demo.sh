#!/usr/bin/env bash
# `make demo`: a throwaway PostgreSQL and `pgpulse serve --demo` on it: a live chat and a live
# table in the browser, fed by row changes. A bot writes a message now and then; `psql` changes
# from another terminal show up too. Ctrl-C stops it all and removes the database.
# DEMO_PORT picks the port (default 8080, or a free one); DEMO_SECONDS=N stops after N seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"  # free_port
pgpulse=$(realpath "${1:-build/pgpulse}")

dir=$(mktemp -d /tmp/pgpulse-demo.XXXXXX)
children=()
cleanup() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$here/pg-sandbox.sh" stop "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port=${DEMO_PORT:-8080}
if ! python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
  port=$(free_port)
fi
url=$("$here/pg-sandbox.sh" start "$dir")

"$pgpulse" serve --db "$url" --listen "127.0.0.1:$port" --demo &
children+=($!)
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.1; done

cat >&2 <<MSG

  pgpulse demo is running.
    chat:        http://127.0.0.1:$port/?room=1   (open it in two windows)
    live table:  http://127.0.0.1:$port/table.html?table=messages
    PostgreSQL:  $url
  Change the table from another terminal and watch both pages:
    psql '$url' -c "INSERT INTO messages (room, author, body) VALUES (1, 'psql', 'hello from SQL')"
  Ctrl-C stops the demo and removes the database.

MSG

# A bot in room 1, so the pages show life even before you type.
(
  i=0
  while sleep 4; do
    i=$((i + 1))
    psql -q "$url" -c "INSERT INTO messages (room, author, body) VALUES (1, 'bot', 'tick $i')" \
      >/dev/null 2>&1 || exit 0
  done
) &
children+=($!)

if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  wait "${children[0]}"
fi
