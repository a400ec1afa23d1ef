#!/usr/bin/env bash
# Loom against its PyTorch twins, interleaved (Loom, then PyTorch, for each case, ROUNDS times), on one
# configuration: stage 1, stage 2, stage 2 with LoRA r=8, and prefill + 64 greedy tokens. Prints one
# line per run and, at the end, the median of each case's per-round medians and the ratio.
#   bash bench/compare.sh [--rounds N] [--config FILE] [--batch B] [--text-tokens T] [--python PY]
# Needs the PyTorch venv of BENCHMARKS.md (default /tmp/ref/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 config=bench/llava_reference_config.json batch=4 text=60 python=/tmp/ref/bin/python
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --config) config=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --text-tokens) text=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
swift build -c release --product loom >/dev/null
# The host matters: PyTorch uses MKL, whose speed differs between Intel and AMD CPUs of the same kind.
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores"
loom=.build/release/loom
results=$(mktemp)
trap 'rm -f "$results"' EXIT
cases=("1" "2" "2 --lora-rank 8")
for round in $(seq "$rounds"); do
    for case in "${cases[@]}"; do
        set -- $case
        stage=$1; shift
        for side in loom torch; do
            if [ $side = loom ]; then
                line=$($loom bench train-step --config "$config" --batch "$batch" --text-tokens "$text" --stage "$stage" "$@" | tail -n 1)
            else
                line=$("$python" bench/pytorch_train_step.py --config "$config" --batch "$batch" --text-tokens "$text" --stage "$stage" "$@" 2>/dev/null | tail -n 1)
            fi
            echo "round $round $side $line"
            echo "$side $line" >> "$results"
        done
    done
    for side in loom torch; do
        if [ $side = loom ]; then
            line=$($loom bench generate --config "$config" | tail -n 1)
        else
            line=$("$python" bench/pytorch_generate.py --config "$config" 2>/dev/null | tail -n 1)
        fi
        echo "round $round $side $line"
        echo "$side $line" >> "$results"
    done
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side, text = line.split(" ", 1)
    record = json.loads(text)
    case = record.get("stage", "generate")
    seconds = record.get("median_step_s", record.get("median_s"))
    runs.setdefault((case, side), []).append((seconds, record.get("peak_rss_mb")))
print(f"{'case':<14} {'loom s':>8} {'torch s':>8} {'torch/loom':>10} {'loom RSS':>9} {'torch RSS':>9}")
for case in dict.fromkeys(c for c, _ in runs):
    loom, torch = runs[(case, "loom")], runs[(case, "torch")]
    l, t = statistics.median(s for s, _ in loom), statistics.median(s for s, _ in torch)
    rss = lambda r: max((m or 0) for _, m in r)
    print(f"{case:<14} {l:>8.3f} {t:>8.3f} {t / l:>9.2f}x {rss(loom):>9} {rss(torch):>9}")
PY
