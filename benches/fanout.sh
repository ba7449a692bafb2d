#!/usr/bin/env bash
# The fan-out against its own baseline, measured in one run: first one
# websocket watcher per product (publish→receive with nothing to fan out),
# then CLIENTS watchers over the same products at the same change rate.
# Prints both latencies, their ratio, events per second and the server's
# memory per connected client.
#
#   benches/fanout.sh                                  # 2,000 clients, 20 products
#   CLIENTS=10000 SKUS=100 CHANGES=1000 benches/fanout.sh --transport mixed
#
# DURATION (15s), CLIENTS (2000), SKUS (20), CHANGES per second (200); extra
# arguments go to the second `flashload watch`. API_SERVER_FLAGS go to
# api-server (e.g. "--stock-interval-ms 20").
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-15s}
clients=${CLIENTS:-2000}
skus=${SKUS:-20}
changes=${CHANGES:-200}
cargo build --release --locked -q -p api-server -p flashsale-benches

. benches/local-server.sh

watch=(target/release/flashload watch --target "$grpc_addr" --token bench --http "$http_addr"
  --setup --skus "$skus" --changes "$changes" --duration "$duration" --server-pid "$server_pid")

echo "== baseline: one watcher per product"
"${watch[@]}" --clients "$skus" --json "$work/baseline.json" >/dev/null
echo "== $clients watchers"
"${watch[@]}" --clients "$clients" --json "$work/fanout.json" "$@" >/dev/null

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
base, fan = (json.load(open(f"{work}/{n}.json")) for n in ("baseline", "fanout"))
print()
print(f"{'run':<28}{'clients':>8}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'KB/client':>11}")
for name, r in [("one watcher per product", base), ("fan-out", fan)]:
    l = r["latency_ms"]
    kb = r["server_rss_kb_per_client"]
    kb = f"{kb:.1f}" if kb is not None else "-"
    print(f"{name:<28}{r['connected']:>8}{r['events_per_second']:>10.0f}{l['p50']:>9.2f}{l['p99']:>9.2f}{l['p99.9']:>10.2f}{kb:>11}")
print(f"\np99 ratio fan-out / baseline: {fan['latency_ms']['p99'] / max(base['latency_ms']['p99'], 0.001):.2f}")
for r, name in [(base, "baseline"), (fan, "fan-out")]:
    failed = [c["name"] for c in r["checks"] if not c["passed"]]
    print(f"{name} checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}")
    if failed:
        sys.exit(1)
PY
