#!/usr/bin/env bash
# Data-parallel overhead on the demo recipe's stage 1 (BENCHMARKS.md, "Data parallel"): one process
# with batch 32 and 2 threads against `mpirun -np 2` with batch 16 per rank (1 thread each), same
# global batch and steps. Prints both runs' median step time (steps 4 and later), the all-reduce size
# rank 0 logs, and whether the two runs' trained connectors are the same bits.
#   bash bench/data_parallel.sh [STEPS] [--reproducible]
# --reproducible sets the stage's reproducible_gradients (samples one by one, exact sums): the two
# runs then end with byte-identical weights (400 steps is the demo's whole stage 1).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=30
extra=()
for argument in "$@"; do
    case "$argument" in
        --reproducible) extra=(--set stages.0.reproducible_gradients=true) ;;
        *) steps="$argument" ;;
    esac
done
swift build -c release --product loom >/dev/null
loom=.build/release/loom
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
$loom make-demo-data --output "$data/world" --splits stage1 >/dev/null
common=(--stage align --set data.media_root="$data/world"
  --set "stages.0.data.train=[$data/world/stage1/captions.json,$data/world/stage1/transcripts.json]"
  --set "stages.0.data.eval=[$data/world/stage1/captions_eval.json]"
  --set stages.0.steps="$steps" --set stages.0.save_every=0 --set stages.0.log_every=10 ${extra[@]+"${extra[@]}"})
median() { python3 -c "
import json, statistics, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '\"grad_norm\"' in l]
print(round(statistics.median(s['seconds'] for s in steps[3:]), 3))" "$1"; }
$loom train recipes/demo.yaml --output "$data/one" --threads 2 "${common[@]}" --set stages.0.batch_size=32 | grep -E "global batch"
echo "1 rank:  median $(median "$data/one/align/metrics.jsonl") s/step"
mpirun --allow-run-as-root --oversubscribe -np 2 $loom train recipes/demo.yaml --output "$data/two" "${common[@]}" \
    --set stages.0.batch_size=16 | grep -E "global batch|all-reduce"
echo "2 ranks: median $(median "$data/two/align/metrics.jsonl") s/step"
if cmp -s "$data/one/align/final/trainable.safetensors" "$data/two/align/final/trainable.safetensors"; then
    echo "trained connectors: byte-identical"
else
    echo "trained connectors: differ (float32 summation order; --reproducible makes them identical)"
fi
