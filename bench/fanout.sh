#!/usr/bin/env bash
# Workload d (fan-out) and the gateway figures: memory per idle WebSocket connection at N
# clients, and deliveries/s with p99 latency for 1 .. N subscribed clients while a writer
# commits single-row inserts. The load comes from bench/tools/ws_load (one process, one loop,
# reports its own CPU), the gateway's CPU and RSS from /proc.
#
#   bench/fanout.sh                 # full: idle 10000; fan-out 1, 100, 1000 clients, 10 s each
#   BENCH_SMOKE=1 bench/fanout.sh   # tiny: idle 200; fan-out 1, 20, 1 s each
#
# Environment: PGPULSE_BIN (default build/pgpulse), WS_LOAD_BIN (default build/ws_load; both are
# built first unless BENCH_NO_BUILD=1), BENCH_IDLE, BENCH_FANOUT, BENCH_RATE, BENCH_SECONDS
# (per fan-out point), BENCH_OUT (default bench/results/fanout.json; smoke: results/tmp/).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  IDLE=${BENCH_IDLE:-200} FANOUT=${BENCH_FANOUT:-"1 20"} SECONDS_PER=${BENCH_SECONDS:-1}
  RATE=${BENCH_RATE:-500} IDLE_SECONDS=2 OUT=${BENCH_OUT:-$HERE/results/tmp/fanout.json}
else
  IDLE=${BENCH_IDLE:-10000} FANOUT=${BENCH_FANOUT:-"1 100 1000"} SECONDS_PER=${BENCH_SECONDS:-10}
  RATE=${BENCH_RATE:-2000} IDLE_SECONDS=3 OUT=${BENCH_OUT:-$HERE/results/fanout.json}
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
gateway_pid=""
cleanup() { if [ -n "$gateway_pid" ]; then kill "$gateway_pid" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT

psql -q "$DB" -c "CREATE TABLE bench (id bigserial PRIMARY KEY, room int, body text)"
"$PGPULSE_BIN" install --db "$DB" bench >/dev/null
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$PGPULSE_BIN" serve --db "$DB" --listen "127.0.0.1:$port" --log-level warning --max-clients 100000 \
  2>"$TMP/gateway.log" &
gateway_pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$gateway_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gateway_pid/stat"; }
hz=$(getconf CLK_TCK)

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

# 2. Fan-out: N subscribed clients while a writer commits RATE single-row inserts per second.
printf 'INSERT INTO bench (room, body) VALUES (1, repeat(%s, 40));\n' "'x'" >"$TMP/insert.sql"
results=()
for n in $FANOUT; do
  "$WS_LOAD_BIN" --port "$port" --clients "$n" --table bench --seconds "$SECONDS_PER" \
    >"$TMP/fan.json" 2>"$TMP/fan.err" &
  load=$!
  until grep -q '^ready$' "$TMP/fan.err" 2>/dev/null || ! kill -0 $load 2>/dev/null; do sleep 0.1; done
  t0=$(cpu_ticks)
  "$PGBENCH" -n -f "$TMP/insert.sql" -c 1 -R "$RATE" -T "$SECONDS_PER" "$DB" >"$TMP/pgbench.out" 2>&1 || true
  wait $load
  t1=$(cpu_ticks)
  gw_cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$SECONDS_PER" 'BEGIN {printf "%.1f", 100 * t / hz / s}')
  row=$(jq -c --argjson n "$n" --argjson rate "$RATE" --argjson gw_cpu "$gw_cpu" \
    '{clients: $n, write_rate: $rate, deliveries_per_s, latency_ms, tool_cpu_pct, gateway_cpu_pct: $gw_cpu}' "$TMP/fan.json")
  echo "fan-out $n: $row" >&2
  results+=("$row")
done

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "${results[@]}" | jq -s --argjson idle "$IDLE" --argjson per "$per_conn" \
  --arg host "$(uname -srm), $(nproc) cores" --arg date "$(date -u +%FT%TZ)" \
  '{workload: "d: fan-out", date: $date, host: $host, idle_clients: $idle,
    gateway_bytes_per_idle_connection: $per, fanout: .}' >"$OUT"
jq -r '"\nfan-out (writer at \(.fanout[0].write_rate)/s): idle \(.idle_clients) clients cost \(.gateway_bytes_per_idle_connection) bytes each",
  (.fanout[] | "  \(.clients) clients: \(.deliveries_per_s) deliveries/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, gateway CPU \(.gateway_cpu_pct)%, tool CPU \(.tool_cpu_pct)%")' "$OUT"
echo "results: $OUT"
