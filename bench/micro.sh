#!/usr/bin/env bash
# Micro-benchmarks of the hot paths, with Google Benchmark (bench/micro/*_bench.cpp): event to
# JSON, filter evaluation, WebSocket and SSE framing, column lists, client message parsing.
# No database and no network: CPU time per call, on this machine, in one process.
#
#   bench/micro.sh [benchmark flags]        every benchmark, ~0.5 s each, ~30 s in all
#   bench/micro.sh --benchmark_filter=Sse   any Google Benchmark flag is passed on
#   BENCH_SMOKE=1 bench/micro.sh            ~10 ms each: checks that everything runs (~2 s)
#
# Writes Google Benchmark's own JSON (--benchmark_out) and prints a table made from it: ns per
# item (per event, row, message) and MB/s, both from CPU time (wall time drifts more on this
# shared machine). Environment: BUILD (build directory, default build; configured here when
# it lacks the target), BENCH_MIN_TIME (seconds per benchmark, default 0.5), BENCH_OUT (default
# bench/results/micro.json; smoke runs go to bench/results/tmp/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"  # BUILD is relative to the repository root.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then  # quick check that everything runs; not a result to keep
  MIN_TIME=0.01 OUT=${BENCH_OUT:-$HERE/results/tmp/micro.json}
else
  MIN_TIME=${BENCH_MIN_TIME:-0.5} OUT=${BENCH_OUT:-$HERE/results/micro.json}
fi
BUILD=${BUILD:-build}

scripts/bootstrap.sh jq  # libbenchmark-dev is in its default list
# Configure only when the build directory does not know the target yet (new, or configured
# before Google Benchmark was installed): a configured directory reconfigures itself as needed.
if ! grep -qs '/pgpulse_micro.dir$' "$BUILD/CMakeFiles/TargetDirectories.txt"; then
  generator=()
  command -v ninja >/dev/null && [ ! -f "$BUILD/CMakeCache.txt" ] && generator=(-G Ninja)
  cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
log=$(mktemp /tmp/pgpulse-micro.XXXXXX)
trap 'rm -f "$log"' EXIT
# Only this target, on at most 2 cores: the machine is shared.
if ! cmake --build "$BUILD" --target pgpulse_micro -j2 >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi

mkdir -p "$(dirname "$OUT")"
# The console report is shown only on failure: the table below is made from the JSON, so the
# two never differ. (Its warning "Library was built as DEBUG" is about Debian's libbenchmark,
# built without a build type; it concerns the timing loop, not the code measured.)
if ! "$BUILD/bench/micro/pgpulse_micro" --benchmark_min_time="$MIN_TIME" --benchmark_out="$OUT" \
  --benchmark_out_format=json \
  --benchmark_context=commit="$(git rev-parse --short HEAD 2>/dev/null || echo none)" \
  "$@" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi

jq -r '"\nmicro-benchmarks: \(.context.date), \(.context.num_cpus) CPUs at \(.context.mhz_per_cpu) MHz, load \(.context.load_avg | map(. * 100 | round / 100) | join(" "))\n",
  (["benchmark", "ns/item", "MB/s"] | @tsv),
  (.benchmarks[] | select(.error_occurred | not) |
   ({ns: 1, us: 1e3, ms: 1e6, s: 1e9}[.time_unit]) as $ns |
   [.name + (if .label then "  " + .label else "" end),
    (if .items_per_second then 1e9 / .items_per_second else .cpu_time * $ns end),
    (if .bytes_per_second then .bytes_per_second / 1e6 else "-" end)] | map(tostring) | @tsv),
  (.benchmarks[] | select(.error_occurred) | "FAILED \(.name): \(.error_message)")' "$OUT" |
  awk -F'\t' 'NF < 3 { print; next }
    $2 ~ /^[0-9]/ { $2 = sprintf($2 < 100 ? "%.1f" : "%.0f", $2) }
    $3 ~ /^[0-9]/ { $3 = sprintf("%.0f", $3) }
    { printf "%-72s %10s %10s\n", $1, $2, $3 }'
echo "results: $OUT"
# A benchmark that reported an error (SkipWithError) fails the run, after the table.
jq -e '[.benchmarks[] | select(.error_occurred)] | length == 0' "$OUT" >/dev/null || {
  echo "some benchmarks failed" >&2
  exit 1
}
