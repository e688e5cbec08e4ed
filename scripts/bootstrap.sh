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
  gnuplot-nox  # bench/report.py draws the benchmark plots
  "$@"
)

# One dpkg-query for all (one per package costs most of a second: every benchmark calls this).
# (dpkg-query fails when it knows one of them not at all: what it printed still counts.)
installed=" $({ dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true; } |
  awk '/ install ok installed$/ { printf "%s ", $1 }')"
missing=()
for p in "${packages[@]}"; do
  [[ $installed == *" $p "* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
