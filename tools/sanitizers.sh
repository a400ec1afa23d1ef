#!/usr/bin/env bash
# The whole test suite under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer
# (docs/RELIABILITY.md). Each builds in its own folder (.build-asan, .build-tsan); the tests that run
# a real `loom` use the sanitized one built there.
#   bash tools/sanitizers.sh [address] [thread]        (default: both)
# Prints, per sanitizer, the test summary and the number of sanitizer reports; exits 1 on either.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
status=0
summaries=()
for sanitizer in "${sanitizers[@]}"; do
    case "$sanitizer" in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan ;;
        *) echo "sanitizers.sh: address or thread, not $sanitizer" >&2; exit 2 ;;
    esac
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" 2>&1 | grep -E "error|warning: unre" || true
    log="$scratch/test.log"
    : > "$log"
    if [ "$sanitizer" = address ]; then
        # Third-party and test-harness reports, each explained in the files. The `loom` processes the
        # tests start report their leaks without failing (exitcode=0: their output is not in the log);
        # the two runs below leak-check a real `loom`, alone and as 2 MPI ranks (Open MPI's reports
        # need full stacks: fast_unwind_on_malloc=0, too slow for the whole suite).
        cat tools/lsan.supp tools/lsan-suite.supp > "$scratch/lsan.supp"
        supp="suppressions=$PWD/$scratch/lsan.supp:print_suppressions=0"
        rm -rf "$scratch/leak-run"
        LSAN_OPTIONS="$supp" "$scratch/debug/loom" train recipes/smoke.yaml --output "$scratch/leak-run/one" \
            --threads 1 >> "$log" 2>&1 || { echo "loom train (one process) failed or leaked" >> "$log"; status=1; }
        OMPI_MCA_btl=self,vader LSAN_OPTIONS="$supp:fast_unwind_on_malloc=0" mpirun --allow-run-as-root --oversubscribe -np 2 \
            "$scratch/debug/loom" train recipes/smoke.yaml --stage align --output "$scratch/leak-run/two" --threads 1 >> "$log" 2>&1 \
            || { echo "mpirun -np 2 loom train failed or leaked" >> "$log"; status=1; }
        export LSAN_OPTIONS="$supp:exitcode=0"
    fi
    swift test --sanitize="$sanitizer" --scratch-path "$scratch" --skip-build --disable-swift-testing >> "$log" 2>&1 || status=1
    # Memory errors, data races and direct leaks. An indirect leak is only reachable from a leaked
    # block, so with every direct leak suppressed (and explained) the indirect ones hang off those.
    reports=$(grep -cE "ERROR: AddressSanitizer|^Direct leak|WARNING: ThreadSanitizer" "$log" || true)
    [ "$reports" -eq 0 ] || status=1
    tests=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 | sed -E 's/^[[:space:]]*//')
    summaries+=("$sanitizer: $tests; $reports sanitizer reports (log: $log)")
done
printf '%s\n' "${summaries[@]}"
exit "$status"
