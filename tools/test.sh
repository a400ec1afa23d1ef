#!/usr/bin/env bash
# README command 2 (and .ci/run): installs what is missing, then runs the whole test suite.
# The loom binary is built first: the resume test kills a real `loom train` process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift build --product loom
swift test "$@"
