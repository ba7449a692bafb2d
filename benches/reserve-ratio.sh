#!/usr/bin/env bash
# The reserve path against its physical limit, measured in one run on this
# machine: redis-benchmark running the engine's reserve script by EVALSHA
# (50 clients, one request per round trip), then flashload through gRPC in a
# closed loop, then flashload in an open loop at half the baseline's rate.
# Prints each rate as a ratio to the baseline, and the open loop's
# percentiles. Run it before and after performance work and compare ratios,
# not absolute numbers.
#
#   benches/reserve-ratio.sh                 # 15 s per run
#   DURATION=30s MIN_RATIO=1.0 benches/reserve-ratio.sh --connections 8
#
# DURATION: length of each flashload run. CONCURRENCY: closed-loop shoppers
# (default 64). MIN_RATIO: exit 1 when closed loop / baseline is below it.
# Extra arguments go to both flashload runs. Everything runs on loopback, on
# a private redis-server, and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-15s}
concurrency=${CONCURRENCY:-64}
cargo build --release --locked -q -p api-server -p flashsale-benches

. benches/local-server.sh

flashload=(target/release/flashload)
load=(--target "$grpc_addr" --token bench --setup --stock 1000000000000 --duration "$duration" --warmup 2s)

echo "== baseline: redis-benchmark, the reserve script by EVALSHA"
"${flashload[@]}" baseline --redis-url "$redis_url" --json "$work/baseline.json"
baseline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["achieved_rate"])' "$work/baseline.json")

echo "== flashload reserve, closed loop, $concurrency shoppers"
"${flashload[@]}" reserve "${load[@]}" --concurrency "$concurrency" --json "$work/closed.json" "$@" >/dev/null

half=$(python3 -c 'import sys; print(round(float(sys.argv[1]) / 2))' "$baseline")
echo "== flashload reserve, open loop at $half/s (half the baseline)"
"${flashload[@]}" reserve "${load[@]}" --rate "$half" --json "$work/open.json" "$@" >/dev/null

python3 - "$work" "${MIN_RATIO:-0}" <<'PY'
import json, sys
work, min_ratio = sys.argv[1], float(sys.argv[2])
load = lambda name: json.load(open(f"{work}/{name}.json"))
baseline, closed, open_ = load("baseline"), load("closed"), load("open")
base = baseline["achieved_rate"]
print()
print(f"{'run':<44}{'reserves/s':>12}{'ratio':>8}")
print(f"{'redis-benchmark EVALSHA reserve, 50 clients':<44}{base:>12.0f}{1:>8.2f}")
for name, run in [("flashload closed loop (gRPC)", closed), ("flashload open loop at half the baseline", open_)]:
    print(f"{name:<44}{run['achieved_rate']:>12.0f}{run['achieved_rate'] / base:>8.2f}")
c = open_["latency_ms"]["corrected"]
print(f"\nopen loop, corrected: p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms, p99.9 {c['p99.9']:.2f} ms, max {c['max']:.2f} ms")
for run, name in [(closed, "closed"), (open_, "open")]:
    failed = [check["name"] for check in run["checks"] if not check["passed"]]
    print(f"{name} loop checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}")
    if failed:
        sys.exit(1)
ratio = closed["achieved_rate"] / base
if ratio < min_ratio:
    print(f"closed-loop ratio {ratio:.2f} is below MIN_RATIO {min_ratio}")
    sys.exit(1)
PY
