# Sourced by the benches' scripts: a private redis-server (or, with
# REDIS_CLUSTER=N, a private Redis Cluster of N primaries) and a release
# api-server on free loopback ports, all stopped when the script exits.
# Sets redis_url (the Cluster's comma-separated seed list), grpc_addr,
# http_addr, admin_addr (/metrics and the probes), server_pid and work (a
# temporary folder, removed at exit).
# Extra api-server flags: API_SERVER_FLAGS. BIN_DIR: where the api-server
# binary is (default target/release). Processes started later can be stopped
# with the rest: add their pids to extra_pids.

work=$(mktemp -d)
stop_local_server() {
  for pid in ${extra_pids:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  for pid in ${redis_pids:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
  return 0
}
trap stop_local_server EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# A Cluster node's bus listens on its port + 10000: both must be free.
free_cluster_port() {
  python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    if port > 55535: continue
    try:
        b = socket.socket(); b.bind(("127.0.0.1", port + 10000)); b.close(); print(port); break
    except OSError: pass'
}
start_redis() { # port [extra redis-server flags]
  local port=$1; shift
  mkdir -p "$work/$port"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$work/$port" "$@" >/dev/null &
  redis_pids="${redis_pids:-} $!"
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
}
grpc_addr="127.0.0.1:$(free_port)"
http_addr="127.0.0.1:$(free_port)"
admin_addr="127.0.0.1:$(free_port)"
if [ -n "${REDIS_CLUSTER:-}" ]; then
  nodes=()
  for _ in $(seq "$REDIS_CLUSTER"); do
    port=$(free_cluster_port)
    start_redis "$port" --cluster-enabled yes --cluster-config-file "$work/$port/nodes.conf"
    nodes+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-yes >/dev/null
  until redis-cli -p "${nodes[0]##*:}" cluster info | grep -q cluster_state:ok; do sleep 0.1; done
  redis_url=$(printf 'redis://%s,' "${nodes[@]}"); redis_url=${redis_url%,}
else
  redis_port=$(free_port)
  start_redis "$redis_port"
  redis_url="redis://127.0.0.1:$redis_port"
fi

# The admin address goes in the environment, where a build from before
# --admin-addr (AGAINST_BIN) ignores it.
# shellcheck disable=SC2086
FLASHSALE_MERCHANT_TOKENS=bench FLASHSALE_ADMIN_ADDR="$admin_addr" RUST_LOG=warn "${BIN_DIR:-target/release}/api-server" \
  --redis-url "$redis_url" --grpc-addr "$grpc_addr" --http-addr "$http_addr" --insecure-customer-header \
  ${API_SERVER_FLAGS:-} >/dev/null &
server_pid=$!
# api-server reads its health before it listens, so an open port means ready.
until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
  "${grpc_addr##*:}" 2>/dev/null; do sleep 0.05; done
