#!/usr/bin/env bash
# W4 side by side: runs bench_conv (cnnkit) and bench/torch_conv.py (PyTorch, same oneDNN)
# alternately, ROUNDS times each, and prints per benchmark the median GFLOP/s of each and
# the median of the per-round ratios cnnkit/torch (> 1: cnnkit faster).
#
#   bench/run_conv_compare.sh [BUILD_DIR=build] [ROUNDS=3] [FILTER=.]
#   e.g. bench/run_conv_compare.sh build 5 'a_3x3|g_lenet'
# CPU_TIME=1 rates both sides by CPU time instead of wall time: steadier on a shared machine,
# fair for threads:1 only (use FILTER=threads:1).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
FILTER=${3:-.}
CPU_TIME=${CPU_TIME:-0}
TORCH_FLAGS=()
[[ "$CPU_TIME" == 1 ]] && TORCH_FLAGS=(--cpu-time)
BIN="$BUILD/bench/bench_conv"
[[ -x "$BIN" ]] || { echo "no $BIN: build the bench_conv target first" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: cnnkit" >&2
  "$BIN" --benchmark_filter="^W4/.*(${FILTER})" --benchmark_min_time=0.5 \
    --benchmark_out="$TMP/cnnkit_$r.json" --benchmark_out_format=json > /dev/null
  echo "round $r/$ROUNDS: torch" >&2
  /usr/bin/python3 bench/torch_conv.py --min-time 0.5 --filter "$FILTER" \
    --json "$TMP/torch_$r.json" "${TORCH_FLAGS[@]}" > /dev/null
done

/usr/bin/python3 - "$TMP" "$ROUNDS" "$CPU_TIME" <<'EOF'
import json, statistics, sys
tmp, rounds, cpu_time = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
ck, th = {}, {}
for r in range(1, rounds + 1):
    doc = json.load(open(f"{tmp}/cnnkit_{r}.json"))
    for b in doc["benchmarks"]:
        rate = b["GFLOP"]
        if cpu_time:  # GFLOP per iteration over CPU seconds per iteration
            rate *= b["real_time"] / b["cpu_time"]
        ck.setdefault(b["name"].replace("/real_time", ""), []).append(rate)
    for k, v in json.load(open(f"{tmp}/torch_{r}.json")).items():
        th.setdefault(k, []).append(v)
ctx = doc.get("context", {})
print(f"timed by {'CPU' if cpu_time else 'wall'} time; host: {ctx.get('num_cpus')} CPUs, load {ctx.get('load_avg')}, clock: {ctx.get('clock', '?')}")
print(f"{'benchmark':<44} {'cnnkit GFLOP/s':>15} {'torch GFLOP/s':>14} {'ratio':>7}  per-round ratios")
for name in sorted(ck, key=lambda n: (n.split('/')[1], n.split('/')[3], n.split('/')[2])):
    if name not in th:
        continue
    ratios = [c / t for c, t in zip(ck[name], th[name])]
    print(f"{name:<44} {statistics.median(ck[name]):>15.2f} {statistics.median(th[name]):>14.2f} "
          f"{statistics.median(ratios):>7.2f}  " + " ".join(f"{x:.2f}" for x in ratios))
EOF
