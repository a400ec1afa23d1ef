#!/usr/bin/env bash
# `loom bench gemm` against a plain C program calling cblas_sgemm with the right OPENBLAS_CORETYPE,
# alternating three times on the same machine. Prints each run and the ratio of the best results.
# Usage: bash bench/gemm_compare.sh [SIZE] [REPEATS]   (needs a release build: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
repeats=${2:-10}
loom=.build/release/loom
[ -x "$loom" ] || swift build -c release --product loom
core=$("$loom" info | sed -n 's/^OPENBLAS_CORETYPE: \([A-Za-z0-9]*\).*/\1/p')
cc -O2 bench/gemm_ref.c -o /tmp/loom_gemm_ref -lopenblas
best_c=0
best_loom=0
for round in 1 2 3; do
    c=$(OPENBLAS_CORETYPE="$core" /tmp/loom_gemm_ref "$size" "$size" "$size" "$repeats")
    l=$(env -u OPENBLAS_CORETYPE "$loom" bench gemm --m "$size" --n "$size" --k "$size" --repeats "$repeats" | tail -n 1)
    echo "round $round  C (OPENBLAS_CORETYPE=$core): $c"
    echo "round $round  loom (nothing set)          : $l"
    gc=$(echo "$c" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gflops"])')
    gl=$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gflops"])')
    best_c=$(python3 -c "print(max($best_c, $gc))")
    best_loom=$(python3 -c "print(max($best_loom, $gl))")
done
python3 -c "print('{\"size\": $size, \"c_gflops\": $best_c, \"loom_gflops\": $best_loom, \"ratio\": %.3f}' % ($best_loom / $best_c))"
