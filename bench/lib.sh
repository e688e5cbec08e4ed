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
