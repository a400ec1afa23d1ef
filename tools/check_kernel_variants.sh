#!/usr/bin/env bash
# Checks that CLoomKernels gives the same bits whichever instruction set runs it: builds
# tools/kernel_variants.c against the kernels compiled for the x86-64 baseline, AVX2 (x86-64-v3) and
# AVX-512 (x86-64-v4) without runtime dispatch, plus the dispatching build, runs those this CPU
# supports, and compares their output. Its last line is the summary tools/test.sh prints.
#   bash tools/check_kernel_variants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -m)" != x86_64 ] || [ "$(uname -s)" != Linux ]; then
    echo "kernel variants: skipped (one portable build off x86-64 Linux, nothing to compare)"
    exit 0
fi
# The clang that comes with the Swift toolchain (SwiftPM compiles the kernels with it; the kernels'
# `fp contract(off)` is a clang pragma, so another compiler would not test what Loom runs).
cc=${CC:-}
if [ -z "$cc" ]; then
    swift_bin=$(command -v swift || true)
    [ -n "$swift_bin" ] && cc=$(dirname "$(readlink -f "$swift_bin")")/clang
    [ -x "${cc:-}" ] || cc=$(command -v clang || true)
fi
if [ -z "$cc" ] || ! "$cc" --version 2>/dev/null | grep -q clang; then
    echo "kernel variants: FAILED (needs clang, as SwiftPM builds with; found: ${cc:-none}; set CC to the Swift toolchain's clang)"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=Sources/CLoomKernels
flags=$(grep -o -w 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
"$cc" -O2 -I"$src/include" tools/kernel_variants.c "$src/loom_kernels.c" -o "$work/dispatch" -lm
"$work/dispatch" > "$work/dispatch.txt"
status=0 compared=()
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
        compared+=("$arch")
    else
        echo "$arch: DIFFERENT bits"; diff -u "$work/dispatch.txt" "$work/$arch.txt" || true; status=1
    fi
done
if [ $status -eq 0 ]; then
    echo "kernel variants: the same bits on ${compared[*]} (what this CPU runs)"
else
    echo "kernel variants: FAILED (tools/check_kernel_variants.sh)"
fi
exit $status
