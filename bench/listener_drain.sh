#!/usr/bin/env bash
# Benchmark workload a, "listener capacity": how fast one listener drains a backlog of N
# notifications, in notifications/s and CPU us per notification, as ratios against raw libpq
# and Node pg measured in the same run (absolute times drift on a shared machine; ratios hold).
#
#   bench/listener_drain.sh [N]        N defaults to 200000 (BENCH_SMOKE=1: 2000, one run each)
#
# Method, per listener and run: start it on its own channel, wait until it listens, freeze it
# (SIGSTOP), queue N notifications in one transaction, resume it (SIGCONT) and time it from the
# resume until it exits after N: wall time and its own CPU, both measured by tools/drain_timer.
# Runs go round-robin over the listeners (drift hits all alike); the best of the runs counts.
# Payloads look like a row-change trigger's: ~95-byte JSON, distinct per notification. Only the
# listener's own process is measured; the server backend that feeds it shares the 2 cores.
#
# Environment: PGPULSE_BIN (default build/pgpulse), BENCH_REPS (3), BENCH_LISTENERS (comma list
# of names, default all), BENCH_TIMEOUT (120 s per run), BENCH_OUT (default
# bench/results/listener_drain.json; smoke runs go to bench/results/tmp/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"  # PGPULSE_BIN is relative to the repository root.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then  # quick check that everything runs; not a result to keep
  N=${1:-2000} REPS=${BENCH_REPS:-1} OUT=${BENCH_OUT:-$HERE/results/tmp/listener_drain.json}
else
  N=${1:-200000} REPS=${BENCH_REPS:-3} OUT=${BENCH_OUT:-$HERE/results/listener_drain.json}
fi
PGPULSE_BIN=${PGPULSE_BIN:-build/pgpulse}
# The library alone (bench/tools/library_listener.cpp, CMake target library_listener).
LIBRARY_LISTENER_BIN=${LIBRARY_LISTENER_BIN:-$(dirname "$PGPULSE_BIN")/library_listener}
BUILD=$HERE/build

# The listeners: name|stdout lines expected (0 or N)|command, with @URL@ @CHANNEL@ @COUNT@
# filled in per run (no spaces in paths). libpq and node-pg are the references for the ratios.
LISTENERS=(
  "libpq|0|$BUILD/libpq_listener @URL@ @CHANNEL@ @COUNT@"
  "node-pg|0|node $HERE/reference/node_pg_listener.js @URL@ @CHANNEL@ @COUNT@"
  "library|0|$LIBRARY_LISTENER_BIN @URL@ @CHANNEL@ @COUNT@"
  "pgpulse|N|$PGPULSE_BIN watch --db @URL@ --channel @CHANNEL@ --limit @COUNT@"
)

# pgpulse prints no `ready`, and its last statement need not be the LISTEN, so readiness is read
# from the server: with log_statement=all the log names the backend that ran our LISTEN, and
# once that backend is idle (not "idle in transaction") the LISTEN has committed.
LISTEN_LOG_RE='LOG: +(statement|execute [^:]*): .*LISTEN +"?@CHANNEL@("|;|\s|$)'
IDLE_SQL="SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND state = 'idle';"
# What a row-change trigger sends: ~95 bytes of JSON, distinct per notification (%s = i).
PAYLOAD='{"schema":"public","table":"orders","op":"UPDATE","id":%s,"at":"2024-05-01T12:34:56.789012+00"}'
QUEUE_SQL="SELECT count(pg_notify(:'ch', format(:'payload', i))) FROM generate_series(1, :n) AS i;"
PAYLOAD_BYTES_SQL="SELECT round(avg(octet_length(format(:'payload', i)))) FROM generate_series(1, :n) AS i;"

# Outside the sandbox: build the tools, install the Node reference, then re-run inside a sandbox.
if [ -z "${PGPULSE_TEST_DB:-}" ] || [ "${BENCH_IN_SANDBOX:-}" != 1 ]; then
  scripts/bootstrap.sh jq  # Node comes with the machine (NodeSource build): not ours to install
  mkdir -p "$BUILD"
  cc -O2 -Wall -Wextra -I"$(pg_config --includedir)" -o "$BUILD/libpq_listener" \
    "$HERE/reference/libpq_listener.c" -L"$(pg_config --libdir)" -lpq
  cc -O2 -Wall -Wextra -o "$BUILD/drain_timer" "$HERE/tools/drain_timer.c"
  if [ ! -d "$HERE/reference/node_modules" ] && command -v npm >/dev/null; then
    npm ci --prefix "$HERE/reference" --no-audit --no-fund
  fi
  BENCH_IN_SANDBOX=1 exec scripts/pg-sandbox.sh run "$HERE/listener_drain.sh" "$N"
fi

URL=$PGPULSE_TEST_DB
source "$HERE/lib.sh"

TMP=$(mktemp -d /tmp/pgpulse-bench.XXXXXX)
timer_pid=""
cleanup() { if [ -n "$timer_pid" ]; then kill "$timer_pid" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
RUNS=$TMP/runs.jsonl  # one JSON object per run (or per skipped listener)
: >"$RUNS"

wait_listening() {  # timer_pid channel stderr_file: 0 once listening, 1 if it died or took 20 s
  local deadline=$((SECONDS + 20)) pid
  while ((SECONDS < deadline)); do
    kill -0 "$1" 2>/dev/null || return 1
    grep -qx ready "$3" && return 0  # the references say so themselves
    pid=$(grep -E "${LISTEN_LOG_RE//@CHANNEL@/$2}" "$PGPULSE_TEST_PGLOG" | sed -nE 's/^[^[]*\[([0-9]+)\].*/\1/p' | tail -1)
    [ -n "$pid" ] && [ "$(psql_q -v pid="$pid" <<<"$IDLE_SQL")" = 1 ] && return 0
    sleep 0.02
  done
  return 1
}

log_statements() {  # turn on log_statement=all and wait until new backends have it
  psql_q -c "ALTER SYSTEM SET log_statement = 'all'" -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] '" \
    -c 'SELECT pg_reload_conf()' >/dev/null
  until [ "$(psql_q -c 'SHOW log_statement')" = all ]; do sleep 0.05; done
}

run_once() {  # name expected_lines rep command...
  local name=$1 expect=$2 rep=$3; shift 3
  local ch="bench_${name//[^a-z0-9]/_}_${rep}_$$" out=$TMP/$name.out err=$TMP/$name.err res=$TMP/$name.json
  local argv=("${@//@CHANNEL@/$ch}") note=""
  "$BUILD/drain_timer" "$res" "${BENCH_TIMEOUT:-120}" "${argv[@]}" >"$out" 2>"$err" &
  timer_pid=$!
  if wait_listening "$timer_pid" "$ch" "$err"; then
    kill -USR1 "$timer_pid"  # freeze, so the whole backlog is queued before it reads any
    psql_q -v ch="$ch" -v n="$N" -v payload="$PAYLOAD" <<<"$QUEUE_SQL" >/dev/null
    kill -USR2 "$timer_pid"  # resume: the drain timer starts here
  elif kill "$timer_pid" 2>/dev/null; then
    note="not seen listening on $ch after 20 s"
  else
    note="ended before it was seen listening on $ch: "
  fi
  wait "$timer_pid" || true
  timer_pid=""
  local lines; lines=$(wc -l <"$out")
  [ -s "$res" ] || echo '{}' >"$res"
  if [ -z "$note" ] || [[ "$note" == *": " ]]; then
    note=$note$(jq -r --argjson want "$([ "$expect" = N ] && echo "$N" || echo 0)" --argjson lines "$lines" \
      --argjson early "$([ -n "$note" ] && echo true || echo false)" '
      if .timed_out then "timed out" elif .signal != 0 then "killed by signal \(.signal)"
      elif .exit_code != 0 then "exit \(.exit_code)" elif $early then "exit 0"
      elif $lines != $want then "printed \($lines) lines, expected \($want)" else "" end' "$res")
  fi
  if [ -n "$note" ]; then
    echo "  $name run $rep FAILED: $note" >&2
    [ -s "$err" ] && echo "    its stderr: $(tail -c 300 "$err" | tr '\n' ' ')" >&2
  fi
  jq -c --arg name "$name" --argjson rep "$rep" --arg note "$note" \
    '. + {listener: $name, rep: $rep, ok: ($note == ""), note: $note}' "$res" >>"$RUNS"
  rm -f "$out"
}

# Decide which listeners run; a missing one (pgpulse not built yet) is reported, not fatal.
active=()
for spec in "${LISTENERS[@]}"; do
  IFS='|' read -r name expect cmd <<<"$spec"
  [[ ",${BENCH_LISTENERS:-$name}," == *",$name,"* ]] || continue
  read -ra words <<<"$cmd"
  if ! command -v "${words[0]}" >/dev/null; then
    echo "skipping $name: ${words[0]} not found or not executable" >&2
    jq -nc --arg name "$name" --arg why "${words[0]} not found" '{listener: $name, skipped: $why}' >>"$RUNS"
    continue
  fi
  active+=("$spec")
done

log_statements
echo "listener drain: N=$N, $REPS run(s) per listener, PostgreSQL at $PGPULSE_TEST_DB" >&2
for rep in $(seq 1 "$REPS"); do
  for spec in "${active[@]}"; do
    IFS='|' read -r name expect cmd <<<"$spec"
    cmd=${cmd//@URL@/$PGPULSE_TEST_DB}
    read -ra words <<<"${cmd//@COUNT@/$N}"
    echo "  run $rep/$REPS: $name" >&2
    run_once "$name" "$expect" "$rep" "${words[@]}"
  done
done

# Summary: best run per listener (max rate, min CPU), then ratios against the two references.
payload_bytes=$(psql_q -v n="$N" -v payload="$PAYLOAD" <<<"$PAYLOAD_BYTES_SQL")
mkdir -p "$(dirname "$OUT")"
jq -s --argjson n "$N" --argjson reps "$REPS" --argjson payload "$payload_bytes" \
  --arg date "$(date -u +%FT%TZ)" --arg host "$(uname -srm), $(nproc) cores" \
  --arg server "$(psql_q -c 'SHOW server_version')" --arg node "$(node --version)" \
  --arg node_pg "$(jq -r .version "$HERE/reference/node_modules/pg/package.json")" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo none)" '
  def ratio(a; b): if a and b then (a / b * 100 | round) / 100 else null end;
  (map(select(.ok)) | group_by(.listener) | map({key: .[0].listener, value: {
     rate_per_s: ($n / (map(.wall_us) | min) * 1e6 | round),
     cpu_us_per_notification: (((map(.cpu_us) | min) / $n * 1000 | round) / 1000),
     ok_runs: length}}) | from_entries) as $best
  | {workload: "a: listener drain", n: $n, runs_per_listener: $reps, statistic: "best of runs",
     payload_bytes: $payload, date: $date, host: $host, postgresql: $server, node: $node,
     node_pg: $node_pg, commit: $commit,
     listeners: [group_by(.listener)[] | .[0].listener as $l | {listener: $l}
       + (if .[0].skipped then {skipped: .[0].skipped} else
          ($best[$l] // {ok_runs: 0}) + {
            rate_vs_libpq: ratio($best[$l].rate_per_s; $best.libpq.rate_per_s),
            cpu_vs_libpq: ratio($best[$l].cpu_us_per_notification; $best.libpq.cpu_us_per_notification),
            rate_vs_node_pg: ratio($best[$l].rate_per_s; $best["node-pg"].rate_per_s),
            cpu_vs_node_pg: ratio($best[$l].cpu_us_per_notification; $best["node-pg"].cpu_us_per_notification),
            failures: [.[] | select(.ok | not) | .note]} end)],
     runs: .}' "$RUNS" >"$OUT"

# The readable table comes from the JSON, so the two never disagree.
jq -r '"\nlistener drain: N=\(.n), ~\(.payload_bytes)-byte payloads, best of \(.runs_per_listener) run(s), \(.host)\n",
  (["listener", "notif/s", "CPU us/notif", "rate/libpq", "CPU/libpq", "rate/node-pg", "CPU/node-pg"] | @tsv),
  (.listeners[] | if .skipped then [.listener, "skipped: \(.skipped)"] elif .ok_runs == 0 then
     [.listener, "FAILED: \(.failures[0])"] else [.listener, .rate_per_s, .cpu_us_per_notification,
     ((.rate_vs_libpq, .cpu_vs_libpq, .rate_vs_node_pg, .cpu_vs_node_pg) | . // "-")]
     end | map(tostring) | @tsv)' "$OUT" |
  awk -F'\t' 'function x(r) { return r == "-" ? r : sprintf("%.2fx", r) }
    NF < 2 { print; next }
    NF == 2 { printf "%-10s %s\n", $1, $2; next }
    $2 ~ /^[0-9]/ { $2 = sprintf("%d", $2); $3 = sprintf("%.3f", $3); $4 = x($4); $5 = x($5); $6 = x($6); $7 = x($7) }
    { printf "%-10s %10s %13s %11s %10s %13s %12s\n", $1, $2, $3, $4, $5, $6, $7 }'
echo "results: $OUT"
# A failed run makes the whole benchmark fail (after reporting); a skipped listener does not.
jq -e '[.runs[] | select(.ok == false)] | length == 0' "$OUT" >/dev/null || { echo "some runs failed" >&2; exit 1; }
