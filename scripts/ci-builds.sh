#!/usr/bin/env bash
# CI: fresh Release and Debug builds of everything (library, binary, tests, examples) with
# warnings as errors. g++ warns differently at -O0 and -O3, and a fresh clone must build as
# both; the unit tests and the version check run in each (milliseconds).
#
#   scripts/ci-builds.sh [DIR_PREFIX]   -> DIR_PREFIX-release, DIR_PREFIX-debug (build-ci-*)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build-ci}
scripts/bootstrap.sh
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

for type in Release Debug; do
  dir=$prefix-${type,,}
  rm -rf "$dir"  # fresh, as a new clone builds: a stale cache hides configure problems
  start=$SECONDS
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$type" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >/dev/null
  cmake --build "$dir"
  ctest --test-dir "$dir" --output-on-failure -E '^integration$'
  echo "ci-builds: $type built clean with warnings as errors in $((SECONDS - start)) s"
done
