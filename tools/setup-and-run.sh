#!/usr/bin/env bash
# README command 1: installs what is missing, builds Loom in release, runs the main job.
# Until the demo world lands, the main job is the GEMM smoke benchmark (kernel check + GFLOP/s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift build -c release --product loom
.build/release/loom info
.build/release/loom bench gemm "$@"
