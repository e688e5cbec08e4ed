#!/usr/bin/env bash
# Workload d (fan-out) and the gateway figures: memory per idle WebSocket connection at N
# clients, and deliveries/s with latency for 1 .. 10,000 subscribed clients while a writer
# commits inserts at a fixed rate. The load comes from bench/tools/ws_load (one process, one
# loop, reports its own CPU), the gateway's CPU and RSS from /proc.
#
#   bench/fanout.sh                 # full: idle 10000; the points of FANOUT below, 10 s each
#   BENCH_SMOKE=1 bench/fanout.sh   # tiny: idle 200; 1 and 20 clients, 1 s each
#
# A point is clients:changes per second:rows per transaction:transport. The demand (clients x
# changes/s) is 2,000 to 1,000,000 deliveries/s; transactions of 10 rows keep the writer's own
# cost (pgbench and its backend share the 2 cores) small where the rate is high. Transport
# `batch` is /ws?batch=1 (what the browser client uses), `plain` one message per frame.
#
# Environment: PGPULSE_BIN (default build/pgpulse), WS_LOAD_BIN (default build/ws_load; both are
# built first unless BENCH_NO_BUILD=1), BENCH_IDLE, BENCH_FANOUT (points), BENCH_SECONDS
# (per fan-out point), BENCH_OUT (default bench/results/fanout.json; smoke: results/tmp/).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  IDLE=${BENCH_IDLE:-200} FANOUT=${BENCH_FANOUT:-"1:500:1:batch 20:500:10:plain"}
  SECONDS_PER=${BENCH_SECONDS:-1} IDLE_SECONDS=2 OUT=${BENCH_OUT:-$HERE/results/tmp/fanout.json}
else
  IDLE=${BENCH_IDLE:-10000}
  FANOUT=${BENCH_FANOUT:-"1:2000:1:batch 100:2000:10:plain 100:2000:10:batch 1000:1000:10:batch 10000:100:1:batch"}
  SECONDS_PER=${BENCH_SECONDS:-10} IDLE_SECONDS=3 OUT=${BENCH_OUT:-$HERE/results/fanout.json}
fi
PGPULSE_BIN=${PGPULSE_BIN:-build/pgpulse}
WS_LOAD_BIN=${WS_LOAD_BIN:-build/ws_load}

if [ "${BENCH_IN_SANDBOX:-}" != 1 ]; then
  scripts/bootstrap.sh jq
  [ "${BENCH_NO_BUILD:-0}" = 1 ] || cmake --build "${BUILD:-build}" --target pgpulse_cli ws_load >/dev/null
  BENCH_IN_SANDBOX=1 exec scripts/pg-sandbox.sh run "$0" "$@"
fi

DB=$PGPULSE_TEST_DB
PGBENCH=$PGPULSE_TEST_PGBIN/pgbench
TMP=$(mktemp -d /tmp/pgpulse-fanout.XXXXXX)
gateway=""
cleanup() { if [ -n "$gateway" ]; then kill "$gateway" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
source "$HERE/lib.sh"

psql -q "$DB" -c "CREATE TABLE bench (id bigserial PRIMARY KEY, room int, body text)"
"$PGPULSE_BIN" install --db "$DB" bench >/dev/null
start_gateway "$DB" "$TMP/gateway.log" --max-clients 100000 ||
  { echo "serve did not start: $(tail -c 300 "$TMP/gateway.log")" >&2; exit 1; }

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$gateway/status"; }

# 1. Memory per idle connection.
base=$(rss_kb)
"$WS_LOAD_BIN" --port "$port" --clients "$IDLE" --idle --seconds "$IDLE_SECONDS" >"$TMP/idle.json" 2>"$TMP/idle.err" &
load=$!
until grep -q '^ready$' "$TMP/idle.err" 2>/dev/null || ! kill -0 $load 2>/dev/null; do sleep 0.2; done
sleep 1
loaded=$(rss_kb)
wait $load
per_conn=$(( (loaded - base) * 1024 / IDLE ))
echo "idle: $IDLE connections, gateway RSS ${base} kB -> ${loaded} kB: $per_conn bytes per connection" >&2

# 2. Fan-out: N subscribed clients while a writer commits changes at a fixed rate.
dropped_total() {
  curl -sf "http://127.0.0.1:$port/metrics" | awk '/^pgpulse_clients_dropped_slow_total/ {print $2}'
}
results=()
for point in $FANOUT; do
  IFS=: read -r n rate rows transport <<<"$point"
  flags=()
  [ "$transport" = batch ] && flags+=(--batch)
  echo "INSERT INTO bench (room, body) SELECT 1, repeat('x', 40) FROM generate_series(1, $rows);" \
    >"$TMP/insert.sql"
  "$WS_LOAD_BIN" --port "$port" --clients "$n" --table bench --seconds "$SECONDS_PER" "${flags[@]}" \
    >"$TMP/fan.json" 2>"$TMP/fan.err" &
  load=$!
  until grep -q '^ready$' "$TMP/fan.err" 2>/dev/null || ! kill -0 $load 2>/dev/null; do sleep 0.1; done
  t0=$(cpu_ticks "$gateway") dropped0=$(dropped_total)
  "$PGBENCH" -n -f "$TMP/insert.sql" -c 1 -R "$((rate / rows))" -T "$SECONDS_PER" "$DB" \
    >"$TMP/pgbench.out" 2>&1 || true
  rss=$(rss_kb)
  wait $load
  t1=$(cpu_ticks "$gateway") dropped1=$(dropped_total)
  gw_cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v s="$SECONDS_PER" 'BEGIN {printf "%.1f", 100 * t / hz / s}')
  row=$(jq -c --argjson n "$n" --argjson rate "$rate" --argjson rows "$rows" --arg transport "$transport" \
    --argjson gw_cpu "$gw_cpu" --argjson rss "$rss" --argjson dropped "$((dropped1 - dropped0))" \
    '{clients: $n, transport: $transport, write_rate: $rate, rows_per_tx: $rows,
      demand_per_s: ($n * $rate), deliveries_per_s, delivered_share: ((.deliveries_per_s / ($n * $rate) * 100 | round) / 100),
      latency_ms, tool_cpu_pct, gateway_cpu_pct: $gw_cpu, gateway_rss_kb: $rss, clients_dropped: $dropped}' \
    "$TMP/fan.json")
  echo "fan-out $point: $row" >&2
  results+=("$row")
done

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "${results[@]}" | jq -s --argjson idle "$IDLE" --argjson per "$per_conn" \
  --arg host "$(uname -srm), $(nproc) cores" --arg date "$(date -u +%FT%TZ)" \
  '{workload: "d: fan-out", date: $date, host: $host, idle_clients: $idle,
    gateway_bytes_per_idle_connection: $per, fanout: .}' >"$OUT"
jq -r '"\nfan-out: idle \(.idle_clients) clients cost \(.gateway_bytes_per_idle_connection) bytes each",
  (.fanout[] | "  \(.clients) clients (\(.transport)), \(.write_rate) changes/s: \(.deliveries_per_s) deliveries/s (\(.delivered_share) of demand), p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, gateway CPU \(.gateway_cpu_pct)%, tool CPU \(.tool_cpu_pct)%, dropped \(.clients_dropped)")' "$OUT"
echo "results: $OUT"
