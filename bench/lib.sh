# Shared by the bench/*.sh scripts (sourced, not run).

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

# A loopback port nothing listens on, below the kernel's range for outgoing connections (whose
# local ports a connect test does not see). No python3: a version manager's shim is slow.
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

# start_gateway URL LOG: `$PGPULSE_BIN serve` on a free loopback port, waited for until its
# /healthz answers; sets `gateway` (its pid, as soon as it runs, so a cleanup trap can stop it)
# and `port`. A port taken meanwhile gets another try. Returns 1 when it did not start (LOG
# says why), with `gateway` empty.
start_gateway() {
  local url=$1 log=$2 attempt deadline
  for attempt in 1 2 3; do
    port=$(free_port)
    "$PGPULSE_BIN" serve --db "$url" --listen "127.0.0.1:$port" --log-level warning 2>"$log" &
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
