#!/usr/bin/env bash
# W1 / W3 side by side: `cnnkit bench` and bench/torch_train.py (PyTorch) run alternately on
# the same training-step workloads (synthetic data, CrossEntropyLoss, SGD lr 0.01 momentum
# 0.9), ROUNDS pairs each after a warm-up, at 1 and 2 threads; prints the median images/s
# of each and the median of the per-pair ratios cnnkit/torch (> 1: cnnkit faster).
#
#   bench/run_train_compare.sh [BUILD_DIR=build] [ROUNDS=3] [STEPS_SCALE=1]
#   STEPS_SCALE=0.2 for a quick look; THREADS="1" to skip the 2-thread runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
SCALE=${3:-1}
THREADS=${THREADS:-"1 2"}
BIN="$BUILD/bin/cnnkit"
[[ -x "$BIN" ]] || { echo "no $BIN: build the cnnkit_cli target first" >&2; exit 1; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# model batch steps (timed steps per run; warm-up is a tenth of that, at least 3)
WORKLOADS=("lenet5 64 400" "lenet5 256 120" "resnet20 64 20")

for t in $THREADS; do
  for w in "${WORKLOADS[@]}"; do
    read -r model batch steps <<<"$w"
    steps=$(/usr/bin/python3 -c "print(max(3, int($steps * $SCALE)))")
    warm=$(( steps / 10 > 3 ? steps / 10 : 3 ))
    for r in $(seq 1 "$ROUNDS"); do
      echo "threads $t $model b$batch round $r/$ROUNDS" >&2
      "$BIN" bench --model "$model" --batch "$batch" --steps "$steps" --warmup "$warm" \
        --threads "$t" | grep '^bench ' | sed "s/\$/ round=$r/" >>"$OUT"
      /usr/bin/python3 bench/torch_train.py --model "$model" --batch "$batch" --steps "$steps" \
        --warmup "$warm" --threads "$t" | grep '^bench ' | sed "s/\$/ round=$r/" >>"$OUT"
    done
  done
done

/usr/bin/python3 - "$OUT" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(dict)  # (model, batch, threads) -> {(framework, round): ips}
for line in open(sys.argv[1]):
    kv = dict(x.split("=", 1) for x in line.split()[1:])
    key = (kv["model"], int(kv["batch"]), int(kv["threads"]))
    runs[key][(kv["framework"], kv["round"])] = float(kv["images_per_s"])
print(f"{'workload':<26} {'cnnkit img/s':>13} {'torch img/s':>12} {'ratio':>6}  per-pair ratios")
for (model, batch, threads), v in sorted(runs.items()):
    rounds = sorted({r for _, r in v})
    ck = [v[("cnnkit", r)] for r in rounds if ("cnnkit", r) in v and ("torch", r) in v]
    th = [v[("torch", r)] for r in rounds if ("cnnkit", r) in v and ("torch", r) in v]
    if not ck:
        continue
    ratios = [c / t for c, t in zip(ck, th)]
    name = f"{model} b{batch} {threads}t"
    print(f"{name:<26} {statistics.median(ck):>13.0f} {statistics.median(th):>12.0f} "
          f"{statistics.median(ratios):>6.2f}  " + " ".join(f"{x:.2f}" for x in ratios))
EOF
