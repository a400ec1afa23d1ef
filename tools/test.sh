#!/usr/bin/env bash
# README command 2 (and .ci/run): installs what is missing, then runs the whole test suite, the check that
# the vector kernels give the same bits on every instruction set, and a short
# fuzzing pass (15 s per parser from the committed corpus, tools/fuzz.sh; LOOM_FUZZ_SECONDS=0 skips it).
# The loom binary is built first: the resume tests kill a real `loom train` process.
# The suite is XCTest; the last lines are the plain summaries "tests: N passed, N failed" and "fuzz: …".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/ensure-packages.sh
swift build --product loom
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
# CLoomKernels must give the same bits on every instruction set it is built for.
kernels_log=$(mktemp)
bash tools/check_kernel_variants.sh | tee "$kernels_log" || status=1
kernels_summary=$(tail -n 1 "$kernels_log")
rm -f "$kernels_log"
fuzz_seconds="${LOOM_FUZZ_SECONDS:-15}"
fuzz_summary="fuzz: skipped (LOOM_FUZZ_SECONDS=0)"
if [ "$fuzz_seconds" != 0 ]; then
    fuzz_status=0
    bash tools/fuzz.sh --seconds "$fuzz_seconds" || fuzz_status=$?
    if [ "$fuzz_status" -eq 0 ]; then
        fuzz_summary="fuzz: every parser $fuzz_seconds s, no crash"
    else
        fuzz_summary="fuzz: FAILED (inputs in .build-fuzz/crashes/)"
        status=1
    fi
fi
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1/')
    failed=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\2/')
    echo "tests: $((total - failed)) passed, $failed failed"
fi
echo "$kernels_summary"
echo "$fuzz_summary"
exit "$status"
