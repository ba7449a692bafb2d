#!/usr/bin/env bash
# The fan-out against its baselines, measured in one run on one Redis: first
# one websocket watcher per product on the api-server (publish→receive with
# nothing to fan out), then CLIENTS watchers over the same products at the
# same change rate on the api-server, then the same CLIENTS watchers and
# changes on the Node relay of benches/relay (socket.io 4 + ioredis, built
# the way the original Node version of the system was). The changes go
# through the api-server's gRPC in every run; only the watchers move.
# Prints, for each run: events per second delivered, publish→receive
# latency, memory per client, the server's CPU for the run and per
# delivered event (connects, watches and pings included; and its user-space
# part, without the kernel's sends), Redis's, and flashload's own (what the
# clients take from the shared cores); then
# the api-server's figures as ratios to the relay's.
#
#   benches/fanout.sh                                  # 2,000 clients, 20 products
#   CLIENTS=10000 SKUS=100 CHANGES=1000 DURATION=20s benches/fanout.sh
#   RELAY=0 benches/fanout.sh --transport mixed        # the api-server alone
#
# DURATION (15s), CLIENTS (2000), SKUS (20), CHANGES per second (200); extra
# arguments go to both fan-out runs' `flashload watch`. API_SERVER_FLAGS go
# to api-server (e.g. "--stock-interval-ms 20"). RELAY=0 leaves the Node
# relay out; otherwise node is needed, and benches/relay's packages are
# installed as locked (`npm ci`) when they are not yet. BASELINE=0 leaves
# the one-watcher-per-product run out. RESULTS=DIR keeps each run's
# `flashload watch --json` report there (baseline, api-server, relay.json).
# SYSCALLS=1 counts each server's system calls and context switches during
# its fan-out run (perf stat) and prints them per delivered event: where
# the kernel's share of the CPU goes.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-15s}
clients=${CLIENTS:-2000}
skus=${SKUS:-20}
changes=${CHANGES:-200}
relay=${RELAY:-1}
baseline=${BASELINE:-1}

if [ "$relay" != 0 ]; then
  command -v node >/dev/null || { echo "the Node relay needs node (.ci/install-deps), or RELAY=0" >&2; exit 2; }
  # The relay PSUBSCRIBEs; on a Cluster the scripts SPUBLISH.
  [ -z "${REDIS_CLUSTER:-}" ] || { echo "the Node relay needs one Redis node: unset REDIS_CLUSTER, or RELAY=0" >&2; exit 2; }
  # As .ci/install-deps does: exactly as locked, again when the lock changes.
  lock=benches/relay/package-lock.json installed=benches/relay/node_modules/.package-lock.json
  if [ ! -f "$installed" ] || ! cmp -s "$lock" "$installed.source"; then
    (cd benches/relay && npm ci --no-audit --no-fund --loglevel=error)
    cp "$lock" "$installed.source"
  fi
fi
[ "${SYSCALLS:-0}" = 0 ] || command -v perf >/dev/null || { echo "SYSCALLS=1 needs perf" >&2; exit 2; }
cargo build --release --locked -q -p api-server -p flashsale-benches

. benches/local-server.sh

cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# flashload exits 1 when a check failed (still with its report: the table
# below says which) and 2 when there was no run.
watch() { target/release/flashload watch "$@" || [ $? -eq 1 ]; }
# Runs flashload watch (the arguments after the first two) while perf
# counts the system calls of the server with pid $1 into $work/$2.syscalls.
counted_watch() {
  local pid=$1 name=$2; shift 2
  if [ "${SYSCALLS:-0}" = 0 ]; then watch "$@"; return; fi
  local events=context-switches call
  for call in sendto sendmsg write writev recvfrom read epoll_wait epoll_pwait futex; do
    events+=",syscalls:sys_enter_$call"
  done
  perf stat -x, -o "$work/$name.syscalls" -p "$pid" -e "$events" &
  local perf_pid=$!
  watch "$@"
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" || true
}
crowd=(--target "$grpc_addr" --token bench --redis-url "$redis_url" --setup --skus "$skus"
  --changes "$changes" --duration "$duration")
read -r load_before _ </proc/loadavg

if [ "$baseline" != 0 ]; then
  echo "== baseline: one watcher per product on the api-server"
  watch "${crowd[@]}" --http "$http_addr" --server-pid "$server_pid" --clients "$skus" \
    --json "$work/baseline.json" >/dev/null
fi
echo "== api-server: $clients watchers"
counted_watch "$server_pid" api-server "${crowd[@]}" --http "$http_addr" --server-pid "$server_pid" \
  --clients "$clients" --json "$work/api-server.json" "$@" >/dev/null

if [ "$relay" != 0 ]; then
  relay_addr="127.0.0.1:$(free_port)"
  node benches/relay/relay.js --redis-url "$redis_url" --port "${relay_addr##*:}" >/dev/null &
  relay_pid=$!
  extra_pids="${extra_pids:-} $relay_pid"
  until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
    "${relay_addr##*:}" 2>/dev/null; do sleep 0.05; done
  echo "== Node relay: $clients watchers"
  # What the api-server spends meanwhile (the products, the changes' gRPC
  # calls, no watcher): in its own run it is part of its figure.
  api_before=$(cpu_s "$server_pid")
  counted_watch "$relay_pid" relay "${crowd[@]}" --http "$relay_addr" --server-pid "$relay_pid" \
    --clients "$clients" --json "$work/relay.json" "$@" >/dev/null
  echo "$api_before $(cpu_s "$server_pid")" >"$work/api-server-beside.txt"
fi
read -r load_after _ </proc/loadavg
if [ -n "${RESULTS:-}" ]; then
  mkdir -p "$RESULTS"
  cp "$work"/*.json "$RESULTS"/
fi

python3 - "$work" "$load_before" "$load_after" "$(nproc)" <<'PY'
import json, os, sys
work, load_before, load_after, cores = sys.argv[1:5]
runs = [(name, json.load(open(f"{work}/{file}.json"))) for name, file in
        [("one watcher per product", "baseline"), ("api-server", "api-server"), ("Node relay", "relay")]
        if os.path.exists(f"{work}/{file}.json")]
by = dict(runs)

def cell(value, fmt):
    return "-" if value is None else format(value, fmt)

print()
print(f"{'run':<26}{'clients':>8}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}"
      f"{'KB/client':>11}{'CPU s':>8}{'µs/event':>10}{'user µs':>9}{'Redis µs/event':>16}"
      f"{'flashload µs':>14}")
for name, r in runs:
    l = r["latency_ms"]
    print(f"{name:<26}{r['connected']:>8}{r['events_per_second']:>10.0f}{l['p50']:>9.2f}{l['p99']:>9.2f}"
          f"{l['p99.9']:>10.2f}{cell(r['server_rss_kb_per_client'], '.1f'):>11}"
          f"{cell(r['server_cpu_s'], '.2f'):>8}{cell(r['server_cpu_us_per_event'], '.1f'):>10}"
          f"{cell(r['server_user_cpu_us_per_event'], '.1f'):>9}"
          f"{cell(r['redis_cpu_us_per_event'], '.1f'):>16}"
          f"{cell(r['flashload_cpu_us_per_event'], '.1f'):>14}")

def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"

api = by["api-server"]
print()
if "one watcher per product" in by:
    base = by["one watcher per product"]
    print(f"p99, api-server fan-out / one watcher per product: "
          f"{ratio(api['latency_ms']['p99'], max(base['latency_ms']['p99'], 0.001))}")
if "Node relay" in by:
    node = by["Node relay"]
    print(f"server CPU per delivered event, api-server / Node relay: "
          f"{ratio(api['server_cpu_us_per_event'], node['server_cpu_us_per_event'])}"
          f" (user space alone: {ratio(api['server_user_cpu_us_per_event'], node['server_user_cpu_us_per_event'])})")
    print(f"p99 publish→receive, api-server / Node relay: {ratio(api['latency_ms']['p99'], node['latency_ms']['p99'])}")
    print(f"events/s delivered, api-server / Node relay: {ratio(api['events_per_second'], node['events_per_second'])}")
    # The api-server's own figure includes taking the changes; the relay's
    # does not. Its CPU while the relay ran (the same changes, no watcher)
    # estimates that share.
    before, after = map(float, open(f"{work}/api-server-beside.txt").read().split())
    share = after - before
    if api["server_cpu_s"] is not None and api["events"]:
        fanout_us = (api["server_cpu_s"] - share) * 1e6 / api["events"]
        print(f"  less the changes' share ({share:.2f} s, the api-server's CPU during the relay's run): "
              f"{fanout_us:.1f} µs per event, {ratio(fanout_us, node['server_cpu_us_per_event'])} of the relay's")
for name, file in [("api-server", "api-server"), ("Node relay", "relay")]:
    path = f"{work}/{file}.syscalls"
    if name in by and os.path.exists(path):
        counts = {}
        for line in open(path):
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[0].isdigit() and int(fields[0]) > 0:
                counts[fields[2].removeprefix("syscalls:sys_enter_")] = int(fields[0])
        per_event = ", ".join(f"{call} {n / by[name]['events']:.2f}" for call, n in
                              sorted(counts.items(), key=lambda item: -item[1]))
        print(f"{name} per delivered event: {per_event or 'nothing counted (see perf above)'}")
print(f"load average: {load_before} before, {load_after} after, on {cores} cores")

failed_any = False
for name, r in runs:
    failed = [c["name"] for c in r["checks"] if not c["passed"]]
    failed += [f"slo {v['objective']}" for v in r["slo"] if not v["passed"]]
    failed_any |= bool(failed)
    print(f"{name} checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}")
sys.exit(1 if failed_any else 0)
PY
