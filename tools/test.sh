#!/usr/bin/env bash
# README command 2 (and .ci/run): installs what is missing, then runs the whole test suite.
# The loom binary is built first: the resume test kills a real `loom train` process.
# The suite is XCTest; the last line is the plain summary "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift build --product loom
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1/')
    failed=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\2/')
    echo "tests: $((total - failed)) passed, $failed failed"
fi
exit "$status"
