#!/usr/bin/env bash
# The reserve path against its physical limit, measured in one run on this
# machine: redis-benchmark running the engine's reserve script by EVALSHA
# (50 clients, one request per round trip), then flashload through gRPC in a
# closed loop, then the baseline again, then flashload in an open loop at
# half the baseline's rate. The baseline is the mean of its two runs: this
# machine's speed drifts by tens of percent within minutes, and one baseline
# taken before the closed loop made the ratio swing with it; the drift
# between the two is printed, and a ratio is only as sure as that drift.
# Prints each rate as a ratio to the baseline, and the open loop's
# percentiles, and where the machine's CPU went: the microseconds each
# process (Redis, the api-server, the load generator) spent per reserve in
# each run. Run it before and after performance work and compare ratios, not
# absolute numbers.
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

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
# Runs a flashload command as phase NAME; records the CPU seconds Redis, the
# api-server and flashload (with its redis-benchmark) spent on it.
measured() {
  local name=$1; shift
  local redis0 server0
  redis0=$(cpu_seconds "${redis_pids##* }"); server0=$(cpu_seconds "$server_pid")
  /usr/bin/time -f '%U %S' -o "$work/$name.time" "$@"
  python3 - "$work/$name.cpu" "$redis0" "$(cpu_seconds "${redis_pids##* }")" \
    "$server0" "$(cpu_seconds "$server_pid")" "$(cat "$work/$name.time")" <<'PY'
import json, sys
out, r0, r1, s0, s1, user, system = sys.argv[1], *map(float, sys.argv[2:5]), float(sys.argv[5]), *map(float, sys.argv[6].split())
json.dump({"redis": r1 - r0, "api_server": s1 - s0, "load": user + system}, open(out, "w"))
PY
}

echo "== baseline: redis-benchmark, the reserve script by EVALSHA"
measured baseline "${flashload[@]}" baseline --redis-url "$redis_url" --json "$work/baseline.json"

echo "== flashload reserve, closed loop, $concurrency shoppers"
measured closed "${flashload[@]}" reserve "${load[@]}" --concurrency "$concurrency" --json "$work/closed.json" "$@" >/dev/null

echo "== baseline again"
measured baseline_again "${flashload[@]}" baseline --redis-url "$redis_url" --json "$work/baseline_again.json"

half=$(python3 -c 'import json, sys; print(round(sum(json.load(open(f))["achieved_rate"] for f in sys.argv[1:]) / 4))' \
  "$work/baseline.json" "$work/baseline_again.json")
echo "== flashload reserve, open loop at $half/s (half the baseline)"
# One thread carries the open loop's rate, and on a machine the server
# shares, the second would take CPU from it (benches/README.md).
measured open "${flashload[@]}" reserve "${load[@]}" --rate "$half" --threads 1 --json "$work/open.json" "$@" >/dev/null

python3 - "$work" "${MIN_RATIO:-0}" <<'PY'
import json, sys
work, min_ratio = sys.argv[1], float(sys.argv[2])
load = lambda name: json.load(open(f"{work}/{name}.json"))
baseline, again, closed, open_ = load("baseline"), load("baseline_again"), load("closed"), load("open")
base = (baseline["achieved_rate"] + again["achieved_rate"]) / 2
drift = abs(baseline["achieved_rate"] - again["achieved_rate"]) / base
print()
print(f"{'run':<44}{'reserves/s':>12}{'ratio':>8}")
print(f"{'redis-benchmark EVALSHA reserve, 50 clients':<44}{base:>12.0f}{1:>8.2f}")
print(f"{'  (before / after the closed loop)':<44}{baseline['achieved_rate']:>6.0f} / {again['achieved_rate']:.0f}, drift {drift:.0%}")
for name, run in [("flashload closed loop (gRPC)", closed), ("flashload open loop at half the baseline", open_)]:
    print(f"{name:<44}{run['achieved_rate']:>12.0f}{run['achieved_rate'] / base:>8.2f}")
c = open_["latency_ms"]["corrected"]
print(f"\nopen loop, corrected: p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms, p99.9 {c['p99.9']:.2f} ms, max {c['max']:.2f} ms")
print(f"\nCPU per reserve, µs {'redis-server':>14}{'api-server':>12}{'load':>8}{'all':>8}")
# Every reserve of a flashload phase, warmup included, made a hold.
granted = lambda run: sum(p["granted_holds"] for p in run["products"])
for name, phase, total in [("baseline (redis-benchmark)", "baseline", baseline["requests"]), ("baseline again", "baseline_again", again["requests"]), ("closed loop (flashload)", "closed", granted(closed)), ("open loop (flashload)", "open", granted(open_))]:
    cpu = json.load(open(f"{work}/{phase}.cpu"))
    per = {k: v / total * 1e6 for k, v in cpu.items()}
    print(f"{name:<26}{per['redis']:>14.1f}{per['api_server']:>12.1f}{per['load']:>8.1f}{sum(per.values()):>8.1f}")
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
