#!/usr/bin/env bash
# Scale out, measured in one run on this machine: the same closed-loop
# reserve load through one api-server, first on a single redis-server, then
# on a private Redis Cluster of three primaries; once with one hot product
# (one slot, so one shard does all the work) and once with twelve products
# spread evenly (their slots fall on every shard). Prints each Cluster rate as
# a ratio to the single node's, and fails if a run's checks do.
#
#   benches/cluster-scale.sh                 # 15 s per run
#   DURATION=30s benches/cluster-scale.sh --connections 8
#
# Extra arguments go to every flashload run. Everything runs on loopback and
# is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-15s}
cargo build --release --locked -q -p api-server -p flashsale-benches
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() { # name, then flashload flags
  local name=$1
  shift
  echo "== $name"
  (
    . benches/local-server.sh
    target/release/flashload reserve --target "$grpc_addr" --token bench --setup \
      --stock 1000000000000 --duration "$duration" --warmup 2s --concurrency 64 \
      --json "$out/$name.json" "$@" >/dev/null 2>&1
  )
}
for topology in single cluster; do
  shards=""
  [ "$topology" = cluster ] && shards=3
  REDIS_CLUSTER=$shards run "$topology-hot" --skus 1 "$@"
  REDIS_CLUSTER=$shards run "$topology-spread" --skus 12 --skew uniform "$@"
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
load = lambda name: json.load(open(f"{out}/{name}.json"))
print()
print(f"{'products':<24}{'single node/s':>14}{'3-shard Cluster/s':>19}{'ratio':>7}{'p99 ms, single / Cluster':>27}")
failed = []
for traffic, label in [("hot", "one hot product"), ("spread", "12 products, uniform")]:
    single, cluster = load(f"single-{traffic}"), load(f"cluster-{traffic}")
    ratio = cluster["achieved_rate"] / single["achieved_rate"]
    p99 = lambda run: run["latency_ms"]["uncorrected"]["p99"]
    p99s = f"{p99(single):.1f} / {p99(cluster):.1f}"
    print(f"{label:<24}{single['achieved_rate']:>14.0f}{cluster['achieved_rate']:>19.0f}{ratio:>7.2f}{p99s:>27}")
    for name, run in [(f"single-{traffic}", single), (f"cluster-{traffic}", cluster)]:
        failed += [f"{name}: {check['name']}" for check in run["checks"] if not check["passed"]]
print("checks:", "all passed" if not failed else "FAILED " + ", ".join(failed))
sys.exit(1 if failed else 0)
PY
