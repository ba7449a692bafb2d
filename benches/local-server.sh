# Sourced by the benches' scripts: a private redis-server and a release
# api-server on free loopback ports, both stopped when the script exits.
# Sets redis_url, grpc_addr, http_addr, server_pid and work (a temporary
# folder, removed at exit). Extra api-server flags: API_SERVER_FLAGS.

work=$(mktemp -d)
stop_local_server() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap stop_local_server EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
redis_port=$(free_port)
grpc_addr="127.0.0.1:$(free_port)"
http_addr="127.0.0.1:$(free_port)"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done
redis_url="redis://127.0.0.1:$redis_port"

# shellcheck disable=SC2086
FLASHSALE_MERCHANT_TOKENS=bench RUST_LOG=warn target/release/api-server \
  --redis-url "$redis_url" --grpc-addr "$grpc_addr" --http-addr "$http_addr" ${API_SERVER_FLAGS:-} >/dev/null &
server_pid=$!
# api-server reads its health before it listens, so an open port means ready.
until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
  "${grpc_addr##*:}" 2>/dev/null; do sleep 0.05; done
