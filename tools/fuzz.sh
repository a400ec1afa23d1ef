#!/usr/bin/env bash
# Fuzzes Loom's parsers with libFuzzer and AddressSanitizer (Sources/LoomFuzzing, docs/RELIABILITY.md).
#   bash tools/fuzz.sh [--seconds N] [--debug] [TARGET…]      (default: every target, 600 s each)
# Each target starts from its committed corpus (Tests/LoomFuzzingTests/Corpus/TARGET) and grows a
# working corpus in .build-fuzz/corpus/TARGET. A crash, sanitizer report, leak, timeout (>20 s) or
# out-of-memory (>4 GB) stops that target; its input lands in .build-fuzz/crashes/TARGET/. Fix the
# bug, then keep the input as a regression test in Tests/LoomFuzzingTests/Regressions/TARGET/.
# The last lines are a table: target, seconds, executions, new inputs, peak RSS, result.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
configuration=release
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --debug) configuration=debug; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(safetensors config tokenizer-json tokenizer-encode dataset recipe image audio)
fi

echo "building loom-fuzz ($configuration, -sanitize=fuzzer,address)"
swift build -c "$configuration" --product loom-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLOOM_LIBFUZZER 2>&1 | grep -Ev "^\[|Cannot export local symbol" || true
binary=".build-fuzz/$configuration/loom-fuzz"
[ -x "$binary" ] || { echo "fuzz.sh: the build failed" >&2; exit 1; }

summary=()
failed=0
for target in "${targets[@]}"; do
    seeds="Tests/LoomFuzzingTests/Corpus/$target"
    [ -d "$seeds" ] || { echo "fuzz.sh: unknown target $target (no $seeds)" >&2; exit 2; }
    work=".build-fuzz/corpus/$target" crashes=".build-fuzz/crashes/$target"
    mkdir -p "$work" "$crashes"
    log=".build-fuzz/$target.log"
    echo "fuzzing $target for $seconds s (log: $log)"
    status=0
    LOOM_FUZZ_TARGET="$target" ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
        LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp:print_suppressions=0" "$binary" "$work" "$seeds" \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$crashes/" > "$log" 2>&1 || status=$?
    executions=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}' | tail -1 || true)
    added=$(grep -E "^stat::new_units_added" "$log" | awk '{print $2}' | tail -1 || true)
    rss=$(grep -E "^stat::peak_rss_mb" "$log" | awk '{print $2}' | tail -1 || true)
    if [ "$status" -eq 0 ]; then
        result="no crash"
    else
        failed=1
        result="FAILED (status $status): $(grep -m1 -E "ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|Fatal error|SUMMARY" "$log" || echo "see $log")"
        echo "  $result"; ls "$crashes"
    fi
    summary+=("| $target | $seconds | ${executions:-?} | ${added:-?} | ${rss:-?} MB | $result |")
done

echo
echo "| target | seconds | executions | new inputs | peak RSS | result |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit "$failed"
