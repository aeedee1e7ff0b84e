#!/bin/sh
# bench/recompute.sh — what gradient checkpointing buys and costs: end-to-end training of MODEL (batch 128,
# random 3x32x32 input, as `make bench`) in locus without and with --recompute-units, and in PyTorch without and
# with torch.utils.checkpoint on every block (bench/torch_ref.py --recompute-units), at 1 and 2 threads,
# REPEATS rounds of the four processes interleaved; medians of img/s and peak RSS. Appends a section to
# bench/RESULTS.md (RESULTS=FILE elsewhere, e.g. /dev/null) and prints it.
# Usage: sh bench/recompute.sh [MODEL] [REPEATS]      (defaults: resnet32, 3)
set -eu
MODEL=${1:-resnet32}; REPEATS=${2:-3}
LOCUS=${LOCUS:-build/locus}; RESULTS=${RESULTS:-bench/RESULTS.md}
PY=/usr/bin/python3; TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -x "$LOCUS" ] || { echo "bench/recompute.sh: $LOCUS not built (make)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
load0=$(cut -d' ' -f1-3 /proc/loadavg)
common="--model $MODEL --mode train --batch 128 --steps 5 --warmup 1 --ftz --json"
for threads in 1 2; do
    rep=1
    while [ "$rep" -le "$REPEATS" ]; do
        echo "bench/recompute.sh: $threads thread(s), round $rep/$REPEATS" >&2
        for r in off on; do
            opt=""; [ "$r" = on ] && opt=--recompute-units
            # shellcheck disable=SC2086
            OMP_WAIT_POLICY=passive "$LOCUS" bench $common --threads "$threads" $opt |
                sed "s/^{/{\"side\":\"locus\",\"recompute\":\"$r\",/" >> "$work/runs.jsonl"
            # shellcheck disable=SC2086
            LD_PRELOAD=$TCMALLOC OMP_WAIT_POLICY=passive $PY bench/torch_ref.py $common --threads "$threads" $opt |
                sed "s/^{/{\"side\":\"pytorch\",\"recompute\":\"$r\",/" >> "$work/runs.jsonl"
        done
        rep=$((rep + 1))
    done
done
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — $MODEL training, batch 128: gradient checkpointing (--recompute-units) in locus and PyTorch"
    echo
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)'); load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- command: \`sh bench/recompute.sh $MODEL $REPEATS\`; each cell the median of $REPEATS processes, the four sides interleaved; FTZ/DAZ on both sides; PyTorch with tcmalloc"
    echo
    $PY - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(side, rec, th, key):
    return statistics.median(r[key] for r in runs if r["side"] == side and r["recompute"] == rec and r["threads"] == th)
print("| threads | side | img/s default | img/s recompute | speed kept | peak RSS MiB default | peak RSS MiB recompute |")
print("|---|---|---|---|---|---|---|")
for th in (1, 2):
    for side in ("locus", "pytorch"):
        a, b = med(side, "off", th, "img_per_s"), med(side, "on", th, "img_per_s")
        ra, rb = med(side, "off", th, "rss_peak_bytes") / 2**20, med(side, "on", th, "rss_peak_bytes") / 2**20
        print(f"| {th} | {side} | {a:.1f} | {b:.1f} | {b / a:.2f}x | {ra:.0f} | {rb:.0f} |")
for th in (1, 2):
    lr, td = med("locus", "on", th, "rss_peak_bytes"), med("pytorch", "off", th, "rss_peak_bytes")
    tc = med("pytorch", "on", th, "rss_peak_bytes")
    li, ti = med("locus", "on", th, "img_per_s"), med("pytorch", "on", th, "img_per_s")
    print(f"\n{th} thread(s): locus --recompute-units peak RSS = {lr / td:.2f} of PyTorch's default, {lr / tc:.2f} of "
          f"PyTorch's with checkpointing; images/s {li / ti:.2f}x PyTorch's with checkpointing, "
          f"{li / med('pytorch', 'off', th, 'img_per_s'):.2f}x PyTorch's default.")
PY
} > "$work/section.md"
cat "$work/section.md"
cat "$work/section.md" >> "$RESULTS"
