#!/usr/bin/env bash
# CI: the Debian packages of `make package`, met as an administrator meets them: lintian (any
# error fails; packaging/debian/*.lintian-overrides say why a tag does not apply), dpkg -i,
# the ExecStart line of the installed pgpulse.service run as its User against a throwaway
# PostgreSQL (/healthz must answer), then dpkg -r and --purge, after which nothing is left.
# It installs into the running system: run it as root in a throwaway machine (CI).
#
#   scripts/check-package.sh [BUILD_DIR]   (default build-deb, where `make package` puts them)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-package: $*" >&2; exit 1; }

unit=/lib/systemd/system/pgpulse.service
config=/etc/pgpulse/pgpulse.toml

# Under scripts/pg-sandbox.sh (PGPULSE_TEST_DB set): the service's command, as the service.
if [ "${1:-}" = --against-db ]; then
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  [ -n "$exec_start" ] && [ -n "$user" ] || fail "$unit has no ExecStart or User"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # What an administrator does: capture a table, put the database into the config.
  psql "$PGPULSE_TEST_DB" -qX -v ON_ERROR_STOP=1 -c 'CREATE TABLE items (id int PRIMARY KEY)'
  /usr/bin/pgpulse install --db "$PGPULSE_TEST_DB" items >/dev/null
  printf 'db = "%s"\nlisten = "127.0.0.1:%s"\n' "$PGPULSE_TEST_DB" "$port" >>"$config"
  log=$(mktemp)
  # shellcheck disable=SC2086  # ExecStart is a command line: split it as systemd does
  (cd / && exec runuser -u "$user" -- $exec_start) >"$log" 2>&1 &
  pid=$!
  health=""
  for _ in $(seq 100); do
    health=$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$health" ] || { cat "$log" >&2; fail "the service gave no /healthz on port $port"; }
  echo "check-package: $exec_start (as $user): /healthz $health"
  kill -TERM "$pid"
  wait "$pid" || { cat "$log" >&2; fail "the service did not stop cleanly on SIGTERM"; }
  exit 0
fi

build=${1:-build-deb}
[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs the packages)"
scripts/bootstrap.sh lintian dpkg-dev file
shopt -s nullglob
server=("$build"/pgpulse_*.deb)
dev=("$build"/libpgpulse-dev_*.deb)
[ ${#server[@]} -eq 1 ] && [ ${#dev[@]} -eq 1 ] || fail "no packages in $build: make package"
! dpkg -s pgpulse >/dev/null 2>&1 || fail "pgpulse is installed already: not touching it"

echo "check-package: lintian ${server[0]} ${dev[0]}"
lintian --fail-on error --display-info "${server[0]}" "${dev[0]}"

dpkg -i "${server[0]}" "${dev[0]}"
trap 'dpkg --purge pgpulse libpgpulse-dev >/dev/null 2>&1 || true' EXIT
dpkg-query -W -f='${Conffiles}\n' pgpulse | grep -q "^ $config " || fail "$config is not a conffile"
[ "$(stat -c %U:%G:%a "$config")" = root:pgpulse:640 ] || fail "$config is not root:pgpulse 0640"
command -v systemd-analyze >/dev/null && systemd-analyze verify "$unit"
[ "$(/usr/bin/pgpulse --version)" = "pgpulse $(dpkg-query -W -f='${Version}' pgpulse | cut -d- -f1)" ] ||
  fail "pgpulse --version does not match the package version"
pkg-config --exists pgpulse || fail "pgpulse.pc not found by pkg-config"

scripts/pg-sandbox.sh run "$PWD/scripts/check-package.sh" --against-db

files=$(dpkg -L pgpulse libpgpulse-dev | grep -v '^/\.$')
dpkg -r pgpulse libpgpulse-dev
[ -f "$config" ] || fail "dpkg -r removed the conffile $config (only --purge should)"
dpkg --purge pgpulse libpgpulse-dev
trap - EXIT
left=""
for f in $files; do
  [ -e "$f" ] && [ ! -d "$f" ] && left="$left $f"
done
for d in /etc/pgpulse /usr/include/pgpulse /usr/share/pgpulse /usr/share/doc/pgpulse \
  /usr/share/doc/libpgpulse-dev; do
  [ -e "$d" ] && left="$left $d"
done
[ -z "$left" ] || fail "left after --purge:$left"
! dpkg -s pgpulse >/dev/null 2>&1 || fail "pgpulse still known to dpkg"
echo "check-package: lintian clean, installed, served /healthz, removed and purged"
