# Shared by the bench/*.sh scripts (sourced, not run). The scripts
# that measure set URL (the benchmark's database) before they call psql_q or what uses it.

# free_port
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# copy_binary FROM DIR NAME CHECK-ARGS...: copies FROM to DIR/NAME and prints FROM's build time.
# Each workload runs one binary of each tool for its whole run, even if build/ is rebuilt
# meanwhile; a copy taken while the linker writes it does not run, so it waits and copies again.
copy_binary() {
  local from=$1 dir=$2 name=$3 built
  shift 3
  for _ in $(seq 30); do
    built=$(date -u -r "$from" +%FT%TZ)
    cp "$from" "$dir/$name" 2>/dev/null && "$dir/$name" "$@" >/dev/null 2>&1 && break
    sleep 2
  done
  "$dir/$name" "$@" >/dev/null || { echo "cannot run a copy of $from" >&2; exit 1; }
  echo "$built"
}

running() {  # pid: alive and not yet a zombie
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# start_gateway URL LOG [SERVE-ARGS...]: `$PGPULSE_BIN serve` on a free loopback port, waited
# for until its /healthz answers; sets `gateway` (its pid, as soon as it runs, so a cleanup trap
# can stop it) and `port`. A port taken meanwhile gets another try. Returns 1 when it did not
# start (LOG says why), with `gateway` empty.
start_gateway() {
  local url=$1 log=$2 attempt deadline
  shift 2
  for attempt in 1 2 3; do
    port=$(free_port)
    "$PGPULSE_BIN" serve --db "$url" --listen "127.0.0.1:$port" --log-level warning "$@" 2>"$log" &
    gateway=$!
    deadline=$((SECONDS + 20))
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
      if ! running "$gateway" || ((SECONDS >= deadline)); then break; fi
      sleep 0.05
    done
    running "$gateway" && ((SECONDS < deadline)) && return 0
    kill "$gateway" 2>/dev/null || true  # it may still run, unhealthy: do not wait forever
    wait "$gateway" 2>/dev/null || true
    grep -q 'Address already in use' "$log" || break
    echo "  port $port was taken (attempt $attempt)" >&2
  done
  gateway=""
  return 1
}

# psql on the benchmark's database: unaligned tuples only, stops at the first error, no notices.
psql_q() { PGOPTIONS="-c client_min_messages=warning" "$PGPULSE_TEST_PGBIN/psql" "$URL" -XAtq -v ON_ERROR_STOP=1 "$@"; }

now_us() { echo "${EPOCHREALTIME/./}"; }

# CPU a process has used so far, in clock ticks (HZ a second): its own (utime + stime from
# /proc; 0 once it is gone), or with `children` what its reaped children used: the postmaster
# reaps every backend that ended, so its children's time grows by the CPU of the writers'
# backends once they end. Bash builtins only, as it runs while a point is measured.
HZ=$(getconf CLK_TCK)
cpu_ticks() {  # pid [children]
  local stat fields
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  read -ra fields <<<"${stat##*) }"
  if [ -n "${2:-}" ]; then echo $((fields[13] + fields[14])); else echo $((fields[11] + fields[12])); fi
}

cpu_s() {  # pid [children]: cpu_ticks in seconds
  awk -v t="$(cpu_ticks "$@")" -v hz="$HZ" 'BEGIN { print t / hz }'
}

backends_cpu_s() {  # pids...: their CPU seconds together
  local total=0 pid
  for pid in "$@"; do total=$(awk "BEGIN { print $total + $(cpu_s "$pid") }"); done
  echo "$total"
}

# The server backends that serve pgpulse (watch, or serve's connections): with the reader, what
# takes CPU from the writers on these 2 cores.
reader_backend() { psql_q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgpulse'"; }

# Until no backend of `application_name` is left (at most 10 s), and a moment for the postmaster
# to reap them: their CPU counts in its children's time only then.
wait_backends_gone() {  # application_name
  local deadline=$((SECONDS + 10))
  while [ "$(psql_q -v app="$1" <<<"SELECT count(*) FROM pg_stat_activity WHERE application_name = :'app';")" != 0 ] &&
    ((SECONDS < deadline)); do sleep 0.02; done
  sleep 0.05
}

# Whether `pgpulse watch` is ready: a backend of it in this database is idle (not "idle in
# transaction"), with a last statement ILIKE `like` (`LISTEN%` for --channel: its LISTEN has
# committed).
watch_idle() {  # like
  [ "$(psql_q -v like="$1" <<<"SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'pgpulse' AND state = 'idle'
      AND query ILIKE :'like';")" -gt 0 ]
}
