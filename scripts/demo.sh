#!/usr/bin/env bash
# `make demo`: a throwaway PostgreSQL, capture on a demo table, a writer making changes from a
# second connection, and `pgpulse watch` printing them as they commit. Ctrl-C cleans up.
# DEMO_SECONDS=N stops it after N seconds (for unattended runs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pgpulse=$(realpath "${1:-build/pgpulse}")

dir=$(mktemp -d /tmp/pgpulse-demo.XXXXXX)
writer=""
cleanup() {
  [ -n "$writer" ] && kill "$writer" 2>/dev/null || true
  "$here/pg-sandbox.sh" stop "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

url=$("$here/pg-sandbox.sh" start "$dir")
psql -q "$url" <<'SQL'
CREATE TABLE messages (
  id serial PRIMARY KEY,
  room int NOT NULL,
  author text NOT NULL,
  body text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now()
);
SQL
"$pgpulse" install --db "$url" messages >/dev/null

cat >&2 <<MSG
pgpulse demo: PostgreSQL is at $url
A writer inserts, edits and deletes chat messages; every change prints below as one JSON line.
Make your own change from another terminal:
  psql '$url' -c "INSERT INTO messages (room, author, body) VALUES (1, 'you', 'hello')"
Ctrl-C stops the demo and removes the database.

MSG

# The writer: a second connection, one transaction per change, some with several rows.
(
  authors=(ada grace linus barbara)
  i=0
  while sleep 1; do
    i=$((i + 1))
    author=${authors[$((i % 4))]}
    sql="INSERT INTO messages (room, author, body) VALUES ($((i % 2 + 1)), '$author', 'message $i')"
    (( i % 3 == 0 )) && sql="$sql; UPDATE messages SET body = body || ' (edited)' WHERE id = $((i - 1))"
    (( i % 5 == 0 )) && sql="BEGIN; $sql; DELETE FROM messages WHERE id = $((i - 3)); COMMIT"
    psql -q "$url" -c "$sql" >/dev/null 2>&1 || exit 0
  done
) &
writer=$!

if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout --signal=INT "$DEMO_SECONDS" "$pgpulse" watch --db "$url" || true
else
  "$pgpulse" watch --db "$url"
fi
