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
source scripts/lib.sh  # free_port

unit=/lib/systemd/system/pgpulse.service
config=/etc/pgpulse/pgpulse.toml

# Under scripts/pg-sandbox.sh (PGPULSE_TEST_DB set): the service's command, as the service.
if [ "${1:-}" = --against-db ]; then
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  group=$(sed -n 's/^Group=//p' "$unit")
  [ -n "$exec_start" ] && [ -n "$user" ] && [ -n "$group" ] || fail "$unit lacks ExecStart, User or Group"
  port=$(free_port)
  # What an administrator does: capture a table, edit the config. Here every setting is
  # uncommented at its documented default, and db and listen are set.
  psql "$PGPULSE_TEST_DB" -qX -v ON_ERROR_STOP=1 -c 'CREATE TABLE items (id int PRIMARY KEY)'
  /usr/bin/pgpulse install --db "$PGPULSE_TEST_DB" items >/dev/null
  sed -i -e 's/^#\([a-z_]* = \)/\1/' -e "s|^db = .*|db = \"$PGPULSE_TEST_DB\"|" \
    -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" "$config"
  log=$(mktemp)
  # As the unit's user and group, in /, as systemd starts it; setpriv execs the command, so
  # $! is the server itself. (ExecStart is a command line: split as systemd splits it.)
  # shellcheck disable=SC2086
  (cd / && exec setpriv --reuid="$user" --regid="$group" --init-groups -- $exec_start) \
    >"$log" 2>&1 &
  pid=$!
  health=""
  for _ in $(seq 100); do
    health=$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$health" ] || { cat "$log" >&2; fail "the service gave no /healthz on port $port"; }
  echo "check-package: $exec_start (as $user:$group): /healthz $health"
  # ExecReload's signal: the service reloads its credentials and keeps serving.
  reload=$(sed -n 's/^ExecReload=//p' "$unit")
  [[ $reload == *"kill -HUP \$MAINPID" ]] || fail "$unit: ExecReload is not a SIGHUP ($reload)"
  kill -HUP "$pid"
  for _ in $(seq 50); do grep -q "reloaded" "$log" && break; sleep 0.1; done
  grep -q "reloaded" "$log" || { cat "$log" >&2; fail "the service did not reload on SIGHUP"; }
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "no /healthz after the reload"
  echo "check-package: SIGHUP (ExecReload) reloaded it; /healthz still answers"
  kill -TERM "$pid"
  wait "$pid" || { cat "$log" >&2; fail "the service did not stop cleanly on SIGTERM"; }
  exit 0
fi

build=${1:-build-deb}
# It installs the packages: as root, through sudo where CI runs as another user.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "must run as root (it installs the packages)"
  exec sudo -E "$PWD/scripts/check-package.sh" "$@"
fi
scripts/bootstrap.sh lintian dpkg-dev file
shopt -s nullglob
server=("$build"/pgpulse_*.deb)
dev=("$build"/libpgpulse-dev_*.deb)
[ ${#server[@]} -eq 1 ] && [ ${#dev[@]} -eq 1 ] || fail "no packages in $build: make package"
! dpkg -s pgpulse >/dev/null 2>&1 || fail "pgpulse is installed already: not touching it"

# lintian warns when run as root: run it as nobody, on a copy nobody can read.
lint=$(mktemp -d)
cp "${server[0]}" "${dev[0]}" "$lint"
chmod -R a+rX "$lint"
echo "check-package: lintian $(basename "${server[0]}") $(basename "${dev[0]}")"
(cd / && runuser -u nobody -- lintian --fail-on error "$lint"/*.deb) ||
  { rm -rf "$lint"; fail "lintian found errors"; }
rm -rf "$lint"

dpkg -i "${server[0]}" "${dev[0]}"
trap 'dpkg --purge pgpulse libpgpulse-dev >/dev/null 2>&1 || true' EXIT
dpkg-query -W -f='${Conffiles}\n' pgpulse | grep -q "^ $config " || fail "$config is not a conffile"
[ "$(stat -c %U:%G:%a "$config")" = root:pgpulse:640 ] || fail "$config is not root:pgpulse 0640"
if command -v systemd-analyze >/dev/null; then  # any complaint (an unknown key too) fails
  complaints=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$complaints" ] ||
    fail "systemd-analyze verify $unit: $complaints"
fi
[ "$(/usr/bin/pgpulse --version)" = "pgpulse $(dpkg-query -W -f='${Version}' pgpulse | cut -d- -f1)" ] ||
  fail "pgpulse --version does not match the package version"

# libpgpulse-dev as a user's project finds it: CMake and pkg-config, from /usr.
consumer=$(mktemp -d)
cmake -S examples -B "$consumer" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$consumer" >/dev/null || { rm -rf "$consumer"; fail "examples/ against libpgpulse-dev"; }
# shellcheck disable=SC2046
c++ -std=c++20 -o "$consumer/listen_changes_pc" examples/listen_changes.cpp \
  $(pkg-config --cflags --libs pgpulse) || { rm -rf "$consumer"; fail "pkg-config pgpulse"; }
rm -rf "$consumer"
echo "check-package: examples/ built against libpgpulse-dev with CMake and with pkg-config"

scripts/pg-sandbox.sh run "$PWD/scripts/check-package.sh" --against-db

files=$(dpkg -L pgpulse libpgpulse-dev | grep -v '^/\.$')
dpkg -r pgpulse libpgpulse-dev
[ -f "$config" ] || fail "dpkg -r removed the conffile $config (only --purge should)"
dpkg --purge pgpulse
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
