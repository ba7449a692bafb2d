#!/usr/bin/env bash
# A sale's lifetime on one product, measured in one run: RESERVES reserves
# (an open loop at RATE/s) with 1-second holds, a third cancelled, a third
# confirmed and bought by one purchase worker, the rest left to expire, on a
# private Redis and a release api-server. Retentions are shortened to
# RETENTION so that their end falls within the run. Prints Redis memory
# before, at the end (every hold ended, all within the retention) and after
# the retention has passed; bytes per ended hold; the largest key; the
# slowest call Redis ran over the whole run (an audit at the end included);
# and the reserve p99 in the first and the last tenth of the run.
#
#   benches/growth.sh                       # 1,000,000 reserves at 8,000/s
#   AGAINST=380ee44 benches/growth.sh       # that revision's run first: the baseline
#
# RESERVES (1000000), RATE (8000), RETENTION (180s: longer than the run and
# its drain, so every ended hold is still kept when the end is measured).
# AGAINST: a git revision
# built in a worktree of its own and run with the same load first, so every
# figure has its baseline from the same machine and hour (it runs without
# this version's retention flags); AGAINST_BIN: that revision's release
# binaries, built already. Everything runs on loopback and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

reserves=${RESERVES:-1000000}
rate=${RATE:-8000}
retention=${RETENTION:-180s}
duration=$((reserves / rate))s
cargo build --release --locked -q -p api-server -p purchase-worker -p flashsale-benches
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# One history on the binaries in $2, labelled $1; $3 is "new" for this
# version's flags. Writes $results/$1.json.
history() (
  label=$1 BIN_DIR=$2 flavour=$3
  if [ "$flavour" = new ]; then API_SERVER_FLAGS="--hold-retention $retention"; fi
  . benches/local-server.sh
  rcli() { redis-cli -u "$redis_url" "$@"; }
  memory() { rcli info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
  rcli config set slowlog-log-slower-than 1000 >/dev/null
  rcli config set slowlog-max-len 100000 >/dev/null
  rcli slowlog reset >/dev/null

  worker_flags=()
  if [ "$flavour" = new ]; then
    worker_flags=(--hold-retention "$retention" --purchase-retention "$retention"
      --order-retention "$retention" --trim-interval-ms 5000)
  fi
  RUST_LOG=warn "$BIN_DIR/purchase-worker" --redis-url "$redis_url" \
    --metrics-addr "127.0.0.1:$(free_port)" "${worker_flags[@]}" >/dev/null &
  extra_pids=$!
  sleep 1
  before=$(memory)

  echo "== $label: $reserves reserves at $rate/s, 1 s holds, a third cancelled, a third bought"
  "$BIN_DIR/flashload" reserve --target "$grpc_addr" --token bench --setup --stock $((reserves * 2)) \
    --hold-seconds 1 --cancel-fraction 0.333 --confirm-fraction 0.333 --rate "$rate" \
    --duration "$duration" --json "$work/run.json" >"$work/flashload.out" 2>"$work/flashload.err" || true
  # From the first line ("… on SKU"): the report is not written when the
  # run's own audit fails (layout 1's takes longer than a call may).
  sku=$(cat "$work/flashload.out" "$work/flashload.err" | awk '/^flashload reserve:/ { print $NF; exit }')
  # Up to 5 minutes for every hold to end: until the product holds no unit,
  # read through the shoppers' API (the Redis layout is the engine's own).
  python3 - "http://$http_addr/api/products/$sku" <<'PY'
import json, sys, time, urllib.request
for _ in range(600):
    try:
        if json.load(urllib.request.urlopen(sys.argv[1], timeout=5))["held"] == 0:
            break
    except (OSError, ValueError):
        pass
    time.sleep(0.5)
PY
  ended=$(memory)
  if [ "$flavour" = new ]; then
    "$BIN_DIR/flashload" audit --target "$grpc_addr" --token bench --sku "$sku" >"$work/audit.json"
  fi
  largest=$(rcli --memkeys 2>/dev/null | awk '/^Biggest/ { print $3, $4, $6, $7; exit }')
  after=""
  if [ "$flavour" = new ]; then

    seconds=$(python3 -c 'import re, sys; v, u = re.fullmatch(r"(\d+)(ms|s|m|h)", sys.argv[1]).groups(); print(int(v) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u])' "$retention")
    sleep "$(python3 -c "print(3 * $seconds + 10)")"
    after=$(memory)
  fi
  rcli --json slowlog get 100000 >"$work/slowlog.json"
  "$BIN_DIR/flashload" scripts >"$work/scripts.txt" 2>/dev/null || true
  python3 - "$work" "$results/$label.json" "$before" "$ended" "${after:-0}" "$largest" <<'PY'
import json, sys
work, out, before, ended, after, largest = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), sys.argv[6]
try:
    run = json.load(open(f"{work}/run.json"))
except OSError:
    error = open(f"{work}/flashload.err").read().strip().splitlines()
    run = {"calls": None, "products": [{}], "timeline": [], "checks": [],
           "error": error[-1] if error else "no report"}
product = run["products"][0]
server = product.get("server") or {}
slow = json.load(open(f"{work}/slowlog.json"))
slowest = max(slow, key=lambda e: e[2], default=[0, 0, 0, ["-"]])
names = dict(line.split() for line in open(f"{work}/scripts.txt") if line.strip())
def what(entry):
    args = entry[3]
    return names.get(args[1], args[1][:8]) if len(args) > 1 and args[0].upper() == "EVALSHA" else args[0]
seconds = [s for s in run["timeline"] if s["answered"] > 0]
tenth = max(1, len(seconds) // 10)
p99 = lambda part: sum(s["p99_ms"] for s in part) / len(part) if part else None
try:
    audit = json.load(open(f"{work}/audit.json"))
except OSError:
    audit = None
json.dump({
    "reserves": run["calls"], "holds": server.get("holds") or product.get("granted_holds"),
    "error": run.get("error"),
    "before": before, "ended": ended, "after": after, "largest": largest,
    "slowest_us": slowest[2], "slowest_command": what(slowest),
    "over_5ms": sum(1 for e in slow if e[2] > 5000),
    "over_5ms_by": sorted({what(e) for e in slow if e[2] > 5000}),
    "p99_first": p99(seconds[:tenth]), "p99_last": p99(seconds[-tenth:]),
    "checks": [c["name"] for c in run["checks"] if not c["passed"]],
    "audit": audit,
}, open(out, "w"))
PY
)

if [ -n "${AGAINST_BIN:-}" ]; then
  history "${AGAINST:-baseline}" "$AGAINST_BIN" old
elif [ -n "${AGAINST:-}" ]; then
  base="$results/base"
  git worktree add -q --detach "$base" "$AGAINST"
  trap 'git worktree remove --force "$base" 2>/dev/null; rm -rf "$results"' EXIT
  echo "== building $AGAINST"
  (cd "$base" && cargo build --release --locked -q -p api-server -p purchase-worker -p flashsale-benches)
  history "$AGAINST" "$base/target/release" old
fi
history this target/release new

python3 - "$results" "${AGAINST:-${AGAINST_BIN:+baseline}}" <<'PY'
import json, os, sys
results, against = sys.argv[1], sys.argv[2]
runs = [(name, json.load(open(f"{results}/{name}.json"))) for name in ([against] if against else []) + ["this"]]
mb = lambda b: f"{b / 1e6:.1f} MB"
def largest(found):
    # redis-cli --memkeys: found '"KEY"' N bytes
    parts = found.replace("'", "").replace('"', "").split()
    return f"{parts[1].split(':')[1]} ({mb(int(parts[2]))})" if len(parts) >= 3 else "-"
# Without a report (its audit failed), a run is taken to have made what it sent.
made = lambda r: r["holds"] or int(os.environ.get("RESERVES", "1000000"))
rows = [
    ("reserves sent", lambda r: f"{r['reserves']:,}" if r["reserves"] else "-"),
    ("holds made", lambda r: f"{r['holds']:,}" if r["holds"] else f"(~{made(r):,})"),
    ("used_memory before", lambda r: mb(r["before"])),
    ("used_memory, every hold ended", lambda r: mb(r["ended"])),
    ("bytes per ended hold", lambda r: f"{(r['ended'] - r['before']) / made(r):.0f}"),
    ("used_memory after the retention", lambda r: mb(r["after"]) if r["after"] else "(kept forever)"),
    ("  above the start", lambda r: mb(r["after"] - r["before"]) if r["after"] else "-"),
    ("largest key", lambda r: largest(r["largest"])),
    ("slowest call", lambda r: f"{r['slowest_us'] / 1000:.1f} ms ({r['slowest_command']})"),
    ("calls over 5 ms", lambda r: f"{r['over_5ms']} ({', '.join(r['over_5ms_by']) or '-'})"),
    ("reserve p99, first tenth", lambda r: f"{r['p99_first']:.2f} ms" if r["p99_first"] else "-"),
    ("reserve p99, last tenth", lambda r: f"{r['p99_last']:.2f} ms ({r['p99_last'] / max(r['p99_first'], 1e-9):.2f}x)" if r["p99_last"] else "-"),
    ("failed checks", lambda r: ", ".join(r["checks"]) or ("none" if not r["error"] else "-")),
]
width = max(len(label) for label, _ in rows) + 2
print()
print("".ljust(width) + "".join(name.rjust(34) for name, _ in runs))
for label, cell in rows:
    print(label.ljust(width) + "".join(cell(run).rjust(34) for _, run in runs))
for name, run in runs:
    if run["error"]:
        print(f"\n{name}: flashload wrote no report: {run['error']}")
audit = runs[-1][1]["audit"]
if audit:
    print(f"\naudit at the end: {'clean' if not audit['problems'] else audit['problems']}, "
          f"reserved {audit['reserved']:,} = held {audit['held']} + sold {audit['sold']:,} + cancelled "
          f"{audit['cancelled']:,} + expired {audit['expired']:,} + released {audit['released']}")
PY
