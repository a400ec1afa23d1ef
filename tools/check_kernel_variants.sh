#!/usr/bin/env bash
# Checks that CLoomKernels gives the same bits whichever instruction set runs it: builds
# tools/kernel_variants.c against the kernels compiled for the x86-64 baseline, AVX2 (x86-64-v3) and
# AVX-512 (x86-64-v4) without runtime dispatch, plus the dispatching build, runs those this CPU
# supports, and compares their output.
#   bash tools/check_kernel_variants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# The clang that comes with the Swift toolchain (SwiftPM compiles the kernels with it).
cc=${CC:-$(dirname "$(readlink -f "$(command -v swift)")")/clang}
[ -x "$cc" ] || cc=$(command -v clang || command -v cc || true)
[ -n "$cc" ] || { echo "no C compiler found: set CC"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=Sources/CLoomKernels
flags=$(grep -o 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
"$cc" -O2 -I"$src/include" tools/kernel_variants.c "$src/loom_kernels.c" -o "$work/dispatch" -lm
"$work/dispatch" > "$work/dispatch.txt"
status=0
for arch in x86-64 x86-64-v3 x86-64-v4; do
    case $arch in
        x86-64-v3) [[ $flags == *avx2* ]] || { echo "$arch: not run (no AVX2)"; continue; } ;;
        x86-64-v4) [[ $flags == *avx512f* ]] || { echo "$arch: not run (no AVX-512)"; continue; } ;;
    esac
    # One build for this instruction set alone: the dispatch attribute is defined away.
    "$cc" -O2 -march=$arch -I"$src/include" -D'target_clones(...)=' tools/kernel_variants.c "$src/loom_kernels.c" -o "$work/$arch" -lm
    "$work/$arch" > "$work/$arch.txt"
    if diff -u "$work/dispatch.txt" "$work/$arch.txt" > /dev/null; then
        echo "$arch: same bits as the dispatching build"
    else
        echo "$arch: DIFFERENT bits"; diff -u "$work/dispatch.txt" "$work/$arch.txt" || true; status=1
    fi
done
exit $status
