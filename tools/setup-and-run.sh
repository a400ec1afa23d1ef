#!/usr/bin/env bash
# README command 1: installs what is missing, builds Loom in release, runs the main job:
# the engine check (which OpenBLAS kernel runs, GEMM throughput) and both LLaVA stages of
# recipes/smoke.yaml on the tiny world shipped with the tests (until the demo world lands).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift build -c release --product loom
.build/release/loom info
.build/release/loom bench gemm
.build/release/loom train recipes/smoke.yaml --output runs/smoke
echo "Results: runs/smoke/<stage>/final (summary.json, loss.png, trained weights)"
