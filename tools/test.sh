#!/usr/bin/env bash
# README command 2 (and .ci/run): installs what is missing, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift test "$@"
