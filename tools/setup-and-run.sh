#!/usr/bin/env bash
# README command 1: installs what is missing, builds Loom in release, runs the main job: the engine
# check (which OpenBLAS kernel runs, GEMM throughput), then `loom demo` — the demo world generated,
# stage 1 and stage 2 trained on the encoders and language model Loom pretrained (checkpoints/),
# scored on held-out scenes. Extra arguments go to loom demo (e.g. --seed 1 --output runs/demo-1).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash tools/ensure-packages.sh
swift build -c release --product loom
echo "set-up (packages + release build): $(( $(date +%s) - start )) s"
.build/release/loom info
.build/release/loom bench gemm
.build/release/loom demo "$@"
