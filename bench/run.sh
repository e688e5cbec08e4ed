#!/usr/bin/env bash
# The benchmark suite: every workload in sequence on one throwaway PostgreSQL, each within its
# time budget, then bench/report.py merges the results into results/latest.json and
# results/latest.md, draws the plots and (full runs only) rewrites the README's benchmarks.
#
#   bench/run.sh                 # `make bench`: full sizes, at most 15 min on a 2-core machine
#   BENCH_SMOKE=1 bench/run.sh   # `make bench-smoke`: every workload tiny, under a minute (CI)
#
# Builds what the workloads need once (pgpulse, ws_load; library_listener and pgpulse_micro
# when defined) and runs
# copies of the binaries, so a rebuild of BUILD during the run changes nothing. One server for
# all: each workload's `scripts/pg-sandbox.sh run` gets a fresh database in it
# (PGPULSE_SANDBOX_SHARED), because initdb and start-up cost seconds each. A workload that
# overruns its budget is stopped; a missing script is skipped with a line saying so. Each
# workload's output goes to results/tmp/logs/; a failed one shows its tail. Exit status: 0 when
# every workload that exists succeeded.
#
# Environment: BUILD (default build), BENCH_NO_BUILD=1 (build nothing; take PGPULSE_BIN and
# WS_LOAD_BIN as they are), BENCH_ONLY (comma list of workload names, default all),
# BENCH_README (the README to rewrite after a full run, default README.md; `none`: leave it).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
SMOKE=${BENCH_SMOKE:-0}
BUILD=${BUILD:-build}
# The target for the whole suite, build excluded (the build is `make build`'s job); in a full run
# the workloads share all of it but 20 s, which the server, the report and a stop may take.
if [ "$SMOKE" = 1 ]; then
  RESULTS=$HERE/results/tmp TOTAL_BUDGET=60 MODE=smoke
else
  RESULTS=$HERE/results TOTAL_BUDGET=900 MODE=full
fi
LOGS=$HERE/results/tmp/logs

# name|script|budget s (full)|budget s (smoke)|settings of the full run|settings of the smoke run.
# The budgets stop a workload that hangs or runs far over its expected time (in brackets, on
# the 2-core machine): listener drain N=200000, 3 runs of 4 listeners (~1 min); durable
# throughput with 5 s live points instead of 8, watch and the gateway (~100 s); latency with 8 s points instead of 10
# (~3 min); fan-out, 5 points up to 10,000 clients (~1.5 min); write cost with 5 s pgbench points and 2 bulk runs instead of
# 8 s and 3 (~4.5 min); micro-benchmarks (~40 s). Smoke runs use each script's BENCH_SMOKE
# sizes; latency leaves out its two poll-mode repeats there (poll mode is smoke-tested by
# durable throughput and write cost).
WORKLOADS=(
  "listener_drain|listener_drain.sh|120|60||"
  "durable_throughput|durable_throughput.sh|240|60|BENCH_SECONDS=5|"
  "latency|latency.sh|300|60|BENCH_SECONDS=8|BENCH_CLIENTS=libpq,node-pg,watch-channel,watch/notify,websocket/notify,sse"
  "fanout|fanout.sh|180|60||"
  "write_cost|write_cost.sh|420|60|BENCH_SECONDS=5 BENCH_REPS=2|"
  "micro|micro.sh|150|60||"
)

RUN_START=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

scripts/bootstrap.sh jq
TMP=$(mktemp -d /tmp/pgpulse-benchrun.XXXXXX)
chmod 755 "$TMP"
SANDBOX=""
child=""
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
  if [ -n "$SANDBOX" ]; then scripts/pg-sandbox.sh stop "$SANDBOX"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build once, then freeze the binaries -------------------------------------------------

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  targets=(pgpulse_cli ws_load)
  defined=$(cmake --build "$BUILD" --target help)
  for optional in library_listener pgpulse_micro; do
    if grep -qw "$optional" <<<"$defined"; then targets+=("$optional"); fi
  done
  echo "bench: building ${targets[*]} in $BUILD" >&2
  cmake --build "$BUILD" --target "${targets[@]}" >"$TMP/build.log" 2>&1 ||
    { cat "$TMP/build.log" >&2; exit 1; }
fi
PGPULSE_BIN=${PGPULSE_BIN:-$BUILD/pgpulse}
WS_LOAD_BIN=${WS_LOAD_BIN:-$BUILD/ws_load}
LIBRARY_LISTENER_BIN=${LIBRARY_LISTENER_BIN:-$(dirname "$PGPULSE_BIN")/library_listener}
for bin in "$PGPULSE_BIN" "$WS_LOAD_BIN"; do
  [ -x "$bin" ] || { echo "bench: $bin is missing (cmake --build $BUILD --target pgpulse_cli ws_load)" >&2; exit 1; }
done
cp "$PGPULSE_BIN" "$TMP/pgpulse"
cp "$WS_LOAD_BIN" "$TMP/ws_load"
# Optional: without it, listener drain leaves out its library row and says so.
if [ -x "$LIBRARY_LISTENER_BIN" ]; then cp "$LIBRARY_LISTENER_BIN" "$TMP/library_listener"; fi
# The scripts build nothing more: they take these copies.
export PGPULSE_BIN=$TMP/pgpulse WS_LOAD_BIN=$TMP/ws_load LIBRARY_LISTENER_BIN=$TMP/library_listener \
  BENCH_NO_BUILD=1 BUILD

# --- one server for every workload ---------------------------------------------------------

SUITE_START=$EPOCHREALTIME
t=$EPOCHREALTIME
SANDBOX=$(mktemp -d /tmp/pgpulse-pg.XXXXXX)
scripts/pg-sandbox.sh start "$SANDBOX" >/dev/null
# shellcheck disable=SC1091
. "$SANDBOX/env"
export PGPULSE_SANDBOX_SHARED=1
# The server's own client programs first: Debian's psql is a Perl wrapper that costs ~0.1 s per
# call, and the workloads call psql hundreds of times between measurements.
# Likewise Debian's python3 (bootstrap.sh installs it) before a version manager's shim, which
# can cost 0.3 s per start (pyenv's): some workloads start python3 for every point.
mkdir -p "$TMP/bin"
if [ -x /usr/bin/python3 ]; then ln -s /usr/bin/python3 "$TMP/bin/python3"; fi
export PATH=$TMP/bin:$PGPULSE_TEST_PGBIN:$PATH
PG_VERSION=$(psql "$PGPULSE_TEST_DB" -XAtq -c 'SHOW server_version')
echo "bench: $MODE run, PostgreSQL $PG_VERSION started in $(elapsed "$t") s" >&2

# The tree measured, taken before the workloads rewrite bench/results/ and the README.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)
dirty=false
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=true
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u +%FT%TZ)
STATUS=$TMP/status.jsonl
: >"$STATUS"
mkdir -p "$RESULTS" "$LOGS"
failed=0

record() {  # name script status seconds note
  jq -nc --arg name "$1" --arg script "bench/$2" --arg status "$3" --argjson seconds "$4" \
    --arg note "$5" '{name: $name, script: $script, status: $status, seconds: $seconds, note: $note}' \
    >>"$STATUS"
  printf 'bench: %-20s %-8s %6s s  %s\n' "$1" "$3" "$4" "$5" >&2
}

run_workload() {  # name script budget settings
  local name=$1 script=$2 budget=$3 settings log=$LOGS/$1.log rc=0 t note=""
  read -ra settings <<<"$4"
  if [ ! -x "$HERE/$script" ]; then
    record "$name" "$script" skipped 0 "bench/$script does not exist"
    return
  fi
  local left; left=$(awk -v a="$SUITE_START" -v b="$EPOCHREALTIME" -v t="$TOTAL_BUDGET" 'BEGIN { print int(t - 20 - (b - a)) }')
  if [ "$SMOKE" != 1 ] && ((left < budget)); then budget=$left; fi
  if ((budget <= 0)); then
    record "$name" "$script" timeout 0 "not started: no time left of the ${TOTAL_BUDGET} s budget"
    failed=1
    return
  fi
  t=$EPOCHREALTIME
  # Started in the background so that a signal to this script reaches it (see cleanup);
  # timeout stops the whole process group of the workload: its servers and clients too.
  env ${settings[@]+"${settings[@]}"} timeout -k 10 "$budget" "$HERE/$script" >"$log" 2>&1 &
  child=$!
  wait "$child" || rc=$?
  child=""
  local secs; secs=$(elapsed "$t")
  if ((rc == 0)); then
    record "$name" "$script" ok "$secs" "${settings[*]+${settings[*]}}"
    return
  fi
  failed=1
  if ((rc == 124 || rc == 137)); then
    record "$name" "$script" timeout "$secs" "stopped after its budget of $budget s"
    # What a stopped workload left behind in the shared server: its settings.
    psql "$PGPULSE_TEST_DB" -XAtq -c 'ALTER SYSTEM RESET ALL' -c 'SELECT pg_reload_conf()' >/dev/null || true
  else
    note=$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-200)
    record "$name" "$script" failed "$secs" "exit $rc: $note"
  fi
  echo "---- last lines of $log:" >&2
  tail -n 25 "$log" | sed 's/^/    /' >&2
}

for spec in "${WORKLOADS[@]}"; do
  IFS='|' read -r name script full_budget smoke_budget full_settings smoke_settings <<<"$spec"
  [[ ",${BENCH_ONLY:-$name}," == *",$name,"* ]] || continue
  if [ "$SMOKE" = 1 ]; then
    run_workload "$name" "$script" "$smoke_budget" "$smoke_settings"
  else
    run_workload "$name" "$script" "$full_budget" "$full_settings"
  fi
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/pg-sandbox.sh stop "$SANDBOX"
SANDBOX=""

# --- report ---------------------------------------------------------------------------------

jq -n --arg cpu "$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)" \
  --argjson cores "$(nproc)" --arg kernel "$(uname -sr)" \
  --argjson mem_kb "$(awk '/^MemTotal/ {print $2}' /proc/meminfo)" \
  --arg before "$LOAD_BEFORE" --arg after "$LOAD_AFTER" --arg pg "$PG_VERSION" \
  '{cpu_model: $cpu, cores: $cores, memory: "\($mem_kb / 1048576 * 10 | round / 10) GiB",
    kernel: $kernel, load_average_before: $before, load_average_after: $after, postgresql: $pg}' \
  >"$TMP/machine.json"
t=$EPOCHREALTIME
readme=${BENCH_README:-README.md}
[ "$SMOKE" = 1 ] && readme=none
python3 "$HERE/report.py" --mode "$MODE" --results "$RESULTS" --status "$STATUS" \
  --machine "$TMP/machine.json" --date "$DATE" --commit "$commit" --dirty "$dirty" \
  --since "$RUN_START" --seconds "$(elapsed "$SUITE_START")" --readme "$readme"
echo "bench: report in $(elapsed "$t") s: ${RESULTS#"$ROOT"/}/latest.md, latest.json and the plots" >&2

suite=$(elapsed "$SUITE_START")
over=$(awk -v t="$suite" -v b="$TOTAL_BUDGET" 'BEGIN { print (t > b) }')
echo "bench: $MODE run took $suite s without the build (target: $TOTAL_BUDGET s$([ "$over" = 1 ] &&
  echo ', EXCEEDED')), $(elapsed "$RUN_START") s in all" >&2
exit "$failed"
