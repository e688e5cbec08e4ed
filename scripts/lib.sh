# Shell helpers shared by scripts/ and bench/ (sourced, not run).

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
