#!/usr/bin/env bash
# Installs the Debian packages pgpulse needs to build, test and demo.
# A no-op when everything is present, so `make test` and `make demo` can call it every time.
# Extra package names given as arguments (say, what `make bench` needs) are installed too.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache clang-format
  libpq-dev postgresql-15 postgresql-client-15
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libjwt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pgbouncer curl python3
  chromium  # tests/browser/run.sh
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
