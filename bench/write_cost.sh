#!/usr/bin/env bash
# Benchmark workload e, "write cost": what change capture costs the writers. The same writes
# run against one table with no trigger, with the tutorial trigger (a row trigger that sends
# the row with pg_notify) and with pgpulse capture in both wake-up modes; every figure is also
# given as a ratio to the no-trigger and tutorial rows of the same run.
#
#   bench/write_cost.sh            # 8 s per pgbench point, 100k-row bulk statements, ~7 min
#   BENCH_SMOKE=1 bench/write_cost.sh   # 2 clients, 1 s, 2000-row INSERT ... SELECT only, one run:
#                                       # checks it works
#
# Measured per variant, always with that variant's reader running (so NOTIFY has a real
# listener): pgbench transactions/s of single-row INSERTs with 1, 2 and 8 clients, and the time
# of one INSERT ... SELECT of ROWS rows, then one UPDATE and one DELETE of all of them (psql's
# \timing: statement and commit). Every point starts from an empty table and an empty change
# log, a VACUUM and a CHECKPOINT. Points go round-robin over the variants, so drift hits all
# alike; the best of the runs counts (highest tps, lowest time). CPU per transaction is also
# given, as it drifts less than throughput on a shared machine: the writers' backends (what
# the postmaster reaps from them) and the reader with its backend (from /proc).
#
# Environment: PGPULSE_BIN (default build/pgpulse), BENCH_SECONDS (8 per pgbench point),
# BENCH_CLIENTS ("1 2 8"; smoke "2"), BENCH_ROWS (100000), BENCH_REPS (bulk runs: 3),
# BENCH_TPS_REPS (pgbench runs per point: 2), BENCH_VARIANTS (comma list, default all),
# BENCH_OUT (default bench/results/write_cost.json; smoke runs go to bench/results/tmp/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"  # PGPULSE_BIN is relative to the repository root.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then  # quick check that everything runs; not a result to keep
  SECS=${BENCH_SECONDS:-1} ROWS=${BENCH_ROWS:-2000} REPS=${BENCH_REPS:-1}
  TPS_REPS=${BENCH_TPS_REPS:-1} CLIENTS=${BENCH_CLIENTS:-2} BULK_OPS=(insert_select)
  OUT=${BENCH_OUT:-$HERE/results/tmp/write_cost.json}
else
  SECS=${BENCH_SECONDS:-8} ROWS=${BENCH_ROWS:-100000} REPS=${BENCH_REPS:-3}
  TPS_REPS=${BENCH_TPS_REPS:-2} CLIENTS=${BENCH_CLIENTS:-1 2 8} BULK_OPS=(insert_select update delete)
  OUT=${BENCH_OUT:-$HERE/results/write_cost.json}
fi
PGPULSE_BIN=${PGPULSE_BIN:-build/pgpulse}
VARIANTS=(none tutorial pgpulse-notify pgpulse-poll)

# Outside the sandbox: check the tools, then re-run inside a throwaway PostgreSQL.
if [ -z "${PGPULSE_TEST_DB:-}" ] || [ "${BENCH_IN_SANDBOX:-}" != 1 ]; then
  scripts/bootstrap.sh jq
  [ -x "$PGPULSE_BIN" ] || { echo "$PGPULSE_BIN is missing: ninja -C build pgpulse_cli" >&2; exit 1; }
  BENCH_IN_SANDBOX=1 exec scripts/pg-sandbox.sh run "$HERE/write_cost.sh"
fi

URL=$PGPULSE_TEST_DB
PGBENCH=$PGPULSE_TEST_PGBIN/pgbench
TMP=$(mktemp -d /tmp/pgpulse-bench.XXXXXX)
chmod 755 "$TMP"
reader_pid=""
# (A failed kill must not stop the cleanup: set -e also holds in this trap.)
cleanup() { if [ -n "$reader_pid" ]; then kill "$reader_pid" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
source "$HERE/lib.sh"
PGPULSE_BUILT=$(copy_binary "$PGPULSE_BIN" "$TMP" pgpulse --version)
PGPULSE_BIN=$TMP/pgpulse
RUNS=$TMP/runs.jsonl  # one JSON object per measurement
: >"$RUNS"

LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)  # other work on the machine, for the record

# ~100-byte rows (the script reports the measured average).
TABLE_SQL='CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, amount numeric, note text);'
# The common blog recipe pgpulse replaces, verbatim.
TUTORIAL_SQL=$(cat "$HERE/reference/tutorial_trigger.sql")
# One single-row INSERT per pgbench transaction.
cat >"$TMP/insert.pgbench" <<'SQL'
\set customer random(1, 100000)
INSERT INTO orders (customer, amount, note) VALUES (:customer, round((random() * 1000)::numeric, 2), 'order note ' || md5(random()::text) || ' for ' || :customer);
SQL
# The bulk statements (BULK_OPS, in that order, on a table that starts empty).
declare -A BULK_SQL=(
  [insert_select]="INSERT INTO orders (customer, amount, note) SELECT i % 100000 + 1, round((random() * 1000)::numeric, 2), 'order note ' || md5(i::text) || ' for ' || i FROM generate_series(1, $ROWS) AS i"
  [update]="UPDATE orders SET amount = amount + 1"
  [delete]="DELETE FROM orders"
)

# Back to an empty orders table with the variant's capture on it, and an empty change log.
# (Few processes per reset: each start costs tens of ms when the machine is busy.)
reset_variant() {  # variant
  if [ "$(psql_q -c 'DROP TABLE IF EXISTS orders' -c 'DROP FUNCTION IF EXISTS notify_changes() CASCADE' \
      -c "SELECT to_regnamespace('pgpulse') IS NOT NULL")" = t ]; then
    "$PGPULSE_BIN" uninstall --db "$URL" >/dev/null
  fi
  case $1 in
    none) psql_q -c "$TABLE_SQL" ;;
    tutorial) psql_q -v table=orders <<<"$TABLE_SQL $TUTORIAL_SQL" ;;
    pgpulse-*)
      psql_q -c "$TABLE_SQL"
      "$PGPULSE_BIN" install --db "$URL" --wakeup "${1#pgpulse-}" orders >/dev/null
      ;;
  esac
}

# The variant's reader: LISTEN on the tutorial channel (pgpulse's raw mode: the same client
# as the pgpulse rows, so only the server side differs), or `pgpulse watch` of the log.
start_reader() {  # variant output_file
  local args
  case $1 in
    none) return 0 ;;
    tutorial) args=(--channel record_changes) ;;
    *) args=(--table orders) ;;
  esac
  "$PGPULSE_BIN" watch --db "$URL" "${args[@]}" >"$2" 2>"$TMP/reader.err" &
  reader_pid=$!
  # Ready once its backend is idle (for the tutorial: idle after its LISTEN).
  local like; like=$([ "$1" = tutorial ] && echo 'LISTEN%' || echo '%')
  local deadline=$((SECONDS + 20))
  until watch_idle "$like"; do
    if ! kill -0 "$reader_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "reader for $1 did not start: $(tail -c 300 "$TMP/reader.err")" >&2
      exit 1
    fi
    sleep 0.05
  done
}

stop_reader() {  # variant: fails if the reader died on its own
  [ -n "$reader_pid" ] || return 0
  kill -0 "$reader_pid" 2>/dev/null ||
    { echo "reader for $1 died: $(tail -c 300 "$TMP/reader.err")" >&2; exit 1; }
  kill "$reader_pid"
  wait "$reader_pid" || true
  reader_pid=""
}

POSTMASTER=$(head -1 "$PGPULSE_TEST_PGDATA/postmaster.pid")  # its children: the backends

quiesce() {  # variant: the same starting state before every timed point
  local change_log=()
  [[ $1 == pgpulse-* ]] && change_log=(-c 'VACUUM pgpulse.changes')
  psql_q -c 'VACUUM orders' "${change_log[@]}" -c CHECKPOINT
}

# Until the reader has printed `want` lines (at most 120 s); prints the ms it took.
wait_delivered() {  # file want
  local start=$EPOCHREALTIME deadline=$((SECONDS + 120))
  while (($(wc -l <"$1") < $2)) && ((SECONDS < deadline)); do sleep 0.02; done
  echo $(((${EPOCHREALTIME/./} - ${start/./}) / 1000))
}

pgbench_point() {  # variant clients rep
  local variant=$1 clients=$2 rep=$3 log=$TMP/pgbench.log
  reset_variant "$variant"
  start_reader "$variant" /dev/null
  quiesce "$variant"
  local threads=$((clients < $(nproc) ? clients : $(nproc))) backend=0 c0=0 b0=0 c1=0 b1=0 w0 w1
  if [ -n "$reader_pid" ]; then
    # shellcheck disable=SC2086  # one pid per word
    backend=$(reader_backend) c0=$(cpu_s "$reader_pid") b0=$(backends_cpu_s $backend)
  fi
  w0=$(cpu_s "$POSTMASTER" children)
  "$PGBENCH" -n -M prepared -T "$SECS" -c "$clients" -j "$threads" -f "$TMP/insert.pgbench" "$URL" \
    >"$log" 2>&1 || { echo "pgbench failed ($variant, $clients clients):" >&2; cat "$log" >&2; exit 1; }
  # shellcheck disable=SC2086
  [ -n "$reader_pid" ] && c1=$(cpu_s "$reader_pid") b1=$(backends_cpu_s $backend)
  # The writers' backends end after pgbench disconnects; their CPU counts once reaped.
  wait_backends_gone pgbench
  w1=$(cpu_s "$POSTMASTER" children)
  stop_reader "$variant"
  local tps tx
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$log")
  tx=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$log")
  jq -nc --arg variant "$variant" --argjson clients "$clients" --argjson rep "$rep" \
    --argjson tps "$tps" --argjson tx "$tx" --argjson secs "$SECS" \
    --argjson writers "$(awk "BEGIN { print $w1 - $w0 }")" \
    --argjson client "$(awk "BEGIN { print $c1 - $c0 }")" \
    --argjson backend "$(awk "BEGIN { print $b1 - $b0 }")" '
    def us: . / $tx * 1e6 * 10 | round / 10;
    {kind: "tps", variant: $variant, clients: $clients, rep: $rep, seconds: $secs, tps: $tps,
     transactions: $tx, writer_backends_cpu_us_per_tx: ($writers | us),
     reader_cpu_us_per_tx: ($client + $backend | us), reader_client_cpu_us_per_tx: ($client | us),
     reader_backend_cpu_us_per_tx: ($backend | us),
     reader_cpu_pct_of_a_core: (($client + $backend) / $secs * 100 | round)}' | tee -a "$RUNS" |
    jq -r '"  \(.variant) \(.clients) client(s), run \(.rep): \(.tps | round) tx/s; CPU us per tx:" +
      " writers\u0027 backends \(.writer_backends_cpu_us_per_tx), reader \(.reader_client_cpu_us_per_tx)" +
      " + its backend \(.reader_backend_cpu_us_per_tx)"' >&2
}

bulk_run() {  # variant rep
  local variant=$1 rep=$2 out=$TMP/reader.out op ms want delivered_ms
  reset_variant "$variant"
  start_reader "$variant" "$out"
  for op in "${BULK_OPS[@]}"; do
    quiesce "$variant"
    : >"$out"  # the reader appends; only this statement's lines count
    ms=$(psql_q -c '\timing on' -c "${BULK_SQL[$op]}" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p')
    case $variant/$op in
      none/*) want=0 ;;
      tutorial/delete) want=1 ;;  # NEW is NULL in DELETE: identical payloads fold into one
      *) want=$ROWS ;;
    esac
    delivered_ms=$(wait_delivered "$out" "$want")
    local lines; lines=$(wc -l <"$out")
    ((lines >= want)) || { echo "$variant $op: reader printed $lines lines, expected $want" >&2; exit 1; }
    jq -nc --arg variant "$variant" --arg op "$op" --argjson rep "$rep" --argjson ms "$ms" \
      --argjson rows "$ROWS" --argjson events "$lines" --argjson delivered_ms "$delivered_ms" \
      '{kind: "bulk", variant: $variant, op: $op, rep: $rep, rows: $rows, ms: $ms,
        events: $events, delivered_ms_after_commit: $delivered_ms}' >>"$RUNS"
    printf '  %-15s %-13s run %d: %9.1f ms, %d events delivered %d ms after it\n' \
      "$variant" "$op" "$rep" "$ms" "$lines" "$delivered_ms" >&2
  done
  stop_reader "$variant"
}

active=()
for v in "${VARIANTS[@]}"; do [[ ",${BENCH_VARIANTS:-$v}," == *",$v,"* ]] && active+=("$v"); done
echo "write cost: ${SECS} s per pgbench point, clients $CLIENTS, $ROWS-row bulk statements," \
  "PostgreSQL at $URL" >&2
for rep in $(seq 1 "$TPS_REPS"); do
  for clients in $CLIENTS; do
    for v in "${active[@]}"; do pgbench_point "$v" "$clients" "$rep"; done
  done
done
for rep in $(seq 1 "$REPS"); do
  for v in "${active[@]}"; do bulk_run "$v" "$rep"; done
done
# The average row as stored (the bulk table has just been emptied: fill a sample).
row_bytes=$(psql_q -c "INSERT INTO orders (customer, amount, note) SELECT i, round((random() * 1000)::numeric, 2), 'order note ' || md5(i::text) || ' for ' || i FROM generate_series(1, 1000) i" \
  -c 'SELECT round(avg(pg_column_size(o.*))) FROM orders o')

mkdir -p "$(dirname "$OUT")"
jq -s --argjson secs "$SECS" --argjson rows "$ROWS" --argjson reps "$REPS" \
  --argjson tps_reps "$TPS_REPS" --argjson row_bytes "$row_bytes" \
  --arg date "$(date -u +%FT%TZ)" --arg host "$(uname -srm), $(nproc) cores" \
  --arg load "$LOAD_BEFORE -> $(cut -d" " -f1-3 /proc/loadavg)" \
  --arg server "$(psql_q -c 'SHOW server_version')" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo none)" --arg built "$PGPULSE_BUILT" '
  def ratio(a; b): if a and b then (a / b * 100 | round) / 100 else null end;
  (map(select(.kind == "tps")) | group_by([.clients, .variant])
   | map({clients: .[0].clients, variant: .[0].variant, tps: (map(.tps) | max | round),
          writer_backends_cpu_us_per_tx: (map(.writer_backends_cpu_us_per_tx) | min),
          reader_cpu_us_per_tx: (map(.reader_cpu_us_per_tx) | min),
          reader_cpu_pct_of_a_core: (max_by(.tps) | .reader_cpu_pct_of_a_core)})) as $tps
  | (map(select(.kind == "bulk")) | group_by([.op, .variant])
   | map({op: .[0].op, variant: .[0].variant, ms: (map(.ms) | min),
          events: .[0].events, delivered_ms_after_commit: (map(.delivered_ms_after_commit) | min)})) as $bulk
  | def tps_of($c; $v): ($tps[] | select(.clients == $c and .variant == $v) | .tps) // null;
    def ms_of($o; $v): ($bulk[] | select(.op == $o and .variant == $v) | .ms) // null;
  {workload: "e: write cost", seconds_per_point: $secs, pgbench_runs_per_point: $tps_reps,
   bulk_rows: $rows, bulk_runs: $reps, statistic: "best of runs", row_bytes: $row_bytes,
   date: $date, host: $host, load_average: $load, postgresql: $server, commit: $commit, pgpulse_built: $built,
   single_row_inserts: [$tps[] | . + {vs_none: ratio(.tps; tps_of(.clients; "none")),
                                      vs_tutorial: ratio(.tps; tps_of(.clients; "tutorial"))}],
   bulk: [$bulk[] | . + {vs_none: ratio(.ms; ms_of(.op; "none")),
                         vs_tutorial: ratio(.ms; ms_of(.op; "tutorial"))}],
   runs: .}
  | .targets = [
      (.single_row_inserts[] | select(.variant | startswith("pgpulse")) |
       {target: "\(.variant) single-row tx/s with \(.clients) client(s) >= tutorial",
        value: .vs_tutorial, met: (.vs_tutorial != null and .vs_tutorial >= 1)}),
      (.bulk[] | select(.op == "insert_select" and (.variant | startswith("pgpulse"))) |
       {target: "\(.variant) \($rows)-row INSERT...SELECT time <= 2x no trigger",
        value: .vs_none, met: (.vs_none != null and .vs_none <= 2)})]' "$RUNS" >"$OUT"

# The readable tables come from the JSON, so the two never disagree.
order='{"none":0,"tutorial":1,"pgpulse-notify":2,"pgpulse-poll":3}'
jq -r --argjson order "$order" '
  def x2: if . == null then "-" else (. * 100 | round) as $c
    | "\($c / 100 | floor).\($c % 100 | tostring | if length < 2 then "0" + . else . end)x" end;
  "\nwrite cost: ~\(.row_bytes)-byte rows, \(.host), PostgreSQL \(.postgresql)",
  "load average (1, 5, 15 min) at start -> end: \(.load_average) (other work on this machine skews every figure)",
  "\nsingle-row INSERT transactions (pgbench -M prepared, \(.seconds_per_point) s, best of \(.pgbench_runs_per_point))",
  (["clients", "variant", "tx/s", "vs none", "vs tutorial", "writer us/tx", "reader us/tx"] | @tsv),
  (.single_row_inserts | sort_by(.clients, $order[.variant])[]
   | [.clients, .variant, .tps, (.vs_none | x2), (.vs_tutorial | x2), .writer_backends_cpu_us_per_tx,
      if .variant == "none" then "-" else .reader_cpu_us_per_tx end] | map(tostring) | @tsv),
  "\nbulk statements on \(.bulk_rows) rows (psql \\timing, best of \(.bulk_runs); events: what the reader got)",
  (["statement", "variant", "ms", "vs none", "vs tutorial", "events"] | @tsv),
  (.bulk | sort_by({"insert_select":0,"update":1,"delete":2}[.op], $order[.variant])[]
   | [.op, .variant, .ms, (.vs_none | x2), (.vs_tutorial | x2), .events] | map(tostring) | @tsv),
  "\ntargets (reported, not asserted)",
  (.targets[] | "  \(if .met then "met    " else "NOT met" end)  \(.target): \(.value | x2)")' "$OUT" |
  awk -F'\t' 'NF < 2 { print; next }
    { if ($1 ~ /^[a-z]/ && $3 ~ /^[0-9.]+$/) $3 = sprintf("%.1f", $3)  # bulk ms
      for (i = 6; i <= 7; i++) if ($1 ~ /^[0-9]/ && $i ~ /^[0-9.]+$/) $i = sprintf("%.1f", $i)
      line = sprintf("%-14s %-15s %10s %8s %12s %13s %13s", $1, $2, $3, $4, $5, $6, $7)
      sub(/ +$/, "", line); print line }'
echo "results: $OUT"
