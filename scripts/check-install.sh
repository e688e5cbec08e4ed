#!/usr/bin/env bash
# CI: `cmake --install` of a build into a temporary prefix, then what a user of the library
# does with it: examples/ built as a project of its own (find_package(pgpulse CONFIG)), and
# listen_changes compiled with nothing but `pkg-config --cflags --libs pgpulse`. Both then
# print a row inserted into a throwaway PostgreSQL.
#
#   scripts/check-install.sh [BUILD_DIR]   (default build-ci-release, from scripts/ci-builds.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# Under scripts/pg-sandbox.sh (PGPULSE_TEST_DB set): the consumers, against that database.
if [ "${1:-}" = --against-db ]; then
  prefix=$2
  shift 2
  psql "$PGPULSE_TEST_DB" -qX -v ON_ERROR_STOP=1 -c 'CREATE TABLE items (id int PRIMARY KEY, name text)'
  "$prefix/bin/pgpulse" install --db "$PGPULSE_TEST_DB" items >/dev/null
  for exe in "$@"; do
    out=$prefix/out.txt
    err=$prefix/err.txt
    "$exe" "$PGPULSE_TEST_DB" public.items >"$out" 2>"$err" &
    pid=$!
    for _ in $(seq 100); do grep -q '^connected' "$err" && break; sleep 0.1; done
    psql "$PGPULSE_TEST_DB" -qX -c "INSERT INTO items VALUES ($RANDOM, 'from $(basename "$exe")')"
    for _ in $(seq 100); do grep -q "from $(basename "$exe")" "$out" && break; sleep 0.1; done
    kill -TERM "$pid"
    wait "$pid" || { echo "check-install: $exe exited with $?" >&2; cat "$err" >&2; exit 1; }
    grep -q "^INSERT .*items.*from $(basename "$exe")" "$out" ||
      { echo "check-install: $exe printed no INSERT:" >&2; cat "$out" "$err" >&2; exit 1; }
    echo "check-install: $exe: $(cat "$out")"
  done
  exit 0
fi

build=${1:-build-ci-release}
[ -f "$build/CMakeCache.txt" ] || { echo "check-install: $build is not a build directory" >&2; exit 1; }
prefix=$(mktemp -d /tmp/pgpulse-install.XXXXXX)
chmod 755 "$prefix"  # the sandbox's server user reads nothing here, but keep it plain
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null

fail() { echo "check-install: $*" >&2; exit 1; }
version=$(sed -n 's/^project(pgpulse VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ "$("$prefix/bin/pgpulse" --version)" = "pgpulse $version" ] || fail "pgpulse --version is not $version"
for f in include/pgpulse/pgpulse.hpp include/pgpulse/version.hpp; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
grep -q "PGPULSE_VERSION \"$version\"" "$prefix/include/pgpulse/version.hpp" || fail "version.hpp"
pc=$(find "$prefix" -name pgpulse.pc)
config=$(find "$prefix" -name pgpulseConfig.cmake)
[ -n "$pc" ] && [ -n "$config" ] && [ -f "$(dirname "$config")/pgpulseConfigVersion.cmake" ] ||
  fail "no pgpulse.pc, pgpulseConfig.cmake or pgpulseConfigVersion.cmake"
# The hub and the gateway are parts of the binary, not of the library's API.
[ -z "$(find "$prefix" -name 'libpgpulse_*')" ] || fail "internal libraries installed"

# The CMake route, with the warnings a careful user turns on: the public headers must be
# clean under them (g++ -O3 included).
cmake -S examples -B "$prefix/examples-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Wshadow" -Werror=dev >/dev/null
cmake --build "$prefix/examples-build"
# The version file: this version is found, an incompatible one is not.
mkdir -p "$prefix/version-check"
cat >"$prefix/version-check/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(version_check LANGUAGES CXX)
find_package(pgpulse $version CONFIG REQUIRED)
find_package(pgpulse 99 CONFIG QUIET)
if(pgpulse_FOUND)
  message(FATAL_ERROR "pgpulse 99 was accepted by pgpulse $version")
endif()
CMAKE
cmake -S "$prefix/version-check" -B "$prefix/version-check/build" -DCMAKE_PREFIX_PATH="$prefix" \
  >/dev/null || fail "the CMake package's version check"

# The pkg-config route.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs pgpulse)
c++ -std=c++20 -O2 -Wall -Werror -o "$prefix/listen_changes_pc" examples/listen_changes.cpp $flags
[ "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --modversion pgpulse)" = "$version" ] ||
  fail "pgpulse.pc has the wrong version"

scripts/pg-sandbox.sh run "$PWD/scripts/check-install.sh" --against-db "$prefix" \
  "$prefix/examples-build/listen_changes" "$prefix/listen_changes_pc"
echo "check-install: installed pgpulse $version; examples/ built with find_package and pkg-config"
