#!/usr/bin/env bash
# Benchmark workload b, "durable throughput" (pgpulse watch, and the gateway):
#  (i) catch-up: how fast one reader delivers a backlog of N changes written while no reader
#      ran, against the raw libpq listener draining N notifications with the same rows as the
#      tutorial trigger's payloads (bench/build/libpq_listener, built by listener_drain.sh);
# (ii) live: 1, 2 and 8 pgbench writers insert single rows for T seconds while `pgpulse watch`
#      prints them, or while `pgpulse serve` sends them to one WebSocket client (tools/ws_load,
#      /ws?batch=1), with NOTIFY wake-ups and with polling: writer tx/s, events/s delivered, and
#      the lag after the writers stop until the reader has every committed change.
#
#   bench/durable_throughput.sh          # N=200000, T=8 s, 3 catch-up runs, ~2 min
#   BENCH_SMOKE=1 bench/durable_throughput.sh   # N=2000, T=1 s, 2 clients: checks it works
#
# Catch-up method: 2000 transactions of 100 rows (N/100 in general) go into a captured table
# from one psql script while no reader runs. Then `pgpulse watch --from beginning --limit N`
# is timed from start to exit (start-up, connecting and sequencing the backlog included,
# nothing subtracted), its file must hold N lines with N distinct rows. The first run also
# gives the backlog its commit order (pgpulse.commit_order), later runs only read: both are
# reported. The reference is timed like listener_drain.sh times it: frozen while the N
# notifications are queued in one transaction, timed from the resume to its exit.
# Runs go round-robin over the two; the best run counts. Then the same N changes are written
# by one statement (one transaction) and read once the same way: paging through one large
# transaction is a different path from paging through many small ones.
#
# Environment: PGPULSE_BIN (default build/pgpulse), WS_LOAD_BIN (default build/ws_load; without
# it the gateway points are left out), BENCH_READERS ("watch gateway"), BENCH_REPS (catch-up runs: 3),
# BENCH_SECONDS (8 per live point; smoke 1), BENCH_CLIENTS ("1 2 8"; smoke "2"), BENCH_MODES
# ("notify poll"), BENCH_TIMEOUT (120 s for any one run or lag), BENCH_OUT (default
# bench/results/durable_throughput.json; smoke runs go to bench/results/tmp/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"  # PGPULSE_BIN is relative to the repository root.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then  # quick check that everything runs; not a result to keep
  N=${1:-2000} REPS=${BENCH_REPS:-1} SECS=${BENCH_SECONDS:-1} CLIENTS=${BENCH_CLIENTS:-2}
  OUT=${BENCH_OUT:-$HERE/results/tmp/durable_throughput.json}
else
  N=${1:-200000} REPS=${BENCH_REPS:-3} SECS=${BENCH_SECONDS:-8} CLIENTS=${BENCH_CLIENTS:-1 2 8}
  OUT=${BENCH_OUT:-$HERE/results/durable_throughput.json}
fi
MODES=${BENCH_MODES:-notify poll}
TIMEOUT=${BENCH_TIMEOUT:-120}
READERS=${BENCH_READERS:-watch gateway}
PGPULSE_BIN=${PGPULSE_BIN:-build/pgpulse}
WS_LOAD_BIN=${WS_LOAD_BIN:-build/ws_load}
BUILD=$HERE/build
ROWS_PER_TX=100

# Outside the sandbox: check the tools, then re-run inside a throwaway PostgreSQL.
if [ -z "${PGPULSE_TEST_DB:-}" ] || [ "${BENCH_IN_SANDBOX:-}" != 1 ]; then
  scripts/bootstrap.sh jq
  [ -x "$PGPULSE_BIN" ] || { echo "$PGPULSE_BIN is missing: ninja -C build pgpulse_cli" >&2; exit 1; }
  ((N % ROWS_PER_TX == 0)) || { echo "N must be a multiple of $ROWS_PER_TX" >&2; exit 2; }
  BENCH_IN_SANDBOX=1 exec scripts/pg-sandbox.sh run "$HERE/durable_throughput.sh" "$N"
fi

URL=$PGPULSE_TEST_DB
PGBENCH=$PGPULSE_TEST_PGBIN/pgbench
TMP=$(mktemp -d /tmp/pgpulse-bench.XXXXXX)
chmod 755 "$TMP"
bg_pid=""  # the watcher, the gateway's client or the drain timer, whichever runs now
gateway=""  # pgpulse serve of a gateway point (start_gateway, lib.sh)
# (A failed kill must not stop the cleanup: set -e also holds in this trap.)
cleanup() {
  for pid in $bg_pid $gateway; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$HERE/lib.sh"
PGPULSE_BUILT=$(copy_binary "$PGPULSE_BIN" "$TMP" pgpulse --version)
PGPULSE_BIN=$TMP/pgpulse
if [[ " $READERS " == *" gateway "* ]]; then
  if [ -x "$WS_LOAD_BIN" ]; then
    copy_binary "$WS_LOAD_BIN" "$TMP" ws_load --clients 0 --seconds 0 >/dev/null
    WS_LOAD_BIN=$TMP/ws_load
  else
    echo "  no $WS_LOAD_BIN (ninja -C build ws_load): the gateway points are left out" >&2
    READERS=${READERS//gateway/}
  fi
fi
RUNS=$TMP/runs.jsonl  # one JSON object per measurement
: >"$RUNS"

LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)  # other work on the machine, for the record
ms_since() { echo $((($(now_us) - $1) / 1000)); }  # start_us

# ~100-byte rows, as in write_cost.sh.
TABLE_SQL='CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, amount numeric, note text);'
ROWS_SQL="INSERT INTO orders (customer, amount, note) SELECT i % 100000 + 1, round((random() * 1000)::numeric, 2), 'order note ' || md5(random()::text) || ' for ' || i FROM generate_series(1, $ROWS_PER_TX) AS i;"
cat >"$TMP/insert.pgbench" <<'SQL'
\set customer random(1, 100000)
INSERT INTO orders (customer, amount, note) VALUES (:customer, round((random() * 1000)::numeric, 2), 'order note ' || md5(random()::text) || ' for ' || :customer);
SQL
# What the tutorial trigger would have sent for each row (the reference's payloads).
TUTORIAL_PAYLOAD="json_build_object('table', 'orders', 'op', 'INSERT', 'record', row_to_json(o))::text"

reset_capture() {  # wake-up mode: empty orders table, fresh pgpulse schema with that mode
  if [ "$(psql_q -c "SELECT to_regnamespace('pgpulse') IS NOT NULL")" = t ]; then
    "$PGPULSE_BIN" uninstall --db "$URL" >/dev/null
  fi
  psql_q -c 'DROP TABLE IF EXISTS orders' -c "$TABLE_SQL"
  "$PGPULSE_BIN" install --db "$URL" --wakeup "$1" orders >/dev/null
  psql_q -c CHECKPOINT
}

POSTMASTER=$(head -1 "$PGPULSE_TEST_PGDATA/postmaster.pid")  # its children: the backends

# --- (i) catch-up ------------------------------------------------------------------------

catchup_pgpulse() {  # rep [name: pgpulse, or pgpulse-one-tx for the one-transaction log]
  local name=${2:-pgpulse} out=$TMP/catchup.out err=$TMP/catchup.err times=$TMP/catchup.time server0 server1
  wait_backends_gone pgpulse
  server0=$(cpu_s "$POSTMASTER" children)
  local TIMEFORMAT='%R %U %S' rc=0
  { time timeout "$TIMEOUT" "$PGPULSE_BIN" watch --db "$URL" --from beginning --limit "$N" \
      >"$out" 2>"$err"; } 2>"$times" || rc=$?
  wait_backends_gone pgpulse
  server1=$(cpu_s "$POSTMASTER" children)
  local lines distinct note="" wall user sys
  read -r wall user sys <"$times"
  lines=$(wc -l <"$out")
  distinct=$(jq -r '.new.id' "$out" | sort -u | wc -l)
  if ((rc != 0)); then note="exit $rc: $(tail -c 300 "$err" | tr '\n' ' ')"
  elif ((lines != N)); then note="printed $lines lines, expected $N"
  elif ((distinct != N)); then note="$distinct distinct rows in $N lines"
  fi
  [ -n "$note" ] && echo "  $name catch-up run $1 FAILED: $note" >&2
  jq -nc --arg name "$name" --argjson rep "$1" --argjson wall "$wall" --argjson user "$user" --argjson sys "$sys" \
    --argjson server "$(awk "BEGIN { print $server1 - $server0 }")" --arg note "$note" \
    --argjson bytes "$(stat -c %s "$out")" '{kind: "catchup", reader: $name, rep: $rep,
      wall_s: $wall, client_cpu_s: ($user + $sys), server_cpu_s: $server, output_bytes: $bytes,
      ok: ($note == ""), note: $note}' >>"$RUNS"
  printf '  catch-up run %d: %s %6.2f s wall, %5.2f s its CPU, ~%5.2f s server CPU\n' \
    "$1" "$name" "$wall" "$(awk "BEGIN { print $user + $sys }")" \
    "$(awk "BEGIN { print $server1 - $server0 }")" >&2
  rm -f "$out"
}

catchup_libpq() {  # rep: listener_drain.sh's method, with the tutorial trigger's payloads
  local ch="bench_catchup_$1_$$" res=$TMP/libpq.json err=$TMP/libpq.err note=""
  "$BUILD/drain_timer" "$res" "$TIMEOUT" "$BUILD/libpq_listener" "$URL" "$ch" "$N" \
    >/dev/null 2>"$err" &
  bg_pid=$!
  local deadline=$((SECONDS + 20))
  until grep -qx ready "$err"; do
    if ! kill -0 "$bg_pid" 2>/dev/null || ((SECONDS >= deadline)); then note="never ready"; break; fi
    sleep 0.02
  done
  if [ -z "$note" ]; then
    kill -USR1 "$bg_pid"
    psql_q -v ch="$ch" <<<"SELECT count(pg_notify(:'ch', $TUTORIAL_PAYLOAD)) FROM orders o;" >/dev/null
    kill -USR2 "$bg_pid"
  else
    kill "$bg_pid" 2>/dev/null || true
  fi
  wait "$bg_pid" || true
  bg_pid=""
  [ -s "$res" ] || echo '{}' >"$res"
  [ -z "$note" ] && note=$(jq -r 'if .timed_out then "timed out" elif .exit_code != 0 then
    "exit \(.exit_code)" else "" end' "$res")
  [ -n "$note" ] && echo "  libpq catch-up run $1 FAILED: $note $(tail -c 200 "$err")" >&2
  jq -c --argjson rep "$1" --arg note "$note" '{kind: "catchup", reader: "libpq", rep: $rep,
    wall_s: (.wall_us / 1e6), client_cpu_s: (.cpu_us / 1e6), ok: ($note == ""), note: $note}' \
    "$res" >>"$RUNS"
  printf '  catch-up run %d: libpq listener %6.2f s wall (drain only)\n' "$1" "$(jq .wall_us/1e6 "$res")" >&2
}

echo "durable throughput: N=$N, $REPS catch-up run(s), live ${SECS} s with clients $CLIENTS," \
  "modes $MODES, PostgreSQL at $URL" >&2
reset_capture notify
fill_start=$(now_us)
for _ in $(seq 1 $((N / ROWS_PER_TX))); do echo "$ROWS_SQL"; done | psql_q
fill_ms=$(ms_since "$fill_start")
logged=$(psql_q -c 'SELECT count(*) FROM pgpulse.changes')
((logged == N)) || { echo "the change log holds $logged changes, expected $N" >&2; exit 1; }
echo "  filled the log: $N changes in $((N / ROWS_PER_TX)) transactions, $fill_ms ms" >&2
have_libpq=0
[ -x "$BUILD/libpq_listener" ] && [ -x "$BUILD/drain_timer" ] && have_libpq=1
((have_libpq)) || echo "  no $BUILD/libpq_listener: run bench/listener_drain.sh once to build it" >&2
for rep in $(seq 1 "$REPS"); do
  catchup_pgpulse "$rep"
  if ((have_libpq)); then catchup_libpq "$rep"; fi
done
payload_bytes=$(psql_q -c "SELECT round(avg(octet_length($TUTORIAL_PAYLOAD))) FROM orders o")
# The same number of changes from one transaction (one bulk statement): the reader pages
# through a single transaction instead of many small ones. One run.
reset_capture notify
psql_q -c "${ROWS_SQL/generate_series(1, $ROWS_PER_TX)/generate_series(1, $N)}"
catchup_pgpulse 1 pgpulse-one-tx

# --- (ii) live end to end ----------------------------------------------------------------

# The reader of a live point, started before the writers; when it is ready, sets reader_pid
# (the process whose CPU counts) and reader_backends (its server backends).
start_watch_reader() {  # out err
  "$PGPULSE_BIN" watch --db "$URL" --from beginning >"$1" 2>"$2" &
  bg_pid=$! reader_pid=$!
  local deadline=$((SECONDS + 20))
  until watch_idle '%'; do
    if ! kill -0 "$bg_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "watch did not start: $(tail -c 300 "$2")" >&2
      exit 1
    fi
    sleep 0.05
  done
  reader_backends=$(reader_backend)
}

start_gateway_reader() {  # out err: pgpulse serve, and one batched WebSocket client of it
  start_gateway "$URL" "$TMP/gateway.log" ||
    { echo "serve did not start: $(tail -c 300 "$TMP/gateway.log")" >&2; exit 1; }
  # It counts until SIGTERM, then prints what it got as JSON.
  "$WS_LOAD_BIN" --port "$port" --clients 1 --table orders --batch \
    --seconds $((SECS * 3 + TIMEOUT + 60)) >"$1" 2>"$2" &
  bg_pid=$!
  local deadline=$((SECONDS + 20))
  until grep -qx ready "$2"; do
    if ! kill -0 "$bg_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "the WebSocket client did not get ready: $(tail -c 300 "$2")" >&2
      exit 1
    fi
    sleep 0.02
  done
  reader_pid=$gateway
  reader_backends=$(reader_backend)
}

delivered() {  # reader out: how many events the reader has so far
  if [ "$1" = watch ]; then
    wc -l <"$2"
  else  # the gateway counts the events it wrote to its one client
    curl -sf "http://127.0.0.1:$port/metrics" |
      awk '$1 == "pgpulse_events_out_total" { n = $2 } END { printf "%d\n", n }'
  fi
}

live_point() {  # reader mode clients
  local reader=$1 mode=$2 clients=$3 out=$TMP/live.out err=$TMP/live.err log=$TMP/pgbench.log note=""
  local reader_pid="" reader_backends=""
  reset_capture "$mode"
  # Watch reads from the beginning of the (empty) log, so nothing depends on when it took its
  # snapshot; the WebSocket client subscribes (from now) before any writer starts.
  "start_${reader}_reader" "$out" "$err"
  local c0 b0 c1 b1 threads=$((clients < $(nproc) ? clients : $(nproc)))
  # shellcheck disable=SC2086  # one pid per word
  c0=$(cpu_s "$reader_pid") b0=$(backends_cpu_s $reader_backends)
  local start; start=$(now_us)
  "$PGBENCH" -n -M prepared -T "$SECS" -c "$clients" -j "$threads" -f "$TMP/insert.pgbench" "$URL" \
    >"$log" 2>&1 || { echo "pgbench failed ($mode, $clients clients):" >&2; cat "$log" >&2; exit 1; }
  local stop; stop=$(now_us)
  # One change per transaction; pgbench's own count keeps a psql start-up out of the lag.
  local committed at_stop
  committed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$log")
  at_stop=$(delivered "$reader" "$out")
  local deadline=$((SECONDS + TIMEOUT))
  while (($(delivered "$reader" "$out") < committed)); do
    ((SECONDS < deadline)) || { note="only $(delivered "$reader" "$out") of $committed after ${TIMEOUT} s"; break; }
    kill -0 "$reader_pid" 2>/dev/null || { note="$reader died: $(tail -c 300 "$err")"; break; }
    sleep 0.01
  done
  local done_us; done_us=$(now_us)
  # shellcheck disable=SC2086
  c1=$(cpu_s "$reader_pid") b1=$(backends_cpu_s $reader_backends)
  kill "$bg_pid" 2>/dev/null || true
  wait "$bg_pid" || true
  bg_pid=""
  local lines logged
  if [ "$reader" = watch ]; then
    lines=$(wc -l <"$out")
  else  # what the client itself counted (it printed that when told to stop)
    lines=$(jq -r '.deliveries // 0' "$out" 2>/dev/null || echo 0)
    kill "$gateway" 2>/dev/null || true
    wait "$gateway" || true
    gateway=""
  fi
  logged=$(psql_q -c 'SELECT count(*) FROM pgpulse.changes')
  if [ -z "$note" ] && ((logged != committed)); then
    note="pgbench committed $committed transactions, the log holds $logged changes"
  elif [ -z "$note" ] && ((lines != committed)); then
    note="the reader got $lines events for $committed changes"
  fi
  [ -n "$note" ] && echo "  live $reader $mode $clients FAILED: $note" >&2
  local tps; tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$log")
  jq -nc --arg reader "$reader" --arg mode "$mode" --argjson clients "$clients" --argjson secs "$SECS" \
    --argjson tps "$tps" --argjson committed "$committed" --argjson at_stop "$at_stop" \
    --argjson write_us $((stop - start)) --argjson total_us $((done_us - start)) \
    --argjson lag_us $((done_us - stop)) --arg note "$note" \
    --argjson cpu "$(awk "BEGIN { print $c1 - $c0 }")" --argjson bcpu "$(awk "BEGIN { print $b1 - $b0 }")" '
    {kind: "live", reader: $reader, mode: $mode, clients: $clients, seconds: $secs, writer_tps: $tps,
     committed: $committed, delivered_at_writers_stop: $at_stop,
     events_per_s: ($committed / $total_us * 1e6 | round),
     events_per_s_while_writing: ($at_stop / $write_us * 1e6 | round),
     lag_ms: ($lag_us / 1000 | round),
     reader_cpu_pct: ($cpu / $total_us * 1e8 | round), backend_cpu_pct: ($bcpu / $total_us * 1e8 | round),
     ok: ($note == ""), note: $note}' | tee -a "$RUNS" |
    jq -r '"  live \(.reader) \(.mode) \(.clients) client(s): \(.writer_tps | round) tx/s written, \(.events_per_s) events/s delivered, lag \(.lag_ms) ms"' >&2
  rm -f "$out"
}

for clients in $CLIENTS; do
  for reader in $READERS; do
    for mode in $MODES; do live_point "$reader" "$mode" "$clients"; done
  done
done

# --- summary -----------------------------------------------------------------------------

mkdir -p "$(dirname "$OUT")"
jq -s --argjson n "$N" --argjson reps "$REPS" --argjson secs "$SECS" --argjson fill_ms "$fill_ms" \
  --argjson per_tx "$ROWS_PER_TX" --argjson payload "$payload_bytes" \
  --arg date "$(date -u +%FT%TZ)" --arg host "$(uname -srm), $(nproc) cores" \
  --arg load "$LOAD_BEFORE -> $(cut -d" " -f1-3 /proc/loadavg)" \
  --arg server "$(psql_q -c 'SHOW server_version')" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo none)" --arg built "$PGPULSE_BUILT" '
  def ratio(a; b): if a and b then (a / b * 100 | round) / 100 else null end;
  def r3: . * 1000 | round / 1000;
  (map(select(.kind == "catchup" and .ok)) | group_by(.reader) | map({key: .[0].reader, value: {
     wall_s: (map(.wall_s) | min | r3), first_run_wall_s: (min_by(.rep) | .wall_s | r3),
     events_per_s: ($n / (map(.wall_s) | min) | round),
     client_cpu_us_per_event: ((map(.client_cpu_s) | min) / $n * 1e6 * 100 | round / 100),
     server_cpu_s: (map(.server_cpu_s // empty) | if length > 0 then min | r3 else null end),
     output_bytes_per_event: ((.[0].output_bytes // null) | if . then (. / $n | round) else null end),
     ok_runs: length}}) | from_entries) as $best
  | {workload: "b: durable throughput (pgpulse watch, and the gateway to one WebSocket client)", n: $n,
     catchup_runs: $reps, statistic: "best of runs", live_seconds: $secs,
     fill: {transactions: ($n / $per_tx), rows_per_transaction: $per_tx, ms: $fill_ms},
     reference_payload_bytes: $payload, date: $date, host: $host, load_average: $load, postgresql: $server,
     commit: $commit, pgpulse_built: $built,
     catchup: ($best | to_entries | map({reader: .key} + .value
       + {rate_vs_libpq: ratio(.value.events_per_s; $best.libpq.events_per_s)})),
     live: map(select(.kind == "live")),
     failures: [.[] | select(.ok == false) | .note],
     runs: .}' "$RUNS" >"$OUT"

jq -r '
  "\ndurable throughput: \(.host), PostgreSQL \(.postgresql)",
  "load average (1, 5, 15 min) at start -> end: \(.load_average) (other work on this machine skews every figure)",
  "\n(i) catch-up: \(.n) changes in \(.fill.transactions) transactions of \(.fill.rows_per_transaction) rows (written in \(.fill.ms) ms), best of \(.catchup_runs)",
  (["reader", "wall s", "first run s", "events/s", "client CPU us/ev", "server CPU s", "vs libpq"] | @tsv),
  (.catchup | sort_by({"libpq": 0, "pgpulse": 1}[.reader] // 2)[]
   | [{"libpq": "raw libpq listener, drain only", "pgpulse": "pgpulse watch --from beginning",
       "pgpulse-one-tx": "the same, all in one transaction"}[.reader] // .reader,
     .wall_s, .first_run_wall_s, .events_per_s, .client_cpu_us_per_event, (.server_cpu_s // "-"),
     (.rate_vs_libpq // "-")] | map(tostring) | @tsv),
  "\n(ii) live: single-row INSERT writers for \(.live_seconds) s while pgpulse watch prints to a file, or the gateway sends to one WebSocket client",
  (["reader", "mode", "clients", "writer tx/s", "events/s", "while writing", "lag ms", "reader CPU", "backend CPU"] | @tsv),
  (.live[] | [(.reader // "watch"), .mode, .clients, (.writer_tps | round), .events_per_s, .events_per_s_while_writing,
     .lag_ms, "\((.reader_cpu_pct // .watch_cpu_pct))%", "\(.backend_cpu_pct)%"] | map(tostring) | @tsv),
  (if (.failures | length) > 0 then "\nFAILED: " + (.failures | join("; ")) else empty end)' "$OUT" |
  awk -F'\t' 'NF < 2 { print; next }
    NF == 9 { printf "%-8s %-7s %8s %12s %10s %14s %8s %10s %12s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9; next }
    { if ($7 ~ /^[0-9.]+$/) $7 = sprintf("%.2fx", $7)
      printf "%-33s %7s %12s %10s %17s %13s %9s\n", $1, $2, $3, $4, $5, $6, $7 }'
echo "results: $OUT"
jq -e '.failures | length == 0' "$OUT" >/dev/null || { echo "some runs failed" >&2; exit 1; }
