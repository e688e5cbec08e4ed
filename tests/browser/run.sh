#!/usr/bin/env bash
# End-to-end tests of the demo pages and the browser client: Debian's Chromium (driven by
# playwright-core, which downloads no browser), a throwaway PostgreSQL (scripts/pg-sandbox.sh)
# and `build/pgpulse serve --demo`, which the tests start, kill and restart themselves.
#
#   tests/browser/run.sh                 # all of them
#   tests/browser/run.sh chat.test.js    # some
#
# Screenshots and gateway logs go to tests/browser/output/. PGPULSE_BIN picks another binary;
# PGPULSE_UPDATE_SCREENSHOTS=1 refreshes docs/demo-chat.png.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

"$root/scripts/bootstrap.sh" chromium

bin=${PGPULSE_BIN:-$root/build/pgpulse}
[ -x "$bin" ] || { echo "browser tests: $bin is missing; build first (make build)" >&2; exit 1; }
export PGPULSE_BIN=$bin

cd "$here"
# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

rm -rf output
mkdir -p output
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(chat.test.js restart.test.js auth.test.js)
# One file at a time: they share the database, and two cores are enough for one browser.
exec "$root/scripts/pg-sandbox.sh" run node --test --test-concurrency=1 --test-timeout=90000 "${files[@]}"
