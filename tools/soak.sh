#!/usr/bin/env bash
# Soak test (docs/RELIABILITY.md): a long smoke run of each stage with the process's resident memory
# sampled over time. After warm-up (the first 10% of steps) memory must stay flat: no leak, no
# unbounded cache. Prints, per stage, RSS after warm-up, at the end, its peak and the least-squares
# slope over the post-warm-up samples; exits 1 when RSS grows by more than 8 MB after warm-up.
#   bash tools/soak.sh [STEPS]        (default 2000; writes runs/soak/<stage>.csv: seconds,step,rss_kb)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-2000}"
swift build -c release --product loom >/dev/null
loom=.build/release/loom
out=runs/soak
rm -rf "$out" && mkdir -p "$out"
status=0
for stage in align instruct; do
    csv="$out/$stage.csv"
    echo "seconds,step,rss_kb" > "$csv"
    index=$([ "$stage" = align ] && echo 0 || echo 1)
    "$loom" train recipes/smoke.yaml --stage "$stage" --output "$out/run" --threads 2 --set "stages.$index.epochs=null" \
        --set "stages.$index.steps=$steps" --set "stages.$index.save_every=250" > "$out/$stage.log" 2>&1 &
    pid=$!
    start=$EPOCHREALTIME
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        step=$(tail -n 1 "$out/run/$stage/metrics.jsonl" 2>/dev/null | sed -nE 's/.*"step":([0-9]+).*/\1/p' || true)
        if [ -n "$rss" ] && [ -n "$step" ]; then
            awk -v now="$EPOCHREALTIME" -v start="$start" -v step="$step" -v rss="$rss" \
                'BEGIN { printf "%.2f,%d,%d\n", now - start, step, rss }' >> "$csv"
        fi
        sleep 0.2
    done
    wait "$pid" || { echo "soak: $stage failed, see $out/$stage.log" >&2; exit 1; }
    awk -F, -v steps="$steps" -v stage="$stage" 'NR > 1 && $2 >= steps / 10 {
            n++; x[n] = $2; y[n] = $3; if (n == 1) first = $3; last = $3; if ($3 > peak) peak = $3
        }
        END {
            if (n < 3) { print stage ": too few samples after warm-up"; exit 1 }
            for (i = 1; i <= n; i++) { sx += x[i]; sy += y[i] }
            mx = sx / n; my = sy / n
            for (i = 1; i <= n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ^ 2 }
            slope = sxx > 0 ? sxy / sxx : 0
            growth = last - first
            printf "%s: %d samples after warm-up (step >= %d): RSS %.1f MB -> %.1f MB (peak %.1f MB), slope %.1f KB per 100 steps, growth %.1f MB\n",
                   stage, n, steps / 10, first / 1024, last / 1024, peak / 1024, slope * 100, growth / 1024
            exit (growth > 8192 ? 1 : 0)
        }' "$csv" || status=1
done
exit "$status"
