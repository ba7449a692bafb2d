#!/usr/bin/env bash
# Sweeping at scale, measured in one run: SKUS products get holds (RESERVES
# spread uniformly over them during 10 s) that all expire over the same
# 10 s, HOLD seconds later, swept by one purchase worker and then, on a
# fresh deployment, by three. For each: how late the sweeps reached due
# products (`sweep_lag_seconds` p99, from the workers' /metrics), and from
# the first unit back to a second after the last (nothing else runs then):
# Redis commands per second (`INFO commandstats` before and after, a
# script's own calls included) and the script calls among them, and Redis's
# CPU per hold expired. Divided, not multiplied: three workers should cost
# Redis what one does.
#
#   benches/sweeps.sh                   # 10,000 products, 30,000 holds
#   AGAINST_BIN=../old/target/release benches/sweeps.sh   # that build's runs first
#
# SKUS (10000), RESERVES (30000), HOLD (45: seconds, longer than the
# products' setup, the load and flashload's audits of every product).
# AGAINST_BIN: another build's release binaries (an earlier revision, say),
# run the same way first, as the baseline of the same hour.
set -euo pipefail
cd "$(dirname "$0")/.."

skus=${SKUS:-10000}
reserves=${RESERVES:-30000}
hold=${HOLD:-45}
cargo build --release --locked -q -p api-server -p purchase-worker -p flashsale-benches
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# One deployment of the binaries in $2 with $1 workers; writes
# $results/$3.json.
sweeps() (
  workers=$1 BIN_DIR=$2 label=$3
  . benches/local-server.sh
  rcli() { redis-cli -u "$redis_url" "$@"; }
  # Calls of every command so far, and of the scripts among them.
  calls() { rcli info commandstats | awk -F'[=,:]' '/^cmdstat_/ { all += $3 } /^cmdstat_evalsha:/ { scripts = $3 } END { print all, scripts + 0 }'; }
  metrics=()
  for n in $(seq "$workers"); do
    port=$(free_port)
    RUST_LOG=warn "$BIN_DIR/purchase-worker" --redis-url "$redis_url" --name "sweeper-$n" \
      --metrics-addr "127.0.0.1:$port" >/dev/null &
    extra_pids="${extra_pids:-} $!"
    metrics+=("http://127.0.0.1:$port/metrics")
  done
  echo "== $label: $workers worker(s), $skus products, $reserves holds of $hold s"
  started=$(date +%s.%N)
  "$BIN_DIR/flashload" reserve --target "$grpc_addr" --token bench --setup --skus "$skus" \
    --skew uniform --stock 10 --hold-seconds "$hold" --rate $((reserves / 10)) --duration 10s \
    --connections 8 --json "$work/run.json" >/dev/null
  loaded=$(date +%s.%N)
  units=$(python3 -c 'import json, sys; print(sum(p["granted_units"] for p in json.load(open(sys.argv[1]))["products"]))' "$work/run.json")
  expired() { for url in "${metrics[@]}"; do curl -s "$url"; done | awk '/^flashsale_worker_expired_units_total/ { n += $2 } END { print n + 0 }'; }
  cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/${redis_pids##* }/stat"; }
  # From the first unit back...
  for _ in $(seq 1200); do
    [ "$(expired)" -gt 0 ] && break
    sleep 0.05
  done
  read -r before_all before_scripts < <(calls)
  before=$(date +%s.%N) before_cpu=$(cpu)
  # ...to a second after the last.
  for _ in $(seq 1200); do
    [ "$(expired)" -ge "$units" ] && break
    sleep 0.1
  done
  sleep 1
  read -r after_all after_scripts < <(calls)
  after=$(date +%s.%N) after_cpu=$(cpu)
  for url in "${metrics[@]}"; do curl -s "$url"; done >"$work/metrics.txt"
  python3 - "$work/metrics.txt" "$results/$label.json" "$started" "$loaded" "$before" "$after" \
    "$before_all" "$after_all" "$before_scripts" "$after_scripts" "$units" "$(expired)" \
    "$before_cpu" "$after_cpu" <<'PY'
import json, re, sys
text, out = open(sys.argv[1]).read(), sys.argv[2]
started, loaded, before, after = map(float, sys.argv[3:7])
before_all, after_all, before_scripts, after_scripts, units, expired = map(int, sys.argv[7:13])
before_cpu, after_cpu = map(float, sys.argv[13:15])
# Every worker's sweep_lag_seconds buckets, summed: le -> count.
buckets = {}
for le, count in re.findall(r'^flashsale_worker_sweep_lag_seconds_bucket\{le="([^"]+)"\} (\d+)', text, re.M):
    buckets[float(le)] = buckets.get(float(le), 0) + int(count)
total = buckets.get(float("inf"), 0)
p99 = next((le for le in sorted(buckets) if buckets[le] >= 0.99 * total), float("nan")) if total else float("nan")
seconds = after - before
json.dump({
    "lag_p99_le": p99, "lag_samples": total, "seconds": seconds,
    "commands_per_s": (after_all - before_all) / seconds,
    "scripts_per_s": (after_scripts - before_scripts) / seconds,
    "units": units, "expired": expired, "load_s": loaded - started,
    "redis_us_per_hold": (after_cpu - before_cpu) * 1e6 / max(expired, 1),
    "commands_per_hold": (after_all - before_all) / max(expired, 1),
}, open(out, "w"))
PY
)

if [ -n "${AGAINST_BIN:-}" ]; then
  sweeps 1 "$AGAINST_BIN" base-1
  sweeps 3 "$AGAINST_BIN" base-3
fi
sweeps 1 target/release this-1
sweeps 3 target/release this-3

python3 - "$results" "${AGAINST_BIN:+base}" <<'PY'
import json, sys
for build in ([sys.argv[2]] if sys.argv[2] else []) + ["this"]:
  one, three = (json.load(open(f"{sys.argv[1]}/{build}-{n}.json")) for n in (1, 3))
  print(f"\n{'against build' if build == 'base' else 'this build':<44}{'1 worker':>14}{'3 workers':>14}{'ratio':>8}")
  rows = [
      ("sweep_lag_seconds p99 (bucket bound)", "lag_p99_le", lambda v: f"<= {v:g} s"),
      ("Redis commands/s while holds expire", "commands_per_s", lambda v: f"{v:,.0f}"),
      ("  of which script calls/s", "scripts_per_s", lambda v: f"{v:,.0f}"),
      ("Redis commands per unit expired", "commands_per_hold", lambda v: f"{v:.1f}"),
      ("Redis CPU per unit expired", "redis_us_per_hold", lambda v: f"{v:.1f} µs"),
      ("units expired / units held", None, None),
  ]
  for label, key, fmt in rows:
      if key is None:
          cells = [f"{r['expired']:,}/{r['units']:,}" for r in (one, three)]
          print(f"{label:<44}{cells[0]:>14}{cells[1]:>14}")
          continue
      ratio = three[key] / one[key] if one[key] else float("nan")
      print(f"{label:<44}{fmt(one[key]):>14}{fmt(three[key]):>14}{ratio:>8.2f}")
  print(f"\n(the window: {one['seconds']:.1f} s and {three['seconds']:.1f} s, from the first unit back to a second after the last)")
PY
