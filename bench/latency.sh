#!/usr/bin/env bash
# Benchmark workload c, "latency": from a committed row to the client that receives it (p50,
# p99, p99.9, max) at 1,000 and 5,000 changes/s, for `pgpulse watch`, a WebSocket client and an
# SSE client of `pgpulse serve`, against the raw libpq loop and Node `pg` on the tutorial
# trigger in the same run; every figure is also given as a ratio to those two references.
#
#   bench/latency.sh                  # 1000 and 5000 changes/s, 10 s per point, ~3 min
#   BENCH_SMOKE=1 bench/latency.sh    # 1000/s, 1 s per point: checks that everything works
#
# The stamp: bench.sent_us defaults to clock_timestamp() in microseconds, so the server stamps
# each row with the wall clock while the writer's INSERT runs, just before its commit (the
# trigger and the commit come after it, and count); readers run on the same machine and
# subtract it from their own CLOCK_REALTIME on receipt. The writer: pgbench, one single-row
# INSERT per transaction from BENCH_WRITERS connections, paced with -R at the rate (Poisson
# arrivals) and -t so that the total is fixed: every reader knows how many rows to expect and
# exits after the last one. Samples stamped within the first WARMUP s (1; smoke 0.25) after the
# first row are dropped. Points (each from a fresh table, change log and reader, then a
# CHECKPOINT but in smoke runs; one reader at a time) per rate, in this order:
#   libpq          reference/libpq_listener.c --latency, on the tutorial trigger
#   node-pg        reference/node_pg_listener.js --latency (npm pg), on the tutorial trigger
#   watch-channel  pgpulse watch --channel on the tutorial trigger (NOTIFY only, no log)
#   watch          pgpulse watch --table bench, from the change log (install --wakeup notify)
#   websocket      tools/ws_load --clients 1 through pgpulse serve (notify)
#   sse            tools/ws_load --sse --clients 1 through pgpulse serve (notify)
#   watch, websocket again with install --wakeup poll
# watch prints into tools/line_latency through a pipe (read(2) in C, so the reader adds
# nothing). A point whose reader got a different number of rows than pgbench committed is
# marked (ok: false) with a warning; the script fails only when a reader could not run.
#
# Environment: PGPULSE_BIN (default build/pgpulse), WS_LOAD_BIN (default build/ws_load),
# BENCH_RATES ("1000 5000"; smoke "1000"), BENCH_SECONDS (10; smoke 1), BENCH_WRITERS (pgbench
# connections: 4), BENCH_CLIENTS (comma list of client or client/wakeup, default all),
# BENCH_WS_BATCH (1: the WebSocket points use /ws?batch=1), BENCH_TIMEOUT (15 s for the readers
# to get everything once the writers are done), BENCH_OUT (default bench/results/latency.json;
# smoke runs go to bench/results/tmp/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"  # PGPULSE_BIN and WS_LOAD_BIN are relative to the repository root.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then  # quick check that everything runs; not a result to keep
  RATES=${BENCH_RATES:-1000} SECS=${BENCH_SECONDS:-1} WARMUP=0.25 CHECKPOINT=0
  OUT=${BENCH_OUT:-$HERE/results/tmp/latency.json}
else
  RATES=${BENCH_RATES:-1000 5000} SECS=${BENCH_SECONDS:-10} WARMUP=1 CHECKPOINT=1
  OUT=${BENCH_OUT:-$HERE/results/latency.json}
fi
WRITERS=${BENCH_WRITERS:-4}
TIMEOUT=${BENCH_TIMEOUT:-15}
PGPULSE_BIN=${PGPULSE_BIN:-build/pgpulse}
WS_LOAD_BIN=${WS_LOAD_BIN:-build/ws_load}
BUILD=$HERE/build

# client|wakeup|capture: the points of one rate, in order. libpq and node-pg are the references.
POINTS=(
  "libpq|notify|tutorial"
  "node-pg|notify|tutorial"
  "watch-channel|notify|tutorial"
  "watch|notify|pgpulse"
  "websocket|notify|pgpulse"
  "sse|notify|pgpulse"
  "watch|poll|pgpulse"
  "websocket|poll|pgpulse"
)

# Outside the sandbox: build the C readers, install the Node reference, then re-run inside a
# throwaway PostgreSQL.
if [ -z "${PGPULSE_TEST_DB:-}" ] || [ "${BENCH_IN_SANDBOX:-}" != 1 ]; then
  scripts/bootstrap.sh jq
  [ -x "$PGPULSE_BIN" ] || { echo "$PGPULSE_BIN is missing: ninja -C build pgpulse_cli" >&2; exit 1; }
  [ -x "$WS_LOAD_BIN" ] || { echo "$WS_LOAD_BIN is missing: ninja -C build ws_load" >&2; exit 1; }
  mkdir -p "$BUILD"
  cc -O2 -Wall -Wextra -I"$(pg_config --includedir)" -o "$BUILD/libpq_listener" \
    "$HERE/reference/libpq_listener.c" -L"$(pg_config --libdir)" -lpq
  cc -O2 -Wall -Wextra -o "$BUILD/line_latency" "$HERE/tools/line_latency.c"
  if [ ! -d "$HERE/reference/node_modules" ] && command -v npm >/dev/null; then
    npm ci --prefix "$HERE/reference" --no-audit --no-fund
  fi
  BENCH_IN_SANDBOX=1 exec scripts/pg-sandbox.sh run "$HERE/latency.sh"
fi

URL=$PGPULSE_TEST_DB
PGBENCH=$PGPULSE_TEST_PGBIN/pgbench
TMP=$(mktemp -d /tmp/pgpulse-bench.XXXXXX)
chmod 755 "$TMP"
point_pids=()  # the readers (and gateway) of the point that runs now
# (A failed kill must not stop the cleanup: set -e also holds in this trap.)
cleanup() {
  for pid in "${point_pids[@]}" ${gateway:-}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$HERE/lib.sh"
PGPULSE_BUILT=$(copy_binary "$PGPULSE_BIN" "$TMP" pgpulse --version)
WS_LOAD_BUILT=$(copy_binary "$WS_LOAD_BIN" "$TMP" ws_load --clients 0 --seconds 0)
PGPULSE_BIN=$TMP/pgpulse WS_LOAD_BIN=$TMP/ws_load
RUNS=$TMP/runs.jsonl  # one JSON object per point
: >"$RUNS"

LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)  # other work on the machine, for the record
# The server's own psql: Debian's /usr/bin/psql wrapper costs ~0.1 s a call.

TABLE_SQL='CREATE TABLE bench (id bigserial PRIMARY KEY,
  sent_us bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint, body text);'
# The common blog recipe pgpulse replaces, verbatim.
TUTORIAL_SQL=$(cat "$HERE/reference/tutorial_trigger.sql")
# One single-row INSERT per transaction; sent_us comes from its default.
echo "INSERT INTO bench (body) VALUES ('row ' || md5(random()::text));" >"$TMP/insert.pgbench"

reset_capture() {  # tutorial | notify | poll: an empty bench table with that capture on it
  if [ "$(psql_q -c 'DROP TABLE IF EXISTS bench' -c 'DROP FUNCTION IF EXISTS notify_changes() CASCADE' \
      -c "SELECT to_regnamespace('pgpulse') IS NOT NULL")" = t ]; then
    "$PGPULSE_BIN" uninstall --db "$URL" >/dev/null
  fi
  if [ "$1" = tutorial ]; then
    psql_q -v table=bench <<<"$TABLE_SQL $TUTORIAL_SQL"
  else
    psql_q -c "$TABLE_SQL"
    "$PGPULSE_BIN" install --db "$URL" --wakeup "$1" bench >/dev/null
  fi
  if ((CHECKPOINT)); then psql_q -c CHECKPOINT; fi
}

wait_ready() {  # pid how: 0 once ready, 1 if it died or took 20 s
  local pid=$1 how=$2 deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    running "$pid" || return 1
    case $how in
      stderr) grep -qx ready "$TMP/reader.err" && return 0 ;;  # the reader says so itself
      listen) watch_idle 'LISTEN%' && return 0 ;;  # pgpulse watch --channel: after its LISTEN
      log) watch_idle '%' && return 0 ;;             # pgpulse watch: its backend is idle
    esac
    sleep 0.02
  done
  return 1
}

# One point: a fresh table, the reader, the writers for SECS seconds, then until the reader has
# every committed row or TIMEOUT s passed.
run_point() {  # client wakeup capture rate
  local client=$1 wakeup=$2 capture=$3 rate=$4
  local per_writer=$(((rate * SECS + WRITERS - 1) / WRITERS))
  local expected=$((per_writer * WRITERS)) res=$TMP/result.json err=$TMP/reader.err note=""
  local reader="" waiter="" gateway="" ready_how=stderr
  reset_capture "$([ "$capture" = tutorial ] && echo tutorial || echo "$wakeup")"
  : >"$res"
  : >"$err"
  case $client in
    libpq)
      "$BUILD/libpq_listener" "$URL" record_changes "$expected" --latency "$WARMUP" >"$res" 2>"$err" &
      reader=$! waiter=$!
      ;;
    node-pg)
      node "$HERE/reference/node_pg_listener.js" "$URL" record_changes "$expected" --latency "$WARMUP" \
        >"$res" 2>"$err" &
      reader=$! waiter=$!
      ;;
    watch-channel | watch)
      rm -f "$TMP/lines"
      mkfifo "$TMP/lines"
      "$BUILD/line_latency" --count "$expected" --warmup-seconds "$WARMUP" <"$TMP/lines" >"$res" &
      waiter=$!
      local source=(--table bench --from beginning) && ready_how=log
      [ "$client" = watch-channel ] && source=(--channel record_changes) && ready_how=listen
      # No --limit: line_latency ends at the last row, and watch stays up to have its CPU read.
      "$PGPULSE_BIN" watch --db "$URL" "${source[@]}" >"$TMP/lines" 2>"$err" &
      reader=$!
      ;;
    websocket | sse)
      local port
      if start_gateway "$URL" "$TMP/gateway.log"; then
        point_pids+=("$gateway")
      else
        note="serve did not start: $(tail -c 300 "$TMP/gateway.log" | tr '\n' ' ')"
      fi
      reader=$gateway
      local mode=() && [ "$client" = sse ] && mode=(--sse)
      [ "$client" = websocket ] && [ "${BENCH_WS_BATCH:-0}" = 1 ] && mode=(--batch)
      "$WS_LOAD_BIN" --port "$port" --clients 1 --table bench "${mode[@]}" --stamp-field sent_us \
        --count "$expected" --warmup-seconds "$WARMUP" --seconds $((SECS * 3 + TIMEOUT + 60)) \
        >"$res" 2>"$err" &
      waiter=$!
      ;;
  esac
  point_pids+=("$reader" "$waiter")
  # Ready: the reference or ws_load says so on stderr; watch's backend is idle.
  if [ -z "$note" ] && ! wait_ready "$([ "$ready_how" = stderr ] && echo "$waiter" || echo "$reader")" "$ready_how"; then
    note="the reader did not get ready: $(tail -c 300 "$err" | tr '\n' ' ')"
  fi
  local tps=null lag=null committed=0 cpu0=0 cpu1=0 start=0 stop=0
  if [ -z "$note" ]; then
    sleep 0.1  # its LISTEN has committed: let it settle into its wait
    cpu0=$(cpu_ticks "$reader") start=$(now_us)
    "$PGBENCH" -n -M prepared -f "$TMP/insert.pgbench" -c "$WRITERS" -j "$((WRITERS < $(nproc) ? WRITERS : $(nproc)))" \
      -R "$rate" -t "$per_writer" "$URL" >"$TMP/pgbench.log" 2>&1 ||
      { echo "pgbench failed:" >&2; cat "$TMP/pgbench.log" >&2; exit 1; }
    committed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pgbench.log")
    tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$TMP/pgbench.log")
    lag=$(sed -nE 's/^rate limit schedule lag: avg ([0-9.]+) .*/\1/p' "$TMP/pgbench.log")
    local deadline=$((SECONDS + TIMEOUT))
    while running "$waiter" && ((SECONDS < deadline)); do sleep 0.02; done
    cpu1=$(cpu_ticks "$reader") stop=$(now_us)
  fi
  for pid in "$waiter" "$reader" "$gateway"; do  # a reader still waiting prints what it got
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "$waiter" "$reader" "$gateway"; do [ -n "$pid" ] && { wait "$pid" 2>/dev/null || true; }; done
  point_pids=()
  [ -s "$res" ] || echo '{}' >"$res"
  # The reader's CPU: the references report theirs since `ready` (they exit at the last row);
  # watch and the gateway are read from /proc while still running.
  jq -c --arg client "$client" --arg wakeup "$wakeup" --arg capture "$capture" \
    --argjson rate "$rate" --argjson writers "$WRITERS" --argjson secs "$SECS" \
    --argjson tps "$tps" --argjson lag "$lag" --argjson expected "$committed" \
    --argjson cpu_us "$(((cpu1 - cpu0) * 1000000 / HZ))" --argjson window_us "$((stop - start))" \
    --arg note "$note" --arg err "$(tail -c 300 "$err" | tr '\n' ' ')" '
    (.events // .deliveries // 0) as $delivered
    | (if $note != "" then $note elif .latency_us == null then "no result: \($err)"
       elif $delivered != $expected then "delivered \($delivered) rows, pgbench committed \($expected)"
       else "" end) as $note
    | {client: $client, wakeup: $wakeup,
       capture: (if $capture == "tutorial" then "tutorial trigger" else "pgpulse change log" end),
       rate: $rate, writers: $writers, seconds: $secs, writer_tps: ($tps | if . then round else . end),
       schedule_lag_ms: $lag, delivered: $delivered, expected: $expected,
       latency_us: (.latency_us // null),
       reader_cpu_pct: (if $window_us > 0 then (.cpu_us // $cpu_us) / $window_us * 1000 | round / 10
                        else null end)}
    + (if .tool_cpu_pct then {tool_cpu_pct} else {} end)
    + (if .transport then {transport} else {} end)
    + {ok: ($note == ""), note: $note}' "$res" | tee -a "$RUNS" |
    jq -r '(if .ok then empty else "  WARNING \(.client)/\(.wakeup) at \(.rate)/s: \(.note)" end),
      "  \(.client)/\(.wakeup) at \(.rate)/s: \(.delivered)/\(.expected) rows, p50 \(.latency_us.p50 // "-") us, p99 \(.latency_us.p99 // "-") us, max \(.latency_us.max // "-") us"' >&2
}

active=()
for spec in "${POINTS[@]}"; do
  IFS='|' read -r client wakeup _ <<<"$spec"
  [[ ",${BENCH_CLIENTS:-$client}," == *",$client,"* || ",${BENCH_CLIENTS:-}," == *",$client/$wakeup,"* ]] &&
    active+=("$spec")
done
echo "latency: rates $RATES/s, $SECS s per point, $WRITERS writers, ${#active[@]} readers, PostgreSQL at $URL" >&2
for rate in $RATES; do
  for spec in "${active[@]}"; do
    IFS='|' read -r client wakeup capture <<<"$spec"
    run_point "$client" "$wakeup" "$capture" "$rate"
  done
done

# --- summary -----------------------------------------------------------------------------

mkdir -p "$(dirname "$OUT")"
jq -s --argjson secs "$SECS" --argjson warmup "$WARMUP" --argjson writers "$WRITERS" \
  --arg date "$(date -u +%FT%TZ)" --arg host "$(uname -srm), $(nproc) cores" \
  --arg load "$LOAD_BEFORE -> $(cut -d" " -f1-3 /proc/loadavg)" \
  --arg server "$(psql_q -c 'SHOW server_version')" --arg node "$(node --version)" \
  --arg node_pg "$(jq -r .version "$HERE/reference/node_modules/pg/package.json" 2>/dev/null || echo none)" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo none)" \
  --arg built "$PGPULSE_BUILT" --arg ws_built "$WS_LOAD_BUILT" '
  def ratio(a; b): if a and b and b > 0 then (a / b * 100 | round) / 100 else null end;
  (map(select(.client == "libpq" or .client == "node-pg") | {key: "\(.client)@\(.rate)", value: .latency_us})
   | from_entries) as $ref
  | (map(. as $p | ($ref["libpq@\(.rate)"]) as $l | ($ref["node-pg@\(.rate)"]) as $n
      | . + {ratio_p99_vs_libpq: ratio(.latency_us.p99; $l.p99),
             ratio_p99_vs_node_pg: ratio(.latency_us.p99; $n.p99),
             ratios_vs_libpq: (if .latency_us then .latency_us | with_entries(select(.key != "samples")
               | .value = ratio(.value; $l[.key])) else null end),
             ratios_vs_node_pg: (if .latency_us then .latency_us | with_entries(select(.key != "samples")
               | .value = ratio(.value; $n[.key])) else null end)})) as $points
  | def p99_of(client; wakeup): first($points[] | select(.client == client and .wakeup == wakeup
      and .rate == 5000) | .latency_us.p99 // empty) // null;
  {workload: "c: latency", date: $date, host: $host, load_average: $load, postgresql: $server,
   node: $node, node_pg: $node_pg, commit: $commit, pgpulse_built: $built, ws_load_built: $ws_built,
   method: "commit -> client on one machine: rows stamped with clock_timestamp() by their INSERT (before the trigger and the commit), readers subtract it from CLOCK_REALTIME on receipt",
   seconds_per_point: $secs, warmup_seconds: $warmup, writers: $writers,
   targets: [
     {target: "p99 commit -> WebSocket client <= 1 ms at 5000/s, install --wakeup notify",
      value_us: p99_of("websocket"; "notify"), limit_us: 1000},
     {target: "p99 commit -> WebSocket client <= 2 ms at 5000/s through the durable log, notify",
      value_us: p99_of("websocket"; "notify"), limit_us: 2000},
     {target: "p99 commit -> WebSocket client <= 2 ms at 5000/s through the durable log, poll",
      value_us: p99_of("websocket"; "poll"), limit_us: 2000}]
     | map(. + {met: (if .value_us then .value_us <= .limit_us else null end)}),
   points: $points,
   failures: [$points[] | select(.ok | not) | "\(.client)/\(.wakeup) at \(.rate)/s: \(.note)"]}' \
  "$RUNS" >"$OUT"

# The readable tables come from the JSON, so the two never disagree.
jq -r '
  def x: if . == null then "-" else (. * 100 | round) as $c
    | "\($c / 100 | floor).\($c % 100 | tostring | if length < 2 then "0" + . else . end)x" end;
  def name: if .client == "libpq" then "libpq (tutorial trigger)"
    elif .client == "node-pg" then "node-pg (tutorial trigger)"
    elif .client == "watch-channel" then "watch --channel (tutorial)"
    else "\(.client) (\(.wakeup))" end;
  "\nlatency, commit -> client: \(.writers) pgbench writers of single-row INSERTs, \(.seconds_per_point) s per point, first \(.warmup_seconds) s dropped",
  "\(.host), PostgreSQL \(.postgresql); load average at start -> end: \(.load_average)",
  "lag ms: how far the writers fell behind their schedule on average (pgbench); high means the machine was saturated\n",
  (["reader", "rate/s", "writer tx/s", "lag ms", "rows", "p50 us", "p99 us", "p99.9 us", "max us", "p99/libpq", "p99/node-pg", "reader CPU"] | @tsv),
  (.points[] | [name, .rate, .writer_tps, (.schedule_lag_ms // "-"), "\(.delivered)/\(.expected)\(if .ok then "" else " !" end)",
     (.latency_us // {} | .p50, .p99, .p999, .max | . // "-"), (.ratio_p99_vs_libpq | x),
     (.ratio_p99_vs_node_pg | x), (if .reader_cpu_pct then "\(.reader_cpu_pct)%" else "-" end)] | map(tostring) | @tsv),
  "\nratios p50 / p99 / p99.9 / max",
  (["reader", "rate/s", "vs libpq", "vs node-pg"] | @tsv),
  (.points[] | [name, .rate,
     (.ratios_vs_libpq // {} | [.p50, .p99, .p999, .max] | map(x) | join(" / ")),
     (.ratios_vs_node_pg // {} | [.p50, .p99, .p999, .max] | map(x) | join(" / "))] | map(tostring) | @tsv),
  "\ntargets (reported, not asserted):",
  (.targets[] | "  \(.target): \(.value_us // "-") us, \(if .met == null then "not measured" elif .met then "met" else "MISSED" end)"),
  (if (.failures | length) > 0 then "\nWARNING: " + (.failures | join("; ")) else empty end)' "$OUT" |
  awk -F'\t' 'NF < 3 { print; next }
    NF == 4 { printf "%-28s %6s  %-38s %s\n", $1, $2, $3, $4; next }
    { printf "%-28s %6s %11s %7s %13s %7s %7s %8s %8s %9s %11s %10s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
echo "results: $OUT"
# A point without any measurement means a reader could not run: that fails the benchmark.
jq -e '[.points[] | select(.latency_us == null)] | length == 0' "$OUT" >/dev/null ||
  { echo "some readers did not run" >&2; exit 1; }
