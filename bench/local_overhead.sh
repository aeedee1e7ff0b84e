#!/bin/sh
# bench/local_overhead.sh — what local learning costs in time: images/s of each method against end to end,
# beside the FLOP model's prediction (summary.json train_flops_per_image: every layer call and every backward
# replay of a step, auxiliary heads included; src/train/flops.c). Same data, batch, threads and seed for every
# row; runs interleaved REPEATS times and the median is reported, so a shared machine's load hits all rows.
# Usage: sh bench/local_overhead.sh [IMAGES] [THREADS] [REPEATS]   (defaults 2560 images, 2 threads, 3)
# Prints a markdown table (ResNet-32, Fashion-MNIST, K=8, batch 128).
set -eu
IMAGES=${1:-2560}; THREADS=${2:-2}; REPEATS=${3:-3}
BIN=${BIN:-build/locus}; OUT=${OUT:-/tmp/locus-overhead}
mkdir -p "$OUT"
ROWS="e2e|--method e2e
dgl|--method dgl --k 8
infopro|--method infopro --k 8
hpff (dgl heads)|--method hpff --k 8 --aux dgl
hpff|--method hpff --k 8
hpff --hilo-mode once|--method hpff --k 8 --hilo-mode once"
r=1
while [ $r -le "$REPEATS" ]; do
    echo "$ROWS" | while IFS='|' read -r name args; do
        tag=$(echo "$name" | tr -c 'a-z0-9\n' '_')
        # shellcheck disable=SC2086
        OMP_WAIT_POLICY=passive $BIN train --model resnet32 $args --limit-train "$IMAGES" --limit-test 128 --epochs 1 \
            --batch 128 --no-augment --seed 1 --threads "$THREADS" --progress none --out "$OUT" --name "$tag-$r" \
            --overwrite > "$OUT/$tag-$r.log" 2>&1 || { echo "failed: $name (see $OUT/$tag-$r.log)" >&2; exit 1; }
    done
    r=$((r + 1))
done
echo "| method (K=8) | predicted GFLOP/img | predicted cost vs E2E | img/s (median of $REPEATS) | measured time vs E2E |"
echo "|---|---|---|---|---|"
echo "$ROWS" | while IFS='|' read -r name args; do
    tag=$(echo "$name" | tr -c 'a-z0-9\n' '_')
    /usr/bin/python3 - "$OUT" "$tag" "$REPEATS" "$name" <<'PY'
import json, statistics, sys
out, tag, reps, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def load(t):
    ss = [json.load(open("%s/%s-%d/summary.json" % (out, t, r))) for r in range(1, reps + 1)]
    return ss[0]["train_flops_per_image"], statistics.median(s["train_img_per_s"] for s in ss)
f, ips = load(tag)
fe, ipse = load("e2e")
print("| %s | %.3f | %.2fx | %.1f | %.2fx |" % (name, f / 1e9, f / fe, ips, ipse / ips))
PY
done
